use std::fmt;
use std::path::PathBuf;

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
        write!(f, ": {level}: `{}`: {}", self.key, self.message)
    }
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
    fn display_names_file_line_key_and_message() {
        let p = Problem {
            severity: Severity::Error,
            file: "environments/staging.toml".into(),
            position: Some((3, 1)),
            key: "aws.region".into(),
            message: "`mars-1` is not an AWS region".into(),
        };
        assert_eq!(
            p.to_string(),
            "environments/staging.toml:3:1: error: `aws.region`: `mars-1` is not an AWS region"
        );
    }
}
