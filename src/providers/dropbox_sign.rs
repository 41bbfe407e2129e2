//! Dropbox Sign (formerly HelloSign) event callbacks: a multipart/form-data
//! POST whose `json` field holds the event, signed by `event.event_hash`.
//!
//! Owns reading the `json` field (multipart parsed by `multer`, JSON by
//! serde derive, so a repeated field is refused), the HMAC over
//! `{event_time}{event_type}`, its window, and `hookguard sign` for it.
//!
//! Facts (hellosign/dropbox-sign-python `dropbox_sign/event_callback_helper.py`
//! `EventCallbackHelper.is_valid`, fixtures in `test_fixtures/`): `event_hash
//! = hex(HMAC-SHA256(api_key, event_time || event_type))`. Nothing else of
//! the body is signed: the signature proves only that the holder of the API
//! key produced that time and type, which the docs say plainly.

use std::future::Future;
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use bytes::Bytes;
use http::header::CONTENT_TYPE;
use http::HeaderName;
use serde::Deserialize;
use serde_json::Value;

use super::common::invalid;
use super::common::{
    decode_signature, Signed, SignedBody, TimestampFormat, Tolerance, ToleranceSpec,
};
use super::hmac::BODY;
use super::keys::{match_one, KeyRing};
use super::{
    BuildError, Dedup, HmacAlgorithm, Inbound, ProviderInfo, ProviderParams, Rejection,
    SignRequest, SignatureEncoding, Verified, Verifier,
};
use crate::body::Payload;

/// Dropbox Sign gives no window; its `event_time` is Unix seconds. Five
/// minutes each way, as for Mailgun (routes may change it with `tolerance`).
pub(crate) const TOLERANCE: ToleranceSpec = ToleranceSpec { default_secs: 300 };

/// What Dropbox Sign requires in the body of every successful answer.
pub(crate) const ACKNOWLEDGEMENT: &str = "Hello API Event Received";

/// The multipart field that carries the event.
const FIELD: &str = "json";

/// The row of `hookguard providers` for Dropbox Sign.
pub(crate) fn info(name: &'static str) -> ProviderInfo {
    ProviderInfo {
        name,
        algorithm: "HMAC-SHA256",
        headers: "none: multipart/form-data field json, {\"event\":{\"event_time\",\"event_type\",\"event_hash\":<hex>}}".into(),
        signed: "{event_time}{event_type} (not the rest of the body)".into(),
        ..ProviderInfo::default()
    }
}

#[derive(Deserialize)]
struct Callback {
    event: Option<Event>,
}

#[derive(Deserialize)]
struct Event {
    event_time: Option<Value>,
    event_type: Option<String>,
    event_hash: Option<String>,
}

/// The signed material of one callback.
struct Signature {
    time: String,
    kind: String,
    hash: String,
}

fn missing(what: &str) -> Rejection {
    Rejection::MissingSignature {
        detail: format!("{what} is absent"),
    }
}

/// Polls `fut` once: the multipart stream is one buffered chunk, so the
/// parser never waits. A parser that did would be refused, not blocked on.
fn now_or_never<F: Future>(fut: F) -> Option<F::Output> {
    let mut fut = std::pin::pin!(fut);
    match fut.as_mut().poll(&mut Context::from_waker(Waker::noop())) {
        Poll::Ready(out) => Some(out),
        Poll::Pending => None,
    }
}

/// The `json` field of a multipart body whose boundary `content_type` names.
fn json_field(content_type: &str, body: Bytes) -> Result<Bytes, Rejection> {
    let boundary = multer::parse_boundary(content_type)
        .map_err(|_| missing("a multipart/form-data Content-Type with a boundary"))?;
    let stream = futures_util::stream::once(async move { Ok::<_, std::convert::Infallible>(body) });
    let mut parts = multer::Multipart::new(stream, boundary);
    let read = async {
        let mut found = None;
        while let Some(field) = parts.next_field().await? {
            if field.name() != Some(FIELD) {
                continue;
            }
            if found.is_some() {
                return Ok(Err(invalid("multipart field \"json\" is repeated")));
            }
            found = Some(field.bytes().await?);
        }
        Ok::<_, multer::Error>(found.ok_or_else(|| missing("multipart field \"json\"")))
    };
    match now_or_never(read) {
        Some(Ok(result)) => result,
        Some(Err(_)) | None => Err(invalid("body is not valid multipart/form-data")),
    }
}

/// Reads the event's signed fields from the `json` field's text.
fn signature(json: &[u8]) -> Result<Signature, Rejection> {
    let callback: Callback = serde_json::from_slice(json).map_err(|e| {
        invalid(if e.is_data() {
            "json field does not have the shape of a Dropbox Sign event (a field repeated or mistyped)"
        } else {
            "json field is not valid JSON"
        })
    })?;
    let event = callback
        .event
        .ok_or_else(|| missing("json field \"event\""))?;
    let time = match event.event_time {
        Some(Value::String(s)) => s,
        Some(Value::Number(n)) if n.is_u64() => n.to_string(),
        Some(_) => return Err(invalid("event.event_time is not Unix seconds")),
        None => return Err(missing("json field \"event.event_time\"")),
    };
    Ok(Signature {
        time,
        kind: event
            .event_type
            .ok_or_else(|| missing("json field \"event.event_type\""))?,
        hash: event
            .event_hash
            .filter(|h| !h.is_empty())
            .ok_or_else(|| missing("json field \"event.event_hash\""))?,
    })
}

/// The request's one Content-Type, as text.
fn content_type<'h>(req: &Inbound<'h>) -> Result<&'h str, Rejection> {
    let mut values = req.headers.get_all(CONTENT_TYPE).iter();
    match (values.next(), values.next()) {
        (Some(v), None) => v.to_str().map_err(|_| invalid("Content-Type is not text")),
        (None, _) => Err(missing("a multipart/form-data Content-Type")),
        (Some(_), Some(_)) => Err(invalid("more than one Content-Type")),
    }
}

/// A built Dropbox Sign verifier.
pub(crate) struct DropboxSignVerifier {
    provider: &'static str,
    keys: KeyRing,
    tolerance: Tolerance,
}

impl DropboxSignVerifier {
    /// Builds from the route's secrets: the account's API key (or the API
    /// app's, for app callbacks), used as text.
    pub(crate) fn build(
        provider: &'static str,
        params: ProviderParams<'_>,
    ) -> Result<Self, BuildError> {
        Ok(Self {
            provider,
            keys: KeyRing::utf8(params.secrets, HmacAlgorithm::Sha256)?,
            tolerance: Tolerance::new(TOLERANCE, params.tolerance),
        })
    }
}

impl Verifier for DropboxSignVerifier {
    fn provider(&self) -> &str {
        self.provider
    }

    fn tolerance(&self) -> Option<Duration> {
        Some(self.tolerance.window())
    }

    /// Dropbox Sign counts an answer without this text as a failure and
    /// retries (Dropbox Sign docs, "Events and Callbacks" walkthrough).
    fn acknowledgement(&self) -> Option<&'static str> {
        Some(ACKNOWLEDGEMENT)
    }

    /// Only that the body will be multipart: the fields are in the body.
    fn precheck(&self, req: &Inbound<'_>) -> Result<(), Rejection> {
        content_type(req).map(|_| ())
    }

    fn verify(&self, req: &Inbound<'_>, body: &Payload) -> Result<Verified, Rejection> {
        // The parser takes owned bytes: one frame is shared, not copied.
        let body = body.clone().into_bytes();
        let json = json_field(content_type(req)?, body)?;
        let sig = signature(&json)?;
        let tag = decode_signature(
            sig.hash.as_bytes(),
            SignatureEncoding::Hex,
            self.keys.tag_len(),
        )
        .map_err(|why| invalid(format!("event.event_hash: {why}")))?;
        let msg = [sig.time.as_bytes(), sig.kind.as_bytes()].concat();
        let secret_index = match_one(
            &self.keys,
            req.now_ms,
            &Signed::new(BODY, SignedBody::Slice(&msg), &[], &[]),
            &tag,
        )?;
        self.tolerance.check(
            &HeaderName::from_static("event_time"),
            sig.time.as_bytes(),
            TimestampFormat::UnixSeconds,
            req.now_ms,
        )?;
        Ok(Verified {
            secret_index,
            event_id: None,
            dedup: Dedup::Signature(replay_key(tag.bytes(), &json)),
        })
    }
}

/// The replay key: the hash and the whole event text. The hash alone
/// would be the same for every event of one type in one second (a bulk
/// send emits many), so genuine events would be lost as duplicates; what
/// the key cannot do is stop a copy with other unsigned content, which
/// the signature does not cover either (docs/providers.md says so).
fn replay_key(tag: &[u8], json: &[u8]) -> Vec<u8> {
    let mut ctx = ring::digest::Context::new(&ring::digest::SHA256);
    ctx.update(tag);
    ctx.update(json);
    ctx.finish().as_ref().to_vec()
}

/// `hookguard sign` for Dropbox Sign: the `event_hash` for the event in
/// `req.body` (the `json` field's text), keyed with the API key `secret`.
pub(crate) fn sign(
    secret: &[u8],
    req: &SignRequest<'_>,
) -> Result<Vec<(String, String)>, BuildError> {
    let body_error = |e: Rejection| BuildError {
        field: "body".into(),
        message: format!(
            "{} (give the json field's text: {{\"event\":{{\"event_time\",\"event_type\",...}}}})",
            e.detail()
        ),
    };
    // The hash being signed need not be there yet.
    let mut json: Value = serde_json::from_slice(req.body)
        .map_err(|_| body_error(invalid("body is not valid JSON")))?;
    if let Some(event) = json.get_mut("event").and_then(Value::as_object_mut) {
        event.insert("event_hash".into(), Value::String("-".into()));
    }
    let sig = signature(json.to_string().as_bytes()).map_err(body_error)?;
    let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, secret);
    let tag = ring::hmac::sign(
        &key,
        [sig.time.as_bytes(), sig.kind.as_bytes()]
            .concat()
            .as_slice(),
    );
    Ok(vec![("event.event_hash".into(), hex::encode(tag.as_ref()))])
}

#[cfg(test)]
#[path = "dropbox_sign_tests.rs"]
mod tests;
