//! Start-up and shutdown: from a validated [`Config`] to a bound, serving
//! proxy, and back. Shared by the binary and the integration tests, so tests
//! exercise exactly the start-up path production uses.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::config::{Config, ReplayStoreKind};
use crate::proxy::forward::{ClientBuildError, UpstreamClient};
use crate::proxy::App;
use crate::replay::{MemoryStore, RedisStore, ReplayStore};
use crate::server;
use crate::tls::{self, TlsError};

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
}

/// A running proxy.
pub struct Running {
    /// The address actually bound (useful with port 0).
    pub addr: SocketAddr,
    app: Arc<App>,
    shutdown: oneshot::Sender<()>,
    task: JoinHandle<bool>,
}

/// Binds the listener and starts serving in the background.
pub async fn start(config: Config) -> Result<Running, StartError> {
    let config = Arc::new(config);
    let tls = config
        .server
        .tls
        .as_ref()
        .map(tls::server_config)
        .transpose()?;
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
                    "replay store (Redis) not reachable at start; retrying on each request"
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
    let app = Arc::new(App::new(config, client, Arc::new(replay)));
    let (shutdown, rx) = oneshot::channel::<()>();
    let task = tokio::spawn(server::serve(listener, Arc::clone(&app), tls, async {
        let _ = rx.await;
    }));
    Ok(Running {
        addr,
        app,
        shutdown,
        task,
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
    /// The runtime state (replay store, config) of this instance.
    pub fn app(&self) -> &Arc<App> {
        &self.app
    }

    /// Stops accepting, drains within `shutdown_grace`; true if all drained.
    pub async fn shutdown(self) -> bool {
        let _ = self.shutdown.send(());
        self.task.await.unwrap_or(false)
    }
}
