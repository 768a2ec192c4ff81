//! The role as IAM holds it against what the template declares for the stack's parameters:
//! `status` reports it, `plan` shows it as a change, `deploy` puts the role back (CloudFormation
//! leaves a change made outside it alone while the template and parameters are unchanged).

use anyhow::Result;
use aws::StackInfo;
use aws::{Clients, DeclaredRole, LiveRole};
use env_render::cfn;

/// The role's name, from the stack's `RoleARN` output.
fn role_name(stack: &StackInfo) -> Option<&str> {
    cfn::role_arn(&stack.outputs).and_then(|a| a.rsplit('/').next())
}

/// The live role and how it differs from the declared one, one line per difference (each
/// naming the role); no role when the stack has no role output or the role is gone (a line says
/// which).
async fn read(clients: &Clients, stack: &StackInfo) -> Result<(Option<LiveRole>, Vec<String>)> {
    let Some(name) = role_name(stack) else {
        return Ok((
            None,
            vec![format!(
                "the stack has no `{}` output",
                cfn::ROLE_ARN_OUTPUT
            )],
        ));
    };
    let role = match clients.live_role(name).await {
        Ok(role) => role,
        Err(e) if e.code() == Some("NoSuchEntity") => {
            return Ok((None, vec![format!("role `{name}` was deleted")]));
        }
        Err(e) => return Err(e.into()),
    };
    let lines = cfn::role_drift(
        &stack.parameters,
        &role.trust_policy,
        &role.inline_policies,
        &role.attached_policies,
    )
    .into_iter()
    .map(|line| format!("role `{name}`: {line}"))
    .collect();
    Ok((Some(role), lines))
}

/// How the role differs from what the template declares for the stack's parameters; empty
/// when they agree.
pub async fn role_drift(clients: &Clients, stack: &StackInfo) -> Result<Vec<String>> {
    Ok(read(clients, stack).await?.1)
}

/// Puts a drifted role back to what the template declares for the deployed parameters, then
/// reads it again to prove it. Returns what was changed (empty when nothing had drifted), or
/// an error saying what still differs and what to run.
pub async fn restore(clients: &Clients, stack: &StackInfo) -> Result<Vec<String>> {
    let tsw = crate::cli::name();
    let (role, drift) = read(clients, stack).await?;
    if drift.is_empty() {
        return Ok(Vec::new());
    }
    let Some(role) = role else {
        anyhow::bail!(
            "{}; the stack's role cannot be restored in place: run `{tsw} destroy ENV --yes` and deploy again",
            drift.join("; ")
        );
    };
    let trust = cfn::declared_trust_policy(&stack.parameters);
    let invoke = cfn::declared_invoke_policy(&stack.parameters);
    let declared = DeclaredRole {
        trust_policy: &trust,
        invoke_policy: (cfn::INVOKE_POLICY_NAME, &invoke),
    };
    let done = clients.restore_role(&role, declared).await.map_err(|e| {
        anyhow::anyhow!(
            "role `{}` was changed outside the tool ({}) and could not be restored: {e}; \
             restore it with IAM rights (UpdateAssumeRolePolicy, PutRolePolicy, DeleteRolePolicy, DetachRolePolicy) and run deploy again",
            role.name,
            drift.join("; ")
        )
    })?;
    let left = role_drift(clients, stack).await?;
    anyhow::ensure!(
        left.is_empty(),
        "role `{}` still differs from what the template declares after restoring it: {}",
        role.name,
        left.join("; ")
    );
    Ok(drift
        .into_iter()
        .chain(
            done.into_iter()
                .map(|d| format!("role `{}`: {d}", role.name)),
        )
        .collect())
}
