//! `deploy`: render, then create or update each environment's invocation-role stack and record
//! its outputs. Reads top to bottom: validate, render and claim every environment before the
//! first AWS call ([`prepare`]); then per environment connect, plan the change set, show it,
//! confirm, execute, wait, record the outputs; then register (`--register`) and sum up.

use std::process::ExitCode;

use anyhow::{Context, Result};
use aws::{Deadline, DeployError, Guard, Outcome, Owner, StackSpec, Tracker};
use env_descriptor::{EnvLock, Environment, Layout, Outputs, StackOutputs};
use env_render::{Templates, cfn};
use indicatif::MultiProgress;

use crate::cli::StackLimits;
use crate::interrupt::{self, Signals, Stopped};
use crate::output::OutputArgs;
use crate::progress::{StackProgress, StackSetProgress};
use crate::ui::{self, Progress};
use crate::waves::Schedule;

mod stack_set;

/// Render, then create or update the invocation-role stack and record its outputs.
#[derive(Debug, clap::Args)]
#[command(after_help = "\
Validates the descriptors, renders environments/ENV/, then creates or updates each CloudFormation
stack through a change set: it shows what will change, asks on a terminal (unless --yes or
`[deploy] confirm = false`), shows stack events as they happen, and writes the stack's outputs
into the descriptor's [outputs] table. When the deployed template and parameters already match,
it says so and leaves the stack alone. Several environments are deployed in parallel (at most
--jobs at once), each line prefixed with the environment's name, in the waves their descriptors
order (`[deploy] wave`: lower first, a wave once the one before has ended); after more failures
than --failure-tolerance (default 0) no new deploy starts, and those left are named.

A descriptor with [stack_set] deploys the role to many accounts with a CloudFormation StackSet:
the StackSet and its instances are created, updated or deleted as operations, each instance's
progress shown, failed instances named with their reason, and each account's role ARN recorded in
[outputs.role_arns] (docs/stacksets.md).

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
    /// Deploy over an existing stack (or StackSet) of the name that is not recognisably this
    /// tool's (no [outputs] record it, it lacks the tool's tag): it becomes this environment's.
    #[arg(long)]
    pub adopt_stack: bool,
    /// Deploy at most this many environments at once (with a question to ask: one).
    #[arg(long, value_name = "N", default_value_t = crate::waves::DEFAULT_JOBS,
          value_parser = crate::waves::parse_jobs)]
    pub jobs: usize,
    /// Start no new deploy once more than N have failed (those running finish; the ones left
    /// are named); 0: stop starting after the first failure.
    #[arg(long, value_name = "N", default_value_t = 0)]
    pub failure_tolerance: usize,
    #[command(flatten)]
    pub limits: StackLimits,
    #[command(flatten)]
    pub output: crate::output::OutputArgs,
}

/// What one environment's deploy ended with.
struct Report {
    env: Environment,
    result: Result<Deployed, DeployError>,
    /// After a deploy that succeeded: what was done to put the role back to what the template
    /// declares (empty when it had not drifted), or why it could not be.
    restored: Result<Vec<String>, String>,
}

/// What a deploy that ran to its end did: to a stack, or to a StackSet and its instances.
enum Deployed {
    Stack(Outcome),
    StackSet(Box<stack_set::Done>),
}

impl Report {
    /// Whether it counts against the failure tolerance: an error, a role that could not be
    /// restored, or a StackSet operation (or instance) that failed.
    fn failed(&self) -> bool {
        match &self.result {
            Err(_) => true,
            Ok(Deployed::StackSet(done)) => !done.succeeded(),
            Ok(Deployed::Stack(_)) => self.restored.is_err(),
        }
    }
}

pub fn run(args: DeployArgs, layout: &Layout) -> Result<ExitCode> {
    // Every descriptor is validated, claimed and rendered before the first AWS call.
    let Prepared {
        envs,
        parameters,
        templates,
        locks: _locks,
    } = prepare(layout, &args, ui::interactive())?;
    let templates = &templates;
    let asks = |env: &Environment| env.deploy.confirm && !args.yes && ui::interactive();
    // Questions cannot be asked in parallel: with any, one environment after the other.
    let parallel = envs.len() > 1 && !envs.iter().any(asks);
    let group = (envs.len() > 1).then(MultiProgress::new);

    let rt = crate::connect::runtime()?;
    let trackers: Vec<Tracker> = envs.iter().map(|_| Tracker::default()).collect();
    let shared = &crate::connect::Shared::default();
    let interrupted = rt.block_on(async {
        let mut signals = Signals::listen()?;
        let deploys = async {
            let deploy_one = |env: Environment, params: Vec<(String, String)>, tracker| {
                let group = group.clone();
                let ask = asks(&env);
                async move {
                    let guard = Guard {
                        deadline: Deadline::after(args.limits.timeout),
                        tracker,
                    };
                    // A StackSet environment: its own branch (`deploy/stack_set.rs`).
                    if let Some(spec) = crate::stack_sets::spec(&env, templates, &params) {
                        let mut progress =
                            StackSetProgress(Progress::in_group(group.as_ref(), &env.name, ask));
                        let result = stack_set::deploy(
                            layout,
                            &env,
                            spec,
                            args.adopt_stack,
                            &guard,
                            &mut progress,
                            ask,
                        )
                        .await;
                        progress.0.finish();
                        return Report {
                            env,
                            result: result.map(|done| Deployed::StackSet(Box::new(done))),
                            restored: Ok(Vec::new()),
                        };
                    }
                    let tags = stack_tags(&env);
                    let body = &templates.cfn_template(env.role_naming()).body;
                    let spec = match stack_spec(&env, body, &params, &tags, args.adopt_stack) {
                        Ok(spec) => spec,
                        Err(e) => {
                            let result = Err(DeployError::Aws {
                                action: "planning",
                                code: None,
                                message: e.to_string(),
                            });
                            return Report {
                                env,
                                result,
                                restored: Ok(Vec::new()),
                            };
                        }
                    };
                    let mut restored = Ok(Vec::new());
                    let result = match shared.connect_as(layout, &env, Some(&guard.deadline)).await
                    {
                        Ok((clients, caller)) => {
                            let mut progress =
                                StackProgress(Progress::in_group(group.as_ref(), &env.name, ask));
                            // Whose account this deploy changes, before any preview or question.
                            let account = caller.map_or(String::new(), |c| {
                                format!("account {} ({}), ", c.account, c.arn)
                            });
                            progress.0.line(&format!(
                                "{account}region {}, credentials: {}",
                                env.aws.region, clients.credentials
                            ));
                            let r = clients
                                .stacks
                                .deploy(&spec, args.replace_failed, guard, &mut progress)
                                .await;
                            progress.0.finish();
                            // CloudFormation leaves a role changed outside it as it is while
                            // the template and parameters are unchanged: put it back here.
                            if let Ok(outcome) = &r {
                                restored = crate::drift::restore(&clients, outcome.stack())
                                    .await
                                    .map_err(|e| format!("{e:#}"));
                            }
                            r.map(Deployed::Stack)
                        }
                        Err(e) => Err(DeployError::Aws {
                            action: "connecting",
                            code: None,
                            message: format!("{e:#}"),
                        }),
                    };
                    Report {
                        env,
                        result,
                        restored,
                    }
                }
            };
            let waves: Vec<u16> = envs.iter().map(|e| e.deploy.wave).collect();
            let schedule = Schedule {
                jobs: if parallel { args.jobs } else { 1 },
                tolerance: Some(args.failure_tolerance),
            };
            let start = |i: usize| deploy_one(envs[i].clone(), parameters[i].clone(), &trackers[i]);
            crate::waves::run(&waves, schedule, start, Report::failed).await
        };
        anyhow::Ok(tokio::select! {
            reports = deploys => Ok(reports),
            first = signals.next() => {
                let runs: Vec<Stopped> = envs
                    .iter()
                    .zip(&trackers)
                    .map(|(env, tracker)| Stopped { env, tracker, resume: "deploy" })
                    .collect();
                Err(interrupt::clean_up(layout, first, &mut signals, &runs).await)
            }
        })
    })?;
    let reports = match interrupted {
        Ok(reports) => reports,
        Err(code) => {
            // A confirmation may still wait for an answer on another thread.
            rt.shutdown_background();
            return Ok(code);
        }
    };

    let out = args.output;
    let mut failed = 0;
    let mut deployed = Vec::new();
    let not_started: Vec<&str> = envs
        .iter()
        .zip(&reports)
        .filter(|(_, r)| r.is_none())
        .map(|(e, _)| e.name.as_str())
        .collect();
    let mut shown = Vec::new();
    for report in reports.iter().flatten() {
        match finish(layout, report, out) {
            Ok(json) => {
                shown.push(json);
                deployed.push(report.env.name.clone())
            }
            Err(e) => {
                failed += 1;
                crate::output::print_error(format_args!("{e:#}"));
                shown.push(serde_json::json!({
                    "name": report.env.name,
                    "file": crate::relative(layout, &report.env.file),
                    "ok": false,
                    "error": format!("{e:#}"),
                }));
            }
        }
    }
    if !not_started.is_empty() {
        failed += not_started.len();
        crate::output::print_error(format_args!(
            "not started (failure tolerance {} exceeded): {}; deploy them when the failures are fixed, or give --failure-tolerance",
            args.failure_tolerance,
            not_started.join(", ")
        ));
        for name in &not_started {
            shown.push(serde_json::json!({
                "name": name,
                "ok": false,
                "error": "not started: the failure tolerance was exceeded",
            }));
        }
    }
    let mut registered = Vec::new();
    if args.register {
        let scope = worker_deployments::Scope::of(args.all, envs.len());
        failed += register_deployed(layout, &deployed, scope, out, &mut registered)?;
    }
    out.document(
        "deploy",
        serde_json::json!({
            "ok": failed == 0,
            "environments": shown,
            "registered": args.register.then_some(registered),
        }),
    );
    Ok(exit_code(failed, envs.len()))
}

/// The environments of one `deploy`, validated, rendered and claimed.
#[derive(Debug)]
struct Prepared {
    envs: Vec<Environment>,
    /// Each environment's stack parameters, template defaults included, in the order of `envs`.
    parameters: Vec<Vec<(String, String)>>,
    /// The CloudFormation templates; each stack is deployed from the one of its role's naming.
    templates: Templates,
    /// Held until the deploy ends (see [`crate::claim::claim`]).
    locks: Vec<EnvLock>,
}

/// Validates every environment `args` names, refuses unconfirmed ones without a terminal
/// ([`ensure_confirmable`]), checks that no other descriptor deploys the same stacks, claims
/// them, then renders and writes their files: all before the first AWS call. `interactive`:
/// whether a person can answer the confirmation.
fn prepare(layout: &Layout, args: &DeployArgs, interactive: bool) -> Result<Prepared> {
    let names = if args.all {
        crate::envs::all_for(layout, "deploy")?
    } else {
        args.envs.clone()
    };
    let envs: Vec<Environment> = names
        .iter()
        .map(|n| crate::envs::load_env(layout, n))
        .collect::<Result<_>>()?;
    ensure_confirmable(layout, &envs, args.yes, interactive)?;
    let all = crate::envs::all_envs(layout);
    crate::envs::ensure_own_stacks(&envs, &all)?;
    let command = format!("deploy {}", names.join(" "));
    let locks = crate::claim::claim(
        layout,
        &envs.iter().collect::<Vec<_>>(),
        &command,
        &args.limits.lock,
    )?;
    let templates = Templates::load(layout)?;
    let mut parameters = Vec::new();
    for env in &envs {
        let rendered =
            crate::commands::render::write(layout, &templates, env, &all, args.output.json())?;
        let template = templates.cfn_template(env.role_naming());
        parameters.push(template.with_defaults(&rendered.parameters));
    }
    Ok(Prepared {
        envs,
        parameters,
        templates,
        locks,
    })
}

/// Refuses to deploy an environment that asks for confirmation (`[deploy] confirm = true`, the
/// default) when nobody can answer and `--yes` was not given. Decided before anything is
/// rendered or any change set exists: the rule is known up front, and executing unasked is
/// exactly what `confirm` is there to prevent (a CI job must say `--yes`).
fn ensure_confirmable(
    layout: &Layout,
    envs: &[Environment],
    yes: bool,
    interactive: bool,
) -> Result<()> {
    if yes || interactive {
        return Ok(());
    }
    let unconfirmed: Vec<String> = envs
        .iter()
        .filter(|e| e.deploy.confirm)
        .map(|e| format!("`{}` ({})", e.name, crate::relative(layout, &e.file)))
        .collect();
    if unconfirmed.is_empty() {
        return Ok(());
    }
    anyhow::bail!(
        "refusing to deploy {} without confirmation: there is no terminal to ask on and \
         `[deploy] confirm` is true (the default). Nothing was rendered or changed; pass --yes to \
         deploy without asking, or set `[deploy] confirm = false` in the descriptor",
        unconfirmed.join(", ")
    )
}

/// The stack `env` describes: what `deploy` applies and `plan` shows. `adopt`: take over a
/// stack of the name that is not recognisably this tool's (`--adopt-stack`). A StackSet
/// environment has no one stack.
pub fn stack_spec<'a>(
    env: &'a Environment,
    template_body: &'a str,
    parameters: &'a [(String, String)],
    tags: &'a [(String, String)],
    adopt: bool,
) -> Result<StackSpec<'a>, env_descriptor::NotForStackSet> {
    Ok(StackSpec {
        name: env.single_stack("deploy")?,
        template_body,
        parameters,
        // The sandbox's emulator forgets its stacks when restarted: recreate it there (and say
        // so); anywhere else a vanished stack needs a human.
        recorded_stack_id: env
            .outputs
            .as_ref()
            .filter(|_| !env.starts_sandbox())
            .and_then(|o| o.stack_id.as_deref()),
        tags,
        role_arn: env.deploy.cloudformation_role_arn.as_deref(),
        owner: owner(env, adopt),
    })
}

/// The tag the tool sets on every stack it creates, with the environment's name: what tells
/// its stacks from others' when no `[outputs]` record them.
pub const OWNER_TAG: &str = "temporal-serverless-workers:environment";

/// How `env`'s stack, or its StackSet, is recognised as this tool's (see [`aws::Owner`]): a
/// StackSet environment's record is `[outputs].stack_set_id`.
pub fn owner(env: &Environment, adopt: bool) -> Owner<'_> {
    let recorded = env.outputs.as_ref().and_then(|o| {
        if env.stack_set().is_some() {
            o.stack_set_id.as_deref()
        } else {
            o.stack_id.as_deref()
        }
    });
    Owner {
        recorded_stack_id: recorded,
        tag: (OWNER_TAG, env.name.as_str()),
        output: cfn::ROLE_ARN_OUTPUT,
        parameter: (cfn::EXTERNAL_ID_PARAMETER, env.role.external_id.as_str()),
        adopt,
    }
}

/// `[deploy] tags`, as the stack takes them, and [`OWNER_TAG`] (over a tag of that key).
pub fn stack_tags(env: &Environment) -> Vec<(String, String)> {
    env.deploy
        .tags
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .filter(|(k, _)| k != OWNER_TAG)
        .chain([(OWNER_TAG.to_owned(), env.name.clone())])
        .collect()
}

/// Prints the outcome of one environment and records its outputs.
/// Records and shows what one environment's deploy ended with; its entry in `deploy --output
/// json`, or why it failed.
fn finish(layout: &Layout, report: &Report, out: OutputArgs) -> Result<serde_json::Value> {
    let tsw = crate::cli::name();
    let env = &report.env;
    let file = crate::relative(layout, &env.file);
    let outcome = match &report.result {
        Ok(Deployed::StackSet(done)) => return stack_set::finish(layout, env, done, out),
        Ok(Deployed::Stack(outcome)) => outcome,
        Err(e @ DeployError::Declined { .. }) => anyhow::bail!("{}: {e}", env.name),
        Err(DeployError::RecordedStackGone { stack, stack_id }) => anyhow::bail!(
            "{}: stack `{stack}` recorded in [outputs] of {file} no longer exists ({stack_id}): \
             it was deleted outside this tool, or its emulator was restarted and forgot it. Nothing \
             was created and `{file}` was left as it was; to create a new stack, run \
             `{tsw} destroy {} --yes` (it clears [outputs]) and deploy again",
            env.name,
            env.name
        ),
        Err(e) if e.still_running().is_some() => anyhow::bail!(
            "{}: {e}\n  `{file}` was left as it was; run `{tsw} deploy {}` to wait for it and record the result",
            env.name,
            env.name
        ),
        Err(e) => anyhow::bail!(
            "{}: deploy failed; `{file}` was left as it was: {e}",
            env.name
        ),
    };
    let stack = outcome.stack();
    let name = env.single_stack("deploy")?;
    let action = match outcome {
        Outcome::Unchanged(_) => "unchanged",
        Outcome::Created(_) => "created",
        Outcome::Updated(_) => "updated",
    };
    match outcome {
        Outcome::Unchanged(_) => out.line(format_args!(
            "{}: no changes; stack `{name}` is up to date ({})",
            env.name, stack.status
        )),
        Outcome::Created(_) => {
            // Only the sandbox (or `--replace-failed`) gets here with a stack on record.
            if let Some(recorded) = env
                .outputs
                .as_ref()
                .and_then(|o| o.stack_id.as_deref())
                .filter(|id| *id != stack.stack_id)
            {
                out.line(format_args!(
                    "{}: stack `{name}` recorded in [outputs] of {file} no longer exists ({recorded}): created it anew",
                    env.name,
                ));
            }
            out.line(format_args!(
                "{}: created stack `{name}` ({})",
                env.name, stack.status
            ))
        }
        Outcome::Updated(_) => out.line(format_args!(
            "{}: updated stack `{name}` ({})",
            env.name, stack.status
        )),
    }
    for (key, value) in &stack.outputs {
        out.line(format_args!("  {key:<20} {value}"));
    }
    // Only what the stack reported: `registered` belongs to `register`, and the file is
    // merged into as it is now, so edits made while the deploy ran are kept.
    let recorded = StackOutputs {
        role_arn: cfn::role_arn(&stack.outputs)
            .with_context(|| format!("the stack has no `{}` output", cfn::ROLE_ARN_OUTPUT))?
            .to_owned(),
        stack_id: stack.stack_id.clone(),
        deployed_at: stack.updated_at.clone().unwrap_or_default(),
    };
    let wrote = Outputs::record_stack(&env.file, &recorded)?;
    if wrote {
        out.line(format_args!("recorded [outputs] in {file}"));
    }
    let restored = match &report.restored {
        Ok(lines) if lines.is_empty() => lines,
        Ok(lines) => {
            let role = cfn::role_arn(&stack.outputs).and_then(|a| a.rsplit('/').next());
            out.line(format_args!(
                "{}: restored role `{}` to what the template declares; it had been changed outside the tool:",
                env.name,
                role.unwrap_or_default()
            ));
            for line in lines {
                out.line(format_args!("  {line}"));
            }
            lines
        }
        Err(e) => anyhow::bail!("{}: the stack is deployed, but {e}", env.name),
    };
    Ok(serde_json::json!({
        "name": env.name,
        "file": file,
        "ok": true,
        "error": null,
        "stack_name": name.to_string(),
        "action": action,
        "stack_id": stack.stack_id,
        "status": stack.status.as_str(),
        "outputs": stack.outputs,
        "outputs_recorded": wrote,
        "role_restored": restored,
    }))
}

/// `deploy --register`: registers the versions of each environment that was deployed, printing
/// each failure. Returns how many failed. `scope`: how many environments the deploy names; with
/// several, an environment without `temporal.address` fails with the line saying why.
/// `shown` gets each environment's entry of `register --output json`, or its error.
fn register_deployed(
    layout: &Layout,
    deployed: &[String],
    scope: worker_deployments::Scope,
    out: OutputArgs,
    shown: &mut Vec<serde_json::Value>,
) -> Result<usize> {
    let mut failed = 0;
    for name in deployed {
        // Reloaded: the deploy just recorded the role ARN.
        let env = crate::envs::load_env(layout, name)?;
        let registered = crate::commands::register::register_env(layout, &env, scope, out)
            .and_then(|r| {
                shown.push(r.json.clone());
                r.ensure_ok(&env)
            });
        if let Err(e) = registered {
            failed += 1;
            crate::output::print_error(format_args!("{e:#}"));
            if shown
                .last()
                .is_none_or(|j| j["environment"] != env.name.as_str())
            {
                shown.push(serde_json::json!({
                    "environment": env.name,
                    "ok": false,
                    "error": format!("{e:#}"),
                }));
            }
        }
    }
    Ok(failed)
}

/// The exit code of a run over `total` environments of which `failed` failed.
fn exit_code(failed: usize, total: usize) -> ExitCode {
    if failed == 0 {
        return ExitCode::SUCCESS;
    }
    if total > 1 {
        safe_text::eprintln!("{failed} failure(s) across {total} environment(s)");
    }
    ExitCode::FAILURE
}
