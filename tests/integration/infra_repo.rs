//! A team's own infra repository: only `environments/`, no `templates/`, no Cargo.toml. The
//! built binaries, started as an installed tool would be (from their directory, with the repo
//! as the current directory, no cargo around them), render and deploy with the templates they
//! carry; a repository's own `templates/` overrides them file by file.

use std::path::Path;
use std::process::Command;

use crate::support::{Run, cfn, descriptor, safe_aws_env};

/// `tsw ARGS...` as installed: the binary started in `dir`, no cargo variables (with which it
/// would call itself `cargo xtask`), no `--root`.
fn installed(dir: &Path, args: &[&str]) -> Run {
    installed_with(dir, args, &[])
}

/// [`installed`] with `vars` set.
fn installed_with(dir: &Path, args: &[&str], vars: &[(&str, &Path)]) -> Run {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_tsw"));
    cmd.current_dir(dir).args(args);
    safe_aws_env(&mut cmd);
    for var in ["CARGO", "CARGO_MANIFEST_DIR"] {
        cmd.env_remove(var);
    }
    cmd.envs(vars.iter().copied());
    Run::from(cmd.output().expect("run xtask"))
}

#[test]
fn a_repo_with_only_environments_renders_and_deploys_with_the_built_in_templates() {
    let repo = tempfile::tempdir().unwrap();
    let envs = repo.path().join("environments");
    std::fs::create_dir_all(&envs).unwrap();
    let text = descriptor("it-infra-repo", "infra-ext-id", &["f"]);
    std::fs::write(envs.join("staging.toml"), &text).unwrap();
    // From a subdirectory: the repo is found by its `environments/`.
    let sub = repo.path().join("docs/notes");
    std::fs::create_dir_all(&sub).unwrap();

    installed(&sub, &["validate"]).success();
    let run = installed(&sub, &["render"]);
    run.success();
    assert!(
        run.stdout
            .contains("wrote environments/staging/parameters.json"),
        "{}",
        run.stdout
    );
    installed(repo.path(), &["render", "--check"]).success();
    assert!(
        !repo.path().join("templates").exists(),
        "nothing is copied in"
    );

    let run = installed(repo.path(), &["deploy", "staging", "--yes"]);
    run.success();
    let status =
        cfn("print(cfn.describe_stacks(StackName='it-infra-repo')['Stacks'][0]['StackStatus'])");
    assert_eq!(status.trim(), "CREATE_COMPLETE");
    let after = std::fs::read_to_string(envs.join("staging.toml")).unwrap();
    assert!(
        after.starts_with(&text) && after.contains("[outputs]\nrole_arn = "),
        "{after}"
    );
    let run = installed(repo.path(), &["deploy", "staging", "--yes"]);
    run.success();
    assert!(run.stdout.contains("no changes"), "{}", run.stdout);

    // Started by another project's cargo (a build script, `cargo run` of a wrapper): its
    // `CARGO` and `CARGO_MANIFEST_DIR` are not this workspace's, so nothing is built there.
    let run = installed_with(
        repo.path(),
        &["status", "staging"],
        &[
            ("CARGO", Path::new("/bin/false")),
            ("CARGO_MANIFEST_DIR", repo.path()),
        ],
    );
    run.success();
}

#[test]
fn a_repo_template_overrides_the_built_in_one_and_validate_checks_it() {
    let repo = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(repo.path().join("environments")).unwrap();
    std::fs::create_dir_all(repo.path().join("templates")).unwrap();
    let text = descriptor("it-infra-override", "override-ext-id", &["f"]);
    std::fs::write(repo.path().join("environments/staging.toml"), &text).unwrap();
    let builtin = include_str!("../../templates/serverless-worker-role.yaml");

    // An override that still takes what the tool passes: used, and the render is checked.
    let own = builtin.replacen("Description: The ARN", "Description: (ours) The ARN", 1);
    std::fs::write(
        repo.path().join("templates/serverless-worker-role.yaml"),
        &own,
    )
    .unwrap();
    let run = installed(repo.path(), &["validate"]);
    run.success();
    assert!(
        run.all()
            .contains("templates/serverless-worker-role.yaml overrides the built-in template"),
        "{}",
        run.all()
    );

    // One that lost a parameter the tool passes is refused, naming the file and the parameter.
    let lost = builtin.replace("  AssumeRoleExternalId:\n", "  SomethingElse:\n");
    std::fs::write(
        repo.path().join("templates/serverless-worker-role.yaml"),
        &lost,
    )
    .unwrap();
    for args in [&["validate"][..], &["render"]] {
        let run = installed(repo.path(), args);
        run.failure();
        assert!(
            run.stderr.contains("templates/serverless-worker-role.yaml")
                && run.stderr.contains("`AssumeRoleExternalId`"),
            "{}",
            run.stderr
        );
    }
    assert!(
        !repo.path().join("environments/staging").exists(),
        "nothing was rendered"
    );
}

/// A hint built in a library crate (the descriptor loader's: a missing key's hint from its doc
/// comment, an ARN's from a format string) names the program as it was started: `tsw`
/// installed, a link's own name when started through one, `cargo xtask` under this workspace's
/// cargo.
#[test]
fn library_hints_name_the_program_as_it_was_started() {
    let repo = tempfile::tempdir().unwrap();
    let envs = repo.path().join("environments");
    std::fs::create_dir_all(&envs).unwrap();
    let text = descriptor("it-infra-hints", "hints-ext-id", &["f"]);
    let no_external_id = text.replace("external_id = 'hints-ext-id'\n", "");
    std::fs::write(envs.join("staging.toml"), no_external_id).unwrap();
    let session = text.replace(
        ":iam::123456789012:user/moto",
        ":sts::123456789012:assumed-role/temporal-server/i-0123456789abcdef0",
    );
    assert_ne!(session, text);
    std::fs::write(envs.join("production.toml"), session).unwrap();
    let link = repo.path().join("bin/infra");
    std::fs::create_dir_all(link.parent().unwrap()).unwrap();
    std::os::unix::fs::symlink(env!("CARGO_BIN_EXE_tsw"), &link).unwrap();

    let linked = {
        let mut cmd = Command::new(&link);
        cmd.current_dir(repo.path()).arg("validate");
        safe_aws_env(&mut cmd);
        for var in ["CARGO", "CARGO_MANIFEST_DIR"] {
            cmd.env_remove(var);
        }
        Run::from(cmd.output().expect("run the link"))
    };
    let under_cargo = installed_with(
        repo.path(),
        &["validate"],
        &[("CARGO_MANIFEST_DIR", Path::new(env!("CARGO_MANIFEST_DIR")))],
    );
    for (run, name) in [
        (installed(repo.path(), &["validate"]), "tsw"),
        (linked, "infra"),
        (under_cargo, "cargo xtask"),
    ] {
        run.failure();
        for hint in [
            format!("(`{name} init` generates one)"),
            format!("(`{name} whoami ENV` prints it)"),
        ] {
            assert!(run.stderr.contains(&hint), "{hint} in:\n{}", run.stderr);
        }
    }
}
