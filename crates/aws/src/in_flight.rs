//! What a deploy or destroy has under way on AWS, so that an interruption can undo what was
//! never executed and report what CloudFormation goes on with; and the deadline of every wait.

use std::fmt;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use aws_sdk_cloudformation::types::{StackSetOperationStatus, StackStatus};

use crate::stack_set::CallAs;

/// Whether a stack operation is under way. REVIEW_IN_PROGRESS is a stack that only holds a
/// change set: nothing runs. A status this SDK does not know yet counts by its name.
pub fn is_in_progress(status: &StackStatus) -> bool {
    use StackStatus as S;
    match status {
        S::CreateInProgress
        | S::DeleteInProgress
        | S::ImportInProgress
        | S::ImportRollbackInProgress
        | S::RollbackInProgress
        | S::UpdateCompleteCleanupInProgress
        | S::UpdateInProgress
        | S::UpdateRollbackCompleteCleanupInProgress
        | S::UpdateRollbackInProgress => true,
        other => newer_ending(other.as_str(), S::values(), "_IN_PROGRESS"),
    }
}

/// Whether a StackSet operation in `status` still runs (STOPPING too: its instances under way
/// finish first).
pub(crate) fn is_running(status: &StackSetOperationStatus) -> bool {
    use StackSetOperationStatus as S;
    matches!(status, S::Running | S::Queued | S::Stopping)
}

/// Whether the stack's last operation failed and its rollback did not undo that (a `_FAILED`
/// status). A status this SDK does not know yet counts by its name.
pub(crate) fn is_failed(status: &StackStatus) -> bool {
    use StackStatus as S;
    match status {
        S::CreateFailed
        | S::DeleteFailed
        | S::ImportRollbackFailed
        | S::RollbackFailed
        | S::UpdateFailed
        | S::UpdateRollbackFailed => true,
        other => newer_ending(other.as_str(), S::values(), "_FAILED"),
    }
}

/// Whether `status` is newer than the SDK (not among its `known` values) and ends with
/// `suffix`: AWS adds statuses now and then, named by the same pattern.
pub(crate) fn newer_ending(status: &str, known: &[&str], suffix: &str) -> bool {
    !known.contains(&status) && status.ends_with(suffix)
}

/// When a run gives up waiting. Every AWS request and every wait of a deploy or destroy ends
/// by it, so that nothing can hang; CloudFormation itself is not stopped by it.
#[derive(Debug, Clone, Copy)]
pub struct Deadline {
    start: Instant,
    limit: Duration,
}

impl Deadline {
    pub fn after(limit: Duration) -> Self {
        Deadline {
            start: Instant::now(),
            limit,
        }
    }

    pub fn limit(&self) -> Duration {
        self.limit
    }

    pub fn remaining(&self) -> Duration {
        self.limit.saturating_sub(self.start.elapsed())
    }

    pub fn passed(&self) -> bool {
        self.remaining().is_zero()
    }

    /// The same deadline, `by` sooner.
    pub fn sooner_by(&self, by: Duration) -> Self {
        Deadline {
            start: self.start,
            limit: self.limit.saturating_sub(by),
        }
    }

    /// Awaits `fut`, or `None` when the deadline passes first.
    pub async fn bound<T>(&self, fut: impl Future<Output = T>) -> Option<T> {
        tokio::time::timeout(self.remaining(), fut).await.ok()
    }
}

/// A stack operation CloudFormation was asked for: once accepted, it goes on by itself
/// whether or not anyone watches.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Running {
    pub stack: String,
    pub stack_id: String,
    /// The last status seen; `None` when none could be read.
    pub status: Option<StackStatus>,
}

impl fmt::Display for Running {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let Running {
            stack,
            stack_id,
            status,
        } = self;
        match status {
            Some(status) => write!(f, "stack `{stack}` ({stack_id}) is {status}")?,
            None => write!(
                f,
                "stack `{stack}` ({stack_id}) is in a status that could not be read"
            )?,
        }
        if status.as_ref().is_none_or(is_in_progress) {
            write!(
                f,
                ": CloudFormation goes on with it on its own; follow it with \
                 `aws cloudformation describe-stack-events --stack-name {stack_id}`"
            )?;
        }
        Ok(())
    }
}

/// A StackSet operation this run started: once CloudFormation accepted it, it goes on by
/// itself unless StopStackSetOperation stops it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SetOperation {
    pub stack_set: String,
    /// The ID the run gave it (CloudFormation takes it as `OperationId`).
    pub operation_id: String,
    /// How every call about it is made: as the owning account or as a delegated administrator.
    pub call_as: CallAs,
}

impl SetOperation {
    /// The AWS CLI command that follows it.
    pub fn follow(&self) -> String {
        let SetOperation {
            stack_set,
            operation_id,
            call_as,
        } = self;
        let call_as = match call_as {
            CallAs::Itself => "",
            CallAs::DelegatedAdmin => " --call-as DELEGATED_ADMIN",
        };
        format!(
            "aws cloudformation describe-stack-set-operation --stack-set-name {stack_set} \
             --operation-id {operation_id}{call_as}"
        )
    }
}

impl fmt::Display for SetOperation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "StackSet `{}` operation {}",
            self.stack_set, self.operation_id
        )
    }
}

/// What is under way, from the tool's side.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum InFlight {
    #[default]
    Nothing,
    /// A change set was asked for and not (known to be) executed.
    ChangeSet {
        stack: String,
        /// Its name until CreateChangeSet answered, then its ARN.
        change_set: String,
        stack_id: Option<String>,
        /// This run creates the stack: the change set made an empty REVIEW_IN_PROGRESS stack.
        created_stack: bool,
    },
    /// CloudFormation accepted a create, update or delete.
    Operation(Running),
    /// A StackSet operation was asked for (and possibly accepted) and has not ended.
    StackSetOperation(SetOperation),
}

impl fmt::Display for InFlight {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            InFlight::Nothing => write!(f, "nothing"),
            InFlight::ChangeSet {
                stack, change_set, ..
            } => write!(f, "change set `{change_set}` of stack `{stack}`"),
            InFlight::Operation(r) => {
                write!(f, "operation on stack `{}` ({})", r.stack, r.stack_id)
            }
            InFlight::StackSetOperation(op) => write!(f, "{op}"),
        }
    }
}

/// Where a run records what it has in flight; read by whoever interrupts it.
#[derive(Debug, Default)]
pub struct Tracker(Mutex<InFlight>);

impl Tracker {
    pub fn in_flight(&self) -> InFlight {
        self.lock().clone()
    }

    pub(crate) fn set(&self, now: InFlight) {
        *self.lock() = now;
    }

    /// Records the newest status of a running operation.
    pub(crate) fn saw_status(&self, status: &StackStatus) {
        if let InFlight::Operation(r) = &mut *self.lock() {
            r.status = Some(status.clone());
        }
    }

    /// The running operation, if any.
    pub(crate) fn running(&self) -> Option<Running> {
        match &*self.lock() {
            InFlight::Operation(r) => Some(r.clone()),
            _ => None,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, InFlight> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// What [`Stacks::undo`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Undone {
    Nothing,
    /// The change set (never executed) was deleted, and with it the empty stack when this run
    /// had created it.
    DeletedChangeSet {
        change_set: String,
        deleted_stack: Option<String>,
    },
    /// CloudFormation goes on (or went on) with this.
    StillRunning(Running),
    /// CloudFormation did not know this operation when it was to be stopped, nor for a few
    /// seconds after: its request never got through, or has not yet.
    NeverStarted(SetOperation),
    /// StopStackSetOperation was sent for this operation (or it had ended before); `status` is
    /// the last one read (`None`: none could be).
    StackSetOperation {
        operation: SetOperation,
        status: Option<StackSetOperationStatus>,
    },
}

impl fmt::Display for Undone {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Undone::Nothing => write!(f, "nothing was under way on AWS"),
            Undone::DeletedChangeSet {
                change_set,
                deleted_stack,
            } => {
                write!(f, "deleted change set `{change_set}`, never executed")?;
                if let Some(stack) = deleted_stack {
                    write!(f, ", and the empty stack `{stack}` it had created")?;
                }
                Ok(())
            }
            Undone::StillRunning(r) => write!(f, "{r}"),
            Undone::NeverStarted(operation) => write!(
                f,
                "{operation} was not known to CloudFormation when it was to be stopped: its \
                 request never got through, or is late; should it start, `{}` follows it",
                operation.follow()
            ),
            Undone::StackSetOperation { operation, status } => match status {
                Some(StackSetOperationStatus::Stopped) => write!(
                    f,
                    "stopped {operation}: the instances under way finished, the accounts not \
                     yet started were left alone"
                ),
                Some(status) if !is_running(status) => write!(
                    f,
                    "{operation} had already ended ({status}) when it was to be stopped"
                ),
                _ => write!(
                    f,
                    "asked CloudFormation to stop {operation}, which is {}: the instances under \
                     way finish, the accounts not yet started are left alone; follow it with `{}`",
                    status
                        .as_ref()
                        .map_or("in a status that could not be read", |s| s.as_str()),
                    operation.follow()
                ),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_running_operation_says_how_to_follow_it() {
        let r = Running {
            stack: "s".into(),
            stack_id: "arn:aws:cloudformation:us-east-1:1:stack/s/x".into(),
            status: Some(StackStatus::UpdateInProgress),
        };
        let text = r.to_string();
        assert!(
            text.contains("is UPDATE_IN_PROGRESS: CloudFormation goes on"),
            "{text}"
        );
        assert!(
            text.contains("--stack-name arn:aws:cloudformation"),
            "{text}"
        );
        let settled = Running {
            status: Some(StackStatus::UpdateComplete),
            ..r
        };
        assert!(!settled.to_string().contains("goes on"));
    }

    #[test]
    fn a_running_operation_whose_status_was_not_read_says_how_to_follow_it() {
        let r = Running {
            stack: "s".into(),
            stack_id: "id".into(),
            status: None,
        };
        let text = r.to_string();
        assert!(
            text.starts_with(
                "stack `s` (id) is in a status that could not be read: CloudFormation goes on"
            ),
            "{text}"
        );
    }

    #[test]
    fn statuses_newer_than_the_sdk_count_by_their_name() {
        assert!(is_in_progress(&StackStatus::UpdateRollbackInProgress));
        assert!(!is_in_progress(&StackStatus::ReviewInProgress));
        assert!(!is_in_progress(&StackStatus::UpdateComplete));
        assert!(is_in_progress(&StackStatus::from("MOVE_IN_PROGRESS")));
        assert!(!is_in_progress(&StackStatus::from("MOVE_COMPLETE")));
        assert!(is_failed(&StackStatus::UpdateRollbackFailed));
        assert!(!is_failed(&StackStatus::RollbackComplete));
        assert!(is_failed(&StackStatus::from("MOVE_FAILED")));
    }

    #[test]
    fn a_deadline_counts_down() {
        let d = Deadline::after(Duration::from_secs(60));
        assert!(!d.passed());
        assert!(d.remaining() <= Duration::from_secs(60));
        assert!(Deadline::after(Duration::ZERO).passed());
    }
}
