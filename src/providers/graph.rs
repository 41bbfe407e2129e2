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
//! Rich notifications (with resource data) also carry `validationTokens`:
//! one JWT per app and tenant of the batch, signed by the Microsoft identity
//! platform (`entra.rs`). A route that sets `app_id` requires them: every
//! token must verify against the identity platform's JWKS, name the route's
//! `app_id` as `aud` and Graph's change-tracking app as `appid`/`azp`, and
//! a batch without them is refused (rich notifications always carry them,
//! so their absence means a sender that could not get one). Without
//! `app_id` they are not checked.

use std::time::Duration;

use serde::Deserialize;
use serde_json::Value;

use super::entra::{EntraToken, Tenant, COMMON_JWKS, GRAPH_PUBLISHER};
use super::handshake::{ChallengeKeys, Handshake};
use super::jwks::fetched_set;
use super::keys::SealedSecrets;
use super::params::FetchSetting;
use super::{
    BuildError, Dedup, HandshakeReply, Inbound, KeyRef, ProviderInfo, ProviderParams, Rejection,
    Verified, Verifier,
};
use crate::body::Payload;

/// The row of `hookguard providers`.
pub(crate) fn info(name: &'static str) -> ProviderInfo {
    ProviderInfo {
        name,
        algorithm: "shared clientState; with app_id, Entra JWTs (RS256), fetched JWKS",
        headers: "none: body JSON {\"value\":[{\"clientState\":<secret>,...},...], \
                  \"validationTokens\":[<JWT>,...]}"
            .into(),
        signed: "clientState of every item compared; with app_id, every validationTokens JWT \
                 (aud=<app_id>, appid/azp=Graph, iss of its tid, exp), not the body"
            .into(),
        ..ProviderInfo::default()
    }
}

/// Most `validationTokens` in one batch (one per app and tenant in it);
/// more is refused, which bounds the signature checks one request costs.
const MAX_TOKENS: usize = 32;

/// A built Graph verifier: each secret only as a blinded tag, and the
/// `validationTokens` rule when the route sets `app_id`.
pub(crate) struct GraphVerifier {
    provider: &'static str,
    states: SealedSecrets,
    tokens: Option<EntraToken>,
}

impl GraphVerifier {
    /// Builds from the route's secrets (each a subscription's `clientState`).
    pub(crate) fn build(
        provider: &'static str,
        params: ProviderParams<'_>,
    ) -> Result<Self, BuildError> {
        Ok(Self {
            provider,
            states: SealedSecrets::new(params.secrets)?,
            tokens: tokens_rule(provider, &params)?,
        })
    }

    /// Every `validationTokens` JWT of the batch, against the fetched keys.
    fn check_tokens(
        &self,
        rule: &EntraToken,
        batch: &Value,
        req: &Inbound<'_>,
    ) -> Result<(), Rejection> {
        let listed = batch
            .get("validationTokens")
            .and_then(Value::as_array)
            .ok_or_else(no_tokens)?;
        let mut tokens = Vec::with_capacity(listed.len());
        for (n, token) in listed.iter().enumerate() {
            tokens.push(token.as_str().ok_or_else(|| Rejection::InvalidSignature {
                detail: format!("validationTokens[{n}] is not a string"),
            })?);
        }
        let keys = fetched_set(req)?;
        for (n, token) in usable(&tokens)?.iter().enumerate() {
            rule.check_token(keys, token, req.now_ms)
                .map_err(|r| at_token(n, r))?;
        }
        Ok(())
    }
}

impl Verifier for GraphVerifier {
    fn provider(&self) -> &str {
        self.provider
    }

    fn tolerance(&self) -> Option<Duration> {
        self.tokens.as_ref().and_then(EntraToken::tolerance)
    }

    fn precheck(&self, _req: &Inbound<'_>) -> Result<(), Rejection> {
        Ok(()) // clientState and validationTokens live in the body
    }

    fn key_needed(&self, _req: &Inbound<'_>, body: &Payload) -> Result<Option<KeyRef>, Rejection> {
        let Some(rule) = &self.tokens else {
            return Ok(None);
        };
        // The first token names the key set; one request fetches at most once.
        let listed: TokenList =
            serde_json::from_slice(&body.contiguous()).map_err(|_| no_tokens())?;
        let tokens = listed.tokens.ok_or_else(no_tokens)?;
        rule.key_for_token(&usable(&tokens)?[0])
            .map(Some)
            .map_err(|r| at_token(0, r))
    }

    fn key_rule(&self) -> Option<String> {
        self.tokens
            .as_ref()
            .map(|rule| format!("validationTokens: {}", rule.rule()))
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
            let Some(i) = self.states.matching(state.as_bytes(), req.now_ms) else {
                let mismatch = format!("value[{n}].clientState does not match");
                return Err(Rejection::InvalidSignature {
                    detail: self.states.no_match(&mismatch, req.now_ms),
                });
            };
            first.get_or_insert(i);
        }
        if let Some(rule) = &self.tokens {
            self.check_tokens(rule, &batch, req)?;
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

/// The `validationTokens` rule of a route that sets `app_id`: Graph's
/// publisher, tokens of any tenant (`tid`), keys at the identity platform's
/// common JWKS unless `[route.keys] url` names others.
fn tokens_rule(
    provider: &'static str,
    params: &ProviderParams<'_>,
) -> Result<Option<EntraToken>, BuildError> {
    let Some(fetch) = params.fetch else {
        return Ok(None);
    };
    fetch.refuse_unread(provider, &[FetchSetting::Url, FetchSetting::AppId])?;
    let app_id = fetch.app_id.clone().ok_or_else(|| BuildError {
        field: "app_id".into(),
        message: "[route.keys] applies to the validationTokens check, which needs app_id: \
                  set it to the application id your subscriptions are created with"
            .into(),
    })?;
    let jwks = fetch.url.clone().unwrap_or_else(|| COMMON_JWKS.to_owned());
    EntraToken::new(
        provider,
        params.tolerance,
        app_id,
        Tenant::OfToken,
        Some(GRAPH_PUBLISHER),
        jwks,
    )
    .map(Some)
}

/// The part of a batch `key_needed` reads: the tokens, nothing else kept.
#[derive(Deserialize)]
struct TokenList {
    #[serde(rename = "validationTokens")]
    tokens: Option<Vec<String>>,
}

/// `tokens`, when a route with `app_id` can check them: at least one, at
/// most [`MAX_TOKENS`].
fn usable<T>(tokens: &[T]) -> Result<&[T], Rejection> {
    match tokens.len() {
        0 => Err(no_tokens()),
        n if n > MAX_TOKENS => Err(Rejection::InvalidSignature {
            detail: format!("{n} validationTokens, at most {MAX_TOKENS}"),
        }),
        _ => Ok(tokens),
    }
}

fn no_tokens() -> Rejection {
    Rejection::MissingSignature {
        detail: "no validationTokens: a route with app_id accepts only notifications with \
                 resource data, which always carry them"
            .into(),
    }
}

/// `r` about token `n` of the batch.
fn at_token(n: usize, r: Rejection) -> Rejection {
    let detail = format!("validationTokens[{n}]: {}", r.detail());
    match r {
        Rejection::MissingSignature { .. } => Rejection::MissingSignature { detail },
        Rejection::InvalidSignature { .. } => Rejection::InvalidSignature { detail },
        Rejection::TimestampOutOfTolerance { .. } => Rejection::TimestampOutOfTolerance { detail },
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

    use super::super::testutil::{headers, inbound, kind, run, secrets, verifier};
    use super::*;

    fn challenge(method: Method, path: &str) -> Option<Result<HandshakeReply, Rejection>> {
        let v = verifier("microsoft-graph", &secrets(&["state-1"]));
        let uri: Uri = path.parse().unwrap();
        let map = headers(&[]);
        let req = inbound(&method, &uri, &map);
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
    fn with_app_id_the_first_token_names_the_key_set_and_the_list_is_bounded() {
        use base64::Engine as _;
        let v = with_app_id();
        let b64 = |s: &str| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(s);
        let token = |kid: &str| {
            let head = format!(r#"{{"alg":"RS256","typ":"JWT","kid":"{kid}"}}"#);
            format!("{}.{}.c2ln", b64(&head), b64("{}"))
        };
        let uri: Uri = "/graph".parse().unwrap();
        let map = headers(&[]);
        let req = inbound(&Method::POST, &uri, &map);
        let needed = |tokens: Value| {
            let body = serde_json::json!({"value": [], "validationTokens": tokens});
            v.key_needed(&req, &Payload::from(body.to_string().as_bytes()))
        };
        let wanted = needed(serde_json::json!([token("k9"), token("k8")]))
            .unwrap()
            .unwrap();
        assert_eq!(wanted.url, super::super::entra::COMMON_JWKS);
        assert_eq!(wanted.key_id.as_deref(), Some("k9"));
        let most: Vec<String> = (0..MAX_TOKENS).map(|_| token("k9")).collect();
        assert!(needed(serde_json::json!(most)).is_ok());
        let many: Vec<String> = (0..=MAX_TOKENS).map(|_| token("k9")).collect();
        assert_eq!(
            kind(&needed(serde_json::json!(many)).map(|_| unreachable())),
            "invalid"
        );
        assert_eq!(
            kind(&needed(serde_json::json!([])).map(|_| unreachable())),
            "missing"
        );
        let none = v.key_needed(&req, &Payload::from(&br#"{"value":[]}"#[..]));
        assert_eq!(kind(&none.map(|_| unreachable())), "missing");
        let hs = b64(r#"{"alg":"HS256","typ":"JWT"}"#) + ".e30.c2ln";
        assert_eq!(
            kind(&needed(serde_json::json!([hs])).map(|_| unreachable())),
            "invalid"
        );
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

    /// A Graph route that checks `validationTokens` for this app.
    fn with_app_id() -> GraphVerifier {
        let fetch = crate::providers::FetchParams {
            app_id: Some("8e460676-ae3f-4b1e-8790-ee0fb5d6148f".into()),
            ..Default::default()
        };
        let params = ProviderParams {
            secrets: &secrets(&["state-1"]),
            fetch: Some(&fetch),
            ..ProviderParams::default()
        };
        GraphVerifier::build("microsoft-graph", params).unwrap()
    }

    #[test]
    fn only_the_token_rule_has_a_window_and_a_key_rule() {
        let plain = verifier("microsoft-graph", &secrets(&["state-1"]));
        assert_eq!(plain.provider(), "microsoft-graph");
        assert_eq!((plain.tolerance(), plain.key_rule()), (None, None));
        let rich = with_app_id();
        assert_eq!(rich.tolerance(), Some(Duration::from_secs(300)));
        let rule = rich.key_rule().unwrap();
        assert!(
            rule.starts_with("validationTokens: JWKS ")
                && rule.contains("aud 8e460676-ae3f-4b1e-8790-ee0fb5d6148f"),
            "{rule}"
        );
    }

    #[test]
    fn sign_has_no_header_to_print() {
        let req = crate::providers::SignRequest {
            body: b"{}",
            timestamp: 0,
            id: None,
            url: None,
            method: "POST",
        };
        let refused = crate::providers::sign("microsoft-graph", b"state-1", &req).err();
        assert_eq!(refused.expect("nothing to sign").field, "provider");
    }
}
