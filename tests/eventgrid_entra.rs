//! `provider = "azure-eventgrid"` with Microsoft Entra ID (`tenant`,
//! `audience`): every delivery carries `Authorization: Bearer <access
//! token>`, checked against a JWKS served by a real HTTPS key server on
//! loopback (`[route.keys] url` and `ca`). Claims as the identity platform's
//! access token claims reference describes them (v1.0 `iss`
//! `https://sts.windows.net/<tenant>/`, v2.0
//! `https://login.microsoftonline.com/<tenant>/v2.0`).

mod common;
#[path = "support/jwt.rs"]
mod jwt;

use common::*;
use jwt::{hostile, jwks, rs256};
use serde_json::{json, Value};

const JWKS_PATH: &str = "/tenant/discovery/v2.0/keys";
const KID: &str = "eg-k1";
const TENANT: &str = "72f988bf-86f1-41af-91ab-2d7cd011db47";
const OTHER_TENANT: &str = "84bd8158-6d4d-4958-8b9f-9d6445542f95";
const AUDIENCE: &str = "api://hookguard-webhook";

/// A v1.0 token Event Grid would send for the route, issued now.
fn v1() -> Value {
    let now = now_secs();
    json!({
        "aud": AUDIENCE, "iss": format!("https://sts.windows.net/{TENANT}/"),
        "iat": now, "nbf": now, "exp": now + 3600, "tid": TENANT, "ver": "1.0",
        "appid": "4962773b-9cdb-44cf-a8bf-237846a00ab7",
    })
}

/// The same as a v2.0 token.
fn v2() -> Value {
    let now = now_secs();
    json!({
        "aud": AUDIENCE, "iss": format!("https://login.microsoftonline.com/{TENANT}/v2.0"),
        "iat": now, "nbf": now, "exp": now + 3600, "tid": TENANT, "ver": "2.0",
        "azp": "4962773b-9cdb-44cf-a8bf-237846a00ab7",
    })
}

const EVENT: &str = r#"[{"id":"1","eventType":"Microsoft.Storage.BlobCreated","subject":"/b","data":{},"eventTime":"2026-12-06T20:00:00Z","dataVersion":"1"}]"#;

const VALIDATION: &str = r#"[{"id":"2d1781af","topic":"/subscriptions/xx","subject":"","data":{"validationCode":"512d38b6-c7b8-40c8-89fe-f46f9e9622b6"},"eventType":"Microsoft.EventGrid.SubscriptionValidationEvent","eventTime":"2022-10-28T04:23:35Z","metadataVersion":"1","dataVersion":"1"}]"#;

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
        "path = \"/eg\"\nprovider = \"azure-eventgrid\"\ntenant = \"{TENANT}\"\n\
         audience = \"{AUDIENCE}\"\n[route.keys]\nurl = \"{}\"\nca = \"file:{}\"\n",
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

async fn deliver(
    proxy: &hookguard::runtime::Running,
    token: Option<&str>,
    extra: &[(&str, &str)],
    body: &str,
) -> Answer {
    let bearer = token.map(|t| format!("Bearer {t}"));
    let mut headers = vec![("content-type", "application/json")];
    if let Some(b) = &bearer {
        headers.push(("authorization", b.as_str()));
    }
    headers.extend_from_slice(extra);
    post(proxy, "/eg", &headers, body.as_bytes()).await
}

#[tokio::test]
async fn a_tenant_token_for_the_audience_is_forwarded_without_it() {
    let s = setup().await;
    for claims in [v1(), v2()] {
        let token = rs256(KID, &claims);
        let answer = deliver(&s.proxy, Some(&token), &[], EVENT).await;
        assert_eq!(answer.status, 200, "{}", answer.text());
    }
    let got = s.upstream.received();
    assert_eq!(got.len(), 2);
    assert_eq!(got[0].body, EVENT.as_bytes());
    assert!(
        !got[0].headers.contains_key("authorization"),
        "the bearer token is stripped"
    );
    assert_eq!(s.keys.fetches(JWKS_PATH), 1);
}

#[tokio::test]
async fn the_validation_event_is_answered_once_the_token_verified() {
    let s = setup().await;
    let validation = [("aeg-event-type", "SubscriptionValidation")];
    assert_rejected(
        &deliver(&s.proxy, None, &validation, VALIDATION).await,
        401,
        "missing_signature",
    );
    let token = rs256(KID, &v1());
    let answer = deliver(&s.proxy, Some(&token), &validation, VALIDATION).await;
    assert_eq!(answer.status, 200, "{}", answer.text());
    assert_eq!(
        answer.text(),
        r#"{"validationResponse":"512d38b6-c7b8-40c8-89fe-f46f9e9622b6"}"#
    );
    assert_eq!(
        s.upstream.count(),
        0,
        "a handshake is answered, not forwarded"
    );
}

#[tokio::test]
async fn tokens_not_issued_by_the_tenant_for_the_audience_are_refused() {
    let s = setup().await;
    let now = now_secs();
    let edit = |base: Value, key: &str, value: Value| {
        let mut c = base;
        c[key] = value;
        c
    };
    let mut cases: Vec<(&str, String, &str)> = vec![
        (
            "wrong aud",
            edit(v1(), "aud", json!("api://other")),
            "invalid_signature",
        ),
        (
            "another tenant",
            edit(
                v1(),
                "iss",
                json!(format!("https://sts.windows.net/{OTHER_TENANT}/")),
            ),
            "invalid_signature",
        ),
        (
            "another tenant, v2.0",
            edit(
                v2(),
                "iss",
                json!(format!(
                    "https://login.microsoftonline.com/{OTHER_TENANT}/v2.0"
                )),
            ),
            "invalid_signature",
        ),
        (
            "expired",
            edit(v1(), "exp", json!(now - 3600)),
            "timestamp_out_of_tolerance",
        ),
        (
            "not yet valid",
            edit(v1(), "nbf", json!(now + 3600)),
            "timestamp_out_of_tolerance",
        ),
    ]
    .into_iter()
    .map(|(what, claims, code)| (what, rs256(KID, &claims), code))
    .collect();
    let forged = edit(v1(), "aud", json!("api://other"));
    for (what, token) in hostile(KID, &v1(), &forged) {
        cases.push((what, token, "invalid_signature"));
    }
    cases.push(("unknown kid", rs256("rotated", &v1()), "invalid_signature"));
    for (what, token, code) in &cases {
        let answer = deliver(&s.proxy, Some(token), &[], EVENT).await;
        assert_eq!(answer.status, 401, "{what}: {}", answer.text());
        assert_rejected(&answer, 401, code);
    }
    assert_rejected(
        &deliver(&s.proxy, None, &[], EVENT).await,
        401,
        "missing_signature",
    );
    assert_eq!(s.upstream.count(), 0);
    assert_eq!(
        s.keys.fetches(JWKS_PATH),
        1,
        "one fetch, one refresh at most"
    );
}

#[tokio::test]
async fn an_unreachable_jwks_is_503_until_it_recovers() {
    let s = setup().await;
    let token = rs256(KID, &v1());
    s.keys
        .outage_then_recovery(&s.upstream, || deliver(&s.proxy, Some(&token), &[], EVENT))
        .await;
}

#[test]
fn a_route_mixing_entra_and_a_shared_key_is_a_config_error_naming_it() {
    for mixed in [
        "token_query = \"code\"\nsecrets = [\"k3y\"]",
        "token_header = \"x-eg-key\"",
        "secrets = [\"k3y\"]",
    ] {
        let toml = TomlConfig::new()
            .route(&format!(
                "path = \"/eg\"\nprovider = \"azure-eventgrid\"\ntenant = \"{TENANT}\"\n\
                 audience = \"{AUDIENCE}\"\n{mixed}\n"
            ))
            .build()
            .replace("{upstream}", "http://127.0.0.1:9");
        let err = hookguard::config::from_str(&toml, std::path::Path::new("t.toml"), &|_| None)
            .err()
            .unwrap_or_else(|| panic!("{mixed}: accepted"))
            .to_string();
        assert!(err.contains("t.toml:"), "{err}");
        assert!(err.contains("route[0]"), "{err}");
        assert!(err.contains("a route uses one"), "{err}");
    }
    let half = TomlConfig::new()
        .route(&format!(
            "path = \"/eg\"\nprovider = \"azure-eventgrid\"\ntenant = \"{TENANT}\"\n"
        ))
        .build()
        .replace("{upstream}", "http://127.0.0.1:9");
    let err = hookguard::config::from_str(&half, std::path::Path::new("t.toml"), &|_| None)
        .err()
        .expect("tenant alone is refused")
        .to_string();
    assert!(err.contains("route[0].audience"), "{err}");
}
