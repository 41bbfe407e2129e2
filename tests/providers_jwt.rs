//! End-to-end for the JWT family: the real proxy and a real upstream on
//! ephemeral loopback ports. MessageBird, Netlify and Vonage deliveries are
//! forwarded once, then refused as duplicates; a tampered body or URL, a
//! stale or future token and a missing token are refused. The generic `jwt`
//! route refuses the classic attacks on JWT verifiers: `alg: none`, an
//! HS256 token keyed with the route's RSA public key, expired and not-yet
//! valid tokens.
//!
//! Netlify's request is its outside vector (PyJWT, see
//! `src/providers/vectors.rs`); fresh-timestamp tokens are made here with the
//! `jsonwebtoken` library from each provider's documented claims, sharing no
//! code with `src/providers`.

mod common;

use common::*;
use jsonwebtoken::{encode, Algorithm, EncodingKey, Header};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::PrivatePkcs1KeyDer;
use serde_json::{json, Value};

const RSA_PRIVATE: &str = include_str!("../src/providers/testdata/rsa_test_private.pem");
const RSA_PUBLIC: &str = include_str!("../src/providers/testdata/rsa_test_public.pem");
const MB_SECRET: &str = "36efdd1aace2e26cd490f0d951138253bef2f7c6d34d18981da781555cc4cebb";
const VONAGE_SECRET: &str = "vonage_signature_secret_32_chars_ok";

const NETLIFY_BODY: &[u8] = br#"{"id":"deploy_1","state":"ready"}"#;
const NETLIFY_JWS: &str = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJpc3MiOiJuZXRsaWZ5Iiwic2hhMjU2IjoiZjk0ZGQ2MTk1NmU0OWVlN2ZlYTk1NWJlZTMxMTYyN2Y3M2U4YzE2ZTgzNDcyYjliZmMxNjA4ZDNlNTIxZDg0ZiJ9.pvk3mslXHLrob_Y3UZH-avZdqRXsEgaPSPGWHMBFuN4";

fn config() -> String {
    TomlConfig::new()
        .route(&format!(
            "path = \"/mb\"\nprovider = \"messagebird\"\nsecrets = [\"{MB_SECRET}\"]\n\
             public_url = \"https://example.com/mb\""
        ))
        .route("path = \"/netlify\"\nprovider = \"netlify\"\nsecrets = [\"netlify_jws_secret\"]")
        .route(&format!(
            "path = \"/vonage\"\nprovider = \"vonage\"\nsecrets = [\"{VONAGE_SECRET}\"]"
        ))
        .route(&format!(
            "path = \"/jwt\"\nprovider = \"jwt\"\npublic_key = '''\n{RSA_PUBLIC}'''"
        ))
        .build()
}

fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(ring::digest::digest(&ring::digest::SHA256, bytes))
}

fn hs256(secret: &str, claims: &Value) -> String {
    encode(
        &Header::new(Algorithm::HS256),
        claims,
        &EncodingKey::from_secret(secret.as_bytes()),
    )
    .unwrap()
}

fn rs256(claims: &Value) -> String {
    let der = PrivatePkcs1KeyDer::from_pem_slice(RSA_PRIVATE.as_bytes()).unwrap();
    let key = EncodingKey::from_rsa_der(der.secret_pkcs1_der());
    encode(&Header::new(Algorithm::RS256), claims, &key).unwrap()
}

/// MessageBird's claims (its SDK's request_validator.py): nbf/exp 60 s
/// apart, url_hash of the full URL, payload_hash of a non-empty body.
fn messagebird_token(url: &str, body: &[u8], jti: &str) -> String {
    let now = now_secs();
    let mut claims = json!({
        "iss": "MessageBird", "nbf": now, "exp": now + 60, "jti": jti,
        "url_hash": sha256_hex(url.as_bytes()),
    });
    if !body.is_empty() {
        claims["payload_hash"] = sha256_hex(body).into();
    }
    hs256(MB_SECRET, &claims)
}

#[tokio::test]
async fn messagebird_binds_body_url_and_time() {
    let up = Upstream::start().await;
    let p = proxy(&config(), &up).await;
    let url = "https://example.com/mb?bar=1&foo=2";
    let body = b"Hello, World!";
    let token = messagebird_token(url, body, "jti-1");
    let h = [("messagebird-signature-jwt", token.as_str())];
    let a = post(&p, "/mb?bar=1&foo=2", &h, body).await;
    assert_eq!(a.status, 200, "{}", a.text());
    let got = up.received();
    assert_eq!(got[0].headers["x-hookguard-verified"], "messagebird");
    assert_eq!(got[0].headers["x-hookguard-event-id"], "jti-1");
    assert_eq!(&got[0].body[..], body);

    let a = post(&p, "/mb?bar=1&foo=2", &h, body).await;
    assert_eq!(a.text(), r#"{"status":"duplicate"}"#);
    // The same token for another body, another query, no body at all.
    assert_rejected(
        &post(&p, "/mb?bar=1&foo=2", &h, b"Hello, World?").await,
        401,
        "invalid_signature",
    );
    assert_rejected(
        &post(&p, "/mb?foo=2&bar=1", &h, body).await,
        401,
        "invalid_signature",
    );
    assert_rejected(
        &post(&p, "/mb?bar=1&foo=2", &h, b"").await,
        401,
        "invalid_signature",
    );
    assert_rejected(
        &post(&p, "/mb?bar=1&foo=2", &[], body).await,
        401,
        "missing_signature",
    );
    // Expired an hour ago (MessageBird allows 1 s of skew).
    let now = now_secs();
    let stale = hs256(
        MB_SECRET,
        &json!({"iss": "MessageBird", "nbf": now - 3600, "exp": now - 3540, "jti": "old",
                "url_hash": sha256_hex(url.as_bytes()), "payload_hash": sha256_hex(body)}),
    );
    let a = post(
        &p,
        "/mb?bar=1&foo=2",
        &[("messagebird-signature-jwt", &stale)],
        body,
    )
    .await;
    assert_rejected(&a, 401, "timestamp_out_of_tolerance");
    assert_eq!(up.count(), 1);
}

#[tokio::test]
async fn netlify_vector_through_the_proxy() {
    let up = Upstream::start().await;
    let p = proxy(&config(), &up).await;
    let h = [("x-webhook-signature", NETLIFY_JWS)];
    let a = post(&p, "/netlify", &h, NETLIFY_BODY).await;
    assert_eq!(a.status, 200, "{}", a.text());
    let got = up.received();
    assert_eq!(got[0].headers["x-hookguard-verified"], "netlify");
    // A signature, not a credential: forwarded as received.
    assert_eq!(got[0].headers["x-webhook-signature"], NETLIFY_JWS);
    // No time claim: only the replay store stops a copy.
    let a = post(&p, "/netlify", &h, NETLIFY_BODY).await;
    assert_eq!(a.text(), r#"{"status":"duplicate"}"#);
    let tampered = br#"{"id":"deploy_2","state":"ready"}"#;
    assert_rejected(
        &post(&p, "/netlify", &h, tampered).await,
        401,
        "invalid_signature",
    );
    assert_rejected(
        &post(&p, "/netlify", &[], NETLIFY_BODY).await,
        401,
        "missing_signature",
    );
    assert_eq!(up.count(), 1);
}

#[tokio::test]
async fn vonage_payload_hash_and_iat_window() {
    let up = Upstream::start().await;
    let p = proxy(&config(), &up).await;
    let body = br#"{"message_uuid":"aaaaaaaa-bbbb-cccc-dddd-0123456789ab","status":"delivered"}"#;
    let token_at = |iat: i64, jti: &str| {
        let claims = json!({"iat": iat, "jti": jti, "iss": "Vonage", "api_key": "abc123",
                            "application_id": "app1", "payload_hash": sha256_hex(body)});
        format!("Bearer {}", hs256(VONAGE_SECRET, &claims))
    };
    let fresh = token_at(now_secs(), "j-1");
    let a = post(&p, "/vonage", &[("authorization", &fresh)], body).await;
    assert_eq!(a.status, 200, "{}", a.text());
    assert_eq!(up.received()[0].headers["x-hookguard-verified"], "vonage");
    let a = post(&p, "/vonage", &[("authorization", &fresh)], body).await;
    assert_eq!(a.text(), r#"{"status":"duplicate"}"#);
    let tampered =
        br#"{"message_uuid":"aaaaaaaa-bbbb-cccc-dddd-0123456789ab","status":"rejected"}"#;
    let a = post(&p, "/vonage", &[("authorization", &fresh)], tampered).await;
    assert_rejected(&a, 401, "invalid_signature");
    for iat in [now_secs() - 600, now_secs() + 600] {
        let a = post(
            &p,
            "/vonage",
            &[("authorization", &token_at(iat, "j-2"))],
            body,
        )
        .await;
        assert_rejected(&a, 401, "timestamp_out_of_tolerance");
    }
    assert_eq!(up.count(), 1);
}

#[tokio::test]
async fn generic_jwt_refuses_none_key_confusion_and_bad_times() {
    let up = Upstream::start().await;
    let p = proxy(&config(), &up).await;
    let now = now_secs();
    let good = rs256(&json!({"sub": "sender", "iat": now, "exp": now + 300}));
    let a = post(
        &p,
        "/jwt",
        &[("authorization", &format!("Bearer {good}"))],
        b"{}",
    )
    .await;
    assert_eq!(a.status, 200, "{}", a.text());
    let got = up.received();
    assert_eq!(got[0].headers["x-hookguard-verified"], "jwt");
    // A bearer credential: not handed on to the app.
    assert!(!got[0].headers.contains_key("authorization"));

    let b64 = |v: &Value| b64_url(v.to_string().as_bytes());
    let none = format!(
        "{}.{}.",
        b64(&json!({"alg": "none", "typ": "JWT"})),
        b64(&json!({"sub": "sender", "exp": now + 300}))
    );
    let confused = encode(
        &Header::new(Algorithm::HS256),
        &json!({"sub": "sender", "exp": now + 300}),
        &EncodingKey::from_secret(RSA_PUBLIC.as_bytes()),
    )
    .unwrap();
    for bad in [none, confused] {
        let a = post(
            &p,
            "/jwt",
            &[("authorization", &format!("Bearer {bad}"))],
            b"{}",
        )
        .await;
        assert_rejected(&a, 401, "invalid_signature");
    }
    for claims in [
        json!({"exp": now - 120}),
        json!({"exp": now + 600, "nbf": now + 300}),
        json!({"exp": now + 600, "iat": now + 300}),
    ] {
        let a = post(
            &p,
            "/jwt",
            &[("authorization", &format!("Bearer {}", rs256(&claims)))],
            b"{}",
        )
        .await;
        assert_rejected(&a, 401, "timestamp_out_of_tolerance");
    }
    assert_rejected(
        &post(&p, "/jwt", &[], b"{}").await,
        401,
        "missing_signature",
    );
    assert_eq!(up.count(), 1);
}

fn b64_url(bytes: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}
