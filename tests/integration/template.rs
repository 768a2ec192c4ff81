//! The CloudFormation template passes cfn-lint (pinned, from the emulator's virtualenv).

use std::process::Command;

use crate::support::{python, repo_root};

#[test]
fn template_passes_cfn_lint() {
    let template = repo_root().join("templates/serverless-worker-role.yaml");
    let out = Command::new(python().bin("cfn-lint"))
        .arg(&template)
        .output()
        .expect("run cfn-lint");
    assert!(
        out.status.success(),
        "cfn-lint found problems:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    // And it is the template the guide ships: same parameters, resources and outputs.
    let text = std::fs::read_to_string(&template).unwrap();
    for name in [
        "TemporalIamRoleArn",
        "AssumeRoleExternalId",
        "LambdaFunctionARNs",
        "RoleName",
        "TemporalServerlessWorker",
        "TemporalLambdaInvokePermissions",
        "RoleARN",
    ] {
        assert!(text.contains(&format!("  {name}:")), "{name}");
    }
}
