//! `hookguard sign` and `verify` for the schemes that sign inside the body:
//! `sign` prints the body fields to set, `verify` reads them from the body.

use super::{hookguard, text};

const ADYEN_KEY: &str = "44782DEF547AAA06C910C43932B1EB0C71FC68D9D0C057550C48EC2ACF6BA056";

/// Adyen's SDK test item (test/UtilTest.py) with `sig` as its signature.
fn adyen_body(sig: &str) -> String {
    format!(
        r#"{{"live":"false","notificationItems":[{{"NotificationRequestItem":{{"pspReference":"7914073381342284","merchantReference":"TestPayment-1407325143704","merchantAccountCode":"TestMerchant","amount":{{"currency":"EUR","value":1130}},"eventCode":"AUTHORISATION","success":"true","additionalData":{{"hmacSignature":"{sig}"}}}}}}]}}"#
    )
}

#[test]
fn adyen_sign_prints_each_items_signature_and_verify_checks_it() {
    let out = hookguard(
        &["sign", "--provider", "adyen", "--secret", ADYEN_KEY],
        adyen_body("").as_bytes(),
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    // The SDK's published signature for this item.
    assert_eq!(
        text(&out.stdout),
        "notificationItems[0].NotificationRequestItem.additionalData.hmacSignature: coqCmt/IZ4E3CzPvMY8zTjQVL5hYJUiBRg8UU+iCWo0=\n"
    );
    let signed = adyen_body("coqCmt/IZ4E3CzPvMY8zTjQVL5hYJUiBRg8UU+iCWo0=");
    let verify = ["verify", "--provider", "adyen", "--secret", ADYEN_KEY];
    let out = hookguard(&verify, signed.as_bytes());
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).starts_with("valid: provider adyen"),
        "{}",
        text(&out.stdout)
    );
    let out = hookguard(&verify, signed.replace("1130", "1131").as_bytes());
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("invalid_signature"),
        "{}",
        text(&out.stderr)
    );
    // A key that is not hex is refused before anything is signed.
    let out = hookguard(
        &["sign", "--provider", "adyen", "--secret", "not-hex"],
        adyen_body("").as_bytes(),
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("--secret"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn braintree_sign_prints_bt_signature_and_verify_reads_the_form() {
    // The SDK-generated sample payload (keys public_key / private_key).
    let payload = "PG5vdGlmaWNhdGlvbj48a2luZD5jaGVjazwva2luZD48L25vdGlmaWNhdGlvbj4=\n";
    let secret = "public_key:private_key";
    let out = hookguard(
        &["sign", "--provider", "braintree", "--secret", secret],
        payload.as_bytes(),
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let line = text(&out.stdout);
    assert_eq!(
        line,
        "bt_signature: public_key|4557d2cf0e437cf7383dcb19f3a2c1836d2d2f06\n"
    );
    let signature = line.trim_end().strip_prefix("bt_signature: ").unwrap();
    let form = |payload: &str| {
        format!(
            "bt_signature={}&bt_payload={}",
            signature.replace('|', "%7C"),
            payload.replace('=', "%3D").replace('\n', "%0A")
        )
    };
    let verify = ["verify", "--provider", "braintree", "--secret", secret];
    let out = hookguard(&verify, form(payload).as_bytes());
    assert!(out.status.success(), "{}", text(&out.stderr));
    let out = hookguard(&verify, form(&payload.replace('P', "Q")).as_bytes());
    assert_eq!(out.status.code(), Some(1));
    let out = hookguard(
        &["sign", "--provider", "braintree", "--secret", "no-pair"],
        payload.as_bytes(),
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("public_key:private_key"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn dropbox_sign_sign_prints_event_hash_and_verify_reads_the_multipart_body() {
    // Dropbox Sign SDK fixture `base` (test_fixtures/EventCallbackHelper_AccountCallbacks.json).
    let key = "324e3b0840f065eb51f3fd63231d0d33daa35d4ed10d27718839e81737065782";
    let event = |hash: &str| {
        format!(
            r#"{{"event":{{"event_time":"{}","event_type":"unknown_error","event_hash":"{hash}"}}}}"#,
            super::common::now_secs()
        )
    };
    let out = hookguard(
        &["sign", "--provider", "dropbox-sign", "--secret", key],
        event("").as_bytes(),
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let line = text(&out.stdout);
    let hash = line.trim_end().strip_prefix("event.event_hash: ").unwrap();
    assert_eq!(hash.len(), 64);
    let body = format!(
        "--b0undary\r\nContent-Disposition: form-data; name=\"json\"\r\n\r\n{}\r\n--b0undary--\r\n",
        event(hash)
    );
    let mut verify = vec!["verify", "--provider", "dropbox-sign", "--secret", key];
    verify.extend(["-H", "Content-Type: multipart/form-data; boundary=b0undary"]);
    let out = hookguard(&verify, body.as_bytes());
    assert!(out.status.success(), "{}", text(&out.stderr));
    let out = hookguard(
        &verify,
        body.replace("unknown_error", "account_confirmed")
            .as_bytes(),
    );
    assert_eq!(out.status.code(), Some(1));
    // The published hash, for the fixture's time.
    let fixture = r#"{"event":{"event_time":"1348177752","event_type":"unknown_error"}}"#;
    let out = hookguard(
        &["sign", "--provider", "dropbox-sign", "--secret", key],
        fixture.as_bytes(),
    );
    assert_eq!(
        text(&out.stdout),
        "event.event_hash: c574f5d3090c2936360b4e36cf6835cf3e2206b84fdc6347e6b28ca721ae1371\n"
    );
}
