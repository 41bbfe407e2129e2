//! Dropbox Sign's published vectors (dropbox-sign-python
//! `test_fixtures/EventCallbackHelper_*Callbacks.json` and
//! `examples/EventCallbackExample.py`, API key of `tests/test_event_callback_helper.py`),
//! inside the multipart body Dropbox Sign posts, run in every framing.

use super::super::testutil::{
    build_with, headers, kind, precheck_at, run, secrets, verifier, Garbage,
};
use super::*;

const API_KEY: &str = "324e3b0840f065eb51f3fd63231d0d33daa35d4ed10d27718839e81737065782";
const BOUNDARY: &str = "------------------------c2f3a4b5d6e7f809";
const CONTENT_TYPE_VALUE: &str =
    "multipart/form-data; boundary=------------------------c2f3a4b5d6e7f809";

/// The fixture `base`: event time, type and published hash.
const BASE: (&str, &str, &str) = (
    "1348177752",
    "unknown_error",
    "c574f5d3090c2936360b4e36cf6835cf3e2206b84fdc6347e6b28ca721ae1371",
);

fn event_json(time: &str, kind: &str, hash: &str) -> String {
    format!(
        r#"{{"account_guid":"63522885f9261e2b04eea043933ee7313eb674fd","event":{{"event_time":"{time}","event_type":"{kind}","event_hash":"{hash}","event_metadata":{{"related_signature_id":"ad4d8a769b555fa5ef38691465d426682bf2c992","reported_for_account_id":"63522885f9261e2b04eea043933ee7313eb674fd"}}}}}}"#
    )
}

/// A multipart body with `fields` (name, value), as curl or Dropbox Sign
/// writes it.
fn multipart(fields: &[(&str, &str)]) -> Vec<u8> {
    let mut out = String::new();
    for (name, value) in fields {
        out.push_str(&format!(
            "--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n"
        ));
    }
    out.push_str(&format!("--{BOUNDARY}--\r\n"));
    out.into_bytes()
}

fn ct() -> http::HeaderMap {
    headers(&[("content-type", CONTENT_TYPE_VALUE.as_bytes())])
}

fn at(time: &str) -> i64 {
    time.parse().unwrap()
}

#[test]
fn sdk_fixtures_verify_in_the_multipart_body() {
    let v = verifier("dropbox-sign", &secrets(&[API_KEY]));
    for (time, kind, hash) in [
        BASE,
        (
            "1348177752",
            "account_confirmed",
            "6dc5b7aad93cf54915e0089d6c31d61b3833f66f51459171c69f8fa211308848",
        ),
        (
            "1348177752",
            "signature_request_sent",
            "08d45a6b7677492b78be030cef18cfeaece8fe67e163cc8e526ee638ad483756",
        ),
        (
            "1669926463",
            "account_confirmed",
            "ff8b03439122f9160500c3fb855bdee5a9ccba5fff27d3b258745d8f3074832f",
        ),
    ] {
        let body = multipart(&[("json", &event_json(time, kind, hash))]);
        let ok = run(&v, &ct(), &body, at(time)).unwrap();
        assert!(matches!(ok.dedup, Dedup::Signature(ref s) if s.len() == 32));
        // The SDK test's reversed key fails.
        let rev: String = API_KEY.chars().rev().collect();
        let other = verifier("dropbox-sign", &secrets(&[&rev]));
        assert_eq!(kind_of(&run(&other, &ct(), &body, at(time))), "invalid");
    }
}

fn kind_of(r: &Result<Verified, Rejection>) -> &'static str {
    kind(r)
}

#[test]
fn signed_fields_and_window_matter_the_rest_does_not() {
    let v = verifier("dropbox-sign", &secrets(&[API_KEY]));
    let (time, kind, hash) = BASE;
    let now = at(time);
    let good = event_json(time, kind, hash);
    let other_type = multipart(&[("json", &event_json(time, "account_confirmed", hash))]);
    assert_eq!(kind_of(&run(&v, &ct(), &other_type, now)), "invalid");
    let other_time = multipart(&[("json", &event_json("1348177753", kind, hash))]);
    assert_eq!(kind_of(&run(&v, &ct(), &other_time, now)), "invalid");
    // Not covered by the signature: other members, other fields.
    let metadata = multipart(&[("json", &good.replace("ad4d8a76", "00000000")), ("x", "y")]);
    assert!(run(&v, &ct(), &metadata, now).is_ok());
    // Both ways out of the window.
    let body = multipart(&[("json", &good)]);
    assert_eq!(kind_of(&run(&v, &ct(), &body, now + 301)), "timestamp");
    assert_eq!(kind_of(&run(&v, &ct(), &body, now - 301)), "timestamp");
    let wide = build_with(
        "dropbox-sign",
        &secrets(&[API_KEY]),
        Some(Duration::from_secs(600)),
        None,
    )
    .unwrap();
    assert!(run(&wide, &ct(), &body, now + 400).is_ok());
}

#[test]
fn malformed_requests_are_refused() {
    let v = verifier("dropbox-sign", &secrets(&[API_KEY]));
    let (time, kind, hash) = BASE;
    let now = at(time);
    let good = event_json(time, kind, hash);
    let body = multipart(&[("json", &good)]);
    // Not multipart, or no boundary.
    assert_eq!(kind_of(&run(&v, &headers(&[]), &body, now)), "missing");
    let json_ct = headers(&[("content-type", b"application/json")]);
    assert_eq!(kind_of(&run(&v, &json_ct, good.as_bytes(), now)), "missing");
    let two = headers(&[
        ("content-type", CONTENT_TYPE_VALUE.as_bytes()),
        ("content-type", CONTENT_TYPE_VALUE.as_bytes()),
    ]);
    assert_eq!(kind_of(&run(&v, &two, &body, now)), "invalid");
    // No json field, twice the json field, a truncated body.
    assert_eq!(
        kind_of(&run(&v, &ct(), &multipart(&[("x", "y")]), now)),
        "missing"
    );
    let twice = multipart(&[("json", &good), ("json", &good)]);
    assert_eq!(kind_of(&run(&v, &ct(), &twice, now)), "invalid");
    assert_eq!(
        kind_of(&run(&v, &ct(), &body[..body.len() / 2], now)),
        "invalid"
    );
    // A repeated signed member inside the event.
    let dup = good.replacen(
        r#""event_type":"unknown_error""#,
        r#""event_type":"account_confirmed","event_type":"unknown_error""#,
        1,
    );
    assert_eq!(
        kind_of(&run(&v, &ct(), &multipart(&[("json", &dup)]), now)),
        "invalid"
    );
    let no_hash = event_json(time, kind, "");
    assert_eq!(
        kind_of(&run(&v, &ct(), &multipart(&[("json", &no_hash)]), now)),
        "missing"
    );
    let no_event = multipart(&[("json", r#"{"account_guid":"x"}"#)]);
    assert_eq!(kind_of(&run(&v, &ct(), &no_event, now)), "missing");
    let numeric = good.replace(r#""event_time":"1348177752""#, r#""event_time":1348177752"#);
    assert!(run(&v, &ct(), &multipart(&[("json", &numeric)]), now).is_ok());
    // A number that is not Unix seconds is refused, even signed as its text.
    let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, API_KEY.as_bytes());
    for number in ["-1", "1348177752.5"] {
        let tag = ring::hmac::sign(&key, format!("{number}{kind}").as_bytes());
        let json = event_json(time, kind, &hex::encode(tag.as_ref())).replace(
            r#""event_time":"1348177752""#,
            &format!(r#""event_time":{number}"#),
        );
        let got = run(&v, &ct(), &multipart(&[("json", &json)]), now).unwrap_err();
        assert!(
            got.detail().contains("not Unix seconds"),
            "{number}: {got:?}"
        );
    }
}

/// The head is checked before the body is read; the window and the answer
/// Dropbox Sign requires are what the route states.
#[test]
fn precheck_window_and_acknowledgement() {
    let v = verifier("dropbox-sign", &secrets(&[API_KEY]));
    let now = at(BASE.0);
    let code = precheck_at(&v, &headers(&[]), now).map_err(|e| e.code());
    assert_eq!(code, Err("missing_signature"));
    assert!(precheck_at(&v, &ct(), now).is_ok());
    assert_eq!(v.tolerance(), Some(Duration::from_secs(300)));
    assert_eq!(v.acknowledgement(), Some("Hello API Event Received"));
}

#[test]
fn sign_round_trips() {
    let (time, kind, _) = BASE;
    let json = event_json(time, kind, "");
    let req = SignRequest {
        body: json.as_bytes(),
        timestamp: 0,
        id: None,
        url: None,
        method: "POST",
    };
    let pairs = sign(API_KEY.as_bytes(), &req).unwrap();
    assert_eq!(
        pairs,
        vec![("event.event_hash".to_owned(), BASE.2.to_owned())]
    );
    let no_event = SignRequest { body: b"{}", ..req };
    assert_eq!(
        sign(API_KEY.as_bytes(), &no_event).unwrap_err().field,
        "body"
    );
}

#[test]
fn garbage_never_panics() {
    let v = verifier("dropbox-sign", &secrets(&[API_KEY]));
    let (time, kind, hash) = BASE;
    let seed = multipart(&[("json", &event_json(time, kind, hash))]);
    let mut g = Garbage::new(13);
    for _ in 0..2000 {
        let _ = run(&v, &ct(), &g.value(&seed), at(time));
    }
}
