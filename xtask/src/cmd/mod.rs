//! One module per subcommand; shared steps live here.

pub mod deploy;
pub mod destroy;
pub mod doctor;
pub mod init;
pub mod register;
pub mod render;
pub mod sandbox;
pub mod status;
pub mod validate;
pub mod whoami;

use anyhow::{Context, Result};
use cfn_deploy::{Clients, Connection};
use env_descriptor::{Environment, Layout, LoadError};

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

/// The AWS connection an environment describes.
pub fn connection(env: &Environment) -> Connection {
    Connection {
        region: env.aws.region.clone(),
        profile: env.aws.profile.clone(),
        endpoint_url: env.aws.endpoint_url.clone(),
    }
}

/// A single-threaded runtime for the AWS calls; commands without AWS never build one.
pub fn runtime() -> Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")
}

/// Connects to AWS for `env`. When the environment points at an emulator on this machine that
/// is not running, the local sandbox is started on that address first.
pub async fn connect(layout: &Layout, env: &Environment) -> Result<Clients> {
    let conn = connection(env);
    if conn.is_loopback() {
        sandbox::ensure_aws(layout, env)?;
    }
    Ok(Clients::connect(&conn).await)
}
