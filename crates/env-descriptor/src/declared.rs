//! The descriptor's declaration, read: the JSON Schema generated from the model's types
//! (`model.rs`), which editors use and the validating walk in `schema.rs` reads for which keys
//! exist, which are required, their types, defaults, allowed values and rules.

use std::collections::BTreeMap;
use std::sync::OnceLock;

use schemars::Schema;
use schemars::transform::{RecursiveTransform, Transform};
use serde::Deserialize;
use serde_json::{Map, Value};

use crate::model::{
    Aws, DeploySettings, Environment, Outputs, Role, SandboxSettings, Temporal, WorkerDeployment,
};

/// The keys of each table, in declaration order, as serde's derive lists them.
fn declared_keys(table: &str) -> &'static [&'static str] {
    match table {
        "" => keys_of::<Environment>(),
        "aws" => keys_of::<Aws>(),
        "temporal" => keys_of::<Temporal>(),
        "role" => keys_of::<Role>(),
        "worker_deployments" => keys_of::<WorkerDeployment>(),
        "deploy" => keys_of::<DeploySettings>(),
        "sandbox" => keys_of::<SandboxSettings>(),
        "outputs" => keys_of::<Outputs>(),
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

/// The JSON Schema of a descriptor, as committed in `environments/descriptor.schema.json`. The
/// `format` of a value names the rule in this crate that checks it, which editors do not know,
/// so the committed file leaves it out (their patterns say what editors can check).
pub fn json_schema() -> String {
    let mut root = Schema::try_from(shape().root.clone()).expect("the root schema is an object");
    RecursiveTransform(|s: &mut Schema| {
        s.remove("format");
    })
    .transform(&mut root);
    let mut text =
        serde_json::to_string_pretty(&sorted(root.to_value())).expect("a JSON value serializes");
    text.push('\n');
    text
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
    /// An inline table of strings (`tags = { team = "payments" }`), its keys and values each
    /// checked by a rule.
    Map,
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

pub(crate) fn shape() -> &'static Shape {
    static SHAPE: OnceLock<Shape> = OnceLock::new();
    SHAPE.get_or_init(|| {
        let mut settings = schemars::generate::SchemaSettings::draft07();
        settings
            .transforms
            .push(Box::new(RecursiveTransform(without_null)));
        let root = settings
            .into_generator()
            .into_root_schema_for::<Environment>()
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
            (Some("object"), _) if p["additionalProperties"].is_object() => Kind::Map,
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

    /// The name of the rule (`crate::value::rule`) that checks a string, or each string of a
    /// list: the `format` its value type's schema gives.
    pub(crate) fn format(&self, key: &str) -> Option<&str> {
        let p = self.property(key);
        p["format"]
            .as_str()
            .or_else(|| p["items"]["format"].as_str())
            .or_else(|| p["additionalProperties"]["format"].as_str())
    }

    /// The name of the rule that checks each key of a [`Kind::Map`] (`propertyNames`).
    pub(crate) fn key_format(&self, key: &str) -> Option<&str> {
        self.property(key)["propertyNames"]["format"].as_str()
    }

    /// Whether a list must hold at least one entry (`minItems`).
    pub(crate) fn needs_entries(&self, key: &str) -> bool {
        self.property(key)["minItems"]
            .as_u64()
            .is_some_and(|n| n > 0)
    }

    /// What the names of a list's `enum` are, from the doc comment of their type
    /// ("Compute provider types the Temporal 1.32 Worker Controller knows.").
    pub(crate) fn choices_described(&self, key: &str) -> &str {
        self.property(key)["items"]["description"]
            .as_str()
            .unwrap_or("the allowed names")
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
            [
                "region",
                "profile",
                "endpoint_url",
                "account_id",
                "role_arn",
                "external_id",
                "session_name"
            ]
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
        assert_eq!(shape().table("deploy").property("confirm")["default"], true);
        assert_eq!(
            shape()
                .table("worker_deployments[2]")
                .property("set_current")["default"],
            false
        );
        assert_eq!(
            shape().table("role").missing_hint("external_id"),
            "allowed: 5 to 45 characters of [a-zA-Z0-9_+=,.@-] (`cargo xtask init` generates one)"
        );
    }
}
