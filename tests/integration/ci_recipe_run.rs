//! The CI recipe (`docs/ci/environments.yml`) run where it is meant to run: a scratch
//! infrastructure repository (only `environments/`, made by the installed `tsw init` and
//! `tsw render`, no Cargo workspace), its scripts run by bash as GitHub runs them, with `tsw` the
//! built binary as installed and AWS the emulator. `tsw/src/ci_recipe.rs` checks every command
//! line of the recipe; this runs those that can run here: validate, render --check, and each
//! stage's deploy and register.

use std::path::Path;
use std::process::Command;

use serde_yaml::Value;

use crate::support::{Run, emulator, repo_root, safe_aws_env};

fn recipe() -> Value {
    let text = std::fs::read_to_string(repo_root().join("docs/ci/environments.yml")).unwrap();
    serde_yaml::from_str(&text).unwrap()
}

/// The script of the step of `job` named `name`.
fn script<'a>(job: &'a Value, name: &str) -> &'a str {
    job["steps"]
        .as_sequence()
        .unwrap()
        .iter()
        .find(|s| s["name"] == name)
        .and_then(|s| s["run"].as_str())
        .unwrap_or_else(|| panic!("no step `{name}`"))
}

/// `script` run by bash in `repo`, `tsw` the built binary as installed (no cargo variables),
/// with the job's plain `env:` values.
fn run(repo: &Path, job: &Value, script: &str) -> Run {
    run_with(repo, job, script, &[])
}

/// [`run`] with `vars` set too (what GitHub puts for the expressions of `env:`).
fn run_with(repo: &Path, job: &Value, script: &str, vars: &[(&str, &str)]) -> Run {
    let mut cmd = Command::new("bash");
    cmd.args(["--noprofile", "--norc", "-eo", "pipefail", "-c"])
        .arg(format!("tsw() {{ \"$TSW_BIN\" \"$@\"; }}\n{script}"))
        .current_dir(repo)
        .env("TSW_BIN", env!("CARGO_BIN_EXE_tsw"))
        .env("GITHUB_OUTPUT", repo.join("../github_output"))
        .env("GITHUB_STEP_SUMMARY", repo.join("../step_summary"));
    safe_aws_env(&mut cmd);
    for var in ["CARGO", "CARGO_MANIFEST_DIR"] {
        cmd.env_remove(var);
    }
    for (k, v) in job["env"].as_mapping().into_iter().flatten() {
        if let (Some(k), Some(v)) = (k.as_str(), v.as_str()) {
            cmd.env(k, v);
        }
    }
    cmd.envs(vars.iter().copied());
    Run::from(cmd.output().expect("bash"))
}

#[test]
fn the_recipe_validates_deploys_and_registers_in_a_scratch_infrastructure_repository() {
    let scratch = tempfile::tempdir().unwrap();
    let repo = scratch.path().join("infra");
    std::fs::create_dir_all(repo.join("environments")).unwrap();
    let url = emulator().url();
    let yaml = recipe();
    let jobs = &yaml["jobs"];
    let tsw = |args: &[&str]| run(&repo, &Value::Null, &format!("tsw {}", args.join(" ")));
    for env in ["staging", "production"] {
        let stack = format!("--stack-name=it-ci-recipe-{env}");
        tsw(&["init", env, "--endpoint-url", &url, &stack]).success();
    }
    tsw(&["render"]).success();

    let plan = &jobs["plan"];
    run(&repo, plan, script(plan, "Validate every descriptor")).success();
    run(
        &repo,
        plan,
        script(plan, "The rendered files are committed"),
    )
    .success();

    for job in ["deploy-staging", "deploy-production"] {
        let job = &jobs[job];
        run(&repo, job, script(job, "Deploy")).success();
        let stage = job["env"]["STAGE"].as_str().unwrap();
        let descriptor =
            std::fs::read_to_string(repo.join(format!("environments/{stage}.toml"))).unwrap();
        assert!(
            descriptor.contains("[outputs]\nrole_arn = "),
            "{descriptor}"
        );
        let register = run(
            &repo,
            job,
            script(job, "Register the Worker Deployment Versions"),
        );
        register.success();
        assert!(
            register.all().contains("nothing to register"),
            "{}",
            register.all()
        );
    }

    // The full plan (the step summary) speaks the name the program was installed as.
    let plan = run(&repo, &Value::Null, "tsw plan staging --output markdown");
    plan.success();
    assert!(plan.stdout.starts_with("## tsw plan\n"), "{}", plan.stdout);
}
