//! Tests of the generic `hmac` provider's digest options (`algorithm =
//! "md5"`, `mode = "hash"`), its signature headers and its `{form}`
//! placeholder, each against a vector from outside this code.
use super::super::testutil::{build_with, headers, kind, run, secrets};
use super::super::{
    HmacAlgorithm, HmacKeyEncoding, HmacMode, Inbound, SignRequest, SignatureEncoding,
};
use super::*;

/// `[route.hmac]` with one header over `signed`, hex, no timestamp.
fn config(algorithm: HmacAlgorithm, header: &str, signed: &str) -> GenericHmac {
    GenericHmac {
        algorithm,
        header: header.into(),
        fallback_headers: Vec::new(),
        prefix: None,
        encoding: SignatureEncoding::Hex,
        timestamp_header: None,
        timestamp_format: None,
        id_header: None,
        signed: signed.into(),
        key_encoding: HmacKeyEncoding::Utf8,
        key_prefix: None,
        signature_keys: Vec::new(),
        timestamp_key: None,
        pair_separator: None,
        mode: crate::providers::HmacMode::Hmac,
    }
}

const BODY: &[u8] = br#"{"event":"payment.succeeded","id":42}"#;

#[test]
fn md5_verifies_an_openssl_hmac_md5_and_nothing_else() {
    // `printf '%s' "$BODY" | openssl dgst -md5 -hmac generic_secret`
    let sig = b"1e9bfdc1068d64283b0886cf531428b7";
    let h = headers(&[("x-sig", sig)]);
    let md5 = config(HmacAlgorithm::Md5, "x-sig", "{body}");
    let v = build_with("hmac", &secrets(&["generic_secret"]), None, Some(&md5)).unwrap();
    assert_eq!(kind(&run(&v, &h, BODY, 0)), "ok");
    assert_eq!(kind(&run(&v, &h, b"{}", 0)), "invalid");
    let wrong = build_with("hmac", &secrets(&["other"]), None, Some(&md5)).unwrap();
    assert_eq!(kind(&run(&wrong, &h, BODY, 0)), "invalid");
    // A 16-byte tag is the wrong length for every other digest: the
    // option cannot be ignored without this vector failing.
    let sha1 = config(HmacAlgorithm::Sha1, "x-sig", "{body}");
    let v = build_with("hmac", &secrets(&["generic_secret"]), None, Some(&sha1)).unwrap();
    let detail = format!("{:?}", run(&v, &h, BODY, 0));
    assert!(
        detail.contains("expected 40 hex characters, got 32"),
        "{detail}"
    );
}

#[test]
fn md5_signs_what_it_verifies() {
    let md5 = config(HmacAlgorithm::Md5, "x-sig", "{body}");
    let req = SignRequest {
        body: BODY,
        timestamp: 0,
        id: None,
        method: "POST",
        url: None,
    };
    let out = super::super::sign_generic(&md5, b"generic_secret", &req).unwrap();
    assert_eq!(
        out,
        vec![("x-sig".into(), "1e9bfdc1068d64283b0886cf531428b7".into())]
    );
}

/// Cloudinary's notification check as `[route.hmac]`: SHA-1 of body,
/// timestamp and secret run together.
fn cloudinary() -> GenericHmac {
    GenericHmac {
        mode: HmacMode::Hash,
        algorithm: HmacAlgorithm::Sha1,
        timestamp_header: Some("x-cld-timestamp".into()),
        timestamp_format: Some(HmacTimestampFormat::Unix),
        ..config(
            HmacAlgorithm::Sha1,
            "x-cld-signature",
            "{body}{timestamp}{secret}",
        )
    }
}

/// pycloudinary test/test_utils.py `test_verify_notification_signature`.
const CLD_SECRET: &str = "X7qLTrsES31MzxxkxPPA-pAGGfU";
const CLD_BODY: &[u8] = br#"{"notification_type":"eager","eager":[{"transformation":"sp_full_hd/mp4","bytes":1055,"url":"http://res.cloudinary.com/demo/video/upload/sp_full_hd/v1533125278/dog.mp4","secure_url":"https://res.cloudinary.com/demo/video/upload/sp_full_hd/v1533125278/dog.mp4"}],"public_id":"dog","batch_id":"9b11fa058c61fa577f4ec516bf6ee756ac2aefef095af99aef1302142cc1694a"}"#;
const CLD_SIG: &[u8] = b"dfe82de1d9083fe0b7ea68070649f9a15b8874da";
const CLD_TS: i64 = 1_549_533_514;

#[test]
fn hash_mode_verifies_cloudinarys_published_vector_in_its_window() {
    let v = build_with("hmac", &secrets(&[CLD_SECRET]), None, Some(&cloudinary())).unwrap();
    let h = headers(&[
        ("x-cld-signature", CLD_SIG),
        ("x-cld-timestamp", b"1549533514"),
    ]);
    assert_eq!(kind(&run(&v, &h, CLD_BODY, CLD_TS + 60)), "ok");
    assert_eq!(kind(&run(&v, &h, b"{}", CLD_TS)), "invalid");
    let other = build_with("hmac", &secrets(&["other"]), None, Some(&cloudinary())).unwrap();
    assert_eq!(kind(&run(&other, &h, CLD_BODY, CLD_TS)), "invalid");
    // The route's window (5 minutes for the generic scheme), both ways.
    assert_eq!(kind(&run(&v, &h, CLD_BODY, CLD_TS + 301)), "timestamp");
    assert_eq!(kind(&run(&v, &h, CLD_BODY, CLD_TS - 301)), "timestamp");
}

#[test]
fn hash_mode_signs_what_cloudinary_publishes() {
    let req = SignRequest {
        body: CLD_BODY,
        timestamp: CLD_TS,
        id: None,
        method: "POST",
        url: None,
    };
    let out = super::super::sign_generic(&cloudinary(), CLD_SECRET.as_bytes(), &req).unwrap();
    let sig = String::from_utf8(CLD_SIG.to_vec()).unwrap();
    assert_eq!(
        out,
        vec![
            ("x-cld-signature".into(), sig),
            ("x-cld-timestamp".into(), CLD_TS.to_string())
        ]
    );
}

#[test]
fn hash_mode_with_the_secret_first_and_sha256() {
    // The documented recipe of Recharge's X-Recharge-Hmac-Sha256, as a
    // generic route: python3 hashlib.sha256(secret + body).hexdigest().
    let cfg = GenericHmac {
        mode: HmacMode::Hash,
        ..config(
            HmacAlgorithm::Sha256,
            "x-recharge-hmac-sha256",
            "{secret}{body}",
        )
    };
    let v = build_with(
        "hmac",
        &secrets(&["recharge_client_secret"]),
        None,
        Some(&cfg),
    )
    .unwrap();
    let sig = b"5270be4c202028d7cc2950e7f686dc4517981c3c1d050b028c75c532c777dcf2";
    let h = headers(&[("x-recharge-hmac-sha256", sig)]);
    let body = br#"{"subscription":{"id":1}}"#;
    assert_eq!(kind(&run(&v, &h, body, 0)), "ok");
    assert_eq!(kind(&run(&v, &h, b"{}", 0)), "invalid");
    // Ignoring the mode (an HMAC keyed with the secret) would not verify it.
    let hmac = config(HmacAlgorithm::Sha256, "x-recharge-hmac-sha256", "{body}");
    let v = build_with(
        "hmac",
        &secrets(&["recharge_client_secret"]),
        None,
        Some(&hmac),
    )
    .unwrap();
    assert_eq!(kind(&run(&v, &h, body, 0)), "invalid");
}

#[test]
fn a_leading_zero_cannot_move_a_digit_between_body_and_timestamp() {
    // Body "n=10" at time T and body "n=1" at time "0T" are the same bytes
    // before the secret: without the rule, the second would verify.
    let cfg = GenericHmac {
        signed: "{body}{timestamp}{secret}".into(),
        ..cloudinary()
    };
    let req = SignRequest {
        body: b"n=10",
        timestamp: CLD_TS,
        id: None,
        method: "POST",
        url: None,
    };
    let signed = super::super::sign_generic(&cfg, b"s3cret", &req).unwrap();
    let sig = signed[0].1.as_bytes();
    let v = build_with("hmac", &secrets(&["s3cret"]), None, Some(&cfg)).unwrap();
    let genuine = headers(&[("x-cld-signature", sig), ("x-cld-timestamp", b"1549533514")]);
    assert_eq!(kind(&run(&v, &genuine, b"n=10", CLD_TS)), "ok");
    let shifted = headers(&[
        ("x-cld-signature", sig),
        ("x-cld-timestamp", b"01549533514"),
    ]);
    let r = run(&v, &shifted, b"n=1", CLD_TS);
    assert!(format!("{r:?}").contains("leading zero"), "{r:?}");
}

#[test]
fn the_secret_is_placed_once_and_only_in_hash_mode() {
    let refused = |cfg: GenericHmac| match generic_scheme(Some(&cfg)) {
        Ok(_) => panic!("accepted: {cfg:?}"),
        Err(e) => format!("{}: {}", e.field, e.message),
    };
    let hmac = config(HmacAlgorithm::Sha256, "x-sig", "{secret}.{body}");
    assert!(refused(hmac).contains("{secret} is only for mode = \"hash\""));
    let bare = GenericHmac {
        mode: HmacMode::Hash,
        ..config(HmacAlgorithm::Sha256, "x-sig", "{body}")
    };
    assert!(refused(bare).contains("needs {secret}"));
    let twice = GenericHmac {
        mode: HmacMode::Hash,
        ..config(HmacAlgorithm::Sha256, "x-sig", "{secret}.{body}.{secret}")
    };
    assert!(refused(twice).contains("exactly once"));
    // {body}{timestamp} only for a timestamp stated as digits.
    let unstated = GenericHmac {
        timestamp_format: None,
        ..cloudinary()
    };
    assert!(refused(unstated).contains("no separator"));
    // The k=v scheme is an HMAC.
    let pairs = GenericHmac {
        mode: HmacMode::Hash,
        signature_keys: vec!["v1".into()],
        ..config(HmacAlgorithm::Sha256, "x-sig", "{secret}{body}")
    };
    assert!(refused(pairs).starts_with("hmac.mode: "));
}

/// Gitea's `X-Gitea-Signature` and Gogs' `X-Gogs-Signature` (a Gitea
/// server sends both, a Gogs server the second only), tried in order.
fn gitea_or_gogs() -> GenericHmac {
    GenericHmac {
        fallback_headers: vec!["x-gogs-signature".into()],
        ..config(HmacAlgorithm::Sha256, "x-gitea-signature", "{body}")
    }
}

/// Python `hmac.new(b"gitea_secret", body, hashlib.sha256).hexdigest()`
/// (go-gitea/gitea services/webhook/deliver.go signs the body so).
const GITEA_SIG: &[u8] = b"d843a05f58b935be5e6c796adccf9bb5071951f049aea8f3d86ac97d4820001c";
const GITEA_BODY: &[u8] = br#"{"ref":"refs/heads/main"}"#;

#[test]
fn the_first_present_signature_header_is_the_one_verified() {
    let v = build_with(
        "hmac",
        &secrets(&["gitea_secret"]),
        None,
        Some(&gitea_or_gogs()),
    )
    .unwrap();
    let check = |pairs: &[(&str, &[u8])]| kind(&run(&v, &headers(pairs), GITEA_BODY, 0));
    assert_eq!(check(&[("x-gitea-signature", GITEA_SIG)]), "ok");
    assert_eq!(check(&[("x-gogs-signature", GITEA_SIG)]), "ok");
    assert_eq!(
        check(&[
            ("x-gitea-signature", GITEA_SIG),
            ("x-gogs-signature", GITEA_SIG)
        ]),
        "ok"
    );
    // A present first header is used, right or wrong: no falling through.
    let wrong = &[b'0'; 64][..];
    assert_eq!(
        check(&[
            ("x-gitea-signature", wrong),
            ("x-gogs-signature", GITEA_SIG)
        ]),
        "invalid"
    );
    assert_eq!(
        check(&[
            ("x-gitea-signature", b"zz"),
            ("x-gogs-signature", GITEA_SIG)
        ]),
        "invalid"
    );
    assert_eq!(
        check(&[("x-gitea-signature", b""), ("x-gogs-signature", GITEA_SIG)]),
        "missing"
    );
    let none = run(&v, &headers(&[]), GITEA_BODY, 0);
    assert!(
        format!("{none:?}").contains("x-gitea-signature, x-gogs-signature"),
        "{none:?}"
    );
    // With the first header only, a Gogs delivery is missing its signature.
    let one = config(HmacAlgorithm::Sha256, "x-gitea-signature", "{body}");
    let v = build_with("hmac", &secrets(&["gitea_secret"]), None, Some(&one)).unwrap();
    let gogs = headers(&[("x-gogs-signature", GITEA_SIG)]);
    assert_eq!(kind(&run(&v, &gogs, GITEA_BODY, 0)), "missing");
}

#[test]
fn several_headers_are_for_one_signature_per_header_only() {
    let pairs = GenericHmac {
        signature_keys: vec!["v1".into()],
        ..gitea_or_gogs()
    };
    let e = generic_scheme(Some(&pairs)).err().unwrap();
    assert_eq!(e.field, "hmac.headers");
}

/// Twilio's request layout as an engine configuration: HMAC-SHA1 over the
/// URL and the sorted form fields, base64.
fn twilio_like() -> GenericHmac {
    GenericHmac {
        encoding: SignatureEncoding::Base64,
        ..config(HmacAlgorithm::Sha1, "x-twilio-signature", "{url}{form}")
    }
}

/// twilio-python's published test request (tests/unit/test_request_validator.py).
const TW_URL: &str = "https://mycompany.com/myapp.php?foo=1&bar=2";
const TW_FORM: &[u8] = b"CallSid=CA1234567890ABCDE&Caller=%2B14158675309&Digits=1234&From=%2B14158675309&To=%2B18005551212";
const TW_SIG: &str = "RSOYDt4T1cUTdK1PDd93/VVr8B8=";

#[test]
fn form_fields_sorted_after_the_url_verify_twilios_published_vector() {
    let v = build_with("hmac", &secrets(&["12345"]), None, Some(&twilio_like())).unwrap();
    let h = headers(&[("x-twilio-signature", TW_SIG.as_bytes())]);
    let at = |body: &[u8]| {
        let (method, uri) = (
            http::Method::POST,
            http::Uri::from_static("/myapp.php?foo=1&bar=2"),
        );
        let req = Inbound {
            method: &method,
            uri: &uri,
            headers: &h,
            public_url: TW_URL,
            now_ms: 0,
            key: None,
        };
        v.precheck(&req).and_then(|()| {
            v.verify(
                &req,
                &crate::body::Payload::from(bytes::Bytes::copy_from_slice(body)),
            )
        })
    };
    assert_eq!(kind(&at(TW_FORM)), "ok");
    // The fields in another order, or encoded otherwise, sign the same.
    let shuffled = b"To=%2B18005551212&Digits=1234&CallSid=CA1234567890ABCDE&From=%2B14158675309&Caller=%2B14158675309";
    assert_eq!(kind(&at(shuffled)), "ok");
    let tampered = b"CallSid=CA1234567890ABCDE&Caller=%2B14158675309&Digits=1235&From=%2B14158675309&To=%2B18005551212";
    assert_eq!(kind(&at(tampered)), "invalid");
    // The raw body is not what is signed: with {body} the vector fails.
    let raw = GenericHmac {
        signed: "{url}.{body}".into(),
        ..twilio_like()
    };
    let v = build_with("hmac", &secrets(&["12345"]), None, Some(&raw)).unwrap();
    assert_eq!(kind(&run(&v, &h, TW_FORM, 0)), "invalid");
}

#[test]
fn form_fields_are_signed_as_twilio_signs_them() {
    let req = SignRequest {
        body: TW_FORM,
        timestamp: 0,
        id: None,
        method: "POST",
        url: Some(TW_URL),
    };
    let out = super::super::sign_generic(&twilio_like(), b"12345", &req).unwrap();
    assert_eq!(
        out,
        vec![("x-twilio-signature".to_owned(), TW_SIG.to_owned())]
    );
}

#[test]
fn form_templates_keep_their_values_apart() {
    let refused = |signed: &str| {
        let cfg = GenericHmac {
            signed: signed.into(),
            ..twilio_like()
        };
        build_with("hmac", &secrets(&["s"]), None, Some(&cfg)).err()
    };
    // {url}{form} is Twilio's layout (the URL's end is pinned by the route);
    // any other value next to {form} needs a literal.
    assert!(refused("{url}{form}").is_none());
    assert!(refused("{url}.{form}").is_none());
    for bad in ["{path}{form}", "{form}{url}", "{form}.{body}", "{url}"] {
        assert!(refused(bad).is_some(), "{bad}");
    }
}

#[test]
fn a_query_not_pinned_before_form_fields_is_refused() {
    use super::super::UrlTarget;
    let url_then_form = build_with("hmac", &secrets(&["s"]), None, Some(&twilio_like())).unwrap();
    let dotted = GenericHmac {
        signed: "{url}.{form}".into(),
        ..twilio_like()
    };
    let url_dot_form = build_with("hmac", &secrets(&["s"]), None, Some(&dotted)).unwrap();
    let uri = http::Uri::from_static("/hook?foo=1");
    let target = |configured| UrlTarget {
        configured,
        scheme: "https",
        host: Some("example.com"),
        uri: &uri,
    };
    // No public_url: the query could trade bytes with the first field.
    let r = url_then_form.signed_url(&target(None));
    assert!(format!("{r:?}").contains("ambiguous"), "{r:?}");
    // A public_url without that query: refused too.
    let r = url_then_form.signed_url(&target(Some("https://example.com/hook")));
    assert!(format!("{r:?}").contains("ambiguous"), "{r:?}");
    // Pinned, or with a literal between URL and fields (then checked as
    // any `{url}` before a literal is): the URL stands.
    let pinned = url_then_form.signed_url(&target(Some("https://example.com/hook?foo=1")));
    assert_eq!(pinned.unwrap(), "https://example.com/hook?foo=1");
    let r = url_dot_form.signed_url(&target(None));
    assert_eq!(r.unwrap(), "https://example.com/hook?foo=1");
}
