//! The audit trail: exactly one structured event per request decision.
//!
//! Events are their own stream, apart from diagnostics: written whenever
//! `[log] audit` is on (the default), whatever `HOOKGUARD_LOG` says (see
//! `telemetry`). They carry the target `audit` and the level INFO
//! (rejections WARN), so log pipelines can tell them apart. A [`Decision`]
//! holds only what is safe to log: route, provider, client IP, outcome, error
//! code, a redacted detail, the explanation of a refusal (`reason`, in the
//! words of `hookguard verify`, see `explain`), status, event id, the *index*
//! of the matching secret, latencies and the upstream status. There is deliberately no field
//! for a secret, a signature, a header value or the body.

use std::borrow::Cow;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use crate::explain::BodyPrint;
use crate::ip_text::IpText;
use crate::telemetry::json;

/// Tracing target of audit events.
pub const TARGET: &str = "audit";

/// Characters of an event id the audit log writes as they are.
pub const LOGGED_ID_CHARS: usize = 128;

/// An event id as the audit log writes it. Ids are signed but chosen by the
/// sender, and a 3,000-character one would fill a line per request: past
/// [`LOGGED_ID_CHARS`] characters the id is cut and `...sha256:` and the
/// first 32 hex digits of the SHA-256 of the whole id follow, so two long
/// ids sharing a prefix stay apart and the line can be matched to the
/// `X-Hookguard-Event-Id` the app received (which is never cut).
pub fn logged_id(id: &str) -> Cow<'_, str> {
    // At most that many bytes is at most that many characters.
    if id.len() <= LOGGED_ID_CHARS {
        return Cow::Borrowed(id);
    }
    let Some((cut, _)) = id.char_indices().nth(LOGGED_ID_CHARS) else {
        return Cow::Borrowed(id);
    };
    let digest = ring::digest::digest(&ring::digest::SHA256, id.as_bytes());
    let mut out = String::with_capacity(cut + 42);
    out.push_str(&id[..cut]);
    out.push_str("...sha256:");
    out.push_str(&hex::encode(&digest.as_ref()[..16]));
    Cow::Owned(out)
}

/// How a request ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Verified and forwarded; the upstream answered.
    Forwarded,
    /// Verified, but already delivered: answered 200 duplicate.
    Duplicate,
    /// Refused at some phase (see `error`).
    Rejected,
    /// A provider handshake answered by the proxy itself.
    Handshake,
    /// Queue mode: stored durably and acknowledged with 202.
    Queued,
}

impl Outcome {
    /// Stable lower-case label (logs, metrics).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Forwarded => "forwarded",
            Self::Queued => "queued",
            Self::Duplicate => "duplicate",
            Self::Rejected => "rejected",
            Self::Handshake => "handshake",
        }
    }
}

/// What is known about a request when its decision is made.
#[derive(Debug, Clone)]
pub struct Decision {
    /// Matched route path, once known (shared with the app: no copy per request).
    pub route: Option<Arc<str>>,
    /// Provider of the matched route.
    pub provider: Option<Arc<str>>,
    /// Position of the matched route in the configuration that handled the
    /// request (for its cached metric series).
    pub route_index: Option<usize>,
    /// Client address (after trusted-proxy resolution).
    pub client_ip: IpAddr,
    /// Final outcome.
    pub outcome: Outcome,
    /// Stable error code when rejected.
    pub error: Option<&'static str>,
    /// Redacted explanation for operators.
    pub detail: Option<String>,
    /// Why it was refused, as `hookguard verify` says it (rejections only).
    pub reason: Option<String>,
    /// The body's length and hash prefix, taken only when a read body was
    /// refused, for `reason`.
    pub body: Option<BodyPrint>,
    /// Status sent to the caller.
    pub status: u16,
    /// Signed event id, when the scheme has one.
    pub event_id: Option<String>,
    /// Index of the secret that verified the request.
    pub secret_index: Option<usize>,
    /// Time from request head to response head.
    pub latency: Duration,
    /// Time spent waiting for the upstream.
    pub upstream_latency: Option<Duration>,
    /// Upstream status, when it answered.
    pub upstream_status: Option<u16>,
}

impl Decision {
    /// A decision for a request from `peer`, rejected until proven otherwise.
    pub fn new(peer: IpAddr) -> Self {
        Self {
            route: None,
            provider: None,
            route_index: None,
            client_ip: peer,
            outcome: Outcome::Rejected,
            error: None,
            detail: None,
            reason: None,
            body: None,
            status: 0,
            event_id: None,
            secret_index: None,
            latency: Duration::ZERO,
            upstream_latency: None,
            upstream_status: None,
        }
    }
}

/// Emits the decision as one event on the `audit` target; the caller checks
/// `[log] audit`.
///
/// With JSON logs (the default) the line is written straight to the log
/// writer, in exactly the shape the subscriber would give it: tracing's
/// per-field visitor and dynamic writes cost about 7,300 instructions per
/// line, more than the rest of the bookkeeping of a forwarded request. No
/// filter applies: the diagnostic level never drops an audit line (and the
/// pretty format's subscriber lets the `audit` target through).
pub fn emit(d: &Decision) {
    if let Some(sink) = crate::telemetry::json_sink() {
        LINE.with_borrow_mut(|line| {
            line.clear();
            write_json(d, line);
            sink.append_line(line.as_bytes());
        });
        return;
    }
    let latency_ms = millis(d.latency);
    let upstream_ms = d.upstream_latency.map(millis);
    macro_rules! event {
        ($level:expr) => {
            tracing::event!(
                target: TARGET,
                $level,
                route = d.route.as_deref(),
                provider = d.provider.as_deref(),
                client_ip = IpText::new(d.client_ip).as_str(),
                outcome = d.outcome.as_str(),
                error = d.error,
                detail = d.detail.as_deref(),
                reason = d.reason.as_deref(),
                status = d.status,
                event_id = d.event_id.as_deref().map(logged_id).as_deref(),
                secret_index = d.secret_index.map(|i| i as u64),
                latency_ms,
                upstream_ms,
                upstream_status = d.upstream_status,
                "request"
            )
        };
    }
    if level(d) == tracing::Level::WARN {
        event!(tracing::Level::WARN)
    } else {
        event!(tracing::Level::INFO)
    }
}

thread_local! {
    /// Each thread's line buffer, reused: no allocation per request.
    static LINE: std::cell::RefCell<String> = std::cell::RefCell::new(String::with_capacity(512));
}

/// A duration in milliseconds for the log line: nanoseconds over 10^6, one
/// correctly rounded division, so the shortest float text is the exact
/// decimal (`4.458911`). Seconds times 1,000 rounds twice and printed
/// `4.4589110000000005` for about a quarter of all latencies.
fn millis(d: Duration) -> f64 {
    d.as_nanos() as f64 / 1e6
}

/// The level of a decision's event: WARN for refusals, INFO for the rest.
fn level(d: &Decision) -> tracing::Level {
    if d.outcome == Outcome::Rejected {
        tracing::Level::WARN
    } else {
        tracing::Level::INFO
    }
}

/// The decision as the JSON line the subscriber writes for the event in
/// [`emit`]: same level, same fields, same order, absent options left out.
pub(crate) fn write_json(d: &Decision, out: &mut String) {
    let mut line = json::Line::start(out, level(d), "request");
    line.str("route", d.route.as_deref());
    line.str("provider", d.provider.as_deref());
    line.str("client_ip", Some(IpText::new(d.client_ip).as_str()));
    line.str("outcome", Some(d.outcome.as_str()));
    line.str("error", d.error);
    line.str("detail", d.detail.as_deref());
    line.str("reason", d.reason.as_deref());
    line.u64("status", Some(u64::from(d.status)));
    line.str("event_id", d.event_id.as_deref().map(logged_id).as_deref());
    line.u64("secret_index", d.secret_index.map(|i| i as u64));
    line.f64("latency_ms", Some(millis(d.latency)));
    line.f64("upstream_ms", d.upstream_latency.map(millis));
    line.u64("upstream_status", d.upstream_status.map(u64::from));
    line.finish(TARGET);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_ids_are_logged_as_they_are() {
        let id = "é".repeat(LOGGED_ID_CHARS);
        assert!(matches!(logged_id(&id), Cow::Borrowed(s) if s == id));
        assert!(matches!(logged_id("evt_1"), Cow::Borrowed("evt_1")));
    }

    #[test]
    fn long_ids_are_cut_with_a_hash_of_the_whole() {
        let id = format!("evt_{}", "a".repeat(2_996));
        let digest = ring::digest::digest(&ring::digest::SHA256, id.as_bytes());
        let expected = format!(
            "{}...sha256:{}",
            &id[..LOGGED_ID_CHARS],
            hex::encode(&digest.as_ref()[..16])
        );
        assert_eq!(logged_id(&id), expected);
        // One more character changes the suffix.
        assert_ne!(logged_id(&format!("{id}a")), expected);
        // Multi-byte characters are cut on a character boundary.
        let wide = "é".repeat(LOGGED_ID_CHARS + 1);
        assert!(logged_id(&wide).starts_with(&"é".repeat(LOGGED_ID_CHARS)));
    }

    #[test]
    fn the_audit_line_carries_the_cut_id() {
        let mut d = Decision::new([127, 0, 0, 1].into());
        d.outcome = Outcome::Forwarded;
        d.event_id = Some(format!("evt_{}", "x".repeat(2_996)));
        let mut line = String::new();
        write_json(&d, &mut line);
        let doc: serde_json::Value = serde_json::from_str(&line).unwrap();
        let logged = doc["event_id"].as_str().expect("an event_id field");
        assert_eq!(logged, logged_id(d.event_id.as_deref().unwrap()));
        assert!(line.len() < 600, "{} bytes: {line}", line.len());
    }
}
