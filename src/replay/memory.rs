//! The in-process replay store (default; one replica): sharded hash maps with
//! a 16-byte entry per key, bounded by `max_entries` (oldest delivered keys
//! evicted first, in batches), expired keys dropped by lazy sweeps.
//!
//! Time is kept in whole seconds of a monotonic clock started with the store,
//! so a delivered key is remembered for at least `ttl` and less than 2 s
//! longer: a key delivered during second `s` is forgotten when second
//! `s + ceil(ttl) + 1` begins. With a whole-second `ttl` that is at most 1 s
//! late; rounding a fractional `ttl` up adds less than 1 s more.
//!
//! It does not own the key derivation or the claim/settle contract (see
//! [`super`]), nor anything shared between replicas (see [`super::RedisStore`]).

use std::collections::HashMap;
use std::hash::{BuildHasher, Hash, Hasher};
#[cfg(test)]
use std::sync::atomic::AtomicU64;
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
    clock: Clock,
    next_token: AtomicU32,
}

/// Where the store reads the time since its epoch.
///
/// An enum rather than a trait object: outside tests it has one variant, so
/// reading it costs what reading the `Instant` did.
#[derive(Debug)]
enum Clock {
    /// The real clock. Monotonic, so a wall-clock step neither forgets keys
    /// early nor keeps them.
    Monotonic(Instant),
    /// Milliseconds since the epoch, set by hand: tests step time instead
    /// of sleeping.
    #[cfg(test)]
    Manual(AtomicU64),
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
    /// A store remembering delivered keys for at least `ttl` (less than 2 s
    /// longer: see the module doc), holding at most `max_entries` keys (but
    /// at least one per shard) besides in-flight claims.
    pub fn new(ttl: Duration, max_entries: usize) -> Self {
        Self::with_clock(ttl, max_entries, Clock::Monotonic(Instant::now()))
    }

    fn with_clock(ttl: Duration, max_entries: usize, clock: Clock) -> Self {
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
            // Rounded down: the shards' caps add up to at most `max_entries`.
            per_shard_cap: (max_entries / SHARDS).max(1),
            clock,
            next_token: AtomicU32::new(0),
        }
    }

    fn shard(&self, key: &ReplayKey) -> &Mutex<Shard> {
        &self.shards[shard_index(key)]
    }

    /// Whole seconds since the store's epoch (truncated: see the module doc).
    fn now_s(&self) -> u32 {
        u32::try_from(self.clock.elapsed().as_secs()).unwrap_or(u32::MAX)
    }

    /// Claims `key` (see [`Claim`]).
    pub fn claim(&self, key: ReplayKey) -> Claim {
        let now_s = self.now_s();
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
        let now_s = self.now_s();
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

/// The shard holding `key`: its first byte, which [`StoredKey`] leaves out.
fn shard_index(key: &ReplayKey) -> usize {
    // Any 4 bits of that byte would do (`/` in place of `%` is an equivalent
    // mutant): it is uniform, and none of it is stored.
    usize::from(key.0[0]) % SHARDS
}

// === impl Clock ===

impl Clock {
    fn elapsed(&self) -> Duration {
        match self {
            Self::Monotonic(epoch) => epoch.elapsed(),
            #[cfg(test)]
            Self::Manual(ms) => Duration::from_millis(ms.load(Ordering::Relaxed)),
        }
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
        // The bits are disjoint, so `^` for `|` is an equivalent mutant.
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

#[derive(Debug)]
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
mod shard_tests;
#[cfg(test)]
mod tests;
