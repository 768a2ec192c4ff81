//! The IAM calls `role.rs` needs (GetRole, ListRolePolicies, GetRolePolicy,
//! ListAttachedRolePolicies), made through IAM's Query API by hand, on the signed request of
//! `signed.rs` (why not `aws-sdk-iam` is told there). Answers are parsed with `aws-smithy-xml`,
//! the parser the SDK's XML protocols already compile in.

use aws_config::SdkConfig;
use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use aws_smithy_types::error::metadata::ErrorMetadata;
use aws_smithy_xml::decode::{Document, ScopedDecoder, XmlDecodeError, try_data};

use crate::DeployError;

use crate::signed::{Protocol, Request, Signed, encode, metadata};

/// The version of the IAM Query API every request names.
const VERSION: &str = "2010-05-08";

/// IAM's Query protocol: form-encoded POSTs, XML answers.
static IAM: Protocol = Protocol {
    signing_name: "iam",
    label: "IAM",
    error: error_from,
};

/// An IAM client for the read calls of `role.rs`.
#[derive(Debug, Clone)]
pub(crate) struct Iam {
    signed: Signed,
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
        Iam {
            signed: Signed::new(config, &IAM, endpoint, signing_region),
        }
    }

    /// Sends `action` with `params` (names and values, form-encoded here) and returns the
    /// answer's XML.
    async fn call(
        &self,
        action: &'static str,
        params: &[(&str, &str)],
    ) -> Result<String, DeployError> {
        let request = Request {
            method: http::Method::POST,
            uri: "/".to_owned(),
            content_type: Some("application/x-www-form-urlencoded; charset=utf-8"),
            body: form(action, params),
        };
        self.signed.send(action, request).await
    }

    /// GetRole: the role's trust policy document, as IAM returns it (URL-encoded).
    pub(crate) async fn trust_policy(&self, role: &str) -> Result<String, DeployError> {
        const ACTION: &str = "GetRole";
        let xml = self.call(ACTION, &[("RoleName", role)]).await?;
        first(&xml, &["GetRoleResult", "Role", "AssumeRolePolicyDocument"])
            .map_err(unreadable(ACTION))
    }

    /// GetRole: the role's ARN, with its path (`role/aws-reserved/sso.amazonaws.com/NAME`).
    pub(crate) async fn role_arn(&self, role: &str) -> Result<String, DeployError> {
        const ACTION: &str = "GetRole";
        let xml = self.call(ACTION, &[("RoleName", role)]).await?;
        first(&xml, &["GetRoleResult", "Role", "Arn"]).map_err(unreadable(ACTION))
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

    /// UpdateAssumeRolePolicy: replaces the role's trust policy with `document` (JSON).
    pub(crate) async fn update_trust_policy(
        &self,
        role: &str,
        document: &str,
    ) -> Result<(), DeployError> {
        self.call(
            "UpdateAssumeRolePolicy",
            &[("RoleName", role), ("PolicyDocument", document)],
        )
        .await
        .map(drop)
    }

    /// PutRolePolicy: sets the inline policy `policy` of the role to `document` (JSON).
    pub(crate) async fn put_inline_policy(
        &self,
        role: &str,
        policy: &str,
        document: &str,
    ) -> Result<(), DeployError> {
        self.call(
            "PutRolePolicy",
            &[
                ("RoleName", role),
                ("PolicyName", policy),
                ("PolicyDocument", document),
            ],
        )
        .await
        .map(drop)
    }

    /// DeleteRolePolicy: removes the inline policy `policy` from the role.
    pub(crate) async fn delete_inline_policy(
        &self,
        role: &str,
        policy: &str,
    ) -> Result<(), DeployError> {
        self.call(
            "DeleteRolePolicy",
            &[("RoleName", role), ("PolicyName", policy)],
        )
        .await
        .map(drop)
    }

    /// DetachRolePolicy: detaches the managed policy `arn` from the role.
    pub(crate) async fn detach_policy(&self, role: &str, arn: &str) -> Result<(), DeployError> {
        self.call(
            "DetachRolePolicy",
            &[("RoleName", role), ("PolicyArn", arn)],
        )
        .await
        .map(drop)
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

/// The code and message of an `<ErrorResponse>`; none when the body is not one (a proxy's
/// page, an empty body).
fn error_from(_: &HttpResponse, body: &str) -> ErrorMetadata {
    let read = |name: &str| first(body, &["Error", name]).ok();
    metadata(read("Code"), read("Message"))
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
    use aws_smithy_types::body::SdkBody;
    use aws_smithy_types::error::metadata::ProvideErrorMetadata;

    use super::*;
    use crate::signed::deserialize;

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
    fn get_role_yields_the_arn_with_its_path() {
        let xml = GET_ROLE.replace(
            "role/Temporal-Serverless-Worker-x</Arn>",
            "role/aws-reserved/sso.amazonaws.com/Temporal-Serverless-Worker-x</Arn>",
        );
        assert_eq!(
            first(&xml, &["GetRoleResult", "Role", "Arn"]).unwrap(),
            "arn:aws:iam::123456789012:role/aws-reserved/sso.amazonaws.com/Temporal-Serverless-Worker-x"
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
        let err = deserialize(&IAM, &response(404, body)).unwrap_err();
        let err = err.as_operation_error().expect("an IAM error");
        assert_eq!(err.code(), Some("NoSuchEntity"));
        assert_eq!(
            err.to_string(),
            "NoSuchEntity: The role with name Temporal-Serverless-Worker-x cannot be found."
        );
        let throttled = "<ErrorResponse><Error><Code>Throttling</Code><Message>Rate exceeded\
                         </Message></Error></ErrorResponse>";
        let err = deserialize(&IAM, &response(400, throttled)).unwrap_err();
        assert_eq!(err.as_operation_error().unwrap().code(), Some("Throttling"));
    }

    #[test]
    fn an_error_status_without_an_error_body_names_the_status() {
        let err = deserialize(&IAM, &response(502, "<html>Bad Gateway</html>")).unwrap_err();
        let err = err.as_operation_error().unwrap();
        assert_eq!(err.code(), None);
        assert_eq!(
            err.to_string(),
            "HTTP 502 and no error code or message from IAM in its body"
        );
    }

    #[test]
    fn a_success_gives_the_body() {
        assert_eq!(
            deserialize(&IAM, &response(200, GET_ROLE)).unwrap(),
            GET_ROLE
        );
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
