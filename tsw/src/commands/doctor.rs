//! `doctor`: checks every prerequisite of Serverless Workers for an environment and prints one
//! line per check with the fix for what fails. Reads what the checks need first (the dynamic
//! config the server reads, the Temporal client, the sample worker's failures), connects, runs
//! the checks ([`checks`]), and shows the report. A check never repairs what it checks.

mod checks;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Result;
use aws::stack_set::StackSetSpec;
use aws_sandbox::Sandbox;
use env_descriptor::{Environment, Layout};
use env_render::{DYNAMIC_CONFIG_FILE, ServerConfig, Templates};

use checks::{Inputs, Level};

use crate::output::Format;

/// Check every prerequisite of Serverless Workers for an environment.
#[derive(Debug, clap::Args)]
#[command(after_help = "\
One line per check, grouped by the steps of the self-hosted setup guide, each pass/warn/fail
with the fix for what fails:
  1  Lambda can reach the frontend: address, reachability, functions exist, VPC config
  2  the dynamic config the server reads enables WCI, aws-lambda and no-sync where needed
  3  these credentials are the server's identity (`temporal.server_role_arn`)
  4  the role stack matches [outputs]; the role IAM holds is as the template declares it
     (trust principal, sts:ExternalId, invoke actions and functions); for a [stack_set], the
     StackSet is as declared and recorded, and each account's instance CURRENT; each hop of
     `temporal.intermediary_roles` can be assumed, in order, as the server assumes it; then,
     from the last hop (or these credentials), for every invocation role: AssumeRole works with
     the external ID and is denied without it (proof only for a caller the trust policy names,
     else a warning), and through the role, GetFunction works for every function (for a
     StackSet, every account's role in [outputs.role_arns], one line each)
  5  the [[worker_deployments]] are registered with aws-lambda compute, and each version holds
     the function, role ([outputs].role_arn) and external ID the descriptor names, as the
     server recorded them, with the server's last validation of them; a task queue is bound
     to each; each function's timeout, TEMPORAL_* variables and qualifier
Exits non-zero when a check fails. Run it with the Temporal server's credentials to check step 3.

Examples:
  cargo xtask doctor local
  cargo xtask doctor staging --output json")]
pub struct DoctorArgs {
    /// The environment (environments/ENV.toml).
    pub env: String,
    #[command(flatten)]
    pub output: crate::output::OutputArgs,
}

pub fn run(args: DoctorArgs, layout: &Layout) -> Result<ExitCode> {
    let env = crate::envs::load_env(layout, &args.env)?;
    let stack_set = stack_set_spec(layout, &env)?;
    let emulator = env.aws.uses_emulator();
    if env.starts_sandbox() {
        // A check never repairs what it checks: services are started, functions left as they are.
        crate::commands::sandbox::ensure_services(layout, &env)?;
    }
    let dynamic_config = dynamic_config(layout, &env)?;
    let temporal = temporal_client(layout, &env);
    let worker_failures = worker_failures(layout, &env);
    let report = crate::connect::runtime()?.block_on(async {
        let clients = crate::connect::connect_for_doctor(layout, &env).await?;
        let inputs = Inputs {
            env: &env,
            clients: &clients,
            dynamic_config,
            emulator,
            temporal,
            worker_failures,
            stack_set,
        };
        anyhow::Ok(checks::run(&inputs).await)
    })?;
    match args.output.output {
        Format::Json => crate::output::print_document("doctor", report.to_json(&env.name)),
        Format::Text => {
            for c in &report.checks {
                let mark = match c.level {
                    Level::Pass => "pass",
                    Level::Warn => "WARN",
                    Level::Fail => "FAIL",
                };
                safe_text::println!("{mark}  step {}  {}: {}", c.step, c.name, c.detail);
                if let Some(fix) = &c.fix {
                    safe_text::println!("            fix: {fix}");
                }
            }
            let count = |l| report.checks.iter().filter(|c| c.level == l).count();
            safe_text::println!(
                "{}: {} passed, {} warnings, {} failed",
                env.name,
                count(Level::Pass),
                count(Level::Warn),
                count(Level::Fail)
            );
        }
    }
    Ok(if report.failed() {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

/// The dynamic config the server reads: the configured file (for Helm values, the mapping
/// under `server.dynamicConfig`), or the rendered one (rendered now when it was never
/// written). Returns where it comes from, in the user's terms, and its text, or why it could
/// not be read; fails only when the templates cannot be loaded.
pub fn dynamic_config(
    layout: &Layout,
    env: &Environment,
) -> anyhow::Result<(String, Result<String, String>)> {
    if let Some((kind, file)) = ServerConfig::of(env) {
        let source = match kind {
            ServerConfig::File => file.display().to_string(),
            ServerConfig::HelmValues => format!("server.dynamicConfig of {}", file.display()),
        };
        let text = layout
            .read(file)
            .map_err(|e| e.to_string())
            .and_then(|text| kind.dynamic_config(&text).map_err(|e| e.to_string()));
        return Ok((source, text));
    }
    let path = layout.rendered_dir(&env.name).join(DYNAMIC_CONFIG_FILE);
    let text = if path.exists() {
        layout.read(&path).map_err(|e| e.to_string())
    } else {
        Templates::load(layout)?
            .render(env)
            .map(|r| r.dynamic_config)
            .map_err(|e| e.to_string())
    };
    Ok((crate::relative(layout, &path), text))
}

/// The StackSet a `[stack_set]` environment declares, with its parameters as rendered (as
/// `plan` and `status` compare it); `None` for a single stack.
fn stack_set_spec(layout: &Layout, env: &Environment) -> Result<Option<StackSetSpec>> {
    if env.stack_set().is_none() {
        return Ok(None);
    }
    let templates = Templates::load(layout)?;
    let template = templates.cfn_template(env.role_naming());
    let wanted = template.with_defaults(&templates.render(env)?.parameters);
    Ok(crate::stack_sets::spec(env, &templates, &wanted))
}

/// The Temporal CLI client `doctor` checks registrations with, or why there is none.
pub fn temporal_client(
    layout: &Layout,
    env: &Environment,
) -> Result<worker_deployments::Client, String> {
    crate::commands::register::client(layout, env, worker_deployments::Scope::One)
        .map_err(|e| format!("{e:#}"))
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

#[cfg(test)]
mod tests {
    use std::path::Path;

    use env_descriptor::{Layout, load_str};

    const ENV: &str = "[aws]\nregion = \"us-east-1\"\n\n[temporal]\nserver_role_arn = \"arn:aws:iam::123456789012:role/t\"\nhelm_values = \"deploy/values.yaml\"\n\n[role]\nstack_name = \"s\"\nexternal_id = \"abcdef-12345\"\nlambda_function_arns = [\"arn:aws:lambda:us-east-1:123456789012:function:f\"]\n";

    /// With Helm, doctor checks what the chart gives the server: `server.dynamicConfig`.
    #[test]
    fn helm_values_are_read_under_server_dynamic_config() {
        let dir = tempfile::tempdir().unwrap();
        let layout = Layout::at(dir.path());
        let env = load_str(Path::new("environments/h.toml"), ENV).unwrap().env;
        std::fs::create_dir_all(dir.path().join("deploy")).unwrap();
        std::fs::write(
            dir.path().join("deploy/values.yaml"),
            "server:\n  image: {tag: 1.32.0}\n  dynamicConfig:\n    workercontroller.enabled:\n    - value: true\nweb: {}\n",
        )
        .unwrap();
        let (source, text) = super::dynamic_config(&layout, &env).unwrap();
        assert_eq!(source, "server.dynamicConfig of deploy/values.yaml");
        assert_eq!(text.unwrap(), "workercontroller.enabled:\n- value: true\n");

        std::fs::write(
            dir.path().join("deploy/values.yaml"),
            "server:\n  dynamicConfig: [1]\n",
        )
        .unwrap();
        let (_, text) = super::dynamic_config(&layout, &env).unwrap();
        assert!(text.unwrap_err().contains("must be a mapping of keys"));
    }
}
