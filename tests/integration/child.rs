//! Running `xtask` as a child the test can signal, with a wall-clock limit so that a hang fails
//! the test instead of the test run, and finding processes it left behind.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::support::{Run, safe_aws_env};

/// A running `xtask`. Its output goes to files, not pipes: a process it left behind keeps
/// a pipe open, and reading one would wait for that process instead of this one.
#[derive(Debug)]
pub struct Proc {
    child: Child,
    stdout: tempfile::NamedTempFile,
    stderr: tempfile::NamedTempFile,
}

/// Starts `xtask --root ROOT ARGS...` with emulator-safe AWS settings, output captured.
pub fn spawn(root: &Path, args: &[&str]) -> Proc {
    spawn_with(root, args, &[])
}

/// [`spawn`] with environment variables `vars` set on top of the emulator-safe ones.
pub fn spawn_with(root: &Path, args: &[&str], vars: &[(&str, &str)]) -> Proc {
    let stdout = tempfile::NamedTempFile::new().unwrap();
    let stderr = tempfile::NamedTempFile::new().unwrap();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_tsw"));
    cmd.arg("--root").arg(root).args(args);
    safe_aws_env(&mut cmd);
    cmd.envs(vars.iter().copied());
    let child = cmd
        .stdin(Stdio::null())
        .stdout(stdout.reopen().unwrap())
        .stderr(stderr.reopen().unwrap())
        .spawn()
        .expect("start xtask");
    Proc {
        child,
        stdout,
        stderr,
    }
}

/// Sends `signal` (`TERM`, `INT`) to the process with the system's `kill`.
pub fn signal(proc: &Proc, signal: &str) {
    let pid = proc.child.id().to_string();
    let status = Command::new("kill")
        .arg(format!("-{signal}"))
        .arg(&pid)
        .status()
        .expect("run kill");
    assert!(status.success(), "kill -{signal} {pid}");
}

/// Waits for the process to exit; kills it and panics when it takes longer than `limit`.
pub fn wait(mut proc: Proc, limit: Duration) -> Run {
    let start = Instant::now();
    let status = loop {
        if let Some(status) = proc.child.try_wait().unwrap() {
            break status;
        }
        if start.elapsed() > limit {
            let _ = proc.child.kill();
            let _ = proc.child.wait();
            panic!(
                "xtask still ran after {limit:?}:\n{}{}",
                read(&proc.stdout),
                read(&proc.stderr)
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    Run {
        code: status.code(),
        stdout: read(&proc.stdout),
        stderr: read(&proc.stderr),
    }
}

fn read(file: &tempfile::NamedTempFile) -> String {
    std::fs::read_to_string(file.path()).unwrap_or_default()
}

/// Processes (other than this one) whose command line names `root`: what a run of `xtask
/// --root ROOT` left running. Those found are ended (they were started by this test), so a
/// failing test leaves nothing behind either.
pub fn end_leftovers(root: &Path) -> Vec<String> {
    let needle = root.to_string_lossy().into_owned();
    let own = std::process::id();
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|p| p.parse::<u32>().ok())
        else {
            continue;
        };
        let Ok(cmdline) = std::fs::read(entry.path().join("cmdline")) else {
            continue;
        };
        let cmdline = String::from_utf8_lossy(&cmdline).replace('\0', " ");
        if pid != own && cmdline.contains(&needle) {
            let _ = Command::new("kill").arg(pid.to_string()).status();
            found.push(format!("{pid}: {cmdline}"));
        }
    }
    found
}
