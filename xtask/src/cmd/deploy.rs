use std::process::ExitCode;

use anyhow::{Context, Result};
use cfn_deploy::{DeployError, Outcome, StackSpec};
use env_descriptor::{Layout, Outputs};
use env_render::Templates;

use crate::ui::Progress;

/// Render, then create or update the invocation-role stack and record its outputs.
#[derive(Debug, clap::Args)]
#[command(after_help = "\
Validates the descriptor, renders environments/ENV/, then creates or updates the CloudFormation
stack through a change set: it shows what will change, asks on a terminal (unless --yes or
`[deploy] confirm = false`), shows stack events as they happen, and writes the stack's outputs
into the descriptor's [outputs] table. When the deployed template and parameters already match,
it says so and leaves the stack alone.

Examples:
  cargo xtask deploy local                    the local sandbox (started if needed)
  cargo xtask deploy staging
  cargo xtask deploy staging --yes            no confirmation (CI)
  cargo xtask deploy staging --replace-failed replace a stack left in ROLLBACK_COMPLETE")]
pub struct Args {
    /// The environment (environments/ENV.toml).
    env: String,
    /// Execute the change set without asking.
    #[arg(long, short = 'y')]
    yes: bool,
    /// Delete and re-create a stack whose creation failed (ROLLBACK_COMPLETE).
    #[arg(long)]
    replace_failed: bool,
}

impl Args {
    pub fn run(self, layout: &Layout) -> Result<ExitCode> {
        let env = super::load_env(layout, &self.env)?;
        let templates = Templates::load(&layout.templates_dir())?;
        let rendered = super::render::write(layout, &templates, &env)?;
        let cfn = templates.cfn_template();
        let parameters = cfn.with_defaults(&rendered.parameters);
        let spec = StackSpec {
            name: &env.role.stack_name,
            template_body: &cfn.body,
            parameters: &parameters,
        };

        let rt = super::runtime()?;
        let outcome = rt.block_on(async {
            let clients = super::connect(layout, &env).await?;
            let mut progress = Progress::new(&env.name, env.deploy.confirm && !self.yes);
            let result = clients
                .deploy(&spec, self.replace_failed, &mut progress)
                .await;
            progress.finish();
            anyhow::Ok(result)
        })?;
        let outcome = match outcome {
            Ok(outcome) => outcome,
            Err(e @ DeployError::Declined { .. }) => {
                eprintln!("{e}");
                return Ok(ExitCode::FAILURE);
            }
            Err(e) => {
                return Err(anyhow::Error::new(e).context(format!(
                    "deploy of `{}` failed; `{}` was left as it was",
                    env.name,
                    super::render::relative(layout, &env.file)
                )));
            }
        };
        let stack = outcome.stack();
        match &outcome {
            Outcome::Unchanged(_) => println!(
                "{}: no changes; stack `{}` is up to date ({})",
                env.name, spec.name, stack.status
            ),
            Outcome::Created(_) => println!(
                "{}: created stack `{}` ({})",
                env.name, spec.name, stack.status
            ),
            Outcome::Updated(_) => println!(
                "{}: updated stack `{}` ({})",
                env.name, spec.name, stack.status
            ),
        }
        for (key, value) in &stack.outputs {
            println!("  {key:<20} {value}");
        }
        let outputs = Outputs {
            role_arn: stack
                .outputs
                .get("RoleARN")
                .cloned()
                .context("the stack has no `RoleARN` output")?,
            stack_id: stack.stack_id.clone(),
            deployed_at: stack.updated_at.clone().unwrap_or_default(),
        };
        if outputs.record(&env.file)? {
            println!(
                "recorded [outputs] in {}",
                super::render::relative(layout, &env.file)
            );
        }
        Ok(ExitCode::SUCCESS)
    }
}
