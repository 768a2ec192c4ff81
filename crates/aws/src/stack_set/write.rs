//! The write side of a StackSet: what a deploy must do to bring the StackSet and its instances
//! to a spec ([`steps`], decided from what is deployed, changing nothing), and doing it
//! ([`StackSets::apply`]): CreateStackSet / UpdateStackSet (which reaches every instance),
//! CreateStackInstances for targets without one, UpdateStackInstances with ParameterOverrides
//! (one call per distinct set of overrides), DeleteStackInstances for targets no longer
//! declared; each operation watched until it ends. Also the whole teardown
//! ([`StackSets::destroy`]) and drift detection ([`StackSets::detect_drift`]).

use std::collections::{BTreeMap, BTreeSet};

use aws_sdk_cloudformation::error::ProvideErrorMetadata;
use aws_sdk_cloudformation::types::{
    AccountFilterType, AutoDeployment, CallAs as SdkCallAs, Capability, ConcurrencyMode,
    DeploymentTargets, Parameter, PermissionModels, StackInstanceSummary, StackSet,
    StackSetOperationPreferences, StackSetStatus, Tag,
};

use crate::error::{DeployError, aws_error};
use crate::in_flight::Deadline;
use crate::stack_set::watch::{OperationObserver, OperationOutcome};

/// Whose StackSet it is: the caller's own (the management account's, or a self-managed one's),
/// or one the caller administers as the organization's delegated administrator.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum CallAs {
    #[default]
    Own,
    DelegatedAdmin,
}

/// The permission model, with the targets each one takes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Permission {
    /// AWS Organizations' trusted access: the instances go to every account under the OUs.
    ServiceManaged {
        organizational_units: Vec<String>,
        /// Deploy to accounts that join a targeted OU, remove from those that leave.
        auto_deployment: bool,
        retain_stacks_on_account_removal: bool,
    },
    /// An administration role in the owner account and an execution role in each target.
    SelfManaged {
        accounts: Vec<String>,
        administration_role_arn: Option<String>,
        execution_role_name: Option<String>,
    },
}

impl Permission {
    fn model(&self) -> PermissionModels {
        match self {
            Permission::ServiceManaged { .. } => PermissionModels::ServiceManaged,
            Permission::SelfManaged { .. } => PermissionModels::SelfManaged,
        }
    }
}

/// How an operation rolls out (StackSetOperationPreferences); `None`: CloudFormation's default.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Preferences {
    pub max_concurrent_count: Option<i32>,
    pub max_concurrent_percentage: Option<i32>,
    pub failure_tolerance_count: Option<i32>,
    pub failure_tolerance_percentage: Option<i32>,
    /// `STRICT_FAILURE_TOLERANCE` or `SOFT_FAILURE_TOLERANCE`.
    pub concurrency_mode: Option<String>,
    pub region_order: Vec<String>,
}

impl Preferences {
    fn sdk(&self) -> StackSetOperationPreferences {
        StackSetOperationPreferences::builder()
            .set_max_concurrent_count(self.max_concurrent_count)
            .set_max_concurrent_percentage(self.max_concurrent_percentage)
            .set_failure_tolerance_count(self.failure_tolerance_count)
            .set_failure_tolerance_percentage(self.failure_tolerance_percentage)
            .set_concurrency_mode(self.concurrency_mode.as_deref().map(ConcurrencyMode::from))
            .set_region_order((!self.region_order.is_empty()).then(|| self.region_order.clone()))
            .build()
    }
}

/// The StackSet to deploy: its template, the complete parameter values (defaults included), its
/// targets and regions, and each account's overrides.
#[derive(Debug, Clone)]
pub struct StackSetSpec<'a> {
    pub name: &'a str,
    pub template_body: &'a str,
    pub parameters: &'a [(String, String)],
    /// The StackSet's tags (CloudFormation puts them on each instance's stack and its role).
    pub tags: &'a [(String, String)],
    pub permission: Permission,
    pub regions: Vec<String>,
    /// Per account: parameter values its instances get instead of `parameters`' (sent as
    /// ParameterOverrides); an account not listed gets `parameters`.
    pub overrides: BTreeMap<String, Vec<(String, String)>>,
    pub call_as: CallAs,
    pub preferences: Preferences,
}

impl StackSetSpec<'_> {
    /// The overrides `account` should have, as CloudFormation reports them.
    fn overrides_of(&self, account: &str) -> BTreeMap<String, String> {
        self.overrides
            .get(account)
            .map(|o| o.iter().cloned().collect())
            .unwrap_or_default()
    }

    pub fn organizational_units(&self) -> &[String] {
        match &self.permission {
            Permission::ServiceManaged {
                organizational_units,
                ..
            } => organizational_units,
            Permission::SelfManaged { .. } => &[],
        }
    }
}

/// A StackSet as `DescribeStackSet` reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LiveStackSet {
    pub id: String,
    pub status: String,
    pub template_body: String,
    pub parameters: BTreeMap<String, String>,
    pub tags: BTreeMap<String, String>,
    pub permission_model: Option<String>,
    /// (Enabled, RetainStacksOnAccountRemoval), for a service-managed StackSet.
    pub auto_deployment: Option<(bool, bool)>,
    pub administration_role_arn: Option<String>,
    pub execution_role_name: Option<String>,
}

/// A stack instance as `ListStackInstances` (and, for its overrides, `DescribeStackInstance`)
/// reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Instance {
    pub account: String,
    pub region: String,
    /// CURRENT, OUTDATED or INOPERABLE.
    pub status: String,
    /// PENDING, RUNNING, SUCCEEDED, FAILED, CANCELLED, INOPERABLE, SKIPPED_SUSPENDED_ACCOUNT...
    pub detailed_status: Option<String>,
    pub reason: Option<String>,
    pub organizational_unit_id: Option<String>,
    /// DRIFTED, IN_SYNC, UNKNOWN or NOT_CHECKED.
    pub drift_status: Option<String>,
    pub stack_id: Option<String>,
    /// Its ParameterOverrides.
    pub overrides: BTreeMap<String, String>,
}

impl Instance {
    pub fn is_current(&self) -> bool {
        self.status == "CURRENT"
    }
}

/// One thing a deploy does, in the order it does them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// CreateStackSet (no instances yet).
    CreateStackSet,
    /// UpdateStackSet: the template, parameters, tags or automatic deployment differ
    /// (`changed` says which); it reaches every instance.
    UpdateStackSet { changed: Vec<String> },
    /// CreateStackInstances for accounts without an instance in the regions (service-managed:
    /// the OUs are targeted, and these are the accounts known to be missing).
    CreateInstances { accounts: Vec<String> },
    /// UpdateStackInstances for these accounts with these ParameterOverrides (an outdated
    /// instance, or overrides that differ).
    UpdateInstances {
        accounts: Vec<String>,
        overrides: Vec<(String, String)>,
    },
    /// DeleteStackInstances for accounts (and regions) no longer targeted.
    DeleteInstances {
        accounts: Vec<String>,
        regions: Vec<String>,
    },
}

/// What `spec` changes in `live`'s own settings (not its instances): template, parameters, tags,
/// automatic deployment, roles. Empty when nothing.
pub fn stack_set_changes(spec: &StackSetSpec<'_>, live: &LiveStackSet) -> Vec<String> {
    let mut changed = Vec::new();
    if live.template_body != spec.template_body {
        changed.push("template".to_owned());
    }
    let wanted: BTreeMap<String, String> = spec.parameters.iter().cloned().collect();
    for (key, value) in &wanted {
        match live.parameters.get(key) {
            Some(old) if old == value => {}
            Some(old) => changed.push(format!("parameter {key}: {old} -> {value}")),
            None => changed.push(format!("parameter {key}: (none) -> {value}")),
        }
    }
    for key in live.parameters.keys().filter(|k| !wanted.contains_key(*k)) {
        changed.push(format!("parameter {key}: removed"));
    }
    let tags: BTreeMap<String, String> = spec.tags.iter().cloned().collect();
    if tags != live.tags {
        changed.push("tags".to_owned());
    }
    match &spec.permission {
        Permission::ServiceManaged {
            auto_deployment,
            retain_stacks_on_account_removal,
            ..
        } => {
            let wanted = (*auto_deployment, *retain_stacks_on_account_removal);
            if live.auto_deployment.is_some_and(|live| live != wanted) {
                changed.push(format!(
                    "automatic deployment: enabled {}, retain stacks on account removal {}",
                    wanted.0, wanted.1
                ));
            }
        }
        Permission::SelfManaged {
            administration_role_arn,
            execution_role_name,
            ..
        } => {
            if administration_role_arn.is_some()
                && administration_role_arn != &live.administration_role_arn
            {
                changed.push("administration role".to_owned());
            }
            if execution_role_name.is_some() && execution_role_name != &live.execution_role_name {
                changed.push("execution role".to_owned());
            }
        }
    }
    changed
}

/// What a deploy does to bring the StackSet to `spec`. `live`/`instances`: what is deployed
/// (`None`: no StackSet). `targets`: the accounts that should have instances (self-managed: the
/// spec's accounts; service-managed: the accounts under its OUs, as Organizations lists them).
pub fn steps(
    spec: &StackSetSpec<'_>,
    live: Option<&LiveStackSet>,
    instances: &[Instance],
    targets: &[String],
) -> Vec<Step> {
    let mut steps = Vec::new();
    let updated_set = match live {
        None => {
            steps.push(Step::CreateStackSet);
            false
        }
        Some(live) => {
            let changed = stack_set_changes(spec, live);
            let any = !changed.is_empty();
            if any {
                steps.push(Step::UpdateStackSet { changed });
            }
            any
        }
    };
    let have: BTreeMap<(&str, &str), &Instance> = instances
        .iter()
        .map(|i| ((i.account.as_str(), i.region.as_str()), i))
        .collect();
    let wanted: BTreeSet<&str> = targets.iter().map(String::as_str).collect();
    let missing: Vec<String> = targets
        .iter()
        .filter(|a| {
            spec.regions
                .iter()
                .any(|r| !have.contains_key(&(a.as_str(), r.as_str())))
        })
        .cloned()
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    if !missing.is_empty() {
        steps.push(Step::CreateInstances {
            accounts: missing.clone(),
        });
    }
    // Instances to update, grouped by the overrides they should have: one call per group.
    let mut groups: BTreeMap<Vec<(String, String)>, BTreeSet<String>> = BTreeMap::new();
    for account in targets {
        let overrides = spec.overrides_of(account);
        let stale = spec.regions.iter().any(|r| {
            have.get(&(account.as_str(), r.as_str()))
                .is_some_and(|i| i.overrides != overrides || (!updated_set && !i.is_current()))
        });
        let fresh_with_overrides = missing.contains(account) && !overrides.is_empty();
        if stale || fresh_with_overrides {
            groups
                .entry(overrides.into_iter().collect())
                .or_default()
                .insert(account.clone());
        }
    }
    for (overrides, accounts) in groups {
        steps.push(Step::UpdateInstances {
            accounts: accounts.into_iter().collect(),
            overrides,
        });
    }
    let mut extra_accounts = BTreeSet::new();
    let mut extra_regions = BTreeSet::new();
    for i in instances {
        if !wanted.contains(i.account.as_str()) || !spec.regions.contains(&i.region) {
            extra_accounts.insert(i.account.clone());
            extra_regions.insert(i.region.clone());
        }
    }
    if !extra_accounts.is_empty() {
        steps.push(Step::DeleteInstances {
            accounts: extra_accounts.into_iter().collect(),
            regions: extra_regions.into_iter().collect(),
        });
    }
    steps
}

/// What [`StackSets::apply`] did: each operation with how it ended, and the StackSet's id.
#[derive(Debug, Clone, Default)]
pub struct SetDeploy {
    pub stack_set_id: String,
    pub operations: Vec<OperationOutcome>,
}

impl SetDeploy {
    /// Whether every operation succeeded with no instance failed.
    pub fn succeeded(&self) -> bool {
        self.operations
            .iter()
            .all(|o| o.succeeded() && o.failed_instances().next().is_none())
    }
}

/// CloudFormation StackSets, as one caller (own or delegated administrator).
#[derive(Debug, Clone)]
pub struct StackSets {
    pub(crate) cfn: aws_sdk_cloudformation::Client,
    pub(crate) call_as: Option<SdkCallAs>,
}

fn params(values: &[(String, String)]) -> Vec<Parameter> {
    values
        .iter()
        .map(|(k, v)| {
            Parameter::builder()
                .parameter_key(k)
                .parameter_value(v)
                .build()
        })
        .collect()
}

fn tags(values: &[(String, String)]) -> Vec<Tag> {
    values
        .iter()
        .map(|(k, v)| Tag::builder().key(k).value(v).build())
        .collect()
}

/// A fresh operation ID (also the request's idempotency token: a retried request gets the same
/// operation back).
fn operation_id() -> String {
    use std::sync::atomic::{AtomicU32, Ordering};
    static N: AtomicU32 = AtomicU32::new(0);
    let millis = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis());
    format!(
        "tsw-{millis}-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    )
}

fn live_stack_set(s: &StackSet) -> LiveStackSet {
    LiveStackSet {
        id: s.stack_set_id().unwrap_or_default().to_owned(),
        status: s
            .status()
            .map(|s| s.as_str().to_owned())
            .unwrap_or_default(),
        template_body: s.template_body().unwrap_or_default().to_owned(),
        parameters: s
            .parameters()
            .iter()
            .filter_map(|p| {
                Some((
                    p.parameter_key()?.to_owned(),
                    p.parameter_value().unwrap_or_default().to_owned(),
                ))
            })
            .collect(),
        tags: s
            .tags()
            .iter()
            .filter_map(|t| Some((t.key()?.to_owned(), t.value()?.to_owned())))
            .collect(),
        permission_model: s.permission_model().map(|p| p.as_str().to_owned()),
        auto_deployment: s.auto_deployment().map(|a| {
            (
                a.enabled().unwrap_or(false),
                a.retain_stacks_on_account_removal().unwrap_or(false),
            )
        }),
        administration_role_arn: s.administration_role_arn().map(str::to_owned),
        execution_role_name: s.execution_role_name().map(str::to_owned),
    }
}

fn instance(s: &StackInstanceSummary) -> Instance {
    Instance {
        account: s.account().unwrap_or_default().to_owned(),
        region: s.region().unwrap_or_default().to_owned(),
        status: s
            .status()
            .map(|s| s.as_str().to_owned())
            .unwrap_or_default(),
        detailed_status: s
            .stack_instance_status()
            .and_then(|d| d.detailed_status())
            .map(|d| d.as_str().to_owned()),
        reason: s.status_reason().map(str::to_owned),
        organizational_unit_id: s.organizational_unit_id().map(str::to_owned),
        drift_status: s.drift_status().map(|d| d.as_str().to_owned()),
        stack_id: s.stack_id().map(str::to_owned),
        overrides: BTreeMap::new(),
    }
}

impl StackSets {
    /// The StackSets of `cfn`'s account and region, called as `call_as`.
    pub fn new(cfn: aws_sdk_cloudformation::Client, call_as: CallAs) -> Self {
        StackSets {
            cfn,
            call_as: match call_as {
                // Left out for the caller's own: the default, and what every endpoint takes.
                CallAs::Own => None,
                CallAs::DelegatedAdmin => Some(SdkCallAs::DelegatedAdmin),
            },
        }
    }

    /// `DescribeStackSet`: `None` when there is none of the name (or it was deleted).
    pub async fn describe(
        &self,
        name: &str,
        deadline: &Deadline,
    ) -> Result<Option<LiveStackSet>, DeployError> {
        let request = self
            .cfn
            .describe_stack_set()
            .stack_set_name(name)
            .set_call_as(self.call_as.clone())
            .send();
        match bound(deadline, "DescribeStackSet", request).await? {
            Ok(out) => Ok(out
                .stack_set()
                .map(live_stack_set)
                .filter(|s| s.status != StackSetStatus::Deleted.as_str())),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_stack_set_not_found_exception()) =>
            {
                Ok(None)
            }
            Err(e) => Err(aws_error("DescribeStackSet", e)),
        }
    }

    /// Every instance of the StackSet (`ListStackInstances`, all pages), each with its
    /// ParameterOverrides (`DescribeStackInstance`).
    pub async fn instances(
        &self,
        name: &str,
        deadline: &Deadline,
    ) -> Result<Vec<Instance>, DeployError> {
        let mut out = Vec::new();
        let mut token = None;
        loop {
            let request = self
                .cfn
                .list_stack_instances()
                .stack_set_name(name)
                .set_call_as(self.call_as.clone())
                .set_next_token(token)
                .send();
            let page = bound(deadline, "ListStackInstances", request)
                .await?
                .map_err(|e| aws_error("ListStackInstances", e))?;
            out.extend(page.summaries().iter().map(instance));
            token = page.next_token().map(str::to_owned);
            if token.is_none() {
                break;
            }
        }
        for i in &mut out {
            let request = self
                .cfn
                .describe_stack_instance()
                .stack_set_name(name)
                .stack_instance_account(&i.account)
                .stack_instance_region(&i.region)
                .set_call_as(self.call_as.clone())
                .send();
            let described = bound(deadline, "DescribeStackInstance", request)
                .await?
                .map_err(|e| aws_error("DescribeStackInstance", e))?;
            i.overrides = described
                .stack_instance()
                .map(|s| {
                    s.parameter_overrides()
                        .iter()
                        .filter_map(|p| {
                            Some((
                                p.parameter_key()?.to_owned(),
                                p.parameter_value().unwrap_or_default().to_owned(),
                            ))
                        })
                        .collect()
                })
                .unwrap_or_default();
        }
        Ok(out)
    }

    /// Runs `steps` in order, each operation watched until it ends. Stops after an operation
    /// that did not succeed (the ones after it would act on a StackSet in an unknown state).
    pub async fn apply(
        &self,
        spec: &StackSetSpec<'_>,
        steps: &[Step],
        deadline: &Deadline,
        obs: &mut dyn OperationObserver,
    ) -> Result<SetDeploy, DeployError> {
        let mut done = SetDeploy::default();
        for step in steps {
            let operation = match step {
                Step::CreateStackSet => {
                    obs.step(&format!("creating StackSet `{}`", spec.name));
                    done.stack_set_id = self.create_stack_set(spec, deadline).await?;
                    continue;
                }
                Step::UpdateStackSet { .. } => {
                    obs.step(&format!(
                        "updating StackSet `{}` and every instance",
                        spec.name
                    ));
                    self.update_stack_set(spec, deadline).await?
                }
                Step::CreateInstances { accounts } => {
                    obs.step(&format!(
                        "creating instances in {} account(s), region(s) {}",
                        accounts.len(),
                        spec.regions.join(", ")
                    ));
                    self.create_instances(spec, accounts, deadline).await?
                }
                Step::UpdateInstances {
                    accounts,
                    overrides,
                } => {
                    obs.step(&format!(
                        "updating the instances of {} account(s){}",
                        accounts.len(),
                        if overrides.is_empty() {
                            String::new()
                        } else {
                            format!(" with their overrides of {}", keys(overrides))
                        }
                    ));
                    self.update_instances(spec, accounts, overrides, deadline)
                        .await?
                }
                Step::DeleteInstances { accounts, regions } => {
                    obs.step(&format!(
                        "deleting the instances of {} account(s) no longer targeted",
                        accounts.len()
                    ));
                    self.delete_instances(spec, accounts, regions, false, deadline)
                        .await?
                }
            };
            let outcome = self.wait(spec.name, &operation, deadline, obs).await?;
            let ok = outcome.succeeded();
            done.operations.push(outcome);
            if !ok {
                break;
            }
        }
        if done.stack_set_id.is_empty() {
            done.stack_set_id = self
                .describe(spec.name, deadline)
                .await?
                .map(|s| s.id)
                .unwrap_or_default();
        }
        Ok(done)
    }

    async fn create_stack_set(
        &self,
        spec: &StackSetSpec<'_>,
        deadline: &Deadline,
    ) -> Result<String, DeployError> {
        let mut request = self
            .cfn
            .create_stack_set()
            .stack_set_name(spec.name)
            .template_body(spec.template_body)
            .set_parameters(Some(params(spec.parameters)))
            .set_tags(Some(tags(spec.tags)))
            .capabilities(Capability::CapabilityNamedIam)
            .permission_model(spec.permission.model())
            .set_call_as(self.call_as.clone())
            .client_request_token(operation_id());
        match &spec.permission {
            Permission::ServiceManaged {
                auto_deployment,
                retain_stacks_on_account_removal,
                ..
            } => {
                request = request.auto_deployment(
                    AutoDeployment::builder()
                        .enabled(*auto_deployment)
                        .retain_stacks_on_account_removal(*retain_stacks_on_account_removal)
                        .build(),
                );
            }
            Permission::SelfManaged {
                administration_role_arn,
                execution_role_name,
                ..
            } => {
                request = request
                    .set_administration_role_arn(administration_role_arn.clone())
                    .set_execution_role_name(execution_role_name.clone());
            }
        }
        let out = bound(deadline, "CreateStackSet", request.send())
            .await?
            .map_err(|e| aws_error("CreateStackSet", e))?;
        Ok(out.stack_set_id().unwrap_or_default().to_owned())
    }

    /// The targets of an operation on `accounts`: the accounts themselves (self-managed), or
    /// the StackSet's OUs narrowed to them (service-managed, `AccountFilterType` INTERSECTION).
    fn targets(&self, spec: &StackSetSpec<'_>, accounts: Option<&[String]>) -> DeploymentTargets {
        match (&spec.permission, accounts) {
            (Permission::SelfManaged { accounts: all, .. }, None) => DeploymentTargets::builder()
                .set_accounts(Some(all.clone()))
                .build(),
            (Permission::SelfManaged { .. }, Some(accounts)) => DeploymentTargets::builder()
                .set_accounts(Some(accounts.to_vec()))
                .build(),
            (
                Permission::ServiceManaged {
                    organizational_units,
                    ..
                },
                None,
            ) => DeploymentTargets::builder()
                .set_organizational_unit_ids(Some(organizational_units.clone()))
                .build(),
            (
                Permission::ServiceManaged {
                    organizational_units,
                    ..
                },
                Some(accounts),
            ) => DeploymentTargets::builder()
                .set_organizational_unit_ids(Some(organizational_units.clone()))
                .set_accounts(Some(accounts.to_vec()))
                .account_filter_type(AccountFilterType::Intersection)
                .build(),
        }
    }

    async fn update_stack_set(
        &self,
        spec: &StackSetSpec<'_>,
        deadline: &Deadline,
    ) -> Result<String, DeployError> {
        let id = operation_id();
        let mut request = self
            .cfn
            .update_stack_set()
            .stack_set_name(spec.name)
            .template_body(spec.template_body)
            .set_parameters(Some(params(spec.parameters)))
            .set_tags(Some(tags(spec.tags)))
            .capabilities(Capability::CapabilityNamedIam)
            .permission_model(spec.permission.model())
            .operation_preferences(spec.preferences.sdk())
            .set_regions(Some(spec.regions.clone()))
            .deployment_targets(self.targets(spec, None))
            .set_call_as(self.call_as.clone())
            .operation_id(&id);
        match &spec.permission {
            Permission::ServiceManaged {
                auto_deployment,
                retain_stacks_on_account_removal,
                ..
            } => {
                request = request.auto_deployment(
                    AutoDeployment::builder()
                        .enabled(*auto_deployment)
                        .retain_stacks_on_account_removal(*retain_stacks_on_account_removal)
                        .build(),
                );
            }
            Permission::SelfManaged {
                administration_role_arn,
                execution_role_name,
                ..
            } => {
                request = request
                    .set_administration_role_arn(administration_role_arn.clone())
                    .set_execution_role_name(execution_role_name.clone());
            }
        }
        let out = bound(deadline, "UpdateStackSet", request.send())
            .await?
            .map_err(|e| aws_error("UpdateStackSet", e))?;
        Ok(out.operation_id().map_or(id, str::to_owned))
    }

    async fn create_instances(
        &self,
        spec: &StackSetSpec<'_>,
        accounts: &[String],
        deadline: &Deadline,
    ) -> Result<String, DeployError> {
        let id = operation_id();
        // Service-managed: the OUs (CloudFormation adds every account under them that lacks an
        // instance); self-managed: the accounts.
        let targets = match &spec.permission {
            Permission::ServiceManaged { .. } => self.targets(spec, None),
            Permission::SelfManaged { .. } => self.targets(spec, Some(accounts)),
        };
        let request = self
            .cfn
            .create_stack_instances()
            .stack_set_name(spec.name)
            .deployment_targets(targets)
            .set_regions(Some(spec.regions.clone()))
            .operation_preferences(spec.preferences.sdk())
            .set_call_as(self.call_as.clone())
            .operation_id(&id)
            .send();
        let out = bound(deadline, "CreateStackInstances", request)
            .await?
            .map_err(|e| aws_error("CreateStackInstances", e))?;
        Ok(out.operation_id().map_or(id, str::to_owned))
    }

    async fn update_instances(
        &self,
        spec: &StackSetSpec<'_>,
        accounts: &[String],
        overrides: &[(String, String)],
        deadline: &Deadline,
    ) -> Result<String, DeployError> {
        let id = operation_id();
        let request = self
            .cfn
            .update_stack_instances()
            .stack_set_name(spec.name)
            .deployment_targets(self.targets(spec, Some(accounts)))
            .set_regions(Some(spec.regions.clone()))
            // Always sent, even empty: an override left out goes back to the StackSet's value.
            .set_parameter_overrides(Some(params(overrides)))
            .operation_preferences(spec.preferences.sdk())
            .set_call_as(self.call_as.clone())
            .operation_id(&id)
            .send();
        let out = bound(deadline, "UpdateStackInstances", request)
            .await?
            .map_err(|e| aws_error("UpdateStackInstances", e))?;
        Ok(out.operation_id().map_or(id, str::to_owned))
    }

    async fn delete_instances(
        &self,
        spec: &StackSetSpec<'_>,
        accounts: &[String],
        regions: &[String],
        all: bool,
        deadline: &Deadline,
    ) -> Result<String, DeployError> {
        let id = operation_id();
        let targets = match (&spec.permission, all) {
            (Permission::ServiceManaged { .. }, true) => self.targets(spec, None),
            _ => self.targets(spec, Some(accounts)),
        };
        let request = self
            .cfn
            .delete_stack_instances()
            .stack_set_name(spec.name)
            .deployment_targets(targets)
            .set_regions(Some(regions.to_vec()))
            .retain_stacks(false)
            .operation_preferences(spec.preferences.sdk())
            .set_call_as(self.call_as.clone())
            .operation_id(&id)
            .send();
        let out = bound(deadline, "DeleteStackInstances", request)
            .await?
            .map_err(|e| aws_error("DeleteStackInstances", e))?;
        Ok(out.operation_id().map_or(id, str::to_owned))
    }

    /// Deletes every instance of the StackSet (the spec's OUs or accounts and those instances
    /// name, in every region they are in), waits, then deletes the StackSet. `None` when there
    /// was no StackSet; the delete operation's outcome otherwise (the StackSet is deleted only
    /// when it succeeded with no failed instance).
    pub async fn destroy(
        &self,
        spec: &StackSetSpec<'_>,
        deadline: &Deadline,
        obs: &mut dyn OperationObserver,
    ) -> Result<Option<SetDeploy>, DeployError> {
        let Some(live) = self.describe(spec.name, deadline).await? else {
            return Ok(None);
        };
        let instances = self.instances(spec.name, deadline).await?;
        let mut done = SetDeploy {
            stack_set_id: live.id,
            operations: Vec::new(),
        };
        if !instances.is_empty() {
            let accounts: Vec<String> = instances
                .iter()
                .map(|i| i.account.clone())
                .collect::<BTreeSet<_>>()
                .into_iter()
                .collect();
            let regions: Vec<String> = instances
                .iter()
                .map(|i| i.region.clone())
                .collect::<BTreeSet<_>>()
                .into_iter()
                .collect();
            // The OUs the instances were made for, beside the declared ones.
            let mut spec = spec.clone();
            if let Permission::ServiceManaged {
                organizational_units,
                ..
            } = &mut spec.permission
            {
                for ou in instances
                    .iter()
                    .filter_map(|i| i.organizational_unit_id.as_ref())
                {
                    if !organizational_units.contains(ou) {
                        organizational_units.push(ou.clone());
                    }
                }
            }
            obs.step(&format!(
                "deleting {} instance(s) in {} account(s)",
                instances.len(),
                accounts.len()
            ));
            let operation = self
                .delete_instances(&spec, &accounts, &regions, true, deadline)
                .await?;
            let outcome = self.wait(spec.name, &operation, deadline, obs).await?;
            let ok = outcome.succeeded() && outcome.failed_instances().next().is_none();
            done.operations.push(outcome);
            if !ok {
                return Ok(Some(done));
            }
        }
        obs.step(&format!("deleting StackSet `{}`", spec.name));
        let request = self
            .cfn
            .delete_stack_set()
            .stack_set_name(spec.name)
            .set_call_as(self.call_as.clone())
            .send();
        bound(deadline, "DeleteStackSet", request)
            .await?
            .map_err(|e| aws_error("DeleteStackSet", e))?;
        Ok(Some(done))
    }

    /// Runs drift detection on every instance (`DetectStackSetDrift`) and waits for it; each
    /// instance's DriftStatus is then in [`StackSets::instances`].
    pub async fn detect_drift(
        &self,
        name: &str,
        deadline: &Deadline,
        obs: &mut dyn OperationObserver,
    ) -> Result<OperationOutcome, DeployError> {
        let id = operation_id();
        let request = self
            .cfn
            .detect_stack_set_drift()
            .stack_set_name(name)
            .set_call_as(self.call_as.clone())
            .operation_id(&id)
            .send();
        let out = bound(deadline, "DetectStackSetDrift", request)
            .await?
            .map_err(|e| aws_error("DetectStackSetDrift", e))?;
        let operation = out.operation_id().map_or(id, str::to_owned);
        self.wait(name, &operation, deadline, obs).await
    }
}

/// `A, B` of the overrides' keys.
fn keys(overrides: &[(String, String)]) -> String {
    overrides
        .iter()
        .map(|(k, _)| k.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

/// Awaits one request within the deadline (the SDK retries it meanwhile): the SDK's answer, or
/// a time-out naming the call.
async fn bound<T, E>(
    deadline: &Deadline,
    action: &'static str,
    request: impl Future<Output = Result<T, E>>,
) -> Result<Result<T, E>, DeployError>
where
    E: ProvideErrorMetadata,
{
    deadline
        .bound(request)
        .await
        .ok_or_else(|| DeployError::TimedOut {
            waiting_for: format!("an answer to {action}"),
            after: deadline.limit(),
            running: None,
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec<'a>(
        params: &'a [(String, String)],
        overrides: BTreeMap<String, Vec<(String, String)>>,
    ) -> StackSetSpec<'a> {
        StackSetSpec {
            name: "roles",
            template_body: "body",
            parameters: params,
            tags: &[],
            permission: Permission::ServiceManaged {
                organizational_units: vec!["ou-abcd-12345678".into()],
                auto_deployment: true,
                retain_stacks_on_account_removal: false,
            },
            regions: vec!["us-east-1".into()],
            overrides,
            call_as: CallAs::Own,
            preferences: Preferences::default(),
        }
    }

    fn live(params: &[(String, String)]) -> LiveStackSet {
        LiveStackSet {
            id: "roles:1".into(),
            status: "ACTIVE".into(),
            template_body: "body".into(),
            parameters: params.iter().cloned().collect(),
            tags: BTreeMap::new(),
            permission_model: Some("SERVICE_MANAGED".into()),
            auto_deployment: Some((true, false)),
            administration_role_arn: None,
            execution_role_name: None,
        }
    }

    fn instance(account: &str, status: &str, overrides: &[(&str, &str)]) -> Instance {
        Instance {
            account: account.into(),
            region: "us-east-1".into(),
            status: status.into(),
            detailed_status: None,
            reason: None,
            organizational_unit_id: Some("ou-abcd-12345678".into()),
            drift_status: None,
            stack_id: None,
            overrides: overrides
                .iter()
                .map(|(k, v)| ((*k).into(), (*v).into()))
                .collect(),
        }
    }

    fn accounts(list: &[&str]) -> Vec<String> {
        list.iter().map(|a| (*a).to_owned()).collect()
    }

    fn p(k: &str, v: &str) -> (String, String) {
        (k.into(), v.into())
    }

    #[test]
    fn a_new_stack_set_is_created_with_an_instance_in_every_target() {
        let params = [p("AssumeRoleExternalId", "a")];
        let steps = steps(
            &spec(&params, BTreeMap::new()),
            None,
            &[],
            &accounts(&["1", "2"]),
        );
        assert_eq!(
            steps,
            [
                Step::CreateStackSet,
                Step::CreateInstances {
                    accounts: accounts(&["1", "2"])
                }
            ]
        );
    }

    #[test]
    fn a_deployed_stack_set_with_current_instances_needs_nothing() {
        let params = [p("AssumeRoleExternalId", "a")];
        let have = [instance("1", "CURRENT", &[]), instance("2", "CURRENT", &[])];
        let steps = steps(
            &spec(&params, BTreeMap::new()),
            Some(&live(&params)),
            &have,
            &accounts(&["1", "2"]),
        );
        assert_eq!(steps, []);
    }

    #[test]
    fn a_changed_parameter_updates_the_stack_set_and_nothing_else() {
        let old = [p("AssumeRoleExternalId", "a")];
        let new = [p("AssumeRoleExternalId", "b")];
        let have = [
            instance("1", "CURRENT", &[]),
            instance("2", "OUTDATED", &[]),
        ];
        let steps = steps(
            &spec(&new, BTreeMap::new()),
            Some(&live(&old)),
            &have,
            &accounts(&["1", "2"]),
        );
        assert_eq!(
            steps,
            [Step::UpdateStackSet {
                changed: vec!["parameter AssumeRoleExternalId: a -> b".into()]
            }]
        );
    }

    #[test]
    fn overrides_outdated_missing_and_extra_instances_each_get_their_call() {
        let params = [p("AssumeRoleExternalId", "a")];
        let overrides = BTreeMap::from([
            ("2".to_owned(), vec![p("AssumeRoleExternalId", "x")]),
            ("4".to_owned(), vec![p("AssumeRoleExternalId", "x")]),
        ]);
        let have = [
            instance("1", "OUTDATED", &[]),
            instance("2", "CURRENT", &[]),
            instance("9", "CURRENT", &[]),
        ];
        let steps = steps(
            &spec(&params, overrides),
            Some(&live(&params)),
            &have,
            &accounts(&["1", "2", "4"]),
        );
        assert_eq!(
            steps,
            [
                Step::CreateInstances {
                    accounts: accounts(&["4"])
                },
                Step::UpdateInstances {
                    accounts: accounts(&["1"]),
                    overrides: vec![]
                },
                Step::UpdateInstances {
                    accounts: accounts(&["2", "4"]),
                    overrides: vec![p("AssumeRoleExternalId", "x")]
                },
                Step::DeleteInstances {
                    accounts: accounts(&["9"]),
                    regions: accounts(&["us-east-1"])
                },
            ]
        );
    }
}
