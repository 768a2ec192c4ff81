//! The IAM calls `role.rs` makes, on the SDK's IAM client built from the shared configuration:
//! its endpoint (every partition, FIPS and dual-stack included), signing, retries, clock-skew
//! correction, user agent and invocation id are the SDK's, as for every other client.

use aws_config::SdkConfig;
use aws_sdk_iam::Client;
use aws_sdk_iam::types::Role;

use crate::{DeployError, aws_error};

/// An IAM client for the calls of `role.rs`; each method is one call (or every page of one).
#[derive(Debug, Clone)]
pub(crate) struct Iam {
    client: Client,
}

impl Iam {
    /// The IAM client of `config`: its endpoint, when one is configured, else IAM's own for the
    /// configured region's partition.
    pub(crate) fn new(config: &SdkConfig) -> Self {
        Iam {
            client: Client::new(config),
        }
    }

    /// GetRole: the role named `role`.
    async fn role(&self, role: &str) -> Result<Role, DeployError> {
        const ACTION: &str = "GetRole";
        let out = self
            .client
            .get_role()
            .role_name(role)
            .send()
            .await
            .map_err(|e| aws_error(ACTION, e))?;
        out.role.ok_or_else(|| DeployError::Aws {
            action: ACTION,
            code: None,
            message: format!("IAM's answer names no role `{role}`"),
        })
    }

    /// GetRole: the role's trust policy document, as IAM returns it (URL-encoded).
    pub(crate) async fn trust_policy(&self, role: &str) -> Result<String, DeployError> {
        Ok(self
            .role(role)
            .await?
            .assume_role_policy_document
            .unwrap_or_default())
    }

    /// GetRole: the role's ARN, with its path (`role/aws-reserved/sso.amazonaws.com/NAME`).
    pub(crate) async fn role_arn(&self, role: &str) -> Result<String, DeployError> {
        Ok(self.role(role).await?.arn)
    }

    /// ListRolePolicies, every page: the names of the role's inline policies.
    pub(crate) async fn inline_policy_names(&self, role: &str) -> Result<Vec<String>, DeployError> {
        self.client
            .list_role_policies()
            .role_name(role)
            .into_paginator()
            .items()
            .send()
            .collect::<Result<Vec<_>, _>>()
            .await
            .map_err(|e| aws_error("ListRolePolicies", e))
    }

    /// GetRolePolicy: the document of one inline policy, as IAM returns it (URL-encoded).
    pub(crate) async fn inline_policy(
        &self,
        role: &str,
        policy: &str,
    ) -> Result<String, DeployError> {
        let out = self
            .client
            .get_role_policy()
            .role_name(role)
            .policy_name(policy)
            .send()
            .await
            .map_err(|e| aws_error("GetRolePolicy", e))?;
        Ok(out.policy_document().to_owned())
    }

    /// ListAttachedRolePolicies, every page: the ARNs of the managed policies attached.
    pub(crate) async fn attached_policy_arns(
        &self,
        role: &str,
    ) -> Result<Vec<String>, DeployError> {
        let attached = self
            .client
            .list_attached_role_policies()
            .role_name(role)
            .into_paginator()
            .items()
            .send()
            .collect::<Result<Vec<_>, _>>()
            .await
            .map_err(|e| aws_error("ListAttachedRolePolicies", e))?;
        Ok(attached
            .iter()
            .filter_map(|p| p.policy_arn().map(str::to_owned))
            .collect())
    }

    /// UpdateAssumeRolePolicy: replaces the role's trust policy with `document` (JSON).
    pub(crate) async fn update_trust_policy(
        &self,
        role: &str,
        document: &str,
    ) -> Result<(), DeployError> {
        self.client
            .update_assume_role_policy()
            .role_name(role)
            .policy_document(document)
            .send()
            .await
            .map(drop)
            .map_err(|e| aws_error("UpdateAssumeRolePolicy", e))
    }

    /// PutRolePolicy: sets the inline policy `policy` of the role to `document` (JSON).
    pub(crate) async fn put_inline_policy(
        &self,
        role: &str,
        policy: &str,
        document: &str,
    ) -> Result<(), DeployError> {
        self.client
            .put_role_policy()
            .role_name(role)
            .policy_name(policy)
            .policy_document(document)
            .send()
            .await
            .map(drop)
            .map_err(|e| aws_error("PutRolePolicy", e))
    }

    /// DeleteRolePolicy: removes the inline policy `policy` from the role.
    pub(crate) async fn delete_inline_policy(
        &self,
        role: &str,
        policy: &str,
    ) -> Result<(), DeployError> {
        self.client
            .delete_role_policy()
            .role_name(role)
            .policy_name(policy)
            .send()
            .await
            .map(drop)
            .map_err(|e| aws_error("DeleteRolePolicy", e))
    }

    /// DetachRolePolicy: detaches the managed policy `arn` from the role.
    pub(crate) async fn detach_policy(&self, role: &str, arn: &str) -> Result<(), DeployError> {
        self.client
            .detach_role_policy()
            .role_name(role)
            .policy_arn(arn)
            .send()
            .await
            .map(drop)
            .map_err(|e| aws_error("DetachRolePolicy", e))
    }
}
