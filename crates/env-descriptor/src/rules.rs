//! The rules that span keys, each a function over the typed fields of the [`Read`] stage: it
//! reads only values that passed their own rule (`Checked::valid`), so that one invalid value
//! hides no other problem, and blames a value by its span. A rule that needs another key to
//! judge a value (an ARN's partition comes from `aws.region`) rejects it, so later rules skip
//! it. Adding a rule is one function here, listed in [`RULES`].

use std::path::{Component, Path, PathBuf};

use crate::arn;
use crate::model::{Environment, Role, Temporal};
use crate::read::{Blame, Context, Found};
use crate::stage::{At, Checked, Read};
use crate::value::{LambdaArn, Naming, PrincipalArn, RoleArn, RoleName};

/// A rule across keys: reads the tables, pushes what it finds.
pub(crate) type Rule = fn(&mut Environment<Read>, &Context, &mut Vec<Found>);

/// Every rule across keys, in the order they run.
pub(crate) const RULES: &[Rule] = &[
    lists,
    stack_or_stack_set,
    stack_set_targets,
    stack_set_preferences,
    stack_set_overrides,
    outputs_form,
    needed_choices,
    in_partition,
    role_name_fits,
    tls,
    one_dynamic_config,
    server_file_not_ours,
    server_file_inside,
    lambda_arns_fit,
    tag_count,
    intermediary_roles,
    assumed_role,
    service_role_account,
    lambda_accounts,
    recorded_stack,
    sandbox,
    worker_deployments,
];

/// Re-judges a valid value by a rule that needs another key; reports and rejects it on failure.
fn recheck<T>(
    value: &mut Checked<T>,
    out: &mut Vec<Found>,
    rule: impl Fn(&str) -> Result<(), String>,
) {
    if value.valid().is_none() {
        return;
    }
    if let Err(why) = rule(&value.text) {
        out.push(Found::error(Blame::Value(value.span.clone()), why.clone()));
        value.reject(why);
    }
}

/// Each entry of a list once; a list that needs entries has one.
fn lists(env: &mut Environment<Read>, cx: &Context, out: &mut Vec<Found>) {
    fn once<'a>(
        entries: impl Iterator<Item = (&'a str, &'a std::ops::Range<usize>)>,
        out: &mut Vec<Found>,
    ) {
        let mut seen: Vec<&str> = Vec::new();
        for (text, span) in entries {
            if seen.contains(&text) {
                out.push(Found::error(
                    Blame::Value(span.clone()),
                    format!("`{}` is listed twice", text.escape_debug()),
                ));
            }
            seen.push(text);
        }
    }
    let t = &env.temporal;
    if let Some(ns) = &t.namespaces {
        once(ns.iter().map(|c| (c.text.as_str(), &c.span)), out);
    }
    once(
        t.compute_providers
            .iter()
            .map(|a| (a.value.as_str(), &a.span)),
        out,
    );
    once(
        t.scaling_algorithms
            .iter()
            .map(|a| (a.value.as_str(), &a.span)),
        out,
    );
    once(
        env.role
            .lambda_function_arns
            .iter()
            .map(|c| (c.text.as_str(), &c.span)),
        out,
    );
    if let Some(o) = &env.outputs {
        once(o.registered.iter().map(|c| (c.text.as_str(), &c.span)), out);
    }
    if let Some(set) = &env.stack_set {
        once(
            set.organizational_units
                .iter()
                .map(|c| (c.text.as_str(), &c.span)),
            out,
        );
        once(set.accounts.iter().map(|c| (c.text.as_str(), &c.span)), out);
        once(set.regions.iter().map(|c| (c.text.as_str(), &c.span)), out);
        for o in set.overrides.values() {
            if let Some(arns) = &o.lambda_function_arns {
                once(arns.iter().map(|c| (c.text.as_str(), &c.span)), out);
            }
        }
    }
    let empty = |key: &str, table: &str, field: &str, out: &mut Vec<Found>| {
        let hint = crate::declared::missing_hint(table, field);
        out.push(Found::error(cx.key_blame(key), format!("is empty; {hint}")));
    };
    if env.role.lambda_function_arns.is_empty() {
        empty(
            "role.lambda_function_arns",
            "role",
            "lambda_function_arns",
            out,
        );
    }
    if t.namespaces.as_ref().is_some_and(Vec::is_empty) {
        empty("temporal.namespaces", "temporal", "namespaces", out);
    }
    if env.stack_set.as_ref().is_some_and(|s| s.regions.is_empty()) {
        empty("stack_set.regions", "stack_set", "regions", out);
    }
    if let Some(set) = &env.stack_set {
        for (account, o) in &set.overrides {
            if o.lambda_function_arns.as_ref().is_some_and(Vec::is_empty) {
                out.push(Found::error(
                    cx.key_blame(&format!("stack_set.overrides.{}.lambda_function_arns", account.text)),
                    "is empty; allowed: one or more Lambda function ARNs of this account, or leave the key out for `role.lambda_function_arns`",
                ));
            }
        }
    }
}

/// The names a list of the Worker Controller's names may hold, and the one it must hold: the
/// one Serverless Workers on Lambda need (its default).
fn needed_choices(env: &mut Environment<Read>, cx: &Context, out: &mut Vec<Found>) {
    let lists: [(&str, &Vec<At<String>>, &str); 2] = [
        (
            "compute_providers",
            &env.temporal.compute_providers,
            crate::AWS_LAMBDA,
        ),
        (
            "scaling_algorithms",
            &env.temporal.scaling_algorithms,
            crate::NO_SYNC,
        ),
    ];
    for (key, entries, needed) in lists {
        let (allowed, what) = crate::declared::choices(key);
        for entry in entries {
            if !allowed.contains(&entry.value.as_str()) {
                let names = allowed
                    .iter()
                    .map(|k| format!("`{k}`"))
                    .collect::<Vec<_>>()
                    .join(", ");
                let what = what.trim_end_matches('.');
                let what = what[..1].to_lowercase() + &what[1..];
                out.push(Found::error(
                    Blame::Value(entry.span.clone()),
                    format!(
                        "`{}` is not one of the {what}; allowed: {names}",
                        entry.value.escape_debug()
                    ),
                ));
            }
        }
        if !entries.iter().any(|e| e.value == needed) {
            out.push(Found::error(
                cx.key_blame(&format!("temporal.{key}")),
                format!("must include `{needed}`, which Serverless Workers on Lambda need"),
            ));
        }
    }
}

/// ARNs must be in the partition of `aws.region`.
fn in_partition(env: &mut Environment<Read>, _: &Context, out: &mut Vec<Found>) {
    let Some(region) = env.aws.region.valid() else {
        return;
    };
    let p = Some(region.partition());
    recheck(&mut env.temporal.server_role_arn, out, |a| {
        PrincipalArn::parse_in(a, p).map(drop)
    });
    if let Some(arn) = &mut env.deploy.cloudformation_role_arn {
        recheck(arn, out, |a| RoleArn::parse_in(a, p).map(drop));
    }
    if let Some(arn) = &mut env.aws.role_arn {
        recheck(arn, out, |a| RoleArn::parse_in(a, p).map(drop));
    }
    for hop in &mut env.temporal.intermediary_roles {
        recheck(&mut hop.role_arn, out, |a| {
            RoleArn::parse_in(a, p).map(drop)
        });
    }
    if let Some(arn) = env
        .stack_set
        .as_mut()
        .and_then(|s| s.administration_role_arn.as_mut())
    {
        recheck(arn, out, |a| RoleArn::parse_in(a, p).map(drop));
    }
    let overridden = env
        .stack_set
        .iter_mut()
        .flat_map(|s| s.overrides.values_mut())
        .flat_map(|o| o.lambda_function_arns.iter_mut().flatten());
    let lambdas = env
        .role
        .lambda_function_arns
        .iter_mut()
        .chain(
            env.worker_deployments
                .iter_mut()
                .map(|w| &mut w.lambda_function_arn),
        )
        .chain(overridden);
    for arn in lambdas {
        recheck(arn, out, |a| LambdaArn::parse_in(a, p).map(drop));
    }
}

/// How the role is named ([`Naming::resolve`] of what was read; always fixed for a StackSet,
/// which [`stack_or_stack_set`] holds it to); `None` when `role.naming` or `role.name` is set
/// but invalid (reported by its own rule).
fn naming(env: &Environment<Read>) -> Option<Naming> {
    let explicit = match &env.role.naming {
        None => None,
        Some(naming) => Some(naming.valid()?.as_str()),
    };
    if env.stack_set.is_some() {
        return Some(Naming::Fixed);
    }
    let recorded = env
        .outputs
        .as_ref()
        .and_then(|o| o.role_arn.as_ref())
        .map(|r| r.value.as_str());
    Some(Naming::resolve(explicit, recorded, role_name(env)?))
}

/// `role.name`, or the template's default when it is left out; `None` when it is invalid.
fn role_name(env: &Environment<Read>) -> Option<&str> {
    match &env.role.name {
        None => Some(Role::DEFAULT_NAME),
        Some(name) => name.valid().map(|n| n.as_str()),
    }
}

/// IAM caps role names at 64 characters: `role.name` itself with `naming = "fixed"`, and
/// `NAME-STACK_NAME` with `per-stack`; left out, NAME is the template's default, which must fit
/// too (reported at the stack's name).
fn role_name_fits(env: &mut Environment<Read>, _: &Context, out: &mut Vec<Found>) {
    let Some(stack) = env
        .role
        .stack_name
        .as_ref()
        .and_then(|s| s.valid())
        .map(|s| s.to_string())
    else {
        return;
    };
    let Some(naming) = naming(env) else {
        return;
    };
    match &mut env.role.name {
        Some(name) => recheck(name, out, |n| {
            RoleName::parse_in(n, &stack, naming).map(drop)
        }),
        None => {
            if let Err(msg) = RoleName::parse_in(Role::DEFAULT_NAME, &stack, naming)
                && let Some(at) = &env.role.stack_name
            {
                out.push(Found::error(Blame::Key(at.span.clone()), msg));
            }
        }
    }
}

/// The `tls_*` keys go together with `tls`: `tls = false` forbids them, and a client
/// certificate needs its key; an API key goes in cleartext only to this machine.
fn tls(env: &mut Environment<Read>, cx: &Context, out: &mut Vec<Found>) {
    let t = &env.temporal;
    if t.tls_cert_path.is_some() != t.tls_key_path.is_some() {
        let at = match (&t.tls_cert_path, &t.tls_key_path) {
            (Some(c), _) => Blame::Key(c.span.clone()),
            (_, k) => Blame::At {
                key: "temporal.tls_cert_path".into(),
                offset: k.as_ref().map(|k| cx.key_start(&k.span)),
            },
        };
        out.push(Found::error(
            at,
            "`tls_cert_path` and `tls_key_path` go together (mutual TLS); give both or neither",
        ));
    }
    let any = [
        &t.tls_cert_path,
        &t.tls_key_path,
        &t.tls_ca_path,
        &t.tls_server_name,
    ]
    .iter()
    .any(|k| k.is_some());
    let Some(tls) = &t.tls else {
        return;
    };
    if !tls.value && any {
        out.push(Found::error(
            Blame::Key(tls.span.clone()),
            "is `false` but `tls_*` keys are set; remove them or set `tls = true`",
        ));
    }
    let address = t.address.as_ref().and_then(Checked::valid);
    if !tls.value
        && t.api_key_env.as_ref().and_then(Checked::valid).is_some()
        && let Some(address) = address
        && !local_endpoint::is_loopback(address)
    {
        out.push(Found::error(
            Blame::Key(tls.span.clone()),
            format!(
                "is `false` with `api_key_env`: the key would go in cleartext to `{}`; allowed: \
                 `tls = false` with an API key only for a loopback address; remove `tls = false`",
                address.escape_debug()
            ),
        ));
    }
}

/// The server reads its dynamic config from one place: its own file, or the values of the Helm
/// chart that deploys it (reported at `helm_values`).
fn one_dynamic_config(env: &mut Environment<Read>, cx: &Context, out: &mut Vec<Found>) {
    let t = &env.temporal;
    let (Some(file), Some(helm)) = (&t.dynamic_config_file, &t.helm_values) else {
        return;
    };
    out.push(Found::error(
        Blame::Key(helm.span.clone()),
        format!(
            "cannot be set beside `dynamic_config_file` (line {}): the server reads its dynamic config from one place; \
             keep `helm_values` when a Helm chart deploys the server, else `dynamic_config_file`",
            cx.line_of(cx.key_start(&file.span))
        ),
    ));
}

/// The keys naming a file of the server's own, which `render` reads and rewrites in place.
fn server_files(t: &mut Temporal<Read>) -> impl Iterator<Item = &mut Checked<crate::ConfigPath>> {
    [&mut t.dynamic_config_file, &mut t.helm_values]
        .into_iter()
        .flatten()
}

/// The server's file is never one the tool writes itself (a rendered file, a descriptor, the
/// schema): `render` would replace the server's keys with its own and then refuse forever.
fn server_file_not_ours(env: &mut Environment<Read>, _: &Context, out: &mut Vec<Found>) {
    for file in server_files(&mut env.temporal) {
        recheck(file, out, |text| match tool_file(Path::new(text)) {
            None => Ok(()),
            Some(ours) => Err(format!(
                "names `{}`, {ours}; allowed: the file your server reads its dynamic config from, which `render` updates in place",
                text.escape_debug()
            )),
        });
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
fn server_file_inside(env: &mut Environment<Read>, cx: &Context, out: &mut Vec<Found>) {
    let Some(layout) = cx.checkout else {
        return;
    };
    let name = cx
        .file
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned());
    let rendered: Vec<PathBuf> = name
        .iter()
        .flat_map(|env| crate::RENDERED_FILES.map(|f| layout.rendered_dir(env).join(f)))
        .filter_map(|f| layout.resolve(&f).ok())
        .collect();
    for file in server_files(&mut env.temporal) {
        recheck(file, out, |text| match layout.resolve(Path::new(text)) {
            Err(e @ crate::FileError::Outside { .. }) => Err(e.to_string()),
            Ok(resolved) if rendered.contains(&resolved) => Err(format!(
                "`{}` is the file `render` writes for this environment (through a link); allowed: the file your server reads its dynamic config from",
                text.escape_debug()
            )),
            _ => Ok(()),
        });
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
fn lambda_arns_fit(env: &mut Environment<Read>, cx: &Context, out: &mut Vec<Found>) {
    arns_fit(
        &env.role.lambda_function_arns,
        "role.lambda_function_arns",
        cx,
        out,
    );
}

/// The functions of one role (`key`) fit in one parameter value and in its inline policy.
fn arns_fit(arns: &[Checked<LambdaArn>], key: &str, cx: &Context, out: &mut Vec<Found>) {
    let arns: Vec<&str> = arns.iter().map(|a| a.text.as_str()).collect();
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
    out.push(Found::error(cx.key_blame(key), message));
}

/// The most tags a descriptor may give: CloudFormation's limit of 50 a stack, less the one the
/// tool sets on every stack it creates (`temporal-serverless-workers:environment`).
const MAX_TAGS: usize = 49;

fn tag_count(env: &mut Environment<Read>, cx: &Context, out: &mut Vec<Found>) {
    let n = env.deploy.tags.len();
    if n > MAX_TAGS {
        out.push(Found::error(
            cx.value_blame("deploy.tags"),
            format!(
                "has {n} tags; allowed: at most {MAX_TAGS}, CloudFormation's limit of 50 less the tool's own tag"
            ),
        ));
    }
}

/// `temporal.intermediary_roles`: each role once in the chain, and not the server's own
/// identity (the first hop is assumed from it; STS would chain a role into itself).
fn intermediary_roles(env: &mut Environment<Read>, _: &Context, out: &mut Vec<Found>) {
    let server = env.temporal.server_role_arn.valid().map(|a| a.as_str());
    let mut seen: Vec<&str> = Vec::new();
    for hop in &env.temporal.intermediary_roles {
        let Some(arn) = hop.role_arn.valid().map(|a| a.as_str()) else {
            continue;
        };
        let at = || Blame::Value(hop.role_arn.span.clone());
        if seen.contains(&arn) {
            out.push(Found::error(
                at(),
                format!("`{arn}` is already a hop of the chain; allowed: each role once, in the order the server assumes them"),
            ));
        } else if server == Some(arn) {
            out.push(Found::error(
                at(),
                format!("`{arn}` is `temporal.server_role_arn`, the identity the server assumes the first hop from; allowed: the roles it assumes after its own, e.g. a hub role"),
            ));
        }
        seen.push(arn);
    }
}

/// The account the invocation role lives in, and what says so: `aws.account_id`, else the
/// account of the recorded `outputs.role_arn`. Not `temporal.server_role_arn`'s: the usual
/// layout has the server in one account and the role with the functions in another, which
/// needs no resource policy. `None` when neither is known (or the key it comes from is invalid).
fn role_account(env: &Environment<Read>) -> Option<(&'static str, String)> {
    if let Some(id) = &env.aws.account_id {
        return Some(("aws.account_id", id.valid()?.to_string()));
    }
    let role = &env.outputs.as_ref()?.role_arn.as_ref()?.value;
    let arn = arn::Arn::parse(role)?;
    Some(("the account of outputs.role_arn", arn.account.to_owned()))
}

/// The ARN (when valid) is in the environment's account (when that is known), or an error says
/// which it is in and what is `allowed`.
fn in_stack_account(
    env: &Environment<Read>,
    arn: &Checked<RoleArn>,
    allowed: &str,
    out: &mut Vec<Found>,
) {
    let Some(parsed) = arn.valid().and_then(|a| arn::Arn::parse(a)) else {
        return;
    };
    if let Some((source, account)) = role_account(env)
        && parsed.account != account
    {
        out.push(Found::error(
            Blame::Value(arn.span.clone()),
            format!(
                "is in account `{}`, not `{account}` ({source}); allowed: {allowed}",
                parsed.account
            ),
        ));
    }
}

/// The service role must be in the stack's account (when that is known): CloudFormation
/// assumes it there.
fn service_role_account(env: &mut Environment<Read>, _: &Context, out: &mut Vec<Found>) {
    if let Some(arn) = &env.deploy.cloudformation_role_arn {
        in_stack_account(
            env,
            arn,
            "a role in the stack's account, which CloudFormation can assume",
            out,
        );
    }
}

/// `aws.role_arn` is a role of the environment's account (the caller's account is then the
/// role's), and its external ID and session name come with it.
fn assumed_role(env: &mut Environment<Read>, _: &Context, out: &mut Vec<Found>) {
    let Some(arn) = &env.aws.role_arn else {
        let spans = [
            env.aws.external_id.as_ref().map(|v| v.span.clone()),
            env.aws.session_name.as_ref().map(|v| v.span.clone()),
        ];
        for span in spans.into_iter().flatten() {
            out.push(Found::error(
                Blame::Value(span),
                "is set without `aws.role_arn`; allowed: with `aws.role_arn`, the role it is for, or leave the key out",
            ));
        }
        return;
    };
    in_stack_account(
        env,
        arn,
        "a role of the environment's account, whose credentials every call then uses",
        out,
    );
}

/// Lambda functions in another region or account than the stack's work only with more set-up:
/// warnings, not errors.
fn lambda_accounts(env: &mut Environment<Read>, _: &Context, out: &mut Vec<Found>) {
    let Some(region) = env.aws.region.valid() else {
        return;
    };
    if env.stack_set.is_some() {
        // The functions are in the target accounts ([`stack_set_overrides`]).
        return;
    }
    let account = role_account(env);
    for arn in &env.role.lambda_function_arns {
        let Some(parsed) = arn.valid().and_then(|a| arn::Arn::parse(a)) else {
            continue;
        };
        let at = || Blame::Value(arn.span.clone());
        if !parsed.region.is_empty() && parsed.region != region.as_str() {
            out.push(Found::warning(at(), format!("is in region `{}` but `aws.region` is `{region}`; the Temporal server calls Lambda in the function's region", parsed.region)));
        }
        if let Some((account_src, account)) = &account
            && !parsed.account.is_empty()
            && parsed.account != account.as_str()
        {
            out.push(Found::warning(at(), format!("is in account `{}`, not `{account}` ({account_src}); cross-account invocation needs a resource policy on the function", parsed.account)));
        }
    }
}

/// `[outputs].role_arn` and `stack_id` must be this descriptor's stack and its role, in one
/// account (`aws.account_id` when set): a table copied from another descriptor would send
/// `register` and `status` to another stack's role.
fn recorded_stack(env: &mut Environment<Read>, _: &Context, out: &mut Vec<Found>) {
    let (Some(region), Some(stack), Some(outputs)) = (
        env.aws.region.valid(),
        env.role.stack_name.as_ref().and_then(|s| s.valid()),
        &env.outputs,
    ) else {
        return;
    };
    // The form of `[outputs]` is [`outputs_form`]'s to report.
    let (Some(role), Some(id)) = (&outputs.role_arn, &outputs.stack_id) else {
        return;
    };
    if env.stack_set.is_some() {
        return;
    }
    let (Some(name), Some(naming)) = (role_name(env), naming(env)) else {
        return;
    };
    let expected = match &env.aws.account_id {
        None => None,
        Some(id) => match id.valid() {
            Some(id) => Some(id.as_str()),
            None => return,
        },
    };
    let partition = region.partition();
    let role_account = match arn::check_recorded_role(&role.value, partition, name, stack, naming) {
        Ok(account) => Some(account),
        Err(msg) => {
            out.push(Found::error(Blame::Value(role.span.clone()), msg));
            None
        }
    };
    let stack_account = match arn::check_stack_id(&id.value, partition, region, stack) {
        Ok(account) => Some(account),
        Err(msg) => {
            out.push(Found::error(Blame::Value(id.span.clone()), msg));
            None
        }
    };
    let redeploy = "delete `[outputs]` and deploy again";
    if let Some(expected) = expected {
        for (recorded, account) in [(role, role_account), (id, stack_account)] {
            if let Some(account) = account
                && account != expected
            {
                out.push(Found::error(Blame::Value(recorded.span.clone()), format!("`{}` is in account `{account}`, but `aws.account_id` is `{expected}`; {redeploy}", recorded.value)));
            }
        }
    } else if let (Some(a), Some(b)) = (role_account, stack_account)
        && a != b
    {
        out.push(Found::error(
            Blame::Value(role.span.clone()),
            format!(
                "`{}` is in account `{a}`, but `outputs.stack_id` is in `{b}`; {redeploy}",
                role.value
            ),
        ));
    }
}

/// The functions the role that would invoke `function` may invoke, and the key that lists
/// them: with a StackSet, the override of the function's account when it has one.
fn covering<'e>(env: &'e Environment<Read>, function: &str) -> (&'e [Checked<LambdaArn>], String) {
    let default = (
        env.role.lambda_function_arns.as_slice(),
        "role.lambda_function_arns".to_owned(),
    );
    let (Some(set), Some(parsed)) = (&env.stack_set, arn::Arn::parse(function)) else {
        return default;
    };
    set.overrides
        .iter()
        .find(|(account, _)| account.text == parsed.account)
        .and_then(|(account, o)| {
            let arns = o.lambda_function_arns.as_deref()?;
            Some((
                arns,
                format!("stack_set.overrides.{}.lambda_function_arns", account.text),
            ))
        })
        .unwrap_or(default)
}

/// `role.stack_name` is required for a single stack; a StackSet names its instances' stacks
/// itself and needs the fixed role name (the guide's old `NAME-STACK_NAME` can never fit IAM's
/// 64 characters: an instance's stack is `StackSet-NAME-UUID`).
fn stack_or_stack_set(env: &mut Environment<Read>, cx: &Context, out: &mut Vec<Found>) {
    let Some(set) = &env.stack_set else {
        if env.role.stack_name.is_none() {
            let hint = crate::declared::missing_hint("role", "stack_name");
            out.push(Found::error(
                cx.missing_in("role.stack_name", "role"),
                format!("is missing; {hint} (or a `[stack_set]` table, to deploy the role to many accounts)"),
            ));
        }
        return;
    };
    if let Some(stack) = &env.role.stack_name {
        out.push(Found::warning(
            Blame::Key(stack.span.clone()),
            "has no use with `[stack_set]`: CloudFormation names each instance's stack `StackSet-NAME-UUID`; remove it",
        ));
    }
    let role_len = role_name(env).unwrap_or(Role::DEFAULT_NAME).len();
    let set_name = set.name.valid().map_or("NAME", |n| n.as_str()).to_owned();
    if let Some(naming) = &mut env.role.naming {
        recheck(naming, out, |n| {
            if n == Naming::FIXED {
                return Ok(());
            }
            let name = &set_name;
            Err(format!(
                "is `{}`, but a StackSet's role must have a fixed name: each instance's stack is named `StackSet-{name}-UUID` (36 characters of UUID), so `ROLE_NAME-STACK_NAME` would be at least {} characters, over IAM's 64; allowed: `{}` (the role is named exactly `role.name`), or leave the key out",
                n.escape_debug(),
                role_len + 1 + "StackSet-".len() + name.len() + 1 + 36,
                Naming::FIXED
            ))
        });
    }
}

/// Where a StackSet's instances go: OUs for `service-managed`, accounts for `self-managed`,
/// one region, never the management account; the keys of one model only.
fn stack_set_targets(env: &mut Environment<Read>, cx: &Context, out: &mut Vec<Found>) {
    let Some(set) = &env.stack_set else {
        return;
    };
    let Some(model) = set.permission_model.valid() else {
        return;
    };
    for extra in set.regions.iter().skip(1) {
        out.push(Found::error(
            Blame::Value(extra.span.clone()),
            format!(
                "`{}` is a second region: the role is an IAM role, global to its account, and its fixed name can exist once per account, so a second region's instance would fail (EntityAlreadyExists); allowed: exactly one region",
                extra.text.escape_debug()
            ),
        ));
    }
    let owner = owner_account(env);
    let delegated = set
        .call_as
        .as_ref()
        .and_then(|c| c.valid())
        .is_some_and(|c| c.is_delegated_admin());
    let refuse = |span: &std::ops::Range<usize>, why: &str, out: &mut Vec<Found>| {
        out.push(Found::error(Blame::Key(span.clone()), why.to_owned()));
    };
    if model.is_service_managed() {
        if set.organizational_units.is_empty() {
            out.push(Found::error(
                cx.missing_in("stack_set.organizational_units", "stack_set"),
                "is missing; a `service-managed` StackSet deploys to the accounts of organizational units: allowed: one or more OU IDs (`ou-...`) or the root (`r-...`)",
            ));
        }
        for account in &set.accounts {
            let why = if owner.as_deref() == account.valid().map(|a| a.as_str()) && !delegated {
                format!(
                    "`{}` is `aws.account_id`, the management account, which is never a target of a service-managed StackSet; allowed: accounts only with `permission_model = \"self-managed\"`; target the accounts' OUs in `organizational_units`",
                    account.text
                )
            } else {
                "is for `permission_model = \"self-managed\"`; a service-managed StackSet targets organizational units: allowed: the accounts' OUs in `organizational_units`".to_owned()
            };
            out.push(Found::error(Blame::Value(account.span.clone()), why));
        }
        let self_only = [
            (
                set.administration_role_arn.as_ref().map(|a| &a.span),
                "CloudFormation reaches the accounts of an organization through its own service-linked roles",
            ),
            (
                set.execution_role_name.as_ref().map(|a| &a.span),
                "CloudFormation reaches the accounts of an organization through its own service-linked roles",
            ),
        ];
        for (span, why) in self_only {
            if let Some(span) = span {
                refuse(
                    span,
                    &format!("is for `permission_model = \"self-managed\"`: {why}; remove it"),
                    out,
                );
            }
        }
        // The management account never gets an instance: an override for it is a target
        // that cannot be.
        if !delegated && let Some(owner) = &owner {
            for account in set.overrides.keys() {
                if account.valid().is_some_and(|a| a.as_str() == owner) {
                    out.push(Found::error(
                        Blame::Value(account.span.clone()),
                        format!("`{owner}` is `aws.account_id`, the management account, which is never a target of a service-managed StackSet; allowed: an account of `organizational_units`"),
                    ));
                }
            }
        }
    } else {
        if set.accounts.is_empty() {
            out.push(Found::error(
                cx.missing_in("stack_set.accounts", "stack_set"),
                "is missing; a `self-managed` StackSet deploys to the accounts it lists: allowed: one or more 12-digit account IDs",
            ));
        }
        for ou in &set.organizational_units {
            out.push(Found::error(
                Blame::Value(ou.span.clone()),
                "is for `permission_model = \"service-managed\"`; a self-managed StackSet targets accounts: allowed: the account IDs in `accounts`, or `permission_model = \"service-managed\"`",
            ));
        }
        let service_only = [
            (
                set.call_as
                    .as_ref()
                    .filter(|c| c.valid().is_some_and(|c| c.is_delegated_admin()))
                    .map(|c| &c.span),
                "`delegated-admin` is for `permission_model = \"service-managed\"`; allowed: `self`, or leave the key out",
            ),
            (
                Some(&set.auto_deployment.span).filter(|s| !s.is_empty()),
                "is for `permission_model = \"service-managed\"` (AutoDeployment follows OU membership); remove it",
            ),
            (
                Some(&set.retain_stacks_on_account_removal.span).filter(|s| !s.is_empty()),
                "is for `permission_model = \"service-managed\"` (AutoDeployment follows OU membership); remove it",
            ),
        ];
        for (span, why) in service_only {
            if let Some(span) = span {
                refuse(span, why, out);
            }
        }
        for account in set.overrides.keys() {
            if account.valid().is_some() && !set.accounts.iter().any(|a| a.text == account.text) {
                out.push(Found::error(
                    Blame::Value(account.span.clone()),
                    format!("`{}` is not in `stack_set.accounts`, so it gets no instance; allowed: an override for an account of `accounts`", account.text),
                ));
            }
        }
    }
}

/// The account that owns the StackSet, as `aws.account_id` names it (when valid).
fn owner_account(env: &Environment<Read>) -> Option<String> {
    env.aws
        .account_id
        .as_ref()
        .and_then(|a| a.valid())
        .map(|a| a.to_string())
}

/// A StackSet's operation preferences: a count or a percentage, each in AWS's range.
fn stack_set_preferences(env: &mut Environment<Read>, cx: &Context, out: &mut Vec<Found>) {
    let Some(set) = &env.stack_set else {
        return;
    };
    let pairs = [
        (
            set.max_concurrent_count.is_some(),
            set.max_concurrent_percentage.is_some(),
            "max_concurrent",
        ),
        (
            set.failure_tolerance_count.is_some(),
            set.failure_tolerance_percentage.is_some(),
            "failure_tolerance",
        ),
    ];
    for (count, percentage, what) in pairs {
        if count && percentage {
            out.push(Found::error(
                cx.value_blame(&format!("stack_set.{what}_percentage")),
                format!("cannot be set beside `{what}_count`; allowed: one of the two"),
            ));
        }
    }
    if set.max_concurrent_count == Some(0) {
        out.push(Found::error(
            cx.value_blame("stack_set.max_concurrent_count"),
            "is 0; allowed: at least 1 account at once",
        ));
    }
    if let Some(p) = set.max_concurrent_percentage
        && !(1..=100).contains(&p)
    {
        out.push(Found::error(
            cx.value_blame("stack_set.max_concurrent_percentage"),
            format!("is {p}; allowed: 1 to 100 (percent of the accounts)"),
        ));
    }
    if let Some(p) = set.failure_tolerance_percentage
        && p > 100
    {
        out.push(Found::error(
            cx.value_blame("stack_set.failure_tolerance_percentage"),
            format!("is {p}; allowed: 0 to 100 (percent of the accounts)"),
        ));
    }
}

/// Each override's functions are its account's, fit in one parameter and one policy.
fn stack_set_overrides(env: &mut Environment<Read>, cx: &Context, out: &mut Vec<Found>) {
    let Some(set) = &env.stack_set else {
        return;
    };
    for (account, o) in &set.overrides {
        let Some(arns) = &o.lambda_function_arns else {
            continue;
        };
        let key = format!("stack_set.overrides.{}.lambda_function_arns", account.text);
        arns_fit(arns, &key, cx, out);
        let Some(account) = account.valid() else {
            continue;
        };
        for arn in arns {
            if let Some(parsed) = arn.valid().and_then(|a| arn::Arn::parse(a))
                && parsed.account != account.as_str()
            {
                out.push(Found::warning(
                    Blame::Value(arn.span.clone()),
                    format!("is in account `{}`, not `{account}` (the account of this override); cross-account invocation needs a resource policy on the function", parsed.account),
                ));
            }
        }
    }
}

/// The form of `[outputs]` goes with the descriptor's: `role_arn` and `stack_id` for a single
/// stack, `stack_set_id` and `role_arns` for a StackSet (each account's role named as the
/// template names it, in that account).
fn outputs_form(env: &mut Environment<Read>, cx: &Context, out: &mut Vec<Found>) {
    let Some(outputs) = &env.outputs else {
        return;
    };
    let redeploy = "delete `[outputs]` and deploy again";
    let missing = |key: &str, out: &mut Vec<Found>| {
        let hint = crate::declared::missing_hint("outputs", key);
        out.push(Found::error(
            cx.missing_in(&format!("outputs.{key}"), "outputs"),
            format!("is missing; {hint}"),
        ));
    };
    let Some(set) = &env.stack_set else {
        for (key, present) in [
            ("role_arn", outputs.role_arn.is_some()),
            ("stack_id", outputs.stack_id.is_some()),
        ] {
            if !present {
                missing(key, out);
            }
        }
        if let Some(id) = &outputs.stack_set_id {
            out.push(Found::error(
                Blame::Key(id.span.clone()),
                format!("is a StackSet's, but this descriptor has no `[stack_set]`; {redeploy}"),
            ));
        }
        if !outputs.role_arns.is_empty() {
            out.push(Found::error(
                cx.key_blame("outputs.role_arns"),
                format!("is a StackSet's, but this descriptor has no `[stack_set]`; {redeploy}"),
            ));
        }
        return;
    };
    for key in [&outputs.role_arn, &outputs.stack_id].into_iter().flatten() {
        out.push(Found::error(
            Blame::Key(key.span.clone()),
            format!("is a single stack's, but this descriptor deploys a StackSet (`[stack_set]`); {redeploy}"),
        ));
    }
    match &outputs.stack_set_id {
        None => missing("stack_set_id", out),
        Some(id) => {
            if let Some(name) = set.name.valid()
                && id
                    .value
                    .strip_prefix(&format!("{name}:"))
                    .is_none_or(str::is_empty)
            {
                out.push(Found::error(
                    Blame::Value(id.span.clone()),
                    format!(
                        "`{}` is not the ID of StackSet `{name}`; allowed: `{name}:ID`, as `{} deploy` records it; {redeploy}",
                        id.value.escape_debug(),
                        safe_text::program()
                    ),
                ));
            }
        }
    }
    let (Some(region), Some(name)) = (env.aws.region.valid(), role_name(env)) else {
        return;
    };
    let partition = region.partition();
    for (account, arn) in &outputs.role_arns {
        let (Some(account), Some(arn_text)) = (account.valid(), arn.valid()) else {
            continue;
        };
        let expected = format!("arn:{partition}:iam::{account}:role/{name}");
        if arn_text.as_str() != expected {
            out.push(Found::error(
                Blame::Value(arn.span.clone()),
                format!(
                    "`{}` is not this StackSet's role in account `{account}`; allowed: `{expected}`, as `{} deploy` records it; {redeploy}",
                    arn_text.escape_debug(),
                    safe_text::program()
                ),
            ));
        }
    }
}

/// `[sandbox]`: the tool will start services at the environment's addresses, so they must be
/// loopback addresses (never every interface, never another machine).
fn sandbox(env: &mut Environment<Read>, _: &Context, out: &mut Vec<Found>) {
    if env.sandbox.is_none() {
        return;
    }
    let loopback = "the sandbox listens only on loopback: 127.0.0.1, [::1] or localhost";
    match &env.aws.endpoint_url {
        None => out.push(Found::error(
            Blame::At {
                key: "aws.endpoint_url".into(),
                offset: None,
            },
            format!("is missing; `[sandbox]` needs the emulator's URL, e.g. `http://127.0.0.1:5050` ({loopback})"),
        )),
        Some(url) => {
            if let Some(u) = url.valid()
                && (!local_endpoint::is_loopback(u) || !u.starts_with("http://"))
            {
                out.push(Found::error(
                    Blame::Key(url.span.clone()),
                    format!("`{}` cannot be the sandbox's emulator; allowed: `http://HOST:PORT` where HOST is a loopback address ({loopback}), or remove `[sandbox]`", u.escape_debug()),
                ));
            }
        }
    }
    if let Some(address) = &env.temporal.address
        && let Some(a) = address.valid()
        && !local_endpoint::is_loopback(a)
    {
        out.push(Found::error(
            Blame::Key(address.span.clone()),
            format!("`{}` cannot be the sandbox's Temporal dev server; allowed: `HOST:PORT` where HOST is a loopback address ({loopback}), or remove `[sandbox]`", a.escape_debug()),
        ));
    }
}

/// Each Worker Deployment must be in an enabled namespace, name a function the role may invoke,
/// and be listed once; a smoke workflow and its task queue come together, and an input needs
/// the workflow. `temporal.address` may be left out: `register` then takes the frontend from
/// `TEMPORAL_ADDRESS` or a Temporal CLI profile, and says so when neither has one.
fn worker_deployments(env: &mut Environment<Read>, cx: &Context, out: &mut Vec<Found>) {
    let enabled: Option<Vec<&str>> = env.temporal.namespaces.as_ref().map(|ns| {
        ns.iter()
            .filter_map(|n| n.valid().map(|n| n.as_str()))
            .collect()
    });
    let mut ids: Vec<String> = Vec::new();
    for (i, wd) in env.worker_deployments.iter().enumerate() {
        let namespace = wd.namespace.valid();
        if let Some(ns) = namespace
            && let Some(enabled) = &enabled
            && !enabled.contains(&ns.as_str())
        {
            out.push(Found::error(Blame::Value(wd.namespace.span.clone()), format!("`{ns}` is not in `temporal.namespaces` ({}), so the Worker Controller is not enabled for it; add it there", enabled.join(", "))));
        }
        let lambda = wd.lambda_function_arn.valid();
        if let Some(a) = lambda {
            let (allowed, key) = covering(env, a);
            if !allowed
                .iter()
                .any(|allowed| arn::resource_matches(&allowed.text, a))
            {
                out.push(Found::error(
                    Blame::Value(wd.lambda_function_arn.span.clone()),
                    format!("`{a}` is not covered by `{key}`, so the role could not invoke it; add it (or `NAME:*` for every version) there and deploy"),
                ));
            }
        }
        let section = format!("worker_deployments[{i}]");
        // A smoke workflow and its task queue come together; an input needs the workflow.
        let needs = match (&wd.smoke_workflow, &wd.smoke_task_queue, &wd.smoke_input) {
            (Some(w), None, _) => Some(("smoke_workflow", &w.span, "smoke_task_queue")),
            (None, Some(q), _) => Some(("smoke_task_queue", &q.span, "smoke_workflow")),
            (None, None, Some(i)) => Some(("smoke_input", &i.span, "smoke_workflow")),
            _ => None,
        };
        if let Some((present, at, missing)) = needs {
            let what = if missing == "smoke_task_queue" {
                "task queue the worker polls, e.g. `sample-worker`".to_owned()
            } else {
                format!(
                    "workflow type `{} smoke` starts, e.g. `Greet`",
                    safe_text::program()
                )
            };
            out.push(Found::error(
                Blame::At {
                    key: format!("{section}.{missing}"),
                    offset: Some(at.start),
                },
                format!("is missing; `{present}` needs it: the {what}"),
            ));
        }
        if let (Some(ns), Some(name), Some(build_id), Some(_)) =
            (namespace, wd.name.valid(), wd.build_id.valid(), lambda)
        {
            let id = format!("{ns}/{name}@{build_id}");
            if ids.contains(&id) {
                out.push(Found::error(
                    cx.value_blame(&section),
                    format!("`{id}` is listed twice"),
                ));
            }
            ids.push(id);
        }
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use crate::{LoadError, Problem, Severity, load_str};

    /// A service-managed StackSet over one OU, owned by the management account.
    const SET: &str = r#"[aws]
region = "us-east-1"
account_id = "123456789012"

[temporal]
server_role_arn = "arn:aws:iam::123456789012:role/temporal-server"

[role]
name = "Temporal-Serverless-Worker"
external_id = "abcdef-12345"
lambda_function_arns = ["arn:aws:lambda:us-east-1:111111111111:function:worker:*"]

[stack_set]
name = "temporal-invocation-role"
permission_model = "service-managed"
organizational_units = ["ou-abcd-12345678"]
regions = ["us-east-1"]
"#;

    fn load(src: &str) -> crate::Environment {
        match load_str(Path::new("environments/org.toml"), src) {
            Ok(loaded) => loaded.env,
            Err(e) => panic!("{e}"),
        }
    }

    fn errors(src: &str) -> Vec<Problem> {
        match load_str(Path::new("environments/org.toml"), src) {
            Err(LoadError::Invalid(p)) => p
                .into_iter()
                .filter(|p| p.severity == Severity::Error)
                .collect(),
            other => panic!("expected errors, got {other:?}"),
        }
    }

    /// The one error of `src`: its key, line and message.
    fn the_error(src: &str) -> (String, usize, String) {
        let found = errors(src);
        assert_eq!(found.len(), 1, "{found:#?}");
        let p = &found[0];
        let line = p.position.map(|(l, _)| l).unwrap_or_default();
        (p.key.clone(), line, p.message.clone())
    }

    fn line_of(src: &str, needle: &str) -> usize {
        src.lines()
            .position(|l| l.contains(needle))
            .unwrap_or_else(|| panic!("no `{needle}` in {src}"))
            + 1
    }

    #[test]
    fn the_contract_loads_without_a_stack_name_and_names_its_role_fixed() {
        let env = load(SET);
        let set = env.stack_set().expect("[stack_set]");
        assert_eq!(set.name, "temporal-invocation-role");
        assert!(set.is_service_managed());
        assert!(set.auto_deployment && !set.retain_stacks_on_account_removal);
        assert_eq!(set.region().map(|r| r.as_str()), Some("us-east-1"));
        assert_eq!(env.role_naming(), crate::Naming::Fixed);
        assert_eq!(env.role_name(), "Temporal-Serverless-Worker");
        assert!(env.single_stack("status").is_err());
        assert!(env.invocation_roles().is_empty());
    }

    #[test]
    fn a_single_stack_still_needs_its_stack_name() {
        let src = SET.split("[stack_set]").next().unwrap();
        let (key, line, message) = the_error(src);
        assert_eq!(key, "role.stack_name");
        assert_eq!(line, line_of(src, "[role]"));
        assert!(
            message.starts_with("is missing; allowed: a CloudFormation stack name")
                && message.contains("[stack_set]"),
            "{message}"
        );
    }

    #[test]
    fn a_role_name_over_64_characters_is_refused() {
        let long = "R".repeat(65);
        let src = SET.replace("Temporal-Serverless-Worker", &long);
        let (key, line, message) = the_error(&src);
        assert_eq!((key.as_str(), line), ("role.name", line_of(&src, &long)));
        assert!(message.contains("1 to 64 characters"), "{message}");
    }

    #[test]
    fn the_per_stack_role_name_cannot_be_a_stack_sets() {
        let src = SET.replace("[role]\n", "[role]\nnaming = \"per-stack\"\n");
        let (key, line, message) = the_error(&src);
        assert_eq!(
            (key.as_str(), line),
            ("role.naming", line_of(&src, "per-stack"))
        );
        assert!(
            message.contains("`StackSet-temporal-invocation-role-UUID`")
                && message.contains("over IAM's 64")
                && message.contains("allowed: `fixed`"),
            "{message}"
        );
        // `fixed` is what a StackSet is anyway.
        load(&SET.replace("[role]\n", "[role]\nnaming = \"fixed\"\n"));
    }

    #[test]
    fn a_second_region_is_refused_at_its_entry() {
        let src = SET.replace(
            r#"regions = ["us-east-1"]"#,
            r#"regions = ["us-east-1", "eu-west-1"]"#,
        );
        let (key, _, message) = the_error(&src);
        assert_eq!(key, "stack_set.regions[1]");
        assert!(
            message.starts_with("`eu-west-1` is a second region")
                && message.contains("allowed: exactly one region"),
            "{message}"
        );
        let (key, _, message) =
            the_error(&SET.replace(r#"regions = ["us-east-1"]"#, "regions = []"));
        assert_eq!(key, "stack_set.regions");
        assert!(
            message.starts_with("is empty; allowed: one region code"),
            "{message}"
        );
    }

    #[test]
    fn an_ou_or_account_id_of_the_wrong_shape_is_refused() {
        let src = SET.replace("ou-abcd-12345678", "ou-ABCD-123");
        let (key, line, message) = the_error(&src);
        assert_eq!(
            (key.as_str(), line),
            (
                "stack_set.organizational_units[0]",
                line_of(&src, "ou-ABCD")
            )
        );
        assert!(
            message.starts_with("`ou-ABCD-123` is not an organizational unit ID; allowed:"),
            "{message}"
        );
        load(&SET.replace("ou-abcd-12345678", "r-ab12"));
        let selfm = SET.replace("service-managed", "self-managed").replace(
            r#"organizational_units = ["ou-abcd-12345678"]"#,
            r#"accounts = ["11111111111"]"#,
        );
        let (key, _, message) = the_error(&selfm);
        assert_eq!(key, "stack_set.accounts[0]");
        assert!(message.contains("allowed: 12 digits"), "{message}");
    }

    #[test]
    fn the_management_account_is_never_a_target_of_a_service_managed_stack_set() {
        let src = format!(
            "{SET}\n[stack_set.overrides.\"123456789012\"]\nexternal_id = \"other-ext-id\"\n"
        );
        let (key, line, message) = the_error(&src);
        assert_eq!(key, "stack_set.overrides.123456789012");
        assert_eq!(line, line_of(&src, "overrides"));
        assert!(
            message.contains("the management account, which is never a target"),
            "{message}"
        );
        let listed = SET.replace("regions =", "accounts = [\"123456789012\"]\nregions =");
        let (key, _, message) = the_error(&listed);
        assert_eq!(key, "stack_set.accounts[0]");
        assert!(message.contains("the management account"), "{message}");
        // A delegated administrator is a member account: an override for it is a target.
        load(&src.replace("regions =", "call_as = \"delegated-admin\"\nregions ="));
    }

    #[test]
    fn each_permission_model_has_its_own_targets() {
        let with_ous = SET.replace("service-managed", "self-managed");
        let found = errors(&with_ous);
        let keys: Vec<&str> = found.iter().map(|p| p.key.as_str()).collect();
        assert_eq!(
            keys,
            ["stack_set.accounts", "stack_set.organizational_units[0]"],
            "{found:#?}"
        );
        assert!(
            found[0]
                .message
                .starts_with("is missing; a `self-managed` StackSet")
        );
        assert!(
            found[1]
                .message
                .contains("is for `permission_model = \"service-managed\"`")
        );
        let no_ous = SET.replace(r#"organizational_units = ["ou-abcd-12345678"]"#, "");
        let (key, _, message) = the_error(&no_ous);
        assert_eq!(key, "stack_set.organizational_units");
        assert!(
            message.starts_with("is missing; a `service-managed` StackSet"),
            "{message}"
        );
        let self_managed = SET.replace("service-managed", "self-managed").replace(
            r#"organizational_units = ["ou-abcd-12345678"]"#,
            "accounts = [\"111111111111\"]\nauto_deployment = true\nexecution_role_name = \"exec\"",
        );
        let (key, _, message) = the_error(&self_managed);
        assert_eq!(key, "stack_set.auto_deployment");
        assert!(message.contains("service-managed"), "{message}");
        let fine = self_managed.replace("auto_deployment = true\n", "");
        assert_eq!(load(&fine).stack_set().unwrap().accounts.len(), 1);
        let admin = SET.replace("regions =", "execution_role_name = \"exec\"\nregions =");
        assert_eq!(the_error(&admin).0, "stack_set.execution_role_name");
    }

    #[test]
    fn operation_preferences_take_a_count_or_a_percentage_in_range() {
        let both = SET.replace(
            "regions =",
            "max_concurrent_count = 2\nmax_concurrent_percentage = 50\nregions =",
        );
        assert_eq!(the_error(&both).0, "stack_set.max_concurrent_percentage");
        let over = SET.replace("regions =", "failure_tolerance_percentage = 101\nregions =");
        let (key, _, message) = the_error(&over);
        assert_eq!(key, "stack_set.failure_tolerance_percentage");
        assert!(message.contains("allowed: 0 to 100"), "{message}");
        let fine = SET.replace(
            "regions =",
            "max_concurrent_percentage = 25\nfailure_tolerance_count = 1\nconcurrency_mode = \"soft-failure-tolerance\"\nregions =",
        );
        assert_eq!(
            load(&fine).stack_set().unwrap().failure_tolerance_count,
            Some(1)
        );
    }

    const RECORDED: &str = "\n[outputs]\nstack_set_id = \"temporal-invocation-role:0f1e-42\"\ndeployed_at = \"2026-11-25T10:00:00Z\"\n\n[outputs.role_arns]\n111111111111 = \"arn:aws:iam::111111111111:role/Temporal-Serverless-Worker\"\n";

    /// `doctor` reads a StackSet account's functions through that account's recorded role, and
    /// the others with the server's own credentials (as before the first deploy).
    #[test]
    fn a_stack_sets_functions_are_read_through_the_recorded_roles() {
        let set = SET.replace(
            "function:worker:*\"]",
            "function:worker\", \"arn:aws:lambda:us-east-1:222222222222:function:other\"]",
        );
        assert!(load(&set).functions_through_roles().is_empty());
        assert_eq!(
            load(&format!("{set}{RECORDED}")).functions_through_roles(),
            ["arn:aws:lambda:us-east-1:111111111111:function:worker"]
        );
    }

    #[test]
    fn outputs_of_a_stack_set_hold_each_accounts_role() {
        let env = load(&format!("{SET}{RECORDED}"));
        let roles: Vec<_> = env
            .invocation_roles()
            .into_iter()
            .map(|r| (r.account, r.role_arn))
            .collect();
        assert_eq!(
            roles,
            [(
                "111111111111".to_owned(),
                "arn:aws:iam::111111111111:role/Temporal-Serverless-Worker".to_owned()
            )]
        );
        let (role, external_id) = env
            .invocation_for("arn:aws:lambda:us-east-1:111111111111:function:worker:3")
            .unwrap();
        assert_eq!(
            role,
            "arn:aws:iam::111111111111:role/Temporal-Serverless-Worker"
        );
        assert_eq!(external_id.as_str(), "abcdef-12345");
        let err = env
            .invocation_for("arn:aws:lambda:us-east-1:222222222222:function:worker")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("account `222222222222`")
                && err.contains(
                    "`[outputs.role_arns]` of `environments/org.toml` has no `\"222222222222\"`"
                ),
            "{err}"
        );
        // Another account's ARN under an account, a single stack's keys, a foreign StackSet.
        let wrong = format!("{SET}{RECORDED}").replace(
            "111111111111 = \"arn:aws:iam::111111111111",
            "111111111111 = \"arn:aws:iam::222222222222",
        );
        let (key, _, message) = the_error(&wrong);
        assert_eq!(key, "outputs.role_arns.111111111111");
        assert!(
            message
                .contains("allowed: `arn:aws:iam::111111111111:role/Temporal-Serverless-Worker`"),
            "{message}"
        );
        let single = format!("{SET}{RECORDED}").replace(
            "[outputs]\n",
            "[outputs]\nrole_arn = \"arn:aws:iam::123456789012:role/Temporal-Serverless-Worker\"\n",
        );
        let (key, _, message) = the_error(&single);
        assert_eq!(key, "outputs.role_arn");
        assert!(message.contains("is a single stack's"), "{message}");
        let other =
            format!("{SET}{RECORDED}").replace("temporal-invocation-role:0f1e", "roles:0f1e");
        assert_eq!(the_error(&other).0, "outputs.stack_set_id");
    }

    #[test]
    fn a_single_stacks_outputs_cannot_hold_a_stack_sets() {
        let single = SET.split("[stack_set]").next().unwrap().replace(
            "[role]\n",
            "[role]\nstack_name = \"s\"\nnaming = \"fixed\"\n",
        );
        let src = format!(
            "{single}\n[outputs]\nrole_arn = \"arn:aws:iam::123456789012:role/Temporal-Serverless-Worker\"\nstack_id = \"arn:aws:cloudformation:us-east-1:123456789012:stack/s/1\"\ndeployed_at = \"2026-11-25T10:00:00Z\"\nstack_set_id = \"x:1\"\n"
        );
        let (key, _, message) = the_error(&src);
        assert_eq!(key, "outputs.stack_set_id");
        assert!(message.contains("no `[stack_set]`"), "{message}");
        let missing = src
            .replace(
                "stack_id = \"arn:aws:cloudformation:us-east-1:123456789012:stack/s/1\"\n",
                "",
            )
            .replace("stack_set_id = \"x:1\"\n", "");
        let (key, line, message) = the_error(&missing);
        assert_eq!(
            (key.as_str(), line),
            ("outputs.stack_id", line_of(&missing, "[outputs]"))
        );
        assert!(
            message.starts_with("is missing; `[outputs]` is written by"),
            "{message}"
        );
    }

    #[test]
    fn a_version_is_covered_by_its_accounts_override() {
        let version = "\n[[worker_deployments]]\nnamespace = \"default\"\nname = \"w\"\nbuild_id = \"1\"\nlambda_function_arn = \"arn:aws:lambda:us-east-1:222222222222:function:other:1\"\n";
        let src = format!("{SET}{version}");
        let (key, _, message) = the_error(&src);
        assert_eq!(key, "worker_deployments[0].lambda_function_arn");
        assert!(
            message.contains("not covered by `role.lambda_function_arns`"),
            "{message}"
        );
        let with_override = format!(
            "{SET}\n[stack_set.overrides.\"222222222222\"]\nlambda_function_arns = [\"arn:aws:lambda:us-east-1:222222222222:function:other:*\"]\nexternal_id = \"team-two-ext\"\n{version}"
        );
        let env = load(&with_override);
        let set = env.stack_set().unwrap();
        let account = "222222222222".parse().unwrap();
        assert_eq!(
            set.external_id_of(&env.role, &account).as_str(),
            "team-two-ext"
        );
        assert_eq!(set.lambda_function_arns_of(&env.role, &account).len(), 1);
        let uncovered = with_override.replace("function:other:*", "function:else:*");
        let (_, _, message) = the_error(&uncovered);
        assert!(
            message
                .contains("not covered by `stack_set.overrides.222222222222.lambda_function_arns`"),
            "{message}"
        );
    }
}
