use std::process::ExitCode;

use anyhow::{Context, Result};
use aws_sandbox::Sandbox;
use env_descriptor::{Environment, Layout, Outputs, WorkerDeployment};
use worker_deployments::{Action, Cli, Client, Frontend, Registration, Scope, Source};

use crate::output::OutputArgs;

/// Register the Worker Deployment Versions of an environment with their Lambda compute config.
#[derive(Debug, clap::Args)]
#[command(after_help = "\
Each `[[worker_deployments]]` entry becomes a Worker Deployment Version whose compute config is
AWS Lambda: the entry's function ARN, the role ARN recorded by `deploy` in [outputs], and
`role.external_id`. A version that exists gets its compute config updated, or `no changes` when
it has it already; an environment that lists none has nothing to register (a success, so that
CI can register every environment it deploys); versions of the same deployments that keep Lambda compute but are no longer
listed are named, with the command that retires them. The Temporal server checks the config
as it registers (it assumes the role with the external ID, calls GetFunction,
and makes sure the role refuses AssumeRole without the external ID); its refusals are shown with
what to fix. Uses the official `temporal` CLI (1.9+; TEMPORAL_CLI to choose one).

The frontend is `temporal.address`, else TEMPORAL_ADDRESS, else the Temporal CLI's profile
(TEMPORAL_PROFILE or `default`, in TEMPORAL_CONFIG_FILE or ~/.config/temporalio/temporal.toml);
no other TEMPORAL_* variable is passed on. TEMPORAL_ADDRESS and the profile serve a command that
names one environment only: `deploy --register` of several leaves out (and fails) each
environment without `temporal.address`.

  [temporal]
  address = \"temporal.staging.internal:7233\"
  # tls = true, tls_cert_path/tls_key_path/tls_ca_path/tls_server_name, api_key_env = \"TEMPORAL_API_KEY\"

  [[worker_deployments]]
  namespace = \"orders\"
  name = \"orders-worker\"
  build_id = \"2026-11-24.1\"
  lambda_function_arn = \"arn:aws:lambda:us-west-2:123456789012:function:worker-1\"
  # set_current = true   # make it the deployment's current version

Examples:
  cargo xtask register staging
  cargo xtask deploy local --register     deploy, then register
  cargo xtask register staging --output json")]
pub struct Args {
    /// The environment (environments/ENV.toml).
    env: String,
    #[command(flatten)]
    lock: crate::claim::LockArgs,
    #[command(flatten)]
    output: OutputArgs,
}

impl Args {
    pub fn run(self, layout: &Layout) -> Result<ExitCode> {
        let (env, _lock) = crate::claim::load_and_claim(layout, "register", &self.env, &self.lock)?;
        let registered = register_env(layout, &env, Scope::One, self.output)?;
        self.output.document("register", registered.json.clone());
        registered.ensure_ok(&env)?;
        Ok(ExitCode::SUCCESS)
    }
}

/// The frontend of `env`: `temporal.address`, else `TEMPORAL_ADDRESS`, else the Temporal CLI's
/// profile (see [`Frontend::resolve`]); the last two only for a command that names `env` alone
/// (`scope`).
pub fn frontend(layout: &Layout, env: &Environment, scope: Scope) -> Result<Frontend> {
    let file = crate::relative(layout, &env.file);
    Frontend::resolve(&env.temporal, &file, layout.root(), scope, |name| {
        std::env::var(name).ok()
    })
    .with_context(|| format!("{}: cannot connect to Temporal", env.name))
}

/// The Temporal CLI: TEMPORAL_CLI; else, for an environment with `[sandbox]` only, the
/// sandbox's pinned one once its digest proves the tool installed it (a program under the
/// checkout's `target/` may come from a pull request); else `temporal` on PATH.
fn cli(layout: &Layout, env: &Environment) -> Result<Cli> {
    let mut candidates = Vec::new();
    if env.starts_sandbox() && std::env::var_os("TEMPORAL_CLI").is_none() {
        let verified = Sandbox::new(&layout.cache_dir())
            .verified_cli()
            .with_context(|| format!("{}: the sandbox's Temporal CLI", env.name))?;
        candidates.extend(verified);
    }
    Ok(Cli::find(&candidates)?)
}

/// A client for `env`'s frontend through the Temporal CLI.
pub fn client(layout: &Layout, env: &Environment, scope: Scope) -> Result<Client> {
    let frontend = frontend(layout, env, scope)?;
    Ok(Client::new(cli(layout, env)?, frontend))
}

/// The frontend of `env`, answering: started first for the sandbox, checked for any other
/// environment whose frontend is on this machine ([`ensure_frontend_answers`]).
pub(crate) fn connect(layout: &Layout, env: &Environment, scope: Scope) -> Result<Client> {
    let frontend = frontend(layout, env, scope)?;
    if env.starts_sandbox() {
        crate::commands::sandbox::ensure_all(layout, env)?;
    } else {
        ensure_frontend_answers(layout, env, &frontend)?;
    }
    Ok(Client::new(cli(layout, env)?, frontend))
}

/// Registers every worker deployment of `env` and records them in [outputs]; for an
/// environment that lists none, says there is nothing to register. The caller holds
/// the environment's lock ([`crate::claim::claim`]). `scope`: how many environments the command
/// names (see [`Scope`]). `out`: in JSON, no line is printed on stdout (errors still go to
/// stderr); the caller prints [`Registered::json`]. Versions that failed are counted in the
/// result, not an error: see [`Registered::ensure_ok`].
pub fn register_env(
    layout: &Layout,
    env: &Environment,
    scope: Scope,
    out: OutputArgs,
) -> Result<Registered> {
    let file = crate::relative(layout, &env.file);
    if env.worker_deployments.is_empty() {
        // A success: a CI job registers every environment it deploys, also one that lists no
        // version yet (as `tsw init` writes it).
        out.line(format_args!(
            "{}: nothing to register: `{file}` lists no `[[worker_deployments]]`",
            env.name
        ));
        return Ok(Registered {
            failed: 0,
            json: serde_json::json!({
                "environment": env.name,
                "file": file,
                "ok": true,
                "worker_deployment_versions": [],
                "left_behind": [],
                "recorded": false,
            }),
        });
    }
    // Each version's role (for a StackSet, its function's account's) before any call: a
    // function of an account without a role registers nothing.
    let roles = env
        .worker_deployments
        .iter()
        .map(|wd| env.invocation_for(&wd.lambda_function_arn))
        .collect::<Result<Vec<_>, _>>()
        .with_context(|| format!("{}: nothing was registered", env.name))?;
    let client = connect(layout, env, scope)?;
    let mut registered = Vec::new();
    let mut failed = 0;
    let mut versions = Vec::new();
    for (wd, (role_arn, external_id)) in env.worker_deployments.iter().zip(&roles) {
        let reg = Registration {
            deployment: wd,
            role_arn: Some(role_arn),
            external_id,
        };
        // Each error is printed here, once: the command's own error only counts them.
        match client.register(&reg) {
            Ok(action) => {
                let verb = match action {
                    Action::Created => "created",
                    Action::Updated => "updated",
                    Action::Unchanged => "no changes to",
                };
                let current = if wd.set_current { ", current" } else { "" };
                out.line(format_args!(
                    "{}: {verb} Worker Deployment Version `{}` (aws-lambda {}{current})",
                    env.name,
                    wd.id(),
                    wd.lambda_function_arn
                ));
                let action = match action {
                    Action::Created => "created",
                    Action::Updated => "updated",
                    Action::Unchanged => "unchanged",
                };
                versions.push(version_json(wd, action, None));
                registered.push(wd.id());
            }
            Err(e) => {
                safe_text::eprintln!("{}: {e}", env.name);
                versions.push(version_json(wd, "failed", Some(e.to_string())));
                failed += 1;
            }
        }
    }
    let left = left_behind(&client, env, &file);
    for line in &left {
        safe_text::eprintln!("{}: {line}", env.name);
    }
    // In descriptor order: what succeeded now, and what the file records as registered (now,
    // not when this command started) and is still listed.
    let listed: Vec<String> = env.worker_deployments.iter().map(|w| w.id()).collect();
    let keep = |current: &[String]| {
        listed
            .into_iter()
            .filter(|id| registered.contains(id) || current.contains(id))
            .collect()
    };
    let recorded = Outputs::update_registered(&env.file, keep)?;
    if recorded {
        out.line(format_args!("recorded [outputs].registered in {file}"));
    }
    Ok(Registered {
        failed,
        json: serde_json::json!({
            "environment": env.name,
            "file": file,
            "ok": failed == 0,
            "worker_deployment_versions": versions,
            "left_behind": left,
            "recorded": recorded,
        }),
    })
}

/// What [`register_env`] did with one environment's versions.
#[derive(Debug)]
pub struct Registered {
    /// How many versions failed (each already printed to stderr).
    pub failed: usize,
    /// What each version ended as, as `register --output json` shows it.
    pub json: serde_json::Value,
}

impl Registered {
    /// Fails when any version failed, saying how many.
    pub fn ensure_ok(&self, env: &Environment) -> Result<()> {
        anyhow::ensure!(
            self.failed == 0,
            "{}: {} of {} versions failed to register (above)",
            env.name,
            self.failed,
            env.worker_deployments.len()
        );
        Ok(())
    }
}

/// One version in `register --output json`: what it ended as (`created`, `updated`,
/// `unchanged`, `failed`) and, when it failed, why.
fn version_json(wd: &WorkerDeployment, action: &str, error: Option<String>) -> serde_json::Value {
    serde_json::json!({
        "id": wd.id(),
        "lambda_function_arn": wd.lambda_function_arn.to_string(),
        "current": wd.set_current,
        "action": action,
        "error": error,
    })
}

/// The versions of `env`'s deployments that still hold Lambda compute but are no longer in the
/// descriptor, each with the command that retires it, or why they could not be listed. `doctor`
/// warns about the same versions.
fn left_behind(client: &Client, env: &Environment, file: &str) -> Vec<String> {
    client
        .left_behind(&env.worker_deployments)
        .into_iter()
        .map(|found| match found {
            Ok(version) => format!(
                "version `{}` still has aws-lambda compute but is not in {file}, so Temporal may still invoke its function; retire it with `{}`",
                version.id, version.retire
            ),
            Err(e) => format!("the versions no longer in {file} could not be listed: {e}"),
        })
        .collect()
}

/// The versions registered from `env` (the deployments of its `[[worker_deployments]]` and of
/// `[outputs].registered`) that hold Lambda compute through its recorded role, each with the
/// command that retires it: what deleting the stack would strand. Empty without a recorded
/// role or deployments; `Err(why)` when the server cannot be asked.
pub fn versions_holding_role(
    layout: &Layout,
    env: &Environment,
) -> Result<Vec<worker_deployments::LeftBehind>, String> {
    let (Some(outputs), Some(role)) = (
        &env.outputs,
        env.outputs.as_ref().and_then(|o| o.role_arn.as_deref()),
    ) else {
        return Ok(Vec::new());
    };
    let mut deployments: Vec<(String, String)> = env
        .worker_deployments
        .iter()
        .map(|wd| (wd.namespace.to_string(), wd.name.to_string()))
        .collect();
    deployments.extend(outputs.registered.iter().filter_map(|id| {
        let (namespace, rest) = id.as_ref().split_once('/')?;
        let (name, _) = rest.rsplit_once('@')?;
        Some((namespace.to_owned(), name.to_owned()))
    }));
    if deployments.is_empty() {
        return Ok(Vec::new());
    }
    let one_line = |e: &dyn std::fmt::Display| e.to_string().lines().collect::<Vec<_>>().join(" ");
    let client = client(layout, env, Scope::One).map_err(|e| one_line(&format!("{e:#}")))?;
    if let Some(why) = silent_frontend(layout, env, client.frontend()) {
        return Err(why);
    }
    client
        .holding_role(&deployments, role)
        .map_err(|e| one_line(&e))
}

/// A frontend on this machine that nothing answers at is an error naming it and where its
/// address came from: never a stand-in started in its place (that is the sandbox's, and only
/// with `[sandbox]`). A remote frontend is left to the CLI, which may reach it through a proxy.
pub(crate) fn ensure_frontend_answers(
    layout: &Layout,
    env: &Environment,
    frontend: &Frontend,
) -> Result<()> {
    match silent_frontend(layout, env, frontend) {
        Some(why) => anyhow::bail!(
            "{}: {why}: start the Temporal server there, or correct the address; nothing was registered",
            env.name
        ),
        None => Ok(()),
    }
}

/// `nothing answers at ADDRESS (where it came from)` for a frontend on this machine that nothing
/// listens at; `None` when something does, or the frontend is remote (only the CLI can tell).
pub(crate) fn silent_frontend(
    layout: &Layout,
    env: &Environment,
    frontend: &Frontend,
) -> Option<String> {
    let address = frontend.address.as_str();
    let (host, port) = local_endpoint::host_port(address)?;
    if !local_endpoint::is_local(address) || aws_sandbox::listening(&host, port) {
        return None;
    }
    let origin = match frontend.source {
        Source::Descriptor => format!("temporal.address of {}", crate::relative(layout, &env.file)),
        _ => frontend.origin(),
    };
    Some(format!("nothing answers at {address} ({origin})"))
}
