//! What `doctor` reads before its checks, none of which needs the AWS SDK.

use env_descriptor::{Environment, Layout};
use env_render::{DYNAMIC_CONFIG_FILE, ServerConfig, Templates};

/// The dynamic config the server reads: the configured file (for Helm values, the mapping
/// under `server.dynamicConfig`), or the rendered one (rendered now when it was never
/// written). Returns where it comes from, in the user's terms, and its text, or why it could
/// not be read; fails only when the templates cannot be loaded.
pub fn dynamic_config(
    layout: &Layout,
    env: &Environment,
) -> anyhow::Result<(String, Result<String, String>)> {
    if let Some((kind, file)) = ServerConfig::of(env) {
        let source = match kind {
            ServerConfig::File => file.display().to_string(),
            ServerConfig::HelmValues => format!("server.dynamicConfig of {}", file.display()),
        };
        let text = std::fs::read_to_string(layout.root().join(file))
            .map_err(|e| e.to_string())
            .and_then(|text| kind.dynamic_config(&text));
        return Ok((source, text));
    }
    let path = layout.rendered_dir(&env.name).join(DYNAMIC_CONFIG_FILE);
    let text = if path.exists() {
        std::fs::read_to_string(&path).map_err(|e| e.to_string())
    } else {
        Templates::load(&layout.templates_dir())?
            .render(env)
            .map(|r| r.dynamic_config)
            .map_err(|e| e.to_string())
    };
    Ok((crate::relative(layout, &path), text))
}

/// The Temporal CLI client `doctor` checks registrations with, or why there is none.
pub fn temporal_client(
    layout: &Layout,
    env: &Environment,
) -> Result<worker_deployments::Client, String> {
    crate::register::client(layout, env).map_err(|e| format!("{e:#}"))
}
