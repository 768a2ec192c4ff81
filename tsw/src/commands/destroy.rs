use crate::cli::StackLimits;
use crate::interrupt::{self, Signals, Stopped};
use crate::progress::StackProgress;
use crate::ui::{self, Progress};
use anyhow::Result;
use aws::{Deadline, Guard, Tracker};
use env_descriptor::{Environment, Layout, Outputs};
use std::process::ExitCode;

mod stack_set;

/// Delete the stack and remove [outputs] from the descriptor.
#[derive(Debug, clap::Args)]
#[command(after_help = "\
Asks first on a terminal; elsewhere it needs --yes. Refuses, before asking, while Worker
Deployment Versions registered from the environment (its `[[worker_deployments]]` and
[outputs].registered) still hold Lambda compute through the stack's role, naming each with the
command that retires it: Temporal would go on invoking through a role that no longer exists.
--leave-versions deletes the stack anyway. For a [stack_set] environment: every instance, then the
StackSet (docs/stacksets.md).

Examples:
  cargo xtask destroy local --yes
  cargo xtask destroy staging
  cargo xtask destroy staging --yes --output json")]
pub struct DestroyArgs {
    /// The environment (environments/ENV.toml).
    pub env: String,
    /// Delete without asking.
    #[arg(long, short = 'y')]
    pub yes: bool,
    /// Delete the stack (or StackSet) even when it is not recognisably this tool's (no
    /// [outputs] record it, it lacks the tool's tag).
    #[arg(long)]
    pub adopt_stack: bool,

    /// Delete the stack even while Worker Deployment Versions registered from this environment
    /// hold Lambda compute through its role (or when the server cannot be asked).
    #[arg(long)]
    pub leave_versions: bool,
    #[command(flatten)]
    pub limits: StackLimits,
    #[command(flatten)]
    pub output: crate::output::OutputArgs,
}

pub fn run(args: DestroyArgs, layout: &Layout) -> Result<ExitCode> {
    let tsw = crate::cli::name();
    let (env, _lock) =
        crate::claim::load_and_claim(layout, "destroy", &args.env, &args.limits.lock)?;
    // A StackSet environment: every instance, then the StackSet (`destroy/stack_set.rs`).
    if env.stack_set().is_some() {
        let templates = env_render::Templates::load(layout)?;
        let template = templates.cfn_template(env.role_naming());
        let parameters = template.with_defaults(&templates.render(&env)?.parameters);
        if let Some(spec) = crate::stack_sets::spec(&env, &templates, &parameters) {
            return stack_set::run(&args, layout, &env, &spec);
        }
    }
    let stack = env.single_stack("destroy")?;
    let file = crate::relative(layout, &env.file);
    if !args.leave_versions {
        ensure_no_version_holds_the_role(layout, &env, &file)?;
    }
    if !args.yes {
        if !ui::interactive() {
            anyhow::bail!("refusing to delete stack `{stack}` without confirmation: pass --yes");
        }
        if !ui::ask_yes_no(
            None,
            &format!("delete stack `{stack}` of environment `{}`?", env.name),
        ) {
            safe_text::eprintln!("nothing was deleted");
            return Ok(ExitCode::FAILURE);
        }
    }
    let rt = crate::connect::runtime()?;
    let tracker = Tracker::default();
    let existed = rt.block_on(async {
        let mut signals = Signals::listen()?;
        let destroy = async {
            let guard = Guard {
                deadline: Deadline::after(args.limits.timeout),
                tracker: &tracker,
            };
            let (clients, _) =
                crate::connect::connect_as(layout, &env, Some(&guard.deadline)).await?;
            let mut progress = StackProgress(Progress::new(&env.name, false));
            let existed = clients
                .stacks
                .destroy(
                    stack,
                    env.deploy.cloudformation_role_arn.as_deref(),
                    &crate::commands::deploy::owner(&env, args.adopt_stack),
                    guard,
                    &mut progress,
                )
                .await;
            progress.0.finish();
            anyhow::Ok(existed?)
        };
        anyhow::Ok(tokio::select! {
            existed = destroy => Ok(existed?),
            first = signals.next() => {
                let run = Stopped { env: &env, tracker: &tracker, resume: "destroy" };
                Err(interrupt::clean_up(layout, first, &mut signals, &[run]).await)
            }
        })
    })?;
    let existed = match existed {
        Ok(existed) => existed,
        Err(code) => return Ok(code),
    };
    let out = args.output;
    if existed {
        out.line(format_args!("{}: deleted stack `{stack}`", env.name));
    } else {
        out.line(format_args!("{}: stack `{stack}` did not exist", env.name));
    }
    let registered: Vec<String> = env
        .outputs
        .iter()
        .flat_map(|o| o.registered.iter().map(|r| format!("`{r}`")))
        .collect();
    let removed = Outputs::remove(&env.file)?;
    if removed {
        out.line(format_args!("removed [outputs] from {file}"));
        if !registered.is_empty() {
            out.line(format_args!(
                "  with [outputs].registered: {}; `{tsw} doctor {}` names any version that still holds the deleted role",
                registered.join(", "),
                env.name
            ));
        }
    }
    out.document(
        "destroy",
        serde_json::json!({
            "environment": env.name,
            "file": file,
            "stack_name": stack.to_string(),
            "deleted": existed,
            "outputs_removed": removed,
            "registered": env.outputs.iter().flat_map(|o| o.registered.iter().map(|r| r.to_string())).collect::<Vec<_>>(),
        }),
    );
    Ok(ExitCode::SUCCESS)
}

/// Refuses, before anything is asked or deleted, while versions registered from `env` hold
/// Lambda compute through the stack's role: deleting it would leave Temporal invoking through
/// a role that no longer exists. When the server cannot be asked, refuses only if `[outputs]`
/// records registered versions.
fn ensure_no_version_holds_the_role(layout: &Layout, env: &Environment, file: &str) -> Result<()> {
    let stack = env.single_stack("destroy")?;
    let role = env
        .outputs
        .as_ref()
        .and_then(|o| o.role_arn.as_deref())
        .unwrap_or_default();
    let registered: Vec<String> = env
        .outputs
        .iter()
        .flat_map(|o| o.registered.iter().map(|r| format!("`{r}`")))
        .collect();
    match crate::commands::register::versions_holding_role(layout, env) {
        Ok(versions) if versions.is_empty() => Ok(()),
        Ok(versions) => {
            let list: Vec<String> = versions
                .iter()
                .map(|v| format!("  `{}`: retire it with `{}`", v.id, v.retire))
                .collect();
            anyhow::bail!(
                "{}: refusing to delete stack `{stack}`: these Worker Deployment Versions registered from {file} hold Lambda compute through its role `{role}`, and Temporal would go on invoking through a role that no longer exists:\n{}\nretire them first (a current version must stop being current first), or pass --leave-versions to delete the stack anyway; nothing was deleted",
                env.name,
                list.join("\n")
            )
        }
        Err(why) if !registered.is_empty() => anyhow::bail!(
            "{}: refusing to delete stack `{stack}`: [outputs].registered of {file} records {}, and the Temporal server could not be asked whether they still hold Lambda compute through its role ({why}); retire them, or pass --leave-versions to delete the stack anyway; nothing was deleted",
            env.name,
            registered.join(", ")
        ),
        Err(why) => {
            safe_text::eprintln!(
                "{}: did not check for Worker Deployment Versions holding the role: {why}",
                env.name
            );
            Ok(())
        }
    }
}
