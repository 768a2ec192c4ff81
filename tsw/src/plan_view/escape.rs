//! Every value the markdown shows (a descriptor's, CloudFormation's, the Temporal server's, a
//! file's) escaped for the place it goes. The markdown is a pull request comment, and a pull
//! request controls those values: none may become HTML, a link, an image, a mention (`@org/team`)
//! or an issue reference, end its code span, table cell or `<details>`, or hold a control or
//! bidi character ([`safe_text::inline`] shows those as `\x1b`, `\u{202e}`). The renderer
//! interpolates values only through these functions.
//!
//! Values go into code wherever they can: GitHub links no mention, reference or URL in code.

/// A value as a code span, on one line: its fence is longer than any run of backticks in it, and
/// a space pads a value that starts or ends with a backtick or a space (CommonMark strips one).
pub fn md_code(value: &str) -> String {
    let value = safe_text::inline(value);
    if value.is_empty() {
        return "` `".to_owned();
    }
    let fence = "`".repeat(longest_run(&value, '`') + 1);
    let pad = if value.starts_with(['`', ' ']) || value.ends_with(['`', ' ']) {
        " "
    } else {
        ""
    };
    format!("{fence}{pad}{value}{pad}{fence}")
}

/// A value as a code span in a table cell: [`md_code`], with its pipes escaped (GitHub splits a
/// row into cells before it reads code spans, and shows `\|` in one as `|`).
pub fn md_cell(value: &str) -> String {
    md_code(value).replace('|', "\\|")
}

/// The ASCII punctuation [`md_text`] escapes with a backslash: every character that can start
/// emphasis, code, HTML, an entity, a link or image, a table cell, strikethrough or math, and
/// `:` and `.`, without which no URL is linked (`https://`, `www.`).
const MD_SPECIAL: &str = "\\`*_[]<>&|~!:.$";

/// Text that is not code (an error from AWS or the server, a name) as markdown text on one line,
/// shown as it is written: [`MD_SPECIAL`] escaped with a backslash, and `@` and `#` in a code
/// span of their own (no mention or issue reference; copying the text still gives
/// `@org/team`). Inline only (never at the start of a line); safe in a table cell.
pub fn md_text(text: &str) -> String {
    let text = safe_text::inline(text);
    let mut out = String::with_capacity(text.len() + 16);
    for c in text.chars() {
        match c {
            '@' | '#' => {
                out.push('`');
                out.push(c);
                out.push('`');
            }
            c if MD_SPECIAL.contains(c) => {
                out.push('\\');
                out.push(c);
            }
            c => out.push(c),
        }
    }
    out
}

/// A message of the tool's, with values quoted in backticks (`update (function `A` → `B`)`),
/// as markdown: the text between them as [`md_text`], each quoted value as [`md_code`]. A
/// value holding a backtick only shifts which pieces are which: each is escaped either way.
pub fn md_prose(message: &str) -> String {
    message
        .split('`')
        .enumerate()
        .map(|(i, piece)| {
            if i % 2 == 1 {
                md_code(piece)
            } else {
                md_text(piece)
            }
        })
        .collect()
}

/// [`md_prose`] in a table cell: its quoted values as [`md_cell`], so that a pipe in one cannot
/// split the row.
pub fn md_prose_cell(message: &str) -> String {
    message
        .split('`')
        .enumerate()
        .map(|(i, piece)| {
            if i % 2 == 1 {
                md_cell(piece)
            } else {
                md_text(piece)
            }
        })
        .collect()
}

/// A value in the tool's own HTML (`<summary>`): in `<code>` (no mention or reference), with
/// `&`, `<`, `>` and quotes as entities, on one line.
pub fn html_code(value: &str) -> String {
    let mut out = String::from("<code>");
    for c in safe_text::inline(value).chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out.push_str("</code>");
    out
}

/// Lines (a unified diff) as a fenced code block of `lang`: the fence is longer than any run of
/// backticks in them, so no line can close it; control and bidi characters escaped.
pub fn md_fenced(lang: &str, body: &str) -> String {
    let body = safe_text::escape(body);
    let fence = "`".repeat((longest_run(&body, '`') + 1).max(3));
    let newline = if body.ends_with('\n') { "" } else { "\n" };
    format!("{fence}{lang}\n{body}{newline}{fence}\n")
}

fn longest_run(text: &str, c: char) -> usize {
    let (mut longest, mut run) = (0, 0);
    for x in text.chars() {
        run = if x == c { run + 1 } else { 0 };
        longest = longest.max(run);
    }
    longest
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Hostile values, each in every place the markdown puts one; see
    /// `tests/integration/hostile_output.rs` for the whole comment read by a CommonMark parser.
    const HOSTILE: &[&str] = &[
        "<img src=x onerror=alert(1)>",
        "</code><a href=https://example.invalid>Approve</a>",
        "<details><summary>All checks passed",
        "@org/team",
        "see #123",
        "``` ````",
        "`starts and ends`",
        "a|b|c",
        "line one\nline two\r\n",
        "id-\u{202e}verse",
        "\x1b]0;title\x07",
        "::add-mask::secret",
        "[Approve](https://example.invalid) https://example.invalid www.example.invalid",
        "**bold** _em_ &amp; &#64;org",
        "",
    ];

    fn assert_plain(shown: &str, value: &str) {
        assert!(
            !shown.chars().any(safe_text::is_hidden),
            "{value:?}: {shown:?}"
        );
        assert!(
            !shown.contains('\n') && !shown.contains('\r'),
            "{value:?}: {shown:?}"
        );
        assert!(!shown.starts_with("::"), "{value:?}: {shown:?}");
    }

    #[test]
    fn a_code_span_holds_the_whole_value() {
        for value in HOSTILE {
            let shown = md_code(value);
            assert_plain(&shown, value);
            let fence = shown.chars().take_while(|&c| c == '`').count();
            let inner = &shown[fence..shown.len() - fence];
            assert!(
                !inner.contains(&"`".repeat(fence)),
                "{value:?}: a run as long as the fence ends the span: {shown}"
            );
            // CommonMark strips one space on each side when both are there.
            let inner = match inner.strip_prefix(' ').and_then(|i| i.strip_suffix(' ')) {
                Some(stripped) if !inner.trim().is_empty() => stripped,
                _ => inner,
            };
            if !value.is_empty() {
                assert_eq!(inner, safe_text::inline(value), "{value:?}");
            }
        }
        assert_eq!(md_code("a`b"), "``a`b``");
        assert_eq!(md_code("`x`"), "`` `x` ``");
        assert_eq!(md_code("x\u{202e}"), "`x\\u{202e}`");
    }

    #[test]
    fn a_cell_has_no_unescaped_pipe() {
        for value in HOSTILE {
            let shown = md_cell(value);
            assert_plain(&shown, value);
            assert_eq!(shown.replace("\\|", "").matches('|').count(), 0, "{shown}");
        }
        assert_eq!(md_cell("a|b"), "`a\\|b`");
    }

    #[test]
    fn text_starts_no_markup_mention_or_reference() {
        for value in HOSTILE {
            let shown = md_text(value);
            assert_plain(&shown, value);
            // Every piece is an escaped special character, `@` or `#` in code, or no special
            // character at all.
            let mut rest = shown.as_str();
            while let Some(c) = rest.chars().next() {
                rest = if let Some(after) = rest.strip_prefix('\\') {
                    let p = after.chars().next().expect("a character after `\\`");
                    assert!(MD_SPECIAL.contains(p), "{value:?}: {shown}");
                    &after[1..]
                } else if let Some(after) = rest.strip_prefix("`@`").or(rest.strip_prefix("`#`")) {
                    after
                } else {
                    assert!(
                        !MD_SPECIAL.contains(c),
                        "{value:?}: `{c}` unescaped in {shown}"
                    );
                    assert!(c != '@' && c != '#', "{value:?}: {shown}");
                    &rest[c.len_utf8()..]
                };
            }
            assert!(!shown.replace("`@`", "").contains('@'), "{shown}");
            assert!(!shown.replace("`#`", "").contains('#'), "{shown}");
        }
        assert_eq!(md_text("@org/team"), "`@`org/team");
        assert_eq!(md_text("a\u{202e}"), "a\\\\u{202e}");
    }

    #[test]
    fn prose_shows_its_quoted_values_as_code() {
        assert_eq!(
            md_prose("update (function `a|b` → `@x`) at 127.0.0.1"),
            "update (function `a|b` → `@x`) at 127\\.0\\.0\\.1"
        );
        for value in HOSTILE {
            for message in [
                format!("value `{value}` is bad: {value}"),
                format!("`{value}"),
                value.to_string(),
            ] {
                let shown = md_prose(&message);
                assert_plain(&shown, value);
                for (i, piece) in shown.split('`').enumerate() {
                    if i % 2 == 0 {
                        assert!(
                            !piece.contains(['<', '@', '#', '[']) || piece.contains('\\'),
                            "{shown}"
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn html_code_has_no_tag_or_quote() {
        for value in HOSTILE {
            let shown = html_code(value);
            assert_plain(&shown, value);
            let inner = &shown["<code>".len()..shown.len() - "</code>".len()];
            assert!(!inner.contains(['<', '>', '"', '\'']), "{shown}");
        }
        assert_eq!(
            html_code("</summary><img src=x>@org"),
            "<code>&lt;/summary&gt;&lt;img src=x&gt;@org</code>"
        );
    }

    #[test]
    fn no_line_of_a_fenced_block_closes_it() {
        let body = "+```\n ````\n-`````` <img src=x>\n \x1b[2J\u{202e}\n";
        let shown = md_fenced("diff", body);
        assert!(shown.starts_with("```````diff\n"), "{shown}");
        assert!(shown.ends_with("\n```````\n"), "{shown}");
        assert!(!shown.chars().any(safe_text::is_hidden), "{shown:?}");
        let lines: Vec<&str> = shown.lines().collect();
        for line in &lines[1..lines.len() - 1] {
            assert!(!line.trim_start().starts_with("```````"), "{line}");
        }
        assert_eq!(md_fenced("diff", "+a"), "```diff\n+a\n```\n");
    }
}
