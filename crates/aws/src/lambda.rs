//! The two Lambda reads `doctor` makes (GetFunction, GetFunctionConfiguration), on the SDK's
//! Lambda client built from the shared configuration, for the region of the function read.

use std::collections::HashMap;

use aws_config::{Region, SdkConfig};
use aws_credential_types::Credentials;
use aws_credential_types::provider::SharedCredentialsProvider;

use crate::{DeployError, aws_error};

use crate::client::Clients;

/// A Lambda client for `doctor`'s reads. Each call goes to the region of the function it reads.
#[derive(Debug, Clone)]
pub struct Lambda {
    config: SdkConfig,
}

/// What GetFunction returns, as far as the checks read it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Function {
    pub configuration: FunctionConfiguration,
}

/// A function's configuration (GetFunctionConfiguration, or GetFunction's `Configuration`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FunctionConfiguration {
    pub function_arn: Option<String>,
    pub runtime: Option<String>,
    pub version: Option<String>,
    pub state: Option<String>,
    /// Seconds; Lambda's default (3) when `None`.
    pub timeout: Option<i32>,
    pub environment: FunctionEnvironment,
    pub vpc_config: VpcConfig,
}

/// The function's environment variables.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FunctionEnvironment {
    pub variables: HashMap<String, String>,
}

/// The function's VPC access.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct VpcConfig {
    pub subnet_ids: Vec<String>,
}

impl FunctionConfiguration {
    /// Whether the function runs in a VPC (it has subnets).
    pub fn in_vpc(&self) -> bool {
        !self.vpc_config.subnet_ids.is_empty()
    }
}

/// The configuration as the SDK reads it; GetFunction's and GetFunctionConfiguration's answers
/// are two types with the same accessors.
macro_rules! configuration_from {
    ($($sdk:ty),*) => {$(
        impl From<&$sdk> for FunctionConfiguration {
            fn from(c: &$sdk) -> Self {
                FunctionConfiguration {
                    function_arn: c.function_arn().map(str::to_owned),
                    runtime: c.runtime().map(|r| r.as_str().to_owned()),
                    version: c.version().map(str::to_owned),
                    state: c.state().map(|s| s.as_str().to_owned()),
                    timeout: c.timeout(),
                    environment: FunctionEnvironment {
                        variables: c
                            .environment()
                            .and_then(|e| e.variables())
                            .cloned()
                            .unwrap_or_default(),
                    },
                    vpc_config: VpcConfig {
                        subnet_ids: c
                            .vpc_config()
                            .map(|v| v.subnet_ids().to_vec())
                            .unwrap_or_default(),
                    },
                }
            }
        }
    )*};
}

configuration_from!(
    aws_sdk_lambda::types::FunctionConfiguration,
    aws_sdk_lambda::operation::get_function_configuration::GetFunctionConfigurationOutput
);

impl Clients {
    /// A Lambda client with the credentials of every client.
    pub fn lambda(&self) -> Lambda {
        Lambda {
            config: self.config.clone(),
        }
    }
}

impl Lambda {
    /// The same client, signing with `credentials` (an assumed role's).
    pub fn with_credentials(mut self, credentials: Credentials) -> Self {
        self.config = self
            .config
            .into_builder()
            .credentials_provider(SharedCredentialsProvider::new(credentials))
            .build();
        self
    }

    /// The SDK's Lambda client for `region` (the configured one when empty): the configured
    /// endpoint, signed for `region`, else Lambda's own in `region`.
    fn client(&self, region: &str) -> aws_sdk_lambda::Client {
        let mut config = aws_sdk_lambda::config::Builder::from(&self.config);
        if !region.is_empty() {
            config = config.region(Region::new(region.to_owned()));
        }
        aws_sdk_lambda::Client::from_conf(config.build())
    }

    /// GetFunction of `function` (a name or ARN, qualified or not) in `region`.
    pub async fn get_function(
        &self,
        function: &str,
        region: &str,
    ) -> Result<Function, DeployError> {
        let out = self
            .client(region)
            .get_function()
            .function_name(function)
            .send()
            .await
            .map_err(|e| aws_error("GetFunction", e))?;
        Ok(Function {
            configuration: out
                .configuration()
                .map(FunctionConfiguration::from)
                .unwrap_or_default(),
        })
    }

    /// GetFunctionConfiguration of `function` (a name or ARN, qualified or not) in `region`.
    pub async fn function_configuration(
        &self,
        function: &str,
        region: &str,
    ) -> Result<FunctionConfiguration, DeployError> {
        let out = self
            .client(region)
            .get_function_configuration()
            .function_name(function)
            .send()
            .await
            .map_err(|e| aws_error("GetFunctionConfiguration", e))?;
        Ok(FunctionConfiguration::from(&out))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// GetFunctionConfiguration as AWS documents it, with fields the checks skip.
    const CONFIGURATION: &str = r#"{
  "FunctionName": "worker",
  "FunctionArn": "arn:aws:lambda:us-east-2:123456789012:function:worker:3",
  "Runtime": "python3.13",
  "Role": "arn:aws:iam::123456789012:role/lambda-role",
  "Handler": "app.handler",
  "CodeSize": 5797206,
  "Timeout": 600,
  "MemorySize": 256,
  "LastModified": "2024-11-20T15:24:47.000+0000",
  "Version": "3",
  "Environment": {"Variables": {"TEMPORAL_ADDRESS": "10.0.0.5:7233", "TEMPORAL_NAMESPACE": "default"}},
  "TracingConfig": {"Mode": "PassThrough"},
  "VpcConfig": {"SubnetIds": [], "SecurityGroupIds": [], "VpcId": ""},
  "Layers": [{"Arn": "arn:aws:lambda:us-east-2:123456789012:layer:l:1", "CodeSize": 1}],
  "State": "Active",
  "LastUpdateStatus": "Successful",
  "PackageType": "Zip",
  "Architectures": ["x86_64"]
}"#;

    /// An HTTP server on loopback that gives each connection the next of `answers` (status,
    /// `x-amzn-ErrorType`, body) and closes it; it returns the head of every request it read.
    fn serve(
        answers: Vec<(u16, Option<&'static str>, &'static str)>,
    ) -> (String, std::thread::JoinHandle<Vec<String>>) {
        use std::io::{BufRead, BufReader, Write};
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let server = std::thread::spawn(move || {
            let mut heads = Vec::new();
            for (status, error_type, body) in answers {
                let (stream, _) = listener.accept().unwrap();
                let mut reader = BufReader::new(stream);
                let mut head = String::new();
                while reader.read_line(&mut head).unwrap() > 2 && !head.ends_with("\r\n\r\n") {}
                heads.push(head);
                let header = error_type
                    .map(|t| format!("x-amzn-ErrorType: {t}\r\n"))
                    .unwrap_or_default();
                let answer = format!(
                    "HTTP/1.1 {status} X\r\ncontent-type: application/json\r\n{header}content-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                );
                reader.get_mut().write_all(answer.as_bytes()).unwrap();
            }
            heads
        });
        (url, server)
    }

    async fn lambda_at(url: &str) -> Lambda {
        Clients::connect(&crate::Connection {
            region: "eu-west-1".into(),
            profile: None,
            assume_role: None,
            endpoint_url: Some(url.to_owned()),
        })
        .await
        .lambda()
    }

    const ARN: &str = "arn:aws:lambda:us-east-2:123456789012:function:w:3";

    #[tokio::test]
    async fn a_throttled_read_is_retried_and_signed_for_lambda_in_the_function_region() {
        let (url, server) = serve(vec![
            (
                429,
                Some("TooManyRequestsException"),
                r#"{"Reason":"CallerRateLimitExceeded","Type":"User","message":"Rate exceeded"}"#,
            ),
            (200, None, CONFIGURATION),
        ]);
        let lambda = lambda_at(&url).await;
        let config = lambda
            .function_configuration(ARN, "us-east-2")
            .await
            .unwrap();
        assert_eq!(config.timeout, Some(600));
        let heads = server.join().unwrap();
        assert_eq!(heads.len(), 2, "{heads:?}");
        for head in &heads {
            assert!(
                head.starts_with("GET /2015-03-31/functions/arn%3Aaws%3Alambda%3Aus-east-2%3A123456789012%3Afunction%3Aw%3A3/configuration HTTP/1.1\r\n"),
                "{head}"
            );
            let head = head.to_ascii_lowercase();
            assert!(head.contains("credential=testing/"), "{head}");
            assert!(head.contains("/us-east-2/lambda/aws4_request"), "{head}");
        }
    }

    #[tokio::test]
    async fn a_missing_function_is_an_error_with_its_code_and_not_retried() {
        let (url, server) = serve(vec![(
            404,
            Some("ResourceNotFoundException"),
            r#"{"Type":"User","message":"Function not found: arn:aws:lambda:us-east-2:123456789012:function:w:3"}"#,
        )]);
        let err = lambda_at(&url)
            .await
            .get_function(ARN, "us-east-2")
            .await
            .unwrap_err();
        assert_eq!(err.code(), Some("ResourceNotFoundException"));
        assert_eq!(
            err.to_string(),
            "GetFunction failed: ResourceNotFoundException: Function not found: arn:aws:lambda:us-east-2:123456789012:function:w:3"
        );
        let heads = server.join().unwrap();
        assert!(heads[0].starts_with("GET /2015-03-31/functions/arn%3Aaws%3Alambda%3Aus-east-2%3A123456789012%3Afunction%3Aw%3A3 HTTP/1.1"), "{heads:?}");
    }

    #[tokio::test]
    async fn a_configuration_gives_the_fields_the_checks_read() {
        let (url, server) = serve(vec![(200, None, CONFIGURATION)]);
        let c = lambda_at(&url)
            .await
            .function_configuration(ARN, "us-east-2")
            .await
            .unwrap();
        server.join().unwrap();
        assert_eq!(c.timeout, Some(600));
        assert_eq!(c.version.as_deref(), Some("3"));
        assert_eq!(c.state.as_deref(), Some("Active"));
        assert_eq!(c.runtime.as_deref(), Some("python3.13"));
        assert_eq!(
            c.function_arn.as_deref(),
            Some("arn:aws:lambda:us-east-2:123456789012:function:worker:3")
        );
        assert_eq!(c.environment.variables["TEMPORAL_ADDRESS"], "10.0.0.5:7233");
        assert_eq!(c.environment.variables.len(), 2);
        assert!(!c.in_vpc());
    }

    #[tokio::test]
    async fn get_function_reads_its_configuration_and_nulls_as_absent() {
        let (url, server) = serve(vec![
            (
                200,
                None,
                r#"{"Configuration": {"FunctionName": "w", "Timeout": null,
                    "Environment": {"Variables": null}, "VpcConfig": {"SubnetIds": ["subnet-1"]}},
                    "Code": {"RepositoryType": "S3", "Location": "https://example/"},
                    "Tags": {"team": "a"}}"#,
            ),
            (200, None, r#"{"Configuration": null}"#),
        ]);
        let lambda = lambda_at(&url).await;
        let f = lambda.get_function(ARN, "us-east-2").await.unwrap();
        assert!(f.configuration.in_vpc());
        assert_eq!(f.configuration.timeout, None);
        assert!(f.configuration.environment.variables.is_empty());
        let bare = lambda.get_function(ARN, "us-east-2").await.unwrap();
        assert_eq!(bare, Function::default());
        server.join().unwrap();
    }

    #[tokio::test]
    async fn reads_go_where_the_sdk_resolves_in_the_function_region_fips_and_dual_stack() {
        use aws_sdk_lambda::config::endpoint::{DefaultResolver, Params, ResolveEndpoint};

        use crate::client::tests::{Capture, config_of};

        for (region, fips, dual_stack) in [
            ("us-east-2", false, false),
            ("us-gov-west-1", true, false),
            ("eu-west-1", false, true),
            ("cn-north-1", false, false),
            ("us-isob-east-1", false, false),
            ("eu-isoe-west-1", false, false),
        ] {
            let capture = Capture::default();
            // The configured region is another one: each read goes to its function's region.
            let lambda = Lambda {
                config: config_of("ap-southeast-2", fips, dual_stack, &capture),
            };
            let arn = format!("arn:aws:lambda:{region}:123456789012:function:w");
            let _ = lambda.get_function(&arn, region).await;
            let params = Params::builder()
                .region(region)
                .use_fips(fips)
                .use_dual_stack(dual_stack)
                .build()
                .unwrap();
            let url = DefaultResolver::new()
                .resolve_endpoint(&params)
                .await
                .unwrap()
                .url()
                .to_owned();
            let sent = capture.0.lock().unwrap().clone();
            let case = format!("{region} fips={fips} dual-stack={dual_stack}: {sent:?}");
            assert_eq!(sent.len(), 1, "{case}");
            let (uri, auth) = &sent[0];
            assert!(
                uri.starts_with(&format!("{url}/2015-03-31/functions/")),
                "{case}"
            );
            assert!(
                auth.contains(&format!("/{region}/lambda/aws4_request")),
                "{case}"
            );
        }
    }
}
