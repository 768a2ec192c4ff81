//! Shared steps of the AWS commands.

use anyhow::{Context, Result};
use cfn_deploy::{Clients, Connection};
use env_descriptor::{Environment, Layout};

/// The AWS connection an environment describes.
pub fn connection(env: &Environment) -> Connection {
    Connection {
        region: env.aws.region.clone(),
        profile: env.aws.profile.clone(),
        endpoint_url: env.aws.endpoint_url.clone(),
        dummy_credentials: env.aws.uses_emulator(),
    }
}

/// A single-threaded runtime for the AWS calls.
pub fn runtime() -> Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")
}

/// Connects to AWS for `env`. When the environment points at an emulator on this machine that
/// is not running, the local sandbox is started on that address first.
pub async fn connect(layout: &Layout, env: &Environment) -> Result<Clients> {
    if env.aws.uses_emulator() {
        xtask::cmd::sandbox::ensure_aws(layout, env)?;
    }
    Ok(Clients::connect(&connection(env)).await)
}
