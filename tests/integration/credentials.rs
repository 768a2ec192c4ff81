//! Credentials never leave the caller's hands for a port on this machine, and no command prints
//! or writes a secret.
//!
//! The caller's environment holds recognizable sentinel credentials. A capture server on
//! loopback records what every request carries; every spelling of a local endpoint must get the
//! dummy key `testing` and never a sentinel.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::support::{ACCOUNT, Checkout, Run, WCI_ON, create_functions, temporal_server};

const ACCESS_KEY: &str = "AKIASENTINEL0ACCESS1";
const SECRET_KEY: &str = "SENTINELSECRET0abcdefghijklmnopqrstuvwxy";
const SESSION_TOKEN: &str = "SENTINELTOKEN0IQoJb3JpZ2luX2VjEXAMPLE";
const API_KEY: &str = "SENTINELAPIKEY0temporal";
/// What every sentinel above contains.
const MARK: &str = "SENTINEL";

/// The caller's environment: real-looking credentials that must never be sent to a local port.
fn sentinel_env(config_file: &Path) -> Vec<(&'static str, Option<String>)> {
    vec![
        ("AWS_ACCESS_KEY_ID", Some(ACCESS_KEY.into())),
        ("AWS_SECRET_ACCESS_KEY", Some(SECRET_KEY.into())),
        ("AWS_SESSION_TOKEN", Some(SESSION_TOKEN.into())),
        ("TEMPORAL_TEST_API_KEY", Some(API_KEY.into())),
        ("AWS_CONFIG_FILE", Some(config_file.display().to_string())),
        (
            "AWS_SHARED_CREDENTIALS_FILE",
            Some(
                config_file
                    .with_extension("credentials")
                    .display()
                    .to_string(),
            ),
        ),
        ("AWS_ENDPOINT_URL", None),
        ("AWS_ENDPOINT_URL_STS", None),
        ("AWS_ENDPOINT_URL_CLOUDFORMATION", None),
        ("AWS_ENDPOINT_URL_LAMBDA", None),
    ]
}

fn run_with(co: &Checkout, args: &[&str], vars: &[(&'static str, Option<String>)]) -> Run {
    let vars: Vec<(&str, Option<&str>)> = vars.iter().map(|(k, v)| (*k, v.as_deref())).collect();
    co.xtask_with(args, &vars)
}

/// A loopback HTTP server on one port of 127.0.0.1, 127.0.0.2 and ::1 that records every
/// request (head and body) and answers each with an AWS authentication error.
struct Capture {
    port: u16,
    requests: Arc<Mutex<Vec<String>>>,
}

impl Capture {
    fn start() -> Self {
        let requests = Arc::new(Mutex::new(Vec::new()));
        loop {
            let first = TcpListener::bind("127.0.0.1:0").unwrap();
            let port = first.local_addr().unwrap().port();
            let Ok(others) = ["127.0.0.2", "::1"]
                .iter()
                .map(|host| TcpListener::bind((*host, port)))
                .collect::<Result<Vec<_>, _>>()
            else {
                continue;
            };
            for listener in std::iter::once(first).chain(others) {
                let requests = Arc::clone(&requests);
                std::thread::spawn(move || {
                    for stream in listener.incoming().flatten() {
                        answer(stream, &requests);
                    }
                });
            }
            return Capture { port, requests };
        }
    }

    fn count(&self) -> usize {
        self.requests.lock().unwrap().len()
    }

    fn since(&self, start: usize) -> Vec<String> {
        self.requests.lock().unwrap()[start..].to_vec()
    }
}

/// Reads one request, records it in `requests` (a connection that sent nothing, a reachability
/// probe, is not recorded), then answers it with `403 InvalidClientTokenId`: recorded before
/// the answer, so that it is there once the tool that sent it has its answer.
fn answer(mut stream: TcpStream, requests: &Mutex<Vec<String>>) {
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    let mut data = Vec::new();
    let mut buf = [0u8; 8192];
    let head_end = loop {
        if let Some(i) = data.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
        match stream.read(&mut buf) {
            Ok(0) | Err(_) => {
                if !data.is_empty() {
                    requests.lock().unwrap().push(lossy(&data));
                }
                return;
            }
            Ok(n) => data.extend_from_slice(&buf[..n]),
        }
    };
    let head = lossy(&data[..head_end]).to_ascii_lowercase();
    let length: usize = head
        .lines()
        .find_map(|l| l.strip_prefix("content-length:"))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0);
    while data.len() < head_end + length {
        match stream.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => data.extend_from_slice(&buf[..n]),
        }
    }
    requests.lock().unwrap().push(lossy(&data));
    let body = "<ErrorResponse><Error><Type>Sender</Type><Code>InvalidClientTokenId</Code>\
                <Message>captured by the test</Message></Error><RequestId>capture</RequestId></ErrorResponse>";
    let _ = write!(
        stream,
        "HTTP/1.1 403 Forbidden\r\nContent-Type: text/xml\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
}

fn lossy(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// A descriptor for an AWS account that is not the emulator's, with `aws` as its `[aws]` lines.
fn descriptor(stack: &str, aws: &str) -> String {
    format!(
        "[aws]\nregion = \"us-east-1\"\n{aws}\n\n[temporal]\nserver_role_arn = \"arn:aws:iam::{ACCOUNT}:role/temporal-server\"\n\n\
         [role]\nstack_name = \"{stack}\"\nexternal_id = \"capture-external-id\"\n\
         lambda_function_arns = [\"arn:aws:lambda:us-east-1:{ACCOUNT}:function:worker-1\"]\n\n[deploy]\nconfirm = false\n"
    )
}

/// Runs `args` and checks what reached the capture server: at least one request, each signed
/// with the dummy key, none carrying a sentinel.
#[track_caller]
fn assert_only_dummy_credentials(
    capture: &Capture,
    co: &Checkout,
    label: &str,
    args: &[&str],
    vars: &[(&'static str, Option<String>)],
) {
    let start = capture.count();
    let run = run_with(co, args, vars);
    let requests = capture.since(start);
    assert_ne!(
        run.code,
        Some(0),
        "{label} {args:?}: the capture server refuses everything"
    );
    assert!(
        !requests.is_empty(),
        "{label} {args:?}: no request reached the capture server\n{}",
        run.all()
    );
    for request in &requests {
        assert!(
            !request.contains(MARK),
            "{label} {args:?}: the caller's credentials were sent to a local port:\n{request}"
        );
        assert!(
            request.contains("Credential=testing/"),
            "{label} {args:?}: not signed with the dummy key:\n{request}"
        );
    }
    assert!(
        !run.all().contains(MARK),
        "{label} {args:?}:\n{}",
        run.all()
    );
}

#[test]
fn every_spelling_of_a_local_endpoint_gets_dummy_credentials() {
    let capture = Capture::start();
    let port = capture.port;
    let co = Checkout::new();
    let config = co.root().join("aws-config");
    std::fs::write(&config, "").unwrap();
    let vars = sentinel_env(&config);
    for (i, spelling) in [
        format!("http://127.0.0.1:{port}"),
        format!("http://127.1:{port}"),
        format!("http://127.0.0.2:{port}"),
        format!("http://0.0.0.0:{port}"),
        format!("http://LOCALHOST:{port}"),
        format!("http://[::1]:{port}"),
        format!("http://[::ffff:127.0.0.1]:{port}"),
        format!("http://2130706433:{port}"),
        format!("http://user@127.0.0.1:{port}"),
    ]
    .iter()
    .enumerate()
    {
        let name = format!("spelling{i}");
        co.write_env(
            &name,
            &descriptor(
                &format!("it-capture-{i}"),
                &format!("endpoint_url = \"{spelling}\""),
            ),
        );
        for args in [
            &["whoami", name.as_str()][..],
            &["status", name.as_str()],
            &["deploy", name.as_str(), "--yes"],
        ] {
            assert_only_dummy_credentials(&capture, &co, spelling, args, &vars);
        }
    }
}

#[test]
fn an_endpoint_from_the_environment_or_the_profile_gets_dummy_credentials() {
    let capture = Capture::start();
    let url = format!("http://127.0.0.1:{}", capture.port);
    let co = Checkout::new();
    co.write_env("real", &descriptor("it-capture-env", ""));
    let config = co.root().join("aws-config");
    std::fs::write(&config, "").unwrap();
    let with = |key: &'static str| {
        let mut vars = sentinel_env(&config);
        vars.push((key, Some(url.clone())));
        vars
    };
    // Each command calls only the services named, so nothing leaves this machine.
    for (key, commands) in [
        ("AWS_ENDPOINT_URL", &["whoami", "status", "deploy"][..]),
        ("AWS_ENDPOINT_URL_STS", &["whoami"]),
        ("AWS_ENDPOINT_URL_CLOUDFORMATION", &["status"]),
    ] {
        for command in commands {
            let args: &[&str] = if *command == "deploy" {
                &["deploy", "real", "--yes"]
            } else {
                &[command, "real"]
            };
            assert_only_dummy_credentials(&capture, &co, key, args, &with(key));
        }
    }
    // The same endpoints from the AWS config file: for every service, and for STS alone.
    let vars = sentinel_env(&config);
    std::fs::write(&config, format!("[default]\nendpoint_url = {url}\n")).unwrap();
    for args in [&["whoami", "real"][..], &["status", "real"]] {
        assert_only_dummy_credentials(&capture, &co, "profile endpoint_url", args, &vars);
    }
    std::fs::write(
        &config,
        format!("[default]\nservices = local\n\n[services local]\nsts =\n  endpoint_url = {url}\n"),
    )
    .unwrap();
    assert_only_dummy_credentials(
        &capture,
        &co,
        "[services] sts endpoint_url",
        &["whoami", "real"],
        &vars,
    );
}

/// Every file under `dir` whose content contains `MARK`.
fn files_with_mark(dir: &Path, found: &mut Vec<String>) {
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let path = entry.path();
        let meta = std::fs::symlink_metadata(&path).unwrap();
        if meta.is_dir() {
            files_with_mark(&path, found);
        } else if meta.is_file()
            && String::from_utf8_lossy(&std::fs::read(&path).unwrap()).contains(MARK)
        {
            found.push(path.display().to_string());
        }
    }
}

#[test]
fn no_command_prints_or_writes_a_secret() {
    let server = temporal_server(WCI_ON);
    create_functions(&["it-secret-fn"]);
    let co = Checkout::new();
    let config = co.root().join("aws-config");
    std::fs::write(&config, "").unwrap();
    let vars = sentinel_env(&config);
    let text = crate::support::descriptor("it-secret", "secret-external-id", &["it-secret-fn"])
        .replace(
            "namespaces = [ \"orders\",   \"billing\" ]  # odd spacing kept\n",
            &format!(
                "address = \"{}\"\napi_key_env = \"TEMPORAL_TEST_API_KEY\"\n",
                server.address()
            ),
        )
        + &format!(
            "\n[[worker_deployments]]\nnamespace = \"orders\"\nname = \"it-secret-worker\"\nbuild_id = \"build-1\"\n\
             lambda_function_arn = \"arn:aws:lambda:us-east-1:{ACCOUNT}:function:it-secret-fn\"\n"
        );
    co.write_env("secret", &text);
    let mut output = String::new();
    for args in [
        &["validate", "secret"][..],
        &["render", "secret"],
        &["deploy", "secret", "--yes"],
        &["status", "secret"],
        &["whoami", "secret"],
        // With an API key the CLI insists on TLS, which the dev server lacks: this registration
        // fails, and `plain` (the same environment without the key) registers.
        &["register", "secret"],
        &["register", "plain"],
        &["doctor", "secret"],
        &["doctor", "plain", "--output", "json"],
        &["sandbox", "status", "--env", "secret"],
        &["destroy", "secret", "--yes"],
    ] {
        if args == ["register", "plain"] {
            let deployed = co.read_env("secret");
            co.write_env(
                "plain",
                &deployed.replace("api_key_env = \"TEMPORAL_TEST_API_KEY\"\n", ""),
            );
        }
        let run = run_with(&co, args, &vars);
        assert!(
            !run.all().contains(MARK),
            "{args:?} printed a secret:\n{}",
            run.all()
        );
        output.push_str(&format!("$ {args:?} -> {:?}\n{}", run.code, run.all()));
    }
    // The commands did their work (so that there was something to leak).
    for done in [
        "created stack `it-secret`",
        "created Worker Deployment Version",
        "deleted stack `it-secret`",
    ] {
        assert!(output.contains(done), "missing `{done}`:\n{output}");
    }
    let mut found = Vec::new();
    files_with_mark(co.root(), &mut found);
    assert!(found.is_empty(), "secrets written to {found:?}\n{output}");
}

/// `--debug` traces each AWS call (service, operation, region, endpoint) and each Temporal CLI
/// run (its arguments, duration and exit status) to stderr, and never a secret: not the
/// credentials or session token, not the Temporal API key, and the external ID only masked.
#[test]
fn debug_traces_every_call_and_never_a_secret() {
    let server = temporal_server(WCI_ON);
    create_functions(&["it-debug-fn"]);
    let co = Checkout::new();
    let config = co.root().join("aws-config");
    std::fs::write(&config, "").unwrap();
    let vars = sentinel_env(&config);
    let external_id = format!("{MARK}-debug-ext");
    let text = crate::support::descriptor("it-debug", &external_id, &["it-debug-fn"]).replace(
        "namespaces = [ \"orders\",   \"billing\" ]  # odd spacing kept\n",
        &format!(
            "address = \"{}\"\napi_key_env = \"TEMPORAL_TEST_API_KEY\"\n",
            server.address()
        ),
    ) + &format!(
        "\n[[worker_deployments]]\nnamespace = \"orders\"\nname = \"it-debug-worker\"\nbuild_id = \"build-1\"\n\
         lambda_function_arn = \"arn:aws:lambda:us-east-1:{ACCOUNT}:function:it-debug-fn\"\n"
    );
    co.write_env("dbg", &text);
    let mut stderr = String::new();
    for args in [
        &["deploy", "dbg", "--yes", "--debug"][..],
        &["status", "dbg", "--debug"],
        // With the API key the CLI insists on TLS, which the dev server lacks: this fails, and
        // `plain` (without the key) registers, passing the external ID as an argument.
        &["register", "dbg", "--debug"],
        &["register", "plain", "--debug"],
        &["doctor", "plain", "--debug"],
        &["destroy", "dbg", "--yes", "--debug"],
    ] {
        if args == ["register", "plain", "--debug"] {
            let deployed = co.read_env("dbg");
            co.write_env(
                "plain",
                &deployed.replace("api_key_env = \"TEMPORAL_TEST_API_KEY\"\n", ""),
            );
        }
        let run = run_with(&co, args, &vars);
        // Only the trace: deploy's own preview (on stderr too) shows the parameters.
        let traced: Vec<&str> = run
            .stderr
            .lines()
            .filter(|l| l.starts_with("debug: "))
            .collect();
        assert!(
            !traced.iter().any(|l| l.contains(MARK)),
            "{args:?} traced a secret:\n{}",
            run.stderr
        );
        stderr.push_str(&format!("$ {args:?} -> {:?}\n{}", run.code, run.stderr));
    }
    for traced in [
        "debug: aws: STS.GetCallerIdentity region=us-east-1 endpoint=http://127.0.0.1:",
        "debug: aws: CloudFormation.CreateChangeSet",
        "debug: aws: CloudFormation.DeleteStack",
        "debug: child_process: ran program=",
        "create-version",
        "--aws-lambda-assume-role-external-id [masked: ",
        "duration_ms=",
        "status=exit status: 0",
    ] {
        assert!(stderr.contains(traced), "missing `{traced}`:\n{stderr}");
    }
    // Without --debug, nothing is traced.
    let run = run_with(&co, &["status", "plain"], &vars);
    assert!(!run.stderr.contains("debug:"), "{}", run.stderr);
}

/// `--debug` gives each AWS call's request ID (`x-amzn-RequestId`, which the emulator sends as
/// AWS does), on the call's own line: every traced call of a plan that makes a change set.
#[test]
fn debug_names_the_request_id_of_every_aws_call() {
    let co = Checkout::new();
    co.write_env(
        "rid",
        &crate::support::descriptor("it-request-id", "request-id-ext", &["rid-fn"]),
    );
    co.xtask(&["deploy", "rid", "--yes"]).success();
    let text = co
        .read_env("rid")
        .replace("request-id-ext", "request-id-ext-2");
    co.write_env("rid", &text);
    let run = co.xtask(&["plan", "rid", "--debug"]);
    run.success();
    let calls: Vec<&str> = run
        .stderr
        .lines()
        .filter(|l| l.starts_with("debug: aws: "))
        .collect();
    assert!(
        calls
            .iter()
            .any(|l| l.contains("CloudFormation.CreateChangeSet")),
        "{}",
        run.stderr
    );
    for line in &calls {
        let id = line
            .split(" request_id=")
            .nth(1)
            .unwrap_or_else(|| panic!("no request_id on `{line}`"));
        assert!(
            !id.is_empty() && id != "-" && !id.contains(' '),
            "`{line}` has no request ID"
        );
    }
}
