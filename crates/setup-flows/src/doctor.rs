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

#[cfg(test)]
mod tests {
    use std::path::Path;

    use env_descriptor::{Layout, load_str};

    const ENV: &str = "[aws]\nregion = \"us-east-1\"\n\n[temporal]\nserver_role_arn = \"arn:aws:iam::123456789012:role/t\"\nhelm_values = \"deploy/values.yaml\"\n\n[role]\nstack_name = \"s\"\nexternal_id = \"abcdef-12345\"\nlambda_function_arns = [\"arn:aws:lambda:us-east-1:123456789012:function:f\"]\n";

    /// With Helm, doctor checks what the chart gives the server: `server.dynamicConfig`.
    #[test]
    fn helm_values_are_read_under_server_dynamic_config() {
        let dir = tempfile::tempdir().unwrap();
        let layout = Layout::at(dir.path());
        let env = load_str(Path::new("environments/h.toml"), ENV).unwrap().env;
        std::fs::create_dir_all(dir.path().join("deploy")).unwrap();
        std::fs::write(
            dir.path().join("deploy/values.yaml"),
            "server:\n  image: {tag: 1.32.0}\n  dynamicConfig:\n    workercontroller.enabled:\n    - value: true\nweb: {}\n",
        )
        .unwrap();
        let (source, text) = super::dynamic_config(&layout, &env).unwrap();
        assert_eq!(source, "server.dynamicConfig of deploy/values.yaml");
        assert_eq!(text.unwrap(), "workercontroller.enabled:\n- value: true\n");

        std::fs::write(
            dir.path().join("deploy/values.yaml"),
            "server:\n  dynamicConfig: [1]\n",
        )
        .unwrap();
        let (_, text) = super::dynamic_config(&layout, &env).unwrap();
        assert!(text.unwrap_err().contains("must be a mapping of keys"));
    }
}
