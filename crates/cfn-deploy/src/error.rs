use aws_sdk_cloudformation::error::{DisplayErrorContext, ProvideErrorMetadata};

use crate::stack::Event;

#[derive(Debug, thiserror::Error)]
pub enum DeployError {
    /// An AWS call failed.
    #[error("{action} failed: {message}")]
    Aws {
        action: &'static str,
        code: Option<String>,
        message: String,
    },
    #[error(
        "stack `{stack}` is in {status}: its creation failed and CloudFormation cannot update it; \
         run the deploy again with `--replace-failed` to delete it and create it anew"
    )]
    NeedsReplace { stack: String, status: String },
    #[error("stack `{stack}` is busy ({status}); wait for it to settle and run the command again")]
    Busy { stack: String, status: String },
    #[error("stack `{stack}` is in {status}, which needs a hand: {hint}")]
    Stuck {
        stack: String,
        status: String,
        hint: &'static str,
    },
    #[error("{}", describe_failure(stack, status, failures))]
    Failed {
        stack: String,
        status: String,
        failures: Vec<Event>,
    },
    #[error("change set for stack `{stack}` failed: {reason}")]
    ChangeSetFailed { stack: String, reason: String },
    #[error(
        "stack `{stack}` ({stack_id}) no longer exists: it was deleted outside this tool, or its \
         emulator was restarted; nothing was created"
    )]
    RecordedStackGone { stack: String, stack_id: String },
    #[error("deploy of stack `{stack}` declined; nothing was changed")]
    Declined { stack: String },
}

fn describe_failure(stack: &str, status: &str, failures: &[Event]) -> String {
    let mut out = format!("stack `{stack}` ended in {status}");
    if failures.is_empty() {
        out.push_str(" (CloudFormation gave no failed resource)");
    }
    for e in failures {
        out.push_str(&format!(
            "\n  {} {} ({}): {}",
            e.status,
            e.logical_id,
            e.resource_type,
            e.reason.as_deref().unwrap_or("no reason given")
        ));
    }
    out
}

impl DeployError {
    /// The AWS error code, when the error came from AWS.
    pub fn code(&self) -> Option<&str> {
        match self {
            DeployError::Aws { code, .. } => code.as_deref(),
            _ => None,
        }
    }
}

/// Turns an SDK error into a [`DeployError::Aws`] that names the call, the code and the message,
/// or the whole cause chain when the request never got an answer (e.g. nothing listening).
pub(crate) fn aws_error<E>(action: &'static str, err: E) -> DeployError
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    let code = err.code().map(str::to_owned);
    let message = match (err.code(), err.message()) {
        (Some(code), Some(msg)) => format!("{code}: {msg}"),
        (None, Some(msg)) => msg.to_owned(),
        _ => format!("{}", DisplayErrorContext(&err)),
    };
    DeployError::Aws {
        action,
        code,
        message,
    }
}
