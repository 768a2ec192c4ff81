use std::process::ExitCode;

use anyhow::Result;
use cfn_deploy::{Deadline, Guard, Tracker};
use env_descriptor::{Layout, Outputs};
use setup_flows::aws_args::DestroyArgs;

use crate::ui::{self, Progress};

use crate::interrupt::{self, Signals, Stopped};
use crate::progress::StackProgress;

pub fn run(args: DestroyArgs, layout: &Layout) -> Result<ExitCode> {
    let (env, _lock) =
        setup_flows::claim::load_and_claim(layout, "destroy", &args.env, &args.limits.lock)?;
    let stack = &env.role.stack_name;
    if !args.yes {
        if !ui::interactive() {
            anyhow::bail!("refusing to delete stack `{stack}` without confirmation: pass --yes");
        }
        if !ui::ask_yes_no(
            None,
            &format!("delete stack `{stack}` of environment `{}`?", env.name),
        ) {
            safe_text::eprintln!("nothing was deleted");
            return Ok(ExitCode::FAILURE);
        }
    }
    let rt = crate::aws::runtime()?;
    let tracker = Tracker::default();
    let existed = rt.block_on(async {
        let mut signals = Signals::listen()?;
        let destroy = async {
            let clients = crate::aws::connect(layout, &env).await?;
            let mut progress = StackProgress(Progress::new(&env.name, false));
            let guard = Guard {
                deadline: Deadline::after(args.limits.timeout),
                tracker: &tracker,
            };
            let existed = clients
                .stacks
                .destroy(
                    stack,
                    env.deploy.cloudformation_role_arn.as_deref(),
                    guard,
                    &mut progress,
                )
                .await;
            progress.0.finish();
            anyhow::Ok(existed?)
        };
        anyhow::Ok(tokio::select! {
            existed = destroy => Ok(existed?),
            first = signals.next() => {
                let run = Stopped { env: &env, tracker: &tracker, resume: "destroy" };
                Err(interrupt::clean_up(layout, first, &mut signals, &[run]).await)
            }
        })
    })?;
    let existed = match existed {
        Ok(existed) => existed,
        Err(code) => return Ok(code),
    };
    if existed {
        safe_text::println!("{}: deleted stack `{stack}`", env.name);
    } else {
        safe_text::println!("{}: stack `{stack}` did not exist", env.name);
    }
    if Outputs::remove(&env.file)? {
        safe_text::println!(
            "removed [outputs] from {}",
            setup_flows::relative(layout, &env.file)
        );
    }
    Ok(ExitCode::SUCCESS)
}
