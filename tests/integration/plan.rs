//! `plan` against the emulator: every exit code, the three outputs, and nothing left behind
//! (no change set, no REVIEW_IN_PROGRESS stack, no file written).

use crate::support::{
    Checkout, WCI_ON, cfn, create_functions, descriptor, free_port, function_arn, recorded_outputs,
    temporal_server,
};

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

    // A new stack: a change, and neither the change set nor its stack stays. What plan shows
    // is in the snapshots (snapshots.rs).
    let run = co.xtask(&["plan", "pl", "--detailed-exitcode"]);
    assert_eq!(run.code, Some(2), "{}", run.all());
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
    co.xtask(&["plan", "pl", "--detailed-exitcode"]).success();

    // An undeployed change: exit 2 in every output, each with the parameter old → new.
    co.write_env("pl", &deployed.replace("'plan-ext-id'", "'plan-ext-id-2'"));
    let run = co.xtask(&["plan", "pl", "--detailed-exitcode"]);
    assert_eq!(run.code, Some(2), "{}", run.all());

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

    co.xtask(&["plan", "pl", "--output", "markdown"]).success();
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
        format!(
            r#"[[["cost:center", "42"], ["team", "payments"], ["temporal-serverless-workers:environment", "tg"]], "{role}"]"#
        )
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
        format!(
            r#"[[["cost:center", "42"], ["team", "billing"], ["temporal-serverless-workers:environment", "tg"]], "{role}"]"#
        )
    );
    co.xtask(&["plan", "tg", "--detailed-exitcode"]).success();
}

/// A descriptor (WCI enabled globally) with the frontend at `address` and one version
/// `orders/STACK-worker@build-1` of `function`; the role may invoke every one of `functions`.
fn with_version(stack: &str, address: &str, functions: &[&str], function: &str) -> String {
    descriptor(stack, "plan-versions-ext-id", functions).replace(
        "namespaces = [ \"orders\",   \"billing\" ]  # odd spacing kept\n",
        &format!("address = \"{address}\"\n"),
    ) + &format!(
        "\n[[worker_deployments]]\nnamespace = \"orders\"\nname = \"{stack}-worker\"\nbuild_id = \"build-1\"\nlambda_function_arn = \"{}\"\n",
        function_arn(function)
    )
}

/// The versions part comes from the server: a registered version whose function changed in the
/// descriptor is an update (function old → new) until `register` runs, a version no longer
/// listed is named as left behind, and a frontend that does not answer falls back to the
/// descriptor with a note, never failing the plan.
#[test]
fn plan_asks_the_server_which_versions_register_would_change() {
    let server = temporal_server(WCI_ON);
    create_functions(&["it-pv-fn", "it-pv-fn2"]);
    let co = Checkout::new();
    let functions = ["it-pv-fn", "it-pv-fn2"];
    co.write_env(
        "pv",
        &with_version("it-pv", &server.address(), &functions, "it-pv-fn"),
    );
    co.xtask(&["deploy", "pv", "--yes", "--register"]).success();
    let version = "Worker Deployment Version orders/it-pv-worker@build-1";
    let run = co.xtask(&["plan", "pv", "--detailed-exitcode"]);
    run.success();
    assert!(
        run.stdout.contains(&format!("{version}: unchanged")),
        "{}",
        run.all()
    );

    // Another function for the registered version: an update, old → new, in every output.
    let registered = co.read_env("pv");
    co.write_env(
        "pv",
        &registered.replace("function:it-pv-fn\"\n", "function:it-pv-fn2\"\n"),
    );
    let run = co.xtask(&["plan", "pv", "--detailed-exitcode"]);
    assert_eq!(run.code, Some(2), "{}", run.all());
    let change = format!(
        "{version}: update (function `{}` → `{}`)",
        function_arn("it-pv-fn"),
        function_arn("it-pv-fn2")
    );
    assert!(run.stdout.contains(&change), "{}", run.stdout);
    let run = co.xtask(&["plan", "pv", "--output", "json"]);
    run.success();
    let json: serde_json::Value = serde_json::from_str(&run.stdout).expect("plan JSON");
    let env = &json["environments"][0];
    assert_eq!(env["versions_source"], "server", "{env}");
    assert_eq!(
        env["worker_deployment_versions"][0]["differences"],
        serde_json::json!([{"field": "function", "old": function_arn("it-pv-fn"), "new": function_arn("it-pv-fn2")}]),
        "{env}"
    );
    let run = co.xtask(&["plan", "pv", "--output", "markdown"]);
    assert!(
        run.stdout.contains("update (function `")
            && run
                .stdout
                .contains("Versions as the Temporal server holds them"),
        "{}",
        run.stdout
    );
    co.xtask(&["register", "pv"]).success();
    let run = co.xtask(&["plan", "pv", "--detailed-exitcode"]);
    run.success();
    assert!(
        run.stdout.contains(&format!("{version}: unchanged")),
        "{}",
        run.all()
    );

    // A new build ID: created, and the old one is left behind with the command that retires it.
    let moved = co
        .read_env("pv")
        .replace("build_id = \"build-1\"", "build_id = \"build-2\"");
    co.write_env("pv", &moved);
    let run = co.xtask(&["plan", "pv", "--detailed-exitcode"]);
    assert_eq!(run.code, Some(2), "{}", run.all());
    assert!(
        run.stdout
            .contains("Worker Deployment Version orders/it-pv-worker@build-2: create")
            && run.stdout.contains(&format!(
                "{version}: left behind (register lists it; retire with `temporal worker deployment delete-version --namespace orders --deployment-name it-pv-worker --build-id build-1"
            )),
        "{}",
        run.stdout
    );

    // Nothing answers at the frontend: the plan still succeeds, from the descriptor, and says so.
    let closed = format!("127.0.0.1:{}", free_port());
    co.write_env("pv", &moved.replace(&server.address(), &closed));
    let run = co.xtask(&["plan", "pv"]);
    run.success();
    assert!(
        run.stdout.contains(&format!(
            "Versions from the descriptor alone: nothing answers at {closed}"
        )),
        "{}",
        run.stdout
    );
    let run = co.xtask(&["plan", "pv", "--output", "json"]);
    run.success();
    let json: serde_json::Value = serde_json::from_str(&run.stdout).expect("plan JSON");
    let env = &json["environments"][0];
    assert_eq!(env["versions_source"], "descriptor", "{env}");
    assert!(
        env["versions_note"]
            .as_str()
            .is_some_and(|n| n.contains(&closed)),
        "{env}"
    );
}

#[test]
fn a_read_only_plan_compares_here_and_says_so() {
    let co = Checkout::new();
    let stack = "it-plan-ro";
    co.write_env("ro", &descriptor(stack, "ro-ext-id", &["worker-1"]));
    let plan_json = |co: &Checkout| {
        let run = co.xtask(&[
            "plan",
            "ro",
            "--read-only",
            "--output",
            "json",
            "--detailed-exitcode",
        ]);
        let json: serde_json::Value = serde_json::from_str(&run.stdout).expect("plan JSON");
        (run, json["environments"][0].clone())
    };

    // A new stack: a create, and nothing made to find it out.
    let (run, env) = plan_json(&co);
    assert_eq!(run.code, Some(2), "{}", run.all());
    assert_eq!(env["mode"], "read-only");
    assert_eq!(env["mode_note"], serde_json::Value::Null);
    assert_eq!(env["stack"]["action"], "create");
    assert_eq!(env["template_differs"], true);
    assert_eq!(stack_statuses(stack), "[]", "no change set, no stack");

    co.xtask(&["deploy", "ro", "--yes"]).success();
    let (run, env) = plan_json(&co);
    assert_eq!(run.code, Some(0), "{}", run.all());
    assert_eq!(env["stack"]["action"], "no_change", "{env}");
    assert_eq!(env["template_differs"], false);

    // A parameter change, in text and JSON, with no change set left or made.
    let deployed = co.read_env("ro");
    co.write_env("ro", &deployed.replace("'ro-ext-id'", "'ro-ext-id-2'"));
    let (run, env) = plan_json(&co);
    assert_eq!(run.code, Some(2), "{}", run.all());
    assert_eq!(env["stack"]["action"], "update");
    assert_eq!(
        env["stack"]["parameters"],
        serde_json::json!([{"key": "AssumeRoleExternalId", "old": "ro-ext-id", "new": "ro-ext-id-2"}])
    );
    assert_eq!(env["template_differs"], false);
    let text = co.xtask(&["plan", "ro", "--read-only"]);
    text.success();
    assert!(
        text.stdout.contains("mode: read-only (--read-only)"),
        "{}",
        text.stdout
    );
    assert_eq!(
        cfn(&format!(
            "print(len([c for c in cfn.list_change_sets(StackName='{stack}')['Summaries'] if c['StackName'] == '{stack}']))"
        )),
        "1",
        "only the deploy's change set"
    );
    // Without --read-only, the plan makes its change set: the mode says so.
    let run = co.xtask(&["plan", "ro", "--output", "json"]);
    let json: serde_json::Value = serde_json::from_str(&run.stdout).expect("plan JSON");
    assert_eq!(json["environments"][0]["mode"], "change-set");
}

/// Colour: `--color always` styles the change lines and `error:`; `never`, `NO_COLOR` and a
/// pipe (`auto`) leave the text plain; JSON and markdown are never coloured.
#[test]
fn colour_follows_color_and_no_color_and_never_reaches_json_or_markdown() {
    let co = Checkout::new();
    co.write_env(
        "hue",
        &crate::support::descriptor("it-colour", "colour-ext-id", &["worker-1"]),
    );
    let esc = '\u{1b}';
    let coloured = co.xtask(&["plan", "hue", "--color", "always"]);
    coloured.success();
    assert!(
        coloured.stdout.contains(&format!("{esc}[32m")),
        "added lines are green:\n{}",
        coloured.stdout
    );
    for (args, vars) in [
        (&["plan", "hue", "--color", "never"][..], &[][..]),
        (&["plan", "hue"], &[]),
        (&["plan", "hue"], &[("NO_COLOR", Some("1"))]),
        (
            &["plan", "hue", "--output", "json", "--color", "always"],
            &[],
        ),
        (
            &["plan", "hue", "--output", "markdown", "--color", "always"],
            &[],
        ),
    ] {
        let run = co.xtask_with(args, vars);
        run.success();
        assert!(
            !run.stdout.contains(esc),
            "{args:?} {vars:?}:\n{}",
            run.stdout
        );
    }
    let error = co.xtask(&["status", "no-such-env", "--color", "always"]);
    assert!(
        error
            .stderr
            .starts_with(&format!("{esc}[1m{esc}[31merror:{esc}[0m ")),
        "{:?}",
        error.stderr
    );
    let plain = co.xtask(&["status", "no-such-env"]);
    assert!(plain.stderr.starts_with("error: "), "{}", plain.stderr);
}
