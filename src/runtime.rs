//! Start-up and shutdown: from a validated [`Config`] to a bound, serving
//! proxy, and back. Shared by the binary and the integration tests, so tests
//! exercise exactly the start-up path production uses.
//!
//! Also the admin listener's life cycle (bound after the proxy, readiness
//! latched on once serving and off when draining) and [`Running::reload`],
//! the SIGHUP path: re-read and fully validate the configuration, `file:`
//! secrets and the TLS certificate, then swap atomically.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use arc_swap::ArcSwap;

use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::admin::{self, AdminState};
use crate::config::{self, Config, ConfigErrors, Delivery, ReplayStoreKind};
use crate::metrics::Metrics;
use crate::proxy::budget::Budget;
use crate::proxy::{App, Shared};
use crate::replay::{MemoryStore, RedisStore, ReplayStore};
use crate::security::Sources;
use crate::server;
use crate::spool::{self, Spool, SpoolError};
use crate::tls::{self, CertStore, TlsError};
use crate::upstream::{ClientBuildError, UpstreamClient};

/// Why the proxy could not start (after the configuration was valid).
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The listen address could not be bound.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// The OS error.
        source: std::io::Error,
    },
    /// TLS certificate or key unusable.
    #[error(transparent)]
    Tls(#[from] TlsError),
    /// Upstream client could not be built.
    #[error(transparent)]
    Client(#[from] ClientBuildError),
    /// The configured replay store cannot be set up (e.g. a malformed URL).
    #[error("replay store: {0}")]
    ReplayStore(String),
    /// The spool of queue-mode routes could not be opened.
    #[error("spool {dir}: {source}")]
    Spool {
        /// The spool directory.
        dir: std::path::PathBuf,
        /// What went wrong.
        source: SpoolError,
    },
}

/// Why a reload was refused; the old configuration keeps serving.
#[derive(Debug, thiserror::Error)]
pub enum ReloadError {
    /// The new configuration (or a `file:` secret) is invalid.
    #[error("invalid configuration:\n{0}")]
    Config(ConfigErrors),
    /// The new TLS certificate or key is unusable.
    #[error(transparent)]
    Tls(#[from] TlsError),
    /// The first queue route needs the spool, and it could not be opened.
    #[error("spool {dir}: {source}")]
    Spool {
        /// The spool directory.
        dir: std::path::PathBuf,
        /// What went wrong.
        source: SpoolError,
    },
}

/// What a successful reload could not apply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reloaded {
    /// The changed settings that keep their start-up value until a restart
    /// (also logged, in one warning), e.g. `["server.listen", "replay.ttl"]`.
    pub needs_restart: Vec<&'static str>,
}

/// A running proxy.
pub struct Running {
    /// The address actually bound (useful with port 0).
    pub addr: SocketAddr,
    /// The admin listener's address, when `[admin]` is configured.
    pub admin_addr: Option<SocketAddr>,
    app: Arc<ArcSwap<App>>,
    /// The configuration it started with: what the settings a reload
    /// cannot apply still run with.
    started: Arc<Config>,
    certs: Option<Arc<CertStore>>,
    ready: Arc<AtomicBool>,
    shutdown: oneshot::Sender<()>,
    task: JoinHandle<bool>,
    admin: Option<(oneshot::Sender<()>, JoinHandle<()>)>,
    /// The spool's delivery worker, once a route queues (at start or on the
    /// first reload that adds a queue route).
    worker: Mutex<Option<JoinHandle<()>>>,
}

/// Binds the listener and starts serving in the background.
pub async fn start(config: Config) -> Result<Running, StartError> {
    let config = Arc::new(config);
    let (tls, certs) = match config.server.tls.as_ref() {
        Some(files) => {
            let (tls, certs) = tls::reloadable_server_config(files)?;
            (Some(tls), Some(certs))
        }
        None => (None, None),
    };
    let client = UpstreamClient::new(config.upstream.ca.as_deref())?;
    let replay = match &config.replay.store {
        ReplayStoreKind::Memory => ReplayStore::Memory(MemoryStore::new(
            config.replay.ttl,
            config.replay.max_entries,
        )),
        ReplayStoreKind::Redis(url) => {
            let url = std::str::from_utf8(url.expose()).unwrap_or_default();
            let store = RedisStore::new(url, config.replay.ttl, replay_lease(&config))
                .map_err(|e| StartError::ReplayStore(e.to_string()))?;
            // Reachability is reported, not required: requests apply
            // `on_store_error` until Redis answers, and readiness says so.
            if !store.ping().await {
                tracing::warn!(
                    target: "hookguard::replay",
                    "replay store (Redis) not reachable at start; retrying every second and on each request"
                );
            }
            ReplayStore::Redis(store)
        }
    };
    let listen = config.server.listen;
    let listener = TcpListener::bind(listen)
        .await
        .map_err(|source| StartError::Bind {
            addr: listen,
            source,
        })?;
    let addr = listener.local_addr().map_err(|source| StartError::Bind {
        addr: listen,
        source,
    })?;
    let admin_listener = match &config.admin {
        Some(admin) => {
            let listener =
                TcpListener::bind(admin.listen)
                    .await
                    .map_err(|source| StartError::Bind {
                        addr: admin.listen,
                        source,
                    })?;
            let bound = listener.local_addr().map_err(|source| StartError::Bind {
                addr: admin.listen,
                source,
            })?;
            Some((listener, bound))
        }
        None => None,
    };
    let spool = open_spool(&config).map_err(|(dir, source)| StartError::Spool { dir, source })?;
    let metrics = Arc::new(Metrics::with_recent(
        config.admin.as_ref().map_or(0, |a| a.recent),
    ));
    let shared = Shared {
        client: client.clone(),
        replay: Arc::new(replay),
        keys: Arc::new(crate::keystore::KeyStore::new(Arc::clone(&metrics))),
        metrics,
        sources: Arc::new(Sources::new(config.security)),
        spool: spool.clone(),
        buffered: Arc::new(Budget::new(config.server.max_buffered)),
    };
    // Readiness follows a background probe of the shared store.
    crate::replay::watch(&shared.replay);
    let started = Arc::clone(&config);
    let app = Arc::new(ArcSwap::from_pointee(App::new(config, shared)));
    // Then start delivering, from the current route table (reloads
    // included); the worker stops with the runtime.
    let worker = spool.map(|spool| start_worker(spool, &app, client));
    let (shutdown, rx) = oneshot::channel::<()>();
    let task = tokio::spawn(server::serve(listener, Arc::clone(&app), tls, async {
        let _ = rx.await;
    }));
    let ready = Arc::new(AtomicBool::new(true));
    let (admin, admin_addr) = match admin_listener {
        Some((listener, bound)) => {
            tracing::info!(addr = %bound, "admin listening");
            let state = Arc::new(AdminState::new(
                Arc::clone(&app),
                Arc::clone(&ready),
                certs.clone(),
            ));
            let (stop, stopped) = oneshot::channel::<()>();
            let task = tokio::spawn(admin::serve(listener, state, async {
                let _ = stopped.await;
            }));
            (Some((stop, task)), Some(bound))
        }
        None => (None, None),
    };
    Ok(Running {
        addr,
        admin_addr,
        app,
        started,
        certs,
        ready,
        shutdown,
        task,
        admin,
        worker: Mutex::new(worker),
    })
}

/// Starts delivering the spool's records, from the current route table at
/// each pass (reloads included); the worker stops with the runtime.
fn start_worker(
    spool: Arc<Spool>,
    app: &Arc<ArcSwap<App>>,
    client: UpstreamClient,
) -> JoinHandle<()> {
    let current = Arc::clone(app);
    spool::worker::start(spool::worker::Worker {
        spool,
        client,
        metrics: Arc::clone(app.load().metrics()),
        config: Box::new(move || Arc::clone(current.load().config())),
    })
}

/// The spool the queue routes of `config` need, opened (loading what a
/// previous run left); `None` when no route queues.
fn open_spool(config: &Config) -> Result<Option<Arc<Spool>>, (std::path::PathBuf, SpoolError)> {
    if !config.routes.iter().any(|r| r.delivery == Delivery::Queue) {
        return Ok(None);
    }
    let dir = &config.spool.dir;
    Spool::open(dir, config.spool.max_size)
        .map(Some)
        .map_err(|source| (dir.clone(), source))
}

/// How long a shared in-flight claim lives when its replica never settles it
/// (it died mid-request): the longest upstream timeout plus a margin for the
/// settle round trip, so a live replica's claim never expires under it.
fn replay_lease(config: &Config) -> Duration {
    let longest = config
        .routes
        .iter()
        .map(|r| r.upstream.timeout)
        .chain([config.upstream.timeout])
        .max()
        .unwrap_or_default();
    longest + LEASE_MARGIN
}

/// Margin added to the upstream timeout for a claim's lease.
const LEASE_MARGIN: Duration = Duration::from_secs(5);

// === impl Running ===

impl Running {
    /// The current runtime state (replay store, config) of this instance.
    pub fn app(&self) -> Arc<App> {
        self.app.load_full()
    }

    /// Re-reads the configuration file, its `file:` secrets and the TLS
    /// certificate; validates everything, then swaps atomically. On error the
    /// old configuration keeps serving. Logs and counts the attempt; a
    /// changed setting that only a restart applies is named in one warning
    /// (and returned), while the rest of the new configuration applies.
    pub fn reload(&self) -> Result<Reloaded, ReloadError> {
        let current = self.app.load_full();
        let result = self.try_reload(&current);
        current.metrics().reload(result.is_ok());
        match &result {
            Ok(reloaded) => {
                tracing::info!(
                    config = %current.config().source.display(),
                    "configuration reloaded"
                );
                if !reloaded.needs_restart.is_empty() {
                    let settings = reloaded.needs_restart.join(", ");
                    tracing::warn!(%settings, "needs a restart to apply: {settings}");
                }
            }
            Err(e) => tracing::error!(
                config = %current.config().source.display(),
                error = %e,
                "configuration reload failed; the previous configuration keeps serving"
            ),
        }
        result
    }

    fn try_reload(&self, current: &App) -> Result<Reloaded, ReloadError> {
        let new = config::load(&current.config().source).map_err(ReloadError::Config)?;
        for warning in &new.warnings {
            tracing::warn!(config = %new.source.display(), "{warning}");
        }
        let needs_restart = needing_restart(&self.started, &new, current.spool().map(|s| &**s));
        // Every step that can fail comes first: the spool the first queue
        // route needs, then the new certificate, prepared but not served.
        let opened = match current.spool() {
            Some(_) => None,
            None => open_spool(&new).map_err(|(dir, source)| ReloadError::Spool { dir, source })?,
        };
        let cert = match (&new.server.tls, &self.certs) {
            (Some(files), Some(_)) => Some(CertStore::prepare(files)?),
            _ => None,
        };
        // Everything is valid: from here on, nothing can fail.
        if let (Some(cert), Some(store)) = (cert, &self.certs) {
            store.install(cert);
        }
        current.sources().reconfigure(new.security);
        current.buffered().set_limit(new.server.max_buffered);
        current.replay().set_lease(replay_lease(&new));
        let mut shared = current.shared();
        if let Some(spool) = &opened {
            shared.spool = Some(Arc::clone(spool));
        }
        self.app.store(Arc::new(App::new(Arc::new(new), shared)));
        match (opened, current.spool()) {
            (Some(spool), _) => {
                let worker = start_worker(spool, &self.app, current.shared().client);
                *self.worker.lock().unwrap_or_else(|e| e.into_inner()) = Some(worker);
            }
            // The worker picks up changed queue routes at its next pass.
            (None, Some(spool)) => spool.wake.notify_one(),
            (None, None) => {}
        }
        Ok(Reloaded { needs_restart })
    }

    /// Stops accepting (readiness goes 503 first), drains within
    /// `shutdown_grace`, then stops the admin listener; true if all drained.
    pub async fn shutdown(self) -> bool {
        self.ready.store(false, Ordering::Release);
        let _ = self.shutdown.send(());
        let drained = self.task.await.unwrap_or(false);
        if let Some((stop, task)) = self.admin {
            let _ = stop.send(());
            let _ = task.await;
        }
        let worker = self.worker.lock().unwrap_or_else(|e| e.into_inner()).take();
        if let Some(worker) = worker {
            worker.abort(); // undelivered records stay on disk for the next start
        }
        if let Some(spool) = self.app.load().spool() {
            // Delivery outcomes not yet fsynced (at most 1 s of them).
            if let Err(e) = spool.flush().await {
                tracing::error!(target: "spool", error = %e, "cannot flush the spool");
            }
        }
        drained
    }
}

/// The settings a reload cannot apply, where `new` differs from what runs:
/// the listeners, the log subscriber, the upstream client's trust anchors
/// and the replay store are made once, at start (`started`), and an open
/// spool keeps the directory and bound it was opened with. Each name is a
/// key of the configuration reference.
fn needing_restart(started: &Config, new: &Config, spool: Option<&Spool>) -> Vec<&'static str> {
    let (old, admin) = (started, |c: &Config| c.admin.as_ref().map(|a| a.listen));
    // Turning the admin listener on or off is `admin.listen`'s change.
    let recent = match (&old.admin, &new.admin) {
        (Some(old), Some(new)) => old.recent != new.recent,
        _ => false,
    };
    let ca = |c: &Config| (c.upstream.ca.clone(), c.upstream.ca_digest);
    let changes = [
        ("server.listen", old.server.listen != new.server.listen),
        (
            "server.tls (on/off)",
            old.server.tls.is_some() != new.server.tls.is_some(),
        ),
        (
            "server.max_connections",
            old.server.max_connections != new.server.max_connections,
        ),
        (
            "server.request_timeout (for the request head)",
            old.server.request_timeout != new.server.request_timeout,
        ),
        (
            "server.max_concurrent_streams",
            old.server.max_concurrent_streams != new.server.max_concurrent_streams,
        ),
        ("admin.listen", admin(old) != admin(new)),
        ("admin.recent", recent),
        ("upstream.ca", ca(old) != ca(new)),
        ("replay.store", old.replay.store != new.replay.store),
        ("replay.ttl", old.replay.ttl != new.replay.ttl),
        (
            "replay.max_entries",
            old.replay.max_entries != new.replay.max_entries,
        ),
        ("log.format", old.log.format != new.log.format),
        ("spool.dir", spool.is_some_and(|s| s.dir() != new.spool.dir)),
        (
            "spool.max_size",
            spool.is_some_and(|s| s.max_size() != new.spool.max_size),
        ),
    ];
    changes
        .into_iter()
        .filter_map(|(key, changed)| changed.then_some(key))
        .collect()
}
