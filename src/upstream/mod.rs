//! The upstream layer: how hookguard sends a verified webhook to the app,
//! for forward mode (`proxy`) and queue mode (`spool`) alike. It knows
//! nothing of either: it takes a request and a timeout and returns the
//! response head or an [`UpstreamError`].
//!
//! - [`UpstreamClient`] (here): the one client every route shares, and its
//!   TLS settings: `https://` upstreams are verified against the webpki
//!   roots plus an optional extra CA (`[upstream] ca`), never skipped.
//! - `pool`: keep-alive connections per upstream, and the send loop.
//! - `connect`: opening a connection: TCP, TLS with ALPN, HTTP/1.1 or /2.
//! - `resend`: the one rule for sending a request again: only one that
//!   was never written, once.
//! - [`error`]: [`UpstreamError`], classified where the failure happened.
//! - [`uri`]: the upstream URI of a request.
//! - [`headers`]: names of the headers hookguard adds to what it sends.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use http::{Request, Response};
use hyper::body::Incoming;

mod connect;
pub(crate) mod error;
pub(crate) mod headers;
mod pool;
mod resend;
pub(crate) mod uri;

#[cfg(test)]
mod tests;

pub(crate) use error::UpstreamError;
pub(crate) use uri::upstream_uri;

use crate::body::Payload;
use crate::tls::TlsError;
use connect::Connector;
use pool::Pool;

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

/// Pooled keep-alive client to upstreams: HTTP/1.1 to `http://` ones;
/// HTTP/2 (when offered by ALPN) or HTTP/1.1 to `https://` ones. Clones
/// share the pool.
#[derive(Clone)]
pub(crate) struct UpstreamClient {
    pool: Arc<Pool>,
}

impl std::fmt::Debug for UpstreamClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UpstreamClient").finish_non_exhaustive()
    }
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
        let pool = Pool::new(Connector::new(tls));
        Ok(Self {
            pool: Arc::new(pool),
        })
    }

    /// Sends `req`, waiting at most `timeout` for the response head.
    pub(crate) async fn send(
        &self,
        req: Request<Payload>,
        timeout: Duration,
    ) -> Result<Response<Incoming>, UpstreamError> {
        match tokio::time::timeout(timeout, self.pool.send(req)).await {
            Err(_) => Err(UpstreamError::Timeout(timeout)),
            Ok(result) => result,
        }
    }
}
