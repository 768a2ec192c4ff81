//! The invocation role as IAM holds it, for the comparisons of `status` and `doctor`: the
//! template declares it, but anyone with IAM rights can change it without touching the stack.

use cfn_deploy::DeployError;

use crate::client::Clients;
use crate::iam::Page;

/// A role's policies as IAM reports them (documents decoded to JSON text).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LiveRole {
    pub name: String,
    /// The trust policy (`AssumeRolePolicyDocument`).
    pub trust_policy: String,
    /// Every inline policy: name and document.
    pub inline_policies: Vec<(String, String)>,
    /// The ARNs of the managed policies attached to it.
    pub attached_policies: Vec<String>,
}

impl Clients {
    /// The ARN of the role named `name` as IAM holds it, path included (GetRole): an
    /// assumed-role session's ARN names the role without its path.
    pub async fn role_arn(&self, name: &str) -> Result<String, DeployError> {
        self.iam.role_arn(name).await
    }

    /// The role named `name`, with its trust policy and every policy that grants it anything:
    /// GetRole, ListRolePolicies, GetRolePolicy for each, ListAttachedRolePolicies.
    pub async fn live_role(&self, name: &str) -> Result<LiveRole, DeployError> {
        let trust_policy = url_decode(&self.iam.trust_policy(name).await?);
        let mut inline_policies = Vec::new();
        let names = all_pages(async |marker| self.iam.inline_policy_names(name, marker).await);
        for policy in names.await? {
            let document = self.iam.inline_policy(name, &policy).await?;
            inline_policies.push((policy, url_decode(&document)));
        }
        Ok(LiveRole {
            name: name.to_owned(),
            trust_policy,
            inline_policies,
            attached_policies: all_pages(async |marker| {
                self.iam.attached_policy_arns(name, marker).await
            })
            .await?,
        })
    }
}

/// Every item of a list call, page after page (`fetch` is given each page's marker).
async fn all_pages(
    mut fetch: impl AsyncFnMut(Option<&str>) -> Result<Page, DeployError>,
) -> Result<Vec<String>, DeployError> {
    let mut items = Vec::new();
    let mut marker: Option<String> = None;
    loop {
        let page = fetch(marker.as_deref()).await?;
        items.extend(page.items);
        match page.marker {
            Some(next) => marker = Some(next),
            None => return Ok(items),
        }
    }
}

/// IAM returns policy documents URL-encoded (RFC 3986). A document
/// that is not encoded (some emulators) comes back unchanged: JSON policies hold no `%`.
fn url_decode(text: &str) -> String {
    percent_encoding::percent_decode_str(text)
        .decode_utf8_lossy()
        .into_owned()
}

#[cfg(test)]
mod tests {
    use super::url_decode;

    #[test]
    fn policy_documents_are_decoded_once() {
        assert_eq!(
            url_decode("%7B%22Version%22%3A%222012-10-17%22%7D"),
            r#"{"Version":"2012-10-17"}"#
        );
        assert_eq!(url_decode(r#"{"a": "b"}"#), r#"{"a": "b"}"#);
        // A `%` not followed by two hex digits is kept as it is.
        assert_eq!(url_decode("100%"), "100%");
        assert_eq!(url_decode("%2541"), "%41");
    }
}
