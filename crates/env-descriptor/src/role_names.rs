//! A check across descriptors: each IAM role name once per account. IAM names are global to an
//! account, so two stacks of the same role name in two regions pass every per-region check and
//! the second deploy collides on the role and rolls back.

use crate::model::Environment;
use crate::problem::Problem;
use crate::stacks::StackKey;

/// The role a descriptor's stack creates, and where: equal names at the same endpoint clash
/// when the accounts are equal or either is unknown.
struct RoleKey<'a> {
    /// The role's IAM name, as the environment's template names it ([`Environment::role_name`]).
    name: String,
    stack: StackKey<'a>,
}

impl<'a> RoleKey<'a> {
    /// `None` for a StackSet environment, whose accounts only AWS Organizations may know.
    fn of(env: &'a Environment) -> Option<Self> {
        Some(RoleKey {
            name: env.role_name(),
            stack: StackKey::of(env)?,
        })
    }

    /// Whether both name the same role in what may be the same account; one stack is
    /// [`crate::shared_stacks`]'s to report.
    fn clashes(&self, other: &RoleKey) -> bool {
        self.name == other.name
            && self.stack.endpoint == other.stack.endpoint
            && self.stack != other.stack
            && match (&self.stack.account, &other.stack.account) {
                (Some(a), Some(b)) => a == b,
                _ => true,
            }
    }
}

/// An error for each descriptor of `checked` whose IAM role another descriptor of `all` would
/// create too: the same role name (`role.name` and `role.stack_name`) in the same account
/// ([`Environment::account`]; an unknown account may be the same one), in any region. Each
/// names both files.
pub fn shared_role_names(checked: &[Environment], all: &[Environment]) -> Vec<Problem> {
    let mut problems = Vec::new();
    for env in checked {
        let Some(key) = RoleKey::of(env) else {
            continue;
        };
        for other in all.iter().filter(|o| o.file != env.file) {
            let Some(other_key) = RoleKey::of(other) else {
                continue;
            };
            if key.clashes(&other_key) {
                problems.push(shared(env, other, &key, &other_key));
            }
        }
    }
    problems
}

fn shared(env: &Environment, other: &Environment, key: &RoleKey, other_key: &RoleKey) -> Problem {
    let account = match (&key.stack.account, &other_key.stack.account) {
        (Some(a), Some(_)) => format!("account `{a}`"),
        _ => "what may be the same account (set `aws.account_id` in both to tell)".to_owned(),
    };
    crate::stacks::clash(env, other, |other_at| {
        format!(
            "IAM role `{}` (region `{}`) is also created by {other_at} (region `{}`) in {account}; \
             IAM role names are global to an account, so the second deploy would fail on it and \
             roll back: change `role.name` (or, with `role.naming = \"per-stack\"`, `role.stack_name`) in one of them",
            key.name, key.stack.region, other_key.stack.region
        )
    })
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;

    fn env(dir: &Path, name: &str, region: &str, account: &str, extra_aws: &str) -> Environment {
        let text = format!(
            "[aws]\nregion = \"{region}\"\n{extra_aws}\n[temporal]\nserver_role_arn = \"arn:aws:iam::{account}:role/t\"\n\
             [role]\nstack_name = \"s\"\nexternal_id = \"abcdef-12345\"\n\
             lambda_function_arns = [\"arn:aws:lambda:{region}:{account}:function:w\"]\n"
        );
        let path = dir.join(format!("{name}.toml"));
        std::fs::write(&path, &text).unwrap();
        crate::load_str(&path, &text).unwrap().env
    }

    #[test]
    fn one_role_name_in_one_account_is_refused_in_any_region() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        let all = [
            env(d, "a", "us-east-1", "111111111111", ""),
            env(d, "b", "us-west-2", "111111111111", ""),
            env(d, "c", "us-west-2", "222222222222", ""),
            env(
                d,
                "d",
                "eu-west-1",
                "111111111111",
                "endpoint_url = \"http://127.0.0.1:1\"\n",
            ),
        ];
        let found: Vec<String> = shared_role_names(&all, &all)
            .iter()
            .map(|p| p.to_string())
            .collect();
        assert_eq!(found.len(), 2, "{found:#?}");
        assert!(
            found[0].contains(
                "IAM role `Temporal-Serverless-Worker-s` (region `us-east-1`) is also created by"
            ),
            "{found:#?}"
        );
        assert!(
            found[0].contains("b.toml` (line 7) (region `us-west-2`) in account `111111111111`"),
            "{found:#?}"
        );
        // Named exactly `role.name`, two stacks of one role name clash whatever their names.
        let fixed = |name: &str, stack: &str| {
            let text = format!(
                "[aws]\nregion = \"us-east-1\"\n[temporal]\nserver_role_arn = \"arn:aws:iam::111111111111:role/t\"\n\
                 [role]\nstack_name = \"{stack}\"\nname = \"worker-role\"\nnaming = \"fixed\"\nexternal_id = \"abcdef-12345\"\n\
                 lambda_function_arns = [\"arn:aws:lambda:us-east-1:111111111111:function:w\"]\n"
            );
            let path = d.join(format!("{name}.toml"));
            std::fs::write(&path, &text).unwrap();
            crate::load_str(&path, &text).unwrap().env
        };
        let two = [fixed("f1", "stack-one"), fixed("f2", "stack-two")];
        let found: Vec<String> = shared_role_names(&two, &two)
            .iter()
            .map(|p| p.to_string())
            .collect();
        assert_eq!(found.len(), 2, "{found:#?}");
        assert!(
            found[0].contains("IAM role `worker-role` (region `us-east-1`)"),
            "{found:#?}"
        );
        // The same stack in the same region is the shared-stack check's, not reported twice.
        let same = [all[0].clone(), env(d, "e", "us-east-1", "111111111111", "")];
        assert!(shared_role_names(&same, &same).is_empty());
    }
}
