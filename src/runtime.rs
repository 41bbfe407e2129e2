//! Start-up and shutdown: from a validated [`Config`] to a bound, serving
//! proxy, and back. Shared by the binary and the integration tests, so tests
//! exercise exactly the start-up path production uses.

use std::net::SocketAddr;
use std::sync::Arc;

use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::config::{Config, Delivery, ReplayStoreKind};
use crate::proxy::forward::{ClientBuildError, UpstreamClient};
use crate::proxy::App;
use crate::replay::{MemoryStore, ReplayStore};
use crate::server;
use crate::spool::{self, Spool, SpoolError};
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
    /// The configured replay store is not available in this build.
    #[error("replay store {0:?} is not available in this build")]
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

/// A running proxy.
pub struct Running {
    /// The address actually bound (useful with port 0).
    pub addr: SocketAddr,
    app: Arc<App>,
    shutdown: oneshot::Sender<()>,
    task: JoinHandle<bool>,
    worker: Option<JoinHandle<()>>,
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
        ReplayStoreKind::Redis(url) => return Err(StartError::ReplayStore(url.clone())),
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
    let mut app = App::new(Arc::clone(&config), client.clone(), Arc::new(replay));
    // Queue mode: open the spool (loading what a previous run left) and
    // start delivering; the worker stops with the runtime.
    let mut worker = None;
    if config.routes.iter().any(|r| r.delivery == Delivery::Queue) {
        let dir = &config.spool.dir;
        let spool =
            Spool::open(dir, config.spool.max_size).map_err(|source| StartError::Spool {
                dir: dir.clone(),
                source,
            })?;
        worker = Some(spool::worker::start(Arc::clone(&spool), config, client));
        app = app.with_spool(spool);
    }
    let app = Arc::new(app);
    let (shutdown, rx) = oneshot::channel::<()>();
    let task = tokio::spawn(server::serve(listener, Arc::clone(&app), tls, async {
        let _ = rx.await;
    }));
    Ok(Running {
        addr,
        app,
        shutdown,
        task,
        worker,
    })
}

// === impl Running ===

impl Running {
    /// The runtime state (replay store, config) of this instance.
    pub fn app(&self) -> &Arc<App> {
        &self.app
    }

    /// Stops accepting, drains within `shutdown_grace`; true if all drained.
    pub async fn shutdown(self) -> bool {
        let _ = self.shutdown.send(());
        let drained = self.task.await.unwrap_or(false);
        if let Some(worker) = self.worker {
            worker.abort(); // undelivered records stay on disk for the next start
        }
        drained
    }
}
