//! A StackSet environment's [`StackSetSpec`]: the one place that turns `[stack_set]`, `[role]`
//! and the rendered parameters into what `plan` compares with AWS and `deploy` applies.

use std::collections::BTreeMap;

use aws::stack_set::StackSetPlan;
use aws::stack_set::{
    AutoDeployment, CallAs, Instance, InstanceStatus, PermissionModel, Preferences, StackSetSpec,
    Targets,
};
use env_descriptor::Environment;
use env_render::{Templates, cfn};

/// The StackSet `env` declares, with its parameters as rendered (`parameters`, the template's
/// defaults filled in); `None` for a single-stack environment.
pub fn spec(
    env: &Environment,
    templates: &Templates,
    parameters: &[(String, String)],
) -> Option<StackSetSpec> {
    let set = env.stack_set()?;
    let texts =
        |values: &[env_descriptor::AccountId]| values.iter().map(|v| v.to_string()).collect();
    let service_managed = set.is_service_managed();
    let count = |n: Option<u32>| n.map(|n| i32::try_from(n).unwrap_or(i32::MAX));
    let percent = |n: Option<u8>| n.map(i32::from);
    Some(StackSetSpec {
        name: set.name.to_string(),
        template_body: templates.cfn_template(env.role_naming()).body.clone(),
        parameters: parameters.to_vec(),
        overrides: cfn::Parameters::overrides_of(env),
        targets: if service_managed {
            Targets::OrganizationalUnits(
                set.organizational_units
                    .iter()
                    .map(|o| o.to_string())
                    .collect(),
            )
        } else {
            Targets::Accounts(texts(&set.accounts))
        },
        regions: set.regions.iter().map(|r| r.to_string()).collect(),
        permission_model: if service_managed {
            PermissionModel::ServiceManaged
        } else {
            PermissionModel::SelfManaged
        },
        call_as: if set.is_delegated_admin() {
            CallAs::DelegatedAdmin
        } else {
            CallAs::Itself
        },
        auto_deployment: service_managed.then_some(AutoDeployment {
            enabled: set.auto_deployment,
            retain_stacks_on_account_removal: set.auto_deployment
                && set.retain_stacks_on_account_removal,
        }),
        administration_role_arn: set.administration_role_arn.as_ref().map(|a| a.to_string()),
        execution_role_name: set.execution_role_name.as_ref().map(|a| a.to_string()),
        preferences: Preferences {
            max_concurrent_count: count(set.max_concurrent_count),
            max_concurrent_percentage: percent(set.max_concurrent_percentage),
            failure_tolerance_count: count(set.failure_tolerance_count),
            failure_tolerance_percentage: percent(set.failure_tolerance_percentage),
            soft_failure_tolerance: set
                .concurrency_mode
                .as_ref()
                .map(|m| m.as_str() == env_descriptor::ConcurrencyMode::SOFT),
            region_order: Vec::new(),
        },
        tags: crate::commands::deploy::stack_tags(env),
    })
}

/// The ARN of the role `env`'s StackSet makes in `account`: the role's name is fixed, so it
/// follows from the partition, the account and the name (what `deploy` records in
/// `[outputs.role_arns]` for each account whose instance is CURRENT).
pub fn role_arn(env: &Environment, account: &str) -> String {
    format!(
        "arn:{}:iam::{account}:role/{}",
        env.aws.region.partition(),
        env.role_name()
    )
}

/// The recorded `[outputs]` of `env` against its StackSet `id` and the instances AWS holds: one
/// line per difference (the StackSet's ID, an account whose CURRENT instance's role is not
/// recorded, an account recorded without a CURRENT instance). `status` and `doctor` both say
/// that a deploy fixes them.
pub fn record_drift(
    env: &Environment,
    recorded: &env_descriptor::Outputs,
    id: &str,
    instances: &[Instance],
) -> Vec<String> {
    let mut drift = Vec::new();
    if recorded.stack_set_id.as_deref() != Some(id) {
        drift.push(format!(
            "stack_set_id: recorded `{}`, StackSet is `{}`",
            one_line(recorded.stack_set_id.as_deref().unwrap_or("nothing")),
            one_line(id)
        ));
    }
    let wanted: BTreeMap<&str, String> = instances
        .iter()
        .filter(|i| i.status == InstanceStatus::Current)
        .map(|i| (i.account.as_str(), role_arn(env, &i.account)))
        .collect();
    let have: BTreeMap<String, String> = recorded
        .role_arns
        .iter()
        .map(|(a, r)| (a.to_string(), r.to_string()))
        .collect();
    for (account, arn) in &wanted {
        if have.get(*account) != Some(arn) {
            drift.push(format!(
                "role_arns: account {}'s role `{}` is not recorded",
                one_line(account),
                one_line(arn)
            ));
        }
    }
    for account in have.keys().filter(|a| !wanted.contains_key(a.as_str())) {
        drift.push(format!(
            "role_arns: account {} is recorded but has no CURRENT instance",
            one_line(account)
        ));
    }
    drift
}

/// What a deploy of `plan` would do, one line each: the plan's lines (as `plan` shows them)
/// that change the StackSet or an instance.
pub fn pending_changes(plan: &StackSetPlan) -> Vec<String> {
    crate::plan_view::stack_set_lines(plan)
        .into_iter()
        .filter(|l| {
            let l = l.trim_start();
            l.starts_with(['+', '~', '-']) || l.starts_with("stack set")
        })
        .map(|l| l.trim().to_owned())
        .collect()
}

/// An instance's or operation's reason as CloudFormation gives it, on one line
/// ([`safe_text::inline`]: a line break in it is shown as `\n`, so that no answer of AWS forges
/// a line of its own), or `no reason given`. JSON keeps it as it is.
pub fn reason(reason: Option<&str>) -> std::borrow::Cow<'_, str> {
    safe_text::inline(reason.unwrap_or("no reason given"))
}

/// A value of AWS's answer (an account ID, a region, a status) shown in a line of text: on
/// that one line ([`safe_text::inline`]).
pub fn one_line(value: &str) -> std::borrow::Cow<'_, str> {
    safe_text::inline(value)
}
