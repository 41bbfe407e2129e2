//! Family: fal.ai webhooks — Ed25519 over the request's ids, its timestamp
//! and the body's SHA-256, checked with every Ed25519 key of fal's JWKS,
//! fetched and cached by the key store.
//!
//! Facts (fal docs, "Webhooks" → "Verifying Your Webhook",
//! docs.fal.ai/model-endpoints/webhooks):
//! - headers `x-fal-webhook-request-id`, `x-fal-webhook-user-id`,
//!   `x-fal-webhook-timestamp` (Unix seconds) and `x-fal-webhook-signature`
//!   (hex of a 64-byte Ed25519 signature);
//! - signed: `request_id \n user_id \n timestamp \n hex(sha256(body))`;
//! - keys: the OKP/Ed25519 keys (`x`, base64url) of the JWKS at
//!   `https://rest.alpha.fal.ai/.well-known/jwks.json`, each tried in turn
//!   (the request names no key id);
//! - the timestamp within five minutes of now.
//!
//! The signature binds the request id, the user id, the time and the body,
//! so the replay key is the (signed) request id with the body's hash: a
//! copy is a duplicate, another signed body for the same request is not.

use std::any::Any;
use std::sync::Arc;
use std::time::Duration;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use http::HeaderName;
use ring::digest;
use ring::signature::{UnparsedPublicKey, ED25519};
use serde::Deserialize;

use super::common::{header_bytes, id_text, TimestampFormat, Tolerance, ToleranceSpec};
use super::fetched::{FetchedKey, KeyMaterial};
use super::jwks::MAX_KEYS;
use super::params::{FetchParams, FetchSetting};
use super::{
    BuildError, Dedup, Inbound, KeyRef, KeyRequest, ProviderInfo, ProviderParams, Rejection,
    Verified, Verifier,
};
use crate::body::Payload;

/// fal's signing keys.
pub(crate) const FAL_JWKS: &str = "https://rest.alpha.fal.ai/.well-known/jwks.json";

/// fal's documented window: five minutes, both ways here.
pub(crate) const FIVE_MINUTES: ToleranceSpec = ToleranceSpec { default_secs: 300 };

const REQUEST_ID: HeaderName = HeaderName::from_static("x-fal-webhook-request-id");
const USER_ID: HeaderName = HeaderName::from_static("x-fal-webhook-user-id");
const TIMESTAMP: HeaderName = HeaderName::from_static("x-fal-webhook-timestamp");
const SIGNATURE: HeaderName = HeaderName::from_static("x-fal-webhook-signature");

/// The Ed25519 keys of a fetched fal JWKS, raw 32-byte public keys.
struct FalKeys(Vec<[u8; 32]>);

impl KeyMaterial for FalKeys {
    fn as_any(&self) -> &dyn Any {
        self
    }
}

/// The JWK fields read: other members and other key types are ignored.
#[derive(Deserialize)]
struct Jwk {
    kty: Option<String>,
    crv: Option<String>,
    x: Option<String>,
}

#[derive(Deserialize)]
struct Jwks {
    keys: Vec<Jwk>,
}

/// [`ParseKey`](super::ParseKey) for fal's JWKS: its OKP Ed25519 keys; a
/// set without one is refused (nothing could verify).
fn parse_fal_jwks(bytes: &[u8]) -> Result<FetchedKey, String> {
    let set: Jwks = serde_json::from_slice(bytes).map_err(|_| "not a JWKS document".to_owned())?;
    if set.keys.len() > MAX_KEYS {
        return Err(format!("{} keys, at most {MAX_KEYS}", set.keys.len()));
    }
    let keys: Vec<[u8; 32]> = set
        .keys
        .iter()
        .filter(|k| k.kty.as_deref() == Some("OKP") && k.crv.as_deref() == Some("Ed25519"))
        .filter_map(|k| {
            URL_SAFE_NO_PAD
                .decode(k.x.as_deref()?)
                .ok()?
                .try_into()
                .ok()
        })
        .collect();
    if keys.is_empty() {
        return Err("the JWKS holds no Ed25519 key".into());
    }
    Ok(Arc::new(FalKeys(keys)))
}

/// The four headers of a delivery, read and checked for form.
struct Head<'h> {
    request_id: &'h str,
    user_id: &'h str,
    timestamp: &'h [u8],
    signature: [u8; 64],
}

/// A built fal verifier: where the keys come from, and the window.
pub(crate) struct FalVerifier {
    provider: &'static str,
    jwks_url: String,
    tolerance: Tolerance,
}

impl FalVerifier {
    /// Builds from `[route.keys] url` (else fal's JWKS) and the route's
    /// `tolerance` (else five minutes).
    pub(crate) fn build(
        provider: &'static str,
        params: ProviderParams<'_>,
    ) -> Result<Self, BuildError> {
        let fetch = FetchParams::read_by(params.fetch, provider, &[FetchSetting::Url])?;
        Ok(Self {
            provider,
            jwks_url: fetch.url.unwrap_or_else(|| FAL_JWKS.to_owned()),
            tolerance: Tolerance::new(FIVE_MINUTES, params.tolerance),
        })
    }

    fn head<'h>(&self, req: &Inbound<'h>) -> Result<Head<'h>, Rejection> {
        let request_id = id_text(&REQUEST_ID, header_bytes(req.headers, &REQUEST_ID)?)?;
        let user_id = id_text(&USER_ID, header_bytes(req.headers, &USER_ID)?)?;
        let timestamp = header_bytes(req.headers, &TIMESTAMP)?;
        let raw = header_bytes(req.headers, &SIGNATURE)?;
        let signature = hex::decode(raw)
            .ok()
            .and_then(|s| <[u8; 64]>::try_from(s).ok())
            .ok_or_else(|| Rejection::InvalidSignature {
                detail: format!("header {SIGNATURE:?}: expected 128 hex characters"),
            })?;
        Ok(Head {
            request_id,
            user_id,
            timestamp,
            signature,
        })
    }

    fn check_time(&self, head: &Head<'_>, now_ms: i64) -> Result<(), Rejection> {
        let format = TimestampFormat::UnixSeconds;
        self.tolerance
            .check(&TIMESTAMP, head.timestamp, format, now_ms)
    }
}

/// The hex SHA-256 of the exact body, as fal signs it.
fn body_sha256_hex(body: &Payload) -> String {
    let mut ctx = digest::Context::new(&digest::SHA256);
    body.chunks().for_each(|c| ctx.update(c));
    hex::encode(ctx.finish())
}

/// The signed message: `request_id \n user_id \n timestamp \n body hash`.
fn message(head: &Head<'_>, body_hex: &str) -> Vec<u8> {
    [
        head.request_id.as_bytes(),
        head.user_id.as_bytes(),
        head.timestamp,
        body_hex.as_bytes(),
    ]
    .join(&b'\n')
}

impl Verifier for FalVerifier {
    fn provider(&self) -> &str {
        self.provider
    }

    fn tolerance(&self) -> Option<Duration> {
        Some(self.tolerance.window())
    }

    fn precheck(&self, req: &Inbound<'_>) -> Result<(), Rejection> {
        let head = self.head(req)?;
        self.check_time(&head, req.now_ms)
    }

    fn key_needed(&self, _req: &Inbound<'_>, _body: &Payload) -> Result<Option<KeyRef>, Rejection> {
        Ok(Some(KeyRef {
            url: self.jwks_url.clone(),
            key_id: None,
            parse: parse_fal_jwks,
            request: KeyRequest::Get,
        }))
    }

    fn key_rule(&self) -> Option<String> {
        Some(format!("JWKS {} (every Ed25519 key)", self.jwks_url))
    }

    fn verify(&self, req: &Inbound<'_>, body: &Payload) -> Result<Verified, Rejection> {
        let Some(FalKeys(keys)) = req.key.and_then(|k| k.as_any().downcast_ref::<FalKeys>()) else {
            return Err(Rejection::InvalidSignature {
                detail: "no JWKS was fetched for this request".into(),
            });
        };
        let head = self.head(req)?;
        let body_hex = body_sha256_hex(body);
        let msg = message(&head, &body_hex);
        let found = keys.iter().position(|key| {
            UnparsedPublicKey::new(&ED25519, key)
                .verify(&msg, &head.signature)
                .is_ok()
        });
        let Some(secret_index) = found else {
            return Err(Rejection::InvalidSignature {
                detail: format!(
                    "signature does not verify with any of the {} Ed25519 keys of the JWKS",
                    keys.len()
                ),
            });
        };
        self.check_time(&head, req.now_ms)?;
        Ok(Verified {
            secret_index,
            event_id: Some(head.request_id.to_owned()),
            dedup: Dedup::SignedId(format!("{}/{body_hex}", head.request_id)),
        })
    }
}

/// The row of `hookguard providers`.
pub(crate) fn info(name: &'static str) -> ProviderInfo {
    ProviderInfo {
        name,
        algorithm: "Ed25519, fal's fetched JWKS",
        headers: "x-fal-webhook-request-id, x-fal-webhook-user-id, x-fal-webhook-timestamp, \
                  x-fal-webhook-signature (hex)"
            .into(),
        signed: "{request_id}\\n{user_id}\\n{timestamp}\\n{hex(sha256(body))}".into(),
        ..ProviderInfo::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::providers::testutil::inbound;
    use crate::providers::FetchParams;
    use http::{HeaderMap, Method, Uri};

    // The fal.ai vector: seed 00..1f, ids req_123/user_456, ts 1700000000.
    const JWKS: &str = r#"{"keys":[{"kty":"OKP","crv":"Ed25519","x":"A6EHv_POEL4dcN0Y50vAmWfk1jCbpQ1fHdyGZBJVMbg"}]}"#;
    const BODY: &[u8] = br#"{"request_id":"req_123","status":"OK","payload":{}}"#;
    const SIG: &str = "7d60bb4d249bc1d262bef01005f6e7c241286d606b28a4c4930d93452c95ecbf\
                       8360a3452203d5f405128a78e6602715d68570b2dda3c8468ee7a80267cc0d03";
    const NOW_MS: i64 = 1_700_000_000_000;

    fn verifier(fetch: Option<&FetchParams>) -> Result<FalVerifier, BuildError> {
        let params = ProviderParams {
            fetch,
            ..ProviderParams::default()
        };
        FalVerifier::build("fal", params)
    }

    fn headers(sig: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (name, value) in [
            (REQUEST_ID, "req_123"),
            (USER_ID, "user_456"),
            (TIMESTAMP, "1700000000"),
            (SIGNATURE, sig),
        ] {
            h.insert(name, value.parse().unwrap());
        }
        h
    }

    fn check(headers: &HeaderMap, body: &[u8], now_ms: i64) -> Result<Verified, Rejection> {
        let v = verifier(None).unwrap();
        let key = parse_fal_jwks(JWKS.as_bytes()).unwrap();
        let (method, uri) = (Method::POST, Uri::from_static("/fal"));
        let req = Inbound {
            now_ms,
            key: Some(&key),
            ..inbound(&method, &uri, headers)
        };
        v.precheck(&req)?;
        v.verify(&req, &Payload::from(body))
    }

    #[test]
    fn the_published_vector_verifies_and_keys_on_the_request_id() {
        let ok = check(&headers(SIG), BODY, NOW_MS).unwrap();
        assert_eq!(ok.event_id.as_deref(), Some("req_123"));
        assert!(matches!(ok.dedup, Dedup::SignedId(id) if id.starts_with("req_123/75b34e00")));
    }

    #[test]
    fn tampering_and_time_are_refused() {
        let code = |r: Result<Verified, Rejection>| r.err().map(|e| e.code());
        assert_eq!(
            code(check(&headers(SIG), b"{}", NOW_MS)),
            Some("invalid_signature")
        );
        let mut other_user = headers(SIG);
        other_user.insert(USER_ID, "user_457".parse().unwrap());
        assert_eq!(
            code(check(&other_user, BODY, NOW_MS)),
            Some("invalid_signature")
        );
        assert_eq!(
            code(check(&headers(&SIG[..126]), BODY, NOW_MS)),
            Some("invalid_signature")
        );
        for skew in [-301_000, 301_000] {
            assert_eq!(
                code(check(&headers(SIG), BODY, NOW_MS + skew)),
                Some("timestamp_out_of_tolerance"),
                "{skew}"
            );
        }
        assert!(check(&headers(SIG), BODY, NOW_MS + 299_000).is_ok());
    }

    #[test]
    fn the_jwks_needs_an_ed25519_key() {
        assert!(parse_fal_jwks(JWKS.as_bytes()).is_ok());
        for bad in [
            r#"{"keys":[]}"#,
            r#"{"keys":[{"kty":"OKP","crv":"X25519","x":"A6EHv_POEL4dcN0Y50vAmWfk1jCbpQ1fHdyGZBJVMbg"}]}"#,
            r#"{"keys":[{"kty":"OKP","crv":"Ed25519","x":"AAAA"}]}"#,
            "not json",
        ] {
            assert!(parse_fal_jwks(bad.as_bytes()).is_err(), "{bad}");
        }
    }

    #[test]
    fn the_key_url_is_fals_unless_the_route_names_one() {
        assert_eq!(verifier(None).unwrap().jwks_url, FAL_JWKS);
        let url = FetchParams {
            url: Some("https://127.0.0.1:8443/jwks.json".into()),
            ..FetchParams::default()
        };
        assert_eq!(
            verifier(Some(&url)).unwrap().jwks_url,
            "https://127.0.0.1:8443/jwks.json"
        );
        let allow = FetchParams {
            allow: Some(vec![super::super::UrlPrefix::parse("https://h/").unwrap()]),
            ..FetchParams::default()
        };
        assert_eq!(verifier(Some(&allow)).err().unwrap().field, "keys.allow");
    }

    #[test]
    fn the_head_window_and_key_are_what_the_route_states() {
        let v = verifier(None).unwrap();
        assert_eq!(v.provider(), "fal");
        assert_eq!(v.tolerance(), Some(Duration::from_secs(300)));
        let rule = v.key_rule().unwrap();
        assert!(rule.contains(FAL_JWKS), "{rule}");
        let (method, uri) = (Method::POST, Uri::from_static("/fal"));
        let at = |headers: &HeaderMap, now_ms| {
            let req = Inbound {
                now_ms,
                ..inbound(&method, &uri, headers)
            };
            let needed = v.key_needed(&req, &Payload::from(BODY)).unwrap().unwrap();
            (v.precheck(&req).map_err(|e| e.code()), needed.url)
        };
        assert_eq!(at(&headers(SIG), NOW_MS), (Ok(()), FAL_JWKS.to_owned()));
        let late = at(&headers(SIG), NOW_MS + 301_000).0;
        assert_eq!(late, Err("timestamp_out_of_tolerance"));
        assert_eq!(at(&HeaderMap::new(), NOW_MS).0, Err("missing_signature"));
    }

    #[test]
    fn a_jwks_holds_at_most_max_keys() {
        let key =
            r#"{"kty":"OKP","crv":"Ed25519","x":"A6EHv_POEL4dcN0Y50vAmWfk1jCbpQ1fHdyGZBJVMbg"}"#;
        let set = |n: usize| format!(r#"{{"keys":[{}]}}"#, vec![key; n].join(","));
        assert!(parse_fal_jwks(set(MAX_KEYS).as_bytes()).is_ok());
        assert!(parse_fal_jwks(set(MAX_KEYS + 1).as_bytes()).is_err());
    }
}
