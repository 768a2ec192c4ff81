use std::process::ExitCode;

use anyhow::{Context, Result};
use aws::actions::{Scope, Use, policy};
use env_descriptor::{Environment, Layout, arn};

/// Print the IAM policy a role needs for a use of the tool, scoped to environments
#[derive(Debug, clap::Args)]
#[command(after_help = "\
The document allows exactly the AWS calls the tool makes for that use, scoped to what the
descriptors declare: each stack (arn:PARTITION:cloudformation:REGION:ACCOUNT:stack/NAME/*), the
change sets the tool creates (changeSet/tsw-*/*; for deploy, DeleteChangeSet also on
changeSet/xtask-*/*, the leftovers of older versions), the invocation role, the Lambda functions.
iam:PassRole appears only for `deploy.cloudformation_role_arn`, limited to CloudFormation;
without a service role, deploy and destroy also need the IAM actions CloudFormation calls as
you on the invocation role. sts:GetCallerIdentity needs no permission. See
docs/least-privilege.md.

Uses:
  plan             plan with a change set (created and deleted at once)
  plan-read-only   plan --read-only: reads only, no change set
  deploy           plan, execute the change set, restore a drifted role
  destroy          delete the stack
  doctor           run with the Temporal server's credentials: reads, and AssumeRole
  server           the Temporal server itself: sts:AssumeRole on the invocation roles, or on
                   the first hop of `temporal.intermediary_roles`
  hub              the last hop of `temporal.intermediary_roles` (a hub role): sts:AssumeRole
                   on the invocation roles (docs/hub-role.md)

Examples:
  cargo xtask policy staging production --for plan-read-only
  cargo xtask policy production --for deploy > deploy-policy.json")]
pub struct Args {
    /// Environments (default: all).
    envs: Vec<String>,
    /// The role's use.
    #[arg(long = "for", value_name = "USE", value_parser = clap::builder::PossibleValuesParser::new(Use::ALL.iter().map(|u| u.name())))]
    what: String,
}

impl Args {
    pub fn run(self, layout: &Layout) -> Result<ExitCode> {
        let what = Use::named(&self.what).context("clap checks the use's name")?;
        let names = crate::envs::named_or_all(layout, self.envs)?;
        if names.is_empty() {
            anyhow::bail!(
                "no environments in `{}`; `{} init NAME` writes one",
                layout.environments_dir().display(),
                crate::cli::name()
            );
        }
        let scopes = names
            .iter()
            .map(|name| scope(&crate::envs::load_env(layout, name)?))
            .collect::<Result<Vec<_>>>()?;
        if what == Use::Hub && scopes.iter().all(|s| s.intermediary_roles.is_empty()) {
            anyhow::bail!(
                "no environment among {} declares `temporal.intermediary_roles`, so there is no hub role: \
                 the server assumes the invocation roles itself (`--for server`)",
                names.join(", ")
            );
        }
        let text = serde_json::to_string_pretty(&policy(what, &scopes))?;
        safe_text::println!("{}", safe_text::json(&text));
        Ok(ExitCode::SUCCESS)
    }
}

/// What `env` declares that its policies are scoped to.
pub fn scope(env: &Environment) -> Result<Scope> {
    let region = env.aws.region.to_string();
    let partition = arn::partition_of_region(&region).with_context(|| {
        format!(
            "{}: `aws.region` `{region}` is in no partition this tool knows",
            env.file.display()
        )
    })?;
    let (account, _) = env.account().with_context(|| {
        format!(
            "{}: the environment's account is unknown, so its policies cannot name its stack: \
             set `aws.account_id` (12 digits)",
            env.file.display()
        )
    })?;
    let role_name =
        |account: &str| format!("arn:{partition}:iam::{account}:role/{}", env.role_name());
    let (stack_name, role_arns) = match env.stack_set() {
        // Each account's role where one is recorded; else the role the template names in the
        // accounts the descriptor names (an OU's accounts only AWS Organizations knows).
        Some(set) => {
            let recorded: Vec<String> = env
                .invocation_roles()
                .into_iter()
                .map(|r| r.role_arn)
                .collect();
            let named = set
                .accounts
                .iter()
                .chain(set.overrides.keys())
                .map(|a| role_name(a));
            let mut roles: Vec<String> = recorded.into_iter().chain(named).collect();
            roles.sort();
            roles.dedup();
            (None, roles)
        }
        None => {
            let stack_name = env.single_stack("policy")?.to_string();
            let role_arn = match env.outputs.as_ref().and_then(|o| o.role_arn.as_ref()) {
                Some(role_arn) => role_arn.to_string(),
                // The name the stack gives it: `role.name` alone with `role.naming = "fixed"`.
                None => role_name(&account),
            };
            (Some(stack_name), vec![role_arn])
        }
    };
    // What `doctor` reads with these credentials: every function but those it reads through
    // their account's role, and each worker deployment's configuration (step 5).
    let through_roles = env.functions_through_roles();
    let mut lambda_function_arns: Vec<String> = env
        .role
        .lambda_function_arns
        .iter()
        .map(|a| a.to_string())
        .chain(
            env.stack_set()
                .iter()
                .flat_map(|s| s.overrides.values())
                .flat_map(|o| o.lambda_function_arns.iter().flatten())
                .map(|a| a.to_string()),
        )
        .filter(|a| !through_roles.contains(a))
        .chain(
            env.worker_deployments
                .iter()
                .map(|w| w.lambda_function_arn.to_string()),
        )
        .collect();
    lambda_function_arns.sort();
    lambda_function_arns.dedup();
    Ok(Scope {
        partition: partition.to_owned(),
        region,
        account,
        stack_name,
        stack_set_name: env.stack_set().map(|s| s.name.to_string()),
        organizational_units: env.stack_set().is_some_and(|s| s.is_service_managed()),
        delegated_admin: env.stack_set().is_some_and(|s| s.is_delegated_admin()),
        role_arns,
        cloudformation_role_arn: env
            .deploy
            .cloudformation_role_arn
            .as_ref()
            .map(|a| a.to_string()),
        lambda_function_arns,
        intermediary_roles: env
            .temporal
            .intermediary_roles
            .iter()
            .map(|hop| hop.role_arn.to_string())
            .collect(),
    })
}
