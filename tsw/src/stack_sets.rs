//! What the StackSet commands (`deploy`, `status`, `destroy`) share: the StackSet a
//! descriptor declares, as the `aws` crate takes it ([`spec`]), the accounts that should have
//! an instance ([`target_accounts`]), and the role ARN each account's instance makes
//! ([`role_arn`]), and the steps of a deploy as lines ([`step_lines`]).

use std::collections::BTreeMap;

use anyhow::{Context, Result};
use aws::stack_set::{
    AutoDeployment, CallAs, PermissionModel, Preferences, StackSetSpec, StackSets, Step, Targets,
};
use env_descriptor::{Environment, Naming, arn};
use env_render::{Templates, cfn};

/// The StackSet `env` declares (`[stack_set]`, `[role]`, `[deploy] tags`), with `parameters`
/// (every template parameter, defaults included) and each account's overrides as
/// ParameterOverrides. `None` for a single-stack environment.
pub fn spec(
    env: &Environment,
    templates: &Templates,
    parameters: &[(String, String)],
) -> Option<StackSetSpec> {
    let set = env.stack_set()?;
    let service_managed = set.is_service_managed();
    let overrides: BTreeMap<String, Vec<(String, String)>> = set
        .overrides
        .iter()
        .map(|(account, o)| {
            let mut pairs = Vec::new();
            if let Some(id) = &o.external_id {
                pairs.push((cfn::EXTERNAL_ID_PARAMETER.to_owned(), id.to_string()));
            }
            if let Some(arns) = &o.lambda_function_arns {
                let joined: Vec<String> = arns.iter().map(ToString::to_string).collect();
                pairs.push((cfn::FUNCTIONS_PARAMETER.to_owned(), joined.join(",")));
            }
            (account.to_string(), pairs)
        })
        .filter(|(_, pairs)| !pairs.is_empty())
        .collect();
    let preferences = Preferences {
        max_concurrent_count: set.max_concurrent_count.and_then(|n| i32::try_from(n).ok()),
        max_concurrent_percentage: set.max_concurrent_percentage.map(i32::from),
        failure_tolerance_count: set
            .failure_tolerance_count
            .and_then(|n| i32::try_from(n).ok()),
        failure_tolerance_percentage: set.failure_tolerance_percentage.map(i32::from),
        soft_failure_tolerance: set
            .concurrency_mode
            .as_ref()
            .map(|m| m.as_str() == env_descriptor::ConcurrencyMode::SOFT),
        region_order: Vec::new(),
    };
    Some(StackSetSpec {
        name: set.name.to_string(),
        template_body: templates.cfn_template(Naming::Fixed).body.clone(),
        parameters: parameters.to_vec(),
        overrides,
        targets: if service_managed {
            Targets::OrganizationalUnits(
                set.organizational_units
                    .iter()
                    .map(ToString::to_string)
                    .collect(),
            )
        } else {
            Targets::Accounts(set.accounts.iter().map(ToString::to_string).collect())
        },
        regions: set.regions.iter().map(ToString::to_string).collect(),
        permission_model: if service_managed {
            PermissionModel::ServiceManaged
        } else {
            PermissionModel::SelfManaged
        },
        call_as: match &set.call_as {
            Some(c) if c.is_delegated_admin() => CallAs::DelegatedAdmin,
            _ => CallAs::Itself,
        },
        auto_deployment: service_managed.then_some(AutoDeployment {
            enabled: set.auto_deployment,
            retain_stacks_on_account_removal: set.retain_stacks_on_account_removal,
        }),
        administration_role_arn: set.administration_role_arn.as_ref().map(|a| a.to_string()),
        execution_role_name: set.execution_role_name.as_ref().map(|n| n.to_string()),
        preferences,
        tags: crate::commands::deploy::stack_tags(env),
    })
}

/// The accounts that should have an instance: a self-managed StackSet's accounts, or the
/// active accounts AWS Organizations holds under a service-managed one's OUs (the management
/// account left out).
pub async fn target_accounts(
    sets: &StackSets,
    spec: &StackSetSpec,
) -> Result<Vec<String>, aws::DeployError> {
    match &spec.targets {
        Targets::Accounts(accounts) => Ok(accounts.clone()),
        Targets::OrganizationalUnits(ous) => Ok(sets
            .accounts_under(ous)
            .await?
            .accounts
            .into_iter()
            .filter(|a| a.status.as_deref().is_none_or(|s| s == "ACTIVE"))
            .map(|a| a.id)
            .collect()),
    }
}

/// The ARN of the role `env`'s StackSet makes in `account`: the role's name is fixed, so it
/// follows from the partition, the account and the name.
pub fn role_arn(env: &Environment, account: &str) -> Result<String> {
    let region = env.aws.region.to_string();
    let partition = arn::partition_of_region(&region).with_context(|| {
        format!(
            "{}: `aws.region` `{region}` is in no partition this tool knows",
            env.file.display()
        )
    })?;
    Ok(format!(
        "arn:{partition}:iam::{account}:role/{}",
        env.role_name()
    ))
}

/// The steps as the preview shows them, one line each.
pub fn step_lines(spec: &StackSetSpec, steps: &[Step]) -> Vec<String> {
    let mut lines = Vec::new();
    for step in steps {
        match step {
            Step::CreateStackSet => lines.push(format!("+ create StackSet `{}`", spec.name)),
            Step::UpdateStackSet { changed } => {
                lines.push(format!(
                    "~ update StackSet `{}` and every instance:",
                    spec.name
                ));
                lines.extend(changed.iter().map(|c| format!("    {c}")));
            }
            Step::CreateInstances { accounts } => lines.push(format!(
                "+ create instances in {} ({})",
                accounts.join(", "),
                spec.regions.join(", ")
            )),
            Step::UpdateInstances {
                accounts,
                overrides,
            } => {
                let with = if overrides.is_empty() {
                    "without overrides".to_owned()
                } else {
                    let keys: Vec<&str> = overrides.iter().map(|(k, _)| k.as_str()).collect();
                    format!("with overrides of {}", keys.join(", "))
                };
                lines.push(format!(
                    "~ update instances in {} {with}",
                    accounts.join(", ")
                ));
            }
            Step::DeleteInstances { accounts, regions } => lines.push(format!(
                "- delete instances in {} ({}): no longer targeted",
                accounts.join(", "),
                regions.join(", ")
            )),
        }
    }
    lines
}
