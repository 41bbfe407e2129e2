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
mod tests {
    use super::super::testutil::{
        headers, kind, precheck_and_verify, precheck_at, secrets, verifier, Garbage,
    };
    use super::super::SharedVerifier;
    use super::*;

    /// `precheck` + `verify` (testutil::precheck_and_verify) at a given URL
    /// and method.
    pub(super) fn run_at(
        v: &SharedVerifier,
        map: &HeaderMap,
        body: &[u8],
        url: &str,
        method: &str,
        now_ms: i64,
    ) -> Result<Verified, Rejection> {
        let method = http::Method::from_bytes(method.as_bytes()).unwrap();
        let uri = Uri::from_static("/hook");
        let req = Inbound {
            method: &method,
            uri: &uri,
            headers: map,
            public_url: url,
            now_ms,
            key: None,
        };
        precheck_and_verify(v, &req, body)
    }

    // Twilio SDK unit tests (twilio-python `tests/unit/test_request_validator.py`,
    // reproduced with twilio 9.13.0).
    const TW_URL: &str = "https://mycompany.com/myapp.php?foo=1&bar=2";
    const TW_URL_443: &str = "https://mycompany.com:443/myapp.php?foo=1&bar=2";
    const TW_FORM: &[u8] = b"CallSid=CA1234567890ABCDE&Caller=%2B14158675309&Digits=1234&From=%2B14158675309&To=%2B18005551212";
    const TW_FORM_TAMPERED: &[u8] = b"CallSid=CA1234567890ABCDE&Caller=%2B14158675309&Digits=1235&From=%2B14158675309&To=%2B18005551212";
    const TW_JSON: &[u8] = br#"{"property": "value", "boolean": true}"#;
    const TW_JSON_TAMPERED: &[u8] = br#"{"property": "value", "boolean": false}"#;
    const TW_JSON_URL: &str = "https://mycompany.com/myapp.php?foo=1&bar=2&bodySHA256=0a1ff7634d9ab3b95db5c9a2dfe9416e41502b283a80c7cf19632632f96e6620";

    #[test]
    fn twilio_sdk_vectors_with_and_without_port() {
        let v = verifier("twilio", &secrets(&["12345"]));
        let h = headers(&[("X-Twilio-Signature", b"RSOYDt4T1cUTdK1PDd93/VVr8B8=")]);
        assert!(run_at(&v, &h, TW_FORM, TW_URL, "POST", 0).is_ok());
        // Parameter order in the body does not matter (sorted by name).
        let shuffled = b"To=%2B18005551212&Digits=1234&CallSid=CA1234567890ABCDE&From=%2B14158675309&Caller=%2B14158675309";
        assert!(run_at(&v, &h, shuffled, TW_URL, "POST", 0).is_ok());
        // The same signature verifies when the proxy sees the URL with :443.
        assert!(run_at(&v, &h, TW_FORM, TW_URL_443, "POST", 0).is_ok());
        // And the SDK's :443 vector verifies against the port-less URL.
        let h443 = headers(&[("X-Twilio-Signature", b"kvajT1Ptam85bY51eRf/AJRuM3w=")]);
        assert!(run_at(&v, &h443, TW_FORM, TW_URL, "POST", 0).is_ok());
        assert!(run_at(&v, &h443, TW_FORM, TW_URL_443, "POST", 0).is_ok());
        // Tampered parameter, other URL, wrong token.
        assert_eq!(
            kind(&run_at(&v, &h, TW_FORM_TAMPERED, TW_URL, "POST", 0)),
            "invalid"
        );
        let other = "https://mycompany.com/myapp.php?foo=1&bar=3";
        assert_eq!(kind(&run_at(&v, &h, TW_FORM, other, "POST", 0)), "invalid");
        let wrong = verifier("twilio", &secrets(&["54321"]));
        assert_eq!(
            kind(&run_at(&wrong, &h, TW_FORM, TW_URL, "POST", 0)),
            "invalid"
        );
        assert_eq!(
            kind(&run_at(&v, &headers(&[]), TW_FORM, TW_URL, "POST", 0)),
            "missing"
        );
    }

    #[test]
    fn twilio_json_body_hash() {
        let v = verifier("twilio", &secrets(&["12345"]));
        let h = headers(&[("X-Twilio-Signature", b"a9nBmqA0ju/hNViExpshrM61xv4=")]);
        assert!(run_at(&v, &h, TW_JSON, TW_JSON_URL, "POST", 0).is_ok());
        // The URL still verifies but the body no longer matches its hash.
        let r = run_at(&v, &h, TW_JSON_TAMPERED, TW_JSON_URL, "POST", 0);
        assert!(format!("{r:?}").contains("bodySHA256"), "{r:?}");
    }

    // HMAC-SHA256 (SharedKey) signatures: the first one from
    // twilio-python 9.13.0 `compute_signature(..., "HMAC_SHA256")`,
    // key 12345; the :443 and JSON ones were computed with the same SDK
    // release, and its `validate(..., "HMAC_SHA256")` accepts each.
    const TW_SETTINGS: &str = "x-twilio-webhooks-signature-settings";
    const TW_SHA256: &[u8] = b"033hgUJA9M/hXIZsYjwkerEP/DBm35nEri5FhCYjA5s=";

    #[test]
    fn twilio_sharedkey_sha256_sdk_vectors() {
        let v = verifier("twilio", &secrets(&["12345"]));
        let settings = |value: &'static [u8]| {
            headers(&[("X-Twilio-Signature", TW_SHA256), (TW_SETTINGS, value)])
        };
        let h = settings(b"key=webhooks_sharedkey_123,algorithm=HMAC_SHA256");
        assert!(run_at(&v, &h, TW_FORM, TW_URL, "POST", 0).is_ok());
        // Read as the SDK reads it: spaces around items, any case of the value.
        for value in [
            &b"algorithm=hmac_sha256"[..],
            b" key = k1 , algorithm = HMAC_SHA256 ",
            b"algorithm=,algorithm=HMAC_SHA256",
        ] {
            assert!(run_at(&v, &settings(value), TW_FORM, TW_URL, "POST", 0).is_ok());
        }
        // Without the header (or with HMAC_SHA1 named) the tag is read as
        // SHA-1: 32 bytes is the wrong length.
        let bare = headers(&[("X-Twilio-Signature", TW_SHA256)]);
        let sha1 = settings(b"key=k,algorithm=HMAC_SHA1");
        for h in [&bare, &sha1] {
            let r = run_at(&v, h, TW_FORM, TW_URL, "POST", 0);
            assert!(format!("{r:?}").contains("expected 20"), "{r:?}");
        }
        // A SHA-1 signature with the SHA-256 header does not verify either.
        let mismatch = headers(&[
            ("X-Twilio-Signature", b"RSOYDt4T1cUTdK1PDd93/VVr8B8="),
            (TW_SETTINGS, b"algorithm=HMAC_SHA256"),
        ]);
        assert_eq!(
            kind(&run_at(&v, &mismatch, TW_FORM, TW_URL, "POST", 0)),
            "invalid"
        );
        // An algorithm the SDKs do not know fails, as it does there.
        let r = run_at(
            &v,
            &settings(b"algorithm=HMAC_SHA512"),
            TW_FORM,
            TW_URL,
            "POST",
            0,
        );
        assert!(format!("{r:?}").contains("unsupported algorithm"), "{r:?}");
        // Tampered parameter, and the port variants.
        assert_eq!(
            kind(&run_at(&v, &h, TW_FORM_TAMPERED, TW_URL, "POST", 0)),
            "invalid"
        );
        assert!(run_at(&v, &h, TW_FORM, TW_URL_443, "POST", 0).is_ok());
        let h443 = headers(&[
            (
                "X-Twilio-Signature",
                b"grxRoa/VNtXxd524NGLxIdev83nh23xhrRUVm50Umq4=",
            ),
            (TW_SETTINGS, b"algorithm=HMAC_SHA256"),
        ]);
        assert!(run_at(&v, &h443, TW_FORM, TW_URL, "POST", 0).is_ok());
    }

    #[test]
    fn twilio_sharedkey_sha256_json_body_hash() {
        let v = verifier("twilio", &secrets(&["an-auth-token", "12345"]));
        let h = headers(&[
            (
                "X-Twilio-Signature",
                b"+UOCWf84gdgo/5Hpg4m5/EgKnJA2/TbOw5sPNVr3bPk=",
            ),
            (
                TW_SETTINGS,
                b"key=webhooks_sharedkey_123,algorithm=HMAC_SHA256",
            ),
        ]);
        // The SharedKey secret is the second configured secret.
        assert_eq!(
            run_at(&v, &h, TW_JSON, TW_JSON_URL, "POST", 0)
                .unwrap()
                .secret_index,
            1
        );
        let r = run_at(&v, &h, TW_JSON_TAMPERED, TW_JSON_URL, "POST", 0);
        assert!(format!("{r:?}").contains("bodySHA256"), "{r:?}");
    }

    // Square docs "Validate notifications" sample (verified with
    // both Square SDKs).
    #[test]
    fn square_docs_vector() {
        let v = verifier("square", &secrets(&["asdf1234"]));
        let h = headers(&[(
            "x-square-hmacsha256-signature",
            b"2kRE5qRU2tR+tBGlDwMEw2avJ7QM4ikPYD/PJ3bd9Og=",
        )]);
        let url = "https://example.com/webhook";
        assert!(run_at(&v, &h, br#"{"hello":"world"}"#, url, "POST", 0).is_ok());
        assert_eq!(
            kind(&run_at(&v, &h, br#"{"hello":"World"}"#, url, "POST", 0)),
            "invalid"
        );
        let elsewhere = "https://example.com/webhook2";
        assert_eq!(
            kind(&run_at(
                &v,
                &h,
                br#"{"hello":"world"}"#,
                elsewhere,
                "POST",
                0
            )),
            "invalid"
        );
    }

    // HubSpot v3: computed with @hubspot/api-client `Signature.getSignature`
    // and Python's hmac (identical).
    #[test]
    fn hubspot_v3_sdk_vector_and_window() {
        let v = verifier(
            "hubspot",
            &secrets(&["yyyyyyyy-yyyy-yyyy-yyyy-yyyyyyyyyyyy"]),
        );
        let h = headers(&[
            (
                "X-HubSpot-Signature-v3",
                b"Lcil2KBLlmguaRy14OUMFBJcakfblmoGpO3lJ+Wjz40=",
            ),
            ("X-HubSpot-Request-Timestamp", b"1700000000000"),
        ]);
        let url = "https://www.example.com/webhook_uri";
        let body = br#"[{"eventId":1,"subscriptionType":"contact.creation"}]"#;
        let t = 1_700_000_000_000;
        assert!(run_at(&v, &h, body, url, "POST", t).is_ok());
        assert!(run_at(&v, &h, body, url, "POST", t + 300_000).is_ok());
        assert_eq!(
            kind(&run_at(&v, &h, body, url, "POST", t + 300_001)),
            "timestamp"
        );
        // Two-sided, unlike the SDK: a timestamp too far ahead is refused.
        assert!(run_at(&v, &h, body, url, "POST", t - 300_000).is_ok());
        assert_eq!(
            kind(&run_at(&v, &h, body, url, "POST", t - 300_001)),
            "timestamp"
        );
        assert_eq!(kind(&run_at(&v, &h, body, url, "PUT", t)), "invalid");
        assert_eq!(kind(&run_at(&v, &h, b"[]", url, "POST", t)), "invalid");
    }

    // Trello: computed with Python's hmac from Trello's documented recipe
    // (HMAC-SHA1 of body + callback URL, base64).
    #[test]
    fn trello_computed_vector() {
        let v = verifier("trello", &secrets(&["trello_app_secret"]));
        let h = headers(&[("X-Trello-Webhook", b"2vBTp1s1ADdzC49xMMilsHclC6U=")]);
        let url = "https://example.com/trello/hook";
        let body = br#"{"action":{"type":"updateCard"}}"#;
        assert!(run_at(&v, &h, body, url, "POST", 0).is_ok());
        assert_eq!(kind(&run_at(&v, &h, b"{}", url, "POST", 0)), "invalid");
    }

    // Mandrill: computed with Python's hmac from Mailchimp's documented
    // recipe ("How to Authenticate Webhook Requests": URL as configured, POST
    // variables sorted by key, key and value appended with no delimiter,
    // HMAC-SHA1, base64), under the key Mandrill signs its test POSTs with.
    #[test]
    fn mandrill_computed_vector() {
        let v = verifier("mandrill", &secrets(&["test-webhook"]));
        let h = headers(&[("X-Mandrill-Signature", MANDRILL_SIG)]);
        let url = "https://example.com/mandrill/hook";
        assert!(run_at(&v, &h, MANDRILL_FORM, url, "POST", 0).is_ok());
        let tampered = &MANDRILL_FORM[..MANDRILL_FORM.len() - 3];
        assert_eq!(kind(&run_at(&v, &h, tampered, url, "POST", 0)), "invalid");
        // The URL exactly as configured: a trailing slash differs.
        let slash = "https://example.com/mandrill/hook/";
        assert_eq!(
            kind(&run_at(&v, &h, MANDRILL_FORM, slash, "POST", 0)),
            "invalid"
        );
        // Twilio's JSON extension is not Mandrill's: a bodySHA256 query
        // parameter is signed as an ordinary part of the URL.
        let v = verifier("mailchimp-transactional", &secrets(&["test-webhook"]));
        assert!(run_at(&v, &h, MANDRILL_FORM, url, "POST", 0).is_ok());
    }

    const MANDRILL_FORM: &[u8] = b"mandrill_events=%5B%7B%22event%22%3A%22send%22%2C%22_id%22%3A%22msg-1%22%2C%22ts%22%3A1700000000%7D%5D";
    const MANDRILL_SIG: &[u8] = b"r4g1DYLvSWFYuxa6MaWCyAtZE2w=";

    #[test]
    fn sign_round_trips() {
        let cases = [
            (UrlScheme::Twilio, "twilio", TW_FORM),
            (UrlScheme::Square, "square", b"{\"a\":1}"),
            (UrlScheme::HubSpotV3, "hubspot", b"[]"),
            (UrlScheme::Trello, "trello", b"{}"),
            (UrlScheme::Mandrill, "mandrill", MANDRILL_FORM),
        ];
        for (scheme, name, body) in cases {
            let req = SignRequest {
                body,
                timestamp: 1_700_000_000,
                id: None,
                url: Some("https://hooks.example.com/in?x=1"),
                method: "POST",
            };
            let pairs = sign(scheme, b"k3y", &req).unwrap();
            let mut map = HeaderMap::new();
            for (k, val) in &pairs {
                map.insert(
                    HeaderName::from_bytes(k.as_bytes()).unwrap(),
                    val.parse().unwrap(),
                );
            }
            let v = verifier(name, &secrets(&["k3y"]));
            let url = req.url.unwrap();
            assert!(
                run_at(&v, &map, body, url, "POST", 1_700_000_000_000).is_ok(),
                "{name}"
            );
            assert_eq!(
                kind(&run_at(&v, &map, b"x=2", url, "POST", 1_700_000_000_000)),
                "invalid",
                "{name}"
            );
            let no_url = SignRequest { url: None, ..req };
            assert!(sign(scheme, b"k3y", &no_url).is_err());
        }
    }

    /// Only Twilio's SDKs accept the URL with the default port toggled; the
    /// other schemes sign the URL exactly as called.
    #[test]
    fn only_twilio_tries_the_port_variant() {
        let (at_443, plain) = ("https://example.com:443/hook", "https://example.com/hook");
        let t = 1_700_000_000;
        for (scheme, name) in [
            (UrlScheme::Square, "square"),
            (UrlScheme::HubSpotV3, "hubspot"),
            (UrlScheme::Trello, "trello"),
            (UrlScheme::Mandrill, "mandrill"),
        ] {
            let req = SignRequest {
                body: b"{}",
                timestamp: t,
                id: None,
                url: Some(at_443),
                method: "POST",
            };
            let mut map = HeaderMap::new();
            for (k, val) in sign(scheme, b"k3y", &req).unwrap() {
                map.insert(
                    HeaderName::from_bytes(k.as_bytes()).unwrap(),
                    val.parse().unwrap(),
                );
            }
            let v = verifier(name, &secrets(&["k3y"]));
            let at = |url| run_at(&v, &map, b"{}", url, "POST", t * 1000);
            assert!(at(at_443).is_ok(), "{name}");
            assert_eq!(kind(&at(plain)), "invalid", "{name}");
        }
    }

    /// What the pipeline asks of every URL-bound verifier before the body:
    /// its URL, methods, window and head-only check.
    #[test]
    fn route_facts_and_precheck() {
        let twilio = verifier("twilio", &secrets(&["12345"]));
        let trello = verifier("trello", &secrets(&["s"]));
        let hubspot = verifier("hubspot", &secrets(&["s"]));
        assert!(twilio.signs_url() && trello.signs_url() && hubspot.signs_url());
        // Only Trello's HEAD handshake opens the route to another method.
        assert_eq!(twilio.extra_methods(), &[] as &[http::Method]);
        assert_eq!(trello.extra_methods(), &[http::Method::HEAD]);
        // Only HubSpot v3 signs a timestamp.
        assert_eq!(twilio.tolerance(), None);
        assert_eq!(hubspot.tolerance(), Some(Duration::from_secs(300)));
        let h = headers(&[
            (
                "x-hubspot-signature-v3",
                &[[b'A'; 43].as_slice(), b"="].concat(),
            ),
            (HUBSPOT_TS, b"1700000000000"),
        ]);
        assert_eq!(precheck_at(&hubspot, &h, 1_700_000_000), Ok(()));
        assert!(matches!(
            precheck_at(&hubspot, &h, 1_700_000_301),
            Err(Rejection::TimestampOutOfTolerance { .. })
        ));
        let unsigned = headers(&[(HUBSPOT_TS, b"1700000000000")]);
        assert!(matches!(
            precheck_at(&hubspot, &unsigned, 1_700_000_000),
            Err(Rejection::MissingSignature { .. })
        ));
    }

    #[test]
    fn port_variants() {
        assert_eq!(
            port_variant("https://a.com/x?y=1").as_deref(),
            Some("https://a.com:443/x?y=1")
        );
        assert_eq!(
            port_variant("http://a.com:80/x").as_deref(),
            Some("http://a.com/x")
        );
        assert_eq!(port_variant("https://a.com:8443/x"), None);
        assert_eq!(port_variant("not a url"), None);
    }

    #[test]
    fn garbage_never_panics() {
        let v = verifier("twilio", &secrets(&["12345"]));
        let hs = verifier("hubspot", &secrets(&["s"]));
        let mut g = Garbage::new(9);
        for _ in 0..2000 {
            let body = g.value(TW_FORM);
            let url = String::from_utf8_lossy(&g.value(TW_URL.as_bytes())).into_owned();
            if let Ok(hv) = http::HeaderValue::from_bytes(&g.value(b"RSOYDt4T1cUTdK1PDd93/VVr8B8="))
            {
                let mut h = HeaderMap::new();
                h.insert("x-twilio-signature", hv.clone());
                let _ = run_at(&v, &h, &body, &url, "POST", 0);
                let settings = g.value(b"key=k1,algorithm=HMAC_SHA256");
                if let Ok(sv) = http::HeaderValue::from_bytes(&settings) {
                    h.insert(TW_SETTINGS, sv);
                    let _ = run_at(&v, &h, &body, &url, "POST", 0);
                }
                h.insert("x-hubspot-signature-v3", hv.clone());
                h.insert("x-hubspot-request-timestamp", hv);
                let _ = run_at(&hs, &h, &body, &url, "POST", 0);
            }
        }
    }
}
