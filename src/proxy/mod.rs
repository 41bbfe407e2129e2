//! The request pipeline: its phases in the order they run, and where a
//! request's response and its one audit record are made.
//!
//! [`handle`] runs the phases, turns their result into the response and the
//! audit record once (`outcome::conclude`), and feeds that record to the
//! metrics, the audit log and the ring of recent decisions. Each phase returns what the next needs or a
//! [`Refusal`] (`refusal`: its one status, JSON code and audit detail); the
//! first refusal answers. The phases, in order:
//!
//! 1. **host**: one trustworthy `Host` (or HTTP/2's `:authority`) (`host`);
//! 2. **route**: the route whose path is exactly the request's;
//! 3. **method**: one of the route's `methods`;
//! 4. **client IP**: resolved through `trusted_proxies`, inside `allow_ips`
//!    and not auto-blocked;
//! 5. **rate limit**: a token from the route's bucket for that IP;
//! 6. **challenge**: an unsigned handshake read from the head (Meta,
//!    Dropbox, Asana, ...) is answered here; one that only its body can
//!    confirm (WooCommerce's ping, Notion's verification token) skips the
//!    precheck and is answered, or refused, once the body is read;
//! 7. **body limit**: the declared length within `max_body`;
//! 8. **precheck**: signature headers and the signed timestamp, head only;
//! 9. **hold and read**: the body held against the memory budgets and read
//!    whole, under `max_body` and `request_timeout` (`read`, `budget`);
//! 10. **key**: the key or certificate the verifier names (SNS, PayPal),
//!     from the key store, after its URL passed the route's rule (`keys`);
//! 11. **verify**: the signature over the exact received bytes;
//! 12. **signed handshake**: answered here, never forwarded (an SNS
//!     confirmation with `sns_confirm = "auto"` is GET first, `keys`);
//! 13. **de-duplicate**: claim the event's replay key (`deliver`);
//! 14. **deliver**: forward to the upstream (`deliver`), signed with the
//!     receipt when `[receipt]` applies (`crate::receipt`), or, for a
//!     `delivery = "queue"` route, store in the spool and answer 202
//!     (`queue`; the spool worker signs each attempt).
//!
//! Phases 1 to 8 need only the request head (`admit`). [`serve`] is
//! generic over the request body, so tests drive the whole pipeline with
//! an in-memory one (`tests`).

mod admit;
mod app;
pub(crate) mod budget;
mod deliver;
mod finish;
mod forwarded;
pub mod headers;
mod host;
mod keys;
mod outcome;
mod queue;
mod read;
mod refusal;
#[cfg(test)]
mod tests;

use std::convert::Infallible;
use std::fmt::Display;
use std::future::Future;
use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use http::header::HeaderValue;
use http::request::Parts;
use http::{Request, Response, StatusCode};
use http_body_util::{Either, Full};
use hyper::body::{Body, Incoming};

use crate::audit::{self, Decision};
use crate::body::Payload;
use crate::clock::unix_millis;
use crate::config::Delivery;
use crate::explain::BodyPrint;
use crate::providers::{Inbound, Verified};
use crate::security::Verdict;
pub use app::App;
use app::Routed;
pub(crate) use app::{ConnInfo, Shared};
use budget::Held;
use deliver::{Guard, Provenance};
use finish::FinishOnDrop;
use host::RequestHost;
use outcome::{Facts, Outcome};
use refusal::Refusal;

/// Body of every response: a small buffered one we wrote, or the upstream's
/// streamed through unchanged.
pub(crate) type ResponseBody = Either<Full<Bytes>, Incoming>;

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
    FinishOnDrop::new(serve(app, conn, req))
}

/// Runs the pipeline on one request, makes its response and its one audit
/// record, and accounts for the record. Generic over the request body:
/// tests call it with in-memory bodies, no socket.
pub(crate) async fn serve<B>(
    app: Arc<App>,
    conn: ConnInfo,
    req: Request<B>,
) -> Result<Response<ResponseBody>, Infallible>
where
    B: Body<Data = Bytes> + Unpin,
    B::Error: Display,
{
    let _in_flight = app.metrics.in_flight();
    let started = Instant::now();
    let mut facts = Facts::new(conn.peer.ip());
    let result = pipeline(&app, &conn, req, started, &mut facts).await;
    let (response, decision) = outcome::conclude(&app, facts, result, started);
    account(&app, decision);
    Ok(response)
}

/// Feeds a finished request's record to the source tracking, the metrics,
/// the audit log and, last, the ring of recent decisions, which keeps it.
fn account(app: &App, decision: Decision) {
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
}

/// The phases up to verification, in order (see the module doc). Only this
/// function and [`settle`] note [`Facts`], each from a phase's result.
async fn pipeline<B>(
    app: &App,
    conn: &ConnInfo,
    req: Request<B>,
    started: Instant,
    facts: &mut Facts,
) -> Result<Outcome, Refusal>
where
    B: Body<Data = Bytes> + Unpin,
    B::Error: Display,
{
    let (mut parts, body) = req.into_parts();
    let host = RequestHost::of(&parts).map_err(Refusal::BadHost)?;
    let routed = app.route(parts.uri.path()).ok_or(Refusal::NoRoute)?;
    facts.route = Some(routed.index);
    let route = routed.route;
    admit::method(route, &parts.method)?;
    let client_ip = admit::client_ip(app, conn, &parts.headers);
    facts.client_ip = client_ip;
    admit::allow_ip(app, route, client_ip)?;
    admit::rate_limit(routed.limiter, client_ip)?;
    let scheme = if conn.tls { "https" } else { "http" };
    let public_url = admit::signed_url(route, scheme, host, &parts.uri)?;
    let inbound = Inbound {
        method: &parts.method,
        uri: &parts.uri,
        headers: &parts.headers,
        public_url: &public_url,
        now_ms: unix_millis(),
        key: None,
    };
    if let Some(reply) = admit::challenge(route, &inbound)? {
        return Ok(Outcome::Handshake(reply));
    }
    let declared = admit::body_limit(route, &body)?;
    // An unsigned handshake only its body can confirm skips the precheck
    // (it has no signature header) and is answered instead of verified.
    let body_challenge = route.verifier.awaits_body_challenge(&inbound);
    if !body_challenge {
        admit::precheck(route, &inbound)?;
    }
    // Held until this request is finished, delivered or refused.
    let mut held = Held::new(&app.buffered, &conn.buffered);
    let deadline = started + app.config.server.request_timeout;
    let body = read::hold_and_read(body, route.max_body, declared, deadline, &mut held).await?;
    if body_challenge {
        return (route.verifier.body_challenge(&inbound, &body))
            .inspect_err(|_| facts.refused_body = Some(BodyPrint::of(&body)))
            .map(Outcome::Handshake)
            .map_err(Refusal::Verify);
    }
    let key = keys::key_for(app, route, &inbound, &body)
        .await
        .inspect_err(|_| facts.refused_body = Some(BodyPrint::of(&body)))?;
    let inbound = Inbound {
        key: key.as_ref(),
        ..inbound
    };
    let verified = (route.verifier.verify(&inbound, &body))
        // Hashed for the audit's reason only here: a forwarded body never is.
        .inspect_err(|_| facts.refused_body = Some(BodyPrint::of(&body)))
        .map_err(Refusal::Verify)?;
    facts.secret_index = Some(verified.secret_index);
    if let Some(reply) = route.verifier.handshake(&inbound, &body) {
        if let Some(url) = route.verifier.confirm_url(&inbound, &body) {
            keys::confirm(app, route, &url).await?;
        }
        facts.event_id = verified.event_id;
        return Ok(Outcome::Handshake(reply));
    }
    let checked = Checked {
        routed,
        scheme,
        host: host.forwarded(),
        parts: &mut parts,
        body,
    };
    let result = settle(app, conn, checked, &verified, facts).await;
    // Moved here only now: the upstream got it from `verified`.
    facts.event_id = verified.event_id;
    result
}

/// A verified request, on its way to de-duplication and delivery. Its head
/// is borrowed: the pipeline's frame holds it once.
struct Checked<'a> {
    routed: Routed<'a>,
    /// `X-Forwarded-Proto`.
    scheme: &'static str,
    /// `X-Forwarded-Host`.
    host: Option<HeaderValue>,
    parts: &'a mut Parts,
    body: Payload,
}

/// The phases after verification: de-duplicate, then deliver (queue or
/// forward).
async fn settle(
    app: &App,
    conn: &ConnInfo,
    req: Checked<'_>,
    verified: &Verified,
    facts: &mut Facts,
) -> Result<Outcome, Refusal> {
    let Routed { route, names, .. } = req.routed;
    let claim = match deliver::deduplicate(app, &route.path, &verified.dedup).await? {
        Guard::AlreadyDelivered => return Ok(Outcome::Duplicate(route.verifier.acknowledgement())),
        Guard::Claimed(claim) => Some(claim),
        Guard::Unkeyed => None,
        Guard::Unguarded(why) => {
            facts.not_deduplicated = Some(why);
            None
        }
    };
    let provenance = Provenance {
        peer: conn.peer.ip(),
        scheme: req.scheme,
        host: req.host,
        verified: names.verified.as_ref(),
        event_id: verified.event_id.as_deref(),
    };
    if let Some(name) = &route.credential_query {
        req.parts.uri = deliver::without_query_parameter(&req.parts.uri, name);
    }
    // The inbound headers are not needed past this point: move, don't copy.
    let inbound_headers = std::mem::take(&mut req.parts.headers);
    let headers = deliver::upstream_headers(app, route, inbound_headers, provenance);
    if route.delivery == Delivery::Queue {
        // Boxed, like the Redis store's futures: its state would otherwise
        // enlarge every forwarded request's future too.
        return Box::pin(queue::accept(
            app, route, req.parts, &headers, req.body, verified, claim,
        ))
        .await;
    }
    let mut headers = headers;
    if let Some(receipt) = app.config.receipt_for(route) {
        let id = crate::receipt::message_id(verified.event_id.as_deref());
        receipt.apply(&mut headers, &id, unix_millis() / 1000, &req.body);
    }
    let request = deliver::upstream_request(route, req.parts, headers, req.body)?;
    let upstream_started = Instant::now();
    let answer = deliver::forward(app, route, request, claim).await;
    facts.upstream_latency = Some(upstream_started.elapsed());
    answer.map(Outcome::Delivered)
}
