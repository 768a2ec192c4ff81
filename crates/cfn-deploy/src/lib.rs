//! The AWS side: the invocation-role stack (create or update through a change set, watch its
//! events, inspect, delete), the role as IAM holds it, the functions as Lambda holds them, and
//! STS caller identity.
//!
//! This crate knows CloudFormation and STS, not descriptors or templates: callers hand it a
//! [`StackSpec`] and an [`Observer`] that shows progress and answers the confirmation.

mod client;
mod error;
mod explain;
mod iam;
mod in_flight;
mod lambda;
mod role;
mod signed;
mod stack;

pub use client::{Clients, Connection, Endpoint, EndpointOrigin, Identity};
pub use error::{DeployError, format_duration};
pub use explain::message_chain;
pub use in_flight::{Deadline, InFlight, Running, Tracker, Undone};
pub use lambda::{Function, FunctionConfiguration, FunctionEnvironment, Lambda, VpcConfig};
pub use role::LiveRole;
pub use stack::{Change, Event, Guard, Observer, Outcome, StackInfo, StackSpec};
