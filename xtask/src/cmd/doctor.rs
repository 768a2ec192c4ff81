use std::process::ExitCode;

use anyhow::Result;
use env_descriptor::Layout;
use env_render::{DYNAMIC_CONFIG_FILE, Templates};
use preflight::{Inputs, Level};

/// Check every prerequisite of Serverless Workers for an environment.
#[derive(Debug, clap::Args)]
#[command(after_help = "\
One line per check, grouped by the steps of the self-hosted setup guide, each pass/warn/fail
with the fix for what fails:
  1  Lambda can reach the frontend: address, reachability, functions exist, VPC config
  2  the dynamic config the server reads enables WCI, aws-lambda and no-sync where needed
  3  these credentials are the server's identity (`temporal.server_role_arn`)
  4  the role stack matches [outputs]; AssumeRole works with the external ID and is denied
     without it; through the role, GetFunction works for every function
  5  the [[worker_deployments]] are registered with aws-lambda compute
Exits non-zero when a check fails. Run it with the Temporal server's credentials to check step 3.

Examples:
  cargo xtask doctor local
  cargo xtask doctor staging --output json")]
pub struct Args {
    /// The environment (environments/ENV.toml).
    env: String,
    /// `text` (default) or `json`.
    #[arg(long, value_enum, default_value = "text")]
    output: Output,
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
enum Output {
    Text,
    Json,
}

impl Args {
    pub fn run(self, layout: &Layout) -> Result<ExitCode> {
        let env = super::load_env(layout, &self.env)?;
        let emulator = super::connection(&env).is_loopback();
        if super::register::uses_sandbox(&env) {
            super::sandbox::ensure_all(layout, &env)?;
        }
        // The file the server reads: the configured one, or the rendered one.
        let (source, path) = match &env.temporal.dynamic_config_file {
            Some(f) => (f.clone(), layout.root().join(f)),
            None => {
                let path = layout.rendered_dir(&env.name).join(DYNAMIC_CONFIG_FILE);
                (super::render::relative(layout, &path), path)
            }
        };
        let text = if env.temporal.dynamic_config_file.is_none() && !path.exists() {
            Templates::load(&layout.templates_dir())?
                .render(&env)
                .map(|r| r.dynamic_config)
                .map_err(|e| e.to_string())
        } else {
            std::fs::read_to_string(&path).map_err(|e| e.to_string())
        };
        let temporal = super::register::client(layout, &env).map_err(|e| format!("{e:#}"));
        let report = super::runtime()?.block_on(async {
            let clients = super::connect(layout, &env).await?;
            let inputs = Inputs {
                env: &env,
                clients: &clients,
                dynamic_config: (source, text),
                emulator,
                temporal,
            };
            anyhow::Ok(preflight::run(&inputs).await)
        })?;
        match self.output {
            Output::Json => println!("{:#}", report.to_json(&env.name)),
            Output::Text => {
                for c in &report.checks {
                    let mark = match c.level {
                        Level::Pass => "pass",
                        Level::Warn => "WARN",
                        Level::Fail => "FAIL",
                    };
                    println!("{mark}  step {}  {}: {}", c.step, c.name, c.detail);
                    if let Some(fix) = &c.fix {
                        println!("            fix: {fix}");
                    }
                }
                let count = |l| report.checks.iter().filter(|c| c.level == l).count();
                println!(
                    "{}: {} passed, {} warnings, {} failed",
                    env.name,
                    count(Level::Pass),
                    count(Level::Warn),
                    count(Level::Fail)
                );
            }
        }
        Ok(if report.failed() {
            ExitCode::FAILURE
        } else {
            ExitCode::SUCCESS
        })
    }
}
