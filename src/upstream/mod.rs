//! The upstream layer: how hookguard sends a verified webhook to the app,
//! for forward mode (`proxy`) and queue mode (`spool`) alike. It knows
//! nothing of either: it takes a request and a timeout and returns the
//! response head or an [`UpstreamError`].
//!
//! - [`UpstreamClient`] (here): one pooled keep-alive client shared by every
//!   route; `https://` upstreams are verified against the webpki roots plus
//!   an optional extra CA (`[upstream] ca`), never skipped.
//! - `pool`: the hand-written HTTP/1.1 pool for plain `http://` upstreams.
//! - [`error`]: [`UpstreamError`], classified where the failure happened.
//! - [`uri`]: the upstream URI of a request.
//! - [`headers`]: names of the headers hookguard adds to what it sends.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use http::uri::Scheme;
use http::{Request, Response};
use hyper::body::Incoming;
use hyper_rustls::{HttpsConnector, HttpsConnectorBuilder};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::{TokioExecutor, TokioTimer};

pub(crate) mod error;
pub(crate) mod headers;
mod pool;
pub(crate) mod uri;

pub(crate) use error::UpstreamError;

#[cfg(test)]
mod tests;
pub(crate) use uri::upstream_uri;

use crate::body::Payload;
use crate::tls::TlsError;
use pool::{Http1Pool, IDLE_TIMEOUT, MAX_IDLE_PER_UPSTREAM};

/// Errors building the client (reading the extra CA).
#[derive(Debug, thiserror::Error)]
pub enum ClientBuildError {
    /// The CA file could not be read or holds no certificate.
    #[error("upstream ca {path}: {message}")]
    Ca {
        /// The file.
        path: String,
        /// What went wrong.
        message: String,
    },
}

/// Pooled HTTP/1.1 (and, over TLS with ALPN, HTTP/2) client to upstreams:
/// plain `http://` upstreams through [`Http1Pool`], `https://` through
/// hyper-util's client.
#[derive(Clone, Debug)]
pub(crate) struct UpstreamClient {
    plain: Arc<Http1Pool>,
    client: Client<HttpsConnector<HttpConnector>, Payload>,
}

// === impl UpstreamClient ===

impl UpstreamClient {
    /// Builds the client, trusting the webpki roots plus `extra_ca`.
    pub(crate) fn new(extra_ca: Option<&Path>) -> Result<Self, ClientBuildError> {
        let roots = crate::tls::upstream_roots(extra_ca).map_err(|e| match e {
            TlsError::Pem { path, message } => ClientBuildError::Ca { path, message },
            other => ClientBuildError::Ca {
                path: String::new(),
                message: other.to_string(),
            },
        })?;
        let tls = rustls::ClientConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .map_err(|e| ClientBuildError::Ca {
            path: String::new(),
            message: e.to_string(),
        })?
        .with_root_certificates(roots)
        .with_no_client_auth();

        let mut http = HttpConnector::new();
        http.enforce_http(false);
        http.set_nodelay(true);
        http.set_connect_timeout(Some(Duration::from_secs(5)));
        let plain = Arc::new(Http1Pool::new(http.clone()));
        let connector = HttpsConnectorBuilder::new()
            .with_tls_config(tls)
            .https_only() // plain http:// goes through `plain`
            .enable_http1()
            .enable_http2()
            .wrap_connector(http);

        let client = Client::builder(TokioExecutor::new())
            .timer(TokioTimer::new())
            .pool_timer(TokioTimer::new())
            .pool_idle_timeout(IDLE_TIMEOUT)
            .pool_max_idle_per_host(MAX_IDLE_PER_UPSTREAM)
            // A "canceled" request is one never written to the connection
            // (the pooled connection closed first), so retrying it cannot
            // deliver a webhook twice.
            .retry_canceled_requests(true)
            .build(connector);
        Ok(Self { plain, client })
    }

    /// Sends `req`, waiting at most `timeout` for the response head.
    pub(crate) async fn send(
        &self,
        req: Request<Payload>,
        timeout: Duration,
    ) -> Result<Response<Incoming>, UpstreamError> {
        let exchange = async {
            if req.uri().scheme() == Some(&Scheme::HTTP) {
                self.plain.send(req).await
            } else {
                self.client
                    .request(req)
                    .await
                    .map_err(|e| UpstreamError::client(&e))
            }
        };
        match tokio::time::timeout(timeout, exchange).await {
            Err(_) => Err(UpstreamError::Timeout(timeout)),
            Ok(result) => result,
        }
    }
}
