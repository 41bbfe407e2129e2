//! Family: Plaid webhooks — a `Plaid-Verification` JWT (ES256) whose
//! `request_body_sha256` claim binds the exact body; the key its `kid`
//! names is fetched from Plaid's key endpoint with the route's API
//! credentials, and cached per key id by the key store.
//!
//! Facts (Plaid docs "Verify webhooks",
//! plaid.com/docs/api/webhooks/webhook-verification/; the response schema
//! `WebhookVerificationKeyGetResponse` of Plaid's OpenAPI spec):
//! - `Plaid-Verification: <JWT>`, `alg` ES256 only, `kid` in its header;
//! - the key: `POST https://production.plaid.com/webhook_verification_key/get`
//!   with `{"client_id", "secret", "key_id"}`, answered `{"key": <JWK>,
//!   "request_id"}` (sandbox: `https://sandbox.plaid.com/...`);
//! - `iat` no older than 5 minutes (here: within the window both ways);
//! - `request_body_sha256` = hex SHA-256 of the body, compared in constant
//!   time (Plaid sends pretty-printed JSON: a re-serialised body fails).
//!
//! Plaid signs no delivery id: the replay key is what the token signs.

use std::any::Any;
use std::sync::Arc;
use std::time::Duration;

use jsonwebtoken::Algorithm::ES256;
use serde_json::{json, Value};

use super::common::ToleranceSpec;
use super::fetched::{FetchedKey, KeyMaterial};
use super::jwks::KeySet;
use super::jwt::{BodyHash, HashText, JwtSpec, JwtVerifier, KeysFrom, TokenAt};
use super::params::{FetchParams, FetchSetting};
use super::{
    BuildError, Dedup, Inbound, KeyRef, KeyRequest, ProviderInfo, ProviderParams, Rejection,
    Verified, Verifier,
};
use crate::body::Payload;
use crate::secret::Secret;

/// Plaid's production key endpoint.
pub(crate) const PLAID_KEY_URL: &str = "https://production.plaid.com/webhook_verification_key/get";

/// Plaid's documented age limit, applied both ways.
pub(crate) const FIVE_MINUTES: ToleranceSpec = ToleranceSpec { default_secs: 300 };

/// The token rules `jwt.rs` checks: ES256 only, in `Plaid-Verification`,
/// `iat` within the window, `request_body_sha256` over the exact body.
const TOKEN_RULES: JwtSpec = JwtSpec {
    token: TokenAt::Header("plaid-verification"),
    keys: KeysFrom::PublicKeys,
    algorithms: &[ES256],
    iat_window: true,
    body_hash: Some(BodyHash {
        claim: "request_body_sha256",
        text: HashText::Hex,
        absent_when_empty: false,
    }),
    tolerance: Some(FIVE_MINUTES),
    ..JwtSpec::BASE
};

/// The one key an answer of the key endpoint holds.
struct PlaidKey(KeySet);

impl KeyMaterial for PlaidKey {
    fn has_key_id(&self, id: &str) -> bool {
        self.0.has_kid(id)
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}

/// [`ParseKey`](super::ParseKey) for `{"key": <JWK>, ...}`.
fn parse_answer(bytes: &[u8]) -> Result<FetchedKey, String> {
    let answer: Value =
        serde_json::from_slice(bytes).map_err(|_| "not a JSON answer".to_owned())?;
    let key = answer
        .get("key")
        .filter(|k| k.is_object())
        .ok_or("the answer holds no key")?;
    let set = serde_json::to_vec(&json!({ "keys": [key] })).map_err(|e| e.to_string())?;
    let keys = KeySet::from_jwks(&set)?;
    if keys.families().is_empty() {
        return Err("the answer's key is not a usable public key".into());
    }
    Ok(Arc::new(PlaidKey(keys)))
}

/// The route's API credentials, as the key endpoint's JSON wants them.
struct Credentials {
    client_id: String,
    secret: String,
}

impl Credentials {
    fn from(fetch: &super::FetchParams) -> Result<Self, BuildError> {
        let text = |value: &Option<Secret>, field: &str, what: &str| {
            let missing = || BuildError {
                field: field.into(),
                message: format!(
                    "required: {what}, as a secret reference (env:NAME or file:PATH); Plaid's \
                     key endpoint wants it"
                ),
            };
            let value = value.as_ref().ok_or_else(missing)?;
            std::str::from_utf8(value.expose())
                .ok()
                .filter(|t| !t.is_empty() && !t.chars().any(char::is_control))
                .map(str::to_owned)
                .ok_or_else(|| BuildError {
                    field: field.into(),
                    message: "must be printable text".into(),
                })
        };
        Ok(Self {
            client_id: text(&fetch.client_id, "keys.client_id", "your Plaid client_id")?,
            secret: text(
                &fetch.client_secret,
                "keys.client_secret",
                "your Plaid secret",
            )?,
        })
    }

    /// The request body asking for key `kid`: it holds the secret.
    fn body(&self, kid: &str) -> Secret {
        let body = json!({"client_id": self.client_id, "secret": self.secret, "key_id": kid});
        Secret::new(body.to_string())
    }
}

/// A built Plaid verifier.
pub(crate) struct PlaidVerifier {
    jwt: JwtVerifier,
    key_url: String,
    credentials: Credentials,
}

impl PlaidVerifier {
    /// Builds from `[route.keys] client_id`, `client_secret` (required) and
    /// `url` (else Plaid's production endpoint).
    pub(crate) fn build(
        provider: &'static str,
        params: ProviderParams<'_>,
    ) -> Result<Self, BuildError> {
        let fetch = FetchParams::read_by(
            params.fetch,
            provider,
            &[FetchSetting::Url, FetchSetting::ClientCredentials],
        )?;
        Ok(Self {
            credentials: Credentials::from(&fetch)?,
            key_url: fetch.url.unwrap_or_else(|| PLAID_KEY_URL.to_owned()),
            jwt: JwtVerifier::fetched_without_audience(provider, &TOKEN_RULES, params.tolerance)?,
        })
    }
}

impl Verifier for PlaidVerifier {
    fn provider(&self) -> &str {
        self.jwt.provider()
    }

    fn tolerance(&self) -> Option<Duration> {
        self.jwt.tolerance()
    }

    fn precheck(&self, req: &Inbound<'_>) -> Result<(), Rejection> {
        self.jwt.precheck(req)
    }

    fn key_needed(&self, req: &Inbound<'_>, _body: &Payload) -> Result<Option<KeyRef>, Rejection> {
        let kid = self
            .jwt
            .token_kid(req)?
            .filter(|k| !k.is_empty() && k.len() <= 256)
            .ok_or_else(|| Rejection::InvalidSignature {
                detail: "the token names no usable kid".into(),
            })?;
        Ok(Some(KeyRef {
            url: self.key_url.clone(),
            request: KeyRequest::PostJson(self.credentials.body(&kid)),
            key_id: Some(kid),
            parse: parse_answer,
        }))
    }

    fn key_rule(&self) -> Option<String> {
        Some(format!(
            "key by kid: POST {} (client_id and secret from [route.keys]); ES256; iat; \
             request_body_sha256",
            self.key_url
        ))
    }

    fn verify(&self, req: &Inbound<'_>, body: &Payload) -> Result<Verified, Rejection> {
        let Some(PlaidKey(keys)) = req.key.and_then(|k| k.as_any().downcast_ref::<PlaidKey>())
        else {
            return Err(Rejection::InvalidSignature {
                detail: "no key was fetched for this request".into(),
            });
        };
        let checked = self.jwt.check(keys, req, body)?;
        Ok(Verified {
            secret_index: 0,
            event_id: None,
            dedup: Dedup::Signature(checked.signing_input_sha256()),
        })
    }
}

/// The row of `hookguard providers`.
pub(crate) fn info(name: &'static str) -> ProviderInfo {
    ProviderInfo {
        name,
        algorithm: "JWT (ES256), key fetched by kid from Plaid's key endpoint",
        headers: "plaid-verification: <JWT>".into(),
        signed: "JWT claims request_body_sha256=sha256hex({body}), iat".into(),
        ..ProviderInfo::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::providers::testutil::inbound;
    use crate::providers::FetchParams;

    fn build(fetch: &FetchParams) -> Result<PlaidVerifier, BuildError> {
        let params = ProviderParams {
            fetch: Some(fetch),
            ..ProviderParams::default()
        };
        PlaidVerifier::build("plaid", params)
    }

    #[test]
    fn client_credentials_are_required_and_make_the_request_body() {
        let id = || Some(Secret::new("client-1"));
        let err = |f: FetchParams| build(&f).err().unwrap().field;
        assert_eq!(err(FetchParams::default()), "keys.client_id");
        let no_secret = FetchParams {
            client_id: id(),
            ..FetchParams::default()
        };
        assert_eq!(err(no_secret.clone()), "keys.client_secret");
        let ok = build(&FetchParams {
            client_secret: Some(Secret::new("s3cret")),
            ..no_secret
        })
        .unwrap();
        assert_eq!(ok.key_url, PLAID_KEY_URL);
        let body: Value = serde_json::from_slice(ok.credentials.body("k1").expose()).unwrap();
        assert_eq!(
            body,
            json!({"client_id": "client-1", "secret": "s3cret", "key_id": "k1"})
        );
    }

    #[test]
    fn the_answer_holds_one_public_key() {
        let jwk = r#"{"key":{"alg":"ES256","created_at":1560466143,"crv":"P-256","expired_at":null,"kid":"bfbd5111-8e33-4643-8ced-b2e642a72f3c","kty":"EC","use":"sig","x":"hKXLGIjWvCBv-cP5euCTxl8g9GLG9zHo_3pO5NN1DwQ","y":"shhexqPB7YffGn6fR6h2UhTSuCtPmfzQJ6ENVIoO4Ys"},"request_id":"RZ6Omi1bzzwDaLo"}"#;
        let key = parse_answer(jwk.as_bytes()).unwrap();
        assert!(key.has_key_id("bfbd5111-8e33-4643-8ced-b2e642a72f3c"));
        assert!(!key.has_key_id("another-kid"));
        for bad in [r#"{"request_id":"x"}"#, r#"{"key":"x"}"#, "nope"] {
            assert!(parse_answer(bad.as_bytes()).is_err(), "{bad}");
        }
    }

    fn route() -> PlaidVerifier {
        build(&FetchParams {
            client_id: Some(Secret::new("client-1")),
            client_secret: Some(Secret::new("s3cret")),
            ..FetchParams::default()
        })
        .unwrap()
    }

    /// `precheck` and `key_needed` for a `Plaid-Verification` token whose
    /// header names `kid`, or none.
    fn ask(
        v: &PlaidVerifier,
        kid: Option<&str>,
    ) -> (Result<(), Rejection>, Result<KeyRef, Rejection>) {
        use base64::Engine as _;
        let b64 = |s: &str| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(s);
        let mut map = http::HeaderMap::new();
        if let Some(kid) = kid {
            let head = format!(r#"{{"alg":"ES256","typ":"JWT","kid":"{kid}"}}"#);
            let token = format!("{}.e30.c2ln", b64(&head));
            map.insert("plaid-verification", token.parse().unwrap());
        }
        let uri = http::Uri::from_static("/plaid");
        let req = inbound(&http::Method::POST, &uri, &map);
        let needed = v.key_needed(&req, &Payload::from(&b"{}"[..]));
        (v.precheck(&req), needed.map(|k| k.expect("names a key")))
    }

    #[test]
    fn the_token_names_the_key_asked_for_with_the_credentials() {
        let v = route();
        assert_eq!(v.provider(), "plaid");
        assert_eq!(v.tolerance(), Some(Duration::from_secs(300)));
        let rule = v.key_rule().unwrap();
        assert!(
            rule.starts_with(&format!("key by kid: POST {PLAID_KEY_URL} ")),
            "{rule}"
        );
        let (head, _) = ask(&v, None);
        assert!(matches!(head, Err(Rejection::MissingSignature { .. })));
        let (head, key) = ask(&v, Some("k1"));
        assert_eq!(head, Ok(()));
        let key = key.unwrap();
        assert_eq!(
            (key.url.as_str(), key.key_id.as_deref()),
            (PLAID_KEY_URL, Some("k1"))
        );
        let KeyRequest::PostJson(body) = &key.request else {
            panic!("a POST for one key");
        };
        let body: Value = serde_json::from_slice(body.expose()).unwrap();
        assert_eq!(body["key_id"], "k1");
        // A kid of 256 characters is asked for; none, or a longer one, not.
        assert!(ask(&v, Some(&"k".repeat(256))).1.is_ok());
        for bad in [String::new(), "k".repeat(257)] {
            assert!(ask(&v, Some(&bad)).1.is_err(), "{}", bad.len());
        }
    }

    #[test]
    fn credentials_are_printable_text() {
        for bad in ["", "client\n1"] {
            let err = build(&FetchParams {
                client_id: Some(Secret::new(bad)),
                client_secret: Some(Secret::new("s3cret")),
                ..FetchParams::default()
            })
            .err()
            .unwrap();
            assert_eq!(err.field, "keys.client_id", "{bad:?}");
        }
    }
}
