//! Prometheus metrics: every metric name hookguard exports is declared here.
//!
//! Requests are recorded from one place, [`Metrics::record`], called by
//! `proxy::handle` with the request's audit [`Decision`]; the same call feeds
//! the in-process [`Report`] behind `/audit/report` and `/secrets`; the
//! decision itself then goes to the [`Recent`] ring behind `/audit/recent`.
//! Labels
//! are bounded: `route` is a configured path (or `unmatched`), `code` one of
//! the fixed error codes (or `none`), `class` an HTTP status class. Gauges
//! that mirror state elsewhere (replay store size) are set at scrape time.
//! Queue mode's `hookguard_spool_*` metrics are apart, in [`SpoolMetrics`];
//! the spool reports its gauges through [`SpoolGauges`], so that metrics
//! depends on nothing above it.

use std::sync::atomic::{AtomicI64, AtomicU64};
use std::sync::{Arc, Mutex, OnceLock, PoisonError};
use std::time::Duration;

use prometheus_client::encoding::{
    text::encode, EncodeLabelSet, EncodeLabelValue, LabelValueEncoder,
};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;

use crate::audit::{Decision, Outcome};
use crate::clock::unix_millis;
use crate::recent::Recent;
use crate::report::Report;

/// Log lines (audit or diagnostic) dropped because the log output fell
/// behind (see `telemetry::batch_writer`). Process-wide, like the log writer
/// it counts for: created before any [`Metrics`], which all expose it.
pub fn log_dropped() -> &'static Counter {
    static DROPPED: OnceLock<Counter> = OnceLock::new();
    DROPPED.get_or_init(Counter::default)
}

/// Route label for requests that matched no route.
pub const UNMATCHED_ROUTE: &str = "unmatched";

/// A route label: the configured path, shared with the app so that labelling
/// a request copies no string.
#[derive(Clone, Debug, Hash, PartialEq, Eq)]
struct RouteName(Arc<str>);

impl EncodeLabelValue for RouteName {
    fn encode(&self, encoder: &mut LabelValueEncoder<'_>) -> std::fmt::Result {
        std::fmt::Write::write_str(encoder, &self.0)
    }
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    route: RouteName,
    outcome: &'static str,
    code: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RouteLabels {
    route: RouteName,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct UpstreamLabels {
    route: RouteName,
    class: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ReloadLabels {
    result: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ProxyRefusedLabels {
    reason: &'static str,
}

/// One route's most used series, taken from their families on first use and
/// kept: a family lookup hashes the whole label set (SipHash) under a lock,
/// which cost more per request than the counting itself. Clones of a
/// prometheus-client metric share its value, so the exposition is the same.
#[derive(Debug, Default)]
pub struct RouteSeries {
    latency: OnceLock<Histogram>,
    upstream_latency: OnceLock<Histogram>,
    forwarded: OnceLock<Counter>,
    upstream_success: OnceLock<Counter>,
}

/// Applies `apply` to the series `labels` names in `family`: through `cache`
/// when the caller has one (filled from the family on first use), else by a
/// family lookup.
fn with_series<S, M, C>(
    family: &Family<S, M, C>,
    cache: Option<&OnceLock<M>>,
    labels: impl FnOnce() -> S,
    apply: impl FnOnce(&M),
) where
    S: Clone + std::hash::Hash + Eq,
    M: Clone,
    C: prometheus_client::metrics::family::MetricConstructor<M>,
{
    match cache {
        Some(cell) => apply(cell.get_or_init(|| family.get_or_create(&labels()).clone())),
        None => apply(&family.get_or_create(&labels())),
    }
}

/// Latency buckets: 1 ms doubling to ~16 s.
fn latency_histogram() -> Histogram {
    Histogram::new(exponential_buckets(0.001, 2.0, 15))
}

/// The process's metrics and request report; lives as long as the process
/// (survives configuration reloads).
pub struct Metrics {
    registry: Registry,
    requests: Family<RequestLabels, Counter>,
    latency: Family<RouteLabels, Histogram>,
    upstream_latency: Family<RouteLabels, Histogram>,
    upstream_status: Family<UpstreamLabels, Counter>,
    replay_entries: Gauge,
    in_flight: Gauge<i64, AtomicI64>,
    reloads: Family<ReloadLabels, Counter>,
    key_fetches: Family<ReloadLabels, Counter>,
    suspicious: Counter,
    proxy_refused: Family<ProxyRefusedLabels, Counter>,
    report: Mutex<Report>,
    last_reload: Mutex<Option<LastReload>>,
    recent: Recent,
    spool: SpoolMetrics,
}

/// The last configuration reload attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LastReload {
    /// When it was attempted, Unix seconds.
    pub at: i64,
    /// Whether the new configuration was applied.
    pub success: bool,
}

/// Reload attempts since start (`hookguard_config_reloads_total`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Reloads {
    /// Applied.
    pub success: u64,
    /// Refused (the previous configuration kept serving).
    pub failure: u64,
    /// The last attempt, if any.
    pub last: Option<LastReload>,
}

/// Decrements the in-flight gauge when the request is done (or dropped).
pub struct InFlight<'a>(&'a Gauge<i64, AtomicI64>);

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.dec();
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

// === impl Metrics ===

impl Metrics {
    /// Registers every metric; keeps no recent decisions.
    pub fn new() -> Self {
        Self::with_recent(0)
    }

    /// Registers every metric, and keeps the last `recent` decisions.
    pub fn with_recent(recent: usize) -> Self {
        let mut registry = Registry::with_prefix("hookguard");
        let requests = Family::<RequestLabels, Counter>::default();
        registry.register(
            "requests",
            "Requests by route, outcome and error code",
            requests.clone(),
        );
        let latency = Family::<RouteLabels, Histogram>::new_with_constructor(
            latency_histogram as fn() -> Histogram,
        );
        registry.register(
            "request_duration_seconds",
            "Time from request head to response head",
            latency.clone(),
        );
        let upstream_latency = Family::<RouteLabels, Histogram>::new_with_constructor(
            latency_histogram as fn() -> Histogram,
        );
        registry.register(
            "upstream_duration_seconds",
            "Time waiting for the upstream's response head",
            upstream_latency.clone(),
        );
        let upstream_status = Family::<UpstreamLabels, Counter>::default();
        registry.register(
            "upstream_responses",
            "Upstream answers by status class",
            upstream_status.clone(),
        );
        let replay_entries = Gauge::default();
        registry.register(
            "replay_store_entries",
            "Keys held by the de-duplication store",
            replay_entries.clone(),
        );
        let in_flight = Gauge::<i64, AtomicI64>::default();
        registry.register(
            "in_flight_requests",
            "Requests being handled right now",
            in_flight.clone(),
        );
        let reloads = Family::<ReloadLabels, Counter>::default();
        registry.register(
            "config_reloads",
            "Configuration reloads by result (success, failure)",
            reloads.clone(),
        );
        let key_fetches = Family::<ReloadLabels, Counter>::default();
        registry.register(
            "key_fetch",
            "Fetches of keys and certificates from providers, by result (success, failure)",
            key_fetches.clone(),
        );
        let suspicious = Counter::default();
        registry.register(
            "suspicious_sources",
            "Times a client IP crossed the failed-verification threshold",
            suspicious.clone(),
        );
        let proxy_refused = Family::<ProxyRefusedLabels, Counter>::default();
        registry.register(
            "proxy_protocol_refused",
            "Connections closed before HTTP for their PROXY header, by reason \
             (untrusted_peer, malformed, timeout)",
            proxy_refused.clone(),
        );
        registry.register(
            "log_dropped",
            "Log lines dropped because the log output fell behind",
            log_dropped().clone(),
        );
        let spool = SpoolMetrics::register(registry.sub_registry_with_prefix("spool"));
        Self {
            registry,
            requests,
            latency,
            upstream_latency,
            upstream_status,
            replay_entries,
            in_flight,
            reloads,
            key_fetches,
            suspicious,
            proxy_refused,
            report: Mutex::new(Report::default()),
            last_reload: Mutex::new(None),
            recent: Recent::new(recent),
            spool,
        }
    }

    /// Queue-mode (spool) metrics.
    pub fn spool(&self) -> &SpoolMetrics {
        &self.spool
    }

    /// Records one finished request from its audit decision; `series` is
    /// the matched route's cache (none for unmatched requests).
    pub fn record(&self, d: &Decision, series: Option<&RouteSeries>) {
        let route = || RouteName(d.route.clone().unwrap_or_else(|| UNMATCHED_ROUTE.into()));
        let request_labels = || RequestLabels {
            route: route(),
            outcome: d.outcome.as_str(),
            code: d.error.unwrap_or("none"),
        };
        let by_route = || RouteLabels { route: route() };
        let forwarded = series.filter(|_| d.outcome == Outcome::Forwarded && d.error.is_none());
        with_series(
            &self.requests,
            forwarded.map(|s| &s.forwarded),
            request_labels,
            |c| {
                c.inc();
            },
        );
        with_series(&self.latency, series.map(|s| &s.latency), by_route, |h| {
            h.observe(d.latency.as_secs_f64())
        });
        if let Some(l) = d.upstream_latency {
            with_series(
                &self.upstream_latency,
                series.map(|s| &s.upstream_latency),
                by_route,
                |h| h.observe(l.as_secs_f64()),
            );
        }
        if let Some(status) = d.upstream_status {
            let class = status_class(status);
            with_series(
                &self.upstream_status,
                series
                    .filter(|_| class == "2xx")
                    .map(|s| &s.upstream_success),
                || UpstreamLabels {
                    route: route(),
                    class,
                },
                |c| {
                    c.inc();
                },
            );
        }
        if let Ok(mut report) = self.report.lock() {
            report.record(d, time::OffsetDateTime::now_utc().unix_timestamp());
        }
    }

    /// The last decisions (`[admin] recent`): [`Metrics::record`] reads a
    /// decision, then the caller moves it here once it is logged.
    pub fn recent(&self) -> &Recent {
        &self.recent
    }

    /// Counts a request as in flight until the guard is dropped.
    pub fn in_flight(&self) -> InFlight<'_> {
        self.in_flight.inc();
        InFlight(&self.in_flight)
    }

    /// Counts a connection closed for its PROXY header (`reason`: one of
    /// a fixed few).
    pub fn proxy_protocol_refused(&self, reason: &'static str) {
        let labels = ProxyRefusedLabels { reason };
        self.proxy_refused.get_or_create(&labels).inc();
    }

    /// Counts a configuration reload attempt.
    pub fn reload(&self, success: bool) {
        let result = if success { "success" } else { "failure" };
        self.reloads.get_or_create(&ReloadLabels { result }).inc();
        let at = time::OffsetDateTime::now_utc().unix_timestamp();
        *self
            .last_reload
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = Some(LastReload { at, success });
    }

    /// Reload attempts since start, by result, and the last one.
    pub fn reloads(&self) -> Reloads {
        let count = |result| self.reloads.get_or_create(&ReloadLabels { result }).get();
        Reloads {
            success: count("success"),
            failure: count("failure"),
            last: *self
                .last_reload
                .lock()
                .unwrap_or_else(PoisonError::into_inner),
        }
    }

    /// Counts a key fetch by `result` (`success`, `failure`).
    pub fn key_fetch(&self, result: &'static str) {
        self.key_fetches
            .get_or_create(&ReloadLabels { result })
            .inc();
    }

    /// Key fetches so far with `result` (tests, status).
    pub fn key_fetches(&self, result: &'static str) -> u64 {
        self.key_fetches
            .get_or_create(&ReloadLabels { result })
            .get()
    }

    /// Counts an IP crossing the suspicious threshold.
    pub fn suspicious_source(&self) {
        self.suspicious.inc();
    }

    /// Runs `f` on the request report (for the admin endpoints).
    pub fn with_report<T>(&self, f: impl FnOnce(&Report) -> T) -> T {
        match self.report.lock() {
            Ok(r) => f(&r),
            Err(poisoned) => f(&poisoned.into_inner()),
        }
    }

    /// The Prometheus text exposition, with scrape-time gauges set first.
    pub fn encode(&self, replay_entries: usize) -> String {
        self.replay_entries
            .set(i64::try_from(replay_entries).unwrap_or(i64::MAX));
        let mut out = String::new();
        if encode(&mut out, &self.registry).is_err() {
            out.clear();
        }
        out
    }

    /// Current value of the in-flight gauge (tests).
    pub fn in_flight_now(&self) -> i64 {
        self.in_flight.get()
    }
}

fn status_class(status: u16) -> &'static str {
    match status {
        100..=199 => "1xx",
        200..=299 => "2xx",
        300..=399 => "3xx",
        400..=499 => "4xx",
        _ => "5xx",
    }
}

// === Queue mode: hookguard_spool_* ===

/// Delivery latency buckets (accept → 2xx): 1 ms, ×4 each, to ~18.6 h;
/// a delivery can wait for retries for days (`retry.max_age`).
fn delivery_histogram() -> Histogram {
    Histogram::new(exponential_buckets(0.001, 4.0, 14))
}

/// The queue's state as the spool gauges show it, read at scrape time.
/// Implemented by the spool; a trait here so that metrics needs nothing
/// from the spool (which counts its deliveries here).
pub trait SpoolGauges {
    /// Each route with records in the spool.
    fn route_gauges(&self) -> Vec<RouteGauges>;
    /// Bytes counted against `[spool] max_size`.
    fn used_bytes(&self) -> u64;
}

/// One route's queue, at scrape time.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RouteGauges {
    /// The record's route path.
    pub route: String,
    /// Records waiting for delivery, in flight included.
    pub pending: u64,
    /// Dead letters held.
    pub dead: u64,
    /// When the oldest pending record was received (Unix ms).
    pub oldest_received_ms: Option<i64>,
}

/// Queue-mode metrics, per route (`route` is the record's route path, also
/// for records of a route since removed from the configuration). The
/// worker counts attempts and outcomes as they happen; the gauges mirror
/// the spool and are set at scrape time by [`SpoolMetrics::observe`].
pub struct SpoolMetrics {
    pending: Family<RouteLabels, Gauge>,
    oldest_pending_age: Family<RouteLabels, Gauge<f64, AtomicU64>>,
    dead_letters: Family<RouteLabels, Gauge>,
    used_bytes: Gauge,
    attempts: Family<RouteLabels, Counter>,
    delivered: Family<RouteLabels, Counter>,
    dead_lettered: Family<RouteLabels, Counter>,
    delivery_latency: Family<RouteLabels, Histogram>,
}

// === impl SpoolMetrics ===

impl SpoolMetrics {
    /// Registers every spool metric in `registry` (prefix `hookguard_spool`).
    fn register(registry: &mut Registry) -> Self {
        let this = Self {
            pending: Family::default(),
            oldest_pending_age: Family::default(),
            dead_letters: Family::default(),
            used_bytes: Gauge::default(),
            attempts: Family::default(),
            delivered: Family::default(),
            dead_lettered: Family::default(),
            delivery_latency: Family::new_with_constructor(delivery_histogram as fn() -> Histogram),
        };
        registry.register(
            "pending",
            "Records waiting for delivery, in flight included (queue depth)",
            this.pending.clone(),
        );
        registry.register(
            "oldest_pending_age_seconds",
            "Age of the oldest pending record (0 when none)",
            this.oldest_pending_age.clone(),
        );
        registry.register(
            "dead_letters",
            "Dead letters held",
            this.dead_letters.clone(),
        );
        registry.register(
            "used_bytes",
            "Bytes counted against [spool] max_size",
            this.used_bytes.clone(),
        );
        registry.register("attempts", "Delivery attempts made", this.attempts.clone());
        registry.register(
            "delivered",
            "Records delivered (upstream answered 2xx)",
            this.delivered.clone(),
        );
        registry.register(
            "dead_lettered",
            "Records turned into dead letters",
            this.dead_lettered.clone(),
        );
        registry.register(
            "delivery_duration_seconds",
            "Time from acceptance (202) to the upstream's 2xx",
            this.delivery_latency.clone(),
        );
        this
    }

    /// Counts a delivery attempt on `route`.
    pub fn attempt(&self, route: &str) {
        self.attempts.get_or_create(&route_labels(route)).inc();
    }

    /// Counts a delivered record of `route`, `latency` after it was accepted.
    pub fn delivered(&self, route: &str, latency: Duration) {
        let labels = route_labels(route);
        self.delivered.get_or_create(&labels).inc();
        self.delivery_latency
            .get_or_create(&labels)
            .observe(latency.as_secs_f64());
    }

    /// Counts a record of `route` that became a dead letter.
    pub fn dead_lettered(&self, route: &str) {
        self.dead_lettered.get_or_create(&route_labels(route)).inc();
    }

    /// Sets the gauges from the spool (at scrape time); O(routes).
    pub fn observe(&self, spool: &impl SpoolGauges) {
        let now = unix_millis();
        for stats in spool.route_gauges() {
            let labels = route_labels(&stats.route);
            let age_ms = stats.oldest_received_ms.map_or(0, |at| (now - at).max(0));
            self.pending
                .get_or_create(&labels)
                .set(i64::try_from(stats.pending).unwrap_or(i64::MAX));
            self.dead_letters
                .get_or_create(&labels)
                .set(i64::try_from(stats.dead).unwrap_or(i64::MAX));
            self.oldest_pending_age
                .get_or_create(&labels)
                .set(age_ms as f64 / 1000.0);
        }
        self.used_bytes
            .set(i64::try_from(spool.used_bytes()).unwrap_or(i64::MAX));
    }
}

fn route_labels(route: &str) -> RouteLabels {
    RouteLabels {
        route: RouteName(Arc::from(route)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decision(route: Option<&str>, outcome: Outcome, error: Option<&'static str>) -> Decision {
        let mut d = Decision::new("127.0.0.1".parse().unwrap());
        d.route = route.map(Arc::from);
        d.outcome = outcome;
        d.error = error;
        d.latency = Duration::from_millis(3);
        if outcome == Outcome::Forwarded {
            d.upstream_latency = Some(Duration::from_millis(2));
            d.upstream_status = Some(200);
        }
        d
    }

    fn line<'a>(text: &'a str, prefix: &str) -> &'a str {
        text.lines()
            .find(|l| l.starts_with(prefix))
            .unwrap_or_else(|| panic!("no {prefix} in\n{text}"))
    }

    #[test]
    fn cached_route_series_count_in_the_same_families() {
        let metrics = Metrics::new();
        let series = RouteSeries::default();
        let forwarded = decision(Some("/a"), Outcome::Forwarded, None);
        let rejected = decision(Some("/a"), Outcome::Rejected, Some("invalid_signature"));
        for _ in 0..3 {
            metrics.record(&forwarded, Some(&series));
        }
        metrics.record(&rejected, Some(&series));
        // The same route through the families directly (no cache): one series.
        metrics.record(&forwarded, None);
        metrics.record(&decision(None, Outcome::Rejected, Some("no_route")), None);
        let text = metrics.encode(0);
        let requests = |labels: &str| {
            line(&text, &format!("hookguard_requests_total{{{labels}}} "))
                .rsplit(' ')
                .next()
                .unwrap()
                .to_owned()
        };
        assert_eq!(
            requests(r#"route="/a",outcome="forwarded",code="none""#),
            "4"
        );
        assert_eq!(
            requests(r#"route="/a",outcome="rejected",code="invalid_signature""#),
            "1"
        );
        assert_eq!(
            requests(r#"route="unmatched",outcome="rejected",code="no_route""#),
            "1"
        );
        assert!(line(
            &text,
            r#"hookguard_request_duration_seconds_count{route="/a"}"#
        )
        .ends_with(" 5"));
        assert!(line(
            &text,
            r#"hookguard_upstream_duration_seconds_count{route="/a"}"#
        )
        .ends_with(" 4"));
        assert!(line(
            &text,
            r#"hookguard_upstream_responses_total{route="/a",class="2xx"}"#
        )
        .ends_with(" 4"));
    }

    /// A spool as the gauges see it: no spool needed to test them.
    struct FakeSpool(Vec<RouteGauges>);

    impl SpoolGauges for FakeSpool {
        fn route_gauges(&self) -> Vec<RouteGauges> {
            self.0.clone()
        }
        fn used_bytes(&self) -> u64 {
            4096
        }
    }

    #[test]
    fn spool_gauges_are_set_from_what_the_spool_reports() {
        let metrics = Metrics::new();
        let spool = FakeSpool(vec![RouteGauges {
            route: "/q".into(),
            pending: 3,
            dead: 1,
            oldest_received_ms: Some(unix_millis() - 10_000),
        }]);
        metrics.spool().observe(&spool);
        let text = metrics.encode(0);
        assert!(line(&text, r#"hookguard_spool_pending{route="/q"}"#).ends_with(" 3"));
        assert!(line(&text, r#"hookguard_spool_dead_letters{route="/q"}"#).ends_with(" 1"));
        assert!(line(&text, "hookguard_spool_used_bytes").ends_with(" 4096"));
        let age = line(
            &text,
            r#"hookguard_spool_oldest_pending_age_seconds{route="/q"}"#,
        )
        .rsplit(' ')
        .next()
        .unwrap()
        .parse::<f64>()
        .unwrap();
        assert!(age >= 10.0, "{age}");
    }
}
