//! Opening a connection to an upstream, one stage at a time, so that a
//! failure is classified by the stage it happened in:
//!
//! 1. TCP (DNS, connect, the connect timeout): [`UpstreamError::Connect`];
//! 2. for `https://`, the TLS handshake, verified against the webpki roots
//!    plus `[upstream] ca`, never skipped: [`UpstreamError::Tls`]; ALPN
//!    picks HTTP/2 or HTTP/1.1;
//! 3. the HTTP handshake on it: [`UpstreamError::exchange`].
//!
//! What comes out is a [`Sender`] for one of the two protocols, which the
//! pool keeps.

use std::sync::Arc;
use std::time::Duration;

use http::uri::Authority;
use http::Uri;
use hyper::client::conn::{http1, http2};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use rustls::pki_types::ServerName;
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tower_service::Service;

use super::error::{Detail, UpstreamError};
use crate::body::Payload;

/// Longest wait for a TCP connection (the route's timeout may end it first).
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// ALPN protocol names (RFC 7301 registry), HTTP/2 preferred.
const ALPN_H2: &[u8] = b"h2";
const ALPN_HTTP1: &[u8] = b"http/1.1";

/// A ready connection: HTTP/1.1 (one request at a time) or HTTP/2
/// (multiplexed; clones share the connection). Either gives back a request
/// it never wrote (see `resend`).
pub(super) enum Sender {
    Http1(http1::SendRequest<Payload>),
    Http2(http2::SendRequest<Payload>),
}

/// Opens connections: TCP with the connect timeout and `TCP_NODELAY`, TLS
/// with the given client configuration.
#[derive(Clone)]
pub(super) struct Connector {
    tcp: HttpConnector,
    tls: TlsConnector,
}

// === impl Connector ===

impl Connector {
    /// A connector verifying `https://` upstreams with `tls` (its ALPN list
    /// is set here).
    pub(super) fn new(mut tls: rustls::ClientConfig) -> Self {
        tls.alpn_protocols = vec![ALPN_H2.to_vec(), ALPN_HTTP1.to_vec()];
        let mut tcp = HttpConnector::new();
        tcp.enforce_http(false);
        tcp.set_nodelay(true);
        tcp.set_connect_timeout(Some(CONNECT_TIMEOUT));
        Self {
            tcp,
            tls: TlsConnector::from(Arc::new(tls)),
        }
    }

    /// A new, ready connection to `authority`, over TLS if `tls`.
    pub(super) async fn connect(
        &self,
        tls: bool,
        authority: &Authority,
    ) -> Result<Sender, UpstreamError> {
        let tcp = self.tcp(authority).await?;
        if !tls {
            return http1_handshake(TokioIo::new(tcp)).await;
        }
        let stream = self.tls_handshake(tcp, authority).await?;
        let h2 = stream.get_ref().1.alpn_protocol() == Some(ALPN_H2);
        let io = TokioIo::new(stream);
        if h2 {
            http2_handshake(io).await
        } else {
            http1_handshake(io).await
        }
    }

    async fn tcp(&self, authority: &Authority) -> Result<TcpStream, UpstreamError> {
        // The connector wants a URI; only its host and port are read.
        let uri = Uri::builder()
            .scheme("http")
            .authority(authority.clone())
            .path_and_query("/")
            .build()
            .map_err(|e| UpstreamError::InvalidUri(Detail::of(&e)))?;
        let io = self
            .tcp
            .clone()
            .call(uri)
            .await
            .map_err(|e| UpstreamError::Connect(Detail::of(&e)))?;
        Ok(io.into_inner())
    }

    async fn tls_handshake(
        &self,
        tcp: TcpStream,
        authority: &Authority,
    ) -> Result<tokio_rustls::client::TlsStream<TcpStream>, UpstreamError> {
        let name = server_name(authority)?;
        self.tls
            .connect(name, tcp)
            .await
            .map_err(|e| UpstreamError::Tls(Detail::of(&e)))
    }
}

/// The name the certificate must be valid for: the host, an IP address
/// without its brackets.
fn server_name(authority: &Authority) -> Result<ServerName<'static>, UpstreamError> {
    let host = authority.host();
    let host = host
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host);
    ServerName::try_from(host.to_owned()).map_err(|e| UpstreamError::InvalidUri(Detail::of(&e)))
}

async fn http1_handshake<T>(io: T) -> Result<Sender, UpstreamError>
where
    T: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
{
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
    Ok(Sender::Http1(sender))
}

async fn http2_handshake<T>(io: T) -> Result<Sender, UpstreamError>
where
    T: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
{
    let (sender, conn) = http2::Builder::new(TokioExecutor::new())
        .timer(TokioTimer::new())
        .handshake(io)
        .await
        .map_err(|e| UpstreamError::exchange(&e))?;
    tokio::spawn(async move {
        // Ends when the upstream closes the connection, or when every
        // sender is dropped and its last stream has finished.
        let _ = conn.await;
    });
    Ok(Sender::Http2(sender))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_names_drop_ip_brackets() {
        let name = |a: &str| server_name(&a.parse().unwrap()).unwrap();
        assert_eq!(name("app.internal:8443").to_str(), "app.internal");
        assert_eq!(name("[::1]:8443").to_str(), "::1");
        assert_eq!(name("127.0.0.1").to_str(), "127.0.0.1");
    }
}
