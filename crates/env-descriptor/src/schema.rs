//! Loading a descriptor: the document is read into the `Read` stage of the model (`read.rs`),
//! where serde reports a structural problem and every value's own rule reports; the rules
//! across keys (`rules.rs`) run on what it read; when nothing was wrong, serde reads the
//! document again into the public model (`model.rs`). Every value and rule problem is reported
//! at once, each with its line.

use std::path::Path;

use crate::layout::{FileError, Layout};
use crate::model::Environment;
use crate::problem::{Problem, Severity, line_text};
use crate::read::{Context, KeyIndex, problem, read};
use crate::rules::RULES;

/// A descriptor that passed validation, with the warnings it raised.
#[derive(Debug, Clone)]
pub struct Loaded {
    pub env: Environment,
    pub warnings: Vec<Problem>,
}

#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// The descriptor itself could not be read (outside the checkout, too large, ...).
    #[error(transparent)]
    Read(#[from] FileError),
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

/// Reads and validates `path`, a descriptor of the checkout `layout`, through
/// [`Layout::read`] (inside the checkout, bounded in size). The environment's name is the file
/// stem. Beyond [`load_str`]'s checks, the files its keys name must resolve inside the checkout.
pub fn load(layout: &Layout, path: &Path) -> Result<Loaded, LoadError> {
    let src = layout.read(path)?;
    check(path, &src, Some(layout))
}

/// Validates `src` as the contents of `path`, without looking at any file it names.
pub fn load_str(path: &Path, src: &str) -> Result<Loaded, LoadError> {
    check(path, src, None)
}

fn check(path: &Path, src: &str, checkout: Option<&Layout>) -> Result<Loaded, LoadError> {
    let doc = match src.parse::<toml_edit::Document<String>>() {
        Ok(doc) => doc,
        Err(e) => {
            let msg = e.message().trim().to_owned();
            let key = e
                .span()
                .and_then(|s| key_at(src, s.start))
                .unwrap_or_else(|| "(syntax)".to_owned());
            let offset = e.span().map(|s| s.start);
            let p = Problem::at(
                Severity::Error,
                path,
                src,
                offset,
                key,
                format!("not valid TOML: {msg}"),
            );
            return Err(LoadError::Invalid(vec![p]));
        }
    };
    let index = KeyIndex::of(&doc);
    let cx = Context {
        file: path,
        src,
        index: &index,
        checkout,
    };
    let found = match read(doc.clone(), &index) {
        Err(structural) => vec![structural],
        Ok((mut env, mut found)) => {
            for rule in RULES {
                rule(&mut env, &cx, &mut found);
            }
            found
        }
    };
    let mut problems: Vec<Problem> = found.into_iter().map(|f| problem(f, &index, &cx)).collect();
    problems.sort_by_key(|p| p.position);
    if problems.iter().any(|p| p.severity == Severity::Error) {
        return Err(LoadError::Invalid(problems));
    }
    match toml_edit::de::from_document::<Environment>(doc) {
        Ok(mut env) => {
            env.name = path
                .file_stem()
                .and_then(|s| s.to_str())
                .unwrap_or_default()
                .to_owned();
            env.file = path.to_owned();
            Ok(Loaded {
                env,
                warnings: problems,
            })
        }
        // Every value passed its rule in the read; this is a type whose rules disagree.
        Err(e) => Err(LoadError::Invalid(vec![Problem::at(
            Severity::Error,
            path,
            src,
            e.span().map(|s| s.start),
            "(model)".to_owned(),
            format!("the model rejects what validation passed: {}", e.message()),
        )])),
    }
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

    /// `aws.role_arn` is a role of the environment's account, and its external ID and session
    /// name come only with it.
    #[test]
    fn the_role_to_assume_is_of_the_environments_account_and_brings_its_keys() {
        let with = |aws: &str| GOOD.replace("[aws]\n", &format!("[aws]\n{aws}\n"));
        let role = "role_arn = \"arn:aws:iam::123456789012:role/ci/deployer\"";
        let good = with(&format!(
            "account_id = \"123456789012\"\n{role}\nexternal_id = \"ci:ext/1\"\nsession_name = \"ci-job\""
        ));
        let env = load(&good).unwrap().env;
        assert_eq!(
            env.aws.role_arn.as_deref(),
            Some("arn:aws:iam::123456789012:role/ci/deployer")
        );
        let foreign = with(
            "account_id = \"210987654321\"\nrole_arn = \"arn:aws:iam::123456789012:role/deployer\"",
        );
        let p = problems(&foreign);
        assert!(
            p.iter().any(|p| p.key == "aws.role_arn"
                && p.message
                    .contains("`123456789012`, not `210987654321` (aws.account_id)")),
            "{p:#?}"
        );
        for key in ["external_id = \"ci-ext\"", "session_name = \"ci-job\""] {
            let p = problems(&with(key));
            assert!(
                p.iter()
                    .any(|p| p.key.starts_with("aws.")
                        && p.message.contains("without `aws.role_arn`")),
                "{key}: {p:#?}"
            );
        }
        let p = problems(&with(&format!("{role}\nsession_name = \"a b\"")));
        assert!(p.iter().any(|p| p.key == "aws.session_name"), "{p:#?}");
    }

    /// The account an environment belongs to: declared, else what its record or ARNs imply.
    #[test]
    fn the_account_is_declared_or_implied_by_the_record_and_the_arns() {
        let account = |src: &str| load(src).unwrap().env.account();
        assert_eq!(
            account(GOOD),
            Some(("123456789012".into(), "role.lambda_function_arns"))
        );
        let recorded = format!(
            "{GOOD}\n[outputs]\nrole_arn = \"arn:aws:iam::210987654321:role/Temporal-Serverless-Worker-temporal-serverless-worker-staging\"\n\
             stack_id = \"arn:aws:cloudformation:us-west-2:210987654321:stack/temporal-serverless-worker-staging/1\"\n\
             deployed_at = \"2026-01-02T03:04:05Z\"\n"
        );
        assert_eq!(
            account(&recorded),
            Some(("210987654321".into(), "the stack recorded in [outputs]"))
        );
        let declared = recorded.replace("[aws]\n", "[aws]\naccount_id = \"210987654321\"\n");
        assert_eq!(
            account(&declared),
            Some(("210987654321".into(), "aws.account_id"))
        );
        let assumed = GOOD.replace(
            "[aws]\n",
            "[aws]\nrole_arn = \"arn:aws:iam::333333333333:role/deployer\"\n",
        );
        assert_eq!(
            account(&assumed),
            Some(("333333333333".into(), "aws.role_arn"))
        );
        // Functions in two accounts imply none.
        let two = GOOD.replace(
            "function:worker-1\"]",
            "function:worker-1\", \"arn:aws:lambda:us-west-2:333333333333:function:w\"]",
        );
        assert_eq!(account(&two), None);
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
        assert!(p[4].message.contains("3 characters long; allowed: 5 to 45"));
        assert!(p.iter().all(|p| p.severity == Severity::Error));
        // An invalid region hides nothing: the assumed-role ARN is reported with or without it.
        // A structural problem (an unknown key, a missing one, a wrong type) stops the read:
        // it is reported alone.
        let p = problems(&src.replace("[temporal]", "colour = \"blue\"\n[temporal]"));
        assert_eq!(p.len(), 1, "{p:#?}");
        assert_eq!(p[0].key, "aws.colour");
        assert_eq!(p[0].position, Some((5, 1)));
        assert!(
            p[0].message
                .contains("unknown key; allowed: `region`, `profile`")
        );
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
                    ("role_arn", r#""arn:aws:iam::123456789012:role/deployer""#),
                    ("external_id", r#""ci-external-id""#),
                    ("session_name", r#""ci-job""#),
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
                    ("helm_values", r#""values.yaml""#),
                    ("tls", "true"),
                    ("tls_cert_path", r#""c""#),
                    ("tls_key_path", r#""k""#),
                    ("tls_ca_path", r#""ca""#),
                    ("tls_server_name", r#""t""#),
                    ("api_key_env", r#""TEMPORAL_API_KEY""#),
                ],
            ),
            (
                "[role]",
                vec![
                    ("stack_name", r#""temporal-serverless-worker-staging""#),
                    ("name", r#""n""#),
                    ("naming", r#""per-stack""#),
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
            (
                "[deploy]",
                vec![
                    ("confirm", "false"),
                    ("tags", r#"{ team = "payments", "cost center" = "" }"#),
                    (
                        "cloudformation_role_arn",
                        r#""arn:aws:iam::123456789012:role/cfn-deployer""#,
                    ),
                    ("wave", "1"),
                ],
            ),
            ("[sandbox]", vec![("auto_start", "false")]),
            (
                "[stack_set]",
                vec![
                    ("name", r#""roles""#),
                    ("permission_model", r#""service-managed""#),
                    ("organizational_units", r#"["ou-abcd-12345678"]"#),
                    ("accounts", r#"["111111111111"]"#),
                    ("regions", r#"["us-east-1"]"#),
                    ("call_as", r#""self""#),
                    ("auto_deployment", "true"),
                    ("retain_stacks_on_account_removal", "false"),
                    (
                        "administration_role_arn",
                        r#""arn:aws:iam::123456789012:role/admin""#,
                    ),
                    ("execution_role_name", r#""exec""#),
                    ("max_concurrent_count", "3"),
                    ("max_concurrent_percentage", "50"),
                    ("failure_tolerance_count", "0"),
                    ("failure_tolerance_percentage", "10"),
                    ("concurrency_mode", r#""soft-failure-tolerance""#),
                    (
                        "overrides",
                        r#"{ "111111111111" = { external_id = "other-ext-id" } }"#,
                    ),
                ],
            ),
            (
                "[outputs]",
                vec![
                    ("role_arn", ROLE),
                    ("stack_id", STACK),
                    ("stack_set_id", r#""roles:0f1e""#),
                    (
                        "role_arns",
                        r#"{ "111111111111" = "arn:aws:iam::111111111111:role/n" }"#,
                    ),
                    ("deployed_at", r#""2026-11-25T10:00:00Z""#),
                    ("registered", "[]"),
                ],
            ),
        ]
    }

    /// The keys whose value is an integer: a string there is the wrong type.
    const INTEGER_KEYS: &[&str] = &[
        "deploy.wave",
        "stack_set.max_concurrent_count",
        "stack_set.max_concurrent_percentage",
        "stack_set.failure_tolerance_count",
        "stack_set.failure_tolerance_percentage",
    ];

    /// Every key the schema lists is read with its declared type: a key set to an integer (to a
    /// string, for the one integer key, `deploy.wave`) is reported as the wrong type, never
    /// accepted and ignored.
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
                        if INTEGER_KEYS.contains(&format!("{table}.{key}").as_str()) {
                            "\"5\""
                        } else {
                            "5"
                        }
                    } else {
                        value
                    };
                    out.push_str(&format!("{key} = {value}\n"));
                }
            }
            out
        };
        // Every value is valid; the problems are keys that may not go together: the server's
        // dynamic config given twice, and a StackSet with a single stack's keys and the keys of
        // both permission models.
        let all = problems(&text(None));
        let keys: Vec<&str> = all.iter().map(|p| p.key.as_str()).collect();
        assert_eq!(
            keys,
            [
                "temporal.helm_values",
                "role.stack_name",
                "role.naming",
                "stack_set.accounts[0]",
                "stack_set.administration_role_arn",
                "stack_set.execution_role_name",
                "stack_set.max_concurrent_percentage",
                "stack_set.failure_tolerance_percentage",
                "outputs.role_arn",
                "outputs.stack_id",
            ],
            "{all:#?}"
        );
        let mut checked = 0;
        // Every key of every table, from the schema generated from the model.
        let schema: serde_json::Value = serde_json::from_str(&crate::json_schema()).unwrap();
        let keys = |t: &serde_json::Value| -> Vec<String> {
            t["properties"]
                .as_object()
                .unwrap()
                .keys()
                .cloned()
                .collect()
        };
        let mut declared = vec![(String::new(), keys(&schema))];
        for (name, t) in schema["properties"].as_object().unwrap() {
            let t = if t["type"] == "array" { &t["items"] } else { t };
            declared.push((name.clone(), keys(t)));
        }
        for (table, table_keys) in &declared {
            let table = table.as_str();
            for key in table_keys {
                let key = key.as_str();
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
                        && (p.message.ends_with(", found integer")
                            || INTEGER_KEYS.contains(&full.as_str())
                                && p.message.ends_with(", found string"))),
                    "`{full} = 5` is reported as a wrong type: {p:#?}"
                );
                checked += 1;
            }
        }
        assert_eq!(checked, 8 + 7 + 13 + 5 + 8 + 4 + 1 + 16 + 6);
    }

    /// `[deploy] tags` and `cloudformation_role_arn`: AWS's tag limits, no `aws:` prefix, a
    /// role (not a user) in the region's partition and the stack's account.
    #[test]
    fn stack_tags_and_the_service_role_follow_aws_rules() {
        let with = |deploy: &str| {
            GOOD.replace("[aws]\n", "[aws]\naccount_id = \"123456789012\"\n")
                + &format!("\n[deploy]\n{deploy}\n")
        };
        let good = with(
            "tags = { team = \"payments\", \"cost:center\" = \"42\" }\ncloudformation_role_arn = \"arn:aws:iam::123456789012:role/cfn\"",
        );
        let env = load(&good).expect("valid").env;
        assert_eq!(env.deploy.tags.len(), 2);
        assert_eq!(
            env.deploy.cloudformation_role_arn.as_deref(),
            Some("arn:aws:iam::123456789012:role/cfn")
        );
        let cases = [
            (
                "tags = { \"AWS:team\" = \"x\" }",
                "deploy.tags.AWS:team",
                "reserves",
            ),
            ("tags = { team = \"a;b\" }", "deploy.tags.team", "tag value"),
            (
                "tags = { team = 5 }",
                "deploy.tags.team",
                "expected a string",
            ),
            (
                "tags = \"team\"",
                "deploy.tags",
                "expected a table of strings",
            ),
            (
                "cloudformation_role_arn = \"arn:aws:iam::123456789012:user/u\"",
                "deploy.cloudformation_role_arn",
                "IAM user",
            ),
            (
                "cloudformation_role_arn = \"arn:aws-cn:iam::123456789012:role/r\"",
                "deploy.cloudformation_role_arn",
                "partition",
            ),
            (
                "cloudformation_role_arn = \"arn:aws:iam::210987654321:role/r\"",
                "deploy.cloudformation_role_arn",
                "not `123456789012` (aws.account_id)",
            ),
        ];
        for (deploy, key, says) in cases {
            let p = problems(&with(deploy));
            assert!(
                p.iter().any(|p| p.key == key && p.message.contains(says)),
                "{deploy}: {p:#?}"
            );
        }
        let many: Vec<String> = (0..50).map(|i| format!("t{i} = \"v\"")).collect();
        let p = problems(&with(&format!("tags = {{ {} }}", many.join(", "))));
        assert!(p[0].message.contains("at most 49"), "{p:#?}");
    }

    /// The rules across keys that other tests leave out: TLS keys, a Worker Deployment listed
    /// twice, ARNs outside the region's partition.
    #[test]
    fn rules_across_keys_report_at_their_keys() {
        let tls = GOOD.replace(
            "namespaces = [",
            "tls = false\ntls_key_path = \"k.pem\"\nnamespaces = [",
        );
        let found: Vec<(String, Option<usize>)> = problems(&tls)
            .into_iter()
            .map(|p| (p.key, p.position.map(|p| p.0)))
            .collect();
        assert_eq!(
            found,
            [
                ("temporal.tls".to_owned(), Some(7)),
                ("temporal.tls_cert_path".to_owned(), Some(8)),
            ]
        );

        let wd = "\n[[worker_deployments]]\nnamespace = \"orders\"\nname = \"w\"\nbuild_id = \"1\"\nlambda_function_arn = \"arn:aws:lambda:us-west-2:123456789012:function:worker-1\"\n";
        let twice = format!("{GOOD}{wd}{wd}")
            .replace("namespaces = [", "address = \"t:7233\"\nnamespaces = [");
        let p = problems(&twice);
        assert_eq!(p.len(), 1, "{p:#?}");
        assert_eq!(p[0].key, "worker_deployments[1]");
        assert_eq!(p[0].position, Some((21, 1)));
        assert_eq!(p[0].message, "`orders/w@1` is listed twice");

        let china = GOOD.replace("us-west-2\"\n", "cn-north-1\"\n");
        let keys: Vec<String> = problems(&china).into_iter().map(|p| p.key).collect();
        assert_eq!(
            keys,
            ["temporal.server_role_arn", "role.lambda_function_arns[0]"]
        );
    }

    /// The server reads one dynamic config: a file of its own, or a Helm chart's values.
    #[test]
    fn a_dynamic_config_file_and_helm_values_exclude_each_other() {
        let both = GOOD.replace(
            "namespaces = [",
            "dynamic_config_file = \"dc.yaml\"\nhelm_values = \"helm/values.yaml\"\nnamespaces = [",
        );
        let p = problems(&both);
        assert_eq!(p.len(), 1, "{p:#?}");
        assert_eq!(p[0].key, "temporal.helm_values");
        assert_eq!(p[0].position, Some((8, 1)));
        assert_eq!(
            p[0].message,
            "cannot be set beside `dynamic_config_file` (line 7): the server reads its dynamic config from one place; \
             keep `helm_values` when a Helm chart deploys the server, else `dynamic_config_file`"
        );
        let helm = GOOD.replace(
            "namespaces = [",
            "helm_values = \"helm/values.yaml\"\nnamespaces = [",
        );
        let env = load(&helm).unwrap().env;
        assert_eq!(
            env.temporal.helm_values.as_ref().map(|p| p.as_str()),
            Some("helm/values.yaml")
        );
    }

    #[test]
    fn the_schema_directive_for_editors_is_a_comment() {
        let loaded = load(&format!("#:schema ./descriptor.schema.json\n{GOOD}")).unwrap();
        assert!(loaded.warnings.is_empty(), "{:?}", loaded.warnings);
    }

    #[test]
    fn wrong_types_and_missing_tables() {
        // A structural problem stops the read, so each is reported alone, the first met.
        let first = |src: &str| {
            let p = problems(src);
            assert_eq!(p.len(), 1, "{p:#?}");
            format!("{}: {}", p[0].key, p[0].message)
        };
        assert_eq!(
            first("[aws]\nregion = 5\n[temporal]\nnamespaces = [\"a\", 1]\n"),
            "aws.region: expected a string, found integer"
        );
        assert_eq!(
            first("[aws]\nregion = \"x\"\n[temporal]\nnamespaces = [\"a\", 1]\n"),
            "temporal.namespaces[1]: expected a string, found integer"
        );
        assert!(
            first("[aws]\nregion = \"x\"\n[temporal]\nnamespaces = [\"a\"]\n")
                .starts_with("temporal.server_role_arn: is missing; allowed: the ARN"),
        );
        let no_role = GOOD[..GOOD.find("[role]").unwrap()].to_owned();
        assert_eq!(first(&no_role), "role: the table `[role]` is missing");
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
        let src = GOOD.replace("[aws]\n", "[aws]\naccount_id = \"123456789012\"\n").replace(
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
    fn functions_in_the_roles_account_are_not_cross_account_when_the_server_is_elsewhere() {
        // The usual layout: the server in 123456789012, the role and functions in 210987654321.
        let elsewhere = GOOD.replace(
            "arn:aws:lambda:us-west-2:123456789012:",
            "arn:aws:lambda:us-west-2:210987654321:",
        );
        assert!(load(&elsewhere).unwrap().warnings.is_empty());
        let role_there = format!(
            "{elsewhere}\n[outputs]\nrole_arn = \"arn:aws:iam::210987654321:role/Temporal-Serverless-Worker-temporal-serverless-worker-staging\"\n\
             stack_id = \"arn:aws:cloudformation:us-west-2:210987654321:stack/temporal-serverless-worker-staging/x\"\n\
             deployed_at = \"2026-01-02T03:04:05Z\"\n"
        );
        assert!(load(&role_there).unwrap().warnings.is_empty());
        // A function outside the role's account is cross-account, whatever the server's is.
        let declared = elsewhere.replace("[aws]\n", "[aws]\naccount_id = \"333333333333\"\n");
        let w = load(&declared).unwrap().warnings;
        assert_eq!(w.len(), 1, "{w:#?}");
        assert!(
            w[0].message.contains("`333333333333` (aws.account_id)"),
            "{w:#?}"
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
        // Named exactly `role.name`, the stack's name does not count; the name alone does.
        let fixed = src.replace("[role]", "[role]\nnaming = \"fixed\"");
        assert!(load(&fixed).is_ok());
        let long = fixed.replace("[role]", &format!("[role]\nname = \"{}\"", "r".repeat(65)));
        let p = problems(&long);
        assert_eq!((p.len(), p[0].key.as_str()), (1, "role.name"), "{p:#?}");
        assert!(p[0].message.contains("1 to 64 characters"), "{p:#?}");
        let bad = src.replace("[role]", "[role]\nnaming = \"random\"");
        assert_eq!(problems(&bad)[0].key, "role.naming");
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
        let smoke = env.worker_deployments[0].smoke().unwrap();
        assert_eq!(
            (smoke.workflow.as_str(), smoke.task_queue.as_str()),
            ("Greet", "q")
        );
        assert_eq!(smoke.input.as_deref(), Some("\"x\""));
        assert_eq!(
            load(&wd("")).unwrap().env.worker_deployments[0].smoke(),
            None
        );
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
        // Without `temporal.address`: `register` takes the frontend from TEMPORAL_ADDRESS or a
        // Temporal CLI profile instead.
        let without_address = load(&wd("orders", f)).unwrap().env;
        assert_eq!(without_address.temporal.address, None);
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
        assert_eq!(t.tls(), Some(crate::model::Tls::default()));
        assert_eq!(t.api_key_env.as_deref(), Some("TEMPORAL_API_KEY"));
    }

    /// The API key's variable is one meant for a Temporal key (never the CI job's AWS or
    /// GitHub secrets), and a key goes in cleartext only to this machine.
    #[test]
    fn the_api_key_comes_from_a_temporal_variable_and_never_travels_in_cleartext() {
        for name in [
            "AWS_SECRET_ACCESS_KEY",
            "GITHUB_TOKEN",
            "ACTIONS_RUNTIME_TOKEN",
            "MY_KEY",
        ] {
            let src = GOOD.replace(
                "namespaces = [",
                &format!("address = \"t:7233\"\napi_key_env = \"{name}\"\nnamespaces = ["),
            );
            let p = problems(&src);
            assert_eq!(p.len(), 1, "{p:#?}");
            assert_eq!(p[0].key, "temporal.api_key_env");
            assert!(
                p[0].message.contains(&format!("`{name}`"))
                    && p[0].message.contains("`TEMPORAL_API_KEY`")
                    && p[0].message.contains("`TEMPORAL_<NAME>_API_KEY`"),
                "{}",
                p[0].message
            );
        }
        for name in ["TEMPORAL_API_KEY", "TEMPORAL_STAGING_API_KEY"] {
            let src = GOOD.replace(
                "namespaces = [",
                &format!("address = \"t:7233\"\napi_key_env = \"{name}\"\nnamespaces = ["),
            );
            assert!(load(&src).is_ok(), "{name}");
        }
        let plaintext = |address: &str| {
            GOOD.replace(
                "namespaces = [",
                &format!("address = \"{address}\"\ntls = false\napi_key_env = \"TEMPORAL_API_KEY\"\nnamespaces = ["),
            )
        };
        let p = problems(&plaintext("temporal.example.com:7233"));
        assert_eq!(p.len(), 1, "{p:#?}");
        assert_eq!(p[0].key, "temporal.tls");
        assert!(
            p[0].message.contains("cleartext") && p[0].message.contains("loopback"),
            "{}",
            p[0].message
        );
        assert!(load(&plaintext("127.0.0.1:7233")).is_ok());
        assert!(load(&plaintext("localhost:7233")).is_ok());
    }

    const STACK_ID: &str = "arn:aws:cloudformation:us-west-2:123456789012:stack/temporal-serverless-worker-staging/0f1e-42";
    const ROLE_ARN: &str = "arn:aws:iam::123456789012:role/Temporal-Serverless-Worker-temporal-serverless-worker-staging";

    fn with_outputs(role_arn: &str, stack_id: &str, deployed_at: &str, registered: &str) -> String {
        format!(
            "{GOOD}\n[deploy]\nconfirm = false\n\n[outputs]\nrole_arn = \"{role_arn}\"\nstack_id = \"{stack_id}\"\ndeployed_at = \"{deployed_at}\"\nregistered = {registered}\n"
        )
    }

    /// The job's AWS credentials (a session token travels in every signed request) go wherever
    /// `aws.endpoint_url` points: a descriptor, which a pull request may change, can only name an
    /// emulator on this machine. Another endpoint comes from the caller (`AWS_ENDPOINT_URL`, the
    /// AWS config file), never from a descriptor.
    #[test]
    fn endpoint_url_reaches_only_this_machine() {
        let with = |url: &str| {
            GOOD.replace(
                "region = \"us-west-2\"",
                &format!("region = \"us-west-2\"\nendpoint_url = \"{url}\""),
            )
        };
        for local in [
            "http://127.0.0.1:5050",
            "http://localhost:4566",
            "http://[::1]:5050",
        ] {
            assert!(load(&with(local)).is_ok(), "{local}");
        }
        for remote in [
            "https://collector.example.com",
            "http://192.0.2.1:5050",
            "https://cloudformation.us-west-2.amazonaws.com",
        ] {
            let p = problems(&with(remote));
            let msgs: Vec<String> = p.iter().map(|p| p.to_string()).collect();
            assert_eq!(p.len(), 1, "{remote}: {msgs:#?}");
            assert!(
                msgs[0].starts_with(&format!(
                    "environments/staging.toml:4:16: error: `aws.endpoint_url`: `{remote}` is not on this machine"
                )) && msgs[0].contains("AWS_ENDPOINT_URL"),
                "{msgs:#?}"
            );
        }
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

        let p = problems(&format!("{GOOD}\n[sandbox]\nauto_start = \"yes\"\n"));
        let keys: Vec<&str> = p.iter().map(|p| p.key.as_str()).collect();
        assert_eq!(keys, ["sandbox.auto_start"], "{p:#?}");
        let p = problems(&format!("{GOOD}\n[sandbox]\nport = 1\n"));
        let keys: Vec<&str> = p.iter().map(|p| p.key.as_str()).collect();
        assert_eq!(keys, ["sandbox.port"], "{p:#?}");
        let p = problems(&format!("{GOOD}\n[sandbox]\n"));
        assert_eq!(p.len(), 1, "{p:#?}");
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
        assert_eq!(outputs.stack_id.as_deref(), Some(STACK_ID));
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

    /// A role name's own rule does not wait for a valid `role.stack_name`: both problems are
    /// reported.
    #[test]
    fn an_invalid_role_name_is_reported_without_a_stack_name() {
        let src = GOOD.replace(
            "stack_name = \"temporal-serverless-worker-staging\"",
            "stack_name = \"1bad\"\nname = \"bad name\"",
        );
        let keys: Vec<String> = problems(&src).into_iter().map(|p| p.key).collect();
        assert_eq!(keys, ["role.stack_name", "role.name"]);
    }

    /// Rules that span tables run on the values that passed their own rule, whatever else in
    /// their tables is invalid (a missing key is structural: reported alone).
    #[test]
    fn a_missing_or_invalid_value_hides_no_rule_across_tables() {
        let src = format!(
            "{GOOD}\n[sandbox]\n\n[[worker_deployments]]\nnamespace = \"payments\"\nname = \"w\"\nbuild_id = \"1\"\nlambda_function_arn = \"arn:aws:lambda:us-west-2:123456789012:function:other\"\n"
        )
        .replace(
            "server_role_arn = \"arn:aws:iam::123456789012:role/temporal-server\"\n",
            "server_role_arn = \"arn:aws:iam::123456789012:nope\"\naddress = \"temporal.internal:7233\"\n",
        )
        .replace("abcdef-12345", "abc");
        let keys: Vec<String> = problems(&src).into_iter().map(|p| p.key).collect();
        assert_eq!(
            keys,
            [
                "aws.endpoint_url",
                "temporal.server_role_arn",
                "temporal.address",
                "role.external_id",
                "worker_deployments[0].namespace",
                "worker_deployments[0].lambda_function_arn",
            ]
        );
    }
}
