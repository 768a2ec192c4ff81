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
    /// (as `rustc` and `cargo` do), so the reader sees the value without opening the file.
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
            key,
            message,
            source_line: offset.map(|o| line_text(src, o).to_owned()),
        }
    }
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file.display())?;
        if let Some((line, col)) = self.position {
            write!(f, ":{line}:{col}")?;
        }
        let level = match self.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
        };
        write!(f, ": {level}: `{}`: {}", self.key, self.message)?;
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
/// Tabs before the column stay tabs, so the caret lines up however the terminal shows them.
fn write_snippet(f: &mut fmt::Formatter<'_>, line: usize, col: usize, text: &str) -> fmt::Result {
    let gutter = " ".repeat(line.to_string().len());
    let indent: String = text
        .chars()
        .take(col.saturating_sub(1))
        .map(|c| if c == '\t' { '\t' } else { ' ' })
        .collect();
    write!(f, "\n{gutter} |\n{line} | {text}\n{gutter} | {indent}^")
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
