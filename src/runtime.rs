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
use std::sync::Arc;
use std::time::Duration;

use arc_swap::ArcSwap;

use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::admin::{self, AdminState};
use crate::config::{self, Config, ConfigErrors, Delivery, ReplayStoreKind};
use crate::metrics::Metrics;
use crate::proxy::forward::{ClientBuildError, UpstreamClient};
use crate::proxy::{App, Shared};
use crate::replay::{MemoryStore, RedisStore, ReplayStore};
use crate::security::Sources;
use crate::server;
use crate::spool::{self, Spool, SpoolError};
use crate::tls::{self, CertStore, TlsError};

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
}

/// A running proxy.
pub struct Running {
    /// The address actually bound (useful with port 0).
    pub addr: SocketAddr,
    /// The admin listener's address, when `[admin]` is configured.
    pub admin_addr: Option<SocketAddr>,
    app: Arc<ArcSwap<App>>,
    certs: Option<Arc<CertStore>>,
    ready: Arc<AtomicBool>,
    shutdown: oneshot::Sender<()>,
    task: JoinHandle<bool>,
    admin: Option<(oneshot::Sender<()>, JoinHandle<()>)>,
    worker: Option<JoinHandle<()>>,
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
    // Queue mode: open the spool (loading what a previous run left).
    let mut spool = None;
    if config.routes.iter().any(|r| r.delivery == Delivery::Queue) {
        let dir = &config.spool.dir;
        let opened =
            Spool::open(dir, config.spool.max_size).map_err(|source| StartError::Spool {
                dir: dir.clone(),
                source,
            })?;
        spool = Some(opened);
    }
    let shared = Shared {
        client: client.clone(),
        replay: Arc::new(replay),
        metrics: Arc::new(Metrics::new()),
        sources: Arc::new(Sources::new(config.security)),
        spool: spool.clone(),
    };
    // Readiness follows a background probe of the shared store.
    crate::replay::watch(&shared.replay);
    let app = Arc::new(ArcSwap::from_pointee(App::new(config, shared)));
    // Then start delivering, from the current route table (reloads
    // included); the worker stops with the runtime.
    let worker = spool.map(|spool| spool::worker::start(spool, Arc::clone(&app), client));
    let (shutdown, rx) = oneshot::channel::<()>();
    let task = tokio::spawn(server::serve(listener, Arc::clone(&app), tls, async {
        let _ = rx.await;
    }));
    let ready = Arc::new(AtomicBool::new(true));
    let (admin, admin_addr) = match admin_listener {
        Some((listener, bound)) => {
            tracing::info!(addr = %bound, "admin listening");
            let state = Arc::new(AdminState::new(Arc::clone(&app), Arc::clone(&ready)));
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
        certs,
        ready,
        shutdown,
        task,
        admin,
        worker,
    })
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
    /// old configuration keeps serving. Logs and counts the attempt.
    pub fn reload(&self) -> Result<(), ReloadError> {
        let current = self.app.load_full();
        let result = self.try_reload(&current);
        current.metrics().reload(result.is_ok());
        match &result {
            Ok(()) => tracing::info!(
                config = %current.config().source.display(),
                "configuration reloaded"
            ),
            Err(e) => tracing::error!(
                config = %current.config().source.display(),
                error = %e,
                "configuration reload failed; the previous configuration keeps serving"
            ),
        }
        result
    }

    fn try_reload(&self, current: &App) -> Result<(), ReloadError> {
        let old = current.config();
        let new = config::load(&old.source).map_err(ReloadError::Config)?;
        for warning in &new.warnings {
            tracing::warn!(config = %new.source.display(), "{warning}");
        }
        let needs_restart = |what: &str| {
            tracing::warn!("{what} changed: the change needs a restart to take effect");
        };
        if new.server.listen != old.server.listen {
            needs_restart("server.listen");
        }
        if new.admin.as_ref().map(|a| a.listen) != old.admin.as_ref().map(|a| a.listen) {
            needs_restart("admin.listen");
        }
        if new.server.max_connections != old.server.max_connections {
            needs_restart("server.max_connections");
        }
        if new.server.request_timeout != old.server.request_timeout {
            // The body deadline follows the new value at once; the header
            // read timeout is fixed on the listener.
            needs_restart("server.request_timeout (header read timeout)");
        }
        if new.log.format != old.log.format {
            // The subscriber is installed once; `log.audit` applies at once.
            needs_restart("log.format");
        }
        match (&new.server.tls, &self.certs) {
            (Some(files), Some(store)) => store.reload(files)?,
            (None, None) => {}
            _ => needs_restart("server.tls (on/off)"),
        }
        // Everything is valid: from here on, nothing can fail.
        current.sources().reconfigure(new.security);
        self.app
            .store(Arc::new(App::new(Arc::new(new), current.shared())));
        if let Some(spool) = current.spool() {
            // The worker picks up changed queue routes at its next pass.
            spool.wake.notify_one();
        }
        Ok(())
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
        if let Some(worker) = self.worker {
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
