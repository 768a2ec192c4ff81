//! Claiming environments before a command changes them: their locks, then a check that their
//! descriptors can be written, both before the first AWS or Temporal call.

use std::time::Duration;

use anyhow::{Context, Result};
use env_descriptor::{EnvLock, Environment, Layout};

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
            safe_text::eprintln!(
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
        layout.check_writable(&env.file).with_context(|| {
            format!(
                "{}: the result could not be recorded in `{}`, so nothing was changed",
                env.name,
                crate::relative(layout, &env.file)
            )
        })?;
    }
    Ok(locks)
}

/// Loads environment `name` and [`claim`]s it for `verb` (e.g. `destroy`).
pub fn load_and_claim(
    layout: &Layout,
    verb: &str,
    name: &str,
    lock: &LockArgs,
) -> Result<(Environment, Vec<EnvLock>)> {
    let env = crate::envs::load_env(layout, name)?;
    let locks = claim(layout, &[&env], &format!("{verb} {}", env.name), lock)?;
    Ok((env, locks))
}
