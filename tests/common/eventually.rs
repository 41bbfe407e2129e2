//! Waiting on a condition with a deadline, never on a fixed sleep: a test
//! that waits for what it needs is as fast as the machine allows and does
//! not flake when the machine is slow. The deadline is generous (an upper
//! bound for a loaded CI runner), never a timing assertion.
//!
//! A probe reports [`Progress`]: `true`/`Some(value)`/`Ok(value)` when the
//! condition holds, `false`/`None`/`Err(what it saw)` while it does not yet;
//! the last thing it saw is in the panic message when the deadline passes.

use std::fmt::Display;
use std::future::Future;
use std::time::Duration;

use tokio::time::Instant;

/// Upper bound for waiting on a condition (a process, a reconnection, a
/// background task); never a timing assertion.
pub const PATIENCE: Duration = Duration::from_secs(20);

/// The first pause between two probes; it doubles up to [`MAX_PAUSE`].
const FIRST_PAUSE: Duration = Duration::from_millis(5);
const MAX_PAUSE: Duration = Duration::from_millis(100);

/// What one probe saw: the condition holds (with a value), or not yet
/// (with a description of the state, for the panic message).
pub trait Progress {
    type Done;
    fn progress(self) -> Result<Self::Done, String>;
}

impl Progress for bool {
    type Done = ();
    fn progress(self) -> Result<(), String> {
        if self {
            Ok(())
        } else {
            Err("the condition was false".into())
        }
    }
}

impl<T> Progress for Option<T> {
    type Done = T;
    fn progress(self) -> Result<T, String> {
        self.ok_or_else(|| "the probe found nothing".into())
    }
}

impl<T, E: Display> Progress for Result<T, E> {
    type Done = T;
    fn progress(self) -> Result<T, String> {
        self.map_err(|seen| seen.to_string())
    }
}

/// Probes until the condition holds and returns its value; panics naming
/// `what` and the last state seen once `deadline` has passed (a probe still
/// running then is abandoned, so a hung probe cannot hang the test).
///
/// The probe is a closure returning a future (`|| async { .. }`), not an
/// async closure: a future built from an `AsyncFnMut` is not provably
/// `Send`, and some tests box their probes as `Send` futures.
pub async fn eventually<P: Progress, F: Future<Output = P>>(
    what: &str,
    deadline: Duration,
    probe: impl FnMut() -> F,
) -> P::Done {
    match poll(deadline, probe, Abandon::AtDeadline).await {
        Ok(done) => done,
        Err(last) => panic!("timed out after {deadline:?} waiting for {what}; last seen: {last}"),
    }
}

/// Probes until the condition holds (`Ok(value)`) or `deadline` passes
/// (`Err(last state seen)`), for a caller that reports the absence itself:
/// a probe whose answer is "not within this window". A probe running at
/// the deadline finishes and counts (the window is a lower bound).
pub async fn poll_within<P: Progress, F: Future<Output = P>>(
    deadline: Duration,
    probe: impl FnMut() -> F,
) -> Result<P::Done, String> {
    poll(deadline, probe, Abandon::Never).await
}

/// What happens to a probe still running when the deadline passes.
#[derive(PartialEq)]
enum Abandon {
    AtDeadline,
    Never,
}

async fn poll<P: Progress, F: Future<Output = P>>(
    deadline: Duration,
    mut probe: impl FnMut() -> F,
    abandon: Abandon,
) -> Result<P::Done, String> {
    let until = Instant::now() + deadline;
    let mut pause = FIRST_PAUSE;
    let mut last = String::from("no probe finished");
    loop {
        let seen = if abandon == Abandon::AtDeadline {
            match tokio::time::timeout_at(until, probe()).await {
                Ok(seen) => seen,
                Err(_) => return Err(format!("{last} (a probe was still running)")),
            }
        } else {
            probe().await
        };
        match seen.progress() {
            Ok(done) => return Ok(done),
            Err(state) => last = state,
        }
        if Instant::now() >= until {
            return Err(last);
        }
        tokio::time::sleep_until((Instant::now() + pause).min(until)).await;
        pause = (pause * 2).min(MAX_PAUSE);
    }
}

/// [`eventually`] for a caller outside the async runtime (or one that owns
/// a child process and has no task to let run meanwhile).
pub fn eventually_blocking<P: Progress>(
    what: &str,
    deadline: Duration,
    mut probe: impl FnMut() -> P,
) -> P::Done {
    let until = std::time::Instant::now() + deadline;
    let mut pause = FIRST_PAUSE;
    loop {
        let state = match probe().progress() {
            Ok(done) => return done,
            Err(state) => state,
        };
        assert!(
            std::time::Instant::now() < until,
            "timed out after {deadline:?} waiting for {what}; last seen: {state}"
        );
        #[allow(
            clippy::disallowed_methods,
            reason = "the blocking variant: its callers have no task to let run meanwhile"
        )]
        std::thread::sleep(pause);
        pause = (pause * 2).min(MAX_PAUSE);
    }
}
