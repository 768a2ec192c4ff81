//! How a plan is shown: the stack's part as text lines (which `deploy` shows before it asks,
//! so that its preview is exactly what `plan` prints), and a whole environment's plan as
//! text, markdown (a pull request comment) or JSON (stable: `version` 1, see README).

mod escape;

use crate::commands::plan::{VersionPlan, VersionsPlan};
use aws::stack_set::{InstanceAction, SetAction, StackSetPlan};
use aws::{Change, Plan, PlanAction, ValueChange};
use serde_json::{Value, json};

/// One environment's plan.
#[derive(Debug)]
pub struct EnvPlan {
    pub env: String,
    /// The descriptor, relative to the checkout.
    pub file: String,
    /// The plan of the stack (or the StackSet), or why it could not be made.
    pub stack: Result<RolePlan, String>,
    /// Rendered files that would change: (path relative to the checkout, unified diff).
    pub files: Vec<(String, String)>,
    pub versions: VersionsPlan,
    /// How the stack's role differs from what the template declares (changed outside the
    /// tool), one line each; `deploy` restores it.
    pub role_drift: Vec<String>,
    /// When the plan replaces the role of a deployed stack (a new `role.naming` or
    /// `role.name`): its ARN old → new and the command that registers the versions again.
    pub role_replacement: Option<String>,
    /// Where its AWS calls go, and as whom.
    pub aws: AwsTarget,
    /// How the stack's plan was made.
    pub mode: PlanMode,
}

/// What deploys the role: one stack, or a StackSet over many accounts. One per environment
/// and plan, so the size of the larger variant costs nothing worth a box.
#[derive(Debug, Clone)]
#[allow(clippy::large_enum_variant)]
pub enum RolePlan {
    Stack(Plan),
    StackSet(StackSetPlan),
}

impl RolePlan {
    pub fn has_changes(&self) -> bool {
        match self {
            RolePlan::Stack(plan) => plan.has_changes(),
            RolePlan::StackSet(plan) => plan.has_changes(),
        }
    }

    /// The single stack's plan.
    pub fn stack(&self) -> Option<&Plan> {
        match self {
            RolePlan::Stack(plan) => Some(plan),
            RolePlan::StackSet(_) => None,
        }
    }
}

/// How a stack's plan was made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PlanMode {
    /// A change set, created and deleted at once: resource changes included.
    ChangeSet,
    /// Reads only (`plan --read-only`, or a denied CreateChangeSet: `fallback` says so):
    /// parameters, tags, service role and template compared here; no resource changes.
    ReadOnly {
        template_differs: bool,
        fallback: Option<String>,
    },
    /// A StackSet's plan: reads only, by nature (there is no change set of a StackSet).
    StackSet,
}

impl PlanMode {
    /// `change-set`, `read-only` or `stack-set`, as JSON names it.
    pub fn as_str(&self) -> &'static str {
        match self {
            PlanMode::ChangeSet => "change-set",
            PlanMode::ReadOnly { .. } => "read-only",
            PlanMode::StackSet => "stack-set",
        }
    }

    /// The lines a read-only plan adds (none for a change set's).
    pub fn lines(&self) -> Vec<String> {
        let PlanMode::ReadOnly {
            template_differs,
            fallback,
        } = self
        else {
            return Vec::new();
        };
        let mut out = vec![match fallback {
            Some(why) => format!("mode: read-only: {why}"),
            None => "mode: read-only (--read-only): no change set, so no resource-level changes"
                .to_owned(),
        }];
        out.push(
            if *template_differs {
                "template: differs from the deployed one"
            } else {
                "template: same as the deployed one"
            }
            .to_owned(),
        );
        out
    }
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
        self.stack.as_ref().is_ok_and(RolePlan::has_changes)
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
    value.as_deref().map_or_else(
        || "(none)".to_owned(),
        |v| format!("`{}`", safe_text::inline(v)),
    )
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

/// One line saying what the plan does to the StackSet.
fn stack_set_headline(plan: &StackSetPlan) -> String {
    let name = &plan.name;
    match plan.action {
        SetAction::Create => format!("stack set `{name}`: create"),
        SetAction::Update => format!("stack set `{name}`: update"),
        SetAction::NoChange if plan.has_changes() => {
            format!("stack set `{name}`: unchanged; its instances change")
        }
        SetAction::NoChange => format!("stack set `{name}`: no changes"),
    }
}

/// `N to create, N to update, N to remove, N unchanged`.
fn instance_counts(plan: &StackSetPlan) -> String {
    format!(
        "{} to create, {} to update, {} to remove, {} unchanged",
        plan.count(InstanceAction::Create),
        plan.count(InstanceAction::Update),
        plan.count(InstanceAction::Remove),
        plan.count(InstanceAction::NoChange)
    )
}

/// What one instance gets beyond the StackSet's parameters: `Key=`value`, ...`.
fn overrides_shown(overrides: &[(String, String)]) -> Option<String> {
    (!overrides.is_empty()).then(|| {
        overrides
            .iter()
            .map(|(k, v)| format!("{k}=`{v}`"))
            .collect::<Vec<_>>()
            .join(", ")
    })
}

/// The StackSet's part of a plan as text lines: the StackSet, its parameters old → new, its
/// template and settings, then each account and region's instance.
pub fn stack_set_lines(plan: &StackSetPlan) -> Vec<String> {
    let mut out = vec![stack_set_headline(plan)];
    if !plan.parameters.is_empty() {
        out.push("  parameters:".into());
        out.extend(
            plan.parameters
                .iter()
                .map(|c| format!("    {}", value_line(c))),
        );
    }
    if !plan.tags.is_empty() {
        out.push("  tags:".into());
        out.extend(plan.tags.iter().map(|c| format!("    {}", value_line(c))));
    }
    out.push(format!(
        "  template: {}",
        match (plan.action, plan.template_changes) {
            (SetAction::Create, _) => "the role's, with its fixed name",
            (_, true) => "differs from the StackSet's",
            (_, false) => "same as the StackSet's",
        }
    ));
    if !plan.settings.is_empty() {
        out.push("  settings:".into());
        out.extend(
            plan.settings
                .iter()
                .map(|c| format!("    {}", value_line(c))),
        );
    }
    out.push(format!("  instances: {}", instance_counts(plan)));
    let width = plan
        .instances
        .iter()
        .map(|i| i.region.len())
        .max()
        .unwrap_or(0);
    for i in &plan.instances {
        let symbol = match i.action {
            InstanceAction::Create => '+',
            InstanceAction::Update => '~',
            InstanceAction::Remove => '-',
            InstanceAction::NoChange => ' ',
        };
        let mut line = format!(
            "    {symbol} {} {:<width$}  {}",
            safe_text::inline(&i.account),
            safe_text::inline(&i.region),
            i.action.as_str().replace('_', " ")
        );
        if let Some(why) = &i.why {
            line.push_str(&format!(": {}", safe_text::inline(why)));
        }
        if let Some(status) = i
            .status
            .as_ref()
            .filter(|_| i.action == InstanceAction::NoChange)
        {
            line.push_str(&format!(" ({})", safe_text::inline(status)));
        }
        if let Some(o) = overrides_shown(&i.overrides) {
            line.push_str(&format!("; overrides {o}"));
        }
        out.push(line);
    }
    if let Some(account) = &plan.management_account {
        out.push(format!(
            "  the management account {account} never gets an instance"
        ));
    }
    out
}

/// The plan of every environment as text.
pub fn text(plans: &[EnvPlan]) -> String {
    let mut out = String::new();
    for p in plans {
        out.push_str(&format!("{} ({}):\n", p.env, p.file));
        out.push_str(&format!("  aws: {}\n", p.aws.line()));
        for line in p.mode.lines() {
            out.push_str(&format!("  {line}\n"));
        }
        match &p.stack {
            Ok(RolePlan::Stack(plan)) => {
                for line in stack_lines(plan) {
                    out.push_str(&format!("  {line}\n"));
                }
            }
            Ok(RolePlan::StackSet(plan)) => {
                for line in stack_set_lines(plan) {
                    out.push_str(&format!("  {line}\n"));
                }
            }
            Err(e) => out.push_str(&format!("  error: {e}\n")),
        }
        if let Some(line) = &p.role_replacement {
            out.push_str(&format!("  {line}\n"));
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
    let mut out = markdown_heading();
    for p in plans {
        markdown_env(&mut out, p);
    }
    out
}

fn markdown_heading() -> String {
    format!("## {} plan\n\n", escape::md_text(crate::cli::name()))
}

/// GitHub's limit on the body of a pull request comment, in characters.
pub const GITHUB_COMMENT_MAX_CHARS: usize = 65_536;

/// [`markdown`] within `max_chars` characters (a pull request comment: at most
/// [`GITHUB_COMMENT_MAX_CHARS`]). When the whole plan fits, it is [`markdown`]. Else: one
/// summary line per environment, then the details of those with changes or errors, in order,
/// as many as fit, and `… N more in the full plan` for the others (and for summary lines, when
/// even those do not fit).
pub fn markdown_within(plans: &[EnvPlan], max_chars: usize) -> String {
    let full = markdown(plans);
    let len = |s: &str| s.chars().count();
    if len(&full) <= max_chars {
        return full;
    }
    let tsw = crate::cli::name();
    let more = |n: usize, what: &str| {
        format!("… {n} more {what} in the full plan (`{tsw} plan --all`, or `--output text`)\n\n")
    };
    // Room kept for the longest closing line.
    let reserve = len(&more(plans.len(), "environments")) + 1;
    let budget = max_chars.saturating_sub(reserve);
    let mut out = markdown_heading();
    let (changed, errors) = (
        plans
            .iter()
            .filter(|p| p.stack.is_ok() && p.has_changes())
            .count(),
        plans.iter().filter(|p| p.stack.is_err()).count(),
    );
    out.push_str(&format!(
        "{} environments: {changed} with changes, {errors} with errors, {} without changes.\n\n",
        plans.len(),
        plans.len() - changed - errors
    ));
    let mut used = len(&out);
    for (i, p) in plans.iter().enumerate() {
        let line = format!("- {}: {}\n", escape::md_code(&p.env), verdict(p));
        if used + len(&line) > budget {
            out.push_str(&format!("\n{}", more(plans.len() - i, "environments")));
            return out;
        }
        used += len(&line);
        out.push_str(&line);
    }
    out.push('\n');
    used += 1;
    let detailed: Vec<&EnvPlan> = plans
        .iter()
        .filter(|p| p.stack.is_err() || p.has_changes())
        .collect();
    for (i, p) in detailed.iter().enumerate() {
        let mut section = String::new();
        markdown_env(&mut section, p);
        if used + len(&section) > budget {
            out.push_str(&more(detailed.len() - i, "environments' details"));
            return out;
        }
        used += len(&section);
        out.push_str(&section);
    }
    out
}

/// One environment's section of [`markdown`].
fn markdown_env(out: &mut String, p: &EnvPlan) {
    out.push_str(&format!(
        "### {}: {}\n\n",
        escape::md_code(&p.env),
        verdict(p)
    ));
    out.push_str(&format!(
        "AWS: account {}, region {}, credentials: {}\n\n",
        escape::md_code(p.aws.account.as_deref().unwrap_or("(not known)")),
        escape::md_code(&p.aws.region),
        escape::md_text(p.aws.credentials.as_deref().unwrap_or("(not known)"))
    ));
    for line in p.mode.lines() {
        out.push_str(&format!("{}\n\n", escape::md_prose(&line)));
    }
    match &p.stack {
        Ok(RolePlan::Stack(plan)) => markdown_stack(out, plan),
        Ok(RolePlan::StackSet(plan)) => markdown_stack_set(out, plan),
        Err(e) => out.push_str(&format!("**Error:** {}\n\n", escape::md_prose(e))),
    }
    if let Some(line) = &p.role_replacement {
        out.push_str(&format!(
            "**Role replaced:** {}\n\n",
            escape::md_prose(line)
        ));
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
        out.push_str("| Worker Deployment Version | Function | register would |\n|---|---|---|\n");
        for v in &p.versions.versions {
            out.push_str(&format!(
                "| {} | {} | {} |\n",
                escape::md_cell(&v.id),
                md_value(&v.lambda_function_arn),
                escape::md_prose_cell(&v.describe())
            ));
        }
        out.push('\n');
    }
}

/// A markdown table of values old → new (`| Kind | Name | Old | New |`), each cell escaped;
/// nothing when there is none.
fn markdown_values(out: &mut String, values: &[(&str, &ValueChange)]) {
    if values.is_empty() {
        return;
    }
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

fn markdown_stack(out: &mut String, plan: &Plan) {
    out.push_str(&format!("{}\n\n", escape::md_prose(&headline(plan))));
    let mut values: Vec<(&str, &ValueChange)> = Vec::new();
    values.extend(plan.parameters.iter().map(|c| ("parameter", c)));
    values.extend(plan.tags.iter().map(|c| ("tag", c)));
    values.extend(plan.role_arn.iter().map(|c| ("service role", c)));
    markdown_values(out, &values);
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

fn markdown_stack_set(out: &mut String, plan: &StackSetPlan) {
    out.push_str(&format!(
        "{}\n\n",
        escape::md_prose(&stack_set_headline(plan))
    ));
    let mut values: Vec<(&str, &ValueChange)> = Vec::new();
    values.extend(plan.parameters.iter().map(|c| ("parameter", c)));
    values.extend(plan.tags.iter().map(|c| ("tag", c)));
    values.extend(plan.settings.iter().map(|c| ("setting", c)));
    markdown_values(out, &values);
    if plan.template_changes && plan.action == SetAction::Update {
        out.push_str("The template differs from the StackSet's.\n\n");
    }
    out.push_str(&format!(
        "Instances: {}.\n\n",
        escape::md_prose(&instance_counts(plan))
    ));
    if !plan.instances.is_empty() {
        out.push_str("| Account | Region | Action | Why | Overrides |\n|---|---|---|---|---|\n");
        for i in &plan.instances {
            out.push_str(&format!(
                "| {} | {} | {} | {} | {} |\n",
                escape::md_cell(&i.account),
                escape::md_cell(&i.region),
                i.action.as_str().replace('_', " "),
                i.why
                    .as_deref()
                    .map_or_else(String::new, escape::md_prose_cell),
                overrides_shown(&i.overrides)
                    .as_deref()
                    .map_or_else(String::new, escape::md_prose_cell)
            ));
        }
        out.push('\n');
    }
    if let Some(account) = &plan.management_account {
        out.push_str(&format!(
            "The management account {} never gets an instance.\n\n",
            escape::md_code(account)
        ));
    }
}

/// How much of a pull request comment [`summary`] may take by default: GitHub refuses a
/// comment over 65,536 characters, and the workflow adds a heading and links around it.
pub const SUMMARY_LIMIT: usize = 60_000;

/// The smallest limit [`summary`] keeps: room for its first line, the table's head and the
/// line counting the rows left out.
pub const SUMMARY_MIN: usize = 1_000;

/// The verdict of one environment's plan, as every output names it.
fn verdict(p: &EnvPlan) -> &'static str {
    match (&p.stack, p.has_changes()) {
        (Err(_), _) => "error",
        (_, true) => "changes",
        (_, false) => "no changes",
    }
}

/// The plan of every environment in at most `limit` bytes, so characters (`limit` at least
/// [`SUMMARY_MIN`]), of markdown for a pull request comment: one summary line, then one table row per environment (its account,
/// region, verdict and whether its role drifted), errors first, then changes, then drift, then
/// the rest. Rows that do not fit are counted in a last line that points at the full plan
/// (`--output markdown`). Every value goes through [`escape`].
pub fn summary(plans: &[EnvPlan], limit: usize) -> String {
    let count = |verdict_is: &str| plans.iter().filter(|p| verdict(p) == verdict_is).count();
    let drifted = plans.iter().filter(|p| !p.role_drift.is_empty()).count();
    let mut out = format!(
        "**{} environments: {} with changes, {} failed, {} without changes; {} with role drift.**\n\n",
        plans.len(),
        count("changes"),
        count("error"),
        count("no changes"),
        drifted
    );
    if plans.is_empty() {
        return out;
    }
    let rank = |p: &EnvPlan| match (verdict(p), p.role_drift.is_empty()) {
        ("error", _) => 0,
        ("changes", false) => 1,
        ("changes", true) => 2,
        (_, false) => 3,
        _ => 4,
    };
    let mut ordered: Vec<&EnvPlan> = plans.iter().collect();
    ordered.sort_by_key(|p| rank(p));
    out.push_str("| Environment | Account | Region | Plan | Role drift |\n|---|---|---|---|---|\n");
    let rest = |n: usize| {
        format!(
            "\n*{n} more environments: see the full plan (the job's step summary and its artifact).*\n"
        )
    };
    for (shown, p) in ordered.iter().enumerate() {
        let row = format!(
            "| {} | {} | {} | {} | {} |\n",
            escape::md_cell(&p.env),
            account_cell(p),
            escape::md_cell(&p.aws.region),
            verdict(p),
            if p.role_drift.is_empty() {
                "none"
            } else {
                "yes"
            }
        );
        // Room is kept for the line counting the rows after this one, so that it always fits.
        let left = ordered.len() - shown;
        let reserve = if left > 1 { rest(left - 1).len() } else { 0 };
        if out.len() + row.len() + reserve > limit {
            out.push_str(&rest(left));
            return out;
        }
        out.push_str(&row);
    }
    out
}

/// The summary's Account cell: the account the environment's calls go to and, for a StackSet,
/// how many accounts its instances reach once deployed.
fn account_cell(p: &EnvPlan) -> String {
    let account = escape::md_cell(p.aws.account.as_deref().unwrap_or("(not known)"));
    let Ok(RolePlan::StackSet(set)) = &p.stack else {
        return account;
    };
    let reached: std::collections::BTreeSet<&str> = set
        .instances
        .iter()
        .filter(|i| i.action != InstanceAction::Remove)
        .map(|i| i.account.as_str())
        .collect();
    let n = reached.len();
    format!(
        "{account} (StackSet, {n} account{})",
        if n == 1 { "" } else { "s" }
    )
}

fn value_json(c: &ValueChange) -> Value {
    json!({ "key": c.key, "old": c.old, "new": c.new })
}

fn stack_set_json(plan: &StackSetPlan) -> Value {
    json!({
        "name": plan.name,
        "action": plan.action.as_str(),
        "stack_set_id": plan.id,
        "parameters": plan.parameters.iter().map(value_json).collect::<Vec<_>>(),
        "template_changes": plan.template_changes,
        "tags": plan.tags.iter().map(value_json).collect::<Vec<_>>(),
        "settings": plan.settings.iter().map(value_json).collect::<Vec<_>>(),
        "management_account": plan.management_account,
        "instances": plan.instances.iter().map(|i| json!({
            "account": i.account,
            "region": i.region,
            "action": i.action.as_str(),
            "why": i.why,
            "status": i.status,
            "overrides": i.overrides.iter().map(|(k, v)| json!({ "key": k, "value": v })).collect::<Vec<_>>(),
        })).collect::<Vec<_>>(),
    })
}

fn stack_json(plan: &Plan) -> Value {
    json!({
        "name": plan.stack,
        "action": action_name(&plan.action),
        "status": plan.current.as_ref().map(|s| s.status.as_str()),
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
            "mode": p.mode.as_str(),
            "mode_note": match &p.mode {
                PlanMode::ReadOnly { fallback, .. } => fallback.clone(),
                PlanMode::ChangeSet | PlanMode::StackSet => None,
            },
            "template_differs": match &p.mode {
                PlanMode::ReadOnly { template_differs, .. } => Some(*template_differs),
                PlanMode::ChangeSet | PlanMode::StackSet => None,
            },
            "error": p.stack.as_ref().err(),
            "stack": p.stack.as_ref().ok().and_then(RolePlan::stack).map(stack_json),
            "stack_set": match &p.stack {
                Ok(RolePlan::StackSet(plan)) => Some(stack_set_json(plan)),
                _ => None,
            },
            "role_drift": p.role_drift,
            "role_replacement": p.role_replacement,
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
pub(crate) mod tests {
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

    /// 200 environments, every third with changes (a parameter, a resource, a file diff) and
    /// one with an error: the whole plan is over GitHub's limit, the comment is not.
    #[test]
    fn a_plan_of_200_environments_stays_within_a_pull_request_comment() {
        let plans: Vec<EnvPlan> = (0..200)
            .map(|i| {
                let changed = i % 3 == 0;
                let stack = if i == 7 {
                    Err("AccessDenied: not authorized".to_owned())
                } else if changed {
                    Ok(update(
                        vec![value(
                            "LambdaFunctionARNs",
                            Some("arn:old"),
                            Some(&format!(
                                "arn:aws:lambda:us-east-1:123456789012:function:team-{i}"
                            )),
                        )],
                        Vec::new(),
                    ))
                } else {
                    Ok(Plan {
                        action: PlanAction::NoChange,
                        ..update(Vec::new(), Vec::new())
                    })
                };
                let diff =
                    "-  a line of the dynamic config that changes\n+  its new value\n".repeat(12);
                EnvPlan {
                    env: format!("team-{i:03}"),
                    file: format!("environments/team-{i:03}.toml"),
                    stack: stack.map(RolePlan::Stack),
                    files: if changed {
                        vec![(format!("environments/team-{i:03}/dynamicconfig.yaml"), diff)]
                    } else {
                        Vec::new()
                    },
                    versions: VersionsPlan {
                        source: crate::commands::plan::VersionsSource::Descriptor,
                        note: None,
                        versions: Vec::new(),
                    },
                    role_drift: Vec::new(),
                    role_replacement: None,
                    aws: AwsTarget {
                        account: Some("123456789012".into()),
                        region: "us-east-1".into(),
                        credentials: Some("OIDC web identity".into()),
                    },
                    mode: PlanMode::ChangeSet,
                }
            })
            .collect();
        let full = markdown(&plans);
        assert!(
            full.chars().count() > GITHUB_COMMENT_MAX_CHARS,
            "{}",
            full.len()
        );
        let comment = markdown_within(&plans, GITHUB_COMMENT_MAX_CHARS);
        let n = comment.chars().count();
        assert!(n <= GITHUB_COMMENT_MAX_CHARS, "{n}");
        assert!(
            comment
                .contains("200 environments: 67 with changes, 1 with errors, 132 without changes."),
            "{comment}"
        );
        for i in 0..200 {
            let line = format!("- `team-{i:03}`: ");
            assert!(comment.contains(&line), "{line} in {comment}");
        }
        assert!(comment.contains("### `team-007`: error"), "{comment}");
        assert!(
            !comment.contains("### `team-001`"),
            "no details without changes"
        );
        let shown = comment.matches("### ").count();
        assert!(
            comment.contains(&format!(
                "… {} more environments' details in the full plan",
                68 - shown
            )),
            "{comment}"
        );
        // A small limit: the summary lines themselves are cut, and say so.
        let small = markdown_within(&plans, 2_000);
        assert!(small.chars().count() <= 2_000, "{small}");
        assert!(
            small.contains("more environments in the full plan"),
            "{small}"
        );
        // A plan that fits is the whole plan, as it was.
        assert_eq!(
            markdown_within(&plans[..3], GITHUB_COMMENT_MAX_CHARS),
            markdown(&plans[..3])
        );
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

    /// A StackSet whose values AWS (or a pull request) controls: each stays in its cell.
    #[test]
    fn a_stack_sets_instance_rows_keep_hostile_values_in_their_cells() {
        use aws::stack_set::{InstancePlan, SetAction, StackSetPlan};
        let plan = StackSetPlan {
            name: "roles".into(),
            action: SetAction::Update,
            id: Some("roles:1".into()),
            parameters: vec![value("AssumeRoleExternalId", Some("a|b"), Some("c"))],
            template_changes: false,
            tags: Vec::new(),
            settings: Vec::new(),
            instances: vec![InstancePlan {
                account: "1111|2222\n### injected".into(),
                region: "us-east-1".into(),
                action: InstanceAction::Update,
                why: Some("it is OUTDATED | <b>x</b>".into()),
                overrides: vec![("AssumeRoleExternalId".into(), "e|f".into())],
                status: None,
            }],
            management_account: None,
        };
        let mut out = String::new();
        markdown_stack_set(&mut out, &plan);
        let row = out
            .lines()
            .find(|l| l.contains("us-east-1"))
            .unwrap_or_else(|| panic!("no instance row in:\n{out}"));
        // Five cells: six unescaped pipes.
        assert_eq!(row.replace("\\|", "").matches('|').count(), 6, "{row}");
        assert!(!out.contains("\n### injected"), "{out}");
        assert!(!row.contains("<b>"), "{row}");
        let lines = stack_set_lines(&plan);
        assert_eq!(lines[0], "stack set `roles`: update");
        assert!(
            lines.iter().any(|l| l.starts_with("    ~ 1111|2222")),
            "{lines:?}"
        );
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

    /// An environment's plan: `changes` or not, an `error`, with `drift` (which is a change)
    /// or not.
    pub(crate) fn env_plan(name: &str, changes: bool, error: bool, drift: bool) -> EnvPlan {
        let mut stack = update(Vec::new(), Vec::new());
        if !changes {
            stack.action = PlanAction::NoChange;
        }
        EnvPlan {
            env: name.into(),
            file: format!("environments/{name}.toml"),
            stack: if error {
                Err("AccessDenied".into())
            } else {
                Ok(RolePlan::Stack(stack))
            },
            files: Vec::new(),
            versions: VersionsPlan {
                source: crate::commands::plan::VersionsSource::Descriptor,
                note: None,
                versions: Vec::new(),
            },
            role_drift: if drift {
                vec!["policy".into()]
            } else {
                Vec::new()
            },
            aws: AwsTarget {
                account: Some("123456789012".into()),
                region: "eu-west-1".into(),
                credentials: Some("environment".into()),
            },
            role_replacement: None,
            mode: PlanMode::ChangeSet,
        }
    }

    #[test]
    fn the_full_plan_is_headed_with_the_name_the_program_was_started_as() {
        let out = markdown(&[env_plan("e", true, false, false)]);
        assert!(
            out.starts_with(&format!("## {} plan\n", crate::cli::name())),
            "{out}"
        );
    }

    #[test]
    fn the_summary_counts_every_verdict_and_shows_errors_and_changes_first() {
        let plans = [
            env_plan("quiet", false, false, false),
            env_plan("drifted", false, false, true),
            env_plan("changed", true, false, false),
            env_plan("broken", false, true, false),
        ];
        let out = summary(&plans, SUMMARY_LIMIT);
        let mut lines = out.lines();
        assert_eq!(
            lines.next(),
            Some(
                "**4 environments: 2 with changes, 1 failed, 1 without changes; 1 with role drift.**"
            ),
            "{out}"
        );
        let rows: Vec<&str> = out.lines().filter(|l| l.starts_with("| `")).collect();
        assert_eq!(
            rows,
            [
                "| `broken` | `123456789012` | `eu-west-1` | error | none |",
                "| `drifted` | `123456789012` | `eu-west-1` | changes | yes |",
                "| `changed` | `123456789012` | `eu-west-1` | changes | none |",
                "| `quiet` | `123456789012` | `eu-west-1` | no changes | none |",
            ],
            "{out}"
        );
    }

    /// A StackSet environment's row names the account that owns the StackSet and how many
    /// accounts its instances reach after the deploy (one removed is not counted).
    #[test]
    fn the_summary_row_of_a_stack_set_counts_the_accounts_it_reaches() {
        use aws::stack_set::{InstancePlan, SetAction, StackSetPlan};
        let instance = |account: &str, action| InstancePlan {
            account: account.into(),
            region: "us-east-1".into(),
            action,
            why: None,
            overrides: Vec::new(),
            status: None,
        };
        let mut plan = env_plan("org", true, false, false);
        plan.stack = Ok(RolePlan::StackSet(StackSetPlan {
            name: "roles".into(),
            action: SetAction::NoChange,
            id: Some("roles:1".into()),
            parameters: Vec::new(),
            template_changes: false,
            tags: Vec::new(),
            settings: Vec::new(),
            instances: vec![
                instance("111111111111", InstanceAction::Create),
                instance("222222222222", InstanceAction::NoChange),
                instance("333333333333", InstanceAction::Update),
                instance("444444444444", InstanceAction::Remove),
            ],
            management_account: Some("123456789012".into()),
        }));
        let out = summary(&[plan], SUMMARY_LIMIT);
        let row = out.lines().find(|l| l.starts_with("| `org`")).unwrap();
        assert_eq!(
            row, "| `org` | `123456789012` (StackSet, 3 accounts) | `eu-west-1` | changes | none |",
            "{out}"
        );
    }

    /// Rows that do not fit are counted, never cut, and the summary stays within its limit,
    /// however long the names are; those with changes are the ones shown.
    #[test]
    fn the_summary_stays_within_its_limit_and_counts_the_rows_left_out() {
        let long = "n".repeat(400);
        let plans: Vec<EnvPlan> = (0..200)
            .map(|i| env_plan(&format!("{long}-{i:03}"), i % 2 == 0, false, false))
            .collect();
        for limit in [SUMMARY_MIN, 5_000, SUMMARY_LIMIT] {
            let out = summary(&plans, limit);
            assert!(out.len() <= limit, "{} > {limit}", out.len());
            let rows = out.lines().filter(|l| l.starts_with("| `")).count();
            assert!(rows < 200, "{rows} rows at {limit}");
            assert!(
                out.ends_with(&format!(
                    "*{} more environments: see the full plan (the job's step summary and its artifact).*\n",
                    200 - rows
                )),
                "{out}"
            );
            assert!(
                out.lines()
                    .filter(|l| l.starts_with("| `"))
                    .take(100)
                    .all(|l| l.contains("| changes |")),
                "changes first: {out}"
            );
        }
        let all = summary(&plans[..20], SUMMARY_LIMIT);
        assert_eq!(all.lines().filter(|l| l.starts_with("| `")).count(), 20);
        assert!(!all.contains("more environments"), "{all}");
    }
}
