//! CloudFormation StackSets: one template deployed as a stack instance into many accounts
//! (the invocation role in every account of an OU, or of a list). The write side
//! ([`write`]) creates and updates the StackSet and its instances and deletes them; the
//! watcher ([`watch`]) follows one operation until it ends, reporting each instance as its
//! status changes.

mod watch;
mod write;

pub use watch::{InstanceResult, OperationObserver, OperationOutcome};
pub use write::{
    CallAs, Instance, LiveStackSet, Permission, Preferences, SetDeploy, StackSetSpec, StackSets,
    Step, stack_set_changes, steps,
};
