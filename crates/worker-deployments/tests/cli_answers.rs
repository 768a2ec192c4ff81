//! The answers of the pinned Temporal CLI that this crate tells apart, from the CLI itself
//! against a dev server: the CLI prints the server's error as text only (no gRPC status code
//! reaches its output, with `--output json` too), so [`worker_deployments::answer`] reads that
//! text, and this test fails when a new CLI or server words it otherwise.

use std::path::PathBuf;
use std::process::Output;
use std::time::Duration;

use aws_sandbox::{Owned, PythonEnv, Sandbox, TemporalDev};
use worker_deployments::{Answer, answer};

/// The sandbox's virtualenv (the pinned CLI), shared with the integration tests.
fn python() -> PythonEnv {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    Sandbox::new(&root.join("target").join("xtask"))
        .python_env(&mut |line| safe_text::eprintln!("test setup: {line}"))
        .unwrap_or_else(|e| panic!("cannot install the sandbox's Temporal CLI: {e}"))
}

#[test]
fn a_missing_version_deployment_or_workflow_is_not_found_a_missing_namespace_is_not_and_a_second_create_exists()
 {
    let python = python();
    let dir = tempfile::tempdir().unwrap();
    let server = Owned::temporal(
        &python,
        dir.path(),
        TemporalDev {
            host: "127.0.0.1".into(),
            port: 0,
            namespaces: vec!["orders".into()],
            dynamic_config: Vec::new(),
            // Never called: nothing here reaches AWS.
            aws_endpoint: "http://127.0.0.1:9".into(),
            aws_region: "us-east-1".into(),
        },
    )
    .unwrap();
    let address = server.address();
    let cli = |namespace: &str, args: &[&str]| -> Output {
        let args: Vec<&str> = args
            .iter()
            .copied()
            .chain(["--address", &address, "--namespace", namespace])
            .chain(["--output", "json", "--command-timeout=30s"])
            .collect();
        child_process::run(&python.bin("temporal"), &args, &[], Duration::from_secs(60)).unwrap()
    };
    let lookups: [&[&str]; 3] = [
        &[
            "worker",
            "deployment",
            "describe-version",
            "--deployment-name",
            "absent",
            "--build-id",
            "b1",
        ],
        &["worker", "deployment", "describe", "--name", "absent"],
        &["workflow", "show", "--workflow-id", "absent"],
    ];
    for args in lookups {
        let out = cli("orders", args);
        assert_eq!(answer(&out), Answer::NotFound, "{args:?}: {out:?}");
        let out = cli("no-such-namespace", args);
        assert_eq!(
            answer(&out),
            Answer::Other,
            "{args:?} in a missing namespace: {out:?}"
        );
    }
    let create = ["worker", "deployment", "create", "--name", "twice"];
    let first = cli("orders", &create);
    assert!(first.status.success(), "{first:?}");
    let again = cli("orders", &create);
    assert_eq!(answer(&again), Answer::AlreadyExists, "{again:?}");
}
