//! Ctrl-C and SIGTERM during a deploy or destroy: the run stops where it is, what was never
//! executed is undone, a StackSet operation it started is stopped, and what CloudFormation
//! goes on with is named, with how to follow it.

use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, Result};
use aws::Clients;
use aws::{Deadline, InFlight, Tracker, Undone};
use env_descriptor::{Environment, Layout};

/// How long undoing may take: a few requests, or the wait for a StackSet operation to stop.
const CLEANUP: Duration = Duration::from_secs(20);

/// The signal that stopped a run.
#[derive(Debug, Clone, Copy)]
pub struct Interrupt {
    name: &'static str,
    number: u8,
}

impl Interrupt {
    /// The shell's convention: 128 + the signal's number (130 for SIGINT, 143 for SIGTERM).
    pub fn exit_code(self) -> ExitCode {
        ExitCode::from(128 + self.number)
    }
}

/// SIGINT and SIGTERM (Ctrl-C elsewhere) from the moment this is made: they no longer end the
/// process by themselves, the run decides what to do.
#[derive(Debug)]
pub struct Signals {
    #[cfg(unix)]
    int: tokio::signal::unix::Signal,
    #[cfg(unix)]
    term: tokio::signal::unix::Signal,
}

impl Signals {
    /// Starts listening; must be called within the runtime.
    #[cfg(unix)]
    pub fn listen() -> Result<Self> {
        use tokio::signal::unix::{SignalKind, signal};
        Ok(Signals {
            int: signal(SignalKind::interrupt()).context("cannot listen for SIGINT")?,
            term: signal(SignalKind::terminate()).context("cannot listen for SIGTERM")?,
        })
    }

    #[cfg(not(unix))]
    pub fn listen() -> Result<Self> {
        Ok(Signals {})
    }

    /// The next signal.
    #[cfg(unix)]
    pub async fn next(&mut self) -> Interrupt {
        tokio::select! {
            _ = self.int.recv() => Interrupt { name: "SIGINT", number: 2 },
            _ = self.term.recv() => Interrupt { name: "SIGTERM", number: 15 },
        }
    }

    #[cfg(not(unix))]
    pub async fn next(&mut self) -> Interrupt {
        let _ = tokio::signal::ctrl_c().await;
        Interrupt {
            name: "Ctrl-C",
            number: 2,
        }
    }
}

/// One environment's run that was interrupted.
#[derive(Debug)]
pub struct Stopped<'a> {
    pub env: &'a Environment,
    pub tracker: &'a Tracker,
    /// The command that picks up what CloudFormation goes on with, e.g. `deploy`.
    pub resume: &'static str,
}

/// After `first`: undoes, for each environment, what it had under way (a change set never
/// executed, the empty stack it made, a StackSet operation it started: stopped) and says what
/// goes on; the descriptors stay as they were. Returns the exit code; a second signal during
/// the cleanup ends it at once.
pub async fn clean_up(
    layout: &Layout,
    first: Interrupt,
    signals: &mut Signals,
    runs: &[Stopped<'_>],
) -> ExitCode {
    let operations = runs
        .iter()
        .filter(|r| matches!(r.tracker.in_flight(), InFlight::StackSetOperation(_)))
        .count();
    let stopping = match operations {
        0 => String::new(),
        1 => " and stopping the StackSet operation under way".to_owned(),
        n => format!(" and stopping the {n} StackSet operations under way"),
    };
    safe_text::eprintln!(
        "{}: stopping; undoing what was never executed{stopping}...",
        first.name
    );
    let work = futures_util::future::join_all(runs.iter().map(|r| clean_up_one(layout, r)));
    tokio::select! {
        _ = work => {}
        second = signals.next() => {
            safe_text::eprintln!("{}: stopped without finishing the cleanup", second.name);
            return second.exit_code();
        }
    }
    first.exit_code()
}

async fn clean_up_one(layout: &Layout, run: &Stopped<'_>) {
    let tsw = crate::cli::name();
    let env = run.env;
    let in_flight = run.tracker.in_flight();
    let undone = if in_flight == InFlight::Nothing {
        Ok(Undone::Nothing)
    } else {
        let clients = Clients::connect(&crate::connect::connection(env)).await;
        let deadline = Deadline::after(CLEANUP);
        match deadline
            .bound(clients.stacks.undo(&in_flight, &deadline))
            .await
        {
            Some(Ok(undone)) => Ok(undone),
            Some(Err(e)) => Err(format!("could not undo the {in_flight}: {e}")),
            None => Err(format!(
                "could not undo the {in_flight} within {}",
                aws::format_duration(CLEANUP)
            )),
        }
    };
    match &undone {
        Ok(undone) => safe_text::eprintln!("{}: interrupted; {undone}", env.name),
        Err(e) => safe_text::eprintln!("{}: interrupted; {e}", env.name),
    }
    match undone {
        Ok(Undone::StillRunning(_)) => safe_text::eprintln!(
            "{}: run `{tsw} {} {}` to wait for it and record the result",
            env.name,
            run.resume,
            env.name
        ),
        // The next run waits for the operation (while it still stops), then does what is left.
        Ok(Undone::StackSetOperation { .. } | Undone::NeverStarted(_)) => safe_text::eprintln!(
            "{}: run `{tsw} {} {}` to resume where it stopped",
            env.name,
            run.resume,
            env.name
        ),
        // Not stopped (denied, no answer): it goes on.
        Err(_) => {
            if let InFlight::StackSetOperation(op) = &in_flight {
                safe_text::eprintln!(
                    "{}: it may go on in CloudFormation: follow it with `{}`; `{tsw} {} {}` waits for it, then does what is left",
                    env.name,
                    op.follow(),
                    run.resume,
                    env.name
                );
            }
        }
        _ => {}
    }
    let file = crate::relative(layout, &env.file);
    safe_text::eprintln!("{}: `{file}` was left as it was", env.name);
}
