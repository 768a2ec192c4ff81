//! `plan`: what `deploy` and `register` would change, per environment, executing nothing. The
//! stack's part is the very [`aws::Plan`] a deploy applies; its change set is discarded
//! at once (and on Ctrl-C, through the same [`Tracker`] a deploy uses).
//!
//! The versions' part ([`versions`]) is the Worker Deployment Versions `register` would create
//! or update. Asked of the Temporal server when it answers, through the very decision
//! `register` acts on ([`Client::would_register`]), so the two never disagree; else estimated
//! from the descriptor, with a note saying why (a CI job without access to Temporal is normal,
//! so this never fails the plan). [`crate::plan_view`] shows both.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, Result};
use aws::{Clients, Deadline, Guard, Plan, PlanAction, PlanMade, Tracker};
use env_descriptor::{Environment, Layout};
use env_render::{Templates, cfn};
use worker_deployments::{Client, Difference, Planned, Registration, Scope};

use crate::cli::{DEFAULT_TIMEOUT, parse_duration};
use crate::interrupt::{self, Signals, Stopped};
use crate::plan_view::{AwsTarget, EnvPlan, PlanMode, RolePlan};
use crate::progress::StackProgress;
use crate::ui::Progress;
use crate::waves::{Schedule, Step};

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
It writes no file but the one --summary-file names. A stack operation in progress is waited
for first (--timeout).

Exit codes:
  0  no changes (without --detailed-exitcode: any plan that succeeded)
  1  error (bad descriptor, AWS unreachable, a stack that needs a hand, ...)
  2  with --detailed-exitcode: some environment has changes
  64 usage error (an unknown flag or value): nothing was run

Examples:
  cargo xtask plan staging
  cargo xtask plan --all --output markdown     the full plan as markdown (CI)
  cargo xtask plan staging --output json --detailed-exitcode
  cargo xtask plan --all --output markdown --summary-file comment.md
      the full plan, and in comment.md its summary for a pull request comment (CI)")]
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
    /// Plan over an existing stack (or StackSet) of the name that is not recognisably this tool's, as
    /// `deploy --adopt-stack` would.
    #[arg(long)]
    pub adopt_stack: bool,
    /// Give up waiting after this long (e.g. `90s`, `30m`).
    #[arg(long, value_name = "DURATION", default_value = DEFAULT_TIMEOUT, value_parser = parse_duration)]
    pub timeout: Duration,
    /// Plan without a change set, for a role that may only read (`policy --for
    /// plan-read-only`): parameters, tags, service role and template compared with the
    /// stack's here, the live role read; no resource-level changes. Without it, a denied
    /// CreateChangeSet falls back to this, saying so.
    #[arg(long)]
    pub read_only: bool,
    /// Also write a summary for a pull request comment to FILE (markdown: one line of counts,
    /// one row per environment with its account, region, verdict and role drift), also when
    /// some environment fails.
    #[arg(long, value_name = "FILE")]
    pub summary_file: Option<PathBuf>,
    /// At most this many characters in the summary; rows that do not fit are counted instead.
    #[arg(long, value_name = "CHARS", default_value_t = crate::plan_view::SUMMARY_LIMIT,
          value_parser = parse_summary_limit, requires = "summary_file")]
    pub summary_limit: usize,
    /// With `--output markdown`: at most N characters (default GitHub's comment limit). A plan
    /// over it shows one line per environment and the details of those with changes, as many
    /// as fit.
    #[arg(long, value_name = "N", default_value_t = crate::plan_view::GITHUB_COMMENT_MAX_CHARS)]
    pub max_chars: usize,
    /// Plan at most this many environments at once (lower it when other automation shares
    /// the account's API rate limits).
    #[arg(long, value_name = "N", default_value_t = crate::waves::DEFAULT_PLAN_JOBS,
          value_parser = crate::waves::parse_jobs)]
    pub jobs: usize,
}

/// `--summary-limit`: a whole number of characters, at least [`crate::plan_view::SUMMARY_MIN`].
fn parse_summary_limit(text: &str) -> Result<usize, String> {
    let min = crate::plan_view::SUMMARY_MIN;
    match text.parse::<usize>() {
        Ok(n) if n >= min => Ok(n),
        _ => Err(format!(
            "`{text}` is not a size; allowed: a whole number of characters, at least {min}"
        )),
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum PlanOutput {
    Text,
    Json,
    Markdown,
}

/// What one environment needs for its plan, found before any AWS call.
struct Local {
    env: Environment,
    parameters: Vec<(String, String)>,
    files: Vec<(String, String)>,
    /// The StackSet a StackSet environment declares.
    stack_set: Option<aws::StackSetSpec>,
}

pub fn run(args: PlanArgs, layout: &Layout) -> Result<ExitCode> {
    let names = if args.all {
        crate::envs::all_for(layout, "plan")?
    } else {
        args.envs.clone()
    };
    let templates = Templates::load(layout)?;
    let all = crate::envs::all_envs(layout);
    let locals = names
        .iter()
        .map(|name| local_part(layout, &templates, &all, name))
        .collect::<Result<Vec<_>>>()?;
    let trackers: Vec<Tracker> = locals.iter().map(|_| Tracker::default()).collect();
    let shared = crate::connect::Shared::default();
    let rt = crate::connect::runtime()?;
    let planned = rt.block_on(async {
        let mut signals = Signals::listen()?;
        let plans = async {
            let scope = worker_deployments::Scope::of(args.all, locals.len());
            let (locals, trackers, templates, shared) = (&locals, &trackers, &templates, &shared);
            let plan_one = |i: usize| async move {
                let (local, tracker) = (&locals[i], &trackers[i]);
                let guard = Guard {
                    deadline: Deadline::after(args.timeout),
                    tracker,
                };
                let mut aws = AwsTarget {
                    account: local.env.account().map(|(account, _)| account),
                    region: local.env.aws.region.to_string(),
                    credentials: None,
                };
                let how = Ask {
                    adopt: args.adopt_stack,
                    read_only: args.read_only,
                };
                let shown =
                    |e: anyhow::Error| safe_text::bound_quotes(&format!("{e:#}")).into_owned();
                let mut discard = None;
                let (stack, role_drift, mode) = match &local.stack_set {
                    Some(spec) => (
                        plan_stack_set(layout, &local.env, spec, args.adopt_stack, guard, &mut aws)
                            .await
                            .map(RolePlan::StackSet)
                            .map_err(shown),
                        Vec::new(),
                        PlanMode::StackSet,
                    ),
                    None => {
                        let planned = plan_stack(
                            layout,
                            shared,
                            local,
                            templates,
                            how,
                            guard,
                            &mut aws,
                            &mut discard,
                        )
                        .await;
                        match planned {
                            Ok((plan, drift, mode)) => (Ok(RolePlan::Stack(plan)), drift, mode),
                            Err(e) => (Err(shown(e)), Vec::new(), PlanMode::ChangeSet),
                        }
                    }
                };
                // The plan is known: the rest (the versions' part, and deleting the change
                // set) frees this environment's place for the next one.
                Step::Then(async move {
                    let discarded = async {
                        match discard {
                            Some(d) => d.run(guard).await,
                            None => Ok(()),
                        }
                    };
                    let (mut plan, discarded) =
                        tokio::join!(env_plan(layout, local, stack, scope, aws), discarded);
                    plan.role_drift = role_drift;
                    plan.mode = mode;
                    if let Err(e) = discarded {
                        plan.stack = Err(shown(e));
                        plan.role_drift = Vec::new();
                    }
                    plan
                })
            };
            // No order between plans, and every one runs whatever another's fails.
            let schedule = Schedule {
                jobs: args.jobs,
                tolerance: None,
            };
            let waves = vec![0; locals.len()];
            let plans = crate::waves::run_with_tails(&waves, schedule, plan_one, |_| false).await;
            plans.into_iter().flatten().collect::<Vec<_>>()
        };
        anyhow::Ok(tokio::select! {
            plans = plans => Ok(plans),
            first = signals.next() => {
                let runs: Vec<Stopped> = locals
                    .iter()
                    .zip(&trackers)
                    .map(|(l, tracker)| Stopped { env: &l.env, tracker, resume: "plan" })
                    .collect();
                Err(interrupt::clean_up(layout, first, &mut signals, &runs).await)
            }
        })
    })?;
    let plans = match planned {
        Ok(plans) => plans,
        Err(code) => return Ok(code),
    };
    if let Some(path) = &args.summary_file {
        let summary = crate::plan_view::summary(&plans, args.summary_limit);
        std::fs::write(path, summary).with_context(|| {
            format!(
                "cannot write the summary to `{}` (--summary-file); name a file in a directory that exists",
                path.display()
            )
        })?;
    }
    match args.output {
        PlanOutput::Text => crate::output::print_changes(&crate::plan_view::text(&plans)),
        PlanOutput::Markdown => safe_text::print!(
            "{}",
            crate::plan_view::markdown_within(&plans, args.max_chars)
        ),
        PlanOutput::Json => crate::output::print_document("plan", crate::plan_view::json(&plans)),
    }
    for p in &plans {
        if let Err(e) = &p.stack {
            crate::output::print_error(format_args!("{}: {e}", p.env));
        }
    }
    Ok(exit_code(&plans, args.detailed_exitcode))
}

/// 1 on any error; with `detailed`, 2 when anything changes and 0 when nothing does.
fn exit_code(plans: &[EnvPlan], detailed: bool) -> ExitCode {
    if plans.iter().any(|p| p.stack.is_err()) {
        ExitCode::FAILURE
    } else if detailed && plans.iter().any(EnvPlan::has_changes) {
        ExitCode::from(PLAN_CHANGES)
    } else {
        ExitCode::SUCCESS
    }
}

/// Loads and renders one environment (nothing written): its stack parameters and the
/// rendered files that would change, as unified diffs.
fn local_part(
    layout: &Layout,
    templates: &Templates,
    all: &[Environment],
    name: &str,
) -> Result<Local> {
    let env = crate::envs::load_env(layout, name)?;
    let (rendered, changes) = crate::commands::render::pending(layout, templates, &env, all)?;
    let files = changes
        .iter()
        .map(|c| {
            (
                crate::relative(layout, &c.path),
                crate::commands::render::unified_diff(layout, c),
            )
        })
        .collect();
    let parameters = templates
        .cfn_template(env.role_naming())
        .with_defaults(&rendered.parameters);
    Ok(Local {
        stack_set: crate::stack_sets::spec(&env, templates, &parameters),
        parameters,
        env,
        files,
    })
}

/// A plan's change set, still to be deleted (and the empty stack a new stack's leaves) once
/// the plan is known ([`Discard::run`]); until then, the environment's [`Tracker`] knows it,
/// so an interruption deletes it.
struct Discard {
    stacks: aws::Stacks,
    plan: Plan,
    progress: StackProgress,
}

impl Discard {
    async fn run(mut self, guard: Guard<'_>) -> Result<()> {
        self.stacks
            .discard(&self.plan, guard, &mut self.progress)
            .await?;
        self.progress.0.finish();
        Ok(())
    }
}

/// Plans the stack, with the role's drift from what the template declares for the deployed
/// parameters (what `status` reports as changed outside the tool, and `deploy` restores).
/// `aws` gets the caller's account and where its credentials came from. A plan made with a
/// change set leaves its deletion in `discard`, whatever happened after it: the caller runs
/// it beside what needs only the plan, not before.
#[allow(clippy::too_many_arguments)]
async fn plan_stack(
    layout: &Layout,
    shared: &crate::connect::Shared,
    local: &Local,
    templates: &Templates,
    how: Ask,
    guard: Guard<'_>,
    aws: &mut AwsTarget,
    discard: &mut Option<Discard>,
) -> Result<(Plan, Vec<String>, PlanMode)> {
    let env = &local.env;
    let tags = crate::commands::deploy::stack_tags(env);
    let body = &templates.cfn_template(env.role_naming()).body;
    let spec = crate::commands::deploy::stack_spec(env, body, &local.parameters, &tags, how.adopt)?;
    let (clients, caller): (Clients, _) = shared
        .connect_as(layout, env, Some(&guard.deadline))
        .await?;
    if let Some(caller) = caller {
        aws.account = Some(caller.account);
    }
    aws.credentials = Some(clients.credentials.to_string());
    let mut progress = StackProgress(Progress::new(&env.name, false));
    // The role is read together with GetTemplate (or the change set), not after the plan.
    let clients = &clients;
    let (planned, read_drift) = clients
        .stacks
        .plan_beside(
            &spec,
            how.read_only,
            guard,
            &mut progress,
            |stack| async move { crate::drift::role_drift(clients, &stack).await },
        )
        .await?;
    let (plan, mode) = match planned {
        PlanMade::WithChangeSet(plan) if plan.change_set.is_some() => {
            *discard = Some(Discard {
                stacks: clients.stacks.clone(),
                plan: plan.clone(),
                progress,
            });
            (plan, PlanMode::ChangeSet)
        }
        PlanMade::WithChangeSet(plan) => {
            progress.0.finish();
            (plan, PlanMode::ChangeSet)
        }
        PlanMade::ReadOnly(read) => {
            progress.0.finish();
            (
                read.plan,
                PlanMode::ReadOnly {
                    template_differs: read.template_differs,
                    fallback: read.fallback,
                },
            )
        }
    };
    let drift = match (&plan.action, &plan.current, read_drift) {
        (PlanAction::NoChange | PlanAction::Update, _, Some(drift)) => drift?,
        (PlanAction::NoChange | PlanAction::Update, Some(current), None) => {
            crate::drift::role_drift(clients, current).await?
        }
        _ => Vec::new(),
    };
    Ok((plan, drift, mode))
}

/// Plans a StackSet from reads only: the StackSet, its instances, the accounts its OUs hold
/// now and each kept instance's overrides ([`aws::StackSets::current`]). `aws` gets the
/// caller's account and where its credentials came from.
async fn plan_stack_set(
    layout: &Layout,
    env: &Environment,
    spec: &aws::StackSetSpec,
    adopt: bool,
    guard: Guard<'_>,
    aws: &mut AwsTarget,
) -> Result<aws::stack_set::StackSetPlan> {
    let (clients, caller): (Clients, _) =
        crate::connect::connect_as(layout, env, Some(&guard.deadline)).await?;
    if let Some(caller) = caller {
        aws.account = Some(caller.account);
    }
    aws.credentials = Some(clients.credentials.to_string());
    let current = clients.stack_sets().current(spec).await?;
    if let Some(set) = &current.stack_set {
        crate::commands::deploy::owner(env, adopt).check_stack_set(set)?;
    }
    Ok(aws::stack_set::plan::plan(spec, &current))
}

/// How `plan` was asked to plan a stack.
#[derive(Debug, Clone, Copy)]
struct Ask {
    /// `--adopt-stack`.
    adopt: bool,
    /// `--read-only`.
    read_only: bool,
}

/// One environment's plan: its stack's, and the versions' part, asked of the Temporal CLI off
/// the runtime ([`worker_deployments::unblock`]) so that Ctrl-C ends a CLI call that hangs.
async fn env_plan(
    layout: &Layout,
    local: &Local,
    stack: Result<RolePlan, String>,
    scope: worker_deployments::Scope,
    aws: AwsTarget,
) -> EnvPlan {
    let compute_changes = match &stack {
        Ok(RolePlan::Stack(plan)) => changes_compute(plan),
        Ok(RolePlan::StackSet(plan)) => stack_set_changes_compute(plan),
        Err(_) => false,
    };
    let single = stack.as_ref().ok().and_then(RolePlan::stack);
    let role_arn = deployed_role_arn(&local.env, single);
    let role_replacement =
        single.and_then(|plan| role_replacement(&local.env, plan, role_arn.as_deref()));
    let versions = worker_deployments::unblock({
        let (layout, env) = (layout.clone(), local.env.clone());
        move || versions(&layout, &env, role_arn.as_deref(), compute_changes, scope)
    })
    .await;
    EnvPlan {
        env: local.env.name.clone(),
        file: crate::relative(layout, &local.env.file),
        versions,
        files: local.files.clone(),
        stack,
        role_drift: Vec::new(),
        role_replacement,
        aws,
        mode: PlanMode::ChangeSet,
    }
}

/// Whether the plan replaces the role of an existing stack: a new `role.naming` or
/// `role.name` (its `RoleName` changes, and IAM cannot rename a role).
fn replaces_role(plan: &Plan) -> bool {
    plan.parameters
        .iter()
        .any(|p| p.key == cfn::ROLE_NAME_PARAMETER)
        || plan.changes.iter().any(|c| {
            c.resource_type == "AWS::IAM::Role"
                && matches!(c.replacement.as_deref(), Some("True" | "Conditional"))
        })
}

/// The role ARN `register` would set after this plan is deployed: `[outputs].role_arn`; when
/// the plan replaces the role, the ARN of the role named as the descriptor now says, in the
/// recorded role's account; `None` when it is known only after the deploy (a new stack: its
/// account is not known before) or differs by account (a StackSet's: see [`from_server`]).
/// `stack`: the stack's plan, `None` when it could not be made.
fn deployed_role_arn(env: &Environment, stack: Option<&Plan>) -> Option<String> {
    let recorded = env.outputs.as_ref()?.role_arn.as_ref()?;
    let Some(plan) = stack else {
        return Some(recorded.clone());
    };
    if matches!(plan.action, PlanAction::Create | PlanAction::Replace { .. }) {
        return None;
    }
    if !replaces_role(plan) {
        return Some(recorded.clone());
    }
    let arn = env_descriptor::arn::Arn::parse(recorded)?;
    Some(format!(
        "arn:{}:iam::{}:role/{}",
        arn.partition,
        arn.account,
        env.role_name()
    ))
}

/// When the plan replaces the role of a deployed stack: what happens to its ARN, and that the
/// versions registered with the old one must be registered again, with the command.
fn role_replacement(env: &Environment, plan: &Plan, new_arn: Option<&str>) -> Option<String> {
    if plan.action != PlanAction::Update || !replaces_role(plan) {
        return None;
    }
    let old = env.outputs.as_ref().and_then(|o| o.role_arn.as_deref());
    let tsw = crate::cli::name();
    let arns = match (old, new_arn) {
        (Some(old), Some(new)) => format!("its ARN changes from `{old}` to `{new}`"),
        _ => "its ARN changes".to_owned(),
    };
    Some(format!(
        "the role is replaced (role.naming `{}`, named `{}`): {arns}; Worker Deployment Versions registered with the old ARN must be registered again: `{tsw} deploy {env} --register` (or `{tsw} register {env}` after the deploy)",
        env.role_naming().as_str(),
        env.role_name(),
        env = env.name,
    ))
}

/// Whether the plan changes what a version's compute config holds: the role (a new stack, or
/// the role replaced) or the external ID.
fn changes_compute(plan: &Plan) -> bool {
    matches!(plan.action, PlanAction::Create | PlanAction::Replace { .. })
        || plan
            .parameters
            .iter()
            .any(|p| p.key == cfn::EXTERNAL_ID_PARAMETER)
        || plan.changes.iter().any(|c| {
            c.resource_type == "AWS::IAM::Role"
                && matches!(c.replacement.as_deref(), Some("True" | "Conditional"))
        })
}

/// Whether a StackSet's plan changes what registered versions hold: a new StackSet, or an
/// external ID that changes for every account or for one (its override).
fn stack_set_changes_compute(plan: &aws::stack_set::StackSetPlan) -> bool {
    plan.action == aws::stack_set::SetAction::Create
        || plan
            .parameters
            .iter()
            .any(|p| p.key == cfn::EXTERNAL_ID_PARAMETER)
        || plan.instances.iter().any(|i| {
            i.why
                .as_deref()
                .is_some_and(|w| w.contains(&format!("override {}", cfn::EXTERNAL_ID_PARAMETER)))
        })
}

/// What `register` would do with one Worker Deployment Version.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VersionAction {
    /// Listed, and not on the server (or, from the descriptor, not in `[outputs].registered`).
    Create,
    /// Registered, but its compute config (or whether it is current) changes.
    Update,
    /// Registered, and nothing it holds changes.
    Unchanged,
    /// In `[outputs].registered` but no longer listed: `register` leaves it as it is.
    Unlisted,
    /// On the server with Lambda compute but no longer listed: `register` names it, with the
    /// command that retires it, and leaves it as it is.
    LeftBehind,
}

/// One Worker Deployment Version and what `register` would do with it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VersionPlan {
    /// `namespace/name@build_id`.
    pub id: String,
    /// The function it runs on; `None` for a version no longer listed.
    pub lambda_function_arn: Option<String>,
    pub action: VersionAction,
    /// For an update the server was asked about: what differs, old → new.
    pub differences: Vec<Difference>,
    /// For a version left behind: the Temporal CLI command that retires it.
    pub retire: Option<String>,
}

/// Where the versions part of a plan comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VersionsSource {
    /// The Temporal server answered.
    Server,
    /// The descriptor alone (`[outputs].registered`): an estimate.
    Descriptor,
}

impl VersionsSource {
    /// The name `plan`'s JSON holds.
    pub fn as_str(self) -> &'static str {
        match self {
            VersionsSource::Server => "server",
            VersionsSource::Descriptor => "descriptor",
        }
    }
}

/// The versions part of one environment's plan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VersionsPlan {
    pub source: VersionsSource,
    /// Why the server was not asked, for [`VersionsSource::Descriptor`] when it lists versions;
    /// the frontend's address for [`VersionsSource::Server`].
    pub note: Option<String>,
    pub versions: Vec<VersionPlan>,
}

impl VersionsPlan {
    /// One line saying where the versions part comes from; `None` when no version is listed.
    pub fn source_line(&self) -> Option<String> {
        let note = self.note.as_deref()?;
        Some(match self.source {
            VersionsSource::Server => {
                format!("Worker Deployment Versions as the Temporal server holds them ({note})")
            }
            VersionsSource::Descriptor => format!(
                "Worker Deployment Versions from the descriptor alone: {note}; an estimate from [outputs].registered"
            ),
        })
    }
}

impl VersionAction {
    /// The name `plan` shows and its JSON holds.
    pub fn as_str(self) -> &'static str {
        match self {
            VersionAction::Create => "create",
            VersionAction::Update => "update",
            VersionAction::Unchanged => "unchanged",
            VersionAction::Unlisted => "unlisted",
            VersionAction::LeftBehind => "left_behind",
        }
    }
}

impl VersionPlan {
    /// What `register` would do with a version, with what differs (old → new) or the command
    /// that retires a version left behind.
    pub fn describe(&self) -> String {
        let quote = |s: &str| format!("`{s}`");
        let value = |value: &Option<String>, absent: &str| {
            value.as_deref().map_or_else(|| absent.to_owned(), &quote)
        };
        let difference = |d: &Difference| {
            format!(
                "{} {} → {}",
                d.field.as_str().replace('_', " "),
                value(&d.old, "(none)"),
                value(&d.new, "(known after deploy)")
            )
        };
        match (&self.action, &self.retire) {
            (VersionAction::LeftBehind, Some(retire)) => {
                format!(
                    "left behind (register lists it; retire with {})",
                    quote(retire)
                )
            }
            _ if self.differences.is_empty() => self.action.as_str().to_owned(),
            _ => format!(
                "{} ({})",
                self.action.as_str(),
                self.differences
                    .iter()
                    .map(difference)
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        }
    }

    /// Whether `register` would change this version.
    pub fn is_change(&self) -> bool {
        matches!(self.action, VersionAction::Create | VersionAction::Update)
    }

    fn listed(id: String, function: String, action: VersionAction) -> Self {
        VersionPlan {
            id,
            lambda_function_arn: Some(function),
            action,
            differences: Vec::new(),
            retire: None,
        }
    }
}

/// The versions of `env`: from the server when it answers, else from the descriptor.
/// `role_arn`: the role ARN the deploy leaves (`None` while it is known only after the deploy);
/// `compute_changes`: for the estimate, whether the plan changes the role or the external ID.
/// `scope`: how many environments the plan names; with several, an environment without
/// `temporal.address` gets the estimate, with the note saying why.
pub fn versions(
    layout: &Layout,
    env: &Environment,
    role_arn: Option<&str>,
    compute_changes: bool,
    scope: Scope,
) -> VersionsPlan {
    if env.worker_deployments.is_empty() {
        return VersionsPlan {
            source: VersionsSource::Descriptor,
            note: None,
            versions: from_descriptor(env, compute_changes),
        };
    }
    match from_server(layout, env, role_arn, scope) {
        Ok((address, versions)) => VersionsPlan {
            source: VersionsSource::Server,
            note: Some(address),
            versions,
        },
        Err(why) => VersionsPlan {
            source: VersionsSource::Descriptor,
            note: Some(why),
            versions: from_descriptor(env, compute_changes),
        },
    }
}

/// Asks the frontend of `env` what `register` would do with each listed version, and which
/// versions it would name as left behind: Ok((the frontend's address, the versions)), or Err(why
/// the server could not be asked, in one line). Never starts a sandbox.
fn from_server(
    layout: &Layout,
    env: &Environment,
    role_arn: Option<&str>,
    scope: Scope,
) -> Result<(String, Vec<VersionPlan>), String> {
    let one_line = |e: &dyn std::fmt::Display| e.to_string().lines().collect::<Vec<_>>().join(" ");
    let client = crate::commands::register::client(layout, env, scope)
        .map_err(|e| one_line(&format!("{e:#}")))?;
    if let Some(why) = crate::commands::register::silent_frontend(layout, env, client.frontend()) {
        return Err(why);
    }
    let mut out = Vec::new();
    for wd in &env.worker_deployments {
        // A StackSet's role is its function's account's, with that account's external ID.
        let (role_arn, external_id) = match env.stack_set() {
            Some(_) => match env.invocation_for(&wd.lambda_function_arn) {
                Ok((role, external_id)) => (Some(role), external_id),
                Err(_) => (None, &env.role.external_id),
            },
            None => (role_arn.map(str::to_owned), &env.role.external_id),
        };
        let reg = Registration {
            deployment: wd,
            role_arn: role_arn.as_deref(),
            external_id,
        };
        let (action, differences) = match client.would_register(&reg).map_err(|e| one_line(&e))? {
            Planned::Create => (VersionAction::Create, Vec::new()),
            Planned::Update(differences) => (VersionAction::Update, differences),
            Planned::Unchanged => (VersionAction::Unchanged, Vec::new()),
        };
        out.push(VersionPlan {
            differences,
            ..VersionPlan::listed(wd.id(), wd.lambda_function_arn.to_string(), action)
        });
    }
    out.extend(left_behind(&client, env).map_err(|e| one_line(&e))?);
    Ok((client.frontend().address.clone(), out))
}

/// The versions `register` would name as left behind (see [`Client::left_behind`]).
fn left_behind(
    client: &Client,
    env: &Environment,
) -> Result<Vec<VersionPlan>, worker_deployments::RegisterError> {
    client
        .left_behind(&env.worker_deployments)
        .into_iter()
        .map(|found| {
            found.map(|v| VersionPlan {
                id: v.id,
                lambda_function_arn: None,
                action: VersionAction::LeftBehind,
                differences: Vec::new(),
                retire: Some(v.retire),
            })
        })
        .collect()
}

/// The versions of `env` against `[outputs].registered`. `compute_changes`: the plan changes
/// what every version's compute config holds (the role's ARN or the external ID), so
/// registered versions need an update.
fn from_descriptor(env: &Environment, compute_changes: bool) -> Vec<VersionPlan> {
    let registered: Vec<String> = env
        .outputs
        .as_ref()
        .map(|o| o.registered.iter().map(|r| r.to_string()).collect())
        .unwrap_or_default();
    let listed = env.worker_deployments.iter().map(|wd| {
        let id = wd.id();
        let action = match (registered.contains(&id), compute_changes) {
            (false, _) => VersionAction::Create,
            (true, true) => VersionAction::Update,
            (true, false) => VersionAction::Unchanged,
        };
        VersionPlan::listed(id, wd.lambda_function_arn.to_string(), action)
    });
    let unlisted = registered
        .iter()
        .filter(|id| !env.worker_deployments.iter().any(|wd| &wd.id() == *id))
        .map(|id| VersionPlan {
            id: id.clone(),
            lambda_function_arn: None,
            action: VersionAction::Unlisted,
            differences: Vec::new(),
            retire: None,
        });
    listed.chain(unlisted.collect::<Vec<_>>()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const DESCRIPTOR: &str = r#"
[aws]
region = "us-west-2"

[temporal]
server_role_arn = "arn:aws:iam::123456789012:role/temporal"
address = "temporal.internal:7233"

[role]
stack_name = "s"
external_id = "plan-ext-id"
lambda_function_arns = ["arn:aws:lambda:us-west-2:123456789012:function:w"]

[[worker_deployments]]
namespace = "default"
name = "w"
build_id = "1"
lambda_function_arn = "arn:aws:lambda:us-west-2:123456789012:function:w"

[[worker_deployments]]
namespace = "default"
name = "w"
build_id = "2"
lambda_function_arn = "arn:aws:lambda:us-west-2:123456789012:function:w"

[outputs]
role_arn = "arn:aws:iam::123456789012:role/Temporal-Serverless-Worker-s"
stack_id = "arn:aws:cloudformation:us-west-2:123456789012:stack/s/1"
deployed_at = "2026-11-25T10:00:00Z"
registered = ["default/w@1", "default/w@0"]
"#;

    fn actions(compute_changes: bool) -> Vec<(String, &'static str)> {
        let env = env_descriptor::load_str(std::path::Path::new("e.toml"), DESCRIPTOR)
            .expect("valid descriptor")
            .env;
        from_descriptor(&env, compute_changes)
            .into_iter()
            .map(|v| (v.id, v.action.as_str()))
            .collect()
    }

    #[test]
    fn versions_are_created_updated_or_left_as_they_are() {
        let id = |s: &str| s.to_owned();
        assert_eq!(
            actions(false),
            [
                (id("default/w@1"), "unchanged"),
                (id("default/w@2"), "create"),
                (id("default/w@0"), "unlisted"),
            ]
        );
        assert_eq!(actions(true)[0], (id("default/w@1"), "update"));
    }

    /// A plan that updates the stack; `replaced`: CloudFormation replaces the role.
    fn update(replaced: bool) -> Plan {
        Plan {
            stack: "s".into(),
            action: PlanAction::Update,
            current: None,
            parameters: Vec::new(),
            tags: Vec::new(),
            role_arn: None,
            changes: vec![aws::Change {
                action: "Modify".into(),
                logical_id: "TemporalServerlessWorker".into(),
                resource_type: "AWS::IAM::Role".into(),
                replacement: Some(if replaced { "True" } else { "False" }.into()),
                details: Vec::new(),
            }],
            change_set: None,
        }
    }

    #[test]
    fn a_replaced_role_gets_the_arn_of_its_new_name_and_the_re_register_line() {
        let moved = DESCRIPTOR.replace("[role]\n", "[role]\nnaming = \"fixed\"\n");
        let env = env_descriptor::load_str(std::path::Path::new("e.toml"), &moved)
            .expect("valid descriptor")
            .env;
        let old = "arn:aws:iam::123456789012:role/Temporal-Serverless-Worker-s";
        let new = "arn:aws:iam::123456789012:role/Temporal-Serverless-Worker";
        let replaced = update(true);
        assert_eq!(
            deployed_role_arn(&env, Some(&replaced)).as_deref(),
            Some(new)
        );
        let line = role_replacement(&env, &update(true), Some(new)).expect("a replacement");
        assert!(
            line.contains(&format!("from `{old}` to `{new}`"))
                && line.contains("must be registered again")
                && line.contains("deploy e --register"),
            "{line}"
        );
        // An update that keeps the role keeps its ARN, and says nothing.
        assert_eq!(
            deployed_role_arn(&env, Some(&update(false))).as_deref(),
            Some(old)
        );
        assert_eq!(role_replacement(&env, &update(false), Some(old)), None);
    }

    use worker_deployments::Field;
    fn version(action: VersionAction, differences: Vec<Difference>) -> VersionPlan {
        VersionPlan {
            id: "default/w@1".into(),
            lambda_function_arn: Some("arn:fn".into()),
            action,
            differences,
            retire: None,
        }
    }

    #[test]
    fn an_update_names_what_differs_and_a_role_known_only_after_deploy() {
        let v = version(
            VersionAction::Update,
            vec![
                Difference {
                    field: Field::Role,
                    old: Some("arn:old".into()),
                    new: None,
                },
                Difference {
                    field: Field::ExternalId,
                    old: Some("a".into()),
                    new: Some("b".into()),
                },
            ],
        );
        assert_eq!(
            v.describe(),
            "update (role `arn:old` → (known after deploy), external id `a` → `b`)"
        );
        assert_eq!(
            version(VersionAction::Unchanged, vec![]).describe(),
            "unchanged"
        );
        let left = VersionPlan {
            action: VersionAction::LeftBehind,
            retire: Some("temporal worker deployment delete-version".into()),
            ..version(VersionAction::LeftBehind, vec![])
        };
        assert_eq!(
            left.describe(),
            "left behind (register lists it; retire with `temporal worker deployment delete-version`)"
        );
    }

    #[test]
    fn the_source_of_the_versions_is_said_once() {
        let plan = |source, note: Option<&str>| VersionsPlan {
            source,
            note: note.map(str::to_owned),
            versions: vec![],
        };
        assert_eq!(
            plan(VersionsSource::Descriptor, Some("no CLI"))
                .source_line()
                .as_deref(),
            Some(
                "Worker Deployment Versions from the descriptor alone: no CLI; an estimate from [outputs].registered"
            )
        );
        assert!(
            plan(VersionsSource::Server, Some("127.0.0.1:1"))
                .source_line()
                .is_some_and(|l| l.contains("as the Temporal server holds them (127.0.0.1:1)"))
        );
        assert_eq!(plan(VersionsSource::Descriptor, None).source_line(), None);
    }
}
