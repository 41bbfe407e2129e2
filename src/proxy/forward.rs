//! The upstream side: one pooled keep-alive client shared by every route.
//!
//! `https://` upstreams are verified against the webpki roots plus an optional
//! extra CA (`[upstream] ca`); verification is never skipped. Failures are
//! classified once, here, into [`UpstreamError`], which the pipeline maps to
//! 502 `upstream_unreachable` or 504 `upstream_timeout`.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use http::uri::{PathAndQuery, Scheme};
use http::{Request, Response, Uri};
use hyper::body::Incoming;
use hyper_rustls::{HttpsConnector, HttpsConnectorBuilder};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::{TokioExecutor, TokioTimer};

use super::pool::{Http1Pool, IDLE_TIMEOUT, MAX_IDLE_PER_UPSTREAM};
use crate::body::Payload;
use crate::tls::TlsError;

/// Why the upstream gave no usable answer.
#[derive(Debug, thiserror::Error)]
pub(crate) enum UpstreamError {
    /// No connection could be made (refused, DNS, TLS handshake).
    #[error("upstream unreachable: {0}")]
    Unreachable(String),
    /// No response head within the route's upstream timeout.
    #[error("upstream did not answer within {0:?}")]
    Timeout(Duration),
}

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
                self.client.request(req).await.map_err(|e| error_chain(&e))
            }
        };
        match tokio::time::timeout(timeout, exchange).await {
            Err(_) => Err(UpstreamError::Timeout(timeout)),
            Ok(result) => result.map_err(UpstreamError::Unreachable),
        }
    }
}

/// Joins an error's source chain into one line for the audit log.
pub(super) fn error_chain(err: &dyn std::error::Error) -> String {
    let mut out = err.to_string();
    let mut source = err.source();
    while let Some(e) = source {
        out.push_str(": ");
        out.push_str(&e.to_string());
        source = e.source();
    }
    out
}

/// The upstream URI for a request: the upstream's scheme and authority, its
/// path when the route overrides it (else the request's path), and the
/// request's query, unchanged.
pub(crate) fn upstream_uri(
    base: &Uri,
    override_path: bool,
    request: &Uri,
) -> Result<Uri, http::Error> {
    let path_and_query = match (override_path, request.path_and_query()) {
        // The request's own path and query, shared rather than copied.
        (false, Some(pq)) => pq.clone(),
        (false, None) => PathAndQuery::from_static("/"),
        (true, _) => match request.query() {
            Some(query) => format!("{}?{query}", base.path()).parse()?,
            None => base.path().parse()?,
        },
    };
    let mut parts = http::uri::Parts::default();
    parts.scheme = base.scheme().cloned();
    parts.authority = base.authority().cloned();
    parts.path_and_query = Some(path_and_query);
    Ok(Uri::from_parts(parts)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn upstream_path_override_keeps_query() {
        let base: Uri = "http://127.0.0.1:3000/hooks/github".parse().unwrap();
        let req: Uri = "/webhooks/github?a=1&b=%20".parse().unwrap();
        assert_eq!(
            upstream_uri(&base, true, &req).unwrap(),
            "http://127.0.0.1:3000/hooks/github?a=1&b=%20"
        );
        assert_eq!(
            upstream_uri(&base, false, &req).unwrap(),
            "http://127.0.0.1:3000/webhooks/github?a=1&b=%20"
        );
        let plain: Uri = "/webhooks/github".parse().unwrap();
        assert_eq!(
            upstream_uri(&base, false, &plain).unwrap(),
            "http://127.0.0.1:3000/webhooks/github"
        );
        assert_eq!(
            upstream_uri(&base, true, &plain).unwrap(),
            "http://127.0.0.1:3000/hooks/github"
        );
        let bare: Uri = "https://app.internal:8443".parse().unwrap();
        assert_eq!(
            upstream_uri(&bare, true, &req).unwrap(),
            "https://app.internal:8443/?a=1&b=%20"
        );
        assert_eq!(
            upstream_uri(&bare, false, &req).unwrap(),
            "https://app.internal:8443/webhooks/github?a=1&b=%20"
        );
    }
}
