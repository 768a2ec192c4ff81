//! The parts of the CloudFormation template the tool relies on: its parameters, and the output
//! `deploy` records.

use std::collections::{BTreeMap, BTreeSet};

use env_descriptor::{Environment, Outputs};
use serde_yaml::Value;

/// The template's parameter naming the principal its trust policy lets assume the role.
pub const PRINCIPAL_PARAMETER: &str = "TemporalIamRoleArn";
/// The template's parameter the trust policy's `sts:ExternalId` condition requires.
pub const EXTERNAL_ID_PARAMETER: &str = "AssumeRoleExternalId";
/// The template's parameter listing the functions the invoke policy grants.
pub const FUNCTIONS_PARAMETER: &str = "LambdaFunctionARNs";
/// The template's parameter naming the role (`role.name`; passed only when set).
pub const ROLE_NAME_PARAMETER: &str = "RoleName";
/// Every parameter the tool passes ([`Parameters`]) and reads back from a stack: a template (the
/// repository's own included) must declare each.
pub const PASSED_PARAMETERS: [&str; 4] = [
    PRINCIPAL_PARAMETER,
    EXTERNAL_ID_PARAMETER,
    FUNCTIONS_PARAMETER,
    ROLE_NAME_PARAMETER,
];
/// The stack's parameters as the tool passes them: the one place that maps descriptor keys to
/// the template's parameters. `plan`, `deploy` and `status` take them as [`Parameters::pairs`];
/// `render` writes them to `environments/NAME/parameters.json` ([`Parameters::to_file`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Parameters {
    /// `temporal.server_role_arn`, as [`PRINCIPAL_PARAMETER`].
    pub principal: String,
    /// `role.external_id`, as [`EXTERNAL_ID_PARAMETER`].
    pub external_id: String,
    /// `role.lambda_function_arns`, as [`FUNCTIONS_PARAMETER`] (joined with commas).
    pub functions: Vec<String>,
    /// `role.name`, as [`ROLE_NAME_PARAMETER`]; passed only when set, else the template's
    /// default applies.
    pub role_name: Option<String>,
}

impl Parameters {
    /// The parameters `env` deploys its stack with.
    pub fn of(env: &Environment) -> Self {
        Parameters {
            principal: env.temporal.server_role_arn.to_string(),
            external_id: env.role.external_id.to_string(),
            functions: env
                .role
                .lambda_function_arns
                .iter()
                .map(ToString::to_string)
                .collect(),
            role_name: env.role.name.as_ref().map(ToString::to_string),
        }
    }

    /// The parameters each account of a StackSet's overrides changes (`ParameterOverrides` of
    /// its instances): `AssumeRoleExternalId` and `LambdaFunctionARNs` from
    /// `[stack_set.overrides."ACCOUNT"]`, by account. Empty for a single stack.
    pub fn overrides_of(env: &Environment) -> BTreeMap<String, Vec<(String, String)>> {
        let Some(set) = env.stack_set() else {
            return BTreeMap::new();
        };
        set.overrides
            .iter()
            .map(|(account, o)| {
                let external_id = o
                    .external_id
                    .as_ref()
                    .map(|id| (EXTERNAL_ID_PARAMETER.to_owned(), id.to_string()));
                let functions = o.lambda_function_arns.as_ref().map(|arns| {
                    let joined: Vec<&str> = arns.iter().map(|a| a.as_str()).collect();
                    (FUNCTIONS_PARAMETER.to_owned(), joined.join(","))
                });
                (
                    account.to_string(),
                    external_id.into_iter().chain(functions).collect(),
                )
            })
            .filter(|(_, pairs): &(String, Vec<(String, String)>)| !pairs.is_empty())
            .collect()
    }

    /// (ParameterKey, ParameterValue), in the order the file lists them; `RoleName` only when
    /// set.
    pub fn pairs(&self) -> Vec<(String, String)> {
        [
            (PRINCIPAL_PARAMETER, Some(self.principal.clone())),
            (EXTERNAL_ID_PARAMETER, Some(self.external_id.clone())),
            (FUNCTIONS_PARAMETER, Some(self.functions.join(","))),
            (ROLE_NAME_PARAMETER, self.role_name.clone()),
        ]
        .into_iter()
        .filter_map(|(key, value)| Some((key.to_owned(), value?)))
        .collect()
    }

    /// The `--parameters` file of `aws cloudformation create-stack`: a JSON list of
    /// `{"ParameterKey": ..., "ParameterValue": ...}`, one parameter a line.
    pub fn to_file(&self) -> Result<String, serde_json::Error> {
        #[derive(serde::Serialize)]
        #[serde(rename_all = "PascalCase")]
        struct Entry {
            parameter_key: String,
            parameter_value: String,
        }
        let entries: Vec<Entry> = self
            .pairs()
            .into_iter()
            .map(|(parameter_key, parameter_value)| Entry {
                parameter_key,
                parameter_value,
            })
            .collect();
        let mut out = Vec::new();
        serde::Serialize::serialize(
            &entries,
            &mut serde_json::Serializer::with_formatter(&mut out, OneEntryALine),
        )?;
        out.push(b'\n');
        String::from_utf8(out).map_err(|e| serde::ser::Error::custom(e.to_string()))
    }
}

/// The layout of `parameters.json`: the list's entries one a line, indented by two spaces, each
/// object on its line with `": "` and `", "` between its parts.
struct OneEntryALine;

impl serde_json::ser::Formatter for OneEntryALine {
    fn begin_array_value<W: ?Sized + std::io::Write>(
        &mut self,
        w: &mut W,
        first: bool,
    ) -> std::io::Result<()> {
        w.write_all(if first { b"\n  " } else { b",\n  " })
    }

    fn end_array<W: ?Sized + std::io::Write>(&mut self, w: &mut W) -> std::io::Result<()> {
        w.write_all(b"\n]")
    }

    fn begin_object_key<W: ?Sized + std::io::Write>(
        &mut self,
        w: &mut W,
        first: bool,
    ) -> std::io::Result<()> {
        if first { Ok(()) } else { w.write_all(b", ") }
    }

    fn begin_object_value<W: ?Sized + std::io::Write>(&mut self, w: &mut W) -> std::io::Result<()> {
        w.write_all(b": ")
    }
}

/// What the template's invoke policy allows on those functions.
pub const INVOKE_ACTIONS: [&str; 2] = ["lambda:InvokeFunction", "lambda:GetFunction"];

/// The name of the template's invoke policy (`TemporalLambdaInvokePermissions`).
pub const INVOKE_POLICY_NAME: &str = "Temporal-Lambda-Invoke-Permissions";

/// The role's trust policy as the template declares it for the parameters a stack was deployed
/// with (`deployed`): the principal may assume it with the external ID, nothing else.
pub fn declared_trust_policy(deployed: &BTreeMap<String, String>) -> String {
    let param = |n: &str| deployed.get(n).map(String::as_str).unwrap_or_default();
    serde_json::json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Effect": "Allow",
            "Principal": {"AWS": [param(PRINCIPAL_PARAMETER)]},
            "Action": "sts:AssumeRole",
            "Condition": {"StringEquals": {"sts:ExternalId": [param(EXTERNAL_ID_PARAMETER)]}},
        }],
    })
    .to_string()
}

/// The invoke policy as the template declares it for `deployed`: [`INVOKE_ACTIONS`] on the
/// listed functions.
pub fn declared_invoke_policy(deployed: &BTreeMap<String, String>) -> String {
    let functions: Vec<&str> = deployed
        .get(FUNCTIONS_PARAMETER)
        .map(String::as_str)
        .unwrap_or_default()
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .collect();
    serde_json::json!({
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": INVOKE_ACTIONS, "Resource": functions}],
    })
    .to_string()
}

/// The template's output holding the role's ARN, which `deploy` records as `[outputs].role_arn`
/// and `register` puts into each Worker Deployment Version.
pub const ROLE_ARN_OUTPUT: &str = "RoleARN";

/// The role's ARN among a stack's outputs.
pub fn role_arn(stack_outputs: &BTreeMap<String, String>) -> Option<&str> {
    stack_outputs.get(ROLE_ARN_OUTPUT).map(String::as_str)
}

/// How the `[outputs]` a descriptor recorded differ from the stack as deployed, one line per
/// key (`status` lists them, `doctor` joins them); empty when they match.
pub fn drift(
    recorded: &Outputs,
    stack_outputs: &BTreeMap<String, String>,
    stack_id: &str,
) -> Vec<String> {
    let mut lines = Vec::new();
    let role_arn = role_arn(stack_outputs);
    if role_arn != recorded.role_arn.as_deref() {
        lines.push(format!(
            "role_arn: recorded `{}`, stack has `{}`",
            recorded.role_arn.as_deref().unwrap_or("nothing"),
            role_arn.unwrap_or("nothing")
        ));
    }
    if Some(stack_id) != recorded.stack_id.as_deref() {
        lines.push(format!(
            "stack_id: recorded `{}`, stack is `{stack_id}`",
            recorded.stack_id.as_deref().unwrap_or("nothing")
        ));
    }
    lines
}

/// How the parameters a stack was deployed with differ from the ones a deploy would now use,
/// one line per parameter, `Name: `deployed` → `wanted``; empty when they agree. Nothing in
/// these parameters is secret (ARNs and an external ID, which is not a secret either).
pub fn parameter_drift(
    wanted: &[(String, String)],
    deployed: &BTreeMap<String, String>,
) -> Vec<String> {
    let wanted: BTreeMap<&str, &str> = wanted.iter().map(|(k, v)| (&**k, &**v)).collect();
    let names: BTreeSet<&str> = wanted
        .keys()
        .copied()
        .chain(deployed.keys().map(String::as_str))
        .collect();
    let shown = |v: Option<&str>| v.map_or("(none)".to_owned(), |v| format!("`{v}`"));
    names
        .into_iter()
        .filter(|n| wanted.get(n).copied() != deployed.get(*n).map(String::as_str))
        .map(|n| {
            format!(
                "{n}: {} → {}",
                shown(deployed.get(n).map(String::as_str)),
                shown(wanted.get(n).copied())
            )
        })
        .collect()
}

/// A role's trust policy that is not JSON, as IAM should never return one.
#[derive(Debug, thiserror::Error)]
#[error("the trust policy is not JSON: {0}")]
pub struct TrustPolicyNotJson(serde_json::Error);

/// What a trust policy lets do: who may assume the role, and the external IDs its
/// `sts:ExternalId` condition requires (empty: none is required).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Trust {
    pub principals: BTreeSet<String>,
    pub external_ids: BTreeSet<String>,
    /// Some statement allows AssumeRole without an `sts:ExternalId` condition.
    pub unconditional: bool,
}

impl Trust {
    /// Reads the `Allow` statements for `sts:AssumeRole` of a trust policy (JSON).
    pub fn parse(json: &str) -> Result<Self, TrustPolicyNotJson> {
        let doc: serde_json::Value = serde_json::from_str(json).map_err(TrustPolicyNotJson)?;
        let mut trust = Trust::default();
        for statement in statements(&doc) {
            let allows_assume = strings(statement.get("Action"))
                .iter()
                .any(|a| a == "sts:AssumeRole" || a == "sts:*" || a == "*");
            if statement.get("Effect").and_then(|e| e.as_str()) != Some("Allow") || !allows_assume {
                continue;
            }
            let principal = statement.get("Principal");
            trust.principals.extend(match principal {
                Some(serde_json::Value::String(s)) => vec![s.clone()],
                Some(p) => strings(p.get("AWS")),
                None => Vec::new(),
            });
            let ids = statement
                .get("Condition")
                .and_then(|c| c.get("StringEquals"))
                .and_then(|c| {
                    c.as_object()?
                        .iter()
                        .find(|(k, _)| k.eq_ignore_ascii_case("sts:ExternalId"))
                        .map(|(_, v)| strings(Some(v)))
                });
            match ids {
                Some(ids) if !ids.is_empty() => trust.external_ids.extend(ids),
                _ => trust.unconditional = true,
            }
        }
        Ok(trust)
    }

    /// Whether `principal` may assume the role (named directly, or its whole account, as
    /// `ACCOUNT` or `arn:PARTITION:iam::ACCOUNT:root`).
    pub fn trusts(&self, principal: &str) -> bool {
        let root = env_descriptor::arn::Arn::parse(principal).map(|a| {
            (
                a.account.to_owned(),
                format!("arn:{}:iam::{}:root", a.partition, a.account),
            )
        });
        self.principals.iter().any(|p| {
            p == principal
                || p == "*"
                || root
                    .as_ref()
                    .is_some_and(|(account, root)| p == account || p == root)
        })
    }
}

/// How the role IAM holds differs from what the template declares for the parameters the
/// stack was deployed with (`deployed`), one line per difference; empty when they agree.
/// `inline` are its inline policies (name, JSON), `attached` its managed policies' ARNs.
pub fn role_drift(
    deployed: &BTreeMap<String, String>,
    trust_policy: &str,
    inline: &[(String, String)],
    attached: &[String],
) -> Vec<String> {
    let mut lines = Vec::new();
    let param = |n: &str| deployed.get(n).map(String::as_str).unwrap_or_default();
    let set = |v: &[&str]| -> BTreeSet<String> { v.iter().map(|s| (*s).to_owned()).collect() };
    let listed = |s: &BTreeSet<String>| {
        s.iter()
            .map(|x| format!("`{x}`"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    match Trust::parse(trust_policy) {
        Err(e) => lines.push(e.to_string()),
        Ok(trust) => {
            let principal = set(&[param(PRINCIPAL_PARAMETER)]);
            if trust.principals != principal {
                lines.push(format!(
                    "trust policy principal: declared {}, the role has {}",
                    listed(&principal),
                    listed(&trust.principals)
                ));
            }
            let external_id = set(&[param(EXTERNAL_ID_PARAMETER)]);
            if trust.external_ids != external_id || trust.unconditional {
                lines.push(format!(
                    "trust policy sts:ExternalId: declared {}, the role has {}{}",
                    listed(&external_id),
                    listed(&trust.external_ids),
                    if trust.unconditional {
                        " and a statement without the condition"
                    } else {
                        ""
                    }
                ));
            }
        }
    }
    let (actions, resources) = granted(inline);
    let declared_actions = set(&INVOKE_ACTIONS);
    if actions != declared_actions {
        lines.push(format!(
            "invoke policy actions: declared {}, the role has {}",
            listed(&declared_actions),
            listed(&actions)
        ));
    }
    let declared_resources: BTreeSet<String> = param(FUNCTIONS_PARAMETER)
        .split(',')
        .map(|s| s.trim().to_owned())
        .filter(|s| !s.is_empty())
        .collect();
    if resources != declared_resources {
        lines.push(format!(
            "invoke policy resources: declared {}, the role has {}",
            listed(&declared_resources),
            listed(&resources)
        ));
    }
    if !attached.is_empty() {
        lines.push(format!(
            "managed policies: declared none, the role has {}",
            listed(&attached.iter().cloned().collect())
        ));
    }
    lines
}

/// The resources the `Allow` statements of a role's inline policies (name, JSON) grant
/// actions on: the functions its invoke policy covers, as IAM holds it.
pub fn granted_resources(inline: &[(String, String)]) -> BTreeSet<String> {
    granted(inline).1
}

/// The actions and resources every `Allow` statement of the inline policies grants.
fn granted(inline: &[(String, String)]) -> (BTreeSet<String>, BTreeSet<String>) {
    let mut actions = BTreeSet::new();
    let mut resources = BTreeSet::new();
    for (name, json) in inline {
        let Ok(doc) = serde_json::from_str::<serde_json::Value>(json) else {
            actions.insert(format!("(policy `{name}` is not JSON)"));
            continue;
        };
        for s in statements(&doc) {
            if s.get("Effect").and_then(|e| e.as_str()) == Some("Allow") {
                actions.extend(strings(s.get("Action")));
                resources.extend(strings(s.get("Resource")));
            }
        }
    }
    (actions, resources)
}

/// A policy's statements: `Statement` is one object or a list of them.
fn statements(doc: &serde_json::Value) -> Vec<&serde_json::Value> {
    match doc.get("Statement") {
        Some(serde_json::Value::Array(list)) => list.iter().collect(),
        Some(one) => vec![one],
        None => Vec::new(),
    }
}

/// A policy value that is one string or a list of them.
fn strings(value: Option<&serde_json::Value>) -> Vec<String> {
    match value {
        Some(serde_json::Value::String(s)) => vec![s.clone()],
        Some(serde_json::Value::Array(list)) => list
            .iter()
            .filter_map(|v| v.as_str().map(str::to_owned))
            .collect(),
        _ => Vec::new(),
    }
}

/// A declared template parameter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Parameter {
    pub name: String,
    pub default: Option<String>,
    pub min_length: Option<usize>,
    pub max_length: Option<usize>,
}

/// Where a template asks CloudFormation for a transform, if it does: the top-level `Transform`
/// key, an `Fn::Transform` key or a `!Transform` tag at any depth. A macro is a Lambda function
/// that runs while the change set is created, and `AWS::Include` reads S3 as the caller.
fn transform(doc: &Value) -> Option<&'static str> {
    if doc.get("Transform").is_some() {
        return Some("the top-level `Transform` key");
    }
    fn nested(v: &Value) -> Option<&'static str> {
        match v {
            Value::Mapping(m) => m.iter().find_map(|(k, v)| {
                if k.as_str() == Some("Fn::Transform") {
                    Some("an `Fn::Transform` key")
                } else {
                    nested(k).or_else(|| nested(v))
                }
            }),
            Value::Sequence(items) => items.iter().find_map(nested),
            Value::Tagged(t) if t.tag == "Transform" => Some("a `!Transform` tag"),
            Value::Tagged(t) => nested(&t.value),
            _ => None,
        }
    }
    nested(doc)
}

/// Why a CloudFormation template is not one the tool can deploy (each message says what is
/// allowed).
#[derive(Debug, thiserror::Error)]
pub enum TemplateError {
    #[error("not valid YAML: {0}")]
    NotYaml(serde_yaml::Error),
    #[error(
        "it declares a transform ({0}), which runs code or reads S3 while `plan` creates its \
         change set; allowed: a template without `Transform`, `Fn::Transform` or `!Transform`, \
         as the guide's"
    )]
    Transform(&'static str),
    #[error("it has no `Parameters` section")]
    NoParameters,
    #[error("a parameter name is not a string")]
    ParameterName,
    /// The parameters of [`PASSED_PARAMETERS`] it does not declare.
    #[error(
        "it does not declare the parameter(s) {}, which the tool passes; allowed: any template that declares {}",
        quoted(.0),
        quoted(&PASSED_PARAMETERS)
    )]
    Undeclared(Vec<&'static str>),
    #[error("it has no `Resources` section")]
    NoResources,
    #[error("it has no `{ROLE_ARN_OUTPUT}` output, which `deploy` records as `[outputs].role_arn`")]
    NoRoleArnOutput,
}

/// `a`, `b`: names as messages quote them.
fn quoted(names: &[&str]) -> String {
    names
        .iter()
        .map(|n| format!("`{n}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The template body and its declared parameters.
#[derive(Debug, Clone)]
pub struct Template {
    pub body: String,
    pub parameters: Vec<Parameter>,
}

impl Template {
    /// Parses the parameters out of a template body (YAML with CloudFormation's `!` tags).
    pub fn parse(body: String) -> Result<Self, TemplateError> {
        let doc: Value = serde_yaml::from_str(&body).map_err(TemplateError::NotYaml)?;
        if let Some(at) = transform(&doc) {
            return Err(TemplateError::Transform(at));
        }
        let params = doc
            .get("Parameters")
            .and_then(Value::as_mapping)
            .ok_or(TemplateError::NoParameters)?;
        let scalar = |v: Option<&Value>| match v {
            Some(Value::String(s)) => Some(s.clone()),
            Some(Value::Number(n)) => Some(n.to_string()),
            Some(Value::Bool(b)) => Some(b.to_string()),
            _ => None,
        };
        let mut parameters = Vec::new();
        for (name, spec) in params {
            let name = name
                .as_str()
                .ok_or(TemplateError::ParameterName)?
                .to_owned();
            let number = |k: &str| spec.get(k).and_then(Value::as_u64).map(|n| n as usize);
            parameters.push(Parameter {
                default: scalar(spec.get("Default")),
                min_length: number("MinLength"),
                max_length: number("MaxLength"),
                name,
            });
        }
        let missing: Vec<&'static str> = PASSED_PARAMETERS
            .into_iter()
            .filter(|p| !parameters.iter().any(|d| d.name == *p))
            .collect();
        if !missing.is_empty() {
            return Err(TemplateError::Undeclared(missing));
        }
        if doc.get("Resources").is_none() {
            return Err(TemplateError::NoResources);
        }
        if doc
            .get("Outputs")
            .and_then(|o| o.get(ROLE_ARN_OUTPUT))
            .is_none()
        {
            return Err(TemplateError::NoRoleArnOutput);
        }
        Ok(Template { body, parameters })
    }

    /// What CloudFormation would reject in `passed` before creating anything, one line per
    /// problem; empty when it takes them. A parameter the template does not declare cannot
    /// happen: [`Template::parse`] refuses a template without every one of [`PASSED_PARAMETERS`].
    pub fn problems(&self, passed: &Parameters) -> Vec<String> {
        let passed = passed.pairs();
        let mut problems = Vec::new();
        for (key, value) in &passed {
            let Some(p) = self.parameters.iter().find(|p| p.name == *key) else {
                problems.push(format!("Parameters: [{key}] do not exist in the template"));
                continue;
            };
            let len = value.chars().count();
            if p.min_length.is_some_and(|m| len < m) || p.max_length.is_some_and(|m| len > m) {
                problems.push(format!(
                    "Parameter '{}' has {len} characters, outside its MinLength/MaxLength",
                    p.name
                ));
            }
        }
        for p in &self.parameters {
            if p.default.is_none() && !passed.iter().any(|(k, _)| *k == p.name) {
                problems.push(format!("Parameters: [{}] must have values", p.name));
            }
        }
        problems
    }

    /// The pairs of `passed` plus the default of every declared parameter it leaves out: the
    /// complete set of values CloudFormation reports for a stack deployed with `passed`.
    pub fn with_defaults(&self, passed: &Parameters) -> Vec<(String, String)> {
        let rendered = passed.pairs();
        let mut all = rendered.clone();
        for p in &self.parameters {
            if let (Some(default), false) = (&p.default, rendered.iter().any(|(k, _)| *k == p.name))
            {
                all.push((p.name.clone(), default.clone()));
            }
        }
        all
    }

    /// The default of `name`, if the template declares one.
    pub fn default_of(&self, name: &str) -> Option<&str> {
        self.parameters
            .iter()
            .find(|p| p.name == name)?
            .default
            .as_deref()
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_declared_documents_are_what_role_drift_expects() {
        let deployed: super::BTreeMap<String, String> = [
            (super::PRINCIPAL_PARAMETER, "arn:aws:iam::123456789012:role/t"),
            (super::EXTERNAL_ID_PARAMETER, "ext-id-1"),
            (
                super::FUNCTIONS_PARAMETER,
                "arn:aws:lambda:us-east-1:123456789012:function:a,arn:aws:lambda:us-east-1:123456789012:function:b",
            ),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
        let inline = [(
            super::INVOKE_POLICY_NAME.to_owned(),
            super::declared_invoke_policy(&deployed),
        )];
        let drift = super::role_drift(
            &deployed,
            &super::declared_trust_policy(&deployed),
            &inline,
            &[],
        );
        assert!(drift.is_empty(), "{drift:#?}");
    }

    use super::*;

    fn deployed() -> BTreeMap<String, String> {
        [
            (PRINCIPAL_PARAMETER, "arn:aws:iam::111111111111:role/temporal"),
            (EXTERNAL_ID_PARAMETER, "ext-id-1"),
            (
                FUNCTIONS_PARAMETER,
                "arn:aws:lambda:us-east-1:222222222222:function:a,arn:aws:lambda:us-east-1:222222222222:function:b",
            ),
            ("RoleName", "Temporal-Serverless-Worker"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect()
    }

    const TRUST: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow",
        "Principal":{"AWS":["arn:aws:iam::111111111111:role/temporal"]},"Action":"sts:AssumeRole",
        "Condition":{"StringEquals":{"sts:ExternalId":["ext-id-1"]}}}]}"#;

    fn invoke(resources: &str) -> Vec<(String, String)> {
        vec![(
            "Temporal-Lambda-Invoke-Permissions".to_owned(),
            format!(
                r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow",
                "Action":["lambda:InvokeFunction","lambda:GetFunction"],"Resource":{resources}}}]}}"#
            ),
        )]
    }

    const BOTH: &str = r#"["arn:aws:lambda:us-east-1:222222222222:function:a",
        "arn:aws:lambda:us-east-1:222222222222:function:b"]"#;

    #[test]
    fn a_role_as_the_template_declares_it_has_no_drift() {
        assert_eq!(
            role_drift(&deployed(), TRUST, &invoke(BOTH), &[]),
            Vec::<String>::new()
        );
    }

    #[test]
    fn every_out_of_band_change_is_named() {
        let trust = TRUST
            .replace("role/temporal", "role/someone-else")
            .replace("ext-id-1", "ext-id-2");
        let one = r#""arn:aws:lambda:us-east-1:222222222222:function:a""#;
        let lines = role_drift(
            &deployed(),
            &trust,
            &invoke(one),
            &["arn:aws:iam::aws:policy/AdministratorAccess".to_owned()],
        );
        assert_eq!(lines.len(), 4, "{lines:#?}");
        assert!(lines[0].contains("principal") && lines[0].contains("someone-else"));
        assert!(lines[1].contains("ext-id-2"));
        assert!(lines[2].starts_with("invoke policy resources"));
        assert!(lines[3].contains("AdministratorAccess"));
        let wider = invoke(BOTH)[0].1.replace("lambda:GetFunction", "lambda:*");
        let lines = role_drift(&deployed(), TRUST, &[("p".into(), wider)], &[]);
        assert!(lines[0].contains("lambda:*"), "{lines:#?}");
    }

    #[test]
    fn a_statement_without_the_condition_is_drift() {
        let open = r#"{"Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111111111111:role/temporal"},"Action":["sts:AssumeRole"]}]}"#;
        let trust = Trust::parse(open).unwrap();
        assert!(trust.unconditional && trust.external_ids.is_empty());
        let lines = role_drift(&deployed(), open, &invoke(BOTH), &[]);
        assert_eq!(lines.len(), 1, "{lines:#?}");
        assert!(lines[0].contains("without the condition"));
    }

    #[test]
    fn trust_names_principals_directly_or_by_account() {
        let trust = Trust::parse(TRUST).unwrap();
        assert!(trust.trusts("arn:aws:iam::111111111111:role/temporal"));
        assert!(!trust.trusts("arn:aws:iam::111111111111:user/moto"));
        let account = Trust::parse(&TRUST.replace("role/temporal", "root")).unwrap();
        assert!(account.trusts("arn:aws:iam::111111111111:user/moto"));
        assert!(!account.trusts("arn:aws:iam::333333333333:user/moto"));
    }

    #[test]
    fn parameter_drift_shows_old_and_new() {
        let mut wanted: Vec<(String, String)> = deployed().into_iter().collect();
        assert!(parameter_drift(&wanted, &deployed()).is_empty());
        let external_id = wanted.iter_mut().find(|(k, _)| k == EXTERNAL_ID_PARAMETER);
        external_id.unwrap().1 = "ext-id-2".into();
        assert_eq!(
            parameter_drift(&wanted, &deployed()),
            vec!["AssumeRoleExternalId: `ext-id-1` → `ext-id-2`"]
        );
        wanted.retain(|(k, _)| k != "RoleName");
        let lines = parameter_drift(&wanted, &deployed());
        assert!(lines.contains(&"RoleName: `Temporal-Serverless-Worker` → (none)".to_owned()));
    }
}
