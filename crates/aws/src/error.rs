use std::error::Error;
use std::fmt;
use std::time::Duration;

use aws_sdk_cloudformation::config::http::HttpResponse;
use aws_sdk_cloudformation::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_cloudformation::types::StackStatus;

use crate::in_flight::Running;
use crate::model::Event;

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
    NeedsReplace { stack: String, status: StackStatus },
    #[error("stack `{stack}` is in {status}, which needs a hand: {hint}")]
    Stuck {
        stack: String,
        status: StackStatus,
        hint: &'static str,
    },
    #[error("{}", describe_failure(stack, status, failures))]
    Failed {
        stack: String,
        status: StackStatus,
        failures: Vec<Event>,
    },
    #[error("change set for stack `{stack}` failed: {reason}")]
    ChangeSetFailed { stack: String, reason: String },
    #[error(
        "stack `{stack}` ({stack_id}) no longer exists: it was deleted outside this tool, or its \
         emulator was restarted; nothing was created"
    )]
    RecordedStackGone { stack: String, stack_id: String },
    /// A stack (or StackSet: `kind`) of the name exists that nothing marks as this tool's
    /// ([`crate::Owner`]); `key` is the descriptor's key that names it.
    #[error(
        "{kind} `{stack}` ({stack_id}) exists but is not recognisably this tool's: no [outputs] \
         record its ID, it has no `{tag}` tag and its template is not this tool's, so it is \
         someone else's; nothing was changed. Choose another `{key}`, or, if this environment \
         really owns it, take it over with `deploy --adopt-stack` (`plan` and `destroy` take the \
         flag too)"
    )]
    NotOurs {
        kind: &'static str,
        stack: String,
        stack_id: String,
        tag: String,
        key: &'static str,
    },
    #[error("deploy of stack `{stack}` declined; nothing was changed")]
    Declined { stack: String },
    /// The deadline passed: `waiting_for` says on what, `running` what CloudFormation goes on
    /// with (when a stack operation was under way).
    #[error("timed out after {} waiting for {waiting_for}{}", format_duration(*after), running.as_ref().map(|r| format!("; {r}")).unwrap_or_default())]
    TimedOut {
        waiting_for: String,
        after: Duration,
        running: Option<Running>,
    },
    /// A stack operation was under way when watching it failed; CloudFormation goes on with it.
    #[error("{cause}; {running}")]
    Unsettled {
        cause: Box<DeployError>,
        running: Running,
    },
}

fn describe_failure(stack: &str, status: &StackStatus, failures: &[Event]) -> String {
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

    /// The stack operation CloudFormation goes on with, when this error left one running: the
    /// stack did not fail, the tool only stopped watching it.
    pub fn still_running(&self) -> Option<&Running> {
        match self {
            DeployError::TimedOut { running, .. } => running.as_ref(),
            DeployError::Unsettled { running, .. } => Some(running),
            _ => None,
        }
    }
}

/// `90s`, `30m`, `2h`, `1m30s`: how the `--timeout` flag takes it.
pub fn format_duration(d: Duration) -> String {
    let secs = d.as_secs();
    if secs == 0 {
        return format!("{}ms", d.as_millis());
    }
    let (h, m, s) = (secs / 3600, secs / 60 % 60, secs % 60);
    [(h, "h"), (m, "m"), (s, "s")]
        .iter()
        .filter(|(n, _)| *n > 0)
        .map(|(n, unit)| format!("{n}{unit}"))
        .collect()
}

/// Error codes AWS uses for throttling (the SDK retries the same ones).
const THROTTLING: &[&str] = &[
    "Throttling",
    "ThrottlingException",
    "ThrottledException",
    "RequestThrottledException",
    "TooManyRequestsException",
    "RequestLimitExceeded",
    "RequestTimeout",
    "RequestTimeoutException",
];

/// Whether `err` may go away by itself: throttling, a 5xx answer, a timeout, a dropped
/// connection or an unreadable answer. A loop that polls a stack keeps polling through these.
pub(crate) fn is_transient<E: ProvideErrorMetadata>(err: &SdkError<E, HttpResponse>) -> bool {
    match err {
        SdkError::TimeoutError(_) | SdkError::ResponseError(_) => true,
        SdkError::DispatchFailure(f) => !f.is_user(),
        SdkError::ServiceError(ctx) => {
            ctx.raw().status().is_server_error()
                || ctx.err().code().is_some_and(|c| THROTTLING.contains(&c))
        }
        _ => false,
    }
}

/// Turns an SDK error into a [`DeployError::Aws`] that names the call, the code and the message,
/// or the cause chain when the request never got an answer (nothing listening, no credentials),
/// with its hint (see `explain.rs`: for credentials, and for answers whose usual cause is the
/// descriptor's, `explain::answer_hint`).
pub fn aws_error<E>(action: &'static str, err: E) -> DeployError
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    let code = err.code().map(str::to_owned);
    let message = match (err.code(), err.message()) {
        (Some(code), Some(msg)) => format!("{code}: {msg}"),
        (None, Some(msg)) => msg.to_owned(),
        _ => message_chain(&err),
    };
    let message = match crate::explain::answer_hint(code.as_deref(), &message) {
        Some(hint) => format!("{message}; {hint}"),
        None => message,
    };
    DeployError::Aws {
        action,
        code,
        message,
    }
}

/// Labels the SDK puts in front of the real cause, which say nothing to a reader.
const LABELS: &[&str] = &[
    "dispatch failure",
    "other",
    "io error",
    "user error",
    "service error",
    "unhandled error",
    "failed to construct request",
];

/// `err` and each of its sources, joined with `: `; the SDK's bare labels and a source that
/// repeats the text before it are left out. Any [`Hint`] in the chain is appended, after `; `.
pub fn message_chain(err: &(dyn Error + 'static)) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut hints: Vec<&str> = Vec::new();
    let mut next = Some(err);
    while let Some(e) = next {
        if let Some(hint) = e.downcast_ref::<Hint>() {
            hints.push(&hint.hint);
        }
        let text = e.to_string();
        let label = e.source().is_some() && LABELS.contains(&text.as_str());
        if !label && !text.is_empty() && parts.last() != Some(&text) {
            parts.push(text);
        }
        next = e.source();
    }
    let mut out = parts.join(": ");
    for hint in hints {
        out.push_str("; ");
        out.push_str(hint);
    }
    out
}

/// An error with the fix for its usual cause. It reads as the error it wraps (so
/// [`message_chain`] shows that error once), and adds its hint at the end.
#[derive(Debug)]
pub struct Hint {
    hint: String,
    source: Box<dyn Error + Send + Sync>,
}

impl Hint {
    pub fn new(hint: String, source: impl Error + Send + Sync + 'static) -> Self {
        Hint {
            hint,
            source: Box::new(source),
        }
    }
}

impl fmt::Display for Hint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.source, f)
    }
}

impl Error for Hint {
    fn source(&self) -> Option<&(dyn Error + 'static)> {
        self.source.source()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug)]
    struct Link(&'static str, Option<Box<Link>>);

    impl fmt::Display for Link {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str(self.0)
        }
    }

    impl Error for Link {
        fn source(&self) -> Option<&(dyn Error + 'static)> {
            self.1.as_deref().map(|l| l as &(dyn Error + 'static))
        }
    }

    fn links(texts: &[&'static str]) -> Link {
        let (last, rest) = texts.split_last().unwrap();
        rest.iter().rev().fold(Link(last, None), |inner, text| {
            Link(text, Some(Box::new(inner)))
        })
    }

    #[test]
    fn the_chain_drops_bare_labels_and_repeats() {
        let err = links(&[
            "dispatch failure",
            "io error",
            "client error (Connect)",
            "tcp connect error",
            "Connection refused (os error 111)",
            "Connection refused (os error 111)",
        ]);
        assert_eq!(
            message_chain(&err),
            "client error (Connect): tcp connect error: Connection refused (os error 111)"
        );
        // A label that is the whole message is kept.
        assert_eq!(message_chain(&links(&["other"])), "other");
    }
}
