use std::process::ExitCode;

use anyhow::Result;
use env_descriptor::Layout;
use setup_flows::aws_args::StatusArgs;

pub fn run(args: StatusArgs, layout: &Layout) -> Result<ExitCode> {
    let env = setup_flows::envs::load_env(layout, &args.env)?;
    let stack = crate::aws::runtime()?.block_on(async {
        let clients = crate::aws::connect(layout, &env).await?;
        anyhow::Ok(clients.describe_stack(&env.role.stack_name).await?)
    })?;
    let file = setup_flows::relative(layout, &env.file);
    let Some(stack) = stack else {
        println!(
            "{}: stack `{}` does not exist",
            env.name, env.role.stack_name
        );
        return Ok(match env.outputs {
            Some(_) => {
                println!(
                    "but {file} records [outputs] for it: it was deleted outside this tool (or its emulator restarted); `cargo xtask destroy {} --yes` clears them",
                    env.name
                );
                ExitCode::FAILURE
            }
            None => ExitCode::SUCCESS,
        });
    };
    println!(
        "{}: stack `{}` is {}",
        env.name, env.role.stack_name, stack.status
    );
    if let Some(reason) = &stack.status_reason {
        println!("  reason: {reason}");
    }
    println!("  id: {}", stack.stack_id);
    if let Some(at) = &stack.updated_at {
        println!("  last change: {at}");
    }
    for (key, value) in &stack.outputs {
        println!("  {key:<20} {value}");
    }
    let Some(recorded) = &env.outputs else {
        println!(
            "{file} has no [outputs]: run `cargo xtask deploy {}` to record them",
            env.name
        );
        return Ok(ExitCode::FAILURE);
    };
    let drift = env_render::cfn::drift(recorded, &stack.outputs, &stack.stack_id);
    if drift.is_empty() {
        println!("recorded [outputs] in {file} match the stack");
        Ok(ExitCode::SUCCESS)
    } else {
        println!("recorded [outputs] in {file} do not match the stack:");
        for d in drift {
            println!("  {d}");
        }
        println!(
            "run `cargo xtask deploy {}` to record the current outputs",
            env.name
        );
        Ok(ExitCode::FAILURE)
    }
}
