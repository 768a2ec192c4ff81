//! The JSON Schema editors check descriptors with (`environments/descriptor.schema.json`),
//! applied by a real JSON Schema validator (Python's `jsonschema`, pinned in the tests'
//! `requirements.txt`) to the committed descriptors, and compared with `validate`.

use std::path::Path;
use std::process::Command;

use crate::support::{Checkout, repo_root, test_tools};

const DIRECTIVE: &str = "#:schema ./descriptor.schema.json\n";

/// Validates each TOML file against the schema (Draft 7, as the schema declares); prints `ok` or
/// the first error per file, one line each, in argument order.
const CHECK: &str = r#"
import json, sys, tomllib
import jsonschema
schema = json.load(open(sys.argv[1]))
jsonschema.Draft7Validator.check_schema(schema)
validator = jsonschema.Draft7Validator(schema)
for path in sys.argv[2:]:
    with open(path, "rb") as f:
        doc = tomllib.load(f)
    errors = sorted(validator.iter_errors(doc), key=lambda e: list(e.path))
    print("ok" if not errors else "invalid: " + "/".join(map(str, errors[0].path)) + ": " + errors[0].message)
"#;

/// One verdict per file: `ok`, or `invalid: PATH: MESSAGE`.
fn schema_verdicts(schema: &Path, files: &[&Path]) -> Vec<String> {
    let out = Command::new(test_tools().python())
        .arg("-c")
        .arg(CHECK)
        .arg(schema)
        .args(files)
        .output()
        .expect("run the venv's python");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect()
}

#[test]
fn committed_descriptors_name_and_match_the_committed_schema() {
    let dir = repo_root().join("environments");
    let schema = dir.join(env_descriptor::SCHEMA_FILE);
    let files: Vec<_> = ["local", "staging", "production"]
        .iter()
        .map(|env| dir.join(format!("{env}.toml")))
        .collect();
    for file in &files {
        let text = std::fs::read_to_string(file).unwrap();
        assert!(
            text.starts_with(DIRECTIVE),
            "{} starts with `{}`",
            file.display(),
            DIRECTIVE.trim_end()
        );
    }
    let paths: Vec<&Path> = files.iter().map(|f| f.as_path()).collect();
    assert_eq!(schema_verdicts(&schema, &paths), ["ok", "ok", "ok"]);
}

/// Where a rule is regular, the schema says what `validate` says: editors flag exactly the
/// values the tool refuses, and accept the ones it takes.
#[test]
fn schema_and_validate_agree() {
    let base = std::fs::read_to_string(repo_root().join("environments/staging.toml")).unwrap();
    let id = base
        .lines()
        .find_map(|l| l.strip_prefix("external_id = "))
        .expect("staging.toml has an external_id")
        .to_owned();
    let cases: Vec<(&str, String, bool)> = vec![
        ("as-committed", base.clone(), true),
        (
            "unknown-key",
            base.replace("[aws]\n", "[aws]\ncolour = \"blue\"\n"),
            false,
        ),
        ("unknown-table", format!("{base}\n[extra]\nx = 1\n"), false),
        ("short-id", base.replace(&id, "\"abcd\""), false),
        ("id-charset", base.replace(&id, "\"abc:def\""), false),
        (
            "longest-id",
            base.replace(&id, &format!("\"{}\"", "a".repeat(45))),
            true,
        ),
        (
            "provider",
            base.replace(
                "[temporal]\n",
                "[temporal]\ncompute_providers = [\"aws-lambda\", \"k8s\"]\n",
            ),
            true,
        ),
        (
            "bad-provider",
            base.replace(
                "[temporal]\n",
                "[temporal]\ncompute_providers = [\"aws-lambda\", \"lambda\"]\n",
            ),
            false,
        ),
        (
            "account",
            base.replace("[aws]\n", "[aws]\naccount_id = \"12345\"\n"),
            false,
        ),
        (
            "api-key",
            base.replace("[temporal]\n", "[temporal]\napi_key_env = \"my key\"\n"),
            false,
        ),
        (
            "no-port",
            base.replace(
                "[temporal]\n",
                "[temporal]\naddress = \"temporal.internal\"\n",
            ),
            false,
        ),
        (
            "bool",
            base.replace("[temporal]\n", "[temporal]\ntls = \"yes\"\n"),
            false,
        ),
        (
            "missing",
            base.replace(&format!("external_id = {id}\n"), ""),
            false,
        ),
    ];
    let co = Checkout::new();
    let mut files = Vec::new();
    for (name, text, _) in &cases {
        // One stack per descriptor, as `validate` requires of the descriptors of a checkout.
        let text = text.replace("temporal-serverless-worker-staging", &format!("tsw-{name}"));
        files.push(co.write_env(name, &text));
    }
    std::fs::copy(
        repo_root()
            .join("environments")
            .join(env_descriptor::SCHEMA_FILE),
        co.root()
            .join("environments")
            .join(env_descriptor::SCHEMA_FILE),
    )
    .unwrap();
    let paths: Vec<&Path> = files.iter().map(|f| f.as_path()).collect();
    let verdicts = schema_verdicts(
        &co.root()
            .join("environments")
            .join(env_descriptor::SCHEMA_FILE),
        &paths,
    );
    for ((name, _, ok), verdict) in cases.iter().zip(&verdicts) {
        let run = co.xtask(&["validate", name]);
        assert_eq!(run.code == Some(0), *ok, "validate {name}:\n{}", run.all());
        assert_eq!(verdict == "ok", *ok, "schema on {name}: {verdict}");
    }
    assert_eq!(verdicts.len(), cases.len());
}
