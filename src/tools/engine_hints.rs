//! Second opinions for a generic `hmac` target (`[route.hmac]`) that did not
//! verify: whether the same request verifies with the secrets read another
//! way (`key_encoding`, `key_prefix`), its signature made with another
//! digest (`algorithm`) or its timestamp read in another unit
//! (`timestamp_format`), its secret digested with the message instead of
//! keying an HMAC (`mode`), or its signature read from another header
//! (`headers`); and which keys a `k=v` header holds when none is a
//! configured signature key.
//!
//! Every hint names an option and its value, or key names of the header;
//! never a secret, a signature or a value read from the request.

use crate::body::Payload;
use crate::providers::{
    GenericHmac, HmacAlgorithm, HmacKeyEncoding, HmacMode, HmacTimestampFormat, Inbound, Rejection,
};

use super::target::Target;

/// What else explains `r` for a generic target, if anything.
pub(crate) fn engine_hint(
    target: &Target,
    r: &Rejection,
    req: &Inbound<'_>,
    body: &Payload,
) -> Option<String> {
    let cfg = target.hmac.as_ref()?;
    match r {
        Rejection::InvalidSignature { detail } if detail.contains("does not match") => {
            key_encoding_hint(target, cfg, req, body).or_else(|| mode_hint(target, cfg, req, body))
        }
        Rejection::MissingSignature { .. } => header_hint(target, cfg, req, body),
        Rejection::InvalidSignature { detail } if detail.contains("= signature") => {
            missing_key_hint(cfg, req)
        }
        // A signature of another length: another digest signed it.
        Rejection::InvalidSignature { detail } if detail.contains("characters") => {
            algorithm_hint(target, cfg, req, body)
        }
        Rejection::TimestampOutOfTolerance { .. } => timestamp_unit_hint(target, cfg, req, body),
        _ => None,
    }
}

/// The key encodings and prefixes a provider's secret is commonly given in.
fn key_readings() -> [(HmacKeyEncoding, Option<&'static str>); 6] {
    use HmacKeyEncoding::*;
    [
        (Utf8, None),
        (Hex, None),
        (Base64, None),
        (Base64, Some("whsec_")),
        (Hex, Some("whsec_")),
        (Utf8, Some("whsec_")),
    ]
}

fn key_encoding_hint(
    target: &Target,
    cfg: &GenericHmac,
    req: &Inbound<'_>,
    body: &Payload,
) -> Option<String> {
    let current = (cfg.key_encoding, cfg.key_prefix.as_deref());
    key_readings()
        .into_iter()
        .filter(|reading| *reading != current)
        .find(|(encoding, prefix)| {
            let mut changed = cfg.clone();
            changed.key_encoding = *encoding;
            changed.key_prefix = prefix.map(str::to_owned);
            verifies(target, changed, req, body)
        })
        .map(|(encoding, prefix)| {
            let prefix = prefix.map_or(String::new(), |p| format!(" and key_prefix = {p:?}"));
            format!(
                "hint: the signature verifies with the secret read as key_encoding = {:?}{prefix}: \
                 the wrong key encoding is configured",
                encoding_name(encoding)
            )
        })
}

fn algorithm_hint(
    target: &Target,
    cfg: &GenericHmac,
    req: &Inbound<'_>,
    body: &Payload,
) -> Option<String> {
    use HmacAlgorithm::*;
    [Sha256, Sha1, Sha512, Md5]
        .into_iter()
        .filter(|algorithm| *algorithm != cfg.algorithm)
        .find(|algorithm| {
            let mut changed = cfg.clone();
            changed.algorithm = *algorithm;
            verifies(target, changed, req, body)
        })
        .map(|algorithm| {
            format!(
                "hint: the signature verifies with algorithm = {:?}: the wrong digest is configured",
                algorithm_name(algorithm)
            )
        })
}

fn timestamp_unit_hint(
    target: &Target,
    cfg: &GenericHmac,
    req: &Inbound<'_>,
    body: &Payload,
) -> Option<String> {
    use HmacTimestampFormat::*;
    [Unix, UnixMs, Rfc3339, Iso8601Naive]
        .into_iter()
        .filter(|format| cfg.timestamp_format != Some(*format))
        .find(|format| {
            let mut changed = cfg.clone();
            changed.timestamp_format = Some(*format);
            verifies(target, changed, req, body)
        })
        .map(|format| {
            format!(
                "hint: the request verifies with its timestamp read as timestamp_format = {:?}: \
                 the wrong timestamp unit is configured",
                format_name(format)
            )
        })
}

/// The other way the secret can enter the digest: a plain hash of the
/// template with `{secret}` before or after it (Recharge's legacy
/// `sha256(secret + body)`, Cloudinary's `sha1(body + timestamp + secret)`)
/// where an HMAC is configured, and the reverse.
fn mode_hint(
    target: &Target,
    cfg: &GenericHmac,
    req: &Inbound<'_>,
    body: &Payload,
) -> Option<String> {
    let readings = match cfg.mode {
        HmacMode::Hmac => vec![
            (HmacMode::Hash, format!("{{secret}}{}", cfg.signed)),
            (HmacMode::Hash, format!("{}{{secret}}", cfg.signed)),
        ],
        HmacMode::Hash => vec![(HmacMode::Hmac, cfg.signed.replace("{secret}", ""))],
    };
    readings
        .into_iter()
        .find(|(mode, signed)| {
            let mut changed = cfg.clone();
            changed.mode = *mode;
            changed.signed.clone_from(signed);
            verifies(target, changed, req, body)
        })
        .map(|(mode, signed)| {
            let mode = match mode {
                HmacMode::Hmac => "hmac",
                HmacMode::Hash => "hash",
            };
            format!(
                "hint: the signature verifies with mode = {mode:?} and signed = {signed:?}: \
                 the secret enters the digest another way"
            )
        })
}

/// Request headers that look like signatures but are not configured: the
/// one that verifies as a fallback, else their names.
fn header_hint(
    target: &Target,
    cfg: &GenericHmac,
    req: &Inbound<'_>,
    body: &Payload,
) -> Option<String> {
    let mut configured = std::iter::once(&cfg.header).chain(&cfg.fallback_headers);
    if configured.any(|h| req.headers.contains_key(h.as_str())) {
        return None; // something else is missing
    }
    let looks_signed = |name: &str| {
        ["signature", "hmac", "-sig"]
            .iter()
            .any(|w| name.contains(w))
    };
    let candidates: Vec<&str> = req
        .headers
        .keys()
        .map(http::HeaderName::as_str)
        .filter(|name| looks_signed(name))
        .take(16)
        .collect();
    let verifying = candidates.iter().find(|name| {
        let mut changed = cfg.clone();
        changed.fallback_headers.push((**name).to_owned());
        verifies(target, changed, req, body)
    });
    match (verifying, candidates.is_empty()) {
        (Some(name), _) => Some(format!(
            "hint: the signature verifies from header {name:?}: add it to headers (tried in order)"
        )),
        (None, true) => None,
        (None, false) => Some(format!(
            "hint: the request carries {} (values not shown), none of them configured",
            candidates.join(", ")
        )),
    }
}

/// The keys of a `k=v` header that holds none of `signature_keys`.
fn missing_key_hint(cfg: &GenericHmac, req: &Inbound<'_>) -> Option<String> {
    if cfg.signature_keys.is_empty() {
        return None;
    }
    let value = req.headers.get(cfg.header.as_str())?.as_bytes();
    let separator = cfg.pair_separator.unwrap_or(b',');
    let keys: Vec<String> = value
        .split(|b| *b == separator)
        .filter_map(|pair| {
            let pair = pair.trim_ascii();
            let eq = pair.iter().position(|b| *b == b'=')?;
            let key = &pair[..eq];
            let printable = key.len() <= 32 && key.iter().all(u8::is_ascii_graphic);
            printable.then(|| String::from_utf8_lossy(key).into_owned())
        })
        .take(16)
        .collect();
    let found = match keys.is_empty() {
        true => "no key=value pairs".to_owned(),
        false => format!("the keys {}", keys.join(", ")),
    };
    Some(format!(
        "hint: header {:?} holds {found} (values not shown); signature_keys names {}",
        cfg.header,
        cfg.signature_keys.join(", ")
    ))
}

/// Whether the request verifies under `changed` in place of the target's
/// `[route.hmac]`.
fn verifies(target: &Target, changed: GenericHmac, req: &Inbound<'_>, body: &Payload) -> bool {
    let mut other = target.clone();
    other.hmac = Some(changed);
    let Ok(verifier) = other.build(None) else {
        return false;
    };
    verifier.precheck(req).is_ok() && verifier.verify(req, body).is_ok()
}

fn encoding_name(encoding: HmacKeyEncoding) -> &'static str {
    match encoding {
        HmacKeyEncoding::Utf8 => "utf8",
        HmacKeyEncoding::Hex => "hex",
        HmacKeyEncoding::Base64 => "base64",
    }
}

fn algorithm_name(algorithm: HmacAlgorithm) -> &'static str {
    match algorithm {
        HmacAlgorithm::Md5 => "md5",
        HmacAlgorithm::Sha1 => "sha1",
        HmacAlgorithm::Sha256 => "sha256",
        HmacAlgorithm::Sha512 => "sha512",
    }
}

fn format_name(format: HmacTimestampFormat) -> &'static str {
    match format {
        HmacTimestampFormat::Unix => "unix",
        HmacTimestampFormat::UnixMs => "unix_ms",
        HmacTimestampFormat::Rfc3339 => "rfc3339",
        HmacTimestampFormat::Iso8601Naive => "iso8601_naive",
    }
}
