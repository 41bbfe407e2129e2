//! The request pipeline of SPEC §3, in order, and the one place where a
//! refusal becomes an HTTP response.
//!
//! [`handle`] is the outer function: it runs [`handle_inner`], turns any
//! [`Refusal`] into its status and `{"error":"<code>"}` body through a single
//! exhaustive match, and emits exactly one audit event per request. The
//! phases, in order: host → route → method → client IP → body limit (from
//! Content-Length) → signature present / timestamp (headers only) → hold the
//! body against the memory budgets (see `budget`) and read it under the limit
//! → verify signature → de-duplicate → forward.

pub(crate) mod budget;
pub mod headers;
mod host;
mod queue;

use std::collections::HashMap;
use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::header::{self, HeaderValue};
use http::{Method, Request, Response, StatusCode};
use http_body_util::{BodyExt, Either, Full};
use hyper::body::{Body as _, Incoming};

use crate::audit::{self, Decision, Outcome};
use crate::body::Payload;
use crate::clock::unix_millis;
use crate::config::{Config, Delivery, OnStoreError, Route};
use crate::explain::{self, BodyPrint};
use crate::metrics::{Metrics, RouteSeries};
use crate::providers::{HandshakeReply, Inbound, Rejection, UrlTarget};
use crate::ratelimit::{self, RouteLimiter};
use crate::replay::{Claim, ClaimToken, ReplayKey, ReplayStore, StoreError};
use crate::security::{Sources, Verdict};
use crate::upstream::{self, UpstreamClient, UpstreamError};
use budget::{Budget, Exhausted, Held};

/// Body of every response: a small buffered one we wrote, or the upstream's
/// streamed through unchanged.
pub(crate) type ResponseBody = Either<Full<Bytes>, Incoming>;

/// Everything the pipeline needs, built from a validated [`Config`]; rebuilt
/// on reload around the same [`Shared`] state.
pub struct App {
    config: Arc<Config>,
    routes: HashMap<String, usize>,
    replay: Arc<ReplayStore>,
    client: UpstreamClient,
    // --- ops (issue 4): state that outlives a reload, and per-route limiters.
    metrics: Arc<Metrics>,
    sources: Arc<Sources>,
    limiters: Vec<Option<RouteLimiter>>,
    /// Each route's path and provider, shared with audit events and metric
    /// labels instead of copied into each.
    names: Vec<RouteNames>,
    /// The durable spool, when some route uses queue delivery.
    spool: Option<Arc<crate::spool::Spool>>,
    /// Bytes of request bodies held in memory, process-wide.
    buffered: Arc<Budget>,
}

/// A route's path and provider name, shared by every request's audit event
/// and metric labels, its `X-Hookguard-Verified` value, made once, and its
/// metric series, looked up once.
struct RouteNames {
    path: Arc<str>,
    provider: Arc<str>,
    verified: Option<HeaderValue>,
    series: RouteSeries,
}

/// Process-lifetime state every [`App`] generation shares: a reload swaps the
/// routes, not these.
#[derive(Clone)]
pub(crate) struct Shared {
    /// Pooled upstream client.
    pub client: UpstreamClient,
    /// De-duplication store.
    pub replay: Arc<ReplayStore>,
    /// Metrics and the request report.
    pub metrics: Arc<Metrics>,
    /// Suspicious-source tracking and auto-block.
    pub sources: Arc<Sources>,
    /// The durable spool, when some route uses queue delivery.
    pub spool: Option<Arc<crate::spool::Spool>>,
    /// Bytes of request bodies held in memory (`[server] max_buffered`).
    pub buffered: Arc<Budget>,
}

/// Facts about the connection a request arrived on.
#[derive(Debug, Clone)]
pub(crate) struct ConnInfo {
    /// The socket peer.
    pub peer: SocketAddr,
    /// Whether the connection is TLS (`X-Forwarded-Proto`, public URL).
    pub tls: bool,
    /// Bytes of request bodies this connection's requests hold in memory
    /// (`[server] max_buffered_per_connection`).
    pub buffered: Arc<Budget>,
}

/// Why a request was not forwarded. Each variant has exactly one status code
/// and one error code, mapped in [`Refusal::status_and_code`].
#[derive(Debug)]
pub(crate) enum Refusal {
    /// No `Host` on HTTP/1.1, several, or one that disagrees with the
    /// request target's authority (RFC 9112 §3.2, RFC 9113 §8.3.1).
    BadHost(&'static str),
    /// No route for the exact path.
    NoRoute,
    /// Method not in the route's list.
    MethodNotAllowed(Vec<Method>),
    /// Client IP outside `allow_ips`.
    IpNotAllowed,
    /// Body larger than the route's `max_body`.
    BodyTooLarge,
    /// The body could not be read (client error or disconnect).
    BadBody(String),
    /// The whole request was not received within `request_timeout`.
    RequestTimeout,
    /// Signature scheme refused the request.
    Verify(Rejection),
    /// The same event is being forwarded right now: the provider retries later.
    DuplicateInFlight,
    /// The shared replay store is unreachable and `on_store_error = "reject"`.
    ReplayStoreUnavailable(String),
    /// The upstream gave no usable answer: 504 when it was too slow, else 502.
    Upstream(UpstreamError),
    /// The upstream request could not be built (bad URI); never the client's fault.
    Internal(String),
    /// The route's per-IP token bucket is empty; retry after this long.
    RateLimited(Duration),
    /// Queue mode: the spool is full or cannot be written; retry later.
    SpoolUnavailable(String),
    /// Holding the body would exceed a memory budget; retry later.
    Overloaded(Exhausted),
}

// === impl Refusal ===

impl Refusal {
    /// The status code and stable JSON error code for this refusal.
    pub(crate) fn status_and_code(&self) -> (StatusCode, &'static str) {
        match self {
            Self::BadHost(_) => (StatusCode::BAD_REQUEST, "bad_request"),
            Self::NoRoute => (StatusCode::NOT_FOUND, "no_route"),
            Self::MethodNotAllowed(_) => (StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed"),
            Self::IpNotAllowed => (StatusCode::FORBIDDEN, "ip_not_allowed"),
            Self::BodyTooLarge => (StatusCode::PAYLOAD_TOO_LARGE, "body_too_large"),
            Self::BadBody(_) => (StatusCode::BAD_REQUEST, "bad_request"),
            Self::RequestTimeout => (StatusCode::REQUEST_TIMEOUT, "request_timeout"),
            Self::Verify(Rejection::MissingSignature { .. }) => {
                (StatusCode::UNAUTHORIZED, "missing_signature")
            }
            Self::Verify(Rejection::InvalidSignature { .. }) => {
                (StatusCode::UNAUTHORIZED, "invalid_signature")
            }
            Self::Verify(Rejection::TimestampOutOfTolerance { .. }) => {
                (StatusCode::UNAUTHORIZED, "timestamp_out_of_tolerance")
            }
            Self::DuplicateInFlight => (StatusCode::CONFLICT, "duplicate"),
            Self::ReplayStoreUnavailable(_) => {
                (StatusCode::SERVICE_UNAVAILABLE, "replay_store_unavailable")
            }
            Self::Upstream(e) if e.is_timeout() => {
                (StatusCode::GATEWAY_TIMEOUT, "upstream_timeout")
            }
            Self::Upstream(_) => (StatusCode::BAD_GATEWAY, "upstream_unreachable"),
            Self::Internal(_) => (StatusCode::INTERNAL_SERVER_ERROR, "internal_error"),
            Self::RateLimited(_) => (StatusCode::TOO_MANY_REQUESTS, "rate_limited"),
            Self::SpoolUnavailable(_) => (StatusCode::SERVICE_UNAVAILABLE, "spool_unavailable"),
            Self::Overloaded(_) => (StatusCode::SERVICE_UNAVAILABLE, "overloaded"),
        }
    }

    /// Detail for the audit log only (never sent to the caller).
    fn detail(&self) -> Option<String> {
        match self {
            Self::Verify(
                Rejection::MissingSignature { detail }
                | Rejection::InvalidSignature { detail }
                | Rejection::TimestampOutOfTolerance { detail },
            ) => Some(detail.clone()),
            Self::BadBody(d) | Self::Internal(d) | Self::ReplayStoreUnavailable(d) => {
                Some(d.clone())
            }
            Self::SpoolUnavailable(d) => Some(d.clone()),
            Self::BadHost(why) => Some((*why).to_owned()),
            Self::Overloaded(Exhausted::Process) => {
                Some("request bodies in memory at server.max_buffered".to_owned())
            }
            Self::Overloaded(Exhausted::Connection) => Some(
                "this connection's request bodies at server.max_buffered_per_connection".to_owned(),
            ),
            Self::Upstream(e) => Some(e.to_string()),
            Self::MethodNotAllowed(_)
            | Self::NoRoute
            | Self::IpNotAllowed
            | Self::BodyTooLarge
            | Self::RequestTimeout
            | Self::DuplicateInFlight
            | Self::RateLimited(_) => None,
        }
    }

    fn into_response(self) -> Response<ResponseBody> {
        let (status, code) = self.status_and_code();
        let mut resp = json_response(status, format!("{{\"error\":\"{code}\"}}"));
        if let Self::MethodNotAllowed(methods) = &self {
            let allow = methods
                .iter()
                .map(Method::as_str)
                .collect::<Vec<_>>()
                .join(", ");
            if let Ok(v) = HeaderValue::from_str(&allow) {
                resp.headers_mut().insert(header::ALLOW, v);
            }
        }
        if let Self::RateLimited(wait) = &self {
            resp.headers_mut().insert(
                header::RETRY_AFTER,
                HeaderValue::from(ratelimit::retry_after_secs(*wait)),
            );
        }
        if let Self::ReplayStoreUnavailable(_) = &self {
            resp.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from_static("5"));
        }
        if let Self::SpoolUnavailable(_) = &self {
            resp.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from_static("30"));
        }
        if let Self::Overloaded(_) = &self {
            // Held bodies are given back as their requests finish, within
            // request_timeout plus the upstream's answer.
            resp.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from_static("5"));
        }
        resp
    }
}

fn json_response(status: StatusCode, body: impl Into<Bytes>) -> Response<ResponseBody> {
    let mut resp = Response::new(Either::Left(Full::new(body.into())));
    *resp.status_mut() = status;
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    resp
}

fn handshake_response(reply: HandshakeReply) -> Response<ResponseBody> {
    let mut resp = Response::new(Either::Left(Full::new(Bytes::from(reply.body))));
    *resp.status_mut() = StatusCode::from_u16(reply.status).unwrap_or(StatusCode::OK);
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(reply.content_type),
    );
    resp.headers_mut().insert(
        header::HeaderName::from_static("x-content-type-options"),
        HeaderValue::from_static("nosniff"),
    );
    resp
}

// === impl App ===

impl App {
    /// Builds the runtime state for `config` around the process's `shared` state.
    pub(crate) fn new(config: Arc<Config>, shared: Shared) -> Self {
        let routes = config
            .routes
            .iter()
            .enumerate()
            .map(|(i, r)| (r.path.clone(), i))
            .collect();
        let limiters = config
            .routes
            .iter()
            .map(|r| r.rate_limit.map(RouteLimiter::new))
            .collect();
        let names = config
            .routes
            .iter()
            .map(|r| RouteNames {
                path: Arc::from(r.path.as_str()),
                provider: Arc::from(r.provider.as_str()),
                verified: HeaderValue::from_str(r.verifier.provider()).ok(),
                series: RouteSeries::default(),
            })
            .collect();
        Self {
            names,
            config,
            routes,
            replay: shared.replay,
            client: shared.client,
            metrics: shared.metrics,
            sources: shared.sources,
            limiters,
            spool: shared.spool,
            buffered: shared.buffered,
        }
    }

    /// The process-lifetime state, to build the next generation on reload.
    pub(crate) fn shared(&self) -> Shared {
        Shared {
            client: self.client.clone(),
            replay: Arc::clone(&self.replay),
            metrics: Arc::clone(&self.metrics),
            sources: Arc::clone(&self.sources),
            spool: self.spool.clone(),
            buffered: Arc::clone(&self.buffered),
        }
    }

    /// Bytes of request bodies held in memory, process-wide.
    pub fn buffered(&self) -> &Arc<Budget> {
        &self.buffered
    }

    /// Metrics and the request report.
    pub fn metrics(&self) -> &Arc<Metrics> {
        &self.metrics
    }

    /// Suspicious-source tracking.
    pub(crate) fn sources(&self) -> &Arc<Sources> {
        &self.sources
    }

    /// The spool, if queue delivery is in use (admin endpoints, metrics).
    pub fn spool(&self) -> Option<&Arc<crate::spool::Spool>> {
        self.spool.as_ref()
    }

    /// The configuration this app serves.
    pub fn config(&self) -> &Arc<Config> {
        &self.config
    }

    /// The replay store (for metrics and tests).
    pub fn replay(&self) -> &Arc<ReplayStore> {
        &self.replay
    }

    fn route(&self, path: &str) -> Option<(usize, &Route, Option<&RouteLimiter>, &RouteNames)> {
        self.routes.get(path).map(|&i| {
            (
                i,
                &self.config.routes[i],
                self.limiters.get(i).and_then(Option::as_ref),
                &self.names[i],
            )
        })
    }
}

/// Handles one request end to end; never fails (errors become responses).
///
/// The request runs to completion even if the caller stops polling it (the
/// provider hung up): once a webhook is on its way upstream, the exchange
/// must finish, so that its replay claim is settled (neither lost nor left
/// blocked in flight) and its audit event is written. See [`FinishOnDrop`]:
/// one allocation per request holds the whole pipeline.
pub(crate) fn handle(
    app: Arc<App>,
    conn: ConnInfo,
    req: Request<Incoming>,
) -> FinishOnDrop<impl Future<Output = Result<Response<ResponseBody>, Infallible>> + Send + 'static>
{
    FinishOnDrop::new(handle_request(app, conn, req))
}

async fn handle_request(
    app: Arc<App>,
    conn: ConnInfo,
    req: Request<Incoming>,
) -> Result<Response<ResponseBody>, Infallible> {
    let started = Instant::now();
    let _in_flight = app.metrics.in_flight();
    let mut decision = Decision::new(conn.peer.ip());
    let response = match handle_inner(&app, conn, req, started, &mut decision).await {
        Ok(resp) => resp,
        Err(refusal) => {
            let (_, code) = refusal.status_and_code();
            decision.outcome = Outcome::Rejected;
            decision.error = Some(code);
            decision.detail = refusal.detail();
            decision.reason = Some(explain::reason(
                code,
                decision.detail.as_deref(),
                decision.body.as_ref(),
            ));
            refusal.into_response()
        }
    };
    decision.status = response.status().as_u16();
    decision.latency = started.elapsed();
    if decision.status == StatusCode::UNAUTHORIZED.as_u16()
        && app.sources.record_failure(decision.client_ip) == Verdict::Suspicious
    {
        app.metrics.suspicious_source();
    }
    let series = decision
        .route_index
        .and_then(|i| app.names.get(i))
        .map(|names| &names.series);
    app.metrics.record(&decision, series);
    if app.config.log.audit {
        audit::emit(&decision);
    }
    app.metrics.recent().record(decision);
    Ok(response)
}

async fn handle_inner(
    app: &Arc<App>,
    conn: ConnInfo,
    req: Request<Incoming>,
    started: Instant,
    decision: &mut Decision,
) -> Result<Response<ResponseBody>, Refusal> {
    let server = &app.config.server;
    let (mut parts, body) = req.into_parts();

    // Phase: host (HTTP/2 carries it as :authority in the URI).
    let host_header = host::host_header(&parts).map_err(Refusal::BadHost)?;
    let host = host_header
        .map(|(_, text)| text)
        .or_else(|| parts.uri.authority().map(|a| a.as_str()));

    // Phase: route.
    let (index, route, limiter, names) = app.route(parts.uri.path()).ok_or(Refusal::NoRoute)?;
    decision.route_index = Some(index);
    decision.route = Some(Arc::clone(&names.path));
    decision.provider = Some(Arc::clone(&names.provider));

    // Phase: method.
    if !route.methods.contains(&parts.method) {
        return Err(Refusal::MethodNotAllowed(route.methods.clone()));
    }

    // Phase: client IP.
    let client_ip = headers::client_ip(conn.peer.ip(), &parts.headers, &server.trusted_proxies);
    decision.client_ip = client_ip;
    if !headers::ip_allowed(client_ip, &route.allow_ips) || app.sources.is_blocked(client_ip) {
        return Err(Refusal::IpNotAllowed);
    }

    // Phase: rate limit per route and client IP.
    if let Some(limiter) = limiter {
        limiter.check(client_ip).map_err(Refusal::RateLimited)?;
    }

    // The request as verifiers see it (head only, for now). For schemes
    // that sign the URL: the URL the provider called, whose query must be
    // the one forwarded (`public_url` if set, else rebuilt from the request).
    let scheme = if conn.tls { "https" } else { "http" };
    let target = UrlTarget {
        configured: route.public_url.as_deref(),
        scheme,
        host,
        uri: &parts.uri,
    };
    let public_url = route
        .verifier
        .signed_url(&target)
        .map_err(Refusal::Verify)?;
    let inbound = Inbound {
        method: &parts.method,
        uri: &parts.uri,
        headers: &parts.headers,
        public_url: &public_url,
        now_ms: unix_millis(),
    };

    // Phase: unsigned challenges the proxy answers itself.
    if let Some(reply) = route.verifier.challenge(&inbound) {
        let reply = reply.map_err(Refusal::Verify)?;
        decision.outcome = Outcome::Handshake;
        return Ok(handshake_response(reply));
    }

    // Phase: body limit, from the declared length, before reading anything.
    // hyper has parsed and checked Content-Length (or HTTP/2's
    // content-length) already: the body knows its exact size.
    let declared_len = body.size_hint().exact();
    if declared_len.is_some_and(|len| len > route.max_body) {
        return Err(Refusal::BodyTooLarge);
    }

    // Phase: header-only signature checks.
    route.verifier.precheck(&inbound).map_err(Refusal::Verify)?;

    // Phase: hold the body against the memory budgets (its declared length
    // at once, else as it arrives) until this request is finished; read it
    // under the limit and the request deadline.
    let mut held = Held::new(&app.buffered, &conn.buffered);
    if let Some(len) = declared_len {
        held.cover(len).map_err(Refusal::Overloaded)?;
    }
    let deadline = started + server.request_timeout;
    let body = read_body(body, route.max_body, declared_len, deadline, &mut held).await?;

    // Phase: verify.
    let mut verified = route.verifier.verify(&inbound, &body).map_err(|r| {
        // Hashed for the reason only here: a forwarded body never is.
        decision.body = Some(BodyPrint::of(&body));
        Refusal::Verify(r)
    })?;
    decision.secret_index = Some(verified.secret_index);
    // Moved, not copied: from here on the id is read from the decision.
    decision.event_id = verified.event_id.take();

    // Phase: signed handshakes are answered here, never forwarded.
    if let Some(reply) = route.verifier.handshake(&inbound, &body) {
        decision.outcome = Outcome::Handshake;
        return Ok(handshake_response(reply));
    }

    // Phase: de-duplicate.
    let key = ReplayKey::derive(&route.path, &verified.dedup);
    let claim = match key {
        Some(key) => match app.replay.claim(key).await {
            Ok(Claim::Acquired(token)) => Some((key, token)),
            Ok(Claim::Delivered) => {
                decision.outcome = Outcome::Duplicate;
                return Ok(json_response(StatusCode::OK, r#"{"status":"duplicate"}"#));
            }
            Ok(Claim::InFlight) => return Err(Refusal::DuplicateInFlight),
            Err(e) => {
                store_unavailable(app, &route.path, e, decision)?;
                None
            }
        },
        None => None,
    };

    // Phase: forward.
    let uri = upstream::upstream_uri(
        &route.upstream.url,
        route.upstream_path_override,
        &parts.uri,
    )
    .map_err(|e| Refusal::Internal(format!("upstream uri: {e}")))?;
    let xff = headers::forwarded_for_chain(conn.peer.ip(), &parts.headers, &server.trusted_proxies);
    // Host, or HTTP/2's :authority, as the provider addressed us (the
    // header's own value when it is the source: a clone shares its bytes).
    let inbound_host = match host_header {
        Some((value, _)) => Some(value.clone()),
        None => host.and_then(|authority| HeaderValue::from_str(authority).ok()),
    };
    // The inbound headers are not needed past this point: move, don't copy.
    let mut out_headers = std::mem::take(&mut parts.headers);
    let peer_trusted = headers::is_trusted(conn.peer.ip(), &server.trusted_proxies);
    headers::prepare_upstream(&mut out_headers, xff, scheme, inbound_host, peer_trusted);
    headers::drop_credential(&mut out_headers, route.credential_header.as_ref());
    if let Some(v) = &names.verified {
        out_headers.insert(headers::X_HOOKGUARD_VERIFIED, v.clone());
    }
    if let Some(id) = decision.event_id.as_deref() {
        if let Ok(v) = HeaderValue::from_str(id) {
            out_headers.insert(headers::X_HOOKGUARD_EVENT_ID, v);
        }
    }
    // Phase: queue (delivery = "queue"): on disk, then 202; delivered later.
    // Boxed, like the Redis store's futures: its state would otherwise
    // enlarge every forwarded request's future too.
    if route.delivery == Delivery::Queue {
        return Box::pin(queue::accept(
            app,
            route,
            &parts,
            &out_headers,
            body,
            &verified,
            claim,
            decision,
        ))
        .await;
    }

    let mut upstream_req = Request::new(body);
    *upstream_req.method_mut() = parts.method.clone();
    *upstream_req.uri_mut() = uri;
    *upstream_req.headers_mut() = out_headers;

    let upstream_started = Instant::now();
    let result = forward_and_settle(app, upstream_req, route.upstream.timeout, claim).await;
    decision.upstream_latency = Some(upstream_started.elapsed());
    let mut resp = result.map_err(Refusal::Upstream)?;
    decision.outcome = Outcome::Forwarded;
    decision.upstream_status = Some(resp.status().as_u16());
    headers::strip_hop_by_hop(resp.headers_mut());
    Ok(resp.map(Either::Right))
}

/// Sends the request upstream and settles the replay claim from the outcome.
async fn forward_and_settle(
    app: &App,
    req: Request<Payload>,
    timeout: Duration,
    claim: Option<(ReplayKey, ClaimToken)>,
) -> Result<Response<Incoming>, UpstreamError> {
    let result = app.client.send(req, timeout).await;
    if let Some((key, token)) = claim {
        let delivered = matches!(&result, Ok(r) if r.status().is_success());
        app.replay.settle(key, token, delivered).await;
    }
    result
}

/// Polls a future in place, and if dropped before it finished (hyper dropped
/// the request because the client went away), hands it to a task of its own
/// to run to completion. Cheaper than a task per request, with the same
/// guarantee.
pub(crate) struct FinishOnDrop<F>(Option<Pin<Box<F>>>)
where
    F: Future + Send + 'static,
    F::Output: Send;

impl<F> FinishOnDrop<F>
where
    F: Future + Send + 'static,
    F::Output: Send,
{
    fn new(future: F) -> Self {
        Self(Some(Box::pin(future)))
    }
}

impl<F> Future for FinishOnDrop<F>
where
    F: Future + Send + 'static,
    F::Output: Send,
{
    type Output = F::Output;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let Some(inner) = self.0.as_mut() else {
            return Poll::Pending; // polled after completion: never resolves again
        };
        let out = std::task::ready!(inner.as_mut().poll(cx));
        self.0 = None;
        Poll::Ready(out)
    }
}

impl<F> Drop for FinishOnDrop<F>
where
    F: Future + Send + 'static,
    F::Output: Send,
{
    fn drop(&mut self) {
        if let (Some(unfinished), Ok(runtime)) =
            (self.0.take(), tokio::runtime::Handle::try_current())
        {
            runtime.spawn(unfinished);
        }
    }
}

/// Applies `[replay] on_store_error` when the shared replay store failed:
/// refuse with 503 (the provider retries), or forward without de-duplication,
/// counted and logged.
fn store_unavailable(
    app: &App,
    route: &str,
    error: StoreError,
    decision: &mut Decision,
) -> Result<(), Refusal> {
    match app.config.replay.on_store_error {
        OnStoreError::Reject => Err(Refusal::ReplayStoreUnavailable(error.to_string())),
        OnStoreError::Allow => {
            app.replay.record_error_allowed();
            tracing::warn!(
                target: "hookguard::replay",
                route,
                error = %error,
                "replay store unavailable; forwarding without de-duplication"
            );
            decision.detail = Some(format!("not de-duplicated: {error}"));
            Ok(())
        }
    }
}

/// Reads the whole body, refusing it as soon as it exceeds `limit` (also for
/// chunked bodies with no declared length), its bytes do not fit in the
/// memory budgets `held` takes them from, or the deadline passes. The frames
/// are kept as they came (see [`Payload`]): never copied into one buffer.
async fn read_body(
    mut body: Incoming,
    limit: u64,
    declared: Option<u64>,
    deadline: Instant,
    held: &mut Held<'_>,
) -> Result<Payload, Refusal> {
    let read = async move {
        let mut payload = Payload::new();
        while let Some(frame) = body.frame().await {
            let frame = frame.map_err(|e| Refusal::BadBody(e.to_string()))?;
            let Ok(data) = frame.into_data() else {
                continue; // trailers carry nothing we sign
            };
            let total = payload.len().saturating_add(data.len() as u64);
            if total > limit {
                return Err(Refusal::BodyTooLarge);
            }
            held.cover(total).map_err(Refusal::Overloaded)?;
            payload.push(data);
        }
        let total = payload.len();
        if let Some(declared) = declared.filter(|&len| len != total) {
            // Never forward part of a body. hyper reports an early close as
            // an error while it drives the connection, but its body simply
            // ends if the connection is dropped first (this request then
            // finishes on its own, see `handle`), as it does for an HTTP/2
            // stream reset with NO_ERROR.
            return Err(Refusal::BadBody(format!(
                "body ended after {total} of {declared} declared bytes"
            )));
        }
        Ok(payload)
    };
    match tokio::time::timeout_at(deadline.into(), read).await {
        Ok(result) => result,
        Err(_) => Err(Refusal::RequestTimeout),
    }
}
