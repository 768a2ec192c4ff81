//! Shared steps of the AWS commands.

use anyhow::{Context, Result};
use aws_clients::{Clients, Connection, Endpoint, EndpointOrigin};
use env_descriptor::{Environment, Layout};

/// The AWS connection an environment describes.
pub fn connection(env: &Environment) -> Connection {
    Connection {
        region: env.aws.region.to_string(),
        profile: env.aws.profile.as_ref().map(|p| p.to_string()),
        endpoint_url: env.aws.endpoint_url.as_ref().map(|u| u.to_string()),
    }
}

/// A single-threaded runtime for the AWS calls.
pub fn runtime() -> Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")
}

/// Connects to AWS for `env`. Only the sandbox (`[sandbox]`) gets its emulator started when
/// nothing answers; for any other environment an endpoint on this machine that nothing answers
/// at is an error naming it, before any request.
pub async fn connect(layout: &Layout, env: &Environment) -> Result<Clients> {
    if env.starts_sandbox() {
        setup_flows::sandbox::ensure_aws(layout, env)?;
    }
    let clients = Clients::connect(&connection(env)).await;
    if let Some(first) = clients.local_endpoints.first() {
        safe_text::eprintln!(
            "{}: the AWS endpoint {} ({}) is on this machine: every call is signed with dummy keys, never your credentials",
            env.name,
            first.url,
            origin(layout, env, first)
        );
    }
    for endpoint in &clients.local_endpoints {
        ensure_answers(layout, env, endpoint)?;
    }
    Ok(clients)
}

/// Where `endpoint` was configured, in the user's terms.
fn origin(layout: &Layout, env: &Environment, endpoint: &Endpoint) -> String {
    match &endpoint.origin {
        EndpointOrigin::Connection => format!(
            "aws.endpoint_url of {}",
            setup_flows::relative(layout, &env.file)
        ),
        EndpointOrigin::Variable(var) => format!("the environment variable {var}"),
        EndpointOrigin::ConfigFile => "endpoint_url in the AWS config file".to_owned(),
    }
}

/// Fails unless something accepts connections at the local `endpoint`.
fn ensure_answers(layout: &Layout, env: &Environment, endpoint: &Endpoint) -> Result<()> {
    let answers = local_endpoint::host_port(&endpoint.url)
        .is_some_and(|(host, port)| aws_sandbox::listening(&host, port));
    anyhow::ensure!(
        answers,
        "nothing answers at {} ({}): start your emulator there (the local sandbox: `cargo xtask sandbox up --env {}`), or correct the address; nothing was changed",
        endpoint.url,
        origin(layout, env, endpoint),
        env.name
    );
    Ok(())
}
