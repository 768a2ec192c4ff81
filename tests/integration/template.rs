//! The CloudFormation templates pass cfn-lint (pinned in the tests' `requirements.txt`).

use std::process::Command;

use env_render::cfn::ROLE_ARN_OUTPUT;

use crate::support::{repo_root, test_tools};

#[test]
fn template_passes_cfn_lint() {
    // The guide's current template (a role named exactly `RoleName`) and its former one.
    for name in [env_render::CFN_TEMPLATE, env_render::CFN_TEMPLATE_PER_STACK] {
        lint_and_compare(name);
    }
}

fn lint_and_compare(name: &str) {
    let template = repo_root().join("templates").join(name);
    let out = Command::new(test_tools().bin("cfn-lint"))
        .arg(&template)
        .output()
        .expect("run cfn-lint");
    assert!(
        out.status.success(),
        "cfn-lint found problems:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    // And it is the template the guide ships: same parameters, resources and outputs, each
    // looked for in its own section (`RoleName` and `LambdaFunctionARNs` are outputs too).
    let text = std::fs::read_to_string(&template).unwrap();
    let doc: serde_yaml::Value = serde_yaml::from_str(&text).unwrap();
    let names = |section: &str| -> Vec<&str> {
        doc[section]
            .as_mapping()
            .unwrap_or_else(|| panic!("no `{section}` section"))
            .keys()
            .map(|k| k.as_str().unwrap())
            .collect()
    };
    assert_eq!(
        names("Parameters"),
        [
            "TemporalIamRoleArn",
            "AssumeRoleExternalId",
            "LambdaFunctionARNs",
            "RoleName"
        ]
    );
    assert_eq!(
        names("Resources"),
        [
            "TemporalServerlessWorker",
            "TemporalLambdaInvokePermissions"
        ]
    );
    assert_eq!(
        names("Outputs"),
        [ROLE_ARN_OUTPUT, "RoleName", "LambdaFunctionARNs"]
    );
}
