//! The AWS side but the stack itself: one connection for every client (endpoints, credentials
//! that never reach a local port, retries, deadlines), the role as IAM holds it, the functions
//! as Lambda holds them, and STS caller identity. [`Clients::stacks`] is the invocation-role
//! stack (`cfn-deploy`) on the same connection.

mod client;
mod credentials;
mod explain;
mod iam;
mod lambda;
mod role;

pub use client::{Clients, Connection, Endpoint, EndpointOrigin, Identity};
pub use credentials::{AssumeRole, CredentialSource, DEFAULT_SESSION_NAME};
pub use lambda::{Function, FunctionConfiguration, FunctionEnvironment, Lambda, VpcConfig};
pub use role::{DeclaredRole, LiveRole};
