use std::path::{Path, PathBuf};

use xshell::{Shell, cmd};

use crate::SandboxError;

/// The pinned Python packages (the moto server, the Temporal CLI, and temporalio for the
/// sample worker the emulator runs).
pub const REQUIREMENTS: &str = include_str!("../python/requirements.txt");
pub(crate) const LAUNCHER: &str = include_str!("../python/moto_launcher.py");
/// Runs one Lambda invocation in its own process; the launcher finds it next to itself.
pub(crate) const LAMBDA_BOOTSTRAP: &str = include_str!("../python/lambda_bootstrap.py");

/// Runs a command until a given process is gone (`Owned::temporal`).
pub(crate) const WATCH_PARENT: &str = include_str!("../python/watch_parent.py");

/// A virtualenv with the pinned packages installed.
#[derive(Debug, Clone)]
pub struct PythonEnv {
    dir: PathBuf,
}

impl PythonEnv {
    /// Makes sure `dir` holds a virtualenv with exactly [`REQUIREMENTS`] installed, creating or
    /// updating it when the pins changed. `log` receives one line per step that takes time.
    pub fn ensure(dir: &Path, log: &mut dyn FnMut(&str)) -> Result<Self, SandboxError> {
        Self::ensure_pinned(dir, REQUIREMENTS, log)
    }

    /// [`PythonEnv::ensure`] for other pinned packages (`requirements`: a requirements file's
    /// text) in a virtualenv of their own: the tests' tools.
    pub fn ensure_pinned(
        dir: &Path,
        requirements: &str,
        log: &mut dyn FnMut(&str),
    ) -> Result<Self, SandboxError> {
        let python = std::env::var("PYTHON").unwrap_or_else(|_| "python3".into());
        Self::ensure_with(dir, &python, requirements, log)
    }

    /// [`PythonEnv::ensure_pinned`] with the interpreter that creates the virtualenv.
    fn ensure_with(
        dir: &Path,
        python: &str,
        requirements: &str,
        log: &mut dyn FnMut(&str),
    ) -> Result<Self, SandboxError> {
        let env = PythonEnv {
            dir: dir.to_owned(),
        };
        if env.installed(requirements) {
            return Ok(env);
        }
        // Two runs at once in one checkout install one after the other.
        let _lock = crate::lock::exclusive(
            &dir.with_extension("lock"),
            "installing the sandbox's Python packages",
            log,
        )?;
        if env.installed(requirements) {
            // The other run installed them while this one waited.
            return Ok(env);
        }
        let sh = shell()?;
        if cmd!(sh, "{python} --version")
            .quiet()
            .ignore_stdout()
            .ignore_stderr()
            .run()
            .is_err()
        {
            return Err(SandboxError::NoPython(python.to_owned()));
        }
        // Asked only of a virtualenv that has no pip of its own, or none yet.
        let outer = !env.bin("pip").exists() && outer_pip(&sh, python);
        if !env.python().exists() {
            log(&format!(
                "creating a Python virtualenv in {}",
                dir.display()
            ));
            let without_pip = outer.then_some("--without-pip");
            run(
                cmd!(sh, "{python} -m venv {without_pip...} {dir}"),
                "creating the virtualenv",
            )?;
        }
        env.install(outer.then_some(python), requirements, log)?;
        Ok(env)
    }

    /// Whether exactly `requirements` were installed.
    fn installed(&self, requirements: &str) -> bool {
        std::fs::read_to_string(self.stamp()).ok().as_deref() == Some(requirements)
            && self.python().exists()
    }

    fn stamp(&self) -> PathBuf {
        self.dir.join(".requirements")
    }

    /// Installs `requirements` with the pip of `outer`, the interpreter that created the
    /// virtualenv, when given ([`outer_pip`]), else with the virtualenv's own.
    fn install(
        &self,
        outer: Option<&str>,
        requirements: &str,
        log: &mut dyn FnMut(&str),
    ) -> Result<(), SandboxError> {
        let req = self.dir.join("requirements.txt");
        crate::lock::write_own(&req, requirements.as_bytes()).map_err(|source| {
            SandboxError::Io {
                path: req.clone(),
                source,
            }
        })?;
        log(&format!(
            "installing {} (once; about a minute)",
            pins(requirements).join(", ")
        ));
        let sh = shell()?;
        let py = self.python();
        let py_path = py.display().to_string();
        let pip: Vec<&str> = match outer {
            Some(python) => vec![python, "-m", "pip", "--python", &py_path],
            None => {
                if !self.bin("pip").exists() {
                    // Created without one by an interpreter whose pip could, which then changed.
                    run(
                        cmd!(sh, "{py} -m ensurepip --default-pip"),
                        "installing pip into the virtualenv",
                    )?;
                }
                vec![&py_path, "-m", "pip"]
            }
        };
        // On a first `deploy local` this install runs beside the cargo build of the AWS half,
        // which takes longer and is what the user waits for: so the install yields the CPU to it
        // (`nice`), and skips byte-compiling every module of moto and botocore up front (a third
        // of its time; Python compiles and caches the few it imports).
        run(
            cmd!(
                sh,
                "nice -n 10 {pip...} install --quiet --disable-pip-version-check --no-compile -r {req}"
            ),
            "installing the emulator's Python packages",
        )?;
        let stamp = self.stamp();
        crate::lock::write_own(&stamp, requirements.as_bytes()).map_err(|source| SandboxError::Io {
            path: stamp,
            source,
        })
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    pub fn python(&self) -> PathBuf {
        self.bin("python")
    }

    /// A program the packages installed, e.g. `temporal`.
    pub fn bin(&self, name: &str) -> PathBuf {
        self.dir.join("bin").join(name)
    }
}

/// Whether `python` has a pip that installs into another interpreter's environment
/// (`--python`, pip 22.3 and later). The virtualenv is then created without a pip of its own:
/// installing one (`ensurepip`, setuptools with it) is about 4 s of CPU time that a first
/// `deploy local` spends beside the compiler.
fn outer_pip(sh: &Shell, python: &str) -> bool {
    let Ok(version) = cmd!(sh, "{python} -m pip --version")
        .quiet()
        .ignore_stderr()
        .read()
    else {
        return false;
    };
    // `pip 23.2.1 from /usr/lib/python3/dist-packages/pip (python 3.11)`
    let mut numbers = version
        .strip_prefix("pip ")
        .and_then(|rest| rest.split_whitespace().next())
        .unwrap_or_default()
        .split('.')
        .map(|n| n.parse::<u32>().unwrap_or(0));
    let major = numbers.next().unwrap_or(0);
    let minor = numbers.next().unwrap_or(0);
    (major, minor) >= (22, 3)
}

/// The requirements of a requirements file's text: its lines without comments and blanks.
pub fn pins(requirements: &str) -> Vec<&str> {
    requirements
        .lines()
        .map(|line| line.split('#').next().unwrap_or_default().trim())
        .filter(|line| !line.is_empty())
        .collect()
}

fn shell() -> Result<Shell, SandboxError> {
    Shell::new().map_err(|e| SandboxError::Command {
        what: "starting a shell".into(),
        message: e.to_string(),
    })
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

#[cfg(test)]
mod tests {
    use super::*;

    /// A stand-in for Python, which appends each call's arguments to `calls.log` beside it:
    /// `-m venv [--without-pip] DIR` copies itself to DIR/bin/python (and a `pip` beside it
    /// unless `--without-pip`, or by `-m ensurepip`); `-m pip --version` says its version, `$PIP_VERSION` (23.2.1 by
    /// default); `-m pip [--python PY] install ...` logs its start and end, two seconds apart, in
    /// `pip.log` beside the virtualenv.
    const FAKE_PYTHON: &str = r#"#!/bin/sh
here="$(dirname "$0")"
case "$here" in */bin) top="$here/../../..";; *) top="$here";; esac
echo "$*" >> "$top/calls.log"
case "$1 $2 $3" in
  "--version  ") exit 0 ;;
  "-m venv --without-pip") mkdir -p "$4/bin" && cp "$0" "$4/bin/python" && exit 0 ;;
  "-m venv "*) mkdir -p "$3/bin" && cp "$0" "$3/bin/python" && touch "$3/bin/pip" && exit 0 ;;
  "-m ensurepip --default-pip") touch "$here/pip"; exit 0 ;;
  "-m pip --version") echo "pip ${PIP_VERSION:-23.2.1} from /usr/lib/python3/dist-packages/pip (python 3.11)"; exit 0 ;;
  "-m pip "*) log="$top/sandbox/pip.log"; echo start >> "$log"; sleep 2; echo end >> "$log"; exit 0 ;;
esac
exit 1
"#;

    fn write_executable(path: &Path, text: &str) {
        use std::os::unix::fs::PermissionsExt;
        std::fs::write(path, text).unwrap();
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).unwrap();
    }

    /// The stand-in, installed as `DIR/python3`.
    fn fake_python(dir: &Path) -> PathBuf {
        let python = dir.join("python3");
        write_executable(&python, FAKE_PYTHON);
        python
    }

    #[test]
    fn two_runs_at_once_install_once_one_after_the_other() {
        let tmp = tempfile::tempdir().unwrap();
        let python = fake_python(tmp.path());
        let venv = tmp.path().join("sandbox").join("venv");
        let waited = std::sync::Mutex::new(Vec::new());
        std::thread::scope(|scope| {
            for _ in 0..2 {
                scope.spawn(|| {
                    let mut log = |line: &str| waited.lock().unwrap().push(line.to_owned());
                    PythonEnv::ensure_with(&venv, python.to_str().unwrap(), REQUIREMENTS, &mut log)
                        .unwrap();
                });
            }
        });
        let pip_log = std::fs::read_to_string(tmp.path().join("sandbox").join("pip.log")).unwrap();
        assert_eq!(
            pip_log, "start\nend\n",
            "pip ran more than once, or twice at once"
        );
        let waited = waited.into_inner().unwrap();
        assert!(
            waited
                .iter()
                .any(|l| l.starts_with("waiting for another run")),
            "the second run did not say it waited: {waited:?}"
        );
        assert_eq!(
            std::fs::read_to_string(venv.join(".requirements")).unwrap(),
            REQUIREMENTS
        );
    }

    /// Creates `DIR/sandbox/venv` with `python`: the stand-in's calls that created the
    /// virtualenv and installed into it, with `DIR` for `dir`.
    fn first_install(dir: &Path, python: &Path) -> (String, String) {
        let venv = dir.join("sandbox").join("venv");
        PythonEnv::ensure_with(&venv, python.to_str().unwrap(), REQUIREMENTS, &mut |_| {}).unwrap();
        let log = std::fs::read_to_string(dir.join("calls.log")).unwrap();
        let calls: Vec<String> = log
            .lines()
            .map(|l| l.replace(&dir.display().to_string(), "DIR"))
            .collect();
        let find = |what: &str| calls.iter().find(|c| c.contains(what)).cloned();
        (
            find("-m venv").unwrap_or_else(|| panic!("no virtualenv created: {calls:?}")),
            find(" install ").unwrap_or_else(|| panic!("nothing installed: {calls:?}")),
        )
    }

    #[test]
    fn a_new_virtualenv_gets_no_pip_when_the_interpreters_own_can_install_into_it() {
        let tmp = tempfile::tempdir().unwrap();
        let (created, installed) = first_install(tmp.path(), &fake_python(tmp.path()));
        assert_eq!(created, "-m venv --without-pip DIR/sandbox/venv");
        assert!(
            installed.starts_with("-m pip --python DIR/sandbox/venv/bin/python install "),
            "{installed}"
        );
        assert!(!tmp.path().join("sandbox/venv/bin/pip").exists());
    }

    /// The stand-in behind a wrapper that makes its pip 22.2, one release short of `--python`.
    fn old_pip_python(dir: &Path) -> PathBuf {
        let old = dir.join("old-python3");
        let wrapper = format!(
            "#!/bin/sh\nPIP_VERSION=22.2.2 exec {} \"$@\"\n",
            fake_python(dir).display()
        );
        write_executable(&old, &wrapper);
        old
    }

    #[test]
    fn a_pip_too_old_for_python_flag_leaves_the_virtualenv_its_own() {
        let tmp = tempfile::tempdir().unwrap();
        let (created, installed) = first_install(tmp.path(), &old_pip_python(tmp.path()));
        assert_eq!(created, "-m venv DIR/sandbox/venv");
        assert!(installed.starts_with("-m pip install "), "{installed}");
    }

    #[test]
    fn a_virtualenv_without_pip_gets_its_own_when_the_interpreters_can_no_longer_install() {
        let tmp = tempfile::tempdir().unwrap();
        first_install(tmp.path(), &fake_python(tmp.path()));
        // New pins, and the interpreter now has a pip without `--python`.
        let venv = tmp.path().join("sandbox").join("venv");
        let old = old_pip_python(tmp.path());
        PythonEnv::ensure_with(&venv, old.to_str().unwrap(), "moto==5.2.6\n", &mut |_| {}).unwrap();
        let log = std::fs::read_to_string(tmp.path().join("calls.log")).unwrap();
        let last: Vec<&str> = log.lines().rev().take(2).collect();
        assert!(
            last[1] == "-m ensurepip --default-pip" && last[0].starts_with("-m pip install "),
            "{log}"
        );
    }

    #[test]
    fn pins_leave_out_comments_and_blank_lines() {
        assert_eq!(
            pins("# header\n\nmoto==5.2.5  # the emulator\n  flask==3.1.3\n"),
            ["moto==5.2.5", "flask==3.1.3"]
        );
        assert!(
            pins(REQUIREMENTS).iter().all(|p| p.contains("==")),
            "every package is pinned"
        );
    }
}
