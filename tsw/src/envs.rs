//! Finding and loading descriptors: the first step of every command.

use anyhow::Result;
use env_descriptor::{Environment, Layout, LoadError};

/// The environments named on the command line, or all of them when none is.
pub fn named_or_all(layout: &Layout, names: Vec<String>) -> Result<Vec<String>> {
    Ok(if names.is_empty() {
        layout.env_names()?
    } else {
        names
    })
}

/// What `--all` means for the commands that call AWS (`deploy`, `plan`): every environment of
/// the checkout but the sandboxes (`[sandbox]`), which are local by nature and which a CI job
/// with real credentials must never touch; naming one includes it. A descriptor that does not
/// load is kept, so that its errors are reported. Returns the names and the sandboxes left out.
pub fn all_but_sandboxes(layout: &Layout) -> Result<(Vec<String>, Vec<String>)> {
    let (mut kept, mut skipped) = (Vec::new(), Vec::new());
    for name in layout.env_names()? {
        let sandbox = layout
            .env_file(&name)
            .ok()
            .and_then(|path| env_descriptor::load(layout, &path).ok())
            .is_some_and(|loaded| loaded.env.sandbox.is_some());
        if sandbox {
            skipped.push(name);
        } else {
            kept.push(name);
        }
    }
    Ok((kept, skipped))
}

/// [`all_but_sandboxes`] for a command run as `COMMAND --all`: says, one line each on stderr,
/// which sandboxes it leaves out, and refuses when nothing is left.
pub fn all_for(layout: &Layout, command: &str) -> Result<Vec<String>> {
    let tsw = crate::cli::name();
    let (names, skipped) = all_but_sandboxes(layout)?;
    for name in &skipped {
        safe_text::eprintln!("skipped {name}: a sandbox environment; name it to include it");
    }
    anyhow::ensure!(
        !names.is_empty(),
        "`{command} --all` has nothing to do: every environment is a sandbox ({}); name one to include it, e.g. `{tsw} {command} {}`",
        skipped.join(", "),
        skipped.first().map_or("ENV", String::as_str)
    );
    Ok(names)
}

/// Loads and validates `environments/NAME.toml`, printing its warnings.
pub fn load_env(layout: &Layout, name: &str) -> Result<Environment> {
    let tsw = crate::cli::name();
    let path = layout.env_file(name)?;
    if !path.exists() {
        let known = layout.env_names().unwrap_or_default().join(", ");
        anyhow::bail!(
            "no environment `{name}`: `{}` does not exist (known: {}); `{tsw} init {name}` writes one",
            path.display(),
            if known.is_empty() { "none" } else { &known }
        );
    }
    match env_descriptor::load(layout, &path) {
        Ok(loaded) => {
            for w in &loaded.warnings {
                safe_text::eprintln!("{w}");
            }
            Ok(loaded.env)
        }
        Err(e @ LoadError::Invalid(_)) => Err(anyhow::anyhow!("{e}")),
        Err(e) => Err(e.into()),
    }
}

/// Every descriptor of the checkout that is valid, loaded without printing its warnings: what
/// [`ensure_own_stacks`] compares with.
pub fn all_envs(layout: &Layout) -> Vec<Environment> {
    let names = layout.env_names().unwrap_or_default();
    names
        .iter()
        .filter_map(|name| layout.env_file(name).ok())
        .filter_map(|path| env_descriptor::load(layout, &path).ok())
        .map(|loaded| loaded.env)
        .collect()
}

/// Refuses `envs` when another descriptor of `all` deploys one of their stacks, or creates an
/// IAM role of the same name in what may be the same account, naming both.
pub fn ensure_own_stacks(envs: &[Environment], all: &[Environment]) -> Result<()> {
    let mut problems = env_descriptor::shared_stacks(envs, all);
    problems.extend(env_descriptor::shared_role_names(envs, all));
    if problems.is_empty() {
        return Ok(());
    }
    Err(anyhow::anyhow!("{}", LoadError::Invalid(problems)))
}
