//! The emulator's own self-check: every patch that makes moto behave like AWS (see
//! `crates/aws-sandbox/python/moto_launcher.py`) is exercised with boto3.

use std::process::Command;

use crate::support::{python, repo_root, safe_aws_env};

#[test]
fn launcher_patches_behave_like_aws() {
    let script = repo_root().join("crates/aws-sandbox/python/check_launcher.py");
    let mut cmd = Command::new(python().python());
    cmd.arg(&script);
    safe_aws_env(&mut cmd);
    let out = cmd.output().expect("run check_launcher.py");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.lines().any(|l| l.ends_with(" passed, 0 failed")),
        "{stdout}"
    );
}
