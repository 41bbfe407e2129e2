//! The in-process request report behind `GET /audit/report` and the secret
//! usage behind `GET /secrets`: counts since start, per route (by outcome,
//! by error code, upstream errors, a latency histogram for p50/p99) and per
//! error code, rings of 24 hourly and 60 per-minute buckets (the status
//! page's chart), and per (route, secret index) match counts.
//!
//! Fed only by `Metrics::record`. Memory is bounded: routes and codes come
//! from the configuration and the fixed code set, the rings have fixed slots.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde::Serialize;

use crate::audit::{Decision, Outcome};

/// Hourly buckets kept (the last 24 hours).
pub const HOURS: usize = 24;

/// Per-minute buckets kept (the last hour).
pub const MINUTES: usize = 60;

/// Request counts by outcome.
#[derive(Debug, Clone, Copy, Default, Serialize, PartialEq, Eq)]
pub struct Counts {
    /// All requests.
    pub total: u64,
    /// Verified and forwarded.
    pub forwarded: u64,
    /// Verified duplicates answered by the proxy.
    pub duplicate: u64,
    /// Provider handshakes answered by the proxy.
    pub handshake: u64,
    /// Refused.
    pub rejected: u64,
    /// Stored durably for queue delivery (202).
    pub queued: u64,
}

impl Counts {
    fn add(&mut self, outcome: Outcome) {
        self.total += 1;
        match outcome {
            Outcome::Forwarded => self.forwarded += 1,
            Outcome::Duplicate => self.duplicate += 1,
            Outcome::Handshake => self.handshake += 1,
            Outcome::Rejected => self.rejected += 1,
            Outcome::Queued => self.queued += 1,
        }
    }

    /// Share of requests not rejected, 0..=1 (1 when there were none).
    pub fn success_rate(&self) -> f64 {
        if self.total == 0 {
            1.0
        } else {
            (self.total - self.rejected) as f64 / self.total as f64
        }
    }
}

/// Use of one secret of one route.
#[derive(Debug, Clone, Copy, Default)]
pub struct SecretUse {
    /// Requests this secret verified.
    pub matched: u64,
    /// When it last verified one (Unix seconds).
    pub last_matched: Option<i64>,
}

/// One slot of a time ring: the counts of one period.
#[derive(Debug, Clone, Copy, Default)]
struct Period {
    /// Period number (`unix_secs / period length`) this slot currently holds.
    number: i64,
    counts: Counts,
}

/// A ring of `N` periods of `SECS` seconds each: the last `N` of them.
#[derive(Debug, Clone, Copy)]
struct Periods<const N: usize, const SECS: i64>([Period; N]);

impl<const N: usize, const SECS: i64> Default for Periods<N, SECS> {
    fn default() -> Self {
        Self([Period::default(); N])
    }
}

impl<const N: usize, const SECS: i64> Periods<N, SECS> {
    fn add(&mut self, now: i64, outcome: Outcome) {
        let number = now.div_euclid(SECS);
        let slot = &mut self.0[slot_of(number, N)];
        if slot.number != number {
            *slot = Period {
                number,
                counts: Counts::default(),
            };
        }
        slot.counts.add(outcome);
    }

    /// The last `N` periods up to `now`, oldest first, labelled `key` with
    /// their start time.
    fn series(&self, now: i64, key: &str) -> Vec<serde_json::Value> {
        let current = now.div_euclid(SECS);
        (0..N as i64)
            .rev()
            .map(|ago| {
                let number = current - ago;
                let slot = &self.0[slot_of(number, N)];
                let counts = if slot.number == number {
                    slot.counts
                } else {
                    Counts::default()
                };
                let start = crate::clock::rfc3339(number * SECS).unwrap_or_default();
                serde_json::json!({ key: start, "counts": counts })
            })
            .collect()
    }
}

fn slot_of(number: i64, slots: usize) -> usize {
    usize::try_from(number.rem_euclid(slots as i64)).unwrap_or(0)
}

/// Upper bounds of the latency buckets, in microseconds: 1 ms doubling to
/// about 16 s, as `hookguard_request_duration_seconds`; one more bucket
/// holds the slower requests.
const LATENCY_BOUNDS_US: [u64; 15] = {
    let mut bounds = [0; 15];
    let mut i = 0;
    while i < 15 {
        bounds[i] = 1000 << i;
        i += 1;
    }
    bounds
};

/// A latency histogram over [`LATENCY_BOUNDS_US`], for p50 and p99.
#[derive(Debug, Clone, Copy, Default)]
struct Latency {
    buckets: [u64; LATENCY_BOUNDS_US.len() + 1],
}

impl Latency {
    fn observe(&mut self, latency: std::time::Duration) {
        let us = u64::try_from(latency.as_micros()).unwrap_or(u64::MAX);
        let bucket = LATENCY_BOUNDS_US
            .iter()
            .position(|&bound| us <= bound)
            .unwrap_or(LATENCY_BOUNDS_US.len());
        self.buckets[bucket] += 1;
    }

    /// The `q` quantile in milliseconds, interpolated within its bucket as
    /// Prometheus' `histogram_quantile` does; the last bound when it falls
    /// among the slowest; `None` before any request.
    fn quantile_ms(&self, q: f64) -> Option<f64> {
        let total: u64 = self.buckets.iter().sum();
        if total == 0 {
            return None;
        }
        let rank = q * total as f64;
        let mut below = 0u64;
        for (i, &count) in self.buckets.iter().enumerate() {
            let Some(&upper) = LATENCY_BOUNDS_US.get(i) else {
                break;
            };
            if count > 0 && (below + count) as f64 >= rank {
                let lower = if i == 0 { 0 } else { LATENCY_BOUNDS_US[i - 1] };
                let within = (rank - below as f64) / count as f64;
                let us = lower as f64 + (upper - lower) as f64 * within;
                return Some(us.round() / 1000.0);
            }
            below += count;
        }
        Some(LATENCY_BOUNDS_US[LATENCY_BOUNDS_US.len() - 1] as f64 / 1000.0)
    }
}

/// What the report keeps per route.
#[derive(Debug, Clone, Default)]
struct RouteStats {
    counts: Counts,
    by_code: BTreeMap<&'static str, u64>,
    /// The upstream could not be reached, timed out, or answered 5xx.
    upstream_errors: u64,
    latency: Latency,
}

impl RouteStats {
    fn add(&mut self, d: &Decision) {
        self.counts.add(d.outcome);
        if let Some(code) = d.error {
            *self.by_code.entry(code).or_default() += 1;
        }
        let unanswered = matches!(d.error, Some("upstream_unreachable" | "upstream_timeout"));
        if unanswered || d.upstream_status.is_some_and(|s| s >= 500) {
            self.upstream_errors += 1;
        }
        self.latency.observe(d.latency);
    }

    fn to_json(&self) -> serde_json::Value {
        serde_json::json!({
            "counts": self.counts,
            "success_rate": self.counts.success_rate(),
            "failures_by_code": self.by_code,
            "upstream_errors": self.upstream_errors,
            "latency_ms": {
                "p50": self.latency.quantile_ms(0.5),
                "p99": self.latency.quantile_ms(0.99),
            },
        })
    }
}

/// Aggregates since process start.
#[derive(Debug, Default)]
pub struct Report {
    totals: Counts,
    by_code: BTreeMap<&'static str, u64>,
    routes: BTreeMap<Arc<str>, RouteStats>,
    hours: Periods<HOURS, 3600>,
    minutes: Periods<MINUTES, 60>,
    secrets: BTreeMap<(Arc<str>, usize), SecretUse>,
}

// === impl Report ===

impl Report {
    /// Adds one request decided at `now` (Unix seconds).
    pub fn record(&mut self, d: &Decision, now: i64) {
        self.totals.add(d.outcome);
        if let Some(code) = d.error {
            *self.by_code.entry(code).or_default() += 1;
        }
        if let Some(route) = &d.route {
            self.routes.entry(Arc::clone(route)).or_default().add(d);
            if let Some(i) = d.secret_index {
                let used = self.secrets.entry((Arc::clone(route), i)).or_default();
                used.matched += 1;
                used.last_matched = Some(now);
            }
        }
        self.hours.add(now, d.outcome);
        self.minutes.add(now, d.outcome);
    }

    /// Usage of secret `index` of `route`.
    pub fn secret_use(&self, route: &str, index: usize) -> SecretUse {
        self.secrets
            .get(&(Arc::from(route), index))
            .copied()
            .unwrap_or_default()
    }

    /// The report as JSON (without suspicious IPs, which the caller adds).
    pub fn to_json(&self, now: i64) -> serde_json::Value {
        let routes: BTreeMap<_, _> = self
            .routes
            .iter()
            .map(|(path, stats)| (path.to_string(), stats.to_json()))
            .collect();
        serde_json::json!({
            "totals": self.totals,
            "success_rate": self.totals.success_rate(),
            "failures_by_code": self.by_code,
            "routes": routes,
            "hourly": self.hours.series(now, "hour"),
            "minutely": self.minutes.series(now, "minute"),
        })
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn decision(route: &str, outcome: Outcome, error: Option<&'static str>) -> Decision {
        let mut d = Decision::new([127, 0, 0, 1].into());
        d.route = Some(route.into());
        d.outcome = outcome;
        d.error = error;
        if outcome == Outcome::Forwarded {
            d.secret_index = Some(1);
        }
        d
    }

    #[test]
    fn counts_hours_and_secrets() {
        let mut r = Report::default();
        let t0 = 1_700_000_000;
        r.record(&decision("/a", Outcome::Forwarded, None), t0);
        r.record(
            &decision("/a", Outcome::Rejected, Some("invalid_signature")),
            t0,
        );
        r.record(&decision("/b", Outcome::Forwarded, None), t0 + 3600);
        let json = r.to_json(t0 + 3600);
        assert_eq!(json["totals"]["total"], 3);
        assert_eq!(json["failures_by_code"]["invalid_signature"], 1);
        assert_eq!(json["routes"]["/a"]["counts"]["rejected"], 1);
        let hourly = json["hourly"].as_array().unwrap();
        assert_eq!(hourly.len(), HOURS);
        assert_eq!(hourly[23]["counts"]["total"], 1);
        assert_eq!(hourly[22]["counts"]["total"], 2);
        // A day later the old slots have rotated out.
        let later = r.to_json(t0 + 3600 * 25);
        let sum: u64 = later["hourly"]
            .as_array()
            .unwrap()
            .iter()
            .map(|h| h["counts"]["total"].as_u64().unwrap())
            .sum();
        assert_eq!(sum, 0);
        assert_eq!(r.secret_use("/a", 1).matched, 1);
        assert_eq!(r.secret_use("/a", 0).matched, 0);
    }

    #[test]
    fn minutes_routes_codes_and_upstream_errors() {
        let mut r = Report::default();
        let t0 = 1_700_000_000 - 1_700_000_000 % 60;
        r.record(&decision("/a", Outcome::Forwarded, None), t0);
        let mut failed = decision("/a", Outcome::Forwarded, None);
        failed.upstream_status = Some(503);
        r.record(&failed, t0 + 59);
        r.record(
            &decision("/a", Outcome::Rejected, Some("upstream_timeout")),
            t0 + 60,
        );
        r.record(
            &decision("/a", Outcome::Rejected, Some("invalid_signature")),
            t0 + 61,
        );
        let json = r.to_json(t0 + 61);
        let minutely = json["minutely"].as_array().unwrap();
        assert_eq!(minutely.len(), MINUTES);
        assert_eq!(minutely[59]["counts"]["rejected"], 2);
        assert_eq!(minutely[58]["counts"]["forwarded"], 2);
        assert_eq!(
            minutely[59]["minute"],
            crate::clock::rfc3339(t0 + 60).unwrap()
        );
        let route = &json["routes"]["/a"];
        assert_eq!(route["failures_by_code"]["upstream_timeout"], 1);
        assert_eq!(route["failures_by_code"]["invalid_signature"], 1);
        assert_eq!(route["upstream_errors"], 2);
        // An hour later the minutes have rotated out; the hours have not.
        let later = r.to_json(t0 + 3700);
        assert!(later["minutely"]
            .as_array()
            .unwrap()
            .iter()
            .all(|m| m["counts"]["total"] == 0));
        assert_eq!(later["totals"]["total"], 4);
    }

    #[test]
    fn latency_quantiles_interpolate_within_buckets() {
        let mut l = Latency::default();
        assert_eq!(l.quantile_ms(0.5), None);
        // 98 requests of 1.5 ms (bucket 1-2 ms), 2 of 3 ms (bucket 2-4 ms).
        for _ in 0..98 {
            l.observe(Duration::from_micros(1500));
        }
        for _ in 0..2 {
            l.observe(Duration::from_millis(3));
        }
        // p50: rank 50 of 98 in (1, 2] ms.
        assert_eq!(l.quantile_ms(0.5), Some(1.51));
        // p99: rank 99, the first of 2 in (2, 4] ms.
        assert_eq!(l.quantile_ms(0.99), Some(3.0));
        // Slower than every bound: the last bound.
        let mut slow = Latency::default();
        slow.observe(Duration::from_secs(60));
        assert_eq!(slow.quantile_ms(0.5), Some(16384.0));
    }
}
