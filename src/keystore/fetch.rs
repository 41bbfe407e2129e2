//! One key document fetched over HTTPS, under the store's limits: TLS
//! verified against the given roots (the web PKI, plus the route's `ca`),
//! HTTP/1.1, one request (a GET, or the POST a [`KeyRequest`] describes),
//! no redirects followed (any answer but 200 is a failure), at most
//! [`MAX_DOCUMENT`] bytes, connect and read within [`FETCH_TIMEOUT`]
//! together. A POST body may hold credentials: it is never logged, and
//! errors never quote it or the answer.
//!
//! The URL has already passed the route's rule (`providers::fetched`); this
//! file parses it again only with `http::Uri`, to connect.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::header::{CACHE_CONTROL, CONTENT_TYPE, HOST, USER_AGENT};
use http::{HeaderMap, Method, Request, StatusCode, Uri};
use http_body_util::{BodyExt, Full, Limited};
use hyper::client::conn::http1;
use hyper_util::rt::TokioIo;
use rustls::pki_types::ServerName;
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;

use crate::providers::KeyRequest;

/// Largest key document read; certificates and key sets are a few KiB.
pub(crate) const MAX_DOCUMENT: usize = 64 * 1024;

/// Connect, TLS, request and the whole response, together.
pub(crate) const FETCH_TIMEOUT: Duration = Duration::from_secs(2);

/// A fetched document and what its server said about caching it.
pub(crate) struct Document {
    pub(crate) bytes: Bytes,
    /// `Cache-Control: max-age`, when the server sent one.
    pub(crate) max_age: Option<Duration>,
}

/// GETs `url` under the limits above; the error says why, without secrets
/// (there are none in a key URL or its answer).
pub(crate) async fn get(url: &str, tls: Arc<rustls::ClientConfig>) -> Result<Document, String> {
    fetch(url, &KeyRequest::Get, tls).await
}

/// Asks `url` for a document as `request` says, under the limits above.
pub(crate) async fn fetch(
    url: &str,
    request: &KeyRequest,
    tls: Arc<rustls::ClientConfig>,
) -> Result<Document, String> {
    match tokio::time::timeout(FETCH_TIMEOUT, exchange(url, request, tls)).await {
        Ok(result) => result,
        Err(_) => Err(format!("no complete answer within {FETCH_TIMEOUT:?}")),
    }
}

/// The HTTP request `request` describes, for `target` on `authority`.
fn build_request(
    request: &KeyRequest,
    target: &str,
    authority: &str,
) -> Result<Request<Full<Bytes>>, String> {
    let builder = Request::builder()
        .uri(target)
        .header(HOST, authority)
        .header(USER_AGENT, concat!("hookguard/", env!("CARGO_PKG_VERSION")));
    let built = match request {
        KeyRequest::Get => builder.method(Method::GET).body(Full::new(Bytes::new())),
        KeyRequest::PostJson(body) => builder
            .method(Method::POST)
            .header(CONTENT_TYPE, "application/json")
            .body(Full::new(Bytes::copy_from_slice(body.expose()))),
    };
    built.map_err(|_| "the request could not be built".to_owned())
}

async fn exchange(
    url: &str,
    request: &KeyRequest,
    tls: Arc<rustls::ClientConfig>,
) -> Result<Document, String> {
    let uri: Uri = url.parse().map_err(|_| "not a URL".to_owned())?;
    let authority = uri.authority().ok_or("no host")?.clone();
    let host = authority
        .host()
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_owned();
    let port = authority.port_u16().unwrap_or(443);
    let tcp = TcpStream::connect((host.as_str(), port))
        .await
        .map_err(|e| format!("connect: {e}"))?;
    let name = ServerName::try_from(host).map_err(|e| format!("server name: {e}"))?;
    let stream = TlsConnector::from(tls)
        .connect(name, tcp)
        .await
        .map_err(|e| format!("TLS: {e}"))?;
    let (mut sender, conn) = http1::handshake(TokioIo::new(stream))
        .await
        .map_err(|e| format!("HTTP: {e}"))?;
    // The connection is driven until the response is read, then dropped.
    tokio::spawn(async move {
        let _ = conn.await;
    });
    let target = uri.path_and_query().map_or("/", |pq| pq.as_str());
    let request = build_request(request, target, authority.as_str())?;
    let response = sender
        .send_request(request)
        .await
        .map_err(|e| format!("HTTP: {e}"))?;
    let status = response.status();
    if status.is_redirection() {
        return Err(format!("HTTP {status}: redirects are not followed"));
    }
    if status != StatusCode::OK {
        return Err(format!("HTTP {status}"));
    }
    let max_age = max_age(response.headers());
    #[allow(
        clippy::disallowed_methods,
        reason = "bounded: Limited stops the read at MAX_DOCUMENT bytes"
    )]
    let bytes = Limited::new(response.into_body(), MAX_DOCUMENT)
        .collect()
        .await
        .map_err(|e| format!("body: {e} (limit {MAX_DOCUMENT} bytes)"))?
        .to_bytes();
    Ok(Document { bytes, max_age })
}

/// The `max-age` directive of `Cache-Control` (RFC 9111 §5.2.2.1): a
/// comma-separated list of `name[=value]` tokens, names case-insensitive.
/// `no-store` and `no-cache` count as zero (the store then keeps the
/// document for its minimum). Anything unreadable: none.
pub(crate) fn max_age(headers: &HeaderMap) -> Option<Duration> {
    let mut found = None;
    for value in headers.get_all(CACHE_CONTROL) {
        let text = value.to_str().ok()?;
        for directive in text.split(',') {
            let (name, arg) = match directive.split_once('=') {
                Some((n, a)) => (n.trim(), Some(a.trim().trim_matches('"'))),
                None => (directive.trim(), None),
            };
            if name.eq_ignore_ascii_case("no-store") || name.eq_ignore_ascii_case("no-cache") {
                return Some(Duration::ZERO);
            }
            if name.eq_ignore_ascii_case("max-age") {
                let secs: u64 = arg?.parse().ok()?;
                found = Some(Duration::from_secs(secs));
            }
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    fn cc(values: &[&str]) -> Option<Duration> {
        let mut h = HeaderMap::new();
        for v in values {
            h.append(CACHE_CONTROL, HeaderValue::from_str(v).unwrap());
        }
        max_age(&h)
    }

    #[test]
    fn reads_max_age() {
        assert_eq!(cc(&["public, max-age=600"]), Some(Duration::from_secs(600)));
        assert_eq!(cc(&["MAX-AGE=\"60\""]), Some(Duration::from_secs(60)));
        assert_eq!(cc(&["public", "max-age=7"]), Some(Duration::from_secs(7)));
        assert_eq!(cc(&["no-store, max-age=600"]), Some(Duration::ZERO));
        assert_eq!(cc(&["max-age=soon"]), None);
        assert_eq!(cc(&["public"]), None);
        assert_eq!(cc(&[]), None);
    }
}
