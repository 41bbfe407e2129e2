//! Why a request is refused, and the one place where a refusal becomes an
//! HTTP response: each [`Refusal`] has exactly one status, one stable JSON
//! error code (`{"error":"<code>"}`, nothing more for the caller) and a
//! detail for the audit log only.

use std::time::Duration;

use bytes::Bytes;
use http::header::{self, HeaderValue};
use http::{Method, Response, StatusCode};
use http_body_util::{Either, Full};

use super::budget::Exhausted;
use super::ResponseBody;
use crate::providers::Rejection;
use crate::ratelimit;
use crate::upstream::UpstreamError;

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
    /// The key or certificate the request needs could not be fetched; the
    /// provider retries later. Detail: the URL and why.
    KeyUnavailable(String),
    /// `sns_confirm = "auto"`: the GET of the `SubscribeURL` failed; SNS
    /// retries the confirmation.
    ConfirmFailed(String),
}

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
            Self::KeyUnavailable(_) => (StatusCode::SERVICE_UNAVAILABLE, "key_unavailable"),
            Self::ConfirmFailed(_) => (StatusCode::SERVICE_UNAVAILABLE, "confirm_failed"),
        }
    }

    /// Detail for the audit log only (never sent to the caller).
    pub(super) fn into_detail(self) -> Option<String> {
        match self {
            Self::Verify(
                Rejection::MissingSignature { detail }
                | Rejection::InvalidSignature { detail }
                | Rejection::TimestampOutOfTolerance { detail },
            ) => Some(detail),
            Self::BadBody(d)
            | Self::Internal(d)
            | Self::ReplayStoreUnavailable(d)
            | Self::SpoolUnavailable(d)
            | Self::KeyUnavailable(d)
            | Self::ConfirmFailed(d) => Some(d),
            Self::BadHost(why) => Some(why.to_owned()),
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

    /// The response the caller gets: the status, `{"error":"<code>"}`, and
    /// `Allow` or `Retry-After` where the refusal calls for one.
    pub(super) fn response(&self) -> Response<ResponseBody> {
        let (status, code) = self.status_and_code();
        let mut resp = json_response(status, format!("{{\"error\":\"{code}\"}}"));
        if let Self::MethodNotAllowed(methods) = self {
            let allow = methods
                .iter()
                .map(Method::as_str)
                .collect::<Vec<_>>()
                .join(", ");
            if let Ok(v) = HeaderValue::from_str(&allow) {
                resp.headers_mut().insert(header::ALLOW, v);
            }
        }
        if let Self::RateLimited(wait) = self {
            resp.headers_mut().insert(
                header::RETRY_AFTER,
                HeaderValue::from(ratelimit::retry_after_secs(*wait)),
            );
        }
        if let Self::ReplayStoreUnavailable(_) = self {
            resp.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from_static("5"));
        }
        if let Self::SpoolUnavailable(_) = self {
            resp.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from_static("30"));
        }
        if let Self::KeyUnavailable(_) | Self::ConfirmFailed(_) = self {
            // A failed fetch is retried after a second; the provider's own
            // retry is what brings the request back.
            resp.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from_static("10"));
        }
        if let Self::Overloaded(_) = self {
            // Held bodies are given back as their requests finish, within
            // request_timeout plus the upstream's answer.
            resp.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from_static("5"));
        }
        resp
    }
}

/// A small JSON answer of hookguard's own.
pub(super) fn json_response(status: StatusCode, body: impl Into<Bytes>) -> Response<ResponseBody> {
    let mut resp = Response::new(Either::Left(Full::new(body.into())));
    *resp.status_mut() = status;
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    resp
}
