//! Adyen's published vectors (adyen-python-api-library `test/UtilTest.py`
//! and its `test/mocks/util/*_notification.json` fixtures), run in every
//! framing by `testutil::run`, and the per-item rules.

use super::super::testutil::{build_with, headers, kind, run, secrets, verifier, Garbage};
use super::*;

/// `test_notification_request_item_hmac`'s key and signature.
const KEY: &str = "44782DEF547AAA06C910C43932B1EB0C71FC68D9D0C057550C48EC2ACF6BA056";
const SIG: &str = "coqCmt/IZ4E3CzPvMY8zTjQVL5hYJUiBRg8UU+iCWo0=";

/// The key of `test_webhooks_with_slashes`.
const SLASH_KEY: &str = "74F490DD33F7327BAECC88B2947C011FC02D014A473AAA33A8EC93E4DC069174";

/// The request item of `test_notification_request_item_hmac`, signed with `sig`.
fn sdk_item(sig: &str) -> String {
    format!(
        r#"{{"NotificationRequestItem":{{"pspReference":"7914073381342284","merchantReference":"TestPayment-1407325143704","merchantAccountCode":"TestMerchant","amount":{{"currency":"EUR","value":1130}},"eventCode":"AUTHORISATION","success":"true","eventDate":"2019-05-06T17:15:34.121+02:00","operations":["CANCEL","CAPTURE","REFUND"],"paymentMethod":"visa","additionalData":{{"hmacSignature":"{sig}"}}}}}}"#
    )
}

fn notification(items: &[String]) -> String {
    format!(
        r#"{{"live":"false","notificationItems":[{}]}}"#,
        items.join(",")
    )
}

/// The signed fields of one slashes fixture (reference as JSON text) and its signature.
fn slash_item(psp: &str, reference_json: &str, sig: &str) -> String {
    format!(
        r#"{{"NotificationRequestItem":{{"additionalData":{{"authCode":"076181","hmacSignature":"{sig}"}},"amount":{{"currency":"EUR","value":1000}},"eventCode":"AUTHORISATION","merchantAccountCode":"AntoniStroinski","merchantReference":{reference_json},"pspReference":"{psp}","success":"true"}}}}"#
    )
}

#[test]
fn sdk_vector_verifies_and_tampering_fails() {
    let v = verifier("adyen", &secrets(&[KEY]));
    let body = notification(&[sdk_item(SIG)]);
    let ok = run(&v, &headers(&[]), body.as_bytes(), 0).unwrap();
    assert_eq!(ok.event_id.as_deref(), Some("7914073381342284"));
    assert!(matches!(ok.dedup, Dedup::Signature(ref d) if d.len() == 32));
    // Each signed field, and the key, matter.
    for (from, to) in [
        ("1130", "1131"),
        ("\"EUR\"", "\"USD\""),
        ("\"true\"", "\"false\""),
        ("TestMerchant", "TestMerchanT"),
        ("AUTHORISATION", "CAPTURE"),
        ("7914073381342284", "7914073381342285"),
    ] {
        let bad = body.replacen(from, to, 1);
        assert_eq!(kind(&run(&v, &headers(&[]), bad.as_bytes(), 0)), "invalid");
    }
    // Unsigned fields are not covered (and need not be).
    let unsigned = body.replace("visa", "mc");
    assert!(run(&v, &headers(&[]), unsigned.as_bytes(), 0).is_ok());
    let other = verifier("adyen", &secrets(&[SLASH_KEY]));
    assert_eq!(
        kind(&run(&other, &headers(&[]), body.as_bytes(), 0)),
        "invalid"
    );
    // The key is hex: lower case works as well as Adyen's upper case.
    let lower = verifier("adyen", &secrets(&[&KEY.to_lowercase()]));
    assert!(run(&lower, &headers(&[]), body.as_bytes(), 0).is_ok());
}

#[test]
fn sdk_slash_fixtures_verify() {
    let v = verifier("adyen", &secrets(&[SLASH_KEY]));
    let cases = [
        (
            "T7FD4VM4D3RZNN82",
            r#""\\\\slashes are fun""#,
            "nIgT81gaB5oJpn2jPXupDq68iRo2wUlBsuYjtYfwKqo=",
        ),
        (
            "M8NB66SBZSGLNK82",
            r#"":slashes are fun""#,
            "2EQYm7YJpKO4EtHSPu55SQTyWf8dkW5u2nD1tJFpViA=",
        ),
        (
            "X3GWNS6KJ8NKGK82",
            r#""//slashes are fun""#,
            "9Z0xdpG9Xi3zcmXv14t/BvMBut77O/Xq9D4CQXSDUi4=",
        ),
        (
            "ZVWN7D3WSMK2WN82",
            r#""\\:/\\/slashes are fun""#,
            "CZErGCNQaSsxbaQfZaJlakqo7KPP+mIa8a+wx3yNs9A=",
        ),
    ];
    let mut all = Vec::new();
    for (psp, reference, sig) in cases {
        let item = slash_item(psp, reference, sig);
        let body = notification(std::slice::from_ref(&item));
        assert!(run(&v, &headers(&[]), body.as_bytes(), 0).is_ok(), "{psp}");
        all.push(item);
    }
    // A batch of all four: each item checked.
    let batch = notification(&all);
    assert_eq!(
        run(&v, &headers(&[]), batch.as_bytes(), 0)
            .unwrap()
            .event_id,
        None
    );
}

#[test]
fn every_item_must_verify() {
    let v = verifier("adyen", &secrets(&[KEY]));
    let good = sdk_item(SIG);
    // A genuine first item does not vouch for an appended second one.
    let forged = sdk_item(SIG).replace("1130", "999999");
    let body = notification(&[good.clone(), forged]);
    let err = run(&v, &headers(&[]), body.as_bytes(), 0).unwrap_err();
    assert_eq!(err.code(), "invalid_signature");
    assert!(err.detail().starts_with("item 1 of 2"), "{}", err.detail());
    let unsigned = good.replace(&format!(r#""hmacSignature":"{SIG}""#), r#""x":"y""#);
    let body = notification(&[good.clone(), unsigned]);
    assert_eq!(kind(&run(&v, &headers(&[]), body.as_bytes(), 0)), "missing");
}

#[test]
fn dedup_ignores_unsigned_fields_and_item_order() {
    let v = verifier("adyen", &secrets(&[SLASH_KEY]));
    let a = slash_item(
        "M8NB66SBZSGLNK82",
        r#"":slashes are fun""#,
        "2EQYm7YJpKO4EtHSPu55SQTyWf8dkW5u2nD1tJFpViA=",
    );
    let b = slash_item(
        "X3GWNS6KJ8NKGK82",
        r#""//slashes are fun""#,
        "9Z0xdpG9Xi3zcmXv14t/BvMBut77O/Xq9D4CQXSDUi4=",
    );
    let key = |body: String| run(&v, &headers(&[]), body.as_bytes(), 0).unwrap().dedup;
    let ab = key(notification(&[a.clone(), b.clone()]));
    assert_eq!(ab, key(notification(&[b.clone(), a.clone()])));
    assert_eq!(
        ab,
        key(notification(&[a.replace("076181", "000000"), b.clone()]))
    );
    assert_ne!(ab, key(notification(std::slice::from_ref(&a))));
}

#[test]
fn malformed_bodies_are_refused() {
    let v = verifier("adyen", &secrets(&[KEY]));
    let h = headers(&[]);
    assert_eq!(kind(&run(&v, &h, b"{oops", 0)), "invalid");
    assert_eq!(kind(&run(&v, &h, b"{}", 0)), "missing");
    assert_eq!(
        kind(&run(&v, &h, br#"{"notificationItems":[]}"#, 0)),
        "missing"
    );
    assert_eq!(
        kind(&run(&v, &h, br#"{"notificationItems":[{}]}"#, 0)),
        "missing"
    );
    // A repeated signed field: the app's parser might read the other copy.
    let twice = notification(&[sdk_item(SIG)]).replacen(
        r#""eventCode":"AUTHORISATION""#,
        r#""eventCode":"CAPTURE","eventCode":"AUTHORISATION""#,
        1,
    );
    assert_eq!(kind(&run(&v, &h, twice.as_bytes(), 0)), "invalid");
    let nested = notification(&[sdk_item(SIG)]).replacen("1130", "[1130]", 1);
    assert_eq!(kind(&run(&v, &h, nested.as_bytes(), 0)), "invalid");
    let hexsig = notification(&[sdk_item(&"ab".repeat(32))]);
    assert_eq!(kind(&run(&v, &h, hexsig.as_bytes(), 0)), "invalid");
    let many = notification(&vec![sdk_item(SIG); MAX_ITEMS + 1]);
    assert_eq!(kind(&run(&v, &h, many.as_bytes(), 0)), "invalid");
    let most = notification(&vec![sdk_item(SIG); MAX_ITEMS]);
    assert_eq!(kind(&run(&v, &h, most.as_bytes(), 0)), "ok");
}

/// Adyen retries an answer without `[accepted]`, so hookguard's own
/// answers carry it; `hookguard providers` says no time is signed.
#[test]
fn answers_accepted_and_lists_no_window() {
    let v = verifier("adyen", &secrets(&[KEY]));
    assert_eq!(v.acknowledgement(), Some("[accepted]"));
    assert_eq!(info("adyen").tolerance, "none");
}

#[test]
fn keys_must_be_hex_and_name_the_entry() {
    let e = build_with("adyen", &secrets(&[KEY, "not-hex"]), None, None)
        .err()
        .unwrap();
    assert_eq!(e.field, "secrets[1]");
    assert!(e.message.contains("hex"), "{}", e.message);
    let e = build_with(
        "adyen",
        &secrets(&[KEY]),
        Some(Duration::from_secs(60)),
        None,
    )
    .err()
    .unwrap();
    assert_eq!(e.field, "tolerance");
}

#[test]
fn sign_round_trips_every_item() {
    let v = verifier("adyen", &secrets(&[SLASH_KEY]));
    let body = notification(&[sdk_item("x"), sdk_item("y")]);
    let req = SignRequest {
        body: body.as_bytes(),
        timestamp: 0,
        id: None,
        url: None,
        method: "POST",
    };
    let pairs = sign(SLASH_KEY.as_bytes(), &req).unwrap();
    assert_eq!(pairs.len(), 2);
    assert_eq!(
        pairs[1].0,
        "notificationItems[1].NotificationRequestItem.additionalData.hmacSignature"
    );
    let signed = notification(&[sdk_item(&pairs[0].1), sdk_item(&pairs[1].1)]);
    assert!(run(&v, &headers(&[]), signed.as_bytes(), 0).is_ok());
    // The SDK's own vector from the SDK's key.
    let pairs = sign(KEY.as_bytes(), &req).unwrap();
    assert_eq!(pairs[0].1, SIG);
    assert_eq!(sign(b"zz", &req).unwrap_err().field, "secret");
    let not_adyen = SignRequest { body: b"{}", ..req };
    assert_eq!(sign(KEY.as_bytes(), &not_adyen).unwrap_err().field, "body");
}

#[test]
fn garbage_never_panics() {
    let v = verifier("adyen", &secrets(&[KEY]));
    let seed = notification(&[sdk_item(SIG)]);
    let mut g = Garbage::new(7);
    for _ in 0..2000 {
        let _ = run(&v, &headers(&[]), &g.value(seed.as_bytes()), 0);
    }
}
