//! `tsw`: sets up Temporal Serverless Workers (AWS Lambda) for a self-hosted Temporal Service.
//! Parses the command line, runs the command (one module each, in [`commands`]), and exits
//! with its code. `cargo xtask` runs this binary (.cargo/config.toml).

#[cfg(test)]
mod ci_recipe;
mod claim;
mod cli;
mod commands;
mod connect;
mod debug;
mod drift;
mod envs;
mod interrupt;
mod output;
mod plan_view;
mod progress;
mod stack_sets;
mod ui;
mod waves;

use std::path::Path;
use std::process::ExitCode;

use anyhow::Result;
use env_descriptor::Layout;

use crate::cli::{Cli, Command};
use crate::commands::{deploy, destroy, doctor, plan, status, whoami};

fn main() -> ExitCode {
    // Hints built in the library crates name the program as the user started it.
    safe_text::set_program(cli::name());
    // A shell asking for completions (the script `completions SHELL` writes) gets them here.
    clap_complete::CompleteEnv::with_factory(cli::command)
        .var(commands::completions::VARIABLE)
        .complete();
    let cli = match cli::parse() {
        Ok(cli) => cli,
        Err(code) => return code,
    };
    debug::init(cli.debug);
    cli.color.apply();
    match run(cli) {
        Ok(code) => code,
        Err(err) => {
            output::print_error(format_args!("{err:#}"));
            ExitCode::FAILURE
        }
    }
}

/// Runs the command in the checkout found from `--root`; only `completions` runs without one.
fn run(cli: Cli) -> Result<ExitCode> {
    let layout = match cli.command {
        Command::Completions(args) => return args.run(),
        _ => Layout::discover(cli.root.as_deref())?,
    };
    let layout = &layout;
    match cli.command {
        Command::Validate(args) => args.run(layout),
        Command::Render(args) => args.run(layout),
        Command::Plan(args) => plan::run(args, layout),
        Command::Deploy(args) => deploy::run(args, layout),
        Command::Status(args) => status::run(args, layout),
        Command::Destroy(args) => destroy::run(args, layout),
        Command::Init(args) => args.run(layout),
        Command::Whoami(args) => whoami::run(args, layout),
        Command::Register(args) => args.run(layout),
        Command::Doctor(args) => doctor::run(args, layout),
        Command::Smoke(args) => args.run(layout),
        Command::Policy(args) => args.run(layout),
        Command::Sandbox(args) => args.run(layout),
        Command::Completions(args) => args.run(),
    }
}

/// `path` relative to the checkout, as messages show it.
pub fn relative(layout: &Layout, path: &Path) -> String {
    path.strip_prefix(layout.root())
        .unwrap_or(path)
        .display()
        .to_string()
}
