use std::process::ExitCode;

use anyhow::Result;
use env_descriptor::Layout;
use preflight::{Inputs, Level};
use setup_flows::aws_args::{DoctorArgs, Output};

pub fn run(args: DoctorArgs, layout: &Layout) -> Result<ExitCode> {
    let env = setup_flows::envs::load_env(layout, &args.env)?;
    let emulator = env.aws.uses_emulator();
    if env.starts_sandbox() {
        // A check never repairs what it checks: services are started, functions left as they are.
        setup_flows::sandbox::ensure_services(layout, &env)?;
    }
    let dynamic_config = setup_flows::doctor::dynamic_config(layout, &env)?;
    let temporal = setup_flows::doctor::temporal_client(layout, &env);
    let worker_failures = setup_flows::doctor::worker_failures(layout, &env);
    let report = crate::connect::runtime()?.block_on(async {
        let clients = crate::connect::connect_for_doctor(layout, &env).await?;
        let inputs = Inputs {
            env: &env,
            clients: &clients,
            dynamic_config,
            emulator,
            temporal,
            worker_failures,
        };
        anyhow::Ok(preflight::run(&inputs).await)
    })?;
    match args.output {
        Output::Json => {
            let json = format!("{:#}", report.to_json(&env.name));
            safe_text::println!("{}", safe_text::json(&json))
        }
        Output::Text => {
            for c in &report.checks {
                let mark = match c.level {
                    Level::Pass => "pass",
                    Level::Warn => "WARN",
                    Level::Fail => "FAIL",
                };
                safe_text::println!("{mark}  step {}  {}: {}", c.step, c.name, c.detail);
                if let Some(fix) = &c.fix {
                    safe_text::println!("            fix: {fix}");
                }
            }
            let count = |l| report.checks.iter().filter(|c| c.level == l).count();
            safe_text::println!(
                "{}: {} passed, {} warnings, {} failed",
                env.name,
                count(Level::Pass),
                count(Level::Warn),
                count(Level::Fail)
            );
        }
    }
    Ok(if report.failed() {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}
