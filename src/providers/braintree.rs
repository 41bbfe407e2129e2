//! Braintree webhooks: form fields `bt_signature` and `bt_payload` in the
//! body, and the legacy `GET ?bt_challenge=` verification.
//!
//! Owns reading the two fields (with `form_urlencoded`), the key pair a
//! route holds (`public_key:private_key`), matching the `public_key|hexsig`
//! pair of our public key, and `hookguard sign` for it.
//!
//! Facts (braintree/braintree_python `braintree/webhook_notification_gateway.py`
//! and `braintree/util/crypto.py`): `bt_signature` is
//! `public_key|hexsig[&public_key|hexsig...]`, the first pair of the
//! configured public key counts; `hexsig = hex(HMAC-SHA1(key =
//! SHA-1(private_key), bt_payload))`, and the payload with a `\n` appended
//! is accepted too; a payload with any character outside `[A-Za-z0-9+=/\n]`
//! is refused. The challenge `[a-f0-9]{20,32}` is answered with
//! `public_key|hex(HMAC-SHA1(SHA-1(private_key), challenge))`.

use std::borrow::Cow;
use std::time::Duration;

use http::Method;
use ring::hmac;

use super::common::{decode_signature, Sig};
use super::keys::is_active;
use super::{
    BuildError, Dedup, HandshakeReply, Inbound, ProviderInfo, ProviderParams, Rejection,
    SignRequest, SignatureEncoding, Verified, Verifier,
};
use crate::body::Payload;

/// HMAC-SHA1 tags are 20 bytes.
const TAG_LEN: usize = 20;

/// Most `public_key|signature` pairs read from one `bt_signature`.
const MAX_PAIRS: usize = 16;

/// The row of `hookguard providers` for Braintree.
pub(crate) fn info(name: &'static str) -> ProviderInfo {
    ProviderInfo {
        name,
        algorithm: "HMAC-SHA1 (key SHA-1(private_key))",
        headers:
            "none: form fields bt_signature=<public_key>|<hex>[&<public_key>|<hex>...], bt_payload"
                .into(),
        signed: "{bt_payload} (or {bt_payload}\\n)".into(),
        ..ProviderInfo::default()
    }
}

/// One configured key pair: the public key (not secret: it names the pair
/// in `bt_signature`) and the HMAC key derived from the private key.
struct KeyPair {
    public: String,
    key: hmac::Key,
    expires: Option<i64>,
}

/// Splits a secret `public_key:private_key` (the first colon separates).
fn split_pair(secret: &[u8]) -> Result<(&str, &[u8]), String> {
    let text =
        std::str::from_utf8(secret).map_err(|_| "the secret is not UTF-8 text".to_owned())?;
    match text.split_once(':') {
        Some((public, private)) if !public.is_empty() && !private.is_empty() => {
            if public
                .bytes()
                .any(|b| !b.is_ascii_graphic() || b == b'|' || b == b'&')
            {
                return Err(
                    "the public key (before the colon) must be printable ASCII without | or &"
                        .into(),
                );
            }
            Ok((public, private.as_bytes()))
        }
        _ => Err(
            "a Braintree secret is public_key:private_key (the API key pair), with both parts set"
                .into(),
        ),
    }
}

/// Braintree's HMAC key: SHA-1 of the private key, as raw 20 bytes.
fn derived_key(private: &[u8]) -> hmac::Key {
    let digest = ring::digest::digest(&ring::digest::SHA1_FOR_LEGACY_USE_ONLY, private);
    hmac::Key::new(hmac::HMAC_SHA1_FOR_LEGACY_USE_ONLY, digest.as_ref())
}

/// The two fields, from a form body; repeated fields are refused (an
/// application's form parser might read the other copy).
fn fields(body: &[u8]) -> Result<(Cow<'_, str>, Cow<'_, str>), Rejection> {
    let (mut signature, mut payload) = (None, None);
    for (k, v) in form_urlencoded::parse(body) {
        let slot = match k.as_ref() {
            "bt_signature" => &mut signature,
            "bt_payload" => &mut payload,
            _ => continue,
        };
        if slot.replace(v).is_some() {
            return Err(Rejection::InvalidSignature {
                detail: format!("form field {k:?} is repeated"),
            });
        }
    }
    let missing = |what: &str| Rejection::MissingSignature {
        detail: format!("form field {what:?} is absent or empty"),
    };
    let signature = signature
        .filter(|s| !s.is_empty())
        .ok_or_else(|| missing("bt_signature"))?;
    let payload = payload
        .filter(|s| !s.is_empty())
        .ok_or_else(|| missing("bt_payload"))?;
    Ok((signature, payload))
}

/// The SDK's charset rule: base64 text with `\n` line breaks only. And no
/// payload in the shape of a challenge: the challenge answer is the same
/// HMAC under the same key, so anyone could otherwise ask the route to sign
/// a payload of their choosing.
fn check_payload(payload: &str) -> Result<(), Rejection> {
    let allowed = |b: u8| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'=' | b'/' | b'\n');
    if !payload.bytes().all(allowed) {
        return Err(Rejection::InvalidSignature {
            detail: "bt_payload contains characters outside base64 and \\n".into(),
        });
    }
    if is_challenge(payload) {
        return Err(Rejection::InvalidSignature {
            detail: "bt_payload has the shape of a bt_challenge, whose answer anyone can get"
                .into(),
        });
    }
    Ok(())
}

/// Braintree's challenge shape: 20 to 32 lower-case hex digits.
fn is_challenge(text: &str) -> bool {
    (20..=32).contains(&text.len()) && text.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// The signature of the first pair naming `public`, if any.
fn signature_for<'s>(pairs: &[(&str, &'s str)], public: &str) -> Option<&'s str> {
    pairs.iter().find(|(p, _)| *p == public).map(|(_, s)| *s)
}

/// `public_key|signature` pairs; `&`-separated entries without `|` are
/// skipped, as the SDK does.
fn pairs(bt_signature: &str) -> Result<Vec<(&str, &str)>, Rejection> {
    let pairs: Vec<(&str, &str)> = bt_signature
        .split('&')
        .filter_map(|entry| entry.split_once('|'))
        .take(MAX_PAIRS + 1)
        .collect();
    if pairs.len() > MAX_PAIRS {
        return Err(Rejection::InvalidSignature {
            detail: format!("bt_signature lists more than {MAX_PAIRS} pairs"),
        });
    }
    Ok(pairs)
}

/// A built Braintree verifier.
pub(crate) struct BraintreeVerifier {
    provider: &'static str,
    pairs: Vec<KeyPair>,
}

impl BraintreeVerifier {
    /// Builds from the route's secrets, each `public_key:private_key`.
    pub(crate) fn build(
        provider: &'static str,
        params: ProviderParams<'_>,
    ) -> Result<Self, BuildError> {
        if params.secrets.is_empty() {
            return Err(BuildError {
                field: "secrets".into(),
                message: "no secret configured: the route would verify nothing".into(),
            });
        }
        let pairs = params
            .secrets
            .iter()
            .enumerate()
            .map(|(i, entry)| {
                let (public, private) =
                    split_pair(entry.value.expose()).map_err(|message| BuildError {
                        field: format!("secrets[{i}]"),
                        message,
                    })?;
                Ok(KeyPair {
                    public: public.to_owned(),
                    key: derived_key(private),
                    expires: entry.expires,
                })
            })
            .collect::<Result<_, _>>()?;
        Ok(Self { provider, pairs })
    }

    fn active(&self, now_ms: i64) -> impl Iterator<Item = (usize, &KeyPair)> {
        self.pairs
            .iter()
            .enumerate()
            .filter(move |(_, p)| is_active(p.expires, now_ms))
    }

    /// The legacy verification answer, keyed with the first unexpired pair.
    fn answer_challenge(&self, req: &Inbound<'_>) -> Result<HandshakeReply, Rejection> {
        let challenge = req
            .uri
            .query()
            .and_then(|q| {
                form_urlencoded::parse(q.as_bytes())
                    .find(|(k, _)| k == "bt_challenge")
                    .map(|(_, v)| v)
            })
            .ok_or_else(|| Rejection::MissingSignature {
                detail: "challenge GET without query parameter \"bt_challenge\"".into(),
            })?;
        let hex_ok = challenge
            .bytes()
            .all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'));
        if !(20..=32).contains(&challenge.len()) || !hex_ok {
            return Err(Rejection::InvalidSignature {
                detail: "bt_challenge is not 20 to 32 lower-case hex digits".into(),
            });
        }
        let (_, pair) =
            self.active(req.now_ms)
                .next()
                .ok_or_else(|| Rejection::InvalidSignature {
                    detail: "bt_challenge: no unexpired secret to answer with".into(),
                })?;
        let tag = hmac::sign(&pair.key, challenge.as_bytes());
        Ok(HandshakeReply {
            status: 200,
            content_type: "text/plain",
            body: format!("{}|{}", pair.public, hex::encode(tag.as_ref())).into_bytes(),
            headers: Vec::new(),
            note: None,
        })
    }
}

/// Whether `sig` is the HMAC of the payload, or of the payload and `\n`.
fn payload_matches(key: &hmac::Key, payload: &[u8], sig: &Sig) -> bool {
    let with_newline = [payload, b"\n"].concat();
    // Both are computed, so the time does not say which form matched.
    let plain = hmac::verify(key, payload, sig.bytes()).is_ok();
    let newline = hmac::verify(key, &with_newline, sig.bytes()).is_ok();
    // `^` would do as well (a surviving mutant, equivalent): both holding
    // would take one HMAC-SHA1 tag for two different messages.
    plain | newline
}

impl Verifier for BraintreeVerifier {
    fn provider(&self) -> &str {
        self.provider
    }

    fn tolerance(&self) -> Option<Duration> {
        None
    }

    fn extra_methods(&self) -> &'static [Method] {
        // `Method::default()` is GET too, so a mutant returning
        // `[Default::default()]` survives as an equivalent.
        &[Method::GET]
    }

    /// The legacy `GET ?bt_challenge=`; every other request is an event.
    fn challenge(&self, req: &Inbound<'_>) -> Option<Result<HandshakeReply, Rejection>> {
        (req.method == Method::GET).then(|| self.answer_challenge(req))
    }

    /// Nothing in the head: the fields are in the body.
    fn precheck(&self, _req: &Inbound<'_>) -> Result<(), Rejection> {
        Ok(())
    }

    fn verify(&self, req: &Inbound<'_>, body: &Payload) -> Result<Verified, Rejection> {
        let body = body.contiguous();
        let (bt_signature, payload) = fields(&body)?;
        check_payload(&payload)?;
        let pairs = pairs(&bt_signature)?;
        let mut tried = 0;
        for (index, pair) in self.active(req.now_ms) {
            let Some(text) = signature_for(&pairs, &pair.public) else {
                continue;
            };
            tried += 1;
            let sig = decode_signature(text.as_bytes(), SignatureEncoding::Hex, TAG_LEN).map_err(
                |why| Rejection::InvalidSignature {
                    detail: format!("bt_signature: {why}"),
                },
            )?;
            if payload_matches(&pair.key, payload.as_bytes(), &sig) {
                return Ok(Verified {
                    secret_index: index,
                    event_id: None,
                    // Deterministic, and only the first pair of a public key
                    // counts: one signature per delivery.
                    dedup: Dedup::Signature(sig.bytes().to_vec()),
                });
            }
        }
        Err(Rejection::InvalidSignature {
            detail: if tried == 0 {
                format!(
                    "bt_signature names none of the {} unexpired public keys",
                    self.active(req.now_ms).count()
                )
            } else {
                format!("signature does not match ({tried} public keys tried)")
            },
        })
    }
}

/// `hookguard sign` for Braintree: the `bt_signature` field for the
/// `bt_payload` text in `req.body`, with `secret` = `public_key:private_key`.
pub(crate) fn sign(
    secret: &[u8],
    req: &SignRequest<'_>,
) -> Result<Vec<(String, String)>, BuildError> {
    let (public, private) = split_pair(secret).map_err(|message| BuildError {
        field: "secret".into(),
        message,
    })?;
    let tag = hmac::sign(&derived_key(private), req.body);
    Ok(vec![(
        "bt_signature".into(),
        format!("{public}|{}", hex::encode(tag.as_ref())),
    )])
}

#[cfg(test)]
#[path = "braintree_tests.rs"]
mod tests;
