//! Parsing and validation of a descriptor. The document is walked key by key so that every
//! problem is reported at once, each with its line.

use std::ops::Range;
use std::path::{Path, PathBuf};

use toml_edit::{Item, TableLike, Value};

use crate::arn;
use crate::model::{Aws, DeploySettings, Environment, Outputs, Role, Temporal};
use crate::problem::{Problem, Severity, line_col};

/// Compute provider types the Temporal 1.32 Worker Controller knows.
pub const COMPUTE_PROVIDERS: &[&str] = &[
    "aws-lambda",
    "aws-ecs",
    "aws-agentcore",
    "subprocess",
    "k8s",
    "gcp-cloud-run",
];
/// Scaling algorithms the Temporal 1.32 Worker Controller knows.
pub const SCALING_ALGORITHMS: &[&str] = &["no-sync", "rate-based"];

const TABLES: &[&str] = &["aws", "temporal", "role", "deploy", "outputs"];
const AWS_KEYS: &[&str] = &["region", "profile", "endpoint_url", "account_id"];
const TEMPORAL_KEYS: &[&str] = &[
    "server_role_arn",
    "namespaces",
    "compute_providers",
    "scaling_algorithms",
];
const ROLE_KEYS: &[&str] = &["stack_name", "name", "external_id", "lambda_function_arns"];
const DEPLOY_KEYS: &[&str] = &["confirm"];
const OUTPUTS_KEYS: &[&str] = &["role_arn", "stack_id", "deployed_at"];

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
            Some(t) => Some(self.outputs(t)?),
            None => None,
        };
        let (aws, temporal, role) = (aws?, temporal?, role?);
        if let Some((lambda_accounts_src, account)) = self.expected_account(&aws, &temporal) {
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
            deploy,
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
        if let Some((r, span)) = &region {
            if arn::partition_of_region(r).is_none() {
                self.error(
                    "aws.region",
                    span.clone(),
                    format!(
                        "`{}` is not an AWS region; allowed: a region code such as `us-west-2`",
                        r.escape_debug()
                    ),
                );
            }
        }
        let profile = self.string(t, "aws", "profile", "");
        if let Some((p, span)) = &profile {
            if p.is_empty() {
                self.error(
                    "aws.profile",
                    span.clone(),
                    "is empty; allowed: a profile name from ~/.aws/config, or leave the key out",
                );
            }
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
        if let Some((a, span)) = &account_id {
            if a.len() != 12 || !a.bytes().all(|b| b.is_ascii_digit()) {
                self.error(
                    "aws.account_id",
                    span.clone(),
                    format!(
                        "`{}` is not an AWS account id; allowed: 12 digits",
                        a.escape_debug()
                    ),
                );
            }
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
        if let (Some((a, span)), Some(partition)) = (&server_role_arn, partition) {
            if let Err(msg) = arn::check_principal_arn(a, partition) {
                self.error("temporal.server_role_arn", span.clone(), msg);
            }
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
        let compute_providers =
            self.choices(t, "compute_providers", COMPUTE_PROVIDERS, "aws-lambda");
        let scaling_algorithms =
            self.choices(t, "scaling_algorithms", SCALING_ALGORITHMS, "no-sync");
        Some(Temporal {
            server_role_arn: server_role_arn?.0,
            namespaces: namespaces.map(|l| l.into_iter().map(|(s, _)| s).collect()),
            compute_providers: compute_providers?,
            scaling_algorithms: scaling_algorithms?,
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
        if let Some((s, span)) = &stack_name {
            if let Err(msg) = arn::check_stack_name(s) {
                self.error("role.stack_name", span.clone(), msg);
            }
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

    /// The account Lambda ARNs are expected in, and what it comes from.
    fn expected_account(&self, aws: &Aws, temporal: &Temporal) -> Option<(&'static str, String)> {
        if let Some(id) = &aws.account_id {
            return Some(("aws.account_id", id.clone()));
        }
        let arn = arn::Arn::parse(&temporal.server_role_arn)?;
        Some((
            "the account of temporal.server_role_arn",
            arn.account.to_owned(),
        ))
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

    fn deploy(&mut self, t: &dyn TableLike) -> Option<DeploySettings> {
        self.unknown_keys(t, "deploy", DEPLOY_KEYS);
        let confirm = match t.get("confirm") {
            None => true,
            Some(Item::Value(Value::Boolean(b))) => *b.value(),
            Some(item) => {
                self.error(
                    "deploy.confirm",
                    item.span(),
                    format!("expected `true` or `false`, found {}", item.type_name()),
                );
                return None;
            }
        };
        Some(DeploySettings { confirm })
    }

    fn outputs(&mut self, t: &dyn TableLike) -> Option<Outputs> {
        self.unknown_keys(t, "outputs", OUTPUTS_KEYS);
        let hint =
            "`[outputs]` is written by `cargo xtask deploy`; delete the table and deploy again";
        let role_arn = self.string(t, "outputs", "role_arn", hint);
        let stack_id = self.string(t, "outputs", "stack_id", hint);
        let deployed_at = self.string(t, "outputs", "deployed_at", hint);
        Some(Outputs {
            role_arn: role_arn?.0,
            stack_id: stack_id?.0,
            deployed_at: deployed_at?.0,
        })
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
    fn outputs_and_deploy_tables_are_read() {
        let src = format!(
            "{GOOD}\n[deploy]\nconfirm = false\n\n[outputs]\nrole_arn = \"arn:aws:iam::123456789012:role/x\"\nstack_id = \"id\"\ndeployed_at = \"2026-11-25T10:00:00Z\"\n"
        );
        let env = load(&src).unwrap().env;
        assert!(!env.deploy.confirm);
        assert_eq!(env.outputs.unwrap().stack_id, "id");
    }
}
