//! The parts of `deploy` that need no AWS SDK: everything before its first AWS call, and the
//! registration that may follow it. `xtask-aws` runs the stack operations in between.

use std::process::ExitCode;

use anyhow::Result;
use env_descriptor::{EnvLock, Environment, Layout};
use env_render::Templates;

use crate::aws_args::DeployArgs;

/// The environments of one `deploy`, validated, rendered and claimed.
#[derive(Debug)]
pub struct Prepared {
    pub envs: Vec<Environment>,
    /// Each environment's stack parameters, template defaults included, in the order of `envs`.
    pub parameters: Vec<Vec<(String, String)>>,
    /// The CloudFormation template every stack is deployed from.
    pub template_body: String,
    /// Held until the deploy ends (see [`crate::claim::claim`]).
    pub locks: Vec<EnvLock>,
}

/// Validates every environment `args` names, refuses unconfirmed ones without a terminal
/// ([`ensure_confirmable`]), checks that no other descriptor deploys the same stacks, claims
/// them, then renders and writes their files: all before the first AWS call. `interactive`:
/// whether a person can answer the confirmation.
pub fn prepare(layout: &Layout, args: &DeployArgs, interactive: bool) -> Result<Prepared> {
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
        let rendered = crate::render::write(layout, &templates, env, &all)?;
        parameters.push(templates.cfn_template().with_defaults(&rendered.parameters));
    }
    Ok(Prepared {
        envs,
        parameters,
        template_body: templates.cfn_template().body.clone(),
        locks,
    })
}

/// Refuses to deploy an environment that asks for confirmation (`[deploy] confirm = true`, the
/// default) when nobody can answer and `--yes` was not given. Decided before anything is
/// rendered or any change set exists: the rule is known up front, and executing unasked is
/// exactly what `confirm` is there to prevent (a CI job must say `--yes`).
pub fn ensure_confirmable(
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

/// `deploy --register`: registers the versions of each environment that was deployed, printing
/// each failure. Returns how many failed. `scope`: how many environments the deploy names; with
/// several, an environment without `temporal.address` fails with the line saying why.
pub fn register_deployed(
    layout: &Layout,
    deployed: &[String],
    scope: worker_deployments::Scope,
) -> Result<usize> {
    let mut failed = 0;
    for name in deployed {
        // Reloaded: the deploy just recorded the role ARN.
        let env = crate::envs::load_env(layout, name)?;
        if let Err(e) = crate::register::register_env(layout, &env, scope) {
            failed += 1;
            safe_text::eprintln!("error: {e:#}");
        }
    }
    Ok(failed)
}

/// The exit code of a run over `total` environments of which `failed` failed.
pub fn exit_code(failed: usize, total: usize) -> ExitCode {
    if failed == 0 {
        return ExitCode::SUCCESS;
    }
    if total > 1 {
        safe_text::eprintln!("{failed} failure(s) across {total} environment(s)");
    }
    ExitCode::FAILURE
}
