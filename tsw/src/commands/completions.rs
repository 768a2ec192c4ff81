//! `completions SHELL`: the shell completion script of this program (`tsw`). The script asks
//! the program itself what to complete (clap_complete's dynamic completion, through the
//! variable [`VARIABLE`]), so that every command and flag of the installed version completes,
//! and each ENV argument completes to the environments of the checkout at hand
//! (`environments/*.toml`).

use std::ffi::OsStr;
use std::io::Write;
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap_complete::Shell;
use clap_complete::engine::{ArgValueCompleter, CompletionCandidate};
use clap_complete::env::Shells;
use env_descriptor::Layout;

/// The variable through which the completion script asks the program for completions: set to
/// the shell's name, the program prints the candidates for the command line after `--` and
/// exits. Not the generic `COMPLETE`, which another tool may have set.
pub const VARIABLE: &str = "TSW_COMPLETE";

/// Print the shell completion script for this program.
#[derive(Debug, clap::Args)]
#[command(after_help = "\
Completes the `tsw` command (or the name it was started as), as `nix profile install` or
`nix run` installs it: every command and flag of the version installed, and environment names
(environments/*.toml of the checkout found from the current directory, or XTASK_ROOT) wherever
an ENV is expected. The script runs the program to complete; it needs no checkout to be written.

Examples:
  cargo xtask completions bash > ~/.local/share/bash-completion/completions/tsw
  cargo xtask completions zsh > ~/.zfunc/_tsw
  cargo xtask completions fish > ~/.config/fish/completions/tsw.fish")]
pub struct Args {
    /// The shell to write the script for.
    shell: Shell,
}

impl Args {
    pub fn run(self) -> Result<ExitCode> {
        let program = crate::cli::program();
        let shell = self.shell.to_string();
        let shells = Shells::builtins();
        let completer = shells
            .completer(&shell)
            .with_context(|| format!("no completion script for `{shell}`"))?;
        let mut script = Vec::new();
        completer
            .write_registration(VARIABLE, program, program, program, &mut script)
            .context("writing the completion script")?;
        std::io::stdout()
            .write_all(&script)
            .context("writing the completion script")?;
        Ok(ExitCode::SUCCESS)
    }
}

/// Makes an ENV argument (`env`, `envs`, `--env`) complete to environment names.
pub fn complete_env_names(arg: clap::Arg) -> clap::Arg {
    match arg.get_id().as_str() {
        "env" | "envs" => arg.add(ArgValueCompleter::new(env_names)),
        _ => arg,
    }
}

/// The environments of the checkout found from the current directory (or `XTASK_ROOT`) whose
/// name starts with `current`. Only names of letters, digits, `_`, `-` and `.` are offered: a
/// file name is the pull request's, and the shell would put it on the command line.
fn env_names(current: &OsStr) -> Vec<CompletionCandidate> {
    let current = current.to_string_lossy();
    let Ok(layout) = Layout::discover(None) else {
        return Vec::new();
    };
    let Ok(entries) = std::fs::read_dir(layout.environments_dir()) else {
        return Vec::new();
    };
    let mut names: Vec<String> = entries
        .flatten()
        .filter_map(|e| {
            let name = e.file_name().into_string().ok()?;
            name.strip_suffix(".toml").map(str::to_owned)
        })
        .filter(|name| {
            !name.is_empty()
                && name.starts_with(current.as_ref())
                && name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "_-.".contains(c))
        })
        .collect();
    names.sort();
    names.into_iter().map(CompletionCandidate::new).collect()
}
