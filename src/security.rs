//! Suspicious sources (`[security]`): counts failed verifications per client
//! IP in a fixed window; crossing the threshold emits ONE warning event per
//! IP per window and, with `auto_block`, blocks the IP for that long.
//!
//! Memory is bounded by `max_tracked_ips`: when full, a new address evicts
//! one picked by the CLOCK algorithm (an approximation of least recently
//! seen): the hand passes over addresses seen since it last came by and
//! blocked ones, at most [`SECOND_CHANCES`] of them, so that rotating
//! sources cost a bounded amount of work per failure, never a scan of every
//! address under the lock. State survives configuration reloads; the
//! thresholds are replaced by [`Sources::reconfigure`].

use std::collections::{HashMap, VecDeque};
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime};

use serde::Serialize;

use crate::config::SecurityConfig;

/// Tracing target of the suspicious-source warnings.
pub const TARGET: &str = "security";

/// Addresses the eviction hand passes over, at most, before it evicts one
/// anyway.
pub const SECOND_CHANCES: usize = 16;

#[derive(Debug, Clone, Copy)]
struct Entry {
    window_start: Instant,
    failures: u32,
    warned: bool,
    blocked_until: Option<Instant>,
    /// Seen since the eviction hand last passed it.
    referenced: bool,
}

impl Entry {
    fn blocked(&self, now: Instant) -> bool {
        self.blocked_until.is_some_and(|until| now < until)
    }
}

/// A suspicious IP, as `/audit/report` lists it.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Suspicious {
    /// The client IP.
    pub ip: IpAddr,
    /// Failed verifications in its current window.
    pub failures: u32,
    /// Until when it is blocked (RFC 3339), if it is.
    pub blocked_until: Option<String>,
}

struct State {
    config: SecurityConfig,
    ips: HashMap<IpAddr, Entry>,
    /// Every key of `ips` exactly once; the front is the eviction hand.
    ring: VecDeque<IpAddr>,
}

/// Per-IP failure tracking shared by every request.
pub struct Sources {
    state: Mutex<State>,
}

/// What recording a failure changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Below the threshold, or already reported this window.
    Quiet,
    /// The threshold was just crossed (the caller counts it once).
    Suspicious,
}

// === impl Sources ===

impl Sources {
    /// Empty tracking under `config`.
    pub fn new(config: SecurityConfig) -> Self {
        Self {
            state: Mutex::new(State {
                config,
                ips: HashMap::new(),
                ring: VecDeque::new(),
            }),
        }
    }

    /// Replaces the thresholds (on reload), keeping what was observed.
    pub fn reconfigure(&self, config: SecurityConfig) {
        if let Ok(mut s) = self.state.lock() {
            s.config = config;
        }
    }

    /// Whether `ip` is auto-blocked right now.
    pub fn is_blocked(&self, ip: IpAddr) -> bool {
        let Ok(s) = self.state.lock() else {
            return false;
        };
        // The clock is read only for a source that was blocked: asked on
        // every request, this is almost always an unknown address.
        s.ips
            .get(&ip)
            .and_then(|e| e.blocked_until)
            .is_some_and(|until| Instant::now() < until)
    }

    /// Records one failed verification from `ip`.
    pub fn record_failure(&self, ip: IpAddr) -> Verdict {
        let now = Instant::now();
        let Ok(mut s) = self.state.lock() else {
            return Verdict::Quiet;
        };
        let config = s.config;
        let s = &mut *s;
        if let Some(e) = s.ips.get_mut(&ip) {
            e.referenced = true;
        } else {
            // More than one only after a reload lowered the cap.
            while s.ips.len() >= config.max_tracked_ips && s.evict_one(now) > 0 {}
            s.ring.push_back(ip);
        }
        // A new address is not marked seen: one that never comes back is
        // the first the hand evicts.
        let e = s.ips.entry(ip).or_insert(Entry {
            window_start: now,
            failures: 0,
            warned: false,
            blocked_until: None,
            referenced: false,
        });
        if now.duration_since(e.window_start) >= config.window {
            e.window_start = now;
            e.failures = 0;
            e.warned = false;
        }
        e.failures = e.failures.saturating_add(1);
        if e.failures < config.failure_threshold || e.warned {
            return Verdict::Quiet;
        }
        e.warned = true;
        e.blocked_until = config.auto_block.map(|d| now + d);
        tracing::warn!(
            target: TARGET,
            client_ip = %ip,
            failures = e.failures,
            window_ms = config.window.as_millis() as u64,
            blocked_for_ms = config.auto_block.map(|d| d.as_millis() as u64),
            "suspicious source: failed verifications over threshold"
        );
        Verdict::Suspicious
    }

    /// IPs over the threshold in their current window, or still blocked.
    pub fn suspicious(&self) -> Vec<Suspicious> {
        let now = Instant::now();
        let Ok(s) = self.state.lock() else {
            return Vec::new();
        };
        let window = s.config.window;
        let mut out: Vec<_> = s
            .ips
            .iter()
            .filter_map(|(ip, e)| {
                let blocked = e.blocked_until.filter(|&u| now < u);
                let in_window = e.warned && now.duration_since(e.window_start) < window;
                (in_window || blocked.is_some()).then(|| Suspicious {
                    ip: *ip,
                    failures: e.failures,
                    blocked_until: blocked.map(|u| wall_clock(u, now)),
                })
            })
            .collect();
        out.sort_by(|a, b| b.failures.cmp(&a.failures).then(a.ip.cmp(&b.ip)));
        out
    }

    /// Number of IPs tracked (the memory bound under test).
    #[cfg(test)]
    fn tracked(&self) -> usize {
        self.state.lock().map_or(0, |s| s.ips.len())
    }
}

// === impl State ===

impl State {
    /// Removes one address: the first the hand finds neither seen since it
    /// last passed nor blocked, or after [`SECOND_CHANCES`] such, the next
    /// regardless. Returns how many addresses it looked at (0: none tracked).
    fn evict_one(&mut self, now: Instant) -> usize {
        for looked_at in 1..=SECOND_CHANCES {
            let Some(ip) = self.ring.pop_front() else {
                return looked_at - 1;
            };
            match self.ips.get_mut(&ip) {
                Some(e) if e.referenced || e.blocked(now) => {
                    e.referenced = false;
                    self.ring.push_back(ip);
                }
                _ => {
                    self.ips.remove(&ip);
                    return looked_at;
                }
            }
        }
        match self.ring.pop_front() {
            Some(ip) => {
                self.ips.remove(&ip);
                SECOND_CHANCES + 1
            }
            None => SECOND_CHANCES,
        }
    }
}

fn wall_clock(at: Instant, now: Instant) -> String {
    let wall = SystemTime::now() + at.saturating_duration_since(now);
    let secs = wall
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap_or(Duration::ZERO)
        .as_secs();
    crate::clock::rfc3339(i64::try_from(secs).unwrap_or(i64::MAX)).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(threshold: u32, max: usize) -> SecurityConfig {
        SecurityConfig {
            failure_threshold: threshold,
            window: Duration::from_secs(60),
            auto_block: Some(Duration::from_secs(60)),
            max_tracked_ips: max,
        }
    }

    #[test]
    fn warns_once_then_blocks() {
        let s = Sources::new(config(3, 10));
        let ip: IpAddr = [10, 0, 0, 1].into();
        assert_eq!(s.record_failure(ip), Verdict::Quiet);
        assert_eq!(s.record_failure(ip), Verdict::Quiet);
        assert!(!s.is_blocked(ip));
        assert_eq!(s.record_failure(ip), Verdict::Suspicious);
        assert_eq!(s.record_failure(ip), Verdict::Quiet);
        assert!(s.is_blocked(ip));
        assert_eq!(s.suspicious().len(), 1);
        assert_eq!(s.suspicious()[0].failures, 4);
    }

    fn v6(i: u32) -> IpAddr {
        IpAddr::from([0x2001, 0xdb8, 0, 0, 0, 0, (i >> 16) as u16, i as u16])
    }

    #[test]
    fn rotating_sources_never_exceed_the_cap() {
        let s = Sources::new(config(3, 500));
        for i in 0..20_000 {
            s.record_failure(v6(i));
            // Some come back: they are kept in preference to the others.
            if i % 5 == 0 {
                s.record_failure(v6(i / 2));
            }
            assert!(s.tracked() <= 500, "{} tracked after {i}", s.tracked());
        }
        let st = s.state.lock().unwrap();
        assert_eq!(st.ring.len(), st.ips.len());
        assert!(st.ring.iter().all(|ip| st.ips.contains_key(ip)));
    }

    #[test]
    fn eviction_looks_at_a_bounded_number_of_addresses() {
        // 10,000 addresses, each blocked or seen twice: none is a good
        // victim, and the hand still stops after SECOND_CHANCES + 1.
        let s = Sources::new(config(2, 10_000));
        for i in 0..10_000 {
            s.record_failure(v6(i));
            s.record_failure(v6(i));
        }
        let mut st = s.state.lock().unwrap();
        for _ in 0..100 {
            let looked_at = st.evict_one(Instant::now());
            assert!((1..=SECOND_CHANCES + 1).contains(&looked_at), "{looked_at}");
        }
        assert_eq!(st.ips.len(), 9_900);
        assert_eq!(st.ring.len(), 9_900);
    }

    #[test]
    fn a_blocked_source_outlives_a_flood_of_new_ones() {
        let s = Sources::new(config(3, 100));
        let attacker: IpAddr = [198, 51, 100, 9].into();
        for _ in 0..3 {
            s.record_failure(attacker);
        }
        assert!(s.is_blocked(attacker));
        for i in 0..10_000 {
            s.record_failure(v6(i));
            assert!(s.is_blocked(attacker), "unblocked after {i} new sources");
        }
        assert_eq!(s.tracked(), 100);
    }

    #[test]
    fn a_lower_cap_on_reload_applies_at_the_next_new_source() {
        let s = Sources::new(config(100, 50));
        for i in 0..50 {
            s.record_failure(v6(i));
        }
        s.reconfigure(config(100, 10));
        s.record_failure(v6(1_000));
        assert_eq!(s.tracked(), 10);
    }

    #[test]
    fn tracking_is_bounded() {
        let s = Sources::new(config(100, 5));
        for i in 0..50u8 {
            s.record_failure([10, 0, 1, i].into());
        }
        assert_eq!(s.tracked(), 5);
    }
}
