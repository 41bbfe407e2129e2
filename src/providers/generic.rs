//! The generic `hmac` provider: turns a route's `[route.hmac]` table into
//! the same [`HmacSpec`] the built-in one-header providers use, so it shares
//! their verifier (`hmac.rs`) and its tests cover the operator-facing rules.
//!
//! Owns the template language (`{body}`, `{timestamp}`, `{id}`, literals)
//! and its build-time checks, reported on the `hmac.*` field at fault. Does
//! not own verification itself.

use std::borrow::Cow;

use super::common::{
    header_name, render_template, Part, TimestampFormat, ToleranceSpec, MAX_PARTS,
};
use super::delimit;
use super::hmac::HmacSpec;
use super::{BuildError, GenericHmac};

/// Default window of the generic scheme: 5 minutes, as for providers that
/// document none.
const GENERIC_TOLERANCE: ToleranceSpec = ToleranceSpec { default_secs: 300 };

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
    let signed = parse_template(&cfg.signed).map_err(|m| err("hmac.signed", m))?;
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
    Ok(HmacSpec {
        algorithm: cfg.algorithm,
        header: Cow::Owned(cfg.header.clone()),
        prefix: cfg
            .prefix
            .as_ref()
            .filter(|p| !p.is_empty())
            .map(|p| Cow::Owned(p.clone())),
        encoding: cfg.encoding,
        timestamp: cfg
            .timestamp_header
            .as_ref()
            .map(|h| (Cow::Owned(h.clone()), TimestampFormat::UnixSecondsOrRfc3339)),
        id_header: cfg.id_header.as_ref().map(|h| Cow::Owned(h.clone())),
        signed: Cow::Owned(signed),
        tolerance: GENERIC_TOLERANCE,
        body_timestamp: None,
    })
}

/// Parses `"{timestamp}.{body}"`-style templates. `{body}` must appear
/// exactly once; braces are only for the three placeholders.
fn parse_template(text: &str) -> Result<Vec<Part>, String> {
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
        parts.push(match &rest[1..close] {
            "body" => Part::Body,
            "timestamp" => Part::Timestamp,
            "id" => Part::Id,
            other => {
                return Err(format!(
                    "unknown placeholder {{{other}}}; expected {{body}}, {{timestamp}} or {{id}}"
                ))
            }
        });
        rest = &rest[close + 1..];
    }
    match parts.iter().filter(|p| **p == Part::Body).count() {
        1 => {}
        0 => return Err(
            "must contain {body}: a signature that does not cover the body proves nothing about it"
                .into(),
        ),
        _ => return Err("must contain {body} exactly once".into()),
    }
    if let Some((a, b)) = delimit::adjacent_values(&parts) {
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

#[cfg(test)]
mod tests {
    use super::super::testutil::{build_with, headers, kind, run, secrets};
    use super::super::Dedup;
    use super::super::{HmacAlgorithm, SecretEntry, SignatureEncoding};
    use super::*;

    fn generic(
        algorithm: HmacAlgorithm,
        header: &str,
        prefix: Option<&str>,
        encoding: SignatureEncoding,
        timestamp_header: Option<&str>,
        id_header: Option<&str>,
        signed: &str,
    ) -> GenericHmac {
        GenericHmac {
            algorithm,
            header: header.into(),
            prefix: prefix.map(Into::into),
            encoding,
            timestamp_header: timestamp_header.map(Into::into),
            id_header: id_header.map(Into::into),
            signed: signed.into(),
        }
    }

    const G_SECRET: &str = "generic_secret";
    const G_BODY: &[u8] = br#"{"event":"payment.succeeded","id":42}"#;

    fn generic_verifier(cfg: &GenericHmac) -> super::super::SharedVerifier {
        build_with("hmac", &secrets(&[G_SECRET]), None, Some(cfg)).unwrap()
    }

    #[test]
    fn generic_prefixed_hex_over_body() {
        use HmacAlgorithm::*;
        use SignatureEncoding::*;
        let cfg = generic(
            Sha256,
            "X-Signature-256",
            Some("sha256="),
            Hex,
            None,
            None,
            "{body}",
        );
        let v = generic_verifier(&cfg);
        assert_eq!(v.provider(), "hmac");
        // computed with `printf '%s' "$BODY" | openssl dgst -sha256 -hmac generic_secret`
        let sig = b"sha256=ef81cc32d5e9567b8d8c7973ab7c415704d9f981b7ca2ee964ce69538d79d5f3";
        assert!(run(&v, &headers(&[("x-signature-256", sig)]), G_BODY, 0).is_ok());
        assert_eq!(
            kind(&run(
                &v,
                &headers(&[("x-signature-256", &sig[7..])]),
                G_BODY,
                0
            )),
            "invalid"
        );
    }

    #[test]
    fn generic_plain_hex_sha512_over_body() {
        let cfg = generic(
            HmacAlgorithm::Sha512,
            "X-Webhook-Signature",
            None,
            SignatureEncoding::Hex,
            None,
            None,
            "{body}",
        );
        let v = generic_verifier(&cfg);
        // computed with `printf '%s' "$BODY" | openssl dgst -sha512 -hmac generic_secret`
        let sig = b"86564dae9261b76d70f5bd5008050ce9e0390ae7708b3471c96b113ed1f8a8a84a5d5e27b7e164f299acd0a343c4efb6391ccc43355a55e68c591f9e687d3b78";
        let ok = run(&v, &headers(&[("x-webhook-signature", sig)]), G_BODY, 0).unwrap();
        assert!(matches!(ok.dedup, Dedup::Signature(s) if s.len() == 64));
        assert_eq!(
            kind(&run(
                &v,
                &headers(&[("x-webhook-signature", sig)]),
                b"{}",
                0
            )),
            "invalid"
        );
    }

    #[test]
    fn large_templated_body_is_verified_without_joining() {
        // A large templated message, hashed piece by piece (never joined).
        // Expected value computed with: python3 -c "...'1700000000.'+'a'*20000"
        //   | openssl dgst -sha256 -hmac 'big-secret'
        let cfg = generic(
            HmacAlgorithm::Sha256,
            "x-s",
            None,
            SignatureEncoding::Hex,
            Some("x-t"),
            None,
            "{timestamp}.{body}",
        );
        let v = build_with("hmac", &secrets(&["big-secret"]), None, Some(&cfg)).unwrap();
        let body = vec![b'a'; 20_000];
        let sig = b"33935140732fc614f4d4337dbafefe37b8a4c7204c77473be1ddf7bd4a51dd5f";
        let h = headers(&[("x-s", sig), ("x-t", b"1700000000")]);
        assert_eq!(kind(&run(&v, &h, &body, 1_700_000_000)), "ok");
        let mut tampered = body.clone();
        tampered[19_999] = b'b';
        assert_eq!(kind(&run(&v, &h, &tampered, 1_700_000_000)), "invalid");
    }

    #[test]
    fn generic_timestamped_base64_and_rfc3339() {
        use HmacAlgorithm::*;
        use SignatureEncoding::*;
        let cfg = generic(
            Sha256,
            "X-Signature",
            None,
            Base64,
            Some("X-Timestamp"),
            None,
            "{timestamp}.{body}",
        );
        let v = generic_verifier(&cfg);
        // computed with `printf '%s' "1700000000.$BODY" | openssl dgst -sha256 -hmac generic_secret -binary | openssl base64 -A`
        let h = headers(&[
            (
                "x-signature",
                b"c5Kcfcdp/bXpccbm8fzkekCWsdwJ++vtp4mv5I5Itpk=",
            ),
            ("x-timestamp", b"1700000000"),
        ]);
        assert!(run(&v, &h, G_BODY, 1_700_000_000).is_ok());
        assert!(run(&v, &h, G_BODY, 1_700_000_300).is_ok());
        assert_eq!(kind(&run(&v, &h, G_BODY, 1_700_000_301)), "timestamp");
        assert_eq!(kind(&run(&v, &h, G_BODY, 1_699_999_699)), "timestamp");
        let no_ts = headers(&[(
            "x-signature",
            b"c5Kcfcdp/bXpccbm8fzkekCWsdwJ++vtp4mv5I5Itpk=",
        )]);
        assert_eq!(kind(&run(&v, &no_ts, G_BODY, 1_700_000_000)), "missing");

        let cfg = generic(
            Sha256,
            "X-Signature",
            None,
            Hex,
            Some("X-Timestamp"),
            None,
            "{timestamp}.{body}",
        );
        let v = generic_verifier(&cfg);
        // computed with `printf '%s' "2023-11-14T22:13:20Z.$BODY" | openssl dgst -sha256 -hmac generic_secret`
        let sig = b"c397fb9cd03a13ecba0625956e9e8eb4c7f80250f9dc064be53973d59965decd";
        let h = headers(&[
            ("x-signature", sig),
            ("x-timestamp", b"2023-11-14T22:13:20Z"),
        ]);
        assert!(run(&v, &h, G_BODY, 1_700_000_000).is_ok());
        assert_eq!(kind(&run(&v, &h, G_BODY, 1_700_001_000)), "timestamp");
    }

    #[test]
    fn generic_signed_id_gives_event_id() {
        let cfg = generic(
            HmacAlgorithm::Sha1,
            "X-Sig",
            None,
            SignatureEncoding::Base64,
            Some("X-Ts"),
            Some("X-Id"),
            "{id}.{timestamp}.{body}",
        );
        let v = generic_verifier(&cfg);
        // computed with `printf '%s' "evt_123.1700000000.$BODY" | openssl dgst -sha1 -hmac generic_secret -binary | openssl base64 -A`
        let h = headers(&[
            ("x-sig", b"GgDM1wnnz70IWLsUw+Dlc9UquBM="),
            ("x-ts", b"1700000000"),
            ("x-id", b"evt_123"),
        ]);
        let ok = run(&v, &h, G_BODY, 1_700_000_000).unwrap();
        assert_eq!(ok.event_id.as_deref(), Some("evt_123"));
        assert_eq!(ok.dedup, Dedup::SignedId("evt_123".into()));
        let other_id = headers(&[
            ("x-sig", b"GgDM1wnnz70IWLsUw+Dlc9UquBM="),
            ("x-ts", b"1700000000"),
            ("x-id", b"evt_124"),
        ]);
        assert_eq!(kind(&run(&v, &other_id, G_BODY, 1_700_000_000)), "invalid");

        // An id header that is not signed gives no event id and no SignedId.
        let cfg = generic(
            HmacAlgorithm::Sha256,
            "X-Webhook-Signature",
            None,
            SignatureEncoding::Hex,
            None,
            Some("X-Id"),
            "{body}",
        );
        let v = generic_verifier(&cfg);
        let sig = b"ef81cc32d5e9567b8d8c7973ab7c415704d9f981b7ca2ee964ce69538d79d5f3";
        let ok = run(
            &v,
            &headers(&[("x-webhook-signature", sig), ("x-id", b"spoofed")]),
            G_BODY,
            0,
        )
        .unwrap();
        assert_eq!(ok.event_id, None);
        assert!(matches!(ok.dedup, Dedup::Signature(_)));
    }

    #[test]
    fn generic_build_errors_name_the_field() {
        use HmacAlgorithm::*;
        use SignatureEncoding::*;
        let s = secrets(&[G_SECRET]);
        let field = |cfg: GenericHmac| {
            build_with("hmac", &s, None, Some(&cfg))
                .err()
                .map(|e| (e.field, e.message))
        };
        let cases = [
            (
                generic(Sha256, "x-s", None, Hex, None, None, "{body}{nonce}"),
                "hmac.signed",
                "unknown placeholder {nonce}",
            ),
            (
                generic(Sha256, "x-s", None, Hex, None, None, "{timestamp}.{body}"),
                "hmac.signed",
                "timestamp_header is not set",
            ),
            (
                generic(Sha256, "x-s", None, Hex, None, None, "{id}.{body}"),
                "hmac.signed",
                "id_header is not set",
            ),
            (
                generic(Sha256, "x-s", None, Hex, Some("x-t"), None, "{body}"),
                "hmac.timestamp_header",
                "does not contain {timestamp}",
            ),
            (
                generic(Sha256, "x-s", None, Hex, None, None, "{timestamp"),
                "hmac.signed",
                "unclosed",
            ),
            (
                generic(Sha256, "x-s", None, Hex, None, None, "}{body}"),
                "hmac.signed",
                "unmatched",
            ),
            (
                generic(Sha256, "x-s", None, Hex, None, None, "static"),
                "hmac.signed",
                "must contain {body}",
            ),
            (
                generic(Sha256, "x-s", None, Hex, None, None, "{body}{body}"),
                "hmac.signed",
                "exactly once",
            ),
            (
                generic(Sha256, "x-s", None, Hex, None, Some("x-id"), "{id}{body}"),
                "hmac.signed",
                "{id}{body} has no separator between its values",
            ),
            (
                generic(Sha256, "bad header", None, Hex, None, None, "{body}"),
                "hmac.header",
                "not a valid HTTP header name",
            ),
            (
                generic(
                    Sha256,
                    "x-s",
                    None,
                    Hex,
                    Some("x t"),
                    None,
                    "{timestamp}{body}",
                ),
                "hmac.timestamp_header",
                "not a valid",
            ),
        ];
        for (cfg, want_field, needle) in cases {
            let (f, m) = field(cfg.clone()).unwrap_or_else(|| panic!("{cfg:?} built"));
            assert_eq!(f, want_field, "{cfg:?}");
            assert!(m.contains(needle), "{m}");
        }
        let e = build_with("hmac", &s, None, None).err().unwrap();
        assert_eq!(e.field, "hmac");
        let cfg = generic(Sha256, "x-s", None, Hex, None, None, "{body}");
        let e = build_with("github", &s, None, Some(&cfg)).err().unwrap();
        assert_eq!(e.field, "hmac");
        let e = build_with("github", &[], None, None).err().unwrap();
        assert_eq!(e.field, "secrets");
        let empty = vec![SecretEntry {
            value: crate::secret::Secret::new(""),
            expires: None,
            origin: "literal".into(),
        }];
        assert_eq!(
            build_with("github", &empty, None, None)
                .err()
                .unwrap()
                .field,
            "secrets[0]"
        );
    }
}
