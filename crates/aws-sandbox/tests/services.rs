//! The sandbox's services as the tests start them (`Owned`), with the pinned packages.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use aws_sandbox::{Owned, PythonEnv, Sandbox, TemporalDev};

/// The sandbox's virtualenv (the pinned CLI), shared with the integration tests.
fn python() -> PythonEnv {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    Sandbox::new(&root.join("target").join("xtask"))
        .python_env(&mut |line| safe_text::eprintln!("test setup: {line}"))
        .unwrap_or_else(|e| panic!("cannot install the sandbox's packages: {e}"))
}

fn dev(port: u16) -> TemporalDev {
    TemporalDev {
        host: "127.0.0.1".into(),
        port,
        namespaces: vec!["orders".into()],
        dynamic_config: Vec::new(),
        // Never called: nothing here reaches AWS.
        aws_endpoint: "http://127.0.0.1:9".into(),
        aws_region: "us-east-1".into(),
    }
}

/// Another program on the port (another test's server, under load): the dev server cannot
/// bind it and exits, and that is an error, not a server "ready" because something answers
/// there (the integration test that once found "nothing answers" at the server it had just
/// started).
#[test]
fn a_dev_server_whose_port_is_taken_is_not_ready() {
    let python = python();
    let dir = tempfile::tempdir().unwrap();
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port();
    let start = Instant::now();
    let err = Owned::temporal(&python, dir.path(), dev(port)).unwrap_err();
    assert!(
        start.elapsed() < Duration::from_secs(60),
        "{:?}",
        start.elapsed()
    );
    assert!(
        matches!(err, aws_sandbox::SandboxError::PortLost { port: p, .. } if p == port),
        "{err}"
    );
}

/// A dev server on a port of its own choosing answers Temporal's own calls.
#[test]
fn a_dev_server_on_a_free_port_is_ready_when_it_answers() {
    let python = python();
    let dir = tempfile::tempdir().unwrap();
    let server = Owned::temporal(&python, dir.path(), dev(0)).unwrap();
    let out = child_process::run(
        &python.bin("temporal"),
        &[
            "operator",
            "cluster",
            "health",
            "--address",
            &server.address(),
        ],
        &[],
        Duration::from_secs(30),
    )
    .unwrap();
    assert!(out.status.success(), "{out:?}");
}
