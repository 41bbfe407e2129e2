//! `provider = "plaid"` end to end: `Plaid-Verification` tokens made here
//! with the `jsonwebtoken` library (ES256, `iat`, `request_body_sha256`, as
//! Plaid's "Verify webhooks" page describes), the key endpoint a real HTTPS
//! server on loopback answering the POST with `{"key": <JWK>}`, named
//! through `[route.keys] url` and `ca`.

mod common;

use common::*;
use jsonwebtoken::{encode, Algorithm, EncodingKey, Header};
use ring::digest;
use ring::rand::SystemRandom;
use ring::signature::{EcdsaKeyPair, KeyPair, ECDSA_P256_SHA256_FIXED_SIGNING};
use serde_json::{json, Value};

const KEY_PATH: &str = "/webhook_verification_key/get";
const KID: &str = "bfbd5111-8e33-4643-8ced-b2e642a72f3c";
const CLIENT_ID: &str = "plaid-client-1";
const SECRET: &str = "plaid-s3cret-value";

struct Signer {
    pkcs8: Vec<u8>,
    jwk: Value,
}

fn signer() -> Signer {
    let rng = SystemRandom::new();
    let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng)
        .unwrap()
        .as_ref()
        .to_vec();
    let pair = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &pkcs8, &rng).unwrap();
    let point = pair.public_key().as_ref(); // 0x04 || x || y
    let b64url = |b: &[u8]| {
        use base64::Engine as _;
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b)
    };
    let jwk = json!({
        "alg": "ES256", "created_at": 1_560_466_143, "crv": "P-256", "expired_at": null,
        "kid": KID, "kty": "EC", "use": "sig",
        "x": b64url(&point[1..33]), "y": b64url(&point[33..]),
    });
    Signer { pkcs8, jwk }
}

fn sign(s: &Signer, kid: &str, iat: i64, body: &[u8]) -> String {
    let mut header = Header::new(Algorithm::ES256);
    header.kid = Some(kid.to_owned());
    let claims = json!({
        "iat": iat,
        "request_body_sha256": hex::encode(digest::digest(&digest::SHA256, body)),
    });
    encode(&header, &claims, &EncodingKey::from_ec_der(&s.pkcs8)).unwrap()
}

/// A webhook body as Plaid sends it: pretty-printed JSON.
fn webhook(item: &str) -> Vec<u8> {
    format!(
        "{{\n  \"webhook_type\": \"TRANSACTIONS\",\n  \"webhook_code\": \"SYNC_UPDATES_AVAILABLE\",\n  \"item_id\": \"{item}\"\n}}"
    )
    .into_bytes()
}

async fn deliver(proxy: &hookguard::runtime::Running, token: &str, body: &[u8]) -> Answer {
    let headers = [
        ("plaid-verification", token),
        ("content-type", "application/json"),
    ];
    post(proxy, "/plaid", &headers, body).await
}

struct Setup {
    keys: KeyServer,
    signer: Signer,
    upstream: Upstream,
    proxy: hookguard::runtime::Running,
}

async fn setup() -> Setup {
    let signer = signer();
    let keys = KeyServer::start().await;
    keys.serve(
        KEY_PATH,
        json!({"key": signer.jwk, "request_id": "RZ6Omi1bzzwDaLo"}).to_string(),
    );
    let upstream = Upstream::start().await;
    let route = format!(
        "path = \"/plaid\"\nprovider = \"plaid\"\n[route.keys]\nurl = \"{}\"\nca = \"file:{}\"\n\
         client_id = \"env:PLAID_CLIENT_ID\"\nclient_secret = \"env:PLAID_SECRET\"\n",
        keys.url(KEY_PATH),
        keys.ca_path.display()
    );
    let env = [
        ("PLAID_CLIENT_ID".to_owned(), CLIENT_ID.to_owned()),
        ("PLAID_SECRET".to_owned(), SECRET.to_owned()),
    ]
    .into_iter()
    .collect();
    let proxy = proxy_with_env(&TomlConfig::new().route(&route).build(), &upstream, &env).await;
    Setup {
        keys,
        signer,
        upstream,
        proxy,
    }
}

#[tokio::test]
async fn a_signed_webhook_is_forwarded_once_with_one_key_request() {
    let s = setup().await;
    let body = webhook("item-1");
    let token = sign(&s.signer, KID, now_secs(), &body);
    let answer = deliver(&s.proxy, &token, &body).await;
    assert_eq!(answer.status, 200, "{}", answer.text());
    assert_eq!(s.upstream.received()[0].body, body);
    assert_eq!(
        deliver(&s.proxy, &token, &body).await.text(),
        r#"{"status":"duplicate"}"#
    );
    let other = webhook("item-2");
    let second = sign(&s.signer, KID, now_secs(), &other);
    assert_eq!(deliver(&s.proxy, &second, &other).await.status, 200);
    assert_eq!(s.upstream.count(), 2);
    // One POST for the key id, with the route's credentials.
    let requests = s.keys.bodies();
    assert_eq!(requests.len(), 1, "the key is cached by kid");
    let (method, sent) = &requests[0];
    assert_eq!(method, http::Method::POST);
    let sent: Value = serde_json::from_slice(sent).unwrap();
    assert_eq!(
        sent,
        json!({"client_id": CLIENT_ID, "secret": SECRET, "key_id": KID})
    );
}

#[tokio::test]
async fn tokens_that_do_not_bind_this_body_now_are_refused() {
    let s = setup().await;
    let body = webhook("item-3");
    let now = now_secs();
    let reformatted: Value = serde_json::from_slice(&body).unwrap();
    let reformatted = reformatted.to_string().into_bytes();
    let mut hs = Header::new(Algorithm::HS256);
    hs.kid = Some(KID.into());
    let hs256 = encode(
        &hs,
        &json!({"iat": now}),
        &EncodingKey::from_secret(b"secret"),
    )
    .unwrap();
    let cases: Vec<(&str, String, Vec<u8>, &str)> = vec![
        (
            "another body",
            sign(&s.signer, KID, now, &body),
            webhook("item-4"),
            "invalid_signature",
        ),
        (
            "the body re-serialised",
            sign(&s.signer, KID, now, &body),
            reformatted,
            "invalid_signature",
        ),
        (
            "six minutes old",
            sign(&s.signer, KID, now - 360, &body),
            body.clone(),
            "timestamp_out_of_tolerance",
        ),
        (
            "six minutes ahead",
            sign(&s.signer, KID, now + 360, &body),
            body.clone(),
            "timestamp_out_of_tolerance",
        ),
        ("HS256", hs256, body.clone(), "invalid_signature"),
    ];
    for (what, token, body, code) in &cases {
        let answer = deliver(&s.proxy, token, body).await;
        assert_eq!(answer.status, 401, "{what}: {}", answer.text());
        assert_rejected(&answer, 401, code);
    }
    let none = post(&s.proxy, "/plaid", &[], &body).await;
    assert_rejected(&none, 401, "missing_signature");
    assert_eq!(s.upstream.count(), 0);
}

#[tokio::test]
async fn new_key_ids_cost_at_most_one_key_request_a_minute() {
    let s = setup().await;
    let body = webhook("item-5");
    let good = sign(&s.signer, KID, now_secs(), &body);
    assert_eq!(deliver(&s.proxy, &good, &body).await.status, 200);
    for i in 0..5 {
        let random = sign(&s.signer, &format!("random-{i}"), now_secs(), &body);
        assert_rejected(
            &deliver(&s.proxy, &random, &body).await,
            503,
            "key_unavailable",
        );
    }
    assert_eq!(s.keys.fetches(KEY_PATH), 1, "no request for the random ids");
}

#[tokio::test]
async fn an_unreachable_key_endpoint_is_503_until_it_recovers() {
    let s = setup().await;
    let body = webhook("item-6");
    let token = sign(&s.signer, KID, now_secs(), &body);
    s.keys
        .outage_then_recovery(&s.upstream, || deliver(&s.proxy, &token, &body))
        .await;
}
