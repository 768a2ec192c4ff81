//! The tool's AWS side: one connection for every client (endpoints, credentials that never
//! reach a local port, retries, deadlines), the error every call returns, and the services the
//! tool calls:
//!
//! - CloudFormation: the invocation-role stack. [`Stacks`] plans a create or update as a change
//!   set, applies it, watches its events, describes and deletes the stack, and undoes what an
//!   interruption left ([`stack`], [`plan`], [`undo`], [`in_flight`], [`model`]). Callers hand it
//!   a [`StackSpec`] and an [`Observer`] that shows progress and answers the confirmation; it
//!   knows no descriptors or templates.
//! - CloudFormation StackSets: the role in many accounts ([`stack_set`]: the spec a caller
//!   declares, what AWS holds of it, the accounts AWS Organizations places under an OU).
//! - IAM: the role as IAM holds it ([`LiveRole`], compared with the [`DeclaredRole`]).
//! - Lambda: the functions as Lambda holds them ([`Lambda`]).
//! - STS: who the caller is ([`Identity`], from [`Clients::connect`]).
//!
//! [`DeployError`] is the one error type of every call, with a [`Hint`] for what to do next.

pub mod actions;
mod client;
mod credentials;
mod error;
mod explain;
mod iam;
mod in_flight;
mod lambda;
mod model;
mod plan;
mod role;
mod stack;
pub mod stack_set;
mod undo;

pub use aws_sdk_cloudformation::types::{ResourceStatus, StackStatus};
pub use client::{Clients, Connection, Endpoint, EndpointOrigin, Identity};
pub use credentials::{
    AssumeRole, CredentialSource, DEFAULT_SESSION_NAME, LOOPBACK_ACCESS_KEY_ID,
    LOOPBACK_SECRET_ACCESS_KEY,
};
pub use error::{DeployError, Hint, aws_error, format_duration, message_chain};
pub use explain::REQUEST_ID_TARGET;
pub use in_flight::{Deadline, InFlight, Running, SetOperation, Tracker, Undone};
pub use lambda::{Function, FunctionConfiguration, FunctionEnvironment, Lambda, VpcConfig};
pub use model::{
    Change, ChangeSetRef, Event, Outcome, Owner, Plan, PlanAction, PropertyChange, StackInfo,
    StackSpec, ValueChange,
};
pub use plan::{PlanMade, ReadOnlyPlan};
pub use role::{DeclaredRole, LiveRole};
pub use stack::{Guard, Observer, Stacks};
pub use stack_set::{StackSetSpec, StackSets};
