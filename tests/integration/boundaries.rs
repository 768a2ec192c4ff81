//! What one environment must not reach: another environment's frontend (an ambient
//! `TEMPORAL_ADDRESS` serves one named environment only), a name AWS holds once per account
//! (IAM role names are global), a server file another descriptor renders into, drift that only
//! `status` used to see, and versions a `destroy` would strand.

use crate::support::{Checkout, descriptor};

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
