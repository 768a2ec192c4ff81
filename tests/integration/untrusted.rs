//! A pull request is untrusted input: what it may name (variables, a CLI under `target/`) never
//! reaches a frontend or runs, and what the tool starts gets only what it needs.

use crate::support::*;

/// A descriptor that needs no service to validate, with `temporal` added to its `[temporal]`.
fn offline(temporal: &str) -> String {
    format!(
        "[aws]\nregion = \"us-east-1\"\n\n[temporal]\nserver_role_arn = \"arn:aws:iam::{ACCOUNT}:role/t\"\n{temporal}\n\n\
         [role]\nstack_name = \"untrusted\"\nexternal_id = \"untrusted-ext-id\"\n\
         lambda_function_arns = [\"arn:aws:lambda:us-east-1:{ACCOUNT}:function:f\"]\n"
    )
}

/// `api_key_env` may name only a Temporal key's variable, and a key goes in cleartext only to
/// loopback: `validate` refuses the rest, naming the key and what is allowed.
#[test]
fn validate_refuses_a_key_from_another_secret_or_in_cleartext() {
    let co = Checkout::new();
    co.write_env(
        "steal",
        &offline("address = \"127.0.0.1:7233\"\napi_key_env = \"AWS_SECRET_ACCESS_KEY\""),
    );
    let run = co.xtask(&["validate", "steal"]);
    run.failure();
    assert!(
        run.all().contains("temporal.api_key_env")
            && run.all().contains("`AWS_SECRET_ACCESS_KEY` is not allowed")
            && run.all().contains("`TEMPORAL_API_KEY`"),
        "{}",
        run.all()
    );
    co.write_env(
        "clear",
        &offline("address = \"temporal.example.invalid:7233\"\ntls = false\napi_key_env = \"TEMPORAL_API_KEY\""),
    );
    let run = co.xtask(&["validate", "clear"]);
    run.failure();
    assert!(
        run.all().contains("temporal.tls") && run.all().contains("cleartext"),
        "{}",
        run.all()
    );
    co.write_env(
        "local",
        &offline("address = \"127.0.0.1:7233\"\ntls = false\napi_key_env = \"TEMPORAL_API_KEY\""),
    );
    co.xtask(&["validate", "local"]).success();
}

/// A stand-in for the Temporal CLI at `path`: each call appends `--- ARGS` and its environment
/// to `log`; `--version` answers 1.9.1 (after `version_wait`, a `sleep` argument: `1000` never
/// answers in time), anything else fails with "not found".
fn fake_cli(path: &std::path::Path, log: &std::path::Path, version_wait: &str) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    let script = format!(
        "#!/bin/sh\necho \"--- $*\" >> '{log}'\nenv >> '{log}'\n\
         if [ \"$1\" = --version ]; then sleep {version_wait}; echo 'temporal version 1.9.1'; exit 0; fi\n\
         echo 'Error: not found' >&2\nexit 1\n",
        log = log.display()
    );
    std::fs::write(path, script).unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).unwrap();
}

/// A descriptor on the test emulator whose frontend is `address`, with one version.
fn with_frontend(stack: &str, address: &str) -> String {
    descriptor(stack, "untrusted-ext-id", &["it-untrusted-fn"]).replace(
        "namespaces = [ \"orders\",   \"billing\" ]  # odd spacing kept\n",
        &format!("address = \"{address}\"\n"),
    ) + &format!(
        "\n[[worker_deployments]]\nnamespace = \"orders\"\nname = \"{stack}-worker\"\nbuild_id = \"build-1\"\nlambda_function_arn = \"{}\"\n",
        function_arn("it-untrusted-fn")
    )
}

/// Runs `xtask --root CO ARGS` as [`Checkout::xtask_with`] does, killed (by its pid) when it
/// has not finished within `limit`: `None` then.
fn xtask_within(
    co: &Checkout,
    args: &[&str],
    vars: &[(&str, Option<&str>)],
    limit: std::time::Duration,
) -> Option<Run> {
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_tsw"));
    cmd.arg("--root").arg(co.root()).args(args);
    safe_aws_env(&mut cmd);
    for (key, value) in vars {
        match value {
            Some(v) => cmd.env(key, v),
            None => cmd.env_remove(key),
        };
    }
    let out = co.root().join("out.txt");
    let err = co.root().join("err.txt");
    cmd.stdout(std::fs::File::create(&out).unwrap())
        .stderr(std::fs::File::create(&err).unwrap());
    let mut child = cmd.spawn().unwrap();
    let start = std::time::Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if start.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            return None;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    };
    Some(Run {
        code: status.code(),
        stdout: std::fs::read_to_string(out).unwrap(),
        stderr: std::fs::read_to_string(err).unwrap(),
    })
}

/// The CLI child gets none of the caller's AWS keys or session token, nor its `TEMPORAL_*`
/// variables (the `--version` probe included): only the allow-list and what the call needs.
#[test]
fn the_cli_gets_no_aws_keys_and_no_temporal_variables_of_the_caller() {
    let frontend = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let address = frontend.local_addr().unwrap().to_string();
    let co = Checkout::new();
    co.write_env("kids", &with_frontend("it-untrusted-kids", &address));
    let cli = co.root().join("bin").join("temporal");
    let log = co.root().join("cli.log");
    fake_cli(&cli, &log, "0");
    let run = co.xtask_with(
        &["plan", "kids"],
        &[
            ("TEMPORAL_CLI", Some(cli.to_str().unwrap())),
            ("AWS_SESSION_TOKEN", Some("SENTINEL-session")),
            ("TEMPORAL_API_KEY", Some("SENTINEL-shell-key")),
            ("TEMPORAL_ADDRESS", Some("SENTINEL.example.invalid:7233")),
            ("GITHUB_TOKEN", Some("SENTINEL-github")),
        ],
    );
    run.success();
    let seen = std::fs::read_to_string(&log).unwrap_or_default();
    assert!(
        seen.contains("--- --version") && seen.contains("--- worker deployment describe-version"),
        "the CLI was not asked: {seen}\n{}",
        run.all()
    );
    for leaked in ["SENTINEL", "AWS_", "GITHUB_", "TEMPORAL_"] {
        assert!(
            !seen.contains(leaked),
            "`{leaked}` reached the CLI:\n{seen}"
        );
    }
}

/// A CLI whose `--version` never answers does not hold `plan`: the probe is killed at its
/// deadline, and the plan says which program did not answer in how long.
#[test]
fn a_cli_that_never_answers_is_stopped_and_named() {
    let frontend = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let address = frontend.local_addr().unwrap().to_string();
    let co = Checkout::new();
    co.write_env("hang", &with_frontend("it-untrusted-hang", &address));
    let cli = co.root().join("bin").join("temporal");
    fake_cli(&cli, &co.root().join("cli.log"), "1000");
    let run = xtask_within(
        &co,
        &["plan", "hang"],
        &[("TEMPORAL_CLI", Some(cli.to_str().unwrap()))],
        // Room for a machine under load.
        std::time::Duration::from_secs(300),
    )
    .expect("plan still waits for the CLI after 300 s");
    run.success();
    assert!(
        run.stdout
            .contains(&format!("`{}` did not finish within 10s", cli.display())),
        "{}",
        run.all()
    );
}

/// A `temporal` under the checkout's `target/` that the tool did not install (a pull request
/// can add one) never runs for an environment without `[sandbox]`: the CLI is TEMPORAL_CLI or
/// the one on PATH.
#[test]
fn a_cli_from_the_checkout_never_runs() {
    let frontend = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let address = frontend.local_addr().unwrap().to_string();
    let co = Checkout::new();
    co.write_env("planted", &with_frontend("it-untrusted-planted", &address));
    let log = co.root().join("cli.log");
    fake_cli(
        &co.root().join("target/xtask/sandbox/venv/bin/temporal"),
        &log,
        "0",
    );
    let run = co.xtask_with(&["plan", "planted"], &[("TEMPORAL_CLI", None)]);
    run.success();
    assert!(
        !log.exists(),
        "the checkout's program ran:\n{}",
        std::fs::read_to_string(&log).unwrap_or_default()
    );
    let on_path = std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default())
        .any(|dir| dir.join("temporal").exists());
    assert!(
        on_path || run.stdout.contains("the Temporal CLI was not found"),
        "{}",
        run.all()
    );
}

/// A Temporal CLI profile file that does not parse is named with its line, never quoted: the
/// line may hold `api_key = "..."`, and `plan`'s markdown is posted as a comment.
#[test]
fn a_broken_profile_file_never_shows_its_api_key() {
    let co = Checkout::new();
    let text = descriptor(
        "it-untrusted-profile",
        "untrusted-ext-id",
        &["it-untrusted-fn"],
    ) + &format!(
        "\n[[worker_deployments]]\nnamespace = \"orders\"\nname = \"profile-worker\"\nbuild_id = \"build-1\"\nlambda_function_arn = \"{}\"\n",
        function_arn("it-untrusted-fn")
    );
    co.write_env("profile", &text);
    let profile = co.root().join("temporal.toml");
    std::fs::write(
        &profile,
        "[profile.default]\naddress = \"127.0.0.1:7233\"\napi_key = \"SENTINEL-api-key\" oops\n",
    )
    .unwrap();
    let run = co.xtask_with(
        &["plan", "profile", "--output", "markdown"],
        &[
            ("TEMPORAL_CONFIG_FILE", Some(profile.to_str().unwrap())),
            ("TEMPORAL_ADDRESS", None),
        ],
    );
    run.success();
    assert!(
        !run.all().contains("SENTINEL")
            // markdown text: the `.` escaped, so that no name becomes a link
            && run.stdout.contains("temporal\\.toml")
            && run.stdout.contains("line 3"),
        "{}",
        run.all()
    );
}

/// An AWS endpoint the SDK cannot use (from AWS_ENDPOINT_URL or the AWS config file) is an
/// error naming the setting, never the SDK's Debug dump of the request.
#[test]
fn a_malformed_aws_endpoint_is_named_not_dumped() {
    let co = Checkout::new();
    co.write_env(
        "ep",
        &descriptor("it-untrusted-ep", "untrusted-ext-id", &["it-untrusted-fn"])
            .replace(&format!("endpoint_url = \"{}\"\n", emulator().url()), ""),
    );
    let config = co.root().join("aws-config");
    std::fs::write(&config, "[default]\nendpoint_url = http://[::1\n").unwrap();
    for (vars, setting) in [
        (
            vec![("AWS_ENDPOINT_URL", Some("not a url"))],
            "the environment variable AWS_ENDPOINT_URL",
        ),
        (
            vec![("AWS_CONFIG_FILE", Some(config.to_str().unwrap()))],
            "endpoint_url in the AWS config file",
        ),
    ] {
        let run = co.xtask_with(&["plan", "ep"], &vars);
        assert_eq!(run.code, Some(1), "{}", run.all());
        assert!(
            !run.all().contains("Request {")
                && !run.all().contains("SdkBody")
                && run.all().contains(setting)
                && run.all().contains("is not a URL"),
            "{}",
            run.all()
        );
    }
}
