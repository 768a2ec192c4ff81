//! A checkout is untrusted input (a pull request's files, links included): every file the tool
//! reads or writes for it resolves inside it, or in a directory named by `XTASK_ALLOW_OUTSIDE`
//! where the tool runs; the tool's own state files are never followed through links; limits
//! AWS and Temporal enforce, and the size of hostile files, are checked before any work.

use std::os::unix::fs::symlink;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use crate::support::{Checkout, Run, safe_aws_env};

/// What a CI job keeps next to the checkout and must never reach a pull request's comment.
const SECRET: &str = "client-key-data: SECRET-OF-THE-CI-JOB";

/// A descriptor that needs no emulator, with `extra` at the end of `[temporal]` (its endpoint
/// is a loopback port nothing answers at: nothing here may reach AWS).
fn descriptor(extra: &str) -> String {
    format!(
        "[aws]\nregion = \"us-east-1\"\nendpoint_url = \"http://127.0.0.1:9\"\n\n[temporal]\nserver_role_arn = \"arn:aws:iam::123456789012:role/temporal\"\n{extra}\n\n\
         [role]\nstack_name = \"it-untrusted\"\nexternal_id = \"untrusted-ext-id\"\n\
         lambda_function_arns = [\"arn:aws:lambda:us-east-1:123456789012:function:f\"]\n"
    )
}

/// A checkout in `parent/repo` beside `parent/outside/kubeconfig`, which holds [`SECRET`].
struct Beside {
    parent: tempfile::TempDir,
    _co: Checkout,
}

impl Beside {
    fn new() -> Self {
        let parent = tempfile::tempdir().unwrap();
        let co = Checkout::new();
        let repo = parent.path().join("repo");
        std::fs::rename(co.root(), &repo).unwrap();
        // Keep the TempDir guard pointing at a directory that exists; the checkout lives on.
        std::fs::create_dir(co.root()).unwrap();
        std::fs::create_dir(parent.path().join("outside")).unwrap();
        std::fs::write(
            parent.path().join("outside/kubeconfig"),
            format!("{SECRET}\n"),
        )
        .unwrap();
        Beside { parent, _co: co }
    }

    fn root(&self) -> std::path::PathBuf {
        self.parent.path().join("repo")
    }

    fn outside(&self) -> std::path::PathBuf {
        self.parent.path().join("outside")
    }

    fn write_env(&self, name: &str, text: &str) {
        std::fs::write(self.root().join(format!("environments/{name}.toml")), text).unwrap();
    }

    fn xtask(&self, args: &[&str], vars: &[(&str, &str)]) -> Run {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_tsw"));
        cmd.arg("--root").arg(self.root()).args(args);
        safe_aws_env(&mut cmd);
        cmd.env_remove("XTASK_ALLOW_OUTSIDE");
        for (k, v) in vars {
            cmd.env(k, v);
        }
        Run::from(cmd.output().unwrap())
    }

    fn secret_intact(&self) {
        assert_eq!(
            std::fs::read_to_string(self.outside().join("kubeconfig")).unwrap(),
            format!("{SECRET}\n"),
            "the outside file is left as it was"
        );
    }
}

#[track_caller]
fn refused_without_secret(run: &Run, wanted: &[&str]) {
    assert_eq!(run.code, Some(1), "{}", run.all());
    assert!(!run.all().contains("SECRET-OF"), "{}", run.all());
    for w in wanted {
        assert!(run.all().contains(w), "`{w}` in:\n{}", run.all());
    }
}

/// `helm_values` naming a file beside the checkout, directly or through a link committed in
/// it: refused by every command at the key and its line, the file neither shown nor rewritten.
#[test]
fn a_server_file_outside_the_checkout_is_refused_at_its_key() {
    let b = Beside::new();
    for (name, value) in [
        ("dotdot", "../outside/kubeconfig".to_owned()),
        (
            "absolute",
            b.outside().join("kubeconfig").display().to_string(),
        ),
        ("linked", "deploy/values.yaml".to_owned()),
    ] {
        std::fs::create_dir_all(b.root().join("deploy")).unwrap();
        let _ = std::fs::remove_file(b.root().join("deploy/values.yaml"));
        symlink(
            "../../outside/kubeconfig",
            b.root().join("deploy/values.yaml"),
        )
        .unwrap();
        b.write_env(name, &descriptor(&format!("helm_values = \"{value}\"")));
        let key = "temporal.helm_values";
        let line = format!("{name}.toml:7");
        refused_without_secret(
            &b.xtask(&["validate", name], &[]),
            &[key, &line, "outside the checkout"],
        );
        refused_without_secret(
            &b.xtask(&["render", "--check", name], &[]),
            &[key, "outside the checkout"],
        );
        refused_without_secret(
            &b.xtask(&["render", name], &[]),
            &[key, "outside the checkout"],
        );
        refused_without_secret(
            &b.xtask(&["plan", name, "--output", "markdown"], &[]),
            &[key, "outside the checkout"],
        );
        b.secret_intact();
        std::fs::remove_file(b.root().join(format!("environments/{name}.toml"))).unwrap();
    }
}

/// The opt-in comes from where the tool runs: with the directory named in
/// `XTASK_ALLOW_OUTSIDE`, the same descriptor renders into the file outside.
#[test]
fn a_directory_allowed_where_the_tool_runs_may_hold_the_server_file() {
    let b = Beside::new();
    std::fs::write(
        b.outside().join("values.yaml"),
        "server:\n  dynamicConfig: {}\n",
    )
    .unwrap();
    b.write_env(
        "kept",
        &descriptor("helm_values = \"../outside/values.yaml\""),
    );
    let allow = b.outside().display().to_string();
    b.xtask(&["validate", "kept"], &[("XTASK_ALLOW_OUTSIDE", &allow)])
        .success();
    b.xtask(&["render", "kept"], &[("XTASK_ALLOW_OUTSIDE", &allow)])
        .success();
    let text = std::fs::read_to_string(b.outside().join("values.yaml")).unwrap();
    assert!(text.contains("workercontroller.enabled"), "{text}");
    b.xtask(
        &["render", "--check", "kept"],
        &[("XTASK_ALLOW_OUTSIDE", &allow)],
    )
    .success();
}

/// A descriptor that is a link to the process environment: `validate` prints none of it.
#[test]
fn a_descriptor_linked_out_of_the_checkout_is_not_read() {
    let b = Beside::new();
    symlink(
        "/proc/self/environ",
        b.root().join("environments/leak.toml"),
    )
    .unwrap();
    let run = b.xtask(
        &["validate", "leak"],
        &[("CI_SECRET_MARKER", "SECRET-OF-THE-CI-JOB")],
    );
    refused_without_secret(&run, &["leak.toml", "outside the checkout"]);
    assert!(
        !run.all().contains("AWS_SECRET_ACCESS_KEY"),
        "{}",
        run.all()
    );
}

/// Rendered files and template overrides that are links out of the checkout: neither shown by
/// `render --check` nor written by `render`.
#[test]
fn rendered_files_and_templates_linked_out_are_refused() {
    let b = Beside::new();
    b.write_env("env", &descriptor(""));
    let rendered = b.root().join("environments/env");
    std::fs::create_dir_all(&rendered).unwrap();
    symlink(
        "../../../outside/kubeconfig",
        rendered.join("dynamicconfig.yaml"),
    )
    .unwrap();
    refused_without_secret(
        &b.xtask(&["render", "--check", "env"], &[]),
        &["dynamicconfig.yaml", "outside the checkout"],
    );
    refused_without_secret(
        &b.xtask(&["render", "env"], &[]),
        &["dynamicconfig.yaml", "outside the checkout"],
    );
    b.secret_intact();
    std::fs::remove_file(rendered.join("dynamicconfig.yaml")).unwrap();

    let template = b.root().join("templates/dynamicconfig.yaml.j2");
    std::fs::remove_file(&template).unwrap();
    symlink("../../outside/kubeconfig", &template).unwrap();
    refused_without_secret(
        &b.xtask(&["render", "--check", "env"], &[]),
        &["dynamicconfig.yaml.j2", "outside the checkout"],
    );
}

/// `dynamic_config_file` naming the file `render` writes itself: refused by `validate`.
#[test]
fn a_server_file_that_is_the_rendered_file_is_refused() {
    let co = Checkout::new();
    for value in [
        "environments/self/dynamicconfig.yaml",
        "./environments/self/../self/dynamicconfig.yaml",
    ] {
        co.write_env(
            "self",
            &descriptor(&format!("dynamic_config_file = \"{value}\"")),
        );
        let run = co.xtask(&["validate", "self"]);
        run.failure();
        assert!(
            run.all().contains("self.toml:7")
                && run.all().contains("temporal.dynamic_config_file")
                && run.all().contains("the file `render` writes"),
            "{}",
            run.all()
        );
    }
}

/// CloudFormation takes a parameter value of at most 4,096 bytes: `LambdaFunctionARNs` longer
/// than that is refused by `validate` (6,699 bytes passed before).
#[test]
fn lambda_function_arns_longer_than_a_parameter_takes_are_refused() {
    let co = Checkout::new();
    let arns: Vec<String> = (0..100)
        .map(|i| {
            format!(
                "\"arn:aws:lambda:us-east-1:123456789012:function:orders-worker-function-{i:03}\""
            )
        })
        .collect();
    let text = descriptor("").replace(
        "lambda_function_arns = [\"arn:aws:lambda:us-east-1:123456789012:function:f\"]",
        &format!("lambda_function_arns = [{}]", arns.join(", ")),
    );
    co.write_env("many", &text);
    let run = co.xtask(&["validate", "many"]);
    run.failure();
    assert!(
        run.all().contains("role.lambda_function_arns") && run.all().contains("4096 bytes"),
        "{}",
        run.all()
    );
}

/// The server refuses a Worker Deployment name with `.` or `:` and names or build IDs that
/// start with `__`: so does `validate`.
#[test]
fn worker_deployment_names_the_server_refuses_are_refused() {
    let co = Checkout::new();
    for (name, build, key) in [
        ("orders.worker", "v1", "worker_deployments[0].name"),
        ("orders:worker", "v1", "worker_deployments[0].name"),
        ("__orders", "v1", "worker_deployments[0].name"),
        (
            "orders",
            "__unversioned__",
            "worker_deployments[0].build_id",
        ),
    ] {
        let text = format!(
            "{}\n[[worker_deployments]]\nnamespace = \"default\"\nname = \"{name}\"\nbuild_id = \"{build}\"\n\
             lambda_function_arn = \"arn:aws:lambda:us-east-1:123456789012:function:f\"\n",
            descriptor("")
        );
        co.write_env("wd", &text);
        let run = co.xtask(&["validate", "wd"]);
        run.failure();
        assert!(run.all().contains(key), "{name}/{build}: {}", run.all());
    }
}

/// A server file of 100 MB (58.6 s and 6.7 GB before) is refused at once, naming the limit.
#[test]
fn a_huge_server_file_is_refused_before_it_is_read() {
    let co = Checkout::new();
    let path = co.root().join("dynamicconfig.yaml");
    let line = "limit.maxIDLength:\n  - value: 255\n";
    let big = line.repeat(100 * 1024 * 1024 / line.len());
    std::fs::write(&path, &big).unwrap();
    co.write_env(
        "big",
        &descriptor("dynamic_config_file = \"dynamicconfig.yaml\""),
    );
    let start = Instant::now();
    let run = co.xtask(&["render", "--check", "big"]);
    run.failure();
    assert!(
        start.elapsed() < Duration::from_secs(10),
        "{:?}",
        start.elapsed()
    );
    assert!(
        run.all().contains("dynamicconfig.yaml") && run.all().contains("at most 4194304 bytes"),
        "{}",
        run.all()
    );
}

/// Deeply nested flow collections (47 s before failing on a recursion limit) are refused at
/// once, naming the line.
#[test]
fn deeply_nested_yaml_is_refused_at_once() {
    let co = Checkout::new();
    let path = co.root().join("values.yaml");
    let depth = 100_000;
    let text = format!(
        "server:\n  dynamicConfig: {{}}\nother: {}{}\n",
        "[".repeat(depth),
        "]".repeat(depth)
    );
    std::fs::write(&path, text).unwrap();
    co.write_env("deep", &descriptor("helm_values = \"values.yaml\""));
    let start = Instant::now();
    let run = co.xtask(&["render", "--check", "deep"]);
    run.failure();
    assert!(
        start.elapsed() < Duration::from_secs(5),
        "{:?}",
        start.elapsed()
    );
    assert!(run.all().contains("nested"), "{}", run.all());
    let _ = Path::new("");
}

/// A lock file committed as a link to another descriptor: `deploy` refuses it, before any AWS
/// call, and the descriptor it points to keeps its contents (it was truncated before).
#[test]
fn a_lock_file_that_is_a_link_is_refused_and_its_target_kept() {
    let co = Checkout::new();
    let kept = descriptor("");
    co.write_env("aaa", &kept);
    co.write_env(
        "locked",
        &descriptor("").replace("it-untrusted", "it-locked"),
    );
    let locks = co.root().join("target/xtask/locks");
    std::fs::create_dir_all(&locks).unwrap();
    symlink("../../../environments/aaa.toml", locks.join("locked.lock")).unwrap();
    let run = co.xtask(&["deploy", "locked", "--yes"]);
    run.failure();
    assert!(run.all().contains("is a symbolic link"), "{}", run.all());
    assert_eq!(co.read_env("aaa"), kept);
}
