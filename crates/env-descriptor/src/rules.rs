//! The rules that span keys, run after the walk on what it read (`Found`): each reads only the
//! values that passed their own rule, so that one invalid value hides no other problem.

use std::path::{Component, Path, PathBuf};

use crate::arn;
use crate::declared::shape;
use crate::model::Role;
use crate::schema::{Found, Read, Report};
use crate::value::{LambdaArn, Naming, PrincipalArn, Region, RoleArn, RoleName};

/// Runs every rule that spans keys, reporting what they find.
pub(crate) fn check(found: &mut Found, report: &mut Report) {
    let region = found.valid::<Region>("aws.region");
    if let Some(region) = &region {
        in_partition(found, report, region.partition());
    }
    role_name_fits(found, report);
    needed_choices(found, report);
    tls(found, report);
    one_dynamic_config(found, report);
    server_file_not_ours(found, report);
    server_file_inside(found, report);
    lambda_arns_fit(found, report);
    tag_count(found, report);
    service_role_account(found, report);
    assumed_role(found, report);
    if let Some(region) = &region {
        lambda_accounts(found, report, region);
        recorded_stack(found, report, region);
    }
    if found.get("sandbox").is_some() {
        sandbox(found, report);
    }
    worker_deployments(found, report);
}

/// Reports `key` when its value passed its own rule but not `rule`, and marks it rejected.
fn recheck(
    found: &mut Found,
    report: &mut Report,
    key: &str,
    rule: impl Fn(&str) -> Result<(), String>,
) {
    let Some(text) = found.valid_text(key) else {
        return;
    };
    if let Err(msg) = rule(text) {
        report.error(key, span(found, key), msg);
        found.reject(key);
    }
}

fn span(found: &Found, key: &str) -> Option<std::ops::Range<usize>> {
    found.get(key).and_then(|e| e.span.clone())
}

fn key_span(found: &Found, key: &str) -> Option<std::ops::Range<usize>> {
    found.get(key).and_then(|e| e.key_span.clone())
}

/// ARNs must be in the partition of `aws.region`.
fn in_partition(found: &mut Found, report: &mut Report, partition: &str) {
    let p = Some(partition);
    recheck(found, report, "temporal.server_role_arn", |a| {
        PrincipalArn::parse_in(a, p).map(drop)
    });
    recheck(found, report, "deploy.cloudformation_role_arn", |a| {
        RoleArn::parse_in(a, p).map(drop)
    });
    recheck(found, report, "aws.role_arn", |a| {
        RoleArn::parse_in(a, p).map(drop)
    });
    let lambdas = found
        .entries("role.lambda_function_arns")
        .into_iter()
        .chain(
            found
                .entries("worker_deployments")
                .into_iter()
                .map(|wd| format!("{wd}.lambda_function_arn")),
        );
    for key in lambdas.collect::<Vec<_>>() {
        recheck(found, report, &key, |a| LambdaArn::parse_in(a, p).map(drop));
    }
}

/// How the role is named ([`Naming::resolve`] of what was read); `None` when `role.naming` or
/// `role.name` is set but invalid (reported by its own rule).
fn naming(found: &Found) -> Option<Naming> {
    let explicit = match found.get("role.naming") {
        None => None,
        Some(_) => Some(found.valid_text("role.naming")?),
    };
    let name = role_name(found)?;
    Some(Naming::resolve(
        explicit,
        found.text("outputs.role_arn"),
        name,
    ))
}

/// `role.name`, or the template's default when it is left out; `None` when it is invalid.
fn role_name(found: &Found) -> Option<&str> {
    match found.get("role.name") {
        None => Some(Role::DEFAULT_NAME),
        Some(_) => found.valid_text("role.name"),
    }
}

/// IAM caps role names at 64 characters: `role.name` itself with `naming = "fixed"`, and
/// `NAME-STACK_NAME` with `per-stack`; left out, NAME is the template's default, which must fit
/// too (reported at the stack's name).
fn role_name_fits(found: &mut Found, report: &mut Report) {
    let Some(stack) = found.valid_text("role.stack_name").map(str::to_owned) else {
        return;
    };
    let Some(naming) = naming(found) else {
        return;
    };
    if found.get("role.name").is_some() {
        recheck(found, report, "role.name", |n| {
            RoleName::parse_in(n, &stack, naming).map(drop)
        });
    } else if let Err(msg) = RoleName::parse_in(Role::DEFAULT_NAME, &stack, naming) {
        report.error("role.stack_name", key_span(found, "role.stack_name"), msg);
    }
}

/// A list of names that is set must hold its default: the one name Serverless Workers on
/// Lambda need.
fn needed_choices(found: &Found, report: &mut Report) {
    let temporal = shape().table("temporal");
    for key in ["compute_providers", "scaling_algorithms"] {
        let full = format!("temporal.{key}");
        let entries = found.entries(&full);
        if found.get(&full).is_none() {
            continue;
        }
        let needed = temporal
            .default_strings(key)
            .into_iter()
            .next()
            .unwrap_or_default();
        if !entries
            .iter()
            .any(|e| found.text(e) == Some(needed.as_str()))
        {
            report.error(
                &full,
                key_span(found, &full),
                format!("must include `{needed}`, which Serverless Workers on Lambda need"),
            );
        }
    }
}

/// The `tls_*` keys go together with `tls`: `tls = false` forbids them, and a client
/// certificate needs its key.
fn tls(found: &Found, report: &mut Report) {
    let set = |key: &str| found.text(&format!("temporal.{key}")).is_some();
    if set("tls_cert_path") != set("tls_key_path") {
        report.error(
            "temporal.tls_cert_path",
            key_span(found, "temporal.tls_cert_path").or(key_span(found, "temporal.tls_key_path")),
            "`tls_cert_path` and `tls_key_path` go together (mutual TLS); give both or neither",
        );
    }
    let any = [
        "tls_cert_path",
        "tls_key_path",
        "tls_ca_path",
        "tls_server_name",
    ]
    .into_iter()
    .any(set);
    if found.bool("temporal.tls") == Some(false) && any {
        report.error(
            "temporal.tls",
            key_span(found, "temporal.tls"),
            "is `false` but `tls_*` keys are set; remove them or set `tls = true`",
        );
    }
    // An API key in cleartext only to this machine (a sandbox, a port forward).
    let address = found.valid_text("temporal.address");
    if found.bool("temporal.tls") == Some(false)
        && found.valid_text("temporal.api_key_env").is_some()
        && address.is_some_and(|a| !local_endpoint::is_loopback(a))
    {
        report.error(
            "temporal.tls",
            key_span(found, "temporal.tls"),
            format!(
                "is `false` with `api_key_env`: the key would go in cleartext to `{}`; allowed: \
                 `tls = false` with an API key only for a loopback address; remove `tls = false`",
                address.unwrap_or_default().escape_debug()
            ),
        );
    }
}

/// The server reads its dynamic config from one place: its own file, or the values of the Helm
/// chart that deploys it (reported at `helm_values`, whichever comes first).
fn one_dynamic_config(found: &Found, report: &mut Report) {
    let (Some(file), Some(_)) = (
        key_span(found, "temporal.dynamic_config_file"),
        found.get("temporal.helm_values"),
    ) else {
        return;
    };
    let message = format!(
        "cannot be set beside `dynamic_config_file` (line {}): the server reads its dynamic config from one place; \
         keep `helm_values` when a Helm chart deploys the server, else `dynamic_config_file`",
        report.line_of(file.start)
    );
    report.error(
        "temporal.helm_values",
        key_span(found, "temporal.helm_values"),
        message,
    );
}

/// The keys naming a file of the server's own, which `render` reads and rewrites in place.
const SERVER_FILE_KEYS: [&str; 2] = ["temporal.dynamic_config_file", "temporal.helm_values"];

/// The server's file is never one the tool writes itself (a rendered file, a descriptor, the
/// schema): `render` would replace the server's keys with its own and then refuse forever.
fn server_file_not_ours(found: &mut Found, report: &mut Report) {
    for key in SERVER_FILE_KEYS {
        let Some(text) = found.valid_text(key) else {
            continue;
        };
        let Some(ours) = tool_file(Path::new(text)) else {
            continue;
        };
        report.error(
            key,
            span(found, key),
            format!(
                "names `{}`, {ours}; allowed: the file your server reads its dynamic config from, which `render` updates in place",
                text.escape_debug()
            ),
        );
        found.reject(key);
    }
}

/// What the tool writes at `path` (relative to the checkout), if it writes anything there:
/// the path is read as written, `.` and `..` applied.
fn tool_file(path: &Path) -> Option<&'static str> {
    let mut parts: Vec<&std::ffi::OsStr> = Vec::new();
    for c in path.components() {
        match c {
            Component::Normal(p) => parts.push(p),
            Component::CurDir => {}
            Component::ParentDir => {
                parts.pop()?;
            }
            Component::RootDir | Component::Prefix(_) => return None,
        }
    }
    let names: Vec<&str> = parts.iter().map(|p| p.to_str()).collect::<Option<_>>()?;
    match names.as_slice() {
        ["environments", _, file] if crate::RENDERED_FILES.contains(file) => {
            Some("the file `render` writes for an environment")
        }
        ["environments", file] if file.ends_with(".toml") => Some("a descriptor"),
        ["environments", file] if *file == crate::SCHEMA_FILE => {
            Some("the descriptors' schema, which the tool writes")
        }
        _ => None,
    }
}

/// The server's file resolves (links followed) inside the checkout, or in a directory allowed
/// where the tool runs, and is not a file the tool writes; only when loading from a checkout.
fn server_file_inside(found: &mut Found, report: &mut Report) {
    let Some(layout) = report.checkout else {
        return;
    };
    let env = report
        .file()
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned());
    let rendered: Vec<PathBuf> = env
        .iter()
        .flat_map(|env| crate::RENDERED_FILES.map(|f| layout.rendered_dir(env).join(f)))
        .filter_map(|f| layout.resolve(&f).ok())
        .collect();
    for key in SERVER_FILE_KEYS {
        let Some(text) = found.valid_text(key) else {
            continue;
        };
        let message = match layout.resolve(Path::new(text)) {
            Err(e @ crate::FileError::Outside { .. }) => e.to_string(),
            Ok(resolved) if rendered.contains(&resolved) => format!(
                "`{}` is the file `render` writes for this environment (through a link); allowed: the file your server reads its dynamic config from",
                text.escape_debug()
            ),
            _ => continue,
        };
        report.error(key, span(found, key), message);
        found.reject(key);
    }
}

/// CloudFormation's limit on one parameter value, in bytes: `LambdaFunctionARNs` is the ARNs
/// joined by commas.
const MAX_PARAMETER_BYTES: usize = 4096;
/// IAM's limit on a role's inline policies, in bytes of the JSON without whitespace.
const MAX_INLINE_POLICY_BYTES: usize = 10_240;
/// The template's inline policy without its resources, whitespace left out:
/// `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["lambda:InvokeFunction",
/// "lambda:GetFunction"],"Resource":[]}]}`; each ARN adds itself and its quotes, and a comma between two.
const POLICY_BYTES_WITHOUT_ARNS: usize = 127;

/// `role.lambda_function_arns` must fit in one parameter value and in the role's inline policy.
fn lambda_arns_fit(found: &Found, report: &mut Report) {
    let key = "role.lambda_function_arns";
    let arns: Vec<&str> = found
        .entries(key)
        .iter()
        .filter_map(|e| found.text(e))
        .collect();
    if arns.is_empty() {
        return;
    }
    let parameter = arns.iter().map(|a| a.len()).sum::<usize>() + arns.len() - 1;
    let policy = POLICY_BYTES_WITHOUT_ARNS + arns.iter().map(|a| a.len() + 3).sum::<usize>() - 1;
    let message = if parameter > MAX_PARAMETER_BYTES {
        format!(
            "is {parameter} bytes as the `LambdaFunctionARNs` parameter ({} ARNs joined by commas); allowed: at most {MAX_PARAMETER_BYTES} bytes, CloudFormation's limit for a parameter value; \
             use fewer functions, or one ARN with a `*` qualifier per function instead of one per version",
            arns.len()
        )
    } else if policy > MAX_INLINE_POLICY_BYTES {
        format!(
            "makes the role's inline policy {policy} bytes; allowed: at most {MAX_INLINE_POLICY_BYTES} bytes, IAM's limit for a role's inline policies; use fewer functions"
        )
    } else {
        return;
    };
    report.error(key, key_span(found, key), message);
}

/// The most tags a descriptor may give: CloudFormation's limit of 50 a stack, less the one the
/// tool sets on every stack it creates (`temporal-serverless-workers:environment`).
const MAX_TAGS: usize = 49;

fn tag_count(found: &Found, report: &mut Report) {
    if let Some(Read::Map(n)) = found.get("deploy.tags").map(|e| &e.read)
        && *n > MAX_TAGS
    {
        let span = span(found, "deploy.tags");
        report.error(
            "deploy.tags",
            span,
            format!(
                "has {n} tags; allowed: at most {MAX_TAGS}, CloudFormation's limit of 50 less the tool's own tag"
            ),
        );
    }
}

/// The service role must be in the stack's account (when that is known): CloudFormation
/// assumes it there.
fn service_role_account(found: &Found, report: &mut Report) {
    in_stack_account(
        found,
        report,
        "deploy.cloudformation_role_arn",
        "a role in the stack's account, which CloudFormation can assume",
    );
}

/// The ARN at `key` (when valid) is in the environment's account (when that is known), or an
/// error says which it is in and what is `allowed`.
fn in_stack_account(found: &Found, report: &mut Report, key: &str, allowed: &str) {
    let Some(arn) = found.valid_text(key).and_then(arn::Arn::parse) else {
        return;
    };
    if let Some((source, account)) = role_account(found)
        && arn.account != account
    {
        report.error(
            key,
            span(found, key),
            format!(
                "is in account `{}`, not `{account}` ({source}); allowed: {allowed}",
                arn.account
            ),
        );
    }
}

/// `aws.role_arn` is a role of the environment's account (the caller's account is then the
/// role's), and its external ID and session name come with it.
fn assumed_role(found: &Found, report: &mut Report) {
    let key = "aws.role_arn";
    if found.get(key).is_none() {
        for other in ["aws.external_id", "aws.session_name"] {
            if found.get(other).is_some() {
                report.error(
                    other,
                    span(found, other),
                    "is set without `aws.role_arn`; allowed: with `aws.role_arn`, the role it is for, or leave the key out".to_owned(),
                );
            }
        }
        return;
    }
    in_stack_account(
        found,
        report,
        key,
        "a role of the environment's account, whose credentials every call then uses",
    );
}

/// The account the invocation role lives in, and what says so: `aws.account_id`, else the
/// account of the recorded `outputs.role_arn`. Not `temporal.server_role_arn`'s: the usual
/// layout has the server in one account and the role with the functions in another, which
/// needs no resource policy. `None` when neither is known (or the key it comes from is invalid).
fn role_account(found: &Found) -> Option<(&'static str, String)> {
    if found.get("aws.account_id").is_some() {
        let id = found.valid_text("aws.account_id")?;
        return Some(("aws.account_id", id.to_owned()));
    }
    let role = found.valid_text("outputs.role_arn")?;
    let arn = arn::Arn::parse(role)?;
    Some(("the account of outputs.role_arn", arn.account.to_owned()))
}

/// Lambda functions in another region or account than the stack's work only with more set-up:
/// warnings, not errors.
fn lambda_accounts(found: &Found, report: &mut Report, region: &Region) {
    let account = role_account(found);
    for key in found.entries("role.lambda_function_arns") {
        let Some(parsed) = found.valid_text(&key).and_then(arn::Arn::parse) else {
            continue;
        };
        let span = span(found, &key);
        if !parsed.region.is_empty() && parsed.region != region.as_str() {
            report.warn(&key, span.clone(), format!("is in region `{}` but `aws.region` is `{region}`; the Temporal server calls Lambda in the function's region", parsed.region));
        }
        if let Some((account_src, account)) = &account
            && !parsed.account.is_empty()
            && parsed.account != account.as_str()
        {
            report.warn(&key, span, format!("is in account `{}`, not `{account}` ({account_src}); cross-account invocation needs a resource policy on the function", parsed.account));
        }
    }
}

/// `[outputs].role_arn` and `stack_id` must be this descriptor's stack and its role, in one
/// account (`aws.account_id` when set): a table copied from another descriptor would send
/// `register` and `status` to another stack's role.
fn recorded_stack(found: &Found, report: &mut Report, region: &Region) {
    let Some(stack) = found.valid_text("role.stack_name") else {
        return;
    };
    let (Some(name), Some(naming)) = (role_name(found), naming(found)) else {
        return;
    };
    let expected = match found.get("aws.account_id") {
        None => None,
        Some(_) => match found.valid_text("aws.account_id") {
            Some(id) => Some(id),
            None => return,
        },
    };
    let partition = region.partition();
    let mut role_account = None;
    if let Some(arn) = found.text("outputs.role_arn") {
        let at = span(found, "outputs.role_arn");
        match arn::check_recorded_role(arn, partition, name, stack, naming) {
            Ok(account) => role_account = Some((account, arn, at)),
            Err(msg) => report.error("outputs.role_arn", at, msg),
        }
    }
    let mut stack_account = None;
    if let Some(id) = found.text("outputs.stack_id") {
        let at = span(found, "outputs.stack_id");
        match arn::check_stack_id(id, partition, region, stack) {
            Ok(account) => stack_account = Some((account, id, at)),
            Err(msg) => report.error("outputs.stack_id", at, msg),
        }
    }
    let redeploy = "delete `[outputs]` and deploy again";
    if let Some(expected) = expected {
        for (key, recorded) in [
            ("outputs.role_arn", role_account),
            ("outputs.stack_id", stack_account),
        ] {
            if let Some((account, value, at)) = recorded
                && account != expected
            {
                report.error(key, at, format!("`{value}` is in account `{account}`, but `aws.account_id` is `{expected}`; {redeploy}"));
            }
        }
    } else if let (Some((a, value, at)), Some((b, _, _))) = (role_account, stack_account)
        && a != b
    {
        report.error(
            "outputs.role_arn",
            at,
            format!(
                "`{value}` is in account `{a}`, but `outputs.stack_id` is in `{b}`; {redeploy}"
            ),
        );
    }
}

/// `[sandbox]`: the tool will start services at the environment's addresses, so they must be
/// loopback addresses (never every interface, never another machine).
fn sandbox(found: &Found, report: &mut Report) {
    let loopback = "the sandbox listens only on loopback: 127.0.0.1, [::1] or localhost";
    match found.get("aws.endpoint_url") {
        None => report.error(
            "aws.endpoint_url",
            None,
            format!("is missing; `[sandbox]` needs the emulator's URL, e.g. `http://127.0.0.1:5050` ({loopback})"),
        ),
        Some(_) => {
            if let Some(url) = found.valid_text("aws.endpoint_url")
                && (!local_endpoint::is_loopback(url) || !url.starts_with("http://"))
            {
                report.error(
                    "aws.endpoint_url",
                    key_span(found, "aws.endpoint_url"),
                    format!("`{}` cannot be the sandbox's emulator; allowed: `http://HOST:PORT` where HOST is a loopback address ({loopback}), or remove `[sandbox]`", url.escape_debug()),
                );
            }
        }
    }
    if let Some(address) = found.valid_text("temporal.address")
        && !local_endpoint::is_loopback(address)
    {
        report.error(
            "temporal.address",
            key_span(found, "temporal.address"),
            format!("`{}` cannot be the sandbox's Temporal dev server; allowed: `HOST:PORT` where HOST is a loopback address ({loopback}), or remove `[sandbox]`", address.escape_debug()),
        );
    }
}

/// A smoke workflow and its task queue come together; an input needs the workflow.
fn smoke_keys_together(found: &Found, report: &mut Report, section: &str) {
    let has = |k: &str| found.get(&format!("{section}.{k}")).is_some();
    let (workflow, task_queue, input) = (
        has("smoke_workflow"),
        has("smoke_task_queue"),
        has("smoke_input"),
    );
    let (present, missing) = match (workflow, task_queue, input) {
        (true, false, _) => ("smoke_workflow", "smoke_task_queue"),
        (false, true, _) => ("smoke_task_queue", "smoke_workflow"),
        (false, false, true) => ("smoke_input", "smoke_workflow"),
        _ => return,
    };
    let what = if missing == "smoke_task_queue" {
        "task queue the worker polls, e.g. `sample-worker`"
    } else {
        "workflow type `cargo xtask smoke` starts, e.g. `Greet`"
    };
    report.error(
        format!("{section}.{missing}"),
        span(found, &format!("{section}.{present}")),
        format!("is missing; `{present}` needs it: the {what}"),
    );
}

/// Each Worker Deployment must be in an enabled namespace, name a function the role may invoke,
/// and be listed once. `temporal.address` may be left out: `register` then takes the frontend
/// from `TEMPORAL_ADDRESS` or a Temporal CLI profile, and says so when neither has one.
fn worker_deployments(found: &Found, report: &mut Report) {
    let enabled: Option<Vec<&str>> = found.get("temporal.namespaces").map(|_| {
        found
            .entries("temporal.namespaces")
            .iter()
            .filter_map(|e| found.valid_text(e))
            .collect()
    });
    let allowed_arns: Vec<&str> = found
        .entries("role.lambda_function_arns")
        .iter()
        .filter_map(|e| found.text(e))
        .collect();
    let mut ids: Vec<String> = Vec::new();
    for section in found.entries("worker_deployments") {
        let key = |k: &str| format!("{section}.{k}");
        let namespace = found.valid_text(&key("namespace"));
        if let Some(ns) = namespace
            && let Some(enabled) = &enabled
            && !enabled.contains(&ns)
        {
            report.error(key("namespace"), span(found, &key("namespace")), format!("`{ns}` is not in `temporal.namespaces` ({}), so the Worker Controller is not enabled for it; add it there", enabled.join(", ")));
        }
        let lambda = found.valid_text(&key("lambda_function_arn"));
        if let Some(a) = lambda
            && !allowed_arns
                .iter()
                .any(|allowed| arn::resource_matches(allowed, a))
        {
            report.error(
                key("lambda_function_arn"),
                span(found, &key("lambda_function_arn")),
                format!("`{a}` is not covered by `role.lambda_function_arns`, so the role could not invoke it; add it (or `NAME:*` for every version) there and deploy"),
            );
        }
        smoke_keys_together(found, report, &section);
        let name = found.valid_text(&key("name"));
        let build_id = found.valid_text(&key("build_id"));
        if let (Some(ns), Some(name), Some(build_id), Some(_)) = (namespace, name, build_id, lambda)
        {
            let id = format!("{ns}/{name}@{build_id}");
            if ids.contains(&id) {
                report.error(
                    &section,
                    span(found, &section),
                    format!("`{id}` is listed twice"),
                );
            }
            ids.push(id);
        }
    }
}
