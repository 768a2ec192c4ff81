use std::net::{SocketAddr, TcpListener, TcpStream, ToSocketAddrs};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::python::{LAUNCHER, PythonEnv};
use crate::{SandboxError, safe_env};

const START_TIMEOUT: Duration = Duration::from_secs(60);

/// The long-running emulator of `cargo xtask sandbox up`, tracked by a pid file under
/// `target/xtask/sandbox/`.
#[derive(Debug, Clone)]
pub struct Sandbox {
    dir: PathBuf,
}

/// What runs on the sandbox's address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Status {
    /// Our emulator, with its process id.
    Running {
        pid: u32,
        url: String,
    },
    /// Something else answers on the port.
    Foreign {
        url: String,
    },
    Stopped,
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

    pub fn log_file(&self) -> PathBuf {
        self.dir.join("moto.log")
    }

    fn pid_file(&self) -> PathBuf {
        self.dir.join("moto.pid")
    }

    /// The pid recorded by `up`, if that process still runs the launcher.
    fn running_pid(&self) -> Option<u32> {
        let pid: u32 = std::fs::read_to_string(self.pid_file())
            .ok()?
            .trim()
            .parse()
            .ok()?;
        is_launcher(pid).then_some(pid)
    }

    pub fn status(&self, host: &str, port: u16) -> Status {
        let url = format!("http://{host}:{port}");
        match (self.running_pid(), listening(host, port)) {
            (Some(pid), true) => Status::Running { pid, url },
            (_, true) => Status::Foreign { url },
            _ => Status::Stopped,
        }
    }

    /// Starts the emulator on `host:port` unless it already runs there. Returns its pid and
    /// whether it was started now.
    pub fn up(
        &self,
        host: &str,
        port: u16,
        log: &mut dyn FnMut(&str),
    ) -> Result<(u32, bool), SandboxError> {
        check_loopback(host)?;
        match self.status(host, port) {
            Status::Running { pid, .. } => return Ok((pid, false)),
            Status::Foreign { .. } => {
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
        let child = spawn(&env, &self.dir, host, port, None, &self.log_file(), true)?;
        let pid = child.id();
        let pid_file = self.pid_file();
        std::fs::write(&pid_file, format!("{pid}\n")).map_err(|source| SandboxError::Io {
            path: pid_file,
            source,
        })?;
        wait_ready(child, host, port, &self.log_file())?;
        Ok((pid, true))
    }

    /// Stops the emulator started by `up`. Returns its pid, or `None` when none ran.
    pub fn down(&self) -> Result<Option<u32>, SandboxError> {
        let Some(pid) = self.running_pid() else {
            let _ = std::fs::remove_file(self.pid_file());
            return Ok(None);
        };
        let _ = Command::new("kill").arg(pid.to_string()).status();
        let deadline = Instant::now() + Duration::from_secs(10);
        while is_launcher(pid) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(50));
        }
        if is_launcher(pid) {
            let _ = Command::new("kill").args(["-9", &pid.to_string()]).status();
        }
        let _ = std::fs::remove_file(self.pid_file());
        Ok(Some(pid))
    }
}

/// An emulator owned by the current process (for tests): on a free port, stopped on drop, and
/// stopping by itself if this process dies first.
#[derive(Debug)]
pub struct Emulator {
    child: Option<Child>,
    pub url: String,
    pub port: u16,
}

impl Emulator {
    pub fn start(env: &PythonEnv, work_dir: &Path) -> Result<Self, SandboxError> {
        let port = free_port()?;
        let log = work_dir.join(format!("moto-{port}.log"));
        let child = spawn(
            env,
            work_dir,
            "127.0.0.1",
            port,
            Some(std::process::id()),
            &log,
            false,
        )?;
        let child = wait_ready(child, "127.0.0.1", port, &log)?;
        Ok(Emulator {
            child: Some(child),
            url: format!("http://127.0.0.1:{port}"),
            port,
        })
    }
}

impl Drop for Emulator {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

fn check_loopback(host: &str) -> Result<(), SandboxError> {
    let ok = host == "localhost"
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback());
    if ok {
        Ok(())
    } else {
        Err(SandboxError::NotLoopback(host.into()))
    }
}

fn spawn(
    env: &PythonEnv,
    dir: &Path,
    host: &str,
    port: u16,
    parent: Option<u32>,
    log: &Path,
    detach: bool,
) -> Result<Child, SandboxError> {
    check_loopback(host)?;
    let io = |path: &Path, source| SandboxError::Io {
        path: path.to_owned(),
        source,
    };
    std::fs::create_dir_all(dir).map_err(|e| io(dir, e))?;
    let launcher = dir.join("moto_launcher.py");
    if std::fs::read_to_string(&launcher).ok().as_deref() != Some(LAUNCHER) {
        std::fs::write(&launcher, LAUNCHER).map_err(|e| io(&launcher, e))?;
    }
    let out = std::fs::File::create(log).map_err(|e| io(log, e))?;
    let err = out.try_clone().map_err(|e| io(log, e))?;
    let mut cmd = Command::new(env.python());
    cmd.arg(&launcher)
        .args(["--host", host, "--port", &port.to_string()]);
    if let Some(pid) = parent {
        cmd.args(["--parent-pid", &pid.to_string()]);
    }
    safe_env(&mut cmd);
    cmd.stdin(Stdio::null()).stdout(out).stderr(err);
    if detach {
        use std::os::unix::process::CommandExt;
        // Its own process group: a Ctrl-C in the terminal that ran `sandbox up` leaves it running.
        cmd.process_group(0);
    }
    cmd.spawn().map_err(|e| SandboxError::Command {
        what: "starting the emulator".into(),
        message: e.to_string(),
    })
}

fn wait_ready(mut child: Child, host: &str, port: u16, log: &Path) -> Result<Child, SandboxError> {
    let start = Instant::now();
    loop {
        if listening(host, port) {
            return Ok(child);
        }
        let exited = matches!(child.try_wait(), Ok(Some(_)));
        if exited || start.elapsed() > START_TIMEOUT {
            if !exited {
                let _ = child.kill();
                let _ = child.wait();
            }
            let text = std::fs::read_to_string(log).unwrap_or_default();
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

fn listening(host: &str, port: u16) -> bool {
    let addrs: Vec<SocketAddr> = (host, port)
        .to_socket_addrs()
        .map(|a| a.collect())
        .unwrap_or_default();
    addrs
        .iter()
        .any(|a| TcpStream::connect_timeout(a, Duration::from_millis(200)).is_ok())
}

/// Whether `pid` is alive and runs the launcher (so a recycled pid is never signalled).
fn is_launcher(pid: u32) -> bool {
    Command::new("ps")
        .args(["-o", "command=", "-p", &pid.to_string()])
        .stderr(Stdio::null())
        .output()
        .is_ok_and(|o| {
            o.status.success() && String::from_utf8_lossy(&o.stdout).contains("moto_launcher")
        })
}

fn free_port() -> Result<u16, SandboxError> {
    let listener = TcpListener::bind("127.0.0.1:0").map_err(|source| SandboxError::Io {
        path: "127.0.0.1:0".into(),
        source,
    })?;
    listener
        .local_addr()
        .map(|a| a.port())
        .map_err(|source| SandboxError::Io {
            path: "127.0.0.1:0".into(),
            source,
        })
}
