//! `status`: the stack, and whether git and AWS agree. Three things are compared: the
//! descriptor (rendered now, nothing written) with the stack's parameters and template, the
//! recorded `[outputs]` with the stack's outputs, and the role IAM holds with what the template
//! declares for the deployed parameters. Each side that differs has its own exit code, so that
//! CI can tell "merge not deployed yet" from "someone changed AWS by hand".

use anyhow::Result;
use aws::StackInfo;
use env_descriptor::{Environment, Layout};
use env_render::{Templates, cfn};
use std::process::ExitCode;

use crate::output::OutputArgs;

mod stack_set;

/// `status`: the descriptor has changes the stack does not have (or [outputs] are stale).
pub const STATUS_UNDEPLOYED: u8 = 2;
/// `status`: AWS was changed outside the tool (the role, or the stack deleted).
pub const STATUS_CHANGED_OUTSIDE: u8 = 3;

/// Show the stack, and whether the descriptor, the stack and the role agree.
#[derive(Debug, clap::Args)]
#[command(after_help = "\
Compares the descriptor (rendered now; nothing is written) with the stack's parameters and
template, the recorded [outputs] with the stack's outputs, and the role IAM holds (trust policy
principal and sts:ExternalId, invoke policy actions and resources, no managed policies) with
what the template declares. Differing parameters are printed old -> new. For a [stack_set]
environment: drift detection on every instance, then outdated, failed, INOPERABLE and drifted
instances and what a deploy would do (docs/stacksets.md).

Exit codes:
  0  all agree
  1  error (bad descriptor, AWS unreachable, ...)
  2  the descriptor has undeployed changes: run `cargo xtask deploy ENV`
  3  AWS was changed outside the tool (the role edited, the stack deleted); wins over 2
  64 usage error (an unknown flag or value): nothing was run

Examples:
  cargo xtask status staging
  cargo xtask status local
  cargo xtask status staging --output json")]
pub struct StatusArgs {
    /// The environment (environments/ENV.toml).
    pub env: String,
    #[command(flatten)]
    pub output: crate::output::OutputArgs,
}

/// Which side disagrees, in the order of precedence of their exit codes.
#[derive(Debug, Default)]
struct Verdict {
    /// The descriptor holds changes the stack does not have (or its record is stale).
    undeployed: Vec<String>,
    /// AWS differs from what the tool deployed.
    outside: Vec<String>,
}

impl Verdict {
    /// Says what disagrees, or that `compared` (what was compared with the descriptor)
    /// agrees; the exit code.
    fn exit_code(&self, env: &str, compared: &str, out: OutputArgs) -> ExitCode {
        let tsw = crate::cli::name();
        if !self.outside.is_empty() {
            out.line("AWS was changed outside the tool:");
            for line in &self.outside {
                out.line(format_args!("  {line}"));
            }
            out.line(format_args!(
                "  fix: undo the change in AWS, or make the descriptor say what you want and run `{tsw} deploy {env}`"
            ));
        }
        if !self.undeployed.is_empty() {
            out.line("the descriptor has undeployed changes:");
            for line in &self.undeployed {
                out.line(format_args!("  {line}"));
            }
            out.line(format_args!("  fix: run `{tsw} deploy {env}`"));
        }
        if !self.outside.is_empty() {
            ExitCode::from(STATUS_CHANGED_OUTSIDE)
        } else if !self.undeployed.is_empty() {
            ExitCode::from(STATUS_UNDEPLOYED)
        } else {
            out.line(format_args!(
                "{env}: in sync: the descriptor, {compared} agree"
            ));
            ExitCode::SUCCESS
        }
    }

    /// The verdict as JSON: `in_sync`, and each side's differences.
    fn json(&self) -> serde_json::Value {
        serde_json::json!({
            "in_sync": self.outside.is_empty() && self.undeployed.is_empty(),
            "undeployed": self.undeployed,
            "changed_outside": self.outside,
        })
    }
}

pub fn run(args: StatusArgs, layout: &Layout) -> Result<ExitCode> {
    let env = crate::envs::load_env(layout, &args.env)?;
    let templates = Templates::load(layout)?;
    let template = templates.cfn_template(env.role_naming());
    let wanted = template.with_defaults(&templates.render(&env)?.parameters);
    let file = crate::relative(layout, &env.file);
    let out = args.output;
    let mut verdict = Verdict::default();
    // A StackSet environment: its StackSet and instances (`status/stack_set.rs`).
    if let Some(spec) = crate::stack_sets::spec(&env, &templates, &wanted) {
        let shown = stack_set::compare(layout, &env, &spec, &mut verdict, out)?;
        let code = verdict.exit_code(&env.name, "the StackSet and its instances", out);
        let mut doc = verdict.json();
        doc["environment"] = env.name.clone().into();
        doc["file"] = file.into();
        doc["stack_set_name"] = spec.name.into();
        doc["stack_set"] = shown;
        out.document("status", doc);
        return Ok(code);
    }
    let stack_name = env.single_stack("status")?.clone();
    let mut shown = serde_json::Value::Null;
    crate::connect::runtime()?.block_on(async {
        let clients = crate::connect::connect(layout, &env).await?;
        let Some(stack) = clients.stacks.describe_stack(&stack_name).await? else {
            stack_missing(&env, &stack_name, &file, &mut verdict, out);
            return anyhow::Ok(());
        };
        // Someone else's stack of the name says nothing about this environment.
        crate::commands::deploy::owner(&env, false).check(&stack_name, &stack)?;
        show(&env, &stack_name, &stack, out);
        shown = stack_json(&stack);
        compare_record(&env, &file, &stack, &mut verdict, out);
        verdict
            .undeployed
            .extend(cfn::parameter_drift(&wanted, &stack.parameters));
        if clients.stacks.deployed_template(&stack.stack_id).await? != template.body {
            verdict.undeployed.push(format!(
                "template: the stack was deployed from another template than {}",
                templates.cfn_origin(env.role_naming())
            ));
        }
        verdict
            .outside
            .extend(crate::drift::role_drift(&clients, &stack).await?);
        anyhow::Ok(())
    })?;
    let code = verdict.exit_code(&env.name, "the stack and the role", out);
    let mut doc = verdict.json();
    doc["environment"] = env.name.clone().into();
    doc["file"] = file.into();
    doc["stack_name"] = stack_name.to_string().into();
    doc["stack"] = shown;
    out.document("status", doc);
    Ok(code)
}

/// The stack as `status --output json` shows it; `null` when there is none.
fn stack_json(stack: &StackInfo) -> serde_json::Value {
    serde_json::json!({
        "id": stack.stack_id,
        "status": stack.status.as_str(),
        "status_reason": stack.status_reason,
        "last_change": stack.updated_at,
        "outputs": stack.outputs,
    })
}

fn stack_missing(
    env: &Environment,
    stack: &str,
    file: &str,
    verdict: &mut Verdict,
    out: OutputArgs,
) {
    let tsw = crate::cli::name();
    out.line(format_args!("{}: stack `{stack}` does not exist", env.name));
    match &env.outputs {
        Some(o) => verdict.outside.push(format!(
            "stack `{stack}` ({}) recorded in [outputs] of {file} was deleted outside this tool \
             (or its emulator restarted); `{tsw} destroy {} --yes` clears the record",
            o.stack_id.as_deref().unwrap_or_default(),
            env.name
        )),
        None => verdict
            .undeployed
            .push(format!("stack `{stack}` was never deployed")),
    }
}

fn show(env: &Environment, name: &str, stack: &StackInfo, out: OutputArgs) {
    out.line(format_args!(
        "{}: stack `{name}` is {}",
        env.name, stack.status
    ));
    if let Some(reason) = &stack.status_reason {
        out.line(format_args!("  reason: {reason}"));
    }
    out.line(format_args!("  id: {}", stack.stack_id));
    if let Some(at) = &stack.updated_at {
        out.line(format_args!("  last change: {at}"));
    }
    for (key, value) in &stack.outputs {
        out.line(format_args!("  {key:<20} {value}"));
    }
}

/// The recorded `[outputs]` against the stack's: a stale record is fixed by a deploy.
fn compare_record(
    env: &Environment,
    file: &str,
    stack: &StackInfo,
    verdict: &mut Verdict,
    out: OutputArgs,
) {
    let Some(recorded) = &env.outputs else {
        verdict
            .undeployed
            .push(format!("{file} has no [outputs] recorded for the stack"));
        return;
    };
    let drift = cfn::drift(recorded, &stack.outputs, &stack.stack_id);
    if drift.is_empty() {
        out.line(format_args!("recorded [outputs] in {file} match the stack"));
    } else {
        out.line(format_args!(
            "recorded [outputs] in {file} do not match the stack"
        ));
        verdict.undeployed.extend(drift);
    }
}
