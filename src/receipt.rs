//! The receipt: hookguard's own Standard Webhooks signature on every request
//! it forwards, so that the app can prove a request came through hookguard.
//!
//! `X-Hookguard-Verified` is a plain header: anyone who can reach the app
//! without going through hookguard can send it. A receipt is a signature
//! the app checks with any Standard Webhooks library, whatever the
//! provider was: `webhook-id`, `webhook-timestamp` and `webhook-signature`
//! over `{id}.{timestamp}.{body}` (the specification at
//! github.com/standard-webhooks/standard-webhooks, `spec/standard-webhooks.md`):
//! HMAC-SHA256 with each unexpired `whsec_` secret (`v1,<base64>`), and/or
//! Ed25519 with a `whsk_` key (`v1a,<base64>`), entries separated by a space.
//! `Content-Digest` (RFC 9530) states the SHA-256 of the forwarded bytes.
//!
//! Owns: signing and the receipt's headers (inbound copies replaced), and
//! the message id. Does not own: reading `[receipt]` (`config::receipt`),
//! nor when a receipt applies (a route's `receipt = false`; the callers in
//! `proxy` and `spool::worker` ask [`crate::config::Config::receipt_for`]).

use std::fmt::Write as _;

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use http::header::{HeaderMap, HeaderName, HeaderValue};
use ring::rand::SecureRandom;
use ring::signature::{Ed25519KeyPair, KeyPair as _};
use ring::{digest, hmac};

use crate::body::Payload;

/// `webhook-id`: the message id, the app's idempotency key.
pub(crate) const WEBHOOK_ID: HeaderName = HeaderName::from_static("webhook-id");
/// `webhook-timestamp`: Unix seconds when hookguard signed.
pub(crate) const WEBHOOK_TIMESTAMP: HeaderName = HeaderName::from_static("webhook-timestamp");
/// `webhook-signature`: space-separated `v1,` and `v1a,` entries.
pub(crate) const WEBHOOK_SIGNATURE: HeaderName = HeaderName::from_static("webhook-signature");
/// `Content-Digest` (RFC 9530).
pub(crate) const CONTENT_DIGEST: HeaderName = HeaderName::from_static("content-digest");

/// Longest provider event id used as the message id as it is.
const MAX_ID_LEN: usize = 255;

/// One `whsec_` secret as an HMAC key, with where it came from.
pub(crate) struct ReceiptSecret {
    pub(crate) key: hmac::Key,
    /// Unix seconds after which it signs no more.
    pub(crate) expires: Option<i64>,
    /// `env:NAME`, `file:PATH` or `literal`, for `check`.
    pub(crate) origin: String,
}

/// The `whsk_` key and where it came from.
pub(crate) struct ReceiptKeyPair {
    pub(crate) pair: Ed25519KeyPair,
    pub(crate) origin: String,
}

/// `[receipt]`, ready to sign: built once per configuration (a reload
/// builds a new one).
pub struct Receipt {
    secrets: Vec<ReceiptSecret>,
    ed25519: Option<ReceiptKeyPair>,
}

impl Receipt {
    /// A signer with `secrets` (first listed, first entry) and/or a key pair.
    pub(crate) fn new(secrets: Vec<ReceiptSecret>, ed25519: Option<ReceiptKeyPair>) -> Self {
        Self { secrets, ed25519 }
    }

    /// The `[receipt]` secrets, in configuration order.
    pub(crate) fn secrets(&self) -> &[ReceiptSecret] {
        &self.secrets
    }

    /// The Ed25519 key, if any.
    pub(crate) fn ed25519(&self) -> Option<&ReceiptKeyPair> {
        self.ed25519.as_ref()
    }

    /// Sets the receipt on a request about to go upstream: the three
    /// `webhook-*` headers and `Content-Digest`, replacing any inbound copy
    /// (an inbound `webhook-signature` is the provider's, or a forgery; the
    /// app must see only hookguard's). `now` is Unix seconds.
    pub(crate) fn apply(&self, headers: &mut HeaderMap, id: &str, now: i64, body: &Payload) {
        let timestamp = itoa::Buffer::new().format(now).to_owned();
        let signature = self.signature(id, &timestamp, now, body);
        match HeaderValue::from_str(id) {
            Ok(v) => headers.insert(WEBHOOK_ID, v),
            // Ids are made by `message_id`: visible ASCII only.
            Err(_) => headers.remove(WEBHOOK_ID),
        };
        headers.insert(WEBHOOK_TIMESTAMP, HeaderValue::from(now));
        match signature.and_then(|s| HeaderValue::try_from(s).ok()) {
            Some(v) => headers.insert(WEBHOOK_SIGNATURE, v),
            // Every secret expired and no key: no signature, so the app
            // refuses the request (fail closed), never a stale inbound one.
            None => headers.remove(WEBHOOK_SIGNATURE),
        };
        headers.insert(CONTENT_DIGEST, content_digest(body));
    }

    /// The `webhook-signature` value: one `v1,` entry per secret unexpired
    /// at `now`, then `v1a,` for the key; `None` when there is no entry.
    fn signature(&self, id: &str, timestamp: &str, now: i64, body: &Payload) -> Option<String> {
        let mut entries = String::new();
        for secret in self
            .secrets
            .iter()
            .filter(|s| s.expires.is_none_or(|t| t > now))
        {
            let mut ctx = hmac::Context::with_key(&secret.key);
            for part in [id.as_bytes(), b".", timestamp.as_bytes(), b"."] {
                ctx.update(part);
            }
            body.chunks().for_each(|chunk| ctx.update(chunk));
            push_entry(&mut entries, "v1", ctx.sign().as_ref());
        }
        if let Some(key) = &self.ed25519 {
            // Ed25519 hashes its message twice: it needs it whole.
            let mut message = Vec::with_capacity(id.len() + timestamp.len() + 2);
            message.extend_from_slice(id.as_bytes());
            message.push(b'.');
            message.extend_from_slice(timestamp.as_bytes());
            message.push(b'.');
            body.chunks()
                .for_each(|chunk| message.extend_from_slice(chunk));
            push_entry(&mut entries, "v1a", key.pair.sign(&message).as_ref());
        }
        (!entries.is_empty()).then_some(entries)
    }
}

/// Appends `version,<base64 of tag>` to a space-separated list.
fn push_entry(entries: &mut String, version: &str, tag: &[u8]) {
    if !entries.is_empty() {
        entries.push(' ');
    }
    entries.push_str(version);
    entries.push(',');
    STANDARD.encode_string(tag, entries);
}

/// `sha-256=:<base64>:` of the body (RFC 9530 §2: a Structured Field
/// dictionary whose value is a byte sequence).
pub(crate) fn content_digest(body: &Payload) -> HeaderValue {
    let mut ctx = digest::Context::new(&digest::SHA256);
    body.chunks().for_each(|chunk| ctx.update(chunk));
    let mut value = String::from("sha-256=:");
    STANDARD.encode_string(ctx.finish(), &mut value);
    value.push(':');
    HeaderValue::try_from(value).unwrap_or(HeaderValue::from_static(""))
}

/// The public key as the specification serializes it: `whpk_` and the
/// base64 of its 32 bytes (what the app is given to verify `v1a`).
pub(crate) fn public_key_text(pair: &Ed25519KeyPair) -> String {
    let mut text = String::from("whpk_");
    STANDARD.encode_string(pair.public_key().as_ref(), &mut text);
    text
}

/// The message id of a request forwarded now: the provider's signed event
/// id where the scheme has one (see [`id_from_event`]), else a fresh random
/// `msg_` id.
pub(crate) fn message_id(event_id: Option<&str>) -> String {
    match event_id.filter(|id| !id.is_empty()) {
        Some(id) => id_from_event(id),
        None => random_id(),
    }
}

/// The message id of a spooled record: the same on every attempt. The
/// provider's event id where there is one. Else the spool named the record
/// `hg_<spool id>` (its `X-Hookguard-Event-Id`), unique within one spool
/// only: two replicas' spools, or a spool made anew, count from 1 again,
/// and an app that de-duplicates on `webhook-id` would drop the second
/// `hg_1`. The arrival time in Unix milliseconds is added to tell them apart.
pub(crate) fn spool_message_id(event_id: &str, received_at_ms: i64, spool_id: u64) -> String {
    let spool_named = event_id
        .strip_prefix("hg_")
        .is_some_and(|n| n.parse() == Ok(spool_id));
    if spool_named {
        format!("hg_{spool_id}_{received_at_ms}")
    } else {
        id_from_event(event_id)
    }
}

/// A provider's event id as a message id: as it is when it is short visible
/// ASCII without `.`; else `msg_` and 32 hex digits of its SHA-256, which
/// is as stable across the provider's retries as the id itself. The
/// specification forbids `.` in ids: `{id}.{timestamp}.{body}` would
/// otherwise be ambiguous.
fn id_from_event(event_id: &str) -> String {
    let plain = !event_id.is_empty()
        && event_id.len() <= MAX_ID_LEN
        && event_id.bytes().all(|b| b.is_ascii_graphic() && b != b'.');
    if plain {
        return event_id.to_owned();
    }
    let hash = digest::digest(&digest::SHA256, event_id.as_bytes());
    msg_hex(&hash.as_ref()[..16])
}

/// `msg_` and 32 hex digits of system randomness.
fn random_id() -> String {
    let mut bytes = [0u8; 16];
    if ring::rand::SystemRandom::new().fill(&mut bytes).is_err() {
        // No system randomness: unique within this process at least.
        static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        bytes[..8].copy_from_slice(&crate::clock::unix_millis().to_be_bytes());
        bytes[8..].copy_from_slice(&n.to_be_bytes());
    }
    msg_hex(&bytes)
}

fn msg_hex(bytes: &[u8]) -> String {
    let mut id = String::with_capacity(4 + 2 * bytes.len());
    id.push_str("msg_");
    for b in bytes {
        let _ = write!(id, "{b:02x}");
    }
    id
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;

    /// The Standard Webhooks libraries' own test vector (the Rust and
    /// Python libraries' `test_sign`).
    const SECRET: &str = "C2FVsBQIhrscChlQIMV+b5sSYspob7oD";
    const ID: &str = "msg_27UH4WbU6Z5A5EzD8u03UvzRbpk";
    const TS: i64 = 1_649_367_553;
    const BODY: &[u8] = br#"{"email":"test@example.com","username":"test_user"}"#;
    const SIG: &str = "v1,tZ1I4/hDygAJgO5TYxiSd6Sd0kDW6hPenDe+bTa3Kkw=";

    fn secret(b64: &str, expires: Option<i64>) -> ReceiptSecret {
        let key = STANDARD.decode(b64).unwrap();
        ReceiptSecret {
            key: hmac::Key::new(hmac::HMAC_SHA256, &key),
            expires,
            origin: "literal".into(),
        }
    }

    fn in_frames(body: &[u8]) -> Payload {
        let mut payload = Payload::new();
        for chunk in body.chunks(5) {
            payload.push(Bytes::copy_from_slice(chunk));
        }
        payload
    }

    #[test]
    fn signs_the_specification_vector_whatever_the_frames() {
        let receipt = Receipt::new(vec![secret(SECRET, None)], None);
        for body in [Payload::from(Bytes::from_static(BODY)), in_frames(BODY)] {
            let mut headers = HeaderMap::new();
            receipt.apply(&mut headers, ID, TS, &body);
            assert_eq!(headers[WEBHOOK_SIGNATURE], SIG);
            assert_eq!(headers[WEBHOOK_ID], ID);
            assert_eq!(headers[WEBHOOK_TIMESTAMP], "1649367553");
        }
    }

    #[test]
    fn expired_secrets_sign_nothing_and_inbound_copies_are_replaced() {
        let receipt = Receipt::new(
            vec![secret(SECRET, Some(TS)), secret(SECRET, Some(TS + 1))],
            None,
        );
        let mut headers = HeaderMap::new();
        headers.insert(WEBHOOK_SIGNATURE, HeaderValue::from_static("v1,forged"));
        headers.insert(
            CONTENT_DIGEST,
            HeaderValue::from_static("sha-256=:forged=:"),
        );
        receipt.apply(
            &mut headers,
            ID,
            TS,
            &Payload::from(Bytes::from_static(BODY)),
        );
        assert_eq!(headers[WEBHOOK_SIGNATURE], SIG, "only the unexpired one");
        receipt.apply(&mut headers, ID, TS + 1, &Payload::new());
        assert!(
            !headers.contains_key(WEBHOOK_SIGNATURE),
            "all expired: none"
        );
        // SHA-256 of nothing.
        assert_eq!(
            headers[CONTENT_DIGEST],
            "sha-256=:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=:"
        );
    }

    #[test]
    fn ed25519_signs_the_same_content_after_the_hmac_entries() {
        let rng = ring::rand::SystemRandom::new();
        let pkcs8 = Ed25519KeyPair::generate_pkcs8(&rng).unwrap();
        let pair = Ed25519KeyPair::from_pkcs8(pkcs8.as_ref()).unwrap();
        let public = pair.public_key().as_ref().to_vec();
        let key = ReceiptKeyPair {
            pair,
            origin: "literal".into(),
        };
        let receipt = Receipt::new(vec![secret(SECRET, None)], Some(key));
        let mut headers = HeaderMap::new();
        receipt.apply(&mut headers, ID, TS, &in_frames(BODY));
        let value = headers[WEBHOOK_SIGNATURE].to_str().unwrap();
        let (v1, v1a) = value.split_once(' ').unwrap();
        assert_eq!(v1, SIG);
        let sig = STANDARD.decode(v1a.strip_prefix("v1a,").unwrap()).unwrap();
        let message = [format!("{ID}.{TS}.").as_bytes(), BODY].concat();
        ring::signature::UnparsedPublicKey::new(&ring::signature::ED25519, &public)
            .verify(&message, &sig)
            .unwrap();
    }

    #[test]
    fn message_ids() {
        assert_eq!(message_id(Some("evt_1")), "evt_1");
        let hashed = message_id(Some("a.b"));
        assert!(hashed.starts_with("msg_") && hashed.len() == 36, "{hashed}");
        assert_eq!(hashed, message_id(Some("a.b")), "stable");
        assert_ne!(message_id(Some("with space")), "with space");
        assert_ne!(message_id(None), message_id(None));
        assert_ne!(message_id(Some("")), message_id(Some("")));
        assert_eq!(spool_message_id("hg_7", 1_000, 7), "hg_7_1000");
        assert_eq!(spool_message_id("hg_7", 1_000, 8), "hg_7", "a provider's");
        assert_eq!(spool_message_id("evt_1", 1_000, 7), "evt_1");
    }
}
