//! The memory store through its public face (claim, settle, len) on a clock
//! the tests step, and the real clock it runs on. The shard's internals
//! (sweep, room, eviction batches, hashing) are pinned in `shard_tests`.

use std::collections::HashSet;

use super::*;
use crate::providers::Dedup;

const DAY: Duration = Duration::from_secs(24 * 3600);

/// A store whose clock reads what the test sets (0 ms to start with).
fn manual_store(ttl: Duration, max_entries: usize) -> MemoryStore {
    MemoryStore::with_clock(ttl, max_entries, Clock::Manual(AtomicU64::new(0)))
}

fn set_ms(store: &MemoryStore, ms: u64) {
    let Clock::Manual(now) = &store.clock else {
        panic!("the test store has a manual clock")
    };
    now.store(ms, Ordering::Relaxed);
}

fn set_s(store: &MemoryStore, s: u64) {
    set_ms(store, s * 1000);
}

pub(super) fn key(n: u32) -> ReplayKey {
    ReplayKey::derive("/r", &Dedup::SignedId(format!("evt_{n}"))).unwrap()
}

/// `count` distinct keys that all land in shard 0.
fn shard0_keys(count: usize) -> Vec<ReplayKey> {
    // A bounded search: should keys stop reaching shard 0, fail, not hang.
    let keys: Vec<ReplayKey> = (0..1_000_000)
        .map(key)
        .filter(|k| shard_index(k) == 0)
        .take(count)
        .collect();
    assert_eq!(keys.len(), count, "keys do not spread to shard 0");
    keys
}

/// A key's state without claiming it.
fn peek(store: &MemoryStore, key: ReplayKey) -> Option<State> {
    lock(store.shard(&key))
        .map
        .get(&StoredKey::from(key))
        .copied()
}

fn acquire(store: &MemoryStore, key: ReplayKey) -> ClaimToken {
    match store.claim(key) {
        Claim::Acquired(token) => token,
        other => panic!("key must be fresh, got {other:?}"),
    }
}

/// Claims and delivers `key` at the clock's current time.
fn deliver(store: &MemoryStore, key: ReplayKey) {
    let token = acquire(store, key);
    store.settle(key, token, true);
}

fn shard_len(store: &MemoryStore, index: usize) -> usize {
    lock(&store.shards[index]).map.len()
}

// --- claims, settles and tokens ---

#[test]
fn claim_settle_state_machine() {
    let store = manual_store(Duration::from_secs(60), 100);
    let t = acquire(&store, key(1));
    assert_eq!(store.claim(key(1)), Claim::InFlight);
    store.settle(key(1), t, true);
    assert_eq!(store.claim(key(1)), Claim::Delivered);

    let t2 = acquire(&store, key(2));
    store.settle(key(2), t2, false);
    assert!(matches!(store.claim(key(2)), Claim::Acquired(_)));
}

#[test]
fn a_settle_with_a_stale_token_does_nothing() {
    let store = manual_store(Duration::from_secs(60), 100);
    let old = acquire(&store, key(1));
    store.settle(key(1), old, false);
    let new = acquire(&store, key(1));
    // The released claim's token neither delivers nor releases the new one.
    store.settle(key(1), old, true);
    assert_eq!(store.claim(key(1)), Claim::InFlight);
    store.settle(key(1), old, false);
    assert_eq!(store.claim(key(1)), Claim::InFlight);
    // Its own token still settles it; once delivered, no token releases it.
    store.settle(key(1), new, true);
    store.settle(key(1), new, false);
    store.settle(key(1), old, false);
    assert_eq!(store.claim(key(1)), Claim::Delivered);
    // Settling a key that is not held does not create it.
    store.settle(key(2), new, true);
    assert_eq!(peek(&store, key(2)), None);
    assert_eq!(store.len(), 1);
}

#[test]
fn claim_tokens_are_distinct() {
    let store = manual_store(DAY, 1_000_000);
    let tokens: HashSet<u128> = (0..10_000).map(|n| acquire(&store, key(n)).0).collect();
    assert_eq!(tokens.len(), 10_000);
}

#[test]
fn tokens_keep_settling_where_the_counter_wraps() {
    // The counter is 32 bits and tokens 31: both wraps must keep working.
    for start in [LOW_31 - 1, u32::MAX - 1] {
        let store = manual_store(DAY, 100);
        store.next_token.store(start, Ordering::Relaxed);
        let tokens: Vec<ClaimToken> = (0..4).map(|n| acquire(&store, key(n))).collect();
        for (n, token) in (0..).zip(tokens) {
            store.settle(key(n), token, true);
            assert_eq!(store.claim(key(n)), Claim::Delivered, "start {start}");
        }
    }
}

#[test]
fn len_and_is_empty_count_held_entries() {
    let store = manual_store(Duration::from_secs(10), 100);
    assert!(store.is_empty());
    assert_eq!(store.len(), 0);
    let token = acquire(&store, key(1));
    assert!(!store.is_empty(), "an in-flight claim is held");
    assert_eq!(store.len(), 1);
    store.settle(key(1), token, true);
    deliver(&store, key(2));
    assert_eq!(store.len(), 2);
    // Expired but not swept: still held (memory, not keys remembered).
    set_s(&store, 1_000);
    assert!(!store.is_empty());
    let token = acquire(&store, key(3));
    store.settle(key(3), token, false);
    assert_eq!(store.len(), 2, "a released claim is forgotten");
}

// --- the clock and expiry ---

#[test]
fn the_real_clock_counts_whole_seconds_since_the_store_started() {
    let fresh = MemoryStore::new(DAY, 100);
    assert!(fresh.now_s() < 600, "a new store starts near 0");
    let epoch = Instant::now()
        .checked_sub(Duration::from_secs(100))
        .expect("the monotonic clock is more than 100 s old");
    let store = MemoryStore::with_clock(DAY, 100, Clock::Monotonic(epoch));
    let now = store.now_s();
    assert!((100..700).contains(&now), "now_s {now}");
}

#[test]
fn a_delivered_key_is_remembered_for_ttl_and_forgotten_within_the_rounding() {
    const TTLS_MS: [u64; 8] = [0, 1, 999, 1_000, 1_001, 1_500, 30_000, 86_400_000];
    const DELIVERED_AT_MS: [u64; 7] = [0, 1, 999, 1_000, 1_001, 123_456, 4_000_000_999];
    for ttl_ms in TTLS_MS {
        for at in DELIVERED_AT_MS {
            let case = format!("ttl {ttl_ms} ms, delivered at {at} ms");
            let store = manual_store(Duration::from_millis(ttl_ms), 100);
            set_ms(&store, at);
            deliver(&store, key(1));
            // Never forgotten before `ttl` has passed...
            for probe in [at, at + ttl_ms / 2, at + ttl_ms] {
                set_ms(&store, probe);
                assert_eq!(store.claim(key(1)), Claim::Delivered, "{case}: at {probe}");
            }
            // ...and forgotten exactly when the module doc says: when second
            // `s + ceil(ttl) + 1` begins, which is less than 2 s late.
            let forgotten_ms = (at / 1000 + ttl_ms.div_ceil(1000) + 1) * 1000;
            assert!(forgotten_ms > at + ttl_ms && forgotten_ms < at + ttl_ms + 2000);
            set_ms(&store, forgotten_ms - 1);
            assert_eq!(store.claim(key(1)), Claim::Delivered, "{case}");
            set_ms(&store, forgotten_ms);
            assert!(matches!(store.claim(key(1)), Claim::Acquired(_)), "{case}");
        }
    }
}

#[test]
fn in_flight_claims_do_not_expire() {
    let store = manual_store(Duration::from_secs(1), 100);
    acquire(&store, key(1));
    set_s(&store, 1_000_000);
    assert_eq!(store.claim(key(1)), Claim::InFlight);
}

#[test]
fn an_expired_entry_is_reclaimed_in_place() {
    let store = manual_store(Duration::from_secs(10), 100);
    let old = acquire(&store, key(1));
    store.settle(key(1), old, true);
    set_s(&store, 20);
    let new = acquire(&store, key(1));
    assert_ne!(old, new);
    assert_eq!(store.len(), 1, "the entry is reused, not duplicated");
    assert_eq!(store.claim(key(1)), Claim::InFlight);
    // The old claim's token does not settle the new claim.
    store.settle(key(1), old, false);
    assert_eq!(store.claim(key(1)), Claim::InFlight);
    store.settle(key(1), new, true);
    set_s(&store, 25);
    assert_eq!(store.claim(key(1)), Claim::Delivered);
}

#[test]
fn expired_keys_are_swept_in_a_steady_state() {
    // 100 deliveries a second, each remembered 2 s (a 1 s ttl rounded up,
    // plus 1): at most 200 keys are live at any time.
    let store = manual_store(Duration::from_secs(1), 1_000_000);
    let live = 200;
    let mut max_len = 0;
    for n in 0..100_000 {
        set_s(&store, u64::from(n / 100));
        deliver(&store, key(n));
        max_len = max_len.max(store.len());
    }
    assert!(max_len <= 4 * live, "max len {max_len}");
    // Long-expired keys are absent, not delivered.
    set_s(&store, 1_000);
    assert!(matches!(store.claim(key(0)), Claim::Acquired(_)));
}

// --- capacity and eviction ---

#[test]
fn the_capacity_bound_holds() {
    for max_entries in [1, 15, 16, 100, 1_000] {
        let store = manual_store(DAY, max_entries);
        let bound = max_entries.max(SHARDS);
        for n in 0..3_000 {
            set_s(&store, u64::from(n));
            deliver(&store, key(n));
            assert!(store.len() <= bound, "{max_entries}: len {}", store.len());
        }
        // And the bound is used, not undercut: every shard is full, or one
        // eviction batch short of it (plus the key that made it evict).
        let per_shard = (max_entries / SHARDS).max(1);
        let batch = (per_shard / 16).max(1);
        for index in 0..SHARDS {
            let len = shard_len(&store, index);
            assert!(
                (per_shard + 1 - batch..=per_shard).contains(&len),
                "{max_entries}: shard {index} holds {len}"
            );
        }
    }
}

#[test]
fn capacity_evicts_oldest_first() {
    let store = manual_store(DAY, SHARDS * 2);
    for n in 0..10_000 {
        set_s(&store, u64::from(n));
        deliver(&store, key(n));
    }
    assert!(store.len() <= SHARDS * 2, "len {}", store.len());
    // The newest key is still remembered; the first is long gone.
    set_s(&store, 10_000);
    assert_eq!(store.claim(key(9_999)), Claim::Delivered);
    assert!(matches!(store.claim(key(0)), Claim::Acquired(_)));
}

#[test]
fn an_eviction_batch_keeps_the_newest_keys() {
    // 32 keys per shard: batches of 2.
    let store = manual_store(DAY, SHARDS * 32);
    let keys = shard0_keys(100);
    for (now_s, &k) in (0..).zip(&keys) {
        set_s(&store, now_s);
        deliver(&store, k);
    }
    // 32 held after the 32nd key; every later key evicts a batch of 2 when
    // the shard is full, so the count alternates between 31 and 32.
    assert_eq!(shard_len(&store, 0), 32);
    for &k in &keys[keys.len() - 32..] {
        assert!(peek(&store, k).is_some(), "a newest key was evicted");
    }
    for &k in &keys[..keys.len() - 32] {
        assert_eq!(peek(&store, k), None, "an old key survived");
    }
}

#[test]
fn an_eviction_removes_one_batch_even_when_expiries_tie() {
    // 32 keys per shard: batches of 2.
    let store = manual_store(DAY, SHARDS * 32);
    set_s(&store, 7);
    let keys = shard0_keys(100);
    for (i, &k) in keys.iter().enumerate() {
        // All in the same second: every expiry is equal, and evicting every
        // key at the oldest expiry would empty the shard.
        deliver(&store, k);
        let held = shard_len(&store, 0);
        assert!(held >= (i + 1).min(31), "held {held} after {} keys", i + 1);
    }
    assert!(peek(&store, keys[99]).is_some(), "the newest key is held");
}

#[test]
fn in_flight_claims_are_never_evicted() {
    // One key per shard.
    let store = manual_store(DAY, SHARDS);
    let keys = shard0_keys(20);
    deliver(&store, keys[0]);
    for &k in &keys[1..] {
        acquire(&store, k);
    }
    // The delivered key made room for the first claim...
    assert_eq!(peek(&store, keys[0]), None);
    // ...and the claims, all in flight, exceed the cap instead of evicting
    // each other.
    for &k in &keys[1..] {
        assert_eq!(store.claim(k), Claim::InFlight);
    }
    assert_eq!(store.len(), keys.len() - 1);
}
