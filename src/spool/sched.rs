//! The delivery schedule: which pending records are due, per route, found in
//! O(log n) however long the backlog and however many dead letters.
//!
//! Owns, per route: the pending records ordered by `(next_attempt_ms, id)`
//! (unordered routes take the earliest due) and by id (an `ordered` route's
//! head is its oldest pending record), the records handed to the worker and
//! not yet released (claims), and the counts and ages the metrics need.
//! Does not own the records themselves (`store.rs` keeps them and calls
//! `Schedule::insert` / `Schedule::remove` on every change) nor the
//! delivery policy: the worker passes each route's concurrency limit in.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use super::store::{Meta, State};

/// How the worker may take records from one route.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Policy {
    /// One at a time, oldest first: only the route's head may be taken.
    Ordered,
    /// Up to this many in flight at once, earliest due first.
    Concurrent(usize),
}

/// Per-route figures for metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct RouteStats {
    /// Records waiting for delivery (in flight included).
    pub pending: u64,
    /// Dead letters held.
    pub dead: u64,
    /// `received_at_ms` of the oldest pending record.
    pub oldest_received_ms: Option<i64>,
}

#[derive(Debug, Default)]
struct RouteQueue {
    /// Pending and not claimed, by `(next_attempt_ms, id)`.
    waiting: BTreeSet<(i64, u64)>,
    /// Every pending record (claimed or not): id → `next_attempt_ms`.
    pending: BTreeMap<u64, i64>,
    /// Every pending record by `(received_at_ms, id)`: the oldest one's age.
    by_age: BTreeSet<(i64, u64)>,
    /// Dead letters of this route.
    dead: u64,
    /// Claims not yet released.
    in_flight: usize,
}

/// The index of pending records the worker schedules from.
#[derive(Debug, Default)]
pub(crate) struct Schedule {
    /// Per route; an entry stays once created (routes are few and bounded by
    /// the configurations seen), so metrics can report a route at zero.
    routes: HashMap<String, RouteQueue>,
    /// Records claimed by the worker and not yet released.
    claimed: HashSet<u64>,
    /// Every dead letter's id.
    dead: BTreeSet<u64>,
}

// === impl Schedule ===

impl Schedule {
    /// Indexes record `id` (new, or after [`Schedule::remove`] of its old
    /// version). A claimed record stays out of the waiting set.
    pub(crate) fn insert(&mut self, id: u64, meta: &Meta) {
        let claimed = self.claimed.contains(&id);
        let q = self.route_mut(&meta.route);
        match meta.state {
            State::Pending => {
                q.pending.insert(id, meta.next_attempt_ms);
                q.by_age.insert((meta.received_at_ms, id));
                if !claimed {
                    q.waiting.insert((meta.next_attempt_ms, id));
                }
            }
            State::Dead => {
                q.dead += 1;
                self.dead.insert(id);
            }
        }
    }

    /// Forgets record `id` as described by `meta` (its indexed version).
    /// A claim survives until [`Schedule::release`].
    pub(crate) fn remove(&mut self, id: u64, meta: &Meta) {
        match meta.state {
            State::Dead => {
                if self.dead.remove(&id) {
                    if let Some(q) = self.routes.get_mut(meta.route.as_str()) {
                        q.dead = q.dead.saturating_sub(1);
                    }
                }
            }
            State::Pending => {
                if let Some(q) = self.routes.get_mut(meta.route.as_str()) {
                    q.waiting.remove(&(meta.next_attempt_ms, id));
                    q.pending.remove(&id);
                    q.by_age.remove(&(meta.received_at_ms, id));
                }
            }
        }
    }

    /// Claims every record of `route` that is due at `now` and allowed by
    /// `policy`, appending their ids to `out`. Returns the time of the next
    /// attempt it had to leave waiting, if any (none when the route is at
    /// its limit: a released claim is the next reason to look again).
    pub(crate) fn claim_due(
        &mut self,
        route: &str,
        policy: Policy,
        now: i64,
        out: &mut Vec<u64>,
    ) -> Option<i64> {
        let q = self.routes.get_mut(route)?;
        match policy {
            Policy::Ordered => {
                // Only the oldest pending record, and only when nothing of
                // this route is in flight (the head itself, or a delivered
                // head whose claim is not released yet).
                let (&id, &at) = q.pending.first_key_value()?;
                if q.in_flight > 0 {
                    return None;
                }
                if at > now {
                    return Some(at);
                }
                q.waiting.remove(&(at, id));
                q.in_flight += 1;
                self.claimed.insert(id);
                out.push(id);
            }
            Policy::Concurrent(limit) => {
                while q.in_flight < limit {
                    let &(at, id) = q.waiting.first()?;
                    if at > now {
                        return Some(at);
                    }
                    q.waiting.pop_first();
                    q.in_flight += 1;
                    self.claimed.insert(id);
                    out.push(id);
                }
            }
        }
        None
    }

    /// Ends the claim on `id` (of `route`): it is waiting again if still
    /// pending (an attempt that failed to be recorded), else nothing.
    pub(crate) fn release(&mut self, id: u64, route: &str) {
        if !self.claimed.remove(&id) {
            return;
        }
        if let Some(q) = self.routes.get_mut(route) {
            q.in_flight = q.in_flight.saturating_sub(1);
            if let Some(&at) = q.pending.get(&id) {
                q.waiting.insert((at, id));
            }
        }
    }

    /// Dead letters' ids, in arrival order.
    pub(crate) fn dead_ids(&self) -> impl Iterator<Item = u64> + '_ {
        self.dead.iter().copied()
    }

    /// Per-route pending, dead and oldest pending record, by route.
    pub(crate) fn route_stats(&self) -> impl Iterator<Item = (&str, RouteStats)> + '_ {
        self.routes.iter().map(|(route, q)| {
            let stats = RouteStats {
                pending: q.pending.len() as u64,
                dead: q.dead,
                oldest_received_ms: q.by_age.first().map(|&(at, _)| at),
            };
            (route.as_str(), stats)
        })
    }

    fn route_mut(&mut self, route: &str) -> &mut RouteQueue {
        if !self.routes.contains_key(route) {
            self.routes.insert(route.to_owned(), RouteQueue::default());
        }
        self.routes.get_mut(route).expect("inserted above")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn meta(route: &str, received: i64, next: i64) -> Meta {
        Meta {
            route: route.into(),
            method: "POST".into(),
            path_and_query: "/".into(),
            headers: Vec::new(),
            provider: "github".into(),
            event_id: String::new(),
            secret_index: 0,
            replay_key: None,
            received_at_ms: received,
            attempts: 0,
            next_attempt_ms: next,
            last_status: None,
            last_error: None,
            state: State::Pending,
            body_len: 0,
        }
    }

    const FREE: Policy = Policy::Concurrent(8);
    const ORDERED: Policy = Policy::Ordered;

    fn claim(s: &mut Schedule, route: &str, policy: Policy, now: i64) -> (Vec<u64>, Option<i64>) {
        let mut out = Vec::new();
        let next = s.claim_due(route, policy, now, &mut out);
        (out, next)
    }

    /// Replaces record `id`'s indexed `old` version with `new`, as the store does.
    fn update(s: &mut Schedule, id: u64, old: &Meta, new: &Meta) {
        s.remove(id, old);
        s.insert(id, new);
    }

    #[test]
    fn due_records_come_earliest_attempt_first_then_by_id() {
        let mut s = Schedule::default();
        s.insert(1, &meta("/a", 0, 300));
        s.insert(2, &meta("/a", 0, 100));
        s.insert(3, &meta("/a", 0, 100));
        s.insert(4, &meta("/a", 0, 200));
        assert_eq!(claim(&mut s, "/a", FREE, 250), (vec![2, 3, 4], Some(300)));
        assert_eq!(claim(&mut s, "/a", FREE, 250), (vec![], Some(300)));
        assert_eq!(claim(&mut s, "/a", FREE, 300), (vec![1], None));
        assert_eq!(
            claim(&mut s, "/b", FREE, 300),
            (vec![], None),
            "unknown route"
        );
    }

    #[test]
    fn retry_in_the_future_waits_and_reports_when() {
        let mut s = Schedule::default();
        let first = meta("/a", 0, 0);
        s.insert(7, &first);
        assert_eq!(claim(&mut s, "/a", FREE, 10), (vec![7], None));
        // The attempt failed: recorded with a retry time, then released.
        let mut retry = first.clone();
        retry.next_attempt_ms = 5_000;
        retry.attempts = 1;
        update(&mut s, 7, &first, &retry);
        assert_eq!(
            claim(&mut s, "/a", FREE, 20),
            (vec![], None),
            "still claimed"
        );
        s.release(7, "/a");
        assert_eq!(claim(&mut s, "/a", FREE, 20), (vec![], Some(5_000)));
        assert_eq!(claim(&mut s, "/a", FREE, 5_000), (vec![7], None));
    }

    #[test]
    fn concurrency_limit_per_route() {
        let mut s = Schedule::default();
        for id in 1..=10 {
            s.insert(id, &meta("/a", 0, 0));
            s.insert(100 + id, &meta("/b", 0, 0));
        }
        let two = Policy::Concurrent(2);
        assert_eq!(claim(&mut s, "/a", two, 0), (vec![1, 2], None));
        assert_eq!(claim(&mut s, "/a", two, 0), (vec![], None), "at the limit");
        assert_eq!(claim(&mut s, "/b", two, 0).0, vec![101, 102], "per route");
        // Delivered: removed, then released.
        s.remove(1, &meta("/a", 0, 0));
        s.release(1, "/a");
        assert_eq!(claim(&mut s, "/a", two, 0), (vec![3], None));
        // A claim released without an outcome recorded is due again.
        s.release(2, "/a");
        assert_eq!(claim(&mut s, "/a", two, 0), (vec![2], None));
        s.release(2, "/a");
        s.release(2, "/a"); // a second release changes nothing
        assert_eq!(claim(&mut s, "/a", two, 0), (vec![2], None));
        assert_eq!(claim(&mut s, "/a", two, 0), (vec![], None));
    }

    #[test]
    fn ordered_route_takes_only_its_head() {
        let mut s = Schedule::default();
        // The head is retried later than the records behind it would be.
        let head = meta("/o", 0, 500);
        s.insert(1, &head);
        s.insert(2, &meta("/o", 0, 0));
        s.insert(3, &meta("/o", 0, 0));
        assert_eq!(claim(&mut s, "/o", ORDERED, 100), (vec![], Some(500)));
        assert_eq!(claim(&mut s, "/o", ORDERED, 500), (vec![1], None));
        assert_eq!(claim(&mut s, "/o", ORDERED, 500), (vec![], None));
        // Delivered: removed; until released, nothing else goes.
        s.remove(1, &head);
        assert_eq!(claim(&mut s, "/o", ORDERED, 500), (vec![], None));
        s.release(1, "/o");
        assert_eq!(claim(&mut s, "/o", ORDERED, 500), (vec![2], None));
        // A head that becomes a dead letter lets the next one through.
        let two = meta("/o", 0, 0);
        let mut dead = two.clone();
        dead.state = State::Dead;
        update(&mut s, 2, &two, &dead);
        s.release(2, "/o");
        assert_eq!(claim(&mut s, "/o", ORDERED, 500), (vec![3], None));
        assert_eq!(s.dead_ids().collect::<Vec<_>>(), vec![2]);
    }

    #[test]
    fn dead_letters_are_out_of_the_schedule_until_revived() {
        let mut s = Schedule::default();
        let mut dead = meta("/a", 0, 0);
        dead.state = State::Dead;
        s.insert(1, &dead);
        s.insert(2, &meta("/a", 50, 0));
        assert_eq!(claim(&mut s, "/a", FREE, 0), (vec![2], None));
        let stats: Vec<_> = s.route_stats().collect();
        assert_eq!(
            stats,
            vec![(
                "/a",
                RouteStats {
                    pending: 1,
                    dead: 1,
                    oldest_received_ms: Some(50)
                }
            )]
        );
        // Revived (retry): pending again, with a fresh age.
        let revived = meta("/a", 900, 900);
        update(&mut s, 1, &dead, &revived);
        assert_eq!(claim(&mut s, "/a", FREE, 900), (vec![1], None));
        assert_eq!(s.dead_ids().count(), 0);
        // Purged pending and dead records leave zeros, not a missing route.
        s.remove(1, &revived);
        s.remove(2, &meta("/a", 50, 0));
        let (_, stats) = s.route_stats().next().unwrap();
        assert_eq!(stats, RouteStats::default());
    }
}
