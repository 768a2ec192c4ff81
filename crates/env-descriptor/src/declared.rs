//! The descriptor's JSON Schema, generated from the model's types (`model.rs`): what editors
//! use, and where the loader finds what a key's doc comment says to write when it is missing.

use std::sync::OnceLock;

use schemars::Schema;
use schemars::transform::{RecursiveTransform, Transform};
use serde_json::Value;

use crate::model::Environment;

/// The JSON Schema of a descriptor, as committed in `environments/descriptor.schema.json`. The
/// `format` of a value names its type in this crate, which editors do not know, so the
/// committed file leaves it out (their patterns say what editors can check).
pub fn json_schema() -> String {
    let mut root = Schema::try_from(generated().clone()).expect("the root schema is an object");
    RecursiveTransform(|s: &mut Schema| {
        s.remove("format");
    })
    .transform(&mut root);
    let mut text =
        serde_json::to_string_pretty(&sorted(root.to_value())).expect("a JSON value serializes");
    text.push('\n');
    text
}

/// The schema of the public model, generated once.
fn generated() -> &'static Value {
    static ROOT: OnceLock<Value> = OnceLock::new();
    ROOT.get_or_init(|| {
        let mut settings = schemars::generate::SchemaSettings::draft07();
        settings
            .transforms
            .push(Box::new(RecursiveTransform(without_null)));
        settings
            .into_generator()
            .into_root_schema_for::<Environment>()
            .to_value()
    })
}

/// The schema of `key` in `table` (`""` for the top level; a dotted path such as
/// `temporal.intermediary_roles` for a table in a table; an array of tables is its entry's,
/// `[N]` left out).
fn property(table: &str, key: &str) -> &'static Value {
    let table = table
        .split('.')
        .filter(|t| !t.is_empty())
        .fold(generated(), |t, name| {
            let t = &t["properties"][name.split('[').next().unwrap_or_default()];
            if t["type"] == "array" { &t["items"] } else { t }
        });
    &table["properties"][key]
}

/// What to write for a required key, quoted when it is missing (or, for a list, empty): the
/// last paragraph of its doc comment, `Allowed: ...` read as `allowed: ...`.
pub(crate) fn missing_hint(table: &str, key: &str) -> String {
    let description = property(table, key)["description"].as_str().unwrap_or("");
    let last = description.rsplit("\n\n").next().unwrap_or_default();
    let last = safe_text::for_program(last);
    match last.strip_prefix("Allowed:") {
        Some(rest) => format!("allowed:{rest}"),
        None => last.into_owned(),
    }
}

/// The names a list of `temporal`'s may hold (its items' `enum`), and what they are (the doc
/// comment of their type, "Compute provider types the Temporal 1.32 Worker Controller knows.").
pub(crate) fn choices(key: &str) -> (Vec<&'static str>, &'static str) {
    let items = &property("temporal", key)["items"];
    let names = items["enum"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .collect();
    let what = items["description"].as_str().unwrap_or("the allowed names");
    (names, what)
}

/// TOML has no `null`: an `Option` is a key that may be left out, never one set to null, so
/// the `null` schemars allows for it is taken out again.
fn without_null(schema: &mut Schema) {
    let Some(object) = schema.as_object_mut() else {
        return;
    };
    // An `Option` of named values (`role.naming`) gets `null` among its names too.
    if let Some(Value::Array(names)) = object.get_mut("enum") {
        names.retain(|n| !n.is_null());
    }
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

/// `value` with every object's keys in sorted order: the file must not depend on whether some
/// crate in the build turned on serde_json's `preserve_order` (a test-only dependency does).
fn sorted(value: Value) -> Value {
    match value {
        Value::Object(map) => {
            let mut entries: Vec<(String, Value)> = map.into_iter().collect();
            entries.sort_by(|a, b| a.0.cmp(&b.0));
            Value::Object(entries.into_iter().map(|(k, v)| (k, sorted(v))).collect())
        }
        Value::Array(items) => Value::Array(items.into_iter().map(sorted).collect()),
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{AWS_LAMBDA, ComputeProvider, NO_SYNC, ScalingAlgorithm};

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

    #[test]
    fn a_missing_keys_hint_is_the_last_paragraph_of_its_doc_comment() {
        assert_eq!(
            missing_hint("role", "external_id"),
            "allowed: 5 to 45 characters of [a-zA-Z0-9_+=,.@-] (`tsw init` generates one)"
        );
        assert_eq!(choices("scaling_algorithms").0, ["no-sync", "rate-based"]);
        assert_eq!(
            generated()["properties"]["deploy"]["properties"]["confirm"]["default"],
            true
        );
    }
}
