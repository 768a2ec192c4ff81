use std::time::Duration;

use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_smithy_http_client::tls::{Provider, rustls_provider::CryptoMode};
use aws_types::service_config::ServiceConfigKey;

use crate::{DeployError, Stacks, aws_error};

use crate::credentials::{self, AssumeRole, CredentialSource};
use crate::explain;
use crate::iam::Iam;

/// Where and as whom to call AWS. Environments with equal connections share their clients in
/// one command (see `tsw`'s `connect::Shared`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct Connection {
    pub region: String,
    pub profile: Option<String>,
    /// An emulator endpoint (`AWS_ENDPOINT_URL` is honoured too).
    pub endpoint_url: Option<String>,
    /// A role to assume with the credentials found (`aws.role_arn`).
    pub assume_role: Option<AssumeRole>,
}

/// One client per service, sharing one configuration.
#[derive(Debug, Clone)]
pub struct Clients {
    /// The invocation-role stack, on CloudFormation.
    pub stacks: Stacks,
    pub sts: aws_sdk_sts::Client,
    /// IAM, to read the invocation role as it is (`status`, `doctor`) and put it back.
    pub(crate) iam: Iam,
    /// The shared configuration, for clients of other services.
    pub config: aws_config::SdkConfig,
    /// The endpoints on this machine that some client calls. When there is any, every client
    /// signs with dummy keys.
    pub local_endpoints: Vec<Endpoint>,
    /// Where the credentials every client signs with come from.
    pub credentials: CredentialSource,
}

/// The SDK service ids of every client this tool builds, all from [`Clients::config`]
/// (Lambda's by [`Clients::lambda`], Organizations' by [`Clients::stack_sets`]).
pub(crate) const SERVICES: &[&str] = &["CloudFormation", "STS", "IAM", "Lambda", "Organizations"];

/// An endpoint a client calls, and where it was configured.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    pub url: String,
    pub origin: EndpointOrigin,
}

/// Where an endpoint was configured.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EndpointOrigin {
    /// [`Connection::endpoint_url`].
    Connection,
    /// An environment variable (`AWS_ENDPOINT_URL` or `AWS_ENDPOINT_URL_<SERVICE>`).
    Variable(String),
    /// The AWS config file: `endpoint_url` of the profile or of its `services` section.
    ConfigFile,
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
    /// any, comes from `conn` or wherever the SDK finds one (`AWS_ENDPOINT_URL[_<SERVICE>]`, the
    /// config file). When any client would call an endpoint on this machine, every client signs
    /// with dummy keys: the caller's credentials never reach a local port, whatever listens there.
    pub async fn connect(conn: &Connection) -> Self {
        let http = explain::naming_endpoints(
            aws_smithy_http_client::Builder::new()
                .tls_provider(Provider::Rustls(CryptoMode::Ring))
                .build_https(),
        );
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
        let config = loader.load().await;
        let local_endpoints: Vec<Endpoint> = endpoints(&config)
            .into_iter()
            .filter(|e| local_endpoint::is_local(&e.url))
            .collect();
        // Decided after loading, from what each client will really call: with a local one,
        // the caller's keys, session token, profile, SSO or credential process are never even
        // resolved (see `credentials.rs`).
        let local = !local_endpoints.is_empty();
        let credentials = CredentialSource::of(conn, local, &|v| std::env::var(v).ok());
        let config = match credentials::provider(conn, &config, local, None).await {
            Some(provider) => config.into_builder().credentials_provider(provider).build(),
            None => config,
        };
        Clients {
            stacks: Stacks::new(&config, endpoint_of(&config, "CloudFormation").as_deref()),
            sts: aws_sdk_sts::Client::new(&config),
            iam: Iam::new(&config),
            config,
            local_endpoints,
            credentials,
        }
    }

    /// Whether STS can say who calls every endpoint: not when some endpoint is on this machine
    /// and STS's is not (every call is then signed with dummy keys, which no account of AWS
    /// takes, and STS elsewhere would answer for another system).
    pub fn sts_answers_for_all(&self) -> bool {
        self.local_endpoints.is_empty()
            || endpoint_of(&self.config, "STS").is_some_and(|url| local_endpoint::is_local(&url))
    }

    /// The endpoint STS calls go to, for messages.
    pub fn sts_endpoint(&self) -> String {
        endpoint_of(&self.config, "STS").unwrap_or_else(|| "STS".to_owned())
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

impl Clients {
    /// The first endpoint a client would call that no request can go to (the SDK would fail
    /// every request with a Debug dump of it), with what is wrong with it.
    pub fn malformed_endpoint(&self) -> Option<(Endpoint, String)> {
        endpoints(&self.config)
            .into_iter()
            .find_map(|e| endpoint_problem(&e.url).map(|why| (e, why)))
    }
}

/// What keeps `url` from being an endpoint the SDK sends to: an absolute `http` or `https`
/// URI with a host.
fn endpoint_problem(url: &str) -> Option<String> {
    match url.parse::<http::Uri>() {
        Err(e) => Some(e.to_string()),
        Ok(uri) if !matches!(uri.scheme_str(), Some("http" | "https")) => {
            Some("it does not start with `http://` or `https://`".to_owned())
        }
        Ok(uri) if uri.host().is_none_or(str::is_empty) => Some("it has no host".to_owned()),
        Ok(_) => None,
    }
}

/// The endpoint each service's client built from `config` calls (see [`endpoint_of`]);
/// distinct, in service order.
fn endpoints(config: &SdkConfig) -> Vec<Endpoint> {
    let given = config.get_origin("endpoint_url").is_client_config();
    let mut out: Vec<Endpoint> = Vec::new();
    for service in SERVICES {
        let Some(url) = endpoint_of(config, service) else {
            continue;
        };
        let origin = if given {
            EndpointOrigin::Connection
        } else {
            origin_of(service, &url)
        };
        if !out.iter().any(|e| e.url == url) {
            out.push(Endpoint { url, origin });
        }
    }
    out
}

/// The endpoint `service`'s client built from `config` calls, resolved as the SDK resolves it:
/// an endpoint given in code, else `AWS_ENDPOINT_URL_<SERVICE>` or the config file's service
/// section, else `AWS_ENDPOINT_URL` or the profile's `endpoint_url`; `None` for AWS's own.
pub(crate) fn endpoint_of(config: &SdkConfig, service: &str) -> Option<String> {
    if config.get_origin("endpoint_url").is_client_config() {
        return config.endpoint_url().map(str::to_owned);
    }
    config
        .service_config()
        .and_then(|c| c.load_config(service_key(service)))
        .or_else(|| config.endpoint_url().map(str::to_owned))
}

/// The key the generated clients look their endpoint up with.
fn service_key(service: &str) -> ServiceConfigKey<'_> {
    ServiceConfigKey::builder()
        .service_id(service)
        .env("AWS_ENDPOINT_URL")
        .profile("endpoint_url")
        .build()
        .expect("every field is set")
}

/// The variable that set `url` for `service`, or else the config file.
fn origin_of(service: &str, url: &str) -> EndpointOrigin {
    let specific = format!(
        "AWS_ENDPOINT_URL_{}",
        service.to_ascii_uppercase().replace(' ', "_")
    );
    [specific, "AWS_ENDPOINT_URL".to_owned()]
        .into_iter()
        .find(|var| std::env::var(var).is_ok_and(|v| v == url))
        .map_or(EndpointOrigin::ConfigFile, EndpointOrigin::Variable)
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

#[cfg(test)]
pub(crate) mod tests {
    use std::sync::{Arc, Mutex};

    use aws_config::retry::RetryConfig;
    use aws_credential_types::Credentials;
    use aws_credential_types::provider::SharedCredentialsProvider;
    use aws_sdk_iam::config::endpoint::{Params, ResolveEndpoint};
    use aws_smithy_runtime_api::client::http::{
        HttpConnector, HttpConnectorFuture, SharedHttpConnector, http_client_fn,
    };
    use aws_smithy_runtime_api::client::orchestrator::{HttpRequest, HttpResponse};
    use aws_smithy_runtime_api::http::StatusCode;
    use aws_smithy_types::Document;
    use aws_smithy_types::body::SdkBody;

    use super::*;

    /// Answers every request with IAM's AccessDenied and keeps its URI and `authorization`.
    #[derive(Debug, Clone, Default)]
    pub(crate) struct Capture(pub(crate) Arc<Mutex<Vec<(String, String)>>>);

    impl HttpConnector for Capture {
        fn call(&self, request: HttpRequest) -> HttpConnectorFuture {
            let auth = request
                .headers()
                .get("authorization")
                .unwrap_or_default()
                .to_owned();
            self.0
                .lock()
                .unwrap()
                .push((request.uri().to_owned(), auth));
            let body = "<ErrorResponse><Error><Code>AccessDenied</Code>\
                        <Message>no</Message></Error></ErrorResponse>";
            HttpConnectorFuture::ready(Ok(HttpResponse::new(
                StatusCode::try_from(403).unwrap(),
                SdkBody::from(body),
            )))
        }
    }

    /// The configuration of `region` with `fips` and `dual_stack`, sending into `capture`.
    pub(crate) fn config_of(
        region: &str,
        fips: bool,
        dual_stack: bool,
        capture: &Capture,
    ) -> SdkConfig {
        let connector = SharedHttpConnector::new(capture.clone());
        SdkConfig::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new(region.to_owned()))
            .use_fips(fips)
            .use_dual_stack(dual_stack)
            .retry_config(RetryConfig::disabled())
            .http_client(http_client_fn(move |_, _| connector.clone()))
            .credentials_provider(SharedCredentialsProvider::new(Credentials::new(
                "AKIDTEST", "secret", None, None, "test",
            )))
            .build()
    }

    /// IAM's endpoint and signing region as the SDK's rules resolve them.
    async fn resolved(region: &str, fips: bool, dual_stack: bool) -> (String, String) {
        let params = Params::builder()
            .region(region)
            .use_fips(fips)
            .use_dual_stack(dual_stack)
            .build()
            .unwrap();
        let endpoint = aws_sdk_iam::config::endpoint::DefaultResolver::new()
            .resolve_endpoint(&params)
            .await
            .unwrap();
        let Some(Document::Array(schemes)) = endpoint.properties().get("authSchemes") else {
            panic!("no authSchemes in {endpoint:?}");
        };
        let signing_region = match schemes.first() {
            Some(Document::Object(scheme)) => match scheme.get("signingRegion") {
                Some(Document::String(r)) => r.clone(),
                _ => region.to_owned(),
            },
            _ => region.to_owned(),
        };
        (endpoint.url().to_owned(), signing_region)
    }

    #[tokio::test]
    async fn iam_calls_go_where_the_sdk_resolves_for_every_partition_fips_and_dual_stack() {
        for (region, fips, dual_stack) in [
            ("us-east-1", false, false),
            ("eu-west-1", true, false),
            ("eu-west-1", false, true),
            ("cn-north-1", false, false),
            ("us-gov-west-1", true, false),
            ("us-iso-east-1", false, false),
            ("us-isob-east-1", false, false),
            ("eu-isoe-west-1", false, false),
        ] {
            let capture = Capture::default();
            let config = config_of(region, fips, dual_stack, &capture);
            let _ = Iam::new(&config).role_arn("r").await;
            let (url, signing_region) = resolved(region, fips, dual_stack).await;
            let sent = capture.0.lock().unwrap().clone();
            let case = format!("{region} fips={fips} dual-stack={dual_stack}: {sent:?}");
            assert_eq!(sent.len(), 1, "{case}");
            let (uri, auth) = &sent[0];
            assert_eq!(
                uri.trim_end_matches('/'),
                url.trim_end_matches('/'),
                "{case}"
            );
            assert!(
                auth.contains(&format!("/{signing_region}/iam/aws4_request")),
                "{case}: signed for {signing_region}?"
            );
        }
    }

    #[test]
    fn only_http_urls_with_a_host_are_endpoints() {
        for good in [
            "http://127.0.0.1:5050",
            "https://cloudformation.us-east-1.amazonaws.com",
            "http://[::1]:1/",
            "http://user@127.0.0.1:1",
            "http://2130706433:1",
            "http://[::ffff:127.0.0.1]:1",
        ] {
            assert_eq!(endpoint_problem(good), None, "{good}");
        }
        for bad in [
            "not a url",
            "http://[::1",
            "127.0.0.1:5050",
            "ftp://h:1",
            "http://",
        ] {
            assert!(endpoint_problem(bad).is_some(), "{bad}");
        }
    }
}
