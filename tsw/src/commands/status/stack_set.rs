//! `status` of a StackSet environment, reading top to bottom: the StackSet and its instances
//! as AWS holds them; what a deploy would do (the descriptor's undeployed changes, outdated
//! instances, accounts of the targets without an instance); drift detection on every instance
//! (`DetectStackSetDrift`, watched as an operation: it changes no resource), whose drifted
//! instances, like INOPERABLE ones, were changed outside the tool; and the recorded
//! `[outputs]` against the instances that are CURRENT.

use anyhow::Result;
use aws::stack_set::{self, Instance, InstanceStatus, StackSetSpec};
use aws::{Deadline, Guard, Tracker};
use env_descriptor::{Environment, Layout};

use super::Verdict;
use crate::output::OutputArgs;
use crate::progress::StackSetProgress;
use crate::stack_sets::one_line;
use crate::ui::Progress;

/// How long drift detection may take.
const DRIFT_DETECTION: std::time::Duration = std::time::Duration::from_secs(600);

/// Compares `env`'s StackSet (`spec`) with what AWS holds, filling `verdict`; returns what
/// `status --output json` shows of it.
pub(super) fn compare(
    layout: &Layout,
    env: &Environment,
    spec: &StackSetSpec,
    verdict: &mut Verdict,
    out: OutputArgs,
) -> Result<serde_json::Value> {
    let tsw = crate::cli::name();
    let file = crate::relative(layout, &env.file);
    let name = &spec.name;
    crate::connect::runtime()?.block_on(async {
        let clients = crate::connect::connect(layout, env).await?;
        let sets = clients.stack_sets();
        let Some(live) = sets.describe(name, spec.call_as).await? else {
            out.line(format_args!("{}: StackSet `{name}` does not exist", env.name));
            match env.outputs.as_ref().and_then(|o| o.stack_set_id.as_deref()) {
                Some(id) => verdict.outside.push(format!(
                    "StackSet `{name}` ({id}) recorded in [outputs] of {file} was deleted outside this tool; `{tsw} destroy {} --yes` clears the record",
                    env.name
                )),
                None => verdict
                    .undeployed
                    .push(format!("StackSet `{name}` was never deployed")),
            }
            return Ok(serde_json::Value::Null);
        };
        // Someone else's StackSet of the name is read no further: drift detection would run an
        // operation on it.
        crate::commands::deploy::owner(env, false).check_stack_set(&live)?;
        out.line(format_args!(
            "{}: StackSet `{name}` ({}) is {}",
            env.name,
            one_line(&live.id),
            one_line(&live.status)
        ));
        let mut instances = sets.instances(name, spec.call_as).await?;
        // Drift detection first, so that each instance's drift status is this run's.
        if !instances.is_empty() {
            let tracker = Tracker::default();
            let guard = Guard {
                deadline: Deadline::after(DRIFT_DETECTION),
                tracker: &tracker,
            };
            let mut progress = StackSetProgress(Progress::new(&env.name, false));
            // An operation under way would refuse drift detection: it is waited for first.
            let settled = sets
                .settled(name, spec.call_as, &guard.deadline, &mut progress)
                .await;
            progress.0.step("detecting drift on every instance");
            let detected = match settled {
                Ok(_) => {
                    sets.detect_drift(name, spec.call_as, &guard.deadline, &mut progress)
                        .await
                }
                Err(e) => Err(e),
            };
            progress.0.finish();
            let detected = detected?;
            if !detected.succeeded() {
                verdict.outside.push(format!(
                    "drift detection ({}) ended {}{}",
                    detected.operation_id,
                    detected.status,
                    detected
                        .reason
                        .as_deref()
                        .map(|r| format!(": {}", crate::stack_sets::reason(Some(r))))
                        .unwrap_or_default()
                ));
            }
            instances = sets.instances(name, spec.call_as).await?;
        }
        let current = sets.current(spec).await?;
        let plan = stack_set::plan::plan(spec, &current);
        for i in &instances {
            out.line(format_args!("  {}", instance_line(i)));
        }
        if !stack_set::steps(&plan, &current).is_empty() {
            // What a deploy would do: the plan's lines that change something.
            verdict
                .undeployed
                .extend(crate::stack_sets::pending_changes(&plan));
        }
        for i in &instances {
            if i.status == InstanceStatus::Inoperable {
                verdict.outside.push(format!(
                    "instance {} {} is INOPERABLE (a deletion failed{}): its stack needs a hand in that account",
                    one_line(&i.account),
                    one_line(&i.region),
                    i.reason.as_deref().map(|r| format!(": {}", crate::stack_sets::reason(Some(r)))).unwrap_or_default()
                ));
            } else if i.detailed_status.as_deref() == Some("FAILED") {
                verdict.undeployed.push(format!(
                    "instance {} {} failed its last operation: {}",
                    one_line(&i.account),
                    one_line(&i.region),
                    crate::stack_sets::reason(i.reason.as_deref())
                ));
            }
            if i.drift.as_deref() == Some("DRIFTED") {
                verdict.outside.push(format!(
                    "instance {} {} drifted: its role was changed outside CloudFormation",
                    one_line(&i.account),
                    one_line(&i.region)
                ));
            }
        }
        compare_record(env, &file, &live.id, &instances, verdict, out)?;
        Ok(serde_json::json!({
            "id": live.id,
            "status": live.status,
            "instances": instances.iter().map(|i| serde_json::json!({
                "account": i.account,
                "region": i.region,
                "status": i.status.as_str(),
                "detailed_status": i.detailed_status,
                "reason": i.reason,
                "drift": i.drift,
            })).collect::<Vec<_>>(),
        }))
    })
}

fn instance_line(i: &Instance) -> String {
    format!(
        "{} {:<14} {:<10} {:<10} drift {}{}",
        one_line(&i.account),
        one_line(&i.region),
        i.status.as_str(),
        one_line(i.detailed_status.as_deref().unwrap_or("-")),
        one_line(i.drift.as_deref().unwrap_or("NOT_CHECKED")),
        i.reason
            .as_deref()
            .map(|r| format!("  {}", crate::stack_sets::reason(Some(r))))
            .unwrap_or_default()
    )
}

/// The recorded `[outputs]` against the StackSet and its CURRENT instances: a stale record is
/// fixed by a deploy.
fn compare_record(
    env: &Environment,
    file: &str,
    id: &str,
    instances: &[Instance],
    verdict: &mut Verdict,
    out: OutputArgs,
) -> Result<()> {
    let Some(recorded) = &env.outputs else {
        verdict
            .undeployed
            .push(format!("{file} has no [outputs] recorded for the StackSet"));
        return Ok(());
    };
    let drift = crate::stack_sets::record_drift(env, recorded, id, instances);
    if drift.is_empty() {
        out.line(format_args!(
            "recorded [outputs] in {file} match the StackSet"
        ));
    } else {
        out.line(format_args!(
            "recorded [outputs] in {file} do not match the StackSet"
        ));
        verdict.undeployed.extend(drift);
    }
    Ok(())
}
