//! `xtask-aws`: the commands of `cargo xtask` that call AWS. `xtask` parses the command line
//! and runs this binary with the same arguments; it also works on its own, running the other
//! commands as `xtask` does (through `setup-flows`).

mod connect;
mod deploy;
mod destroy;
mod doctor;
mod drift;
mod interrupt;
mod plan;
mod progress;
mod status;
mod ui;
mod whoami;

use std::process::ExitCode;

use anyhow::Result;
use clap::Parser;
use env_descriptor::Layout;
use setup_flows::cli::{AwsCommand, Cli, Command};

fn main() -> ExitCode {
    let cli = Cli::parse();
    let root = cli.root.as_deref();
    let result = match cli.command {
        Command::Aws(command) => Layout::discover(root)
            .map_err(anyhow::Error::from)
            .and_then(|layout| run(command, &layout)),
        Command::Local(command) => command.run(root),
    };
    setup_flows::exit(result)
}

fn run(command: AwsCommand, layout: &Layout) -> Result<ExitCode> {
    match command {
        AwsCommand::Plan(args) => plan::run(args, layout),
        AwsCommand::Deploy(args) => deploy::run(args, layout),
        AwsCommand::Status(args) => status::run(args, layout),
        AwsCommand::Destroy(args) => destroy::run(args, layout),
        AwsCommand::Whoami(args) => whoami::run(args, layout),
        AwsCommand::Doctor(args) => doctor::run(args, layout),
    }
}
