//! Every policy `policy --for USE` prints for a delegated administrator's StackSet environment,
//! proven on an emulator that enforces IAM actions: account D, a member account registered as
//! delegated administrator for StackSets (`stackset_delegated`), owns a StackSet targeting an
//! OU of three member accounts (`stackset_deploy::organization`). Each use runs as an IAM user
//! of D holding exactly its policy's actions (on `*`: moto checks no CloudFormation resources,
//! the scoping is proven by `aws::actions`' unit tests) and succeeds in each of its scenarios;
//! holding all of them but one, it fails in one of them, naming the action, or, for
//! `organizations:ListDelegatedAdministrators` (which CloudFormation checks as the caller), with
//! the hint that names it. `doctor` runs as the Temporal server, a user of D the roles trust,
//! whose policy is replaced for each case (as `least_privilege` does). The policies are those
//! printed once the StackSet is deployed and its roles recorded.
//!
//! Each attempt that changes something gets an environment of its own (its StackSet and role
//! names), set up by an administrator of D, so that a failed attempt leaves nothing another one
//! depends on; the reads share one deployed environment. Every action is dropped for every use
//! (76 runs, about 80 s on two shared cores).

use std::collections::{BTreeMap, BTreeSet};
use std::net::TcpListener;

use crate::least_privilege::{actions, as_user, unexplained, user};
use crate::stackset_delegated::{administrator, delegated_descriptor};
use crate::stackset_deploy::organization;
use crate::support::{Checkout, Run};

use crate::stackset_doctor::FUNCTION;

/// The uses of a StackSet environment, in the order they are proven.
const USES: &[&str] = &["plan-read-only", "plan", "deploy", "destroy", "doctor"];

/// What a use's action is needed for, when no scenario here takes that path.
const NOT_EXERCISED: &[(&str, &str, &str)] = &[
    (
        "deploy",
        "cloudformation:StopStackSetOperation",
        "only when a deploy is interrupted (stackset_signals)",
    ),
    (
        "destroy",
        "cloudformation:StopStackSetOperation",
        "only when a destroy is interrupted (stackset_signals)",
    ),
];

/// The organization and the environments made on it.
struct Fleet {
    url: String,
    ou: String,
    /// Another OU, of one account, which one scenario stops targeting.
    other_ou: String,
    members: Vec<String>,
    /// The delegated administrator's account (D).
    admin: String,
    /// What answers at `temporal.address`: `doctor`'s step 1 needs a listener, no more.
    frontend: String,
    repo: Checkout,
    /// Keys of an IAM user of D allowed everything: sets each attempt's state up.
    root: (String, String),
}

impl Fleet {
    /// Environment `e{n}` (StackSet `set-{n}`, role `Worker-{n}`) as a delegated
    /// administrator's StackSet environment whose server is user `server` of D; written, and
    /// its name returned.
    fn env(&self, n: usize) -> String {
        let text = delegated_descriptor(&self.url, &self.ou, &self.admin, true)
            .replace(
                "name = \"temporal-invocation-role\"",
                &format!("name = \"set-{n}\""),
            )
            .replace(
                "name = \"Temporal-Serverless-Worker\"",
                &format!("name = \"Worker-{n}\""),
            )
            .replace(
                "arn:aws:iam::123456789012:user/moto",
                &format!("arn:aws:iam::{}:user/server", self.admin),
            )
            .replace(
                "[temporal]\n",
                &format!("[temporal]\naddress = \"{}\"\n", self.frontend),
            );
        let functions: Vec<String> = self
            .members
            .iter()
            .map(|a| format!("\"arn:aws:lambda:us-east-1:{a}:function:{FUNCTION}\""))
            .collect();
        let text = text.replace(
            "[\"arn:aws:lambda:us-east-1:123456789012:function:worker:*\"]",
            &format!("[{}]", functions.join(", ")),
        );
        let name = format!("e{n}");
        self.repo.write_env(&name, &text);
        name
    }

    /// Runs the tool as the administrator of D, which must succeed.
    fn as_root(&self, args: &[&str]) {
        as_user(&self.repo, &self.root, args).success();
    }

    /// Rewrites `key = ...` of environment `name` (its first such line) to `key = value`.
    fn set(&self, name: &str, key: &str, value: &str) {
        let text = self.repo.read_env(name);
        let line = text
            .lines()
            .find(|l| l.starts_with(&format!("{key} = ")))
            .unwrap_or_else(|| panic!("no {key} in {text}"))
            .to_owned();
        self.repo
            .write_env(name, &text.replace(&line, &format!("{key} = {value}")));
    }
}

/// One way of running a use's command: sets its state up for attempt `n` and returns the
/// arguments.
type Scenario<'a> = (&'static str, Box<dyn Fn(usize) -> Vec<String> + 'a>);

fn boxed<'a>(setup: impl Fn(usize) -> Vec<String> + 'a) -> Box<dyn Fn(usize) -> Vec<String> + 'a> {
    Box::new(setup)
}

fn args(list: &[&str]) -> Vec<String> {
    list.iter().map(|a| (*a).to_owned()).collect()
}

#[test]
fn each_policy_of_a_delegated_administrator_is_enough_and_each_of_its_actions_is_needed() {
    let emu = crate::support::emulator_of_its_own();
    let url = emu.url();
    let (_, ou, members) = organization(&url, false);
    let admin = administrator(&url, true);
    let other_ou = crate::stackset_deploy::step(
        &url,
        "root = org.list_roots()['Roots'][0]['Id']\n\
         ou = org.create_organizational_unit(ParentId=root, Name='more')['OrganizationalUnit']['Id']\n\
         a = org.create_account(Email='more@example.com', AccountName='more')['CreateAccountStatus']['AccountId']\n\
         org.move_account(AccountId=a, SourceParentId=root, DestinationParentId=ou)\n\
         print(json.dumps(ou))",
    );
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let fleet = Fleet {
        url: url.clone(),
        ou,
        other_ou: other_ou.as_str().unwrap().to_owned(),
        members,
        frontend: listener.local_addr().unwrap().to_string(),
        root: user(&url, &admin, "root", &BTreeSet::from(["*".to_owned()])),
        admin,
        repo: Checkout::new(),
    };
    // The Temporal server: the principal every role trusts, its policy set per case.
    let server = user(&fleet.url, &fleet.admin, "server", &BTreeSet::new());

    // The environment the reads share, deployed; its policies are what the tests grant.
    let steady = fleet.env(0);
    fleet.as_root(&["deploy", &steady, "--yes"]);
    fleet.repo.xtask(&["render", &steady]).success();
    crate::stackset_doctor::functions(&fleet.url, &fleet.members, "Worker-0");
    let mut granted: BTreeMap<(&str, String), BTreeSet<String>> = BTreeMap::new();
    for use_ in USES {
        let (all, own) = actions(&fleet.repo, &steady, use_);
        for missing in std::iter::once(String::new()).chain(own) {
            let mut fewer = all.clone();
            fewer.remove(&missing);
            granted.insert((use_, missing), fewer);
        }
    }
    let mut users = BTreeMap::new();
    for ((use_, missing), actions) in &granted {
        if *use_ != "doctor" {
            let name = format!("{use_}-{}", missing.replace(':', "-"));
            let keys = user(&fleet.url, &fleet.admin, &name, actions);
            users.insert((*use_, missing.clone()), keys);
        }
    }
    crate::support::enforce_iam(&fleet.url);

    let fleet = &fleet;
    let fresh = |n: usize| fleet.env(n);
    let deployed = move |n: usize| {
        let name = fleet.env(n);
        fleet.as_root(&["deploy", &name, "--yes"]);
        name
    };
    let scenarios: BTreeMap<&str, Vec<Scenario>> = BTreeMap::from([
        (
            "plan-read-only",
            vec![
                (
                    "new StackSet",
                    boxed(move |n| args(&["plan", &fresh(n), "--read-only"])),
                ),
                (
                    "deployed StackSet",
                    boxed(|_| args(&["plan", &steady, "--read-only"])),
                ),
            ],
        ),
        (
            "plan",
            vec![
                ("new StackSet", boxed(move |n| args(&["plan", &fresh(n)]))),
                ("deployed StackSet", boxed(|_| args(&["plan", &steady]))),
                (
                    "status, drift detection",
                    boxed(|_| args(&["status", &steady])),
                ),
            ],
        ),
        (
            "deploy",
            vec![
                (
                    "new StackSet",
                    boxed(move |n| args(&["deploy", &fresh(n), "--yes"])),
                ),
                (
                    "a parameter changed",
                    boxed(move |n| {
                        let name = deployed(n);
                        fleet.set(&name, "external_id", &format!("\"changed-{n}\""));
                        args(&["deploy", &name, "--yes"])
                    }),
                ),
                (
                    "one account's overrides added",
                    boxed(move |n| {
                        let name = deployed(n);
                        let text = fleet.repo.read_env(&name);
                        fleet.repo.write_env(
                            &name,
                            &text.replace(
                                "\n[deploy]\n",
                                &format!(
                                    "\n[stack_set.overrides.\"{}\"]\nexternal_id = \"own-{n}\"\n\n[deploy]\n",
                                    fleet.members[0]
                                ),
                            ),
                        );
                        args(&["deploy", &name, "--yes"])
                    }),
                ),
                (
                    "an OU no longer targeted",
                    boxed(move |n| {
                        let name = fleet.env(n);
                        let both = format!("[\"{}\", \"{}\"]", fleet.ou, fleet.other_ou);
                        fleet.set(&name, "organizational_units", &both);
                        fleet.as_root(&["deploy", &name, "--yes"]);
                        fleet.set(
                            &name,
                            "organizational_units",
                            &format!("[\"{}\"]", fleet.ou),
                        );
                        args(&["deploy", &name, "--yes"])
                    }),
                ),
            ],
        ),
        (
            "destroy",
            vec![(
                "deployed StackSet",
                boxed(move |n| args(&["destroy", &deployed(n), "--yes"])),
            )],
        ),
        (
            "doctor",
            vec![("deployed StackSet", boxed(|_| args(&["doctor", &steady])))],
        ),
    ]);

    // Runs `args` as `use_`'s user without `missing` (none: its whole policy).
    let run = |use_: &str, missing: &str, args: &[String]| -> Run {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        if use_ != "doctor" {
            return as_user(&fleet.repo, &users[&(use_, missing.to_owned())], &args);
        }
        let actions = &granted[&(use_, missing.to_owned())];
        let document = serde_json::json!({
            "Version": "2012-10-17",
            "Statement": [{ "Effect": "Allow", "Action": actions, "Resource": "*" }],
        });
        crate::stackset_deploy::step(
            &fleet.url,
            &format!(
                "iam = boto3.client('iam', endpoint_url=url, region_name='us-east-1', \
                 aws_access_key_id='{}', aws_secret_access_key='{}')\n\
                 iam.put_user_policy(UserName='server', PolicyName='tool', PolicyDocument=json.dumps({document}))\n\
                 print(json.dumps(True))",
                fleet.root.0, fleet.root.1
            ),
        );
        as_user(&fleet.repo, &server, &args)
    };

    let mut n = 0;
    let mut problems = Vec::new();
    for use_ in USES {
        let cases = &scenarios[use_];
        for (case, setup) in cases {
            n += 1;
            let done = run(use_, "", &setup(n));
            if done.code != Some(0) {
                problems.push(format!(
                    "{use_} ({case}) with its whole policy failed: {}",
                    done.all()
                ));
            }
        }
        let own = granted
            .keys()
            .filter(|(u, missing)| u == use_ && !missing.is_empty())
            .map(|(_, missing)| missing.clone());
        for missing in own {
            let mut named = false;
            for (case, setup) in cases {
                n += 1;
                let done = run(use_, &missing, &setup(n));
                if done.code == Some(0) {
                    continue;
                }
                let all = done.all();
                let says = if missing == aws::actions::DELEGATED_ADMIN_CHECK {
                    all.contains("Account used is not a delegated administrator")
                        && all.contains(&missing)
                } else {
                    all.contains(&format!("not authorized to perform: {missing}"))
                };
                if !says {
                    problems.push(format!(
                        "{use_} ({case}) without {missing} failed without naming it: {all}"
                    ));
                }
                named = true;
                break;
            }
            problems.extend(unexplained(NOT_EXERCISED, use_, &missing, named));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n\n"));
}
