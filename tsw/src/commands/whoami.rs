use anyhow::Result;
use env_descriptor::{Layout, arn};
use std::process::ExitCode;

/// Show the AWS identity of an environment, and the ARN to use as `server_role_arn`.
#[derive(Debug, clap::Args)]
#[command(after_help = "\
Run it with the Temporal server's credentials to find `temporal.server_role_arn`: for an
assumed-role session (arn:aws:sts::ACCOUNT:assumed-role/NAME/SESSION) it prints the IAM role
ARN, which is what a trust policy must name.

Examples:
  cargo xtask whoami staging
  AWS_PROFILE=temporal-server cargo xtask whoami staging
  cargo xtask whoami staging --output json")]
pub struct WhoamiArgs {
    /// The environment (environments/ENV.toml).
    pub env: String,
    #[command(flatten)]
    pub output: crate::output::OutputArgs,
}

pub fn run(args: WhoamiArgs, layout: &Layout) -> Result<ExitCode> {
    let out = args.output;
    let env = crate::envs::load_env(layout, &args.env)?;
    let (id, refusal, role, credentials) = crate::connect::runtime()?.block_on(async {
        let clients = crate::connect::connect_unchecked(layout, &env).await?;
        let id = clients.whoami().await?;
        let refusal = crate::connect::wrong_account(layout, &env, &clients, &id);
        // A session's ARN names its role without the role's path: ask IAM for the role.
        let role = match session_role(&id.arn) {
            Some(name) => Some((name.clone(), clients.role_arn(&name).await)),
            None => None,
        };
        anyhow::Ok((id, refusal, role, clients.credentials.to_string()))
    })?;
    out.line(format_args!("credentials: {credentials}"));
    out.line(format_args!("account:  {}", id.account));
    out.line(format_args!("arn:      {}", id.arn));
    out.line(format_args!("user id:  {}", id.user_id));
    let mut role_error = None;
    let principal = match role {
        Some((_, Ok(role_arn))) => {
            out.line(format_args!(
                "this is a role session; the role to name in `temporal.server_role_arn` is (from IAM, with its path):\n  {role_arn}"
            ));
            Some(role_arn)
        }
        Some((name, Err(e))) => {
            let error = aws::message_chain(&e);
            out.line(format_args!(
                "this is a role session of role `{name}`, but cannot read role `{name}` from IAM \
                 (iam:GetRole: {error}), so its path is unknown: a role may live under a path (IAM \
                 Identity Center's under `aws-reserved/sso.amazonaws.com/`), which the session's \
                 ARN leaves out; `aws iam get-role --role-name {name}` with credentials that may \
                 read it prints its ARN"
            ));
            role_error = Some(error);
            None
        }
        None => match arn::principal_of(&id.arn) {
            Some(p) => {
                out.line(format_args!("use as `temporal.server_role_arn`: {p}"));
                Some(p)
            }
            None => {
                out.line("this identity is not an IAM role or user ARN");
                None
            }
        },
    };
    let matches = principal
        .as_ref()
        .map(|p| p.as_str() == env.temporal.server_role_arn.as_str());
    if let Some(matches) = matches {
        let note = if matches { "matches" } else { "differs from" };
        out.line(format_args!(
            "{note} `temporal.server_role_arn` of {} ({})",
            env.name, env.temporal.server_role_arn
        ));
    }
    // Not an error: `whoami` is also run with the Temporal server's credentials, which may be
    // of another account; the commands that act for the environment refuse them.
    if let Some(refusal) = &refusal {
        out.line(format_args!(
            "note: every command but `whoami` and `doctor` refuses these credentials: {refusal}"
        ));
    }
    out.document(
        "whoami",
        serde_json::json!({
            "environment": env.name,
            "credentials": credentials,
            "account": id.account,
            "arn": id.arn,
            "user_id": id.user_id,
            "principal": principal,
            "principal_error": role_error,
            "matches_server_role_arn": matches,
            "refused": refusal,
        }),
    );
    Ok(ExitCode::SUCCESS)
}

/// The role name of an assumed-role session ARN
/// (`arn:PARTITION:sts::ACCOUNT:assumed-role/NAME/SESSION`).
fn session_role(caller: &str) -> Option<String> {
    let arn = arn::Arn::parse(caller)?;
    let mut parts = arn.resource.split('/');
    (arn.service == "sts" && parts.next() == Some("assumed-role"))
        .then(|| parts.next().map(str::to_owned))
        .flatten()
}
