//! Following one StackSet operation until it ends: `DescribeStackSetOperation` for its status,
//! `ListStackSetOperationResults` for each instance's, polled with the stack watcher's back-off,
//! each instance reported once per change of its status (account, region, status, reason).

use std::collections::BTreeMap;

use aws_sdk_cloudformation::primitives::DateTimeFormat;
use aws_sdk_cloudformation::types::{
    StackSetOperationResultStatus, StackSetOperationResultSummary, StackSetOperationStatus,
};

use crate::error::{DeployError, aws_error, is_transient};
use crate::in_flight::Deadline;
use crate::stack::Backoff;
use crate::stack_set::{CallAs, StackSets};

/// Shows a StackSet deploy as it goes.
pub trait OperationObserver {
    /// A step started (e.g. "creating StackSet `roles`").
    fn step(&mut self, what: &str);
    /// An instance's status in the running operation changed (or was seen for the first time).
    fn instance(&mut self, result: &InstanceResult);
}

/// One account and region of an operation, as `ListStackSetOperationResults` reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InstanceResult {
    pub account: String,
    pub region: String,
    /// PENDING, RUNNING, SUCCEEDED, FAILED or CANCELLED.
    pub status: String,
    pub reason: Option<String>,
    pub organizational_unit_id: Option<String>,
}

impl InstanceResult {
    pub fn failed(&self) -> bool {
        self.status == StackSetOperationResultStatus::Failed.as_str()
    }
}

/// How an operation ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OperationOutcome {
    pub operation_id: String,
    /// CREATE, UPDATE, DELETE or DETECT_DRIFT.
    pub action: String,
    /// SUCCEEDED, FAILED or STOPPED.
    pub status: String,
    /// CloudFormation's reason for a FAILED operation.
    pub reason: Option<String>,
    /// RFC 3339 time it ended.
    pub ended_at: Option<String>,
    /// Every account and region of the operation, in the order CloudFormation lists them.
    pub results: Vec<InstanceResult>,
}

impl OperationOutcome {
    /// Whether the operation as a whole succeeded (instances may still have failed within the
    /// failure tolerance: see [`OperationOutcome::failed_instances`]).
    pub fn succeeded(&self) -> bool {
        self.status == StackSetOperationStatus::Succeeded.as_str()
    }

    /// The instances that failed, with their reasons.
    pub fn failed_instances(&self) -> impl Iterator<Item = &InstanceResult> {
        self.results.iter().filter(|r| r.failed())
    }
}

/// Whether an operation in `status` still runs (`None`: no status read yet).
fn running(status: Option<&StackSetOperationStatus>) -> bool {
    status.is_none_or(crate::in_flight::is_running)
}

fn result(r: &StackSetOperationResultSummary) -> InstanceResult {
    InstanceResult {
        account: r.account().unwrap_or_default().to_owned(),
        region: r.region().unwrap_or_default().to_owned(),
        status: r
            .status()
            .map(|s| s.as_str().to_owned())
            .unwrap_or_default(),
        reason: r.status_reason().map(str::to_owned),
        organizational_unit_id: r.organizational_unit_id().map(str::to_owned),
    }
}

impl StackSets {
    /// Waits until operation `operation_id` of StackSet `name` ends, reporting each instance
    /// whose status changes. Throttling, 5xx answers and dropped connections only slow the
    /// polling down (the operation goes on regardless); the deadline ends the wait.
    pub async fn wait(
        &self,
        name: &str,
        call_as: CallAs,
        operation_id: &str,
        deadline: &Deadline,
        obs: &mut dyn OperationObserver,
    ) -> Result<OperationOutcome, DeployError> {
        let mut backoff = Backoff::new();
        let mut seen: BTreeMap<(String, String), (String, Option<String>)> = BTreeMap::new();
        let waiting_for = || {
            format!(
                "StackSet `{name}` operation {operation_id} to end (it goes on in CloudFormation: \
                 `aws cloudformation describe-stack-set-operation --stack-set-name {name} --operation-id {operation_id}`)"
            )
        };
        loop {
            if deadline.passed() {
                return Err(DeployError::TimedOut {
                    waiting_for: waiting_for(),
                    after: deadline.limit(),
                    running: None,
                });
            }
            let request = self
                .cfn
                .describe_stack_set_operation()
                .stack_set_name(name)
                .operation_id(operation_id)
                .call_as(call_as.sdk())
                .send();
            let operation = match deadline.bound(request).await {
                Some(Ok(out)) => out.stack_set_operation,
                Some(Err(e)) if is_transient(&e) => {
                    backoff.failed();
                    backoff.wait().await;
                    continue;
                }
                Some(Err(e)) => return Err(aws_error("DescribeStackSetOperation", e)),
                None => continue,
            };
            backoff.answered();
            let status = operation.as_ref().and_then(|o| o.status());
            let done = !running(status);
            // Read after the status: once it has ended, every result is final.
            let results = match self.results(name, call_as, operation_id, deadline).await {
                Ok(results) => results,
                Err(e) if e.transient => {
                    backoff.failed();
                    backoff.wait().await;
                    continue;
                }
                Err(e) => return Err(e.error),
            };
            for r in &results {
                let key = (r.account.clone(), r.region.clone());
                let now = (r.status.clone(), r.reason.clone());
                if seen.get(&key) != Some(&now) {
                    obs.instance(r);
                    seen.insert(key, now);
                }
            }
            if done {
                let operation = operation.unwrap_or_else(|| {
                    aws_sdk_cloudformation::types::StackSetOperation::builder().build()
                });
                return Ok(OperationOutcome {
                    operation_id: operation_id.to_owned(),
                    action: operation
                        .action()
                        .map(|a| a.as_str().to_owned())
                        .unwrap_or_default(),
                    status: operation
                        .status()
                        .map(|s| s.as_str().to_owned())
                        .unwrap_or_default(),
                    reason: operation.status_reason().map(str::to_owned),
                    ended_at: operation
                        .end_timestamp()
                        .and_then(|t| t.fmt(DateTimeFormat::DateTime).ok()),
                    results,
                });
            }
            backoff.wait().await;
        }
    }

    /// Waits for every operation that runs on the StackSet (one started by anyone: an
    /// interrupted deploy, an automatic deployment), showing each: CloudFormation refuses a
    /// second operation meanwhile (OperationInProgressException). Returns what each ended with.
    pub async fn settled(
        &self,
        name: &str,
        call_as: CallAs,
        deadline: &Deadline,
        obs: &mut dyn OperationObserver,
    ) -> Result<Vec<OperationOutcome>, DeployError> {
        let mut waited = Vec::new();
        let mut token = None;
        let mut busy = Vec::new();
        loop {
            let request = self
                .cfn
                .list_stack_set_operations()
                .stack_set_name(name)
                .call_as(call_as.sdk())
                .set_next_token(token)
                .send();
            let page = match deadline.bound(request).await {
                Some(Ok(page)) => page,
                Some(Err(e)) => return Err(aws_error("ListStackSetOperations", e)),
                None => {
                    return Err(DeployError::TimedOut {
                        waiting_for: "an answer to ListStackSetOperations".into(),
                        after: deadline.limit(),
                        running: None,
                    });
                }
            };
            busy.extend(
                page.summaries()
                    .iter()
                    .filter(|o| running(o.status()))
                    .filter_map(|o| {
                        Some((
                            o.operation_id()?.to_owned(),
                            o.action()
                                .map(|a| a.as_str().to_owned())
                                .unwrap_or_default(),
                        ))
                    }),
            );
            token = page.next_token().map(str::to_owned);
            if token.is_none() {
                break;
            }
        }
        for (id, action) in busy {
            obs.step(&format!(
                "waiting for StackSet `{name}` operation {id} ({action}), which is running, to end"
            ));
            waited.push(self.wait(name, call_as, &id, deadline, obs).await?);
        }
        Ok(waited)
    }

    /// Every result of the operation so far (all pages).
    async fn results(
        &self,
        name: &str,
        call_as: CallAs,
        operation_id: &str,
        deadline: &Deadline,
    ) -> Result<Vec<InstanceResult>, Polled> {
        let mut out = Vec::new();
        let mut token = None;
        loop {
            let request = self
                .cfn
                .list_stack_set_operation_results()
                .stack_set_name(name)
                .operation_id(operation_id)
                .call_as(call_as.sdk())
                .set_next_token(token)
                .send();
            let page = match deadline.bound(request).await {
                Some(Ok(page)) => page,
                Some(Err(e)) => {
                    return Err(Polled {
                        transient: is_transient(&e),
                        error: aws_error("ListStackSetOperationResults", e),
                    });
                }
                None => {
                    return Err(Polled {
                        transient: true,
                        error: DeployError::TimedOut {
                            waiting_for: "ListStackSetOperationResults".into(),
                            after: deadline.limit(),
                            running: None,
                        },
                    });
                }
            };
            out.extend(page.summaries().iter().map(result));
            token = page.next_token().map(str::to_owned);
            if token.is_none() {
                return Ok(out);
            }
        }
    }
}

/// A failed poll, and whether it may go away by itself.
struct Polled {
    transient: bool,
    error: DeployError,
}

#[cfg(test)]
mod tests {
    use aws_sdk_cloudformation::Client;
    use aws_sdk_cloudformation::config::{BehaviorVersion, Credentials, Region};
    use aws_sdk_cloudformation::error::ErrorMetadata;
    use aws_sdk_cloudformation::operation::describe_stack_set_operation::{
        DescribeStackSetOperationError, DescribeStackSetOperationOutput,
    };
    use aws_sdk_cloudformation::operation::list_stack_set_operation_results::ListStackSetOperationResultsOutput;
    use aws_sdk_cloudformation::types::{StackSetOperation, StackSetOperationAction};
    use aws_smithy_mocks::{MockResponseInterceptor, RuleMode, create_mock_http_client, mock};

    use super::*;

    /// Records what the watcher reports.
    #[derive(Default)]
    struct Seen(Vec<(String, String, Option<String>)>);

    impl OperationObserver for Seen {
        fn step(&mut self, _: &str) {}
        fn instance(&mut self, r: &InstanceResult) {
            self.0
                .push((r.account.clone(), r.status.clone(), r.reason.clone()));
        }
    }

    fn operation(status: StackSetOperationStatus) -> DescribeStackSetOperationOutput {
        DescribeStackSetOperationOutput::builder()
            .stack_set_operation(
                StackSetOperation::builder()
                    .operation_id("op-1")
                    .action(StackSetOperationAction::Create)
                    .status(status)
                    .build(),
            )
            .build()
    }

    fn results(
        of: &[(&str, StackSetOperationResultStatus, Option<&str>)],
    ) -> ListStackSetOperationResultsOutput {
        ListStackSetOperationResultsOutput::builder()
            .set_summaries(Some(
                of.iter()
                    .map(|(account, status, reason)| {
                        StackSetOperationResultSummary::builder()
                            .account(*account)
                            .region("us-east-1")
                            .status(status.clone())
                            .set_status_reason(reason.map(str::to_owned))
                            .build()
                    })
                    .collect(),
            ))
            .build()
    }

    #[tokio::test]
    async fn each_instance_is_reported_once_per_status_and_throttling_only_slows_the_polling() {
        use StackSetOperationResultStatus as R;
        let described = mock!(Client::describe_stack_set_operation)
            .sequence()
            .output(|| operation(StackSetOperationStatus::Running))
            .error(|| {
                DescribeStackSetOperationError::generic(
                    ErrorMetadata::builder()
                        .code("Throttling")
                        .message("Rate exceeded")
                        .build(),
                )
            })
            .output(|| operation(StackSetOperationStatus::Running))
            .output(|| operation(StackSetOperationStatus::Succeeded))
            .repeatedly()
            .build();
        let listed = mock!(Client::list_stack_set_operation_results)
            .sequence()
            .output(|| {
                results(&[
                    ("111111111111", R::Running, None),
                    ("222222222222", R::Running, None),
                ])
            })
            .output(|| {
                results(&[
                    ("111111111111", R::Succeeded, None),
                    ("222222222222", R::Running, None),
                ])
            })
            .output(|| {
                results(&[
                    ("111111111111", R::Succeeded, None),
                    (
                        "222222222222",
                        R::Failed,
                        Some("Role with name R already exists."),
                    ),
                ])
            })
            .repeatedly()
            .build();
        let interceptor = MockResponseInterceptor::new()
            .rule_mode(RuleMode::MatchAny)
            .with_rule(&described)
            .with_rule(&listed);
        let config = aws_sdk_cloudformation::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new("us-east-1"))
            .credentials_provider(Credentials::new("testing", "testing", None, None, "test"))
            .http_client(create_mock_http_client())
            .interceptor(interceptor)
            // The watcher is the retry: the SDK's own would hide the throttling from it.
            .retry_config(aws_sdk_cloudformation::config::retry::RetryConfig::disabled())
            .build();
        let org = aws_sdk_organizations::Client::from_conf(
            aws_sdk_organizations::Config::builder()
                .behavior_version(aws_sdk_organizations::config::BehaviorVersion::latest())
                .region(aws_sdk_organizations::config::Region::new("us-east-1"))
                .build(),
        );
        let sets = StackSets {
            cfn: Client::from_conf(config),
            org,
        };
        let mut seen = Seen::default();
        let deadline = Deadline::after(std::time::Duration::from_secs(30));
        let outcome = sets
            .wait("roles", CallAs::Itself, "op-1", &deadline, &mut seen)
            .await
            .unwrap();
        assert!(outcome.succeeded(), "{outcome:?}");
        let failed: Vec<&str> = outcome
            .failed_instances()
            .map(|r| r.account.as_str())
            .collect();
        assert_eq!(failed, ["222222222222"]);
        let s = |a: &str, st: &str, r: Option<&str>| {
            (a.to_owned(), st.to_owned(), r.map(str::to_owned))
        };
        assert_eq!(
            seen.0,
            [
                s("111111111111", "RUNNING", None),
                s("222222222222", "RUNNING", None),
                s("111111111111", "SUCCEEDED", None),
                s(
                    "222222222222",
                    "FAILED",
                    Some("Role with name R already exists.")
                ),
            ]
        );
    }
}
