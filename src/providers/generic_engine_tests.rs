//! Tests of the generic `hmac` provider's digest options (`algorithm =
//! "md5"`), each against a vector computed outside this code.
use super::super::testutil::{build_with, headers, kind, run, secrets};
use super::super::{HmacAlgorithm, HmacKeyEncoding, SignatureEncoding};
use super::*;

/// `[route.hmac]` with one header over `signed`, hex, no timestamp.
fn config(algorithm: HmacAlgorithm, header: &str, signed: &str) -> GenericHmac {
    GenericHmac {
        algorithm,
        header: header.into(),
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
    let req = super::super::SignRequest {
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
