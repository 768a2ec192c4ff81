//! Nothing lost: the descriptor keeps what the tool does not own (a symlink, CRLF line endings,
//! a byte-order mark), a descriptor that cannot be written stops a command before any AWS call,
//! one environment is changed by one command at a time, an edit made while a deploy waits is
//! kept, and `validate` catches shared stacks and foreign `[outputs]`.

use std::os::unix::fs::{PermissionsExt, symlink};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::support::{ACCOUNT, Checkout, Run, descriptor, emulator, safe_aws_env};

use gate::GateProxy;

/// Starts `xtask --root CHECKOUT ARGS...` in the background, like [`Checkout::xtask`].
fn spawn(co: &Checkout, args: &[&str]) -> Child {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_tsw"));
    cmd.arg("--root").arg(co.root()).args(args);
    safe_aws_env(&mut cmd);
    cmd.stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start xtask")
}

/// Waits for `child` at most `limit`; `None` when it is still running then.
fn wait_at_most(child: &mut Child, limit: Duration) -> Option<Run> {
    let start = Instant::now();
    while start.elapsed() < limit {
        if child.try_wait().unwrap().is_some() {
            return Some(finish(child));
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    None
}

fn finish(child: &mut Child) -> Run {
    let out = std::mem::replace(child, dummy_child())
        .wait_with_output()
        .unwrap();
    Run::from(out)
}

fn dummy_child() -> Child {
    Command::new("true").spawn().unwrap()
}

fn set_mode(path: &std::path::Path, mode: u32) {
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

fn stack_exists(co: &Checkout, env: &str) -> bool {
    let run = co.xtask(&["status", env]);
    !run.stdout.contains("does not exist")
}

#[test]
fn deploy_through_a_symlinked_descriptor_keeps_the_link() {
    let co = Checkout::new();
    let shared = co.root().join("shared");
    std::fs::create_dir(&shared).unwrap();
    let text = descriptor("it-symlink", "symlink-ext-id", &["worker-1"]);
    std::fs::write(shared.join("sl.toml"), &text).unwrap();
    symlink("../shared/sl.toml", co.env_path("sl")).unwrap();

    co.xtask(&["deploy", "sl", "--yes"]).success();

    let link = std::fs::symlink_metadata(co.env_path("sl")).unwrap();
    assert!(
        link.file_type().is_symlink(),
        "the descriptor is still a link"
    );
    let after = std::fs::read_to_string(shared.join("sl.toml")).unwrap();
    assert!(after.starts_with(&text), "{after}");
    assert!(
        after.contains("[outputs]"),
        "the target got [outputs]: {after}"
    );
    co.xtask(&["destroy", "sl", "--yes"]).success();
    assert!(
        std::fs::symlink_metadata(co.env_path("sl"))
            .unwrap()
            .file_type()
            .is_symlink()
    );
    assert_eq!(
        std::fs::read_to_string(shared.join("sl.toml")).unwrap(),
        text
    );
}

#[test]
fn crlf_and_a_byte_order_mark_survive_deploy_and_destroy() {
    let co = Checkout::new();
    let text = format!(
        "\u{feff}{}",
        descriptor("it-crlf", "crlf-ext-id", &["worker-1"]).replace('\n', "\r\n")
    );
    co.write_env("crlf", &text);

    co.xtask(&["deploy", "crlf", "--yes"]).success();
    let after = co.read_env("crlf");
    assert!(after.starts_with(&text), "{after:?}");
    assert!(after.contains("[outputs]\r\nrole_arn = "), "{after:?}");
    assert!(
        !after.replace("\r\n", "").contains('\n'),
        "every line ends in CRLF: {after:?}"
    );
    co.xtask(&["destroy", "crlf", "--yes"]).success();
    assert_eq!(co.read_env("crlf"), text);
}

#[test]
fn a_descriptor_that_cannot_be_written_stops_every_command_before_aws() {
    let co = Checkout::new();
    let text = descriptor("it-readonly", "readonly-ext-id", &["worker-1"]);
    let path = co.write_env("ro", &text);

    // A read-only file, then a read-only directory: deploy refuses, no stack is created.
    set_mode(&path, 0o444);
    let run = co.xtask(&["deploy", "ro", "--yes"]);
    run.failure();
    assert!(
        run.stderr.contains("ro.toml` is read-only (mode 0444)"),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("nothing was changed"), "{}", run.stderr);
    assert!(!stack_exists(&co, "ro"), "no stack was created");
    set_mode(&path, 0o644);
    let dir = co.root().join("environments");
    set_mode(&dir, 0o555);
    let run = co.xtask(&["deploy", "ro", "--yes"]);
    set_mode(&dir, 0o755);
    run.failure();
    assert!(
        run.stderr
            .contains("environments` is read-only (mode 0555)"),
        "{}",
        run.stderr
    );
    assert!(!stack_exists(&co, "ro"), "no stack was created");
    assert_eq!(co.read_env("ro"), text);

    // Deployed, then made read-only: destroy leaves the stack and the record alone.
    co.xtask(&["deploy", "ro", "--yes"]).success();
    let deployed = co.read_env("ro");
    set_mode(&path, 0o444);
    let run = co.xtask(&["destroy", "ro", "--yes"]);
    run.failure();
    assert!(
        run.stderr.contains("is read-only (mode 0444)"),
        "{}",
        run.stderr
    );
    assert!(stack_exists(&co, "ro"), "the stack is still there");
    assert_eq!(co.read_env("ro"), deployed);
    set_mode(&path, 0o644);
    co.xtask(&["destroy", "ro", "--yes"]).success();
}

#[test]
fn one_environment_is_deployed_by_one_command_at_a_time() {
    let co = Checkout::new();
    let proxy = GateProxy::to_emulator();
    let text = descriptor("it-lock", "lock-ext-id", &["worker-1"])
        .replace(&emulator().url(), &proxy.url());
    co.write_env("lk", &text);

    proxy.close();
    let mut first = spawn(&co, &["deploy", "lk", "--yes"]);
    proxy.wait_for_requests(1);

    // A second deploy refuses at once, naming the first, and touches nothing.
    let mut second = spawn(&co, &["deploy", "lk", "--yes"]);
    let refused = wait_at_most(&mut second, Duration::from_secs(30));
    let Some(refused) = refused else {
        proxy.open();
        let _ = second.kill();
        panic!("the second deploy did not refuse; it went on with the first one running");
    };
    refused.failure();
    assert!(
        refused.stderr.contains("`lk` is locked by pid ")
            && refused.stderr.contains("(`deploy lk`, since "),
        "{}",
        refused.stderr
    );
    assert!(
        refused.stderr.contains("--lock-timeout"),
        "{}",
        refused.stderr
    );
    assert_eq!(co.read_env("lk"), text);

    // With --lock-timeout, a third one waits for the first and then finds nothing to do.
    let mut third = spawn(&co, &["deploy", "lk", "--yes", "--lock-timeout", "5m"]);
    assert!(
        wait_at_most(&mut third, Duration::from_secs(2)).is_none(),
        "--lock-timeout waits"
    );
    proxy.open();
    let first = finish(&mut first);
    first.success();
    assert!(
        first.stdout.contains("lk: created stack `it-lock`"),
        "{}",
        first.stdout
    );
    let third = wait_at_most(&mut third, Duration::from_secs(120)).expect("the third deploy ends");
    third.success();
    assert!(
        third.stderr.contains("waiting for `lk`"),
        "{}",
        third.stderr
    );
    assert!(third.stdout.contains("lk: no changes"), "{}", third.stdout);
    co.xtask(&["destroy", "lk", "--yes"]).success();
}

#[test]
fn edits_made_while_a_deploy_waits_are_kept() {
    let co = Checkout::new();
    let proxy = GateProxy::to_emulator();
    let text = descriptor("it-race", "race-ext-id", &["worker-1"])
        .replace(&emulator().url(), &proxy.url());
    co.write_env("race", &text);
    co.xtask(&["deploy", "race", "--yes"]).success();

    // An update (a second function) that waits for AWS...
    let worker_1 = format!("\"arn:aws:lambda:us-east-1:{ACCOUNT}:function:worker-1\",");
    let worker_2 = format!("{worker_1} \"arn:aws:lambda:us-east-1:{ACCOUNT}:function:worker-2\",");
    co.write_env("race", &co.read_env("race").replace(&worker_1, &worker_2));
    proxy.close();
    let seen = proxy.requests();
    let mut deploy = spawn(&co, &["deploy", "race", "--yes"]);
    proxy.wait_for_requests(seen + 1);

    // ...while the user edits a comment and `register` records a version.
    let edited = co.read_env("race").replace(
        "# Hand-written header comment",
        "# Edited during the deploy",
    ) + "registered = [\"orders/orders-worker@1\"]\n";
    co.write_env("race", &edited);
    proxy.open();
    let run = finish(&mut deploy);
    run.success();
    assert!(
        run.stdout.contains("race: updated stack `it-race`"),
        "{}",
        run.stdout
    );

    let after = co.read_env("race");
    assert!(after.starts_with("# Edited during the deploy"), "{after}");
    assert!(
        after.contains("registered = [\"orders/orders-worker@1\"]"),
        "the version registered meanwhile is kept:\n{after}"
    );
    assert!(after.contains("function:worker-2"), "{after}");
    // No frontend holds that version: nothing to strand.
    co.xtask(&["destroy", "race", "--yes", "--leave-versions"])
        .success();
}

#[test]
fn validate_refuses_two_descriptors_for_one_stack() {
    let co = Checkout::new();
    let a = descriptor("it-shared", "shared-ext-id", &["worker-1"]);
    co.write_env("a", &a);
    co.write_env("b", &a.replace("shared-ext-id", "other-ext-id"));
    co.write_env("c", &a.replace("it-shared", "it-own"));

    let run = co.xtask(&["validate"]);
    run.failure();
    let all = run.all();
    for (file, other) in [("a", "b"), ("b", "a")] {
        assert!(
            all.contains(&format!(
                "environments/{file}.toml:11:14: error: `role.stack_name`: stack `it-shared`"
            )) && all.contains(&format!(
                "is also deployed by `{}",
                co.env_path(other).display()
            )),
            "{all}"
        );
    }
    assert!(run.stdout.contains("ok      c"), "{}", run.stdout);
    assert!(
        run.stdout.contains("FAILED  a") && run.stdout.contains("FAILED  b"),
        "{}",
        run.stdout
    );

    // Naming one is enough to be compared with all; deploy refuses before any AWS call.
    co.xtask(&["validate", "a"]).failure();
    let run = co.xtask(&["deploy", "a", "--yes"]);
    run.failure();
    assert!(run.stderr.contains("is also deployed by"), "{}", run.stderr);
    assert!(!stack_exists(&co, "c"), "nothing was deployed");

    // Another region is another stack, but not another role: IAM names are global to an
    // account, so the same role name is refused until one of them names its own.
    let elsewhere = a
        .replace("\"us-east-1\"", "\"us-east-2\"")
        .replace("us-east-1:", "us-east-2:");
    co.write_env("b", &elsewhere);
    let run = co.xtask(&["validate"]);
    run.failure();
    assert!(
        run.stderr
            .contains("IAM role `Temporal-Serverless-Worker-it-shared` (region `us-east-2`)")
            && !run.stderr.contains("is also deployed by"),
        "{}",
        run.stderr
    );
    co.write_env(
        "b",
        &elsewhere.replace(
            "[role]   # the stack\n",
            "[role]   # the stack\nname = \"Other-Role\"\n",
        ),
    );
    co.xtask(&["validate"]).success();
}

#[test]
fn validate_reports_foreign_or_malformed_outputs() {
    let co = Checkout::new();
    let base = descriptor("it-outputs", "outputs-ext-id", &["worker-1"]);
    let bad = format!(
        "{base}\n[outputs]\n\
         role_arn = \"arn:aws:iam::{ACCOUNT}:role/Temporal-Serverless-Worker-another-stack\"\n\
         stack_id = \"arn:aws:cloudformation:eu-west-1:{ACCOUNT}:stack/it-outputs/1\"\n\
         deployed_at = \"yesterday\"\n\
         registered = [\"orders-worker\"]\n"
    );
    co.write_env("out", &bad);
    let run = co.xtask(&["validate", "out"]);
    run.failure();
    let all = run.all();
    for expected in [
        ":21:12: error: `outputs.role_arn`: `arn:aws:iam::123456789012:role/Temporal-Serverless-Worker-another-stack` is not the role of stack `it-outputs`; allowed: `arn:aws:iam::ACCOUNT:role/Temporal-Serverless-Worker-it-outputs`",
        ":22:12: error: `outputs.stack_id`: ",
        "is in region `eu-west-1`, but `aws.region` is `us-east-1`",
        ":23:15: error: `outputs.deployed_at`: `yesterday` is not an RFC 3339 time; allowed: e.g. `2026-11-25T10:00:00Z`",
        ":24:15: error: `outputs.registered[0]`: `orders-worker` is not `namespace/name@build_id`",
    ] {
        assert!(all.contains(expected), "{expected}\n{all}");
    }

    // A role of another account than `aws.account_id`.
    let foreign = base.replace("[aws]\n", "[aws]\naccount_id = \"210987654321\"\n")
        + &format!(
            "\n[outputs]\nrole_arn = \"arn:aws:iam::{ACCOUNT}:role/Temporal-Serverless-Worker-it-outputs\"\n\
             stack_id = \"arn:aws:cloudformation:us-east-1:210987654321:stack/it-outputs/1\"\n\
             deployed_at = \"2026-11-25T10:00:00.123Z\"\n"
        );
    co.write_env("out", &foreign);
    let run = co.xtask(&["validate", "out"]);
    run.failure();
    assert!(
        run.all().contains("`outputs.role_arn`: `arn:aws:iam::123456789012:role/Temporal-Serverless-Worker-it-outputs` is in account `123456789012`, but `aws.account_id` is `210987654321`"),
        "{}",
        run.all()
    );
    co.write_env(
        "out",
        &foreign.replace(&format!("iam::{ACCOUNT}"), "iam::210987654321"),
    );
    co.xtask(&["validate", "out"]).success();
}

/// A loopback TCP proxy in front of the emulator that holds requests while it is closed: a
/// deploy through it waits at its first AWS request for as long as the test wants.
mod gate {
    use std::io::{Read, Write};
    use std::net::{TcpListener, TcpStream};
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::{Arc, Condvar, Mutex};
    use std::time::{Duration, Instant};

    use crate::support::emulator;

    #[derive(Default)]
    struct Gate {
        open: Mutex<bool>,
        changed: Condvar,
        requests: AtomicUsize,
    }

    pub struct GateProxy {
        port: u16,
        gate: Arc<Gate>,
    }

    impl GateProxy {
        /// An open proxy to the test emulator.
        pub fn to_emulator() -> Self {
            let upstream = emulator().address();
            let listener = TcpListener::bind("127.0.0.1:0").unwrap();
            let port = listener.local_addr().unwrap().port();
            let gate = Arc::new(Gate::default());
            *gate.open.lock().unwrap() = true;
            let shared = gate.clone();
            std::thread::spawn(move || {
                for client in listener.incoming().flatten() {
                    let (gate, upstream) = (shared.clone(), upstream.clone());
                    std::thread::spawn(move || relay(client, &upstream, &gate));
                }
            });
            GateProxy { port, gate }
        }

        pub fn url(&self) -> String {
            format!("http://127.0.0.1:{}", self.port)
        }

        pub fn close(&self) {
            *self.gate.open.lock().unwrap() = false;
        }

        pub fn open(&self) {
            *self.gate.open.lock().unwrap() = true;
            self.gate.changed.notify_all();
        }

        /// Connections that sent a request (not mere "is anything listening" probes).
        pub fn requests(&self) -> usize {
            self.gate.requests.load(Ordering::SeqCst)
        }

        pub fn wait_for_requests(&self, n: usize) {
            let start = Instant::now();
            while self.requests() < n {
                assert!(
                    start.elapsed() < Duration::from_secs(120),
                    "no request reached the proxy"
                );
                std::thread::sleep(Duration::from_millis(20));
            }
        }
    }

    fn relay(mut client: TcpStream, upstream: &str, gate: &Gate) {
        let mut first = vec![0; 64 * 1024];
        let n = match client.read(&mut first) {
            Ok(0) | Err(_) => return,
            Ok(n) => n,
        };
        gate.requests.fetch_add(1, Ordering::SeqCst);
        let mut open = gate.open.lock().unwrap();
        while !*open {
            open = gate.changed.wait(open).unwrap();
        }
        drop(open);
        let Ok(mut server) = TcpStream::connect(upstream) else {
            return;
        };
        if server.write_all(&first[..n]).is_err() {
            return;
        }
        let (Ok(mut server_read), Ok(mut client_write)) = (server.try_clone(), client.try_clone())
        else {
            return;
        };
        std::thread::spawn(move || {
            let _ = std::io::copy(&mut server_read, &mut client_write);
            let _ = client_write.shutdown(std::net::Shutdown::Write);
        });
        let _ = std::io::copy(&mut client, &mut server);
        let _ = server.shutdown(std::net::Shutdown::Write);
    }
}
