//! The light `cargo xtask` binary: parses the command line, runs the commands that need no AWS
//! SDK, and hands the others to `xtask-aws` (see `delegate.rs`). Both call `setup-flows`.

mod delegate;

use std::process::ExitCode;

use clap::Parser;
use env_descriptor::Layout;
use setup_flows::cli::{Cli, Command};

fn main() -> ExitCode {
    let cli = Cli::parse();
    let command = match cli.command {
        Command::Local(command) => command,
        Command::Aws(command) => {
            // Work that needs no SDK and can overlap the first build of `xtask-aws`.
            let root = cli.root.clone();
            return delegate::to_aws_binary(move || {
                if let Ok(layout) = Layout::discover(root.as_deref()) {
                    setup_flows::sandbox::start_ahead(&layout, &command.env_names(&layout));
                }
            });
        }
    };
    // `sandbox up` is the first step of the whole guide, and `deploy local` follows it: on a
    // first run, cargo compiles the AWS half meanwhile.
    let ahead = if command.starts_sandbox() {
        delegate::build_ahead()
    } else {
        None
    };
    let code = setup_flows::exit(command.run(cli.root.as_deref()));
    if let Some(build) = ahead {
        build.wait();
    }
    code
}
