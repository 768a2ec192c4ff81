//! Tests of the CI recipe users copy (`docs/ci/environments.yml`): it runs the commands the README
//! promises, every `cargo xtask` line parses with the real command line, a plan with changes
//! (exit 2) is a success, and AWS credentials come from OIDC web identity only.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::cli::Cli;
use clap::{CommandFactory, Parser};
use serde_yaml::Value;

fn recipe_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../docs/ci/environments.yml")
}

fn recipe() -> (String, Value) {
    let text = std::fs::read_to_string(recipe_path()).unwrap();
    let yaml = serde_yaml::from_str(&text).unwrap();
    (text, yaml)
}

/// `(job name, job)` for every job.
fn jobs(yaml: &Value) -> Vec<(String, &Value)> {
    yaml["jobs"]
        .as_mapping()
        .expect("jobs")
        .iter()
        .map(|(name, job)| (name.as_str().unwrap().to_owned(), job))
        .collect()
}

fn steps(job: &Value) -> &[Value] {
    job["steps"].as_sequence().expect("steps")
}

/// Each `cargo xtask ...` command of a step's script, as words, up to a redirection or the end
/// of its shell command.
fn xtask_commands(script: &str) -> Vec<Vec<String>> {
    script
        .lines()
        .filter_map(|line| line.find("cargo xtask ").map(|at| &line[at..]))
        .map(|command| {
            let end = command
                .find(['>', '|', ';', '&', ')'])
                .unwrap_or(command.len());
            let words: Vec<String> = command[..end]
                .split_whitespace()
                .map(str::to_owned)
                .collect();
            assert!(
                words.iter().all(|w| !w.contains(['"', '\'', '$'])),
                "quote or expand nothing, so that these words are what the shell passes: {command}"
            );
            words
        })
        .collect()
}

/// Every `cargo xtask` command of the job named `job`.
fn commands_of(yaml: &Value, job: &str) -> Vec<String> {
    let (_, job) = jobs(yaml).into_iter().find(|(n, _)| n == job).unwrap();
    steps(job)
        .iter()
        .filter_map(|s| s["run"].as_str())
        .flat_map(xtask_commands)
        .map(|words| words.join(" "))
        .collect()
}

#[test]
fn every_xtask_command_parses_with_the_real_cli() {
    let (_, yaml) = recipe();
    let cli = Cli::command();
    let mut checked = 0;
    for (name, job) in jobs(&yaml) {
        for script in steps(job).iter().filter_map(|s| s["run"].as_str()) {
            for words in xtask_commands(script) {
                let args = &words[2..];
                let subcommand = args.first().expect("a subcommand");
                assert!(
                    cli.find_subcommand(subcommand).is_some(),
                    "job `{name}` runs `{}`, which is no command of the CLI",
                    words.join(" ")
                );
                let parsed = Cli::try_parse_from(
                    ["cargo xtask"]
                        .iter()
                        .copied()
                        .chain(args.iter().map(String::as_str)),
                );
                if let Err(e) = parsed {
                    panic!("job `{name}`: `{}` does not parse: {e}", words.join(" "));
                }
                checked += 1;
            }
        }
    }
    assert_eq!(checked, 4, "validate, render --check, plan, deploy");
}

#[test]
fn pull_requests_review_and_merges_deploy() {
    let (_, yaml) = recipe();
    assert!(yaml["on"]["pull_request"].is_mapping());
    assert_eq!(yaml["on"]["push"]["branches"][0], "main");
    assert_eq!(
        commands_of(&yaml, "review"),
        [
            "cargo xtask validate",
            "cargo xtask render --check",
            "cargo xtask plan --all --output markdown --detailed-exitcode",
        ]
    );
    assert_eq!(
        commands_of(&yaml, "deploy"),
        ["cargo xtask deploy --all --yes"]
    );
    let (_, review) = jobs(&yaml)
        .into_iter()
        .find(|(n, _)| n == "review")
        .unwrap();
    let (_, deploy) = jobs(&yaml)
        .into_iter()
        .find(|(n, _)| n == "deploy")
        .unwrap();
    assert_eq!(review["if"], "github.event_name == 'pull_request'");
    assert_eq!(deploy["if"], "github.event_name == 'push'");
    assert!(
        steps(review)
            .iter()
            .filter_map(|s| s["run"].as_str())
            .any(|r| r.contains("gh pr comment")
                && r.contains("--edit-last")
                && r.contains("--body-file plan.md")),
        "the plan is posted as one comment, edited on every push"
    );
    assert_eq!(review["permissions"]["pull-requests"], "write");
}

/// Runs the plan step's script with `cargo` answering `code`, as GitHub's bash runs it.
fn plan_step_with(code: i32) -> Option<i32> {
    let (_, yaml) = recipe();
    let (_, review) = jobs(&yaml)
        .into_iter()
        .find(|(n, _)| n == "review")
        .unwrap();
    let script = steps(review)
        .iter()
        .filter_map(|s| s["run"].as_str())
        .find(|r| r.contains("cargo xtask plan"))
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let status = Command::new("bash")
        .args(["--noprofile", "--norc", "-eo", "pipefail", "-c"])
        .arg(format!(
            "cargo() {{ echo '# plan'; return {code}; }}\n{script}"
        ))
        .current_dir(dir.path())
        .status()
        .unwrap();
    assert!(dir.path().join("plan.md").exists());
    status.code()
}

#[test]
fn a_plan_with_changes_is_a_successful_step_and_an_error_fails_it() {
    assert_eq!(plan_step_with(0), Some(0), "no changes");
    assert_eq!(
        plan_step_with(2),
        Some(0),
        "changes: exit 2 is a successful plan"
    );
    assert_eq!(plan_step_with(1), Some(1), "an error fails the step");
}

#[test]
fn aws_credentials_come_from_oidc_only() {
    let (text, yaml) = recipe();
    for static_key in [
        "aws-access-key-id",
        "aws-secret-access-key",
        "aws-session-token",
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_SESSION_TOKEN",
    ] {
        assert!(
            !text.contains(static_key),
            "a static AWS key: `{static_key}`"
        );
    }
    let mut assumed = 0;
    for (name, job) in jobs(&yaml) {
        for step in steps(job) {
            let uses = step["uses"].as_str().unwrap_or_default();
            if uses.starts_with("aws-actions/configure-aws-credentials@") {
                assert!(
                    step["with"]["role-to-assume"].is_string(),
                    "job `{name}`: a role to assume"
                );
                assert_eq!(
                    job["permissions"]["id-token"], "write",
                    "job `{name}` needs the OIDC token"
                );
                assumed += 1;
            }
        }
    }
    assert_eq!(assumed, 2, "the plan and the deploy assume a role");
}

#[test]
fn actions_are_pinned_by_commit_and_only_environments_are_committed_back() {
    let (_, yaml) = recipe();
    for (name, job) in jobs(&yaml) {
        for uses in steps(job).iter().filter_map(|s| s["uses"].as_str()) {
            let (_, rev) = uses.split_once('@').unwrap();
            assert!(
                rev.len() == 40 && rev.chars().all(|c| c.is_ascii_hexdigit()),
                "job `{name}`: `{uses}` is not pinned by a full commit SHA"
            );
        }
    }
    let (_, deploy) = jobs(&yaml)
        .into_iter()
        .find(|(n, _)| n == "deploy")
        .unwrap();
    let scripts: Vec<&str> = steps(deploy)
        .iter()
        .filter_map(|s| s["run"].as_str())
        .collect();
    let adds: Vec<&str> = scripts
        .iter()
        .flat_map(|s| s.lines())
        .filter(|l| l.contains("git add") || l.contains("git commit -a"))
        .collect();
    assert_eq!(adds, ["git add -- environments/"]);
    assert!(scripts.iter().any(|s| s.contains("[skip ci]")));
    assert_eq!(deploy["permissions"]["contents"], "write");
}

/// The workflows of the repository at `root` that would run the recipe there: a copy of it, or
/// any workflow that deploys. None when the repository has no `.github/workflows`.
fn active_recipes(root: &Path) -> Vec<PathBuf> {
    let workflows = root.join(".github/workflows");
    let entries = match std::fs::read_dir(&workflows) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Vec::new(),
        Err(e) => panic!("{}: {e}", workflows.display()),
    };
    let (recipe, _) = recipe();
    let mut active: Vec<PathBuf> = entries
        .map(|entry| entry.unwrap().path())
        .filter(|path| {
            let text = std::fs::read_to_string(path).unwrap_or_default();
            text == recipe || text.contains("cargo xtask deploy")
        })
        .collect();
    active.sort();
    active
}

#[test]
fn the_recipe_is_not_an_active_workflow_of_this_repository() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    assert!(root.join("docs/ci/environments.yml").is_file(), "{root:?}");
    let active = active_recipes(&root);
    assert!(active.is_empty(), "{active:?}");
}

/// The deploy job's steps: the deploy and the commit of what it recorded.
fn deploy_and_commit_steps(yaml: &Value) -> (&Value, &Value) {
    let (_, deploy) = jobs(yaml).into_iter().find(|(n, _)| n == "deploy").unwrap();
    let find = |text: &str| {
        steps(deploy)
            .iter()
            .find(|s| s["run"].as_str().is_some_and(|r| r.contains(text)))
            .unwrap_or_else(|| panic!("a step that runs `{text}`"))
    };
    (find("cargo xtask deploy --all"), find("git push"))
}

/// `deploy --all` records the `[outputs]` of every environment it deployed even when another
/// one failed: the commit step runs after a failed deploy too (not only on success), and the
/// job still fails.
#[test]
fn the_outputs_are_committed_when_the_deploy_failed_and_the_job_still_fails() {
    let (_, yaml) = recipe();
    let (deploy, commit) = deploy_and_commit_steps(&yaml);
    let id = deploy["id"].as_str().expect("the deploy step has an id");
    let condition = commit["if"].as_str().unwrap_or_default();
    assert!(
        (condition.contains("always()") || condition.contains("!cancelled()"))
            && condition.contains(&format!("steps.{id}.outcome")),
        "the commit step runs whatever the deploy's outcome, once it ran: `{condition}`"
    );
    for step in [deploy, commit] {
        assert!(
            step.get("continue-on-error").is_none(),
            "a failed deploy fails the job: {step:?}"
        );
    }

    // The script, run as GitHub's bash runs it, after a deploy that recorded one environment
    // and failed another: it commits and pushes what was recorded.
    let script = commit["run"].as_str().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let git = |args: &[&str], cwd: &std::path::Path| {
        let out = Command::new("git")
            .args(args)
            .current_dir(cwd)
            .env("GIT_CONFIG_GLOBAL", "/dev/null")
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .output()
            .unwrap();
        assert!(out.status.success(), "git {args:?}: {out:?}");
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let remote = dir.path().join("remote.git");
    let work = dir.path().join("work");
    git(
        &[
            "init",
            "-q",
            "--bare",
            "-b",
            "main",
            remote.to_str().unwrap(),
        ],
        dir.path(),
    );
    git(
        &[
            "clone",
            "-q",
            remote.to_str().unwrap(),
            work.to_str().unwrap(),
        ],
        dir.path(),
    );
    std::fs::create_dir_all(work.join("environments")).unwrap();
    std::fs::write(work.join("environments/a.toml"), "[role]\n").unwrap();
    git(&["add", "."], &work);
    git(
        &[
            "-c",
            "user.name=t",
            "-c",
            "user.email=t@t",
            "commit",
            "-qm",
            "init",
        ],
        &work,
    );
    git(&["push", "-q", "origin", "HEAD:main"], &work);
    std::fs::write(
        work.join("environments/a.toml"),
        "[role]\n\n[outputs]\nstack_id = \"x\"\n",
    )
    .unwrap();
    let run = |script: &str| {
        Command::new("bash")
            .args(["--noprofile", "--norc", "-eo", "pipefail", "-c", script])
            .current_dir(&work)
            .env("GITHUB_REF_NAME", "main")
            .env("GIT_CONFIG_GLOBAL", "/dev/null")
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .status()
            .unwrap()
    };
    assert!(run(script).success());
    let pushed = git(&["log", "--format=%s", "main"], &remote);
    assert!(
        pushed.starts_with("environments: record deployed [outputs]"),
        "{pushed}"
    );
    // Nothing new: nothing committed, and the step succeeds.
    assert!(run(script).success());
    assert_eq!(git(&["log", "--format=%s", "main"], &remote), pushed);
}

#[test]
fn a_workflow_that_would_run_the_recipe_is_found() {
    let dir = tempfile::tempdir().unwrap();
    assert_eq!(active_recipes(dir.path()), Vec::<PathBuf>::new());
    let workflows = dir.path().join(".github/workflows");
    std::fs::create_dir_all(&workflows).unwrap();
    let (recipe, _) = recipe();
    std::fs::write(workflows.join("copy.yml"), &recipe).unwrap();
    std::fs::write(
        workflows.join("edited.yml"),
        recipe.replace("name: environments", "name: envs"),
    )
    .unwrap();
    std::fs::write(workflows.join("lint.yml"), "name: lint\n").unwrap();
    assert_eq!(
        active_recipes(dir.path()),
        [workflows.join("copy.yml"), workflows.join("edited.yml")]
    );
}
