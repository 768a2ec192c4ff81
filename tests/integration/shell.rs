//! What a shell user expects of a command line tool: `--version`, completions, and help that
//! names the program as it was started.

use std::path::Path;
use std::process::Command;

use crate::support::{Run, commands, repo_root, safe_aws_env, xtask_in};

/// `git rev-parse --short HEAD` of this checkout, when git and a checkout are there.
fn git_revision() -> Option<String> {
    let out = Command::new("git")
        .args(["rev-parse", "--short", "HEAD"])
        .current_dir(repo_root())
        .output()
        .ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_owned())
}

#[test]
fn prints_its_version_and_git_revision() {
    let expected = match git_revision() {
        Some(rev) => format!("cargo xtask {} ({rev})\n", env!("CARGO_PKG_VERSION")),
        None => format!("cargo xtask {}\n", env!("CARGO_PKG_VERSION")),
    };
    let run = xtask_in(&repo_root(), &["--version"]);
    run.success();
    assert_eq!(run.stdout, expected);
}

#[test]
fn completions_know_every_command() {
    let commands = commands();
    assert!(commands.iter().any(|c| c == "completions"), "{commands:?}");
    let run = xtask_in(&repo_root(), &["completions", "bash"]);
    run.success();
    assert!(run.stdout.contains("complete -F _tsw"), "{}", run.stdout);
    for command in &commands {
        assert!(
            run.stdout.contains(&format!("tsw,{command})")),
            "bash completes `{command}`"
        );
    }
    for shell in ["zsh", "fish", "elvish", "powershell"] {
        let run = xtask_in(&repo_root(), &["completions", shell]);
        run.success();
        assert!(run.stdout.contains("deploy"), "{shell}: {}", run.stdout);
    }
    let run = xtask_in(&repo_root(), &["completions", "tcsh"]);
    assert_eq!(run.code, Some(2), "{}", run.stderr);
    assert!(
        run.stderr
            .contains("[possible values: bash, elvish, fish, powershell, zsh]"),
        "{}",
        run.stderr
    );
}

/// The binary copied to `dir` as `name`, started there with `args`, cargo's variables as
/// `cargo_manifest_dir` says.
fn started_as(dir: &Path, name: &str, cargo_manifest_dir: Option<&str>, args: &[&str]) -> Run {
    let exe = dir.join(name);
    if !exe.exists() {
        std::fs::copy(env!("CARGO_BIN_EXE_tsw"), &exe).unwrap();
    }
    let mut cmd = Command::new(&exe);
    cmd.current_dir(dir).args(args);
    safe_aws_env(&mut cmd);
    cmd.env_remove("CARGO").env_remove("CARGO_MANIFEST_DIR");
    if let Some(value) = cargo_manifest_dir {
        cmd.env("CARGO_MANIFEST_DIR", value);
    }
    Run::from(cmd.output().unwrap())
}

#[test]
fn help_examples_and_hints_name_the_program_as_it_was_started() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("environments")).unwrap();
    let dir = dir.path();

    // Started by its file name: usage, examples and completions say that name.
    let help = started_as(dir, "mytool", None, &["deploy", "--help"]);
    help.success();
    assert!(
        help.stdout.contains("Usage: mytool deploy "),
        "{}",
        help.stdout
    );
    assert!(
        help.stdout.contains("\n  mytool deploy local "),
        "{}",
        help.stdout
    );
    assert!(!help.stdout.contains("cargo xtask"), "{}", help.stdout);
    let top = started_as(dir, "mytool", None, &["--help"]);
    assert!(
        top.stdout.contains("  mytool init staging "),
        "{}",
        top.stdout
    );
    let completions = started_as(dir, "mytool", None, &["completions", "bash"]);
    assert!(
        completions.stdout.contains("complete -F _mytool"),
        "{}",
        completions.stdout
    );
    // A hint ("next: ...") too.
    let init = started_as(dir, "mytool", None, &["init", "demo"]);
    init.success();
    assert!(
        init.stdout.contains("`mytool validate demo`"),
        "{}",
        init.stdout
    );

    // Run by `cargo xtask`: cargo points CARGO_MANIFEST_DIR at the package it was built from.
    let package = repo_root().join("tsw");
    let cargo = started_as(
        dir,
        "tsw",
        Some(package.to_str().unwrap()),
        &["deploy", "--help"],
    );
    assert!(
        cargo.stdout.contains("Usage: cargo xtask deploy "),
        "{}",
        cargo.stdout
    );
    assert!(
        cargo.stdout.contains("\n  cargo xtask deploy local "),
        "{}",
        cargo.stdout
    );
    // Another package's cargo run does not make it `cargo xtask`.
    let other = started_as(
        dir,
        "tsw",
        Some(dir.to_str().unwrap()),
        &["deploy", "--help"],
    );
    assert!(
        other.stdout.contains("Usage: tsw deploy "),
        "{}",
        other.stdout
    );
}
