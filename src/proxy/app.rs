//! What the pipeline runs on: the [`App`] built from a validated
//! configuration, the state every generation shares, and the facts about
//! the connection a request arrived on.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;

use http::header::HeaderValue;

use super::budget::Budget;
use crate::config::{Config, Route};
use crate::keystore::KeyStore;
use crate::metrics::{Metrics, RouteSeries};
use crate::ratelimit::RouteLimiter;
use crate::replay::ReplayStore;
use crate::security::Sources;
use crate::upstream::UpstreamClient;

/// Everything the pipeline needs, built from a validated [`Config`]; rebuilt
/// on reload around the same [`Shared`] state.
pub struct App {
    pub(super) config: Arc<Config>,
    routes: HashMap<String, usize>,
    pub(super) replay: Arc<ReplayStore>,
    pub(super) client: UpstreamClient,
    /// Keys and certificates fetched from providers (kept across reloads).
    pub(super) keys: Arc<KeyStore>,
    // --- ops: state that outlives a reload, and per-route limiters.
    pub(super) metrics: Arc<Metrics>,
    pub(super) sources: Arc<Sources>,
    limiters: Vec<Option<RouteLimiter>>,
    /// Each route's path and provider, shared with audit events and metric
    /// labels instead of copied into each.
    pub(super) names: Vec<RouteNames>,
    /// The durable spool, when some route uses queue delivery.
    pub(super) spool: Option<Arc<crate::spool::Spool>>,
    /// Bytes of request bodies held in memory, process-wide.
    pub(super) buffered: Arc<Budget>,
}

/// A route's path and provider name, shared by every request's audit event
/// and metric labels, its `X-Hookguard-Verified` value, made once, and its
/// metric series, looked up once.
pub(super) struct RouteNames {
    pub path: Arc<str>,
    pub provider: Arc<str>,
    pub verified: Option<HeaderValue>,
    pub series: RouteSeries,
}

/// The matched route of a request, with its limiter and its names.
pub(super) struct Routed<'a> {
    /// Position in the configuration's routes.
    pub index: usize,
    pub route: &'a Route,
    pub limiter: Option<&'a RouteLimiter>,
    pub names: &'a RouteNames,
}

/// Process-lifetime state every [`App`] generation shares: a reload swaps the
/// routes, not these.
#[derive(Clone)]
pub(crate) struct Shared {
    /// Pooled upstream client.
    pub client: UpstreamClient,
    /// De-duplication store.
    pub replay: Arc<ReplayStore>,
    /// Metrics and the request report.
    pub metrics: Arc<Metrics>,
    /// Suspicious-source tracking and auto-block.
    pub sources: Arc<Sources>,
    /// The durable spool, when some route uses queue delivery.
    pub spool: Option<Arc<crate::spool::Spool>>,
    /// Bytes of request bodies held in memory (`[server] max_buffered`).
    pub buffered: Arc<Budget>,
    /// Keys and certificates fetched from providers.
    pub keys: Arc<KeyStore>,
}

/// Facts about the connection a request arrived on.
#[derive(Debug, Clone)]
pub(crate) struct ConnInfo {
    /// The socket peer.
    pub peer: SocketAddr,
    /// Whether the connection is TLS (`X-Forwarded-Proto`, public URL).
    pub tls: bool,
    /// Bytes of request bodies this connection's requests hold in memory
    /// (`[server] max_buffered_per_connection`).
    pub buffered: Arc<Budget>,
}

impl App {
    /// Builds the runtime state for `config` around the process's `shared` state.
    pub(crate) fn new(config: Arc<Config>, shared: Shared) -> Self {
        let routes = config
            .routes
            .iter()
            .enumerate()
            .map(|(i, r)| (r.path.clone(), i))
            .collect();
        let limiters = config
            .routes
            .iter()
            .map(|r| r.rate_limit.map(RouteLimiter::new))
            .collect();
        let names = config
            .routes
            .iter()
            .map(|r| RouteNames {
                path: Arc::from(r.path.as_str()),
                provider: Arc::from(r.provider.as_str()),
                verified: HeaderValue::from_str(r.verifier.provider()).ok(),
                series: RouteSeries::default(),
            })
            .collect();
        Self {
            names,
            config,
            routes,
            replay: shared.replay,
            client: shared.client,
            keys: shared.keys,
            metrics: shared.metrics,
            sources: shared.sources,
            limiters,
            spool: shared.spool,
            buffered: shared.buffered,
        }
    }

    /// The process-lifetime state, to build the next generation on reload.
    pub(crate) fn shared(&self) -> Shared {
        Shared {
            client: self.client.clone(),
            replay: Arc::clone(&self.replay),
            metrics: Arc::clone(&self.metrics),
            sources: Arc::clone(&self.sources),
            spool: self.spool.clone(),
            buffered: Arc::clone(&self.buffered),
            keys: Arc::clone(&self.keys),
        }
    }

    /// The key store (`/readyz` shows its last failure).
    pub(crate) fn keys(&self) -> &Arc<KeyStore> {
        &self.keys
    }

    /// Bytes of request bodies held in memory, process-wide.
    pub fn buffered(&self) -> &Arc<Budget> {
        &self.buffered
    }

    /// Metrics and the request report.
    pub fn metrics(&self) -> &Arc<Metrics> {
        &self.metrics
    }

    /// Suspicious-source tracking.
    pub(crate) fn sources(&self) -> &Arc<Sources> {
        &self.sources
    }

    /// The spool, if queue delivery is in use (admin endpoints, metrics).
    pub fn spool(&self) -> Option<&Arc<crate::spool::Spool>> {
        self.spool.as_ref()
    }

    /// The configuration this app serves.
    pub fn config(&self) -> &Arc<Config> {
        &self.config
    }

    /// The replay store (for metrics and tests).
    pub fn replay(&self) -> &Arc<ReplayStore> {
        &self.replay
    }

    /// The route phase: the route whose path is exactly `path`.
    pub(super) fn route(&self, path: &str) -> Option<Routed<'_>> {
        self.routes.get(path).map(|&index| Routed {
            index,
            route: &self.config.routes[index],
            limiter: self.limiters.get(index).and_then(Option::as_ref),
            names: &self.names[index],
        })
    }
}
