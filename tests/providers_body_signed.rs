//! End-to-end for the providers that sign inside the body (Adyen, Braintree,
//! Dropbox Sign) and Adyen's header form: the real proxy and a real upstream
//! on ephemeral loopback ports. Valid → forwarded byte for byte with
//! `X-Hookguard-Verified`; the same again → duplicate; tampered → 401
//! invalid_signature; unsigned → 401 missing_signature; where a time is
//! signed, 10 minutes either way → 401 timestamp_out_of_tolerance.
//!
//! Requests are signed here with `ring` from the providers' documented
//! recipes (or carry their SDKs' published vectors), sharing no code with
//! `src/providers`.

mod common;

use common::*;

const ADYEN_KEY: &str = "44782DEF547AAA06C910C43932B1EB0C71FC68D9D0C057550C48EC2ACF6BA056";

const CONFIG: &str = r#"
[server]
listen = "127.0.0.1:0"
max_body = "16KiB"
request_timeout = "2s"
shutdown_grace = "3s"

[upstream]
url = "{upstream}"
timeout = "2s"

[[route]]
path = "/adyen"
provider = "adyen"
secrets = ["44782DEF547AAA06C910C43932B1EB0C71FC68D9D0C057550C48EC2ACF6BA056"]

[[route]]
path = "/adyen-banking"
provider = "adyen-banking"
secrets = ["44782DEF547AAA06C910C43932B1EB0C71FC68D9D0C057550C48EC2ACF6BA056"]

[[route]]
path = "/braintree"
provider = "braintree"
secrets = ["public_key:private_key"]

[[route]]
path = "/dropbox-sign"
provider = "dropbox-sign"
secrets = ["324e3b0840f065eb51f3fd63231d0d33daa35d4ed10d27718839e81737065782"]
"#;

const JSON: (&str, &str) = ("content-type", "application/json");

/// Adyen's signed string of one item, signed as Adyen's docs describe:
/// base64 HMAC-SHA256 keyed with the hex-decoded key.
fn adyen_sig(psp: &str, value: u64, event: &str) -> String {
    let signed = format!("{psp}::TestMerchant:ref-{psp}:{value}:EUR:{event}:true");
    b64(&hmac(
        ring::hmac::HMAC_SHA256,
        &hex::decode(ADYEN_KEY).unwrap(),
        &[signed.as_bytes()],
    ))
}

fn adyen_item(psp: &str, value: u64, event: &str, sig: &str) -> String {
    format!(
        r#"{{"NotificationRequestItem":{{"additionalData":{{"hmacSignature":"{sig}"}},"amount":{{"currency":"EUR","value":{value}}},"eventCode":"{event}","eventDate":"2026-12-06T10:00:00+01:00","merchantAccountCode":"TestMerchant","merchantReference":"ref-{psp}","pspReference":"{psp}","success":"true"}}}}"#
    )
}

fn adyen_body(items: &[String]) -> Vec<u8> {
    format!(
        r#"{{"live":"false","notificationItems":[{}]}}"#,
        items.join(",")
    )
    .into_bytes()
}

#[tokio::test]
async fn adyen_checks_every_item_and_forwards_the_body_unchanged() {
    let up = Upstream::start().await;
    let p = proxy(CONFIG, &up).await;
    let item = adyen_item(
        "PSP0001",
        1130,
        "AUTHORISATION",
        &adyen_sig("PSP0001", 1130, "AUTHORISATION"),
    );
    let body = adyen_body(std::slice::from_ref(&item));
    let a = post(&p, "/adyen", &[JSON], &body).await;
    assert_eq!(a.status, 200, "{}", a.text());
    let got = up.received();
    assert_eq!(got[0].headers["x-hookguard-verified"], "adyen");
    assert_eq!(got[0].headers["x-hookguard-event-id"], "PSP0001");
    assert_eq!(&got[0].body[..], &body[..]);

    // A copy, even with an unsigned field changed: duplicate, answered
    // with the `[accepted]` Adyen needs to stop retrying.
    let copy = String::from_utf8(body.clone())
        .unwrap()
        .replace("2026-12-06", "2026-12-07");
    let a = post(&p, "/adyen", &[JSON], copy.as_bytes()).await;
    assert_eq!((a.status.as_u16(), a.text().as_str()), (200, "[accepted]"));

    // A signed field changed: invalid.
    let tampered = String::from_utf8(body.clone())
        .unwrap()
        .replace("1130", "1");
    assert_rejected(
        &post(&p, "/adyen", &[JSON], tampered.as_bytes()).await,
        401,
        "invalid_signature",
    );

    // A forged item appended to a genuine one: the whole request is refused.
    let fresh = adyen_item("PSP0002", 5, "REFUND", &adyen_sig("PSP0002", 5, "REFUND"));
    let forged = adyen_item(
        "PSP0003",
        9_999,
        "REFUND",
        &adyen_sig("PSP0003", 1, "REFUND"),
    );
    let batch = adyen_body(&[fresh.clone(), forged]);
    assert_rejected(
        &post(&p, "/adyen", &[JSON], &batch).await,
        401,
        "invalid_signature",
    );
    let unsigned = adyen_body(&[fresh.clone(), fresh.replace("hmacSignature", "other")]);
    assert_rejected(
        &post(&p, "/adyen", &[JSON], &unsigned).await,
        401,
        "missing_signature",
    );
    assert_rejected(
        &post(
            &p,
            "/adyen",
            &[JSON],
            br#"{"live":"false","notificationItems":[]}"#,
        )
        .await,
        401,
        "missing_signature",
    );

    // Two genuine items: forwarded once.
    let second = adyen_item("PSP0004", 7, "CAPTURE", &adyen_sig("PSP0004", 7, "CAPTURE"));
    let pair = adyen_body(&[fresh, second]);
    assert_eq!(post(&p, "/adyen", &[JSON], &pair).await.status, 200);
    let again = post(&p, "/adyen", &[JSON], &pair).await;
    assert_eq!(again.text(), "[accepted]");
    assert_eq!(up.count(), 2);
}

/// The Adyen SDK's published item vector (test/UtilTest.py), through the proxy.
#[tokio::test]
async fn adyen_sdk_vector_through_proxy() {
    let up = Upstream::start().await;
    let p = proxy(CONFIG, &up).await;
    let body = br#"{"live":"false","notificationItems":[{"NotificationRequestItem":{"pspReference":"7914073381342284","merchantReference":"TestPayment-1407325143704","merchantAccountCode":"TestMerchant","amount":{"currency":"EUR","value":1130},"eventCode":"AUTHORISATION","success":"true","additionalData":{"hmacSignature":"coqCmt/IZ4E3CzPvMY8zTjQVL5hYJUiBRg8UU+iCWo0="}}}]}"#;
    let a = post(&p, "/adyen", &[JSON], body).await;
    assert_eq!(a.status, 200, "{}", a.text());
    assert_eq!(&up.received()[0].body[..], &body[..]);
}

#[tokio::test]
async fn adyen_banking_header_form() {
    let up = Upstream::start().await;
    let p = proxy(CONFIG, &up).await;
    let body = br#"{"type":"balancePlatform.accountHolder.updated","data":{"id":"AH1"}}"#;
    let sig = b64(&hmac(
        ring::hmac::HMAC_SHA256,
        &hex::decode(ADYEN_KEY).unwrap(),
        &[body],
    ));
    let h = [JSON, ("hmacsignature", sig.as_str())];
    let a = post(&p, "/adyen-banking", &h, body).await;
    assert_eq!(a.status, 200, "{}", a.text());
    assert_eq!(
        up.received()[0].headers["x-hookguard-verified"],
        "adyen-banking"
    );
    let a = post(&p, "/adyen-banking", &h, body).await;
    assert_eq!(a.text(), r#"{"status":"duplicate"}"#);
    let a = post(&p, "/adyen-banking", &h, br#"{"type":"x"}"#).await;
    assert_rejected(&a, 401, "invalid_signature");
    let a = post(&p, "/adyen-banking", &[JSON], body).await;
    assert_rejected(&a, 401, "missing_signature");
    assert_eq!(up.count(), 1);
}

// --- Braintree ---

const FORM: (&str, &str) = ("content-type", "application/x-www-form-urlencoded");

/// Braintree's signature of `payload` (its SDK's recipe): `public_key|`
/// hex HMAC-SHA1 keyed with the SHA-1 of the private key.
fn braintree_sig(payload: &str) -> String {
    let key = ring::digest::digest(&ring::digest::SHA1_FOR_LEGACY_USE_ONLY, b"private_key");
    let tag = hmac(
        ring::hmac::HMAC_SHA1_FOR_LEGACY_USE_ONLY,
        key.as_ref(),
        &[payload.as_bytes()],
    );
    format!("public_key|{}", hex::encode(tag))
}

fn braintree_form(signature: &str, payload: &str) -> Vec<u8> {
    form_urlencoded::Serializer::new(String::new())
        .append_pair("bt_signature", signature)
        .append_pair("bt_payload", payload)
        .finish()
        .into_bytes()
}

#[tokio::test]
async fn braintree_form_fields_and_legacy_challenge() {
    let up = Upstream::start().await;
    let p = proxy(CONFIG, &up).await;
    let payload = format!(
        "{}\n",
        b64(b"<notification><kind>check</kind></notification>")
    );
    let body = braintree_form(&braintree_sig(&payload), &payload);
    let a = post(&p, "/braintree", &[FORM], &body).await;
    assert_eq!(a.status, 200, "{}", a.text());
    let got = up.received();
    assert_eq!(got[0].headers["x-hookguard-verified"], "braintree");
    assert_eq!(&got[0].body[..], &body[..]);
    // The same delivery with the payload's final newline dropped (the SDK
    // accepts both): a duplicate.
    let trimmed = braintree_form(&braintree_sig(&payload), payload.trim_end());
    let a = post(&p, "/braintree", &[FORM], &trimmed).await;
    assert_eq!(a.text(), r#"{"status":"duplicate"}"#);

    let other = format!(
        "{}\n",
        b64(b"<notification><kind>other</kind></notification>")
    );
    let tampered = braintree_form(&braintree_sig(&payload), &other);
    assert_rejected(
        &post(&p, "/braintree", &[FORM], &tampered).await,
        401,
        "invalid_signature",
    );
    let unsigned = form_urlencoded::Serializer::new(String::new())
        .append_pair("bt_payload", &other)
        .finish();
    let a = post(&p, "/braintree", &[FORM], unsigned.as_bytes()).await;
    assert_rejected(&a, 401, "missing_signature");

    // The SDK-generated sample (Braintree SDK 4.48.0 sample_notification, keys public_key/private_key).
    let sample = "CiAgICAgICAgICAgIDxub3RpZmljYXRpb24+CiAgICAgICAgICAgICAgICA8dGltZXN0YW1wIHR5\ncGU9ImRhdGV0aW1lIj4yMDI2LTEyLTA2VDEwOjAxOjQ0WjwvdGltZXN0YW1wPgogICAgICAgICAg\nICAgICAgPGtpbmQ+Y2hlY2s8L2tpbmQ+CiAgICAgICAgICAgICAgICAKICAgICAgICAgICAgICAg\nIDxzdWJqZWN0PgogICAgICAgICAgICA8Y2hlY2sgdHlwZT0iYm9vbGVhbiI+CiAgICAgICAgICAg\nICAgdHJ1ZQogICAgICAgICAgICA8L2NoZWNrPgogICAgICAgIDwvc3ViamVjdD4KICAgICAgICAg\nICAgPC9ub3RpZmljYXRpb24+CiAgICAgICAg\n";
    let body = braintree_form(
        "public_key|95006991fd726c0af3e838539ba679e4b9052860",
        sample,
    );
    assert_eq!(post(&p, "/braintree", &[FORM], &body).await.status, 200);

    // The legacy verify GET: answered by the proxy, never forwarded.
    let a = send(
        &p,
        "GET",
        "/braintree?bt_challenge=20f9f8ed05f77439fe955c977e4c8a53",
        &[],
        b"",
    )
    .await;
    assert_eq!(a.status, 200);
    let key = ring::digest::digest(&ring::digest::SHA1_FOR_LEGACY_USE_ONLY, b"private_key");
    let want = hex::encode(hmac(
        ring::hmac::HMAC_SHA1_FOR_LEGACY_USE_ONLY,
        key.as_ref(),
        &[b"20f9f8ed05f77439fe955c977e4c8a53"],
    ));
    assert_eq!(a.text(), format!("public_key|{want}"));
    let a = send(&p, "GET", "/braintree?bt_challenge=not-hex", &[], b"").await;
    assert_eq!(a.status, 401);
    // The answer signs the challenge with the route's key: it must not
    // pass as the signature of a payload equal to the challenge.
    let oracle = braintree_form(
        &format!("public_key|{want}"),
        "20f9f8ed05f77439fe955c977e4c8a53",
    );
    let a = post(&p, "/braintree", &[FORM], &oracle).await;
    assert_rejected(&a, 401, "invalid_signature");
    assert_eq!(up.count(), 2);
}

// --- Dropbox Sign ---

const DS_KEY: &str = "324e3b0840f065eb51f3fd63231d0d33daa35d4ed10d27718839e81737065782";
const DS_BOUNDARY: &str = "hookguard-test-boundary-7f3a";

/// A callback as Dropbox Sign posts it: multipart, one `json` field whose
/// `event_hash` is hex HMAC-SHA256(api key, event_time + event_type).
fn dropbox_sign_body(time: i64, kind: &str, request_id: &str) -> Vec<u8> {
    let time = time.to_string();
    let hash = hmac256_hex(DS_KEY, &[time.as_bytes(), kind.as_bytes()]);
    let json = format!(
        r#"{{"event":{{"event_time":"{time}","event_type":"{kind}","event_hash":"{hash}","event_metadata":{{"related_signature_id":null}}}},"signature_request":{{"signature_request_id":"{request_id}"}}}}"#
    );
    format!(
        "--{DS_BOUNDARY}\r\nContent-Disposition: form-data; name=\"json\"\r\n\r\n{json}\r\n--{DS_BOUNDARY}--\r\n"
    )
    .into_bytes()
}

/// What Dropbox Sign requires in every successful answer's body.
const ACK: &str = "Hello API Event Received";

#[tokio::test]
async fn dropbox_sign_multipart_event_hash_and_window() {
    let up = Upstream::start().await;
    let p = proxy(CONFIG, &up).await;
    let ct = format!("multipart/form-data; boundary={DS_BOUNDARY}");
    let h = [("content-type", ct.as_str())];
    let body = dropbox_sign_body(now_secs(), "signature_request_signed", "sr_1");
    let a = post(&p, "/dropbox-sign", &h, &body).await;
    assert_eq!(a.status, 200, "{}", a.text());
    let got = up.received();
    assert_eq!(got[0].headers["x-hookguard-verified"], "dropbox-sign");
    assert_eq!(&got[0].body[..], &body[..]);
    // The same callback again: a duplicate, answered with the text
    // Dropbox Sign requires, or it would retry the event for ever.
    let a = post(&p, "/dropbox-sign", &h, &body).await;
    assert_eq!((a.status.as_u16(), a.text().as_str()), (200, ACK));
    assert!(a.headers["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/plain"));
    // Another event of the same type in the same second (a bulk send)
    // carries the same hash, and is still delivered.
    let sibling = String::from_utf8(body.clone())
        .unwrap()
        .replace("sr_1", "sr_1b");
    let a = post(&p, "/dropbox-sign", &h, sibling.as_bytes()).await;
    assert_eq!(a.status, 200, "{}", a.text());
    assert_eq!(up.count(), 2);
    // A signed field changed: invalid.
    let tampered = String::from_utf8(dropbox_sign_body(
        now_secs(),
        "signature_request_sent",
        "sr_2",
    ))
    .unwrap()
    .replace("signature_request_sent", "signature_request_all_signed");
    let a = post(&p, "/dropbox-sign", &h, tampered.as_bytes()).await;
    assert_rejected(&a, 401, "invalid_signature");
    // No multipart Content-Type, or no json field: missing.
    let a = post(
        &p,
        "/dropbox-sign",
        &[("content-type", "application/json")],
        &body,
    )
    .await;
    assert_rejected(&a, 401, "missing_signature");
    let empty = format!("--{DS_BOUNDARY}--\r\n");
    let a = post(&p, "/dropbox-sign", &h, empty.as_bytes()).await;
    assert_rejected(&a, 401, "missing_signature");
    // Ten minutes either way: out of the window.
    for ts in [now_secs() - 600, now_secs() + 600] {
        let stale = dropbox_sign_body(ts, "signature_request_viewed", "sr_3");
        let a = post(&p, "/dropbox-sign", &h, &stale).await;
        assert_rejected(&a, 401, "timestamp_out_of_tolerance");
    }
    assert_eq!(up.count(), 2);
}

/// Queue mode answers for the app: a queued Dropbox Sign callback gets the
/// acknowledgement Dropbox Sign requires, then reaches the app from disk.
#[tokio::test]
async fn dropbox_sign_queued_callback_is_acknowledged() {
    let dir = temp_dir("dropbox-sign-queue");
    let config = format!(
        r#"
[server]
listen = "127.0.0.1:0"
shutdown_grace = "2s"

[upstream]
url = "{{upstream}}"
timeout = "2s"

[spool]
dir = "{}"

[[route]]
path = "/dropbox-sign"
provider = "dropbox-sign"
secrets = ["324e3b0840f065eb51f3fd63231d0d33daa35d4ed10d27718839e81737065782"]
delivery = "queue"
"#,
        dir.path().display()
    );
    let up = Upstream::start().await;
    let p = proxy(&config, &up).await;
    let ct = format!("multipart/form-data; boundary={DS_BOUNDARY}");
    let h = [("content-type", ct.as_str())];
    let body = dropbox_sign_body(now_secs(), "signature_request_sent", "sr_q");
    let a = post(&p, "/dropbox-sign", &h, &body).await;
    assert_eq!((a.status.as_u16(), a.text().as_str()), (200, ACK));
    eventually("the queued callback to reach the app", PATIENCE, || async {
        up.count() == 1
    })
    .await;
    assert_eq!(&up.received()[0].body[..], &body[..]);
}
