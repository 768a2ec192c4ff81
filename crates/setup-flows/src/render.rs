use std::process::ExitCode;

use anyhow::Result;
use env_descriptor::{Environment, Layout};
use env_render::{FileChange, Rendered, Templates};

/// Render the dynamic config and the stack parameters of environments.
#[derive(Debug, clap::Args)]
#[command(after_help = "\
Writes environments/ENV/dynamicconfig.yaml (Temporal's dynamic config: the workercontroller keys)
and environments/ENV/parameters.json (for `aws cloudformation create-stack --parameters file://...`).
Both are meant to be committed; rendering twice gives the same bytes. With
`temporal.dynamic_config_file` set, the workercontroller keys are also put into that file (the one
your server reads) as a marked block; every other byte of it is kept, and a result Temporal would
reject is never written.

Examples:
  cargo xtask render staging
  cargo xtask render              every environment
  cargo xtask render --check      fail if a committed file is stale (for CI)")]
pub struct Args {
    /// Environments to render (default: all).
    envs: Vec<String>,
    /// Write nothing; fail when a rendered file differs from what is on disk.
    #[arg(long)]
    check: bool,
}

/// Renders `env` and writes its files when they changed; prints what it wrote.
pub fn write(layout: &Layout, templates: &Templates, env: &Environment) -> Result<Rendered> {
    let rendered = templates.render(env)?;
    for path in rendered.write(&layout.rendered_dir(&env.name))? {
        println!("wrote {}", crate::relative(layout, &path));
    }
    if let Some(file) = &env.temporal.dynamic_config_file {
        let path = layout.root().join(file);
        if rendered.update_server_file(&path, &env.name)? {
            println!(
                "updated the workercontroller block of {}",
                crate::relative(layout, &path)
            );
        }
    }
    Ok(rendered)
}

/// The files rendering `env` would change, without writing any: the committed files under
/// `environments/ENV/`, and the server's dynamic config file when `temporal.dynamic_config_file`
/// is set. What `render --check` and `plan` report.
pub fn pending(
    layout: &Layout,
    templates: &Templates,
    env: &Environment,
) -> Result<(Rendered, Vec<FileChange>)> {
    let rendered = templates.render(env)?;
    let mut changes = rendered.changes(&layout.rendered_dir(&env.name));
    if let Some(file) = &env.temporal.dynamic_config_file {
        let path = layout.root().join(file);
        changes.extend(rendered.server_file_change(&path, &env.name)?);
    }
    Ok((rendered, changes))
}

/// `change` as a unified diff (3 lines of context), its paths relative to the checkout.
pub fn unified_diff(layout: &Layout, change: &FileChange) -> String {
    let path = crate::relative(layout, &change.path);
    let old = change.old.as_deref().unwrap_or_default();
    let from = if change.old.is_some() {
        format!("a/{path}")
    } else {
        "/dev/null".to_owned()
    };
    similar::TextDiff::from_lines(old, &change.new)
        .unified_diff()
        .context_radius(3)
        .header(&from, &format!("b/{path}"))
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
                let (_, changes) = pending(layout, &templates, &env)?;
                stale.extend(changes.into_iter().map(|c| c.path));
            } else {
                write(layout, &templates, &env)?;
            }
        }
        if !stale.is_empty() {
            for path in &stale {
                eprintln!("stale: {}", crate::relative(layout, path));
            }
            eprintln!("run `cargo xtask render` and commit the result");
            return Ok(ExitCode::FAILURE);
        }
        if self.check {
            println!(
                "{} environment(s) rendered files are up to date",
                names.len()
            );
        }
        Ok(ExitCode::SUCCESS)
    }
}
