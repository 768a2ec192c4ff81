use std::process::ExitCode;

use anyhow::Result;
use env_descriptor::Layout;
use env_render::Templates;

/// Check descriptors (and that they render) without calling AWS.
#[derive(Debug, clap::Args)]
#[command(after_help = "\
Every problem is reported at once, with file, line, key and what is allowed. Templates in the
repository's templates/ override the built-in ones: each is named, must declare the parameters the
tool passes, and must render every environment. Each descriptor is
also compared with every other one in environments/: two that deploy the same stack (same
`role.stack_name`, account, region and endpoint) are refused, naming both files; so are two that
create one IAM role name in one account (any region: IAM names are global), and two that name one
`dynamic_config_file` or `helm_values` file but render other keys into it. `[outputs]` must
be this stack's own: its role, its stack ID, an RFC 3339 `deployed_at`.

Examples:
  cargo xtask validate                      every environments/*.toml
  cargo xtask validate staging production
  cargo xtask validate --output json        one document: each environment, ok or its error")]
pub struct Args {
    /// Environments to check (default: all).
    envs: Vec<String>,
    #[command(flatten)]
    output: crate::output::OutputArgs,
}

impl Args {
    pub fn run(self, layout: &Layout) -> Result<ExitCode> {
        let tsw = crate::cli::name();
        let names = crate::envs::named_or_all(layout, self.envs)?;
        if names.is_empty() {
            anyhow::bail!(
                "no environments in `{}`; `{tsw} init NAME` writes one",
                layout.environments_dir().display()
            );
        }
        // A template of the repository's own is checked when loaded (the parameters the tool
        // passes, the output it records) and by rendering every environment below.
        let out = self.output;
        let templates = Templates::load(layout)?;
        let overrides: Vec<String> = templates
            .overrides()
            .iter()
            .map(|path| crate::relative(layout, path))
            .collect();
        for path in &overrides {
            out.line(format_args!(
                "note    {path} overrides the built-in template"
            ));
        }
        let all = crate::envs::all_envs(layout);
        let check = |name: &str| -> Result<()> {
            let env = crate::envs::load_env(layout, name)?;
            templates.render(&env)?;
            crate::commands::render::ensure_own_server_file(layout, &templates, &env, &all)?;
            crate::envs::ensure_own_stacks(std::slice::from_ref(&env), &all)
        };
        let mut failed = 0;
        let mut results = Vec::new();
        for name in &names {
            let error = match check(name) {
                Ok(_) => {
                    out.line(format_args!("ok      {name}"));
                    None
                }
                Err(e) => {
                    failed += 1;
                    crate::output::print_error(format_args!("{e:#}"));
                    out.line(format_args!("FAILED  {name}"));
                    Some(format!("{e:#}"))
                }
            };
            results
                .push(serde_json::json!({ "name": name, "ok": error.is_none(), "error": error }));
        }
        out.document(
            "validate",
            serde_json::json!({
                "ok": failed == 0,
                "template_overrides": overrides,
                "environments": results,
            }),
        );
        if failed > 0 {
            safe_text::eprintln!(
                "{failed} of {} environment(s) failed validation",
                names.len()
            );
            return Ok(ExitCode::FAILURE);
        }
        Ok(ExitCode::SUCCESS)
    }
}
