//! Where every client's credentials come from, resolved as the aws CLI resolves them when a
//! profile is named: the descriptor's profile alone (its keys, `credential_process`, SSO,
//! `role_arn` chain), never keys from the environment in its place; without one, the SDK's
//! default chain (environment keys, `AWS_PROFILE` or `default`, web identity, container,
//! instance). Then, when the descriptor names a role (`aws.role_arn`), that role is assumed with
//! them, so that one identity reaches each environment's account through a role of its own.
//! An endpoint on this machine gets dummy keys as the base instead: its role is the emulator's.

use std::error::Error;
use std::fmt;

use aws_config::SdkConfig;
use aws_config::profile::ProfileFileCredentialsProvider;
use aws_config::provider_config::ProviderConfig;
use aws_config::sts::AssumeRoleProvider;
use aws_credential_types::Credentials;
use aws_credential_types::provider::error::CredentialsError;
use aws_credential_types::provider::{self, ProvideCredentials, SharedCredentialsProvider};
use aws_runtime::env_config::file::EnvConfigFiles as ProfileFiles;

use crate::client::Connection;
use crate::explain::Hinting;

/// The key every client signs with when any endpoint is on this machine.
pub(crate) const DUMMY_KEY: &str = "testing";

/// The session name of an assumed role when the descriptor gives none (CloudTrail shows it).
pub const DEFAULT_SESSION_NAME: &str = "tsw";

/// A role to assume with the credentials found: `aws.role_arn`, `aws.external_id`,
/// `aws.session_name`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct AssumeRole {
    pub role_arn: String,
    pub external_id: Option<String>,
    pub session_name: Option<String>,
}

/// Where the credentials of a connection come from, in the user's terms.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CredentialSource {
    /// Dummy keys: an endpoint is on this machine.
    Dummy,
    /// A named profile: the descriptor's (`aws.profile`), else `AWS_PROFILE`'s.
    Profile { name: String, from_variable: bool },
    /// `AWS_ACCESS_KEY_ID` and `AWS_SECRET_ACCESS_KEY`.
    EnvironmentKeys,
    /// `AWS_WEB_IDENTITY_TOKEN_FILE` with `AWS_ROLE_ARN` (e.g. GitHub's OIDC).
    WebIdentity,
    /// The rest of the default chain: profile `default`, a container or instance role.
    DefaultChain,
    /// `aws.role_arn`, assumed with the credentials of `from`.
    Role {
        arn: String,
        from: Box<CredentialSource>,
    },
}

impl fmt::Display for CredentialSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CredentialSource::Dummy => {
                write!(f, "dummy keys (the AWS endpoint is on this machine)")
            }
            CredentialSource::Profile {
                name,
                from_variable: false,
            } => write!(f, "profile `{name}` (aws.profile)"),
            CredentialSource::Profile {
                name,
                from_variable: true,
            } => write!(f, "profile `{name}` (AWS_PROFILE)"),
            CredentialSource::EnvironmentKeys => write!(
                f,
                "the environment variables AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY"
            ),
            CredentialSource::WebIdentity => write!(
                f,
                "web identity (AWS_WEB_IDENTITY_TOKEN_FILE and AWS_ROLE_ARN)"
            ),
            CredentialSource::DefaultChain => write!(
                f,
                "the default credential chain (profile `default`, a container or instance role)"
            ),
            CredentialSource::Role { arn, from } => {
                write!(f, "role `{arn}` (aws.role_arn), assumed with {from}")
            }
        }
    }
}

impl CredentialSource {
    /// Where the credentials of `conn` come from (`local`: an endpoint is on this machine),
    /// `var` reading the environment's variables.
    pub fn of(conn: &Connection, local: bool, var: &dyn Fn(&str) -> Option<String>) -> Self {
        let set = |name: &str| var(name).filter(|v| !v.is_empty());
        let base = if local {
            CredentialSource::Dummy
        } else if let Some(name) = &conn.profile {
            CredentialSource::Profile {
                name: name.clone(),
                from_variable: false,
            }
        } else if set("AWS_ACCESS_KEY_ID").is_some() && set("AWS_SECRET_ACCESS_KEY").is_some() {
            CredentialSource::EnvironmentKeys
        } else if let Some(name) = set("AWS_PROFILE") {
            CredentialSource::Profile {
                name,
                from_variable: true,
            }
        } else if set("AWS_WEB_IDENTITY_TOKEN_FILE").is_some() && set("AWS_ROLE_ARN").is_some() {
            CredentialSource::WebIdentity
        } else {
            CredentialSource::DefaultChain
        };
        match &conn.assume_role {
            Some(role) => CredentialSource::Role {
                arn: role.role_arn.clone(),
                from: Box::new(base),
            },
            None => base,
        }
    }
}

/// The credentials provider of every client of `conn`: the base credentials (dummy keys when
/// `local`; the named profile alone; else `config`'s default chain), then the role of
/// `conn.assume_role` assumed with them through `config`'s STS endpoint. `files` replaces the
/// config and credentials files (tests).
pub(crate) async fn provider(
    conn: &Connection,
    config: &SdkConfig,
    local: bool,
    files: Option<ProfileFiles>,
) -> Option<SharedCredentialsProvider> {
    let base = if local {
        SharedCredentialsProvider::new(
            loopback_keys(config, &|v| std::env::var(v).ok()).unwrap_or_else(|| {
                Credentials::new(DUMMY_KEY, DUMMY_KEY, None, None, "local endpoint")
            }),
        )
    } else if let Some(profile) = &conn.profile {
        // Only the profile: the default chain would take keys from the environment first.
        let mut shared = ProviderConfig::without_region().with_region(config.region().cloned());
        if let Some(http) = config.http_client() {
            shared = shared.with_http_client(http);
        }
        if let Some(sleep) = config.sleep_impl() {
            shared = shared.with_sleep_impl(sleep);
        }
        if let Some(retry) = config.retry_config() {
            shared = shared.with_retry_config(retry.clone());
        }
        let mut builder = ProfileFileCredentialsProvider::builder()
            .configure(&shared)
            .profile_name(profile);
        if let Some(files) = files {
            builder = builder.profile_files(files);
        }
        Hinting::wrap(
            SharedCredentialsProvider::new(builder.build()),
            Some(profile.as_str()),
        )
    } else {
        Hinting::wrap(config.credentials_provider()?, None)
    };
    let Some(role) = &conn.assume_role else {
        return Some(base);
    };
    // With dummy keys, AssumeRole is for the emulator's STS only: never sent elsewhere.
    if local
        && !crate::client::endpoint_of(config, "STS")
            .is_some_and(|url| local_endpoint::is_local(&url))
    {
        return Some(base);
    }
    let mut builder = AssumeRoleProvider::builder(&role.role_arn)
        .session_name(role.session_name.as_deref().unwrap_or(DEFAULT_SESSION_NAME))
        .configure(config);
    if let Some(id) = &role.external_id {
        builder = builder.external_id(id);
    }
    let from = match CredentialSource::of(conn, local, &|v| std::env::var(v).ok()) {
        CredentialSource::Role { from, .. } => from.to_string(),
        other => other.to_string(),
    };
    Some(SharedCredentialsProvider::new(Assuming {
        role: role.role_arn.clone(),
        from,
        inner: builder.build_from_provider(base).await,
    }))
}

/// Test-only: the access key of an emulator's user to sign with in place of the dummy keys,
/// so that a test can run the tool as a user with a given policy on an emulator that enforces
/// IAM. Read only when every client calls an endpoint on this machine; never the caller's
/// credentials, which a local endpoint never receives.
pub const LOOPBACK_ACCESS_KEY_ID: &str = "TSW_LOOPBACK_ACCESS_KEY_ID";
/// Test-only: the secret key that goes with [`LOOPBACK_ACCESS_KEY_ID`].
pub const LOOPBACK_SECRET_ACCESS_KEY: &str = "TSW_LOOPBACK_SECRET_ACCESS_KEY";

/// The keys of [`LOOPBACK_ACCESS_KEY_ID`] and [`LOOPBACK_SECRET_ACCESS_KEY`] (`var` reads the
/// environment), when both are set and every client of `config` calls an endpoint on this
/// machine; else `None` (a remote endpoint never gets them).
pub(crate) fn loopback_keys(
    config: &SdkConfig,
    var: &dyn Fn(&str) -> Option<String>,
) -> Option<Credentials> {
    let all_local = crate::client::SERVICES.iter().all(|service| {
        crate::client::endpoint_of(config, service)
            .is_some_and(|url| local_endpoint::is_local(&url))
    });
    let set = |name: &str| var(name).filter(|v| !v.is_empty());
    match (
        all_local,
        set(LOOPBACK_ACCESS_KEY_ID),
        set(LOOPBACK_SECRET_ACCESS_KEY),
    ) {
        (true, Some(id), Some(secret)) => Some(Credentials::new(
            id,
            secret,
            None,
            None,
            "loopback keys (test-only)",
        )),
        _ => None,
    }
}

/// The role of `aws.role_arn`, whose failures name it and the credentials that asked.
#[derive(Debug)]
struct Assuming {
    role: String,
    from: String,
    inner: AssumeRoleProvider,
}

impl ProvideCredentials for Assuming {
    fn provide_credentials<'a>(&'a self) -> provider::future::ProvideCredentials<'a>
    where
        Self: 'a,
    {
        provider::future::ProvideCredentials::new(async move {
            self.inner.provide_credentials().await.map_err(|source| {
                CredentialsError::provider_error(AssumeFailed {
                    role: self.role.clone(),
                    from: self.from.clone(),
                    denied: sts_error(&source),
                    source,
                })
            })
        })
    }
}

#[derive(Debug)]
struct AssumeFailed {
    role: String,
    from: String,
    /// STS's answer (`code: message`), when it answered with an error.
    denied: Option<String>,
    source: CredentialsError,
}

impl fmt::Display for AssumeFailed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "cannot assume role `{}` (aws.role_arn) with {}",
            self.role, self.from
        )?;
        match &self.denied {
            Some(answer) => write!(f, ": {answer}"),
            None => Ok(()),
        }
    }
}

impl Error for AssumeFailed {
    fn source(&self) -> Option<&(dyn Error + 'static)> {
        // STS's answer is told above; anything else (the base credentials, the connection) below.
        self.denied.is_none().then_some(&self.source as _)
    }
}

/// `code: message` of the error STS answered AssumeRole with, found in `err`'s chain.
fn sts_error(err: &CredentialsError) -> Option<String> {
    use aws_sdk_sts::error::{ProvideErrorMetadata, SdkError};
    use aws_sdk_sts::operation::assume_role::AssumeRoleError;
    use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
    let mut next: Option<&(dyn Error + 'static)> = err.source();
    while let Some(e) = next {
        if let Some(sdk) = e.downcast_ref::<SdkError<AssumeRoleError, HttpResponse>>()
            && let Some(code) = sdk.code()
        {
            return Some(format!(
                "{code}: {}",
                sdk.message().unwrap_or("(no message)")
            ));
        }
        next = e.source();
    }
    None
}

#[cfg(test)]
mod tests {
    use std::io::{Read, Write};
    use std::net::TcpListener;
    use std::sync::{Arc, Mutex};

    use aws_config::{BehaviorVersion, Region};
    use aws_runtime::env_config::file::EnvConfigFileKind;

    use super::*;

    /// The default chain, mocked: what keys in the environment would give.
    fn environment_keys() -> Credentials {
        Credentials::new("ENVIRONMENTKEY", "secret", None, None, "environment")
    }

    /// A config file in a temporary directory whose profile `prod-deployer` gets its keys
    /// from a `credential_process`, as a profile of `aws-vault` or a vendor's tool would.
    fn config_file(dir: &std::path::Path) -> ProfileFiles {
        let path = dir.join("config");
        std::fs::write(
            &path,
            "[profile prod-deployer]\n\
             credential_process = echo '{\"Version\": 1, \"AccessKeyId\": \"PROFILEKEY\", \"SecretAccessKey\": \"secret\"}'\n",
        )
        .unwrap();
        ProfileFiles::builder()
            .with_file(EnvConfigFileKind::Config, &path)
            .build()
    }

    /// The shared configuration with the mocked default chain, calling `endpoint`.
    async fn config(endpoint: &str) -> SdkConfig {
        aws_config::defaults(BehaviorVersion::latest())
            .http_client(aws_smithy_http_client::Builder::new().build_http())
            .region(Region::new("us-east-1"))
            .endpoint_url(endpoint)
            .credentials_provider(environment_keys())
            .load()
            .await
    }

    fn connection(profile: Option<&str>, role: Option<AssumeRole>) -> Connection {
        Connection {
            region: "us-east-1".into(),
            profile: profile.map(str::to_owned),
            assume_role: role,
            ..Connection::default()
        }
    }

    async fn access_key(provider: SharedCredentialsProvider) -> String {
        provider
            .provide_credentials()
            .await
            .unwrap_or_else(|e| panic!("{}", crate::message_chain(&e)))
            .access_key_id()
            .to_owned()
    }

    /// A loopback STS that answers AssumeRole with keys `ROLEKEY`, keeping each request.
    fn fake_sts() -> (String, Arc<Mutex<Vec<String>>>) {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let seen = Arc::new(Mutex::new(Vec::new()));
        let kept = Arc::clone(&seen);
        std::thread::spawn(move || {
            for mut stream in listener.incoming().flatten() {
                let mut request = Vec::new();
                let mut buf = [0u8; 4096];
                // One request per connection: read the head, then the body it announces.
                loop {
                    let n = stream.read(&mut buf).unwrap_or(0);
                    request.extend_from_slice(&buf[..n]);
                    let text = String::from_utf8_lossy(&request).to_string();
                    if let Some(end) = text.find("\r\n\r\n") {
                        let length = text
                            .lines()
                            .find_map(|l| {
                                l.to_ascii_lowercase()
                                    .strip_prefix("content-length:")
                                    .map(|v| v.trim().parse::<usize>().unwrap_or(0))
                            })
                            .unwrap_or(0);
                        if request.len() >= end + 4 + length {
                            break;
                        }
                    }
                    if n == 0 {
                        break;
                    }
                }
                kept.lock()
                    .unwrap()
                    .push(String::from_utf8_lossy(&request).into_owned());
                let body = "<AssumeRoleResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\"><AssumeRoleResult>\
                    <Credentials><AccessKeyId>ROLEKEY</AccessKeyId><SecretAccessKey>s</SecretAccessKey>\
                    <SessionToken>t</SessionToken><Expiration>2099-01-01T00:00:00Z</Expiration></Credentials>\
                    <AssumedRoleUser><Arn>arn:aws:sts::222222222222:assumed-role/deployer/ci-job</Arn>\
                    <AssumedRoleId>AROA:ci-job</AssumedRoleId></AssumedRoleUser></AssumeRoleResult></AssumeRoleResponse>";
                let _ = write!(
                    stream,
                    "HTTP/1.1 200 OK\r\nContent-Type: text/xml\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                );
            }
        });
        (url, seen)
    }

    #[tokio::test]
    async fn a_named_profile_wins_over_keys_in_the_environment() {
        let dir = tempfile::tempdir().unwrap();
        let conn = connection(Some("prod-deployer"), None);
        let config = config("http://127.0.0.1:1").await;
        let provider = provider(&conn, &config, false, Some(config_file(dir.path())))
            .await
            .unwrap();
        assert_eq!(access_key(provider).await, "PROFILEKEY");
        let keys = |v: &str| {
            ["AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"]
                .contains(&v)
                .then(|| "ENVIRONMENTKEY".to_owned())
        };
        assert_eq!(
            CredentialSource::of(&conn, false, &keys).to_string(),
            "profile `prod-deployer` (aws.profile)"
        );
    }

    #[test]
    fn without_a_profile_the_default_chain_decides_and_says_which_link() {
        let conn = connection(None, None);
        let vars = |set: &'static [(&'static str, &'static str)]| {
            move |v: &str| {
                set.iter()
                    .find(|(k, _)| *k == v)
                    .map(|(_, value)| (*value).to_owned())
            }
        };
        let env_keys = vars(&[
            ("AWS_ACCESS_KEY_ID", "k"),
            ("AWS_SECRET_ACCESS_KEY", "s"),
            ("AWS_PROFILE", "p"),
        ]);
        assert_eq!(
            CredentialSource::of(&conn, false, &env_keys),
            CredentialSource::EnvironmentKeys
        );
        assert_eq!(
            CredentialSource::of(&conn, false, &vars(&[("AWS_PROFILE", "team")])).to_string(),
            "profile `team` (AWS_PROFILE)"
        );
        assert_eq!(
            CredentialSource::of(&conn, false, &vars(&[])),
            CredentialSource::DefaultChain
        );
        // An endpoint on this machine: dummy keys, whatever the environment holds.
        assert_eq!(
            CredentialSource::of(&conn, true, &env_keys),
            CredentialSource::Dummy
        );
    }

    #[tokio::test]
    async fn without_a_profile_the_default_chain_serves() {
        let conn = connection(None, None);
        let config = config("http://127.0.0.1:1").await;
        let provider = provider(&conn, &config, false, None).await.unwrap();
        assert_eq!(access_key(provider).await, "ENVIRONMENTKEY");
    }

    #[tokio::test]
    async fn the_role_is_assumed_with_the_profile_credentials_its_external_id_and_session() {
        let dir = tempfile::tempdir().unwrap();
        let (url, seen) = fake_sts();
        let role = AssumeRole {
            role_arn: "arn:aws:iam::222222222222:role/deployer".into(),
            external_id: Some("ci-external-id".into()),
            session_name: Some("ci-job".into()),
        };
        let conn = connection(Some("prod-deployer"), Some(role));
        let config = config(&url).await;
        let provider = provider(&conn, &config, false, Some(config_file(dir.path())))
            .await
            .unwrap();
        assert_eq!(access_key(provider).await, "ROLEKEY");
        let requests = seen.lock().unwrap();
        let request = requests.first().expect("AssumeRole was sent");
        assert!(
            request.contains("Action=AssumeRole")
                && request.contains("RoleArn=arn%3Aaws%3Aiam%3A%3A222222222222%3Arole%2Fdeployer")
                && request.contains("ExternalId=ci-external-id")
                && request.contains("RoleSessionName=ci-job"),
            "{request}"
        );
        assert!(
            request.contains("Credential=PROFILEKEY/"),
            "signed with the profile's keys, not the environment's: {request}"
        );
        assert_eq!(
            CredentialSource::of(&conn, false, &|_| None).to_string(),
            "role `arn:aws:iam::222222222222:role/deployer` (aws.role_arn), assumed with profile `prod-deployer` (aws.profile)"
        );
    }

    #[tokio::test]
    async fn loopback_keys_are_read_for_a_loopback_endpoint_only() {
        let var = |name: &str| match name {
            LOOPBACK_ACCESS_KEY_ID => Some("EMULATORUSER".to_owned()),
            LOOPBACK_SECRET_ACCESS_KEY => Some("emulator-secret".to_owned()),
            _ => None,
        };
        let local = loopback_keys(&config("http://127.0.0.1:5000").await, &var).unwrap();
        assert_eq!(local.access_key_id(), "EMULATORUSER");
        assert_eq!(local.secret_access_key(), "emulator-secret");
        for remote in [
            "https://cloudformation.us-east-1.amazonaws.com",
            "http://emulator.example:5000",
        ] {
            assert!(
                loopback_keys(&config(remote).await, &var).is_none(),
                "{remote}"
            );
        }
        // Without an endpoint (AWS's own), and with only one of the two keys: ignored.
        let aws = aws_config::defaults(BehaviorVersion::latest())
            .region(Region::new("us-east-1"))
            .credentials_provider(environment_keys())
            .load()
            .await;
        assert!(loopback_keys(&aws, &var).is_none());
        let half = |name: &str| (name == LOOPBACK_ACCESS_KEY_ID).then(|| "K".to_owned());
        assert!(loopback_keys(&config("http://127.0.0.1:5000").await, &half).is_none());
    }

    #[tokio::test]
    async fn on_a_local_endpoint_the_role_is_assumed_with_dummy_keys() {
        let dir = tempfile::tempdir().unwrap();
        let (url, seen) = fake_sts();
        let role = AssumeRole {
            role_arn: "arn:aws:iam::111111111111:role/deployer".into(),
            ..AssumeRole::default()
        };
        let conn = connection(Some("prod-deployer"), Some(role));
        let config = config(&url).await;
        let provider = provider(&conn, &config, true, Some(config_file(dir.path())))
            .await
            .unwrap();
        assert_eq!(access_key(provider).await, "ROLEKEY");
        let request = seen.lock().unwrap().first().cloned().unwrap();
        assert!(
            request.contains("Credential=testing/")
                && request.contains(&format!("RoleSessionName={DEFAULT_SESSION_NAME}"))
                && !request.contains("ExternalId"),
            "{request}"
        );
    }
}
