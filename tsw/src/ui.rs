//! Terminal output: a spinner for long waits, stack events as they happen, the change preview
//! and the confirmation prompt. Progress goes to stderr, results to stdout.

use std::io::{BufRead, IsTerminal, Write};
use std::time::Duration;

use indicatif::{MultiProgress, ProgressBar, ProgressStyle};

/// Shows one deploy or destroy as it goes.
#[derive(Debug)]
pub struct Progress {
    bar: ProgressBar,
    label: String,
    /// Ask before executing a change set (only ever on a terminal).
    ask: bool,
}

/// Whether a person is at the keyboard.
pub fn interactive() -> bool {
    std::io::stdin().is_terminal() && std::io::stderr().is_terminal()
}

impl Progress {
    /// `label` prefixes every line (the environment's name), which keeps the output of
    /// several environments readable. `ask` requests a confirmation on a terminal.
    pub fn new(label: &str, ask: bool) -> Self {
        Self::in_group(None, label, ask)
    }

    /// A spinner among others (several environments at once), one line each.
    pub fn in_group(group: Option<&MultiProgress>, label: &str, ask: bool) -> Self {
        let bar = ProgressBar::new_spinner();
        let bar = match group {
            Some(g) => g.add(bar),
            None => bar,
        };
        bar.set_style(
            ProgressStyle::with_template("{spinner} {prefix} {msg} ({elapsed})")
                .expect("valid template"),
        );
        // Drawn by the terminal library, not through `safe_text`: escaped here, its own codes added after.
        bar.set_prefix(safe_text::inline(label).into_owned());
        bar.enable_steady_tick(Duration::from_millis(120));
        Progress {
            bar,
            label: label.to_owned(),
            ask: ask && interactive(),
        }
    }

    /// Prints a line above the spinner (or plainly, when stderr is not a terminal).
    pub fn line(&self, text: &str) {
        self.bar
            .suspend(|| safe_text::eprintln!("{} {text}", self.label));
    }

    /// Shows `what` next to the spinner.
    pub fn step(&self, what: &str) {
        self.bar.set_message(safe_text::inline(what).into_owned());
    }

    /// Asks `question` when this progress was made to ask (on a terminal), otherwise answers
    /// yes: as a closure for another thread, so that the caller stays free to notice an
    /// interruption while a person is asked.
    pub fn confirmation(&self, question: &str) -> impl FnOnce() -> bool + Send + 'static {
        let bar = self.ask.then(|| self.bar.clone());
        let question = question.to_owned();
        move || bar.is_none_or(|bar| ask_yes_no(Some(&bar), &question))
    }

    pub fn finish(&self) {
        self.bar.finish_and_clear();
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        self.bar.finish_and_clear();
    }
}

/// Asks a yes/no question on the terminal; anything but y/yes is no.
pub fn ask_yes_no(bar: Option<&ProgressBar>, question: &str) -> bool {
    let ask = || {
        safe_text::eprint!("{question} [y/N] ");
        let _ = std::io::stderr().flush();
        let mut answer = String::new();
        let _ = std::io::stdin().lock().read_line(&mut answer);
        matches!(answer.trim().to_ascii_lowercase().as_str(), "y" | "yes")
    };
    match bar {
        Some(bar) => bar.suspend(ask),
        None => ask(),
    }
}
