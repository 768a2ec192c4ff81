use std::path::PathBuf;

use crate::value::{
    AccountId, Address, ConfigPath, EndpointUrl, EnvVarName, ExternalId, JsonText, Label,
    LambdaArn, Namespace, PrincipalArn, ProfileName, Region, RoleName, StackName,
};

/// A validated environment descriptor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Environment {
    /// The file stem: `staging` for `environments/staging.toml`.
    pub name: String,
    /// The descriptor's path, as given to [`crate::load`].
    pub file: PathBuf,
    pub aws: Aws,
    pub temporal: Temporal,
    pub role: Role,
    /// `[[worker_deployments]]`: the versions `register` creates.
    pub worker_deployments: Vec<WorkerDeployment>,
    pub deploy: DeploySettings,
    /// `[sandbox]`: this environment is the local sandbox, whose services the tool may start.
    pub sandbox: Option<SandboxSettings>,
    /// What the last successful deploy recorded, if any.
    pub outputs: Option<Outputs>,
}

impl Environment {
    /// The account the stack is expected in: `aws.account_id`, else the account of
    /// `temporal.server_role_arn`.
    pub fn expected_account(&self) -> Option<String> {
        expected_account(&self.aws, &self.temporal).map(|(_, account)| account)
    }
}

/// The account the stack (and the Lambda functions) are expected in, and what it comes from.
pub(crate) fn expected_account(aws: &Aws, temporal: &Temporal) -> Option<(&'static str, String)> {
    if let Some(id) = &aws.account_id {
        return Some(("aws.account_id", id.to_string()));
    }
    let arn = crate::arn::Arn::parse(&temporal.server_role_arn)?;
    Some((
        "the account of temporal.server_role_arn",
        arn.account.to_owned(),
    ))
}

/// `[aws]`: where the stack lives and how to reach it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Aws {
    pub region: Region,
    /// A named profile; otherwise the SDK's default credential chain.
    pub profile: Option<ProfileName>,
    /// An AWS emulator, e.g. `http://127.0.0.1:5000`.
    pub endpoint_url: Option<EndpointUrl>,
    /// The account the stack is expected in; defaults to the account of `server_role_arn`
    /// for consistency checks.
    pub account_id: Option<AccountId>,
}

impl Aws {
    /// Whether the AWS side is on this machine (`endpoint_url` reaches it), so that only dummy
    /// credentials may go there.
    pub fn uses_emulator(&self) -> bool {
        self.endpoint_url
            .as_deref()
            .is_some_and(local_endpoint::is_local)
    }
}

impl Environment {
    /// Whether the tool may start the local sandbox for this environment when nothing answers
    /// at its addresses. Only an environment that declares `[sandbox]` is the sandbox: for any
    /// other, a service that is down is an error, never a fresh server started in its place.
    pub fn starts_sandbox(&self) -> bool {
        self.sandbox.as_ref().is_some_and(|s| s.auto_start)
    }
}

/// `[temporal]`: the Temporal server that will assume the role.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Temporal {
    /// The identity the Temporal server runs as (`TemporalIamRoleArn`).
    pub server_role_arn: PrincipalArn,
    /// Namespaces to enable the Worker Controller Instance for; `None` enables it globally.
    pub namespaces: Option<Vec<Namespace>>,
    pub compute_providers: Vec<String>,
    pub scaling_algorithms: Vec<String>,
    /// The frontend the tool dials (`host:port`), for `register` and `doctor`.
    pub address: Option<Address>,
    /// The dynamic config file the server reads, relative to the checkout; `render` updates
    /// the workercontroller keys in it in place.
    pub dynamic_config_file: Option<ConfigPath>,
    /// TLS towards the frontend.
    pub tls: Option<Tls>,
    /// Name of the environment variable that holds the API key (never the key itself).
    pub api_key_env: Option<EnvVarName>,
}

/// TLS settings for the Temporal frontend; paths are relative to the checkout.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Tls {
    pub cert_path: Option<String>,
    pub key_path: Option<String>,
    pub ca_path: Option<String>,
    pub server_name: Option<String>,
}

/// One `[[worker_deployments]]` entry: a Worker Deployment Version backed by a Lambda function.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkerDeployment {
    pub namespace: Namespace,
    /// The Worker Deployment name.
    pub name: Label,
    pub build_id: Label,
    pub lambda_function_arn: LambdaArn,
    /// Make this version the deployment's current version (tasks are routed to it).
    pub set_current: bool,
    /// The workflow `cargo xtask smoke` runs on this version, when the entry declares one.
    pub smoke: Option<Smoke>,
}

/// A workflow that proves a version runs: `smoke_workflow` on `smoke_task_queue` with
/// `smoke_input`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Smoke {
    pub workflow: Label,
    pub task_queue: Label,
    /// JSON text; `None` starts the workflow with no input.
    pub input: Option<JsonText>,
}

impl WorkerDeployment {
    /// `namespace/name@build_id`, as recorded in `[outputs].registered`.
    pub fn id(&self) -> String {
        format!("{}/{}@{}", self.namespace, self.name, self.build_id)
    }
}

/// `[role]`: the CloudFormation stack that creates the invocation role.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Role {
    pub stack_name: StackName,
    /// `RoleName`; `None` leaves the template's default in force.
    pub name: Option<RoleName>,
    /// `AssumeRoleExternalId`.
    pub external_id: ExternalId,
    /// `LambdaFunctionARNs`.
    pub lambda_function_arns: Vec<LambdaArn>,
}

impl Role {
    /// The template's default for `RoleName`, used when `role.name` is left out.
    pub const DEFAULT_NAME: &'static str = "Temporal-Serverless-Worker";

    pub fn name_or_default(&self) -> &str {
        self.name.as_deref().unwrap_or(Self::DEFAULT_NAME)
    }
}

/// `[deploy]`: how `deploy` behaves for this environment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeploySettings {
    /// Ask before executing a change set when stdin is a terminal (default `true`).
    pub confirm: bool,
}

/// `[sandbox]`: the environment is the local sandbox (its AWS endpoint and Temporal address are
/// loopback addresses, checked by validation).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SandboxSettings {
    /// Start the emulator (and, for `register`/`doctor`, the Temporal dev server) when nothing
    /// answers at the environment's addresses (default `true`).
    pub auto_start: bool,
}

/// `[outputs]`: written by `deploy`, removed by `destroy`, never edited by hand.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outputs {
    /// The stack's `RoleARN` output: the role to put in the Worker Deployment Version.
    pub role_arn: String,
    pub stack_id: String,
    /// RFC 3339 time of the deploy that recorded these outputs.
    pub deployed_at: String,
    /// Worker Deployment Versions `register` created or updated (`namespace/name@build_id`).
    pub registered: Vec<String>,
}
