//! What a deploy would do to a StackSet and its instances, decided from what AWS holds, without
//! changing anything: the StackSet created, updated or left as it is (its parameters old → new,
//! its template, its settings), and each account and region's instance created, updated (it is
//! outdated, or the StackSet or its overrides change) or removed (its account is no longer a
//! target). [`plan`] is a pure function of the declared spec and the reads of [`super::read`].

use std::collections::{BTreeMap, BTreeSet};

use super::{Instance, InstanceStatus, OrgAccount, StackSetInfo, StackSetSpec, Targets};
use crate::ValueChange;

/// What a deploy would do to the StackSet itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SetAction {
    Create,
    Update,
    NoChange,
}

impl SetAction {
    pub fn as_str(self) -> &'static str {
        match self {
            SetAction::Create => "create",
            SetAction::Update => "update",
            SetAction::NoChange => "no_change",
        }
    }
}

/// What a deploy would do to one instance.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum InstanceAction {
    Create,
    Update,
    Remove,
    NoChange,
}

impl InstanceAction {
    pub fn as_str(self) -> &'static str {
        match self {
            InstanceAction::Create => "create",
            InstanceAction::Update => "update",
            InstanceAction::Remove => "remove",
            InstanceAction::NoChange => "no_change",
        }
    }
}

/// One account and region's instance in a plan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InstancePlan {
    pub account: String,
    pub region: String,
    pub action: InstanceAction,
    /// Why it is updated (`OUTDATED`, the StackSet's change, its overrides old → new) or
    /// removed; `None` for a creation or no change.
    pub why: Option<String>,
    /// The parameters this account's instance gets beyond the StackSet's (its overrides).
    pub overrides: Vec<(String, String)>,
    /// Its status now (`None` for an instance to create).
    pub status: Option<String>,
}

/// What a deploy would do to a StackSet and its instances.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StackSetPlan {
    pub name: String,
    pub action: SetAction,
    /// The StackSet's ID, when it exists.
    pub id: Option<String>,
    /// The StackSet's parameters old → new (every one for a creation).
    pub parameters: Vec<ValueChange>,
    /// Whether the template differs from the StackSet's (always for a creation).
    pub template_changes: bool,
    /// The StackSet's tags old → new (every one for a creation): CloudFormation puts them on
    /// each instance's stack, so a change of tags alone updates the StackSet.
    pub tags: Vec<ValueChange>,
    /// Other settings old → new: AutoDeployment, the self-managed roles.
    pub settings: Vec<ValueChange>,
    /// Every instance, kept ones too: those to create, update, remove, then the others, each by
    /// account then region.
    pub instances: Vec<InstancePlan>,
    /// The management account, which never gets an instance (service-managed), when known.
    pub management_account: Option<String>,
}

impl StackSetPlan {
    pub fn has_changes(&self) -> bool {
        self.action != SetAction::NoChange
            || self
                .instances
                .iter()
                .any(|i| i.action != InstanceAction::NoChange)
    }

    /// How many instances take each action.
    pub fn count(&self, action: InstanceAction) -> usize {
        self.instances.iter().filter(|i| i.action == action).count()
    }
}

/// What a plan reads from AWS before it is made.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Current {
    /// The StackSet, when it exists.
    pub stack_set: Option<StackSetInfo>,
    pub instances: Vec<Instance>,
    /// The parameter overrides of each existing instance, by account (read only for the
    /// instances a plan keeps).
    pub overrides: BTreeMap<String, BTreeMap<String, String>>,
    /// The accounts the targets reach now: for OUs, as AWS Organizations lists them (the
    /// management account left out); for accounts, those.
    pub target_accounts: Vec<String>,
    pub management_account: Option<String>,
}

/// How many `DescribeStackInstance` calls a plan has in flight at once.
const READS_AT_ONCE: usize = 8;

impl super::StackSets {
    /// Reads what [`plan`] compares `spec` with: the StackSet, its instances, the accounts its
    /// OUs hold now (AWS Organizations), and the overrides of each instance a plan keeps
    /// (`DescribeStackInstance`, a few at once). Reads only.
    pub async fn current(&self, spec: &StackSetSpec) -> Result<Current, crate::DeployError> {
        let stack_set = self.describe(&spec.name, spec.call_as).await?;
        let instances = match &stack_set {
            Some(_) => self.instances(&spec.name, spec.call_as).await?,
            None => Vec::new(),
        };
        let (organizations, management_account) = match &spec.targets {
            Targets::OrganizationalUnits(ous) => {
                let found = self.accounts_under(ous).await?;
                (
                    found
                        .accounts
                        .into_iter()
                        .filter(OrgAccount::gets_instances)
                        .map(|a| a.id)
                        .collect::<Vec<_>>(),
                    found.management_account,
                )
            }
            Targets::Accounts(_) => (Vec::new(), None),
        };
        let target_accounts = target_accounts(spec, &organizations);
        let kept: Vec<(String, String)> = instances
            .iter()
            .filter(|i| target_accounts.contains(&i.account) && spec.regions.contains(&i.region))
            .map(|i| (i.account.clone(), i.region.clone()))
            .collect();
        let mut overrides = BTreeMap::new();
        for chunk in kept.chunks(READS_AT_ONCE) {
            let mut reads = tokio::task::JoinSet::new();
            for (account, region) in chunk.iter().cloned() {
                let (this, name, call_as) = (self.clone(), spec.name.clone(), spec.call_as);
                reads.spawn(async move {
                    let found = this
                        .instance_overrides(&name, &account, &region, call_as)
                        .await;
                    (account, found)
                });
            }
            while let Some(done) = reads.join_next().await {
                let (account, found) = done.map_err(|e| crate::DeployError::Aws {
                    action: "DescribeStackInstance",
                    code: None,
                    message: e.to_string(),
                })?;
                overrides.insert(account, found?);
            }
        }
        Ok(Current {
            stack_set,
            instances,
            overrides,
            target_accounts,
            management_account,
        })
    }
}

/// The accounts `spec` targets, once `Current::target_accounts` is read: for accounts, the
/// spec's own.
pub fn target_accounts(spec: &StackSetSpec, organizations: &[String]) -> Vec<String> {
    match &spec.targets {
        Targets::Accounts(accounts) => accounts.clone(),
        Targets::OrganizationalUnits(_) => organizations.to_vec(),
    }
}

fn changes(
    old: &BTreeMap<String, String>,
    new: &BTreeMap<String, String>,
    creating: bool,
) -> Vec<ValueChange> {
    let keys: BTreeSet<&String> = old.keys().chain(new.keys()).collect();
    keys.into_iter()
        .filter(|k| creating || old.get(*k) != new.get(*k))
        .map(|k| ValueChange {
            key: k.clone(),
            old: old.get(k).cloned(),
            new: new.get(k).cloned(),
        })
        .collect()
}

fn shown(v: Option<&String>) -> String {
    v.map_or_else(|| "(none)".to_owned(), |v| format!("`{v}`"))
}

/// The plan of `spec` against `current`.
pub fn plan(spec: &StackSetSpec, current: &Current) -> StackSetPlan {
    let wanted: BTreeMap<String, String> = spec.parameters.iter().cloned().collect();
    let existing = current.stack_set.as_ref();
    let creating = existing.is_none();
    let empty = BTreeMap::new();
    let parameters = changes(
        existing.map_or(&empty, |s| &s.parameters),
        &wanted,
        creating,
    );
    let template_changes = existing.is_none_or(|s| s.template_body != spec.template_body);
    let tags = changes(
        existing.map_or(&empty, |s| &s.tags),
        &spec.tags.iter().cloned().collect(),
        creating,
    );
    let mut settings = Vec::new();
    if let Some(set) = existing {
        let flag = |b: bool| Some(b.to_string());
        let (old_auto, new_auto) = (set.auto_deployment, spec.auto_deployment);
        if old_auto.map(|a| a.enabled) != new_auto.map(|a| a.enabled)
            && (old_auto.is_some_and(|a| a.enabled) || new_auto.is_some_and(|a| a.enabled))
        {
            settings.push(ValueChange {
                key: "AutoDeployment.Enabled".into(),
                old: flag(old_auto.is_some_and(|a| a.enabled)),
                new: flag(new_auto.is_some_and(|a| a.enabled)),
            });
        }
        let retain = |a: Option<super::AutoDeployment>| {
            a.is_some_and(|a| a.enabled && a.retain_stacks_on_account_removal)
        };
        if new_auto.is_some_and(|a| a.enabled) && retain(old_auto) != retain(new_auto) {
            settings.push(ValueChange {
                key: "AutoDeployment.RetainStacksOnAccountRemoval".into(),
                old: flag(retain(old_auto)),
                new: flag(retain(new_auto)),
            });
        }
        if set
            .permission_model
            .is_some_and(|m| m != spec.permission_model)
        {
            settings.push(ValueChange {
                key: "PermissionModel".into(),
                old: set.permission_model.map(|m| m.as_str().to_owned()),
                new: Some(spec.permission_model.as_str().to_owned()),
            });
        }
        for (key, old, new) in [
            (
                "AdministrationRoleARN",
                &set.administration_role_arn,
                &spec.administration_role_arn,
            ),
            (
                "ExecutionRoleName",
                &set.execution_role_name,
                &spec.execution_role_name,
            ),
        ] {
            // Left out: AWS's default, whatever the StackSet has.
            if new.is_some() && old != new {
                settings.push(ValueChange {
                    key: key.into(),
                    old: old.clone(),
                    new: new.clone(),
                });
            }
        }
    }
    let set_changes =
        !parameters.is_empty() || template_changes || !tags.is_empty() || !settings.is_empty();
    let action = match (creating, set_changes) {
        (true, _) => SetAction::Create,
        (false, true) => SetAction::Update,
        (false, false) => SetAction::NoChange,
    };
    let targets: BTreeSet<&String> = current.target_accounts.iter().collect();
    let regions: BTreeSet<&String> = spec.regions.iter().collect();
    let mut instances = Vec::new();
    let mut have: BTreeSet<(&str, &str)> = BTreeSet::new();
    for i in &current.instances {
        have.insert((&i.account, &i.region));
        let kept = targets.contains(&i.account) && regions.contains(&i.region);
        let wanted_overrides = spec.overrides_of(&i.account);
        let (action, why) = if !kept {
            let why = if targets.contains(&i.account) {
                format!("region `{}` is no longer in `stack_set.regions`", i.region)
            } else {
                "its account is no longer a target".to_owned()
            };
            (InstanceAction::Remove, Some(why))
        } else {
            let mut why = Vec::new();
            if i.status != InstanceStatus::Current {
                why.push(format!("it is {}", i.status.as_str()));
            }
            if set_changes {
                why.push("the StackSet changes".to_owned());
            }
            let held = current.overrides.get(&i.account).unwrap_or(&empty);
            for c in changes(held, &wanted_overrides, false) {
                why.push(format!(
                    "override {}: {} → {}",
                    c.key,
                    shown(c.old.as_ref()),
                    shown(c.new.as_ref())
                ));
            }
            if why.is_empty() {
                (InstanceAction::NoChange, None)
            } else {
                (InstanceAction::Update, Some(why.join("; ")))
            }
        };
        instances.push(InstancePlan {
            account: i.account.clone(),
            region: i.region.clone(),
            action,
            why,
            overrides: wanted_overrides.into_iter().collect(),
            status: Some(match &i.detailed_status {
                Some(d) => format!("{} ({d})", i.status.as_str()),
                None => i.status.as_str().to_owned(),
            }),
        });
    }
    for account in &targets {
        for region in &regions {
            if !have.contains(&(account.as_str(), region.as_str())) {
                instances.push(InstancePlan {
                    account: (*account).clone(),
                    region: (*region).clone(),
                    action: InstanceAction::Create,
                    why: None,
                    overrides: spec.overrides_of(account).into_iter().collect(),
                    status: None,
                });
            }
        }
    }
    // What changes first, then by account and region.
    instances
        .sort_by(|a, b| (a.action, &a.account, &a.region).cmp(&(b.action, &b.account, &b.region)));
    StackSetPlan {
        name: spec.name.clone(),
        action,
        id: existing.map(|s| s.id.clone()),
        parameters,
        template_changes,
        tags,
        settings,
        instances,
        management_account: current.management_account.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stack_set::{AutoDeployment, CallAs, PermissionModel, Preferences, StackSetInfo};

    fn spec() -> StackSetSpec {
        StackSetSpec {
            name: "roles".into(),
            template_body: "T".into(),
            parameters: vec![
                ("AssumeRoleExternalId".into(), "ext-1".into()),
                ("RoleName".into(), "R".into()),
            ],
            overrides: BTreeMap::from([(
                "222222222222".to_owned(),
                vec![("AssumeRoleExternalId".to_owned(), "ext-2".to_owned())],
            )]),
            targets: Targets::OrganizationalUnits(vec!["ou-abcd-12345678".into()]),
            regions: vec!["us-east-1".into()],
            permission_model: PermissionModel::ServiceManaged,
            call_as: CallAs::Itself,
            auto_deployment: Some(AutoDeployment {
                enabled: false,
                retain_stacks_on_account_removal: false,
            }),
            administration_role_arn: None,
            execution_role_name: None,
            preferences: Preferences::default(),
            tags: Vec::new(),
        }
    }

    fn info(spec: &StackSetSpec) -> StackSetInfo {
        StackSetInfo {
            name: spec.name.clone(),
            id: "roles:1".into(),
            arn: None,
            status: "ACTIVE".into(),
            template_body: spec.template_body.clone(),
            parameters: spec.parameters.iter().cloned().collect(),
            permission_model: Some(PermissionModel::ServiceManaged),
            auto_deployment: spec.auto_deployment,
            organizational_unit_ids: vec!["ou-abcd-12345678".into()],
            administration_role_arn: None,
            execution_role_name: None,
            capabilities: vec!["CAPABILITY_NAMED_IAM".into()],
            tags: BTreeMap::new(),
        }
    }

    fn instance(account: &str, status: InstanceStatus) -> Instance {
        Instance {
            account: account.into(),
            region: "us-east-1".into(),
            organizational_unit: Some("ou-abcd-12345678".into()),
            status,
            detailed_status: Some("SUCCEEDED".into()),
            reason: None,
            drift: None,
            stack_id: None,
        }
    }

    fn actions(p: &StackSetPlan) -> Vec<(&str, &str)> {
        p.instances
            .iter()
            .map(|i| (i.account.as_str(), i.action.as_str()))
            .collect()
    }

    #[test]
    fn a_new_stack_set_creates_an_instance_in_each_target_account() {
        let spec = spec();
        let current = Current {
            target_accounts: vec!["111111111111".into(), "222222222222".into()],
            ..Current::default()
        };
        let p = plan(&spec, &current);
        assert_eq!(p.action, SetAction::Create);
        assert!(p.template_changes);
        assert_eq!(p.parameters.len(), 2);
        assert_eq!(
            actions(&p),
            [("111111111111", "create"), ("222222222222", "create")]
        );
        assert_eq!(
            p.instances[1].overrides,
            [("AssumeRoleExternalId".to_owned(), "ext-2".to_owned())]
        );
        assert!(p.has_changes());
    }

    #[test]
    fn a_current_stack_set_plans_no_changes_until_an_account_joins_or_leaves() {
        let spec = spec();
        let mut current = Current {
            stack_set: Some(info(&spec)),
            instances: vec![
                instance("111111111111", InstanceStatus::Current),
                instance("222222222222", InstanceStatus::Current),
            ],
            overrides: BTreeMap::from([(
                "222222222222".to_owned(),
                BTreeMap::from([("AssumeRoleExternalId".to_owned(), "ext-2".to_owned())]),
            )]),
            target_accounts: vec!["111111111111".into(), "222222222222".into()],
            management_account: Some("123456789012".into()),
        };
        let p = plan(&spec, &current);
        assert_eq!(p.action, SetAction::NoChange);
        assert!(!p.has_changes(), "{p:#?}");
        current.target_accounts = vec!["222222222222".into(), "333333333333".into()];
        let p = plan(&spec, &current);
        assert_eq!(
            actions(&p),
            [
                ("333333333333", "create"),
                ("111111111111", "remove"),
                ("222222222222", "no_change")
            ]
        );
        assert_eq!(
            p.instances[1].why.as_deref(),
            Some("its account is no longer a target")
        );
    }

    #[test]
    fn parameters_overrides_and_outdated_instances_update() {
        let mut spec = spec();
        let current = Current {
            stack_set: Some(info(&spec)),
            instances: vec![
                instance("111111111111", InstanceStatus::Outdated),
                instance("222222222222", InstanceStatus::Current),
            ],
            overrides: BTreeMap::new(),
            target_accounts: vec!["111111111111".into(), "222222222222".into()],
            management_account: None,
        };
        let p = plan(&spec, &current);
        assert_eq!(p.action, SetAction::NoChange);
        assert_eq!(
            actions(&p),
            [("111111111111", "update"), ("222222222222", "update")]
        );
        assert_eq!(p.instances[0].why.as_deref(), Some("it is OUTDATED"));
        assert_eq!(
            p.instances[1].why.as_deref(),
            Some("override AssumeRoleExternalId: (none) → `ext-2`")
        );
        spec.parameters[0].1 = "ext-9".into();
        spec.template_body = "T2".into();
        let p = plan(&spec, &current);
        assert_eq!(p.action, SetAction::Update);
        assert!(p.template_changes);
        assert_eq!(
            p.parameters,
            [ValueChange {
                key: "AssumeRoleExternalId".into(),
                old: Some("ext-1".into()),
                new: Some("ext-9".into())
            }]
        );
        assert!(p.instances.iter().all(|i| {
            i.why
                .as_deref()
                .is_some_and(|w| w.contains("the StackSet changes"))
        }));
    }

    #[test]
    fn a_change_of_tags_alone_updates_the_stack_set_and_every_instance() {
        let mut spec = spec();
        spec.tags = vec![("team".into(), "payments".into())];
        let mut set = info(&spec);
        set.tags = BTreeMap::from([("team".to_owned(), "orders".to_owned())]);
        let current = Current {
            stack_set: Some(set),
            instances: vec![instance("111111111111", InstanceStatus::Current)],
            overrides: BTreeMap::new(),
            target_accounts: vec!["111111111111".into()],
            management_account: None,
        };
        let p = plan(&spec, &current);
        assert_eq!(p.action, SetAction::Update);
        assert!(p.parameters.is_empty() && !p.template_changes);
        assert_eq!(
            p.tags,
            [ValueChange {
                key: "team".into(),
                old: Some("orders".into()),
                new: Some("payments".into())
            }]
        );
        assert_eq!(actions(&p), [("111111111111", "update")]);
        let mut same = current.clone();
        if let Some(s) = same.stack_set.as_mut() {
            s.tags = spec.tags.iter().cloned().collect();
        }
        assert!(!plan(&spec, &same).has_changes());
    }
}
