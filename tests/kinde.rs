//! `provider = "kinde"` end to end: bodies that are RS256 JWTs with the
//! claims Kinde documents (`event_id`, `type`, `source`, `data`,
//! `timestamp`), made here with the `jsonwebtoken` library; the business's
//! JWKS served by a real HTTPS key server on loopback, named through
//! `[route.keys] url`, `allow` and `ca`.

mod common;

use common::*;
use jsonwebtoken::{encode, Algorithm, EncodingKey, Header};
use ring::signature::RsaKeyPair;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::PrivatePkcs1KeyDer;
use serde_json::{json, Value};

const RSA_PRIVATE: &str = include_str!("../src/providers/testdata/rsa_test_private.pem");
const RSA_PUBLIC: &str = include_str!("../src/providers/testdata/rsa_test_public.pem");
const JWKS_PATH: &str = "/.well-known/jwks.json";
const KID: &str = "2a:e0:4f";

fn pkcs1() -> Vec<u8> {
    PrivatePkcs1KeyDer::from_pem_slice(RSA_PRIVATE.as_bytes())
        .unwrap()
        .secret_pkcs1_der()
        .to_vec()
}

fn jwks() -> String {
    let pair = RsaKeyPair::from_der(&pkcs1()).unwrap();
    let public = ring::rsa::PublicKeyComponents::<Vec<u8>>::from(pair.public());
    let b64url = |b: &[u8]| {
        use base64::Engine as _;
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b)
    };
    json!({"keys": [{
        "kty": "RSA", "alg": "RS256", "use": "sig", "kid": KID,
        "n": b64url(&public.n), "e": b64url(&public.e),
    }]})
    .to_string()
}

fn rfc3339(secs: i64) -> String {
    let t = time::OffsetDateTime::from_unix_timestamp(secs).unwrap();
    t.format(&time::format_description::well_known::Rfc3339)
        .unwrap()
}

/// A `user.created` event as Kinde's docs show it, dated `at`.
fn claims(event_id: &str, at: i64) -> Value {
    json!({
        "data": {"user": {"email": "user@example.com", "id": "kp_1234567890"}},
        "event_id": event_id,
        "event_timestamp": rfc3339(at),
        "source": "admin",
        "timestamp": rfc3339(at),
        "type": "user.created",
    })
}

fn rs256(kid: &str, claims: &Value) -> String {
    let mut header = Header::new(Algorithm::RS256);
    header.kid = Some(kid.to_owned());
    encode(&header, claims, &EncodingKey::from_rsa_der(&pkcs1())).unwrap()
}

async fn deliver(proxy: &hookguard::runtime::Running, token: &str) -> Answer {
    let headers = [("content-type", "application/jwt")];
    post(proxy, "/kinde", &headers, token.as_bytes()).await
}

struct Setup {
    keys: KeyServer,
    upstream: Upstream,
    proxy: hookguard::runtime::Running,
}

fn route(keys: &KeyServer) -> String {
    format!(
        "path = \"/kinde\"\nprovider = \"kinde\"\n[route.keys]\nurl = \"{}\"\n\
         allow = [\"{}/\"]\nca = \"file:{}\"\n",
        keys.url(JWKS_PATH),
        keys.base,
        keys.ca_path.display()
    )
}

async fn setup() -> Setup {
    let keys = KeyServer::start().await;
    keys.serve(JWKS_PATH, jwks());
    let upstream = Upstream::start().await;
    let proxy = proxy(&TomlConfig::new().route(&route(&keys)).build(), &upstream).await;
    Setup {
        keys,
        upstream,
        proxy,
    }
}

#[tokio::test]
async fn a_signed_event_is_forwarded_byte_for_byte_and_a_replay_is_a_duplicate() {
    let s = setup().await;
    let token = rs256(KID, &claims("event_0001", now_secs()));
    let answer = deliver(&s.proxy, &token).await;
    assert_eq!(answer.status, 200, "{}", answer.text());
    let got = &s.upstream.received()[0];
    assert_eq!(got.body, token.as_bytes());
    assert_eq!(got.headers["x-hookguard-event-id"], "event_0001");
    assert_eq!(
        deliver(&s.proxy, &token).await.text(),
        r#"{"status":"duplicate"}"#
    );
    assert_eq!(s.upstream.count(), 1);
    assert_eq!(s.keys.fetches(JWKS_PATH), 1);
}

#[tokio::test]
async fn tokens_kinde_did_not_sign_now_are_refused() {
    let s = setup().await;
    let now = now_secs();
    let b64 = |text: &str| {
        use base64::Engine as _;
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(text)
    };
    let good = rs256(KID, &claims("event_0002", now));
    let (head, rest) = good.split_once('.').unwrap();
    let (_, sig) = rest.split_once('.').unwrap();
    let forged = b64(&claims("event_9999", now).to_string());
    let mut hs = Header::new(Algorithm::HS256);
    hs.kid = Some(KID.into());
    let mut expired = claims("event_0003", now);
    expired["exp"] = json!(now - 600);
    let mut no_id = claims("event_0004", now);
    no_id.as_object_mut().unwrap().remove("event_id");
    let mut no_time = claims("event_0005", now);
    no_time.as_object_mut().unwrap().remove("timestamp");
    let cases: Vec<(&str, String, &str)> = vec![
        (
            "tampered claims",
            format!("{head}.{forged}.{sig}"),
            "invalid_signature",
        ),
        (
            "alg none",
            format!(
                "{}.{forged}.",
                b64(&format!(r#"{{"alg":"none","typ":"JWT","kid":"{KID}"}}"#))
            ),
            "invalid_signature",
        ),
        (
            "HS256 keyed with the public key",
            encode(
                &hs,
                &claims("event_0006", now),
                &EncodingKey::from_secret(RSA_PUBLIC.as_bytes()),
            )
            .unwrap(),
            "invalid_signature",
        ),
        (
            "ten minutes old",
            rs256(KID, &claims("event_0007", now - 600)),
            "timestamp_out_of_tolerance",
        ),
        (
            "ten minutes ahead",
            rs256(KID, &claims("event_0008", now + 600)),
            "timestamp_out_of_tolerance",
        ),
        (
            "expired",
            rs256(KID, &expired),
            "timestamp_out_of_tolerance",
        ),
        ("no event_id", rs256(KID, &no_id), "invalid_signature"),
        ("no time", rs256(KID, &no_time), "missing_signature"),
        ("empty body", String::new(), "missing_signature"),
    ];
    for (what, token, code) in &cases {
        let answer = deliver(&s.proxy, token).await;
        assert_eq!(answer.status, 401, "{what}: {}", answer.text());
        assert_rejected(&answer, 401, code);
    }
    assert_eq!(s.upstream.count(), 0);
}

#[tokio::test]
async fn unknown_kids_are_refused_with_one_fetch() {
    let s = setup().await;
    for kid in ["rotated-1", "rotated-2", "rotated-3"] {
        let token = rs256(kid, &claims(kid, now_secs()));
        assert_rejected(&deliver(&s.proxy, &token).await, 401, "invalid_signature");
    }
    assert_eq!(s.keys.fetches(JWKS_PATH), 1);
}

#[tokio::test]
async fn an_unreachable_jwks_is_503_until_it_recovers() {
    let s = setup().await;
    let token = rs256(KID, &claims("event_0100", now_secs()));
    s.keys
        .outage_then_recovery(&s.upstream, || deliver(&s.proxy, &token))
        .await;
}

/// `hookguard check` on a config with one `[[route]]` of `lines`.
fn check(lines: &str) -> (bool, String) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("hookguard.toml");
    let toml = format!(
        "[server]\nlisten = \"127.0.0.1:0\"\n[upstream]\nurl = \"http://127.0.0.1:9\"\n\
         [[route]]\n{lines}"
    );
    std::fs::write(&path, toml).unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_hookguard"))
        .args(["check", "-c", path.to_str().unwrap()])
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

#[test]
fn the_route_must_name_a_kinde_jwks_url() {
    let (ok, text) = check("path = \"/kinde\"\nprovider = \"kinde\"\n");
    assert!(!ok, "{text}");
    assert!(text.contains("route[0].keys.url"), "{text}");
    let (ok, text) = check(
        "path = \"/kinde\"\nprovider = \"kinde\"\n[route.keys]\n\
         url = \"https://acme.kinde.com.evil.example/.well-known/jwks.json\"\n",
    );
    assert!(!ok, "{text}");
    assert!(text.contains("route[0].keys.url"), "{text}");
    let (ok, text) = check(
        "path = \"/kinde\"\nprovider = \"kinde\"\n[route.keys]\n\
         url = \"https://acme.kinde.com/.well-known/jwks.json\"\n",
    );
    assert!(ok, "{text}");
    assert!(
        text.contains("JWKS https://acme.kinde.com/.well-known/jwks.json"),
        "{text}"
    );
}
