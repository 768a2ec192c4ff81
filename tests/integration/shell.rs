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
    for shell in ["bash", "zsh", "fish", "elvish", "powershell"] {
        let run = xtask_in(&repo_root(), &["completions", shell]);
        run.success();
        assert!(
            run.stdout.contains("TSW_COMPLETE") && run.stdout.contains("tsw"),
            "{shell}: the script asks `tsw`:\n{}",
            run.stdout
        );
    }
    // What the script asks: every command completes.
    let listed = complete(&repo_root(), &["tsw", ""]);
    for command in &commands {
        assert!(
            listed
                .lines()
                .any(|l| l.split('\t').next() == Some(command)),
            "`{command}` completes:\n{listed}"
        );
    }
    let run = xtask_in(&repo_root(), &["completions", "tcsh"]);
    assert_eq!(run.code, Some(64), "{}", run.stderr);
    assert!(
        run.stderr
            .contains("[possible values: bash, elvish, fish, powershell, zsh]"),
        "{}",
        run.stderr
    );
}

/// What the completion script gets when it asks the program (as fish asks) to complete the
/// command line `words`, its last word the one being typed, in `dir`.
fn complete(dir: &Path, words: &[&str]) -> String {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_tsw"));
    cmd.current_dir(dir).arg("--").args(words);
    safe_aws_env(&mut cmd);
    cmd.env("TSW_COMPLETE", "fish");
    let run = Run::from(cmd.output().unwrap());
    run.success();
    run.stdout
}

/// ENV arguments complete to the environments of the checkout at hand, wherever they are
/// expected; a file name that is not a plain name (the pull request's) is not offered.
#[test]
fn environment_names_complete_from_the_checkout() {
    let dir = tempfile::tempdir().unwrap();
    let envs = dir.path().join("environments");
    std::fs::create_dir(&envs).unwrap();
    for name in [
        "staging",
        "production",
        "sandbox-eu",
        "bad\u{1b}]0;x\u{7}name",
        "$(touch x)",
    ] {
        std::fs::write(envs.join(format!("{name}.toml")), "").unwrap();
    }
    std::fs::write(envs.join("notes.md"), "").unwrap();
    let names = |words: &[&str]| -> Vec<String> {
        complete(dir.path(), words)
            .lines()
            .filter(|l| !l.starts_with('-'))
            .map(str::to_owned)
            .collect()
    };
    let all = ["production", "sandbox-eu", "staging"];
    assert_eq!(names(&["tsw", "plan", ""]), all);
    assert_eq!(names(&["tsw", "deploy", "st"]), ["staging"]);
    assert_eq!(names(&["tsw", "plan", "staging", "p"]), ["production"]);
    assert_eq!(names(&["tsw", "status", ""]), all);
    assert_eq!(names(&["tsw", "doctor", "s"]), ["sandbox-eu", "staging"]);
    assert_eq!(
        names(&["tsw", "sandbox", "status", "--env", "sa"]),
        ["sandbox-eu"]
    );
    // Outside a checkout: nothing, and no error.
    let outside = tempfile::tempdir().unwrap();
    assert_eq!(
        complete(outside.path(), &["tsw", "plan", ""])
            .lines()
            .filter(|l| !l.starts_with('-'))
            .count(),
        0
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
        completions
            .stdout
            .contains("-F _clap_complete_mytool mytool"),
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
