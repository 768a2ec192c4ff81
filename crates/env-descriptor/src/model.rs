//! The descriptor's tables and keys, declared once: these types are the public model of a
//! loaded environment, the shape the loader reads, and the source of the editors' schema.
//!
//! Each table is generic over its stage (`stage.rs`): `Aws` is `Aws<Valid>`, the public model,
//! each value its type; `Aws<Read>` is the same table as written, each value with its span and
//! its rule's verdict, which the rules across keys (`rules.rs`) read. serde reads both (unknown,
//! missing and mistyped keys are its errors, listed in declaration order); `schemars` turns the
//! `Valid` model (doc comments, `#[serde(default)]`, `deny_unknown_fields`, and each value
//! type's schema from `value.rs`) into the JSON Schema that editors use
//! (`environments/descriptor.schema.json`).
//!
//! Adding a key is one field here, with its doc comment and its value type (`S::V<T>`, whose
//! rule is `T`'s constructor in `value.rs`; `S::Text` for free text, `S::Flag` for a boolean),
//! and a test. The last paragraph of a required key's doc comment is quoted when the key is
//! missing (or, for a list, empty).

use std::collections::BTreeMap;
use std::path::PathBuf;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::stage::{Stage, Valid};
use crate::value::{
    AccountId, Address, BuildId, CallAs, ConcurrencyMode, ConfigPath, DeploymentName, EndpointUrl,
    EnvVarName, ExternalId, JsonText, Label, LambdaArn, Namespace, Naming, OrganizationalUnitId,
    PermissionModel, PrincipalArn, ProfileName, Region, RegisteredId, RoleArn, RoleName,
    RoleNaming, SessionName, StackName, StackSetName, StsExternalId, TagKey, TagValue, Timestamp,
};

/// A Temporal Serverless Workers environment (`environments/NAME.toml`). Check it with
/// `tsw validate NAME`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, bound = "")]
#[schemars(
    title = "Temporal Serverless Workers environment descriptor",
    bound = ""
)]
pub struct Environment<S: Stage = Valid> {
    /// The file stem: `staging` for `environments/staging.toml`.
    #[serde(skip)]
    pub name: String,
    /// The descriptor's path, as given to [`crate::load`].
    #[serde(skip)]
    pub file: PathBuf,
    pub aws: Aws<S>,
    pub temporal: Temporal<S>,
    pub role: Role<S>,
    /// Deploy the role to many accounts through a CloudFormation StackSet instead of one stack
    /// (docs/stacksets.md): `[aws]` is then the account that owns the StackSet (the
    /// organization's management account, or a delegated administrator), `[role]` the role
    /// every account gets.
    pub stack_set: Option<StackSet<S>>,
    /// The Worker Deployment Versions `tsw register` creates, each backed by a Lambda
    /// function.
    #[serde(default)]
    pub worker_deployments: Vec<WorkerDeployment<S>>,
    #[serde(default)]
    pub deploy: DeploySettings<S>,
    pub sandbox: Option<SandboxSettings<S>>,
    pub outputs: Option<Outputs<S>>,
}

impl Environment {
    /// The account this environment belongs to, which every command that calls AWS holds the
    /// caller to, and what says so: `aws.account_id`, else the account of the stack (then the
    /// role) recorded in `[outputs]`, of `aws.role_arn`, of `deploy.cloudformation_role_arn`,
    /// else of `role.lambda_function_arns` when they are all in one. `None` when nothing
    /// implies one (a descriptor never deployed that names no ARN of its account).
    pub fn account(&self) -> Option<(String, &'static str)> {
        if let Some(id) = &self.aws.account_id {
            return Some((id.to_string(), "aws.account_id"));
        }
        let account_of = |arn: &str| {
            crate::arn::Arn::parse(arn)
                .map(|a| a.account.to_owned())
                .filter(|a| crate::arn::is_account(a))
        };
        let implied = [
            (
                self.outputs.as_ref().and_then(|o| o.stack_id.as_deref()),
                "the stack recorded in [outputs]",
            ),
            (
                self.outputs.as_ref().and_then(|o| o.role_arn.as_deref()),
                "the role recorded in [outputs]",
            ),
            (self.aws.role_arn.as_deref(), "aws.role_arn"),
            (
                self.deploy.cloudformation_role_arn.as_deref(),
                "deploy.cloudformation_role_arn",
            ),
        ];
        if let Some(found) = implied
            .into_iter()
            .find_map(|(arn, source)| Some((account_of(arn?)?, source)))
        {
            return Some(found);
        }
        if self.stack_set.is_some() {
            // The functions are the target accounts', never the StackSet's owner's.
            return None;
        }
        let mut lambdas = self.role.lambda_function_arns.iter().map(|a| account_of(a));
        let first = lambdas.next()??;
        lambdas
            .all(|a| a.as_deref() == Some(first.as_str()))
            .then_some((first, "role.lambda_function_arns"))
    }

    /// How the role is named: `role.naming`, else the form `[outputs]` records, else
    /// [`Naming::PerStack`] ([`Naming::resolve`]); always [`Naming::Fixed`] for a StackSet
    /// (validation refuses another).
    pub fn role_naming(&self) -> Naming {
        if self.stack_set.is_some() {
            return Naming::Fixed;
        }
        Naming::resolve(
            self.role.naming.as_deref(),
            self.outputs.as_ref().and_then(|o| o.role_arn.as_deref()),
            self.role.name_or_default(),
        )
    }

    /// The IAM name of the role this environment's stack (or each instance of its StackSet)
    /// creates.
    pub fn role_name(&self) -> String {
        let stack = self.role.stack_name.as_deref().unwrap_or_default();
        self.role_naming()
            .role_name(self.role.name_or_default(), stack)
    }

    /// The StackSet this environment deploys the role with, when it has `[stack_set]`.
    pub fn stack_set(&self) -> Option<&StackSet> {
        self.stack_set.as_ref()
    }

    /// The one stack of a single-stack environment, for a command that works on one stack
    /// (`command`, as the user typed it); a StackSet environment is refused, naming the command.
    pub fn single_stack(&self, command: &str) -> Result<&StackName, NotForStackSet> {
        match (&self.stack_set, &self.role.stack_name) {
            (None, Some(name)) => Ok(name),
            (set, _) => Err(NotForStackSet {
                file: self.file.clone(),
                stack_set: set.as_ref().map(|s| s.name.to_string()).unwrap_or_default(),
                command: command.to_owned(),
            }),
        }
    }

    /// The role and external ID a Worker Deployment Version of `function` is registered with:
    /// the single stack's recorded role and `role.external_id`; for a StackSet, the role
    /// recorded for the function's account in `[outputs.role_arns]` and that account's
    /// external ID (its override, else `role.external_id`).
    pub fn invocation_for(&self, function: &str) -> Result<(String, &ExternalId), NoRoleFor> {
        let not_deployed = || NoRoleFor::NotDeployed {
            file: self.file.clone(),
            env: self.name.clone(),
        };
        let outputs = self.outputs.as_ref().ok_or_else(not_deployed)?;
        let Some(set) = &self.stack_set else {
            let role = outputs.role_arn.clone().ok_or_else(not_deployed)?;
            return Ok((role, &self.role.external_id));
        };
        let account = crate::arn::Arn::parse(function)
            .map(|a| a.account.to_owned())
            .unwrap_or_default();
        let role = account
            .parse::<AccountId>()
            .ok()
            .and_then(|a| Some((outputs.role_arns.get(&a)?, a)));
        match role {
            Some((role, account)) => {
                Ok((role.to_string(), set.external_id_of(&self.role, &account)))
            }
            None => Err(NoRoleFor::NoInstance {
                file: self.file.clone(),
                env: self.name.clone(),
                account,
                function: function.to_owned(),
                stack_set: set.name.to_string(),
            }),
        }
    }

    /// Every concrete Lambda function ARN the environment names: those of
    /// `[[worker_deployments]]` and of `role.lambda_function_arns` without a wildcard (which
    /// cannot be looked up), sorted, each once.
    pub fn functions(&self) -> Vec<String> {
        let mut all: Vec<String> = self
            .worker_deployments
            .iter()
            .map(|w| w.lambda_function_arn.to_string())
            .chain(
                self.role
                    .lambda_function_arns
                    .iter()
                    .filter(|a| !a.contains('*'))
                    .map(|a| a.to_string()),
            )
            .collect();
        all.sort();
        all.dedup();
        all
    }

    /// The invocation roles the Temporal server assumes for this environment, as `[outputs]`
    /// records them, each with its external ID and the concrete functions it must reach: the
    /// one role of a single stack (`role_arn`), or one per account with an instance of the
    /// StackSet (`role_arns`; that account's external ID and functions, its override if any).
    /// None before the first deploy.
    pub fn invocation_roles(&self) -> Vec<InvocationRole> {
        let Some(outputs) = &self.outputs else {
            return Vec::new();
        };
        let account_of = |arn: &str| {
            crate::arn::Arn::parse(arn)
                .map(|a| a.account.to_owned())
                .unwrap_or_default()
        };
        let Some(set) = &self.stack_set else {
            return outputs
                .role_arn
                .iter()
                .map(|arn| InvocationRole {
                    account: account_of(arn),
                    role_arn: arn.clone(),
                    external_id: self.role.external_id.to_string(),
                    functions: self.functions(),
                })
                .collect();
        };
        outputs
            .role_arns
            .iter()
            .map(|(account, arn)| {
                let mut functions: Vec<String> = self
                    .worker_deployments
                    .iter()
                    .map(|w| w.lambda_function_arn.to_string())
                    .chain(
                        set.lambda_function_arns_of(&self.role, account)
                            .iter()
                            .filter(|a| !a.contains('*'))
                            .map(|a| a.to_string()),
                    )
                    .filter(|f| account_of(f) == account.as_str())
                    .collect();
                functions.sort();
                functions.dedup();
                InvocationRole {
                    account: account.to_string(),
                    role_arn: arn.to_string(),
                    external_id: set.external_id_of(&self.role, account).to_string(),
                    functions,
                }
            })
            .collect()
    }

    /// The functions of a StackSet's accounts with a recorded role ([`Self::invocation_roles`]):
    /// the server's own credentials cannot read another account's function, so `doctor`
    /// reads each through its account's role, as Temporal reaches it. None for a single stack.
    pub fn functions_through_roles(&self) -> Vec<String> {
        if self.stack_set.is_none() {
            return Vec::new();
        }
        self.invocation_roles()
            .into_iter()
            .flat_map(|r| r.functions)
            .collect()
    }

    /// Whether the tool may start the local sandbox for this environment when nothing answers
    /// at its addresses. Only an environment that declares `[sandbox]` is the sandbox: for any
    /// other, a service that is down is an error, never a fresh server started in its place.
    pub fn starts_sandbox(&self) -> bool {
        self.sandbox.as_ref().is_some_and(|s| s.auto_start)
    }
}

/// A role the Temporal server assumes to invoke an environment's functions
/// ([`Environment::invocation_roles`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvocationRole {
    /// The account the role is in (from its ARN).
    pub account: String,
    pub role_arn: String,
    /// The external ID its trust policy requires.
    pub external_id: String,
    /// The functions it must be able to reach, as concrete ARNs.
    pub functions: Vec<String>,
}

/// A command that works on one stack, asked of a StackSet environment.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "`{}` deploys the role with StackSet `{stack_set}` (`[stack_set]`): `{} {command}` is not for a StackSet environment yet; \
     `{} plan` shows what a StackSet environment would change (docs/stacksets.md)",
    file.display(), safe_text::program(), safe_text::program()
)]
pub struct NotForStackSet {
    pub file: PathBuf,
    pub stack_set: String,
    pub command: String,
}

/// Why a version's function has no invocation role to be registered with.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NoRoleFor {
    #[error(
        "`{}` has no role recorded in [outputs] yet: run `{} deploy {env}` first",
        file.display(), safe_text::program()
    )]
    NotDeployed { file: PathBuf, env: String },
    #[error(
        "`{function}` is in account `{account}`, which has no instance of StackSet `{stack_set}`: `[outputs.role_arns]` of `{}` has no `\"{account}\"`; \
         allowed: a function of an account the StackSet deployed to (move the account into an OU of `stack_set.organizational_units`, or add it to `stack_set.accounts`, then `{} deploy {env}`)",
        file.display(), safe_text::program()
    )]
    NoInstance {
        file: PathBuf,
        env: String,
        account: String,
        function: String,
        stack_set: String,
    },
}

/// Where the stack lives and how to reach AWS.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, bound = "")]
#[schemars(inline, bound = "")]
pub struct Aws<S: Stage = Valid> {
    /// The region of the stack.
    ///
    /// Allowed: an AWS region code such as `us-west-2`
    pub region: S::V<Region>,
    /// A named profile from ~/.aws/config; otherwise the SDK's default credential chain.
    pub profile: Option<S::V<ProfileName>>,
    /// An AWS emulator on this machine (loopback), e.g. `http://127.0.0.1:5050`. An endpoint
    /// elsewhere is the caller's to set (`AWS_ENDPOINT_URL`), never a descriptor's.
    pub endpoint_url: Option<S::V<EndpointUrl>>,
    /// The account the stack is expected in. Every command that calls AWS refuses credentials
    /// of another account; without it, the account `[outputs]` or the ARNs of the stack's side
    /// (`aws.role_arn`, `deploy.cloudformation_role_arn`, `role.lambda_function_arns`) imply.
    pub account_id: Option<S::V<AccountId>>,
    /// A role to assume, from whatever identity runs the tool, for every call of this
    /// environment: one identity (a CI job's) reaches each environment's account through a role
    /// of that account.
    pub role_arn: Option<S::V<RoleArn>>,
    /// The external ID the trust policy of `role_arn` requires.
    pub external_id: Option<S::V<StsExternalId>>,
    /// The session name of `role_arn` (shown in CloudTrail); default `tsw`.
    pub session_name: Option<S::V<SessionName>>,
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

/// The Temporal server that assumes the role, and how the tool reaches its frontend.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, bound = "")]
#[schemars(inline, bound = "")]
pub struct Temporal<S: Stage = Valid> {
    /// The IAM role or user the Temporal server runs as (`TemporalIamRoleArn`, which the
    /// invocation role trusts, unless `intermediary_roles` is set).
    ///
    /// Allowed: the ARN of the IAM role or user the Temporal server runs as (`tsw whoami ENV` in the server's environment prints it)
    pub server_role_arn: S::V<PrincipalArn>,
    /// Enable the Worker Controller Instance for these namespaces only; leave the key out to
    /// enable it globally.
    ///
    /// Allowed: one or more namespace names, or leave the key out to enable the Worker Controller globally
    #[schemars(length(min = 1))]
    pub namespaces: Option<Vec<S::V<Namespace>>>,
    /// Compute providers the Worker Controller may use; must include `aws-lambda`.
    #[serde(default = "default_compute_providers::<S>")]
    #[schemars(with = "Vec<ComputeProvider>")]
    pub compute_providers: Vec<S::Text>,
    /// Scaling algorithms the Worker Controller may use; must include `no-sync`.
    #[serde(default = "default_scaling_algorithms::<S>")]
    #[schemars(with = "Vec<ScalingAlgorithm>")]
    pub scaling_algorithms: Vec<S::Text>,
    /// The frontend the tool dials for `register`, `doctor` and `smoke` (`host:port`); when left
    /// out, `TEMPORAL_ADDRESS`, then the Temporal CLI's profile (`temporal.toml`).
    pub address: Option<S::V<Address>>,
    /// The dynamic config file the server reads, relative to the checkout; `render` updates the
    /// workercontroller keys in it in place.
    pub dynamic_config_file: Option<S::V<ConfigPath>>,
    /// The values file of the Helm chart that deploys the server, relative to the checkout;
    /// `render` updates the workercontroller keys under its `server.dynamicConfig` in place.
    /// Not with `dynamic_config_file`.
    pub helm_values: Option<S::V<ConfigPath>>,
    /// TLS towards the frontend; implied by any `tls_*` key.
    pub tls: Option<S::Flag>,
    /// Client certificate for mutual TLS (with `tls_key_path`), relative to the checkout.
    pub tls_cert_path: Option<S::Text>,
    /// Client key for mutual TLS (with `tls_cert_path`), relative to the checkout.
    pub tls_key_path: Option<S::Text>,
    /// CA bundle that signed the frontend's certificate, relative to the checkout.
    pub tls_ca_path: Option<S::Text>,
    /// The name to verify the frontend's certificate against.
    pub tls_server_name: Option<S::Text>,
    /// The NAME of the environment variable that holds the API key (never the key itself):
    /// `TEMPORAL_API_KEY` or `TEMPORAL_<NAME>_API_KEY`. Sent only over TLS, or to a loopback
    /// address.
    pub api_key_env: Option<S::V<EnvVarName>>,
    /// The chain of roles the server assumes, from its own credentials
    /// (`server_role_arn`), before the invocation role, one `[[temporal.intermediary_roles]]`
    /// per hop, in order, each with `role_arn`, `session_name` and, when its trust policy
    /// requires one, `external_id` (Temporal's global key
    /// `workercontroller.compute_providers.aws.intermediary_roles`): a hub role in one account
    /// that the invocation roles of many accounts trust. The invocation role then trusts the
    /// last hop (`TemporalIamRoleArn`), and the first hop must trust `server_role_arn`. One
    /// server reads one chain: descriptors that render into the same server file must declare
    /// the same one.
    #[serde(default)]
    pub intermediary_roles: Vec<IntermediaryRole<S>>,
}

/// One hop of the chain the Temporal server assumes before the invocation role
/// (`{RoleARN, RoleSessionName, ExternalID}` in Temporal's dynamic config).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, bound = "")]
#[schemars(inline, bound = "")]
pub struct IntermediaryRole<S: Stage = Valid> {
    /// The role assumed at this hop, e.g. a hub role the invocation roles trust.
    ///
    /// Allowed: an IAM role ARN, `arn:PARTITION:iam::ACCOUNT:role/NAME`
    pub role_arn: S::V<RoleArn>,
    /// The session name the server assumes the role with (`RoleSessionName`, which Temporal
    /// requires), shown in CloudTrail.
    ///
    /// Allowed: 2 to 64 characters of [a-zA-Z0-9_+=,.@-], e.g. `temporal-hub`
    pub session_name: S::V<SessionName>,
    /// The external ID the role's trust policy requires (`ExternalID`), if it requires one.
    pub external_id: Option<S::V<StsExternalId>>,
}

impl Temporal {
    /// The principal the invocation role trusts, `TemporalIamRoleArn`: the last hop of
    /// `intermediary_roles`, which is who calls AssumeRole on it, else `server_role_arn`.
    pub fn invoking_principal(&self) -> &str {
        self.intermediary_roles
            .last()
            .map_or(self.server_role_arn.as_str(), |hop| hop.role_arn.as_str())
    }
}

impl Temporal {
    /// TLS towards the frontend: on when `tls = true` or any `tls_*` key is set (validation
    /// rejects `tls = false` beside `tls_*` keys).
    pub fn tls(&self) -> Option<Tls> {
        let tls = Tls {
            cert_path: self.tls_cert_path.clone(),
            key_path: self.tls_key_path.clone(),
            ca_path: self.tls_ca_path.clone(),
            server_name: self.tls_server_name.clone(),
        };
        match self.tls {
            Some(on) => on.then_some(tls),
            None => (tls != Tls::default()).then_some(tls),
        }
    }
}

/// TLS settings for the Temporal frontend (`temporal.tls_*`); paths are relative to the checkout.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Tls {
    pub cert_path: Option<String>,
    pub key_path: Option<String>,
    pub ca_path: Option<String>,
    pub server_name: Option<String>,
}

/// Compute provider types the Temporal 1.32 Worker Controller knows.
#[derive(Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
#[schemars(inline)]
pub(crate) enum ComputeProvider {
    AwsLambda,
    AwsEcs,
    AwsAgentcore,
    Subprocess,
    K8s,
    GcpCloudRun,
}

/// The compute provider of Serverless Workers on AWS Lambda (`ComputeProvider::AwsLambda` as
/// written in a descriptor): the default, and what `register` and `doctor` look for.
pub const AWS_LAMBDA: &str = "aws-lambda";

fn default_compute_providers<S: Stage>() -> Vec<S::Text> {
    vec![S::text(AWS_LAMBDA)]
}

/// Scaling algorithms the Temporal 1.32 Worker Controller knows.
#[derive(Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
#[schemars(inline)]
pub(crate) enum ScalingAlgorithm {
    NoSync,
    RateBased,
}

/// The scaling algorithm Serverless Workers need (`ScalingAlgorithm::NoSync` as written in a
/// descriptor): the default, and what `doctor` looks for.
pub const NO_SYNC: &str = "no-sync";

fn default_scaling_algorithms<S: Stage>() -> Vec<S::Text> {
    vec![S::text(NO_SYNC)]
}

/// The CloudFormation stack that creates the invocation role.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, bound = "")]
#[schemars(inline, bound = "")]
pub struct Role<S: Stage = Valid> {
    /// The stack's name; required but with `[stack_set]`, whose instances CloudFormation names.
    ///
    /// Allowed: a CloudFormation stack name such as `temporal-serverless-worker-staging`
    pub stack_name: Option<S::V<StackName>>,
    /// `RoleName` (default `Temporal-Serverless-Worker`): the role's name, exactly, with
    /// `naming = "fixed"`; its first part, `NAME-STACK_NAME`, with `naming = "per-stack"`. IAM
    /// role names are unique in an account.
    pub name: Option<S::V<RoleName>>,
    /// How the template names the role: `fixed` (exactly `name`: the guide's template since
    /// July 2026, which `init` writes) or `per-stack` (`NAME-STACK_NAME`: the guide's template
    /// before). Left out: the form `[outputs]` records, else `per-stack`, so that a deployed
    /// role is never replaced unasked. Changing it replaces the role, whose ARN changes:
    /// `plan` shows it, and registered versions must be registered again (docs/template.md).
    pub naming: Option<S::V<RoleNaming>>,
    /// `AssumeRoleExternalId`: guards the role against confused deputies.
    ///
    /// Allowed: 5 to 45 characters of [a-zA-Z0-9_+=,.@-] (`tsw init` generates one)
    pub external_id: S::V<ExternalId>,
    /// `LambdaFunctionARNs`: the functions Temporal may invoke.
    ///
    /// Allowed: one or more Lambda function ARNs, `arn:PARTITION:lambda:REGION:ACCOUNT:function:NAME`
    #[schemars(length(min = 1))]
    pub lambda_function_arns: Vec<S::V<LambdaArn>>,
}

impl Role {
    /// The template's default for `RoleName`, used when `role.name` is left out.
    pub const DEFAULT_NAME: &'static str = "Temporal-Serverless-Worker";

    pub fn name_or_default(&self) -> &str {
        self.name.as_deref().unwrap_or(Self::DEFAULT_NAME)
    }
}

/// The CloudFormation StackSet that deploys the role (the guide's template, `RoleName` fixed)
/// to many accounts, one region each (IAM is global to an account, so a fixed-name role exists
/// once per account). `[aws]` is the account that owns it.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, bound = "")]
#[schemars(inline, bound = "")]
pub struct StackSet<S: Stage = Valid> {
    /// The StackSet's name; its instances' stacks are named `StackSet-NAME-UUID`.
    ///
    /// Allowed: a letter, then letters, digits and `-`, at most 128 characters, e.g. `temporal-invocation-role`
    pub name: S::V<StackSetName>,
    /// `service-managed`: AWS Organizations places the instances in the accounts of
    /// `organizational_units`; `self-managed`: in `accounts`, through
    /// `administration_role_arn` and `execution_role_name`.
    ///
    /// Allowed: `service-managed` or `self-managed`
    pub permission_model: S::V<PermissionModel>,
    /// The OUs (or the root) whose accounts get an instance, with the accounts of every OU
    /// below them (service-managed only). The management account never gets one.
    #[serde(default)]
    pub organizational_units: Vec<S::V<OrganizationalUnitId>>,
    /// The accounts that get an instance (self-managed only, and required there).
    #[serde(default)]
    pub accounts: Vec<S::V<AccountId>>,
    /// The region of every instance: exactly one, as the role is global to each account.
    ///
    /// Allowed: one region code, e.g. `regions = ["us-east-1"]`
    #[schemars(length(min = 1, max = 1))]
    pub regions: Vec<S::V<Region>>,
    /// Whom the calls are made as (`CallAs`): `self` (default) or `delegated-admin`, when
    /// `[aws]` is a delegated administrator of the organization (service-managed only).
    pub call_as: Option<S::V<CallAs>>,
    /// Deploy to accounts that join a targeted OU, and remove from those that leave it
    /// (service-managed only; AutoDeployment).
    #[serde(default = "yes::<S>")]
    pub auto_deployment: S::Flag,
    /// With `auto_deployment`: keep the role of an account that leaves the OU (its stack is
    /// only taken out of the StackSet).
    #[serde(default)]
    pub retain_stacks_on_account_removal: S::Flag,
    /// The role of the owning account that CloudFormation assumes to reach the targets
    /// (self-managed only; default `AWSCloudFormationStackSetAdministrationRole`).
    pub administration_role_arn: Option<S::V<RoleArn>>,
    /// The role in each target account that CloudFormation assumes there (self-managed only;
    /// default `AWSCloudFormationStackSetExecutionRole`).
    pub execution_role_name: Option<S::V<RoleName>>,
    /// At most this many accounts deployed at once (`MaxConcurrentCount`); not with
    /// `max_concurrent_percentage`. AWS's default: 1.
    pub max_concurrent_count: Option<u32>,
    /// At most this percentage (1 to 100) of the accounts deployed at once.
    pub max_concurrent_percentage: Option<u8>,
    /// Stop the operation after more than this many accounts failed (`FailureToleranceCount`);
    /// not with `failure_tolerance_percentage`. AWS's default: 0.
    pub failure_tolerance_count: Option<u32>,
    /// Stop the operation after more than this percentage (0 to 100) of the accounts failed.
    pub failure_tolerance_percentage: Option<u8>,
    /// `strict-failure-tolerance` (AWS's default) or `soft-failure-tolerance`.
    pub concurrency_mode: Option<S::V<ConcurrencyMode>>,
    /// What one account's role differs in, e.g.
    /// `[stack_set.overrides."111111111111"] external_id = "..."`: sent as that account's
    /// `ParameterOverrides`.
    #[serde(default)]
    #[schemars(extend("propertyNames" = { "pattern": "^[0-9]{12}$" }))]
    pub overrides: BTreeMap<S::V<AccountId>, AccountOverride<S>>,
}

impl StackSet {
    /// The region of every instance (validation keeps exactly one).
    pub fn region(&self) -> Option<&Region> {
        self.regions.first()
    }

    /// Whether AWS Organizations places the instances (targets are OUs).
    pub fn is_service_managed(&self) -> bool {
        self.permission_model.is_service_managed()
    }

    /// Whether the calls are made as a delegated administrator of the organization
    /// (`call_as = "delegated-admin"`).
    pub fn is_delegated_admin(&self) -> bool {
        self.call_as
            .as_ref()
            .is_some_and(|c| c.is_delegated_admin())
    }

    /// The external ID of `account`'s role: its override, else `role.external_id`.
    pub fn external_id_of<'a>(&'a self, role: &'a Role, account: &AccountId) -> &'a ExternalId {
        self.overrides
            .get(account)
            .and_then(|o| o.external_id.as_ref())
            .unwrap_or(&role.external_id)
    }

    /// The functions `account`'s role may invoke: its override, else
    /// `role.lambda_function_arns`.
    pub fn lambda_function_arns_of<'a>(
        &'a self,
        role: &'a Role,
        account: &AccountId,
    ) -> &'a [LambdaArn] {
        self.overrides
            .get(account)
            .and_then(|o| o.lambda_function_arns.as_deref())
            .unwrap_or(&role.lambda_function_arns)
    }
}

/// What one account's invocation role differs in from `[role]`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, bound = "")]
#[schemars(inline, bound = "")]
pub struct AccountOverride<S: Stage = Valid> {
    /// This account's `AssumeRoleExternalId`, in place of `role.external_id`.
    pub external_id: Option<S::V<ExternalId>>,
    /// This account's `LambdaFunctionARNs`, in place of `role.lambda_function_arns`.
    #[schemars(length(min = 1))]
    pub lambda_function_arns: Option<Vec<S::V<LambdaArn>>>,
}

/// A Worker Deployment Version backed by a Lambda function.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, bound = "")]
#[schemars(inline, bound = "")]
pub struct WorkerDeployment<S: Stage = Valid> {
    /// Must be one of `temporal.namespaces` when that is set.
    ///
    /// Allowed: the Temporal namespace of the Worker Deployment
    pub namespace: S::V<Namespace>,
    /// 1 to 255 printable characters, without `.` or `:`, not starting with `__`.
    ///
    /// Allowed: the Worker Deployment name your Lambda worker uses
    pub name: S::V<DeploymentName>,
    /// 1 to 255 printable characters, not starting with `__`.
    ///
    /// Allowed: the build ID your Lambda worker uses
    pub build_id: S::V<BuildId>,
    /// Must be covered by `role.lambda_function_arns`.
    ///
    /// Allowed: the ARN of the worker's Lambda function (a published version recommended)
    pub lambda_function_arn: S::V<LambdaArn>,
    /// Make this version the deployment's current version (tasks are routed to it).
    #[serde(default)]
    pub set_current: S::Flag,
    /// The workflow type `tsw smoke` starts to prove the version runs (with
    /// `smoke_task_queue`).
    ///
    /// Allowed: a workflow type the worker registers, e.g. `Greet`
    pub smoke_workflow: Option<S::V<Label>>,
    /// The task queue `tsw smoke` starts `smoke_workflow` on: one the worker polls.
    ///
    /// Allowed: a task queue the worker polls, e.g. `sample-worker`
    pub smoke_task_queue: Option<S::V<Label>>,
    /// The smoke workflow's input, as JSON text: `smoke_input = '"smoke"'` for the string.
    pub smoke_input: Option<S::V<JsonText>>,
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

    /// The smoke workflow the entry declares (validation made sure its keys come together).
    pub fn smoke(&self) -> Option<Smoke> {
        Some(Smoke {
            workflow: self.smoke_workflow.clone()?,
            task_queue: self.smoke_task_queue.clone()?,
            input: self.smoke_input.clone(),
        })
    }
}

/// How `tsw deploy` behaves for this environment.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, bound = "")]
#[schemars(inline, bound = "")]
pub struct DeploySettings<S: Stage = Valid> {
    /// Ask before executing a change set; without a terminal, deploy then needs --yes.
    #[serde(default = "yes::<S>")]
    pub confirm: S::Flag,
    /// Stack tags, e.g. `tags = { team = "payments", cost-center = "42" }`: CloudFormation puts
    /// them on the stack and on every resource it can tag, the role included. Removing one
    /// here removes it there.
    #[serde(default)]
    #[schemars(extend("propertyNames" = { "format": "TagKey" }))]
    pub tags: BTreeMap<S::V<TagKey>, S::V<TagValue>>,
    /// A CloudFormation service role the stack's operations run as (RoleARN), so that the
    /// deployer needs little more than CloudFormation and `iam:PassRole` on it. In the stack's
    /// account; once a stack has one, leaving this out keeps it.
    pub cloudformation_role_arn: Option<S::V<RoleArn>>,
    /// When `deploy --all` (or several named environments) deploys this environment: lower
    /// waves first, and a wave starts when every deploy of the one before has ended, e.g.
    /// staging `wave = 0`, production `wave = 1`.
    #[serde(default)]
    pub wave: u16,
}

/// A descriptor without `[deploy]` asks before executing a change set.
impl<S: Stage> Default for DeploySettings<S> {
    fn default() -> Self {
        DeploySettings {
            confirm: yes::<S>(),
            tags: BTreeMap::new(),
            cloudformation_role_arn: None,
            wave: 0,
        }
    }
}

/// This environment is the local sandbox: its AWS endpoint and Temporal address must be
/// loopback addresses.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, bound = "")]
#[schemars(inline, bound = "")]
pub struct SandboxSettings<S: Stage = Valid> {
    /// Start the emulator (and, for `register` and `doctor`, the Temporal dev server) when
    /// nothing answers at the environment's addresses.
    #[serde(default = "yes::<S>")]
    pub auto_start: S::Flag,
}

fn yes<S: Stage>() -> S::Flag {
    S::flag(true)
}

/// Written by `tsw deploy` and `register`, removed by `destroy`; never edit it by hand.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, bound = "")]
#[schemars(inline, bound = "")]
pub struct Outputs<S: Stage = Valid> {
    /// The stack's `RoleARN` output: the role the Worker Deployment Versions name (a single
    /// stack; a StackSet records `role_arns`).
    ///
    /// `[outputs]` is written by `tsw deploy`; delete the table and deploy again
    pub role_arn: Option<S::Text>,
    /// The stack's ID, which every later call goes by (a single stack).
    ///
    /// `[outputs]` is written by `tsw deploy`; delete the table and deploy again
    pub stack_id: Option<S::Text>,
    /// The StackSet's ID (with `[stack_set]`).
    ///
    /// `[outputs]` is written by `tsw deploy`; delete the table and deploy again
    pub stack_set_id: Option<S::Text>,
    /// The role of each account with a StackSet instance (with `[stack_set]`), e.g.
    /// `"111111111111" = "arn:aws:iam::111111111111:role/NAME"`.
    #[serde(default)]
    #[schemars(extend("propertyNames" = { "pattern": "^[0-9]{12}$" }))]
    pub role_arns: BTreeMap<S::V<AccountId>, S::V<RoleArn>>,
    /// RFC 3339 time of the deploy that recorded these outputs.
    ///
    /// `[outputs]` is written by `tsw deploy`; delete the table and deploy again
    pub deployed_at: S::V<Timestamp>,
    /// Worker Deployment Versions `register` created or updated (`namespace/name@build_id`).
    #[serde(default)]
    pub registered: Vec<S::V<RegisteredId>>,
}
