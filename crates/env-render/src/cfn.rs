//! The parts of the CloudFormation template the tool relies on: its parameters, and the output
//! `deploy` records.

use std::collections::BTreeMap;

use env_descriptor::Outputs;
use serde_yaml::Value;

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
    if role_arn != Some(&*recorded.role_arn) {
        lines.push(format!(
            "role_arn: recorded `{}`, stack has `{}`",
            recorded.role_arn,
            role_arn.unwrap_or("nothing")
        ));
    }
    if stack_id != &*recorded.stack_id {
        lines.push(format!(
            "stack_id: recorded `{}`, stack is `{stack_id}`",
            recorded.stack_id
        ));
    }
    lines
}

/// A declared template parameter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Parameter {
    pub name: String,
    pub default: Option<String>,
    pub min_length: Option<usize>,
    pub max_length: Option<usize>,
}

/// The template body and its declared parameters.
#[derive(Debug, Clone)]
pub struct Template {
    pub body: String,
    pub parameters: Vec<Parameter>,
}

impl Template {
    /// Parses the parameters out of a template body (YAML with CloudFormation's `!` tags).
    pub fn parse(body: String) -> Result<Self, String> {
        let doc: Value = serde_yaml::from_str(&body).map_err(|e| format!("not valid YAML: {e}"))?;
        let params = doc
            .get("Parameters")
            .and_then(Value::as_mapping)
            .ok_or("it has no `Parameters` section")?;
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
                .ok_or("a parameter name is not a string")?
                .to_owned();
            let number = |k: &str| spec.get(k).and_then(Value::as_u64).map(|n| n as usize);
            parameters.push(Parameter {
                default: scalar(spec.get("Default")),
                min_length: number("MinLength"),
                max_length: number("MaxLength"),
                name,
            });
        }
        if doc.get("Resources").is_none() {
            return Err("it has no `Resources` section".into());
        }
        if doc
            .get("Outputs")
            .and_then(|o| o.get(ROLE_ARN_OUTPUT))
            .is_none()
        {
            return Err(format!(
                "it has no `{ROLE_ARN_OUTPUT}` output, which `deploy` records as `[outputs].role_arn`"
            ));
        }
        Ok(Template { body, parameters })
    }

    /// Parses a rendered `parameters.json` and checks it against the declared parameters, the way
    /// CloudFormation would before creating anything.
    pub fn check_parameters(&self, json: &str) -> Result<Vec<(String, String)>, String> {
        #[derive(serde::Deserialize)]
        #[serde(rename_all = "PascalCase", deny_unknown_fields)]
        struct Entry {
            parameter_key: String,
            parameter_value: String,
        }
        let entries: Vec<Entry> = serde_json::from_str(json)
            .map_err(|e| format!("not a list of {{ParameterKey, ParameterValue}}: {e}"))?;
        let mut problems = Vec::new();
        for (i, e) in entries.iter().enumerate() {
            match self.parameters.iter().find(|p| p.name == e.parameter_key) {
                None => problems.push(format!(
                    "Parameters: [{}] do not exist in the template",
                    e.parameter_key
                )),
                Some(p) => {
                    let len = e.parameter_value.chars().count();
                    if p.min_length.is_some_and(|m| len < m)
                        || p.max_length.is_some_and(|m| len > m)
                    {
                        problems.push(format!(
                            "Parameter '{}' has {len} characters, outside its MinLength/MaxLength",
                            p.name
                        ));
                    }
                }
            }
            if entries[..i]
                .iter()
                .any(|o| o.parameter_key == e.parameter_key)
            {
                problems.push(format!("Parameter '{}' is given twice", e.parameter_key));
            }
        }
        for p in &self.parameters {
            if p.default.is_none() && !entries.iter().any(|e| e.parameter_key == p.name) {
                problems.push(format!("Parameters: [{}] must have values", p.name));
            }
        }
        if problems.is_empty() {
            Ok(entries
                .into_iter()
                .map(|e| (e.parameter_key, e.parameter_value))
                .collect())
        } else {
            Err(problems.join("; "))
        }
    }

    /// `rendered` plus the default of every declared parameter it leaves out: the complete set
    /// of values CloudFormation reports for a stack deployed with `rendered`.
    pub fn with_defaults(&self, rendered: &[(String, String)]) -> Vec<(String, String)> {
        let mut all = rendered.to_vec();
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
