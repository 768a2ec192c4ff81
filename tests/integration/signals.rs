//! Interrupting a deploy: SIGTERM or SIGINT to the `xtask` process the user started ends the
//! whole deploy, undoes what was never executed, reports what CloudFormation goes on with, and
//! leaves the descriptor as it was; the next deploy waits for a stack operation in progress.

use std::time::Duration;

use crate::child::{self, end_leftovers};
use crate::fault_proxy::{Fault, FaultProxy, Rule};
use crate::support::{ACCOUNT, Checkout, cfn, descriptor, emulator};

/// Generous: a machine under load.
const START: Duration = Duration::from_secs(120);
const EXIT: Duration = Duration::from_secs(30);

/// A descriptor whose AWS endpoint is `proxy`.
fn through(proxy: &FaultProxy, stack: &str) -> String {
    descriptor(stack, &format!("{stack}-ext"), &["worker-1"])
        .replace(&emulator().url(), &proxy.url())
}

/// The stack's status in the emulator, or `gone`.
pub fn stack_status(stack: &str) -> String {
    cfn(&format!(
        "s = [x for x in cfn.list_stacks()['StackSummaries'] if x['StackName'] == '{stack}' and x['StackStatus'] != 'DELETE_COMPLETE']\nprint(s[0]['StackStatus'] if s else 'gone')"
    ))
}

/// Asserts that the run left nothing behind: no process, and no AWS request after it exited.
fn assert_nothing_left_running(co: &Checkout, proxy: &FaultProxy) {
    let requests = proxy.seen().len();
    std::thread::sleep(Duration::from_secs(3));
    let leftovers = end_leftovers(co.root());
    assert!(
        leftovers.is_empty(),
        "still running after the signal: {leftovers:?}"
    );
    assert_eq!(
        proxy.seen()[requests..],
        [] as [String; 0],
        "AWS requests after the process the user signalled had exited"
    );
}

#[test]
fn sigterm_while_the_change_set_of_a_new_stack_is_created_undoes_it() {
    let proxy = FaultProxy::start(&emulator().url());
    proxy.add(Rule::new(
        "DescribeChangeSet",
        Fault::Delay(Duration::from_secs(2)),
    ));
    let co = Checkout::new();
    let stack = "it-sigterm-new";
    let text = through(&proxy, stack);
    co.write_env("term", &text);

    let deploy = child::spawn(co.root(), &["deploy", "term", "--yes"]);
    proxy.wait_for("DescribeChangeSet", 0, START);
    child::signal(&deploy, "TERM");
    let run = child::wait(deploy, EXIT);
    assert_nothing_left_running(&co, &proxy);

    assert_eq!(run.code, Some(143), "{}", run.all());
    let all = run.all();
    assert!(all.contains("interrupted"), "{all}");
    assert!(
        all.contains("deleted change set"),
        "says what it undid:\n{all}"
    );
    assert_eq!(
        stack_status(stack),
        "gone",
        "no stack, not even REVIEW_IN_PROGRESS"
    );
    assert_eq!(co.read_env("term"), text, "the descriptor is as it was");
}

#[test]
fn sigint_while_an_update_change_set_is_created_deletes_it_and_keeps_the_stack() {
    let proxy = FaultProxy::start(&emulator().url());
    let co = Checkout::new();
    let stack = "it-sigint-update";
    co.write_env("int", &through(&proxy, stack));
    co.xtask(&["deploy", "int", "--yes"]).success();
    let deployed = co.read_env("int");
    let updated = deployed.replace(
        "function:worker-1\",",
        &format!("function:worker-1\", \"arn:aws:lambda:us-east-1:{ACCOUNT}:function:worker-2\","),
    );
    assert_ne!(updated, deployed);
    co.write_env("int", &updated);

    proxy.add(Rule::new(
        "DescribeChangeSet",
        Fault::Delay(Duration::from_secs(2)),
    ));
    let mark = proxy.mark();
    let deploy = child::spawn(co.root(), &["deploy", "int", "--yes"]);
    proxy.wait_for("DescribeChangeSet", mark, START);
    child::signal(&deploy, "INT");
    let run = child::wait(deploy, EXIT);
    assert_nothing_left_running(&co, &proxy);

    assert_eq!(run.code, Some(130), "{}", run.all());
    assert!(run.all().contains("deleted change set"), "{}", run.all());
    assert_eq!(
        stack_status(stack),
        "CREATE_COMPLETE",
        "the update never ran"
    );
    assert_eq!(
        cfn(&format!(
            "print(len([c for c in cfn.list_change_sets(StackName='{stack}')['Summaries'] if c['StackName'] == '{stack}' and c['ExecutionStatus'] != 'EXECUTE_COMPLETE']))"
        )),
        "0",
        "the change set that was never executed was deleted"
    );
    assert_eq!(co.read_env("int"), updated, "the descriptor is as it was");
    proxy.clear();
    co.xtask(&["destroy", "int", "--yes"]).success();
}

#[test]
fn sigterm_after_execute_reports_the_operation_and_the_next_deploy_waits_and_records_it() {
    let proxy = FaultProxy::start(&emulator().url());
    proxy.hold_creation_in_progress();
    let co = Checkout::new();
    let stack = "it-sigterm-executed";
    let text = through(&proxy, stack);
    co.write_env("exec", &text);

    let deploy = child::spawn(co.root(), &["deploy", "exec", "--yes"]);
    proxy.wait_for("ExecuteChangeSet", 0, START);
    std::thread::sleep(Duration::from_millis(500));
    child::signal(&deploy, "TERM");
    let run = child::wait(deploy, EXIT);
    assert_nothing_left_running(&co, &proxy);

    assert_eq!(run.code, Some(143), "{}", run.all());
    let all = run.all();
    let stack_id = format!("arn:aws:cloudformation:us-east-1:{ACCOUNT}:stack/{stack}/");
    assert!(
        all.contains(&stack_id) && all.contains("CloudFormation goes on"),
        "names the stack operation that goes on, by id:\n{all}"
    );
    assert!(
        all.contains("cargo xtask deploy exec"),
        "says how to record it:\n{all}"
    );
    assert_eq!(co.read_env("exec"), text, "the descriptor is as it was");

    // The next deploy finds the creation still in progress, waits for it, and records it.
    proxy.clear();
    proxy.add(
        Rule::new(
            "DescribeStacks",
            Fault::Rewrite("CREATE_COMPLETE", "CREATE_IN_PROGRESS"),
        )
        .times(3),
    );
    let run = child::wait(child::spawn(co.root(), &["deploy", "exec", "--yes"]), EXIT);
    run.success();
    assert!(
        run.stderr.contains("waiting for") && run.stderr.contains("CREATE_IN_PROGRESS"),
        "says what it waits for:\n{}",
        run.stderr
    );
    assert!(run.stdout.contains("exec: no changes"), "{}", run.stdout);
    let after = co.read_env("exec");
    assert!(after.starts_with(&text), "{after}");
    assert!(
        after.contains(&format!("stack_id = \"{stack_id}")),
        "recorded:\n{after}"
    );
    co.xtask(&["destroy", "exec", "--yes"]).success();
}

#[test]
fn sigint_while_plan_creates_the_change_set_of_a_new_stack_leaves_nothing() {
    let proxy = FaultProxy::start(&emulator().url());
    proxy.add(Rule::new(
        "DescribeChangeSet",
        Fault::Delay(Duration::from_secs(2)),
    ));
    let co = Checkout::new();
    let stack = "it-sigint-plan";
    let text = through(&proxy, stack);
    co.write_env("pint", &text);

    let plan = child::spawn(co.root(), &["plan", "pint", "--detailed-exitcode"]);
    proxy.wait_for("DescribeChangeSet", 0, START);
    child::signal(&plan, "INT");
    let run = child::wait(plan, EXIT);
    assert_nothing_left_running(&co, &proxy);

    assert_eq!(run.code, Some(130), "{}", run.all());
    assert!(run.all().contains("deleted change set"), "{}", run.all());
    assert_eq!(stack_status(stack), "gone", "not even REVIEW_IN_PROGRESS");
    assert_eq!(co.read_env("pint"), text);
}

/// A Temporal CLI that records that it was started (`started` next to it), then hangs.
fn hanging_cli(co: &Checkout) -> (std::path::PathBuf, std::path::PathBuf) {
    let cli = co.root().join("temporal-hangs");
    let started = co.root().join("started");
    std::fs::write(
        &cli,
        format!("#!/bin/sh\ntouch '{}'\nsleep 120\n", started.display()),
    )
    .unwrap();
    let mut perms = std::fs::metadata(&cli).unwrap().permissions();
    std::os::unix::fs::PermissionsExt::set_mode(&mut perms, 0o755);
    std::fs::set_permissions(&cli, perms).unwrap();
    (cli, started)
}

/// Waits until `path` exists; panics after `limit`.
fn wait_for_file(path: &std::path::Path, limit: Duration) {
    let start = std::time::Instant::now();
    while !path.exists() {
        assert!(start.elapsed() < limit, "{} never appeared", path.display());
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The versions' part of a plan asks the Temporal CLI, which may hang (a frontend that accepts
/// connections and never answers): Ctrl-C still ends the plan at once, and the CLI with it.
#[test]
fn sigint_while_plan_asks_a_hanging_temporal_cli_ends_the_plan_at_once() {
    // A frontend that accepts connections and says nothing.
    let frontend = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let address = frontend.local_addr().unwrap();
    let co = Checkout::new();
    let text = descriptor("it-sigint-cli", "it-sigint-cli-ext", &["worker-1"]).replace(
        "namespaces = [ \"orders\",   \"billing\" ]  # odd spacing kept\n",
        &format!("address = \"{address}\"\n"),
    ) + &format!(
        "\n[[worker_deployments]]\nnamespace = \"orders\"\nname = \"w\"\nbuild_id = \"b1\"\nlambda_function_arn = \"arn:aws:lambda:us-east-1:{ACCOUNT}:function:worker-1\"\n"
    );
    co.write_env("cli", &text);
    let (cli, started) = hanging_cli(&co);

    let plan = child::spawn_with(
        co.root(),
        &["plan", "cli"],
        &[("TEMPORAL_CLI", cli.to_str().unwrap())],
    );
    wait_for_file(&started, START);
    let signalled = std::time::Instant::now();
    child::signal(&plan, "INT");
    let run = child::wait(plan, EXIT);
    assert!(
        signalled.elapsed() < Duration::from_secs(10),
        "the plan went on for {:?} after Ctrl-C:\n{}",
        signalled.elapsed(),
        run.all()
    );
    assert_eq!(run.code, Some(130), "{}", run.all());
    assert!(end_leftovers(co.root()).is_empty(), "the CLI was stopped");
    drop(frontend);
}
