//! `plan`: what `deploy` and `register` would change, per environment, executing nothing. The
//! stack's part is the very [`aws::Plan`] a deploy applies; its change set is discarded
//! at once (and on Ctrl-C, through the same [`Tracker`] a deploy uses).

use std::process::ExitCode;

use anyhow::Result;
use aws::Clients;
use aws::{Deadline, Guard, Plan, PlanAction, Tracker};
use env_descriptor::{Environment, Layout};
use env_render::{Templates, cfn};
use setup_flows::aws_args::{PLAN_CHANGES, PlanArgs, PlanOutput};

use plan_view::{AwsTarget, EnvPlan};

use crate::interrupt::{self, Signals, Stopped};
use crate::progress::StackProgress;
use crate::ui::Progress;

/// What one environment needs for its plan, found before any AWS call.
struct Local {
    env: Environment,
    parameters: Vec<(String, String)>,
    files: Vec<(String, String)>,
}

pub fn run(args: PlanArgs, layout: &Layout) -> Result<ExitCode> {
    let names = if args.all {
        setup_flows::envs::all_for(layout, "plan")?
    } else {
        args.envs.clone()
    };
    let templates = Templates::load(layout)?;
    let all = setup_flows::envs::all_envs(layout);
    let locals = names
        .iter()
        .map(|name| local_part(layout, &templates, &all, name))
        .collect::<Result<Vec<_>>>()?;
    let body = &templates.cfn_template().body;
    let trackers: Vec<Tracker> = locals.iter().map(|_| Tracker::default()).collect();
    let rt = crate::connect::runtime()?;
    let planned = rt.block_on(async {
        let mut signals = Signals::listen()?;
        let plans =
            async {
                let mut out = Vec::new();
                let scope = worker_deployments::Scope::of(args.all, locals.len());
                for (local, tracker) in locals.iter().zip(&trackers) {
                    let guard = Guard {
                        deadline: Deadline::after(args.timeout),
                        tracker,
                    };
                    let mut aws = AwsTarget {
                        account: local.env.account().map(|(account, _)| account),
                        region: local.env.aws.region.to_string(),
                        credentials: None,
                    };
                    let (stack, role_drift) =
                        match plan_stack(layout, local, body, args.adopt_stack, guard, &mut aws)
                            .await
                        {
                            Ok((plan, drift)) => (Ok(plan), drift),
                            Err(e) => (
                                Err(safe_text::bound_quotes(&format!("{e:#}")).into_owned()),
                                Vec::new(),
                            ),
                        };
                    let mut plan = env_plan(layout, local, stack, scope, aws);
                    plan.role_drift = role_drift;
                    out.push(plan);
                }
                out
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
    match args.output {
        PlanOutput::Text => safe_text::print!("{}", plan_view::text(&plans)),
        PlanOutput::Markdown => safe_text::print!("{}", plan_view::markdown(&plans)),
        PlanOutput::Json => safe_text::println!(
            "{}",
            safe_text::json(&format!("{:#}", plan_view::json(&plans)))
        ),
    }
    for p in &plans {
        if let Err(e) = &p.stack {
            safe_text::eprintln!("error: {}: {e}", p.env);
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
    let env = setup_flows::envs::load_env(layout, name)?;
    let (rendered, changes) = setup_flows::render::pending(layout, templates, &env, all)?;
    let files = changes
        .iter()
        .map(|c| {
            (
                setup_flows::relative(layout, &c.path),
                setup_flows::render::unified_diff(layout, c),
            )
        })
        .collect();
    Ok(Local {
        parameters: templates.cfn_template().with_defaults(&rendered.parameters),
        env,
        files,
    })
}

/// Plans the stack and discards the plan's change set, whatever happened in between; with the
/// role's drift from what the template declares for the deployed parameters (what `status`
/// reports as changed outside the tool, and `deploy` restores). `aws` gets the caller's account
/// and where its credentials came from.
async fn plan_stack(
    layout: &Layout,
    local: &Local,
    body: &str,
    adopt: bool,
    guard: Guard<'_>,
    aws: &mut AwsTarget,
) -> Result<(Plan, Vec<String>)> {
    let env = &local.env;
    let tags = crate::deploy::stack_tags(env);
    let spec = crate::deploy::stack_spec(env, body, &local.parameters, &tags, adopt);
    let (clients, caller): (Clients, _) =
        crate::connect::connect_as(layout, env, Some(&guard.deadline)).await?;
    if let Some(caller) = caller {
        aws.account = Some(caller.account);
    }
    aws.credentials = Some(clients.credentials.to_string());
    let mut progress = StackProgress(Progress::new(&env.name, false));
    let plan = clients.stacks.plan(&spec, guard, &mut progress).await?;
    clients.stacks.discard(&plan, guard, &mut progress).await?;
    progress.0.finish();
    let drift = match (&plan.action, &plan.current) {
        (PlanAction::NoChange | PlanAction::Update, Some(current)) => {
            crate::drift::role_drift(&clients, current).await?
        }
        _ => Vec::new(),
    };
    Ok((plan, drift))
}

fn env_plan(
    layout: &Layout,
    local: &Local,
    stack: Result<Plan, String>,
    scope: worker_deployments::Scope,
    aws: AwsTarget,
) -> EnvPlan {
    let compute_changes = stack.as_ref().is_ok_and(changes_compute);
    let role_arn = deployed_role_arn(&local.env, &stack);
    EnvPlan {
        env: local.env.name.clone(),
        file: setup_flows::relative(layout, &local.env.file),
        versions: setup_flows::plan::versions(layout, &local.env, role_arn, compute_changes, scope),
        files: local.files.clone(),
        stack,
        role_drift: Vec::new(),
        aws,
    }
}

/// The role ARN `register` would set after this plan is deployed: `[outputs].role_arn`, unless
/// the plan creates the stack or renames its role (then it is known after the deploy: the
/// account is not known before).
fn deployed_role_arn<'a>(env: &'a Environment, stack: &Result<Plan, String>) -> Option<&'a str> {
    let renames = stack.as_ref().is_ok_and(|plan| {
        matches!(plan.action, PlanAction::Create | PlanAction::Replace { .. })
            || plan
                .parameters
                .iter()
                .any(|p| p.key == cfn::ROLE_NAME_PARAMETER)
    });
    env.outputs
        .as_ref()
        .filter(|_| !renames)
        .map(|o| o.role_arn.as_str())
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
