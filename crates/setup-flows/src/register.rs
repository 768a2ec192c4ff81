use std::process::ExitCode;

use anyhow::{Context, Result};
use aws_sandbox::Sandbox;
use env_descriptor::{Environment, Layout, Outputs};
use worker_deployments::{Action, Cli, Client, Frontend, Registration};

/// Register the Worker Deployment Versions of an environment with their Lambda compute config.
#[derive(Debug, clap::Args)]
#[command(after_help = "\
Each `[[worker_deployments]]` entry becomes a Worker Deployment Version whose compute config is
AWS Lambda: the entry's function ARN, the role ARN recorded by `deploy` in [outputs], and
`role.external_id`. A version that exists gets its compute config updated. The Temporal server
checks the config as it registers (it assumes the role with the external ID, calls GetFunction,
and makes sure the role refuses AssumeRole without the external ID); its refusals are shown with
what to fix. Uses the official `temporal` CLI (1.9+; TEMPORAL_CLI to choose one).

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
  cargo xtask deploy local --register     deploy, then register")]
pub struct Args {
    /// The environment (environments/ENV.toml).
    env: String,
    #[command(flatten)]
    lock: crate::claim::LockArgs,
}

impl Args {
    pub fn run(self, layout: &Layout) -> Result<ExitCode> {
        let (env, _lock) = crate::claim::load_and_claim(layout, "register", &self.env, &self.lock)?;
        register_env(layout, &env)?;
        Ok(ExitCode::SUCCESS)
    }
}

/// The Temporal CLI: TEMPORAL_CLI, the sandbox's pinned one, or `temporal` on PATH.
pub fn client(layout: &Layout, env: &Environment) -> Result<Client> {
    let address = env
        .temporal
        .address
        .as_ref()
        .map(|a| a.to_string())
        .with_context(|| format!("`temporal.address` is missing in {}", env.file.display()))?;
    let sandbox_cli = Sandbox::new(&layout.cache_dir()).installed_tool("temporal");
    let cli = Cli::find(&sandbox_cli.into_iter().collect::<Vec<_>>())?;
    let frontend = Frontend {
        address,
        tls: env.temporal.tls(),
        api_key_env: env.temporal.api_key_env.as_ref().map(|v| v.to_string()),
        root: layout.root().to_owned(),
    };
    Ok(Client::new(cli, frontend)?)
}

/// Registers every worker deployment of `env` and records them in [outputs]. The caller holds
/// the environment's lock ([`crate::claim::claim`]).
pub fn register_env(layout: &Layout, env: &Environment) -> Result<()> {
    let file = crate::relative(layout, &env.file);
    anyhow::ensure!(
        !env.worker_deployments.is_empty(),
        "{}: `{file}` lists no `[[worker_deployments]]` to register",
        env.name
    );
    let outputs = env.outputs.as_ref().with_context(|| {
        format!(
            "{}: `{file}` has no [outputs].role_arn yet: run `cargo xtask deploy {}` first",
            env.name, env.name
        )
    })?;
    if env.starts_sandbox() {
        crate::sandbox::ensure_all(layout, env)?;
    } else {
        ensure_frontend_answers(env, &file)?;
    }
    let client = client(layout, env)?;
    let mut registered = Vec::new();
    let mut first_error = None;
    for wd in &env.worker_deployments {
        let reg = Registration {
            deployment: wd,
            role_arn: &outputs.role_arn,
            external_id: &env.role.external_id,
        };
        match client.register(&reg) {
            Ok(action) => {
                let verb = match action {
                    Action::Created => "created",
                    Action::Updated => "updated",
                };
                let current = if wd.set_current { ", now current" } else { "" };
                println!(
                    "{}: {verb} Worker Deployment Version `{}` (aws-lambda {}{current})",
                    env.name,
                    wd.id(),
                    wd.lambda_function_arn
                );
                registered.push(wd.id());
            }
            Err(e) => {
                eprintln!("{}: {e}", env.name);
                first_error.get_or_insert(e);
            }
        }
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
    if Outputs::update_registered(&env.file, keep)? {
        println!("recorded [outputs].registered in {file}");
    }
    match first_error {
        Some(e) => Err(anyhow::Error::new(e).context(format!("{}: registration failed", env.name))),
        None => Ok(()),
    }
}

/// A frontend on this machine that nothing answers at is an error naming it: never a stand-in
/// started in its place (that is the sandbox's, and only with `[sandbox]`). A remote frontend
/// is left to the CLI, which may reach it through a proxy.
pub(crate) fn ensure_frontend_answers(env: &Environment, file: &str) -> Result<()> {
    let Some(address) = env.temporal.address.as_deref() else {
        return Ok(());
    };
    let Some((host, port)) = local_endpoint::host_port(address) else {
        return Ok(());
    };
    anyhow::ensure!(
        !local_endpoint::is_local(address) || aws_sandbox::listening(&host, port),
        "{}: nothing answers at {address} (temporal.address of {file}): start the Temporal server there, or correct the address; nothing was registered",
        env.name
    );
    Ok(())
}
