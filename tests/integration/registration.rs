//! How `register` reaches the frontend and what it reports, against a real Temporal dev server:
//! where the address comes from (the descriptor, `TEMPORAL_ADDRESS`, a Temporal CLI profile),
//! that nothing ambient changes the connection, "no changes" on a second run, versions left
//! behind with Lambda compute, and each error printed once.

use std::path::Path;

use crate::support::{
    ACCOUNT, Checkout, WCI_ON, create_functions, describe_version, descriptor, free_port,
    temporal_server,
};

/// A descriptor (WCI enabled globally) with `address_line` under `[temporal]` and one version
/// `orders/STACK-worker@BUILD` of `function`; the role may invoke every one of `functions`.
fn environment(
    stack: &str,
    address_line: &str,
    functions: &[&str],
    function: &str,
    build: &str,
) -> String {
    descriptor(stack, "registration-ext-id", functions).replace(
        "namespaces = [ \"orders\",   \"billing\" ]  # odd spacing kept\n",
        address_line,
    ) + &format!(
        "\n[[worker_deployments]]\nnamespace = \"orders\"\nname = \"{stack}-worker\"\nbuild_id = \"{build}\"\nlambda_function_arn = \"arn:aws:lambda:us-east-1:{ACCOUNT}:function:{function}\"\n"
    )
}

/// Every Temporal setting a user may have lying around, each of which would break (or leak a
/// key into) a plaintext connection if the CLI picked it up: an API key, TLS, a CA that does
/// not exist, another address and namespace, a profile (in a config file) that turns TLS on,
/// and a `temporal env` file whose default environment does too.
fn hostile_temporal_settings(dir: &Path) -> Vec<(String, Option<String>)> {
    let config = dir.join("hostile.toml");
    std::fs::write(
        &config,
        "[profile.hostile]\naddress = \"127.0.0.1:9\"\napi_key = \"leaked\"\n[profile.hostile.tls]\nserver_name = \"elsewhere\"\n",
    )
    .unwrap();
    let home = dir.join("home");
    std::fs::create_dir_all(home.join(".config/temporalio")).unwrap();
    std::fs::write(
        home.join(".config/temporalio/temporal.yaml"),
        "env:\n    default:\n        tls: \"true\"\n        api-key: leaked\n",
    )
    .unwrap();
    let path = |p: &Path| Some(p.display().to_string());
    vec![
        ("TEMPORAL_API_KEY".into(), Some("leaked".into())),
        ("TEMPORAL_TLS".into(), Some("true".into())),
        (
            "TEMPORAL_TLS_SERVER_CA_CERT_PATH".into(),
            Some("/nonexistent/ca.pem".into()),
        ),
        (
            "TEMPORAL_ADDRESS".into(),
            Some(format!("127.0.0.1:{}", free_port())),
        ),
        ("TEMPORAL_NAMESPACE".into(), Some("nonexistent".into())),
        ("TEMPORAL_CONFIG_FILE".into(), path(&config)),
        ("TEMPORAL_PROFILE".into(), Some("hostile".into())),
        ("HOME".into(), path(&home)),
        ("XDG_CONFIG_HOME".into(), None),
    ]
}

fn as_vars(vars: &[(String, Option<String>)]) -> Vec<(&str, Option<&str>)> {
    vars.iter()
        .map(|(k, v)| (k.as_str(), v.as_deref()))
        .collect()
}

#[test]
fn ambient_temporal_settings_do_not_reach_a_plaintext_registration_and_reruns_say_no_changes() {
    let server = temporal_server(WCI_ON);
    create_functions(&["it-amb-fn", "it-amb-fn2"]);
    let co = Checkout::new();
    let functions = ["it-amb-fn", "it-amb-fn2"];
    let address = format!("address = \"{}\"\n", server.address());
    co.write_env(
        "amb",
        &environment("it-amb", &address, &functions, "it-amb-fn", "build-1"),
    );
    co.xtask(&["deploy", "amb", "--yes"]).success();
    let hostile = hostile_temporal_settings(co.root());
    let vars = as_vars(&hostile);

    let run = co.xtask_with(&["register", "amb"], &vars);
    run.success();
    assert!(
        run.stdout
            .contains("amb: created Worker Deployment Version `orders/it-amb-worker@build-1`"),
        "{}\n{}",
        run.stdout,
        run.stderr
    );

    // The same compute config again: nothing to do, and it says so.
    let run = co.xtask_with(&["register", "amb"], &vars);
    run.success();
    assert!(
        run.stdout.contains(
            "amb: no changes to Worker Deployment Version `orders/it-amb-worker@build-1`"
        ),
        "{}\n{}",
        run.stdout,
        run.stderr
    );

    // Another function for the same version: updated.
    let deployed = co.read_env("amb");
    co.write_env(
        "amb",
        &deployed.replace("function:it-amb-fn\"\n", "function:it-amb-fn2\"\n"),
    );
    let run = co.xtask_with(&["register", "amb"], &vars);
    run.success();
    assert!(
        run.stdout
            .contains("amb: updated Worker Deployment Version `orders/it-amb-worker@build-1`"),
        "{}\n{}",
        run.stdout,
        run.stderr
    );
    // describe-version shows the provider, not the function: the next run proves it was recorded.
    let version = describe_version(&server.address(), "it-amb-worker");
    assert_eq!(
        version.pointer("/computeConfig/scalingGroups/default/provider/type"),
        Some(&serde_json::json!("aws-lambda")),
        "{version:#}"
    );
    let run = co.xtask_with(&["register", "amb"], &vars);
    run.success();
    assert!(
        run.stdout
            .contains("amb: no changes to Worker Deployment Version"),
        "{}",
        run.stdout
    );

    // A new build ID: build-1 keeps its Lambda compute config, and register says how to retire it.
    let text = co
        .read_env("amb")
        .replace("build_id = \"build-1\"", "build_id = \"build-2\"");
    co.write_env("amb", &text);
    let run = co.xtask_with(&["register", "amb"], &vars);
    run.success();
    assert!(
        run.stdout
            .contains("amb: created Worker Deployment Version `orders/it-amb-worker@build-2`"),
        "{}",
        run.stdout
    );
    let retire = "temporal worker deployment delete-version --namespace orders --deployment-name it-amb-worker --build-id build-1";
    assert!(
        run.stderr.contains(
            "amb: version `orders/it-amb-worker@build-1` still has aws-lambda compute but is not in environments/amb.toml"
        ) && run.stderr.contains(retire),
        "{}",
        run.stderr
    );
    let doctor = co.xtask_with(&["doctor", "amb"], &vars);
    assert!(
        doctor
            .line("version orders/it-amb-worker@build-1")
            .starts_with("WARN  step 5"),
        "{}",
        doctor.stdout
    );
    assert!(doctor.stdout.contains(retire), "{}", doctor.stdout);
}

#[test]
fn the_frontend_comes_from_temporal_address_or_a_cli_profile() {
    let server = temporal_server(WCI_ON);
    create_functions(&["it-src-fn"]);
    let co = Checkout::new();
    let text = environment("it-src", "", &["it-src-fn"], "it-src-fn", "build-1");
    co.write_env("src", &text);
    co.xtask(&["validate", "src"]).success();
    co.xtask(&["deploy", "src", "--yes"]).success();
    let deployed = co.read_env("src");

    // No address anywhere: an error naming the three places, and nothing recorded.
    let home = co.root().join("home");
    std::fs::create_dir_all(&home).unwrap();
    let home = home.display().to_string();
    let none = [
        ("HOME", Some(home.as_str())),
        ("XDG_CONFIG_HOME", None),
        ("TEMPORAL_ADDRESS", None),
        ("TEMPORAL_CONFIG_FILE", None),
        ("TEMPORAL_PROFILE", None),
    ];
    let run = co.xtask_with(&["register", "src"], &none);
    run.failure();
    for source in [
        "`temporal.address` in environments/src.toml",
        "TEMPORAL_ADDRESS",
        "profile `default`",
        &format!("{home}/.config/temporalio/temporal.toml"),
    ] {
        assert!(
            run.stderr.contains(source),
            "names {source}: {}",
            run.stderr
        );
    }
    assert_eq!(co.read_env("src"), deployed);

    // TEMPORAL_ADDRESS.
    let run = co.xtask_with(
        &["register", "src"],
        &[
            ("TEMPORAL_ADDRESS", Some(server.address().as_str())),
            none[0],
        ],
    );
    run.success();
    assert!(
        run.stdout
            .contains("src: created Worker Deployment Version `orders/it-src-worker@build-1`"),
        "{}\n{}",
        run.stdout,
        run.stderr
    );

    // A profile of the Temporal CLI's config file, named by TEMPORAL_PROFILE, found at
    // TEMPORAL_CONFIG_FILE; then the default profile at the default path.
    let profiles = format!(
        "[profile.default]\naddress = \"127.0.0.1:9\"\n\n[profile.staging]\naddress = \"{}\"\n[profile.staging.tls]\ndisabled = true\n",
        server.address()
    );
    let config = co.root().join("temporal.toml");
    std::fs::write(&config, &profiles).unwrap();
    let config = config.display().to_string();
    let run = co.xtask_with(
        &["register", "src"],
        &[
            ("TEMPORAL_ADDRESS", None),
            ("TEMPORAL_CONFIG_FILE", Some(config.as_str())),
            ("TEMPORAL_PROFILE", Some("staging")),
        ],
    );
    run.success();
    assert!(
        run.stdout
            .contains("src: no changes to Worker Deployment Version"),
        "{}\n{}",
        run.stdout,
        run.stderr
    );
    std::fs::create_dir_all(Path::new(&home).join(".config/temporalio")).unwrap();
    std::fs::write(
        Path::new(&home).join(".config/temporalio/temporal.toml"),
        profiles.replace(
            "[profile.default]\naddress = \"127.0.0.1:9\"\n\n[profile.staging]",
            "[profile.default]",
        ),
    )
    .unwrap();
    let run = co.xtask_with(&["register", "src"], &none);
    run.success();
    assert!(
        run.stdout
            .contains("src: no changes to Worker Deployment Version"),
        "{}\n{}",
        run.stdout,
        run.stderr
    );

    // The descriptor wins over both.
    co.write_env(
        "src",
        &deployed.replace(
            "\n[role]",
            &format!("address = \"127.0.0.1:{}\"\n\n[role]", free_port()),
        ),
    );
    let run = co.xtask_with(
        &["register", "src"],
        &[
            ("TEMPORAL_ADDRESS", Some(server.address().as_str())),
            none[0],
        ],
    );
    run.failure();
    assert!(run.stderr.contains("temporal.address"), "{}", run.stderr);
}

#[test]
fn a_failed_registration_is_reported_once_with_the_cli_lines_kept() {
    let server = temporal_server(WCI_ON);
    let co = Checkout::new();
    let address = format!("address = \"{}\"\n", server.address());
    co.write_env(
        "once",
        &environment(
            "it-once",
            &address,
            &["it-once-fn"],
            "it-once-fn",
            "build-1",
        ),
    );
    co.xtask(&["deploy", "once", "--yes"]).success();
    let run = co.xtask(&["register", "once"]);
    run.failure();
    assert_eq!(
        run.stderr.matches("Function not found").count(),
        1,
        "{}",
        run.stderr
    );
    assert_eq!(
        run.stderr
            .matches("hint: the Lambda function does not exist")
            .count(),
        1,
        "{}",
        run.stderr
    );
    // The step and the version on a line of their own, then the CLI's lines, indented.
    let lines: Vec<&str> = run.stderr.lines().collect();
    let head = lines
        .iter()
        .position(|l| {
            *l == "once: `temporal worker deployment create-version` for `orders/it-once-worker@build-1` failed:"
        })
        .unwrap_or_else(|| panic!("{}", run.stderr));
    assert!(
        lines[head + 1].starts_with("  ") && !lines[head + 1].starts_with("  hint:"),
        "{}",
        run.stderr
    );
    assert_eq!(
        lines.last(),
        Some(&"error: once: 1 of 1 versions failed to register (above)"),
        "{}",
        run.stderr
    );
}

/// A version whose create-version reached the server while describe-version does not show it
/// (a frontend restarted in the middle of `register`): the next `register` is told "already
/// exists", reads what the version holds and converges instead of failing.
#[test]
fn register_converges_on_a_version_that_exists_but_is_not_described() {
    let server = temporal_server(WCI_ON);
    create_functions(&["it-conv-fn"]);
    let co = Checkout::new();
    let address = format!("address = \"{}\"\n", server.address());
    co.write_env(
        "conv",
        &environment(
            "it-conv",
            &address,
            &["it-conv-fn"],
            "it-conv-fn",
            "build-1",
        ),
    );
    co.xtask(&["deploy", "conv", "--yes"]).success();
    co.xtask(&["register", "conv"]).success();

    // The real CLI, except that describe-version does not find the version.
    let cli = co.root().join("temporal-not-described");
    std::fs::write(
        &cli,
        format!(
            "#!/bin/sh\nfor a in \"$@\"; do\n  if [ \"$a\" = describe-version ]; then\n    echo 'Error: worker deployment version not found' >&2\n    exit 1\n  fi\ndone\nexec '{}' \"$@\"\n",
            crate::support::python().bin("temporal").display()
        ),
    )
    .unwrap();
    let mut perms = std::fs::metadata(&cli).unwrap().permissions();
    std::os::unix::fs::PermissionsExt::set_mode(&mut perms, 0o755);
    std::fs::set_permissions(&cli, perms).unwrap();
    let run = co.xtask_with(
        &["register", "conv"],
        &[("TEMPORAL_CLI", Some(cli.to_str().unwrap()))],
    );
    run.success();
    assert!(
        run.stdout.contains("no changes") && !run.all().contains("already exists"),
        "{}",
        run.all()
    );
    // And with the real CLI: the version is there, holding what the descriptor says.
    let run = co.xtask(&["register", "conv"]);
    run.success();
    assert!(run.stdout.contains("no changes"), "{}", run.all());
    // The same as one JSON document (docs/json-output.md), and nothing else on stdout.
    let run = co.xtask(&["register", "conv", "--output", "json"]);
    run.success();
    let doc: serde_json::Value = serde_json::from_str(&run.stdout).expect(&run.stdout);
    assert_eq!(doc["version"], 1, "{doc}");
    assert_eq!(doc["command"], "register", "{doc}");
    assert_eq!(doc["ok"], true, "{doc}");
    let versions = doc["worker_deployment_versions"]
        .as_array()
        .expect("versions");
    assert_eq!(versions.len(), 1, "{doc}");
    assert_eq!(versions[0]["id"], "orders/it-conv-worker@build-1", "{doc}");
    assert_eq!(versions[0]["action"], "unchanged", "{doc}");
    // `deploy --register`: one document, the registration inside it.
    let run = co.xtask(&["deploy", "conv", "--yes", "--register", "--output", "json"]);
    run.success();
    let doc: serde_json::Value = serde_json::from_str(&run.stdout).expect(&run.stdout);
    assert_eq!(doc["command"], "deploy", "{doc}");
    assert_eq!(doc["environments"][0]["action"], "unchanged", "{doc}");
    let registered = &doc["registered"][0]["worker_deployment_versions"][0];
    assert_eq!(registered["action"], "unchanged", "{doc}");
}
