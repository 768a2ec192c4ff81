//! After an interruption: undo what was never executed, stop a StackSet operation, and report
//! what CloudFormation goes on with ([`Stacks::undo`], on the [`InFlight`] a run's
//! [`crate::Tracker`] recorded).

use std::time::Duration;

use aws_sdk_cloudformation::error::ProvideErrorMetadata;
use aws_sdk_cloudformation::types::{ChangeSetStatus, ExecutionStatus, StackStatus};

use crate::error::{DeployError, aws_error};
use crate::in_flight::{Deadline, InFlight, Running, SetOperation, Undone, is_running};
use crate::model::StackInfo;
use crate::stack::{Backoff, Stacks};

/// What stopping a StackSet operation leaves of the cleanup's deadline, for the caller to
/// report with: the wait for STOPPED ends this much before it.
const REPORT_MARGIN: Duration = Duration::from_secs(2);

/// How long an operation CloudFormation does not know is asked for again: the request that
/// starts it may have been cut off on its way by the signal, and still arrive.
const NOT_KNOWN_GRACE: Duration = Duration::from_secs(5);

impl Stacks {
    /// After an interruption: deletes a change set that was never executed (and the empty
    /// REVIEW_IN_PROGRESS stack this run created for it), stops a StackSet operation this run
    /// started (StopStackSetOperation: the instances under way finish, the accounts not yet
    /// started are left alone, nothing is rolled back) and waits until it ends, or finds the
    /// current status of a stack operation CloudFormation goes on with. The caller bounds it
    /// with `deadline`, which a StackSet operation's wait for STOPPED ends before.
    pub async fn undo(
        &self,
        in_flight: &InFlight,
        deadline: &Deadline,
    ) -> Result<Undone, DeployError> {
        match in_flight {
            InFlight::Nothing => Ok(Undone::Nothing),
            InFlight::Operation(r) => Ok(Undone::StillRunning(self.refresh(r).await)),
            InFlight::StackSetOperation(op) => {
                self.stop_stack_set_operation(op, &deadline.sooner_by(REPORT_MARGIN))
                    .await
            }
            InFlight::ChangeSet {
                stack,
                change_set,
                stack_id,
                created_stack,
            } => {
                self.undo_change_set(stack, change_set, stack_id.as_deref(), *created_stack)
                    .await
            }
        }
    }

    /// StopStackSetOperation for `op`, then its status polled until it ends or `deadline`
    /// passes. An operation CloudFormation does not know (yet: the request that starts it was
    /// cut off on its way, and may still arrive) is asked for again for [`NOT_KNOWN_GRACE`];
    /// one it never knows is [`Undone::NeverStarted`].
    async fn stop_stack_set_operation(
        &self,
        op: &SetOperation,
        deadline: &Deadline,
    ) -> Result<Undone, DeployError> {
        let not_known = deadline.sooner_by(deadline.remaining().saturating_sub(NOT_KNOWN_GRACE));
        let mut backoff = Backoff::new();
        loop {
            let request = self
                .cfn
                .stop_stack_set_operation()
                .stack_set_name(&op.stack_set)
                .operation_id(&op.operation_id)
                .call_as(op.call_as.sdk())
                .send();
            match deadline.bound(request).await {
                Some(Ok(_)) => break,
                Some(Err(e))
                    if e.as_service_error().and_then(|s| s.code())
                        == Some("OperationNotFoundException") =>
                {
                    if not_known.passed() {
                        return Ok(Undone::NeverStarted(op.clone()));
                    }
                    not_known.bound(backoff.wait()).await;
                }
                // Stopping already, or ended: its status says which.
                Some(Err(e))
                    if e.as_service_error().and_then(|s| s.code())
                        == Some("InvalidOperationException") =>
                {
                    break;
                }
                Some(Err(e)) => return Err(aws_error("StopStackSetOperation", e)),
                None => {
                    return Err(DeployError::TimedOut {
                        waiting_for: format!("an answer to StopStackSetOperation for {op}"),
                        after: deadline.limit(),
                        running: None,
                    });
                }
            }
        }
        let mut backoff = Backoff::new();
        let mut status = None;
        loop {
            let request = self
                .cfn
                .describe_stack_set_operation()
                .stack_set_name(&op.stack_set)
                .operation_id(&op.operation_id)
                .call_as(op.call_as.sdk())
                .send();
            match deadline.bound(request).await {
                Some(Ok(out)) => {
                    backoff.answered();
                    status = out.stack_set_operation.and_then(|o| o.status).or(status);
                }
                Some(Err(_)) => backoff.failed(),
                None => {}
            }
            if status.as_ref().is_some_and(|s| !is_running(s)) || deadline.passed() {
                return Ok(Undone::StackSetOperation {
                    operation: op.clone(),
                    status,
                });
            }
            deadline.bound(backoff.wait()).await;
        }
    }

    /// `running` with the stack's current status (as it was, when that cannot be read).
    async fn refresh(&self, running: &Running) -> Running {
        let status = match self.describe_stack(&running.stack_id).await {
            Ok(Some(s)) => Some(s.status),
            Ok(None) => Some(StackStatus::DeleteComplete),
            Err(_) => running.status.clone(),
        };
        Running {
            status,
            ..running.clone()
        }
    }

    async fn undo_change_set(
        &self,
        stack: &str,
        change_set: &str,
        stack_id: Option<&str>,
        created_stack: bool,
    ) -> Result<Undone, DeployError> {
        let mut backoff = Backoff::new();
        let described = loop {
            let out = self
                .cfn
                .describe_change_set()
                .change_set_name(change_set)
                .stack_name(stack_id.unwrap_or(stack))
                .send()
                .await;
            match out {
                // Never created (interrupted before CreateChangeSet got through).
                Err(e)
                    if matches!(
                        e.as_service_error().and_then(|s| s.code()),
                        Some("ChangeSetNotFound" | "ValidationError")
                    ) =>
                {
                    break None;
                }
                Err(e) => return Err(aws_error("DescribeChangeSet", e)),
                // Still being created: it cannot be deleted yet.
                Ok(cs)
                    if matches!(
                        cs.status(),
                        Some(ChangeSetStatus::CreatePending | ChangeSetStatus::CreateInProgress)
                    ) =>
                {
                    backoff.wait().await;
                }
                Ok(cs) => break Some(cs),
            }
        };
        let stack_id = described
            .as_ref()
            .and_then(|cs| cs.stack_id())
            .or(stack_id)
            .unwrap_or(stack)
            .to_owned();
        if let Some(cs) = &described {
            let executed = !matches!(
                cs.execution_status(),
                None | Some(ExecutionStatus::Available | ExecutionStatus::Unavailable)
            );
            if executed {
                let running = Running {
                    stack: stack.into(),
                    stack_id,
                    status: None,
                };
                return Ok(Undone::StillRunning(self.refresh(&running).await));
            }
            self.cfn
                .delete_change_set()
                .change_set_name(cs.change_set_id().unwrap_or(change_set))
                .stack_name(&stack_id)
                .send()
                .await
                .map_err(|e| aws_error("DeleteChangeSet", e))?;
        }
        let deleted_stack = if created_stack {
            self.delete_if_empty(&stack_id)
                .await?
                .then(|| stack.to_owned())
        } else {
            None
        };
        Ok(match (described, deleted_stack) {
            (None, None) => Undone::Nothing,
            (cs, deleted_stack) => Undone::DeletedChangeSet {
                change_set: cs
                    .and_then(|c| c.change_set_name().map(str::to_owned))
                    .unwrap_or_else(|| change_set.to_owned()),
                deleted_stack,
            },
        })
    }

    /// Deletes the stack when it is an empty REVIEW_IN_PROGRESS stack (what a CREATE change set
    /// leaves behind). Whether it did.
    pub(crate) async fn delete_if_empty(&self, stack_id: &str) -> Result<bool, DeployError> {
        let current = self.describe_stack(stack_id).await?;
        self.delete_when_empty(current.as_ref()).await
    }

    /// Deletes `current` (as DescribeStacks just found it) when it is an empty
    /// REVIEW_IN_PROGRESS stack. Whether it did.
    pub(crate) async fn delete_when_empty(
        &self,
        current: Option<&StackInfo>,
    ) -> Result<bool, DeployError> {
        match current {
            Some(s) if s.status == StackStatus::ReviewInProgress => {
                self.cfn
                    .delete_stack()
                    .stack_name(&s.stack_id)
                    .send()
                    .await
                    .map_err(|e| aws_error("DeleteStack", e))?;
                Ok(true)
            }
            _ => Ok(false),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use aws_sdk_cloudformation::Client;
    use aws_sdk_cloudformation::config::{BehaviorVersion, Credentials, Region};
    use aws_sdk_cloudformation::error::ErrorMetadata;
    use aws_sdk_cloudformation::operation::describe_stack_set_operation::DescribeStackSetOperationOutput;
    use aws_sdk_cloudformation::operation::stop_stack_set_operation::{
        StopStackSetOperationError, StopStackSetOperationOutput,
    };
    use aws_sdk_cloudformation::types::{StackSetOperation, StackSetOperationStatus as S};
    use aws_smithy_mocks::{
        MockResponseInterceptor, Rule, RuleMode, create_mock_http_client, mock,
    };

    use super::*;
    use crate::stack_set::CallAs;

    fn stacks(rules: &[&Rule]) -> Stacks {
        let interceptor = rules.iter().fold(
            MockResponseInterceptor::new().rule_mode(RuleMode::MatchAny),
            |i, r| i.with_rule(r),
        );
        let config = aws_sdk_cloudformation::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new("us-east-1"))
            .credentials_provider(Credentials::new("testing", "testing", None, None, "test"))
            .http_client(create_mock_http_client())
            .interceptor(interceptor)
            .build();
        Stacks::with_client(Client::from_conf(config), None, Some("us-east-1"))
    }

    fn operation() -> SetOperation {
        SetOperation {
            stack_set: "roles".into(),
            operation_id: "tsw-1".into(),
            call_as: CallAs::DelegatedAdmin,
        }
    }

    fn described(status: S) -> DescribeStackSetOperationOutput {
        DescribeStackSetOperationOutput::builder()
            .stack_set_operation(StackSetOperation::builder().status(status).build())
            .build()
    }

    fn refused(code: &'static str) -> Rule {
        mock!(Client::stop_stack_set_operation).then_error(move || {
            StopStackSetOperationError::generic(ErrorMetadata::builder().code(code).build())
        })
    }

    async fn undo(stacks: &Stacks, seconds: u64) -> Undone {
        let deadline = Deadline::after(Duration::from_secs(seconds));
        stacks
            .undo(&InFlight::StackSetOperation(operation()), &deadline)
            .await
            .unwrap()
    }

    #[tokio::test]
    async fn a_stack_set_operation_is_stopped_as_its_call_as_and_waited_for_until_stopped() {
        let stop = mock!(Client::stop_stack_set_operation)
            .match_requests(|r| {
                r.stack_set_name() == Some("roles")
                    && r.operation_id() == Some("tsw-1")
                    && r.call_as() == Some(&aws_sdk_cloudformation::types::CallAs::DelegatedAdmin)
            })
            .then_output(|| StopStackSetOperationOutput::builder().build());
        let describe = mock!(Client::describe_stack_set_operation)
            .sequence()
            .output(|| described(S::Stopping))
            .output(|| described(S::Stopped))
            .build();
        let undone = undo(&stacks(&[&stop, &describe]), 30).await;
        assert_eq!(
            undone,
            Undone::StackSetOperation {
                operation: operation(),
                status: Some(S::Stopped)
            }
        );
        assert_eq!(stop.num_calls(), 1);
        assert!(
            undone
                .to_string()
                .starts_with("stopped StackSet `roles` operation tsw-1: the instances under way"),
            "{undone}"
        );
    }

    #[tokio::test]
    async fn an_operation_that_had_ended_is_said_to_have_ended_and_one_never_known_is_named() {
        let describe =
            mock!(Client::describe_stack_set_operation).then_output(|| described(S::Succeeded));
        let ended = refused("InvalidOperationException");
        let undone = undo(&stacks(&[&ended, &describe]), 30).await;
        assert_eq!(
            undone.to_string(),
            "StackSet `roles` operation tsw-1 had already ended (SUCCEEDED) when it was to be stopped"
        );
        // Never known to CloudFormation, however long it is asked (here until the deadline).
        let never = refused("OperationNotFoundException");
        let undone = undo(&stacks(&[&never]), 3).await;
        assert_eq!(undone, Undone::NeverStarted(operation()));
        assert!(never.num_calls() > 1, "asked again: {}", never.num_calls());
        assert!(
            undone.to_string().starts_with(
                "StackSet `roles` operation tsw-1 was not known to CloudFormation when it was to be stopped"
            ) && undone.to_string().contains("--operation-id tsw-1"),
            "{undone}"
        );
    }

    /// The request that starts the operation may reach CloudFormation after the first stop: it
    /// is asked again, and stopped once known.
    #[tokio::test]
    async fn an_operation_not_known_yet_is_stopped_once_it_is() {
        let stop = mock!(Client::stop_stack_set_operation)
            .sequence()
            .error(|| {
                StopStackSetOperationError::generic(
                    ErrorMetadata::builder()
                        .code("OperationNotFoundException")
                        .build(),
                )
            })
            .output(|| StopStackSetOperationOutput::builder().build())
            .build();
        let describe =
            mock!(Client::describe_stack_set_operation).then_output(|| described(S::Stopped));
        let undone = undo(&stacks(&[&stop, &describe]), 30).await;
        assert_eq!(
            undone,
            Undone::StackSetOperation {
                operation: operation(),
                status: Some(S::Stopped)
            }
        );
        assert_eq!(stop.num_calls(), 2);
    }

    #[tokio::test]
    async fn an_operation_still_stopping_when_the_deadline_passes_is_named_with_how_to_follow_it() {
        let stop = mock!(Client::stop_stack_set_operation)
            .then_output(|| StopStackSetOperationOutput::builder().build());
        let describe =
            mock!(Client::describe_stack_set_operation).then_output(|| described(S::Stopping));
        // The wait ends REPORT_MARGIN before the cleanup's deadline.
        let undone = undo(&stacks(&[&stop, &describe]), 3).await;
        let text = undone.to_string();
        assert!(
            text.starts_with(
                "asked CloudFormation to stop StackSet `roles` operation tsw-1, which is STOPPING"
            ),
            "{text}"
        );
        assert!(
            text.ends_with(
                "`aws cloudformation describe-stack-set-operation --stack-set-name roles \
                 --operation-id tsw-1 --call-as DELEGATED_ADMIN`"
            ),
            "{text}"
        );
    }
}
