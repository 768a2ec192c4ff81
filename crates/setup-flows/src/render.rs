use std::process::ExitCode;

use anyhow::Result;
use env_descriptor::{Environment, Layout};
use env_render::{Change, Rendered, ServerConfig, Templates};

/// Render the dynamic config and the stack parameters of environments.
#[derive(Debug, clap::Args)]
#[command(after_help = "\
Writes environments/ENV/dynamicconfig.yaml (Temporal's dynamic config: the workercontroller keys)
and environments/ENV/parameters.json (for `aws cloudformation create-stack --parameters file://...`).
Both are meant to be committed; rendering twice gives the same bytes. With
`temporal.dynamic_config_file` set, the workercontroller keys are also put into that file (the one
your server reads) as a marked block; with `temporal.helm_values`, under `server.dynamicConfig` of
that Helm values file. Every other byte of it is kept, and a result Temporal would reject is never
written.

Examples:
  cargo xtask render staging
  cargo xtask render              every environment
  cargo xtask render --check      fail if a committed file is stale, showing the diff (for CI)")]
pub struct Args {
    /// Environments to render (default: all).
    envs: Vec<String>,
    /// Write nothing; fail when a rendered file differs from what is on disk, and show how.
    #[arg(long)]
    check: bool,
}

/// Renders `env` and writes its files when they changed; prints what it wrote.
pub fn write(layout: &Layout, templates: &Templates, env: &Environment) -> Result<Rendered> {
    let rendered = templates.render(env)?;
    for path in rendered.write(&layout.rendered_dir(&env.name))? {
        safe_text::println!("wrote {}", crate::relative(layout, &path));
    }
    if let Some((kind, file)) = ServerConfig::of(env) {
        let path = layout.root().join(file);
        if rendered.update_server_config(kind, &path, &env.name)? {
            safe_text::println!(
                "updated {} {}",
                kind.place(),
                crate::relative(layout, &path)
            );
        }
    }
    Ok(rendered)
}

/// What rendering `env` would change, written nowhere: its rendered files, then the server's
/// own file (`dynamic_config_file` or `helm_values`). What `render --check` and `plan` report.
pub fn pending(
    layout: &Layout,
    templates: &Templates,
    env: &Environment,
) -> Result<(Rendered, Vec<Change>)> {
    let rendered = templates.render(env)?;
    let mut changes = rendered.changes(&layout.rendered_dir(&env.name));
    if let Some((kind, file)) = ServerConfig::of(env) {
        let path = layout.root().join(file);
        changes.extend(rendered.server_config_change(kind, &path, &env.name)?);
    }
    Ok((rendered, changes))
}

/// A unified diff from the file on disk to what rendering gives, named by its path in the
/// checkout (`a/PATH`, `b/PATH`, as `git diff` shows it; a missing file is `/dev/null`).
pub fn unified_diff(layout: &Layout, change: &Change) -> String {
    let name = crate::relative(layout, &change.path);
    let old = change.old.as_deref().unwrap_or_default();
    let old_name = match change.old {
        Some(_) => format!("a/{name}"),
        None => "/dev/null".to_owned(),
    };
    similar::TextDiff::from_lines(old, &change.new)
        .unified_diff()
        .context_radius(3)
        .header(&old_name, &format!("b/{name}"))
        .to_string()
}

impl Args {
    pub fn run(self, layout: &Layout) -> Result<ExitCode> {
        let names = crate::envs::named_or_all(layout, self.envs)?;
        let templates = Templates::load(&layout.templates_dir())?;
        let mut stale = Vec::new();
        for name in &names {
            let env = crate::envs::load_env(layout, name)?;
            if self.check {
                stale.extend(pending(layout, &templates, &env)?.1);
            } else {
                write(layout, &templates, &env)?;
            }
        }
        if !stale.is_empty() {
            for change in &stale {
                safe_text::eprintln!("stale: {}", crate::relative(layout, &change.path));
                safe_text::eprint!("{}", unified_diff(layout, change));
            }
            safe_text::eprintln!("run `cargo xtask render` and commit the result");
            return Ok(ExitCode::FAILURE);
        }
        if self.check {
            safe_text::println!(
                "{} environment(s) rendered files are up to date",
                names.len()
            );
        }
        Ok(ExitCode::SUCCESS)
    }
}
