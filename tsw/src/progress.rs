//! Stack progress on the terminal: the change preview, the confirmation and stack events.

use std::pin::Pin;

use crate::ui::Progress;
use aws::{Event, Observer, Plan};

/// A [`Progress`] that shows a stack deploy.
#[derive(Debug)]
pub struct StackProgress(pub Progress);

impl Observer for StackProgress {
    fn step(&mut self, what: &str) {
        self.0.step(what);
    }

    fn note(&mut self, text: &str) {
        self.0.line(text);
    }

    fn confirm<'a>(&'a mut self, plan: &'a Plan) -> Pin<Box<dyn Future<Output = bool> + 'a>> {
        // The same lines `plan` prints for the stack.
        for line in crate::plan_view::stack_lines(plan) {
            self.0.line(&line);
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
            e.status.as_str(),
            e.logical_id,
            e.resource_type
        ));
    }
}

/// A [`Progress`] that shows a StackSet deploy: each step, and each instance of the running
/// operation as its status changes (account, region, status, and the reason of a failure).
#[derive(Debug)]
pub struct StackSetProgress(pub Progress);

impl aws::stack_set::OperationObserver for StackSetProgress {
    fn step(&mut self, what: &str) {
        // One line, whatever an operation's ID or action from AWS in it holds.
        self.0.line(&crate::stack_sets::one_line(what));
        self.0.step(what);
    }

    fn instance(&mut self, r: &aws::stack_set::InstanceResult) {
        let reason = r
            .reason
            .as_deref()
            .map(|r| format!("  {}", crate::stack_sets::reason(Some(r))))
            .unwrap_or_default();
        let shown = crate::stack_sets::one_line;
        self.0.line(&format!(
            "  {} {:<14} {}{reason}",
            shown(&r.account),
            shown(&r.region),
            shown(&r.status)
        ));
    }
}
