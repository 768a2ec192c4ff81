//! One module per command, each reading top to bottom: what it loads, what it checks, what it
//! changes, and what it shows. Helpers that several commands share sit beside this module
//! (`envs`, `claim`, `connect`, `interrupt`, `progress`, `ui`, `drift`, `plan_view`).

pub mod completions;
pub mod deploy;
pub mod destroy;
pub mod doctor;
pub mod init;
pub mod plan;
pub mod policy;
pub mod register;
pub mod render;
pub mod sandbox;
pub mod smoke;
pub mod status;
pub mod validate;
pub mod whoami;
