//! A format-preserving editor for the keys a tool owns in one block mapping of a YAML file.
//!
//! The tool's keys sit together in a *managed block*, between two comment lines of their own
//! (a begin and an end marker) at the indentation of the mapping's keys:
//!
//! ```yaml
//! frontend.enableUpdateWorkflowExecution:   # the user's keys stay as they are
//!   - value: true
//! # >>> tsw: workercontroller (managed: ...) >>>
//! workercontroller.enabled:
//!   - value: true
//! # <<< tsw: workercontroller <<<
//! ```
//!
//! [`put_managed_block`] replaces that block, or adds it at the end of the mapping, and keeps
//! every other byte of the file: comments, quoting, line endings, a byte-order mark. The mapping
//! is addressed by a key path: `[]` is the document's root (Temporal's dynamic config file),
//! `["server", "dynamicConfig"]` the mapping under those keys (a Helm values file), where an
//! empty value (`dynamicConfig:` or `dynamicConfig: {}`) becomes a block mapping, and keys of
//! the path that the file lacks are added (empty) at the end of their parent mapping. A key's
//! list may sit at the key's own indentation (an indentless sequence, as in the chart's
//! example values).
//!
//! Reading is one linear pass over the lines with a small lexer that knows where quoted
//! scalars, block scalars, plain multi-line scalars and flow collections begin and end, so a
//! marker is only ever a whole comment line at the mapping's indentation between its entries,
//! never text inside a comment with other words, a string or a block scalar.
//!
//! Safe by construction, whatever the lexer makes of an unusual file: the file is parsed
//! before and after the edit, and the edit is refused unless every key the tool does not own
//! (anywhere in the document) is unchanged, in order, and the owned keys of the mapping equal
//! the requested entries. A half block, owned keys outside the block, or foreign keys inside
//! it are refused with their line numbers; nothing is written by this module.

use std::borrow::Cow;
use std::ops::Range;

use serde_yaml::{Mapping, Value};

/// The managed block: where it lives, how its markers read, and which keys it may hold.
#[derive(Debug, Clone, Copy)]
pub struct Block<'a> {
    /// The keys leading to the mapping, from the document's root; `[]` is the root itself.
    pub path: &'a [&'a str],
    /// The begin marker. A line is one when it reads exactly this, or this followed by
    /// ` (` ... `) >>>` (a note for humans, such as [`Block::note`]).
    pub begin: &'a str,
    /// Written after `begin` on the begin line: ` (managed: ...) >>>`.
    pub note: &'a str,
    /// The end marker; a line is one when it reads exactly this.
    pub end: &'a str,
    /// The begin and end markers earlier versions wrote: read as markers too (a block under
    /// them is replaced, never added a second time), and written as [`Block::begin`] and
    /// [`Block::end`].
    pub former: &'a [(&'a str, &'a str)],
    /// Whether the block may hold `key`. Such keys may appear nowhere else in the mapping.
    pub owns: fn(&str) -> bool,
    /// What `owns` accepts, for messages: "`workercontroller.*` keys".
    pub owned: &'a str,
}

/// Why a file was not edited.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EditError {
    #[error("it is not valid YAML: {0}")]
    NotYaml(String),
    #[error("it has no `{0}` key for the tool's keys; add it (an empty `{{}}` will do)")]
    MissingPath(String),
    #[error(
        "{path} (line {line}) is not a block mapping of keys, so the tool's keys cannot go into it"
    )]
    NotABlockMapping { path: String, line: usize },
    #[error("the managed block is broken: {0}; fix or delete the marker lines")]
    BrokenBlock(String),
    #[error(
        "it already sets {} outside the managed block; delete those keys (the block will carry them) so they are not set twice",
        list(.0)
    )]
    OwnedOutside(Vec<(String, usize)>),
    #[error(
        "{} inside the managed block, which holds only {owned}; move {} out of the block (above its begin marker)",
        inside(.keys), if .keys.len() == 1 { "it" } else { "them" }
    )]
    ForeignInside {
        keys: Vec<(String, usize)>,
        owned: String,
    },
    #[error("the entries to write are not a mapping of {owned}: {detail}")]
    BadEntries { owned: String, detail: String },
    #[error(
        "the edit would change more than the managed keys ({0}); this is a bug in the tool's YAML reading, please report it with the file"
    )]
    Unverified(String),
    #[error(
        "line {line} is nested more than {MAX_DEPTH} levels deep; allowed: at most {MAX_DEPTH} (a dynamic config or Helm values file needs a handful); nothing was parsed"
    )]
    TooDeep { line: usize },
}

/// The deepest nesting of collections (block and flow together) the tool parses: checked by
/// [`check_depth`] in one linear pass before any YAML parser sees a file, since the parser's
/// work grows with the square of the depth of flow collections (47 s for 200 KB of `[`).
pub const MAX_DEPTH: usize = 64;

/// Refuses `text` when its collections nest more than [`MAX_DEPTH`] deep, naming the line.
/// One pass: block nesting by indentation and compact `- ` entries, flow nesting by brackets
/// outside quoted scalars, comments and block scalars.
pub fn check_depth(text: &str) -> Result<(), EditError> {
    let mut indents: Vec<usize> = Vec::new();
    let mut flow = 0usize;
    let mut quote: Option<u8> = None;
    // The indentation of the line that opened a block scalar (`|`, `>`), while in one.
    let mut block_scalar: Option<usize> = None;
    for (number, line) in text.lines().enumerate() {
        let b = line.as_bytes();
        let too_deep = Err(EditError::TooDeep { line: number + 1 });
        let indent = b.iter().take_while(|&&c| c == b' ').count();
        let blank =
            b[indent..].iter().all(|c| c.is_ascii_whitespace()) || b.get(indent) == Some(&b'#');
        let mut i = 0;
        if quote.is_none() && flow == 0 {
            if let Some(owner) = block_scalar {
                if blank || indent > owner {
                    continue;
                }
                block_scalar = None;
            }
            if blank {
                continue;
            }
            while indents.last().is_some_and(|&last| last >= indent) {
                indents.pop();
            }
            indents.push(indent);
            i = indent;
            while matches!(b.get(i), Some(b'-' | b'?' | b':')) && ends_token(b, i + 1) {
                indents.push(i + 1);
                i = skip_spaces(b, i + 1);
            }
            if indents.len() > MAX_DEPTH {
                return too_deep;
            }
        }
        let mut last = 0u8;
        while i < b.len() {
            if let Some(q) = quote {
                match close_quote(b, i, q) {
                    Some(j) => {
                        quote = None;
                        i = j + 1;
                        continue;
                    }
                    None => break,
                }
            }
            let c = b[i];
            let token_start = i == 0 || matches!(b[i - 1], b' ' | b'\t' | b'[' | b'{' | b',');
            match c {
                b'"' | b'\'' if token_start => quote = Some(c),
                b'[' | b'{' => {
                    flow += 1;
                    if indents.len() + flow > MAX_DEPTH {
                        return too_deep;
                    }
                }
                b']' | b'}' => flow = flow.saturating_sub(1),
                b'#' if token_start => break,
                _ => {}
            }
            if !c.is_ascii_whitespace() {
                last = c;
            }
            i += 1;
        }
        // A block scalar's header ends its line: `key: |`, `- >-`, `key: |2+`.
        if flow == 0 && quote.is_none() {
            let head = line.split(" #").next().unwrap_or(line).trim_end();
            let indicator =
                head.trim_end_matches(|c: char| c == '+' || c == '-' || c.is_ascii_digit());
            if (indicator.ends_with('|') || indicator.ends_with('>'))
                && (indicator.len() == 1
                    || indicator[..indicator.len() - 1].ends_with([' ', ':', '-']))
                && last != 0
            {
                block_scalar = Some(indent);
            }
        }
    }
    Ok(())
}

impl<'a> Block<'a> {
    /// A block that owns nothing and has no markers (a comment line never equals a line
    /// break): reading with it finds the mapping at `path`, where a missing key goes.
    fn probe(path: &'a [&'a str]) -> Self {
        Block {
            path,
            begin: "\n",
            note: "",
            end: "\n",
            former: &[],
            owns: |_| false,
            owned: "",
        }
    }
}

fn list(keys: &[(String, usize)]) -> String {
    keys.iter()
        .map(|(k, line)| format!("`{k}` (line {line})"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn inside(keys: &[(String, usize)]) -> String {
    let verb = if keys.len() == 1 { "is" } else { "are" };
    format!("{} {verb}", list(keys))
}

/// The edited file and the mapping at the block's path, as parsed from it.
#[derive(Debug)]
pub struct Edited {
    pub text: String,
    pub mapping: Mapping,
}

/// Puts `entries` (a block mapping at indentation 0, every key owned by `block`) into the
/// managed block of `text`, replacing the block or adding it at the end of the mapping.
/// Returns the new text (equal to `text` when nothing changes) and the mapping as parsed
/// from it, after checking that nothing but the owned keys of the mapping changed.
pub fn put_managed_block(text: &str, block: &Block, entries: &str) -> Result<Edited, EditError> {
    check_depth(text)?;
    let wanted = parse_entries(block, entries)?;
    let before = with_path(parse(text)?, block.path);
    let base = add_missing_keys(text, block.path)?;
    let layout = Layout::read(&base, block)?;
    let edited = layout.splice(&base, block, entries);
    let after = if edited == text {
        None
    } else {
        Some(parse(&edited)?)
    };
    verify(&before, after.as_ref().unwrap_or(&before), block, &wanted)?;
    let mapping = take_mapping(after.unwrap_or(before), block.path)
        .ok_or_else(|| EditError::Unverified("the mapping is gone".into()))?;
    Ok(Edited {
        text: edited,
        mapping,
    })
}

fn parse_entries(block: &Block, entries: &str) -> Result<Mapping, EditError> {
    let bad = |detail: String| EditError::BadEntries {
        owned: block.owned.to_owned(),
        detail,
    };
    let mapping = match serde_yaml::from_str(entries).map_err(|e| bad(e.to_string()))? {
        Value::Mapping(m) => m,
        other => return Err(bad(format!("found {other:?}"))),
    };
    if let Some(key) = mapping.keys().find(|k| !k.as_str().is_some_and(block.owns)) {
        return Err(bad(format!("key {key:?}")));
    }
    Ok(mapping)
}

/// `text` with the keys of `path` that it lacks added, each (empty) at the end of its parent
/// mapping: the chart's `values.yaml` has no `server.dynamicConfig`.
fn add_missing_keys<'t>(text: &'t str, path: &[&str]) -> Result<Cow<'t, str>, EditError> {
    let Some((last, parent)) = path.split_last() else {
        return Ok(Cow::Borrowed(text));
    };
    match Layout::read(text, &Block::probe(path)) {
        Err(EditError::MissingPath(_)) => {}
        Ok(_) => return Ok(Cow::Borrowed(text)),
        Err(e) => return Err(e),
    }
    let text = add_missing_keys(text, parent)?;
    let layout = Layout::read(&text, &Block::probe(parent))?;
    Ok(Cow::Owned(layout.add_key(&text, last)))
}

/// `value` as [`add_missing_keys`] leaves it: the keys of `path` it lacks added (the last one
/// empty) at the end of their mappings, and an empty mapping on the way made one.
fn with_path(mut value: Value, path: &[&str]) -> Value {
    fn walk(value: &mut Value, path: &[&str]) {
        let Some((first, rest)) = path.split_first() else {
            return;
        };
        if value.is_null() {
            *value = Value::Mapping(Mapping::new());
        }
        if let Value::Mapping(m) = value {
            let key = Value::from(*first);
            if !m.contains_key(&key) {
                m.insert(key.clone(), Value::Null);
            }
            if let Some(next) = m.get_mut(&key) {
                walk(next, rest);
            }
        }
    }
    walk(&mut value, path);
    value
}

fn parse(text: &str) -> Result<Value, EditError> {
    check_depth(text)?;
    serde_yaml::from_str(text.strip_prefix('\u{feff}').unwrap_or(text))
        .map_err(|e| EditError::NotYaml(e.to_string()))
}

// ------------------------------------------------------------------------------------------
// Verification: the edit changed the owned keys of the mapping and nothing else.

fn verify(before: &Value, after: &Value, block: &Block, wanted: &Mapping) -> Result<(), EditError> {
    let unverified = |what: String| Err(EditError::Unverified(what));
    let empty = Mapping::new();
    let (Some(was), Some(Value::Mapping(now))) =
        (lookup(before, block.path), lookup(after, block.path))
    else {
        return unverified(format!("{} is no mapping after it", path_name(block.path)));
    };
    let was = match was {
        Value::Mapping(m) => m,
        Value::Null => &empty,
        _ => return unverified(format!("{} was no mapping", path_name(block.path))),
    };
    if !same_outside(before, after, block.path) {
        return unverified(format!("outside {}", path_name(block.path)));
    }
    let owned = |(k, _): &(&Value, &Value)| k.as_str().is_some_and(block.owns);
    if !was
        .iter()
        .filter(|e| !owned(e))
        .eq(now.iter().filter(|e| !owned(e)))
    {
        return unverified("a key the tool does not own".into());
    }
    if !now.iter().filter(owned).eq(wanted.iter()) {
        return unverified("the managed keys differ from the entries".into());
    }
    Ok(())
}

/// The mapping at `path`, moved out of `value`.
fn take_mapping(value: Value, path: &[&str]) -> Option<Mapping> {
    let mut value = value;
    for key in path {
        value = value.as_mapping_mut()?.remove(*key)?;
    }
    match value {
        Value::Mapping(m) => Some(m),
        _ => None,
    }
}

/// The value at `path`, where each step is a key of a mapping.
fn lookup<'v>(value: &'v Value, path: &[&str]) -> Option<&'v Value> {
    path.iter()
        .try_fold(value, |v, key| v.as_mapping()?.get(*key))
}

/// Whether `a` and `b` are equal everywhere but at `path` (entry by entry, in order).
fn same_outside(a: &Value, b: &Value, path: &[&str]) -> bool {
    let Some((first, rest)) = path.split_first() else {
        return true;
    };
    let (Some(a), Some(b)) = (a.as_mapping(), b.as_mapping()) else {
        return false;
    };
    a.len() == b.len()
        && a.iter().zip(b).all(|((ka, va), (kb, vb))| {
            ka == kb
                && if ka.as_str() == Some(*first) {
                    same_outside(va, vb, rest)
                } else {
                    va == vb
                }
        })
}

/// `server.dynamicConfig` in backticks, or "the document's root".
fn path_name(path: &[&str]) -> String {
    if path.is_empty() {
        "the document's root".into()
    } else {
        format!("`{}`", path.join("."))
    }
}

// ------------------------------------------------------------------------------------------
// Reading: one pass over the lines.

/// Where things are in the file, for the block's mapping.
#[derive(Debug)]
struct Layout {
    /// The mapping's keys: name, 1-based line, byte offset of the line.
    entries: Vec<(String, usize)>,
    /// The managed block's bytes (whole lines, markers included), if there is one.
    block: Option<Range<usize>>,
    /// Where a new block goes (the start of a line), when there is none.
    insert_at: usize,
    /// Bytes to drop when the block is added: an empty `{}` value of the mapping's key.
    empty_flow: Option<Range<usize>>,
    /// Indentation of the mapping's keys.
    indent: usize,
    /// The file's line ending.
    eol: &'static str,
}

/// One line: byte range without its line ending, and the offset after it.
#[derive(Debug, Clone, Copy)]
struct Line {
    start: usize,
    end: usize,
    next: usize,
}

fn lines(text: &str) -> impl Iterator<Item = Line> + '_ {
    let bom = if text.starts_with('\u{feff}') { 3 } else { 0 };
    let mut at = bom;
    std::iter::from_fn(move || {
        if at >= text.len() {
            return None;
        }
        let start = at;
        let (end, next) = match text[start..].find('\n') {
            Some(i) => {
                let nl = start + i;
                let end = if text[start..nl].ends_with('\r') {
                    nl - 1
                } else {
                    nl
                };
                (end, nl + 1)
            }
            None => (text.len(), text.len()),
        };
        at = next;
        Some(Line { start, end, next })
    })
}

/// What a line is, as far as the mapping structure goes.
#[derive(Debug, PartialEq, Eq)]
enum Kind<'t> {
    Blank,
    /// A whole-line comment at this indentation (outside any scalar).
    Comment(usize),
    /// Inside or continuing a node that started on an earlier line.
    Inner,
    /// Starts with an implicit key at this indentation; `colon` is the offset after its `:`.
    Key {
        indent: usize,
        key: Cow<'t, str>,
        colon: usize,
    },
    /// Starts with a `- ` sequence entry at this indentation.
    Entry(usize),
    /// Starts with something else (a scalar, a flow collection, `?`).
    Other(usize),
    /// `---` or `...` at column 0, or a `%` directive.
    DocumentMarker,
}

/// What the lexer carries from one line to the next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Carry {
    None,
    /// A block scalar whose parent node starts at this column: deeper or blank lines are its.
    BlockScalar(usize),
    /// A plain scalar that continues on lines deeper than this column.
    Plain(usize),
    /// An unclosed quoted scalar, inside `flow` flow collections.
    Quoted {
        quote: u8,
        flow: usize,
    },
    /// Inside this many unclosed flow collections.
    Flow(usize),
}

/// The line lexer: classifies each line and carries multi-line state across lines.
#[derive(Debug)]
struct Lexer {
    carry: Carry,
}

impl Lexer {
    fn classify<'t>(&mut self, line: &'t str, offset: usize) -> Kind<'t> {
        let b = line.as_bytes();
        let indent = b.iter().take_while(|&&c| c == b' ').count();
        let blank = b[indent..].iter().all(|c| c.is_ascii_whitespace());
        match self.carry {
            Carry::Quoted { quote, flow } => {
                self.carry = match close_quote(b, 0, quote) {
                    None => self.carry,
                    Some(i) if flow > 0 => match lex_flow(b, i + 1, flow) {
                        (Some(j), _) => lex_block(b, j, indent, offset).1,
                        (None, carry) => carry,
                    },
                    Some(i) => lex_block(b, i + 1, indent, offset).1,
                };
                return Kind::Inner;
            }
            Carry::Flow(depth) => {
                self.carry = match lex_flow(b, 0, depth) {
                    (Some(i), _) => lex_block(b, i, indent, offset).1,
                    (None, carry) => carry,
                };
                return Kind::Inner;
            }
            _ if blank => return Kind::Blank,
            Carry::BlockScalar(owner) if indent > owner => return Kind::Inner,
            Carry::Plain(owner) if indent > owner && b[indent] != b'#' => return Kind::Inner,
            _ => {}
        }
        self.carry = Carry::None;
        if b[indent] == b'#' {
            return Kind::Comment(indent);
        }
        let document_marker = (b.starts_with(b"---") || b.starts_with(b"...")) && ends_token(b, 3);
        if indent == 0 && (document_marker || b[0] == b'%') {
            return Kind::DocumentMarker;
        }
        let (kind, carry) = lex_block(b, indent, indent, offset);
        self.carry = carry;
        kind.unwrap_or(Kind::Other(indent))
    }
}

/// Whether position `i` of `b` ends a token (whitespace or the end of the line).
fn ends_token(b: &[u8], i: usize) -> bool {
    b.get(i).is_none_or(|c| *c == b' ' || *c == b'\t')
}

/// The index of the closing `quote` at or after `i`, skipping escapes (`\x` in double
/// quotes, `''` in single quotes).
fn close_quote(b: &[u8], mut i: usize, quote: u8) -> Option<usize> {
    while i < b.len() {
        match b[i] {
            b'\\' if quote == b'"' => i += 2,
            c if c == quote => {
                if quote == b'\'' && b.get(i + 1) == Some(&b'\'') {
                    i += 2;
                } else {
                    return Some(i);
                }
            }
            _ => i += 1,
        }
    }
    None
}

/// Lexes flow content from `i` at `depth` open collections: the index after the collection
/// that closes the outermost one, or the carry at the end of the line.
fn lex_flow(b: &[u8], mut i: usize, mut depth: usize) -> (Option<usize>, Carry) {
    while i < b.len() {
        match b[i] {
            q @ (b'"' | b'\'') => match close_quote(b, i + 1, q) {
                Some(j) => i = j,
                None => {
                    return (
                        None,
                        Carry::Quoted {
                            quote: q,
                            flow: depth,
                        },
                    );
                }
            },
            b'[' | b'{' => depth += 1,
            b']' | b'}' => {
                depth = depth.saturating_sub(1);
                if depth == 0 {
                    return (Some(i + 1), Carry::None);
                }
            }
            b'#' if i == 0 || matches!(b[i - 1], b' ' | b'\t') => break,
            _ => {}
        }
        i += 1;
    }
    (None, Carry::Flow(depth))
}

/// Lexes block content of a line from `i` (the line's nodes start at `indent`): how the line
/// starts (when `i == indent`), and what carries to the next line.
fn lex_block<'t>(
    b: &'t [u8],
    mut i: usize,
    indent: usize,
    offset: usize,
) -> (Option<Kind<'t>>, Carry) {
    let mut first: Option<Kind<'t>> = (i != indent).then_some(Kind::Inner);
    // The column of the innermost block node on this line (a `-` entry or a key).
    let mut owner = indent;
    let start = |first: &mut Option<Kind<'t>>, kind: Kind<'t>| {
        if first.is_none() {
            *first = Some(kind);
        }
    };
    loop {
        while i < b.len() && matches!(b[i], b' ' | b'\t') {
            i += 1;
        }
        let Some(&c) = b.get(i) else {
            return (first, Carry::None);
        };
        match c {
            b'#' => return (first, Carry::None),
            b'-' | b'?' | b':' if ends_token(b, i + 1) => {
                let kind = if c == b'-' {
                    Kind::Entry(indent)
                } else {
                    Kind::Other(indent)
                };
                start(&mut first, kind);
                owner = i;
                i += 1;
            }
            b'|' | b'>' => {
                start(&mut first, Kind::Other(indent));
                return (first, Carry::BlockScalar(owner));
            }
            b'&' | b'!' | b'*' => {
                // Anchors, tags, aliases: one token, then whatever follows.
                while i < b.len() && !matches!(b[i], b' ' | b'\t') {
                    i += 1;
                }
            }
            q @ (b'"' | b'\'') => {
                let Some(close) = close_quote(b, i + 1, q) else {
                    start(&mut first, Kind::Other(indent));
                    return (first, Carry::Quoted { quote: q, flow: 0 });
                };
                let after = skip_spaces(b, close + 1);
                if b.get(after) == Some(&b':') && ends_token(b, after + 1) {
                    let raw = std::str::from_utf8(&b[i..=close]).unwrap_or_default();
                    start(
                        &mut first,
                        Kind::Key {
                            indent,
                            key: unquote(raw),
                            colon: offset + after + 1,
                        },
                    );
                    owner = i;
                    i = after + 1;
                } else {
                    start(&mut first, Kind::Other(indent));
                    i = close + 1;
                }
            }
            b'[' | b'{' => {
                start(&mut first, Kind::Other(indent));
                match lex_flow(b, i, 0) {
                    (Some(j), _) => i = j,
                    (None, carry) => return (first, carry),
                }
            }
            _ => {
                let (end, key) = plain_scalar(b, i);
                if key {
                    let raw = std::str::from_utf8(&b[i..end]).unwrap_or_default();
                    start(
                        &mut first,
                        Kind::Key {
                            indent,
                            key: Cow::Borrowed(raw.trim_end()),
                            colon: offset + end + 1,
                        },
                    );
                    owner = i;
                    i = end + 1;
                } else {
                    start(&mut first, Kind::Other(indent));
                    // A comment ends a plain scalar; otherwise it may go on, deeper.
                    let carry = if end < b.len() {
                        Carry::None
                    } else {
                        Carry::Plain(owner)
                    };
                    return (first, carry);
                }
            }
        }
    }
}

fn skip_spaces(b: &[u8], mut i: usize) -> usize {
    while i < b.len() && matches!(b[i], b' ' | b'\t') {
        i += 1;
    }
    i
}

/// Scans a plain scalar from `i`: its end, and whether it is a key (`:` then a space or the
/// end of the line follows). Without a key, the end is a comment's `#` or the line's end.
fn plain_scalar(b: &[u8], mut i: usize) -> (usize, bool) {
    while i < b.len() {
        match b[i] {
            b':' if ends_token(b, i + 1) => return (i, true),
            b'#' if matches!(b[i - 1], b' ' | b'\t') => return (i, false),
            _ => i += 1,
        }
    }
    (i, false)
}

/// The text of a quoted key; a double-quoted key with escapes is decoded by the parser.
fn unquote(raw: &str) -> Cow<'_, str> {
    let inner = &raw[1..raw.len() - 1];
    if raw.starts_with('\'') {
        if inner.contains("''") {
            Cow::Owned(inner.replace("''", "'"))
        } else {
            Cow::Borrowed(inner)
        }
    } else if inner.contains('\\') {
        Cow::Owned(serde_yaml::from_str::<String>(raw).unwrap_or_else(|_| inner.to_owned()))
    } else {
        Cow::Borrowed(inner)
    }
}

/// A marker line, found while reading.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Marker {
    Begin,
    End,
}

/// A marker, its 1-based line number, its indentation and its line.
type FoundMarker = (Marker, usize, usize, Line);

fn marker(comment: &str, block: &Block) -> Option<Marker> {
    let comment = comment.trim_end();
    let is_begin = |begin: &str| {
        comment == begin
            || comment
                .strip_prefix(begin)
                .is_some_and(|note| note.starts_with(" (") && note.ends_with(") >>>"))
    };
    let markers = std::iter::once((block.begin, block.end)).chain(block.former.iter().copied());
    for (begin, end) in markers {
        if comment == end {
            return Some(Marker::End);
        }
        if is_begin(begin) {
            return Some(Marker::Begin);
        }
    }
    None
}

/// A key on the way to the mapping (`None` for a sequence entry or any other node).
type Step<'t> = (usize, Option<Cow<'t, str>>);

/// The state of [`Layout::read`]'s pass over the lines.
struct Reader<'t, 'b> {
    text: &'t str,
    block: &'b Block<'b>,
    lexer: Lexer,
    /// The keys (and other nodes) enclosing the current line, with their indentation.
    stack: Vec<Step<'t>>,
    /// For a nested path: the line of the mapping's own key, its indentation, and the offset
    /// after its `:`.
    owner: Option<(usize, usize, usize)>,
    /// Whether the current line is within the mapping.
    inside: bool,
    /// The indentation of the mapping's keys, once one is seen.
    indent: Option<usize>,
    entries: Vec<(String, usize)>,
    markers: Vec<FoundMarker>,
    /// The last line that belongs to the mapping (where a new block goes after).
    last_content: Option<Line>,
    seen_content: bool,
    /// Where a `---`/`...` line after the content ends the document.
    doc_end: Option<usize>,
}

impl<'t, 'b> Reader<'t, 'b> {
    fn new(text: &'t str, block: &'b Block<'b>) -> Self {
        Reader {
            text,
            block,
            lexer: Lexer { carry: Carry::None },
            stack: Vec::new(),
            owner: None,
            inside: block.path.is_empty(),
            indent: None,
            entries: Vec::new(),
            markers: Vec::new(),
            last_content: None,
            seen_content: false,
            doc_end: None,
        }
    }

    /// Reads one line; `false` when the document ends with it.
    fn line(&mut self, number: usize, line: Line) -> Result<bool, EditError> {
        let kind = self
            .lexer
            .classify(&self.text[line.start..line.end], line.start);
        if let Some((_, owner_indent, _)) = self.owner {
            // A node as shallow as the mapping's own key ends it, except an entry of an
            // indentless sequence, which is that key's value.
            let shallow = match kind {
                Kind::Key { indent, .. } | Kind::Other(indent) => indent <= owner_indent,
                Kind::Entry(indent) => indent < owner_indent,
                _ => false,
            };
            if shallow {
                self.inside = false;
            }
        }
        match kind {
            Kind::Blank => return Ok(true),
            Kind::DocumentMarker if self.seen_content => {
                // The document ends here (the parser accepted the file: no second one).
                self.doc_end = Some(line.start);
                return Ok(false);
            }
            Kind::DocumentMarker => return Ok(true),
            Kind::Comment(at) => {
                self.comment(number, line, at);
                return Ok(true);
            }
            Kind::Inner => {}
            Kind::Key { indent, key, colon } => self.key(number, indent, key, colon)?,
            Kind::Other(indent) => self.other(number, indent, false)?,
            Kind::Entry(indent) => self.other(number, indent, true)?,
        }
        if self.inside {
            self.last_content = Some(line);
        }
        Ok(true)
    }

    fn comment(&mut self, number: usize, line: Line, at: usize) {
        if !self.inside {
            return;
        }
        if let Some(m) = marker(&self.text[line.start + at..line.end], self.block) {
            self.markers.push((m, number, at, line));
        }
        if self.block.path.is_empty() || self.indent.is_none_or(|i| at >= i) {
            self.last_content = Some(line);
        }
    }

    fn key(
        &mut self,
        number: usize,
        at: usize,
        key: Cow<'t, str>,
        colon: usize,
    ) -> Result<(), EditError> {
        self.seen_content = true;
        self.pop_to(at);
        let path = self.block.path;
        let depth = self.stack.len();
        if is_path(&self.stack, path) {
            if !self.inside {
                return Err(not_a_mapping(self.block, number));
            }
            self.indent.get_or_insert(at);
            self.entries.push((key.clone().into_owned(), number));
        } else if self.owner.is_none()
            && depth + 1 == path.len()
            && is_path(&self.stack, &path[..depth])
            && key == path[depth]
        {
            self.owner = Some((number, at, colon));
            self.inside = true;
        }
        self.stack.push((at, Some(key)));
        Ok(())
    }

    /// A line that starts with something other than a key; `entry` when it is a `- ` entry,
    /// which may be the value of a key at its own indentation (an indentless sequence).
    fn other(&mut self, number: usize, at: usize, entry: bool) -> Result<(), EditError> {
        self.seen_content = true;
        if entry {
            self.pop_to_entry(at);
        } else {
            self.pop_to(at);
        }
        if self.inside && is_path(&self.stack, self.block.path) {
            return Err(not_a_mapping(self.block, number));
        }
        self.stack.push((at, None));
        Ok(())
    }

    /// Leaves the nodes that a line starting at column `at` closes.
    fn pop_to(&mut self, at: usize) {
        while self.stack.last().is_some_and(|(i, _)| *i >= at) {
            self.stack.pop();
        }
    }

    /// Leaves the nodes that a `- ` entry at column `at` closes: not a key at that column,
    /// whose value the entry is (the previous entry of the same sequence is closed).
    fn pop_to_entry(&mut self, at: usize) {
        while self
            .stack
            .last()
            .is_some_and(|(i, key)| *i > at || (*i == at && key.is_none()))
        {
            self.stack.pop();
        }
    }

    fn finish(self) -> Result<Layout, EditError> {
        let (text, block) = (self.text, self.block);
        let indent = self
            .indent
            .unwrap_or(self.owner.map_or(0, |(_, at, _)| at + 2));
        let (empty_flow, insert_at) = match self.owner {
            None if !block.path.is_empty() => {
                return Err(EditError::MissingPath(block.path.join(".")));
            }
            None => (None, self.doc_end.unwrap_or(text.len())),
            Some((number, _, colon)) if self.entries.is_empty() => {
                let rest = lines(&text[colon..]).next();
                let line_end = rest.map_or(text.len(), |l| colon + l.end);
                let value = empty_value(&text[colon..line_end])
                    .ok_or_else(|| not_a_mapping(block, number))?;
                let next = rest.map_or(text.len(), |l| colon + l.next);
                (value.map(|r| colon + r.start..colon + r.end), next)
            }
            Some(_) => (None, self.last_content.map_or(text.len(), |l| l.next)),
        };
        let markers: Vec<_> = self
            .markers
            .into_iter()
            .filter(|(_, _, at, _)| *at == indent)
            .collect();
        Layout {
            entries: self.entries,
            block: block_range(&markers, block)?,
            insert_at,
            empty_flow,
            indent,
            eol: match text.find('\n') {
                Some(i) if text[..i].ends_with('\r') => "\r\n",
                _ => "\n",
            },
        }
        .check_owners(block, &markers)
    }
}

impl Layout {
    /// Reads `text` in one pass over its lines.
    fn read(text: &str, block: &Block) -> Result<Layout, EditError> {
        let mut reader = Reader::new(text, block);
        for (n, line) in lines(text).enumerate() {
            if !reader.line(n + 1, line)? {
                break;
            }
        }
        reader.finish()
    }

    /// Owned keys only inside the block, and only owned keys inside it.
    fn check_owners(self, block: &Block, markers: &[FoundMarker]) -> Result<Layout, EditError> {
        let block_lines = match (markers.first(), markers.last()) {
            (Some(b), Some(e)) if self.block.is_some() => b.1..e.1,
            _ => 0..0,
        };
        let (inside, outside): (Vec<_>, Vec<_>) = self
            .entries
            .iter()
            .cloned()
            .partition(|(_, line)| block_lines.contains(line));
        let owned_outside: Vec<_> = outside
            .into_iter()
            .filter(|(k, _)| (block.owns)(k))
            .collect();
        if !owned_outside.is_empty() {
            return Err(EditError::OwnedOutside(owned_outside));
        }
        let foreign: Vec<_> = inside
            .into_iter()
            .filter(|(k, _)| !(block.owns)(k))
            .collect();
        if !foreign.is_empty() {
            return Err(EditError::ForeignInside {
                keys: foreign,
                owned: block.owned.to_owned(),
            });
        }
        Ok(self)
    }

    /// The text with the block replaced (or added) by one holding `entries`.
    fn splice(&self, text: &str, block: &Block, entries: &str) -> String {
        let pad = " ".repeat(self.indent);
        let mut new = String::with_capacity(entries.len() * 2 + 200);
        let mut push_line = |line: &str| {
            if !line.is_empty() {
                new.push_str(&pad);
            }
            new.push_str(line);
            new.push_str(self.eol);
        };
        push_line(&format!("{}{}", block.begin, block.note));
        for line in entries.lines() {
            push_line(line);
        }
        push_line(block.end);
        self.put(text, &new)
    }

    /// The text with `key:` (no value) added at the end of the mapping.
    fn add_key(&self, text: &str, key: &str) -> String {
        let line = format!("{}{key}:{}", " ".repeat(self.indent), self.eol);
        self.put(text, &line)
    }

    /// The text with `new` (whole lines) in place of the block, or where a new block goes.
    fn put(&self, text: &str, new: &str) -> String {
        let (range, before_sep) = match &self.block {
            Some(range) => (range.clone(), ""),
            None => {
                let at = self.insert_at;
                let sep = if at > 0 && !text[..at].ends_with('\n') {
                    self.eol
                } else {
                    ""
                };
                (at..at, sep)
            }
        };
        let mut out = String::with_capacity(text.len() + new.len());
        match &self.empty_flow {
            Some(flow) if self.block.is_none() => {
                out.push_str(&text[..flow.start]);
                out.push_str(&text[flow.end..range.start]);
            }
            _ => out.push_str(&text[..range.start]),
        }
        out.push_str(before_sep);
        out.push_str(new);
        out.push_str(&text[range.end..]);
        out
    }
}

fn not_a_mapping(block: &Block, line: usize) -> EditError {
    EditError::NotABlockMapping {
        path: path_name(block.path),
        line,
    }
}

/// Whether the keys on the stack are exactly `path`.
fn is_path(stack: &[Step], path: &[&str]) -> bool {
    stack.len() == path.len()
        && stack
            .iter()
            .zip(path)
            .all(|((_, key), want)| key.as_deref() == Some(*want))
}

/// For the rest of a key's line after its `:`: `Some(None)` when the value is empty,
/// `Some(Some(range))` when it is an empty flow mapping `{}` (its bytes, with the spaces
/// before it), `None` for anything else.
fn empty_value(rest: &str) -> Option<Option<Range<usize>>> {
    let trimmed = rest.trim_start_matches([' ', '\t']);
    let lead = rest.len() - trimmed.len();
    let comment = |s: &str| s.is_empty() || s.starts_with('#');
    if comment(trimmed.trim_end()) {
        return Some(None);
    }
    let inner = trimmed.strip_prefix('{')?;
    let close = inner.find('}')?;
    let after = &inner[close + 1..];
    (inner[..close].trim().is_empty() && comment(after.trim()))
        .then_some(Some(0..lead + 1 + close + 1))
}

/// The block's bytes from its markers, or why they do not make one block.
fn block_range(markers: &[FoundMarker], block: &Block) -> Result<Option<Range<usize>>, EditError> {
    let broken = |detail: String| Err(EditError::BrokenBlock(detail));
    let (begins, ends): (Vec<&FoundMarker>, Vec<&FoundMarker>) =
        markers.iter().partition(|m| m.0 == Marker::Begin);
    let on_lines = |ms: &[&FoundMarker]| -> String {
        let numbers: Vec<String> = ms.iter().map(|m| m.1.to_string()).collect();
        match numbers.split_last() {
            Some((last, rest)) if !rest.is_empty() => {
                format!("lines {} and {last}", rest.join(", "))
            }
            _ => format!("line {}", numbers.join("")),
        }
    };
    match (begins.as_slice(), ends.as_slice()) {
        ([], []) => Ok(None),
        ([b], [e]) if b.1 < e.1 => Ok(Some(b.3.start..e.3.next)),
        ([b], [e]) => broken(format!(
            "the end marker `{}` on line {} comes before the begin marker `{}` on line {}",
            block.end, e.1, block.begin, b.1
        )),
        (bs, _) if bs.len() > 1 => broken(format!(
            "the begin marker `{}` appears on {}, once is allowed",
            block.begin,
            on_lines(bs)
        )),
        (_, es) if es.len() > 1 => broken(format!(
            "the end marker `{}` appears on {}, once is allowed",
            block.end,
            on_lines(es)
        )),
        ([b], []) => broken(format!(
            "the begin marker `{}` on line {} has no end marker `{}` after it",
            block.begin, b.1, block.end
        )),
        (_, e) => broken(format!(
            "the end marker `{}` on {} has no begin marker `{}` before it",
            block.end,
            on_lines(e),
            block.begin
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ENTRIES: &str = "workercontroller.enabled:\n  - value: true\n";
    const BEGIN: &str = "# >>> tool: keys";
    const END: &str = "# <<< tool: keys <<<";

    fn block<'a>(path: &'a [&'a str]) -> Block<'a> {
        Block {
            path,
            begin: BEGIN,
            note: " (managed) >>>",
            end: END,
            former: &[("# >>> old: keys", "# <<< old: keys <<<")],
            owns: |k| k.starts_with("workercontroller."),
            owned: "`workercontroller.*` keys",
        }
    }

    fn put(text: &str, path: &[&str], entries: &str) -> Result<String, EditError> {
        put_managed_block(text, &block(path), entries).map(|e| e.text)
    }

    const HELM: &str = "server:\n  config: {}   # persistence etc.\n  dynamicConfig: {}   # server-side\n\
                        web:\n  enabled: true\n";

    #[test]
    fn a_block_under_former_markers_is_replaced_and_a_second_block_refused() {
        let old = format!("a: 1\n# >>> old: keys (x) >>>\n{ENTRIES}# <<< old: keys <<<\nb: 2\n");
        assert_eq!(
            put(&old, &[], ENTRIES).unwrap(),
            format!("a: 1\n{BEGIN} (managed) >>>\n{ENTRIES}{END}\nb: 2\n")
        );
        let both = format!("{old}{BEGIN} (managed) >>>\n{END}\n");
        let err = put(&both, &[], ENTRIES).unwrap_err();
        assert!(
            err.to_string().contains("appears on lines 2 and 7"),
            "{err}"
        );
    }

    #[test]
    fn nesting_deeper_than_the_limit_is_refused_before_parsing() {
        let flow = format!(
            "a: 1\nother: {}{}\n",
            "[".repeat(100_000),
            "]".repeat(100_000)
        );
        assert_eq!(check_depth(&flow), Err(EditError::TooDeep { line: 2 }));
        // Refused by the depth check, not by the parser (which would say something else).
        let err = put(&flow, &[], "workercontroller.enabled:\n- value: true\n").unwrap_err();
        assert_eq!(err, EditError::TooDeep { line: 2 });
        assert!(
            err.to_string().contains("nested more than 64 levels"),
            "{err}"
        );

        let block: String = (0..70)
            .map(|i| format!("{}k{i}:\n", " ".repeat(i)))
            .collect();
        assert_eq!(check_depth(&block), Err(EditError::TooDeep { line: 65 }));
        let compact = format!("a:\n{}x\n", "- ".repeat(70));
        assert_eq!(check_depth(&compact), Err(EditError::TooDeep { line: 2 }));

        // Brackets in quotes, comments and block scalars are text, and a file at the limit is
        // read as before.
        let text = format!(
            "a: \"{open}\"\nb: '{open}' # {open}\nscript: |\n  echo {open}\n  {open}\nc: {ok}{close}\n",
            open = "[".repeat(100),
            ok = "[".repeat(60),
            close = "]".repeat(60)
        );
        check_depth(&text).unwrap();
        let mut nested = serde_yaml::Value::Sequence(Vec::new());
        for _ in 1..60 {
            nested = serde_yaml::Value::Sequence(vec![nested]);
        }
        assert_eq!(parse(&text).unwrap()["c"], nested);
    }

    #[test]
    fn an_empty_helm_mapping_becomes_a_block_mapping() {
        let path = ["server", "dynamicConfig"];
        let once = put(HELM, &path, ENTRIES).unwrap();
        assert_eq!(
            once,
            "server:\n  config: {}   # persistence etc.\n  dynamicConfig:   # server-side\n\
             \x20   # >>> tool: keys (managed) >>>\n    workercontroller.enabled:\n      - value: true\n\
             \x20   # <<< tool: keys <<<\nweb:\n  enabled: true\n"
        );
        assert_eq!(put(&once, &path, ENTRIES).unwrap(), once, "idempotent");
        let changed = put(
            &once,
            &path,
            "workercontroller.enabled:\n  - value: false\n",
        )
        .unwrap();
        assert_eq!(changed, once.replace("value: true", "value: false"));
        let bare = put("server:\n  dynamicConfig:\n", &path, ENTRIES).unwrap();
        assert!(
            bare.starts_with("server:\n  dynamicConfig:\n    # >>> tool: keys"),
            "{bare}"
        );
    }

    #[test]
    fn a_helm_mapping_with_keys_gets_the_block_after_them() {
        let text = "server:\n  dynamicConfig:\n    frontend.x:\n      - value: \"a: b\"\n    # about x\n\n  other: 1\n";
        let out = put(text, &["server", "dynamicConfig"], ENTRIES).unwrap();
        assert_eq!(
            out,
            "server:\n  dynamicConfig:\n    frontend.x:\n      - value: \"a: b\"\n    # about x\n\
             \x20   # >>> tool: keys (managed) >>>\n    workercontroller.enabled:\n      - value: true\n\
             \x20   # <<< tool: keys <<<\n\n  other: 1\n"
        );
    }

    /// The chart's own example (`values/values.dynamic_config.yaml`) writes each key's list
    /// at the key's indentation (an indentless sequence), which is still the key's value.
    #[test]
    fn indentless_sequences_are_values_of_their_key() {
        let text = "server:\n  dynamicConfig:\n    matching.numTaskqueueReadPartitions:\n    - value: 5\n      constraints: {}\n    - value: 6\n    # about it\n  other: 1\n";
        let out = put(text, &["server", "dynamicConfig"], ENTRIES).unwrap();
        assert_eq!(
            out,
            format!(
                "server:\n  dynamicConfig:\n    matching.numTaskqueueReadPartitions:\n    - value: 5\n      constraints: {{}}\n    - value: 6\n    # about it\n\
                 \x20   {BEGIN} (managed) >>>\n    workercontroller.enabled:\n      - value: true\n    {END}\n  other: 1\n"
            )
        );
        let root = "a:\n- value: 1\n";
        assert_eq!(
            put(root, &[], ENTRIES).unwrap(),
            format!("{root}{BEGIN} (managed) >>>\n{ENTRIES}{END}\n")
        );
        let clash = "a:\n- value: 1\nworkercontroller.enabled:\n- value: true\n";
        assert_eq!(
            put(clash, &[], ENTRIES),
            Err(EditError::OwnedOutside(vec![(
                "workercontroller.enabled".into(),
                3
            )]))
        );
    }

    /// The chart's `values.yaml` has no `dynamicConfig` key: the path's missing keys are
    /// added at the end of their parent mapping.
    #[test]
    fn missing_keys_of_the_path_are_added() {
        let path = ["server", "dynamicConfig"];
        let block_at = |pad: &str| {
            format!(
                "{pad}{BEGIN} (managed) >>>\n{pad}workercontroller.enabled:\n{pad}  - value: true\n{pad}{END}\n"
            )
        };
        for (text, expect) in [
            (
                "server:\n  enabled: true\n  config:\n    logLevel: info   # kept\n\n# the web UI\nweb:\n  enabled: true\n",
                format!(
                    "server:\n  enabled: true\n  config:\n    logLevel: info   # kept\n  dynamicConfig:\n{}\n# the web UI\nweb:\n  enabled: true\n",
                    block_at("    ")
                ),
            ),
            (
                "server:\n    enabled: true\n",
                format!(
                    "server:\n    enabled: true\n    dynamicConfig:\n{}",
                    block_at("      ")
                ),
            ),
            (
                "server: {}   # defaults\nweb: {}\n",
                format!(
                    "server:   # defaults\n  dynamicConfig:\n{}web: {{}}\n",
                    block_at("    ")
                ),
            ),
            (
                "web:\n  enabled: true",
                format!(
                    "web:\n  enabled: true\nserver:\n  dynamicConfig:\n{}",
                    block_at("    ")
                ),
            ),
            (
                "",
                format!("server:\n  dynamicConfig:\n{}", block_at("    ")),
            ),
        ] {
            let out = put(text, &path, ENTRIES).unwrap_or_else(|e| panic!("{text}: {e}"));
            assert_eq!(out, expect, "{text}");
            assert_eq!(
                put(&out, &path, ENTRIES).unwrap(),
                out,
                "idempotent: {text}"
            );
        }
    }

    #[test]
    fn a_path_that_is_missing_or_no_block_mapping_is_refused() {
        let path = ["server", "dynamicConfig"];
        for (text, expect) in [
            (
                "server: 1\n",
                EditError::NotABlockMapping {
                    path: "`server`".into(),
                    line: 1,
                },
            ),
            (
                "server:\n  dynamicConfig: [1]\n",
                not_a_mapping(&block(&path), 2),
            ),
            (
                "server:\n  dynamicConfig:\n    - a\n",
                not_a_mapping(&block(&path), 3),
            ),
            (
                "server:\n  dynamicConfig:\n  - a\n",
                not_a_mapping(&block(&path), 3),
            ),
        ] {
            assert_eq!(put(text, &path, ENTRIES), Err(expect), "{text}");
        }
        assert_eq!(
            put("- a\n", &[], ENTRIES),
            Err(not_a_mapping(&block(&[]), 1))
        );
        assert!(matches!(
            put("a: 1\n---\nb: 2\n", &[], ENTRIES),
            Err(EditError::NotYaml(_))
        ));
        // One document with an end marker: the block goes before it.
        assert_eq!(
            put("---\na: 1\n...\n", &[], ENTRIES).unwrap(),
            format!("---\na: 1\n{BEGIN} (managed) >>>\n{ENTRIES}{END}\n...\n")
        );
    }

    /// Marker text where the lexer must not see a marker: in flow collections, quoted and
    /// block scalars, at another indentation, in a comment with other words.
    #[test]
    fn markers_only_count_as_whole_lines_between_entries() {
        let lookalikes = [
            "a: [1,\n# >>> tool: keys (managed) >>>\n  2]\n",
            "a: {k: \"x\n# <<< tool: keys <<<\n  \"}\n",
            "a: 'it''s\n# <<< tool: keys <<<\n  '\n",
            "a: plain\n  # >>> tool: keys (managed) >>>\n",
            "a:\n  - |\n    # >>> tool: keys (managed) >>>\n  - >-\n    # <<< tool: keys <<<\n",
            "a:\n  # >>> tool: keys (managed) >>>\n  b: 1\n",
            "# see # >>> tool: keys (managed) >>>\na: 1\n",
            "# >>> tool: keys, which are managed\na: 1\n",
        ];
        for text in lookalikes {
            let out = put(text, &[], ENTRIES).unwrap_or_else(|e| panic!("{text}: {e}"));
            assert!(out.starts_with(text), "{out}");
            assert_eq!(put(&out, &[], ENTRIES).unwrap(), out);
        }
    }

    #[test]
    fn quoted_and_odd_keys_are_read_as_keys() {
        let text = "'workercontroller.enabled': x\n";
        assert_eq!(
            put(text, &[], ENTRIES),
            Err(EditError::OwnedOutside(vec![(
                "workercontroller.enabled".into(),
                1
            )]))
        );
        let text = "&a \"workercontroller.x\\u0041\": 1\n";
        assert_eq!(
            put(text, &[], ENTRIES),
            Err(EditError::OwnedOutside(vec![(
                "workercontroller.xA".into(),
                1
            )]))
        );
        let text = "%YAML 1.2\n---\nhttp://x: \"a:b\"   # not a key: ':' without a space\nk: v\n";
        assert!(put(text, &[], ENTRIES).unwrap().starts_with(text));
    }

    #[test]
    fn verification_refuses_an_edit_that_touches_other_keys() {
        let before: Value = serde_yaml::from_str("a: 1\nworkercontroller.x: 1\n").unwrap();
        let wanted: Mapping = serde_yaml::from_str("workercontroller.x: 2\n").unwrap();
        let b = block(&[]);
        for (after, what) in [
            ("workercontroller.x: 2\n", "a key the tool does not own"),
            (
                "a: 2\nworkercontroller.x: 2\n",
                "a key the tool does not own",
            ),
            ("a: 1\nworkercontroller.x: 3\n", "the managed keys differ"),
            ("- a\n", "no mapping"),
        ] {
            let after: Value = serde_yaml::from_str(after).unwrap();
            let err = verify(&before, &after, &b, &wanted).unwrap_err();
            assert!(err.to_string().contains(what), "{err}");
        }
        let helm = block(&["s", "d"]);
        let before: Value = serde_yaml::from_str("s:\n  d: {}\n  e: 1\n").unwrap();
        let after: Value =
            serde_yaml::from_str("s:\n  d:\n    workercontroller.x: 2\n  e: 2\n").unwrap();
        let err = verify(&before, &after, &helm, &wanted).unwrap_err();
        assert!(err.to_string().contains("outside `s.d`"), "{err}");
    }

    #[test]
    fn entries_must_be_owned_keys() {
        assert!(matches!(
            put("a: 1\n", &[], "b: 1\n"),
            Err(EditError::BadEntries { .. })
        ));
    }
}
