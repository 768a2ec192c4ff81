//! Snapshots of what users read: `plan` in its three outputs, `status`, `whoami`, `doctor`,
//! `validate`'s errors (the four also as `--output json`), `deploy` and `destroy` with `--output json`, `init`, and `--help`. Each is stored in `snapshots/` beside this file
//! with the checkout's path, ports, times and random IDs masked, and the program's name as
//! `[PROG]` (so that neither a rename nor a test run changes a snapshot). A change of wording
//! shows up as a snapshot diff to review: see CONTRIBUTING.md, "Snapshots and fixtures".

use std::path::Path;

use crate::support::{ACCOUNT, Checkout, Run, descriptor, iam, repo_root};

/// The masks every snapshot gets: what differs between runs and machines.
fn settings(root: &Path) -> insta::Settings {
    let mut s = insta::Settings::clone_current();
    s.set_prepend_module_to_snapshot(false);
    s.set_snapshot_path(repo_root().join("tests/integration/snapshots"));
    s.add_filter(&regex_escape(&root.display().to_string()), "[ROOT]");
    s.add_filter(&regex_escape(&repo_root().display().to_string()), "[REPO]");
    s.add_filter(r"/tmp/\.tmp[A-Za-z0-9]+", "[ROOT]");
    if let Some(home) = std::env::var_os("HOME").filter(|h| h.len() > 1) {
        let home = regex_escape(&home.to_string_lossy());
        s.add_filter(&format!("{home}/"), "[HOME]/");
    }
    s.add_filter(r"(127\.0\.0\.1|localhost):\d+", "$1:[PORT]");
    s.add_filter(
        r"\d{4}-\d\d-\d\d[T ]\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:?\d\d)?",
        "[TIME]",
    );
    // The clock time of a stack event, as progress lines show it.
    s.add_filter(r"\b\d\d:\d\d:\d\d\b", "[CLOCK]");
    s.add_filter(
        r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}",
        "[UUID]",
    );
    // The program as users start it, before and after it is renamed.
    s.add_filter(r"cargo (xtask|tsw)\b|\b(xtask|tsw)\b", "[PROG]");
    s
}

fn regex_escape(text: &str) -> String {
    text.chars()
        .flat_map(|c| {
            let special = "\\.+*?()|[]{}^$#&-~".contains(c);
            special.then_some('\\').into_iter().chain([c])
        })
        .collect()
}

/// A run as a reader meets it: its exit code, stdout, then stderr when there is any.
fn shown(run: &Run) -> String {
    let mut text = format!("exit code: {:?}\n{}", run.code, run.stdout);
    if !run.stderr.is_empty() {
        text.push_str("--- stderr\n");
        text.push_str(&run.stderr);
    }
    text
}

/// Compares `run` with the snapshot `name`, masked for the checkout at `root`.
pub fn assert_run(name: &str, root: &Path, run: &Run) {
    settings(root).bind(|| insta::assert_snapshot!(name, shown(run)));
}

/// [`assert_run`] with more masks: each (text, mask) of `masks`, e.g. the random IDs an
/// emulator gave accounts.
pub fn assert_run_masked(name: &str, root: &Path, run: &Run, masks: &[(String, String)]) {
    let mut s = settings(root);
    for (text, mask) in masks {
        s.add_filter(&regex_escape(text), mask.as_str());
    }
    s.bind(|| insta::assert_snapshot!(name, shown(run)));
}

#[test]
fn plan_in_text_markdown_and_json() {
    let co = Checkout::new();
    let server_file = co.root().join("server/dynamicconfig.yaml");
    std::fs::create_dir_all(server_file.parent().unwrap()).unwrap();
    std::fs::write(
        &server_file,
        "# our cluster\nlimit.maxIDLength:\n  - value: 255\n",
    )
    .unwrap();
    co.write_env(
        "snap",
        &descriptor("it-snap-plan", "snap-ext-id", &["worker-1"]).replace(
            "[role]",
            "dynamic_config_file = \"server/dynamicconfig.yaml\"\n\n[role]",
        ),
    );
    let plan = |case: &str| {
        for output in ["text", "markdown", "json"] {
            let run = co.xtask(&["plan", "snap", "--output", output, "--detailed-exitcode"]);
            assert_run(&format!("plan_{case}_{output}"), co.root(), &run);
        }
    };

    plan("create");
    co.xtask(&["deploy", "snap", "--yes"]).success();
    plan("no_changes");

    let deployed = co.read_env("snap");
    co.write_env(
        "snap",
        &deployed.replace("'snap-ext-id'", "'snap-ext-id-2'"),
    );
    plan("parameter_change");
    co.write_env("snap", &deployed);

    // Someone edits the role's trust policy by hand.
    iam(&format!(
        "iam.update_assume_role_policy(RoleName='Temporal-Serverless-Worker-it-snap-plan', \
         PolicyDocument=json.dumps({{'Version': '2012-10-17', 'Statement': [{{'Effect': 'Allow', \
         'Principal': {{'AWS': 'arn:aws:iam::{ACCOUNT}:role/someone-else'}}, \
         'Action': 'sts:AssumeRole', \
         'Condition': {{'StringEquals': {{'sts:ExternalId': 'tampered-id'}}}}}}]}}))"
    ));
    plan("role_drift");
    assert_run(
        "status_role_drift",
        co.root(),
        &co.xtask(&["status", "snap"]),
    );
    assert_run(
        "doctor_role_drift",
        co.root(),
        &co.xtask(&["doctor", "snap"]),
    );
    assert_run(
        "doctor_role_drift_json",
        co.root(),
        &co.xtask(&["doctor", "snap", "--output", "json"]),
    );
    co.xtask(&["destroy", "snap", "--yes"]).success();
}

#[test]
fn status_and_whoami() {
    let co = Checkout::new();
    co.write_env(
        "snap",
        &descriptor("it-snap-status", "snap-status-id", &["worker-1"]),
    );
    assert_run("status_no_stack", co.root(), &co.xtask(&["status", "snap"]));
    assert_run(
        "status_no_stack_json",
        co.root(),
        &co.xtask(&["status", "snap", "--output", "json"]),
    );
    assert_run(
        "deploy_json",
        co.root(),
        &co.xtask(&["deploy", "snap", "--yes", "--output", "json"]),
    );
    assert_run("status_in_sync", co.root(), &co.xtask(&["status", "snap"]));
    assert_run(
        "status_in_sync_json",
        co.root(),
        &co.xtask(&["status", "snap", "--output", "json"]),
    );
    let deployed = co.read_env("snap");
    co.write_env(
        "snap",
        &deployed.replace("snap-status-id", "snap-status-id-2"),
    );
    assert_run(
        "status_undeployed_change",
        co.root(),
        &co.xtask(&["status", "snap"]),
    );
    assert_run(
        "status_undeployed_change_json",
        co.root(),
        &co.xtask(&["status", "snap", "--output", "json"]),
    );
    assert_run("whoami", co.root(), &co.xtask(&["whoami", "snap"]));
    assert_run(
        "whoami_json",
        co.root(),
        &co.xtask(&["whoami", "snap", "--output", "json"]),
    );
    co.write_env("snap", &deployed);
    assert_run(
        "destroy_json",
        co.root(),
        &co.xtask(&["destroy", "snap", "--yes", "--output", "json"]),
    );
}

#[test]
fn validate_reports_every_problem_at_once() {
    let co = Checkout::new();
    co.write_env(
        "bad",
        r#"# Several mistakes at once.
[aws]
region = "moon-central-1"

[temporal]
server_role_arn = "temporal-server"

[role]
stack_name = "s"
external_id = "abc"
lambda_function_arns = ["arn:aws:lambda:us-east-1:123456789012:worker"]
"#,
    );
    assert_run(
        "validate_several_problems",
        co.root(),
        &co.xtask(&["validate", "bad"]),
    );
    assert_run(
        "validate_several_problems_json",
        co.root(),
        &co.xtask(&["validate", "bad", "--output", "json"]),
    );
}

#[test]
fn init_and_help() {
    let co = Checkout::new();
    let run = co.xtask(&[
        "init",
        "dev",
        "--region",
        "eu-west-1",
        "--namespace",
        "orders",
    ]);
    assert_run("init", co.root(), &run);
    // A descriptor `init` wrote, without its random external ID.
    let written = |env: &str| -> String {
        co.read_env(env)
            .lines()
            .map(|l| {
                if l.starts_with("external_id") {
                    "external_id = \"[RANDOM]\"\n".to_owned()
                } else {
                    format!("{l}\n")
                }
            })
            .collect()
    };
    let text = written("dev");
    settings(co.root()).bind(|| insta::assert_snapshot!("init_descriptor", text));

    // A StackSet environment: the fixed `[stack_set]` keys, the owning account, no stack name;
    // it validates as written.
    let run = co.xtask(&[
        "init",
        "fleet",
        "--stack-set",
        "--organizational-unit",
        "ou-abcd-12345678",
        "--server-role-arn",
        "arn:aws:iam::123456789012:role/temporal-server",
    ]);
    run.success();
    co.xtask(&["validate", "fleet"]).success();
    let text = written("fleet");
    settings(co.root()).bind(|| insta::assert_snapshot!("init_stack_set_descriptor", text));
    // An OU of the wrong shape: refused by name, nothing written.
    let run = co.xtask(&[
        "init",
        "bad",
        "--stack-set",
        "--organizational-unit",
        "ou-x",
    ]);
    run.failure();
    assert!(run.stderr.contains("organizational_units"), "{}", run.all());
    assert!(!co.root().join("environments/bad.toml").exists());

    // Help is wrapped to the terminal's width: a fixed one here.
    let help = |args: &[&str]| co.xtask_with(args, &[("COLUMNS", Some("100"))]);
    assert_run("help", co.root(), &help(&["--help"]));
    assert_run("help_deploy", co.root(), &help(&["deploy", "--help"]));
}
