//! A first `deploy` runs two cargo builds: `cargo xtask` builds `xtask`, which then builds
//! `xtask-aws` (`xtask/src/delegate.rs`). Cargo resolves features for each build apart, so a
//! crate both binaries use, given more features by the AWS SDK, would be compiled a second
//! time, with every crate above it (our own crates among them): seconds more of a cold first
//! run. `xtask/Cargo.toml` asks for those features in the first build too; this test keeps it
//! that way.
//!
//! The second build ends when the CloudFormation client, its longest unit, is compiled. Cargo
//! starts first the ready unit that most units depend on; the crates are laid out so that this
//! is the CloudFormation client (ARCHITECTURE.md, "Build time"), and the second test keeps it so.

use std::collections::{BTreeMap, BTreeSet};
use std::process::Command;

use crate::support::repo_root;

/// What `cargo tree ARGS` prints for the normal and build dependencies, one package a line.
fn cargo_tree(args: &[&str]) -> String {
    let out = Command::new(env!("CARGO"))
        .current_dir(repo_root())
        .args([
            "tree",
            "--locked",
            "--edges",
            "normal,build",
            "--prefix",
            "none",
        ])
        .args(args)
        .output()
        .expect("run cargo tree");
    assert!(
        out.status.success(),
        "cargo tree {} failed:\n{}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// Every package `cargo build -p PACKAGE` compiles, with the feature sets it is compiled with
/// (two when it is built for the host, for a build script or macro, and for the target alike).
fn compiled(package: &str) -> BTreeMap<String, BTreeSet<String>> {
    let mut packages: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for line in cargo_tree(&["--package", package, "--format", "{p}|{f}"]).lines() {
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

/// The packages of `cargo build -p xtask-aws` that depend on `package`, directly or not.
fn dependents(package: &str) -> BTreeSet<String> {
    cargo_tree(&[
        "--package",
        "xtask-aws",
        "--invert",
        package,
        "--format",
        "{p}",
    ])
    .lines()
    .map(|line| line.split(" (").next().unwrap_or_default().to_owned())
    .filter(|p| !p.is_empty() && p.split(' ').next() != Some(package))
    .collect()
}

#[test]
fn the_cloudformation_client_is_compiled_before_the_other_aws_clients() {
    let cfn = dependents("aws-sdk-cloudformation");
    assert!(
        cfn.contains("xtask-aws v0.1.0"),
        "xtask-aws builds on the CloudFormation client: {cfn:?}"
    );
    for other in ["aws-sdk-sts", "aws-sdk-sso", "aws-sdk-ssooidc"] {
        let theirs = dependents(other);
        assert!(
            cfn.len() > theirs.len(),
            "{} crates depend on aws-sdk-cloudformation ({cfn:?}) and {} on {other} \
             ({theirs:?}): cargo would start {other} first and the CloudFormation client, the \
             longest unit, late, with one core idle at the end of the build; keep `cfn-deploy` \
             on CloudFormation alone, with more of our crates above it than above aws-config \
             (ARCHITECTURE.md, \"Build time\")",
            cfn.len(),
            theirs.len()
        );
    }
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
