//! The local sandbox is started only for the environment that is the sandbox (`[sandbox]`):
//! for any other, a service that is down is an error naming the address, never a stand-in
//! server, and a stack recorded in `[outputs]` that no longer exists is never silently replaced.

use aws_sandbox::listening;

use crate::support::{ACCOUNT, Checkout, descriptor, emulator, free_port, recorded_outputs};

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
