//! Flags of the commands that call AWS. They are parsed here, by the light `xtask` binary, so
//! that `--help` and flag errors need no AWS SDK; the commands run in `xtask-aws`
//! (`crates/xtask-aws`), which `xtask` hands them to.

use std::time::Duration;

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

/// Render, then create or update the invocation-role stack and record its outputs.
#[derive(Debug, clap::Args)]
#[command(after_help = "\
Validates the descriptors, renders environments/ENV/, then creates or updates each CloudFormation
stack through a change set: it shows what will change, asks on a terminal (unless --yes or
`[deploy] confirm = false`), shows stack events as they happen, and writes the stack's outputs
into the descriptor's [outputs] table. When the deployed template and parameters already match,
it says so and leaves the stack alone. Several environments are deployed in parallel, each line
prefixed with the environment's name.

Examples:
  cargo xtask deploy local                    the local sandbox (started if needed)
  cargo xtask deploy staging
  cargo xtask deploy staging production --yes several at once, no confirmation (CI)
  cargo xtask deploy --all --yes              every environment but the sandboxes
  cargo xtask deploy local --register         then register the Worker Deployment Versions
  cargo xtask deploy staging --replace-failed replace a stack left in ROLLBACK_COMPLETE
  cargo xtask deploy staging --timeout 1h     give CloudFormation longer

A stack operation already in progress (from an interrupted deploy, or anyone else) is waited for
first. Ctrl-C (or SIGTERM) stops the deploy: a change set that was never executed is deleted
(with the empty stack a new one made), an operation CloudFormation already runs is named with
how to follow it, and the descriptor is left as it was; the next deploy waits for the operation
and records it. Exits 130 (SIGINT) or 143 (SIGTERM).

Confirmation: with `[deploy] confirm = true` (the default) and no terminal to ask on, deploy
refuses unless --yes is given: exit 1, before anything is rendered or any change set exists.")]
pub struct DeployArgs {
    /// The environments (environments/ENV.toml).
    #[arg(required_unless_present = "all")]
    pub envs: Vec<String>,
    /// Deploy every environment except those that declare `[sandbox]` (name one to include it).
    #[arg(long, conflicts_with = "envs")]
    pub all: bool,
    /// Execute the change sets without asking.
    #[arg(long, short = 'y')]
    pub yes: bool,
    /// Delete and re-create a stack whose creation failed (ROLLBACK_COMPLETE).
    #[arg(long)]
    pub replace_failed: bool,
    /// Then register the `[[worker_deployments]]` (see `cargo xtask register --help`).
    #[arg(long)]
    pub register: bool,
    /// Deploy over an existing stack of the name that is not recognisably this tool's (no
    /// [outputs] record it, it lacks the tool's tag): it becomes this environment's stack.
    #[arg(long)]
    pub adopt_stack: bool,
    #[command(flatten)]
    pub limits: StackLimits,
}

/// `plan --detailed-exitcode`: the plan has changes (Terraform's convention).
pub const PLAN_CHANGES: u8 = 2;

/// Show what `deploy` (and `register`) would change, executing nothing.
#[derive(Debug, clap::Args)]
#[command(after_help = "\
Per environment: the stack parameters old -> new, tag and service-role changes, the change set's
resource changes (with property-level detail where CloudFormation gives it), the rendered files
that differ from what is committed (and the server's dynamic config file, when
`temporal.dynamic_config_file` is set) as unified diffs, and the Worker Deployment Versions
`register` would create or update (asked of the Temporal server, read-only, with what differs
old -> new; estimated from [outputs].registered, saying so, when the frontend does not answer or
no `temporal` CLI is found). It executes nothing and leaves nothing behind: the change set
it created is deleted, and for a new stack the REVIEW_IN_PROGRESS stack too (also on Ctrl-C).
It writes no file. A stack operation in progress is waited for first (--timeout).

Exit codes:
  0  no changes (without --detailed-exitcode: any plan that succeeded)
  1  error (bad descriptor, AWS unreachable, a stack that needs a hand, ...)
  2  with --detailed-exitcode: some environment has changes

Examples:
  cargo xtask plan staging
  cargo xtask plan --all --output markdown     the pull request comment (CI)
  cargo xtask plan staging --output json --detailed-exitcode")]
pub struct PlanArgs {
    /// The environments (environments/ENV.toml).
    #[arg(required_unless_present = "all")]
    pub envs: Vec<String>,
    /// Every environment, except the sandbox ones (`[sandbox]`).
    #[arg(long, conflicts_with = "envs")]
    pub all: bool,
    /// `text` (default), `json` (stable, `version: 1`) or `markdown` (a pull request comment).
    #[arg(long, value_enum, default_value = "text")]
    pub output: PlanOutput,
    /// Exit 2 when there are changes, 0 when there are none, 1 on error.
    #[arg(long)]
    pub detailed_exitcode: bool,
    /// Plan over an existing stack of the name that is not recognisably this tool's, as
    /// `deploy --adopt-stack` would.
    #[arg(long)]
    pub adopt_stack: bool,
    /// Give up waiting after this long (e.g. `90s`, `30m`).
    #[arg(long, value_name = "DURATION", default_value = DEFAULT_TIMEOUT, value_parser = parse_duration)]
    pub timeout: Duration,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum PlanOutput {
    Text,
    Json,
    Markdown,
}

/// `status`: the descriptor has changes the stack does not have (or [outputs] are stale).
pub const STATUS_UNDEPLOYED: u8 = 2;
/// `status`: AWS was changed outside the tool (the role, or the stack deleted).
pub const STATUS_CHANGED_OUTSIDE: u8 = 3;

/// Show the stack, and whether the descriptor, the stack and the role agree.
#[derive(Debug, clap::Args)]
#[command(after_help = "\
Compares the descriptor (rendered now; nothing is written) with the stack's parameters and
template, the recorded [outputs] with the stack's outputs, and the role IAM holds (trust policy
principal and sts:ExternalId, invoke policy actions and resources, no managed policies) with
what the template declares. Differing parameters are printed old -> new.

Exit codes:
  0  all agree
  1  error (bad descriptor, AWS unreachable, ...)
  2  the descriptor has undeployed changes: run `cargo xtask deploy ENV`
  3  AWS was changed outside the tool (the role edited, the stack deleted); wins over 2

Examples:
  cargo xtask status staging
  cargo xtask status local")]
pub struct StatusArgs {
    /// The environment (environments/ENV.toml).
    pub env: String,
}

/// Delete the stack and remove [outputs] from the descriptor.
#[derive(Debug, clap::Args)]
#[command(after_help = "\
Asks first on a terminal; elsewhere it needs --yes. Refuses, before asking, while Worker
Deployment Versions registered from the environment (its `[[worker_deployments]]` and
[outputs].registered) still hold Lambda compute through the stack's role, naming each with the
command that retires it: Temporal would go on invoking through a role that no longer exists.
--leave-versions deletes the stack anyway.

Examples:
  cargo xtask destroy local --yes
  cargo xtask destroy staging")]
pub struct DestroyArgs {
    /// The environment (environments/ENV.toml).
    pub env: String,
    /// Delete without asking.
    #[arg(long, short = 'y')]
    pub yes: bool,
    /// Delete the stack even when it is not recognisably this tool's (no [outputs] record it,
    /// it lacks the tool's tag).
    #[arg(long)]
    pub adopt_stack: bool,

    /// Delete the stack even while Worker Deployment Versions registered from this environment
    /// hold Lambda compute through its role (or when the server cannot be asked).
    #[arg(long)]
    pub leave_versions: bool,
    #[command(flatten)]
    pub limits: StackLimits,
}

/// Show the AWS identity of an environment, and the ARN to use as `server_role_arn`.
#[derive(Debug, clap::Args)]
#[command(after_help = "\
Run it with the Temporal server's credentials to find `temporal.server_role_arn`: for an
assumed-role session (arn:aws:sts::ACCOUNT:assumed-role/NAME/SESSION) it prints the IAM role
ARN, which is what a trust policy must name.

Examples:
  cargo xtask whoami staging
  AWS_PROFILE=temporal-server cargo xtask whoami staging")]
pub struct WhoamiArgs {
    /// The environment (environments/ENV.toml).
    pub env: String,
}

/// Check every prerequisite of Serverless Workers for an environment.
#[derive(Debug, clap::Args)]
#[command(after_help = "\
One line per check, grouped by the steps of the self-hosted setup guide, each pass/warn/fail
with the fix for what fails:
  1  Lambda can reach the frontend: address, reachability, functions exist, VPC config
  2  the dynamic config the server reads enables WCI, aws-lambda and no-sync where needed
  3  these credentials are the server's identity (`temporal.server_role_arn`)
  4  the role stack matches [outputs]; the role IAM holds is as the template declares it
     (trust principal, sts:ExternalId, invoke actions and functions); AssumeRole works with the
     external ID and is denied without it (proof only for a caller the trust policy names,
     else a warning); through the role, GetFunction works for every function
  5  the [[worker_deployments]] are registered with aws-lambda compute, and each version holds
     the function, role ([outputs].role_arn) and external ID the descriptor names, as the
     server recorded them, with the server's last validation of them; a task queue is bound
     to each; each function's timeout, TEMPORAL_* variables and qualifier
Exits non-zero when a check fails. Run it with the Temporal server's credentials to check step 3.

Examples:
  cargo xtask doctor local
  cargo xtask doctor staging --output json")]
pub struct DoctorArgs {
    /// The environment (environments/ENV.toml).
    pub env: String,
    /// `text` (default) or `json`.
    #[arg(long, value_enum, default_value = "text")]
    pub output: Output,
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum Output {
    Text,
    Json,
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
