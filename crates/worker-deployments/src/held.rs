//! The compute config a Worker Deployment Version holds, as the server itself recorded it.
//!
//! `describe-version` (CLI 1.9) prints the provider's type but not its details (function ARN,
//! role ARN, external ID), and nothing prints the server's validation of them. Both live in the
//! history of the version's Worker Controller Instance workflow
//! (`temporal-sys-worker-controller-instance:DEPLOYMENT:BUILD_ID`, in the version's namespace):
//! each accepted `update-worker-controller-instance` update completes with the spec the version
//! now holds, and each `ValidateSpec` activity (at registration and every
//! `workercontroller.periodic_validation_interval_s`) is the server's own check of a spec; a
//! periodic validation ends the run in a continue-as-new whose input carries the spec and the
//! validation's outcome (`state.spec`, `state.validation_state`). This
//! module reads that history; its shape is the server's, so anything it cannot find is `None`,
//! never a guess.

use base64::Engine as _;
use serde_json::Value;

/// The workflow ID of a version's Worker Controller Instance.
pub fn instance_workflow_id(deployment: &str, build_id: &str) -> String {
    format!("temporal-sys-worker-controller-instance:{deployment}:{build_id}")
}

/// The Lambda compute config a version holds, and the server's last validation of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeldCompute {
    pub function_arn: String,
    pub role_arn: String,
    pub external_id: String,
    pub validation: Validation,
}

/// The outcome of the server's last `ValidateSpec` of the held config.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Validation {
    Passed {
        at: String,
    },
    Failed {
        at: String,
        message: String,
    },
    /// Scheduled, or not found in this run's history.
    Unknown,
}

impl HeldCompute {
    /// From `temporal workflow show --output json` of the instance workflow: the spec of its last
    /// completed update (or the state it was started with, after a continue-as-new), and the
    /// last validation of that spec. `None` when the history holds no Lambda config.
    pub fn from_history(history: &Value) -> Option<Self> {
        let events = history.get("events")?.as_array()?;
        let mut held: Option<Value> = None;
        let mut validations: Vec<(String, Value, Validation)> = Vec::new();
        for event in events {
            let id = event["eventId"].as_str().unwrap_or_default().to_owned();
            let at = event["eventTime"].as_str().unwrap_or_default().to_owned();
            match event["eventType"].as_str().unwrap_or_default() {
                "EVENT_TYPE_WORKFLOW_EXECUTION_STARTED" => {
                    let input =
                        first_payload(&event["workflowExecutionStartedEventAttributes"]["input"]);
                    // After a continue-as-new (every periodic validation ends in one), the
                    // run starts from the state it carried over: the spec and its validation.
                    let state = input.as_ref().and_then(|i| i.get("state"));
                    if let Some(spec) = state.and_then(|s| s.get("spec")) {
                        held = Some(spec.clone());
                        if let Some(v) =
                            state.and_then(|s| carried_validation(&s["validation_state"]))
                        {
                            validations.push((String::new(), spec.clone(), v));
                        }
                    }
                }
                "EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_COMPLETED" => {
                    let outcome = &event["workflowExecutionUpdateCompletedEventAttributes"]["outcome"]
                        ["success"];
                    if let Some(spec) = first_payload(outcome).and_then(|o| o.get("spec").cloned())
                    {
                        held = Some(spec);
                    }
                }
                "EVENT_TYPE_ACTIVITY_TASK_SCHEDULED" => {
                    let attrs = &event["activityTaskScheduledEventAttributes"];
                    if attrs["activityType"]["name"] == "ValidateSpec"
                        && let Some(spec) =
                            first_payload(&attrs["input"]).and_then(|i| i.get("spec").cloned())
                    {
                        validations.push((id, spec, Validation::Unknown));
                    }
                }
                kind => {
                    if let Some((scheduled, outcome)) = activity_outcome(kind, event, at)
                        && let Some(v) = validations.iter_mut().find(|v| v.0 == scheduled)
                    {
                        v.2 = outcome;
                    }
                }
            }
        }
        let spec = held?;
        let validation = validations
            .into_iter()
            .rev()
            .find(|(_, validated, _)| *validated == spec)
            .map_or(Validation::Unknown, |v| v.2);
        Self::of_spec(&spec, validation)
    }

    /// The `aws-lambda` provider config of a spec's scaling groups.
    fn of_spec(spec: &Value, validation: Validation) -> Option<Self> {
        let groups = spec.get("scaling_group_specs")?.as_object()?;
        let compute = groups
            .values()
            .map(|g| &g["compute"])
            .find(|c| c["provider_type"] == "aws-lambda")?;
        let config = payload(&compute["config"])?;
        let field = |name: &str| config.get(name)?.as_str().map(str::to_owned);
        Some(HeldCompute {
            function_arn: field("arn")?,
            role_arn: field("role")?,
            external_id: field("role_external_id").unwrap_or_default(),
            validation,
        })
    }
}

/// The validation a run carried over: `{"last_validation_time", "status", "err_message"}`.
fn carried_validation(state: &Value) -> Option<Validation> {
    let at = state["last_validation_time"].as_str()?.to_owned();
    Some(match state["status"].as_str()? {
        "success" => Validation::Passed { at },
        _ => Validation::Failed {
            at,
            message: state["err_message"].as_str().unwrap_or("failed").to_owned(),
        },
    })
}

/// `(scheduled event ID, outcome)` of an activity's closing event.
fn activity_outcome(kind: &str, event: &Value, at: String) -> Option<(String, Validation)> {
    let (attrs, passed) = match kind {
        "EVENT_TYPE_ACTIVITY_TASK_COMPLETED" => ("activityTaskCompletedEventAttributes", true),
        "EVENT_TYPE_ACTIVITY_TASK_FAILED" => ("activityTaskFailedEventAttributes", false),
        "EVENT_TYPE_ACTIVITY_TASK_TIMED_OUT" => ("activityTaskTimedOutEventAttributes", false),
        _ => return None,
    };
    let attrs = &event[attrs];
    let scheduled = attrs["scheduledEventId"].as_str()?.to_owned();
    let outcome = if passed {
        Validation::Passed { at }
    } else {
        let message = failure_chain(&attrs["failure"]).unwrap_or_else(|| kind.to_owned());
        Validation::Failed { at, message }
    };
    Some((scheduled, outcome))
}

/// A failure's message with its causes', `outer: inner`.
fn failure_chain(failure: &Value) -> Option<String> {
    let mut parts = Vec::new();
    let mut current = failure;
    while let Some(message) = current.get("message").and_then(Value::as_str) {
        parts.push(message.to_owned());
        current = &current["cause"];
    }
    (!parts.is_empty()).then(|| parts.join(": "))
}

/// The first payload of `{"payloads": [...]}`, decoded.
fn first_payload(payloads: &Value) -> Option<Value> {
    payload(payloads.get("payloads")?.get(0)?)
}

/// A `json/plain` payload: `data` is base64 of JSON as the CLI prints it, or already JSON.
fn payload(payload: &Value) -> Option<Value> {
    match payload.get("data")? {
        Value::String(b64) => {
            let bytes = base64::engine::general_purpose::STANDARD.decode(b64).ok()?;
            serde_json::from_slice(&bytes).ok()
        }
        other => Some(other.clone()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn data(value: &Value) -> Value {
        let b64 = base64::engine::general_purpose::STANDARD.encode(value.to_string());
        json!({"metadata": {"encoding": "anNvbi9wbGFpbg=="}, "data": b64})
    }

    fn spec(function: &str, external_id: &str) -> Value {
        let config = json!({"arn": function, "role": "arn:aws:iam::1:role/r", "role_external_id": external_id});
        json!({"scaling_group_specs": {"default": {"task_types": null, "compute": {
            "provider_type": "aws-lambda", "config": data(&config)}, "scaling": {"scaling_algorithm": "no-sync"}}}})
    }

    fn validate(id: &str, spec: &Value) -> Value {
        json!({"eventId": id, "eventType": "EVENT_TYPE_ACTIVITY_TASK_SCHEDULED",
            "activityTaskScheduledEventAttributes": {"activityType": {"name": "ValidateSpec"},
            "input": {"payloads": [data(&json!({"namespace_name": "orders", "spec": spec}))]}}})
    }

    fn updated(spec: &Value) -> Value {
        json!({"eventId": "90", "eventType": "EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_COMPLETED",
            "workflowExecutionUpdateCompletedEventAttributes": {"outcome": {"success": {
            "payloads": [data(&json!({"spec": spec}))]}}}})
    }

    #[test]
    fn the_last_completed_update_is_held_and_its_last_validation_counts() {
        let first = spec("arn:fn-1", "ext-1");
        let second = spec("arn:fn-2", "ext-2");
        let history = json!({"events": [
            validate("10", &first),
            {"eventId": "14", "eventTime": "T1", "eventType": "EVENT_TYPE_ACTIVITY_TASK_COMPLETED",
             "activityTaskCompletedEventAttributes": {"scheduledEventId": "10"}},
            updated(&first),
            validate("34", &second),
            {"eventId": "36", "eventTime": "T2", "eventType": "EVENT_TYPE_ACTIVITY_TASK_COMPLETED",
             "activityTaskCompletedEventAttributes": {"scheduledEventId": "34"}},
            updated(&second),
            validate("50", &second),
            {"eventId": "52", "eventTime": "T3", "eventType": "EVENT_TYPE_ACTIVITY_TASK_FAILED",
             "activityTaskFailedEventAttributes": {"scheduledEventId": "50", "failure": {
                "message": "cannot connect to the compute provider", "cause": {"message": "AccessDenied"}}}},
        ]});
        let held = HeldCompute::from_history(&history).unwrap();
        assert_eq!(held.function_arn, "arn:fn-2");
        assert_eq!(held.role_arn, "arn:aws:iam::1:role/r");
        assert_eq!(held.external_id, "ext-2");
        assert_eq!(
            held.validation,
            Validation::Failed {
                at: "T3".into(),
                message: "cannot connect to the compute provider: AccessDenied".into()
            }
        );
    }

    #[test]
    fn a_refused_update_leaves_the_held_config() {
        let held_spec = spec("arn:fn-1", "ext-1");
        let refused = spec("arn:fn-2", "ext-2");
        let history = json!({"events": [
            validate("10", &held_spec),
            {"eventId": "11", "eventTime": "T1", "eventType": "EVENT_TYPE_ACTIVITY_TASK_COMPLETED",
             "activityTaskCompletedEventAttributes": {"scheduledEventId": "10"}},
            updated(&held_spec),
            validate("20", &refused),
            {"eventId": "21", "eventTime": "T2", "eventType": "EVENT_TYPE_ACTIVITY_TASK_FAILED",
             "activityTaskFailedEventAttributes": {"scheduledEventId": "20", "failure": {"message": "no"}}},
        ]});
        let held = HeldCompute::from_history(&history).unwrap();
        assert_eq!(held.function_arn, "arn:fn-1");
        assert_eq!(held.validation, Validation::Passed { at: "T1".into() });
    }

    #[test]
    fn a_continued_run_holds_the_spec_and_validation_it_carried_over() {
        let held_spec = spec("arn:fn-1", "ext-1");
        let input = json!({"deployment_name": "d", "state": {"spec": held_spec, "validation_state": {
            "last_validation_time": "T9", "status": "failed", "err_message": "default: no ExternalID condition"}}});
        let history = json!({"events": [
            {"eventId": "1", "eventType": "EVENT_TYPE_WORKFLOW_EXECUTION_STARTED",
             "workflowExecutionStartedEventAttributes": {"input": {"payloads": [data(&input)]}}},
        ]});
        let held = HeldCompute::from_history(&history).unwrap();
        assert_eq!(held.external_id, "ext-1");
        assert_eq!(
            held.validation,
            Validation::Failed {
                at: "T9".into(),
                message: "default: no ExternalID condition".into()
            }
        );
    }

    #[test]
    fn a_history_without_a_lambda_config_holds_nothing() {
        assert_eq!(HeldCompute::from_history(&json!({"events": []})), None);
        assert_eq!(HeldCompute::from_history(&json!({})), None);
    }
}
