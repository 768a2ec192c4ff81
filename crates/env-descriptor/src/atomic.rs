//! The one writer of files: descriptors, rendered files and the server's dynamic config file
//! all go through [`write_atomic`], so each rewrite keeps what the tool does not own.

use std::fs::{Metadata, Permissions};
use std::io::{self, ErrorKind, Write};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use tempfile::NamedTempFile;

/// How many symbolic links are followed before giving up, as Linux does (`ELOOP`).
const MAX_SYMLINKS: usize = 40;

/// Writes `contents` to `path` so that readers see either the old file or the new one, never a
/// half-written file: the bytes go to a temporary file in the same directory as the final file,
/// which is flushed to disk and then renamed over it.
///
/// What the tool does not own is kept: a `path` that is a symbolic link stays one and its final
/// target is written (a descriptor shared through a link, a server file under `/etc`); the mode
/// bits, owner and group of a replaced file are kept (a server file owned by the Temporal user
/// stays readable by it); a new file gets `0666` minus the umask, as `touch` would make it.
///
/// Refused, leaving every file as it was: a file or directory without any write permission bit
/// (`chmod a-w` is taken as "do not touch", even by root), a file whose owner cannot be kept
/// (replacing it would hand it to the current user: run as its owner or as root), a dangling
/// link, and anything but a regular file. Missing parent directories of a new file are created.
pub fn write_atomic(path: &Path, contents: &[u8]) -> io::Result<()> {
    let Replacement { target, mut tmp } = Replacement::prepare(path)?;
    tmp.write_all(contents)?;
    tmp.as_file().sync_all()?;
    tmp.persist(&target).map_err(|e| e.error)?;
    // The rename itself is durable once the directory is.
    std::fs::File::open(parent_dir(&target))?.sync_all()
}

/// Checks that [`write_atomic`] could write `path` now, without changing it: commands call this
/// before their first AWS call, so that a descriptor they could not record the result in is
/// found before the stack is changed.
pub fn check_writable(path: &Path) -> io::Result<()> {
    Replacement::prepare(path).map(drop)
}

/// A temporary file, already carrying the final file's owner and mode, next to `target`.
struct Replacement {
    target: PathBuf,
    tmp: NamedTempFile,
}

impl Replacement {
    fn prepare(path: &Path) -> io::Result<Self> {
        let target = final_target(path)?;
        let existing = match std::fs::metadata(&target) {
            Ok(meta) => Some(meta),
            Err(e) if e.kind() == ErrorKind::NotFound => None,
            Err(e) => return Err(e),
        };
        let dir = parent_dir(&target);
        match &existing {
            Some(meta) => ensure_replaceable(&target, meta)?,
            None => std::fs::create_dir_all(dir)?,
        }
        ensure_dir_writable(dir)?;
        // Mode 0666 is passed to open(2), so the umask applies as for any new file.
        let tmp = tempfile::Builder::new()
            .prefix(".tmp-")
            .permissions(Permissions::from_mode(0o666))
            .tempfile_in(dir)
            .map_err(|e| with_message(e, format!("cannot create a file in `{}`", dir.display())))?;
        if let Some(meta) = &existing {
            keep_owner_and_mode(&tmp, &target, meta)?;
        }
        Ok(Replacement { target, tmp })
    }
}

/// Follows `path` through any chain of symbolic links to the file that holds the contents.
/// A path that does not exist is a new file; a link to nothing is an error.
fn final_target(path: &Path) -> io::Result<PathBuf> {
    let mut current = path.to_path_buf();
    for _ in 0..MAX_SYMLINKS {
        let meta = match std::fs::symlink_metadata(&current) {
            Ok(meta) => meta,
            Err(e) if e.kind() == ErrorKind::NotFound && current == path => return Ok(current),
            Err(e) => return Err(e),
        };
        if !meta.file_type().is_symlink() {
            return Ok(current);
        }
        let link = std::fs::read_link(&current)?;
        let next = parent_dir(&current).join(&link);
        if std::fs::symlink_metadata(&next).is_err_and(|e| e.kind() == ErrorKind::NotFound) {
            return Err(io::Error::new(
                ErrorKind::NotFound,
                format!(
                    "`{}` is a symbolic link to `{}`, which does not exist",
                    current.display(),
                    link.display()
                ),
            ));
        }
        current = next;
    }
    Err(io::Error::other(format!(
        "`{}`: more than {MAX_SYMLINKS} symbolic links to follow",
        path.display()
    )))
}

fn parent_dir(path: &Path) -> &Path {
    match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    }
}

/// A regular file that the user has not made read-only and this process may open for writing.
fn ensure_replaceable(target: &Path, meta: &Metadata) -> io::Result<()> {
    if !meta.is_file() {
        return Err(io::Error::new(
            ErrorKind::InvalidInput,
            format!("`{}` is not a regular file", target.display()),
        ));
    }
    if meta.mode() & 0o222 == 0 {
        return Err(read_only(target, meta));
    }
    std::fs::OpenOptions::new()
        .write(true)
        .open(target)
        .map(drop)
        .map_err(|e| with_message(e, format!("`{}` is not writable", target.display())))
}

fn ensure_dir_writable(dir: &Path) -> io::Result<()> {
    let meta = std::fs::metadata(dir)?;
    if meta.mode() & 0o222 == 0 {
        return Err(read_only(dir, &meta));
    }
    Ok(())
}

fn read_only(path: &Path, meta: &Metadata) -> io::Error {
    io::Error::new(
        ErrorKind::PermissionDenied,
        format!(
            "`{}` is read-only (mode {:04o}); make it writable (`chmod u+w`) and run again",
            path.display(),
            meta.mode() & 0o7777
        ),
    )
}

/// Gives the temporary file the owner, group and mode of the file it replaces. The owner goes
/// first: changing it clears the set-user-ID and set-group-ID bits.
fn keep_owner_and_mode(tmp: &NamedTempFile, target: &Path, meta: &Metadata) -> io::Result<()> {
    let file = tmp.as_file();
    let mine = file.metadata()?;
    let uid = (mine.uid() != meta.uid()).then_some(meta.uid());
    let gid = (mine.gid() != meta.gid()).then_some(meta.gid());
    if uid.is_some() || gid.is_some() {
        std::os::unix::fs::fchown(file, uid, gid).map_err(|e| {
            with_message(
                e,
                format!(
                    "cannot keep the owner {}:{} of `{}`; run as its owner or as root",
                    meta.uid(),
                    meta.gid(),
                    target.display()
                ),
            )
        })?;
    }
    file.set_permissions(meta.permissions())
}

/// `e` with `message` in front, keeping its kind.
fn with_message(e: io::Error, message: String) -> io::Error {
    io::Error::new(e.kind(), format!("{message}: {e}"))
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::{MetadataExt, PermissionsExt, symlink};

    use super::*;

    fn mode(path: &Path) -> u32 {
        std::fs::metadata(path).unwrap().permissions().mode() & 0o7777
    }

    fn names(dir: &Path) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    }

    #[test]
    fn replaces_content_and_leaves_no_temporary_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub/file.txt");
        write_atomic(&path, b"one").unwrap();
        write_atomic(&path, b"two").unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "two");
        assert_eq!(names(path.parent().unwrap()), vec!["file.txt"]);
    }

    #[test]
    fn a_symlink_stays_a_symlink_and_its_final_target_is_written() {
        let dir = tempfile::tempdir().unwrap();
        let real_dir = dir.path().join("shared");
        std::fs::create_dir(&real_dir).unwrap();
        let target = real_dir.join("staging.toml");
        std::fs::write(&target, "old").unwrap();
        let links = dir.path().join("environments");
        std::fs::create_dir(&links).unwrap();
        // A chain: environments/staging.toml -> middle.toml -> ../shared/staging.toml.
        symlink("../shared/staging.toml", links.join("middle.toml")).unwrap();
        symlink("middle.toml", links.join("staging.toml")).unwrap();

        write_atomic(&links.join("staging.toml"), b"new").unwrap();

        for link in ["staging.toml", "middle.toml"] {
            let meta = std::fs::symlink_metadata(links.join(link)).unwrap();
            assert!(meta.file_type().is_symlink(), "{link} is still a symlink");
        }
        assert_eq!(std::fs::read_to_string(&target).unwrap(), "new");
        assert_eq!(names(&links), vec!["middle.toml", "staging.toml"]);
        assert_eq!(
            names(&real_dir),
            vec!["staging.toml"],
            "no temporary file left"
        );
    }

    #[test]
    fn mode_bits_of_a_replaced_file_are_kept() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("dynamicconfig.yaml");
        std::fs::write(&path, "a").unwrap();
        for wanted in [0o640, 0o604, 0o2664] {
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(wanted)).unwrap();
            write_atomic(&path, b"b").unwrap();
            assert_eq!(mode(&path), wanted, "{wanted:o}");
        }
    }

    #[test]
    fn owner_and_group_of_a_replaced_file_are_kept() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("dynamicconfig.yaml");
        std::fs::write(&path, "a").unwrap();
        // Giving a file away needs root; elsewhere this is covered by the refusal below.
        match std::os::unix::fs::chown(&path, Some(4242), Some(4243)) {
            Ok(()) => {
                write_atomic(&path, b"b").unwrap();
                let meta = std::fs::metadata(&path).unwrap();
                assert_eq!((meta.uid(), meta.gid()), (4242, 4243));
                assert_eq!(std::fs::read_to_string(&path).unwrap(), "b");
            }
            Err(e) => assert_eq!(e.kind(), std::io::ErrorKind::PermissionDenied, "{e}"),
        }
    }

    /// Run by [`new_files_get_0666_minus_the_umask`] in a child process under `umask 027`;
    /// does nothing on its own.
    #[test]
    #[ignore = "helper of new_files_get_0666_minus_the_umask"]
    fn write_new_file_in_child() {
        if let Some(path) = std::env::var_os("WRITE_ATOMIC_NEW_FILE") {
            write_atomic(Path::new(&path), b"new").unwrap();
        }
    }

    #[test]
    fn new_files_get_0666_minus_the_umask() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("new.toml");
        let out = std::process::Command::new("sh")
            .args(["-c", "umask 027 && exec \"$0\" \"$@\""])
            .arg(std::env::current_exe().unwrap())
            .args([
                "--exact",
                "atomic::tests::write_new_file_in_child",
                "--ignored",
                "--quiet",
            ])
            .env("WRITE_ATOMIC_NEW_FILE", &path)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stdout)
        );
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "new");
        assert_eq!(mode(&path), 0o640);
    }

    #[test]
    fn a_read_only_file_is_refused_and_left_as_it_was() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("staging.toml");
        std::fs::write(&path, "old").unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o444)).unwrap();
        for result in [check_writable(&path), write_atomic(&path, b"new")] {
            let err = result.unwrap_err();
            assert_eq!(err.kind(), std::io::ErrorKind::PermissionDenied);
            assert!(
                err.to_string().contains("is read-only (mode 0444)"),
                "{err}"
            );
        }
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "old");
        assert_eq!(names(dir.path()), vec!["staging.toml"]);
    }

    #[test]
    fn a_read_only_directory_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let envs = dir.path().join("environments");
        std::fs::create_dir(&envs).unwrap();
        let path = envs.join("staging.toml");
        std::fs::write(&path, "old").unwrap();
        std::fs::set_permissions(&envs, std::fs::Permissions::from_mode(0o555)).unwrap();
        let results = [check_writable(&path), write_atomic(&path, b"new")];
        std::fs::set_permissions(&envs, std::fs::Permissions::from_mode(0o755)).unwrap();
        for result in results {
            let err = result.unwrap_err();
            assert_eq!(err.kind(), std::io::ErrorKind::PermissionDenied);
            assert!(
                err.to_string().contains("environments` is read-only"),
                "{err}"
            );
        }
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "old");
        assert_eq!(names(&envs), vec!["staging.toml"]);
    }

    #[test]
    fn a_dangling_symlink_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("staging.toml");
        symlink("gone/staging.toml", &path).unwrap();
        for result in [check_writable(&path), write_atomic(&path, b"new")] {
            let err = result.unwrap_err();
            assert_eq!(err.kind(), std::io::ErrorKind::NotFound);
            assert!(
                err.to_string()
                    .contains("is a symbolic link to `gone/staging.toml`, which does not exist"),
                "{err}"
            );
        }
        assert!(!dir.path().join("gone").exists());
    }

    #[test]
    fn check_writable_accepts_a_writable_file_and_changes_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("staging.toml");
        std::fs::write(&path, "old").unwrap();
        check_writable(&path).unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "old");
        assert_eq!(names(dir.path()), vec!["staging.toml"]);
    }
}
