//! Keep-alive connections to upstreams, for both transports: plain
//! `http://` (HTTP/1.1; the sidecar case, where the app listens on
//! loopback) and `https://` (HTTP/2 when the upstream offers it by ALPN,
//! else HTTP/1.1), and the send loop, where the resend rule is applied.
//!
//! Why not hyper-util's pooled client: per request it builds the Host
//! header with `format!`, hashes the pool key several times, fills request
//! extensions and goes through a checkout future; measured with callgrind
//! that was about a tenth of all instructions hookguard spent per
//! forwarded webhook. It also decides by itself which failed requests to
//! send again, where hookguard keeps one rule for every transport
//! (`resend`). Here a request takes a ready connection from a short list
//! under a mutex, or opens one (`connect`), and sends on it.
//!
//! An HTTP/1.1 connection serves one request at a time: idle ones wait in
//! a list. An HTTP/2 connection is shared by every request to its upstream.

use std::future::Future;
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use http::header::{HeaderValue, HOST};
use http::uri::{Authority, PathAndQuery, Scheme};
use http::{Request, Response, Uri};
use hyper::body::Incoming;
use hyper::client::conn::{http1, http2};

use super::connect::{Connector, Sender};
use super::error::{Detail, UpstreamError};
use super::resend::Resend;
use crate::body::Payload;

/// Idle HTTP/1.1 connections kept per upstream.
const MAX_IDLE_PER_UPSTREAM: usize = 256;
/// A connection idle this long is closed rather than reused.
const IDLE_TIMEOUT: Duration = Duration::from_secs(60);

struct Idle {
    sender: http1::SendRequest<Payload>,
    since: Instant,
}

struct Shared {
    sender: http2::SendRequest<Payload>,
    since: Instant,
}

/// One upstream: its scheme and authority, its Host header, made once,
/// and its connections.
struct Upstream {
    tls: bool,
    authority: Authority,
    host: HeaderValue,
    idle: Vec<Idle>,
    shared: Option<Shared>,
}

/// Where a request goes: its upstream's place in the pool's list (which
/// only grows, so the place stays valid).
#[derive(Clone, Copy, Debug)]
pub(super) struct Target(usize);

/// Connections to upstreams, by scheme and authority. A list, not a map:
/// upstreams come from the route table (a handful), and comparing a short
/// authority costs less than hashing it case-insensitively.
pub(super) struct Pool {
    pub(super) connector: Connector,
    upstreams: Mutex<Vec<Upstream>>,
}

// === impl Pool ===

impl Pool {
    /// A pool opening its connections with `connector`.
    pub(super) fn new(connector: Connector) -> Self {
        Self {
            connector,
            upstreams: Mutex::new(Vec::new()),
        }
    }

    /// Sends `req` (an absolute `http://` or `https://` URI) and returns
    /// the response head; the body streams from the connection, which goes
    /// back to the pool. Not an async fn: the checkout does not wait, and
    /// a future level fewer is a copy of the request fewer.
    pub(super) fn send(
        &self,
        mut req: Request<Payload>,
    ) -> impl Future<Output = Result<Response<Incoming>, UpstreamError>> + Send + '_ {
        let checked_out = self.checkout(&mut req);
        self.exchange(checked_out, req)
    }

    /// Sends `req` on the `pooled` connection, or on a new one; a request
    /// the connection gave back unsent goes again on a new connection if
    /// [`Resend`] allows it. Errors are classified by where they happened:
    /// opening a connection, or the exchange on it.
    pub(super) async fn exchange(
        &self,
        checked_out: Result<(Target, Option<Sender>), UpstreamError>,
        mut req: Request<Payload>,
    ) -> Result<Response<Incoming>, UpstreamError> {
        let (target, mut pooled) = checked_out?;
        let mut resend = Resend::default();
        loop {
            let reused = pooled.is_some();
            let mut sender = match pooled.take() {
                Some(sender) => sender,
                // Boxed: the TLS handshake's state would otherwise be
                // part of every request's future, which is kept small.
                None => Box::pin(self.connect(target, &mut req)).await?,
            };
            let sent = match &mut sender {
                Sender::Http1(http1) => http1.try_send_request(req).await,
                Sender::Http2(http2) => http2.try_send_request(req).await,
            };
            match sent {
                Ok(resp) => {
                    self.checkin(target, sender);
                    return Ok(resp);
                }
                Err(failed) => {
                    req = resend
                        .after(failed, reused)
                        .map_err(|e| UpstreamError::exchange(&e))?;
                }
            }
        }
    }

    /// Where `req` goes, and a connection to it if one is ready: the
    /// upstream's HTTP/2 connection, or its most recently used idle
    /// HTTP/1.1 one (closed or stale ones found on the way are dropped).
    /// When the protocol is known (a pooled connection's, or HTTP/1.1 to a
    /// plain upstream), `req` is put in its form here.
    pub(super) fn checkout(
        &self,
        req: &mut Request<Payload>,
    ) -> Result<(Target, Option<Sender>), UpstreamError> {
        let uri = req.uri();
        let tls = if uri.scheme() == Some(&Scheme::HTTP) {
            false
        } else if uri.scheme() == Some(&Scheme::HTTPS) {
            true
        } else {
            return Err(invalid("upstream URI is neither http:// nor https://"));
        };
        let authority = uri
            .authority()
            .ok_or_else(|| invalid("upstream URI has no authority"))?;
        let (at, pooled, host) = {
            let mut upstreams = self.lock();
            let at = match find(&upstreams, tls, authority) {
                Some(at) => at,
                None => {
                    let host = HeaderValue::from_str(&host_text(authority, tls))
                        .map_err(|e| UpstreamError::InvalidUri(Detail::of(&e)))?;
                    upstreams.push(Upstream {
                        tls,
                        authority: authority.clone(),
                        host,
                        idle: Vec::new(),
                        shared: None,
                    });
                    upstreams.len() - 1
                }
            };
            let upstream = &mut upstreams[at];
            (at, upstream.take_ready(), upstream.host.clone())
        };
        match pooled {
            Some(Sender::Http1(_)) => origin_form(req, host),
            None if !tls => origin_form(req, host),
            // HTTP/2 sends the absolute form the request has; a new TLS
            // connection's protocol is known once it is open.
            _ => {}
        }
        Ok((Target(at), pooled))
    }

    /// A new connection to the target, with `req` put in its protocol's
    /// form (a request given back unsent may go again on the other one).
    async fn connect(
        &self,
        target: Target,
        req: &mut Request<Payload>,
    ) -> Result<Sender, UpstreamError> {
        let (tls, authority, host) = {
            let upstreams = self.lock();
            let upstream = &upstreams[target.0];
            (
                upstream.tls,
                upstream.authority.clone(),
                upstream.host.clone(),
            )
        };
        let sender = self.connector.connect(tls, &authority).await?;
        match sender {
            Sender::Http1(_) => origin_form(req, host),
            Sender::Http2(_) => absolute_form(req, tls, authority)?,
        }
        Ok(sender)
    }

    /// Keeps a connection after its response head arrived: an HTTP/1.1 one
    /// is ready again once that response's body has been read; an HTTP/2
    /// one becomes (or stays) the upstream's shared connection.
    fn checkin(&self, target: Target, sender: Sender) {
        let mut upstreams = self.lock();
        let upstream = &mut upstreams[target.0];
        let since = Instant::now();
        match sender {
            Sender::Http1(sender) if upstream.idle.len() < MAX_IDLE_PER_UPSTREAM => {
                upstream.idle.push(Idle { sender, since });
            }
            Sender::Http1(_) => {}
            Sender::Http2(sender) => match &mut upstream.shared {
                Some(shared) if !shared.sender.is_closed() => shared.since = since,
                _ => upstream.shared = Some(Shared { sender, since }),
            },
        }
    }

    fn lock(&self) -> MutexGuard<'_, Vec<Upstream>> {
        self.upstreams.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// `req` checked out on `sender` as if the pool had kept it (tests: a
    /// connection that closes between checkout and sending).
    #[cfg(test)]
    pub(super) fn checkout_on(
        &self,
        req: &mut Request<Payload>,
        sender: Sender,
    ) -> (Target, Option<Sender>) {
        let (target, none) = self.checkout(req).unwrap();
        assert!(none.is_none(), "the pool had a connection already");
        let upstreams = self.lock();
        let upstream = &upstreams[target.0];
        match sender {
            Sender::Http1(_) => origin_form(req, upstream.host.clone()),
            Sender::Http2(_) => {
                absolute_form(req, upstream.tls, upstream.authority.clone()).unwrap()
            }
        }
        (target, Some(sender))
    }

    /// Connections ready for a request to the upstream (tests).
    #[cfg(test)]
    pub(super) fn ready_connections(&self, tls: bool, authority: &Authority) -> usize {
        let upstreams = self.lock();
        find(&upstreams, tls, authority).map_or(0, |at| {
            let upstream = &upstreams[at];
            let shared = upstream.shared.iter().filter(|s| !s.sender.is_closed());
            let idle = upstream.idle.iter().filter(|i| i.sender.is_ready());
            shared.count() + idle.count()
        })
    }
}

// === impl Upstream ===

impl Upstream {
    /// Its HTTP/2 connection, or its most recently used ready HTTP/1.1 one.
    fn take_ready(&mut self) -> Option<Sender> {
        if let Some(shared) = &self.shared {
            if !shared.sender.is_closed() && shared.since.elapsed() < IDLE_TIMEOUT {
                return Some(Sender::Http2(shared.sender.clone()));
            }
            self.shared = None;
        }
        let list = &mut self.idle;
        let mut i = list.len();
        while i > 0 {
            i -= 1;
            let entry = &list[i];
            if entry.sender.is_closed() {
                list.swap_remove(i);
            } else if entry.sender.is_ready() {
                let entry = list.swap_remove(i);
                if entry.since.elapsed() < IDLE_TIMEOUT {
                    return Some(Sender::Http1(entry.sender));
                }
            }
            // else: still busy with the previous response's body.
        }
        None
    }
}

fn find(upstreams: &[Upstream], tls: bool, authority: &Authority) -> Option<usize> {
    upstreams
        .iter()
        .position(|u| u.tls == tls && u.authority.as_str() == authority.as_str())
}

fn invalid(message: &'static str) -> UpstreamError {
    UpstreamError::InvalidUri(Detail::text(message))
}

/// The form HTTP/1.1 sends (RFC 9112 §3.2, §3.2.1): the upstream's
/// authority as Host, and the origin-form target. A request in origin form
/// carries our Host already.
fn origin_form(req: &mut Request<Payload>, host: HeaderValue) {
    if req.uri().authority().is_none() {
        return;
    }
    let target = req
        .uri()
        .path_and_query()
        .cloned()
        .unwrap_or_else(|| PathAndQuery::from_static("/"));
    *req.uri_mut() = Uri::from(target);
    req.headers_mut().insert(HOST, host);
}

/// The form HTTP/2 sends (RFC 9113 §8.3.1): the absolute URI, whose scheme
/// and authority become pseudo-headers, and no Host.
fn absolute_form(
    req: &mut Request<Payload>,
    tls: bool,
    authority: Authority,
) -> Result<(), UpstreamError> {
    if req.uri().authority().is_some() {
        return Ok(());
    }
    req.headers_mut().remove(HOST);
    let mut parts = http::uri::Parts::default();
    parts.scheme = Some(if tls { Scheme::HTTPS } else { Scheme::HTTP });
    parts.authority = Some(authority);
    parts.path_and_query = req.uri().path_and_query().cloned();
    *req.uri_mut() =
        Uri::from_parts(parts).map_err(|e| UpstreamError::InvalidUri(Detail::of(&e)))?;
    Ok(())
}

/// `host[:port]`, without user info or the scheme's default port (80, or
/// 443 over TLS), as hyper-util's client wrote it.
fn host_text(authority: &Authority, tls: bool) -> String {
    let default_port = if tls { 443 } else { 80 };
    match authority.port_u16() {
        Some(port) if port != default_port => format!("{}:{port}", authority.host()),
        _ => authority.host().to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_omits_only_the_default_port() {
        let host = |a: &str, tls| host_text(&a.parse().unwrap(), tls);
        assert_eq!(host("127.0.0.1:3000", false), "127.0.0.1:3000");
        assert_eq!(host("app:80", false), "app");
        assert_eq!(host("app", false), "app");
        assert_eq!(host("[::1]:80", false), "[::1]");
        assert_eq!(host("[::1]:8080", false), "[::1]:8080");
        assert_eq!(
            host("user@app:80", false),
            "app",
            "user info never goes into Host"
        );
        assert_eq!(host("app:443", true), "app");
        assert_eq!(host("app:443", false), "app:443");
        assert_eq!(host("app:80", true), "app:80");
    }

    #[test]
    fn the_form_follows_the_protocol_and_back() {
        let host = HeaderValue::from_static("app:8443");
        let authority: Authority = "app:8443".parse().unwrap();
        let mut req = Request::post("https://app:8443/hook?a=1")
            .body(Payload::new())
            .unwrap();
        origin_form(&mut req, host.clone());
        assert_eq!(req.uri(), "/hook?a=1");
        assert_eq!(req.headers()[HOST], "app:8443");
        absolute_form(&mut req, true, authority.clone()).unwrap();
        assert_eq!(req.uri(), "https://app:8443/hook?a=1");
        assert!(!req.headers().contains_key(HOST));
        // Each is idempotent.
        absolute_form(&mut req, true, authority).unwrap();
        assert_eq!(req.uri(), "https://app:8443/hook?a=1");
        origin_form(&mut req, host.clone());
        origin_form(&mut req, host);
        assert_eq!(req.uri(), "/hook?a=1");
        assert_eq!(req.headers().get_all(HOST).iter().count(), 1);
    }
}
