//! The invocation-role stack on CloudFormation: plan a create or update as a change set,
//! apply it, watch its events, describe it, delete it, and undo what an interruption left.
//!
//! This crate knows CloudFormation only, not descriptors, templates or the other AWS services:
//! callers hand [`Stacks`] a [`StackSpec`] and an [`Observer`] that shows progress and answers
//! the confirmation. It depends on the CloudFormation client and nothing above it, so that
//! cargo starts that client, the longest unit of the build, early (ARCHITECTURE.md, "Build
//! time"); `aws-clients` builds the [`Stacks`] with the other clients.

mod error;
mod in_flight;
mod model;
mod plan;
mod stack;
mod undo;

pub use aws_sdk_cloudformation::types::{ResourceStatus, StackStatus};
pub use error::{DeployError, Hint, aws_error, format_duration, message_chain};
pub use in_flight::{Deadline, InFlight, Running, Tracker, Undone};
pub use model::{
    Change, ChangeSetRef, Event, Outcome, Owner, Plan, PlanAction, PropertyChange, StackInfo,
    StackSpec, ValueChange,
};
pub use stack::{Guard, Observer, Stacks};
