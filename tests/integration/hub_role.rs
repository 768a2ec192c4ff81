//! The hub role (`[[temporal.intermediary_roles]]`, Temporal's
//! `workercontroller.compute_providers.aws.intermediary_roles`): the server assumes a hub role in
//! another account first, and the invocation role `deploy` makes trusts the hub. On the test
//! emulator, which answers for other accounts by the `x-moto-account-id` header and enforces a
//! trust policy's `sts:ExternalId` (not its principals); and on a real Temporal dev server given
//! the rendered key.

use crate::support::{ACCOUNT, Checkout, boto3, create_functions, descriptor, temporal_server};

/// The account of the hub role: not the environment's.
const HUB_ACCOUNT: &str = "111111111111";

fn hub_arn(name: &str) -> String {
    format!("arn:aws:iam::{HUB_ACCOUNT}:role/{name}")
}

/// Creates (or re-creates) role `name` in [`HUB_ACCOUNT`], trusting the tests' identity
/// (`user/moto`, the descriptors' `temporal.server_role_arn`) with `external_id`.
fn hub_role(name: &str, external_id: &str) {
    boto3(
        "iam",
        &format!(
            "client.meta.events.register('before-sign.*.*', lambda request, **_: request.headers.__setitem__('x-moto-account-id', '{HUB_ACCOUNT}'))\n\
             trust = json.dumps({{'Version': '2012-10-17', 'Statement': [{{'Effect': 'Allow', \
             'Principal': {{'AWS': 'arn:aws:iam::{ACCOUNT}:user/moto'}}, 'Action': 'sts:AssumeRole', \
             'Condition': {{'StringEquals': {{'sts:ExternalId': '{external_id}'}}}}}}]}})\n\
             try:\n    client.update_assume_role_policy(RoleName='{name}', PolicyDocument=trust)\n\
             except client.exceptions.NoSuchEntityException:\n    client.create_role(RoleName='{name}', AssumeRolePolicyDocument=trust)\n"
        ),
    );
}

/// `text` with a chain of one hop, the hub `name` assumed with `external_id`, in `[temporal]`.
fn with_hub(text: &str, name: &str, external_id: &str) -> String {
    text.replacen(
        "[role]",
        &format!(
            "[[temporal.intermediary_roles]]\nrole_arn = \"{}\"\nsession_name = \"temporal-hub\"\nexternal_id = \"{external_id}\"\n\n[role]",
            hub_arn(name)
        ),
        1,
    )
}

/// The principals the trust policy of the deployed invocation role names.
fn trusted(stack: &str) -> String {
    boto3(
        "iam",
        &format!(
            "print(json.dumps(client.get_role(RoleName='Temporal-Serverless-Worker-{stack}')['Role']['AssumeRolePolicyDocument']['Statement'][0]['Principal']))"
        ),
    )
}

#[test]
fn the_role_trusts_the_hub_and_doctor_proves_the_chain_hop_by_hop() {
    let co = Checkout::new();
    let stack = "it-hub-chain";
    let hub = "it-hub-chain-hub";
    hub_role(hub, "hub-ext-id-1");
    create_functions(&["it-hub-fn"]);
    let plain = descriptor(stack, "hub-invoke-ext", &["it-hub-fn"]);
    co.write_env("payments", &plain);
    co.xtask(&["deploy", "payments", "--yes"]).success();
    assert!(trusted(stack).contains(&format!("{ACCOUNT}:user/moto")));

    // With a chain, the role must trust the hub, which calls AssumeRole on it: plan says so.
    let chained = with_hub(&co.read_env("payments"), hub, "hub-ext-id-1");
    co.write_env("payments", &chained);
    let run = co.xtask(&["plan", "payments"]);
    assert!(
        run.stdout.contains("TemporalIamRoleArn") && run.stdout.contains(&hub_arn(hub)),
        "{}",
        run.all()
    );
    co.xtask(&["deploy", "payments", "--yes"]).success();
    assert!(trusted(stack).contains(&hub_arn(hub)), "{}", trusted(stack));
    let run = co.xtask(&["render", "payments"]);
    run.success();
    let rendered =
        std::fs::read_to_string(co.root().join("environments/payments/dynamicconfig.yaml"))
            .unwrap();
    assert!(
        rendered.contains(&format!(
            "workercontroller.compute_providers.aws.intermediary_roles:\n  - value:\n      - - RoleARN: \"{}\"\n          RoleSessionName: \"temporal-hub\"\n          ExternalID: \"hub-ext-id-1\"\n",
            hub_arn(hub)
        )),
        "{rendered}"
    );

    // doctor, as the server (user/moto): the hop, then the role through it.
    let run = co.xtask(&["doctor", "payments"]);
    crate::snapshots::assert_run("doctor_through_a_hub", co.root(), &run);
    let hop = run.line("hop 1 of intermediary_roles");
    assert!(
        hop.starts_with("pass  step 4") && hop.contains(&hub_arn(hub)),
        "{}",
        run.stdout
    );
    for check in [
        "AssumeRole with the external ID",
        "AssumeRole without the external ID is denied",
        "role can GetFunction",
    ] {
        assert!(
            run.line(check).starts_with("pass  step 4"),
            "{check}: {}",
            run.stdout
        );
    }
    // The denial proves the condition because the hub is the principal the role names.
    assert!(
        run.line("without the external ID")
            .contains(&format!("for `{}`", hub_arn(hub))),
        "{}",
        run.stdout
    );

    assert!(
        run.line("intermediary roles").starts_with("pass  step 2"),
        "{}",
        run.stdout
    );
    // A dynamic config without the chain: the server would assume the role itself, which
    // trusts the hub only.
    let dc = co.root().join("environments/payments/dynamicconfig.yaml");
    let without = rendered[..rendered
        .find("workercontroller.compute_providers.aws.intermediary_roles")
        .unwrap()]
        .to_owned();
    std::fs::write(&dc, without).unwrap();
    let run = co.xtask(&["doctor", "payments"]);
    let line = run.line("intermediary roles");
    assert!(
        line.starts_with("FAIL  step 2") && line.contains("gives the server no chain"),
        "{}",
        run.stdout
    );
    std::fs::write(&dc, &rendered).unwrap();

    // The hub's trust policy now wants another external ID: the chain stops at that hop, which
    // says what to fix, and the invocation role is not checked through it.
    hub_role(hub, "hub-ext-id-2");
    let run = co.xtask(&["doctor", "payments"]);
    run.failure();
    crate::snapshots::assert_run("doctor_through_a_hub_that_refuses", co.root(), &run);
    let hop = run.line("hop 1 of intermediary_roles");
    assert!(
        hop.starts_with("FAIL  step 4") && hop.contains("AccessDenied"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.contains("fix: the trust policy of `")
            && run.stdout.contains("temporal.intermediary_roles[0]"),
        "{}",
        run.stdout
    );
    let role = run.line("invocation role arn:aws:iam::");
    assert!(
        role.starts_with("WARN") && role.contains("the chain stops at hop 1"),
        "{}",
        run.stdout
    );
    assert!(
        !run.stdout.contains("AssumeRole with the external ID"),
        "{}",
        run.stdout
    );
    co.xtask(&["destroy", "payments", "--yes"]).success();
}

/// Two descriptors rendering into one server file must declare the same chain: it is global.
#[test]
fn descriptors_sharing_a_server_file_must_declare_the_same_chain() {
    let co = Checkout::new();
    std::fs::create_dir_all(co.root().join("server")).unwrap();
    let server_file = co.root().join("server/dynamicconfig.yaml");
    std::fs::write(&server_file, "frontend.x:\n  - value: 1\n").unwrap();
    let env = |stack: &str| {
        descriptor(stack, "shared-ext-id", &["f"]).replace(
            "[role]",
            "dynamic_config_file = \"server/dynamicconfig.yaml\"\n\n[role]",
        )
    };
    co.write_env("a", &with_hub(&env("it-share-a"), "hub-a", "hub-ext-a"));
    co.write_env("b", &with_hub(&env("it-share-b"), "hub-b", "hub-ext-b"));
    for args in [&["render", "a"][..], &["validate", "b"]] {
        let run = co.xtask(args);
        run.failure();
        assert!(
            run.stderr.contains("another `temporal.intermediary_roles`")
                && run.stderr.contains("environments/b.toml")
                && run.stderr.contains("environments/a.toml"),
            "{}",
            run.stderr
        );
    }
    assert_eq!(
        std::fs::read_to_string(&server_file).unwrap(),
        "frontend.x:\n  - value: 1\n"
    );
    // The same chain: both render, into one block.
    co.write_env("b", &with_hub(&env("it-share-b"), "hub-a", "hub-ext-a"));
    co.xtask(&["render", "a", "b"]).success();
    co.xtask(&["render", "--check"]).success();
}

/// The real server takes the rendered key and assumes the chain when it validates a version:
/// registration through the hub succeeds, and fails once the hub wants another external ID.
#[test]
fn a_temporal_dev_server_registers_a_version_through_the_hub() {
    let co = Checkout::new();
    let stack = "it-hub-temporal";
    let hub = "it-hub-temporal-hub";
    hub_role(hub, "hub-temporal-ext");
    create_functions(&["it-hub-temporal-fn"]);
    // Global keys (the dev server takes no constraints), a worker deployment in `orders`.
    let text = |address: &str| {
        let text = descriptor(stack, "hub-temporal-invoke", &["it-hub-temporal-fn"]).replace(
            "namespaces = [ \"orders\",   \"billing\" ]  # odd spacing kept\n",
            &format!("address = \"{address}\"\n"),
        ) + &format!(
            "\n[[worker_deployments]]\nnamespace = \"orders\"\nname = \"{stack}-worker\"\nbuild_id = \"build-1\"\n\
             lambda_function_arn = \"arn:aws:lambda:us-east-1:{ACCOUNT}:function:it-hub-temporal-fn\"\n"
        );
        with_hub(&text, hub, "hub-temporal-ext")
    };
    co.write_env("ht", &text("127.0.0.1:9"));
    co.xtask(&["render", "ht"]).success();
    let rendered =
        std::fs::read_to_string(co.root().join("environments/ht/dynamicconfig.yaml")).unwrap();
    let values = env_render::dynamic_config::dev_server_values(&rendered).unwrap();
    assert!(
        values
            .iter()
            .any(|(k, _)| k == "workercontroller.compute_providers.aws.intermediary_roles"),
        "{values:?}"
    );
    let pairs: Vec<(&str, &str)> = values
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let server = temporal_server(&pairs);
    co.write_env("ht", &text(&server.address()));
    co.xtask(&["deploy", "ht", "--yes"]).success();
    let run = co.xtask(&["register", "ht"]);
    run.success();

    // The hub now requires another external ID: the server's validation of a new build fails
    // at the hub, which only the chain it read can make it assume.
    hub_role(hub, "hub-temporal-other");
    let moved = co.read_env("ht").replace("build-1", "build-2");
    co.write_env("ht", &moved);
    let run = co.xtask(&["register", "ht"]);
    run.failure();
    assert!(
        run.stderr.contains(&format!(
            "error assuming intermediary role: failed to assume role {}",
            hub_arn(hub)
        )) && run
            .stderr
            .contains("hint: the server could not assume a role of its chain"),
        "{}",
        run.stderr
    );
}
