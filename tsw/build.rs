//! `XTASK_GIT_REVISION`: the short git revision of the checkout this is built from, for
//! `--version`; empty when there is no git or no checkout (a Nix build, a tarball). Set
//! `XTASK_GIT_REVISION` in the build's environment to give it explicitly.
//!
//! Cargo reruns this only when `HEAD`, the branch it points to, or `packed-refs` change (a
//! commit, a checkout), never for an edit of a source file: each path it watches must exist, as
//! a missing one would make cargo rerun the script on every build.

// Cargo's directives, not the tool's output: printed as they are.
#![allow(clippy::disallowed_macros)]

use std::path::{Path, PathBuf};
use std::process::Command;

fn main() {
    println!("cargo::rerun-if-env-changed=XTASK_GIT_REVISION");
    let revision = match std::env::var("XTASK_GIT_REVISION") {
        Ok(given) => given,
        Err(_) => {
            for path in watched().iter().filter(|p| p.exists()) {
                println!("cargo::rerun-if-changed={}", path.display());
            }
            git(&["rev-parse", "--short", "HEAD"]).unwrap_or_default()
        }
    };
    println!("cargo::rustc-env=XTASK_GIT_REVISION={revision}");
}

/// The files whose change moves `HEAD`: `HEAD` itself, the branch it names, `packed-refs`.
fn watched() -> Vec<PathBuf> {
    let Some(git_dir) = git(&["rev-parse", "--absolute-git-dir"]) else {
        return Vec::new();
    };
    let git_dir = Path::new(&git_dir);
    // A worktree's branches live in the main repository's directory (git 2.31+ for the flag).
    let common = git(&["rev-parse", "--path-format=absolute", "--git-common-dir"])
        .map_or_else(|| git_dir.to_owned(), PathBuf::from);
    let mut paths = vec![git_dir.join("HEAD"), common.join("packed-refs")];
    if let Some(branch) = git(&["symbolic-ref", "-q", "HEAD"]) {
        paths.push(common.join(branch));
    }
    paths
}

/// `git ARGS` in this crate's directory: its trimmed output, `None` when it fails.
fn git(args: &[&str]) -> Option<String> {
    let out = Command::new("git")
        .args(args)
        .current_dir(std::env::var_os("CARGO_MANIFEST_DIR")?)
        .output()
        .ok()?;
    let text = String::from_utf8(out.stdout).ok()?;
    (out.status.success() && !text.trim().is_empty()).then(|| text.trim().to_owned())
}
