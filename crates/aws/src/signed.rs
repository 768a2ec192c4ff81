//! A signed request to an AWS API, made by hand on the SDK's own orchestrator: what `iam.rs`
//! and `lambda.rs` share.
//!
//! Why not the SDK's crates for those services: `aws-sdk-iam` and `aws-sdk-lambda` were the two
//! slowest crates of the cold build (about 100 s and 226 s of compiling under load) for a few
//! read calls. Each request here is an operation of the same smithy orchestrator the SDK clients
//! run on, built from the same [`SdkConfig`]: the same HTTP client, retry configuration and
//! classifiers (throttling codes, 5xx, timeouts, dropped connections), timeouts, credentials
//! provider and identity cache (so the dummy keys of a local endpoint apply here too), signed
//! with SigV4 by `aws-runtime`. Only the request's shape and the reading of an error answer
//! differ between the protocols: a [`Protocol`] gives them.

use std::fmt;

use aws_config::SdkConfig;
use aws_runtime::auth::SigV4OperationSigningConfig;
use aws_runtime::auth::sigv4::{SCHEME_ID as SIGV4, SigV4AuthScheme};
use aws_runtime::retries::classifiers::AwsErrorCodeClassifier;
use aws_smithy_runtime::client::orchestrator::operation::Operation;
use aws_smithy_runtime::client::retries::classifiers::{
    HttpStatusCodeClassifier, TransientErrorClassifier,
};
use aws_smithy_runtime_api::client::auth::static_resolver::StaticAuthSchemeOptionResolver;
use aws_smithy_runtime_api::client::auth::{AuthSchemeOptionResolverParams, SharedAuthScheme};
use aws_smithy_runtime_api::client::orchestrator::{HttpRequest, HttpResponse, OrchestratorError};
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponentsBuilder;
use aws_smithy_runtime_api::client::runtime_plugin::StaticRuntimePlugin;
use aws_smithy_types::body::SdkBody;
use aws_smithy_types::config_bag::Layer;
use aws_smithy_types::error::metadata::{ErrorMetadata, ProvideErrorMetadata};
use aws_types::SigningName;
use aws_types::region::SigningRegion;

use crate::{DeployError, aws_error};

/// What differs between the APIs called by hand: the name requests are signed for, and how an
/// error answer names its code and message.
#[derive(Debug)]
pub(crate) struct Protocol {
    /// The SigV4 signing name (`iam`, `lambda`).
    pub signing_name: &'static str,
    /// The service's name in messages and traces (`IAM`, `Lambda`).
    pub label: &'static str,
    /// The code and message of a non-2xx answer (headers and body); an empty metadata when it
    /// names neither.
    pub error: fn(&HttpResponse, &str) -> ErrorMetadata,
}

/// One HTTP request, before signing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Request {
    pub method: http::Method,
    /// The path and query, already percent-encoded.
    pub uri: String,
    pub content_type: Option<&'static str>,
    pub body: String,
}

/// An error answer of the service, or an error status without one (a proxy's page). Its
/// metadata gives the retry classifiers and `aws_error` the code and message.
#[derive(Debug)]
pub(crate) struct ServiceError {
    meta: ErrorMetadata,
}

impl fmt::Display for ServiceError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.meta.code(), self.meta.message()) {
            (Some(code), Some(message)) => write!(f, "{code}: {message}"),
            (Some(text), None) | (None, Some(text)) => f.write_str(text),
            (None, None) => f.write_str("the service answered with an error and no code"),
        }
    }
}

impl std::error::Error for ServiceError {}

impl ProvideErrorMetadata for ServiceError {
    fn meta(&self) -> &ErrorMetadata {
        &self.meta
    }
}

/// A client of one endpoint of one API: every request it sends is signed and retried as the
/// SDK's clients do it.
#[derive(Debug, Clone)]
pub(crate) struct Signed {
    operation: Operation<Request, String, ServiceError>,
}

impl Signed {
    /// A client calling `endpoint` (a URL), signing for `signing_region`, with everything else
    /// from `config`.
    pub(crate) fn new(
        config: &SdkConfig,
        protocol: &'static Protocol,
        endpoint: &str,
        signing_region: &str,
    ) -> Self {
        let mut layer = Layer::new(protocol.label);
        layer.store_put(AuthSchemeOptionResolverParams::new(()));
        layer.store_put(SigningName::from_static(protocol.signing_name));
        layer.store_put(SigningRegion::from(aws_types::region::Region::new(
            signing_region.to_owned(),
        )));
        layer.store_put(SigV4OperationSigningConfig::default());
        let mut components = RuntimeComponentsBuilder::new(protocol.label)
            .with_auth_scheme_option_resolver(Some(StaticAuthSchemeOptionResolver::new(vec![
                SIGV4,
            ])))
            .with_auth_scheme(SharedAuthScheme::new(SigV4AuthScheme::new()));
        if let Some(credentials) = config.credentials_provider() {
            components = components.with_identity_resolver(SIGV4, credentials);
        }
        if let Some(cache) = config.identity_cache() {
            components = components.with_identity_cache(Some(cache));
        }
        // One operation serves every action of the API (the request names it); the name only
        // labels traces.
        let mut builder = Operation::builder()
            .service_name(protocol.label)
            .operation_name(protocol.label)
            .endpoint_url(endpoint)
            .retry_classifier(AwsErrorCodeClassifier::<ServiceError>::new())
            .retry_classifier(HttpStatusCodeClassifier::default())
            .retry_classifier(TransientErrorClassifier::<ServiceError>::new())
            .with_connection_poisoning()
            .runtime_plugin(
                StaticRuntimePlugin::new()
                    .with_config(layer.freeze())
                    .with_runtime_components(components),
            );
        if let Some(http) = config.http_client() {
            builder = builder.http_client(http);
        }
        builder = match config.retry_config() {
            Some(retry) => builder.standard_retry(retry),
            None => builder.no_retry(),
        };
        if let Some(timeouts) = config.timeout_config() {
            builder = builder.timeout_config(timeouts.clone());
        }
        if let Some(sleep) = config.sleep_impl() {
            builder = builder.sleep_impl(sleep);
        }
        if let Some(time) = config.time_source() {
            builder = builder.time_source(time);
        }
        let operation = builder
            .serializer(serialize)
            .deserializer(move |response| deserialize(protocol, response))
            .build();
        Signed { operation }
    }

    /// Sends `request` (the call `action`) and returns the body of its 2xx answer.
    pub(crate) async fn send(
        &self,
        action: &'static str,
        request: Request,
    ) -> Result<String, DeployError> {
        self.operation
            .invoke(request)
            .await
            .map_err(|e| aws_error(action, e))
    }
}

fn serialize(request: Request) -> Result<HttpRequest, aws_smithy_runtime_api::box_error::BoxError> {
    let mut builder = http::Request::builder()
        .method(request.method)
        .uri(request.uri);
    if let Some(content_type) = request.content_type {
        builder = builder.header("content-type", content_type);
    }
    Ok(HttpRequest::try_from(
        builder.body(SdkBody::from(request.body))?,
    )?)
}

/// A 2xx answer's body; any other status is a [`ServiceError`] read by `protocol`.
pub(crate) fn deserialize(
    protocol: &Protocol,
    response: &HttpResponse,
) -> Result<String, OrchestratorError<ServiceError>> {
    let body = response
        .body()
        .bytes()
        .map(|b| String::from_utf8_lossy(b).into_owned())
        .unwrap_or_default();
    if response.status().is_success() {
        return Ok(body);
    }
    let mut meta = (protocol.error)(response, &body);
    if meta.code().is_none() && meta.message().is_none() {
        meta = ErrorMetadata::builder()
            .message(format!(
                "HTTP {} and no error code or message from {} in its body",
                response.status().as_u16(),
                protocol.label
            ))
            .build();
    }
    Err(OrchestratorError::operation(ServiceError { meta }))
}

/// Every byte but RFC 3986's unreserved characters (`A-Z a-z 0-9 - . _ ~`).
const RESERVED: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// `text` percent-encoded: everything but RFC 3986's unreserved characters, as a form value or
/// a path segment.
pub(crate) fn encode(text: &str) -> String {
    percent_encoding::utf8_percent_encode(text, RESERVED).to_string()
}

/// Error metadata from a code and a message that may be missing or empty.
pub(crate) fn metadata(code: Option<String>, message: Option<String>) -> ErrorMetadata {
    let mut meta = ErrorMetadata::builder();
    if let Some(code) = code.filter(|c| !c.is_empty()) {
        meta = meta.code(code);
    }
    if let Some(message) = message.filter(|m| !m.is_empty()) {
        meta = meta.message(message);
    }
    meta.build()
}
