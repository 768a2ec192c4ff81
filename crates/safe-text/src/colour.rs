//! Colour: the tool's own styles (never a value's) around sanitized text, on a terminal only.
//! `--color auto|always|never` ([`set_colour`]); with `auto`, a stream is coloured when it is
//! a terminal, `NO_COLOR` is unset or empty (<https://no-color.org>) and `TERM` is not `dumb`.
//! `always` colours even then; `never` never does.

use std::fmt;
use std::io::IsTerminal;
use std::sync::atomic::{AtomicU8, Ordering};

use crate::Stream;

/// When to colour.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Colour {
    #[default]
    Auto,
    Always,
    Never,
}

static CHOICE: AtomicU8 = AtomicU8::new(0);

/// Sets when to colour, for the rest of the run.
pub fn set_colour(choice: Colour) {
    let n = match choice {
        Colour::Auto => 0,
        Colour::Always => 1,
        Colour::Never => 2,
    };
    CHOICE.store(n, Ordering::Relaxed);
}

/// Whether `stream` gets colour.
pub fn colours(stream: Stream) -> bool {
    match CHOICE.load(Ordering::Relaxed) {
        1 => true,
        2 => false,
        _ => {
            let terminal = match stream {
                Stream::Stdout => std::io::stdout().is_terminal(),
                Stream::Stderr => std::io::stderr().is_terminal(),
            };
            terminal
                && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
                && std::env::var_os("TERM").is_none_or(|t| t != "dumb")
        }
    }
}

/// [`crate::write`] with `style` around the sanitized text when `stream` [`colours`]: the
/// style's codes are added after sanitizing, so only the tool's own styles reach the terminal.
pub fn write_styled(stream: Stream, style: anstyle::Style, args: fmt::Arguments<'_>) {
    let style = colours(stream).then_some(style);
    crate::write_in(stream, style, args)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn never_and_always_win_over_the_terminal() {
        set_colour(Colour::Never);
        assert!(!colours(Stream::Stdout));
        set_colour(Colour::Always);
        assert!(colours(Stream::Stderr));
        set_colour(Colour::Auto);
    }
}
