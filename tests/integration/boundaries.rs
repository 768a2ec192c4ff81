//! What one environment must not reach: another environment's frontend (an ambient
//! `TEMPORAL_ADDRESS` serves one named environment only), a name AWS holds once per account
//! (IAM role names are global), a server file another descriptor renders into, drift that only
//! `status` used to see, and versions a `destroy` would strand.

use crate::support::{
    ACCOUNT, Checkout, WCI_ON, create_functions, descriptor, function_arn, iam, temporal_server,
};

/// A descriptor that validates offline: no endpoint, `stack` in `region` of `account`.
fn offline(stack: &str, region: &str, account: &str, extra_temporal: &str) -> String {
    format!(
        "[aws]\nregion = \"{region}\"\n\n[temporal]\nserver_role_arn = \"arn:aws:iam::{account}:role/temporal\"\n{extra_temporal}\n\
         [role]\nstack_name = \"{stack}\"\nexternal_id = \"ext-{region}\"\n\
         lambda_function_arns = [\"arn:aws:lambda:{region}:{account}:function:w\"]\n"
    )
}

#[test]
fn validate_refuses_one_iam_role_name_twice_in_an_account_across_regions() {
    let co = Checkout::new();
    co.write_env(
        "east",
        &offline("orders-workers", "us-east-1", "111111111111", ""),
    );
    co.write_env(
        "west",
        &offline("orders-workers", "us-west-2", "111111111111", ""),
    );
    // Another account may hold the same name.
    co.write_env(
        "prod",
        &offline("orders-workers", "us-west-2", "222222222222", ""),
    );
    let run = co.xtask(&["validate"]);
    run.failure();
    let all = run.all();
    assert!(
        all.contains("IAM role `Temporal-Serverless-Worker-orders-workers`")
            && all.contains("account `111111111111`")
            && all.contains("environments/west.toml")
            && all.contains("environments/east.toml"),
        "{all}"
    );
    assert!(
        run.stdout.contains("FAILED  east") && run.stdout.contains("FAILED  west"),
        "{}",
        run.stdout
    );
    assert!(run.stdout.contains("ok      prod"), "{}", run.stdout);
    // A deploy of either is refused before any AWS call.
    let run = co.xtask(&["deploy", "west", "--yes"]);
    run.failure();
    assert!(
        run.all()
            .contains("IAM role `Temporal-Serverless-Worker-orders-workers`"),
        "{}",
        run.all()
    );

    // Another role name (`role.name`) is another role.
    co.write_env(
        "west",
        &offline("orders-workers", "us-west-2", "111111111111", "")
            .replace("[role]\n", "[role]\nname = \"Temporal-Worker-West\"\n"),
    );
    co.xtask(&["validate"]).success();
}

#[test]
fn a_server_file_two_descriptors_render_differently_is_refused_naming_both() {
    let co = Checkout::new();
    let values = co.root().join("deploy/values.yaml");
    std::fs::create_dir_all(values.parent().unwrap()).unwrap();
    let original = "server:\n  dynamicConfig: {}\n";
    std::fs::write(&values, original).unwrap();
    let helm = "helm_values = \"deploy/values.yaml\"\nnamespaces = [\"orders\"]\n";
    co.write_env(
        "orders",
        &offline("orders", "us-east-1", "111111111111", helm),
    );
    co.write_env(
        "billing",
        &offline(
            "billing",
            "us-east-1",
            "222222222222",
            &helm.replace("orders", "billing"),
        ),
    );
    let run = co.xtask(&["validate"]);
    run.failure();
    let all = run.all();
    assert!(
        all.contains("deploy/values.yaml")
            && all.contains("environments/orders.toml")
            && all.contains("environments/billing.toml"),
        "{all}"
    );
    // `render` refuses too, rather than let the last writer win; the file is as it was.
    let run = co.xtask(&["render"]);
    run.failure();
    assert_eq!(std::fs::read_to_string(&values).unwrap(), original);

    // Descriptors that render the same keys may share the file, and `render --check` holds.
    co.write_env(
        "billing",
        &offline("billing", "us-east-1", "222222222222", helm),
    );
    co.xtask(&["validate"]).success();
    co.xtask(&["render"]).success();
    co.xtask(&["render", "--check"]).success();
    let _ = descriptor;
}

/// A descriptor on the test emulator with one version `orders/STACK-worker@build-1` of
/// `function`, and its frontend at `address` (`None`: no `temporal.address`).
fn with_version(stack: &str, address: Option<&str>, function: &str) -> String {
    let address = address.map_or_else(String::new, |a| format!("address = \"{a}\"\n"));
    descriptor(stack, "boundaries-ext-id", &[function]).replace(
        "namespaces = [ \"orders\",   \"billing\" ]  # odd spacing kept\n",
        &address,
    ) + &format!(
        "\n[[worker_deployments]]\nnamespace = \"orders\"\nname = \"{stack}-worker\"\nbuild_id = \"build-1\"\nlambda_function_arn = \"{}\"\n",
        function_arn(function)
    )
}

/// `TEMPORAL_ADDRESS` (like a CLI profile) is the frontend of a command that names one
/// environment; with several, an environment without `temporal.address` is left out of the
/// server's part, with one line saying why, and never planned or registered against it.
#[test]
fn an_ambient_temporal_address_serves_only_a_command_naming_one_environment() {
    let server = temporal_server(WCI_ON);
    create_functions(&["it-amb-staging", "it-amb-prod"]);
    let co = Checkout::new();
    co.write_env(
        "staging",
        &with_version("it-amb-staging", Some(&server.address()), "it-amb-staging"),
    );
    co.write_env(
        "production",
        &with_version("it-amb-prod", None, "it-amb-prod"),
    );
    let ambient = [("TEMPORAL_ADDRESS", Some(server.address()))];
    let ambient: Vec<(&str, Option<&str>)> =
        ambient.iter().map(|(k, v)| (*k, v.as_deref())).collect();
    co.xtask(&["deploy", "staging", "--yes", "--register"])
        .success();
    // Named alone, production's frontend is TEMPORAL_ADDRESS.
    co.xtask_with(&["deploy", "production", "--yes", "--register"], &ambient)
        .success();
    let moved = co
        .read_env("production")
        .replace("build_id = \"build-1\"", "build_id = \"build-2\"");
    co.write_env("production", &moved);

    let run = co.xtask_with(&["plan", "--all", "--output", "json"], &ambient);
    run.success();
    let json: serde_json::Value = serde_json::from_str(&run.stdout).expect("plan JSON");
    let env = |name: &str| {
        json["environments"]
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["name"] == name)
            .unwrap_or_else(|| panic!("no {name} in {json}"))
            .clone()
    };
    assert_eq!(env("staging")["versions_source"], "server", "{json}");
    let production = env("production");
    assert_eq!(production["versions_source"], "descriptor", "{production}");
    let note = production["versions_note"].as_str().unwrap_or_default();
    assert!(
        note.contains("TEMPORAL_ADDRESS") && note.contains("temporal.address"),
        "{production}"
    );
    let run = co.xtask_with(&["plan", "--all"], &ambient);
    run.success();
    assert!(
        run.stdout.contains("TEMPORAL_ADDRESS applies only"),
        "{}",
        run.stdout
    );

    // Named alone, it is that environment's frontend.
    let run = co.xtask_with(&["plan", "production", "--output", "json"], &ambient);
    run.success();
    let json: serde_json::Value = serde_json::from_str(&run.stdout).expect("plan JSON");
    assert_eq!(
        json["environments"][0]["versions_source"], "server",
        "{json}"
    );

    // `deploy --register` of both registers staging, leaves production out with one line, and
    // fails; production's version never reaches the staging server.
    let run = co.xtask_with(
        &["deploy", "staging", "production", "--yes", "--register"],
        &ambient,
    );
    run.failure();
    assert!(
        run.stderr.contains("production:") && run.stderr.contains("TEMPORAL_ADDRESS applies only"),
        "{}",
        run.all()
    );
    assert!(
        run.stdout.contains(
            "staging: no changes to Worker Deployment Version `orders/it-amb-staging-worker@build-1`"
        ),
        "{}",
        run.all()
    );
    assert!(
        !version_exists(&server.address(), "it-amb-prod-worker", "build-2"),
        "production's new build was registered on the staging server"
    );
}

/// Whether `build` of `deployment` (namespace `orders`) is on the server at `address`.
fn version_exists(address: &str, deployment: &str, build: &str) -> bool {
    crate::support::temporal_cli(
        address,
        &[
            "worker",
            "deployment",
            "describe-version",
            "--deployment-name",
            deployment,
            "--build-id",
            build,
        ],
    )
    .status
    .success()
}

/// A role widened by hand is a change in every output of `plan` (and for
/// `--detailed-exitcode`), and `deploy` puts back what the template declares, so that `status`
/// agrees again: its own fix, `deploy`, does what it says.
#[test]
fn plan_shows_role_drift_and_deploy_restores_the_declared_role() {
    let co = Checkout::new();
    let stack = "it-drift-plan";
    co.write_env("drift", &descriptor(stack, "drift-ext-id", &["worker-1"]));
    co.xtask(&["deploy", "drift", "--yes"]).success();
    co.xtask(&["plan", "drift", "--detailed-exitcode"])
        .success();

    let role = format!("Temporal-Serverless-Worker-{stack}");
    let policy = format!("arn:aws:iam::{ACCOUNT}:policy/{stack}-extra");
    iam(&format!(
        "iam.put_role_policy(RoleName='{role}', PolicyName='Temporal-Lambda-Invoke-Permissions', \
         PolicyDocument=json.dumps({{'Version': '2012-10-17', 'Statement': [{{'Effect': 'Allow', \
         'Action': ['lambda:*'], 'Resource': '*'}}]}}))\n\
         iam.put_role_policy(RoleName='{role}', PolicyName='extra', \
         PolicyDocument=json.dumps({{'Version': '2012-10-17', 'Statement': [{{'Effect': 'Allow', \
         'Action': ['s3:GetObject'], 'Resource': '*'}}]}}))\n\
         iam.update_assume_role_policy(RoleName='{role}', PolicyDocument=json.dumps({{\
         'Version': '2012-10-17', 'Statement': [{{'Effect': 'Allow', \
         'Principal': {{'AWS': 'arn:aws:iam::{ACCOUNT}:role/someone-else'}}, \
         'Action': 'sts:AssumeRole'}}]}}))\n\
         iam.create_policy(PolicyName='{stack}-extra', PolicyDocument=json.dumps({{\
         'Version': '2012-10-17', 'Statement': [{{'Effect': 'Allow', 'Action': 's3:*', \
         'Resource': '*'}}]}})); iam.attach_role_policy(RoleName='{role}', PolicyArn='{policy}')"
    ));
    let run = co.xtask(&["status", "drift"]);
    assert_eq!(run.code, Some(3), "{}", run.all());

    let run = co.xtask(&["plan", "drift", "--detailed-exitcode"]);
    assert_eq!(run.code, Some(2), "drift is a change:\n{}", run.all());
    assert!(
        run.stdout.contains("changed outside the tool")
            && run.stdout.contains("lambda:*")
            && run.stdout.contains("someone-else"),
        "{}",
        run.stdout
    );
    let run = co.xtask(&["plan", "drift", "--output", "markdown"]);
    run.success();
    assert!(
        run.stdout.contains("changed outside the tool") && run.stdout.contains("lambda:*"),
        "{}",
        run.stdout
    );
    let run = co.xtask(&["plan", "drift", "--output", "json"]);
    let json: serde_json::Value = serde_json::from_str(&run.stdout).expect("plan JSON");
    let env = &json["environments"][0];
    assert_eq!(env["changes"], true, "{env}");
    assert!(
        env["role_drift"]
            .as_array()
            .is_some_and(|d| d.iter().any(|l| l.as_str().unwrap().contains("lambda:*"))),
        "{env}"
    );

    let run = co.xtask(&["deploy", "drift", "--yes"]);
    run.success();
    assert!(
        run.all().contains(&format!("restored role `{role}`")),
        "{}",
        run.all()
    );
    co.xtask(&["status", "drift"]).success();
    co.xtask(&["plan", "drift", "--detailed-exitcode"])
        .success();
    iam(&format!("iam.delete_policy(PolicyArn='{policy}')"));
    co.xtask(&["destroy", "drift", "--yes"]).success();
}

/// `destroy` refuses while a version registered from the environment holds Lambda compute
/// through the stack's role, naming it and the command that retires it; told to go ahead, it
/// says which registrations it drops, and `doctor` then fails on the version's missing role.
/// The Temporal server runs in another account than the stack: the role is looked up in the
/// stack's account, never skipped because the server's differs.
#[test]
fn destroy_refuses_to_strand_registered_versions_and_doctor_sees_a_missing_role() {
    let server = temporal_server(WCI_ON);
    create_functions(&["it-strand-fn"]);
    let co = Checkout::new();
    co.write_env(
        "strand",
        &with_version("it-strand", Some(&server.address()), "it-strand-fn").replace(
            &format!("server_role_arn = \"arn:aws:iam::{ACCOUNT}:user/moto\""),
            "server_role_arn = \"arn:aws:iam::210987654321:role/temporal-server\"",
        ),
    );
    co.xtask(&["deploy", "strand", "--yes", "--register"])
        .success();
    let before = co.read_env("strand");
    let version = "orders/it-strand-worker@build-1";

    let run = co.xtask(&["destroy", "strand", "--yes"]);
    run.failure();
    assert!(
        run.stderr.contains(&format!("`{version}`"))
            && run.stderr.contains(
                "temporal worker deployment delete-version --namespace orders --deployment-name it-strand-worker --build-id build-1"
            )
            && run.stderr.contains("--leave-versions"),
        "{}",
        run.all()
    );
    assert_eq!(co.read_env("strand"), before, "nothing was changed");
    co.xtask(&["status", "strand"]).success();

    let run = co.xtask(&["destroy", "strand", "--yes", "--leave-versions"]);
    run.success();
    assert!(
        run.stdout
            .contains(&format!("with [outputs].registered: `{version}`")),
        "{}",
        run.all()
    );
    // AWS deletes the stack's role with it; the emulator may keep it after a registration
    // (seen with moto 5), so make sure it is gone as it would be on AWS.
    iam(
        "try:\n    iam.delete_role_policy(RoleName='Temporal-Serverless-Worker-it-strand', PolicyName='Temporal-Lambda-Invoke-Permissions')\nexcept Exception:\n    pass\n\
         try:\n    iam.delete_role(RoleName='Temporal-Serverless-Worker-it-strand')\nexcept iam.exceptions.NoSuchEntityException:\n    pass",
    );
    let run = co.xtask(&["doctor", "strand"]);
    run.failure();
    let line = run.line(&format!("role of {version}"));
    assert!(
        line.starts_with("FAIL") && line.contains("no longer exists"),
        "{}",
        run.stdout
    );
}
