//! Recurly: one positional header, `recurly-signature: <ts_ms>,<hex>[,<hex>...]`,
//! the first item the signing time in Unix milliseconds and every other
//! item a signature (several while Recurly rotates the webhook secret).
//!
//! Owns that header's parser, the verifier and `hookguard sign` for it.
//! Facts (recurly/recurly-client-go `webhook.go`, docs.recurly.com
//! "Signature verification"): HMAC-SHA256 with the webhook secret's text
//! over `ts_ms "." body`, hex; the SDK's default tolerance is 5 minutes,
//! in the past only. hookguard applies it both ways, as everywhere.

use std::borrow::Cow;
use std::time::Duration;

use http::HeaderName;

use super::common::{
    self, decode_signature, header_bytes, Part, Sig, Signed, SignedBody, TimestampFormat,
    Tolerance, ToleranceSpec, MAX_CANDIDATES,
};
use super::keys::{match_any, KeyRing};
use super::{
    BuildError, Dedup, HmacAlgorithm, Inbound, ProviderInfo, ProviderParams, Rejection,
    SignRequest, SignatureEncoding, Verified, Verifier,
};
use crate::body::Payload;

/// Recurly's SDKs' default: five minutes (routes may change it).
pub(crate) const TOLERANCE: ToleranceSpec = ToleranceSpec { default_secs: 300 };

const HEADER: HeaderName = HeaderName::from_static("recurly-signature");

/// What Recurly signs: the header's timestamp as sent, a dot, the body.
const SIGNED: &[Part] = &[
    Part::Timestamp,
    Part::Literal(Cow::Borrowed(".")),
    Part::Body,
];

/// The row of `hookguard providers` for Recurly.
pub(crate) fn info(name: &'static str) -> ProviderInfo {
    ProviderInfo {
        name,
        algorithm: "HMAC-SHA256",
        headers: "recurly-signature: <unix ms>,<hex>[,<hex>...]".into(),
        signed: "{timestamp}.{body}".into(),
        ..ProviderInfo::default()
    }
}

/// The parsed header: the timestamp as sent and the decodable signatures.
struct Head<'h> {
    timestamp: &'h [u8],
    sigs: [Sig; MAX_CANDIDATES],
    count: usize,
}

fn invalid(why: impl std::fmt::Display) -> Rejection {
    Rejection::InvalidSignature {
        detail: format!("header \"recurly-signature\": {why}"),
    }
}

/// A built Recurly verifier.
pub(crate) struct RecurlyVerifier {
    provider: &'static str,
    keys: KeyRing,
    tolerance: Tolerance,
}

impl RecurlyVerifier {
    /// Builds from the route's secrets: the webhook endpoint's secret, as text.
    pub(crate) fn build(
        provider: &'static str,
        params: ProviderParams<'_>,
    ) -> Result<Self, BuildError> {
        Ok(Self {
            provider,
            keys: KeyRing::utf8(params.secrets, HmacAlgorithm::Sha256)?,
            tolerance: Tolerance::new(TOLERANCE, params.tolerance),
        })
    }

    /// Splits the header: the first item is the timestamp, every other item
    /// must be a hex signature (as Recurly's SDK: one that is not is an
    /// error, not skipped), at most [`MAX_CANDIDATES`] of them.
    fn head<'h>(&self, req: &Inbound<'h>) -> Result<Head<'h>, Rejection> {
        let raw = header_bytes(req.headers, &HEADER)?;
        let mut items = raw.split(|b| *b == b',');
        let timestamp = items.next().unwrap_or_default();
        let mut head = Head {
            timestamp,
            sigs: [Sig::EMPTY; MAX_CANDIDATES],
            count: 0,
        };
        for item in items {
            if head.count == MAX_CANDIDATES {
                return Err(invalid(format!("more than {MAX_CANDIDATES} signatures")));
            }
            head.sigs[head.count] =
                decode_signature(item, SignatureEncoding::Hex, self.keys.tag_len())
                    .map_err(|why| invalid(format!("signature {}: {why}", head.count + 1)))?;
            head.count += 1;
        }
        if head.count == 0 {
            return Err(Rejection::MissingSignature {
                detail: "header \"recurly-signature\" has a timestamp but no signature".into(),
            });
        }
        Ok(head)
    }

    fn check_time(&self, head: &Head<'_>, now_ms: i64) -> Result<(), Rejection> {
        self.tolerance
            .check(&HEADER, head.timestamp, TimestampFormat::UnixMillis, now_ms)
    }
}

impl Verifier for RecurlyVerifier {
    fn provider(&self) -> &str {
        self.provider
    }

    fn tolerance(&self) -> Option<Duration> {
        Some(self.tolerance.window())
    }

    fn precheck(&self, req: &Inbound<'_>) -> Result<(), Rejection> {
        let head = self.head(req)?;
        self.check_time(&head, req.now_ms)
    }

    fn verify(&self, req: &Inbound<'_>, body: &Payload) -> Result<Verified, Rejection> {
        let head = self.head(req)?;
        let signed = Signed::new(SIGNED, SignedBody::Received(body), head.timestamp, &[]);
        let secret_index = match_any(&self.keys, req.now_ms, &signed, &head.sigs[..head.count])?;
        self.check_time(&head, req.now_ms)?;
        Ok(Verified {
            secret_index,
            event_id: None,
            // The signed message, not the matching signature: the sender
            // chooses which of its signatures the header lists.
            dedup: Dedup::Signature(signed.sha256().as_ref().to_vec()),
        })
    }
}

/// `hookguard sign` for Recurly: the header for `req.body` at
/// `req.timestamp` (seconds, written as milliseconds), keyed with `secret`.
pub(crate) fn sign(
    secret: &[u8],
    req: &SignRequest<'_>,
) -> Result<Vec<(String, String)>, BuildError> {
    let timestamp = TimestampFormat::UnixMillis.render(req.timestamp);
    let signed = Signed::new(
        SIGNED,
        SignedBody::Slice(req.body),
        timestamp.as_bytes(),
        b"",
    );
    let tag = common::hmac_sign(HmacAlgorithm::Sha256, secret, &signed);
    Ok(vec![(
        HEADER.as_str().to_owned(),
        format!(
            "{timestamp},{}",
            common::encode_signature(&tag, SignatureEncoding::Hex)
        ),
    )])
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::super::testutil::{headers, kind, precheck_at, run, secrets, verifier};
    use super::super::Rejection;

    const SECRET: &str = "354fab5bd35f5a0d50845ee7e30165244468b13c2c343f104e4e730a59326d9d";
    const BODY: &[u8] = br#"{"id":"rjxwmwedwqug","object_type":"account","site_id":"qc326l1hl8k9","event_type":"created","event_time":"2022-09-13T21:18:40Z","account_code":"adfas23zzz14123"}"#;
    /// HMAC-SHA256 of "1700000000000." and BODY (Python hmac).
    const SIG: &str = "fd5a73a85ed4fbefd5eee064018db2086735f763f21b32c08923e0a870a45933";
    const NOW: i64 = 1_700_000_000;

    fn at(value: &str, now: i64) -> &'static str {
        let v = verifier("recurly", &secrets(&[SECRET]));
        kind(&run(
            &v,
            &headers(&[("recurly-signature", value.as_bytes())]),
            BODY,
            now,
        ))
    }

    #[test]
    fn rotation_lists_and_the_positional_shape() {
        let other = "00".repeat(32);
        assert_eq!(at(&format!("1700000000000,{SIG}"), NOW), "ok");
        // During rotation the header lists several signatures; any may match.
        assert_eq!(at(&format!("1700000000000,{other},{SIG}"), NOW), "ok");
        assert_eq!(at(&format!("1700000000000,{other}"), NOW), "invalid");
        // A timestamp but no signature, and a signature that is not hex.
        assert_eq!(at("1700000000000", NOW), "missing");
        assert_eq!(at(&format!("1700000000000,{SIG},zz"), NOW), "invalid");
        // The timestamp is signed: another one does not verify.
        assert_eq!(at(&format!("1700000000001,{SIG}"), NOW), "invalid");
        // Seventeen signatures is more than a rotation needs.
        let many = vec![SIG; 17].join(",");
        assert_eq!(at(&format!("1700000000000,{many}"), NOW), "invalid");
    }

    #[test]
    fn the_window_is_five_minutes_both_ways() {
        let value = format!("1700000000000,{SIG}");
        assert_eq!(at(&value, NOW + 299), "ok");
        assert_eq!(at(&value, NOW - 299), "ok");
        assert_eq!(at(&value, NOW + 301), "timestamp");
        assert_eq!(at(&value, NOW - 301), "timestamp");
    }

    #[test]
    fn the_head_alone_refuses_and_the_window_is_reported() {
        let v = verifier("recurly", &secrets(&[SECRET]));
        let h = |value: String| headers(&[("recurly-signature", value.as_bytes())]);
        let genuine = format!("1700000000000,{SIG}");
        // Refused before the body is read: no header, or a stale timestamp.
        let none = precheck_at(&v, &headers(&[]), NOW);
        assert!(matches!(none, Err(Rejection::MissingSignature { .. })));
        let stale = precheck_at(&v, &h(genuine.clone()), NOW + 301);
        assert!(matches!(
            stale,
            Err(Rejection::TimestampOutOfTolerance { .. })
        ));
        assert!(precheck_at(&v, &h(genuine), NOW).is_ok());
        // `check` and the tolerance test read the window from here.
        assert_eq!(v.tolerance(), Some(Duration::from_secs(300)));
    }
}
