//! `sign` and `verify` for a configured route (`-c CONFIG --route PATH`):
//! a generic `hmac` route signed from its `[route.hmac]` (checked against
//! HMACs computed with OpenSSL, and by the running proxy), its secrets with
//! their expiry and `env:` references, its tolerance, and the errors.

use std::path::{Path, PathBuf};

use super::common::{self, now_secs, Upstream};
use super::public_keys::{DISCORD_PK, DISCORD_SEED};
use super::{hookguard, hookguard_env, text};

/// The secret of the payment routes, given through the environment so the
/// tools resolve `env:` references as `serve` does.
const ENV: &[(&str, &str)] = &[("HG_TEST_PAYMENTS_SECRET", "payments-secret")];

const PAYMENTS_HMAC: &str = r#"
algorithm = "sha256"
header = "X-Webhook-Signature"
prefix = "sha256="
encoding = "hex"
timestamp_header = "X-Timestamp"
id_header = "X-Event-Id"
signed = "{id}.{timestamp}.{body}"
"#;

/// Routes: a generic scheme with a short window and a retired secret, the
/// same scheme with the default window, a second generic shape, and Discord.
fn config_toml(upstream: &str) -> String {
    format!(
        r#"
[server]
listen = "127.0.0.1:0"

[upstream]
url = "{upstream}"

[[route]]
path = "/webhooks/payments"
provider = "hmac"
secrets = [{{ value = "retired", expires = "2020-01-01T00:00:00Z" }}, "env:HG_TEST_PAYMENTS_SECRET"]
tolerance = "30s"
[route.hmac]
{PAYMENTS_HMAC}

[[route]]
path = "/webhooks/payments-default-window"
provider = "hmac"
secrets = ["env:HG_TEST_PAYMENTS_SECRET"]
[route.hmac]
{PAYMENTS_HMAC}

[[route]]
path = "/webhooks/ledger"
provider = "hmac"
secrets = ["env:HG_TEST_PAYMENTS_SECRET"]
[route.hmac]
algorithm = "sha512"
header = "X-Ledger-Signature"
encoding = "base64"
timestamp_header = "X-Ledger-Time"
signed = "v1:{{timestamp}}:{{body}}"

[[route]]
path = "/interactions"
provider = "discord"
public_key = "{DISCORD_PK}"
"#
    )
}

fn write_config(dir: &Path, upstream: &str) -> PathBuf {
    let file = dir.join("hookguard.toml");
    std::fs::write(&file, config_toml(upstream)).unwrap();
    file
}

/// `sign -c FILE --route PATH [extra...]`, expected to succeed: its lines.
fn sign_route(config: &Path, route: &str, extra: &[&str], body: &[u8]) -> Vec<String> {
    let mut args = vec!["sign", "-c", config.to_str().unwrap(), "--route", route];
    args.extend_from_slice(extra);
    let out = hookguard_env(&args, body, ENV);
    assert!(out.status.success(), "{route}: {}", text(&out.stderr));
    text(&out.stdout).lines().map(str::to_owned).collect()
}

/// `verify -c FILE --route PATH -H line...`.
fn verify_route(config: &Path, route: &str, lines: &[String], body: &[u8]) -> std::process::Output {
    let mut args = vec!["verify", "-c", config.to_str().unwrap(), "--route", route];
    for line in lines {
        args.extend(["-H", line.as_str()]);
    }
    hookguard_env(&args, body, ENV)
}

const BODY: &[u8] = br#"{"amount":42}"#;

#[test]
fn sign_for_a_generic_route_matches_hmacs_computed_with_openssl() {
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), "http://127.0.0.1:9");
    // The first secret has expired: the second one signs.
    // printf '%s' 'evt_1.1700000000.{"amount":42}' | openssl dgst -sha256 -hmac payments-secret
    let lines = sign_route(
        &config,
        "/webhooks/payments",
        &["--timestamp", "1700000000", "--id", "evt_1"],
        BODY,
    );
    assert_eq!(
        lines,
        [
            "x-webhook-signature: sha256=acad14ad7c1d700c92d42456e781a528f7d314599497d6677c8fb7ce63a264f9",
            "x-timestamp: 1700000000",
            "x-event-id: evt_1",
        ]
    );
    // printf '%s' 'v1:1700000000:{"amount":42}' | openssl dgst -sha512 -hmac payments-secret -binary | openssl base64 -A
    let lines = sign_route(
        &config,
        "/webhooks/ledger",
        &["--timestamp", "1700000000"],
        BODY,
    );
    assert_eq!(
        lines,
        [
            "x-ledger-signature: UmzG/MRy/Oi5UH/xD0yAzIUVbndVb3tUr7y2hmH+34AxNPynRiQFGXRjQ4Pl4wat0qt8XJ8VD+brWmZpd7UTUQ==",
            "x-ledger-time: 1700000000",
        ]
    );
    // --secret signs instead of the route's secrets.
    let other = sign_route(
        &config,
        "/webhooks/ledger",
        &["--timestamp", "1700000000", "--secret", "another"],
        BODY,
    );
    assert_ne!(other[0], lines[0]);
}

#[test]
fn verify_for_a_generic_route_accepts_what_sign_printed_and_explains_tampering() {
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), "http://127.0.0.1:9");
    for route in ["/webhooks/payments", "/webhooks/ledger"] {
        let lines = sign_route(&config, route, &[], BODY);
        let out = verify_route(&config, route, &lines, BODY);
        assert!(out.status.success(), "{route}: {}", text(&out.stderr));
        let stdout = text(&out.stdout);
        assert!(
            stdout.starts_with(&format!("valid: provider hmac (route {route}), secret #")),
            "{stdout}"
        );
        assert!(
            stdout.contains("from env:HG_TEST_PAYMENTS_SECRET"),
            "{stdout}"
        );

        let tampered = br#"{"amount":4200}"#;
        let out = verify_route(&config, route, &lines, tampered);
        assert_eq!(out.status.code(), Some(1), "{route}");
        let err = text(&out.stderr);
        assert!(
            err.contains("invalid_signature: signature does not match"),
            "{err}"
        );
        assert!(err.contains("hint: either the secret"), "{err}");
        assert!(err.contains("body: 15 bytes, sha256 "), "{err}");
        let signature = lines[0].split_once(": ").unwrap().1;
        for leaked in [signature, "payments-secret", "4200"] {
            assert!(!err.contains(leaked), "{route} prints {leaked:?}: {err}");
        }

        // --secret replaces the route's secrets.
        let mut args = vec!["verify", "-c", config.to_str().unwrap(), "--route", route];
        args.extend(["--secret", "another"]);
        for line in &lines {
            args.extend(["-H", line.as_str()]);
        }
        let out = hookguard_env(&args, BODY, ENV);
        assert_eq!(out.status.code(), Some(1), "{route}");
        assert!(text(&out.stderr).contains("invalid_signature"));
    }
}

#[test]
fn verify_for_a_route_applies_its_tolerance_both_ways() {
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), "http://127.0.0.1:9");
    for (offset, direction) in [(-120, "s old"), (120, "s in the future")] {
        let ts = (now_secs() + offset).to_string();
        let lines = sign_route(&config, "/webhooks/payments", &["--timestamp", &ts], BODY);
        // The route's 30 s window refuses it...
        let out = verify_route(&config, "/webhooks/payments", &lines, BODY);
        assert_eq!(out.status.code(), Some(1));
        let err = text(&out.stderr);
        assert!(err.contains("timestamp_out_of_tolerance"), "{err}");
        assert!(
            err.contains(&format!("{direction} (tolerance 30 s)")),
            "{err}"
        );
        assert!(err.contains("the signature itself is valid"), "{err}");
        // ...the same scheme with the default 5 minutes accepts it.
        let out = verify_route(&config, "/webhooks/payments-default-window", &lines, BODY);
        assert!(out.status.success(), "{}", text(&out.stderr));
        // And --tolerance overrides the route's.
        let mut args = vec![
            "verify",
            "-c",
            config.to_str().unwrap(),
            "--route",
            "/webhooks/payments",
            "--tolerance",
            "5m",
        ];
        for line in &lines {
            args.extend(["-H", line.as_str()]);
        }
        assert!(hookguard_env(&args, BODY, ENV).status.success());
    }
}

#[tokio::test]
async fn the_running_proxy_accepts_what_sign_printed_for_its_route() {
    let upstream = Upstream::start().await;
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), &upstream.url());
    let env = ENV
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    let proxy = common::start_with_env(&config_toml(&upstream.url()), &env).await;
    for route in ["/webhooks/payments", "/webhooks/ledger"] {
        let lines = sign_route(&config, route, &[], BODY);
        let headers: Vec<(&str, &str)> =
            lines.iter().map(|l| l.split_once(": ").unwrap()).collect();
        let answer = common::post(&proxy, route, &headers, BODY).await;
        assert_eq!(answer.status, 200, "{route}: {}", answer.text());
        let tampered = common::post(&proxy, route, &headers, b"{}").await;
        common::assert_rejected(&tampered, 401, "invalid_signature");
    }
    let received = upstream.received();
    assert_eq!(received.len(), 2);
    assert!(received
        .iter()
        .all(|r| r.headers["x-hookguard-verified"] == "hmac" && r.body == BODY));
}

#[test]
fn a_public_key_route_signs_only_with_the_private_key() {
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), "http://127.0.0.1:9");
    let c = config.to_str().unwrap();
    let out = hookguard_env(&["sign", "-c", c, "--route", "/interactions"], b"{}", ENV);
    assert_eq!(out.status.code(), Some(1));
    let err = text(&out.stderr);
    assert!(
        err.contains(
            "holds public keys, which only verify: give the private key to sign with as --secret"
        ),
        "{err}"
    );
    let body = br#"{"type":2}"#;
    let lines = sign_route(&config, "/interactions", &["--secret", DISCORD_SEED], body);
    let out = verify_route(&config, "/interactions", &lines, body);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stdout)
        .starts_with("valid: provider discord (route /interactions), public key #0"));
}

#[test]
fn route_errors_name_the_routes_and_read_like_check() {
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), "http://127.0.0.1:9");
    let c = config.to_str().unwrap();
    // An unknown path lists the configured ones.
    let out = hookguard_env(&["sign", "-c", c, "--route", "/webhooks/pay"], b"", ENV);
    assert_eq!(out.status.code(), Some(1));
    let err = text(&out.stderr);
    assert!(
        err.contains("no [[route]] has path \"/webhooks/pay\""),
        "{err}"
    );
    assert!(
        err.contains("configured routes: /webhooks/payments (hmac), /webhooks/payments-default-window (hmac), /webhooks/ledger (hmac), /interactions (discord)"),
        "{err}"
    );
    // -c without --route says so, with the same list.
    let out = hookguard_env(&["verify", "-c", c], b"", ENV);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("-c needs --route PATH"));
    // The same loader as check: an unresolved env: reference, the same
    // file:line:col message, exit 2.
    let check = hookguard(&["check", "-c", c], b"");
    assert_eq!(check.status.code(), Some(2));
    for cmd in ["sign", "verify"] {
        let out = hookguard(&[cmd, "-c", c, "--route", "/webhooks/payments"], b"");
        assert_eq!(out.status.code(), Some(2), "{cmd}");
        assert_eq!(text(&out.stderr).trim_end(), text(&check.stderr).trim_end());
        assert!(
            text(&out.stderr).contains("environment variable HG_TEST_PAYMENTS_SECRET is not set"),
            "{}",
            text(&out.stderr)
        );
    }
    // --route defaults its file as serve does: $HOOKGUARD_CONFIG.
    let mut env = ENV.to_vec();
    env.push(("HOOKGUARD_CONFIG", c));
    let out = hookguard_env(
        &[
            "sign",
            "--route",
            "/webhooks/ledger",
            "--timestamp",
            "1700000000",
        ],
        BODY,
        &env,
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    // --provider and --route exclude each other.
    let out = hookguard_env(
        &[
            "sign",
            "--provider",
            "github",
            "--secret",
            "s",
            "-c",
            c,
            "--route",
            "/x",
        ],
        b"",
        ENV,
    );
    assert_eq!(out.status.code(), Some(2));
    // Without a route, the generic provider says how to sign for one.
    let out = hookguard(&["sign", "--provider", "hmac", "--secret", "s"], b"");
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("-c CONFIG --route PATH"));
}
