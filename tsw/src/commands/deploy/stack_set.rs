//! `deploy` of a StackSet environment (`[stack_set]`), reading top to bottom: connect, wait for
//! an operation already under way, read what AWS holds (the StackSet, its instances and their
//! overrides, the accounts the targets reach), plan as `plan` does and turn the plan into calls
//! (none: nothing to do, no operation), show the plan, confirm, run each call as an operation
//! with every instance's progress shown live, then ([`finish`]) report failed instances with
//! their reasons and record `[outputs]`: the StackSet's ID, and the role ARN of every account
//! whose instance is CURRENT.

use std::collections::BTreeMap;

use anyhow::Result;
use aws::stack_set::{self, Instance, InstanceStatus, SetDeploy, StackSetSpec, Step};
use aws::{DeployError, Guard};
use env_descriptor::{Environment, Layout, Outputs, StackSetOutputs};

use crate::output::OutputArgs;
use crate::progress::StackSetProgress;
use crate::stack_sets::one_line;

/// What one StackSet deploy did.
pub(super) struct Done {
    pub spec: StackSetSpec,
    /// What it set out to do; empty when all was as declared.
    pub steps: Vec<Step>,
    /// The operations it ran, each with how it ended.
    pub done: SetDeploy,
    /// The instances once it ended.
    pub instances: Vec<Instance>,
}

impl Done {
    /// Whether every operation succeeded and no instance failed.
    pub fn succeeded(&self) -> bool {
        self.done.succeeded()
    }
}

/// Deploys `spec`, the StackSet of `env`; an existing StackSet of the name is changed only when
/// it is recognisably `env`'s, or `adopt` (`--adopt-stack`). `ask`: confirm on the terminal first.
pub(super) async fn deploy(
    layout: &Layout,
    env: &Environment,
    spec: StackSetSpec,
    adopt: bool,
    guard: &Guard<'_>,
    progress: &mut StackSetProgress,
    ask: bool,
) -> Result<Done, DeployError> {
    let (clients, caller) = crate::connect::connect_as(layout, env, Some(&guard.deadline))
        .await
        .map_err(|e| DeployError::Aws {
            action: "connecting",
            code: None,
            message: format!("{e:#}"),
        })?;
    let account = caller.map_or(String::new(), |c| {
        format!("account {} ({}), ", c.account, c.arn)
    });
    progress.0.line(&format!(
        "{account}region {}, credentials: {}",
        env.aws.region, clients.credentials
    ));
    let sets = clients.stack_sets();
    // Only this environment's StackSet is changed, before anything else; then an operation
    // under way (an automatic deployment, an interrupted deploy): the plan is of what it leaves.
    if let Some(set) = sets.describe(&spec.name, spec.call_as).await? {
        crate::commands::deploy::owner(env, adopt).check_stack_set(&set)?;
        sets.settled(&spec.name, spec.call_as, &guard.deadline, progress)
            .await?;
    }
    let current = sets.current(&spec).await?;
    let plan = stack_set::plan::plan(&spec, &current);
    let steps = stack_set::steps(&plan, &current);
    if steps.is_empty() {
        let done = SetDeploy {
            stack_set_id: plan.id.unwrap_or_default(),
            operations: Vec::new(),
        };
        return Ok(Done {
            spec,
            steps,
            done,
            instances: current.instances,
        });
    }
    // The same lines `plan` prints for the StackSet.
    for line in crate::plan_view::stack_set_lines(&plan) {
        progress.0.line(&line);
    }
    if ask {
        let question = progress.0.confirmation("execute these changes?");
        let yes = tokio::task::spawn_blocking(question).await.unwrap_or(false);
        if !yes {
            return Err(DeployError::Declined {
                stack: format!("StackSet {}", spec.name),
            });
        }
    }
    let done = sets.apply(&spec, &steps, guard, progress).await?;
    let instances = sets.instances(&spec.name, spec.call_as).await?;
    Ok(Done {
        spec,
        steps,
        done,
        instances,
    })
}

/// Shows what the deploy of `env`'s StackSet did, records `[outputs]` (the StackSet's ID, when
/// it ran, and the role of every account whose instance is CURRENT), and fails naming each
/// failed instance with its reason when an operation failed or an instance did.
pub(super) fn finish(
    layout: &Layout,
    env: &Environment,
    done: &Done,
    out: OutputArgs,
) -> Result<serde_json::Value> {
    let file = crate::relative(layout, &env.file);
    let name = &done.spec.name;
    if done.steps.is_empty() {
        out.line(format_args!(
            "{}: no changes; StackSet `{name}` and its {} instance(s) are up to date",
            env.name,
            done.instances.len()
        ));
    }
    for op in &done.done.operations {
        out.line(format_args!(
            "{}: StackSet `{name}` {} operation {}: {}{}",
            env.name,
            one_line(&op.action),
            one_line(&op.operation_id),
            one_line(&op.status),
            op.reason
                .as_deref()
                .map(|r| format!(" ({})", crate::stack_sets::reason(Some(r))))
                .unwrap_or_default()
        ));
    }
    let failed: Vec<String> = done
        .done
        .operations
        .iter()
        .flat_map(|op| op.failed_instances())
        .map(|r| {
            format!(
                "{} {}: {}",
                one_line(&r.account),
                one_line(&r.region),
                crate::stack_sets::reason(r.reason.as_deref())
            )
        })
        .collect();
    let current: Vec<&Instance> = done
        .instances
        .iter()
        .filter(|i| i.status == InstanceStatus::Current && done.spec.regions.contains(&i.region))
        .collect();
    let mut role_arns = Vec::new();
    for i in &current {
        role_arns.push((
            i.account.clone(),
            crate::stack_sets::role_arn(env, &i.account),
        ));
    }
    role_arns.sort();
    role_arns.dedup();
    let not_current: Vec<String> = done
        .instances
        .iter()
        .filter(|i| i.status != InstanceStatus::Current)
        .map(|i| {
            format!(
                "{} {}: {}{}",
                one_line(&i.account),
                one_line(&i.region),
                i.status.as_str(),
                i.reason
                    .as_deref()
                    .map(|r| format!(" ({})", crate::stack_sets::reason(Some(r))))
                    .unwrap_or_default()
            )
        })
        .collect();
    for (account, arn) in &role_arns {
        out.line(format_args!("  {}  {}", one_line(account), one_line(arn)));
    }
    let recorded_at = env
        .outputs
        .as_ref()
        .map(|o| o.deployed_at.to_string())
        .filter(|_| done.done.operations.is_empty());
    let deployed_at = done
        .done
        .operations
        .iter()
        .rev()
        .find_map(|o| o.ended_at.clone())
        .or(recorded_at)
        .unwrap_or_else(|| {
            humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string()
        });
    let wrote = if done.done.stack_set_id.is_empty() {
        false
    } else {
        Outputs::record_stack_set(
            &env.file,
            &StackSetOutputs {
                stack_set_id: done.done.stack_set_id.clone(),
                role_arns: role_arns.clone(),
                deployed_at,
            },
        )?
    };
    if wrote {
        out.line(format_args!("recorded [outputs] in {file}"));
    }
    if !done.succeeded() {
        let mut why = format!(
            "{}: deploy of StackSet `{name}` failed; [outputs] of {file} records the {} account(s) whose instance is CURRENT",
            env.name,
            role_arns.len()
        );
        if !failed.is_empty() {
            why.push_str("\n  failed instances:");
            for f in &failed {
                why.push_str(&format!("\n    {f}"));
            }
        }
        if !not_current.is_empty() {
            why.push_str("\n  instances not CURRENT:");
            for f in &not_current {
                why.push_str(&format!("\n    {f}"));
            }
        }
        why.push_str(&format!(
            "\n  fix the cause in those accounts, then run `{} deploy {}` again",
            crate::cli::name(),
            env.name
        ));
        anyhow::bail!(why);
    }
    Ok(serde_json::json!({
        "name": env.name,
        "file": file,
        "ok": true,
        "error": null,
        "stack_set_name": name,
        "action": if done.steps.is_empty() { "unchanged" } else if done.steps.contains(&Step::CreateStackSet) { "created" } else { "updated" },
        "stack_set_id": done.done.stack_set_id,
        "operations": done.done.operations.iter().map(|o| serde_json::json!({
            "id": o.operation_id,
            "action": o.action,
            "status": o.status,
            "reason": o.reason,
            "instances": o.results.iter().map(|r| serde_json::json!({
                "account": r.account,
                "region": r.region,
                "status": r.status,
                "reason": r.reason,
            })).collect::<Vec<_>>(),
        })).collect::<Vec<_>>(),
        "role_arns": role_arns.iter().cloned().collect::<BTreeMap<String, String>>(),
        "outputs_recorded": wrote,
    }))
}
