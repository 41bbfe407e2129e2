//! The delivery worker: takes pending spool records to their route's
//! upstream, exactly as forward mode would send them, until they succeed or
//! become dead letters.
//!
//! One scheduler task picks due records (per-route concurrency limit;
//! `ordered` routes one at a time, oldest first) and spawns one delivery
//! task each. It sleeps until the earliest next attempt or until woken by an
//! append, a finished delivery, a retry request or a reload. Records left by
//! a previous run are simply pending records: that is crash recovery.
//!
//! Routes come from the current configuration at each pass (what
//! [`Worker::config`] returns, which a reload changes), so a reloaded
//! route's upstream, timeout and retry policy apply from the next attempt
//! on; an attempt already under way finishes with the route it started with.
//!
//! Each attempt gets its receipt (`[receipt]`) signed when it is made,
//! with the same message id every time.
//!
//! The worker sends through the `upstream` layer, as the proxy does, and
//! knows nothing of the proxy: `runtime` hands it what it needs.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use http::header::{HeaderName, HeaderValue, RETRY_AFTER};
use http::{HeaderMap, Method, Request, StatusCode, Uri};
use http_body_util::BodyExt;
use ring::rand::SecureRandom;
use tokio::task::JoinHandle;

use super::sched::Policy;
use super::store::{Claimed, Meta, Spool, State};
use crate::body::Payload;
use crate::clock::unix_millis;
use crate::config::{Config, Delivery, RetryPolicy, Route};
use crate::metrics::{Metrics, SpoolMetrics};
use crate::receipt::{self, Receipt};
use crate::upstream::headers::{X_HOOKGUARD_ATTEMPT, X_HOOKGUARD_EVENT_ID};
use crate::upstream::{upstream_uri, UpstreamClient};

/// Deliveries in flight at once per route (unordered routes).
pub(crate) const ROUTE_CONCURRENCY: usize = 8;
/// Pause after the spool failed to record an outcome (storage trouble).
const STORAGE_PAUSE: Duration = Duration::from_secs(5);
/// Longest the scheduler sleeps without a reason (a safety net only).
const IDLE: Duration = Duration::from_secs(60);

/// The configuration in force now (a reload replaces it).
pub(crate) type CurrentConfig = Box<dyn Fn() -> Arc<Config> + Send + Sync>;

/// What the delivery worker works with; built by `runtime`.
pub(crate) struct Worker {
    /// The spool it delivers from.
    pub(crate) spool: Arc<Spool>,
    /// The upstream client (shared with forward mode).
    pub(crate) client: UpstreamClient,
    /// Where attempts, deliveries and dead letters are counted.
    pub(crate) metrics: Arc<Metrics>,
    /// The route table at each pass.
    pub(crate) config: CurrentConfig,
}

/// Starts the scheduler for the queue-mode routes of the current
/// configuration.
pub(crate) fn start(worker: Worker) -> JoinHandle<()> {
    let worker = Arc::new(worker);
    tokio::spawn(async move {
        loop {
            let wake = worker.spool.wake.notified();
            let next = schedule(&worker);
            let sleep = next.map_or(IDLE, |at| {
                Duration::from_millis(u64::try_from(at - unix_millis()).unwrap_or(0))
            });
            tokio::select! {
                () = wake => {}
                () = tokio::time::sleep(sleep.min(IDLE)) => {}
            }
        }
    })
}

/// How many deliveries a route may have in flight.
fn policy(route: &Route) -> Policy {
    if route.ordered {
        Policy::Ordered
    } else {
        Policy::Concurrent(ROUTE_CONCURRENCY)
    }
}

/// Spawns every delivery that is due and allowed; returns the earliest
/// future attempt time among records it had to leave waiting. Records of
/// routes that are not (or no longer) queue routes stay in the spool until
/// restored or purged.
fn schedule(worker: &Arc<Worker>) -> Option<i64> {
    let config = (worker.config)();
    let queued: Vec<(usize, &Route)> = config
        .routes
        .iter()
        .enumerate()
        .filter(|(_, r)| r.delivery == Delivery::Queue)
        .collect();
    let policies: Vec<(&str, Policy)> = queued
        .iter()
        .map(|(_, r)| (r.path.as_str(), policy(r)))
        .collect();
    let (due, next) = worker.spool.claim_due(&policies, unix_millis());
    for Claimed { route, id, meta } in due {
        let index = queued[route].0;
        let (worker, config) = (Arc::clone(worker), Arc::clone(&config));
        tokio::spawn(async move {
            let route = &config.routes[index];
            let spool = &worker.spool;
            let target = Target {
                route,
                receipt: config.receipt_for(route),
            };
            deliver(
                spool,
                worker.metrics.spool(),
                target,
                &worker.client,
                id,
                meta,
            )
            .await;
            spool.release(id, &route.path);
            spool.wake.notify_one();
        });
    }
    next
}

/// Where an attempt goes and how it is signed: the record's route and the
/// receipt it gets, from the configuration in force when it started.
#[derive(Clone, Copy)]
struct Target<'a> {
    route: &'a Route,
    receipt: Option<&'a Receipt>,
}

/// What one attempt came to.
struct Attempt {
    status: Option<u16>,
    error: Option<String>,
    retry_after: Option<Duration>,
}

/// Makes one delivery attempt and records its outcome in the spool.
async fn deliver(
    spool: &Spool,
    metrics: &SpoolMetrics,
    target: Target<'_>,
    client: &UpstreamClient,
    id: u64,
    meta: Arc<Meta>,
) {
    let route = target.route;
    let number = meta.attempts + 1;
    spool.counters.attempts.fetch_add(1, Ordering::Relaxed);
    metrics.attempt(&route.path);
    let attempt = match build_request(spool, target, id, &meta, number) {
        Ok(req) => send(client, req, route.upstream.timeout).await,
        Err(error) => Attempt {
            status: None,
            error: Some(error),
            retry_after: None,
        },
    };
    if attempt.status.is_some_and(|s| (200..300).contains(&s)) {
        let latency = u64::try_from(unix_millis() - meta.received_at_ms).unwrap_or(0);
        metrics.delivered(&route.path, Duration::from_millis(latency));
        spool.counters.delivered.fetch_add(1, Ordering::Relaxed);
        spool
            .counters
            .latency_ms_sum
            .fetch_add(latency, Ordering::Relaxed);
        if let Err(e) = spool.delivered(id, &meta.route, STORAGE_PAUSE).await {
            // Still on disk: it will be delivered again (at least once).
            tracing::error!(target: "spool", id, error = %e, "cannot remove delivered record");
        }
        return;
    }
    let mut meta = Arc::unwrap_or_clone(meta);
    meta.attempts = number;
    meta.last_status = attempt.status;
    meta.last_error = attempt.error;
    let now = unix_millis();
    let delay = backoff(&route.retry, meta.attempts, attempt.retry_after);
    let next = now.saturating_add(i64::try_from(delay.as_millis()).unwrap_or(i64::MAX));
    let age_limit = meta
        .received_at_ms
        .saturating_add(i64::try_from(route.retry.max_age.as_millis()).unwrap_or(i64::MAX));
    let permanent = attempt.status.is_some_and(is_permanent);
    if permanent || meta.attempts >= route.retry.max_attempts || next > age_limit {
        meta.state = State::Dead;
        spool.counters.dead_lettered.fetch_add(1, Ordering::Relaxed);
        metrics.dead_lettered(&route.path);
        tracing::warn!(
            target: "spool",
            id,
            event_id = %crate::audit::logged_id(&meta.event_id),
            route = %meta.route,
            attempts = meta.attempts,
            status = meta.last_status,
            "delivery failed permanently: dead letter"
        );
    } else {
        meta.next_attempt_ms = next;
    }
    if let Err(e) = spool.record_attempt(id, meta).await {
        tracing::error!(target: "spool", id, error = %e, "cannot record delivery attempt");
        // The record is unchanged and due again: do not hammer the upstream.
        tokio::time::sleep(STORAGE_PAUSE).await;
    }
}

/// The upstream request, byte for byte what forward mode sends, plus the
/// event id and attempt `number`; its receipt signed now, with the same
/// message id on every attempt.
fn build_request(
    spool: &Spool,
    target: Target<'_>,
    id: u64,
    meta: &Meta,
    number: u32,
) -> Result<Request<Payload>, String> {
    let route = target.route;
    let body = Payload::from(spool.body(id).map_err(|e| e.to_string())?);
    let request_uri: Uri = meta
        .path_and_query
        .parse()
        .map_err(|e| format!("stored uri: {e}"))?;
    let uri = upstream_uri(
        &route.upstream.url,
        route.upstream_path_override,
        &request_uri,
    )
    .map_err(|e| format!("upstream uri: {e}"))?;
    let method = Method::from_bytes(meta.method.as_bytes()).map_err(|e| e.to_string())?;
    let mut headers = HeaderMap::with_capacity(meta.headers.len() + 2);
    for (name, value) in &meta.headers {
        let name = HeaderName::from_bytes(name.as_bytes()).map_err(|e| e.to_string())?;
        let value = HeaderValue::from_bytes(value).map_err(|e| e.to_string())?;
        headers.append(name, value);
    }
    if let Ok(v) = HeaderValue::from_str(&meta.event_id) {
        headers.insert(X_HOOKGUARD_EVENT_ID, v);
    }
    headers.insert(X_HOOKGUARD_ATTEMPT, HeaderValue::from(number));
    if let Some(receipt) = target.receipt {
        let message_id = receipt::spool_message_id(&meta.event_id, meta.received_at_ms, id);
        receipt.apply(&mut headers, &message_id, unix_millis() / 1000, &body);
    }
    let mut req = Request::new(body);
    *req.method_mut() = method;
    *req.uri_mut() = uri;
    *req.headers_mut() = headers;
    Ok(req)
}

async fn send(client: &UpstreamClient, req: Request<Payload>, timeout: Duration) -> Attempt {
    match client.send(req, timeout).await {
        Ok(resp) => {
            let status = resp.status();
            let retry_after = if matches!(
                status,
                StatusCode::TOO_MANY_REQUESTS | StatusCode::SERVICE_UNAVAILABLE
            ) {
                resp.headers()
                    .get(RETRY_AFTER)
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| v.trim().parse::<u64>().ok())
                    .map(Duration::from_secs)
            } else {
                None
            };
            // Read the answer (bounded in time) so the connection is reused.
            #[allow(
                clippy::disallowed_methods,
                reason = "the answer of the operator's own upstream, bounded in time only"
            )]
            let _ = tokio::time::timeout(timeout, resp.into_body().collect()).await;
            Attempt {
                status: Some(status.as_u16()),
                error: (!status.is_success()).then(|| format!("upstream answered {status}")),
                retry_after,
            }
        }
        Err(e) => Attempt {
            status: None,
            error: Some(e.to_string()),
            retry_after: None,
        },
    }
}

/// 4xx other than 408 and 429 will not get better by retrying.
fn is_permanent(status: u16) -> bool {
    (400..500).contains(&status) && status != 408 && status != 429
}

/// Exponential backoff with full jitter: uniform in `[0, min(cap, base·2^(n-1))]`,
/// and never shorter than the upstream's `Retry-After`.
pub(crate) fn backoff(
    policy: &RetryPolicy,
    attempts: u32,
    retry_after: Option<Duration>,
) -> Duration {
    let exp = attempts.saturating_sub(1).min(32);
    let ceiling = policy
        .base
        .checked_mul(1u32 << exp.min(31))
        .unwrap_or(policy.cap)
        .min(policy.cap);
    let jittered = ceiling.mul_f64(random_unit());
    retry_after.map_or(jittered, |ra| jittered.max(ra))
}

/// A uniform random number in `[0, 1)`.
fn random_unit() -> f64 {
    let mut bytes = [0u8; 8];
    if ring::rand::SystemRandom::new().fill(&mut bytes).is_err() {
        return 1.0 - f64::EPSILON; // no randomness: plain exponential backoff
    }
    (u64::from_le_bytes(bytes) >> 11) as f64 / (1u64 << 53) as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy() -> RetryPolicy {
        RetryPolicy {
            base: Duration::from_secs(1),
            cap: Duration::from_secs(600),
            max_attempts: 12,
            max_age: Duration::from_secs(3 * 86_400),
        }
    }

    #[test]
    fn backoff_is_jittered_under_the_exponential_ceiling() {
        for attempts in 1..=40 {
            let ceiling = Duration::from_secs(1u64 << (attempts - 1).min(20)).min(policy().cap);
            for _ in 0..50 {
                assert!(backoff(&policy(), attempts, None) <= ceiling);
            }
        }
        let spread: std::collections::HashSet<Duration> =
            (0..20).map(|_| backoff(&policy(), 10, None)).collect();
        assert!(spread.len() > 1, "full jitter varies the delay");
    }

    #[test]
    fn retry_after_is_a_minimum() {
        let ra = Duration::from_secs(30);
        for _ in 0..50 {
            assert!(backoff(&policy(), 1, Some(ra)) >= ra);
        }
    }

    #[test]
    fn permanent_statuses() {
        assert!(is_permanent(400) && is_permanent(404) && is_permanent(410));
        assert!(!is_permanent(408) && !is_permanent(429));
        assert!(!is_permanent(500) && !is_permanent(503) && !is_permanent(302));
    }
}
