//! Suspicious sources (`[security]`): counts failed verifications per client
//! IP in a fixed window; crossing the threshold emits ONE warning event per
//! IP per window and, with `auto_block`, blocks the IP for that long.
//!
//! Memory is bounded by `max_tracked_ips`: when full, the entry seen least
//! recently is evicted (blocked entries last). State survives configuration
//! reloads; the thresholds are replaced by [`Sources::reconfigure`].

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime};

use serde::Serialize;

use crate::config::SecurityConfig;

/// Tracing target of the suspicious-source warnings.
pub const TARGET: &str = "security";

#[derive(Debug, Clone, Copy)]
struct Entry {
    window_start: Instant,
    failures: u32,
    warned: bool,
    blocked_until: Option<Instant>,
    last_seen: Instant,
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
        if !s.ips.contains_key(&ip) && s.ips.len() >= config.max_tracked_ips {
            evict_one(&mut s.ips, now);
        }
        let e = s.ips.entry(ip).or_insert(Entry {
            window_start: now,
            failures: 0,
            warned: false,
            blocked_until: None,
            last_seen: now,
        });
        e.last_seen = now;
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

    /// Number of IPs tracked (tests, memory bound).
    pub fn tracked(&self) -> usize {
        self.state.lock().map_or(0, |s| s.ips.len())
    }
}

/// Evicts the least recently seen unblocked entry (else the oldest blocked).
fn evict_one(ips: &mut HashMap<IpAddr, Entry>, now: Instant) {
    let victim = ips
        .iter()
        .min_by_key(|(_, e)| (e.blocked_until.is_some_and(|u| now < u), e.last_seen))
        .map(|(ip, _)| *ip);
    if let Some(ip) = victim {
        ips.remove(&ip);
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

    #[test]
    fn tracking_is_bounded() {
        let s = Sources::new(config(100, 5));
        for i in 0..50u8 {
            s.record_failure([10, 0, 1, i].into());
        }
        assert_eq!(s.tracked(), 5);
    }
}
