//! One run at a time for the sandbox's shared state: two `cargo xtask` runs in one checkout
//! (two terminals, or a first `deploy local` installing ahead while `sandbox up` starts) must
//! not pip-install into the same virtualenv at once, nor both start an emulator on one port.

use std::fs::{File, OpenOptions, TryLockError};
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
    let file = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(path)
        .map_err(io)?;
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
