//! `sandbox up`, the first step of the whole guide, compiles the AWS half (`xtask-aws`) while it
//! installs and starts the sandbox, on a first run under `cargo xtask`, so that the
//! `deploy local` after it does not wait for the compiler (`xtask/src/delegate.rs`).
//! A stand-in cargo records how it was asked; the binary is a copy, alone in a target
//! directory of its own, so `xtask-aws` was never built there.

use std::path::Path;
use std::process::Command;

/// Runs a lone copy of `xtask` as `cargo xtask` would start it, with a cargo that records its
/// arguments in `cargo.args`; `sibling`: whether an `xtask-aws` lies next to it.
fn run_as_cargo_xtask(dir: &Path, args: &[&str], sibling: bool) -> (String, Option<String>) {
    let bin_dir = dir.join("target").join("tool");
    std::fs::create_dir_all(&bin_dir).unwrap();
    let exe = bin_dir.join("xtask");
    std::fs::copy(env!("CARGO_BIN_EXE_xtask"), &exe).unwrap();
    if sibling {
        std::fs::write(bin_dir.join("xtask-aws"), "").unwrap();
    }
    let record = dir.join("cargo.args");
    let cargo = dir.join("cargo");
    std::fs::write(
        &cargo,
        format!(
            "#!/bin/sh\nprintf '%s\\n' \"$@\" > '{}'\n",
            record.display()
        ),
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&cargo, std::fs::Permissions::from_mode(0o755)).unwrap();
    // An empty checkout: the command fails at once, after the build was started.
    let checkout = dir.join("checkout");
    std::fs::create_dir_all(&checkout).unwrap();
    let out = Command::new(&exe)
        .arg("--root")
        .arg(&checkout)
        .args(args)
        .env("CARGO", &cargo)
        .env("CARGO_MANIFEST_DIR", env!("CARGO_MANIFEST_DIR"))
        .env_remove("XTASK_AWS_BIN")
        .output()
        .unwrap();
    (
        String::from_utf8_lossy(&out.stderr).into_owned(),
        std::fs::read_to_string(&record).ok(),
    )
}

#[test]
fn a_first_sandbox_up_compiles_the_aws_half_meanwhile_in_the_same_profile() {
    let dir = tempfile::tempdir().unwrap();
    let (stderr, cargo) = run_as_cargo_xtask(dir.path(), &["sandbox", "up"], false);
    assert!(
        stderr.contains(
            "compiling the AWS part of the tool (`xtask-aws`, once; about a minute) meanwhile"
        ),
        "{stderr}"
    );
    let cargo = cargo.expect("cargo was not asked to build");
    let args: Vec<&str> = cargo.lines().collect();
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR")).join("Cargo.toml");
    let target = dir.path().join("target");
    assert_eq!(
        args,
        [
            "build",
            "--quiet",
            "--package",
            "xtask-aws",
            "--bin",
            "xtask-aws",
            "--manifest-path",
            manifest.to_str().unwrap(),
            "--profile",
            "tool",
            "--target-dir",
            target.to_str().unwrap(),
        ]
    );
}

#[test]
fn nothing_is_compiled_ahead_once_built_nor_for_other_commands() {
    let dir = tempfile::tempdir().unwrap();
    let (stderr, cargo) = run_as_cargo_xtask(dir.path(), &["sandbox", "up"], true);
    assert_eq!(cargo, None, "{stderr}");
    let dir = tempfile::tempdir().unwrap();
    for args in [
        &["validate"][..],
        &["sandbox", "status"],
        &["smoke", "local"],
    ] {
        let (stderr, cargo) = run_as_cargo_xtask(dir.path(), args, false);
        assert_eq!(cargo, None, "{args:?}: {stderr}");
    }
}
