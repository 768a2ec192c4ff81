//! `--output`: how a command reports, and the one envelope of every JSON document. A JSON
//! document is one object on stdout: `version` (the schema version, [`JSON_VERSION`]),
//! `command` (the command that wrote it), then the command's own keys (docs/json-output.md).
//! Progress and errors still go to stderr, so stdout holds the document alone.

use serde_json::{Map, Value};

/// The JSON schema version; bumped only by a change that could break a reader (a key removed
/// or renamed, a value's type or meaning changed). New keys do not bump it.
pub const JSON_VERSION: u32 = 1;

/// `--output` of the commands that report in text or JSON: `text` for people (lines that may
/// change between versions), `json` for scripts (one stable, versioned document).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum Format {
    #[default]
    Text,
    Json,
}

/// The `--output` flag, for a command's `Args` to flatten; `default()` is text.
#[derive(Debug, Clone, Copy, Default, clap::Args)]
pub struct OutputArgs {
    /// `text` (default) or `json` (one stable document, `"version": 1`; docs/json-output.md).
    #[arg(long, value_enum, default_value = "text")]
    pub output: Format,
}

impl OutputArgs {
    /// Whether the command reports in JSON.
    pub fn json(self) -> bool {
        self.output == Format::Json
    }

    /// Prints `line` on stdout in text mode; nothing in JSON mode.
    pub fn line(self, line: impl std::fmt::Display) {
        if !self.json() {
            safe_text::println!("{line}");
        }
    }

    /// Prints the JSON document of `command` with `body`'s keys, in JSON mode; nothing in text
    /// mode.
    pub fn document(self, command: &str, body: Value) {
        if self.json() {
            print_document(command, body);
        }
    }
}

/// The document of `command`: the envelope's keys, then `body`'s (an object; anything else is
/// put under `result`).
pub fn document(command: &str, body: Value) -> Value {
    let mut doc = Map::new();
    doc.insert("version".into(), JSON_VERSION.into());
    doc.insert("command".into(), command.into());
    match body {
        Value::Object(fields) => {
            for (key, value) in fields {
                if key != "version" && key != "command" {
                    doc.insert(key, value);
                }
            }
        }
        other => {
            doc.insert("result".into(), other);
        }
    }
    Value::Object(doc)
}

/// Prints [`document`] on stdout, pretty, through `safe-text`.
pub fn print_document(command: &str, body: Value) {
    let text = format!("{:#}", document(command, body));
    safe_text::println!("{}", safe_text::json(&text));
}

/// `--color`: when to colour text on a terminal (never JSON or markdown). `auto`: on a
/// terminal, unless `NO_COLOR` is set (and not empty) or `TERM=dumb` (docs/colour.md).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum ColorChoice {
    #[default]
    Auto,
    Always,
    Never,
}

impl ColorChoice {
    /// Makes every later write through `safe-text` follow this choice.
    pub fn apply(self) {
        safe_text::set_colour(match self {
            ColorChoice::Auto => safe_text::Colour::Auto,
            ColorChoice::Always => safe_text::Colour::Always,
            ColorChoice::Never => safe_text::Colour::Never,
        });
    }
}

/// The style of `error:`.
pub const ERROR: anstyle::Style = anstyle::AnsiColor::Red.on_default().bold();

/// The style of a text line that shows a change, by its first character after the indent:
/// `+` added (green), `-` removed (red), `~` modified (yellow), `@@` a diff's hunk (cyan).
fn change_style(line: &str) -> Option<anstyle::Style> {
    let trimmed = line.trim_start();
    let colour = if trimmed.starts_with("@@") {
        anstyle::AnsiColor::Cyan
    } else if trimmed.starts_with('+') {
        anstyle::AnsiColor::Green
    } else if trimmed.starts_with('-') {
        anstyle::AnsiColor::Red
    } else if trimmed.starts_with('~') {
        anstyle::AnsiColor::Yellow
    } else {
        return None;
    };
    Some(colour.on_default())
}

/// Prints a plan (or preview) in text on stdout, its change lines coloured on a terminal
/// ([`change_style`]); through `safe-text` as every line is.
pub fn print_changes(text: &str) {
    for line in text.split_inclusive('\n') {
        let (body, newline) = match line.strip_suffix('\n') {
            Some(body) => (body, "\n"),
            None => (line, ""),
        };
        match change_style(body) {
            Some(style) => {
                safe_text::write_styled(safe_text::Stream::Stdout, style, format_args!("{body}"));
                safe_text::print!("{newline}");
            }
            None => safe_text::print!("{line}"),
        }
    }
}

/// Prints `error: MESSAGE` on stderr, `error:` coloured on a terminal.
pub fn print_error(message: impl std::fmt::Display) {
    safe_text::write_styled(safe_text::Stream::Stderr, ERROR, format_args!("error:"));
    safe_text::eprintln!(" {message}");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_document_carries_the_version_and_the_command_and_keeps_them() {
        let doc = document(
            "status",
            serde_json::json!({ "version": 99, "command": "x", "environment": "staging" }),
        );
        assert_eq!(doc["version"], 1);
        assert_eq!(doc["command"], "status");
        assert_eq!(doc["environment"], "staging");
        assert_eq!(document("whoami", Value::Bool(true))["result"], true);
    }

    #[test]
    fn change_lines_are_styled_by_their_marker() {
        assert!(change_style("      ~ Modify  TemporalServerlessWorker").is_some());
        assert!(change_style("    +++ b/environments/snap/parameters.json").is_some());
        assert!(change_style("    @@ -1,5 +1,5 @@").is_some());
        assert!(change_style("  stack `x`: update").is_none());
    }
}
