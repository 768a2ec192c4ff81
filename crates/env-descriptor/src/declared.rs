//! The descriptor's tables and keys, declared once.
//!
//! The types below mirror `environments/NAME.toml` exactly. They are never built: their
//! derives are the declaration. `schemars` turns them (doc comments, `#[serde(default)]`,
//! `deny_unknown_fields`, and each value type's own schema from `value.rs`, which sits next to
//! the rule that type enforces) into the JSON Schema that editors use
//! (`environments/descriptor.schema.json`), and the validating walk in `schema.rs` reads the
//! same schema for which keys exist, which are required, their types, defaults, allowed values
//! and the text that says what to write when a required key is missing. serde's derive gives
//! the keys in the order they are declared, which is the order error messages list them in.
//!
//! Adding a key is one field here (with its doc comment and its value type, whose `FromStr` is
//! its rule), its read in `schema.rs` (one line naming the key and type), its field in the public
//! model (`model.rs`), and a test.
//! The last paragraph of a required key's doc comment is quoted when the key is missing.

// The declaration types are never built and their fields never read: the derives read them.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::sync::OnceLock;

use schemars::transform::RecursiveTransform;
use schemars::{JsonSchema, Schema};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::value::{
    AccountId, Address, ConfigPath, EndpointUrl, EnvVarName, ExternalId, JsonText, Label,
    LambdaArn, Namespace, PrincipalArn, ProfileName, Region, RegisteredId, RoleName, StackName,
    Timestamp,
};

/// A Temporal Serverless Workers environment (`environments/NAME.toml`). Check it with
/// `cargo xtask validate NAME`.
#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(title = "Temporal Serverless Workers environment descriptor")]
struct Descriptor {
    aws: AwsTable,
    temporal: TemporalTable,
    role: RoleTable,
    /// The Worker Deployment Versions `cargo xtask register` creates, each backed by a Lambda
    /// function.
    #[serde(default)]
    worker_deployments: Vec<WorkerDeploymentTable>,
    deploy: Option<DeployTable>,
    sandbox: Option<SandboxTable>,
    outputs: Option<OutputsTable>,
}

/// Where the stack lives and how to reach AWS.
#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(inline)]
struct AwsTable {
    /// The region of the stack.
    ///
    /// Allowed: an AWS region code such as `us-west-2`
    region: Region,
    /// A named profile from ~/.aws/config; otherwise the SDK's default credential chain.
    profile: Option<ProfileName>,
    /// An AWS emulator, e.g. `http://127.0.0.1:5050`; `AWS_ENDPOINT_URL` is honoured too.
    endpoint_url: Option<EndpointUrl>,
    /// The account the stack is expected in; defaults to the account of
    /// `temporal.server_role_arn`.
    account_id: Option<AccountId>,
}

/// The Temporal server that assumes the role, and how the tool reaches its frontend.
#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(inline)]
struct TemporalTable {
    /// The IAM role or user the Temporal server runs as (`TemporalIamRoleArn`).
    ///
    /// Allowed: the ARN of the IAM role or user the Temporal server runs as (`cargo xtask whoami ENV` in the server's environment prints it)
    server_role_arn: PrincipalArn,
    /// Enable the Worker Controller Instance for these namespaces only; leave the key out to
    /// enable it globally.
    #[schemars(length(min = 1))]
    namespaces: Option<Vec<Namespace>>,
    /// Compute providers the Worker Controller may use; must include `aws-lambda`.
    #[serde(default = "default_compute_providers")]
    compute_providers: Vec<ComputeProvider>,
    /// Scaling algorithms the Worker Controller may use; must include `no-sync`.
    #[serde(default = "default_scaling_algorithms")]
    scaling_algorithms: Vec<ScalingAlgorithm>,
    /// The frontend the tool dials for `register` and `doctor` (`host:port`).
    address: Option<Address>,
    /// The dynamic config file the server reads, relative to the checkout; `render` updates the
    /// workercontroller keys in it in place.
    dynamic_config_file: Option<ConfigPath>,
    /// TLS towards the frontend; implied by any `tls_*` key.
    tls: Option<bool>,
    /// Client certificate for mutual TLS (with `tls_key_path`), relative to the checkout.
    tls_cert_path: Option<String>,
    /// Client key for mutual TLS (with `tls_cert_path`), relative to the checkout.
    tls_key_path: Option<String>,
    /// CA bundle that signed the frontend's certificate, relative to the checkout.
    tls_ca_path: Option<String>,
    /// The name to verify the frontend's certificate against.
    tls_server_name: Option<String>,
    /// The NAME of the environment variable that holds the API key (never the key itself).
    api_key_env: Option<EnvVarName>,
}

/// Compute provider types the Temporal 1.32 Worker Controller knows.
#[derive(Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
#[schemars(inline)]
enum ComputeProvider {
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

fn default_compute_providers() -> Vec<ComputeProvider> {
    vec![ComputeProvider::AwsLambda]
}

/// Scaling algorithms the Temporal 1.32 Worker Controller knows.
#[derive(Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
#[schemars(inline)]
enum ScalingAlgorithm {
    NoSync,
    RateBased,
}

/// The scaling algorithm Serverless Workers need (`ScalingAlgorithm::NoSync` as written in a
/// descriptor): the default, and what `doctor` looks for.
pub const NO_SYNC: &str = "no-sync";

fn default_scaling_algorithms() -> Vec<ScalingAlgorithm> {
    vec![ScalingAlgorithm::NoSync]
}

/// The CloudFormation stack that creates the invocation role.
#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(inline)]
struct RoleTable {
    /// The stack's name.
    ///
    /// Allowed: a CloudFormation stack name such as `temporal-serverless-worker-staging`
    stack_name: StackName,
    /// `RoleName`; the role is named NAME-STACK_NAME (default `Temporal-Serverless-Worker`).
    name: Option<RoleName>,
    /// `AssumeRoleExternalId`: guards the role against confused deputies.
    ///
    /// Allowed: 5 to 45 characters of [a-zA-Z0-9_+=,.@-] (`cargo xtask init` generates one)
    external_id: ExternalId,
    /// `LambdaFunctionARNs`: the functions Temporal may invoke.
    ///
    /// Allowed: one or more Lambda function ARNs, `arn:PARTITION:lambda:REGION:ACCOUNT:function:NAME`
    #[schemars(length(min = 1))]
    lambda_function_arns: Vec<LambdaArn>,
}

/// A Worker Deployment Version backed by a Lambda function.
#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(inline)]
struct WorkerDeploymentTable {
    /// Must be one of `temporal.namespaces` when that is set.
    ///
    /// Allowed: the Temporal namespace of the Worker Deployment
    namespace: Namespace,
    /// 1 to 255 printable characters.
    ///
    /// Allowed: the Worker Deployment name your Lambda worker uses
    name: Label,
    /// 1 to 255 printable characters.
    ///
    /// Allowed: the build ID your Lambda worker uses
    build_id: Label,
    /// Must be covered by `role.lambda_function_arns`.
    ///
    /// Allowed: the ARN of the worker's Lambda function (a published version recommended)
    lambda_function_arn: LambdaArn,
    /// Make this version the deployment's current version (tasks are routed to it).
    #[serde(default)]
    set_current: bool,
    /// The workflow type `cargo xtask smoke` starts to prove the version runs (with
    /// `smoke_task_queue`).
    smoke_workflow: Option<Label>,
    /// The task queue `cargo xtask smoke` starts `smoke_workflow` on: one the worker polls.
    smoke_task_queue: Option<Label>,
    /// The smoke workflow's input, as JSON text: `smoke_input = '"smoke"'` for the string.
    smoke_input: Option<JsonText>,
}

/// How `cargo xtask deploy` behaves for this environment.
#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(inline)]
struct DeployTable {
    /// Ask before executing a change set when stdin is a terminal.
    #[serde(default = "yes")]
    confirm: bool,
}

/// This environment is the local sandbox: its AWS endpoint and Temporal address must be
/// loopback addresses.
#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(inline)]
struct SandboxTable {
    /// Start the emulator (and, for `register` and `doctor`, the Temporal dev server) when
    /// nothing answers at the environment's addresses.
    #[serde(default = "yes")]
    auto_start: bool,
}

fn yes() -> bool {
    true
}

/// Written by `cargo xtask deploy` and `register`, removed by `destroy`; never edit it by hand.
#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(inline)]
struct OutputsTable {
    /// The stack's `RoleARN` output: the role the Worker Deployment Versions name.
    ///
    /// `[outputs]` is written by `cargo xtask deploy`; delete the table and deploy again
    role_arn: String,
    /// The stack's ID, which every later call goes by.
    ///
    /// `[outputs]` is written by `cargo xtask deploy`; delete the table and deploy again
    stack_id: String,
    /// RFC 3339 time of the deploy that recorded these outputs.
    ///
    /// `[outputs]` is written by `cargo xtask deploy`; delete the table and deploy again
    deployed_at: Timestamp,
    /// Worker Deployment Versions `register` created or updated (`namespace/name@build_id`).
    #[serde(default)]
    registered: Vec<RegisteredId>,
}

/// The keys of each table, in declaration order, as serde's derive lists them.
fn declared_keys(table: &str) -> &'static [&'static str] {
    match table {
        "" => keys_of::<Descriptor>(),
        "aws" => keys_of::<AwsTable>(),
        "temporal" => keys_of::<TemporalTable>(),
        "role" => keys_of::<RoleTable>(),
        "worker_deployments" => keys_of::<WorkerDeploymentTable>(),
        "deploy" => keys_of::<DeployTable>(),
        "sandbox" => keys_of::<SandboxTable>(),
        "outputs" => keys_of::<OutputsTable>(),
        _ => &[],
    }
}

/// The field names a derived `Deserialize` passes to `deserialize_struct`, captured by a
/// deserializer that stops there (the schema's maps are sorted; these keep declaration order).
fn keys_of<'de, T: Deserialize<'de>>() -> &'static [&'static str] {
    #[derive(Debug)]
    struct Captured(&'static [&'static str]);
    impl std::fmt::Display for Captured {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("captured the field names")
        }
    }
    impl std::error::Error for Captured {}
    impl serde::de::Error for Captured {
        fn custom<M: std::fmt::Display>(_: M) -> Self {
            Captured(&[])
        }
    }
    struct Probe;
    impl<'de> serde::Deserializer<'de> for Probe {
        type Error = Captured;
        fn deserialize_any<V: serde::de::Visitor<'de>>(self, _: V) -> Result<V::Value, Captured> {
            Err(Captured(&[]))
        }
        fn deserialize_struct<V: serde::de::Visitor<'de>>(
            self,
            _: &'static str,
            fields: &'static [&'static str],
            _: V,
        ) -> Result<V::Value, Captured> {
            Err(Captured(fields))
        }
        serde::forward_to_deserialize_any! {
            bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string
            bytes byte_buf option unit unit_struct newtype_struct seq tuple
            tuple_struct map enum identifier ignored_any
        }
    }
    match T::deserialize(Probe) {
        Err(Captured(fields)) => fields,
        Ok(_) => &[],
    }
}

/// The JSON Schema of a descriptor, as committed in `environments/descriptor.schema.json`.
pub fn json_schema() -> String {
    let mut text = serde_json::to_string_pretty(&shape().root).expect("a JSON value serializes");
    text.push('\n');
    text
}

/// The generated schema, read by the walker.
pub(crate) struct Shape {
    root: Value,
    tables: BTreeMap<&'static str, Table>,
}

/// One table's declaration: its keys in order, and each key's schema.
pub(crate) struct Table {
    pub(crate) keys: &'static [&'static str],
    properties: Map<String, Value>,
    required: Vec<String>,
}

/// The shape of one key's value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    String,
    Strings,
    Bool,
    Table,
    Tables,
}

/// TOML has no `null`: an `Option` is a key that may be left out, never one set to null, so
/// the `null` schemars allows for it is taken out again.
fn without_null(schema: &mut Schema) {
    let Some(object) = schema.as_object_mut() else {
        return;
    };
    if let Some(Value::Array(types)) = object.get_mut("type") {
        types.retain(|t| t != "null");
        if let [single] = types.as_slice() {
            let single = single.clone();
            object.insert("type".into(), single);
        }
    }
    if let Some(Value::Array(any_of)) = object.get("anyOf")
        && let [only] = any_of
            .iter()
            .filter(|s| s["type"] != "null")
            .collect::<Vec<_>>()
            .as_slice()
        && let Some(only) = only.as_object().cloned()
    {
        object.remove("anyOf");
        object.extend(only);
    }
}

pub(crate) fn shape() -> &'static Shape {
    static SHAPE: OnceLock<Shape> = OnceLock::new();
    SHAPE.get_or_init(|| {
        let mut settings = schemars::generate::SchemaSettings::draft07();
        settings
            .transforms
            .push(Box::new(RecursiveTransform(without_null)));
        let root = settings
            .into_generator()
            .into_root_schema_for::<Descriptor>()
            .to_value();
        let mut tables = BTreeMap::new();
        tables.insert("", Table::new("", &root));
        for (name, value) in root["properties"].as_object().into_iter().flatten() {
            let object = if value["type"] == "array" {
                &value["items"]
            } else {
                value
            };
            if object["type"] == "object" {
                let name = declared_keys("")
                    .iter()
                    .find(|k| **k == name)
                    .expect("a root property is a declared key");
                tables.insert(*name, Table::new(name, object));
            }
        }
        Shape { root, tables }
    })
}

impl Shape {
    /// The declaration of `[table]` (`""` for the document's top level). `worker_deployments[3]`
    /// names the declaration of each `[[worker_deployments]]` entry.
    pub(crate) fn table(&self, table: &str) -> &Table {
        let name = table.split('[').next().unwrap_or_default();
        self.tables
            .get(name)
            .unwrap_or_else(|| panic!("`{name}` is not a declared table"))
    }
}

impl Table {
    fn new(name: &str, object: &Value) -> Self {
        Table {
            keys: declared_keys(name),
            properties: object["properties"]
                .as_object()
                .cloned()
                .unwrap_or_default(),
            required: object["required"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|k| k.as_str().map(str::to_owned))
                .collect(),
        }
    }

    fn property(&self, key: &str) -> &Value {
        self.properties
            .get(key)
            .unwrap_or_else(|| panic!("`{key}` is not a declared key"))
    }

    pub(crate) fn is_required(&self, key: &str) -> bool {
        self.required.iter().any(|k| k == key)
    }

    pub(crate) fn kind(&self, key: &str) -> Kind {
        let p = self.property(key);
        match (p["type"].as_str(), p["items"]["type"].as_str()) {
            (Some("string"), _) => Kind::String,
            (Some("boolean"), _) => Kind::Bool,
            (Some("object"), _) => Kind::Table,
            (Some("array"), Some("object")) => Kind::Tables,
            (Some("array"), _) => Kind::Strings,
            other => panic!("`{key}` has a type the walker does not read: {other:?}"),
        }
    }

    /// What to write for a required key, quoted when it is missing: the last paragraph of its
    /// doc comment, `Allowed: ...` read as `allowed: ...`.
    pub(crate) fn missing_hint(&self, key: &str) -> String {
        let description = self.property(key)["description"].as_str().unwrap_or("");
        let last = description.rsplit("\n\n").next().unwrap_or_default();
        match last.strip_prefix("Allowed:") {
            Some(rest) => format!("allowed:{rest}"),
            None => last.to_owned(),
        }
    }

    /// The values a list of names may hold (`enum` of its items).
    pub(crate) fn choices(&self, key: &str) -> Vec<&str> {
        self.property(key)["items"]["enum"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .collect()
    }

    /// The declared default of a list of strings.
    pub(crate) fn default_strings(&self, key: &str) -> Vec<String> {
        self.property(key)["default"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|v| v.as_str().map(str::to_owned))
            .collect()
    }

    /// The declared default of a boolean key (`false` when none is declared).
    pub(crate) fn default_bool(&self, key: &str) -> bool {
        self.property(key)["default"].as_bool().unwrap_or(false)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The names other crates use are the ones a descriptor holds.
    #[test]
    fn named_provider_and_algorithm_are_the_enums_spelling() {
        let name = |v: serde_json::Value| v.as_str().unwrap().to_owned();
        assert_eq!(
            name(serde_json::to_value(ComputeProvider::AwsLambda).unwrap()),
            AWS_LAMBDA
        );
        assert_eq!(
            name(serde_json::to_value(ScalingAlgorithm::NoSync).unwrap()),
            NO_SYNC
        );
    }

    /// The committed schema is the generated one (rust-analyzer's `ensure_file_contents`): a
    /// stale file is rewritten, and the test fails so that the new one gets committed.
    #[test]
    fn committed_schema_is_current() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../environments")
            .join(crate::SCHEMA_FILE);
        let generated = json_schema();
        if std::fs::read_to_string(&path).ok().as_deref() != Some(generated.as_str()) {
            std::fs::write(&path, &generated).unwrap();
            panic!(
                "{} was stale and has been updated; commit it",
                crate::SCHEMA_FILE
            );
        }
    }

    /// `declared_keys` names a type per table by hand: each must list exactly the keys the
    /// schema has for that table.
    #[test]
    fn every_table_lists_the_keys_of_its_schema() {
        let shape = shape();
        let root = declared_keys("");
        assert_eq!(root.len(), 7);
        for table in std::iter::once("").chain(root.iter().copied()) {
            let declared = shape.table(table);
            let mut keys: Vec<&str> = declared.keys.to_vec();
            let mut properties: Vec<&str> =
                declared.properties.keys().map(String::as_str).collect();
            keys.sort_unstable();
            properties.sort_unstable();
            assert_eq!(keys, properties, "[{table}]");
        }
    }

    #[test]
    fn keys_come_in_declaration_order_with_their_defaults() {
        let aws = shape().table("aws");
        assert_eq!(
            aws.keys,
            ["region", "profile", "endpoint_url", "account_id"]
        );
        assert!(aws.is_required("region") && !aws.is_required("profile"));
        let temporal = shape().table("temporal");
        assert_eq!(
            temporal.default_strings("compute_providers"),
            ["aws-lambda"]
        );
        assert_eq!(
            temporal.choices("scaling_algorithms"),
            ["no-sync", "rate-based"]
        );
        assert!(shape().table("deploy").default_bool("confirm"));
        assert!(
            !shape()
                .table("worker_deployments[2]")
                .default_bool("set_current")
        );
        assert_eq!(
            shape().table("role").missing_hint("external_id"),
            "allowed: 5 to 45 characters of [a-zA-Z0-9_+=,.@-] (`cargo xtask init` generates one)"
        );
    }
}
