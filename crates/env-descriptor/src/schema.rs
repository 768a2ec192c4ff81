//! Parsing and validation of a descriptor. The document is walked key by key so that every
//! problem is reported at once, each with its line. Which tables and keys exist, which are
//! required, their types, defaults and allowed names come from their one declaration
//! (`declared.rs`); the rules for their values are here.

use std::ops::Range;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use toml_edit::{Item, TableLike, Value};

use crate::arn;
use crate::declared::{Kind, Table, shape};
use crate::model::{
    Aws, DeploySettings, Environment, Outputs, Role, SandboxSettings, Smoke, Temporal, Tls,
    WorkerDeployment, expected_account,
};
use crate::problem::{Problem, Severity, line_text};
use crate::value::{
    AccountId, Address, ConfigPath, EndpointUrl, EnvVarName, ExternalId, JsonText, Label,
    LambdaArn, Namespace, PrincipalArn, ProfileName, Region, RegisteredId, RoleName, StackName,
    Timestamp,
};

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
        out.push_str(&p.to_string().replace('\n', "\n  "));
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

/// What the rules that span tables read, recorded by each table's reader: the values that passed
/// their own rule (the texts of the Lambda ARNs, which a Worker Deployment's must match), so that
/// one invalid value in a table does not switch off the rules about its other values.
#[derive(Default)]
struct Refs {
    /// The partition of `aws.region`.
    partition: Option<&'static str>,
    /// `aws.endpoint_url`: `Some(None)` when it is set but invalid.
    endpoint_url: Option<Option<EndpointUrl>>,
    /// `temporal.address`: `Some(None)` when it is set but invalid.
    address: Option<Option<Address>>,
    /// The valid entries of `temporal.namespaces`; `None` enables every namespace.
    namespaces: Option<Vec<Namespace>>,
    lambda_arns: Vec<Checked<LambdaArn>>,
}

/// A key's text and where it stands, with its typed value when the value's rule accepted it.
/// Cross-field rules read the text, so that one invalid value never hides another's problem.
#[derive(Clone)]
struct Checked<T> {
    text: String,
    span: Option<Range<usize>>,
    value: Option<T>,
}

/// An optional key's value: `Some(None)` when it is left out, `None` when its rule rejected it.
fn optional<T>(key: Option<Checked<T>>) -> Option<Option<T>> {
    key.map(|k| k.value).map_or(Some(None), |v| v.map(Some))
}

/// A list's values, when its rule accepted every entry.
fn all<T>(list: Vec<Checked<T>>) -> Option<Vec<T>> {
    list.into_iter().map(|c| c.value).collect()
}

impl Walker<'_> {
    fn push(
        &mut self,
        severity: Severity,
        key: String,
        span: Option<Range<usize>>,
        message: String,
    ) {
        self.problems.push(Problem::at(
            severity,
            self.file,
            self.src,
            span.map(|s| s.start),
            key,
            message,
        ));
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
                let key = e
                    .span()
                    .and_then(|s| key_at(self.src, s.start))
                    .unwrap_or_else(|| "(syntax)".to_owned());
                self.error(key, e.span(), format!("not valid TOML: {msg}"));
                return None;
            }
        };
        let root = doc.as_table();
        self.unknown_keys(root, "");
        let aws = self.table(root, "aws");
        let temporal = self.table(root, "temporal");
        let role = self.table(root, "role");
        let deploy = self.table(root, "deploy");
        let sandbox = self.table(root, "sandbox");
        let outputs = self.table(root, "outputs");

        let mut refs = Refs::default();
        let aws = aws.and_then(|t| self.aws(t, &mut refs));
        let partition = refs.partition;
        let temporal = temporal.and_then(|t| self.temporal(t, &mut refs));
        let role = role.and_then(|t| self.role(t, &mut refs));
        let deploy = match deploy {
            Some(t) => self.deploy(t)?,
            None => DeploySettings {
                confirm: declared("deploy").default_bool("confirm"),
            },
        };
        let outputs = match outputs {
            Some(t) => Some(self.outputs(t, aws.as_ref(), role.as_ref(), partition)?),
            None => None,
        };
        let sandbox = sandbox.map(|t| self.sandbox(t, root, &refs));
        let worker_deployments = self.worker_deployments(root, &refs);
        if let (Some(aws), Some(temporal)) = (&aws, &temporal)
            && let Some((lambda_accounts_src, account)) = expected_account(aws, temporal)
        {
            self.check_lambda_consistency(
                &refs.lambda_arns,
                &aws.region,
                &account,
                lambda_accounts_src,
            );
        }
        let (aws, temporal, role) = (aws?, temporal?, role?);
        let worker_deployments = worker_deployments?;
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
            role,
            worker_deployments,
            deploy,
            sandbox,
            outputs,
        })
    }

    fn table<'d>(&mut self, root: &'d toml_edit::Table, name: &str) -> Option<&'d dyn TableLike> {
        debug_assert_eq!(declared("").kind(name), Kind::Table);
        match root.get(name) {
            None if declared("").is_required(name) => {
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

    fn unknown_keys(&mut self, t: &dyn TableLike, section: &str) {
        let allowed = declared(section).keys;
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

    /// A string; a required one that is missing is reported with what to write there.
    fn string(&mut self, t: &dyn TableLike, section: &str, key: &str) -> Option<Spanned<String>> {
        let full = format!("{section}.{key}");
        debug_assert_eq!(declared(section).kind(key), Kind::String, "{full}");
        match t.get(key) {
            None => {
                self.missing(section, key);
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

    /// Reports a key left out when its declaration requires it, quoting what to write there.
    fn missing(&mut self, section: &str, key: &str) {
        let declared = declared(section);
        if declared.is_required(key) {
            let hint = declared.missing_hint(key);
            self.error(
                format!("{section}.{key}"),
                None,
                format!("is missing; {hint}"),
            );
        }
    }

    fn string_list(
        &mut self,
        t: &dyn TableLike,
        section: &str,
        key: &str,
    ) -> Option<Vec<Spanned<String>>> {
        let full = format!("{section}.{key}");
        debug_assert_eq!(declared(section).kind(key), Kind::Strings, "{full}");
        let Some(item) = t.get(key) else {
            self.missing(section, key);
            return None;
        };
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

    /// A string key parsed by `rule` (its value type's constructor). A rejected value is
    /// reported and the walk goes on with its text, so that cross-field rules still see it.
    fn checked<T>(
        &mut self,
        t: &dyn TableLike,
        section: &str,
        key: &str,
        rule: impl FnOnce(&str) -> Result<T, String>,
    ) -> Option<Checked<T>> {
        let (text, span) = self.string(t, section, key)?;
        let value = self.accept(format!("{section}.{key}"), &span, rule(&text));
        Some(Checked { text, span, value })
    }

    /// [`Self::checked`] for the value type's own rule, its `FromStr`.
    fn value<T: FromStr<Err = String>>(
        &mut self,
        t: &dyn TableLike,
        section: &str,
        key: &str,
    ) -> Option<Checked<T>> {
        self.checked(t, section, key, str::parse)
    }

    /// An array of strings, each parsed by `rule`; an entry listed twice is reported too.
    fn checked_list<T>(
        &mut self,
        t: &dyn TableLike,
        section: &str,
        key: &str,
        rule: impl Fn(&str) -> Result<T, String>,
    ) -> Option<Vec<Checked<T>>> {
        let full = format!("{section}.{key}");
        let list = self.string_list(t, section, key)?;
        let list: Vec<Checked<T>> = list
            .into_iter()
            .enumerate()
            .map(|(i, (text, span))| {
                let value = self.accept(format!("{full}[{i}]"), &span, rule(&text));
                Checked { text, span, value }
            })
            .collect();
        for (i, entry) in list.iter().enumerate() {
            if list[..i].iter().any(|e| e.text == entry.text) {
                self.error(
                    format!("{full}[{i}]"),
                    entry.span.clone(),
                    format!("`{}` is listed twice", entry.text.escape_debug()),
                );
            }
        }
        Some(list)
    }

    /// The value a rule accepted, or `None` with its reason reported at `span`.
    fn accept<T>(
        &mut self,
        key: String,
        span: &Option<Range<usize>>,
        parsed: Result<T, String>,
    ) -> Option<T> {
        parsed
            .map_err(|msg| self.error(key, span.clone(), msg))
            .ok()
    }

    fn aws(&mut self, t: &dyn TableLike, refs: &mut Refs) -> Option<Aws> {
        self.unknown_keys(t, "aws");
        let region = self.value::<Region>(t, "aws", "region");
        let profile = self.value::<ProfileName>(t, "aws", "profile");
        let endpoint_url = self.value::<EndpointUrl>(t, "aws", "endpoint_url");
        let account_id = self.value::<AccountId>(t, "aws", "account_id");
        refs.partition = region
            .as_ref()
            .and_then(|r| Some(r.value.as_ref()?.partition()));
        refs.endpoint_url = endpoint_url.clone().map(|u| u.value);
        Some(Aws {
            region: region?.value?,
            profile: optional(profile)?,
            endpoint_url: optional(endpoint_url)?,
            account_id: optional(account_id)?,
        })
    }

    fn temporal(&mut self, t: &dyn TableLike, refs: &mut Refs) -> Option<Temporal> {
        self.unknown_keys(t, "temporal");
        let partition = refs.partition;
        let server_role_arn = self.checked(t, "temporal", "server_role_arn", |a| {
            PrincipalArn::parse_in(a, partition)
        });
        let namespaces = self.checked_list(t, "temporal", "namespaces", str::parse::<Namespace>);
        if namespaces.as_ref().is_some_and(Vec::is_empty) {
            self.error(
                "temporal.namespaces",
                Self::key_span(t, "namespaces"),
                "is empty; allowed: one or more namespace names, or leave the key out to enable the Worker Controller globally",
            );
        }
        let compute_providers = self.choices(t, "compute_providers");
        let scaling_algorithms = self.choices(t, "scaling_algorithms");
        let address = self.value::<Address>(t, "temporal", "address");
        let dynamic_config_file = self.value::<ConfigPath>(t, "temporal", "dynamic_config_file");
        let tls_on = self.opt_bool(t, "temporal", "tls");
        let tls = Tls {
            cert_path: self.string(t, "temporal", "tls_cert_path").map(|v| v.0),
            key_path: self.string(t, "temporal", "tls_key_path").map(|v| v.0),
            ca_path: self.string(t, "temporal", "tls_ca_path").map(|v| v.0),
            server_name: self.string(t, "temporal", "tls_server_name").map(|v| v.0),
        };
        let tls = self.tls(t, tls_on, tls);
        let api_key_env = self.value::<EnvVarName>(t, "temporal", "api_key_env");
        refs.namespaces = namespaces
            .clone()
            .map(|l| l.into_iter().filter_map(|n| n.value).collect());
        refs.address = address.clone().map(|a| a.value);
        Some(Temporal {
            server_role_arn: server_role_arn?.value?,
            namespaces: namespaces.map_or(Some(None), |l| all(l).map(Some))?,
            compute_providers: compute_providers?,
            scaling_algorithms: scaling_algorithms?,
            address: optional(address)?,
            dynamic_config_file: optional(dynamic_config_file)?,
            tls,
            api_key_env: optional(api_key_env)?,
        })
    }

    /// The `tls_*` keys go together with `tls`: any of them implies TLS, `tls = false` forbids
    /// them, and a client certificate needs its key.
    fn tls(&mut self, t: &dyn TableLike, tls_on: Option<bool>, tls: Tls) -> Option<Tls> {
        if tls.cert_path.is_some() != tls.key_path.is_some() {
            self.error(
                "temporal.tls_cert_path",
                Self::key_span(t, "tls_cert_path").or(Self::key_span(t, "tls_key_path")),
                "`tls_cert_path` and `tls_key_path` go together (mutual TLS); give both or neither",
            );
        }
        match tls_on {
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
        }
    }

    /// A list of the names its declaration allows, which must contain its default (the one
    /// name Serverless Workers on Lambda need); left out, it is that default.
    fn choices(&mut self, t: &dyn TableLike, key: &str) -> Option<Vec<String>> {
        let declared = declared("temporal");
        let allowed = declared.choices(key);
        let default = declared.default_strings(key);
        if t.get(key).is_none() {
            return Some(default);
        }
        let needed = default.first().map_or("", String::as_str);
        let names = allowed
            .iter()
            .map(|k| format!("`{k}`"))
            .collect::<Vec<_>>()
            .join(", ");
        let known = |v: &str| match allowed.contains(&v) {
            true => Ok(()),
            false => Err(format!(
                "`{}` is not known to Temporal 1.32; allowed: {names}",
                v.escape_debug()
            )),
        };
        let list = self.checked_list(t, "temporal", key, known)?;
        if !list.iter().any(|c| c.text == needed) {
            self.error(
                format!("temporal.{key}"),
                Self::key_span(t, key),
                format!("must include `{needed}`, which Serverless Workers on Lambda need"),
            );
        }
        Some(list.into_iter().map(|c| c.text).collect())
    }

    fn role(&mut self, t: &dyn TableLike, refs: &mut Refs) -> Option<Role> {
        self.unknown_keys(t, "role");
        let partition = refs.partition;
        let stack_name = self.value::<StackName>(t, "role", "stack_name");
        let stack = stack_name.as_ref().map(|s| s.text.clone());
        let name = self.checked(t, "role", "name", |n| match &stack {
            Some(stack) => RoleName::parse_in(n, stack),
            None => n.parse(),
        });
        if name.is_none()
            && let Some(stack) = &stack
        {
            // The template's default name must fit beside the stack's name too.
            let default = RoleName::parse_in(Role::DEFAULT_NAME, stack);
            self.accept(
                "role.stack_name".into(),
                &Self::key_span(t, "stack_name"),
                default,
            );
        }
        let external_id = self.value::<ExternalId>(t, "role", "external_id");
        let arns = self.checked_list(t, "role", "lambda_function_arns", |a| {
            LambdaArn::parse_in(a, partition)
        });
        if arns.as_ref().is_some_and(Vec::is_empty) {
            let hint = declared("role").missing_hint("lambda_function_arns");
            self.error(
                "role.lambda_function_arns",
                Self::key_span(t, "lambda_function_arns"),
                format!("is empty; {hint}"),
            );
        }
        let arns = arns?;
        refs.lambda_arns.clone_from(&arns);
        Some(Role {
            stack_name: stack_name?.value?,
            name: optional(name)?,
            external_id: external_id?.value?,
            lambda_function_arns: all(arns)?,
        })
    }

    fn check_lambda_consistency(
        &mut self,
        arns: &[Checked<LambdaArn>],
        region: &str,
        account: &str,
        account_src: &str,
    ) {
        for (i, Checked { text, span, .. }) in arns.iter().enumerate() {
            let Some(parsed) = arn::Arn::parse(text) else {
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
        debug_assert_eq!(declared(section).kind(key), Kind::Bool, "{section}.{key}");
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

    /// A boolean with its declared default; a wrong type is reported and read as the default.
    fn bool(&mut self, t: &dyn TableLike, section: &str, key: &str) -> bool {
        self.opt_bool(t, section, key)
            .unwrap_or_else(|| declared(section).default_bool(key))
    }

    fn deploy(&mut self, t: &dyn TableLike) -> Option<DeploySettings> {
        self.unknown_keys(t, "deploy");
        let confirm = self.bool(t, "deploy", "confirm");
        Some(DeploySettings { confirm })
    }

    /// `[sandbox]`: the tool will start services at the environment's addresses, so they must be
    /// loopback addresses (never every interface, never another machine).
    fn sandbox(
        &mut self,
        t: &dyn TableLike,
        root: &toml_edit::Table,
        refs: &Refs,
    ) -> SandboxSettings {
        self.unknown_keys(t, "sandbox");
        let auto_start = self.bool(t, "sandbox", "auto_start");
        let span = |table: &str, key: &str| {
            root.get(table)
                .and_then(Item::as_table_like)
                .and_then(|t| Self::key_span(t, key))
        };
        let loopback = "the sandbox listens only on loopback: 127.0.0.1, [::1] or localhost";
        match &refs.endpoint_url {
            None => self.error(
                "aws.endpoint_url",
                None,
                format!("is missing; `[sandbox]` needs the emulator's URL, e.g. `http://127.0.0.1:5050` ({loopback})"),
            ),
            Some(Some(url)) if !local_endpoint::is_loopback(url) || !url.starts_with("http://") => self.error(
                "aws.endpoint_url",
                span("aws", "endpoint_url"),
                format!("`{}` cannot be the sandbox's emulator; allowed: `http://HOST:PORT` where HOST is a loopback address ({loopback}), or remove `[sandbox]`", url.escape_debug()),
            ),
            Some(_) => {}
        }
        if let Some(Some(address)) = &refs.address
            && !local_endpoint::is_loopback(address)
        {
            self.error(
                "temporal.address",
                span("temporal", "address"),
                format!("`{}` cannot be the sandbox's Temporal dev server; allowed: `HOST:PORT` where HOST is a loopback address ({loopback}), or remove `[sandbox]`", address.escape_debug()),
            );
        }
        SandboxSettings { auto_start }
    }

    fn worker_deployments(
        &mut self,
        root: &toml_edit::Table,
        refs: &Refs,
    ) -> Option<Vec<WorkerDeployment>> {
        let partition = refs.partition;
        let Some(item) = root.get("worker_deployments") else {
            return Some(Vec::new());
        };
        debug_assert_eq!(declared("").kind("worker_deployments"), Kind::Tables);
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
            self.unknown_keys(t, &section);
            let namespace = self.value::<Namespace>(t, &section, "namespace");
            let name = self.value::<Label>(t, &section, "name");
            let build_id = self.value::<Label>(t, &section, "build_id");
            let arn = self.checked(t, &section, "lambda_function_arn", |a| {
                LambdaArn::parse_in(a, partition)
            });
            let set_current = self.bool(t, &section, "set_current");
            let smoke = self.smoke(t, &section);
            if let Some(Checked {
                value: Some(ns),
                span,
                ..
            }) = &namespace
                && let Some(enabled) = &refs.namespaces
                && !enabled.iter().any(|e| ns == e.as_str())
            {
                self.error(format!("{section}.namespace"), span.clone(), format!("`{ns}` is not in `temporal.namespaces` ({}), so the Worker Controller is not enabled for it; add it there", enabled.iter().map(Namespace::as_str).collect::<Vec<_>>().join(", ")));
            }
            if let Some(Checked {
                value: Some(a),
                span,
                ..
            }) = &arn
                && !refs
                    .lambda_arns
                    .iter()
                    .any(|allowed| arn::resource_matches(&allowed.text, a))
            {
                self.error(
                    format!("{section}.lambda_function_arn"),
                    span.clone(),
                    format!("`{a}` is not covered by `role.lambda_function_arns`, so the role could not invoke it; add it (or `NAME:*` for every version) there and deploy"),
                );
            }
            if smoke.is_none() {
                ok = false;
                continue;
            }
            match (namespace, name, build_id, arn) {
                (
                    Some(Checked {
                        value: Some(namespace),
                        ..
                    }),
                    Some(Checked {
                        value: Some(name), ..
                    }),
                    Some(Checked {
                        value: Some(build_id),
                        ..
                    }),
                    Some(Checked {
                        value: Some(lambda_function_arn),
                        ..
                    }),
                ) => {
                    let wd = WorkerDeployment {
                        namespace,
                        name,
                        build_id,
                        lambda_function_arn,
                        set_current,
                        smoke: smoke.clone().flatten(),
                    };
                    if out.iter().any(|o| o.id() == wd.id()) {
                        self.error(section, t.span(), format!("`{}` is listed twice", wd.id()));
                    }
                    out.push(wd);
                }
                _ => ok = false,
            }
        }
        if !out.is_empty() && refs.address.is_none() {
            self.error("temporal.address", None, "is missing; `[[worker_deployments]]` are registered through it: the frontend `host:port`");
        }
        ok.then_some(out)
    }

    /// The entry's smoke workflow: `Some(None)` when it declares none, `None` when its keys
    /// are invalid (reported). The workflow and its task queue come together; an input needs
    /// the workflow.
    fn smoke(&mut self, t: &dyn TableLike, section: &str) -> Option<Option<Smoke>> {
        let workflow = self.value::<Label>(t, section, "smoke_workflow");
        let task_queue = self.value::<Label>(t, section, "smoke_task_queue");
        let input = self.value::<JsonText>(t, section, "smoke_input");
        let needs = |key: &str, other: &str| {
            (
                format!("{section}.{other}"),
                Self::key_span(t, key),
                format!(
                    "is missing; `{key}` needs it: the {}",
                    match other {
                        "smoke_task_queue" => "task queue the worker polls, e.g. `sample-worker`",
                        _ => "workflow type `cargo xtask smoke` starts, e.g. `Greet`",
                    }
                ),
            )
        };
        let missing = match (&workflow, &task_queue, &input) {
            (Some(_), None, _) => Some(needs("smoke_workflow", "smoke_task_queue")),
            (None, Some(_), _) => Some(needs("smoke_task_queue", "smoke_workflow")),
            (None, None, Some(_)) => Some(needs("smoke_input", "smoke_workflow")),
            _ => None,
        };
        if let Some((key, span, message)) = missing {
            self.error(key, span, message);
            return None;
        }
        let (Some(workflow), Some(task_queue)) = (workflow, task_queue) else {
            return Some(None);
        };
        Some(Some(Smoke {
            workflow: workflow.value?,
            task_queue: task_queue.value?,
            input: optional(input)?,
        }))
    }

    fn outputs(
        &mut self,
        t: &dyn TableLike,
        aws: Option<&Aws>,
        role: Option<&Role>,
        partition: Option<&str>,
    ) -> Option<Outputs> {
        self.unknown_keys(t, "outputs");
        let role_arn = self.string(t, "outputs", "role_arn");
        let stack_id = self.string(t, "outputs", "stack_id");
        let deployed_at = self.value::<Timestamp>(t, "outputs", "deployed_at");
        let registered = self
            .checked_list(t, "outputs", "registered", str::parse::<RegisteredId>)
            .unwrap_or_default();
        if let (Some(aws), Some(role), Some(partition)) = (aws, role, partition) {
            self.recorded_stack(aws, role, partition, role_arn.as_ref(), stack_id.as_ref());
        }
        Some(Outputs {
            role_arn: role_arn?.0,
            stack_id: stack_id?.0,
            deployed_at: deployed_at?.text,
            registered: registered.into_iter().map(|r| r.text).collect(),
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
                    && account != expected.as_str()
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

/// The declaration of `section` (`""` for the top level, `worker_deployments[i]` for an entry).
fn declared(section: &str) -> &'static Table {
    shape().table(section)
}

/// The dotted key a syntax error at byte `offset` is about, read from the text because the
/// document did not parse: the key of a `key = value` line under its table header
/// (`aws.region`), or the table of a header line (`aws`). `None` elsewhere (e.g. inside a
/// multi-line value), where only the line and column can be given.
fn key_at(src: &str, offset: usize) -> Option<String> {
    let header = |line: &str| {
        let line = line.trim();
        line.starts_with('[').then(|| {
            line.trim_start_matches('[')
                .split(']')
                .next()
                .unwrap_or_default()
                .trim()
                .to_owned()
        })
    };
    let line = line_text(src, offset);
    if let Some(table) = header(line) {
        return Some(table);
    }
    let (key, _) = line.split_once('=')?;
    let key = key.trim();
    if key.is_empty() || key.starts_with('#') {
        return None;
    }
    let offset = offset.min(src.len());
    let line_start = src[..offset].rfind('\n').map_or(0, |i| i + 1);
    let table = src[..line_start].lines().rev().find_map(header);
    Some(match table {
        Some(t) if !t.is_empty() => format!("{t}.{key}"),
        _ => key.to_owned(),
    })
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
            Some(vec!["orders".parse().unwrap(), "billing".parse().unwrap()])
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
                "temporal.server_role_arn",
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
        assert!(p[5].message.contains("3 characters long; allowed: 5 to 45"));
        assert!(p.iter().all(|p| p.severity == Severity::Error));
        // An invalid region hides nothing: the assumed-role ARN is reported with or without it.
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

    /// A descriptor with every table and key, as (header, keys) pairs, each key with a valid
    /// value.
    type Tables = Vec<(&'static str, Vec<(&'static str, &'static str)>)>;
    fn every_table() -> Tables {
        const ARN: &str = r#""arn:aws:lambda:us-west-2:123456789012:function:worker-1""#;
        const ARNS: &str = r#"["arn:aws:lambda:us-west-2:123456789012:function:worker-1"]"#;
        const ROLE: &str =
            r#""arn:aws:iam::123456789012:role/n-temporal-serverless-worker-staging""#;
        const STACK: &str = r#""arn:aws:cloudformation:us-west-2:123456789012:stack/temporal-serverless-worker-staging/0f1e-42""#;
        vec![
            (
                "[aws]",
                vec![
                    ("region", r#""us-west-2""#),
                    ("profile", r#""p""#),
                    ("endpoint_url", r#""http://127.0.0.1:5050""#),
                    ("account_id", r#""123456789012""#),
                ],
            ),
            (
                "[temporal]",
                vec![
                    ("server_role_arn", r#""arn:aws:iam::123456789012:role/t""#),
                    ("namespaces", r#"["orders"]"#),
                    ("compute_providers", r#"["aws-lambda"]"#),
                    ("scaling_algorithms", r#"["no-sync"]"#),
                    ("address", r#""127.0.0.1:7233""#),
                    ("dynamic_config_file", r#""dc.yaml""#),
                    ("tls", "true"),
                    ("tls_cert_path", r#""c""#),
                    ("tls_key_path", r#""k""#),
                    ("tls_ca_path", r#""ca""#),
                    ("tls_server_name", r#""t""#),
                    ("api_key_env", r#""KEY""#),
                ],
            ),
            (
                "[role]",
                vec![
                    ("stack_name", r#""temporal-serverless-worker-staging""#),
                    ("name", r#""n""#),
                    ("external_id", r#""abcdef-12345""#),
                    ("lambda_function_arns", ARNS),
                ],
            ),
            (
                "[[worker_deployments]]",
                vec![
                    ("namespace", r#""orders""#),
                    ("name", r#""w""#),
                    ("build_id", r#""1""#),
                    ("lambda_function_arn", ARN),
                    ("set_current", "true"),
                    ("smoke_workflow", r#""Greet""#),
                    ("smoke_task_queue", r#""q""#),
                    ("smoke_input", r#"'"x"'"#),
                ],
            ),
            ("[deploy]", vec![("confirm", "false")]),
            ("[sandbox]", vec![("auto_start", "false")]),
            (
                "[outputs]",
                vec![
                    ("role_arn", ROLE),
                    ("stack_id", STACK),
                    ("deployed_at", r#""2026-11-25T10:00:00Z""#),
                    ("registered", "[]"),
                ],
            ),
        ]
    }

    /// Every key the declaration lists is read by the walk, with its declared type: a key the
    /// walk forgot would be accepted and ignored.
    #[test]
    fn every_declared_key_is_read_with_its_type() {
        let tables = every_table();
        let text = |bad: Option<(&str, &str)>| {
            let mut out = String::new();
            for (header, keys) in &tables {
                let table = header.trim_matches(['[', ']']);
                if bad == Some(("", table)) {
                    out = format!("{table} = 5\n{out}");
                    continue;
                }
                out.push_str(&format!("{header}\n"));
                for (key, value) in keys {
                    let value = if bad == Some((table, key)) {
                        "5"
                    } else {
                        value
                    };
                    out.push_str(&format!("{key} = {value}\n"));
                }
            }
            out
        };
        assert!(load(&text(None)).is_ok(), "{:#?}", load(&text(None)));
        let mut checked = 0;
        for table in std::iter::once("").chain(declared("").keys.iter().copied()) {
            for key in declared(table).keys {
                let src = text(Some((table, key)));
                let full = match table {
                    "" => (*key).to_owned(),
                    "worker_deployments" => format!("worker_deployments[0].{key}"),
                    _ => format!("{table}.{key}"),
                };
                let p = problems(&src);
                assert!(
                    p.iter().any(|p| p.key == full
                        && p.message.starts_with("expected ")
                        && p.message.ends_with(", found integer")),
                    "`{full} = 5` is reported as a wrong type: {p:#?}"
                );
                checked += 1;
            }
        }
        assert_eq!(checked, 7 + 4 + 12 + 4 + 8 + 1 + 1 + 4);
    }

    #[test]
    fn the_schema_directive_for_editors_is_a_comment() {
        let loaded = load(&format!("#:schema ./descriptor.schema.json\n{GOOD}")).unwrap();
        assert!(loaded.warnings.is_empty(), "{:?}", loaded.warnings);
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
    fn syntax_errors_quote_the_line_with_a_caret() {
        let p = problems("[aws]\nregion = \"us-west-2\n");
        let shown = p[0].to_string();
        assert!(
            shown.contains("\n2 | region = \"us-west-2\n  |                    ^"),
            "{shown}"
        );
    }

    #[test]
    fn a_duplicate_key_is_named_and_quoted() {
        let p = problems("[aws]\nregion = \"us-west-2\"\nregion = \"eu-west-1\"\n");
        assert_eq!(p.len(), 1, "{p:#?}");
        assert_eq!(p[0].key, "aws.region", "{p:#?}");
        assert_eq!(p[0].position, Some((3, 1)));
        let shown = p[0].to_string();
        assert!(shown.contains("duplicate key"), "{shown}");
        assert!(
            shown.contains("\n3 | region = \"eu-west-1\"\n  | ^"),
            "{shown}"
        );
    }

    #[test]
    fn the_key_of_a_syntax_error_is_read_from_its_line() {
        let src = "top = 1\n[aws]\nregion = \"x\n  [[worker_deployments]]\nname = 1\n  \"a\",\n";
        let at = |needle: &str| key_at(src, src.find(needle).unwrap());
        assert_eq!(at("top").as_deref(), Some("top"));
        assert_eq!(at("region").as_deref(), Some("aws.region"));
        assert_eq!(at("\"x").as_deref(), Some("aws.region"));
        assert_eq!(at("[[worker").as_deref(), Some("worker_deployments"));
        assert_eq!(at("name").as_deref(), Some("worker_deployments.name"));
        assert_eq!(at("\"a\""), None);
    }

    #[test]
    fn every_problem_quotes_its_line() {
        let p = problems(&GOOD.replace("us-west-2\"\n", "mars-1\"\n"));
        let shown = p[0].to_string();
        assert!(
            shown.ends_with("\n  |\n3 | region = \"mars-1\"\n  |          ^"),
            "{shown}"
        );
    }

    #[test]
    fn an_invalid_region_hides_no_other_problem() {
        let src = GOOD
            .replace("region = \"us-west-2\"", "region = \"mars-1\"")
            .replace(
                "arn:aws:iam::123456789012:role/temporal-server",
                "arn:aws:iam::12345:role/temporal-server",
            )
            .replace(
                "arn:aws:lambda:us-west-2:123456789012:function:worker-1",
                "arn:aws:s3:::bucket",
            );
        let keys: Vec<String> = problems(&src).into_iter().map(|p| p.key).collect();
        assert_eq!(
            keys,
            [
                "aws.region",
                "temporal.server_role_arn",
                "role.lambda_function_arns[0]"
            ]
        );
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
    fn a_smoke_workflow_names_its_task_queue_and_takes_json_input() {
        let wd = |smoke: &str| {
            format!(
                "{GOOD}\n[[worker_deployments]]\nnamespace = \"orders\"\nname = \"w\"\nbuild_id = \"1\"\nlambda_function_arn = \"arn:aws:lambda:us-west-2:123456789012:function:worker-1\"\n{smoke}"
            )
            .replace("namespaces = [", "address = \"t.internal:7233\"\nnamespaces = [")
        };
        let env = load(&wd(
            "smoke_workflow = \"Greet\"\nsmoke_task_queue = \"q\"\nsmoke_input = '\"x\"'\n",
        ))
        .unwrap()
        .env;
        let smoke = env.worker_deployments[0].smoke.as_ref().unwrap();
        assert_eq!(
            (smoke.workflow.as_str(), smoke.task_queue.as_str()),
            ("Greet", "q")
        );
        assert_eq!(smoke.input.as_deref(), Some("\"x\""));
        assert_eq!(load(&wd("")).unwrap().env.worker_deployments[0].smoke, None);
        let said = |smoke: &str| {
            problems(&wd(smoke))
                .iter()
                .map(|p| {
                    format!(
                        "{} (line {}): {}",
                        p.key,
                        p.position.map_or(0, |(l, _)| l),
                        p.message
                    )
                })
                .collect::<Vec<_>>()
        };
        let no_queue = said("smoke_workflow = \"Greet\"\n");
        assert!(
            no_queue.len() == 1
                && no_queue[0].starts_with("worker_deployments[0].smoke_task_queue (line ")
                && no_queue[0].contains("is missing; `smoke_workflow` needs it"),
            "{no_queue:#?}"
        );
        let bad_json =
            said("smoke_workflow = \"Greet\"\nsmoke_task_queue = \"q\"\nsmoke_input = \"smoke\"\n");
        assert!(
            bad_json.len() == 1
                && bad_json[0].starts_with("worker_deployments[0].smoke_input (line ")
                && bad_json[0].contains("is not JSON")
                && bad_json[0].contains("allowed: one JSON value"),
            "{bad_json:#?}"
        );
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

    /// A role name's own rule does not wait for `role.stack_name`: both problems are reported.
    #[test]
    fn an_invalid_role_name_is_reported_without_a_stack_name() {
        let src = GOOD.replace(
            "stack_name = \"temporal-serverless-worker-staging\"",
            "name = \"bad name\"",
        );
        let keys: Vec<String> = problems(&src).into_iter().map(|p| p.key).collect();
        assert_eq!(keys, ["role.stack_name", "role.name"]);
    }

    /// Rules that span tables run on the values that passed their own rule, whatever else in
    /// their tables is missing or invalid.
    #[test]
    fn a_missing_or_invalid_value_hides_no_rule_across_tables() {
        let src = format!(
            "{GOOD}\n[sandbox]\n\n[[worker_deployments]]\nnamespace = \"payments\"\nname = \"w\"\nbuild_id = \"1\"\nlambda_function_arn = \"arn:aws:lambda:us-west-2:123456789012:function:other\"\n"
        )
        .replace(
            "server_role_arn = \"arn:aws:iam::123456789012:role/temporal-server\"\n",
            "address = \"temporal.internal:7233\"\n",
        )
        .replace("abcdef-12345", "abc");
        let keys: Vec<String> = problems(&src).into_iter().map(|p| p.key).collect();
        assert_eq!(
            keys,
            [
                "temporal.server_role_arn",
                "aws.endpoint_url",
                "temporal.address",
                "role.external_id",
                "worker_deployments[0].namespace",
                "worker_deployments[0].lambda_function_arn",
            ]
        );
    }
}
