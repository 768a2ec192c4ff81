//! The one way the tool runs another program (the Temporal CLI and its `--version` probes, the
//! sandbox's emulator, dev server and Python helpers): with an environment of allow-listed
//! variables only, in a process group of its own, and stopped with that group when its deadline
//! passes or the async code waiting for it is cancelled.
//!
//! Nothing of the caller's environment reaches the child unless it is listed in [`ALLOWED`]:
//! not the AWS keys or session token of a CI job, not a `TEMPORAL_*` variable of the shell.
//! What a call needs beyond that (the descriptor's API key, the emulator's dummy keys) is passed
//! by its caller, by name.
//!
//! Blocking calls made from async code go through [`unblock`]: they run on tokio's blocking
//! threads, and a child started inside one is stopped as soon as the future is dropped (Ctrl-C
//! raced against it), instead of holding the runtime until it exits.

use std::cell::RefCell;
use std::ffi::{OsStr, OsString};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Output, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
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
    #[error("`{}` was stopped: the command was interrupted", program.display())]
    Cancelled { program: PathBuf },
}

/// Flags whose value is a secret, or (external IDs) must not be printed whole: a flag is one
/// of them when its name contains one of these words.
const SECRET_FLAGS: [&str; 6] = ["key", "secret", "token", "password", "external-id", "auth"];

/// `args` as a debug log may show them: the value of every flag named by [`SECRET_FLAGS`]
/// (`--flag VALUE` or `--flag=VALUE`) is masked, saying only its length. The environment is
/// never shown: an API key goes to a child there.
pub fn shown_args<'a>(args: impl IntoIterator<Item = &'a OsStr>) -> String {
    let secret = |flag: &str| {
        flag.starts_with('-')
            && SECRET_FLAGS
                .iter()
                .any(|w| flag.to_ascii_lowercase().contains(w))
    };
    let masked = |value: &str| format!("[masked: {} characters]", value.chars().count());
    let mut shown = Vec::new();
    let mut next_is_secret = false;
    for arg in args {
        let arg = arg.to_string_lossy();
        if std::mem::take(&mut next_is_secret) {
            shown.push(masked(&arg));
        } else if let Some((flag, value)) = arg.split_once('=').filter(|(f, _)| secret(f)) {
            shown.push(format!("{flag}={}", masked(value)));
        } else {
            next_is_secret = secret(&arg);
            shown.push(arg.into_owned());
        }
    }
    shown.join(" ")
}

/// A program to run, with the [`ALLOWED`] variables of this process and those its caller sets,
/// no stdin unless [`Child::input`] gives one, in a process group of its own (on Unix).
#[derive(Debug)]
pub struct Child {
    cmd: Command,
    program: PathBuf,
    input: Option<Vec<u8>>,
}

impl Child {
    pub fn new(program: impl AsRef<OsStr>) -> Self {
        let program = program.as_ref();
        let mut cmd = Command::new(program);
        cmd.env_clear().stdin(Stdio::null());
        for name in ALLOWED {
            if let Some(value) = std::env::var_os(name) {
                cmd.env(name, value);
            }
        }
        #[cfg(unix)]
        std::os::unix::process::CommandExt::process_group(&mut cmd, 0);
        Child {
            cmd,
            program: PathBuf::from(program),
            input: None,
        }
    }

    pub fn arg(mut self, arg: impl AsRef<OsStr>) -> Self {
        self.cmd.arg(arg);
        self
    }

    pub fn args<A: AsRef<OsStr>>(mut self, args: impl IntoIterator<Item = A>) -> Self {
        self.cmd.args(args);
        self
    }

    pub fn env(mut self, name: impl AsRef<OsStr>, value: impl AsRef<OsStr>) -> Self {
        self.cmd.env(name, value);
        self
    }

    pub fn envs<K: AsRef<OsStr>, V: AsRef<OsStr>>(
        mut self,
        vars: impl IntoIterator<Item = (K, V)>,
    ) -> Self {
        self.cmd.envs(vars);
        self
    }

    /// What the child reads on stdin.
    pub fn input(mut self, bytes: impl Into<Vec<u8>>) -> Self {
        self.input = Some(bytes.into());
        self
    }

    /// This command run by `wrapper WRAPPER_ARGS...`, its program and arguments after them,
    /// with the same environment (a watcher that ends it with its parent, say).
    pub fn wrapped_in<A: AsRef<OsStr>>(
        self,
        wrapper: impl AsRef<OsStr>,
        wrapper_args: impl IntoIterator<Item = A>,
    ) -> Self {
        let argv: Vec<OsString> = std::iter::once(self.cmd.get_program())
            .chain(self.cmd.get_args())
            .map(OsStr::to_owned)
            .collect();
        let mut outer = Child::new(wrapper).args(wrapper_args).args(argv);
        outer.cmd.env_clear();
        for (name, value) in self.cmd.get_envs() {
            if let Some(value) = value {
                outer.cmd.env(name, value);
            }
        }
        outer.input = self.input;
        outer
    }

    /// Runs it with its output captured; stops it (its process group) when it has not exited
    /// after `deadline`, or when the [`unblock`] call it runs in is cancelled.
    pub fn output(mut self, deadline: Duration) -> Result<Output, ChildError> {
        let program = self.program.clone();
        let spawn_error = |source| ChildError::Spawn {
            program: program.clone(),
            source,
        };
        if cancelled() {
            return Err(ChildError::Cancelled { program });
        }
        self.cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
        if self.input.is_some() {
            self.cmd.stdin(Stdio::piped());
        }
        let mut child = spawn(&mut self.cmd).map_err(spawn_error)?;
        if let (Some(mut stdin), Some(input)) = (child.stdin.take(), self.input.take()) {
            // A thread of its own: a child that writes much before it reads would otherwise
            // wait for us while we wait for it.
            std::thread::spawn(move || stdin.write_all(&input));
        }
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
            program: program.clone(),
            after: deadline,
        };
        let status = loop {
            match child.try_wait().map_err(spawn_error)? {
                Some(status) => break status,
                None if start.elapsed() >= deadline => {
                    stop(&mut child);
                    return Err(timeout());
                }
                None if cancelled() => {
                    stop(&mut child);
                    return Err(ChildError::Cancelled { program });
                }
                // Often at first (most calls take a fraction of a second), then less.
                None => std::thread::sleep(
                    (start.elapsed() / 20)
                        .clamp(Duration::from_millis(5), Duration::from_millis(100)),
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
        tracing::debug!(
            program = %program.display(),
            args = %shown_args(self.cmd.get_args()),
            duration_ms = start.elapsed().as_millis() as u64,
            status = %status,
            "ran"
        );
        Ok(Output {
            status,
            stdout,
            stderr,
        })
    }

    /// Starts a long-running service with its stdout and stderr appended to `log`, and returns
    /// at once. It keeps running after this process exits unless its caller stops it.
    pub fn start(mut self, log: &std::fs::File) -> Result<Service, ChildError> {
        let program = self.program.clone();
        let spawn_error = |source| ChildError::Spawn {
            program: program.clone(),
            source,
        };
        let out = log.try_clone().map_err(spawn_error)?;
        let err = log.try_clone().map_err(spawn_error)?;
        self.cmd.stdout(out).stderr(err);
        let child = spawn(&mut self.cmd).map_err(spawn_error)?;
        Ok(Service { child })
    }
}

/// Runs `program ARGS...` with the [`ALLOWED`] variables of this process and `env`, no stdin,
/// and its output captured; kills it when it has not exited after `deadline` (see
/// [`Child::output`]).
pub fn run<A: AsRef<OsStr>>(
    program: &Path,
    args: &[A],
    env: &[(&str, &str)],
    deadline: Duration,
) -> Result<Output, ChildError> {
    Child::new(program)
        .args(args)
        .envs(env.iter().copied())
        .output(deadline)
}

/// A service started by [`Child::start`], held by the process that started it.
#[derive(Debug)]
pub struct Service {
    child: std::process::Child,
}

impl Service {
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Its exit status, once it has exited.
    pub fn exited(&mut self) -> Option<ExitStatus> {
        self.child.try_wait().ok().flatten()
    }

    /// Asks its process group to stop (SIGTERM), kills what is left after `grace`, and reaps it.
    pub fn stop(mut self, grace: Duration) {
        if self.exited().is_some() {
            return;
        }
        #[cfg(unix)]
        terminate(self.pid(), true);
        let start = Instant::now();
        while self.exited().is_none() && start.elapsed() < grace {
            std::thread::sleep(Duration::from_millis(20));
        }
        stop(&mut self.child);
    }
}

/// Whether a process `pid` exists (`kill(pid, 0)`; a zombie not yet reaped counts).
#[cfg(unix)]
pub fn alive(pid: u32) -> bool {
    let Some(pid) = i32::try_from(pid)
        .ok()
        .and_then(rustix::process::Pid::from_raw)
    else {
        return false;
    };
    match rustix::process::test_kill_process(pid) {
        Ok(()) => true,
        // It exists, but belongs to someone else.
        Err(e) => e == rustix::io::Errno::PERM,
    }
}

/// Sends SIGTERM to `pid` (and its process group, when `group`).
#[cfg(unix)]
pub fn terminate(pid: u32, group: bool) {
    signal(pid, group, rustix::process::Signal::TERM);
}

/// Sends SIGKILL to `pid` (and its process group, when `group`).
#[cfg(unix)]
pub fn kill(pid: u32, group: bool) {
    signal(pid, group, rustix::process::Signal::KILL);
}

#[cfg(unix)]
fn signal(pid: u32, group: bool, sig: rustix::process::Signal) {
    let Some(pid) = i32::try_from(pid)
        .ok()
        .and_then(rustix::process::Pid::from_raw)
    else {
        return;
    };
    if group {
        let _ = rustix::process::kill_process_group(pid, sig);
    }
    let _ = rustix::process::kill_process(pid, sig);
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

/// Kills `child` and, on Unix, the process group it leads (what it started); reaps it.
fn stop(child: &mut std::process::Child) {
    #[cfg(unix)]
    kill(child.id(), true);
    let _ = child.kill();
    let _ = child.wait();
}

thread_local! {
    /// Set while this thread runs the closure of an [`unblock`] call: the flag its future
    /// raises when dropped.
    static CANCEL: RefCell<Option<Arc<AtomicBool>>> = const { RefCell::new(None) };
}

/// Whether the [`unblock`] call this thread works for was cancelled.
pub fn cancelled() -> bool {
    CANCEL.with(|c| {
        c.borrow()
            .as_ref()
            .is_some_and(|f| f.load(Ordering::Relaxed))
    })
}

/// Runs blocking work (CLI calls, TCP probes, service starts) on tokio's blocking threads, so
/// the runtime that awaits it goes on serving other futures and signals. Dropping the returned
/// future cancels the work: a child the work runs (through [`Child::output`] or [`run`]) is
/// stopped within a tenth of a second, and any it would start next fails with
/// [`ChildError::Cancelled`] at once; the work itself returns on its own thread, unobserved.
///
/// Panics when called outside a tokio runtime; a panic of `work` is resumed in the caller.
pub async fn unblock<T, F>(work: F) -> T
where
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    /// Raises the flag when the future is dropped, finished or not.
    struct RaiseOnDrop(Arc<AtomicBool>);
    impl Drop for RaiseOnDrop {
        fn drop(&mut self) {
            self.0.store(true, Ordering::Relaxed);
        }
    }
    /// Clears this thread's flag when the work returns or panics (tokio reuses the thread).
    struct ClearOnDrop;
    impl Drop for ClearOnDrop {
        fn drop(&mut self) {
            CANCEL.with(|c| c.borrow_mut().take());
        }
    }
    let flag = Arc::new(AtomicBool::new(false));
    let _raise = RaiseOnDrop(flag.clone());
    let task = tokio::task::spawn_blocking(move || {
        CANCEL.with(|c| *c.borrow_mut() = Some(flag));
        let _clear = ClearOnDrop;
        work()
    });
    match task.await {
        Ok(value) => value,
        Err(e) => match e.try_into_panic() {
            Ok(panic) => std::panic::resume_unwind(panic),
            // Only a runtime shutting down cancels a blocking task, and it drops this future
            // too: nothing is left to hand a value to.
            Err(_) => std::future::pending().await,
        },
    }
}

#[cfg(test)]
mod shown_args_tests {
    use super::shown_args;
    use std::ffi::OsStr;

    #[test]
    fn secret_flag_values_are_masked_and_the_rest_shown() {
        let args = [
            "worker",
            "--api-key",
            "MARKER-SECRET",
            "--aws-lambda-assume-role-external-id=ext-123456",
            "--namespace",
            "orders",
        ];
        let shown = shown_args(args.iter().map(OsStr::new));
        assert_eq!(
            shown,
            "worker --api-key [masked: 13 characters] \
             --aws-lambda-assume-role-external-id=[masked: 10 characters] --namespace orders"
        );
    }
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

    /// A script that starts `sleep SECONDS` in the background, writes that child's pid to the
    /// returned file and waits for it. The pid is written aside and renamed, so a reader never
    /// sees the file created but still empty.
    fn parent_of_a_sleeper(dir: &Path, seconds: u32) -> (PathBuf, PathBuf) {
        let pid_file = dir.join("pid");
        let body = format!(
            "sleep {seconds} &\necho $! > {0}.part\nmv {0}.part {0}\nwait",
            pid_file.display()
        );
        (script(dir, "parent", &body), pid_file)
    }

    /// The pid [`parent_of_a_sleeper`] wrote, once it has (within 5 s).
    fn sleeper_pid(pid_file: &Path) -> u32 {
        let waited = Instant::now();
        loop {
            if let Ok(pid) = std::fs::read_to_string(pid_file) {
                return pid.trim().parse().expect("a pid");
            }
            assert!(
                waited.elapsed() < Duration::from_secs(5),
                "the script never wrote its child's pid"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Whether `pid` is gone (or a zombie) within `limit`.
    fn gone_within(pid: u32, limit: Duration) -> bool {
        let waited = Instant::now();
        while running(pid) && waited.elapsed() < limit {
            std::thread::sleep(Duration::from_millis(20));
        }
        !running(pid)
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
        let (hang, pid_file) = parent_of_a_sleeper(dir.path(), 1000);
        let start = Instant::now();
        // Long enough for the shell to start its child and write its pid on a loaded machine.
        let err = run(&hang, &["--version"], &[], Duration::from_secs(2)).unwrap_err();
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "{:?}",
            start.elapsed()
        );
        let msg = err.to_string();
        assert!(
            msg.contains(&format!("`{}`", hang.display())) && msg.contains("within 2s"),
            "{msg}"
        );
        // What it started went with it.
        let sleeper = sleeper_pid(&pid_file);
        assert!(
            gone_within(sleeper, Duration::from_secs(5)),
            "its child {sleeper} still runs"
        );
    }

    /// Ctrl-C raced against a slow CLI call: dropping the future stops the child (and what it
    /// started) at once, and the runtime was free meanwhile (the timer branch fired on time).
    #[tokio::test(flavor = "current_thread")]
    async fn a_child_is_stopped_when_the_future_waiting_for_it_is_dropped() {
        let dir = tempfile::tempdir().unwrap();
        let (slow, pid_file) = parent_of_a_sleeper(dir.path(), 60);
        let call = unblock(move || run(&slow, &[] as &[&str], &[], Duration::from_secs(120)));
        tokio::select! {
            out = call => panic!("the slow child finished: {out:?}"),
            () = tokio::time::sleep(Duration::from_millis(500)) => {}
        }
        // Dropped: the child goes now, long before its own end (60 s) or its deadline (120 s).
        let sleeper = sleeper_pid(&pid_file);
        assert!(
            gone_within(sleeper, Duration::from_secs(10)),
            "its child {sleeper} still runs after the cancellation"
        );
    }

    /// Work that goes on after a cancellation starts no further child.
    #[tokio::test(flavor = "current_thread")]
    async fn after_a_cancellation_no_further_child_starts() {
        let dir = tempfile::tempdir().unwrap();
        let slow = script(dir.path(), "slow", "sleep 30");
        let marker = dir.path().join("second-ran");
        let second = script(dir.path(), "second", &format!("touch {}", marker.display()));
        let (tx, rx) = std::sync::mpsc::channel();
        let call = unblock(move || {
            let first = run(&slow, &[] as &[&str], &[], Duration::from_secs(60));
            let second = run(&second, &[] as &[&str], &[], Duration::from_secs(60));
            let _ = tx.send((first.map(drop), second.map(drop)));
        });
        tokio::select! {
            () = call => panic!("the slow child finished"),
            () = tokio::time::sleep(Duration::from_millis(300)) => {}
        }
        let (first, second) = rx.recv_timeout(Duration::from_secs(5)).unwrap();
        assert!(
            matches!(first, Err(ChildError::Cancelled { .. })),
            "{first:?}"
        );
        assert!(
            matches!(second, Err(ChildError::Cancelled { .. })),
            "{second:?}"
        );
        assert!(!marker.exists());
    }

    /// Gone, or a zombie its new parent has not reaped yet (Linux's `/proc`).
    fn running(pid: u32) -> bool {
        if cfg!(target_os = "linux") {
            std::fs::read_to_string(format!("/proc/{pid}/stat"))
                .is_ok_and(|stat| !stat.contains(") Z "))
        } else {
            alive(pid)
        }
    }

    #[test]
    fn a_service_is_stopped_with_what_it_started() {
        let dir = tempfile::tempdir().unwrap();
        let (service, pid_file) = parent_of_a_sleeper(dir.path(), 1000);
        let log = std::fs::File::create(dir.path().join("log")).unwrap();
        let mut started = Child::new(&service).start(&log).unwrap();
        let sleeper = sleeper_pid(&pid_file);
        assert!(started.exited().is_none());
        let pid = started.pid();
        assert!(alive(pid));
        started.stop(Duration::from_secs(5));
        assert!(!alive(pid), "reaped");
        assert!(
            gone_within(sleeper, Duration::from_secs(5)),
            "{sleeper} still runs"
        );
    }

    #[test]
    fn a_child_reads_its_input() {
        let dir = tempfile::tempdir().unwrap();
        let cat = script(dir.path(), "cat", "cat");
        let out = Child::new(&cat)
            .input("spec")
            .output(Duration::from_secs(10))
            .unwrap();
        assert_eq!(out.stdout, b"spec");
    }
}
