use std::process::ExitCode;

use anyhow::Result;
use env_descriptor::{Layout, arn};

/// Show the AWS identity of an environment, and the ARN to use as `server_role_arn`.
#[derive(Debug, clap::Args)]
#[command(after_help = "\
Run it with the Temporal server's credentials to find `temporal.server_role_arn`: for an
assumed-role session (arn:aws:sts::ACCOUNT:assumed-role/NAME/SESSION) it prints the IAM role
ARN, which is what a trust policy must name.

Examples:
  cargo xtask whoami staging
  AWS_PROFILE=temporal-server cargo xtask whoami staging")]
pub struct Args {
    /// The environment (environments/ENV.toml).
    env: String,
}

impl Args {
    pub fn run(self, layout: &Layout) -> Result<ExitCode> {
        let env = super::load_env(layout, &self.env)?;
        let id = super::runtime()?.block_on(async {
            let clients = super::connect(layout, &env).await?;
            anyhow::Ok(clients.whoami().await?)
        })?;
        println!("account:  {}", id.account);
        println!("arn:      {}", id.arn);
        println!("user id:  {}", id.user_id);
        let principal = arn::principal_of(&id.arn);
        match &principal {
            Some(p) if *p != id.arn => {
                println!(
                    "this is a role session; the role to name in `temporal.server_role_arn` is:\n  {p}"
                );
                println!(
                    "  (if the role has a path, e.g. role/service/NAME, include it: the session ARN drops it)"
                );
            }
            Some(_) => println!("use as `temporal.server_role_arn`: {}", id.arn),
            None => println!("this identity is not an IAM role or user ARN"),
        }
        if let Some(p) = principal {
            let note = if p == env.temporal.server_role_arn {
                "matches"
            } else {
                "differs from"
            };
            println!(
                "{note} `temporal.server_role_arn` of {} ({})",
                env.name, env.temporal.server_role_arn
            );
        }
        Ok(ExitCode::SUCCESS)
    }
}
