use std::net::{SocketAddr, TcpListener, TcpStream, ToSocketAddrs};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use child_process::Child;

use crate::python::{LAMBDA_BOOTSTRAP, LAUNCHER, PythonEnv, WATCH_PARENT};
use crate::{SandboxError, sandbox_child};

const START_TIMEOUT: Duration = Duration::from_secs(60);
/// How long a service may take to exit after SIGTERM before it is killed.
const STOP_GRACE: Duration = Duration::from_secs(10);

/// A service of the sandbox.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Service {
    /// The AWS emulator (moto, through `moto_launcher.py`).
    Aws,
    /// The Temporal CLI's dev server.
    Temporal,
}

impl Service {
    pub fn name(self) -> &'static str {
        match self {
            Service::Aws => "aws",
            Service::Temporal => "temporal",
        }
    }

    /// A string in the process's command line that identifies it, so that a recycled pid is
    /// never signalled.
    fn marker(self) -> &'static str {
        match self {
            Service::Aws => "moto_launcher",
            Service::Temporal => "start-dev",
        }
    }
}

/// What runs on a service's address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Status {
    /// Ours, with its process id.
    Running {
        pid: u32,
    },
    /// Something else answers on the port.
    Foreign,
    Stopped,
}

/// How the sandbox's Temporal dev server is configured.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TemporalDev {
    pub host: String,
    pub port: u16,
    /// Namespaces created at start (`default` always exists).
    pub namespaces: Vec<String>,
    /// `--dynamic-config-value KEY=JSON` pairs.
    pub dynamic_config: Vec<(String, String)>,
    /// The AWS endpoint the server's AWS SDK is pointed at (the emulator).
    pub aws_endpoint: String,
    pub aws_region: String,
}

impl TemporalDev {
    fn command(&self, env: &PythonEnv) -> Child {
        let mut cmd = sandbox_child(env.bin("temporal")).args([
            "server",
            "start-dev",
            "--headless",
            "--log-level",
            "warn",
            "--ip",
            &self.host,
            "--port",
            &self.port.to_string(),
        ]);
        for ns in &self.namespaces {
            cmd = cmd.args(["--namespace", ns]);
        }
        for (key, json) in &self.dynamic_config {
            cmd = cmd.args(["--dynamic-config-value", &format!("{key}={json}")]);
        }
        // The server calls STS and Lambda: only ever the emulator.
        cmd.env("AWS_ENDPOINT_URL", &self.aws_endpoint)
            .env("AWS_REGION", &self.aws_region)
    }

    /// The settings as recorded next to the pid, to notice when a restart is needed.
    fn fingerprint(&self) -> String {
        format!("{self:?}")
    }
}

/// The long-running services of `cargo xtask sandbox up`, tracked by pid files under
/// `target/xtask/sandbox/`.
#[derive(Debug, Clone)]
pub struct Sandbox {
    dir: PathBuf,
}

impl Sandbox {
    /// The sandbox whose state lives under `cache_dir/sandbox`.
    pub fn new(cache_dir: &Path) -> Self {
        Sandbox {
            dir: cache_dir.join("sandbox"),
        }
    }

    /// The virtualenv with the pinned emulator and tools, installed on first use.
    pub fn python_env(&self, log: &mut dyn FnMut(&str)) -> Result<PythonEnv, SandboxError> {
        PythonEnv::ensure(&self.dir.join("venv"), log)
    }

    /// A program of the installed virtualenv (e.g. `temporal`), without installing anything.
    pub fn installed_tool(&self, name: &str) -> Option<PathBuf> {
        Some(self.dir.join("venv").join("bin").join(name)).filter(|p| p.exists())
    }

    /// The virtualenv's Temporal CLI, when there is one and it is the pinned wheel's
    /// (`pinned_cli`): `Ok(None)` when none is installed, an error naming it when a program
    /// stands there that the tool did not install.
    pub fn verified_cli(&self) -> Result<Option<PathBuf>, crate::Unverified> {
        let venv = self.dir.join("venv");
        match self.installed_tool("temporal") {
            Some(path) => crate::pinned_cli::verify(&path, &venv).map(Some),
            None => Ok(None),
        }
    }

    pub fn log_file(&self, service: Service) -> PathBuf {
        self.dir.join(format!("{}.log", service.name()))
    }

    /// The Lambda invocation log of the emulator on `port` (see [`Owned::invocation_log`]).
    pub fn invocation_log(&self, port: u16) -> PathBuf {
        lambda_dir(&self.dir, port).join("invocations.jsonl")
    }

    fn pid_file(&self, service: Service) -> PathBuf {
        self.dir.join(format!("{}.pid", service.name()))
    }

    /// The pid recorded for `service`, if that process still runs it.
    fn running_pid(&self, service: Service) -> Option<u32> {
        let text = std::fs::read_to_string(self.pid_file(service)).ok()?;
        let pid: u32 = text.lines().next()?.trim().parse().ok()?;
        is_running(pid, service.marker()).then_some(pid)
    }

    pub fn status(&self, service: Service, host: &str, port: u16) -> Status {
        match (self.running_pid(service), listening(host, port)) {
            (Some(pid), true) => Status::Running { pid },
            (_, true) => Status::Foreign,
            _ => Status::Stopped,
        }
    }

    /// Starts the AWS emulator on `host:port` unless it already runs there. Returns its pid
    /// and whether it was started now.
    pub fn up_aws(
        &self,
        host: &str,
        port: u16,
        log: &mut dyn FnMut(&str),
    ) -> Result<(u32, bool), SandboxError> {
        check_loopback(host)?;
        let _lock = self.lock(log)?;
        match self.status(Service::Aws, host, port) {
            Status::Running { pid } => return Ok((pid, false)),
            Status::Foreign => {
                return Err(SandboxError::PortTaken {
                    host: host.into(),
                    port,
                });
            }
            Status::Stopped => {}
        }
        let env = self.python_env(log)?;
        log(&format!(
            "starting the AWS emulator (moto) on http://{host}:{port}"
        ));
        let cmd = launcher_command(&env, &self.dir, host, port, None)?;
        self.start(Service::Aws, cmd, host, port, "", &|| true)
    }

    /// Starts the Temporal dev server unless it already runs with the same settings; restarts
    /// it when the settings changed. Returns its pid and whether it was started now.
    pub fn up_temporal(
        &self,
        dev: &TemporalDev,
        log: &mut dyn FnMut(&str),
    ) -> Result<(u32, bool), SandboxError> {
        check_loopback(&dev.host)?;
        let _lock = self.lock(log)?;
        let recorded =
            std::fs::read_to_string(self.pid_file(Service::Temporal)).unwrap_or_default();
        match self.status(Service::Temporal, &dev.host, dev.port) {
            Status::Running { pid }
                if recorded.lines().nth(1) == Some(dev.fingerprint().as_str()) =>
            {
                return Ok((pid, false));
            }
            Status::Running { .. } => {
                log("the Temporal dev server's settings changed: restarting it");
                self.stop(Service::Temporal);
            }
            Status::Foreign => {
                return Err(SandboxError::PortTaken {
                    host: dev.host.clone(),
                    port: dev.port,
                });
            }
            Status::Stopped => {}
        }
        let env = self.python_env(log)?;
        crate::pinned_cli::verify(&env.bin("temporal"), env.dir())?;
        log(&format!(
            "starting the Temporal dev server on {}:{} (AWS calls go to {})",
            dev.host, dev.port, dev.aws_endpoint
        ));
        self.start(
            Service::Temporal,
            dev.command(&env),
            &dev.host,
            dev.port,
            &dev.fingerprint(),
            &|| frontend_answers(&env, &dev.host, dev.port),
        )
    }

    /// Starts `cmd` in a process group of its own (the runner's), so a Ctrl-C in the terminal
    /// that ran `sandbox up` leaves it running, and records its pid.
    fn start(
        &self,
        service: Service,
        cmd: Child,
        host: &str,
        port: u16,
        fingerprint: &str,
        answers: &dyn Fn() -> bool,
    ) -> Result<(u32, bool), SandboxError> {
        let log = self.log_file(service);
        let child = cmd
            .start(&log_file(&log)?)
            .map_err(|e| SandboxError::Command {
                what: format!("starting {}", service.name()),
                message: e.to_string(),
            })?;
        let pid = child.pid();
        let pid_file = self.pid_file(service);
        crate::lock::write_own(&pid_file, format!("{pid}\n{fingerprint}\n").as_bytes()).map_err(
            |source| SandboxError::Io {
                path: pid_file,
                source,
            },
        )?;
        wait_ready(child, host, port, &log, answers)?;
        Ok((pid, true))
    }

    /// Held while a service is started or stopped.
    fn lock(&self, log: &mut dyn FnMut(&str)) -> Result<std::fs::File, SandboxError> {
        crate::lock::exclusive(
            &self.dir.join("services.lock"),
            "starting or stopping the sandbox",
            log,
        )
    }

    /// Stops every service started by `up`, Temporal first. Returns what was stopped.
    pub fn down(&self) -> Vec<(Service, u32)> {
        let _lock = self.lock(&mut |line| safe_text::eprintln!("{line}"));
        [Service::Temporal, Service::Aws]
            .into_iter()
            .filter_map(|s| self.stop(s).map(|pid| (s, pid)))
            .collect()
    }

    /// Stops the service recorded in its pid file, once its command line shows it is ours: its
    /// process group gets SIGTERM, then SIGKILL after [`STOP_GRACE`]. Started by an earlier
    /// `sandbox up`, it is not this process's child, so it cannot be waited for: [`is_running`]
    /// tells when it is gone (on Linux without starting a process; an exited child of this
    /// process not reaped yet has no command line, so it counts as gone).
    fn stop(&self, service: Service) -> Option<u32> {
        let pid = self.running_pid(service);
        if let Some(pid) = pid {
            child_process::terminate(pid, true);
            let deadline = Instant::now() + STOP_GRACE;
            while is_running(pid, service.marker()) && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(50));
            }
            if is_running(pid, service.marker()) {
                child_process::kill(pid, true);
            }
        }
        let _ = std::fs::remove_file(self.pid_file(service));
        pid
    }
}

/// A process owned by the current process (for tests): stopped on drop, and stopping by itself
/// if this process dies first.
#[derive(Debug)]
pub struct Owned {
    child: Option<child_process::Service>,
    pub port: u16,
    work_dir: PathBuf,
    log: PathBuf,
}

impl Owned {
    /// The AWS emulator on a free port.
    pub fn aws(env: &PythonEnv, work_dir: &Path) -> Result<Self, SandboxError> {
        let port = free_port()?;
        let cmd = launcher_command(env, work_dir, "127.0.0.1", port, Some(std::process::id()))?;
        Self::spawn(cmd, port, work_dir, &format!("moto-{port}.log"), &|| true)
    }

    /// The AWS emulator on a free port whose StackSet operations stay RUNNING for `running`
    /// (the launcher's `SANDBOX_STACK_SET_OPERATION_SECONDS`, 1 s otherwise): for tests that act
    /// while an operation runs.
    pub fn aws_with_stack_set_operations_of(
        env: &PythonEnv,
        work_dir: &Path,
        running: Duration,
    ) -> Result<Self, SandboxError> {
        let port = free_port()?;
        let cmd = launcher_command(env, work_dir, "127.0.0.1", port, Some(std::process::id()))?
            .env(
                "SANDBOX_STACK_SET_OPERATION_SECONDS",
                running.as_secs_f64().to_string(),
            );
        Self::spawn(cmd, port, work_dir, &format!("moto-{port}.log"), &|| true)
    }

    /// The AWS emulator on a free port, answering as account `account` (moto's
    /// `MOTO_ACCOUNT_ID`): for tests of more than one account.
    pub fn aws_in_account(
        env: &PythonEnv,
        work_dir: &Path,
        account: &str,
    ) -> Result<Self, SandboxError> {
        let port = free_port()?;
        let cmd = launcher_command(env, work_dir, "127.0.0.1", port, Some(std::process::id()))?
            .env("MOTO_ACCOUNT_ID", account);
        Self::spawn(cmd, port, work_dir, &format!("moto-{port}.log"), &|| true)
    }

    /// The emulator's Lambda invocation log: a JSON object per line, `"event"` `start` (with
    /// `caller`: `access_key`, `arn`, and for an assumed role `role_arn`, `session_name`,
    /// `external_id`) and `end` (with `status`, `error` and `output_tail`).
    pub fn invocation_log(&self) -> PathBuf {
        lambda_dir(&self.work_dir, self.port).join("invocations.jsonl")
    }

    /// A Temporal dev server, ready when its frontend answers the CLI's health check; `dev.port`
    /// 0 picks a free port, and another when a program takes that one while the server starts
    /// (a free port is only free until someone binds it: on a loaded machine, another test's
    /// server may).
    pub fn temporal(
        env: &PythonEnv,
        work_dir: &Path,
        dev: TemporalDev,
    ) -> Result<Self, SandboxError> {
        // Through `watch_parent.py`, which ends the server when this process is gone (the
        // emulator's launcher does that itself, with `--parent-pid`).
        let watcher = work_dir.join("watch_parent.py");
        write_if_changed(&watcher, WATCH_PARENT)?;
        let picked = dev.port == 0;
        let mut tries = 0;
        loop {
            let mut dev = dev.clone();
            if picked {
                dev.port = free_port()?;
            }
            let port = dev.port;
            let cmd = dev.command(env).wrapped_in(
                env.python(),
                [
                    watcher.clone().into_os_string(),
                    std::process::id().to_string().into(),
                ],
            );
            let answers = || frontend_answers(env, "127.0.0.1", port);
            let log = format!("temporal-{port}.log");
            match Self::spawn(cmd, port, work_dir, &log, &answers) {
                Err(SandboxError::PortLost { .. }) if picked && tries < 3 => tries += 1,
                other => return other,
            }
        }
    }

    /// The service's output (`moto-PORT.log` or `temporal-PORT.log` in the work directory).
    pub fn log_file(&self) -> &Path {
        &self.log
    }

    fn spawn(
        cmd: Child,
        port: u16,
        work_dir: &Path,
        log_name: &str,
        answers: &dyn Fn() -> bool,
    ) -> Result<Self, SandboxError> {
        let log = &work_dir.join(log_name);
        let child = cmd
            .start(&log_file(log)?)
            .map_err(|e| SandboxError::Command {
                what: "starting a test service".into(),
                message: e.to_string(),
            })?;
        let child = wait_ready(child, "127.0.0.1", port, log, answers)?;
        Ok(Owned {
            child: Some(child),
            port,
            work_dir: work_dir.to_owned(),
            log: log.clone(),
        })
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    pub fn address(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }
}

impl Drop for Owned {
    fn drop(&mut self) {
        if let Some(child) = self.child.take() {
            child.stop(STOP_GRACE);
        }
    }
}

/// The sandbox listens on loopback only: never on every interface (`0.0.0.0`), never on an
/// address other machines reach. The same rule as the launcher's own check.
pub(crate) fn check_loopback(host: &str) -> Result<(), SandboxError> {
    if local_endpoint::classify_host(host) == local_endpoint::Locality::Loopback {
        Ok(())
    } else {
        Err(SandboxError::NotLoopback(host.into()))
    }
}

fn launcher_command(
    env: &PythonEnv,
    dir: &Path,
    host: &str,
    port: u16,
    parent: Option<u32>,
) -> Result<Child, SandboxError> {
    check_loopback(host)?;
    std::fs::create_dir_all(dir).map_err(|source| SandboxError::Io {
        path: dir.to_owned(),
        source,
    })?;
    let launcher = dir.join("moto_launcher.py");
    write_if_changed(&launcher, LAUNCHER)?;
    write_if_changed(&dir.join("lambda_bootstrap.py"), LAMBDA_BOOTSTRAP)?;
    let cmd = sandbox_child(env.python())
        .arg(&launcher)
        .args(["--host", host, "--port", &port.to_string()])
        .arg("--lambda-dir")
        .arg(lambda_dir(dir, port));
    Ok(match parent {
        Some(pid) => cmd.args(["--parent-pid", &pid.to_string()]),
        None => cmd,
    })
}

/// Where the emulator on `port` extracts Lambda code and logs invocations
/// (`invocations.jsonl`: one JSON object per start and end of an invocation, with its caller).
pub(crate) fn lambda_dir(dir: &Path, port: u16) -> PathBuf {
    dir.join(format!("lambda-{port}"))
}

fn write_if_changed(path: &Path, text: &str) -> Result<(), SandboxError> {
    if std::fs::read_to_string(path).ok().as_deref() == Some(text) {
        return Ok(());
    }
    crate::lock::write_own(path, text.as_bytes()).map_err(|source| SandboxError::Io {
        path: path.to_owned(),
        source,
    })
}

/// `log`, created (only by this user) or appended to, for a service's output.
fn log_file(log: &Path) -> Result<std::fs::File, SandboxError> {
    let io = |source| SandboxError::Io {
        path: log.to_owned(),
        source,
    };
    if let Some(dir) = log.parent() {
        std::fs::create_dir_all(dir).map_err(io)?;
    }
    crate::lock::own_file(log, true).map_err(io)
}

/// Waits until the service answers on `host:port` and `answers` confirms it is a service of its
/// kind (something else may listen there); stops it when it exits first, does not answer within
/// [`START_TIMEOUT`], or the [`child_process::unblock`] call it runs in is cancelled. A service
/// that exits because another program holds its port is [`SandboxError::PortLost`].
fn wait_ready(
    mut child: child_process::Service,
    host: &str,
    port: u16,
    log: &Path,
    answers: &dyn Fn() -> bool,
) -> Result<child_process::Service, SandboxError> {
    let start = Instant::now();
    loop {
        // Still ours after it answered: one that lost its port may answer through the other.
        if listening(host, port) && answers() && child.exited().is_none() {
            return Ok(child);
        }
        if child_process::cancelled() {
            child.stop(STOP_GRACE);
            return Err(SandboxError::Command {
                what: format!("starting the service on {host}:{port}"),
                message: "interrupted; it was stopped".into(),
            });
        }
        let exited = child.exited().is_some();
        if exited || start.elapsed() > START_TIMEOUT {
            child.stop(Duration::ZERO);
            let text = std::fs::read_to_string(log).unwrap_or_default();
            if exited && text.contains("address already in use") {
                return Err(SandboxError::PortLost {
                    host: host.to_owned(),
                    port,
                    log: log.to_owned(),
                });
            }
            let tail: Vec<&str> = text.lines().rev().take(20).collect();
            return Err(SandboxError::StartTimeout {
                secs: START_TIMEOUT.as_secs(),
                log: log.to_owned(),
                tail: tail.into_iter().rev().collect::<Vec<_>>().join("\n"),
            });
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Whether a Temporal frontend answers on `host:port` (`temporal operator cluster health`): not
/// merely something listening, such as another dev server's internal service.
fn frontend_answers(env: &PythonEnv, host: &str, port: u16) -> bool {
    sandbox_child(env.bin("temporal"))
        .args(["operator", "cluster", "health", "--address"])
        .arg(if host.contains(':') {
            format!("[{host}]:{port}")
        } else {
            format!("{host}:{port}")
        })
        .arg("--command-timeout=5s")
        .output(Duration::from_secs(15))
        .is_ok_and(|out| out.status.success())
}

/// How long a connection to `listening`'s address may take. On this machine a port nothing
/// listens on refuses at once, so this bounds only a server that is slow to answer, as one is on
/// a loaded machine: with 200 ms, a dev server just started was once reported as "nothing
/// answers" there.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);

/// Whether something accepts connections on `host:port`.
pub fn listening(host: &str, port: u16) -> bool {
    let addrs: Vec<SocketAddr> = (host, port)
        .to_socket_addrs()
        .map(|a| a.collect())
        .unwrap_or_default();
    addrs
        .iter()
        .any(|a| TcpStream::connect_timeout(a, CONNECT_TIMEOUT).is_ok())
}

/// Whether `pid` is alive and its command line contains `marker` (so a recycled pid is never
/// taken for the service): Linux's `/proc/PID/cmdline`, elsewhere `ps`.
fn is_running(pid: u32, marker: &str) -> bool {
    if !child_process::alive(pid) {
        return false;
    }
    let command_line = if cfg!(target_os = "linux") {
        std::fs::read(format!("/proc/{pid}/cmdline")).ok()
    } else {
        Child::new("ps")
            .args(["-o", "command=", "-p", &pid.to_string()])
            .output(Duration::from_secs(10))
            .ok()
            .filter(|o| o.status.success())
            .map(|o| o.stdout)
    };
    command_line.is_some_and(|line| String::from_utf8_lossy(&line).contains(marker))
}

fn free_port() -> Result<u16, SandboxError> {
    let io = |source| SandboxError::Io {
        path: "127.0.0.1:0".into(),
        source,
    };
    let listener = TcpListener::bind("127.0.0.1:0").map_err(io)?;
    listener.local_addr().map(|a| a.port()).map_err(io)
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::*;

    fn service(dir: &Path, name: &str) -> child_process::Service {
        let log = std::fs::File::create(dir.join(format!("{name}.log"))).unwrap();
        // `sh` stays (a command follows `sleep`), with `name` in its command line.
        Child::new("sh")
            .args(["-c", "sleep 1000; true", name])
            .start(&log)
            .unwrap()
    }

    #[test]
    fn stop_ends_the_recorded_service_and_leaves_a_pid_that_is_not_it_alone() {
        let dir = tempfile::tempdir().unwrap();
        let sandbox = Sandbox::new(dir.path());
        std::fs::create_dir_all(dir.path().join("sandbox")).unwrap();
        let pid_file = sandbox.pid_file(Service::Aws);

        let ours = service(dir.path(), Service::Aws.marker());
        std::fs::write(&pid_file, format!("{}\n\n", ours.pid())).unwrap();
        let start = Instant::now();
        assert_eq!(sandbox.stop(Service::Aws), Some(ours.pid()));
        assert!(
            start.elapsed() < Duration::from_secs(5),
            "{:?}",
            start.elapsed()
        );
        assert!(!pid_file.exists());
        ours.stop(Duration::ZERO);

        // A pid recycled by another program: not signalled.
        let other = service(dir.path(), "something-else");
        std::fs::write(&pid_file, format!("{}\n\n", other.pid())).unwrap();
        assert_eq!(sandbox.stop(Service::Aws), None);
        let mut other = other;
        assert!(other.exited().is_none(), "the other program was stopped");
        other.stop(Duration::ZERO);
    }
}
