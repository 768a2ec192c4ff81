//! The environment descriptor: `environments/NAME.toml`.
//!
//! [`load`] parses and validates a descriptor, reporting every problem at once with its file, key
//! and line. [`Outputs::record_stack`], [`Outputs::update_registered`] and [`Outputs::remove`]
//! are the only writers of a descriptor; they touch the `[outputs]` table alone, merge into the
//! file as it is at write time, and keep every other byte as the user wrote it.

pub mod arn;
mod atomic;
mod layout;
mod lock;
mod model;
mod outputs;
mod problem;
mod schema;
mod stacks;
pub mod text;

pub use atomic::{check_writable, write_atomic};
pub use layout::{Layout, LayoutError, valid_env_name};
pub use lock::{EnvLock, Holder, LockError};
pub use model::{
    Aws, DeploySettings, Environment, Outputs, Role, SandboxSettings, Temporal, Tls,
    WorkerDeployment,
};
pub use outputs::{OutputsError, StackOutputs};
pub use problem::{Problem, Severity};
pub use schema::{AWS_LAMBDA, LoadError, Loaded, NO_SYNC, load, load_str};
pub use stacks::shared_stacks;

/// Characters and length the CloudFormation template allows for `AssumeRoleExternalId`.
pub const EXTERNAL_ID_CHARSET: &str = "a-zA-Z0-9_+=,.@-";
/// Inclusive length bounds of `AssumeRoleExternalId`.
pub const EXTERNAL_ID_LEN: std::ops::RangeInclusive<usize> = 5..=45;

/// Whether `c` may appear in an external ID (`[a-zA-Z0-9_+=,.@-]`).
pub fn external_id_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || "_+=,.@-".contains(c)
}
