//! A first `deploy` runs two cargo builds: `cargo xtask` builds `xtask`, which then builds
//! `xtask-aws` (`xtask/src/delegate.rs`). Cargo resolves features for each build apart, so a
//! crate both binaries use, given more features by the AWS SDK, would be compiled a second
//! time, with every crate above it (our own crates among them): seconds more of a cold first
//! run. `xtask/Cargo.toml` asks for those features in the first build too; this test keeps it
//! that way.

use std::collections::{BTreeMap, BTreeSet};
use std::process::Command;

use crate::support::repo_root;

/// Every package `cargo build -p PACKAGE` compiles, with the feature sets it is compiled with
/// (two when it is built for the host, for a build script or macro, and for the target alike).
fn compiled(package: &str) -> BTreeMap<String, BTreeSet<String>> {
    let out = Command::new(env!("CARGO"))
        .current_dir(repo_root())
        .args([
            "tree",
            "--locked",
            "--package",
            package,
            "--edges",
            "normal,build",
        ])
        .args(["--prefix", "none", "--format", "{p}|{f}"])
        .output()
        .expect("run cargo tree");
    assert!(
        out.status.success(),
        "cargo tree -p {package} failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut packages: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for line in String::from_utf8(out.stdout).unwrap().lines() {
        let Some((name_version, features)) = line.split_once('|') else {
            continue;
        };
        // `name vX.Y.Z`, then ` (path)` or ` (proc-macro)` for some; ` (*)` marks a repeat.
        let name_version = name_version.split(" (").next().unwrap_or_default();
        packages
            .entry(name_version.to_owned())
            .or_default()
            .insert(features.trim_end_matches(" (*)").to_owned());
    }
    packages
}

#[test]
fn the_aws_binary_reuses_every_crate_the_light_binary_compiled() {
    let light = compiled("xtask");
    let aws = compiled("xtask-aws");
    assert!(
        light.contains_key("setup-flows v0.1.0") && aws.contains_key("setup-flows v0.1.0"),
        "both binaries build on setup-flows: {light:?}"
    );
    let differing: Vec<String> = light
        .iter()
        .filter_map(|(package, features)| {
            let other = aws.get(package)?;
            (other != features).then(|| {
                format!("  {package}: xtask builds it with {features:?}, xtask-aws with {other:?}")
            })
        })
        .collect();
    assert!(
        differing.is_empty(),
        "these crates would be compiled twice by a first `cargo xtask deploy`, once for each \
         binary; add each to the [dependencies] of xtask/Cargo.toml with the features xtask-aws \
         builds it with:\n{}",
        differing.join("\n")
    );
}
