//! The AWS side: the invocation-role stack (plan a create or update as a change set, apply it,
//! watch its events, inspect, delete), the role as IAM holds it, the functions as Lambda holds
//! them, and STS caller identity.
//!
//! This crate knows CloudFormation and STS, not descriptors or templates: callers hand it a
//! [`StackSpec`] and an [`Observer`] that shows progress and answers the confirmation.

mod client;
mod error;
mod explain;
mod iam;
mod in_flight;
mod lambda;
mod plan;
mod role;
mod signed;
mod stack;

pub use client::{Clients, Connection, Endpoint, EndpointOrigin, Identity};
pub use error::{DeployError, format_duration};
pub use explain::message_chain;
pub use in_flight::{Deadline, InFlight, Running, Tracker, Undone};
pub use lambda::{Function, FunctionConfiguration, FunctionEnvironment, Lambda, VpcConfig};
pub use plan::{Change, ChangeSetRef, Plan, PlanAction, PropertyChange, ValueChange};
pub use role::LiveRole;
pub use stack::{Event, Guard, Observer, Outcome, StackInfo, StackSpec};
