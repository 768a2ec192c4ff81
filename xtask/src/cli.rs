//! The command line: every subcommand's flags, parsed by both binaries.

use std::path::PathBuf;

use clap::{Parser, Subcommand};

use crate::cmd;

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
pub struct Cli {
    /// The checkout to work in (default: found from the current directory; also XTASK_ROOT).
    #[arg(long, global = true, value_name = "DIR")]
    pub root: Option<PathBuf>,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    Validate(cmd::validate::Args),
    Render(cmd::render::Args),
    Deploy(cmd::aws::DeployArgs),
    Status(cmd::aws::StatusArgs),
    Destroy(cmd::aws::DestroyArgs),
    Init(cmd::init::Args),
    Whoami(cmd::aws::WhoamiArgs),
    Register(cmd::register::Args),
    Doctor(cmd::aws::DoctorArgs),
    Sandbox(cmd::sandbox::Args),
}

impl Command {
    /// Whether the command needs the AWS SDK (and so runs in `xtask-aws`).
    pub fn needs_aws(&self) -> bool {
        matches!(
            self,
            Command::Deploy(_)
                | Command::Status(_)
                | Command::Destroy(_)
                | Command::Whoami(_)
                | Command::Doctor(_)
        )
    }
}
