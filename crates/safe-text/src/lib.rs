//! Text from outside the tool (descriptor values and lines, file names, AWS and Temporal error
//! text) made safe to show on a terminal or in a CI log, which a pull request controls:
//!
//! - control characters (ESC, OSC, C1, carriage return), bidi overrides (U+202E) and invisible
//!   characters (zero-width, tag characters) are shown escaped, as `\x1b` or `\u{202e}`, so a
//!   value can neither clear the screen, set the title, nor show an ID reversed ([`is_hidden`]);
//! - no line starts with `::` and no text holds `##[`: GitHub Actions reads those as workflow
//!   commands (`::add-mask::`, `::error::`, `::stop-commands::`), so a `\` goes before them;
//! - a value is quoted as a bounded excerpt ([`excerpt`], [`bound_quotes`]): one 10 MB value is
//!   not 10 MB of error output.
//!
//! Both binaries print only through this crate's [`println!`], [`print!`], [`eprintln!`] and
//! [`eprint!`] (clippy's `disallowed-macros`, in `clippy.toml`, refuses the standard ones), which
//! sanitize the whole formatted text; the tool's own styling (the spinner's ANSI codes) is
//! added after, by the terminal library.

mod colour;
mod program;

pub use colour::{Colour, set_colour, write_styled};
pub use program::{INSTALLED, for_program, program, set_program};

use std::borrow::Cow;
use std::fmt::{self, Write as _};
use std::io::Write as _;
use std::sync::Mutex;

/// How many characters of one value an error quotes.
pub const EXCERPT_CHARS: usize = 200;

/// How many characters of the tool's own text between two quoted values an error keeps (it
/// can hold a server's answer).
const PROSE_CHARS: usize = 2000;

/// Whether `c` may not reach a terminal or log as it is: a control character other than line
/// feed and tab (C0, DEL, C1), a bidi control, or an invisible formatting character
/// (zero-width spaces and joiners, word joiner, byte-order mark, soft hyphen, fillers, tag
/// characters, line and paragraph separators, interlinear annotations).
pub fn is_hidden(c: char) -> bool {
    matches!(c,
        '\u{0}'..='\u{8}'
        | '\u{b}'..='\u{1f}'
        | '\u{7f}'..='\u{9f}'
        | '\u{ad}'
        | '\u{34f}'
        | '\u{61c}'
        | '\u{115f}'..='\u{1160}'
        | '\u{17b4}'..='\u{17b5}'
        | '\u{180b}'..='\u{180f}'
        | '\u{200b}'..='\u{200f}'
        | '\u{2028}'..='\u{202e}'
        | '\u{2060}'..='\u{206f}'
        | '\u{3164}'
        | '\u{feff}'
        | '\u{ffa0}'
        | '\u{fff0}'..='\u{fffb}'
        | '\u{1d173}'..='\u{1d17a}'
        | '\u{e0000}'..='\u{e0fff}'
    )
}

fn push_escaped(out: &mut String, c: char) {
    match c {
        '\r' => out.push_str("\\r"),
        '\n' => out.push_str("\\n"),
        '\t' => out.push_str("\\t"),
        c if (c as u32) < 0x80 => {
            let _ = write!(out, "\\x{:02x}", c as u32);
        }
        c => {
            let _ = write!(out, "\\u{{{:x}}}", c as u32);
        }
    }
}

/// `text` with every [`is_hidden`] character escaped; line feeds and tabs stay.
pub fn escape(text: &str) -> Cow<'_, str> {
    escape_where(text, is_hidden)
}

/// One value on one line: [`escape`], and line feeds and tabs escaped too (`\n`, `\t`).
pub fn inline(text: &str) -> Cow<'_, str> {
    escape_where(text, |c| is_hidden(c) || c == '\n' || c == '\t')
}

fn escape_where(text: &str, hidden: impl Fn(char) -> bool) -> Cow<'_, str> {
    if !text.chars().any(&hidden) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if hidden(c) {
            push_escaped(&mut out, c);
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

/// The escaped length of `c` as [`inline`] shows it, in columns (1 for a visible character).
pub fn shown_width(c: char) -> usize {
    if is_hidden(c) || c == '\n' || c == '\t' {
        let mut s = String::new();
        push_escaped(&mut s, c);
        s.len()
    } else {
        1
    }
}

/// At most `max` characters of `text`, [`inline`]-escaped, then `…` and how many bytes were
/// left out.
pub fn excerpt_of(text: &str, max: usize) -> Cow<'_, str> {
    match text.char_indices().nth(max) {
        None => inline(text),
        Some((cut, _)) => Cow::Owned(format!(
            "{}… ({} bytes left out)",
            inline(&text[..cut]),
            text.len() - cut
        )),
    }
}

/// At most `max` characters of `text` as it is (lines and all), then `…` and how many bytes
/// were left out: for a whole answer of another program quoted in an error.
pub fn cut(text: &str, max: usize) -> Cow<'_, str> {
    match text.char_indices().nth(max) {
        None => Cow::Borrowed(text),
        Some((at, _)) => Cow::Owned(format!(
            "{}… ({} bytes left out)",
            &text[..at],
            text.len() - at
        )),
    }
}

/// A value as an error quotes it: at most [`EXCERPT_CHARS`] characters, [`inline`]-escaped.
pub fn excerpt(text: &str) -> Cow<'_, str> {
    excerpt_of(text, EXCERPT_CHARS)
}

/// A message whose quoted values (between backticks) are cut to [`excerpt`]s, and whose text
/// between them to a few thousand characters: the bound on what one error can print, for one
/// message built of values in backticks (which every error of the tool is). Not for a list of
/// messages quoting descriptor lines, whose own backticks would pair across messages.
pub fn bound_quotes(message: &str) -> Cow<'_, str> {
    let too_long = |s: &str, max: usize| s.char_indices().nth(max).is_some();
    let long = message.split('`').enumerate().any(|(i, part)| {
        too_long(
            part,
            if i % 2 == 1 {
                EXCERPT_CHARS
            } else {
                PROSE_CHARS
            },
        )
    });
    if !long {
        return Cow::Borrowed(message);
    }
    let parts: Vec<Cow<'_, str>> = message
        .split('`')
        .enumerate()
        .map(|(i, part)| {
            let max = if i % 2 == 1 {
                EXCERPT_CHARS
            } else {
                PROSE_CHARS
            };
            if too_long(part, max) {
                excerpt_of(part, max)
            } else {
                Cow::Borrowed(part)
            }
        })
        .collect();
    Cow::Owned(parts.join("`"))
}

/// Serialized JSON made safe to print: every [`is_hidden`] character (which a JSON serializer
/// may leave raw inside strings: DEL, C1, bidi, invisible) as a `\uXXXX` escape, and `##[` as
/// `#\u0023[`. The JSON means the same; the printing writer then has nothing to change in it.
pub fn json(serialized: &str) -> Cow<'_, str> {
    if !serialized.chars().any(is_hidden) && !serialized.contains("##[") {
        return Cow::Borrowed(serialized);
    }
    let mut out = String::with_capacity(serialized.len() + 16);
    let mut skip = false;
    for (i, c) in serialized.char_indices() {
        if std::mem::take(&mut skip) {
            continue;
        }
        if is_hidden(c) {
            let mut units = [0u16; 2];
            for unit in c.encode_utf16(&mut units) {
                let _ = write!(out, "\\u{unit:04x}");
            }
        } else if c == '#' && serialized[i..].starts_with("##[") {
            out.push_str("#\\u0023");
            skip = true;
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

/// Where a stream is in its current line, across writes.
#[derive(Debug)]
pub struct Lines {
    /// Only white space so far on this line: a `::` here would start a workflow command (the
    /// runner trims leading white space).
    at_start: bool,
}

impl Default for Lines {
    fn default() -> Self {
        Lines { at_start: true }
    }
}

impl Lines {
    /// `text`, the next piece of this stream, made safe: [`escape`], a `\` before a `::` that
    /// would start a line and before the second `#` of `##[`.
    pub fn sanitize<'a>(&mut self, text: &'a str) -> Cow<'a, str> {
        let clean = !text.chars().any(is_hidden) && !text.contains("##[") && !text.contains("::");
        if clean {
            if let Some(last) = text.rfind(|c: char| !(c.is_whitespace() && c != '\n')) {
                self.at_start = text[last..].starts_with('\n');
            }
            return Cow::Borrowed(text);
        }
        let mut out = String::with_capacity(text.len() + 8);
        for (i, c) in text.char_indices() {
            if c == '\n' {
                out.push(c);
                self.at_start = true;
                continue;
            }
            if is_hidden(c) {
                push_escaped(&mut out, c);
                self.at_start = false;
                continue;
            }
            if c.is_whitespace() {
                out.push(c);
                continue;
            }
            if self.at_start && text[i..].starts_with("::") {
                out.push('\\');
            }
            self.at_start = false;
            if c == '#' && text[i..].starts_with("##[") {
                out.push_str("#\\");
            } else {
                out.push(c);
            }
        }
        Cow::Owned(out)
    }
}

/// The standard stream a macro of this crate prints to.
#[derive(Debug, Clone, Copy)]
pub enum Stream {
    Stdout,
    Stderr,
}

static STDOUT: Mutex<Lines> = Mutex::new(Lines { at_start: true });
static STDERR: Mutex<Lines> = Mutex::new(Lines { at_start: true });

/// Writes `args` to `stream`, sanitized ([`Lines::sanitize`]). Errors (a closed pipe) are
/// ignored: there is nowhere left to report them.
pub fn write(stream: Stream, args: fmt::Arguments<'_>) {
    write_in(stream, None, args)
}

/// [`write`], the sanitized text wrapped in `style` when there is one.
fn write_in(stream: Stream, style: Option<anstyle::Style>, args: fmt::Arguments<'_>) {
    let text: Cow<'_, str> = match args.as_str() {
        Some(s) => Cow::Borrowed(s),
        None => Cow::Owned(args.to_string()),
    };
    let lines = match stream {
        Stream::Stdout => &STDOUT,
        Stream::Stderr => &STDERR,
    };
    let mut lines = lines.lock().unwrap_or_else(|e| e.into_inner());
    let safe = lines.sanitize(&text);
    let safe = match style {
        Some(style) => Cow::Owned(format!("{style}{safe}{style:#}")),
        None => safe,
    };
    let _ = match stream {
        Stream::Stdout => {
            let mut out = std::io::stdout().lock();
            out.write_all(safe.as_bytes()).and_then(|()| out.flush())
        }
        Stream::Stderr => std::io::stderr().lock().write_all(safe.as_bytes()),
    };
}

/// `std::println!`, sanitized: see the crate's documentation.
#[macro_export]
macro_rules! println {
    () => { $crate::write($crate::Stream::Stdout, format_args!("\n")) };
    ($($arg:tt)*) => {
        $crate::write($crate::Stream::Stdout, format_args!("{}\n", format_args!($($arg)*)))
    };
}

/// `std::print!`, sanitized: see the crate's documentation.
#[macro_export]
macro_rules! print {
    ($($arg:tt)*) => { $crate::write($crate::Stream::Stdout, format_args!($($arg)*)) };
}

/// `std::eprintln!`, sanitized: see the crate's documentation.
#[macro_export]
macro_rules! eprintln {
    () => { $crate::write($crate::Stream::Stderr, format_args!("\n")) };
    ($($arg:tt)*) => {
        $crate::write($crate::Stream::Stderr, format_args!("{}\n", format_args!($($arg)*)))
    };
}

/// `std::eprint!`, sanitized: see the crate's documentation.
#[macro_export]
macro_rules! eprint {
    ($($arg:tt)*) => { $crate::write($crate::Stream::Stderr, format_args!($($arg)*)) };
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sanitized(text: &str) -> String {
        Lines::default().sanitize(text).into_owned()
    }

    /// Hostile text as a pull request can put it in a value, a file name or a server's answer,
    /// and what the terminal or log gets.
    #[test]
    fn hostile_text_is_shown_escaped() {
        let cases = [
            ("plain → text\n\tindented\n", "plain → text\n\tindented\n"),
            ("\x1b]0;title\x07", "\\x1b]0;title\\x07"),
            ("\x1b[2J\x1b[H", "\\x1b[2J\\x1b[H"),
            ("id-\u{202e}verse", "id-\\u{202e}verse"),
            (
                "a\u{200b}b\u{2066}c\u{feff}",
                "a\\u{200b}b\\u{2066}c\\u{feff}",
            ),
            ("csi \u{9b}2J", "csi \\u{9b}2J"),
            ("del\x7f", "del\\x7f"),
            ("over\rwrite", "over\\rwrite"),
            ("tag \u{e0041}", "tag \\u{e0041}"),
            ("::add-mask::x", "\\::add-mask::x"),
            ("ok\n::error::fake\n", "ok\n\\::error::fake\n"),
            ("  \t::stop-commands::t", "  \t\\::stop-commands::t"),
            ("\u{a0}::warning::x", "\u{a0}\\::warning::x"),
            ("a ::b:: c", "a ::b:: c"),
            ("x ##[add-mask]y", "x #\\#[add-mask]y"),
            ("###[group]", "##\\#[group]"),
        ];
        for (input, shown) in cases {
            let out = sanitized(input);
            assert_eq!(out, shown, "{input:?}");
            assert!(!out.chars().any(is_hidden), "{out:?}");
            assert!(
                out.lines().all(|l| !l.trim_start().starts_with("::")),
                "{out:?}"
            );
            assert!(!out.contains("##["), "{out:?}");
            assert_eq!(sanitized(&out), out, "sanitizing twice changes nothing");
        }
    }

    #[test]
    fn a_line_start_is_tracked_across_writes() {
        let mut lines = Lines::default();
        assert_eq!(lines.sanitize("value: "), "value: ");
        assert_eq!(lines.sanitize("::x"), "::x", "mid-line");
        assert_eq!(lines.sanitize("\n  "), "\n  ");
        assert_eq!(lines.sanitize("::add-mask::y\n"), "\\::add-mask::y\n");
    }

    #[test]
    fn inline_escapes_line_breaks_and_tabs_too() {
        assert_eq!(inline("a\nb\tc\u{202e}"), "a\\nb\\tc\\u{202e}");
        assert!(matches!(inline("plain"), Cow::Borrowed(_)));
        assert_eq!(shown_width('\u{202e}'), "\\u{202e}".len());
        assert_eq!(shown_width('é'), 1);
    }

    #[test]
    fn a_long_value_is_quoted_as_a_bounded_excerpt() {
        let big = "x".repeat(10 << 20);
        let quoted = excerpt(&big);
        assert!(quoted.len() < 300, "{}", quoted.len());
        assert!(
            quoted.ends_with(&format!("… ({} bytes left out)", big.len() - EXCERPT_CHARS)),
            "{quoted}"
        );
        assert_eq!(excerpt("short\u{1b}"), "short\\x1b");

        let message = format!("`{big}` is not a stack name; allowed: a letter");
        let bounded = bound_quotes(&message);
        assert!(bounded.len() < 400, "{}", bounded.len());
        assert!(
            bounded.ends_with("` is not a stack name; allowed: a letter"),
            "{bounded}"
        );
        let unquoted = format!("server said: {big}");
        assert!(bound_quotes(&unquoted).len() < PROSE_CHARS + 100);
        assert!(matches!(bound_quotes("`a` is `b`"), Cow::Borrowed(_)));
        assert_eq!(cut("line\nline", 6), "line\nl… (3 bytes left out)");
        assert_eq!(cut("short", 6), "short");
    }

    #[test]
    fn json_stays_json_and_has_nothing_left_to_sanitize() {
        let text = "{\"v\": \"a\u{202e}b\u{85}c\u{e0041} ##[add-mask]x ::error::y\"}";
        let safe = json(text);
        assert_eq!(
            safe,
            "{\"v\": \"a\\u202eb\\u0085c\\udb40\\udc41 #\\u0023[add-mask]x ::error::y\"}"
        );
        assert_eq!(sanitized(&safe), safe);
    }
}
