//! The phases after verification: de-duplicate, then deliver by forwarding
//! to the upstream (queue mode's delivery is in `queue`), with the headers
//! the upstream gets.

use std::net::IpAddr;

use http::header::HeaderValue;
use http::request::Parts;
use http::{HeaderMap, Request, Response, Uri};
use hyper::body::Incoming;

use super::refusal::Refusal;
use super::{forwarded, headers, App};
use crate::body::Payload;
use crate::config::{OnStoreError, Route};
use crate::providers::Dedup;
use crate::replay::{Claim, ClaimToken, ReplayKey, StoreError};
use crate::upstream;

/// A replay claim this request owns: it settles it once delivery is decided.
pub(super) type Claimed = (ReplayKey, ClaimToken);

/// What de-duplication decided for a verified request.
pub(super) enum Guard {
    /// Delivered before, within the replay ttl: answered "duplicate".
    AlreadyDelivered,
    /// This request owns the event's key until it settles it.
    Claimed(Claimed),
    /// The scheme signs nothing to key on.
    Unkeyed,
    /// The replay store failed and `on_store_error = "allow"`: the request
    /// goes on unguarded; the audit detail says why.
    Unguarded(String),
}

/// De-duplicate: claims the event's key in the replay store. Refused when
/// the same event is in flight, or the store failed and the route's
/// `on_store_error` says reject.
pub(super) async fn deduplicate(app: &App, route: &str, dedup: &Dedup) -> Result<Guard, Refusal> {
    let Some(key) = ReplayKey::derive(route, dedup) else {
        return Ok(Guard::Unkeyed);
    };
    match app.replay.claim(key).await {
        Ok(Claim::Acquired(token)) => Ok(Guard::Claimed((key, token))),
        Ok(Claim::Delivered) => Ok(Guard::AlreadyDelivered),
        Ok(Claim::InFlight) => Err(Refusal::DuplicateInFlight),
        Err(error) => store_unavailable(app, route, error),
    }
}

/// Applies `[replay] on_store_error` when the shared replay store failed:
/// refuse with 503 (the provider retries), or go on without de-duplication,
/// counted and logged.
fn store_unavailable(app: &App, route: &str, error: StoreError) -> Result<Guard, Refusal> {
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
            Ok(Guard::Unguarded(format!("not de-duplicated: {error}")))
        }
    }
}

/// What the upstream learns about a request besides its own headers.
pub(super) struct Provenance<'a> {
    /// The socket peer.
    pub peer: IpAddr,
    /// `X-Forwarded-Proto`.
    pub scheme: &'static str,
    /// `X-Forwarded-Host`: the host as the provider addressed us.
    pub host: Option<HeaderValue>,
    /// `X-Hookguard-Verified`: the route's provider.
    pub verified: Option<&'a HeaderValue>,
    /// `X-Hookguard-Event-Id`: the verified event id.
    pub event_id: Option<&'a str>,
}

/// The inbound headers as the upstream gets them (moved, never copied):
/// prepared by `headers::prepare_upstream`, without the route's shared
/// credential, plus hookguard's own, with `Forwarded` built like
/// `X-Forwarded-For` (`forwarded`).
pub(super) fn upstream_headers(
    app: &App,
    route: &Route,
    mut out: HeaderMap,
    from: Provenance<'_>,
) -> HeaderMap {
    let peer_trusted = headers::is_trusted(from.peer, &app.config.server.trusted_proxies);
    let xff = headers::forwarded_for_chain(from.peer, peer_trusted, &out);
    let forwarded = forwarded::forwarded_chain(
        from.peer,
        peer_trusted,
        &out,
        from.scheme,
        from.host.as_ref(),
    );
    headers::prepare_upstream(&mut out, xff, from.scheme, from.host, peer_trusted);
    match forwarded {
        Some(v) => out.insert(forwarded::FORWARDED, v),
        None => out.remove(forwarded::FORWARDED),
    };
    headers::drop_credential(&mut out, route.credential_header.as_ref());
    if let Some(v) = from.verified {
        out.insert(headers::X_HOOKGUARD_VERIFIED, v.clone());
    }
    if let Some(v) = from.event_id.and_then(|id| HeaderValue::from_str(id).ok()) {
        out.insert(headers::X_HOOKGUARD_EVENT_ID, v);
    }
    out
}

/// The request the upstream gets: the route's upstream URI, the method,
/// the prepared headers and the exact received body.
pub(super) fn upstream_request(
    route: &Route,
    parts: &Parts,
    headers: HeaderMap,
    body: Payload,
) -> Result<Request<Payload>, Refusal> {
    let uri = upstream::upstream_uri(
        &route.upstream.url,
        route.upstream_path_override,
        &parts.uri,
    )
    .map_err(|e| Refusal::Internal(format!("upstream uri: {e}")))?;
    let mut request = Request::new(body);
    *request.method_mut() = parts.method.clone();
    *request.uri_mut() = uri;
    *request.headers_mut() = headers;
    Ok(request)
}

/// `uri` without every `name=...` pair of its query (a credential the
/// route reads there); the other pairs are kept byte for byte, in order.
pub(super) fn without_query_parameter(uri: &Uri, name: &str) -> Uri {
    let Some(query) = uri.query() else {
        return uri.clone();
    };
    let kept: Vec<&str> = query
        .split('&')
        .filter(|pair| {
            let key = pair.split('=').next().unwrap_or("");
            !form_urlencoded::parse(key.as_bytes()).any(|(k, _)| k == name)
        })
        .collect();
    let path_and_query = if kept.is_empty() {
        uri.path().to_owned()
    } else {
        [uri.path(), "?", &kept.join("&")].concat()
    };
    let mut parts = uri.clone().into_parts();
    // The pieces of a valid path and query stay valid.
    parts.path_and_query = path_and_query.parse().ok().or(parts.path_and_query);
    Uri::from_parts(parts).unwrap_or_else(|_| uri.clone())
}

/// Forward: sends the request upstream and settles the replay claim from
/// the answer (delivered on a 2xx, else released for the provider's retry).
pub(super) async fn forward(
    app: &App,
    route: &Route,
    request: Request<Payload>,
    claim: Option<Claimed>,
) -> Result<Response<Incoming>, Refusal> {
    let result = app.client.send(request, route.upstream.timeout).await;
    if let Some((key, token)) = claim {
        let delivered = matches!(&result, Ok(r) if r.status().is_success());
        app.replay.settle(key, token, delivered).await;
    }
    let mut response = result.map_err(Refusal::Upstream)?;
    headers::strip_hop_by_hop(response.headers_mut());
    Ok(response)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_named_query_parameter_is_removed() {
        let strip = |uri: &str| {
            let uri: Uri = uri.parse().unwrap();
            without_query_parameter(&uri, "code").to_string()
        };
        assert_eq!(strip("/eg?code=k&a=%2F1&b"), "/eg?a=%2F1&b");
        assert_eq!(strip("/eg?a=1&code=k&code=j"), "/eg?a=1");
        assert_eq!(
            strip("/eg?c%6Fde=k&x=1"),
            "/eg?x=1",
            "a percent-encoded name"
        );
        assert_eq!(strip("/eg?code=k"), "/eg");
        assert_eq!(strip("/eg?codex=1&xcode=2"), "/eg?codex=1&xcode=2");
        assert_eq!(strip("/eg"), "/eg");
    }
}
