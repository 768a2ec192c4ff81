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

/// Validates every environment `args` names, checks that no other descriptor deploys the same
/// stacks, claims them, then renders and writes their files: all before the first AWS call.
pub fn prepare(layout: &Layout, args: &DeployArgs) -> Result<Prepared> {
    let names = if args.all {
        layout.env_names()?
    } else {
        args.envs.clone()
    };
    let envs: Vec<Environment> = names
        .iter()
        .map(|n| crate::envs::load_env(layout, n))
        .collect::<Result<_>>()?;
    crate::envs::ensure_own_stacks(&envs, &crate::envs::all_envs(layout))?;
    let command = format!("deploy {}", names.join(" "));
    let locks = crate::claim::claim(
        layout,
        &envs.iter().collect::<Vec<_>>(),
        &command,
        &args.limits.lock,
    )?;
    let templates = Templates::load(&layout.templates_dir())?;
    let mut parameters = Vec::new();
    for env in &envs {
        let rendered = crate::render::write(layout, &templates, env)?;
        parameters.push(templates.cfn_template().with_defaults(&rendered.parameters));
    }
    Ok(Prepared {
        envs,
        parameters,
        template_body: templates.cfn_template().body.clone(),
        locks,
    })
}

/// `deploy --register`: registers the versions of each environment that was deployed, printing
/// each failure. Returns how many failed.
pub fn register_deployed(layout: &Layout, deployed: &[String]) -> Result<usize> {
    let mut failed = 0;
    for name in deployed {
        // Reloaded: the deploy just recorded the role ARN.
        let env = crate::envs::load_env(layout, name)?;
        if let Err(e) = crate::register::register_env(layout, &env) {
            failed += 1;
            eprintln!("error: {e:#}");
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
        eprintln!("{failed} failure(s) across {total} environment(s)");
    }
    ExitCode::FAILURE
}
