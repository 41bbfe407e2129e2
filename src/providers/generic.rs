//! The generic `hmac` provider: turns a route's `[route.hmac]` table into
//! the same [`HmacSpec`] the built-in one-header providers use, so it shares
//! their verifier (`hmac.rs`) and its tests cover the operator-facing rules.
//!
//! Owns the template language (`{body}`, `{timestamp}`, `{id}`, literals,
//! and `{secret}` in the plain-hash mode) and its build-time checks,
//! reported on the `hmac.*` field at fault. Does not own verification itself.

use std::borrow::Cow;

use super::common::{
    header_name, render_template, Part, TimestampFormat, ToleranceSpec, MAX_PARTS,
};
use super::delimit;
use super::hmac::HmacSpec;
use super::keys::KeyDecoding;
use super::structured::StructuredSpec;
use super::{BuildError, GenericHmac, HmacMode, HmacTimestampFormat};

/// Default window of the generic scheme: 5 minutes, as for providers that
/// document none.
const GENERIC_TOLERANCE: ToleranceSpec = ToleranceSpec { default_secs: 300 };

/// The scheme `[route.hmac]` describes: one signature in its header, or a
/// `k=v` header (`signature_keys`) read by the structured family.
pub(crate) enum GenericScheme {
    /// One signature in `header` (`hmac.rs`).
    Hmac(HmacSpec),
    /// Timestamp and signatures as pairs in `header` (`structured.rs`).
    Structured(StructuredSpec),
}

/// Translates `[route.hmac]` into the scheme it describes.
pub(crate) fn generic_scheme(cfg: Option<&GenericHmac>) -> Result<GenericScheme, BuildError> {
    match cfg {
        Some(cfg) if !cfg.signature_keys.is_empty() => {
            structured_spec(cfg).map(GenericScheme::Structured)
        }
        Some(cfg) if cfg.timestamp_key.is_some() || cfg.pair_separator.is_some() => {
            let key = match cfg.timestamp_key {
                Some(_) => "hmac.timestamp_key",
                None => "hmac.pair_separator",
            };
            Err(BuildError {
                field: key.into(),
                message: "applies to a k=v signature header, which needs signature_keys".into(),
            })
        }
        _ => generic_spec(cfg).map(GenericScheme::Hmac),
    }
}

/// A `k=v` signature header (Stripe's shape, with the operator's key names
/// and separator): the timestamp, if signed, comes from `timestamp_key`.
fn structured_spec(cfg: &GenericHmac) -> Result<StructuredSpec, BuildError> {
    let err = |field: &str, message: &str| BuildError {
        field: field.into(),
        message: message.into(),
    };
    header_name("hmac.header", &cfg.header)?;
    let refused = [
        (
            cfg.mode == HmacMode::Hash,
            "hmac.mode",
            "the k=v scheme is an HMAC",
        ),
        (
            !cfg.fallback_headers.is_empty(),
            "hmac.headers",
            "the k=v scheme reads one header",
        ),
        (
            cfg.prefix.is_some(),
            "hmac.prefix",
            "each signature is written key=value",
        ),
        (
            cfg.timestamp_header.is_some(),
            "hmac.timestamp_header",
            "the timestamp is the pair named by timestamp_key",
        ),
        (
            cfg.id_header.is_some(),
            "hmac.id_header",
            "a k=v header scheme signs no id",
        ),
    ];
    if let Some((_, field, why)) = refused.iter().find(|(set, _, _)| *set) {
        return Err(err(
            field,
            &format!("is not used with signature_keys: {why}"),
        ));
    }
    let signed = parse_template(&cfg.signed, false).map_err(|m| err("hmac.signed", &m))?;
    if signed
        .iter()
        .any(|p| matches!(p, Part::Id | Part::Secret | Part::Form) || p.is_request_value())
    {
        return Err(err(
            "hmac.signed",
            "with signature_keys only {timestamp}, {body} or {body_sha256_hex} and literals \
             can be signed",
        ));
    }
    if signed.contains(&Part::BodySha256Hex) {
        return Err(err(
            "hmac.signed",
            "with signature_keys, sign {body} itself",
        ));
    }
    if signed.contains(&Part::Timestamp) != cfg.timestamp_key.is_some() {
        return Err(err(
            "hmac.signed",
            "signs {timestamp} exactly when timestamp_key is set (an unsigned timestamp \
             cannot stop replays)",
        ));
    }
    let separator = cfg.pair_separator.unwrap_or(b',');
    Ok(StructuredSpec {
        algorithm: cfg.algorithm,
        key: key_decoding(cfg),
        header: Cow::Owned(cfg.header.clone()),
        separator,
        joiner: Cow::Owned(char::from(separator).to_string()),
        timestamp_key: cfg.timestamp_key.clone().map(Cow::Owned),
        timestamp_format: timestamp_format(cfg.timestamp_format),
        signature_keys: cfg.signature_keys.iter().cloned().map(Cow::Owned).collect(),
        encoding: cfg.encoding,
        signed: Cow::Owned(signed),
        tolerance: GENERIC_TOLERANCE,
    })
}

/// How each secret becomes the key, from `key_encoding` and `key_prefix`.
fn key_decoding(cfg: &GenericHmac) -> KeyDecoding {
    KeyDecoding {
        encoding: cfg.key_encoding,
        prefix: cfg
            .key_prefix
            .as_ref()
            .filter(|p| !p.is_empty())
            .map(|p| Cow::Owned(p.clone())),
    }
}

/// Translates `[route.hmac]` into an [`HmacSpec`], rejecting templates that
/// would sign less than the operator thinks: unknown placeholders,
/// `{timestamp}`/`{id}` without their header, a timestamp header that is not
/// signed (its tolerance check would prove nothing), no `{body}`, two values
/// with no separator between them (see `delimit.rs`).
pub(crate) fn generic_spec(cfg: Option<&GenericHmac>) -> Result<HmacSpec, BuildError> {
    let err = |field: &str, message: String| BuildError {
        field: field.into(),
        message,
    };
    let cfg = cfg.ok_or_else(|| {
        err(
            "hmac",
            "provider \"hmac\" needs a [route.hmac] table (header, algorithm, encoding)".into(),
        )
    })?;
    header_name("hmac.header", &cfg.header)?;
    if let Some(h) = &cfg.timestamp_header {
        header_name("hmac.timestamp_header", h)?;
    }
    if let Some(h) = &cfg.id_header {
        header_name("hmac.id_header", h)?;
    }
    // Digits only, no leading zero: a shifted split moves the time tenfold.
    let digits_only = cfg.timestamp_format == Some(HmacTimestampFormat::Unix);
    let signed = parse_template(&cfg.signed, digits_only).map_err(|m| err("hmac.signed", m))?;
    check_secret_place(cfg.mode, &signed).map_err(|m| err("hmac.signed", m.into()))?;
    let uses_ts = signed.contains(&Part::Timestamp);
    if uses_ts && cfg.timestamp_header.is_none() {
        return Err(err(
            "hmac.signed",
            "uses {timestamp} but hmac.timestamp_header is not set".into(),
        ));
    }
    if !uses_ts && cfg.timestamp_header.is_some() {
        return Err(err(
            "hmac.timestamp_header",
            "is set but hmac.signed does not contain {timestamp}: an unsigned timestamp \
             cannot be trusted for the tolerance check"
                .into(),
        ));
    }
    if signed.contains(&Part::Id) && cfg.id_header.is_none() {
        return Err(err(
            "hmac.signed",
            "uses {id} but hmac.id_header is not set".into(),
        ));
    }
    for h in &cfg.fallback_headers {
        header_name("hmac.headers", h)?;
    }
    Ok(HmacSpec {
        algorithm: cfg.algorithm,
        key: key_decoding(cfg),
        header: Cow::Owned(cfg.header.clone()),
        fallback_headers: cfg
            .fallback_headers
            .iter()
            .cloned()
            .map(Cow::Owned)
            .collect(),
        prefix: cfg
            .prefix
            .as_ref()
            .filter(|p| !p.is_empty())
            .map(|p| Cow::Owned(p.clone())),
        encoding: cfg.encoding,
        timestamp: cfg.timestamp_header.as_ref().map(|h| {
            (
                Cow::Owned(h.clone()),
                timestamp_format(cfg.timestamp_format),
            )
        }),
        id_header: cfg.id_header.as_ref().map(|h| Cow::Owned(h.clone())),
        signed: Cow::Owned(signed),
        tolerance: GENERIC_TOLERANCE,
        body_timestamp: None,
    })
}

/// `{secret}` appears exactly once in the plain-hash mode, and never in an
/// HMAC (whose key the secret already is).
fn check_secret_place(mode: HmacMode, signed: &[Part]) -> Result<(), &'static str> {
    match (mode, signed.iter().filter(|p| **p == Part::Secret).count()) {
        (HmacMode::Hash, 1) | (HmacMode::Hmac, 0) => Ok(()),
        (HmacMode::Hash, 0) => Err("mode = \"hash\" needs {secret} in the template: a digest \
                                    without the secret proves nothing"),
        (HmacMode::Hash, _) => Err("must contain {secret} exactly once"),
        (HmacMode::Hmac, _) => Err("{secret} is only for mode = \"hash\": an HMAC is keyed \
                                    with the secret instead"),
    }
}

/// The stated format of the timestamp header; unstated, the two forms the
/// scheme has always read (digits are seconds, else RFC 3339): never
/// milliseconds, which only a stated `unix_ms` reads.
fn timestamp_format(stated: Option<HmacTimestampFormat>) -> TimestampFormat {
    match stated {
        None => TimestampFormat::UnixSecondsOrRfc3339,
        Some(HmacTimestampFormat::Unix) => TimestampFormat::UnixSeconds,
        Some(HmacTimestampFormat::UnixMs) => TimestampFormat::UnixMillis,
        Some(HmacTimestampFormat::Rfc3339) => TimestampFormat::Rfc3339,
        Some(HmacTimestampFormat::Iso8601Naive) => TimestampFormat::Iso8601Naive,
    }
}

/// Parses `"{timestamp}.{body}"`-style templates. `{body}` or
/// `{body_sha256_hex}` must appear exactly once; braces are only for
/// placeholders. `{body}{timestamp}` with no separator only when
/// `digits_only` (a stated Unix-seconds timestamp).
fn parse_template(text: &str, digits_only: bool) -> Result<Vec<Part>, String> {
    let mut parts = Vec::new();
    let mut rest = text;
    while !rest.is_empty() {
        let brace = rest.find(['{', '}']).unwrap_or(rest.len());
        if brace > 0 {
            parts.push(Part::Literal(Cow::Owned(rest[..brace].to_owned())));
            rest = &rest[brace..];
            continue;
        }
        if rest.starts_with('}') {
            return Err(format!("unmatched '}}' in {text:?}"));
        }
        let close = rest
            .find('}')
            .ok_or_else(|| format!("unclosed '{{' in {text:?}"))?;
        parts.push(placeholder(&rest[1..close])?);
        rest = &rest[close + 1..];
    }
    match parts.iter().filter(|p| p.covers_body()).count() {
        1 => {}
        0 => {
            return Err(
                "must contain {body} (or {body_sha256_hex}, or {form}): a signature that does not \
             cover the body proves nothing about it"
                    .into(),
            )
        }
        _ => {
            return Err(
                "must contain one of {body}, {body_sha256_hex} or {form}, exactly once".into(),
            )
        }
    }
    // `{url}{form}` is Twilio's layout: the URL ends where the route's path
    // (and a pinned query) does, so no byte can move across (`hmac.rs`).
    let allowed = |a: &Part, b: &Part| {
        (digits_only && (a, b) == (&Part::Body, &Part::Timestamp))
            || (a, b) == (&Part::Url, &Part::Form)
    };
    if let Some((a, b)) = delimit::adjacent_values(&parts, allowed) {
        let pair = render_template(&[a.clone(), b.clone()]);
        return Err(format!(
            "{pair} has no separator between its values: bytes could move between them \
             without changing the signature; put a literal between them"
        ));
    }
    if parts.len() > MAX_PARTS {
        return Err(format!(
            "has {} pieces, at most {MAX_PARTS} are supported",
            parts.len()
        ));
    }
    Ok(parts)
}

/// One `{...}` placeholder by its name.
fn placeholder(name: &str) -> Result<Part, String> {
    Ok(match name {
        "body" => Part::Body,
        "timestamp" => Part::Timestamp,
        "id" => Part::Id,
        "method" => Part::Method,
        "url" => Part::Url,
        "path" => Part::Path,
        "query" => Part::Query,
        "body_sha256_hex" => Part::BodySha256Hex,
        "form" => Part::Form,
        "secret" => Part::Secret,
        other => match other.strip_prefix("header:") {
            Some(header) => {
                let name = http::HeaderName::from_bytes(header.as_bytes())
                    .map_err(|_| format!("{{header:{header}}}: not a valid header name"))?;
                Part::Header(Cow::Owned(name.as_str().to_owned()))
            }
            None => {
                return Err(format!(
                    "unknown placeholder {{{other}}}; expected {{body}}, {{timestamp}}, {{id}}, \
                     {{method}}, {{url}}, {{path}}, {{query}}, {{header:Name}}, \
                     {{body_sha256_hex}}, {{form}} or {{secret}}"
                ))
            }
        },
    })
}

#[cfg(test)]
#[path = "generic_tests.rs"]
mod tests;

#[cfg(test)]
#[path = "generic_engine_tests.rs"]
mod engine_tests;
