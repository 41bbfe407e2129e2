//! Per route and client IP token buckets (`rate_limit = { per_second, burst }`)
//! on `governor`'s keyed GCRA limiter.
//!
//! Keyed memory is bounded: every [`SWEEP_EVERY`] checks, and whenever more
//! than [`MAX_KEYS`] IPs are held, keys whose bucket is full again (they
//! carry no information) are dropped. Limiters are rebuilt on reload.

use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};

use crate::config::RateLimit;

/// Checks between sweeps of idle keys.
pub const SWEEP_EVERY: u64 = 4096;
/// Keys held before an immediate sweep.
pub const MAX_KEYS: usize = 100_000;

/// One route's limiter.
pub struct RouteLimiter {
    limiter: DefaultKeyedRateLimiter<IpAddr>,
    clock: DefaultClock,
    checks: AtomicU64,
}

impl std::fmt::Debug for RouteLimiter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RouteLimiter")
            .field("keys", &self.limiter.len())
            .finish()
    }
}

// === impl RouteLimiter ===

impl RouteLimiter {
    /// A limiter for `limit` (zero rates are refused by validation; here they
    /// become 1 rather than a panic).
    pub fn new(limit: RateLimit) -> Self {
        let one = NonZeroU32::MIN;
        let quota = Quota::per_second(NonZeroU32::new(limit.per_second).unwrap_or(one))
            .allow_burst(NonZeroU32::new(limit.burst).unwrap_or(one));
        Self {
            limiter: RateLimiter::keyed(quota),
            clock: DefaultClock::default(),
            checks: AtomicU64::new(0),
        }
    }

    /// Takes one token for `ip`; when none is left, how long until one is.
    pub fn check(&self, ip: IpAddr) -> Result<(), Duration> {
        let result = self
            .limiter
            .check_key(&ip)
            .map_err(|not_until| not_until.wait_time_from(self.clock.now()));
        let n = self.checks.fetch_add(1, Ordering::Relaxed);
        if n % SWEEP_EVERY == SWEEP_EVERY - 1 || self.limiter.len() > MAX_KEYS {
            self.limiter.retain_recent();
            self.limiter.shrink_to_fit();
        }
        result
    }

    /// Client IPs currently holding state (memory bound, tests).
    pub fn keys(&self) -> usize {
        self.limiter.len()
    }
}

/// `Retry-After` seconds for a wait: rounded up, at least 1.
pub fn retry_after_secs(wait: Duration) -> u64 {
    let secs = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
    secs.max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn burst_then_refused() {
        let l = RouteLimiter::new(RateLimit {
            per_second: 1,
            burst: 2,
        });
        let ip: IpAddr = [10, 0, 0, 1].into();
        assert!(l.check(ip).is_ok());
        assert!(l.check(ip).is_ok());
        let wait = l.check(ip).unwrap_err();
        assert!(wait <= Duration::from_secs(1));
        assert!(l.check([10, 0, 0, 2].into()).is_ok());
        assert_eq!(retry_after_secs(wait), 1);
        assert_eq!(retry_after_secs(Duration::from_millis(1500)), 2);
        assert_eq!(retry_after_secs(Duration::ZERO), 1);
    }

    #[test]
    fn idle_keys_are_swept() {
        let l = RouteLimiter::new(RateLimit {
            per_second: 1000,
            burst: 1,
        });
        for i in 0..100u8 {
            let _ = l.check([10, 0, 0, i].into());
        }
        assert_eq!(l.keys(), 100);
        // Every bucket refills within 1 ms; the next sweep forgets them.
        std::thread::sleep(Duration::from_millis(20));
        for _ in 0..SWEEP_EVERY {
            let _ = l.check([10, 0, 1, 1].into());
        }
        assert!(l.keys() <= 1, "{} keys left", l.keys());
    }
}
