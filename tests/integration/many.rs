//! Many single-stack environments in one command: `deploy --all` and `plan --all` run a bounded
//! number at once (`--jobs`), in the waves the descriptors order (`[deploy] wave`), and stop
//! starting new deploys past a failure tolerance (`--failure-tolerance`).

use std::time::Duration;

use crate::child;
use crate::fault_proxy::{Fault, FaultProxy, Rule};
use crate::support::{Checkout, boto3_at, descriptor, emulator, emulator_of_its_own};

/// `count` environments `many-NNN` on the emulator at `url`, each with its own stack.
fn many(co: &Checkout, url: &str, count: usize, extra: impl Fn(usize) -> String) -> Vec<String> {
    (0..count)
        .map(|i| {
            let name = format!("many-{i:03}");
            let text = descriptor(&format!("it-{name}"), &format!("{name}-ext-id"), &["w"])
                .replace(&emulator().url(), url)
                .replace("confirm = true", &format!("confirm = true\n{}", extra(i)));
            co.write_env(&name, &text);
            name
        })
        .collect()
}

/// 120 environments at once made the emulator (a socket backlog, as AWS's rate limits would)
/// refuse connections, which the tool took for "nothing answers: start the sandbox". Bounded
/// (`--jobs`, default 8), every one is deployed, and planned as unchanged right after.
#[test]
fn deploy_all_over_120_environments_is_bounded_and_all_succeed() {
    let emu = emulator_of_its_own();
    let co = Checkout::new();
    let names = many(&co, &emu.url(), 120, |_| String::new());
    let run = co.xtask(&["deploy", "--all", "--yes"]);
    run.success();
    for n in &names {
        assert!(
            run.stdout
                .contains(&format!("{n}: created stack `it-{n}` (CREATE_COMPLETE)")),
            "{n}:\n{}",
            run.all()
        );
    }
    let run = co.xtask(&["plan", "--all"]);
    run.success();
    assert!(!run.all().contains("error"), "{}", run.all());
}

/// Lower waves first; past the failure tolerance no new deploy starts, and those left are named.
#[test]
fn deploy_all_runs_waves_in_order_and_stops_past_the_failure_tolerance() {
    let emu = emulator_of_its_own();
    let co = Checkout::new();
    // Even ones in wave 0 (staging first), odd ones in wave 1.
    let names = many(&co, &emu.url(), 6, |i| format!("wave = {}", i % 2));
    let run = co.xtask(&["deploy", "--all", "--yes", "--jobs", "2"]);
    run.success();
    // The event lines are live (stderr), each prefixed with its environment.
    let lines: Vec<&str> = run.stderr.lines().collect();
    let at = |n: &String, what: &str| {
        lines
            .iter()
            .position(|l| l.starts_with(&format!("{n} ")) && l.contains(what))
            .unwrap_or_else(|| panic!("no `{what}` line of {n}:\n{}", run.all()))
    };
    let last_of_wave_0 = names
        .iter()
        .step_by(2)
        .map(|n| at(n, "CREATE_COMPLETE"))
        .max()
        .unwrap();
    let first_of_wave_1 = names
        .iter()
        .skip(1)
        .step_by(2)
        .map(|n| at(n, ""))
        .min()
        .unwrap();
    assert!(last_of_wave_0 < first_of_wave_1, "{}", run.stdout);

    // The first environment fails (its stack is in another's hands: a stack of the name without
    // the tool's tag); one at a time with tolerance 0, none of the others starts: all named.
    co.xtask(&["destroy", "many-000", "--yes"]).success();
    crate::support::boto3_at(
        &emu.url(),
        "cloudformation",
        "client.create_stack(StackName='it-many-000', TemplateBody=json.dumps({'Resources': {'T': {'Type': 'AWS::SNS::Topic'}}}))",
    );
    let text = co.read_env("many-000");
    let start = text.find("[outputs]").unwrap_or(text.len());
    co.write_env("many-000", &text[..start]);
    let run = co.xtask(&["deploy", "--all", "--yes", "--jobs", "1"]);
    run.failure();
    assert!(
        run.stderr
            .contains("not started (failure tolerance 0 exceeded): many-001, many-002, many-003, many-004, many-005"),
        "{}",
        run.all()
    );
    // With a tolerance of 1, every other one is deployed (unchanged).
    let run = co.xtask(&["deploy", "--all", "--yes", "--failure-tolerance", "1"]);
    run.failure();
    assert!(!run.stderr.contains("not started"), "{}", run.all());
    assert!(run.stdout.contains("many-005: no changes"), "{}", run.all());
}

/// The emulator's IAM backend has no lock: 120 deploys at once failed 2 roles with "dictionary
/// changed size during iteration" (moto, under werkzeug's threads), and 1 of 200 with 8 at once
/// at 100 ms latency. The launcher runs CloudFormation, IAM, STS and Organizations requests one
/// at a time: 120 at once all succeed.
#[test]
fn the_emulator_takes_120_deploys_at_once() {
    let emu = emulator_of_its_own();
    let co = Checkout::new();
    let names = many(&co, &emu.url(), 120, |_| String::new());
    let run = co.xtask(&["deploy", "--all", "--yes", "--jobs", "120"]);
    run.success();
    assert_eq!(
        run.stdout.matches(": created stack `it-many-").count(),
        names.len()
    );
}

/// The requests of each action in `seen` (a fault proxy's record).
fn count(seen: &[String], action: &str) -> usize {
    seen.iter().filter(|s| *s == action).count()
}

/// The environments of one account share one connection: STS is asked who the caller is once
/// for all of them, not once per environment (7 requests per environment before, 6 now). A
/// plan or a no-op deploy of an unchanged stack reads it (DescribeStacks, GetTemplate) and its
/// role (GetRole, ListRolePolicies, GetRolePolicy, ListAttachedRolePolicies) once each; a
/// deploy also lists the stack's change sets once (ListChangeSets), to delete those an
/// interrupted run left (a plan does not: docs/deploy.md).
#[test]
fn environments_of_one_account_ask_sts_once_and_read_each_stack_once() {
    let emu = emulator_of_its_own();
    let proxy = FaultProxy::start(&emu.url());
    let co = Checkout::new();
    let names = many(&co, &proxy.url(), 10, |_| String::new());
    co.xtask(&["deploy", "--all", "--yes"]).success();
    for command in [&["plan", "--all"][..], &["deploy", "--all", "--yes"]] {
        let mark = proxy.mark();
        co.xtask(command).success();
        let seen = proxy.seen()[mark..].to_vec();
        assert_eq!(
            count(&seen, "GetCallerIdentity"),
            1,
            "{command:?}: {seen:?}"
        );
        for action in [
            "DescribeStacks",
            "GetTemplate",
            "GetRole",
            "ListRolePolicies",
            "GetRolePolicy",
            "ListAttachedRolePolicies",
        ] {
            assert_eq!(
                count(&seen, action),
                names.len(),
                "{command:?} {action}: {seen:?}"
            );
        }
        let deploy = command[0] == "deploy";
        assert_eq!(
            count(&seen, "ListChangeSets"),
            if deploy { names.len() } else { 0 },
            "{command:?}: {seen:?}"
        );
        let per_env = if deploy { 7 } else { 6 };
        assert_eq!(
            seen.len(),
            per_env * names.len() + 1,
            "{command:?}: {seen:?}"
        );
    }
}

/// The reads of one plan that need only the stack go out together: with GetTemplate and
/// GetRole held for a while, the role's other reads arrive meanwhile (one after the other,
/// they came after both answers: 7 round trips per plan, now 3).
#[test]
fn a_plan_reads_the_template_and_the_role_at_once() {
    let emu = emulator_of_its_own();
    let proxy = FaultProxy::start(&emu.url());
    let co = Checkout::new();
    many(&co, &proxy.url(), 1, |_| String::new());
    co.xtask(&["deploy", "many-000", "--yes"]).success();
    let held = Duration::from_secs(15);
    proxy
        .add(Rule::new("GetTemplate", Fault::Delay(held)))
        .add(Rule::new("GetRole", Fault::Delay(held)));
    let mark = proxy.mark();
    let plan = child::spawn(co.root(), &["plan", "many-000"]);
    for action in [
        "ListRolePolicies",
        "GetRolePolicy",
        "ListAttachedRolePolicies",
    ] {
        proxy.wait_for(action, mark, held / 2);
    }
    let run = child::wait(plan, Duration::from_secs(120));
    run.success();
    assert!(
        run.stdout.contains("stack `it-many-000`: no changes"),
        "{}",
        run.all()
    );
}

/// Over their rate limits CloudFormation, IAM and STS answer `Throttling: Rate exceeded`. With
/// a third of every kind of request throttled, `plan --all` (16 at once by default) retries
/// each with back-off and plans every environment, new and unchanged alike.
#[test]
fn plan_all_retries_throttled_requests_with_back_off() {
    let emu = emulator_of_its_own();
    let proxy = FaultProxy::start(&emu.url());
    let co = Checkout::new();
    let names = many(&co, &proxy.url(), 24, |_| String::new());
    let throttled = |co: &Checkout, expect: &str| {
        proxy.add(Rule::new("*", Fault::Throttle).share(33, 22));
        let mark = proxy.mark();
        let run = co.xtask(&["plan", "--all"]);
        proxy.clear();
        run.success();
        for n in &names {
            assert!(
                run.stdout.contains(&format!("stack `it-{n}`: {expect}")),
                "{n}:\n{}",
                run.all()
            );
        }
        assert!(!run.all().contains("error"), "{}", run.all());
        let seen = proxy.seen()[mark..].to_vec();
        assert!(
            seen.len() > 6 * names.len() + 1,
            "some requests were throttled and retried: {seen:?}"
        );
    };
    throttled(&co, "create");
    co.xtask(&["deploy", "--all", "--yes"]).success();
    throttled(&co, "no changes");
}

/// Once a new stack's plan is known, deleting its change set (and the empty stack it made) no
/// longer holds the environment's place among `--jobs`: with every DeleteChangeSet held for a
/// while and 2 at once, the third plan starts meanwhile (before, it waited for a deletion to
/// end). Every deletion still ends before the command does: nothing is left behind.
#[test]
fn deleting_a_plans_change_set_frees_its_place_and_leaves_nothing_behind() {
    let emu = emulator_of_its_own();
    let proxy = FaultProxy::start(&emu.url());
    let co = Checkout::new();
    let names = many(&co, &proxy.url(), 3, |_| String::new());
    let held = Duration::from_secs(12);
    proxy.add(Rule::new("DeleteChangeSet", Fault::Delay(held)));
    let mark = proxy.mark();
    let plan = child::spawn(co.root(), &["plan", "--all", "--jobs", "2"]);
    let started = std::time::Instant::now();
    let create_change_sets = || {
        proxy.seen()[mark..]
            .iter()
            .filter(|a| *a == "CreateChangeSet")
            .count()
    };
    while create_change_sets() < 3 {
        assert!(
            // Waiting for a deletion would take at least `held`.
            started.elapsed() < held,
            "the third plan waited for a deletion: {:?}",
            proxy.seen()[mark..].to_vec()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let run = child::wait(plan, Duration::from_secs(120));
    run.success();
    for n in &names {
        assert!(
            run.stdout.contains(&format!("stack `it-{n}`: create")),
            "{n}:\n{}",
            run.all()
        );
    }
    let seen = proxy.seen()[mark..].to_vec();
    assert_eq!(count(&seen, "DeleteChangeSet"), names.len(), "{seen:?}");
    assert_eq!(count(&seen, "DeleteStack"), names.len(), "{seen:?}");
    let left = boto3_at(
        &emu.url(),
        "cloudformation",
        "print(sorted(s['StackStatus'] for s in client.list_stacks()['StackSummaries'] if s['StackStatus'] != 'DELETE_COMPLETE'))",
    );
    assert_eq!(left, "[]", "{}", run.all());
}
