//! Stack lifecycle: plan, change set, execute, watch, describe, delete.

use std::collections::{BTreeMap, HashSet};
use std::time::Duration;

use aws_sdk_cloudformation::types::{
    Capability, ChangeSetStatus, ChangeSetType, Parameter, Stack, StackEvent, TemplateStage,
};

use aws_sdk_cloudformation::primitives::DateTimeFormat;

use crate::client::Clients;
use crate::error::{DeployError, aws_error};

/// The stack to deploy: its template and the complete set of parameter values (defaults
/// included), in the form CloudFormation reports them.
#[derive(Debug, Clone)]
pub struct StackSpec<'a> {
    pub name: &'a str,
    pub template_body: &'a str,
    pub parameters: &'a [(String, String)],
    /// The stack ID the last deploy recorded. When it is set and no stack has the name any
    /// more, the deploy is refused ([`DeployError::RecordedStackGone`]) instead of creating a
    /// new stack over the record; `None` lets it create one.
    pub recorded_stack_id: Option<&'a str>,
}

/// A deployed stack as `DescribeStacks` reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StackInfo {
    pub stack_id: String,
    pub status: String,
    pub status_reason: Option<String>,
    /// RFC 3339 time of the last update, or of the creation when never updated.
    pub updated_at: Option<String>,
    pub outputs: BTreeMap<String, String>,
    pub parameters: BTreeMap<String, String>,
}

/// One planned change of a change set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    /// `Add`, `Modify`, `Remove`, ...
    pub action: String,
    pub logical_id: String,
    pub resource_type: String,
    /// `True`, `False` or `Conditional` for modifications.
    pub replacement: Option<String>,
}

/// One stack event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    pub id: String,
    pub timestamp: Option<String>,
    pub logical_id: String,
    pub resource_type: String,
    pub status: String,
    pub reason: Option<String>,
}

/// What a deploy did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Unchanged(StackInfo),
    Created(StackInfo),
    Updated(StackInfo),
}

impl Outcome {
    pub fn stack(&self) -> &StackInfo {
        match self {
            Outcome::Unchanged(s) | Outcome::Created(s) | Outcome::Updated(s) => s,
        }
    }
}

/// Shows progress and answers the confirmation; implemented by the command line.
pub trait Observer {
    /// A step of the deploy started (e.g. "creating change set").
    fn step(&mut self, what: &str);
    /// The change set is ready; return whether to execute it.
    fn confirm(&mut self, stack: &str, changes: &[Change]) -> bool;
    /// A new stack event, in the order they happened.
    fn event(&mut self, event: &Event);
}

const NOT_FOUND: &str = "does not exist";

fn is_in_progress(status: &str) -> bool {
    status.ends_with("_IN_PROGRESS")
}

impl Clients {
    /// `DescribeStacks`: `None` when the stack does not exist (or was deleted).
    pub async fn describe_stack(&self, name: &str) -> Result<Option<StackInfo>, DeployError> {
        match self.cfn.describe_stacks().stack_name(name).send().await {
            Ok(out) => Ok(out
                .stacks()
                .first()
                .map(stack_info)
                .filter(|s| s.status != "DELETE_COMPLETE")),
            Err(e)
                if e.as_service_error()
                    .and_then(|s| s.meta().message())
                    .is_some_and(|m| m.contains(NOT_FOUND)) =>
            {
                Ok(None)
            }
            Err(e) => Err(aws_error("DescribeStacks", e)),
        }
    }

    /// Creates or updates the stack through a change set, or does nothing when the deployed
    /// template and parameters already equal `spec`.
    pub async fn deploy(
        &self,
        spec: &StackSpec<'_>,
        replace_failed: bool,
        obs: &mut dyn Observer,
    ) -> Result<Outcome, DeployError> {
        let current = self.describe_stack(spec.name).await?;
        let change_set_type = match &current {
            None => {
                if let Some(id) = spec.recorded_stack_id {
                    return Err(DeployError::RecordedStackGone {
                        stack: spec.name.into(),
                        stack_id: id.into(),
                    });
                }
                ChangeSetType::Create
            }
            Some(s) if s.status == "REVIEW_IN_PROGRESS" => ChangeSetType::Create,
            Some(s) if s.status == "ROLLBACK_COMPLETE" || s.status == "ROLLBACK_FAILED" => {
                if !replace_failed {
                    return Err(DeployError::NeedsReplace {
                        stack: spec.name.into(),
                        status: s.status.clone(),
                    });
                }
                obs.step(&format!(
                    "deleting stack `{}` ({}) to replace it",
                    spec.name, s.status
                ));
                self.delete_and_wait(spec.name, &s.stack_id, obs).await?;
                ChangeSetType::Create
            }
            Some(s) if is_in_progress(&s.status) => {
                return Err(DeployError::Busy {
                    stack: spec.name.into(),
                    status: s.status.clone(),
                });
            }
            Some(s) if s.status.ends_with("_FAILED") => {
                return Err(DeployError::Stuck {
                    stack: spec.name.into(),
                    status: s.status.clone(),
                    hint: "see its events in the CloudFormation console; an UPDATE_ROLLBACK_FAILED stack needs `aws cloudformation continue-update-rollback`",
                });
            }
            Some(s) => {
                if self.is_unchanged(spec, s).await? {
                    return Ok(Outcome::Unchanged(s.clone()));
                }
                ChangeSetType::Update
            }
        };
        let creating = change_set_type == ChangeSetType::Create;
        let Some(changes) = self.create_change_set(spec, change_set_type, obs).await? else {
            // Only an UPDATE change set can be empty, so the stack exists.
            return match current {
                Some(info) => Ok(Outcome::Unchanged(info)),
                None => Err(DeployError::ChangeSetFailed {
                    stack: spec.name.into(),
                    reason: "an empty change set for a new stack".into(),
                }),
            };
        };
        let (change_set_id, changes) = changes;
        if !obs.confirm(spec.name, &changes) {
            self.discard_change_set(spec.name, &change_set_id, creating)
                .await?;
            return Err(DeployError::Declined {
                stack: spec.name.into(),
            });
        }
        let seen = self.event_ids(spec.name).await?;
        self.cfn
            .execute_change_set()
            .change_set_name(&change_set_id)
            .stack_name(spec.name)
            .send()
            .await
            .map_err(|e| aws_error("ExecuteChangeSet", e))?;
        obs.step(if creating {
            "creating stack"
        } else {
            "updating stack"
        });
        let info = self.watch(spec.name, seen, obs).await?;
        Ok(if creating {
            Outcome::Created(info)
        } else {
            Outcome::Updated(info)
        })
    }

    /// Compares the deployed template and parameters with `spec` (one `GetTemplate` call).
    async fn is_unchanged(
        &self,
        spec: &StackSpec<'_>,
        current: &StackInfo,
    ) -> Result<bool, DeployError> {
        let wanted: BTreeMap<String, String> = spec.parameters.iter().cloned().collect();
        if wanted != current.parameters {
            return Ok(false);
        }
        let out = self
            .cfn
            .get_template()
            .stack_name(spec.name)
            .template_stage(TemplateStage::Original)
            .send()
            .await
            .map_err(|e| aws_error("GetTemplate", e))?;
        Ok(out.template_body() == Some(spec.template_body))
    }

    /// Creates a change set and waits until it is ready. `None` when it holds no changes.
    async fn create_change_set(
        &self,
        spec: &StackSpec<'_>,
        kind: ChangeSetType,
        obs: &mut dyn Observer,
    ) -> Result<Option<(String, Vec<Change>)>, DeployError> {
        obs.step("creating change set");
        let name = format!("xtask-{}", unix_millis());
        let params = spec
            .parameters
            .iter()
            .map(|(k, v)| {
                Parameter::builder()
                    .parameter_key(k)
                    .parameter_value(v)
                    .build()
            })
            .collect();
        let out = self
            .cfn
            .create_change_set()
            .stack_name(spec.name)
            .change_set_name(&name)
            .change_set_type(kind.clone())
            .template_body(spec.template_body)
            .set_parameters(Some(params))
            .capabilities(Capability::CapabilityNamedIam)
            .send()
            .await
            .map_err(|e| aws_error("CreateChangeSet", e))?;
        let id = out.id().unwrap_or(&name).to_owned();
        let mut backoff = Backoff::new();
        loop {
            let cs = self
                .cfn
                .describe_change_set()
                .change_set_name(&id)
                .stack_name(spec.name)
                .send()
                .await
                .map_err(|e| aws_error("DescribeChangeSet", e))?;
            match cs.status() {
                Some(ChangeSetStatus::CreateComplete) => {
                    let changes = cs
                        .changes()
                        .iter()
                        .filter_map(|c| c.resource_change())
                        .map(|r| Change {
                            action: r
                                .action()
                                .map(|a| a.as_str().to_owned())
                                .unwrap_or_default(),
                            logical_id: r.logical_resource_id().unwrap_or_default().to_owned(),
                            resource_type: r.resource_type().unwrap_or_default().to_owned(),
                            replacement: r.replacement().map(|x| x.as_str().to_owned()),
                        })
                        .collect();
                    return Ok(Some((id, changes)));
                }
                Some(ChangeSetStatus::Failed) => {
                    let reason = cs.status_reason().unwrap_or("no reason given").to_owned();
                    if reason.contains("didn't contain changes")
                        || reason.contains("No updates are to be performed")
                    {
                        self.discard_change_set(spec.name, &id, false).await?;
                        return Ok(None);
                    }
                    return Err(DeployError::ChangeSetFailed {
                        stack: spec.name.into(),
                        reason,
                    });
                }
                _ => backoff.wait().await,
            }
        }
    }

    async fn discard_change_set(
        &self,
        stack: &str,
        id: &str,
        created_stack: bool,
    ) -> Result<(), DeployError> {
        self.cfn
            .delete_change_set()
            .change_set_name(id)
            .stack_name(stack)
            .send()
            .await
            .map_err(|e| aws_error("DeleteChangeSet", e))?;
        if created_stack {
            // A CREATE change set leaves an empty stack in REVIEW_IN_PROGRESS behind.
            if let Some(s) = self.describe_stack(stack).await?
                && s.status == "REVIEW_IN_PROGRESS"
            {
                self.cfn
                    .delete_stack()
                    .stack_name(stack)
                    .send()
                    .await
                    .map_err(|e| aws_error("DeleteStack", e))?;
            }
        }
        Ok(())
    }

    /// The ids of the stack's newest events (its first page), to tell new events from old.
    async fn event_ids(&self, stack: &str) -> Result<HashSet<String>, DeployError> {
        let out = self
            .cfn
            .describe_stack_events()
            .stack_name(stack)
            .send()
            .await
            .map_err(|e| aws_error("DescribeStackEvents", e))?;
        Ok(out
            .stack_events()
            .iter()
            .filter_map(|e| e.event_id().map(str::to_owned))
            .collect())
    }

    /// Polls the stack's events, reporting each new one, until the stack itself reaches a
    /// settled status. Success returns the stack; a rollback or failure returns the reasons.
    async fn watch(
        &self,
        stack: &str,
        mut seen: HashSet<String>,
        obs: &mut dyn Observer,
    ) -> Result<StackInfo, DeployError> {
        let mut backoff = Backoff::new();
        let mut failures = Vec::new();
        loop {
            let mut fresh = Vec::new();
            let mut token = None;
            'pages: loop {
                let out = self
                    .cfn
                    .describe_stack_events()
                    .stack_name(stack)
                    .set_next_token(token)
                    .send()
                    .await
                    .map_err(|e| aws_error("DescribeStackEvents", e))?;
                for e in out.stack_events() {
                    if !seen.insert(e.event_id().unwrap_or_default().to_owned()) {
                        break 'pages;
                    }
                    fresh.push(event(e));
                }
                token = out.next_token().map(str::to_owned);
                if token.is_none() {
                    break;
                }
            }
            let mut settled = None;
            // Events come newest first; report them in the order they happened.
            for e in fresh.into_iter().rev() {
                obs.event(&e);
                if e.status.ends_with("_FAILED") {
                    failures.push(e.clone());
                }
                if e.resource_type == "AWS::CloudFormation::Stack"
                    && e.logical_id == stack
                    && !is_in_progress(&e.status)
                {
                    settled = Some(e.status.clone());
                }
            }
            if let Some(status) = settled {
                let info = self.describe_stack(stack).await?;
                return match (status.as_str(), info) {
                    ("CREATE_COMPLETE" | "UPDATE_COMPLETE", Some(info)) => Ok(info),
                    _ => Err(DeployError::Failed {
                        stack: stack.into(),
                        status,
                        failures,
                    }),
                };
            }
            backoff.wait().await;
        }
    }

    /// Deletes the stack and waits until it is gone. Returns `false` when there was no stack.
    pub async fn destroy(&self, stack: &str, obs: &mut dyn Observer) -> Result<bool, DeployError> {
        match self.describe_stack(stack).await? {
            None => Ok(false),
            Some(s) if is_in_progress(&s.status) && s.status != "REVIEW_IN_PROGRESS" => {
                Err(DeployError::Busy {
                    stack: stack.into(),
                    status: s.status,
                })
            }
            Some(s) => {
                obs.step("deleting stack");
                self.delete_and_wait(stack, &s.stack_id, obs).await?;
                Ok(true)
            }
        }
    }

    async fn delete_and_wait(
        &self,
        stack: &str,
        stack_id: &str,
        obs: &mut dyn Observer,
    ) -> Result<(), DeployError> {
        let mut seen = self.event_ids(stack_id).await.unwrap_or_default();
        self.cfn
            .delete_stack()
            .stack_name(stack_id)
            .send()
            .await
            .map_err(|e| aws_error("DeleteStack", e))?;
        let mut backoff = Backoff::new();
        loop {
            // Deleted stacks stay visible by id, as DELETE_COMPLETE: `describe_stack` says `None`.
            let status = self.describe_stack(stack_id).await?.map(|s| s.status);
            if let Ok(out) = self
                .cfn
                .describe_stack_events()
                .stack_name(stack_id)
                .send()
                .await
            {
                let mut fresh: Vec<_> = out
                    .stack_events()
                    .iter()
                    .filter(|e| seen.insert(e.event_id().unwrap_or_default().to_owned()))
                    .collect();
                fresh.reverse();
                for e in fresh {
                    obs.event(&event(e));
                }
            }
            match status.as_deref() {
                None => return Ok(()),
                Some("DELETE_FAILED") => {
                    return Err(DeployError::Failed {
                        stack: stack.into(),
                        status: "DELETE_FAILED".into(),
                        failures: Vec::new(),
                    });
                }
                _ => backoff.wait().await,
            }
        }
    }
}

fn stack_info(s: &Stack) -> StackInfo {
    StackInfo {
        stack_id: s.stack_id().unwrap_or_default().to_owned(),
        status: s
            .stack_status()
            .map(|x| x.as_str().to_owned())
            .unwrap_or_default(),
        status_reason: s.stack_status_reason().map(str::to_owned),
        updated_at: s
            .last_updated_time()
            .or(s.creation_time())
            .and_then(|t| t.fmt(DateTimeFormat::DateTime).ok()),
        outputs: s
            .outputs()
            .iter()
            .filter_map(|o| {
                Some((
                    o.output_key()?.to_owned(),
                    o.output_value().unwrap_or_default().to_owned(),
                ))
            })
            .collect(),
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
    }
}

fn event(e: &StackEvent) -> Event {
    Event {
        id: e.event_id().unwrap_or_default().to_owned(),
        timestamp: e
            .timestamp()
            .and_then(|t| t.fmt(DateTimeFormat::DateTime).ok()),
        logical_id: e.logical_resource_id().unwrap_or_default().to_owned(),
        resource_type: e.resource_type().unwrap_or_default().to_owned(),
        status: e
            .resource_status()
            .map(|s| s.as_str().to_owned())
            .unwrap_or_default(),
        reason: e.resource_status_reason().map(str::to_owned),
    }
}

fn unix_millis() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis())
}

/// Polling intervals: quick at first, so a fast stack is noticed within a fraction of a second,
/// then growing to one second, which notices a settled stack within a second at one
/// `DescribeStackEvents` a second: far under CloudFormation's rate limits, and a few dozen
/// requests for a role stack that takes half a minute (the aws CLI's waiter polls every 30 s).
struct Backoff {
    next: Duration,
}

impl Backoff {
    const FIRST: Duration = Duration::from_millis(100);
    const MAX: Duration = Duration::from_secs(1);

    fn new() -> Self {
        Backoff { next: Self::FIRST }
    }

    /// The next interval, growing the one after it.
    fn advance(&mut self) -> Duration {
        let now = self.next;
        self.next = (self.next.mul_f32(1.5)).min(Self::MAX);
        now
    }

    async fn wait(&mut self) {
        tokio::time::sleep(self.advance()).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_starts_fast_and_settles_at_one_second() {
        let mut b = Backoff::new();
        let ms: Vec<u128> = (0..9).map(|_| b.advance().as_millis()).collect();
        assert_eq!(ms, vec![100, 150, 225, 337, 506, 759, 1000, 1000, 1000]);
    }
}
