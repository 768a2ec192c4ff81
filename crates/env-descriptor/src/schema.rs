//! Parsing and validation of a descriptor. The document is walked key by key so that every
//! problem is reported at once, each with its line.

use std::ops::Range;
use std::path::{Path, PathBuf};

use toml_edit::{Item, TableLike, Value};

use crate::arn;
use crate::model::{
    Aws, DeploySettings, Environment, Outputs, Role, SandboxSettings, Temporal, Tls,
    WorkerDeployment, expected_account,
};
use crate::problem::{Problem, Severity, line_col};

/// The compute provider of Serverless Workers on AWS Lambda: the default, and what `register`
/// and `doctor` look for.
pub const AWS_LAMBDA: &str = "aws-lambda";
/// The scaling algorithm Serverless Workers need: the default, and what `doctor` looks for.
pub const NO_SYNC: &str = "no-sync";

/// Compute provider types the Temporal 1.32 Worker Controller knows.
pub const COMPUTE_PROVIDERS: &[&str] = &[
    AWS_LAMBDA,
    "aws-ecs",
    "aws-agentcore",
    "subprocess",
    "k8s",
    "gcp-cloud-run",
];
/// Scaling algorithms the Temporal 1.32 Worker Controller knows.
pub const SCALING_ALGORITHMS: &[&str] = &[NO_SYNC, "rate-based"];

const TABLES: &[&str] = &[
    "aws",
    "temporal",
    "role",
    "worker_deployments",
    "deploy",
    "sandbox",
    "outputs",
];
const AWS_KEYS: &[&str] = &["region", "profile", "endpoint_url", "account_id"];
const TEMPORAL_KEYS: &[&str] = &[
    "server_role_arn",
    "namespaces",
    "compute_providers",
    "scaling_algorithms",
    "address",
    "dynamic_config_file",
    "tls",
    "tls_cert_path",
    "tls_key_path",
    "tls_ca_path",
    "tls_server_name",
    "api_key_env",
];
const ROLE_KEYS: &[&str] = &["stack_name", "name", "external_id", "lambda_function_arns"];
const DEPLOY_KEYS: &[&str] = &["confirm"];
const SANDBOX_KEYS: &[&str] = &["auto_start"];
const OUTPUTS_KEYS: &[&str] = &["role_arn", "stack_id", "deployed_at", "registered"];
const WORKER_DEPLOYMENT_KEYS: &[&str] = &[
    "namespace",
    "name",
    "build_id",
    "lambda_function_arn",
    "set_current",
];

/// A descriptor that passed validation, with the warnings it raised.
#[derive(Debug, Clone)]
pub struct Loaded {
    pub env: Environment,
    pub warnings: Vec<Problem>,
}

#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("cannot read `{}`: {source}", path.display())]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    /// Every problem found, errors and warnings, in file order.
    #[error("{}", render_problems(.0))]
    Invalid(Vec<Problem>),
}

fn render_problems(problems: &[Problem]) -> String {
    let errors = problems
        .iter()
        .filter(|p| p.severity == Severity::Error)
        .count();
    let mut out = format!("{errors} error(s) in `{}`:", problems[0].file.display());
    for p in problems {
        out.push_str("\n  ");
        out.push_str(&p.to_string());
    }
    out
}

/// Reads and validates `path`. The environment's name is the file stem.
pub fn load(path: &Path) -> Result<Loaded, LoadError> {
    let src = std::fs::read_to_string(path).map_err(|source| LoadError::Read {
        path: path.to_owned(),
        source,
    })?;
    load_str(path, &src)
}

/// Validates `src` as the contents of `path`.
pub fn load_str(path: &Path, src: &str) -> Result<Loaded, LoadError> {
    let mut w = Walker {
        file: path,
        src,
        problems: Vec::new(),
    };
    let env = w.environment(path);
    w.problems.sort_by_key(|p| p.position);
    let has_errors = w.problems.iter().any(|p| p.severity == Severity::Error);
    match env {
        Some(env) if !has_errors => Ok(Loaded {
            env,
            warnings: w.problems,
        }),
        _ => Err(LoadError::Invalid(w.problems)),
    }
}

struct Walker<'s> {
    file: &'s Path,
    src: &'s str,
    problems: Vec<Problem>,
}

/// A string value with where it stands.
type Spanned<T> = (T, Option<Range<usize>>);

impl Walker<'_> {
    fn push(
        &mut self,
        severity: Severity,
        key: String,
        span: Option<Range<usize>>,
        message: String,
    ) {
        self.problems.push(Problem {
            severity,
            file: self.file.to_owned(),
            position: span.map(|s| line_col(self.src, s.start)),
            key,
            message,
        });
    }

    fn error(
        &mut self,
        key: impl Into<String>,
        span: Option<Range<usize>>,
        message: impl Into<String>,
    ) {
        self.push(Severity::Error, key.into(), span, message.into());
    }

    fn warn(
        &mut self,
        key: impl Into<String>,
        span: Option<Range<usize>>,
        message: impl Into<String>,
    ) {
        self.push(Severity::Warning, key.into(), span, message.into());
    }

    fn environment(&mut self, path: &Path) -> Option<Environment> {
        let doc = match self.src.parse::<toml_edit::Document<String>>() {
            Ok(doc) => doc,
            Err(e) => {
                let msg = e.message().trim().to_owned();
                self.error("(syntax)", e.span(), format!("not valid TOML: {msg}"));
                return None;
            }
        };
        let root = doc.as_table();
        self.unknown_keys(root, "", TABLES);
        let aws = self.table(root, "aws", true);
        let temporal = self.table(root, "temporal", true);
        let role = self.table(root, "role", true);
        let deploy = self.table(root, "deploy", false);
        let sandbox = self.table(root, "sandbox", false);
        let outputs = self.table(root, "outputs", false);

        let aws = aws.and_then(|t| self.aws(t));
        let partition = aws
            .as_ref()
            .and_then(|a| arn::partition_of_region(&a.region));
        let temporal = temporal.and_then(|t| self.temporal(t, partition));
        let role = role.and_then(|t| self.role(t, partition));
        let deploy = match deploy {
            Some(t) => self.deploy(t)?,
            None => DeploySettings { confirm: true },
        };
        let outputs = match outputs {
            Some(t) => {
                Some(self.outputs(t, aws.as_ref(), role.as_ref().map(|r| &r.0), partition)?)
            }
            None => None,
        };
        let (aws, temporal, role) = (aws?, temporal?, role?);
        let sandbox = match sandbox {
            Some(t) => Some(self.sandbox(t, root, &aws, &temporal)?),
            None => None,
        };
        let worker_deployments = self.worker_deployments(root, &temporal, &role.0, partition)?;
        if let Some((lambda_accounts_src, account)) = expected_account(&aws, &temporal) {
            self.check_lambda_consistency(
                role.1.as_slice(),
                &aws.region,
                &account,
                lambda_accounts_src,
            );
        }
        let name = path
            .file_stem()
            .and_then(|s| s.to_str())
            .unwrap_or_default()
            .to_owned();
        Some(Environment {
            name,
            file: path.to_owned(),
            aws,
            temporal,
            role: role.0,
            worker_deployments,
            deploy,
            sandbox,
            outputs,
        })
    }

    fn table<'d>(
        &mut self,
        root: &'d toml_edit::Table,
        name: &str,
        required: bool,
    ) -> Option<&'d dyn TableLike> {
        match root.get(name) {
            None if required => {
                self.error(name, None, format!("the table `[{name}]` is missing"));
                None
            }
            None => None,
            Some(item) => match item.as_table_like() {
                Some(t) => Some(t),
                None => {
                    self.error(
                        name,
                        item.span(),
                        format!("expected a table `[{name}]`, found {}", item.type_name()),
                    );
                    None
                }
            },
        }
    }

    fn unknown_keys(&mut self, t: &dyn TableLike, section: &str, allowed: &[&str]) {
        for (key, _) in t.iter() {
            if !allowed.contains(&key) {
                let span = t.get_key_value(key).and_then(|(k, _)| k.span());
                let full = if section.is_empty() {
                    key.to_owned()
                } else {
                    format!("{section}.{key}")
                };
                let what = if section.is_empty() { "table" } else { "key" };
                let list = allowed
                    .iter()
                    .map(|k| format!("`{k}`"))
                    .collect::<Vec<_>>()
                    .join(", ");
                self.error(full, span, format!("unknown {what}; allowed: {list}"));
            }
        }
    }

    fn key_span(t: &dyn TableLike, key: &str) -> Option<Range<usize>> {
        t.get_key_value(key)
            .and_then(|(k, v)| k.span().or_else(|| v.span()))
    }

    fn string(
        &mut self,
        t: &dyn TableLike,
        section: &str,
        key: &str,
        required: &str,
    ) -> Option<Spanned<String>> {
        let full = format!("{section}.{key}");
        match t.get(key) {
            None => {
                if !required.is_empty() {
                    self.error(full, None, format!("is missing; {required}"));
                }
                None
            }
            Some(Item::Value(Value::String(s))) => Some((s.value().clone(), s.span())),
            Some(item) => {
                self.error(
                    full,
                    item.span(),
                    format!("expected a string, found {}", item.type_name()),
                );
                None
            }
        }
    }

    fn string_list(
        &mut self,
        t: &dyn TableLike,
        section: &str,
        key: &str,
    ) -> Option<Vec<Spanned<String>>> {
        let full = format!("{section}.{key}");
        let item = t.get(key)?;
        let Some(array) = item.as_array() else {
            self.error(
                full,
                item.span(),
                format!("expected an array of strings, found {}", item.type_name()),
            );
            return None;
        };
        let mut out = Vec::with_capacity(array.len());
        let mut ok = true;
        for (i, v) in array.iter().enumerate() {
            match v {
                Value::String(s) => out.push((s.value().clone(), s.span())),
                other => {
                    ok = false;
                    self.error(
                        format!("{full}[{i}]"),
                        other.span(),
                        format!("expected a string, found {}", other.type_name()),
                    );
                }
            }
        }
        ok.then_some(out)
    }

    fn aws(&mut self, t: &dyn TableLike) -> Option<Aws> {
        self.unknown_keys(t, "aws", AWS_KEYS);
        let region = self.string(
            t,
            "aws",
            "region",
            "allowed: an AWS region code such as `us-west-2`",
        );
        if let Some((r, span)) = &region
            && arn::partition_of_region(r).is_none()
        {
            self.error(
                "aws.region",
                span.clone(),
                format!(
                    "`{}` is not an AWS region; allowed: a region code such as `us-west-2`",
                    r.escape_debug()
                ),
            );
        }
        let profile = self.string(t, "aws", "profile", "");
        if let Some((p, span)) = &profile
            && p.is_empty()
        {
            self.error(
                "aws.profile",
                span.clone(),
                "is empty; allowed: a profile name from ~/.aws/config, or leave the key out",
            );
        }
        let endpoint_url = self.string(t, "aws", "endpoint_url", "");
        if let Some((u, span)) = &endpoint_url {
            let rest = u
                .strip_prefix("http://")
                .or_else(|| u.strip_prefix("https://"));
            if rest.is_none_or(|r| r.is_empty() || r.contains(char::is_whitespace)) {
                self.error(
                    "aws.endpoint_url",
                    span.clone(),
                    format!(
                        "`{}` is not a URL; allowed: `http://HOST:PORT` or `https://HOST[:PORT]`",
                        u.escape_debug()
                    ),
                );
            }
        }
        let account_id = self.string(t, "aws", "account_id", "");
        if let Some((a, span)) = &account_id
            && (a.len() != 12 || !a.bytes().all(|b| b.is_ascii_digit()))
        {
            self.error(
                "aws.account_id",
                span.clone(),
                format!(
                    "`{}` is not an AWS account id; allowed: 12 digits",
                    a.escape_debug()
                ),
            );
        }
        Some(Aws {
            region: region?.0,
            profile: profile.map(|p| p.0),
            endpoint_url: endpoint_url.map(|u| u.0),
            account_id: account_id.map(|a| a.0),
        })
    }

    fn temporal(&mut self, t: &dyn TableLike, partition: Option<&str>) -> Option<Temporal> {
        self.unknown_keys(t, "temporal", TEMPORAL_KEYS);
        let server_role_arn = self.string(
            t,
            "temporal",
            "server_role_arn",
            "allowed: the ARN of the IAM role or user the Temporal server runs as (`cargo xtask whoami ENV` in the server's environment prints it)",
        );
        if let (Some((a, span)), Some(partition)) = (&server_role_arn, partition)
            && let Err(msg) = arn::check_principal_arn(a, partition)
        {
            self.error("temporal.server_role_arn", span.clone(), msg);
        }
        let namespaces = self.string_list(t, "temporal", "namespaces");
        if let Some(list) = &namespaces {
            if list.is_empty() {
                self.error(
                    "temporal.namespaces",
                    Self::key_span(t, "namespaces"),
                    "is empty; allowed: one or more namespace names, or leave the key out to enable the Worker Controller globally",
                );
            }
            for (i, (ns, span)) in list.iter().enumerate() {
                if let Err(msg) = arn::check_namespace(ns) {
                    self.error(format!("temporal.namespaces[{i}]"), span.clone(), msg);
                }
            }
            self.duplicates("temporal.namespaces", list);
        }
        let compute_providers = self.choices(t, "compute_providers", COMPUTE_PROVIDERS, AWS_LAMBDA);
        let scaling_algorithms = self.choices(t, "scaling_algorithms", SCALING_ALGORITHMS, NO_SYNC);
        let address = self.string(t, "temporal", "address", "");
        if let Some((a, span)) = &address
            && let Err(msg) = check_address(a)
        {
            self.error("temporal.address", span.clone(), msg);
        }
        let dynamic_config_file = self.string(t, "temporal", "dynamic_config_file", "");
        if let Some((f, span)) = &dynamic_config_file
            && f.trim().is_empty()
        {
            self.error("temporal.dynamic_config_file", span.clone(), "is empty; allowed: the path of the dynamic config file the server reads, relative to the checkout");
        }
        let tls_on = self.opt_bool(t, "temporal", "tls");
        let tls = Tls {
            cert_path: self.string(t, "temporal", "tls_cert_path", "").map(|v| v.0),
            key_path: self.string(t, "temporal", "tls_key_path", "").map(|v| v.0),
            ca_path: self.string(t, "temporal", "tls_ca_path", "").map(|v| v.0),
            server_name: self
                .string(t, "temporal", "tls_server_name", "")
                .map(|v| v.0),
        };
        if tls.cert_path.is_some() != tls.key_path.is_some() {
            self.error(
                "temporal.tls_cert_path",
                Self::key_span(t, "tls_cert_path").or(Self::key_span(t, "tls_key_path")),
                "`tls_cert_path` and `tls_key_path` go together (mutual TLS); give both or neither",
            );
        }
        let tls = match tls_on {
            Some(false) if tls != Tls::default() => {
                self.error(
                    "temporal.tls",
                    Self::key_span(t, "tls"),
                    "is `false` but `tls_*` keys are set; remove them or set `tls = true`",
                );
                None
            }
            Some(false) => None,
            Some(true) => Some(tls),
            None => (tls != Tls::default()).then_some(tls),
        };
        let api_key_env = self.string(t, "temporal", "api_key_env", "");
        if let Some((v, span)) = &api_key_env {
            let ok = v.starts_with(|c: char| c.is_ascii_uppercase() || c == '_')
                && v.chars()
                    .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_');
            if !ok {
                self.error("temporal.api_key_env", span.clone(), format!("`{}` is not an environment variable name; allowed: the NAME of a variable that holds the key, e.g. `TEMPORAL_API_KEY` (never the key itself)", v.escape_debug()));
            }
        }
        Some(Temporal {
            server_role_arn: server_role_arn?.0,
            namespaces: namespaces.map(|l| l.into_iter().map(|(s, _)| s).collect()),
            compute_providers: compute_providers?,
            scaling_algorithms: scaling_algorithms?,
            address: address.map(|a| a.0),
            dynamic_config_file: dynamic_config_file.map(|f| f.0),
            tls,
            api_key_env: api_key_env.map(|v| v.0),
        })
    }

    /// A list of names from `allowed` that must contain `needed`; defaults to `[needed]`.
    fn choices(
        &mut self,
        t: &dyn TableLike,
        key: &str,
        allowed: &[&str],
        needed: &str,
    ) -> Option<Vec<String>> {
        let full = format!("temporal.{key}");
        let Some(list) = t.get(key).map(|_| self.string_list(t, "temporal", key)) else {
            return Some(vec![needed.to_owned()]);
        };
        let list = list?;
        let names = allowed
            .iter()
            .map(|k| format!("`{k}`"))
            .collect::<Vec<_>>()
            .join(", ");
        for (i, (v, span)) in list.iter().enumerate() {
            if !allowed.contains(&v.as_str()) {
                self.error(
                    format!("{full}[{i}]"),
                    span.clone(),
                    format!(
                        "`{}` is not known to Temporal 1.32; allowed: {names}",
                        v.escape_debug()
                    ),
                );
            }
        }
        if !list.iter().any(|(v, _)| v == needed) {
            self.error(
                full.clone(),
                Self::key_span(t, key),
                format!("must include `{needed}`, which Serverless Workers on Lambda need"),
            );
        }
        self.duplicates(&full, &list);
        Some(list.into_iter().map(|(s, _)| s).collect())
    }

    fn duplicates(&mut self, key: &str, list: &[Spanned<String>]) {
        for (i, (v, span)) in list.iter().enumerate() {
            if list[..i].iter().any(|(w, _)| w == v) {
                self.error(
                    format!("{key}[{i}]"),
                    span.clone(),
                    format!("`{}` is listed twice", v.escape_debug()),
                );
            }
        }
    }

    fn role(
        &mut self,
        t: &dyn TableLike,
        partition: Option<&str>,
    ) -> Option<(Role, Vec<Spanned<String>>)> {
        self.unknown_keys(t, "role", ROLE_KEYS);
        let stack_name = self.string(
            t,
            "role",
            "stack_name",
            "allowed: a CloudFormation stack name such as `temporal-serverless-worker-staging`",
        );
        if let Some((s, span)) = &stack_name
            && let Err(msg) = arn::check_stack_name(s)
        {
            self.error("role.stack_name", span.clone(), msg);
        }
        let name = self.string(t, "role", "name", "");
        if let Some((stack, _)) = &stack_name {
            let (n, span) = name.clone().unwrap_or_else(|| {
                (
                    Role::DEFAULT_NAME.to_owned(),
                    Self::key_span(t, "stack_name"),
                )
            });
            if let Err(msg) = arn::check_role_name(&n, stack) {
                self.error(
                    if name.is_some() {
                        "role.name"
                    } else {
                        "role.stack_name"
                    },
                    span,
                    msg,
                );
            }
        }
        let external_id = self.string(
            t,
            "role",
            "external_id",
            "allowed: 5 to 45 characters of [a-zA-Z0-9_+=,.@-] (`cargo xtask init` generates one)",
        );
        if let Some((id, span)) = &external_id {
            let len = id.chars().count();
            if let Some(bad) = id.chars().find(|c| !crate::external_id_char(*c)) {
                self.error(
                    "role.external_id",
                    span.clone(),
                    format!(
                        "contains `{}`; allowed: 5 to 45 characters of [{}]",
                        bad.escape_debug(),
                        crate::EXTERNAL_ID_CHARSET
                    ),
                );
            } else if !crate::EXTERNAL_ID_LEN.contains(&len) {
                self.error(
                    "role.external_id",
                    span.clone(),
                    format!(
                        "is {len} characters long; allowed: 5 to 45 characters of [{}]",
                        crate::EXTERNAL_ID_CHARSET
                    ),
                );
            }
        }
        let arns_required = "allowed: one or more Lambda function ARNs, `arn:PARTITION:lambda:REGION:ACCOUNT:function:NAME`";
        let arns = self.string_list(t, "role", "lambda_function_arns");
        match &arns {
            None if t.get("lambda_function_arns").is_none() => {
                self.error(
                    "role.lambda_function_arns",
                    None,
                    format!("is missing; {arns_required}"),
                );
            }
            Some(list) if list.is_empty() => {
                self.error(
                    "role.lambda_function_arns",
                    Self::key_span(t, "lambda_function_arns"),
                    format!("is empty; {arns_required}"),
                );
            }
            _ => {}
        }
        if let (Some(list), Some(partition)) = (&arns, partition) {
            for (i, (a, span)) in list.iter().enumerate() {
                if let Err(msg) = arn::check_lambda_arn(a, partition) {
                    self.error(format!("role.lambda_function_arns[{i}]"), span.clone(), msg);
                }
            }
            self.duplicates("role.lambda_function_arns", list);
        }
        let arns = arns?;
        let role = Role {
            stack_name: stack_name?.0,
            name: name.map(|n| n.0),
            external_id: external_id?.0,
            lambda_function_arns: arns.iter().map(|(s, _)| s.clone()).collect(),
        };
        Some((role, arns))
    }

    fn check_lambda_consistency(
        &mut self,
        arns: &[Spanned<String>],
        region: &str,
        account: &str,
        account_src: &str,
    ) {
        for (i, (a, span)) in arns.iter().enumerate() {
            let Some(parsed) = arn::Arn::parse(a) else {
                continue;
            };
            let key = format!("role.lambda_function_arns[{i}]");
            if !parsed.region.is_empty() && parsed.region != region {
                self.warn(key.clone(), span.clone(), format!("is in region `{}` but `aws.region` is `{region}`; the Temporal server calls Lambda in the function's region", parsed.region));
            }
            if !parsed.account.is_empty() && parsed.account != account {
                self.warn(key, span.clone(), format!("is in account `{}`, not `{account}` ({account_src}); cross-account invocation needs a resource policy on the function", parsed.account));
            }
        }
    }

    /// An optional boolean; a wrong type is reported and read as absent.
    fn opt_bool(&mut self, t: &dyn TableLike, section: &str, key: &str) -> Option<bool> {
        match t.get(key)? {
            Item::Value(Value::Boolean(b)) => Some(*b.value()),
            item => {
                self.error(
                    format!("{section}.{key}"),
                    item.span(),
                    format!("expected `true` or `false`, found {}", item.type_name()),
                );
                None
            }
        }
    }

    fn deploy(&mut self, t: &dyn TableLike) -> Option<DeploySettings> {
        self.unknown_keys(t, "deploy", DEPLOY_KEYS);
        let confirm = self.opt_bool(t, "deploy", "confirm").unwrap_or(true);
        Some(DeploySettings { confirm })
    }

    /// `[sandbox]`: the tool will start services at the environment's addresses, so they must be
    /// loopback addresses (never every interface, never another machine).
    fn sandbox(
        &mut self,
        t: &dyn TableLike,
        root: &toml_edit::Table,
        aws: &Aws,
        temporal: &Temporal,
    ) -> Option<SandboxSettings> {
        self.unknown_keys(t, "sandbox", SANDBOX_KEYS);
        let auto_start = self.opt_bool(t, "sandbox", "auto_start").unwrap_or(true);
        let span = |table: &str, key: &str| {
            root.get(table)
                .and_then(Item::as_table_like)
                .and_then(|t| Self::key_span(t, key))
        };
        let loopback = "the sandbox listens only on loopback: 127.0.0.1, [::1] or localhost";
        match &aws.endpoint_url {
            None => self.error(
                "aws.endpoint_url",
                None,
                format!("is missing; `[sandbox]` needs the emulator's URL, e.g. `http://127.0.0.1:5050` ({loopback})"),
            ),
            Some(url) if !local_endpoint::is_loopback(url) || !url.starts_with("http://") => self.error(
                "aws.endpoint_url",
                span("aws", "endpoint_url"),
                format!("`{}` cannot be the sandbox's emulator; allowed: `http://HOST:PORT` where HOST is a loopback address ({loopback}), or remove `[sandbox]`", url.escape_debug()),
            ),
            Some(_) => {}
        }
        if let Some(address) = &temporal.address
            && !local_endpoint::is_loopback(address)
        {
            self.error(
                "temporal.address",
                span("temporal", "address"),
                format!("`{}` cannot be the sandbox's Temporal dev server; allowed: `HOST:PORT` where HOST is a loopback address ({loopback}), or remove `[sandbox]`", address.escape_debug()),
            );
        }
        Some(SandboxSettings { auto_start })
    }

    fn worker_deployments(
        &mut self,
        root: &toml_edit::Table,
        temporal: &Temporal,
        role: &Role,
        partition: Option<&str>,
    ) -> Option<Vec<WorkerDeployment>> {
        let Some(item) = root.get("worker_deployments") else {
            return Some(Vec::new());
        };
        let Some(tables) = item.as_array_of_tables() else {
            self.error(
                "worker_deployments",
                item.span(),
                format!(
                    "expected `[[worker_deployments]]` tables, found {}",
                    item.type_name()
                ),
            );
            return None;
        };
        let mut out: Vec<WorkerDeployment> = Vec::new();
        let mut ok = true;
        for (i, t) in tables.iter().enumerate() {
            let section = format!("worker_deployments[{i}]");
            self.unknown_keys(t, &section, WORKER_DEPLOYMENT_KEYS);
            let namespace = self.string(
                t,
                &section,
                "namespace",
                "allowed: the Temporal namespace of the Worker Deployment",
            );
            let name = self.string(
                t,
                &section,
                "name",
                "allowed: the Worker Deployment name your Lambda worker uses",
            );
            let build_id = self.string(
                t,
                &section,
                "build_id",
                "allowed: the build ID your Lambda worker uses",
            );
            let arn = self.string(t, &section, "lambda_function_arn", "allowed: the ARN of the worker's Lambda function (a published version recommended)");
            let set_current = self.opt_bool(t, &section, "set_current").unwrap_or(false);
            if let Some((ns, span)) = &namespace {
                if let Err(msg) = arn::check_namespace(ns) {
                    self.error(format!("{section}.namespace"), span.clone(), msg);
                } else if let Some(enabled) = &temporal.namespaces
                    && !enabled.contains(ns)
                {
                    self.error(format!("{section}.namespace"), span.clone(), format!("`{ns}` is not in `temporal.namespaces` ({}), so the Worker Controller is not enabled for it; add it there", enabled.join(", ")));
                }
            }
            for (key, v) in [("name", &name), ("build_id", &build_id)] {
                if let Some((v, span)) = v
                    && (v.trim().is_empty() || v.len() > 255 || v.contains(char::is_control))
                {
                    self.error(
                        format!("{section}.{key}"),
                        span.clone(),
                        "must be 1 to 255 printable characters",
                    );
                }
            }
            if let (Some((a, span)), Some(partition)) = (&arn, partition) {
                match arn::check_lambda_arn(a, partition) {
                    Err(msg) => self.error(format!("{section}.lambda_function_arn"), span.clone(), msg),
                    Ok(_) if !role.lambda_function_arns.iter().any(|allowed| arn::resource_matches(allowed, a)) => self.error(
                        format!("{section}.lambda_function_arn"),
                        span.clone(),
                        format!("`{a}` is not covered by `role.lambda_function_arns`, so the role could not invoke it; add it (or `NAME:*` for every version) there and deploy"),
                    ),
                    Ok(_) => {}
                }
            }
            match (namespace, name, build_id, arn) {
                (Some(namespace), Some(name), Some(build_id), Some(arn)) => {
                    let wd = WorkerDeployment {
                        namespace: namespace.0,
                        name: name.0,
                        build_id: build_id.0,
                        lambda_function_arn: arn.0,
                        set_current,
                    };
                    if out.iter().any(|o| o.id() == wd.id()) {
                        self.error(section, t.span(), format!("`{}` is listed twice", wd.id()));
                    }
                    out.push(wd);
                }
                _ => ok = false,
            }
        }
        if !out.is_empty() && temporal.address.is_none() {
            self.error("temporal.address", None, "is missing; `[[worker_deployments]]` are registered through it: the frontend `host:port`");
        }
        ok.then_some(out)
    }

    fn outputs(
        &mut self,
        t: &dyn TableLike,
        aws: Option<&Aws>,
        role: Option<&Role>,
        partition: Option<&str>,
    ) -> Option<Outputs> {
        self.unknown_keys(t, "outputs", OUTPUTS_KEYS);
        let hint =
            "`[outputs]` is written by `cargo xtask deploy`; delete the table and deploy again";
        let role_arn = self.string(t, "outputs", "role_arn", hint);
        let stack_id = self.string(t, "outputs", "stack_id", hint);
        let deployed_at = self.string(t, "outputs", "deployed_at", hint);
        let registered = self
            .string_list(t, "outputs", "registered")
            .unwrap_or_default();
        if let (Some(aws), Some(role), Some(partition)) = (aws, role, partition) {
            self.recorded_stack(aws, role, partition, role_arn.as_ref(), stack_id.as_ref());
        }
        if let Some((at, span)) = &deployed_at
            && let Err(msg) = check_rfc3339(at)
        {
            self.error("outputs.deployed_at", span.clone(), msg);
        }
        for (i, (id, span)) in registered.iter().enumerate() {
            if let Err(msg) = arn::check_registered(id) {
                self.error(format!("outputs.registered[{i}]"), span.clone(), msg);
            }
        }
        self.duplicates("outputs.registered", &registered);
        Some(Outputs {
            role_arn: role_arn?.0,
            stack_id: stack_id?.0,
            deployed_at: deployed_at?.0,
            registered: registered.into_iter().map(|r| r.0).collect(),
        })
    }

    /// `[outputs].role_arn` and `stack_id` must be this descriptor's stack and its role, in one
    /// account (`aws.account_id` when set): a table copied from another descriptor would send
    /// `register` and `status` to another stack's role.
    fn recorded_stack(
        &mut self,
        aws: &Aws,
        role: &Role,
        partition: &str,
        role_arn: Option<&Spanned<String>>,
        stack_id: Option<&Spanned<String>>,
    ) {
        let stack = &role.stack_name;
        let mut role_account = None;
        if let Some((arn, span)) = role_arn {
            match arn::check_recorded_role(arn, partition, role.name_or_default(), stack) {
                Ok(account) => role_account = Some((account, arn, span)),
                Err(msg) => self.error("outputs.role_arn", span.clone(), msg),
            }
        }
        let mut stack_account = None;
        if let Some((id, span)) = stack_id {
            match arn::check_stack_id(id, partition, &aws.region, stack) {
                Ok(account) => stack_account = Some((account, id, span)),
                Err(msg) => self.error("outputs.stack_id", span.clone(), msg),
            }
        }
        let redeploy = "delete `[outputs]` and deploy again";
        if let Some(expected) = &aws.account_id {
            for (key, found) in [
                ("outputs.role_arn", role_account),
                ("outputs.stack_id", stack_account),
            ] {
                if let Some((account, value, span)) = found
                    && account != expected
                {
                    self.error(key, span.clone(), format!("`{value}` is in account `{account}`, but `aws.account_id` is `{expected}`; {redeploy}"));
                }
            }
        } else if let (Some((a, value, span)), Some((b, _, _))) = (role_account, stack_account)
            && a != b
        {
            self.error(
                "outputs.role_arn",
                span.clone(),
                format!(
                    "`{value}` is in account `{a}`, but `outputs.stack_id` is in `{b}`; {redeploy}"
                ),
            );
        }
    }
}

/// An RFC 3339 date and time, as `deploy` records `deployed_at`:
/// `YYYY-MM-DDTHH:MM:SS[.FRACTION](Z|±HH:MM)`.
fn check_rfc3339(s: &str) -> Result<(), String> {
    if is_rfc3339(s) {
        Ok(())
    } else {
        Err(format!(
            "`{}` is not an RFC 3339 time; allowed: e.g. `2026-11-25T10:00:00Z`, as `cargo xtask deploy` records it",
            s.escape_debug()
        ))
    }
}

fn is_rfc3339(s: &str) -> bool {
    let num = |at: usize, len: usize| {
        s.get(at..at + len)
            .filter(|d| d.bytes().all(|b| b.is_ascii_digit()))
            .and_then(|d| d.parse::<u32>().ok())
    };
    let sep = |at: usize, allowed: &[u8]| s.as_bytes().get(at).is_some_and(|b| allowed.contains(b));
    let (Some(year), Some(month), Some(day), Some(hour), Some(minute), Some(second)) = (
        num(0, 4),
        num(5, 2),
        num(8, 2),
        num(11, 2),
        num(14, 2),
        num(17, 2),
    ) else {
        return false;
    };
    let shape = sep(4, b"-") && sep(7, b"-") && sep(10, b"Tt ") && sep(13, b":") && sep(16, b":");
    let in_range = (1..=12).contains(&month)
        && (1..=days_in_month(year, month)).contains(&day)
        && hour < 24
        && minute < 60
        && second <= 60;
    let mut zone = &s[19..];
    if let Some(fraction) = zone.strip_prefix('.') {
        let digits = fraction.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 {
            return false;
        }
        zone = &fraction[digits..];
    }
    let offset = |z: &str| {
        z.len() == 6
            && (z.starts_with('+') || z.starts_with('-'))
            && z.as_bytes()[3] == b':'
            && z.get(1..3)
                .and_then(|h| h.parse::<u32>().ok())
                .is_some_and(|h| h < 24)
            && z.get(4..6)
                .and_then(|m| m.parse::<u32>().ok())
                .is_some_and(|m| m < 60)
    };
    shape && in_range && (zone == "Z" || zone == "z" || offset(zone))
}

fn days_in_month(year: u32, month: u32) -> u32 {
    match month {
        2 if year.is_multiple_of(4) && (!year.is_multiple_of(100) || year.is_multiple_of(400)) => {
            29
        }
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// `host:port` of the Temporal frontend.
fn check_address(a: &str) -> Result<(), String> {
    let allowed = "allowed: `host:port`, e.g. `temporal.staging.internal:7233`";
    let Some((host, port)) = a.rsplit_once(':') else {
        return Err(format!("`{}` has no port; {allowed}", a.escape_debug()));
    };
    let host = host.trim_start_matches('[').trim_end_matches(']');
    if host.is_empty() || host.contains(|c: char| c.is_whitespace() || c == '/') {
        return Err(format!(
            "`{}` has no valid host; {allowed}",
            a.escape_debug()
        ));
    }
    match port.parse::<u16>() {
        Ok(p) if p > 0 => Ok(()),
        _ => Err(format!(
            "`{}` has port `{port}`; {allowed}",
            a.escape_debug()
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"
[aws]
region = "us-west-2"

[temporal]
server_role_arn = "arn:aws:iam::123456789012:role/temporal-server"
namespaces = ["orders", "billing"]

[role]
stack_name = "temporal-serverless-worker-staging"
external_id = "abcdef-12345"
lambda_function_arns = ["arn:aws:lambda:us-west-2:123456789012:function:worker-1"]
"#;

    fn load(src: &str) -> Result<Loaded, LoadError> {
        load_str(Path::new("environments/staging.toml"), src)
    }

    fn problems(src: &str) -> Vec<Problem> {
        match load(src) {
            Err(LoadError::Invalid(p)) => p,
            other => panic!("expected problems, got {other:?}"),
        }
    }

    #[test]
    fn good_descriptor_loads_with_defaults() {
        let loaded = load(GOOD).unwrap();
        let env = loaded.env;
        assert!(loaded.warnings.is_empty(), "{:?}", loaded.warnings);
        assert_eq!(env.name, "staging");
        assert_eq!(
            env.temporal.namespaces,
            Some(vec!["orders".into(), "billing".into()])
        );
        assert_eq!(env.temporal.compute_providers, vec!["aws-lambda"]);
        assert_eq!(env.temporal.scaling_algorithms, vec!["no-sync"]);
        assert_eq!(env.role.name_or_default(), "Temporal-Serverless-Worker");
        assert!(env.deploy.confirm);
        assert_eq!(env.outputs, None);
    }

    #[test]
    fn reports_every_problem_at_once_with_lines() {
        let src = r#"
[aws]
region = "mars-1"
colour = "blue"

[temporal]
server_role_arn = "arn:aws:sts::123456789012:assumed-role/temporal/i-0abc"
namespaces = ["ok", "bad name"]
compute_providers = ["aws-ecs"]

[role]
stack_name = "temporal-serverless-worker-staging"
external_id = "abc"
lambda_function_arns = []
"#;
        let p = problems(src);
        let keys: Vec<&str> = p.iter().map(|p| p.key.as_str()).collect();
        assert_eq!(
            keys,
            vec![
                "aws.region",
                "aws.colour",
                "temporal.namespaces[1]",
                "temporal.compute_providers",
                "role.external_id",
                "role.lambda_function_arns"
            ],
            "{p:#?}"
        );
        assert_eq!(p[0].position, Some((3, 10)));
        assert!(p[0].to_string().starts_with(
            "environments/staging.toml:3:10: error: `aws.region`: `mars-1` is not an AWS region"
        ));
        assert!(p[1].message.contains("allowed: `region`, `profile`"));
        assert!(p[4].message.contains("3 characters long; allowed: 5 to 45"));
        assert!(p.iter().all(|p| p.severity == Severity::Error));
        // The assumed-role ARN is only checked when the region is valid (its partition is needed).
        let fixed = src.replace("mars-1", "us-west-2");
        let p = problems(&fixed);
        let role = p
            .iter()
            .find(|p| p.key == "temporal.server_role_arn")
            .unwrap();
        assert!(
            role.message
                .contains("arn:aws:iam::123456789012:role/temporal"),
            "{}",
            role.message
        );
    }

    #[test]
    fn wrong_types_and_missing_tables() {
        let p = problems("[aws]\nregion = 5\n[temporal]\nnamespaces = [\"a\", 1]\n");
        let msgs: Vec<String> = p
            .iter()
            .map(|p| format!("{}: {}", p.key, p.message))
            .collect();
        assert!(
            msgs.contains(&"aws.region: expected a string, found integer".to_owned()),
            "{msgs:#?}"
        );
        assert!(
            msgs.contains(&"temporal.namespaces[1]: expected a string, found integer".to_owned()),
            "{msgs:#?}"
        );
        assert!(
            msgs.iter()
                .any(|m| m.starts_with("temporal.server_role_arn: is missing")),
            "{msgs:#?}"
        );
        assert!(
            msgs.contains(&"role: the table `[role]` is missing".to_owned()),
            "{msgs:#?}"
        );
    }

    #[test]
    fn syntax_errors_point_at_the_line() {
        let p = problems("[aws]\nregion = \"us-west-2\n");
        assert_eq!(p.len(), 1);
        assert_eq!(p[0].position.map(|p| p.0), Some(2));
        assert!(p[0].message.starts_with("not valid TOML"));
    }

    #[test]
    fn external_id_rules() {
        for (id, ok) in [
            ("abcde", true),
            (&"a".repeat(45), true),
            (&"a".repeat(46), false),
            ("abc d1", false),
            ("a+b=c,d.e@f-g_h", true),
            ("abcd", false),
            ("ab:cdef", false),
        ] {
            let src = GOOD.replace("abcdef-12345", id);
            assert_eq!(load(&src).is_ok(), ok, "{id}");
        }
    }

    #[test]
    fn lambda_arn_in_other_region_or_account_warns() {
        let src = GOOD.replace(
            r#"["arn:aws:lambda:us-west-2:123456789012:function:worker-1"]"#,
            r#"["arn:aws:lambda:eu-west-1:123456789012:function:a", "arn:aws:lambda:us-west-2:999999999999:function:b"]"#,
        );
        let loaded = load(&src).unwrap();
        let w: Vec<_> = loaded
            .warnings
            .iter()
            .map(|p| (p.key.as_str(), p.severity))
            .collect();
        assert_eq!(
            w,
            vec![
                ("role.lambda_function_arns[0]", Severity::Warning),
                ("role.lambda_function_arns[1]", Severity::Warning)
            ]
        );
    }

    #[test]
    fn bad_lambda_arns_and_duplicates_are_errors() {
        let src = GOOD.replace(
            r#"["arn:aws:lambda:us-west-2:123456789012:function:worker-1"]"#,
            r#"["arn:aws:s3:::bucket", "arn:aws:lambda:us-west-2:123456789012:function:w", "arn:aws:lambda:us-west-2:123456789012:function:w"]"#,
        );
        let keys: Vec<String> = problems(&src).into_iter().map(|p| p.key).collect();
        assert_eq!(
            keys,
            vec![
                "role.lambda_function_arns[0]",
                "role.lambda_function_arns[2]"
            ]
        );
    }

    #[test]
    fn too_long_role_name_is_caught_before_aws() {
        let src = GOOD.replace(
            "temporal-serverless-worker-staging",
            "temporal-serverless-worker-staging-with-a-long-suffix",
        );
        let p = problems(&src);
        assert_eq!(p[0].key, "role.stack_name");
        assert!(p[0].message.contains("at most 64"));
    }

    #[test]
    fn worker_deployments_are_checked_against_the_role_and_namespaces() {
        let wd = |ns: &str, arn: &str| {
            format!(
                "{GOOD}\n[[worker_deployments]]\nnamespace = \"{ns}\"\nname = \"orders-worker\"\nbuild_id = \"2026-11-24.1\"\nlambda_function_arn = \"{arn}\"\n"
            )
        };
        let f = "arn:aws:lambda:us-west-2:123456789012:function:worker-1";
        let no_address = problems(&wd("orders", f));
        assert_eq!(
            no_address
                .iter()
                .map(|p| p.key.as_str())
                .collect::<Vec<_>>(),
            vec!["temporal.address"]
        );
        let with_address = |s: String| {
            s.replace(
                "namespaces = [",
                "address = \"temporal.internal:7233\"\nnamespaces = [",
            )
        };
        let env = load(&with_address(wd("orders", f))).unwrap().env;
        assert_eq!(
            env.worker_deployments[0].id(),
            "orders/orders-worker@2026-11-24.1"
        );
        assert!(!env.worker_deployments[0].set_current);
        let p = problems(&with_address(wd("payments", &format!("{f}:3"))));
        let msgs: Vec<String> = p
            .iter()
            .map(|p| format!("{}: {}", p.key, p.message))
            .collect();
        assert!(
            msgs[0].starts_with(
                "worker_deployments[0].namespace: `payments` is not in `temporal.namespaces`"
            ),
            "{msgs:#?}"
        );
        assert!(
            msgs[1].contains(
                "is not covered by `role.lambda_function_arns`, so the role could not invoke it"
            ),
            "{msgs:#?}"
        );
    }

    #[test]
    fn temporal_connection_keys() {
        let src = GOOD.replace("namespaces = [", "address = \"no-port\"\ntls_cert_path = \"c.pem\"\napi_key_env = \"my key\"\nnamespaces = [");
        let keys: Vec<String> = problems(&src).into_iter().map(|p| p.key).collect();
        assert_eq!(
            keys,
            vec![
                "temporal.address",
                "temporal.tls_cert_path",
                "temporal.api_key_env"
            ]
        );
        let src = GOOD.replace(
            "namespaces = [",
            "address = \"t:7233\"\ntls = true\napi_key_env = \"TEMPORAL_API_KEY\"\nnamespaces = [",
        );
        let t = load(&src).unwrap().env.temporal;
        assert_eq!(t.tls, Some(Tls::default()));
        assert_eq!(t.api_key_env.as_deref(), Some("TEMPORAL_API_KEY"));
    }

    const STACK_ID: &str = "arn:aws:cloudformation:us-west-2:123456789012:stack/temporal-serverless-worker-staging/0f1e-42";
    const ROLE_ARN: &str = "arn:aws:iam::123456789012:role/Temporal-Serverless-Worker-temporal-serverless-worker-staging";

    fn with_outputs(role_arn: &str, stack_id: &str, deployed_at: &str, registered: &str) -> String {
        format!(
            "{GOOD}\n[deploy]\nconfirm = false\n\n[outputs]\nrole_arn = \"{role_arn}\"\nstack_id = \"{stack_id}\"\ndeployed_at = \"{deployed_at}\"\nregistered = {registered}\n"
        )
    }

    #[test]
    fn sandbox_table_needs_loopback_addresses() {
        let sandbox = |aws: &str, address: &str| {
            GOOD.replace(
                "region = \"us-west-2\"",
                &format!("region = \"us-west-2\"\n{aws}"),
            )
            .replace("namespaces = [", &format!("{address}\nnamespaces = ["))
                + "\n[sandbox]\n"
        };
        let ok = sandbox(
            "endpoint_url = \"http://127.0.0.1:5050\"",
            "address = \"localhost:7233\"",
        );
        let env = load(&ok).unwrap().env;
        assert!(env.starts_sandbox());
        assert!(
            !load(&format!("{ok}auto_start = false\n"))
                .unwrap()
                .env
                .starts_sandbox()
        );
        assert!(
            !load(GOOD).unwrap().env.starts_sandbox(),
            "no [sandbox], no start"
        );

        let p = problems(&sandbox(
            "endpoint_url = \"http://0.0.0.0:5050\"",
            "address = \"temporal.internal:7233\"",
        ));
        let msgs: Vec<String> = p.iter().map(|p| p.to_string()).collect();
        assert_eq!(p.len(), 2, "{msgs:#?}");
        assert!(
            msgs[0].starts_with("environments/staging.toml:4:1: error: `aws.endpoint_url`: `http://0.0.0.0:5050` cannot be the sandbox's emulator"),
            "{msgs:#?}"
        );
        assert!(msgs[1].contains("`temporal.address`: `temporal.internal:7233` cannot be the sandbox's Temporal dev server"), "{msgs:#?}");

        let p = problems(&format!(
            "{GOOD}\n[sandbox]\nauto_start = \"yes\"\nport = 1\n"
        ));
        let keys: Vec<&str> = p.iter().map(|p| p.key.as_str()).collect();
        assert_eq!(
            keys,
            ["aws.endpoint_url", "sandbox.auto_start", "sandbox.port"],
            "{p:#?}"
        );
        assert!(
            p[0].message
                .starts_with("is missing; `[sandbox]` needs the emulator's URL")
        );
    }

    #[test]
    fn outputs_and_deploy_tables_are_read() {
        let src = with_outputs(
            ROLE_ARN,
            STACK_ID,
            "2026-11-25T10:00:00.52Z",
            "[\"orders/w@1\"]",
        );
        let env = load(&src).unwrap().env;
        assert!(!env.deploy.confirm);
        let outputs = env.outputs.unwrap();
        assert_eq!(outputs.stack_id, STACK_ID);
        assert_eq!(outputs.registered, vec!["orders/w@1"]);
    }

    #[test]
    fn foreign_or_malformed_outputs_are_errors_with_lines() {
        let other_stack = ROLE_ARN.replace("staging", "production");
        let src = with_outputs(
            &other_stack,
            "id",
            "yesterday",
            "[\"orders/w@1\", \"w\", \"orders/w@1\"]",
        );
        let found: Vec<String> = problems(&src)
            .iter()
            .map(|p| format!("{:?} {}: {}", p.position.map(|p| p.0), p.key, p.message))
            .collect();
        assert_eq!(found.len(), 5, "{found:#?}");
        assert!(found[0].starts_with("Some(18) outputs.role_arn: `arn:aws:iam::123456789012:role/Temporal-Serverless-Worker-temporal-serverless-worker-production` is not the role of stack `temporal-serverless-worker-staging`"), "{found:#?}");
        assert!(
            found[1]
                .starts_with("Some(19) outputs.stack_id: `id` is not a CloudFormation stack ID"),
            "{found:#?}"
        );
        assert!(
            found[2]
                .starts_with("Some(20) outputs.deployed_at: `yesterday` is not an RFC 3339 time"),
            "{found:#?}"
        );
        assert!(
            found[3].starts_with(
                "Some(21) outputs.registered[1]: `w` is not `namespace/name@build_id`"
            ),
            "{found:#?}"
        );
        assert!(
            found[4].starts_with("Some(21) outputs.registered[2]: `orders/w@1` is listed twice"),
            "{found:#?}"
        );
    }

    #[test]
    fn recorded_accounts_must_agree() {
        let other_account = |s: &str| s.replace("123456789012", "210987654321");
        // Without `aws.account_id`: role and stack in one account.
        let src = with_outputs(
            ROLE_ARN,
            &other_account(STACK_ID),
            "2026-11-25T10:00:00Z",
            "[]",
        );
        let p = problems(&src);
        assert_eq!(p.len(), 1, "{p:#?}");
        assert!(p[0].message.ends_with("is in account `123456789012`, but `outputs.stack_id` is in `210987654321`; delete `[outputs]` and deploy again"), "{p:#?}");
        // With it: both in that account.
        let src = with_outputs(ROLE_ARN, STACK_ID, "2026-11-25T10:00:00Z", "[]")
            .replace("[aws]\n", "[aws]\naccount_id = \"210987654321\"\n");
        let keys: Vec<String> = problems(&src)
            .into_iter()
            .filter(|p| p.severity == Severity::Error)
            .map(|p| p.key)
            .collect();
        assert_eq!(keys, vec!["outputs.role_arn", "outputs.stack_id"]);
        let src = other_account(&with_outputs(
            ROLE_ARN,
            STACK_ID,
            "2026-11-25T10:00:00Z",
            "[]",
        ))
        .replace("[aws]\n", "[aws]\naccount_id = \"210987654321\"\n");
        assert!(load(&src).is_ok());
    }

    #[test]
    fn rfc3339_times() {
        for good in [
            "2026-11-25T10:00:00Z",
            "2026-11-25T10:00:00.123456Z",
            "2024-02-29t23:59:60+01:00",
            "2026-11-25 10:00:00-05:30",
        ] {
            assert!(is_rfc3339(good), "{good}");
        }
        for bad in [
            "yesterday",
            "",
            "2026-11-25",
            "2026-11-25T10:00:00",
            "2026-13-25T10:00:00Z",
            "2025-02-29T10:00:00Z",
            "2026-11-25T24:00:00Z",
            "2026-11-25T10:00:00.Z",
            "2026-11-25T10:00:00+0100",
            "2026-11-25T10:00:00+é:00",
            "2026-11-25T10:00:00Zjunk",
        ] {
            assert!(!is_rfc3339(bad), "{bad}");
        }
    }
}
