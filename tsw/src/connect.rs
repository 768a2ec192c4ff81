//! Connecting to AWS for an environment, shared by every command that calls AWS: the
//! connection the descriptor describes, the runtime the calls run on, and the check that the
//! credentials belong to the environment's account. In a command over many environments,
//! those that connect alike share one connection ([`Shared`]).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use anyhow::{Context, Result};
use aws::{
    AssumeRole, Clients, Connection, Deadline, DeployError, Endpoint, EndpointOrigin, Identity,
};
use env_descriptor::{Environment, Layout};

/// The AWS connection an environment describes.
pub fn connection(env: &Environment) -> Connection {
    Connection {
        region: env.aws.region.to_string(),
        profile: env.aws.profile.as_ref().map(|p| p.to_string()),
        endpoint_url: env.aws.endpoint_url.as_ref().map(|u| u.to_string()),
        assume_role: env.aws.role_arn.as_ref().map(|arn| AssumeRole {
            role_arn: arn.to_string(),
            external_id: env.aws.external_id.as_ref().map(|id| id.to_string()),
            session_name: env.aws.session_name.as_ref().map(|s| s.to_string()),
        }),
    }
}

/// A single-threaded runtime for the AWS calls.
pub fn runtime() -> Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")
}

/// Connects to AWS for `env` as [`connect_as`] does.
pub async fn connect(layout: &Layout, env: &Environment) -> Result<Clients> {
    Ok(connect_as(layout, env, None).await?.0)
}

/// Connects to AWS for `env` and asks STS who the caller is (GetCallerIdentity), before any
/// other request: credentials of another account than the one `env` belongs to
/// ([`Environment::account`]) are refused, naming both accounts and where the credentials came
/// from, as Terraform's `allowed_account_ids` does. No caller when STS cannot answer for the
/// endpoints called (an emulator for some services only: every call has dummy keys then).
/// The question ends by `deadline` when there is one (`--timeout`).
pub async fn connect_as(
    layout: &Layout,
    env: &Environment,
    deadline: Option<&Deadline>,
) -> Result<(Clients, Option<Identity>)> {
    Shared::default().connect_as(layout, env, deadline).await
}

/// The connections of one command over many environments. Environments whose [`Connection`]
/// is equal (region, profile, endpoint, role to assume) get the same clients, credentials
/// resolved once, and STS is asked who the caller is once for all of them: 200 environments
/// of one account make one GetCallerIdentity, not 200. Each environment is still checked
/// against its own account, and told where its endpoint is. A connection that failed is tried
/// again by the next environment, which reports its own error.
#[derive(Default)]
pub struct Shared {
    connections: Mutex<HashMap<Connection, Arc<tokio::sync::OnceCell<Connected>>>>,
}

/// Clients, and the caller STS named (none when STS cannot answer for the endpoints called).
type Connected = (Clients, Option<Identity>);

impl Shared {
    /// [`connect_as`], sharing the connection of every environment that connects alike.
    pub async fn connect_as(
        &self,
        layout: &Layout,
        env: &Environment,
        deadline: Option<&Deadline>,
    ) -> Result<(Clients, Option<Identity>)> {
        let cell = Arc::clone(
            self.connections
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .entry(connection(env))
                .or_default(),
        );
        let mut made_here = false;
        let (clients, caller) = cell
            .get_or_try_init(|| {
                made_here = true;
                connect_and_ask(layout, env, deadline)
            })
            .await?
            .clone();
        if !made_here {
            announce_local(layout, env, &clients);
        }
        if let Some(refusal) = caller
            .as_ref()
            .and_then(|caller| wrong_account(layout, env, &clients, caller))
        {
            anyhow::bail!(refusal);
        }
        Ok((clients, caller))
    }
}

/// Connects for `env` and asks STS who the caller is, when STS can answer (see [`connect_as`]).
async fn connect_and_ask(
    layout: &Layout,
    env: &Environment,
    deadline: Option<&Deadline>,
) -> Result<Connected> {
    let clients = connect_unchecked(layout, env).await?;
    if !clients.sts_answers_for_all() {
        return Ok((clients, None));
    }
    let caller = match deadline {
        Some(deadline) => deadline.bound(clients.whoami()).await.unwrap_or_else(|| {
            Err(DeployError::TimedOut {
                waiting_for: format!("GetCallerIdentity from {}", clients.sts_endpoint()),
                after: deadline.limit(),
                running: None,
            })
        })?,
        None => clients.whoami().await?,
    };
    Ok((clients, Some(caller)))
}

/// [`connect`] for `doctor`, which changes nothing and is also run with the Temporal server's
/// credentials: the account of `temporal.server_role_arn` is accepted too.
pub async fn connect_for_doctor(layout: &Layout, env: &Environment) -> Result<Clients> {
    let clients = connect_unchecked(layout, env).await?;
    if !clients.sts_answers_for_all() {
        return Ok(clients);
    }
    let caller = clients.whoami().await?;
    let server = env_descriptor::arn::Arn::parse(&env.temporal.server_role_arn)
        .is_some_and(|arn| arn.account == caller.account);
    match wrong_account(layout, env, &clients, &caller) {
        Some(refusal) if !server => anyhow::bail!(refusal),
        _ => Ok(clients),
    }
}

/// Why `caller` may not act for `env`: it is of another account than the one `env` belongs to.
pub fn wrong_account(
    layout: &Layout,
    env: &Environment,
    clients: &Clients,
    caller: &Identity,
) -> Option<String> {
    let (expected, why) = env.account()?;
    (caller.account != expected).then(|| {
        format!(
            "these credentials are of account `{}` (`{}`), from {}, but {} belongs to account \
             `{expected}` ({why}); nothing was read or changed. Use credentials of account \
             {expected}: `aws.profile` naming a profile of that account, or `aws.role_arn` a role \
             in it that this identity may assume",
            caller.account,
            caller.arn,
            clients.credentials,
            crate::relative(layout, &env.file),
        )
    })
}

/// Connects to AWS for `env`, without asking who the caller is. Only the sandbox
/// (`[sandbox]`) gets its emulator started when nothing answers; for any other environment an
/// endpoint on this machine that nothing answers at is an error naming it, before any request.
pub async fn connect_unchecked(layout: &Layout, env: &Environment) -> Result<Clients> {
    if env.starts_sandbox() {
        // Off the runtime: starting the emulator takes up to a minute, and Ctrl-C ends it.
        aws_sandbox::unblock({
            let (layout, env) = (layout.clone(), env.clone());
            move || crate::commands::sandbox::ensure_aws(&layout, &env)
        })
        .await?;
    }
    let clients = Clients::connect(&connection(env)).await;
    if let Some((endpoint, why)) = clients.malformed_endpoint() {
        anyhow::bail!(
            "the AWS endpoint `{}` ({}) is not a URL a request can go to: {why}; allowed: \
             `http://HOST[:PORT]` or `https://HOST[:PORT]`: correct it, or unset it to call AWS itself; nothing was changed",
            endpoint.url.escape_debug(),
            origin(layout, env, &endpoint)
        );
    }
    announce_local(layout, env, &clients);
    for endpoint in &clients.local_endpoints {
        ensure_answers(layout, env, endpoint).await?;
    }
    Ok(clients)
}

/// Tells that `env`'s calls go to an endpoint on this machine, when they do.
fn announce_local(layout: &Layout, env: &Environment, clients: &Clients) {
    if let Some(first) = clients.local_endpoints.first() {
        safe_text::eprintln!(
            "{}: the AWS endpoint {} ({}) is on this machine: every call is signed with dummy keys, never your credentials",
            env.name,
            first.url,
            origin(layout, env, first)
        );
    }
}

/// Where `endpoint` was configured, in the user's terms.
fn origin(layout: &Layout, env: &Environment, endpoint: &Endpoint) -> String {
    match &endpoint.origin {
        EndpointOrigin::Connection => {
            format!("aws.endpoint_url of {}", crate::relative(layout, &env.file))
        }
        EndpointOrigin::Variable(var) => format!("the environment variable {var}"),
        EndpointOrigin::ConfigFile => "endpoint_url in the AWS config file".to_owned(),
    }
}

/// Fails unless something accepts connections at the local `endpoint` (probed off the
/// runtime: a probe may take seconds).
async fn ensure_answers(layout: &Layout, env: &Environment, endpoint: &Endpoint) -> Result<()> {
    let tsw = crate::cli::name();
    let answers = match local_endpoint::host_port(&endpoint.url) {
        Some((host, port)) => {
            aws_sandbox::unblock(move || aws_sandbox::listening(&host, port)).await
        }
        None => false,
    };
    anyhow::ensure!(
        answers,
        "nothing answers at {} ({}): start your emulator there (the local sandbox: `{tsw} sandbox up --env {}`), or correct the address; nothing was changed",
        endpoint.url,
        origin(layout, env, endpoint),
        env.name
    );
    Ok(())
}
