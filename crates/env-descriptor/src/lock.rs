//! One command at a time per environment.
//!
//! `deploy`, `destroy` and `register` hold the lock of each environment they change for their
//! whole run, from before their first AWS call until the descriptor is written: two deploys of
//! one environment would otherwise race on its stack and on its `[outputs]`. The lock is an OS
//! file lock (`flock`) on `target/xtask/locks/NAME.lock`, outside `environments/` so that git
//! never sees it; the OS drops it when the holder exits, however it exits, so a stale lock
//! cannot outlive a crash. The file names the holder (pid, command, start) for the message of
//! whoever finds it taken; it is never deleted, since deleting a lock file lets two processes
//! lock two different files of the same name.

use std::fmt;
use std::fs::{File, OpenOptions, TryLockError};
use std::io::{Read, Seek, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime};

use crate::Layout;

/// How often a waiting command tries again.
const POLL: Duration = Duration::from_millis(100);

/// The lock of one environment; released when dropped (or when the process ends).
#[derive(Debug)]
pub struct EnvLock {
    file: File,
}

#[derive(Debug, thiserror::Error)]
pub enum LockError {
    #[error(
        "`{env}` is locked by {holder}; wait for it to finish, or pass `--lock-timeout DURATION` (e.g. `10m`) to wait for it (lock file `{}`)",
        path.display()
    )]
    Busy {
        env: String,
        holder: Holder,
        path: PathBuf,
    },
    #[error(
        "`{env}` is still locked by {holder} after waiting {}; nothing was changed (lock file `{}`)",
        humantime::format_duration(*waited),
        path.display()
    )]
    TimedOut {
        env: String,
        holder: Holder,
        waited: Duration,
        path: PathBuf,
    },
    #[error("cannot lock `{}`: {source}", path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// Who holds a lock, as far as its file tells.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Holder {
    pub pid: Option<u32>,
    /// The command line it runs, e.g. `deploy staging`.
    pub command: Option<String>,
    /// When it took the lock (RFC 3339, UTC).
    pub since: Option<String>,
}

impl fmt::Display for Holder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.pid {
            Some(pid) => write!(f, "pid {pid}")?,
            // Between taking the lock and writing its name, or an older version of the tool.
            None => write!(f, "another process")?,
        }
        match (&self.command, &self.since) {
            (Some(cmd), Some(since)) => write!(f, " (`{cmd}`, since {since})"),
            (Some(cmd), None) => write!(f, " (`{cmd}`)"),
            (None, Some(since)) => write!(f, " (since {since})"),
            (None, None) => Ok(()),
        }
    }
}

impl Holder {
    fn parse(text: &str) -> Self {
        let mut holder = Holder::default();
        for line in text.lines() {
            match line.split_once('=') {
                Some(("pid", v)) => holder.pid = v.parse().ok(),
                Some(("command", v)) => holder.command = Some(v.to_owned()),
                Some(("since", v)) => holder.since = Some(v.to_owned()),
                _ => {}
            }
        }
        holder
    }

    /// What the lock's file says (read through the open file: never through a link).
    fn read(mut file: &File) -> Self {
        let mut text = String::new();
        match file
            .rewind()
            .and_then(|()| file.take(4096).read_to_string(&mut text))
        {
            Ok(_) => Self::parse(&text),
            Err(_) => Holder::default(),
        }
    }
}

impl EnvLock {
    /// Takes the lock of environment `env` for `command` (shown to whoever finds it taken).
    /// When another process holds it: an error at once when `timeout` is zero, else waits up to
    /// `timeout`, calling `on_wait` once with the holder before it starts waiting.
    pub fn acquire(
        layout: &Layout,
        env: &str,
        command: &str,
        timeout: Duration,
        on_wait: &mut dyn FnMut(&Holder),
    ) -> Result<Self, LockError> {
        let path = layout.lock_file(env);
        let io = |source| LockError::Io {
            path: path.clone(),
            source,
        };
        std::fs::create_dir_all(path.parent().expect("a lock file has a directory")).map_err(io)?;
        let mut file = open_state_file(
            &path,
            OpenOptions::new()
                .read(true)
                .write(true)
                .create(true)
                .truncate(false),
        )
        .map_err(io)?;
        let start = Instant::now();
        let mut announced = false;
        loop {
            match file.try_lock() {
                Ok(()) => break,
                Err(TryLockError::Error(e)) => return Err(io(e)),
                Err(TryLockError::WouldBlock) => {
                    let holder = Holder::read(&file);
                    let waited = start.elapsed();
                    if timeout.is_zero() {
                        return Err(LockError::Busy {
                            env: env.to_owned(),
                            holder,
                            path,
                        });
                    }
                    if waited >= timeout {
                        return Err(LockError::TimedOut {
                            env: env.to_owned(),
                            holder,
                            waited,
                            path,
                        });
                    }
                    if !announced {
                        on_wait(&holder);
                        announced = true;
                    }
                    std::thread::sleep(POLL.min(timeout - waited));
                }
            }
        }
        let since = humantime::format_rfc3339_seconds(SystemTime::now());
        let record = format!(
            "pid={}\ncommand={}\nsince={since}\n",
            std::process::id(),
            command.replace('\n', " ")
        );
        file.set_len(0)
            .and_then(|()| file.rewind())
            .and_then(|()| file.write_all(record.as_bytes()))
            .map_err(io)?;
        Ok(EnvLock { file })
    }
}

/// Opens one of the tool's own state files as `options` say (creating it, emptying it, ...),
/// never through a symbolic link (`O_NOFOLLOW`) and only when it is a regular file: a link
/// committed in its place (a pull request's, under `target/`) would otherwise have the tool
/// truncate or write whatever it points to. The one opener of the tool's state files: the
/// environment locks here and the sandbox's lock, pid, stamp and log files.
pub fn open_state_file(path: &Path, options: &mut OpenOptions) -> std::io::Result<File> {
    let file = options
        .custom_flags(libc::O_NOFOLLOW | libc::O_NOCTTY | libc::O_NONBLOCK)
        .open(path)
        .map_err(|e| {
            if e.raw_os_error() == Some(libc::ELOOP) {
                std::io::Error::new(
                    e.kind(),
                    format!(
                        "`{}` is a symbolic link; this file is the tool's own and is never followed: remove it (`rm`) and run again",
                        path.display()
                    ),
                )
            } else {
                e
            }
        })?;
    if !file.metadata()?.is_file() {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            format!(
                "`{}` is not a regular file; this file is the tool's own: remove it and run again",
                path.display()
            ),
        ));
    }
    Ok(file)
}

impl Drop for EnvLock {
    fn drop(&mut self) {
        // The name goes first, so nobody is named as the holder of a free lock.
        let _ = self.file.set_len(0);
        let _ = self.file.unlock();
    }
}

#[cfg(test)]
mod tests {
    use std::io::Read;

    use super::*;

    fn layout() -> (tempfile::TempDir, Layout) {
        let dir = tempfile::tempdir().unwrap();
        let layout = Layout::at(dir.path());
        (dir, layout)
    }

    /// Who holds the lock of `env` now, if anyone does.
    fn holder(layout: &Layout, env: &str) -> Option<Holder> {
        let file = File::open(layout.lock_file(env)).ok()?;
        if file.try_lock_shared().is_ok() {
            return None;
        }
        let mut text = String::new();
        (&file).read_to_string(&mut text).unwrap();
        Some(Holder::parse(&text))
    }

    fn never(_: &Holder) {
        panic!("must not wait");
    }

    /// Takes the lock of `env` for `command`, or fails at once.
    fn take(layout: &Layout, env: &str, command: &str) -> Result<EnvLock, LockError> {
        EnvLock::acquire(layout, env, command, Duration::ZERO, &mut never)
    }

    #[test]
    fn a_taken_lock_is_refused_naming_its_holder_and_free_again_when_dropped() {
        let (_dir, layout) = layout();
        let lock = take(&layout, "staging", "deploy staging").unwrap();
        let held = holder(&layout, "staging").expect("held");
        assert_eq!(held.pid, Some(std::process::id()));
        assert_eq!(held.command.as_deref(), Some("deploy staging"));

        let err = take(&layout, "staging", "destroy staging").unwrap_err();
        let msg = err.to_string();
        assert!(
            msg.starts_with(&format!(
                "`staging` is locked by pid {} (`deploy staging`, since 20",
                std::process::id()
            )),
            "{msg}"
        );
        assert!(msg.contains("--lock-timeout DURATION"), "{msg}");
        assert!(msg.contains("target/xtask/locks/staging.lock"), "{msg}");

        // Another environment is independent.
        take(&layout, "production", "deploy production").unwrap();

        drop(lock);
        assert_eq!(holder(&layout, "staging"), None);
        take(&layout, "staging", "destroy staging").unwrap();
    }

    #[test]
    fn a_timeout_waits_for_the_holder() {
        let (_dir, layout) = layout();
        let lock = take(&layout, "staging", "deploy staging").unwrap();
        let mut announced = 0;
        let err = EnvLock::acquire(
            &layout,
            "staging",
            "register staging",
            Duration::from_millis(300),
            &mut |h| {
                assert_eq!(h.command.as_deref(), Some("deploy staging"));
                announced += 1;
            },
        )
        .unwrap_err();
        assert!(matches!(err, LockError::TimedOut { .. }), "{err}");
        assert_eq!(announced, 1, "the wait is announced once");

        let releaser = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(200));
            drop(lock);
        });
        EnvLock::acquire(
            &layout,
            "staging",
            "register staging",
            Duration::from_secs(30),
            &mut |_| {},
        )
        .unwrap();
        releaser.join().unwrap();
    }

    /// A lock file committed as a link to a descriptor: the lock is refused and the descriptor
    /// keeps its contents.
    #[test]
    fn a_lock_file_that_is_a_symlink_is_never_followed() {
        let (dir, layout) = layout();
        let envs = dir.path().join("environments");
        std::fs::create_dir_all(&envs).unwrap();
        std::fs::write(envs.join("aaa.toml"), "[aws]\nregion = \"us-east-1\"\n").unwrap();
        let lock = layout.lock_file("staging");
        std::fs::create_dir_all(lock.parent().unwrap()).unwrap();
        std::os::unix::fs::symlink("../../../environments/aaa.toml", &lock).unwrap();
        let err = take(&layout, "staging", "deploy staging").unwrap_err();
        assert!(
            err.to_string()
                .contains("is a symbolic link; this file is the tool's own"),
            "{err}"
        );
        assert_eq!(
            std::fs::read_to_string(envs.join("aaa.toml")).unwrap(),
            "[aws]\nregion = \"us-east-1\"\n"
        );
    }

    #[test]
    fn holder_of_an_unnamed_lock() {
        assert_eq!(Holder::parse("").to_string(), "another process");
        assert_eq!(
            Holder::parse("pid=7\ncommand=deploy a b\nsince=2026-11-25T10:02:03Z\n").to_string(),
            "pid 7 (`deploy a b`, since 2026-11-25T10:02:03Z)"
        );
    }
}
