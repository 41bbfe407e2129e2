//! Family: HMAC over the URL the provider called (`Inbound.public_url`),
//! combined with the body, the method or a timestamp.
//!
//! Owns the five URL-bound schemes — Twilio (URL + sorted form parameters,
//! or URL with `bodySHA256`; HMAC-SHA1, or HMAC-SHA256 when the request
//! names it in `X-Twilio-Webhooks-Signature-Settings`), Square (URL + body), HubSpot v3 (method + URL +
//! body + timestamp), Trello (body + URL) and Mandrill (Twilio's form
//! layout, HMAC-SHA1 only) — and their `hookguard sign`
//! counterpart. Does not own key handling or the constant-time comparison
//! (`keys.rs`), nor which URL is verified (`signed_url.rs`).
//!
//! These schemes put no separator between the URL and what follows it.
//! Square and HubSpot v3 sign the body right after the URL, so a query the
//! configuration does not pin is refused (`signed_url.rs`). Twilio appends
//! each form parameter's name and value with no separator at all: the same
//! bytes are signed for `?a=1` with `Bc=d` and for `?a=1B` with `c=d`, or for
//! `x=yz` and `xy=z` — its own ambiguity, which no check here can remove.
//! The replay key covers the query, so a variant with another query that
//! arrives first does not make the genuine delivery a duplicate (one that
//! only regroups the parameters still does). Trello signs the URL after the
//! body, and no JSON body can end in a URL whose characters all fit a request
//! target (a closing `"` cannot), so it splits one way.

use std::time::Duration;

use http::{HeaderMap, HeaderName, Uri};
use ring::digest;

use super::common::{
    self, decode_signature, header_bytes, header_name, Sig, Signed, SignedBody, TimestampFormat,
    Tolerance, ToleranceSpec,
};
use super::handshake::{ChallengeKeys, Handshake};
use super::hmac::{BODY, NO_TIMESTAMP};
use super::keys::{match_one, KeyRing};
use super::signed_url::{self, UrlTarget};
use super::template::sorted_form;
use super::{
    BuildError, Dedup, HandshakeReply, HmacAlgorithm, Inbound, ProviderInfo, ProviderParams,
    Rejection, SignRequest, SignatureEncoding, Verified, Verifier,
};
use crate::body::Payload;

/// Which URL-bound scheme a provider uses; each fixes its algorithm,
/// headers and message layout.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum UrlScheme {
    /// HMAC-SHA1 over URL + form params sorted by name (or URL with
    /// `bodySHA256`); `X-Twilio-Signature`. HMAC-SHA256 over the same bytes
    /// when `X-Twilio-Webhooks-Signature-Settings` says `algorithm=HMAC_SHA256`.
    Twilio,
    /// HMAC-SHA256 over notification URL + body; `x-square-hmacsha256-signature`.
    Square,
    /// HMAC-SHA256 over method + URL + body + ms timestamp; 300 s.
    HubSpotV3,
    /// HMAC-SHA1 over body + callback URL; `X-Trello-Webhook`.
    Trello,
    /// Mandrill (Mailchimp Transactional): HMAC-SHA1 over the webhook URL
    /// as configured + form params sorted by name, base64;
    /// `X-Mandrill-Signature`. Twilio's form layout without its extensions.
    Mandrill,
}

const HUBSPOT_TS: &str = "x-hubspot-request-timestamp";

/// Sent by Twilio with webhooks signed by a SharedKey:
/// `key=<SharedKey sid>,algorithm=HMAC_SHA256`. Absent: the legacy Auth
/// Token signature, HMAC-SHA1 (twilio-python 9.13.0, twilio-node 6.3.1).
const TWILIO_SETTINGS: &str = "x-twilio-webhooks-signature-settings";

impl UrlScheme {
    fn algorithm(self) -> HmacAlgorithm {
        match self {
            Self::Twilio | Self::Trello | Self::Mandrill => HmacAlgorithm::Sha1,
            Self::Square | Self::HubSpotV3 => HmacAlgorithm::Sha256,
        }
    }

    fn header(self) -> &'static str {
        match self {
            Self::Twilio => "x-twilio-signature",
            Self::Square => "x-square-hmacsha256-signature",
            Self::HubSpotV3 => "x-hubspot-signature-v3",
            Self::Trello => "x-trello-webhook",
            Self::Mandrill => "x-mandrill-signature",
        }
    }

    /// Whether the body is signed right after the URL, with nothing between
    /// them: a query not pinned by `public_url` is then ambiguous.
    fn body_follows_url(self) -> bool {
        matches!(self, Self::Square | Self::HubSpotV3)
    }

    fn tolerance(self) -> ToleranceSpec {
        match self {
            Self::HubSpotV3 => ToleranceSpec { default_secs: 300 },
            Self::Twilio | Self::Square | Self::Trello | Self::Mandrill => NO_TIMESTAMP,
        }
    }

    /// The row of `hookguard providers` for this scheme.
    pub(crate) fn info(self, name: &'static str) -> ProviderInfo {
        let (headers, signed) = match self {
            Self::Twilio => (
                format!(
                    "{}: <base64>[, {TWILIO_SETTINGS}: key=<sid>,algorithm=HMAC_SHA256]",
                    self.header()
                ),
                "{url}{name}{value}... (form params sorted by name) | {url} incl. bodySHA256=<hex sha256 of {body}>",
            ),
            Self::Square => (format!("{}: <base64>", self.header()), "{url}{body}"),
            Self::HubSpotV3 => (
                format!("{}: <base64>, {HUBSPOT_TS}: <unix ms>", self.header()),
                "{method}{url}{body}{timestamp}",
            ),
            Self::Trello => (format!("{}: <base64>", self.header()), "{body}{url}"),
            Self::Mandrill => (
                format!("{}: <base64>", self.header()),
                "{url}{name}{value}... (form params sorted by name)",
            ),
        };
        ProviderInfo {
            name,
            algorithm: match self {
                Self::Twilio => "HMAC-SHA1 | HMAC-SHA256",
                _ => common::algorithm_name(self.algorithm()),
            },
            headers,
            signed: signed.into(),
            tolerance: common::tolerance_text((self == Self::HubSpotV3).then(|| self.tolerance())),
            ..ProviderInfo::default()
        }
    }
}

/// The exact bytes `scheme` signs for the URL form `url` (`ts` is the raw
/// timestamp header, used by HubSpot only).
fn message(scheme: UrlScheme, url: &str, method: &str, body: &[u8], ts: &[u8]) -> Vec<u8> {
    match scheme {
        UrlScheme::Twilio if body_sha256_param(url).is_some() => url.as_bytes().to_vec(),
        UrlScheme::Twilio | UrlScheme::Mandrill => url_and_sorted_params(url, body),
        UrlScheme::Square => [url.as_bytes(), body].concat(),
        UrlScheme::HubSpotV3 => [method.as_bytes(), url.as_bytes(), body, ts].concat(),
        UrlScheme::Trello => [body, url.as_bytes()].concat(),
    }
}

/// The URL followed by each form parameter's decoded name and value, sorted
/// by name, with no separators (Twilio's and Mandrill's layout).
fn url_and_sorted_params(url: &str, body: &[u8]) -> Vec<u8> {
    [url.as_bytes(), &sorted_form(body)].concat()
}

/// The `bodySHA256` query parameter Twilio adds for JSON bodies.
fn body_sha256_param(url: &str) -> Option<String> {
    let query = url.split_once('?')?.1;
    let query = query.split('#').next().unwrap_or("");
    form_urlencoded::parse(query.as_bytes())
        .find(|(k, _)| k == "bodySHA256")
        .map(|(_, v)| v.into_owned())
}

/// The same URL with the default port toggled (removed if present, added if
/// absent), as Twilio's SDKs accept both; `None` for a non-default port or
/// an unparsable URL.
fn port_variant(url: &str) -> Option<String> {
    let uri: Uri = url.parse().ok()?;
    let default = match uri.scheme_str()? {
        "https" => 443,
        "http" => 80,
        _ => return None,
    };
    let authority = uri.authority()?;
    let port = match authority.port_u16() {
        Some(p) if p == default => String::new(),
        Some(_) => return None,
        None => format!(":{default}"),
    };
    let rest = uri.path_and_query().map_or("", |pq| pq.as_str());
    let scheme = uri.scheme_str()?;
    Some(format!("{scheme}://{}{port}{rest}", authority.host()))
}

// === impl UrlVerifier ===

/// A built URL-bound verifier: header names and keys fixed at start-up.
pub(crate) struct UrlVerifier {
    provider: &'static str,
    scheme: UrlScheme,
    keys: KeyRing,
    /// Twilio only: the same secrets as HMAC-SHA256 keys, for requests whose
    /// settings header names that algorithm (a SharedKey secret is
    /// configured in `secrets` like an Auth Token).
    sha256_keys: Option<KeyRing>,
    header: HeaderName,
    timestamp: Option<HeaderName>,
    tolerance: Tolerance,
    /// Trello's HEAD on creation, answered by the proxy.
    handshake: Handshake,
}

impl UrlVerifier {
    /// Builds from a catalog entry; secrets are UTF-8 keys.
    pub(crate) fn build(
        provider: &'static str,
        scheme: UrlScheme,
        params: ProviderParams<'_>,
    ) -> Result<Self, BuildError> {
        Ok(Self {
            provider,
            scheme,
            keys: KeyRing::utf8(params.secrets, scheme.algorithm())?,
            sha256_keys: match scheme {
                UrlScheme::Twilio => Some(KeyRing::utf8(params.secrets, HmacAlgorithm::Sha256)?),
                _ => None,
            },
            header: header_name("provider", scheme.header())?,
            timestamp: match scheme {
                UrlScheme::HubSpotV3 => Some(header_name("provider", HUBSPOT_TS)?),
                _ => None,
            },
            tolerance: Tolerance::new(scheme.tolerance(), params.tolerance),
            handshake: Handshake::None,
        })
    }

    /// Adds the provider's (unsigned) handshake.
    pub(crate) fn with_handshake(mut self, handshake: Handshake) -> Self {
        self.handshake = handshake;
        self
    }

    /// Signature (decoded), timestamp (raw, empty if unsigned) and the keys
    /// of the algorithm the request was signed with.
    fn head<'h>(&self, headers: &'h HeaderMap) -> Result<(Sig, &'h [u8], &KeyRing), Rejection> {
        let raw = header_bytes(headers, &self.header)?;
        let ts = match &self.timestamp {
            Some(name) => header_bytes(headers, name)?,
            None => &[],
        };
        let keys = self.keys_for(headers)?;
        let sig =
            decode_signature(raw, SignatureEncoding::Base64, keys.tag_len()).map_err(|why| {
                Rejection::InvalidSignature {
                    detail: format!("header {:?}: {why}", self.header),
                }
            })?;
        Ok((sig, ts, keys))
    }

    /// Twilio: the algorithm named in the signature-settings header, read as
    /// twilio-python's `get_signature_algorithm` does (the first
    /// `algorithm=` item of a comma-separated list, case-insensitive value;
    /// no header or no such item: HMAC-SHA1). An algorithm the SDKs do not
    /// know fails verification, as in the SDKs. The header is not signed,
    /// but both choices are HMACs keyed with the route's secrets, so
    /// choosing one for a forger gains nothing.
    fn keys_for(&self, headers: &HeaderMap) -> Result<&KeyRing, Rejection> {
        let Some(sha256_keys) = &self.sha256_keys else {
            return Ok(&self.keys);
        };
        let Some(value) = headers.get(TWILIO_SETTINGS) else {
            return Ok(&self.keys);
        };
        let unsupported = |what: &str| Rejection::InvalidSignature {
            detail: format!(
                "header {TWILIO_SETTINGS:?}: {what} (expected algorithm=HMAC_SHA1 or HMAC_SHA256)"
            ),
        };
        let text = value
            .to_str()
            .map_err(|_| unsupported("not visible ASCII"))?;
        let algorithm = text.split(',').find_map(|item| {
            let (key, value) = item.split_once('=')?;
            let value = value.trim();
            (key.trim() == "algorithm" && !value.is_empty()).then_some(value)
        });
        match algorithm {
            None => Ok(&self.keys),
            Some(a) if a.eq_ignore_ascii_case("HMAC_SHA1") => Ok(&self.keys),
            Some(a) if a.eq_ignore_ascii_case("HMAC_SHA256") => Ok(sha256_keys),
            Some(a) => Err(unsupported(&format!("unsupported algorithm {a:?}"))),
        }
    }

    fn check_time(&self, ts: &[u8], now_ms: i64) -> Result<(), Rejection> {
        match &self.timestamp {
            Some(name) => self
                .tolerance
                .check(name, ts, TimestampFormat::UnixMillis, now_ms),
            None => Ok(()),
        }
    }

    /// Tries the URL as given, then (Twilio) with the default port toggled.
    fn match_urls(
        &self,
        req: &Inbound<'_>,
        keys: &KeyRing,
        body: &[u8],
        ts: &[u8],
        sig: &Sig,
    ) -> Result<usize, Rejection> {
        let method = req.method.as_str();
        let first = message(self.scheme, req.public_url, method, body, ts);
        let result = match_one(
            keys,
            req.now_ms,
            &Signed::new(BODY, SignedBody::Slice(&first), &[], &[]),
            sig,
        );
        if result.is_ok() || self.scheme != UrlScheme::Twilio {
            return result;
        }
        match port_variant(req.public_url) {
            Some(url) => {
                let alt = message(self.scheme, &url, method, body, ts);
                match_one(
                    keys,
                    req.now_ms,
                    &Signed::new(BODY, SignedBody::Slice(&alt), &[], &[]),
                    sig,
                )
                .or(result)
            }
            None => result,
        }
    }
}

impl Verifier for UrlVerifier {
    fn signs_url(&self) -> bool {
        true
    }

    fn extra_methods(&self) -> &'static [http::Method] {
        self.handshake.extra_methods()
    }

    fn challenge(&self, req: &Inbound<'_>) -> Option<Result<HandshakeReply, Rejection>> {
        self.handshake
            .challenge(req, ChallengeKeys::default(), false)
    }

    fn signed_url(&self, target: &UrlTarget<'_>) -> Result<String, Rejection> {
        let body_follows = self.scheme.body_follows_url().then_some(self.provider);
        signed_url::resolve(target, body_follows)
    }

    fn public_url_warning(&self, public_url: Option<&str>) -> Option<String> {
        (public_url.is_none() && self.scheme.body_follows_url()).then(|| {
            format!(
                "not set: provider {:?} signs the URL and the body with nothing between them, \
                 so requests whose URL has a query are refused; set public_url to the exact \
                 URL it calls (query included) to accept them",
                self.provider
            )
        })
    }

    fn provider(&self) -> &str {
        self.provider
    }

    fn tolerance(&self) -> Option<Duration> {
        self.timestamp.as_ref().map(|_| self.tolerance.window())
    }

    fn precheck(&self, req: &Inbound<'_>) -> Result<(), Rejection> {
        let (_, ts, _) = self.head(req.headers)?;
        self.check_time(ts, req.now_ms)
    }

    fn verify(&self, req: &Inbound<'_>, body: &Payload) -> Result<Verified, Rejection> {
        let body = body.contiguous();
        let body = &body[..];
        let (sig, ts, keys) = self.head(req.headers)?;
        let secret_index = self.match_urls(req, keys, body, ts, &sig)?;
        self.check_time(ts, req.now_ms)?;
        if self.scheme == UrlScheme::Twilio {
            if let Some(expected) = body_sha256_param(req.public_url) {
                // The URL (and so `expected`) is authenticated by now, and the
                // body hash is not secret: a plain comparison leaks nothing.
                let actual = hex::encode(digest::digest(&digest::SHA256, body));
                if !expected.eq_ignore_ascii_case(&actual) {
                    return Err(Rejection::InvalidSignature {
                        detail: "body does not match the signed bodySHA256 URL parameter".into(),
                    });
                }
            }
        }
        Ok(Verified {
            secret_index,
            event_id: None,
            dedup: Dedup::Signature(replay_material(&sig, req.uri.query())),
        })
    }
}

/// What a delivery is de-duplicated on: the signature and the query that is
/// forwarded with it, length-prefixed so the two cannot run into each other.
/// The same signature covers requests that split the same bytes differently
/// between query and body (see the module docs); keyed on the signature
/// alone, such a variant arriving first would make the genuine request a
/// duplicate. The host is left out: Twilio's port variants of one URL are one
/// delivery, and the path is the route's.
fn replay_material(sig: &Sig, query: Option<&str>) -> Vec<u8> {
    let sig = sig.bytes();
    let mut out = Vec::with_capacity(2 + sig.len() + query.map_or(0, str::len));
    // Tags are at most 64 bytes long.
    out.push(u8::try_from(sig.len()).unwrap_or(u8::MAX));
    out.extend_from_slice(sig);
    if let Some(query) = query {
        // `?` tells an empty query from none: both are forwarded as sent.
        out.push(b'?');
        out.extend_from_slice(query.as_bytes());
    }
    out
}

/// The headers `hookguard sign` prints for a URL-bound provider; needs
/// `req.url`. Twilio JSON bodies: put `bodySHA256=<hex>` in the URL first.
pub(crate) fn sign(
    scheme: UrlScheme,
    secret: &[u8],
    req: &SignRequest<'_>,
) -> Result<Vec<(String, String)>, BuildError> {
    let url = req.url.ok_or_else(|| BuildError {
        field: "url".into(),
        message: "this provider signs the URL it calls: give the full public URL".into(),
    })?;
    let ts = req.timestamp.saturating_mul(1000).to_string();
    let msg = message(scheme, url, req.method, req.body, ts.as_bytes());
    let signed = Signed::new(BODY, SignedBody::Slice(&msg), b"", b"");
    let tag = common::hmac_sign(scheme.algorithm(), secret, &signed);
    let mut out = vec![(
        scheme.header().to_owned(),
        base64::Engine::encode(&base64::engine::general_purpose::STANDARD, &tag),
    )];
    if scheme == UrlScheme::HubSpotV3 {
        out.push((HUBSPOT_TS.to_owned(), ts));
    }
    Ok(out)
}

#[cfg(test)]
#[path = "url_tests.rs"]
mod tests;
