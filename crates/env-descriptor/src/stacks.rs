//! A check across descriptors: each stack (and each StackSet) belongs to one descriptor. Two
//! descriptors that deploy the same stack would overwrite each other's deploys, and each would
//! record the other's role in its `[outputs]`.

use std::path::Path;

use crate::model::Environment;
use crate::problem::{Problem, Severity, line_col};

/// Where a descriptor's stack lives; equal keys mean the same stack.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct StackKey<'a> {
    pub(crate) name: &'a str,
    /// A StackSet's name (`stack_set.name`) rather than a stack's.
    pub(crate) stack_set: bool,
    pub(crate) account: Option<String>,
    pub(crate) region: &'a str,
    /// Another endpoint (an emulator) is another set of stacks.
    pub(crate) endpoint: Option<&'a str>,
}

impl<'a> StackKey<'a> {
    /// The key of a single-stack environment; `None` for a StackSet's, whose instances'
    /// stacks CloudFormation names.
    pub(crate) fn of(env: &'a Environment) -> Option<Self> {
        Some(StackKey {
            name: env.single_stack("validate").ok()?,
            ..Self::of_any(env)?
        })
    }

    /// The key of the stack or the StackSet (in its owning account) `env` deploys.
    fn of_any(env: &'a Environment) -> Option<Self> {
        let (name, stack_set) = match env.stack_set() {
            Some(set) => (set.name.as_str(), true),
            None => (env.role.stack_name.as_deref()?, false),
        };
        Some(StackKey {
            name,
            stack_set,
            account: env.account().map(|(account, _)| account),
            region: &env.aws.region,
            endpoint: env.aws.endpoint_url.as_deref(),
        })
    }
}

/// An error for each descriptor of `checked` whose stack another descriptor of `all` deploys
/// too: the same `role.stack_name` in the same account ([`Environment::account`]: declared, or
/// implied by the record and the ARNs of the stack's side, never by the server's), region and
/// endpoint. Each names both files.
pub fn shared_stacks(checked: &[Environment], all: &[Environment]) -> Vec<Problem> {
    let mut problems = Vec::new();
    for env in checked {
        let Some(key) = StackKey::of_any(env) else {
            continue;
        };
        for other in all
            .iter()
            .filter(|o| o.file != env.file && StackKey::of_any(o).as_ref() == Some(&key))
        {
            problems.push(shared(env, other, &key));
        }
    }
    problems
}

fn shared(env: &Environment, other: &Environment, key: &StackKey) -> Problem {
    let account = key.account.as_deref().unwrap_or("?");
    let endpoint = key
        .endpoint
        .map(|e| format!(" at `{e}`"))
        .unwrap_or_default();
    let (what, field) = if key.stack_set {
        ("StackSet", ("stack_set", "name"))
    } else {
        ("stack", ("role", "stack_name"))
    };
    clash_at(env, other, field, |other_at| {
        format!(
            "{what} `{}` in account `{account}`, region `{}`{endpoint} is also deployed by {other_at}; \
             one {what}, one descriptor: change `{}.{}` in one of them \
             (or set `aws.account_id` in each, if they deploy to different accounts)",
            key.name, key.region, field.0, field.1
        )
    })
}

/// An error at `env`'s `role.stack_name` (its line quoted) about a clash with `other`; `message`
/// gets `other` as it names it: its file and the line of its `role.stack_name`.
pub(crate) fn clash(
    env: &Environment,
    other: &Environment,
    message: impl FnOnce(&str) -> String,
) -> Problem {
    clash_at(env, other, ("role", "stack_name"), message)
}

/// [`clash`] at the key `(table, field)` of each descriptor.
fn clash_at(
    env: &Environment,
    other: &Environment,
    (table, field): (&str, &str),
    message: impl FnOnce(&str) -> String,
) -> Problem {
    let other_at = match key_offset(&other.file, table, field) {
        Some((src, at)) => format!("`{}` (line {})", other.file.display(), line_col(&src, at).0),
        None => format!("`{}`", other.file.display()),
    };
    let (src, at) = key_offset(&env.file, table, field).unzip();
    Problem::at(
        Severity::Error,
        &env.file,
        src.as_deref().unwrap_or_default(),
        at,
        format!("{table}.{field}"),
        message(&other_at),
    )
}

/// The text of `path` and the byte offset of the value of `table.field` in it, read again from
/// the file: only needed for the rare message, so descriptors do not carry positions around.
fn key_offset(path: &Path, table: &str, field: &str) -> Option<(String, usize)> {
    let src = std::fs::read_to_string(path).ok()?;
    let doc = src.parse::<toml_edit::Document<String>>().ok()?;
    let start = doc.get(table)?.get(field)?.span()?.start;
    Some((src, start))
}

#[cfg(test)]
mod tests {
    use super::*;

    const ENV: &str = r#"[aws]
region = "us-west-2"

[temporal]
server_role_arn = "arn:aws:iam::123456789012:role/temporal-server"

[role]
stack_name = "temporal-serverless-worker-staging"
external_id = "abcdef-12345"
lambda_function_arns = ["arn:aws:lambda:us-west-2:123456789012:function:worker-1"]
"#;

    fn write(dir: &Path, name: &str, text: &str) -> Environment {
        let path = dir.join(format!("{name}.toml"));
        std::fs::write(&path, text).unwrap();
        crate::load(&crate::Layout::at(dir), &path).unwrap().env
    }

    #[test]
    fn the_same_stack_in_two_descriptors_is_an_error_in_each_naming_the_other() {
        let dir = tempfile::tempdir().unwrap();
        let a = write(dir.path(), "a", ENV);
        let b = write(dir.path(), "b", &ENV.replace("abcdef", "ghijkl"));
        let other_account = write(
            dir.path(),
            "c",
            &ENV.replace("[aws]\n", "[aws]\naccount_id = \"210987654321\"\n"),
        );
        let other_region = write(
            dir.path(),
            "d",
            &ENV.replace("region = \"us-west-2\"", "region = \"us-east-2\""),
        );
        let emulator = write(
            dir.path(),
            "e",
            &ENV.replace(
                "[aws]\n",
                "[aws]\nendpoint_url = \"http://127.0.0.1:5151\"\n",
            ),
        );
        let all = [a, b, other_account, other_region, emulator];
        let problems = shared_stacks(&all, &all);
        let found: Vec<String> = problems.iter().map(|p| p.to_string()).collect();
        assert_eq!(found.len(), 2, "{found:#?}");
        assert!(found[0].starts_with(&format!(
            "{}:8:14: error: `role.stack_name`: stack `temporal-serverless-worker-staging` in account `123456789012`, region `us-west-2` is also deployed by `{}` (line 8)",
            all[0].file.display(),
            all[1].file.display()
        )), "{found:#?}");
        assert!(found[1].contains(&format!("also deployed by `{}`", all[0].file.display())));
        assert!(shared_stacks(&all[2..], &all).is_empty());
    }

    /// Two descriptors of one StackSet (its name, in one owning account and region) would
    /// overwrite each other's parameters and instances: an error in each, at `stack_set.name`.
    #[test]
    fn the_same_stack_set_in_two_descriptors_is_an_error_in_each_naming_the_other() {
        let dir = tempfile::tempdir().unwrap();
        let set = ENV
            .replace("[aws]\n", "[aws]\naccount_id = \"123456789012\"\n")
            .replace("stack_name = \"temporal-serverless-worker-staging\"\n", "")
            + "\n[stack_set]\nname = \"roles\"\npermission_model = \"self-managed\"\naccounts = [\"111111111111\"]\nregions = [\"us-west-2\"]\n";
        let a = write(dir.path(), "a", &set);
        let b = write(dir.path(), "b", &set.replace("abcdef", "ghijkl"));
        let other = write(
            dir.path(),
            "c",
            &set.replace("name = \"roles\"", "name = \"others\""),
        );
        let single = write(dir.path(), "d", ENV);
        let all = [a, b, other, single];
        let found: Vec<String> = shared_stacks(&all, &all)
            .iter()
            .map(|p| p.to_string())
            .collect();
        assert_eq!(found.len(), 2, "{found:#?}");
        assert!(
            found[0].starts_with(&format!(
                "{}:13:8: error: `stack_set.name`: StackSet `roles` in account `123456789012`, region `us-west-2` is also deployed by `{}` (line 13)",
                all[0].file.display(),
                all[1].file.display()
            )),
            "{found:#?}"
        );
        assert!(shared_stacks(&all[2..], &all).is_empty());
    }

    /// A stack lives where its role and functions do, not where the Temporal server runs: one
    /// server (account 123456789012) serving two environments whose stacks are in two other
    /// accounts is no clash, and two servers whose environments put the same stack in one
    /// account are.
    #[test]
    fn a_stack_is_in_the_account_of_its_functions_not_of_the_server() {
        let dir = tempfile::tempdir().unwrap();
        let in_account = |name: &str, server: &str, functions: &str| {
            let text = ENV
                .replace(
                    "iam::123456789012:role/temporal-server",
                    &format!("iam::{server}:role/temporal-server"),
                )
                .replace(
                    "us-west-2:123456789012:function",
                    &format!("us-west-2:{functions}:function"),
                );
            write(dir.path(), name, &text)
        };
        let one_server = [
            in_account("p", "123456789012", "222222222222"),
            in_account("q", "123456789012", "333333333333"),
        ];
        let found = shared_stacks(&one_server, &one_server);
        assert!(found.is_empty(), "{found:#?}");
        let one_stack_account = [
            in_account("r", "123456789012", "444444444444"),
            in_account("s", "210987654321", "444444444444"),
        ];
        let found = shared_stacks(&one_stack_account, &one_stack_account);
        assert_eq!(found.len(), 2, "{found:#?}");
        assert!(
            found[0].message.contains("in account `444444444444`"),
            "{found:#?}"
        );
    }
}
