//! The SDK-free half of `plan`: the Worker Deployment Versions `register` would create or
//! update, read from the descriptor alone (no Temporal call). `xtask-aws` adds the stack's
//! plan and shows both.

use env_descriptor::Environment;

/// What `register` would do with one Worker Deployment Version.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VersionAction {
    /// Listed, not in `[outputs].registered`.
    Create,
    /// Registered, but the role it names or its external ID changes with this plan.
    Update,
    /// Registered, and nothing it holds changes.
    Unchanged,
    /// In `[outputs].registered` but no longer listed: `register` leaves it as it is.
    Unlisted,
}

/// One Worker Deployment Version and what `register` would do with it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VersionPlan {
    /// `namespace/name@build_id`.
    pub id: String,
    /// The function it runs on; `None` for an unlisted version.
    pub lambda_function_arn: Option<String>,
    pub action: VersionAction,
}

impl VersionAction {
    /// The name `plan` shows and its JSON holds.
    pub fn as_str(self) -> &'static str {
        match self {
            VersionAction::Create => "create",
            VersionAction::Update => "update",
            VersionAction::Unchanged => "unchanged",
            VersionAction::Unlisted => "unlisted",
        }
    }
}

impl VersionPlan {
    /// Whether `register` would change this version.
    pub fn is_change(&self) -> bool {
        matches!(self.action, VersionAction::Create | VersionAction::Update)
    }
}

/// The versions of `env` against `[outputs].registered`. `compute_changes`: the plan changes
/// what every version's compute config holds (the role's ARN or the external ID), so
/// registered versions need an update.
pub fn versions(env: &Environment, compute_changes: bool) -> Vec<VersionPlan> {
    let registered: Vec<String> = env
        .outputs
        .as_ref()
        .map(|o| o.registered.iter().map(|r| r.to_string()).collect())
        .unwrap_or_default();
    let listed = env.worker_deployments.iter().map(|wd| {
        let id = wd.id();
        let action = match (registered.contains(&id), compute_changes) {
            (false, _) => VersionAction::Create,
            (true, true) => VersionAction::Update,
            (true, false) => VersionAction::Unchanged,
        };
        VersionPlan {
            id,
            lambda_function_arn: Some(wd.lambda_function_arn.to_string()),
            action,
        }
    });
    let unlisted = registered
        .iter()
        .filter(|id| !env.worker_deployments.iter().any(|wd| &wd.id() == *id))
        .map(|id| VersionPlan {
            id: id.clone(),
            lambda_function_arn: None,
            action: VersionAction::Unlisted,
        });
    listed.chain(unlisted.collect::<Vec<_>>()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const DESCRIPTOR: &str = r#"
[aws]
region = "us-west-2"

[temporal]
server_role_arn = "arn:aws:iam::123456789012:role/temporal"
address = "temporal.internal:7233"

[role]
stack_name = "s"
external_id = "plan-ext-id"
lambda_function_arns = ["arn:aws:lambda:us-west-2:123456789012:function:w"]

[[worker_deployments]]
namespace = "default"
name = "w"
build_id = "1"
lambda_function_arn = "arn:aws:lambda:us-west-2:123456789012:function:w"

[[worker_deployments]]
namespace = "default"
name = "w"
build_id = "2"
lambda_function_arn = "arn:aws:lambda:us-west-2:123456789012:function:w"

[outputs]
role_arn = "arn:aws:iam::123456789012:role/Temporal-Serverless-Worker-s"
stack_id = "arn:aws:cloudformation:us-west-2:123456789012:stack/s/1"
deployed_at = "2026-11-25T10:00:00Z"
registered = ["default/w@1", "default/w@0"]
"#;

    fn actions(compute_changes: bool) -> Vec<(String, &'static str)> {
        let env = env_descriptor::load_str(std::path::Path::new("e.toml"), DESCRIPTOR)
            .expect("valid descriptor")
            .env;
        versions(&env, compute_changes)
            .into_iter()
            .map(|v| (v.id, v.action.as_str()))
            .collect()
    }

    #[test]
    fn versions_are_created_updated_or_left_as_they_are() {
        let id = |s: &str| s.to_owned();
        assert_eq!(
            actions(false),
            [
                (id("default/w@1"), "unchanged"),
                (id("default/w@2"), "create"),
                (id("default/w@0"), "unlisted"),
            ]
        );
        assert_eq!(actions(true)[0], (id("default/w@1"), "update"));
    }
}
