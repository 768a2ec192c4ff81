//! One run at a time for the sandbox's shared state: two `cargo xtask` runs in one checkout
//! (two terminals, or a first `deploy local` installing ahead while `sandbox up` starts) must
//! not pip-install into the same virtualenv at once, nor both start an emulator on one port.

use std::fs::{File, OpenOptions, TryLockError};
use std::io::Write;
use std::path::Path;

use crate::SandboxError;

/// Holds an exclusive lock on `path` (created when missing) until dropped, waiting for another
/// holder after saying so through `log` (`what`: what the other run is doing).
pub(crate) fn exclusive(
    path: &Path,
    what: &str,
    log: &mut dyn FnMut(&str),
) -> Result<File, SandboxError> {
    let io = |source| SandboxError::Io {
        path: path.to_owned(),
        source,
    };
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(io)?;
    }
    let file = own_file(path, false).map_err(io)?;
    match file.try_lock() {
        Ok(()) => {}
        Err(TryLockError::WouldBlock) => {
            log(&format!(
                "waiting for another run of this tool in this checkout ({what}; lock `{}`)",
                path.display()
            ));
            file.lock().map_err(io)?;
        }
        Err(TryLockError::Error(e)) => return Err(io(e)),
    }
    Ok(file)
}

/// Opens (creating when missing) one of the sandbox's own state files for writing, emptied
/// when `truncate`, through [`env_descriptor::open_state_file`]: never through a link, only a
/// regular file.
pub(crate) fn own_file(path: &Path, truncate: bool) -> std::io::Result<File> {
    env_descriptor::open_state_file(
        path,
        OpenOptions::new()
            .create(true)
            .truncate(truncate)
            .write(true),
    )
}

/// Writes `contents` to the sandbox's own file `path` through [`own_file`].
pub(crate) fn write_own(path: &Path, contents: &[u8]) -> std::io::Result<()> {
    own_file(path, true)?.write_all(contents)
}

#[cfg(test)]
mod tests {
    #[test]
    fn state_files_are_never_written_through_links() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("aaa.toml");
        std::fs::write(&target, "kept").unwrap();
        for name in ["x.lock", "x.pid"] {
            std::os::unix::fs::symlink(&target, dir.path().join(name)).unwrap();
        }
        let err = super::exclusive(&dir.path().join("x.lock"), "test", &mut |_| {}).unwrap_err();
        assert!(err.to_string().contains("symbolic link"), "{err}");
        let err = super::write_own(&dir.path().join("x.pid"), b"1\n").unwrap_err();
        assert!(err.to_string().contains("symbolic link"), "{err}");
        assert_eq!(std::fs::read_to_string(&target).unwrap(), "kept");
    }
}
