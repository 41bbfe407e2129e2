//! The last N request decisions, in memory, for `GET /audit/recent` and the
//! status page's rejections table (`[admin] recent`, 0 turns it off).
//!
//! A fixed ring of N slots, allocated once: memory is bounded whatever the
//! traffic. Recording is on the request path, so it takes no allocation:
//! the finished audit [`Decision`] is copied into its slot, whose text
//! buffers are reused, behind one lock per slot, so concurrent requests
//! contend only when the ring wraps onto the same slot. Reading (the admin
//! path) visits every slot and sorts by sequence number: newest first.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, PoisonError};

use crate::audit::{logged_id, Decision, Outcome};
use crate::clock::unix_millis;
use crate::ip_text::IpText;

/// Decisions kept when `[admin] recent` is not set.
pub const DEFAULT_CAPACITY: usize = 1000;

/// Most decisions `[admin] recent` may ask for (about 0.3 KiB each plus
/// their strings).
pub const MAX_CAPACITY: usize = 100_000;

/// Entries `GET /audit/recent` returns without `limit`.
const DEFAULT_LIMIT: usize = 100;

/// One slot: the decision and when it was recorded.
#[derive(Default)]
struct Slot {
    /// Position in recording order; higher is newer.
    seq: u64,
    /// When it was recorded, Unix milliseconds.
    at_ms: i64,
    decision: Option<Decision>,
}

/// The ring of recent decisions.
pub struct Recent {
    slots: Box<[Mutex<Slot>]>,
    next: AtomicU64,
}

impl Recent {
    /// A ring of `capacity` slots (0: records nothing).
    pub fn new(capacity: usize) -> Self {
        Self {
            slots: (0..capacity).map(|_| Mutex::default()).collect(),
            next: AtomicU64::new(0),
        }
    }

    /// How many decisions the ring holds at most.
    pub fn capacity(&self) -> usize {
        self.slots.len()
    }

    /// Keeps `decision`, replacing the oldest. No allocation, and its texts
    /// are freed once the slot's lock is released, as they would be without
    /// the ring (see [`overwrite`]).
    pub fn record(&self, decision: Decision) {
        let len = self.slots.len() as u64;
        if len == 0 {
            return;
        }
        let seq = self.next.fetch_add(1, Ordering::Relaxed);
        self.put(seq, unix_millis(), decision);
    }

    /// Stores `decision` as number `seq` in its slot, unless a newer one is there.
    fn put(&self, seq: u64, at_ms: i64, mut decision: Decision) {
        let slot = &self.slots[(seq % self.slots.len() as u64) as usize];
        let mut slot = slot.lock().unwrap_or_else(PoisonError::into_inner);
        if slot.decision.is_some() && slot.seq > seq {
            // A request a whole ring later got here first: this one is
            // already older than everything kept.
            return;
        }
        slot.seq = seq;
        slot.at_ms = at_ms;
        match slot.decision.as_mut() {
            Some(kept) => overwrite(kept, &mut decision),
            None => slot.decision = Some(decision),
        }
        // `decision` now holds what the slot no longer needs: freed after
        // the lock is released (locals are dropped before parameters).
    }

    /// The decisions `filter` selects, newest first, at most `filter.limit`,
    /// as JSON objects with the audit event's fields.
    pub fn query(&self, filter: &Filter) -> Vec<serde_json::Value> {
        let mut found: Vec<(u64, serde_json::Value)> = Vec::new();
        for slot in self.slots.iter() {
            let slot = slot.lock().unwrap_or_else(PoisonError::into_inner);
            if let Some(d) = slot.decision.as_ref().filter(|d| filter.selects(d)) {
                found.push((slot.seq, entry(slot.at_ms, d)));
            }
        }
        found.sort_unstable_by_key(|(seq, _)| std::cmp::Reverse(*seq));
        found.truncate(filter.limit);
        found.into_iter().map(|(_, entry)| entry).collect()
    }
}

/// Makes `kept` a copy of `from`, writing texts into `kept`'s own buffers;
/// `from` is left with what `kept` no longer needs.
///
/// Moving each decision into the ring instead would free every text a
/// thousand requests after it was allocated: measured with callgrind, that
/// cost glibc's allocator several hundred instructions per request more
/// than freeing the request's own texts at once, while still hot, as
/// happens without the ring.
fn overwrite(kept: &mut Decision, from: &mut Decision) {
    // Every field by name: a field added to `Decision` must be copied here.
    let Decision {
        route,
        provider,
        route_index,
        client_ip,
        outcome,
        error,
        detail,
        reason,
        body,
        status,
        event_id,
        secret_index,
        latency,
        upstream_latency,
        upstream_status,
    } = from;
    std::mem::swap(&mut kept.route, route);
    std::mem::swap(&mut kept.provider, provider);
    kept.route_index = *route_index;
    kept.client_ip = *client_ip;
    kept.outcome = *outcome;
    kept.error = *error;
    copy_text(&mut kept.detail, detail);
    copy_text(&mut kept.reason, reason);
    kept.body = *body;
    kept.status = *status;
    copy_text(&mut kept.event_id, event_id);
    kept.secret_index = *secret_index;
    kept.latency = *latency;
    kept.upstream_latency = *upstream_latency;
    kept.upstream_status = *upstream_status;
}

/// `kept` becomes `from`'s text, in `kept`'s buffer when both have one.
fn copy_text(kept: &mut Option<String>, from: &mut Option<String>) {
    match (kept.as_mut(), from.as_deref()) {
        (Some(buffer), Some(text)) => {
            buffer.clear();
            buffer.push_str(text);
        }
        _ => std::mem::swap(kept, from),
    }
}

/// One decision as `/audit/recent` shows it: the audit event's fields (a
/// field without a value left out, the event id cut as in the log), and
/// `timestamp`, when it was decided.
fn entry(at_ms: i64, d: &Decision) -> serde_json::Value {
    let mut doc = serde_json::Map::new();
    let mut put = |name: &str, value: serde_json::Value| {
        if !value.is_null() {
            doc.insert(name.to_owned(), value);
        }
    };
    put("timestamp", crate::clock::rfc3339_millis(at_ms).into());
    put("route", d.route.as_deref().into());
    put("provider", d.provider.as_deref().into());
    put("client_ip", IpText::new(d.client_ip).as_str().into());
    put("outcome", d.outcome.as_str().into());
    put("error", d.error.into());
    put("detail", d.detail.as_deref().into());
    put("reason", d.reason.as_deref().into());
    put("status", d.status.into());
    put(
        "event_id",
        d.event_id
            .as_deref()
            .map(|id| logged_id(id).into_owned())
            .into(),
    );
    put("secret_index", d.secret_index.into());
    put("latency_ms", millis(d.latency).into());
    put("upstream_ms", d.upstream_latency.map(millis).into());
    put("upstream_status", d.upstream_status.into());
    serde_json::Value::Object(doc)
}

fn millis(d: std::time::Duration) -> f64 {
    d.as_nanos() as f64 / 1e6
}

/// Which decisions `GET /audit/recent` returns: `outcome`, `route` and
/// `code` (the error code) must match when given; `limit` caps the count.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Filter {
    /// Only this outcome.
    pub outcome: Option<Outcome>,
    /// Only this route path.
    pub route: Option<String>,
    /// Only this error code.
    pub code: Option<String>,
    /// At most this many, newest first.
    pub limit: usize,
}

impl Default for Filter {
    fn default() -> Self {
        Self {
            outcome: None,
            route: None,
            code: None,
            limit: DEFAULT_LIMIT,
        }
    }
}

impl Filter {
    /// Parses a query string such as
    /// `outcome=rejected&route=%2Fwebhooks%2Fgithub&limit=100`; an unknown
    /// parameter or value is an error naming it.
    pub fn parse(query: Option<&str>) -> Result<Self, String> {
        let mut filter = Self::default();
        let pairs = form_urlencoded::parse(query.unwrap_or_default().as_bytes());
        for (name, value) in pairs {
            match &*name {
                "outcome" => filter.outcome = Some(outcome(&value)?),
                "route" => filter.route = Some(value.into_owned()),
                "code" => filter.code = Some(value.into_owned()),
                "limit" => {
                    filter.limit = value
                        .parse()
                        .map_err(|_| "limit must be a whole number".to_owned())?;
                }
                _ => return Err("unknown parameter: use outcome, route, code or limit".to_owned()),
            }
        }
        Ok(filter)
    }

    fn selects(&self, d: &Decision) -> bool {
        self.outcome.is_none_or(|o| o == d.outcome)
            && self
                .route
                .as_deref()
                .is_none_or(|r| d.route.as_deref() == Some(r))
            && self.code.as_deref().is_none_or(|c| d.error == Some(c))
    }
}

fn outcome(text: &str) -> Result<Outcome, String> {
    [
        Outcome::Forwarded,
        Outcome::Queued,
        Outcome::Duplicate,
        Outcome::Handshake,
        Outcome::Rejected,
    ]
    .into_iter()
    .find(|o| o.as_str() == text)
    .ok_or_else(|| {
        "outcome must be one of forwarded, queued, duplicate, handshake, rejected".to_owned()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decision(n: u16, outcome: Outcome) -> Decision {
        let mut d = Decision::new([127, 0, 0, 1].into());
        d.route = Some(if n % 2 == 0 { "/even" } else { "/odd" }.into());
        d.outcome = outcome;
        d.status = n;
        if outcome == Outcome::Rejected {
            d.error = Some("invalid_signature");
            d.reason = Some(format!("invalid_signature: request {n}"));
        }
        d
    }

    fn statuses(entries: &[serde_json::Value]) -> Vec<u64> {
        entries
            .iter()
            .map(|e| e["status"].as_u64().unwrap())
            .collect()
    }

    #[test]
    fn keeps_the_newest_n_newest_first() {
        let ring = Recent::new(4);
        for n in 1..=10 {
            ring.record(decision(n, Outcome::Forwarded));
        }
        assert_eq!(statuses(&ring.query(&Filter::default())), [10, 9, 8, 7]);
        let two = Filter {
            limit: 2,
            ..Filter::default()
        };
        assert_eq!(statuses(&ring.query(&two)), [10, 9]);
    }

    #[test]
    fn filters_by_outcome_route_and_code() {
        let ring = Recent::new(16);
        for n in 1..=8 {
            let outcome = if n % 3 == 0 {
                Outcome::Rejected
            } else {
                Outcome::Forwarded
            };
            ring.record(decision(n, outcome));
        }
        let filter = Filter::parse(Some("outcome=rejected")).unwrap();
        let rejected = ring.query(&filter);
        assert_eq!(statuses(&rejected), [6, 3]);
        assert_eq!(rejected[0]["reason"], "invalid_signature: request 6");
        assert_eq!(rejected[0]["error"], "invalid_signature");
        assert!(rejected[0]["timestamp"].as_str().unwrap().ends_with('Z'));
        let filter = Filter::parse(Some("route=%2Feven&outcome=rejected")).unwrap();
        assert_eq!(statuses(&ring.query(&filter)), [6]);
        let filter = Filter::parse(Some("code=invalid_signature&limit=1")).unwrap();
        assert_eq!(statuses(&ring.query(&filter)), [6]);
        // Forwarded entries carry no error, detail or reason.
        let forwarded = ring.query(&Filter::parse(Some("outcome=forwarded")).unwrap());
        assert!(forwarded[0].get("reason").is_none(), "{}", forwarded[0]);
    }

    #[test]
    fn bad_queries_are_named() {
        assert!(Filter::parse(Some("outcome=lost"))
            .unwrap_err()
            .contains("outcome"));
        assert!(Filter::parse(Some("limit=-1"))
            .unwrap_err()
            .contains("limit"));
        assert!(Filter::parse(Some("since=1"))
            .unwrap_err()
            .contains("unknown"));
        assert_eq!(Filter::parse(None).unwrap(), Filter::default());
    }

    #[test]
    fn a_reused_slot_keeps_nothing_of_the_decision_before() {
        let ring = Recent::new(1);
        let mut rejected = decision(2, Outcome::Rejected);
        rejected.detail = Some("a detail".into());
        ring.record(rejected);
        let mut forwarded = decision(1, Outcome::Forwarded);
        forwarded.event_id = Some("evt_1".into());
        forwarded.secret_index = Some(1);
        ring.record(forwarded);
        let kept = ring.query(&Filter::default());
        let fields = |entry: &serde_json::Value| {
            let mut names: Vec<String> = entry.as_object().unwrap().keys().cloned().collect();
            names.sort();
            names
        };
        assert_eq!(
            fields(&kept[0]),
            [
                "client_ip",
                "event_id",
                "latency_ms",
                "outcome",
                "route",
                "secret_index",
                "status",
                "timestamp"
            ],
            "{}",
            kept[0]
        );
        assert_eq!(kept[0]["route"], "/odd");
        assert_eq!(kept[0]["event_id"], "evt_1");
        // And back: a longer text than the buffer held.
        let mut again = decision(4, Outcome::Rejected);
        again.event_id = Some("evt_a_longer_id_than_before".into());
        ring.record(again);
        let kept = ring.query(&Filter::default());
        assert_eq!(kept[0]["reason"], "invalid_signature: request 4");
        assert_eq!(kept[0]["event_id"], "evt_a_longer_id_than_before");
        assert_eq!(kept[0]["route"], "/even");
        assert!(kept[0].get("secret_index").is_none(), "{}", kept[0]);
        assert!(kept[0].get("detail").is_none(), "{}", kept[0]);
    }

    #[test]
    fn an_empty_ring_records_nothing() {
        let ring = Recent::new(0);
        ring.record(decision(1, Outcome::Forwarded));
        assert!(ring.query(&Filter::default()).is_empty());
    }

    #[test]
    fn a_late_writer_never_replaces_a_newer_decision() {
        let ring = Recent::new(2);
        ring.put(2, 0, decision(3, Outcome::Forwarded));
        // Number 0 was taken before 2 but arrives later, at the same slot.
        ring.put(0, 0, decision(9, Outcome::Forwarded));
        assert_eq!(statuses(&ring.query(&Filter::default())), [3]);
    }
}
