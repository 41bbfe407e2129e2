//! `hookguard verify --route ... --key-file JWKS` for the providers whose
//! keys are a fetched JWKS: `gcp-pubsub`, `microsoft-graph` with `app_id`
//! and `azure-eventgrid` with `tenant`. The key file stands in for the
//! provider's JWKS; nothing is fetched (the routes name no reachable URL).

use super::jwt_tokens::{jwks, rs256};
use super::*;

const KID: &str = "cli-k1";
const APP_ID: &str = "8e460676-ae3f-4b1e-8790-ee0fb5d6148f";
const TENANT: &str = "72f988bf-86f1-41af-91ab-2d7cd011db47";

/// A configuration with the three routes, and a JWKS file holding `kid`.
fn setup(dir: &std::path::Path, kid: &str) -> (String, String) {
    let config = dir.join("hookguard.toml");
    let toml = format!(
        "[upstream]\nurl = \"http://127.0.0.1:9\"\n\
         [[route]]\npath = \"/pubsub\"\nprovider = \"gcp-pubsub\"\n\
         service_account = \"push@p.iam.gserviceaccount.com\"\naudience = \"aud-1\"\n\
         [[route]]\npath = \"/graph\"\nprovider = \"microsoft-graph\"\n\
         secrets = [\"state-1\"]\napp_id = \"{APP_ID}\"\n\
         [[route]]\npath = \"/eg\"\nprovider = \"azure-eventgrid\"\n\
         tenant = \"{TENANT}\"\naudience = \"api://eg\"\n"
    );
    std::fs::write(&config, toml).unwrap();
    let key_file = dir.join("jwks.json");
    std::fs::write(&key_file, jwks(kid)).unwrap();
    (
        config.to_str().unwrap().to_owned(),
        key_file.to_str().unwrap().to_owned(),
    )
}

/// Each route's request: its headers and body, with a token signed now.
fn requests() -> Vec<(&'static str, Vec<String>, String)> {
    let now = common::now_secs();
    let pubsub = rs256(
        KID,
        &serde_json::json!({
            "iss": "https://accounts.google.com", "aud": "aud-1",
            "email": "push@p.iam.gserviceaccount.com", "email_verified": true,
            "iat": now, "exp": now + 3600,
        }),
    );
    let graph = rs256(
        KID,
        &serde_json::json!({
            "aud": APP_ID, "iss": format!("https://sts.windows.net/{TENANT}/"), "tid": TENANT,
            "appid": "0bf30f3b-4a52-48df-9a82-234910c4a086", "nbf": now, "exp": now + 3600,
        }),
    );
    let eg = rs256(
        KID,
        &serde_json::json!({
            "aud": "api://eg", "iss": format!("https://login.microsoftonline.com/{TENANT}/v2.0"),
            "nbf": now, "exp": now + 3600,
        }),
    );
    vec![
        (
            "/pubsub",
            vec![format!("Authorization: Bearer {pubsub}")],
            r#"{"message":{"messageId":"1"}}"#.to_owned(),
        ),
        (
            "/graph",
            Vec::new(),
            serde_json::json!({
                "value": [{"clientState": "state-1", "changeType": "created"}],
                "validationTokens": [graph],
            })
            .to_string(),
        ),
        (
            "/eg",
            vec![format!("Authorization: Bearer {eg}")],
            "[]".to_owned(),
        ),
    ]
}

fn verify(config: &str, key_file: &str, route: &str, headers: &[String], body: &str) -> Output {
    let mut args = vec![
        "verify",
        "-c",
        config,
        "--route",
        route,
        "--key-file",
        key_file,
    ];
    for h in headers {
        args.extend(["-H", h.as_str()]);
    }
    hookguard(&args, body.as_bytes())
}

#[test]
fn verify_checks_jwks_schemes_with_a_key_file() {
    let dir = tempfile::tempdir().unwrap();
    let (config, key_file) = setup(dir.path(), KID);
    for (route, headers, body) in requests() {
        let out = verify(&config, &key_file, route, &headers, &body);
        let report = format!("{}{}", text(&out.stdout), text(&out.stderr));
        assert!(out.status.success(), "{route}: {report}");
        assert!(report.starts_with("valid: provider "), "{route}: {report}");
        let key = if route == "/graph" {
            "secret #0 from literal" // the clientState; the tokens verified too
        } else {
            "a key of the fetched JWKS"
        };
        assert!(
            report.contains(&format!("(route {route}), {key}\n")),
            "{report}"
        );
    }
}

#[test]
fn verify_refuses_a_token_the_key_file_does_not_sign() {
    let dir = tempfile::tempdir().unwrap();
    let (config, key_file) = setup(dir.path(), "another-kid");
    for (route, headers, body) in requests() {
        let out = verify(&config, &key_file, route, &headers, &body);
        let report = format!("{}{}", text(&out.stdout), text(&out.stderr));
        assert!(!out.status.success(), "{route}: {report}");
        assert!(report.contains("invalid_signature"), "{route}: {report}");
    }
    let not_jwks = dir.path().join("cert.pem");
    std::fs::write(&not_jwks, "not a key set").unwrap();
    let (route, headers, body) = &requests()[0];
    let out = verify(&config, not_jwks.to_str().unwrap(), route, headers, body);
    let report = format!("{}{}", text(&out.stdout), text(&out.stderr));
    assert!(
        report.contains("--key-file: not a JWKS document"),
        "{report}"
    );
}
