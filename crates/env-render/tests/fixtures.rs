//! The edits `render` makes to the server's own files, as in/out fixture pairs (cargo's
//! `cargo_add` tests are the model): `fixtures/<case>/in/` holds the file as a user wrote it,
//! comments and all, and `fixtures/<case>/out/` the same file after the edit. The file's name
//! says its kind: `dynamicconfig.yaml` is the dynamic config file the server reads
//! (`temporal.dynamic_config_file`), `values.yaml` a Helm chart's values
//! (`temporal.helm_values`). Every case renders the environment of `support::env` with the
//! namespaces `orders` and `billing`, as environment `staging`; a case's `temporal.toml`, when
//! it has one, adds its TOML to that environment after the `[temporal]` keys (e.g. its
//! `[[temporal.intermediary_roles]]`).
//!
//! A new case is a new folder with an `in/` file; run
//! `INSTA_UPDATE=always cargo test -p env-render --test fixtures` to write its `out/`, then
//! read the diff before committing it.

mod support;

use std::path::{Path, PathBuf};

use env_descriptor::Layout;
use env_render::{ServerConfig, Templates};
use support::{checkout, env_with};

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

/// The kind of server file a fixture's file name stands for.
fn kind(name: &str) -> ServerConfig {
    match name {
        "dynamicconfig.yaml" => ServerConfig::File,
        "values.yaml" => ServerConfig::HelmValues,
        other => panic!("fixture file `{other}`: name it dynamicconfig.yaml or values.yaml"),
    }
}

/// The file in `dir` (`in/` or `out/` of a case) after the edit (unchanged when the edit
/// changes nothing).
fn edit(dir: &Path, name: &str) -> String {
    let temporal = std::fs::read_to_string(dir.join("../temporal.toml")).unwrap_or_default();
    let rendered = Templates::load(&checkout())
        .unwrap()
        .render(&env_with(
            Some(vec!["orders".into(), "billing".into()]),
            None,
            &temporal,
        ))
        .unwrap();
    let change = rendered
        .server_config_change(kind(name), &Layout::at(dir), Path::new(name), "staging")
        .unwrap_or_else(|e| panic!("{}/{name}: {e}", dir.display()));
    match change {
        Some(change) => change.new,
        None => std::fs::read_to_string(dir.join(name)).unwrap(),
    }
}

fn updating() -> bool {
    matches!(
        std::env::var("INSTA_UPDATE").as_deref(),
        Ok("always" | "overwrite")
    )
}

#[test]
fn each_fixture_in_edits_to_its_out() {
    let mut cases: Vec<PathBuf> = std::fs::read_dir(fixtures())
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    cases.sort();
    assert!(!cases.is_empty(), "no fixtures in {}", fixtures().display());
    let mut stale = Vec::new();
    for case in &cases {
        for entry in std::fs::read_dir(case.join("in")).unwrap() {
            let name = entry.unwrap().file_name().into_string().unwrap();
            let got = edit(&case.join("in"), &name);
            let out = case.join("out").join(&name);
            if updating() {
                std::fs::create_dir_all(case.join("out")).unwrap();
                std::fs::write(&out, &got).unwrap();
                continue;
            }
            let want = std::fs::read_to_string(&out).unwrap_or_default();
            if got != want {
                stale.push(format!(
                    "{}:\n--- expected\n{want}\n+++ got\n{got}",
                    out.display()
                ));
            }
            // The edit is idempotent: editing `out` changes nothing more.
            assert_eq!(
                edit(&case.join("out"), &name),
                got,
                "{}: a second edit changed the file",
                out.display()
            );
        }
    }
    assert!(
        stale.is_empty(),
        "{} fixture(s) differ; if the change is intended, update them with \
         `INSTA_UPDATE=always cargo test -p env-render --test fixtures` and review the diff:\n{}",
        stale.len(),
        stale.join("\n")
    );
}
