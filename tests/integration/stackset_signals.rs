//! Ctrl-C during a StackSet operation stops the rollout: the operation the run started gets
//! StopStackSetOperation (as its StackSet's CallAs), the run says which operation it stopped and
//! how to resume, exits 130 (143 for SIGTERM), and leaves the descriptor as it was; the next
//! `deploy` (or `destroy`) carries on from there.
//!
//! The emulator reaches an operation's accounts batch by batch over its running time, as AWS
//! does (`max_concurrent_count = 1` over three accounts: one account per third of it), and a
//! stop never begins the batches left: the accounts the run reached have their role (or lost
//! it), the others are left alone until the next run completes them.

use std::time::Duration;

use serde_json::Value;

use crate::child;
use crate::fault_proxy::FaultProxy;
use crate::stackset_deploy::{
    descriptor, every_accounts_role, organization, recorded_roles, roles, step,
};
use crate::support::{Checkout, emulator_with_stack_set_operations_of};

/// Long enough for the run to be signalled while its operation is RUNNING, on a loaded machine.
const RUNNING: Duration = Duration::from_secs(30);
const START: Duration = Duration::from_secs(120);
const EXIT: Duration = Duration::from_secs(30);
const STACK_SET: &str = "temporal-invocation-role";

/// Every operation of the StackSet: [action, status].
fn operations(url: &str) -> Value {
    step(
        url,
        &format!(
            "print(json.dumps([[o['Action'], o['Status']] for o in \
             client.list_stack_set_operations(StackSetName='{STACK_SET}')['Summaries']]))"
        ),
    )
}

/// The results of the StackSet's operation number `index` (in the order they started):
/// [account, status].
fn operation_results(url: &str, index: usize) -> Value {
    step(
        url,
        &format!(
            "op = client.list_stack_set_operations(StackSetName='{STACK_SET}')['Summaries'][{index}]['OperationId']\n\
             print(json.dumps([[r['Account'], r['Status']] for r in \
             client.list_stack_set_operation_results(StackSetName='{STACK_SET}', OperationId=op)['Summaries']]))"
        ),
    )
}

/// Which of `accounts` hold the role, in their order (each account's IAM, through the emulator).
fn holders(url: &str, accounts: &[String]) -> Vec<String> {
    let found = roles(url, accounts);
    accounts
        .iter()
        .filter(|a| !found[a.as_str()].is_null())
        .cloned()
        .collect()
}

/// Signals `args` with `signal` once its first StackSet operation is watched (after `mark` on
/// `proxy`), and returns how it ended.
fn interrupted(
    repo: &Checkout,
    proxy: &FaultProxy,
    args: &[&str],
    signal: &str,
) -> crate::support::Run {
    let mark = proxy.mark();
    let run = child::spawn(repo.root(), args);
    proxy.wait_for("DescribeStackSetOperation", mark, START);
    child::signal(&run, signal);
    child::wait(run, EXIT)
}

#[test]
fn ctrl_c_during_a_stack_set_operation_stops_it_and_the_next_run_resumes() {
    let emu = emulator_with_stack_set_operations_of(RUNNING);
    let proxy = FaultProxy::start(&emu.url());
    let (_, ou, members) = organization(&emu.url(), false);
    let repo = Checkout::new();
    let text = descriptor(&proxy.url(), &ou, "ext-id-stopped")
        .replace("max_concurrent_count = 3", "max_concurrent_count = 1");
    assert!(text.contains("max_concurrent_count = 1\n"), "{text}");
    repo.write_env("fleet", &text);

    // Ctrl-C while CreateStackInstances runs, during its first account: stopped, not waited
    // for to its end; only that account got the role.
    let run = interrupted(&repo, &proxy, &["deploy", "fleet", "--yes"], "INT");
    assert_eq!(run.code, Some(130), "{}", run.all());
    assert_eq!(
        proxy.count("StopStackSetOperation"),
        1,
        "{:?}",
        proxy.seen()
    );
    assert_eq!(
        operations(&emu.url()),
        serde_json::json!([["CREATE", "STOPPED"]])
    );
    let all = run.all();
    assert!(
        all.contains("SIGINT: stopping; undoing what was never executed and stopping the StackSet operation under way"),
        "says what it does first:\n{all}"
    );
    assert!(
        all.contains("stopped StackSet `temporal-invocation-role` operation tsw-"),
        "names the operation it stopped:\n{all}"
    );
    assert!(
        all.contains("cargo xtask deploy fleet"),
        "says how to resume:\n{all}"
    );
    assert_eq!(repo.read_env("fleet"), text, "the descriptor is as it was");
    assert_eq!(
        holders(&emu.url(), &members),
        [members[0].clone()],
        "only the account under way got the role"
    );
    assert_eq!(
        operation_results(&emu.url(), 0),
        serde_json::json!([[members[0], "SUCCEEDED"]]),
        "the operation reached that account alone"
    );

    // The next deploy completes and records every account; plan agrees.
    repo.xtask(&["deploy", "fleet", "--yes"]).success();
    assert_eq!(holders(&emu.url(), &members), members);
    assert_eq!(
        recorded_roles(&repo.read_env("fleet")),
        every_accounts_role(&members)
    );
    let plan = repo.xtask(&["plan", "fleet", "--detailed-exitcode"]);
    assert_eq!(plan.code, Some(0), "{}", plan.all());

    // SIGTERM while DeleteStackInstances runs: stopped; the StackSet and [outputs] are kept,
    // and the next destroy deletes what is left, then the StackSet.
    let deployed = repo.read_env("fleet");
    let run = interrupted(&repo, &proxy, &["destroy", "fleet", "--yes"], "TERM");
    assert_eq!(run.code, Some(143), "{}", run.all());
    assert_eq!(
        proxy.count("StopStackSetOperation"),
        2,
        "{:?}",
        proxy.seen()
    );
    assert_eq!(
        operations(&emu.url()).as_array().unwrap().last(),
        Some(&serde_json::json!(["DELETE", "STOPPED"]))
    );
    let all = run.all();
    assert!(
        all.contains("stopped StackSet `temporal-invocation-role` operation tsw-"),
        "names the operation it stopped:\n{all}"
    );
    assert!(
        all.contains("cargo xtask destroy fleet"),
        "says how to resume:\n{all}"
    );
    assert_eq!(repo.read_env("fleet"), deployed, "[outputs] kept");
    assert_eq!(
        holders(&emu.url(), &members),
        members[1..],
        "only the account under way lost the role"
    );
    repo.xtask(&["destroy", "fleet", "--yes"]).success();
    assert_eq!(
        roles(&emu.url(), &members),
        serde_json::json!(
            members
                .iter()
                .map(|a| (a.clone(), Value::Null))
                .collect::<serde_json::Map<_, _>>()
        )
    );
    assert!(!repo.read_env("fleet").contains("[outputs"));
}

/// `deploy --all`: Ctrl-C while a StackSet environment's operation runs in its wave stops that
/// operation; the wave after it never starts; the next `deploy --all` completes every
/// environment.
#[test]
fn ctrl_c_during_deploy_all_stops_the_stack_set_operation_of_its_wave() {
    let emu = emulator_with_stack_set_operations_of(RUNNING);
    let proxy = FaultProxy::start(&emu.url());
    let (_, ou, members) = organization(&emu.url(), false);
    let repo = Checkout::new();
    let single = |name: &str, wave: u16| {
        crate::support::descriptor(&format!("it-{name}"), &format!("{name}-ext-id"), &["w"])
            .replace(&crate::support::emulator().url(), &proxy.url())
            .replace("confirm = true", &format!("confirm = true\nwave = {wave}"))
    };
    let envs = [
        ("staging", single("staging-stop", 0)),
        (
            "fleet",
            descriptor(&proxy.url(), &ou, "ext-id-all")
                .replace("confirm = true", "confirm = true\nwave = 1"),
        ),
        ("production", single("production-stop", 2)),
    ];
    for (name, text) in &envs {
        repo.write_env(name, text);
    }

    let run = interrupted(&repo, &proxy, &["deploy", "--all", "--yes"], "INT");
    assert_eq!(run.code, Some(130), "{}", run.all());
    assert_eq!(
        proxy.count("StopStackSetOperation"),
        1,
        "{:?}",
        proxy.seen()
    );
    assert_eq!(
        operations(&emu.url()),
        serde_json::json!([["CREATE", "STOPPED"]])
    );
    let all = run.all();
    assert!(
        all.contains("fleet: interrupted; stopped StackSet `temporal-invocation-role` operation")
            && all.contains("fleet: run `cargo xtask deploy fleet` to resume"),
        "{all}"
    );
    for (name, text) in &envs {
        assert_eq!(&repo.read_env(name), text, "{name} is as it was");
    }
    assert_eq!(
        step(
            &emu.url(),
            "print(json.dumps([s['StackName'] for s in client.list_stacks()['StackSummaries'] \
             if s['StackName'].startswith('it-production-stop')]))"
        ),
        serde_json::json!([]),
        "the wave after the StackSet's never started"
    );

    repo.xtask(&["deploy", "--all", "--yes"]).success();
    assert_eq!(recorded_roles(&repo.read_env("fleet")).len(), members.len());
    for env in ["staging", "production"] {
        assert!(repo.read_env(env).contains("role_arn = "), "{env}");
    }
    let plan = repo.xtask(&["plan", "--all", "--detailed-exitcode"]);
    assert_eq!(plan.code, Some(0), "{}", plan.all());
}
