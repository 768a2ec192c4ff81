//! `doctor` of a StackSet environment whose server reaches every account through a hub role
//! (`[[temporal.intermediary_roles]]`): an organization with an OU of three member accounts on
//! an emulator of its own, the hub in the management account (boto3, trusting the server's
//! identity with an external ID), the role deployed to each account by `tsw deploy`, and a
//! Lambda function in each account (boto3 with the `x-moto-account-id` header). Run as the
//! server's identity (`user/moto`), `doctor` proves the chain into every account, names each
//! account's role, and fails on the one account whose role was edited, or at the hop.

use std::net::TcpListener;

use crate::stackset_deploy::{organization, step};
use crate::support::Checkout;

const MANAGEMENT: &str = "123456789012";
const HUB: &str = "it-ss-doctor-hub";
const ROLE: &str = "Temporal-Serverless-Worker";
pub(crate) const FUNCTION: &str = "team-worker";

fn hub_arn() -> String {
    format!("arn:aws:iam::{MANAGEMENT}:role/{HUB}")
}

/// Creates (or re-creates the trust policy of) the hub in the management account, trusting
/// the server's identity (`user/moto`) with `external_id`.
fn hub_role(url: &str, external_id: &str) {
    step(
        url,
        &format!(
            "iam = other('iam')\n\
             trust = json.dumps({{'Version': '2012-10-17', 'Statement': [{{'Effect': 'Allow', \
             'Principal': {{'AWS': 'arn:aws:iam::{MANAGEMENT}:user/moto'}}, 'Action': 'sts:AssumeRole', \
             'Condition': {{'StringEquals': {{'sts:ExternalId': '{external_id}'}}}}}}]}})\n\
             try:\n    iam.update_assume_role_policy(RoleName='{HUB}', PolicyDocument=trust)\n\
             except iam.exceptions.NoSuchEntityException:\n    iam.create_role(RoleName='{HUB}', AssumeRolePolicyDocument=trust)\n\
             print(json.dumps(True))"
        ),
    );
}

/// A function named [`FUNCTION`] in each of `accounts`, executing as `role` there, as each
/// team's own deploy would make it.
pub(crate) fn functions(url: &str, accounts: &[String], role: &str) {
    step(
        url,
        &format!(
            "import io, zipfile\n\
             buf = io.BytesIO()\n\
             with zipfile.ZipFile(buf, 'w') as z:\n    z.writestr('handler.py', 'def handler(event, context):\\n    return event\\n')\n\
             for a in {accounts:?}:\n    \
                 other('lambda', a).create_function(FunctionName='{FUNCTION}', Runtime='python3.12', \
                 Role=f'arn:aws:iam::{{a}}:role/{role}', Handler='handler.handler', Code={{'ZipFile': buf.getvalue()}}, Timeout=600)\n\
             print(json.dumps(True))"
        ),
    );
}

/// The StackSet environment through the hub, each account's function in `role.lambda_function_arns`.
fn descriptor(url: &str, ou: &str, accounts: &[String], frontend: &str) -> String {
    let functions: Vec<String> = accounts
        .iter()
        .map(|a| format!("  \"arn:aws:lambda:us-east-1:{a}:function:{FUNCTION}\",\n"))
        .collect();
    format!(
        r#"[aws]
region = "us-east-1"
account_id = "{MANAGEMENT}"
endpoint_url = "{url}"

[temporal]
server_role_arn = "arn:aws:iam::{MANAGEMENT}:user/moto"
address = "{frontend}"
namespaces = ["orders"]

[[temporal.intermediary_roles]]
role_arn = "{hub}"
session_name = "temporal-hub"
external_id = "hub-ext-id-1"

[role]
name = "{ROLE}"
naming = "fixed"
external_id = "fleet-ext-id-1"
lambda_function_arns = [
{functions}]

[stack_set]
name = "temporal-invocation-role"
permission_model = "service-managed"
organizational_units = ["{ou}"]
regions = ["us-east-1"]
"#,
        hub = hub_arn(),
        functions = functions.concat(),
    )
}

/// `account`'s role passes its three lines of step 4: AssumeRole with the external ID, denied
/// without it, and GetFunction on the account's function through the role.
fn assert_role_checks_pass(run: &crate::support::Run, account: &str) {
    let role = format!("arn:aws:iam::{account}:role/{ROLE}");
    let function = format!("arn:aws:lambda:us-east-1:{account}:function:{FUNCTION}");
    for check in [
        format!("AssumeRole with the external ID {role}"),
        format!("AssumeRole without the external ID is denied {role}"),
        format!("role can GetFunction {function} {role}"),
    ] {
        assert!(
            run.line(&check).starts_with("pass  step 4"),
            "{check}: {}",
            run.stdout
        );
    }
}

/// The masks of the emulator's random IDs: each account as `[ACCOUNT-N]` (in sorted order, as
/// the report lists them) and the OU.
pub(crate) fn masks(ou: &str, accounts: &[String]) -> Vec<(String, String)> {
    let mut sorted = accounts.to_vec();
    sorted.sort();
    let mut masks: Vec<(String, String)> = sorted
        .into_iter()
        .enumerate()
        .map(|(i, a)| (a, format!("[ACCOUNT-{}]", i + 1)))
        .collect();
    masks.push((ou.to_owned(), "[OU]".to_owned()));
    masks
}

#[test]
fn doctor_proves_the_chain_into_every_account_of_the_stack_set() {
    let emu = crate::support::emulator_of_its_own();
    let url = emu.url();
    let (_, ou, members) = organization(&url, false);
    hub_role(&url, "hub-ext-id-1");
    // What answers at `temporal.address`: the checks of step 1 need a listener, no more.
    let frontend = TcpListener::bind("127.0.0.1:0").unwrap();
    let frontend = frontend.local_addr().unwrap().to_string();
    let co = Checkout::new();
    co.write_env("fleet", &descriptor(&url, &ou, &members, &frontend));
    co.xtask(&["deploy", "fleet", "--yes"]).success();
    functions(&url, &members, ROLE);
    co.xtask(&["render", "fleet"]).success();

    // As the server: the hop, then every account's role through it.
    let run = co.xtask(&["doctor", "fleet"]);
    crate::snapshots::assert_run_masked(
        "doctor_stack_set_through_a_hub",
        co.root(),
        &run,
        &masks(&ou, &members),
    );
    run.success();
    assert!(
        run.line("hop 1 of intermediary_roles")
            .starts_with("pass  step 4"),
        "{}",
        run.stdout
    );
    for account in &members {
        assert_role_checks_pass(&run, account);
        assert!(
            run.line(&format!("instance {account}"))
                .starts_with("pass  step 4"),
            "{}",
            run.stdout
        );
    }

    // One account's role edited by hand: it trusts the hub without the external ID. doctor
    // fails on that account's line alone and says what to fix.
    let edited = &members[1];
    let original = step(
        &url,
        &format!(
            "iam = other('iam', '{edited}')\n\
             doc = iam.get_role(RoleName='{ROLE}')['Role']['AssumeRolePolicyDocument']\n\
             iam.update_assume_role_policy(RoleName='{ROLE}', PolicyDocument=json.dumps(\
             {{'Version': '2012-10-17', 'Statement': [{{'Effect': 'Allow', 'Principal': \
             {{'AWS': '{hub}'}}, 'Action': 'sts:AssumeRole'}}]}}))\n\
             print(json.dumps(doc))",
            hub = hub_arn()
        ),
    );
    let run = co.xtask(&["doctor", "fleet"]);
    run.failure();
    let failed: Vec<&str> = run
        .stdout
        .lines()
        .filter(|l| l.starts_with("FAIL"))
        .collect();
    assert_eq!(failed.len(), 1, "{}", run.stdout);
    assert!(
        failed[0].contains(&format!(
            "AssumeRole without the external ID is denied arn:aws:iam::{edited}:role/{ROLE}"
        )) && failed[0].contains("can be assumed without an external ID"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.contains("fix: enforce `sts:ExternalId`"),
        "{}",
        run.stdout
    );
    step(
        &url,
        &format!(
            "other('iam', '{edited}').update_assume_role_policy(RoleName='{ROLE}', PolicyDocument=json.dumps({original}))\n\
             print(json.dumps(True))"
        ),
    );
    co.xtask(&["doctor", "fleet"]).success();

    // A wrong external ID for that account in the descriptor, not deployed: its role refuses
    // it, on that account's line, and a deploy would change that account's instance.
    let deployed = co.read_env("fleet");
    co.write_env(
        "fleet",
        &format!(
            "{deployed}\n[stack_set.overrides.\"{edited}\"]\nexternal_id = \"wrong-ext-id\"\n"
        ),
    );
    let run = co.xtask(&["doctor", "fleet"]);
    run.failure();
    let line = run.line(&format!(
        "AssumeRole with the external ID arn:aws:iam::{edited}:role/{ROLE}"
    ));
    assert!(line.starts_with("FAIL  step 4"), "{}", run.stdout);
    assert!(
        run.stdout.contains(&format!(
            "`stack_set.overrides.\"{edited}\".external_id`, then deploy"
        )),
        "{}",
        run.stdout
    );
    let declared = run.line("stack set as declared");
    assert!(
        declared.starts_with("FAIL") && declared.contains(edited.as_str()),
        "{}",
        run.stdout
    );
    for account in members.iter().filter(|a| *a != edited) {
        assert!(
            !run.stdout.lines().any(|l| l.starts_with("FAIL")
                && !l.contains("stack set")
                && l.contains(account.as_str())),
            "{}",
            run.stdout
        );
    }
    co.write_env("fleet", &deployed);

    // The hub now wants another external ID: the chain stops at the hop, which says what to
    // fix, and no account's role is checked through it.
    hub_role(&url, "hub-ext-id-2");
    let run = co.xtask(&["doctor", "fleet"]);
    run.failure();
    crate::snapshots::assert_run_masked(
        "doctor_stack_set_through_a_hub_that_refuses",
        co.root(),
        &run,
        &masks(&ou, &members),
    );
    let hop = run.line("hop 1 of intermediary_roles");
    assert!(
        hop.starts_with("FAIL  step 4") && hop.contains("AccessDenied"),
        "{}",
        run.stdout
    );
    for account in &members {
        let line = run.line(&format!(
            "invocation role arn:aws:iam::{account}:role/{ROLE}"
        ));
        assert!(
            line.starts_with("WARN") && line.contains("the chain stops at hop 1"),
            "{}",
            run.stdout
        );
    }
    assert!(
        !run.stdout.contains("AssumeRole with the external ID"),
        "{}",
        run.stdout
    );
}

/// A worker deployment's function in a member account: `doctor` reads its configuration
/// through that account's role (the server's own credentials cannot read another account's
/// functions), and judges its timeout and environment as for a single stack's function.
#[test]
fn doctor_reads_a_member_accounts_worker_function_through_its_role() {
    let emu = crate::support::emulator_of_its_own();
    let url = emu.url();
    let (_, ou, members) = organization(&url, false);
    hub_role(&url, "hub-ext-id-1");
    let frontend = TcpListener::bind("127.0.0.1:0").unwrap();
    let frontend = frontend.local_addr().unwrap().to_string();
    let account = &members[0];
    let function = format!("arn:aws:lambda:us-east-1:{account}:function:{FUNCTION}");
    let co = Checkout::new();
    co.write_env(
        "fleet",
        &format!(
            "{}\n[[worker_deployments]]\nnamespace = \"orders\"\nname = \"team\"\nbuild_id = \"b1\"\nlambda_function_arn = \"{function}\"\n",
            descriptor(&url, &ou, &members, &frontend)
        ),
    );
    co.xtask(&["deploy", "fleet", "--yes"]).success();
    functions(&url, &members, ROLE);
    // Too short for the Lambda worker, which keeps 7 s of it for its shutdown.
    step(
        &url,
        &format!(
            "other('lambda', '{account}').update_function_configuration(FunctionName='{FUNCTION}', Timeout=5)\n\
             print(json.dumps(True))"
        ),
    );
    co.xtask(&["render", "fleet"]).success();

    let run = co.xtask(&["doctor", "fleet"]);
    run.failure();
    let timeout = run.line(&format!("timeout of {function}"));
    assert!(
        timeout.starts_with("FAIL  step 5") && timeout.contains("5 s"),
        "{}",
        run.stdout
    );
    assert!(
        !run.stdout.contains(&format!("configuration of {function}")),
        "read through the role, not refused: {}",
        run.stdout
    );
}

/// The Temporal server in a member account of its own (S), outside the StackSet's OU and not
/// the management account (M) that owns the StackSet: its credentials cannot read the StackSet
/// (M's), so `doctor` warns that the StackSet's lines were not read, and still checks every
/// account's role as the server reaches it, judged from `[outputs.role_arns]`. A role edited in
/// one account to trust the server without the external ID still fails that account's line.
#[test]
fn doctor_as_a_server_outside_the_stack_sets_account_checks_every_accounts_role() {
    let emu = crate::support::emulator_of_its_own();
    let url = emu.url();
    let (_, ou, members) = organization(&url, false);
    let server_account = crate::stackset_delegated::administrator(&url, false);
    let keys = crate::least_privilege::user(
        &url,
        &server_account,
        "temporal-server",
        &Default::default(),
    );
    let server = format!("arn:aws:iam::{server_account}:user/temporal-server");
    let frontend = TcpListener::bind("127.0.0.1:0").unwrap();
    let frontend = frontend.local_addr().unwrap().to_string();
    // No hub: each account's role trusts the server's user.
    let text = descriptor(&url, &ou, &members, &frontend);
    let hub = format!(
        "[[temporal.intermediary_roles]]\nrole_arn = \"{}\"\nsession_name = \"temporal-hub\"\nexternal_id = \"hub-ext-id-1\"\n\n",
        hub_arn()
    );
    let managed = format!("server_role_arn = \"arn:aws:iam::{MANAGEMENT}:user/moto\"");
    assert!(text.contains(&hub) && text.contains(&managed), "{text}");
    let text = text
        .replace(&hub, "")
        .replace(&managed, &format!("server_role_arn = \"{server}\""));
    let co = Checkout::new();
    co.write_env("fleet", &text);
    // Deployed by the StackSet's owner (the management account's `user/moto`).
    co.xtask(&["deploy", "fleet", "--yes"]).success();
    functions(&url, &members, ROLE);
    co.xtask(&["render", "fleet"]).success();

    let run = crate::least_privilege::as_user(&co, &keys, &["doctor", "fleet"]);
    let mut masked = masks(&ou, &members);
    masked.push((server_account.clone(), "[SERVER-ACCOUNT]".to_owned()));
    crate::snapshots::assert_run_masked(
        "doctor_stack_set_as_a_server_in_another_account",
        co.root(),
        &run,
        &masked,
    );
    run.success();
    let set = run.line("stack set");
    assert!(
        set.starts_with("WARN  step 4")
            && set.contains(&server_account)
            && set.contains(MANAGEMENT)
            && set.contains("`aws.account_id`"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout
            .contains(" status fleet` with the owner's credentials: it checks the StackSet, its instances and drift"),
        "{}",
        run.stdout
    );
    for account in &members {
        assert_role_checks_pass(&run, account);
    }

    // One account's role edited by hand: it trusts the server without the external ID.
    let edited = &members[1];
    step(
        &url,
        &format!(
            "other('iam', '{edited}').update_assume_role_policy(RoleName='{ROLE}', PolicyDocument=json.dumps(\
             {{'Version': '2012-10-17', 'Statement': [{{'Effect': 'Allow', 'Principal': \
             {{'AWS': '{server}'}}, 'Action': 'sts:AssumeRole'}}]}}))\n\
             print(json.dumps(True))"
        ),
    );
    let run = crate::least_privilege::as_user(&co, &keys, &["doctor", "fleet"]);
    run.failure();
    let failed: Vec<&str> = run
        .stdout
        .lines()
        .filter(|l| l.starts_with("FAIL"))
        .collect();
    assert_eq!(failed.len(), 1, "{}", run.stdout);
    assert!(
        failed[0].contains(&format!(
            "AssumeRole without the external ID is denied arn:aws:iam::{edited}:role/{ROLE}"
        )),
        "{}",
        run.stdout
    );

    // Step 5 reads a worker deployment's function in a member account through its role, as
    // the server reaches it: too short a timeout there fails.
    let account = &members[0];
    let function = format!("arn:aws:lambda:us-east-1:{account}:function:{FUNCTION}");
    co.write_env(
        "fleet",
        &format!(
            "{}\n[[worker_deployments]]\nnamespace = \"orders\"\nname = \"team\"\nbuild_id = \"b1\"\nlambda_function_arn = \"{function}\"\n",
            co.read_env("fleet")
        ),
    );
    step(
        &url,
        &format!(
            "other('lambda', '{account}').update_function_configuration(FunctionName='{FUNCTION}', Timeout=5)\n\
             print(json.dumps(True))"
        ),
    );
    let run = crate::least_privilege::as_user(&co, &keys, &["doctor", "fleet"]);
    run.failure();
    let timeout = run.line(&format!("timeout of {function}"));
    assert!(
        timeout.starts_with("FAIL  step 5") && timeout.contains("5 s"),
        "{}",
        run.stdout
    );
    assert!(
        !run.stdout.contains(&format!("configuration of {function}")),
        "read through the role, not refused: {}",
        run.stdout
    );
}
