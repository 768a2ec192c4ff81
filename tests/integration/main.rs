//! Integration tests: the real `xtask` binary against a real moto server (started once per test
//! run on a free 127.0.0.1 port, patched by the sandbox launcher to behave like AWS), through
//! the real AWS SDK. Nothing is mocked.

// The tests' own notes, not the tool's output: printed as they are.
#![allow(clippy::disallowed_macros)]

mod support;

mod child;
mod fault_proxy;

mod accounts;
mod boundaries;
mod checks;
mod ci_recipe_run;
mod cli;
mod credentials;
mod deploy;
mod docs;
mod emulator;
mod faults;
mod files;
mod helm;
mod hostile_output;
mod hub_role;
mod infra_repo;
mod lambda_worker;
mod least_privilege;
mod many;
mod ownership;
mod plan;
mod plan_summary;
mod providers;
mod registration;
mod release;
mod role_naming;
mod sandbox;
mod schema;
mod shell;
mod signals;
mod snapshots;
mod stackset_delegated;
mod stackset_delegated_policies;
mod stackset_deploy;
mod stackset_doctor;
mod stackset_ownership;
mod stackset_plan;
mod stackset_register;
mod stackset_signals;
mod stacksets;
mod sts;
mod template;
mod temporal;
mod untrusted;
mod untrusted_files;
