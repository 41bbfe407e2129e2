//! The shared replay store on Redis, for several replicas behind a load
//! balancer (`[replay] store = "redis://..."`).
//!
//! The claim/settle state machine (see [`super`]) maps onto one Redis
//! string per key:
//!
//! ```text
//!   key   hookguard:<32 hex chars of ReplayKey>   (route-scoped hash: fixed size, no secret)
//!   value <claim token, 32 hex chars>  in flight, expires after `lease`
//!         "d"                          delivered, expires after `ttl`
//! ```
//!
//! Every transition is one atomic server-side step: claiming is `SET NX PX`
//! (in a script that also reports what was there), and delivering or
//! releasing are scripts that touch the key only while it still holds this
//! claim's token. A replica that is slow (its lease ran out and another
//! replica claimed the event) therefore can never overwrite or release
//! someone else's claim, and a replica that dies mid-request blocks the event
//! for at most the lease.
//!
//! Connections come from [`ConnectionManager`], which reconnects by itself
//! after Redis restarts, but only once a command has failed: on the dropped
//! connection, or on a reconnection attempted while Redis was still down.
//! That command is therefore sent once more, on the fresh connection, so a
//! restart costs no request a 503; every step is safe to repeat (a claim
//! that finds its own token was ours all along). Each operation, retry
//! included, is bounded by [`OP_TIMEOUT`], so a hung Redis costs a request
//! at most that long.
//!
//! Readiness does not follow requests: a background `PING` every
//! [`PROBE_INTERVAL`] (see [`super::watch`]) decides [`RedisStore::healthy`].

use std::fmt;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::Script;
use ring::rand::{SecureRandom, SystemRandom};

use super::{Claim, ClaimToken, ReplayKey, StoreError};

/// Upper bound on one Redis operation, connecting included.
pub(crate) const OP_TIMEOUT: Duration = Duration::from_secs(1);

/// How often the background probe sends `PING` for readiness.
pub(crate) const PROBE_INTERVAL: Duration = Duration::from_secs(1);

/// Pause between attempts to undo a claim whose answer was lost.
const RELEASE_RETRY: Duration = Duration::from_millis(200);

/// Most claims being undone at once. During a long outage every request
/// fails; past this many, the rest are left to expire with their lease
/// rather than multiply the retries against a Redis that is down.
const MAX_UNDOING: usize = 256;

/// Prefix of every key hookguard writes.
pub(crate) const KEY_PREFIX: &str = "hookguard:";

/// Value of a delivered key.
const DELIVERED: &str = "d";

/// Claims KEYS[1] with token ARGV[1] for ARGV[2] ms when absent.
/// Returns 1 (acquired), 2 (delivered) or 3 (in flight). One script rather
/// than `SET NX` then `GET` so the answer is atomic and costs one round trip,
/// on every Redis version with scripting (`SET .. NX GET` needs Redis 7).
/// A key that already holds ARGV[1] is acquired too: the same claim sent
/// again after its answer was lost with the connection (tokens are random
/// per claim, so no other request holds this one).
const CLAIM_LUA: &str = r#"
if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then return 1 end
local held = redis.call('GET', KEYS[1])
if held == 'd' then return 2 end
if held == ARGV[1] then return 1 end
return 3
"#;

/// Marks KEYS[1] delivered for ARGV[2] ms if it still holds token ARGV[1].
const DELIVER_LUA: &str = r#"
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('SET', KEYS[1], 'd', 'PX', ARGV[2])
  return 1
end
return 0
"#;

/// Deletes KEYS[1] if it still holds token ARGV[1].
const RELEASE_LUA: &str = r#"
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"#;

/// Replay store shared by every replica pointing at the same Redis.
pub struct RedisStore {
    client: redis::Client,
    /// Created on first use (so the proxy starts while Redis is down), then
    /// cloned per operation; it reconnects by itself.
    conn: Mutex<Option<ConnectionManager>>,
    ttl_ms: u64,
    /// In-flight claims' lifetime; a reload that changes the upstream
    /// timeout changes it (claims already made keep theirs).
    lease_ms: AtomicU64,
    rng: SystemRandom,
    /// Whether the last `PING` was answered (readiness).
    healthy: AtomicBool,
    errors_allowed: AtomicU64,
    /// Background undo tasks running (bounded by [`MAX_UNDOING`]).
    undoing: Arc<AtomicUsize>,
    claim: Script,
    deliver: Script,
    release: Script,
}

// The client holds the URL, which may carry a password: never print it.
impl fmt::Debug for RedisStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisStore")
            .field("ttl_ms", &self.ttl_ms)
            .field("lease_ms", &self.lease_ms())
            .field("healthy", &self.healthy())
            .finish_non_exhaustive()
    }
}

// === impl RedisStore ===

impl RedisStore {
    /// A store on `url` (`redis://` or `rediss://`) remembering delivered keys
    /// for `ttl` and in-flight claims for `lease` (a little longer than the
    /// upstream timeout). Parses the URL only: nothing is connected yet.
    pub fn new(url: &str, ttl: Duration, lease: Duration) -> Result<Self, StoreError> {
        let client = redis::Client::open(url).map_err(redis_error)?;
        Ok(Self {
            client,
            conn: Mutex::new(None),
            ttl_ms: millis(ttl),
            lease_ms: AtomicU64::new(millis(lease)),
            rng: SystemRandom::new(),
            healthy: AtomicBool::new(false),
            errors_allowed: AtomicU64::new(0),
            undoing: Arc::new(AtomicUsize::new(0)),
            claim: Script::new(CLAIM_LUA),
            deliver: Script::new(DELIVER_LUA),
            release: Script::new(RELEASE_LUA),
        })
    }

    /// Claims `key` (see [`Claim`]) with a fresh random token.
    pub async fn claim(&self, key: ReplayKey) -> Result<Claim, StoreError> {
        let mut bytes = [0u8; 16];
        self.rng.fill(&mut bytes).map_err(|_| StoreError::Random)?;
        let token = ClaimToken(u128::from_be_bytes(bytes));
        let answer: Result<i64, _> = self
            .run(|mut conn| async move {
                self.claim
                    .key(redis_key(key))
                    .arg(token_value(token))
                    .arg(self.lease_ms())
                    .invoke_async(&mut conn)
                    .await
            })
            .await;
        if answer.is_err() {
            // Without an answer the claim may still have run (or run once a
            // slow Redis catches up), and would then block the provider's
            // retry until the lease ends: undo it. Safe: the token is ours.
            self.release_in_background(key, token);
        }
        match answer? {
            1 => Ok(Claim::Acquired(token)),
            2 => Ok(Claim::Delivered),
            3 => Ok(Claim::InFlight),
            other => Err(StoreError::Protocol(format!(
                "claim script returned {other}"
            ))),
        }
    }

    /// How long a new in-flight claim lives.
    fn lease_ms(&self) -> u64 {
        self.lease_ms.load(Ordering::Relaxed)
    }

    /// Sets the lifetime of claims made from now on (see
    /// `runtime::replay_lease`).
    pub(crate) fn set_lease(&self, lease: Duration) {
        self.lease_ms.store(millis(lease), Ordering::Relaxed);
    }

    /// Marks the claim delivered (kept for `ttl`) or releases it, only if
    /// this token still owns the key. Ok(false): it no longer did (the lease
    /// ran out), and nothing was changed.
    pub async fn settle(
        &self,
        key: ReplayKey,
        token: ClaimToken,
        delivered: bool,
    ) -> Result<bool, StoreError> {
        let changed: i64 = self
            .run(|mut conn| async move {
                let mut call = if delivered {
                    self.deliver.key(redis_key(key))
                } else {
                    self.release.key(redis_key(key))
                };
                call.arg(token_value(token));
                if delivered {
                    call.arg(self.ttl_ms);
                }
                call.invoke_async(&mut conn).await
            })
            .await?;
        Ok(changed == 1)
    }

    /// Best-effort release of a claim whose answer never came back: retried
    /// until Redis answers (it then has run the late claim, if it ever
    /// arrived), within the lease. The token is this claim's own, so this can
    /// never release another request's claim.
    fn release_in_background(&self, key: ReplayKey, token: ClaimToken) {
        let Some(mut conn) = lock(&self.conn).clone() else {
            return; // never connected: the claim was never sent
        };
        if self.undoing.fetch_add(1, Ordering::Relaxed) >= MAX_UNDOING {
            self.undoing.fetch_sub(1, Ordering::Relaxed);
            return;
        }
        let undoing = Arc::clone(&self.undoing);
        let release = self.release.clone();
        let give_up = tokio::time::Instant::now() + Duration::from_millis(self.lease_ms());
        tokio::spawn(async move {
            while tokio::time::Instant::now() < give_up {
                let mut call = release.key(redis_key(key));
                call.arg(token_value(token));
                let undo = call.invoke_async::<i64>(&mut conn);
                if let Ok(Ok(_)) = tokio::time::timeout(OP_TIMEOUT, undo).await {
                    break;
                }
                tokio::time::sleep(RELEASE_RETRY).await;
            }
            undoing.fetch_sub(1, Ordering::Relaxed);
        });
    }

    /// Sends `PING` (bounded), records the outcome for [`Self::healthy`]
    /// and returns whether Redis answered.
    pub(crate) async fn ping(&self) -> bool {
        let pong: Result<String, _> = self
            .run(|mut conn| async move { redis::cmd("PING").query_async(&mut conn).await })
            .await;
        self.healthy.store(pong.is_ok(), Ordering::Relaxed);
        pong.is_ok()
    }

    /// Whether the last `PING` was answered (false before the first one).
    /// Requests do not change it: readiness is the verdict of the probe,
    /// once a second, not of whichever request failed or succeeded last.
    pub(crate) fn healthy(&self) -> bool {
        self.healthy.load(Ordering::Relaxed)
    }

    /// Counts one request forwarded without de-duplication (policy "allow").
    pub(crate) fn record_error_allowed(&self) {
        self.errors_allowed.fetch_add(1, Ordering::Relaxed);
    }

    /// Requests forwarded without de-duplication since start.
    pub(crate) fn errors_allowed(&self) -> u64 {
        self.errors_allowed.load(Ordering::Relaxed)
    }

    /// Runs one operation on a (re)connected manager within [`OP_TIMEOUT`].
    /// An operation that failed because the connection was lost (the manager
    /// then starts a fresh one) is run once more on the fresh connection,
    /// within the same bound: `op` must be safe to repeat.
    async fn run<'a, T, F, Fut>(&'a self, op: F) -> Result<T, StoreError>
    where
        F: Fn(ConnectionManager) -> Fut,
        Fut: std::future::Future<Output = redis::RedisResult<T>> + 'a,
    {
        let work = async {
            let conn = self.connection().await?;
            match op(conn.clone()).await {
                Err(e) if e.is_unrecoverable_error() => op(conn).await.map_err(redis_error),
                result => result.map_err(redis_error),
            }
        };
        match tokio::time::timeout(OP_TIMEOUT, work).await {
            Ok(result) => result,
            Err(_) => Err(StoreError::Timeout(OP_TIMEOUT)),
        }
    }

    /// The shared connection manager, created on first use. Concurrent first
    /// users may each create one; the last stored wins and the others drop.
    async fn connection(&self) -> Result<ConnectionManager, StoreError> {
        if let Some(conn) = lock(&self.conn).clone() {
            return Ok(conn);
        }
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(OP_TIMEOUT)
            .set_response_timeout(OP_TIMEOUT)
            // Reconnect attempts are short and few: the request waiting on
            // one is bounded by OP_TIMEOUT anyway, and the next request
            // starts a new attempt, so recovery needs no background loop.
            .set_number_of_retries(2)
            .set_factor(50)
            .set_max_delay(200);
        let conn = self
            .client
            .get_connection_manager_with_config(config)
            .await
            .map_err(redis_error)?;
        *lock(&self.conn) = Some(conn.clone());
        Ok(conn)
    }
}

/// The Redis key for `key`: fixed-size, route-scoped, no secret material.
pub(crate) fn redis_key(key: ReplayKey) -> String {
    let mut k = String::with_capacity(KEY_PREFIX.len() + 32);
    k.push_str(KEY_PREFIX);
    k.push_str(&key.to_hex());
    k
}

fn token_value(token: ClaimToken) -> String {
    let value = format!("{:032x}", token.0);
    debug_assert_ne!(value, DELIVERED);
    value
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX).max(1)
}

fn redis_error(e: redis::RedisError) -> StoreError {
    // RedisError's text names the failure (refused, timed out, NOAUTH...),
    // never the URL or its password.
    StoreError::Redis(e.to_string())
}

fn lock(
    m: &Mutex<Option<ConnectionManager>>,
) -> std::sync::MutexGuard<'_, Option<ConnectionManager>> {
    // Only ever holds a clone-able handle; a panic elsewhere cannot corrupt it.
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::providers::Dedup;

    #[test]
    fn keys_are_prefixed_fixed_size_hex() {
        let key = ReplayKey::derive("/r", &Dedup::SignedId("x".repeat(10_000))).unwrap();
        let k = redis_key(key);
        assert!(k.starts_with("hookguard:"));
        assert_eq!(k.len(), "hookguard:".len() + 32);
        assert!(k["hookguard:".len()..]
            .bytes()
            .all(|b| b.is_ascii_hexdigit()));
    }

    #[test]
    fn tokens_are_never_the_delivered_marker() {
        assert_eq!(token_value(ClaimToken(0)).len(), 32);
        assert_eq!(token_value(ClaimToken(u128::MAX)).len(), 32);
    }

    #[test]
    fn urls_are_parsed_without_connecting() {
        let ttl = Duration::from_secs(60);
        assert!(RedisStore::new("redis://127.0.0.1:1/0", ttl, ttl).is_ok());
        assert!(RedisStore::new("redis://:secret@host:6379/0", ttl, ttl).is_ok());
        let store = RedisStore::new("redis://:hunter2@host:6379/0", ttl, ttl).unwrap();
        assert!(!format!("{store:?}").contains("hunter2"));
        assert!(RedisStore::new("redis://host:notaport", ttl, ttl).is_err());
    }
}
