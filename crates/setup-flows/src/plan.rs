//! The SDK-free half of `plan`: the Worker Deployment Versions `register` would create or
//! update. Asked of the Temporal server when it answers, through the very decision `register`
//! acts on ([`Client::would_register`]), so the two never disagree; else estimated from the
//! descriptor, with a note saying why (a CI job without access to Temporal is normal, so this
//! never fails the plan). `xtask-aws` adds the stack's plan and shows both.

use env_descriptor::{Environment, Layout};
use worker_deployments::{Client, Difference, Planned, Registration, Scope};

/// What `register` would do with one Worker Deployment Version.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VersionAction {
    /// Listed, and not on the server (or, from the descriptor, not in `[outputs].registered`).
    Create,
    /// Registered, but its compute config (or whether it is current) changes.
    Update,
    /// Registered, and nothing it holds changes.
    Unchanged,
    /// In `[outputs].registered` but no longer listed: `register` leaves it as it is.
    Unlisted,
    /// On the server with Lambda compute but no longer listed: `register` names it, with the
    /// command that retires it, and leaves it as it is.
    LeftBehind,
}

/// One Worker Deployment Version and what `register` would do with it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VersionPlan {
    /// `namespace/name@build_id`.
    pub id: String,
    /// The function it runs on; `None` for a version no longer listed.
    pub lambda_function_arn: Option<String>,
    pub action: VersionAction,
    /// For an update the server was asked about: what differs, old → new.
    pub differences: Vec<Difference>,
    /// For a version left behind: the Temporal CLI command that retires it.
    pub retire: Option<String>,
}

/// Where the versions part of a plan comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VersionsSource {
    /// The Temporal server answered.
    Server,
    /// The descriptor alone (`[outputs].registered`): an estimate.
    Descriptor,
}

impl VersionsSource {
    /// The name `plan`'s JSON holds.
    pub fn as_str(self) -> &'static str {
        match self {
            VersionsSource::Server => "server",
            VersionsSource::Descriptor => "descriptor",
        }
    }
}

/// The versions part of one environment's plan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VersionsPlan {
    pub source: VersionsSource,
    /// Why the server was not asked, for [`VersionsSource::Descriptor`] when it lists versions;
    /// the frontend's address for [`VersionsSource::Server`].
    pub note: Option<String>,
    pub versions: Vec<VersionPlan>,
}

impl VersionsPlan {
    /// One line saying where the versions part comes from; `None` when no version is listed.
    pub fn source_line(&self) -> Option<String> {
        let note = self.note.as_deref()?;
        Some(match self.source {
            VersionsSource::Server => {
                format!("Worker Deployment Versions as the Temporal server holds them ({note})")
            }
            VersionsSource::Descriptor => format!(
                "Worker Deployment Versions from the descriptor alone: {note}; an estimate from [outputs].registered"
            ),
        })
    }
}

impl VersionAction {
    /// The name `plan` shows and its JSON holds.
    pub fn as_str(self) -> &'static str {
        match self {
            VersionAction::Create => "create",
            VersionAction::Update => "update",
            VersionAction::Unchanged => "unchanged",
            VersionAction::Unlisted => "unlisted",
            VersionAction::LeftBehind => "left_behind",
        }
    }
}

impl VersionPlan {
    /// What `register` would do with a version, with what differs (old → new) or the command
    /// that retires a version left behind.
    pub fn describe(&self) -> String {
        let quote = |s: &str| format!("`{s}`");
        let value = |value: &Option<String>, absent: &str| {
            value.as_deref().map_or_else(|| absent.to_owned(), &quote)
        };
        let difference = |d: &Difference| {
            format!(
                "{} {} → {}",
                d.field.as_str().replace('_', " "),
                value(&d.old, "(none)"),
                value(&d.new, "(known after deploy)")
            )
        };
        match (&self.action, &self.retire) {
            (VersionAction::LeftBehind, Some(retire)) => {
                format!(
                    "left behind (register lists it; retire with {})",
                    quote(retire)
                )
            }
            _ if self.differences.is_empty() => self.action.as_str().to_owned(),
            _ => format!(
                "{} ({})",
                self.action.as_str(),
                self.differences
                    .iter()
                    .map(difference)
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        }
    }

    /// Whether `register` would change this version.
    pub fn is_change(&self) -> bool {
        matches!(self.action, VersionAction::Create | VersionAction::Update)
    }

    fn listed(id: String, function: String, action: VersionAction) -> Self {
        VersionPlan {
            id,
            lambda_function_arn: Some(function),
            action,
            differences: Vec::new(),
            retire: None,
        }
    }
}

/// The versions of `env`: from the server when it answers, else from the descriptor.
/// `role_arn`: the role ARN the deploy leaves (`None` while it is known only after the deploy);
/// `compute_changes`: for the estimate, whether the plan changes the role or the external ID.
/// `scope`: how many environments the plan names; with several, an environment without
/// `temporal.address` gets the estimate, with the note saying why.
pub fn versions(
    layout: &Layout,
    env: &Environment,
    role_arn: Option<&str>,
    compute_changes: bool,
    scope: Scope,
) -> VersionsPlan {
    if env.worker_deployments.is_empty() {
        return VersionsPlan {
            source: VersionsSource::Descriptor,
            note: None,
            versions: from_descriptor(env, compute_changes),
        };
    }
    match from_server(layout, env, role_arn, scope) {
        Ok((address, versions)) => VersionsPlan {
            source: VersionsSource::Server,
            note: Some(address),
            versions,
        },
        Err(why) => VersionsPlan {
            source: VersionsSource::Descriptor,
            note: Some(why),
            versions: from_descriptor(env, compute_changes),
        },
    }
}

/// Asks the frontend of `env` what `register` would do with each listed version, and which
/// versions it would name as left behind: Ok((the frontend's address, the versions)), or Err(why
/// the server could not be asked, in one line). Never starts a sandbox.
fn from_server(
    layout: &Layout,
    env: &Environment,
    role_arn: Option<&str>,
    scope: Scope,
) -> Result<(String, Vec<VersionPlan>), String> {
    let one_line = |e: &dyn std::fmt::Display| e.to_string().lines().collect::<Vec<_>>().join(" ");
    let client =
        crate::register::client(layout, env, scope).map_err(|e| one_line(&format!("{e:#}")))?;
    if let Some(why) = crate::register::silent_frontend(layout, env, client.frontend()) {
        return Err(why);
    }
    let mut out = Vec::new();
    for wd in &env.worker_deployments {
        let reg = Registration {
            deployment: wd,
            role_arn,
            external_id: &env.role.external_id,
        };
        let (action, differences) = match client.would_register(&reg).map_err(|e| one_line(&e))? {
            Planned::Create => (VersionAction::Create, Vec::new()),
            Planned::Update(differences) => (VersionAction::Update, differences),
            Planned::Unchanged => (VersionAction::Unchanged, Vec::new()),
        };
        out.push(VersionPlan {
            differences,
            ..VersionPlan::listed(wd.id(), wd.lambda_function_arn.to_string(), action)
        });
    }
    out.extend(left_behind(&client, env).map_err(|e| one_line(&e))?);
    Ok((client.frontend().address.clone(), out))
}

/// The versions `register` would name as left behind (see [`Client::left_behind`]).
fn left_behind(
    client: &Client,
    env: &Environment,
) -> Result<Vec<VersionPlan>, worker_deployments::RegisterError> {
    client
        .left_behind(&env.worker_deployments)
        .into_iter()
        .map(|found| {
            found.map(|v| VersionPlan {
                id: v.id,
                lambda_function_arn: None,
                action: VersionAction::LeftBehind,
                differences: Vec::new(),
                retire: Some(v.retire),
            })
        })
        .collect()
}

/// The versions of `env` against `[outputs].registered`. `compute_changes`: the plan changes
/// what every version's compute config holds (the role's ARN or the external ID), so
/// registered versions need an update.
fn from_descriptor(env: &Environment, compute_changes: bool) -> Vec<VersionPlan> {
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
        VersionPlan::listed(id, wd.lambda_function_arn.to_string(), action)
    });
    let unlisted = registered
        .iter()
        .filter(|id| !env.worker_deployments.iter().any(|wd| &wd.id() == *id))
        .map(|id| VersionPlan {
            id: id.clone(),
            lambda_function_arn: None,
            action: VersionAction::Unlisted,
            differences: Vec::new(),
            retire: None,
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
        from_descriptor(&env, compute_changes)
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

    use worker_deployments::Field;
    fn version(action: VersionAction, differences: Vec<Difference>) -> VersionPlan {
        VersionPlan {
            id: "default/w@1".into(),
            lambda_function_arn: Some("arn:fn".into()),
            action,
            differences,
            retire: None,
        }
    }

    #[test]
    fn an_update_names_what_differs_and_a_role_known_only_after_deploy() {
        let v = version(
            VersionAction::Update,
            vec![
                Difference {
                    field: Field::Role,
                    old: Some("arn:old".into()),
                    new: None,
                },
                Difference {
                    field: Field::ExternalId,
                    old: Some("a".into()),
                    new: Some("b".into()),
                },
            ],
        );
        assert_eq!(
            v.describe(),
            "update (role `arn:old` → (known after deploy), external id `a` → `b`)"
        );
        assert_eq!(
            version(VersionAction::Unchanged, vec![]).describe(),
            "unchanged"
        );
        let left = VersionPlan {
            action: VersionAction::LeftBehind,
            retire: Some("temporal worker deployment delete-version".into()),
            ..version(VersionAction::LeftBehind, vec![])
        };
        assert_eq!(
            left.describe(),
            "left behind (register lists it; retire with `temporal worker deployment delete-version`)"
        );
    }

    #[test]
    fn the_source_of_the_versions_is_said_once() {
        let plan = |source, note: Option<&str>| VersionsPlan {
            source,
            note: note.map(str::to_owned),
            versions: vec![],
        };
        assert_eq!(
            plan(VersionsSource::Descriptor, Some("no CLI"))
                .source_line()
                .as_deref(),
            Some(
                "Worker Deployment Versions from the descriptor alone: no CLI; an estimate from [outputs].registered"
            )
        );
        assert!(
            plan(VersionsSource::Server, Some("127.0.0.1:1"))
                .source_line()
                .is_some_and(|l| l.contains("as the Temporal server holds them (127.0.0.1:1)"))
        );
        assert_eq!(plan(VersionsSource::Descriptor, None).source_line(), None);
    }
}
