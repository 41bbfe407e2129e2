//! The phases that need only the request head, in the order the pipeline
//! runs them after host and route: method, client IP, rate limit, the
//! unsigned challenge, the declared body length and the header-only
//! signature checks. Each refuses a request before its body is read.

use std::net::IpAddr;

use http::{HeaderMap, Method, Uri};
use hyper::body::Body;

use super::host::RequestHost;
use super::refusal::Refusal;
use super::{headers, App, ConnInfo};
use crate::config::Route;
use crate::providers::{self, HandshakeReply, Inbound, UrlTarget};
use crate::ratelimit::RouteLimiter;

/// Method: one of the route's `methods`.
pub(super) fn method(route: &Route, method: &Method) -> Result<(), Refusal> {
    if route.methods.contains(method) {
        Ok(())
    } else {
        Err(Refusal::MethodNotAllowed(route.methods.clone()))
    }
}

/// Client IP: the peer, or the address `trusted_proxies` vouch for.
pub(super) fn client_ip(app: &App, conn: &ConnInfo, headers: &HeaderMap) -> IpAddr {
    headers::client_ip(conn.peer.ip(), headers, &app.config.server.trusted_proxies)
}

/// Client IP, allowed: inside the route's `allow_ips` and not auto-blocked.
pub(super) fn allow_ip(app: &App, route: &Route, client_ip: IpAddr) -> Result<(), Refusal> {
    if headers::ip_allowed(client_ip, &route.allow_ips) && !app.sources.is_blocked(client_ip) {
        Ok(())
    } else {
        Err(Refusal::IpNotAllowed)
    }
}

/// Rate limit: a token from the route's bucket for this client IP.
pub(super) fn rate_limit(limiter: Option<&RouteLimiter>, client_ip: IpAddr) -> Result<(), Refusal> {
    match limiter {
        Some(limiter) => limiter.check(client_ip).map_err(Refusal::RateLimited),
        None => Ok(()),
    }
}

/// For schemes that sign the URL: the URL the provider called, whose query
/// must be the one forwarded (`public_url` if set, else rebuilt from the
/// request); empty for the others.
pub(super) fn signed_url(
    route: &Route,
    scheme: &'static str,
    host: RequestHost<'_>,
    uri: &Uri,
) -> Result<String, Refusal> {
    let target = UrlTarget {
        configured: route.public_url.as_deref(),
        scheme,
        host: host.text(),
        uri,
    };
    route.verifier.signed_url(&target).map_err(Refusal::Verify)
}

/// Unsigned challenge: a reply when the request is one the proxy answers
/// itself (refused when its token is wrong), else `None`.
pub(super) fn challenge(
    route: &Route,
    inbound: &Inbound<'_>,
) -> Result<Option<HandshakeReply>, Refusal> {
    let cloudevents = route
        .cloudevents_handshake
        .then(|| providers::cloudevents_options(inbound))
        .flatten();
    cloudevents
        .or_else(|| route.verifier.challenge(inbound))
        .transpose()
        .map_err(Refusal::Verify)
}

/// Body limit, from the declared length, before reading anything: hyper has
/// parsed and checked Content-Length (or HTTP/2's content-length) already,
/// so the body knows its exact size. Returns that size, if declared.
pub(super) fn body_limit(route: &Route, body: &impl Body) -> Result<Option<u64>, Refusal> {
    let declared = body.size_hint().exact();
    match declared {
        Some(len) if len > route.max_body => Err(Refusal::BodyTooLarge),
        _ => Ok(declared),
    }
}

/// Precheck: the signature headers (present, well-formed) and the signed
/// timestamp, from the head alone.
pub(super) fn precheck(route: &Route, inbound: &Inbound<'_>) -> Result<(), Refusal> {
    route.verifier.precheck(inbound).map_err(Refusal::Verify)
}
