//! Reading a descriptor: serde (`toml_edit::de`) reads the document into the [`Read`] stage of
//! the model, every value with its span and its rule's verdict; the rules across keys
//! (`rules.rs`) then read those tables by field. A problem names a span, and its key is found
//! from the span ([`KeyIndex`]), so no rule spells a dotted key for a value it read.
//!
//! serde stops at the first structural problem (an unknown or missing key, a wrong type): that
//! one is reported alone, in today's words. Every value's own rule and every rule across keys
//! report at once.

use std::collections::BTreeMap;
use std::ops::Range;
use std::path::Path;

use crate::layout::Layout;
use crate::model::Environment;
use crate::problem::{Problem, Severity};
use crate::stage::{Read, read_rejecting};

/// One problem as a rule finds it: about the value at a span, or a key left out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Found {
    pub(crate) severity: Severity,
    pub(crate) at: Blame,
    pub(crate) message: String,
}

/// What a problem is about, and where its line is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Blame {
    /// The value (or list entry, or tag key) at this span.
    Value(Range<usize>),
    /// The key whose value is at this span: its line, pointing at the key.
    Key(Range<usize>),
    /// A key named by its dotted name (one left out, a list, a table), shown at `offset` when
    /// it has a line.
    At { key: String, offset: Option<usize> },
}

impl Found {
    pub(crate) fn error(at: Blame, message: impl Into<String>) -> Self {
        Found {
            severity: Severity::Error,
            at,
            message: message.into(),
        }
    }

    pub(crate) fn warning(at: Blame, message: impl Into<String>) -> Self {
        Found {
            severity: Severity::Warning,
            at,
            message: message.into(),
        }
    }
}

/// What a rule may need beyond the tables: the descriptor's path and text, where its keys are,
/// and the checkout when the files its keys name are to be checked on disk.
pub(crate) struct Context<'s> {
    pub(crate) file: &'s Path,
    pub(crate) src: &'s str,
    pub(crate) index: &'s KeyIndex,
    pub(crate) checkout: Option<&'s Layout>,
}

impl Context<'_> {
    /// The 1-based line of byte `offset`, for messages that name another key's line.
    pub(crate) fn line_of(&self, offset: usize) -> usize {
        crate::problem::line_col(self.src, offset).0
    }

    /// Where the key of the value at `span` starts.
    pub(crate) fn key_start(&self, span: &Range<usize>) -> usize {
        self.index.at(span).map_or(span.start, |(_, at)| at)
    }

    /// The key `key` (a list, a table of tables' entry), at its key's line. For values
    /// without a span of their own in the [`Read`] stage.
    pub(crate) fn key_blame(&self, key: &str) -> Blame {
        Blame::At {
            key: key.to_owned(),
            offset: self.index.named(key).map(|(_, at)| at),
        }
    }

    /// The key `key` (one left out), at the line of its table `table`.
    pub(crate) fn missing_in(&self, key: &str, table: &str) -> Blame {
        Blame::At {
            key: key.to_owned(),
            offset: self.index.named(table).map(|(_, at)| at),
        }
    }

    /// The key `key`, at its value's start.
    pub(crate) fn value_blame(&self, key: &str) -> Blame {
        Blame::At {
            key: key.to_owned(),
            offset: self.index.named(key).map(|(start, _)| start),
        }
    }
}

/// The dotted key of each value, list entry, tag key and table, by where it starts, with where
/// its key starts (a list entry's and a table's is its own start).
pub(crate) struct KeyIndex(BTreeMap<usize, (String, usize)>);

impl KeyIndex {
    pub(crate) fn of(doc: &toml_edit::Document<String>) -> Self {
        fn put(
            out: &mut BTreeMap<usize, (String, usize)>,
            span: Option<Range<usize>>,
            name: String,
            key: Option<usize>,
        ) {
            if let Some(span) = span {
                out.entry(span.start)
                    .or_insert((name, key.unwrap_or(span.start)));
            }
        }
        fn walk(
            t: &dyn toml_edit::TableLike,
            at: &str,
            out: &mut BTreeMap<usize, (String, usize)>,
        ) {
            for (key, item) in t.iter() {
                let full = if at.is_empty() {
                    key.to_owned()
                } else {
                    format!("{at}.{key}")
                };
                let key_start = t
                    .get_key_value(key)
                    .and_then(|(k, _)| k.span())
                    .map(|s| s.start);
                if let Some(key_start) = key_start {
                    put(
                        out,
                        Some(key_start..key_start),
                        full.clone(),
                        Some(key_start),
                    );
                }
                put(out, item.span(), full.clone(), key_start);
                if let Some(tables) = item.as_array_of_tables() {
                    for (i, sub) in tables.iter().enumerate() {
                        let entry = format!("{full}[{i}]");
                        put(out, sub.span(), entry.clone(), None);
                        walk(sub, &entry, out);
                    }
                } else if let Some(sub) = item.as_table_like() {
                    walk(sub, &full, out);
                } else if let Some(list) = item.as_array() {
                    for (i, v) in list.iter().enumerate() {
                        put(out, v.span(), format!("{full}[{i}]"), None);
                    }
                }
            }
        }
        let mut out = BTreeMap::new();
        walk(doc.as_table(), "", &mut out);
        KeyIndex(out)
    }

    /// Where the value of the dotted `key` starts, and where its key starts.
    fn named(&self, key: &str) -> Option<(usize, usize)> {
        self.0
            .iter()
            .filter(|(_, (k, _))| k == key)
            .map(|(start, (_, at))| (*start, *at))
            .max()
    }

    /// The dotted key of what starts at `span`, and where its key starts.
    fn at(&self, span: &Range<usize>) -> Option<(&str, usize)> {
        self.0.get(&span.start).map(|(k, at)| (k.as_str(), *at))
    }
}

/// The document read into the [`Read`] stage, with what every value's own rule rejected; or the
/// first structural problem serde met.
pub(crate) fn read(
    doc: toml_edit::Document<String>,
    index: &KeyIndex,
) -> Result<(Environment<Read>, Vec<Found>), Found> {
    let (read, rejected) =
        read_rejecting(|| toml_edit::de::from_document::<Environment<Read>>(doc));
    let env = read.map_err(|e| structural(&e, index))?;
    let found = rejected
        .into_iter()
        .map(|(span, why)| Found::error(Blame::Value(span), why))
        .collect();
    Ok((env, found))
}

/// serde's error in the words every other problem uses: "unknown key; allowed: ...", "is
/// missing; allowed: ...", "expected a string, found integer".
fn structural(e: &toml_edit::de::Error, index: &KeyIndex) -> Found {
    let message = e.message();
    let span = e.span().unwrap_or(0..0);
    let table = || {
        if span.is_empty() {
            String::new()
        } else {
            index
                .at(&span)
                .map(|(k, _)| k.to_owned())
                .unwrap_or_default()
        }
    };
    if let Some(rest) = message.strip_prefix("unknown field `")
        && let Some((_, allowed)) = rest.split_once("`, expected ")
    {
        let allowed = allowed.trim_start_matches("one of ").replace(" or ", ", ");
        let what = if index.at(&span).is_some_and(|(k, _)| !k.contains('.')) {
            "table"
        } else {
            "key"
        };
        return Found::error(
            Blame::Value(span),
            format!("unknown {what}; allowed: {allowed}"),
        );
    }
    if let Some(rest) = message.strip_prefix("missing field `") {
        let key = rest.trim_end_matches('`');
        let section = table();
        let full = if section.is_empty() {
            key.to_owned()
        } else {
            format!("{section}.{key}")
        };
        // The tables at the top level are the only keys there.
        let message = if section.is_empty() {
            format!("the table `[{full}]` is missing")
        } else {
            let table = section.split('[').next().unwrap_or_default();
            format!("is missing; {}", crate::declared::missing_hint(table, key))
        };
        return Found::error(
            Blame::At {
                key: full,
                offset: None,
            },
            message,
        );
    }
    if let Some(rest) = message.strip_prefix("invalid type: ")
        && let Some((found, expected)) = rest.split_once(", expected ")
    {
        let found = found.split(' ').next().unwrap_or(found);
        let expected = match expected {
            "a boolean" => "`true` or `false`".to_owned(),
            "a map" => "a table of strings, e.g. `tags = { team = \"payments\" }`".to_owned(),
            e if e.starts_with("struct ") => "a table".to_owned(),
            e if e.starts_with("a sequence") => "an array".to_owned(),
            e => e.to_owned(),
        };
        return Found::error(
            Blame::Value(span),
            format!("expected {expected}, found {found}"),
        );
    }
    Found::error(Blame::Value(span), message.to_owned())
}

/// A problem as the user reads it: its key from the index, its line from the text.
pub(crate) fn problem(found: Found, index: &KeyIndex, cx: &Context) -> Problem {
    let (key, offset) = match &found.at {
        Blame::Value(span) => match index.at(span) {
            Some((key, _)) => (key.to_owned(), Some(span.start)),
            None => ("(document)".to_owned(), Some(span.start)),
        },
        Blame::Key(span) => match index.at(span) {
            Some((key, at)) => (key.to_owned(), Some(at)),
            None => ("(document)".to_owned(), Some(span.start)),
        },
        Blame::At { key, offset } => (key.clone(), *offset),
    };
    Problem::at(found.severity, cx.file, cx.src, offset, key, found.message)
}
