//! Deploy = plan, then apply that plan: [`Stacks::plan`] finds what a deploy would change
//! (parameters, tags, service role, and the change set's resource changes) and returns it as a
//! value; [`Stacks::apply`] executes the change set that value holds, [`Stacks::discard`]
//! deletes it. `deploy` shows and confirms the very plan it then applies, and `plan` shows the
//! same value and discards it, so the preview and the command cannot disagree.

use std::collections::BTreeMap;

use aws_sdk_cloudformation::types::{ChangeSetType, StackStatus};

use crate::error::DeployError;
use crate::in_flight::{InFlight, Running, is_failed};
use crate::model::{ChangeSetRef, Outcome, Plan, PlanAction, StackInfo, StackSpec, ValueChange};
use crate::stack::{Guard, Observer, Op, Stacks};

/// The entries of `new` that differ from `old`, old → new, by key.
pub(crate) fn value_changes(
    old: &BTreeMap<String, String>,
    new: &BTreeMap<String, String>,
) -> Vec<ValueChange> {
    let keys: std::collections::BTreeSet<&String> = old.keys().chain(new.keys()).collect();
    keys.into_iter()
        .filter(|k| old.get(*k) != new.get(*k))
        .map(|k| ValueChange {
            key: k.clone(),
            old: old.get(k).cloned(),
            new: new.get(k).cloned(),
        })
        .collect()
}

impl StackSpec<'_> {
    fn parameter_map(&self) -> BTreeMap<String, String> {
        self.parameters.iter().cloned().collect()
    }

    fn tag_map(&self) -> BTreeMap<String, String> {
        self.tags.iter().cloned().collect()
    }

    /// The service role change against `current`: a stack keeps its role when the spec names
    /// none (CloudFormation cannot remove one), so only a named, different role is a change.
    fn role_change(&self, current: Option<&StackInfo>) -> Option<ValueChange> {
        let new = self.role_arn?;
        let old = current.and_then(|s| s.role_arn.as_deref());
        (old != Some(new)).then(|| ValueChange {
            key: "RoleARN".into(),
            old: old.map(str::to_owned),
            new: Some(new.to_owned()),
        })
    }

    /// What differs from `current` besides the template.
    fn differences(&self, current: Option<&StackInfo>) -> Differences {
        let empty = BTreeMap::new();
        Differences {
            parameters: value_changes(
                current.map_or(&empty, |s| &s.parameters),
                &self.parameter_map(),
            ),
            tags: value_changes(current.map_or(&empty, |s| &s.tags), &self.tag_map()),
            role_arn: self.role_change(current),
        }
    }
}

struct Differences {
    parameters: Vec<ValueChange>,
    tags: Vec<ValueChange>,
    role_arn: Option<ValueChange>,
}

impl Differences {
    fn is_empty(&self) -> bool {
        self.parameters.is_empty() && self.tags.is_empty() && self.role_arn.is_none()
    }
}

impl Stacks {
    /// Finds what deploying `spec` would change, waiting first for a stack operation in
    /// progress. Creates a change set unless nothing changes (DescribeStacks + GetTemplate) or
    /// the stack must be replaced; the plan holds it until [`Stacks::apply`] or
    /// [`Stacks::discard`], and `guard.tracker` knows it meanwhile, so an interruption
    /// deletes it.
    pub async fn plan(
        &self,
        spec: &StackSpec<'_>,
        guard: Guard<'_>,
        obs: &mut dyn Observer,
    ) -> Result<Plan, DeployError> {
        let mut op = Op::new(self, guard, obs);
        let current = op.settled(spec.name).await?;
        op.plan(spec, current, true).await
    }

    /// What `plan` shows: plans `spec` as [`Stacks::plan`] does, or, when `read_only` (a role
    /// that may only read), without a change set (DescribeStacks, GetTemplate;
    /// DescribeStackEvents while an operation in progress is waited for): parameters, tags and
    /// service role compared with the stack's, and the template with the deployed one, here,
    /// no resource changes ([`ReadOnlyPlan::template_differs`] says whether the template
    /// changes). When CreateChangeSet is denied, plans with reads only too, saying so in
    /// [`ReadOnlyPlan::fallback`].
    ///
    /// Meanwhile runs `beside` on the settled stack, when the plan is one of a stack this spec
    /// changes in place (the stack of a [`PlanAction::NoChange`] or [`PlanAction::Update`]
    /// plan; not for one to create or replace, nor another's): reads that need the stack but
    /// not the plan go out together with the plan's own instead of after them.
    pub async fn plan_beside<T, Fut>(
        &self,
        spec: &StackSpec<'_>,
        read_only: bool,
        guard: Guard<'_>,
        obs: &mut dyn Observer,
        beside: impl FnOnce(StackInfo) -> Fut,
    ) -> Result<(PlanMade, Option<T>), DeployError>
    where
        Fut: Future<Output = T>,
    {
        let mut op = Op::new(self, guard, obs);
        let current = op.settled(spec.name).await?;
        let in_place = current.clone().filter(|s| {
            spec.owner.recognises(s)
                && matches!(settled(spec, Some(s), true), Ok(Settled::Existing(_)))
        });
        let side = async move {
            match in_place {
                Some(stack) => Some(beside(stack).await),
                None => None,
            }
        };
        let plan = async {
            if read_only {
                op.plan_read_only(spec, current)
                    .await
                    .map(PlanMade::ReadOnly)
            } else {
                op.plan_or_read_only(spec, current).await
            }
        };
        let (plan, side) = tokio::join!(plan, side);
        Ok((plan?, side))
    }

    /// Executes the plan's change set and watches the stack until it settles. A
    /// [`PlanAction::NoChange`] plan returns the stack as it is; a [`PlanAction::Replace`]
    /// plan is refused ([`DeployError::NeedsReplace`]): [`Stacks::deploy`] replaces.
    pub async fn apply(
        &self,
        plan: Plan,
        guard: Guard<'_>,
        obs: &mut dyn Observer,
    ) -> Result<Outcome, DeployError> {
        Op::new(self, guard, obs).apply(plan).await
    }

    /// Deletes the plan's change set (and the empty stack it created), executing nothing.
    pub async fn discard(
        &self,
        plan: &Plan,
        guard: Guard<'_>,
        obs: &mut dyn Observer,
    ) -> Result<(), DeployError> {
        Op::new(self, guard, obs).discard(plan).await
    }

    /// Plans, shows the plan and asks ([`Observer::confirm`]), then applies it. A stack whose
    /// creation failed is deleted and planned anew when `replace_failed`, else refused.
    pub async fn deploy(
        &self,
        spec: &StackSpec<'_>,
        replace_failed: bool,
        guard: Guard<'_>,
        obs: &mut dyn Observer,
    ) -> Result<Outcome, DeployError> {
        let mut op = Op::new(self, guard, obs);
        let current = op.settled(spec.name).await?;
        if let Some(stack) = &current {
            op.delete_leftover_change_sets(&stack.stack_id).await?;
        }
        let mut plan = op.plan(spec, current, true).await?;
        if let (PlanAction::Replace { status }, Some(failed)) = (&plan.action, &plan.current) {
            if !replace_failed {
                return Err(DeployError::NeedsReplace {
                    stack: spec.name.into(),
                    status: status.clone(),
                });
            }
            op.obs.step(&format!(
                "deleting stack `{}` ({status}) to replace it",
                spec.name
            ));
            op.delete_and_wait(spec.name, &failed.stack_id).await?;
            // The record named the failed stack: replacing it is what was asked for.
            plan = op.plan(spec, None, false).await?;
        }
        if !plan.has_changes() {
            return op.apply(plan).await;
        }
        if !op.obs.confirm(&plan).await {
            op.discard(&plan).await?;
            return Err(DeployError::Declined {
                stack: spec.name.into(),
            });
        }
        op.apply(plan).await
    }
}

/// A plan made without a change set ([`Stacks::plan_beside`]).
#[derive(Debug, Clone)]
pub struct ReadOnlyPlan {
    /// The plan: action, parameters, tags and service role old → new; no change set, and no
    /// resource changes (only a change set knows them).
    pub plan: Plan,
    /// Whether the template differs from the deployed one (always for a stack to create).
    pub template_differs: bool,
    /// Why a change set was not used when one was asked for ([`Stacks::plan_beside`]).
    pub fallback: Option<String>,
}

/// A plan with a change set, or, when that was denied, one made with reads only.
#[derive(Debug, Clone)]
pub enum PlanMade {
    WithChangeSet(Plan),
    ReadOnly(ReadOnlyPlan),
}

/// Whether an error code is AWS's refusal of an action to the caller.
fn is_denial(code: &str) -> bool {
    matches!(
        code,
        "AccessDenied" | "AccessDeniedException" | "UnauthorizedOperation"
    )
}

/// What a settled stack means for a plan, before its template is compared.
enum Settled<'s> {
    /// No stack, or the empty REVIEW_IN_PROGRESS one a discarded plan of a new stack leaves.
    Create,
    /// A failed creation (ROLLBACK_COMPLETE, ROLLBACK_FAILED): it can only be replaced.
    Replace(StackStatus),
    /// A stack to update, or to leave as it is.
    Existing(&'s StackInfo),
}

/// Reads the settled stack `current` for `spec`: a stack `[outputs]` records that is gone (when
/// `check_record`) and a stack stuck in a failed state are errors.
fn settled<'s>(
    spec: &StackSpec<'_>,
    current: Option<&'s StackInfo>,
    check_record: bool,
) -> Result<Settled<'s>, DeployError> {
    match current {
        None => match (spec.recorded_stack_id, check_record) {
            (Some(id), true) => Err(DeployError::RecordedStackGone {
                stack: spec.name.into(),
                stack_id: id.into(),
            }),
            _ => Ok(Settled::Create),
        },
        Some(s) if s.status == StackStatus::ReviewInProgress => Ok(Settled::Create),
        Some(s)
            if matches!(
                s.status,
                StackStatus::RollbackComplete | StackStatus::RollbackFailed
            ) =>
        {
            Ok(Settled::Replace(s.status.clone()))
        }
        Some(s) if is_failed(&s.status) => Err(DeployError::Stuck {
            stack: spec.name.into(),
            status: s.status.clone(),
            hint: "see its events in the CloudFormation console; an UPDATE_ROLLBACK_FAILED stack needs `aws cloudformation continue-update-rollback`",
        }),
        Some(s) => Ok(Settled::Existing(s)),
    }
}

impl Op<'_, '_> {
    /// Plans `spec` against the settled `current` stack with a change set, or with reads only
    /// when CreateChangeSet is denied.
    async fn plan_or_read_only(
        &mut self,
        spec: &StackSpec<'_>,
        current: Option<StackInfo>,
    ) -> Result<PlanMade, DeployError> {
        match self.plan(spec, current.clone(), true).await {
            Err(DeployError::Aws {
                action: "CreateChangeSet",
                code: Some(code),
                message,
            }) if is_denial(&code) => {
                // Nothing was created: there is nothing for an interruption to undo.
                self.guard.tracker.set(InFlight::Nothing);
                let mut read = self.plan_read_only(spec, current).await?;
                read.fallback = Some(format!(
                    "CreateChangeSet was denied ({code}: {message}), so the plan was made with reads only"
                ));
                Ok(PlanMade::ReadOnly(read))
            }
            other => other.map(PlanMade::WithChangeSet),
        }
    }

    /// Plans `spec` against the settled `current` stack with reads only.
    async fn plan_read_only(
        &mut self,
        spec: &StackSpec<'_>,
        current: Option<StackInfo>,
    ) -> Result<ReadOnlyPlan, DeployError> {
        if let Some(s) = &current {
            spec.owner.check(spec.name, s)?;
        }
        let differences = spec.differences(current.as_ref());
        let (action, template_differs) = match settled(spec, current.as_ref(), true)? {
            Settled::Create => (PlanAction::Create, true),
            Settled::Replace(status) => (PlanAction::Replace { status }, true),
            Settled::Existing(s) => {
                let differs = !self.same_template(spec, s).await?;
                if differs || !differences.is_empty() {
                    (PlanAction::Update, differs)
                } else {
                    (PlanAction::NoChange, false)
                }
            }
        };
        Ok(ReadOnlyPlan {
            plan: Plan::without_change_set(spec, action, current, differences),
            template_differs,
            fallback: None,
        })
    }

    /// Plans `spec` against the settled `current` stack. `check_record`: refuse when the
    /// stack recorded in `[outputs]` is gone.
    async fn plan(
        &mut self,
        spec: &StackSpec<'_>,
        current: Option<StackInfo>,
        check_record: bool,
    ) -> Result<Plan, DeployError> {
        if let Some(s) = &current {
            spec.owner.check(spec.name, s)?;
        }
        let differences = spec.differences(current.as_ref());
        let kind = match settled(spec, current.as_ref(), check_record)? {
            Settled::Create => ChangeSetType::Create,
            Settled::Replace(status) => {
                return Ok(Plan::without_change_set(
                    spec,
                    PlanAction::Replace { status },
                    current,
                    differences,
                ));
            }
            Settled::Existing(s) => {
                if differences.is_empty() && self.same_template(spec, s).await? {
                    return Ok(Plan::without_change_set(
                        spec,
                        PlanAction::NoChange,
                        current,
                        differences,
                    ));
                }
                ChangeSetType::Update
            }
        };
        let creating = kind == ChangeSetType::Create;
        // Only a stack this run makes from nothing is deleted again when the plan is discarded.
        let created_stack = creating
            && current
                .as_ref()
                .is_none_or(|s| s.status != StackStatus::ReviewInProgress);
        let Some(change_set) = self
            .create_change_set(spec, kind, current.as_ref(), created_stack)
            .await?
        else {
            self.guard.tracker.set(InFlight::Nothing);
            // Only an UPDATE change set can be empty, so the stack exists.
            return match current {
                Some(_) => Ok(Plan::without_change_set(
                    spec,
                    PlanAction::NoChange,
                    current,
                    differences,
                )),
                None => Err(DeployError::ChangeSetFailed {
                    stack: spec.name.into(),
                    reason: "an empty change set for a new stack".into(),
                }),
            };
        };
        Ok(Plan {
            stack: spec.name.into(),
            action: if creating {
                PlanAction::Create
            } else {
                PlanAction::Update
            },
            current,
            parameters: differences.parameters,
            tags: differences.tags,
            role_arn: differences.role_arn,
            changes: change_set.changes,
            change_set: Some(ChangeSetRef {
                id: change_set.id,
                stack_id: change_set.stack_id,
                created_stack,
            }),
        })
    }

    async fn apply(&mut self, plan: Plan) -> Result<Outcome, DeployError> {
        let (cs, creating) = match (&plan.action, plan.change_set) {
            (PlanAction::NoChange, _) | (_, None) => {
                let current = plan.current.ok_or_else(|| DeployError::ChangeSetFailed {
                    stack: plan.stack.clone(),
                    reason: "a plan without a change set and without a stack".into(),
                })?;
                return Ok(Outcome::Unchanged(current));
            }
            (PlanAction::Replace { status }, _) => {
                return Err(DeployError::NeedsReplace {
                    stack: plan.stack,
                    status: status.clone(),
                });
            }
            (PlanAction::Create, Some(cs)) => (cs, true),
            (PlanAction::Update, Some(cs)) => (cs, false),
        };
        let seen = self.event_ids(&cs.stack_id).await?;
        self.execute(&cs).await?;
        let status = if creating {
            StackStatus::CreateInProgress
        } else {
            StackStatus::UpdateInProgress
        };
        self.guard.tracker.set(InFlight::Operation(Running {
            stack: plan.stack.clone(),
            stack_id: cs.stack_id.clone(),
            status: Some(status),
        }));
        self.obs.step(if creating {
            "creating stack"
        } else {
            "updating stack"
        });
        let settled = self.watch(&plan.stack, &cs.stack_id, seen).await?;
        self.guard.tracker.set(InFlight::Nothing);
        match settled.stack {
            Some(info) if info.status == StackStatus::CreateComplete => Ok(Outcome::Created(info)),
            Some(info) if info.status == StackStatus::UpdateComplete => Ok(Outcome::Updated(info)),
            other => Err(DeployError::Failed {
                stack: plan.stack,
                status: other.map_or(StackStatus::DeleteComplete, |s| s.status),
                failures: settled.failures,
            }),
        }
    }

    async fn discard(&mut self, plan: &Plan) -> Result<(), DeployError> {
        if let Some(cs) = &plan.change_set {
            self.discard_change_set(&cs.id, &cs.stack_id, cs.created_stack)
                .await?;
        }
        self.guard.tracker.set(InFlight::Nothing);
        Ok(())
    }
}

impl Plan {
    fn without_change_set(
        spec: &StackSpec<'_>,
        action: PlanAction,
        current: Option<StackInfo>,
        differences: Differences,
    ) -> Self {
        Plan {
            stack: spec.name.into(),
            action,
            current,
            parameters: differences.parameters,
            tags: differences.tags,
            role_arn: differences.role_arn,
            changes: Vec::new(),
            change_set: None,
        }
    }
}

#[cfg(test)]
mod tests;
