use std::process::ExitCode;

use anyhow::{Context, Result};
use cfn_deploy::{DeployError, Outcome, StackSpec};
use env_descriptor::{Environment, Layout, Outputs};
use env_render::Templates;
use indicatif::MultiProgress;

use crate::ui::{self, Progress};

/// Render, then create or update the invocation-role stack and record its outputs.
#[derive(Debug, clap::Args)]
#[command(after_help = "\
Validates the descriptors, renders environments/ENV/, then creates or updates each CloudFormation
stack through a change set: it shows what will change, asks on a terminal (unless --yes or
`[deploy] confirm = false`), shows stack events as they happen, and writes the stack's outputs
into the descriptor's [outputs] table. When the deployed template and parameters already match,
it says so and leaves the stack alone. Several environments are deployed in parallel, each line
prefixed with the environment's name.

Examples:
  cargo xtask deploy local                    the local sandbox (started if needed)
  cargo xtask deploy staging
  cargo xtask deploy staging production --yes several at once, no confirmation (CI)
  cargo xtask deploy --all --yes              every environment
  cargo xtask deploy local --register         then register the Worker Deployment Versions
  cargo xtask deploy staging --replace-failed replace a stack left in ROLLBACK_COMPLETE")]
pub struct Args {
    /// The environments (environments/ENV.toml).
    #[arg(required_unless_present = "all")]
    envs: Vec<String>,
    /// Deploy every environment.
    #[arg(long, conflicts_with = "envs")]
    all: bool,
    /// Execute the change sets without asking.
    #[arg(long, short = 'y')]
    yes: bool,
    /// Delete and re-create a stack whose creation failed (ROLLBACK_COMPLETE).
    #[arg(long)]
    replace_failed: bool,
    /// Then register the `[[worker_deployments]]` (see `cargo xtask register --help`).
    #[arg(long)]
    register: bool,
}

/// What one environment's deploy ended with.
struct Report {
    env: Environment,
    result: Result<Outcome, DeployError>,
}

impl Args {
    pub fn run(self, layout: &Layout) -> Result<ExitCode> {
        let names = if self.all {
            layout.env_names()?
        } else {
            self.envs.clone()
        };
        // Every descriptor is validated and rendered before the first AWS call.
        let envs: Vec<Environment> = names
            .iter()
            .map(|n| super::load_env(layout, n))
            .collect::<Result<_>>()?;
        let templates = Templates::load(&layout.templates_dir())?;
        let mut parameters = Vec::new();
        for env in &envs {
            let rendered = super::render::write(layout, &templates, env)?;
            parameters.push(templates.cfn_template().with_defaults(&rendered.parameters));
        }
        let body = &templates.cfn_template().body;
        let asks = |env: &Environment| env.deploy.confirm && !self.yes && ui::interactive();
        // Questions cannot be asked in parallel: with any, one environment after the other.
        let parallel = envs.len() > 1 && !envs.iter().any(asks);
        let group = (envs.len() > 1).then(MultiProgress::new);

        let rt = super::runtime()?;
        let reports: Vec<Report> = rt.block_on(async {
            let deploy_one = |env: Environment, params: Vec<(String, String)>| {
                let group = group.clone();
                let ask = asks(&env);
                async move {
                    let spec = StackSpec {
                        name: &env.role.stack_name,
                        template_body: body,
                        parameters: &params,
                    };
                    let result = match super::connect(layout, &env).await {
                        Ok(clients) => {
                            let mut progress = Progress::in_group(group.as_ref(), &env.name, ask);
                            let r = clients
                                .deploy(&spec, self.replace_failed, &mut progress)
                                .await;
                            progress.finish();
                            r
                        }
                        Err(e) => Err(DeployError::Aws {
                            action: "connecting",
                            code: None,
                            message: format!("{e:#}"),
                        }),
                    };
                    Report { env, result }
                }
            };
            let jobs = envs.into_iter().zip(parameters);
            if parallel {
                futures_util::future::join_all(jobs.map(|(e, p)| deploy_one(e, p))).await
            } else {
                let mut out = Vec::new();
                for (e, p) in jobs {
                    out.push(deploy_one(e, p).await);
                }
                out
            }
        });

        let mut failed = 0;
        let mut deployed = Vec::new();
        for report in reports {
            match finish(layout, &report) {
                Ok(()) => deployed.push(report.env.name),
                Err(e) => {
                    failed += 1;
                    eprintln!("error: {e:#}");
                }
            }
        }
        if self.register {
            for name in &deployed {
                // Reloaded: the deploy just recorded the role ARN.
                let env = super::load_env(layout, name)?;
                if let Err(e) = super::register::register_env(layout, &env) {
                    failed += 1;
                    eprintln!("error: {e:#}");
                }
            }
        }
        if failed > 0 {
            if names.len() > 1 {
                eprintln!("{failed} failure(s) across {} environment(s)", names.len());
            }
            return Ok(ExitCode::FAILURE);
        }
        Ok(ExitCode::SUCCESS)
    }
}

/// Prints the outcome of one environment and records its outputs.
fn finish(layout: &Layout, report: &Report) -> Result<()> {
    let env = &report.env;
    let file = super::render::relative(layout, &env.file);
    let outcome = match &report.result {
        Ok(outcome) => outcome,
        Err(e @ DeployError::Declined { .. }) => anyhow::bail!("{}: {e}", env.name),
        Err(e) => anyhow::bail!(
            "{}: deploy failed; `{file}` was left as it was: {e}",
            env.name
        ),
    };
    let stack = outcome.stack();
    let name = &env.role.stack_name;
    match outcome {
        Outcome::Unchanged(_) => println!(
            "{}: no changes; stack `{name}` is up to date ({})",
            env.name, stack.status
        ),
        Outcome::Created(_) => println!("{}: created stack `{name}` ({})", env.name, stack.status),
        Outcome::Updated(_) => println!("{}: updated stack `{name}` ({})", env.name, stack.status),
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
        registered: env
            .outputs
            .as_ref()
            .map(|o| o.registered.clone())
            .unwrap_or_default(),
    };
    if outputs.record(&env.file)? {
        println!("recorded [outputs] in {file}");
    }
    Ok(())
}
