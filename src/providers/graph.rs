//! Family: Microsoft Graph change notifications — a shared `clientState`
//! inside every item of the body's `value[]`, and the `validationToken`
//! handshake on subscription create and renew.
//!
//! Graph signs nothing in a basic notification: the subscription's
//! `clientState` (the route's secret) is echoed in each item. Every item
//! must carry an unexpired secret, compared in constant time (blinded with
//! HMAC under a random key, as the token family does); one item without it
//! refuses the whole batch, so a forged item cannot ride along with genuine
//! ones. The handshake (`POST ?validationToken=...`) is answered by the
//! proxy with the URL-decoded token as `text/plain`, before any body is
//! read, and never forwarded.
//!
//! Does not check rich notifications' `validationTokens` (JWTs signed by
//! Microsoft's identity platform, whose keys must be fetched): `clientState`
//! is checked for them as for basic notifications.

use std::time::Duration;

use ring::hmac;
use serde_json::Value;

use super::handshake::{ChallengeKeys, Handshake};
use super::keys::{is_active, no_match_detail, Blind, SECRET};
use super::{
    BuildError, Dedup, HandshakeReply, Inbound, ProviderInfo, ProviderParams, Rejection, Verified,
    Verifier,
};
use crate::body::Payload;

/// The row of `hookguard providers`.
pub(crate) fn info(name: &'static str) -> ProviderInfo {
    ProviderInfo {
        name,
        algorithm: "shared clientState",
        headers: "none: body JSON {\"value\":[{\"clientState\":<secret>,...},...]}".into(),
        signed: "nothing; clientState of every item compared".into(),
        ..ProviderInfo::default()
    }
}

/// A built Graph verifier: each secret only as a blinded tag.
pub(crate) struct GraphVerifier {
    provider: &'static str,
    blind: Blind,
    states: Vec<(hmac::Tag, Option<i64>)>,
}

impl GraphVerifier {
    /// Builds from the route's secrets (each a subscription's `clientState`).
    pub(crate) fn build(
        provider: &'static str,
        params: ProviderParams<'_>,
    ) -> Result<Self, BuildError> {
        let blind = Blind::new()?;
        let states = blind.seal_secrets(params.secrets)?;
        Ok(Self {
            provider,
            blind,
            states,
        })
    }

    /// The index of the unexpired secret `state` equals, in constant time.
    fn matching(&self, state: &[u8], now_ms: i64) -> Option<usize> {
        let mut found = None;
        for (i, (tag, expires)) in self.states.iter().enumerate() {
            if is_active(*expires, now_ms) && self.blind.matches(state, tag) && found.is_none() {
                found = Some(i);
            }
        }
        found
    }
}

impl Verifier for GraphVerifier {
    fn provider(&self) -> &str {
        self.provider
    }

    fn tolerance(&self) -> Option<Duration> {
        None
    }

    fn precheck(&self, _req: &Inbound<'_>) -> Result<(), Rejection> {
        Ok(()) // clientState lives in the body
    }

    fn verify(&self, req: &Inbound<'_>, body: &Payload) -> Result<Verified, Rejection> {
        let batch: Value = serde_json::from_slice(&body.contiguous()).map_err(|_| {
            Rejection::MissingSignature {
                detail: "body is not a JSON notification batch".into(),
            }
        })?;
        let items = batch
            .get("value")
            .and_then(Value::as_array)
            .filter(|items| !items.is_empty())
            .ok_or_else(|| Rejection::MissingSignature {
                detail: "body has no notification in \"value\"".into(),
            })?;
        let mut first = None;
        for (n, item) in items.iter().enumerate() {
            let state = item
                .get("clientState")
                .and_then(Value::as_str)
                .ok_or_else(|| Rejection::MissingSignature {
                    detail: format!("value[{n}] has no clientState"),
                })?;
            let Some(i) = self.matching(state.as_bytes(), req.now_ms) else {
                let mismatch = format!("value[{n}].clientState does not match");
                return Err(Rejection::InvalidSignature {
                    detail: no_match_detail(
                        &mismatch,
                        SECRET,
                        self.states.iter().map(|(_, e)| *e),
                        req.now_ms,
                        None,
                    ),
                });
            };
            first.get_or_insert(i);
        }
        Ok(Verified {
            secret_index: first.unwrap_or(0),
            event_id: None,
            // Nothing in a notification is signed.
            dedup: Dedup::None,
        })
    }

    fn challenge(&self, req: &Inbound<'_>) -> Option<Result<HandshakeReply, Rejection>> {
        Handshake::GraphValidationToken.challenge(req, ChallengeKeys::default(), false)
    }
}

/// `hookguard sign` has no header to print: the secret travels in the body.
pub(crate) fn sign(
    _secret: &[u8],
    _req: &super::SignRequest<'_>,
) -> Result<Vec<(String, String)>, BuildError> {
    Err(BuildError {
        field: "provider".into(),
        message: "microsoft-graph sends no signature header: its secret is the clientState \
                  inside each notification of the body"
            .into(),
    })
}

#[cfg(test)]
mod tests {
    use http::{Method, Uri};

    use super::super::testutil::{headers, kind, run, secrets, verifier};
    use super::*;

    fn challenge(method: Method, path: &str) -> Option<Result<HandshakeReply, Rejection>> {
        let v = verifier("microsoft-graph", &secrets(&["state-1"]));
        let uri: Uri = path.parse().unwrap();
        let map = headers(&[]);
        let req = Inbound {
            method: &method,
            uri: &uri,
            headers: &map,
            public_url: "",
            now_ms: 0,
            key: None,
        };
        v.challenge(&req)
    }

    #[test]
    fn validation_token_is_echoed_decoded_as_text() {
        // Microsoft Learn "Receive change notifications through webhooks":
        // the token arrives URL-encoded and is answered decoded.
        let got = challenge(
            Method::POST,
            "/graph?validationToken=Validation%3a+Testing+client+application+reachability",
        )
        .unwrap()
        .unwrap();
        assert_eq!(got.status, 200);
        assert_eq!(got.content_type, "text/plain");
        assert_eq!(
            got.body,
            b"Validation: Testing client application reachability"
        );
        assert!(challenge(Method::POST, "/graph").is_none());
        assert!(challenge(Method::POST, "/graph?other=1").is_none());
        let long = format!("/graph?validationToken={}", "a".repeat(2000));
        assert_eq!(
            kind(
                &challenge(Method::POST, &long)
                    .unwrap()
                    .map(|_| unreachable())
            ),
            "invalid"
        );
        let markup = challenge(Method::POST, "/graph?validationToken=%3Cscript%3E%0A");
        assert!(markup.unwrap().is_err());
    }

    fn unreachable() -> Verified {
        panic!("refused above")
    }

    #[test]
    fn microsoft_learn_sample_notification_verifies() {
        // Microsoft Learn "Receive change notifications through webhooks",
        // the example notification (clientState "secretClientValue").
        let body = r##"{"value":[{"id":"lsgTZMr9KwAAA","subscriptionId":"{subscription_guid}","subscriptionExpirationDateTime":"2016-03-19T22:11:09.952Z","clientState":"secretClientValue","changeType":"created","resource":"users/{user_guid}@{tenant_guid}/messages/{long_id_string}","tenantId":"84bd8158-6d4d-4958-8b9f-9d6445542f95","resourceData":{"@odata.type":"#Microsoft.Graph.Message","@odata.id":"Users/{user_guid}@{tenant_guid}/Messages/{long_id_string}","@odata.etag":"W/\"CQAAABYAAADkrWGo7bouTKlsgTZMr9KwAAAUWRHf\"","id":"{long_id_string}"}}]}"##;
        let v = verifier("microsoft-graph", &secrets(&["secretClientValue"]));
        assert_eq!(kind(&run(&v, &headers(&[]), body.as_bytes(), 0)), "ok");
        let v = verifier("microsoft-graph", &secrets(&["otherValue"]));
        assert_eq!(kind(&run(&v, &headers(&[]), body.as_bytes(), 0)), "invalid");
    }

    #[test]
    fn every_item_must_carry_an_unexpired_client_state() {
        let v = verifier("microsoft-graph", &secrets(&["old", "state-1"]));
        let h = headers(&[]);
        let batch = |states: &[Option<&str>]| {
            let items: Vec<Value> = states
                .iter()
                .map(|s| match s {
                    Some(s) => serde_json::json!({"clientState": s, "changeType": "created"}),
                    None => serde_json::json!({"changeType": "created"}),
                })
                .collect();
            serde_json::json!({ "value": items }).to_string()
        };
        let at = |body: &str| run(&v, &h, body.as_bytes(), 0);
        let ok = at(&batch(&[Some("state-1"), Some("old")])).unwrap();
        assert_eq!(ok.secret_index, 1);
        assert_eq!(ok.dedup, Dedup::None);
        assert_eq!(
            kind(&at(&batch(&[Some("state-1"), Some("forged")]))),
            "invalid"
        );
        assert_eq!(kind(&at(&batch(&[Some("state-1"), None]))), "missing");
        assert_eq!(kind(&at(&batch(&[]))), "missing");
        assert_eq!(kind(&at("not json")), "missing");
        assert_eq!(kind(&at(r#"{"value":[{"clientState":7}]}"#)), "missing");
    }
}
