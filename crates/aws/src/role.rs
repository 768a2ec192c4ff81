//! The invocation role as IAM holds it, for the comparisons of `status` and `doctor`: the
//! template declares it, but anyone with IAM rights can change it without touching the stack.

use crate::DeployError;

use crate::client::Clients;

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
    /// GetRole, ListRolePolicies then GetRolePolicy for each, and ListAttachedRolePolicies, the
    /// three at once (two round trips instead of four, for the one inline policy of the
    /// template). Errors in that order: a role that is gone fails GetRole first.
    pub async fn live_role(&self, name: &str) -> Result<LiveRole, DeployError> {
        let inline = async {
            let names = self.iam.inline_policy_names(name).await?;
            let documents = names
                .iter()
                .map(|policy| self.iam.inline_policy(name, policy));
            let documents = futures_util::future::join_all(documents).await;
            names
                .into_iter()
                .zip(documents)
                .map(|(policy, document)| Ok((policy, url_decode(&document?))))
                .collect::<Result<Vec<_>, DeployError>>()
        };
        let (trust_policy, inline_policies, attached_policies) = tokio::join!(
            self.iam.trust_policy(name),
            inline,
            self.iam.attached_policy_arns(name)
        );
        Ok(LiveRole {
            name: name.to_owned(),
            trust_policy: url_decode(&trust_policy?),
            inline_policies: inline_policies?,
            attached_policies: attached_policies?,
        })
    }
}

/// What the template declares for a role: its trust policy and its one inline policy (name,
/// document), as JSON.
#[derive(Debug, Clone, Copy)]
pub struct DeclaredRole<'a> {
    pub trust_policy: &'a str,
    pub invoke_policy: (&'a str, &'a str),
}

impl Clients {
    /// Puts `live` (the role as IAM holds it) back to `declared`, which CloudFormation does not
    /// do while the template and parameters are unchanged: the declared trust policy and
    /// invoke policy are written, every other inline policy is deleted and every managed
    /// policy detached. Returns one line per change made.
    pub async fn restore_role(
        &self,
        live: &LiveRole,
        declared: DeclaredRole<'_>,
    ) -> Result<Vec<String>, DeployError> {
        let name = live.name.as_str();
        let mut done = Vec::new();
        self.iam
            .update_trust_policy(name, declared.trust_policy)
            .await?;
        done.push("wrote the declared trust policy".to_owned());
        let (policy, document) = declared.invoke_policy;
        self.iam.put_inline_policy(name, policy, document).await?;
        done.push(format!("wrote the declared inline policy `{policy}`"));
        for (other, _) in live.inline_policies.iter().filter(|(n, _)| n != policy) {
            self.iam.delete_inline_policy(name, other).await?;
            done.push(format!("deleted the inline policy `{other}`"));
        }
        for arn in &live.attached_policies {
            self.iam.detach_policy(name, arn).await?;
            done.push(format!("detached the managed policy `{arn}`"));
        }
        Ok(done)
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
