//! Tests of the generic `hmac` provider: templates, key decoding and
//! timestamp formats, each against a vector from outside this code.
use super::super::testutil::{build_with, headers, kind, run, secrets};
use super::super::Dedup;
use super::super::{HmacAlgorithm, HmacKeyEncoding, SecretEntry, SignatureEncoding};
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
        fallback_headers: Vec::new(),
        prefix: prefix.map(Into::into),
        encoding,
        timestamp_header: timestamp_header.map(Into::into),
        timestamp_format: None,
        id_header: id_header.map(Into::into),
        signed: signed.into(),
        key_encoding: HmacKeyEncoding::Utf8,
        key_prefix: None,
        signature_keys: Vec::new(),
        timestamp_key: None,
        pair_separator: None,
        mode: crate::providers::HmacMode::Hmac,
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

/// A generic `{timestamp}` scheme whose timestamp format is `format`.
fn timed(
    header: &str,
    prefix: Option<&str>,
    ts_header: &str,
    signed: &str,
    format: Option<HmacTimestampFormat>,
) -> GenericHmac {
    GenericHmac {
        timestamp_format: format,
        ..generic(
            HmacAlgorithm::Sha256,
            header,
            prefix,
            SignatureEncoding::Hex,
            Some(ts_header),
            None,
            signed,
        )
    }
}

// Webflow's vector (webflow-api 3.3.4 verifySignature accepted it:
// `{ts_ms}:{body}`, hex). Stated `unix_ms`, it verifies at its time;
// unstated (or `unix`), the same digits are seconds 53 000 years ahead.
#[test]
fn timestamp_format_unix_ms_reproduces_the_webflow_vector() {
    let cfg = |format| {
        timed(
            "x-webflow-signature",
            None,
            "x-webflow-timestamp",
            "{timestamp}:{body}",
            format,
        )
    };
    let s = secrets(&["wf_client_secret"]);
    let h = headers(&[
        (
            "x-webflow-signature",
            b"a8ea28646afffd379da3f5a20f8d1e2c916831416b2706af1dad7e4e49675fa6",
        ),
        ("x-webflow-timestamp", b"1700000000000"),
    ]);
    let body = br#"{"triggerType":"form_submission","payload":{}}"#;
    let ms = Some(HmacTimestampFormat::UnixMs);
    let v = build_with("hmac", &s, None, Some(&cfg(ms))).unwrap();
    assert_eq!(kind(&run(&v, &h, body, 1_700_000_000)), "ok");
    assert_eq!(kind(&run(&v, &h, body, 1_700_000_301)), "timestamp");
    for ignored in [None, Some(HmacTimestampFormat::Unix)] {
        let v = build_with("hmac", &s, None, Some(&cfg(ignored))).unwrap();
        assert_eq!(kind(&run(&v, &h, body, 1_700_000_000)), "timestamp");
    }
}

// Orb's vector (orb-billing 4.90.0 verify_signature accepted it with its
// clock frozen): `v1:{ts}:{body}` with a zone-less ISO 8601 timestamp,
// UTC. Only `iso8601_naive` reads it; RFC 3339 needs an offset.
#[test]
fn timestamp_format_iso8601_naive_reproduces_the_orb_vector() {
    let cfg = |format| {
        timed(
            "x-orb-signature",
            Some("v1="),
            "x-orb-timestamp",
            "v1:{timestamp}:{body}",
            format,
        )
    };
    let s = secrets(&["orb_secret"]);
    let h = headers(&[
        (
            "x-orb-signature",
            b"v1=92dbc88ab0f65500312b5329876335163e2b750e697603b9a30bacb590c195a7",
        ),
        ("x-orb-timestamp", b"2023-11-14T22:13:20.000000"),
    ]);
    let body = br#"{"id":"evt","type":"invoice.issued"}"#;
    let naive = Some(HmacTimestampFormat::Iso8601Naive);
    let v = build_with("hmac", &s, None, Some(&cfg(naive))).unwrap();
    // 2023-11-14T22:13:20 UTC is Unix 1700000000.
    assert_eq!(kind(&run(&v, &h, body, 1_700_000_000)), "ok");
    assert_eq!(kind(&run(&v, &h, body, 1_700_000_000 + 301)), "timestamp");
    assert_eq!(kind(&run(&v, &h, body, 1_700_000_000 - 301)), "timestamp");
    for ignored in [None, Some(HmacTimestampFormat::Rfc3339)] {
        let v = build_with("hmac", &s, None, Some(&cfg(ignored))).unwrap();
        assert_eq!(kind(&run(&v, &h, body, 1_700_000_000)), "timestamp");
    }
    // `hookguard sign` writes the same form.
    let spec = generic_spec(Some(&cfg(naive))).unwrap();
    let req = crate::providers::SignRequest {
        body,
        timestamp: 1_700_000_000,
        id: None,
        url: None,
        method: "POST",
    };
    let out = crate::providers::hmac::sign(&spec, b"orb_secret", &req).unwrap();
    assert!(out.contains(&(
        "x-orb-timestamp".to_owned(),
        "2023-11-14T22:13:20.000000".to_owned()
    )));
    assert!(out.contains(&(
        "x-orb-signature".to_owned(),
        "v1=92dbc88ab0f65500312b5329876335163e2b750e697603b9a30bacb590c195a7".to_owned()
    )));
}

// The Standard Webhooks spec's published vector, expressed in the
// engine: `whsec_` stripped by key_prefix, the rest base64-decoded.
// Ignore either option and it fails: the prefix is not base64, and the
// text itself is another key.
#[test]
fn key_prefix_and_base64_key_reproduce_the_standard_webhooks_vector() {
    let sw = |key_encoding, key_prefix: Option<&str>| GenericHmac {
        key_encoding,
        key_prefix: key_prefix.map(Into::into),
        ..generic(
            HmacAlgorithm::Sha256,
            "webhook-signature",
            Some("v1,"),
            SignatureEncoding::Base64,
            Some("webhook-timestamp"),
            Some("webhook-id"),
            "{id}.{timestamp}.{body}",
        )
    };
    let s = secrets(&["whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"]);
    let h = headers(&[
        ("webhook-id", b"msg_p5jXN8AQM9LWM0D4loKWxJek"),
        ("webhook-timestamp", b"1614265330"),
        (
            "webhook-signature",
            b"v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=",
        ),
    ]);
    let body = br#"{"test": 2432232314}"#;
    let cfg = sw(HmacKeyEncoding::Base64, Some("whsec_"));
    let v = build_with("hmac", &s, None, Some(&cfg)).unwrap();
    assert_eq!(kind(&run(&v, &h, body, 1_614_265_330)), "ok");
    // Without the prefix stripped, "whsec_..." is not base64.
    let cfg = sw(HmacKeyEncoding::Base64, None);
    let e = build_with("hmac", &s, None, Some(&cfg)).err().unwrap();
    assert_eq!(e.field, "secrets[0]");
    assert!(e.message.contains("not base64"), "{}", e.message);
    assert!(!e.message.contains("MfKQ"), "{}", e.message);
    // As text, the secret is another key.
    for key_prefix in [None, Some("whsec_")] {
        let cfg = sw(HmacKeyEncoding::Utf8, key_prefix);
        let v = build_with("hmac", &s, None, Some(&cfg)).unwrap();
        assert_eq!(kind(&run(&v, &h, body, 1_614_265_330)), "invalid");
    }
    // A secret that is only the prefix leaves no key.
    let cfg = sw(HmacKeyEncoding::Base64, Some("whsec_"));
    let e = build_with("hmac", &secrets(&["whsec_"]), None, Some(&cfg)).err();
    assert!(e.unwrap().message.contains("nothing is left"));
}

// Microsoft Teams outgoing webhook, as its sample (OfficeDev
// msteams-samples-outgoing-webhook-nodejs app.js) checks it:
// `Authorization: HMAC <base64>` with the base64-decoded token as key
// (comp: Python hmac). And Onfleet's hex secret (comp: Python hmac,
// docs.onfleet.com "Webhook Authentication"). As text, both fail.
#[test]
fn hex_and_base64_keys_through_the_engine() {
    let teams = |key_encoding| GenericHmac {
        key_encoding,
        ..generic(
            HmacAlgorithm::Sha256,
            "authorization",
            Some("HMAC "),
            SignatureEncoding::Base64,
            None,
            None,
            "{body}",
        )
    };
    let token = secrets(&["dGVhbXMtb3V0Z29pbmctd2ViaG9vay10b2tlbi0zMmI="]);
    let h = headers(&[(
        "Authorization",
        b"HMAC LEA4PTBAxoEwqtrWChIRzG8H5Jv9+2Nig6EAUKvAfeE=",
    )]);
    let body = br#"{"type":"message","text":"hi"}"#;
    let run_with = |enc, s: &[SecretEntry], h: &http::HeaderMap, body: &[u8]| {
        let cfg = teams(enc);
        kind(&run(
            &build_with("hmac", s, None, Some(&cfg)).unwrap(),
            h,
            body,
            0,
        ))
    };
    assert_eq!(run_with(HmacKeyEncoding::Base64, &token, &h, body), "ok");
    assert_eq!(run_with(HmacKeyEncoding::Utf8, &token, &h, body), "invalid");

    let onfleet = |key_encoding| GenericHmac {
        key_encoding,
        ..generic(
            HmacAlgorithm::Sha512,
            "x-onfleet-signature",
            None,
            SignatureEncoding::Hex,
            None,
            None,
            "{body}",
        )
    };
    let secret = secrets(&["6f6e666c6565742d776562686f6f6b2d7365637265742d6578616d706c652d3332"]);
    let h = headers(&[("x-onfleet-signature", ONFLEET_SIG)]);
    for (enc, want) in [
        (HmacKeyEncoding::Hex, "ok"),
        (HmacKeyEncoding::Utf8, "invalid"),
    ] {
        let cfg = onfleet(enc);
        let v = build_with("hmac", &secret, None, Some(&cfg)).unwrap();
        assert_eq!(kind(&run(&v, &h, ONFLEET_BODY, 0)), want, "{enc:?}");
    }
    let cfg = onfleet(HmacKeyEncoding::Hex);
    let e = build_with("hmac", &secrets(&["not hex"]), None, Some(&cfg))
        .err()
        .unwrap();
    assert!(e.message.contains("not hex"), "{}", e.message);
}

const ONFLEET_BODY: &[u8] = br#"{"taskId":"tsk1","triggerId":3,"triggerName":"taskCompleted"}"#;
const ONFLEET_SIG: &[u8] = b"8de212d3357b3ba9d5f06a677aba43517ac2c9e5e1bc51101d1b26ace4ce178b0738b699a58551af9da992ca17e1c95b2c55d408eea0e714b80e93a76b170ad6";

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
            "does not cover the body proves nothing",
        ),
        (
            generic(Sha256, "x-s", None, Hex, None, None, "{body}{body}"),
            "hmac.signed",
            "exactly once",
        ),
        (
            generic(
                Sha256,
                "x-s",
                None,
                Hex,
                None,
                None,
                "{body}.{body_sha256_hex}",
            ),
            "hmac.signed",
            "exactly once",
        ),
        (
            generic(Sha256, "x-s", None, Hex, None, None, "{header:x y}.{body}"),
            "hmac.signed",
            "not a valid header name",
        ),
        (
            generic(Sha256, "x-s", None, Hex, None, None, "{url}{body}"),
            "hmac.signed",
            "{url}{body} has no separator",
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

/// A template of up to `MAX_PARTS` pieces is built (the verifier assembles
/// the message in an array of that size); one more is refused.
#[test]
fn templates_hold_at_most_max_parts_pieces() {
    let template = |pieces: usize| -> String {
        ["{body}", "."]
            .into_iter()
            .chain(["{method}", "."].into_iter().cycle())
            .take(pieces)
            .collect()
    };
    let at_limit = parse_template(&template(MAX_PARTS), false).map(|parts| parts.len());
    assert_eq!(at_limit, Ok(MAX_PARTS));
    let over = parse_template(&template(MAX_PARTS + 1), false).unwrap_err();
    assert!(over.contains("at most"), "{over}");
}

// === Request values in the template ===

/// The generic scheme signing `signed` with the secret's bytes, hex.
fn templated(signed: &str, ts_header: Option<&str>) -> GenericHmac {
    generic(
        HmacAlgorithm::Sha256,
        "x-s",
        None,
        SignatureEncoding::Hex,
        ts_header,
        None,
        signed,
    )
}

/// A request with `method` to `path_and_query`, whose public URL is `url`.
fn run_request(
    v: &super::super::SharedVerifier,
    h: &http::HeaderMap,
    body: &[u8],
    (method, path_and_query, url): (&str, &str, &str),
    now_ms: i64,
) -> Result<super::super::Verified, super::super::Rejection> {
    let method = http::Method::from_bytes(method.as_bytes()).unwrap();
    let uri: http::Uri = path_and_query.parse().unwrap();
    let req = super::super::Inbound {
        method: &method,
        uri: &uri,
        headers: h,
        public_url: url,
        now_ms,
        key: None,
    };
    super::super::testutil::precheck_and_verify(v, &req, body)
}

// Contentful's canonical request, written as a template: the vector was
// computed with @contentful/node-apps-toolkit 3.16.1 `signRequest` (see
// canonical.rs). `{method}`, `{path}` and two `{header:Name}` values are
// read from the request; the SDK's encoded query is a literal here. Any of
// them read wrong (another method, path or header value) fails.
#[test]
fn method_path_and_headers_reproduce_the_contentful_sdk_vector() {
    let signed = "{method}\n{path}?x%253D1\ncontent-type:{header:content-type};\
        x-contentful-signed-headers:content-type,x-contentful-signed-headers,\
        x-contentful-timestamp,x-contentful-topic;x-contentful-timestamp:{timestamp};\
        x-contentful-topic:{header:x-contentful-topic}\n{body}";
    let cfg = GenericHmac {
        timestamp_format: Some(HmacTimestampFormat::UnixMs),
        ..generic(
            HmacAlgorithm::Sha256,
            "x-contentful-signature",
            None,
            SignatureEncoding::Hex,
            Some("x-contentful-timestamp"),
            None,
            signed,
        )
    };
    let v = build_with("hmac", &secrets(&[&"a".repeat(64)]), None, Some(&cfg)).unwrap();
    let h = |topic: &'static [u8]| {
        headers(&[
            (
                "content-type",
                b"application/vnd.contentful.management.v1+json",
            ),
            ("x-contentful-topic", topic),
            ("x-contentful-timestamp", b"1700000000000"),
            (
                "x-contentful-signature",
                b"57d4e1bbc7e2e31280f25002902eaa307f10e628e8929f699ce6ea4ac9982370",
            ),
        ])
    };
    let publish = h(b"ContentManagement.Entry.publish");
    let body = br#"{"sys":{"id":"abc"}}"#;
    let t = 1_700_000_000_000;
    let at = |method, path| (method, path, "https://example.com/hook");
    let ok = run_request(
        &v,
        &publish,
        body,
        at("POST", "/webhooks/contentful?x=1"),
        t,
    );
    assert!(ok.is_ok(), "{ok:?}");
    for (method, path) in [("PUT", "/webhooks/contentful"), ("POST", "/webhooks/other")] {
        let r = run_request(&v, &publish, body, at(method, path), t);
        assert_eq!(kind(&r), "invalid", "{method} {path}");
    }
    let delete = h(b"ContentManagement.Entry.delete");
    let r = run_request(&v, &delete, body, at("POST", "/webhooks/contentful"), t);
    assert_eq!(kind(&r), "invalid");
    let mut gone = publish.clone();
    gone.remove("x-contentful-topic");
    let r = run_request(&v, &gone, body, at("POST", "/webhooks/contentful"), t);
    assert_eq!(kind(&r), "missing");
}

// `{method}\n{url}\n{body_sha256_hex}` (Bird's layout with a hex body hash),
// computed with Python's hmac and hashlib: the URL is the public URL, the
// body enters only through its hash.
#[test]
fn url_and_body_hash_are_signed() {
    let v = generic_verifier(&templated("{method}\n{url}\n{body_sha256_hex}", None));
    assert!(v.signs_url());
    let sig = b"c5e38e7653eeffd61e2ab0309b05bda530212afcf40886bfbdd975fd6f0efccf";
    let h = headers(&[("x-s", sig)]);
    let url = "https://example.com/hook";
    assert!(run_request(&v, &h, G_BODY, ("POST", "/hook", url), 0).is_ok());
    let other_url = ("POST", "/hook", "https://example.com/hook2");
    assert_eq!(kind(&run_request(&v, &h, G_BODY, other_url, 0)), "invalid");
    assert_eq!(
        kind(&run_request(&v, &h, b"{}", ("POST", "/hook", url), 0)),
        "invalid"
    );
    // A URL holding the separator on the body side would split two ways.
    let newline = ("POST", "/hook", "https://example.com/ho\nok");
    assert_eq!(kind(&run_request(&v, &h, G_BODY, newline, 0)), "invalid");
}

// `{path}?{query}.{body}`, computed with Python's hmac: the query is signed
// as received, and one holding the separator after it is refused.
#[test]
fn path_and_query_are_signed_as_received() {
    let v = generic_verifier(&templated("{path}?{query}.{body}", None));
    assert!(!v.signs_url());
    let sig = b"fe933a9d527d1e4a13fc9410bed12dedecac6c814de7cb7c0ff46bbaaa79060c";
    let h = headers(&[("x-s", sig)]);
    let at = |pq| ("POST", pq, "");
    assert!(run_request(&v, &h, G_BODY, at("/hook?a=1&b=2"), 0).is_ok());
    assert_eq!(
        kind(&run_request(&v, &h, G_BODY, at("/hook?a=1&b=3"), 0)),
        "invalid"
    );
    assert_eq!(
        kind(&run_request(&v, &h, G_BODY, at("/hook?a=1.5"), 0)),
        "invalid"
    );
    // `hookguard sign` needs the URL for them, and refuses {header:...}.
    let spec = generic_spec(Some(&templated("{path}?{query}.{body}", None))).unwrap();
    let req = crate::providers::SignRequest {
        body: G_BODY,
        timestamp: 0,
        id: None,
        url: Some("https://example.com/hook?a=1&b=2"),
        method: "POST",
    };
    let out = crate::providers::hmac::sign(&spec, G_SECRET.as_bytes(), &req).unwrap();
    assert_eq!(out[0].1.as_bytes(), sig);
    let no_url = crate::providers::SignRequest { url: None, ..req };
    assert!(crate::providers::hmac::sign(&spec, G_SECRET.as_bytes(), &no_url).is_err());
    let spec = generic_spec(Some(&templated("{header:x-a}.{body}", None))).unwrap();
    assert!(crate::providers::hmac::sign(&spec, G_SECRET.as_bytes(), &req).is_err());
}

// === k=v signature headers ===

/// A `k=v` header scheme: `signature_keys`, `timestamp_key` and the pair
/// separator over `{timestamp}<sep>{body}`.
fn pairs(
    header: &str,
    keys: &[&str],
    ts_key: Option<&str>,
    sep: Option<u8>,
    signed: &str,
) -> GenericHmac {
    GenericHmac {
        signature_keys: keys.iter().map(|k| (*k).to_owned()).collect(),
        timestamp_key: ts_key.map(Into::into),
        pair_separator: sep,
        ..generic(
            HmacAlgorithm::Sha256,
            header,
            None,
            SignatureEncoding::Hex,
            None,
            None,
            signed,
        )
    }
}

// ElevenLabs' vector (elevenlabs 2.78.0 construct_event accepted it):
// `t=..,v0=..` over `{t}.{body}`. As one plain signature header (the keys
// ignored) it does not verify; under another signature key neither.
#[test]
fn signature_keys_reproduce_the_elevenlabs_vector() {
    let s = secrets(&["wsec_elevenlabs"]);
    let value: &[u8] =
        b"t=1700000000,v0=770e9c48dbec2eacd51d65b8c2f2609da969836e3be4cc32d30d5a2537a03d4d";
    let h = headers(&[("elevenlabs-signature", value)]);
    let body = br#"{"type":"post_call_transcription","data":{}}"#;
    let cfg = pairs(
        "elevenlabs-signature",
        &["v1", "v0"],
        Some("t"),
        None,
        "{timestamp}.{body}",
    );
    let v = build_with("hmac", &s, None, Some(&cfg)).unwrap();
    assert_eq!(kind(&run(&v, &h, body, 1_700_000_000)), "ok");
    assert_eq!(kind(&run(&v, &h, body, 1_700_000_301)), "timestamp");
    assert_eq!(kind(&run(&v, &h, b"{}", 1_700_000_000)), "invalid");
    let wrong_key = pairs(
        "elevenlabs-signature",
        &["v1"],
        Some("t"),
        None,
        "{timestamp}.{body}",
    );
    let v = build_with("hmac", &s, None, Some(&wrong_key)).unwrap();
    assert_eq!(kind(&run(&v, &h, body, 1_700_000_000)), "invalid");
    // No `t=` pair: missing.
    let no_t = headers(&[("elevenlabs-signature", &value[13..])]);
    let v = build_with("hmac", &s, None, Some(&cfg)).unwrap();
    assert_eq!(kind(&run(&v, &no_t, body, 1_700_000_000)), "missing");
    // `hookguard sign` writes the same header.
    let GenericScheme::Structured(spec) = generic_scheme(Some(&cfg)).unwrap() else {
        panic!("a k=v scheme");
    };
    let req = crate::providers::SignRequest {
        body,
        timestamp: 1_700_000_000,
        id: None,
        url: None,
        method: "POST",
    };
    let out = crate::providers::structured::sign(&spec, b"wsec_elevenlabs", &req).unwrap();
    // The first key names what it writes: `v1` here, `v0` in the vector.
    let expected =
        "t=1700000000,v1=770e9c48dbec2eacd51d65b8c2f2609da969836e3be4cc32d30d5a2537a03d4d";
    assert_eq!(out[0].1, expected);
}

// Paddle's vector (see vectors.rs) with `pair_separator = ";"` over
// `{timestamp}:{body}`: with the default `,` the whole header is one pair.
#[test]
fn pair_separator_reproduces_the_paddle_vector() {
    let s = secrets(&["pdl_ntfset_01hexample_secretkey"]);
    let h = headers(&[(
        "paddle-signature",
        &b"ts=1700000000;h1=ed4aec8fb5f05078e10c47b8c7702f14659da2e09d244cc6d0450b4d6c1456b6"[..],
    )]);
    let body = br#"{"event_id":"evt_01","event_type":"transaction.completed"}"#;
    let cfg = |sep| {
        pairs(
            "paddle-signature",
            &["h1"],
            Some("ts"),
            sep,
            "{timestamp}:{body}",
        )
    };
    let v = build_with("hmac", &s, None, Some(&cfg(Some(b';')))).unwrap();
    assert_eq!(kind(&run(&v, &h, body, 1_700_000_003)), "ok");
    let v = build_with("hmac", &s, None, Some(&cfg(None))).unwrap();
    assert_ne!(kind(&run(&v, &h, body, 1_700_000_003)), "ok");
}

#[test]
fn k_v_options_that_would_be_ignored_are_refused() {
    let s = secrets(&[G_SECRET]);
    let field = |cfg: GenericHmac| {
        build_with("hmac", &s, None, Some(&cfg))
            .err()
            .map(|e| e.field)
    };
    let base = || pairs("x-s", &["v1"], Some("t"), None, "{timestamp}.{body}");
    let with = |f: fn(&mut GenericHmac)| {
        let mut c = base();
        f(&mut c);
        c
    };
    assert_eq!(
        field(with(|c| c.prefix = Some("v1=".into()))).as_deref(),
        Some("hmac.prefix")
    );
    assert_eq!(
        field(with(|c| c.timestamp_header = Some("x-t".into()))).as_deref(),
        Some("hmac.timestamp_header")
    );
    assert_eq!(
        field(with(|c| c.signed = "{body}".into())).as_deref(),
        Some("hmac.signed")
    );
    assert_eq!(
        field(with(|c| c.signed = "{method}.{timestamp}.{body}".into())).as_deref(),
        Some("hmac.signed")
    );
    // The k=v scheme signs neither an id nor the secret (it is an HMAC).
    for signed in ["{timestamp}.{id}.{body}", "{timestamp}.{secret}.{body}"] {
        let mut c = base();
        c.signed = signed.into();
        assert_eq!(field(c).as_deref(), Some("hmac.signed"), "{signed}");
    }
    let mut no_keys = base();
    no_keys.signature_keys.clear();
    assert_eq!(field(no_keys).as_deref(), Some("hmac.timestamp_key"));
}
