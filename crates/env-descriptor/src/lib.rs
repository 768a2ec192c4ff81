//! The environment descriptor: `environments/NAME.toml`.
//!
//! [`load`] parses and validates a descriptor, reporting every problem at once with its file, key
//! and line. [`Outputs::record`] and [`Outputs::remove`] are the only writers of a descriptor; they
//! touch the `[outputs]` table alone and keep every other byte as the user wrote it.

pub mod arn;
mod atomic;
mod layout;
mod model;
mod outputs;
mod problem;
mod schema;

pub use atomic::write_atomic;
pub use layout::{Layout, LayoutError, valid_env_name};
pub use model::{
    Aws, DeploySettings, Environment, Outputs, Role, SandboxSettings, Temporal, Tls,
    WorkerDeployment,
};
pub use outputs::OutputsError;
pub use problem::{Problem, Severity};
pub use schema::{LoadError, Loaded, load, load_str};

/// Characters and length the CloudFormation template allows for `AssumeRoleExternalId`.
pub const EXTERNAL_ID_CHARSET: &str = "a-zA-Z0-9_+=,.@-";
/// Inclusive length bounds of `AssumeRoleExternalId`.
pub const EXTERNAL_ID_LEN: std::ops::RangeInclusive<usize> = 5..=45;

/// Whether `c` may appear in an external ID (`[a-zA-Z0-9_+=,.@-]`).
pub fn external_id_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || "_+=,.@-".contains(c)
}
