//! What AWS holds of a StackSet: the StackSet itself (`DescribeStackSet`), its instances
//! (`ListStackInstances`, every page; `DescribeStackInstance` for one instance's parameter
//! overrides), and the accounts AWS Organizations places under the OUs a service-managed
//! StackSet targets (`ListChildren` down the tree, `ListAccountsForParent` at each level). Reads
//! only: `plan` and `status` call nothing else.

use std::collections::{BTreeMap, BTreeSet};

use aws_sdk_cloudformation::error::ProvideErrorMetadata;
use aws_sdk_cloudformation::types as cfn;
use aws_sdk_organizations::types::ChildType;

use super::{AutoDeployment, CallAs, PermissionModel, StackSets};
use crate::stack::{parameter_values, tag_values};
use crate::{DeployError, aws_error};

/// A StackSet as AWS holds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StackSetInfo {
    pub name: String,
    /// `NAME:UUID`.
    pub id: String,
    pub arn: Option<String>,
    /// `ACTIVE` or `DELETED`.
    pub status: String,
    pub template_body: String,
    pub parameters: BTreeMap<String, String>,
    pub permission_model: Option<PermissionModel>,
    pub auto_deployment: Option<AutoDeployment>,
    pub organizational_unit_ids: Vec<String>,
    pub administration_role_arn: Option<String>,
    pub execution_role_name: Option<String>,
    pub capabilities: Vec<String>,
    pub tags: BTreeMap<String, String>,
}

/// One instance of a StackSet: the stack of one account and region.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Instance {
    pub account: String,
    pub region: String,
    /// The OU it was deployed through (service-managed).
    pub organizational_unit: Option<String>,
    pub status: InstanceStatus,
    /// `PENDING`, `RUNNING`, `SUCCEEDED`, `FAILED`, `CANCELLED`, `INOPERABLE`, ...
    pub detailed_status: Option<String>,
    pub reason: Option<String>,
    /// `DRIFTED`, `IN_SYNC`, `UNKNOWN`, `NOT_CHECKED`.
    pub drift: Option<String>,
    pub stack_id: Option<String>,
}

/// An instance's status: whether it has the StackSet's template and parameters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InstanceStatus {
    Current,
    /// Not yet (or no longer, after a failure) as the StackSet declares it.
    Outdated,
    /// A failed deletion left it out of the StackSet's reach.
    Inoperable,
    Other(String),
}

impl InstanceStatus {
    fn of(s: Option<&cfn::StackInstanceStatus>) -> Self {
        match s {
            Some(cfn::StackInstanceStatus::Current) => InstanceStatus::Current,
            Some(cfn::StackInstanceStatus::Outdated) => InstanceStatus::Outdated,
            Some(cfn::StackInstanceStatus::Inoperable) => InstanceStatus::Inoperable,
            Some(other) => InstanceStatus::Other(other.as_str().to_owned()),
            None => InstanceStatus::Other("UNKNOWN".to_owned()),
        }
    }

    pub fn as_str(&self) -> &str {
        match self {
            InstanceStatus::Current => "CURRENT",
            InstanceStatus::Outdated => "OUTDATED",
            InstanceStatus::Inoperable => "INOPERABLE",
            InstanceStatus::Other(s) => s,
        }
    }
}

/// An account of the organization, as AWS Organizations lists it under an OU.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrgAccount {
    pub id: String,
    pub name: Option<String>,
    /// `ACTIVE`, `SUSPENDED`, `PENDING_CLOSURE`.
    pub status: Option<String>,
    /// The OU (or root) it sits in directly.
    pub parent: String,
    /// The targeted OU (or root) it was found under.
    pub target: String,
}

impl OrgAccount {
    /// Whether a service-managed StackSet deploys to it: not to a suspended account (its
    /// instances are `SKIPPED_SUSPENDED_ACCOUNT`), nor to one being closed.
    pub fn gets_instances(&self) -> bool {
        !matches!(
            self.status.as_deref(),
            Some("SUSPENDED" | "PENDING_CLOSURE")
        )
    }
}

/// The accounts under the targeted OUs, and the organization's management account, which
/// never gets an instance of a service-managed StackSet.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OrgTargets {
    /// Every account found, the management account left out, in the order found, each once.
    pub accounts: Vec<OrgAccount>,
    /// The management account, from the ARNs Organizations gives (`arn:PARTITION:organizations::
    /// MANAGEMENT:account/o-ID/ACCOUNT`); `None` when no account was found.
    pub management_account: Option<String>,
}

fn is_missing_stack_set<E: ProvideErrorMetadata>(e: &E) -> bool {
    matches!(e.code(), Some("StackSetNotFoundException"))
}

impl StackSets {
    /// `DescribeStackSet`: `None` when no StackSet of the name exists (or it was deleted).
    pub async fn describe(
        &self,
        name: &str,
        call_as: CallAs,
    ) -> Result<Option<StackSetInfo>, DeployError> {
        let out = match self
            .cfn
            .describe_stack_set()
            .stack_set_name(name)
            .call_as(call_as.sdk())
            .send()
            .await
        {
            Ok(out) => out,
            Err(e) if e.as_service_error().is_some_and(is_missing_stack_set) => return Ok(None),
            Err(e) => return Err(aws_error("DescribeStackSet", e)),
        };
        let Some(set) = out.stack_set() else {
            return Ok(None);
        };
        if set.status() == Some(&cfn::StackSetStatus::Deleted) {
            return Ok(None);
        }
        Ok(Some(StackSetInfo {
            name: set.stack_set_name().unwrap_or(name).to_owned(),
            id: set.stack_set_id().unwrap_or_default().to_owned(),
            arn: set.stack_set_arn().map(str::to_owned),
            status: set
                .status()
                .map_or_else(|| "UNKNOWN".to_owned(), |s| s.as_str().to_owned()),
            template_body: set.template_body().unwrap_or_default().to_owned(),
            parameters: parameter_values(set.parameters()),
            permission_model: set.permission_model().and_then(PermissionModel::from_sdk),
            auto_deployment: set.auto_deployment().map(AutoDeployment::from_sdk),
            organizational_unit_ids: set.organizational_unit_ids().to_vec(),
            administration_role_arn: set.administration_role_arn().map(str::to_owned),
            execution_role_name: set.execution_role_name().map(str::to_owned),
            capabilities: set
                .capabilities()
                .iter()
                .map(|c| c.as_str().to_owned())
                .collect(),
            tags: tag_values(set.tags()),
        }))
    }

    /// `ListStackInstances`, every page: the StackSet's instances, by account then region.
    pub async fn instances(
        &self,
        name: &str,
        call_as: CallAs,
    ) -> Result<Vec<Instance>, DeployError> {
        let summaries = self
            .cfn
            .list_stack_instances()
            .stack_set_name(name)
            .call_as(call_as.sdk())
            .into_paginator()
            .items()
            .send()
            .try_collect()
            .await
            .map_err(|e| aws_error("ListStackInstances", e))?;
        let mut out: Vec<Instance> = summaries
            .iter()
            .map(|s| Instance {
                account: s.account().unwrap_or_default().to_owned(),
                region: s.region().unwrap_or_default().to_owned(),
                organizational_unit: s.organizational_unit_id().map(str::to_owned),
                status: InstanceStatus::of(s.status()),
                detailed_status: s
                    .stack_instance_status()
                    .and_then(|d| d.detailed_status())
                    .map(|d| d.as_str().to_owned()),
                reason: s.status_reason().map(str::to_owned),
                drift: s.drift_status().map(|d| d.as_str().to_owned()),
                stack_id: s.stack_id().map(str::to_owned),
            })
            .collect();
        out.sort_by(|a, b| (&a.account, &a.region).cmp(&(&b.account, &b.region)));
        Ok(out)
    }

    /// `DescribeStackInstance`: the parameter overrides of one instance (empty without any).
    pub async fn instance_overrides(
        &self,
        name: &str,
        account: &str,
        region: &str,
        call_as: CallAs,
    ) -> Result<BTreeMap<String, String>, DeployError> {
        let out = self
            .cfn
            .describe_stack_instance()
            .stack_set_name(name)
            .stack_instance_account(account)
            .stack_instance_region(region)
            .call_as(call_as.sdk())
            .send()
            .await
            .map_err(|e| aws_error("DescribeStackInstance", e))?;
        Ok(out
            .stack_instance()
            .map(|i| parameter_values(i.parameter_overrides()))
            .unwrap_or_default())
    }

    /// The accounts AWS Organizations holds under each of `targets` (OU or root IDs) and every
    /// OU below them, as a service-managed StackSet reaches them: `ListAccountsForParent` at
    /// each level, `ListChildren` (OUs) to go down, every page. The management account is left
    /// out: it never gets an instance.
    pub async fn accounts_under(&self, targets: &[String]) -> Result<OrgTargets, DeployError> {
        let mut found = OrgTargets::default();
        let mut seen: BTreeSet<String> = BTreeSet::new();
        let mut all: Vec<OrgAccount> = Vec::new();
        for target in targets {
            let mut parents = vec![target.clone()];
            let mut visited: BTreeSet<String> = BTreeSet::new();
            while let Some(parent) = parents.pop() {
                if !visited.insert(parent.clone()) {
                    continue;
                }
                let pages = self
                    .org
                    .list_accounts_for_parent()
                    .parent_id(&parent)
                    .into_paginator()
                    .send()
                    .try_collect()
                    .await
                    .map_err(|e| aws_error("ListAccountsForParent", e))?;
                for a in pages.iter().flat_map(|p| p.accounts()) {
                    let id = a.id().unwrap_or_default().to_owned();
                    if found.management_account.is_none() {
                        found.management_account =
                            a.arn().and_then(management_of).map(str::to_owned);
                    }
                    if seen.insert(id.clone()) {
                        all.push(OrgAccount {
                            id,
                            name: a.name().map(str::to_owned),
                            status: a.status().map(|s| s.as_str().to_owned()),
                            parent: parent.clone(),
                            target: target.clone(),
                        });
                    }
                }
                let pages = self
                    .org
                    .list_children()
                    .parent_id(&parent)
                    .child_type(ChildType::OrganizationalUnit)
                    .into_paginator()
                    .send()
                    .try_collect()
                    .await
                    .map_err(|e| aws_error("ListChildren", e))?;
                let children: Vec<String> = pages
                    .iter()
                    .flat_map(|p| p.children())
                    .filter_map(|c| c.id().map(str::to_owned))
                    .collect();
                // Depth first, in the order Organizations lists them.
                parents.extend(children.into_iter().rev());
            }
        }
        found.accounts = all
            .into_iter()
            .filter(|a| Some(&a.id) != found.management_account.as_ref())
            .collect();
        Ok(found)
    }
}

/// The management account of the organization an Organizations ARN belongs to: its account
/// field (`arn:PARTITION:organizations::MANAGEMENT:account/o-ID/ACCOUNT`).
pub(crate) fn management_of(arn: &str) -> Option<&str> {
    let mut parts = arn.splitn(6, ':');
    let (Some("arn"), Some(_), Some("organizations"), Some(_), Some(account)) = (
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
    ) else {
        return None;
    };
    (account.len() == 12 && account.bytes().all(|b| b.is_ascii_digit())).then_some(account)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suspended_and_closing_accounts_get_no_instances() {
        let account = |status: Option<&str>| OrgAccount {
            id: "111111111111".into(),
            name: None,
            status: status.map(str::to_owned),
            parent: "ou-abcd-12345678".into(),
            target: "ou-abcd-12345678".into(),
        };
        assert!(account(Some("ACTIVE")).gets_instances());
        assert!(account(None).gets_instances());
        assert!(!account(Some("SUSPENDED")).gets_instances());
        assert!(!account(Some("PENDING_CLOSURE")).gets_instances());
    }

    #[test]
    fn the_management_account_is_the_account_of_an_organizations_arn() {
        assert_eq!(
            management_of("arn:aws:organizations::123456789012:account/o-abc123/210987654321"),
            Some("123456789012")
        );
        assert_eq!(
            management_of("arn:aws-us-gov:organizations::123456789012:ou/o-a/ou-ab-12345678"),
            Some("123456789012")
        );
        assert_eq!(management_of("arn:aws:iam::123456789012:role/x"), None);
        assert_eq!(management_of("arn:aws:organizations:::account/o-a/1"), None);
    }
}
