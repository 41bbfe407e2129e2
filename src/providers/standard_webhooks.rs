//! Family: Standard Webhooks (`webhook-id`, `webhook-timestamp`,
//! `webhook-signature: v1,<b64> v1,<b64>`), and the same scheme under other
//! header names (Svix `svix-*`; later OpenAI, Resend, Clerk, Replicate, GitLab
//! signing tokens as catalog entries).
//!
//! Owns the key decoding (`whsec_` base64, or a sender's UTF-8 secret), the
//! space-separated signature list parser
//! and the verifier. Does not own the asymmetric `v1a` (Ed25519) variant —
//! entries of other versions are skipped — nor the constant-time comparison
//! (`keys.rs`).

use std::borrow::Cow;
use std::time::Duration;

use http::{HeaderMap, HeaderName};

use super::common::{
    decode_signature, header_bytes, header_name, id_text, Part, Sig, Signed, SignedBody,
    TimestampFormat, Tolerance, ToleranceSpec, BASE64_LENIENT, MAX_CANDIDATES,
};
use super::delimit;
use super::keys::{match_any, KeyRing};
use super::{
    BuildError, Dedup, HmacAlgorithm, Inbound, ProviderInfo, ProviderParams, Rejection,
    SignRequest, SignatureEncoding, Verified, Verifier,
};
use crate::body::Payload;
use base64::Engine as _;

/// Header names and default window of one Standard Webhooks sender.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct StandardWebhooksSpec {
    /// Message id header (`webhook-id`, `svix-id`); signed, and the event id.
    pub(crate) id_header: &'static str,
    /// Unix-seconds timestamp header; signed.
    pub(crate) timestamp_header: &'static str,
    /// Space-separated `version,signature` list.
    pub(crate) signature_header: &'static str,
    /// Default window (the reference libraries: 300 s both ways).
    pub(crate) tolerance: ToleranceSpec,
    /// How a configured secret becomes the HMAC key.
    pub(crate) key: KeyEncoding,
}

/// How a sender's secret becomes the HMAC key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum KeyEncoding {
    /// The spec's form: `whsec_` and base64 (or bare base64), decoded.
    Whsec,
    /// The secret's UTF-8 bytes as they are (Polar: its SDK base64-encodes
    /// the secret before the reference library decodes it again).
    Utf8,
}

/// What every Standard Webhooks sender signs. The spec requires that the id
/// and timestamp "not be allowed to include any `.`" (spec/standard-webhooks.md,
/// "Signature scheme"), so an id with a `.` is refused (see `delimit.rs`);
/// Svix ids, for one, are `msg_` and base62.
pub(crate) const SIGNED: &[Part] = &[
    Part::Id,
    Part::Literal(Cow::Borrowed(".")),
    Part::Timestamp,
    Part::Literal(Cow::Borrowed(".")),
    Part::Body,
];

/// Shortest key we accept (a `whsec_` secret must decode to ≥ 16
/// bytes, as docs/providers.md says).
const MIN_KEY_LEN: usize = 16;

impl StandardWebhooksSpec {
    /// The row of `hookguard providers` for this shape.
    pub(crate) fn info(&self, name: &'static str) -> ProviderInfo {
        ProviderInfo {
            name,
            algorithm: "HMAC-SHA256",
            headers: format!(
                "{}: <id>, {}: <unix s>, {}: v1,<base64>[ v1,<base64>...]",
                self.id_header, self.timestamp_header, self.signature_header
            ),
            signed: super::common::render_template(SIGNED),
            // The catalog fills in the window.
            ..ProviderInfo::default()
        }
    }
}

/// The HMAC key of one configured secret, as `encoding` says.
fn secret_key(encoding: KeyEncoding, raw: &[u8]) -> Result<Cow<'_, [u8]>, String> {
    match encoding {
        KeyEncoding::Whsec => decode_secret(raw),
        KeyEncoding::Utf8 => Ok(Cow::Borrowed(raw)),
    }
}

/// `whsec_<base64>` (or bare base64) → key bytes; padding optional.
/// Supabase Auth shows its hook secrets as `v1,whsec_<base64>` (`v1,` marks
/// a symmetric key); base64 has no `,`, so stripping `v1,` is unambiguous.
fn decode_secret(raw: &[u8]) -> Result<Cow<'_, [u8]>, String> {
    let raw = raw.strip_prefix(b"v1,").unwrap_or(raw);
    let b64 = raw.strip_prefix(b"whsec_").unwrap_or(raw);
    let key = BASE64_LENIENT.decode(b64).map_err(|_| {
        "not a Standard Webhooks secret: expected \"whsec_\" followed by base64".to_owned()
    })?;
    if key.len() < MIN_KEY_LEN {
        return Err(format!(
            "Standard Webhooks secret decodes to {} bytes; at least {MIN_KEY_LEN} are required",
            key.len()
        ));
    }
    Ok(Cow::Owned(key))
}

/// The three headers a Standard Webhooks sender would send (`hookguard sign`);
/// `secret` as configured (the `whsec_` string, or Polar's text).
pub(crate) fn sign(
    spec: &StandardWebhooksSpec,
    secret: &[u8],
    req: &SignRequest<'_>,
) -> Result<Vec<(String, String)>, BuildError> {
    let key = secret_key(spec.key, secret).map_err(|message| BuildError {
        field: "secret".into(),
        message,
    })?;
    let id = match req.id {
        Some(id) => id.to_owned(),
        None => super::common::default_id(req.timestamp),
    };
    let ts = req.timestamp.to_string();
    let signed = Signed::new(
        SIGNED,
        SignedBody::Slice(req.body),
        ts.as_bytes(),
        id.as_bytes(),
    );
    let tag = super::common::hmac_sign(HmacAlgorithm::Sha256, &key, &signed);
    let sig = super::common::encode_signature(&tag, SignatureEncoding::Base64);
    Ok(vec![
        (spec.id_header.to_owned(), id),
        (spec.timestamp_header.to_owned(), ts),
        (spec.signature_header.to_owned(), format!("v1,{sig}")),
    ])
}

// === impl StandardWebhooksVerifier ===

/// A built Standard Webhooks verifier.
pub(crate) struct StandardWebhooksVerifier {
    provider: &'static str,
    id: HeaderName,
    /// Bytes the id must not contain (`.`).
    id_forbidden: Box<[u8]>,
    timestamp: HeaderName,
    signature: HeaderName,
    keys: KeyRing,
    tolerance: Tolerance,
}

/// The head of one request.
struct Head<'h> {
    id: &'h str,
    timestamp: &'h [u8],
    sigs: [Sig; MAX_CANDIDATES],
    count: usize,
}

impl StandardWebhooksVerifier {
    /// Builds from a catalog entry; secrets are decoded as `spec.key` says.
    pub(crate) fn build(
        provider: &'static str,
        spec: &StandardWebhooksSpec,
        params: ProviderParams<'_>,
    ) -> Result<Self, BuildError> {
        Ok(Self {
            provider,
            id: header_name("provider", spec.id_header)?,
            id_forbidden: delimit::forbidden_bytes(SIGNED, &Part::Id, None).into(),
            timestamp: header_name("provider", spec.timestamp_header)?,
            signature: header_name("provider", spec.signature_header)?,
            keys: KeyRing::build(params.secrets, HmacAlgorithm::Sha256, |raw| {
                secret_key(spec.key, raw)
            })?,
            tolerance: Tolerance::new(spec.tolerance, params.tolerance),
        })
    }

    fn head<'h>(&self, headers: &'h HeaderMap) -> Result<Head<'h>, Rejection> {
        let raw_id = header_bytes(headers, &self.id)?;
        let timestamp = header_bytes(headers, &self.timestamp)?;
        let list = header_bytes(headers, &self.signature)?;
        let id = id_text(&self.id, raw_id)?;
        delimit::check(&self.id, id.as_bytes(), &self.id_forbidden)?;
        let name = &self.signature;
        let invalid = |why: String| Rejection::InvalidSignature {
            detail: format!("header {name:?}: {why}"),
        };
        let mut head = Head {
            id,
            timestamp,
            sigs: [Sig::EMPTY; MAX_CANDIDATES],
            count: 0,
        };
        let mut entries = 0usize;
        let mut first_error: Option<String> = None;
        for entry in list
            .split(u8::is_ascii_whitespace)
            .filter(|e| !e.is_empty())
        {
            let Some(value) = entry.strip_prefix(b"v1,") else {
                continue; // other versions (v1a, future) are skipped
            };
            // Supabase Auth joins its signatures with ", " (hookshttp.go),
            // leaving a `,` after every one but the last; base64 has none.
            let value = value.strip_suffix(b",").unwrap_or(value);
            entries += 1;
            if entries > MAX_CANDIDATES {
                return Err(invalid(format!("more than {MAX_CANDIDATES} v1 signatures")));
            }
            match decode_signature(value, SignatureEncoding::Base64, self.keys.tag_len()) {
                Ok(sig) => {
                    head.sigs[head.count] = sig;
                    head.count += 1;
                }
                Err(why) => {
                    first_error.get_or_insert(why);
                }
            }
        }
        if head.count == 0 {
            return Err(invalid(match first_error {
                Some(why) => format!("no usable v1 signature ({why})"),
                None => "no v1 signature".into(),
            }));
        }
        Ok(head)
    }
}

impl Verifier for StandardWebhooksVerifier {
    fn provider(&self) -> &str {
        self.provider
    }

    fn tolerance(&self) -> Option<Duration> {
        Some(self.tolerance.window())
    }

    fn precheck(&self, req: &Inbound<'_>) -> Result<(), Rejection> {
        let head = self.head(req.headers)?;
        let (ts, fmt) = (head.timestamp, TimestampFormat::UnixSeconds);
        self.tolerance.check(&self.timestamp, ts, fmt, req.now_ms)
    }

    fn verify(&self, req: &Inbound<'_>, body: &Payload) -> Result<Verified, Rejection> {
        let head = self.head(req.headers)?;
        let signed = Signed::new(
            SIGNED,
            SignedBody::Received(body),
            head.timestamp,
            head.id.as_bytes(),
        );
        let candidates = &head.sigs[..head.count];
        let secret_index = match_any(&self.keys, req.now_ms, &signed, candidates)?;
        let (ts, fmt) = (head.timestamp, TimestampFormat::UnixSeconds);
        self.tolerance.check(&self.timestamp, ts, fmt, req.now_ms)?;
        Ok(Verified {
            secret_index,
            event_id: Some(head.id.to_owned()),
            dedup: Dedup::SignedId(head.id.to_owned()),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::super::testutil::{
        build_with, headers, kind, precheck_at, run, secrets, verifier, Garbage,
    };
    use super::*;

    // Standard Webhooks reference libraries' published test
    // (`libraries/python/tests/test_webhooks.py` `test_sign_function`);
    // svix-python `sign()` gives the same value.
    const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    const ID: &[u8] = b"msg_p5jXN8AQM9LWM0D4loKWxJek";
    const TS: i64 = 1_614_265_330;
    const BODY: &[u8] = br#"{"test": 2432232314}"#;
    const SIG: &str = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=";

    fn sw(prefix: &str, sig: &str, ts: &[u8]) -> HeaderMap {
        headers(&[
            (&format!("{prefix}-id"), ID),
            (&format!("{prefix}-timestamp"), ts),
            (&format!("{prefix}-signature"), sig.as_bytes()),
        ])
    }

    #[test]
    fn reference_vector_webhook_and_svix_names() {
        for (provider, prefix) in [("standard-webhooks", "webhook"), ("svix", "svix")] {
            let v = verifier(provider, &secrets(&[SECRET]));
            assert_eq!(v.provider(), provider);
            let ok = run(&v, &sw(prefix, SIG, b"1614265330"), BODY, TS).unwrap();
            assert_eq!(ok.secret_index, 0);
            assert_eq!(ok.event_id.as_deref(), Some("msg_p5jXN8AQM9LWM0D4loKWxJek"));
            assert_eq!(
                ok.dedup,
                Dedup::SignedId("msg_p5jXN8AQM9LWM0D4loKWxJek".into())
            );
            assert_eq!(
                kind(&run(&v, &sw(prefix, SIG, b"1614265330"), b"{}", TS)),
                "invalid"
            );
            // Each scheme reads only its own header names.
            let other = if prefix == "svix" { "webhook" } else { "svix" };
            assert_eq!(
                kind(&run(&v, &sw(other, SIG, b"1614265330"), BODY, TS)),
                "missing"
            );
        }
    }

    #[test]
    fn list_with_other_versions_and_junk() {
        let v = verifier("svix", &secrets(&[SECRET]));
        // svix-node accepts `v1,bm9wZQ== v1,<valid>`: any listed v1 may match.
        let list = format!("v1a,AAAA v2,xyz v1,bm9wZQ== {SIG}");
        let ok = run(&v, &sw("svix", &list, b"1614265330"), BODY, TS).unwrap();
        assert_eq!(ok.secret_index, 0);
        let r = run(
            &v,
            &sw("svix", "v1a,AAAA v1,bm9wZQ==", b"1614265330"),
            BODY,
            TS,
        );
        assert_eq!(
            r,
            Err(Rejection::InvalidSignature {
                detail: "header \"svix-signature\": no usable v1 signature (base64 decodes to 4 bytes, expected 32)".into()
            })
        );
        let many = format!("{SIG} ").repeat(17);
        let r = format!("{:?}", run(&v, &sw("svix", &many, b"1614265330"), BODY, TS));
        assert!(r.contains("more than 16"), "{r}");
    }

    #[test]
    fn window_both_ways_and_missing_parts() {
        let v = verifier("standard-webhooks", &secrets(&[SECRET]));
        let h = sw("webhook", SIG, b"1614265330");
        assert!(run(&v, &h, BODY, TS + 300).is_ok());
        assert!(run(&v, &h, BODY, TS - 300).is_ok());
        assert_eq!(kind(&run(&v, &h, BODY, TS + 301)), "timestamp");
        let r = run(&v, &h, BODY, TS - 301);
        assert_eq!(
            r,
            Err(Rejection::TimestampOutOfTolerance {
                detail: "header \"webhook-timestamp\": timestamp is 301 s in the future (tolerance 300 s)".into()
            })
        );
        let wide = build_with(
            "standard-webhooks",
            &secrets(&[SECRET]),
            Some(std::time::Duration::from_secs(600)),
            None,
        )
        .unwrap();
        assert!(run(&wide, &h, BODY, TS + 599).is_ok());
        // What `check` prints is the window that runs.
        assert_eq!(v.tolerance(), Some(std::time::Duration::from_secs(300)));
        assert_eq!(wide.tolerance(), Some(std::time::Duration::from_secs(600)));
        for drop in ["webhook-id", "webhook-timestamp", "webhook-signature"] {
            let mut h = h.clone();
            h.remove(drop);
            assert_eq!(kind(&run(&v, &h, BODY, TS)), "missing", "{drop}");
        }
        // An id that is not printable ASCII cannot become an event id.
        let mut odd = h.clone();
        odd.insert(
            "webhook-id",
            http::HeaderValue::from_bytes(b"msg\xff").unwrap(),
        );
        assert_eq!(kind(&run(&v, &odd, BODY, TS)), "invalid");
    }

    #[test]
    fn rotation_prefers_unexpired_second_secret() {
        let mut s = secrets(&["whsec_AAAAAAAAAAAAAAAAAAAAAAAA", SECRET]);
        s[0].expires = Some(TS + 10_000); // still active: tried, does not match
        let v = verifier("standard-webhooks", &s);
        let ok = run(&v, &sw("webhook", SIG, b"1614265330"), BODY, TS).unwrap();
        assert_eq!(ok.secret_index, 1);
        let mut s = secrets(&[SECRET, SECRET]);
        s[0].expires = Some(TS); // expired at TS: index 1 must answer
        let v = verifier("standard-webhooks", &s);
        let ok = run(&v, &sw("webhook", SIG, b"1614265330"), BODY, TS).unwrap();
        assert_eq!(ok.secret_index, 1);
    }

    #[test]
    fn secret_decoding_errors_name_the_entry() {
        // Unpadded (22 characters → 16 bytes) and padded secrets are accepted.
        assert!(build_with(
            "svix",
            &secrets(&["whsec_AAAAAAAAAAAAAAAAAAAAAA"]),
            None,
            None
        )
        .is_ok());
        assert!(build_with(
            "svix",
            &secrets(&["whsec_AAAAAAAAAAAAAAAAAAAAAA=="]),
            None,
            None
        )
        .is_ok());
        assert!(build_with(
            "svix",
            &secrets(&["whsec_AAAAAAAAAAAAAAAAAAAA"]),
            None,
            None
        )
        .is_err());
        let e = build_with("svix", &secrets(&[SECRET, "whsec_c2hvcnQ="]), None, None)
            .err()
            .unwrap();
        assert_eq!(e.field, "secrets[1]");
        assert!(e.message.contains("decodes to 5 bytes"), "{}", e.message);
        let e = build_with(
            "standard-webhooks",
            &secrets(&["whsec_not base64!"]),
            None,
            None,
        )
        .err()
        .unwrap();
        assert_eq!(e.field, "secrets[0]");
        assert!(
            !e.message.contains("not base64!"),
            "message echoes the secret"
        );
    }

    #[test]
    fn supabase_secret_form_and_comma_joined_list() {
        // Supabase Auth (supabase/auth hookshttp.go): secrets `v1,whsec_..`,
        // signatures joined by ", ". Vectors: Python hmac, and the
        // standardwebhooks npm 1.3.0 `sign` gives the same two values.
        const A: &str = "v1,xKhBqr4+TpvxCtZE1ujjAP+p+iJaJhLpNOy6ZgOxW8A=";
        const B: &str = "v1,6PxGJMD2OH5fGGchyFIW9pxGdP0YGi34fkJnpRpH900=";
        const SECRET_B: &str = "v1,whsec_c3VwYWJhc2Utcm90YXRlZC1ob29rLXNlY3JldC0zMmI=";
        let body = br#"{"user_id":"8ccaa7af-909f-44e7-84cb-67cdccb56be6","claims":{"aud":"authenticated"},"authentication_method":"password"}"#;
        let h = |sig: &str| {
            headers(&[
                ("webhook-id", b"2b1c3e9a-4f5d-4e6b-8a7c-9d0e1f2a3b4c"),
                ("webhook-timestamp", b"1700000000"),
                ("webhook-signature", sig.as_bytes()),
            ])
        };
        let joined = format!("{A}, {B}");
        let first = verifier("supabase-auth", &secrets(&[&format!("v1,{SECRET}")]));
        let second = verifier("supabase-auth", &secrets(&[SECRET_B]));
        for v in [&first, &second] {
            assert!(run(v, &h(&joined), body, 1_700_000_000).is_ok());
        }
        // Only one trailing comma is the joiner; more is not base64.
        assert_eq!(
            kind(&run(&first, &h(&format!("{A},, {B}")), body, 1_700_000_000)),
            "invalid"
        );
        // `hookguard sign` takes the secret as Supabase shows it.
        let spec = match &super::super::catalog::lookup("supabase-auth")
            .unwrap()
            .family
        {
            super::super::catalog::Family::StandardWebhooks(spec) => spec,
            _ => unreachable!("supabase-auth is a Standard Webhooks sender"),
        };
        let req = SignRequest {
            body,
            timestamp: 1_700_000_000,
            id: Some("2b1c3e9a-4f5d-4e6b-8a7c-9d0e1f2a3b4c"),
            url: None,
            method: "POST",
        };
        let out = sign(spec, SECRET_B.as_bytes(), &req).unwrap();
        assert_eq!(out[2], ("webhook-signature".into(), B.into()));
    }

    #[test]
    fn polar_keys_with_the_secret_text() {
        // Polar (polar-js validateEvent): the key is the secret's UTF-8
        // bytes. Vector computed, and accepted by the standardwebhooks npm
        // verifier given base64(utf8(secret)).
        let sig = "v1,V1+c/I5e72yk/fywgTKIV3YWbFL3YjTT5UPJihvmpBk=";
        let body = br#"{"type":"order.created","data":{}}"#;
        let h = headers(&[
            ("webhook-id", b"msg_1"),
            ("webhook-timestamp", b"1700000000"),
            ("webhook-signature", sig.as_bytes()),
        ]);
        let polar = verifier("polar", &secrets(&["polar_whs_example"]));
        assert!(run(&polar, &h, body, 1_700_000_000).is_ok());
        // The same text is no `whsec_` base64 secret...
        let e = build_with(
            "standard-webhooks",
            &secrets(&["polar_whs_example"]),
            None,
            None,
        )
        .err()
        .unwrap();
        assert_eq!(e.field, "secrets[0]");
        // ...and a `whsec_` secret is not decoded for Polar: the spec's
        // published vector does not verify under its text.
        let text = verifier("polar", &secrets(&[SECRET]));
        let spec = sw("webhook", SIG, b"1614265330");
        assert_eq!(kind(&run(&text, &spec, BODY, TS)), "invalid");
        // `hookguard sign` keys the same way.
        let req = SignRequest {
            body,
            timestamp: 1_700_000_000,
            id: Some("msg_1"),
            url: None,
            method: "POST",
        };
        let spec = match &super::super::catalog::lookup("polar").unwrap().family {
            super::super::catalog::Family::StandardWebhooks(spec) => spec,
            _ => unreachable!("polar is a Standard Webhooks sender"),
        };
        let out = sign(spec, b"polar_whs_example", &req).unwrap();
        assert_eq!(out[2], ("webhook-signature".into(), sig.into()));
    }

    /// `hookguard sign` without `--id` signs the documented default id,
    /// `msg_hookguard_<timestamp>`, and what it prints verifies.
    #[test]
    fn sign_without_an_id_uses_the_documented_default() {
        let spec = match &super::super::catalog::lookup("standard-webhooks")
            .unwrap()
            .family
        {
            super::super::catalog::Family::StandardWebhooks(spec) => spec,
            _ => unreachable!("standard-webhooks is a Standard Webhooks sender"),
        };
        let req = SignRequest {
            body: BODY,
            timestamp: TS,
            id: None,
            url: None,
            method: "POST",
        };
        let out = sign(spec, SECRET.as_bytes(), &req).unwrap();
        assert_eq!(
            out[0],
            ("webhook-id".into(), "msg_hookguard_1614265330".into())
        );
        let pairs: Vec<(&str, &[u8])> = out
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_bytes()))
            .collect();
        let v = verifier("standard-webhooks", &secrets(&[SECRET]));
        let ok = run(&v, &headers(&pairs), BODY, TS).unwrap();
        assert_eq!(ok.event_id.as_deref(), Some("msg_hookguard_1614265330"));
    }

    /// Up to 16 `v1` signatures are tried (the last may be the match); a
    /// 17th refuses the list.
    #[test]
    fn sixteen_signatures_are_tried() {
        let v = verifier("svix", &secrets(&[SECRET]));
        let wrong = "v1,AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA= ".repeat(15);
        let sixteen = format!("{wrong}{SIG}");
        let ok = run(&v, &sw("svix", &sixteen, b"1614265330"), BODY, TS);
        assert_eq!(kind(&ok), "ok");
        let seventeen = format!("{sixteen} {SIG}");
        let r = format!(
            "{:?}",
            run(&v, &sw("svix", &seventeen, b"1614265330"), BODY, TS)
        );
        assert!(r.contains("more than 16 v1 signatures"), "{r}");
    }

    /// The precheck refuses a stale or unsigned request from its headers
    /// alone, so the proxy never reads its body.
    #[test]
    fn precheck_refuses_from_the_headers_alone() {
        let v = verifier("standard-webhooks", &secrets(&[SECRET]));
        let at = |headers: &HeaderMap, now_secs: i64| precheck_at(&v, headers, now_secs);
        let h = sw("webhook", SIG, b"1614265330");
        assert_eq!(at(&h, TS), Ok(()));
        let stale = at(&h, TS + 301).unwrap_err();
        assert_eq!(stale.code(), "timestamp_out_of_tolerance");
        let unsigned = at(&sw("webhook", "v1a,AAAA", b"1614265330"), TS).unwrap_err();
        assert_eq!(unsigned.code(), "invalid_signature");
    }

    #[test]
    fn garbage_never_panics() {
        let v = verifier("standard-webhooks", &secrets(&[SECRET]));
        let mut g = Garbage::new(11);
        for _ in 0..3000 {
            let mut h = sw("webhook", SIG, b"1614265330");
            for (name, seed) in [
                ("webhook-signature", SIG.as_bytes()),
                ("webhook-timestamp", b"1614265330"),
                ("webhook-id", ID),
            ] {
                if g.next() % 2 == 0 {
                    if let Ok(hv) = http::HeaderValue::from_bytes(&g.value(seed)) {
                        h.insert(name, hv);
                    }
                }
            }
            let _ = run(&v, &h, BODY, TS);
        }
    }
}
