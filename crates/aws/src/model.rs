//! What this crate's callers hand it and get back: the stack to deploy, the stack as
//! CloudFormation reports it, its events, what a deploy did, and the plan of a deploy.

use std::collections::BTreeMap;

use aws_sdk_cloudformation::types::{ResourceStatus, StackStatus};

use crate::error::DeployError;
use crate::stack_set::StackSetInfo;

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
    /// Stack tags (`[deploy] tags`): CloudFormation puts them on every resource it can tag, the
    /// role included. The stack gets exactly these: a tag left out is removed.
    pub tags: &'a [(String, String)],
    /// The CloudFormation service role (`[deploy] cloudformation_role_arn`) the stack
    /// operations run as; `None` keeps whatever role the stack has (none for a new stack).
    pub role_arn: Option<&'a str>,
    /// How an existing stack of this name is told to be this tool's: only such a stack is
    /// changed (or replaced).
    pub owner: Owner<'a>,
}

/// What makes an existing stack recognisably this tool's, for this environment: the stack ID
/// `[outputs]` record, the tag the tool sets on every stack it creates, or (for stacks made
/// before it set that tag) its template's output beside this environment's parameter value.
/// Any other stack of the name belongs to someone else, and is changed or deleted only when
/// the user adopts it (`adopt`, `--adopt-stack`).
#[derive(Debug, Clone, Copy)]
pub struct Owner<'a> {
    /// The stack ID `[outputs]` record, if any.
    pub recorded_stack_id: Option<&'a str>,
    /// The tag (key, value) the tool sets on every stack it creates (among the spec's tags).
    pub tag: (&'a str, &'a str),
    /// An output only this tool's template has (`RoleARN`)...
    pub output: &'a str,
    /// ...with a parameter (key, value) that only this environment gives it (its external ID).
    pub parameter: (&'a str, &'a str),
    /// Take the stack over whatever it is (`--adopt-stack`).
    pub adopt: bool,
}

impl Owner<'_> {
    /// Refuses `stack` (named `name`) unless it [`Owner::recognises`] it.
    pub fn check(&self, name: &str, stack: &StackInfo) -> Result<(), DeployError> {
        if self.recognises(stack) {
            return Ok(());
        }
        Err(self.not_ours("stack", name, &stack.stack_id, "stack_name"))
    }

    /// Refuses the StackSet `set` unless it is recognisably this environment's, by the same
    /// rule as a stack ([`Owner::recognises`]): `recorded_stack_id` is then the StackSet ID
    /// `[outputs].stack_set_id` records, and the template's output is looked for in the
    /// StackSet's template (a StackSet has no outputs of its own).
    pub fn check_stack_set(&self, set: &StackSetInfo) -> Result<(), DeployError> {
        let has_output = set.template_body.contains(self.output);
        if self.recognises_parts(&set.id, &set.tags, has_output, &set.parameters) {
            return Ok(());
        }
        Err(self.not_ours("StackSet", &set.name, &set.id, "stack_set.name"))
    }

    fn not_ours(&self, kind: &'static str, name: &str, id: &str, key: &'static str) -> DeployError {
        DeployError::NotOurs {
            kind,
            stack: name.into(),
            stack_id: id.into(),
            tag: format!("{} = {}", self.tag.0, self.tag.1),
            key,
        }
    }

    /// Whether `stack` may be changed or deleted as this environment's.
    pub fn recognises(&self, stack: &StackInfo) -> bool {
        self.recognises_parts(
            &stack.stack_id,
            &stack.tags,
            stack.outputs.contains_key(self.output),
            &stack.parameters,
        )
    }

    /// The one rule: adopted, its ID recorded, tagged with this environment, or this tool's
    /// template (`has_output`) with this environment's parameter value.
    fn recognises_parts(
        &self,
        id: &str,
        tags: &BTreeMap<String, String>,
        has_output: bool,
        parameters: &BTreeMap<String, String>,
    ) -> bool {
        let (tag, value) = self.tag;
        let (param, param_value) = self.parameter;
        self.adopt
            || self.recorded_stack_id == Some(id)
            || tags.get(tag).is_some_and(|v| v == value)
            || (has_output && parameters.get(param).is_some_and(|v| v == param_value))
    }
}

/// A deployed stack as `DescribeStacks` reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StackInfo {
    pub stack_id: String,
    pub status: StackStatus,
    pub status_reason: Option<String>,
    /// RFC 3339 time of the last update, or of the creation when never updated.
    pub updated_at: Option<String>,
    pub outputs: BTreeMap<String, String>,
    pub parameters: BTreeMap<String, String>,
    pub tags: BTreeMap<String, String>,
    /// The service role CloudFormation runs the stack's operations as.
    pub role_arn: Option<String>,
}

/// One stack event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    pub id: String,
    pub timestamp: Option<String>,
    pub logical_id: String,
    pub resource_type: String,
    pub status: ResourceStatus,
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

/// What a deploy would do to one stack. Holding a plan with a change set means holding that
/// change set on AWS: pass it to [`Stacks::apply`] or [`Stacks::discard`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    /// The stack's name.
    pub stack: String,
    pub action: PlanAction,
    /// The stack as it is once settled; `None` when there is none.
    pub current: Option<StackInfo>,
    /// The stack parameters that differ, old → new (every one, for a new stack). Nothing the
    /// template takes is secret (no `NoEcho` parameter), so the values are shown.
    pub parameters: Vec<ValueChange>,
    /// The stack tags that differ, old → new.
    pub tags: Vec<ValueChange>,
    /// The CloudFormation service role, when it changes.
    pub role_arn: Option<ValueChange>,
    /// The change set's resource changes.
    pub changes: Vec<Change>,
    /// The change set this plan created; `None` for [`PlanAction::NoChange`] and
    /// [`PlanAction::Replace`].
    pub change_set: Option<ChangeSetRef>,
}

/// What applying a plan does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PlanAction {
    /// The deployed template, parameters, tags and role already are what the spec says.
    NoChange,
    /// A new stack (or one that only held a change set, REVIEW_IN_PROGRESS).
    Create,
    Update,
    /// The stack's creation failed (`status`: ROLLBACK_COMPLETE or ROLLBACK_FAILED): it can
    /// only be deleted and created anew (`deploy --replace-failed`).
    Replace {
        status: StackStatus,
    },
}

/// A value that differs: `None` on a side where it is not set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValueChange {
    pub key: String,
    pub old: Option<String>,
    pub new: Option<String>,
}

/// A change set a plan created and holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChangeSetRef {
    /// Its ARN.
    pub id: String,
    /// The stack's ID, as AWS returned it.
    pub stack_id: String,
    /// The change set made the stack (REVIEW_IN_PROGRESS): discarding the plan deletes it too.
    pub created_stack: bool,
}

/// One resource change of a change set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    /// `Add`, `Modify`, `Remove`, ...
    pub action: String,
    pub logical_id: String,
    pub resource_type: String,
    /// `True`, `False` or `Conditional` for modifications.
    pub replacement: Option<String>,
    /// Property-level detail, where CloudFormation gives it (`IncludePropertyValues`).
    pub details: Vec<PropertyChange>,
}

/// One changed attribute or property of a resource.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PropertyChange {
    /// `Properties`, `Tags`, ...
    pub attribute: String,
    /// The property's name or path (`/Properties/Policies/0/...`), when it is one.
    pub path: Option<String>,
    pub before: Option<String>,
    pub after: Option<String>,
    /// `Never`, `Conditionally` or `Always`.
    pub requires_recreation: Option<String>,
    /// What caused it: `DirectModification`, or e.g. `ParameterReference ExternalId`.
    pub cause: Option<String>,
}

impl Plan {
    /// Whether applying the plan changes anything.
    pub fn has_changes(&self) -> bool {
        self.action != PlanAction::NoChange
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TAG: &str = "temporal-serverless-workers:environment";

    fn owner(recorded: Option<&str>, adopt: bool) -> Owner<'_> {
        Owner {
            recorded_stack_id: recorded,
            tag: (TAG, "fleet"),
            output: "RoleARN",
            parameter: ("AssumeRoleExternalId", "ext-1"),
            adopt,
        }
    }

    /// Another team's StackSet: its own template, parameters and tags.
    fn foreign() -> StackSetInfo {
        StackSetInfo {
            name: "roles".into(),
            id: "roles:1b2c".into(),
            arn: None,
            status: "ACTIVE".into(),
            template_body: "{\"Resources\": {\"Topic\": {\"Type\": \"AWS::SNS::Topic\"}}}".into(),
            parameters: [("Team".to_owned(), "payments".to_owned())].into(),
            permission_model: None,
            auto_deployment: None,
            organizational_unit_ids: Vec::new(),
            administration_role_arn: None,
            execution_role_name: None,
            capabilities: Vec::new(),
            tags: [("team".to_owned(), "payments".to_owned())].into(),
        }
    }

    #[test]
    fn a_stack_set_is_ours_by_the_stacks_rule_and_another_is_refused_naming_its_key() {
        let set = foreign();
        let err = owner(None, false).check_stack_set(&set).unwrap_err();
        assert!(
            matches!(&err, DeployError::NotOurs { kind: "StackSet", key: "stack_set.name", stack_id, .. } if stack_id == "roles:1b2c"),
            "{err:?}"
        );
        let text = err.to_string();
        assert!(
            text.starts_with("StackSet `roles` (roles:1b2c) exists"),
            "{text}"
        );
        assert!(text.contains("another `stack_set.name`") && text.contains("--adopt-stack"));
        // Another environment's tag, or another ID recorded, is not this one's.
        let mut tagged_else = foreign();
        tagged_else.tags.insert(TAG.into(), "other".into());
        assert!(
            owner(Some("roles:ffff"), false)
                .check_stack_set(&tagged_else)
                .is_err()
        );
        // Recorded, tagged, this tool's template with this environment's external ID, adopted.
        assert!(
            owner(Some("roles:1b2c"), false)
                .check_stack_set(&set)
                .is_ok()
        );
        let mut tagged = foreign();
        tagged.tags.insert(TAG.into(), "fleet".into());
        assert!(owner(None, false).check_stack_set(&tagged).is_ok());
        let mut ours = foreign();
        ours.template_body = "Outputs:\n  RoleARN:\n    Value: !GetAtt Role.Arn\n".into();
        ours.parameters
            .insert("AssumeRoleExternalId".into(), "ext-1".into());
        assert!(owner(None, false).check_stack_set(&ours).is_ok());
        ours.parameters
            .insert("AssumeRoleExternalId".into(), "ext-2".into());
        assert!(owner(None, false).check_stack_set(&ours).is_err());
        assert!(owner(None, true).check_stack_set(&set).is_ok());
    }
}
