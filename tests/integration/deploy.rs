//! The deploy lifecycle against the emulator: create, no-op, update, status, destroy, a failed
//! creation and its replacement.

use crate::support::{ACCOUNT, Checkout, cfn, descriptor, iam};

fn outputs_table(text: &str) -> &str {
    &text[text.find("[outputs]").expect("an [outputs] table")..]
}

#[test]
fn create_noop_update_status_destroy_and_comments_survive() {
    let co = Checkout::new();
    let stack = "it-lifecycle";
    let original = descriptor(stack, "lifecycle-ext-id", &["worker-1"]);
    co.write_env("lc", &original);

    // Create.
    let run = co.xtask(&["deploy", "lc", "--yes"]);
    run.success();
    assert!(
        run.stdout
            .contains("lc: created stack `it-lifecycle` (CREATE_COMPLETE)"),
        "{}",
        run.stdout
    );
    assert!(
        run.stderr.contains("+ Add     TemporalServerlessWorker"),
        "the change preview lists the role:\n{}",
        run.stderr
    );
    assert!(
        run.stderr
            .contains("CREATE_COMPLETE      TemporalServerlessWorker (AWS::IAM::Role)"),
        "events are shown:\n{}",
        run.stderr
    );
    let role_arn = format!("arn:aws:iam::{ACCOUNT}:role/Temporal-Serverless-Worker-{stack}");
    assert!(run.stdout.contains(&role_arn), "{}", run.stdout);
    let after_create = co.read_env("lc");
    assert!(
        after_create.starts_with(&original),
        "every byte before [outputs] is kept:\n{after_create}"
    );
    let outputs = outputs_table(&after_create);
    assert!(
        outputs.contains(&format!("role_arn = \"{role_arn}\"")),
        "{outputs}"
    );
    assert!(
        outputs.contains(&format!(
            "stack_id = \"arn:aws:cloudformation:us-east-1:{ACCOUNT}:stack/{stack}/"
        )),
        "{outputs}"
    );
    assert!(outputs.contains("deployed_at = \"20"), "{outputs}");
    // The rendered files were written for review.
    let params =
        std::fs::read_to_string(co.root().join("environments/lc/parameters.json")).unwrap();
    assert!(params.contains("lifecycle-ext-id"), "{params}");

    // No-op: says so, changes nothing, not even the file.
    let run = co.xtask(&["deploy", "lc", "--yes"]);
    run.success();
    assert!(
        run.stdout
            .contains("lc: no changes; stack `it-lifecycle` is up to date"),
        "{}",
        run.stdout
    );
    assert!(
        !run.stderr.contains("changes to stack"),
        "no change set for a no-op:\n{}",
        run.stderr
    );
    assert_eq!(co.read_env("lc"), after_create);

    // Status agrees with the record.
    let run = co.xtask(&["status", "lc"]);
    run.success();
    assert!(
        run.stdout
            .contains("stack `it-lifecycle` is CREATE_COMPLETE"),
        "{}",
        run.stdout
    );
    assert!(run.stdout.contains("match the stack"), "{}", run.stdout);

    // Update: a second function.
    let updated = after_create.replace(
        &format!("\"arn:aws:lambda:us-east-1:{ACCOUNT}:function:worker-1\","),
        &format!("\"arn:aws:lambda:us-east-1:{ACCOUNT}:function:worker-1\", \"arn:aws:lambda:us-east-1:{ACCOUNT}:function:worker-2\","),
    );
    assert_ne!(updated, after_create);
    co.write_env("lc", &updated);
    let run = co.xtask(&["deploy", "lc", "--yes"]);
    run.success();
    assert!(
        run.stdout
            .contains("lc: updated stack `it-lifecycle` (UPDATE_COMPLETE)"),
        "{}\n{}",
        run.stdout,
        run.stderr
    );
    assert!(
        run.stderr
            .contains("~ Modify  TemporalLambdaInvokePermissions"),
        "{}",
        run.stderr
    );
    assert!(
        run.stdout.contains("function:worker-2"),
        "the new output is printed:\n{}",
        run.stdout
    );
    let after_update = co.read_env("lc");
    // What the user wrote: everything before the table the tool appended.
    let before_outputs = &updated[..updated.find("\n# Recorded by").unwrap()];
    assert_eq!(
        before_outputs,
        original.replace(
            "worker-1\",",
            "worker-1\", \"arn:aws:lambda:us-east-1:123456789012:function:worker-2\","
        )
    );
    assert!(after_update.starts_with(before_outputs), "{after_update}");
    // And the no-op holds after an update too.
    co.xtask(&["deploy", "lc", "--yes"])
        .success()
        .stdout
        .contains("no changes")
        .then_some(())
        .expect("no-op after update");

    // A recorded output that no longer matches is reported (the ID of an earlier stack of
    // the same name: well-formed, so `validate` cannot tell).
    let recorded_id = after_update
        .lines()
        .find(|l| l.starts_with("stack_id = "))
        .unwrap();
    let tampered = after_update.replace(
        recorded_id,
        &format!(
            "stack_id = \"arn:aws:cloudformation:us-east-1:{ACCOUNT}:stack/{stack}/an-earlier-stack\""
        ),
    );
    co.write_env("lc", &tampered);
    let run = co.xtask(&["status", "lc"]);
    assert_eq!(
        run.code,
        Some(2),
        "a stale record: deploy fixes it\n{}",
        run.all()
    );
    assert!(
        run.stdout.contains("do not match the stack"),
        "{}",
        run.stdout
    );
    // `doctor` makes the same comparison, and names what differs.
    let run = co.xtask(&["doctor", "lc"]);
    run.failure();
    let line = run.line("recorded outputs");
    assert!(
        line.starts_with("FAIL") && line.contains("stack_id") && line.contains("an-earlier-stack"),
        "{}",
        run.stdout
    );
    co.write_env("lc", &after_update);

    // Destroy: the stack is gone and the file is back to what the user wrote.
    let run = co.xtask(&["destroy", "lc", "--yes"]);
    run.success();
    assert!(
        run.stdout.contains("deleted stack `it-lifecycle`"),
        "{}",
        run.stdout
    );
    assert_eq!(
        co.read_env("lc"),
        before_outputs,
        "byte for byte what the user wrote"
    );
    // The descriptor still describes a stack, which is not deployed.
    let run = co.xtask(&["status", "lc"]);
    assert_eq!(run.code, Some(2), "{}", run.all());
    assert!(run.stdout.contains("does not exist"), "{}", run.stdout);
}

/// Creates an IAM role directly in the emulator (with boto3 from the emulator's virtualenv), so
/// that the stack's role name is taken and its creation fails.
fn create_role_outside_the_stack(name: &str) {
    iam(&format!(
        "iam.create_role(RoleName='{name}', AssumeRolePolicyDocument=json.dumps({{'Version': '2012-10-17', 'Statement': []}}))"
    ));
}

fn delete_role(name: &str) {
    iam(&format!("iam.delete_role(RoleName='{name}')"));
}

#[test]
fn failed_creation_is_explained_rolled_back_and_replaceable() {
    let co = Checkout::new();
    let stack = "it-failure";
    let text = descriptor(stack, "failure-ext-id", &["worker-1"]);
    co.write_env("fail", &text);
    let role_name = format!("Temporal-Serverless-Worker-{stack}");
    create_role_outside_the_stack(&role_name);

    let run = co.xtask(&["deploy", "fail", "--yes"]);
    run.failure();
    let all = run.all();
    assert!(all.contains("ended in ROLLBACK_COMPLETE"), "{all}");
    assert!(
        all.contains("CREATE_FAILED TemporalServerlessWorker (AWS::IAM::Role)"),
        "the failing resource is named:\n{all}"
    );
    assert!(
        all.contains("already exists"),
        "the reason is given:\n{all}"
    );
    assert!(all.contains("was left as it was"), "{all}");
    assert_eq!(co.read_env("fail"), text, "the descriptor is untouched");

    // Deploying again explains the state and the way out.
    let run = co.xtask(&["deploy", "fail", "--yes"]);
    run.failure();
    assert!(
        run.all().contains("is in ROLLBACK_COMPLETE") && run.all().contains("--replace-failed"),
        "{}",
        run.all()
    );
    assert_eq!(co.read_env("fail"), text);

    // With the conflict gone, --replace-failed deletes the dead stack and creates it anew.
    delete_role(&role_name);
    let run = co.xtask(&["deploy", "fail", "--yes", "--replace-failed"]);
    run.success();
    assert!(
        run.stdout
            .contains("created stack `it-failure` (CREATE_COMPLETE)"),
        "{}\n{}",
        run.stdout,
        run.stderr
    );
    assert!(co.read_env("fail").contains("[outputs]"));
    co.xtask(&["destroy", "fail", "--yes"]).success();
}

#[test]
fn invalid_descriptor_fails_before_any_aws_call_and_changes_nothing() {
    let co = Checkout::new();
    // The endpoint is dead: any AWS call would fail with a connection error instead.
    let dead = descriptor("it-invalid", "bad", &["worker-1"])
        .replace(&crate::support::emulator().url(), "http://127.0.0.1:9");
    // Every value's problem at once; a structural one (an unknown key) alone.
    let values = dead.replace("region   =   \"us-east-1\"", "region = \"moon-1\"");
    let unknown = dead.replace(
        "region   =   \"us-east-1\"",
        "region = \"us-east-1\"\ncolour = \"red\"",
    );
    let cases: [(&str, &[&str]); 2] = [
        (
            &values,
            &[
                "environments/bad.toml:3:10: error: `aws.region`: `moon-1` is not an AWS region",
                "error: `role.external_id`: is 3 characters long; allowed: 5 to 45 characters",
            ],
        ),
        (
            &unknown,
            &["environments/bad.toml:4:1: error: `aws.colour`: unknown key; allowed: `region`"],
        ),
    ];
    for ((text, expected), args) in cases.into_iter().flat_map(|case| {
        [
            &["deploy", "bad"][..],
            &["validate", "bad"],
            &["render", "bad"],
        ]
        .map(|args| (case, args))
    }) {
        co.write_env("bad", text);
        let run = co.xtask(args);
        run.failure();
        let all = run.all();
        for expected in expected {
            assert!(all.contains(expected), "{args:?}: {all}");
        }
        assert!(
            !all.contains("127.0.0.1:9"),
            "no AWS call was attempted: {all}"
        );
        assert_eq!(co.read_env("bad"), *text);
        assert!(
            !co.root().join("environments/bad").exists(),
            "nothing was rendered"
        );
    }
}

#[test]
fn several_environments_deploy_together_with_readable_output() {
    let co = Checkout::new();
    let names = ["multi-a", "multi-b", "multi-c"];
    for n in names {
        co.write_env(
            n,
            &descriptor(&format!("it-{n}"), &format!("{n}-ext-id"), &["worker-1"]),
        );
    }
    let run = co.xtask(&["deploy", "multi-a", "multi-b", "multi-c", "--yes"]);
    run.success();
    for n in names {
        assert!(
            run.stdout
                .contains(&format!("{n}: created stack `it-{n}` (CREATE_COMPLETE)")),
            "{}",
            run.stdout
        );
        assert!(
            run.stderr
                .lines()
                .any(|l| l.starts_with(&format!("{n}   ")) && l.contains("CREATE_COMPLETE")),
            "every event line names its environment:\n{}",
            run.stderr
        );
        assert!(co.read_env(n).contains("[outputs]"));
    }
    // --all: every environment, all unchanged now.
    let run = co.xtask(&["deploy", "--all", "--yes"]);
    run.success();
    for n in names {
        assert!(
            run.stdout.contains(&format!("{n}: no changes")),
            "{}",
            run.stdout
        );
    }
    // One failure (an invalid descriptor) stops everything before any AWS call.
    co.write_env("multi-d", "[aws]\nregion = \"nowhere\"\n");
    let run = co.xtask(&["deploy", "--all", "--yes"]);
    run.failure();
    assert!(
        run.stderr.contains("environments/multi-d.toml"),
        "{}",
        run.stderr
    );
    assert!(
        !run.stdout.contains("no changes"),
        "nothing was deployed: {}",
        run.stdout
    );
    std::fs::remove_file(co.env_path("multi-d")).unwrap();
    for n in names {
        co.xtask(&["destroy", n, "--yes"]).success();
    }
}

#[test]
fn deploy_all_leaves_out_sandbox_environments_unless_named() {
    let co = Checkout::new();
    let staging = descriptor("it-all-staging", "all-staging-ext-id", &["worker-1"]);
    // A sandbox whose emulator is the test one: deploying it starts nothing.
    let local = descriptor("it-all-local", "all-local-ext-id", &["worker-1"])
        .replace("confirm = true", "confirm = false")
        + "\n[sandbox]\n";
    co.write_env("staging", &staging);
    co.write_env("local", &local);

    let run = co.xtask(&["deploy", "--all", "--yes"]);
    run.success();
    assert!(
        run.stderr
            .contains("skipped local: a sandbox environment; name it to include it"),
        "{}",
        run.all()
    );
    assert!(!run.all().contains("it-all-local"), "{}", run.all());
    assert!(co.read_env("staging").contains("[outputs]"));
    assert_eq!(co.read_env("local"), local, "the sandbox was left alone");

    // Named, it is deployed.
    co.xtask(&["deploy", "local"]).success();
    assert!(co.read_env("local").contains("[outputs]"));

    // Only sandboxes: nothing to deploy is an error that says why.
    co.xtask(&["destroy", "staging", "--yes"]).success();
    std::fs::remove_file(co.env_path("staging")).unwrap();
    let run = co.xtask(&["deploy", "--all", "--yes"]);
    run.failure();
    assert!(
        run.stderr.contains("every environment is a sandbox"),
        "{}",
        run.all()
    );
    co.xtask(&["destroy", "local", "--yes"]).success();
}

/// The change sets this tool creates are named `tsw-MILLIS`. One an interrupted run left on the
/// stack more than a day ago (named `xtask-MILLIS` by older versions, or `tsw-MILLIS`) is
/// deleted by the next deploy; a recent one, which another run may still be reviewing, and
/// anyone else's are left alone. A plan, a check, leaves them all.
#[test]
fn leftover_change_sets_of_this_tool_and_its_older_versions_are_deleted() {
    let co = Checkout::new();
    let stack = "it-leftover";
    co.write_env("lo", &descriptor(stack, "leftover-ext-id", &["worker-1"]));
    co.xtask(&["deploy", "lo", "--yes"]).success();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis();
    // The names an interrupted run of an older version, one of this version, another run
    // still reviewing its plan, and someone else would leave.
    let names = [
        "xtask-1700000000000".to_owned(),
        "tsw-1700000000001".to_owned(),
        format!("tsw-{now}"),
        "someone-elses".to_owned(),
    ];
    for name in &names {
        cfn(&format!(
            "s = cfn.describe_stacks(StackName='{stack}')['Stacks'][0]\n\
             cfn.create_change_set(StackName='{stack}', ChangeSetName='{name}', ChangeSetType='UPDATE', \
             TemplateBody=cfn.get_template(StackName='{stack}')['TemplateBody'], \
             Capabilities=['CAPABILITY_NAMED_IAM'], \
             Parameters=[{{'ParameterKey': p['ParameterKey'], 'UsePreviousValue': True}} for p in s['Parameters']])"
        ));
    }
    // The emulator keeps an executed change set listed (AWS removes it): only these count.
    let listed = || {
        let names = names.clone();
        let all = cfn(&format!(
            "print(' '.join(sorted(c['ChangeSetName'] for c in cfn.list_change_sets(StackName='{stack}')['Summaries'])))"
        ));
        all.split(' ')
            .filter(|n| names.iter().any(|m| m == n))
            .collect::<Vec<_>>()
            .join(" ")
    };
    assert_eq!(listed().split(' ').count(), 4, "{}", listed());
    // A change, which plan previews and deploy makes, each with a change set of its own.
    let text = co
        .read_env("lo")
        .replace("leftover-ext-id", "leftover-ext-id-2");
    co.write_env("lo", &text);
    let run = co.xtask(&["plan", "lo", "--debug"]);
    run.success();
    assert!(
        run.stderr.contains("CloudFormation.CreateChangeSet"),
        "{}",
        run.stderr
    );
    assert_eq!(listed().split(' ').count(), 4, "{}", run.all());
    co.xtask(&["deploy", "lo", "--yes"]).success();
    let mut want = [format!("tsw-{now}"), "someone-elses".to_owned()];
    want.sort();
    assert_eq!(listed(), want.join(" "), "{}", run.all());
}
