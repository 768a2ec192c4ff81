//! The credential providers users have are built in (a `credential_process` profile, IAM Identity
//! Center), and their failures read as a cause with a fix, never as a Debug dump.
//!
//! No request may leave this machine, and a provider that works would send one to AWS. So each
//! profile here fails before any request is made (a process that exits non-zero, an SSO session
//! that has expired and cannot be refreshed), nothing else can give credentials (no keys, no
//! web identity, no metadata service, an empty `HOME`), and every endpoint is
//! `255.255.255.255`, which the tool counts as remote (so the dummy keys of a local endpoint
//! do not replace the profile) and to which the kernel refuses a TCP connection
//! without sending a packet.

use std::path::Path;

use crate::support::{Checkout, Run, descriptor, emulator, python};

/// A remote endpoint no TCP connection can be made to (the broadcast address).
const NOWHERE: &str = "http://255.255.255.255:9";

/// A descriptor that uses the AWS profile `profile` and no endpoint of its own.
fn with_profile(stack: &str, profile: &str) -> String {
    descriptor(stack, "providers-ext-id", &["worker-1"]).replace(
        &format!("endpoint_url = \"{}\"", emulator().url()),
        &format!("profile = \"{profile}\""),
    )
}

/// Runs `args` with `home` as the only place credentials could come from.
fn run_isolated(co: &Checkout, home: &Path, args: &[&str]) -> Run {
    let config = home.join(".aws/config").display().to_string();
    let credentials = home.join(".aws/credentials").display().to_string();
    let home = home.display().to_string();
    co.xtask_with(
        args,
        &[
            ("HOME", Some(&home)),
            ("AWS_CONFIG_FILE", Some(&config)),
            ("AWS_SHARED_CREDENTIALS_FILE", Some(&credentials)),
            ("AWS_ENDPOINT_URL", Some(NOWHERE)),
            ("AWS_ACCESS_KEY_ID", None),
            ("AWS_SECRET_ACCESS_KEY", None),
            ("AWS_SESSION_TOKEN", None),
            ("AWS_WEB_IDENTITY_TOKEN_FILE", None),
            ("AWS_ROLE_ARN", None),
            ("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", None),
            ("AWS_CONTAINER_CREDENTIALS_FULL_URI", None),
        ],
    )
}

/// A home directory with `config` as its AWS config file and an empty credentials file.
fn home_with(config: &str) -> tempfile::TempDir {
    let home = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(home.path().join(".aws")).unwrap();
    std::fs::write(home.path().join(".aws/config"), config).unwrap();
    std::fs::write(home.path().join(".aws/credentials"), "").unwrap();
    home
}

#[track_caller]
fn assert_no_debug_dump(run: &Run) {
    let all = run.all();
    for dump in [
        "DispatchFailure {",
        "ConstructionFailure {",
        "TimeoutError {",
        "source: ",
    ] {
        assert!(!all.contains(dump), "a Debug dump (`{dump}`):\n{all}");
    }
}

#[test]
fn a_credential_process_profile_runs_its_process() {
    let co = Checkout::new();
    let home = home_with("");
    let marker = home.path().join("process-ran");
    let script = home.path().join("creds.sh");
    std::fs::write(
        &script,
        format!(
            "#!/bin/sh\necho ran > '{}'\necho 'no session for this test' >&2\nexit 1\n",
            marker.display()
        ),
    )
    .unwrap();
    let mut permissions = std::fs::metadata(&script).unwrap().permissions();
    std::os::unix::fs::PermissionsExt::set_mode(&mut permissions, 0o755);
    std::fs::set_permissions(&script, permissions).unwrap();
    std::fs::write(
        home.path().join(".aws/config"),
        format!(
            "[profile by-process]\nregion = us-east-1\ncredential_process = {}\n",
            script.display()
        ),
    )
    .unwrap();
    co.write_env("proc", &with_profile("it-providers-process", "by-process"));

    let run = run_isolated(&co, home.path(), &["whoami", "proc"]);
    run.failure();
    let all = run.all();
    assert!(marker.exists(), "the process never ran:\n{all}");
    assert!(
        all.contains("no session for this test") && !all.contains("feature"),
        "the process's own message, not a missing feature:\n{all}"
    );
    assert_no_debug_dump(&run);
}

#[test]
fn an_expired_sso_session_says_how_to_log_in() {
    let co = Checkout::new();
    let home = home_with(
        "[profile team-sso]\nsso_session = team\nsso_account_id = 123456789012\n\
         sso_role_name = Admin\nregion = us-east-1\n\n\
         [sso-session team]\nsso_start_url = https://example.awsapps.com/start\n\
         sso_region = us-east-1\nsso_registration_scopes = sso:account:access\n",
    );
    // The SDK's token cache: ~/.aws/sso/cache/<sha1 of the session name>.json, expired and
    // without what a refresh needs.
    let out = std::process::Command::new(python().python())
        .args([
            "-c",
            "import hashlib; print(hashlib.sha1(b'team').hexdigest())",
        ])
        .output()
        .unwrap();
    let name = String::from_utf8(out.stdout).unwrap();
    let cache = home.path().join(".aws/sso/cache");
    std::fs::create_dir_all(&cache).unwrap();
    std::fs::write(
        cache.join(format!("{}.json", name.trim())),
        r#"{"accessToken": "expired-token", "expiresAt": "2020-01-01T00:00:00Z",
            "region": "us-east-1", "startUrl": "https://example.awsapps.com/start"}"#,
    )
    .unwrap();
    co.write_env("sso", &with_profile("it-providers-sso", "team-sso"));

    let run = run_isolated(&co, home.path(), &["whoami", "sso"]);
    run.failure();
    let all = run.all();
    assert!(
        all.contains("expired") && all.contains("aws sso login --profile team-sso"),
        "names the cause and the fix:\n{all}"
    );
    assert_no_debug_dump(&run);
}

#[test]
fn no_credentials_at_all_says_where_they_are_looked_for() {
    let co = Checkout::new();
    let home = home_with("[profile empty]\nregion = us-east-1\n");
    co.write_env("none", &with_profile("it-providers-none", "empty"));
    let run = run_isolated(&co, home.path(), &["whoami", "none"]);
    run.failure();
    let all = run.all();
    assert!(
        all.contains("no AWS credentials") && all.contains("`empty`"),
        "says that none were found, for which profile:\n{all}"
    );
    assert_no_debug_dump(&run);
}
