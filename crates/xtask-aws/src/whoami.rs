use std::process::ExitCode;

use anyhow::Result;
use env_descriptor::{Layout, arn};
use setup_flows::aws_args::WhoamiArgs;

pub fn run(args: WhoamiArgs, layout: &Layout) -> Result<ExitCode> {
    let env = setup_flows::envs::load_env(layout, &args.env)?;
    let id = crate::aws::runtime()?.block_on(async {
        let clients = crate::aws::connect(layout, &env).await?;
        anyhow::Ok(clients.whoami().await?)
    })?;
    safe_text::println!("account:  {}", id.account);
    safe_text::println!("arn:      {}", id.arn);
    safe_text::println!("user id:  {}", id.user_id);
    let principal = arn::principal_of(&id.arn);
    match &principal {
        Some(p) if *p != id.arn => {
            safe_text::println!(
                "this is a role session; the role to name in `temporal.server_role_arn` is:\n  {p}"
            );
            safe_text::println!(
                "  (if the role has a path, e.g. role/service/NAME, include it: the session ARN drops it)"
            );
        }
        Some(_) => safe_text::println!("use as `temporal.server_role_arn`: {}", id.arn),
        None => safe_text::println!("this identity is not an IAM role or user ARN"),
    }
    if let Some(p) = principal {
        let note = if p == env.temporal.server_role_arn {
            "matches"
        } else {
            "differs from"
        };
        safe_text::println!(
            "{note} `temporal.server_role_arn` of {} ({})",
            env.name,
            env.temporal.server_role_arn
        );
    }
    Ok(ExitCode::SUCCESS)
}
