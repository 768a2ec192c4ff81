//! What `doctor` reads before its checks, none of which needs the AWS SDK.

use env_descriptor::{Environment, Layout};
use env_render::{DYNAMIC_CONFIG_FILE, Templates};

/// The dynamic config the server reads: the configured file, or the rendered one (rendered
/// now when it was never written). Returns where it comes from, in the user's terms, and its
/// text, or why it could not be read; fails only when the templates cannot be loaded.
pub fn dynamic_config(
    layout: &Layout,
    env: &Environment,
) -> anyhow::Result<(String, Result<String, String>)> {
    let (source, path) = match &env.temporal.dynamic_config_file {
        Some(f) => (f.to_string(), layout.root().join(f)),
        None => {
            let path = layout.rendered_dir(&env.name).join(DYNAMIC_CONFIG_FILE);
            (crate::relative(layout, &path), path)
        }
    };
    let text = if env.temporal.dynamic_config_file.is_none() && !path.exists() {
        Templates::load(&layout.templates_dir())?
            .render(env)
            .map(|r| r.dynamic_config)
            .map_err(|e| e.to_string())
    } else {
        std::fs::read_to_string(&path).map_err(|e| e.to_string())
    };
    Ok((source, text))
}

/// The Temporal CLI client `doctor` checks registrations with, or why there is none.
pub fn temporal_client(
    layout: &Layout,
    env: &Environment,
) -> Result<worker_deployments::Client, String> {
    crate::register::client(layout, env).map_err(|e| format!("{e:#}"))
}
