//! The admin listener (`[admin]`), separate from the proxy's: health,
//! readiness, Prometheus metrics, the request report and secret usage.
//!
//! | path            | answer                                                  |
//! |-----------------|---------------------------------------------------------|
//! | `/`             | the status page (`page`); its script and stylesheet under `/assets/` |
//! | `/status`       | JSON for the page: routes, readiness, replay store, spool, certificate, reloads |
//! | `/healthz`      | 200 while the process runs                              |
//! | `/readyz`       | 200 once serving; 503 while draining on shutdown, or    |
//! |                 | while the replay store's last `PING` (every second)    |
//! |                 | failed under `reject`                                  |
//! | `/metrics`      | Prometheus text exposition                              |
//! | `/audit/report` | JSON totals, per route and code, 24 h hourly, suspicious IPs |
//! | `/secrets`      | JSON per route and secret index: uses, last use, expiry |
//! | `/audit/recent` | JSON: the last decisions, newest first, filtered by `outcome`, `route`, `code`; `limit` |
//! | `/spool`        | queue mode: JSON depth, oldest age, size, counters      |
//! | `/spool/dead`   | queue mode: dead letters, metadata only (no body, no header values) |
//! | `POST /spool/retry[?id=N]` | queue mode: dead letter N (or all) back to pending |
//! | `POST /spool/purge` | queue mode: delete every dead letter               |
//!
//! When `admin.token` is set every path (health included) needs
//! `Authorization: Bearer <token>`, compared in constant time; otherwise 401.
//! The token is read from the current configuration, so a reload rotates it.
//! The status page's three files are the exception: they hold no data (the
//! page's script fetches the data with the token), so they are served to
//! anyone, and the page can ask for the token.
//!
//! Without a token, a request must name the listener by an IP address,
//! `localhost` or one of `admin.hosts` in its `Host`, else 403
//! `{"error":"admin_host_not_allowed"}`: otherwise a web page could rebind
//! its own DNS name to 127.0.0.1 and read the audit trail through the
//! visitor's browser (DNS rebinding). With a token, the token decides.
//!
//! Every `POST` also needs `X-Hookguard-Admin` (any value) or a JSON
//! `Content-Type`, else 403 `{"error":"admin_header_required"}`: without a
//! token (allowed on loopback), a web page open in a browser on the same
//! host could otherwise retry or purge dead letters with a plain form post.
//! A browser sends neither header cross-site without a CORS preflight, and
//! this listener answers none.

use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use arc_swap::ArcSwap;
use bytes::Bytes;
use http::header::{self, HeaderValue};
use http::{Method, Request, Response, StatusCode};
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use ring::hmac;
use tokio::net::TcpListener;

use crate::clock::rfc3339;
use crate::config::OnStoreError;
use crate::proxy::App;
use crate::recent;
use crate::tls::CertStore;

pub mod page;

mod status;

/// What the admin endpoints read.
pub struct AdminState {
    /// The current app generation (swapped on reload).
    pub app: Arc<ArcSwap<App>>,
    /// Readiness latch: true while the proxy listener accepts.
    pub ready: Arc<AtomicBool>,
    /// The served TLS certificate, for its expiry (none on plain HTTP).
    pub certs: Option<Arc<CertStore>>,
    /// When the process started serving, Unix milliseconds.
    pub started_ms: i64,
    blind: Option<hmac::Key>,
}

impl AdminState {
    /// State over the live app, readiness latch and certificate.
    pub fn new(
        app: Arc<ArcSwap<App>>,
        ready: Arc<AtomicBool>,
        certs: Option<Arc<CertStore>>,
    ) -> Self {
        let blind = hmac::Key::generate(hmac::HMAC_SHA256, &ring::rand::SystemRandom::new()).ok();
        Self {
            app,
            ready,
            certs,
            started_ms: crate::clock::unix_millis(),
            blind,
        }
    }

    /// True when no token is configured or `req` presents the right one.
    fn authorized(&self, app: &App, req: &Request<Incoming>) -> bool {
        let Some(token) = app.config().admin.as_ref().and_then(|a| a.token.as_ref()) else {
            return true;
        };
        let presented = req
            .headers()
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .map(str::trim);
        let (Some(presented), Some(blind)) = (presented, &self.blind) else {
            return false;
        };
        // Compare blinded values: ring's HMAC verify is constant time.
        let expected = hmac::sign(blind, token.expose());
        hmac::verify(blind, presented.as_bytes(), expected.as_ref()).is_ok()
    }
}

/// Serves the admin endpoints on `listener` until `shutdown` resolves.
pub async fn serve(
    listener: TcpListener,
    state: Arc<AdminState>,
    shutdown: impl Future<Output = ()>,
) {
    tokio::pin!(shutdown);
    loop {
        let stream = tokio::select! {
            () = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(e) => {
                    tracing::warn!(error = %e, "admin accept failed");
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        let state = Arc::clone(&state);
        tokio::spawn(async move {
            let service = service_fn(move |req| {
                let state = Arc::clone(&state);
                async move { Ok::<_, std::convert::Infallible>(respond(&state, &req).await) }
            });
            let _ = hyper::server::conn::http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(std::time::Duration::from_secs(10))
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}

/// Answers one admin request; every answer gets [`page::harden`]'s headers.
async fn respond(state: &AdminState, req: &Request<Incoming>) -> Response<Full<Bytes>> {
    let mut resp = answer(state, req).await;
    page::harden(resp.headers_mut());
    resp
}

async fn answer(state: &AdminState, req: &Request<Incoming>) -> Response<Full<Bytes>> {
    if matches!(*req.method(), Method::GET | Method::HEAD) {
        if let Some(file) = page::asset(req.uri().path()) {
            return file;
        }
    }
    let app = state.app.load_full();
    if !host_allowed(&app, req) {
        return json_error(StatusCode::FORBIDDEN, "admin_host_not_allowed");
    }
    if !state.authorized(&app, req) {
        let mut resp = text(StatusCode::UNAUTHORIZED, "unauthorized\n");
        resp.headers_mut()
            .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        return resp;
    }
    if req.method() == Method::POST {
        if !sent_by_a_program(req) {
            return json_error(StatusCode::FORBIDDEN, "admin_header_required");
        }
        return spool_action(&app, req).await;
    }
    if req.method() != Method::GET && req.method() != Method::HEAD {
        return text(StatusCode::METHOD_NOT_ALLOWED, "method not allowed\n");
    }
    match req.uri().path() {
        "/spool" => match app.spool() {
            Some(spool) => json(&spool_stats(spool)),
            None => no_spool(),
        },
        "/spool/dead" => match app.spool() {
            Some(spool) => json(&dead_letters(spool)),
            None => no_spool(),
        },
        "/healthz" => text(StatusCode::OK, "ok\n"),
        "/readyz" if !state.ready.load(Ordering::Acquire) => {
            text(StatusCode::SERVICE_UNAVAILABLE, "draining\n")
        }
        // Under `on_store_error = "reject"` a replica whose replay store is
        // down refuses every webhook: take it out of the load balancer. The
        // store is probed every second in the background (`replay::watch`),
        // so a probe storm cannot pile onto a struggling Redis.
        "/readyz"
            if app.config().replay.on_store_error == OnStoreError::Reject
                && !app.replay().healthy() =>
        {
            text(
                StatusCode::SERVICE_UNAVAILABLE,
                "replay store unavailable\n",
            )
        }
        // A failing key fetch does not take the replica out: every replica
        // fetches from the same provider. The detail says what fails.
        "/readyz" => match app.keys().last_failure() {
            Some(f) => text(
                StatusCode::OK,
                format!("ready\nkey fetch failing: {} (at {})\n", f.error, f.at),
            ),
            None => text(StatusCode::OK, "ready\n"),
        },
        "/metrics" => {
            if let Some(spool) = app.spool() {
                app.metrics().spool().observe(spool.as_ref());
            }
            let mut resp = text(StatusCode::OK, app.metrics().encode(app.replay().len()));
            resp.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static(
                    "application/openmetrics-text; version=1.0.0; charset=utf-8",
                ),
            );
            resp
        }
        "/audit/report" => json(&audit_report(&app)),
        "/status" => json(&status::status(state, &app)),
        "/secrets" => json(&secrets(&app)),
        "/audit/recent" => match recent::Filter::parse(req.uri().query()) {
            Ok(filter) => json(&serde_json::json!({
                "capacity": app.metrics().recent().capacity(),
                "decisions": app.metrics().recent().query(&filter),
            })),
            Err(why) => text(StatusCode::BAD_REQUEST, format!("{why}\n")),
        },
        _ => text(StatusCode::NOT_FOUND, "not found\n"),
    }
}

/// Whether `req` may be answered given the `Host` it names (see the module
/// docs): always with a token; without one, an IP literal, `localhost` or
/// one of `admin.hosts`. A request without `Host` cannot come from a
/// browser, so it is answered.
fn host_allowed(app: &App, req: &Request<Incoming>) -> bool {
    let Some(admin) = app.config().admin.as_ref() else {
        return true;
    };
    if admin.token.is_some() {
        return true;
    }
    let Some(host) = req.headers().get(header::HOST) else {
        return true;
    };
    let Some(name) = host
        .to_str()
        .ok()
        .and_then(|h| h.parse::<http::uri::Authority>().ok())
    else {
        return false;
    };
    let name = name.host();
    let literal = name.strip_prefix('[').and_then(|n| n.strip_suffix(']'));
    literal.unwrap_or(name).parse::<std::net::IpAddr>().is_ok()
        || name.eq_ignore_ascii_case("localhost")
        || admin.hosts.iter().any(|h| h.eq_ignore_ascii_case(name))
}

/// `{"error": code}` with `status`.
fn json_error(status: StatusCode, code: &str) -> Response<Full<Bytes>> {
    let mut resp = text(status, format!("{{\"error\":\"{code}\"}}"));
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    resp
}

/// Marks a state-changing request as one no cross-site page can send
/// without a CORS preflight: see the module docs.
pub const ADMIN_HEADER: &str = "x-hookguard-admin";

/// Whether `req` carries [`ADMIN_HEADER`] or a JSON content type, neither of
/// which a browser form or a "simple" cross-origin request can send.
fn sent_by_a_program(req: &Request<Incoming>) -> bool {
    let json = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|media| media.trim().eq_ignore_ascii_case("application/json"));
    json || req.headers().contains_key(ADMIN_HEADER)
}

fn no_spool() -> Response<Full<Bytes>> {
    text(
        StatusCode::NOT_FOUND,
        "no route uses delivery = \"queue\"\n",
    )
}

/// `POST /spool/retry[?id=N]` and `POST /spool/purge`.
async fn spool_action(app: &App, req: &Request<Incoming>) -> Response<Full<Bytes>> {
    let Some(spool) = app.spool() else {
        return no_spool();
    };
    let result = match req.uri().path() {
        "/spool/retry" => {
            let id = req
                .uri()
                .query()
                .and_then(|q| q.split('&').find_map(|kv| kv.strip_prefix("id=")));
            let id = match id.map(str::parse::<u64>) {
                None => None,
                Some(Ok(id)) => Some(id),
                Some(Err(_)) => return text(StatusCode::BAD_REQUEST, "id must be a number\n"),
            };
            spool
                .retry(id)
                .await
                .map(|n| serde_json::json!({ "retried": n }))
        }
        "/spool/purge" => spool
            .purge()
            .await
            .map(|n| serde_json::json!({ "purged": n })),
        _ => return text(StatusCode::METHOD_NOT_ALLOWED, "method not allowed\n"),
    };
    match result {
        Ok(doc) => json(&doc),
        Err(e) => text(StatusCode::SERVICE_UNAVAILABLE, format!("spool: {e}\n")),
    }
}

/// The `/spool` document: queue depth, age, size and delivery counters.
pub fn spool_stats(spool: &crate::spool::Spool) -> serde_json::Value {
    let s = spool.stats();
    serde_json::json!({
        "pending": s.pending,
        "dead": s.dead,
        "oldest_pending_age_ms": s.oldest_pending_age_ms,
        "used_bytes": s.used_bytes,
        "attempts_total": s.attempts_total,
        "delivered_total": s.delivered_total,
        "dead_lettered_total": s.dead_lettered_total,
        "delivery_latency_ms_sum": s.delivery_latency_ms_sum,
    })
}

/// The `/spool/dead` document. Metadata only: stored headers carry the
/// provider's signature and are never shown, nor is the body.
pub fn dead_letters(spool: &crate::spool::Spool) -> serde_json::Value {
    let rows: Vec<_> = spool
        .list_dead()
        .into_iter()
        .map(|(id, m)| {
            serde_json::json!({
                "id": id,
                "route": m.route,
                "provider": m.provider,
                "event_id": m.event_id,
                "received_at_ms": m.received_at_ms,
                "attempts": m.attempts,
                "last_status": m.last_status,
                "last_error": m.last_error,
                "body_len": m.body_len,
            })
        })
        .collect();
    serde_json::json!({ "dead_letters": rows })
}

/// The `/audit/report` document.
pub fn audit_report(app: &App) -> serde_json::Value {
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    let mut doc = app.metrics().with_report(|r| r.to_json(now));
    doc["suspicious_ips"] = serde_json::json!(app.sources().suspicious());
    doc
}

/// The `/secrets` document: one row per route and secret index, never a value.
pub fn secrets(app: &App) -> serde_json::Value {
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    let rows: Vec<_> = app
        .config()
        .routes
        .iter()
        .flat_map(|route| {
            let entries = if route.secrets.is_empty() {
                &route.public_keys
            } else {
                &route.secrets
            };
            entries.iter().enumerate().map(move |(index, entry)| {
                let used = app
                    .metrics()
                    .with_report(|r| r.secret_use(&route.path, index));
                serde_json::json!({
                    "route": route.path,
                    "index": index,
                    "origin": entry.origin,
                    "matched": used.matched,
                    "last_matched": used.last_matched.map(|t| rfc3339(t).unwrap_or_default()),
                    "expires": entry.expires.map(|t| rfc3339(t).unwrap_or_default()),
                    "expired": entry.expires.is_some_and(|e| e <= now),
                })
            })
        })
        .collect();
    serde_json::json!({ "secrets": rows })
}

fn text(status: StatusCode, body: impl Into<Bytes>) -> Response<Full<Bytes>> {
    let mut resp = Response::new(Full::new(body.into()));
    *resp.status_mut() = status;
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    resp
}

fn json(doc: &serde_json::Value) -> Response<Full<Bytes>> {
    let mut resp = text(StatusCode::OK, doc.to_string());
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    resp
}
