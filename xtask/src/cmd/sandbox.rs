use std::process::ExitCode;

use anyhow::{Context, Result};
use aws_sandbox::{Sandbox, Status};
use env_descriptor::{Environment, Layout};

/// Manage the local AWS emulator (moto) that `local` deploys to.
#[derive(Debug, clap::Args)]
#[command(after_help = "\
The emulator is a pinned moto server installed into target/xtask/sandbox/ (Python 3 needed),
patched to behave like AWS where this tool depends on it (STS honours the role's external ID,
failed creations roll back, ...). It listens on the address of `aws.endpoint_url` in the
environment's descriptor (default environment: local). `deploy` starts it when needed.

Examples:
  cargo xtask sandbox up
  cargo xtask sandbox status
  cargo xtask sandbox down")]
pub struct Args {
    #[command(subcommand)]
    action: Action,
    /// The environment whose `aws.endpoint_url` the emulator serves.
    #[arg(long, global = true, default_value = "local")]
    env: String,
}

#[derive(Debug, clap::Subcommand)]
enum Action {
    /// Install (once) and start the emulator.
    Up,
    /// Stop the emulator started by `up`.
    Down,
    /// Show whether the emulator runs, where, and its log.
    Status,
}

/// The loopback host and port of an environment's `aws.endpoint_url`.
fn address(env: &Environment) -> Result<(String, u16)> {
    let url = env.aws.endpoint_url.as_deref().with_context(|| {
        format!(
            "environment `{}` has no `aws.endpoint_url`, so it does not use the local emulator",
            env.name
        )
    })?;
    let rest = url.strip_prefix("http://").with_context(|| {
        format!("`aws.endpoint_url` = `{url}`: the emulator serves plain http://")
    })?;
    let authority = rest.split('/').next().unwrap_or(rest);
    let (host, port) = authority
        .rsplit_once(':')
        .with_context(|| format!("`aws.endpoint_url` = `{url}` has no port"))?;
    let port = port
        .parse()
        .with_context(|| format!("`aws.endpoint_url` = `{url}` has an invalid port"))?;
    Ok((host.trim_matches(['[', ']']).to_owned(), port))
}

fn say(line: &str) {
    eprintln!("sandbox: {line}");
}

/// Starts the emulator for `env` unless something already answers on its address.
pub fn ensure_running(layout: &Layout, env: &Environment) -> Result<()> {
    let (host, port) = address(env)?;
    let sandbox = Sandbox::new(&layout.cache_dir());
    if let Status::Stopped = sandbox.status(&host, port) {
        sandbox.up(&host, port, &mut say)?;
    }
    Ok(())
}

impl Args {
    pub fn run(self, layout: &Layout) -> Result<ExitCode> {
        let env = super::load_env(layout, &self.env)?;
        let (host, port) = address(&env)?;
        let sandbox = Sandbox::new(&layout.cache_dir());
        match self.action {
            Action::Up => {
                let (pid, started) = sandbox.up(&host, port, &mut say)?;
                let verb = if started {
                    "started"
                } else {
                    "already running"
                };
                println!(
                    "AWS emulator {verb}: http://{host}:{port} (pid {pid}); stop it with `cargo xtask sandbox down`"
                );
            }
            Action::Down => match sandbox.down()? {
                Some(pid) => println!("stopped the AWS emulator (pid {pid})"),
                None => println!("the AWS emulator was not running"),
            },
            Action::Status => {
                let pins = aws_sandbox::REQUIREMENTS
                    .lines()
                    .filter(|l| !l.is_empty())
                    .collect::<Vec<_>>()
                    .join(", ");
                match sandbox.status(&host, port) {
                    Status::Running { pid, url } => {
                        println!("AWS emulator: running at {url} (pid {pid}; {pins})")
                    }
                    Status::Foreign { url } => println!(
                        "AWS emulator: something else answers at {url}; not started by this sandbox"
                    ),
                    Status::Stopped => {
                        println!("AWS emulator: stopped (would serve http://{host}:{port}; {pins})")
                    }
                }
                println!("log: {}", sandbox.log_file().display());
            }
        }
        Ok(ExitCode::SUCCESS)
    }
}
