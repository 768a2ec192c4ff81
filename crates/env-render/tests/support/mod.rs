//! Helpers shared by the test files of this crate.

use std::path::{Path, PathBuf};

use env_descriptor::{Aws, DeploySettings, Environment, Role, Temporal};

pub fn templates_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../templates")
}

pub fn env(namespaces: Option<Vec<String>>, role_name: Option<&str>) -> Environment {
    Environment {
        name: "test".into(),
        file: "environments/test.toml".into(),
        aws: Aws {
            region: "us-west-2".parse().unwrap(),
            profile: None,
            endpoint_url: None,
            account_id: None,
        },
        temporal: Temporal {
            server_role_arn: "arn:aws:iam::123456789012:role/temporal-server"
                .parse()
                .unwrap(),
            namespaces: namespaces.map(|n| n.iter().map(|n| n.parse().unwrap()).collect()),
            compute_providers: vec!["aws-lambda".into()],
            scaling_algorithms: vec!["no-sync".into()],
            address: None,
            dynamic_config_file: None,
            tls: None,
            api_key_env: None,
        },
        role: Role {
            stack_name: "s".parse().unwrap(),
            name: role_name.map(|n| n.parse().unwrap()),
            external_id: "ext-id-123".parse().unwrap(),
            lambda_function_arns: vec![
                "arn:aws:lambda:us-west-2:123456789012:function:a"
                    .parse()
                    .unwrap(),
                "arn:aws:lambda:us-west-2:123456789012:function:b:7"
                    .parse()
                    .unwrap(),
            ],
        },
        worker_deployments: Vec::new(),
        deploy: DeploySettings { confirm: true },
        sandbox: None,
        outputs: None,
    }
}
