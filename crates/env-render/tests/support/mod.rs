//! Helpers shared by the test files of this crate.

use std::path::{Path, PathBuf};

use env_descriptor::{Environment, Layout};

#[allow(dead_code)]
pub fn templates_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../templates")
}

/// This repository as a checkout: its `templates/` override the built-in ones.
#[allow(dead_code)]
pub fn checkout() -> Layout {
    Layout::at(Path::new(env!("CARGO_MANIFEST_DIR")).join("../.."))
}

/// A scratch checkout in `dir` whose `templates/` is `dir/templates` (created).
#[allow(dead_code)]
pub fn scratch(dir: &Path) -> (Layout, PathBuf) {
    let templates = dir.join("templates");
    std::fs::create_dir_all(&templates).unwrap();
    (Layout::at(dir), templates)
}

/// A test environment, loaded from a descriptor as every environment is (so that it has every
/// key's default, and a new key needs no edit here).
#[allow(dead_code)]
pub fn env(namespaces: Option<Vec<String>>, role_name: Option<&str>) -> Environment {
    env_with(namespaces, role_name, "")
}

/// [`env`] with `temporal` (TOML, e.g. `[[temporal.intermediary_roles]]` tables) after the
/// `[temporal]` keys.
pub fn env_with(
    namespaces: Option<Vec<String>>,
    role_name: Option<&str>,
    temporal: &str,
) -> Environment {
    let quoted = |v: &str| format!("{v:?}");
    let namespaces = namespaces.map_or(String::new(), |n| {
        let list: Vec<String> = n.iter().map(|n| quoted(n)).collect();
        format!("namespaces = [{}]\n", list.join(", "))
    });
    let role_name = role_name.map_or(String::new(), |n| format!("name = {}\n", quoted(n)));
    let src = format!(
        r#"[aws]
region = "us-west-2"

[temporal]
server_role_arn = "arn:aws:iam::123456789012:role/temporal-server"
{namespaces}{temporal}
[role]
stack_name = "s"
{role_name}external_id = "ext-id-123"
lambda_function_arns = [
  "arn:aws:lambda:us-west-2:123456789012:function:a",
  "arn:aws:lambda:us-west-2:123456789012:function:b:7",
]
"#
    );
    env_descriptor::load_str(Path::new("environments/test.toml"), &src)
        .expect("the test descriptor is valid")
        .env
}
