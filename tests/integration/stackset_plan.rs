//! `plan` of a StackSet environment (`[stack_set]`) on an emulator of its own: an organization
//! with an OU of three member accounts (`stackset_deploy::organization`, through boto3), then the
//! real `tsw`. The plan reads only: the StackSet, its instances, the OU's accounts through
//! AWS Organizations, and each instance's overrides.

use serde_json::Value;

use crate::snapshots::assert_run_masked;
use crate::support::{ACCOUNT, Checkout, Run, boto3_at, emulator_of_its_own};

/// The descriptor; with `overridden`, that account's role gets an external ID of its own.
fn descriptor(url: &str, ou: &str, overridden: Option<&str>) -> String {
    let overrides = overridden
        .map(|a| format!("\n[stack_set.overrides.\"{a}\"]\nexternal_id = \"team-one-ext-id\"\n"))
        .unwrap_or_default();
    format!(
        r#"# Every team account of the `workers` OU gets the invocation role.
[aws]
region = "us-east-1"
endpoint_url = "{url}"
account_id = "{ACCOUNT}"

[temporal]
server_role_arn = "arn:aws:iam::{ACCOUNT}:role/temporal-server"

[role]
name = "Temporal-Serverless-Worker"
external_id = "org-ext-id-1"
lambda_function_arns = ["arn:aws:lambda:us-east-1:{ACCOUNT}:function:worker:*"]

[stack_set]
name = "temporal-invocation-role"
permission_model = "service-managed"
organizational_units = ["{ou}"]
regions = ["us-east-1"]
auto_deployment = false
{overrides}"#
    )
}

/// The plan as JSON.
fn plan_json(co: &Checkout) -> Value {
    let run = co.xtask(&["plan", "org", "--output", "json"]);
    run.success();
    serde_json::from_str(&run.stdout).unwrap_or_else(|e| panic!("{e}: {}", run.stdout))
}

/// (account, action) of each instance of the plan.
fn instances(plan: &Value) -> Vec<(String, String)> {
    plan["environments"][0]["stack_set"]["instances"]
        .as_array()
        .unwrap_or_else(|| panic!("no instances in {plan:#}"))
        .iter()
        .map(|i| {
            (
                i["account"].as_str().unwrap().to_owned(),
                i["action"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

fn snapshot(co: &Checkout, case: &str, masks: &[(String, String)]) -> Run {
    let mut last = None;
    for output in ["text", "markdown"] {
        let run = co.xtask(&["plan", "org", "--output", output, "--detailed-exitcode"]);
        assert_run_masked(
            &format!("stackset_plan_{case}_{output}"),
            co.root(),
            &run,
            masks,
        );
        last = Some(run);
    }
    last.unwrap()
}

#[test]
fn plan_shows_each_accounts_instance_and_nothing_once_deployed_until_an_account_joins() {
    let emu = emulator_of_its_own();
    let url = emu.url();
    let (root, ou, mut accounts) = crate::stackset_deploy::organization(&url, false);
    accounts.sort();
    let mut masks = crate::stackset_doctor::masks(&ou, &accounts);
    let co = Checkout::new();
    co.write_env("org", &descriptor(&url, &ou, Some(&accounts[0])));
    // The rendered files as committed: the plan is the StackSet's alone.
    co.xtask(&["render", "org"]).success();

    // Nothing exists yet: the StackSet and an instance in each account of the OU.
    let run = snapshot(&co, "create", &masks);
    assert_eq!(run.code, Some(2), "{}", run.all());
    let plan = plan_json(&co);
    let set = &plan["environments"][0]["stack_set"];
    assert_eq!(set["action"], "create", "{plan:#}");
    assert_eq!(
        instances(&plan),
        accounts
            .iter()
            .map(|a| (a.clone(), "create".to_owned()))
            .collect::<Vec<_>>()
    );
    // Organizations' ARNs name the management account, which gets no instance.
    assert_eq!(set["management_account"], ACCOUNT, "{plan:#}");
    assert_eq!(
        set["instances"][0]["overrides"][0]["value"], "team-one-ext-id",
        "{plan:#}"
    );
    // The plan changed nothing.
    let none = boto3_at(
        &url,
        "cloudformation",
        "print(json.dumps([s['StackSetName'] for s in client.list_stack_sets()['Summaries']]))",
    );
    assert_eq!(none, "[]");

    // The StackSet as the plan declares it, deployed outside the tool; without the override:
    // the emulator ignores `AccountFilterType`, so one account of an OU cannot get its own
    // parameters there.
    co.write_env("org", &descriptor(&url, &ou, None));
    let plan = plan_json(&co);
    let set = &plan["environments"][0]["stack_set"];
    let parameters: Vec<(String, String)> = set["parameters"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            (
                p["key"].as_str().unwrap().to_owned(),
                p["new"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    // The tags too: CloudFormation puts them on each instance's stack, and plan compares them.
    let tags: Vec<(String, String)> = set["tags"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| {
            (
                t["key"].as_str().unwrap().to_owned(),
                t["new"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    let template = co.root().join("templates/serverless-worker-role.yaml");
    let deployed = boto3_at(
        &url,
        "cloudformation",
        &format!(
            r#"
import time
params = [{{'ParameterKey': k, 'ParameterValue': v}} for k, v in {parameters:?}]
client.create_stack_set(StackSetName='temporal-invocation-role', TemplateBody=open({template:?}).read(),
    Parameters=params, Tags=[{{'Key': k, 'Value': v}} for k, v in {tags:?}], PermissionModel='SERVICE_MANAGED', Capabilities=['CAPABILITY_NAMED_IAM'],
    AutoDeployment={{'Enabled': False}})
def done(op):
    for _ in range(300):
        s = client.describe_stack_set_operation(StackSetName='temporal-invocation-role', OperationId=op)['StackSetOperation']['Status']
        if s != 'RUNNING':
            return s
        time.sleep(0.1)
    raise SystemExit('still RUNNING')
first = done(client.create_stack_instances(StackSetName='temporal-invocation-role', Regions=['us-east-1'],
    DeploymentTargets={{'OrganizationalUnitIds': [{ou:?}]}})['OperationId'])
print(json.dumps({{'first': first}}))
"#,
            parameters = parameters
                .iter()
                .map(|(k, v)| (k.as_str(), v.as_str()))
                .collect::<Vec<_>>(),
            template = template.display().to_string(),
            tags = tags
                .iter()
                .map(|(k, v)| (k.as_str(), v.as_str()))
                .collect::<Vec<_>>(),
        ),
    );
    let deployed: Value = serde_json::from_str(deployed.lines().last().unwrap()).unwrap();
    assert_eq!(deployed["first"], "SUCCEEDED", "{deployed:#}");

    // Deployed as declared: no changes, exit 0 with --detailed-exitcode.
    let run = co.xtask(&["plan", "org", "--detailed-exitcode"]);
    assert_run_masked("stackset_plan_no_changes_text", co.root(), &run, &masks);
    assert_eq!(run.code, Some(0), "{}\n{deployed:#}", run.all());
    let plan = plan_json(&co);
    assert_eq!(plan["environments"][0]["stack_set"]["action"], "no_change");
    assert_eq!(
        plan["environments"][0]["stack_set"]["management_account"],
        ACCOUNT
    );

    // An account joins the OU; without AutoDeployment it has no instance until a deploy.
    let joined = boto3_at(
        &url,
        "organizations",
        &format!(
            "a = client.create_account(Email='late@example.com', AccountName='late')['CreateAccountStatus']['AccountId']\n\
             client.move_account(AccountId=a, SourceParentId={root:?}, DestinationParentId={ou:?})\nprint(a)",
        ),
    );
    masks.push((joined.clone(), "[ACCOUNT-LATE]".into()));
    let run = snapshot(&co, "account_joined", &masks);
    assert_eq!(run.code, Some(2), "{}", run.all());
    let plan = plan_json(&co);
    let changed: Vec<(String, String)> = instances(&plan)
        .into_iter()
        .filter(|(_, action)| action != "no_change")
        .collect();
    assert_eq!(changed, [(joined, "create".to_owned())], "{plan:#}");
    // `plan --all` plans it beside any other environment.
    let all = co.xtask(&["plan", "--all", "--output", "json", "--detailed-exitcode"]);
    assert_eq!(all.code, Some(2), "{}", all.all());
    let all: Value = serde_json::from_str(&all.stdout).unwrap();
    assert_eq!(instances(&all), instances(&plan));
}

/// `validate` refuses what AWS would refuse later, before any call: each problem with the
/// descriptor's file, line and key, and what is allowed.
#[test]
fn validate_refuses_a_misplaced_stack_set_naming_file_line_and_key() {
    let co = Checkout::new();
    let long = "R".repeat(65);
    co.write_env(
        "org",
        &format!(
            r#"[aws]
region = "us-east-1"
account_id = "{ACCOUNT}"

[temporal]
server_role_arn = "arn:aws:iam::{ACCOUNT}:role/temporal-server"

[role]
name = "{long}"
naming = "per-stack"
external_id = "org-ext-id-1"
lambda_function_arns = ["arn:aws:lambda:us-east-1:{ACCOUNT}:function:worker:*"]

[stack_set]
name = "temporal-invocation-role"
permission_model = "service-managed"
organizational_units = ["ou-abcd-12345678", "ou-AB-1"]
accounts = ["{ACCOUNT}"]
regions = ["us-east-1", "eu-west-1"]

[stack_set.overrides."{ACCOUNT}"]
external_id = "management-ext-id"
"#
        ),
    );
    let run = co.xtask(&["validate", "org"]);
    run.failure();
    crate::snapshots::assert_run("stackset_validate_refusals", co.root(), &run);
    for (key, line) in [
        ("role.name", 9),
        ("role.naming", 10),
        ("stack_set.organizational_units[1]", 17),
        ("stack_set.accounts[0]", 18),
        ("stack_set.regions[1]", 19),
        (&format!("stack_set.overrides.{ACCOUNT}") as &str, 21),
    ] {
        let at = format!("environments/org.toml:{line}:");
        assert!(
            run.all()
                .lines()
                .any(|l| l.contains(&at) && l.contains(&format!("`{key}`"))),
            "{key} at line {line}:\n{}",
            run.all()
        );
    }
}

/// `doctor` of a StackSet environment never deployed fails at its StackSet's line (the chain
/// into each account: `stackset_doctor.rs`), leaving the file as it was; `policy` scopes its
/// reads to the StackSet and the organization's OUs.
#[test]
fn doctor_of_an_undeployed_stack_set_fails_at_it_and_policy_names_the_stack_set() {
    let co = Checkout::new();
    let url = crate::support::emulator().url();
    co.write_env("org", &descriptor(&url, "ou-abcd-12345678", None));
    let before = co.read_env("org");
    let run = co.xtask(&["doctor", "org"]);
    run.failure();
    let line = run.line("step 4  stack set:");
    assert!(
        line.starts_with("FAIL") && line.contains("temporal-invocation-role"),
        "{}",
        run.all()
    );
    assert_eq!(co.read_env("org"), before);
    let run = co.xtask(&["policy", "org", "--for", "plan-read-only"]);
    run.success();
    let policy: Value = serde_json::from_str(&run.stdout).unwrap();
    let text = policy.to_string();
    assert!(
        text.contains(&format!(
            "arn:aws:cloudformation:us-east-1:{ACCOUNT}:stackset/temporal-invocation-role:*"
        )) && text.contains("organizations:ListChildren")
            && !text.contains(":stack/"),
        "{policy:#}"
    );
}
