//! The inbound listener: accept → optional TLS → HTTP/1.1 or HTTP/2 (auto,
//! ALPN over TLS) → the pipeline; and a graceful drain on shutdown.
//!
//! Limits enforced here, before the pipeline sees a request: header block
//! size (64 KiB), header count (100), time to receive the headers
//! (`request_timeout`) and time to finish a TLS handshake (10 s), and the
//! number of open connections (`max_connections`: over it, the loop stops
//! accepting until one closes; the kernel backlog holds the rest).
//!
//! Each request runs on the app generation current when it arrives, so a
//! reload never changes the rules under an in-flight request.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use arc_swap::ArcSwap;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::GracefulShutdown;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpListener;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio_rustls::TlsAcceptor;

use crate::proxy::{self, App, ConnInfo};

/// Largest accepted request header block, bytes.
pub const MAX_HEADER_BYTES: usize = 64 * 1024;
/// Largest accepted number of request headers.
pub const MAX_HEADERS: usize = 100;
/// Deadline for a client to complete the TLS handshake.
pub const TLS_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// Serves `listener` until `shutdown` resolves, then stops accepting and
/// gives in-flight requests up to `grace` to finish. Returns true when every
/// connection drained in time.
pub async fn serve(
    listener: TcpListener,
    apps: Arc<ArcSwap<App>>,
    tls: Option<Arc<rustls::ServerConfig>>,
    shutdown: impl Future<Output = ()>,
) -> bool {
    let first = apps.load_full();
    let server = &first.config().server;
    let slots = Arc::new(Semaphore::new(server.max_connections));
    let grace = server.shutdown_grace;
    let mut http = auto::Builder::new(TokioExecutor::new());
    http.http1()
        .timer(TokioTimer::new())
        .header_read_timeout(server.request_timeout)
        .max_buf_size(MAX_HEADER_BYTES)
        .max_headers(MAX_HEADERS);
    http.http2()
        .timer(TokioTimer::new())
        .max_header_list_size(u32::try_from(MAX_HEADER_BYTES).unwrap_or(u32::MAX))
        .max_concurrent_streams(256);
    let http = Arc::new(http);
    let acceptor = tls.map(TlsAcceptor::from);
    let graceful = GracefulShutdown::new();
    tokio::pin!(shutdown);

    loop {
        let permit = tokio::select! {
            () = &mut shutdown => break,
            permit = Arc::clone(&slots).acquire_owned() => match permit {
                Ok(permit) => permit,
                Err(_) => break, // the semaphore is never closed
            },
        };
        let (stream, peer) = tokio::select! {
            () = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok(pair) => pair,
                Err(e) => {
                    // Typically EMFILE: back off briefly instead of spinning.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        let _ = stream.set_nodelay(true);
        let conn = ConnInfo {
            peer,
            tls: acceptor.is_some(),
        };
        let app = Arc::clone(&apps);
        let http = Arc::clone(&http);
        let watcher = graceful.watcher();
        match acceptor.clone() {
            None => {
                tokio::spawn(serve_connection(stream, conn, app, http, watcher, permit));
            }
            Some(acceptor) => {
                tokio::spawn(async move {
                    match tokio::time::timeout(TLS_HANDSHAKE_TIMEOUT, acceptor.accept(stream)).await
                    {
                        Ok(Ok(tls_stream)) => {
                            serve_connection(tls_stream, conn, app, http, watcher, permit).await;
                        }
                        Ok(Err(e)) => tracing::debug!(%peer, error = %e, "tls handshake failed"),
                        Err(_) => tracing::debug!(%peer, "tls handshake timed out"),
                    }
                });
            }
        }
    }

    drop(listener);
    tracing::info!(
        grace_ms = grace.as_millis() as u64,
        "draining in-flight requests"
    );
    tokio::select! {
        () = graceful.shutdown() => true,
        () = tokio::time::sleep(grace) => {
            tracing::warn!("shutdown grace elapsed with requests still in flight");
            false
        }
    }
}

async fn serve_connection<S>(
    stream: S,
    conn: ConnInfo,
    apps: Arc<ArcSwap<App>>,
    http: Arc<auto::Builder<TokioExecutor>>,
    watcher: hyper_util::server::graceful::Watcher,
    _permit: OwnedSemaphorePermit,
) where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let service = service_fn(move |req| proxy::handle(apps.load_full(), conn, req));
    let connection = http.serve_connection(TokioIo::new(stream), service);
    if let Err(e) = watcher.watch(connection.into_owned()).await {
        tracing::debug!(peer = %conn.peer, error = %e, "connection ended with error");
    }
}
