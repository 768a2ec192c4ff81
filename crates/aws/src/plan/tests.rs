//! Every branch of plan and apply against a CloudFormation client that answers from canned
//! responses (`aws-smithy-mocks`): no network, no emulator. The emulator tests
//! (`tests/integration/`) run the same code against moto.

use std::pin::Pin;
use std::time::Duration;

use aws_sdk_cloudformation::Client;
use aws_sdk_cloudformation::config::{BehaviorVersion, Credentials, Region};
use aws_sdk_cloudformation::error::ErrorMetadata;
use aws_sdk_cloudformation::operation::create_change_set::CreateChangeSetOutput;
use aws_sdk_cloudformation::operation::delete_change_set::DeleteChangeSetOutput;
use aws_sdk_cloudformation::operation::delete_stack::DeleteStackOutput;
use aws_sdk_cloudformation::operation::describe_change_set::DescribeChangeSetOutput;
use aws_sdk_cloudformation::operation::describe_stack_events::DescribeStackEventsOutput;
use aws_sdk_cloudformation::operation::describe_stacks::{
    DescribeStacksError, DescribeStacksOutput,
};
use aws_sdk_cloudformation::operation::execute_change_set::ExecuteChangeSetOutput;
use aws_sdk_cloudformation::operation::get_template::GetTemplateOutput;
use aws_sdk_cloudformation::operation::list_change_sets::ListChangeSetsOutput;
use aws_sdk_cloudformation::types::{
    self as cfn_types, ChangeAction, ChangeSetStatus, ChangeSource, ChangeType, Replacement,
    RequiresRecreation, ResourceAttribute, ResourceChange, ResourceChangeDetail, ResourceStatus,
    ResourceTargetDefinition, Stack, StackEvent, StackStatus,
};
use aws_smithy_mocks::{MockResponseInterceptor, Rule, RuleMode, create_mock_http_client, mock};

use super::*;
use crate::in_flight::{Deadline, Tracker};
use crate::model::{Event, Owner, PropertyChange};

/// `Stacks` on a CloudFormation client that answers only by `rules` (any order), in us-east-1,
/// naming `endpoint` in its messages; a stack has no change sets unless a rule says otherwise.
fn mocked_stacks(rules: &[Rule], endpoint: Option<&str>) -> Stacks {
    let no_change_sets =
        mock!(Client::list_change_sets).then_output(|| ListChangeSetsOutput::builder().build());
    let interceptor = rules.iter().chain(std::iter::once(&no_change_sets)).fold(
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
    Stacks::with_client(Client::from_conf(config), endpoint, Some("us-east-1"))
}

const STACK: &str = "role-stack";
const STACK_ID: &str = "arn:aws:cloudformation:us-east-1:123456789012:stack/role-stack/1";
const CHANGE_SET: &str = "arn:aws:cloudformation:us-east-1:123456789012:changeSet/tsw-1/2";
const TEMPLATE: &str = "Resources: {}";

/// The parameters every spec deploys.
fn wanted() -> Vec<(String, String)> {
    vec![("ExternalId".into(), "new-id".into())]
}

fn spec(parameters: &[(String, String)]) -> StackSpec<'_> {
    StackSpec {
        name: STACK,
        template_body: TEMPLATE,
        parameters,
        recorded_stack_id: None,
        tags: &[],
        role_arn: None,
        owner: Owner {
            recorded_stack_id: Some(STACK_ID),
            tag: ("owner", "env"),
            output: "RoleARN",
            parameter: ("ExternalId", "new-id"),
            adopt: false,
        },
    }
}

fn stack(status: StackStatus, external_id: &str) -> Stack {
    Stack::builder()
        .stack_name(STACK)
        .stack_id(STACK_ID)
        .stack_status(status)
        .creation_time(aws_sdk_cloudformation::primitives::DateTime::from_secs(0))
        .parameters(
            cfn_types::Parameter::builder()
                .parameter_key("ExternalId")
                .parameter_value(external_id)
                .build(),
        )
        .build()
}

fn described(s: Stack) -> DescribeStacksOutput {
    DescribeStacksOutput::builder().stacks(s).build()
}

fn no_such_stack() -> DescribeStacksError {
    DescribeStacksError::generic(
        ErrorMetadata::builder()
            .code("ValidationError")
            .message("Stack with id role-stack does not exist")
            .build(),
    )
}

/// `DescribeStacks` answering `answers` in turn, the last one from then on.
fn describe_stacks(answers: Vec<Result<Stack, ()>>) -> Rule {
    let mut seq = mock!(Client::describe_stacks).sequence();
    for answer in answers {
        seq = match answer {
            Ok(s) => seq.output(move || described(s.clone())),
            Err(()) => seq.error(no_such_stack),
        };
    }
    seq.repeatedly().build()
}

fn change_set_ready() -> Rule {
    let detail = ResourceChangeDetail::builder()
        .target(
            ResourceTargetDefinition::builder()
                .attribute(ResourceAttribute::Properties)
                .name("AssumeRolePolicyDocument")
                .path("/Properties/AssumeRolePolicyDocument")
                .before_value("old-id")
                .after_value("new-id")
                .requires_recreation(RequiresRecreation::Never)
                .build(),
        )
        .change_source(ChangeSource::ParameterReference)
        .causing_entity("ExternalId")
        .build();
    let change = cfn_types::Change::builder()
        .r#type(ChangeType::Resource)
        .resource_change(
            ResourceChange::builder()
                .action(ChangeAction::Modify)
                .logical_resource_id("Role")
                .resource_type("AWS::IAM::Role")
                .replacement(Replacement::False)
                .details(detail)
                .build(),
        )
        .build();
    mock!(Client::describe_change_set)
        .match_requests(|r| r.include_property_values() == Some(true))
        .then_output(move || {
            DescribeChangeSetOutput::builder()
                .change_set_id(CHANGE_SET)
                .stack_id(STACK_ID)
                .status(ChangeSetStatus::CreateComplete)
                .changes(change.clone())
                .build()
        })
}

fn no_events() -> Rule {
    mock!(Client::describe_stack_events)
        .then_output(|| DescribeStackEventsOutput::builder().build())
}

/// What one test's client was asked.
struct Mocked {
    stacks: Stacks,
    create: Rule,
    execute: Rule,
    delete_change_set: Rule,
    delete_stack: Rule,
    get_template: Rule,
}

/// A client whose `DescribeStacks` answers `stacks` in turn; every other call succeeds, the
/// change set is ready at once with one property-level change, and `events` are the stack's.
fn mocked(stacks: Vec<Result<Stack, ()>>, events: Rule) -> Mocked {
    let create = mock!(Client::create_change_set).then_output(|| {
        CreateChangeSetOutput::builder()
            .id(CHANGE_SET)
            .stack_id(STACK_ID)
            .build()
    });
    let execute =
        mock!(Client::execute_change_set).then_output(|| ExecuteChangeSetOutput::builder().build());
    let delete_change_set =
        mock!(Client::delete_change_set).then_output(|| DeleteChangeSetOutput::builder().build());
    let delete_stack =
        mock!(Client::delete_stack).then_output(|| DeleteStackOutput::builder().build());
    let get_template = mock!(Client::get_template)
        .then_output(|| GetTemplateOutput::builder().template_body(TEMPLATE).build());
    let rules = [
        describe_stacks(stacks),
        create.clone(),
        change_set_ready(),
        execute.clone(),
        delete_change_set.clone(),
        delete_stack.clone(),
        get_template.clone(),
        events,
    ];
    let stacks = mocked_stacks(&rules, Some("http://127.0.0.1:9"));
    Mocked {
        stacks,
        create,
        execute,
        delete_change_set,
        delete_stack,
        get_template,
    }
}

/// Records what it is told; answers the confirmation with `answer`.
#[derive(Debug, Default)]
struct Recorder {
    answer: bool,
    notes: Vec<String>,
    confirmed: Vec<Plan>,
    events: Vec<Event>,
}

impl Observer for Recorder {
    fn step(&mut self, _what: &str) {}

    fn note(&mut self, text: &str) {
        self.notes.push(text.to_owned());
    }

    fn confirm<'a>(&'a mut self, plan: &'a Plan) -> Pin<Box<dyn Future<Output = bool> + 'a>> {
        self.confirmed.push(plan.clone());
        let answer = self.answer;
        Box::pin(async move { answer })
    }

    fn event(&mut self, event: &Event) {
        self.events.push(event.clone());
    }
}

fn guard(tracker: &Tracker) -> Guard<'_> {
    Guard {
        deadline: Deadline::after(Duration::from_secs(30)),
        tracker,
    }
}

fn yes() -> Recorder {
    Recorder {
        answer: true,
        ..Recorder::default()
    }
}

#[tokio::test]
async fn a_no_op_is_two_requests_and_no_change_set() {
    let params = vec![("ExternalId".to_owned(), "same-id".to_owned())];
    let m = mocked(
        vec![Ok(stack(StackStatus::UpdateComplete, "same-id"))],
        no_events(),
    );
    let tracker = Tracker::default();
    let mut obs = yes();
    let plan = m
        .stacks
        .plan(&spec(&params), guard(&tracker), &mut obs)
        .await
        .unwrap();
    assert_eq!(plan.action, PlanAction::NoChange);
    assert!(plan.parameters.is_empty() && plan.change_set.is_none());
    let outcome = m
        .stacks
        .deploy(&spec(&params), false, guard(&tracker), &mut obs)
        .await
        .unwrap();
    assert!(matches!(outcome, Outcome::Unchanged(_)));
    assert_eq!(m.get_template.num_calls(), 2, "one GetTemplate per plan");
    assert_eq!(m.create.num_calls(), 0);
    assert!(obs.confirmed.is_empty(), "nothing to confirm");
}

#[tokio::test]
async fn a_new_stack_is_planned_with_every_parameter_and_discarding_leaves_nothing() {
    let params = wanted();
    // None, then (for the discard) the empty stack the CREATE change set made.
    let m = mocked(
        vec![Err(()), Ok(stack(StackStatus::ReviewInProgress, ""))],
        no_events(),
    );
    let tracker = Tracker::default();
    let mut obs = yes();
    let plan = m
        .stacks
        .plan(&spec(&params), guard(&tracker), &mut obs)
        .await
        .unwrap();
    assert_eq!(plan.action, PlanAction::Create);
    assert_eq!(
        plan.parameters,
        vec![ValueChange {
            key: "ExternalId".into(),
            old: None,
            new: Some("new-id".into())
        }]
    );
    let cs = plan.change_set.clone().expect("a change set");
    assert!(cs.created_stack);
    assert!(
        matches!(tracker.in_flight(), InFlight::ChangeSet { .. }),
        "an interruption now deletes the change set"
    );
    m.stacks
        .discard(&plan, guard(&tracker), &mut obs)
        .await
        .unwrap();
    assert_eq!(m.delete_change_set.num_calls(), 1);
    assert_eq!(
        m.delete_stack.num_calls(),
        1,
        "the REVIEW_IN_PROGRESS stack"
    );
    assert_eq!(m.execute.num_calls(), 0);
    assert_eq!(tracker.in_flight(), InFlight::Nothing);
}

#[tokio::test]
async fn a_new_stack_is_created_from_the_plan_it_confirmed() {
    let params = wanted();
    let m = mocked(
        vec![Err(()), Ok(stack(StackStatus::CreateComplete, "new-id"))],
        no_events(),
    );
    let tracker = Tracker::default();
    let mut obs = yes();
    let outcome = m
        .stacks
        .deploy(&spec(&params), false, guard(&tracker), &mut obs)
        .await
        .unwrap();
    assert!(matches!(outcome, Outcome::Created(_)), "{outcome:?}");
    assert_eq!(obs.confirmed.len(), 1);
    assert_eq!(obs.confirmed[0].action, PlanAction::Create);
    assert_eq!(m.execute.num_calls(), 1);
    assert_eq!(m.delete_change_set.num_calls(), 0);
}

#[tokio::test]
async fn an_update_shows_parameters_old_to_new_and_property_detail() {
    let params = wanted();
    let m = mocked(
        vec![
            Ok(stack(StackStatus::UpdateComplete, "old-id")),
            Ok(stack(StackStatus::UpdateComplete, "new-id")),
        ],
        no_events(),
    );
    let tracker = Tracker::default();
    let mut obs = yes();
    let outcome = m
        .stacks
        .deploy(&spec(&params), false, guard(&tracker), &mut obs)
        .await
        .unwrap();
    assert!(matches!(outcome, Outcome::Updated(_)), "{outcome:?}");
    assert_eq!(m.get_template.num_calls(), 0, "the parameters differ");
    let plan = &obs.confirmed[0];
    assert_eq!(plan.action, PlanAction::Update);
    assert_eq!(
        plan.parameters,
        vec![ValueChange {
            key: "ExternalId".into(),
            old: Some("old-id".into()),
            new: Some("new-id".into())
        }]
    );
    let change = &plan.changes[0];
    assert_eq!(
        (change.action.as_str(), change.logical_id.as_str()),
        ("Modify", "Role")
    );
    assert_eq!(
        change.details,
        vec![PropertyChange {
            attribute: "Properties".into(),
            path: Some("/Properties/AssumeRolePolicyDocument".into()),
            before: Some("old-id".into()),
            after: Some("new-id".into()),
            requires_recreation: Some("Never".into()),
            cause: Some("ParameterReference ExternalId".into()),
        }]
    );
}

/// A stack nothing marks as this tool's is refused before any change set exists.
#[tokio::test]
async fn a_stack_that_is_not_ours_is_refused_before_any_change_set() {
    let params = wanted();
    let m = mocked(
        vec![Ok(stack(StackStatus::UpdateComplete, "other-id"))],
        no_events(),
    );
    let tracker = Tracker::default();
    let mut spec = spec(&params);
    spec.owner.recorded_stack_id = None;
    let err = m
        .stacks
        .plan(&spec, guard(&tracker), &mut yes())
        .await
        .unwrap_err();
    assert!(
        matches!(&err, DeployError::NotOurs { stack_id, .. } if stack_id == STACK_ID),
        "{err}"
    );
    assert!(err.to_string().contains("--adopt-stack"), "{err}");
    spec.owner.adopt = true;
    let m = mocked(
        vec![Ok(stack(StackStatus::UpdateComplete, "other-id"))],
        no_events(),
    );
    assert!(
        !matches!(
            m.stacks.plan(&spec, guard(&tracker), &mut yes()).await,
            Err(DeployError::NotOurs { .. })
        ),
        "adopted"
    );
}

#[tokio::test]
async fn a_tag_or_service_role_change_is_a_change() {
    let params = vec![("ExternalId".to_owned(), "same-id".to_owned())];
    let m = mocked(
        vec![Ok(stack(StackStatus::UpdateComplete, "same-id"))],
        no_events(),
    );
    let tracker = Tracker::default();
    let tags = vec![("team".to_owned(), "payments".to_owned())];
    let role = "arn:aws:iam::123456789012:role/cfn-deployer";
    let spec = StackSpec {
        tags: &tags,
        role_arn: Some(role),
        ..spec(&params)
    };
    let plan = m
        .stacks
        .plan(&spec, guard(&tracker), &mut yes())
        .await
        .unwrap();
    assert_eq!(plan.action, PlanAction::Update);
    assert_eq!(
        plan.tags,
        vec![ValueChange {
            key: "team".into(),
            old: None,
            new: Some("payments".into())
        }]
    );
    assert_eq!(
        plan.role_arn.as_ref().and_then(|r| r.new.as_deref()),
        Some(role)
    );
    assert_eq!(m.get_template.num_calls(), 0);
    assert_eq!(m.create.num_calls(), 1);
}

#[tokio::test]
async fn a_busy_stack_is_waited_for_then_planned() {
    let params = vec![("ExternalId".to_owned(), "same-id".to_owned())];
    let m = mocked(
        vec![
            Ok(stack(StackStatus::UpdateInProgress, "same-id")),
            Ok(stack(StackStatus::UpdateComplete, "same-id")),
        ],
        no_events(),
    );
    let tracker = Tracker::default();
    let mut obs = yes();
    let plan = m
        .stacks
        .plan(&spec(&params), guard(&tracker), &mut obs)
        .await
        .unwrap();
    assert_eq!(plan.action, PlanAction::NoChange);
    assert_eq!(
        plan.current.map(|s| s.status),
        Some(StackStatus::UpdateComplete)
    );
    assert!(
        obs.notes[0].contains("which is UPDATE_IN_PROGRESS, to settle"),
        "{:?}",
        obs.notes
    );
}

#[tokio::test]
async fn a_failed_creation_needs_replace_failed_and_is_then_replaced() {
    let params = wanted();
    let m = mocked(
        vec![Ok(stack(StackStatus::RollbackComplete, "old-id"))],
        no_events(),
    );
    let tracker = Tracker::default();
    let plan = m
        .stacks
        .plan(&spec(&params), guard(&tracker), &mut yes())
        .await
        .unwrap();
    assert_eq!(
        plan.action,
        PlanAction::Replace {
            status: StackStatus::RollbackComplete
        }
    );
    let refused = m
        .stacks
        .deploy(&spec(&params), false, guard(&tracker), &mut yes())
        .await;
    assert!(
        matches!(refused, Err(DeployError::NeedsReplace { .. })),
        "{refused:?}"
    );
    assert_eq!(m.create.num_calls(), 0);
    assert_eq!(m.delete_stack.num_calls(), 0);

    // Replaced: deleted (gone), then created from a new plan.
    let m = mocked(
        vec![
            Ok(stack(StackStatus::RollbackComplete, "old-id")),
            Err(()),
            Ok(stack(StackStatus::CreateComplete, "new-id")),
        ],
        no_events(),
    );
    let mut obs = yes();
    let outcome = m
        .stacks
        .deploy(&spec(&params), true, guard(&tracker), &mut obs)
        .await
        .unwrap();
    assert!(matches!(outcome, Outcome::Created(_)), "{outcome:?}");
    assert_eq!(m.delete_stack.num_calls(), 1);
    assert_eq!(obs.confirmed[0].action, PlanAction::Create);
}

#[tokio::test]
async fn a_declined_plan_is_discarded_and_nothing_executed() {
    let params = wanted();
    let m = mocked(
        vec![Ok(stack(StackStatus::UpdateComplete, "old-id"))],
        no_events(),
    );
    let tracker = Tracker::default();
    let mut obs = Recorder::default();
    let declined = m
        .stacks
        .deploy(&spec(&params), false, guard(&tracker), &mut obs)
        .await;
    assert!(
        matches!(declined, Err(DeployError::Declined { .. })),
        "{declined:?}"
    );
    assert_eq!(m.execute.num_calls(), 0);
    assert_eq!(m.delete_change_set.num_calls(), 1);
    assert_eq!(m.delete_stack.num_calls(), 0, "an existing stack stays");
    assert_eq!(tracker.in_flight(), InFlight::Nothing);
}

#[tokio::test]
async fn a_failed_update_that_rolled_back_names_the_failed_resource() {
    let params = wanted();
    let failed = StackEvent::builder()
        .event_id("e-1")
        .stack_id(STACK_ID)
        .stack_name(STACK)
        .logical_resource_id("Role")
        .resource_type("AWS::IAM::Role")
        .resource_status(ResourceStatus::UpdateFailed)
        .resource_status_reason("MalformedPolicyDocument")
        .timestamp(aws_sdk_cloudformation::primitives::DateTime::from_secs(1))
        .build();
    // None before the execution, the failure after it.
    let events = mock!(Client::describe_stack_events)
        .sequence()
        .output(|| DescribeStackEventsOutput::builder().build())
        .output(move || {
            DescribeStackEventsOutput::builder()
                .stack_events(failed.clone())
                .build()
        })
        .repeatedly()
        .build();
    let m = mocked(
        vec![
            Ok(stack(StackStatus::UpdateComplete, "old-id")),
            Ok(stack(StackStatus::UpdateRollbackComplete, "old-id")),
        ],
        events,
    );
    let tracker = Tracker::default();
    let mut obs = yes();
    let result = m
        .stacks
        .deploy(&spec(&params), false, guard(&tracker), &mut obs)
        .await;
    let Err(DeployError::Failed {
        status, failures, ..
    }) = result
    else {
        panic!("{result:?}");
    };
    assert_eq!(status, StackStatus::UpdateRollbackComplete);
    assert_eq!(failures[0].logical_id, "Role");
    assert_eq!(
        failures[0].reason.as_deref(),
        Some("MalformedPolicyDocument")
    );
    assert_eq!(obs.events.len(), 1, "the event was shown once");
    assert_eq!(tracker.in_flight(), InFlight::Nothing);
}

/// A retried CreateChangeSet refused as AlreadyExists (the first request made the change set,
/// its answer was lost): the change set of that name is this run's own, read back by name.
#[tokio::test]
async fn a_change_set_that_already_exists_is_read_back_by_name() {
    use aws_sdk_cloudformation::operation::create_change_set::CreateChangeSetError;
    let params = wanted();
    let create = mock!(Client::create_change_set).then_error(|| {
        CreateChangeSetError::generic(
            ErrorMetadata::builder()
                .code("AlreadyExistsException")
                .message("ChangeSet tsw-1 already exists")
                .build(),
        )
    });
    let by_name = mock!(Client::describe_change_set)
        .match_requests(|r| {
            r.include_property_values().is_none()
                && r.stack_name() == Some(STACK)
                && r.change_set_name().is_some_and(|n| n.starts_with("tsw-"))
        })
        .then_output(|| {
            DescribeChangeSetOutput::builder()
                .change_set_id(CHANGE_SET)
                .stack_id(STACK_ID)
                .status(ChangeSetStatus::CreateComplete)
                .build()
        });
    let rules = [
        describe_stacks(vec![Err(())]),
        create.clone(),
        by_name.clone(),
        change_set_ready(),
        no_events(),
    ];
    let stacks = mocked_stacks(&rules, None);
    let tracker = Tracker::default();
    let plan = stacks
        .plan(&spec(&params), guard(&tracker), &mut yes())
        .await
        .unwrap();
    assert_eq!(plan.action, PlanAction::Create);
    let cs = plan.change_set.unwrap();
    assert_eq!(
        (cs.id.as_str(), cs.stack_id.as_str()),
        (CHANGE_SET, STACK_ID)
    );
    assert_eq!((create.num_calls(), by_name.num_calls()), (1, 1));
}
