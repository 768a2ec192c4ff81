//! CloudFormation StackSets: the invocation role deployed to many accounts from one owning
//! account (the organization's management account, or a delegated administrator).
//!
//! [`StackSetSpec`] is what a caller hands in: the StackSet as the descriptor declares it
//! (built in the binary, which knows descriptors; this crate knows none). [`StackSets`] reads
//! what AWS holds ([`read`]: the StackSet, its instances, and the accounts AWS Organizations
//! places under the targeted OUs); the write side ([`write`]: what a deploy must do, and doing
//! it: create or update the StackSet, create, update and delete instances, delete it, detect
//! drift) and the operation watcher ([`watch`]) beside it. Every call goes through the one connection of [`crate::Clients`].

use std::collections::BTreeMap;

use aws_sdk_cloudformation::types as cfn;

pub mod plan;
pub mod read;
mod watch;
mod write;

pub use plan::{Current, InstanceAction, InstancePlan, SetAction, StackSetPlan};
pub use read::{Instance, InstanceStatus, OrgAccount, OrgTargets, StackSetInfo};
pub use watch::{InstanceResult, OperationObserver, OperationOutcome};
pub use write::{SetDeploy, Step, steps};

/// The capability every StackSet of the role needs: its template names an IAM role.
pub const CAPABILITIES: &[&str] = &["CAPABILITY_NAMED_IAM"];

/// A StackSet as declared: what `plan` compares with AWS and `deploy` applies.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StackSetSpec {
    pub name: String,
    /// The template, with the role's fixed name (`RoleName: !Ref RoleName`).
    pub template_body: String,
    /// (ParameterKey, ParameterValue) of every instance.
    pub parameters: Vec<(String, String)>,
    /// Per account, the parameters that differ from [`Self::parameters`] (`ParameterOverrides`
    /// of that account's instances).
    pub overrides: BTreeMap<String, Vec<(String, String)>>,
    pub targets: Targets,
    /// The regions of the instances (the descriptor allows one).
    pub regions: Vec<String>,
    pub permission_model: PermissionModel,
    pub call_as: CallAs,
    /// Service-managed only: deploy to accounts that join a targeted OU.
    pub auto_deployment: Option<AutoDeployment>,
    /// Self-managed only (`None`: AWS's default role names).
    pub administration_role_arn: Option<String>,
    pub execution_role_name: Option<String>,
    pub preferences: Preferences,
    /// Tags of the StackSet, which CloudFormation puts on each instance's stack.
    pub tags: Vec<(String, String)>,
}

impl StackSetSpec {
    /// The parameters of `account`'s instances: [`Self::parameters`] with its overrides.
    pub fn parameters_of(&self, account: &str) -> BTreeMap<String, String> {
        let mut out: BTreeMap<String, String> = self.parameters.iter().cloned().collect();
        if let Some(overrides) = self.overrides.get(account) {
            out.extend(overrides.iter().cloned());
        }
        out
    }

    /// `account`'s overrides, as a map (empty without any).
    pub fn overrides_of(&self, account: &str) -> BTreeMap<String, String> {
        self.overrides
            .get(account)
            .map(|o| o.iter().cloned().collect())
            .unwrap_or_default()
    }
}

/// Where the instances go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Targets {
    /// Service-managed: every account of these OUs (or roots) and of the OUs below them.
    OrganizationalUnits(Vec<String>),
    /// Self-managed: these accounts.
    Accounts(Vec<String>),
}

impl Targets {
    /// As CloudFormation takes them in CreateStackInstances and the like.
    pub fn deployment_targets(&self) -> cfn::DeploymentTargets {
        match self {
            Targets::OrganizationalUnits(ous) => cfn::DeploymentTargets::builder()
                .set_organizational_unit_ids(Some(ous.clone()))
                .build(),
            Targets::Accounts(accounts) => cfn::DeploymentTargets::builder()
                .set_accounts(Some(accounts.clone()))
                .build(),
        }
    }
}

/// `PermissionModel`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PermissionModel {
    ServiceManaged,
    SelfManaged,
}

impl PermissionModel {
    pub fn sdk(self) -> cfn::PermissionModels {
        match self {
            PermissionModel::ServiceManaged => cfn::PermissionModels::ServiceManaged,
            PermissionModel::SelfManaged => cfn::PermissionModels::SelfManaged,
        }
    }

    /// As the descriptor writes it (`service-managed`, `self-managed`).
    pub fn as_str(self) -> &'static str {
        match self {
            PermissionModel::ServiceManaged => "service-managed",
            PermissionModel::SelfManaged => "self-managed",
        }
    }

    fn from_sdk(m: &cfn::PermissionModels) -> Option<Self> {
        match m {
            cfn::PermissionModels::ServiceManaged => Some(PermissionModel::ServiceManaged),
            cfn::PermissionModels::SelfManaged => Some(PermissionModel::SelfManaged),
            _ => None,
        }
    }
}

/// `CallAs`: the owning account itself, or a delegated administrator of the organization.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CallAs {
    Itself,
    DelegatedAdmin,
}

impl CallAs {
    pub fn sdk(self) -> cfn::CallAs {
        match self {
            CallAs::Itself => cfn::CallAs::SelfValue,
            CallAs::DelegatedAdmin => cfn::CallAs::DelegatedAdmin,
        }
    }
}

/// `AutoDeployment` (service-managed only).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AutoDeployment {
    pub enabled: bool,
    pub retain_stacks_on_account_removal: bool,
}

impl AutoDeployment {
    pub fn sdk(self) -> cfn::AutoDeployment {
        cfn::AutoDeployment::builder()
            .enabled(self.enabled)
            .retain_stacks_on_account_removal(self.retain_stacks_on_account_removal)
            .build()
    }

    fn from_sdk(a: &cfn::AutoDeployment) -> Self {
        AutoDeployment {
            enabled: a.enabled().unwrap_or(false),
            retain_stacks_on_account_removal: a.retain_stacks_on_account_removal().unwrap_or(false),
        }
    }
}

/// `OperationPreferences` of the operations a deploy starts (AutoDeployment's own operations
/// take none). `None` leaves AWS's default.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Preferences {
    pub max_concurrent_count: Option<i32>,
    pub max_concurrent_percentage: Option<i32>,
    pub failure_tolerance_count: Option<i32>,
    pub failure_tolerance_percentage: Option<i32>,
    /// `true`: SOFT_FAILURE_TOLERANCE; `false`: STRICT_FAILURE_TOLERANCE; `None`: AWS's
    /// default (strict).
    pub soft_failure_tolerance: Option<bool>,
    /// The regions in the order they are deployed to.
    pub region_order: Vec<String>,
}

impl Preferences {
    pub fn sdk(&self) -> cfn::StackSetOperationPreferences {
        cfn::StackSetOperationPreferences::builder()
            .set_max_concurrent_count(self.max_concurrent_count)
            .set_max_concurrent_percentage(self.max_concurrent_percentage)
            .set_failure_tolerance_count(self.failure_tolerance_count)
            .set_failure_tolerance_percentage(self.failure_tolerance_percentage)
            .set_concurrency_mode(self.soft_failure_tolerance.map(|soft| {
                if soft {
                    cfn::ConcurrencyMode::SoftFailureTolerance
                } else {
                    cfn::ConcurrencyMode::StrictFailureTolerance
                }
            }))
            .set_region_order((!self.region_order.is_empty()).then(|| self.region_order.clone()))
            .build()
    }
}

/// The StackSet calls of one connection: CloudFormation's, and AWS Organizations' for the
/// accounts of an OU.
#[derive(Debug, Clone)]
pub struct StackSets {
    pub(crate) cfn: aws_sdk_cloudformation::Client,
    pub(crate) org: aws_sdk_organizations::Client,
}

impl crate::Clients {
    /// The StackSet calls, with the credentials and endpoints of every client.
    pub fn stack_sets(&self) -> StackSets {
        StackSets {
            cfn: aws_sdk_cloudformation::Client::new(&self.config),
            org: aws_sdk_organizations::Client::new(&self.config),
        }
    }
}
