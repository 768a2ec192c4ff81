use std::time::Duration;

use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, Region};
use aws_credential_types::Credentials;
use aws_smithy_http_client::tls::{Provider, rustls_provider::CryptoMode};

use crate::error::{DeployError, aws_error};

/// Where and as whom to call AWS.
#[derive(Debug, Clone, Default)]
pub struct Connection {
    pub region: String,
    pub profile: Option<String>,
    /// An emulator endpoint (`AWS_ENDPOINT_URL` is honoured too).
    pub endpoint_url: Option<String>,
    /// Use dummy keys, so that real ones never reach an emulator and no instance metadata is
    /// asked for.
    pub dummy_credentials: bool,
}

/// One client per service, sharing one configuration.
#[derive(Debug, Clone)]
pub struct Clients {
    pub cfn: aws_sdk_cloudformation::Client,
    pub sts: aws_sdk_sts::Client,
    /// The shared configuration, for clients of other services.
    pub config: aws_config::SdkConfig,
}

/// The caller, as STS sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    pub account: String,
    pub arn: String,
    pub user_id: String,
}

impl Clients {
    /// Builds the clients. HTTPS goes through rustls with the ring provider; the endpoint, if
    /// any, comes from `conn` or the SDK's standard `AWS_ENDPOINT_URL`.
    pub async fn connect(conn: &Connection) -> Self {
        let http = aws_smithy_http_client::Builder::new()
            .tls_provider(Provider::Rustls(CryptoMode::Ring))
            .build_https();
        let mut loader = aws_config::defaults(BehaviorVersion::latest())
            .http_client(http)
            .retry_config(retry_config())
            .timeout_config(timeout_config())
            .region(Region::new(conn.region.clone()));
        if let Some(profile) = &conn.profile {
            loader = loader.profile_name(profile);
        }
        if let Some(url) = &conn.endpoint_url {
            loader = loader.endpoint_url(url);
        }
        if conn.dummy_credentials {
            loader = loader.credentials_provider(Credentials::new(
                "testing", "testing", None, None, "emulator",
            ));
        }
        let config = loader.load().await;
        Clients {
            cfn: aws_sdk_cloudformation::Client::new(&config),
            sts: aws_sdk_sts::Client::new(&config),
            config,
        }
    }

    /// STS GetCallerIdentity.
    pub async fn whoami(&self) -> Result<Identity, DeployError> {
        let out = self
            .sts
            .get_caller_identity()
            .send()
            .await
            .map_err(|e| aws_error("GetCallerIdentity", e))?;
        Ok(Identity {
            account: out.account().unwrap_or_default().to_owned(),
            arn: out.arn().unwrap_or_default().to_owned(),
            user_id: out.user_id().unwrap_or_default().to_owned(),
        })
    }
}

/// Retries of every request: the SDK's standard mode (exponential back-off with jitter from 1 s,
/// at most 20 s apart) for throttling, 5xx, timeouts and dropped connections, 8 attempts in
/// all, so a throttled call keeps trying for about a minute. Terraform's AWS provider goes to
/// 25; this tool makes few calls, and the loops that wait for a stack retry on their own until
/// their deadline (see `stack.rs`).
fn retry_config() -> RetryConfig {
    RetryConfig::standard()
        .with_max_attempts(8)
        .with_max_backoff(Duration::from_secs(20))
}

/// Timeouts of every request, so that an endpoint that accepts and never answers cannot hang
/// the tool: CloudFormation and STS answer within a second or two.
fn timeout_config() -> TimeoutConfig {
    TimeoutConfig::builder()
        .connect_timeout(Duration::from_secs(5))
        .read_timeout(Duration::from_secs(30))
        .operation_attempt_timeout(Duration::from_secs(60))
        .operation_timeout(Duration::from_secs(300))
        .build()
}
