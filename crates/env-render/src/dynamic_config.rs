//! Temporal's file-based dynamic config format, as the 1.32 server reads it
//! (`common/dynamicconfig/yaml_loader.go`; see `shared/reference/temporal.md` §1-2).
//!
//! [`check`] refuses what the server would reject (the whole file, keeping the old values) and
//! what it would load but never apply (a misspelt field, a constraint a key is not read with,
//! a value of the wrong type, which silently falls back to the default).

use std::collections::HashSet;

use serde_yaml::{Mapping, Value};

use crate::yaml_edit::EditError;

/// Why a dynamic config (or the file that holds one) is not one Temporal would apply, or cannot
/// take the tool's keys; each message names the key and what is wrong with it.
#[derive(Debug, thiserror::Error)]
pub enum DynamicConfigError {
    /// Nested too deep to be parsed, or a managed block that cannot be put in place.
    #[error(transparent)]
    Edit(#[from] EditError),
    #[error("not valid YAML: {0}")]
    NotYaml(serde_yaml::Error),
    /// `what` (`the file`, or `` `server.dynamicConfig` ``) holds no mapping of keys.
    #[error("{what} must be a mapping of keys, found {found}")]
    NotMapping { what: String, found: &'static str },
    /// Every key Temporal would reject or never apply, with why.
    #[error("{}", .0.join("; "))]
    Keys(Vec<String>),
    /// A key with namespace-constrained values, which the dev server cannot take.
    #[error(
        "`{0}` has constrained values, which `temporal server start-dev --dynamic-config-value` cannot take; \
         leave `temporal.namespaces` out to enable the Worker Controller globally"
    )]
    Constrained(String),
    /// A value that cannot be written as JSON (for the dev server's flags) or YAML.
    #[error("cannot write a value: {0}")]
    Unwritable(String),
    /// The server's file with the tool's keys put in would not pass [`check`].
    #[error(
        "the result would be rejected by Temporal: {}{}",
        .problems.join("; "),
        if *.looks_like_helm_values {
            "; it looks like a Helm chart's values file: name it in `temporal.helm_values` instead of `dynamic_config_file`"
        } else {
            ""
        }
    )]
    Rejected {
        problems: Vec<String>,
        /// The file looks like a Helm chart's values, named as a dynamic config file.
        looks_like_helm_values: bool,
    },
}

/// The type a key's value must have.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Bool,
    Int,
    StringList,
    /// `[][]{RoleARN, RoleSessionName, ExternalID}`: a chain of hops, each a list of roles
    /// (field names matched without case, as Temporal's decoder does).
    RoleChain,
    /// Structured values this tool does not write; not checked.
    Any,
}

/// The constraints Temporal looks a key up with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// Only an entry without constraints applies.
    Global,
    /// `{namespace}` then `{}`.
    Namespace,
}

/// A `workercontroller.*` key of Temporal 1.32.
#[derive(Debug, Clone, Copy)]
pub struct KeySpec {
    pub name: &'static str,
    pub kind: Kind,
    pub scope: Scope,
}

/// Whether the Worker Controller Instance runs (per namespace).
pub const ENABLED: &str = "workercontroller.enabled";
/// The compute providers it may use (per namespace); Serverless Workers need `aws-lambda`.
pub const COMPUTE_PROVIDERS_ENABLED: &str = "workercontroller.compute_providers.enabled";
/// The scaling algorithms it may use (global only); Serverless Workers need `no-sync`.
pub const SCALING_ALGORITHMS_ENABLED: &str = "workercontroller.scaling_algorithms.enabled";

/// The roles the server assumes, in order, before the invocation role (global only); rendered
/// from `temporal.intermediary_roles`.
pub const INTERMEDIARY_ROLES: &str = "workercontroller.compute_providers.aws.intermediary_roles";

/// The fields of one role of a hop of [`INTERMEDIARY_ROLES`], as Temporal's decoder reads
/// them (without case): each required, but `ExternalID`.
pub const HOP_FIELDS: [(&str, bool); 3] = [
    ("RoleARN", true),
    ("RoleSessionName", true),
    ("ExternalID", false),
];

/// Every `workercontroller.*` key of Temporal 1.32, with its type and scope.
pub const WORKER_CONTROLLER_KEYS: &[KeySpec] = &[
    KeySpec {
        name: ENABLED,
        kind: Kind::Bool,
        scope: Scope::Namespace,
    },
    KeySpec {
        name: COMPUTE_PROVIDERS_ENABLED,
        kind: Kind::StringList,
        scope: Scope::Namespace,
    },
    KeySpec {
        name: SCALING_ALGORITHMS_ENABLED,
        kind: Kind::StringList,
        scope: Scope::Global,
    },
    KeySpec {
        name: "workercontroller.compute_providers.aws.require_role_and_external_id",
        kind: Kind::Bool,
        scope: Scope::Global,
    },
    KeySpec {
        name: INTERMEDIARY_ROLES,
        kind: Kind::RoleChain,
        scope: Scope::Global,
    },
    KeySpec {
        name: "workercontroller.compute_providers.gcp.intermediary_service_accounts",
        kind: Kind::Any,
        scope: Scope::Global,
    },
    KeySpec {
        name: "workercontroller.compute_providers.gcp.first_delegate_as_base",
        kind: Kind::Bool,
        scope: Scope::Global,
    },
    KeySpec {
        name: "workercontroller.maxinstances",
        kind: Kind::Int,
        scope: Scope::Namespace,
    },
    KeySpec {
        name: "workercontroller.instanceworkflowversion",
        kind: Kind::Int,
        scope: Scope::Namespace,
    },
    KeySpec {
        name: "workercontroller.hook.min_signal_interval_no_sync_match",
        kind: Kind::Int,
        scope: Scope::Namespace,
    },
    KeySpec {
        name: "workercontroller.hook.min_signal_interval_sync_match",
        kind: Kind::Int,
        scope: Scope::Namespace,
    },
    KeySpec {
        name: "workercontroller.periodic_validation_interval_s",
        kind: Kind::Int,
        scope: Scope::Global,
    },
];

/// The spec of `key`; Temporal matches keys case-insensitively.
pub fn key_spec(key: &str) -> Option<&'static KeySpec> {
    WORKER_CONTROLLER_KEYS
        .iter()
        .find(|k| k.name.eq_ignore_ascii_case(key))
}

/// Whether a constraint value has the type Temporal expects.
type Fits = fn(&Value) -> bool;

/// Constraint names Temporal knows (matched case-insensitively) and whether a value fits.
const CONSTRAINTS: &[(&str, Fits)] = &[
    ("namespace", is_string),
    ("namespaceid", is_string),
    ("taskqueuename", is_string),
    ("tasktype", |v| {
        matches!(v.as_str(), Some("Workflow" | "Activity" | "Nexus"))
            || v.as_u64().is_some_and(|n| n > 0)
    }),
    ("historytasktype", |v| v.is_string() || v.as_u64().is_some()),
    ("shardid", |v| v.as_i64().is_some()),
    ("destination", is_string),
    ("chasmtasktype", is_string),
];

fn is_string(v: &Value) -> bool {
    v.is_string()
}

/// Checks a whole dynamic config file. The error lists every problem, one per line.
pub fn check(yaml: &str) -> Result<(), DynamicConfigError> {
    crate::yaml_edit::check_depth(yaml)?;
    let doc: Value = serde_yaml::from_str(yaml).map_err(DynamicConfigError::NotYaml)?;
    match doc {
        Value::Mapping(m) => check_mapping(&m),
        Value::Null => Ok(()),
        other => Err(DynamicConfigError::NotMapping {
            what: "the file".to_owned(),
            found: type_name(&other),
        }),
    }
}

/// Checks the keys of a dynamic config, parsed; in time linear in the number of keys.
pub fn check_mapping(root: &Mapping) -> Result<(), DynamicConfigError> {
    let problems = problems(root);
    if problems.is_empty() {
        Ok(())
    } else {
        Err(DynamicConfigError::Keys(problems))
    }
}

/// What Temporal would reject or never apply in the keys of a dynamic config, one line each.
fn problems(root: &Mapping) -> Vec<String> {
    let mut problems = Vec::new();
    let mut seen = HashSet::with_capacity(root.len());
    for (key, entries) in root {
        let Some(key) = key.as_str() else {
            problems.push(format!("key {key:?} is not a string"));
            continue;
        };
        if !seen.insert(key.to_ascii_lowercase()) {
            problems.push(format!(
                "`{key}` appears twice (Temporal compares keys without case)"
            ));
        }
        check_key(key, entries, &mut problems);
    }
    problems
}

fn check_key(key: &str, entries: &Value, problems: &mut Vec<String>) {
    let Some(entries) = entries.as_sequence() else {
        problems.push(format!(
            "`{key}` must map to a list of `- value: ...` entries, found {}",
            type_name(entries)
        ));
        return;
    };
    let spec = key_spec(key);
    for (i, entry) in entries.iter().enumerate() {
        let at = format!("`{key}`[{i}]");
        let Some(entry) = entry.as_mapping() else {
            problems.push(format!(
                "{at} must be a mapping with `value` and optional `constraints`, found {}",
                type_name(entry)
            ));
            continue;
        };
        for field in entry.keys() {
            if !matches!(field.as_str(), Some("value" | "constraints")) {
                problems.push(format!(
                    "{at} has field {}, which Temporal ignores; allowed: `value`, `constraints`",
                    describe(field)
                ));
            }
        }
        match entry.get("value") {
            None => problems.push(format!("{at} has no `value`")),
            Some(v) => {
                if let Some(spec) = spec {
                    check_kind(&at, spec.kind, v, problems);
                }
            }
        }
        let constraints = match entry.get("constraints") {
            None | Some(Value::Null) => Mapping::new(),
            Some(Value::Mapping(c)) => c.clone(),
            Some(other) => {
                problems.push(format!(
                    "{at} `constraints` must be a mapping, found {}",
                    type_name(other)
                ));
                continue;
            }
        };
        check_constraints(&at, spec, &constraints, problems);
    }
}

fn check_kind(at: &str, kind: Kind, v: &Value, problems: &mut Vec<String>) {
    if kind == Kind::RoleChain {
        problems.extend(
            role_chain_problems(v)
                .into_iter()
                .map(|p| format!("{at} value {p} (Temporal would assume no intermediary role)")),
        );
        return;
    }
    let ok = match kind {
        Kind::Bool => v.is_bool(),
        Kind::Int => v.is_i64() || v.is_u64(),
        Kind::StringList => v
            .as_sequence()
            .is_some_and(|s| s.iter().all(Value::is_string)),
        Kind::RoleChain | Kind::Any => true,
    };
    if !ok {
        let want = match kind {
            Kind::Bool => "`true` or `false`",
            Kind::Int => "an integer",
            Kind::StringList => "a list of strings",
            Kind::RoleChain | Kind::Any => unreachable!(),
        };
        problems.push(format!(
            "{at} value must be {want}, found {} (Temporal would use the default)",
            type_name(v)
        ));
    }
}

/// What is wrong with a value of [`INTERMEDIARY_ROLES`]: a list of hops, each a list of one
/// or more roles, each a mapping of [`HOP_FIELDS`] to strings.
fn role_chain_problems(v: &Value) -> Vec<String> {
    let Some(hops) = v.as_sequence() else {
        return vec![format!(
            "must be a list of hops (each a list of roles), found {}",
            type_name(v)
        )];
    };
    let mut problems = Vec::new();
    for (h, hop) in hops.iter().enumerate() {
        let roles = match hop.as_sequence() {
            Some(roles) if !roles.is_empty() => roles,
            _ => {
                problems.push(format!(
                    "hop {h} must be a list of one or more roles, found {}",
                    type_name(hop)
                ));
                continue;
            }
        };
        for (r, role) in roles.iter().enumerate() {
            let at = format!("hop {h} role {r}");
            let Some(fields) = role.as_mapping() else {
                problems.push(format!(
                    "{at} must be a mapping of RoleARN, RoleSessionName and ExternalID, found {}",
                    type_name(role)
                ));
                continue;
            };
            let field = |name: &str| {
                fields
                    .iter()
                    .find(|(k, _)| k.as_str().is_some_and(|k| k.eq_ignore_ascii_case(name)))
                    .map(|(_, v)| v)
            };
            for (name, required) in HOP_FIELDS {
                match field(name) {
                    None if required => problems.push(format!("{at} has no `{name}`")),
                    Some(v) if !v.is_string() => problems.push(format!(
                        "{at} `{name}` must be a string, found {}",
                        type_name(v)
                    )),
                    _ => {}
                }
            }
            for (k, _) in fields {
                let known = k
                    .as_str()
                    .is_some_and(|k| HOP_FIELDS.iter().any(|(n, _)| n.eq_ignore_ascii_case(k)));
                if !known {
                    problems.push(format!(
                        "{at} has field {}, which Temporal does not read; allowed: RoleARN, RoleSessionName, ExternalID",
                        describe(k)
                    ));
                }
            }
        }
    }
    problems
}

fn check_constraints(
    at: &str,
    spec: Option<&KeySpec>,
    constraints: &Mapping,
    problems: &mut Vec<String>,
) {
    let mut names = Vec::new();
    for (name, value) in constraints {
        let Some(name_str) = name.as_str() else {
            problems.push(format!(
                "{at} has constraint {}, which is not a name",
                describe(name)
            ));
            continue;
        };
        let lower = name_str.to_ascii_lowercase();
        match CONSTRAINTS.iter().find(|(n, _)| *n == lower) {
            None => problems.push(format!(
                "{at} has unknown constraint `{name_str}`, which makes Temporal reject the whole file; allowed: namespace, namespaceId, taskQueueName, taskType, historyTaskType, shardId, destination, chasmTaskType"
            )),
            Some((_, fits)) if !fits(value) => {
                problems.push(format!("{at} constraint `{name_str}` has a value of the wrong type: {}", describe(value)))
            }
            Some(_) => names.push(lower),
        }
    }
    let Some(spec) = spec else { return };
    let matchable = match spec.scope {
        Scope::Global => names.is_empty(),
        Scope::Namespace => names.is_empty() || names == ["namespace"],
    };
    if !matchable {
        let read_with = match spec.scope {
            Scope::Global => "no constraints (it is read globally)",
            Scope::Namespace => "a `namespace` constraint or none",
        };
        problems.push(format!("{at} has constraints {names:?} but `{}` is read with {read_with}, so it would never apply", spec.name));
    }
}

/// The `--dynamic-config-value KEY=JSON` pairs of `temporal server start-dev` for a rendered file.
/// The dev server takes no constraints, so every entry must be unconstrained.
pub fn dev_server_values(yaml: &str) -> Result<Vec<(String, String)>, DynamicConfigError> {
    check(yaml)?;
    let doc: Mapping = serde_yaml::from_str(yaml).map_err(DynamicConfigError::NotYaml)?;
    let mut out = Vec::new();
    for (key, entries) in &doc {
        let key = key.as_str().unwrap_or_default();
        for entry in entries.as_sequence().into_iter().flatten() {
            if entry
                .get("constraints")
                .and_then(Value::as_mapping)
                .is_some_and(|c| !c.is_empty())
            {
                return Err(DynamicConfigError::Constrained(key.to_owned()));
            }
            let value = entry.get("value").cloned().unwrap_or(Value::Null);
            let json = serde_json::to_string(&value)
                .map_err(|e| DynamicConfigError::Unwritable(e.to_string()))?;
            out.push((key.to_owned(), json));
        }
    }
    Ok(out)
}

/// The value Temporal reads for `key` in `namespace` (or globally), following its precedence:
/// an entry constrained to exactly `{namespace}`, then an unconstrained one.
pub fn resolve(yaml: &str, key: &str, namespace: Option<&str>) -> Option<Value> {
    let doc: Mapping = serde_yaml::from_str(yaml).ok()?;
    let entries = doc
        .iter()
        .find(|(k, _)| k.as_str().is_some_and(|k| k.eq_ignore_ascii_case(key)))?
        .1
        .as_sequence()?;
    let constraints_of = |e: &Value| -> Vec<(String, Value)> {
        e.get("constraints")
            .and_then(Value::as_mapping)
            .map(|m| {
                m.iter()
                    .map(|(k, v)| {
                        (
                            k.as_str().unwrap_or_default().to_ascii_lowercase(),
                            v.clone(),
                        )
                    })
                    .collect()
            })
            .unwrap_or_default()
    };
    let scoped = namespace.and_then(|ns| {
        entries
            .iter()
            .find(|e| constraints_of(e) == [("namespace".to_owned(), Value::String(ns.to_owned()))])
    });
    scoped
        .or_else(|| entries.iter().find(|e| constraints_of(e).is_empty()))?
        .get("value")
        .cloned()
}

/// One role of a hop of [`INTERMEDIARY_ROLES`], as a dynamic config holds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChainRole {
    pub role_arn: String,
    pub session_name: String,
    pub external_id: Option<String>,
}

/// The chain a dynamic config gives the server: the value of [`INTERMEDIARY_ROLES`] Temporal
/// reads (unconstrained), hop by hop, each hop its roles; empty when the file has none. `Err`
/// with what is wrong when the value is not a chain Temporal could use.
pub fn role_chain(yaml: &str) -> Result<Vec<Vec<ChainRole>>, String> {
    let Some(value) = resolve(yaml, INTERMEDIARY_ROLES, None) else {
        return Ok(Vec::new());
    };
    let problems = role_chain_problems(&value);
    if !problems.is_empty() {
        return Err(problems.join("; "));
    }
    let text = |role: &Value, name: &str| {
        role.as_mapping().and_then(|fields| {
            fields
                .iter()
                .find(|(k, _)| k.as_str().is_some_and(|k| k.eq_ignore_ascii_case(name)))
                .and_then(|(_, v)| v.as_str().map(str::to_owned))
        })
    };
    Ok(value
        .as_sequence()
        .into_iter()
        .flatten()
        .map(|hop| {
            hop.as_sequence()
                .into_iter()
                .flatten()
                .map(|role| ChainRole {
                    role_arn: text(role, "RoleARN").unwrap_or_default(),
                    session_name: text(role, "RoleSessionName").unwrap_or_default(),
                    external_id: text(role, "ExternalID"),
                })
                .collect()
        })
        .collect())
}

/// The managed block's markers in the server's file (see [`crate::yaml_edit`]). They name the
/// installed program, `tsw`, however the tool was started: the file is committed, and must not
/// change with who ran `render`.
pub const BEGIN: &str = "# >>> tsw: workercontroller";
pub const END: &str = "# <<< tsw: workercontroller <<<";

/// The markers earlier versions wrote: a block under them is found and replaced (with
/// [`BEGIN`] and [`END`]), not added a second time.
pub const FORMER_MARKERS: &[(&str, &str)] = &[(
    "# >>> cargo xtask: workercontroller",
    "# <<< cargo xtask: workercontroller <<<",
)];

/// Whether the tool owns `key` in a server's file: every `workercontroller.*` key (Temporal
/// matches keys without case), so that none is set both by hand and by the tool.
pub fn is_worker_controller_key(key: &str) -> bool {
    const PREFIX: &[u8] = b"workercontroller.";
    key.as_bytes()
        .get(..PREFIX.len())
        .is_some_and(|p| p.eq_ignore_ascii_case(PREFIX))
}

/// Where a Helm chart's values hold the dynamic config: the official chart renders
/// `server.dynamicConfig` into the ConfigMap the server polls.
pub const HELM_VALUES_PATH: &[&str] = &["server", "dynamicConfig"];

/// Puts the keys of `rendered` (a whole rendered dynamic config) into `existing` (the file the
/// server reads, as text) as the managed block of its root mapping, keeping every other byte.
/// Refuses a half block, workercontroller keys set outside the block, other keys inside it,
/// and a result that would not pass [`check`].
pub fn merge_into_server_file(
    existing: &str,
    rendered: &str,
    env_name: &str,
) -> Result<String, DynamicConfigError> {
    merge_into(existing, rendered, env_name, &[])
}

/// [`merge_into_server_file`] for a Helm chart's values file: the block goes into the mapping
/// at [`HELM_VALUES_PATH`], which is made (or turned from `{}` into a block mapping) when needed.
pub fn merge_into_helm_values(
    existing: &str,
    rendered: &str,
    env_name: &str,
) -> Result<String, DynamicConfigError> {
    merge_into(existing, rendered, env_name, HELM_VALUES_PATH)
}

/// The dynamic config a Helm chart's values give the server (the mapping at
/// [`HELM_VALUES_PATH`]), as the text of a dynamic config file; empty when it has none.
pub fn from_helm_values(values: &str) -> Result<String, DynamicConfigError> {
    crate::yaml_edit::check_depth(values)?;
    let doc: Value = serde_yaml::from_str(values.trim_start_matches('\u{feff}'))
        .map_err(DynamicConfigError::NotYaml)?;
    let config = HELM_VALUES_PATH
        .iter()
        .try_fold(&doc, |v, key| v.as_mapping().and_then(|m| m.get(*key)));
    match config {
        None | Some(Value::Null) => Ok(String::new()),
        Some(Value::Mapping(m)) if m.is_empty() => Ok(String::new()),
        Some(m @ Value::Mapping(_)) => {
            serde_yaml::to_string(m).map_err(|e| DynamicConfigError::Unwritable(e.to_string()))
        }
        Some(other) => Err(DynamicConfigError::NotMapping {
            what: format!("`{}`", HELM_VALUES_PATH.join(".")),
            found: type_name(other),
        }),
    }
}

fn merge_into(
    existing: &str,
    rendered: &str,
    env_name: &str,
    path: &[&str],
) -> Result<String, DynamicConfigError> {
    let note = format!(
        " (managed: edit environments/{env_name}.toml and run `tsw render {env_name}`) >>>"
    );
    let block = crate::yaml_edit::Block {
        path,
        begin: BEGIN,
        note: &note,
        end: END,
        former: FORMER_MARKERS,
        owns: is_worker_controller_key,
        owned: "`workercontroller.*` keys",
    };
    let edited = crate::yaml_edit::put_managed_block(existing, &block, entries(rendered))?;
    let problems = problems(&edited.mapping);
    if !problems.is_empty() {
        return Err(DynamicConfigError::Rejected {
            problems,
            looks_like_helm_values: path.is_empty() && looks_like_helm_values(&edited.mapping),
        });
    }
    Ok(edited.text)
}

/// Whether a file given as Temporal's dynamic config is a Helm chart's values instead: a
/// `server` key holding a mapping (no dynamic config key is named `server`).
fn looks_like_helm_values(root: &Mapping) -> bool {
    root.get("server").is_some_and(Value::is_mapping)
}

/// The keys of a rendered file, without the comment lines that head it.
fn entries(rendered: &str) -> &str {
    let mut rest = rendered;
    while rest.starts_with('#') || rest.starts_with('\n') {
        rest = rest.split_once('\n').map_or("", |(_, r)| r);
    }
    rest
}

fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Sequence(_) => "a list",
        Value::Mapping(_) => "a mapping",
        Value::Tagged(_) => "a tagged value",
    }
}

fn describe(v: &Value) -> String {
    serde_yaml::to_string(v)
        .map(|s| format!("`{}`", s.trim_end()))
        .unwrap_or_else(|_| "?".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_the_guide_example() {
        let yaml = "workercontroller.enabled:\n  - value: true\n    constraints:\n      namespace: 'your-namespace'\n\
                    workercontroller.compute_providers.enabled:\n  - value:\n      - aws-lambda\n\
                    workercontroller.scaling_algorithms.enabled:\n  - value:\n      - no-sync\n\
                    some.other.key:\n  - value: {anything: [1, 2]}\n    constraints: {taskQueueName: q, taskType: Workflow}\n";
        check(yaml).unwrap();
    }

    #[test]
    fn rejects_what_temporal_rejects_or_ignores() {
        for (yaml, expect) in [
            ("workercontroller.enabled: true\n", "must map to a list"),
            (
                "workercontroller.enabled:\n  - value: true\n    constraint: {namespace: a}\n",
                "field `constraint`, which Temporal ignores",
            ),
            (
                "workercontroller.enabled:\n  - value: true\n    constraints: {taskQueueType: x}\n",
                "unknown constraint `taskQueueType`",
            ),
            (
                "workercontroller.enabled:\n  - value: true\n    constraints: {namespace: 5}\n",
                "wrong type",
            ),
            (
                "workercontroller.enabled:\n  - value: 'yes'\n",
                "must be `true` or `false`",
            ),
            (
                "workercontroller.compute_providers.enabled:\n  - value: aws-lambda\n",
                "must be a list of strings",
            ),
            (
                "workercontroller.scaling_algorithms.enabled:\n  - value: [no-sync]\n    constraints: {namespace: a}\n",
                "would never apply",
            ),
            (
                "workercontroller.enabled:\n  - constraints: {}\n",
                "has no `value`",
            ),
            ("a:\n  - value: 1\nA:\n  - value: 2\n", "appears twice"),
            ("a:\n  - value: 1\na:\n  - value: 2\n", "not valid YAML"),
            ("- 1\n", "must be a mapping of keys"),
        ] {
            let err = check(yaml).unwrap_err().to_string();
            assert!(err.contains(expect), "{yaml:?}: {err}");
        }
    }

    /// The chain of intermediary roles: hops of roles of three string fields, matched without
    /// case; anything else would leave the server without its chain.
    #[test]
    fn intermediary_roles_are_hops_of_roles() {
        let key = |value: &str| format!("{INTERMEDIARY_ROLES}:\n  - value: {value}\n");
        check(&key(
            "[[{RoleARN: 'arn:aws:iam::1:role/hub', RoleSessionName: s, ExternalID: e}], [{rolearn: a, rolesessionname: b}]]",
        ))
        .unwrap();
        for (value, expect) in [
            ("{RoleARN: a}", "must be a list of hops"),
            (
                "[{RoleARN: a, RoleSessionName: s}]",
                "hop 0 must be a list of one or more roles",
            ),
            ("[[]]", "hop 0 must be a list of one or more roles"),
            ("[[a]]", "hop 0 role 0 must be a mapping"),
            ("[[{RoleARN: a}]]", "hop 0 role 0 has no `RoleSessionName`"),
            (
                "[[{RoleARN: a, RoleSessionName: [s]}]]",
                "`RoleSessionName` must be a string",
            ),
            (
                "[[{RoleARN: a, RoleSessionName: s, ExternalId: e, Role: x}]]",
                "field `Role`, which Temporal does not read",
            ),
        ] {
            let err = check(&key(value)).unwrap_err().to_string();
            assert!(err.contains(expect), "{value}: {err}");
        }
        assert_eq!(
            role_chain(&key(
                "[[{rolearn: a, RoleSessionName: s, EXTERNALID: e}], [{RoleARN: b, RoleSessionName: t}]]"
            )),
            Ok(vec![
                vec![ChainRole {
                    role_arn: "a".into(),
                    session_name: "s".into(),
                    external_id: Some("e".into())
                }],
                vec![ChainRole {
                    role_arn: "b".into(),
                    session_name: "t".into(),
                    external_id: None
                }],
            ])
        );
        assert_eq!(role_chain("a.b:\n  - value: 1\n"), Ok(Vec::new()));
        assert!(role_chain(&key("[[{RoleARN: a}]]")).is_err());
        let scoped = format!(
            "{INTERMEDIARY_ROLES}:\n  - value: [[{{RoleARN: a, RoleSessionName: s}}]]\n    constraints: {{namespace: n}}\n"
        );
        assert!(
            check(&scoped)
                .unwrap_err()
                .to_string()
                .contains("would never apply")
        );
    }

    #[test]
    fn dev_server_values_are_json_and_refuse_constraints() {
        let global = "a.b:\n  - value: true\nc.d:\n  - value: [x, y]\n";
        assert_eq!(
            dev_server_values(global).unwrap(),
            vec![
                ("a.b".into(), "true".into()),
                ("c.d".into(), r#"["x","y"]"#.into())
            ]
        );
        let scoped =
            "workercontroller.enabled:\n  - value: true\n    constraints: {namespace: a}\n";
        assert!(
            dev_server_values(scoped)
                .unwrap_err()
                .to_string()
                .contains("cannot take")
        );
    }

    #[test]
    fn resolve_follows_temporal_precedence() {
        let yaml = "k:\n  - value: 1\n    constraints: {namespace: a}\n  - value: 2\n  - value: 3\n    constraints: {namespace: a, taskQueueName: q}\n";
        assert_eq!(resolve(yaml, "K", Some("a")), Some(Value::from(1)));
        assert_eq!(resolve(yaml, "k", Some("b")), Some(Value::from(2)));
        assert_eq!(resolve(yaml, "k", None), Some(Value::from(2)));
        assert_eq!(
            resolve(
                "k:\n  - value: 1\n    constraints: {namespace: a}\n",
                "k",
                Some("b")
            ),
            None
        );
        assert_eq!(resolve(yaml, "missing", None), None);
    }

    #[test]
    fn managed_block_keeps_every_other_byte() {
        let server = "# Our server's dynamic config.\nfrontend.enableUpdateWorkflowExecution:\n  - value: true   # keep me\n\nlimit.maxIDLength:\n  - value: 255\n    constraints: {}\n";
        let rendered = "# header\nworkercontroller.enabled:\n  - value: true\n";
        let merged = merge_into_server_file(server, rendered, "staging").unwrap();
        assert!(merged.starts_with(server), "{merged}");
        assert!(merged[server.len()..].starts_with(BEGIN));
        assert!(merged.ends_with(&format!(
            "workercontroller.enabled:\n  - value: true\n{END}\n"
        )));
        // Idempotent, and a change replaces only the block.
        assert_eq!(
            merge_into_server_file(&merged, rendered, "staging").unwrap(),
            merged
        );
        let changed = merge_into_server_file(
            &merged,
            "workercontroller.enabled:\n  - value: false\n",
            "staging",
        )
        .unwrap();
        assert_eq!(
            changed,
            merged.replace("value: true\n# <<<", "value: false\n# <<<")
        );
        // Text after the block stays after it.
        let with_tail = format!("{merged}tail.key:\n  - value: 1\n");
        let again = merge_into_server_file(
            &with_tail,
            "workercontroller.enabled:\n  - value: false\n",
            "staging",
        )
        .unwrap();
        assert!(
            again.ends_with("# <<< tsw: workercontroller <<<\ntail.key:\n  - value: 1\n"),
            "{again}"
        );
    }

    #[test]
    fn managed_block_refuses_clashes_and_broken_files() {
        let clash = "WorkerController.Enabled:\n  - value: false\n";
        assert!(
            merge_into_server_file(clash, "workercontroller.enabled:\n  - value: true\n", "s")
                .unwrap_err()
                .to_string()
                .contains("outside the managed block")
        );
        let broken = "x: [\n";
        assert!(
            merge_into_server_file(broken, "workercontroller.enabled:\n  - value: true\n", "s")
                .unwrap_err()
                .to_string()
                .contains("not valid YAML")
        );
        let rejected = "x:\n  - value: 1\n    constraints: {taskQueueType: q}\n";
        assert!(
            merge_into_server_file(
                rejected,
                "workercontroller.enabled:\n  - value: true\n",
                "s"
            )
            .unwrap_err()
            .to_string()
            .contains("rejected by Temporal")
        );
        let half = format!("{BEGIN} (x) >>>\n");
        assert!(
            merge_into_server_file(&half, "workercontroller.enabled:\n  - value: true\n", "s")
                .unwrap_err()
                .to_string()
                .contains("the managed block is broken")
        );
    }

    #[test]
    fn helm_values_give_the_mapping_under_server_dynamic_config() {
        let values = "server:\n  dynamicConfig:\n    a.b:\n    - value: 1\nweb: {}\n";
        assert_eq!(from_helm_values(values).unwrap(), "a.b:\n- value: 1\n");
        for none in [
            "server:\n  dynamicConfig: {}\n",
            "server: {}\n",
            "web: 1\n",
            "",
        ] {
            assert_eq!(from_helm_values(none).unwrap(), "", "{none}");
        }
        assert!(
            from_helm_values("server:\n  dynamicConfig: [1]\n")
                .unwrap_err()
                .to_string()
                .contains("`server.dynamicConfig` must be a mapping of keys, found a list")
        );
        assert!(
            merge_into_server_file(
                "server:\n  dynamicConfig: {}\n",
                "workercontroller.enabled:\n  - value: true\n",
                "s"
            )
            .unwrap_err()
            .to_string()
            .ends_with("name it in `temporal.helm_values` instead of `dynamic_config_file`")
        );
        let merged = merge_into_helm_values(
            "server:\n  dynamicConfig: {}\n",
            "# header\nworkercontroller.enabled:\n  - value: true\n",
            "s",
        )
        .unwrap();
        assert_eq!(
            from_helm_values(&merged).unwrap(),
            "workercontroller.enabled:\n- value: true\n"
        );
    }

    #[test]
    fn key_lookup_ignores_case() {
        assert_eq!(
            key_spec("workercontroller.maxInstances").unwrap().kind,
            Kind::Int
        );
        assert!(key_spec("workercontroller.nope").is_none());
    }
}
