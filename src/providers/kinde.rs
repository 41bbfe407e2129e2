//! Family: Kinde webhooks — the whole body is a JWT (`Content-Type:
//! application/jwt`) signed RS256 by the Kinde business, checked against
//! that business's JWKS, fetched and cached by the key store.
//!
//! Facts (Kinde docs "About webhooks", kinde-oss/documentation
//! `src/content/docs/integrate/webhooks/about-webhooks.mdx`; @kinde/webhooks
//! 1.0.0 `dist/webhooks.js` `decodeWebhook`, which verifies with jose's
//! `jwtVerify` against `<domain>/.well-known/jwks.json`):
//! - the keys live on the business's own Kinde domain,
//!   `https://<subdomain>.kinde.com/.well-known/jwks.json` (or a custom
//!   domain): there is no global URL, so the route names it in
//!   `[route.keys] url`, which must pass `https://<one label>.kinde.com/`
//!   unless `[route.keys] allow` replaces that rule;
//! - the payload carries `event_id` (unique per event), `type`, `source`,
//!   `data` and `timestamp` (RFC 3339); Kinde says to check `timestamp`
//!   against replays and to use the event id to spot repeats.
//!
//! Checked: the signature (RS256 only, by the key of the token's `kid`),
//! `exp` and `nbf` when present, the signing time — `iat` when present,
//! else `timestamp` — within the window both ways, and `event_id` present
//! (the replay key, forwarded as the event id). The body is forwarded byte
//! for byte: it is the token.

use std::time::Duration;

use jsonwebtoken::Algorithm::RS256;
use serde_json::{Map, Value};

use super::common::{parse_timestamp, TimestampFormat, Tolerance, ToleranceSpec};
use super::fetched::{HttpsUrl, UrlRule};
use super::jwks::{fetched_set, parse_jwks};
use super::jwt::{JwtSpec, JwtVerifier, KeysFrom, TokenAt};
use super::params::{FetchParams, FetchSetting};
use super::{
    BuildError, Dedup, Inbound, KeyRef, KeyRequest, ProviderInfo, ProviderParams, Rejection,
    Verified, Verifier,
};
use crate::body::Payload;

/// The window around the signing time: five minutes each way (a route may
/// widen it with `tolerance`, e.g. to accept Kinde's later retries).
pub(crate) const FIVE_MINUTES: ToleranceSpec = ToleranceSpec { default_secs: 300 };

/// Longest `event_id` used as a replay key.
const MAX_ID: usize = 256;

/// The token rules `jwt.rs` checks: RS256 only, the body is the token,
/// `exp`/`nbf` when present. The signing time and `event_id` are read here.
const TOKEN_RULES: JwtSpec = JwtSpec {
    token: TokenAt::Body,
    keys: KeysFrom::PublicKeys,
    algorithms: &[RS256],
    tolerance: Some(FIVE_MINUTES),
    ..JwtSpec::BASE
};

/// Kinde's domains: `https://<subdomain>.kinde.com/...` on port 443.
fn kinde_host(url: &HttpsUrl) -> bool {
    url.port == 443
        && url
            .host
            .strip_suffix(".kinde.com")
            .is_some_and(|label| !label.is_empty() && !label.contains('.'))
}

const PINNED: UrlRule = UrlRule::Pinned(kinde_host, "https://<subdomain>.kinde.com/");

/// A built Kinde verifier: the token rules, the business's JWKS URL and
/// the rule it passed.
pub(crate) struct KindeVerifier {
    jwt: JwtVerifier,
    jwks_url: String,
    rule: UrlRule,
    tolerance: Tolerance,
}

impl KindeVerifier {
    /// Builds from `[route.keys] url` (required) checked against the pinned
    /// rule or `[route.keys] allow`, and the route's `tolerance`.
    pub(crate) fn build(
        provider: &'static str,
        params: ProviderParams<'_>,
    ) -> Result<Self, BuildError> {
        let fetch = FetchParams::read_by(
            params.fetch,
            provider,
            &[FetchSetting::Url, FetchSetting::Allow],
        )?;
        let jwks_url = fetch.url.ok_or_else(|| BuildError {
            field: "keys.url".into(),
            message: "required: Kinde serves each business's keys on its own domain; set \
                      [route.keys] url = \"https://<your-subdomain>.kinde.com/.well-known/jwks.json\""
                .into(),
        })?;
        let rule = fetch.allow.map_or(PINNED, UrlRule::Allow);
        rule.check("keys.url", &jwks_url)
            .map_err(|refused| BuildError {
                field: "keys.url".into(),
                message: format!(
                    "{}; for a custom domain, list it in [route.keys] allow",
                    refused.detail()
                ),
            })?;
        Ok(Self {
            jwt: JwtVerifier::fetched_without_audience(provider, &TOKEN_RULES, params.tolerance)?,
            jwks_url,
            rule,
            tolerance: Tolerance::new(FIVE_MINUTES, params.tolerance),
        })
    }

    /// The signing time: `iat` when the token has one, else `timestamp`.
    fn check_time(&self, claims: &Map<String, Value>, now_ms: i64) -> Result<(), Rejection> {
        let (what, ms) = match (claims.get("iat"), claims.get("timestamp")) {
            // `iat` is a NumericDate; jwt.rs has already refused a bad one.
            (Some(iat), _) => ("claim iat", iat.as_f64().map(|s| (s * 1000.0) as i64)),
            (None, Some(Value::String(ts))) => (
                "claim timestamp",
                parse_timestamp(ts.as_bytes(), TimestampFormat::Rfc3339).ok(),
            ),
            (None, _) => {
                return Err(Rejection::MissingSignature {
                    detail: "the token has neither claim iat nor claim timestamp".into(),
                })
            }
        };
        let ms = ms.ok_or_else(|| Rejection::TimestampOutOfTolerance {
            detail: format!("{what} is not a time"),
        })?;
        self.tolerance.check_ms(&what, ms, now_ms)
    }
}

/// `event_id`, when it is a usable replay key.
fn event_id(claims: &Map<String, Value>) -> Result<&str, Rejection> {
    claims
        .get("event_id")
        .and_then(Value::as_str)
        .filter(|id| {
            !id.is_empty() && id.len() <= MAX_ID && id.bytes().all(|b| b.is_ascii_graphic())
        })
        .ok_or_else(|| Rejection::InvalidSignature {
            detail: "claim event_id is absent or not printable ASCII".into(),
        })
}

impl Verifier for KindeVerifier {
    fn provider(&self) -> &str {
        self.jwt.provider()
    }

    fn tolerance(&self) -> Option<Duration> {
        Some(self.tolerance.window())
    }

    fn precheck(&self, req: &Inbound<'_>) -> Result<(), Rejection> {
        // Ok(()) today, as the token is the body (so `Ok(())` is an
        // equivalent mutant); kept so a head check added to jwt.rs applies.
        self.jwt.precheck(req)
    }

    fn key_needed(&self, req: &Inbound<'_>, body: &Payload) -> Result<Option<KeyRef>, Rejection> {
        Ok(Some(KeyRef {
            url: self.jwks_url.clone(),
            key_id: self.jwt.token_kid_in(req, body)?,
            parse: parse_jwks,
            request: KeyRequest::Get,
        }))
    }

    fn key_rule(&self) -> Option<String> {
        Some(format!(
            "JWKS {} (under {}); RS256; event_id; iat or timestamp",
            self.jwks_url,
            self.rule.describe()
        ))
    }

    fn verify(&self, req: &Inbound<'_>, body: &Payload) -> Result<Verified, Rejection> {
        let checked = self.jwt.check(fetched_set(req)?, req, body)?;
        self.check_time(&checked.claims, req.now_ms)?;
        let id = event_id(&checked.claims)?;
        Ok(Verified {
            secret_index: 0,
            event_id: Some(id.to_owned()),
            dedup: Dedup::SignedId(id.to_owned()),
        })
    }
}

/// The row of `hookguard providers`.
pub(crate) fn info(name: &'static str) -> ProviderInfo {
    ProviderInfo {
        name,
        algorithm: "JWT (RS256), the business's fetched Kinde JWKS",
        headers: "body: <JWT> (content-type: application/jwt)".into(),
        signed: "the whole body: JWT claims event_id, type, data, iat or timestamp".into(),
        ..ProviderInfo::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::providers::{FetchParams, UrlPrefix};

    fn build(fetch: Option<&FetchParams>) -> Result<KindeVerifier, BuildError> {
        let params = ProviderParams {
            fetch,
            ..ProviderParams::default()
        };
        KindeVerifier::build("kinde", params)
    }

    fn with_url(url: &str, allow: Option<&str>) -> FetchParams {
        FetchParams {
            url: Some(url.into()),
            allow: allow.map(|a| vec![UrlPrefix::parse(a).unwrap()]),
            ..FetchParams::default()
        }
    }

    #[test]
    fn the_route_names_its_kinde_jwks_url() {
        assert_eq!(build(None).err().unwrap().field, "keys.url");
        let ok = build(Some(&with_url(
            "https://acme.kinde.com/.well-known/jwks.json",
            None,
        )))
        .unwrap();
        assert_eq!(ok.jwks_url, "https://acme.kinde.com/.well-known/jwks.json");
        for bad in [
            "https://kinde.com/.well-known/jwks.json",
            "https://a.b.kinde.com/.well-known/jwks.json",
            "https://acme.kinde.com.evil.example/.well-known/jwks.json",
            "https://acme.kinde.com:8443/.well-known/jwks.json",
            "https://auth.acme.example/.well-known/jwks.json",
        ] {
            let err = build(Some(&with_url(bad, None))).err().unwrap();
            assert_eq!(err.field, "keys.url", "{bad}");
        }
        let custom = with_url(
            "https://auth.acme.example/.well-known/jwks.json",
            Some("https://auth.acme.example/"),
        );
        assert!(build(Some(&custom)).is_ok());
    }

    #[test]
    fn name_window_and_event_id() {
        let url = with_url("https://acme.kinde.com/jwks", None);
        let v = build(Some(&url)).unwrap();
        assert_eq!(v.provider(), "kinde");
        let five_minutes = Some(Duration::from_secs(300));
        assert_eq!(v.tolerance(), five_minutes);
        // The token's exp and nbf get the same window as skew.
        assert_eq!(Verifier::tolerance(&v.jwt), five_minutes);
        let wide = KindeVerifier::build(
            "kinde",
            ProviderParams {
                fetch: Some(&url),
                tolerance: Some(Duration::from_secs(600)),
                ..ProviderParams::default()
            },
        )
        .unwrap();
        assert_eq!(wide.tolerance(), Some(Duration::from_secs(600)));
        let id = |value: &str| {
            let claims = serde_json::json!({ "event_id": value });
            event_id(claims.as_object().unwrap())
                .ok()
                .map(str::to_owned)
        };
        let longest = "e".repeat(MAX_ID);
        assert_eq!(id(&longest), Some(longest.clone()));
        assert_eq!(id(&"e".repeat(MAX_ID + 1)), None);
        assert_eq!(id("event 1"), None);
        assert_eq!(id(""), None);
    }

    #[test]
    fn the_signing_time_is_iat_else_timestamp() {
        let v = build(Some(&with_url("https://acme.kinde.com/jwks", None))).unwrap();
        let now_ms = 1_770_120_000_000; // 2026-02-03T12:00:00Z
        let claims = |v: Value| v.as_object().unwrap().clone();
        let ts = claims(serde_json::json!({"timestamp": "2026-02-03T12:00:00.000Z"}));
        assert!(v.check_time(&ts, now_ms).is_ok());
        let code = |r: Result<(), Rejection>| r.err().map(|e| e.code());
        assert_eq!(
            code(v.check_time(&ts, now_ms + 301_000)),
            Some("timestamp_out_of_tolerance")
        );
        assert_eq!(
            code(v.check_time(&ts, now_ms - 301_000)),
            Some("timestamp_out_of_tolerance")
        );
        // iat wins over timestamp.
        let both =
            claims(serde_json::json!({"iat": 1_770_120_000, "timestamp": "2020-01-01T00:00:00Z"}));
        assert!(v.check_time(&both, now_ms).is_ok());
        let neither = claims(serde_json::json!({"event_id": "event_1"}));
        assert_eq!(
            code(v.check_time(&neither, now_ms)),
            Some("missing_signature")
        );
        let garbage = claims(serde_json::json!({"timestamp": "yesterday"}));
        assert_eq!(
            code(v.check_time(&garbage, now_ms)),
            Some("timestamp_out_of_tolerance")
        );
    }
}
