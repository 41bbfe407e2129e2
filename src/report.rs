//! The in-process request report behind `GET /audit/report` and the secret
//! usage behind `GET /secrets`: counts since start, per route and error code,
//! a ring of 24 hourly buckets, and per (route, secret index) match counts.
//!
//! Fed only by `Metrics::record`. Memory is bounded: routes and codes come
//! from the configuration and the fixed code set, the ring has 24 slots.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde::Serialize;

use crate::audit::{Decision, Outcome};

/// Hourly buckets kept (the last 24 hours).
pub const HOURS: usize = 24;

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

#[derive(Debug, Clone, Copy, Default)]
struct Hour {
    /// Unix hour number (`unix_secs / 3600`) this slot currently holds.
    hour: i64,
    counts: Counts,
}

/// Aggregates since process start.
#[derive(Debug, Default)]
pub struct Report {
    totals: Counts,
    by_code: BTreeMap<&'static str, u64>,
    routes: BTreeMap<Arc<str>, Counts>,
    hours: [Hour; HOURS],
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
            self.routes
                .entry(Arc::clone(route))
                .or_default()
                .add(d.outcome);
            if let Some(i) = d.secret_index {
                let used = self.secrets.entry((Arc::clone(route), i)).or_default();
                used.matched += 1;
                used.last_matched = Some(now);
            }
        }
        let hour = now.div_euclid(3600);
        let slot = &mut self.hours[usize::try_from(hour.rem_euclid(HOURS as i64)).unwrap_or(0)];
        if slot.hour != hour {
            *slot = Hour {
                hour,
                counts: Counts::default(),
            };
        }
        slot.counts.add(d.outcome);
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
        let current = now.div_euclid(3600);
        let hourly: Vec<_> = (0..HOURS as i64)
            .rev()
            .map(|ago| {
                let hour = current - ago;
                let slot = &self.hours[usize::try_from(hour.rem_euclid(HOURS as i64)).unwrap_or(0)];
                let counts = if slot.hour == hour {
                    slot.counts
                } else {
                    Counts::default()
                };
                serde_json::json!({ "hour": crate::clock::rfc3339(hour * 3600).unwrap_or_default(), "counts": counts })
            })
            .collect();
        let routes: BTreeMap<_, _> = self
            .routes
            .iter()
            .map(|(path, c)| {
                (
                    path.to_string(),
                    serde_json::json!({ "counts": c, "success_rate": c.success_rate() }),
                )
            })
            .collect();
        serde_json::json!({
            "totals": self.totals,
            "success_rate": self.totals.success_rate(),
            "failures_by_code": self.by_code,
            "routes": routes,
            "hourly": hourly,
        })
    }
}

#[cfg(test)]
mod tests {
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
}
