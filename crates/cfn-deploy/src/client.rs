use aws_config::{BehaviorVersion, Region};
use aws_credential_types::Credentials;
use aws_smithy_http_client::tls::{Provider, rustls_provider::CryptoMode};

use crate::error::{DeployError, aws_error};

/// Where and as whom to call AWS.
#[derive(Debug, Clone, Default)]
pub struct Connection {
    pub region: String,
    pub profile: Option<String>,
    /// An emulator endpoint. On a loopback address the tool always uses dummy credentials, so
    /// real keys never reach an emulator and no instance metadata is asked for.
    pub endpoint_url: Option<String>,
}

impl Connection {
    /// Whether the endpoint is an emulator on this machine.
    pub fn is_loopback(&self) -> bool {
        self.endpoint_url.as_deref().is_some_and(is_loopback_url)
    }
}

/// Whether `url` points at 127.0.0.0/8, `localhost` or `[::1]`.
pub fn is_loopback_url(url: &str) -> bool {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let host = rest.split(['/', '?']).next().unwrap_or("");
    let host = match host.strip_prefix('[') {
        Some(v6) => v6.split(']').next().unwrap_or(""),
        None => host.rsplit_once(':').map_or(host, |(h, _)| h),
    };
    host == "localhost"
        || host == "::1"
        || host
            .parse::<std::net::Ipv4Addr>()
            .is_ok_and(|ip| ip.is_loopback())
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
            .region(Region::new(conn.region.clone()));
        if let Some(profile) = &conn.profile {
            loader = loader.profile_name(profile);
        }
        if let Some(url) = &conn.endpoint_url {
            loader = loader.endpoint_url(url);
        }
        if conn.is_loopback() {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_urls() {
        for url in [
            "http://127.0.0.1:5000",
            "http://localhost:4566/",
            "http://[::1]:5000",
            "http://127.1.2.3",
        ] {
            assert!(is_loopback_url(url), "{url}");
        }
        for url in [
            "https://cloudformation.us-west-2.amazonaws.com",
            "http://10.0.0.1:5000",
            "http://127.0.0.1.example:80",
        ] {
            assert!(!is_loopback_url(url), "{url}");
        }
    }
}
