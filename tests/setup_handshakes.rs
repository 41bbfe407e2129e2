//! The set-up handshakes the proxy answers for Asana (`X-Hook-Secret`),
//! WooCommerce (the `webhook_id=` ping), Notion (the first POST's
//! `verification_token`), Smartsheet (`Smartsheet-Hook-Challenge`),
//! monday.com (the `{"challenge"}` POST), Strava (`GET hub.challenge`) and
//! Mandrill (HEAD on creation),
//! end to end on
//! loopback: answered in the shape each provider's docs ask for, audited as
//! `handshake`, never forwarded, enabled only on routes of that provider,
//! strictly shaped (anything else unsigned is refused), and rate-limited
//! with the route's limiter. Events on the same routes still verify.

mod common;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::{SystemTime, UNIX_EPOCH};

use jsonwebtoken::{encode, Algorithm, EncodingKey, Header};

use common::*;

const TOKEN: &str = "admin-token-7c1d";

/// Asana's docs' example handshake secret ("Establish a webhook").
const ASANA_SECRET: &str = "b537207f20cbfa02357cf448134da559e8bd39d61597dcd5631b8012eae53e81";

/// Notion's docs' example verification token ("Webhooks", step 2).
const NOTION_TOKEN: &str = "secret_tMrlL1qK5vuQAh1b6cZGhFChZTSYJlce98V0pYn7yBl";

/// A monday.com app's Signing Secret, and the endpoint its tokens name.
const MONDAY_SECRET: &str = "monday_signing_secret";
const MONDAY_URL: &str = "https://hooks.example.com/monday";

fn config() -> String {
    TomlConfig::new()
        .admin(r#"token = "env:ADMIN_TOKEN""#)
        .route(&format!(
            "path = \"/asana\"\nprovider = \"asana\"\nsecrets = [\"{ASANA_SECRET}\"]"
        ))
        .route(&format!(
            "path = \"/asana-limited\"\nprovider = \"asana\"\nsecrets = [\"{ASANA_SECRET}\"]\n\
             rate_limit = {{ per_second = 1, burst = 2 }}"
        ))
        .route("path = \"/woo\"\nprovider = \"woocommerce\"\nsecrets = [\"wc_secret\"]")
        .route(
            "path = \"/notion\"\nprovider = \"notion\"\n\
             secrets = [\"secret_notion_verification_token\"]",
        )
        .route(
            "path = \"/mandrill\"\nprovider = \"mandrill\"\nsecrets = [\"test-webhook\"]\n\
             public_url = \"https://example.com/mandrill/hook\"",
        )
        .route(
            "path = \"/smartsheet\"\nprovider = \"smartsheet\"\n\
             secrets = [\"smartsheet_shared_secret\"]",
        )
        .route(&format!(
            "path = \"/monday\"\nprovider = \"monday\"\nsecrets = [\"{MONDAY_SECRET}\"]\n\
             public_url = \"{MONDAY_URL}\""
        ))
        .route(
            "path = \"/strava\"\nprovider = \"strava\"\nsecrets = [\"120475\"]\n\
             verify_token = \"STRAVA\"",
        )
        .route("path = \"/github\"\nprovider = \"github\"\nsecrets = [\"gh\"]")
        .build()
}

async fn start(up: &Upstream) -> (hookguard::runtime::Running, SocketAddr) {
    let env = HashMap::from([("ADMIN_TOKEN".to_owned(), TOKEN.to_owned())]);
    let p = proxy_with_env(&config(), up, &env).await;
    let admin = p.admin_addr.expect("admin listener bound");
    (p, admin)
}

/// The newest audited decision on `route`.
async fn last_decision(admin: SocketAddr, route: &str) -> serde_json::Value {
    let path = format!("/audit/recent?route=%2F{}&limit=1", &route[1..]);
    let (status, body) = admin_request(admin, "GET", &path, Some(TOKEN)).await;
    assert_eq!(status, 200, "{body}");
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    v["decisions"][0].clone()
}

#[tokio::test]
async fn asana_hook_secret_is_echoed_and_events_verify() {
    let up = Upstream::start().await;
    let (p, admin) = start(&up).await;

    let a = post(&p, "/asana", &[("x-hook-secret", ASANA_SECRET)], b"").await;
    assert_eq!(a.status, 200, "{}", a.text());
    assert_eq!(a.headers["x-hook-secret"], ASANA_SECRET);
    assert!(a.body.is_empty());
    let d = last_decision(admin, "/asana").await;
    assert_eq!(d["outcome"], "handshake", "{d}");
    let detail = d["detail"].as_str().unwrap();
    assert!(detail.contains("configure that value"), "{detail}");
    assert!(
        !d.to_string().contains(ASANA_SECRET),
        "the secret was audited"
    );

    // An event signed with that secret (Asana docs' secret; Python hmac
    // vector): forwarded. An X-Hook-Secret beside a signature is an event.
    let body = br#"{"events":[]}"#;
    let sig = "10468027b67df18c739cc4794c6fc2d2806dcaaf2259fc3e1ed9d26433659853";
    let h = [("x-hook-signature", sig), ("x-hook-secret", "other")];
    let a = post(&p, "/asana", &h, body).await;
    assert_eq!(a.status, 200, "{}", a.text());
    assert_eq!(a.text(), "ok from upstream");
    assert!(a.headers.get("x-hook-secret").is_none());
    assert_eq!(up.count(), 1);

    // Rate-limited with the route's bucket (burst 2).
    for _ in 0..2 {
        let a = post(&p, "/asana-limited", &[("x-hook-secret", "x")], b"").await;
        assert_eq!(a.status, 200);
    }
    let a = post(&p, "/asana-limited", &[("x-hook-secret", "x")], b"").await;
    assert_rejected(&a, 429, "rate_limited");
    assert_eq!(up.count(), 1, "a handshake was forwarded");
}

#[tokio::test]
async fn asana_handshake_shape_is_strict_and_route_bound() {
    let up = Upstream::start().await;
    let (p, _admin) = start(&up).await;
    // Markup or control characters are never reflected.
    let a = post(&p, "/asana", &[("x-hook-secret", "<b>")], b"").await;
    assert_eq!(a.status, 200, "printable text is echoed as a header");
    let two = [("x-hook-secret", "a"), ("x-hook-secret", "b")];
    assert_rejected(
        &post(&p, "/asana", &two, b"").await,
        401,
        "invalid_signature",
    );
    let long = "a".repeat(600);
    let a = post(&p, "/asana", &[("x-hook-secret", &long)], b"").await;
    assert_rejected(&a, 401, "invalid_signature");
    let a = post(&p, "/asana", &[("x-hook-secret", "")], b"").await;
    assert_rejected(&a, 401, "missing_signature");
    // Other providers' routes do not answer it.
    let a = post(&p, "/github", &[("x-hook-secret", "s")], b"").await;
    assert_rejected(&a, 401, "missing_signature");
    assert!(a.headers.get("x-hook-secret").is_none());
    assert_eq!(up.count(), 0);
}

#[tokio::test]
async fn woocommerce_ping_is_answered_only_in_its_exact_shape() {
    let up = Upstream::start().await;
    let (p, admin) = start(&up).await;
    let form = ("content-type", "application/x-www-form-urlencoded");

    let a = post(&p, "/woo", &[form], b"webhook_id=42").await;
    assert_eq!(a.status, 200, "{}", a.text());
    assert!(a.body.is_empty());
    assert_eq!(last_decision(admin, "/woo").await["outcome"], "handshake");

    for body in [
        &b"webhook_id="[..],
        b"webhook_id=42&x=1",
        b"webhook_id=4a",
        b"webhook_id=123456789012345678901",
        b"{}",
    ] {
        let a = post(&p, "/woo", &[form], body).await;
        assert_rejected(&a, 401, "missing_signature");
    }
    // An unsigned body longer than a ping is refused from its head: the
    // body is never read.
    let long = vec![b'1'; 4096];
    let a = post(&p, "/woo", &[form], &long).await;
    assert_rejected(&a, 401, "missing_signature");
    let reason = last_decision(admin, "/woo").await["reason"].to_string();
    assert!(reason.contains("body not read"), "{reason}");
    // A signed event (computed vector, Python hmac) is verified, and a
    // signed ping body is an event like any other.
    let body = br#"{"id":123,"status":"processing"}"#;
    let sig = (
        "x-wc-webhook-signature",
        "pwgo1FZhED7tbs0Po4uMSVL7CW2jcMWnTw7EsSsm77g=",
    );
    let a = post(&p, "/woo", &[sig], body).await;
    assert_eq!(a.status, 200, "{}", a.text());
    let a = post(&p, "/woo", &[sig], b"webhook_id=42").await;
    assert_rejected(&a, 401, "invalid_signature");
    // Not on another provider's route.
    let a = post(&p, "/github", &[form], b"webhook_id=42").await;
    assert_rejected(&a, 401, "missing_signature");
    assert_eq!(up.count(), 1, "only the signed event is forwarded");
}

#[tokio::test]
async fn notion_verification_token_is_answered_and_audited_with_a_note() {
    let up = Upstream::start().await;
    let (p, admin) = start(&up).await;
    let json = ("content-type", "application/json");
    let body = format!(r#"{{"verification_token":"{NOTION_TOKEN}"}}"#);

    let a = post(&p, "/notion", &[json], body.as_bytes()).await;
    assert_eq!(a.status, 200, "{}", a.text());
    assert!(a.body.is_empty(), "the token is not sent back");
    let d = last_decision(admin, "/notion").await;
    assert_eq!(d["outcome"], "handshake", "{d}");
    assert!(
        d["detail"].as_str().unwrap().contains("Verify dialog"),
        "{d}"
    );
    assert!(
        !d.to_string().contains(NOTION_TOKEN),
        "the token was audited"
    );

    for other in [
        &br#"{"verification_token":""}"#[..],
        br#"{"verification_token":"t","type":"page.created"}"#,
        br#"{"verification_token":7}"#,
        br#"{"type":"page.created"}"#,
        b"not json",
    ] {
        let a = post(&p, "/notion", &[json], other).await;
        assert_rejected(&a, 401, "missing_signature");
    }
    // An event (computed vector, Python hmac) still verifies.
    let event = br#"{"type":"page.created","id":"evt_1"}"#;
    let sig = (
        "x-notion-signature",
        "sha256=394a6b3f040ebbf134fe0f4441d5acb697286f8b3ff7a78fb0b160d76c94272a",
    );
    let a = post(&p, "/notion", &[sig], event).await;
    assert_eq!(a.status, 200, "{}", a.text());
    let a = post(&p, "/github", &[json], body.as_bytes()).await;
    assert_rejected(&a, 401, "missing_signature");
    assert_eq!(up.count(), 1, "only the event is forwarded");
}

#[tokio::test]
async fn mandrill_head_is_answered_and_events_verify() {
    let up = Upstream::start().await;
    let (p, admin) = start(&up).await;
    let a = send(&p, "HEAD", "/mandrill", &[], b"").await;
    assert_eq!(a.status, 200);
    assert_eq!(
        last_decision(admin, "/mandrill").await["outcome"],
        "handshake"
    );
    let a = send(&p, "HEAD", "/github", &[], b"").await;
    assert_eq!(a.status, 405);

    // Computed with Python's hmac from Mailchimp's documented recipe, under
    // the key Mandrill signs its test POSTs with.
    let form = b"mandrill_events=%5B%7B%22event%22%3A%22send%22%2C%22_id%22%3A%22msg-1%22%2C%22ts%22%3A1700000000%7D%5D";
    let h = [
        ("x-mandrill-signature", "r4g1DYLvSWFYuxa6MaWCyAtZE2w="),
        ("content-type", "application/x-www-form-urlencoded"),
    ];
    let a = post(&p, "/mandrill", &h, form).await;
    assert_eq!(a.status, 200, "{}", a.text());
    let got = up.received();
    assert_eq!(&got[0].body[..], &form[..]);
    let a = post(&p, "/mandrill", &h, &form[..form.len() - 3]).await;
    assert_rejected(&a, 401, "invalid_signature");
    assert_eq!(up.count(), 1, "the HEAD was forwarded");
}

#[tokio::test]
async fn smartsheet_challenge_is_echoed_and_callbacks_verify() {
    let up = Upstream::start().await;
    let (p, admin) = start(&up).await;
    // Smartsheet "Webhook verification": the verification request as its
    // docs show it, header and body carrying the same value.
    let value = "d78dd1d3-01ce-4481-81de-92b4f3aa5ab1";
    let body = format!(r#"{{"challenge":"{value}","webhookId":2674017481058180}}"#);
    let h = [
        ("smartsheet-hook-challenge", value),
        ("content-type", "application/json"),
    ];
    let a = post(&p, "/smartsheet", &h, body.as_bytes()).await;
    assert_eq!(a.status, 200, "{}", a.text());
    assert_eq!(a.headers["smartsheet-hook-response"], value);
    let v: serde_json::Value = serde_json::from_slice(&a.body).unwrap();
    assert_eq!(v, serde_json::json!({ "smartsheetHookResponse": value }));
    let d = last_decision(admin, "/smartsheet").await;
    assert_eq!(d["outcome"], "handshake", "{d}");

    // A callback (computed vector, Python hmac) verifies; a tampered one not.
    let event = br#"{"nonce":"abc","webhookId":1,"events":[]}"#;
    let sig = (
        "smartsheet-hmac-sha256",
        "d1748085768169d5391cba4eebd5e41ce1f9770f08ce9ccde60ddd85f7c1194b",
    );
    let a = post(&p, "/smartsheet", &[sig], event).await;
    assert_eq!(a.status, 200, "{}", a.text());
    assert_eq!(a.text(), "ok from upstream");
    let a = post(
        &p,
        "/smartsheet",
        &[sig],
        br#"{"nonce":"abd","webhookId":1,"events":[]}"#,
    )
    .await;
    assert_rejected(&a, 401, "invalid_signature");
    // Not answered on another provider's route.
    let a = post(&p, "/github", &h, body.as_bytes()).await;
    assert_rejected(&a, 401, "missing_signature");
    assert!(a.headers.get("smartsheet-hook-response").is_none());
    assert_eq!(up.count(), 1, "only the callback is forwarded");
}

/// A token as monday.com mints it ("Authorization header": HS256 under the
/// Signing Secret, aud = the endpoint, exp five minutes after iat), made
/// with the `jsonwebtoken` library.
fn monday_token(aud: &str) -> String {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let claims = serde_json::json!({
        "accountId": 1825528, "userId": 4012689, "aud": aud,
        "iat": now, "exp": now + 300, "shortLivedToken": "SHORT_LIVED_TOKEN_HERE",
    });
    let key = EncodingKey::from_secret(MONDAY_SECRET.as_bytes());
    encode(&Header::new(Algorithm::HS256), &claims, &key).unwrap()
}

#[tokio::test]
async fn monday_challenge_is_echoed_and_app_requests_verify() {
    let up = Upstream::start().await;
    let (p, admin) = start(&up).await;
    let json = ("content-type", "application/json");
    // monday.com "Webhooks", URL verification: its docs' example challenge,
    // unsigned (board webhooks carry no token), echoed as the same JSON.
    let challenge = br#"{"challenge":"3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P"}"#;
    let a = post(&p, "/monday", &[json], challenge).await;
    assert_eq!(a.status, 200, "{}", a.text());
    let v: serde_json::Value = serde_json::from_slice(&a.body).unwrap();
    let sent: serde_json::Value = serde_json::from_slice(challenge).unwrap();
    assert_eq!(v, sent);
    assert_eq!(
        last_decision(admin, "/monday").await["outcome"],
        "handshake"
    );
    // An app's challenge carries its token: answered once it verified.
    let token = monday_token(MONDAY_URL);
    let auth = ("authorization", token.as_str());
    let a = post(&p, "/monday", &[json, auth], challenge).await;
    assert_eq!(a.status, 200, "{}", a.text());
    assert_eq!(
        serde_json::from_slice::<serde_json::Value>(&a.body).unwrap(),
        sent
    );

    for other in [
        &br#"{"challenge":""}"#[..],
        br#"{"challenge":"c","event":{}}"#,
        br#"{"event":{"type":"create_pulse"}}"#,
        b"not json",
    ] {
        let a = post(&p, "/monday", &[json], other).await;
        assert_rejected(&a, 401, "missing_signature");
    }
    // An app request with its token is forwarded, the token removed.
    let event = br#"{"event":{"type":"create_pulse","boardId":1}}"#;
    let a = post(&p, "/monday", &[json, auth], event).await;
    assert_eq!(a.status, 200, "{}", a.text());
    assert_eq!(a.text(), "ok from upstream");
    let got = up.received();
    assert_eq!(&got[0].body[..], &event[..]);
    assert!(got[0].headers.get("authorization").is_none());
    // A token minted for another endpoint, or under another key, is not.
    let elsewhere = monday_token("https://hooks.example.com/other");
    let a = post(&p, "/monday", &[json, ("authorization", &elsewhere)], event).await;
    assert_rejected(&a, 401, "invalid_signature");
    let (head, sig) = token.rsplit_once('.').unwrap();
    let forged = format!("{head}.{}", sig.chars().rev().collect::<String>());
    let a = post(&p, "/monday", &[json, ("authorization", &forged)], event).await;
    assert_rejected(&a, 401, "invalid_signature");
    // Not answered on another provider's route.
    let a = post(&p, "/github", &[json], challenge).await;
    assert_rejected(&a, 401, "missing_signature");
    assert_eq!(up.count(), 1, "only the app's event is forwarded");
}

#[tokio::test]
async fn strava_subscription_check_is_answered_and_events_need_its_id() {
    let up = Upstream::start().await;
    let (p, admin) = start(&up).await;
    // Strava "Webhook Events API": the subscription validation request and
    // the JSON it expects back.
    let check = "/strava?hub.verify_token=STRAVA&hub.challenge=15f7d1a91c1f40f8a748fd134752feb3&hub.mode=subscribe";
    let a = send(&p, "GET", check, &[], b"").await;
    assert_eq!(a.status, 200, "{}", a.text());
    assert_eq!(a.headers["content-type"], "application/json");
    let v: serde_json::Value = serde_json::from_slice(&a.body).unwrap();
    assert_eq!(
        v,
        serde_json::json!({ "hub.challenge": "15f7d1a91c1f40f8a748fd134752feb3" })
    );
    assert_eq!(
        last_decision(admin, "/strava").await["outcome"],
        "handshake"
    );
    let wrong = "/strava?hub.verify_token=GUESS&hub.challenge=1&hub.mode=subscribe";
    assert_rejected(
        &send(&p, "GET", wrong, &[], b"").await,
        401,
        "invalid_signature",
    );

    // An event of the subscription (its docs' fields) is forwarded as sent;
    // one naming another subscription, or not shaped as Strava's, is not.
    let json = ("content-type", "application/json");
    let event = br#"{"aspect_type":"create","event_time":1516126040,"object_id":1360128428,"object_type":"activity","owner_id":134815,"subscription_id":120475,"updates":{}}"#;
    let a = post(&p, "/strava", &[json], event).await;
    assert_eq!(a.status, 200, "{}", a.text());
    assert_eq!(&up.received()[0].body[..], &event[..]);
    let other = String::from_utf8_lossy(event).replace("120475", "120476");
    let a = post(&p, "/strava", &[json], other.as_bytes()).await;
    assert_rejected(&a, 401, "invalid_signature");
    let a = post(&p, "/strava", &[json], br#"{"subscription_id":120475}"#).await;
    assert_rejected(&a, 401, "missing_signature");
    // The check is answered only on Strava's route.
    let a = send(&p, "GET", &check.replace("/strava", "/github"), &[], b"").await;
    assert_eq!(a.status, 405);
    assert_eq!(up.count(), 1, "only the event is forwarded");
}
