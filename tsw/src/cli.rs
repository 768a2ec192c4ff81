//! The command line: the program's name as it was started, every command in one enum, and the
//! flags several commands share. Each command's own flags live in its module
//! (`commands::<name>::Args`, or `...Args` for the AWS ones).

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::LazyLock;
use std::time::Duration;

use clap::{CommandFactory, FromArgMatches, Parser, Subcommand};

use crate::commands::{
    completions, deploy, destroy, doctor, init, plan, policy, register, render, sandbox, smoke,
    status, validate, whoami,
};

/// How the user started this program, as help, examples, hints and completions name it:
/// `cargo xtask` when cargo runs it from this package (cargo sets `CARGO_MANIFEST_DIR` at run
/// time to the package's directory, the same one it was built from), else the file name it was
/// started as (`argv[0]`, e.g. `tsw`).
pub fn name() -> &'static str {
    static NAME: LazyLock<String> = LazyLock::new(|| {
        let under_cargo = std::env::var_os("CARGO_MANIFEST_DIR")
            .is_some_and(|dir| dir == env!("CARGO_MANIFEST_DIR"));
        if under_cargo {
            "cargo xtask".to_owned()
        } else {
            program().to_owned()
        }
    });
    &NAME
}

/// The file name this program was started as (`argv[0]` without its directory; `tsw` when
/// there is none): the command a completion script completes.
pub fn program() -> &'static str {
    static PROGRAM: LazyLock<String> = LazyLock::new(|| {
        std::env::args_os()
            .next()
            .and_then(|arg0| {
                std::path::Path::new(&arg0)
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
            })
            .filter(|n| !n.is_empty())
            .unwrap_or_else(|| env!("CARGO_BIN_NAME").to_owned())
    });
    &PROGRAM
}

/// The exit code of a usage error (BSD's `EX_USAGE`): never 2, which `plan --detailed-exitcode`
/// and `status` use for "changes", nor 0.
pub const USAGE_ERROR: u8 = 64;

/// The command line, parsed, with every usage line, example and help text speaking [`name`].
/// `Err` is the exit code when there is nothing to run: 0 after `--help` or `--version` (printed
/// to stdout), [`USAGE_ERROR`] after a usage error (printed to stderr).
pub fn parse() -> Result<Cli, ExitCode> {
    command()
        .try_get_matches()
        .and_then(|matches| Cli::from_arg_matches(&matches))
        .map_err(|e| {
            let text = e.render().to_string();
            if e.use_stderr() {
                safe_text::eprint!("{text}");
                ExitCode::from(USAGE_ERROR)
            } else {
                safe_text::print!("{text}");
                ExitCode::SUCCESS
            }
        })
}

/// The clap command tree, its texts written for [`name`]: the help texts (about, flags,
/// examples) say `cargo xtask`, which is replaced here, in one place.
pub fn command() -> clap::Command {
    let name = name();
    rename(Cli::command(), name).name(name).bin_name(name)
}

fn rename(command: clap::Command, name: &str) -> clap::Command {
    let swap = |text: &clap::builder::StyledStr| text.to_string().replace("cargo xtask", name);
    let mut command = command;
    if let Some(text) = command.get_after_help().map(swap) {
        command = command.after_help(text);
    }
    if let Some(text) = command.get_about().map(swap) {
        command = command.about(text);
    }
    command
        .mut_args(|arg| match arg.get_help().map(swap) {
            Some(text) => arg.help(text),
            None => arg,
        })
        .mut_args(crate::commands::completions::complete_env_names)
        .mut_subcommands(|sub| rename(sub, name))
}

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

    /// Trace each AWS call (service, operation, region, endpoint, duration, request ID) and each
    /// Temporal CLI run (arguments with secrets masked, duration, exit status) to stderr; never a
    /// secret.
    /// Also `TSW_LOG=debug`.
    #[arg(long, global = true)]
    pub debug: bool,

    /// Colour on a terminal: `auto` (default; not when NO_COLOR is set), `always` or `never`.
    /// JSON and markdown are never coloured.
    #[arg(
        long,
        global = true,
        value_enum,
        value_name = "WHEN",
        default_value = "auto"
    )]
    pub color: crate::output::ColorChoice,

    #[command(subcommand)]
    pub command: Command,
}

/// Every command. `display_order` keeps `--help` in the order of the usual flow.
#[derive(Debug, Subcommand)]
pub enum Command {
    #[command(display_order = 1)]
    Validate(validate::Args),
    #[command(display_order = 2)]
    Render(render::Args),
    #[command(display_order = 3)]
    Plan(plan::PlanArgs),
    #[command(display_order = 3)]
    Deploy(deploy::DeployArgs),
    #[command(display_order = 4)]
    Status(status::StatusArgs),
    #[command(display_order = 5)]
    Destroy(destroy::DestroyArgs),
    #[command(display_order = 6)]
    Init(init::Args),
    #[command(display_order = 7)]
    Whoami(whoami::WhoamiArgs),
    #[command(display_order = 8)]
    Register(register::Args),
    #[command(display_order = 9)]
    Doctor(doctor::DoctorArgs),
    #[command(display_order = 10)]
    Smoke(smoke::Args),
    #[command(display_order = 11)]
    Sandbox(sandbox::Args),
    #[command(display_order = 12)]
    Policy(policy::Args),
    #[command(display_order = 13)]
    Completions(completions::Args),
}

/// How long `deploy` and `destroy` wait by default. A role stack settles in under two minutes;
/// IAM can be slower, and a stack operation already in progress is waited for first.
pub const DEFAULT_TIMEOUT: &str = "30m";

/// How long `deploy` and `destroy` wait: for the stack, and for another command holding the
/// environment.
#[derive(Debug, Clone, clap::Args)]
pub struct StackLimits {
    /// Give up waiting after this long (e.g. `90s`, `30m`, `1h`); CloudFormation goes on.
    #[arg(long, value_name = "DURATION", default_value = DEFAULT_TIMEOUT, value_parser = parse_duration)]
    pub timeout: Duration,
    #[command(flatten)]
    pub lock: crate::claim::LockArgs,
}

/// `90s`, `30m`, `2h`, or several, e.g. `1m30s`: whole numbers, each with `h`, `m` or `s`.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let invalid =
        || format!("`{text}` is not a duration; allowed: e.g. `90s`, `30m`, `1h`, `1m30s`");
    let mut total = Duration::ZERO;
    let mut rest = text.trim();
    if rest.is_empty() {
        return Err(invalid());
    }
    while !rest.is_empty() {
        let digits = rest
            .find(|c: char| !c.is_ascii_digit())
            .ok_or_else(invalid)?;
        let n: u64 = rest[..digits].parse().map_err(|_| invalid())?;
        let unit = match rest[digits..].chars().next() {
            Some('h') => 3600,
            Some('m') => 60,
            Some('s') => 1,
            _ => return Err(invalid()),
        };
        total += Duration::from_secs(n.checked_mul(unit).ok_or_else(invalid)?);
        rest = &rest[digits + 1..];
    }
    if total.is_zero() {
        return Err(format!(
            "`{text}` is no time at all; allowed: a positive duration, e.g. `30m`"
        ));
    }
    Ok(total)
}
