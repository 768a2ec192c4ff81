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
