//! The role the stack creates is guarded by its external ID, as the Temporal server requires:
//! AssumeRole without it (or with another) is denied, with it succeeds.

use aws_config::{BehaviorVersion, Region};
use aws_credential_types::Credentials;
use aws_sdk_sts::error::ProvideErrorMetadata;

use crate::support::{ACCOUNT, Checkout, descriptor, emulator};

async fn assume(
    client: &aws_sdk_sts::Client,
    role: &str,
    external_id: Option<&str>,
) -> Result<(), String> {
    client
        .assume_role()
        .role_arn(role)
        .role_session_name("managed-workers-aws")
        .set_external_id(external_id.map(str::to_owned))
        .send()
        .await
        .map(|_| ())
        .map_err(|e| e.code().unwrap_or("no code").to_owned())
}

#[test]
fn assume_role_requires_the_external_id() {
    let co = Checkout::new();
    co.write_env(
        "sts",
        &descriptor("it-sts", "the-right-external-id", &["worker-1"]),
    );
    co.xtask(&["deploy", "sts", "--yes"]).success();
    let role = format!("arn:aws:iam::{ACCOUNT}:role/Temporal-Serverless-Worker-it-sts");

    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let config = aws_config::defaults(BehaviorVersion::latest())
            .http_client(aws_smithy_http_client::Builder::new().build_http())
            .region(Region::new("us-east-1"))
            .endpoint_url(emulator().url())
            .credentials_provider(Credentials::new("testing", "testing", None, None, "test"))
            .load()
            .await;
        let sts = aws_sdk_sts::Client::new(&config);
        assert_eq!(
            assume(&sts, &role, None).await,
            Err("AccessDenied".to_owned())
        );
        assert_eq!(
            assume(&sts, &role, Some("a-wrong-external-id")).await,
            Err("AccessDenied".to_owned())
        );
        assert_eq!(
            assume(&sts, &role, Some("the-right-external-id")).await,
            Ok(())
        );
    });
    co.xtask(&["destroy", "sts", "--yes"]).success();
}

#[test]
fn whoami_reports_the_emulator_identity() {
    let co = Checkout::new();
    co.write_env("who", &descriptor("it-who", "whoami-ext-id", &["worker-1"]));
    let run = co.xtask(&["whoami", "who"]);
    run.success();
    assert!(
        run.stdout.contains(&format!("account:  {ACCOUNT}")),
        "{}",
        run.stdout
    );
}
