//! `register` for a StackSet environment, against a real Temporal dev server: each version is
//! registered with the role recorded for its function's account in `[outputs.role_arns]`, and
//! a version whose function is in an account without an instance registers nothing, naming the
//! key.

use crate::support::{
    ACCOUNT, Checkout, WCI_ON, create_functions, describe_version, emulator, iam, temporal_server,
};

/// An account the StackSet targets where its instance did not deploy (no role recorded).
const OTHER: &str = "222222222222";
const ROLE: &str = "it-ss-reg-role";
const EXTERNAL_ID: &str = "ss-reg-ext-id";

/// A self-managed StackSet over this account and [`OTHER`], deployed to this account only
/// (`[outputs.role_arns]`), with a version in each account listed in `versions`.
fn environment(address: &str, versions: &[(&str, &str)]) -> String {
    let url = emulator().url();
    let mut text = format!(
        r#"[aws]
region = "us-east-1"
endpoint_url = "{url}"
account_id = "{ACCOUNT}"

[temporal]
server_role_arn = "arn:aws:iam::{ACCOUNT}:user/moto"
address = "{address}"

[role]
name = "{ROLE}"
external_id = "{EXTERNAL_ID}"
lambda_function_arns = [
  "arn:aws:lambda:us-east-1:{ACCOUNT}:function:it-ss-reg-fn",
  "arn:aws:lambda:us-east-1:{OTHER}:function:it-ss-reg-fn",
]

[stack_set]
name = "it-ss-reg"
permission_model = "self-managed"
accounts = ["{ACCOUNT}", "{OTHER}"]
regions = ["us-east-1"]
"#
    );
    for (name, account) in versions {
        text.push_str(&format!(
            "\n[[worker_deployments]]\nnamespace = \"orders\"\nname = \"{name}\"\nbuild_id = \"build-1\"\nlambda_function_arn = \"arn:aws:lambda:us-east-1:{account}:function:it-ss-reg-fn\"\n"
        ));
    }
    text.push_str(&format!(
        "\n[outputs]\nstack_set_id = \"it-ss-reg:0f1e\"\ndeployed_at = \"2026-11-25T10:00:00Z\"\n\n[outputs.role_arns]\n{ACCOUNT} = \"arn:aws:iam::{ACCOUNT}:role/{ROLE}\"\n"
    ));
    text
}

#[test]
fn each_version_gets_its_accounts_role_and_an_account_without_one_registers_nothing() {
    let server = temporal_server(WCI_ON);
    create_functions(&["it-ss-reg-fn"]);
    // The role the StackSet's instance made in this account, as the template makes it.
    iam(&format!(
        r#"
trust = {{'Version': '2012-10-17', 'Statement': [{{'Effect': 'Allow', 'Principal': {{'AWS': ['arn:aws:iam::{ACCOUNT}:user/moto']}},
    'Action': 'sts:AssumeRole', 'Condition': {{'StringEquals': {{'sts:ExternalId': ['{EXTERNAL_ID}']}}}}}}]}}
iam.create_role(RoleName='{ROLE}', AssumeRolePolicyDocument=json.dumps(trust))
iam.put_role_policy(RoleName='{ROLE}', PolicyName='Temporal-Lambda-Invoke-Permissions', PolicyDocument=json.dumps(
    {{'Version': '2012-10-17', 'Statement': [{{'Effect': 'Allow', 'Action': ['lambda:InvokeFunction', 'lambda:GetFunction'],
      'Resource': ['arn:aws:lambda:us-east-1:{ACCOUNT}:function:it-ss-reg-fn']}}]}}))
"#
    ));
    let co = Checkout::new();
    let address = server.address();

    // A version in an account without an instance: nothing is registered, the key is named.
    co.write_env(
        "org",
        &environment(
            &address,
            &[("it-ss-reg-a", ACCOUNT), ("it-ss-reg-b", OTHER)],
        ),
    );
    let before = co.read_env("org");
    let run = co.xtask(&["register", "org"]);
    run.failure();
    assert!(
        run.stderr.contains(&format!("account `{OTHER}`"))
            && run.stderr.contains(&format!(
                "`[outputs.role_arns]` of `{}` has no `\"{OTHER}\"`",
                co.env_path("org").display()
            ))
            && run.stderr.contains("nothing was registered"),
        "{}",
        run.stderr
    );
    assert_eq!(
        co.read_env("org"),
        before,
        "the descriptor is left as it was"
    );
    let missing = crate::support::temporal_cli(
        &address,
        &[
            "worker",
            "deployment",
            "describe-version",
            "--deployment-name",
            "it-ss-reg-a",
            "--build-id",
            "build-1",
        ],
    );
    assert!(!missing.status.success(), "no version was created");

    // The version of this account alone: registered with this account's role.
    co.write_env("org", &environment(&address, &[("it-ss-reg-a", ACCOUNT)]));
    let run = co.xtask(&["register", "org"]);
    run.success();
    assert!(
        run.stdout
            .contains("org: created Worker Deployment Version `orders/it-ss-reg-a@build-1`"),
        "{}\n{}",
        run.stdout,
        run.stderr
    );
    let version = describe_version(&address, "it-ss-reg-a");
    assert_eq!(
        version.pointer("/computeConfig/scalingGroups/default/provider/type"),
        Some(&serde_json::json!("aws-lambda")),
        "{version:#}"
    );
    assert!(
        co.read_env("org")
            .contains("registered = [\"orders/it-ss-reg-a@build-1\"]"),
        "{}",
        co.read_env("org")
    );
    // The plan asks the server with the same role: nothing to change.
    let run = co.xtask(&["plan", "org", "--output", "json"]);
    let plan: serde_json::Value = serde_json::from_str(&run.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}{}", run.stdout, run.stderr));
    assert_eq!(
        plan["environments"][0]["worker_deployment_versions"][0]["action"], "unchanged",
        "{plan:#}"
    );
}
