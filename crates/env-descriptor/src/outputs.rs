//! The only writer of descriptors: it owns the `[outputs]` table and nothing else.
//!
//! Each writer owns its own keys and merges them into the file as it is at write time, so an
//! edit made meanwhile (by the user, or by another command) is kept: `deploy` owns `role_arn`,
//! `stack_id` and `deployed_at` ([`Outputs::record_stack`]), or for a StackSet `stack_set_id`,
//! `role_arns` and `deployed_at` ([`Outputs::record_stack_set`]), `register` owns `registered`
//! ([`Outputs::update_registered`]), and `destroy` removes the table ([`Outputs::remove`]).

use std::path::{Path, PathBuf};

use toml_edit::{DocumentMut, Item, Table, value};

use crate::model::Outputs;
use crate::text::{BOM, restore_line_endings, strip_bom};

/// The comment above `[outputs]`. It names the installed program, `tsw`, however the tool was
/// started: the file is committed, and must not change with who ran `deploy`.
const HEADER: &str = "\n# Recorded by `tsw deploy`; do not edit by hand.\n";

/// The comment line earlier versions wrote above `[outputs]`, replaced by [`HEADER`]'s when the
/// table is written.
const OLD_HEADER_LINE: &str = "# Recorded by `cargo xtask deploy`; do not edit by hand.";

/// The keys of `[outputs]` that `deploy` owns: what the stack reported.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StackOutputs {
    /// The stack's `RoleARN` output.
    pub role_arn: String,
    pub stack_id: String,
    /// RFC 3339 time of the stack's last change.
    pub deployed_at: String,
}

/// The keys of `[outputs]` that `deploy` owns for a StackSet: the StackSet, and the role of
/// each account with an instance.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StackSetOutputs {
    pub stack_set_id: String,
    /// (account, role ARN) of each account with an instance; written as
    /// `[outputs.role_arns]`, in account order.
    pub role_arns: Vec<(String, String)>,
    /// RFC 3339 time of the deploy.
    pub deployed_at: String,
}

#[derive(Debug, thiserror::Error)]
pub enum OutputsError {
    #[error("cannot read `{}`: {source}", path.display())]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot write `{}`: {source}", path.display())]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("`{}` is not valid TOML any more: {message}; it was left as it is", path.display())]
    Parse { path: PathBuf, message: String },
    #[error(
        "`{}` has no [outputs] table any more, so there is no role to register with; it was left as it is: deploy first",
        path.display()
    )]
    NoOutputs { path: PathBuf },
}

impl Outputs {
    /// Writes what `deploy` owns into the `[outputs]` table of the descriptor at `path`, as the
    /// file is now: `registered` and every other byte stay as they are. Returns whether the
    /// file changed.
    pub fn record_stack(path: &Path, stack: &StackOutputs) -> Result<bool, OutputsError> {
        edit(path, |doc| {
            let table = outputs_table(doc);
            renew_header(table);
            set(table, "role_arn", &stack.role_arn);
            set(table, "stack_id", &stack.stack_id);
            set(table, "deployed_at", &stack.deployed_at);
            Ok(())
        })
    }

    /// Writes what `deploy` owns for a StackSet into `[outputs]` of the descriptor at `path`:
    /// `stack_set_id`, `deployed_at`, and `[outputs.role_arns]` made exactly `stack.role_arns`
    /// (an account without an instance any more drops out); `registered` and every other byte
    /// stay as they are. Returns whether the file changed.
    pub fn record_stack_set(path: &Path, stack: &StackSetOutputs) -> Result<bool, OutputsError> {
        edit(path, |doc| {
            let table = outputs_table(doc);
            renew_header(table);
            set(table, "stack_set_id", &stack.stack_set_id);
            set(table, "deployed_at", &stack.deployed_at);
            let mut wanted: Vec<(&str, &str)> = stack
                .role_arns
                .iter()
                .map(|(a, r)| (a.as_str(), r.as_str()))
                .collect();
            wanted.sort();
            wanted.dedup();
            let current: Vec<(&str, &str)> = table
                .get("role_arns")
                .and_then(Item::as_table_like)
                .map(|t| {
                    t.iter()
                        .filter_map(|(k, v)| Some((k, v.as_str()?)))
                        .collect()
                })
                .unwrap_or_default();
            if current != wanted {
                let mut roles = Table::new();
                for (account, arn) in &wanted {
                    roles[*account] = value(*arn);
                }
                table["role_arns"] = Item::Table(roles);
            }
            Ok(())
        })
    }

    /// Replaces `[outputs].registered` with what `update` makes of the list in the file now
    /// (an empty list removes the key). The table must exist: `register` needs the role
    /// `deploy` recorded. Returns whether the file changed.
    pub fn update_registered(
        path: &Path,
        update: impl FnOnce(&[String]) -> Vec<String>,
    ) -> Result<bool, OutputsError> {
        edit(path, |doc| {
            let Some(table) = doc.get_mut("outputs").and_then(Item::as_table_mut) else {
                return Err(OutputsError::NoOutputs {
                    path: path.to_owned(),
                });
            };
            renew_header(table);
            let current: Vec<String> = table
                .get("registered")
                .and_then(Item::as_array)
                .map(|a| {
                    a.iter()
                        .filter_map(|v| v.as_str())
                        .map(str::to_owned)
                        .collect()
                })
                .unwrap_or_default();
            let wanted = update(&current);
            if wanted.is_empty() {
                table.remove("registered");
            } else if wanted != current {
                table["registered"] = value(toml_edit::Array::from_iter(
                    wanted.iter().map(String::as_str),
                ));
            }
            Ok(())
        })
    }

    /// Removes the `[outputs]` table, keeping every other byte. Returns whether it was there.
    pub fn remove(path: &Path) -> Result<bool, OutputsError> {
        edit(path, |doc| {
            doc.remove("outputs");
            Ok(())
        })
    }
}

/// The `[outputs]` table, appended under its header when the file has none yet.
fn outputs_table(doc: &mut DocumentMut) -> &mut Table {
    if doc.get("outputs").and_then(Item::as_table).is_none() {
        let mut t = Table::new();
        t.decor_mut().set_prefix(HEADER);
        doc.insert("outputs", Item::Table(t));
    }
    doc["outputs"].as_table_mut().expect("just ensured")
}

/// Replaces the header line an earlier version wrote above `table` with [`HEADER`]'s, keeping
/// the rest of the table's leading comments.
fn renew_header(table: &mut Table) {
    let Some(prefix) = table.decor().prefix().and_then(|p| p.as_str()) else {
        return;
    };
    if prefix.lines().any(|l| l.trim_end() == OLD_HEADER_LINE) {
        let renewed = prefix.replacen(OLD_HEADER_LINE, HEADER.trim(), 1);
        table.decor_mut().set_prefix(renewed);
    }
}

/// Sets `key` unless it already holds `v`, so an unchanged value keeps its formatting.
fn set(table: &mut Table, key: &str, v: &str) {
    if table.get(key).and_then(Item::as_str) != Some(v) {
        table[key] = value(v);
    }
}

/// Reads the file as it is now, applies `f`, and writes the result when it differs, with the
/// file's byte-order mark and line endings (which `toml_edit` does not keep) restored.
fn edit(
    path: &Path,
    f: impl FnOnce(&mut DocumentMut) -> Result<(), OutputsError>,
) -> Result<bool, OutputsError> {
    // The descriptor passed `Layout::resolve` when it was loaded and claimed; only its size is
    // checked again here.
    let src = crate::read_capped(path, path).map_err(|e| OutputsError::Read {
        path: path.to_owned(),
        source: match e {
            crate::FileError::Io { err, .. } => err,
            e => std::io::Error::other(e.to_string()),
        },
    })?;
    let (bom, text) = strip_bom(&src);
    let mut doc: DocumentMut =
        text.parse()
            .map_err(|e: toml_edit::TomlError| OutputsError::Parse {
                path: path.to_owned(),
                message: e.message().to_owned(),
            })?;
    f(&mut doc)?;
    let edited = restore_line_endings(text, &doc.to_string());
    if edited == text {
        return Ok(false);
    }
    let new = if bom {
        format!("{BOM}{edited}")
    } else {
        edited
    };
    crate::write_atomic(path, new.as_bytes()).map_err(|source| OutputsError::Write {
        path: path.to_owned(),
        source,
    })?;
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SRC: &str = "# Staging: reviewed in pull requests.\n[aws]\nregion   =  \"us-west-2\"   # aligned by hand\n\n[role] # the stack\nexternal_id = 'single-quoted'\n";

    fn stack(arn: &str) -> StackOutputs {
        StackOutputs {
            role_arn: arn.into(),
            stack_id: "arn:aws:cloudformation:us-west-2:123456789012:stack/s/1".into(),
            deployed_at: "2026-11-25T10:00:00Z".into(),
        }
    }

    fn record(path: &Path, arn: &str) -> bool {
        Outputs::record_stack(path, &stack(arn)).unwrap()
    }

    const TABLE: &str = "\n# Recorded by `tsw deploy`; do not edit by hand.\n[outputs]\nrole_arn = \"arn:aws:iam::123456789012:role/r\"\nstack_id = \"arn:aws:cloudformation:us-west-2:123456789012:stack/s/1\"\ndeployed_at = \"2026-11-25T10:00:00Z\"\n";

    #[test]
    fn a_table_under_the_old_header_gets_the_new_one_and_no_second_table() {
        let old = TABLE.replace("`tsw deploy`", "`cargo xtask deploy`");
        assert_ne!(old, TABLE);
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("e.toml");
        std::fs::write(&path, format!("{SRC}{old}")).unwrap();
        assert!(
            record(&path, "arn:aws:iam::123456789012:role/r"),
            "header rewritten"
        );
        assert_eq!(
            std::fs::read_to_string(&path).unwrap(),
            format!("{SRC}{TABLE}")
        );
        assert!(!record(&path, "arn:aws:iam::123456789012:role/r"));
        // `register` rewrites it too; `destroy` removes it with the table.
        std::fs::write(&path, format!("{SRC}{old}")).unwrap();
        assert!(Outputs::update_registered(&path, |_| vec!["a/b@c".into()]).unwrap());
        assert_eq!(
            std::fs::read_to_string(&path).unwrap(),
            format!("{SRC}{TABLE}registered = [\"a/b@c\"]\n")
        );
        std::fs::write(&path, format!("{SRC}{old}")).unwrap();
        assert!(Outputs::remove(&path).unwrap());
        assert_eq!(std::fs::read_to_string(&path).unwrap(), SRC);
    }

    #[test]
    fn registered_versions_are_merged_into_the_list_in_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("e.toml");
        std::fs::write(&path, SRC).unwrap();
        record(&path, "arn:aws:iam::123456789012:role/r");
        let add = |id: &'static str| {
            move |current: &[String]| {
                let mut list = current.to_vec();
                list.push(id.to_owned());
                list
            }
        };
        assert!(Outputs::update_registered(&path, add("orders/w@1")).unwrap());
        assert!(Outputs::update_registered(&path, add("billing/w@1")).unwrap());
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(
            text.ends_with("registered = [\"orders/w@1\", \"billing/w@1\"]\n"),
            "{text}"
        );
        assert!(
            !Outputs::update_registered(&path, <[String]>::to_vec).unwrap(),
            "unchanged list: no write"
        );
        assert!(Outputs::update_registered(&path, |_| Vec::new()).unwrap());
        assert_eq!(
            std::fs::read_to_string(&path).unwrap(),
            format!("{SRC}{TABLE}")
        );
    }

    #[test]
    fn recording_the_stack_keeps_registered_versions_added_meanwhile() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("e.toml");
        let with_registered = format!("{SRC}{TABLE}registered = [\"orders/w@1\"]  # by register\n");
        std::fs::write(&path, &with_registered).unwrap();
        assert!(record(&path, "arn:aws:iam::123456789012:role/s"));
        assert_eq!(
            std::fs::read_to_string(&path).unwrap(),
            with_registered.replace("role/r", "role/s")
        );
    }

    #[test]
    fn a_stack_sets_outputs_hold_each_accounts_role_in_a_table_of_their_own() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("e.toml");
        std::fs::write(&path, SRC).unwrap();
        let set = |accounts: &[&str]| StackSetOutputs {
            stack_set_id: "roles:1b2c".into(),
            role_arns: accounts
                .iter()
                .map(|a| (a.to_string(), format!("arn:aws:iam::{a}:role/R")))
                .collect(),
            deployed_at: "2026-11-25T10:00:00Z".into(),
        };
        assert!(Outputs::record_stack_set(&path, &set(&["222222222222", "111111111111"])).unwrap());
        let table = "\n# Recorded by `tsw deploy`; do not edit by hand.\n[outputs]\nstack_set_id = \"roles:1b2c\"\ndeployed_at = \"2026-11-25T10:00:00Z\"\n\n[outputs.role_arns]\n111111111111 = \"arn:aws:iam::111111111111:role/R\"\n222222222222 = \"arn:aws:iam::222222222222:role/R\"\n";
        assert_eq!(
            std::fs::read_to_string(&path).unwrap(),
            format!("{SRC}{table}")
        );
        let loaded = crate::load_str(&path, &std::fs::read_to_string(&path).unwrap());
        assert!(
            loaded.is_err(),
            "no [stack_set] in SRC: the form is refused"
        );
        assert!(
            !Outputs::record_stack_set(&path, &set(&["111111111111", "222222222222"])).unwrap(),
            "same accounts: no write"
        );
        // An account without an instance any more drops out; `registered` stays.
        assert!(Outputs::update_registered(&path, |_| vec!["a/b@c".into()]).unwrap());
        assert!(Outputs::record_stack_set(&path, &set(&["111111111111"])).unwrap());
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.contains("registered = [\"a/b@c\"]"), "{text}");
        assert!(!text.contains("222222222222"), "{text}");
        assert!(Outputs::remove(&path).unwrap());
        assert_eq!(std::fs::read_to_string(&path).unwrap(), SRC);
    }

    #[test]
    fn registering_needs_the_table() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("e.toml");
        std::fs::write(&path, SRC).unwrap();
        let err = Outputs::update_registered(&path, |_| vec!["a/b@c".into()]).unwrap_err();
        assert!(matches!(err, OutputsError::NoOutputs { .. }), "{err}");
        assert_eq!(std::fs::read_to_string(&path).unwrap(), SRC);
    }

    #[test]
    fn record_appends_outputs_and_keeps_every_other_byte() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("staging.toml");
        std::fs::write(&path, SRC).unwrap();
        assert!(record(&path, "arn:aws:iam::123456789012:role/r"));
        let after = std::fs::read_to_string(&path).unwrap();
        assert_eq!(after, format!("{SRC}{TABLE}"));
        // Same values again: nothing to write.
        assert!(!record(&path, "arn:aws:iam::123456789012:role/r"));
        // New values: updated in place, nothing else moves.
        assert!(record(&path, "arn:aws:iam::123456789012:role/s"));
        let again = std::fs::read_to_string(&path).unwrap();
        assert_eq!(again, after.replace("role/r", "role/s"));
        // Remove: back to the original bytes.
        assert!(Outputs::remove(&path).unwrap());
        assert_eq!(std::fs::read_to_string(&path).unwrap(), SRC);
        assert!(!Outputs::remove(&path).unwrap());
    }

    #[test]
    fn unparsable_file_is_left_alone() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("bad.toml");
        std::fs::write(&path, "[aws\n").unwrap();
        assert!(matches!(
            Outputs::record_stack(&path, &stack("x")),
            Err(OutputsError::Parse { .. })
        ));
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "[aws\n");
    }

    #[test]
    fn crlf_line_endings_and_a_byte_order_mark_survive() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("e.toml");
        let src = format!("\u{feff}{}", SRC.replace('\n', "\r\n"));
        std::fs::write(&path, &src).unwrap();
        record(&path, "arn:aws:iam::123456789012:role/r");
        let after = std::fs::read_to_string(&path).unwrap();
        assert_eq!(after, format!("{src}{}", TABLE.replace('\n', "\r\n")));
        assert!(Outputs::remove(&path).unwrap());
        assert_eq!(std::fs::read_to_string(&path).unwrap(), src);
    }

    #[test]
    fn mixed_line_endings_are_kept_line_by_line() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("e.toml");
        let src = "[aws]\r\nregion = \"us-west-2\"\n\r\n[role]\r\nname = \"\"\"a\r\nb\"\"\"\n";
        std::fs::write(&path, src).unwrap();
        record(&path, "arn:aws:iam::123456789012:role/r");
        let after = std::fs::read_to_string(&path).unwrap();
        assert!(after.starts_with(src), "{after:?}");
        assert!(Outputs::remove(&path).unwrap());
        assert_eq!(std::fs::read_to_string(&path).unwrap(), src);
    }
}
