//! `xtask-aws`: the commands of `cargo xtask` that call AWS. `xtask` parses the command line
//! and runs this binary with the same arguments; it also works on its own.

mod aws;
mod deploy;
mod destroy;
mod doctor;
mod interrupt;
mod progress;
mod status;
mod whoami;

use std::process::ExitCode;

use clap::Parser;
use env_descriptor::Layout;
use xtask::cli::{Cli, Command};

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = Layout::discover(cli.root.as_deref())
        .map_err(anyhow::Error::from)
        .and_then(|layout| match cli.command {
            Command::Deploy(args) => deploy::run(args, &layout),
            Command::Status(args) => status::run(args, &layout),
            Command::Destroy(args) => destroy::run(args, &layout),
            Command::Whoami(args) => whoami::run(args, &layout),
            Command::Doctor(args) => doctor::run(args, &layout),
            Command::Validate(args) => args.run(&layout),
            Command::Render(args) => args.run(&layout),
            Command::Init(args) => args.run(&layout),
            Command::Register(args) => args.run(&layout),
            Command::Sandbox(args) => args.run(&layout),
        });
    xtask::cmd::exit(result)
}
