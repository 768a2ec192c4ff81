use std::fmt;
use std::path::{Path, PathBuf};

/// How bad a [`Problem`] is: errors stop every command, warnings are printed and let it go on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Severity {
    Error,
    Warning,
}

/// One finding about a descriptor, pointing at the file, the key and (when known) the line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub severity: Severity,
    pub file: PathBuf,
    /// 1-based line and column of the offending key or value.
    pub position: Option<(usize, usize)>,
    /// Dotted key path, e.g. `role.lambda_function_arns[1]`.
    pub key: String,
    /// What is wrong and what is allowed.
    pub message: String,
    /// The text of the line at `position`, quoted under the message with a caret at the column
    /// (as `rustc` and `cargo` do), so the reader sees the value without opening the file. Shown
    /// escaped, and cut to a window around the column when it is long.
    pub source_line: Option<String>,
}

impl Problem {
    /// A problem at byte `offset` of `src` (the file's text), with its line quoted.
    pub(crate) fn at(
        severity: Severity,
        file: &Path,
        src: &str,
        offset: Option<usize>,
        key: String,
        message: String,
    ) -> Self {
        Problem {
            severity,
            file: file.to_owned(),
            position: offset.map(|o| line_col(src, o)),
            // A value quoted in the message or the key (a tag's) is shown as an excerpt.
            key: safe_text::excerpt(&key).into_owned(),
            message: safe_text::bound_quotes(&message).into_owned(),
            source_line: offset.map(|o| line_text(src, o).to_owned()),
        }
    }
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", safe_text::inline(&self.file.display().to_string()))?;
        if let Some((line, col)) = self.position {
            write!(f, ":{line}:{col}")?;
        }
        let level = match self.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
        };
        write!(
            f,
            ": {level}: `{}`: {}",
            safe_text::inline(&self.key),
            safe_text::escape(&self.message)
        )?;
        if let (Some((line, col)), Some(text)) = (self.position, &self.source_line) {
            write_snippet(f, line, col, text)?;
        }
        Ok(())
    }
}

/// ```text
///   |
/// 3 | region = "mars-1"
///   |          ^
/// ```
/// Tabs before the column stay tabs, so the caret lines up however the terminal shows them;
/// other control and bidi characters are shown escaped ([`safe_text::inline`]), the caret moved
/// by their escapes. A long line is cut to [`safe_text::EXCERPT_CHARS`] characters around the
/// column, saying how many bytes were left out.
fn write_snippet(f: &mut fmt::Formatter<'_>, line: usize, col: usize, text: &str) -> fmt::Result {
    const BEFORE: usize = 60;
    let gutter = " ".repeat(line.to_string().len());
    let at = col.saturating_sub(1);
    let byte = |n: usize| text.char_indices().nth(n).map_or(text.len(), |(i, _)| i);
    let first = at.saturating_sub(BEFORE);
    let (start, end) = (byte(first), byte(first + safe_text::EXCERPT_CHARS));
    let show = |s: &str| -> String {
        s.split('\t')
            .map(|part| safe_text::inline(part).into_owned())
            .collect::<Vec<_>>()
            .join("\t")
    };
    let mut indent = String::new();
    if start > 0 {
        indent.push(' ');
    }
    for c in text[start..byte(at).max(start)].chars() {
        match c {
            '\t' => indent.push('\t'),
            c => indent.push_str(&" ".repeat(safe_text::shown_width(c))),
        }
    }
    let (before, after) = (
        if start > 0 { "…" } else { "" },
        if end < text.len() { "…" } else { "" },
    );
    write!(
        f,
        "\n{gutter} |\n{line} | {before}{}{after}\n{gutter} | {indent}^",
        show(&text[start..end])
    )?;
    if start > 0 || end < text.len() {
        write!(
            f,
            " ({} bytes of the line left out)",
            start + text.len() - end
        )?;
    }
    Ok(())
}

/// The line of `src` that byte `offset` is on, without its line ending.
pub(crate) fn line_text(src: &str, offset: usize) -> &str {
    let offset = offset.min(src.len());
    let start = src[..offset].rfind('\n').map_or(0, |i| i + 1);
    let end = src[offset..].find('\n').map_or(src.len(), |i| offset + i);
    src[start..end].trim_end_matches('\r')
}

/// Converts a byte offset in `src` into a 1-based (line, column) pair.
pub(crate) fn line_col(src: &str, offset: usize) -> (usize, usize) {
    let offset = offset.min(src.len());
    let before = &src[..offset];
    let line = before.matches('\n').count() + 1;
    let col = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, col)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_col_counts_from_one() {
        let src = "a = 1\nbé = 2\n";
        assert_eq!(line_col(src, 0), (1, 1));
        assert_eq!(line_col(src, 6), (2, 1));
        assert_eq!(line_col(src, src.find('=').unwrap()), (1, 3));
        assert_eq!(line_col(src, src.rfind('=').unwrap()), (2, 4));
    }

    #[test]
    fn display_quotes_the_line_with_a_caret_under_the_column() {
        let src = "[aws]\r\n\tregion = \"mars-1\"\r\n";
        let p = Problem::at(
            Severity::Error,
            Path::new("x.toml"),
            src,
            src.find("\"mars"),
            "aws.region".into(),
            "bad".into(),
        );
        assert_eq!(
            p.to_string(),
            "x.toml:2:11: error: `aws.region`: bad\n  |\n2 | \tregion = \"mars-1\"\n  | \t         ^"
        );
    }

    #[test]
    fn a_hostile_line_is_shown_escaped_and_the_caret_still_points_at_the_column() {
        let src = "[role]\nstack_name = \"\u{1b}]0;t\u{7}\u{202e}x\" # ::add-mask::y\n";
        let p = Problem::at(
            Severity::Error,
            Path::new("x\u{1b}[2J.toml"),
            src,
            src.find('x'),
            "role.stack_name".into(),
            "`\u{1b}]0;t\u{7}\u{202e}x` is not a stack name".into(),
        );
        let shown = p.to_string();
        assert_eq!(
            shown,
            "x\\x1b[2J.toml:2:22: error: `role.stack_name`: `\\x1b]0;t\\x07\\u{202e}x` is not a stack name\n  \
             |\n2 | stack_name = \"\\x1b]0;t\\x07\\u{202e}x\" # ::add-mask::y\n  |                                   ^"
        );
        let lines: Vec<&str> = shown.lines().collect();
        assert_eq!(lines[2].find("x\""), lines[3].find('^'), "{shown}");
    }

    #[test]
    fn a_huge_line_is_cut_around_the_column() {
        let value = "A".repeat(10 << 20);
        let src = format!("[role]\nstack_name = \"{value}\"\n");
        let p = Problem::at(
            Severity::Error,
            Path::new("x.toml"),
            &src,
            Some(src.find("AAAA").unwrap() + 5000),
            "role.stack_name".into(),
            format!("`{value}` is not a stack name; allowed: a letter"),
        );
        let shown = p.to_string();
        assert!(shown.len() < 1000, "{} bytes: {shown}", shown.len());
        assert!(
            shown.contains("bytes left out)` is not a stack name; allowed: a letter"),
            "{shown}"
        );
        let lines: Vec<&str> = shown.lines().collect();
        assert!(
            lines[2].starts_with("2 | …AAA") && lines[2].ends_with("A…"),
            "{shown}"
        );
        assert_eq!(
            lines[3].find('^'),
            Some("2 | …".chars().count() + 60),
            "{shown}"
        );
        assert!(
            lines[3].ends_with(&format!(
                "^ ({} bytes of the line left out)",
                src.len() - 1 - "[role]\n".len() - 200
            )),
            "{shown}"
        );
    }

    #[test]
    fn display_names_file_line_key_and_message() {
        let p = Problem {
            severity: Severity::Error,
            file: "environments/staging.toml".into(),
            position: Some((3, 1)),
            key: "aws.region".into(),
            message: "`mars-1` is not an AWS region".into(),
            source_line: None,
        };
        assert_eq!(
            p.to_string(),
            "environments/staging.toml:3:1: error: `aws.region`: `mars-1` is not an AWS region"
        );
    }
}
