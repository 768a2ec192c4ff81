//! The command line: every subcommand's flags, parsed by both binaries.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::LazyLock;

use anyhow::Result;
use clap::{Parser, Subcommand};
use env_descriptor::Layout;

use crate::{aws_args, completions, init, register, render, sandbox, smoke, validate};

/// `0.1.0 (1a2b3c4)`: the package version and, when built from a git checkout, its revision
/// (`build.rs`).
fn version() -> &'static str {
    static VERSION: LazyLock<String> = LazyLock::new(|| match env!("XTASK_GIT_REVISION") {
        "" => env!("CARGO_PKG_VERSION").to_owned(),
        revision => format!("{} ({revision})", env!("CARGO_PKG_VERSION")),
    });
    &VERSION
}

#[derive(Debug, Parser)]
#[command(
    name = "cargo xtask",
    bin_name = "cargo xtask",
    about = "Set up Temporal Serverless Workers (AWS Lambda) for a self-hosted Temporal Service",
    version = version(),
    long_about = None,
    arg_required_else_help = true,
    after_help = "\
Environments are described in environments/NAME.toml. The usual flow:
  cargo xtask init staging          write a descriptor with a fresh external ID
  cargo xtask validate              check every descriptor, without calling AWS
  cargo xtask plan staging          show what deploy and register would change
  cargo xtask deploy staging        render, then create or update the IAM role stack
  cargo xtask status staging        compare the stack with what the descriptor recorded
  cargo xtask register staging      create the Worker Deployment Versions (Lambda compute)
  cargo xtask doctor staging        check every prerequisite, with the fix for each failure
  cargo xtask smoke staging         run each version's smoke workflow through Lambda

Try it locally, with no AWS account: cargo xtask deploy local"
)]
pub struct Cli {
    /// The checkout to work in (default: found from the current directory; also XTASK_ROOT).
    #[arg(long, global = true, value_name = "DIR")]
    pub root: Option<PathBuf>,

    #[command(subcommand)]
    pub command: Command,
}

/// Every command, split by the binary that runs it: a command is in exactly one of the two
/// enums, and each binary matches its own exhaustively. `display_order` keeps the one list of
/// `cargo xtask --help` in the order of the usual flow.
#[derive(Debug, Subcommand)]
pub enum Command {
    #[command(flatten)]
    Local(LocalCommand),
    #[command(flatten)]
    Aws(AwsCommand),
}

/// The commands that need no AWS SDK: `xtask` runs them itself.
#[derive(Debug, Subcommand)]
pub enum LocalCommand {
    #[command(display_order = 1)]
    Validate(validate::Args),
    #[command(display_order = 2)]
    Render(render::Args),
    #[command(display_order = 6)]
    Init(init::Args),
    #[command(display_order = 8)]
    Register(register::Args),
    #[command(display_order = 10)]
    Smoke(smoke::Args),
    #[command(display_order = 11)]
    Sandbox(sandbox::Args),
    #[command(display_order = 12)]
    Completions(completions::Args),
}

/// The commands that call AWS: `xtask` hands them to `xtask-aws`, which links the SDK.
#[derive(Debug, Subcommand)]
pub enum AwsCommand {
    #[command(display_order = 3)]
    Plan(aws_args::PlanArgs),
    #[command(display_order = 3)]
    Deploy(aws_args::DeployArgs),
    #[command(display_order = 4)]
    Status(aws_args::StatusArgs),
    #[command(display_order = 5)]
    Destroy(aws_args::DestroyArgs),
    #[command(display_order = 7)]
    Whoami(aws_args::WhoamiArgs),
    #[command(display_order = 9)]
    Doctor(aws_args::DoctorArgs),
}

impl AwsCommand {
    /// The environments the command works on (`deploy --all`, `plan --all`: every one in
    /// `layout` but the sandboxes, [`crate::envs::all_but_sandboxes`]).
    pub fn env_names(&self, layout: &Layout) -> Vec<String> {
        match self {
            AwsCommand::Deploy(a) if a.all => all_but_sandboxes(layout),
            AwsCommand::Deploy(a) => a.envs.clone(),
            AwsCommand::Plan(a) if a.all => all_but_sandboxes(layout),
            AwsCommand::Plan(a) => a.envs.clone(),
            AwsCommand::Status(a) => vec![a.env.clone()],
            AwsCommand::Destroy(a) => vec![a.env.clone()],
            AwsCommand::Whoami(a) => vec![a.env.clone()],
            AwsCommand::Doctor(a) => vec![a.env.clone()],
        }
    }
}

impl LocalCommand {
    /// Whether this is `sandbox up`, which the AWS commands usually follow (`deploy local`).
    pub fn starts_sandbox(&self) -> bool {
        matches!(self, LocalCommand::Sandbox(args) if args.starts())
    }

    /// Runs the command in this process, in the checkout found from `root` (`--root`); only
    /// `completions` runs without one.
    pub fn run(self, root: Option<&Path>) -> Result<ExitCode> {
        let layout = match self {
            LocalCommand::Completions(args) => return args.run(),
            _ => Layout::discover(root)?,
        };
        let layout = &layout;
        match self {
            LocalCommand::Validate(args) => args.run(layout),
            LocalCommand::Render(args) => args.run(layout),
            LocalCommand::Init(args) => args.run(layout),
            LocalCommand::Register(args) => args.run(layout),
            LocalCommand::Smoke(args) => args.run(layout),
            LocalCommand::Sandbox(args) => args.run(layout),
            LocalCommand::Completions(args) => args.run(),
        }
    }
}

/// The names `--all` stands for (an unreadable checkout: none; the command then reports it).
fn all_but_sandboxes(layout: &Layout) -> Vec<String> {
    crate::envs::all_but_sandboxes(layout)
        .map(|(names, _)| names)
        .unwrap_or_default()
}
