//! How a plan is shown: the stack's part as text lines (which `deploy` shows before it asks,
//! so that its preview is exactly what `plan` prints), and a whole environment's plan as
//! text, markdown (a pull request comment) or JSON (stable: `version` 1, see README).

mod escape;

use crate::commands::plan::{VersionPlan, VersionsPlan};
use aws::{Change, Plan, PlanAction, ValueChange};
use serde_json::{Value, json};

/// One environment's plan.
#[derive(Debug)]
pub struct EnvPlan {
    pub env: String,
    /// The descriptor, relative to the checkout.
    pub file: String,
    /// The stack's plan, or why it could not be made.
    pub stack: Result<Plan, String>,
    /// Rendered files that would change: (path relative to the checkout, unified diff).
    pub files: Vec<(String, String)>,
    pub versions: VersionsPlan,
    /// How the stack's role differs from what the template declares (changed outside the
    /// tool), one line each; `deploy` restores it.
    pub role_drift: Vec<String>,
    /// Where its AWS calls go, and as whom.
    pub aws: AwsTarget,
}

/// The account, region and credentials of an environment's AWS calls.
#[derive(Debug, Clone, Default)]
pub struct AwsTarget {
    /// The caller's account (STS), else the one the descriptor implies; `None`: not known.
    pub account: Option<String>,
    pub region: String,
    /// Where the credentials came from; `None` when the connection failed before.
    pub credentials: Option<String>,
}

impl AwsTarget {
    /// `account A, region R, credentials: C`.
    pub fn line(&self) -> String {
        format!(
            "account {}, region {}, credentials: {}",
            self.account.as_deref().unwrap_or("(not known)"),
            self.region,
            self.credentials.as_deref().unwrap_or("(not known)")
        )
    }
}

/// The heading of the role's drift in every output.
const DRIFT_HEADING: &str =
    "role changed outside the tool (deploy restores what the template declares)";

impl EnvPlan {
    pub fn has_changes(&self) -> bool {
        self.stack.as_ref().is_ok_and(Plan::has_changes)
            || !self.files.is_empty()
            || self.versions.versions.iter().any(VersionPlan::is_change)
            || !self.role_drift.is_empty()
    }
}

fn action_name(action: &PlanAction) -> &'static str {
    match action {
        PlanAction::NoChange => "no_change",
        PlanAction::Create => "create",
        PlanAction::Update => "update",
        PlanAction::Replace { .. } => "replace",
    }
}

/// One line saying what the plan does to the stack.
pub fn headline(plan: &Plan) -> String {
    let stack = &plan.stack;
    match &plan.action {
        PlanAction::NoChange => format!("stack `{stack}`: no changes"),
        PlanAction::Create => format!("stack `{stack}`: create"),
        PlanAction::Update => format!(
            "stack `{stack}`: update ({})",
            plan.current.as_ref().map_or("", |s| s.status.as_str())
        ),
        PlanAction::Replace { status } => format!(
            "stack `{stack}`: replace: its creation failed ({status}); `deploy --replace-failed` \
             deletes it and creates it anew"
        ),
    }
}

fn shown(value: &Option<String>) -> String {
    value
        .as_deref()
        .map_or_else(|| "(none)".to_owned(), |v| format!("`{v}`"))
}

fn value_line(c: &ValueChange) -> String {
    format!("{}: {} → {}", c.key, shown(&c.old), shown(&c.new))
}

fn symbol(action: &str) -> char {
    match action {
        "Add" => '+',
        "Remove" => '-',
        "Modify" => '~',
        _ => '*',
    }
}

fn replacement_note(c: &Change) -> &'static str {
    match c.replacement.as_deref() {
        Some("True") => "  (replaces the resource)",
        Some("Conditional") => "  (may replace the resource)",
        _ => "",
    }
}

/// The stack's part of a plan as text lines: parameters, tags and service role old → new,
/// then the resource changes with their property detail.
pub fn stack_lines(plan: &Plan) -> Vec<String> {
    let mut out = vec![headline(plan)];
    let section = |out: &mut Vec<String>, title: &str, changes: &[ValueChange]| {
        if !changes.is_empty() {
            out.push(format!("  {title}:"));
            out.extend(changes.iter().map(|c| format!("    {}", value_line(c))));
        }
    };
    section(&mut out, "parameters", &plan.parameters);
    section(&mut out, "tags", &plan.tags);
    if let Some(role) = &plan.role_arn {
        out.push(format!("  service role: {}", value_line(role)));
    }
    if plan.change_set.is_some() {
        out.push("  resource changes:".into());
        if plan.changes.is_empty() {
            out.push("    (CloudFormation listed no resource changes)".into());
        }
    }
    let width = plan
        .changes
        .iter()
        .map(|c| c.logical_id.len())
        .max()
        .unwrap_or(0);
    for c in &plan.changes {
        out.push(format!(
            "    {} {:<7} {:<width$}  {}{}",
            symbol(&c.action),
            c.action,
            c.logical_id,
            c.resource_type,
            replacement_note(c)
        ));
        for d in &c.details {
            let what = d.path.as_deref().unwrap_or(&d.attribute);
            let cause = d
                .cause
                .as_deref()
                .map(|c| format!("  ({c})"))
                .unwrap_or_default();
            match (&d.before, &d.after) {
                (None, None) => out.push(format!("        {what}{cause}")),
                (before, after) => out.push(format!(
                    "        {what}: {} → {}{cause}",
                    shown(before),
                    shown(after)
                )),
            }
        }
    }
    out
}

/// The plan of every environment as text.
pub fn text(plans: &[EnvPlan]) -> String {
    let mut out = String::new();
    for p in plans {
        out.push_str(&format!("{} ({}):\n", p.env, p.file));
        out.push_str(&format!("  aws: {}\n", p.aws.line()));
        match &p.stack {
            Ok(plan) => {
                for line in stack_lines(plan) {
                    out.push_str(&format!("  {line}\n"));
                }
            }
            Err(e) => out.push_str(&format!("  error: {e}\n")),
        }
        if !p.role_drift.is_empty() {
            out.push_str(&format!("  {DRIFT_HEADING}:\n"));
            for line in &p.role_drift {
                out.push_str(&format!("    ~ {line}\n"));
            }
        }
        if p.files.is_empty() {
            out.push_str("  rendered files: up to date\n");
        }
        for (path, diff) in &p.files {
            out.push_str(&format!("  rendered file {path} changes:\n"));
            for line in diff.lines() {
                out.push_str(&format!("    {line}\n"));
            }
        }
        if let Some(line) = p.versions.source_line() {
            out.push_str(&format!("  {line}\n"));
        }
        for v in &p.versions.versions {
            out.push_str(&format!(
                "  Worker Deployment Version {}: {}\n",
                v.id,
                v.describe()
            ));
        }
        out.push_str(&format!(
            "  => {}\n",
            if p.has_changes() {
                "changes"
            } else if p.stack.is_err() {
                "error"
            } else {
                "no changes"
            }
        ));
    }
    out
}

fn md_value(value: &Option<String>) -> String {
    value
        .as_deref()
        .map_or_else(|| "*(none)*".to_owned(), escape::md_cell)
}

/// The plan of every environment as markdown: a heading per environment, tables. A pull
/// request controls every value in it: each is interpolated through [`escape`] only.
pub fn markdown(plans: &[EnvPlan]) -> String {
    let mut out = String::from("## cargo xtask plan\n\n");
    for p in plans {
        let verdict = match (&p.stack, p.has_changes()) {
            (Err(_), _) => "error",
            (_, true) => "changes",
            (_, false) => "no changes",
        };
        out.push_str(&format!("### {}: {verdict}\n\n", escape::md_code(&p.env)));
        out.push_str(&format!(
            "AWS: account {}, region {}, credentials: {}\n\n",
            escape::md_code(p.aws.account.as_deref().unwrap_or("(not known)")),
            escape::md_code(&p.aws.region),
            escape::md_text(p.aws.credentials.as_deref().unwrap_or("(not known)"))
        ));
        match &p.stack {
            Ok(plan) => markdown_stack(&mut out, plan),
            Err(e) => out.push_str(&format!("**Error:** {}\n\n", escape::md_prose(e))),
        }
        if !p.role_drift.is_empty() {
            out.push_str(&format!("**{DRIFT_HEADING}:**\n\n"));
            for line in &p.role_drift {
                out.push_str(&format!("- {}\n", escape::md_prose(line)));
            }
            out.push('\n');
        }
        for (path, diff) in &p.files {
            out.push_str(&format!(
                "<details><summary>{} changes</summary>\n\n{}\n</details>\n\n",
                escape::html_code(path),
                escape::md_fenced("diff", diff)
            ));
        }
        if let Some(line) = p.versions.source_line() {
            out.push_str(&format!("*{}*\n\n", escape::md_prose(&line)));
        }
        if !p.versions.versions.is_empty() {
            out.push_str(
                "| Worker Deployment Version | Function | register would |\n|---|---|---|\n",
            );
            for v in &p.versions.versions {
                out.push_str(&format!(
                    "| {} | {} | {} |\n",
                    escape::md_cell(&v.id),
                    md_value(&v.lambda_function_arn),
                    escape::md_prose(&v.describe())
                ));
            }
            out.push('\n');
        }
    }
    out
}

fn markdown_stack(out: &mut String, plan: &Plan) {
    out.push_str(&format!("{}\n\n", escape::md_prose(&headline(plan))));
    let mut values: Vec<(&str, &ValueChange)> = Vec::new();
    values.extend(plan.parameters.iter().map(|c| ("parameter", c)));
    values.extend(plan.tags.iter().map(|c| ("tag", c)));
    values.extend(plan.role_arn.iter().map(|c| ("service role", c)));
    if !values.is_empty() {
        out.push_str("| Kind | Name | Old | New |\n|---|---|---|---|\n");
        for (kind, c) in values {
            out.push_str(&format!(
                "| {kind} | {} | {} | {} |\n",
                escape::md_text(&c.key),
                md_value(&c.old),
                md_value(&c.new)
            ));
        }
        out.push('\n');
    }
    if !plan.changes.is_empty() {
        out.push_str(
            "| Action | Logical ID | Type | Replacement | Details |\n|---|---|---|---|---|\n",
        );
        for c in &plan.changes {
            let details: Vec<String> = c
                .details
                .iter()
                .map(|d| {
                    let what = d.path.as_deref().unwrap_or(&d.attribute);
                    match (&d.before, &d.after) {
                        (None, None) => escape::md_cell(what),
                        (b, a) => format!(
                            "{}: {} → {}",
                            escape::md_cell(what),
                            md_value(b),
                            md_value(a)
                        ),
                    }
                })
                .collect();
            out.push_str(&format!(
                "| {} | {} | {} | {} | {} |\n",
                escape::md_text(&c.action),
                escape::md_cell(&c.logical_id),
                escape::md_cell(&c.resource_type),
                escape::md_text(c.replacement.as_deref().unwrap_or("")),
                details.join("<br>")
            ));
        }
        out.push('\n');
    }
}

fn value_json(c: &ValueChange) -> Value {
    json!({ "key": c.key, "old": c.old, "new": c.new })
}

fn stack_json(plan: &Plan) -> Value {
    json!({
        "name": plan.stack,
        "action": action_name(&plan.action),
        "status": plan.current.as_ref().map(|s| &s.status),
        "stack_id": plan.current.as_ref().map(|s| &s.stack_id),
        "parameters": plan.parameters.iter().map(value_json).collect::<Vec<_>>(),
        "tags": plan.tags.iter().map(value_json).collect::<Vec<_>>(),
        "role_arn": plan.role_arn.as_ref().map(value_json),
        "resource_changes": plan.changes.iter().map(|c| json!({
            "action": c.action,
            "logical_id": c.logical_id,
            "resource_type": c.resource_type,
            "replacement": c.replacement,
            "details": c.details.iter().map(|d| json!({
                "attribute": d.attribute,
                "path": d.path,
                "before": d.before,
                "after": d.after,
                "requires_recreation": d.requires_recreation,
                "cause": d.cause,
            })).collect::<Vec<_>>(),
        })).collect::<Vec<_>>(),
    })
}

/// The plan of every environment as JSON (the shape README documents).
pub fn json(plans: &[EnvPlan]) -> Value {
    json!({
        "changes": plans.iter().any(EnvPlan::has_changes),
        "environments": plans.iter().map(|p| json!({
            "name": p.env,
            "file": p.file,
            "changes": p.has_changes(),
            "aws": json!({
                "account": p.aws.account,
                "region": p.aws.region,
                "credentials": p.aws.credentials,
            }),
            "error": p.stack.as_ref().err(),
            "stack": p.stack.as_ref().ok().map(stack_json),
            "role_drift": p.role_drift,
            "files": p.files.iter().map(|(path, diff)| json!({ "path": path, "diff": diff })).collect::<Vec<_>>(),
            "versions_source": p.versions.source.as_str(),
            "versions_note": p.versions.source_line(),
            "worker_deployment_versions": p.versions.versions.iter().map(|v| json!({
                "id": v.id,
                "lambda_function_arn": v.lambda_function_arn,
                "action": v.action.as_str(),
                "differences": v.differences.iter().map(|d| json!({
                    "field": d.field.as_str(),
                    "old": d.old,
                    "new": d.new,
                })).collect::<Vec<_>>(),
                "retire": v.retire,
            })).collect::<Vec<_>>(),
        })).collect::<Vec<_>>(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn update(parameters: Vec<ValueChange>, changes: Vec<Change>) -> Plan {
        Plan {
            stack: "role-stack".into(),
            action: PlanAction::Update,
            current: None,
            parameters,
            tags: Vec::new(),
            role_arn: None,
            changes,
            change_set: None,
        }
    }

    fn value(key: &str, old: Option<&str>, new: Option<&str>) -> ValueChange {
        ValueChange {
            key: key.into(),
            old: old.map(str::to_owned),
            new: new.map(str::to_owned),
        }
    }

    #[test]
    fn a_value_with_pipes_and_line_breaks_stays_in_its_markdown_cell() {
        let plan = update(
            vec![value("Note", Some("a|b"), Some("line one\nline two"))],
            Vec::new(),
        );
        let mut out = String::new();
        markdown_stack(&mut out, &plan);
        let row = out
            .lines()
            .find(|l| l.starts_with("| parameter |"))
            .unwrap_or_else(|| panic!("no parameter row in:\n{out}"));
        assert_eq!(
            row,
            "| parameter | Note | `a\\|b` | `line one\\nline two` |"
        );
        // Five unescaped pipes: four cells.
        assert_eq!(row.replace("\\|", "").matches('|').count(), 5, "{row}");
    }

    #[test]
    fn stack_lines_align_resource_changes_and_name_what_each_property_does() {
        let change = |id: &str, replacement: Option<&str>| Change {
            action: "Modify".into(),
            logical_id: id.into(),
            resource_type: "AWS::IAM::Role".into(),
            replacement: replacement.map(str::to_owned),
            details: Vec::new(),
        };
        let plan = update(
            vec![value("ExternalId", Some("old"), Some("new"))],
            vec![
                change("Role", Some("False")),
                change("RolePolicy", Some("True")),
            ],
        );
        let lines = stack_lines(&plan);
        assert_eq!(lines[0], "stack `role-stack`: update ()");
        assert_eq!(lines[1], "  parameters:");
        assert!(
            lines[2].contains("ExternalId") && lines[2].contains("→"),
            "{lines:?}"
        );
        let role = lines.iter().position(|l| l.contains(" Role ")).unwrap();
        let policy = lines
            .iter()
            .position(|l| l.contains(" RolePolicy "))
            .unwrap();
        assert_eq!(
            lines[role].find("AWS::IAM::Role"),
            lines[policy].find("AWS::IAM::Role"),
            "resource types in one column: {lines:?}"
        );
        assert_ne!(replacement_note(&plan.changes[1]), "", "{lines:?}");
    }
}
