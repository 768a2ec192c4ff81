//! Reading the emulator's Lambda invocation log (`lambda-PORT/invocations.jsonl`, written by
//! `python/moto_launcher.py`): what a function's handler said when it failed, so that a check
//! can quote the worker's own error instead of sending the user to dig through files.

use std::path::Path;

/// A failed invocation: its request, the handler's error, and where its whole output is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FailedInvocation {
    pub request_id: String,
    /// `ErrorType: message` as Lambda reports it, or the last line of the handler's output
    /// when the runtime gave no message.
    pub error: String,
    /// The handler's output file (stdout and stderr).
    pub output: String,
}

/// The last failed invocation of the function named `function_name` in the log at `log`, if
/// the log exists and has one.
pub fn last_failed_invocation(log: &Path, function_name: &str) -> Option<FailedInvocation> {
    let text = std::fs::read_to_string(log).ok()?;
    text.lines()
        .rev()
        .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
        .find(|r| r["event"] == "end" && r["status"] == "error" && r["function"] == function_name)
        .map(|r| FailedInvocation {
            request_id: r["request_id"].as_str().unwrap_or_default().to_owned(),
            error: error_line(&r),
            output: r["output"].as_str().unwrap_or_default().to_owned(),
        })
}

/// The error of an `end` record on one line.
fn error_line(record: &serde_json::Value) -> String {
    let error = &record["error"];
    let message = error["errorMessage"].as_str().unwrap_or_default().trim();
    if !message.is_empty() {
        let kind = error["errorType"].as_str().unwrap_or("Error");
        return format!("{kind}: {}", message.lines().next().unwrap_or(message));
    }
    record["output_tail"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|l| l.as_str().map(str::trim))
        .rfind(|l| !l.is_empty())
        .unwrap_or("the handler failed without a message")
        .to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_last_failure_of_the_function_is_quoted() {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("invocations.jsonl");
        let lines = [
            r#"{"event": "start", "function": "f", "request_id": "r0"}"#,
            r#"{"event": "end", "function": "f", "request_id": "r1", "status": "error", "output": "/o1", "error": {"errorType": "RuntimeError", "errorMessage": "first"}}"#,
            r#"{"event": "end", "function": "f", "request_id": "r2", "status": "error", "output": "/o2", "error": {"errorType": "Sandbox.Timedout", "errorMessage": ""}, "output_tail": ["x", "ValueError: boom", ""]}"#,
            r#"{"event": "end", "function": "g", "request_id": "r3", "status": "error", "error": {"errorType": "E", "errorMessage": "other function"}}"#,
            r#"{"event": "end", "function": "f", "request_id": "r4", "status": "ok", "error": null}"#,
        ];
        std::fs::write(&log, lines.join("\n")).unwrap();
        let failed = last_failed_invocation(&log, "f").unwrap();
        assert_eq!(failed.request_id, "r2");
        assert_eq!(failed.error, "ValueError: boom");
        assert_eq!(failed.output, "/o2");
        assert_eq!(
            last_failed_invocation(&log, "g").unwrap().error,
            "E: other function"
        );
        assert_eq!(last_failed_invocation(&log, "h"), None);
        assert_eq!(last_failed_invocation(&dir.path().join("none"), "f"), None);
    }
}
