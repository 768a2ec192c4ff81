use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;
use std::time::Duration;

use aws_sandbox::{Owned, PythonEnv, SampleWorker, Sandbox, TemporalDev};

/// The workspace root (this file is `tests/integration/support.rs`).
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tsw/ has a parent")
        .to_owned()
}

/// The sandbox's pinned Python packages (moto, the Temporal CLI, temporalio), installed once
/// into the sandbox's cache: the same virtualenv users get.
pub fn python() -> &'static PythonEnv {
    static ENV: OnceLock<PythonEnv> = OnceLock::new();
    ENV.get_or_init(|| {
        let sandbox = Sandbox::new(&repo_root().join("target").join("xtask"));
        sandbox
            .python_env(&mut |line| eprintln!("test setup: {line}"))
            .unwrap_or_else(|e| panic!("cannot install the AWS emulator for the tests: {e}"))
    })
}

/// The tests' own Python tools (`requirements.txt` beside this file: cfn-lint, jsonschema), in
/// a virtualenv of their own, so that the emulator's is exactly the one users get.
pub fn test_tools() -> &'static PythonEnv {
    static ENV: OnceLock<PythonEnv> = OnceLock::new();
    ENV.get_or_init(|| {
        let dir = repo_root().join("target").join("xtask").join("test-tools");
        PythonEnv::ensure_pinned(&dir, include_str!("requirements.txt"), &mut |line| {
            eprintln!("test setup: {line}")
        })
        .unwrap_or_else(|e| panic!("cannot install the tests' Python tools: {e}"))
    })
}

fn work_dir() -> PathBuf {
    let dir = repo_root()
        .join("target")
        .join("xtask")
        .join("test-services");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// One emulator for the whole test run; it stops when the test process exits.
pub fn emulator() -> &'static Owned {
    static EMU: OnceLock<Owned> = OnceLock::new();
    EMU.get_or_init(|| {
        Owned::aws(python(), &work_dir())
            .unwrap_or_else(|e| panic!("cannot start the AWS emulator: {e}"))
    })
}

/// An emulator of its own on a free port that answers as account `id` (moto's
/// `MOTO_ACCOUNT_ID`), for tests with more than one account; it stops when dropped.
pub fn emulator_for_account(id: &str) -> Owned {
    Owned::aws_in_account(python(), &work_dir(), id)
        .unwrap_or_else(|e| panic!("cannot start the AWS emulator of account {id}: {e}"))
}

/// An emulator of its own on a free port, for tests whose state (an organization) must not be
/// shared; it answers as moto's default account (123456789012) and as any other account a request
/// names with the `x-moto-account-id` header, which [`emulator_for_account`]'s `MOTO_ACCOUNT_ID`
/// would override. It stops when dropped.
pub fn emulator_of_its_own() -> Owned {
    Owned::aws(python(), &work_dir())
        .unwrap_or_else(|e| panic!("cannot start an AWS emulator of its own: {e}"))
}

/// [`emulator_of_its_own`] whose StackSet operations stay RUNNING for `running` (1 s in the
/// others), for tests that act while one runs.
pub fn emulator_with_stack_set_operations_of(running: Duration) -> Owned {
    Owned::aws_with_stack_set_operations_of(python(), &work_dir(), running)
        .unwrap_or_else(|e| panic!("cannot start an AWS emulator of its own: {e}"))
}

/// A Temporal dev server (Temporal Server 1.32) whose AWS calls go to the test emulator,
/// with `dynamic_config` as its `--dynamic-config-value` flags.
pub fn temporal_server(dynamic_config: &[(&str, &str)]) -> Owned {
    let dev = TemporalDev {
        host: "127.0.0.1".into(),
        port: 0,
        namespaces: vec!["orders".into()],
        dynamic_config: dynamic_config
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect(),
        aws_endpoint: emulator().url(),
        aws_region: "us-east-1".into(),
    };
    Owned::temporal(python(), &work_dir(), dev)
        .unwrap_or_else(|e| panic!("cannot start the Temporal dev server: {e}"))
}

/// The dynamic config of the guide, as dev server flags: WCI on, aws-lambda, no-sync.
pub const WCI_ON: &[(&str, &str)] = &[
    ("workercontroller.enabled", "true"),
    (
        "workercontroller.compute_providers.enabled",
        "[\"aws-lambda\"]",
    ),
    (
        "workercontroller.scaling_algorithms.enabled",
        "[\"no-sync\"]",
    ),
];

/// A scratch checkout: the real templates, and environments written by the test.
pub struct Checkout {
    pub dir: tempfile::TempDir,
}

impl Checkout {
    pub fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let templates = dir.path().join("templates");
        std::fs::create_dir_all(&templates).unwrap();
        std::fs::create_dir_all(dir.path().join("environments")).unwrap();
        for entry in std::fs::read_dir(repo_root().join("templates")).unwrap() {
            let entry = entry.unwrap();
            std::fs::copy(entry.path(), templates.join(entry.file_name())).unwrap();
        }
        Checkout { dir }
    }

    pub fn root(&self) -> &Path {
        self.dir.path()
    }

    pub fn env_path(&self, name: &str) -> PathBuf {
        self.root()
            .join("environments")
            .join(format!("{name}.toml"))
    }

    pub fn write_env(&self, name: &str, text: &str) -> PathBuf {
        let path = self.env_path(name);
        std::fs::write(&path, text).unwrap();
        path
    }

    pub fn read_env(&self, name: &str) -> String {
        std::fs::read_to_string(self.env_path(name)).unwrap()
    }

    /// Runs `xtask --root CHECKOUT ARGS...` with emulator-safe AWS settings.
    pub fn xtask(&self, args: &[&str]) -> Run {
        xtask_in(self.root(), args)
    }
}

/// Every command the parser knows, as `--help` lists them (but `help`).
pub fn commands() -> Vec<String> {
    let help = xtask_in(&repo_root(), &["--help"]);
    help.success();
    help.stdout
        .lines()
        .skip_while(|l| *l != "Commands:")
        .skip(1)
        .take_while(|l| !l.is_empty())
        // A command's line is indented by two; a wrapped description by more.
        .filter_map(|l| l.strip_prefix("  ").filter(|l| !l.starts_with(' ')))
        .filter_map(|l| l.split_whitespace().next())
        .filter(|c| *c != "help")
        .map(str::to_owned)
        .collect()
}

pub fn xtask_in(root: &Path, args: &[&str]) -> Run {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_tsw"));
    cmd.arg("--root").arg(root).args(args);
    safe_aws_env(&mut cmd);
    let out = cmd.output().expect("run xtask");
    Run::from(out)
}

/// No instance metadata, dummy keys, none of the caller's AWS settings.
pub fn safe_aws_env(cmd: &mut Command) {
    for var in [
        "AWS_PROFILE",
        "AWS_SESSION_TOKEN",
        "AWS_ENDPOINT_URL",
        "XTASK_ROOT",
        "AWS_CONFIG_FILE",
        "AWS_SHARED_CREDENTIALS_FILE",
    ] {
        cmd.env_remove(var);
    }
    cmd.env("TEMPORAL_CLI", python().bin("temporal"));
    cmd.env("AWS_EC2_METADATA_DISABLED", "true")
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env("AWS_REGION", "us-east-1");
}

#[derive(Debug)]
pub struct Run {
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

impl From<Output> for Run {
    fn from(out: Output) -> Self {
        Run {
            code: out.status.code(),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }
}

impl Run {
    #[track_caller]
    pub fn success(&self) -> &Self {
        assert_eq!(
            self.code,
            Some(0),
            "expected success\nstdout:\n{}\nstderr:\n{}",
            self.stdout,
            self.stderr
        );
        self
    }

    #[track_caller]
    pub fn failure(&self) -> &Self {
        assert_eq!(
            self.code,
            Some(1),
            "expected exit code 1\nstdout:\n{}\nstderr:\n{}",
            self.stdout,
            self.stderr
        );
        self
    }

    /// The first line of stdout that contains `text` (a `doctor` check, a status row).
    #[track_caller]
    pub fn line(&self, text: &str) -> &str {
        self.stdout
            .lines()
            .find(|l| l.contains(text))
            .unwrap_or_else(|| panic!("no line with `{text}`:\n{}", self.stdout))
    }

    pub fn all(&self) -> String {
        format!("{}{}", self.stdout, self.stderr)
    }
}

pub const ACCOUNT: &str = "123456789012";

/// A descriptor for the test emulator, with comments and hand formatting that must survive.
pub fn descriptor(stack: &str, external_id: &str, functions: &[&str]) -> String {
    let functions: Vec<String> = functions
        .iter()
        .map(|f| format!("\"arn:aws:lambda:us-east-1:{ACCOUNT}:function:{f}\""))
        .collect();
    format!(
        r#"# Hand-written header comment: must survive every deploy.
[aws]
region   =   "us-east-1"     # aligned by hand
endpoint_url = "{url}"

[temporal]
server_role_arn = "arn:aws:iam::{ACCOUNT}:user/moto"
namespaces = [ "orders",   "billing" ]  # odd spacing kept

[role]   # the stack
stack_name = "{stack}"
external_id = '{external_id}'
lambda_function_arns = [
  {functions},   # trailing comment
]

[deploy]
confirm = true
"#,
        url = emulator().url(),
        functions = functions.join(",\n  "),
    )
}

/// Runs `statement` in Python with `client` (a boto3 client of `service` on the test emulator
/// itself, never a proxy) and `json` in scope, and returns what it prints: for setting up and
/// checking what a test needs outside the tool.
pub fn boto3(service: &str, statement: &str) -> String {
    boto3_at(&emulator().url(), service, statement)
}

/// [`boto3`] on the emulator at `url`.
pub fn boto3_at(url: &str, service: &str, statement: &str) -> String {
    python_stdout(&format!(
        "import boto3, json\nclient = boto3.client('{service}', endpoint_url='{url}', region_name='us-east-1')\n{statement}\n"
    ))
}

/// Makes the emulator at `url` check every request from here on against its signer's IAM
/// policies (`POST /moto-api/reset-auth` with no request left unchecked). The body is plain
/// text: a form-encoded one would be parsed as a form, leaving moto an empty count.
pub fn enforce_iam(url: &str) {
    python_stdout(&format!(
        "import urllib.request\n\
         urllib.request.urlopen(urllib.request.Request('{url}/moto-api/reset-auth', data=b'0', \
         method='POST', headers={{'Content-Type': 'text/plain'}}))"
    ));
}

/// Runs `script` with the tests' Python (boto3 installed) and the safe AWS environment; fails
/// the test with its stderr unless it succeeds, and returns what it printed, trimmed.
pub fn python_stdout(script: &str) -> String {
    let mut cmd = Command::new(python().python());
    cmd.args(["-c", script]);
    safe_aws_env(&mut cmd);
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

/// [`boto3`] with an IAM client named `iam`.
pub fn iam(statement: &str) {
    boto3("iam", &format!("iam = client\n{statement}"));
}

/// [`boto3`] with a CloudFormation client named `cfn`.
pub fn cfn(statement: &str) -> String {
    boto3("cloudformation", &format!("cfn = client\n{statement}"))
}

/// Creates Lambda functions (by name) in the test emulator, as a user's own deploy would.
pub fn create_functions(names: &[&str]) {
    let arns: Vec<String> = names
        .iter()
        .map(|n| format!("arn:aws:lambda:us-east-1:{ACCOUNT}:function:{n}"))
        .collect();
    let arns: Vec<&str> = arns.iter().map(String::as_str).collect();
    aws_sandbox::seed_lambda_functions(python(), &emulator().url(), "us-east-1", &arns).unwrap();
}

impl Checkout {
    /// Runs `xtask --root CHECKOUT ARGS...` with emulator-safe AWS settings, then `vars` on top
    /// (a `None` value removes the variable).
    pub fn xtask_with(&self, args: &[&str], vars: &[(&str, Option<&str>)]) -> Run {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_tsw"));
        cmd.arg("--root").arg(self.root()).args(args);
        safe_aws_env(&mut cmd);
        for (key, value) in vars {
            match value {
                Some(v) => cmd.env(key, v),
                None => cmd.env_remove(key),
            };
        }
        Run::from(cmd.output().expect("run xtask"))
    }

    /// Makes the checkout's sandbox look installed (its virtualenv is the tests' one), so that
    /// whatever the tool would start, it starts at once instead of installing first.
    pub fn with_installed_sandbox(self) -> Self {
        let sandbox = self.root().join("target/xtask/sandbox");
        std::fs::create_dir_all(&sandbox).unwrap();
        std::os::unix::fs::symlink(python().dir(), sandbox.join("venv")).unwrap();
        self
    }
}

impl Checkout {
    /// Puts the test emulator's Lambda directory where the checkout's sandbox keeps the one of
    /// an emulator on that port, so that the tool finds its invocation log as in the sandbox.
    pub fn with_emulator_lambda_dir(self) -> Self {
        let lambda_dir = emulator().invocation_log().parent().unwrap().to_owned();
        let sandbox = self.root().join("target/xtask/sandbox");
        std::fs::create_dir_all(&sandbox).unwrap();
        std::os::unix::fs::symlink(&lambda_dir, sandbox.join(lambda_dir.file_name().unwrap()))
            .unwrap();
        self
    }
}

/// A port on 127.0.0.1 that nothing listens on (free a moment ago).
pub fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

/// An `[outputs]` table as `deploy` would have recorded it for `stack` (which need not exist).
pub fn recorded_outputs(stack: &str) -> String {
    format!(
        "\n[outputs]\nrole_arn = \"arn:aws:iam::{ACCOUNT}:role/Temporal-Serverless-Worker-{stack}\"\n\
         stack_id = \"arn:aws:cloudformation:us-east-1:{ACCOUNT}:stack/{stack}/0f0e0d0c-0b0a-4909-8807-060504030201\"\n\
         deployed_at = \"2026-01-02T03:04:05Z\"\n"
    )
}

/// The ARN of `function` in the test emulator.
pub fn function_arn(function: &str) -> String {
    format!("arn:aws:lambda:us-east-1:{ACCOUNT}:function:{function}")
}

/// The sample worker's function timeout in these tests: `lambda_worker` keeps 7 s of it for
/// shutdown and polls for the other 3 s, so the bootstrap invocation ends soon.
pub const WORKER_TIMEOUT: Duration = Duration::from_secs(10);

/// The longest an invocation of a function with `timeout` takes in the emulator, from the
/// moment the server is asked to invoke it: as on AWS, an init phase of up to 10 s (the
/// interpreter's start and the handler's import, not counted in the timeout), then the timeout,
/// plus 10 s for the server to invoke it and for the test to see what it did.
pub fn invocation_window(timeout: Duration) -> Duration {
    Duration::from_secs(10) + timeout + Duration::from_secs(10)
}

/// Deploys the sample worker as `function`, polling in namespace `orders` as `deployment`@build-1 on `address`.
pub fn deploy_sample_worker(function: &str, address: &str, deployment: &str, timeout: Duration) {
    let worker = SampleWorker {
        timeout,
        ..SampleWorker::for_version(
            &function_arn(function),
            address,
            "orders",
            deployment,
            "build-1",
        )
    };
    aws_sandbox::deploy_sample_workers(python(), &emulator().url(), "us-east-1", &[worker])
        .unwrap_or_else(|e| panic!("deploying the sample worker: {e}"));
}

/// Runs the pinned Temporal CLI against `address` in namespace `orders` with `--output json`.
pub fn temporal_cli(address: &str, args: &[&str]) -> std::process::Output {
    Command::new(python().bin("temporal"))
        .args(args)
        .args([
            "--address",
            address,
            "--namespace",
            "orders",
            "--output",
            "json",
        ])
        .output()
        .unwrap()
}

/// [`temporal_cli`], and what it printed, parsed; fails the test when the CLI fails.
pub fn temporal_json(address: &str, args: &[&str]) -> serde_json::Value {
    let out = temporal_cli(address, args);
    assert!(
        out.status.success(),
        "temporal {args:?}: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

/// `describe-version` of build `build-1` of `deployment` in namespace `orders`.
pub fn describe_version(address: &str, deployment: &str) -> serde_json::Value {
    temporal_json(
        address,
        &[
            "worker",
            "deployment",
            "describe-version",
            "--deployment-name",
            deployment,
            "--build-id",
            "build-1",
        ],
    )
}
