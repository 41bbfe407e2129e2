//! Per route and client IP token buckets (`rate_limit = { per_second, burst }`)
//! on `governor`'s GCRA, kept in a [`BoundedStore`] of our own.
//!
//! Keyed memory is bounded by a hard cap ([`MAX_KEYS`]): a client rotating
//! through IPv6 addresses creates a key per request, and governor's own
//! keyed store grows without limit between sweeps. When a shard of the
//! store is full, a new key evicts one picked by the CLOCK algorithm (keys
//! used since the hand last passed get a second chance), in at most
//! [`SECOND_CHANCES`] steps: bounded work per request however many keys
//! there are. Separately, every [`SWEEP_EVERY`] checks, keys whose bucket
//! is full again (they carry no information) are dropped and the shards
//! shrunk. Limiters are rebuilt on reload.

use std::collections::{HashMap, VecDeque};
use std::hash::{BuildHasher, BuildHasherDefault, Hash, Hasher, RandomState};
use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use governor::clock::{Clock, DefaultClock};
use governor::nanos::Nanos;
use governor::state::keyed::ShrinkableKeyedStateStore;
use governor::state::StateStore;
use governor::{Quota, RateLimiter};

use crate::config::RateLimit;

/// Checks between sweeps of idle keys.
pub const SWEEP_EVERY: u64 = 4096;
/// Keys one route's limiter holds at most.
pub const MAX_KEYS: usize = 100_000;
/// Keys the CLOCK hand passes over, at most, before evicting one anyway.
pub const SECOND_CHANCES: usize = 8;
/// Shards of the store: each has its own lock and `MAX_KEYS / SHARDS` keys.
const SHARDS: usize = 16;

/// One route's limiter.
pub struct RouteLimiter {
    limiter: RateLimiter<IpAddr, BoundedStore, DefaultClock>,
    clock: DefaultClock,
    checks: AtomicU64,
}

impl std::fmt::Debug for RouteLimiter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RouteLimiter")
            .field("keys", &self.keys())
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
        Self::with_quota(quota, MAX_KEYS)
    }

    fn with_quota(quota: Quota, max_keys: usize) -> Self {
        let clock = DefaultClock::default();
        Self {
            limiter: RateLimiter::new(quota, BoundedStore::new(max_keys), clock.clone()),
            clock,
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
        if n % SWEEP_EVERY == SWEEP_EVERY - 1 {
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

/// Keyed GCRA state (each key's theoretical arrival time) with at most
/// `max_keys` keys, in shards chosen by a keyed hash the client cannot
/// predict.
struct BoundedStore {
    shards: Box<[Mutex<Shard>]>,
    per_shard: usize,
    hasher: RandomState,
}

/// One shard: the states, and the CLOCK ring of their keys (front: the
/// hand). Every key of `states` is in `ring` exactly once.
#[derive(Default)]
struct Shard {
    states: HashMap<Hashed, Slot, BuildHasherDefault<Prehashed>>,
    ring: VecDeque<Hashed>,
}

#[derive(Clone, Copy)]
struct Slot {
    tat: Nanos,
    /// Used since the hand last passed it.
    referenced: bool,
}

/// A key with its hash, computed once: it picks the shard and indexes the
/// shard's table.
#[derive(Clone, Copy, PartialEq, Eq)]
struct Hashed {
    hash: u64,
    ip: IpAddr,
}

impl Hash for Hashed {
    fn hash<H: Hasher>(&self, state: &mut H) {
        state.write_u64(self.hash);
    }
}

/// Passes [`Hashed::hash`] through (it is already a keyed SipHash).
#[derive(Default)]
struct Prehashed(u64);

impl Hasher for Prehashed {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        // Only `write_u64` is ever called; fold anything else in anyway.
        for &b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(b);
        }
    }

    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}

// === impl BoundedStore ===

impl BoundedStore {
    fn new(max_keys: usize) -> Self {
        Self {
            shards: (0..SHARDS).map(|_| Mutex::default()).collect(),
            per_shard: (max_keys / SHARDS).max(1),
            hasher: RandomState::new(),
        }
    }

    fn shard(&self, ip: &IpAddr) -> (Hashed, MutexGuard<'_, Shard>) {
        let hash = self.hasher.hash_one(ip);
        // Bits the table does not use for its slot or its tag.
        let index = (hash >> 32) as usize % SHARDS;
        let guard = self.shards[index]
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        (Hashed { hash, ip: *ip }, guard)
    }

    fn each_shard(&self, mut f: impl FnMut(&mut Shard)) {
        for shard in &self.shards[..] {
            f(&mut shard
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner));
        }
    }
}

impl StateStore for BoundedStore {
    type Key = IpAddr;

    fn measure_and_replace<T, F, E>(&self, ip: &IpAddr, f: F) -> Result<T, E>
    where
        F: Fn(Option<Nanos>) -> Result<(T, Nanos), E>,
    {
        let (key, mut shard) = self.shard(ip);
        if let Some(slot) = shard.states.get_mut(&key) {
            // A refused client is in use too: evicting it would refill its
            // bucket.
            slot.referenced = true;
            let (result, tat) = f(Some(slot.tat))?;
            slot.tat = tat;
            return Ok(result);
        }
        let (result, tat) = f(None)?;
        if shard.states.len() >= self.per_shard {
            shard.evict_one();
        }
        shard.states.insert(
            key,
            Slot {
                tat,
                referenced: false,
            },
        );
        shard.ring.push_back(key);
        Ok(result)
    }
}

impl ShrinkableKeyedStateStore<IpAddr> for BoundedStore {
    fn retain_recent(&self, drop_below: Nanos) {
        self.each_shard(|shard| {
            shard.states.retain(|_, slot| slot.tat > drop_below);
            let states = &shard.states;
            shard.ring.retain(|key| states.contains_key(key));
        });
    }

    fn shrink_to_fit(&self) {
        self.each_shard(|shard| {
            shard.states.shrink_to_fit();
            shard.ring.shrink_to_fit();
        });
    }

    fn len(&self) -> usize {
        let mut n = 0;
        self.each_shard(|shard| n += shard.states.len());
        n
    }

    fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

// === impl Shard ===

impl Shard {
    /// Removes one key: the first the hand finds unused since it last
    /// passed, or after [`SECOND_CHANCES`] used ones, the next regardless.
    fn evict_one(&mut self) {
        for _ in 0..SECOND_CHANCES {
            let Some(key) = self.ring.pop_front() else {
                return;
            };
            match self.states.get_mut(&key) {
                Some(slot) if slot.referenced => {
                    slot.referenced = false;
                    self.ring.push_back(key);
                }
                _ => {
                    self.states.remove(&key);
                    return;
                }
            }
        }
        if let Some(key) = self.ring.pop_front() {
            self.states.remove(&key);
        }
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

    /// `count` addresses no client would send from twice: one per IPv6 /128.
    fn rotating_sources(count: u32) -> impl Iterator<Item = IpAddr> {
        (0..count).map(|i| IpAddr::from([0x2001, 0xdb8, 0, 0, 0, 0, (i >> 16) as u16, i as u16]))
    }

    #[test]
    fn key_count_never_exceeds_the_cap() {
        // Buckets that take 100 s to refill: no key becomes idle during the
        // test, so only the cap can hold the count down.
        let l = RouteLimiter::new(RateLimit {
            per_second: 1,
            burst: 100,
        });
        let extra = 5_000;
        for (i, ip) in rotating_sources(MAX_KEYS as u32 + extra).enumerate() {
            assert!(l.check(ip).is_ok());
            if i % 256 == 0 {
                assert!(l.keys() <= MAX_KEYS, "{} keys after {i}", l.keys());
            }
        }
        assert!(l.keys() <= MAX_KEYS, "{} keys", l.keys());
    }

    #[test]
    fn each_ring_holds_exactly_its_shards_keys() {
        let store = BoundedStore::new(320);
        let take = |tat: u64| move |_: Option<Nanos>| Ok::<_, ()>(((), Nanos::new(tat)));
        for (i, ip) in rotating_sources(5_000).enumerate() {
            store.measure_and_replace(&ip, take(i as u64)).unwrap();
            // Some keys come back (in use), some fall idle and are swept.
            if i % 7 == 0 {
                store.measure_and_replace(&ip, take(i as u64)).unwrap();
            }
            if i % 1000 == 999 {
                store.retain_recent(Nanos::new(i as u64 - 100));
            }
        }
        let mut keys = 0;
        for shard in &store.shards[..] {
            let shard = shard.lock().unwrap();
            assert!(shard.states.len() <= 20);
            assert_eq!(shard.ring.len(), shard.states.len());
            assert!(shard.ring.iter().all(|k| shard.states.contains_key(k)));
            keys += shard.states.len();
        }
        assert_eq!(keys, store.len());
    }

    #[test]
    fn a_throttled_client_keeps_its_state_while_sources_rotate() {
        // One token an hour: a refusal below can only come from kept state.
        let quota = Quota::with_period(Duration::from_secs(3600))
            .unwrap()
            .allow_burst(NonZeroU32::new(2).unwrap());
        let l = RouteLimiter::with_quota(quota, 1_600);
        let busy: IpAddr = [203, 0, 113, 7].into();
        assert!(l.check(busy).is_ok());
        assert!(l.check(busy).is_ok());
        for (i, ip) in rotating_sources(50_000).enumerate() {
            let _ = l.check(ip);
            assert!(l.check(busy).is_err(), "refilled after {i} new sources");
            assert!(l.keys() <= 1_600);
        }
    }

    #[test]
    fn a_full_store_of_busy_keys_still_admits_new_ones() {
        let l = RouteLimiter::with_quota(Quota::per_hour(NonZeroU32::new(1).unwrap()), 160);
        let busy: Vec<IpAddr> = rotating_sources(160).collect();
        // Each key used twice: all marked in use, every shard full or close.
        for _ in 0..2 {
            for ip in &busy {
                let _ = l.check(*ip);
            }
        }
        // A new key evicts after at most SECOND_CHANCES steps, and is held.
        let newcomer: IpAddr = [198, 51, 100, 1].into();
        assert!(l.check(newcomer).is_ok());
        assert!(l.check(newcomer).is_err());
        assert!(l.keys() <= 160);
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
        #[allow(
            clippy::disallowed_methods,
            reason = "a synchronous test that needs real time to pass"
        )]
        std::thread::sleep(Duration::from_millis(20));
        for _ in 0..SWEEP_EVERY {
            let _ = l.check([10, 0, 1, 1].into());
        }
        assert!(l.keys() <= 1, "{} keys left", l.keys());
    }
}
