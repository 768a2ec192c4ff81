//! `deploy`, `plan`, `status` and `destroy` of a StackSet environment, end to end: an
//! organization with an OU of three member accounts on an emulator of its own (made through
//! boto3 as the management account, 123456789012, as `stacksets.rs` does), one descriptor with
//! `[stack_set]`, and the real `tsw`. Each member account's IAM is read with the
//! `x-moto-account-id` header.

use serde_json::Value;

use crate::support::{Checkout, boto3_at, xtask_in};

pub(crate) const ROLE: &str = "Temporal-Serverless-Worker";
const MANAGEMENT: &str = "123456789012";

/// Python run before each step: an Organizations client, `iam(account)` answering as another
/// account, and `role(account)`: the role's ARN and external ID there, or `None`.
const PRELUDE: &str = r#"
import json
url = client.meta.endpoint_url
def other(service, account=None):
    c = boto3.client(service, endpoint_url=url, region_name='us-east-1')
    if account:
        c.meta.events.register('before-sign.*.*', lambda request, **_: request.headers.__setitem__('x-moto-account-id', account))
    return c
org = other('organizations')
def role(account):
    iam = other('iam', account)
    try:
        r = iam.get_role(RoleName='Temporal-Serverless-Worker')['Role']
    except iam.exceptions.NoSuchEntityException:
        return None
    external_id = r['AssumeRolePolicyDocument']['Statement'][0]['Condition']['StringEquals']['sts:ExternalId']
    return [r['Arn'], external_id[0] if isinstance(external_id, list) else external_id]
"#;

/// Runs `step` (Python, after [`PRELUDE`]) against the emulator at `url`; its last printed line
/// is JSON.
pub(crate) fn step(url: &str, step: &str) -> Value {
    let out = boto3_at(url, "cloudformation", &format!("{PRELUDE}\n{step}"));
    let last = out.lines().last().unwrap_or_default();
    serde_json::from_str(last).unwrap_or_else(|e| panic!("{e}: {out}"))
}

/// An organization with OU `workers` holding three new accounts (the first of which may already
/// hold a role named `ROLE`, made by hand: its instance will fail).
pub(crate) fn organization(url: &str, clash: bool) -> (String, String, Vec<String>) {
    let org = step(
        url,
        &format!(
            r#"
org.create_organization(FeatureSet='ALL')
root = org.list_roots()['Roots'][0]['Id']
ou = org.create_organizational_unit(ParentId=root, Name='workers')['OrganizationalUnit']['Id']
accounts = []
for i in range(3):
    a = org.create_account(Email=f'team{{i}}@example.com', AccountName=f'team{{i}}')['CreateAccountStatus']['AccountId']
    org.move_account(AccountId=a, SourceParentId=root, DestinationParentId=ou)
    accounts.append(a)
if {clash}:
    other('iam', accounts[0]).create_role(RoleName='Temporal-Serverless-Worker', AssumeRolePolicyDocument=json.dumps(
        {{'Version': '2012-10-17', 'Statement': [{{'Effect': 'Allow', 'Principal': {{'AWS': 'arn:aws:iam::123456789012:root'}},
                                                 'Action': 'sts:AssumeRole'}}]}}))
print(json.dumps({{'root': root, 'ou': ou, 'accounts': accounts}}))
"#,
            clash = if clash { "True" } else { "False" }
        ),
    );
    let accounts = org["accounts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a.as_str().unwrap().to_owned())
        .collect();
    (
        org["root"].as_str().unwrap().to_owned(),
        org["ou"].as_str().unwrap().to_owned(),
        accounts,
    )
}

/// The role in each of `accounts`: [ARN, external ID], or null.
pub(crate) fn roles(url: &str, accounts: &[String]) -> Value {
    step(
        url,
        &format!(
            "print(json.dumps({{a: role(a) for a in {accounts:?}}}))",
            accounts = accounts
        ),
    )
}

/// The StackSet environment: the OU's accounts get the role, three at once, no failure
/// tolerated.
pub(crate) fn descriptor(url: &str, ou: &str, external_id: &str) -> String {
    format!(
        r#"# A StackSet environment: one descriptor for every account of the OU.
[aws]
region = "us-east-1"
account_id = "{MANAGEMENT}"   # the organization's management account
endpoint_url = "{url}"

[temporal]
server_role_arn = "arn:aws:iam::{MANAGEMENT}:user/moto"
namespaces = ["orders"]

[role]
name = "{ROLE}"
naming = "fixed"
external_id = "{external_id}"
lambda_function_arns = ["arn:aws:lambda:us-east-1:{MANAGEMENT}:function:worker:*"]

[stack_set]
name = "temporal-invocation-role"
permission_model = "service-managed"
organizational_units = ["{ou}"]
regions = ["us-east-1"]
max_concurrent_count = 3
failure_tolerance_count = 0

[deploy]
confirm = true
"#
    )
}

/// What `[outputs.role_arns]` holds once every one of `accounts` has the role ([`ROLE`]), in
/// the order [`recorded_roles`] reads it.
pub(crate) fn every_accounts_role(accounts: &[String]) -> Vec<(String, String)> {
    let mut roles: Vec<(String, String)> = accounts
        .iter()
        .map(|a| (a.clone(), format!("arn:aws:iam::{a}:role/{ROLE}")))
        .collect();
    roles.sort();
    roles
}

/// `[outputs.role_arns]` as the descriptor records them: `"ACCOUNT" = "ARN"` lines (or
/// `ACCOUNT = "ARN"`) under the table's header, up to the next table (comments left out).
pub(crate) fn recorded_roles(text: &str) -> Vec<(String, String)> {
    text.lines()
        .skip_while(|l| l.trim() != "[outputs.role_arns]")
        .skip(1)
        .take_while(|l| !l.trim_start().starts_with('['))
        .filter(|l| !l.trim_start().starts_with('#'))
        .filter_map(|l| {
            let (k, v) = l.split_once('=')?;
            Some((
                k.trim().trim_matches('"').to_owned(),
                v.trim().trim_matches('"').to_owned(),
            ))
        })
        .collect()
}

#[test]
fn one_descriptor_deploys_the_role_to_every_account_of_the_ou_and_destroys_it() {
    let emu = crate::support::emulator_of_its_own();
    let url = emu.url();
    let (root, ou, members) = organization(&url, false);
    let repo = Checkout::new();
    repo.write_env("fleet", &descriptor(&url, &ou, "ext-id-12345"));

    let deployed = repo.xtask(&["deploy", "fleet", "--yes"]);
    deployed.success();
    // Each account's progress was shown as it went.
    for account in &members {
        assert!(
            deployed.stderr.contains(account.as_str()),
            "{}",
            deployed.all()
        );
    }
    let roles_now = roles(&url, &members);
    for account in &members {
        assert_eq!(
            roles_now[account][0],
            format!("arn:aws:iam::{account}:role/{ROLE}"),
            "{roles_now}"
        );
        assert_eq!(roles_now[account][1], "ext-id-12345", "{roles_now}");
    }
    let text = repo.read_env("fleet");
    assert!(
        text.starts_with("# A StackSet environment"),
        "the rest of the file is kept: {text}"
    );
    assert_eq!(
        recorded_roles(&text),
        every_accounts_role(&members),
        "{text}"
    );
    assert!(
        text.contains("stack_set_id = \"temporal-invocation-role:"),
        "{text}"
    );

    // Right after: nothing to do, no operation, and the descriptor is not rewritten.
    let again = repo.xtask(&["deploy", "fleet", "--yes"]);
    again.success();
    assert!(again.stdout.contains("no changes"), "{}", again.all());
    assert_eq!(repo.read_env("fleet"), text);
    let json = repo.xtask(&["deploy", "fleet", "--yes", "--output", "json"]);
    let doc: Value = serde_json::from_str(&json.success().stdout).unwrap();
    let entry = &doc["environments"][0];
    assert_eq!(entry["action"], "unchanged", "{doc}");
    assert_eq!(
        entry["role_arns"].as_object().map(|r| r.len()),
        Some(3),
        "{doc}"
    );
    let operations = step(
        &url,
        "print(json.dumps(len(client.list_stack_set_operations(StackSetName='temporal-invocation-role')['Summaries'])))",
    );
    assert_eq!(operations, 1, "one CREATE operation only");
    let plan = repo.xtask(&["plan", "fleet", "--detailed-exitcode"]);
    assert_eq!(
        plan.code,
        Some(0),
        "plan right after: no changes\n{}",
        plan.all()
    );
    let status = repo.xtask(&["status", "fleet"]);
    assert_eq!(status.code, Some(0), "{}", status.all());

    // A role changed by hand in one account: drift detection finds its instance DRIFTED, and
    // status says AWS was changed outside the tool (exit 3).
    step(
        &url,
        &format!(
            "other('iam', '{}').update_assume_role_policy(RoleName='{ROLE}', PolicyDocument=json.dumps(\
             {{'Version': '2012-10-17', 'Statement': [{{'Effect': 'Allow', 'Principal': \
             {{'AWS': 'arn:aws:iam::123456789012:root'}}, 'Action': 'sts:AssumeRole'}}]}}))\n\
             print(json.dumps(True))",
            members[2]
        ),
    );
    let drifted = repo.xtask(&["status", "fleet"]);
    assert_eq!(drifted.code, Some(3), "{}", drifted.all());
    assert!(
        drifted
            .stdout
            .lines()
            .any(|l| l.contains(members[2].as_str()) && l.contains("drifted")),
        "{}",
        drifted.all()
    );

    // A new external ID: plan shows changes (exit 2 with --detailed-exitcode); the deploy
    // reaches every account's role, the drifted one too, and status agrees again.
    repo.write_env(
        "fleet",
        &text.replace(
            "external_id = \"ext-id-12345\"",
            "external_id = \"ext-id-67890\"",
        ),
    );
    let plan = repo.xtask(&["plan", "fleet", "--detailed-exitcode"]);
    assert_eq!(plan.code, Some(2), "{}", plan.all());
    repo.xtask(&["deploy", "fleet", "--yes"]).success();
    let status = repo.xtask(&["status", "fleet"]);
    assert_eq!(status.code, Some(0), "{}", status.all());
    let roles_now = roles(&url, &members);
    for account in &members {
        assert_eq!(roles_now[account][1], "ext-id-67890", "{roles_now}");
    }

    // One account's override (ParameterOverrides) reaches that account alone; a deploy right
    // after has nothing to do; taking the override out puts the StackSet's value back.
    let table = format!(
        "\n[stack_set.overrides.\"{}\"]\nexternal_id = \"team-b-external-id\"\n",
        members[1]
    );
    repo.write_env("fleet", &format!("{}{table}", repo.read_env("fleet")));
    repo.xtask(&["deploy", "fleet", "--yes"]).success();
    let roles_now = roles(&url, &members);
    for account in &members {
        let wanted = if *account == members[1] {
            "team-b-external-id"
        } else {
            "ext-id-67890"
        };
        assert_eq!(roles_now[account][1], wanted, "{roles_now}");
    }
    let again = repo.xtask(&["deploy", "fleet", "--yes"]);
    assert!(
        again.success().stdout.contains("no changes"),
        "{}",
        again.all()
    );
    repo.write_env("fleet", &repo.read_env("fleet").replace(&table, ""));
    repo.xtask(&["deploy", "fleet", "--yes"]).success();
    let roles_now = roles(&url, &members);
    for account in &members {
        assert_eq!(roles_now[account][1], "ext-id-67890", "{roles_now}");
    }

    // AutoDeployment: an account moved into the OU gets the role by itself; the next deploy
    // records its ARN.
    let late = step(
        &url,
        &format!(
            "a = org.create_account(Email='late@example.com', AccountName='late')['CreateAccountStatus']['AccountId']\n\
             org.move_account(AccountId=a, SourceParentId='{root}', DestinationParentId='{ou}')\n\
             print(json.dumps(a))"
        ),
    );
    let late = late.as_str().unwrap().to_owned();
    let mut role_of_late = Value::Null;
    for _ in 0..50 {
        role_of_late = roles(&url, std::slice::from_ref(&late))[&late].clone();
        if !role_of_late.is_null() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
    assert_eq!(
        role_of_late[0],
        format!("arn:aws:iam::{late}:role/{ROLE}"),
        "{role_of_late}"
    );
    // The automatic deployment's operation may still run: deploy waits for it first.
    repo.xtask(&["deploy", "fleet", "--yes"]).success();
    assert!(
        recorded_roles(&repo.read_env("fleet"))
            .iter()
            .any(|(a, _)| *a == late),
        "{}",
        repo.read_env("fleet")
    );

    // destroy removes every instance, the StackSet, and [outputs].
    let destroyed = repo.xtask(&["destroy", "fleet", "--yes"]);
    destroyed.success();
    let mut everyone = members.clone();
    everyone.push(late);
    let roles_now = roles(&url, &everyone);
    for account in &everyone {
        assert!(roles_now[account].is_null(), "{roles_now}");
    }
    let gone = step(
        &url,
        "try:\n    s = client.describe_stack_set(StackSetName='temporal-invocation-role')['StackSet']['Status']\n\
         except client.exceptions.StackSetNotFoundException:\n    s = 'GONE'\nprint(json.dumps(s))",
    );
    assert!(gone == "GONE" || gone == "DELETED", "{gone}");
    let text = repo.read_env("fleet");
    assert!(!text.contains("[outputs"), "{text}");
}

#[test]
fn an_instance_that_fails_is_reported_with_its_reason_and_fails_the_deploy() {
    let emu = crate::support::emulator_of_its_own();
    let url = emu.url();
    // The first account already has a role of the name: its instance fails.
    let (_, ou, members) = organization(&url, true);
    let repo = Checkout::new();
    repo.write_env("fleet", &descriptor(&url, &ou, "ext-id-12345"));
    let before = repo.read_env("fleet");

    let deployed = xtask_in(repo.root(), &["deploy", "fleet", "--yes"]);
    assert_eq!(deployed.code, Some(1), "{}", deployed.all());
    let all = deployed.all();
    assert!(all.contains(members[0].as_str()), "{all}");
    assert!(
        all.contains(&format!("Role with name {ROLE} already exists")),
        "the instance's reason is shown: {all}"
    );
    // What did deploy is recorded; the failed account has no role ARN recorded.
    let recorded = recorded_roles(&repo.read_env("fleet"));
    assert!(
        recorded.iter().all(|(a, _)| *a != members[0]),
        "{recorded:?}"
    );
    assert_ne!(repo.read_env("fleet"), before);
}

/// A self-managed StackSet targets the accounts it lists; an account taken out of the list
/// loses its instance and its role at the next deploy, and drops out of `[outputs.role_arns]`.
#[test]
fn a_self_managed_stack_set_follows_its_list_of_accounts() {
    let emu = crate::support::emulator_of_its_own();
    let url = emu.url();
    let accounts = ["111111111111".to_owned(), "222222222222".to_owned()];
    let text = descriptor(&url, "ou-unused-00000000", "ext-id-12345").replace(
        "permission_model = \"service-managed\"\norganizational_units = [\"ou-unused-00000000\"]",
        "permission_model = \"self-managed\"\naccounts = [\"111111111111\", \"222222222222\"]",
    );
    assert!(text.contains("self-managed"), "{text}");
    let repo = Checkout::new();
    repo.write_env("teams", &text);
    repo.xtask(&["deploy", "teams", "--yes"]).success();
    let roles_now = roles(&url, &accounts);
    for account in &accounts {
        assert_eq!(
            roles_now[account][0],
            format!("arn:aws:iam::{account}:role/{ROLE}"),
            "{roles_now}"
        );
    }
    assert_eq!(recorded_roles(&repo.read_env("teams")).len(), 2);

    let fewer = repo.read_env("teams").replace(
        "accounts = [\"111111111111\", \"222222222222\"]",
        "accounts = [\"111111111111\"]",
    );
    repo.write_env("teams", &fewer);
    repo.xtask(&["deploy", "teams", "--yes"]).success();
    let roles_now = roles(&url, &accounts);
    assert!(!roles_now["111111111111"].is_null(), "{roles_now}");
    assert!(roles_now["222222222222"].is_null(), "{roles_now}");
    let recorded = recorded_roles(&repo.read_env("teams"));
    assert_eq!(
        recorded,
        [(
            "111111111111".to_owned(),
            format!("arn:aws:iam::111111111111:role/{ROLE}")
        )]
    );
    repo.xtask(&["destroy", "teams", "--yes"]).success();
    assert!(roles(&url, &accounts)["111111111111"].is_null());
}

/// A reason of AWS's (it holds `pwned` and, after a line break, `forged`) stays on its line:
/// no line of the output starts with what follows its line break.
#[track_caller]
fn assert_one_line(text: &str) {
    for line in text.lines().filter(|l| l.contains("forged")) {
        assert!(
            line.contains("pwned"),
            "a line break of AWS's reason forged a line: {line:?}\nin:\n{text}"
        );
    }
}

/// What AWS answers is hostile too: an instance's StatusReason and an account ID from
/// CloudFormation carrying terminal escapes, a bidi override, a line break before a workflow
/// command, HTML, a link and a mention (rewritten into the emulator's answers by a loopback
/// proxy) reach the terminal, the CI log, the plan comment and the JSON escaped, inert.
#[test]
fn hostile_answers_of_a_stack_set_are_shown_escaped_and_inert() {
    use crate::fault_proxy::{Fault, FaultProxy, Rule};
    use crate::hostile_output::{assert_inert_markdown, assert_safe_for_a_log};
    /// As the XML answer carries it, and as it reads once decoded.
    const REASON_XML: &str = "exists &lt;img src=x onerror=alert(1)&gt; [approve](https://example.invalid/a) @org/team &#x1b;]0;pwned&#x7;&#x1b;[2J\u{9b}31m \u{202e}esrever\n::error::forged\n##[group]x";
    const REASON: &str = "exists <img src=x onerror=alert(1)> [approve](https://example.invalid/a) @org/team \x1b]0;pwned\x07\x1b[2J\u{9b}31m \u{202e}esrever\n::error::forged\n##[group]x";
    let emu = crate::support::emulator_of_its_own();
    let (_, ou, members) = organization(&emu.url(), true);
    let proxy = FaultProxy::start(&emu.url());
    proxy.add(Rule::new("*", Fault::Rewrite("already exists", REASON_XML)));
    let repo = Checkout::new();
    repo.write_env("fleet", &descriptor(&proxy.url(), &ou, "ext-id-12345"));

    let deployed = repo.xtask(&["deploy", "fleet", "--yes"]);
    assert_eq!(deployed.code, Some(1), "{}", deployed.all());
    assert!(
        deployed.stderr.contains("\\x1b]0;pwned\\x07"),
        "the reason reached the output, escaped:\n{}",
        deployed.all()
    );
    assert_safe_for_a_log("deploy stdout", &deployed.stdout);
    assert_safe_for_a_log("deploy stderr", &deployed.stderr);
    assert_one_line(&deployed.all());
    let json = repo.xtask(&["deploy", "fleet", "--yes", "--output", "json"]);
    assert_safe_for_a_log("deploy json", &json.stdout);
    assert_safe_for_a_log("deploy json stderr", &json.stderr);
    let doc: Value = serde_json::from_str(&json.stdout).expect("deploy JSON");
    assert!(
        doc.to_string()
            .contains(&serde_json::to_string(REASON).unwrap()[1..20]),
        "the JSON holds the reason as it is: {doc}"
    );

    // The StackSet's ID too, as DescribeStackSet answers it (the first rule that matches
    // applies: this one before the reason's).
    proxy.clear();
    proxy.add(Rule::new(
        "DescribeStackSet",
        Fault::Rewrite(
            "<StackSetId>temporal-invocation-role:",
            "<StackSetId>temporal-invocation-role:&#x1b;[2J pwned\n::error::forged ",
        ),
    ));
    proxy.add(Rule::new("*", Fault::Rewrite("already exists", REASON_XML)));
    let status = repo.xtask(&["status", "fleet"]);
    assert_eq!(status.code, Some(2), "{}", status.all());
    assert!(status.all().contains("pwned"), "{}", status.all());
    assert!(
        status
            .stdout
            .contains("temporal-invocation-role:\\x1b[2J pwned\\n"),
        "the ID, escaped on its line: {}",
        status.all()
    );
    assert_safe_for_a_log("status stdout", &status.stdout);
    assert_safe_for_a_log("status stderr", &status.stderr);
    assert_one_line(&status.all());
    let status = repo.xtask(&["status", "fleet", "--output", "json"]);
    assert_safe_for_a_log("status json", &status.stdout);
    assert!(status.stdout.contains("pwned"), "{}", status.all());

    // An account ID CloudFormation answers with, hostile: the plan shows that instance (to
    // remove: no target has it) escaped in every output. The first account is the one whose
    // instance exists (the failure tolerance of 0 cancelled the others).
    proxy.clear();
    let account = members[0].clone();
    let hostile_account: &'static str = Box::leak(
        format!("{account}&lt;img src=x&gt;@org/team|&#x1b;[2J\u{202e}`\n      + 999999999999 us-east-1  forged")
            .into_boxed_str(),
    );
    let plain: &'static str = Box::leak(format!("<Account>{account}</Account>").into_boxed_str());
    let rewritten: &'static str =
        Box::leak(format!("<Account>{hostile_account}</Account>").into_boxed_str());
    proxy.add(Rule::new(
        "ListStackInstances",
        Fault::Rewrite(plain, rewritten),
    ));
    for output in ["text", "markdown", "json"] {
        let plan = repo.xtask(&["plan", "fleet", "--output", output]);
        assert!(
            plan.code == Some(0) || plan.code == Some(2),
            "{}",
            plan.all()
        );
        assert!(
            plan.stdout.contains("org/team"),
            "{output}:\n{}",
            plan.all()
        );
        assert_safe_for_a_log(output, &plan.stdout);
        assert_safe_for_a_log(output, &plan.stderr);
        assert!(
            !plan
                .stdout
                .lines()
                .any(|l| l.trim_start().starts_with("+ 999999999999")),
            "a line break of AWS's answer forged a line of the plan:\n{}",
            plan.stdout
        );
        if output == "markdown" {
            assert_inert_markdown(&plan.stdout);
        }
    }
}

/// `[deploy] tags` reach the StackSet (CreateStackSet, UpdateStackSet), and `plan` compares
/// them: a change of tags alone is planned (exit 2), deployed, and then plans no changes.
#[test]
fn a_change_of_tags_alone_is_planned_and_deployed() {
    let emu = crate::support::emulator_of_its_own();
    let url = emu.url();
    let (_, ou, members) = organization(&url, false);
    let repo = Checkout::new();
    let tagged = |team: &str| {
        descriptor(&url, &ou, "ext-id-12345").replace(
            "confirm = true\n",
            &format!("confirm = true\ntags = {{ team = \"{team}\" }}\n"),
        )
    };
    repo.write_env("fleet", &tagged("orders"));
    let tags_now = || {
        step(
            &url,
            "print(json.dumps({t['Key']: t['Value'] for t in client.describe_stack_set(StackSetName='temporal-invocation-role')['StackSet'].get('Tags', [])}))",
        )
    };
    repo.xtask(&["deploy", "fleet", "--yes"]).success();
    assert_eq!(tags_now()["team"], "orders", "{}", tags_now());
    let plan = repo.xtask(&["plan", "fleet", "--detailed-exitcode"]);
    assert_eq!(plan.code, Some(0), "{}", plan.all());

    let recorded = repo.read_env("fleet");
    repo.write_env(
        "fleet",
        &recorded.replace("team = \"orders\"", "team = \"payments\""),
    );
    let plan = repo.xtask(&["plan", "fleet", "--detailed-exitcode"]);
    assert_eq!(plan.code, Some(2), "a change of tags alone: {}", plan.all());
    assert!(
        plan.stdout
            .lines()
            .any(|l| l.contains("team") && l.contains("orders") && l.contains("payments")),
        "{}",
        plan.all()
    );
    let json = repo.xtask(&["plan", "fleet", "--output", "json"]);
    let doc: Value = serde_json::from_str(&json.success().stdout).unwrap();
    assert_eq!(
        doc["environments"][0]["stack_set"]["tags"][0]["new"], "payments",
        "{doc}"
    );
    repo.xtask(&["deploy", "fleet", "--yes"]).success();
    assert_eq!(tags_now()["team"], "payments", "{}", tags_now());
    // And on each instance's stack, in its account.
    let stack_tags = step(
        &url,
        &format!(
            "out = {{}}\nfor a in {members:?}:\n    i = client.describe_stack_instance(StackSetName='temporal-invocation-role', StackInstanceAccount=a, StackInstanceRegion='us-east-1')['StackInstance']\n    s = other('cloudformation', a).describe_stacks(StackName=i['StackId'])['Stacks'][0]\n    out[a] = {{t['Key']: t['Value'] for t in s.get('Tags', [])}}.get('team')\nprint(json.dumps(out))"
        ),
    );
    for account in &members {
        assert_eq!(stack_tags[account], "payments", "{stack_tags}");
    }
    let plan = repo.xtask(&["plan", "fleet", "--detailed-exitcode"]);
    assert_eq!(plan.code, Some(0), "{}", plan.all());
}

/// `plan --all` and `deploy --all` with a StackSet environment among single-stack ones, in
/// waves (`[deploy] wave`): the StackSet's deploy starts once the wave before it has ended, the
/// one after it waits for it, and the plan's summary counts it with the others.
#[test]
fn deploy_all_runs_a_stack_set_environment_in_its_wave_among_single_stacks() {
    let emu = crate::support::emulator_of_its_own();
    let url = emu.url();
    let (_, ou, members) = organization(&url, false);
    let repo = Checkout::new();
    let single = |name: &str, wave: u16| {
        crate::support::descriptor(&format!("it-{name}"), &format!("{name}-ext-id"), &["w"])
            .replace(&crate::support::emulator().url(), &url)
            .replace("confirm = true", &format!("confirm = true\nwave = {wave}"))
    };
    repo.write_env("staging", &single("staging", 0));
    repo.write_env(
        "fleet",
        &descriptor(&url, &ou, "ext-id-12345")
            .replace("confirm = true", "confirm = true\nwave = 1"),
    );
    repo.write_env("production", &single("production", 2));

    let comment = repo.root().join("comment.md").display().to_string();
    let summary = |run: &crate::support::Run| {
        assert!(run.code == Some(0) || run.code == Some(2), "{}", run.all());
        std::fs::read_to_string(repo.root().join("comment.md")).unwrap()
    };
    let plan = repo.xtask(&[
        "plan",
        "--all",
        "--detailed-exitcode",
        "--summary-file",
        &comment,
    ]);
    assert_eq!(plan.code, Some(2), "{}", plan.all());
    let text = summary(&plan);
    assert!(
        text.starts_with("**3 environments: 3 with changes, 0 failed, 0 without changes"),
        "{text}"
    );
    let fleet = text.lines().find(|l| l.starts_with("| `fleet`")).unwrap();
    assert!(
        fleet.contains(&format!("(StackSet, {} accounts)", members.len())),
        "every member account of the OU, in the summary: {text}"
    );
    assert!(
        plan.stdout
            .contains("stack set `temporal-invocation-role`: create"),
        "{}",
        plan.all()
    );

    let run = repo.xtask(&["deploy", "--all", "--yes", "--jobs", "3"]);
    run.success();
    let lines: Vec<&str> = run.stderr.lines().collect();
    let first = |env: &str, what: &str| {
        lines
            .iter()
            .position(|l| l.starts_with(&format!("{env} ")) && l.contains(what))
            .unwrap_or_else(|| panic!("no `{what}` line of {env}:\n{}", run.all()))
    };
    let last = |env: &str, what: &str| {
        lines
            .iter()
            .rposition(|l| l.starts_with(&format!("{env} ")) && l.contains(what))
            .unwrap_or_else(|| panic!("no `{what}` line of {env}:\n{}", run.all()))
    };
    assert!(
        last("staging", "CREATE_COMPLETE") < first("fleet", ""),
        "wave 0 ends before the StackSet starts:\n{}",
        run.stderr
    );
    assert!(
        last("fleet", "SUCCEEDED") < first("production", ""),
        "the StackSet's wave ends before wave 2 starts:\n{}",
        run.stderr
    );
    assert_eq!(
        recorded_roles(&repo.read_env("fleet")).len(),
        members.len(),
        "{}",
        repo.read_env("fleet")
    );
    for env in ["staging", "production"] {
        assert!(repo.read_env(env).contains("role_arn = "), "{env}");
    }

    let plan = repo.xtask(&[
        "plan",
        "--all",
        "--detailed-exitcode",
        "--summary-file",
        &comment,
    ]);
    assert_eq!(plan.code, Some(0), "{}", plan.all());
    let text = summary(&plan);
    assert!(
        text.starts_with("**3 environments: 0 with changes, 0 failed, 3 without changes"),
        "{text}"
    );
}

/// The walkthrough of docs/stacksets.md: the descriptor `init --stack-set` writes, with the
/// OU and the emulator's endpoint, deploys the role to every account of the OU as it is, and
/// plans no changes right after.
#[test]
fn the_descriptor_init_writes_deploys_as_it_is() {
    let emu = crate::support::emulator_of_its_own();
    let url = emu.url();
    let (_, ou, members) = organization(&url, false);
    let repo = Checkout::new();
    repo.xtask(&[
        "init",
        "fleet",
        "--stack-set",
        "--organizational-unit",
        &ou,
        "--endpoint-url",
        &url,
    ])
    .success();
    repo.xtask(&["deploy", "fleet", "--yes"]).success();
    let recorded = recorded_roles(&repo.read_env("fleet"));
    assert_eq!(recorded.len(), members.len(), "{}", repo.read_env("fleet"));
    for (account, arn) in &recorded {
        assert!(members.contains(account), "{recorded:?}");
        assert_eq!(
            *arn,
            format!("arn:aws:iam::{account}:role/Temporal-Serverless-Worker-fleet")
        );
    }
    let plan = repo.xtask(&["plan", "fleet", "--detailed-exitcode"]);
    assert_eq!(plan.code, Some(0), "{}", plan.all());
}
