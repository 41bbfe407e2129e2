//! End to end through the real proxy and a real upstream: a signed message
//! that splits into its values more than one way is refused, never
//! forwarded as something the provider did not send. With `{id}.{body}`,
//! bytes moved between the id and the body keep the signature valid; such
//! an id is refused, so a delivered event is not forwarded again under a
//! new id.
//!
//! Requests are signed here with `ring` (via `common`), from the providers'
//! documented messages, sharing no code with `src/providers`.

mod common;

use common::*;

const GENERIC_SECRET: &str = "generic-secret";
const SW_SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

const CONFIG: &str = r#"
[server]
listen = "127.0.0.1:0"
request_timeout = "2s"
shutdown_grace = "3s"

[upstream]
url = "{upstream}"
timeout = "2s"

[[route]]
path = "/generic"
provider = "hmac"
secrets = ["generic-secret"]
[route.hmac]
header = "x-signature"
id_header = "x-event-id"
signed = "{id}.{body}"

[[route]]
path = "/sw"
provider = "standard-webhooks"
secrets = ["whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"]
"#;

fn generic_headers(id: &str, sig: &str) -> Vec<(String, String)> {
    vec![
        ("x-event-id".into(), id.into()),
        ("x-signature".into(), sig.into()),
    ]
}

fn refs(h: &[(String, String)]) -> Vec<(&str, &str)> {
    h.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect()
}

#[tokio::test]
async fn an_event_is_not_forwarded_again_under_a_shifted_id() {
    let up = Upstream::start().await;
    let p = proxy(CONFIG, &up).await;
    // Genuine: id `evt_1`, body `{"amount":1.5}`, signed over `{id}.{body}`.
    let body = br#"{"amount":1.5}"#;
    let sig = hmac256_hex(GENERIC_SECRET, &[b"evt_1", b".", body]);
    let a = post(&p, "/generic", &refs(&generic_headers("evt_1", &sig)), body).await;
    assert_eq!(a.status, 200, "{}", a.text());
    assert_eq!(up.count(), 1);
    assert_eq!(up.received()[0].headers["x-hookguard-event-id"], "evt_1");

    // The same signed bytes split at the body's `.`: id `evt_1.{"amount":1`,
    // body `5}`. The signature still matches; the id must not pass.
    let shifted = generic_headers(r#"evt_1.{"amount":1"#, &sig);
    let a = post(&p, "/generic", &refs(&shifted), b"5}").await;
    assert_rejected(&a, 401, "invalid_signature");
    assert_eq!(up.count(), 1, "not forwarded under a new id");

    // An id that itself holds the separator is refused even when genuine:
    // `a.b` + `.` + body could be `a` + `.` + `b.`body.
    let body = b"{}";
    let sig = hmac256_hex(GENERIC_SECRET, &[b"a.b", b".", body]);
    let a = post(&p, "/generic", &refs(&generic_headers("a.b", &sig)), body).await;
    assert_rejected(&a, 401, "invalid_signature");
    let sig = hmac256_hex(GENERIC_SECRET, &[b"a", b".", b"b.", body]);
    let mut other = b"b.".to_vec();
    other.extend_from_slice(body);
    let a = post(&p, "/generic", &refs(&generic_headers("a", &sig)), &other).await;
    assert_eq!(a.status, 200, "{}", a.text());
    assert_eq!(up.count(), 2);
}

#[tokio::test]
async fn a_standard_webhooks_id_with_a_dot_is_refused() {
    let up = Upstream::start().await;
    let p = proxy(CONFIG, &up).await;
    let ts = now_secs();
    // A body that holds `.<ts>.`: the message `msg_1.<ts>.{"t":"1.<ts>.2"}`
    // also reads as id `msg_1.<ts>.{"t":"1`, timestamp `<ts>`, body `2"}`.
    let body = format!(r#"{{"t":"1.{ts}.2"}}"#);
    let genuine = standard_webhooks_headers(SW_SECRET, "msg_1", ts, body.as_bytes());
    let a = post(&p, "/sw", &refs(&genuine), body.as_bytes()).await;
    assert_eq!(a.status, 200, "{}", a.text());

    let mut shifted = genuine.clone();
    shifted[0].1 = format!(r#"msg_1.{ts}.{{"t":"1"#);
    let a = post(&p, "/sw", &refs(&shifted), br#"2"}"#).await;
    assert_rejected(&a, 401, "invalid_signature");
    assert_eq!(up.count(), 1, "not forwarded under a new id");
}

const REQUEST_VALUES_CONFIG: &str = r#"
[server]
listen = "127.0.0.1:0"

[upstream]
url = "{upstream}"

[[route]]
path = "/values"
provider = "hmac"
secrets = ["generic-secret"]
public_url = "https://hooks.example.com/values"

[route.hmac]
header = "X-Sig"
signed = "{method}\n{url}\n{header:x-nonce}\n{body_sha256_hex}"

[[route]]
path = "/query"
provider = "hmac"
secrets = ["generic-secret"]

[route.hmac]
header = "X-Sig"
signed = "{path}?{query}.{body}"
"#;

/// Request values in the template, through the proxy: the method, the
/// public URL, a header and the body's hash are signed (a request differing
/// in any is refused), and a query that would let bytes move into the body
/// is refused rather than forwarded.
#[tokio::test]
async fn request_values_are_signed_and_cannot_shift_into_the_body() {
    let up = Upstream::start().await;
    let p = proxy(REQUEST_VALUES_CONFIG, &up).await;
    let body = br#"{"a":1}"#;
    let hash = hex::encode(ring::digest::digest(&ring::digest::SHA256, body));
    let msg = format!("POST\nhttps://hooks.example.com/values\nn-1\n{hash}");
    let sig = hmac256_hex(GENERIC_SECRET, &[msg.as_bytes()]);
    let h = [("x-sig", sig.as_str()), ("x-nonce", "n-1")];
    let a = post(&p, "/values", &h, body).await;
    assert_eq!(a.status, 200, "{}", a.text());
    assert_eq!(&up.received()[0].body[..], body);
    let other_nonce = [("x-sig", sig.as_str()), ("x-nonce", "n-2")];
    assert_rejected(
        &post(&p, "/values", &other_nonce, body).await,
        401,
        "invalid_signature",
    );
    let no_nonce = [("x-sig", sig.as_str())];
    assert_rejected(
        &post(&p, "/values", &no_nonce, body).await,
        401,
        "missing_signature",
    );
    assert_rejected(
        &post(&p, "/values", &h, br#"{"a":2}"#).await,
        401,
        "invalid_signature",
    );

    // `{path}?{query}.{body}`: `?a=1` with `5.{"b":2}` and `?a=1.5` with
    // `{"b":2}` sign the same bytes; the second is refused.
    let sig = hmac256_hex(GENERIC_SECRET, &[b"/query?a=1.5.", br#"{"b":2}"#]);
    let a = post(
        &p,
        "/query?a=1.5",
        &[("x-sig", sig.as_str())],
        br#"{"b":2}"#,
    )
    .await;
    assert_rejected(&a, 401, "invalid_signature");
    let sig = hmac256_hex(GENERIC_SECRET, &[b"/query?a=1.", br#"{"b":2}"#]);
    let a = post(&p, "/query?a=1", &[("x-sig", sig.as_str())], br#"{"b":2}"#).await;
    assert_eq!(a.status, 200, "{}", a.text());
    assert_eq!(up.count(), 2);
}

const FORM_CONFIG: &str = r#"
[server]
listen = "127.0.0.1:0"

[upstream]
url = "{upstream}"

[[route]]
path = "/myapp.php"
provider = "hmac"
secrets = ["12345"]
public_url = "https://mycompany.com/myapp.php?foo=1&bar=2"

[route.hmac]
algorithm = "sha1"
header = "X-Twilio-Signature"
encoding = "base64"
signed = "{url}{form}"

[[route]]
path = "/unpinned"
provider = "hmac"
secrets = ["12345"]

[route.hmac]
algorithm = "sha1"
header = "X-Twilio-Signature"
encoding = "base64"
signed = "{url}{form}"
"#;

/// twilio-python's published request (tests/unit/test_request_validator.py).
const TW_FORM: &[u8] = b"CallSid=CA1234567890ABCDE&Caller=%2B14158675309&Digits=1234&From=%2B14158675309&To=%2B18005551212";
const TW_SIG: &str = "RSOYDt4T1cUTdK1PDd93/VVr8B8=";

/// `{url}{form}` (Twilio's layout) through the proxy: the published vector
/// is forwarded byte for byte; the same fields reordered or re-encoded
/// carry the same signature, so such a copy is a duplicate, not a new
/// delivery; and the URL must end where the route pins it, or bytes could
/// move between the query and the first field.
#[tokio::test]
async fn form_fields_after_the_url_verify_and_keep_their_boundary() {
    let up = Upstream::start().await;
    let p = proxy(FORM_CONFIG, &up).await;
    let form = ("content-type", "application/x-www-form-urlencoded");
    let sig = ("x-twilio-signature", TW_SIG);
    let a = post(&p, "/myapp.php?foo=1&bar=2", &[form, sig], TW_FORM).await;
    assert_eq!(a.status, 200, "{}", a.text());
    assert_eq!(&up.received()[0].body[..], TW_FORM);

    // Reordered, and `CallSid` spelled `Call%53id`: the same decoded fields.
    let shuffled = b"To=%2B18005551212&Digits=1234&Call%53id=CA1234567890ABCDE&From=%2B14158675309&Caller=%2B14158675309";
    let a = post(&p, "/myapp.php?foo=1&bar=2", &[form, sig], shuffled).await;
    assert_eq!(a.text(), r#"{"status":"duplicate"}"#);
    let tampered = String::from_utf8_lossy(TW_FORM).replace("1234&", "1235&");
    let a = post(
        &p,
        "/myapp.php?foo=1&bar=2",
        &[form, sig],
        tampered.as_bytes(),
    )
    .await;
    assert_rejected(&a, 401, "invalid_signature");
    // Another query than the one public_url pins.
    let a = post(&p, "/myapp.php?foo=1&bar=3", &[form, sig], TW_FORM).await;
    assert_rejected(&a, 401, "invalid_signature");
    // Without public_url, a query could trade bytes with the first field.
    let a = post(&p, "/unpinned?foo=1", &[form, sig], TW_FORM).await;
    assert_rejected(&a, 401, "invalid_signature");
    assert_eq!(up.count(), 1);
}
