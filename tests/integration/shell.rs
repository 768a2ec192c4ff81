//! What a shell user expects of a command line tool: `--version` and completions.

use std::path::PathBuf;
use std::process::Command;

use clap::CommandFactory;

use crate::support::{Checkout, Run, repo_root, xtask_in};

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

/// `xtask-aws`, next to `xtask`; built (by `xtask`, through cargo) when an AWS command runs.
fn aws_binary() -> PathBuf {
    let xtask = PathBuf::from(env!("CARGO_BIN_EXE_xtask"));
    let aws = xtask.with_file_name(format!("xtask-aws{}", std::env::consts::EXE_SUFFIX));
    if !aws.exists() {
        // Fails (no such environment), after building xtask-aws.
        Checkout::new().xtask(&["whoami", "nonexistent"]);
    }
    aws
}

#[test]
fn both_binaries_print_their_version_and_git_revision() {
    let expected = match git_revision() {
        Some(rev) => format!("cargo xtask {} ({rev})\n", env!("CARGO_PKG_VERSION")),
        None => format!("cargo xtask {}\n", env!("CARGO_PKG_VERSION")),
    };
    let run = xtask_in(&repo_root(), &["--version"]);
    run.success();
    assert_eq!(run.stdout, expected);
    let run = Run::from(
        Command::new(aws_binary())
            .arg("--version")
            .output()
            .unwrap(),
    );
    run.success();
    assert_eq!(run.stdout, expected);
}

#[test]
fn completions_know_every_command() {
    let commands: Vec<String> = setup_flows::cli::Cli::command()
        .get_subcommands()
        .map(|c| c.get_name().to_owned())
        .collect();
    assert!(commands.iter().any(|c| c == "completions"), "{commands:?}");
    let run = xtask_in(&repo_root(), &["completions", "bash"]);
    run.success();
    assert!(run.stdout.contains("complete -F _xtask"), "{}", run.stdout);
    for command in &commands {
        assert!(
            run.stdout.contains(&format!("xtask,{command})")),
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
