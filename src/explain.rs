//! Why a request was refused, in one line: the words `hookguard verify`
//! prints offline and the audit event's `reason` carries live, produced by
//! one function, [`reason`], so the two can never drift apart.
//!
//! A reason names the check that failed (the stable error code), what the
//! check saw (the provider's redacted detail: which header was missing or
//! malformed, the timestamp skew in seconds, which unexpired secrets were
//! tried against how many signatures) and the body's fingerprint (length and
//! the first 12 hex digits of its SHA-256) when the body was read. It never
//! holds a secret, a received signature, a token or body content: details
//! are redacted where they are made, and a reason adds only counts and a
//! hash prefix. Its length is bounded by [`MAX_REASON`].

use std::fmt::{self, Write as _};

use ring::digest;

use crate::body::Payload;
use crate::providers::Rejection;

/// Longest reason, in bytes; a longer one is cut with `...`. Details are
/// short by construction; the bound keeps the recent-decisions ring and the
/// audit line small whatever a detail holds.
pub const MAX_REASON: usize = 400;

/// Hex digits of the body's SHA-256 a reason shows: enough to tell a
/// re-serialised body from the one the sender signed.
const HASH_DIGITS: usize = 12;

/// A body's length and SHA-256 prefix: what a reason may say about it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BodyPrint {
    /// Length in bytes.
    pub len: u64,
    sha256: [u8; HASH_DIGITS / 2],
}

impl BodyPrint {
    /// Hashes `body` in place, frame by frame: one pass over it, so the
    /// proxy takes it only for a read body that it refuses.
    pub fn of(body: &Payload) -> Self {
        let mut ctx = digest::Context::new(&digest::SHA256);
        for chunk in body.chunks() {
            ctx.update(chunk);
        }
        let mut sha256 = [0; HASH_DIGITS / 2];
        sha256.copy_from_slice(&ctx.finish().as_ref()[..HASH_DIGITS / 2]);
        Self {
            len: body.len(),
            sha256,
        }
    }
}

impl fmt::Display for BodyPrint {
    // Written piece by piece: `write!` with a `{:02x}` per byte cost more
    // than the rest of the reason.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut digits = [0u8; HASH_DIGITS];
        hex::encode_to_slice(self.sha256, &mut digits).map_err(|_| fmt::Error)?;
        f.write_str("body ")?;
        f.write_str(itoa::Buffer::new().format(self.len))?;
        f.write_str(" bytes, sha256 ")?;
        f.write_str(std::str::from_utf8(&digits).map_err(|_| fmt::Error)?)
    }
}

/// The reason for a refusal with error `code`: the `detail` when there is
/// one (else a fixed sentence for the code), then the body's fingerprint
/// when it was read. For the signature checks, a missing fingerprint means
/// the request was refused from its headers alone, and the reason says so.
pub fn reason(code: &str, detail: Option<&str>, body: Option<&BodyPrint>) -> String {
    let mut out = String::with_capacity(160);
    out.push_str(code);
    out.push_str(": ");
    out.push_str(detail.unwrap_or_else(|| fixed_sentence(code)));
    match body {
        Some(print) => {
            let _ = write!(out, "; {print}");
        }
        None if is_signature_check(code) => out.push_str("; body not read"),
        None => {}
    }
    bounded(out)
}

/// [`reason`] for a signature scheme's rejection.
pub fn rejection(r: &Rejection, body: Option<&BodyPrint>) -> String {
    reason(r.code(), Some(r.detail()), body)
}

/// The codes of the signature checks, whose reasons always say what became
/// of the body.
fn is_signature_check(code: &str) -> bool {
    matches!(
        code,
        "missing_signature" | "invalid_signature" | "timestamp_out_of_tolerance"
    )
}

/// What a refusal that carries no detail means, by its code.
fn fixed_sentence(code: &str) -> &'static str {
    match code {
        "no_route" => "no route has this path",
        "method_not_allowed" => "the route does not accept this method",
        "ip_not_allowed" => {
            "the client IP is outside the route's allow_ips, or blocked after repeated failures"
        }
        "body_too_large" => "the body is larger than the route's max_body",
        "request_timeout" => "the whole request did not arrive within server.request_timeout",
        "duplicate" => "the same event is being forwarded right now; the sender retries later",
        "rate_limited" => "the route's rate limit for this client IP is used up",
        "bad_request" => "the request is malformed",
        _ => "refused",
    }
}

/// `text` cut to at most [`MAX_REASON`] bytes, on a character boundary.
fn bounded(mut text: String) -> String {
    if text.len() <= MAX_REASON {
        return text;
    }
    let mut cut = MAX_REASON - 3;
    while !text.is_char_boundary(cut) {
        cut -= 1;
    }
    text.truncate(cut);
    text.push_str("...");
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    fn print(body: &[u8]) -> BodyPrint {
        BodyPrint::of(&Payload::from(body))
    }

    #[test]
    fn a_body_print_is_its_length_and_hash_prefix() {
        // sha256("Hello, World!") = dffd6021bb2bd5b0af676290809ec3a5...
        assert_eq!(
            print(b"Hello, World!").to_string(),
            "body 13 bytes, sha256 dffd6021bb2b"
        );
        // Frames hash as one body.
        let mut framed = Payload::new();
        framed.push(bytes::Bytes::from_static(b"Hello, "));
        framed.push(bytes::Bytes::from_static(b"World!"));
        assert_eq!(BodyPrint::of(&framed), print(b"Hello, World!"));
    }

    #[test]
    fn reasons_name_the_check_the_detail_and_the_body() {
        let r = Rejection::TimestampOutOfTolerance {
            detail: "header \"x-ts\": timestamp is 400 s old (tolerance 300 s)".into(),
        };
        assert_eq!(
            rejection(&r, None),
            "timestamp_out_of_tolerance: header \"x-ts\": timestamp is 400 s old \
             (tolerance 300 s); body not read"
        );
        let r = Rejection::InvalidSignature {
            detail: "signature does not match".into(),
        };
        assert_eq!(
            rejection(&r, Some(&print(b"Hello, World!"))),
            "invalid_signature: signature does not match; body 13 bytes, sha256 dffd6021bb2b"
        );
        assert_eq!(
            reason("no_route", None, None),
            "no_route: no route has this path"
        );
        assert_eq!(
            reason("upstream_timeout", Some("no response head within 2s"), None),
            "upstream_timeout: no response head within 2s"
        );
    }

    #[test]
    fn reasons_are_bounded() {
        let long = "é".repeat(MAX_REASON);
        let text = reason("invalid_signature", Some(&long), Some(&print(b"x")));
        assert!(text.len() <= MAX_REASON, "{}", text.len());
        assert!(text.ends_with("..."));
    }
}
