//! Stack progress on the terminal: the change preview, the confirmation and stack events.

use std::pin::Pin;

use crate::ui::Progress;
use cfn_deploy::{Change, Event, Observer};

/// A [`Progress`] that shows a stack deploy.
#[derive(Debug)]
pub struct StackProgress(pub Progress);

fn symbol(action: &str) -> char {
    match action {
        "Add" => '+',
        "Remove" => '-',
        "Modify" => '~',
        _ => '*',
    }
}

impl Observer for StackProgress {
    fn step(&mut self, what: &str) {
        self.0.step(what);
    }

    fn note(&mut self, text: &str) {
        self.0.line(text);
    }

    fn confirm<'a>(
        &'a mut self,
        stack: &'a str,
        changes: &'a [Change],
    ) -> Pin<Box<dyn Future<Output = bool> + 'a>> {
        self.0.line(&format!("changes to stack `{stack}`:"));
        if changes.is_empty() {
            self.0.line("  (CloudFormation listed no resource changes)");
        }
        let width = changes
            .iter()
            .map(|c| c.logical_id.len())
            .max()
            .unwrap_or(0);
        for c in changes {
            let replacement = match c.replacement.as_deref() {
                Some("True") => "  (replaces the resource)",
                Some("Conditional") => "  (may replace the resource)",
                _ => "",
            };
            self.0.line(&format!(
                "  {} {:<7} {:<width$}  {}{replacement}",
                symbol(&c.action),
                c.action,
                c.logical_id,
                c.resource_type
            ));
        }
        // Asked on a thread of its own: the deploy stays free to notice Ctrl-C meanwhile.
        let ask = self.0.confirmation("execute these changes?");
        Box::pin(async move { tokio::task::spawn_blocking(ask).await.unwrap_or(false) })
    }

    fn event(&mut self, e: &Event) {
        let time = e
            .timestamp
            .as_deref()
            .and_then(|t| t.get(11..19))
            .unwrap_or("");
        let reason = e
            .reason
            .as_deref()
            .map(|r| format!("  {r}"))
            .unwrap_or_default();
        self.0.line(&format!(
            "  {time}  {:<20} {} ({}){reason}",
            e.status, e.logical_id, e.resource_type
        ));
    }
}
