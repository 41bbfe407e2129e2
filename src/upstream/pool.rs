//! Keep-alive HTTP/1.1 connections to plain-`http://` upstreams — the
//! sidecar case, where the app listens on loopback.
//!
//! Why not hyper-util's pooled client for these too: per request it builds
//! the Host header with `format!`, hashes the pool key several times, fills
//! request extensions and goes through a checkout future; measured with
//! callgrind that was about a tenth of all instructions hookguard spent per
//! forwarded webhook. Here a request takes a ready connection from a short
//! list under a mutex, or opens one, and sends on it. `https://` upstreams
//! (TLS, HTTP/2 by ALPN) stay with hyper-util's client.
//!
//! A request that was never written — the pooled connection had closed
//! before it could be sent — is retried once on a fresh connection; nothing
//! that may have reached the upstream is ever resent.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use http::header::{HeaderValue, HOST};
use http::uri::{Authority, PathAndQuery};
use http::{Request, Response, Uri};
use hyper::body::Incoming;
use hyper::client::conn::http1::{self, SendRequest};
use hyper_util::client::legacy::connect::HttpConnector;
use tower_service::Service;

use super::error::{Detail, UpstreamError};
use crate::body::Payload;

/// Idle connections kept per upstream (also the `https://` client's bound).
pub(super) const MAX_IDLE_PER_UPSTREAM: usize = 256;
/// A connection idle this long is closed rather than reused (also for the
/// `https://` client).
pub(super) const IDLE_TIMEOUT: Duration = Duration::from_secs(60);

type Sender = SendRequest<Payload>;

struct Idle {
    sender: Sender,
    since: Instant,
}

/// One upstream: its Host header, made once, and its idle connections.
struct Upstream {
    host: HeaderValue,
    idle: Vec<Idle>,
}

/// Connections to plain-HTTP upstreams, by authority. A list, not a map:
/// upstreams come from the route table (a handful), and comparing a short
/// authority costs less than hashing it case-insensitively twice a request.
pub(crate) struct Http1Pool {
    connector: HttpConnector,
    upstreams: Mutex<Vec<(Authority, Upstream)>>,
}

impl std::fmt::Debug for Http1Pool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Http1Pool").finish_non_exhaustive()
    }
}

// === impl Http1Pool ===

impl Http1Pool {
    /// A pool opening connections with `connector` (DNS, connect timeout,
    /// TCP_NODELAY are its settings).
    pub(crate) fn new(connector: HttpConnector) -> Self {
        Self {
            connector,
            upstreams: Mutex::new(Vec::new()),
        }
    }

    /// Sends `req` (an absolute `http://` URI) and returns the response head;
    /// the body streams from the connection, which goes back to the pool.
    /// Errors are classified by where they happened: opening the connection
    /// (connect) or the exchange on it (send).
    pub(crate) async fn send(
        &self,
        mut req: Request<Payload>,
    ) -> Result<Response<Incoming>, UpstreamError> {
        let authority = req.uri().authority().cloned().ok_or_else(|| {
            UpstreamError::InvalidUri(Detail::text("upstream URI has no authority"))
        })?;
        // What an HTTP/1.1 client sends (RFC 9112 §3.2, §3.2.1): the
        // upstream's authority as Host, and the origin-form target.
        let (host, mut pooled) = self.checkout(&authority)?;
        req.headers_mut().insert(HOST, host);
        let target = req
            .uri()
            .path_and_query()
            .cloned()
            .unwrap_or_else(|| PathAndQuery::from_static("/"));
        *req.uri_mut() = Uri::from(target);
        loop {
            let fresh = pooled.is_none();
            let mut sender = match pooled.take() {
                Some(sender) => sender,
                None => self.connect(&authority).await?,
            };
            match sender.try_send_request(req).await {
                Ok(resp) => {
                    self.checkin(&authority, sender);
                    return Ok(resp);
                }
                Err(mut e) => match e.take_message() {
                    // Never written: the pooled connection was closing.
                    Some(unsent) if !fresh => req = unsent,
                    _ => return Err(UpstreamError::exchange(e.error())),
                },
            }
        }
    }

    /// The Host header for `authority`, and a ready, recently used
    /// connection to it if there is one (newest first; closed or stale
    /// ones found on the way are dropped).
    fn checkout(
        &self,
        authority: &Authority,
    ) -> Result<(HeaderValue, Option<Sender>), UpstreamError> {
        let mut upstreams = self.upstreams.lock().unwrap_or_else(|e| e.into_inner());
        let at = match find(&upstreams, authority) {
            Some(at) => at,
            None => {
                let host = HeaderValue::from_str(&host_text(authority))
                    .map_err(|e| UpstreamError::InvalidUri(Detail::of(&e)))?;
                let upstream = Upstream {
                    host,
                    idle: Vec::new(),
                };
                upstreams.push((authority.clone(), upstream));
                upstreams.len() - 1
            }
        };
        let upstream = &mut upstreams[at].1;
        let host = upstream.host.clone();
        let list = &mut upstream.idle;
        let mut i = list.len();
        while i > 0 {
            i -= 1;
            let entry = &list[i];
            if entry.sender.is_closed() {
                list.swap_remove(i);
            } else if entry.sender.is_ready() {
                let entry = list.swap_remove(i);
                if entry.since.elapsed() < IDLE_TIMEOUT {
                    return Ok((host, Some(entry.sender)));
                }
            }
            // else: still busy with the previous response's body.
        }
        Ok((host, None))
    }

    /// Returns a connection after its response head arrived; it becomes
    /// ready again once that response's body has been read.
    fn checkin(&self, authority: &Authority, sender: Sender) {
        let mut upstreams = self.upstreams.lock().unwrap_or_else(|e| e.into_inner());
        let Some(at) = find(&upstreams, authority) else {
            return;
        };
        let list = &mut upstreams[at].1.idle;
        if list.len() < MAX_IDLE_PER_UPSTREAM {
            list.push(Idle {
                sender,
                since: Instant::now(),
            });
        }
    }

    /// Opens a connection: failing to get one is a connect error; one that
    /// fails before it is ready, an exchange error (closed, as a rule).
    async fn connect(&self, authority: &Authority) -> Result<Sender, UpstreamError> {
        let uri = Uri::builder()
            .scheme("http")
            .authority(authority.clone())
            .path_and_query("/")
            .build()
            .map_err(|e| UpstreamError::InvalidUri(Detail::of(&e)))?;
        let io = self
            .connector
            .clone()
            .call(uri)
            .await
            .map_err(|e| UpstreamError::connect(&e))?;
        let (mut sender, conn) = http1::handshake(io)
            .await
            .map_err(|e| UpstreamError::exchange(&e))?;
        tokio::spawn(async move {
            // Ends when the upstream or the pool closes the connection.
            let _ = conn.await;
        });
        sender
            .ready()
            .await
            .map_err(|e| UpstreamError::exchange(&e))?;
        Ok(sender)
    }
}

fn find(upstreams: &[(Authority, Upstream)], authority: &Authority) -> Option<usize> {
    upstreams
        .iter()
        .position(|(a, _)| a.as_str() == authority.as_str())
}

/// `host[:port]`, without user info or the default port 80, as hyper-util's
/// client wrote it.
fn host_text(authority: &Authority) -> String {
    match authority.port_u16() {
        Some(port) if port != 80 => format!("{}:{port}", authority.host()),
        _ => authority.host().to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_omits_only_the_default_port() {
        let host = |a: &str| host_text(&a.parse().unwrap());
        assert_eq!(host("127.0.0.1:3000"), "127.0.0.1:3000");
        assert_eq!(host("app:80"), "app");
        assert_eq!(host("app"), "app");
        assert_eq!(host("[::1]:80"), "[::1]");
        assert_eq!(host("[::1]:8080"), "[::1]:8080");
        assert_eq!(host("user@app:80"), "app", "user info never goes into Host");
    }
}
