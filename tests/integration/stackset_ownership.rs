//! Only the environment's own StackSet is changed: a StackSet of `stack_set.name` that someone
//! else made (through boto3, without this tool's tag, nor recorded in `[outputs]`) is left
//! alone by `plan`, `deploy` and `destroy` (each says so and fails), until `deploy
//! --adopt-stack` takes it over; then it is tagged and recorded, and is this environment's.

use serde_json::Value;

use crate::stackset_deploy::{descriptor, organization, step};
use crate::support::Checkout;

const OWNER_TAG: &str = "temporal-serverless-workers:environment";

/// Another team's StackSet of the same name, with instances in every account of `ou`.
fn someone_elses(url: &str, ou: &str) {
    step(
        url,
        &format!(
            r#"
template = json.dumps({{'Parameters': {{'Team': {{'Type': 'String'}}}},
                       'Resources': {{'Topic': {{'Type': 'AWS::SNS::Topic'}}}}}})
client.create_stack_set(StackSetName='temporal-invocation-role', TemplateBody=template,
    Parameters=[{{'ParameterKey': 'Team', 'ParameterValue': 'payments'}}],
    PermissionModel='SERVICE_MANAGED', AutoDeployment={{'Enabled': False}},
    Tags=[{{'Key': 'team', 'Value': 'payments'}}])
client.create_stack_instances(StackSetName='temporal-invocation-role',
    DeploymentTargets={{'OrganizationalUnitIds': ['{ou}']}}, Regions=['us-east-1'])
print(json.dumps({{}}))
"#
        ),
    );
}

/// The StackSet as AWS holds it: its parameters, tags, instances' accounts and how many
/// operations were run on it.
fn held(url: &str) -> Value {
    step(
        url,
        r#"
s = client.describe_stack_set(StackSetName='temporal-invocation-role')['StackSet']
instances = client.list_stack_instances(StackSetName='temporal-invocation-role')['Summaries']
print(json.dumps({
    'parameters': {p['ParameterKey']: p['ParameterValue'] for p in s.get('Parameters', [])},
    'tags': {t['Key']: t['Value'] for t in s.get('Tags', [])},
    'template': s.get('TemplateBody', ''),
    'instances': sorted(i['Account'] for i in instances if i.get('Status') != 'DELETED'),
    'operations': len(client.list_stack_set_operations(
        StackSetName='temporal-invocation-role')['Summaries']),
}))
"#,
    )
}

#[test]
fn a_stack_set_of_the_name_made_by_someone_else_is_left_alone_until_adopted() {
    let emu = crate::support::emulator_of_its_own();
    let url = emu.url();
    let (_, ou, members) = organization(&url, false);
    someone_elses(&url, &ou);
    let before = held(&url);
    assert_eq!(
        before["instances"].as_array().unwrap().len(),
        members.len(),
        "{before}"
    );
    let repo = Checkout::new();
    repo.write_env("fleet", &descriptor(&url, &ou, "ext-id-12345"));
    let written = repo.read_env("fleet");

    let says_not_ours = |text: &str| {
        text.contains("StackSet `temporal-invocation-role`")
            && text.contains("not recognisably this tool's")
            && text.contains("`stack_set.name`")
            && text.contains("--adopt-stack")
    };
    let plan = repo.xtask(&["plan", "fleet"]);
    plan.failure();
    assert!(says_not_ours(&plan.all()), "{}", plan.all());

    let deploy = repo.xtask(&["deploy", "fleet", "--yes"]);
    deploy.failure();
    assert!(says_not_ours(&deploy.all()), "{}", deploy.all());
    assert_eq!(held(&url), before, "deploy changed someone else's StackSet");
    assert_eq!(repo.read_env("fleet"), written, "nothing is recorded");

    // The read-only commands say so too; `status` starts no drift detection on it.
    for read in ["status", "doctor"] {
        let run = repo.xtask(&[read, "fleet"]);
        run.failure();
        assert!(says_not_ours(&run.all()), "{read}: {}", run.all());
        assert_eq!(held(&url), before, "{read} ran an operation on it");
    }

    let destroy = repo.xtask(&["destroy", "fleet", "--yes"]);
    destroy.failure();
    assert!(says_not_ours(&destroy.all()), "{}", destroy.all());
    assert_eq!(
        held(&url),
        before,
        "destroy deleted from someone else's StackSet"
    );

    // Taken over on purpose: then tagged as this environment's and recorded.
    repo.xtask(&["deploy", "fleet", "--yes", "--adopt-stack"])
        .success();
    let after = held(&url);
    assert_eq!(after["tags"][OWNER_TAG], "fleet", "{after}");
    assert_eq!(
        after["parameters"]["AssumeRoleExternalId"], "ext-id-12345",
        "{after}"
    );
    let recorded = repo.read_env("fleet");
    assert!(recorded.contains("stack_set_id = "), "{recorded}");
    // From now on it is this environment's: no `--adopt-stack` needed.
    let plan = repo.xtask(&["plan", "fleet", "--detailed-exitcode"]);
    assert_eq!(plan.code, Some(0), "{}", plan.all());
    // Its tag alone tells it as this environment's once [outputs] are gone.
    let start = recorded
        .find("\n# Recorded by")
        .expect("an [outputs] table");
    repo.write_env("fleet", &recorded[..start]);
    let plan = repo.xtask(&["plan", "fleet", "--detailed-exitcode"]);
    assert_eq!(plan.code, Some(0), "{}", plan.all());
}
