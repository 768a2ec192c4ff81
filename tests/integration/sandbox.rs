//! The local sandbox is started only for the environment that is the sandbox (`[sandbox]`):
//! for any other, a service that is down is an error naming the address, never a stand-in
//! server, and a stack recorded in `[outputs]` that no longer exists is never silently replaced.

use aws_sandbox::{SampleWorker, listening};

use crate::support::{
    ACCOUNT, Checkout, WCI_ON, boto3_at, descriptor, emulator, free_port, function_arn, python,
    recorded_outputs, temporal_server,
};

#[test]
fn register_against_a_closed_port_fails_and_starts_nothing() {
    let port = free_port();
    let co = Checkout::new().with_installed_sandbox();
    let address = format!("127.0.0.1:{port}");
    let text = descriptor("it-closed-temporal", "closed-external-id", &["worker-1"]).replace(
        "namespaces = [ \"orders\",   \"billing\" ]  # odd spacing kept\n",
        &format!("address = \"{address}\"\n"),
    ) + &format!(
        "\n[[worker_deployments]]\nnamespace = \"orders\"\nname = \"closed-worker\"\nbuild_id = \"build-1\"\n\
         lambda_function_arn = \"arn:aws:lambda:us-east-1:{ACCOUNT}:function:worker-1\"\n"
    ) + &recorded_outputs("it-closed-temporal");
    co.write_env("closed", &text);

    for args in [&["register", "closed"][..], &["doctor", "closed"]] {
        let run = co.xtask(args);
        run.failure();
        if args[0] == "register" {
            assert!(
                run.stderr.contains(&format!(
                    "nothing answers at {address} (temporal.address of environments/closed.toml)"
                )),
                "{}",
                run.all()
            );
        }
        assert!(
            !listening("127.0.0.1", port),
            "`{}` started a server on {address}:\n{}",
            args[0],
            run.all()
        );
        assert_eq!(co.read_env("closed"), text, "the descriptor is unchanged");
    }
}

#[test]
fn aws_commands_against_a_stopped_emulator_fail_and_start_nothing() {
    let port = free_port();
    let url = format!("http://127.0.0.1:{port}");
    let co = Checkout::new().with_installed_sandbox();
    let text = descriptor("it-stopped", "stopped-external-id", &["worker-1"])
        .replace(&emulator().url(), &url)
        + &recorded_outputs("it-stopped");
    co.write_env("stopped", &text);
    for args in [
        &["deploy", "stopped", "--yes"][..],
        &["status", "stopped"],
        &["whoami", "stopped"],
        &["destroy", "stopped", "--yes"],
    ] {
        let run = co.xtask(args);
        run.failure();
        assert!(
            run.stderr.contains(&format!(
                "nothing answers at {url} (aws.endpoint_url of environments/stopped.toml)"
            )),
            "{args:?}:\n{}",
            run.all()
        );
        assert!(
            !listening("127.0.0.1", port),
            "{args:?} started an emulator on {url}"
        );
        assert_eq!(
            co.read_env("stopped"),
            text,
            "{args:?}: the descriptor is unchanged"
        );
    }
}

#[test]
fn a_recorded_stack_that_is_gone_is_not_replaced_silently() {
    // Another environment: refused, nothing created, the descriptor unchanged.
    let co = Checkout::new();
    let text =
        descriptor("it-gone", "gone-external-id", &["worker-1"]) + &recorded_outputs("it-gone");
    co.write_env("gone", &text);
    let run = co.xtask(&["deploy", "gone", "--yes"]);
    run.failure();
    assert!(
        run.stderr
            .contains("stack `it-gone` recorded in [outputs] of environments/gone.toml")
            && run.stderr.contains("no longer exists"),
        "{}",
        run.all()
    );
    assert_eq!(co.read_env("gone"), text);
    let run = co.xtask(&["status", "gone"]);
    assert!(
        run.stdout.contains("stack `it-gone` does not exist"),
        "nothing was created:\n{}",
        run.all()
    );

    // The sandbox (its emulator restarted and forgot the stack): recreated, and said so.
    let text = descriptor("it-gone-sandbox", "gone-external-id", &["worker-1"])
        + "\n[sandbox]\n"
        + &recorded_outputs("it-gone-sandbox");
    co.write_env("local", &text);
    let run = co.xtask(&["deploy", "local", "--yes"]);
    run.success();
    assert!(
        run.all().contains("stack `it-gone-sandbox` recorded in [outputs] of environments/local.toml no longer exists")
            && run.all().contains("created it anew"),
        "{}",
        run.all()
    );
    let after = co.read_env("local");
    assert!(
        !after.contains("0f0e0d0c-0b0a-4909-8807-060504030201") && after.contains("stack_id = "),
        "{after}"
    );
    co.xtask(&["destroy", "local", "--yes"]).success();
}

/// Stops the checkout's sandbox when the test ends, passed or not.
struct SandboxDown<'a>(&'a Checkout, &'a str);

impl Drop for SandboxDown<'_> {
    fn drop(&mut self) {
        let _ = self.0.xtask(&["sandbox", "down", "--env", self.1]);
    }
}

/// The Lambda function `name`'s timeout and its number of published versions, read with boto3.
fn function_state(url: &str, name: &str) -> (i64, usize) {
    let out = boto3_at(
        url,
        "lambda",
        &format!(
            "config = client.get_function_configuration(FunctionName='{name}')\n\
             versions = client.list_versions_by_function(FunctionName='{name}')['Versions']\n\
             print(json.dumps([config['Timeout'], len(versions)]))"
        ),
    );
    serde_json::from_str(&out).unwrap()
}

/// Sets the Lambda function `name`'s timeout by hand, as a user would with the AWS CLI.
fn set_function_timeout(url: &str, name: &str, secs: u32) {
    boto3_at(
        url,
        "lambda",
        &format!("client.update_function_configuration(FunctionName='{name}', Timeout={secs})"),
    );
}

#[test]
fn doctor_on_the_sandbox_reports_a_function_as_it_is_and_changes_nothing() {
    let server = temporal_server(WCI_ON);
    let url = format!("http://127.0.0.1:{}", free_port());
    let co = Checkout::new().with_installed_sandbox();
    let function = "it-readonly-fn";
    let text = descriptor("it-readonly", "readonly-external-id", &[function])
        .replace(&emulator().url(), &url)
        .replace(
            "namespaces = [ \"orders\",   \"billing\" ]  # odd spacing kept\n",
            &format!("address = \"{}\"\n", server.address()),
        )
        + &format!(
            "\n[[worker_deployments]]\nnamespace = \"orders\"\nname = \"it-readonly-worker\"\n\
             build_id = \"build-1\"\nlambda_function_arn = \"{}\"\n\n[sandbox]\n",
            function_arn(function)
        );
    co.write_env("local", &text);
    let _down = SandboxDown(&co, "local");
    // `deploy` starts the sandbox's own emulator; the user deploys the function, then sets its
    // timeout by hand.
    co.xtask(&["deploy", "local", "--yes"]).success();
    let worker = SampleWorker::for_version(
        &function_arn(function),
        &server.address(),
        "orders",
        "it-readonly-worker",
        "build-1",
    );
    aws_sandbox::deploy_sample_workers(python(), &url, "us-east-1", &[worker]).unwrap();
    set_function_timeout(&url, function, 3);
    let before = function_state(&url, function);
    assert_eq!(before.0, 3);

    let run = co.xtask(&["doctor", "local"]);
    run.failure();
    let timeout = run.line(&format!("timeout of {}", function_arn(function)));
    assert!(
        timeout.starts_with("FAIL  step 5") && timeout.contains("the function's timeout is 3 s"),
        "{}",
        run.all()
    );
    assert!(!run.all().contains("published version"), "{}", run.all());
    assert_eq!(
        function_state(&url, function),
        before,
        "doctor changed the function: {}",
        run.all()
    );
}
