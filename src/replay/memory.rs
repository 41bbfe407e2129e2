//! The in-process replay store (default; one replica): sharded maps bounded
//! by `max_entries`, oldest evicted first, with memory proportional to the
//! number of keys.

use std::collections::{HashMap, VecDeque};
use std::hash::{BuildHasher, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use super::{Claim, ClaimToken, ReplayKey};

const SHARDS: usize = 16;

/// In-memory replay store: sharded maps plus per-shard FIFO queues that give
/// both TTL expiry and oldest-first eviction in O(1) amortised per operation.
#[derive(Debug)]
pub struct MemoryStore {
    shards: Box<[Mutex<Shard>]>,
    ttl: Duration,
    per_shard_cap: usize,
    epoch: Instant,
    next_token: AtomicU64,
}

#[derive(Debug, Default)]
struct Shard {
    slots: HashMap<ReplayKey, Slot, KeyHasher>,
    /// Insertion order: (key, token of the slot it was queued for).
    order: VecDeque<(ReplayKey, u64)>,
}

/// 16 bytes (an `Option<u64>` would make it 24): at a million keys the slot
/// size decides whether the store fits its memory budget (bench/run.sh).
#[derive(Debug, Clone, Copy)]
struct Slot {
    token: u64,
    /// [`IN_FLIGHT`] while in flight; else milliseconds since `epoch` when the
    /// delivered key expires (never 0, see [`MemoryStore::settle`]).
    delivered_until_ms: u64,
}

/// `Slot::delivered_until_ms` of a claim not settled yet.
const IN_FLIGHT: u64 = 0;

// === impl MemoryStore ===

impl MemoryStore {
    /// A store remembering delivered keys for `ttl`, holding at most
    /// `max_entries` keys (at least one per shard).
    pub fn new(ttl: Duration, max_entries: usize) -> Self {
        let shards = (0..SHARDS).map(|_| Mutex::new(Shard::default())).collect();
        Self {
            shards,
            ttl,
            per_shard_cap: max_entries.div_ceil(SHARDS).max(1),
            epoch: Instant::now(),
            next_token: AtomicU64::new(1),
        }
    }

    fn shard(&self, key: &ReplayKey) -> &Mutex<Shard> {
        &self.shards[usize::from(key.0[0]) % SHARDS]
    }

    fn now_ms(&self) -> u64 {
        u64::try_from(self.epoch.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    /// Claims `key` (see [`Claim`]).
    pub fn claim(&self, key: ReplayKey) -> Claim {
        self.claim_at(key, self.now_ms())
    }

    /// [`Self::claim`] at `now` milliseconds since the store's epoch.
    fn claim_at(&self, key: ReplayKey, now: u64) -> Claim {
        let mut shard = lock(self.shard(&key));
        shard.expire(now);
        if let Some(slot) = shard.slots.get(&key) {
            return match slot.delivered_until_ms {
                IN_FLIGHT => Claim::InFlight,
                _ => Claim::Delivered,
            };
        }
        let token = self.next_token.fetch_add(1, Ordering::Relaxed);
        while shard.slots.len() >= self.per_shard_cap {
            if !shard.evict_oldest() {
                break;
            }
        }
        shard.slots.insert(
            key,
            Slot {
                token,
                delivered_until_ms: IN_FLIGHT,
            },
        );
        shard.order.push_back((key, token));
        Claim::Acquired(ClaimToken(u128::from(token)))
    }

    /// Settles a claim this caller owns; a stale token changes nothing.
    pub fn settle(&self, key: ReplayKey, token: ClaimToken, delivered: bool) {
        self.settle_at(key, token, delivered, self.now_ms());
    }

    /// [`Self::settle`] at `now` milliseconds since the store's epoch.
    fn settle_at(&self, key: ReplayKey, token: ClaimToken, delivered: bool, now: u64) {
        let until = now
            .saturating_add(u64::try_from(self.ttl.as_millis()).unwrap_or(u64::MAX))
            .max(IN_FLIGHT + 1);
        let mut shard = lock(self.shard(&key));
        let owned = matches!(shard.slots.get(&key), Some(s) if u128::from(s.token) == token.0);
        if !owned {
            return;
        }
        if delivered {
            if let Some(slot) = shard.slots.get_mut(&key) {
                slot.delivered_until_ms = until;
            }
        } else {
            shard.slots.remove(&key);
        }
    }

    /// Keys currently held across all shards.
    pub fn len(&self) -> usize {
        self.shards.iter().map(|s| lock(s).slots.len()).sum()
    }

    /// True when no key is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

// === impl Shard ===

impl Shard {
    /// Drops delivered keys whose TTL has passed, from the front of the queue.
    /// Queue entries whose slot was released or re-claimed are skipped.
    fn expire(&mut self, now_ms: u64) {
        while let Some(&(key, token)) = self.order.front() {
            match self.slots.get(&key) {
                Some(slot) if slot.token == token => {
                    let until = slot.delivered_until_ms;
                    // The oldest live key is in flight or still valid: stop.
                    if until == IN_FLIGHT || until > now_ms {
                        return;
                    }
                    self.slots.remove(&key);
                    self.order.pop_front();
                }
                _ => {
                    self.order.pop_front();
                }
            }
        }
    }

    /// Removes the oldest live key; false when there is none.
    fn evict_oldest(&mut self) -> bool {
        while let Some((key, token)) = self.order.pop_front() {
            if matches!(self.slots.get(&key), Some(s) if s.token == token) {
                self.slots.remove(&key);
                return true;
            }
        }
        false
    }
}

fn lock(m: &Mutex<Shard>) -> std::sync::MutexGuard<'_, Shard> {
    // A panic while holding a shard lock cannot leave a slot half-written
    // (each mutation is a single map operation), so poisoning is ignored.
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Keys are already uniform SHA-256 output: hashing them again with SipHash
/// would only cost time, so the map uses the key's own bytes.
#[derive(Debug, Default, Clone, Copy)]
struct KeyHasher;

impl BuildHasher for KeyHasher {
    type Hasher = KeyHasherState;
    fn build_hasher(&self) -> KeyHasherState {
        KeyHasherState(0)
    }
}

#[derive(Debug, Default)]
struct KeyHasherState(u64);

impl Hasher for KeyHasherState {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        // Only ever fed one ReplayKey ([u8; 16] hashes as its bytes, possibly
        // preceded by a length). Take 8 bytes from the middle of the key.
        for &b in bytes.iter().skip(4).take(8) {
            self.0 = (self.0 << 8) | u64::from(b);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::providers::Dedup;

    fn key(n: u32) -> ReplayKey {
        ReplayKey::derive("/r", &Dedup::SignedId(format!("evt_{n}"))).unwrap()
    }

    #[test]
    fn claim_settle_state_machine() {
        let store = MemoryStore::new(Duration::from_secs(60), 100);
        let Claim::Acquired(t) = store.claim(key(1)) else {
            panic!("first claim must be acquired")
        };
        assert_eq!(store.claim(key(1)), Claim::InFlight);
        store.settle(key(1), t, true);
        assert_eq!(store.claim(key(1)), Claim::Delivered);

        let Claim::Acquired(t2) = store.claim(key(2)) else {
            panic!("fresh key")
        };
        store.settle(key(2), t2, false);
        assert!(matches!(store.claim(key(2)), Claim::Acquired(_)));
    }

    #[test]
    fn stale_token_cannot_settle_a_newer_claim() {
        let store = MemoryStore::new(Duration::from_secs(60), 100);
        let Claim::Acquired(old) = store.claim(key(1)) else {
            panic!()
        };
        store.settle(key(1), old, false);
        let Claim::Acquired(_new) = store.claim(key(1)) else {
            panic!()
        };
        store.settle(key(1), old, true);
        assert_eq!(store.claim(key(1)), Claim::InFlight);
    }

    #[test]
    fn delivered_keys_expire_after_ttl() {
        let store = MemoryStore::new(Duration::from_secs(30), 100);
        let Claim::Acquired(t) = store.claim_at(key(1), 100_000) else {
            panic!()
        };
        store.settle_at(key(1), t, true, 100_000);
        assert_eq!(store.claim_at(key(1), 100_000), Claim::Delivered);
        assert_eq!(store.claim_at(key(1), 129_999), Claim::Delivered);
        assert!(matches!(
            store.claim_at(key(1), 132_000),
            Claim::Acquired(_)
        ));
    }

    #[test]
    fn capacity_evicts_oldest_first() {
        let store = MemoryStore::new(Duration::from_secs(60), SHARDS * 2);
        for n in 0..10_000 {
            if let Claim::Acquired(t) = store.claim(key(n)) {
                store.settle(key(n), t, true);
            }
        }
        assert!(store.len() <= SHARDS * 2, "len {}", store.len());
        // The newest key is still remembered; the first is long gone.
        assert_eq!(store.claim(key(9_999)), Claim::Delivered);
        assert!(matches!(store.claim(key(0)), Claim::Acquired(_)));
    }
}
