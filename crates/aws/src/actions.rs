//! Which AWS actions each use of the tool needs, and the IAM policy that grants exactly those.
//!
//! [`Use::calls`] is the one table of which command calls which AWS operation (a test reads the
//! code and fails when a call is missing from it, or an entry is called nowhere). [`policy`]
//! turns a use into an IAM policy document scoped to what the descriptors declare: the stack
//! (`arn:PARTITION:cloudformation:REGION:ACCOUNT:stack/NAME/*`), the change sets this tool
//! names (`changeSet/tsw-*/*`; to delete, `changeSet/xtask-*/*` of older versions too), a
//! StackSet (`stackset/NAME:*`) and the OUs and roots of the organization it targets, the
//! invocation role (`arn:PARTITION:iam::ACCOUNT:role/NAME`),
//! the Lambda functions, and `iam:PassRole` on `deploy.cloudformation_role_arn` alone, with
//! `iam:PassedToService`. No action is `*`, and no resource is: every action the tool needs
//! takes resource-level permissions, but for `sts:GetCallerIdentity`, which needs no permission
//! at all and is left out, and [`DELEGATED_ADMIN_CHECK`], which CloudFormation checks as the
//! caller of a delegated administrator's StackSet and which Organizations grants only on `*`.

use std::collections::BTreeSet;
use std::fmt;

use serde_json::{Value, json};

/// An AWS API operation the tool calls (the `aws` crate's calls, and `doctor`'s AssumeRole).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Operation {
    DescribeStacks,
    GetTemplate,
    DescribeStackEvents,
    CreateChangeSet,
    DescribeChangeSet,
    ExecuteChangeSet,
    DeleteChangeSet,
    ListChangeSets,
    DeleteStack,
    GetRole,
    ListRolePolicies,
    GetRolePolicy,
    ListAttachedRolePolicies,
    UpdateAssumeRolePolicy,
    PutRolePolicy,
    DeleteRolePolicy,
    DetachRolePolicy,
    GetFunction,
    GetFunctionConfiguration,
    GetCallerIdentity,
    AssumeRole,
    DescribeStackSet,
    ListStackInstances,
    DescribeStackInstance,
    CreateStackSet,
    UpdateStackSet,
    CreateStackInstances,
    UpdateStackInstances,
    DeleteStackInstances,
    DeleteStackSet,
    DescribeStackSetOperation,
    ListStackSetOperations,
    ListStackSetOperationResults,
    DetectStackSetDrift,
    StopStackSetOperation,
    ListChildren,
    ListAccountsForParent,
}

/// What an operation acts on, which is what its permission is scoped to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Target {
    /// The environment's stack: `arn:PARTITION:cloudformation:REGION:ACCOUNT:stack/NAME/*`.
    Stack,
    /// The stack and the change sets this tool creates on it
    /// (`arn:PARTITION:cloudformation:REGION:ACCOUNT:changeSet/tsw-*/*`).
    ChangeSet,
    /// The change sets this tool deletes: its own, and those its older versions left
    /// (`changeSet/xtask-*/*`), which it deletes when a run of them was interrupted.
    ChangeSetToDelete,
    /// The invocation role: `arn:PARTITION:iam::ACCOUNT:role/NAME-STACK`.
    Role,
    /// The role a use assumes ([`Scope::assumed_by`]): the invocation role, or the first hop of
    /// the chain the server assumes first (`temporal.intermediary_roles`).
    Assumed,
    /// The Lambda functions the descriptor names (each ARN, and its versions and aliases).
    Function,
    /// The environment's StackSet:
    /// `arn:PARTITION:cloudformation:REGION:ACCOUNT:stackset/NAME:*`.
    StackSet,
    /// The OUs and roots of the organization a service-managed StackSet targets, and the OUs
    /// below them (`arn:PARTITION:organizations::*:ou/o-*/ou-*`, `.../root/o-*/r-*`: their
    /// ARNs name the management account and the organization, which a descriptor need not).
    Organization,
    /// Nothing: the operation needs no permission (`sts:GetCallerIdentity`).
    Nothing,
}

impl Operation {
    /// Every operation, in the order of the enum.
    pub const ALL: &'static [Operation] = &[
        Operation::DescribeStacks,
        Operation::GetTemplate,
        Operation::DescribeStackEvents,
        Operation::CreateChangeSet,
        Operation::DescribeChangeSet,
        Operation::ExecuteChangeSet,
        Operation::DeleteChangeSet,
        Operation::ListChangeSets,
        Operation::DeleteStack,
        Operation::GetRole,
        Operation::ListRolePolicies,
        Operation::GetRolePolicy,
        Operation::ListAttachedRolePolicies,
        Operation::UpdateAssumeRolePolicy,
        Operation::PutRolePolicy,
        Operation::DeleteRolePolicy,
        Operation::DetachRolePolicy,
        Operation::GetFunction,
        Operation::GetFunctionConfiguration,
        Operation::GetCallerIdentity,
        Operation::AssumeRole,
        Operation::DescribeStackSet,
        Operation::ListStackInstances,
        Operation::DescribeStackInstance,
        Operation::CreateStackSet,
        Operation::UpdateStackSet,
        Operation::CreateStackInstances,
        Operation::UpdateStackInstances,
        Operation::DeleteStackInstances,
        Operation::DeleteStackSet,
        Operation::DescribeStackSetOperation,
        Operation::ListStackSetOperations,
        Operation::ListStackSetOperationResults,
        Operation::DetectStackSetDrift,
        Operation::StopStackSetOperation,
        Operation::ListChildren,
        Operation::ListAccountsForParent,
    ];

    /// The IAM action that allows it, e.g. `cloudformation:DescribeStacks`.
    pub fn action(self) -> String {
        format!("{}:{self:?}", self.service())
    }

    /// The service prefix of its action.
    pub fn service(self) -> &'static str {
        use Operation::*;
        match self {
            DescribeStacks
            | GetTemplate
            | DescribeStackEvents
            | CreateChangeSet
            | DescribeChangeSet
            | ExecuteChangeSet
            | DeleteChangeSet
            | ListChangeSets
            | DeleteStack
            | DescribeStackSet
            | ListStackInstances
            | DescribeStackInstance
            | CreateStackSet
            | UpdateStackSet
            | CreateStackInstances
            | UpdateStackInstances
            | DeleteStackInstances
            | DeleteStackSet
            | DescribeStackSetOperation
            | ListStackSetOperations
            | ListStackSetOperationResults
            | DetectStackSetDrift
            | StopStackSetOperation => "cloudformation",
            ListChildren | ListAccountsForParent => "organizations",
            GetRole
            | ListRolePolicies
            | GetRolePolicy
            | ListAttachedRolePolicies
            | UpdateAssumeRolePolicy
            | PutRolePolicy
            | DeleteRolePolicy
            | DetachRolePolicy => "iam",
            GetFunction | GetFunctionConfiguration => "lambda",
            GetCallerIdentity | AssumeRole => "sts",
        }
    }

    /// What it acts on for `what`: DeleteChangeSet reaches the older versions' change sets
    /// only for a use that deletes the leftovers of interrupted runs (`deploy`).
    fn target_for(self, what: Use) -> Target {
        match self.target() {
            Target::ChangeSetToDelete if !what.deletes_leftovers() => Target::ChangeSet,
            target => target,
        }
    }

    fn target(self) -> Target {
        use Operation::*;
        match self {
            DescribeStacks | GetTemplate | DescribeStackEvents | ListChangeSets | DeleteStack => {
                Target::Stack
            }
            CreateChangeSet | DescribeChangeSet | ExecuteChangeSet => Target::ChangeSet,
            DeleteChangeSet => Target::ChangeSetToDelete,
            GetRole
            | ListRolePolicies
            | GetRolePolicy
            | ListAttachedRolePolicies
            | UpdateAssumeRolePolicy
            | PutRolePolicy
            | DeleteRolePolicy
            | DetachRolePolicy => Target::Role,
            AssumeRole => Target::Assumed,
            GetFunction | GetFunctionConfiguration => Target::Function,
            DescribeStackSet
            | ListStackInstances
            | DescribeStackInstance
            | CreateStackSet
            | UpdateStackSet
            | CreateStackInstances
            | UpdateStackInstances
            | DeleteStackInstances
            | DeleteStackSet
            | DescribeStackSetOperation
            | ListStackSetOperations
            | ListStackSetOperationResults
            | DetectStackSetDrift
            | StopStackSetOperation => Target::StackSet,
            ListChildren | ListAccountsForParent => Target::Organization,
            GetCallerIdentity => Target::Nothing,
        }
    }
}

/// The action CloudFormation checks as the caller of every StackSet call made as a delegated
/// administrator (`CallAs=DELEGATED_ADMIN`, `stack_set.call_as = "delegated-admin"`): it reads
/// whether the account is registered for StackSets with the caller's own rights, and answers
/// "Account used is not a delegated administrator" when the caller may not. Not the tool's own
/// call. Organizations has no resource-level permission for it, so its resource is `*`.
pub const DELEGATED_ADMIN_CHECK: &str = "organizations:ListDelegatedAdministrators";

/// A role the tool runs as, named by what it is used for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Use {
    /// `plan`: the stack's change set, created and deleted at once, and the live role.
    Plan,
    /// `plan --read-only`: no change set; parameters, template and the live role compared
    /// locally.
    PlanReadOnly,
    /// `deploy`: a plan, then its change set executed and watched; a drifted role restored.
    Deploy,
    /// `destroy`: the stack (or the StackSet's instances, then the StackSet) deleted and
    /// watched.
    Destroy,
    /// `doctor`, run with the Temporal server's credentials: the stack (or the StackSet and its
    /// instances), the live role, the functions, and the role assumed as the server assumes it.
    Doctor,
    /// The Temporal server itself: it assumes the invocation role to invoke the functions, or
    /// the first hop of `temporal.intermediary_roles`.
    Server,
    /// The last hop of `temporal.intermediary_roles` (a hub role): it assumes the invocation
    /// roles for the server.
    Hub,
}

impl Use {
    /// Every use, in the order `--for` lists them.
    pub const ALL: &'static [Use] = &[
        Use::Plan,
        Use::PlanReadOnly,
        Use::Deploy,
        Use::Destroy,
        Use::Doctor,
        Use::Server,
        Use::Hub,
    ];

    /// Its name on the command line (`--for NAME`).
    pub fn name(self) -> &'static str {
        match self {
            Use::Plan => "plan",
            Use::PlanReadOnly => "plan-read-only",
            Use::Deploy => "deploy",
            Use::Destroy => "destroy",
            Use::Doctor => "doctor",
            Use::Server => "server",
            Use::Hub => "hub",
        }
    }

    /// The use named `name`.
    pub fn named(name: &str) -> Option<Use> {
        Use::ALL.iter().copied().find(|u| u.name() == name)
    }

    /// The operations this use calls: the one table of the tool's AWS calls.
    pub fn calls(self) -> &'static [Operation] {
        use Operation::*;
        match self {
            Use::PlanReadOnly => &[
                GetCallerIdentity,
                DescribeStacks,
                DescribeStackEvents,
                GetTemplate,
                GetRole,
                ListRolePolicies,
                GetRolePolicy,
                ListAttachedRolePolicies,
                // A StackSet environment's plan reads only.
                DescribeStackSet,
                ListStackInstances,
                DescribeStackInstance,
                ListChildren,
                ListAccountsForParent,
            ],
            Use::Plan => &[
                GetCallerIdentity,
                DescribeStacks,
                DescribeStackEvents,
                GetTemplate,
                GetRole,
                ListRolePolicies,
                GetRolePolicy,
                ListAttachedRolePolicies,
                CreateChangeSet,
                DescribeChangeSet,
                DeleteChangeSet,
                // The empty REVIEW_IN_PROGRESS stack a new stack's change set leaves.
                DeleteStack,
                // A StackSet environment's plan reads only; `status` also runs drift detection
                // on its instances, watched as an operation.
                DescribeStackSet,
                ListStackInstances,
                DescribeStackInstance,
                ListChildren,
                ListAccountsForParent,
                DetectStackSetDrift,
                ListStackSetOperations,
                DescribeStackSetOperation,
                ListStackSetOperationResults,
            ],
            Use::Deploy => &[
                GetCallerIdentity,
                DescribeStacks,
                DescribeStackEvents,
                GetTemplate,
                GetRole,
                ListRolePolicies,
                GetRolePolicy,
                ListAttachedRolePolicies,
                CreateChangeSet,
                DescribeChangeSet,
                DeleteChangeSet,
                // The change sets an interrupted run left, found to be deleted.
                ListChangeSets,
                DeleteStack,
                ExecuteChangeSet,
                // A StackSet environment: the StackSet and its instances as they are and the
                // accounts under its OUs, then each change an operation, watched.
                DescribeStackSet,
                ListStackInstances,
                DescribeStackInstance,
                ListChildren,
                ListAccountsForParent,
                CreateStackSet,
                UpdateStackSet,
                CreateStackInstances,
                UpdateStackInstances,
                DeleteStackInstances,
                // An operation already under way is waited for first.
                ListStackSetOperations,
                DescribeStackSetOperation,
                ListStackSetOperationResults,
                // Ctrl-C stops the operation the deploy started.
                StopStackSetOperation,
                // Restoring a role changed outside the stack.
                UpdateAssumeRolePolicy,
                PutRolePolicy,
                DeleteRolePolicy,
                DetachRolePolicy,
            ],
            Use::Destroy => &[
                GetCallerIdentity,
                DescribeStacks,
                DescribeStackEvents,
                DeleteStack,
                // A StackSet environment: every instance deleted, then the StackSet.
                DescribeStackSet,
                ListStackInstances,
                DeleteStackInstances,
                ListStackSetOperations,
                DescribeStackSetOperation,
                ListStackSetOperationResults,
                DeleteStackSet,
                // Ctrl-C stops the deletion of the instances.
                StopStackSetOperation,
            ],
            Use::Doctor => &[
                GetCallerIdentity,
                DescribeStacks,
                GetRole,
                ListRolePolicies,
                GetRolePolicy,
                ListAttachedRolePolicies,
                GetFunction,
                GetFunctionConfiguration,
                AssumeRole,
                // A StackSet environment: the StackSet, its instances and the accounts under
                // its OUs, read as `plan` reads them (no drift detection: `status` runs it).
                DescribeStackSet,
                ListStackInstances,
                DescribeStackInstance,
                ListChildren,
                ListAccountsForParent,
            ],
            Use::Server | Use::Hub => &[AssumeRole],
        }
    }

    /// The IAM actions CloudFormation calls as the caller when the stack has no service role
    /// (`deploy.cloudformation_role_arn`), on the invocation role: the `AWS::IAM::Role` and
    /// `AWS::IAM::Policy` handlers' permissions from the CloudFormation registry schemas. Not
    /// the tool's own calls.
    pub fn cloudformation_as_caller(self) -> &'static [&'static str] {
        match self {
            Use::Deploy => &[
                "iam:AttachRolePolicy",
                "iam:CreateRole",
                "iam:DeleteRole",
                "iam:DeleteRolePermissionsBoundary",
                "iam:DeleteRolePolicy",
                "iam:DetachRolePolicy",
                "iam:GetRole",
                "iam:GetRolePolicy",
                "iam:ListAttachedRolePolicies",
                "iam:ListRolePolicies",
                "iam:PutRolePermissionsBoundary",
                "iam:PutRolePolicy",
                "iam:TagRole",
                "iam:UntagRole",
                "iam:UpdateAssumeRolePolicy",
                "iam:UpdateRole",
                "iam:UpdateRoleDescription",
            ],
            Use::Destroy => &[
                "iam:DeleteRole",
                "iam:DeleteRolePolicy",
                "iam:DetachRolePolicy",
                "iam:GetRole",
                "iam:ListAttachedRolePolicies",
                "iam:ListRolePolicies",
                "iam:TagRole",
                "iam:UntagRole",
            ],
            Use::Plan | Use::PlanReadOnly | Use::Doctor | Use::Server | Use::Hub => &[],
        }
    }

    /// Whether this use calls StackSet operations, each of which CloudFormation checks
    /// [`DELEGATED_ADMIN_CHECK`] for when made as a delegated administrator.
    fn operates_stack_sets(self) -> bool {
        self.calls()
            .iter()
            .any(|op| op.target() == Target::StackSet)
    }

    /// Whether this use deletes the change sets interrupted runs left (which it lists first).
    fn deletes_leftovers(self) -> bool {
        self.calls().contains(&Operation::ListChangeSets)
    }

    /// Whether CloudFormation acts with `iam:PassRole` on the stack's service role for this use.
    fn passes_service_role(self) -> bool {
        matches!(self, Use::Deploy | Use::Destroy)
    }
}

impl fmt::Display for Use {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// What one environment declares that a policy is scoped to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scope {
    pub partition: String,
    pub region: String,
    pub account: String,
    /// The stack's name; `None` for a StackSet environment.
    pub stack_name: Option<String>,
    /// The StackSet's name (`[stack_set]`); `None` for a single stack.
    pub stack_set_name: Option<String>,
    /// Whether the StackSet targets organizational units (service-managed).
    pub organizational_units: bool,
    /// Whether the StackSet's calls are made as a delegated administrator
    /// (`stack_set.call_as = "delegated-admin"`).
    pub delegated_admin: bool,
    /// The invocation roles' ARNs (the recorded ones, else the one the template names).
    pub role_arns: Vec<String>,
    /// `deploy.cloudformation_role_arn`.
    pub cloudformation_role_arn: Option<String>,
    /// The functions `doctor` reads with these credentials: `role.lambda_function_arns` (and
    /// a StackSet's overrides) but those it reads through their account's role, and those of
    /// the worker deployments.
    pub lambda_function_arns: Vec<String>,
    /// The ARNs of `temporal.intermediary_roles`, in the order the server assumes them.
    pub intermediary_roles: Vec<String>,
}

impl Scope {
    /// The stack's ARN pattern: its name, any stack ID.
    pub fn stack_arn(&self) -> Option<String> {
        Some(format!(
            "arn:{}:cloudformation:{}:{}:stack/{}/*",
            self.partition,
            self.region,
            self.account,
            self.stack_name.as_ref()?
        ))
    }

    /// The ARN pattern of the change sets this tool creates (`tsw-MILLIS`), on any stack of
    /// the region: a change set's ARN does not name its stack.
    pub fn change_set_arn(&self) -> Option<String> {
        self.change_set_arn_of(crate::stack::CHANGE_SET_PREFIX)
    }

    /// The ARN pattern of the change sets whose names start with `prefix` (none for a StackSet
    /// environment, which has no stack).
    fn change_set_arn_of(&self, prefix: &str) -> Option<String> {
        self.stack_name.as_ref()?;
        Some(format!(
            "arn:{}:cloudformation:{}:{}:changeSet/{prefix}*/*",
            self.partition, self.region, self.account
        ))
    }

    /// The StackSet's ARN pattern: its name, any StackSet ID.
    pub fn stack_set_arn(&self) -> Option<String> {
        Some(format!(
            "arn:{}:cloudformation:{}:{}:stackset/{}:*",
            self.partition,
            self.region,
            self.account,
            self.stack_set_name.as_ref()?
        ))
    }

    /// The role `what` calls AssumeRole on: for the server (and `doctor`, run as the server),
    /// the first hop of the chain, else the invocation role; for the hub, the invocation role,
    /// when there is a chain.
    pub fn assumed_by(&self, what: Use) -> Vec<String> {
        match (what, self.intermediary_roles.first()) {
            (Use::Hub, None) => Vec::new(),
            (Use::Hub, Some(_)) | (_, None) => self.role_arns.clone(),
            (_, Some(first)) => vec![first.clone()],
        }
    }

    /// The roles this environment's own stack holds, which the tool reads and restores and
    /// CloudFormation changes as the caller: the invocation role of a single stack; none for a
    /// StackSet, whose roles are in the IAM of their accounts, which the owning account's
    /// credentials neither read nor change (CloudFormation makes them through the StackSet's
    /// own roles there).
    fn stack_roles(&self) -> &[String] {
        match self.stack_set_name {
            Some(_) => &[],
            None => &self.role_arns,
        }
    }

    fn resources(&self, target: Target, what: Use) -> Vec<String> {
        match target {
            Target::Stack => self.stack_arn().into_iter().collect(),
            Target::ChangeSet => self
                .stack_arn()
                .into_iter()
                .chain(self.change_set_arn())
                .collect(),
            Target::ChangeSetToDelete => {
                let mut all = self.resources(Target::ChangeSet, what);
                all.extend(
                    crate::stack::OLD_CHANGE_SET_PREFIXES
                        .iter()
                        .filter_map(|p| self.change_set_arn_of(p)),
                );
                all
            }
            Target::StackSet => self.stack_set_arn().into_iter().collect(),
            Target::Organization if self.organizational_units => vec![
                format!("arn:{}:organizations::*:ou/o-*/ou-*", self.partition),
                format!("arn:{}:organizations::*:root/o-*/r-*", self.partition),
            ],
            Target::Organization => Vec::new(),
            Target::Role => self.stack_roles().to_vec(),
            Target::Assumed => self.assumed_by(what),
            Target::Function => self
                .lambda_function_arns
                .iter()
                .flat_map(|arn| {
                    // A qualified ARN's unqualified function, and its versions and aliases.
                    let base = unqualified(arn);
                    [base.to_owned(), format!("{base}:*")]
                })
                .collect(),
            Target::Nothing => Vec::new(),
        }
    }
}

/// `arn:PARTITION:lambda:REGION:ACCOUNT:function:NAME` of a function ARN, with or without a
/// qualifier.
fn unqualified(arn: &str) -> &str {
    let mut colons = arn.match_indices(':').map(|(i, _)| i);
    match colons.nth(6) {
        Some(i) => &arn[..i],
        None => arn,
    }
}

/// The IAM policy document `what` needs for the environments of `scopes`: one statement per
/// kind of resource, each naming its actions and the resources of every environment.
pub fn policy(what: Use, scopes: &[Scope]) -> Value {
    let mut statements: Vec<Value> = Vec::new();
    let mut role_statement = None;
    for (target, sid) in [
        (Target::Stack, "Stacks"),
        (Target::ChangeSet, "ChangeSetsOfTheStacks"),
        (
            Target::ChangeSetToDelete,
            "ChangeSetsToDeleteAlsoOfOlderVersions",
        ),
        (Target::StackSet, "StackSets"),
        (Target::Organization, "OrganizationalUnitsOfTheStackSets"),
        (Target::Role, "InvocationRoles"),
        (Target::Assumed, "TheFirstRoleAssumed"),
        (Target::Function, "LambdaFunctions"),
    ] {
        let mut actions: BTreeSet<String> = what
            .calls()
            .iter()
            .filter(|op| op.target_for(what) == target)
            .map(|op| op.action())
            .collect();
        let resources: BTreeSet<String> = scopes
            .iter()
            .flat_map(|s| s.resources(target, what))
            .collect();
        if actions.is_empty() || resources.is_empty() {
            continue;
        }
        // The roles assumed are invocation roles (the hub's, or the server's without a
        // chain): with the other actions on them, in one statement.
        let invocation_roles: BTreeSet<String> =
            scopes.iter().flat_map(|s| s.role_arns.clone()).collect();
        if target == Target::Assumed && (what == Use::Hub || resources == invocation_roles) {
            if let Some(i) = role_statement {
                let existing: &mut Value = &mut statements[i];
                actions.extend(
                    existing["Action"]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .filter_map(|a| a.as_str().map(str::to_owned)),
                );
                statements[i] = statement("InvocationRoles", &actions, &resources);
            } else {
                statements.push(statement("InvocationRoles", &actions, &resources));
            }
            continue;
        }
        if target == Target::Role {
            role_statement = Some(statements.len());
        }
        statements.push(statement(sid, &actions, &resources));
    }
    if what.operates_stack_sets() && scopes.iter().any(|s| s.delegated_admin) {
        statements.push(statement(
            "CloudFormationChecksTheDelegatedAdministrator",
            &BTreeSet::from([DELEGATED_ADMIN_CHECK.to_owned()]),
            &BTreeSet::from(["*".to_owned()]),
        ));
    }
    if what.passes_service_role() {
        let roles: BTreeSet<String> = scopes
            .iter()
            .filter_map(|s| s.cloudformation_role_arn.clone())
            .collect();
        if !roles.is_empty() {
            let mut pass = statement(
                "PassTheStackServiceRoleToCloudFormation",
                &BTreeSet::from(["iam:PassRole".to_owned()]),
                &roles,
            );
            pass["Condition"] = json!({
                "StringEquals": { "iam:PassedToService": "cloudformation.amazonaws.com" }
            });
            statements.push(pass);
        }
        let acting: BTreeSet<String> = scopes
            .iter()
            .filter(|s| s.cloudformation_role_arn.is_none())
            .flat_map(|s| s.stack_roles().to_vec())
            .collect();
        if !acting.is_empty() {
            let actions = what
                .cloudformation_as_caller()
                .iter()
                .map(|a| (*a).to_owned())
                .collect();
            statements.push(statement(
                "CloudFormationActsAsTheCallerWithoutAServiceRole",
                &actions,
                &acting,
            ));
        }
    }
    json!({ "Version": "2012-10-17", "Statement": statements })
}

fn statement(sid: &str, actions: &BTreeSet<String>, resources: &BTreeSet<String>) -> Value {
    json!({
        "Sid": sid,
        "Effect": "Allow",
        "Action": actions.iter().collect::<Vec<_>>(),
        "Resource": resources.iter().collect::<Vec<_>>(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn scope(service_role: bool) -> Scope {
        Scope {
            partition: "aws".into(),
            region: "eu-west-1".into(),
            account: "123456789012".into(),
            stack_name: Some("tsw-staging".into()),
            stack_set_name: None,
            organizational_units: false,
            delegated_admin: false,
            role_arns: vec![
                "arn:aws:iam::123456789012:role/Temporal-Serverless-Worker-tsw-staging".into(),
            ],
            cloudformation_role_arn: service_role
                .then(|| "arn:aws:iam::123456789012:role/cfn-deployer".into()),
            lambda_function_arns: vec![
                "arn:aws:lambda:eu-west-1:123456789012:function:worker".into(),
                "arn:aws:lambda:eu-west-1:123456789012:function:orders:3".into(),
            ],
            intermediary_roles: Vec::new(),
        }
    }

    /// [`scope`] whose server reaches the invocation role through a relay, then a hub role.
    fn chained(service_role: bool) -> Scope {
        Scope {
            intermediary_roles: vec![
                "arn:aws:iam::222222222222:role/relay".into(),
                "arn:aws:iam::111111111111:role/temporal-hub".into(),
            ],
            ..scope(service_role)
        }
    }

    /// The documented ARN format of each resource type (Service Authorization Reference).
    fn documented_format(resource: &str) -> Option<&'static str> {
        let p = "(aws|aws-cn|aws-us-gov)";
        let formats = [
            (
                "cloudformation stack",
                format!(
                    r"^arn:{p}:cloudformation:[a-z0-9-]+:\d{{12}}:stack/[A-Za-z][A-Za-z0-9-]*/\*$"
                ),
            ),
            (
                "cloudformation changeSet",
                format!(
                    r"^arn:{p}:cloudformation:[a-z0-9-]+:\d{{12}}:changeSet/(tsw|xtask)-\*/\*$"
                ),
            ),
            (
                "cloudformation stackset",
                format!(
                    r"^arn:{p}:cloudformation:[a-z0-9-]+:\d{{12}}:stackset/[A-Za-z][A-Za-z0-9-]*:\*$"
                ),
            ),
            (
                "organizations ou",
                format!(r"^arn:{p}:organizations::\*:ou/o-\*/ou-\*$"),
            ),
            (
                "organizations root",
                format!(r"^arn:{p}:organizations::\*:root/o-\*/r-\*$"),
            ),
            (
                "iam role",
                format!(r"^arn:{p}:iam::\d{{12}}:role/[\w+=,.@/-]+$"),
            ),
            (
                "lambda function",
                format!(r"^arn:{p}:lambda:[a-z0-9-]+:\d{{12}}:function:[\w-]+(:\*)?$"),
            ),
        ];
        formats
            .iter()
            .find(|(_, re)| matches(re, resource))
            .map(|(name, _)| *name)
    }

    fn matches(re: &str, text: &str) -> bool {
        regex_lite::Regex::new(re).unwrap().is_match(text)
    }

    /// A service-managed StackSet's scope: no stack, the StackSet, roles in two accounts.
    fn stack_set_scope() -> Scope {
        Scope {
            stack_name: None,
            stack_set_name: Some("roles".into()),
            organizational_units: true,
            role_arns: vec![
                "arn:aws:iam::111111111111:role/Temporal-Serverless-Worker".into(),
                "arn:aws:iam::222222222222:role/Temporal-Serverless-Worker".into(),
            ],
            ..scope(false)
        }
    }

    /// Every use that calls StackSet operations lets CloudFormation check, as the caller, that
    /// a delegated administrator is one (on `*`, the only resource Organizations takes for it);
    /// nothing else gets it, nor the same StackSet called as its own account.
    #[test]
    fn a_delegated_administrators_uses_may_list_the_delegated_administrators() {
        let delegated = Scope {
            delegated_admin: true,
            ..stack_set_scope()
        };
        let check = json!({
            "Sid": "CloudFormationChecksTheDelegatedAdministrator",
            "Effect": "Allow",
            "Action": [DELEGATED_ADMIN_CHECK],
            "Resource": ["*"],
        });
        for &u in Use::ALL {
            let has = |scope: &Scope| {
                policy(u, std::slice::from_ref(scope))["Statement"]
                    .as_array()
                    .unwrap()
                    .contains(&check)
            };
            let operates = !matches!(u, Use::Server | Use::Hub);
            assert_eq!(has(&delegated), operates, "{u}");
            assert!(
                !policy(u, &[stack_set_scope()])
                    .to_string()
                    .contains(DELEGATED_ADMIN_CHECK),
                "{u}"
            );
        }
    }

    #[test]
    fn a_stack_sets_plan_may_read_its_stack_set_and_the_ous_and_nothing_of_a_stack() {
        let doc = policy(Use::PlanReadOnly, &[stack_set_scope()]);
        let sids: Vec<&str> = doc["Statement"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s["Sid"].as_str().unwrap())
            .collect();
        assert_eq!(
            sids,
            ["StackSets", "OrganizationalUnitsOfTheStackSets"],
            "{doc:#}"
        );
        assert_eq!(
            doc["Statement"][0]["Resource"],
            json!(["arn:aws:cloudformation:eu-west-1:123456789012:stackset/roles:*"])
        );
    }

    /// `doctor` of a StackSet environment reads the StackSet and its instances as `plan` does,
    /// and runs no operation (drift detection is `status`'s).
    #[test]
    fn a_stack_sets_doctor_reads_its_stack_set_and_the_ous_and_runs_no_operation() {
        let doc = policy(Use::Doctor, &[stack_set_scope()]);
        let statement = |sid: &str| {
            doc["Statement"]
                .as_array()
                .unwrap()
                .iter()
                .find(|s| s["Sid"] == sid)
                .cloned()
                .unwrap_or_else(|| panic!("no {sid}: {doc:#}"))
        };
        assert_eq!(
            statement("StackSets")["Action"],
            json!([
                "cloudformation:DescribeStackInstance",
                "cloudformation:DescribeStackSet",
                "cloudformation:ListStackInstances"
            ])
        );
        assert_eq!(
            statement("OrganizationalUnitsOfTheStackSets")["Action"],
            json!([
                "organizations:ListAccountsForParent",
                "organizations:ListChildren"
            ])
        );
        assert!(!doc.to_string().contains("DetectStackSetDrift"), "{doc:#}");
    }

    /// A StackSet's roles are in the IAM of their accounts, which the owning account's
    /// credentials neither read nor change (CloudFormation makes them through the StackSet):
    /// no use but the server's AssumeRole names them, and CloudFormation does not act as the
    /// caller on them.
    #[test]
    fn no_use_of_a_stack_set_reads_or_changes_its_roles() {
        for &u in Use::ALL {
            let doc = policy(u, &[stack_set_scope()]);
            for s in doc["Statement"].as_array().unwrap() {
                let names_a_role = s["Resource"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .any(|r| r.as_str().unwrap().contains(":role/"));
                if names_a_role {
                    assert_eq!(s["Action"], json!(["sts:AssumeRole"]), "{u}: {doc:#}");
                }
            }
        }
    }

    #[test]
    fn every_use_is_scoped_to_the_documented_arn_formats() {
        for &u in Use::ALL {
            for service_role in [false, true] {
                let doc = policy(u, &[chained(service_role)]);
                let statements = doc["Statement"].as_array().unwrap();
                assert!(!statements.is_empty(), "{u}");
                let stack_set = Scope {
                    cloudformation_role_arn: scope(service_role).cloudformation_role_arn,
                    ..stack_set_scope()
                };
                for one in [scope(service_role), stack_set] {
                    let doc = policy(u, &[one]);
                    let statements = doc["Statement"].as_array().unwrap();
                    // The hub is only a chain's.
                    assert_eq!(statements.is_empty(), u == Use::Hub, "{u}");
                    for s in statements {
                        for a in s["Action"].as_array().unwrap() {
                            let a = a.as_str().unwrap();
                            assert!(!a.contains('*'), "{u}: action {a}");
                        }
                        let sid = s["Sid"].as_str().unwrap();
                        for r in s["Resource"].as_array().unwrap() {
                            let r = r.as_str().unwrap();
                            let format = documented_format(r).unwrap_or_else(|| {
                                panic!("{u}: {sid}: `{r}` has no documented format")
                            });
                            let wanted = match sid {
                                "Stacks" => &["cloudformation stack"][..],
                                "StackSets" => &["cloudformation stackset"][..],
                                "OrganizationalUnitsOfTheStackSets" => {
                                    &["organizations ou", "organizations root"][..]
                                }
                                "ChangeSetsOfTheStacks"
                                | "ChangeSetsToDeleteAlsoOfOlderVersions" => {
                                    &["cloudformation stack", "cloudformation changeSet"][..]
                                }
                                "LambdaFunctions" => &["lambda function"][..],
                                _ => &["iam role"][..],
                            };
                            assert!(wanted.contains(&format), "{u}: {sid}: {r} is a {format}");
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn pass_role_is_only_for_the_service_role_and_only_to_cloudformation() {
        for &u in Use::ALL {
            for service_role in [false, true] {
                let doc = policy(u, &[scope(service_role)]);
                for s in doc["Statement"].as_array().unwrap() {
                    let actions: Vec<&str> = s["Action"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .map(|a| a.as_str().unwrap())
                        .collect();
                    if actions.contains(&"iam:PassRole") {
                        assert!(
                            service_role && matches!(u, Use::Deploy | Use::Destroy),
                            "{u}"
                        );
                        assert_eq!(actions, ["iam:PassRole"]);
                        assert_eq!(
                            s["Resource"],
                            json!(["arn:aws:iam::123456789012:role/cfn-deployer"])
                        );
                        assert_eq!(
                            s["Condition"]["StringEquals"]["iam:PassedToService"],
                            "cloudformation.amazonaws.com"
                        );
                    }
                }
                let text = doc.to_string();
                // With a service role, the caller writes nothing to IAM but the drift restore.
                if service_role {
                    assert!(!text.contains("iam:CreateRole"), "{u}");
                }
            }
        }
    }

    #[test]
    fn change_sets_are_created_as_tsw_and_only_deleted_as_older_versions_named_them() {
        for &u in Use::ALL {
            let doc = policy(u, &[scope(false)]);
            for s in doc["Statement"].as_array().unwrap() {
                let resources = s["Resource"].to_string();
                let actions = s["Action"].to_string();
                if resources.contains("changeSet/xtask-") {
                    assert_eq!(
                        s["Action"],
                        json!(["cloudformation:DeleteChangeSet"]),
                        "{u}"
                    );
                    assert!(resources.contains("changeSet/tsw-*/*"), "{u}");
                }
                if resources.contains("changeSet/xtask-") {
                    assert_eq!(
                        u,
                        Use::Deploy,
                        "only deploy deletes older versions' leftovers"
                    );
                }
                if actions.contains("CreateChangeSet") || actions.contains("ExecuteChangeSet") {
                    assert!(resources.contains("changeSet/tsw-*/*"), "{u}: {resources}");
                    assert!(!resources.contains("xtask"), "{u}: {resources}");
                }
            }
        }
    }

    #[test]
    fn the_server_may_only_assume_the_invocation_roles() {
        let doc = policy(Use::Server, &[scope(false)]);
        assert_eq!(
            doc["Statement"],
            json!([{
                "Sid": "InvocationRoles",
                "Effect": "Allow",
                "Action": ["sts:AssumeRole"],
                "Resource": ["arn:aws:iam::123456789012:role/Temporal-Serverless-Worker-tsw-staging"],
            }])
        );
    }

    /// With `temporal.intermediary_roles`, the server (and `doctor`, run as the server) may
    /// assume only the first hop; the hub (the last hop) only the invocation roles.
    #[test]
    fn with_a_chain_the_server_assumes_the_first_hop_and_the_hub_the_invocation_roles() {
        let server = policy(Use::Server, &[chained(false)]);
        assert_eq!(
            server["Statement"],
            json!([{
                "Sid": "TheFirstRoleAssumed",
                "Effect": "Allow",
                "Action": ["sts:AssumeRole"],
                "Resource": ["arn:aws:iam::222222222222:role/relay"],
            }])
        );
        let hub = policy(Use::Hub, &[chained(false), scope(false)]);
        assert_eq!(
            hub["Statement"],
            json!([{
                "Sid": "InvocationRoles",
                "Effect": "Allow",
                "Action": ["sts:AssumeRole"],
                "Resource": ["arn:aws:iam::123456789012:role/Temporal-Serverless-Worker-tsw-staging"],
            }])
        );
        let doctor = policy(Use::Doctor, &[chained(false)]);
        let assumed: Vec<&Value> = doctor["Statement"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|s| {
                s["Action"]
                    .as_array()
                    .unwrap()
                    .contains(&json!("sts:AssumeRole"))
            })
            .collect();
        assert_eq!(assumed.len(), 1, "{doctor:#}");
        assert_eq!(
            assumed[0]["Resource"],
            json!(["arn:aws:iam::222222222222:role/relay"])
        );
        // Without a chain, doctor's AssumeRole stays with its reads of the invocation role.
        let plain = policy(Use::Doctor, &[scope(false)]);
        let roles = plain["Statement"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["Sid"] == "InvocationRoles")
            .unwrap();
        assert!(
            roles["Action"]
                .as_array()
                .unwrap()
                .contains(&json!("sts:AssumeRole"))
        );
        assert!(
            roles["Action"]
                .as_array()
                .unwrap()
                .contains(&json!("iam:GetRole"))
        );
    }

    #[test]
    fn a_read_only_plan_creates_and_deletes_nothing() {
        for op in Use::PlanReadOnly.calls() {
            let name = format!("{op:?}");
            assert!(
                ["Describe", "Get", "List"]
                    .iter()
                    .any(|p| name.starts_with(p)),
                "{name}"
            );
        }
    }

    #[test]
    fn functions_are_scoped_unqualified_and_with_their_versions() {
        assert_eq!(
            unqualified("arn:aws:lambda:eu-west-1:123456789012:function:orders:3"),
            "arn:aws:lambda:eu-west-1:123456789012:function:orders"
        );
        assert_eq!(
            unqualified("arn:aws:lambda:eu-west-1:123456789012:function:orders"),
            "arn:aws:lambda:eu-west-1:123456789012:function:orders"
        );
    }

    /// The operations the code calls: every SDK operation of the four services (the list in
    /// `sdk_operations.txt`) whose fluent builder (`.describe_stacks()`) or name as a string
    /// (`"GetRole"`, the hand-made calls and error labels) occurs in the code of this crate or
    /// of the binary, outside comments and tests.
    fn called_in_code() -> BTreeSet<String> {
        let catalogue: Vec<(String, String, String)> = include_str!("sdk_operations.txt")
            .lines()
            .filter(|l| !l.starts_with('#') && !l.is_empty())
            .map(|l| {
                let (action, method) = l.split_once(' ').unwrap();
                let name = action.split_once(':').unwrap().1;
                (
                    action.to_owned(),
                    format!(".{method}()"),
                    format!("\"{name}\""),
                )
            })
            .collect();
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        let mut code = String::new();
        for dir in [root.join("src"), root.join("../../tsw/src")] {
            read_code(&dir, &mut code);
        }
        catalogue
            .into_iter()
            .filter(|(_, method, name)| {
                code.contains(method.as_str()) || code.contains(name.as_str())
            })
            .map(|(action, _, _)| action)
            .collect()
    }

    /// The code of every `.rs` file under `dir`, without comment lines and without the
    /// `#[cfg(test)]` module that ends each file.
    fn read_code(dir: &Path, out: &mut String) {
        let mut entries: Vec<_> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        entries.sort();
        for path in entries {
            if path.is_dir() {
                read_code(&path, out);
            } else if path.extension().is_some_and(|e| e == "rs") {
                let text = std::fs::read_to_string(&path).unwrap();
                let code = text.split("#[cfg(test)]").next().unwrap_or_default();
                for line in code.lines().filter(|l| !l.trim_start().starts_with("//")) {
                    out.push_str(line);
                    out.push('\n');
                }
            }
        }
    }

    #[test]
    fn the_table_names_every_call_the_code_makes_and_nothing_else() {
        let in_table: BTreeSet<String> = Use::ALL
            .iter()
            .flat_map(|u| u.calls())
            .map(|op| op.action())
            .collect();
        let every: BTreeSet<String> = Operation::ALL.iter().map(|op| op.action()).collect();
        assert_eq!(in_table, every, "an operation no use calls");
        let called = called_in_code();
        let missing: Vec<_> = called.difference(&in_table).collect();
        let stale: Vec<_> = in_table.difference(&called).collect();
        assert!(
            missing.is_empty() && stale.is_empty(),
            "called but not in `Use::calls`: {missing:?}; in `Use::calls` but called nowhere: {stale:?}"
        );
    }
}
