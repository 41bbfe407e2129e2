//! How long a connection may stay open: its first request must start within
//! `request_timeout` of the accept, and once it has served requests it may
//! idle (no request in progress: no HTTP/2 stream open, or an HTTP/1.1
//! connection between requests) for `idle_timeout`; and it drains when the
//! server shuts down.
//!
//! hyper's HTTP/2 server has no such timeouts of its own, so without this an
//! HTTP/2 connection that sent only its preface (or SETTINGS and PINGs, which
//! open no stream) kept its `max_connections` slot forever. HTTP/1.1 has
//! hyper's header read timeout, which also runs from the end of one response
//! to the next request head; the same rules apply to it here, so an idle
//! HTTP/1.1 connection is closed after the smaller of the two timeouts.
//!
//! A request counts from the moment hyper hands it to the service until its
//! response body has been sent or dropped ([`Tracked`]): an `Arc` clone, a
//! flag and two counter updates (all on the connection's own, uncontended
//! state), and one clock read when the connection falls idle.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use http::Response;
use http_body::{Body, Frame, SizeHint};
use tokio::sync::watch;
use tokio::time::Instant;

/// The deadlines a connection lives by.
#[derive(Debug, Clone, Copy)]
pub(super) struct Limits {
    /// From the accept to the first request.
    pub first_request: Duration,
    /// From the end of the last request to closing an idle connection.
    pub idle: Duration,
    /// How long a connection asked to close gracefully (HTTP/2: GOAWAY, then
    /// a PING round trip) may take before it is dropped, if still idle.
    pub linger: Duration,
}

/// Requests in progress on one connection, and since when it has been idle.
#[derive(Debug)]
pub(super) struct Activity {
    /// When the connection was accepted: the origin of `idle_since_ms`.
    accepted: Instant,
    open: AtomicUsize,
    /// Whether any request has started.
    served: AtomicBool,
    /// Milliseconds after `accepted` when the last request ended.
    idle_since_ms: AtomicU64,
}

/// What a connection is doing when its timer fires.
#[derive(Debug, PartialEq, Eq)]
enum State {
    /// Some request is in progress: look again one idle timeout later.
    Busy,
    /// No request ever started and the first-request deadline has passed.
    NeverUsed,
    /// Waiting for its first request, or idle but not yet for the whole
    /// idle timeout: look again at this instant.
    WaitUntil(Instant),
    /// Idle for the whole idle timeout.
    Idle,
}

impl Activity {
    pub(super) fn new(accepted: Instant) -> Self {
        Self {
            accepted,
            open: AtomicUsize::new(0),
            served: AtomicBool::new(false),
            idle_since_ms: AtomicU64::new(0),
        }
    }

    /// Counts `request` in progress until its response body is done.
    pub(super) fn track<F>(self: &Arc<Self>, request: F) -> Tracked<F> {
        self.served.store(true, Ordering::Relaxed);
        self.open.fetch_add(1, Ordering::AcqRel);
        Tracked {
            request,
            guard: Some(InProgress(Arc::clone(self))),
        }
    }

    fn ended(&self) {
        if self.open.fetch_sub(1, Ordering::AcqRel) == 1 {
            let since = self.accepted.elapsed().as_millis();
            self.idle_since_ms
                .store(u64::try_from(since).unwrap_or(u64::MAX), Ordering::Release);
        }
    }

    fn state(&self, now: Instant, limits: &Limits) -> State {
        if self.open.load(Ordering::Acquire) > 0 {
            return State::Busy;
        }
        if !self.served.load(Ordering::Relaxed) {
            let until = self.accepted + limits.first_request;
            return if now < until {
                State::WaitUntil(until)
            } else {
                State::NeverUsed
            };
        }
        let since = Duration::from_millis(self.idle_since_ms.load(Ordering::Acquire));
        let until = self.accepted + since + limits.idle;
        if now < until {
            State::WaitUntil(until)
        } else {
            State::Idle
        }
    }
}

/// One request in progress; ends it when dropped.
#[derive(Debug)]
struct InProgress(Arc<Activity>);

impl Drop for InProgress {
    fn drop(&mut self) {
        self.0.ended();
    }
}

/// A request's future whose response body carries the request's
/// [`InProgress`] guard; the guard ends with the future if no response came.
#[derive(Debug)]
pub(super) struct Tracked<F> {
    request: F,
    guard: Option<InProgress>,
}

impl<F, B, E> Future for Tracked<F>
where
    F: Future<Output = Result<Response<B>, E>> + Unpin,
{
    type Output = Result<Response<TrackedBody<B>>, E>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let result = std::task::ready!(Pin::new(&mut self.request).poll(cx));
        let guard = self.guard.take();
        Poll::Ready(result.map(|response| {
            response.map(|body| TrackedBody {
                body,
                _guard: guard,
            })
        }))
    }
}

/// A response body that keeps its request in progress until it is dropped.
#[derive(Debug)]
pub(super) struct TrackedBody<B> {
    body: B,
    _guard: Option<InProgress>,
}

impl<B: Body + Unpin> Body for TrackedBody<B> {
    type Data = B::Data;
    type Error = B::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<B::Data>, B::Error>>> {
        Pin::new(&mut self.body).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.body.size_hint()
    }
}

/// Drives `conn` until it ends, closing it when its deadlines pass or
/// draining it when `drain` fires; `shutdown` is its graceful shutdown
/// (HTTP/2: GOAWAY; HTTP/1.1: close once the response in progress is sent).
///
/// A connection that never started a request is dropped at its deadline,
/// with nothing sent, as a silent HTTP/1.1 connection always was. An idle
/// one is asked to close gracefully, then dropped after `linger` if it is
/// still idle; a request that started meanwhile is served.
///
/// The connection's task is woken several times per request: each wake
/// polls the connection and only looks at the timer and the drain signal
/// (an atomic load each). They are polled once after being set, which
/// registers this task to be woken by them; a task's waker stays the same
/// for its whole life, so that registration holds.
pub(super) async fn supervise<C, E>(
    conn: C,
    shutdown: impl Fn(Pin<&mut C>),
    activity: &Activity,
    limits: Limits,
    mut drain: watch::Receiver<()>,
) -> Result<(), Ended<E>>
where
    C: Future<Output = Result<(), E>>,
{
    tokio::pin!(conn);
    // Whichever comes first: the first-request deadline, or (should a first
    // request come and go at once) the end of the idle timeout after it.
    let first_look = activity.accepted + limits.first_request.min(limits.idle);
    let timer = tokio::time::sleep_until(first_look);
    tokio::pin!(timer);
    let drain_seen = drain.clone();
    let drained = drain.changed();
    tokio::pin!(drained);
    let (mut timer_registered, mut drain_registered) = (false, false);
    let (mut draining, mut asked_to_close) = (false, false);
    loop {
        let event = std::future::poll_fn(|cx| {
            if let Poll::Ready(ended) = conn.as_mut().poll(cx) {
                return Poll::Ready(Event::Ended(ended));
            }
            if !draining {
                let fired = if drain_registered {
                    drain_seen.has_changed().unwrap_or(true)
                } else {
                    drain_registered = true;
                    drained.as_mut().poll(cx).is_ready()
                };
                if fired {
                    return Poll::Ready(Event::Drain);
                }
            }
            let elapsed = if timer_registered {
                timer.is_elapsed()
            } else {
                timer_registered = true;
                timer.as_mut().poll(cx).is_ready()
            };
            if elapsed {
                return Poll::Ready(Event::Timer);
            }
            Poll::Pending
        })
        .await;
        match event {
            Event::Ended(ended) => return ended.map_err(Ended::Error),
            Event::Drain => {
                draining = true;
                shutdown(conn.as_mut());
            }
            Event::Timer => {
                let now = Instant::now();
                let next = match activity.state(now, &limits) {
                    State::Busy => now + limits.idle,
                    State::NeverUsed => return Err(Ended::NoRequest),
                    State::WaitUntil(until) => until,
                    State::Idle if asked_to_close => return Err(Ended::Idle),
                    State::Idle => {
                        asked_to_close = true;
                        shutdown(conn.as_mut());
                        now + limits.linger
                    }
                };
                timer.as_mut().reset(next);
                timer_registered = false;
            }
        }
    }
}

/// What woke [`supervise`] with something to do.
enum Event<E> {
    Ended(Result<(), E>),
    Drain,
    Timer,
}

/// Why [`supervise`] ended a connection other than by its own end.
#[derive(Debug)]
pub(super) enum Ended<E> {
    /// The connection failed.
    Error(E),
    /// No request started within the first-request deadline.
    NoRequest,
    /// Still idle `linger` after it was asked to close.
    Idle,
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIMITS: Limits = Limits {
        first_request: Duration::from_secs(30),
        idle: Duration::from_secs(60),
        linger: Duration::from_secs(10),
    };

    #[tokio::test]
    async fn a_connection_waits_for_its_first_request_then_is_never_used() {
        let accepted = Instant::now();
        let activity = Activity::new(accepted);
        let deadline = accepted + LIMITS.first_request;
        assert_eq!(
            activity.state(accepted, &LIMITS),
            State::WaitUntil(deadline)
        );
        assert_eq!(activity.state(deadline, &LIMITS), State::NeverUsed);
    }

    #[tokio::test]
    async fn a_connection_is_busy_while_a_request_is_in_progress_then_idle() {
        let accepted = Instant::now();
        let activity = Arc::new(Activity::new(accepted));
        let request = activity.track(std::future::ready(Ok::<_, ()>(Response::new(()))));
        assert_eq!(activity.state(accepted, &LIMITS), State::Busy);
        let response = request.await.unwrap();
        assert_eq!(
            activity.state(accepted + LIMITS.idle * 2, &LIMITS),
            State::Busy,
            "the response body is still to be sent"
        );
        drop(response);
        let State::WaitUntil(until) = activity.state(accepted, &LIMITS) else {
            panic!("idle, for less than the idle timeout");
        };
        assert!(until >= accepted + LIMITS.idle && until <= Instant::now() + LIMITS.idle);
        assert_eq!(activity.state(until, &LIMITS), State::Idle);
    }

    #[tokio::test]
    async fn a_request_dropped_before_its_response_ends_too() {
        let accepted = Instant::now();
        let activity = Arc::new(Activity::new(accepted));
        let request = activity.track(std::future::pending::<Result<Response<()>, ()>>());
        assert_eq!(activity.state(accepted, &LIMITS), State::Busy);
        drop(request);
        let later = Instant::now() + LIMITS.idle;
        assert_eq!(activity.state(later, &LIMITS), State::Idle);
    }
}
