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
//! Does not check Entra ID (Azure AD) bearer tokens: their keys must be
//! fetched.

use std::borrow::Cow;
use std::time::Duration;

use http::{HeaderName, Method};
use ring::hmac;
use serde_json::Value;

use super::common::{header_bytes, header_name};
use super::handshake;
use super::keys::{is_active, no_match_detail, Blind, SECRET};
use super::{
    BuildError, Dedup, HandshakeReply, Inbound, ProviderInfo, ProviderParams, Rejection, Verified,
    Verifier,
};
use crate::body::Payload;

/// Longest validation code echoed; Event Grid's are GUIDs.
const MAX_CODE: usize = 512;

const VALIDATION_EVENT: &str = "Microsoft.EventGrid.SubscriptionValidationEvent";

/// The row of `hookguard providers`.
pub(crate) fn info(name: &'static str) -> ProviderInfo {
    ProviderInfo {
        name,
        algorithm: "shared key",
        headers: "configured: query parameter token_query, or header token_header".into(),
        signed: "nothing (a shared key)".into(),
        ..ProviderInfo::default()
    }
}

/// Where the key travels.
enum KeyAt {
    Header(HeaderName),
    Query(String),
}

/// A built Event Grid verifier: each secret only as a blinded tag.
pub(crate) struct EventGridVerifier {
    provider: &'static str,
    at: KeyAt,
    blind: Blind,
    keys: Vec<(hmac::Tag, Option<i64>)>,
}

impl EventGridVerifier {
    /// Builds from the route's secrets and where its key travels.
    pub(crate) fn build(
        provider: &'static str,
        params: ProviderParams<'_>,
    ) -> Result<Self, BuildError> {
        let at = match (params.token_header, params.token_query) {
            (Some(h), None) => KeyAt::Header(header_name("token_header", h)?),
            (None, Some(q)) => KeyAt::Query(q.to_owned()),
            (None, None) => {
                return Err(BuildError {
                    field: "token_query".into(),
                    message: format!(
                        "provider {provider:?} needs to know where its key is: set token_query \
                         (the endpoint URL's query parameter) or token_header (a delivery \
                         attribute header)"
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
        let blind = Blind::new()?;
        let keys = blind.seal_secrets(params.secrets)?;
        Ok(Self {
            provider,
            at,
            blind,
            keys,
        })
    }

    /// The key as received: the header's value, or the query parameter's,
    /// percent-decoded; a repeated parameter is refused (ambiguous).
    fn key<'r>(&self, req: &'r Inbound<'_>) -> Result<Cow<'r, [u8]>, Rejection> {
        match &self.at {
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
        match &self.at {
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
        None
    }

    fn credential_header(&self) -> Option<&HeaderName> {
        match &self.at {
            KeyAt::Header(name) => Some(name),
            KeyAt::Query(_) => None,
        }
    }

    fn credential_query(&self) -> Option<&str> {
        match &self.at {
            KeyAt::Query(name) => Some(name),
            KeyAt::Header(_) => None,
        }
    }

    fn extra_methods(&self) -> &'static [Method] {
        &[Method::OPTIONS]
    }

    fn challenge(&self, req: &Inbound<'_>) -> Option<Result<HandshakeReply, Rejection>> {
        handshake::cloudevents_options(req)
    }

    fn precheck(&self, req: &Inbound<'_>) -> Result<(), Rejection> {
        self.key(req).map(|_| ())
    }

    fn verify(&self, req: &Inbound<'_>, _body: &Payload) -> Result<Verified, Rejection> {
        let received = self.key(req)?;
        let mut found = None;
        for (i, (sealed, expires)) in self.keys.iter().enumerate() {
            if is_active(*expires, req.now_ms)
                && self.blind.matches(&received, sealed)
                && found.is_none()
            {
                found = Some(i);
            }
        }
        match found {
            Some(secret_index) => Ok(Verified {
                secret_index,
                event_id: None,
                // The events' ids are not signed.
                dedup: Dedup::None,
            }),
            None => Err(Rejection::InvalidSignature {
                detail: no_match_detail(
                    &format!("{}: key does not match", self.where_()),
                    SECRET,
                    self.keys.iter().map(|(_, e)| *e),
                    req.now_ms,
                    None,
                ),
            }),
        }
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
