//! A stack is changed or deleted only when it is recognisably this tool's (its `[outputs]`
//! record it, or it carries the tag the tool sets on every stack it creates), or when the user
//! adopts it explicitly with `--adopt-stack`.

use crate::support::{Checkout, cfn, descriptor};

/// Creates `stack` outside the tool: another team's template, with an S3 bucket and an SQS
/// queue.
fn create_foreign_stack(stack: &str) {
    cfn(&format!(
        r#"
body = json.dumps({{"Resources": {{
    "Bucket": {{"Type": "AWS::S3::Bucket", "Properties": {{"BucketName": "{stack}-data"}}}},
    "Queue": {{"Type": "AWS::SQS::Queue", "Properties": {{"QueueName": "{stack}-jobs"}}}}}},
    "Outputs": {{"BucketName": {{"Value": {{"Ref": "Bucket"}}}}}}}})
cfn.create_stack(StackName='{stack}', TemplateBody=body, Tags=[{{'Key': 'team', 'Value': 'data'}}])
"#
    ));
}

/// The stack's logical resource ids, sorted, and its status.
fn resources(stack: &str) -> String {
    cfn(&format!(
        "s = cfn.describe_stacks(StackName='{stack}')['Stacks'][0]\n\
         r = cfn.describe_stack_resources(StackName='{stack}')['StackResources']\n\
         print(s['StackStatus'], ' '.join(sorted(x['LogicalResourceId'] for x in r)))"
    ))
}

#[test]
fn another_teams_stack_is_neither_replaced_nor_deleted_unless_adopted() {
    let stack = "it-foreign";
    create_foreign_stack(stack);
    let before = resources(stack);
    assert_eq!(before, "CREATE_COMPLETE Bucket Queue");
    let co = Checkout::new();
    let text = descriptor(stack, "foreign-ext-id", &["worker-1"])
        .replace("confirm = true", "confirm = false");
    co.write_env("fs", &text);

    for args in [
        &["deploy", "fs", "--yes"][..],
        &["deploy", "--all", "--yes"],
        &["plan", "fs"],
        &["destroy", "fs", "--yes"],
        // The read-only commands say so too, instead of judging another's stack as this
        // environment's.
        &["status", "fs"],
        &["doctor", "fs"],
    ] {
        let run = co.xtask(args);
        run.failure();
        let all = run.all();
        assert!(
            all.contains(&format!("stack `{stack}`"))
                && all.contains("not recognisably this tool's")
                && all.contains("--adopt-stack"),
            "{args:?} names the stack, why, and how to adopt it:\n{all}"
        );
        assert_eq!(
            resources(stack),
            before,
            "{args:?} left the stack as it was"
        );
        assert_eq!(
            co.read_env("fs"),
            text,
            "{args:?} left the descriptor as it was"
        );
    }

    // Adopted explicitly: deployed over, tagged, then recognised without the flag.
    co.xtask(&["deploy", "fs", "--yes", "--adopt-stack"])
        .success();
    assert_eq!(
        resources(stack),
        "UPDATE_COMPLETE TemporalLambdaInvokePermissions TemporalServerlessWorker"
    );
    co.xtask(&["deploy", "fs", "--yes"]).success();
    co.xtask(&["destroy", "fs", "--yes"]).success();
}

/// A stack the tool created is its own by its tag, even when no `[outputs]` record it (the
/// record was lost, or never written); a recorded stack is its own by its `[outputs]`.
#[test]
fn the_tools_own_stack_is_recognised_by_its_tag_without_outputs() {
    let stack = "it-own-tagged";
    let co = Checkout::new();
    let text = descriptor(stack, "own-tagged-ext-id", &["worker-1"]);
    co.write_env("ot", &text);
    co.xtask(&["deploy", "ot", "--yes"]).success();
    let tags = cfn(&format!(
        "s = cfn.describe_stacks(StackName='{stack}')['Stacks'][0]\n\
         print(json.dumps({{t['Key']: t['Value'] for t in s['Tags']}}))"
    ));
    assert_eq!(tags, r#"{"temporal-serverless-workers:environment": "ot"}"#);
    // The record lost: still this tool's stack.
    co.write_env("ot", &text);
    let run = co.xtask(&["deploy", "ot", "--yes"]);
    run.success();
    assert!(run.stdout.contains("no changes"), "{}", run.all());
    co.write_env("ot", &text);
    co.xtask(&["destroy", "ot", "--yes"]).success();
}
