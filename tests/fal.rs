//! `provider = "fal"` end to end: deliveries signed here with the key of the
//! published fal.ai vector (Ed25519 seed 00..1f) over the documented
//! message, the JWKS served by a real HTTPS key server on loopback and named
//! through `[route.keys] url` and `ca`.

mod common;

use common::*;
use ring::digest;
use ring::signature::Ed25519KeyPair;

const JWKS_PATH: &str = "/.well-known/jwks.json";
/// The vector's public key, with a key of another curve beside it (skipped).
const JWKS: &str = r#"{"keys":[
  {"kty":"EC","crv":"P-256","x":"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU","y":"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"},
  {"kty":"OKP","crv":"Ed25519","x":"A6EHv_POEL4dcN0Y50vAmWfk1jCbpQ1fHdyGZBJVMbg"}]}"#;

fn key_pair() -> Ed25519KeyPair {
    let seed: Vec<u8> = (0u8..32).collect();
    Ed25519KeyPair::from_seed_unchecked(&seed).unwrap()
}

/// Request headers, name and value.
type Headers = Vec<(&'static str, String)>;

/// fal's four headers for `body`, signed at `ts`.
fn signed(request_id: &str, ts: i64, body: &[u8]) -> Headers {
    let hash = hex::encode(digest::digest(&digest::SHA256, body));
    let message = format!("{request_id}\nuser_456\n{ts}\n{hash}");
    let signature = hex::encode(key_pair().sign(message.as_bytes()));
    vec![
        ("x-fal-webhook-request-id", request_id.to_owned()),
        ("x-fal-webhook-user-id", "user_456".to_owned()),
        ("x-fal-webhook-timestamp", ts.to_string()),
        ("x-fal-webhook-signature", signature),
        ("content-type", "application/json".to_owned()),
    ]
}

async fn deliver(
    proxy: &hookguard::runtime::Running,
    headers: &[(&str, String)],
    body: &[u8],
) -> Answer {
    let headers: Vec<(&str, &str)> = headers.iter().map(|(n, v)| (*n, v.as_str())).collect();
    post(proxy, "/fal", &headers, body).await
}

fn body(request_id: &str) -> Vec<u8> {
    format!(r#"{{"request_id":"{request_id}","status":"OK","payload":{{}}}}"#).into_bytes()
}

struct Setup {
    keys: KeyServer,
    upstream: Upstream,
    proxy: hookguard::runtime::Running,
}

async fn setup() -> Setup {
    let keys = KeyServer::start().await;
    keys.serve(JWKS_PATH, JWKS);
    let upstream = Upstream::start().await;
    let route = format!(
        "path = \"/fal\"\nprovider = \"fal\"\n[route.keys]\nurl = \"{}\"\nca = \"file:{}\"\n",
        keys.url(JWKS_PATH),
        keys.ca_path.display()
    );
    let proxy = proxy(&TomlConfig::new().route(&route).build(), &upstream).await;
    Setup {
        keys,
        upstream,
        proxy,
    }
}

#[tokio::test]
async fn a_signed_delivery_is_forwarded_once_and_a_replay_is_a_duplicate() {
    let s = setup().await;
    let body = body("req_123");
    let headers = signed("req_123", now_secs(), &body);
    let answer = deliver(&s.proxy, &headers, &body).await;
    assert_eq!(answer.status, 200, "{}", answer.text());
    let got = &s.upstream.received()[0];
    assert_eq!(got.body, body);
    assert_eq!(got.headers["x-hookguard-event-id"], "req_123");
    assert_eq!(
        deliver(&s.proxy, &headers, &body).await.text(),
        r#"{"status":"duplicate"}"#
    );
    assert_eq!(s.upstream.count(), 1);
    assert_eq!(s.keys.fetches(JWKS_PATH), 1);
}

#[tokio::test]
async fn tampered_and_stale_deliveries_are_refused() {
    let s = setup().await;
    let body = body("req_200");
    let now = now_secs();
    let good = signed("req_200", now, &body);
    let mut other_user = good.clone();
    other_user[1].1 = "user_457".into();
    let mut other_id = good.clone();
    other_id[0].1 = "req_201".into();
    let cases: Vec<(&str, Headers, Vec<u8>, u16, &str)> = vec![
        (
            "tampered body",
            good.clone(),
            b"{}".to_vec(),
            401,
            "invalid_signature",
        ),
        (
            "other user id",
            other_user,
            body.clone(),
            401,
            "invalid_signature",
        ),
        (
            "other request id",
            other_id,
            body.clone(),
            401,
            "invalid_signature",
        ),
        (
            "six minutes old",
            signed("req_200", now - 360, &body),
            body.clone(),
            401,
            "timestamp_out_of_tolerance",
        ),
        (
            "six minutes ahead",
            signed("req_200", now + 360, &body),
            body.clone(),
            401,
            "timestamp_out_of_tolerance",
        ),
        (
            "no signature",
            good[..3].to_vec(),
            body.clone(),
            401,
            "missing_signature",
        ),
    ];
    for (what, headers, body, status, code) in &cases {
        let answer = deliver(&s.proxy, headers, body).await;
        assert_eq!(answer.status, *status, "{what}: {}", answer.text());
        assert_rejected(&answer, *status, code);
    }
    assert_eq!(s.upstream.count(), 0);
}

#[tokio::test]
async fn an_unreachable_jwks_is_503_until_it_recovers() {
    let s = setup().await;
    let body = body("req_300");
    let headers = signed("req_300", now_secs(), &body);
    s.keys
        .outage_then_recovery(&s.upstream, || deliver(&s.proxy, &headers, &body))
        .await;
}
