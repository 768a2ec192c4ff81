//! The only writer of descriptors: it owns the `[outputs]` table and nothing else.

use std::path::{Path, PathBuf};

use toml_edit::{DocumentMut, Item, Table, value};

use crate::model::Outputs;

const HEADER: &str = "\n# Recorded by `cargo xtask deploy`; do not edit by hand.\n";

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
}

impl Outputs {
    /// Writes these values into the `[outputs]` table of the descriptor at `path`, keeping
    /// every other byte of the file as it was. Returns whether the file changed.
    pub fn record(&self, path: &Path) -> Result<bool, OutputsError> {
        edit(path, |doc| {
            let table = match doc.get_mut("outputs").and_then(Item::as_table_mut) {
                Some(t) => t,
                None => {
                    let mut t = Table::new();
                    t.decor_mut().set_prefix(HEADER);
                    doc.insert("outputs", Item::Table(t));
                    doc["outputs"].as_table_mut().expect("just inserted")
                }
            };
            set(table, "role_arn", &self.role_arn);
            set(table, "stack_id", &self.stack_id);
            set(table, "deployed_at", &self.deployed_at);
            let registered: Vec<&str> = table
                .get("registered")
                .and_then(Item::as_array)
                .map(|a| a.iter().filter_map(|v| v.as_str()).collect())
                .unwrap_or_default();
            if self.registered.is_empty() {
                table.remove("registered");
            } else if registered
                != self
                    .registered
                    .iter()
                    .map(String::as_str)
                    .collect::<Vec<_>>()
            {
                table["registered"] = value(toml_edit::Array::from_iter(
                    self.registered.iter().map(String::as_str),
                ));
            }
        })
    }

    /// Removes the `[outputs]` table, keeping every other byte. Returns whether it was there.
    pub fn remove(path: &Path) -> Result<bool, OutputsError> {
        edit(path, |doc| {
            doc.remove("outputs");
        })
    }
}

/// Sets `key` unless it already holds `v`, so an unchanged value keeps its formatting.
fn set(table: &mut Table, key: &str, v: &str) {
    if table.get(key).and_then(Item::as_str) != Some(v) {
        table[key] = value(v);
    }
}

fn edit(path: &Path, f: impl FnOnce(&mut DocumentMut)) -> Result<bool, OutputsError> {
    let src = std::fs::read_to_string(path).map_err(|source| OutputsError::Read {
        path: path.to_owned(),
        source,
    })?;
    let mut doc: DocumentMut =
        src.parse()
            .map_err(|e: toml_edit::TomlError| OutputsError::Parse {
                path: path.to_owned(),
                message: e.message().to_owned(),
            })?;
    f(&mut doc);
    let new = doc.to_string();
    if new == src {
        return Ok(false);
    }
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

    fn outputs(arn: &str) -> Outputs {
        Outputs {
            role_arn: arn.into(),
            stack_id: "arn:aws:cloudformation:us-west-2:123456789012:stack/s/1".into(),
            deployed_at: "2026-11-25T10:00:00Z".into(),
            registered: Vec::new(),
        }
    }

    #[test]
    fn registered_versions_are_written_and_removed() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("e.toml");
        std::fs::write(&path, SRC).unwrap();
        let mut o = outputs("arn:aws:iam::123456789012:role/r");
        o.registered = vec!["orders/w@1".into(), "billing/w@1".into()];
        o.record(&path).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(
            text.ends_with("registered = [\"orders/w@1\", \"billing/w@1\"]\n"),
            "{text}"
        );
        assert!(!o.record(&path).unwrap(), "unchanged list: no write");
        o.registered.clear();
        o.record(&path).unwrap();
        assert!(
            !std::fs::read_to_string(&path)
                .unwrap()
                .contains("registered")
        );
    }

    #[test]
    fn record_appends_outputs_and_keeps_every_other_byte() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("staging.toml");
        std::fs::write(&path, SRC).unwrap();
        assert!(
            outputs("arn:aws:iam::123456789012:role/r")
                .record(&path)
                .unwrap()
        );
        let after = std::fs::read_to_string(&path).unwrap();
        assert!(after.starts_with(SRC), "{after}");
        assert_eq!(
            &after[SRC.len()..],
            "\n# Recorded by `cargo xtask deploy`; do not edit by hand.\n[outputs]\nrole_arn = \"arn:aws:iam::123456789012:role/r\"\nstack_id = \"arn:aws:cloudformation:us-west-2:123456789012:stack/s/1\"\ndeployed_at = \"2026-11-25T10:00:00Z\"\n"
        );
        // Same values again: nothing to write.
        assert!(
            !outputs("arn:aws:iam::123456789012:role/r")
                .record(&path)
                .unwrap()
        );
        // New values: updated in place, nothing else moves.
        assert!(
            outputs("arn:aws:iam::123456789012:role/s")
                .record(&path)
                .unwrap()
        );
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
            outputs("x").record(&path),
            Err(OutputsError::Parse { .. })
        ));
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "[aws\n");
    }
}
