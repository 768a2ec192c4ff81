//! `cargo xtask`: sets up Temporal Serverless Workers on AWS Lambda for a self-hosted Temporal
//! Service, from the descriptors in `environments/`.
//!
//! Two binaries share this library. `xtask` (this package) parses every command and runs those
//! that need no AWS SDK (validate, render, init, register, sandbox), so that it compiles in
//! seconds; it hands the others to `xtask-aws` (`crates/xtask-aws`), see [`delegate`].

pub mod cli;
pub mod cmd;
pub mod delegate;
pub mod ui;
