//! The light `cargo xtask` binary: parses flags, runs the commands that need no AWS SDK, and
//! hands the others to `xtask-aws`.

use std::process::ExitCode;

use clap::Parser;
use env_descriptor::Layout;
use xtask::cli::{Cli, Command};

fn main() -> ExitCode {
    let cli = Cli::parse();
    if cli.command.needs_aws() {
        return xtask::delegate::to_aws_binary();
    }
    let result = Layout::discover(cli.root.as_deref())
        .map_err(anyhow::Error::from)
        .and_then(|layout| match cli.command {
            Command::Validate(args) => args.run(&layout),
            Command::Render(args) => args.run(&layout),
            Command::Init(args) => args.run(&layout),
            Command::Register(args) => args.run(&layout),
            Command::Sandbox(args) => args.run(&layout),
            _ => unreachable!("AWS commands were handed over"),
        });
    xtask::cmd::exit(result)
}
