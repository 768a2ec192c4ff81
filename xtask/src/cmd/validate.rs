use std::process::ExitCode;

use anyhow::Result;
use env_descriptor::Layout;
use env_render::Templates;

/// Check descriptors (and that they render) without calling AWS.
#[derive(Debug, clap::Args)]
#[command(after_help = "\
Every problem is reported at once, with file, line, key and what is allowed.

Examples:
  cargo xtask validate                      every environments/*.toml
  cargo xtask validate staging production")]
pub struct Args {
    /// Environments to check (default: all).
    envs: Vec<String>,
}

impl Args {
    pub fn run(self, layout: &Layout) -> Result<ExitCode> {
        let names = super::named_or_all(layout, self.envs)?;
        if names.is_empty() {
            anyhow::bail!(
                "no environments in `{}`; `cargo xtask init NAME` writes one",
                layout.environments_dir().display()
            );
        }
        let templates = Templates::load(&layout.templates_dir())?;
        let mut failed = 0;
        for name in &names {
            match super::load_env(layout, name).and_then(|env| Ok(templates.render(&env)?)) {
                Ok(_) => println!("ok      {name}"),
                Err(e) => {
                    failed += 1;
                    eprintln!("error: {e:#}");
                    println!("FAILED  {name}");
                }
            }
        }
        if failed > 0 {
            eprintln!(
                "{failed} of {} environment(s) failed validation",
                names.len()
            );
            return Ok(ExitCode::FAILURE);
        }
        Ok(ExitCode::SUCCESS)
    }
}
