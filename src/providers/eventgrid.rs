//! Family: Azure Event Grid webhook delivery — a shared key in a query
//! parameter of the endpoint URL (`token_query`) or in a delivery-attribute
//! header (`token_header`), and Event Grid's two subscription handshakes.
//!
//! The key is compared in constant time (blinded with HMAC under a random
//! key) with the unexpired secrets, and removed before forwarding unless the
//! route sets `forward_token` — from the query too, so the forwarded query
//! is the received one without that parameter. Handshakes:
//!
//! - Event Grid schema: a `SubscriptionValidationEvent` (header
//!   `aeg-event-type: SubscriptionValidation`) is answered with
//!   `{"validationResponse": "<validationCode>"}`, only after the key
//!   matched;
//! - CloudEvents 1.0 abuse protection: `OPTIONS` with
//!   `WebHook-Request-Origin` is answered with `WebHook-Allowed-Origin`
//!   (`handshake::cloudevents_options`, shared with any route that sets
//!   `cloudevents_handshake`).
//!
//! Or, instead of a key, Microsoft Entra ID: a route that sets `tenant` and
//! `audience` (the subscription's "Microsoft Entra tenant ID" and
//! "application ID or URI") requires `Authorization: Bearer <access token>`
//! on every delivery, checked against the tenant's JWKS (`entra.rs`) and
//! stripped before forwarding unless `forward_token`. A route uses one of
//! the two; the handshakes are the same for both.

use std::borrow::Cow;
use std::time::Duration;

use http::{HeaderName, Method};
use serde_json::Value;

use super::common::{header_bytes, header_name};
use super::entra::{check_tenant_id, EntraToken, Tenant};
use super::handshake;
use super::jwks::fetched_set;
use super::keys::SealedSecrets;
use super::params::{FetchParams, FetchSetting};
use super::{
    BuildError, Dedup, HandshakeReply, Inbound, KeyRef, ProviderInfo, ProviderParams, Rejection,
    Verified, Verifier,
};
use crate::body::Payload;

/// Longest validation code echoed; Event Grid's are GUIDs.
const MAX_CODE: usize = 512;

const VALIDATION_EVENT: &str = "Microsoft.EventGrid.SubscriptionValidationEvent";

/// The row of `hookguard providers`.
pub(crate) fn info(name: &'static str) -> ProviderInfo {
    ProviderInfo {
        name,
        algorithm: "shared key, or Microsoft Entra ID token",
        headers: "configured: query parameter token_query, header token_header, or \
                  authorization: Bearer <Entra access token>"
            .into(),
        signed: "nothing (a shared key); or JWT claims iss=<tenant>, aud=<audience>, exp".into(),
        ..ProviderInfo::default()
    }
}

/// Where the key travels.
enum KeyAt {
    Header(HeaderName),
    Query(String),
}

/// A built Event Grid verifier: a key, or an Entra token rule.
pub(crate) struct EventGridVerifier {
    provider: &'static str,
    auth: Auth,
}

/// How deliveries prove they come from the subscription.
enum Auth {
    /// A shared key, each secret only as a blinded tag.
    Key { at: KeyAt, keys: SealedSecrets },
    /// A Microsoft Entra ID access token.
    Entra(EntraToken),
}

impl EventGridVerifier {
    /// Builds from the route's secrets and where its key travels, or from
    /// its `tenant` and `audience`.
    pub(crate) fn build(
        provider: &'static str,
        params: ProviderParams<'_>,
    ) -> Result<Self, BuildError> {
        let auth = match params.fetch {
            Some(fetch) => Auth::Entra(entra_rule(provider, &params, fetch)?),
            None => key_rule(provider, &params)?,
        };
        Ok(Self { provider, auth })
    }
}

impl KeyAt {
    /// The key as received: the header's value, or the query parameter's,
    /// percent-decoded; a repeated parameter is refused (ambiguous).
    fn key<'r>(&self, req: &'r Inbound<'_>) -> Result<Cow<'r, [u8]>, Rejection> {
        match self {
            KeyAt::Header(name) => header_bytes(req.headers, name).map(Cow::Borrowed),
            KeyAt::Query(name) => {
                let query = req.uri.query().unwrap_or("");
                let mut values = form_urlencoded::parse(query.as_bytes())
                    .filter(|(k, _)| k == name.as_str())
                    .map(|(_, v)| v);
                match (values.next(), values.next()) {
                    (Some(v), None) if !v.is_empty() => Ok(Cow::Owned(v.into_owned().into_bytes())),
                    (Some(_), Some(_)) => Err(Rejection::InvalidSignature {
                        detail: format!("query parameter {name:?} is repeated"),
                    }),
                    _ => Err(Rejection::MissingSignature {
                        detail: format!("query parameter {name:?} is absent or empty"),
                    }),
                }
            }
        }
    }

    fn where_(&self) -> String {
        match self {
            KeyAt::Header(name) => format!("header {name:?}"),
            KeyAt::Query(name) => format!("query parameter {name:?}"),
        }
    }
}

impl Verifier for EventGridVerifier {
    fn provider(&self) -> &str {
        self.provider
    }

    fn tolerance(&self) -> Option<Duration> {
        match &self.auth {
            Auth::Entra(rule) => rule.tolerance(),
            Auth::Key { .. } => None,
        }
    }

    fn credential_header(&self) -> Option<&HeaderName> {
        match &self.auth {
            Auth::Key {
                at: KeyAt::Header(name),
                ..
            } => Some(name),
            Auth::Key { .. } => None,
            Auth::Entra(rule) => rule.header(),
        }
    }

    fn credential_query(&self) -> Option<&str> {
        match &self.auth {
            Auth::Key {
                at: KeyAt::Query(name),
                ..
            } => Some(name),
            _ => None,
        }
    }

    fn extra_methods(&self) -> &'static [Method] {
        &[Method::OPTIONS]
    }

    fn challenge(&self, req: &Inbound<'_>) -> Option<Result<HandshakeReply, Rejection>> {
        handshake::cloudevents_options(req)
    }

    fn precheck(&self, req: &Inbound<'_>) -> Result<(), Rejection> {
        match &self.auth {
            Auth::Key { at, .. } => at.key(req).map(|_| ()),
            Auth::Entra(rule) => rule.precheck(req),
        }
    }

    fn key_needed(&self, req: &Inbound<'_>, _body: &Payload) -> Result<Option<KeyRef>, Rejection> {
        match &self.auth {
            Auth::Key { .. } => Ok(None),
            Auth::Entra(rule) => rule.key_for_request(req).map(Some),
        }
    }

    fn key_rule(&self) -> Option<String> {
        match &self.auth {
            Auth::Key { .. } => None,
            Auth::Entra(rule) => Some(format!("Entra bearer token: {}", rule.rule())),
        }
    }

    fn verify(&self, req: &Inbound<'_>, body: &Payload) -> Result<Verified, Rejection> {
        let secret_index = match &self.auth {
            Auth::Key { at, keys } => matching_key(at, keys, req)?,
            Auth::Entra(rule) => {
                rule.check_request(fetched_set(req)?, req, body)?;
                0
            }
        };
        Ok(Verified {
            secret_index,
            event_id: None,
            // The events' ids are not signed.
            dedup: Dedup::None,
        })
    }

    fn handshake(&self, req: &Inbound<'_>, body: &Payload) -> Option<HandshakeReply> {
        let kind = req.headers.get("aeg-event-type")?;
        if kind.as_bytes() != b"SubscriptionValidation" {
            return None;
        }
        let events: Value = serde_json::from_slice(&body.contiguous()).ok()?;
        let event = events.as_array()?.first()?;
        if event.get("eventType")?.as_str()? != VALIDATION_EVENT {
            return None;
        }
        let code = event.get("data")?.get("validationCode")?.as_str()?;
        let printable = code.len() <= MAX_CODE && code.bytes().all(|b| (0x20..0x7f).contains(&b));
        printable.then(|| HandshakeReply {
            status: 200,
            content_type: "application/json",
            body: serde_json::json!({ "validationResponse": code })
                .to_string()
                .into_bytes(),
            headers: Vec::new(),
            note: None,
        })
    }
}

/// The index of the unexpired secret the received key equals, compared in
/// constant time with every one.
fn matching_key(at: &KeyAt, keys: &SealedSecrets, req: &Inbound<'_>) -> Result<usize, Rejection> {
    let received = at.key(req)?;
    keys.matching(&received, req.now_ms)
        .ok_or_else(|| Rejection::InvalidSignature {
            detail: keys.no_match(&format!("{}: key does not match", at.where_()), req.now_ms),
        })
}

/// A shared key: where it travels (`token_query` or `token_header`, one of
/// them) and the route's secrets.
fn key_rule(provider: &'static str, params: &ProviderParams<'_>) -> Result<Auth, BuildError> {
    let at = match (params.token_header, params.token_query) {
        (Some(h), None) => KeyAt::Header(header_name("token_header", h)?),
        (None, Some(q)) => KeyAt::Query(q.to_owned()),
        (None, None) => {
            return Err(BuildError {
                field: "token_query".into(),
                message: format!(
                    "provider {provider:?} needs to know how deliveries authenticate: set \
                     token_query (the endpoint URL's query parameter) or token_header (a \
                     delivery attribute header) with secrets, or tenant and audience \
                     (Microsoft Entra ID)"
                ),
            })
        }
        (Some(_), Some(_)) => {
            return Err(BuildError {
                field: "token_query".into(),
                message: "set token_query or token_header, not both".into(),
            })
        }
    };
    Ok(Auth::Key {
        at,
        keys: SealedSecrets::new(params.secrets)?,
    })
}

/// Microsoft Entra ID: `tenant` and `audience` both required, keys at the
/// tenant's JWKS unless `[route.keys] url`; no shared key beside it.
fn entra_rule(
    provider: &'static str,
    params: &ProviderParams<'_>,
    fetch: &FetchParams,
) -> Result<EntraToken, BuildError> {
    use FetchSetting::{Audience, Tenant as TenantSetting, Url};
    fetch.refuse_unread(provider, &[Url, Audience, TenantSetting])?;
    let mixed = [
        (params.token_query.is_some(), "token_query"),
        (params.token_header.is_some(), "token_header"),
        (!params.secrets.is_empty(), "secrets"),
    ];
    if let Some((_, field)) = mixed.iter().find(|(set, _)| *set) {
        return Err(BuildError {
            field: (*field).into(),
            message: format!(
                "this route authenticates Event Grid with Microsoft Entra ID (tenant, \
                 audience) and with a shared key ({field}): a route uses one; remove {field} \
                 or the Entra settings"
            ),
        });
    }
    let required = |value: &Option<String>, field: &str, what: &str| {
        value.clone().ok_or_else(|| BuildError {
            field: field.into(),
            message: format!("required with Microsoft Entra ID: {what}"),
        })
    };
    let tenant = required(
        &fetch.tenant,
        "tenant",
        "the tenant ID the subscription's tokens are issued by",
    )?;
    check_tenant_id(&tenant)?;
    let audience = required(
        &fetch.audience,
        "audience",
        "the application ID or application ID URI set on the event subscription",
    )?;
    let jwks = fetch
        .url
        .clone()
        .unwrap_or_else(|| EntraToken::tenant_jwks(&tenant));
    EntraToken::new(
        provider,
        params.tolerance,
        audience,
        Tenant::Fixed(tenant),
        None,
        jwks,
    )
}

/// `hookguard sign` prints the key where it travels: only a configured
/// route knows which parameter or header that is.
pub(crate) fn sign(
    _secret: &[u8],
    _req: &super::SignRequest<'_>,
) -> Result<Vec<(String, String)>, BuildError> {
    Err(BuildError {
        field: "provider".into(),
        message: "azure-eventgrid sends a shared key, not a signature: put the secret in the \
                  endpoint URL's query parameter or the delivery attribute header"
            .into(),
    })
}

#[cfg(test)]
#[path = "eventgrid_tests.rs"]
mod tests;
