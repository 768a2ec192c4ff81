//! Checks that tell the truth: `deploy` does not execute unconfirmed without a terminal,
//! `status` exits non-zero whenever the descriptor and the live stack or role disagree (with a
//! distinct code for each side), and `doctor` counts only what proves something.

use crate::support::{ACCOUNT, Checkout, cfn, descriptor, iam};

/// The stacks the emulator knows by this name (any status but DELETE_COMPLETE).
fn live_stacks(stack: &str) -> String {
    cfn(&format!(
        "print([s['StackStatus'] for s in cfn.list_stacks()['StackSummaries'] \
         if s['StackName'] == '{stack}' and s['StackStatus'] != 'DELETE_COMPLETE'])"
    ))
}

#[test]
fn deploy_without_a_terminal_refuses_unless_confirmed_up_front() {
    let co = Checkout::new();
    let stack = "it-confirm-rule";
    let text = descriptor(stack, "confirm-ext-id", &["worker-1"]);
    assert!(text.contains("confirm = true"));
    co.write_env("cr", &text);

    // The tests run without a terminal: confirm = true and no --yes is a refusal.
    let run = co.xtask(&["deploy", "cr"]);
    assert_ne!(run.code, Some(0), "{}", run.all());
    assert!(
        run.stderr.contains("--yes") && run.stderr.contains("confirm = false"),
        "says how to confirm:\n{}",
        run.stderr
    );
    assert_eq!(
        live_stacks(stack),
        "[]",
        "nothing was created, no change set"
    );
    assert_eq!(co.read_env("cr"), text);
    assert!(
        !co.root().join("environments/cr").exists(),
        "nothing rendered either"
    );

    // Confirmed by the flag, or by the descriptor.
    co.xtask(&["deploy", "cr", "--yes"]).success();
    let unconfirmed = co
        .read_env("cr")
        .replace("confirm = true", "confirm = false");
    co.write_env("cr", &unconfirmed);
    co.xtask(&["deploy", "cr"]).success();
    co.xtask(&["destroy", "cr", "--yes"]).success();
}

#[test]
fn status_exits_2_when_the_descriptor_has_undeployed_changes() {
    let co = Checkout::new();
    let stack = "it-status-undeployed";
    co.write_env(
        "su",
        &descriptor(stack, "status-ext-id", &["worker-1", "worker-2"]),
    );
    co.xtask(&["deploy", "su", "--yes"]).success();
    co.xtask(&["status", "su"]).success();

    let deployed = co.read_env("su");
    co.write_env("su", &deployed.replace("status-ext-id", "status-ext-id-2"));
    // What status shows is in the snapshots (snapshots.rs).
    let run = co.xtask(&["status", "su"]);
    assert_eq!(run.code, Some(2), "{}", run.all());

    // A function dropped from the list is an undeployed change too.
    let one_function = deployed.replace(
        &format!(",\n  \"arn:aws:lambda:us-east-1:{ACCOUNT}:function:worker-2\""),
        "",
    );
    assert_ne!(one_function, deployed);
    co.write_env("su", &one_function);
    let run = co.xtask(&["status", "su"]);
    assert_eq!(run.code, Some(2), "{}", run.all());
    assert!(run.stdout.contains("LambdaFunctionARNs"), "{}", run.stdout);

    co.write_env("su", &deployed);
    co.xtask(&["status", "su"]).success();
    co.xtask(&["destroy", "su", "--yes"]).success();
}

#[test]
fn status_and_doctor_catch_an_out_of_band_trust_policy_edit() {
    let co = Checkout::new();
    let stack = "it-status-oob";
    co.write_env("oob", &descriptor(stack, "oob-ext-id", &["worker-1"]));
    co.xtask(&["deploy", "oob", "--yes"]).success();
    co.xtask(&["status", "oob"]).success();

    // Someone edits the role's trust policy by hand: another principal, another external ID.
    let role = format!("Temporal-Serverless-Worker-{stack}");
    iam(&format!(
        "iam.update_assume_role_policy(RoleName='{role}', PolicyDocument=json.dumps({{\
         'Version': '2012-10-17', 'Statement': [{{'Effect': 'Allow', \
         'Principal': {{'AWS': 'arn:aws:iam::{ACCOUNT}:role/someone-else'}}, \
         'Action': 'sts:AssumeRole', \
         'Condition': {{'StringEquals': {{'sts:ExternalId': 'tampered-id'}}}}}}]}}))"
    ));
    // How status and doctor name what differs is in the snapshots (snapshots.rs).
    let run = co.xtask(&["status", "oob"]);
    assert_eq!(run.code, Some(3), "{}", run.all());
    let run = co.xtask(&["doctor", "oob"]);
    run.failure();
    assert!(
        run.line("role as declared").starts_with("FAIL"),
        "{}",
        run.stdout
    );

    // The invoke policy, edited by hand, is caught too.
    iam(&format!(
        "iam.put_role_policy(RoleName='{role}', PolicyName='Temporal-Lambda-Invoke-Permissions', \
         PolicyDocument=json.dumps({{'Version': '2012-10-17', 'Statement': [{{'Effect': 'Allow', \
         'Action': ['lambda:*'], 'Resource': '*'}}]}}))"
    ));
    let run = co.xtask(&["status", "oob"]);
    assert_eq!(run.code, Some(3), "{}", run.all());
    assert!(run.stdout.contains("lambda:*"), "{}", run.stdout);

    // So is a managed policy attached to the role.
    let policy = format!("arn:aws:iam::{ACCOUNT}:policy/{stack}-extra");
    iam(&format!(
        "iam.create_policy(PolicyName='{stack}-extra', PolicyDocument=json.dumps({{\
         'Version': '2012-10-17', 'Statement': [{{'Effect': 'Allow', 'Action': 's3:*', \
         'Resource': '*'}}]}})); iam.attach_role_policy(RoleName='{role}', PolicyArn='{policy}')"
    ));
    let run = co.xtask(&["status", "oob"]);
    assert_eq!(run.code, Some(3), "{}", run.all());
    assert!(run.stdout.contains(&policy), "{}", run.stdout);
    iam(&format!(
        "iam.detach_role_policy(RoleName='{role}', PolicyArn='{policy}'); \
         iam.delete_policy(PolicyArn='{policy}')"
    ));
    co.xtask(&["destroy", "oob", "--yes"]).success();
}

#[test]
fn doctor_does_not_count_a_denial_for_a_caller_the_trust_policy_does_not_name() {
    let co = Checkout::new();
    let stack = "it-doctor-untrusted";
    // The trust policy names a role these credentials (user/moto) are not.
    let text = descriptor(stack, "untrusted-ext-id", &["worker-1"]).replace(
        &format!("arn:aws:iam::{ACCOUNT}:user/moto"),
        &format!("arn:aws:iam::{ACCOUNT}:role/temporal-server"),
    );
    co.write_env("du", &text);
    co.xtask(&["deploy", "du", "--yes"]).success();
    let run = co.xtask(&["doctor", "du"]);
    let line = run.line("without the external ID");
    assert!(
        line.starts_with("WARN") && line.contains("not prove"),
        "{}",
        run.stdout
    );
    co.xtask(&["destroy", "du", "--yes"]).success();
}
