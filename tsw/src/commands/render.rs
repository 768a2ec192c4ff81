use std::path::{Path, PathBuf};
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
written. Descriptors may share that file only when they render the same keys into it (the
block's note then names the first of them by name); otherwise `validate` and `render` refuse,
naming both. `temporal.intermediary_roles` is global to the server: descriptors sharing its
file must declare the same chain.

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

/// Where a server file named in a descriptor is, for comparing with another descriptor's: the
/// file itself when it exists (links and `..` resolved), else its path in the checkout.
fn server_file(layout: &Layout, file: &Path) -> PathBuf {
    let path = layout.root().join(file);
    path.canonicalize().unwrap_or(path)
}

/// The other descriptors of `all` that name the server file `env` names (`dynamic_config_file`
/// or `helm_values`), with the kind each names it as.
fn sharers<'a>(
    layout: &Layout,
    env: &Environment,
    all: &'a [Environment],
) -> Vec<(&'a Environment, ServerConfig)> {
    let Some((_, file)) = ServerConfig::of(env) else {
        return Vec::new();
    };
    let path = server_file(layout, file);
    all.iter()
        .filter(|o| o.file != env.file)
        .filter_map(|o| {
            let (kind, file) = ServerConfig::of(o)?;
            (server_file(layout, file) == path).then_some((o, kind))
        })
        .collect()
}

/// Refuses `env` when another descriptor of `all` puts other keys into the same server file
/// (or names it as the other kind of file): each `render` would replace the other's block, so
/// the last writer would win and `render --check` would fail for one of them forever.
/// Descriptors that render the same keys into it may share it.
pub fn ensure_own_server_file(
    layout: &Layout,
    templates: &Templates,
    env: &Environment,
    all: &[Environment],
) -> Result<()> {
    let Some((kind, file)) = ServerConfig::of(env) else {
        return Ok(());
    };
    let shared = sharers(layout, env, all);
    if shared.is_empty() {
        return Ok(());
    }
    let key = |kind: ServerConfig| match kind {
        ServerConfig::File => "temporal.dynamic_config_file",
        ServerConfig::HelmValues => "temporal.helm_values",
    };
    let ours = templates.render(env)?.dynamic_config;
    for (other, other_kind) in shared {
        // The chain is read globally: one server, one chain, whatever the namespaces.
        anyhow::ensure!(
            other.temporal.intermediary_roles == env.temporal.intermediary_roles,
            "{}: `{}` ({} of {}) is also written by {}, which declares another \
             `temporal.intermediary_roles`: the chain is a global key of the server (one chain per \
             server, for every namespace), so every descriptor rendering into its file must \
             declare the same hops in the same order; nothing was written",
            env.name,
            file.display(),
            key(kind),
            crate::relative(layout, &env.file),
            crate::relative(layout, &other.file),
        );
        let same = other_kind == kind
            && templates
                .render(other)
                .is_ok_and(|theirs| theirs.dynamic_config == ours);
        anyhow::ensure!(
            same,
            "{}: `{}` ({} of {}) is also written by {} ({}), which puts other workercontroller keys into it: \
             each `render` would replace the other's block and `render --check` would fail for one of them; \
             give each descriptor its own file, or make both render the same keys (the same namespaces and settings)",
            env.name,
            file.display(),
            key(kind),
            crate::relative(layout, &env.file),
            crate::relative(layout, &other.file),
            key(other_kind),
        );
    }
    Ok(())
}

/// The environment named in the managed block's note of `env`'s server file: of the
/// descriptors that share the file (and, checked by [`ensure_own_server_file`], render the same
/// keys into it), the first by name, so that rendering any of them leaves the same bytes.
fn block_owner(layout: &Layout, env: &Environment, all: &[Environment]) -> String {
    sharers(layout, env, all)
        .into_iter()
        .map(|(o, _)| o.name.clone())
        .chain([env.name.clone()])
        .min()
        .unwrap_or_else(|| env.name.clone())
}

/// Renders `env` and writes its files when they changed; prints what it wrote, on stdout, or
/// on stderr when `json` (stdout then holds a JSON document alone). `all` is every descriptor
/// of the checkout ([`crate::envs::all_envs`]), which may share its server file.
pub fn write(
    layout: &Layout,
    templates: &Templates,
    env: &Environment,
    all: &[Environment],
    json: bool,
) -> Result<Rendered> {
    let say = |line: std::fmt::Arguments<'_>| {
        let stream = if json {
            safe_text::Stream::Stderr
        } else {
            safe_text::Stream::Stdout
        };
        safe_text::write(stream, format_args!("{line}\n"));
    };
    ensure_own_server_file(layout, templates, env, all)?;
    let rendered = templates.render(env)?;
    for path in rendered.write(layout, &layout.rendered_dir(&env.name))? {
        say(format_args!("wrote {}", crate::relative(layout, &path)));
    }
    if let Some((kind, file)) = ServerConfig::of(env) {
        let path = layout.root().join(file);
        if rendered.update_server_config(kind, layout, file, &block_owner(layout, env, all))? {
            say(format_args!(
                "updated {} {}",
                kind.place(),
                crate::relative(layout, &path)
            ));
        }
    }
    Ok(rendered)
}

/// What rendering `env` would change, written nowhere: its rendered files, then the server's
/// own file (`dynamic_config_file` or `helm_values`). What `render --check` and `plan` report.
/// `all` as for [`write`].
pub fn pending(
    layout: &Layout,
    templates: &Templates,
    env: &Environment,
    all: &[Environment],
) -> Result<(Rendered, Vec<Change>)> {
    ensure_own_server_file(layout, templates, env, all)?;
    let rendered = templates.render(env)?;
    let mut changes = rendered.changes(layout, &layout.rendered_dir(&env.name))?;
    if let Some((kind, file)) = ServerConfig::of(env) {
        changes.extend(rendered.server_config_change(
            kind,
            layout,
            file,
            &block_owner(layout, env, all),
        )?);
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
        let tsw = crate::cli::name();
        let names = crate::envs::named_or_all(layout, self.envs)?;
        let templates = Templates::load(layout)?;
        let all = crate::envs::all_envs(layout);
        let mut stale = Vec::new();
        for name in &names {
            let env = crate::envs::load_env(layout, name)?;
            if self.check {
                stale.extend(pending(layout, &templates, &env, &all)?.1);
            } else {
                write(layout, &templates, &env, &all, false)?;
            }
        }
        if !stale.is_empty() {
            for change in &stale {
                safe_text::eprintln!("stale: {}", crate::relative(layout, &change.path));
                safe_text::eprint!("{}", unified_diff(layout, change));
            }
            safe_text::eprintln!("run `{tsw} render` and commit the result");
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
