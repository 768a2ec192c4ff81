use std::process::ExitCode;

use anyhow::{Context, Result};
use aws_sandbox::{SampleWorker, Sandbox, Service, Status, TemporalDev};
use env_descriptor::{Environment, Layout};
use env_render::{Templates, dynamic_config};

/// Manage the local sandbox: an AWS emulator (moto) and a Temporal dev server.
#[derive(Debug, clap::Args)]
#[command(after_help = "\
The sandbox runs, on 127.0.0.1 only, a pinned moto server (the AWS side; `aws.endpoint_url` of the
environment) and the Temporal CLI's dev server (Temporal Server 1.32; `temporal.address`), both
installed into target/xtask/sandbox/ (Python 3 needed). The emulator is patched to behave like AWS
where this tool depends on it (STS honours the role's external ID, failed creations roll back,
...). The dev server's AWS calls go to the emulator, and it gets the environment's rendered
dynamic config as --dynamic-config-value flags, which take no constraints: so `local` enables the
Worker Controller globally. `up` also creates the environment's Lambda functions in the emulator.
For an environment with a `[sandbox]` table (`local`), `deploy` starts the emulator when needed and
`register` and `doctor` start both; for any other, a service that is down is an error.

Examples:
  cargo xtask sandbox up
  cargo xtask sandbox status
  cargo xtask sandbox status --output json
  cargo xtask sandbox down")]
pub struct Args {
    #[command(subcommand)]
    action: Action,
    /// The environment the sandbox serves.
    #[arg(long, global = true, default_value = "local")]
    env: String,
}

#[derive(Debug, clap::Subcommand)]
enum Action {
    /// Install (once) and start the emulator and the Temporal dev server.
    Up,
    /// Stop what `up` started.
    Down,
    /// Show both services, their addresses and versions.
    Status {
        #[command(flatten)]
        output: crate::output::OutputArgs,
    },
}

/// The host (normalised: `127.1` is `127.0.0.1`) and port of a URL or `host:port` address.
fn host_port(what: &str, endpoint: &str) -> Result<(String, u16)> {
    local_endpoint::host_port(endpoint)
        .with_context(|| format!("{what} `{endpoint}` has no host and port"))
}

/// The emulator's host and port: `aws.endpoint_url`.
fn aws_address(env: &Environment) -> Result<(String, u16)> {
    let url = env.aws.endpoint_url.as_deref().with_context(|| {
        format!(
            "environment `{}` has no `aws.endpoint_url`, so it does not use the local sandbox",
            env.name
        )
    })?;
    anyhow::ensure!(
        url.starts_with("http://"),
        "`aws.endpoint_url` = `{url}`: the emulator serves plain http://"
    );
    host_port("`aws.endpoint_url`", url)
}

/// The dev server's settings for `env`.
fn temporal_dev(layout: &Layout, env: &Environment) -> Result<TemporalDev> {
    let address = env
        .temporal
        .address
        .as_deref()
        .with_context(|| format!("environment `{}` has no `temporal.address`", env.name))?;
    let (host, port) = host_port("`temporal.address`", address)?;
    let rendered = Templates::load(layout)?.render(env)?;
    let dynamic_config =
        dynamic_config::dev_server_values(&rendered.dynamic_config).map_err(|e| {
            anyhow::anyhow!(
                "environment `{}` cannot run on the dev server: {e}",
                env.name
            )
        })?;
    let mut namespaces: Vec<String> = env
        .worker_deployments
        .iter()
        .map(|w| w.namespace.to_string())
        .filter(|n| n != "default")
        .collect();
    namespaces.sort();
    namespaces.dedup();
    Ok(TemporalDev {
        host,
        port,
        namespaces,
        dynamic_config,
        aws_endpoint: env
            .aws
            .endpoint_url
            .as_ref()
            .map(|u| u.to_string())
            .unwrap_or_default(),
        aws_region: env.aws.region.to_string(),
    })
}

fn say(line: &str) {
    safe_text::eprintln!("sandbox: {line}");
}

/// Starts the emulator for `env` unless something already answers on its address.
pub fn ensure_aws(layout: &Layout, env: &Environment) -> Result<()> {
    let (host, port) = aws_address(env)?;
    let sandbox = Sandbox::new(&layout.cache_dir());
    if let Status::Stopped = sandbox.status(Service::Aws, &host, port) {
        sandbox.up_aws(&host, port, &mut say)?;
    }
    Ok(())
}

/// Starts everything `env` needs locally: the emulator, its Lambda functions, and the Temporal
/// dev server when `temporal.address` is on this machine and nothing answers there. For
/// `register`, which stands in for the user's own function deploys.
pub fn ensure_all(layout: &Layout, env: &Environment) -> Result<()> {
    ensure_aws(layout, env)?;
    let sandbox = Sandbox::new(&layout.cache_dir());
    let (host, port) = aws_address(env)?;
    // Only the sandbox's own emulator gets stand-ins for the functions.
    if let Status::Running { .. } = sandbox.status(Service::Aws, &host, port) {
        seed_functions(&sandbox, env)?;
    }
    let dev = temporal_dev(layout, env)?;
    if !aws_sandbox::listening(&dev.host, dev.port)
        || matches!(
            sandbox.status(Service::Temporal, &dev.host, dev.port),
            Status::Running { .. }
        )
    {
        sandbox.up_temporal(&dev, &mut say)?;
    }
    Ok(())
}

/// Starts the emulator and the Temporal dev server of `env` when nothing answers at their
/// addresses, and changes nothing in what runs: for `doctor`, which reports the functions and
/// the dev server as they are (never deploys the sample worker, never restarts a dev server
/// with other settings).
pub fn ensure_services(layout: &Layout, env: &Environment) -> Result<()> {
    ensure_aws(layout, env)?;
    let dev = temporal_dev(layout, env)?;
    if !aws_sandbox::listening(&dev.host, dev.port) {
        Sandbox::new(&layout.cache_dir()).up_temporal(&dev, &mut say)?;
    }
    Ok(())
}

/// Creates the environment's Lambda functions in the emulator, so that the Temporal server finds
/// and runs them as it would the real ones: each `[[worker_deployments]]` function runs the
/// sample worker as that version, any other function of the role a stub handler.
fn seed_functions(sandbox: &Sandbox, env: &Environment) -> Result<()> {
    let python = sandbox.python_env(&mut say)?;
    let endpoint = env.aws.endpoint_url.as_deref().unwrap_or_default();
    let frontend = env.temporal.address.as_deref().unwrap_or_default();
    let workers: Vec<SampleWorker> = env
        .worker_deployments
        .iter()
        .map(|w| {
            SampleWorker::for_version(
                &w.lambda_function_arn,
                frontend,
                &w.namespace,
                &w.name,
                &w.build_id,
            )
        })
        .collect();
    let stubs: Vec<&str> = env
        .role
        .lambda_function_arns
        .iter()
        .map(|a| a.as_str())
        .filter(|a| !a.contains('*') && !workers.iter().any(|w| w.function_arn == *a))
        .collect();
    aws_sandbox::seed_lambda_functions(&python, endpoint, &env.aws.region, &stubs)?;
    for line in aws_sandbox::deploy_sample_workers(&python, endpoint, &env.aws.region, &workers)? {
        say(&line);
    }
    Ok(())
}

impl Args {
    pub fn run(self, layout: &Layout) -> Result<ExitCode> {
        let tsw = crate::cli::name();
        let env = crate::envs::load_env(layout, &self.env)?;
        let (host, port) = aws_address(&env)?;
        let sandbox = Sandbox::new(&layout.cache_dir());
        match self.action {
            Action::Up => {
                let (pid, started) = sandbox.up_aws(&host, port, &mut say)?;
                safe_text::println!(
                    "aws       http://{host}:{port}  pid {pid}{}",
                    if started { "" } else { " (already running)" }
                );
                seed_functions(&sandbox, &env)?;
                if env.temporal.namespaces.is_some() {
                    say(
                        "note: the dev server takes no constraints, so this environment must enable WCI globally",
                    );
                }
                let dev = temporal_dev(layout, &env)?;
                let (pid, started) = sandbox.up_temporal(&dev, &mut say)?;
                safe_text::println!(
                    "temporal  {}:{}  pid {pid}{}",
                    dev.host,
                    dev.port,
                    if started { "" } else { " (already running)" }
                );
                safe_text::println!("WCI enabled globally on the dev server with:");
                for (key, json) in &dev.dynamic_config {
                    safe_text::println!("  {key}={json}");
                }
                safe_text::println!("stop with `{tsw} sandbox down`");
            }
            Action::Down => {
                let stopped = sandbox.down();
                if stopped.is_empty() {
                    safe_text::println!("the sandbox was not running");
                }
                for (service, pid) in stopped {
                    safe_text::println!("stopped {} (pid {pid})", service.name());
                }
            }
            Action::Status { output: out } => {
                let pins = aws_sandbox::pins(aws_sandbox::REQUIREMENTS).join(", ");
                let mut rows = vec![(
                    Service::Aws,
                    format!("http://{host}:{port}"),
                    sandbox.status(Service::Aws, &host, port),
                )];
                if let Some(address) = &env.temporal.address {
                    let (h, p) = host_port("`temporal.address`", address)?;
                    rows.push((
                        Service::Temporal,
                        address.to_string(),
                        sandbox.status(Service::Temporal, &h, p),
                    ));
                }
                let mut services = Vec::new();
                for (service, address, status) in rows {
                    let (state, pid) = match status {
                        Status::Running { pid } => (format!("running (pid {pid})"), Some(pid)),
                        Status::Foreign => ("something else answers there".to_owned(), None),
                        Status::Stopped => ("stopped".to_owned(), None),
                    };
                    let log = sandbox.log_file(service).display().to_string();
                    out.line(format_args!(
                        "{:<9} {address:<24} {state:<22} log: {log}",
                        service.name()
                    ));
                    let state = match status {
                        Status::Running { .. } => "running",
                        Status::Foreign => "foreign",
                        Status::Stopped => "stopped",
                    };
                    services.push(serde_json::json!({
                        "service": service.name(),
                        "address": address,
                        "state": state,
                        "pid": pid,
                        "log": log,
                    }));
                }
                out.line(format_args!("versions: {pins}"));
                let cli = sandbox.verified_cli().ok().flatten().and_then(|t| {
                    worker_deployments::child::run(
                        &t,
                        &["--version"],
                        &[],
                        worker_deployments::VERSION_DEADLINE,
                    )
                    .ok()
                });
                let cli = cli.map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned());
                if let Some(cli) = &cli {
                    out.line(format_args!("          {cli}"));
                }
                out.document(
                    "sandbox status",
                    serde_json::json!({
                        "environment": env.name,
                        "services": services,
                        "pins": aws_sandbox::pins(aws_sandbox::REQUIREMENTS),
                        "temporal_cli": cli,
                    }),
                );
            }
        }
        Ok(ExitCode::SUCCESS)
    }
}
