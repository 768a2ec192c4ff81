//! Faults between the tool and AWS, injected by a loopback proxy: throttling and 5xx are
//! retried, errors while watching an executed change set never fail a deploy that succeeded, a
//! deadline ends a wait with what is still running, and a silent endpoint cannot hang the tool.

use std::time::{Duration, Instant};

use crate::child;
use crate::fault_proxy::{BlackHole, Fault, FaultProxy, Rule};
use crate::signals::stack_status;
use crate::support::{ACCOUNT, Checkout, cfn, descriptor, emulator};

const LIMIT: Duration = Duration::from_secs(240);

fn through(url: &str, stack: &str) -> String {
    descriptor(stack, &format!("{stack}-ext"), &["worker-1"]).replace(&emulator().url(), url)
}

fn stack_id_prefix(stack: &str) -> String {
    format!("arn:aws:cloudformation:us-east-1:{ACCOUNT}:stack/{stack}/")
}

#[test]
fn every_call_throttled_three_times_still_deploys() {
    let proxy = FaultProxy::start(&emulator().url());
    for action in [
        "DescribeStacks",
        "CreateChangeSet",
        "DescribeChangeSet",
        "DescribeStackEvents",
        "ExecuteChangeSet",
    ] {
        proxy.add(Rule::new(action, Fault::Throttle).times(3));
    }
    let co = Checkout::new();
    let stack = "it-throttled";
    co.write_env("thr", &through(&proxy.url(), stack));

    let run = child::wait(child::spawn(co.root(), &["deploy", "thr", "--yes"]), LIMIT);
    run.success();
    assert!(
        run.stdout.contains("thr: created stack `it-throttled`"),
        "{}",
        run.all()
    );
    assert!(co.read_env("thr").contains(&stack_id_prefix(stack)));
    assert!(
        proxy.count("CreateChangeSet") == 4 && proxy.count("ExecuteChangeSet") == 4,
        "each throttled call was retried: {:?}",
        proxy.seen()
    );
    proxy.clear();
    co.xtask(&["destroy", "thr", "--yes"]).success();
}

#[test]
fn server_errors_and_dropped_connections_while_watching_still_end_created_and_recorded() {
    let proxy = FaultProxy::start(&emulator().url());
    proxy
        .add(
            Rule::new("DescribeStackEvents", Fault::Status(503))
                .after("ExecuteChangeSet")
                .times(6),
        )
        .add(
            Rule::new("DescribeStacks", Fault::Drop)
                .after("ExecuteChangeSet")
                .times(3),
        )
        .add(
            Rule::new("DescribeStacks", Fault::Status(500))
                .after("ExecuteChangeSet")
                .times(3),
        );
    let co = Checkout::new();
    let stack = "it-watch-5xx";
    let text = through(&proxy.url(), stack);
    co.write_env("w5", &text);

    let run = child::wait(child::spawn(co.root(), &["deploy", "w5", "--yes"]), LIMIT);
    run.success();
    assert!(
        run.stdout
            .contains("w5: created stack `it-watch-5xx` (CREATE_COMPLETE)"),
        "{}",
        run.all()
    );
    let after = co.read_env("w5");
    assert!(after.starts_with(&text), "{after}");
    assert!(
        after.contains(&stack_id_prefix(stack)),
        "outputs recorded:\n{after}"
    );
    proxy.clear();
    co.xtask(&["destroy", "w5", "--yes"]).success();
}

#[test]
fn an_expired_deadline_says_what_is_still_running_and_the_descriptor_stays() {
    let proxy = FaultProxy::start(&emulator().url());
    proxy.hold_creation_in_progress();
    let co = Checkout::new();
    let stack = "it-deadline";
    let text = through(&proxy.url(), stack);
    co.write_env("dl", &text);

    let started = Instant::now();
    let run = child::wait(
        child::spawn(co.root(), &["deploy", "dl", "--yes", "--timeout", "4s"]),
        LIMIT,
    );
    assert!(
        started.elapsed() < Duration::from_secs(60),
        "{:?}",
        started.elapsed()
    );
    run.failure();
    let all = run.all();
    assert!(all.contains("timed out after 4s"), "{all}");
    assert!(
        all.contains(&stack_id_prefix(stack)) && all.contains("CREATE_IN_PROGRESS"),
        "names the stack by id and its status:\n{all}"
    );
    assert!(
        all.contains("CloudFormation goes on") && all.contains("cargo xtask deploy dl"),
        "says what goes on and what to do:\n{all}"
    );
    assert_eq!(co.read_env("dl"), text);
    assert_eq!(stack_status(stack), "CREATE_COMPLETE");
    proxy.clear();
    co.xtask(&["destroy", "dl", "--yes"]).success();
}

#[test]
fn an_endpoint_that_never_answers_times_out_instead_of_hanging() {
    let hole = BlackHole::start();
    let co = Checkout::new();
    let text = through(&hole.url(), "it-black-hole");
    co.write_env("bh", &text);

    for args in [
        &["deploy", "bh", "--yes", "--timeout", "3s"][..],
        &["destroy", "bh", "--yes", "--timeout", "3s"],
    ] {
        let started = Instant::now();
        let run = child::wait(child::spawn(co.root(), args), Duration::from_secs(60));
        run.failure();
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "{args:?} took {:?}",
            started.elapsed()
        );
        let all = run.all();
        assert!(
            all.contains("timed out after 3s")
                && all.contains(&format!("GetCallerIdentity from {}", hole.url())),
            "{args:?}: names the call that got no answer:\n{all}"
        );
        assert_eq!(co.read_env("bh"), text);
    }
}

#[test]
fn a_timeout_that_is_no_duration_is_refused() {
    let co = Checkout::new();
    let run = co.xtask(&["deploy", "any", "--timeout", "10 minutes"]);
    assert_eq!(run.code, Some(64), "a usage error: {}", run.all());
    assert!(
        run.stderr
            .contains("`10 minutes` is not a duration; allowed: e.g. `90s`, `30m`, `1h`"),
        "{}",
        run.stderr
    );
}

/// The live (not deleted) stacks named `stack`, by ID, with their status.
fn stacks_named(stack: &str) -> Vec<String> {
    let out = cfn(&format!(
        "p = cfn.get_paginator('list_stacks')\n\
         for page in p.paginate():\n\
         \x20   for s in page['StackSummaries']:\n\
         \x20       if s['StackName'] == '{stack}' and s['StackStatus'] != 'DELETE_COMPLETE':\n\
         \x20           print(s['StackId'], s['StackStatus'])"
    ));
    out.lines().map(str::to_owned).collect()
}

/// CreateChangeSet took effect but its answer was lost: the retry finds the change set it
/// asked for (same name, same client token) instead of making a second stack of the name.
#[test]
fn a_lost_answer_to_create_change_set_makes_one_stack_and_records_it() {
    let proxy = FaultProxy::start(&emulator().url());
    proxy.add(Rule::new("CreateChangeSet", Fault::Lose).times(1));
    let co = Checkout::new();
    let stack = "it-lost-ccs";
    co.write_env("lc", &through(&proxy.url(), stack));

    let run = child::wait(child::spawn(co.root(), &["deploy", "lc", "--yes"]), LIMIT);
    run.success();
    assert!(
        proxy.count("CreateChangeSet") >= 2,
        "the lost request was retried: {:?}",
        proxy.seen()
    );
    let live = stacks_named(stack);
    assert_eq!(
        live.len(),
        1,
        "one stack of the name: {live:?}\n{}",
        run.all()
    );
    assert!(live[0].ends_with(" CREATE_COMPLETE"), "{live:?}");
    let id = live[0].split(' ').next().unwrap();
    assert!(
        co.read_env("lc").contains(&format!("stack_id = \"{id}\"")),
        "the live stack is recorded:\n{}",
        co.read_env("lc")
    );
    proxy.clear();
    co.xtask(&["destroy", "lc", "--yes"]).success();
    assert!(stacks_named(stack).is_empty());
}

/// `[outputs] stack_id` of the descriptor's text, if recorded.
fn recorded_id(text: &str) -> Option<String> {
    let at = text.find("stack_id = \"")? + "stack_id = \"".len();
    Some(text[at..at + text[at..].find('"')?].to_owned())
}

/// `deploy --all` over several environments while a fifth of the requests (a seeded, fixed
/// choice) is dropped before reaching AWS or loses its answer after taking effect, and half the
/// ExecuteChangeSet answers are lost (the SDK's retry is then refused: the change set is already
/// executing), and one environment cannot reach AWS at all: every
/// environment whose stack exists has it recorded, by its live ID, whether or not other
/// environments failed; no stack is left behind in review; and a second run converges.
#[test]
fn deploy_all_with_requests_lost_records_every_live_stack() {
    let proxy = FaultProxy::start(&emulator().url());
    proxy
        .add(Rule::new("ExecuteChangeSet", Fault::Lose).share(50, 3))
        .add(Rule::new("*", Fault::Lose).share(10, 7))
        .add(Rule::new("*", Fault::Drop).share(10, 11));
    let co = Checkout::new();
    let names: Vec<String> = (1..=5).map(|i| format!("lossy{i}")).collect();
    for n in &names {
        let text =
            through(&proxy.url(), &format!("it-{n}")).replace("confirm = true", "confirm = false");
        co.write_env(n, &text);
    }
    // One more that fails for good (nothing listens at its endpoint): the others are recorded
    // regardless.
    let down = format!("http://127.0.0.1:{}", crate::support::free_port());
    co.write_env(
        "lossy-down",
        &through(&down, "it-lossy-down").replace("confirm = true", "confirm = false"),
    );
    let check = |run: &crate::support::Run| {
        for n in &names {
            let stack = format!("it-{n}");
            let live = stacks_named(&stack);
            assert!(live.len() <= 1, "{n}: one stack of the name: {live:?}");
            let recorded = recorded_id(&co.read_env(n));
            match live.first().map(|l| l.split_once(' ').unwrap()) {
                Some((id, status)) => {
                    assert!(
                        status.ends_with("_COMPLETE"),
                        "{n}: nothing left half done: {live:?}\n{}",
                        run.all()
                    );
                    assert_eq!(
                        recorded.as_deref(),
                        Some(id),
                        "{n}: the live stack is recorded\n{}",
                        run.all()
                    );
                }
                None => assert_eq!(recorded, None, "{n}: {}", run.all()),
            }
        }
    };
    let run = child::wait(
        child::spawn(co.root(), &["deploy", "--all", "--yes"]),
        LIMIT,
    );
    let lost = proxy.seen().len();
    run.failure();
    assert!(run.stderr.contains("lossy-down: "), "{}", run.all());
    check(&run);
    proxy.clear();
    std::fs::remove_file(co.env_path("lossy-down")).unwrap();
    let again = child::wait(
        child::spawn(co.root(), &["deploy", "--all", "--yes"]),
        LIMIT,
    );
    again.success();
    check(&again);
    eprintln!(
        "{lost} requests in the first run; first run:\n{}",
        run.all()
    );
    for n in &names {
        co.xtask(&["destroy", n, "--yes"]).success();
    }
}
