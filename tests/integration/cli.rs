//! Commands that need no AWS: help, validate, render, init; and the checkout's own files.

use crate::support::{Checkout, commands, repo_root, xtask_in};

#[test]
fn every_command_has_help_with_examples() {
    let root = repo_root();
    let top = xtask_in(&root, &[]);
    assert_eq!(
        top.code,
        Some(64),
        "no arguments is a usage error (EX_USAGE) that prints the help"
    );
    let help = xtask_in(&root, &["--help"]);
    help.success();
    // Every command the parser knows, so that a new one cannot be left out here.
    let commands = commands();
    assert!(commands.iter().any(|c| c == "deploy"), "{commands:?}");
    for cmd in commands.iter().map(String::as_str) {
        assert!(
            top.stderr.contains(cmd),
            "`{cmd}` is listed:\n{}",
            top.stderr
        );
        assert!(
            help.stdout
                .lines()
                .any(|l| l.trim_start().starts_with(&format!("{cmd} "))),
            "`{cmd}` is in --help:\n{}",
            help.stdout
        );
        let run = xtask_in(&root, &[cmd, "--help"]);
        run.success();
        assert!(
            run.stdout.contains("Examples:\n  cargo xtask "),
            "`{cmd} --help` has examples:\n{}",
            run.stdout
        );
    }
}

#[test]
fn shipped_environments_are_valid_and_their_rendered_files_committed() {
    let root = repo_root();
    let run = xtask_in(&root, &["validate"]);
    run.success();
    for env in ["local", "staging", "production"] {
        assert!(
            run.stdout.contains(&format!("ok      {env}")),
            "{}",
            run.stdout
        );
    }
    let run = xtask_in(&root, &["render", "--check"]);
    assert_eq!(
        run.code,
        Some(0),
        "run `cargo xtask render` and commit the result:\n{}",
        run.all()
    );
}

#[test]
fn render_writes_reproducible_files_and_check_finds_stale_ones() {
    let co = Checkout::new();
    std::fs::copy(
        repo_root().join("environments/staging.toml"),
        co.env_path("staging"),
    )
    .unwrap();
    let run = co.xtask(&["render", "staging"]);
    run.success();
    assert!(
        run.stdout
            .contains("wrote environments/staging/dynamicconfig.yaml"),
        "{}",
        run.stdout
    );
    let dc = co.root().join("environments/staging/dynamicconfig.yaml");
    let first = std::fs::read(&dc).unwrap();
    // Same bytes as the committed rendering of the same descriptor.
    assert_eq!(
        first,
        std::fs::read(repo_root().join("environments/staging/dynamicconfig.yaml")).unwrap()
    );
    let run = co.xtask(&["render", "staging"]);
    assert_eq!(run.stdout, "", "nothing to rewrite");
    co.xtask(&["render", "--check"]).success();
    std::fs::write(&dc, "edited by hand\n").unwrap();
    let run = co.xtask(&["render", "--check"]);
    run.failure();
    assert!(
        run.stderr
            .contains("stale: environments/staging/dynamicconfig.yaml"),
        "{}",
        run.stderr
    );
    assert_eq!(
        std::fs::read_to_string(&dc).unwrap(),
        "edited by hand\n",
        "--check writes nothing"
    );
}

#[test]
fn init_writes_a_valid_descriptor_with_a_random_external_id() {
    let co = Checkout::new();
    let run = co.xtask(&[
        "init",
        "dev",
        "--region",
        "eu-west-1",
        "--namespace",
        "orders",
    ]);
    run.success();
    let text = co.read_env("dev");
    assert!(
        text.starts_with("#:schema ./descriptor.schema.json\n"),
        "editors find the schema: {text}"
    );
    let schema = co.root().join("environments/descriptor.schema.json");
    assert_eq!(
        std::fs::read_to_string(&schema).unwrap(),
        std::fs::read_to_string(repo_root().join("environments/descriptor.schema.json")).unwrap(),
        "a checkout without a schema gets the current one"
    );
    // What init prints and writes is in the snapshots (snapshots.rs).
    co.xtask(&["validate", "dev"]).success();
    let id = |t: &str| {
        t.lines()
            .find(|l| l.starts_with("external_id"))
            .unwrap()
            .to_owned()
    };
    std::fs::write(&schema, "{}\n").unwrap();
    let run = co.xtask(&["init", "dev2"]);
    run.success();
    assert_eq!(
        std::fs::read_to_string(&schema).unwrap(),
        "{}\n",
        "the repository's own schema is kept"
    );
    assert!(!run.stdout.contains("schema"), "{}", run.stdout);
    assert_ne!(
        id(&text),
        id(&co.read_env("dev2")),
        "each init draws a new external ID"
    );
    assert_eq!(id(&text).len(), "external_id = \"\"".len() + 32);

    // An existing file is never overwritten; bad flags write nothing.
    let run = co.xtask(&["init", "dev"]);
    run.failure();
    assert!(run.stderr.contains("already exists"), "{}", run.stderr);
    assert_eq!(co.read_env("dev"), text);
    let run = co.xtask(&["init", "dev3", "--server-role-arn", "temporal-server"]);
    run.failure();
    assert!(
        run.stderr
            .contains("`temporal.server_role_arn`: `temporal-server` is not an ARN"),
        "{}",
        run.stderr
    );
    assert!(!co.env_path("dev3").exists());
}

#[test]
fn destroy_without_a_terminal_needs_yes() {
    let co = Checkout::new();
    std::fs::copy(
        repo_root().join("environments/staging.toml"),
        co.env_path("staging"),
    )
    .unwrap();
    let run = co.xtask(&["destroy", "staging"]);
    run.failure();
    assert!(run.stderr.contains("pass --yes"), "{}", run.stderr);
}

#[test]
fn outside_a_checkout_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_tsw"));
    cmd.current_dir(dir.path())
        .env_remove("XTASK_ROOT")
        .arg("validate");
    let run = crate::support::Run::from(cmd.output().unwrap());
    run.failure();
    assert!(
        run.stderr.contains(
            "is not inside a repository with environments (no `environments/` in it or any parent)"
        ),
        "{}",
        run.stderr
    );
}

#[test]
fn unknown_environment_is_named() {
    let run = xtask_in(&repo_root(), &["status", "nope"]);
    run.failure();
    assert!(
        run.stderr.contains("no environment `nope`")
            && run.stderr.contains("known: local, production, staging"),
        "{}",
        run.stderr
    );
}

/// A usage error exits 64 (EX_USAGE), never 2, which `plan --detailed-exitcode` and `status`
/// use for "changes", and never 0: `plan --output markdwn` in a CI recipe must not look like a
/// plan with changes. `--help` and `--version` exit 0.
#[test]
fn usage_errors_exit_64_and_help_and_version_0() {
    let root = repo_root();
    for args in [
        &["plan", "--output", "markdwn", "staging"][..],
        &["plan"],
        &["validate", "--no-such-flag"],
        &["no-such-command"],
        &["deploy", "staging", "--timeout", "soon"],
        &["completions", "tcsh"],
    ] {
        let run = xtask_in(&root, args);
        assert_eq!(run.code, Some(64), "{args:?}: {}", run.all());
        assert!(run.stderr.contains("error:"), "{args:?}: {}", run.stderr);
        assert!(run.stdout.is_empty(), "{args:?}: {}", run.stdout);
    }
    for args in [
        &["--help"][..],
        &["--version"],
        &["plan", "--help"],
        &["help"],
    ] {
        let run = xtask_in(&root, args);
        assert_eq!(run.code, Some(0), "{args:?}: {}", run.all());
        assert!(!run.stdout.is_empty(), "{args:?}");
    }
}
