//! The CI recipe (`docs/ci/environments.yml`) run where it is meant to run: a scratch
//! infrastructure repository (only `environments/`, made by the installed `tsw init` and
//! `tsw render`, no Cargo workspace), its scripts run by bash as GitHub runs them, with `tsw` the
//! built binary as installed and AWS the emulator. `tsw/src/ci_recipe.rs` checks every command
//! line of the recipe; this runs those that can run here: validate, render --check, and each
//! stage's deploy and register.

use std::path::Path;
use std::process::Command;

use serde_yaml::Value;

use crate::support::{
    ACCOUNT, Run, emulator, emulator_for_account, python_stdout, repo_root, safe_aws_env,
};

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
    run_installed(
        Path::new(env!("CARGO_BIN_EXE_tsw")),
        repo,
        job,
        script,
        vars,
    )
}

/// [`run_with`] with `tsw` the binary at `tsw`.
fn run_installed(tsw: &Path, repo: &Path, job: &Value, script: &str, vars: &[(&str, &str)]) -> Run {
    let mut cmd = Command::new("bash");
    cmd.args(["--noprofile", "--norc", "-eo", "pipefail", "-c"])
        .arg(format!("tsw() {{ \"$TSW_BIN\" \"$@\"; }}\n{script}"))
        .current_dir(repo)
        .env("TSW_BIN", tsw)
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

/// The done-when walkthrough of issue 21, as far as it runs without a network: the tool
/// "installed" (the built binary copied outside the checkout), two environments made by its
/// `init` in a new infrastructure repository outside the checkout, and the recipe's steps run
/// there by bash, each stage's plan and deploy signed by an IAM user of an emulator that
/// enforces IAM, holding exactly what `tsw policy --for plan-read-only` and `--for deploy`
/// print for that stage's environments (the plan roles and deploy roles of docs/ci.md; the
/// resources of CloudFormation statements widened, which the emulator does not check): the
/// read-only plan of the new stacks (exit 2, recorded for the step), the comment composed from
/// both stages' summaries, each stage deployed and registered, then a plan with no changes.
#[test]
fn the_walkthrough_plans_comments_and_deploys_each_stage_with_only_its_printed_policies() {
    let emu = emulator_for_account(ACCOUNT);
    let url = emu.url();
    let scratch = tempfile::tempdir().unwrap();
    let bin = scratch.path().join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    let tsw = bin.join("tsw");
    std::fs::copy(env!("CARGO_BIN_EXE_tsw"), &tsw).unwrap();
    let repo = scratch.path().join("infra");
    std::fs::create_dir_all(repo.join("environments")).unwrap();
    let yaml = recipe();
    let jobs = &yaml["jobs"];
    let sh = |script: &str, vars: &[(&str, &str)]| {
        run_installed(&tsw, &repo, &Value::Null, script, vars)
    };
    let stages = ["staging", "production"];
    for env in stages {
        sh(
            &format!(
                "tsw init {env} --region us-east-1 --endpoint-url {url} --stack-name=it-walk-{env}"
            ),
            &[],
        )
        .success();
    }
    sh("tsw render", &[]).success();

    // The roles of each stage, made while the emulator still lets anyone in.
    let boto3 = |keys: Option<&(String, String)>, statement: &str| {
        let (id, secret) = keys.map_or(("testing", "testing"), |(i, s)| (i.as_str(), s.as_str()));
        python_stdout(&format!(
            "import boto3, json, urllib.request\n\
             iam = boto3.client('iam', endpoint_url='{url}', region_name='us-east-1', aws_access_key_id='{id}', aws_secret_access_key='{secret}')\n\
             {statement}\n"
        ))
    };
    let role = |name: &str, policy: &str| -> (String, String) {
        let document = if policy.is_empty() {
            String::new()
        } else {
            format!(
                "iam.put_user_policy(UserName='{name}', PolicyName='tsw', PolicyDocument={policy:?})\n"
            )
        };
        let out = boto3(
            None,
            &format!(
                "iam.create_user(UserName='{name}')\n{document}\
                 k = iam.create_access_key(UserName='{name}')['AccessKey']\n\
                 print(k['AccessKeyId'] + ' ' + k['SecretAccessKey'])"
            ),
        );
        let (id, secret) = out.split_once(' ').unwrap();
        (id.to_owned(), secret.to_owned())
    };
    let mut keys = std::collections::BTreeMap::new();
    for stage in stages {
        for (job, use_) in [("plan", "plan-read-only"), ("deploy", "deploy")] {
            let printed = sh(&format!("tsw policy {stage} --for {use_}"), &[]);
            printed.success();
            // The emulator checks resources for STS, IAM and Lambda, not for CloudFormation:
            // the printed document, with the resources of its CloudFormation statements
            // widened to `*` (their scoping is proven by `aws::actions`' unit tests).
            let mut policy: serde_json::Value = serde_json::from_str(&printed.stdout).unwrap();
            for statement in policy["Statement"].as_array_mut().unwrap() {
                let cloudformation = statement["Action"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .all(|a| a.as_str().unwrap().starts_with("cloudformation:"));
                if cloudformation {
                    statement["Resource"] = serde_json::json!("*");
                }
            }
            keys.insert(
                (stage, job),
                role(&format!("walk-{stage}-{job}"), &policy.to_string()),
            );
        }
    }
    crate::support::enforce_iam(&url);
    let signed = |stage: &str, job: &str| -> Vec<(&'static str, String)> {
        let (id, secret) = &keys[&(stage, job)];
        vec![
            (aws::LOOPBACK_ACCESS_KEY_ID, id.clone()),
            (aws::LOOPBACK_SECRET_ACCESS_KEY, secret.clone()),
        ]
    };

    let plan_job = &jobs["plan"];
    run_installed(
        &tsw,
        &repo,
        plan_job,
        script(plan_job, "Validate every descriptor"),
        &[],
    )
    .success();
    run_installed(
        &tsw,
        &repo,
        plan_job,
        script(plan_job, "The rendered files are committed"),
        &[],
    )
    .success();
    let plan_step = script(plan_job, "Plan (read-only)");
    let output = scratch.path().join("github_output");
    let plan = |stage: &str| -> (Run, String) {
        std::fs::write(&output, "").unwrap();
        let vars = signed(stage, "plan");
        let mut all: Vec<(&str, &str)> = vars.iter().map(|(k, v)| (*k, v.as_str())).collect();
        all.extend([("STAGE", stage), ("ENVIRONMENTS", stage), ("STAGES", "2")]);
        let run = run_installed(&tsw, &repo, plan_job, plan_step, &all);
        (run, std::fs::read_to_string(&output).unwrap())
    };
    for stage in stages {
        let (run, recorded) = plan(stage);
        run.success();
        assert_eq!(recorded.trim(), "code=2", "{}", run.all());
        let summary = std::fs::read_to_string(repo.join("out/summary.md")).unwrap();
        assert!(summary.contains(stage), "{summary}");
        let full = std::fs::read_to_string(repo.join("out/plan.md")).unwrap();
        assert!(full.contains("read-only"), "{full}");
        // What `Keep the plan` uploads and the comment job downloads.
        let kept = scratch.path().join(format!("plans/plan-{stage}"));
        std::fs::create_dir_all(&kept).unwrap();
        std::fs::copy(repo.join("out/summary.md"), kept.join("summary.md")).unwrap();
    }
    let comment_job = &jobs["comment"];
    let compose = Command::new("bash")
        .args(["--noprofile", "--norc", "-eo", "pipefail", "-c"])
        .arg(script(comment_job, "Compose the comment"))
        .current_dir(scratch.path())
        .env("HEAD_SHA", "0123456789abcdef0123456789abcdef01234567")
        .env("RUN_URL", "https://github.invalid/run")
        .env("GITHUB_STEP_SUMMARY", scratch.path().join("step_summary"))
        .output()
        .unwrap();
    assert!(compose.status.success(), "{compose:?}");
    let comment = std::fs::read_to_string(scratch.path().join("comment.md")).unwrap();
    assert!(
        comment.starts_with("<!-- tsw-plan -->\n## tsw plan of 0123456789abcdef"),
        "{comment}"
    );
    for stage in stages {
        assert!(comment.contains(&format!("### Stage {stage}")), "{comment}");
    }
    assert!(comment.len() < 65_536, "{} characters", comment.len());

    for job in ["deploy-staging", "deploy-production"] {
        let job = &jobs[job];
        let stage = job["env"]["STAGE"].as_str().unwrap();
        let vars = signed(stage, "deploy");
        let vars: Vec<(&str, &str)> = vars.iter().map(|(k, v)| (*k, v.as_str())).collect();
        run_installed(&tsw, &repo, job, script(job, "Deploy"), &vars).success();
        let descriptor =
            std::fs::read_to_string(repo.join(format!("environments/{stage}.toml"))).unwrap();
        assert!(
            descriptor.contains("[outputs]\nrole_arn = "),
            "{descriptor}"
        );
        let register = run_installed(
            &tsw,
            &repo,
            job,
            script(job, "Register the Worker Deployment Versions"),
            &vars,
        );
        register.success();
    }
    for stage in stages {
        let (run, recorded) = plan(stage);
        run.success();
        assert_eq!(recorded.trim(), "code=0", "{}", run.all());
    }
}
