//! The local AWS emulator: a pinned moto server, installed into a virtualenv under
//! `target/xtask/sandbox/` and run on 127.0.0.1 by `python/moto_launcher.py`, which patches moto
//! to behave like AWS where this tool depends on it (see that file's docstring).
//!
//! Every process started here goes through `child-process` (allow-listed environment), gets
//! `AWS_EC2_METADATA_DISABLED=true` and dummy keys, and listens on loopback only.

mod invocations;
mod lambda;
mod lock;
mod pinned_cli;
mod python;
mod server;

pub use invocations::{FailedInvocation, last_failed_invocation};
pub use lambda::{
    SAMPLE_TASK_QUEUE, SAMPLE_WORKER_TIMEOUT, SAMPLE_WORKFLOW, SampleWorker, deploy_sample_workers,
    seed_lambda_functions,
};
pub use pinned_cli::{TEMPORAL_BIN, Unverified};
pub use python::{PythonEnv, REQUIREMENTS, pins};
pub use server::{Owned, Sandbox, Service, Status, TemporalDev, listening};

/// Blocking calls of this crate (starting a service, [`listening`]'s probe) from async code.
pub use child_process::unblock;

#[derive(Debug, thiserror::Error)]
pub enum SandboxError {
    #[error(
        "Python 3 was not found (tried `{0}`); the local AWS emulator needs it: install python3 with its venv module, or set PYTHON to an interpreter"
    )]
    NoPython(String),
    #[error("{what} failed: {message}")]
    Command { what: String, message: String },
    #[error("`{}`: {source}", path.display())]
    Io {
        path: std::path::PathBuf,
        source: std::io::Error,
    },
    #[error(
        "`{0}` is not a loopback address; the sandbox only runs on 127.0.0.0/8, [::1] or localhost"
    )]
    NotLoopback(String),
    #[error(
        "port {port} on {host} is taken by another program (not this sandbox); stop it or choose another `aws.endpoint_url`"
    )]
    PortTaken { host: String, port: u16 },
    #[error(
        "the service could not listen on {host}:{port}: another program took the port while it started (its log: `{}`); start it again, or choose another port", log.display()
    )]
    PortLost {
        host: String,
        port: u16,
        log: std::path::PathBuf,
    },
    #[error("the emulator did not start within {secs} s; its log `{}` ends with:\n{tail}", log.display())]
    StartTimeout {
        secs: u64,
        log: std::path::PathBuf,
        tail: String,
    },
    #[error(transparent)]
    Unverified(#[from] Unverified),
}

/// `program` through the tool's one runner ([`child_process::Child`]: the allow-listed
/// variables only, none of the caller's AWS settings), with what every process of the sandbox
/// gets on top: no instance metadata, dummy keys, unbuffered Python output.
pub(crate) fn sandbox_child(program: impl AsRef<std::ffi::OsStr>) -> child_process::Child {
    child_process::Child::new(program).envs([
        ("AWS_EC2_METADATA_DISABLED", "true"),
        ("AWS_ACCESS_KEY_ID", "testing"),
        ("AWS_SECRET_ACCESS_KEY", "testing"),
        ("AWS_DEFAULT_REGION", "us-east-1"),
        ("PYTHONUNBUFFERED", "1"),
    ])
}
