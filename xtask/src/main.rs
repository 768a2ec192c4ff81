//! `cargo xtask`: sets up Temporal Serverless Workers on AWS Lambda for a self-hosted Temporal
//! Service, from the descriptors in `environments/`. This binary only parses flags and
//! dispatches; the work lives in the crates under `crates/`.

mod cmd;
mod ui;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use env_descriptor::Layout;

#[derive(Debug, Parser)]
#[command(
    name = "cargo xtask",
    bin_name = "cargo xtask",
    about = "Set up Temporal Serverless Workers (AWS Lambda) for a self-hosted Temporal Service",
    long_about = None,
    arg_required_else_help = true,
    after_help = "\
Environments are described in environments/NAME.toml. The usual flow:
  cargo xtask init staging          write a descriptor with a fresh external ID
  cargo xtask validate              check every descriptor, without calling AWS
  cargo xtask deploy staging        render, then create or update the IAM role stack
  cargo xtask status staging        compare the stack with what the descriptor recorded
  cargo xtask register staging      create the Worker Deployment Versions (Lambda compute)
  cargo xtask doctor staging        check every prerequisite, with the fix for each failure

Try it locally, with no AWS account: cargo xtask deploy local"
)]
struct Cli {
    /// The checkout to work in (default: found from the current directory; also XTASK_ROOT).
    #[arg(long, global = true, value_name = "DIR")]
    root: Option<PathBuf>,

    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    Validate(cmd::validate::Args),
    Render(cmd::render::Args),
    Deploy(cmd::deploy::Args),
    Status(cmd::status::Args),
    Destroy(cmd::destroy::Args),
    Init(cmd::init::Args),
    Whoami(cmd::whoami::Args),
    Register(cmd::register::Args),
    Doctor(cmd::doctor::Args),
    Sandbox(cmd::sandbox::Args),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = Layout::discover(cli.root.as_deref())
        .map_err(anyhow::Error::from)
        .and_then(|layout| match cli.command {
            Command::Validate(args) => args.run(&layout),
            Command::Render(args) => args.run(&layout),
            Command::Deploy(args) => args.run(&layout),
            Command::Status(args) => args.run(&layout),
            Command::Destroy(args) => args.run(&layout),
            Command::Init(args) => args.run(&layout),
            Command::Whoami(args) => args.run(&layout),
            Command::Register(args) => args.run(&layout),
            Command::Doctor(args) => args.run(&layout),
            Command::Sandbox(args) => args.run(&layout),
        });
    match result {
        Ok(code) => code,
        Err(err) => {
            eprintln!("error: {err:#}");
            ExitCode::FAILURE
        }
    }
}
