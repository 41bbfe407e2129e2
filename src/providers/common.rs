//! Building blocks shared by every HMAC scheme family.
//!
//! Owns: signed-message templates, reading one bounded header value,
//! decoding hex/base64 signatures into a stack buffer, parsing signed
//! timestamps (Unix seconds, RFC 3339) and the tolerance window (always two
//! sided).
//!
//! Does not own: keys and the constant-time comparison (`keys.rs`), nor which
//! headers a provider uses or what it signs — that is the family files' job,
//! described as data in `catalog.rs`.

use std::sync::OnceLock;
use std::time::Duration;

use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig};
use base64::engine::{DecodePaddingMode, Engine};
use http::{HeaderMap, HeaderName};
use time::format_description::OwnedFormatItem;

use super::{BuildError, HmacAlgorithm, Rejection, SignatureEncoding};

/// Longest header value we look at; real signature headers are far shorter,
/// and the cap bounds the work a hostile header can cause.
pub(crate) const MAX_HEADER_LEN: usize = 4096;

/// Most signatures tried from one list header (Stripe `v1=`, Standard
/// Webhooks entries); a request carrying more is refused, so a hostile list
/// cannot multiply the hashing work.
pub(crate) const MAX_CANDIDATES: usize = 16;

/// Most pieces in a signed-message template (bounds the stack array).
pub(crate) const MAX_PARTS: usize = 16;

/// Largest tag any supported algorithm produces (HMAC-SHA512).
const MAX_TAG: usize = 64;

/// Standard base64 that accepts padded and unpadded input alike.
pub(crate) const BASE64_LENIENT: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

// === Signed-message templates (`template.rs`) ===

pub(crate) use super::template::{render_template, Part, Signed, SignedBody};

// === Signatures ===

/// A decoded signature on the stack: no allocation per candidate.
#[derive(Clone, Copy)]
pub(crate) struct Sig {
    buf: [u8; MAX_TAG],
    len: usize,
}

impl Sig {
    /// A blank slot, for fixed-size arrays of candidates.
    pub(crate) const EMPTY: Sig = Sig {
        buf: [0; MAX_TAG],
        len: 0,
    };

    /// The decoded signature bytes.
    pub(crate) fn bytes(&self) -> &[u8] {
        &self.buf[..self.len]
    }
}

/// Nibble value of each byte, or `0xFF` where the byte is no hex digit.
const HEX_NIBBLE: [u8; 256] = {
    let mut table = [0xFF; 256];
    let mut i = 0;
    while i < 16 {
        table[b"0123456789abcdef"[i] as usize] = i as u8;
        table[b"0123456789ABCDEF"[i] as usize] = i as u8;
        i += 1;
    }
    table
};

/// Decodes `text` (exactly twice `out`'s length) into `out`; false if any
/// character is no hex digit. A table lookup per character instead of a
/// branch: a signature's digits and letters are random, and per-character
/// branches mispredicted often enough to show in the request profile.
fn decode_hex(text: &[u8], out: &mut [u8]) -> bool {
    let mut invalid = 0u8;
    for (pair, byte) in text.chunks_exact(2).zip(out.iter_mut()) {
        let (high, low) = (
            HEX_NIBBLE[usize::from(pair[0])],
            HEX_NIBBLE[usize::from(pair[1])],
        );
        invalid |= high | low;
        // `^` would do as well as `|` (a surviving mutant, equivalent):
        // `high << 4` has no low bits, and an invalid pair's byte is unused.
        *byte = (high << 4) | low;
    }
    invalid & 0xF0 == 0
}

/// A signature that does not hold, and why (for the audit log; never a
/// secret or the signature itself).
pub(crate) fn invalid(detail: impl Into<String>) -> Rejection {
    Rejection::InvalidSignature {
        detail: detail.into(),
    }
}

/// Decodes one signature text into exactly `tag_len` bytes. The error is a
/// reason for the audit log; it never repeats the text itself.
pub(crate) fn decode_signature(
    text: &[u8],
    encoding: SignatureEncoding,
    tag_len: usize,
) -> Result<Sig, String> {
    let mut sig = Sig {
        buf: [0; MAX_TAG],
        len: tag_len.min(MAX_TAG),
    };
    match encoding {
        SignatureEncoding::Hex => {
            if text.len() == 2 * sig.len && decode_hex(text, &mut sig.buf[..sig.len]) {
                return Ok(sig);
            }
            // Rejected: find the clearest reason.
            if text.iter().any(|b| !b.is_ascii_hexdigit()) {
                let hint = if looks_like_base64(text) {
                    "something that looks like base64"
                } else {
                    "a non-hex character"
                };
                return Err(format!("expected hex, got {hint}"));
            }
            // All hex digits, so the length is what is wrong.
            return Err(format!(
                "expected {} hex characters, got {}",
                2 * sig.len,
                text.len()
            ));
        }
        SignatureEncoding::Base64 => {
            // 4 characters per 3 bytes, padded: anything longer cannot match.
            if text.len() > 4 * MAX_TAG.div_ceil(3) {
                return Err(format!("expected base64, got {} characters", text.len()));
            }
            // Room for a padded tag; any larger size behaves the same (the
            // length check above bounds the text), so mutating `+` to `*`
            // survives as an equivalent.
            let mut buf = [0u8; MAX_TAG + 3];
            let n = BASE64_LENIENT.decode_slice(text, &mut buf).map_err(|_| {
                if text.iter().all(u8::is_ascii_hexdigit) {
                    "expected base64, got something that looks like hex".to_owned()
                } else {
                    "expected base64, could not decode it".to_owned()
                }
            })?;
            if n != sig.len {
                let hint = if text.iter().all(u8::is_ascii_hexdigit) {
                    " (looks like hex)"
                } else {
                    ""
                };
                return Err(format!(
                    "base64 decodes to {n} bytes, expected {}{hint}",
                    sig.len
                ));
            }
            sig.buf[..n].copy_from_slice(&buf[..n]);
        }
    }
    Ok(sig)
}

fn looks_like_base64(text: &[u8]) -> bool {
    text.iter()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'/' | b'=' | b'-' | b'_'))
}

/// Short names for `hookguard providers`.
pub(crate) fn encoding_name(e: SignatureEncoding) -> &'static str {
    match e {
        SignatureEncoding::Hex => "hex",
        SignatureEncoding::Base64 => "base64",
    }
}

/// Display name of an HMAC algorithm.
pub(crate) fn algorithm_name(a: HmacAlgorithm) -> &'static str {
    match a {
        HmacAlgorithm::Md5 => "HMAC-MD5",
        HmacAlgorithm::Sha1 => "HMAC-SHA1",
        HmacAlgorithm::Sha256 => "HMAC-SHA256",
        HmacAlgorithm::Sha512 => "HMAC-SHA512",
    }
}

/// Display name of the plain-hash mode's digest (`{secret}` in the
/// template, no HMAC).
pub(crate) fn plain_hash_name(a: HmacAlgorithm) -> &'static str {
    match a {
        HmacAlgorithm::Md5 => "MD5 (plain hash with the secret)",
        HmacAlgorithm::Sha1 => "SHA-1 (plain hash with the secret)",
        HmacAlgorithm::Sha256 => "SHA-256 (plain hash with the secret)",
        HmacAlgorithm::Sha512 => "SHA-512 (plain hash with the secret)",
    }
}

// === Headers ===

/// A validated header name, for build-time checking of names from the
/// catalog or from `[route.hmac]` (a bad name is a `BuildError`, not a panic).
pub(crate) fn header_name(field: &str, name: &str) -> Result<HeaderName, BuildError> {
    HeaderName::from_bytes(name.as_bytes()).map_err(|_| BuildError {
        field: field.to_owned(),
        message: format!("{name:?} is not a valid HTTP header name"),
    })
}

/// The single, non-empty, bounded value of header `name`, trimmed of
/// surrounding whitespace. Absent or empty → `MissingSignature`; repeated or
/// oversized → `InvalidSignature` (a repeated signed header is ambiguous).
pub(crate) fn header_bytes<'h>(
    headers: &'h HeaderMap,
    name: &HeaderName,
) -> Result<&'h [u8], Rejection> {
    let mut all = headers.get_all(name).iter();
    let Some(value) = all.next() else {
        return Err(Rejection::MissingSignature {
            detail: format!("header {name:?} is absent"),
        });
    };
    if all.next().is_some() {
        return Err(Rejection::InvalidSignature {
            detail: format!("header {name:?} is repeated"),
        });
    }
    let bytes = value.as_bytes().trim_ascii();
    if bytes.is_empty() {
        return Err(Rejection::MissingSignature {
            detail: format!("header {name:?} is empty"),
        });
    }
    if bytes.len() > MAX_HEADER_LEN {
        return Err(Rejection::InvalidSignature {
            detail: format!(
                "header {name:?} is {} bytes, over the {MAX_HEADER_LEN}-byte limit",
                bytes.len()
            ),
        });
    }
    Ok(bytes)
}

/// A signed id as text (it becomes `X-Hookguard-Event-Id` and the replay
/// key), so it must be printable ASCII.
pub(crate) fn id_text<'h>(name: &HeaderName, raw: &'h [u8]) -> Result<&'h str, Rejection> {
    match std::str::from_utf8(raw) {
        Ok(s) if raw.iter().all(u8::is_ascii_graphic) => Ok(s),
        _ => Err(Rejection::InvalidSignature {
            detail: format!("header {name:?} is not printable ASCII"),
        }),
    }
}

/// Case-insensitive prefix strip (`sha256=` vs `SHA256=` is not a secret).
pub(crate) fn strip_prefix_ci<'v>(value: &'v [u8], prefix: &str) -> Option<&'v [u8]> {
    let p = prefix.as_bytes();
    (value.len() >= p.len() && value[..p.len()].eq_ignore_ascii_case(p)).then(|| &value[p.len()..])
}

// === Timestamps ===

/// How a provider writes its signed timestamp.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TimestampFormat {
    /// Decimal Unix seconds (Stripe, Slack, Standard Webhooks).
    UnixSeconds,
    /// Unix seconds, or an RFC 3339 date-time (the generic scheme).
    UnixSecondsOrRfc3339,
    /// Decimal Unix milliseconds (WorkOS, HubSpot v3, Contentful).
    UnixMillis,
    /// An RFC 3339 date-time only (Twitch, Zendesk).
    Rfc3339,
    /// An ISO 8601 date-time without a zone, read as UTC, seconds with an
    /// optional fraction: `2023-11-14T22:13:20.000000` (Orb).
    Iso8601Naive,
}

impl TimestampFormat {
    /// Display name for `hookguard providers`.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Self::UnixSeconds => "unix s",
            Self::UnixSecondsOrRfc3339 => "unix s or RFC 3339",
            Self::UnixMillis => "unix ms",
            Self::Rfc3339 => "RFC 3339",
            Self::Iso8601Naive => "ISO 8601, no zone (UTC)",
        }
    }

    /// How a sender writes Unix time `secs` in this format (`hookguard sign`).
    pub(crate) fn render(self, secs: i64) -> String {
        match self {
            Self::UnixSeconds | Self::UnixSecondsOrRfc3339 => secs.to_string(),
            Self::UnixMillis => secs.saturating_mul(1000).to_string(),
            Self::Rfc3339 => {
                crate::clock::rfc3339(secs).unwrap_or_else(|| "1970-01-01T00:00:00Z".into())
            }
            Self::Iso8601Naive => {
                let utc = time::OffsetDateTime::from_unix_timestamp(secs)
                    .unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
                let t = time::PrimitiveDateTime::new(utc.date(), utc.time());
                naive_format(&NAIVE_OUT_ITEMS, NAIVE_OUT)
                    .and_then(|format| t.format(format).ok())
                    .unwrap_or_else(|| "1970-01-01T00:00:00.000000".into())
            }
        }
    }
}

/// Naive ISO 8601 as read: date, `T`, time to the second, an optional
/// fraction of 1 to 9 digits, and no zone.
const NAIVE_IN: &str = "[year]-[month]-[day]T[hour]:[minute]:[second][optional [.[subsecond]]]";

/// Naive ISO 8601 as `hookguard sign` writes it (Orb's form, microseconds).
const NAIVE_OUT: &str = "[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:6]";

/// A `time` format description (version 2, for its optional fraction),
/// parsed once; `None` only if the fixed texts above were malformed.
fn naive_format(
    cell: &'static OnceLock<Option<OwnedFormatItem>>,
    text: &'static str,
) -> Option<&'static OwnedFormatItem> {
    cell.get_or_init(|| time::format_description::parse_owned::<2>(text).ok())
        .as_ref()
}

static NAIVE_IN_ITEMS: OnceLock<Option<OwnedFormatItem>> = OnceLock::new();
static NAIVE_OUT_ITEMS: OnceLock<Option<OwnedFormatItem>> = OnceLock::new();

const NOT_NAIVE: &str = "not an ISO 8601 date-time without zone (YYYY-MM-DDThh:mm:ss[.fraction])";

/// Parses a signed timestamp into Unix milliseconds. Never panics: anything
/// odd (sign, overflow, garbage) is an `Err` with a reason for the audit log.
pub(crate) fn parse_timestamp(raw: &[u8], format: TimestampFormat) -> Result<i64, &'static str> {
    let textual = matches!(
        format,
        TimestampFormat::Rfc3339 | TimestampFormat::Iso8601Naive
    );
    if !textual && !raw.is_empty() && raw.iter().all(u8::is_ascii_digit) {
        // Only ASCII digits: from_utf8 cannot fail and parse fails only on overflow.
        let n: i64 = std::str::from_utf8(raw)
            .ok()
            .and_then(|s| s.parse().ok())
            .ok_or("unix timestamp overflows")?;
        if format == TimestampFormat::UnixMillis {
            return Ok(n);
        }
        return n.checked_mul(1000).ok_or("unix timestamp overflows");
    }
    if raw.first() == Some(&b'-') {
        return Err("negative unix timestamp");
    }
    match format {
        TimestampFormat::UnixSeconds => Err("not a unix timestamp"),
        TimestampFormat::UnixMillis => Err("not a unix timestamp in milliseconds"),
        TimestampFormat::Iso8601Naive => {
            let text = std::str::from_utf8(raw).map_err(|_| NOT_NAIVE)?;
            let format = naive_format(&NAIVE_IN_ITEMS, NAIVE_IN).ok_or(NOT_NAIVE)?;
            let t = time::PrimitiveDateTime::parse(text, format).map_err(|_| NOT_NAIVE)?;
            let ms = t.assume_utc().unix_timestamp_nanos() / 1_000_000;
            i64::try_from(ms).map_err(|_| "timestamp overflows")
        }
        TimestampFormat::UnixSecondsOrRfc3339 | TimestampFormat::Rfc3339 => {
            let text = std::str::from_utf8(raw).map_err(|_| "not a unix timestamp or RFC 3339")?;
            let t =
                time::OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339)
                    .map_err(|_| "not a unix timestamp or RFC 3339")?;
            i64::try_from(t.unix_timestamp_nanos() / 1_000_000).map_err(|_| "timestamp overflows")
        }
    }
}

/// A provider's default window, as catalog data. The window is always two
/// sided, even where the provider's SDKs check only a timestamp's age: with
/// a past-only check a signature dated in the future stays valid until its
/// timestamp plus the window, which can outlast the replay store's memory of
/// it. Two-sided, a signature lives at most twice the window, which the
/// replay `ttl` can cover.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ToleranceSpec {
    /// Default window in seconds, each way (route `tolerance` overrides it).
    pub(crate) default_secs: u64,
}

/// The default window as `hookguard providers` shows it; `None`: no window.
pub(crate) fn tolerance_text(spec: Option<ToleranceSpec>) -> String {
    match spec {
        Some(t) => format!("{} s, both ways", t.default_secs),
        None => "none".into(),
    }
}

/// The window a built verifier applies, the same in the past and the future.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Tolerance {
    window_ms: i64,
}

impl Tolerance {
    /// The provider default, or the route's override.
    pub(crate) fn new(spec: ToleranceSpec, route: Option<Duration>) -> Self {
        let window = route.unwrap_or(Duration::from_secs(spec.default_secs));
        Self {
            window_ms: i64::try_from(window.as_millis()).unwrap_or(i64::MAX),
        }
    }

    /// The window, each way.
    pub(crate) fn window(&self) -> Duration {
        Duration::from_millis(self.window_ms.unsigned_abs())
    }

    /// Parses `raw` (from header `name`) and checks it against `now_ms`.
    pub(crate) fn check(
        &self,
        name: &HeaderName,
        raw: &[u8],
        format: TimestampFormat,
        now_ms: i64,
    ) -> Result<(), Rejection> {
        let ts =
            parse_timestamp(raw, format).map_err(|why| Rejection::TimestampOutOfTolerance {
                detail: format!("header {name:?}: {why}"),
            })?;
        // Lazily formatted: only a rejection spells out the header's name.
        self.check_ms(&format_args!("header {name:?}"), ts, now_ms)
    }

    /// Checks an already parsed timestamp (Unix ms) read from `what` (for
    /// the audit detail, e.g. `header "x-timestamp"` or `body field ...`).
    pub(crate) fn check_ms(
        &self,
        what: &dyn std::fmt::Display,
        ts: i64,
        now_ms: i64,
    ) -> Result<(), Rejection> {
        let skew = i128::from(now_ms) - i128::from(ts);
        let window = i128::from(self.window_ms);
        let secs = |ms: i128| ms / 1000;
        if skew > window {
            return Err(Rejection::TimestampOutOfTolerance {
                detail: format!(
                    "{what}: timestamp is {} s old (tolerance {} s)",
                    secs(skew),
                    secs(window)
                ),
            });
        }
        if -skew > window {
            return Err(Rejection::TimestampOutOfTolerance {
                detail: format!(
                    "{what}: timestamp is {} s in the future (tolerance {} s)",
                    secs(-skew),
                    secs(window)
                ),
            });
        }
        Ok(())
    }
}

// === Signing (for `hookguard sign` and round-trip tests) ===

/// HMAC of the signed message under `key`: what a sender computes.
pub(crate) fn hmac_sign(algorithm: HmacAlgorithm, key: &[u8], signed: &Signed<'_>) -> Vec<u8> {
    super::keys::MacKey::new(algorithm, key)
        .tag(signed)
        .as_ref()
        .to_vec()
}

/// Encodes a tag the way a provider sends it.
pub(crate) fn encode_signature(tag: &[u8], encoding: SignatureEncoding) -> String {
    match encoding {
        SignatureEncoding::Hex => hex::encode(tag),
        SignatureEncoding::Base64 => base64::engine::general_purpose::STANDARD.encode(tag),
    }
}

/// The id `hookguard sign` uses when the scheme signs one and none was given.
pub(crate) fn default_id(timestamp: i64) -> String {
    format!("msg_hookguard_{timestamp}")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An id becomes a header and a replay key: visible ASCII only, even
    /// when it is valid UTF-8.
    #[test]
    fn id_text_takes_visible_ascii_only() {
        let name = HeaderName::from_static("webhook-id");
        assert_eq!(
            id_text(&name, b"msg_2KWPBgLlAfxdpx2AI54pPJ85f4W"),
            Ok("msg_2KWPBgLlAfxdpx2AI54pPJ85f4W")
        );
        for bad in [&b"msg 1"[..], "msg_é".as_bytes(), b"msg\t1", b"\xff"] {
            let err = id_text(&name, bad).unwrap_err();
            assert_eq!(err.code(), "invalid_signature", "{bad:?}");
        }
    }

    /// The signature header limit is exact: `MAX_HEADER_LEN` bytes (after
    /// trimming) are read, one more is refused before any decoding.
    #[test]
    fn header_bytes_holds_the_length_limit_exactly() {
        let name = HeaderName::from_static("x-signature");
        let with = |len: usize| {
            let mut headers = HeaderMap::new();
            let value = format!(" {} ", "a".repeat(len));
            headers.insert(&name, value.parse().unwrap());
            headers
        };
        let at_limit = with(MAX_HEADER_LEN);
        assert_eq!(
            header_bytes(&at_limit, &name).map(<[u8]>::len),
            Ok(MAX_HEADER_LEN)
        );
        let over = with(MAX_HEADER_LEN + 1);
        let err = header_bytes(&over, &name).unwrap_err();
        assert_eq!(err.code(), "invalid_signature");
        assert!(
            err.detail().contains("over the 4096-byte limit"),
            "{}",
            err.detail()
        );
        let far_over = with(3 * MAX_HEADER_LEN);
        assert!(header_bytes(&far_over, &name).is_err());
    }

    #[test]
    fn timestamps_never_panic_and_explain() {
        use TimestampFormat::*;
        assert_eq!(
            parse_timestamp(b"1700000000", UnixSeconds),
            Ok(1_700_000_000_000)
        );
        assert_eq!(
            parse_timestamp(b"-5", UnixSeconds),
            Err("negative unix timestamp")
        );
        assert_eq!(
            parse_timestamp(b"99999999999999999999", UnixSeconds),
            Err("unix timestamp overflows")
        );
        assert_eq!(
            parse_timestamp(b"9223372036854776", UnixSeconds),
            Err("unix timestamp overflows")
        );
        assert_eq!(
            parse_timestamp(b"", UnixSeconds),
            Err("not a unix timestamp")
        );
        assert_eq!(
            parse_timestamp(b"12.5", UnixSeconds),
            Err("not a unix timestamp")
        );
        assert_eq!(
            parse_timestamp(b"2023-11-14T22:13:20Z", UnixSeconds),
            Err("not a unix timestamp")
        );
        assert_eq!(
            parse_timestamp(b"2023-11-14T22:13:20Z", UnixSecondsOrRfc3339),
            Ok(1_700_000_000_000)
        );
        assert_eq!(
            parse_timestamp(b"2019-11-16T10:11:12.634234626Z", UnixSecondsOrRfc3339),
            Ok(1_573_899_072_634)
        );
        assert!(parse_timestamp(b"\xff\xfe", UnixSecondsOrRfc3339).is_err());
        assert!(parse_timestamp(b"9999-99-99T99:99:99Z", UnixSecondsOrRfc3339).is_err());
    }

    #[test]
    fn tolerance_is_two_sided() {
        let name = HeaderName::from_static("x-ts");
        let both = Tolerance::new(ToleranceSpec { default_secs: 300 }, None);
        let now = 1_700_000_000_000;
        let fmt = TimestampFormat::UnixSeconds;
        assert!(both.check(&name, b"1700000300", fmt, now).is_ok());
        assert!(both.check(&name, b"1699999700", fmt, now).is_ok());
        let err = both.check(&name, b"1700000301", fmt, now).unwrap_err();
        assert_eq!(
            err,
            Rejection::TimestampOutOfTolerance {
                detail: "header \"x-ts\": timestamp is 301 s in the future (tolerance 300 s)"
                    .into()
            }
        );
        assert!(both.check(&name, b"1699999699", fmt, now).is_err());
        assert!(both.check(&name, b"1800000000", fmt, now).is_err());
        // A route override moves both edges.
        let short = Tolerance::new(
            ToleranceSpec { default_secs: 300 },
            Some(Duration::from_secs(10)),
        );
        assert!(short.check(&name, b"1700000010", fmt, now).is_ok());
        assert!(short.check(&name, b"1699999990", fmt, now).is_ok());
        assert!(short.check(&name, b"1700000011", fmt, now).is_err());
        assert!(short.check(&name, b"1699999989", fmt, now).is_err());
        // Extreme values do not overflow.
        assert!(both
            .check(&name, b"9223372036854775", fmt, i64::MIN)
            .is_err());
        assert!(both.check(&name, b"0", fmt, i64::MAX).is_err());
        let wide = Tolerance::new(ToleranceSpec { default_secs: 300 }, Some(Duration::MAX));
        assert!(wide.check(&name, b"0", fmt, now).is_ok());
    }

    #[test]
    fn decode_explains_without_echoing() {
        use SignatureEncoding::*;
        let b64 = b"rlYwtxSz64KhPygOLXbekmzsjq0OqrcotnlUzAe2yuQ=";
        let e = decode_signature(b64, Hex, 32).err().unwrap();
        assert_eq!(e, "expected hex, got something that looks like base64");
        let hex64 = [b'a'; 64];
        let e = decode_signature(&hex64, Base64, 32).err().unwrap();
        assert_eq!(
            e,
            "base64 decodes to 48 bytes, expected 32 (looks like hex)"
        );
        assert!(decode_signature(b"abc", Hex, 32).is_err());
        assert!(decode_signature(&[b'A'; 4000], Base64, 64).is_err());
        assert!(decode_signature(&hex64, Hex, 32).is_ok());
        assert!(
            decode_signature(&[b'A'; 64], Hex, 32).is_ok(),
            "upper-case hex is accepted"
        );
        // Unpadded base64 is accepted.
        assert!(decode_signature(&b64[..43], Base64, 32).is_ok());
    }

    #[test]
    fn hex_decoding_agrees_with_the_hex_crate_on_every_byte() {
        // Every byte value in both positions of a pair: the table decoder
        // must accept exactly what `hex` accepts, with the same result.
        for first in 0..=255u8 {
            for second in 0..=255u8 {
                let text = [first, second, b'0', b'f'];
                let mut ours = [0u8; 2];
                let mut theirs = [0u8; 2];
                let accepted = decode_hex(&text, &mut ours);
                let expected = hex::decode_to_slice(text, &mut theirs).is_ok();
                assert_eq!(accepted, expected, "{text:?}");
                if accepted {
                    assert_eq!(ours, theirs, "{text:?}");
                }
            }
        }
        let e = decode_signature(&[b'a'; 62], SignatureEncoding::Hex, 32)
            .err()
            .unwrap();
        assert_eq!(e, "expected 64 hex characters, got 62");
    }
}
