use std::process::ExitCode;

use anyhow::Result;
use env_descriptor::Layout;
use env_render::{DYNAMIC_CONFIG_FILE, Templates};
use preflight::{Inputs, Level};
use xtask::cmd::aws::{DoctorArgs, Output};

pub fn run(args: DoctorArgs, layout: &Layout) -> Result<ExitCode> {
    let env = xtask::cmd::load_env(layout, &args.env)?;
    let emulator = env.aws.uses_emulator();
    if env.starts_sandbox() {
        xtask::cmd::sandbox::ensure_all(layout, &env)?;
    }
    // The file the server reads: the configured one, or the rendered one.
    let (source, path) = match &env.temporal.dynamic_config_file {
        Some(f) => (f.clone(), layout.root().join(f)),
        None => {
            let path = layout.rendered_dir(&env.name).join(DYNAMIC_CONFIG_FILE);
            (xtask::cmd::render::relative(layout, &path), path)
        }
    };
    let text = if env.temporal.dynamic_config_file.is_none() && !path.exists() {
        Templates::load(&layout.templates_dir())?
            .render(&env)
            .map(|r| r.dynamic_config)
            .map_err(|e| e.to_string())
    } else {
        std::fs::read_to_string(&path).map_err(|e| e.to_string())
    };
    let temporal = xtask::cmd::register::client(layout, &env).map_err(|e| format!("{e:#}"));
    let report = crate::aws::runtime()?.block_on(async {
        let clients = crate::aws::connect(layout, &env).await?;
        let inputs = Inputs {
            env: &env,
            clients: &clients,
            dynamic_config: (source, text),
            emulator,
            temporal,
        };
        anyhow::Ok(preflight::run(&inputs).await)
    })?;
    match args.output {
        Output::Json => println!("{:#}", report.to_json(&env.name)),
        Output::Text => {
            for c in &report.checks {
                let mark = match c.level {
                    Level::Pass => "pass",
                    Level::Warn => "WARN",
                    Level::Fail => "FAIL",
                };
                println!("{mark}  step {}  {}: {}", c.step, c.name, c.detail);
                if let Some(fix) = &c.fix {
                    println!("            fix: {fix}");
                }
            }
            let count = |l| report.checks.iter().filter(|c| c.level == l).count();
            println!(
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
