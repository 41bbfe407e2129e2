//! One shard's internals, driven directly with chosen states: sweeping,
//! making room (when it sweeps, grows or evicts), the exact arithmetic of an
//! eviction batch, the state encoding, and how keys spread over shards and
//! hash buckets.

use std::collections::HashSet;

use super::tests::key;
use super::*;

/// A shard holding one key per state.
fn shard_with(states: &[State]) -> Shard {
    shard_with_capacity(states.len(), states)
}

fn shard_with_capacity(capacity: usize, states: &[State]) -> Shard {
    let mut shard = Shard {
        map: HashMap::with_capacity_and_hasher(capacity, KeyHasher),
    };
    for (n, &state) in (0..).zip(states) {
        shard.map.insert(StoredKey::from(key(n)), state);
    }
    shard
}

/// Delivered keys forgotten from each of `expiries` (in seconds).
fn delivered(expiries: impl IntoIterator<Item = u32>) -> Vec<State> {
    expiries.into_iter().map(State).collect()
}

/// The expiries of the delivered keys left, sorted.
fn delivered_left(shard: &Shard) -> Vec<u32> {
    let mut left: Vec<u32> = shard
        .map
        .values()
        .filter(|s| !s.is_in_flight())
        .map(|s| s.0)
        .collect();
    left.sort_unstable();
    left
}

fn in_flight_left(shard: &Shard) -> usize {
    shard.map.values().filter(|s| s.is_in_flight()).count()
}

// --- the state encoding ---

#[test]
fn state_queries() {
    let claim = State::in_flight(7);
    assert!(claim.is_in_flight());
    assert_eq!(claim.0 & LOW_31, 7, "the token is kept");
    assert_eq!(State::in_flight(IN_FLIGHT | 7), claim, "31 bits of token");
    assert!(!claim.is_expired(u32::MAX), "a claim never expires");

    let done = State::delivered(10, 5);
    assert!(!done.is_in_flight());
    assert!(!done.is_expired(14));
    assert!(done.is_expired(15));
    // Far past 68 years the expiry saturates: still delivered, not a claim.
    let far = State::delivered(LOW_31 - 1, 10);
    assert!(!far.is_in_flight());
    assert!(!far.is_expired(LOW_31 - 1));
}

// --- sweep ---

#[test]
fn a_sweep_drops_expired_delivered_keys_and_counts_them() {
    let mut states = delivered([5, 6, 7, 8, 100]);
    states.extend([State::in_flight(1), State::in_flight(2)]);
    let mut shard = shard_with(&states);
    assert_eq!(shard.sweep(4), 0);
    assert_eq!(shard.sweep(7), 3, "keys forgotten from 5, 6 and 7");
    assert_eq!(delivered_left(&shard), [8, 100]);
    assert_eq!(in_flight_left(&shard), 2);
    assert_eq!(shard.sweep(u32::MAX), 2);
    assert_eq!(in_flight_left(&shard), 2, "claims are never swept");
}

// --- make_room below the cap ---

#[test]
fn room_below_the_cap_keeps_expired_keys_while_the_map_has_space() {
    // Sweeping on every insert would cost a pass over the shard each time.
    let mut shard = shard_with_capacity(50, &delivered([5; 20]));
    assert!(shard.map.capacity() > 20);
    shard.make_room(10, usize::MAX);
    assert_eq!(shard.map.len(), 20);
}

/// A full map (len == capacity) with `expired` keys expired at second 5.
fn full_shard(expired: usize) -> Shard {
    let mut shard = Shard {
        map: HashMap::with_capacity_and_hasher(50, KeyHasher),
    };
    let capacity = shard.map.capacity();
    for (i, n) in (0..capacity).zip(0..) {
        let expiry = if i < expired { 5 } else { 100 };
        shard.map.insert(StoredKey::from(key(n)), State(expiry));
    }
    assert_eq!(shard.map.len(), shard.map.capacity());
    shard
}

#[test]
fn room_in_a_full_map_sweeps_then_grows_unless_the_sweep_freed_an_eighth() {
    let capacity = full_shard(0).map.capacity();
    let eighth = capacity / 8;
    assert!(eighth >= 2, "capacity {capacity}");
    for expired in [0, 1, eighth - 1, eighth, eighth + 1, capacity / 2] {
        let mut shard = full_shard(expired);
        shard.make_room(5, usize::MAX);
        assert_eq!(shard.map.len(), capacity - expired, "{expired} swept");
        let grown = shard.map.capacity();
        if expired < eighth {
            // One growth step, as the insert itself would have taken.
            assert!(
                grown > capacity && grown <= 2 * capacity,
                "{expired} expired: capacity {capacity} -> {grown}"
            );
        } else {
            assert!(grown <= capacity, "{expired} expired: grew to {grown}");
        }
    }
}

// --- make_room at the cap ---

#[test]
fn room_at_the_cap_sweeps_before_evicting() {
    let mut states = delivered([5; 4]);
    states.extend(delivered(100..128));
    let mut shard = shard_with(&states);
    shard.make_room(5, 32);
    assert_eq!(delivered_left(&shard), (100..128).collect::<Vec<_>>());
}

#[test]
fn room_at_the_cap_evicts_a_sixteenth_of_the_shard() {
    for (cap, batch) in [(1, 1), (15, 1), (16, 1), (32, 2), (100, 6)] {
        let mut shard = shard_with(&delivered(100..100 + cap));
        shard.make_room(0, cap as usize);
        let oldest_kept = 100 + batch;
        assert_eq!(
            delivered_left(&shard),
            (oldest_kept..100 + cap).collect::<Vec<_>>(),
            "cap {cap}"
        );
    }
}

#[test]
fn room_at_the_cap_in_a_shard_of_claims_evicts_nothing() {
    let claims: Vec<State> = (0..4).map(State::in_flight).collect();
    let mut shard = shard_with(&claims);
    shard.make_room(0, 2);
    assert_eq!(in_flight_left(&shard), 4);
}

// --- evict_oldest_delivered ---

#[test]
fn a_batch_evicts_exactly_the_oldest_delivered_keys() {
    let mut states = delivered(1..=40);
    states.extend((0..5).map(State::in_flight));
    let mut shard = shard_with(&states);
    shard.evict_oldest_delivered(3);
    assert_eq!(delivered_left(&shard), (4..=40).collect::<Vec<_>>());
    assert_eq!(in_flight_left(&shard), 5);
}

#[test]
fn a_batch_ending_inside_a_tie_takes_only_what_it_needs_from_it() {
    let mut states = delivered([1, 1, 2, 2, 2, 3, 3]);
    states.push(State::in_flight(9));
    for (batch, left) in [
        (1, &[1, 2, 2, 2, 3, 3][..]),
        (3, &[2, 2, 3, 3]),
        (4, &[2, 3, 3]),
        (5, &[3, 3]),
        (6, &[3]),
    ] {
        let mut shard = shard_with(&states);
        shard.evict_oldest_delivered(batch);
        assert_eq!(delivered_left(&shard), left, "batch {batch}");
        assert_eq!(in_flight_left(&shard), 1, "batch {batch}");
    }
}

#[test]
fn a_batch_larger_than_the_delivered_keys_leaves_only_claims() {
    let mut states = delivered([1, 2]);
    states.extend((0..3).map(State::in_flight));
    let mut shard = shard_with(&states);
    shard.evict_oldest_delivered(5);
    assert_eq!(delivered_left(&shard), [] as [u32; 0]);
    assert_eq!(in_flight_left(&shard), 3);
}

#[test]
fn an_empty_batch_or_a_shard_of_claims_evicts_nothing() {
    let mut shard = shard_with(&delivered([1, 2]));
    shard.evict_oldest_delivered(0);
    assert_eq!(delivered_left(&shard), [1, 2]);

    let claims: Vec<State> = (0..3).map(State::in_flight).collect();
    let mut shard = shard_with(&claims);
    shard.evict_oldest_delivered(2);
    assert_eq!(in_flight_left(&shard), 3);
}

// --- hashing ---

#[test]
fn keys_spread_over_shards_and_hash_buckets() {
    // Sequential event ids on one route: what a provider sends.
    let keys: Vec<ReplayKey> = (0..10_000).map(key).collect();

    let mut per_shard = [0usize; SHARDS];
    for k in &keys {
        per_shard[shard_index(k)] += 1;
    }
    // 625 expected in each.
    assert!(per_shard.iter().all(|&n| n > 500), "{per_shard:?}");

    // hashbrown picks a key's bucket from the hash's low bits and its 7-bit
    // tag (compared a group at a time) from the top bits: both must vary, or
    // every lookup walks one long probe sequence.
    let hashes: Vec<u64> = keys
        .iter()
        .map(|&k| KeyHasher.hash_one(StoredKey::from(k)))
        .collect();
    let buckets: HashSet<u64> = hashes.iter().map(|h| h % 1024).collect();
    assert!(buckets.len() > 1000, "{} of 1024 buckets", buckets.len());
    let tags: HashSet<u64> = hashes.iter().map(|h| h >> 57).collect();
    assert!(tags.len() > 120, "{} of 128 tags", tags.len());
}

#[test]
fn the_hashers_byte_fallback_counts_every_byte() {
    // Longer than the 64-bit state, so bytes share positions after rotating.
    let hash = |bytes: &[u8]| {
        let mut hasher = KeyHasher.build_hasher();
        hasher.write(bytes);
        hasher.finish()
    };
    let base = [0xa5u8; 24];
    let base_hash = hash(&base);
    for i in 0..base.len() {
        for bit in 0..8 {
            let mut changed = base;
            changed[i] ^= 1 << bit;
            assert_ne!(hash(&changed), base_hash, "byte {i} bit {bit}");
        }
    }
}
