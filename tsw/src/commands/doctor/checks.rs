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

use aws::{Clients, Lambda};
use aws::{DeployError, StackInfo, StackStatus};
use aws_credential_types::Credentials;
use aws_sdk_sts::error::ProvideErrorMetadata;
use env_descriptor::{AWS_LAMBDA, Environment, NO_SYNC, arn};
use env_render::cfn;
use env_render::dynamic_config::{
    self, COMPUTE_PROVIDERS_ENABLED, ENABLED, SCALING_ALGORITHMS_ENABLED,
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
}

/// Runs every check.
pub async fn run(inputs: &Inputs<'_>) -> Report {
    let mut r = Report::default();
    let functions = functions(inputs.env);
    let private = frontend(&mut r, inputs).await;
    lambda_functions(&mut r, inputs, &functions, private).await;
    dynamic_config_enables_wci(&mut r, inputs);
    identity(&mut r, inputs).await;
    role(&mut r, inputs, &functions).await;
    worker_functions(&mut r, inputs).await;
    let held = registrations(&mut r, inputs).await;
    held_roles_exist(&mut r, inputs, &held).await;
    r
}

/// What `temporalio.contrib.aws.lambda_worker` keeps of each invocation for its shutdown: it
/// refuses to start when the function's timeout leaves nothing after it (reference §6), and the
/// version's task queue is then never bound.
pub const SHUTDOWN_RESERVE_SECS: i32 = 7;

/// Every concrete function ARN the environment names (wildcards cannot be looked up).
fn functions(env: &Environment) -> Vec<String> {
    let mut all: Vec<String> = env
        .worker_deployments
        .iter()
        .map(|w| w.lambda_function_arn.to_string())
        .collect();
    all.extend(
        env.role
            .lambda_function_arns
            .iter()
            .filter(|a| !a.contains('*'))
            .map(|a| a.to_string()),
    );
    all.sort();
    all.dedup();
    all
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
async fn worker_functions(r: &mut Report, inputs: &Inputs<'_>) {
    let client = lambda_client(inputs, None);
    let mut seen = Vec::new();
    for wd in &inputs.env.worker_deployments {
        let arn = wd.lambda_function_arn.to_string();
        if seen.contains(&arn) {
            continue;
        }
        seen.push(arn.clone());
        // A missing function is reported by step 1's GetFunction check.
        if let Ok(config) = get_function_configuration(&client, &arn).await {
            function_timeout(r, &arn, config.timeout);
            worker_variables(r, inputs.env, wd, &arn, &config.environment.variables);
        }
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

/// Step 3: the identity these credentials have is the server's.
async fn identity(r: &mut Report, inputs: &Inputs<'_>) {
    let want = &inputs.env.temporal.server_role_arn;
    match inputs.clients.whoami().await {
        Err(e) => r.fail(3, "server identity", format!("GetCallerIdentity failed: {e}"), "check the credentials (profile, environment, instance role)"),
        Ok(id) => match arn::principal_of(&id.arn) {
            Some(p) if &p == want => r.pass(3, "server identity", format!("running as `{p}`, which is `temporal.server_role_arn`")),
            Some(p) => r.warn(
                3,
                "server identity",
                format!("these credentials are `{p}`, not `temporal.server_role_arn` (`{want}`)"),
                "run `doctor` with the Temporal server's credentials to check the identity it runs as; if it differs, put it in `temporal.server_role_arn` and deploy",
            ),
            None => r.warn(3, "server identity", format!("these credentials are `{}`, not an IAM user or role", id.arn), "the trust policy must name the server's IAM role or user"),
        },
    }
}

async fn assume(
    inputs: &Inputs<'_>,
    role: &str,
    external_id: Option<&str>,
) -> Result<Credentials, (Option<String>, String)> {
    let out = inputs
        .clients
        .sts
        .assume_role()
        .role_arn(role)
        .role_session_name("managed-workers-aws")
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

/// Step 4: the stack as recorded; the role needs the external ID; the role can see the functions.
async fn role(r: &mut Report, inputs: &Inputs<'_>, functions: &[String]) {
    let tsw = crate::cli::name();
    let env = inputs.env;
    let deploy_fix = format!("run `{tsw} deploy {}`", env.name);
    let name = match env.single_stack("doctor") {
        Ok(name) => name,
        Err(e) => return r.fail(4, "role stack", e.to_string(), "run `plan` instead"),
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
            return r.fail(
                4,
                "role stack",
                format!("stack `{name}` is {}", s.status),
                deploy_fix,
            );
        }
        Ok(None) => {
            return r.fail(
                4,
                "role stack",
                format!("stack `{name}` does not exist"),
                deploy_fix,
            );
        }
        Err(e) => {
            return r.fail(
                4,
                "role stack",
                e.to_string(),
                "check the credentials and region",
            );
        }
    };
    r.pass(
        4,
        "role stack",
        format!("stack `{name}` is {}", stack.status),
    );
    let Some(recorded) = &env.outputs else {
        return r.fail(
            4,
            "recorded outputs",
            "the descriptor has no [outputs]",
            deploy_fix,
        );
    };
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
    let Some(role_arn) = recorded.role_arn.as_deref() else {
        return r.fail(
            4,
            "recorded outputs",
            "the descriptor's [outputs] has no `role_arn`",
            deploy_fix,
        );
    };
    let creds = match assume(inputs, role_arn, Some(&env.role.external_id)).await {
        Ok(c) => {
            r.pass(
                4,
                "AssumeRole with the external ID",
                format!("`{role_arn}` can be assumed with `role.external_id`"),
            );
            Some(c)
        }
        Err((code, msg)) => {
            r.fail(4, "AssumeRole with the external ID", format!("{}: {msg}", code.as_deref().unwrap_or("error")), "check `temporal.server_role_arn` (the trust policy's principal) and `role.external_id`, then deploy");
            None
        }
    };
    let (trust, resources) = live_role(r, inputs, &stack).await.unzip();
    external_id_enforced(r, inputs, role_arn, trust.as_ref()).await;
    if let Some(resources) = resources {
        registered_versions_covered(r, env, &resources);
    }
    if let Some(creds) = creds {
        let client = lambda_client(inputs, Some(creds));
        for f in functions {
            match get_function(&client, f).await {
                Ok(_) => r.pass(4, format!("role can GetFunction {f}"), "through the assumed role"),
                Err(e) => r.fail(4, format!("role can GetFunction {f}"), e, "add the function to `role.lambda_function_arns` and deploy, or create the function"),
            }
        }
    }
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
    inputs: &Inputs<'_>,
    role_arn: &str,
    trust: Option<&cfn::Trust>,
) {
    const CHECK: &str = "AssumeRole without the external ID is denied";
    let caller = inputs
        .clients
        .whoami()
        .await
        .ok()
        .and_then(|id| arn::principal_of(&id.arn).or(Some(id.arn)));
    match assume(inputs, role_arn, None).await {
        Ok(_) => r.fail(
            4,
            CHECK,
            format!("`{role_arn}` can be assumed without an external ID, so Temporal refuses it"),
            "enforce `sts:ExternalId` in the trust policy: deploy the role from this tool's template",
        ),
        Err((Some(code), _)) if code == "AccessDenied" => {
            match denial_proves(trust, caller.as_deref()) {
                Ok(proof) => r.pass(4, CHECK, format!("AccessDenied {proof}")),
                Err(why) => r.warn(
                    4,
                    CHECK,
                    format!("AccessDenied, but that does not prove the external ID is enforced: {why}"),
                    "run `doctor` with the Temporal server's credentials (`temporal.server_role_arn`)",
                ),
            }
        }
        Err((code, msg)) => r.warn(4, CHECK, format!("unexpected answer {}: {msg}", code.as_deref().unwrap_or("")), "Temporal needs exactly AccessDenied here"),
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
    match env.outputs.as_ref().and_then(|o| o.role_arn.as_deref()) {
        Some(recorded) if held.role_arn != recorded => differences.push(format!(
            "role `{}`, but [outputs].role_arn is `{recorded}`",
            held.role_arn
        )),
        _ => {}
    }
    if held.external_id != env.role.external_id.as_str() {
        differences.push(format!(
            "external ID `{}`, but `role.external_id` is `{}`",
            held.external_id, env.role.external_id
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
