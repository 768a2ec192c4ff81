//! The sandbox's Lambda functions: the stand-ins for the user's own function deploys, created in
//! the emulator by `python/seed_lambda.py`. A function that a Worker Deployment Version names
//! runs the sample worker (`worker/`), which the emulator really runs when Temporal invokes it;
//! any other gets a stub handler.

use std::time::Duration;

use crate::{PythonEnv, SandboxError, sandbox_child};

/// How long creating or updating the functions may take: a zip and a few calls each, on an
/// emulator that may be slow under load.
const SEED_DEADLINE: Duration = Duration::from_secs(300);

const SEED_LAMBDA: &str = include_str!("../python/seed_lambda.py");

/// The sample worker's files (`temporalio.contrib.aws.lambda_worker`, one workflow, one
/// activity), packaged into the function's zip.
const SAMPLE_WORKER_FILES: &[(&str, &str)] = &[
    ("handler.py", include_str!("../worker/handler.py")),
    ("workflows.py", include_str!("../worker/workflows.py")),
];

/// The sample worker's Lambda handler.
const SAMPLE_WORKER_HANDLER: &str = "handler.lambda_handler";

/// The task queue the sample worker polls.
pub const SAMPLE_TASK_QUEUE: &str = "sample-worker";

/// The sample workflow's type: `Greet(name)` returns `Hello, NAME!` after one activity.
pub const SAMPLE_WORKFLOW: &str = "Greet";

/// The sample worker's function timeout: `lambda_worker` keeps 7 s of it for shutdown and polls
/// for the rest, so a timeout of 8 s or less never binds a task queue.
pub const SAMPLE_WORKER_TIMEOUT: Duration = Duration::from_secs(30);

/// A Lambda function that runs the sample worker as one Worker Deployment Version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SampleWorker {
    pub function_arn: String,
    /// `TEMPORAL_ADDRESS`: the frontend the worker dials (`host:port`).
    pub frontend: String,
    pub namespace: String,
    pub task_queue: String,
    /// The version the worker polls as; it must be the registered one.
    pub deployment_name: String,
    pub build_id: String,
    pub timeout: Duration,
}

impl SampleWorker {
    /// The sample worker for the version `deployment_name`@`build_id` in `namespace`, polling
    /// [`SAMPLE_TASK_QUEUE`] on `frontend`, with [`SAMPLE_WORKER_TIMEOUT`].
    pub fn for_version(
        function_arn: &str,
        frontend: &str,
        namespace: &str,
        deployment_name: &str,
        build_id: &str,
    ) -> Self {
        SampleWorker {
            function_arn: function_arn.to_owned(),
            frontend: frontend.to_owned(),
            namespace: namespace.to_owned(),
            task_queue: SAMPLE_TASK_QUEUE.to_owned(),
            deployment_name: deployment_name.to_owned(),
            build_id: build_id.to_owned(),
            timeout: SAMPLE_WORKER_TIMEOUT,
        }
    }

    /// The function's environment: what `lambda_worker` reads, and the version to poll as.
    fn environment(&self) -> serde_json::Value {
        serde_json::json!({
            "TEMPORAL_ADDRESS": self.frontend,
            "TEMPORAL_NAMESPACE": self.namespace,
            "TEMPORAL_TASK_QUEUE": self.task_queue,
            "TEMPORAL_DEPLOYMENT_NAME": self.deployment_name,
            "TEMPORAL_WORKER_BUILD_ID": self.build_id,
        })
    }

    fn spec(&self) -> serde_json::Value {
        let files: serde_json::Map<String, serde_json::Value> = SAMPLE_WORKER_FILES
            .iter()
            .map(|(name, text)| ((*name).to_owned(), (*text).into()))
            .collect();
        serde_json::json!({
            "arn": self.function_arn,
            "worker": {
                "files": files,
                "handler": SAMPLE_WORKER_HANDLER,
                "timeout": self.timeout.as_secs(),
                "env": self.environment(),
            },
        })
    }
}

/// Creates the Lambda functions `arns` in the emulator at `endpoint` (a stub handler), unless
/// they exist. The sandbox's stand-in for the user's own function deployment.
pub fn seed_lambda_functions(
    env: &PythonEnv,
    endpoint: &str,
    region: &str,
    arns: &[&str],
) -> Result<(), SandboxError> {
    let functions = arns
        .iter()
        .map(|arn| serde_json::json!({ "arn": arn, "worker": null }))
        .collect();
    seed(env, endpoint, region, functions).map(drop)
}

/// Creates, or updates when its code or configuration changed, each function of `workers` from
/// the sample worker, and publishes a version of it. Returns one line per function.
pub fn deploy_sample_workers(
    env: &PythonEnv,
    endpoint: &str,
    region: &str,
    workers: &[SampleWorker],
) -> Result<Vec<String>, SandboxError> {
    let functions = workers.iter().map(SampleWorker::spec).collect();
    seed(env, endpoint, region, functions)
}

fn seed(
    env: &PythonEnv,
    endpoint: &str,
    region: &str,
    functions: Vec<serde_json::Value>,
) -> Result<Vec<String>, SandboxError> {
    if functions.is_empty() {
        return Ok(Vec::new());
    }
    if !local_endpoint::is_loopback(endpoint) {
        return Err(SandboxError::NotLoopback(endpoint.into()));
    }
    let what = "creating Lambda functions in the emulator";
    let failed = |message: String| SandboxError::Command {
        what: what.into(),
        message,
    };
    let spec = serde_json::json!({ "endpoint": endpoint, "functions": functions });
    let out = sandbox_child(env.python())
        .arg("-c")
        .arg(SEED_LAMBDA)
        .env("AWS_DEFAULT_REGION", region)
        .input(spec.to_string())
        .output(SEED_DEADLINE)
        .map_err(|e| failed(e.to_string()))?;
    if !out.status.success() {
        let stderr = String::from_utf8_lossy(&out.stderr);
        let tail: Vec<&str> = stderr.lines().rev().take(5).collect();
        return Err(failed(
            tail.into_iter().rev().collect::<Vec<_>>().join("\n"),
        ));
    }
    Ok(String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_owned)
        .collect())
}
