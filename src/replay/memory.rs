//! The in-process replay store (default; one replica): sharded hash maps with
//! a 16-byte entry per key, bounded by `max_entries` (oldest delivered keys
//! evicted first, in batches), expired keys dropped by lazy sweeps.
//!
//! It does not own the key derivation or the claim/settle contract (see
//! [`super`]), nor anything shared between replicas (see [`super::RedisStore`]).

use std::collections::HashMap;
use std::hash::{BuildHasher, Hash, Hasher};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use super::{Claim, ClaimToken, ReplayKey};

const SHARDS: usize = 16;

/// In-memory replay store: one map per shard and no other per-key memory.
///
/// Expiry and eviction have no order queue: expired keys are swept lazily,
/// and eviction finds the oldest delivered keys by their expiry (all keys
/// share one `ttl`, so the earliest expiry is the oldest delivery).
#[derive(Debug)]
pub struct MemoryStore {
    shards: Box<[Mutex<Shard>]>,
    /// Seconds added to "now" to get a delivered key's expiry (see
    /// [`State::delivered`]).
    ttl_s: u32,
    per_shard_cap: usize,
    epoch: Instant,
    next_token: AtomicU32,
}

#[derive(Debug, Default)]
struct Shard {
    map: HashMap<StoredKey, State, KeyHasher>,
}

/// Bytes 4..16 of a [`ReplayKey`]. Byte 0 picks the shard, so 100 bits of the
/// key's identity remain (96 stored, 4 in the shard's index): a collision
/// would drop a genuine webhook as a duplicate, and with 1,000,000 live keys
/// the odds per arrival are 1e6 / 2^100, below 1e-24.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct StoredKey([u8; 12]);

/// A key's state in 4 bytes. Top bit set: in flight, the low 31 bits are the
/// claim token. Top bit clear: delivered, the value is the second (since the
/// store's epoch) from which the key is forgotten.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct State(u32);

// At a million keys the entry size decides whether the store fits its memory
// budget (bench/run.sh): keep it at 16 bytes (plus hashbrown's control byte).
const _: () = assert!(std::mem::size_of::<(StoredKey, State)>() == 16);

const IN_FLIGHT: u32 = 1 << 31;
const LOW_31: u32 = IN_FLIGHT - 1;

// === impl MemoryStore ===

impl MemoryStore {
    /// A store remembering delivered keys for at least `ttl` (up to ~2 s
    /// longer: expiry is kept in whole seconds), holding at most
    /// `max_entries` keys (at least one per shard) besides in-flight claims.
    pub fn new(ttl: Duration, max_entries: usize) -> Self {
        let shards = (0..SHARDS).map(|_| Mutex::new(Shard::default())).collect();
        // ceil(ttl) + 1: a key delivered at second `s` (anywhere within it)
        // is held while now < s + ceil(ttl) + 1, i.e. more than `ttl`.
        let ttl_s = ttl
            .as_secs()
            .saturating_add(u64::from(ttl.subsec_nanos() > 0))
            .saturating_add(1);
        Self {
            shards,
            ttl_s: u32::try_from(ttl_s).unwrap_or(LOW_31).min(LOW_31),
            per_shard_cap: max_entries.div_ceil(SHARDS).max(1),
            epoch: Instant::now(),
            next_token: AtomicU32::new(0),
        }
    }

    fn shard(&self, key: &ReplayKey) -> &Mutex<Shard> {
        &self.shards[usize::from(key.0[0]) % SHARDS]
    }

    /// Whole seconds since the store was created.
    fn now_s(&self) -> u32 {
        u32::try_from(self.epoch.elapsed().as_secs()).unwrap_or(u32::MAX)
    }

    /// Claims `key` (see [`Claim`]).
    pub fn claim(&self, key: ReplayKey) -> Claim {
        self.claim_at(key, self.now_s())
    }

    /// [`Self::claim`] at `now_s` seconds since the store's epoch.
    fn claim_at(&self, key: ReplayKey, now_s: u32) -> Claim {
        let stored = StoredKey::from(key);
        let mut shard = lock(self.shard(&key));
        if let Some(state) = shard.map.get_mut(&stored) {
            if state.is_in_flight() {
                return Claim::InFlight;
            }
            if !state.is_expired(now_s) {
                return Claim::Delivered;
            }
            // Expired but not swept yet: the key is absent; reuse the entry.
            let token = self.next_token();
            *state = State::in_flight(token);
            return Claim::Acquired(ClaimToken(u128::from(token)));
        }
        shard.make_room(now_s, self.per_shard_cap);
        let token = self.next_token();
        shard.map.insert(stored, State::in_flight(token));
        Claim::Acquired(ClaimToken(u128::from(token)))
    }

    /// A fresh 31-bit claim token. Tokens wrap after 2^31 claims: a stale
    /// settle would change a newer claim only if exactly that many claims
    /// happened in between.
    fn next_token(&self) -> u32 {
        self.next_token.fetch_add(1, Ordering::Relaxed) & LOW_31
    }

    /// Settles a claim this caller owns; a stale token changes nothing.
    pub fn settle(&self, key: ReplayKey, token: ClaimToken, delivered: bool) {
        self.settle_at(key, token, delivered, self.now_s());
    }

    /// [`Self::settle`] at `now_s` seconds since the store's epoch.
    fn settle_at(&self, key: ReplayKey, token: ClaimToken, delivered: bool, now_s: u32) {
        let stored = StoredKey::from(key);
        let mut shard = lock(self.shard(&key));
        let Some(state) = shard.map.get_mut(&stored) else {
            return;
        };
        if !(state.is_in_flight() && u128::from(state.0 & LOW_31) == token.0) {
            return;
        }
        if delivered {
            *state = State::delivered(now_s, self.ttl_s);
        } else {
            shard.map.remove(&stored);
        }
    }

    /// Entries held across all shards: in-flight claims, delivered keys, and
    /// delivered keys that have expired but not been swept yet. It therefore
    /// tracks memory held rather than keys remembered (the
    /// `hookguard_replay_store_entries` gauge reads it).
    pub fn len(&self) -> usize {
        self.shards.iter().map(|s| lock(s).map.len()).sum()
    }

    /// True when no key is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

// === impl Shard ===

impl Shard {
    /// Prepares for inserting one new key at `now_s`.
    ///
    /// Expired keys are swept (one pass over the map) only when the insert
    /// would make the map reallocate or the shard is at its cap, so a sweep
    /// costs O(1) amortised per insert.
    fn make_room(&mut self, now_s: u32, cap: usize) {
        if self.map.len() >= cap {
            self.sweep(now_s);
            if self.map.len() >= cap {
                self.evict_oldest_delivered((cap / 16).max(1));
            }
            return;
        }
        let capacity = self.map.capacity();
        if self.map.len() == capacity {
            let freed = self.sweep(now_s);
            // Grow anyway unless the sweep made real room: otherwise, when
            // about one key expires per insert, every insert would find the
            // map full again and sweep the whole shard to free a single key.
            if freed < capacity / 8 {
                self.map.reserve(capacity + 1 - self.map.len());
            }
        }
    }

    /// Drops expired delivered keys; returns how many.
    fn sweep(&mut self, now_s: u32) -> usize {
        let before = self.map.len();
        self.map.retain(|_, state| !state.is_expired(now_s));
        before - self.map.len()
    }

    /// Forgets the `batch` oldest delivered keys (equal expiries are equally
    /// old at this resolution: which of them go is arbitrary).
    ///
    /// In-flight claims are never evicted: that would let a concurrent copy
    /// of the event through. A shard holding only in-flight claims therefore
    /// exceeds its cap by those (and each further claim there costs a pass
    /// over the shard until one settles).
    fn evict_oldest_delivered(&mut self, batch: usize) {
        let mut expiries: Vec<u32> = self
            .map
            .values()
            .filter(|state| !state.is_in_flight())
            .map(|state| state.0)
            .collect();
        let batch = batch.min(expiries.len());
        if batch == 0 {
            return;
        }
        let (older, &mut threshold, _) = expiries.select_nth_unstable(batch - 1);
        // Everything older than the threshold goes, plus enough keys at the
        // threshold to make up the batch. When many keys share a second (a
        // long ttl, a busy route), "everything at the threshold" could be
        // most of the shard.
        let mut at_threshold = batch - older.iter().filter(|&&e| e < threshold).count();
        self.map.retain(|_, state| {
            if state.is_in_flight() || state.0 > threshold {
                true
            } else if state.0 < threshold {
                false
            } else if at_threshold > 0 {
                at_threshold -= 1;
                false
            } else {
                true
            }
        });
    }
}

fn lock(m: &Mutex<Shard>) -> std::sync::MutexGuard<'_, Shard> {
    // A panic while holding a shard lock cannot leave an entry half-written
    // (each mutation is a single map operation), so poisoning is ignored.
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

// === impl StoredKey ===

impl From<ReplayKey> for StoredKey {
    fn from(key: ReplayKey) -> Self {
        let mut stored = [0u8; 12];
        stored.copy_from_slice(&key.0[4..]);
        Self(stored)
    }
}

impl Hash for StoredKey {
    fn hash<H: Hasher>(&self, state: &mut H) {
        let mut word = [0u8; 8];
        word.copy_from_slice(&self.0[..8]);
        state.write_u64(u64::from_ne_bytes(word));
    }
}

// === impl State ===

impl State {
    fn in_flight(token: u32) -> Self {
        Self(IN_FLIGHT | (token & LOW_31))
    }

    /// Delivered at `now_s`: held while the clock reads less than
    /// `now_s + ttl_s` (saturating; 2^31 s is 68 years of uptime).
    fn delivered(now_s: u32, ttl_s: u32) -> Self {
        Self(now_s.saturating_add(ttl_s).min(LOW_31))
    }

    fn is_in_flight(self) -> bool {
        self.0 & IN_FLIGHT != 0
    }

    /// A delivered key whose time has passed (in-flight claims never expire).
    fn is_expired(self, now_s: u32) -> bool {
        !self.is_in_flight() && now_s >= self.0
    }
}

/// Keys are already uniform SHA-256 output: hashing them again with SipHash
/// would only cost time, so the map uses 8 of the key's own bytes.
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
    fn write_u64(&mut self, word: u64) {
        self.0 = word;
    }
    fn write(&mut self, bytes: &[u8]) {
        // Not reached: StoredKey hashes through write_u64. Should anything
        // else ever be hashed, every byte still counts.
        for &b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(b);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::providers::Dedup;

    const DAY: Duration = Duration::from_secs(24 * 3600);

    fn key(n: u32) -> ReplayKey {
        ReplayKey::derive("/r", &Dedup::SignedId(format!("evt_{n}"))).unwrap()
    }

    /// `count` distinct keys that all land in shard 0.
    fn shard0_keys(count: usize) -> Vec<ReplayKey> {
        (0..)
            .map(key)
            .filter(|k| usize::from(k.0[0]) % SHARDS == 0)
            .take(count)
            .collect()
    }

    /// A key's state without claiming it.
    fn peek(store: &MemoryStore, key: ReplayKey) -> Option<State> {
        lock(store.shard(&key))
            .map
            .get(&StoredKey::from(key))
            .copied()
    }

    fn deliver(store: &MemoryStore, key: ReplayKey, now_s: u32) {
        let Claim::Acquired(t) = store.claim_at(key, now_s) else {
            panic!("key must be fresh")
        };
        store.settle_at(key, t, true, now_s);
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
        deliver(&store, key(1), 100);
        assert_eq!(store.claim_at(key(1), 100), Claim::Delivered);
        // Remembered for the whole ttl (a delivery late in second 100 is
        // still within ttl at the end of second 129)...
        assert_eq!(store.claim_at(key(1), 130), Claim::Delivered);
        // ...and forgotten a couple of seconds after.
        assert!(matches!(store.claim_at(key(1), 132), Claim::Acquired(_)));
    }

    #[test]
    fn a_fractional_ttl_rounds_up() {
        let store = MemoryStore::new(Duration::from_millis(1500), 100);
        deliver(&store, key(1), 10);
        assert_eq!(store.claim_at(key(1), 12), Claim::Delivered);
        assert!(matches!(store.claim_at(key(1), 13), Claim::Acquired(_)));
    }

    #[test]
    fn an_expired_entry_is_reclaimed_in_place() {
        let store = MemoryStore::new(Duration::from_secs(10), 100);
        let Claim::Acquired(old) = store.claim_at(key(1), 0) else {
            panic!()
        };
        store.settle_at(key(1), old, true, 0);
        let Claim::Acquired(new) = store.claim_at(key(1), 20) else {
            panic!("an expired key is absent")
        };
        assert_ne!(old, new);
        assert_eq!(store.len(), 1, "the entry is reused, not duplicated");
        assert_eq!(store.claim_at(key(1), 20), Claim::InFlight);
        // The old claim's token does not settle the new claim.
        store.settle_at(key(1), old, false, 20);
        assert_eq!(store.claim_at(key(1), 20), Claim::InFlight);
        store.settle_at(key(1), new, true, 20);
        assert_eq!(store.claim_at(key(1), 25), Claim::Delivered);
    }

    #[test]
    fn capacity_evicts_oldest_first() {
        let store = MemoryStore::new(DAY, SHARDS * 2);
        for n in 0..10_000 {
            deliver(&store, key(n), n);
        }
        assert!(store.len() <= SHARDS * 2, "len {}", store.len());
        // The newest key is still remembered; the first is long gone.
        assert_eq!(store.claim_at(key(9_999), 10_000), Claim::Delivered);
        assert!(matches!(store.claim_at(key(0), 10_000), Claim::Acquired(_)));
    }

    #[test]
    fn an_eviction_batch_keeps_the_newest_keys() {
        // 32 keys per shard: batches of 2.
        let store = MemoryStore::new(DAY, SHARDS * 32);
        let keys = shard0_keys(100);
        for (now_s, &k) in (0..).zip(&keys) {
            deliver(&store, k, now_s);
        }
        let held = lock(&store.shards[0]).map.len();
        assert!((30..=32).contains(&held), "held {held}");
        for &k in &keys[keys.len() - 30..] {
            assert!(peek(&store, k).is_some(), "a newest key was evicted");
        }
        for &k in &keys[..keys.len() - 32] {
            assert_eq!(peek(&store, k), None, "an old key survived");
        }
    }

    #[test]
    fn an_eviction_removes_one_batch_even_when_expiries_tie() {
        // 32 keys per shard: batches of 2.
        let store = MemoryStore::new(DAY, SHARDS * 32);
        let keys = shard0_keys(100);
        for (i, &k) in keys.iter().enumerate() {
            // All in the same second: every expiry is equal, and evicting
            // every key at the oldest expiry would empty the shard.
            deliver(&store, k, 7);
            let held = lock(&store.shards[0]).map.len();
            assert!(held >= (i + 1).min(30), "held {held} after {} keys", i + 1);
        }
        assert!(peek(&store, keys[99]).is_some(), "the newest key is held");
    }

    #[test]
    fn in_flight_claims_are_never_evicted() {
        // One key per shard.
        let store = MemoryStore::new(DAY, SHARDS);
        let keys = shard0_keys(20);
        deliver(&store, keys[0], 0);
        for &k in &keys[1..] {
            assert!(matches!(store.claim_at(k, 0), Claim::Acquired(_)));
        }
        // The delivered key made room for the first claim...
        assert_eq!(peek(&store, keys[0]), None);
        // ...and the claims, all in flight, exceed the cap instead of
        // evicting each other.
        for &k in &keys[1..] {
            assert_eq!(store.claim_at(k, 0), Claim::InFlight);
        }
        assert_eq!(store.len(), keys.len() - 1);
    }

    #[test]
    fn expired_keys_are_swept_in_a_steady_state() {
        // 100 deliveries a second, each remembered 2 s (a 1 s ttl rounded
        // up, plus 1): at most 200 keys are live at any time.
        let store = MemoryStore::new(Duration::from_secs(1), 1_000_000);
        let live = 200;
        let mut max_len = 0;
        for n in 0..100_000 {
            deliver(&store, key(n), n / 100);
            max_len = max_len.max(store.len());
        }
        assert!(max_len <= 4 * live, "max len {max_len}");
        // Long-expired keys are absent, not delivered.
        assert!(matches!(store.claim_at(key(0), 1_000), Claim::Acquired(_)));
    }
}
