//! Temporal starts a real worker through the sandbox's Lambda: the sample worker
//! (`crates/aws-sandbox/worker/`) deployed as a function in the test emulator, a version
//! registered on a Temporal dev server whose AWS calls go to that emulator. Registration makes
//! the server invoke the function once (through the invocation role, with its external ID); the
//! worker's poll binds the task queue, and a workflow started on it is run by a worker the
//! server started through Lambda.

use std::time::{Duration, Instant};

use aws_sandbox::{SAMPLE_TASK_QUEUE, SAMPLE_WORKFLOW};

use crate::support::{
    ACCOUNT, Checkout, WCI_ON, WORKER_TIMEOUT, deploy_sample_worker, describe_version, descriptor,
    emulator, function_arn, invocation_window, temporal_json, temporal_server,
};

const EXTERNAL_ID: &str = "lambda-worker-ext-id";

/// A descriptor for the frontend at `address` with one version (`STACK-worker@build-1`, current)
/// whose function is `function`, and whose smoke workflow is the sample's.
fn environment(stack: &str, address: &str, function: &str) -> String {
    descriptor(stack, EXTERNAL_ID, &[function]).replace(
        "namespaces = [ \"orders\",   \"billing\" ]  # odd spacing kept\n",
        &format!("address = \"{address}\"\n"),
    ) + &format!(
        "\n[[worker_deployments]]\nnamespace = \"orders\"\nname = \"{stack}-worker\"\nbuild_id = \"build-1\"\nlambda_function_arn = \"{}\"\nset_current = true\nsmoke_workflow = \"{SAMPLE_WORKFLOW}\"\nsmoke_task_queue = \"{SAMPLE_TASK_QUEUE}\"\nsmoke_input = '\"smoke\"'\n",
        function_arn(function)
    )
}

/// The task queues Temporal has seen the version's worker poll (`taskQueuesInfos`: one entry
/// per queue and type, workflow and activity).
fn bound_task_queues(address: &str, deployment: &str) -> Vec<String> {
    let version = describe_version(address, deployment);
    version["taskQueuesInfos"]
        .as_array()
        .map(|queues| {
            let mut names: Vec<String> = queues
                .iter()
                .filter_map(|q| q["name"].as_str().map(str::to_owned))
                .collect();
            names.dedup();
            names
        })
        .unwrap_or_default()
}

/// The emulator's invocation records of `function` with `"event": event`.
fn invocations(function: &str, event: &str) -> Vec<serde_json::Value> {
    let log = std::fs::read_to_string(emulator().invocation_log()).unwrap_or_default();
    log.lines()
        .map(|line| serde_json::from_str::<serde_json::Value>(line).unwrap())
        .filter(|r| r["function"] == function && r["event"] == event)
        .collect()
}

fn wait_for<T>(what: &str, deadline: Duration, mut probe: impl FnMut() -> Option<T>) -> T {
    let start = Instant::now();
    loop {
        if let Some(found) = probe() {
            return found;
        }
        assert!(start.elapsed() < deadline, "no {what} within {deadline:?}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn temporal_runs_the_sample_worker_through_lambda_and_a_workflow_completes() {
    let server = temporal_server(WCI_ON);
    let co = Checkout::new();
    co.write_env(
        "e2e",
        &environment("it-e2e", &server.address(), "it-e2e-fn"),
    );
    deploy_sample_worker(
        "it-e2e-fn",
        &server.address(),
        "it-e2e-worker",
        WORKER_TIMEOUT,
    );
    co.xtask(&["deploy", "e2e", "--yes"]).success();

    let registered = Instant::now();
    let run = co.xtask(&["register", "e2e"]);
    run.success();
    // The bootstrap invocation binds the queue or never will.
    let queues = wait_for(
        "bound task queue",
        invocation_window(WORKER_TIMEOUT),
        || Some(bound_task_queues(&server.address(), "it-e2e-worker")).filter(|q| !q.is_empty()),
    );
    eprintln!(
        "measured: register (create-version) to bound task queue: {:?}",
        registered.elapsed()
    );
    assert_eq!(queues, [SAMPLE_TASK_QUEUE]);

    // doctor proves the chain: the queue is bound, the function can run the worker.
    let doctor = co.xtask(&["doctor", "e2e"]);
    doctor.success();
    let report = doctor.all();
    for line in [
        "pass  step 5  task queue bound to orders/it-e2e-worker@build-1: `sample-worker`: Lambda ran the worker",
        &format!(
            "pass  step 5  timeout of {}: 10 s",
            function_arn("it-e2e-fn")
        ),
        &format!(
            "pass  step 5  worker variables of {}: TEMPORAL_ADDRESS `{}`",
            function_arn("it-e2e-fn"),
            server.address()
        ),
    ] {
        assert!(report.contains(line), "{line}\n{report}");
    }

    // The server invoked the function through the role, with the external ID.
    let role_arn = format!("arn:aws:iam::{ACCOUNT}:role/Temporal-Serverless-Worker-it-e2e");
    let start = &invocations("it-e2e-fn", "start")[0];
    assert_eq!(start["invocation_type"], "Event", "{start:#}");
    assert_eq!(start["caller"]["role_arn"], role_arn.as_str(), "{start:#}");
    assert_eq!(start["caller"]["external_id"], EXTERNAL_ID, "{start:#}");

    // The bootstrap worker polls for (timeout - 7 s), then ends. Once it has, only a new
    // invocation can run the workflow: the start must make Temporal invoke the function. (This
    // also waits out the race of a start right after `set-current-version`, about 0.2 s.)
    wait_for(
        "end of the bootstrap invocation",
        invocation_window(WORKER_TIMEOUT),
        || invocations("it-e2e-fn", "end").into_iter().next(),
    );
    let started = Instant::now();
    let result = temporal_json(
        &server.address(),
        &[
            "workflow",
            "execute",
            "--type",
            SAMPLE_WORKFLOW,
            "--task-queue",
            SAMPLE_TASK_QUEUE,
            "--workflow-id",
            "it-e2e-greet",
            "--input",
            "\"Temporal\"",
            "--execution-timeout",
            "60s",
        ],
    );
    eprintln!(
        "measured: workflow start to completion, worker started by Lambda: {:?}",
        started.elapsed()
    );
    let starts = invocations("it-e2e-fn", "start");
    assert_eq!(
        starts.len(),
        2,
        "the workflow start invoked the function: {starts:#?}"
    );
    assert_eq!(
        starts[1]["caller"]["role_arn"],
        role_arn.as_str(),
        "{:#}",
        starts[1]
    );
    assert_eq!(result["result"], "Hello, Temporal!", "{result:#}");
    let described = temporal_json(
        &server.address(),
        &["workflow", "describe", "--workflow-id", "it-e2e-greet"],
    );
    let text = described.to_string();
    assert!(
        text.contains("it-e2e-worker") && text.contains("build-1"),
        "run by the version: {described:#}"
    );

    // `smoke` runs the declared workflow and says which build ran it.
    let smoke = co.xtask(&["smoke", "e2e"]);
    smoke.success();
    let said = smoke.all();
    assert!(
        said.contains("e2e: smoke `Greet` on `sample-worker` completed in ")
            && said.contains(
                "run by build `build-1` of deployment `it-e2e-worker`: \"Hello, smoke!\""
            ),
        "{said}"
    );
}

#[test]
fn a_timeout_shorter_than_the_shutdown_reserve_never_binds_the_task_queue() {
    let server = temporal_server(WCI_ON);
    let co = Checkout::new().with_emulator_lambda_dir();
    co.write_env(
        "short",
        &environment("it-short", &server.address(), "it-short-fn"),
    );
    deploy_sample_worker(
        "it-short-fn",
        &server.address(),
        "it-short-worker",
        Duration::from_secs(3),
    );
    co.xtask(&["deploy", "short", "--yes"]).success();
    co.xtask(&["register", "short"]).success();

    let end = wait_for(
        "finished invocation",
        invocation_window(Duration::from_secs(3)),
        || invocations("it-short-fn", "end").into_iter().next(),
    );
    assert_eq!(end["status"], "error", "{end:#}");
    let message = end["error"]["errorMessage"].as_str().unwrap_or_default();
    assert!(
        message.contains("Lambda timeout is too short")
            && message.contains("reserved for shutdown"),
        "{end:#}"
    );
    let until = Instant::now() + Duration::from_secs(4);
    while Instant::now() < until {
        assert_eq!(
            bound_task_queues(&server.address(), "it-short-worker"),
            Vec::<String>::new()
        );
        std::thread::sleep(Duration::from_millis(500));
    }

    // doctor names the timeout, and that no task queue is bound.
    let doctor = co.xtask(&["doctor", "short"]);
    doctor.failure();
    let report = doctor.all();
    for line in [
        &format!(
            "FAIL  step 5  timeout of {}: the function's timeout is 3 s, but the Lambda worker keeps 7 s of it for shutdown",
            function_arn("it-short-fn")
        ),
        "FAIL  step 5  task queue bound to orders/it-short-worker@build-1: no task queue is bound",
    ] {
        assert!(report.contains(line), "{line}\n{report}");
    }
    assert!(report.contains("--timeout 600"), "{report}");
    let bound = doctor.line("task queue bound to orders/it-short-worker@build-1");
    assert!(
        bound.contains("its last invocation failed: ")
            && bound.contains("Lambda timeout is too short"),
        "{report}"
    );

    // smoke names the cause instead of waiting for a workflow nothing would run.
    let smoke = co.xtask(&["smoke", "short", "--timeout", "10s"]);
    smoke.failure();
    let said = smoke.all();
    assert!(
        said.contains("smoke `Greet` of orders/it-short-worker@build-1 failed: no task queue is bound to version orders/it-short-worker@build-1")
            && said.contains("its timeout leaves no time after the 7 s"),
        "{said}"
    );
}

/// A loopback address on which nothing listens: the port is bound, read, and released.
fn closed_loopback_address() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().to_string()
}

#[test]
fn a_worker_that_cannot_reach_the_frontend_never_binds_the_task_queue_and_doctor_says_why() {
    let server = temporal_server(WCI_ON);
    let co = Checkout::new().with_emulator_lambda_dir();
    co.write_env(
        "unreach",
        &environment("it-unreach", &server.address(), "it-unreach-fn"),
    );
    // The worker dials a closed loopback port: its connect fails at once, not after a timeout.
    let dead = closed_loopback_address();
    deploy_sample_worker("it-unreach-fn", &dead, "it-unreach-worker", WORKER_TIMEOUT);
    co.xtask(&["deploy", "unreach", "--yes"]).success();
    co.xtask(&["register", "unreach"]).success();

    // The server invoked the function; the worker's connection to the frontend failed.
    let end = wait_for(
        "finished invocation",
        invocation_window(WORKER_TIMEOUT),
        || invocations("it-unreach-fn", "end").into_iter().next(),
    );
    assert_eq!(end["status"], "error", "{end:#}");
    let message = end["error"]["errorMessage"].as_str().unwrap_or_default();
    assert!(
        message.contains("Failed client connect") && message.contains(&dead),
        "the worker's error names the address it dialled: {end:#}"
    );
    assert_eq!(
        bound_task_queues(&server.address(), "it-unreach-worker"),
        Vec::<String>::new()
    );

    // doctor: no task queue is bound, and the function's TEMPORAL_ADDRESS is not the frontend.
    let doctor = co.xtask(&["doctor", "unreach"]);
    doctor.failure();
    let report = doctor.all();
    // It quotes the worker's own error from the emulator's invocation log.
    let bound = doctor.line("task queue bound to orders/it-unreach-worker@build-1");
    assert!(
        bound.contains("its last invocation failed: ")
            && bound.contains("Failed client connect")
            && bound.contains(&dead),
        "{report}"
    );
    for line in [
        "FAIL  step 5  task queue bound to orders/it-unreach-worker@build-1: no task queue is bound",
        &format!(
            "WARN  step 5  worker variables of {}: TEMPORAL_ADDRESS is `{dead}`, but `temporal.address` is `{}`",
            function_arn("it-unreach-fn"),
            server.address()
        ),
        // The timeout is not the cause: the address is the one thing doctor flags.
        &format!(
            "pass  step 5  timeout of {}: 10 s",
            function_arn("it-unreach-fn")
        ),
    ] {
        assert!(report.contains(line), "{line}\n{report}");
    }
}
