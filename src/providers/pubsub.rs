//! Family: Google Cloud Pub/Sub push subscriptions with authentication —
//! `Authorization: Bearer <Google-signed OIDC ID token>`, checked against
//! Google's JWKS, fetched and cached by the key store.
//!
//! Facts (Google Cloud "Authentication for push subscriptions"; the
//! google-auth-library-python `google/oauth2/id_token.py` `verify_token` /
//! `verify_oauth2_token`):
//! - keys at `https://www.googleapis.com/oauth2/v3/certs` (a JWKS), RS256;
//! - `iss` is `accounts.google.com` or `https://accounts.google.com`;
//! - `aud` is the audience configured on the push subscription (by default
//!   the push endpoint URL): the route's `audience`, else its `public_url`;
//! - `email` is the subscription's service account, with `email_verified`.
//!
//! The token binds the sender, not the body: anyone who holds one (it is a
//! bearer token, valid until `exp`) could send any body with it. So it is
//! stripped before forwarding (unless `forward_token`), `exp` is required
//! and `iat` must lie within the route's window. The replay key is the
//! body's `message.messageId`, unsigned: it refuses Pub/Sub's own
//! redeliveries and plain copies, not a token holder's new message.
//! Everything checked about the token itself is `jwt.rs`'s.

use std::time::Duration;

use jsonwebtoken::Algorithm::RS256;
use serde::Deserialize;
use serde_json::{Map, Value};

use super::common::invalid;
use super::common::ToleranceSpec;
use super::jwks::{fetched_set, parse_jwks};
use super::jwt::{JwtSpec, JwtVerifier, KeysFrom};
use super::params::{FetchParams, FetchSetting};
use super::{
    BuildError, Dedup, Inbound, KeyRef, KeyRequest, ProviderInfo, ProviderParams, Rejection,
    Verified, Verifier,
};
use crate::body::Payload;

/// Google's signing keys for ID tokens.
pub(crate) const GOOGLE_JWKS: &str = "https://www.googleapis.com/oauth2/v3/certs";

/// The issuers `id_token.py` accepts for Google ID tokens.
const ISSUERS: [&str; 2] = ["accounts.google.com", "https://accounts.google.com"];

/// Google ID tokens live one hour (`exp` = `iat` + 3600), so a window of one
/// hour around `iat` refuses no token Google would still call valid.
pub(crate) const ONE_HOUR: ToleranceSpec = ToleranceSpec { default_secs: 3600 };

/// Longest `messageId` used as a replay key (Pub/Sub sends decimal ids).
const MAX_ID: usize = 256;

/// The token rules `jwt.rs` checks: RS256 only, `exp` required, `iat`
/// within the window. `iss`, `email` and `email_verified` are checked here.
pub(crate) const TOKEN_RULES: JwtSpec = JwtSpec {
    keys: KeysFrom::PublicKeys,
    algorithms: &[RS256],
    require_exp: true,
    iat_window: true,
    tolerance: Some(ONE_HOUR),
    ..JwtSpec::BASE
};

/// A built Pub/Sub verifier: the token rules with the route's audience,
/// the service account, and where the keys come from.
pub(crate) struct PubSubVerifier {
    jwt: JwtVerifier,
    jwks_url: String,
    audience: String,
    service_account: String,
}

impl PubSubVerifier {
    /// Builds from `service_account` (required), `audience` (else the
    /// route's `public_url`) and `[route.keys] url` (else Google's).
    pub(crate) fn build(
        provider: &'static str,
        params: ProviderParams<'_>,
    ) -> Result<Self, BuildError> {
        let fetch = FetchParams::read_by(
            params.fetch,
            provider,
            &[
                FetchSetting::Url,
                FetchSetting::Audience,
                FetchSetting::ServiceAccount,
            ],
        )?;
        let service_account = fetch.service_account.ok_or_else(|| BuildError {
            field: "service_account".into(),
            message: "required: the email of the service account the push subscription \
                      authenticates as (any Google account can get a Google-signed token)"
                .into(),
        })?;
        let audience = fetch
            .audience
            .or(fetch.public_url)
            .ok_or_else(|| BuildError {
                field: "audience".into(),
                message: "required: set audience to the audience configured on the push \
                      subscription, or public_url to the push endpoint URL (Google's default \
                      audience)"
                    .into(),
            })?;
        let jwks_url = fetch.url.unwrap_or_else(|| GOOGLE_JWKS.to_owned());
        let jwt = JwtVerifier::fetched(provider, &TOKEN_RULES, params.tolerance, audience.clone())?;
        Ok(Self {
            jwt,
            jwks_url,
            audience,
            service_account,
        })
    }

    /// `iss`, `email` and `email_verified`, once the token verified.
    fn check_sender(&self, claims: &Map<String, Value>) -> Result<(), Rejection> {
        match claims.get("iss").and_then(Value::as_str) {
            Some(iss) if ISSUERS.contains(&iss) => {}
            Some(_) => return Err(invalid("claim iss is not Google's")),
            None => return Err(invalid("claim iss is absent")),
        }
        if claims.get("email").and_then(Value::as_str) != Some(&self.service_account) {
            return Err(invalid("claim email is not the route's service_account"));
        }
        if claims.get("email_verified") != Some(&Value::Bool(true)) {
            return Err(invalid("claim email_verified is not true"));
        }
        Ok(())
    }
}

impl Verifier for PubSubVerifier {
    fn provider(&self) -> &str {
        self.jwt.provider()
    }

    fn tolerance(&self) -> Option<Duration> {
        self.jwt.tolerance()
    }

    fn uses_public_url(&self) -> bool {
        true
    }

    fn credential_header(&self) -> Option<&http::HeaderName> {
        self.jwt.token_header_name()
    }

    fn precheck(&self, req: &Inbound<'_>) -> Result<(), Rejection> {
        self.jwt.precheck(req)
    }

    fn key_needed(&self, req: &Inbound<'_>, _body: &Payload) -> Result<Option<KeyRef>, Rejection> {
        Ok(Some(KeyRef {
            url: self.jwks_url.clone(),
            key_id: self.jwt.token_kid(req)?,
            parse: parse_jwks,
            request: KeyRequest::Get,
        }))
    }

    fn key_rule(&self) -> Option<String> {
        Some(format!(
            "JWKS {}; iss {}; aud {}; email {} (email_verified)",
            self.jwks_url,
            ISSUERS.join(" or "),
            self.audience,
            self.service_account
        ))
    }

    fn verify(&self, req: &Inbound<'_>, body: &Payload) -> Result<Verified, Rejection> {
        let keys = fetched_set(req)?;
        let checked = self.jwt.check(keys, req, body)?;
        self.check_sender(&checked.claims)?;
        Ok(Verified {
            secret_index: 0,
            event_id: None,
            dedup: message_id(body).map_or(Dedup::None, Dedup::DeliveryId),
        })
    }
}

/// The push envelope's fields read for the replay key.
#[derive(Deserialize)]
struct Envelope {
    message: Option<Message>,
}

#[derive(Deserialize)]
struct Message {
    #[serde(rename = "messageId")]
    camel: Option<String>,
    #[serde(rename = "message_id")]
    snake: Option<String>,
}

/// `message.messageId` (or `message.message_id`) of a push body, when it
/// is a usable key; else none (the body is the app's to judge).
fn message_id(body: &Payload) -> Option<String> {
    let envelope: Envelope = serde_json::from_slice(&body.contiguous()).ok()?;
    let message = envelope.message?;
    message.camel.or(message.snake).filter(|id| {
        !id.is_empty() && id.len() <= MAX_ID && id.bytes().all(|b| b.is_ascii_graphic())
    })
}

/// The row of `hookguard providers`.
pub(crate) fn info(name: &'static str) -> ProviderInfo {
    ProviderInfo {
        name,
        algorithm: "JWT (RS256), Google's fetched JWKS",
        headers: "authorization: Bearer <Google OIDC ID token>".into(),
        signed: "JWT claims iss=accounts.google.com, aud=<audience>, email=<service_account>, \
                 email_verified, exp, iat (not the body)"
            .into(),
        ..ProviderInfo::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::providers::testutil::inbound;
    use crate::providers::FetchParams;

    /// The key store refreshes a cached set that lacks the `kid` a token
    /// names (Google rotates its keys): the parsed JWKS must say which ids
    /// it holds.
    #[test]
    fn a_parsed_jwks_knows_its_key_ids() {
        let jwks = br#"{"keys":[{"kty":"RSA","kid":"k1","alg":"RS256","n":"sXchDaQebHnPiGvyDOAT4saGEUetSyo9MKLOoWFsueri23bOdgWp4Dy1WlUzewbgBHod5pcM9H95GQRV3JDXboIRROSBigeC5yjU1hGzHHyXss8UDprecbAYxknTcQkhslANGRUZmdTOQ5qTRsLAt6BTYuyvVRdhS8exSZEy_c4gs_7svlJJQ4H9_NxsiIoLwAEk7-Q3UXERGYw_75IDrGA84-lA_-Ct4eTlXHBIY2EaV7t7LjJaynVJCpkv4LKjTTAumiGUIuQhrNhZLuF_RJLqHpM2kgWFLU7-VTdL1VbC2tejvcI2BlMkEpk1BzBZI0KQB0GaDWFLN-aEAw3vRw","e":"AQAB"}]}"#;
        let key = parse_jwks(jwks).unwrap();
        assert!(key.has_key_id("k1"));
        assert!(!key.has_key_id("k2"));
        assert!(parse_jwks(b"not json").is_err());
    }

    fn build(fetch: &FetchParams) -> Result<PubSubVerifier, BuildError> {
        let params = ProviderParams {
            fetch: Some(fetch),
            ..ProviderParams::default()
        };
        PubSubVerifier::build("gcp-pubsub", params)
    }

    #[test]
    fn service_account_and_an_audience_are_required() {
        let account = || Some("push@p.iam.gserviceaccount.com".to_owned());
        let err = |fetch: FetchParams| build(&fetch).err().unwrap().field;
        assert_eq!(err(FetchParams::default()), "service_account");
        let no_audience = FetchParams {
            service_account: account(),
            ..FetchParams::default()
        };
        assert_eq!(err(no_audience.clone()), "audience");
        let allow = FetchParams {
            allow: Some(vec![super::super::UrlPrefix::parse("https://h/").unwrap()]),
            ..no_audience.clone()
        };
        assert_eq!(err(allow), "keys.allow");
        let by_public_url = build(&FetchParams {
            public_url: Some("https://hooks.example.com/p".into()),
            ..no_audience.clone()
        })
        .unwrap();
        assert_eq!(by_public_url.audience, "https://hooks.example.com/p");
        assert_eq!(by_public_url.jwks_url, GOOGLE_JWKS);
        let both = build(&FetchParams {
            public_url: Some("https://hooks.example.com/p".into()),
            audience: Some("aud".into()),
            url: Some("https://127.0.0.1:8443/certs".into()),
            ..no_audience
        })
        .unwrap();
        assert_eq!(both.audience, "aud");
        assert_eq!(both.jwks_url, "https://127.0.0.1:8443/certs");
    }

    #[test]
    fn the_replay_key_is_the_push_message_id() {
        for (body, want) in [
            (
                &br#"{"message":{"messageId":"136969346945"}}"#[..],
                Some("136969346945"),
            ),
            (br#"{"message":{"message_id":"42"}}"#, Some("42")),
            (br#"{"message":{"data":"aGk="}}"#, None),
            (br#"{"message":{"messageId":"a b"}}"#, None),
            (b"not json", None),
        ] {
            let got = message_id(&Payload::from(body));
            assert_eq!(got.as_deref(), want, "{}", String::from_utf8_lossy(body));
        }
    }

    fn route() -> PubSubVerifier {
        build(&FetchParams {
            service_account: Some("push@p.iam.gserviceaccount.com".into()),
            audience: Some("https://hooks.example.com/p".into()),
            ..FetchParams::default()
        })
        .unwrap()
    }

    #[test]
    fn the_sender_is_googles_issuer_and_the_verified_account() {
        let v = route();
        let claims = |iss: Option<&str>, email: &str, verified: Value| {
            let mut map = Map::new();
            if let Some(iss) = iss {
                map.insert("iss".into(), iss.into());
            }
            map.insert("email".into(), email.into());
            map.insert("email_verified".into(), verified);
            map
        };
        let account = "push@p.iam.gserviceaccount.com";
        for iss in ISSUERS {
            assert_eq!(
                v.check_sender(&claims(Some(iss), account, true.into())),
                Ok(())
            );
        }
        for (bad, why) in [
            (
                claims(Some("https://evil.example"), account, true.into()),
                "iss",
            ),
            (claims(None, account, true.into()), "iss"),
            (
                claims(Some(ISSUERS[0]), "other@p.iam", true.into()),
                "email",
            ),
            (
                claims(Some(ISSUERS[0]), account, false.into()),
                "email_verified",
            ),
            (
                claims(Some(ISSUERS[0]), account, "true".into()),
                "email_verified",
            ),
        ] {
            let err = v.check_sender(&bad).unwrap_err();
            assert!(err.detail().contains(why), "{bad:?}: {err:?}");
        }
    }

    #[test]
    fn what_the_route_reads_and_fetches() {
        let v = route();
        assert_eq!(v.provider(), "gcp-pubsub");
        assert_eq!(v.tolerance(), Some(Duration::from_secs(3600)));
        assert!(v.uses_public_url());
        assert_eq!(
            v.credential_header().map(http::HeaderName::as_str),
            Some("authorization")
        );
        assert_eq!(
            v.key_rule().as_deref(),
            Some(
                "JWKS https://www.googleapis.com/oauth2/v3/certs; iss accounts.google.com or \
                 https://accounts.google.com; aud https://hooks.example.com/p; email \
                 push@p.iam.gserviceaccount.com (email_verified)"
            )
        );
    }

    #[test]
    fn the_token_is_required_in_the_head_and_names_the_key() {
        use base64::Engine as _;
        let v = route();
        let b64 = |s: &str| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(s);
        let token = format!(
            "{}.e30.c2ln",
            b64(r#"{"alg":"RS256","typ":"JWT","kid":"g1"}"#)
        );
        let bearer = format!("Bearer {token}");
        let uri = http::Uri::from_static("/p");
        let ask = |auth: Option<&str>| {
            let mut map = http::HeaderMap::new();
            if let Some(auth) = auth {
                map.insert(http::header::AUTHORIZATION, auth.parse().unwrap());
            }
            let req = inbound(&http::Method::POST, &uri, &map);
            let needed = v.key_needed(&req, &Payload::from(&b"{}"[..]));
            (v.precheck(&req), needed)
        };
        let (head, needed) = ask(None);
        assert!(matches!(head, Err(Rejection::MissingSignature { .. })));
        assert!(needed.is_err());
        let (head, needed) = ask(Some(&bearer));
        assert_eq!(head, Ok(()));
        let key = needed.unwrap().expect("names a key set");
        assert_eq!(
            (key.url.as_str(), key.key_id.as_deref()),
            (GOOGLE_JWKS, Some("g1"))
        );
    }
}
