//! A StackSet owned by a delegated administrator, end to end: an organization with an OU of
//! three member accounts (`stackset_deploy::organization`) and one more member account outside
//! it, registered (or not) as delegated administrator for StackSets. The tool runs as an IAM
//! user of that account, whose keys moto answers as that account; the emulator honours `CallAs`
//! and Organizations' rule on member accounts as AWS does (`moto_launcher.py`).

use std::collections::BTreeSet;

use serde_json::Value;

use crate::least_privilege::{as_user, user};
use crate::stackset_deploy::{
    descriptor, every_accounts_role, organization, recorded_roles, roles, step,
};
use crate::support::Checkout;

const SET: &str = "temporal-invocation-role";
const PRINCIPAL: &str = "member.org.stacksets.cloudformation.amazonaws.com";

/// A new member account outside every OU (in the root), registered as delegated administrator
/// for StackSets when `registered`.
pub(crate) fn administrator(url: &str, registered: bool) -> String {
    let register = if registered {
        format!(
            "org.register_delegated_administrator(AccountId=a, ServicePrincipal='{PRINCIPAL}')\n"
        )
    } else {
        String::new()
    };
    step(
        url,
        &format!(
            "a = org.create_account(Email='admin@example.com', AccountName='stacksets')['CreateAccountStatus']['AccountId']\n\
             {register}print(json.dumps(a))"
        ),
    )
    .as_str()
    .unwrap()
    .to_owned()
}

/// The StackSet environment of `stackset_deploy`, owned by `account`; called as its delegated
/// administrator when `delegated`.
pub(crate) fn delegated_descriptor(url: &str, ou: &str, account: &str, delegated: bool) -> String {
    let text = descriptor(url, ou, "ext-id-12345");
    let owner = "account_id = \"123456789012\"   # the organization's management account";
    assert!(text.contains(owner), "{text}");
    let text = text.replace(
        owner,
        &format!("account_id = \"{account}\"   # a delegated administrator"),
    );
    if delegated {
        text.replace(
            "permission_model = \"service-managed\"\n",
            "permission_model = \"service-managed\"\ncall_as = \"delegated-admin\"\n",
        )
    } else {
        text
    }
}

/// The StackSet as `account` sees it when calling as its delegated administrator: its ARN, or
/// null when there is none.
fn stack_set_arn(url: &str, account: &str) -> Value {
    step(
        url,
        &format!(
            "cf = other('cloudformation', '{account}')\n\
             try:\n    a = cf.describe_stack_set(StackSetName='{SET}', CallAs='DELEGATED_ADMIN')['StackSet']['StackSetARN']\n\
             except cf.exceptions.StackSetNotFoundException:\n    a = None\n\
             print(json.dumps(a))"
        ),
    )
}

/// The active StackSets of `account`, whoever they were made as (ListStackSets).
fn stack_sets_of(url: &str, account: &str) -> Value {
    step(
        url,
        &format!(
            "found = other('cloudformation', '{account}').list_stack_sets(Status='ACTIVE')['Summaries']\n\
             print(json.dumps([s['StackSetName'] for s in found]))"
        ),
    )
}

/// A deploy by a member account's user (allowed everything), the account `registered` as a
/// delegated administrator or not, with `call_as = "delegated-admin"` or without: refused before
/// anything was made (exit 1, the descriptor as it was, no StackSet in the account and no role
/// in any member account); returns the output, to check its hint.
fn refused_deploy(registered: bool, call_as: bool) -> String {
    let emu = crate::support::emulator_of_its_own();
    let url = emu.url();
    let (_, ou, members) = organization(&url, false);
    let admin = administrator(&url, registered);
    let keys = user(&url, &admin, "deployer", &BTreeSet::from(["*".to_owned()]));
    let repo = Checkout::new();
    repo.write_env("fleet", &delegated_descriptor(&url, &ou, &admin, call_as));
    let before = repo.read_env("fleet");

    let run = as_user(&repo, &keys, &["deploy", "fleet", "--yes"]);
    assert_eq!(run.code, Some(1), "{}", run.all());
    assert_eq!(
        repo.read_env("fleet"),
        before,
        "the descriptor is untouched"
    );
    assert_eq!(stack_sets_of(&url, &admin), serde_json::json!([]));
    let roles_now = roles(&url, &members);
    assert!(
        members.iter().all(|a| roles_now[a].is_null()),
        "{roles_now}"
    );
    run.all()
}

#[test]
fn a_delegated_administrator_deploys_the_stack_set_in_its_own_account_and_destroys_it() {
    let emu = crate::support::emulator_of_its_own();
    let url = emu.url();
    let (_, ou, members) = organization(&url, false);
    let admin = administrator(&url, true);
    let keys = user(&url, &admin, "deployer", &BTreeSet::from(["*".to_owned()]));
    let repo = Checkout::new();
    repo.write_env("fleet", &delegated_descriptor(&url, &ou, &admin, true));

    as_user(&repo, &keys, &["deploy", "fleet", "--yes"]).success();
    // The StackSet is the delegated administrator's, and every account of the OU has the role.
    let arn = stack_set_arn(&url, &admin);
    assert!(
        arn.as_str().is_some_and(|a| a.starts_with(&format!(
            "arn:aws:cloudformation:us-east-1:{admin}:stackset/{SET}:"
        ))),
        "{arn}"
    );
    let roles_now = roles(&url, &members);
    let wanted = every_accounts_role(&members);
    for (account, role) in &wanted {
        assert_eq!(roles_now[account][0], *role, "{roles_now}");
    }
    let text = repo.read_env("fleet");
    assert_eq!(recorded_roles(&text), wanted, "{text}");
    assert!(
        roles(&url, std::slice::from_ref(&admin))[&admin].is_null(),
        "the administrator is no target"
    );

    // Right after: plan has nothing to do, status is clean.
    let plan = as_user(&repo, &keys, &["plan", "fleet", "--detailed-exitcode"]);
    assert_eq!(plan.code, Some(0), "{}", plan.all());
    let status = as_user(&repo, &keys, &["status", "fleet"]);
    assert_eq!(status.code, Some(0), "{}", status.all());
    // What agrees is named as it is: a StackSet and its instances, no stack.
    assert!(
        status
            .stdout
            .contains("fleet: in sync: the descriptor, the StackSet and its instances agree"),
        "{}",
        status.all()
    );

    // destroy removes every instance, the StackSet, and [outputs].
    as_user(&repo, &keys, &["destroy", "fleet", "--yes"]).success();
    let roles_now = roles(&url, &members);
    assert!(
        members.iter().all(|a| roles_now[a].is_null()),
        "{roles_now}"
    );
    assert!(stack_set_arn(&url, &admin).is_null());
    let text = repo.read_env("fleet");
    assert!(!text.contains("[outputs"), "{text}");
}

#[test]
fn without_call_as_a_delegated_administrator_is_told_to_set_it() {
    let all = refused_deploy(true, false);
    assert!(
        all.contains("You must be the management account or delegated admin account")
            && all.contains("`stack_set.call_as`")
            && all.contains("environments/fleet.toml"),
        "{all}"
    );
}

#[test]
fn an_account_that_is_not_registered_is_told_to_register_it() {
    let all = refused_deploy(false, true);
    assert!(
        all.contains("Account used is not a delegated administrator")
            && all.contains(&format!(
                "aws organizations register-delegated-administrator --service-principal {PRINCIPAL}"
            ))
            && all.contains("environments/fleet.toml"),
        "{all}"
    );
}

/// With IAM enforced: `policy --for deploy` of the environment, as a user of the delegated
/// administrator's account, deploys; without `organizations:ListDelegatedAdministrators`, which
/// AWS checks the registration with, the deploy fails with the hint and changes nothing.
#[test]
fn the_deploy_policy_of_a_delegated_administrator_is_enough_and_needs_the_registration_check() {
    let emu = crate::support::emulator_of_its_own();
    let url = emu.url();
    let (_, ou, members) = organization(&url, false);
    let admin = administrator(&url, true);
    let repo = Checkout::new();
    repo.write_env("fleet", &delegated_descriptor(&url, &ou, &admin, true));
    let before = repo.read_env("fleet");
    let printed = repo.xtask(&["policy", "fleet", "--for", "deploy"]);
    let doc: Value = serde_json::from_str(&printed.success().stdout).unwrap();
    let check = doc["Statement"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["Action"] == serde_json::json!(["organizations:ListDelegatedAdministrators"]))
        .unwrap_or_else(|| panic!("no ListDelegatedAdministrators: {doc:#}"));
    assert_eq!(check["Resource"], serde_json::json!(["*"]), "{doc:#}");
    // moto checks no CloudFormation resources: the actions are granted on `*` (the scoping is
    // proven by `aws::actions`' unit tests).
    let all: BTreeSet<String> = doc["Statement"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|s| s["Action"].as_array().unwrap().iter())
        .map(|a| a.as_str().unwrap().to_owned())
        .collect();
    let mut fewer = all.clone();
    fewer.remove("organizations:ListDelegatedAdministrators");
    let with = user(&url, &admin, "deployer", &all);
    let without = user(&url, &admin, "deployer-without-check", &fewer);
    // From here on, every request is checked against its signer's policies.
    crate::support::enforce_iam(&url);

    let run = as_user(&repo, &without, &["deploy", "fleet", "--yes"]);
    assert_eq!(run.code, Some(1), "{}", run.all());
    assert_eq!(
        repo.read_env("fleet"),
        before,
        "the descriptor is untouched"
    );
    let all_text = run.all();
    assert!(
        all_text.contains("Account used is not a delegated administrator")
            && all_text.contains("organizations:ListDelegatedAdministrators"),
        "{all_text}"
    );

    as_user(&repo, &with, &["deploy", "fleet", "--yes"]).success();
    let recorded: Vec<String> = recorded_roles(&repo.read_env("fleet"))
        .into_iter()
        .map(|(account, _)| account)
        .collect();
    let mut wanted = members.clone();
    wanted.sort();
    assert_eq!(recorded, wanted);
}
