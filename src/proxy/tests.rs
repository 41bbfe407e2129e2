//! The pipeline driven directly, without a listening socket: an [`App`]
//! built as `runtime` builds it, requests with in-memory bodies, the
//! response [`serve`] returns and the audit record it accounted for (read
//! back from the ring of recent decisions, as `GET /audit/recent` shows
//! it). Only delivery needs the wire: a loopback upstream.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::{Arc, Mutex};

use base64::Engine as _;
use bytes::Bytes;
use http::{HeaderMap, Method, Request, Response};
use http_body_util::{BodyExt, Full};
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use serde_json::{json, Value};

use super::budget::Budget;
use super::{serve, App, ConnInfo, ResponseBody, Shared};
use crate::metrics::Metrics;
use crate::recent::Filter;
use crate::replay::{MemoryStore, ReplayStore};
use crate::security::Sources;
use crate::upstream::UpstreamClient;

/// Standard Webhooks secret from the reference libraries' tests.
const SW_SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

const CONFIG: &str = r#"
[server]
listen = "127.0.0.1:0"
max_body = "1KiB"
request_timeout = "2s"

[upstream]
url = "{upstream}"
timeout = "2s"

[[route]]
path = "/sw"
provider = "standard-webhooks"
secrets = ["whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"]

[[route]]
path = "/dropbox"
provider = "dropbox"
secrets = ["dropbox-app-secret"]
"#;

/// Nothing listens here: a test that reaches it failed already.
const NO_UPSTREAM: &str = "http://127.0.0.1:9";

fn app(upstream: &str) -> Arc<App> {
    let toml = CONFIG.replace("{upstream}", upstream);
    let config = crate::config::from_str(&toml, Path::new("pipeline.toml"), &|_| None)
        .unwrap_or_else(|e| panic!("{e}"));
    let shared = Shared {
        client: UpstreamClient::new(None).expect("upstream client"),
        replay: Arc::new(ReplayStore::Memory(MemoryStore::new(
            config.replay.ttl,
            config.replay.max_entries,
        ))),
        keys: Arc::new(crate::keystore::KeyStore::new(Arc::new(Metrics::new()))),
        metrics: Arc::new(Metrics::with_recent(8)),
        sources: Arc::new(Sources::new(config.security)),
        spool: None,
        buffered: Arc::new(Budget::new(config.server.max_buffered)),
    };
    Arc::new(App::new(Arc::new(config), shared))
}

fn conn(app: &App) -> ConnInfo {
    ConnInfo {
        peer: SocketAddr::from(([127, 0, 0, 1], 40_000)),
        tls: false,
        buffered: Arc::new(Budget::new(app.config.server.max_buffered_per_connection)),
    }
}

fn request(
    method: Method,
    target: &str,
    headers: &[(String, String)],
    body: &[u8],
) -> Request<Full<Bytes>> {
    let mut req = Request::builder()
        .method(method)
        .uri(target)
        .header("host", "hooks.example");
    for (name, value) in headers {
        req = req.header(name, value);
    }
    req.body(Full::new(Bytes::copy_from_slice(body)))
        .expect("request")
}

/// Standard Webhooks headers: HMAC-SHA256 with the key after `whsec_` over
/// `{id}.{timestamp}.{body}`, base64, after `v1,`.
fn signed(id: &str, body: &[u8]) -> Vec<(String, String)> {
    let b64 = base64::engine::general_purpose::STANDARD;
    let key = b64.decode(SW_SECRET.trim_start_matches("whsec_")).unwrap();
    let ts = (crate::clock::unix_millis() / 1000).to_string();
    let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, &key);
    let message = [id.as_bytes(), b".", ts.as_bytes(), b".", body].concat();
    let sig = b64.encode(ring::hmac::sign(&key, &message));
    vec![
        ("webhook-id".into(), id.into()),
        ("webhook-timestamp".into(), ts),
        ("webhook-signature".into(), format!("v1,{sig}")),
    ]
}

/// Runs `req` through the pipeline, as a connection from 127.0.0.1 would:
/// the response, and the audit record of the request (the newest).
async fn run<B>(app: &Arc<App>, req: Request<B>) -> (Response<ResponseBody>, Value)
where
    B: http_body::Body<Data = Bytes> + Unpin,
    B::Error: std::fmt::Display,
{
    let response = match serve(Arc::clone(app), conn(app), req).await {
        Ok(response) => response,
        Err(never) => match never {},
    };
    let mut recent = app.metrics().recent().query(&Filter::default());
    assert!(!recent.is_empty(), "no audit record");
    (response, recent.swap_remove(0))
}

async fn text(response: Response<ResponseBody>) -> String {
    #[allow(
        clippy::disallowed_methods,
        reason = "reads the answer of the pipeline under test"
    )]
    let body = response.into_body().collect().await.expect("body");
    String::from_utf8(body.to_bytes().to_vec()).expect("utf-8")
}

/// Asserts a refusal: its status, its JSON code, and its audit record,
/// which explains it.
async fn assert_refused(
    (response, record): (Response<ResponseBody>, Value),
    status: u16,
    code: &str,
) -> Value {
    assert_eq!(response.status().as_u16(), status, "{record}");
    assert_eq!(text(response).await, format!(r#"{{"error":"{code}"}}"#));
    assert_eq!(record["outcome"], "rejected");
    assert_eq!(record["error"], code);
    assert_eq!(record["status"], status);
    assert!(record["reason"].is_string(), "{record}");
    record
}

/// A loopback upstream answering 200 `ok`, keeping each request's headers.
async fn upstream() -> (String, Arc<Mutex<Vec<HeaderMap>>>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let seen = Arc::new(Mutex::new(Vec::new()));
    let keep = Arc::clone(&seen);
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let keep = Arc::clone(&keep);
            let service = service_fn(move |req: Request<hyper::body::Incoming>| {
                keep.lock().unwrap().push(req.headers().clone());
                async {
                    Ok::<_, std::convert::Infallible>(Response::new(Full::new(Bytes::from("ok"))))
                }
            });
            tokio::spawn(
                hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service),
            );
        }
    });
    (url, seen)
}

#[tokio::test]
async fn a_good_signature_is_delivered_with_the_verified_event_id() {
    let (url, seen) = upstream().await;
    let app = app(&url);
    let body = br#"{"type":"ping"}"#;
    let req = request(Method::POST, "/sw", &signed("msg_1", body), body);
    let (response, record) = run(&app, req).await;
    assert_eq!(response.status(), 200);
    assert_eq!(text(response).await, "ok");
    assert_eq!(record["outcome"], "forwarded");
    assert_eq!(record["route"], "/sw");
    assert_eq!(record["provider"], "standard-webhooks");
    assert_eq!(record["event_id"], "msg_1");
    assert_eq!(record["secret_index"], 0);
    assert_eq!(record["upstream_status"], 200);
    assert!(record["upstream_ms"].is_number(), "{record}");
    for absent in ["error", "detail", "reason"] {
        assert!(record.get(absent).is_none(), "{record}");
    }
    let seen = seen.lock().unwrap();
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0]["x-hookguard-event-id"], "msg_1");
    assert_eq!(seen[0]["x-hookguard-verified"], "standard-webhooks");
}

#[tokio::test]
async fn a_delivered_event_sent_again_is_a_duplicate() {
    let (url, seen) = upstream().await;
    let app = app(&url);
    let body = br#"{"type":"ping"}"#;
    let headers = signed("msg_2", body);
    let (_, first) = run(&app, request(Method::POST, "/sw", &headers, body)).await;
    assert_eq!(first["outcome"], "forwarded");
    let (response, record) = run(&app, request(Method::POST, "/sw", &headers, body)).await;
    assert_eq!(response.status(), 200);
    assert_eq!(text(response).await, r#"{"status":"duplicate"}"#);
    assert_eq!(record["outcome"], "duplicate");
    assert_eq!(record["event_id"], "msg_2");
    assert!(record.get("upstream_status").is_none(), "{record}");
    assert_eq!(seen.lock().unwrap().len(), 1, "the duplicate was forwarded");
}

#[tokio::test]
async fn a_bad_signature_is_refused_401_before_delivery() {
    let app = app(NO_UPSTREAM);
    let mut headers = signed("msg_3", b"{}");
    headers[2].1 = "v1,AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=".into();
    let req = request(Method::POST, "/sw", &headers, b"{}");
    let record = assert_refused(run(&app, req).await, 401, "invalid_signature").await;
    assert_eq!(record["route"], "/sw");
    assert!(record["detail"].is_string(), "the audit says why: {record}");
    for absent in ["event_id", "secret_index", "upstream_ms"] {
        assert!(record.get(absent).is_none(), "{record}");
    }
}

#[tokio::test]
async fn a_method_outside_the_route_is_refused_405_with_allow() {
    let app = app(NO_UPSTREAM);
    let req = request(Method::PUT, "/sw", &signed("msg_4", b"{}"), b"{}");
    let (response, record) = run(&app, req).await;
    assert_eq!(response.headers()["allow"], "POST");
    let record = assert_refused((response, record), 405, "method_not_allowed").await;
    assert_eq!(record["route"], "/sw");
}

#[tokio::test]
async fn a_body_over_max_body_is_refused_413() {
    let app = app(NO_UPSTREAM);
    let body = vec![b'a'; 1025];
    let req = request(Method::POST, "/sw", &signed("msg_5", &body), &body);
    let record = assert_refused(run(&app, req).await, 413, "body_too_large").await;
    assert!(
        record.get("secret_index").is_none(),
        "refused before verification"
    );
    assert_eq!(app.buffered().held(), 0, "no body bytes held");
}

#[tokio::test]
async fn an_unsigned_challenge_is_answered_by_the_proxy() {
    let app = app(NO_UPSTREAM);
    let req = request(Method::GET, "/dropbox?challenge=abc%20123", &[], b"");
    let (response, record) = run(&app, req).await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "text/plain");
    assert_eq!(text(response).await, "abc 123");
    assert_eq!(record["outcome"], "handshake");
    assert_eq!(record["route"], "/dropbox");
    assert_eq!(record["status"], 200);
    for absent in ["error", "secret_index"] {
        assert!(record.get(absent).is_none(), "{record}");
    }
}

#[tokio::test]
async fn no_route_is_refused_404_and_audited_unmatched() {
    let app = app(NO_UPSTREAM);
    let req = request(Method::POST, "/nowhere", &[], b"{}");
    let record = assert_refused(run(&app, req).await, 404, "no_route").await;
    assert!(record.get("route").is_none(), "{record}");
    assert!(record.get("provider").is_none(), "{record}");
    assert_eq!(record["client_ip"], json!("127.0.0.1"));
}

/// A body that arrives in the given frames and declares no length (as a
/// chunked request does), so only reading it can hold `max_body`.
struct Frames(std::collections::VecDeque<Bytes>);

impl http_body::Body for Frames {
    type Data = Bytes;
    type Error = std::convert::Infallible;

    fn poll_frame(
        mut self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<http_body::Frame<Bytes>, Self::Error>>> {
        std::task::Poll::Ready(self.0.pop_front().map(|b| Ok(http_body::Frame::data(b))))
    }
}

/// Runs a signed `/sw` request whose `body` arrives as two frames of no
/// declared length; the response and its audit record.
async fn run_unsized(app: &Arc<App>, id: &str, body: &[u8]) -> (Response<ResponseBody>, Value) {
    let (first, second) = body.split_at(body.len() / 2);
    let frames = Frames([first, second].map(Bytes::copy_from_slice).into());
    let mut req = Request::builder()
        .method(Method::POST)
        .uri("/sw")
        .header("host", "hooks.example");
    for (name, value) in signed(id, body) {
        req = req.header(name, value);
    }
    let req = req.body(frames).expect("request");
    let response = match serve(Arc::clone(app), conn(app), req).await {
        Ok(response) => response,
        Err(never) => match never {},
    };
    let mut recent = app.metrics().recent().query(&Filter::default());
    (response, recent.swap_remove(0))
}

/// With no declared length, `max_body` holds while the body is read, to the
/// byte: exactly the limit is read and verified, one byte more is 413.
#[tokio::test]
async fn an_unsized_body_is_held_to_max_body_exactly() {
    let app = app(NO_UPSTREAM);
    let at_limit = vec![b'a'; 1024];
    let (response, record) = run_unsized(&app, "msg_at", &at_limit).await;
    assert_eq!(
        response.status().as_u16(),
        502,
        "read, verified, sent: {record}"
    );
    assert_eq!(record["error"], "upstream_unreachable");

    let over = vec![b'a'; 1025];
    let record = assert_refused(
        run_unsized(&app, "msg_over", &over).await,
        413,
        "body_too_large",
    )
    .await;
    assert!(
        record.get("secret_index").is_none(),
        "refused before verification"
    );
    let far_over = vec![b'a'; 4000];
    assert_refused(
        run_unsized(&app, "msg_far", &far_over).await,
        413,
        "body_too_large",
    )
    .await;
    assert_eq!(app.buffered().held(), 0, "no body bytes held");
}

/// A body that declares `len` bytes (as Content-Length does) and then, like
/// a sender that stopped, never sends one.
struct Stalled(u64);

impl http_body::Body for Stalled {
    type Data = Bytes;
    type Error = std::convert::Infallible;

    fn poll_frame(
        self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<http_body::Frame<Bytes>, Self::Error>>> {
        std::task::Poll::Pending // only `request_timeout` ends the wait
    }

    fn size_hint(&self) -> http_body::SizeHint {
        http_body::SizeHint::with_exact(self.0)
    }
}

/// The signature headers are checked from the head alone: a request without
/// them is refused at once, not after `request_timeout` spent waiting for a
/// body that would be refused anyway.
#[tokio::test]
async fn missing_signature_headers_are_refused_before_the_body_arrives() {
    let app = app(NO_UPSTREAM);
    let req = Request::builder()
        .method(Method::POST)
        .uri("/sw")
        .header("host", "hooks.example")
        .body(Stalled(2))
        .expect("request");
    assert_refused(run(&app, req).await, 401, "missing_signature").await;
}

/// `max_body` is the largest length allowed: a declared length of exactly
/// that is read and verified, not refused from the head.
#[tokio::test]
async fn a_declared_length_of_exactly_max_body_is_read() {
    let app = app(NO_UPSTREAM);
    let body = vec![b'a'; 1024];
    let req = request(Method::POST, "/sw", &signed("msg_at_limit", &body), &body);
    let (response, record) = run(&app, req).await;
    assert_eq!(
        response.status().as_u16(),
        502,
        "read, verified, sent: {record}"
    );
    assert_eq!(record["secret_index"], 0, "{record}");
}
