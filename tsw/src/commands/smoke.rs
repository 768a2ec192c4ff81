//! `smoke`: run each version's smoke workflow and show which build ran it, the end-to-end proof
//! that Temporal starts the worker through Lambda. It writes nothing, so it takes no lock.

use std::process::ExitCode;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result, bail};
use env_descriptor::{Environment, Layout, Smoke, WorkerDeployment};
use worker_deployments::{Client, WorkflowEnd, bound_task_queues};

/// How long a version may take to bind its task queues after `register`: the first invocation
/// starts a new worker process, which polls within a few seconds (§6 of the reference).
const BINDING_WAIT: Duration = Duration::from_secs(20);

/// Run the smoke workflow of each `[[worker_deployments]]` entry that declares one.
#[derive(Debug, clap::Args)]
#[command(after_help = "\
For each `[[worker_deployments]]` entry with a smoke workflow, starts it on its task queue,
waits for it to close (at most --timeout), and prints its result and the build ID that ran it.
Fails, naming the likely cause, when the version is not registered, no task queue is bound to
it (the function's first invocation failed: its timeout, its reach to the frontend, or its
deployment name and build ID), it is not the current version, or the workflow failed or timed
out. Uses the official `temporal` CLI, like `register`.

  [[worker_deployments]]
  ...
  smoke_workflow = \"Greet\"          # the workflow type
  smoke_task_queue = \"sample-worker\" # a task queue the worker polls
  smoke_input = '\"smoke\"'           # optional: its input, as JSON

Examples:
  cargo xtask smoke local
  cargo xtask sandbox up && cargo xtask deploy local --register && cargo xtask smoke local
  cargo xtask smoke staging --timeout 2m
  cargo xtask smoke staging --output json")]
pub struct Args {
    /// The environment (environments/ENV.toml).
    env: String,
    /// How long each workflow may take, from its start to its close.
    #[arg(long, value_name = "DURATION", default_value = "60s", value_parser = humantime::parse_duration)]
    timeout: Duration,
    #[command(flatten)]
    output: crate::output::OutputArgs,
}

impl Args {
    pub fn run(self, layout: &Layout) -> Result<ExitCode> {
        let env = crate::envs::load_env(layout, &self.env)?;
        let smokes: Vec<(&WorkerDeployment, Smoke)> = env
            .worker_deployments
            .iter()
            .filter_map(|wd| wd.smoke().map(|s| (wd, s)))
            .collect();
        if smokes.is_empty() {
            bail!(
                "{}: no `[[worker_deployments]]` entry of `{}` declares `smoke_workflow` and `smoke_task_queue`",
                env.name,
                crate::relative(layout, &env.file)
            );
        }
        let client =
            crate::commands::register::connect(layout, &env, worker_deployments::Scope::One)?;
        let out = self.output;
        let mut failed = 0;
        let mut results = Vec::new();
        for (wd, smoke) in smokes {
            let (result, error) = match run_one(&client, &env, wd, &smoke, self.timeout) {
                Ok(line) => {
                    out.line(format_args!("{}: {line}", env.name));
                    (Some(line), None)
                }
                Err(e) => {
                    safe_text::eprintln!(
                        "{}: smoke `{}` of {} failed: {e:#}",
                        env.name,
                        smoke.workflow,
                        wd.id()
                    );
                    failed += 1;
                    (None, Some(format!("{e:#}")))
                }
            };
            results.push(serde_json::json!({
                "worker_deployment_version": wd.id(),
                "workflow": smoke.workflow.to_string(),
                "task_queue": smoke.task_queue.to_string(),
                "ok": error.is_none(),
                "result": result,
                "error": error,
            }));
        }
        out.document(
            "smoke",
            serde_json::json!({ "environment": env.name, "ok": failed == 0, "smokes": results }),
        );
        Ok(if failed == 0 {
            ExitCode::SUCCESS
        } else {
            ExitCode::FAILURE
        })
    }
}

/// Checks that the version can take the workflow, runs it, and says what ran it.
fn run_one(
    client: &Client,
    env: &Environment,
    wd: &WorkerDeployment,
    smoke: &Smoke,
    timeout: Duration,
) -> Result<String> {
    ready(client, env, wd, smoke)?;
    let workflow_id = format!("smoke-{}-{}-{}", wd.name, wd.build_id, unix_millis());
    let started = Instant::now();
    let end = client
        .execute_workflow(wd, smoke, &workflow_id, timeout)
        .map_err(anyhow::Error::msg)
        .context("starting the workflow")?;
    let elapsed = started.elapsed();
    let result = match end {
        WorkflowEnd::Completed { result } => result,
        WorkflowEnd::TimedOut => bail!(
            "workflow `{workflow_id}` did not complete within {}: no worker took it (did the function's invocation fail? see the emulator's or CloudWatch's log), or it runs longer (raise --timeout)",
            humantime::format_duration(timeout)
        ),
        WorkflowEnd::Other { status, message } => {
            bail!("workflow `{workflow_id}` failed ({status}): {message}")
        }
    };
    let ran_by = match client.workflow_version(&wd.namespace, &workflow_id) {
        Ok(Some((name, build))) => format!("build `{build}` of deployment `{name}`"),
        Ok(None) => "an unversioned worker".to_owned(),
        Err(e) => format!("a worker whose version is unknown ({e})"),
    };
    Ok(format!(
        "smoke `{}` on `{}` completed in {:.1} s, run by {ran_by}: {result}",
        smoke.workflow,
        smoke.task_queue,
        elapsed.as_secs_f64()
    ))
}

/// The version exists, its worker has bound the smoke's task queue (waiting a little, since
/// `register` may have just made the first invocation), and it is current: otherwise the
/// workflow would never be dispatched to Lambda, and the run would only time out.
fn ready(client: &Client, env: &Environment, wd: &WorkerDeployment, smoke: &Smoke) -> Result<()> {
    let tsw = crate::cli::name();
    let deadline = Instant::now() + BINDING_WAIT;
    let queues = loop {
        let Some(version) = client.describe_version(wd)? else {
            bail!(
                "version {} is not registered: run `{tsw} register {}`",
                wd.id(),
                env.name
            );
        };
        let queues = bound_task_queues(&version);
        if !queues.is_empty() || Instant::now() >= deadline {
            break queues;
        }
        std::thread::sleep(Duration::from_millis(500));
    };
    if queues.is_empty() {
        bail!(
            "no task queue is bound to version {}: the function's first invocation (at registration) never reached a polling worker. Likely: its timeout leaves no time after the 7 s the Lambda worker keeps for shutdown, it cannot reach `temporal.address`, or its deployment name or build ID differ from the version's (`{tsw} doctor {}` checks these). Temporal invokes a version only once to bind its queues: fix the function, then register a new build ID",
            wd.id(),
            env.name
        );
    }
    if !queues.iter().any(|q| q == smoke.task_queue.as_str()) {
        bail!(
            "the version's worker polls {}, not `{}`: correct `smoke_task_queue`",
            queues
                .iter()
                .map(|q| format!("`{q}`"))
                .collect::<Vec<_>>()
                .join(", "),
            smoke.task_queue
        );
    }
    let current = client.current_build_id(wd)?;
    if current.as_deref() != Some(wd.build_id.as_str()) {
        bail!(
            "version {} is not current (current: {}), so new workflows are not routed to it: set `set_current = true` on the entry and run `{tsw} register {}`",
            wd.id(),
            current.map_or("none".to_owned(), |b| format!("`{b}`")),
            env.name
        );
    }
    Ok(())
}

fn unix_millis() -> u128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis())
}

#[cfg(test)]
mod tests {
    use aws_sandbox::{SAMPLE_TASK_QUEUE, SAMPLE_WORKFLOW};

    /// `environments/local.toml` smokes the sample worker the sandbox deploys.
    #[test]
    fn the_sandbox_smokes_the_sample_worker() {
        let layout = env_descriptor::Layout::discover(Some(
            &std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(".."),
        ))
        .unwrap();
        let env = crate::envs::load_env(&layout, "local").unwrap();
        let smoke = env.worker_deployments[0].smoke().unwrap();
        assert_eq!(smoke.workflow.as_str(), SAMPLE_WORKFLOW);
        assert_eq!(smoke.task_queue.as_str(), SAMPLE_TASK_QUEUE);
    }
}
