//! Two accounts, as a platform team has them: staging (111111111111) and production
//! (222222222222), each an emulator of its own (moto's `MOTO_ACCOUNT_ID`). Every command that
//! calls AWS knows which account an environment belongs to and refuses credentials of another;
//! a descriptor may name a role to assume into its account; `whoami` names the role it runs as
//! with its path.

use std::sync::OnceLock;

use aws_sandbox::Owned;

use crate::fault_proxy::{Fault, FaultProxy, Rule};
use crate::support::{Checkout, boto3_at, emulator_for_account};

const STAGING: &str = "111111111111";
const PRODUCTION: &str = "222222222222";

/// The two accounts' emulators, shared by the tests of this file (each uses its own stacks).
fn accounts() -> &'static (Owned, Owned) {
    static BOTH: OnceLock<(Owned, Owned)> = OnceLock::new();
    BOTH.get_or_init(|| {
        (
            emulator_for_account(STAGING),
            emulator_for_account(PRODUCTION),
        )
    })
}

/// A descriptor calling the emulator at `url`, whose function is in `account`, with `aws`
/// lines added to `[aws]` and `rest` at the end.
fn env(url: &str, stack: &str, account: &str, aws: &str, rest: &str) -> String {
    format!(
        r#"[aws]
region = "us-east-1"
endpoint_url = "{url}"
{aws}

[temporal]
server_role_arn = "arn:aws:iam::123456789012:user/moto"

[role]
stack_name = "{stack}"
external_id = "accounts-ext-id"
lambda_function_arns = ["arn:aws:lambda:us-east-1:{account}:function:worker-1"]

[deploy]
confirm = false
{rest}"#
    )
}

/// `[outputs]` as a deploy into `account` would have recorded them.
fn outputs_in(account: &str, stack: &str) -> String {
    format!(
        "\n[outputs]\nrole_arn = \"arn:aws:iam::{account}:role/Temporal-Serverless-Worker-{stack}\"\n\
         stack_id = \"arn:aws:cloudformation:us-east-1:{account}:stack/{stack}/0f0e0d0c-0b0a-4909-8807-060504030201\"\n\
         deployed_at = \"2026-01-02T03:04:05Z\"\n"
    )
}

/// The names of the stacks in the emulator at `url`.
fn stacks_at(url: &str) -> String {
    boto3_at(
        url,
        "cloudformation",
        "print(sorted(s['StackName'] for s in client.describe_stacks()['Stacks']))",
    )
}

/// Creates role `path``name` in the emulator at `url`, assumable with `external_id`.
fn create_role(url: &str, path: &str, name: &str, external_id: &str) {
    let policy = format!(
        r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Principal":{{"AWS":"*"}},"Action":"sts:AssumeRole","Condition":{{"StringEquals":{{"sts:ExternalId":"{external_id}"}}}}}}]}}"#
    );
    boto3_at(
        url,
        "iam",
        &format!(
            "client.create_role(RoleName='{name}', Path='{path}', AssumeRolePolicyDocument='{policy}')"
        ),
    );
}

#[test]
fn a_stack_of_another_account_is_refused_never_recreated_and_no_hint_says_destroy() {
    let (_staging, production) = accounts();
    let co = Checkout::new();
    // Production's credentials, staging's record.
    let stack = "it-acct-recorded";
    co.write_env(
        "staging",
        &(env(&production.url(), stack, STAGING, "", "") + &outputs_in(STAGING, stack)),
    );
    let before = co.read_env("staging");
    for args in [
        &["plan", "staging"][..],
        &["deploy", "staging", "--yes"],
        &["status", "staging"],
        &["destroy", "staging", "--yes"],
    ] {
        let run = co.xtask(args);
        let all = run.all();
        assert_eq!(run.code, Some(1), "{args:?}: {all}");
        assert!(
            all.contains(&format!("`{PRODUCTION}`")) && all.contains(&format!("`{STAGING}`")),
            "{args:?} names both accounts: {all}"
        );
        assert!(
            all.contains("the stack recorded in [outputs]") && all.contains("dummy keys"),
            "{args:?} says what implies the account and where the credentials came from: {all}"
        );
        assert!(
            !all.contains("destroy") && !all.contains("deleted outside"),
            "{args:?} must not blame a deleted stack or suggest destroy: {all}"
        );
    }
    assert_eq!(
        co.read_env("staging"),
        before,
        "the descriptor is untouched"
    );
    assert!(!stacks_at(&production.url()).contains(stack));

    // `aws.account_id` alone stops a deploy with another account's credentials.
    let stack = "it-acct-declared";
    co.write_env(
        "declared",
        &env(
            &production.url(),
            stack,
            STAGING,
            &format!("account_id = \"{STAGING}\""),
            "",
        ),
    );
    let run = co.xtask(&["deploy", "declared", "--yes"]);
    assert_eq!(run.code, Some(1), "{}", run.all());
    assert!(
        run.all().contains("aws.account_id") && run.all().contains(&format!("`{PRODUCTION}`")),
        "{}",
        run.all()
    );
    assert!(!stacks_at(&production.url()).contains(stack));
}

#[test]
fn plan_names_the_account_region_and_credentials_of_each_environment() {
    let (staging, _production) = accounts();
    let co = Checkout::new();
    co.write_env(
        "staging",
        &env(
            &staging.url(),
            "it-acct-plan",
            STAGING,
            &format!("account_id = \"{STAGING}\""),
            "",
        ),
    );
    let text = co.xtask(&["plan", "staging"]);
    text.success();
    assert!(
        text.stdout.contains(&format!("account {STAGING}"))
            && text.stdout.contains("region us-east-1")
            && text.stdout.contains("credentials: dummy keys"),
        "{}",
        text.all()
    );
    let md = co.xtask(&["plan", "staging", "--output", "markdown"]);
    md.success();
    assert!(
        md.stdout.contains(&format!("`{STAGING}`")) && md.stdout.contains("`us-east-1`"),
        "{}",
        md.stdout
    );
    let json = co.xtask(&["plan", "staging", "--output", "json"]);
    json.success();
    let v: serde_json::Value = serde_json::from_str(&json.stdout).unwrap();
    let aws = &v["environments"][0]["aws"];
    assert_eq!(aws["account"], STAGING, "{v:#}");
    assert_eq!(aws["region"], "us-east-1", "{v:#}");
    assert!(
        aws["credentials"]
            .as_str()
            .is_some_and(|c| c.contains("dummy keys")),
        "{v:#}"
    );
}

#[test]
fn one_identity_reaches_each_account_through_its_own_role() {
    let (staging, production) = accounts();
    create_role(&staging.url(), "/", "it-deployer", "ci-staging-1");
    create_role(&production.url(), "/ci/", "it-deployer", "ci-production-1");
    let co = Checkout::new();
    let role = |account: &str, path: &str, ext: &str| {
        format!(
            "account_id = \"{account}\"\nrole_arn = \"arn:aws:iam::{account}:role/{path}it-deployer\"\nexternal_id = \"{ext}\"\nsession_name = \"ci-job\""
        )
    };
    co.write_env(
        "staging",
        &env(
            &staging.url(),
            "it-acct-role",
            STAGING,
            &role(STAGING, "", "ci-staging-1"),
            "",
        ),
    );
    co.write_env(
        "production",
        &env(
            &production.url(),
            "it-acct-role",
            PRODUCTION,
            &role(PRODUCTION, "ci/", "ci-production-1"),
            "",
        ),
    );
    for (name, account) in [("staging", STAGING), ("production", PRODUCTION)] {
        let run = co.xtask(&["whoami", name]);
        run.success();
        assert!(
            run.stdout.contains(&format!(
                "arn:aws:sts::{account}:assumed-role/it-deployer/ci-job"
            )),
            "{name}: {}",
            run.all()
        );
    }
    let plan = co.xtask(&["plan", "--all"]);
    plan.success();
    for account in [STAGING, PRODUCTION] {
        assert!(
            plan.stdout.contains(&format!("account {account}"))
                && plan.stdout.contains("role `arn:aws:iam::"),
            "{}",
            plan.all()
        );
    }
    // The external ID is sent: a wrong one is refused by the role's trust policy.
    co.write_env(
        "wrong",
        &env(
            &staging.url(),
            "it-acct-role-wrong",
            STAGING,
            &role(STAGING, "", "not-the-external-id"),
            "",
        ),
    );
    let run = co.xtask(&["whoami", "wrong"]);
    assert_eq!(run.code, Some(1), "{}", run.all());
    assert!(
        run.all().contains("AccessDenied") && run.all().contains("it-deployer"),
        "{}",
        run.all()
    );
}

#[test]
fn whoami_names_the_role_with_its_path_or_says_it_cannot() {
    let (staging, _production) = accounts();
    let path = "/aws-reserved/sso.amazonaws.com/";
    let name = "AWSReservedSSO_Admin_abc";
    create_role(&staging.url(), path, name, "sso-ext-id");
    let arn = format!("arn:aws:iam::{STAGING}:role{path}{name}");
    let co = Checkout::new();
    let aws =
        format!("role_arn = \"{arn}\"\nexternal_id = \"sso-ext-id\"\nsession_name = \"jane\"");
    co.write_env(
        "sso",
        &env(&staging.url(), "it-acct-sso", STAGING, &aws, ""),
    );
    let run = co.xtask(&["whoami", "sso"]);
    run.success();
    assert!(
        run.stdout
            .contains(&format!("arn:aws:sts::{STAGING}:assumed-role/{name}/jane")),
        "{}",
        run.all()
    );
    assert!(
        run.stdout.contains(&arn),
        "the role with its path: {}",
        run.all()
    );
    assert!(
        !run.stdout
            .contains(&format!("arn:aws:iam::{STAGING}:role/{name}")),
        "never the ARN without its path: {}",
        run.all()
    );

    // When IAM does not answer GetRole, it says so instead of guessing.
    // (The endpoints from variables: the descriptor's would serve IAM too.)
    let proxy = FaultProxy::start(&staging.url());
    proxy.add(Rule::new("GetRole", Fault::Status(403)));
    let endpoint = format!("endpoint_url = \"{}\"\n", staging.url());
    co.write_env("sso-vars", &co.read_env("sso").replace(&endpoint, ""));
    let run = co.xtask_with(
        &["whoami", "sso-vars"],
        &[
            ("AWS_ENDPOINT_URL", Some(&staging.url())),
            ("AWS_ENDPOINT_URL_IAM", Some(&proxy.url())),
        ],
    );
    run.success();
    assert!(
        run.stdout.contains("cannot read role") && run.stdout.contains(name),
        "{}",
        run.all()
    );
}

#[test]
fn the_descriptor_profile_wins_over_keys_in_the_environment() {
    // As in `providers.rs`: the endpoint is remote to the tool and no TCP connection can be made
    // to it, so nothing leaves this machine; the profile's process fails before any request.
    let home = tempfile::tempdir().unwrap();
    let aws_dir = home.path().join(".aws");
    std::fs::create_dir_all(&aws_dir).unwrap();
    let marker = home.path().join("process-ran");
    let script = home.path().join("prod-deployer.sh");
    std::fs::write(
        &script,
        format!(
            "#!/bin/sh\necho ran > '{}'\necho 'the credential_process of prod-deployer ran' >&2\nexit 1\n",
            marker.display()
        ),
    )
    .unwrap();
    let mut permissions = std::fs::metadata(&script).unwrap().permissions();
    std::os::unix::fs::PermissionsExt::set_mode(&mut permissions, 0o755);
    std::fs::set_permissions(&script, permissions).unwrap();
    let config = aws_dir.join("config");
    std::fs::write(
        &config,
        format!(
            "[profile prod-deployer]\nregion = us-east-1\ncredential_process = {}\n",
            script.display()
        ),
    )
    .unwrap();
    let credentials = aws_dir.join("credentials");
    std::fs::write(&credentials, "").unwrap();
    let co = Checkout::new();
    co.write_env(
        "production",
        &env(
            "http://255.255.255.255:9",
            "it-acct-profile",
            PRODUCTION,
            "profile = \"prod-deployer\"",
            "",
        ),
    );
    let (home, config, credentials) = (
        home.path().display().to_string(),
        config.display().to_string(),
        credentials.display().to_string(),
    );
    // Keys in the environment, as `aws-actions/configure-aws-credentials` leaves them.
    let run = co.xtask_with(
        &["whoami", "production"],
        &[
            ("HOME", Some(&home)),
            ("AWS_CONFIG_FILE", Some(&config)),
            ("AWS_SHARED_CREDENTIALS_FILE", Some(&credentials)),
            ("AWS_ACCESS_KEY_ID", Some("AKIAENVIRONMENTKEY01")),
            ("AWS_SECRET_ACCESS_KEY", Some("environment-secret")),
        ],
    );
    run.failure();
    assert!(
        marker.exists(),
        "the profile's credential_process never ran:\n{}",
        run.all()
    );
    assert!(
        run.all()
            .contains("the credential_process of prod-deployer ran"),
        "{}",
        run.all()
    );
}
