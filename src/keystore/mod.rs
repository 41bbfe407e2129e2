//! The key store: keys and certificates that verifiers need from the
//! network (SNS and PayPal signing certificates, JSON Web Key Sets),
//! fetched once and shared.
//!
//! Owns the cache (keyed by URL and the extra CA trusted for it, and by key
//! id where each id is a document of its own; kept for the document's
//! `Cache-Control: max-age` clamped to [`MIN_FRESH`], [`MAX_FRESH`]),
//! single-flight (requests needing the same document wait for one fetch,
//! and share its failure), the unknown-key-id refresh limit (one refresh per
//! key set per [`KID_REFRESH`]; where each id is its own document, one
//! fetch of a never-seen id per URL per [`KID_REFRESH`]), the fetch counter
//! and the last failure for `/readyz`. It lives in the process-lifetime state, so a
//! reload keeps what it fetched.
//!
//! Does not own which URLs may be fetched: a verifier names a
//! [`KeyRef`] only after the URL passed the route's rule
//! (`providers::fetched`). The fetch itself is `fetch.rs`.

mod fetch;

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use crate::metrics::Metrics;
use crate::providers::{FetchedKey, KeyRef};

#[cfg(test)]
use fetch::MAX_DOCUMENT;

/// A document is kept at least this long, whatever its `max-age` says, so
/// that a server answering `no-store` cannot make every request a fetch.
pub const MIN_FRESH: Duration = Duration::from_secs(5 * 60);

/// ... and at most this long, so a rotated key is picked up within a day.
pub const MAX_FRESH: Duration = Duration::from_secs(24 * 3600);

/// Kept this long when the server sends no `max-age`.
const DEFAULT_FRESH: Duration = Duration::from_secs(3600);

/// An unknown key id refreshes its set at most this often, so random ids
/// cannot make hookguard hammer the provider.
pub const KID_REFRESH: Duration = Duration::from_secs(60);

/// After a failed fetch, requests for the same document get the failure
/// without a new fetch for this long: at most one fetch a second per URL
/// while its server is down.
const RETRY_FAILED: Duration = Duration::from_secs(1);

/// Most documents cached at once (memory bound); past it, entries with no
/// fresh key are dropped first.
const MAX_ENTRIES: usize = 256;

/// A clock the cache reads; tests inject one they move.
pub type Clock = Arc<dyn Fn() -> Instant + Send + Sync>;

/// Where a route's keys are fetched from: the TLS roots it trusts, and the
/// identity of its extra CA (part of the cache key, so a document fetched
/// under one route's private CA never serves a route that does not trust it).
#[derive(Clone)]
pub struct Trust {
    /// Client configuration: the web PKI roots plus the route's `ca`.
    pub tls: Arc<rustls::ClientConfig>,
    /// SHA-256 of the route's `ca` file; `None` for the web PKI alone.
    pub ca_digest: Option<[u8; 32]>,
}

impl std::fmt::Debug for Trust {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Trust")
            .field("extra_ca", &self.ca_digest.is_some())
            .finish_non_exhaustive()
    }
}

/// Why a key could not be had: the request gets 503 `key_unavailable`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{url}: {why}")]
pub struct KeyUnavailable {
    /// The document's URL (not secret).
    pub url: String,
    /// What failed: connect, TLS, status, size, parse, timeout.
    pub why: String,
}

/// The last failed fetch, for `/readyz`: until a later fetch succeeds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LastFailure {
    /// The failure.
    pub error: KeyUnavailable,
    /// When it happened, Unix seconds.
    pub at: i64,
}

/// The extra CA's digest, the URL, and the key id where each id is a
/// document of its own ([`KeyRequest::per_key_id`](crate::providers::KeyRequest::per_key_id)).
type CacheKey = (Option<[u8; 32]>, String, Option<String>);

/// Where never-seen key ids are fetched from: the extra CA and the URL.
type IdSource = (Option<[u8; 32]>, String);

/// One cached document and the state of fetching it; its async mutex is
/// the single flight.
#[derive(Default)]
struct Slot {
    state: tokio::sync::Mutex<SlotState>,
}

#[derive(Default)]
struct SlotState {
    key: Option<FetchedKey>,
    fresh_until: Option<Instant>,
    /// The last fetch attempt, successful or not.
    attempted: Option<Instant>,
    /// The last attempt's failure, if it failed.
    failure: Option<KeyUnavailable>,
}

/// The process's key store; see the module docs.
pub struct KeyStore {
    slots: Mutex<HashMap<CacheKey, Arc<Slot>>>,
    clock: Clock,
    metrics: Arc<Metrics>,
    last_failure: Mutex<Option<LastFailure>>,
    /// The never-seen key id last fetched, and when, per source.
    new_ids: Mutex<HashMap<IdSource, (Instant, String)>>,
}

impl KeyStore {
    /// An empty store on the real clock.
    pub fn new(metrics: Arc<Metrics>) -> Self {
        Self::with_clock(metrics, Arc::new(Instant::now))
    }

    /// An empty store reading `clock` (tests).
    pub fn with_clock(metrics: Arc<Metrics>, clock: Clock) -> Self {
        Self {
            slots: Mutex::default(),
            clock,
            metrics,
            last_failure: Mutex::default(),
            new_ids: Mutex::default(),
        }
    }

    /// The key `wanted` names, from the cache or fetched under `trust`.
    pub async fn get(&self, wanted: &KeyRef, trust: &Trust) -> Result<FetchedKey, KeyUnavailable> {
        let arrived = (self.clock)();
        let id = wanted
            .request
            .per_key_id()
            .then(|| wanted.key_id.clone())
            .flatten();
        let slot = self.slot((trust.ca_digest, wanted.url.clone(), id), wanted)?;
        let mut state = slot.state.lock().await;
        if let Some(key) = self.cached(&state, wanted) {
            return Ok(key);
        }
        if let (Some(failure), Some(at)) = (&state.failure, state.attempted) {
            // Fetched (and failed) while this request waited, or just before.
            if at >= arrived || (self.clock)().saturating_duration_since(at) < RETRY_FAILED {
                return Err(failure.clone());
            }
        }
        if wanted.request.per_key_id() && state.key.is_none() {
            self.admit_new_id(trust, wanted)?;
        }
        let result = self.fetch(wanted, trust).await;
        let now = (self.clock)();
        state.attempted = Some(now);
        match result {
            Ok((key, fresh)) => {
                state.key = Some(Arc::clone(&key));
                state.fresh_until = Some(now + fresh);
                state.failure = None;
                self.metrics.key_fetch("success");
                self.lock_failure().take_if(|f| f.error.url == wanted.url);
                Ok(key)
            }
            Err(error) => {
                self.metrics.key_fetch("failure");
                tracing::warn!(url = %error.url, why = %error.why, "key fetch failed");
                *self.lock_failure() = Some(LastFailure {
                    error: error.clone(),
                    at: crate::clock::unix_millis() / 1000,
                });
                state.failure = Some(error.clone());
                // A set still fresh keeps serving its known ids.
                match self.cached_even_without_id(&state) {
                    Some(key) => Ok(key),
                    None => Err(error),
                }
            }
        }
    }

    /// GETs `url` under the fetch limits and wants a 200: an SNS
    /// subscription confirmed (`SubscribeURL`). Not cached, not counted as
    /// a key fetch.
    pub async fn confirm(&self, url: &str, trust: &Trust) -> Result<(), KeyUnavailable> {
        match fetch::get(url, Arc::clone(&trust.tls)).await {
            Ok(_) => Ok(()),
            Err(why) => Err(KeyUnavailable {
                url: url.to_owned(),
                why,
            }),
        }
    }

    /// The last fetch failure not yet followed by a success for its URL.
    pub fn last_failure(&self) -> Option<LastFailure> {
        self.lock_failure().clone()
    }

    /// The cached key when fresh and, for a key set, holding the wanted id
    /// — or not holding it but refreshed within [`KID_REFRESH`] (the
    /// verifier then refuses the unknown id).
    fn cached(&self, state: &SlotState, wanted: &KeyRef) -> Option<FetchedKey> {
        let key = self.cached_even_without_id(state)?;
        let Some(id) = wanted.key_id.as_deref() else {
            return Some(key);
        };
        let recent = state
            .attempted
            .is_some_and(|at| (self.clock)().saturating_duration_since(at) < KID_REFRESH);
        (key.has_key_id(id) || recent).then_some(key)
    }

    fn cached_even_without_id(&self, state: &SlotState) -> Option<FetchedKey> {
        let fresh = state
            .fresh_until
            .is_some_and(|until| (self.clock)() < until);
        state.key.as_ref().filter(|_| fresh).cloned()
    }

    /// Fetches and parses, with how long the result stays fresh.
    async fn fetch(
        &self,
        wanted: &KeyRef,
        trust: &Trust,
    ) -> Result<(FetchedKey, Duration), KeyUnavailable> {
        let fail = |why: String| KeyUnavailable {
            url: wanted.url.clone(),
            why,
        };
        let doc = fetch::fetch(&wanted.url, &wanted.request, Arc::clone(&trust.tls))
            .await
            .map_err(fail)?;
        let key = (wanted.parse)(&doc.bytes).map_err(fail)?;
        Ok((key, freshness(doc.max_age)))
    }

    /// The slot for `key`, made if new; past [`MAX_ENTRIES`], slots holding
    /// no fresh key are dropped, and if none is, the request is refused.
    fn slot(&self, key: CacheKey, wanted: &KeyRef) -> Result<Arc<Slot>, KeyUnavailable> {
        let mut slots = self.slots.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(slot) = slots.get(&key) {
            return Ok(Arc::clone(slot));
        }
        if slots.len() >= MAX_ENTRIES {
            let now = (self.clock)();
            slots.retain(|_, slot| {
                // A slot in use (locked) is kept.
                slot.state
                    .try_lock()
                    .map_or(true, |s| s.fresh_until.is_some_and(|u| now < u))
            });
            if slots.len() >= MAX_ENTRIES {
                return Err(KeyUnavailable {
                    url: wanted.url.clone(),
                    why: format!("the key cache holds {MAX_ENTRIES} fresh documents"),
                });
            }
        }
        Ok(Arc::clone(slots.entry(key).or_default()))
    }

    /// Where each key id is a document of its own, a flood of random ids
    /// would be a flood of fetches: one never-seen id per URL per
    /// [`KID_REFRESH`] is fetched (and, if that failed, retried under
    /// [`RETRY_FAILED`]); other new ids wait (503, and the provider retries).
    fn admit_new_id(&self, trust: &Trust, wanted: &KeyRef) -> Result<(), KeyUnavailable> {
        let now = (self.clock)();
        let mut new_ids = self.new_ids.lock().unwrap_or_else(PoisonError::into_inner);
        let source = (trust.ca_digest, wanted.url.clone());
        let id = wanted.key_id.clone().unwrap_or_default();
        if let Some((at, last)) = new_ids.get(&source) {
            if *last == id {
                return Ok(()); // its own retry
            }
            if now.saturating_duration_since(*at) < KID_REFRESH {
                return Err(KeyUnavailable {
                    url: wanted.url.clone(),
                    why: format!(
                        "another new key id was fetched from it less than {} s ago",
                        KID_REFRESH.as_secs()
                    ),
                });
            }
        }
        if new_ids.len() >= MAX_ENTRIES {
            new_ids.retain(|_, (at, _)| now.saturating_duration_since(*at) < KID_REFRESH);
        }
        new_ids.insert(source, (now, id));
        Ok(())
    }

    fn lock_failure(&self) -> std::sync::MutexGuard<'_, Option<LastFailure>> {
        self.last_failure
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }
}

/// How long a document stays fresh: its `max-age` clamped to
/// [`MIN_FRESH`, `MAX_FRESH`], an hour when it sent none.
pub(crate) fn freshness(max_age: Option<Duration>) -> Duration {
    max_age.unwrap_or(DEFAULT_FRESH).clamp(MIN_FRESH, MAX_FRESH)
}

#[cfg(test)]
mod tests;
