//! Shared fixtures for the integration tests: a recording upstream on an
//! ephemeral loopback port, the real proxy started in-process from TOML, a
//! plain HTTP client, independent (test-side) signing helpers, a config
//! builder ([`fixture`]) and waiting on a condition ([`eventually`]).
//!
//! The signing helpers here are written from the providers' documentation with
//! `ring` directly — they share no code with `src/providers`, so a test that
//! signs here and verifies through the proxy checks two implementations
//! against each other. External vectors are asserted in the provider unit
//! tests (`src/providers/vectors.rs` and the family files) and in
//! `providers_new_families.rs`.

#![allow(dead_code, unreachable_pub)]

mod eventually;
mod fixture;
mod key_server;
mod wire;

// Not every test binary uses each.
#[allow(unused_imports)]
pub use eventually::*;
#[allow(unused_imports)]
pub use fixture::*;
#[allow(unused_imports)]
pub use key_server::*;
#[allow(unused_imports)]
pub use wire::*;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use http::{HeaderMap, Request, Response, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::net::TcpListener;

use hookguard::runtime::{self, Running};

/// A request as the upstream received it.
#[derive(Debug, Clone)]
pub struct Recorded {
    pub method: http::Method,
    pub uri: http::Uri,
    pub headers: HeaderMap,
    pub body: Bytes,
}

/// How the upstream answers.
#[derive(Debug, Clone)]
pub struct Behavior {
    pub status: u16,
    pub delay: Duration,
    pub body: &'static str,
    /// Answer with `Connection: close` (the connection ends after it).
    pub close: bool,
}

impl Default for Behavior {
    fn default() -> Self {
        Self {
            status: 200,
            delay: Duration::ZERO,
            body: "ok from upstream",
            close: false,
        }
    }
}

/// A real HTTP/1.1 upstream that records every request it receives.
#[derive(Clone)]
pub struct Upstream {
    pub addr: SocketAddr,
    received: Arc<Mutex<Vec<Recorded>>>,
    behavior: Arc<Mutex<Behavior>>,
    connections: Arc<std::sync::atomic::AtomicUsize>,
}

impl Upstream {
    pub async fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let up = Self {
            addr,
            received: Arc::default(),
            behavior: Arc::default(),
            connections: Arc::default(),
        };
        let state = up.clone();
        tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    return;
                };
                let state = state.clone();
                state
                    .connections
                    .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                tokio::spawn(async move {
                    let svc = service_fn(move |req: Request<Incoming>| {
                        let state = state.clone();
                        async move {
                            let (parts, body) = req.into_parts();
                            #[allow(
                                clippy::disallowed_methods,
                                reason = "a test upstream reads what the proxy forwarded, under the route's limit"
                            )]
                            let body = body.collect().await.unwrap().to_bytes();
                            state.received.lock().unwrap().push(Recorded {
                                method: parts.method,
                                uri: parts.uri,
                                headers: parts.headers,
                                body,
                            });
                            let b = state.behavior.lock().unwrap().clone();
                            tokio::time::sleep(b.delay).await;
                            let mut resp = Response::builder()
                                .status(b.status)
                                .header("x-upstream", "yes")
                                .header("content-type", "text/plain");
                            if b.close {
                                resp = resp.header("connection", "close");
                            }
                            let resp = resp
                                .body(Full::new(Bytes::from_static(b.body.as_bytes())))
                                .unwrap();
                            Ok::<_, std::convert::Infallible>(resp)
                        }
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), svc)
                        .await;
                });
            }
        });
        up
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn set(&self, behavior: Behavior) {
        *self.behavior.lock().unwrap() = behavior;
    }

    pub fn received(&self) -> Vec<Recorded> {
        self.received.lock().unwrap().clone()
    }

    /// TCP connections accepted so far.
    pub fn connections(&self) -> usize {
        self.connections.load(std::sync::atomic::Ordering::SeqCst)
    }

    pub fn count(&self) -> usize {
        self.received.lock().unwrap().len()
    }

    /// Waits (within [`PATIENCE`]) until the upstream has received `n`
    /// requests: the proxy forwarded them, whatever it answers yet.
    pub async fn wait_for_requests(&self, n: usize) {
        let what = format!("{n} request(s) at the upstream");
        eventually(&what, PATIENCE, || async {
            match self.count() {
                got if got == n => Ok(()),
                got => Err(format!("{got} received")),
            }
        })
        .await;
    }
}

/// Builds a config from TOML (with `{upstream}` replaced) and starts the proxy.
pub async fn proxy(toml: &str, upstream: &Upstream) -> Running {
    proxy_with_env(toml, upstream, &HashMap::new()).await
}

pub async fn proxy_with_env(
    toml: &str,
    upstream: &Upstream,
    env: &HashMap<String, String>,
) -> Running {
    start_with_env(&toml.replace("{upstream}", &upstream.url()), env).await
}

/// Starts the proxy from TOML as written (its upstream spelled out).
pub async fn start(toml: &str) -> Running {
    start_with_env(toml, &HashMap::new()).await
}

/// [`start`], resolving `env:` secret references from `env`.
pub async fn start_with_env(toml: &str, env: &HashMap<String, String>) -> Running {
    let cfg = hookguard::config::from_str(toml, Path::new("test.toml"), &|k| env.get(k).cloned())
        .unwrap_or_else(|e| panic!("test config invalid:\n{e}"));
    runtime::start(cfg).await.expect("proxy starts")
}

/// A plain HTTP/1.1 client.
pub fn client() -> Client<HttpConnector, Full<Bytes>> {
    Client::builder(TokioExecutor::new()).build_http()
}

/// A finished response, body collected.
#[derive(Debug)]
pub struct Answer {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl Answer {
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// Sends a POST to the proxy with `headers` and `body`.
pub async fn post(proxy: &Running, path: &str, headers: &[(&str, &str)], body: &[u8]) -> Answer {
    send(proxy, "POST", path, headers, body).await
}

pub async fn send(
    proxy: &Running,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> Answer {
    let mut req = Request::builder()
        .method(method)
        .uri(format!("http://{}{}", proxy.addr, path));
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let req = req.body(Full::new(Bytes::copy_from_slice(body))).unwrap();
    let resp = client().request(req).await.expect("proxy answers");
    let (parts, body) = resp.into_parts();
    Answer {
        status: parts.status,
        headers: parts.headers,
        #[allow(
            clippy::disallowed_methods,
            reason = "reads the answer of the proxy under test"
        )]
        body: body.collect().await.unwrap().to_bytes(),
    }
}

/// Asserts a rejection: status and exactly `{"error":"<code>"}` as JSON.
pub fn assert_rejected(answer: &Answer, status: u16, code: &str) {
    assert_eq!(answer.status.as_u16(), status, "body: {}", answer.text());
    assert_eq!(answer.headers["content-type"], "application/json");
    assert_eq!(answer.text(), format!("{{\"error\":\"{code}\"}}"));
}

pub fn now_secs() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

// --- test-side signing, from the providers' documentation ---

pub fn hmac(alg: ring::hmac::Algorithm, key: &[u8], parts: &[&[u8]]) -> Vec<u8> {
    let key = ring::hmac::Key::new(alg, key);
    let mut ctx = ring::hmac::Context::with_key(&key);
    for p in parts {
        ctx.update(p);
    }
    ctx.sign().as_ref().to_vec()
}

pub fn hmac256_hex(key: &str, parts: &[&[u8]]) -> String {
    hex::encode(hmac(ring::hmac::HMAC_SHA256, key.as_bytes(), parts))
}

pub fn b64(bytes: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

pub fn b64_decode(s: &str) -> Vec<u8> {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.decode(s).unwrap()
}

/// One request to the admin listener, with an optional bearer token:
/// (status, body).
pub async fn admin_request(
    addr: SocketAddr,
    method: &str,
    path: &str,
    token: Option<&str>,
) -> (u16, String) {
    admin_request_with(addr, method, path, token, &[]).await
}

/// [`admin_request`] with extra headers.
pub async fn admin_request_with(
    addr: SocketAddr,
    method: &str,
    path: &str,
    token: Option<&str>,
    headers: &[(&str, &str)],
) -> (u16, String) {
    let mut req = Request::builder()
        .method(method)
        .uri(format!("http://{addr}{path}"));
    if let Some(t) = token {
        req = req.header("authorization", format!("Bearer {t}"));
    }
    for (name, value) in headers {
        req = req.header(*name, *value);
    }
    let resp = client()
        .request(req.body(Full::new(Bytes::new())).unwrap())
        .await
        .expect("admin answers");
    let status = resp.status().as_u16();
    #[allow(
        clippy::disallowed_methods,
        reason = "reads the answer of the admin listener under test"
    )]
    let body = resp.into_body().collect().await.unwrap().to_bytes();
    (status, String::from_utf8_lossy(&body).into_owned())
}

/// Standard Webhooks headers for `body` (spec: HMAC-SHA256 with the
/// base64 key after `whsec_`, over `{id}.{timestamp}.{body}`).
pub fn standard_webhooks_headers(
    secret: &str,
    id: &str,
    ts: i64,
    body: &[u8],
) -> Vec<(String, String)> {
    let key = b64_decode(secret.trim_start_matches("whsec_"));
    let ts = ts.to_string();
    let sig = hmac(
        ring::hmac::HMAC_SHA256,
        &key,
        &[id.as_bytes(), b".", ts.as_bytes(), b".", body],
    );
    vec![
        ("webhook-id".into(), id.into()),
        ("webhook-timestamp".into(), ts),
        ("webhook-signature".into(), format!("v1,{}", b64(&sig))),
    ]
}

/// GitHub's documented example (docs.github.com, "Validating webhook
/// deliveries"): the secret, the body, and the `X-Hub-Signature-256` GitHub
/// sends for them. An external vector, not one signed by these helpers.
pub const GH_SECRET: &str = "It's a Secret to Everybody";
/// The body of GitHub's documented example (see [`GH_SECRET`]).
pub const GH_BODY: &[u8] = b"Hello, World!";
/// The signature of GitHub's documented example (see [`GH_SECRET`]).
pub const GH_SIG: &str = "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17";

/// A fresh directory for one test's files, removed when the guard drops, so
/// that test runs leave nothing behind in the system temp dir.
pub fn temp_dir(label: &str) -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix(&format!("hookguard-{label}-"))
        .tempdir()
        .expect("create a temp dir")
}
