//! How the role is named (`role.naming`, docs/template.md): the guide's current template names
//! it exactly `role.name`; a stack deployed with the former `NAME-STACK_NAME` keeps its role
//! until its owner moves it, and `plan` shows what the move replaces.

use crate::support::{ACCOUNT, Checkout, boto3, descriptor};

/// `descriptor` with `lines` added at the top of `[role]`.
fn with_role_keys(text: &str, lines: &str) -> String {
    text.replacen(
        "[role]   # the stack\n",
        &format!("[role]   # the stack\n{lines}"),
        1,
    )
}

/// The names of the IAM roles of the emulator's account that start with `prefix`.
fn roles(prefix: &str) -> Vec<String> {
    let out = boto3(
        "iam",
        &format!(
            "print(json.dumps(sorted(r['RoleName'] for r in client.list_roles()['Roles'] if r['RoleName'].startswith('{prefix}'))))"
        ),
    );
    serde_json::from_str(&out).unwrap()
}

#[test]
fn a_new_environment_gets_a_role_named_exactly_role_name_and_plans_no_change_after() {
    let co = Checkout::new();
    let text = with_role_keys(
        &descriptor("it-naming-fixed", "fixed-ext-id", &["worker-1"]),
        "name = \"it-fixed-role\"\nnaming = \"fixed\"\n",
    );
    co.write_env("fx", &text);
    co.xtask(&["deploy", "fx", "--yes"]).success();
    assert_eq!(roles("it-fixed-role"), ["it-fixed-role"]);
    assert!(roles("Temporal-Serverless-Worker-it-naming-fixed").is_empty());
    let recorded = co.read_env("fx");
    assert!(
        recorded.contains(&format!(
            "role_arn = \"arn:aws:iam::{ACCOUNT}:role/it-fixed-role\""
        )),
        "{recorded}"
    );
    let run = co.xtask(&["plan", "fx", "--detailed-exitcode"]);
    assert_eq!(run.code, Some(0), "{}", run.all());
    assert!(run.stdout.contains("=> no changes"), "{}", run.stdout);
    co.xtask(&["destroy", "fx", "--yes"]).success();
}

#[test]
fn a_per_stack_role_stays_until_its_owner_moves_it_and_plan_shows_the_replacement() {
    let co = Checkout::new();
    let stack = "it-naming-move";
    let old_role = format!("Temporal-Serverless-Worker-{stack}");
    // A descriptor written before `role.naming` existed, deployed with the former template.
    co.write_env("mv", &descriptor(stack, "move-ext-id", &["worker-1"]));
    co.xtask(&["deploy", "mv", "--yes"]).success();
    assert_eq!(roles(&old_role), [old_role.as_str()]);
    let run = co.xtask(&["plan", "mv", "--detailed-exitcode"]);
    assert_eq!(
        run.code,
        Some(0),
        "the old form keeps its role:\n{}",
        run.all()
    );
    assert!(run.stdout.contains("=> no changes"), "{}", run.stdout);

    // The owner moves to the guide's current template.
    let deployed = co.read_env("mv");
    let moved = with_role_keys(&deployed, "name = \"it-moved-role\"\nnaming = \"fixed\"\n");
    co.write_env("mv", &moved);
    co.xtask(&["validate", "mv"]).success();
    let run = co.xtask(&["plan", "mv", "--detailed-exitcode"]);
    assert_eq!(run.code, Some(2), "{}", run.all());
    let role_line = run.line("TemporalServerlessWorker");
    assert!(
        role_line.contains("Modify") && role_line.contains("(replaces the resource)"),
        "{}",
        run.stdout
    );
    let hint = run.line("the role is replaced");
    for part in [
        format!("from `arn:aws:iam::{ACCOUNT}:role/{old_role}`"),
        format!("to `arn:aws:iam::{ACCOUNT}:role/it-moved-role`"),
        "must be registered again".to_owned(),
        "deploy mv --register".to_owned(),
    ] {
        assert!(hint.contains(&part), "`{part}` in:\n{}", run.stdout);
    }
    crate::snapshots::assert_run("plan_role_naming_move_text", co.root(), &run);
    let markdown = co.xtask(&["plan", "mv", "--output", "markdown"]);
    crate::snapshots::assert_run("plan_role_naming_move_markdown", co.root(), &markdown);
    let json = co.xtask(&["plan", "mv", "--output", "json"]);
    json.success();
    let doc: serde_json::Value = serde_json::from_str(&json.stdout).unwrap();
    assert!(
        doc["environments"][0]["role_replacement"]
            .as_str()
            .is_some_and(|s| s.contains("it-moved-role")),
        "{}",
        json.stdout
    );
    // Planning changed nothing.
    assert_eq!(roles(&old_role), [old_role.as_str()]);

    co.xtask(&["deploy", "mv", "--yes"]).success();
    assert_eq!(roles("it-moved-role"), ["it-moved-role"]);
    assert!(roles(&old_role).is_empty(), "the old role is gone");
    assert!(
        co.read_env("mv").contains(&format!(
            "role_arn = \"arn:aws:iam::{ACCOUNT}:role/it-moved-role\""
        )),
        "{}",
        co.read_env("mv")
    );
    let run = co.xtask(&["plan", "mv", "--detailed-exitcode"]);
    assert_eq!(run.code, Some(0), "{}", run.all());
    co.xtask(&["destroy", "mv", "--yes"]).success();
}

#[test]
fn validate_refuses_a_role_name_iam_would_refuse_with_its_line_and_key() {
    let co = Checkout::new();
    let base = descriptor("it-naming-long", "long-ext-id", &["worker-1"]);
    // Named exactly `role.name`: the name alone is held to IAM's 64 characters.
    let long = "r".repeat(65);
    co.write_env(
        "lf",
        &with_role_keys(&base, &format!("name = \"{long}\"\nnaming = \"fixed\"\n")),
    );
    let run = co.xtask(&["validate", "lf"]);
    run.failure();
    assert!(
        run.stderr.contains("lf.toml:11:8: error: `role.name`")
            && run.stderr.contains("1 to 64 characters"),
        "{}",
        run.stderr
    );
    // Named `NAME-STACK_NAME`: the whole name counts, and the message names the way out.
    let fifty = "n".repeat(50);
    co.write_env(
        "lp",
        &with_role_keys(
            &base,
            &format!("name = \"{fifty}\"\nnaming = \"per-stack\"\n"),
        ),
    );
    let run = co.xtask(&["validate", "lp"]);
    run.failure();
    assert!(
        run.stderr.contains("lp.toml:11:8: error: `role.name`")
            && run.stderr.contains("(65 characters")
            && run.stderr.contains("role.naming = \"fixed\""),
        "{}",
        run.stderr
    );
}

#[test]
fn doctor_warns_when_a_registered_version_is_not_covered_by_the_role_until_name_star_is_deployed() {
    let co = Checkout::new();
    let stack = "it-naming-cover";
    // Deployed when the guide listed unqualified function ARNs.
    co.write_env("cv", &descriptor(stack, "cover-ext-id", &["cover-worker"]));
    co.xtask(&["deploy", "cv", "--yes"]).success();
    // Since then the descriptor lists `:*` and a version registered with a published version,
    // but the role was not deployed again.
    let function = format!("arn:aws:lambda:us-east-1:{ACCOUNT}:function:cover-worker");
    let text = co
        .read_env("cv")
        .replace(&format!("\"{function}\""), &format!("\"{function}:*\""))
        .replace("deployed_at", "registered = [\"orders/w@1\"]\ndeployed_at");
    let text = text.replace(
        "[deploy]",
        &format!(
            "[[worker_deployments]]\nnamespace = \"orders\"\nname = \"w\"\nbuild_id = \"1\"\nlambda_function_arn = \"{function}:1\"\n\n[deploy]"
        ),
    );
    co.write_env("cv", &text);
    co.xtask(&["validate", "cv"]).success();
    let run = co.xtask(&["doctor", "cv"]);
    let line = run.line("role covers orders/w@1");
    assert!(
        line.starts_with("WARN")
            && line.contains(&format!("registered with `{function}:1`"))
            && line.contains("does not cover"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.contains(&format!("list `{function}:*`")),
        "{}",
        run.stdout
    );
    // Deployed with `NAME:*`, the role covers every published version.
    co.xtask(&["deploy", "cv", "--yes"]).success();
    let run = co.xtask(&["doctor", "cv"]);
    let line = run.line("role covers orders/w@1");
    assert!(
        line.starts_with("pass") && line.contains(&format!("covers `{function}:1`")),
        "{}",
        run.stdout
    );
    co.xtask(&["destroy", "cv", "--yes", "--leave-versions"])
        .success();
}
