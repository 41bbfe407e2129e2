//! End-to-end for the URL-bound, public-key, body-field and canonical-request
//! families: the real proxy and a real upstream on ephemeral loopback ports.
//! For every provider: valid → forwarded with `X-Hookguard-Verified`,
//! replay → duplicate, tampered body → invalid_signature, missing material →
//! missing_signature, and a timestamp (where one is signed) 10 minutes in the
//! past or the future → timestamp_out_of_tolerance. Discord's PING is answered, never forwarded.
//!
//! Fixed-vector requests use the providers' published vectors (origins noted);
//! fresh-timestamp requests are signed here with `ring` directly, written from
//! the providers' documented recipes, sharing no code with `src/providers`.

mod common;

use common::*;
use ring::signature::{EcdsaKeyPair, Ed25519KeyPair, KeyPair, ECDSA_P256_SHA256_ASN1_SIGNING};

const DISCORD_SEED: &str = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";
const DISCORD_PK: &str = "03a107bff3ce10be1d70dd18e74bc09967e4d6309ba50d5f1ddc8664125531b8";
const SW_PK: &str = "whpk_A6EHv/POEL4dcN0Y50vAmWfk1jCbpQ1fHdyGZBJVMbg=";
const SG_KEY: &str = "MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE83T4O/n84iotIvIW4mdBgQ/7dAfSmpqIM8kF9mN1flpVKS3GRqe62gw+2fNNRaINXvVpiglSI8eNEc6wEA3F+g==";
const HUBSPOT_SECRET: &str = "yyyyyyyy-yyyy-yyyy-yyyy-yyyyyyyyyyyy";
const CF_SECRET: &str = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";

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
path = "/twilio"
provider = "twilio"
secrets = ["12345"]
public_url = "https://mycompany.com/myapp.php"

[[route]]
path = "/square"
provider = "square"
secrets = ["asdf1234"]
public_url = "https://example.com/webhook"

[[route]]
path = "/trello"
provider = "trello"
secrets = ["trello_app_secret"]
public_url = "https://example.com/trello/hook"

[[route]]
path = "/hubspot"
provider = "hubspot"
secrets = ["yyyyyyyy-yyyy-yyyy-yyyy-yyyyyyyyyyyy"]
public_url = "https://www.example.com/webhook_uri"

[[route]]
path = "/discord"
provider = "discord"
public_key = "03a107bff3ce10be1d70dd18e74bc09967e4d6309ba50d5f1ddc8664125531b8"

[[route]]
path = "/sendgrid"
provider = "sendgrid"
public_key = "MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE83T4O/n84iotIvIW4mdBgQ/7dAfSmpqIM8kF9mN1flpVKS3GRqe62gw+2fNNRaINXvVpiglSI8eNEc6wEA3F+g=="

[[route]]
path = "/sw-ed"
provider = "standard-webhooks-ed25519"
public_key = "whpk_A6EHv/POEL4dcN0Y50vAmWfk1jCbpQ1fHdyGZBJVMbg="

[[route]]
path = "/mailgun"
provider = "mailgun"
secrets = ["key-mailgun-signing"]

[[route]]
path = "/contentful"
provider = "contentful"
secrets = ["aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"]
"#;

fn refs(h: &[(String, String)]) -> Vec<(&str, &str)> {
    h.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect()
}

fn without(h: &[(String, String)], name: &str) -> Vec<(String, String)> {
    h.iter()
        .filter(|(k, _)| !k.eq_ignore_ascii_case(name))
        .cloned()
        .collect()
}

fn own(h: &[(&str, &str)]) -> Vec<(String, String)> {
    h.iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// Valid → forwarded byte-for-byte and marked; the same again → duplicate;
/// tampered body → invalid; without `sig_header` → missing.
async fn cycle(
    name: &str,
    path: &str,
    h: &[(String, String)],
    body: &[u8],
    tampered: &[u8],
    sig_header: &str,
) {
    cycle_in(CONFIG, name, path, h, body, tampered, sig_header).await;
}

/// [`cycle`] through a proxy configured by `config`.
async fn cycle_in(
    config: &str,
    name: &str,
    path: &str,
    h: &[(String, String)],
    body: &[u8],
    tampered: &[u8],
    sig_header: &str,
) {
    let up = Upstream::start().await;
    let p = proxy(config, &up).await;
    let a = post(&p, path, &refs(h), body).await;
    assert_eq!(a.status, 200, "{name}: {}", a.text());
    assert_eq!(a.text(), "ok from upstream", "{name}");
    let got = up.received();
    assert_eq!(got.len(), 1, "{name}");
    assert_eq!(got[0].headers["x-hookguard-verified"], name);
    assert_eq!(&got[0].body[..], body, "{name}");

    let a = post(&p, path, &refs(h), body).await;
    assert_eq!(a.status, 200, "{name}");
    assert_eq!(a.text(), r#"{"status":"duplicate"}"#, "{name}");

    let a = post(&p, path, &refs(h), tampered).await;
    assert_rejected(&a, 401, "invalid_signature");

    let a = post(&p, path, &refs(&without(h, sig_header)), body).await;
    assert_rejected(&a, 401, "missing_signature");
    assert_eq!(up.count(), 1, "{name}: only the first request is forwarded");
}

async fn expect_stale(path: &str, h: &[(String, String)], body: &[u8]) {
    let up = Upstream::start().await;
    let p = proxy(CONFIG, &up).await;
    let a = post(&p, path, &refs(h), body).await;
    assert_rejected(&a, 401, "timestamp_out_of_tolerance");
    assert_eq!(up.count(), 0);
}

// --- URL-bound ---

// Twilio SDK unit-test request (twilio-python test_request_validator.py).
const TWILIO_FORM: &[u8] = b"CallSid=CA1234567890ABCDE&Caller=%2B14158675309&Digits=1234&From=%2B14158675309&To=%2B18005551212";
const TWILIO_FORM_TAMPERED: &[u8] = b"CallSid=CA1234567890ABCDE&Caller=%2B14158675309&Digits=9999&From=%2B14158675309&To=%2B18005551212";

/// The Twilio form request through the proxy, signed as `h` says.
async fn twilio_form_cycle(h: &[(String, String)]) {
    cycle(
        "twilio",
        "/twilio?foo=1&bar=2",
        h,
        TWILIO_FORM,
        TWILIO_FORM_TAMPERED,
        "x-twilio-signature",
    )
    .await;
}

// Twilio SDK unit-test vector (twilio-python test_request_validator.py).
#[tokio::test]
async fn twilio_sdk_vector_through_proxy() {
    let h = own(&[
        ("content-type", "application/x-www-form-urlencoded"),
        ("x-twilio-signature", "RSOYDt4T1cUTdK1PDd93/VVr8B8="),
    ]);
    twilio_form_cycle(&h).await;
}

// Twilio SharedKey signature (HMAC-SHA256, named by the settings header):
// twilio-python 9.13.0 `compute_signature(...,
// "HMAC_SHA256")` over the same request as above.
#[tokio::test]
async fn twilio_sharedkey_sha256_through_proxy() {
    let h = own(&[
        ("content-type", "application/x-www-form-urlencoded"),
        (
            "x-twilio-signature",
            "033hgUJA9M/hXIZsYjwkerEP/DBm35nEri5FhCYjA5s=",
        ),
        (
            "x-twilio-webhooks-signature-settings",
            "key=webhooks_sharedkey_123,algorithm=HMAC_SHA256",
        ),
    ]);
    twilio_form_cycle(&h).await;
}

// Twilio SDK JSON variant: signature over the URL with bodySHA256.
#[tokio::test]
async fn twilio_json_body_hash_through_proxy() {
    let body = br#"{"property": "value", "boolean": true}"#;
    let path = "/twilio?foo=1&bar=2&bodySHA256=0a1ff7634d9ab3b95db5c9a2dfe9416e41502b283a80c7cf19632632f96e6620";
    let h = own(&[("x-twilio-signature", "a9nBmqA0ju/hNViExpshrM61xv4=")]);
    cycle(
        "twilio",
        path,
        &h,
        body,
        br#"{"property": "other", "boolean": true}"#,
        "x-twilio-signature",
    )
    .await;
}

// Square docs "Validate notifications" sample.
#[tokio::test]
async fn square_docs_vector_through_proxy() {
    let h = own(&[(
        "x-square-hmacsha256-signature",
        "2kRE5qRU2tR+tBGlDwMEw2avJ7QM4ikPYD/PJ3bd9Og=",
    )]);
    cycle(
        "square",
        "/square",
        &h,
        br#"{"hello":"world"}"#,
        br#"{"hello":"there"}"#,
        "x-square-hmacsha256-signature",
    )
    .await;
}

// Trello: vector computed with Python's hmac.
#[tokio::test]
async fn trello_vector_through_proxy() {
    let h = own(&[("x-trello-webhook", "2vBTp1s1ADdzC49xMMilsHclC6U=")]);
    cycle(
        "trello",
        "/trello",
        &h,
        br#"{"action":{"type":"updateCard"}}"#,
        b"{}",
        "x-trello-webhook",
    )
    .await;
}

/// Trello's HEAD on webhook creation gets 200 and is not forwarded; other
/// routes keep refusing HEAD.
#[tokio::test]
async fn trello_head_on_creation_is_answered() {
    let up = Upstream::start().await;
    let p = proxy(CONFIG, &up).await;
    let a = send(&p, "HEAD", "/trello", &[], b"").await;
    assert_eq!(a.status, 200);
    assert!(a.body.is_empty());
    let a = send(&p, "HEAD", "/square", &[], b"").await;
    assert_eq!(a.status, 405);
    assert_eq!(up.count(), 0, "a HEAD was forwarded");
    let line = r#"hookguard_requests_total{route="/trello",outcome="handshake",code="none"} 1"#;
    assert!(p.app().metrics().encode(0).contains(line));
}

fn hubspot_headers(ts_ms: i64, body: &[u8]) -> Vec<(String, String)> {
    let ts = ts_ms.to_string();
    let sig = hmac(
        ring::hmac::HMAC_SHA256,
        HUBSPOT_SECRET.as_bytes(),
        &[
            b"POST",
            b"https://www.example.com/webhook_uri",
            body,
            ts.as_bytes(),
        ],
    );
    own(&[
        ("x-hubspot-signature-v3", &b64(&sig)),
        ("x-hubspot-request-timestamp", &ts),
    ])
}

#[tokio::test]
async fn hubspot_v3_fresh_and_stale() {
    let body = br#"[{"eventId":1,"subscriptionType":"contact.creation"}]"#;
    let h = hubspot_headers(now_secs() * 1000, body);
    cycle(
        "hubspot",
        "/hubspot",
        &h,
        body,
        b"[]",
        "x-hubspot-signature-v3",
    )
    .await;
    let stale = hubspot_headers((now_secs() - 600) * 1000, body);
    expect_stale("/hubspot", &stale, body).await;
    // HubSpot's SDK checks only the past; a future timestamp is refused too.
    let ahead = hubspot_headers((now_secs() + 600) * 1000, body);
    expect_stale("/hubspot", &ahead, body).await;
}

// --- public keys ---

fn discord_headers(ts: i64, body: &[u8]) -> Vec<(String, String)> {
    let pair = Ed25519KeyPair::from_seed_unchecked(&hex::decode(DISCORD_SEED).unwrap()).unwrap();
    assert_eq!(hex::encode(pair.public_key().as_ref()), DISCORD_PK);
    let ts = ts.to_string();
    let sig = pair.sign(&[ts.as_bytes(), body].concat());
    own(&[
        ("x-signature-ed25519", &hex::encode(sig.as_ref())),
        ("x-signature-timestamp", &ts),
    ])
}

#[tokio::test]
async fn discord_events_stale_and_ping() {
    let body = br#"{"type":2,"data":{"name":"hello"}}"#;
    let h = discord_headers(now_secs(), body);
    cycle(
        "discord",
        "/discord",
        &h,
        body,
        br#"{"type":2,"data":{"name":"bye"}}"#,
        "x-signature-ed25519",
    )
    .await;
    expect_stale("/discord", &discord_headers(now_secs() - 600, body), body).await;
    expect_stale("/discord", &discord_headers(now_secs() + 600, body), body).await;

    // PING: verified, answered {"type":1}, never forwarded.
    let up = Upstream::start().await;
    let p = proxy(CONFIG, &up).await;
    let ping = br#"{"type":1}"#;
    let a = post(
        &p,
        "/discord",
        &refs(&discord_headers(now_secs(), ping)),
        ping,
    )
    .await;
    assert_eq!(a.status, 200, "{}", a.text());
    assert_eq!(a.headers["content-type"], "application/json");
    assert_eq!(a.text(), r#"{"type":1}"#);
    // An unsigned PING is refused like anything else.
    let a = post(&p, "/discord", &[("x-signature-timestamp", "1")], ping).await;
    assert_rejected(&a, 401, "missing_signature");
    assert_eq!(up.count(), 0);
}

// SendGrid SDK fixture (@sendgrid/eventwebhook src/eventwebhook.spec.js).
// SendGrid documents no window; the default 5 minutes refuses the 2020
// fixture, and a route `tolerance` wide enough lets it through.
#[tokio::test]
async fn sendgrid_sdk_fixture_through_proxy() {
    let body = b"[{\"email\":\"hello@world.com\",\"event\":\"dropped\",\"reason\":\"Bounced Address\",\"sg_event_id\":\"ZHJvcC0xMDk5NDkxOS1MUnpYbF9OSFN0T0doUTRrb2ZTbV9BLTA\",\"sg_message_id\":\"LRzXl_NHStOGhQ4kofSm_A.filterdrecv-p3mdw1-756b745b58-kmzbl-18-5F5FC76C-9.0\",\"smtp-id\":\"<LRzXl_NHStOGhQ4kofSm_A@ismtpd0039p1iad1.sendgrid.net>\",\"timestamp\":1600112492}]\r\n";
    let h = own(&[
        ("x-twilio-email-event-webhook-signature", "MEUCIGHQVtGj+Y3LkG9fLcxf3qfI10QysgDWmMOVmxG0u6ZUAiEAyBiXDWzM+uOe5W0JuG+luQAbPIqHh89M15TluLtEZtM="),
        ("x-twilio-email-event-webhook-timestamp", "1600112502"),
    ]);
    let tampered = &body[..body.len() - 2];
    expect_stale("/sendgrid", &h, body).await;
    let key_line = format!("public_key = \"{SG_KEY}\"\n");
    let wide = CONFIG.replace(&key_line, &format!("{key_line}tolerance = \"36500d\"\n"));
    assert_ne!(wide, CONFIG);
    cycle_in(
        &wide,
        "sendgrid",
        "/sendgrid",
        &h,
        body,
        tampered,
        "x-twilio-email-event-webhook-signature",
    )
    .await;
}

// A second ECDSA signature over the same message is a duplicate, not a new
// event: ECDSA signatures are randomised (and malleable).
#[tokio::test]
async fn sendgrid_resigned_same_message_is_duplicate() {
    let rng = ring::rand::SystemRandom::new();
    let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, &rng).unwrap();
    let pair =
        EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, pkcs8.as_ref(), &rng).unwrap();
    // SubjectPublicKeyInfo for P-256: fixed DER header + uncompressed point.
    let spki_prefix = hex::decode("3059301306072a8648ce3d020106082a8648ce3d030107034200").unwrap();
    let spki = b64(&[&spki_prefix[..], pair.public_key().as_ref()].concat());
    let cfg = CONFIG.replace(SG_KEY, &spki);
    let up = Upstream::start().await;
    let p = proxy(&cfg, &up).await;
    let body = b"[{\"event\":\"open\"}]\r\n";
    let ts = now_secs().to_string();
    let msg = [ts.as_bytes(), &body[..]].concat();
    for expected in ["ok from upstream", r#"{"status":"duplicate"}"#] {
        let sig = pair.sign(&rng, &msg).unwrap();
        let h = own(&[
            ("x-twilio-email-event-webhook-signature", &b64(sig.as_ref())),
            ("x-twilio-email-event-webhook-timestamp", &ts),
        ]);
        let a = post(&p, "/sendgrid", &refs(&h), body).await;
        assert_eq!((a.status.as_u16(), a.text().as_str()), (200, expected));
    }
    assert_eq!(up.count(), 1);
}

fn sw_ed_headers(id: &str, ts: i64, body: &[u8]) -> Vec<(String, String)> {
    let pair = Ed25519KeyPair::from_seed_unchecked(&hex::decode(DISCORD_SEED).unwrap()).unwrap();
    let ts = ts.to_string();
    let sig = pair.sign(&[id.as_bytes(), b".", ts.as_bytes(), b".", body].concat());
    own(&[
        ("webhook-id", id),
        ("webhook-timestamp", &ts),
        ("webhook-signature", &format!("v1a,{}", b64(sig.as_ref()))),
    ])
}

#[tokio::test]
async fn standard_webhooks_ed25519_fresh_and_stale() {
    assert!(SW_PK.ends_with("Mbg="));
    let body = br#"{"type":"user.created"}"#;
    let h = sw_ed_headers("msg_ed_1", now_secs(), body);
    cycle(
        "standard-webhooks-ed25519",
        "/sw-ed",
        &h,
        body,
        b"{}",
        "webhook-signature",
    )
    .await;
    for ts in [now_secs() - 600, now_secs() + 600] {
        expect_stale("/sw-ed", &sw_ed_headers("msg_ed_2", ts, body), body).await;
    }
}

// --- body fields ---

fn mailgun_body(ts: i64, token: &str, event: &str) -> Vec<u8> {
    let ts = ts.to_string();
    let sig = hmac256_hex("key-mailgun-signing", &[ts.as_bytes(), token.as_bytes()]);
    format!(
        r#"{{"signature":{{"timestamp":"{ts}","token":"{token}","signature":"{sig}"}},"event-data":{{"event":"{event}"}}}}"#
    )
    .into_bytes()
}

#[tokio::test]
async fn mailgun_json_and_form() {
    let up = Upstream::start().await;
    let p = proxy(CONFIG, &up).await;
    let body = mailgun_body(now_secs(), "tok_0123456789", "delivered");
    let a = post(
        &p,
        "/mailgun",
        &[("content-type", "application/json")],
        &body,
    )
    .await;
    assert_eq!(a.status, 200, "{}", a.text());
    assert_eq!(up.received()[0].headers["x-hookguard-verified"], "mailgun");
    // Same token again, even with another event body: duplicate.
    let again = mailgun_body(now_secs(), "tok_0123456789", "opened");
    let a = post(&p, "/mailgun", &[], &again).await;
    assert_eq!(a.text(), r#"{"status":"duplicate"}"#);
    // A changed signed field (the token) → invalid.
    let tampered = String::from_utf8(mailgun_body(now_secs(), "tok_x", "delivered"))
        .unwrap()
        .replacen(r#""token":"tok_x""#, r#""token":"tok_y""#, 1);
    let a = post(&p, "/mailgun", &[], tampered.as_bytes()).await;
    assert_rejected(&a, 401, "invalid_signature");
    let a = post(
        &p,
        "/mailgun",
        &[],
        br#"{"event-data":{"event":"delivered"}}"#,
    )
    .await;
    assert_rejected(&a, 401, "missing_signature");
    let stale = mailgun_body(now_secs() - 600, "tok_stale", "delivered");
    let a = post(&p, "/mailgun", &[], &stale).await;
    assert_rejected(&a, 401, "timestamp_out_of_tolerance");
    let ahead = mailgun_body(now_secs() + 600, "tok_ahead", "delivered");
    let a = post(&p, "/mailgun", &[], &ahead).await;
    assert_rejected(&a, 401, "timestamp_out_of_tolerance");
    // Legacy form post: fields at top level.
    let ts = now_secs().to_string();
    let sig = hmac256_hex("key-mailgun-signing", &[ts.as_bytes(), b"tok_form"]);
    let form = format!("event=delivered&timestamp={ts}&token=tok_form&signature={sig}");
    let a = post(
        &p,
        "/mailgun",
        &[("content-type", "application/x-www-form-urlencoded")],
        form.as_bytes(),
    )
    .await;
    assert_eq!(a.status, 200, "{}", a.text());
    assert_eq!(up.count(), 2);
}

// --- canonical request ---

/// Contentful's canonical string, written from Contentful's
/// documented request-verification recipe:
/// method, path with the query escaped twice, sorted `name:value;...`, body.
fn contentful_headers(ts_ms: i64, path_signed: &str, body: &[u8]) -> Vec<(String, String)> {
    let ts = ts_ms.to_string();
    let list = "content-type,x-contentful-signed-headers,x-contentful-timestamp,x-contentful-topic";
    let canonical = format!(
        "POST\n{path_signed}\ncontent-type:application/vnd.contentful.management.v1+json;x-contentful-signed-headers:{list};x-contentful-timestamp:{ts};x-contentful-topic:ContentManagement.Entry.publish\n"
    );
    let sig = hmac256_hex(CF_SECRET, &[canonical.as_bytes(), body]);
    own(&[
        (
            "content-type",
            "application/vnd.contentful.management.v1+json",
        ),
        ("x-contentful-topic", "ContentManagement.Entry.publish"),
        ("x-contentful-timestamp", &ts),
        ("x-contentful-signed-headers", list),
        ("x-contentful-signature", &sig),
    ])
}

#[tokio::test]
async fn contentful_fresh_and_stale() {
    let body = br#"{"sys":{"id":"abc"}}"#;
    let h = contentful_headers(now_secs() * 1000, "/contentful?x%253D1", body);
    cycle(
        "contentful",
        "/contentful?x=1",
        &h,
        body,
        b"{}",
        "x-contentful-signature",
    )
    .await;
    let stale = contentful_headers((now_secs() - 120) * 1000, "/contentful?x%253D1", body);
    expect_stale("/contentful?x=1", &stale, body).await;
    let ahead = contentful_headers((now_secs() + 120) * 1000, "/contentful?x%253D1", body);
    expect_stale("/contentful?x=1", &ahead, body).await;
}

// --- Telnyx ---

const TELNYX_CONFIG: &str = r#"
[server]
listen = "127.0.0.1:0"

[upstream]
url = "{upstream}"

[[route]]
path = "/telnyx"
provider = "telnyx"
public_key = "A6EHv/POEL4dcN0Y50vAmWfk1jCbpQ1fHdyGZBJVMbg="
"#;

/// Telnyx's recipe (telnyx-node `TelnyxWebhook.verify`): base64 Ed25519 over
/// `{timestamp}|{body}`, signed here with `ring` under the seed 00..1f.
fn telnyx_headers(ts: i64, body: &[u8]) -> Vec<(String, String)> {
    let pair = Ed25519KeyPair::from_seed_unchecked(&hex::decode(DISCORD_SEED).unwrap()).unwrap();
    let ts = ts.to_string();
    let sig = pair.sign(&[ts.as_bytes(), b"|", body].concat());
    own(&[
        ("telnyx-signature-ed25519", &b64(sig.as_ref())),
        ("telnyx-timestamp", &ts),
    ])
}

#[tokio::test]
async fn telnyx_fresh_tampered_replayed_and_stale_both_ways() {
    let body = br#"{"data":{"event_type":"call.initiated","id":"0ccc7b54"}}"#;
    let h = telnyx_headers(now_secs(), body);
    let tampered = br#"{"data":{"event_type":"call.hangup","id":"0ccc7b54"}}"#;
    cycle_in(
        TELNYX_CONFIG,
        "telnyx",
        "/telnyx",
        &h,
        body,
        tampered,
        "telnyx-signature-ed25519",
    )
    .await;
    for skew in [-600, 600] {
        let up = Upstream::start().await;
        let p = proxy(TELNYX_CONFIG, &up).await;
        let stale = telnyx_headers(now_secs() + skew, body);
        let a = post(&p, "/telnyx", &refs(&stale), body).await;
        assert_rejected(&a, 401, "timestamp_out_of_tolerance");
        assert_eq!(up.count(), 0);
    }
}
