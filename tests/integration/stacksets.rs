//! CloudFormation StackSets on the sandbox's emulator, as AWS runs them (the launcher's
//! `patch_cfn_stack_sets`, `patch_organizations_auto_deployment` and `patch_iam_role_names`):
//! an organization with an OU of member accounts, a service-managed StackSet of the repository's
//! invocation-role template in the guide's current `RoleName: !Ref RoleName` form, driven
//! through boto3 as the management account (moto's default, 123456789012), and as each member
//! account with the `x-moto-account-id` header. Each test has an emulator of its own: an
//! emulator holds one organization.

use serde_json::Value;

use crate::support::{boto3_at, emulator_of_its_own, repo_root};

const ROLE: &str = "Temporal-Serverless-Worker";

/// Python run before each step: an organization client, clients answering as another account
/// (the `x-moto-account-id` header), the template and parameters, and `done(op)`, which waits
/// for a StackSet operation to leave RUNNING and returns it.
const PRELUDE: &str = r#"
import time
url = client.meta.endpoint_url
def other(service, account=None):
    c = boto3.client(service, endpoint_url=url, region_name='us-east-1')
    if account:
        c.meta.events.register('before-sign.*.*', lambda request, **_: request.headers.__setitem__('x-moto-account-id', account))
    return c
cfn, org = client, other('organizations')
template = open(TEMPLATE_PATH).read().replace("!Sub '${RoleName}-${AWS::StackName}'", '!Ref RoleName')
assert template.count('!Ref RoleName') >= 3, 'the repository template no longer has the old role name form'
def params(external_id='ext-id-12345', role='Temporal-Serverless-Worker'):
    values = {'TemporalIamRoleArn': 'arn:aws:iam::123456789012:role/temporal-server', 'AssumeRoleExternalId': external_id,
              'LambdaFunctionARNs': 'arn:aws:lambda:us-east-1:123456789012:function:worker:*', 'RoleName': role}
    return [{'ParameterKey': k, 'ParameterValue': v} for k, v in values.items()]
def done(op, timeout=30):
    deadline = time.time() + timeout
    while time.time() < deadline:
        found = cfn.describe_stack_set_operation(StackSetName='roles', OperationId=op)['StackSetOperation']
        if found['Status'] != 'RUNNING':
            return found
        time.sleep(0.1)
    raise SystemExit(f'operation {op} still RUNNING after {timeout} s')
def results(op):
    return {r['Account']: [r['Status'], r.get('StatusReason')] for r in
            cfn.list_stack_set_operation_results(StackSetName='roles', OperationId=op)['Summaries']}
def instances():
    return {i['Account']: [i['Status'], i['StackInstanceStatus']['DetailedStatus'], i.get('StatusReason')]
            for i in cfn.list_stack_instances(StackSetName='roles')['Summaries']}
def trusted(account):
    role = other('iam', account).get_role(RoleName='Temporal-Serverless-Worker')['Role']
    return [role['Arn'], role['AssumeRolePolicyDocument']['Statement'][0]['Condition']['StringEquals']['sts:ExternalId']]
"#;

/// Runs `step` (Python, after [`PRELUDE`]) against the emulator at `url`; its last printed line
/// is JSON.
fn step(url: &str, step: &str) -> Value {
    let template = repo_root().join("templates/serverless-worker-role.yaml");
    let prelude = PRELUDE.replace(
        "TEMPLATE_PATH",
        &format!("{:?}", template.display().to_string()),
    );
    let out = boto3_at(url, "cloudformation", &format!("{prelude}\n{step}"));
    let last = out.lines().last().unwrap_or_default();
    serde_json::from_str(last).unwrap_or_else(|e| panic!("{e}: {out}"))
}

/// An organization with OU `workers` holding `members` new accounts, and the StackSet `roles`
/// (AutoDeployment on) with an instance in each; returns the OU, the root and the accounts.
const ORGANIZATION: &str = r#"
import json
org.create_organization(FeatureSet='ALL')
root = org.list_roots()['Roots'][0]['Id']
ou = org.create_organizational_unit(ParentId=root, Name='workers')['OrganizationalUnit']['Id']
accounts = []
for i in range(MEMBERS):
    a = org.create_account(Email=f'team{i}@example.com', AccountName=f'team{i}')['CreateAccountStatus']['AccountId']
    org.move_account(AccountId=a, SourceParentId=root, DestinationParentId=ou)
    accounts.append(a)
cfn.create_stack_set(StackSetName='roles', TemplateBody=template, Parameters=params(), PermissionModel='SERVICE_MANAGED',
                     Capabilities=['CAPABILITY_NAMED_IAM'], AutoDeployment={'Enabled': True, 'RetainStacksOnAccountRemoval': False})
op = cfn.create_stack_instances(StackSetName='roles', Regions=['us-east-1'], DeploymentTargets={'OrganizationalUnitIds': [ou]},
                                OperationPreferences={'MaxConcurrentCount': 3, 'FailureToleranceCount': 0})['OperationId']
first = cfn.describe_stack_set_operation(StackSetName='roles', OperationId=op)['StackSetOperation']['Status']
running = instances()
print(json.dumps({'ou': ou, 'root': root, 'accounts': accounts, 'first': first, 'running': running,
                  'final': done(op)['Status'], 'results': results(op), 'instances': instances(),
                  'roles': {a: trusted(a) for a in accounts}}))
"#;

fn organization(url: &str, members: usize) -> Value {
    step(url, &ORGANIZATION.replace("MEMBERS", &members.to_string()))
}

fn accounts(org: &Value) -> Vec<String> {
    org["accounts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a.as_str().unwrap().to_owned())
        .collect()
}

#[test]
fn a_service_managed_stack_set_deploys_updates_and_fails_per_member_account() {
    let emu = emulator_of_its_own();
    let org = organization(&emu.url(), 3);
    let members = accounts(&org);
    assert_eq!(members.len(), 3, "{org}");
    // The operation takes time, as on AWS: RUNNING first, instances OUTDATED meanwhile, one
    // account at a time (no failure tolerated): RUNNING, or PENDING until its turn.
    assert_eq!(org["first"], "RUNNING", "{org}");
    for account in &members {
        assert_eq!(org["running"][account][0], "OUTDATED", "{org}");
        let detailed = org["running"][account][1].as_str().unwrap_or_default();
        assert!(detailed == "RUNNING" || detailed == "PENDING", "{org}");
    }
    assert_eq!(org["running"][&members[0]][1], "RUNNING", "{org}");
    assert_eq!(org["final"], "SUCCEEDED", "{org}");
    for account in &members {
        assert_eq!(org["results"][account][0], "SUCCEEDED", "{org}");
        assert_eq!(org["instances"][account][0], "CURRENT", "{org}");
        assert_eq!(org["instances"][account][1], "SUCCEEDED", "{org}");
        // The role exists in the member account's own IAM, named exactly RoleName.
        assert_eq!(
            org["roles"][account][0],
            format!("arn:aws:iam::{account}:role/{ROLE}"),
            "{org}"
        );
        assert_eq!(org["roles"][account][1][0], "ext-id-12345", "{org}");
    }

    // UpdateStackSet reaches every instance: the new external ID is in each account's role.
    let updated = step(
        &emu.url(),
        "import json\nop = cfn.update_stack_set(StackSetName='roles', UsePreviousTemplate=True, \
         Parameters=params('ext-id-67890'))['OperationId']\naccounts = [a for a in instances()]\n\
         print(json.dumps({'final': done(op)['Status'], 'roles': {a: trusted(a) for a in accounts}}))",
    );
    assert_eq!(updated["final"], "SUCCEEDED", "{updated}");
    for account in &members {
        assert_eq!(updated["roles"][account][1][0], "ext-id-67890", "{updated}");
    }

    // A role name over IAM's 64 characters fails the instance with IAM's reason; with no failure
    // tolerance the operation stops there and FAILS, the other instances are CANCELLED.
    let long = step(
        &emu.url(),
        "import json\nop = cfn.update_stack_set(StackSetName='roles', UsePreviousTemplate=True, \
         Parameters=params('ext-id-67890', 'R' * 65), OperationPreferences={'FailureToleranceCount': 0, \
         'MaxConcurrentCount': 1})['OperationId']\nfinal = done(op)\n\
         print(json.dumps({'final': final['Status'], 'results': results(op), 'instances': instances(), \
         'roles': {a: trusted(a) for a in instances()}}))",
    );
    assert_eq!(long["final"], "FAILED", "{long}");
    let failed: Vec<&String> = members
        .iter()
        .filter(|a| long["results"][a.as_str()][0] == "FAILED")
        .collect();
    assert_eq!(failed.len(), 1, "{long}");
    let reason = long["results"][failed[0].as_str()][1].as_str().unwrap();
    assert!(
        reason.contains("ResourceLogicalId:TemporalServerlessWorker")
            && reason.contains("Member must have length less than or equal to 64"),
        "{reason}"
    );
    assert_eq!(
        long["instances"][failed[0].as_str()][0],
        "OUTDATED",
        "{long}"
    );
    assert_eq!(long["instances"][failed[0].as_str()][1], "FAILED", "{long}");
    assert_eq!(long["instances"][failed[0].as_str()][2], reason, "{long}");
    for account in members.iter().filter(|a| *a != failed[0]) {
        assert_eq!(long["results"][account][0], "CANCELLED", "{long}");
    }
    // The failed stack rolled back: every account keeps its working role.
    for account in &members {
        assert_eq!(long["roles"][account][1][0], "ext-id-67890", "{long}");
    }
}

#[test]
fn auto_deployment_covers_an_account_moved_into_the_ou_and_leaves_one_moved_out() {
    let emu = emulator_of_its_own();
    let org = organization(&emu.url(), 1);
    assert_eq!(org["final"], "SUCCEEDED", "{org}");
    let moved = step(
        &emu.url(),
        &format!(
            "import json\nou, root = {ou}, {root}\n\
             new = org.create_account(Email='late@example.com', AccountName='late')['CreateAccountStatus']['AccountId']\n\
             before = new in instances()\n\
             org.move_account(AccountId=new, SourceParentId=root, DestinationParentId=ou)\n\
             auto = cfn.list_stack_set_operations(StackSetName='roles')['Summaries'][-1]\n\
             final = done(auto['OperationId'])['Status']\n\
             joined = {{'before': before, 'action': auto['Action'], 'final': final, 'instance': instances().get(new), 'role': trusted(new)}}\n\
             org.move_account(AccountId=new, SourceParentId=ou, DestinationParentId=root)\n\
             try:\n    other('iam', new).get_role(RoleName='Temporal-Serverless-Worker'); gone = False\n\
             except other('iam').exceptions.NoSuchEntityException:\n    gone = True\n\
             print(json.dumps({{'new': new, 'joined': joined, 'left': new in instances(), 'role_gone': gone}}))",
            ou = org["ou"],
            root = org["root"],
        ),
    );
    let new = moved["new"].as_str().unwrap();
    assert_eq!(moved["joined"]["before"], false, "{moved}");
    assert_eq!(moved["joined"]["action"], "CREATE", "{moved}");
    assert_eq!(moved["joined"]["final"], "SUCCEEDED", "{moved}");
    assert_eq!(moved["joined"]["instance"][0], "CURRENT", "{moved}");
    assert_eq!(
        moved["joined"]["role"][0],
        format!("arn:aws:iam::{new}:role/{ROLE}"),
        "{moved}"
    );
    // Leaving the OU removes the instance and (RetainStacksOnAccountRemoval false) its role.
    assert_eq!(moved["left"], false, "{moved}");
    assert_eq!(moved["role_gone"], true, "{moved}");
}

#[test]
fn a_role_name_already_taken_in_a_member_account_fails_only_that_instance() {
    let emu = emulator_of_its_own();
    // The OU's first account already has a role of that name (another stack's, or by hand):
    // IAM names are unique per account, so its instance fails; one failure is tolerated.
    let taken = step(
        &emu.url(),
        r#"
import json
org.create_organization(FeatureSet='ALL')
root = org.list_roots()['Roots'][0]['Id']
ou = org.create_organizational_unit(ParentId=root, Name='workers')['OrganizationalUnit']['Id']
accounts = []
for i in range(3):
    a = org.create_account(Email=f'team{i}@example.com', AccountName=f'team{i}')['CreateAccountStatus']['AccountId']
    org.move_account(AccountId=a, SourceParentId=root, DestinationParentId=ou)
    accounts.append(a)
other('iam', accounts[0]).create_role(RoleName='Temporal-Serverless-Worker', AssumeRolePolicyDocument=json.dumps(
    {'Version': '2012-10-17', 'Statement': [{'Effect': 'Allow', 'Principal': {'AWS': 'arn:aws:iam::123456789012:root'},
                                             'Action': 'sts:AssumeRole'}]}))
cfn.create_stack_set(StackSetName='roles', TemplateBody=template, Parameters=params(), PermissionModel='SERVICE_MANAGED',
                     Capabilities=['CAPABILITY_NAMED_IAM'])
op = cfn.create_stack_instances(StackSetName='roles', Regions=['us-east-1'], DeploymentTargets={'OrganizationalUnitIds': [ou]},
                                OperationPreferences={'FailureToleranceCount': 1, 'MaxConcurrentCount': 1})['OperationId']
print(json.dumps({'accounts': accounts, 'final': done(op)['Status'], 'results': results(op), 'instances': instances()}))
"#,
    );
    let members = accounts(&taken);
    assert_eq!(taken["final"], "SUCCEEDED", "{taken}");
    let reason = taken["results"][&members[0]][1]
        .as_str()
        .unwrap_or_default();
    assert_eq!(taken["results"][&members[0]][0], "FAILED", "{taken}");
    assert!(
        reason.contains("Role with name Temporal-Serverless-Worker already exists"),
        "{reason}"
    );
    assert_eq!(taken["instances"][&members[0]][0], "OUTDATED", "{taken}");
    assert_eq!(taken["instances"][&members[0]][2], reason, "{taken}");
    for account in &members[1..] {
        assert_eq!(taken["results"][account][0], "SUCCEEDED", "{taken}");
        assert_eq!(taken["instances"][account][0], "CURRENT", "{taken}");
    }
}
