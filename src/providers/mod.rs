//! Provider signature schemes: one trait, one file per scheme family.
//!
//! This module owns *how a provider proves a request is genuine*: which headers
//! carry the signature, what bytes are signed, how keys are decoded, and how a
//! signed timestamp or id is read. It does not own routing, body limits, the
//! replay store or responses — the proxy pipeline does, and turns a
//! [`Rejection`] into a status code in exactly one place.
//!
//! Every comparison of a received signature against an expected one is
//! constant-time (`ring::hmac::verify`, or an asymmetric verify).

mod adyen;
mod asymmetric;
mod body_fields;
mod braintree;
mod canonical;
mod catalog;
mod cert;
mod common;
mod delimit;
mod dropbox_sign;
mod entra;
mod eventgrid;
mod fal;
mod fetched;
mod generic;
mod graph;
mod handshake;
mod hmac;
mod jwks;
mod jwt;
mod jwt_sign;
mod keys;
mod kinde;
mod params;
mod paypal;
mod plaid;
mod pubsub;
mod recurly;
mod signed_url;
mod sns;
mod standard_webhooks;
mod strava;
mod structured;
mod template;
#[cfg(test)]
#[path = "mod_tests.rs"]
mod tests;
#[cfg(test)]
mod testutil;
mod token;
mod url;
#[cfg(test)]
mod vectors;

use std::sync::Arc;
use std::time::Duration;

use http::{HeaderMap, Method, Uri};

use crate::body::Payload;
pub use fetched::{FetchedKey, KeyMaterial, KeyRef, KeyRequest, ParseKey, UrlPrefix};
pub use params::{
    FetchParams, GenericHmac, HmacAlgorithm, HmacKeyEncoding, HmacMode, HmacTimestampFormat,
    ProviderParams, SecretEntry, SignatureEncoding, SnsConfirm,
};
pub(crate) use signed_url::UrlTarget;

/// What a verifier sees of an inbound request: the head only; the body is
/// passed separately once it has been read under the route's limit.
#[derive(Clone, Copy)]
pub struct Inbound<'a> {
    /// The request method as received.
    pub method: &'a Method,
    /// Path and query exactly as received (before any upstream rewrite).
    pub uri: &'a Uri,
    /// The inbound headers.
    pub headers: &'a HeaderMap,
    /// The public URL the provider called (`public_url`, else rebuilt from
    /// scheme, Host and path), its query the one forwarded — for schemes
    /// that sign the URL; empty for the others (see [`Verifier::signed_url`]).
    pub public_url: &'a str,
    /// Wall-clock time of arrival, Unix milliseconds; one reading per request
    /// so every check agrees on "now".
    pub now_ms: i64,
    /// The key fetched for this request, when [`Verifier::key_needed`]
    /// named one; `None` for every scheme whose keys are configured.
    pub key: Option<&'a FetchedKey>,
}

impl std::fmt::Debug for Inbound<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Inbound")
            .field("method", self.method)
            .field("uri", self.uri)
            .field("public_url", &self.public_url)
            .field("now_ms", &self.now_ms)
            .field("key", &self.key.is_some())
            .finish_non_exhaustive()
    }
}

/// Why a request failed verification. The pipeline maps each variant to its
/// status code and JSON error code; `detail` strings go only to the audit log
/// and must never contain a secret, a signature or the body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rejection {
    /// The header (or field) that carries the signature, or material it signs
    /// (a signed timestamp or id), is absent. → 401 `missing_signature`.
    MissingSignature {
        /// What was missing, e.g. `header "x-hub-signature-256"`.
        detail: String,
    },
    /// No active secret or key verifies the request, or the signature is
    /// malformed. → 401 `invalid_signature`.
    InvalidSignature {
        /// Why, redacted: encoding seen, prefix, number of secrets tried.
        detail: String,
    },
    /// The signed timestamp is absent from the allowed window, in the past or
    /// the future, or is not a usable time at all. → 401
    /// `timestamp_out_of_tolerance`.
    TimestampOutOfTolerance {
        /// How far outside the window, or why it could not be read.
        detail: String,
    },
}

impl Rejection {
    /// The stable JSON error code the proxy answers with.
    pub fn code(&self) -> &'static str {
        match self {
            Self::MissingSignature { .. } => "missing_signature",
            Self::InvalidSignature { .. } => "invalid_signature",
            Self::TimestampOutOfTolerance { .. } => "timestamp_out_of_tolerance",
        }
    }

    /// The redacted detail (audit log and explanations only).
    pub fn detail(&self) -> &str {
        match self {
            Self::MissingSignature { detail }
            | Self::InvalidSignature { detail }
            | Self::TimestampOutOfTolerance { detail } => detail,
        }
    }
}

/// What a successful verification proves, for de-duplication and the audit log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified {
    /// Index (in the route's `secrets`/`public_keys`) of the entry that matched.
    pub secret_index: usize,
    /// The signed event id, where the scheme signs one; forwarded as
    /// `X-Hookguard-Event-Id`.
    pub event_id: Option<String>,
    /// What the replay key is derived from; only ever signed material (or,
    /// for schemes that sign nothing about the content, a delivery id).
    pub dedup: Dedup,
}

/// Source of the de-duplication key. The pipeline hashes it together with
/// the route, so keys are bounded in size and never contain secrets. The key
/// must be a function of the signed message alone: whatever a replayer can
/// vary without breaking the signature (unsigned headers, which of several
/// listed signatures it keeps, the route's secrets after a reload) must not
/// change it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Dedup {
    /// A signed event id (e.g. Standard Webhooks `webhook-id`).
    SignedId(String),
    /// Signed content, for schemes that sign no id, as decoded bytes: the
    /// signature itself where a request carries exactly one (URL-signing
    /// schemes add the query forwarded with it), else a SHA-256 of the
    /// signed message.
    ///
    /// One signature is enough where the scheme allows only one per request
    /// (GitHub, Shopify, Slack, ...): it is HMAC(provider key, message),
    /// deterministic, so a copy of a request carries the very same bytes, and
    /// without the key nobody can make a second valid signature for that
    /// message. The only other valid signatures of a message are those the
    /// provider itself made under another key (a redelivery after it rotated
    /// its secret), each of which it delivered once anyway. So keying on the
    /// signature admits no more forwards than the provider's own deliveries,
    /// and costs nothing. Where one header lists several signatures (Stripe
    /// `v1=..,v1=..`, Paddle, PagerDuty, ... during a rotation), one delivery
    /// carries k of them and a replayer could resend any subset, each first
    /// match a new key: there, and where signatures are randomised or
    /// malleable (ECDSA), the key is a hash of the signed message, at the
    /// price of one more pass over the body.
    Signature(Vec<u8>),
    /// An unsigned delivery id header, only for token schemes that sign nothing.
    DeliveryId(String),
    /// Nothing to key on: no de-duplication for this request.
    None,
}

/// A built verifier for one route: keys decoded and scheme parameters fixed at
/// start-up, so the per-request path does no parsing of configuration.
///
/// Most optional methods default to the constant cargo-mutants would put in
/// their place (`None`, `false`, an empty list or string): those mutants are
/// equivalent, and `mod_tests.rs` pins the defaults a scheme relies on.
pub trait Verifier: Send + Sync + 'static {
    /// The provider name that built this verifier (goes into
    /// `X-Hookguard-Verified` and the audit log).
    fn provider(&self) -> &str;

    /// The timestamp window this verifier applies, the same into the past
    /// and the future (the provider's default or the route's `tolerance`);
    /// `None` when the scheme signs no timestamp. `check` prints it, and a
    /// route `tolerance` on a scheme answering `None` is refused.
    fn tolerance(&self) -> Option<Duration>;

    /// Whether the scheme signs the URL the provider called (the offline
    /// tools then need one); the proxy asks [`Verifier::signed_url`].
    fn signs_url(&self) -> bool {
        false
    }

    /// The URL the provider signed, for [`Inbound::public_url`]: the route's
    /// `public_url`, else rebuilt from the request; refused when the query
    /// the proxy would forward is not the query signed. Schemes that sign no
    /// URL return an empty string, at no cost.
    fn signed_url(&self, target: &UrlTarget<'_>) -> Result<String, Rejection> {
        let _ = target;
        Ok(String::new())
    }

    /// Whether the route's `public_url` means something to this scheme (it
    /// signs the URL, or takes it as a default, like Pub/Sub's audience);
    /// set where it does not, it is a configuration error.
    fn uses_public_url(&self) -> bool {
        self.signs_url()
    }

    /// A caution for `hookguard check` about the route's `public_url`:
    /// missing where the scheme needs it to accept some requests. (Set
    /// where no URL is signed, it is a configuration error.)
    fn public_url_warning(&self, public_url: Option<&str>) -> Option<String> {
        let _ = public_url;
        None
    }

    /// The inbound header that carries a shared credential (token schemes:
    /// `X-Gitlab-Token`, `Authorization`), which the proxy removes before
    /// forwarding unless the route sets `forward_token`. Signature headers
    /// prove nothing reusable and are forwarded; `None` for them.
    fn credential_header(&self) -> Option<&http::HeaderName> {
        None
    }

    /// The query parameter that carries a shared credential (Azure Event
    /// Grid's key in the endpoint URL), which the proxy removes from the
    /// forwarded query unless the route sets `forward_token`.
    fn credential_query(&self) -> Option<&str> {
        None
    }

    /// Checks that need only the head — signature header present, signed
    /// timestamp within tolerance — so a hostile request is refused before its
    /// body is read. Schemes whose material lives in the body return `Ok`.
    fn precheck(&self, req: &Inbound<'_>) -> Result<(), Rejection>;

    /// The key this request needs fetched before [`Verifier::verify`] can
    /// run (SNS `SigningCertURL`, PayPal `PAYPAL-CERT-URL`, a JWKS), named
    /// only after its URL passed the route's rule, so a forged URL is
    /// refused here, with nothing fetched. The proxy awaits the key store
    /// and passes the key in [`Inbound::key`]. `Ok(None)`, at no cost, for
    /// schemes whose keys are configured.
    fn key_needed(&self, req: &Inbound<'_>, body: &Payload) -> Result<Option<KeyRef>, Rejection> {
        let _ = (req, body);
        Ok(None)
    }

    /// Where this route's keys may be fetched from, for `hookguard check`;
    /// `None` for schemes that fetch nothing.
    fn key_rule(&self) -> Option<String> {
        None
    }

    /// A URL the proxy must GET (under the key fetcher's rules) before it
    /// answers the signed handshake [`Verifier::handshake`] returned: SNS
    /// `SubscribeURL` with `sns_confirm = "auto"`. Checked against the
    /// route's rule by the verifier before it is returned.
    fn confirm_url(&self, req: &Inbound<'_>, body: &Payload) -> Option<String> {
        let _ = (req, body);
        None
    }

    /// Full verification against the exact received body bytes (as the
    /// frames they arrived in: a hash reads them in place).
    fn verify(&self, req: &Inbound<'_>, body: &Payload) -> Result<Verified, Rejection>;

    /// Extra methods this provider needs beyond POST (e.g. GET for a
    /// challenge handshake); added to the route's default method list.
    fn extra_methods(&self) -> &'static [Method] {
        &[]
    }

    /// An unsigned challenge the proxy answers itself, checked right after
    /// the route, method, client IP and rate limit, before the body is read
    /// (Meta's GET `hub.challenge` with `verify_token`, Dropbox's GET
    /// `challenge`, X's CRC, Onfleet's `check`, Okta's verification GET,
    /// Trello's HEAD).
    /// `None`: not a challenge, continue the pipeline. `Some(Err(_))`: a
    /// challenge that must be refused (e.g. wrong `hub.verify_token`).
    fn challenge(&self, req: &Inbound<'_>) -> Option<Result<HandshakeReply, Rejection>> {
        let _ = req;
        None
    }

    /// Whether `req` is an unsigned handshake that only its body can confirm
    /// (WooCommerce's ping, Notion's verification token): decided from the
    /// head (no signature header on a route of that provider), so the
    /// pipeline skips the precheck, reads the body under the route's limits
    /// and asks [`Verifier::body_challenge`] instead of `verify`.
    fn awaits_body_challenge(&self, req: &Inbound<'_>) -> bool {
        let _ = req;
        false
    }

    /// The reply to a request [`Verifier::awaits_body_challenge`] marked,
    /// or its refusal when the body is not that handshake's exact shape (it
    /// is then an unsigned request like any other).
    fn body_challenge(
        &self,
        req: &Inbound<'_>,
        body: &Payload,
    ) -> Result<HandshakeReply, Rejection> {
        let _ = (req, body);
        Err(Rejection::MissingSignature {
            detail: "no signature header".into(),
        })
    }

    /// The body the provider requires in a successful answer, for the
    /// answers hookguard gives itself (a duplicate, a queued request):
    /// Dropbox Sign retries any answer without `Hello API Event Received`,
    /// so a retry of a delivered event would otherwise come back forever.
    /// `None`: hookguard's JSON answers.
    fn acknowledgement(&self) -> Option<&'static str> {
        None
    }

    /// A *signed* handshake the proxy answers itself after `verify` succeeded
    /// (Zoom `endpoint.url_validation`, Twitch
    /// `webhook_callback_verification`, Discord PING). `None`: an ordinary
    /// event, to be de-duplicated and forwarded.
    fn handshake(&self, req: &Inbound<'_>, body: &Payload) -> Option<HandshakeReply> {
        let _ = (req, body);
        None
    }
}

/// The proxy's own answer to a provider handshake; never forwarded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HandshakeReply {
    /// Status code, usually 200.
    pub status: u16,
    /// `Content-Type` of `body`, e.g. `text/plain` or `application/json`.
    pub content_type: &'static str,
    /// Exact response body (the echoed challenge, a JSON token, ...).
    pub body: Vec<u8>,
    /// Response headers the provider expects besides `Content-Type`
    /// (Asana's `X-Hook-Secret`, CloudEvents' `WebHook-Allowed-Origin`).
    pub headers: Vec<(http::HeaderName, http::HeaderValue)>,
    /// What the audit record tells the operator, when the handshake asks
    /// something of them (Notion: set the verification token as the secret).
    pub note: Option<&'static str>,
}

/// What `hookguard sign` needs to produce the headers a provider would send.
#[derive(Debug, Clone, Copy)]
pub struct SignRequest<'a> {
    /// The exact body bytes.
    pub body: &'a [u8],
    /// Signing time, Unix seconds (schemes using ms multiply).
    pub timestamp: i64,
    /// Event/message id for schemes that sign one.
    pub id: Option<&'a str>,
    /// Full public URL for schemes that sign the URL.
    pub url: Option<&'a str>,
    /// Request method for schemes that sign it.
    pub method: &'a str,
}

/// A failure to build a verifier from otherwise well-formed configuration,
/// e.g. a `whsec_` secret that decodes to too few bytes. Reported by `check`
/// and at start-up against the route's location.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct BuildError {
    /// The route field at fault, e.g. `secrets[1]` or `hmac.encoding`.
    pub field: String,
    /// What is wrong, never including secret material.
    pub message: String,
}

/// Shared handle to a route's verifier.
pub type SharedVerifier = Arc<dyn Verifier>;

/// One row of `hookguard providers`: what a built-in scheme checks, derived
/// from the declaration table so the listing cannot drift from the code.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ProviderInfo {
    /// Provider name as used in `route.provider`.
    pub name: &'static str,
    /// Algorithm, e.g. `HMAC-SHA256` or `shared token`.
    pub algorithm: &'static str,
    /// Headers read, with the shape of their values.
    pub headers: String,
    /// What is signed, as a template over `{id}`, `{timestamp}`, `{body}`.
    pub signed: String,
    /// Scheme family, e.g. `hmac` or `structured`.
    pub family: &'static str,
    /// Default timestamp window (each way), or `none` when nothing is timed.
    pub tolerance: String,
    /// The handshake the proxy answers, or `-`.
    pub handshake: &'static str,
    /// Where the facts come from (vendor docs or SDK).
    pub source: &'static str,
}

/// Names of every built-in provider, in table order, for `check`'s
/// suggestions and `hookguard providers`.
pub fn names() -> Vec<&'static str> {
    catalog::PROVIDERS.iter().map(|p| p.name).collect()
}

/// Every built-in provider described, in table order, for `hookguard providers`.
pub fn describe_all() -> Vec<ProviderInfo> {
    catalog::PROVIDERS
        .iter()
        .map(catalog::Provider::info)
        .collect()
}

/// The headers provider `name` would send for `req`, signed with `secret`
/// (the secret as configured: `whsec_...` for Standard Webhooks), one
/// `(name, value)` per header, for `hookguard sign` and tests.
pub fn sign(
    name: &str,
    secret: &[u8],
    req: &SignRequest<'_>,
) -> Result<Vec<(String, String)>, BuildError> {
    use catalog::Family;

    let provider = catalog::lookup(name).ok_or_else(|| BuildError {
        field: "provider".into(),
        message: format!("unknown provider {name:?}"),
    })?;
    match &provider.family {
        Family::Hmac(spec) => hmac::sign(spec, secret, req),
        Family::GenericHmac => Err(BuildError {
            field: "provider".into(),
            message: "the generic \"hmac\" provider is shaped by [route.hmac]: \
                      sign for a configured route with -c CONFIG --route PATH"
                .into(),
        }),
        Family::Structured(spec) => structured::sign(spec, secret, req),
        Family::StandardWebhooks(spec) => standard_webhooks::sign(spec, secret, req),
        Family::Token(spec) => token::sign(spec, None, secret, req),
        Family::Url(scheme) => url::sign(*scheme, secret, req),
        Family::Asymmetric(scheme) => asymmetric::sign(*scheme, secret, req),
        Family::BodyFields => body_fields::sign(secret, req),
        Family::Adyen => adyen::sign(secret, req),
        Family::Braintree => braintree::sign(secret, req),
        Family::DropboxSign => dropbox_sign::sign(secret, req),
        Family::Recurly => recurly::sign(secret, req),
        Family::Canonical => canonical::sign(secret, req),
        Family::AwsSns
        | Family::PayPal
        | Family::GcpPubSub
        | Family::Fal
        | Family::Kinde
        | Family::Plaid => Err(BuildError {
            field: "provider".into(),
            message: format!(
                "{name:?} is signed with the provider's own key or certificate; there is \
                 nothing to sign with a route secret"
            ),
        }),
        Family::Jwt(spec) => jwt_sign::sign(spec, secret, req),
        Family::Graph => graph::sign(secret, req),
        Family::Strava => strava::sign(secret, req),
        Family::EventGrid => eventgrid::sign(secret, req),
    }
}

/// The headers a sender would send for a generic `hmac` route shaped by
/// `cfg` (its `[route.hmac]`), signed with `secret`: the template, encoding
/// and headers its verifier checks, from the same translation.
pub(crate) fn sign_generic(
    cfg: &GenericHmac,
    secret: &[u8],
    req: &SignRequest<'_>,
) -> Result<Vec<(String, String)>, BuildError> {
    match generic::generic_scheme(Some(cfg))? {
        generic::GenericScheme::Hmac(spec) => hmac::sign(&spec, secret, req),
        generic::GenericScheme::Structured(spec) => structured::sign(&spec, secret, req),
    }
}

/// The headers a sender would send to a token route whose credential header
/// is configured (`token_header`, the generic `token` provider).
pub(crate) fn sign_token_route(
    name: &str,
    token_header: &str,
    secret: &[u8],
    req: &SignRequest<'_>,
) -> Result<Vec<(String, String)>, BuildError> {
    match catalog::lookup(name).map(|p| &p.family) {
        Some(catalog::Family::Token(spec)) => token::sign(spec, Some(token_header), secret, req),
        _ => sign(name, secret, req),
    }
}

/// Whether provider `name` takes each secret as a `user` and `password`
/// pair (HTTP Basic), so that configuration may write them apart.
pub fn takes_user_password(name: &str) -> bool {
    matches!(
        catalog::lookup(name).map(|p| &p.family),
        Some(catalog::Family::Token(spec)) if spec.is_basic()
    )
}

/// The CloudEvents 1.0 abuse-protection handshake (`OPTIONS` with
/// `WebHook-Request-Origin`), for routes that set `cloudevents_handshake`;
/// `None` when the request is not one.
pub fn cloudevents_options(req: &Inbound<'_>) -> Option<Result<HandshakeReply, Rejection>> {
    handshake::cloudevents_options(req)
}

/// Whether provider `name` verifies with `secrets` or `public_keys`,
/// whichever the route sets (the generic `jwt`: the key decides the
/// algorithm family).
pub fn takes_either_key(name: &str) -> bool {
    matches!(
        catalog::lookup(name).map(|p| &p.family),
        Some(catalog::Family::Jwt(spec)) if spec.keys == jwt::KeysFrom::Either
    )
}

/// Builds the verifier for provider `name` from a route's parameters.
/// Unknown names are a `BuildError` on field `provider`; options that the
/// provider would silently ignore (`[route.hmac]` on a fixed scheme, public
/// keys on an HMAC scheme, a `tolerance` where no timestamp is signed, a
/// `verify_token` where no challenge reads it) are errors too.
pub fn build(name: &str, params: ProviderParams<'_>) -> Result<SharedVerifier, BuildError> {
    use catalog::Family;

    let provider = catalog::lookup(name).ok_or_else(|| BuildError {
        field: "provider".into(),
        message: format!("unknown provider {name:?}"),
    })?;
    let name = provider.name;
    if !params.public_keys.is_empty()
        && !matches!(provider.family, Family::Asymmetric(_) | Family::Jwt(_))
    {
        return Err(BuildError {
            field: "public_keys".into(),
            message: format!("provider {name:?} verifies with `secrets`, not public keys"),
        });
    }
    if params.hmac.is_some() && !matches!(provider.family, Family::GenericHmac) {
        return Err(BuildError {
            field: "hmac".into(),
            message: format!("[route.hmac] applies only to provider \"hmac\", not {name:?}"),
        });
    }
    if params.token_query.is_some() && !matches!(provider.family, Family::EventGrid) {
        return Err(BuildError {
            field: "token_query".into(),
            message: format!(
                "token_query applies only to provider \"azure-eventgrid\", not {name:?}"
            ),
        });
    }
    if params.verify_token.is_some() && !provider.handshake.reads_verify_token() {
        return Err(unused_verify_token(name));
    }
    if let (Some(fetch), false) = (params.fetch, provider.family.may_fetch_keys()) {
        return Err(unfetched_setting(name, fetch));
    }
    if provider.family.fetches_keys() && !params.secrets.is_empty() {
        return Err(BuildError {
            field: "secrets".into(),
            message: format!(
                "provider {name:?} verifies with certificates fetched from the provider, \
                 not secrets; remove secrets"
            ),
        });
    }
    let verifier: SharedVerifier = match &provider.family {
        Family::Hmac(spec) => Arc::new(
            hmac::HmacVerifier::build(name, spec, params)?
                .with_handshake(provider.handshake, params.verify_token),
        ),
        Family::GenericHmac => match generic::generic_scheme(params.hmac)? {
            generic::GenericScheme::Hmac(spec) => {
                Arc::new(hmac::HmacVerifier::build(name, &spec, params)?)
            }
            generic::GenericScheme::Structured(spec) => {
                Arc::new(structured::StructuredVerifier::build(name, &spec, params)?)
            }
        },
        Family::Structured(spec) => {
            Arc::new(structured::StructuredVerifier::build(name, spec, params)?)
        }
        Family::StandardWebhooks(spec) => Arc::new(
            standard_webhooks::StandardWebhooksVerifier::build(name, spec, params)?,
        ),
        Family::Token(spec) => Arc::new(
            token::TokenVerifier::build(name, spec, params)?.with_handshake(provider.handshake),
        ),
        Family::Url(scheme) => Arc::new(
            url::UrlVerifier::build(name, *scheme, params)?.with_handshake(provider.handshake),
        ),
        Family::Asymmetric(scheme) => {
            Arc::new(asymmetric::AsymVerifier::build(name, *scheme, params)?)
        }
        Family::BodyFields => Arc::new(body_fields::BodyFieldsVerifier::build(name, params)?),
        Family::Adyen => Arc::new(adyen::AdyenVerifier::build(name, params)?),
        Family::Braintree => Arc::new(braintree::BraintreeVerifier::build(name, params)?),
        Family::DropboxSign => Arc::new(dropbox_sign::DropboxSignVerifier::build(name, params)?),
        Family::Recurly => Arc::new(recurly::RecurlyVerifier::build(name, params)?),
        Family::Canonical => Arc::new(canonical::CanonicalVerifier::build(name, params)?),
        Family::AwsSns => Arc::new(sns::SnsVerifier::build(name, params)?),
        Family::PayPal => Arc::new(paypal::PayPalVerifier::build(name, params)?),
        Family::GcpPubSub => Arc::new(pubsub::PubSubVerifier::build(name, params)?),
        Family::Fal => Arc::new(fal::FalVerifier::build(name, params)?),
        Family::Kinde => Arc::new(kinde::KindeVerifier::build(name, params)?),
        Family::Plaid => Arc::new(plaid::PlaidVerifier::build(name, params)?),
        Family::Jwt(spec) => Arc::new(
            jwt::JwtVerifier::build(name, spec, params)?.with_handshake(provider.handshake),
        ),
        Family::Graph => Arc::new(graph::GraphVerifier::build(name, params)?),
        Family::Strava => Arc::new(strava::StravaVerifier::build(name, params)?),
        Family::EventGrid => Arc::new(eventgrid::EventGridVerifier::build(name, params)?),
    };
    if params.tolerance.is_some() && verifier.tolerance().is_none() {
        return Err(untimed_tolerance(name, &provider.family));
    }
    Ok(verifier)
}

/// A route `tolerance` on a scheme that signs no timestamp: there is no
/// window for it to set, and ignoring it would claim a check that never runs.
fn untimed_tolerance(name: &str, family: &catalog::Family) -> BuildError {
    let why = match family {
        catalog::Family::GenericHmac => {
            "[route.hmac] has no timestamp_header, so no timestamp is signed".to_owned()
        }
        _ => format!("provider {name:?} signs no timestamp"),
    };
    BuildError {
        field: "tolerance".into(),
        message: format!("{why}: there is no window to set; remove tolerance"),
    }
}

/// Whether provider `name` verifies with keys fetched at run time (and so
/// needs no `secrets`).
pub fn fetches_keys(name: &str) -> bool {
    catalog::lookup(name).is_some_and(|p| p.family.fetches_keys())
}

/// A setting only schemes with fetched keys read (`[route.keys]`, `topics`,
/// `sns_confirm`, `webhook_id`, `audience`, `service_account`, `app_id`,
/// `tenant`) on one that fetches nothing.
fn unfetched_setting(name: &str, fetch: &FetchParams) -> BuildError {
    let field = if fetch.keys {
        "keys"
    } else if fetch.topics.is_some() {
        "topics"
    } else if fetch.sns_confirm.is_some() {
        "sns_confirm"
    } else if fetch.webhook_id.is_some() {
        "webhook_id"
    } else if fetch.audience.is_some() {
        "audience"
    } else if fetch.service_account.is_some() {
        "service_account"
    } else if fetch.app_id.is_some() {
        "app_id"
    } else {
        "tenant"
    };
    BuildError {
        field: field.into(),
        message: format!(
            "provider {name:?} fetches no keys, so {field} would change nothing; remove it"
        ),
    }
}

/// A `verify_token` on a provider whose subscription check does not use
/// one: only Meta's GET `hub.challenge` compares a token.
fn unused_verify_token(name: &str) -> BuildError {
    let users: Vec<&str> = catalog::PROVIDERS
        .iter()
        .filter(|p| p.handshake.reads_verify_token())
        .map(|p| p.name)
        .collect();
    BuildError {
        field: "verify_token".into(),
        message: format!(
            "provider {name:?} has no verify_token challenge (only {} use one); remove \
             verify_token",
            users.join(", ")
        ),
    }
}
