use std::path::{Path, PathBuf};

/// Where things live in a checkout: `environments/`, `templates/` (optional: overrides of the
/// built-in templates) and the cache under `target/`. The checkout is any directory with
/// `environments/`: this repository, or a team's own infra repository.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Layout {
    root: PathBuf,
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
}

impl Layout {
    /// Finds the checkout: `explicit` (from `--root`), else `$XTASK_ROOT`, else the nearest
    /// ancestor of the current directory that has `environments/` (`templates/` is optional).
    pub fn discover(explicit: Option<&Path>) -> Result<Self, LayoutError> {
        let from_env = std::env::var_os("XTASK_ROOT")
            .filter(|v| !v.is_empty())
            .map(PathBuf::from);
        if let Some((dir, source)) = explicit
            .map(|p| (p.to_path_buf(), "--root"))
            .or(from_env.map(|p| (p, "XTASK_ROOT")))
        {
            return if Self::is_root(&dir) {
                Ok(Layout { root: dir })
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
            .map(|dir| Layout {
                root: dir.to_path_buf(),
            })
            .ok_or(LayoutError::NotFound(cwd))
    }

    /// A layout rooted at `root`, without checking it.
    pub fn at(root: impl Into<PathBuf>) -> Self {
        Layout { root: root.into() }
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
