//! Rendering against the checkout's real templates.

mod support;

use env_descriptor::{Naming, Role};
use env_render::{Inputs, Templates, cfn::Parameters};
use serde_json::json;
use support::{checkout, env, env_with, scratch, templates_dir};

fn yaml(s: &str) -> serde_json::Value {
    serde_yaml::from_str(s).unwrap()
}

#[test]
fn per_namespace_config_has_the_intended_structure() {
    let t = Templates::load(&checkout()).unwrap();
    let r = t
        .render(&env(Some(vec!["orders".into(), "billing".into()]), None))
        .unwrap();
    assert_eq!(
        yaml(&r.dynamic_config),
        json!({
            "workercontroller.enabled": [
                {"value": true, "constraints": {"namespace": "orders"}},
                {"value": true, "constraints": {"namespace": "billing"}},
            ],
            "workercontroller.compute_providers.enabled": [
                {"value": ["aws-lambda"], "constraints": {"namespace": "orders"}},
                {"value": ["aws-lambda"], "constraints": {"namespace": "billing"}},
            ],
            "workercontroller.scaling_algorithms.enabled": [{"value": ["no-sync"]}],
        })
    );
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(&r.parameters_json).unwrap(),
        json!([
            {"ParameterKey": "TemporalIamRoleArn", "ParameterValue": "arn:aws:iam::123456789012:role/temporal-server"},
            {"ParameterKey": "AssumeRoleExternalId", "ParameterValue": "ext-id-123"},
            {"ParameterKey": "LambdaFunctionARNs", "ParameterValue": "arn:aws:lambda:us-west-2:123456789012:function:a,arn:aws:lambda:us-west-2:123456789012:function:b:7"},
        ])
    );
}

#[test]
fn global_config_and_role_name() {
    let t = Templates::load(&checkout()).unwrap();
    let r = t.render(&env(None, Some("Custom"))).unwrap();
    assert_eq!(
        yaml(&r.dynamic_config),
        json!({
            "workercontroller.enabled": [{"value": true}],
            "workercontroller.compute_providers.enabled": [{"value": ["aws-lambda"]}],
            "workercontroller.scaling_algorithms.enabled": [{"value": ["no-sync"]}],
        })
    );
    assert_eq!(
        r.parameters.pairs().last().unwrap(),
        &("RoleName".to_owned(), "Custom".to_owned())
    );
    // Rendering twice gives the same bytes.
    assert_eq!(t.render(&env(None, Some("Custom"))).unwrap(), r);
}

/// A chain of intermediary roles: rendered as Temporal's global key, hop by hop in order, the
/// external ID only where one is given; the invocation role then trusts the last hop.
#[test]
fn intermediary_roles_render_as_the_global_key_and_the_role_trusts_the_last_hop() {
    let t = Templates::load(&checkout()).unwrap();
    let chain = "\n[[temporal.intermediary_roles]]\nrole_arn = \"arn:aws:iam::222222222222:role/relay\"\nsession_name = \"relay\"\n\
                 \n[[temporal.intermediary_roles]]\nrole_arn = \"arn:aws:iam::111111111111:role/hub\"\nsession_name = \"hub\"\nexternal_id = \"hub-ext\"\n";
    let r = t.render(&env_with(None, None, chain)).unwrap();
    assert_eq!(
        yaml(&r.dynamic_config)["workercontroller.compute_providers.aws.intermediary_roles"],
        json!([{"value": [
            [{"RoleARN": "arn:aws:iam::222222222222:role/relay", "RoleSessionName": "relay"}],
            [{"RoleARN": "arn:aws:iam::111111111111:role/hub", "RoleSessionName": "hub", "ExternalID": "hub-ext"}],
        ]}])
    );
    assert_eq!(r.parameters.principal, "arn:aws:iam::111111111111:role/hub");
    // The dev server takes it as one JSON value.
    let values = env_render::dynamic_config::dev_server_values(&r.dynamic_config).unwrap();
    assert!(values.contains(&(
        "workercontroller.compute_providers.aws.intermediary_roles".to_owned(),
        r#"[[{"RoleARN":"arn:aws:iam::222222222222:role/relay","RoleSessionName":"relay"}],[{"RoleARN":"arn:aws:iam::111111111111:role/hub","RoleSessionName":"hub","ExternalID":"hub-ext"}]]"#.to_owned()
    )), "{values:?}");
    // Without a chain the key is not written at all, and the server's identity is trusted.
    let plain = t.render(&env(None, None)).unwrap();
    assert!(!plain.dynamic_config.contains("intermediary_roles"));
    assert_eq!(
        plain.parameters.principal,
        "arn:aws:iam::123456789012:role/temporal-server"
    );
}

/// Values that would break out of naive YAML or JSON templating parse back as themselves.
#[test]
fn hostile_values_cannot_change_the_structure() {
    let t = Templates::load(&checkout()).unwrap();
    let mut checked = 0;
    let hostile = [
        "a\"b",
        "x'y",
        "line\nbreak: true",
        "key: value",
        "# comment",
        "{{ role.external_id }}",
        "{% if true %}x{% endif %}",
        "ünïcødé ✓ 🚀",
        "- item",
        "]}, {\"ParameterKey\": \"RoleName\"",
        "\\",
        "null",
        "&anchor *alias !tag",
        "\u{2028}\u{0}",
    ];
    for h in hostile {
        // The descriptor validation would refuse most of these; rendering must hold regardless.
        // An `Environment` cannot hold them, so they go straight into the templates' inputs.
        let e = env(None, None);
        let mut inputs = Inputs::from(&e);
        inputs.temporal.namespaces = vec![h, "ok"];
        inputs.temporal.server_role_arn = h;
        inputs.temporal.compute_providers = vec!["aws-lambda", h];
        // Padded to meet the template's MinLength, which the parameters check enforces.
        let ext = format!("12345{h}");
        let parameters = Parameters {
            principal: h.to_owned(),
            external_id: ext.clone(),
            functions: vec![h.to_owned()],
            role_name: Some(h.to_owned()),
        };
        let r = t
            .render_inputs(&inputs, parameters, Naming::Fixed)
            .unwrap_or_else(|err| panic!("{h:?}: {err}"));
        let dc = yaml(&r.dynamic_config);
        assert_eq!(
            dc["workercontroller.enabled"][0]["constraints"]["namespace"],
            json!(h),
            "{h:?}"
        );
        assert_eq!(
            dc["workercontroller.compute_providers.enabled"][1]["value"],
            json!(["aws-lambda", h]),
            "{h:?}"
        );
        assert_eq!(dc.as_object().unwrap().len(), 3, "{h:?}");
        let params: serde_json::Value = serde_json::from_str(&r.parameters_json).unwrap();
        assert_eq!(
            params,
            json!([
                {"ParameterKey": "TemporalIamRoleArn", "ParameterValue": h},
                {"ParameterKey": "AssumeRoleExternalId", "ParameterValue": ext},
                {"ParameterKey": "LambdaFunctionARNs", "ParameterValue": h},
                {"ParameterKey": "RoleName", "ParameterValue": h},
            ]),
            "{h:?}"
        );
        checked += 1;
    }
    assert_eq!(checked, hostile.len());
}

#[test]
fn undefined_variable_names_template_and_line() {
    let tmp = tempfile::tempdir().unwrap();
    let (layout, dir) = scratch(tmp.path());
    for f in std::fs::read_dir(templates_dir()).unwrap() {
        let f = f.unwrap();
        std::fs::copy(f.path(), dir.join(f.file_name())).unwrap();
    }
    let p = dir.join("dynamicconfig.yaml.j2");
    let src = std::fs::read_to_string(&p)
        .unwrap()
        .replace("temporal.scaling_algorithms", "temporal.scaling_algorithm");
    std::fs::write(&p, src).unwrap();
    let err = Templates::load(&layout)
        .unwrap()
        .render(&env(None, None))
        .unwrap_err();
    let msg = err.to_string();
    assert!(
        msg.starts_with("templates/dynamicconfig.yaml.j2:24: undefined value"),
        "{msg}"
    );
}

#[test]
fn role_name_default_matches_the_template() {
    let t = Templates::load(&checkout()).unwrap();
    for naming in [Naming::Fixed, Naming::PerStack] {
        assert_eq!(
            t.cfn_template(naming).default_of("RoleName"),
            Some(Role::DEFAULT_NAME)
        );
    }
}

/// The two templates differ only in how they name the role: exactly `RoleName`, or
/// `RoleName-StackName` (the guide's template before July 2026, which deployed stacks keep).
#[test]
fn the_two_templates_differ_only_in_the_role_name() {
    let t = Templates::load(&checkout()).unwrap();
    let per_stack = &t.cfn_template(Naming::PerStack).body;
    let fixed = &t.cfn_template(Naming::Fixed).body;
    assert_eq!(
        per_stack
            .matches("!Sub '${RoleName}-${AWS::StackName}'")
            .count(),
        2
    );
    assert_eq!(
        fixed.matches("!Ref RoleName").count(),
        3,
        "the role, its policy and the output"
    );
    let back = fixed
        .replace("      RoleName: !Ref RoleName", "      RoleName: !Sub '${RoleName}-${AWS::StackName}'")
        .replace("        - !Ref RoleName", "        - !Sub '${RoleName}-${AWS::StackName}'")
        .replace("    Description: The name of the IAM role, unique in the account. Provide a new role name if creating more than one stack.\n", "");
    assert_eq!(&back, per_stack);
}

#[test]
fn a_template_without_the_role_arn_output_is_refused() {
    let body =
        std::fs::read_to_string(templates_dir().join("serverless-worker-role.yaml")).unwrap();
    env_render::cfn::Template::parse(body.clone()).unwrap();
    // `deploy` records this output as `[outputs].role_arn`: a template without it could be
    // deployed but never registered.
    let renamed = body.replace("\n  RoleARN:\n", "\n  RoleArn:\n");
    assert_ne!(renamed, body);
    let err = env_render::cfn::Template::parse(renamed)
        .unwrap_err()
        .to_string();
    assert!(err.contains("`RoleARN`"), "{err}");
}

/// `plan` creates a change set from the checkout's template, with the plan job's credentials,
/// on every pull request. A transform runs code while the change set is created (a macro is a
/// Lambda function; `AWS::Include` reads S3 objects as the caller): the guide's template has
/// none, and an override with one is refused, wherever it hides.
#[test]
fn a_template_with_a_transform_is_refused() {
    let body =
        std::fs::read_to_string(templates_dir().join("serverless-worker-role.yaml")).unwrap();
    let top = format!("Transform: AWS::Serverless-2016-10-31\n{body}");
    let nested = body.replace(
        "\nResources:\n",
        "\nResources:\n  Fn::Transform:\n    Name: AWS::Include\n    Parameters:\n      Location: s3://bucket/x.yaml\n",
    );
    let tagged = body.replace(
        "\nResources:\n",
        "\nResources:\n  Included: !Transform { Name: Exfil, Parameters: {} }\n",
    );
    for (what, hostile) in [
        ("top level", top),
        ("Fn::Transform", nested),
        ("!Transform", tagged),
    ] {
        assert_ne!(hostile, body, "{what}");
        let err = env_render::cfn::Template::parse(hostile)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("transform") && err.contains("runs code"),
            "{what}: {err}"
        );
    }
}

#[test]
fn write_is_idempotent_and_reports_stale_files() {
    let t = Templates::load(&checkout()).unwrap();
    let r = t.render(&env(None, None)).unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let layout = env_descriptor::Layout::at(tmp.path());
    let dir = layout.rendered_dir("staging");
    assert_eq!(r.stale(&layout, &dir).unwrap().len(), 2);
    assert_eq!(r.write(&layout, &dir).unwrap().len(), 2);
    assert!(r.stale(&layout, &dir).unwrap().is_empty());
    assert!(r.write(&layout, &dir).unwrap().is_empty());
}

/// The templates are built in: a directory without them renders the same files as this
/// workspace's `templates/`, and the built-in ones are those files.
#[test]
fn built_in_templates_need_no_directory() {
    let none = tempfile::tempdir().unwrap();
    let built_in = Templates::load(&env_descriptor::Layout::at(none.path())).unwrap();
    assert!(built_in.overrides().is_empty());
    let here = Templates::load(&checkout()).unwrap();
    // Rendering reads three of them (the fourth is the descriptor `init` writes).
    assert_eq!(here.overrides().len(), 3);
    assert_eq!(
        built_in.render(&env(None, None)).unwrap(),
        here.render(&env(None, None)).unwrap()
    );
    for (name, text) in env_render::BUILT_IN {
        assert_eq!(
            std::fs::read_to_string(templates_dir().join(name)).unwrap(),
            *text
        );
    }
}

/// A repository's template overrides the built-in one of the same name, and only that one; an
/// override must still declare every parameter the tool passes.
#[test]
fn an_override_replaces_one_template_and_is_checked() {
    let tmp = tempfile::tempdir().unwrap();
    let (layout, dir) = scratch(tmp.path());
    let ours = std::fs::read_to_string(templates_dir().join("serverless-worker-role.yaml"))
        .unwrap()
        .replacen("Description: The ARN", "Description: (ours) The ARN", 1);
    let path = dir.join("serverless-worker-role.yaml");
    std::fs::write(&path, &ours).unwrap();
    let t = Templates::load(&layout).unwrap();
    assert_eq!(t.overrides(), std::slice::from_ref(&path));
    assert_eq!(t.cfn_template(Naming::Fixed).body, ours);
    t.render(&env(None, None)).unwrap();

    for parameter in env_render::cfn::PASSED_PARAMETERS {
        let lost = ours.replace(&format!("  {parameter}:\n"), "  Other:\n");
        std::fs::write(&path, lost).unwrap();
        let err = Templates::load(&layout).unwrap_err().to_string();
        assert!(
            err.starts_with(&format!("`{}` is not a usable CloudFormation template: it does not declare the parameter(s) `{parameter}`, which the tool passes", path.display())),
            "{err}"
        );
    }
}

/// The committed `environments/NAME/parameters.json` files are what rendering their descriptors
/// gives, byte for byte: the file's format is the one `aws cloudformation create-stack
/// --parameters file://...` reads, one parameter a line.
#[test]
fn the_committed_parameter_files_are_rendered_byte_for_byte() {
    let root = checkout();
    let t = Templates::load(&root).unwrap();
    for name in ["local", "staging", "production"] {
        let path = root.root().join(format!("environments/{name}.toml"));
        let src = std::fs::read_to_string(&path).unwrap();
        let env = env_descriptor::load_str(&path, &src).unwrap().env;
        let committed = std::fs::read_to_string(
            root.root()
                .join(format!("environments/{name}/parameters.json")),
        )
        .unwrap();
        assert_eq!(t.render(&env).unwrap().parameters_json, committed, "{name}");
    }
    let r = t.render(&env(None, Some("Custom"))).unwrap();
    assert_eq!(
        r.parameters_json,
        r#"[
  {"ParameterKey": "TemporalIamRoleArn", "ParameterValue": "arn:aws:iam::123456789012:role/temporal-server"},
  {"ParameterKey": "AssumeRoleExternalId", "ParameterValue": "ext-id-123"},
  {"ParameterKey": "LambdaFunctionARNs", "ParameterValue": "arn:aws:lambda:us-west-2:123456789012:function:a,arn:aws:lambda:us-west-2:123456789012:function:b:7"},
  {"ParameterKey": "RoleName", "ParameterValue": "Custom"}
]
"#
    );
}

/// The stack parameters are built from the descriptor, no longer from a template: a
/// repository's `templates/parameters.json.j2` would silently stop taking effect, so it is
/// refused with what to do instead.
#[test]
fn a_parameters_template_of_the_repository_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let (layout, dir) = scratch(tmp.path());
    let path = dir.join("parameters.json.j2");
    std::fs::write(&path, "[]\n").unwrap();
    let err = Templates::load(&layout).unwrap_err().to_string();
    assert!(
        err.starts_with(&format!("`{}` is no longer read", path.display()))
            && err.contains("delete the file"),
        "{err}"
    );
}

/// A template of the repository's own that declares a parameter without a default, which the
/// tool does not pass, is refused before anything is written, naming the template.
#[test]
fn parameters_the_template_requires_but_the_tool_does_not_pass_are_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let (layout, dir) = scratch(tmp.path());
    let e = env(None, None);
    let name = env_render::cfn_template_name(e.role_naming());
    let ours = std::fs::read_to_string(templates_dir().join(name))
        .unwrap()
        .replacen(
            "Parameters:\n",
            "Parameters:\n  Boundary:\n    Type: String\n",
            1,
        );
    let path = dir.join(name);
    std::fs::write(&path, &ours).unwrap();
    let err = Templates::load(&layout)
        .unwrap()
        .render(&e)
        .unwrap_err()
        .to_string();
    assert_eq!(
        err,
        format!(
            "the stack parameters do not fit `{}`, so CloudFormation would reject them and nothing was written: Parameters: [Boundary] must have values",
            path.display()
        )
    );
}
