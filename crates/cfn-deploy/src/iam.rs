//! The four IAM calls `role.rs` needs (GetRole, ListRolePolicies, GetRolePolicy,
//! ListAttachedRolePolicies), made through IAM's Query API by hand.
//!
//! Why not `aws-sdk-iam`: it was the slowest crate of the cold build (about 100 s of compiling
//! on two cores) for four read calls. Each call here is an operation of the same smithy
//! orchestrator the SDK clients run on, built from the same [`SdkConfig`]: the same HTTP client,
//! retry configuration and classifiers (throttling codes, 5xx, timeouts, dropped connections),
//! timeouts, credentials provider and identity cache (so the dummy keys of a local endpoint
//! apply here too), signed with SigV4 by `aws-runtime`. Answers are parsed with
//! `aws-smithy-xml`, the parser the SDK's XML protocols already compile in.

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
use aws_smithy_xml::decode::{Document, ScopedDecoder, XmlDecodeError, try_data};
use aws_types::SigningName;
use aws_types::region::SigningRegion;

use crate::error::{DeployError, aws_error};

/// The version of the IAM Query API every request names.
const VERSION: &str = "2010-05-08";

/// An IAM client for the read calls of `role.rs`.
#[derive(Debug, Clone)]
pub(crate) struct Iam {
    operation: Operation<String, String, IamError>,
}

/// An error answer of IAM (`<ErrorResponse><Error><Code>...`), or an error status without
/// one (a proxy's page). Its metadata gives the retry classifiers and `aws_error` the code and
/// message.
#[derive(Debug)]
pub(crate) struct IamError {
    meta: ErrorMetadata,
}

impl fmt::Display for IamError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.meta.code(), self.meta.message()) {
            (Some(code), Some(message)) => write!(f, "{code}: {message}"),
            (Some(text), None) | (None, Some(text)) => f.write_str(text),
            (None, None) => f.write_str("IAM answered with an error and no code"),
        }
    }
}

impl std::error::Error for IamError {}

impl ProvideErrorMetadata for IamError {
    fn meta(&self) -> &ErrorMetadata {
        &self.meta
    }
}

/// One page of a list call: the items, and the marker of the next page when there is one.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct Page {
    pub items: Vec<String>,
    pub marker: Option<String>,
}

impl Iam {
    /// A client calling `endpoint` (a URL), signing for `signing_region`, with everything else
    /// from `config`.
    pub(crate) fn new(config: &SdkConfig, endpoint: &str, signing_region: &str) -> Self {
        let mut layer = Layer::new("iam");
        layer.store_put(AuthSchemeOptionResolverParams::new(()));
        layer.store_put(SigningName::from_static("iam"));
        layer.store_put(SigningRegion::from(aws_types::region::Region::new(
            signing_region.to_owned(),
        )));
        layer.store_put(SigV4OperationSigningConfig::default());
        let mut components = RuntimeComponentsBuilder::new("iam")
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
        // One operation serves the four actions (the body names the action); the name only
        // labels traces.
        let mut builder = Operation::builder()
            .service_name("IAM")
            .operation_name("IAM")
            .endpoint_url(endpoint)
            .retry_classifier(AwsErrorCodeClassifier::<IamError>::new())
            .retry_classifier(HttpStatusCodeClassifier::default())
            .retry_classifier(TransientErrorClassifier::<IamError>::new())
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
            .serializer(|body: String| {
                let request = http::Request::builder()
                    .method("POST")
                    .uri("/")
                    .header(
                        "content-type",
                        "application/x-www-form-urlencoded; charset=utf-8",
                    )
                    .body(SdkBody::from(body))?;
                Ok(HttpRequest::try_from(request)?)
            })
            .deserializer(deserialize)
            .build();
        Iam { operation }
    }

    /// Sends `action` with `params` (names and values, form-encoded here) and returns the
    /// answer's XML.
    async fn call(
        &self,
        action: &'static str,
        params: &[(&str, &str)],
    ) -> Result<String, DeployError> {
        self.operation
            .invoke(form(action, params))
            .await
            .map_err(|e| aws_error(action, e))
    }

    /// GetRole: the role's trust policy document, as IAM returns it (URL-encoded).
    pub(crate) async fn trust_policy(&self, role: &str) -> Result<String, DeployError> {
        const ACTION: &str = "GetRole";
        let xml = self.call(ACTION, &[("RoleName", role)]).await?;
        first(&xml, &["GetRoleResult", "Role", "AssumeRolePolicyDocument"])
            .map_err(unreadable(ACTION))
    }

    /// ListRolePolicies, one page: the names of the role's inline policies.
    pub(crate) async fn inline_policy_names(
        &self,
        role: &str,
        marker: Option<&str>,
    ) -> Result<Page, DeployError> {
        const ACTION: &str = "ListRolePolicies";
        let xml = self.call(ACTION, &with_marker(role, marker)).await?;
        page(&xml, "ListRolePoliciesResult", &["PolicyNames", "member"]).map_err(unreadable(ACTION))
    }

    /// GetRolePolicy: the document of one inline policy, as IAM returns it (URL-encoded).
    pub(crate) async fn inline_policy(
        &self,
        role: &str,
        policy: &str,
    ) -> Result<String, DeployError> {
        const ACTION: &str = "GetRolePolicy";
        let xml = self
            .call(ACTION, &[("RoleName", role), ("PolicyName", policy)])
            .await?;
        first(&xml, &["GetRolePolicyResult", "PolicyDocument"]).map_err(unreadable(ACTION))
    }

    /// ListAttachedRolePolicies, one page: the ARNs of the managed policies attached.
    pub(crate) async fn attached_policy_arns(
        &self,
        role: &str,
        marker: Option<&str>,
    ) -> Result<Page, DeployError> {
        const ACTION: &str = "ListAttachedRolePolicies";
        let xml = self.call(ACTION, &with_marker(role, marker)).await?;
        page(
            &xml,
            "ListAttachedRolePoliciesResult",
            &["AttachedPolicies", "member", "PolicyArn"],
        )
        .map_err(unreadable(ACTION))
    }
}

fn with_marker<'a>(role: &'a str, marker: Option<&'a str>) -> Vec<(&'a str, &'a str)> {
    let mut params = vec![("RoleName", role)];
    params.extend(marker.map(|m| ("Marker", m)));
    params
}

/// The form body of a Query API request: `Action`, `Version`, then `params`, each value
/// percent-encoded (everything but RFC 3986's unreserved characters).
fn form(action: &str, params: &[(&str, &str)]) -> String {
    let mut out = format!("Action={}&Version={}", encode(action), encode(VERSION));
    for (name, value) in params {
        out.push_str(&format!("&{}={}", encode(name), encode(value)));
    }
    out
}

fn encode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                char::from(b).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// A 2xx answer's body; any other status is an [`IamError`] read from its body.
fn deserialize(response: &HttpResponse) -> Result<String, OrchestratorError<IamError>> {
    let body = response
        .body()
        .bytes()
        .map(|b| String::from_utf8_lossy(b).into_owned())
        .unwrap_or_default();
    if response.status().is_success() {
        Ok(body)
    } else {
        Err(OrchestratorError::operation(error_from(
            &body,
            response.status().as_u16(),
        )))
    }
}

/// The error an `<ErrorResponse>` names; when the body is not one (a proxy's page, an empty
/// body), an error that says so with the HTTP status.
fn error_from(body: &str, status: u16) -> IamError {
    let read = |name: &str| first(body, &["Error", name]).ok().filter(|t| !t.is_empty());
    let (code, message) = (read("Code"), read("Message"));
    let mut meta = ErrorMetadata::builder();
    match (code, message) {
        (None, None) => {
            meta = meta.message(format!("HTTP {status} without an IAM error in its body"));
        }
        (code, message) => {
            if let Some(code) = code {
                meta = meta.code(code);
            }
            if let Some(message) = message {
                meta = meta.message(message);
            }
        }
    }
    IamError { meta: meta.build() }
}

/// The text of the first element at `path` below the root element.
fn first(xml: &str, path: &[&str]) -> Result<String, XmlDecodeError> {
    texts(xml, path)?
        .into_iter()
        .next()
        .ok_or_else(|| XmlDecodeError::custom(format!("it has no <{}>", path.join("/"))))
}

/// The items at `path` below `<result>`, and its `Marker` when `IsTruncated` is true.
fn page(xml: &str, result: &str, path: &[&str]) -> Result<Page, XmlDecodeError> {
    let below = |rest: &[&str]| {
        let full: Vec<&str> = std::iter::once(result)
            .chain(rest.iter().copied())
            .collect();
        texts(xml, &full)
    };
    let truncated = below(&["IsTruncated"])?.first().map(String::as_str) == Some("true");
    let marker = if truncated {
        below(&["Marker"])?.into_iter().next()
    } else {
        None
    };
    Ok(Page {
        items: below(path)?,
        marker,
    })
}

/// A 2xx answer that is not what `action` returns.
fn unreadable(action: &'static str) -> impl FnOnce(XmlDecodeError) -> DeployError {
    move |err| DeployError::Aws {
        action,
        code: None,
        message: format!("cannot read IAM's answer: {err}"),
    }
}

/// The (unescaped) text of every element at `path` below the root element, in document order.
fn texts(xml: &str, path: &[&str]) -> Result<Vec<String>, XmlDecodeError> {
    let mut doc = Document::new(xml);
    let mut root = doc.root_element()?;
    let mut out = Vec::new();
    collect(&mut root, path, &mut out)?;
    Ok(out)
}

fn collect(
    scope: &mut ScopedDecoder<'_, '_>,
    path: &[&str],
    out: &mut Vec<String>,
) -> Result<(), XmlDecodeError> {
    let Some((name, rest)) = path.split_first() else {
        return Ok(());
    };
    while let Some(mut child) = scope.next_tag() {
        if !child.start_el().matches(name) {
            continue;
        }
        if rest.is_empty() {
            out.push(try_data(&mut child)?.into_owned());
        } else {
            collect(&mut child, rest, out)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use aws_smithy_runtime_api::http::StatusCode;

    use super::*;

    /// GetRole as AWS documents it, with the elements around the document that must be skipped.
    const GET_ROLE: &str = r#"<GetRoleResponse xmlns="https://iam.amazonaws.com/doc/2010-05-08/">
  <GetRoleResult>
    <Role>
      <Path>/</Path>
      <Arn>arn:aws:iam::123456789012:role/Temporal-Serverless-Worker-x</Arn>
      <RoleName>Temporal-Serverless-Worker-x</RoleName>
      <AssumeRolePolicyDocument>%7B%22Version%22%3A%222012-10-17%22%2C%22Statement%22%3A%5B%7B%22Effect%22%3A%22Allow%22%7D%5D%7D</AssumeRolePolicyDocument>
      <CreateDate>2012-05-08T23:34:01Z</CreateDate>
      <RoleId>AROADBQP57FF2AEXAMPLE</RoleId>
      <Tags><member><Key>AssumeRolePolicyDocument</Key><Value>decoy</Value></member></Tags>
      <RoleLastUsed><LastUsedDate>2019-11-20T17:09:20Z</LastUsedDate><Region>us-east-1</Region></RoleLastUsed>
    </Role>
  </GetRoleResult>
  <ResponseMetadata><RequestId>df37e965-9967-11e1-a4c3-270EXAMPLE04</RequestId></ResponseMetadata>
</GetRoleResponse>"#;

    #[test]
    fn get_role_yields_the_encoded_trust_policy() {
        assert_eq!(
            first(
                GET_ROLE,
                &["GetRoleResult", "Role", "AssumeRolePolicyDocument"]
            )
            .unwrap(),
            "%7B%22Version%22%3A%222012-10-17%22%2C%22Statement%22%3A%5B%7B%22Effect%22%3A%22Allow%22%7D%5D%7D"
        );
    }

    #[test]
    fn a_document_with_xml_entities_is_unescaped() {
        let xml = r#"<GetRolePolicyResponse><GetRolePolicyResult><RoleName>r</RoleName>
            <PolicyDocument>{&quot;Version&quot;: &quot;2012-10-17&quot;, &quot;a&quot;: &quot;&lt;&amp;&gt;&quot;}</PolicyDocument>
            <PolicyName>p</PolicyName></GetRolePolicyResult></GetRolePolicyResponse>"#;
        assert_eq!(
            first(xml, &["GetRolePolicyResult", "PolicyDocument"]).unwrap(),
            r#"{"Version": "2012-10-17", "a": "<&>"}"#
        );
    }

    #[test]
    fn list_role_policies_reads_every_name_of_a_last_page() {
        let xml = r#"<ListRolePoliciesResponse xmlns="https://iam.amazonaws.com/doc/2010-05-08/">
  <ListRolePoliciesResult>
    <PolicyNames>
      <member>CloudwatchPutMetricPolicy</member>
      <member>S3AccessPolicy</member>
    </PolicyNames>
    <IsTruncated>false</IsTruncated>
  </ListRolePoliciesResult>
  <ResponseMetadata><RequestId>8c7e1816-99f0-11e1-a4c3-27EXAMPLE804</RequestId></ResponseMetadata>
</ListRolePoliciesResponse>"#;
        assert_eq!(
            page(xml, "ListRolePoliciesResult", &["PolicyNames", "member"]).unwrap(),
            Page {
                items: vec!["CloudwatchPutMetricPolicy".into(), "S3AccessPolicy".into()],
                marker: None
            }
        );
    }

    #[test]
    fn a_truncated_page_gives_its_marker_and_an_empty_one_no_items() {
        let xml = r#"<ListAttachedRolePoliciesResponse xmlns="https://iam.amazonaws.com/doc/2010-05-08/">
  <ListAttachedRolePoliciesResult>
    <AttachedPolicies>
      <member>
        <PolicyName>ReadOnlyAccess</PolicyName>
        <PolicyArn>arn:aws:iam::aws:policy/ReadOnlyAccess</PolicyArn>
      </member>
    </AttachedPolicies>
    <IsTruncated>true</IsTruncated>
    <Marker>EXAMPLEkakv9BCuUNFDtxWSyfzetYwEx2ADc8dnzfvERF5S6YMvXKx41t6gCl/eeaCX3Jo94</Marker>
  </ListAttachedRolePoliciesResult>
  <ResponseMetadata><RequestId>9a3b490d-c0d4-11e4-8e4c-EXAMPLE</RequestId></ResponseMetadata>
</ListAttachedRolePoliciesResponse>"#;
        let path = ["AttachedPolicies", "member", "PolicyArn"];
        assert_eq!(
            page(xml, "ListAttachedRolePoliciesResult", &path).unwrap(),
            Page {
                items: vec!["arn:aws:iam::aws:policy/ReadOnlyAccess".into()],
                marker: Some(
                    "EXAMPLEkakv9BCuUNFDtxWSyfzetYwEx2ADc8dnzfvERF5S6YMvXKx41t6gCl/eeaCX3Jo94"
                        .into()
                )
            }
        );
        let empty = "<ListAttachedRolePoliciesResponse><ListAttachedRolePoliciesResult>\
                     <IsTruncated>false</IsTruncated><AttachedPolicies/>\
                     </ListAttachedRolePoliciesResult></ListAttachedRolePoliciesResponse>";
        assert_eq!(
            page(empty, "ListAttachedRolePoliciesResult", &path).unwrap(),
            Page::default()
        );
    }

    #[test]
    fn an_answer_without_the_element_or_not_xml_is_an_error() {
        let err = first("<GetRoleResponse/>", &["GetRoleResult", "Role"]).unwrap_err();
        assert!(err.to_string().contains("no <GetRoleResult/Role>"), "{err}");
        assert!(first("<html><body>bad gateway", &["GetRoleResult"]).is_err());
    }

    fn response(status: u16, body: &str) -> HttpResponse {
        HttpResponse::new(
            StatusCode::try_from(status).unwrap(),
            SdkBody::from(body.to_owned()),
        )
    }

    #[test]
    fn an_error_response_gives_its_code_and_message() {
        let body = r#"<ErrorResponse xmlns="https://iam.amazonaws.com/doc/2010-05-08/">
  <Error>
    <Type>Sender</Type>
    <Code>NoSuchEntity</Code>
    <Message>The role with name Temporal-Serverless-Worker-x cannot be found.</Message>
  </Error>
  <RequestId>4a4ea3a2-5d5f-4e1b-9a1b-EXAMPLE</RequestId>
</ErrorResponse>"#;
        let err = deserialize(&response(404, body)).unwrap_err();
        let err = err.as_operation_error().expect("an IAM error");
        assert_eq!(err.code(), Some("NoSuchEntity"));
        assert_eq!(
            err.to_string(),
            "NoSuchEntity: The role with name Temporal-Serverless-Worker-x cannot be found."
        );
        let throttled = "<ErrorResponse><Error><Code>Throttling</Code><Message>Rate exceeded\
                         </Message></Error></ErrorResponse>";
        let err = deserialize(&response(400, throttled)).unwrap_err();
        assert_eq!(err.as_operation_error().unwrap().code(), Some("Throttling"));
    }

    #[test]
    fn an_error_status_without_an_error_body_names_the_status() {
        let err = deserialize(&response(502, "<html>Bad Gateway</html>")).unwrap_err();
        let err = err.as_operation_error().unwrap();
        assert_eq!(err.code(), None);
        assert_eq!(err.to_string(), "HTTP 502 without an IAM error in its body");
    }

    #[test]
    fn a_success_gives_the_body() {
        assert_eq!(deserialize(&response(200, GET_ROLE)).unwrap(), GET_ROLE);
    }

    #[test]
    fn form_encodes_every_reserved_character() {
        assert_eq!(
            form(
                "GetRolePolicy",
                &[("RoleName", "a+b=c,d.e@f-g_h"), ("PolicyName", "p q")]
            ),
            "Action=GetRolePolicy&Version=2010-05-08&RoleName=a%2Bb%3Dc%2Cd.e%40f-g_h&PolicyName=p%20q"
        );
        assert_eq!(
            form("ListRolePolicies", &with_marker("r", Some("a/b+c=="))),
            "Action=ListRolePolicies&Version=2010-05-08&RoleName=r&Marker=a%2Fb%2Bc%3D%3D"
        );
    }
}
