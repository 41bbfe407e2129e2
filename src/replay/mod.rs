//! De-duplication and replay protection.
//!
//! Each verified request carries a key derived from signed material (see
//! [`crate::providers::Dedup`]), hashed together with its route so keys are a
//! fixed 16 bytes and never contain secrets or provider-chosen lengths. A key
//! moves through a small state machine:
//!
//! ```text
//!   (absent) --claim--> InFlight --upstream 2xx--> Delivered (for `ttl`)
//!                          |
//!                          +--upstream failure / request dropped--> (absent)
//! ```
//!
//! Two stores implement it behind the [`ReplayStore`] enum: [`MemoryStore`]
//! (default, one replica; never fails) and [`RedisStore`] (several replicas
//! sharing one Redis; can fail, and the caller applies `on_store_error`).

mod memory;
mod redis;

use std::sync::Arc;
use std::time::Duration;

use ring::digest;

pub use self::redis::RedisStore;
pub use memory::MemoryStore;

use crate::providers::Dedup;

/// A replay key: the first 16 bytes of SHA-256(route, kind, material).
///
/// 128 bits keep a million remembered keys compact while making an accidental
/// collision (which would drop a genuine webhook as a duplicate) practically
/// impossible.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ReplayKey([u8; 16]);

impl ReplayKey {
    /// Derives the key for `dedup` on `route`; `None` when there is nothing
    /// signed to key on (no de-duplication for that request).
    pub fn derive(route: &str, dedup: &Dedup) -> Option<Self> {
        let (tag, material): (u8, &[u8]) = match dedup {
            Dedup::SignedId(id) => (b'i', id.as_bytes()),
            Dedup::Signature(sig) => (b's', sig),
            Dedup::DeliveryId(id) => (b'd', id.as_bytes()),
            Dedup::None => return None,
        };
        let mut ctx = digest::Context::new(&digest::SHA256);
        ctx.update(&(route.len() as u64).to_be_bytes());
        ctx.update(route.as_bytes());
        ctx.update(&[tag]);
        ctx.update(material);
        let mut key = [0u8; 16];
        key.copy_from_slice(&ctx.finish().as_ref()[..16]);
        Some(Self(key))
    }

    /// Hex form, for stores that need a printable key.
    pub fn to_hex(self) -> String {
        hex::encode(self.0)
    }
}

/// Result of trying to claim a key before forwarding.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Claim {
    /// This request owns the key now; it must settle it with the token.
    Acquired(ClaimToken),
    /// The event was delivered within `ttl`: answer 200 duplicate.
    Delivered,
    /// Another request for the same event is being forwarded: answer 409.
    InFlight,
}

/// Proof of ownership of an in-flight claim, so only its owner settles it.
///
/// 128 bits: the Redis store draws it at random, so that claims of different
/// replicas (which share no counter) never carry the same token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClaimToken(u128);

/// Why the store could not answer (Redis only; the memory store never fails).
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// No answer within the per-operation bound (Redis hung or unreachable).
    #[error("replay store did not answer within {0:?}")]
    Timeout(Duration),
    /// Connection or command error reported by the Redis client.
    #[error("replay store error: {0}")]
    Redis(String),
    /// The store answered something this version does not understand.
    #[error("replay store answered unexpectedly: {0}")]
    Protocol(String),
    /// The system random generator failed (claim tokens).
    #[error("no randomness for a claim token")]
    Random,
}

/// The replay store selected by `[replay] store`.
// One per process, behind an Arc: the variants' size difference costs nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Debug)]
pub enum ReplayStore {
    /// Bounded in-process store (default; one replica).
    Memory(MemoryStore),
    /// Shared Redis store (several replicas).
    Redis(RedisStore),
}

// === impl ReplayStore ===

impl ReplayStore {
    /// Claims `key` for forwarding. Fails only when a shared store cannot be
    /// reached; the caller then applies `[replay] on_store_error`.
    pub async fn claim(&self, key: ReplayKey) -> Result<Claim, StoreError> {
        match self {
            Self::Memory(store) => Ok(store.claim(key)),
            // Boxed: the Redis round trip's state (~4 KiB) would otherwise be
            // part of every request's future, memory store or not.
            Self::Redis(store) => Box::pin(store.claim(key)).await,
        }
    }

    /// Sets how long a shared store's in-flight claims live from now on
    /// (the memory store has no lease: its claims end with their request).
    pub(crate) fn set_lease(&self, lease: Duration) {
        if let Self::Redis(store) = self {
            store.set_lease(lease);
        }
    }

    /// Settles a claim: delivered (remember for `ttl`) or released (forget,
    /// so the provider's retry goes through). A failure is logged: the claim
    /// then expires with its lease, so the event is retried, never lost.
    pub async fn settle(&self, key: ReplayKey, token: ClaimToken, delivered: bool) {
        match self {
            Self::Memory(store) => store.settle(key, token, delivered),
            Self::Redis(store) => {
                if let Err(e) = Box::pin(store.settle(key, token, delivered)).await {
                    tracing::warn!(
                        target: "hookguard::replay",
                        key = %key.to_hex(),
                        delivered,
                        error = %e,
                        "could not settle replay claim; it expires with its lease"
                    );
                }
            }
        }
    }

    /// Whether the store can serve claims, for readiness: always for memory;
    /// for Redis, whether the last `PING` ([`watch`], [`Self::check`]) was
    /// answered.
    pub fn healthy(&self) -> bool {
        match self {
            Self::Memory(_) => true,
            Self::Redis(store) => store.healthy(),
        }
    }

    /// Probes the store now (Redis: `PING`, bounded) and returns [`Self::healthy`].
    pub async fn check(&self) -> bool {
        match self {
            Self::Memory(_) => true,
            Self::Redis(store) => store.ping().await,
        }
    }

    /// Records one request forwarded without de-duplication because the
    /// store failed under `on_store_error = "allow"`.
    pub(crate) fn record_error_allowed(&self) {
        match self {
            Self::Memory(_) => {}
            Self::Redis(store) => store.record_error_allowed(),
        }
    }

    /// Requests forwarded without de-duplication since start (a metric).
    pub fn store_errors_allowed(&self) -> u64 {
        match self {
            Self::Memory(_) => 0,
            Self::Redis(store) => store.errors_allowed(),
        }
    }

    /// Number of keys this process holds (in flight or delivered). Redis keeps
    /// its keys itself (count them there with `SCAN hookguard:*`): 0.
    pub(crate) fn len(&self) -> usize {
        match self {
            Self::Memory(store) => store.len(),
            Self::Redis(_) => 0,
        }
    }
}

/// Shared handle to the replay store.
pub(crate) type SharedReplayStore = Arc<ReplayStore>;

/// Keeps a Redis store's [`ReplayStore::healthy`] current: a `PING` every
/// [`redis::PROBE_INTERVAL`] from a background task, which ends when the
/// store is dropped (or the runtime stops). Nothing to watch for memory.
///
/// The probe also reconnects a dropped connection while no request comes.
pub(crate) fn watch(store: &SharedReplayStore) {
    if !matches!(**store, ReplayStore::Redis(_)) {
        return;
    }
    let store = Arc::downgrade(store);
    tokio::spawn(async move {
        let mut every = tokio::time::interval(self::redis::PROBE_INTERVAL);
        every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            every.tick().await;
            let Some(store) = store.upgrade() else {
                return;
            };
            store.check().await;
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_scoped_to_route_and_kind() {
        let id = Dedup::SignedId("x".into());
        assert_ne!(ReplayKey::derive("/a", &id), ReplayKey::derive("/b", &id));
        assert_ne!(
            ReplayKey::derive("/a", &id),
            ReplayKey::derive("/a", &Dedup::DeliveryId("x".into()))
        );
        // Route/material boundaries cannot be shifted to forge a collision.
        assert_ne!(
            ReplayKey::derive("/ab", &Dedup::SignedId("c".into())),
            ReplayKey::derive("/a", &Dedup::SignedId("bc".into()))
        );
        assert_eq!(ReplayKey::derive("/a", &Dedup::None), None);
    }

    fn key(id: &str) -> ReplayKey {
        ReplayKey::derive("/r", &Dedup::SignedId(id.into())).unwrap()
    }

    #[tokio::test]
    async fn the_memory_store_behind_the_enum() {
        let store = ReplayStore::Memory(MemoryStore::new(Duration::from_secs(60), 100));
        assert_eq!(store.len(), 0);
        let Ok(Claim::Acquired(token)) = store.claim(key("a")).await else {
            panic!("a fresh key is acquired")
        };
        assert_eq!(store.len(), 1);
        store.settle(key("a"), token, true).await;
        assert!(matches!(store.claim(key("a")).await, Ok(Claim::Delivered)));
        // It never fails, so it is always ready and never forwards unchecked.
        assert!(store.healthy());
        assert!(store.check().await);
        store.record_error_allowed();
        assert_eq!(store.store_errors_allowed(), 0);
    }

    #[tokio::test]
    async fn the_redis_store_behind_the_enum() {
        // Port 1 refuses connections: nothing here reaches a Redis.
        let ttl = Duration::from_secs(60);
        let redis = RedisStore::new("redis://127.0.0.1:1/0", ttl, ttl).unwrap();
        let store = ReplayStore::Redis(redis);
        assert!(!store.healthy(), "not ready before Redis has answered");
        assert!(!store.check().await);
        store.record_error_allowed();
        store.record_error_allowed();
        assert_eq!(store.store_errors_allowed(), 2);
        // Redis holds its keys itself: this process counts none.
        assert_eq!(store.len(), 0);
    }
}
