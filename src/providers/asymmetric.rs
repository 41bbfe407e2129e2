//! Family: public-key signatures — the provider signs with a private key and
//! routes hold only the public key (`public_keys`).
//!
//! Owns Discord (Ed25519 over `{timestamp}{body}`, plus its PING handshake),
//! SendGrid (ECDSA P-256/SHA-256 over `{timestamp}{body}`), Telnyx (Ed25519
//! over `{timestamp}|{body}`) and Standard Webhooks `v1a` (Ed25519 over
//! `{id}.{timestamp}.{body}`): public-key
//! decoding, the verify loops over active keys, and `hookguard sign` from a
//! private key. Verification is `ring::signature` only.
//!
//! `{timestamp}{body}` has no separator: with digits before a JSON body,
//! moving a digit across the boundary changes the timestamp tenfold, which
//! the window refuses (every scheme here has one; SendGrid documents none
//! and gets the 5-minute default). The replay key, a hash of the signed
//! bytes, is the same for every split anyway. A `v1a` id is kept
//! free of `.` as Standard Webhooks requires (`delimit.rs`).

use std::time::Duration;

use base64::Engine;
use http::{HeaderMap, HeaderName};
use ring::digest;
use ring::rand::SystemRandom;
use ring::signature::{self, EcdsaKeyPair, Ed25519KeyPair, UnparsedPublicKey};

use super::common::{
    header_bytes, header_name, id_text, Part, TimestampFormat, Tolerance, ToleranceSpec,
    BASE64_LENIENT, MAX_CANDIDATES,
};
use super::delimit;
use super::keys::{is_active, no_match_detail, PUBLIC_KEY};
use super::{
    BuildError, Dedup, HandshakeReply, Inbound, ProviderInfo, ProviderParams, Rejection,
    SignRequest, Verified, Verifier,
};
use crate::body::Payload;

/// Which public-key scheme a provider uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum AsymScheme {
    /// Ed25519, hex signature and hex public key; PING handshake.
    Discord,
    /// ECDSA P-256 SHA-256, base64 DER signature, base64 DER SPKI key.
    SendGrid,
    /// Standard Webhooks `v1a` entries, `whpk_` base64 public key.
    StandardWebhooksEd25519,
    /// Ed25519 over `{timestamp}|{body}`, base64 signature and base64
    /// public key (telnyx-node `src/Webhooks.ts`).
    Telnyx,
}

/// DER prefix of a P-256 SubjectPublicKeyInfo (id-ecPublicKey, prime256v1,
/// BIT STRING of 66 bytes); the uncompressed point follows.
const P256_SPKI_PREFIX: [u8; 26] = [
    0x30, 0x59, 0x30, 0x13, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01, 0x06, 0x08, 0x2a,
    0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07, 0x03, 0x42, 0x00,
];

/// Largest DER ECDSA P-256 signature (2 × 33-byte INTEGER + headers) is 72
/// bytes; anything much longer is refused before decoding.
const MAX_SIG_TEXT: usize = 256;

/// Every scheme here signs a timestamp: 5 minutes by default. Standard
/// Webhooks prescribes it; Discord's SDK checks no window, but Discord
/// answers interactions within seconds, so a wider window only helps
/// replays; SendGrid documents none, and a window nobody set would be no
/// window at all (a route may widen it with `tolerance`).
const FIVE_MINUTES: ToleranceSpec = ToleranceSpec { default_secs: 300 };

struct Names {
    signature: &'static str,
    timestamp: &'static str,
    id: Option<&'static str>,
}

impl AsymScheme {
    fn names(self) -> Names {
        match self {
            Self::Discord => Names {
                signature: "x-signature-ed25519",
                timestamp: "x-signature-timestamp",
                id: None,
            },
            Self::SendGrid => Names {
                signature: "x-twilio-email-event-webhook-signature",
                timestamp: "x-twilio-email-event-webhook-timestamp",
                id: None,
            },
            Self::StandardWebhooksEd25519 => Names {
                signature: "webhook-signature",
                timestamp: "webhook-timestamp",
                id: Some("webhook-id"),
            },
            Self::Telnyx => Names {
                signature: "telnyx-signature-ed25519",
                timestamp: "telnyx-timestamp",
                id: None,
            },
        }
    }

    /// The row of `hookguard providers` for this scheme.
    pub(crate) fn info(self, name: &'static str) -> ProviderInfo {
        let n = self.names();
        let (algorithm, headers, signed) = match self {
            Self::Discord => (
                "Ed25519",
                format!("{}: <hex>, {}: <unix s>", n.signature, n.timestamp),
                "{timestamp}{body}",
            ),
            Self::SendGrid => (
                "ECDSA P-256 SHA-256",
                format!("{}: <base64 DER>, {}: <unix s>", n.signature, n.timestamp),
                "{timestamp}{body}",
            ),
            Self::StandardWebhooksEd25519 => (
                "Ed25519",
                format!(
                    "webhook-id: <id>, {}: <unix s>, {}: v1a,<base64>[ v1a,<base64>...]",
                    n.timestamp, n.signature
                ),
                "{id}.{timestamp}.{body}",
            ),
            Self::Telnyx => (
                "Ed25519",
                format!("{}: <base64>, {}: <unix s>", n.signature, n.timestamp),
                "{timestamp}|{body}",
            ),
        };
        ProviderInfo {
            name,
            algorithm,
            headers,
            signed: signed.into(),
            tolerance: super::common::tolerance_text(Some(FIVE_MINUTES)),
            ..ProviderInfo::default()
        }
    }

    fn algorithm(self) -> &'static dyn signature::VerificationAlgorithm {
        match self {
            Self::Discord | Self::StandardWebhooksEd25519 | Self::Telnyx => &signature::ED25519,
            Self::SendGrid => &signature::ECDSA_P256_SHA256_ASN1,
        }
    }

    /// Public key text as the provider's dashboard shows it → raw key bytes.
    fn decode_public_key(self, text: &[u8]) -> Result<Vec<u8>, String> {
        match self {
            Self::Discord => {
                let key = hex::decode(text)
                    .map_err(|_| "expected the application's public key as hex".to_owned())?;
                ed25519_len(key)
            }
            Self::StandardWebhooksEd25519 => {
                let b64 = text.strip_prefix(b"whpk_").unwrap_or(text);
                let key = BASE64_LENIENT
                    .decode(b64)
                    .map_err(|_| "expected \"whpk_\" followed by base64".to_owned())?;
                ed25519_len(key)
            }
            Self::Telnyx => {
                let key = BASE64_LENIENT
                    .decode(text)
                    .map_err(|_| "expected the public key as base64".to_owned())?;
                ed25519_len(key)
            }
            Self::SendGrid => {
                let der = BASE64_LENIENT
                    .decode(text)
                    .map_err(|_| "expected the verification key as base64 DER".to_owned())?;
                match der.strip_prefix(&P256_SPKI_PREFIX[..]) {
                    Some(point) if point.len() == 65 && point[0] == 0x04 => Ok(point.to_vec()),
                    _ => Err("not a P-256 SubjectPublicKeyInfo (uncompressed point)".into()),
                }
            }
        }
    }
}

fn ed25519_len(key: Vec<u8>) -> Result<Vec<u8>, String> {
    if key.len() == 32 {
        Ok(key)
    } else {
        Err(format!(
            "Ed25519 public key is {} bytes, expected 32",
            key.len()
        ))
    }
}

// === impl AsymVerifier ===

/// A built public-key verifier: keys decoded at start-up, in `public_keys`
/// order (the index is `Verified.secret_index`).
pub(crate) struct AsymVerifier {
    provider: &'static str,
    scheme: AsymScheme,
    keys: Vec<(UnparsedPublicKey<Vec<u8>>, Option<i64>)>,
    signature: HeaderName,
    timestamp: HeaderName,
    id: Option<HeaderName>,
    /// Bytes the id must not contain: `v1a` signs Standard Webhooks'
    /// `{id}.{timestamp}.{body}`, so `.`.
    id_forbidden: Box<[u8]>,
    tolerance: Tolerance,
}

/// The head of one request: candidate signatures, timestamp, id.
struct Head<'h> {
    sigs: Vec<Vec<u8>>,
    timestamp: &'h [u8],
    id: Option<&'h str>,
}

impl AsymVerifier {
    /// Builds from a catalog entry and the route's `public_keys`.
    pub(crate) fn build(
        provider: &'static str,
        scheme: AsymScheme,
        params: ProviderParams<'_>,
    ) -> Result<Self, BuildError> {
        if !params.secrets.is_empty() {
            return Err(BuildError {
                field: "secrets".into(),
                message: format!("provider {provider:?} verifies with `public_key`, not secrets"),
            });
        }
        if params.public_keys.is_empty() {
            return Err(BuildError {
                field: "public_keys".into(),
                message: "no public key configured: the route would verify nothing".into(),
            });
        }
        let keys = params
            .public_keys
            .iter()
            .enumerate()
            .map(|(i, entry)| {
                let bytes = scheme
                    .decode_public_key(entry.value.expose().trim_ascii())
                    .map_err(|message| BuildError {
                        field: format!("public_keys[{i}]"),
                        message,
                    })?;
                Ok((
                    UnparsedPublicKey::new(scheme.algorithm(), bytes),
                    entry.expires,
                ))
            })
            .collect::<Result<_, BuildError>>()?;
        let n = scheme.names();
        Ok(Self {
            provider,
            scheme,
            keys,
            signature: header_name("provider", n.signature)?,
            timestamp: header_name("provider", n.timestamp)?,
            id: n.id.map(|h| header_name("provider", h)).transpose()?,
            id_forbidden: delimit::forbidden_bytes(
                super::standard_webhooks::SIGNED,
                &Part::Id,
                None,
            )
            .into(),
            tolerance: Tolerance::new(FIVE_MINUTES, params.tolerance),
        })
    }

    fn head<'h>(&self, headers: &'h HeaderMap) -> Result<Head<'h>, Rejection> {
        let raw = header_bytes(headers, &self.signature)?;
        let timestamp = header_bytes(headers, &self.timestamp)?;
        let id = match &self.id {
            Some(name) => {
                let id = id_text(name, header_bytes(headers, name)?)?;
                delimit::check(name, id.as_bytes(), &self.id_forbidden)?;
                Some(id)
            }
            None => None,
        };
        let invalid = |why: &str| Rejection::InvalidSignature {
            detail: format!("header {:?}: {why}", self.signature),
        };
        let sigs = match self.scheme {
            AsymScheme::Discord => match hex::decode(raw) {
                Ok(sig) if sig.len() == 64 => vec![sig],
                _ => return Err(invalid("expected 128 hex characters")),
            },
            AsymScheme::Telnyx => match BASE64_LENIENT.decode(raw) {
                Ok(sig) if sig.len() == 64 => vec![sig],
                _ => return Err(invalid("expected a base64 Ed25519 signature (64 bytes)")),
            },
            AsymScheme::SendGrid => {
                if raw.len() > MAX_SIG_TEXT {
                    return Err(invalid("too long for a P-256 signature"));
                }
                vec![BASE64_LENIENT
                    .decode(raw)
                    .map_err(|_| invalid("expected base64"))?]
            }
            AsymScheme::StandardWebhooksEd25519 => {
                let mut sigs = Vec::new();
                for entry in raw.split(u8::is_ascii_whitespace).filter(|e| !e.is_empty()) {
                    let Some(value) = entry.strip_prefix(b"v1a,") else {
                        continue; // v1 (HMAC) and future versions are skipped
                    };
                    if sigs.len() == MAX_CANDIDATES {
                        return Err(invalid("too many v1a signatures"));
                    }
                    match BASE64_LENIENT.decode(value) {
                        Ok(sig) if sig.len() == 64 => sigs.push(sig),
                        _ => {}
                    }
                }
                if sigs.is_empty() {
                    return Err(invalid("no usable v1a signature"));
                }
                sigs
            }
        };
        Ok(Head {
            sigs,
            timestamp,
            id,
        })
    }

    fn check_time(&self, ts: &[u8], now_ms: i64) -> Result<(), Rejection> {
        let format = TimestampFormat::UnixSeconds;
        self.tolerance.check(&self.timestamp, ts, format, now_ms)
    }
}

/// The exact bytes each scheme signs.
fn message(scheme: AsymScheme, id: &[u8], ts: &[u8], body: &[u8]) -> Vec<u8> {
    match scheme {
        AsymScheme::Discord | AsymScheme::SendGrid => [ts, body].concat(),
        AsymScheme::StandardWebhooksEd25519 => [id, b".", ts, b".", body].concat(),
        AsymScheme::Telnyx => [ts, b"|", body].concat(),
    }
}

impl Verifier for AsymVerifier {
    fn provider(&self) -> &str {
        self.provider
    }

    fn tolerance(&self) -> Option<Duration> {
        Some(self.tolerance.window())
    }

    fn precheck(&self, req: &Inbound<'_>) -> Result<(), Rejection> {
        let head = self.head(req.headers)?;
        self.check_time(head.timestamp, req.now_ms)
    }

    fn verify(&self, req: &Inbound<'_>, body: &Payload) -> Result<Verified, Rejection> {
        let head = self.head(req.headers)?;
        let id = head.id.unwrap_or("");
        let msg = message(
            self.scheme,
            id.as_bytes(),
            head.timestamp,
            &body.contiguous(),
        );
        let mut found = None;
        for (i, (key, expires)) in self.keys.iter().enumerate() {
            if !is_active(*expires, req.now_ms) {
                continue;
            }
            if head.sigs.iter().any(|s| key.verify(&msg, s).is_ok()) {
                found = Some(i);
                break;
            }
        }
        let Some(secret_index) = found else {
            let detail = no_match_detail(
                "signature does not verify",
                PUBLIC_KEY,
                self.keys.iter().map(|(_, expires)| *expires),
                req.now_ms,
                Some(head.sigs.len()),
            );
            return Err(Rejection::InvalidSignature { detail });
        };
        self.check_time(head.timestamp, req.now_ms)?;
        Ok(Verified {
            secret_index,
            event_id: head.id.map(str::to_owned),
            dedup: match head.id {
                Some(id) => Dedup::SignedId(id.to_owned()),
                // ECDSA signatures are malleable: key on what was signed.
                None => Dedup::Signature(digest::digest(&digest::SHA256, &msg).as_ref().to_vec()),
            },
        })
    }

    fn handshake(&self, _req: &Inbound<'_>, body: &Payload) -> Option<HandshakeReply> {
        if self.scheme != AsymScheme::Discord {
            return None;
        }
        let value: serde_json::Value = serde_json::from_slice(&body.contiguous()).ok()?;
        (value.get("type")? == 1).then(|| HandshakeReply {
            status: 200,
            content_type: "application/json",
            body: br#"{"type":1}"#.to_vec(),
            headers: Vec::new(),
            note: None,
        })
    }
}

/// Private key text → Ed25519 key pair: 32-byte seed as hex or base64
/// (optionally `whsk_`), or a 64-byte libsodium secret key (seed first).
fn ed25519_private(secret: &[u8]) -> Result<Ed25519KeyPair, BuildError> {
    let text = secret.trim_ascii();
    let text = text.strip_prefix(b"whsk_").unwrap_or(text);
    let bytes = match hex::decode(text) {
        Ok(b) if b.len() == 32 => b,
        _ => BASE64_LENIENT.decode(text).unwrap_or_default(),
    };
    let seed = match bytes.len() {
        32 | 64 => &bytes[..32],
        _ => {
            return Err(BuildError {
                field: "secret".into(),
                message: "expected an Ed25519 seed: 32 bytes as hex or base64".into(),
            })
        }
    };
    Ed25519KeyPair::from_seed_unchecked(seed).map_err(|_| BuildError {
        field: "secret".into(),
        message: "not a usable Ed25519 seed".into(),
    })
}

/// The headers `hookguard sign` prints; `secret` is the private key (see
/// [`ed25519_private`]; SendGrid: PKCS#8 DER, base64).
pub(crate) fn sign(
    scheme: AsymScheme,
    secret: &[u8],
    req: &SignRequest<'_>,
) -> Result<Vec<(String, String)>, BuildError> {
    let ts = req.timestamp.to_string();
    let id = req.id.unwrap_or("");
    if scheme == AsymScheme::StandardWebhooksEd25519 && id.is_empty() {
        return Err(BuildError {
            field: "id".into(),
            message: "Standard Webhooks signs a message id: give one".into(),
        });
    }
    let msg = message(scheme, id.as_bytes(), ts.as_bytes(), req.body);
    let b64 = |b: &[u8]| base64::engine::general_purpose::STANDARD.encode(b);
    let n = scheme.names();
    let sig = match scheme {
        AsymScheme::Discord => hex::encode(ed25519_private(secret)?.sign(&msg)),
        AsymScheme::Telnyx => b64(ed25519_private(secret)?.sign(&msg).as_ref()),
        AsymScheme::StandardWebhooksEd25519 => {
            format!("v1a,{}", b64(ed25519_private(secret)?.sign(&msg).as_ref()))
        }
        AsymScheme::SendGrid => {
            let bad = |_| BuildError {
                field: "secret".into(),
                message: "expected a P-256 private key as base64 PKCS#8 DER".into(),
            };
            let der = BASE64_LENIENT
                .decode(secret.trim_ascii())
                .map_err(|_| bad(()))?;
            let rng = SystemRandom::new();
            let pair =
                EcdsaKeyPair::from_pkcs8(&signature::ECDSA_P256_SHA256_ASN1_SIGNING, &der, &rng)
                    .map_err(|_| bad(()))?;
            b64(pair.sign(&rng, &msg).map_err(|_| bad(()))?.as_ref())
        }
    };
    let mut out = vec![(n.signature.to_owned(), sig), (n.timestamp.to_owned(), ts)];
    if let Some(h) = n.id {
        out.push((h.to_owned(), id.to_owned()));
    }
    Ok(out)
}

#[cfg(test)]
#[path = "asymmetric_tests.rs"]
mod tests;
