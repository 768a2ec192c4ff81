//! Tests of the CI recipe users copy into their infrastructure repository
//! (`docs/ci/environments.yml`, explained in `docs/ci.md`).
//!
//! Each check is a function of the recipe's text that returns what is wrong with it, so that
//! [`every_check_fails_on_a_recipe_broken_for_it`] can prove that each one can fail: it breaks
//! the recipe once per check and expects that check to say so.
//!
//! The scripts are run as GitHub's bash runs them (`bash -e -o pipefail`), with the values
//! GitHub would put in their `env:`; `tsw` is a shell function that records the words it was
//! given (after quoting and expansion, exactly what the real program would get), and every
//! recorded command line is parsed with the real command line ([`Cli`]) and, where it needs no
//! AWS or Temporal (`validate`, `render`), run for real in a scratch infrastructure repository:
//! a temporary directory with only `environments/`, made by `tsw init` and `tsw render`.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;

use clap::Parser;
use serde_yaml::Value;

use crate::cli::Cli;

fn recipe_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../docs/ci/environments.yml")
}

/// The recipe: its text and its YAML.
struct Recipe {
    text: String,
    yaml: Value,
}

impl Recipe {
    fn parse(text: &str) -> Result<Recipe, String> {
        let yaml = serde_yaml::from_str(text).map_err(|e| format!("not YAML: {e}"))?;
        Ok(Recipe {
            text: text.to_owned(),
            yaml,
        })
    }

    fn read() -> Recipe {
        let text = std::fs::read_to_string(recipe_path()).expect("the recipe");
        Recipe::parse(&text).expect("the recipe parses")
    }

    fn jobs(&self) -> Vec<(String, &Value)> {
        self.yaml["jobs"]
            .as_mapping()
            .map(|jobs| {
                jobs.iter()
                    .map(|(name, job)| (name.as_str().unwrap_or_default().to_owned(), job))
                    .collect()
            })
            .unwrap_or_default()
    }

    fn job(&self, name: &str) -> Result<&Value, String> {
        self.jobs()
            .into_iter()
            .find(|(n, _)| n == name)
            .map(|(_, job)| job)
            .ok_or_else(|| format!("no job `{name}`"))
    }

    /// The jobs named `deploy-STAGE`, in the order the recipe lists them.
    fn deploy_jobs(&self) -> Vec<(String, &Value)> {
        self.jobs()
            .into_iter()
            .filter(|(name, _)| name.starts_with("deploy-"))
            .collect()
    }

    /// The plan job's stage table: one map of `matrix.KEY` values per row.
    fn stages(&self) -> Vec<BTreeMap<String, String>> {
        let rows = self.job("plan").ok().and_then(|job| {
            job["strategy"]["matrix"]["include"]
                .as_sequence()
                .map(|rows| rows.to_vec())
        });
        rows.unwrap_or_default()
            .iter()
            .map(|row| {
                row.as_mapping()
                    .into_iter()
                    .flatten()
                    .map(|(k, v)| {
                        (
                            format!("matrix.{}", k.as_str().unwrap_or_default()),
                            v.as_str().unwrap_or_default().to_owned(),
                        )
                    })
                    .collect()
            })
            .collect()
    }
}

fn steps(job: &Value) -> &[Value] {
    job["steps"].as_sequence().map_or(&[], Vec::as_slice)
}

fn run_of(step: &Value) -> &str {
    step["run"].as_str().unwrap_or_default()
}

/// The step of `job` whose script contains `text`.
fn step_running<'a>(job: &'a Value, text: &str) -> Result<&'a Value, String> {
    steps(job)
        .iter()
        .find(|s| run_of(s).contains(text))
        .ok_or_else(|| format!("no step runs `{text}`"))
}

/// The lines (1-based) of `script` on which `tsw` is a command (not an argument, as in
/// `cargo install ... tsw`).
fn tsw_lines(script: &str) -> BTreeSet<usize> {
    const BEFORE: [&str; 9] = [";", "&&", "||", "|", "!", "then", "do", "else", "$("];
    script
        .lines()
        .enumerate()
        .filter(|(_, line)| {
            let words: Vec<&str> = line.split_whitespace().collect();
            words.iter().enumerate().any(|(i, w)| {
                (*w == "tsw" && (i == 0 || BEFORE.contains(&words[i - 1])))
                    || *w == "$(tsw"
                    || *w == "\"$(tsw"
            })
        })
        .map(|(i, _)| i + 1)
        .collect()
}

/// What GitHub would substitute for each `${{ ... }}` the recipe uses in an `env:` value: a
/// pull request from the repository itself, two stages. An expression missing here is an error
/// (add it, with what GitHub gives).
fn github_values() -> BTreeMap<String, String> {
    [
        (
            "github.event.pull_request.head.repo.full_name != github.repository",
            "false",
        ),
        (
            "github.event.pull_request.head.sha",
            "0123456789abcdef0123456789abcdef01234567",
        ),
        ("github.event.pull_request.number", "7"),
        ("github.repository", "org/infra"),
        ("github.server_url", "https://github.com"),
        ("github.run_id", "99"),
        ("github.token", "ghs_test"),
        ("secrets.TEMPORAL_API_KEY", ""),
        ("strategy.job-total", "2"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect()
}

/// `value` with each `${{ expr }}` replaced by `values[expr]`.
fn expand(value: &str, values: &BTreeMap<String, String>) -> Result<String, String> {
    let mut out = String::new();
    let mut rest = value;
    while let Some(start) = rest.find("${{") {
        let end = rest[start..]
            .find("}}")
            .ok_or_else(|| format!("an unclosed expression in `{value}`"))?;
        let expr = rest[start + 3..start + end].trim();
        let known = values
            .get(expr)
            .ok_or_else(|| format!("`${{{{ {expr} }}}}` has no test value (github_values)"))?;
        out.push_str(&rest[..start]);
        out.push_str(known);
        rest = &rest[start + end + 2..];
    }
    out.push_str(rest);
    Ok(out)
}

/// The variables a step of `job` runs with: the workflow's `env:`, the job's, the step's, each
/// expanded with `values` (plus `env.NAME` for those already set).
fn step_env(
    recipe: &Recipe,
    job: &Value,
    step: &Value,
    values: &BTreeMap<String, String>,
) -> Result<Vec<(String, String)>, String> {
    let mut values = values.clone();
    let mut vars = Vec::new();
    for scope in [&recipe.yaml["env"], &job["env"], &step["env"]] {
        for (k, v) in scope.as_mapping().into_iter().flatten() {
            let key = k.as_str().unwrap_or_default().to_owned();
            let raw = match v {
                Value::String(s) => s.clone(),
                Value::Number(n) => n.to_string(),
                Value::Bool(b) => b.to_string(),
                other => return Err(format!("`{key}` is not a plain value: {other:?}")),
            };
            let value = expand(&raw, &values)?;
            values.insert(format!("env.{key}"), value.clone());
            vars.push((key, value));
        }
    }
    Ok(vars)
}

/// A script run as GitHub's bash runs it, in `dir`, with `vars`, `GITHUB_OUTPUT` and
/// `GITHUB_STEP_SUMMARY` (files in `dir`), after `prelude` (one line: shell functions that stand
/// in for programs).
fn bash(
    dir: &Path,
    prelude: &str,
    script: &str,
    vars: &[(String, String)],
) -> std::process::Output {
    assert!(
        !prelude.contains('\n'),
        "one line, so that line numbers stay"
    );
    Command::new("bash")
        .args(["--noprofile", "--norc", "-eo", "pipefail", "-c"])
        .arg(format!("{prelude}\n{script}"))
        .current_dir(dir)
        .env("GITHUB_OUTPUT", dir.join("github_output"))
        .env("GITHUB_STEP_SUMMARY", dir.join("step_summary"))
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .envs(vars.iter().map(|(k, v)| (k, v)))
        .output()
        .expect("bash")
}

/// `tsw` as a shell function: records the line it was called from and its words, exits
/// `$TSW_EXIT` (default 0), and (for `plan --summary-file F`) writes `$TSW_SUMMARY` to F.
const TSW_STUB: &str = concat!(
    r#"tsw() { "#,
    r#"{ printf '%s' "$((BASH_LINENO[0] - 1))"; printf '\037%s' "$@"; printf '\036'; } >> "$TSW_CALLS"; "#,
    r#"local prev=; for w in "$@"; do "#,
    r#"if [ "$prev" = --summary-file ] && [ -n "${TSW_SUMMARY:-}" ]; then printf '%s' "$TSW_SUMMARY" > "$w"; fi; "#,
    r#"prev=$w; done; "#,
    r#"return "${TSW_EXIT:-0}"; }"#
);

/// One `tsw` call a script made: the script's line, and the words.
#[derive(Debug)]
struct Call {
    line: usize,
    words: Vec<String>,
}

fn calls(recorded: &str) -> Vec<Call> {
    recorded
        .split('\u{1e}')
        .filter(|c| !c.is_empty())
        .map(|c| {
            let mut parts = c.split('\u{1f}');
            Call {
                line: parts.next().and_then(|l| l.parse().ok()).unwrap_or(0),
                words: parts.map(str::to_owned).collect(),
            }
        })
        .collect()
}

/// Runs every script of the recipe that runs `tsw` (per stage, for the plan job), with `tsw`
/// recording its calls: (job, step name, the calls). Each `tsw` line must have run.
fn tsw_calls(recipe: &Recipe) -> Result<Vec<(String, String, Vec<Call>)>, String> {
    let mut out = Vec::new();
    for (name, job) in recipe.jobs() {
        let rows = if job["strategy"]["matrix"].is_null() {
            vec![BTreeMap::new()]
        } else {
            recipe.stages()
        };
        for row in rows {
            let mut values = github_values();
            values.extend(row);
            for step in steps(job) {
                let script = run_of(step);
                let lines = tsw_lines(script);
                if lines.is_empty() {
                    continue;
                }
                let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
                let mut vars = step_env(recipe, job, step, &values)?;
                let record = dir.path().join("calls");
                vars.push(("TSW_CALLS".into(), record.display().to_string()));
                let run = bash(dir.path(), TSW_STUB, script, &vars);
                let step_name = step["name"].as_str().unwrap_or("(unnamed)").to_owned();
                if !run.status.success() {
                    return Err(format!(
                        "job `{name}`, step `{step_name}` fails with tsw succeeding: {}",
                        String::from_utf8_lossy(&run.stderr)
                    ));
                }
                let made = calls(&std::fs::read_to_string(&record).unwrap_or_default());
                let ran: BTreeSet<usize> = made.iter().map(|c| c.line).collect();
                if ran != lines {
                    return Err(format!(
                        "job `{name}`, step `{step_name}`: tsw runs on lines {lines:?} of its script, but was called from {ran:?}"
                    ));
                }
                out.push((name.clone(), step_name, made));
            }
        }
    }
    Ok(out)
}

/// A scratch infrastructure repository: only `environments/`, with `staging` and `production`
/// made by `tsw init` and their files by `tsw render`, as the recipe's users would commit them.
fn scratch_repository() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("a temporary directory");
    std::fs::create_dir(dir.path().join("environments")).expect("environments/");
    for args in [
        &["init", "staging"][..],
        &["init", "production", "--region", "eu-west-1"],
        &["render"],
    ] {
        let code = run_in(dir.path(), args).unwrap_or_else(|e| panic!("{args:?}: {e}"));
        assert_eq!(code, std::process::ExitCode::SUCCESS, "{args:?}");
    }
    dir
}

/// `tsw ARGS` (parsed with the real command line) run in the repository at `root`.
fn run_in(root: &Path, args: &[&str]) -> Result<std::process::ExitCode, String> {
    let root = root.display().to_string();
    let words = ["tsw", "--root", &root]
        .into_iter()
        .chain(args.iter().copied());
    let cli = Cli::try_parse_from(words).map_err(|e| e.to_string())?;
    crate::run(cli).map_err(|e| format!("{e:#}"))
}

/// Flags the recipe uses that a change not merged here yet adds to this program (`plan
/// --read-only`, issue 21): removed before parsing only while the command does not know the
/// flag; once it does, the flag is parsed like any other, and this entry can go.
const PENDING_FLAGS: &[(&str, &str)] = &[("plan", "read-only")];

fn knows(subcommand: &str, flag: &str) -> bool {
    crate::cli::command()
        .find_subcommand(subcommand)
        .is_some_and(|c| c.get_arguments().any(|a| a.get_long() == Some(flag)))
}

// ---- The checks: each returns what is wrong with the recipe. ----

/// Every `tsw` command line the recipe runs parses with the real command line, names
/// environments the repository has, and `validate` and `render` succeed in a scratch
/// infrastructure repository.
fn check_commands(recipe: &Recipe) -> Result<(), String> {
    let repo = scratch_repository();
    let envs: BTreeSet<String> = ["staging", "production"].map(String::from).into();
    let mut subcommands = BTreeSet::new();
    for (job, step, made) in tsw_calls(recipe)? {
        for call in made {
            let mut words = call.words.clone();
            let shown = words.join(" ");
            let Some(subcommand) = words.first().cloned() else {
                return Err(format!("job `{job}`, step `{step}`: `tsw` alone"));
            };
            for (pending_in, flag) in PENDING_FLAGS {
                if subcommand == *pending_in && !knows(pending_in, flag) {
                    words.retain(|w| *w != format!("--{flag}"));
                }
            }
            let parsed =
                Cli::try_parse_from(std::iter::once("tsw".to_owned()).chain(words.clone()))
                    .map_err(|e| {
                        format!("job `{job}`, step `{step}`: `tsw {shown}` does not parse: {e}")
                    })?;
            let named: Vec<&String> = match &parsed.command {
                crate::cli::Command::Plan(a) => a.envs.iter().collect(),
                crate::cli::Command::Deploy(a) => a.envs.iter().collect(),
                _ => Vec::new(),
            };
            let register_env = words.get(1).filter(|_| subcommand == "register");
            for env in named.into_iter().chain(register_env) {
                if !envs.contains(env) {
                    return Err(format!(
                        "job `{job}`, step `{step}`: `tsw {shown}` names `{env}`, which is no environment of the repository ({envs:?})"
                    ));
                }
            }
            if matches!(subcommand.as_str(), "validate" | "render") {
                let args: Vec<&str> = words.iter().map(String::as_str).collect();
                match run_in(repo.path(), &args) {
                    Ok(code) if code == std::process::ExitCode::SUCCESS => {}
                    other => {
                        return Err(format!(
                            "job `{job}`, step `{step}`: `tsw {shown}` fails in a scratch infrastructure repository: {other:?}"
                        ));
                    }
                }
            }
            subcommands.insert(subcommand);
        }
    }
    let expected: BTreeSet<String> = ["validate", "render", "plan", "deploy", "register"]
        .map(String::from)
        .into();
    if subcommands != expected {
        return Err(format!("the recipe runs {subcommands:?}, not {expected:?}"));
    }
    Ok(())
}

/// The tool is installed at one pinned version, this package's, in every job that runs it,
/// before it runs, and no script interpolates `${{ }}` (GitHub pastes it into the script).
fn check_install(recipe: &Recipe) -> Result<(), String> {
    let version = recipe.yaml["env"]["TSW_VERSION"]
        .as_str()
        .unwrap_or_default();
    let expected = format!("v{}", env!("CARGO_PKG_VERSION"));
    if version != expected {
        return Err(format!(
            "TSW_VERSION is `{version}`, not this release's `{expected}`"
        ));
    }
    if recipe.text.matches("TSW_VERSION:").count() != 1 {
        return Err("TSW_VERSION is set in more than one place".into());
    }
    let install = "cargo install --git https://github.com/temporal-serverless-workers/tsw --tag \"$TSW_VERSION\" tsw --locked";
    for (name, job) in recipe.jobs() {
        let first_tsw = steps(job)
            .iter()
            .position(|s| !tsw_lines(run_of(s)).is_empty());
        let installed = steps(job).iter().position(|s| run_of(s).trim() == install);
        match (first_tsw, installed) {
            (Some(first), Some(at)) if at < first => {}
            (Some(_), _) => {
                return Err(format!("job `{name}` runs tsw without `{install}` before"));
            }
            _ => {}
        }
        for step in steps(job) {
            if run_of(step).contains("${{") {
                return Err(format!(
                    "job `{name}`: a script interpolates `${{{{ }}}}`; pass it in `env:`"
                ));
            }
        }
    }
    Ok(())
}

/// Each stage reaches AWS through its own role from GitHub's OIDC token (no static key): the
/// plan job through the stage table's plan role, each deploy job through its GitHub
/// environment's deploy role; the deploy jobs deploy the stage table's environments, staging
/// before production.
fn check_roles_and_stages(recipe: &Recipe) -> Result<(), String> {
    for key in [
        "aws-access-key-id",
        "aws-secret-access-key",
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_SESSION_TOKEN",
    ] {
        if recipe.text.contains(key) {
            return Err(format!("a static AWS key: `{key}`"));
        }
    }
    let stages = recipe.stages();
    let roles: BTreeSet<&str> = stages
        .iter()
        .filter_map(|r| r.get("matrix.plan-role"))
        .map(String::as_str)
        .collect();
    if stages.len() < 2 || roles.len() != stages.len() {
        return Err(format!(
            "each stage of the table needs a plan role of its own: {stages:?}"
        ));
    }
    for (name, job) in recipe.jobs() {
        for step in steps(job) {
            if !step["uses"]
                .as_str()
                .unwrap_or_default()
                .starts_with("aws-actions/configure-aws-credentials@")
            {
                continue;
            }
            let role = step["with"]["role-to-assume"].as_str().unwrap_or_default();
            let expected = if name == "plan" {
                "${{ matrix.plan-role }}"
            } else {
                "${{ vars.AWS_DEPLOY_ROLE_ARN }}"
            };
            if role != expected {
                return Err(format!("job `{name}` assumes `{role}`, not `{expected}`"));
            }
            if job["permissions"]["id-token"] != "write" {
                return Err(format!(
                    "job `{name}` needs `id-token: write` for the OIDC token"
                ));
            }
        }
    }
    let deploys = recipe.deploy_jobs();
    let names: Vec<&str> = deploys.iter().map(|(n, _)| n.as_str()).collect();
    if names != ["deploy-staging", "deploy-production"] {
        return Err(format!("the deploy jobs are {names:?}"));
    }
    if deploys[1].1["needs"] != "deploy-staging" {
        return Err("production deploys after staging only (`needs: deploy-staging`)".into());
    }
    for ((name, job), row) in deploys.iter().zip(&stages) {
        let stage = &row["matrix.stage"];
        if job["environment"].as_str() != Some(stage) || job["env"]["STAGE"].as_str() != Some(stage)
        {
            return Err(format!(
                "job `{name}` runs in the GitHub environment `{stage}` (its protection rules and its role)"
            ));
        }
        if job["env"]["ENVIRONMENTS"].as_str() != row.get("matrix.environments").map(String::as_str)
        {
            return Err(format!(
                "job `{name}` deploys other environments than the stage table's `{stage}` row"
            ));
        }
        if job["if"] != "github.event_name == 'push'" {
            return Err(format!("job `{name}` runs on a push to main only"));
        }
        let at = |text: &str| steps(job).iter().position(|s| run_of(s).contains(text));
        match (at("tsw deploy"), at("tsw register"), at("git push")) {
            (Some(d), Some(r), Some(p)) if d < r && r < p => {}
            found => {
                return Err(format!(
                    "job `{name}`: deploy, then register, then propose the [outputs]: {found:?}"
                ));
            }
        }
    }
    Ok(())
}

/// Forks skip every AWS step (they get no OIDC token) and say so; the plan is read-only.
fn check_forks_and_read_only(recipe: &Recipe) -> Result<(), String> {
    let plan = recipe.job("plan")?;
    let fork = "${{ github.event.pull_request.head.repo.full_name != github.repository }}";
    if plan["env"]["FORK"] != fork || recipe.job("comment")?["env"]["FORK"] != fork {
        return Err(format!("FORK is `{fork}` in the plan and comment jobs"));
    }
    for step in steps(plan) {
        let aws = step["uses"]
            .as_str()
            .unwrap_or_default()
            .starts_with("aws-actions/")
            || run_of(step).contains("tsw plan");
        if aws && step["if"] != "env.FORK == 'false'" {
            return Err(format!("the AWS step `{:?}` runs for forks", step["name"]));
        }
    }
    if !steps(plan)
        .iter()
        .any(|s| s["if"] == "env.FORK == 'true'" && run_of(s).contains("fork"))
    {
        return Err("nothing says that a fork's pull request was not planned".into());
    }
    let plan_line = run_of(step_running(plan, "tsw plan")?);
    for flag in ["--read-only", "--summary-file", "--detailed-exitcode"] {
        if !plan_line.contains(flag) {
            return Err(format!("the plan runs without `{flag}`"));
        }
    }
    Ok(())
}

/// The plan step records tsw's exit code and succeeds, so that a failed plan is posted; the
/// summary says it failed (also when tsw wrote none), and a last step fails the job.
fn check_failed_plan(recipe: &Recipe) -> Result<(), String> {
    let plan = recipe.job("plan")?;
    let step = step_running(plan, "tsw plan")?;
    let mut values = github_values();
    values.extend(recipe.stages().into_iter().next().unwrap_or_default());
    let vars = step_env(recipe, plan, step, &values)?;
    for (exit, summary, says) in [
        ("0", "ok\n", "ok\n"),
        ("2", "changes\n", "changes\n"),
        ("1", "one row\n", "one row\n**The plan failed** (exit 1)"),
        (
            "1",
            "",
            "**The plan failed before it planned any environment** (exit 1)",
        ),
    ] {
        let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
        let mut vars = vars.clone();
        vars.extend([
            (
                "TSW_CALLS".into(),
                dir.path().join("calls").display().to_string(),
            ),
            ("TSW_EXIT".into(), exit.into()),
            ("TSW_SUMMARY".into(), summary.into()),
        ]);
        let run = bash(dir.path(), TSW_STUB, run_of(step), &vars);
        if !run.status.success() {
            return Err(format!(
                "the plan step fails when tsw exits {exit}, so nothing is posted"
            ));
        }
        let output = std::fs::read_to_string(dir.path().join("github_output")).unwrap_or_default();
        let written =
            std::fs::read_to_string(dir.path().join("out/summary.md")).unwrap_or_default();
        if output.trim() != format!("code={exit}") || !written.starts_with(says) {
            return Err(format!(
                "tsw exits {exit}: output `{output}`, summary `{written}`"
            ));
        }
    }
    let upload = steps(plan).iter().find(|s| {
        s["uses"]
            .as_str()
            .unwrap_or_default()
            .starts_with("actions/upload-artifact@")
    });
    if upload.is_none_or(|s| s["if"] != "always()") {
        return Err("the plan is kept as an artifact whatever happened (`if: always()`)".into());
    }
    let fail = steps(plan)
        .last()
        .map(|s| (s["if"].as_str().unwrap_or_default(), run_of(s).trim()));
    match fail {
        Some((condition, "exit 1"))
            if condition.contains("steps.plan.outputs.code != '2'")
                && condition.contains("!= '0'") => {}
        other => {
            return Err(format!(
                "the last step of the plan job fails it on an error: {other:?}"
            ));
        }
    }
    let comment = recipe.job("comment")?;
    if !comment["if"]
        .as_str()
        .unwrap_or_default()
        .contains("always()")
        || comment["needs"] != "plan"
    {
        return Err("the comment is posted after every plan job, also a failed one".into());
    }
    Ok(())
}

/// The comment job's two scripts: the one that composes the comment and the one that posts it.
fn comment_scripts(recipe: &Recipe) -> Result<(&Value, &Value, &Value), String> {
    let job = recipe.job("comment")?;
    Ok((
        job,
        step_running(job, "comment.md")?,
        step_running(job, "gh api")?,
    ))
}

/// Composes the comment from `summaries` (stage, summary) as the comment job does.
fn compose(recipe: &Recipe, summaries: &[(&str, &str)]) -> Result<String, String> {
    let (job, compose, _) = comment_scripts(recipe)?;
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    for (stage, summary) in summaries {
        let at = dir.path().join(format!("plans/plan-{stage}"));
        std::fs::create_dir_all(&at).map_err(|e| e.to_string())?;
        std::fs::write(at.join("summary.md"), summary).map_err(|e| e.to_string())?;
    }
    let vars = step_env(recipe, job, compose, &github_values())?;
    let run = bash(dir.path(), ":", run_of(compose), &vars);
    if !run.status.success() {
        return Err(format!(
            "composing fails: {}",
            String::from_utf8_lossy(&run.stderr)
        ));
    }
    std::fs::read_to_string(dir.path().join("comment.md")).map_err(|e| e.to_string())
}

/// One comment per pull request, owned through the marker on its first line: found among the
/// comments with `gh api` (the real `jq` filter, on comments of several authors), updated when
/// there, created when not; never `--edit-last`. It holds the commit SHA and every stage's
/// summary.
fn check_comment(recipe: &Recipe) -> Result<(), String> {
    let scripts = recipe
        .jobs()
        .into_iter()
        .flat_map(|(_, job)| steps(job).iter().map(run_of));
    if scripts
        .into_iter()
        .any(|s| s.contains("--edit-last") || s.contains("gh pr comment"))
    {
        return Err("`gh pr comment --edit-last` edits whatever comment the bot made last".into());
    }
    let comment = compose(
        recipe,
        &[("staging", "S-SUMMARY\n"), ("production", "P-SUMMARY\n")],
    )?;
    let sha = &github_values()["github.event.pull_request.head.sha"];
    if !comment.starts_with("<!-- tsw-plan -->\n") || !comment.contains(sha.as_str()) {
        return Err(format!(
            "the comment starts with its marker and names the commit: {comment}"
        ));
    }
    for summary in ["S-SUMMARY", "P-SUMMARY"] {
        if !comment.contains(summary) {
            return Err(format!("the comment lacks a stage's summary: {comment}"));
        }
    }
    let (job, _, post) = comment_scripts(recipe)?;
    if post["if"] != "env.FORK == 'false'" {
        return Err("a fork's token cannot comment: the post step is skipped for forks".into());
    }
    let vars = step_env(recipe, job, post, &github_values())?;
    // `gh` answers the listing with `jq` over COMMENTS, and records every other call.
    let gh = r#"gh() { if [ "$1 $2" = "api --paginate" ]; then jq -r "$5" "$COMMENTS"; else echo "$*" >> gh_calls; fi; }"#;
    let other_bot = r#"{"id": 1, "user": {"login": "github-actions[bot]"}, "body": "another workflow's comment"}"#;
    let someone =
        r#"{"id": 2, "user": {"login": "mallory"}, "body": "<!-- tsw-plan -->\nnot the bot's"}"#;
    let ours = r#"{"id": 3, "user": {"login": "github-actions[bot]"}, "body": "<!-- tsw-plan -->\nold plan"}"#;
    for (comments, expected) in [
        (
            format!("[{other_bot}, {someone}]"),
            "api --method POST repos/org/infra/issues/7/comments -F body=@comment.md",
        ),
        (
            format!("[{other_bot}, {someone}, {ours}]"),
            "api --method PATCH repos/org/infra/issues/comments/3 -F body=@comment.md",
        ),
    ] {
        let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
        std::fs::write(dir.path().join("comments.json"), comments).map_err(|e| e.to_string())?;
        let mut vars = vars.clone();
        vars.push((
            "COMMENTS".into(),
            dir.path().join("comments.json").display().to_string(),
        ));
        let run = bash(dir.path(), gh, run_of(post), &vars);
        let made = std::fs::read_to_string(dir.path().join("gh_calls")).unwrap_or_default();
        if !run.status.success() || made.trim() != expected {
            return Err(format!(
                "posting: expected `{expected}`, got `{made}` ({})",
                String::from_utf8_lossy(&run.stderr)
            ));
        }
    }
    Ok(())
}

/// With 200 environments, split over the stages, each with a long name, the comment stays
/// under GitHub's 65,536 characters: each stage's summary is capped at the share the plan step
/// gives it (`--summary-limit`), with the rows left out counted.
fn check_comment_size(recipe: &Recipe) -> Result<(), String> {
    let stages = recipe.stages();
    let calls = tsw_calls(recipe)?;
    let limit = calls
        .iter()
        .flat_map(|(_, _, c)| c)
        .find(|c| c.words.first().is_some_and(|w| w == "plan"))
        .and_then(|c| {
            let at = c.words.iter().position(|w| w == "--summary-limit")?;
            c.words.get(at + 1)?.parse::<usize>().ok()
        })
        .ok_or("the plan step gives no --summary-limit")?;
    let per_stage = 200 / stages.len().max(1);
    let long = "x".repeat(300);
    let summaries: Vec<(String, String)> = stages
        .iter()
        .map(|row| {
            let plans: Vec<_> = (0..per_stage)
                .map(|i| {
                    crate::plan_view::tests::env_plan(
                        &format!("{long}-{i}"),
                        i % 3 == 0,
                        i % 7 == 0,
                        i % 5 == 0,
                    )
                })
                .collect();
            (
                row["matrix.stage"].clone(),
                crate::plan_view::summary(&plans, limit),
            )
        })
        .collect();
    let borrowed: Vec<(&str, &str)> = summaries
        .iter()
        .map(|(s, m)| (s.as_str(), m.as_str()))
        .collect();
    let comment = compose(recipe, &borrowed)?;
    let size = comment.chars().count();
    if size >= 65_536 || !comment.contains("more environments") {
        return Err(format!(
            "the comment for 200 environments has {size} characters"
        ));
    }
    Ok(())
}

/// `paths:` holds every file the tool reads or edits (descriptors and rendered files, template
/// overrides, Helm values, the server's dynamic config), the same for pull requests and pushes.
fn check_paths(recipe: &Recipe) -> Result<(), String> {
    let paths = |event: &str| -> Vec<String> {
        recipe.yaml["on"][event]["paths"]
            .as_sequence()
            .into_iter()
            .flatten()
            .filter_map(|p| p.as_str().map(str::to_owned))
            .collect()
    };
    let (pr, push) = (paths("pull_request"), paths("push"));
    if pr != push {
        return Err(format!("pull requests watch {pr:?}, pushes {push:?}"));
    }
    for file in [
        "environments/staging.toml",
        "environments/staging/parameters.json",
        "templates/invocation-role.yaml",
        "helm/temporal/values.yaml",
        "temporal/dynamicconfig/production.yaml",
        ".github/workflows/environments.yml",
    ] {
        let covered = pr.iter().any(|p| match p.strip_suffix("**") {
            Some(prefix) => file.starts_with(prefix),
            None => p == file,
        });
        if !covered {
            return Err(format!(
                "a change to `{file}` runs nothing: add it to `paths:`"
            ));
        }
    }
    if recipe.yaml["on"]["push"]["branches"][0] != "main"
        || recipe.yaml["on"].get("pull_request_target").is_some()
    {
        return Err(
            "plans on `pull_request` (never `pull_request_target`), deploys on pushes to main"
                .into(),
        );
    }
    Ok(())
}

/// Every action is pinned by a full commit SHA.
fn check_pinned(recipe: &Recipe) -> Result<(), String> {
    for (name, job) in recipe.jobs() {
        for uses in steps(job).iter().filter_map(|s| s["uses"].as_str()) {
            let rev = uses.split_once('@').map(|(_, r)| r).unwrap_or_default();
            if rev.len() != 40 || !rev.chars().all(|c| c.is_ascii_hexdigit()) {
                return Err(format!(
                    "job `{name}`: `{uses}` is not pinned by a full commit SHA"
                ));
            }
        }
    }
    Ok(())
}

/// The recorded `[outputs]` reach main through a pull request from a bot branch: also when main
/// is protected (the remote refuses pushes to it) and has moved on since the deploy's commit;
/// only `environments/` is committed; nothing new, nothing pushed.
fn check_outputs(recipe: &Recipe) -> Result<(), String> {
    let (name, job) = recipe
        .deploy_jobs()
        .into_iter()
        .next()
        .ok_or("no deploy job")?;
    let propose = step_running(job, "git push")?;
    let condition = propose["if"].as_str().unwrap_or_default();
    let deploy_id = step_running(job, "tsw deploy")?["id"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    if !(condition.contains("always()")
        && condition.contains(&format!("steps.{deploy_id}.outcome")))
        || deploy_id.is_empty()
    {
        return Err(format!(
            "job `{name}`: the [outputs] are proposed also after a failed deploy: `{condition}`"
        ));
    }
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let git = |args: &[&str], cwd: &Path| -> Result<String, String> {
        let out = Command::new("git")
            .args(["-c", "user.name=t", "-c", "user.email=t@t"])
            .args(args)
            .current_dir(cwd)
            .env("GIT_CONFIG_GLOBAL", "/dev/null")
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .output()
            .map_err(|e| e.to_string())?;
        if !out.status.success() {
            return Err(format!(
                "git {args:?}: {}",
                String::from_utf8_lossy(&out.stderr)
            ));
        }
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    };
    let remote = dir.path().join("remote.git");
    let (work, other) = (dir.path().join("work"), dir.path().join("other"));
    let path = |p: &Path| p.display().to_string();
    git(
        &["init", "-q", "--bare", "-b", "main", &path(&remote)],
        dir.path(),
    )?;
    git(&["clone", "-q", &path(&remote), &path(&work)], dir.path())?;
    std::fs::create_dir_all(work.join("environments")).map_err(|e| e.to_string())?;
    std::fs::write(work.join("environments/staging.toml"), "[role]\n")
        .map_err(|e| e.to_string())?;
    std::fs::write(work.join("notes.txt"), "a\n").map_err(|e| e.to_string())?;
    git(&["add", "."], &work)?;
    git(&["commit", "-qm", "init"], &work)?;
    git(&["push", "-q", "origin", "HEAD:main"], &work)?;
    // A merge lands on main after the deploy's commit; then main is protected.
    git(&["clone", "-q", &path(&remote), &path(&other)], dir.path())?;
    std::fs::write(other.join("notes.txt"), "b\n").map_err(|e| e.to_string())?;
    git(&["commit", "-qam", "a concurrent merge"], &other)?;
    git(&["push", "-q", "origin", "HEAD:main"], &other)?;
    let hook = remote.join("hooks/pre-receive");
    std::fs::write(&hook, "#!/bin/sh\nwhile read old new ref; do [ \"$ref\" = refs/heads/main ] && { echo 'main is protected' >&2; exit 1; }; done\nexit 0\n").map_err(|e| e.to_string())?;
    Command::new("chmod")
        .arg("755")
        .arg(&hook)
        .status()
        .map_err(|e| e.to_string())?;
    // What the deploy recorded, and a file outside environments/ it must not commit.
    std::fs::write(
        work.join("environments/staging.toml"),
        "[role]\n\n[outputs]\nstack_id = \"x\"\n",
    )
    .map_err(|e| e.to_string())?;
    std::fs::write(work.join("notes.txt"), "stray\n").map_err(|e| e.to_string())?;
    let mut vars = step_env(recipe, job, propose, &github_values())?;
    vars.extend([
        ("GITHUB_REF_NAME".into(), "main".into()),
        ("GITHUB_SHA".into(), "abc123".into()),
    ]);
    let gh = r#"gh() { echo "$*" >> ../gh_calls; }"#;
    let main_before = git(&["rev-parse", "main"], &remote)?;
    let run = bash(&work, gh, run_of(propose), &vars);
    if !run.status.success() {
        return Err(format!(
            "proposing the [outputs] fails: {}",
            String::from_utf8_lossy(&run.stderr)
        ));
    }
    let branch = "tsw/outputs-staging";
    let files = git(&["show", "--name-only", "--format=", branch], &remote)?;
    if files.trim() != "environments/staging.toml"
        || git(&["rev-parse", "main"], &remote)? != main_before
    {
        return Err(format!(
            "the bot branch holds `{files}`, and main is left as it was"
        ));
    }
    let made = std::fs::read_to_string(dir.path().join("gh_calls")).unwrap_or_default();
    if !made.contains("pr create --base main --head tsw/outputs-staging") {
        return Err(format!("no pull request is opened: {made}"));
    }
    // Nothing new: nothing committed or pushed, and the step succeeds.
    let before = git(&["rev-parse", branch], &remote)?;
    let run = bash(&work, gh, run_of(propose), &vars);
    if !run.status.success() || git(&["rev-parse", branch], &remote)? != before {
        return Err("a second run with nothing new changes something".into());
    }
    Ok(())
}

/// The register step registers every environment of its stage, also after one failed, and then
/// fails.
fn check_register_all(recipe: &Recipe) -> Result<(), String> {
    for (name, job) in recipe.deploy_jobs() {
        let step = step_running(job, "tsw register")?;
        let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
        let mut vars = step_env(recipe, job, step, &github_values())?;
        vars.retain(|(k, _)| k != "ENVIRONMENTS");
        vars.extend([
            ("ENVIRONMENTS".into(), "first second".into()),
            (
                "TSW_CALLS".into(),
                dir.path().join("calls").display().to_string(),
            ),
            ("TSW_EXIT".into(), "1".into()),
        ]);
        let run = bash(dir.path(), TSW_STUB, run_of(step), &vars);
        let made = calls(&std::fs::read_to_string(dir.path().join("calls")).unwrap_or_default());
        let registered: Vec<String> = made.iter().map(|c| c.words.join(" ")).collect();
        if run.status.success() || registered != ["register first", "register second"] {
            return Err(format!(
                "job `{name}`: with every register failing, it ran {registered:?} and {}",
                if run.status.success() {
                    "succeeded"
                } else {
                    "failed"
                }
            ));
        }
    }
    Ok(())
}

type Check = fn(&Recipe) -> Result<(), String>;

/// Every check, with a way to break the recipe for it: (name, check, text to replace, with).
const CHECKS: &[(&str, Check, &str, &str)] = &[
    (
        "commands",
        check_commands,
        "tsw render --check",
        "tsw render --chek",
    ),
    (
        "install",
        check_install,
        "--tag \"$TSW_VERSION\" tsw --locked",
        "tsw --locked",
    ),
    (
        "roles and stages",
        check_roles_and_stages,
        "    needs: deploy-staging\n",
        "",
    ),
    (
        "forks and read-only",
        check_forks_and_read_only,
        "      - name: Plan (read-only)\n        id: plan\n        if: env.FORK == 'false'\n",
        "      - name: Plan (read-only)\n        id: plan\n",
    ),
    (
        "failed plan",
        check_failed_plan,
        "          set +e\n          tsw plan",
        "          tsw plan",
    ),
    (
        "comment",
        check_comment,
        "select(.user.login == \"github-actions[bot]\" and (.body | startswith(\"<!-- tsw-plan -->\")))",
        "select(.body | startswith(\"<!-- tsw-plan -->\"))",
    ),
    (
        "comment size",
        check_comment_size,
        "\"$((60000 / STAGES))\"",
        "60000",
    ),
    ("paths", check_paths, "      - \"helm/**\"\n", ""),
    (
        "pinned",
        check_pinned,
        "actions/cache@5a3ec84eff668545956fd18022155c47e93e2684",
        "actions/cache@v4",
    ),
    (
        "register every environment",
        check_register_all,
        "tsw register \"$env\" || failed=1",
        "tsw register \"$env\"",
    ),
    (
        "outputs",
        check_outputs,
        "git push --force origin \"HEAD:refs/heads/$branch\"",
        "git push origin \"HEAD:$GITHUB_REF_NAME\"",
    ),
];

#[test]
fn every_tsw_command_parses_and_runs_in_a_scratch_infrastructure_repository() {
    check_commands(&Recipe::read()).unwrap();
}

#[test]
fn the_pinned_tool_is_installed_where_it_runs() {
    check_install(&Recipe::read()).unwrap();
}

#[test]
fn each_stage_has_its_roles_and_staging_deploys_before_production_then_registers() {
    check_roles_and_stages(&Recipe::read()).unwrap();
}

#[test]
fn forks_skip_the_aws_steps_and_the_plan_is_read_only() {
    check_forks_and_read_only(&Recipe::read()).unwrap();
}

#[test]
fn a_failed_plan_is_posted_and_fails_the_job() {
    check_failed_plan(&Recipe::read()).unwrap();
}

#[test]
fn one_comment_per_pull_request_is_found_by_its_marker_and_updated() {
    check_comment(&Recipe::read()).unwrap();
}

#[test]
fn the_comment_for_200_environments_stays_under_githubs_limit() {
    check_comment_size(&Recipe::read()).unwrap();
}

#[test]
fn a_change_to_any_file_the_tool_edits_runs_the_workflow() {
    check_paths(&Recipe::read()).unwrap();
}

#[test]
fn actions_are_pinned_by_commit() {
    check_pinned(&Recipe::read()).unwrap();
}

#[test]
fn every_environment_of_a_stage_is_registered_also_after_one_failed() {
    check_register_all(&Recipe::read()).unwrap();
}

#[test]
fn the_outputs_reach_a_protected_main_that_moved_on_through_a_pull_request() {
    check_outputs(&Recipe::read()).unwrap();
}

/// Each check fails on the recipe broken for it (and the breakage changes the recipe).
#[test]
fn every_check_fails_on_a_recipe_broken_for_it() {
    let recipe = Recipe::read();
    for (name, check, from, to) in CHECKS {
        assert!(
            recipe.text.contains(from),
            "check `{name}`: `{from}` is in the recipe"
        );
        let broken = Recipe::parse(&recipe.text.replacen(from, to, 1)).unwrap();
        match check(&broken) {
            Err(why) => assert!(!why.is_empty(), "{name}"),
            Ok(()) => panic!("check `{name}` passes on a recipe broken for it"),
        }
    }
}

/// The workflows of the repository at `root` that would run the recipe there: a copy of it, or
/// any workflow that deploys with tsw.
fn active_recipes(root: &Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(root.join(".github/workflows")) else {
        return Vec::new();
    };
    let recipe = Recipe::read().text;
    let mut active: Vec<PathBuf> = entries
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|path| {
            let text = std::fs::read_to_string(path).unwrap_or_default();
            text == recipe || text.contains("tsw deploy") || text.contains("cargo xtask deploy")
        })
        .collect();
    active.sort();
    active
}

#[test]
fn the_recipe_is_not_an_active_workflow_of_this_repository() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    assert!(root.join(".github/workflows").is_dir(), "{root:?}");
    let active = active_recipes(&root);
    assert!(active.is_empty(), "{active:?}");
}

#[test]
fn a_workflow_that_would_run_the_recipe_is_found() {
    let dir = tempfile::tempdir().unwrap();
    assert_eq!(active_recipes(dir.path()), Vec::<PathBuf>::new());
    let workflows = dir.path().join(".github/workflows");
    std::fs::create_dir_all(&workflows).unwrap();
    let recipe = Recipe::read().text;
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
