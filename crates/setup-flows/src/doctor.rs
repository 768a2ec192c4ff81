//! What `doctor` reads before its checks, none of which needs the AWS SDK.

use std::collections::BTreeMap;
use std::path::PathBuf;

use aws_sandbox::Sandbox;
use env_descriptor::{Environment, Layout};
use env_render::{DYNAMIC_CONFIG_FILE, Templates};

/// The dynamic config the server reads: the configured file, or the rendered one (rendered
/// now when it was never written). Returns where it comes from, in the user's terms, and its
/// text, or why it could not be read; fails only when the templates cannot be loaded.
pub fn dynamic_config(
    layout: &Layout,
    env: &Environment,
) -> anyhow::Result<(String, Result<String, String>)> {
    let (source, path) = match &env.temporal.dynamic_config_file {
        Some(f) => (f.to_string(), layout.root().join(f)),
        None => {
            let path = layout.rendered_dir(&env.name).join(DYNAMIC_CONFIG_FILE);
            (crate::relative(layout, &path), path)
        }
    };
    let text = if env.temporal.dynamic_config_file.is_none() && !path.exists() {
        Templates::load(&layout.templates_dir())?
            .render(env)
            .map(|r| r.dynamic_config)
            .map_err(|e| e.to_string())
    } else {
        std::fs::read_to_string(&path).map_err(|e| e.to_string())
    };
    Ok((source, text))
}

/// The Temporal CLI client `doctor` checks registrations with, or why there is none.
pub fn temporal_client(
    layout: &Layout,
    env: &Environment,
) -> Result<worker_deployments::Client, String> {
    crate::register::client(layout, env).map_err(|e| format!("{e:#}"))
}

/// Why each `[[worker_deployments]]` function's last invocation failed, by its ARN, where this
/// machine can see it: an environment on an emulator whose invocation log the sandbox keeps
/// (`target/xtask/sandbox/lambda-PORT/invocations.jsonl`). A version whose task queue is never
/// bound failed in its worker; quoting the worker's own error saves digging through that log.
/// Empty elsewhere (real Lambda logs to CloudWatch, which `doctor` does not read).
pub fn worker_failures(layout: &Layout, env: &Environment) -> BTreeMap<String, String> {
    let Some(log) = sandbox_invocation_log(layout, env) else {
        return BTreeMap::new();
    };
    env.worker_deployments
        .iter()
        .filter_map(|wd| {
            let arn = env_descriptor::arn::check_lambda_arn(&wd.lambda_function_arn, None).ok()?;
            let failed = aws_sandbox::last_failed_invocation(&log, arn.function)?;
            let quote = format!(
                "{} (request {}, output in {})",
                failed.error, failed.request_id, failed.output
            );
            Some((wd.lambda_function_arn.to_string(), quote))
        })
        .collect()
}

/// The sandbox's invocation log of the emulator at `aws.endpoint_url`, when it is one.
fn sandbox_invocation_log(layout: &Layout, env: &Environment) -> Option<PathBuf> {
    if !env.aws.uses_emulator() {
        return None;
    }
    let (_, port) = local_endpoint::host_port(env.aws.endpoint_url.as_deref()?)?;
    let log = Sandbox::new(&layout.cache_dir()).invocation_log(port);
    log.exists().then_some(log)
}
