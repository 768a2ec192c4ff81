//! Failures of AWS calls told as causes with fixes: the address a request could not reach, and
//! a hint for the usual causes of missing credentials (both shown by
//! [`crate::message_chain`], never as a Debug dump).

use std::error::Error;
use std::fmt;

use crate::{Hint, message_chain};
use aws_credential_types::Credentials;
use aws_credential_types::provider::error::CredentialsError;
use aws_credential_types::provider::{self, ProvideCredentials, SharedCredentialsProvider};
use aws_smithy_runtime_api::client::http::{
    HttpClient, HttpConnector, HttpConnectorFuture, HttpConnectorSettings, SharedHttpClient,
    SharedHttpConnector,
};
use aws_smithy_runtime_api::client::orchestrator::HttpRequest;
use aws_smithy_runtime_api::client::result::ConnectorError;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;

/// The credentials provider every client uses, whose failures carry a [`Hint`].
#[derive(Debug)]
pub(crate) struct Hinting {
    inner: SharedCredentialsProvider,
    /// The profile in effect: the descriptor's, else `AWS_PROFILE`, else `default`.
    profile: String,
}

impl Hinting {
    pub(crate) fn wrap(
        inner: SharedCredentialsProvider,
        profile: Option<&str>,
    ) -> SharedCredentialsProvider {
        let profile = profile
            .map(str::to_owned)
            .or_else(|| std::env::var("AWS_PROFILE").ok().filter(|p| !p.is_empty()))
            .unwrap_or_else(|| "default".to_owned());
        SharedCredentialsProvider::new(Hinting { inner, profile })
    }
}

impl ProvideCredentials for Hinting {
    fn provide_credentials<'a>(&'a self) -> provider::future::ProvideCredentials<'a>
    where
        Self: 'a,
    {
        provider::future::ProvideCredentials::new(async move {
            self.inner
                .provide_credentials()
                .await
                .map_err(|e| with_hint(e, &self.profile))
        })
    }

    fn fallback_on_interrupt(&self) -> Option<Credentials> {
        self.inner.fallback_on_interrupt()
    }
}

/// `err` with the fix for its usual cause, when there is one (same kind of error).
fn with_hint(err: CredentialsError, profile: &str) -> CredentialsError {
    let Some(hint) = hint_for(&err, profile) else {
        return err;
    };
    match &err {
        CredentialsError::CredentialsNotLoaded(_) => {
            CredentialsError::not_loaded(Hint::new(hint, err))
        }
        CredentialsError::InvalidConfiguration(_) => {
            CredentialsError::invalid_configuration(Hint::new(hint, err))
        }
        CredentialsError::ProviderError(_) => {
            CredentialsError::provider_error(Hint::new(hint, err))
        }
        CredentialsError::Unhandled(_) => CredentialsError::unhandled(Hint::new(hint, err)),
        _ => err,
    }
}

/// The fix for the usual causes: an IAM Identity Center session that expired or never
/// started, or no credentials anywhere the SDK looks.
fn hint_for(err: &CredentialsError, profile: &str) -> Option<String> {
    let text = message_chain(err).to_ascii_lowercase();
    if text.contains("sso") && (text.contains("token") || text.contains("expired")) {
        return Some(format!(
            "the IAM Identity Center (SSO) session of profile `{profile}` has expired or was never \
             started: run `aws sso login --profile {profile}` and try again"
        ));
    }
    matches!(err, CredentialsError::CredentialsNotLoaded(_)).then(|| {
        format!(
            "no AWS credentials were found for profile `{profile}` (in AWS_ACCESS_KEY_ID, the \
             config and credentials files, web identity, or the container or instance metadata): \
             set `aws.profile` in the descriptor, or AWS_PROFILE, to a profile that has them; \
             `aws configure list --profile {profile}` shows what the AWS CLI finds"
        )
    })
}

/// CloudFormation's refusal of a service-managed StackSet to an account that is neither the
/// organization's management account nor calling as its delegated administrator.
const NOT_MANAGEMENT_ACCOUNT: &str =
    "You must be the management account or delegated admin account of an organization";
/// CloudFormation's refusal of `CallAs=DELEGATED_ADMIN`.
const NOT_DELEGATED_ADMIN: &str = "Account used is not a delegated administrator";

/// The fix for an AWS answer whose usual cause is the descriptor's or the organization's: a
/// StackSet operated by an account that may not (docs/stacksets.md, "Delegated administrator").
pub(crate) fn answer_hint(code: Option<&str>, message: &str) -> Option<String> {
    if code != Some("ValidationError") {
        return None;
    }
    if message.contains(NOT_MANAGEMENT_ACCOUNT) {
        return Some(
            "a service-managed StackSet is operated from the organization's management account, \
             or from a delegated administrator calling as one: if `aws.account_id` is registered \
             as a delegated administrator for StackSets, set `call_as = \"delegated-admin\"` \
             under `[stack_set]` of the descriptor (key `stack_set.call_as`); otherwise run \
             from the management account (its ID in `aws.account_id`, and its credentials)"
                .to_owned(),
        );
    }
    message.contains(NOT_DELEGATED_ADMIN).then(|| {
        format!(
            "the descriptor's `stack_set.call_as = \"delegated-admin\"` needs `aws.account_id` \
             registered as a delegated administrator for StackSets: from the management account \
             run `aws organizations register-delegated-administrator --service-principal \
             {STACK_SETS_PRINCIPAL} --account-id ACCOUNT` (ACCOUNT: `aws.account_id`); and the \
             caller needs `{}` (AWS checks the registration with the caller's own rights; \
             `policy --for deploy` includes it)",
            crate::actions::DELEGATED_ADMIN_CHECK
        )
    })
}

/// The service principal an account is registered for to administer service-managed StackSets.
const STACK_SETS_PRINCIPAL: &str = "member.org.stacksets.cloudformation.amazonaws.com";

/// The HTTP client every AWS client shares: `inner`, whose connection failures name the
/// address they were for (the SDK's own say only `Connection refused`).
pub(crate) fn naming_endpoints(inner: SharedHttpClient) -> SharedHttpClient {
    SharedHttpClient::new(Naming(inner))
}

#[derive(Debug)]
struct Naming(SharedHttpClient);

impl HttpClient for Naming {
    fn http_connector(
        &self,
        settings: &HttpConnectorSettings,
        components: &RuntimeComponents,
    ) -> SharedHttpConnector {
        SharedHttpConnector::new(NamingConnector(self.0.http_connector(settings, components)))
    }
}

#[derive(Debug)]
struct NamingConnector(SharedHttpConnector);

impl HttpConnector for NamingConnector {
    fn call(&self, request: HttpRequest) -> HttpConnectorFuture {
        let endpoint = origin(request.uri());
        let sent = self.0.call(request);
        HttpConnectorFuture::new(async move {
            let response = sent.await.map_err(|e| at_endpoint(e, endpoint))?;
            // Inside the SDK's span of the call, which `--debug` prints it with.
            if let Some(id) = request_id(response.headers()) {
                tracing::debug!(target: REQUEST_ID_TARGET, request_id = id);
            }
            Ok(response)
        })
    }
}

/// The target of the event that gives the request ID of each answer (each attempt of a call).
pub const REQUEST_ID_TARGET: &str = "aws::request_id";

/// The request ID AWS gave an answer (`x-amzn-RequestId`; S3's `x-amz-request-id`), as the
/// SDK's `request_id()` reads it. Not a secret; at most 128 printable ASCII characters, or none.
fn request_id(headers: &aws_smithy_runtime_api::http::Headers) -> Option<&str> {
    ["x-amzn-requestid", "x-amz-request-id"]
        .iter()
        .find_map(|name| headers.get(*name))
        .filter(|id| id.len() <= 128 && id.bytes().all(|b| b.is_ascii_graphic()))
}

/// `scheme://authority` of `uri`: where the request went, without its path.
fn origin(uri: &str) -> String {
    match uri.split_once("://") {
        Some((scheme, rest)) => {
            let authority = rest.split(['/', '?']).next().unwrap_or(rest);
            format!("{scheme}://{authority}")
        }
        None => uri.to_owned(),
    }
}

/// The same kind of connector error (retries depend on it), naming `endpoint`.
fn at_endpoint(err: ConnectorError, endpoint: String) -> ConnectorError {
    let (timeout, io, user, other) = (err.is_timeout(), err.is_io(), err.is_user(), err.as_other());
    let connection = err.connection_metadata().cloned();
    let source = Box::new(AtEndpoint {
        endpoint,
        source: err.into_source(),
    });
    let named = if timeout {
        ConnectorError::timeout(source)
    } else if io {
        ConnectorError::io(source)
    } else if user {
        ConnectorError::user(source)
    } else {
        ConnectorError::other(source, other)
    };
    match connection {
        Some(c) => named.with_connection(c),
        None => named,
    }
}

/// A request to `endpoint` that failed.
#[derive(Debug)]
struct AtEndpoint {
    endpoint: String,
    source: Box<dyn Error + Send + Sync>,
}

impl fmt::Display for AtEndpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let cause = message_chain(self.source.as_ref()).to_ascii_lowercase();
        if cause.contains("connection refused") {
            write!(
                f,
                "nothing listens at {} (connection refused): check the endpoint, or start the service there",
                self.endpoint
            )
        } else if cause.contains("dns error") || cause.contains("failed to lookup address") {
            write!(f, "cannot resolve the host of {}", self.endpoint)
        } else {
            write!(f, "request to {} failed", self.endpoint)
        }
    }
}

impl Error for AtEndpoint {
    fn source(&self) -> Option<&(dyn Error + 'static)> {
        Some(self.source.as_ref())
    }
}

#[cfg(test)]
mod tests {
    use aws_config::retry::RetryConfig;

    use super::*;
    use crate::aws_error;
    use crate::client::{Clients, Connection};

    #[test]
    fn an_expired_sso_token_hints_at_logging_in() {
        let err =
            CredentialsError::provider_error("the SSO token has expired and cannot be refreshed");
        let err = with_hint(err, "team");
        let text = message_chain(&err);
        assert!(
            text.starts_with("an error occurred while loading credentials: the SSO token has expired")
                && text.ends_with("; the IAM Identity Center (SSO) session of profile `team` has expired or was never started: run `aws sso login --profile team` and try again"),
            "{text}"
        );
        // Shown once, not once for the wrapper and once for the hint.
        assert_eq!(text.matches("an error occurred").count(), 1, "{text}");
    }

    #[test]
    fn other_credential_failures_keep_their_own_message() {
        let err = CredentialsError::provider_error("external process exited with code 1");
        assert_eq!(
            message_chain(&with_hint(err, "p")),
            "an error occurred while loading credentials: external process exited with code 1"
        );
    }

    /// CloudFormation's two refusals of a StackSet to an account that may not operate it, as
    /// `aws_error` shows them: the answer, then what to do, naming the descriptor's keys.
    #[test]
    fn refusals_of_a_stack_set_name_the_call_as_key_and_the_registration() {
        let answer = |message: &str| {
            aws_sdk_cloudformation::operation::describe_stack_set::DescribeStackSetError::generic(
                aws_sdk_cloudformation::error::ErrorMetadata::builder()
                    .code("ValidationError")
                    .message(message)
                    .build(),
            )
        };
        let not_admin = aws_error(
            "CreateStackSet",
            answer(
                "You must be the management account or delegated admin account of an \
                 organization before operating a SERVICE_MANAGED stack set",
            ),
        )
        .to_string();
        assert!(
            not_admin.starts_with("CreateStackSet failed: ValidationError: You must be")
                && not_admin.contains("`stack_set.call_as`")
                && not_admin.contains("call_as = \"delegated-admin\"")
                && not_admin.contains("management account"),
            "{not_admin}"
        );
        let not_registered = aws_error(
            "DescribeStackSet",
            answer("Account used is not a delegated administrator"),
        )
        .to_string();
        assert!(
            not_registered.contains(
                "aws organizations register-delegated-administrator --service-principal \
                 member.org.stacksets.cloudformation.amazonaws.com --account-id ACCOUNT"
            ) && not_registered.contains("organizations:ListDelegatedAdministrators")
                && not_registered.contains("stack_set.call_as"),
            "{not_registered}"
        );
        // Another ValidationError keeps its own message.
        assert_eq!(
            aws_error("DescribeStackSet", answer("Stack with id x does not exist")).to_string(),
            "DescribeStackSet failed: ValidationError: Stack with id x does not exist"
        );
    }

    #[test]
    fn origin_keeps_scheme_host_and_port() {
        assert_eq!(
            origin("http://127.0.0.1:5050/?Action=x"),
            "http://127.0.0.1:5050"
        );
        assert_eq!(
            origin("https://sts.amazonaws.com/"),
            "https://sts.amazonaws.com"
        );
        assert_eq!(origin("https://[::1]:9?a"), "https://[::1]:9");
    }

    #[tokio::test]
    async fn a_refused_connection_names_the_endpoint_without_a_debug_dump() {
        let port = {
            let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            listener.local_addr().unwrap().port()
        };
        let url = format!("http://127.0.0.1:{port}");
        let clients = Clients::connect(&Connection {
            region: "us-east-1".into(),
            profile: None,
            assume_role: None,
            endpoint_url: Some(url.clone()),
        })
        .await;
        // The shared configuration, without the minute of retries a refused connection gets.
        let config = clients
            .config
            .to_builder()
            .retry_config(RetryConfig::disabled())
            .build();
        let err = aws_sdk_sts::Client::new(&config)
            .get_caller_identity()
            .send()
            .await
            .unwrap_err();
        let text = aws_error("GetCallerIdentity", err).to_string();
        assert!(
            text.starts_with(&format!(
                "GetCallerIdentity failed: nothing listens at {url} (connection refused)"
            )) && !text.contains("DispatchFailure")
                && !text.contains("source:"),
            "{text}"
        );
    }
}
