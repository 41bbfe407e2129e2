//! Family: Strava webhook events — nothing signed; the body's
//! `subscription_id` compared with the route's, and the `hub.challenge`
//! subscription check answered.
//!
//! Strava signs no event (developers.strava.com "Webhook Events API"): its
//! only authentication is the subscription check, a GET carrying the
//! `verify_token` the app chose, answered with `{"hub.challenge": ..}`
//! within two seconds. Events then carry the `subscription_id` Strava
//! returned when the subscription was created, which the route's secrets
//! name. That id is a number known to whoever created the subscription, not
//! a key: it stops requests meant for another app, not a forger who learnt
//! it, so each route should also restrict `allow_ips` where it can. The
//! docs say so (`docs/providers.md`, Strava).
//!
//! Owns reading the event (`serde_json`), its shape (the fields and values
//! Strava documents), the id comparison (blinded, constant time) and the
//! handshake wiring.

use std::time::Duration;

use serde_json::Value;

use super::handshake::{ChallengeKeys, Handshake};
use super::keys::SealedSecrets;
use super::{
    BuildError, Dedup, HandshakeReply, Inbound, ProviderInfo, ProviderParams, Rejection, Verified,
    Verifier,
};
use crate::body::Payload;
use crate::secret::Secret;

/// The row of `hookguard providers`.
pub(crate) fn info(name: &'static str) -> ProviderInfo {
    ProviderInfo {
        name,
        algorithm: "none (unsigned): subscription_id compared",
        headers:
            "none: body JSON {\"subscription_id\":<secret>,\"object_type\",\"aspect_type\",...}"
                .into(),
        signed: "nothing; subscription_id must equal a route secret".into(),
        ..ProviderInfo::default()
    }
}

/// `object_type` values Strava documents.
const OBJECT_TYPES: &[&str] = &["activity", "athlete"];
/// `aspect_type` values Strava documents.
const CHANGE_TYPES: &[&str] = &["create", "update", "delete"];

/// A built Strava verifier: each subscription id only as a blinded tag.
pub(crate) struct StravaVerifier {
    provider: &'static str,
    ids: SealedSecrets,
    verify_token: Option<Secret>,
}

impl StravaVerifier {
    /// Builds from the route's secrets, each a subscription id (digits),
    /// and its `verify_token` for the subscription check.
    pub(crate) fn build(
        provider: &'static str,
        params: ProviderParams<'_>,
    ) -> Result<Self, BuildError> {
        for (i, s) in params.secrets.iter().enumerate() {
            if !s.value.expose().iter().all(u8::is_ascii_digit) {
                return Err(BuildError {
                    field: format!("secrets[{i}]"),
                    message: "a Strava subscription id is a number (the id returned when the \
                              subscription was created)"
                        .into(),
                });
            }
        }
        Ok(Self {
            provider,
            ids: SealedSecrets::new(params.secrets)?,
            verify_token: params.verify_token.cloned(),
        })
    }
}

/// The event's `subscription_id` as decimal text, once its documented
/// fields have their documented types and values.
fn subscription_id(event: &Value) -> Result<String, Rejection> {
    let missing = |detail: &str| Rejection::MissingSignature {
        detail: detail.into(),
    };
    let id = event
        .get("subscription_id")
        .ok_or_else(|| missing("body has no subscription_id"))?
        .as_u64()
        .ok_or_else(|| missing("subscription_id is not a whole number"))?;
    for (field, allowed) in [("object_type", OBJECT_TYPES), ("aspect_type", CHANGE_TYPES)] {
        let value = event.get(field).and_then(Value::as_str);
        if !value.is_some_and(|v| allowed.contains(&v)) {
            return Err(missing(&format!(
                "{field} is not one of {}",
                allowed.join(", ")
            )));
        }
    }
    for field in ["object_id", "owner_id", "event_time"] {
        if event.get(field).and_then(Value::as_u64).is_none() {
            return Err(missing(&format!("{field} is not a whole number")));
        }
    }
    Ok(id.to_string())
}

impl Verifier for StravaVerifier {
    fn provider(&self) -> &str {
        self.provider
    }

    fn tolerance(&self) -> Option<Duration> {
        None // event_time is not signed: a window on it would prove nothing
    }

    fn extra_methods(&self) -> &'static [http::Method] {
        // [GET]; `Method::default()` is GET too, so a mutant returning
        // `[Default::default()]` survives as an equivalent.
        Handshake::StravaSubscribe.extra_methods()
    }

    fn precheck(&self, _req: &Inbound<'_>) -> Result<(), Rejection> {
        Ok(()) // subscription_id lives in the body
    }

    fn verify(&self, req: &Inbound<'_>, body: &Payload) -> Result<Verified, Rejection> {
        let event: Value = serde_json::from_slice(&body.contiguous()).map_err(|_| {
            Rejection::MissingSignature {
                detail: "body is not a JSON event".into(),
            }
        })?;
        let id = subscription_id(&event)?;
        let Some(index) = self.ids.matching(id.as_bytes(), req.now_ms) else {
            return Err(Rejection::InvalidSignature {
                detail: self
                    .ids
                    .no_match("subscription_id does not match", req.now_ms),
            });
        };
        Ok(Verified {
            secret_index: index,
            event_id: None,
            dedup: Dedup::None, // nothing in an event is signed
        })
    }

    fn challenge(&self, req: &Inbound<'_>) -> Option<Result<HandshakeReply, Rejection>> {
        let keys = ChallengeKeys {
            verify_token: self.verify_token.as_ref(),
            crc_key: None,
        };
        Handshake::StravaSubscribe.challenge(req, keys, false)
    }
}

/// `hookguard sign` has nothing to sign for Strava.
pub(crate) fn sign(
    _secret: &[u8],
    _req: &super::SignRequest<'_>,
) -> Result<Vec<(String, String)>, BuildError> {
    Err(BuildError {
        field: "provider".into(),
        message: "strava signs nothing: its events carry the subscription_id in the body".into(),
    })
}

#[cfg(test)]
mod tests {
    use http::{Method, Uri};

    use super::super::testutil::{headers, inbound, kind, run, secrets, verifier};
    use super::super::{build, ProviderParams};
    use super::*;

    /// An event shaped as in Strava's "Webhook Events API" docs (its
    /// example update of an activity's title).
    const EVENT: &str = r#"{"aspect_type":"update","event_time":1516126040,"object_id":1360128428,"object_type":"activity","owner_id":134815,"subscription_id":120475,"updates":{"title":"Messy"}}"#;

    #[test]
    fn subscription_id_and_documented_shape_are_required() {
        let v = verifier("strava", &secrets(&["120475"]));
        let h = headers(&[]);
        assert_eq!(kind(&run(&v, &h, EVENT.as_bytes(), 1_516_126_041)), "ok");
        let other = EVENT.replace("120475", "120476");
        assert_eq!(kind(&run(&v, &h, other.as_bytes(), 0)), "invalid");
        for (from, to) in [
            (
                "\"subscription_id\":120475",
                "\"subscription_id\":\"120475\"",
            ),
            ("\"subscription_id\":120475,", ""),
            ("\"activity\"", "\"route\""),
            ("\"update\"", "\"upsert\""),
            ("\"owner_id\":134815", "\"owner_id\":\"134815\""),
            ("\"object_id\":1360128428", "\"object_id\":-1"),
            ("\"event_time\":1516126040,", ""),
        ] {
            let changed = EVENT.replace(from, to);
            assert_ne!(changed, EVENT);
            assert_eq!(kind(&run(&v, &h, changed.as_bytes(), 0)), "missing", "{to}");
        }
        assert_eq!(kind(&run(&v, &h, b"not json", 0)), "missing");
        // An athlete deauthorising the app (Strava docs): accepted.
        let deauth = r#"{"aspect_type":"update","event_time":1516126040,"object_id":134815,"object_type":"athlete","owner_id":134815,"subscription_id":120475,"updates":{"authorized":"false"}}"#;
        assert_eq!(kind(&run(&v, &h, deauth.as_bytes(), 0)), "ok");
        // Rotation: either id of two routes' subscriptions verifies.
        let two = verifier("strava", &secrets(&["1", "120475"]));
        assert_eq!(run(&two, &h, EVENT.as_bytes(), 0).unwrap().secret_index, 1);
    }

    #[test]
    fn settings_it_cannot_honour_are_refused() {
        let s = secrets(&["whsec_abc"]);
        let params = ProviderParams {
            secrets: &s,
            ..ProviderParams::default()
        };
        let err = build("strava", params).err().expect("refused");
        assert_eq!(err.field, "secrets[0]");
        // Nothing is signed: no window to set, nothing to sign.
        let s = secrets(&["120475"]);
        let params = ProviderParams {
            secrets: &s,
            tolerance: Some(Duration::from_secs(60)),
            ..ProviderParams::default()
        };
        assert_eq!(
            build("strava", params).err().expect("refused").field,
            "tolerance"
        );
        assert!(verifier("strava", &s).tolerance().is_none());
        let req = crate::providers::SignRequest {
            body: EVENT.as_bytes(),
            timestamp: 0,
            id: None,
            method: "POST",
            url: None,
        };
        let refused = crate::providers::sign("strava", b"120475", &req).err();
        assert_eq!(refused.expect("nothing to sign").field, "provider");
    }

    #[test]
    fn subscription_check_answers_json_with_the_verify_token() {
        // Strava "Webhook Events API", subscription validation request.
        let s = secrets(&["120475"]);
        let token = Secret::new(b"STRAVA".to_vec());
        let params = ProviderParams {
            secrets: &s,
            verify_token: Some(&token),
            ..ProviderParams::default()
        };
        let v = build("strava", params).unwrap();
        let ask = |uri: &'static str| {
            let (get, uri, h) = (Method::GET, Uri::from_static(uri), headers(&[]));
            let req = inbound(&get, &uri, &h);
            v.challenge(&req)
        };
        let reply = ask("/s?hub.verify_token=STRAVA&hub.challenge=15f7d1a91c1f40f8a748fd134752feb3&hub.mode=subscribe")
            .unwrap()
            .unwrap();
        assert_eq!(
            (reply.status, reply.content_type),
            (200, "application/json")
        );
        let body: Value = serde_json::from_slice(&reply.body).unwrap();
        assert_eq!(
            body,
            serde_json::json!({ "hub.challenge": "15f7d1a91c1f40f8a748fd134752feb3" })
        );
        let wrong = ask("/s?hub.verify_token=OTHER&hub.challenge=1&hub.mode=subscribe");
        assert!(matches!(
            wrong,
            Some(Err(Rejection::InvalidSignature { .. }))
        ));
        let markup = ask("/s?hub.verify_token=STRAVA&hub.challenge=%3Cb%3E%0A&hub.mode=subscribe");
        assert!(matches!(
            markup,
            Some(Err(Rejection::InvalidSignature { .. }))
        ));
        assert!(ask("/s?hub.challenge=1").is_none());
        assert_eq!(v.extra_methods(), &[Method::GET]);
    }
}
