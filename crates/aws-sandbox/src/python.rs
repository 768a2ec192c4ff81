use std::path::{Path, PathBuf};

use xshell::{Shell, cmd};

use crate::SandboxError;

/// The pinned Python packages (moto server, cfn-lint, the Temporal CLI, and temporalio for the
/// sample worker the emulator runs).
pub const REQUIREMENTS: &str = include_str!("../python/requirements.txt");
pub(crate) const LAUNCHER: &str = include_str!("../python/moto_launcher.py");
/// Runs one Lambda invocation in its own process; the launcher finds it next to itself.
pub(crate) const LAMBDA_BOOTSTRAP: &str = include_str!("../python/lambda_bootstrap.py");

/// A virtualenv with the pinned packages installed.
#[derive(Debug, Clone)]
pub struct PythonEnv {
    dir: PathBuf,
}

impl PythonEnv {
    /// Makes sure `dir` holds a virtualenv with exactly [`REQUIREMENTS`] installed, creating or
    /// updating it when the pins changed. `log` receives one line per step that takes time.
    pub fn ensure(dir: &Path, log: &mut dyn FnMut(&str)) -> Result<Self, SandboxError> {
        let env = PythonEnv {
            dir: dir.to_owned(),
        };
        let stamp = dir.join(".requirements");
        if std::fs::read_to_string(&stamp).ok().as_deref() == Some(REQUIREMENTS)
            && env.python().exists()
        {
            return Ok(env);
        }
        let sh = Shell::new().map_err(|e| SandboxError::Command {
            what: "starting a shell".into(),
            message: e.to_string(),
        })?;
        let python = std::env::var("PYTHON").unwrap_or_else(|_| "python3".into());
        if cmd!(sh, "{python} --version")
            .quiet()
            .ignore_stdout()
            .ignore_stderr()
            .run()
            .is_err()
        {
            return Err(SandboxError::NoPython(python));
        }
        if !env.python().exists() {
            log(&format!(
                "creating a Python virtualenv in {}",
                dir.display()
            ));
            run(
                cmd!(sh, "{python} -m venv {dir}"),
                "creating the virtualenv",
            )?;
        }
        let req = dir.join("requirements.txt");
        std::fs::write(&req, REQUIREMENTS).map_err(|source| SandboxError::Io {
            path: req.clone(),
            source,
        })?;
        let pins = REQUIREMENTS
            .lines()
            .filter(|l| !l.trim().is_empty())
            .collect::<Vec<_>>()
            .join(", ");
        log(&format!("installing {pins} (once; about a minute)"));
        let py = env.python();
        // On a first `deploy local` this install runs beside the cargo build of the AWS half,
        // which takes longer and is what the user waits for: so the install yields the CPU to it
        // (`nice`), and skips byte-compiling every module of moto and botocore up front (a third
        // of its time; Python compiles and caches the few it imports).
        run(
            cmd!(
                sh,
                "nice -n 10 {py} -m pip install --quiet --disable-pip-version-check --no-compile -r {req}"
            ),
            "installing the emulator's Python packages",
        )?;
        std::fs::write(&stamp, REQUIREMENTS).map_err(|source| SandboxError::Io {
            path: stamp,
            source,
        })?;
        Ok(env)
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    pub fn python(&self) -> PathBuf {
        self.bin("python")
    }

    /// A program the packages installed, e.g. `cfn-lint`.
    pub fn bin(&self, name: &str) -> PathBuf {
        self.dir.join("bin").join(name)
    }
}

fn run(cmd: xshell::Cmd<'_>, what: &str) -> Result<(), SandboxError> {
    let out = cmd
        .quiet()
        .ignore_status()
        .output()
        .map_err(|e| SandboxError::Command {
            what: what.into(),
            message: e.to_string(),
        })?;
    if out.status.success() {
        return Ok(());
    }
    let stderr = String::from_utf8_lossy(&out.stderr);
    let tail: Vec<&str> = stderr.lines().rev().take(15).collect();
    Err(SandboxError::Command {
        what: what.into(),
        message: format!(
            "{}\n{}",
            out.status,
            tail.into_iter().rev().collect::<Vec<_>>().join("\n")
        ),
    })
}
