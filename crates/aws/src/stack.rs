//! Stack lifecycle: plan, change set, execute, watch, describe, delete.

use std::collections::HashSet;
use std::pin::Pin;
use std::time::Duration;

use aws_sdk_cloudformation::config::http::HttpResponse;
use aws_sdk_cloudformation::config::retry::RetryConfig;
use aws_sdk_cloudformation::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_cloudformation::operation::describe_stacks::{
    DescribeStacksError, DescribeStacksOutput,
};
use aws_sdk_cloudformation::primitives::DateTimeFormat;
use aws_sdk_cloudformation::types::{
    Capability, ChangeSetStatus, ChangeSetType, ExecutionStatus, Parameter, ResourceChange,
    ResourceChangeDetail, ResourceStatus, Stack, StackEvent, StackStatus, Tag, TemplateStage,
};
use aws_types::SdkConfig;

use crate::error::{DeployError, aws_error, is_transient};
use crate::in_flight::{Deadline, InFlight, Running, Tracker, is_in_progress, newer_ending};
use crate::model::{
    Change, ChangeSetRef, Event, Owner, Plan, PropertyChange, StackInfo, StackSpec,
};

/// Shows progress and answers the confirmation; implemented by the command line.
pub trait Observer {
    /// A step of the deploy started (e.g. "creating change set").
    fn step(&mut self, what: &str);
    /// A line worth keeping in the output (e.g. what the deploy waits for, and why).
    fn note(&mut self, text: &str);
    /// The plan holds a change set; resolves to whether to execute it. A future, so that an
    /// interruption is noticed while a person is asked.
    fn confirm<'a>(&'a mut self, plan: &'a Plan) -> Pin<Box<dyn Future<Output = bool> + 'a>>;
    /// A new stack event, in the order they happened.
    fn event(&mut self, event: &Event);
}

/// How one deploy or destroy runs: the deadline of every request and wait, and where it
/// records what it has under way (for whoever interrupts it).
#[derive(Debug, Clone, Copy)]
pub struct Guard<'a> {
    pub deadline: Deadline,
    pub tracker: &'a Tracker,
}

/// CloudFormation has no error code of its own for a missing stack: DescribeStacks answers
/// `ValidationError` (the code of every invalid request) with this in its message.
const NOT_FOUND: (&str, &str) = ("ValidationError", "does not exist");

/// The stack `DescribeStacks` found, unless it was deleted (deleted stacks stay visible by
/// id, as DELETE_COMPLETE).
fn live_stack(out: &DescribeStacksOutput) -> Option<StackInfo> {
    out.stacks()
        .first()
        .map(stack_info)
        .filter(|s| s.status != StackStatus::DeleteComplete)
}

/// Whether `DescribeStacks` failed because there is no such stack.
fn is_gone(e: &SdkError<DescribeStacksError, HttpResponse>) -> bool {
    let (code, text) = NOT_FOUND;
    e.as_service_error()
        .is_some_and(|s| s.code() == Some(code) && s.message().is_some_and(|m| m.contains(text)))
}

/// CloudFormation, for the invocation-role stack: every operation of this crate is a method.
#[derive(Debug, Clone)]
pub struct Stacks {
    pub(crate) cfn: aws_sdk_cloudformation::Client,
    /// Where requests go, for the error of one that gets no answer: `from URL`, or
    /// `from AWS in REGION`.
    target: String,
}

impl Stacks {
    /// The CloudFormation client of `config`. `endpoint`: the one it calls, as the caller
    /// resolved it (`None`: AWS's own, in the configured region).
    pub fn new(config: &SdkConfig, endpoint: Option<&str>) -> Self {
        Self::with_client(
            aws_sdk_cloudformation::Client::new(config),
            endpoint,
            config.region().map(|r| r.as_ref()),
        )
    }

    pub(crate) fn with_client(
        cfn: aws_sdk_cloudformation::Client,
        endpoint: Option<&str>,
        region: Option<&str>,
    ) -> Self {
        let target = match endpoint {
            Some(url) => format!("from {url}"),
            None => format!("from AWS in {}", region.unwrap_or("the default region")),
        };
        Stacks { cfn, target }
    }

    /// `DescribeStacks` by name or id: `None` when the stack does not exist (or was deleted).
    pub async fn describe_stack(&self, name: &str) -> Result<Option<StackInfo>, DeployError> {
        match self.cfn.describe_stacks().stack_name(name).send().await {
            Ok(out) => Ok(live_stack(&out)),
            Err(e) if is_gone(&e) => Ok(None),
            Err(e) => Err(aws_error("DescribeStacks", e)),
        }
    }

    /// The template the stack was last deployed from, as it was submitted (GetTemplate).
    pub async fn deployed_template(&self, stack_id: &str) -> Result<String, DeployError> {
        let out = self
            .cfn
            .get_template()
            .stack_name(stack_id)
            .template_stage(TemplateStage::Original)
            .send()
            .await
            .map_err(|e| aws_error("GetTemplate", e))?;
        Ok(out.template_body().unwrap_or_default().to_owned())
    }

    /// Deletes the stack and waits until it is gone. Returns `false` when there was no stack.
    /// `role_arn`: the service role to delete it as (`None`: the one the stack has). A stack
    /// `owner` does not recognise is left alone ([`DeployError::NotOurs`]).
    pub async fn destroy(
        &self,
        stack: &str,
        role_arn: Option<&str>,
        owner: &Owner<'_>,
        guard: Guard<'_>,
        obs: &mut dyn Observer,
    ) -> Result<bool, DeployError> {
        let mut op = Op::new(self, guard, obs);
        op.role_arn = role_arn.map(str::to_owned);
        match op.settled(stack).await? {
            None => Ok(false),
            Some(s) => {
                owner.check(stack, &s)?;
                op.obs.step("deleting stack");
                op.delete_and_wait(stack, &s.stack_id).await?;
                Ok(true)
            }
        }
    }
}

/// One plan, apply, deploy or destroy in progress.
pub(crate) struct Op<'a, 'g> {
    pub(crate) stacks: &'a Stacks,
    pub(crate) guard: Guard<'g>,
    pub(crate) obs: &'a mut dyn Observer,
    /// The service role stack deletions run as (`None`: the one the stack has).
    pub(crate) role_arn: Option<String>,
}

/// A settled stack (or none), with the events seen on the way.
pub(crate) struct Settled {
    pub(crate) stack: Option<StackInfo>,
    pub(crate) failures: Vec<Event>,
}

impl<'a, 'g> Op<'a, 'g> {
    pub(crate) fn new(stacks: &'a Stacks, guard: Guard<'g>, obs: &'a mut dyn Observer) -> Self {
        Op {
            stacks,
            guard,
            obs,
            role_arn: None,
        }
    }
}

impl Op<'_, '_> {
    pub(crate) fn cfn(&self) -> &aws_sdk_cloudformation::Client {
        &self.stacks.cfn
    }

    /// Awaits one request within the deadline (the SDK retries it meanwhile).
    pub(crate) async fn call<T, E>(
        &self,
        action: &'static str,
        request: impl Future<Output = Result<T, SdkError<E, HttpResponse>>>,
    ) -> Result<T, DeployError>
    where
        E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    {
        match self.guard.deadline.bound(request).await {
            Some(result) => result.map_err(|e| aws_error(action, e)),
            None => Err(self.timed_out(self.answer_to(action))),
        }
    }

    /// What a request that got no answer waited for, with the endpoint it went to.
    fn answer_to(&self, action: &str) -> String {
        format!("an answer to {action} {}", self.stacks.target)
    }

    fn timed_out(&self, waiting_for: String) -> DeployError {
        DeployError::TimedOut {
            waiting_for,
            after: self.guard.deadline.limit(),
            running: self.guard.tracker.running(),
        }
    }

    async fn describe(&self, name_or_id: &str) -> Result<Option<StackInfo>, DeployError> {
        let request = self.stacks.describe_stack(name_or_id);
        match self.guard.deadline.bound(request).await {
            Some(result) => result,
            None => Err(self.timed_out(self.answer_to("DescribeStacks"))),
        }
    }

    /// The stack as it is once no operation runs on it: one in progress (started by anyone)
    /// is waited for, by its id, and shown.
    pub(crate) async fn settled(&mut self, name: &str) -> Result<Option<StackInfo>, DeployError> {
        match self.describe(name).await? {
            Some(s) if is_in_progress(&s.status) => {
                self.obs.note(&format!(
                    "waiting for stack `{name}` ({}), which is {}, to settle",
                    s.stack_id, s.status
                ));
                let running = Running {
                    stack: name.into(),
                    stack_id: s.stack_id.clone(),
                    status: Some(s.status.clone()),
                };
                self.guard.tracker.set(InFlight::Operation(running));
                let seen = self.event_ids(&s.stack_id).await?;
                let settled = self.watch(name, &s.stack_id, seen).await?;
                self.guard.tracker.set(InFlight::Nothing);
                Ok(settled.stack)
            }
            current => Ok(current),
        }
    }

    /// Whether the deployed template is `spec`'s (one `GetTemplate` call).
    pub(crate) async fn same_template(
        &self,
        spec: &StackSpec<'_>,
        current: &StackInfo,
    ) -> Result<bool, DeployError> {
        let out = self
            .call(
                "GetTemplate",
                self.cfn()
                    .get_template()
                    .stack_name(&current.stack_id)
                    .template_stage(TemplateStage::Original)
                    .send(),
            )
            .await?;
        Ok(out.template_body() == Some(spec.template_body))
    }

    /// Deletes the change sets an earlier run of this tool (or of its older versions, named
    /// `xtask-MILLIS`) left on the stack, never executed, when it was killed before it could
    /// delete them: those named by [`leftover`]. Only `deploy` does: a plan is a check, and
    /// touches no change set but its own. A change set another run may still be
    /// reviewing (made within [`LEFTOVER_AFTER`]) or executing is left alone.
    pub(crate) async fn delete_leftover_change_sets(
        &mut self,
        stack_id: &str,
    ) -> Result<(), DeployError> {
        let now = unix_millis();
        let mut token = None;
        let mut leftovers = Vec::new();
        loop {
            let out = self
                .call(
                    "ListChangeSets",
                    self.cfn()
                        .list_change_sets()
                        .stack_name(stack_id)
                        .set_next_token(token)
                        .send(),
                )
                .await?;
            // AWS lists only the stack's own; an emulator may list every stack's.
            for cs in out
                .summaries()
                .iter()
                .filter(|cs| cs.stack_id() == Some(stack_id))
            {
                let settled = !matches!(
                    cs.status(),
                    Some(ChangeSetStatus::CreatePending | ChangeSetStatus::CreateInProgress)
                ) && matches!(
                    cs.execution_status(),
                    None | Some(
                        ExecutionStatus::Available
                            | ExecutionStatus::Unavailable
                            | ExecutionStatus::Obsolete
                    )
                );
                if let (Some(name), Some(id)) = (cs.change_set_name(), cs.change_set_id())
                    && settled
                    && leftover(name, now)
                {
                    leftovers.push(id.to_owned());
                }
            }
            token = out.next_token().map(str::to_owned);
            if token.is_none() {
                break;
            }
        }
        for id in leftovers {
            self.obs
                .step("deleting a change set an interrupted run left");
            self.call(
                "DeleteChangeSet",
                self.cfn()
                    .delete_change_set()
                    .change_set_name(&id)
                    .stack_name(stack_id)
                    .send(),
            )
            .await?;
        }
        Ok(())
    }

    /// Creates a change set and waits until it is ready. `None` when it holds no changes.
    /// `existing` is the stack it updates (or replaces in REVIEW_IN_PROGRESS).
    pub(crate) async fn create_change_set(
        &mut self,
        spec: &StackSpec<'_>,
        kind: ChangeSetType,
        existing: Option<&StackInfo>,
        created_stack: bool,
    ) -> Result<Option<ChangeSet>, DeployError> {
        self.obs.step("creating change set");
        let name = format!("{CHANGE_SET_PREFIX}{}", unix_millis());
        self.guard.tracker.set(InFlight::ChangeSet {
            stack: spec.name.into(),
            change_set: name.clone(),
            stack_id: existing.map(|s| s.stack_id.clone()),
            created_stack,
        });
        let params = sdk_parameters(spec.parameters);
        // Always sent, even empty: a change set without Tags would keep the stack's old ones.
        let tags = sdk_tags(spec.tags);
        // The SDK retries a request whose answer was lost. The client token makes that retry
        // idempotent (AWS answers with the change set the first request made); without it, or
        // where it is not honoured, the retry fails with AlreadyExistsException for a name only
        // this run uses, so that change set is the one it asked for.
        let created = self
            .call(
                "CreateChangeSet",
                self.cfn()
                    .create_change_set()
                    .stack_name(spec.name)
                    .change_set_name(&name)
                    .client_token(&name)
                    .change_set_type(kind)
                    .template_body(spec.template_body)
                    .set_parameters(Some(params))
                    .set_tags(Some(tags))
                    .set_role_arn(spec.role_arn.map(str::to_owned))
                    .capabilities(Capability::CapabilityNamedIam)
                    .send(),
            )
            .await;
        let (id, stack_id) = match created {
            Ok(out) => (
                out.id().map(str::to_owned),
                out.stack_id().map(str::to_owned),
            ),
            Err(e) if e.code() == Some("AlreadyExistsException") => {
                let out = self
                    .call(
                        "DescribeChangeSet",
                        self.cfn()
                            .describe_change_set()
                            .change_set_name(&name)
                            .stack_name(spec.name)
                            .send(),
                    )
                    .await?;
                (
                    out.change_set_id().map(str::to_owned),
                    out.stack_id().map(str::to_owned),
                )
            }
            Err(e) => return Err(e),
        };
        let id = id.unwrap_or_else(|| name.clone());
        let stack_id = stack_id
            .or_else(|| existing.map(|s| s.stack_id.clone()))
            .unwrap_or_else(|| spec.name.to_owned());
        self.guard.tracker.set(InFlight::ChangeSet {
            stack: spec.name.into(),
            change_set: id.clone(),
            stack_id: Some(stack_id.clone()),
            created_stack,
        });
        let mut backoff = Backoff::new();
        loop {
            if self.guard.deadline.passed() {
                return Err(self.timed_out(format!("change set `{name}` to be ready")));
            }
            let polled = self
                .poll(
                    "DescribeChangeSet",
                    self.cfn()
                        .describe_change_set()
                        .change_set_name(&id)
                        .stack_name(&stack_id)
                        .include_property_values(true)
                        .customize()
                        .config_override(no_retries())
                        .send(),
                )
                .await?;
            let Some(cs) = self.retry_later(polled, &mut backoff, "the change set")? else {
                backoff.wait().await;
                continue;
            };
            match cs.status() {
                Some(ChangeSetStatus::CreateComplete) => {
                    let changes = cs
                        .changes()
                        .iter()
                        .filter_map(|c| c.resource_change())
                        .map(resource_change)
                        .collect();
                    return Ok(Some(ChangeSet {
                        id,
                        stack_id,
                        changes,
                    }));
                }
                Some(ChangeSetStatus::Failed) => {
                    let reason = cs.status_reason().unwrap_or("no reason given").to_owned();
                    if reason.contains("didn't contain changes")
                        || reason.contains("No updates are to be performed")
                    {
                        self.discard_change_set(&id, &stack_id, false).await?;
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

    /// Executes the change set. A request that fails may still have taken effect (its answer
    /// lost; then the SDK's retry is refused as InvalidChangeSetStatus), so the change set's
    /// execution status decides: executed (in progress, complete or failed) is done, still
    /// AVAILABLE is asked again (a few times), anything else is the error.
    pub(crate) async fn execute(&mut self, cs: &ChangeSetRef) -> Result<(), DeployError> {
        const ATTEMPTS: u32 = 3;
        let mut backoff = Backoff::new();
        let mut attempt = 0;
        loop {
            attempt += 1;
            let err = match self
                .call(
                    "ExecuteChangeSet",
                    self.cfn()
                        .execute_change_set()
                        .change_set_name(&cs.id)
                        .stack_name(&cs.stack_id)
                        .send(),
                )
                .await
            {
                Ok(_) => return Ok(()),
                Err(e @ DeployError::TimedOut { .. }) => return Err(e),
                Err(e) => e,
            };
            let status = loop {
                if self.guard.deadline.passed() {
                    return Err(err);
                }
                let polled = self
                    .poll(
                        "DescribeChangeSet",
                        self.cfn()
                            .describe_change_set()
                            .change_set_name(&cs.id)
                            .stack_name(&cs.stack_id)
                            .customize()
                            .config_override(no_retries())
                            .send(),
                    )
                    .await?;
                match self.retry_later(polled, &mut backoff, "the change set's execution status")? {
                    Some(out) => break out.execution_status().cloned(),
                    None => backoff.wait().await,
                }
            };
            match status {
                Some(ExecutionStatus::Available) if attempt < ATTEMPTS => {
                    self.obs.step(&format!("{err}; trying again"));
                    backoff.wait().await;
                }
                Some(
                    ExecutionStatus::ExecuteInProgress
                    | ExecutionStatus::ExecuteComplete
                    | ExecutionStatus::ExecuteFailed,
                ) => return Ok(()),
                _ => return Err(err),
            }
        }
    }

    pub(crate) async fn discard_change_set(
        &self,
        id: &str,
        stack_id: &str,
        created_stack: bool,
    ) -> Result<(), DeployError> {
        let delete_change_set = self.call(
            "DeleteChangeSet",
            self.cfn()
                .delete_change_set()
                .change_set_name(id)
                .stack_name(stack_id)
                .send(),
        );
        if !created_stack {
            return delete_change_set.await.map(drop);
        }
        // A CREATE change set leaves an empty stack in REVIEW_IN_PROGRESS behind; whether it
        // still is one is asked while the change set is deleted (two round trips, not three).
        let (deleted, current) = tokio::join!(delete_change_set, self.describe(stack_id));
        deleted?;
        let current = current?;
        let deleted = self
            .guard
            .deadline
            .bound(self.stacks.delete_when_empty(current.as_ref()));
        deleted
            .await
            .ok_or_else(|| self.timed_out(self.answer_to("DeleteStack")))??;
        Ok(())
    }

    /// The ids of the stack's newest events (its first page), to tell new events from old.
    pub(crate) async fn event_ids(&self, stack_id: &str) -> Result<HashSet<String>, DeployError> {
        let out = self
            .call(
                "DescribeStackEvents",
                self.cfn()
                    .describe_stack_events()
                    .stack_name(stack_id)
                    .send(),
            )
            .await?;
        Ok(out
            .stack_events()
            .iter()
            .filter_map(|e| e.event_id().map(str::to_owned))
            .collect())
    }

    /// One request of a polling loop (which passes it no SDK retries: the loop is the retry).
    async fn poll<T, E>(
        &self,
        action: &'static str,
        request: impl Future<Output = Result<T, SdkError<E, HttpResponse>>>,
    ) -> Polled<T>
    where
        E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    {
        match self.guard.deadline.bound(request).await {
            Some(Ok(out)) => Ok(Ok(out)),
            Some(Err(e)) if is_transient(&e) => Ok(Err(aws_error(action, e))),
            Some(Err(e)) => Err(aws_error(action, e)),
            None => Err(self.timed_out(self.answer_to(action))),
        }
    }

    /// Passes a polled answer on, or notes a transient error and slows the polling down
    /// (`None`: poll again). Fails when the deadline has passed meanwhile.
    fn retry_later<T>(
        &mut self,
        polled: Result<T, DeployError>,
        backoff: &mut Backoff,
        waiting_for: &str,
    ) -> Result<Option<T>, DeployError> {
        match polled {
            Ok(out) => {
                backoff.answered();
                Ok(Some(out))
            }
            Err(e) if self.guard.deadline.passed() => Err(DeployError::TimedOut {
                waiting_for: format!("{waiting_for} (last error: {e})"),
                after: self.guard.deadline.limit(),
                running: self.guard.tracker.running(),
            }),
            Err(e) => {
                self.obs.step(&format!("{e}; trying again"));
                backoff.failed();
                Ok(None)
            }
        }
    }

    /// Polls the stack by id, showing each new event, until no operation runs on it or the
    /// deadline passes. Errors that may go away by themselves (throttling, 5xx, timeouts,
    /// dropped connections) only slow the polling down: the operation goes on regardless.
    pub(crate) async fn watch(
        &mut self,
        stack: &str,
        stack_id: &str,
        mut seen: HashSet<String>,
    ) -> Result<Settled, DeployError> {
        let mut backoff = Backoff::new();
        let mut failures = Vec::new();
        let waiting_for = format!("stack `{stack}` to settle");
        loop {
            if self.guard.deadline.passed() {
                return Err(self.timed_out(waiting_for));
            }
            let events = match self.new_events(stack_id, &mut seen).await {
                Ok(events) => events,
                Err(e) => return Err(self.unsettled(e)),
            };
            match self.retry_later(events, &mut backoff, &waiting_for) {
                Ok(Some(events)) => failures.extend(events),
                Ok(None) => {
                    backoff.wait().await;
                    continue;
                }
                Err(e) => return Err(self.unsettled(e)),
            }
            let request = self
                .cfn()
                .describe_stacks()
                .stack_name(stack_id)
                .customize()
                .config_override(no_retries())
                .send();
            let described = match self
                .poll("DescribeStacks", async {
                    match request.await {
                        Ok(out) => Ok(live_stack(&out)),
                        Err(e) if is_gone(&e) => Ok(None),
                        Err(e) => Err(e),
                    }
                })
                .await
            {
                Ok(described) => described,
                Err(e) => return Err(self.unsettled(e)),
            };
            match self.retry_later(described, &mut backoff, &waiting_for) {
                Ok(Some(Some(info))) if is_in_progress(&info.status) => {
                    self.guard.tracker.saw_status(&info.status);
                }
                Ok(Some(info)) => {
                    // The last events, e.g. the stack's own COMPLETE, best effort.
                    if let Ok(Ok(events)) = self.new_events(stack_id, &mut seen).await {
                        failures.extend(events);
                    }
                    return Ok(Settled {
                        stack: info,
                        failures,
                    });
                }
                Ok(None) => {}
                Err(e) => return Err(self.unsettled(e)),
            }
            backoff.wait().await;
        }
    }

    /// A watch that failed for good: the operation it watched may still run.
    fn unsettled(&self, cause: DeployError) -> DeployError {
        match (&cause, self.guard.tracker.running()) {
            (DeployError::TimedOut { .. }, _) | (_, None) => cause,
            (_, Some(running)) => DeployError::Unsettled {
                cause: Box::new(cause),
                running,
            },
        }
    }

    /// Reports the stack's events not seen yet (oldest first); returns the failed ones.
    async fn new_events(
        &mut self,
        stack_id: &str,
        seen: &mut HashSet<String>,
    ) -> Polled<Vec<Event>> {
        let mut fresh = Vec::new();
        let mut token = None;
        'pages: loop {
            let out = self
                .poll(
                    "DescribeStackEvents",
                    self.cfn()
                        .describe_stack_events()
                        .stack_name(stack_id)
                        .set_next_token(token)
                        .customize()
                        .config_override(no_retries())
                        .send(),
                )
                .await?;
            let out = match out {
                Ok(out) => out,
                Err(transient) => return Ok(Err(transient)),
            };
            for e in out.stack_events() {
                if seen.contains(e.event_id().unwrap_or_default()) {
                    break 'pages;
                }
                fresh.push(event(e));
            }
            token = out.next_token().map(str::to_owned);
            if token.is_none() {
                break;
            }
        }
        let mut failures = Vec::new();
        // Events come newest first; report them in the order they happened.
        for e in fresh.into_iter().rev() {
            seen.insert(e.id.clone());
            self.obs.event(&e);
            if resource_failed(&e.status) {
                failures.push(e);
            }
        }
        Ok(Ok(failures))
    }

    pub(crate) async fn delete_and_wait(
        &mut self,
        stack: &str,
        stack_id: &str,
    ) -> Result<(), DeployError> {
        let seen = self.event_ids(stack_id).await.unwrap_or_default();
        self.guard.tracker.set(InFlight::Operation(Running {
            stack: stack.into(),
            stack_id: stack_id.into(),
            status: Some(StackStatus::DeleteInProgress),
        }));
        self.call(
            "DeleteStack",
            self.cfn()
                .delete_stack()
                .stack_name(stack_id)
                .set_role_arn(self.role_arn.clone())
                .send(),
        )
        .await?;
        let settled = self.watch(stack, stack_id, seen).await?;
        self.guard.tracker.set(InFlight::Nothing);
        match settled.stack {
            // Deleted stacks stay visible by id, as DELETE_COMPLETE: `found` says `None`.
            None => Ok(()),
            Some(s) => Err(DeployError::Failed {
                stack: stack.into(),
                status: s.status,
                failures: settled.failures,
            }),
        }
    }
}

/// The answer of a polling request: the outer error ends the loop, the inner one (throttling,
/// 5xx, a timeout, a dropped connection) may go away by itself.
type Polled<T> = Result<Result<T, DeployError>, DeployError>;

/// A change set ready to execute.
pub(crate) struct ChangeSet {
    pub(crate) id: String,
    pub(crate) stack_id: String,
    pub(crate) changes: Vec<Change>,
}

fn resource_change(r: &ResourceChange) -> Change {
    Change {
        action: r
            .action()
            .map(|a| a.as_str().to_owned())
            .unwrap_or_default(),
        logical_id: r.logical_resource_id().unwrap_or_default().to_owned(),
        resource_type: r.resource_type().unwrap_or_default().to_owned(),
        replacement: r.replacement().map(|x| x.as_str().to_owned()),
        details: r.details().iter().filter_map(property_change).collect(),
    }
}

/// One detail of a resource change, when it names what changed.
fn property_change(d: &ResourceChangeDetail) -> Option<PropertyChange> {
    let target = d.target()?;
    let cause = match (d.change_source(), d.causing_entity()) {
        (Some(source), Some(entity)) => Some(format!("{} {entity}", source.as_str())),
        (Some(source), None) => Some(source.as_str().to_owned()),
        (None, entity) => entity.map(str::to_owned),
    };
    Some(PropertyChange {
        attribute: target
            .attribute()
            .map(|a| a.as_str().to_owned())
            .unwrap_or_default(),
        path: target.path().or(target.name()).map(str::to_owned),
        before: target.before_value().map(str::to_owned),
        after: target.after_value().map(str::to_owned),
        requires_recreation: target.requires_recreation().map(|r| r.as_str().to_owned()),
        cause,
    })
}

/// For the requests of a polling loop: one attempt each, the loop retries.
fn no_retries() -> aws_sdk_cloudformation::config::Builder {
    aws_sdk_cloudformation::config::Builder::default().retry_config(RetryConfig::disabled())
}

fn stack_info(s: &Stack) -> StackInfo {
    StackInfo {
        stack_id: s.stack_id().unwrap_or_default().to_owned(),
        status: s
            .stack_status()
            .cloned()
            .unwrap_or_else(|| StackStatus::from("")),
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
        parameters: parameter_values(s.parameters()),
        tags: tag_values(s.tags()),
        role_arn: s.role_arn().map(str::to_owned),
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
            .cloned()
            .unwrap_or_else(|| ResourceStatus::from("")),
        reason: e.resource_status_reason().map(str::to_owned),
    }
}

/// Whether the event is a resource's failure (a `_FAILED` status). A status this SDK does not
/// know yet counts by its name.
fn resource_failed(status: &ResourceStatus) -> bool {
    use ResourceStatus as S;
    match status {
        S::CreateFailed
        | S::DeleteFailed
        | S::ExportFailed
        | S::ExportRollbackFailed
        | S::ImportFailed
        | S::ImportRollbackFailed
        | S::RollbackFailed
        | S::UpdateFailed
        | S::UpdateRollbackFailed => true,
        other => newer_ending(other.as_str(), S::values(), "_FAILED"),
    }
}

/// The name of every change set this tool creates is this prefix and the time in
/// milliseconds since the epoch (`tsw-1765000000000`).
pub const CHANGE_SET_PREFIX: &str = "tsw-";

/// The prefixes of the change sets older versions of this tool created (`xtask-MILLIS`): still
/// recognised as this tool's, to delete what an interrupted run of them left.
pub const OLD_CHANGE_SET_PREFIXES: &[&str] = &["xtask-"];

/// How old a change set of this tool must be to count as left behind: older than any run
/// keeps one while a person reviews it.
pub const LEFTOVER_AFTER: std::time::Duration = std::time::Duration::from_secs(24 * 3600);

/// `(key, value)` pairs as CloudFormation parameters (a stack's, a StackSet's, an instance's
/// overrides).
pub(crate) fn sdk_parameters(pairs: &[(String, String)]) -> Vec<Parameter> {
    pairs
        .iter()
        .map(|(k, v)| {
            Parameter::builder()
                .parameter_key(k)
                .parameter_value(v)
                .build()
        })
        .collect()
}

/// `(key, value)` pairs as CloudFormation tags (a stack's or a StackSet's).
pub(crate) fn sdk_tags(pairs: &[(String, String)]) -> Vec<Tag> {
    pairs
        .iter()
        .map(|(k, v)| Tag::builder().key(k).value(v).build())
        .collect()
}

/// The values of CloudFormation parameters (a stack's, a StackSet's, an instance's overrides)
/// by key; a parameter without a key is left out, one without a value is empty.
pub(crate) fn parameter_values<C: FromIterator<(String, String)>>(params: &[Parameter]) -> C {
    params
        .iter()
        .filter_map(|p| {
            Some((
                p.parameter_key()?.to_owned(),
                p.parameter_value().unwrap_or_default().to_owned(),
            ))
        })
        .collect()
}

/// The values of CloudFormation tags (a stack's or a StackSet's) by key; a tag without a key is
/// left out, one without a value is empty.
pub(crate) fn tag_values<C: FromIterator<(String, String)>>(tags: &[Tag]) -> C {
    tags.iter()
        .filter_map(|t| {
            Some((
                t.key()?.to_owned(),
                t.value().unwrap_or_default().to_owned(),
            ))
        })
        .collect()
}

/// Whether the change set `name` is one this tool (or an older version of it) made, more than
/// [`LEFTOVER_AFTER`] before `now` (milliseconds since the epoch): `PREFIX` and the
/// milliseconds it was made at, nothing else.
fn leftover(name: &str, now: u128) -> bool {
    std::iter::once(CHANGE_SET_PREFIX)
        .chain(OLD_CHANGE_SET_PREFIXES.iter().copied())
        .filter_map(|prefix| name.strip_prefix(prefix))
        .filter(|millis| !millis.is_empty() && millis.bytes().all(|b| b.is_ascii_digit()))
        .filter_map(|millis| millis.parse::<u128>().ok())
        .any(|made| now.saturating_sub(made) > LEFTOVER_AFTER.as_millis())
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
/// After errors (throttling above all) it waits longer: 1 s, 2 s, 4 s, ... up to 16 s.
#[derive(Debug)]
pub(crate) struct Backoff {
    next: Duration,
    errors: u32,
}

impl Backoff {
    const FIRST: Duration = Duration::from_millis(100);
    const MAX: Duration = Duration::from_secs(1);
    const MAX_AFTER_ERRORS: Duration = Duration::from_secs(16);

    pub(crate) fn new() -> Self {
        Backoff {
            next: Self::FIRST,
            errors: 0,
        }
    }

    /// The next interval, growing the one after it.
    fn advance(&mut self) -> Duration {
        if self.errors > 0 {
            let factor = 1u32 << (self.errors - 1).min(4);
            return (Self::MAX * factor).min(Self::MAX_AFTER_ERRORS);
        }
        let now = self.next;
        self.next = (self.next.mul_f32(1.5)).min(Self::MAX);
        now
    }

    /// A poll failed with an error that may go away: wait longer.
    pub(crate) fn failed(&mut self) {
        self.errors += 1;
    }

    /// A poll got its answer: back to the usual pace.
    pub(crate) fn answered(&mut self) {
        self.errors = 0;
    }

    pub(crate) async fn wait(&mut self) {
        tokio::time::sleep(self.advance()).await;
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn leftover_change_sets_are_this_tools_and_old_enough() {
        let day = LEFTOVER_AFTER.as_millis();
        let now = 10 * day;
        assert!(leftover("tsw-1000", now));
        assert!(leftover("xtask-1000", now));
        assert!(leftover(&format!("xtask-{}", now - day - 1), now));
        // Another run may still be reviewing it.
        assert!(!leftover(&format!("tsw-{}", now - day + 1), now));
        assert!(!leftover(&format!("xtask-{now}"), now));
        // Not this tool's: someone else's name, or not a time.
        for name in [
            "mine-1000",
            "tsw-",
            "tsw-1000a",
            "xtask-abc",
            "tsw-x1000",
            "1000",
        ] {
            assert!(!leftover(name, now), "{name}");
        }
    }

    use super::*;

    #[test]
    fn backoff_starts_fast_and_settles_at_one_second() {
        let mut b = Backoff::new();
        let ms: Vec<u128> = (0..9).map(|_| b.advance().as_millis()).collect();
        assert_eq!(ms, vec![100, 150, 225, 337, 506, 759, 1000, 1000, 1000]);
    }

    #[test]
    fn backoff_slows_down_after_errors_and_recovers() {
        let mut b = Backoff::new();
        let mut secs = Vec::new();
        for _ in 0..6 {
            b.failed();
            secs.push(b.advance().as_secs());
        }
        assert_eq!(secs, vec![1, 2, 4, 8, 16, 16]);
        b.answered();
        assert_eq!(b.advance().as_millis(), 100);
    }
}
