//! The inbound listener: accept → optional PROXY protocol header (behind a
//! TCP load balancer, see `proxy_protocol`) → optional TLS → HTTP/1.1 or
//! HTTP/2 → the pipeline; and a graceful drain on shutdown.
//!
//! The protocol is chosen once per connection, before hyper sees a byte: by
//! ALPN over TLS, and on plain TCP by peeking at the first three bytes for
//! the HTTP/2 prior-knowledge preface. Peeking leaves the socket untouched,
//! so HTTP/1 connections go straight to hyper's HTTP/1 server with no rewind
//! buffer in front and one read buffer per connection (hyper-util's `auto`
//! builder reads the first 24 bytes itself, which costs a copy and grows
//! hyper's buffer to 16 KiB on every connection). Only a peer whose first
//! segment is shorter than three bytes has them read and put back in front.
//!
//! Limits enforced here, before the pipeline sees a request: header block
//! size (64 KiB), header count (100), time to receive the headers
//! (`request_timeout`), time to finish a TLS handshake (10 s, or
//! `request_timeout` if shorter), the number of open connections
//! (`max_connections`: over it, the loop stops accepting until one closes;
//! the kernel backlog holds the rest), and how long a connection may keep
//! its slot without a request in progress (see `lifetime`: the first request
//! within `request_timeout`, then `idle_timeout` between requests; HTTP/2
//! PINGs find a dead peer).
//!
//! Each request runs on the app generation current when it arrives, so a
//! reload never changes the rules under an in-flight request.

use std::future::Future;
use std::io;
use std::io::Cursor;
use std::sync::Arc;
use std::time::Duration;

use arc_swap::ArcSwap;
use hyper::server::conn::{http1, http2};
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, Chain, Join};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{watch, OwnedSemaphorePermit, Semaphore};
use tokio::time::Instant;
use tokio_rustls::TlsAcceptor;

use crate::config::ServerConfig;
use crate::proxy::budget::Budget;
use crate::proxy::{self, App, ConnInfo};
use lifetime::{Activity, Ended, Limits};
use proxy_protocol::{believe_header, expected_proxy_header, refuse_untrusted_peer};

mod lifetime;
mod proxy_protocol;

/// Largest accepted request header block, bytes: on HTTP/1.1 the request
/// line and headers as sent (a larger head gets 431); on HTTP/2 the decoded
/// header list as RFC 9113 §6.5.2 counts it (name + value + 32 bytes per
/// field), which must stay below it (h2 answers 431 and refuses the stream).
pub const MAX_HEADER_BYTES: usize = 64 * 1024;
/// Largest accepted number of request headers.
pub const MAX_HEADERS: usize = 100;
/// Deadline for a client to complete the TLS handshake (or
/// `request_timeout`, if shorter).
pub const TLS_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// How long an HTTP/2 connection may stay silent before hyper PINGs it, and
/// how long the PING may go unanswered before the connection is closed as
/// dead (each `request_timeout`, if shorter). A PING costs 17 bytes each way.
pub const KEEP_ALIVE_INTERVAL: Duration = Duration::from_secs(20);
/// See [`KEEP_ALIVE_INTERVAL`]; also how long a connection asked to close
/// gracefully (GOAWAY, answered by a PING round trip) may take to do so.
pub const KEEP_ALIVE_TIMEOUT: Duration = Duration::from_secs(10);

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
    let http = Arc::new(Http::new(server));
    let acceptor = tls.map(TlsAcceptor::from);
    // Each connection holds a receiver; draining is done when all are gone.
    let (drain, _) = watch::channel(());
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
        let accepted = Instant::now();
        // Settings a reload applies to the connections accepted after it.
        let (idle, per_connection, header) = {
            let current = apps.load();
            let server = &current.config().server;
            let header = match expected_proxy_header(server, peer) {
                Ok(header) => header,
                Err(()) => {
                    refuse_untrusted_peer(&current, peer);
                    continue; // dropping the stream closes it
                }
            };
            (
                server.idle_timeout,
                server.max_buffered_per_connection,
                header,
            )
        };
        let conn = ConnInfo {
            peer,
            tls: acceptor.is_some(),
            buffered: Arc::new(Budget::new(per_connection)),
        };
        let lifetime = Lifetime {
            http: Arc::clone(&http),
            activity: Arc::new(Activity::new(accepted)),
            idle,
            drain: drain.subscribe(),
            _permit: permit,
        };
        let app = Arc::clone(&apps);
        match acceptor.clone() {
            None => {
                tokio::spawn(async move {
                    let mut stream = stream;
                    let deadline = accepted + lifetime.http.request_timeout;
                    let Some(conn) =
                        believe_header(&mut stream, header, conn, deadline, &app).await
                    else {
                        return;
                    };
                    match tokio::time::timeout_at(deadline, sniff_plain(stream)).await {
                        Ok(Ok(Sniffed::Peeked(protocol, stream))) => {
                            serve_connection(stream, protocol, conn, app, lifetime).await;
                        }
                        Ok(Ok(Sniffed::Read(protocol, replayed))) => {
                            serve_connection(replayed, protocol, conn, app, lifetime).await;
                        }
                        Ok(Ok(Sniffed::Closed)) => {} // closed before deciding
                        Ok(Err(e)) => tracing::debug!(%peer, error = %e, "connection failed"),
                        Err(_) => tracing::debug!(%peer, "no request before request_timeout"),
                    }
                });
            }
            Some(acceptor) => {
                tokio::spawn(async move {
                    let mut stream = stream;
                    let deadline = accepted + lifetime.http.tls_handshake_timeout;
                    let Some(conn) =
                        believe_header(&mut stream, header, conn, deadline, &app).await
                    else {
                        return;
                    };
                    let handshake = acceptor.accept(stream);
                    match tokio::time::timeout_at(deadline, handshake).await {
                        Ok(Ok(tls_stream)) => {
                            let protocol = match tls_stream.get_ref().1.alpn_protocol() {
                                Some(b"h2") => Protocol::Http2,
                                _ => Protocol::Http1,
                            };
                            serve_connection(tls_stream, protocol, conn, app, lifetime).await;
                        }
                        Ok(Err(e)) => tracing::debug!(%peer, error = %e, "tls handshake failed"),
                        Err(_) => tracing::debug!(%peer, "tls handshake timed out"),
                    }
                });
            }
        }
    }

    drop(listener);
    // Read now, not at start: a reload may have changed it.
    let grace = apps.load().config().server.shutdown_grace;
    tracing::info!(
        grace_ms = grace.as_millis() as u64,
        "draining in-flight requests"
    );
    let _ = drain.send(());
    tokio::select! {
        () = drain.closed() => true,
        () = tokio::time::sleep(grace) => {
            tracing::warn!("shutdown grace elapsed with requests still in flight");
            false
        }
    }
}

/// The HTTP/1.1 and HTTP/2 server settings, made once and shared by every
/// connection.
struct Http {
    http1: http1::Builder,
    http2: http2::Builder<TokioExecutor>,
    /// How long a connection may take to start its first request.
    request_timeout: Duration,
    tls_handshake_timeout: Duration,
    keep_alive_timeout: Duration,
}

impl Http {
    fn new(server: &ServerConfig) -> Self {
        let request_timeout = server.request_timeout;
        let keep_alive_interval = KEEP_ALIVE_INTERVAL.min(request_timeout);
        let keep_alive_timeout = KEEP_ALIVE_TIMEOUT.min(request_timeout);
        let mut http1 = http1::Builder::new();
        // `max_buf_size` alone bounds the read buffer, not the head: hyper
        // reads into the buffer's whole spare capacity, so a head that fits
        // the first over-sized read was accepted (up to about 112 KiB).
        // `max_header_size` checks the parsed request line and headers.
        http1
            .timer(TokioTimer::new())
            .header_read_timeout(request_timeout)
            .max_header_size(MAX_HEADER_BYTES)
            .max_buf_size(MAX_HEADER_BYTES)
            .max_headers(MAX_HEADERS);
        let mut http2 = http2::Builder::new(TokioExecutor::new());
        http2
            .timer(TokioTimer::new())
            .keep_alive_interval(keep_alive_interval)
            .keep_alive_timeout(keep_alive_timeout)
            .max_header_list_size(u32::try_from(MAX_HEADER_BYTES).unwrap_or(u32::MAX))
            .max_concurrent_streams(server.max_concurrent_streams);
        Http {
            http1,
            http2,
            request_timeout,
            tls_handshake_timeout: TLS_HANDSHAKE_TIMEOUT.min(request_timeout),
            keep_alive_timeout,
        }
    }
}

/// What a connection's task holds besides the stream: the settings, its
/// activity and deadlines, its drain signal and its `max_connections` slot.
struct Lifetime {
    http: Arc<Http>,
    activity: Arc<Activity>,
    idle: Duration,
    drain: watch::Receiver<()>,
    _permit: OwnedSemaphorePermit,
}

impl Lifetime {
    fn limits(&self) -> Limits {
        Limits {
            first_request: self.http.request_timeout,
            idle: self.idle,
            linger: self.http.keep_alive_timeout,
        }
    }
}

/// The protocol a connection speaks, decided before hyper reads from it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Protocol {
    Http1,
    Http2,
}

/// What an HTTP/2 client with prior knowledge sends first (RFC 9113 §3.4).
const H2_PREFACE: &[u8; 24] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

/// What the first bytes of a plain connection said.
enum Sniffed {
    /// The peer closed before sending a byte.
    Closed,
    /// Decided by peeking: the socket is untouched.
    Peeked(Protocol, TcpStream),
    /// The peer sent fewer bytes than it takes to decide, so they were read;
    /// they must be handed to hyper before the rest of the stream.
    Read(Protocol, Replayed),
}

/// Decides the protocol of a plain connection from its first bytes: HTTP/2
/// when they begin the prior-knowledge preface, else HTTP/1.1 (hyper answers
/// anything malformed). Normally by peeking, which consumes nothing; when
/// only one or two bytes have arrived ("P" could begin POST or PRI), by
/// reading until three are in, because peeking again would return at once
/// with the same bytes, and a peer trickling bytes must cost waits, not a
/// busy loop.
async fn sniff_plain(stream: TcpStream) -> io::Result<Sniffed> {
    const DECIDES: usize = 3; // "PRI" is no HTTP/1.1 method anyone sends
    let decide = |seen: &[u8]| {
        if seen != &H2_PREFACE[..seen.len()] {
            Some(Protocol::Http1)
        } else if seen.len() >= DECIDES {
            Some(Protocol::Http2)
        } else {
            None
        }
    };
    let mut head = [0u8; DECIDES];
    let n = stream.peek(&mut head).await?;
    if n == 0 {
        return Ok(Sniffed::Closed);
    }
    if let Some(protocol) = decide(&head[..n]) {
        return Ok(Sniffed::Peeked(protocol, stream));
    }
    let mut stream = stream;
    let mut len = 0;
    loop {
        let read = stream.read(&mut head[len..]).await?;
        if read == 0 {
            return Ok(Sniffed::Closed);
        }
        len += read;
        if let Some(protocol) = decide(&head[..len]) {
            return Ok(Sniffed::Read(protocol, replay(&head[..len], stream)));
        }
    }
}

/// A plain connection whose first bytes were read during the sniff, with
/// them put back in front of the rest (tokio's `chain` and `join`).
type Replayed = Join<Chain<Cursor<Vec<u8>>, OwnedReadHalf>, OwnedWriteHalf>;

fn replay(head: &[u8], stream: TcpStream) -> Replayed {
    let (read, write) = stream.into_split();
    tokio::io::join(Cursor::new(head.to_vec()).chain(read), write)
}

async fn serve_connection<S>(
    stream: S,
    protocol: Protocol,
    conn: ConnInfo,
    apps: Arc<ArcSwap<App>>,
    lifetime: Lifetime,
) where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let limits = lifetime.limits();
    // `_slot` is held to the end: the connection's max_connections slot.
    let Lifetime {
        http,
        activity,
        drain,
        _permit: _slot,
        ..
    } = lifetime;
    // The request future is boxed (inside `handle`), so hyper's
    // per-connection slot for it stays a pointer wide while the connection
    // idles between requests.
    let tracker = Arc::clone(&activity);
    let peer = conn.peer;
    let service =
        service_fn(move |req| tracker.track(proxy::handle(apps.load_full(), conn.clone(), req)));
    let io = TokioIo::new(stream);
    let ended = match protocol {
        Protocol::Http1 => {
            let conn = http.http1.serve_connection(io, service);
            lifetime::supervise(conn, |c| c.graceful_shutdown(), &activity, limits, drain).await
        }
        // Boxed: HTTP/2 state is large and rare here, and would otherwise
        // size every HTTP/1 connection's task.
        Protocol::Http2 => {
            let conn = http.http2.serve_connection(io, service);
            let supervised =
                lifetime::supervise(conn, |c| c.graceful_shutdown(), &activity, limits, drain);
            Box::pin(supervised).await
        }
    };
    match ended {
        Ok(()) => {}
        Err(Ended::Error(e)) => {
            tracing::debug!(peer = %peer, error = %e, "connection ended with error");
        }
        Err(Ended::NoRequest) => {
            tracing::debug!(peer = %peer, "no request before request_timeout")
        }
        Err(Ended::Idle) => tracing::debug!(peer = %peer, "idle connection closed"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::AsyncWriteExt;

    /// A connected loopback pair: (client side, server side).
    async fn pair() -> (TcpStream, TcpStream) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let client = TcpStream::connect(listener.local_addr().unwrap());
        let (client, accepted) = tokio::join!(client, listener.accept());
        (client.unwrap(), accepted.unwrap().0)
    }

    async fn sniff_after(chunks: &[&[u8]]) -> (Sniffed, TcpStream) {
        let (mut client, server) = pair().await;
        let sniffing = tokio::spawn(sniff_plain(server));
        for chunk in chunks {
            client.write_all(chunk).await.unwrap();
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        (sniffing.await.unwrap().unwrap(), client)
    }

    #[tokio::test]
    async fn whole_first_segments_are_decided_by_peeking() {
        let (sniffed, _client) = sniff_after(&[b"POST / HTTP/1.1\r\n"]).await;
        assert!(matches!(sniffed, Sniffed::Peeked(Protocol::Http1, _)));
        let (sniffed, _client) = sniff_after(&[&H2_PREFACE[..]]).await;
        assert!(matches!(sniffed, Sniffed::Peeked(Protocol::Http2, _)));
    }

    #[tokio::test]
    async fn trickled_first_bytes_are_read_and_handed_back_in_order() {
        let (sniffed, mut client) = sniff_after(&[b"P", b"R", &H2_PREFACE[2..]]).await;
        let Sniffed::Read(Protocol::Http2, mut stream) = sniffed else {
            panic!("expected HTTP/2 decided by reading");
        };
        client.shutdown().await.unwrap();
        let mut seen = Vec::new();
        stream.read_to_end(&mut seen).await.unwrap();
        assert_eq!(seen, H2_PREFACE);

        let (sniffed, _client) = sniff_after(&[b"P", b"OST / HTTP/1.1\r\n"]).await;
        assert!(matches!(sniffed, Sniffed::Read(Protocol::Http1, _)));
    }

    #[tokio::test]
    async fn a_peer_closing_before_deciding_is_closed() {
        let (mut client, server) = pair().await;
        client.write_all(b"P").await.unwrap();
        client.shutdown().await.unwrap();
        assert!(matches!(
            sniff_plain(server).await.unwrap(),
            Sniffed::Closed
        ));
    }
}
