//! `hookguard verify` for providers whose keys are fetched: a configured
//! `aws-sns` route checks the synthetic SNS vector (v1 and v2) with the
//! certificate given as `--key-file`, or fetched from the route's allowed
//! key server, as the proxy would.

use super::*;

const VECTOR: &str = include_str!("../data/sns_synthetic_vector.json");

/// An `aws-sns` route for the vector's topic, its window reaching back to
/// the vector's 2012 timestamp, fetching only from `allow`.
fn write_sns_config(dir: &std::path::Path, keys: &str) -> std::path::PathBuf {
    let path = dir.join("hookguard.toml");
    let toml = format!(
        "[server]\nlisten = \"127.0.0.1:0\"\n[upstream]\nurl = \"http://127.0.0.1:9\"\n\
         [[route]]\npath = \"/sns\"\nprovider = \"aws-sns\"\n\
         topics = [\"arn:aws:sns:us-west-2:123456789012:MyTopic\"]\ntolerance = \"6000d\"\n{keys}"
    );
    std::fs::write(&path, toml).unwrap();
    path
}

fn vector() -> serde_json::Value {
    serde_json::from_str(VECTOR).unwrap()
}

#[test]
fn verify_checks_the_sns_vector_with_a_key_file() {
    let dir = tempfile::tempdir().unwrap();
    let config = write_sns_config(dir.path(), "");
    let cert = dir.path().join("cert.pem");
    std::fs::write(&cert, vector()["cert_pem"].as_str().unwrap()).unwrap();
    let (config, cert) = (config.to_str().unwrap(), cert.to_str().unwrap());
    for version in ["v1", "v2"] {
        let body = vector()[version].to_string();
        let args = [
            "verify",
            "-c",
            config,
            "--route",
            "/sns",
            "--key-file",
            cert,
        ];
        let out = hookguard(&args, body.as_bytes());
        assert!(out.status.success(), "{version}: {}", text(&out.stdout));
        assert!(
            text(&out.stdout).starts_with("valid: provider aws-sns (route /sns)"),
            "{}",
            text(&out.stdout)
        );
        let tampered = body.replace("Hello world!", "Hello world?");
        let out = hookguard(&args, tampered.as_bytes());
        assert!(!out.status.success());
        assert!(
            text(&out.stderr).contains("invalid_signature")
                || text(&out.stdout).contains("invalid_signature"),
            "{}{}",
            text(&out.stdout),
            text(&out.stderr)
        );
    }
}

#[tokio::test]
async fn verify_fetches_the_certificate_from_the_allowed_server() {
    let keys = common::KeyServer::start().await;
    keys.serve("/vector.pem", vector()["cert_pem"].as_str().unwrap());
    let dir = tempfile::tempdir().unwrap();
    let config = write_sns_config(dir.path(), &keys.keys_table());
    let mut body = vector()["v2"].clone();
    body["SigningCertURL"] = keys.url("/vector.pem").into();
    let config = config.to_str().unwrap().to_owned();
    let out = tokio::task::spawn_blocking(move || {
        hookguard(
            &["verify", "-c", &config, "--route", "/sns"],
            body.to_string().as_bytes(),
        )
    })
    .await
    .unwrap();
    assert!(
        out.status.success(),
        "{}{}",
        text(&out.stdout),
        text(&out.stderr)
    );
    assert_eq!(keys.fetches("/vector.pem"), 1);
}

#[test]
fn verify_says_when_only_the_time_of_an_sns_message_is_wrong() {
    let dir = tempfile::tempdir().unwrap();
    let config = write_sns_config(dir.path(), "");
    // The route's window reaches back to 2012; this check's does not.
    let cert = dir.path().join("cert.pem");
    std::fs::write(&cert, vector()["cert_pem"].as_str().unwrap()).unwrap();
    let args = [
        "verify",
        "-c",
        config.to_str().unwrap(),
        "--route",
        "/sns",
        "--key-file",
        cert.to_str().unwrap(),
        "--tolerance",
        "1h",
    ];
    let out = hookguard(&args, vector()["v2"].to_string().as_bytes());
    assert!(!out.status.success());
    let report = format!("{}{}", text(&out.stdout), text(&out.stderr));
    assert!(report.contains("timestamp_out_of_tolerance"), "{report}");
    assert!(report.contains("the signature itself is valid"), "{report}");
}
