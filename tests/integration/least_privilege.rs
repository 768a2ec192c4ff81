//! The policies `policy --for USE` prints, proven on an emulator that enforces IAM actions:
//! each command succeeds as an IAM user holding exactly its policy's actions, and fails,
//! naming the action, as a user holding all of them but one (a denied CreateChangeSet makes
//! `plan` fall back to a read-only plan, saying why); `doctor` and the Temporal server's own
//! AssumeRole likewise, as the principal the role trusts. moto checks no resources for
//! CloudFormation, so every user's actions are granted on `*` here; the scoping is proven by
//! `aws::actions`' unit tests.
//! The IAM actions CloudFormation calls as the caller (no service role) are made inside the
//! emulator, not signed by the tool: moto cannot prove them, so they are granted and not
//! removed one by one.

use std::collections::{BTreeMap, BTreeSet};
use std::process::Command;

use serde_json::Value;

use crate::support::{ACCOUNT, Checkout, Run, emulator_for_account, python_stdout, safe_aws_env};

/// The statement of the IAM actions CloudFormation calls as the caller.
const AS_CALLER_SID: &str = "CloudFormationActsAsTheCallerWithoutAServiceRole";

/// Actions a use needs only on a path these scenarios do not take, and why.
const NOT_EXERCISED: &[(&str, &str, &str)] = &[
    (
        "plan",
        "cloudformation:DescribeStackEvents",
        "only while a stack operation in progress is waited for",
    ),
    (
        "plan-read-only",
        "cloudformation:DescribeStackEvents",
        "only while a stack operation in progress is waited for",
    ),
    (
        "plan",
        "cloudformation:DeleteStack",
        "the emulator leaves no empty REVIEW_IN_PROGRESS stack once a new stack's change set is \
         deleted; AWS does, and plan deletes it",
    ),
    (
        "deploy",
        "cloudformation:DeleteChangeSet",
        "only for a declined, empty or interrupted change set",
    ),
    (
        "deploy",
        "cloudformation:DeleteStack",
        "only for --replace-failed, or the empty stack of a declined new stack",
    ),
];

/// A descriptor of stack `stack` on the emulator at `url`.
fn descriptor(url: &str, stack: &str) -> String {
    format!(
        r#"[aws]
region = "us-east-1"
endpoint_url = "{url}"

[temporal]
server_role_arn = "arn:aws:iam::{ACCOUNT}:user/moto"
namespaces = ["orders"]

[role]
stack_name = "{stack}"
external_id = "lp-external-id"
lambda_function_arns = ["arn:aws:lambda:us-east-1:{ACCOUNT}:function:lp-worker"]

[deploy]
confirm = false
"#
    )
}

/// Runs `statement` with boto3 `client`s of the emulator at `url`, signing with `keys`
/// (`None`: the dummy keys, before IAM is enforced), and returns what it prints.
fn boto3(url: &str, keys: Option<&(String, String)>, statement: &str) -> String {
    let (id, secret) = keys.map_or(("testing", "testing"), |(i, s)| (i.as_str(), s.as_str()));
    python_stdout(&format!(
        "import boto3, json\n\
         def client(service):\n    return boto3.client(service, endpoint_url='{url}', region_name='us-east-1', aws_access_key_id='{id}', aws_secret_access_key='{secret}')\n\
         {statement}\n"
    ))
}

/// Creates IAM user `name` of `account` (the `x-moto-account-id` header) whose one inline
/// policy allows `actions` on `*` (no policy when there are none); returns its keys.
pub(crate) fn user(
    url: &str,
    account: &str,
    name: &str,
    actions: &BTreeSet<String>,
) -> (String, String) {
    let document = serde_json::json!({
        "Version": "2012-10-17",
        "Statement": [{ "Effect": "Allow", "Action": actions, "Resource": "*" }],
    });
    let put = if actions.is_empty() {
        String::new()
    } else {
        format!(
            "iam.put_user_policy(UserName='{name}', PolicyName='tool', PolicyDocument=json.dumps({document}))\n"
        )
    };
    let out = boto3(
        url,
        None,
        &format!(
            "iam = client('iam')\n\
             iam.meta.events.register('before-sign.*.*', lambda request, **_: request.headers.__setitem__('x-moto-account-id', '{account}'))\n\
             iam.create_user(UserName='{name}')\n\
             {put}\
             k = iam.create_access_key(UserName='{name}')['AccessKey']\n\
             print(k['AccessKeyId'] + ' ' + k['SecretAccessKey'])"
        ),
    );
    let (id, secret) = out.split_once(' ').unwrap();
    (id.to_owned(), secret.to_owned())
}

/// The actions of `use_`'s policy for `env`, as the command prints them: (every action, the
/// actions of the tool's own calls).
pub(crate) fn actions(
    co: &Checkout,
    env: &str,
    use_: &str,
) -> (BTreeSet<String>, BTreeSet<String>) {
    let run = co.xtask(&["policy", env, "--for", use_]);
    run.success();
    let doc: Value = serde_json::from_str(&run.stdout).unwrap();
    let mut all = BTreeSet::new();
    let mut own = BTreeSet::new();
    for s in doc["Statement"].as_array().unwrap() {
        for a in s["Action"].as_array().unwrap() {
            let a = a.as_str().unwrap().to_owned();
            assert_ne!(a, "iam:PassRole", "no service role here");
            if s["Sid"] != AS_CALLER_SID {
                own.insert(a.clone());
            }
            all.insert(a);
        }
    }
    (all, own)
}

/// What is wrong when `use_` without `missing` failed in a scenario (`named`) or in none: a
/// needed action must fail one, unless `not_exercised` excuses it, and an excused one none.
pub(crate) fn unexplained(
    not_exercised: &[(&str, &str, &str)],
    use_: &str,
    missing: &str,
    named: bool,
) -> Option<String> {
    let excused = not_exercised
        .iter()
        .any(|(u, a, _)| *u == use_ && *a == missing);
    (named == excused).then(|| {
        format!(
            "{use_} without {missing}: {}",
            if named {
                "failed, but NOT_EXERCISED says no scenario needs it"
            } else {
                "succeeded in every scenario"
            }
        )
    })
}

/// Runs the tool in `co` as the emulator user of `keys`.
pub(crate) fn as_user(co: &Checkout, keys: &(String, String), args: &[&str]) -> Run {
    co.xtask_with(
        args,
        &[
            (aws::LOOPBACK_ACCESS_KEY_ID, Some(&keys.0)),
            (aws::LOOPBACK_SECRET_ACCESS_KEY, Some(&keys.1)),
        ],
    )
}

/// One way of running a command, on a state of the emulator it sets up first.
struct Scenario {
    name: &'static str,
    /// Sets the state up (as the emulator's administrator); returns the arguments.
    run: Box<dyn Fn(usize) -> Vec<String>>,
}

#[test]
fn each_policy_is_enough_and_each_of_its_actions_is_needed() {
    let emu = emulator_for_account(ACCOUNT);
    let url = emu.url();
    let co = Checkout::new();
    co.write_env("lp", &descriptor(&url, "lp-new"));
    // The administrator sets states up once IAM is enforced.
    let admin = user(&url, ACCOUNT, "lp-admin", &BTreeSet::from(["*".to_owned()]));
    let full: BTreeMap<&str, (BTreeSet<String>, BTreeSet<String>)> =
        ["plan", "plan-read-only", "deploy", "destroy"]
            .into_iter()
            .map(|u| (u, actions(&co, "lp", u)))
            .collect();
    let mut users = BTreeMap::new();
    for (u, (all, own)) in &full {
        users.insert(
            (*u, String::new()),
            user(&url, ACCOUNT, &format!("lp-{u}"), all),
        );
        for missing in own {
            let mut fewer = all.clone();
            fewer.remove(missing);
            let name = format!("lp-{u}-{}", missing.replace(':', "-"));
            users.insert((*u, missing.clone()), user(&url, ACCOUNT, &name, &fewer));
        }
    }
    // A deployed stack whose role is then changed outside it, for the plans and the deploy.
    co.write_env("drift", &descriptor(&url, "lp-drift"));
    co.xtask_with(
        &["deploy", "drift", "--yes"],
        &[
            (aws::LOOPBACK_ACCESS_KEY_ID, Some(&admin.0)),
            (aws::LOOPBACK_SECRET_ACCESS_KEY, Some(&admin.1)),
        ],
    )
    .success();
    // The managed policy a change outside the stack attaches to the role.
    boto3(
        &url,
        None,
        "client('iam').create_policy(PolicyName='lp-extra', PolicyDocument=json.dumps({'Version': '2012-10-17', 'Statement': [{'Effect': 'Allow', 'Action': 's3:GetObject', 'Resource': '*'}]}))",
    );
    crate::support::enforce_iam(&url);
    // From here on, every request is checked against its signer's policies.
    let drift = {
        let url = url.clone();
        let admin = admin.clone();
        move || {
            boto3(
                &url,
                Some(&admin),
                &"iam = client('iam')\n\
                 role = 'Temporal-Serverless-Worker-lp-drift'\n\
                 iam.update_assume_role_policy(RoleName=role, PolicyDocument=json.dumps({'Version': '2012-10-17', 'Statement': [{'Effect': 'Allow', 'Principal': {'AWS': '*'}, 'Action': 'sts:AssumeRole'}]}))\n\
                 iam.put_role_policy(RoleName=role, PolicyName='extra', PolicyDocument=json.dumps({'Version': '2012-10-17', 'Statement': [{'Effect': 'Allow', 'Action': 's3:GetObject', 'Resource': '*'}]}))\n\
                 iam.attach_role_policy(RoleName=role, PolicyArn='arn:aws:iam::ACCOUNT:policy/lp-extra')"
                    .replace("ACCOUNT", ACCOUNT),
            );
        }
    };
    drift();
    let root = co.root().to_owned();
    let new_stack = {
        let url = url.clone();
        move |n: usize| {
            std::fs::write(
                root.join("environments/lp.toml"),
                descriptor(&url, &format!("lp-new-{n}")),
            )
            .unwrap();
        }
    };
    let plans = |args: &'static [&'static str]| -> Vec<Scenario> {
        vec![
            Scenario {
                name: "new stack",
                run: Box::new(move |_| args.iter().map(|a| a.replace("ENV", "lp")).collect()),
            },
            Scenario {
                name: "deployed stack, role changed outside it",
                run: Box::new(move |_| args.iter().map(|a| a.replace("ENV", "drift")).collect()),
            },
        ]
    };
    let scenarios: Vec<(&str, Vec<Scenario>)> = vec![
        ("plan", plans(&["plan", "ENV"])),
        ("plan-read-only", plans(&["plan", "ENV", "--read-only"])),
        (
            "deploy",
            vec![
                Scenario {
                    name: "new stack",
                    run: Box::new({
                        let new_stack = new_stack.clone();
                        move |n| {
                            new_stack(n);
                            vec!["deploy".into(), "lp".into(), "--yes".into()]
                        }
                    }),
                },
                Scenario {
                    name: "deployed stack, role changed outside it",
                    run: Box::new({
                        let drift = drift.clone();
                        move |_| {
                            drift();
                            vec!["deploy".into(), "drift".into(), "--yes".into()]
                        }
                    }),
                },
                Scenario {
                    name: "deployed stack, a parameter changed",
                    run: Box::new({
                        let path = co.root().join("environments/drift.toml");
                        move |n| {
                            // A new external ID: an update through a change set.
                            let text = std::fs::read_to_string(&path).unwrap();
                            let line = text
                                .lines()
                                .find(|l| l.starts_with("external_id = "))
                                .unwrap()
                                .to_owned();
                            let text = text
                                .replace(&line, &format!("external_id = \"lp-external-id-{n}\""));
                            std::fs::write(&path, text).unwrap();
                            vec!["deploy".into(), "drift".into(), "--yes".into()]
                        }
                    }),
                },
            ],
        ),
        (
            "destroy",
            vec![Scenario {
                name: "deployed stack",
                run: Box::new({
                    let co_root = co.root().to_owned();
                    let admin = admin.clone();
                    let new_stack = new_stack.clone();
                    move |n| {
                        new_stack(1000 + n);
                        let mut cmd = Command::new(env!("CARGO_BIN_EXE_tsw"));
                        cmd.arg("--root")
                            .arg(&co_root)
                            .args(["deploy", "lp", "--yes"]);
                        safe_aws_env(&mut cmd);
                        cmd.env(aws::LOOPBACK_ACCESS_KEY_ID, &admin.0)
                            .env(aws::LOOPBACK_SECRET_ACCESS_KEY, &admin.1);
                        let out = cmd.output().unwrap();
                        assert!(
                            out.status.success(),
                            "{}",
                            String::from_utf8_lossy(&out.stderr)
                        );
                        vec!["destroy".into(), "lp".into(), "--yes".into()]
                    }
                }),
            }],
        ),
    ];
    let mut n = 0;
    let mut problems = Vec::new();
    for (use_, cases) in &scenarios {
        let (_, own) = &full[*use_];
        let keys = &users[&(*use_, String::new())];
        for case in cases {
            n += 1;
            let args = (case.run)(n);
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            let run = as_user(&co, keys, &args);
            assert_eq!(
                run.code,
                Some(0),
                "{use_} ({}) with its whole policy: {}",
                case.name,
                run.all()
            );
            if *use_ == "plan" {
                assert!(!run.stdout.contains("mode: read-only"), "{}", run.stdout);
            }
        }
        for missing in own {
            let keys = &users[&(*use_, missing.clone())];
            let mut named = false;
            for case in cases {
                n += 1;
                let args = (case.run)(n);
                let args: Vec<&str> = args.iter().map(String::as_str).collect();
                let run = as_user(&co, keys, &args);
                let said = run
                    .all()
                    .contains(&format!("not authorized to perform: {missing}"));
                if *use_ == "plan" && missing == "cloudformation:CreateChangeSet" {
                    // The fallback: a read-only plan, saying why.
                    assert_eq!(run.code, Some(0), "{}", run.all());
                    assert!(
                        run.stdout
                            .contains("mode: read-only: CreateChangeSet was denied")
                            && said,
                        "{}",
                        run.stdout
                    );
                    named = true;
                    break;
                }
                if run.code != Some(0) {
                    assert!(
                        said,
                        "{use_} ({}) without {missing} failed without naming it: {}",
                        case.name,
                        run.all()
                    );
                    named = true;
                    break;
                }
            }
            problems.extend(unexplained(NOT_EXERCISED, use_, missing, named));
        }
    }
    assert!(problems.is_empty(), "{problems:#?}");
}

/// The policies in docs/least-privilege.md are what the command prints for the example
/// descriptors the document shows.
#[test]
fn the_documented_policies_are_the_printed_ones() {
    const BEGIN: &str = "<!-- generated:";
    const END: &str = "<!-- end of generated policies -->";
    let path = crate::support::repo_root().join("docs/least-privilege.md");
    let doc = std::fs::read_to_string(&path).unwrap();
    let co = Checkout::new();
    for block in doc.split("```toml\n").skip(1) {
        let block = block.split("```").next().unwrap();
        let name = block
            .lines()
            .next()
            .and_then(|l| l.strip_prefix("# environments/"))
            .and_then(|l| l.strip_suffix(".toml"))
            .expect("each example starts with its path");
        co.write_env(name, block);
    }
    let (head, rest) = doc.split_at(doc.find(BEGIN).expect("the generated section"));
    let marker_end = rest.find("-->").unwrap() + "-->\n".len();
    let tail = &rest[rest.find(END).expect("its end")..];
    let mut generated = String::new();
    for u in aws::actions::Use::ALL {
        let run = co.xtask(&["policy", "staging", "production", "--for", u.name()]);
        run.success();
        generated.push_str(&format!(
            "\n### `--for {}`\n\n```json\n{}```\n\n",
            u.name(),
            run.stdout
        ));
    }
    let want = format!("{head}{}{generated}{tail}", &rest[..marker_end]);
    if std::env::var_os("TSW_BLESS").is_some() {
        std::fs::write(&path, &want).unwrap();
    } else {
        assert!(
            doc == want,
            "docs/least-privilege.md is not what `policy` prints: run \
             `TSW_BLESS=1 cargo test -p tsw --test integration -- least_privilege` and commit it"
        );
    }
}

/// `doctor`, run with the Temporal server's credentials holding exactly `policy --for doctor`,
/// passes every check it can make without a Temporal server; without any one of the policy's
/// actions a check fails, naming the action. The server itself, holding exactly
/// `policy --for server`, assumes the invocation role with the external ID and reads and
/// invokes the function through it (what the role template allows); without `sts:AssumeRole`
/// it is refused, naming it. The server is one IAM user, the principal the role trusts, whose
/// policy is replaced for each case: moto checks the trust policy's principal too.
#[test]
fn doctor_and_the_server_need_exactly_their_policies() {
    let emu = emulator_for_account(ACCOUNT);
    let url = emu.url();
    let frontend = url.trim_start_matches("http://");
    let function = format!("arn:aws:lambda:us-east-1:{ACCOUNT}:function:lp-worker");
    aws_sandbox::seed_lambda_functions(crate::support::python(), &url, "us-east-1", &[&function])
        .unwrap();
    boto3(
        &url,
        None,
        &format!(
            "client('lambda').update_function_configuration(FunctionName='{function}', Timeout=60, \
             Environment={{'Variables': {{'TEMPORAL_ADDRESS': '{frontend}', 'TEMPORAL_NAMESPACE': 'orders', \
             'TEMPORAL_TASK_QUEUE': 'lp'}}}})"
        ),
    );
    let admin = user(&url, ACCOUNT, "lp-admin", &BTreeSet::from(["*".to_owned()]));
    let server = user(&url, ACCOUNT, "lp-server", &BTreeSet::new());
    let co = Checkout::new();
    // The frontend address is the emulator's, which accepts connections as a frontend would;
    // the Temporal CLI is missing, so the registrations are not checked (a warning).
    let text = descriptor(&url, "lp-doctor")
        .replace("user/moto", "user/lp-server")
        .replace(
            "[temporal]\n",
            &format!("[temporal]\naddress = \"{frontend}\"\n"),
        )
        + &format!(
            "\n[[worker_deployments]]\nnamespace = \"orders\"\nname = \"lp\"\nbuild_id = \"b1\"\n\
             lambda_function_arn = \"{function}\"\n"
        );
    co.write_env("doc", &text);
    co.xtask_with(
        &["deploy", "doc", "--yes"],
        &[
            (aws::LOOPBACK_ACCESS_KEY_ID, Some(&admin.0)),
            (aws::LOOPBACK_SECRET_ACCESS_KEY, Some(&admin.1)),
        ],
    )
    .success();
    let role_arn = format!("arn:aws:iam::{ACCOUNT}:role/Temporal-Serverless-Worker-lp-doctor");
    let mut cases = Vec::new();
    for use_ in ["doctor", "server"] {
        let (all, own) = actions(&co, "doc", use_);
        assert!(!all.is_empty(), "{use_}");
        cases.push((use_, String::new(), all.clone()));
        for missing in &own {
            let mut fewer = all.clone();
            fewer.remove(missing);
            cases.push((use_, missing.clone(), fewer));
        }
    }
    crate::support::enforce_iam(&url);
    let mut problems = Vec::new();
    for (use_, missing, granted) in &cases {
        let document = serde_json::json!({
            "Version": "2012-10-17",
            "Statement": [{ "Effect": "Allow", "Action": granted, "Resource": "*" }],
        });
        boto3(
            &url,
            Some(&admin),
            &if granted.is_empty() {
                "client('iam').delete_user_policy(UserName='lp-server', PolicyName='tool')".into()
            } else {
                format!(
                    "client('iam').put_user_policy(UserName='lp-server', PolicyName='tool', \
                     PolicyDocument=json.dumps({document}))"
                )
            },
        );
        let (ok, out) = if *use_ == "doctor" {
            let run = co.xtask_with(
                &["doctor", "doc"],
                &[
                    (aws::LOOPBACK_ACCESS_KEY_ID, Some(&server.0)),
                    (aws::LOOPBACK_SECRET_ACCESS_KEY, Some(&server.1)),
                    ("TEMPORAL_CLI", Some("/nonexistent/temporal")),
                ],
            );
            (run.code == Some(0), run.all())
        } else {
            // What the Temporal server does: AssumeRole with the external ID, then GetFunction
            // and Invoke with the role's credentials.
            let out = boto3(
                &url,
                Some(&server),
                &format!(
                    "try:\n    c = client('sts').assume_role(RoleArn='{role_arn}', RoleSessionName='managed-workers-aws', ExternalId='lp-external-id')['Credentials']\n\
                     except Exception as e:\n    print('FAILED', e); raise SystemExit(0)\n\
                     lam = boto3.client('lambda', endpoint_url='{url}', region_name='us-east-1', aws_access_key_id=c['AccessKeyId'], aws_secret_access_key=c['SecretAccessKey'], aws_session_token=c['SessionToken'])\n\
                     lam.get_function(FunctionName='{function}')\n\
                     print('invoked', lam.invoke(FunctionName='{function}', Payload=b'{{}}')['StatusCode'])"
                ),
            );
            (out.starts_with("invoked 200"), out)
        };
        if missing.is_empty() {
            if !ok {
                problems.push(format!("{use_} with its whole policy failed:\n{out}"));
            }
        } else if ok {
            problems.push(format!("{use_} without {missing} succeeded:\n{out}"));
        } else if !out.contains(&format!("not authorized to perform: {missing}")) {
            problems.push(format!(
                "{use_} without {missing} failed without naming it:\n{out}"
            ));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n\n"));
}
