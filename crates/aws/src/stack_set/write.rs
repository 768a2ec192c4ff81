//! The write side of a StackSet: the calls that carry out a plan ([`steps`], from
//! [`super::plan::plan`], changing nothing), and making them ([`StackSets::apply`]): CreateStackSet / UpdateStackSet (which reaches every instance),
//! CreateStackInstances for targets without one, UpdateStackInstances with ParameterOverrides
//! (one call per distinct set of overrides), DeleteStackInstances for targets no longer
//! declared; each operation watched until it ends. Also the whole teardown
//! ([`StackSets::destroy`]) and drift detection ([`StackSets::detect_drift`]).

use std::collections::{BTreeMap, BTreeSet};
use std::pin::Pin;

use aws_sdk_cloudformation::error::ProvideErrorMetadata;
use aws_sdk_cloudformation::types::{AccountFilterType, Capability, DeploymentTargets};

use super::{
    CallAs, Current, InstanceAction, InstancePlan, InstanceStatus, SetAction, StackSetPlan,
    StackSetSpec, StackSets, Targets,
};
use crate::error::{DeployError, aws_error};
use crate::in_flight::{Deadline, InFlight, SetOperation};
use crate::stack::Guard;
use crate::stack::{sdk_parameters, sdk_tags};
use crate::stack_set::watch::{OperationObserver, OperationOutcome};

/// One thing a deploy does, in the order it does them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// CreateStackSet (no instances yet).
    CreateStackSet,
    /// UpdateStackSet: its template, parameters or settings change; it reaches every instance.
    UpdateStackSet,
    /// CreateStackInstances for accounts without an instance in the regions (service-managed:
    /// the OUs are targeted, and these are the accounts known to be missing).
    CreateInstances { accounts: Vec<String> },
    /// UpdateStackInstances for these accounts with these ParameterOverrides (an outdated
    /// instance the StackSet's update does not reach, overrides that differ, or a new instance
    /// with overrides).
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

/// The calls that carry out `plan` (what [`super::plan::plan`] decided from `current`), in
/// order: the StackSet, then new instances, then the instances whose overrides differ or that
/// the StackSet's own update does not reach (one call per distinct set of overrides), then the
/// instances no longer targeted. Empty when the plan has no changes.
pub fn steps(plan: &StackSetPlan, current: &Current) -> Vec<Step> {
    let mut steps = Vec::new();
    match plan.action {
        SetAction::Create => steps.push(Step::CreateStackSet),
        SetAction::Update => steps.push(Step::UpdateStackSet),
        SetAction::NoChange => {}
    }
    let of = |action: InstanceAction| plan.instances.iter().filter(move |i| i.action == action);
    let created: BTreeSet<String> = of(InstanceAction::Create)
        .map(|i| i.account.clone())
        .collect();
    if !created.is_empty() {
        steps.push(Step::CreateInstances {
            accounts: created.iter().cloned().collect(),
        });
    }
    let none = BTreeMap::new();
    let mut groups: BTreeMap<Vec<(String, String)>, BTreeSet<String>> = BTreeMap::new();
    for i in of(InstanceAction::Create).filter(|i| !i.overrides.is_empty()) {
        groups
            .entry(i.overrides.clone())
            .or_default()
            .insert(i.account.clone());
    }
    for i in of(InstanceAction::Update) {
        let held = current.overrides.get(&i.account).unwrap_or(&none);
        let wanted: BTreeMap<String, String> = i.overrides.iter().cloned().collect();
        let outdated = current.instances.iter().any(|c| {
            c.account == i.account && c.region == i.region && c.status != InstanceStatus::Current
        });
        if *held != wanted || (outdated && plan.action != SetAction::Update) {
            groups
                .entry(i.overrides.clone())
                .or_default()
                .insert(i.account.clone());
        }
    }
    for (overrides, accounts) in groups {
        steps.push(Step::UpdateInstances {
            accounts: accounts.into_iter().collect(),
            overrides,
        });
    }
    let removed: Vec<&InstancePlan> = of(InstanceAction::Remove).collect();
    if !removed.is_empty() {
        let set = |f: fn(&InstancePlan) -> &String| -> Vec<String> {
            removed
                .iter()
                .map(|i| f(i).clone())
                .collect::<BTreeSet<_>>()
                .into_iter()
                .collect()
        };
        steps.push(Step::DeleteInstances {
            accounts: set(|i| &i.account),
            regions: set(|i| &i.region),
        });
    }
    steps
}

/// What [`StackSets::apply`] or [`StackSets::destroy`] did: the StackSet's ID, and each
/// operation with how it ended.
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

/// The request that starts an operation, made when awaited: its operation's ID.
type Started<'a> = Pin<Box<dyn Future<Output = Result<String, DeployError>> + Send + 'a>>;

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

/// The targets of an operation on `accounts`: the accounts themselves (self-managed), or the
/// StackSet's OUs narrowed to them (service-managed, `AccountFilterType` INTERSECTION); `None`:
/// every target of the spec.
fn targets_of(spec: &StackSetSpec, accounts: Option<&[String]>) -> DeploymentTargets {
    match (&spec.targets, accounts) {
        (targets, None) => targets.deployment_targets(),
        (Targets::Accounts(_), Some(accounts)) => DeploymentTargets::builder()
            .set_accounts(Some(accounts.to_vec()))
            .build(),
        (Targets::OrganizationalUnits(ous), Some(accounts)) => DeploymentTargets::builder()
            .set_organizational_unit_ids(Some(ous.clone()))
            .set_accounts(Some(accounts.to_vec()))
            .account_filter_type(AccountFilterType::Intersection)
            .build(),
    }
}

impl StackSets {
    /// Runs `steps` in order, each operation watched until it ends and recorded in the guard's
    /// tracker meanwhile (from before its request: an interruption stops it). Stops after an
    /// operation that did not succeed (the ones after it would act on a StackSet in an unknown
    /// state).
    pub async fn apply(
        &self,
        spec: &StackSetSpec,
        steps: &[Step],
        guard: &Guard<'_>,
        obs: &mut dyn OperationObserver,
    ) -> Result<SetDeploy, DeployError> {
        let deadline = &guard.deadline;
        let mut done = SetDeploy::default();
        for step in steps {
            let id = operation_id();
            let started: Started<'_> = match step {
                Step::CreateStackSet => {
                    obs.step(&format!("creating StackSet `{}`", spec.name));
                    done.stack_set_id = self.create_stack_set(spec, deadline).await?;
                    continue;
                }
                Step::UpdateStackSet => {
                    obs.step(&format!(
                        "updating StackSet `{}` and every instance",
                        spec.name
                    ));
                    Box::pin(self.update_stack_set(spec, &id, deadline))
                }
                Step::CreateInstances { accounts } => {
                    obs.step(&format!(
                        "creating instances in {} account(s), region(s) {}",
                        accounts.len(),
                        spec.regions.join(", ")
                    ));
                    Box::pin(self.create_instances(spec, accounts, &id, deadline))
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
                    Box::pin(self.update_instances(spec, accounts, overrides, &id, deadline))
                }
                Step::DeleteInstances { accounts, regions } => {
                    obs.step(&format!(
                        "deleting the instances of {} account(s) no longer targeted",
                        accounts.len()
                    ));
                    Box::pin(self.delete_instances(spec, Some(accounts), regions, &id, deadline))
                }
            };
            let outcome = self.watched(spec, &id, started, guard, obs).await?;
            let ok = outcome.succeeded();
            done.operations.push(outcome);
            if !ok {
                break;
            }
        }
        if done.stack_set_id.is_empty() {
            done.stack_set_id = self
                .describe(&spec.name, spec.call_as)
                .await?
                .map(|s| s.id)
                .unwrap_or_default();
        }
        Ok(done)
    }

    /// Makes the request `started` of operation `id` and waits until the operation ends; the
    /// guard's tracker holds it meanwhile, from before the request.
    async fn watched(
        &self,
        spec: &StackSetSpec,
        id: &str,
        started: Started<'_>,
        guard: &Guard<'_>,
        obs: &mut dyn OperationObserver,
    ) -> Result<OperationOutcome, DeployError> {
        let tracked = |operation_id: &str| {
            InFlight::StackSetOperation(SetOperation {
                stack_set: spec.name.clone(),
                operation_id: operation_id.to_owned(),
                call_as: spec.call_as,
            })
        };
        guard.tracker.set(tracked(id));
        let outcome = async {
            let operation = started.await?;
            guard.tracker.set(tracked(&operation));
            self.wait(&spec.name, spec.call_as, &operation, &guard.deadline, obs)
                .await
        }
        .await;
        guard.tracker.set(InFlight::Nothing);
        outcome
    }

    async fn create_stack_set(
        &self,
        spec: &StackSetSpec,
        deadline: &Deadline,
    ) -> Result<String, DeployError> {
        let request = self
            .cfn
            .create_stack_set()
            .stack_set_name(&spec.name)
            .template_body(&spec.template_body)
            .set_parameters(Some(sdk_parameters(&spec.parameters)))
            .set_tags(Some(sdk_tags(&spec.tags)))
            .capabilities(Capability::CapabilityNamedIam)
            .permission_model(spec.permission_model.sdk())
            .set_auto_deployment(spec.auto_deployment.map(|a| a.sdk()))
            .set_administration_role_arn(spec.administration_role_arn.clone())
            .set_execution_role_name(spec.execution_role_name.clone())
            .call_as(spec.call_as.sdk())
            .client_request_token(operation_id())
            .send();
        let out = bound(deadline, "CreateStackSet", request)
            .await?
            .map_err(|e| aws_error("CreateStackSet", e))?;
        Ok(out.stack_set_id().unwrap_or_default().to_owned())
    }

    async fn update_stack_set(
        &self,
        spec: &StackSetSpec,
        id: &str,
        deadline: &Deadline,
    ) -> Result<String, DeployError> {
        let request = self
            .cfn
            .update_stack_set()
            .stack_set_name(&spec.name)
            .template_body(&spec.template_body)
            .set_parameters(Some(sdk_parameters(&spec.parameters)))
            .set_tags(Some(sdk_tags(&spec.tags)))
            .capabilities(Capability::CapabilityNamedIam)
            .permission_model(spec.permission_model.sdk())
            .set_auto_deployment(spec.auto_deployment.map(|a| a.sdk()))
            .set_administration_role_arn(spec.administration_role_arn.clone())
            .set_execution_role_name(spec.execution_role_name.clone())
            .operation_preferences(spec.preferences.sdk())
            .set_regions(Some(spec.regions.clone()))
            .deployment_targets(targets_of(spec, None))
            .call_as(spec.call_as.sdk())
            .operation_id(id)
            .send();
        let out = bound(deadline, "UpdateStackSet", request)
            .await?
            .map_err(|e| aws_error("UpdateStackSet", e))?;
        Ok(out.operation_id().unwrap_or(id).to_owned())
    }

    async fn create_instances(
        &self,
        spec: &StackSetSpec,
        accounts: &[String],
        id: &str,
        deadline: &Deadline,
    ) -> Result<String, DeployError> {
        // Service-managed: the OUs (CloudFormation adds every account under them that lacks an
        // instance); self-managed: the accounts.
        let targets = match &spec.targets {
            Targets::OrganizationalUnits(_) => targets_of(spec, None),
            Targets::Accounts(_) => targets_of(spec, Some(accounts)),
        };
        let request = self
            .cfn
            .create_stack_instances()
            .stack_set_name(&spec.name)
            .deployment_targets(targets)
            .set_regions(Some(spec.regions.clone()))
            .operation_preferences(spec.preferences.sdk())
            .call_as(spec.call_as.sdk())
            .operation_id(id)
            .send();
        let out = bound(deadline, "CreateStackInstances", request)
            .await?
            .map_err(|e| aws_error("CreateStackInstances", e))?;
        Ok(out.operation_id().unwrap_or(id).to_owned())
    }

    async fn update_instances(
        &self,
        spec: &StackSetSpec,
        accounts: &[String],
        overrides: &[(String, String)],
        id: &str,
        deadline: &Deadline,
    ) -> Result<String, DeployError> {
        let request = self
            .cfn
            .update_stack_instances()
            .stack_set_name(&spec.name)
            .deployment_targets(targets_of(spec, Some(accounts)))
            .set_regions(Some(spec.regions.clone()))
            // Always sent, even empty: an override left out goes back to the StackSet's value.
            .set_parameter_overrides(Some(sdk_parameters(overrides)))
            .operation_preferences(spec.preferences.sdk())
            .call_as(spec.call_as.sdk())
            .operation_id(id)
            .send();
        let out = bound(deadline, "UpdateStackInstances", request)
            .await?
            .map_err(|e| aws_error("UpdateStackInstances", e))?;
        Ok(out.operation_id().unwrap_or(id).to_owned())
    }

    /// DeleteStackInstances of `accounts` (`None`: every target of `spec`) in `regions`.
    async fn delete_instances(
        &self,
        spec: &StackSetSpec,
        accounts: Option<&[String]>,
        regions: &[String],
        id: &str,
        deadline: &Deadline,
    ) -> Result<String, DeployError> {
        let request = self
            .cfn
            .delete_stack_instances()
            .stack_set_name(&spec.name)
            .deployment_targets(targets_of(spec, accounts))
            .set_regions(Some(regions.to_vec()))
            .retain_stacks(false)
            .operation_preferences(spec.preferences.sdk())
            .call_as(spec.call_as.sdk())
            .operation_id(id)
            .send();
        let out = bound(deadline, "DeleteStackInstances", request)
            .await?
            .map_err(|e| aws_error("DeleteStackInstances", e))?;
        Ok(out.operation_id().unwrap_or(id).to_owned())
    }

    /// Deletes every instance of the StackSet (through the spec's OUs and those its instances
    /// were made for, or the accounts the instances are in, in every region they are in), waits,
    /// then deletes the StackSet. `None` when there was no StackSet. The StackSet is deleted
    /// only when every instance was ([`SetDeploy::succeeded`]). The deletion of the instances
    /// is recorded in the guard's tracker while it runs, as [`StackSets::apply`] records each
    /// operation.
    pub async fn destroy(
        &self,
        spec: &StackSetSpec,
        guard: &Guard<'_>,
        obs: &mut dyn OperationObserver,
    ) -> Result<Option<SetDeploy>, DeployError> {
        let deadline = &guard.deadline;
        let Some(live) = self.describe(&spec.name, spec.call_as).await? else {
            return Ok(None);
        };
        self.settled(&spec.name, spec.call_as, deadline, obs)
            .await?;
        let instances = self.instances(&spec.name, spec.call_as).await?;
        let mut done = SetDeploy {
            stack_set_id: live.id,
            operations: Vec::new(),
        };
        if !instances.is_empty() {
            let accounts: BTreeSet<String> = instances.iter().map(|i| i.account.clone()).collect();
            let regions: BTreeSet<String> = instances.iter().map(|i| i.region.clone()).collect();
            let mut spec = spec.clone();
            spec.targets = match spec.targets {
                Targets::OrganizationalUnits(mut ous) => {
                    for ou in instances
                        .iter()
                        .filter_map(|i| i.organizational_unit.as_ref())
                    {
                        if !ous.contains(ou) {
                            ous.push(ou.clone());
                        }
                    }
                    Targets::OrganizationalUnits(ous)
                }
                Targets::Accounts(_) => Targets::Accounts(accounts.iter().cloned().collect()),
            };
            obs.step(&format!(
                "deleting {} instance(s) in {} account(s)",
                instances.len(),
                accounts.len()
            ));
            let regions: Vec<String> = regions.into_iter().collect();
            let id = operation_id();
            let started = Box::pin(self.delete_instances(&spec, None, &regions, &id, deadline));
            let outcome = self.watched(&spec, &id, started, guard, obs).await?;
            done.operations.push(outcome);
            if !done.succeeded() {
                return Ok(Some(done));
            }
        }
        obs.step(&format!("deleting StackSet `{}`", spec.name));
        let request = self
            .cfn
            .delete_stack_set()
            .stack_set_name(&spec.name)
            .call_as(spec.call_as.sdk())
            .send();
        bound(deadline, "DeleteStackSet", request)
            .await?
            .map_err(|e| aws_error("DeleteStackSet", e))?;
        Ok(Some(done))
    }

    /// Runs drift detection on every instance (`DetectStackSetDrift`) and waits for it; each
    /// instance's drift status is then in [`StackSets::instances`].
    pub async fn detect_drift(
        &self,
        name: &str,
        call_as: CallAs,
        deadline: &Deadline,
        obs: &mut dyn OperationObserver,
    ) -> Result<OperationOutcome, DeployError> {
        let id = operation_id();
        let request = self
            .cfn
            .detect_stack_set_drift()
            .stack_set_name(name)
            .call_as(call_as.sdk())
            .operation_id(&id)
            .send();
        let out = bound(deadline, "DetectStackSetDrift", request)
            .await?
            .map_err(|e| aws_error("DetectStackSetDrift", e))?;
        let operation = out.operation_id().map_or(id, str::to_owned);
        self.wait(name, call_as, &operation, deadline, obs).await
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
    use crate::stack_set::{AutoDeployment, Instance, PermissionModel, Preferences, StackSetInfo};

    fn spec(
        params: &[(String, String)],
        overrides: BTreeMap<String, Vec<(String, String)>>,
    ) -> StackSetSpec {
        StackSetSpec {
            name: "roles".into(),
            template_body: "body".into(),
            parameters: params.to_vec(),
            overrides,
            targets: Targets::OrganizationalUnits(vec!["ou-abcd-12345678".into()]),
            regions: vec!["us-east-1".into()],
            permission_model: PermissionModel::ServiceManaged,
            call_as: CallAs::Itself,
            auto_deployment: Some(AutoDeployment {
                enabled: true,
                retain_stacks_on_account_removal: false,
            }),
            administration_role_arn: None,
            execution_role_name: None,
            preferences: Preferences::default(),
            tags: Vec::new(),
        }
    }

    fn live(params: &[(String, String)]) -> StackSetInfo {
        StackSetInfo {
            name: "roles".into(),
            id: "roles:1".into(),
            arn: None,
            status: "ACTIVE".into(),
            template_body: "body".into(),
            parameters: params.iter().cloned().collect(),
            permission_model: Some(PermissionModel::ServiceManaged),
            auto_deployment: Some(AutoDeployment {
                enabled: true,
                retain_stacks_on_account_removal: false,
            }),
            organizational_unit_ids: vec!["ou-abcd-12345678".into()],
            administration_role_arn: None,
            execution_role_name: None,
            capabilities: vec!["CAPABILITY_NAMED_IAM".into()],
            tags: BTreeMap::new(),
        }
    }

    fn instance(account: &str, status: InstanceStatus) -> Instance {
        Instance {
            account: account.into(),
            region: "us-east-1".into(),
            organizational_unit: Some("ou-abcd-12345678".into()),
            status,
            detailed_status: None,
            reason: None,
            drift: None,
            stack_id: None,
        }
    }

    fn accounts(list: &[&str]) -> Vec<String> {
        list.iter().map(|a| (*a).to_owned()).collect()
    }

    fn p(k: &str, v: &str) -> (String, String) {
        (k.into(), v.into())
    }

    /// The steps of the plan of `spec` against `current`.
    fn steps_of(spec: &StackSetSpec, current: &Current) -> Vec<Step> {
        steps(&crate::stack_set::plan::plan(spec, current), current)
    }

    fn current(
        live: Option<StackSetInfo>,
        instances: Vec<Instance>,
        overrides: &[(&str, (String, String))],
        targets: &[&str],
    ) -> Current {
        Current {
            stack_set: live,
            instances,
            overrides: overrides
                .iter()
                .map(|(a, kv)| ((*a).to_owned(), BTreeMap::from([kv.clone()])))
                .collect(),
            target_accounts: accounts(targets),
            management_account: None,
        }
    }

    #[test]
    fn a_new_stack_set_is_created_with_an_instance_in_every_target() {
        let params = [p("AssumeRoleExternalId", "a")];
        let now = current(None, vec![], &[], &["1", "2"]);
        assert_eq!(
            steps_of(&spec(&params, BTreeMap::new()), &now),
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
        let have = vec![
            instance("1", InstanceStatus::Current),
            instance("2", InstanceStatus::Current),
        ];
        let now = current(Some(live(&params)), have, &[], &["1", "2"]);
        assert_eq!(steps_of(&spec(&params, BTreeMap::new()), &now), []);
    }

    #[test]
    fn a_changed_parameter_updates_the_stack_set_which_reaches_outdated_instances_too() {
        let old = [p("AssumeRoleExternalId", "a")];
        let new = [p("AssumeRoleExternalId", "b")];
        let have = vec![
            instance("1", InstanceStatus::Current),
            instance("2", InstanceStatus::Outdated),
        ];
        let now = current(Some(live(&old)), have, &[], &["1", "2"]);
        assert_eq!(
            steps_of(&spec(&new, BTreeMap::new()), &now),
            [Step::UpdateStackSet]
        );
    }

    #[test]
    fn overrides_outdated_missing_and_extra_instances_each_get_their_call() {
        let params = [p("AssumeRoleExternalId", "a")];
        let wanted = BTreeMap::from([
            ("2".to_owned(), vec![p("AssumeRoleExternalId", "x")]),
            ("4".to_owned(), vec![p("AssumeRoleExternalId", "x")]),
        ]);
        let have = vec![
            instance("1", InstanceStatus::Outdated),
            instance("2", InstanceStatus::Current),
            instance("3", InstanceStatus::Current),
            instance("9", InstanceStatus::Current),
        ];
        // 3 holds an override the descriptor no longer declares.
        let now = current(
            Some(live(&params)),
            have,
            &[("3", p("AssumeRoleExternalId", "y"))],
            &["1", "2", "3", "4"],
        );
        assert_eq!(
            steps_of(&spec(&params, wanted), &now),
            [
                Step::CreateInstances {
                    accounts: accounts(&["4"])
                },
                Step::UpdateInstances {
                    accounts: accounts(&["1", "3"]),
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
