use std::process::ExitCode;

use anyhow::Result;
use env_descriptor::{Layout, Outputs};

use crate::ui::{self, Progress};

/// Delete the stack and remove [outputs] from the descriptor.
#[derive(Debug, clap::Args)]
#[command(after_help = "\
Asks first on a terminal; elsewhere it needs --yes.

Examples:
  cargo xtask destroy local --yes
  cargo xtask destroy staging")]
pub struct Args {
    /// The environment (environments/ENV.toml).
    env: String,
    /// Delete without asking.
    #[arg(long, short = 'y')]
    yes: bool,
}

impl Args {
    pub fn run(self, layout: &Layout) -> Result<ExitCode> {
        let env = super::load_env(layout, &self.env)?;
        let stack = &env.role.stack_name;
        if !self.yes {
            if !ui::interactive() {
                anyhow::bail!(
                    "refusing to delete stack `{stack}` without confirmation: pass --yes"
                );
            }
            if !ui::ask_yes_no(
                None,
                &format!("delete stack `{stack}` of environment `{}`?", env.name),
            ) {
                eprintln!("nothing was deleted");
                return Ok(ExitCode::FAILURE);
            }
        }
        let existed = super::runtime()?.block_on(async {
            let clients = super::connect(layout, &env).await?;
            let mut progress = Progress::new(&env.name, false);
            let existed = clients.destroy(stack, &mut progress).await;
            progress.finish();
            anyhow::Ok(existed?)
        })?;
        if existed {
            println!("{}: deleted stack `{stack}`", env.name);
        } else {
            println!("{}: stack `{stack}` did not exist", env.name);
        }
        if Outputs::remove(&env.file)? {
            println!(
                "removed [outputs] from {}",
                super::render::relative(layout, &env.file)
            );
        }
        Ok(ExitCode::SUCCESS)
    }
}
