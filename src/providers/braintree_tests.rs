//! Braintree vectors: an SDK-generated sample notification (braintree PyPI
//! 4.48.0 `WebhookTesting.sample_notification`, keys `public_key` /
//! `private_key`, accepted by the SDK's `parse`), the SDK's published
//! challenge answer and HMAC test (`tests/unit/test_webhooks.py`,
//! `tests/unit/test_crypto.py`), run in every framing by `testutil::run`.

use http::{Method, Uri};

use super::super::testutil::{build_with, headers, inbound, kind, run, secrets, verifier, Garbage};
use super::*;

const SAMPLE_PAIR: &str = "public_key:private_key";
const SAMPLE_SIG: &str = "public_key|95006991fd726c0af3e838539ba679e4b9052860";
const SAMPLE_PAYLOAD: &str = "CiAgICAgICAgICAgIDxub3RpZmljYXRpb24+CiAgICAgICAgICAgICAgICA8dGltZXN0YW1wIHR5\ncGU9ImRhdGV0aW1lIj4yMDI2LTEyLTA2VDEwOjAxOjQ0WjwvdGltZXN0YW1wPgogICAgICAgICAg\nICAgICAgPGtpbmQ+Y2hlY2s8L2tpbmQ+CiAgICAgICAgICAgICAgICAKICAgICAgICAgICAgICAg\nIDxzdWJqZWN0PgogICAgICAgICAgICA8Y2hlY2sgdHlwZT0iYm9vbGVhbiI+CiAgICAgICAgICAg\nICAgdHJ1ZQogICAgICAgICAgICA8L2NoZWNrPgogICAgICAgIDwvc3ViamVjdD4KICAgICAgICAg\nICAgPC9ub3RpZmljYXRpb24+CiAgICAgICAg\n";

fn form(signature: &str, payload: &str) -> Vec<u8> {
    form_urlencoded::Serializer::new(String::new())
        .append_pair("bt_signature", signature)
        .append_pair("bt_payload", payload)
        .finish()
        .into_bytes()
}

#[test]
fn sdk_sample_verifies_with_and_without_the_trailing_newline() {
    let v = verifier("braintree", &secrets(&[SAMPLE_PAIR]));
    let h = headers(&[]);
    let ok = run(&v, &h, &form(SAMPLE_SIG, SAMPLE_PAYLOAD), 0).unwrap();
    assert_eq!(ok.secret_index, 0);
    // The SDK also accepts the payload without its final newline
    // (test_parse_retries_payload_with_a_newline); same replay key.
    let trimmed = run(&v, &h, &form(SAMPLE_SIG, SAMPLE_PAYLOAD.trim_end()), 0).unwrap();
    assert_eq!(trimmed.dedup, ok.dedup);
    // Tampered payload, wrong key pair, other public key.
    let bad = format!("QQ{SAMPLE_PAYLOAD}");
    assert_eq!(kind(&run(&v, &h, &form(SAMPLE_SIG, &bad), 0)), "invalid");
    let other = verifier("braintree", &secrets(&["public_key:other_private"]));
    assert_eq!(
        kind(&run(&other, &h, &form(SAMPLE_SIG, SAMPLE_PAYLOAD), 0)),
        "invalid"
    );
    let named = verifier("braintree", &secrets(&["someone_else:private_key"]));
    let err = run(&named, &h, &form(SAMPLE_SIG, SAMPLE_PAYLOAD), 0).unwrap_err();
    assert!(err.detail().contains("names none"), "{}", err.detail());
}

#[test]
fn the_pair_of_our_public_key_is_the_one_checked() {
    let v = verifier("braintree", &secrets(&["old_key:retired", SAMPLE_PAIR]));
    let h = headers(&[]);
    let listed = format!("other|{}&{SAMPLE_SIG}", "0".repeat(40));
    let ok = run(&v, &h, &form(&listed, SAMPLE_PAYLOAD), 0).unwrap();
    assert_eq!(ok.secret_index, 1);
    // The SDK reads the first pair of a public key only.
    let shadowed = format!("public_key|{}&{SAMPLE_SIG}", "0".repeat(40));
    assert_eq!(
        kind(&run(&v, &h, &form(&shadowed, SAMPLE_PAYLOAD), 0)),
        "invalid"
    );
    let too_many = vec!["x|y"; MAX_PAIRS + 1].join("&");
    assert_eq!(
        kind(&run(&v, &h, &form(&too_many, SAMPLE_PAYLOAD), 0)),
        "invalid"
    );
}

#[test]
fn malformed_forms_are_refused() {
    let v = verifier("braintree", &secrets(&[SAMPLE_PAIR]));
    let h = headers(&[]);
    // The SDK's charset rule (test_invalid_signature_when_bontains_invalid_characters).
    assert_eq!(
        kind(&run(&v, &h, &form(SAMPLE_SIG, "~* invalid! *~"), 0)),
        "invalid"
    );
    let spaced = SAMPLE_PAYLOAD.replacen('\n', "\r\n", 1);
    assert_eq!(kind(&run(&v, &h, &form(SAMPLE_SIG, &spaced), 0)), "invalid");
    let only_payload = form(SAMPLE_SIG, SAMPLE_PAYLOAD)
        .split(|b| *b == b'&')
        .nth(1)
        .unwrap()
        .to_vec();
    assert_eq!(kind(&run(&v, &h, &only_payload, 0)), "missing");
    assert_eq!(kind(&run(&v, &h, b"bt_signature=a%7Cb", 0)), "missing");
    let mut twice = form(SAMPLE_SIG, SAMPLE_PAYLOAD);
    twice.extend_from_slice(b"&bt_payload=QUJD");
    assert_eq!(kind(&run(&v, &h, &twice, 0)), "invalid");
    assert_eq!(
        kind(&run(&v, &h, &form("public_key|zz", SAMPLE_PAYLOAD), 0)),
        "invalid"
    );
}

#[test]
fn secrets_are_key_pairs_named_by_entry() {
    for bad in ["no-colon", ":private", "public:", "pub|lic:private"] {
        let e = build_with("braintree", &secrets(&[SAMPLE_PAIR, bad]), None, None)
            .err()
            .unwrap();
        assert_eq!(e.field, "secrets[1]", "{bad}");
    }
}

fn challenge(
    v: &SharedVerifier,
    method: Method,
    path: &str,
) -> Option<Result<HandshakeReply, Rejection>> {
    let uri: Uri = path.parse().unwrap();
    let map = headers(&[]);
    v.challenge(&inbound(&method, &uri, &map))
}

use super::super::SharedVerifier;

#[test]
fn sdk_challenge_vector() {
    // test_verify_returns_a_correct_challenge_response, with the SDK's
    // test configuration's key pair.
    let v = verifier(
        "braintree",
        &secrets(&["integration_public_key:integration_private_key"]),
    );
    let got = challenge(
        &v,
        Method::GET,
        "/bt?bt_challenge=20f9f8ed05f77439fe955c977e4c8a53",
    )
    .unwrap()
    .unwrap();
    assert_eq!((got.status, got.content_type), (200, "text/plain"));
    assert_eq!(
        got.body,
        b"integration_public_key|d9b899556c966b3f06945ec21311865d35df3ce4"
    );
    assert!(challenge(
        &v,
        Method::POST,
        "/bt?bt_challenge=20f9f8ed05f77439fe955c977e4c8a53"
    )
    .is_none());
    for bad in [
        "/bt",
        "/bt?bt_challenge=bad%20challenge",
        "/bt?bt_challenge=20F9F8ED05F77439FE95",
        "/bt?bt_challenge=abc",
    ] {
        assert!(challenge(&v, Method::GET, bad).unwrap().is_err(), "{bad}");
    }
}

#[test]
fn a_challenge_answer_is_no_payload_signature() {
    let v = verifier("braintree", &secrets(&[SAMPLE_PAIR]));
    let c = "0123456789abcdef0123456789abcdef";
    let answer = challenge(&v, Method::GET, &format!("/bt?bt_challenge={c}"))
        .unwrap()
        .unwrap();
    let signature = String::from_utf8(answer.body).unwrap();
    let err = run(&v, &headers(&[]), &form(&signature, c), 0).unwrap_err();
    assert!(
        err.detail().contains("shape of a bt_challenge"),
        "{}",
        err.detail()
    );
}

#[test]
fn sdk_crypto_vector_and_sign_round_trip() {
    // tests/unit/test_crypto.py test_sha1_hmac_hash.
    let tag = hmac::sign(&derived_key(b"secretKey"), b"hello world");
    assert_eq!(
        hex::encode(tag.as_ref()),
        "d503d7a1a6adba1e6474e9ff2c4167f9dfdf4247"
    );
    let req = SignRequest {
        body: SAMPLE_PAYLOAD.as_bytes(),
        timestamp: 0,
        id: None,
        url: None,
        method: "POST",
    };
    let pairs = sign(SAMPLE_PAIR.as_bytes(), &req).unwrap();
    assert_eq!(
        pairs,
        vec![("bt_signature".to_owned(), SAMPLE_SIG.to_owned())]
    );
    assert_eq!(sign(b"nopair", &req).unwrap_err().field, "secret");
}

/// `bt_signature` for `payload` under [`SAMPLE_PAIR`], as `sign` makes it.
fn signed(payload: &str) -> String {
    let req = SignRequest {
        body: payload.as_bytes(),
        timestamp: 0,
        id: None,
        url: None,
        method: "POST",
    };
    sign(SAMPLE_PAIR.as_bytes(), &req).unwrap().remove(0).1
}

#[test]
fn only_the_challenge_shape_is_refused_as_a_payload() {
    let v = verifier("braintree", &secrets(&[SAMPLE_PAIR]));
    let h = headers(&[]);
    // Challenge-length but not hex, and all hex but longer: both payloads.
    for payload in ["QUJDREVGR0hJSktMTU5PUFFS", &"ab".repeat(20)] {
        let got = run(&v, &h, &form(&signed(payload), payload), 0);
        assert_eq!(kind(&got), "ok", "{payload}");
    }
}

#[test]
fn exactly_max_pairs_are_read() {
    let v = verifier("braintree", &secrets(&[SAMPLE_PAIR]));
    let h = headers(&[]);
    let listed = |others: usize, ours_first: bool| {
        let mut entries = vec![format!("other|{}", "0".repeat(40)); others];
        let at = if ours_first { 0 } else { others };
        entries.insert(at, SAMPLE_SIG.to_owned());
        form(&entries.join("&"), SAMPLE_PAYLOAD)
    };
    // Ours as the last of MAX_PAIRS is read; one more pair refuses the
    // field even with ours first.
    let last = run(&v, &h, &listed(MAX_PAIRS - 1, false), 0);
    assert_eq!(kind(&last), "ok");
    let err = run(&v, &h, &listed(MAX_PAIRS, true), 0).unwrap_err();
    assert!(err.detail().contains("more than 16"), "{}", err.detail());
}

#[test]
fn the_mismatch_counts_the_keys_tried_and_nothing_is_timed() {
    let v = verifier("braintree", &secrets(&[SAMPLE_PAIR]));
    let bad = format!("QQ{SAMPLE_PAYLOAD}");
    let err = run(&v, &headers(&[]), &form(SAMPLE_SIG, &bad), 0).unwrap_err();
    assert!(
        err.detail().contains("(1 public keys tried)"),
        "{}",
        err.detail()
    );
    // No timestamp is signed: no window, and a route tolerance is refused.
    assert!(v.tolerance().is_none());
    let timed = build_with(
        "braintree",
        &secrets(&[SAMPLE_PAIR]),
        Some(std::time::Duration::from_secs(60)),
        None,
    );
    assert_eq!(timed.err().unwrap().field, "tolerance");
    // The legacy challenge is a GET, which the route must let in.
    assert_eq!(v.extra_methods(), &[Method::GET]);
}

#[test]
fn garbage_never_panics() {
    let v = verifier("braintree", &secrets(&[SAMPLE_PAIR]));
    let seed = form(SAMPLE_SIG, SAMPLE_PAYLOAD);
    let mut g = Garbage::new(11);
    for _ in 0..2000 {
        let _ = run(&v, &headers(&[]), &g.value(&seed), 0);
    }
}
