//! `doctor`: one check per prerequisite of the self-hosted setup guide, each passing, warning or
//! failing with the fix, so that a broken setup is found here rather than by Temporal.
//!
//! Step 1: Lambda can reach the frontend (address, reachability, functions, VPC).
//! Step 2: the dynamic config the server reads enables WCI for the namespaces in use.
//! Step 3: the identity the server runs as is `temporal.server_role_arn`.
//! Step 4: the role stack is deployed as recorded, and the role behaves as Temporal requires.
//! Step 5: the Worker Deployment Versions are registered with Lambda compute and hold the
//! function, role and external ID the descriptor names (as the server recorded and validated
//! them), each function is configured to run the Lambda worker (timeout, `TEMPORAL_*`
//! variables, a published version),
//! and a task queue is bound to each version: the proof that Lambda ran the worker and it
//! reached the frontend.

use std::collections::{BTreeMap, BTreeSet};
use std::net::{IpAddr, ToSocketAddrs};

use aws::stack_set::{self, Current, InstanceStatus, StackSetSpec};
use aws::{Clients, Lambda};
use aws::{DeployError, StackInfo, StackStatus};
use aws_credential_types::Credentials;
use aws_credential_types::provider::SharedCredentialsProvider;
use aws_sdk_sts::error::ProvideErrorMetadata;
use env_descriptor::{AWS_LAMBDA, Environment, InvocationRole, NO_SYNC, Outputs, arn};
use env_render::cfn;
use env_render::dynamic_config::{
    self, COMPUTE_PROVIDERS_ENABLED, ChainRole, ENABLED, INTERMEDIARY_ROLES,
    SCALING_ALGORITHMS_ENABLED,
};
use worker_deployments::{HeldCompute, Validation};

/// How a check ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    Pass,
    Warn,
    Fail,
}

impl Level {
    pub fn as_str(self) -> &'static str {
        match self {
            Level::Pass => "pass",
            Level::Warn => "warn",
            Level::Fail => "fail",
        }
    }
}

/// One line of the report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Check {
    /// The step of the guide (1-4), or 5 for registration.
    pub step: u8,
    pub name: String,
    pub level: Level,
    pub detail: String,
    /// What to do, for warnings and failures.
    pub fix: Option<String>,
}

/// Everything `doctor` found for one environment.
#[derive(Debug, Clone, Default)]
pub struct Report {
    pub checks: Vec<Check>,
}

impl Report {
    fn add(
        &mut self,
        step: u8,
        name: impl Into<String>,
        level: Level,
        detail: impl Into<String>,
        fix: Option<String>,
    ) {
        self.checks.push(Check {
            step,
            name: name.into(),
            level,
            detail: detail.into(),
            fix,
        });
    }

    fn pass(&mut self, step: u8, name: impl Into<String>, detail: impl Into<String>) {
        self.add(step, name, Level::Pass, detail, None);
    }

    fn fail(
        &mut self,
        step: u8,
        name: impl Into<String>,
        detail: impl Into<String>,
        fix: impl Into<String>,
    ) {
        self.add(step, name, Level::Fail, detail, Some(fix.into()));
    }

    fn warn(
        &mut self,
        step: u8,
        name: impl Into<String>,
        detail: impl Into<String>,
        fix: impl Into<String>,
    ) {
        self.add(step, name, Level::Warn, detail, Some(fix.into()));
    }

    pub fn failed(&self) -> bool {
        self.checks.iter().any(|c| c.level == Level::Fail)
    }

    pub fn to_json(&self, env: &str) -> serde_json::Value {
        serde_json::json!({
            "environment": env,
            "ok": !self.failed(),
            "checks": self.checks.iter().map(|c| serde_json::json!({
                "step": c.step, "name": c.name, "result": c.level.as_str(), "detail": c.detail, "fix": c.fix,
            })).collect::<Vec<_>>(),
        })
    }
}

/// What the checks look at.
#[derive(Debug)]
pub struct Inputs<'a> {
    pub env: &'a Environment,
    pub clients: &'a Clients,
    /// The dynamic config the server reads: where it comes from, and its text (or why not).
    pub dynamic_config: (String, Result<String, String>),
    /// The environment runs on a local emulator (Lambda is emulated: loopback is fine).
    pub emulator: bool,
    /// A Temporal CLI client, when one could be set up (or why not).
    pub temporal: Result<worker_deployments::Client, String>,
    /// Why a function's last invocation failed, by its ARN, where this machine can see it (the
    /// sandbox's emulator logs every invocation); quoted when a version's queue is not bound.
    pub worker_failures: BTreeMap<String, String>,
    /// The StackSet the descriptor declares (`[stack_set]`), with its parameters as rendered;
    /// `None` for a single stack.
    pub stack_set: Option<StackSetSpec>,
}

/// Runs every check.
pub async fn run(inputs: &Inputs<'_>) -> Report {
    let mut r = Report::default();
    let functions = functions(inputs.env);
    let private = frontend(&mut r, inputs).await;
    lambda_functions(&mut r, inputs, &functions, private).await;
    dynamic_config_enables_wci(&mut r, inputs);
    let caller = identity(&mut r, inputs).await;
    let through_roles = role(&mut r, inputs, caller.as_ref()).await;
    worker_functions(&mut r, inputs, &through_roles).await;
    let held = registrations(&mut r, inputs).await;
    held_roles_exist(&mut r, inputs, &held).await;
    r
}

/// What `temporalio.contrib.aws.lambda_worker` keeps of each invocation for its shutdown: it
/// refuses to start when the function's timeout leaves nothing after it (reference §6), and the
/// version's task queue is then never bound.
pub const SHUTDOWN_RESERVE_SECS: i32 = 7;

/// Every concrete function ARN the environment names (wildcards cannot be looked up), but
/// those step 4 reads through their account's role ([`Environment::functions_through_roles`]).
fn functions(env: &Environment) -> Vec<String> {
    let through_roles = env.functions_through_roles();
    env.functions()
        .into_iter()
        .filter(|f| !through_roles.contains(f))
        .collect()
}

/// Step 1: the frontend address. Returns whether it is on a private network. The name is
/// resolved and the address probed off the runtime (either may take seconds).
async fn frontend(r: &mut Report, inputs: &Inputs<'_>) -> bool {
    // The descriptor's, else the one the Temporal client resolved (TEMPORAL_ADDRESS, a profile).
    let resolved = inputs
        .temporal
        .as_ref()
        .map(|c| c.frontend().address.clone());
    let Some(address) = inputs
        .env
        .temporal
        .address
        .as_ref()
        .map(|a| a.to_string())
        .or_else(|| resolved.clone().ok())
    else {
        r.fail(
            1,
            "frontend address",
            resolved.err().cloned().unwrap_or_default(),
            "set `temporal.address` to the frontend `host:port` Lambda dials",
        );
        return false;
    };
    let address = address.as_str();
    let Some((host, port)) = local_endpoint::host_port(address) else {
        r.fail(
            1,
            "frontend address",
            format!("`{address}` is not a `host:port` address"),
            "set `temporal.address` to the frontend `host:port` Lambda dials",
        );
        return false;
    };
    let resolved = worker_deployments::unblock({
        let host = host.clone();
        move || {
            (host.as_str(), port)
                .to_socket_addrs()
                .map(|addrs| addrs.map(|a| a.ip()).collect::<Vec<IpAddr>>())
        }
    });
    let ips: Vec<IpAddr> = match host.parse::<IpAddr>() {
        Ok(ip) => vec![ip],
        Err(_) => match resolved.await {
            Ok(ips) => ips,
            Err(e) => {
                r.fail(
                    1,
                    "frontend address",
                    format!("`{host}` does not resolve: {e}"),
                    "use a name Lambda's VPC DNS resolves, or an IP address",
                );
                return false;
            }
        },
    };
    // On this machine (any spelling, `0.0.0.0` too), or resolving to it.
    let loopback = local_endpoint::is_local(address)
        || ips.iter().any(|ip| ip.is_loopback() || ip.is_unspecified());
    let private = ips.iter().any(|ip| match ip {
        IpAddr::V4(v4) => {
            v4.is_private() || v4.octets()[0] == 100 && (64..128).contains(&v4.octets()[1])
        }
        IpAddr::V6(v6) => (v6.segments()[0] & 0xfe00) == 0xfc00,
    });
    if loopback && inputs.emulator {
        r.warn(1, "frontend address", format!("`{address}` is a loopback address: fine for the local sandbox, where Lambda is emulated"), "use the frontend's network address in real environments");
    } else if loopback {
        r.fail(
            1,
            "frontend address",
            format!("`{address}` is a loopback address, which Lambda cannot reach"),
            "set `temporal.address` to an address reachable from the functions' network",
        );
    } else {
        r.pass(
            1,
            "frontend address",
            format!(
                "`{address}`{}",
                if private { " (private network)" } else { "" }
            ),
        );
    }
    let reachable = worker_deployments::unblock(move || aws_sandbox::listening(&host, port)).await;
    if reachable {
        r.pass(
            1,
            "frontend answers",
            format!("`{address}` accepts connections from here"),
        );
    } else {
        r.fail(
            1,
            "frontend answers",
            format!("nothing answers at `{address}` from here"),
            "start the Temporal server, or check the address and firewalls",
        );
    }
    private && !loopback
}

fn lambda_client(inputs: &Inputs<'_>, creds: Option<Credentials>) -> Lambda {
    let client = inputs.clients.lambda();
    match creds {
        Some(c) => client.with_credentials(c),
        None => client,
    }
}

/// GetFunction in the function's own region; the error as AWS words it (`code: message`).
async fn get_function(client: &Lambda, arn: &str) -> Result<aws::Function, String> {
    client
        .get_function(arn, &region_of(arn))
        .await
        .map_err(|e| match e {
            DeployError::Aws { message, .. } => message,
            other => other.to_string(),
        })
}

/// GetFunctionConfiguration in the function's own region.
async fn get_function_configuration(
    client: &Lambda,
    arn: &str,
) -> Result<aws::FunctionConfiguration, DeployError> {
    client.function_configuration(arn, &region_of(arn)).await
}

/// The region of `arn`; empty (the configured region) when it is not an ARN.
fn region_of(arn: &str) -> String {
    arn::Arn::parse(arn)
        .map(|a| a.region.to_owned())
        .unwrap_or_default()
}

/// Step 1: the functions exist; on a private frontend, they run in a VPC.
async fn lambda_functions(
    r: &mut Report,
    inputs: &Inputs<'_>,
    functions: &[String],
    private: bool,
) {
    let client = lambda_client(inputs, None);
    for f in functions {
        match get_function(&client, f).await {
            Ok(out) => {
                let in_vpc = out.configuration.in_vpc();
                if private && !in_vpc {
                    r.warn(1, format!("function {f}"), "exists but has no VPC config, and the frontend is on a private address", "give the function VPC access to the frontend's network (subnets, security group)");
                } else {
                    r.pass(
                        1,
                        format!("function {f}"),
                        if in_vpc {
                            "exists (in a VPC)"
                        } else {
                            "exists"
                        },
                    );
                }
            }
            Err(e) => r.fail(
                1,
                format!("function {f}"),
                format!("GetFunction failed: {e}"),
                "deploy the function, or fix its ARN in the descriptor",
            ),
        }
    }
}

/// The variables the Lambda worker reads to connect and poll.
const WORKER_VARIABLES: [&str; 3] = [
    "TEMPORAL_ADDRESS",
    "TEMPORAL_NAMESPACE",
    "TEMPORAL_TASK_QUEUE",
];

/// Step 5: each version's function can run the Lambda worker: its timeout leaves time after the
/// shutdown reserve, and its environment names the frontend and namespace the descriptor does.
/// A StackSet environment's function is read through its account's role (GetFunction, which
/// the role grants and whose answer holds the configuration); when step 4 could not assume that
/// role, it said so there, and the function is not read.
async fn worker_functions(r: &mut Report, inputs: &Inputs<'_>, through_roles: &ThroughRoles) {
    let client = lambda_client(inputs, None);
    // The accounts whose functions are read through their role (a StackSet's).
    let role_accounts: Vec<String> = match inputs.env.stack_set() {
        Some(_) => inputs
            .env
            .invocation_roles()
            .into_iter()
            .map(|role| role.account)
            .collect(),
        None => Vec::new(),
    };
    let mut seen = BTreeSet::new();
    for wd in &inputs.env.worker_deployments {
        let arn = wd.lambda_function_arn.to_string();
        if !seen.insert(arn.clone()) {
            continue;
        }
        let account = arn::Arn::parse(&arn)
            .map(|a| a.account.to_owned())
            .unwrap_or_default();
        let config = if let Some(creds) = through_roles.get(&account) {
            let through = lambda_client(inputs, Some(creds.clone()));
            match get_function(&through, &arn).await {
                Ok(function) => function.configuration,
                Err(e) => {
                    r.fail(
                        5,
                        format!("configuration of {arn}"),
                        format!("GetFunction through the role of account {account} failed: {e}"),
                        "add the function to the functions of that account's role (`role.lambda_function_arns`, or its `stack_set.overrides`) and deploy, or create the function",
                    );
                    continue;
                }
            }
        } else if role_accounts.contains(&account) {
            // Its account's role could not be assumed: step 4 says why.
            continue;
        } else {
            match get_function_configuration(&client, &arn).await {
                Ok(config) => config,
                // A missing function is reported by step 1's GetFunction check.
                Err(e) if e.code() == Some("ResourceNotFoundException") => continue,
                // Anything else (a denied call) would leave the function's checks out unsaid.
                Err(e) => {
                    r.fail(
                        5,
                        format!("configuration of {arn}"),
                        e.to_string(),
                        "let these credentials call lambda:GetFunctionConfiguration on the function",
                    );
                    continue;
                }
            }
        };
        function_timeout(r, &arn, config.timeout);
        worker_variables(r, inputs.env, wd, &arn, &config.environment.variables);
    }
}

fn function_timeout(r: &mut Report, arn: &str, timeout: Option<i32>) {
    let name = format!("timeout of {arn}");
    // Lambda's default when the configuration does not say.
    let secs = timeout.unwrap_or(3);
    if secs > SHUTDOWN_RESERVE_SECS {
        let detail = format!(
            "{secs} s: the worker polls for {} s after the {SHUTDOWN_RESERVE_SECS} s it keeps for shutdown",
            secs - SHUTDOWN_RESERVE_SECS
        );
        r.pass(5, name, detail);
    } else {
        r.fail(
            5,
            name,
            format!("the function's timeout is {secs} s, but the Lambda worker keeps {SHUTDOWN_RESERVE_SECS} s of it for shutdown and refuses to start, so no task queue is ever bound"),
            format!("raise the function's timeout well above {SHUTDOWN_RESERVE_SECS} s (the Temporal docs use 600 s): `aws lambda update-function-configuration --function-name {arn} --timeout 600`, publish a version, and register it"),
        );
    }
}

fn worker_variables(
    r: &mut Report,
    env: &Environment,
    wd: &env_descriptor::WorkerDeployment,
    arn: &str,
    vars: &std::collections::HashMap<String, String>,
) {
    let name = format!("worker variables of {arn}");
    let missing: Vec<&str> = WORKER_VARIABLES
        .into_iter()
        .filter(|v| !vars.contains_key(*v))
        .collect();
    let address = vars.get("TEMPORAL_ADDRESS").map(String::as_str);
    let namespace = vars.get("TEMPORAL_NAMESPACE").map(String::as_str);
    let want = env.temporal.address.as_deref();
    if !missing.is_empty() {
        r.warn(5, name, format!("{} not set in the function's environment (the worker reads them unless its code or `temporal.toml` sets them)", missing.join(", ")), format!("set them on the function: TEMPORAL_ADDRESS={}, TEMPORAL_NAMESPACE={}, TEMPORAL_TASK_QUEUE=the queue the worker polls", want.unwrap_or("the frontend"), wd.namespace));
    } else if want.is_some() && address != want {
        r.warn(5, name, format!("TEMPORAL_ADDRESS is `{}`, but `temporal.address` is `{}`", address.unwrap_or_default(), want.unwrap_or_default()), "point the function's TEMPORAL_ADDRESS at the frontend Lambda reaches (the descriptor's `temporal.address`, unless Lambda must use another name for it)");
    } else if namespace != Some(wd.namespace.as_str()) {
        r.warn(
            5,
            name,
            format!(
                "TEMPORAL_NAMESPACE is `{}`, but the version is in `{}`",
                namespace.unwrap_or_default(),
                wd.namespace
            ),
            "set the function's TEMPORAL_NAMESPACE to the version's namespace",
        );
    } else {
        r.pass(
            5,
            name,
            format!(
                "TEMPORAL_ADDRESS `{}`, TEMPORAL_NAMESPACE `{}`, TEMPORAL_TASK_QUEUE `{}`",
                address.unwrap_or_default(),
                wd.namespace,
                vars["TEMPORAL_TASK_QUEUE"]
            ),
        );
    }
}

/// Step 2: WCI, `aws-lambda` and `no-sync` are enabled where the worker deployments live.
fn dynamic_config_enables_wci(r: &mut Report, inputs: &Inputs<'_>) {
    let tsw = crate::cli::name();
    let env = inputs.env;
    let (source, text) = &inputs.dynamic_config;
    let text = match text {
        Ok(t) => t,
        Err(e) => {
            r.fail(
                2,
                "dynamic config",
                format!("cannot read {source}: {e}"),
                format!("run `{tsw} render {}`", env.name),
            );
            return;
        }
    };
    let fix = format!(
        "run `{tsw} render {}` and make the server read {source}",
        env.name
    );
    let mut namespaces: Vec<Option<&str>> = env
        .worker_deployments
        .iter()
        .map(|w| Some(w.namespace.as_str()))
        .collect();
    namespaces.dedup();
    if namespaces.is_empty() {
        namespaces = match &env.temporal.namespaces {
            Some(list) => list.iter().map(|n| Some(n.as_str())).collect(),
            None => vec![None],
        };
    }
    let contains = |v: Option<serde_yaml::Value>, item: &str| {
        v.and_then(|v| v.as_sequence().cloned())
            .is_some_and(|s| s.iter().any(|x| x.as_str() == Some(item)))
    };
    for ns in namespaces {
        let scope = ns.map_or("globally".to_owned(), |n| format!("for namespace `{n}`"));
        let enabled = dynamic_config::resolve(text, ENABLED, ns);
        if enabled.as_ref().and_then(serde_yaml::Value::as_bool) == Some(true) {
            r.pass(
                2,
                format!("WCI enabled {scope}"),
                format!("{ENABLED} is true in {source}"),
            );
        } else {
            r.fail(
                2,
                format!("WCI enabled {scope}"),
                format!(
                    "{ENABLED} is {} {scope} in {source}",
                    enabled.map_or("unset (false)".into(), |v| format!("{v:?}"))
                ),
                fix.clone(),
            );
        }
        let name = format!("{AWS_LAMBDA} allowed {scope}");
        if contains(
            dynamic_config::resolve(text, COMPUTE_PROVIDERS_ENABLED, ns),
            AWS_LAMBDA,
        ) {
            let detail = format!("{COMPUTE_PROVIDERS_ENABLED} includes {AWS_LAMBDA} in {source}");
            r.pass(2, name, detail);
        } else {
            let detail =
                format!("{COMPUTE_PROVIDERS_ENABLED} does not include {AWS_LAMBDA} in {source}");
            r.fail(2, name, detail, fix.clone());
        }
    }
    intermediary_roles_read(r, env, source, text, &fix);
    let name = format!("{NO_SYNC} allowed");
    if contains(
        dynamic_config::resolve(text, SCALING_ALGORITHMS_ENABLED, None),
        NO_SYNC,
    ) {
        let detail =
            format!("{SCALING_ALGORITHMS_ENABLED} (global) includes {NO_SYNC} in {source}");
        r.pass(2, name, detail);
    } else {
        let detail =
            format!("{SCALING_ALGORITHMS_ENABLED} (global) does not include {NO_SYNC} in {source}");
        r.fail(2, name, detail, fix);
    }
}

/// Step 2: the chain the server reads is the one `temporal.intermediary_roles` declares (one
/// role a hop), which the invocation roles trust the last hop of. No line when neither has one.
fn intermediary_roles_read(r: &mut Report, env: &Environment, source: &str, text: &str, fix: &str) {
    const CHECK: &str = "intermediary roles";
    let declared: Vec<Vec<ChainRole>> = env
        .temporal
        .intermediary_roles
        .iter()
        .map(|hop| {
            vec![ChainRole {
                role_arn: hop.role_arn.to_string(),
                session_name: hop.session_name.to_string(),
                external_id: hop.external_id.as_ref().map(|e| e.to_string()),
            }]
        })
        .collect();
    let describe = |chain: &[Vec<ChainRole>]| {
        if chain.is_empty() {
            return "no chain".to_owned();
        }
        chain
            .iter()
            .map(|hop| {
                hop.iter()
                    .map(|role| format!("`{}` (session `{}`)", role.role_arn, role.session_name))
                    .collect::<Vec<_>>()
                    .join(" or ")
            })
            .collect::<Vec<_>>()
            .join(" → ")
    };
    match dynamic_config::role_chain(text) {
        Ok(held) if held.is_empty() && declared.is_empty() => {}
        Ok(held) if held == declared => r.pass(
            2,
            CHECK,
            format!("{INTERMEDIARY_ROLES} in {source} is the chain the descriptor declares: {}", describe(&held)),
        ),
        Ok(held) => r.fail(
            2,
            CHECK,
            format!(
                "{source} gives the server {}, but `temporal.intermediary_roles` declares {}, and the invocation role trusts `{}`",
                describe(&held),
                describe(&declared),
                env.temporal.invoking_principal()
            ),
            fix.to_owned(),
        ),
        Err(why) => r.fail(
            2,
            CHECK,
            format!("{INTERMEDIARY_ROLES} in {source} is no chain Temporal can use: {why}"),
            fix.to_owned(),
        ),
    }
}

/// Step 3: the identity these credentials have is the server's. Returns it, when STS said.
async fn identity(r: &mut Report, inputs: &Inputs<'_>) -> Option<aws::Identity> {
    let want = &inputs.env.temporal.server_role_arn;
    let id = match inputs.clients.whoami().await {
        Ok(id) => id,
        Err(e) => {
            r.fail(
                3,
                "server identity",
                format!("GetCallerIdentity failed: {e}"),
                "check the credentials (profile, environment, instance role)",
            );
            return None;
        }
    };
    match arn::principal_of(&id.arn) {
        Some(p) if &p == want => r.pass(3, "server identity", format!("running as `{p}`, which is `temporal.server_role_arn`")),
        Some(p) => r.warn(
            3,
            "server identity",
            format!("these credentials are `{p}`, not `temporal.server_role_arn` (`{want}`)"),
            "run `doctor` with the Temporal server's credentials to check the identity it runs as; if it differs, put it in `temporal.server_role_arn` and deploy",
        ),
        None => r.warn(3, "server identity", format!("these credentials are `{}`, not an IAM user or role", id.arn), "the trust policy must name the server's IAM role or user"),
    }
    Some(id)
}

/// The session name Temporal assumes an invocation role with (`ValidateSpec` step d).
const TEMPORAL_SESSION: &str = "managed-workers-aws";

/// Who calls AssumeRole on the invocation roles, as the server does: these credentials, or the
/// last hop of `temporal.intermediary_roles` reached from them.
struct Caller {
    sts: aws_sdk_sts::Client,
    /// The principal a trust policy must name for this caller (the last hop's role, else the
    /// identity of these credentials); `None` when unknown.
    principal: Option<String>,
}

/// AssumeRole of `role` by `sts`'s caller with `session` and `external_id`; the error's code and
/// message as AWS gives them.
async fn assume_as(
    sts: &aws_sdk_sts::Client,
    role: &str,
    session: &str,
    external_id: Option<&str>,
) -> Result<Credentials, (Option<String>, String)> {
    let out = sts
        .assume_role()
        .role_arn(role)
        .role_session_name(session)
        .set_external_id(external_id.map(str::to_owned))
        .send()
        .await
        .map_err(|e| {
            (
                e.code().map(str::to_owned),
                e.message().unwrap_or("no message").to_owned(),
            )
        })?;
    let c = out
        .credentials()
        .ok_or((None, "no credentials in the answer".to_owned()))?;
    Ok(Credentials::new(
        c.access_key_id(),
        c.secret_access_key(),
        Some(c.session_token().to_owned()),
        None,
        "doctor",
    ))
}

/// An STS client of the shared configuration that signs with `credentials` (an assumed role's).
fn sts_as(inputs: &Inputs<'_>, credentials: Credentials) -> aws_sdk_sts::Client {
    let config = inputs
        .clients
        .config
        .to_builder()
        .credentials_provider(SharedCredentialsProvider::new(credentials))
        .build();
    aws_sdk_sts::Client::new(&config)
}

/// Step 4: the chain of `temporal.intermediary_roles`, assumed hop by hop from these
/// credentials as the server does (each with its session name and external ID), one line a
/// hop. Returns the caller the invocation roles see, or `None` when a hop failed (its line
/// says what to fix); without a chain, these credentials (`identity`, step 3's).
async fn chain(
    r: &mut Report,
    inputs: &Inputs<'_>,
    identity: Option<&aws::Identity>,
) -> Option<Caller> {
    let tsw = crate::cli::name();
    let env = inputs.env;
    let hops = &env.temporal.intermediary_roles;
    let mut sts = inputs.clients.sts.clone();
    let Some(last) = hops.last() else {
        let principal =
            identity.map(|id| arn::principal_of(&id.arn).unwrap_or_else(|| id.arn.clone()));
        return Some(Caller { sts, principal });
    };
    let mut previous = format!(
        "`{}` (`temporal.server_role_arn`)",
        env.temporal.server_role_arn
    );
    for (i, hop) in hops.iter().enumerate() {
        let name = format!("hop {} of intermediary_roles: {}", i + 1, hop.role_arn);
        let with = match &hop.external_id {
            Some(id) => format!(" with external ID `{id}`"),
            None => " without an external ID".to_owned(),
        };
        let external = hop.external_id.as_ref().map(|e| e.as_str());
        match assume_as(&sts, &hop.role_arn, &hop.session_name, external).await {
            Ok(creds) => {
                r.pass(
                    4,
                    name,
                    format!("assumed as session `{}`{with}", hop.session_name),
                );
                sts = sts_as(inputs, creds);
            }
            Err((code, msg)) => {
                r.fail(
                    4,
                    name,
                    format!("{}: {msg}", code.as_deref().unwrap_or("error")),
                    format!(
                        "the trust policy of `{}` must let {previous} assume it{}, and {previous} needs sts:AssumeRole on it{}; or correct `temporal.intermediary_roles[{i}]` and run `{tsw} render {env_name}`",
                        hop.role_arn,
                        match &hop.external_id {
                            Some(id) => format!(" with sts:ExternalId `{id}`"),
                            None => String::new(),
                        },
                        if i == 0 {
                            format!(" (`{tsw} policy {} --for server`)", env.name)
                        } else {
                            String::new()
                        },
                        env_name = env.name,
                    ),
                );
                for role in env.invocation_roles() {
                    r.warn(
                        4,
                        invocation_check("invocation role", &role, true),
                        format!("not checked: the chain stops at hop {}", i + 1),
                        "fix the hop above",
                    );
                }
                return None;
            }
        }
        previous = format!("hop {} `{}`", i + 1, hop.role_arn);
    }
    Some(Caller {
        sts,
        principal: Some(last.role_arn.to_string()),
    })
}

/// The name of a check about an invocation role: `what`, and with several roles (one per
/// account), the role it is about.
fn invocation_check(what: &str, role: &InvocationRole, named: bool) -> String {
    if named {
        format!("{what} {}", role.role_arn)
    } else {
        what.to_owned()
    }
}

/// The descriptor key giving `role`'s external ID: `role.external_id`, or for a StackSet
/// account that overrides it, that account's override.
fn external_id_key(env: &Environment, role: &InvocationRole) -> String {
    if env.stack_set().is_some() && role.external_id != env.role.external_id.as_str() {
        format!("`stack_set.overrides.\"{}\".external_id`", role.account)
    } else {
        "`role.external_id`".to_owned()
    }
}

/// The descriptor key naming the principal an invocation role trusts (`TemporalIamRoleArn`).
fn principal_key(env: &Environment) -> &'static str {
    if env.temporal.intermediary_roles.is_empty() {
        "`temporal.server_role_arn` (the trust policy's principal)"
    } else {
        "the last hop of `temporal.intermediary_roles` (the trust policy's principal)"
    }
}

/// What the role is deployed with, as AWS holds it.
enum Deployed {
    Stack(Box<StackInfo>),
    /// The StackSet, its instances and each instance's parameter overrides.
    StackSet(Box<Current>),
    /// A StackSet in another account than these credentials' (the server's, run outside the
    /// StackSet's account): not read, its roles are those `[outputs]` records.
    StackSetUnread,
}

/// Step 4: the stack (or StackSet) as recorded; the role needs the external ID; the role can
/// see the functions. For a StackSet, every account's role, one line each. `identity` is
/// these credentials' (step 3's).
async fn role(
    r: &mut Report,
    inputs: &Inputs<'_>,
    identity: Option<&aws::Identity>,
) -> ThroughRoles {
    let env = inputs.env;
    let deployed = match &inputs.stack_set {
        Some(_) if stack_set_unreadable(r, env, identity) => {
            recorded_outputs(r, env).map(|_| Deployed::StackSetUnread)
        }
        Some(spec) => stack_set_deployed(r, inputs, spec)
            .await
            .map(|c| Deployed::StackSet(Box::new(c))),
        None => stack_deployed(r, inputs)
            .await
            .map(|s| Deployed::Stack(Box::new(s))),
    };
    let Some(deployed) = deployed else {
        return ThroughRoles::default();
    };
    // A hop that fails stops the checks through the chain, not those of the role in IAM.
    let caller = chain(r, inputs, identity).await;
    // Through the chain (or these credentials): none when a hop failed.
    let through: Vec<(InvocationRole, &Caller)> = match &caller {
        Some(caller) => env
            .invocation_roles()
            .into_iter()
            .map(|role| (role, caller))
            .collect(),
        None => Vec::new(),
    };
    // With one role (one account) the lines keep their short names.
    let named = through.len() > 1;
    let mut assumed = Vec::new();
    for (role, caller) in &through {
        let name = invocation_check("AssumeRole with the external ID", role, named);
        match assume_as(
            &caller.sts,
            &role.role_arn,
            TEMPORAL_SESSION,
            Some(&role.external_id),
        )
        .await
        {
            Ok(c) => {
                r.pass(
                    4,
                    name,
                    format!(
                        "`{}` can be assumed with {}",
                        role.role_arn,
                        external_id_key(env, role)
                    ),
                );
                assumed.push((role, c));
            }
            Err((code, msg)) => r.fail(
                4,
                name,
                format!("{}: {msg}", code.as_deref().unwrap_or("error")),
                format!(
                    "check {} and {}, then deploy",
                    principal_key(env),
                    external_id_key(env, role)
                ),
            ),
        }
    }
    // The trust policy each denial is judged by: the live role of a single stack, as IAM holds
    // it; for a StackSet, as it declares each account's role (its role is in that account's
    // IAM, which these credentials do not read).
    let (trust, resources) = match &deployed {
        Deployed::Stack(stack) => live_role(r, inputs, stack).await.unzip(),
        Deployed::StackSet(_) | Deployed::StackSetUnread => {
            r.warn(
                4,
                "role as declared",
                "not checked for a StackSet: each account's role is in that account's IAM, which these credentials do not read",
                format!("run `{} status {}` with the StackSet owner's credentials: it detects drift on every instance", crate::cli::name(), env.name),
            );
            (None, None)
        }
    };
    for (role, caller) in &through {
        let trust = match &deployed {
            // Only the role of this environment's stack is read from IAM.
            Deployed::Stack(stack) => trust
                .clone()
                .filter(|_| cfn::role_arn(&stack.outputs) == Some(role.role_arn.as_str())),
            Deployed::StackSet(current) => declared_trust(current, &role.account),
            // As the descriptor declares it, once AssumeRole with the external ID proved that
            // the role trusts this caller with it.
            Deployed::StackSetUnread => inputs
                .stack_set
                .as_ref()
                .filter(|_| assumed.iter().any(|(a, _)| a.role_arn == role.role_arn))
                .and_then(|spec| trust_of(&spec.parameters_of(&role.account))),
        };
        external_id_enforced(r, caller, role, named, trust.as_ref()).await;
    }
    if let Some(resources) = resources {
        registered_versions_covered(r, env, &resources);
    }
    let mut through_roles = ThroughRoles::default();
    for (role, creds) in assumed {
        let client = lambda_client(inputs, Some(creds.clone()));
        for f in &role.functions {
            let name = invocation_check(&format!("role can GetFunction {f}"), role, named);
            match get_function(&client, f).await {
                Ok(_) => r.pass(4, name, "through the assumed role"),
                Err(e) => r.fail(4, name, e, "add the function to `role.lambda_function_arns` and deploy, or create the function"),
            }
        }
        if env.stack_set().is_some() {
            through_roles.insert(role.account.clone(), creds);
        }
    }
    through_roles
}

/// For a StackSet environment, the credentials of each account's role as step 4 assumed it,
/// by account: the server's own credentials cannot read another account's functions, so step 5
/// reads them through these, as Temporal reaches them. Empty for a single stack.
type ThroughRoles = BTreeMap<String, Credentials>;

/// Step 4: the single stack is complete and `[outputs]` match it. Returns the stack, or `None`
/// (its line says what to fix).
async fn stack_deployed(r: &mut Report, inputs: &Inputs<'_>) -> Option<StackInfo> {
    let tsw = crate::cli::name();
    let env = inputs.env;
    let deploy_fix = format!("run `{tsw} deploy {}`", env.name);
    let name = match env.single_stack("doctor") {
        Ok(name) => name,
        Err(e) => {
            r.fail(4, "role stack", e.to_string(), "run `plan` instead");
            return None;
        }
    };
    let stack = match inputs.clients.stacks.describe_stack(name).await {
        Ok(Some(s))
            if matches!(
                s.status,
                StackStatus::CreateComplete
                    | StackStatus::UpdateComplete
                    | StackStatus::ImportComplete
            ) =>
        {
            s
        }
        Ok(Some(s)) => {
            let detail = format!("stack `{name}` is {}", s.status);
            r.fail(4, "role stack", detail, deploy_fix);
            return None;
        }
        Ok(None) => {
            let detail = format!("stack `{name}` does not exist");
            r.fail(4, "role stack", detail, deploy_fix);
            return None;
        }
        Err(e) => {
            let fix = "check the credentials and region";
            r.fail(4, "role stack", e.to_string(), fix);
            return None;
        }
    };
    // Someone else's stack of the name: nothing of it says anything about this environment.
    if let Err(e) = crate::commands::deploy::owner(env, false).check(name, &stack) {
        let fix = format!(
            "choose another `role.stack_name`, or run `{tsw} deploy {} --adopt-stack` if this environment owns it",
            env.name
        );
        r.fail(4, "role stack", e.to_string(), fix);
        return None;
    }
    r.pass(
        4,
        "role stack",
        format!("stack `{name}` is {}", stack.status),
    );
    let recorded = recorded_outputs(r, env)?;
    let drift = cfn::drift(recorded, &stack.outputs, &stack.stack_id);
    if drift.is_empty() {
        r.pass(4, "recorded outputs", "[outputs] match the stack");
    } else {
        r.fail(
            4,
            "recorded outputs",
            format!("[outputs] do not match the stack: {}", drift.join("; ")),
            deploy_fix.clone(),
        );
    }
    Some(stack)
}

/// Step 4: the `[outputs]` a deploy recorded; `None` before the first (its line says so).
fn recorded_outputs<'e>(r: &mut Report, env: &'e Environment) -> Option<&'e Outputs> {
    if env.outputs.is_none() {
        r.fail(
            4,
            "recorded outputs",
            "the descriptor has no [outputs]",
            format!("run `{} deploy {}`", crate::cli::name(), env.name),
        );
    }
    env.outputs.as_ref()
}

/// Step 4: whether these credentials are of another account than the StackSet's
/// (`aws.account_id`), as those of a Temporal server outside it are: they cannot read the
/// StackSet (it is not found, or they are not its delegated administrator), so its checks are
/// left to `status`, and a WARN says so. Unknown when `aws.account_id` is unset or STS did not
/// answer: the StackSet is read.
fn stack_set_unreadable(
    r: &mut Report,
    env: &Environment,
    identity: Option<&aws::Identity>,
) -> bool {
    let (Some(owner), Some(identity)) = (&env.aws.account_id, identity) else {
        return false;
    };
    let owner = owner.to_string();
    if identity.account == owner {
        return false;
    }
    r.warn(
        4,
        "stack set",
        format!(
            "not read: these credentials are of account {}, and the StackSet is in account {owner} (`aws.account_id`); each account's role is checked as `[outputs.role_arns]` records it",
            identity.account
        ),
        format!(
            "run `{} status {}` with the owner's credentials: it checks the StackSet, its instances and drift",
            crate::cli::name(),
            env.name
        ),
    );
    true
}

/// Step 4: the StackSet is as the descriptor declares it and as `[outputs]` record it, with
/// every instance CURRENT (one line each). Reads what `plan` and `status` read (the StackSet,
/// its instances, the accounts of its OUs, each instance's overrides); detects no drift (an
/// operation: `status` runs it). Returns what was read, or `None` (its line says what to fix).
async fn stack_set_deployed(
    r: &mut Report,
    inputs: &Inputs<'_>,
    spec: &StackSetSpec,
) -> Option<Current> {
    let tsw = crate::cli::name();
    let env = inputs.env;
    let deploy_fix = format!("run `{tsw} deploy {}`", env.name);
    let name = &spec.name;
    const CHECK: &str = "stack set";
    let sets = inputs.clients.stack_sets();
    let current = match sets.current(spec).await {
        Ok(current) => current,
        // The accounts of the OUs of a StackSet that does not exist cannot be read either.
        Err(_) if matches!(sets.describe(name, spec.call_as).await, Ok(None)) => {
            let detail = format!("StackSet `{name}` does not exist");
            r.fail(4, CHECK, detail, deploy_fix);
            return None;
        }
        Err(e) => {
            let fix = format!(
                "check the credentials and region: `{tsw} policy {} --for doctor` names what doctor reads",
                env.name
            );
            r.fail(4, CHECK, e.to_string(), fix);
            return None;
        }
    };
    let Some(live) = &current.stack_set else {
        let detail = format!("StackSet `{name}` does not exist");
        r.fail(4, CHECK, detail, deploy_fix);
        return None;
    };
    // Someone else's StackSet of the name: nothing of it says anything about this environment.
    if let Err(e) = crate::commands::deploy::owner(env, false).check_stack_set(live) {
        let fix = format!(
            "choose another `stack_set.name`, or run `{tsw} deploy {} --adopt-stack` if this environment owns it",
            env.name
        );
        r.fail(4, CHECK, e.to_string(), fix);
        return None;
    }
    let detail = format!("StackSet `{name}` (`{}`) is {}", live.id, live.status);
    if live.status == "ACTIVE" {
        r.pass(4, CHECK, detail);
    } else {
        r.fail(4, CHECK, detail, deploy_fix.clone());
    }
    let plan = stack_set::plan::plan(spec, &current);
    if stack_set::steps(&plan, &current).is_empty() {
        r.pass(
            4,
            "stack set as declared",
            "a deploy would change nothing: the StackSet and an instance in every targeted account are as the descriptor declares them",
        );
    } else {
        let pending = crate::stack_sets::pending_changes(&plan).join("; ");
        let detail = format!("a deploy would change: {pending}");
        r.fail(4, "stack set as declared", detail, deploy_fix.clone());
    }
    let mut instances: Vec<_> = current.instances.iter().collect();
    instances.sort_by(|a, b| (&a.account, &a.region).cmp(&(&b.account, &b.region)));
    for i in instances {
        let check = format!("instance {} {}", i.account, i.region);
        let detail = format!(
            "{} ({}){}",
            i.status.as_str(),
            i.detailed_status.as_deref().unwrap_or("-"),
            i.reason
                .as_deref()
                .map(|r| format!(": {r}"))
                .unwrap_or_default()
        );
        match &i.status {
            InstanceStatus::Current => r.pass(4, check, detail),
            InstanceStatus::Inoperable => r.fail(
                4,
                check,
                detail,
                format!(
                    "a deletion failed: fix its stack in account {}, then run `{tsw} deploy {}`",
                    i.account, env.name
                ),
            ),
            _ => r.fail(4, check, detail, deploy_fix.clone()),
        }
    }
    let recorded = recorded_outputs(r, env)?;
    let drift = crate::stack_sets::record_drift(env, recorded, &live.id, &current.instances);
    if drift.is_empty() {
        r.pass(
            4,
            "recorded outputs",
            "[outputs] match the StackSet and its CURRENT instances",
        );
    } else {
        let detail = format!("[outputs] do not match the StackSet: {}", drift.join("; "));
        r.fail(4, "recorded outputs", detail, deploy_fix);
    }
    Some(current)
}

/// The trust policy a StackSet declares for `account`'s role: its principal
/// (`TemporalIamRoleArn`) with `sts:ExternalId` the account's override, else the StackSet's.
fn declared_trust(current: &Current, account: &str) -> Option<cfn::Trust> {
    let set = current.stack_set.as_ref()?;
    let mut parameters = set.parameters.clone();
    if let Some(overrides) = current.overrides.get(account) {
        parameters.extend(overrides.iter().map(|(k, v)| (k.clone(), v.clone())));
    }
    trust_of(&parameters)
}

/// The trust policy the template declares for an instance's `parameters`: its principal
/// (`TemporalIamRoleArn`) with `sts:ExternalId`.
fn trust_of(parameters: &BTreeMap<String, String>) -> Option<cfn::Trust> {
    let principal = parameters.get(cfn::PRINCIPAL_PARAMETER)?;
    let external_id = parameters.get(cfn::EXTERNAL_ID_PARAMETER)?;
    Some(cfn::Trust {
        principals: BTreeSet::from([principal.clone()]),
        external_ids: BTreeSet::from([external_id.clone()]),
        unconditional: false,
    })
}

/// Step 4: the role IAM holds is the one the template declares for the deployed parameters.
/// Returns its trust policy and the resources its inline policies grant, when it could be read.
async fn live_role(
    r: &mut Report,
    inputs: &Inputs<'_>,
    stack: &StackInfo,
) -> Option<(cfn::Trust, BTreeSet<String>)> {
    let tsw = crate::cli::name();
    const CHECK: &str = "role as declared";
    let name = cfn::role_arn(&stack.outputs)?.rsplit('/').next()?;
    let role = match inputs.clients.live_role(name).await {
        Ok(role) => role,
        Err(e) => {
            r.fail(4, CHECK, format!("cannot read role `{name}`: {e}"), "check the credentials (iam:GetRole, iam:ListRolePolicies, iam:GetRolePolicy, iam:ListAttachedRolePolicies)");
            return None;
        }
    };
    let drift = cfn::role_drift(
        &stack.parameters,
        &role.trust_policy,
        &role.inline_policies,
        &role.attached_policies,
    );
    if drift.is_empty() {
        r.pass(
            4,
            CHECK,
            format!(
                "role `{name}`: trust policy and invoke policy are as the template declares them"
            ),
        );
    } else {
        r.fail(
            4,
            CHECK,
            format!("role `{name}` was changed outside the stack: {}", drift.join("; ")),
            format!("undo the change in IAM, or run `{tsw} deploy ENV`: it restores what the template declares"),
        );
    }
    let trust = cfn::Trust::parse(&role.trust_policy).ok()?;
    Some((trust, cfn::granted_resources(&role.inline_policies)))
}

/// Step 4: every registered version that names a qualified function ARN
/// (`function:NAME:VERSION`, recorded in `[outputs].registered`) is covered by the role's
/// invoke policy as IAM holds it (`resources`). An unqualified `function:NAME` there covers
/// only unqualified calls: the guide now lists `function:NAME:*`. `validate` holds the
/// descriptor to this; this check finds a role deployed before the descriptor said so.
fn registered_versions_covered(r: &mut Report, env: &Environment, resources: &BTreeSet<String>) {
    let tsw = crate::cli::name();
    let registered: Vec<String> = env
        .outputs
        .iter()
        .flat_map(|o| o.registered.iter().map(|id| id.to_string()))
        .collect();
    for wd in &env.worker_deployments {
        let arn = wd.lambda_function_arn.as_str();
        let mut parts = arn.splitn(8, ':');
        let unqualified: Vec<&str> = parts.by_ref().take(7).collect();
        let qualifier = parts.next();
        if !registered.contains(&wd.id()) || qualifier.is_none_or(|q| q == "*") {
            continue;
        }
        let name = format!("role covers {}", wd.id());
        if resources.iter().any(|p| arn::resource_matches(p, arn)) {
            r.pass(4, name, format!("the role's invoke policy covers `{arn}`"));
        } else {
            let listed = resources
                .iter()
                .map(|p| format!("`{p}`"))
                .collect::<Vec<_>>()
                .join(", ");
            r.warn(
                4,
                name,
                format!("the version is registered with `{arn}`, which the role's invoke policy does not cover (it allows {listed}): Temporal's invocations of it are denied"),
                format!("list `{}:*` (every published version) in `role.lambda_function_arns` and run `{tsw} deploy {}`", unqualified.join(":"), env.name),
            );
        }
    }
}

/// Step 4: AssumeRole without the external ID is denied, and the denial proves the condition:
/// only a caller the trust policy names would be let in without it. A denial to anyone else
/// (e.g. `doctor` run with an administrator's credentials) says nothing about the condition.
async fn external_id_enforced(
    r: &mut Report,
    caller: &Caller,
    role: &InvocationRole,
    named: bool,
    trust: Option<&cfn::Trust>,
) {
    let name = invocation_check("AssumeRole without the external ID is denied", role, named);
    let role_arn = &role.role_arn;
    match assume_as(&caller.sts, role_arn, TEMPORAL_SESSION, None).await {
        Ok(_) => r.fail(
            4,
            name,
            format!("`{role_arn}` can be assumed without an external ID, so Temporal refuses it"),
            "enforce `sts:ExternalId` in the trust policy: deploy the role from this tool's template",
        ),
        Err((Some(code), _)) if code == "AccessDenied" => {
            match denial_proves(trust, caller.principal.as_deref()) {
                Ok(proof) => r.pass(4, name, format!("AccessDenied {proof}")),
                Err(why) => r.warn(
                    4,
                    name,
                    format!("AccessDenied, but that does not prove the external ID is enforced: {why}"),
                    "run `doctor` with the Temporal server's credentials (`temporal.server_role_arn`)",
                ),
            }
        }
        Err((code, msg)) => r.warn(4, name, format!("unexpected answer {}: {msg}", code.as_deref().unwrap_or("")), "Temporal needs exactly AccessDenied here"),
    }
}

/// Whether a denied AssumeRole without the external ID proves the condition: what it proves,
/// or why it does not.
fn denial_proves(trust: Option<&cfn::Trust>, caller: Option<&str>) -> Result<String, String> {
    let trust = trust.ok_or("the trust policy could not be read")?;
    let caller = caller.ok_or("the caller's identity is unknown")?;
    if !trust.trusts(caller) {
        return Err(format!(
            "these credentials (`{caller}`) are not a principal the trust policy names, so they are denied with or without it"
        ));
    }
    if trust.external_ids.is_empty() || trust.unconditional {
        return Err("the trust policy does not require sts:ExternalId in every statement".into());
    }
    Ok(format!(
        "for `{caller}`, whom the trust policy names: its sts:ExternalId condition is enforced"
    ))
}

/// Step 5: the versions of `[[worker_deployments]]` exist with Lambda compute. Returns the
/// role each version holds (version ID, role ARN), where the server's record names one. The
/// Temporal CLI runs off the runtime ([`worker_deployments::unblock`]), so Ctrl-C ends it.
async fn registrations(r: &mut Report, inputs: &Inputs<'_>) -> Vec<(String, String)> {
    let tsw = crate::cli::name();
    let env = inputs.env;
    let mut held_roles = Vec::new();
    if env.worker_deployments.is_empty() {
        return held_roles;
    }
    let client = match &inputs.temporal {
        Ok(c) => c,
        Err(e) => {
            r.warn(
                5,
                "worker deployment versions",
                format!("not checked: {e}"),
                "install the Temporal CLI (1.9+) or set TEMPORAL_CLI",
            );
            return held_roles;
        }
    };
    for wd in &env.worker_deployments {
        let name = format!("version {}", wd.id());
        let described = worker_deployments::unblock({
            let (client, wd) = (client.clone(), wd.clone());
            move || client.describe_version(&wd)
        })
        .await;
        match described {
            Ok(Some(v)) => {
                let provider = v
                    .pointer("/computeConfig/scalingGroups/default/provider/type")
                    .and_then(|p| p.as_str())
                    .unwrap_or("none");
                if provider == AWS_LAMBDA {
                    r.pass(5, name, format!("registered with {AWS_LAMBDA} compute"));
                    if let Some(role) = held_compute(r, env, client, wd).await {
                        held_roles.push((wd.id(), role));
                    }
                    let failure = inputs.worker_failures.get(wd.lambda_function_arn.as_str());
                    task_queue_bound(r, env, wd, &v, failure);
                    published_qualifier(r, wd);
                } else {
                    r.fail(
                        5,
                        name,
                        format!("registered, but its compute provider is `{provider}`"),
                        format!("run `{tsw} register {}`", env.name),
                    );
                }
            }
            Ok(None) => r.warn(
                5,
                name,
                "not registered yet",
                format!("run `{tsw} register {}`", env.name),
            ),
            Err(e) => r.fail(
                5,
                name,
                e.to_string(),
                "check `temporal.address` and the connection options",
            ),
        }
    }
    left_behind(r, env, client).await;
    held_roles
}

/// Step 5: the role each version holds still exists. Deleting the stack (`destroy`) deletes
/// the role but not the versions, and the server goes on invoking through it; every other
/// check of the version may still pass. Only roles of the environment's account are read.
async fn held_roles_exist(r: &mut Report, inputs: &Inputs<'_>, held: &[(String, String)]) {
    let tsw = crate::cli::name();
    // The stack's account, which need not be the server's: a role held in another account is
    // not ours to look up.
    let account = inputs.env.account().map(|(id, _)| id);
    for (id, role_arn) in held {
        let Some(arn) = env_descriptor::arn::Arn::parse(role_arn) else {
            continue;
        };
        if account.as_deref().is_some_and(|a| a != arn.account) {
            continue;
        }
        let Some(name) = role_arn.rsplit('/').next() else {
            continue;
        };
        match inputs.clients.live_role(name).await {
            Ok(_) => {}
            Err(e) if e.code() == Some("NoSuchEntity") => r.fail(
                5,
                format!("role of {id}"),
                format!("the version holds role `{role_arn}`, which no longer exists: Temporal cannot invoke its function"),
                format!(
                    "deploy the stack again and register (`{tsw} deploy {0} --register`), or retire the version (`temporal worker deployment delete-version`)",
                    inputs.env.name
                ),
            ),
            Err(e) => r.warn(
                5,
                format!("role of {id}"),
                format!("not checked: cannot read role `{name}`: {e}"),
                "let these credentials call iam:GetRole",
            ),
        }
    }
}

/// Step 5: versions of the descriptor's deployments that still hold Lambda compute but are no
/// longer in it (a build ID it moved away from): Temporal may still invoke their functions.
async fn left_behind(r: &mut Report, env: &Environment, client: &worker_deployments::Client) {
    let found = worker_deployments::unblock({
        let (client, listed) = (client.clone(), env.worker_deployments.clone());
        move || client.left_behind(&listed)
    })
    .await;
    for found in found {
        match found {
            Ok(version) => r.warn(
                5,
                format!("version {}", version.id),
                "still has aws-lambda compute but is not in the descriptor, so Temporal may still invoke its function",
                format!("retire it: `{}`", version.retire),
            ),
            Err(e) => r.warn(
                5,
                "versions no longer in the descriptor",
                format!("not checked: {e}"),
                "check the connection options",
            ),
        }
    }
}

/// Step 5: the compute config the version holds is the one the descriptor describes (its
/// function, the role `deploy` recorded, `role.external_id`), and the server's own last
/// validation of it passed. The server invokes through what it holds, not what the descriptor
/// says: after a rotated external ID or an out-of-band update every other check passes while
/// invocations fail.
async fn held_compute(
    r: &mut Report,
    env: &Environment,
    client: &worker_deployments::Client,
    wd: &env_descriptor::WorkerDeployment,
) -> Option<String> {
    let tsw = crate::cli::name();
    let name = format!("compute config of {}", wd.id());
    let register = format!("run `{tsw} register {}`", env.name);
    let held = worker_deployments::unblock({
        let (client, wd) = (client.clone(), wd.clone());
        move || client.held_compute(&wd)
    })
    .await;
    let held = match held {
        Ok(Some(held)) => held,
        Ok(None) => {
            r.warn(5, name, "not checked: the server holds no record of the version's Lambda config (its Worker Controller Instance workflow)", register);
            return None;
        }
        Err(e) => {
            r.warn(5, name, format!("not checked: {e}"), "let these credentials read the namespace's workflow histories (the version's Worker Controller Instance)");
            return None;
        }
    };
    let role = Some(held.role_arn.clone());
    let differences = held_differences(env, wd, &held);
    if !differences.is_empty() {
        let detail = format!("the version holds {}", differences.join("; "));
        r.fail(
            5,
            name,
            detail,
            format!("{register}: it updates the version's compute config"),
        );
        return role;
    }
    let agrees = "function, role and external ID as the descriptor and [outputs] name them";
    match held.validation {
        Validation::Passed { at } => {
            r.pass(
                5,
                name,
                format!("{agrees}; validated by the server at {at}"),
            );
        }
        Validation::Failed { at, message } => r.fail(
            5,
            name,
            format!("{agrees}, but the server's validation at {at} failed: {message}"),
            format!(
                "fix what the server names (the checks of step 4 point at it), then {register}"
            ),
        ),
        Validation::Unknown => r.warn(
            5,
            name,
            format!("{agrees}; the server's validation of it is not in its record"),
            register,
        ),
    }
    role
}

/// What the version holds that the descriptor (and its `[outputs]`) do not say, each as
/// "what it holds, but what the descriptor says".
fn held_differences(
    env: &Environment,
    wd: &env_descriptor::WorkerDeployment,
    held: &HeldCompute,
) -> Vec<String> {
    let mut differences = Vec::new();
    if held.function_arn != wd.lambda_function_arn.as_str() {
        differences.push(format!(
            "Lambda function `{}`, but its `lambda_function_arn` is `{}`",
            held.function_arn, wd.lambda_function_arn
        ));
    }
    // The role and external ID `register` gives the version: for a StackSet, those of its
    // function's account.
    let wanted = env.invocation_for(wd.lambda_function_arn.as_str()).ok();
    match &wanted {
        Some((recorded, _)) if &held.role_arn != recorded => {
            differences.push(match env.stack_set() {
                None => format!(
                    "role `{}`, but [outputs].role_arn is `{recorded}`",
                    held.role_arn
                ),
                Some(_) => format!(
                    "role `{}`, but [outputs.role_arns] records `{recorded}` for its function's account",
                    held.role_arn
                ),
            });
        }
        _ => {}
    }
    let (external_id, key) = match &wanted {
        Some((_, id)) if env.stack_set().is_some() && *id != &env.role.external_id => (
            id.as_str(),
            "its account's `stack_set.overrides` external ID",
        ),
        _ => (env.role.external_id.as_str(), "`role.external_id`"),
    };
    if held.external_id != external_id {
        differences.push(format!(
            "external ID `{}`, but {key} is `{external_id}`",
            held.external_id
        ));
    }
    differences
}

/// Step 5: a task queue is bound to the version. Temporal invokes the function once, at
/// `create-version`, so that the worker polls and binds its queues; only that poll binds them,
/// so a bound queue proves Lambda ran the worker and the worker reached the frontend.
fn task_queue_bound(
    r: &mut Report,
    env: &Environment,
    wd: &env_descriptor::WorkerDeployment,
    version: &serde_json::Value,
    worker_failure: Option<&String>,
) {
    let tsw = crate::cli::name();
    let name = format!("task queue bound to {}", wd.id());
    let queues = worker_deployments::bound_task_queues(version);
    if queues.is_empty() {
        let why = worker_failure
            .map(|f| format!("; its last invocation failed: {f}"))
            .unwrap_or_default();
        r.fail(
            5,
            name,
            format!("no task queue is bound: the function's first invocation (at registration) never reached a polling worker, so Temporal never routes a workflow to the version{why}"),
            format!("fix the cause the checks above name (the function's timeout, its TEMPORAL_* variables, its reach to `temporal.address`, its deployment name and build ID equal to the version's), then register a new build ID (`{tsw} register {}`): Temporal invokes a version only once to bind its queues", env.name),
        );
    } else {
        let list = queues
            .iter()
            .map(|q| format!("`{q}`"))
            .collect::<Vec<_>>()
            .join(", ");
        r.pass(
            5,
            name,
            format!("{list}: Lambda ran the worker and it polled the frontend"),
        );
    }
}

/// Step 5: the version names a published function version or alias, so that a later deploy of
/// the function's code cannot change what an existing build ID runs.
fn published_qualifier(r: &mut Report, wd: &env_descriptor::WorkerDeployment) {
    let arn = wd.lambda_function_arn.as_str();
    let qualifier = arn.splitn(8, ':').nth(7);
    let name = format!("function version of {}", wd.id());
    match qualifier {
        Some(q) if q != "$LATEST" => r.pass(5, name, format!("qualifier `{q}`")),
        _ => r.warn(
            5,
            name,
            format!("`{arn}` runs `$LATEST`, which changes with every code update"),
            "publish a version (or an alias) per build ID and put its qualified ARN in `lambda_function_arn`, then register",
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TRUST: &str = r#"{"Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111111111111:role/temporal"},
        "Action":"sts:AssumeRole","Condition":{"StringEquals":{"sts:ExternalId":"ext-id-1"}}}]}"#;

    /// With one invocation role the lines keep their names; with several (one per account),
    /// each names its role.
    #[test]
    fn a_check_names_its_role_only_among_several() {
        let role = InvocationRole {
            account: "222222222222".into(),
            role_arn: "arn:aws:iam::222222222222:role/invoke".into(),
            external_id: "ext-12345".into(),
            functions: Vec::new(),
        };
        assert_eq!(
            invocation_check("AssumeRole with the external ID", &role, false),
            "AssumeRole with the external ID"
        );
        assert_eq!(
            invocation_check("AssumeRole with the external ID", &role, true),
            "AssumeRole with the external ID arn:aws:iam::222222222222:role/invoke"
        );
    }

    #[test]
    fn only_a_denial_to_a_trusted_caller_proves_the_external_id() {
        let trust = cfn::Trust::parse(TRUST).unwrap();
        let trusted = "arn:aws:iam::111111111111:role/temporal";
        assert!(denial_proves(Some(&trust), Some(trusted)).is_ok());
        let admin = denial_proves(Some(&trust), Some("arn:aws:iam::111111111111:user/admin"));
        assert!(admin.unwrap_err().contains("not a principal"));
        assert!(denial_proves(None, Some(trusted)).is_err());
        assert!(denial_proves(Some(&trust), None).is_err());
        let open =
            cfn::Trust::parse(&TRUST.replace("sts:ExternalId", "aws:SourceAccount")).unwrap();
        assert!(denial_proves(Some(&open), Some(trusted)).is_err());
    }
}
