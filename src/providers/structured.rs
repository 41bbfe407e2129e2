//! Family: one header of `key=value` pairs carrying a timestamp and one or
//! more signatures — Stripe's `t=..,v1=..,v1=..` today; Mux, Calendly,
//! WorkOS (`, `), Paddle (`ts=..;h1=..`) and PagerDuty (`v1=..,v1=..`, no
//! timestamp) later as catalog entries.
//!
//! Owns the [`StructuredSpec`] shape, the bounded parser of such headers and
//! the verifier. Does not own single-value signature headers (`hmac.rs`),
//! space-separated `v1,<b64>` lists (`standard_webhooks.rs`) or the
//! constant-time comparison (`keys.rs`).

use std::borrow::Cow;
use std::time::Duration;

use http::{HeaderMap, HeaderName};

use super::common::{
    self, decode_signature, header_bytes, header_name, Part, Sig, Signed, SignedBody,
    TimestampFormat, Tolerance, ToleranceSpec, MAX_CANDIDATES, MAX_PARTS,
};
use super::keys::{match_any, KeyDecoding, KeyRing};
use super::{
    BuildError, Dedup, HmacAlgorithm, Inbound, ProviderInfo, ProviderParams, Rejection,
    SignRequest, SignatureEncoding, Verified, Verifier,
};
use crate::body::Payload;

/// A structured signature header of one provider, as catalog data (or
/// built from `[route.hmac]` with `signature_keys`: hence `Cow`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct StructuredSpec {
    /// Hash function.
    pub(crate) algorithm: HmacAlgorithm,
    /// How each secret becomes the key: for every preset the whole secret
    /// string's UTF-8 bytes (Stripe's `whsec_` prefix included).
    pub(crate) key: KeyDecoding,
    /// The header, e.g. `stripe-signature`.
    pub(crate) header: Cow<'static, str>,
    /// Between pairs: `,` (Stripe), `;` (Paddle) or a space (Orb); spaces
    /// around pairs are ignored.
    pub(crate) separator: u8,
    /// How a sender joins pairs (`,`; WorkOS `, `), for `hookguard sign`.
    pub(crate) joiner: Cow<'static, str>,
    /// Key of the signed timestamp (`t`, `ts`), if the scheme has one.
    pub(crate) timestamp_key: Option<Cow<'static, str>>,
    /// How the timestamp is written.
    pub(crate) timestamp_format: TimestampFormat,
    /// Keys of the signatures (`v1`, `h1`); other keys (`v0`) are ignored.
    pub(crate) signature_keys: Cow<'static, [Cow<'static, str>]>,
    /// Hex or base64.
    pub(crate) encoding: SignatureEncoding,
    /// What is signed; [`Part::Timestamp`] is the timestamp value as sent.
    pub(crate) signed: Cow<'static, [Part]>,
    /// Default window and direction.
    pub(crate) tolerance: ToleranceSpec,
}

impl StructuredSpec {
    /// The first signature key: the one `hookguard sign` writes.
    fn signature_key(&self) -> &str {
        self.signature_keys.first().map_or("", |k| k.as_ref())
    }

    /// Whether `key` names a signature.
    fn is_signature_key(&self, key: &[u8]) -> bool {
        self.signature_keys.iter().any(|k| k.as_bytes() == key)
    }

    /// The row of `hookguard providers` for this shape.
    pub(crate) fn info(&self, name: &'static str) -> ProviderInfo {
        let sep = char::from(self.separator);
        let ts = self
            .timestamp_key
            .as_ref()
            .map(|k| format!("{k}=<{}>{sep}", self.timestamp_format.name()))
            .unwrap_or_default();
        let enc = common::encoding_name(self.encoding);
        ProviderInfo {
            name,
            algorithm: common::algorithm_name(self.algorithm),
            headers: format!(
                "{}: {ts}{k}=<{enc}>[{sep}{k}=<{enc}>...]",
                self.header,
                k = self.signature_key()
            ),
            signed: common::render_template(&self.signed),
            // The catalog fills in the window (it knows which families sign
            // a timestamp).
            ..ProviderInfo::default()
        }
    }
}

/// The header a sender of this scheme would send for `req` (`hookguard sign`).
pub(crate) fn sign(
    spec: &StructuredSpec,
    secret: &[u8],
    req: &SignRequest<'_>,
) -> Result<Vec<(String, String)>, BuildError> {
    let timestamp = spec.timestamp_format.render(req.timestamp);
    let signed = Signed::new(
        &spec.signed,
        SignedBody::Slice(req.body),
        timestamp.as_bytes(),
        b"",
    );
    let key = spec.key.key(secret).map_err(|message| BuildError {
        field: "secret".into(),
        message,
    })?;
    let tag = common::hmac_sign(spec.algorithm, &key, &signed);
    let sig = format!(
        "{}={}",
        spec.signature_key(),
        common::encode_signature(&tag, spec.encoding)
    );
    let value = match &spec.timestamp_key {
        Some(k) => format!("{k}={timestamp}{}{sig}", spec.joiner),
        None => sig,
    };
    Ok(vec![(spec.header.to_string(), value)])
}

// === impl StructuredVerifier ===

/// A built structured-header verifier.
pub(crate) struct StructuredVerifier {
    provider: &'static str,
    spec: StructuredSpec,
    header: HeaderName,
    keys: KeyRing,
    tolerance: Tolerance,
}

/// The parsed header of one request.
struct Head<'h> {
    timestamp: &'h [u8],
    sigs: [Sig; MAX_CANDIDATES],
    count: usize,
}

impl StructuredVerifier {
    /// Builds from a catalog entry.
    pub(crate) fn build(
        provider: &'static str,
        spec: &StructuredSpec,
        params: ProviderParams<'_>,
    ) -> Result<Self, BuildError> {
        if spec.signed.len() > MAX_PARTS
            || spec
                .signed
                .iter()
                .any(|p| *p == Part::Id || p.is_request_value())
            || (spec.signed.contains(&Part::Timestamp) != spec.timestamp_key.is_some())
            || spec.signature_keys.is_empty()
        {
            return Err(BuildError {
                field: "provider".into(),
                message: format!("built-in scheme {provider:?} is inconsistent (template)"),
            });
        }
        Ok(Self {
            provider,
            spec: spec.clone(),
            header: header_name("provider", &spec.header)?,
            keys: KeyRing::decoded(params.secrets, spec.algorithm, &spec.key)?,
            tolerance: Tolerance::new(spec.tolerance, params.tolerance),
        })
    }

    /// Splits the header into pairs and collects the timestamp and up to
    /// [`MAX_CANDIDATES`] decodable signatures. Undecodable signature entries
    /// are skipped (a sender may list old schemes); if none decodes, the
    /// first reason is reported.
    fn head<'h>(&self, headers: &'h HeaderMap) -> Result<Head<'h>, Rejection> {
        let raw = header_bytes(headers, &self.header)?;
        let name = &self.header;
        let invalid = |why: String| Rejection::InvalidSignature {
            detail: format!("header {name:?}: {why}"),
        };
        let mut head = Head {
            timestamp: &[],
            sigs: [Sig::EMPTY; MAX_CANDIDATES],
            count: 0,
        };
        let mut seen_ts = false;
        let mut entries = 0usize;
        let mut first_error: Option<String> = None;
        for pair in raw.split(|b| *b == self.spec.separator) {
            let pair = pair.trim_ascii();
            let Some(eq) = pair.iter().position(|b| *b == b'=') else {
                continue;
            };
            let (key, value) = (&pair[..eq], &pair[eq + 1..]);
            if Some(key) == self.spec.timestamp_key.as_deref().map(str::as_bytes) {
                if seen_ts {
                    return Err(invalid("timestamp key is repeated".into()));
                }
                seen_ts = true;
                head.timestamp = value;
            } else if self.spec.is_signature_key(key) {
                entries += 1;
                if entries > MAX_CANDIDATES {
                    return Err(invalid(format!(
                        "more than {MAX_CANDIDATES} {}= signatures",
                        self.spec.signature_key()
                    )));
                }
                match decode_signature(value, self.spec.encoding, self.keys.tag_len()) {
                    Ok(sig) => {
                        head.sigs[head.count] = sig;
                        head.count += 1;
                    }
                    Err(why) => {
                        first_error.get_or_insert(why);
                    }
                }
            }
        }
        if let Some(key) = &self.spec.timestamp_key {
            if head.timestamp.is_empty() {
                return Err(Rejection::MissingSignature {
                    detail: format!("header {name:?} has no {key}= timestamp"),
                });
            }
        }
        if head.count == 0 {
            let key = self.spec.signature_key();
            return Err(invalid(match first_error {
                Some(why) => format!("no usable {key}= signature ({why})"),
                None => format!("no {key}= signature"),
            }));
        }
        Ok(head)
    }

    fn check_time(&self, head: &Head<'_>, now_ms: i64) -> Result<(), Rejection> {
        if self.spec.timestamp_key.is_none() {
            return Ok(());
        }
        self.tolerance.check(
            &self.header,
            head.timestamp,
            self.spec.timestamp_format,
            now_ms,
        )
    }
}

impl Verifier for StructuredVerifier {
    fn provider(&self) -> &str {
        self.provider
    }

    fn tolerance(&self) -> Option<Duration> {
        self.spec
            .timestamp_key
            .as_ref()
            .map(|_| self.tolerance.window())
    }

    fn precheck(&self, req: &Inbound<'_>) -> Result<(), Rejection> {
        let head = self.head(req.headers)?;
        self.check_time(&head, req.now_ms)
    }

    fn verify(&self, req: &Inbound<'_>, body: &Payload) -> Result<Verified, Rejection> {
        let head = self.head(req.headers)?;
        let signed = Signed::new(
            &self.spec.signed,
            SignedBody::Received(body),
            head.timestamp,
            &[],
        );
        let candidates = &head.sigs[..head.count];
        let secret_index = match_any(&self.keys, req.now_ms, &signed, candidates)?;
        self.check_time(&head, req.now_ms)?;
        Ok(Verified {
            secret_index,
            event_id: None,
            // Not the matching signature: the sender picks which of the
            // provider's signatures the header lists, and so which one
            // matches first; every subset of a genuine list verifies.
            dedup: Dedup::Signature(signed.sha256().as_ref().to_vec()),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::super::testutil::{
        build_with, headers, kind, precheck_at, run, secrets, verifier, Garbage,
    };
    use super::*;

    // Stripe: generated with stripe-python 16.1.0
    // `generate_signature_header` and stripe-node 23.1.0
    // `generateTestHeaderString` (identical).
    const SECRET: &str = "whsec_test_secret";
    const BODY: &[u8] = br#"{"id":"evt_test_webhook","object":"event"}"#;
    const T: i64 = 1_700_000_000;
    const V1: &str = "d95c6b7477fbd7e9f90b1b0ef5f9c7ac25abca5382460e0d988c2b2a5b71b990";

    fn stripe(value: &str) -> HeaderMap {
        headers(&[("Stripe-Signature", value.as_bytes())])
    }

    /// The replay key of a message signed as `prefix` + `body`.
    fn message_key(prefix: &[u8], body: &[u8]) -> Dedup {
        let digest = ring::digest::digest(&ring::digest::SHA256, &[prefix, body].concat());
        Dedup::Signature(digest.as_ref().to_vec())
    }

    #[test]
    fn replay_key_ignores_which_listed_signatures_are_sent() {
        // Secrets [OLD, NEW]; the provider lists both signatures. Whatever
        // subset, order or repetition a replayer sends, the key is the same,
        // and it stays the same once the route keeps only NEW.
        let old_new = verifier("stripe", &secrets(&["whsec_other", SECRET]));
        let new_only = verifier("stripe", &secrets(&[SECRET]));
        let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, b"whsec_other");
        let other = ring::hmac::sign(&key, &[&b"1700000000."[..], BODY].concat());
        let other = hex::encode(other.as_ref());
        let expected = message_key(b"1700000000.", BODY);
        for sigs in [
            vec![V1, &other],
            vec![&other, V1],
            vec![V1],
            vec![&other],
            vec![V1, V1],
        ] {
            let list: Vec<String> = sigs.iter().map(|s| format!("v1={s}")).collect();
            let h = stripe(&format!("t=1700000000,{}", list.join(",")));
            assert_eq!(
                run(&old_new, &h, BODY, T).unwrap().dedup,
                expected,
                "{sigs:?}"
            );
            if sigs.contains(&V1) {
                assert_eq!(run(&new_only, &h, BODY, T).unwrap().dedup, expected);
            }
        }
    }

    #[test]
    fn stripe_sdk_vector() {
        let v = verifier("stripe", &secrets(&[SECRET]));
        let ok = run(&v, &stripe(&format!("t=1700000000,v1={V1}")), BODY, T).unwrap();
        assert_eq!(ok.secret_index, 0);
        assert_eq!(ok.event_id, None);
        assert_eq!(ok.dedup, message_key(b"1700000000.", BODY));
        // Spaces after commas and unknown schemes (v0) are tolerated.
        let spaced = format!("t=1700000000, v0=abc, v1={V1}");
        assert!(run(&v, &stripe(&spaced), BODY, T).is_ok());
        assert_eq!(
            kind(&run(
                &v,
                &stripe(&format!("t=1700000000,v1={V1}")),
                b"{}",
                T
            )),
            "invalid"
        );
        // The key is the whole string, prefix included: the bare part fails.
        let bare = verifier("stripe", &secrets(&["test_secret"]));
        assert_eq!(
            kind(&run(
                &bare,
                &stripe(&format!("t=1700000000,v1={V1}")),
                BODY,
                T
            )),
            "invalid"
        );
    }

    #[test]
    fn stripe_several_v1_and_rotation() {
        let v = verifier("stripe", &secrets(&["whsec_other", SECRET]));
        let zeros = "0".repeat(64);
        // stripe-python accepts `v1=00,v1=<good>`: any listed v1 may match.
        let h = stripe(&format!("t=1700000000,v1=00,v1={zeros},v1={V1}"));
        let ok = run(&v, &h, BODY, T).unwrap();
        assert_eq!(ok.secret_index, 1);
        assert_eq!(ok.dedup, message_key(b"1700000000.", BODY));
        let mut s = secrets(&["whsec_other", SECRET]);
        s[1].expires = Some(T);
        let v = verifier("stripe", &s);
        let r = format!("{:?}", run(&v, &h, BODY, T));
        assert!(
            r.contains("2 signatures tried against 1 unexpired secret (#0), 1 expired"),
            "{r}"
        );
    }

    #[test]
    fn stripe_tolerance_is_two_sided() {
        let v = verifier("stripe", &secrets(&[SECRET]));
        let h = stripe(&format!("t=1700000000,v1={V1}"));
        assert!(run(&v, &h, BODY, T + 300).is_ok());
        let r = run(&v, &h, BODY, T + 301);
        assert_eq!(
            r,
            Err(Rejection::TimestampOutOfTolerance {
                detail: "header \"stripe-signature\": timestamp is 301 s old (tolerance 300 s)"
                    .into()
            })
        );
        // Stripe's SDKs let future timestamps pass; a signature dated ahead
        // would then outlive the replay memory, so the window is two-sided.
        assert!(run(&v, &h, BODY, T - 300).is_ok());
        assert_eq!(
            run(&v, &h, BODY, T - 301),
            Err(Rejection::TimestampOutOfTolerance {
                detail:
                    "header \"stripe-signature\": timestamp is 301 s in the future (tolerance 300 s)"
                        .into()
            })
        );
        assert_eq!(kind(&run(&v, &h, BODY, T - 86_400)), "timestamp");
        let tight = build_with(
            "stripe",
            &secrets(&[SECRET]),
            Some(std::time::Duration::from_secs(10)),
            None,
        )
        .unwrap();
        assert_eq!(kind(&run(&tight, &h, BODY, T + 11)), "timestamp");
        assert_eq!(kind(&run(&tight, &h, BODY, T - 11)), "timestamp");
    }

    #[test]
    fn stripe_malformed_headers() {
        let v = verifier("stripe", &secrets(&[SECRET]));
        let many = format!("t=1700000000{}", format!(",v1={V1}").repeat(17));
        let cases: &[(&str, &str, &str)] = &[
            ("", "missing", "is empty"),
            (&format!("v1={V1}"), "missing", "no t= timestamp"),
            ("t=1700000000", "invalid", "no v1= signature"),
            (
                "t=1700000000,v1=zz",
                "invalid",
                "no usable v1= signature (expected hex",
            ),
            (
                &format!("t=1700000000,t=1700000000,v1={V1}"),
                "invalid",
                "repeated",
            ),
            (&many, "invalid", "more than 16"),
            (&format!("t=abc,v1={V1}"), "invalid", "does not match"),
            (",,,,==,=,", "missing", "no t="),
        ];
        for (value, want, needle) in cases {
            let r = run(&v, &stripe(value), BODY, T);
            assert_eq!(kind(&r), *want, "{value}");
            let detail = format!("{r:?}");
            assert!(detail.contains(needle), "{value}: {detail}");
            assert!(!detail.contains("d95c6b"), "{detail}");
        }
        let twice = headers(&[("stripe-signature", b"t=1"), ("stripe-signature", b"v1=00")]);
        assert_eq!(kind(&run(&v, &twice, BODY, T)), "invalid");
    }

    /// Stripe's spec from the catalog, for tests that vary one field.
    fn stripe_spec() -> StructuredSpec {
        match &super::super::catalog::lookup("stripe").unwrap().family {
            super::super::catalog::Family::Structured(spec) => spec.clone(),
            _ => unreachable!("stripe is a structured scheme"),
        }
    }

    /// A scheme whose template, timestamp key and signature keys disagree
    /// is refused when built, never run: each inconsistency alone is enough.
    #[test]
    fn an_inconsistent_scheme_is_refused_when_built() {
        let s = secrets(&[SECRET]);
        let build = |spec: &StructuredSpec| {
            let params = ProviderParams {
                secrets: &s,
                ..ProviderParams::default()
            };
            StructuredVerifier::build("stripe", spec, params).map(|_| ())
        };
        let with_signed = |parts: Vec<Part>| StructuredSpec {
            signed: parts.into(),
            ..stripe_spec()
        };
        assert_eq!(build(&stripe_spec()), Ok(()));
        // Up to MAX_PARTS pieces fit the stack array; one more does not.
        let padded = |n: usize| {
            let mut parts = stripe_spec().signed.to_vec();
            parts.resize(n, Part::Literal(Cow::Borrowed(".")));
            parts
        };
        assert_eq!(build(&with_signed(padded(MAX_PARTS))), Ok(()));
        let mut refused = vec![with_signed(padded(MAX_PARTS + 1))];
        // An id or a request value this family never reads.
        for extra in [Part::Id, Part::Method] {
            let mut parts = stripe_spec().signed.to_vec();
            parts.push(extra);
            refused.push(with_signed(parts));
        }
        // A timestamp key without a signed timestamp, and the reverse.
        refused.push(with_signed(vec![Part::Body]));
        refused.push(StructuredSpec {
            timestamp_key: None,
            ..stripe_spec()
        });
        refused.push(StructuredSpec {
            signature_keys: Cow::Borrowed(&[]),
            ..stripe_spec()
        });
        for spec in &refused {
            let e = build(spec).unwrap_err();
            assert_eq!(e.field, "provider", "{spec:?}");
            assert!(e.message.contains("inconsistent"), "{spec:?}");
        }
    }

    /// Up to 16 signatures are tried (the last one may be the match); a
    /// 17th refuses the header. Only the scheme's signature keys count:
    /// Stripe's `v0` (its test-mode scheme) is never a signature.
    #[test]
    fn sixteen_signatures_are_tried_and_other_keys_ignored() {
        let v = verifier("stripe", &secrets(&[SECRET]));
        let zeros = "0".repeat(64);
        let sixteen = format!("t=1700000000{},v1={V1}", format!(",v1={zeros}").repeat(15));
        assert_eq!(kind(&run(&v, &stripe(&sixteen), BODY, T)), "ok");
        let r = format!(
            "{:?}",
            run(&v, &stripe(&format!("{sixteen},v1={V1}")), BODY, T)
        );
        assert!(r.contains("more than 16 v1= signatures"), "{r}");
        let v0_only = format!("t=1700000000,v0={V1}");
        let r = run(&v, &stripe(&v0_only), BODY, T);
        assert_eq!(kind(&r), "invalid");
        assert!(format!("{r:?}").contains("no v1= signature"), "{r:?}");
    }

    /// The precheck refuses a stale or unsigned request from its header
    /// alone, so the proxy never reads its body.
    #[test]
    fn precheck_refuses_from_the_header_alone() {
        let v = verifier("stripe", &secrets(&[SECRET]));
        let at = |headers: &HeaderMap, now_secs: i64| precheck_at(&v, headers, now_secs);
        let h = stripe(&format!("t=1700000000,v1={V1}"));
        assert_eq!(at(&h, T), Ok(()));
        let stale = at(&h, T + 301).unwrap_err();
        assert_eq!(stale.code(), "timestamp_out_of_tolerance");
        let unsigned = at(&stripe("t=1700000000"), T).unwrap_err();
        assert_eq!(unsigned.code(), "invalid_signature");
    }

    #[test]
    fn garbage_never_panics() {
        let v = verifier("stripe", &secrets(&[SECRET]));
        let seed = format!("t=1700000000,v1={V1}");
        let mut g = Garbage::new(7);
        for _ in 0..3000 {
            let value = g.value(seed.as_bytes());
            let Ok(hv) = http::HeaderValue::from_bytes(&value) else {
                continue;
            };
            let mut h = HeaderMap::new();
            h.insert("stripe-signature", hv);
            let _ = run(&v, &h, BODY, T);
        }
    }
}
