//! Memory of the in-memory replay store at scale (`bench/run.sh`): inserts
//! N delivered keys (default 1,000,000, as a busy route with `ttl = "24h"`
//! would hold) into a [`MemoryStore`] and prints the resident-set growth.
//!
//! ```text
//! cargo run --release --example bench_replay_mem -- 1000000
//! ```
//! Prints `replay_keys=<n> rss_before_kib=<a> rss_after_kib=<b> delta_kib=<b-a>`.

#![forbid(unsafe_code)]

use std::time::Duration;

use hookguard::providers::Dedup;
use hookguard::replay::{Claim, MemoryStore, ReplayKey};

fn main() {
    let n: usize = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(1_000_000);
    let before = vm_rss_kib();
    // Capacity above n: the cap is enforced per shard, and keys do not spread
    // perfectly evenly, so a cap of exactly n would evict a few.
    let store = MemoryStore::new(Duration::from_secs(24 * 3600), n + n / 4);
    for i in 0..n {
        let id = format!("evt_{i:012}");
        let Some(key) = ReplayKey::derive("/webhooks/bench", &Dedup::SignedId(id)) else {
            unreachable!("a signed id always yields a key");
        };
        match store.claim(key) {
            Claim::Acquired(token) => store.settle(key, token, true),
            other => panic!("key {i} not fresh: {other:?}"),
        }
    }
    assert_eq!(store.len(), n, "every key is held");
    let after = vm_rss_kib();
    println!(
        "replay_keys={n} rss_before_kib={before} rss_after_kib={after} delta_kib={}",
        after.saturating_sub(before)
    );
}

/// Current resident set size, from /proc/self/status.
fn vm_rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}
