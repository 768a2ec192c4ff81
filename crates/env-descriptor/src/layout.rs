use std::io::Read;
use std::path::{Component, Path, PathBuf};

/// The most bytes the tool reads of any one file of a checkout (descriptors, templates, rendered
/// files, the server's dynamic config or Helm values): a few times the largest real one, so that
/// a hostile file costs a bounded amount of time and memory and is refused before it is parsed.
pub const MAX_FILE_BYTES: u64 = 4 * 1024 * 1024;

/// The files `render` writes into `environments/NAME/`: the dynamic config, the stack parameters.
pub const RENDERED_FILES: [&str; 2] = ["dynamicconfig.yaml", "parameters.json"];

/// The variable naming the directories outside the checkout that the tool may read and write
/// (`:`-separated, like `PATH`). Set by whoever runs the tool (a CI job's settings), never by the
/// files of a checkout, which a pull request controls.
pub const ALLOW_OUTSIDE_VAR: &str = "XTASK_ALLOW_OUTSIDE";

/// Where things live in a checkout: `environments/`, `templates/` (optional: overrides of the
/// built-in templates) and the cache under `target/`. The checkout is any directory with
/// `environments/`: this repository, or a team's own infra repository.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Layout {
    root: PathBuf,
    /// Directories outside the checkout that files may resolve into ([`ALLOW_OUTSIDE_VAR`]),
    /// canonical.
    outside: Vec<PathBuf>,
}

/// A file of the checkout the tool cannot read or write: outside the checkout, too large, not a
/// regular file, or unreadable.
#[derive(Debug, thiserror::Error)]
pub enum FileError {
    #[error(
        "`{}` resolves to `{}`, outside the checkout `{}`; allowed: a file inside the checkout (symbolic links included); \
         a repository that keeps it elsewhere names that directory in `{ALLOW_OUTSIDE_VAR}` where the tool runs (never in the checkout's own files)",
        shown(path),
        shown(resolved),
        shown(root)
    )]
    Outside {
        path: PathBuf,
        resolved: PathBuf,
        root: PathBuf,
    },
    #[error(
        "`{}` is {size} bytes; allowed: at most {MAX_FILE_BYTES} bytes (4 MiB), more than any real one needs; nothing was read",
        shown(path)
    )]
    TooLarge { path: PathBuf, size: u64 },
    #[error("`{}` is not a regular file", shown(path))]
    NotAFile { path: PathBuf },
    #[error("cannot read `{}`: {err}", shown(path))]
    Io { path: PathBuf, err: std::io::Error },
}

impl FileError {
    /// The path the error is about, as it was named.
    pub fn path(&self) -> &Path {
        match self {
            FileError::Outside { path, .. }
            | FileError::TooLarge { path, .. }
            | FileError::NotAFile { path }
            | FileError::Io { path, .. } => path,
        }
    }

    /// Whether the file (or a directory on its way) does not exist.
    pub fn is_not_found(&self) -> bool {
        matches!(self, FileError::Io { err, .. } if err.kind() == std::io::ErrorKind::NotFound)
    }
}

/// A path for a message: control characters escaped.
fn shown(path: &Path) -> String {
    path.display().to_string().escape_debug().to_string()
}

#[derive(Debug, thiserror::Error)]
pub enum LayoutError {
    #[error(
        "`{}` is not inside a repository with environments (no `environments/` in it or any parent); \
         run from the repository, pass `--root DIR` or set `XTASK_ROOT`, or start one here with `mkdir environments` and `init NAME`",
        .0.display()
    )]
    NotFound(PathBuf),
    #[error("`{}` (from {origin}) has no `environments/` directory", dir.display())]
    NotARoot { dir: PathBuf, origin: &'static str },
    #[error("cannot read the current directory: {0}")]
    Cwd(std::io::Error),
    #[error(
        "`{0}` is not an environment name; allowed: lowercase letters, digits, `-` and `_`, starting with a letter or digit"
    )]
    BadEnvName(String),
    #[error("cannot list `{}`: {err}", dir.display())]
    List { dir: PathBuf, err: std::io::Error },
    #[error("`{}` (in `{ALLOW_OUTSIDE_VAR}`) is not a directory this process can read: {err}", dir.display())]
    AllowOutside { dir: PathBuf, err: std::io::Error },
}

impl Layout {
    /// Finds the checkout: `explicit` (from `--root`), else `$XTASK_ROOT`, else the nearest
    /// ancestor of the current directory that has `environments/` (`templates/` is optional).
    /// Directories outside the checkout come from [`ALLOW_OUTSIDE_VAR`] only.
    pub fn discover(explicit: Option<&Path>) -> Result<Self, LayoutError> {
        let outside = std::env::var_os(ALLOW_OUTSIDE_VAR).unwrap_or_default();
        let outside: Vec<PathBuf> = std::env::split_paths(&outside)
            .filter(|d| !d.as_os_str().is_empty())
            .collect();
        Self::find(explicit)?.allowing_outside(&outside)
    }

    fn find(explicit: Option<&Path>) -> Result<Self, LayoutError> {
        let from_env = std::env::var_os("XTASK_ROOT")
            .filter(|v| !v.is_empty())
            .map(PathBuf::from);
        if let Some((dir, source)) = explicit
            .map(|p| (p.to_path_buf(), "--root"))
            .or(from_env.map(|p| (p, "XTASK_ROOT")))
        {
            return if Self::is_root(&dir) {
                Ok(Layout::at(dir))
            } else {
                Err(LayoutError::NotARoot {
                    dir,
                    origin: source,
                })
            };
        }
        let cwd = std::env::current_dir().map_err(LayoutError::Cwd)?;
        cwd.ancestors()
            .find(|dir| Self::is_root(dir))
            .map(Layout::at)
            .ok_or(LayoutError::NotFound(cwd))
    }

    /// A layout rooted at `root` (made absolute), without checking it.
    pub fn at(root: impl Into<PathBuf>) -> Self {
        let root = root.into();
        Layout {
            root: std::path::absolute(&root).unwrap_or(root),
            outside: Vec::new(),
        }
    }

    /// This layout, whose files may also resolve into `dirs` (each must exist).
    pub fn allowing_outside(mut self, dirs: &[PathBuf]) -> Result<Self, LayoutError> {
        for dir in dirs {
            let canonical =
                std::fs::canonicalize(dir).map_err(|err| LayoutError::AllowOutside {
                    dir: dir.clone(),
                    err,
                })?;
            self.outside.push(canonical);
        }
        Ok(self)
    }

    /// Where `path` (relative to the checkout, or absolute) resolves on disk, every symbolic
    /// link followed: inside the checkout or a directory allowed by [`ALLOW_OUTSIDE_VAR`], else
    /// refused. The one check every file the tool reads or writes for a checkout goes through,
    /// since every byte of a checkout, links included, may come from a pull request. A path that
    /// does not exist yet resolves through its deepest existing directory.
    pub fn resolve(&self, path: &Path) -> Result<PathBuf, FileError> {
        let io = |err| FileError::Io {
            path: path.to_owned(),
            err,
        };
        let root = std::fs::canonicalize(&self.root).map_err(io)?;
        let full = self.root.join(path);
        let mut missing = Vec::new();
        let mut existing = full.as_path();
        let resolved = loop {
            match std::fs::canonicalize(existing) {
                Ok(found) => break Some(found),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                    // A link to nothing: where it leads is for the writer to refuse, not a new file.
                    if std::fs::symlink_metadata(existing).is_ok() {
                        return Err(io(e));
                    }
                    match (existing.file_name(), existing.parent()) {
                        (Some(name), Some(parent)) => {
                            missing.push(name.to_owned());
                            existing = parent;
                        }
                        // `..` past a missing directory: nothing to resolve it against.
                        _ => break None,
                    }
                }
                Err(e) => return Err(io(e)),
            }
        };
        let resolved = match resolved {
            Some(mut found) => {
                found.extend(missing.iter().rev());
                found
            }
            None => full.clone(),
        };
        let normal = resolved
            .components()
            .all(|c| !matches!(c, Component::ParentDir | Component::CurDir));
        let allowed = normal
            && (resolved.starts_with(&root)
                || self.outside.iter().any(|d| resolved.starts_with(d)));
        if !allowed {
            return Err(FileError::Outside {
                path: path.to_owned(),
                resolved,
                root,
            });
        }
        Ok(resolved)
    }

    /// The text of `path` (see [`Self::resolve`]): a regular file of at most
    /// [`MAX_FILE_BYTES`], else refused before anything is read.
    pub fn read(&self, path: &Path) -> Result<String, FileError> {
        let resolved = self.resolve(path)?;
        read_capped(path, &resolved)
    }

    /// [`Self::read`], with `None` for a file that does not exist.
    pub fn read_if_exists(&self, path: &Path) -> Result<Option<String>, FileError> {
        match self.read(path) {
            Ok(text) => Ok(Some(text)),
            Err(e) if e.is_not_found() => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Writes `contents` to `path` (see [`Self::resolve`]) with [`crate::write_atomic`].
    pub fn write(&self, path: &Path, contents: &[u8]) -> Result<(), WriteError> {
        let resolved = self.resolve(path)?;
        crate::write_atomic(&resolved, contents).map_err(|err| WriteError::Io {
            path: path.to_owned(),
            err,
        })
    }

    /// Whether [`Self::write`] could write `path` now (see [`crate::check_writable`]).
    pub fn check_writable(&self, path: &Path) -> Result<(), WriteError> {
        let resolved = self.resolve(path)?;
        crate::check_writable(&resolved).map_err(|err| WriteError::Io {
            path: path.to_owned(),
            err,
        })
    }

    fn is_root(dir: &Path) -> bool {
        dir.join("environments").is_dir()
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    pub fn environments_dir(&self) -> PathBuf {
        self.root.join("environments")
    }

    pub fn templates_dir(&self) -> PathBuf {
        self.root.join("templates")
    }

    /// `environments/NAME.toml`, after checking that `name` is an environment name.
    pub fn env_file(&self, name: &str) -> Result<PathBuf, LayoutError> {
        if !valid_env_name(name) {
            return Err(LayoutError::BadEnvName(name.to_owned()));
        }
        Ok(self.environments_dir().join(format!("{name}.toml")))
    }

    /// `environments/NAME/`: the rendered files of one environment.
    pub fn rendered_dir(&self, name: &str) -> PathBuf {
        self.environments_dir().join(name)
    }

    /// `target/xtask/`: installed tools and sandbox state; never committed.
    pub fn cache_dir(&self) -> PathBuf {
        self.root.join("target").join("xtask")
    }

    /// `target/xtask/locks/NAME.lock`: held while a command changes the environment.
    pub fn lock_file(&self, name: &str) -> PathBuf {
        self.cache_dir().join("locks").join(format!("{name}.lock"))
    }

    /// Names of all environments (`environments/*.toml`), sorted.
    pub fn env_names(&self) -> Result<Vec<String>, LayoutError> {
        let dir = self.environments_dir();
        let entries = std::fs::read_dir(&dir).map_err(|err| LayoutError::List {
            dir: dir.clone(),
            err,
        })?;
        let mut names: Vec<String> = entries
            .filter_map(|e| e.ok())
            .filter_map(|e| {
                let path = e.path();
                let stem = path.file_stem()?.to_str()?.to_owned();
                (path.extension()? == "toml").then_some(stem)
            })
            .collect();
        names.sort();
        Ok(names)
    }
}

/// A file the tool cannot write for a checkout.
#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    #[error(transparent)]
    File(#[from] FileError),
    #[error("cannot write `{}`: {err}", shown(path))]
    Io { path: PathBuf, err: std::io::Error },
}

/// The text of `resolved` (named `path` in errors), refused when it is not a regular file or is
/// larger than [`MAX_FILE_BYTES`]; never reads more than that.
pub fn read_capped(path: &Path, resolved: &Path) -> Result<String, FileError> {
    let io = |err| FileError::Io {
        path: path.to_owned(),
        err,
    };
    let file = std::fs::File::open(resolved).map_err(io)?;
    let meta = file.metadata().map_err(io)?;
    if !meta.is_file() {
        return Err(FileError::NotAFile {
            path: path.to_owned(),
        });
    }
    if meta.len() > MAX_FILE_BYTES {
        return Err(FileError::TooLarge {
            path: path.to_owned(),
            size: meta.len(),
        });
    }
    let mut text = String::new();
    file.take(MAX_FILE_BYTES + 1)
        .read_to_string(&mut text)
        .map_err(io)?;
    if text.len() as u64 > MAX_FILE_BYTES {
        return Err(FileError::TooLarge {
            path: path.to_owned(),
            size: text.len() as u64,
        });
    }
    Ok(text)
}

/// Environment names: lowercase letters, digits, `-` and `_`, starting with a letter or digit.
pub fn valid_env_name(name: &str) -> bool {
    name.starts_with(|c: char| c.is_ascii_lowercase() || c.is_ascii_digit())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_')
        && name.len() <= 64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn env_names_are_checked() {
        assert!(valid_env_name("staging"));
        assert!(valid_env_name("eu-prod_2"));
        for bad in ["", "Staging", "../x", "a/b", "-x", "a.b"] {
            assert!(!valid_env_name(bad), "{bad}");
        }
        assert!(matches!(
            Layout::at("/r").env_file("../etc"),
            Err(LayoutError::BadEnvName(_))
        ));
    }

    /// Every path resolves inside the checkout, links included, or in an allowed directory.
    #[test]
    fn paths_resolve_inside_the_checkout_or_are_refused() {
        let parent = tempfile::tempdir().unwrap();
        let root = parent.path().join("repo");
        let outside = parent.path().join("outside");
        std::fs::create_dir_all(root.join("deploy")).unwrap();
        std::fs::create_dir_all(&outside).unwrap();
        std::fs::write(outside.join("kubeconfig"), "secret").unwrap();
        std::fs::write(root.join("deploy/values.yaml"), "a: 1").unwrap();
        std::os::unix::fs::symlink("../../outside/kubeconfig", root.join("deploy/link.yaml"))
            .unwrap();
        std::os::unix::fs::symlink("/proc/self/environ", root.join("env.toml")).unwrap();
        std::os::unix::fs::symlink("gone/x", root.join("dangling")).unwrap();
        let layout = Layout::at(&root);
        let canonical = std::fs::canonicalize(&root).unwrap();

        assert_eq!(
            layout.resolve(Path::new("deploy/values.yaml")).unwrap(),
            canonical.join("deploy/values.yaml")
        );
        assert_eq!(
            layout.read(Path::new("deploy/values.yaml")).unwrap(),
            "a: 1"
        );
        // A file not written yet resolves through its deepest existing directory.
        assert_eq!(
            layout
                .resolve(Path::new("environments/x/new.yaml"))
                .unwrap(),
            canonical.join("environments/x/new.yaml")
        );
        for out in [
            "../outside/kubeconfig",
            "deploy/link.yaml",
            "env.toml",
            "/etc/passwd",
            "missing/../../outside/kubeconfig",
        ] {
            let err = layout.read(Path::new(out)).unwrap_err();
            assert!(matches!(err, FileError::Outside { .. }), "{out}: {err}");
            assert!(err.to_string().contains("outside the checkout"), "{err}");
            assert!(!err.to_string().contains("secret"), "{err}");
        }
        assert!(
            layout
                .resolve(Path::new("dangling"))
                .unwrap_err()
                .is_not_found()
        );

        let allowed = layout
            .clone()
            .allowing_outside(std::slice::from_ref(&outside))
            .unwrap();
        assert_eq!(
            allowed.read(Path::new("deploy/link.yaml")).unwrap(),
            "secret"
        );
        assert!(allowed.read(Path::new("env.toml")).is_err());
    }

    #[test]
    fn files_larger_than_the_cap_are_refused_unread() {
        let dir = tempfile::tempdir().unwrap();
        let big = std::fs::File::create(dir.path().join("big.yaml")).unwrap();
        big.set_len(MAX_FILE_BYTES + 1).unwrap();
        std::fs::write(dir.path().join("ok.yaml"), "a: 1").unwrap();
        let layout = Layout::at(dir.path());
        let err = layout.read(Path::new("big.yaml")).unwrap_err();
        assert!(
            err.to_string()
                .starts_with("`big.yaml` is 4194305 bytes; allowed: at most 4194304 bytes"),
            "{err}"
        );
        std::fs::create_dir(dir.path().join("dir.yaml")).unwrap();
        assert!(matches!(
            layout.read(Path::new("dir.yaml")),
            Err(FileError::NotAFile { .. })
        ));
    }

    #[test]
    fn discovers_root_from_explicit_dir_and_lists_envs() {
        let dir = tempfile::tempdir().unwrap();
        assert!(matches!(
            Layout::discover(Some(dir.path())),
            Err(LayoutError::NotARoot { .. })
        ));
        // `environments/` alone makes a checkout: the templates are built in.
        std::fs::create_dir_all(dir.path().join("environments")).unwrap();
        std::fs::write(dir.path().join("environments/b.toml"), "").unwrap();
        std::fs::write(dir.path().join("environments/a.toml"), "").unwrap();
        std::fs::write(dir.path().join("environments/notes.md"), "").unwrap();
        let layout = Layout::discover(Some(dir.path())).unwrap();
        assert_eq!(layout.env_names().unwrap(), vec!["a", "b"]);
    }
}
