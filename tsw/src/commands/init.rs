use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result};
use env_descriptor::Layout;
use minijinja::{AutoEscape, UndefinedBehavior, context};

/// Write a commented descriptor with a freshly generated external ID.
#[derive(Debug, clap::Args)]
#[command(after_help = "\
Values not given are example values to edit; the external ID is random.

Examples:
  cargo xtask init staging
  cargo xtask init fleet --stack-set --organizational-unit ou-abcd-12345678
  cargo xtask init staging --region eu-west-1 \\
      --server-role-arn arn:aws:iam::123456789012:role/temporal-server \\
      --lambda-function-arn arn:aws:lambda:eu-west-1:123456789012:function:worker-1 \\
      --namespace orders --namespace billing")]
pub struct Args {
    /// Name of the new environment (environments/ENV.toml).
    env: String,
    #[arg(long, default_value = "us-west-2")]
    region: String,
    /// The identity the Temporal server runs as.
    #[arg(long, default_value = "arn:aws:iam::123456789012:role/temporal-server")]
    server_role_arn: String,
    /// A function Temporal may invoke (repeatable).
    #[arg(long = "lambda-function-arn", value_name = "ARN")]
    lambda_function_arns: Vec<String>,
    /// Enable the Worker Controller for this namespace only (repeatable; default: globally).
    #[arg(long = "namespace", value_name = "NAME")]
    namespaces: Vec<String>,
    /// Stack name (default: temporal-serverless-worker-ENV).
    #[arg(long)]
    stack_name: Option<String>,
    /// An AWS emulator endpoint.
    #[arg(long)]
    endpoint_url: Option<String>,
    /// Deploy the role to many accounts through a CloudFormation StackSet owned by the account
    /// of --server-role-arn (docs/stacksets.md): writes `[stack_set]` instead of a stack name.
    #[arg(long, conflicts_with = "stack_name")]
    stack_set: bool,
    /// With --stack-set: an OU whose accounts get the role (repeatable; default: an example to
    /// edit).
    #[arg(
        long = "organizational-unit",
        value_name = "OU",
        requires = "stack_set"
    )]
    organizational_units: Vec<String>,
}

const TEMPLATE: &str = env_render::DESCRIPTOR_TEMPLATE;

impl Args {
    pub fn run(self, layout: &Layout) -> Result<ExitCode> {
        let tsw = crate::cli::name();
        let path = layout.env_file(&self.env)?;
        if path.exists() {
            anyhow::bail!(
                "`{}` already exists; edit it, or delete it to start over",
                path.display()
            );
        }
        let owner = env_descriptor::arn::Arn::parse(&self.server_role_arn)
            .map_or("123456789012", |a| a.account)
            .to_owned();
        let owner = owner.as_str();
        let functions = if self.lambda_function_arns.is_empty() {
            // A StackSet's functions live in the member accounts, each role covering every
            // published version (`:*`, the guide's advice).
            let (account, suffix) = if self.stack_set {
                ("111111111111", ":*")
            } else {
                (owner, "")
            };
            vec![format!(
                "arn:aws:lambda:{}:{account}:function:worker-1{suffix}",
                self.region
            )]
        } else {
            self.lambda_function_arns
        };
        let source = env_render::Source::find(layout, TEMPLATE)?.text;
        let mut jinja = minijinja::Environment::new();
        jinja.set_undefined_behavior(UndefinedBehavior::Strict);
        jinja.set_keep_trailing_newline(true);
        jinja.set_auto_escape_callback(|_| AutoEscape::Json);
        jinja.add_template(TEMPLATE, &source)?;
        let text = jinja.get_template(TEMPLATE)?.render(context! {
            region => self.region,
            endpoint_url => self.endpoint_url,
            server_role_arn => self.server_role_arn,
            namespaces => self.namespaces,
            stack_name => self.stack_name.unwrap_or_else(|| format!("temporal-serverless-worker-{}", self.env)),
            role_name => role_name(&self.env),
            external_id => external_id()?,
            lambda_function_arns => functions,
            schema_file => env_descriptor::SCHEMA_FILE,
            stack_set => self.stack_set.then(|| context! {
                name => format!("temporal-invocation-role-{}", self.env),
                account_id => owner,
                organizational_units => if self.organizational_units.is_empty() {
                    vec!["ou-abcd-12345678".to_owned()]
                } else {
                    self.organizational_units
                },
            }),
        })?;
        // Never write a descriptor that would not load.
        let loaded = env_descriptor::load_str(&path, &text)
            .map_err(|e| anyhow::anyhow!("{e}\nnothing was written"))?;
        for w in &loaded.warnings {
            safe_text::eprintln!("{w}");
        }
        let schema = write_schema_if_missing(layout)?;
        layout
            .write(&path, text.as_bytes())
            .with_context(|| format!("cannot write `{}`", path.display()))?;
        for written in schema.iter().chain([&path]) {
            safe_text::println!("wrote {}", crate::relative(layout, written));
        }
        let edit = if self.stack_set {
            "aws.account_id, server_role_arn, lambda_function_arns, stack_set.organizational_units"
        } else {
            "server_role_arn, lambda_function_arns"
        };
        safe_text::println!(
            "next: edit it ({edit}), then `{tsw} validate {0}` and `{tsw} deploy {0}`",
            self.env
        );
        Ok(ExitCode::SUCCESS)
    }
}

/// Writes the JSON Schema the descriptor's first line names, when the checkout has none, so
/// that editors check the new file as it is edited. An existing schema is the repository's to
/// keep current (this repository's own is checked by a test); it is never overwritten.
fn write_schema_if_missing(layout: &Layout) -> Result<Option<PathBuf>> {
    let path = layout.environments_dir().join(env_descriptor::SCHEMA_FILE);
    if path.exists() {
        return Ok(None);
    }
    layout
        .write(&path, env_descriptor::json_schema().as_bytes())
        .with_context(|| format!("cannot write `{}`", path.display()))?;
    Ok(Some(path))
}

/// The role's name in a new descriptor, named exactly so (`naming = "fixed"`): the template's
/// default with the environment's name, so that two environments of one account differ; cut
/// to IAM's 64 characters (an environment's name is ASCII).
fn role_name(env: &str) -> String {
    let mut name = format!("{}-{env}", env_descriptor::Role::DEFAULT_NAME);
    name.truncate(64);
    name
}

/// 32 random characters of [A-Za-z0-9]: within the template's rule (5 to 45 of [a-zA-Z0-9_+=,.@-]).
fn external_id() -> Result<String> {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    let mut id = String::with_capacity(32);
    while id.len() < 32 {
        let mut buf = [0u8; 64];
        getrandom::fill(&mut buf)
            .map_err(|e| anyhow::anyhow!("no randomness for the external ID: {e}"))?;
        // 248 = 4 * 62: rejecting larger bytes keeps every character equally likely.
        id.extend(
            buf.iter()
                .filter(|b| **b < 248)
                .map(|b| ALPHABET[(*b % 62) as usize] as char)
                .take(32 - id.len()),
        );
    }
    Ok(id)
}
