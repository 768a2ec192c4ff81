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
    let lambdas = env.role.lambda_function_arns.iter_mut().chain(
        env.worker_deployments
            .iter_mut()
            .map(|w| &mut w.lambda_function_arn),
    );
    for arn in lambdas {
        recheck(arn, out, |a| LambdaArn::parse_in(a, p).map(drop));
    }
}

/// How the role is named ([`Naming::resolve`] of what was read); `None` when `role.naming` or
/// `role.name` is set but invalid (reported by its own rule).
fn naming(env: &Environment<Read>) -> Option<Naming> {
    let explicit = match &env.role.naming {
        None => None,
        Some(naming) => Some(naming.valid()?.as_str()),
    };
    let recorded = env.outputs.as_ref().map(|o| o.role_arn.value.as_str());
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
    let Some(stack) = env.role.stack_name.valid().map(|s| s.to_string()) else {
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
            if let Err(msg) = RoleName::parse_in(Role::DEFAULT_NAME, &stack, naming) {
                out.push(Found::error(
                    Blame::Key(env.role.stack_name.span.clone()),
                    msg,
                ));
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
    let arns: Vec<&str> = env
        .role
        .lambda_function_arns
        .iter()
        .map(|a| a.text.as_str())
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
    out.push(Found::error(
        cx.key_blame("role.lambda_function_arns"),
        message,
    ));
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
    let role = &env.outputs.as_ref()?.role_arn.value;
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
        env.role.stack_name.valid(),
        &env.outputs,
    ) else {
        return;
    };
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
    let (role, id) = (&outputs.role_arn, &outputs.stack_id);
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
        if let Some(a) = lambda
            && !env
                .role
                .lambda_function_arns
                .iter()
                .any(|allowed| arn::resource_matches(&allowed.text, a))
        {
            out.push(Found::error(
                Blame::Value(wd.lambda_function_arn.span.clone()),
                format!("`{a}` is not covered by `role.lambda_function_arns`, so the role could not invoke it; add it (or `NAME:*` for every version) there and deploy"),
            ));
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
