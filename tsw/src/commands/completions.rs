//! `completions SHELL`: the shell completion script of this program (`tsw`).

use std::io::Write;
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap_complete::Shell;

/// Print the shell completion script for this program.
#[derive(Debug, clap::Args)]
#[command(after_help = "\
Completes the `tsw` command (or the name it was started as), as `nix profile install` or
`nix run` installs it, with every command and flag of this version. Needs no checkout.

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
        let mut command = crate::cli::command();
        // Into a buffer first: clap_complete panics when its writer fails (`| head`).
        let mut script = Vec::new();
        clap_complete::generate(self.shell, &mut command, crate::cli::program(), &mut script);
        std::io::stdout()
            .write_all(&script)
            .context("writing the completion script")?;
        Ok(ExitCode::SUCCESS)
    }
}
