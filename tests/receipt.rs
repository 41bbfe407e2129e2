//! End to end: the receipt (`[receipt]`) through the real proxy to a real
//! recording upstream. What the upstream received is verified with the
//! `standardwebhooks` crate (the Standard Webhooks project's own Rust
//! library, a dev-dependency), and `Content-Digest` with `ring::digest`:
//! never with hookguard's own code.

mod common;

use std::time::Duration;

use common::*;
use standardwebhooks::Webhook;

/// Receipt secrets in the specification's form (24 random bytes each).
const RECEIPT_A: &str = "whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD";
const RECEIPT_B: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
/// The provider's own Standard Webhooks secret (a different key).
const PROVIDER_SW: &str = "whsec_dGhlIHByb3ZpZGVyJ3Mgb3duIGtleSAyNGJ5";

fn config(receipt: &str, github_route: &str) -> String {
    config_with(receipt, github_route, TomlConfig::new())
}

/// [`config`] on top of `base` (e.g. with a `[spool]`).
fn config_with(receipt: &str, github_route: &str, base: TomlConfig) -> String {
    base.table(&format!("[receipt]\n{receipt}"))
        .route(&format!(
            "path = \"/gh\"\nprovider = \"github\"\nsecrets = [\"{GH_SECRET}\"]\n{github_route}"
        ))
        .route(&format!(
            "path = \"/sw\"\nprovider = \"standard-webhooks\"\nsecrets = [\"{PROVIDER_SW}\"]"
        ))
        .build()
}

/// A genuine GitHub delivery of `body` (signed here, from GitHub's docs).
async fn send_github_body(
    proxy: &hookguard::runtime::Running,
    body: &[u8],
    extra: &[(&str, &str)],
) -> Answer {
    let sig = format!("sha256={}", hmac256_hex(GH_SECRET, &[body]));
    let mut headers = vec![("x-hub-signature-256", sig.as_str())];
    headers.extend_from_slice(extra);
    post(proxy, "/gh", &headers, body).await
}

async fn send_github(proxy: &hookguard::runtime::Running, extra: &[(&str, &str)]) -> Answer {
    send_github_body(proxy, GH_BODY, extra).await
}

/// `Content-Digest: sha-256=:<base64>:` of `body`, computed here.
fn digest_of(body: &[u8]) -> String {
    let hash = ring::digest::digest(&ring::digest::SHA256, body);
    format!("sha-256=:{}:", b64(hash.as_ref()))
}

fn header<'a>(r: &'a Recorded, name: &str) -> &'a str {
    r.headers
        .get(name)
        .unwrap_or_else(|| panic!("{name} missing: {:?}", r.headers))
        .to_str()
        .unwrap()
}

#[tokio::test]
async fn forwarded_requests_carry_a_receipt_any_standard_webhooks_library_verifies() {
    let up = Upstream::start().await;
    let proxy = proxy(&config(&format!("secret = \"{RECEIPT_A}\""), ""), &up).await;
    let before = now_secs();
    let forged = [
        ("webhook-id", "msg_forged"),
        ("webhook-timestamp", "1"),
        ("webhook-signature", "v1,Zm9yZ2Vk"),
        ("content-digest", "sha-256=:Zm9yZ2Vk:"),
    ];
    let bodies: [&[u8]; 2] = [GH_BODY, b"{\"zen\":\"Keep it logically awesome.\"}"];
    assert_eq!(
        send_github_body(&proxy, bodies[0], &forged).await.status,
        200
    );
    assert_eq!(send_github_body(&proxy, bodies[1], &[]).await.status, 200);
    let after = now_secs();
    let got = up.received();
    assert_eq!(got.len(), 2);
    let receipt = Webhook::new(RECEIPT_A).unwrap();
    for (r, body) in got.iter().zip(bodies) {
        assert_eq!(r.body, body);
        receipt
            .verify(&r.body, &r.headers)
            .expect("the receipt verifies");
        let ts: i64 = header(r, "webhook-timestamp").parse().unwrap();
        assert!(
            (before..=after).contains(&ts),
            "{ts} not in {before}..={after}"
        );
        assert_eq!(header(r, "content-digest"), digest_of(body));
        assert_eq!(r.headers.get_all("webhook-signature").iter().count(), 1);
        assert!(header(r, "webhook-id").starts_with("msg_"));
        assert_ne!(header(r, "webhook-id"), "msg_forged");
    }
    // GitHub signs no event id: each forward gets a fresh one.
    assert_ne!(header(&got[0], "webhook-id"), header(&got[1], "webhook-id"));
    proxy.shutdown().await;
}

#[tokio::test]
async fn tampering_and_requests_that_bypass_hookguard_fail_verification() {
    let up = Upstream::start().await;
    let proxy = proxy(&config(&format!("secret = \"{RECEIPT_A}\""), ""), &up).await;
    let body = br#"{"type":"invoice.paid"}"#;
    let signed = standard_webhooks_headers(PROVIDER_SW, "msg_provider_1", now_secs(), body);
    let refs: Vec<(&str, &str)> = signed.iter().map(|(k, v)| (&**k, &**v)).collect();
    assert_eq!(post(&proxy, "/sw", &refs, body).await.status, 200);
    let got = up.received().pop().unwrap();
    let receipt = Webhook::new(RECEIPT_A).unwrap();
    receipt.verify(&got.body, &got.headers).expect("genuine");
    // The provider's signed event id is the message id.
    assert_eq!(header(&got, "webhook-id"), "msg_provider_1");
    // The body changed between hookguard and the app.
    let mut tampered = got.body.to_vec();
    tampered[2] ^= 1;
    assert!(receipt.verify(&tampered, &got.headers).is_err());
    // The id changed.
    let mut other_id = got.headers.clone();
    other_id.insert("webhook-id", "msg_provider_2".parse().unwrap());
    assert!(receipt.verify(&got.body, &other_id).is_err());
    // Sent straight to the app, the provider's own signature is no receipt.
    let mut direct = http::HeaderMap::new();
    for (k, v) in &signed {
        direct.insert(
            http::HeaderName::from_bytes(k.as_bytes()).unwrap(),
            v.parse().unwrap(),
        );
    }
    assert!(receipt.verify(body, &direct).is_err());
    proxy.shutdown().await;
}

#[tokio::test]
async fn every_unexpired_secret_signs_so_the_app_can_rotate() {
    let up = Upstream::start().await;
    let secrets = format!(
        "secret = [\"{RECEIPT_A}\", \"{RECEIPT_B}\", \
         {{ value = \"whsec_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\", expires = \"2020-01-01T00:00:00Z\" }}]"
    );
    let proxy = proxy(&config(&secrets, ""), &up).await;
    assert_eq!(send_github(&proxy, &[]).await.status, 200);
    let got = up.received().pop().unwrap();
    for secret in [RECEIPT_A, RECEIPT_B] {
        Webhook::new(secret)
            .unwrap()
            .verify(&got.body, &got.headers)
            .unwrap_or_else(|e| panic!("{secret}: {e}"));
    }
    let entries: Vec<&str> = header(&got, "webhook-signature").split(' ').collect();
    assert_eq!(entries.len(), 2, "the expired secret signs nothing");
    // The first listed signs first.
    let only_a = http::HeaderMap::from_iter(got.headers.iter().map(|(k, v)| {
        let v = if k == "webhook-signature" {
            entries[0].parse().unwrap()
        } else {
            v.clone()
        };
        (k.clone(), v)
    }));
    Webhook::new(RECEIPT_A)
        .unwrap()
        .verify(&got.body, &only_a)
        .expect("first entry is the first secret's");
    proxy.shutdown().await;
}

#[tokio::test]
async fn a_route_can_turn_the_receipt_off() {
    let up = Upstream::start().await;
    let proxy = proxy(
        &config(&format!("secret = \"{RECEIPT_A}\""), "receipt = false"),
        &up,
    )
    .await;
    let inbound = [("webhook-signature", "v1,aW5ib3VuZA==")];
    assert_eq!(send_github(&proxy, &inbound).await.status, 200);
    let got = up.received().pop().unwrap();
    assert!(!got.headers.contains_key("content-digest"));
    assert!(!got.headers.contains_key("webhook-id"));
    // Not hookguard's: what came in goes on, as without [receipt].
    assert_eq!(header(&got, "webhook-signature"), "v1,aW5ib3VuZA==");
    proxy.shutdown().await;
}

#[tokio::test]
async fn ed25519_receipts_verify_with_the_public_key() {
    let up = Upstream::start().await;
    let seed = [7u8; 32];
    let pair = ring::signature::Ed25519KeyPair::from_seed_unchecked(&seed).unwrap();
    let public = ring::signature::KeyPair::public_key(&pair)
        .as_ref()
        .to_vec();
    let receipt = format!("ed25519_key = \"whsk_{}\"", b64(&seed));
    let proxy = proxy(&config(&receipt, ""), &up).await;
    assert_eq!(send_github(&proxy, &[]).await.status, 200);
    let got = up.received().pop().unwrap();
    let sig = header(&got, "webhook-signature")
        .strip_prefix("v1a,")
        .unwrap();
    let message = [
        header(&got, "webhook-id").as_bytes(),
        b".",
        header(&got, "webhook-timestamp").as_bytes(),
        b".",
        &got.body,
    ]
    .concat();
    ring::signature::UnparsedPublicKey::new(&ring::signature::ED25519, &public)
        .verify(&message, &b64_decode(sig))
        .expect("v1a verifies with the public key");
    proxy.shutdown().await;
}

#[tokio::test]
async fn queued_attempts_keep_the_message_id_and_sign_a_new_timestamp() {
    let up = Upstream::start().await;
    // Each answer takes over a second, so the second attempt starts in a
    // later second than the first.
    up.set(Behavior {
        status: 503,
        delay: Duration::from_millis(1100),
        ..Behavior::default()
    });
    let tmp = temp_dir("receipt-queue");
    let queued = "delivery = \"queue\"\n\
         retry = { base = \"10ms\", cap = \"20ms\", max_attempts = 2, max_age = \"1h\" }";
    let spool = TomlConfig::new().table(&format!(
        "[spool]\ndir = {}",
        quoted(&tmp.path().join("spool").display().to_string())
    ));
    let toml = config_with(&format!("secret = \"{RECEIPT_A}\""), queued, spool);
    let proxy = proxy(&toml, &up).await;
    assert_eq!(send_github(&proxy, &[]).await.status, 202);
    up.wait_for_requests(2).await;
    let got = up.received();
    let receipt = Webhook::new(RECEIPT_A).unwrap();
    for r in &got {
        receipt
            .verify(&r.body, &r.headers)
            .expect("each attempt verifies");
        assert_eq!(header(r, "content-digest"), digest_of(GH_BODY));
    }
    assert_eq!(header(&got[0], "x-hookguard-attempt"), "1");
    assert_eq!(header(&got[1], "x-hookguard-attempt"), "2");
    assert_eq!(header(&got[0], "webhook-id"), header(&got[1], "webhook-id"));
    // The spool's own id for the record, and when it arrived.
    assert!(header(&got[0], "webhook-id").starts_with("hg_1_"));
    let ts = |r: &Recorded| header(r, "webhook-timestamp").parse::<i64>().unwrap();
    assert!(
        ts(&got[1]) > ts(&got[0]),
        "each attempt is signed when made"
    );
    proxy.shutdown().await;
}
