//! One module per subcommand; shared steps live here.

pub mod aws;
pub mod init;
pub mod register;
pub mod render;
pub mod sandbox;
pub mod validate;

use anyhow::Result;
use env_descriptor::{Environment, Layout, LoadError};

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
