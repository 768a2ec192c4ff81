//! Shapes of the ARNs and names a descriptor holds. Each check returns the reason a value is
//! rejected, phrased as "what it is; what is allowed".

/// The parts of `arn:PARTITION:SERVICE:REGION:ACCOUNT:RESOURCE`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Arn<'a> {
    pub partition: &'a str,
    pub service: &'a str,
    pub region: &'a str,
    pub account: &'a str,
    pub resource: &'a str,
}

impl<'a> Arn<'a> {
    /// Splits an ARN into its parts; the resource may itself contain `:`.
    pub fn parse(s: &'a str) -> Option<Self> {
        let mut it = s.splitn(6, ':');
        if it.next()? != "arn" {
            return None;
        }
        Some(Arn {
            partition: it.next()?,
            service: it.next()?,
            region: it.next()?,
            account: it.next()?,
            resource: it.next()?,
        })
    }
}

/// The AWS partition a region belongs to, or `None` when `region` is not shaped like a region
/// code (`us-west-2`, `eu-central-1`, `us-gov-west-1`, `cn-north-1`, ...).
pub fn partition_of_region(region: &str) -> Option<&'static str> {
    let parts: Vec<&str> = region.split('-').collect();
    let shaped = parts.len() >= 3
        && parts[0].len() == 2
        && parts[0].bytes().all(|b| b.is_ascii_lowercase())
        && parts[parts.len() - 1].parse::<u8>().is_ok()
        && parts[1..parts.len() - 1]
            .iter()
            .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_lowercase()));
    if !shaped {
        return None;
    }
    Some(match (parts[0], parts[1]) {
        ("cn", _) => "aws-cn",
        ("us", "gov") => "aws-us-gov",
        ("us", "iso") => "aws-iso",
        ("us", "isob") => "aws-iso-b",
        ("eu", "isoe") => "aws-iso-e",
        ("us", "isof") => "aws-iso-f",
        _ => "aws",
    })
}

pub(crate) fn is_account(s: &str) -> bool {
    s.len() == 12 && s.bytes().all(|b| b.is_ascii_digit())
}

/// Characters IAM allows in user and role names (`[\w+=,.@-]`).
pub(crate) fn is_iam_name(s: &str, max: usize) -> bool {
    !s.is_empty()
        && s.len() <= max
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "_+=,.@-".contains(c))
}

/// The IAM principal behind a caller ARN: the role of an assumed-role session
/// (`arn:P:sts::A:assumed-role/NAME/SESSION` gives `arn:P:iam::A:role/NAME`), the ARN itself for
/// an IAM user or role, `None` for anything else.
pub fn principal_of(caller: &str) -> Option<String> {
    let arn = Arn::parse(caller)?;
    match (
        arn.service,
        arn.resource.split('/').collect::<Vec<_>>().as_slice(),
    ) {
        ("sts", ["assumed-role", name, ..]) => Some(format!(
            "arn:{}:iam::{}:role/{name}",
            arn.partition, arn.account
        )),
        ("iam", [kind, ..]) if *kind == "role" || *kind == "user" => Some(caller.to_owned()),
        _ => None,
    }
}

/// Checks the identity the Temporal server runs as: an IAM role or user ARN in `partition`
/// (`None` when `aws.region` is itself invalid: the ARN's own shape is still checked, so one bad
/// value never hides another). Returns the account id on success.
pub fn check_principal_arn<'a>(s: &'a str, partition: Option<&str>) -> Result<&'a str, String> {
    const ALLOWED: &str =
        "allowed: `arn:PARTITION:iam::ACCOUNT:role/NAME` or `arn:PARTITION:iam::ACCOUNT:user/NAME`";
    let Some(arn) = Arn::parse(s) else {
        return Err(format!("`{s}` is not an ARN; {ALLOWED}"));
    };
    if arn.service == "sts"
        && let Some(role) = principal_of(s)
    {
        return Err(format!(
            "`{s}` is an assumed-role session, which a trust policy cannot name; use the role itself, \
                 `{role}` (`{} whoami ENV` prints it)",
            safe_text::program()
        ));
    }
    if arn.service != "iam" {
        return Err(format!(
            "`{s}` is an ARN of service `{}`, not `iam`; {ALLOWED}",
            arn.service
        ));
    }
    if let Some(partition) = partition
        && arn.partition != partition
    {
        return Err(format!(
            "`{s}` is in partition `{}` but `aws.region` is in `{partition}`; {ALLOWED}",
            arn.partition
        ));
    }
    if !arn.region.is_empty() {
        return Err(format!(
            "`{s}` names a region, but IAM ARNs have none; {ALLOWED}"
        ));
    }
    if !is_account(arn.account) {
        return Err(format!(
            "`{s}` has account `{}`, which is not 12 digits; {ALLOWED}",
            arn.account
        ));
    }
    let (kind, path_and_name) = arn.resource.split_once('/').unwrap_or((arn.resource, ""));
    let name = path_and_name.rsplit('/').next().unwrap_or("");
    match kind {
        "role" if is_iam_name(name, 64) => Ok(arn.account),
        "user" if is_iam_name(name, 64) => Ok(arn.account),
        "role" | "user" => Err(format!(
            "`{s}` has {kind} name `{name}`; allowed: 1 to 64 characters of [a-zA-Z0-9_+=,.@-]"
        )),
        _ => Err(format!(
            "`{s}` names `{}`, not a role or user; {ALLOWED}",
            arn.resource
        )),
    }
}

/// Checks an IAM role ARN (a service role CloudFormation assumes) in `partition` (`None`:
/// any, when `aws.region` is itself invalid). Returns the account id on success.
pub fn check_role_arn<'a>(s: &'a str, partition: Option<&str>) -> Result<&'a str, String> {
    let account = check_principal_arn(s, partition)?;
    if Arn::parse(s).is_some_and(|a| a.resource.starts_with("user/")) {
        return Err(format!(
            "`{s}` is an IAM user, which CloudFormation cannot assume; allowed: `arn:PARTITION:iam::ACCOUNT:role/NAME`"
        ));
    }
    Ok(account)
}

/// A Lambda function ARN, checked for shape. Returns its region and account for the caller's
/// consistency checks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LambdaArn<'a> {
    pub region: &'a str,
    pub account: &'a str,
    pub function: &'a str,
}

/// Checks a Lambda function ARN (qualified with a version, alias or `*`, or unqualified) in
/// `partition` (`None`: any, when `aws.region` is itself invalid).
pub fn check_lambda_arn<'a>(s: &'a str, partition: Option<&str>) -> Result<LambdaArn<'a>, String> {
    const ALLOWED: &str =
        "allowed: `arn:PARTITION:lambda:REGION:ACCOUNT:function:NAME[:VERSION|ALIAS|*]`";
    let Some(arn) = Arn::parse(s) else {
        return Err(format!("`{s}` is not an ARN; {ALLOWED}"));
    };
    if arn.service != "lambda" {
        return Err(format!(
            "`{s}` is an ARN of service `{}`, not `lambda`; {ALLOWED}",
            arn.service
        ));
    }
    if let Some(partition) = partition
        && arn.partition != partition
    {
        return Err(format!(
            "`{s}` is in partition `{}` but `aws.region` is in `{partition}`; {ALLOWED}",
            arn.partition
        ));
    }
    if partition_of_region(arn.region).is_none() {
        return Err(format!(
            "`{s}` has region `{}`, which is not an AWS region; {ALLOWED}",
            arn.region
        ));
    }
    if !is_account(arn.account) {
        return Err(format!(
            "`{s}` has account `{}`, which is not 12 digits; {ALLOWED}",
            arn.account
        ));
    }
    let mut res = arn.resource.split(':');
    let (kind, name, qualifier, extra) = (res.next(), res.next(), res.next(), res.next());
    if kind != Some("function") || extra.is_some() {
        return Err(format!(
            "`{s}` names `{}`, not a function; {ALLOWED}",
            arn.resource
        ));
    }
    let name = name.unwrap_or("");
    if name.is_empty()
        || name.len() > 64
        || !name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    {
        return Err(format!(
            "`{s}` has function name `{name}`; allowed: 1 to 64 characters of [a-zA-Z0-9-_]"
        ));
    }
    if let Some(q) = qualifier {
        let ok = q == "*"
            || q == "$LATEST"
            || (!q.is_empty()
                && q.len() <= 128
                && q.chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'));
        if !ok {
            return Err(format!(
                "`{s}` has qualifier `{q}`; allowed: a version number, an alias, `$LATEST` or `*`"
            ));
        }
    }
    Ok(LambdaArn {
        region: arn.region,
        account: arn.account,
        function: name,
    })
}

/// Whether an IAM policy `Resource` entry (which may end in or contain `*`) covers `arn`.
pub fn resource_matches(pattern: &str, arn: &str) -> bool {
    fn glob(p: &[u8], s: &[u8]) -> bool {
        match p.split_first() {
            None => s.is_empty(),
            Some((b'*', rest)) => (0..=s.len()).any(|i| glob(rest, &s[i..])),
            Some((c, rest)) => s.first() == Some(c) && glob(rest, &s[1..]),
        }
    }
    glob(pattern.as_bytes(), arn.as_bytes())
}

/// Checks `[outputs].role_arn`: the role the template creates for `stack`, named as `naming`
/// names it (`arn:PARTITION:iam::ACCOUNT:role/ROLE_NAME-STACK` or `.../role/ROLE_NAME`). The
/// other naming's form passes too, and `role/ANY-STACK`: the role of a stack whose owner has
/// just changed `role.naming` or `role.name`, until the next deploy records the new one.
/// Returns its account.
pub fn check_recorded_role<'a>(
    s: &'a str,
    partition: &str,
    role_name: &str,
    stack: &str,
    naming: crate::value::Naming,
) -> Result<&'a str, String> {
    use crate::value::Naming;
    let allowed = format!(
        "allowed: `arn:{partition}:iam::ACCOUNT:role/{}`, the role of this stack as `{} deploy` records it",
        naming.role_name(role_name, stack),
        safe_text::program()
    );
    let Some(arn) = Arn::parse(s) else {
        return Err(format!("`{s}` is not an ARN; {allowed}"));
    };
    // Named as either naming names `role_name`, or per stack under an earlier `role.name`:
    // both are this stack's role until the next deploy records the new one.
    let ours = arn.resource == format!("role/{}", Naming::Fixed.role_name(role_name, stack))
        || arn
            .resource
            .strip_prefix("role/")
            .and_then(|name| name.strip_suffix(stack))
            .is_some_and(|rest| rest.len() > 1 && rest.ends_with('-') && !rest.contains('/'));
    if arn.service != "iam" || arn.partition != partition || !arn.region.is_empty() || !ours {
        return Err(format!(
            "`{s}` is not the role of stack `{stack}`; {allowed}"
        ));
    }
    recorded_account(s, arn.account, &allowed)
}

/// Checks `[outputs].stack_id`: the ID CloudFormation gave `stack` in `region`,
/// `arn:PARTITION:cloudformation:REGION:ACCOUNT:stack/STACK/ID`. Returns its account.
pub fn check_stack_id<'a>(
    s: &'a str,
    partition: &str,
    region: &str,
    stack: &str,
) -> Result<&'a str, String> {
    let allowed = format!(
        "allowed: `arn:{partition}:cloudformation:{region}:ACCOUNT:stack/{stack}/ID`, as `{} deploy` records it",
        safe_text::program()
    );
    let Some(arn) = Arn::parse(s).filter(|a| a.service == "cloudformation") else {
        return Err(format!("`{s}` is not a CloudFormation stack ID; {allowed}"));
    };
    if arn.region != region {
        return Err(format!(
            "`{s}` is in region `{}`, but `aws.region` is `{region}`; {allowed}",
            arn.region
        ));
    }
    let id = arn
        .resource
        .strip_prefix("stack/")
        .and_then(|r| r.strip_prefix(stack))
        .and_then(|r| r.strip_prefix('/'));
    // CloudFormation's ID is a UUID: letters, digits and `-`.
    let uuid =
        |id: &str| !id.is_empty() && id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-');
    if arn.partition != partition || !id.is_some_and(uuid) {
        return Err(format!("`{s}` is not the ID of stack `{stack}`; {allowed}"));
    }
    recorded_account(s, arn.account, &allowed)
}

/// The account of a recorded ARN `s`, unless it is not 12 digits.
fn recorded_account<'a>(s: &str, account: &'a str, allowed: &str) -> Result<&'a str, String> {
    if is_account(account) {
        Ok(account)
    } else {
        Err(format!(
            "`{s}` has account `{account}`, which is not 12 digits; {allowed}"
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn regions_and_partitions() {
        assert_eq!(partition_of_region("us-west-2"), Some("aws"));
        assert_eq!(partition_of_region("us-gov-west-1"), Some("aws-us-gov"));
        assert_eq!(partition_of_region("cn-north-1"), Some("aws-cn"));
        assert_eq!(partition_of_region("ap-southeast-3"), Some("aws"));
        for bad in [
            "",
            "us-west",
            "uswest2",
            "US-WEST-2",
            "us-west-x",
            "usa-west-2",
            "us--2",
        ] {
            assert_eq!(partition_of_region(bad), None, "{bad}");
        }
    }

    #[test]
    fn principal_arns() {
        assert_eq!(
            check_principal_arn(
                "arn:aws:iam::123456789012:role/temporal-server",
                Some("aws")
            ),
            Ok("123456789012")
        );
        assert!(
            check_principal_arn("arn:aws:iam::123456789012:role/path/to/name", Some("aws")).is_ok()
        );
        assert!(check_principal_arn("arn:aws:iam::123456789012:user/moto", Some("aws")).is_ok());
        let session = check_principal_arn(
            "arn:aws:sts::123456789012:assumed-role/temporal/i-123",
            Some("aws"),
        )
        .unwrap_err();
        assert!(
            session.contains("arn:aws:iam::123456789012:role/temporal"),
            "{session}"
        );
        assert!(
            check_principal_arn("arn:aws:iam::123456789012:group/admins", Some("aws"))
                .unwrap_err()
                .contains("not a role or user")
        );
        assert!(
            check_principal_arn("arn:aws:iam::1234:role/x", Some("aws"))
                .unwrap_err()
                .contains("12 digits")
        );
        assert!(
            check_principal_arn("arn:aws-cn:iam::123456789012:role/x", Some("aws"))
                .unwrap_err()
                .contains("partition")
        );
        assert!(
            check_principal_arn(
                "arn:aws:lambda:us-west-2:123456789012:function:f",
                Some("aws")
            )
            .unwrap_err()
            .contains("`lambda`")
        );
        assert!(
            check_principal_arn("temporal-server", Some("aws"))
                .unwrap_err()
                .contains("not an ARN")
        );
    }

    #[test]
    fn principal_of_callers() {
        assert_eq!(
            principal_of("arn:aws:sts::123456789012:assumed-role/temporal/i-0abc").as_deref(),
            Some("arn:aws:iam::123456789012:role/temporal")
        );
        assert_eq!(
            principal_of("arn:aws:iam::123456789012:user/moto").as_deref(),
            Some("arn:aws:iam::123456789012:user/moto")
        );
        assert_eq!(principal_of("arn:aws:sts::123456789012:user/moto"), None);
        assert_eq!(principal_of("nope"), None);
    }

    #[test]
    fn lambda_arns() {
        let ok = check_lambda_arn(
            "arn:aws:lambda:us-west-2:123456789012:function:worker-1",
            Some("aws"),
        )
        .unwrap();
        assert_eq!(
            (ok.region, ok.account, ok.function),
            ("us-west-2", "123456789012", "worker-1")
        );
        for q in ["7", "live", "$LATEST", "*"] {
            assert!(
                check_lambda_arn(
                    &format!("arn:aws:lambda:us-west-2:123456789012:function:w:{q}"),
                    Some("aws")
                )
                .is_ok(),
                "{q}"
            );
        }
        for bad in [
            "arn:aws:lambda:us-west-2:123456789012:layer:w",
            "arn:aws:lambda::123456789012:function:w",
            "arn:aws:lambda:us-west-2:123456789012:function:w,x",
            "arn:aws:lambda:us-west-2:123456789012:function:w:1:2",
            "arn:aws:s3:::bucket",
        ] {
            assert!(check_lambda_arn(bad, Some("aws")).is_err(), "{bad}");
        }
    }

    #[test]
    fn resource_patterns() {
        let f = "arn:aws:lambda:us-west-2:123456789012:function:w";
        assert!(resource_matches(f, f));
        assert!(resource_matches(&format!("{f}:*"), &format!("{f}:3")));
        assert!(!resource_matches(&format!("{f}:*"), f));
        assert!(!resource_matches(f, &format!("{f}:3")));
        assert!(!resource_matches(f, &format!("{f}x")));
    }

    #[test]
    fn recorded_outputs() {
        let role = "arn:aws:iam::123456789012:role/Temporal-Serverless-Worker-s";
        let per_stack = crate::value::Naming::PerStack;
        assert_eq!(
            check_recorded_role(role, "aws", "Temporal-Serverless-Worker", "s", per_stack),
            Ok("123456789012")
        );
        // The fixed form is this stack's role too (a move between namings not yet deployed).
        assert_eq!(
            check_recorded_role(
                "arn:aws:iam::123456789012:role/Temporal-Serverless-Worker",
                "aws",
                "Temporal-Serverless-Worker",
                "s",
                per_stack
            ),
            Ok("123456789012")
        );
        // Per stack under an earlier `role.name`, before the move is deployed.
        assert!(
            check_recorded_role(
                "arn:aws:iam::123456789012:role/Old-s",
                "aws",
                "New",
                "s",
                crate::value::Naming::Fixed
            )
            .is_ok()
        );
        for bad in [
            "arn:aws:iam::123456789012:role/Temporal-Serverless-Worker-t",
            "arn:aws:iam::123456789012:role/Other",
            "arn:aws:iam::123456789012:role/-s",
            "arn:aws:iam::123456789012:role/path/x-s",
            "arn:aws:iam::123456789012:user/Temporal-Serverless-Worker-s",
            "arn:aws-cn:iam::123456789012:role/Temporal-Serverless-Worker-s",
            "arn:aws:sts::123456789012:role/Temporal-Serverless-Worker-s",
        ] {
            let err = check_recorded_role(bad, "aws", "Temporal-Serverless-Worker", "s", per_stack)
                .unwrap_err();
            assert!(err.contains("is not the role of stack `s`"), "{err}");
        }
        assert!(
            check_recorded_role("role", "aws", "R", "s", per_stack)
                .unwrap_err()
                .contains("not an ARN")
        );

        let id = "arn:aws:cloudformation:us-west-2:123456789012:stack/s/0f1e-42";
        assert_eq!(
            check_stack_id(id, "aws", "us-west-2", "s"),
            Ok("123456789012")
        );
        assert!(
            check_stack_id(id, "aws", "eu-west-1", "s")
                .unwrap_err()
                .contains("is in region `us-west-2`, but `aws.region` is `eu-west-1`")
        );
        for bad in [
            "arn:aws:cloudformation:us-west-2:123456789012:stack/sx/1",
            "arn:aws:cloudformation:us-west-2:123456789012:stack/s/",
            "arn:aws:cloudformation:us-west-2:123456789012:stackset/s/1",
            "arn:aws:cloudformation:us-west-2:123456789012:stack/s/1\u{202e}2",
            "arn:aws:cloudformation:us-west-2:123456789012:stack/s/1\u{1b}]0;t\u{7}",
        ] {
            let err = check_stack_id(bad, "aws", "us-west-2", "s").unwrap_err();
            assert!(err.contains("is not the ID of stack `s`"), "{bad}: {err}");
        }
        assert!(
            check_stack_id("id", "aws", "us-west-2", "s")
                .unwrap_err()
                .contains("not a CloudFormation stack ID")
        );
    }
}
