//! `plan` against the emulator: every exit code, the three outputs, and nothing left behind
//! (no change set, no REVIEW_IN_PROGRESS stack, no file written).

use crate::support::{Checkout, cfn, descriptor, recorded_outputs};

/// The statuses of every stack named `stack` (deleted ones stay listed as DELETE_COMPLETE).
fn stack_statuses(stack: &str) -> String {
    cfn(&format!(
        "print(sorted(s['StackStatus'] for s in cfn.list_stacks()['StackSummaries'] if s['StackName'] == '{stack}'))"
    ))
}

/// The change sets the stack holds that were never executed (the emulator keeps executed
/// ones listed, where AWS deletes them, and lists every stack's: hence the filters).
fn unexecuted_change_sets(stack: &str) -> String {
    cfn(&format!(
        "print([(c['ChangeSetName'], c['Status'], c['ExecutionStatus']) for c in cfn.list_change_sets(StackName='{stack}')['Summaries'] if c['StackName'] == '{stack}' and c['ExecutionStatus'] != 'EXECUTE_COMPLETE'])"
    ))
}

#[test]
fn plan_exit_codes_outputs_and_nothing_left_behind() {
    let co = Checkout::new();
    let stack = "it-plan";
    // The server's own dynamic config file: plan shows the block `render` would put in it.
    let server_file = co.root().join("server/dynamicconfig.yaml");
    std::fs::create_dir_all(server_file.parent().unwrap()).unwrap();
    let server_config = "# our cluster\nlimit.maxIDLength:\n  - value: 255\n";
    std::fs::write(&server_file, server_config).unwrap();
    co.write_env(
        "pl",
        &descriptor(stack, "plan-ext-id", &["worker-1"]).replace(
            "[role]",
            "dynamic_config_file = \"server/dynamicconfig.yaml\"\n\n[role]",
        ),
    );

    // A new stack: a change, and neither the change set nor its stack stays.
    let run = co.xtask(&["plan", "pl", "--detailed-exitcode"]);
    assert_eq!(run.code, Some(2), "{}", run.all());
    assert!(
        run.stdout.contains("stack `it-plan`: create"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout
            .contains("AssumeRoleExternalId: (none) → `plan-ext-id`"),
        "every parameter of a new stack, with its value:\n{}",
        run.stdout
    );
    assert!(
        run.stdout.contains("+ Add     TemporalServerlessWorker"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.contains("+++ b/environments/pl/parameters.json"),
        "the rendered files that would change, as a diff:\n{}",
        run.stdout
    );
    assert!(
        run.stdout.contains("--- a/server/dynamicconfig.yaml")
            && run.stdout.contains("+# >>> cargo xtask: workercontroller"),
        "the server's file, as a diff:\n{}",
        run.stdout
    );
    assert_eq!(
        std::fs::read_to_string(&server_file).unwrap(),
        server_config,
        "plan writes no file"
    );
    assert_eq!(stack_statuses(stack), "['DELETE_COMPLETE']");
    assert!(
        !co.root().join("environments/pl").exists(),
        "plan writes no file"
    );
    // Without --detailed-exitcode, a plan with changes succeeds.
    co.xtask(&["plan", "pl"]).success();

    co.xtask(&["deploy", "pl", "--yes"]).success();
    let deployed = co.read_env("pl");
    let run = co.xtask(&["plan", "pl", "--detailed-exitcode"]);
    run.success();
    assert!(
        run.stdout.contains("stack `it-plan`: no changes"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.contains("rendered files: up to date"),
        "{}",
        run.stdout
    );

    // An undeployed change: exit 2 in every output, each with the parameter old → new.
    co.write_env("pl", &deployed.replace("'plan-ext-id'", "'plan-ext-id-2'"));
    let run = co.xtask(&["plan", "pl", "--detailed-exitcode"]);
    assert_eq!(run.code, Some(2), "{}", run.all());
    assert!(
        run.stdout
            .contains("AssumeRoleExternalId: `plan-ext-id` → `plan-ext-id-2`"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.contains("-    \"ParameterValue\": \"plan-ext-id\"")
            || run.stdout.contains("-  {\"ParameterKey\": \"AssumeRoleExternalId\", \"ParameterValue\": \"plan-ext-id\"}"),
        "the committed parameters.json, as a diff:\n{}",
        run.stdout
    );

    let run = co.xtask(&["plan", "pl", "--output", "json", "--detailed-exitcode"]);
    assert_eq!(run.code, Some(2), "{}", run.all());
    let json: serde_json::Value = serde_json::from_str(&run.stdout).expect("plan JSON");
    assert_eq!(json["version"], 1);
    assert_eq!(json["changes"], true);
    let env = &json["environments"][0];
    assert_eq!(env["name"], "pl");
    assert_eq!(env["stack"]["action"], "update");
    assert_eq!(
        env["stack"]["parameters"],
        serde_json::json!([{"key": "AssumeRoleExternalId", "old": "plan-ext-id", "new": "plan-ext-id-2"}])
    );
    assert_eq!(
        env["files"][0]["path"], "environments/pl/parameters.json",
        "{env}"
    );

    let run = co.xtask(&["plan", "pl", "--output", "markdown"]);
    run.success();
    assert!(run.stdout.contains("### `pl`: changes"), "{}", run.stdout);
    assert!(
        run.stdout
            .contains("| parameter | AssumeRoleExternalId | `plan-ext-id` | `plan-ext-id-2` |"),
        "{}",
        run.stdout
    );
    assert_eq!(
        unexecuted_change_sets(stack),
        "[]",
        "every change set plan made is gone"
    );
    assert_eq!(
        co.read_env("pl"),
        deployed.replace("'plan-ext-id'", "'plan-ext-id-2'"),
        "plan leaves the descriptor as it was"
    );
}

#[test]
fn plan_fails_with_1_when_it_cannot_plan() {
    let co = Checkout::new();
    // The stack [outputs] records is gone: nothing to plan against, a person must decide.
    let text = descriptor("it-plan-gone", "plan-gone-ext-id", &["worker-1"])
        + &recorded_outputs("it-plan-gone");
    co.write_env("gone", &text);
    let run = co.xtask(&["plan", "gone", "--detailed-exitcode"]);
    run.failure();
    assert!(run.stderr.contains("no longer exists"), "{}", run.stderr);
    assert_eq!(stack_statuses("it-plan-gone"), "[]");

    // A bad descriptor: exit 1, naming the key.
    co.write_env(
        "bad",
        &text.replace("region   =   \"us-east-1\"", "region = \"nowhere\""),
    );
    let run = co.xtask(&["plan", "bad", "--detailed-exitcode"]);
    run.failure();
    assert!(run.stderr.contains("region"), "{}", run.stderr);
}

#[test]
fn stack_tags_and_the_service_role_reach_the_stack_and_a_tag_change_is_planned() {
    let co = Checkout::new();
    let stack = "it-plan-tags";
    let role = "arn:aws:iam::123456789012:role/cfn-deployer";
    let text = descriptor(stack, "plan-tags-ext-id", &["worker-1"]).replace(
        "confirm = true\n",
        &format!("confirm = true\ntags = {{ team = \"payments\", \"cost:center\" = \"42\" }}\ncloudformation_role_arn = \"{role}\"\n"),
    );
    co.write_env("tg", &text);
    let run = co.xtask(&["plan", "tg"]);
    run.success();
    assert!(
        run.stdout.contains("team: (none) → `payments`")
            && run
                .stdout
                .contains(&format!("service role: RoleARN: (none) → `{role}`")),
        "{}",
        run.stdout
    );
    co.xtask(&["deploy", "tg", "--yes"]).success();
    let described = || {
        cfn(&format!(
            "s = cfn.describe_stacks(StackName='{stack}')['Stacks'][0]\nprint(json.dumps([sorted((t['Key'], t['Value']) for t in s.get('Tags', [])), s.get('RoleARN')]))"
        ))
    };
    assert_eq!(
        described(),
        format!(r#"[[["cost:center", "42"], ["team", "payments"]], "{role}"]"#)
    );
    co.xtask(&["plan", "tg", "--detailed-exitcode"]).success();

    // A tag change alone is a change, and deploy applies it.
    co.write_env(
        "tg",
        &co.read_env("tg").replace("\"payments\"", "\"billing\""),
    );
    let run = co.xtask(&["plan", "tg", "--detailed-exitcode"]);
    assert_eq!(run.code, Some(2), "{}", run.all());
    assert!(
        run.stdout.contains("team: `payments` → `billing`"),
        "{}",
        run.stdout
    );
    co.xtask(&["deploy", "tg", "--yes"]).success();
    assert_eq!(
        described(),
        format!(r#"[[["cost:center", "42"], ["team", "billing"]], "{role}"]"#)
    );
    co.xtask(&["plan", "tg", "--detailed-exitcode"]).success();
}
