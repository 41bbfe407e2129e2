//! Family: one HMAC signature in its own header, over a template of the body,
//! a timestamp header, an id header and literals; hex or base64, with an
//! optional fixed prefix (`sha256=`, `v0=`).
//!
//! Owns the [`HmacSpec`] data shape (GitHub, Shopify, Slack today; Bitbucket,
//! Meta, Zoom, Twitch, Typeform, ... later as catalog entries) and the
//! verifier that the generic `hmac` provider shares. Does not own the
//! `[route.hmac]` translation (`generic.rs`), list or `k=v` signature headers
//! (`structured.rs`), Standard Webhooks (`standard_webhooks.rs`), or the
//! constant-time comparison itself (`keys.rs`).

use std::borrow::Cow;
use std::time::Duration;

use http::{HeaderMap, HeaderName};

use super::common::{
    self, decode_signature, header_bytes, header_name, id_text, render_template, strip_prefix_ci,
    Part, Sig, Signed, SignedBody, TimestampFormat, Tolerance, ToleranceSpec, MAX_PARTS,
};
use super::delimit;
use super::handshake::{ChallengeKeys, Handshake};
use super::keys::{match_one, KeyDecoding, KeyRing, MacKey};
use super::signed_url;
use super::template::{body_sha256_hex, sorted_form, RequestValues};
use super::UrlTarget;
use super::{
    BuildError, Dedup, HandshakeReply, HmacAlgorithm, HmacKeyEncoding, Inbound, ProviderInfo,
    ProviderParams, Rejection, SignRequest, SignatureEncoding, Verified, Verifier,
};
use crate::body::Payload;
use crate::secret::Secret;

/// The signature-in-one-header scheme of one provider, as data. `Cow` so the
/// catalog can hold `'static` entries and the generic `hmac` provider can
/// build the same shape from configuration at start-up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct HmacSpec {
    /// Hash function.
    pub(crate) algorithm: HmacAlgorithm,
    /// How each secret becomes the key (its UTF-8 bytes for most).
    pub(crate) key: KeyDecoding,
    /// Header carrying the signature.
    pub(crate) header: Cow<'static, str>,
    /// Headers tried in order when `header` is absent: the first present
    /// one is the signature, right or wrong (no falling through).
    pub(crate) fallback_headers: Cow<'static, [Cow<'static, str>]>,
    /// Fixed text before the encoded signature (matched case-insensitively).
    pub(crate) prefix: Option<Cow<'static, str>>,
    /// Hex or base64.
    pub(crate) encoding: SignatureEncoding,
    /// Header with the signed timestamp, and how it is written.
    pub(crate) timestamp: Option<(Cow<'static, str>, TimestampFormat)>,
    /// Header with the signed id; used only if `signed` contains [`Part::Id`].
    pub(crate) id_header: Option<Cow<'static, str>>,
    /// What is signed.
    pub(crate) signed: Cow<'static, [Part]>,
    /// Default window for the timestamp, when there is one.
    pub(crate) tolerance: ToleranceSpec,
    /// Top-level JSON field of the (signed) body holding a Unix-ms timestamp,
    /// for providers that put it there rather than in a header (Linear's
    /// `webhookTimestamp`). Checked against `tolerance` after the signature.
    pub(crate) body_timestamp: Option<&'static str>,
}

/// The template of providers that sign the raw body only.
pub(crate) const BODY: &[Part] = &[Part::Body];

/// Placeholder tolerance for schemes without a timestamp (never applied).
pub(crate) const NO_TIMESTAMP: ToleranceSpec = ToleranceSpec { default_secs: 0 };

impl HmacSpec {
    /// The same scheme, with a signed Unix-ms timestamp inside the JSON body
    /// (Linear) checked against `tolerance` after the signature.
    pub(crate) const fn with_body_timestamp(
        mut self,
        field: &'static str,
        tolerance: ToleranceSpec,
    ) -> Self {
        self.body_timestamp = Some(field);
        self.tolerance = tolerance;
        self
    }

    /// A provider that signs the raw body into one header (GitHub, Shopify,
    /// Bitbucket, Meta, ...): the common case as one line of the catalog.
    pub(crate) const fn body(
        algorithm: HmacAlgorithm,
        header: &'static str,
        prefix: Option<&'static str>,
        encoding: SignatureEncoding,
    ) -> Self {
        Self::keyed_body(HmacKeyEncoding::Utf8, algorithm, header, prefix, encoding)
    }

    /// The same, keyed with each secret decoded as `key` (Microsoft Teams'
    /// base64 security token, Onfleet's hex secret).
    pub(crate) const fn keyed_body(
        key: HmacKeyEncoding,
        algorithm: HmacAlgorithm,
        header: &'static str,
        prefix: Option<&'static str>,
        encoding: SignatureEncoding,
    ) -> Self {
        Self {
            algorithm,
            key: KeyDecoding::new(key),
            header: Cow::Borrowed(header),
            fallback_headers: Cow::Borrowed(&[]),
            prefix: match prefix {
                Some(p) => Some(Cow::Borrowed(p)),
                None => None,
            },
            encoding,
            timestamp: None,
            id_header: None,
            signed: Cow::Borrowed(BODY),
            tolerance: NO_TIMESTAMP,
            body_timestamp: None,
        }
    }

    /// The row of `hookguard providers` for this shape.
    pub(crate) fn info(&self, name: &'static str) -> ProviderInfo {
        let mut headers = format!(
            "{}: {}<{}>",
            self.header,
            self.prefix.as_deref().unwrap_or(""),
            common::encoding_name(self.encoding)
        );
        if let Some((ts, format)) = &self.timestamp {
            headers.push_str(&format!(", {ts}: <{}>", format.name()));
        }
        if let (Some(id), true) = (&self.id_header, self.signed.contains(&Part::Id)) {
            headers.push_str(&format!(", {id}: <id>"));
        }
        let algorithm = match self.signed.contains(&Part::Secret) {
            true => common::plain_hash_name(self.algorithm),
            false => common::algorithm_name(self.algorithm),
        };
        ProviderInfo {
            name,
            algorithm,
            headers,
            signed: common::render_template(&self.signed),
            // The catalog fills in the window (it knows that a timestamp in
            // the body, too, makes the scheme timed).
            ..ProviderInfo::default()
        }
    }
}

/// The headers a sender of this scheme would send for `req` (`hookguard sign`).
pub(crate) fn sign(
    spec: &HmacSpec,
    secret: &[u8],
    req: &SignRequest<'_>,
) -> Result<Vec<(String, String)>, BuildError> {
    let timestamp = spec
        .timestamp
        .as_ref()
        .map(|(_, format)| format.render(req.timestamp))
        .unwrap_or_default();
    let signs_id = spec.signed.contains(&Part::Id);
    let id = match req.id {
        Some(id) => id.to_owned(),
        None => common::default_id(req.timestamp),
    };
    let id = if signs_id { id } else { String::new() };
    let body_hash = body_sha256_hex(SignedBody::Slice(req.body));
    let form = match spec.signed.contains(&Part::Form) {
        true => sorted_form(req.body),
        false => Vec::new(),
    };
    let (path, query) = sign_path_and_query(spec, req)?;
    let signed = Signed::new(
        &spec.signed,
        SignedBody::Slice(req.body),
        timestamp.as_bytes(),
        id.as_bytes(),
    )
    .with_request(RequestValues {
        method: req.method,
        url: req.url.unwrap_or(""),
        path: &path,
        query: &query,
        headers: None,
        body_sha256_hex: &body_hash,
        form: &form,
    });
    let key = spec.key.key(secret).map_err(|message| BuildError {
        field: "secret".into(),
        message,
    })?;
    let tag = MacKey::for_template(spec.algorithm, &key, &spec.signed).tag(&signed);
    let mut out = vec![(
        spec.header.to_string(),
        format!(
            "{}{}",
            spec.prefix.as_deref().unwrap_or(""),
            common::encode_signature(tag.as_ref(), spec.encoding)
        ),
    )];
    if let Some((name, _)) = &spec.timestamp {
        out.push((name.to_string(), timestamp));
    }
    if let (Some(name), true) = (&spec.id_header, signs_id) {
        out.push((name.to_string(), id));
    }
    Ok(out)
}

/// The path and query a sender signs, from `req.url`, for templates that
/// name them; `{header:Name}` cannot be signed here (no header values are
/// given), and `{url}`, `{path}` and `{query}` need the URL.
fn sign_path_and_query(
    spec: &HmacSpec,
    req: &SignRequest<'_>,
) -> Result<(String, String), BuildError> {
    let err = |message: &str| BuildError {
        field: "hmac.signed".into(),
        message: message.into(),
    };
    if spec.signed.iter().any(|p| matches!(p, Part::Header(_))) {
        return Err(err(
            "names {header:...}: sign the other values by hand, the tool has no header values",
        ));
    }
    let needs_url = spec
        .signed
        .iter()
        .any(|p| matches!(p, Part::Url | Part::Path | Part::Query));
    if !needs_url {
        return Ok((String::new(), String::new()));
    }
    let url = req
        .url
        .ok_or_else(|| err("names {url}, {path} or {query}: give the full public URL"))?;
    let uri: http::Uri = url
        .parse()
        .map_err(|_| err("the URL given does not parse"))?;
    Ok((uri.path().to_owned(), uri.query().unwrap_or("").to_owned()))
}

// === impl HmacVerifier ===

/// A built one-header HMAC verifier: names parsed and keys derived at start-up.
pub(crate) struct HmacVerifier {
    provider: &'static str,
    keys: KeyRing,
    header: HeaderName,
    /// Tried in order when `header` is absent (see [`HmacSpec`]).
    fallbacks: Box<[HeaderName]>,
    prefix: Option<Box<str>>,
    encoding: SignatureEncoding,
    timestamp: Option<(HeaderName, TimestampFormat)>,
    /// Present only when the id is signed (part of the template).
    id: Option<HeaderName>,
    /// Bytes a signed id must not contain: its separators in the template.
    id_forbidden: Box<[u8]>,
    /// The timestamp follows the body with no separator (Cloudinary), so a
    /// leading zero would let the message split two ways (`delimit.rs`).
    timestamp_abuts_body: bool,
    signed: Cow<'static, [Part]>,
    /// The request values the template names (`{method}`, `{header:X}`,
    /// ...: the generic scheme only), each with the bytes it must not
    /// contain to split one way (`delimit.rs`).
    request_values: Box<[RequestValue]>,
    /// Whether the template names `{body_sha256_hex}`.
    hashes_body: bool,
    /// Whether the template names `{form}`.
    sorts_form: bool,
    /// Whether `{form}` follows `{url}` with no separator (Twilio's layout):
    /// the URL must then end where the route says (its query pinned).
    form_follows_url: bool,
    /// Whether the template names `{url}`.
    signs_url: bool,
    tolerance: Tolerance,
    body_timestamp: Option<&'static str>,
    handshake: Handshake,
    verify_token: Option<Secret>,
}

/// A request value a generic template names, as built: its header name
/// parsed once (`{header:Name}`), and the bytes it must not contain.
struct RequestValue {
    part: Part,
    header: Option<HeaderName>,
    forbidden: Box<[u8]>,
}

/// What the head of one request holds for this scheme.
struct Head<'h> {
    sig: Sig,
    timestamp: &'h [u8],
    id: Option<&'h str>,
}

impl HmacVerifier {
    /// Builds from `spec`; header names from the catalog are validated here.
    pub(crate) fn build(
        provider: &'static str,
        spec: &HmacSpec,
        params: ProviderParams<'_>,
    ) -> Result<Self, BuildError> {
        let id = match &spec.id_header {
            Some(h) if spec.signed.contains(&Part::Id) => Some(header_name("hmac.id_header", h)?),
            _ => None,
        };
        let timestamp = match &spec.timestamp {
            Some((h, format)) => Some((header_name("hmac.timestamp_header", h)?, *format)),
            None => None,
        };
        if spec.signed.len() > MAX_PARTS
            || (spec.signed.contains(&Part::Timestamp) && timestamp.is_none())
            || (spec.signed.contains(&Part::Id) && id.is_none())
        {
            return Err(BuildError {
                field: "provider".into(),
                message: format!("built-in scheme {provider:?} is inconsistent (template)"),
            });
        }
        let format = timestamp.as_ref().map(|(_, format)| *format);
        let mut request_values: Vec<RequestValue> = Vec::new();
        for part in spec.signed.iter().filter(|p| p.is_request_value()) {
            if request_values.iter().all(|v| v.part != *part) {
                request_values.push(RequestValue {
                    part: part.clone(),
                    header: match part {
                        Part::Header(name) => Some(header_name("hmac.signed", name)?),
                        _ => None,
                    },
                    forbidden: delimit::forbidden_bytes(&spec.signed, part, format).into(),
                });
            }
        }
        Ok(Self {
            provider,
            keys: KeyRing::for_template(params.secrets, spec.algorithm, &spec.key, &spec.signed)?,
            header: header_name("hmac.header", &spec.header)?,
            fallbacks: spec
                .fallback_headers
                .iter()
                .map(|h| header_name("hmac.headers", h))
                .collect::<Result<_, _>>()?,
            prefix: spec.prefix.as_deref().map(Box::from),
            encoding: spec.encoding,
            timestamp,
            id,
            id_forbidden: delimit::forbidden_bytes(&spec.signed, &Part::Id, format).into(),
            timestamp_abuts_body: delimit::timestamp_abuts_body(&spec.signed),
            signed: spec.signed.clone(),
            request_values: request_values.into(),
            hashes_body: spec.signed.contains(&Part::BodySha256Hex),
            sorts_form: spec.signed.contains(&Part::Form),
            form_follows_url: spec.signed.windows(2).any(|w| w == [Part::Url, Part::Form]),
            signs_url: spec.signed.contains(&Part::Url),
            tolerance: Tolerance::new(spec.tolerance, params.tolerance),
            body_timestamp: spec.body_timestamp,
            handshake: Handshake::None,
            verify_token: None,
        })
    }

    /// Adds the provider's handshake (and Meta's `verify_token`).
    pub(crate) fn with_handshake(mut self, handshake: Handshake, token: Option<&Secret>) -> Self {
        self.handshake = handshake;
        self.verify_token = token.cloned();
        self
    }

    /// Reads every header the scheme needs: absent ones first (missing),
    /// then the signature's shape (invalid).
    fn head<'h>(&self, headers: &'h HeaderMap) -> Result<Head<'h>, Rejection> {
        let (sig_header, raw) = self.signature_header(headers)?;
        let timestamp = match &self.timestamp {
            Some((name, _)) => header_bytes(headers, name)?,
            None => &[],
        };
        if self.timestamp_abuts_body && timestamp.len() > 1 && timestamp[0] == b'0' {
            return Err(Rejection::InvalidSignature {
                detail: "the timestamp has a leading zero, and it follows the body with no \
                         separator: the message would split more than one way, so it is refused"
                    .into(),
            });
        }
        let id = match &self.id {
            Some(name) => {
                let id = id_text(name, header_bytes(headers, name)?)?;
                delimit::check(name, id.as_bytes(), &self.id_forbidden)?;
                Some(id)
            }
            None => None,
        };
        let invalid = |why: &str| Rejection::InvalidSignature {
            detail: format!("header {sig_header:?}: {why}"),
        };
        let value = match &self.prefix {
            Some(p) => strip_prefix_ci(raw, p)
                .ok_or_else(|| invalid(&format!("unexpected prefix (expected {p:?})")))?,
            None => raw,
        };
        let sig = decode_signature(value, self.encoding, self.keys.tag_len())
            .map_err(|why| invalid(&why))?;
        for header in self.request_values.iter().filter_map(|v| v.header.as_ref()) {
            header_bytes(headers, header)?;
        }
        Ok(Head { sig, timestamp, id })
    }

    /// The signature header and its value: `header`, else the first of the
    /// fallbacks present. A present header is used whatever it holds: a
    /// wrong signature there never falls through to the next one.
    fn signature_header<'h>(
        &self,
        headers: &'h HeaderMap,
    ) -> Result<(&HeaderName, &'h [u8]), Rejection> {
        if self.fallbacks.is_empty() {
            return Ok((&self.header, header_bytes(headers, &self.header)?));
        }
        let all = std::iter::once(&self.header).chain(self.fallbacks.iter());
        let mut tried = all.clone();
        match tried.find(|name| headers.contains_key(*name)) {
            Some(name) => Ok((name, header_bytes(headers, name)?)),
            None => Err(Rejection::MissingSignature {
                detail: format!(
                    "none of the signature headers is present: {}",
                    all.map(HeaderName::as_str).collect::<Vec<_>>().join(", ")
                ),
            }),
        }
    }

    /// The request values the template names, each refused when it holds a
    /// byte that would let the message split another way.
    fn request_values<'r>(
        &self,
        req: &Inbound<'r>,
        body_hash: &'r [u8],
        form: &'r [u8],
    ) -> Result<RequestValues<'r>, Rejection> {
        let values = RequestValues {
            method: req.method.as_str(),
            url: req.public_url,
            path: req.uri.path(),
            query: req.uri.query().unwrap_or(""),
            headers: Some(req.headers),
            body_sha256_hex: body_hash,
            form,
        };
        for RequestValue {
            part, forbidden, ..
        } in self.request_values.iter()
        {
            let value = values.value(part);
            if let Some(&b) = forbidden.iter().find(|b| value.contains(b)) {
                return Err(Rejection::InvalidSignature {
                    detail: format!(
                        "{} contains {:?}, which separates it from the next value in the \
                         signed message: the message would split more than one way, so it is \
                         refused",
                        render_template(std::slice::from_ref(part)),
                        char::from(b)
                    ),
                });
            }
        }
        Ok(values)
    }

    /// The signed body's own timestamp field (Unix ms), read only after the
    /// signature proved the body genuine.
    fn check_body_time(&self, field: &str, body: &[u8], now_ms: i64) -> Result<(), Rejection> {
        let what = format!("body field {field:?}");
        let value: serde_json::Value =
            serde_json::from_slice(body).map_err(|_| Rejection::MissingSignature {
                detail: format!("{what}: body is not JSON"),
            })?;
        let ts = value
            .get(field)
            .ok_or_else(|| Rejection::MissingSignature {
                detail: format!("{what} is absent"),
            })?;
        let ts = ts
            .as_i64()
            .ok_or_else(|| Rejection::TimestampOutOfTolerance {
                detail: format!("{what}: not an integer of Unix milliseconds"),
            })?;
        self.tolerance.check_ms(&what, ts, now_ms)
    }

    fn check_time(&self, head: &Head<'_>, now_ms: i64) -> Result<(), Rejection> {
        match &self.timestamp {
            Some((name, format)) => self.tolerance.check(name, head.timestamp, *format, now_ms),
            None => Ok(()),
        }
    }
}

impl Verifier for HmacVerifier {
    fn provider(&self) -> &str {
        self.provider
    }

    fn tolerance(&self) -> Option<Duration> {
        let timed = self.timestamp.is_some() || self.body_timestamp.is_some();
        timed.then(|| self.tolerance.window())
    }

    fn precheck(&self, req: &Inbound<'_>) -> Result<(), Rejection> {
        let head = self.head(req.headers)?;
        self.check_time(&head, req.now_ms)
    }

    fn verify(&self, req: &Inbound<'_>, body: &Payload) -> Result<Verified, Rejection> {
        let head = self.head(req.headers)?;
        let id = head.id.unwrap_or("").as_bytes();
        let mut signed = Signed::new(&self.signed, SignedBody::Received(body), head.timestamp, id);
        // Presets name no request values: one test of a bool, no hashing.
        let body_hash = match self.hashes_body {
            true => body_sha256_hex(SignedBody::Received(body)),
            false => [0; 64],
        };
        let form = match self.sorts_form {
            true => sorted_form(&body.contiguous()),
            false => Vec::new(),
        };
        if !self.request_values.is_empty() || self.hashes_body || self.sorts_form {
            let hash = if self.hashes_body {
                &body_hash[..]
            } else {
                &[][..]
            };
            signed = signed.with_request(self.request_values(req, hash, &form)?);
        }
        let secret_index = match_one(&self.keys, req.now_ms, &signed, &head.sig)?;
        self.check_time(&head, req.now_ms)?;
        if let Some(field) = self.body_timestamp {
            self.check_body_time(field, &body.contiguous(), req.now_ms)?;
        }
        Ok(Verified {
            secret_index,
            event_id: head.id.map(str::to_owned),
            dedup: match head.id {
                Some(id) => Dedup::SignedId(id.to_owned()),
                // The one signature a request carries is a deterministic
                // function of message and provider key: a key in itself, with
                // no pass over the body (see `Dedup::Signature`).
                None => Dedup::Signature(head.sig.bytes().to_vec()),
            },
        })
    }

    fn extra_methods(&self) -> &'static [http::Method] {
        self.handshake.extra_methods()
    }

    fn signs_url(&self) -> bool {
        self.signs_url
    }

    fn signed_url(&self, target: &UrlTarget<'_>) -> Result<String, Rejection> {
        match self.signs_url {
            true => signed_url::resolve(target, self.form_follows_url.then_some(self.provider)),
            false => Ok(String::new()),
        }
    }

    fn challenge(&self, req: &Inbound<'_>) -> Option<Result<HandshakeReply, Rejection>> {
        if self.handshake == Handshake::None {
            return None;
        }
        let keys = ChallengeKeys {
            verify_token: self.verify_token.as_ref(),
            crc_key: self.keys.first_active(req.now_ms),
        };
        let signed = req.headers.contains_key(&self.header);
        self.handshake.challenge(req, keys, signed)
    }

    fn awaits_body_challenge(&self, req: &Inbound<'_>) -> bool {
        if self.handshake == Handshake::None {
            return false;
        }
        let signed = req.headers.contains_key(&self.header);
        self.handshake.awaits_body(req, signed)
    }

    fn body_challenge(
        &self,
        req: &Inbound<'_>,
        body: &Payload,
    ) -> Result<HandshakeReply, Rejection> {
        let _ = req;
        self.handshake.body_challenge(&body.contiguous())
    }

    fn handshake(&self, req: &Inbound<'_>, body: &Payload) -> Option<HandshakeReply> {
        if self.handshake == Handshake::None {
            return None;
        }
        // Runs only after `verify` succeeded; verifying again names the key.
        let index = self.verify(req, body).ok()?.secret_index;
        self.handshake
            .handshake(req, &body.contiguous(), self.keys.key(index))
    }
}

#[cfg(test)]
#[path = "hmac_tests.rs"]
mod tests;
