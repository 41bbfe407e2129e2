//! `provider = "microsoft-graph"` with `app_id`: rich notifications whose
//! `validationTokens` JWTs are checked against a JWKS served by a real HTTPS
//! key server on loopback (`[route.keys] url` and `ca`). Token claims as
//! Microsoft Learn "Set up change notifications that include resource data"
//! shows them (v1.0: `iss` sts.windows.net/<tid>/, `appid`), and the v2.0
//! form of the access token claims reference (`iss` .../<tid>/v2.0, `azp`).

mod common;
#[path = "support/jwt.rs"]
mod jwt;

use common::*;
use jwt::{hostile, jwks, rs256};
use serde_json::{json, Value};

const JWKS_PATH: &str = "/common/discovery/v2.0/keys";
const KID: &str = "graph-k1";
const APP_ID: &str = "8e460676-ae3f-4b1e-8790-ee0fb5d6148f";
const PUBLISHER: &str = "0bf30f3b-4a52-48df-9a82-234910c4a086";
const TENANT_A: &str = "84bd8158-6d4d-4958-8b9f-9d6445542f95";
const TENANT_B: &str = "bbbbcccc-1111-dddd-2222-eeee3333ffff";
const STATE: &str = "secretClientValue";

/// A v1.0 validation token for `APP_ID` from tenant `tid`, issued now.
fn v1(tid: &str) -> Value {
    let now = now_secs();
    json!({
        "aud": APP_ID, "iss": format!("https://sts.windows.net/{tid}/"),
        "iat": now, "nbf": now, "exp": now + 8 * 3600,
        "appid": PUBLISHER, "appidacr": "2", "tid": tid, "ver": "1.0",
    })
}

/// The same as a v2.0 token: `azp` for `appid`, the v2.0 issuer.
fn v2(tid: &str) -> Value {
    let now = now_secs();
    json!({
        "aud": APP_ID, "iss": format!("https://login.microsoftonline.com/{tid}/v2.0"),
        "iat": now, "nbf": now, "exp": now + 8 * 3600,
        "azp": PUBLISHER, "azpacr": "2", "tid": tid, "ver": "2.0",
    })
}

/// A rich notification batch: one item per tenant, `tokens` as given.
fn batch(tokens: Option<Vec<String>>) -> Vec<u8> {
    let item = |tid: &str| {
        json!({
            "subscriptionId": "76619225-ff6b-4489-96ca-4ef547e78b22",
            "tenantId": tid, "changeType": "created", "clientState": STATE,
            "resource": "teams('t')/channels('c')/messages('1')",
            "encryptedContent": {"data": "ZGF0YQ==", "dataKey": "a2V5"},
        })
    };
    let mut body = json!({ "value": [item(TENANT_A), item(TENANT_B)] });
    if let Some(tokens) = tokens {
        body["validationTokens"] = json!(tokens);
    }
    body.to_string().into_bytes()
}

struct Setup {
    keys: KeyServer,
    upstream: Upstream,
    proxy: hookguard::runtime::Running,
}

async fn setup() -> Setup {
    let keys = KeyServer::start().await;
    keys.serve(JWKS_PATH, jwks(KID));
    let upstream = Upstream::start().await;
    let route = format!(
        "path = \"/graph\"\nprovider = \"microsoft-graph\"\nsecrets = [\"{STATE}\"]\n\
         app_id = \"{APP_ID}\"\n[route.keys]\nurl = \"{}\"\nca = \"file:{}\"\n",
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

async fn deliver(proxy: &hookguard::runtime::Running, body: &[u8]) -> Answer {
    post(
        proxy,
        "/graph",
        &[("content-type", "application/json")],
        body,
    )
    .await
}

#[tokio::test]
async fn a_batch_whose_every_token_verifies_is_forwarded() {
    let s = setup().await;
    let body = batch(Some(vec![
        rs256(KID, &v1(TENANT_A)),
        rs256(KID, &v2(TENANT_B)),
    ]));
    let answer = deliver(&s.proxy, &body).await;
    assert_eq!(answer.status, 200, "{}", answer.text());
    assert_eq!(s.upstream.received()[0].body, body);
    assert_eq!(s.keys.fetches(JWKS_PATH), 1);
}

#[tokio::test]
async fn tokens_not_from_graph_for_this_app_are_refused() {
    let s = setup().await;
    let now = now_secs();
    let mut cases: Vec<(&str, String, &str)> = Vec::new();
    let mut with = |what: &'static str, claims: Value, code: &'static str| {
        cases.push((what, rs256(KID, &claims), code));
    };
    let edit = |base: Value, key: &str, value: Value| {
        let mut c = base;
        c[key] = value;
        c
    };
    let drop = |base: Value, key: &str| {
        let mut c = base;
        c.as_object_mut().unwrap().remove(key);
        c
    };
    let other_app = "11111111-2222-3333-4444-555555555555";
    with(
        "wrong aud",
        edit(v1(TENANT_A), "aud", json!(other_app)),
        "invalid_signature",
    );
    with(
        "wrong appid",
        edit(v1(TENANT_A), "appid", json!(other_app)),
        "invalid_signature",
    );
    with(
        "wrong azp",
        edit(v2(TENANT_A), "azp", json!(other_app)),
        "invalid_signature",
    );
    with(
        "no appid or azp",
        drop(v1(TENANT_A), "appid"),
        "invalid_signature",
    );
    let foreign_iss = json!(format!("https://sts.windows.net/{TENANT_B}/"));
    with(
        "iss of another tenant",
        edit(v1(TENANT_A), "iss", foreign_iss),
        "invalid_signature",
    );
    let lookalike = json!(format!("https://evil.example/{TENANT_A}/v2.0"));
    with(
        "iss of another authority",
        edit(v2(TENANT_A), "iss", lookalike),
        "invalid_signature",
    );
    with("no tid", drop(v1(TENANT_A), "tid"), "invalid_signature");
    with(
        "expired",
        edit(v1(TENANT_A), "exp", json!(now - 3600)),
        "timestamp_out_of_tolerance",
    );
    with(
        "not yet valid",
        edit(v1(TENANT_A), "nbf", json!(now + 3600)),
        "timestamp_out_of_tolerance",
    );
    with("no exp", drop(v1(TENANT_A), "exp"), "missing_signature");
    let forged = edit(v1(TENANT_A), "aud", json!(other_app));
    for (what, token) in hostile(KID, &v1(TENANT_A), &forged) {
        cases.push((what, token, "invalid_signature"));
    }
    for (what, bad, code) in &cases {
        // A bad token refuses the batch even beside a good one.
        let body = batch(Some(vec![rs256(KID, &v1(TENANT_A)), bad.clone()]));
        assert_rejected(&deliver(&s.proxy, &body).await, 401, code);
        let alone = batch(Some(vec![bad.clone()]));
        let answer = deliver(&s.proxy, &alone).await;
        assert_eq!(answer.status, 401, "{what}: {}", answer.text());
    }
    assert_eq!(s.upstream.count(), 0);
}

#[tokio::test]
async fn a_route_with_app_id_requires_tokens_and_still_the_client_state() {
    let s = setup().await;
    for missing in [batch(None), batch(Some(Vec::new()))] {
        assert_rejected(&deliver(&s.proxy, &missing).await, 401, "missing_signature");
    }
    let good = rs256(KID, &v1(TENANT_A));
    let body = String::from_utf8(batch(Some(vec![good]))).unwrap();
    let forged_state = body.replace(STATE, "guessedValue");
    assert_rejected(
        &deliver(&s.proxy, forged_state.as_bytes()).await,
        401,
        "invalid_signature",
    );
    assert_eq!(s.upstream.count(), 0);
}

/// Unknown key ids are refused, a flood of them costing one fetch (the
/// store refreshes a set at most once a minute for unknown ids).
#[tokio::test]
async fn unknown_kids_are_refused_with_one_fetch() {
    let s = setup().await;
    for kid in ["rotated-1", "rotated-2", "rotated-3"] {
        let body = batch(Some(vec![rs256(kid, &v1(TENANT_A))]));
        assert_rejected(&deliver(&s.proxy, &body).await, 401, "invalid_signature");
    }
    assert_eq!(s.keys.fetches(JWKS_PATH), 1);
    let body = batch(Some(vec![rs256(KID, &v1(TENANT_A))]));
    assert_eq!(deliver(&s.proxy, &body).await.status, 200);
    assert_eq!(s.keys.fetches(JWKS_PATH), 1);
}

#[tokio::test]
async fn an_unreachable_jwks_is_503_until_it_recovers() {
    let s = setup().await;
    let body = batch(Some(vec![rs256(KID, &v1(TENANT_A))]));
    s.keys
        .outage_then_recovery(&s.upstream, || deliver(&s.proxy, &body))
        .await;
}
