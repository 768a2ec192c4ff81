//! The one way the tool runs a program it does not own (the Temporal CLI, its `--version`
//! probes): with an environment of allow-listed variables only, and a deadline.
//!
//! Nothing of the caller's environment reaches the child unless it is listed here: not the AWS
//! keys or session token of a CI job, not a `TEMPORAL_*` variable of the shell. What a call
//! needs beyond that (the descriptor's API key) is passed by its caller, by name. A child that
//! outlives its deadline is killed (its process group, on Unix) and the call is an error that
//! names the program and the deadline.

use std::ffi::OsStr;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// The variables a child gets from this process, when set: where programs and the home
/// directory are, the locale and time zone, a temporary directory, the TLS trust store a
/// corporate network may need (`SSL_CERT_FILE`, `SSL_CERT_DIR`) and its proxies; on Windows,
/// the few a program cannot start without.
pub const ALLOWED: &[&str] = &[
    "PATH",
    "HOME",
    "USER",
    "LOGNAME",
    "TMPDIR",
    "TZ",
    "LANG",
    "LC_ALL",
    "LC_CTYPE",
    "LC_MESSAGES",
    "SSL_CERT_FILE",
    "SSL_CERT_DIR",
    "HTTPS_PROXY",
    "https_proxy",
    "NO_PROXY",
    "no_proxy",
    "SYSTEMROOT",
    "WINDIR",
    "USERPROFILE",
    "APPDATA",
    "LOCALAPPDATA",
    "TEMP",
    "TMP",
];

/// Why a child gave no output.
#[derive(Debug, thiserror::Error)]
pub enum ChildError {
    #[error("cannot run `{}`: {source}", program.display())]
    Spawn {
        program: PathBuf,
        source: std::io::Error,
    },
    #[error("`{}` did not finish within {after:?} and was stopped", program.display())]
    Timeout { program: PathBuf, after: Duration },
}

/// Starts `cmd`. A program written a moment ago may still be open for writing in a process
/// forked meanwhile (by another thread of whoever wrote it, until that child's `exec` closes
/// it): Linux refuses to run it with ETXTBSY for that moment, so that error is tried again for
/// up to a second.
fn spawn(cmd: &mut Command) -> std::io::Result<std::process::Child> {
    const TEXT_FILE_BUSY: i32 = 26;
    let mut tries = 0;
    loop {
        match cmd.spawn() {
            Err(e) if e.raw_os_error() == Some(TEXT_FILE_BUSY) && tries < 20 => {
                tries += 1;
                std::thread::sleep(Duration::from_millis(50));
            }
            other => return other,
        }
    }
}

/// Runs `program ARGS...` with the [`ALLOWED`] variables of this process and `env`, no stdin,
/// and its output captured; kills it when it has not exited after `deadline`.
pub fn run<A: AsRef<OsStr>>(
    program: &Path,
    args: &[A],
    env: &[(&str, &str)],
    deadline: Duration,
) -> Result<Output, ChildError> {
    let mut cmd = Command::new(program);
    cmd.args(args)
        .env_clear()
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for name in ALLOWED {
        if let Some(value) = std::env::var_os(name) {
            cmd.env(name, value);
        }
    }
    cmd.envs(env.iter().copied());
    #[cfg(unix)]
    std::os::unix::process::CommandExt::process_group(&mut cmd, 0);
    let spawn_error = |source| ChildError::Spawn {
        program: program.to_owned(),
        source,
    };
    let mut child = spawn(&mut cmd).map_err(spawn_error)?;
    let (tx, rx) = mpsc::channel();
    for (index, pipe) in [
        child
            .stdout
            .take()
            .map(|p| Box::new(p) as Box<dyn Read + Send>),
        child
            .stderr
            .take()
            .map(|p| Box::new(p) as Box<dyn Read + Send>),
    ]
    .into_iter()
    .enumerate()
    {
        let tx = tx.clone();
        std::thread::spawn(move || {
            let mut buf = Vec::new();
            if let Some(mut pipe) = pipe {
                let _ = pipe.read_to_end(&mut buf);
            }
            let _ = tx.send((index, buf));
        });
    }
    let start = Instant::now();
    let timeout = || ChildError::Timeout {
        program: program.to_owned(),
        after: deadline,
    };
    let status = loop {
        match child.try_wait().map_err(spawn_error)? {
            Some(status) => break status,
            None if start.elapsed() >= deadline => {
                stop(&mut child);
                return Err(timeout());
            }
            // Often at first (most calls take a fraction of a second), then less.
            None => std::thread::sleep(
                (start.elapsed() / 20).clamp(Duration::from_millis(5), Duration::from_millis(100)),
            ),
        }
    };
    // Its output, unless something it started holds the pipes open past the deadline.
    let mut streams = [Vec::new(), Vec::new()];
    for _ in 0..2 {
        let left = deadline.saturating_sub(start.elapsed());
        let (index, buf) = rx.recv_timeout(left).map_err(|_| timeout())?;
        streams[index] = buf;
    }
    let [stdout, stderr] = streams;
    Ok(Output {
        status,
        stdout,
        stderr,
    })
}

/// Kills `child` by its pid, and on Unix the process group it leads (what it started).
fn stop(child: &mut std::process::Child) {
    #[cfg(unix)]
    {
        let group = format!("-{}", child.id());
        let _ = Command::new("kill")
            .args(["-KILL", "--", &group])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
    let _ = child.kill();
    let _ = child.wait();
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;

    fn script(dir: &Path, name: &str, body: &str) -> PathBuf {
        use std::os::unix::fs::PermissionsExt;
        let path = dir.join(name);
        std::fs::write(&path, format!("#!/bin/sh\n{body}\n")).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
        path
    }

    #[test]
    fn a_child_gets_the_allowed_variables_and_what_its_caller_passes_only() {
        let dir = tempfile::tempdir().unwrap();
        let env = script(dir.path(), "env", "env");
        // The test process's own environment stands for the caller's: whatever it holds
        // beyond the allow-list (cargo's variables, RUST_*, any AWS_* or TEMPORAL_*) is gone.
        let out = run(
            &env,
            &[] as &[&str],
            &[("TEMPORAL_API_KEY", "k")],
            Duration::from_secs(10),
        )
        .unwrap();
        let names: Vec<String> = String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter_map(|l| l.split_once('=').map(|(n, _)| n.to_owned()))
            .collect();
        assert!(names.contains(&"TEMPORAL_API_KEY".to_owned()), "{names:?}");
        assert!(
            names.iter().all(|n| ALLOWED.contains(&n.as_str())
                || ["TEMPORAL_API_KEY", "PWD", "SHLVL", "_", "OLDPWD"].contains(&n.as_str())),
            "{names:?}"
        );
        assert!(
            std::env::vars().any(|(n, _)| n.starts_with("CARGO")),
            "the test runs under cargo"
        );
    }

    /// A program still open for writing somewhere (a process forked while it was written, not
    /// yet at its `exec`) is busy for a moment, not missing: the call waits it out.
    #[test]
    #[cfg(target_os = "linux")]
    fn a_program_still_open_for_writing_is_run_once_it_is_closed() {
        let dir = tempfile::tempdir().unwrap();
        let program = script(dir.path(), "busy", "echo ran");
        let writer = std::fs::OpenOptions::new()
            .write(true)
            .open(&program)
            .unwrap();
        let closer = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(200));
            drop(writer);
        });
        let out = run(&program, &[] as &[&str], &[], Duration::from_secs(10)).unwrap();
        closer.join().unwrap();
        assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "ran");
    }

    #[test]
    fn a_child_that_never_answers_is_stopped_at_its_deadline() {
        let dir = tempfile::tempdir().unwrap();
        let pid_file = dir.path().join("pid");
        let hang = script(
            dir.path(),
            "hang",
            &format!("sleep 1000 &\necho $! > {}\nwait", pid_file.display()),
        );
        let start = Instant::now();
        let err = run(&hang, &["--version"], &[], Duration::from_millis(500)).unwrap_err();
        assert!(
            start.elapsed() < Duration::from_secs(5),
            "{:?}",
            start.elapsed()
        );
        let msg = err.to_string();
        assert!(
            msg.contains(&format!("`{}`", hang.display())) && msg.contains("within 500ms"),
            "{msg}"
        );
        // What it started went with it.
        let sleeper = std::fs::read_to_string(&pid_file).unwrap();
        // Gone, or a zombie its new parent has not reaped yet (Linux's `/proc`).
        let alive = || {
            std::fs::read_to_string(format!("/proc/{}/stat", sleeper.trim()))
                .is_ok_and(|stat| !stat.contains(") Z "))
        };
        let waited = Instant::now();
        while alive() && waited.elapsed() < Duration::from_secs(2) {
            std::thread::sleep(Duration::from_millis(20));
        }
        let alive = alive();
        assert!(!alive, "its child {sleeper} still runs");
    }
}
