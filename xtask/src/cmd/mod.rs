//! One module per subcommand; shared steps live here.

pub mod aws;
pub mod init;
pub mod register;
pub mod render;
pub mod sandbox;
pub mod validate;

use std::time::Duration;

use anyhow::{Context, Result};
use env_descriptor::{EnvLock, Environment, Layout, LoadError};

/// The environments named on the command line, or all of them when none is.
pub fn named_or_all(layout: &Layout, names: Vec<String>) -> Result<Vec<String>> {
    Ok(if names.is_empty() {
        layout.env_names()?
    } else {
        names
    })
}

/// Loads and validates `environments/NAME.toml`, printing its warnings.
pub fn load_env(layout: &Layout, name: &str) -> Result<Environment> {
    let path = layout.env_file(name)?;
    if !path.exists() {
        let known = layout.env_names().unwrap_or_default().join(", ");
        anyhow::bail!(
            "no environment `{name}`: `{}` does not exist (known: {}); `cargo xtask init {name}` writes one",
            path.display(),
            if known.is_empty() { "none" } else { &known }
        );
    }
    match env_descriptor::load(&path) {
        Ok(loaded) => {
            for w in &loaded.warnings {
                eprintln!("{w}");
            }
            Ok(loaded.env)
        }
        Err(e @ LoadError::Invalid(_)) => Err(anyhow::anyhow!("{e}")),
        Err(e) => Err(e.into()),
    }
}

/// Every descriptor of the checkout that is valid, loaded without printing its warnings: what
/// [`ensure_own_stacks`] compares with.
pub fn all_envs(layout: &Layout) -> Vec<Environment> {
    let names = layout.env_names().unwrap_or_default();
    names
        .iter()
        .filter_map(|name| layout.env_file(name).ok())
        .filter_map(|path| env_descriptor::load(&path).ok())
        .map(|loaded| loaded.env)
        .collect()
}

/// Refuses `envs` when another descriptor of `all` deploys one of their stacks, naming both.
pub fn ensure_own_stacks(envs: &[Environment], all: &[Environment]) -> Result<()> {
    let problems = env_descriptor::shared_stacks(envs, all);
    if problems.is_empty() {
        return Ok(());
    }
    Err(anyhow::anyhow!("{}", LoadError::Invalid(problems)))
}

/// `--lock-timeout`, for the commands that change an environment.
#[derive(Debug, Clone, clap::Args)]
pub struct LockArgs {
    /// When another command is changing the environment, wait up to DURATION (e.g. `30s`,
    /// `10m`) for it instead of refusing at once.
    #[arg(long, value_name = "DURATION", default_value = "0s", value_parser = humantime::parse_duration)]
    pub lock_timeout: Duration,
}

/// Makes `envs` this command's to change: takes the lock of each (in name order, so that two
/// commands waiting for each other's environments cannot deadlock), then checks that each
/// descriptor can be written. Both happen before the first AWS call, so that a command that
/// could not record its result changes nothing. The locks are held until dropped.
pub fn claim(
    layout: &Layout,
    envs: &[&Environment],
    command: &str,
    lock: &LockArgs,
) -> Result<Vec<EnvLock>> {
    let mut sorted = envs.to_vec();
    sorted.sort_by(|a, b| a.name.cmp(&b.name));
    let mut locks = Vec::with_capacity(sorted.len());
    for env in sorted {
        let mut say = |holder: &env_descriptor::Holder| {
            eprintln!(
                "waiting for `{}`: locked by {holder} (at most {})",
                env.name,
                humantime::format_duration(lock.lock_timeout)
            );
        };
        locks.push(EnvLock::acquire(
            layout,
            &env.name,
            command,
            lock.lock_timeout,
            &mut say,
        )?);
        env_descriptor::check_writable(&env.file).with_context(|| {
            format!(
                "{}: the result could not be recorded in `{}`, so nothing was changed",
                env.name,
                render::relative(layout, &env.file)
            )
        })?;
    }
    Ok(locks)
}

/// The exit code of a command, printing its error chain.
pub fn exit(result: Result<std::process::ExitCode>) -> std::process::ExitCode {
    match result {
        Ok(code) => code,
        Err(err) => {
            eprintln!("error: {err:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
