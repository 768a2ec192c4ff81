//! Handing AWS commands to `xtask-aws`, the binary that links the AWS SDK.
//!
//! The split keeps the SDK (most of the build time) out of the way of the commands that do not
//! need it: a fresh clone runs `cargo xtask validate` without compiling it. `xtask-aws` is found
//! as `XTASK_AWS_BIN`, else next to this executable (as installed by Nix). Under `cargo xtask`
//! (which sets `CARGO`, and `CARGO_MANIFEST_DIR` to this crate's directory), it is first built,
//! or found up to date, by `cargo build -p xtask-aws` in the same workspace and profile. An
//! installed binary started by another project's cargo sees that project's
//! `CARGO_MANIFEST_DIR`, and builds nothing.
//!
//! `sandbox up`, the whole guide's first step, starts that first build ahead ([`build_ahead`]),
//! so that the `deploy local` after it finds `xtask-aws` built.
//!
//! On Unix this process then becomes `xtask-aws` (exec): the pid the user started, and signals
//! with Ctrl-C or `kill`, is the deploy itself, which stops cleanly (`xtask-aws`'s
//! `interrupt.rs`). A child process would go on creating the stack after its parent was gone.

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

const BIN: &str = "xtask-aws";

/// What a first build of [`BIN`] says when it starts.
const COMPILING: &str = "compiling the AWS part of the tool (`xtask-aws`, once; about a minute)";

/// Hands the command line to `xtask-aws` (see the module's documentation); returns only when
/// that fails, or (not on Unix) with its exit code. `alongside` runs in a thread while cargo
/// builds `xtask-aws` for the first time (e.g. installing the sandbox's Python tools), and is
/// waited for before the hand-over; otherwise it is not run.
pub fn to_aws_binary(alongside: impl FnOnce() + Send + 'static) -> ExitCode {
    match locate(alongside).and_then(|bin| run(&bin)) {
        Ok(code) => code,
        Err(e) => {
            safe_text::eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn locate(alongside: impl FnOnce() + Send + 'static) -> anyhow::Result<PathBuf> {
    if let Some(bin) = named_binary() {
        return Ok(bin);
    }
    let exe = std::env::current_exe()?;
    let sibling = sibling_of(&exe);
    if let Some((cargo, manifest_dir)) = cargo_xtask() {
        // Only a first build takes long enough to be worth overlapping.
        let beside = (!sibling.exists()).then(|| std::thread::spawn(alongside));
        let built = build_with_cargo(Path::new(&cargo), Path::new(&manifest_dir), &exe, &sibling);
        if let Some(thread) = beside {
            let _ = thread.join();
        }
        built?;
    }
    anyhow::ensure!(
        sibling.exists(),
        "`{}` was not found next to `{}`; the AWS commands live in it: build it with `cargo build -p {BIN}`, or set XTASK_AWS_BIN",
        sibling.display(),
        exe.display()
    );
    Ok(sibling)
}

/// `XTASK_AWS_BIN`, when set.
fn named_binary() -> Option<PathBuf> {
    std::env::var_os("XTASK_AWS_BIN")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
}

/// Where `xtask-aws` lies next to this binary `exe`.
fn sibling_of(exe: &Path) -> PathBuf {
    exe.with_file_name(format!("{BIN}{}", std::env::consts::EXE_SUFFIX))
}

/// Cargo and this crate's directory, when `cargo xtask` started this binary
/// ([`under_cargo_xtask`]).
fn cargo_xtask() -> Option<(std::ffi::OsString, std::ffi::OsString)> {
    Some((std::env::var_os("CARGO")?, under_cargo_xtask()?))
}

/// This crate's directory when `cargo xtask` (or `cargo run -p xtask`, or a test of this
/// workspace) started this binary: cargo's `CARGO_MANIFEST_DIR` names the directory this binary
/// was built from. A binary installed elsewhere (Nix, `cargo install`) was built from another
/// copy of the sources, so nothing matches and nothing is built.
fn under_cargo_xtask() -> Option<std::ffi::OsString> {
    std::env::var_os("CARGO_MANIFEST_DIR")
        .filter(|dir| Path::new(dir) == Path::new(env!("CARGO_MANIFEST_DIR")))
}

fn build_with_cargo(
    cargo: &Path,
    manifest_dir: &Path,
    exe: &Path,
    sibling: &Path,
) -> anyhow::Result<()> {
    if !sibling.exists() {
        safe_text::eprintln!("{COMPILING}...");
    }
    let status = cargo_build(cargo, manifest_dir, exe).status()?;
    anyhow::ensure!(status.success(), "`cargo build -p {BIN}` failed");
    Ok(())
}

/// A first build of `xtask-aws` running beside another command ([`build_ahead`]).
#[derive(Debug)]
pub struct Ahead(std::process::Child);

/// Under `cargo xtask`, when `xtask-aws` was never built: starts building it, for the AWS
/// command that usually comes next, and returns at once. The build is a child of this process
/// (a Ctrl-C ends both); [`Ahead::wait`] waits for it.
pub fn build_ahead() -> Option<Ahead> {
    let (cargo, manifest_dir) = cargo_xtask()?;
    let exe = std::env::current_exe().ok()?;
    if sibling_of(&exe).exists() || named_binary().is_some() {
        return None;
    }
    safe_text::eprintln!("{COMPILING} meanwhile, for `deploy`...");
    cargo_build(Path::new(&cargo), Path::new(&manifest_dir), &exe)
        .spawn()
        .ok()
        .map(Ahead)
}

impl Ahead {
    /// Waits for the build; a failure is only noted, since the next AWS command builds again
    /// and reports it.
    pub fn wait(mut self) {
        if matches!(self.0.try_wait(), Ok(None)) {
            safe_text::eprintln!(
                "waiting for cargo to finish compiling `{BIN}` (Ctrl-C stops it; the next AWS command goes on from there)..."
            );
        }
        match self.0.wait() {
            Ok(status) if status.success() => {}
            _ => safe_text::eprintln!(
                "note: compiling `{BIN}` did not succeed; the next AWS command (`deploy`, ...) builds it again and says why"
            ),
        }
    }
}

/// `cargo build -p xtask-aws` in the workspace and profile this binary was built in.
fn cargo_build(cargo: &Path, manifest_dir: &Path, exe: &Path) -> Command {
    let mut cmd = Command::new(cargo);
    cmd.args([
        "build",
        "--quiet",
        "--package",
        BIN,
        "--bin",
        BIN,
        "--manifest-path",
    ])
    .arg(manifest_dir.join("Cargo.toml"));
    // Same profile as this binary: target/<profile>/xtask.
    let profile = exe
        .parent()
        .and_then(Path::file_name)
        .and_then(|p| p.to_str())
        .unwrap_or("debug");
    if profile == "release" {
        cmd.arg("--release");
    } else if profile != "debug" {
        cmd.args(["--profile", profile]);
    }
    if let Some(target_dir) = exe.parent().and_then(Path::parent) {
        cmd.arg("--target-dir").arg(target_dir);
    }
    cmd
}

/// Becomes `bin`, with this process's arguments; returns only when that fails.
#[cfg(unix)]
fn run(bin: &Path) -> anyhow::Result<ExitCode> {
    use std::os::unix::process::CommandExt;
    let err = Command::new(bin).args(std::env::args_os().skip(1)).exec();
    anyhow::bail!("cannot run `{}`: {err}", bin.display())
}

/// Runs `bin` with this process's arguments and returns its exit code. (Ctrl-C reaches both
/// processes of the console.)
#[cfg(not(unix))]
fn run(bin: &Path) -> anyhow::Result<ExitCode> {
    let status = Command::new(bin)
        .args(std::env::args_os().skip(1))
        .status()
        .map_err(|e| anyhow::anyhow!("cannot run `{}`: {e}", bin.display()))?;
    Ok(match status.code() {
        Some(0) => ExitCode::SUCCESS,
        Some(code) => ExitCode::from(u8::try_from(code).unwrap_or(1)),
        None => ExitCode::FAILURE,
    })
}
