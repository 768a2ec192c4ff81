//! The two Lambda reads `doctor` makes (GetFunction, GetFunctionConfiguration), through Lambda's
//! REST-JSON API by hand on the signed request of `signed.rs` (why not `aws-sdk-lambda` is told
//! there). Answers are parsed with `serde_json`, keeping the fields the checks read.

use std::collections::HashMap;

use aws_config::SdkConfig;
use aws_credential_types::Credentials;
use aws_credential_types::provider::SharedCredentialsProvider;
use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use aws_smithy_types::error::metadata::ErrorMetadata;
use serde::{Deserialize, Deserializer};

use crate::DeployError;

use crate::client::{Clients, endpoint_of};
use crate::signed::{Protocol, Request, Signed, encode, metadata};

/// The version of the Lambda API in every path.
const VERSION: &str = "2015-03-31";

/// Lambda's REST-JSON protocol: errors are named by the `x-amzn-ErrorType` header or the
/// body's `__type` / `code`.
static LAMBDA: Protocol = Protocol {
    signing_name: "lambda",
    label: "Lambda",
    error: error_from,
};

/// A Lambda client for `doctor`'s reads. Each call goes to the region of the function it reads.
#[derive(Debug, Clone)]
pub struct Lambda {
    config: SdkConfig,
    /// The configured endpoint (an emulator), else `None` for AWS's own of each region.
    endpoint: Option<String>,
}

/// What GetFunction returns, as far as the checks read it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Function {
    #[serde(default, deserialize_with = "nullable")]
    pub configuration: FunctionConfiguration,
}

/// A function's configuration (GetFunctionConfiguration, or GetFunction's `Configuration`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct FunctionConfiguration {
    pub function_arn: Option<String>,
    pub runtime: Option<String>,
    pub version: Option<String>,
    pub state: Option<String>,
    /// Seconds; Lambda's default (3) when `None`.
    pub timeout: Option<i32>,
    #[serde(default, deserialize_with = "nullable")]
    pub environment: FunctionEnvironment,
    #[serde(default, deserialize_with = "nullable")]
    pub vpc_config: VpcConfig,
}

/// The function's environment variables.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct FunctionEnvironment {
    #[serde(default, deserialize_with = "nullable")]
    pub variables: HashMap<String, String>,
}

/// The function's VPC access.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct VpcConfig {
    #[serde(default, deserialize_with = "nullable")]
    pub subnet_ids: Vec<String>,
}

impl FunctionConfiguration {
    /// Whether the function runs in a VPC (it has subnets).
    pub fn in_vpc(&self) -> bool {
        !self.vpc_config.subnet_ids.is_empty()
    }
}

impl Clients {
    /// A Lambda client with the credentials of every client.
    pub fn lambda(&self) -> Lambda {
        Lambda {
            config: self.config.clone(),
            endpoint: endpoint_of(&self.config, "Lambda"),
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

    /// GetFunction of `function` (a name or ARN, qualified or not) in `region`.
    pub async fn get_function(
        &self,
        function: &str,
        region: &str,
    ) -> Result<Function, DeployError> {
        const ACTION: &str = "GetFunction";
        let path = format!("/{VERSION}/functions/{}", encode(function));
        self.read(ACTION, path, region).await
    }

    /// GetFunctionConfiguration of `function` (a name or ARN, qualified or not) in `region`.
    pub async fn function_configuration(
        &self,
        function: &str,
        region: &str,
    ) -> Result<FunctionConfiguration, DeployError> {
        const ACTION: &str = "GetFunctionConfiguration";
        let path = format!("/{VERSION}/functions/{}/configuration", encode(function));
        self.read(ACTION, path, region).await
    }

    /// GETs `path` in `region` and reads the answer as `T`.
    async fn read<T: for<'de> Deserialize<'de>>(
        &self,
        action: &'static str,
        path: String,
        region: &str,
    ) -> Result<T, DeployError> {
        let region = if region.is_empty() {
            self.config.region().map(|r| r.as_ref()).unwrap_or_default()
        } else {
            region
        };
        let url = match &self.endpoint {
            Some(url) => url.clone(),
            None => regional_endpoint(region),
        };
        let request = Request {
            method: http::Method::GET,
            uri: path,
            content_type: None,
            body: String::new(),
        };
        let body = Signed::new(&self.config, &LAMBDA, &url, region)
            .send(action, request)
            .await?;
        serde_json::from_str(&body).map_err(|err| DeployError::Aws {
            action,
            code: None,
            message: format!("cannot read Lambda's answer: {err}"),
        })
    }
}

/// Lambda's endpoint in `region`, in the region's partition.
fn regional_endpoint(region: &str) -> String {
    let suffix = [
        ("cn-", "amazonaws.com.cn"),
        ("us-isob-", "sc2s.sgov.gov"),
        ("us-isof-", "csp.hci.ic.gov"),
        ("us-iso-", "c2s.ic.gov"),
        ("eu-isoe-", "cloud.adc-e.uk"),
    ]
    .into_iter()
    .find(|(prefix, _)| region.starts_with(prefix))
    .map_or("amazonaws.com", |(_, suffix)| suffix);
    format!("https://lambda.{region}.{suffix}")
}

/// The code and message of a REST-JSON error answer, read as the SDK reads it: the code from
/// `x-amzn-ErrorType`, else the body's `code` or `__type` (without a `namespace#` prefix or a
/// `:` suffix); the message from `message`, `Message` or `errorMessage`.
fn error_from(response: &HttpResponse, body: &str) -> ErrorMetadata {
    let json: serde_json::Value = serde_json::from_str(body).unwrap_or_default();
    let field = |names: &[&str]| {
        names
            .iter()
            .find_map(|n| json.get(n).and_then(|v| v.as_str()))
            .map(str::to_owned)
    };
    let code = response
        .headers()
        .get("x-amzn-errortype")
        .map(str::to_owned)
        .or_else(|| field(&["code", "__type"]))
        .map(|c| sanitize(&c).to_owned());
    metadata(code, field(&["message", "Message", "errorMessage"]))
}

/// `aws.lambda#ResourceNotFoundException:http://internal/` → `ResourceNotFoundException`.
fn sanitize(code: &str) -> &str {
    let code = code.split(':').next().unwrap_or(code);
    code.rsplit('#').next().unwrap_or(code)
}

/// A field AWS may send as `null`: read as its default.
fn nullable<'de, D, T>(deserializer: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Default + Deserialize<'de>,
{
    Ok(Option::<T>::deserialize(deserializer)?.unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use aws_smithy_runtime_api::http::StatusCode;
    use aws_smithy_types::body::SdkBody;
    use aws_smithy_types::error::metadata::ProvideErrorMetadata;

    use super::*;
    use crate::signed::deserialize;

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

    #[test]
    fn a_configuration_gives_the_fields_the_checks_read() {
        let c: FunctionConfiguration = serde_json::from_str(CONFIGURATION).unwrap();
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

    #[test]
    fn get_function_reads_its_configuration_and_nulls_as_absent() {
        let body = r#"{"Configuration": {"FunctionName": "w", "Timeout": null,
            "Environment": {"Variables": null}, "VpcConfig": {"SubnetIds": ["subnet-1"]}},
            "Code": {"RepositoryType": "S3", "Location": "https://example/"},
            "Tags": {"team": "a"}}"#;
        let f: Function = serde_json::from_str(body).unwrap();
        assert!(f.configuration.in_vpc());
        assert_eq!(f.configuration.timeout, None);
        assert!(f.configuration.environment.variables.is_empty());
        let bare: Function = serde_json::from_str(r#"{"Configuration": null}"#).unwrap();
        assert_eq!(bare, Function::default());
    }

    fn response(status: u16, headers: &[(&str, &str)], body: &str) -> HttpResponse {
        let mut r = HttpResponse::new(
            StatusCode::try_from(status).unwrap(),
            SdkBody::from(body.to_owned()),
        );
        for (name, value) in headers {
            r.headers_mut().insert(name.to_string(), value.to_string());
        }
        r
    }

    #[test]
    fn an_error_answer_gives_its_code_from_the_header_and_its_message() {
        let body = r#"{"Type":"User","message":"Function not found: arn:aws:lambda:us-east-2:123456789012:function:w"}"#;
        let header = [(
            "x-amzn-ErrorType",
            "ResourceNotFoundException:http://internal.amazon.com/coral/com.amazonaws.awslambda/",
        )];
        let err = deserialize(&LAMBDA, &response(404, &header, body)).unwrap_err();
        let err = err.as_operation_error().expect("a Lambda error");
        assert_eq!(err.code(), Some("ResourceNotFoundException"));
        assert_eq!(
            err.to_string(),
            "ResourceNotFoundException: Function not found: arn:aws:lambda:us-east-2:123456789012:function:w"
        );
    }

    #[test]
    fn without_the_header_the_body_names_the_code() {
        let body = r#"{"__type":"com.amazonaws.lambda#AccessDeniedException","Message":"not authorized to perform: lambda:GetFunction"}"#;
        let err = deserialize(&LAMBDA, &response(403, &[], body)).unwrap_err();
        let err = err.as_operation_error().unwrap();
        assert_eq!(err.code(), Some("AccessDeniedException"));
        assert_eq!(
            err.message(),
            Some("not authorized to perform: lambda:GetFunction")
        );
        let err =
            deserialize(&LAMBDA, &response(502, &[], "<html>Bad Gateway</html>")).unwrap_err();
        assert_eq!(
            err.as_operation_error().unwrap().to_string(),
            "HTTP 502 and no error code or message from Lambda in its body"
        );
    }

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

    #[test]
    fn endpoints_follow_the_partition() {
        assert_eq!(
            regional_endpoint("eu-west-1"),
            "https://lambda.eu-west-1.amazonaws.com"
        );
        assert_eq!(
            regional_endpoint("cn-north-1"),
            "https://lambda.cn-north-1.amazonaws.com.cn"
        );
        assert_eq!(
            regional_endpoint("us-isob-east-1"),
            "https://lambda.us-isob-east-1.sc2s.sgov.gov"
        );
    }
}
