//! The flows of `cargo xtask` that need no AWS SDK, and every command's flags: both binaries
//! call this library, and neither calls the other. `xtask` parses the command line, runs the
//! [`cli::LocalCommand`]s itself, and hands the [`cli::AwsCommand`]s to `xtask-aws`, which
//! links the SDK; the split is a type, so a new command cannot be forgotten by either.
//!
//! Loading and validating ([`envs`]), rendering and writing ([`render`]), the local sandbox
//! ([`sandbox`]), claiming an environment before changing it ([`claim`]), registering Worker
//! Deployment Versions ([`register`]), running their smoke workflows ([`smoke`]), and the SDK-free parts of `deploy` and `doctor`
//! ([`deploy`], [`doctor`]) live here.

pub mod aws_args;
pub mod claim;
pub mod cli;
pub mod completions;
pub mod deploy;
pub mod doctor;
pub mod envs;
pub mod init;
pub mod plan;
pub mod register;
pub mod render;
pub mod sandbox;
pub mod smoke;
pub mod validate;

use std::path::Path;

use env_descriptor::Layout;

/// `path` relative to the checkout, as messages show it.
pub fn relative(layout: &Layout, path: &Path) -> String {
    path.strip_prefix(layout.root())
        .unwrap_or(path)
        .display()
        .to_string()
}

/// The exit code of a command, printing its error chain.
pub fn exit(result: anyhow::Result<std::process::ExitCode>) -> std::process::ExitCode {
    match result {
        Ok(code) => code,
        Err(err) => {
            safe_text::eprintln!("error: {err:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
