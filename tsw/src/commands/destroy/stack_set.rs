//! `destroy` of a StackSet environment, reading top to bottom: refuse while `[outputs]`
//! records registered versions (unless `--leave-versions`), confirm, refuse a StackSet of the
//! name that is not recognisably this environment's (unless `--adopt-stack`), delete every instance
//! (through the OUs or accounts, in every region they are in) with each instance's progress
//! shown, then the StackSet, then remove `[outputs]`. When an instance could not be deleted the
//! StackSet and `[outputs]` are kept, and the failure is named with its reason. Ctrl-C or
//! SIGTERM while the instances are deleted stops that operation (`interrupt.rs`).

use std::process::ExitCode;

use anyhow::Result;
use aws::stack_set::StackSetSpec;
use aws::{Deadline, Guard, Tracker};
use env_descriptor::{Environment, Layout, Outputs};

use super::DestroyArgs;
use crate::interrupt::{self, Signals, Stopped};
use crate::progress::StackSetProgress;
use crate::ui::{self, Progress};

pub(super) fn run(
    args: &DestroyArgs,
    layout: &Layout,
    env: &Environment,
    spec: &StackSetSpec,
) -> Result<ExitCode> {
    let tsw = crate::cli::name();
    let file = crate::relative(layout, &env.file);
    let name = &spec.name;
    let registered: Vec<String> = env
        .outputs
        .iter()
        .flat_map(|o| o.registered.iter().map(|r| format!("`{r}`")))
        .collect();
    if !registered.is_empty() && !args.leave_versions {
        anyhow::bail!(
            "{}: refusing to delete StackSet `{name}`: [outputs].registered of {file} records {}, whose Lambda compute Temporal invokes through the roles of its instances; retire them, or pass --leave-versions to delete the StackSet anyway; nothing was deleted",
            env.name,
            registered.join(", ")
        );
    }
    if !args.yes {
        if !ui::interactive() {
            anyhow::bail!(
                "refusing to delete StackSet `{name}` and every instance without confirmation: pass --yes"
            );
        }
        if !ui::ask_yes_no(
            None,
            &format!(
                "delete StackSet `{name}` and the role in every account of environment `{}`?",
                env.name
            ),
        ) {
            safe_text::eprintln!("nothing was deleted");
            return Ok(ExitCode::FAILURE);
        }
    }
    let tracker = Tracker::default();
    let deleted = crate::connect::runtime()?.block_on(async {
        let mut signals = Signals::listen()?;
        let destroy = async {
            let guard = Guard {
                deadline: Deadline::after(args.limits.timeout),
                tracker: &tracker,
            };
            let (clients, _) =
                crate::connect::connect_as(layout, env, Some(&guard.deadline)).await?;
            let sets = clients.stack_sets();
            // Only this environment's StackSet is deleted: checked before any write.
            if let Some(set) = sets.describe(&spec.name, spec.call_as).await? {
                crate::commands::deploy::owner(env, args.adopt_stack).check_stack_set(&set)?;
            }
            let mut progress = StackSetProgress(Progress::new(&env.name, false));
            let deleted = sets.destroy(spec, &guard, &mut progress).await;
            progress.0.finish();
            anyhow::Ok(deleted?)
        };
        anyhow::Ok(tokio::select! {
            deleted = destroy => Ok(deleted?),
            first = signals.next() => {
                let run = Stopped { env, tracker: &tracker, resume: "destroy" };
                Err(interrupt::clean_up(layout, first, &mut signals, &[run]).await)
            }
        })
    })?;
    let deleted = match deleted {
        Ok(deleted) => deleted,
        Err(code) => return Ok(code),
    };
    let out = args.output;
    let Some(done) = deleted else {
        out.line(format_args!(
            "{}: StackSet `{name}` did not exist",
            env.name
        ));
        let removed = Outputs::remove(&env.file)?;
        if removed {
            out.line(format_args!("removed [outputs] from {file}"));
        }
        return Ok(document(args, env, &file, name, false, removed));
    };
    if !done.succeeded() {
        let failed: Vec<String> = done
            .operations
            .iter()
            .flat_map(|o| o.failed_instances())
            .map(|r| {
                format!(
                    "    {} {}: {}",
                    crate::stack_sets::one_line(&r.account),
                    crate::stack_sets::one_line(&r.region),
                    crate::stack_sets::reason(r.reason.as_deref())
                )
            })
            .collect();
        anyhow::bail!(
            "{}: deleting the instances of StackSet `{name}` failed, so the StackSet and [outputs] of {file} were kept:\n{}\n  fix the cause in those accounts, then run `{tsw} destroy {} --yes` again",
            env.name,
            failed.join("\n"),
            env.name
        );
    }
    out.line(format_args!(
        "{}: deleted StackSet `{name}` and its instances",
        env.name
    ));
    let removed = Outputs::remove(&env.file)?;
    if removed {
        out.line(format_args!("removed [outputs] from {file}"));
    }
    Ok(document(args, env, &file, name, true, removed))
}

fn document(
    args: &DestroyArgs,
    env: &Environment,
    file: &str,
    name: &str,
    deleted: bool,
    removed: bool,
) -> ExitCode {
    args.output.document(
        "destroy",
        serde_json::json!({
            "environment": env.name,
            "file": file,
            "stack_set_name": name,
            "deleted": deleted,
            "outputs_removed": removed,
        }),
    );
    ExitCode::SUCCESS
}
