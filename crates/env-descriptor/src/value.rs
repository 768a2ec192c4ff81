//! The values a descriptor holds, each a type whose one constructor is its rule.
//!
//! Parsing a value is validating it: [`FromStr`] (and `TryFrom<String>`) returns either the value
//! or the reason it is rejected, phrased as "what it is; what is allowed". The loader's read
//! (`stage.rs`'s `Checked`) applies it to every value through `FromStr`, and serde builds the
//! public model through `TryFrom<String>`, so a key's rule lives here and nowhere else.
//! Rules that need another key (an ARN's partition comes from `aws.region`, a role name's length
//! from `role.stack_name`) take it as an argument of `parse_in`.

use std::fmt;
use std::ops::Deref;
use std::str::FromStr;

use crate::arn;

/// A value type's rule: `Ok` for a text it accepts, else what is wrong and what is allowed.
pub(crate) type Rule = fn(&str) -> Result<(), String>;

/// The rule of the value type named `format` (which its schema gives as `format`), for the test
/// that each schema pattern agrees with its rule.
#[cfg(test)]
pub(crate) fn rule(format: &str) -> Option<Rule> {
    macro_rules! rules {
        ($($name:ident),* $(,)?) => {
            [$((stringify!($name), $name::RULE)),*]
        };
    }
    let rules = rules![
        Region,
        ProfileName,
        EndpointUrl,
        AccountId,
        PrincipalArn,
        Namespace,
        Address,
        ConfigPath,
        EnvVarName,
        StackName,
        RoleName,
        RoleNaming,
        ExternalId,
        LambdaArn,
        Label,
        DeploymentName,
        BuildId,
        JsonText,
        Timestamp,
        RegisteredId,
        RoleArn,
        SessionName,
        StsExternalId,
        TagKey,
        TagValue,
        StackSetName,
        PermissionModel,
        OrganizationalUnitId,
        CallAs,
        ConcurrencyMode,
    ];
    rules
        .into_iter()
        .find(|(name, _)| *name == format)
        .map(|(_, rule)| rule)
}

/// The rule every value type starts with: no control character (but line feed, carriage return
/// and tab, which multi-line JSON may hold), bidi control or invisible character
/// ([`safe_text::is_hidden`]), which could show a value other than it is, to a reviewer or on a
/// terminal.
fn visible(s: &str) -> Result<(), String> {
    match s
        .char_indices()
        .find(|&(_, c)| c != '\r' && safe_text::is_hidden(c))
    {
        None => Ok(()),
        Some((at, c)) => Err(format!(
            "`{}` holds `{}` (character {}), a control, bidi or invisible character; allowed: visible characters only",
            safe_text::excerpt(s),
            safe_text::inline(&c.to_string()),
            s[..at].chars().count() + 1
        )),
    }
}

/// A string newtype whose `FromStr` applies `$rule: fn(&str) -> Result<(), String>`, and whose
/// JSON Schema (for editors) is a string with the keywords in parentheses and its name as `format`, next to the rule they
/// describe.
macro_rules! rule_newtype {
    ($(#[$doc:meta])* $name:ident ($($schema:tt)*) = $rule:expr;) => {
        $(#[$doc])*
        #[derive(
            Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
        )]
        #[serde(try_from = "String", into = "String")]
        pub struct $name(String);

        impl $name {
            /// The rule: `Ok` for a text this type accepts, else what is wrong and allowed. No
            /// value holds a character a terminal or a review would not show as it is.
            pub(crate) const RULE: Rule = |s| {
                visible(s)?;
                let rule: Rule = $rule;
                rule(s)
            };

            pub fn as_str(&self) -> &str {
                &self.0
            }

            pub fn into_string(self) -> String {
                self.0
            }
        }

        impl FromStr for $name {
            type Err = String;

            fn from_str(s: &str) -> Result<Self, String> {
                Self::RULE(s).map(|()| Self(s.to_owned()))
            }
        }

        impl TryFrom<String> for $name {
            type Error = String;

            fn try_from(s: String) -> Result<Self, String> {
                Self::RULE(&s).map(|()| Self(s))
            }
        }

        impl schemars::JsonSchema for $name {
            fn inline_schema() -> bool {
                true
            }

            fn schema_name() -> std::borrow::Cow<'static, str> {
                stringify!($name).into()
            }

            fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
                schemars::json_schema!({ "type": "string", "format": stringify!($name), $($schema)* })
            }
        }

        impl From<$name> for String {
            fn from(value: $name) -> String {
                value.0
            }
        }

        impl Deref for $name {
            type Target = str;

            fn deref(&self) -> &str {
                &self.0
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl PartialEq<str> for $name {
            fn eq(&self, other: &str) -> bool {
                self.0 == other
            }
        }

        impl PartialEq<&str> for $name {
            fn eq(&self, other: &&str) -> bool {
                self.0 == *other
            }
        }

        impl PartialEq<$name> for str {
            fn eq(&self, other: &$name) -> bool {
                self == other.0
            }
        }

        impl PartialEq<$name> for &str {
            fn eq(&self, other: &$name) -> bool {
                *self == other.0
            }
        }

        impl PartialEq<$name> for String {
            fn eq(&self, other: &$name) -> bool {
                *self == other.0
            }
        }

        impl PartialEq<String> for $name {
            fn eq(&self, other: &String) -> bool {
                self.0 == *other
            }
        }
    };
}

rule_newtype! {
    /// `aws.region`: a region code such as `us-west-2`, which names its partition.
    Region ("pattern": format!("^{REGION_PATTERN}$")) = |r| match arn::partition_of_region(r) {
        Some(_) => Ok(()),
        None => Err(format!(
            "`{}` is not an AWS region; allowed: a region code such as `us-west-2`",
            r.escape_debug()
        )),
    };
}

impl Region {
    /// The partition of the region (`aws`, `aws-cn`, `aws-us-gov`, ...).
    pub fn partition(&self) -> &'static str {
        arn::partition_of_region(&self.0).expect("a Region was checked for its shape")
    }
}

rule_newtype! {
    /// `aws.profile`: a named profile from ~/.aws/config.
    ProfileName ("minLength": 1) = |p| {
        if p.is_empty() {
            Err("is empty; allowed: a profile name from ~/.aws/config, or leave the key out".into())
        } else {
            Ok(())
        }
    };
}

rule_newtype! {
    /// `aws.endpoint_url`: an AWS emulator on this machine, `http://HOST:PORT` or
    /// `https://HOST[:PORT]` where HOST is loopback. Every signed request carries the caller's
    /// session token, and a descriptor may come from a pull request: so a descriptor never
    /// sends them to another machine. An endpoint elsewhere (a VPC endpoint, a shared emulator)
    /// is the caller's to set: `AWS_ENDPOINT_URL` or the AWS config file.
    EndpointUrl ("pattern": r"^https?://\S+$") = |u| {
        let rest = u.strip_prefix("http://").or_else(|| u.strip_prefix("https://"));
        if rest.is_none_or(|r| r.is_empty() || r.contains(char::is_whitespace)) {
            Err(format!(
                "`{}` is not a URL; allowed: `http://HOST:PORT` or `https://HOST[:PORT]`",
                u.escape_debug()
            ))
        } else if !local_endpoint::is_local(u) {
            Err(format!(
                "`{}` is not on this machine; allowed: an emulator on loopback, e.g. \
                 `http://127.0.0.1:5050`. A descriptor never sends credentials elsewhere: set \
                 AWS_ENDPOINT_URL (or `endpoint_url` in the AWS config file) for another endpoint",
                u.escape_debug()
            ))
        } else {
            Ok(())
        }
    };
}

rule_newtype! {
    /// `aws.account_id`: twelve digits.
    AccountId ("pattern": r"^[0-9]{12}$") = |a| {
        if arn::is_account(a) {
            Ok(())
        } else {
            Err(format!(
                "`{}` is not an AWS account id; allowed: 12 digits",
                a.escape_debug()
            ))
        }
    };
}

rule_newtype! {
    /// `temporal.server_role_arn`: the IAM role or user the Temporal server runs as.
    PrincipalArn ("pattern": iam_arn_pattern("role|user")) = |a| arn::check_principal_arn(a, None).map(drop);
}

impl PrincipalArn {
    /// The ARN, which must also be in `partition` (that of `aws.region`, when it is valid).
    pub fn parse_in(s: &str, partition: Option<&str>) -> Result<Self, String> {
        arn::check_principal_arn(s, partition).map(|_| Self(s.to_owned()))
    }
}

rule_newtype! {
    /// A Temporal namespace name: 1 to 255 characters of letters, digits, `.`, `_` and `-`,
    /// starting with a letter or digit.
    Namespace ("pattern": r"^[a-zA-Z0-9][a-zA-Z0-9._-]{0,254}$") = |s| {
        let ok = !s.is_empty()
            && s.len() <= 255
            && s.starts_with(|c: char| c.is_ascii_alphanumeric())
            && s.chars().all(|c| c.is_ascii_alphanumeric() || ".-_".contains(c));
        if ok {
            Ok(())
        } else {
            Err(format!(
                "`{}` is not a Temporal namespace name; allowed: 1 to 255 characters of letters, digits, `.`, `_`, `-`, starting with a letter or digit",
                s.escape_debug()
            ))
        }
    };
}

rule_newtype! {
    /// `temporal.address`: the frontend's `host:port`.
    Address ("pattern": r"^[^\s/]+:[0-9]{1,5}$") = |a| {
        let allowed = "allowed: `host:port`, e.g. `temporal.staging.internal:7233`";
        let Some((host, port)) = a.rsplit_once(':') else {
            return Err(format!("`{}` has no port; {allowed}", a.escape_debug()));
        };
        let host = host.trim_start_matches('[').trim_end_matches(']');
        if host.is_empty() || host.contains(|c: char| c.is_whitespace() || c == '/') {
            return Err(format!("`{}` has no valid host; {allowed}", a.escape_debug()));
        }
        match port.parse::<u16>() {
            Ok(p) if p > 0 => Ok(()),
            _ => Err(format!("`{}` has port `{port}`; {allowed}", a.escape_debug())),
        }
    };
}

rule_newtype! {
    /// `temporal.dynamic_config_file`, `temporal.helm_values`: a path, relative to the checkout.
    ConfigPath ("pattern": r"\S") = |f| {
        if f.trim().is_empty() {
            Err("is empty; allowed: the path of a file the server's dynamic config comes from, relative to the checkout".into())
        } else {
            Ok(())
        }
    };
}

/// The file is read relative to the checkout.
impl AsRef<std::path::Path> for ConfigPath {
    fn as_ref(&self) -> &std::path::Path {
        self.0.as_ref()
    }
}

rule_newtype! {
    /// `temporal.api_key_env`: the NAME of an environment variable, never the key itself; one
    /// meant for a Temporal API key (`TEMPORAL_API_KEY`, `TEMPORAL_<NAME>_API_KEY`), so that a
    /// descriptor can never have another secret of the process (`AWS_SECRET_ACCESS_KEY`,
    /// `GITHUB_TOKEN`, ...) sent to a frontend.
    EnvVarName ("pattern": r"^TEMPORAL_([A-Z0-9_]*_)?API_KEY$") = |v| {
        let ok = v
            .strip_prefix("TEMPORAL_")
            .and_then(|rest| rest.strip_suffix("API_KEY"))
            .is_some_and(|middle| {
                (middle.is_empty() || middle.ends_with('_'))
                    && middle.chars().all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_')
            });
        if ok {
            Ok(())
        } else {
            Err(format!(
                "`{}` is not allowed; allowed: the NAME of the variable that holds the Temporal API key, `TEMPORAL_API_KEY` or `TEMPORAL_<NAME>_API_KEY` (letters, digits and `_`; never the key itself, nor another secret's variable)",
                v.escape_debug()
            ))
        }
    };
}

rule_newtype! {
    /// `role.stack_name`: a CloudFormation stack name.
    StackName ("pattern": r"^[a-zA-Z][a-zA-Z0-9-]{0,127}$") = |s| {
        let ok = s.len() <= 128
            && s.starts_with(|c: char| c.is_ascii_alphabetic())
            && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '-');
        if ok {
            Ok(())
        } else {
            Err(format!(
                "`{s}` is not a stack name; allowed: a letter, then letters, digits and `-`, at most 128 characters"
            ))
        }
    };
}

rule_newtype! {
    /// `role.name` (`RoleName`): an IAM role name; the per-stack template suffixes it with the
    /// stack's name.
    RoleName ("pattern": r"^[a-zA-Z0-9_+=,.@-]{1,64}$") = |name| {
        if arn::is_iam_name(name, 64) {
            Ok(())
        } else {
            Err(format!(
                "`{name}` is not an IAM role name; allowed: 1 to 64 characters of [a-zA-Z0-9_+=,.@-]"
            ))
        }
    };
}

impl RoleName {
    /// `name` as the role's name in `naming`: exactly `name` ([`Naming::Fixed`]), or
    /// `NAME-STACK_NAME` ([`Naming::PerStack`], `${RoleName}-${AWS::StackName}`); IAM caps role
    /// names at 64 characters.
    pub fn parse_in(name: &str, stack_name: &str, naming: Naming) -> Result<Self, String> {
        let role = name.parse::<Self>()?;
        let full = naming.role_name(name, stack_name);
        if full.len() > 64 {
            return Err(format!(
                "the role would be named `{full}` ({} characters, `NAME-STACK_NAME` as `role.naming = \"per-stack\"` names it), but IAM allows at most 64; \
                 shorten `role.name` or `role.stack_name`, or move to `role.naming = \"fixed\"` (the role is then named exactly `role.name`; see docs/template.md)",
                full.len()
            ));
        }
        Ok(role)
    }
}

rule_newtype! {
    /// `role.naming`: how the template names the role, [`Naming`] as written.
    RoleNaming ("enum": [Naming::FIXED, Naming::PER_STACK]) = |s| {
        if s == Naming::FIXED || s == Naming::PER_STACK {
            Ok(())
        } else {
            Err(format!(
                "`{}` is not a role naming; allowed: `{}` (the role is named exactly `role.name`) or `{}` (`NAME-STACK_NAME`, the guide's template before July 2026)",
                s.escape_debug(), Naming::FIXED, Naming::PER_STACK
            ))
        }
    };
}

impl RoleNaming {
    pub fn naming(&self) -> Naming {
        if self.as_str() == Naming::PER_STACK {
            Naming::PerStack
        } else {
            Naming::Fixed
        }
    }
}

/// How the invocation role is named: which of the two templates a stack is deployed from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Naming {
    /// `RoleName: !Ref RoleName`: exactly `role.name`, the guide's template since
    /// temporalio/documentation PR #4876 (2026-07-13). Unique in the account, so one stack of a
    /// name per account.
    Fixed,
    /// `RoleName: !Sub '${RoleName}-${AWS::StackName}'`: the guide's template before, which
    /// stacks deployed with it keep until their owner moves them.
    PerStack,
}

impl Naming {
    pub const FIXED: &'static str = "fixed";
    pub const PER_STACK: &'static str = "per-stack";

    /// As written in `role.naming`.
    pub fn as_str(self) -> &'static str {
        match self {
            Naming::Fixed => Self::FIXED,
            Naming::PerStack => Self::PER_STACK,
        }
    }

    /// The IAM role name the template gives role `name` in stack `stack`.
    pub fn role_name(self, name: &str, stack: &str) -> String {
        match self {
            Naming::Fixed => name.to_owned(),
            Naming::PerStack => format!("{name}-{stack}"),
        }
    }

    /// The naming of a role: `role.naming` when set; else the form of the role `[outputs]`
    /// records (`recorded`, its ARN), so that a deployed stack keeps its role; else
    /// [`Naming::PerStack`], so that a descriptor written before `role.naming` existed never
    /// replaces a role it may have deployed (`init` writes `naming = "fixed"`).
    pub fn resolve(explicit: Option<&str>, recorded: Option<&str>, name: &str) -> Naming {
        match explicit {
            Some(Self::FIXED) => return Naming::Fixed,
            Some(Self::PER_STACK) => return Naming::PerStack,
            _ => {}
        }
        let recorded_name = recorded.and_then(|arn| arn.rsplit_once(":role/").map(|(_, n)| n));
        match recorded_name {
            Some(n) if n == name => Naming::Fixed,
            _ => Naming::PerStack,
        }
    }
}

rule_newtype! {
    /// `role.external_id` (`AssumeRoleExternalId`): 5 to 45 characters of
    /// [`crate::EXTERNAL_ID_CHARSET`].
    ExternalId ("pattern": external_id_pattern()) = |id| {
        let charset = crate::EXTERNAL_ID_CHARSET;
        if let Some(bad) = id.chars().find(|c| !crate::external_id_char(*c)) {
            return Err(format!(
                "contains `{}`; allowed: 5 to 45 characters of [{charset}]",
                bad.escape_debug()
            ));
        }
        let len = id.chars().count();
        if !crate::EXTERNAL_ID_LEN.contains(&len) {
            return Err(format!(
                "is {len} characters long; allowed: 5 to 45 characters of [{charset}]"
            ));
        }
        Ok(())
    };
}

rule_newtype! {
    /// `aws.session_name`: the session name of the role `aws.role_arn` names (STS
    /// `RoleSessionName`): 2 to 64 characters of [a-zA-Z0-9_+=,.@-].
    SessionName ("pattern": r"^[a-zA-Z0-9_+=,.@-]{2,64}$") = |s| {
        let ok = (2..=64).contains(&s.chars().count())
            && s.chars().all(|c| c.is_ascii_alphanumeric() || "_+=,.@-".contains(c));
        if ok {
            Ok(())
        } else {
            Err(format!(
                "`{}` is not a role session name; allowed: 2 to 64 characters of [a-zA-Z0-9_+=,.@-]",
                s.escape_debug()
            ))
        }
    };
}

rule_newtype! {
    /// `aws.external_id`: the external ID the trust policy of `aws.role_arn` requires (STS
    /// `ExternalId`): 2 to 1224 characters of [a-zA-Z0-9_+=,.@:/-].
    StsExternalId ("pattern": r"^[a-zA-Z0-9_+=,.@:/-]{2,1224}$") = |s| {
        let ok = (2..=1224).contains(&s.chars().count())
            && s.chars().all(|c| c.is_ascii_alphanumeric() || "_+=,.@:/-".contains(c));
        if ok {
            Ok(())
        } else {
            Err(format!(
                "`{}` is not an STS external ID; allowed: 2 to 1224 characters of [a-zA-Z0-9_+=,.@:/-]",
                s.escape_debug()
            ))
        }
    };
}

rule_newtype! {
    /// A Lambda function ARN, qualified with a version, alias or `*`, or unqualified.
    LambdaArn ("pattern": lambda_arn_pattern()) = |a| arn::check_lambda_arn(a, None).map(drop);
}

impl LambdaArn {
    /// The ARN, which must also be in `partition` (that of `aws.region`, when it is valid).
    pub fn parse_in(s: &str, partition: Option<&str>) -> Result<Self, String> {
        arn::check_lambda_arn(s, partition).map(|_| Self(s.to_owned()))
    }
}

rule_newtype! {
    /// `deploy.cloudformation_role_arn`: an IAM role CloudFormation assumes to run the stack's
    /// operations (a service role), so that the deployer itself needs few permissions.
    RoleArn ("pattern": iam_arn_pattern("role")) = |a| arn::check_role_arn(a, None).map(drop);
}

impl RoleArn {
    /// The ARN, which must also be in `partition` (that of `aws.region`, when it is valid).
    pub fn parse_in(s: &str, partition: Option<&str>) -> Result<Self, String> {
        arn::check_role_arn(s, partition).map(|_| Self(s.to_owned()))
    }
}

rule_newtype! {
    /// `stack_set.name`: a CloudFormation StackSet name.
    StackSetName ("pattern": r"^[a-zA-Z][a-zA-Z0-9-]{0,127}$") = |s| {
        let ok = s.len() <= 128
            && s.starts_with(|c: char| c.is_ascii_alphabetic())
            && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '-');
        if ok {
            Ok(())
        } else {
            Err(format!(
                "`{}` is not a StackSet name; allowed: a letter, then letters, digits and `-`, at most 128 characters",
                s.escape_debug()
            ))
        }
    };
}

/// Names written in the descriptor for closed choices, each a [`rule_newtype!`] whose rule
/// accepts exactly `$names`, and the error naming them all.
fn one_of(s: &str, what: &str, names: &[&str]) -> Result<(), String> {
    if names.contains(&s) {
        Ok(())
    } else {
        let allowed = names
            .iter()
            .map(|n| format!("`{n}`"))
            .collect::<Vec<_>>()
            .join(" or ");
        Err(format!(
            "`{}` is not {what}; allowed: {allowed}",
            s.escape_debug()
        ))
    }
}

rule_newtype! {
    /// `stack_set.permission_model`: `service-managed` (AWS Organizations: targets are OUs,
    /// CloudFormation makes the roles it needs) or `self-managed` (targets are accounts, each
    /// with `AWSCloudFormationStackSetExecutionRole`).
    PermissionModel ("enum": [PermissionModel::SERVICE_MANAGED, PermissionModel::SELF_MANAGED]) = |s| {
        one_of(s, "a permission model", &[PermissionModel::SERVICE_MANAGED, PermissionModel::SELF_MANAGED])
    };
}

impl PermissionModel {
    pub const SERVICE_MANAGED: &'static str = "service-managed";
    pub const SELF_MANAGED: &'static str = "self-managed";

    /// Whether AWS Organizations places the instances (targets are OUs).
    pub fn is_service_managed(&self) -> bool {
        self.as_str() == Self::SERVICE_MANAGED
    }
}

rule_newtype! {
    /// An entry of `stack_set.organizational_units`: an organizational unit ID
    /// (`ou-xxxx-xxxxxxxx`) or the organization's root (`r-xxxx`), as CloudFormation takes them.
    OrganizationalUnitId ("pattern": r"^(ou-[a-z0-9]{4,32}-[a-z0-9]{8,32}|r-[a-z0-9]{4,32})$") = |s| {
        let part = |p: &str, min: usize| {
            (min..=32).contains(&p.len())
                && p.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
        };
        let ok = match s.strip_prefix("ou-") {
            Some(rest) => rest
                .split_once('-')
                .is_some_and(|(root, ou)| part(root, 4) && part(ou, 8)),
            None => s.strip_prefix("r-").is_some_and(|root| part(root, 4)),
        };
        if ok {
            Ok(())
        } else {
            Err(format!(
                "`{}` is not an organizational unit ID; allowed: `ou-` then 4 to 32 and 8 to 32 lowercase letters or digits joined by `-` (e.g. `ou-abcd-12345678`), or a root `r-` then 4 to 32 (e.g. `r-abcd`)",
                s.escape_debug()
            ))
        }
    };
}

rule_newtype! {
    /// `stack_set.call_as`: whom the StackSet calls are made as: `self` (the management
    /// account, or the account of a self-managed StackSet) or `delegated-admin` (a delegated
    /// administrator of the organization; service-managed only).
    CallAs ("enum": [CallAs::SELF, CallAs::DELEGATED_ADMIN]) = |s| {
        one_of(s, "a caller", &[CallAs::SELF, CallAs::DELEGATED_ADMIN])
    };
}

impl CallAs {
    pub const SELF: &'static str = "self";
    pub const DELEGATED_ADMIN: &'static str = "delegated-admin";

    pub fn is_delegated_admin(&self) -> bool {
        self.as_str() == Self::DELEGATED_ADMIN
    }
}

rule_newtype! {
    /// `stack_set.concurrency_mode`: how failures count against the failure tolerance while
    /// instances deploy: `strict-failure-tolerance` (AWS's default: concurrency drops as
    /// failures come) or `soft-failure-tolerance` (concurrency stays; the tolerance still
    /// stops the operation).
    ConcurrencyMode ("enum": [ConcurrencyMode::STRICT, ConcurrencyMode::SOFT]) = |s| {
        one_of(s, "a concurrency mode", &[ConcurrencyMode::STRICT, ConcurrencyMode::SOFT])
    };
}

impl ConcurrencyMode {
    pub const STRICT: &'static str = "strict-failure-tolerance";
    pub const SOFT: &'static str = "soft-failure-tolerance";
}

/// The characters AWS allows in tag keys and values: letters, digits and spaces in any script,
/// and `_ . : / = + - @`.
fn is_tag_text(s: &str) -> bool {
    s.chars()
        .all(|c| c.is_alphanumeric() || c == ' ' || "_.:/=+-@".contains(c))
}

rule_newtype! {
    /// A key of `deploy.tags`: 1 to 128 characters AWS allows in tags, not starting with `aws:`
    /// (AWS reserves that prefix).
    TagKey ("minLength": 1, "maxLength": 128) = |k| {
        const ALLOWED: &str = "allowed: 1 to 128 letters, digits, spaces and `_ . : / = + - @`, not starting with `aws:`";
        if k.get(..4).is_some_and(|p| p.eq_ignore_ascii_case("aws:")) {
            Err(format!("`{}` starts with `aws:`, which AWS reserves; {ALLOWED}", k.escape_debug()))
        } else if k.is_empty() || k.chars().count() > 128 || !is_tag_text(k) {
            Err(format!("`{}` is not a tag key AWS accepts; {ALLOWED}", k.escape_debug()))
        } else {
            Ok(())
        }
    };
}

rule_newtype! {
    /// A value of `deploy.tags`: up to 256 characters AWS allows in tags.
    TagValue ("maxLength": 256) = |v| {
        if v.chars().count() > 256 || !is_tag_text(v) {
            Err(format!(
                "`{}` is not a tag value AWS accepts; allowed: up to 256 letters, digits, spaces and `_ . : / = + - @`",
                v.escape_debug()
            ))
        } else {
            Ok(())
        }
    };
}

/// The longest Worker Deployment name or build ID the server takes, in bytes: half of what its
/// default `limit.maxIDLength` (1000) leaves beside the version workflow's ID prefix
/// (`temporal-sys-worker-deployment-version:`, 39 bytes).
pub const MAX_VERSION_FIELD_BYTES: usize = (1000 - 39) / 2;

/// What the server refuses in a Worker Deployment name (`what`, with `extra` the characters it
/// reserves) or build ID, beyond what a [`Label`] allows.
fn version_field(v: &str, what: &str, reserved: &[char]) -> Result<(), String> {
    Label::RULE(v)?;
    let shown = v.escape_debug();
    if v.len() > MAX_VERSION_FIELD_BYTES {
        return Err(format!(
            "is {} bytes; allowed: at most {MAX_VERSION_FIELD_BYTES} bytes, the server's limit for a {what}",
            v.len()
        ));
    }
    if let Some(c) = v.chars().find(|c| reserved.contains(c)) {
        return Err(format!(
            "`{shown}` contains `{c}`, which the server reserves as a version delimiter; allowed: a {what} without `.` or `:`, e.g. `{}`",
            v.replace(['.', ':'], "-").escape_debug()
        ));
    }
    if v.starts_with("__") {
        return Err(format!(
            "`{shown}` starts with `__`, which the server reserves for its own names; allowed: a {what} that does not"
        ));
    }
    Ok(())
}

rule_newtype! {
    /// A Worker Deployment name: a [`Label`] without `.` or `:` (the server's version
    /// delimiters), not starting with `__`, of at most [`MAX_VERSION_FIELD_BYTES`] bytes.
    DeploymentName ("minLength": 1, "maxLength": 255, "pattern": "^[^.:]*$") = |v| {
        version_field(v, "Worker Deployment name", &['.', ':'])
    };
}

rule_newtype! {
    /// A build ID: a [`Label`] not starting with `__`, of at most [`MAX_VERSION_FIELD_BYTES`]
    /// bytes.
    BuildId ("minLength": 1, "maxLength": 255) = |v| {
        version_field(v, "build ID", &[])
    };
}

rule_newtype! {
    /// A Worker Deployment name or build ID: 1 to 255 printable characters.
    Label ("minLength": 1, "maxLength": 255) = |v| {
        if v.trim().is_empty() || v.len() > 255 || v.contains(char::is_control) {
            Err("must be 1 to 255 printable characters".into())
        } else {
            Ok(())
        }
    };
}

rule_newtype! {
    /// A workflow's input as JSON text (`"smoke"`, `{"name": "x"}`), passed to the Temporal
    /// CLI's `--input` as it is written.
    JsonText () = |s| {
        serde_json::from_str::<serde_json::Value>(s).map(drop).map_err(|e| {
            format!(
                "`{}` is not JSON ({e}); allowed: one JSON value, e.g. `smoke_input = '\"smoke\"'`",
                s.escape_debug()
            )
        })
    };
}

rule_newtype! {
    /// An RFC 3339 date and time, as `deploy` records `deployed_at`:
    /// `YYYY-MM-DDTHH:MM:SS[.FRACTION](Z|±HH:MM)`.
    Timestamp () = |s| {
        if is_rfc3339(s) {
            Ok(())
        } else {
            Err(format!(
                "`{}` is not an RFC 3339 time; allowed: e.g. `2026-11-25T10:00:00Z`, as `{} deploy` records it",
                s.escape_debug(),
                safe_text::program()
            ))
        }
    };
}

rule_newtype! {
    /// An entry of `[outputs].registered`: `NAMESPACE/NAME@BUILD_ID`, as
    /// `WorkerDeployment::id` writes it.
    RegisteredId () = |s| {
        let ok = s.split_once('/').is_some_and(|(ns, rest)| {
            ns.parse::<Namespace>().is_ok()
                && rest
                    .split_once('@')
                    .is_some_and(|(name, build)| !name.is_empty() && !build.is_empty())
                && !rest.contains(char::is_control)
        });
        if ok {
            Ok(())
        } else {
            Err(format!(
                "`{}` is not `namespace/name@build_id`; allowed: the ID of a `[[worker_deployments]]` entry, as `{} register` records it",
                s.escape_debug(),
                safe_text::program()
            ))
        }
    };
}

fn is_rfc3339(s: &str) -> bool {
    let num = |at: usize, len: usize| {
        s.get(at..at + len)
            .filter(|d| d.bytes().all(|b| b.is_ascii_digit()))
            .and_then(|d| d.parse::<u32>().ok())
    };
    let sep = |at: usize, allowed: &[u8]| s.as_bytes().get(at).is_some_and(|b| allowed.contains(b));
    let (Some(year), Some(month), Some(day), Some(hour), Some(minute), Some(second)) = (
        num(0, 4),
        num(5, 2),
        num(8, 2),
        num(11, 2),
        num(14, 2),
        num(17, 2),
    ) else {
        return false;
    };
    let shape = sep(4, b"-") && sep(7, b"-") && sep(10, b"Tt ") && sep(13, b":") && sep(16, b":");
    let in_range = (1..=12).contains(&month)
        && (1..=days_in_month(year, month)).contains(&day)
        && hour < 24
        && minute < 60
        && second <= 60;
    let mut zone = &s[19..];
    if let Some(fraction) = zone.strip_prefix('.') {
        let digits = fraction.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 {
            return false;
        }
        zone = &fraction[digits..];
    }
    let offset = |z: &str| {
        z.len() == 6
            && (z.starts_with('+') || z.starts_with('-'))
            && z.as_bytes()[3] == b':'
            && z.get(1..3)
                .and_then(|h| h.parse::<u32>().ok())
                .is_some_and(|h| h < 24)
            && z.get(4..6)
                .and_then(|m| m.parse::<u32>().ok())
                .is_some_and(|m| m < 60)
    };
    shape && in_range && (zone == "Z" || zone == "z" || offset(zone))
}

fn days_in_month(year: u32, month: u32) -> u32 {
    match month {
        2 if year.is_multiple_of(4) && (!year.is_multiple_of(100) || year.is_multiple_of(400)) => {
            29
        }
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// The shape of a region code, for editors (the rule knows the partitions' regions).
const REGION_PATTERN: &str = r"[a-z]{2}(-[a-z]+)+-[0-9]{1,3}";
/// The shape of a partition name (`aws`, `aws-cn`, `aws-us-gov`, `aws-iso-b`, ...).
const PARTITION_PATTERN: &str = "aws(-[a-z]+)*";

/// An IAM ARN of one of `kinds` (`role|user`), with an optional path, as a pattern: what an
/// editor can check of [`arn::check_principal_arn`].
fn iam_arn_pattern(kinds: &str) -> String {
    format!(
        r"^arn:{PARTITION_PATTERN}:iam::[0-9]{{12}}:({kinds})/(\S*/)?[a-zA-Z0-9_+=,.@-]{{1,64}}$"
    )
}

/// A Lambda function ARN, qualified or not, as a pattern: what an editor can check of
/// [`arn::check_lambda_arn`].
fn lambda_arn_pattern() -> String {
    format!(
        r"^arn:{PARTITION_PATTERN}:lambda:{REGION_PATTERN}:[0-9]{{12}}:function:[a-zA-Z0-9_-]{{1,64}}(:([a-zA-Z0-9_-]{{1,128}}|\$LATEST|\*))?$"
    )
}

/// The template's rule for `AssumeRoleExternalId`, as a pattern.
fn external_id_pattern() -> String {
    let len = crate::EXTERNAL_ID_LEN;
    let charset = crate::EXTERNAL_ID_CHARSET;
    format!("^[{charset}]{{{},{}}}$", len.start(), len.end())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_times() {
        for good in [
            "2026-11-25T10:00:00Z",
            "2026-11-25T10:00:00.123456Z",
            "2024-02-29t23:59:60+01:00",
            "2026-11-25 10:00:00-05:30",
        ] {
            assert!(good.parse::<Timestamp>().is_ok(), "{good}");
        }
        for bad in [
            "yesterday",
            "",
            "2026-11-25",
            "2026-11-25T10:00:00",
            "2026-13-25T10:00:00Z",
            "2025-02-29T10:00:00Z",
            "2026-11-25T24:00:00Z",
            "2026-11-25T10:00:00.Z",
            "2026-11-25T10:00:00+0100",
            "2026-11-25T10:00:00+é:00",
            "2026-11-25T10:00:00Zjunk",
        ] {
            assert!(bad.parse::<Timestamp>().is_err(), "{bad}");
        }
    }

    #[test]
    fn registered_ids() {
        for good in ["orders/orders-worker@2026-11-24.1", "a/b@c@d"] {
            assert!(good.parse::<RegisteredId>().is_ok(), "{good}");
        }
        for bad in [
            "orders-worker",
            "orders/w",
            "orders/@1",
            "orders/w@",
            "bad ns/w@1",
            "/w@1",
        ] {
            assert!(bad.parse::<RegisteredId>().is_err(), "{bad}");
        }
    }

    #[test]
    fn names() {
        assert!(
            "temporal-serverless-worker-staging"
                .parse::<StackName>()
                .is_ok()
        );
        assert!("1abc".parse::<StackName>().is_err());
        assert!("a_b".parse::<StackName>().is_err());
        assert!(
            RoleName::parse_in(
                "Temporal-Serverless-Worker",
                "temporal-serverless-worker-staging",
                Naming::PerStack
            )
            .is_ok()
        );
        assert!(
            RoleName::parse_in(
                "Temporal-Serverless-Worker",
                &"s".repeat(40),
                Naming::PerStack
            )
            .unwrap_err()
            .contains("at most 64")
        );
        // Named exactly `role.name`, the stack's name does not count.
        assert!(
            RoleName::parse_in("Temporal-Serverless-Worker", &"s".repeat(40), Naming::Fixed)
                .is_ok()
        );
        assert!("r".repeat(65).parse::<RoleName>().is_err());
        assert!("r".repeat(64).parse::<RoleName>().is_ok());
        assert!("fixed".parse::<RoleNaming>().is_ok());
        assert!("per-stack".parse::<RoleNaming>().is_ok());
        assert!("Fixed".parse::<RoleNaming>().is_err());
        let old = "arn:aws:iam::123456789012:role/R-s";
        let new = "arn:aws:iam::123456789012:role/R";
        assert_eq!(Naming::resolve(None, Some(old), "R"), Naming::PerStack);
        assert_eq!(Naming::resolve(None, Some(new), "R"), Naming::Fixed);
        assert_eq!(Naming::resolve(None, None, "R"), Naming::PerStack);
        assert_eq!(
            Naming::resolve(Some("fixed"), Some(old), "R"),
            Naming::Fixed
        );
        assert!("orders".parse::<Namespace>().is_ok());
        assert!("my.ns-1_x".parse::<Namespace>().is_ok());
        for bad in ["", "-x", "a b", "a:b", "ä"] {
            assert!(bad.parse::<Namespace>().is_err(), "{bad}");
        }
    }

    /// No value type takes a control, bidi or invisible character, wherever it is in the value.
    #[test]
    fn no_value_holds_a_hidden_character() {
        let valid = [
            ("Region", "us-east-1"),
            ("ProfileName", "ci"),
            ("EndpointUrl", "http://127.0.0.1:5050"),
            ("AccountId", "123456789012"),
            ("PrincipalArn", "arn:aws:iam::123456789012:role/ci"),
            ("Namespace", "orders"),
            ("Address", "temporal.internal:7233"),
            ("ConfigPath", "server/dynamicconfig.yaml"),
            ("EnvVarName", "TEMPORAL_API_KEY"),
            ("StackName", "role-stack"),
            ("RoleName", "Worker"),
            ("ExternalId", "external-id"),
            (
                "LambdaArn",
                "arn:aws:lambda:us-east-1:123456789012:function:worker",
            ),
            ("Label", "orders-worker"),
            ("JsonText", "\"smoke\""),
            ("Timestamp", "2026-11-25T10:00:00Z"),
            ("RegisteredId", "orders/worker@build-1"),
            ("RoleArn", "arn:aws:iam::123456789012:role/deployer"),
            ("TagKey", "team"),
            ("TagValue", "payments"),
        ];
        for (format, good) in valid {
            let rule = rule(format).unwrap_or_else(|| panic!("no rule {format}"));
            assert_eq!(rule(good), Ok(()), "{format}");
            for hidden in [
                "\u{1b}]0;t\u{7}",
                "\u{202e}",
                "\u{200b}",
                "\u{9b}",
                "\u{7f}",
                "\u{feff}",
                "\u{2066}",
                "\u{e0041}",
            ] {
                for bad in [format!("{hidden}{good}"), format!("{good}{hidden}")] {
                    let err = rule(&bad).expect_err(&format!("{format} {bad:?}"));
                    assert!(!err.chars().any(safe_text::is_hidden), "{format}: {err:?}");
                }
            }
        }
        assert_eq!(rule("JsonText").unwrap()("{\r\n\t\"a\": 1\n}"), Ok(()));
        assert_eq!(
            "a\u{202e}b".parse::<Label>().unwrap_err(),
            "`a\\u{202e}b` holds `\\u{202e}` (character 2), a control, bidi or invisible character; allowed: visible characters only"
        );
    }

    /// The pattern an editor checks a value by (the schema's) agrees with the value's rule on
    /// examples either way: an editor never flags a valid value, and flags what is plainly not
    /// of the type (a `server_role_arn` that is not an ARN).
    #[test]
    fn each_schema_pattern_agrees_with_its_rule() {
        use schemars::JsonSchema;
        fn agrees<T: JsonSchema + FromStr>(good: &[&str], bad: &[&str]) {
            let schema = T::json_schema(&mut schemars::SchemaGenerator::default());
            let name = T::schema_name();
            let pattern = schema
                .get("pattern")
                .and_then(|p| p.as_str())
                .unwrap_or_else(|| panic!("{name} gives editors no pattern"));
            let re = regex_lite::Regex::new(pattern).unwrap();
            for text in good {
                assert!(text.parse::<T>().is_ok(), "{name}: {text}");
                assert!(re.is_match(text), "{name}: pattern rejects `{text}`");
            }
            for text in bad {
                assert!(text.parse::<T>().is_err(), "{name}: {text}");
                assert!(!re.is_match(text), "{name}: pattern accepts `{text}`");
            }
        }
        agrees::<PrincipalArn>(
            &[
                "arn:aws:iam::123456789012:role/temporal-server",
                "arn:aws-us-gov:iam::123456789012:user/ops/temporal",
                "arn:aws-iso-b:iam::123456789012:role/a/b/c@x",
            ],
            &[
                "temporal-server",
                "arn:aws:iam::123456789012:group/admins",
                "arn:aws:iam::12345:role/x",
                "arn:aws:sts::123456789012:assumed-role/x/session",
                "arn:aws:s3:::bucket",
            ],
        );
        agrees::<RoleArn>(
            &["arn:aws:iam::123456789012:role/cfn-service"],
            &["cfn-service", "arn:aws:iam::123456789012:user/deployer"],
        );
        agrees::<LambdaArn>(
            &[
                "arn:aws:lambda:us-east-1:123456789012:function:worker",
                "arn:aws-cn:lambda:cn-north-1:123456789012:function:my_fn-2:*",
                "arn:aws:lambda:eu-west-1:123456789012:function:worker:$LATEST",
                "arn:aws:lambda:eu-west-1:123456789012:function:worker:7",
            ],
            &[
                "worker",
                "arn:aws:lambda:us-east-1:123456789012:layer:x",
                "arn:aws:lambda:us-east-1:1234:function:worker",
                "arn:aws:lambda:us-east-1:123456789012:function:a.b",
                "arn:aws:lambda:us-east-1:123456789012:function:worker:1:2",
            ],
        );
        agrees::<OrganizationalUnitId>(
            &[
                "ou-abcd-12345678",
                "ou-a1b2-c3d4e5f6g7",
                "r-abcd",
                "r-0123456789abcdef0123456789abcdef",
            ],
            &[
                "ou-abc-12345678",
                "ou-abcd-1234567",
                "OU-abcd-12345678",
                "ou-ABCD-12345678",
                "ou-abcd-12345678-",
                "r-abc",
                "123456789012",
                "ou-abcd_12345678",
            ],
        );
        agrees::<StackSetName>(
            &["temporal-invocation-role", "R"],
            &["1role", "role_name", &"r".repeat(129)],
        );
    }

    /// A value is its string: it compares, derefs and prints as the text it was parsed from.
    #[test]
    fn a_value_is_its_text() {
        let region: Region = "us-gov-west-1".parse().unwrap();
        assert_eq!(region, "us-gov-west-1");
        assert_eq!(region.partition(), "aws-us-gov");
        assert_eq!(region.to_string(), "us-gov-west-1");
        assert!(region.starts_with("us-"));
        assert_eq!(
            Region::try_from("mars".to_owned()).unwrap_err(),
            "`mars` is not an AWS region; allowed: a region code such as `us-west-2`"
        );
    }
}
