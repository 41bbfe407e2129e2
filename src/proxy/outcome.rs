//! How a request ended, and the one place its audit record is made: from
//! the pipeline's result (an [`Outcome`] or a [`Refusal`]) and the [`Facts`]
//! it gathered on the way, once, after the response is decided.

use std::net::IpAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::header::{self, HeaderValue};
use http::{Response, StatusCode};
use http_body_util::{Either, Full};
use hyper::body::Incoming;

use super::refusal::{json_response, Refusal};
use super::{App, ResponseBody};
use crate::audit::{self, Decision};
use crate::explain::{self, BodyPrint};
use crate::providers::HandshakeReply;
#[cfg(doc)]
use crate::providers::Verifier;

/// How a request that was not refused ended.
#[derive(Debug)]
pub(crate) enum Outcome {
    /// Forwarded; the upstream answered (any status), relayed as it is.
    Delivered(Response<Incoming>),
    /// Queue mode: on disk; answered 202 `{"status":"queued"}`, or 200 with
    /// the provider's acknowledgement ([`Verifier::acknowledgement`]).
    Queued(Option<&'static str>),
    /// Already delivered: answered 200 `{"status":"duplicate"}`, or with
    /// the provider's acknowledgement.
    Duplicate(Option<&'static str>),
    /// A provider handshake, answered by hookguard itself.
    Handshake(HandshakeReply),
}

/// What the pipeline found out about a request, phase by phase, for its
/// audit record. Only the pipeline's two sequencing functions set these,
/// each from a phase's return value.
#[derive(Debug)]
pub(crate) struct Facts {
    /// Position of the matched route, once routed.
    pub route: Option<usize>,
    /// The socket peer, then the client IP once resolved through
    /// `trusted_proxies`.
    pub client_ip: IpAddr,
    /// Index of the secret that verified the request.
    pub secret_index: Option<usize>,
    /// The signed event id, moved here once it was forwarded or queued.
    pub event_id: Option<String>,
    /// Time spent waiting for the upstream's response head.
    pub upstream_latency: Option<Duration>,
    /// Why a verified request went on without de-duplication (the replay
    /// store failed under `on_store_error = "allow"`).
    pub not_deduplicated: Option<String>,
    /// The length and hash prefix of a body that was read and then
    /// refused, for the refusal's `reason`.
    pub refused_body: Option<BodyPrint>,
}

impl Facts {
    /// Nothing known yet but the socket peer.
    pub(crate) fn new(peer: IpAddr) -> Self {
        Self {
            route: None,
            client_ip: peer,
            secret_index: None,
            event_id: None,
            upstream_latency: None,
            not_deduplicated: None,
            refused_body: None,
        }
    }
}

/// The pipeline's result turned into the response and the request's one
/// audit record; its latency is read once the response is ready.
pub(crate) fn conclude(
    app: &App,
    facts: Facts,
    result: Result<Outcome, Refusal>,
    started: Instant,
) -> (Response<ResponseBody>, Decision) {
    let upstream_status = result.as_ref().ok().and_then(Outcome::upstream_status);
    let (response, outcome, error, detail) = match result {
        Ok(outcome) => {
            let audited = outcome.audited();
            let detail = match &outcome {
                Outcome::Handshake(reply) => reply.note.map(str::to_owned),
                _ => facts.not_deduplicated,
            };
            (outcome.into_response(), audited, None, detail)
        }
        Err(refusal) => {
            let response = refusal.response();
            let (_, code) = refusal.status_and_code();
            let detail = refusal.into_detail();
            (response, audit::Outcome::Rejected, Some(code), detail)
        }
    };
    // Refusals only: explained in the words of `hookguard verify`.
    let reason =
        error.map(|code| explain::reason(code, detail.as_deref(), facts.refused_body.as_ref()));
    let names = facts.route.and_then(|i| app.names.get(i));
    let decision = Decision {
        route: names.map(|n| Arc::clone(&n.path)),
        provider: names.map(|n| Arc::clone(&n.provider)),
        route_index: facts.route,
        client_ip: facts.client_ip,
        outcome,
        error,
        detail,
        reason,
        body: facts.refused_body,
        status: response.status().as_u16(),
        event_id: facts.event_id,
        secret_index: facts.secret_index,
        latency: started.elapsed(),
        upstream_latency: facts.upstream_latency,
        upstream_status,
    };
    (response, decision)
}

impl Outcome {
    /// The outcome as the audit log and the metrics name it.
    fn audited(&self) -> audit::Outcome {
        match self {
            Self::Delivered(_) => audit::Outcome::Forwarded,
            Self::Queued(_) => audit::Outcome::Queued,
            Self::Duplicate(_) => audit::Outcome::Duplicate,
            Self::Handshake(_) => audit::Outcome::Handshake,
        }
    }

    /// The upstream's status, when it answered.
    fn upstream_status(&self) -> Option<u16> {
        match self {
            Self::Delivered(response) => Some(response.status().as_u16()),
            Self::Queued(_) | Self::Duplicate(_) | Self::Handshake(_) => None,
        }
    }

    fn into_response(self) -> Response<ResponseBody> {
        match self {
            Self::Delivered(response) => response.map(Either::Right),
            Self::Queued(Some(ack)) | Self::Duplicate(Some(ack)) => acknowledgement(ack),
            Self::Queued(None) => json_response(StatusCode::ACCEPTED, r#"{"status":"queued"}"#),
            Self::Duplicate(None) => json_response(StatusCode::OK, r#"{"status":"duplicate"}"#),
            Self::Handshake(reply) => handshake_response(reply),
        }
    }
}

/// 200 with the text a provider requires of every successful answer.
fn acknowledgement(ack: &'static str) -> Response<ResponseBody> {
    handshake_response(HandshakeReply {
        status: 200,
        content_type: "text/plain; charset=utf-8",
        body: ack.as_bytes().to_vec(),
        headers: Vec::new(),
        note: None,
    })
}

fn handshake_response(reply: HandshakeReply) -> Response<ResponseBody> {
    let mut resp = Response::new(Either::Left(Full::new(Bytes::from(reply.body))));
    // The provider's own headers first: ours below overwrite any clash.
    for (name, value) in reply.headers {
        resp.headers_mut().append(name, value);
    }
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
