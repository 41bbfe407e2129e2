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

/// The published fal.ai vector (Ed25519 seed 00..1f), checked with its
/// JWKS given as `--key-file`; the window reaches back to its 2023 time.
fn fal_args<'a>(jwks: &'a str, signature: &'a str) -> Vec<String> {
    let mut args: Vec<String> = ["verify", "--provider", "fal", "--tolerance", "6000d"]
        .map(String::from)
        .to_vec();
    for header in [
        "x-fal-webhook-request-id: req_123".to_owned(),
        "x-fal-webhook-user-id: user_456".to_owned(),
        "x-fal-webhook-timestamp: 1700000000".to_owned(),
        format!("x-fal-webhook-signature: {signature}"),
    ] {
        args.extend(["-H".to_owned(), header]);
    }
    args.extend(["--key-file".to_owned(), jwks.to_owned()]);
    args
}

#[test]
fn verify_checks_the_fal_vector_with_a_jwks_file() {
    let vector: serde_json::Value =
        serde_json::from_str(include_str!("../data/ed25519_vectors.json")).unwrap();
    let fal = &vector["falai"];
    let dir = tempfile::tempdir().unwrap();
    let jwks = dir.path().join("jwks.json");
    std::fs::write(&jwks, serde_json::json!({"keys": [fal["jwk"]]}).to_string()).unwrap();
    let body = fal["body"].as_str().unwrap();
    let args = fal_args(
        jwks.to_str().unwrap(),
        fal["x_fal_webhook_signature"].as_str().unwrap(),
    );
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let out = hookguard(&args, body.as_bytes());
    assert!(
        out.status.success(),
        "{}{}",
        text(&out.stdout),
        text(&out.stderr)
    );
    assert!(
        text(&out.stdout).starts_with("valid: provider fal, a key of the fetched JWKS"),
        "{}",
        text(&out.stdout)
    );
    let out = hookguard(&args, body.replace("OK", "KO").as_bytes());
    assert!(!out.status.success());
    let report = format!("{}{}", text(&out.stdout), text(&out.stderr));
    assert!(report.contains("invalid_signature"), "{report}");
}

/// A `kinde` route checks an event (a body that is an RS256 JWT) with the
/// business's JWKS given as `--key-file`.
#[test]
fn verify_checks_a_kinde_event_with_a_jwks_file() {
    use jsonwebtoken::{encode, Algorithm, EncodingKey, Header};
    use rustls_pki_types::pem::PemObject;
    let pem = include_str!("../../src/providers/testdata/rsa_test_private.pem");
    let der = rustls_pki_types::PrivatePkcs1KeyDer::from_pem_slice(pem.as_bytes()).unwrap();
    let pair = ring::signature::RsaKeyPair::from_der(der.secret_pkcs1_der()).unwrap();
    let public = ring::rsa::PublicKeyComponents::<Vec<u8>>::from(
        ring::signature::KeyPair::public_key(&pair),
    );
    let b64url = |b: &[u8]| {
        use base64::Engine as _;
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b)
    };
    let jwks = serde_json::json!({"keys": [{"kty": "RSA", "kid": "k1", "n": b64url(&public.n), "e": b64url(&public.e)}]});
    let mut header = Header::new(Algorithm::RS256);
    header.kid = Some("k1".into());
    let now = common::now_secs();
    let claims = serde_json::json!({"event_id": "event_42", "type": "user.created", "iat": now});
    let token = encode(
        &header,
        &claims,
        &EncodingKey::from_rsa_der(der.secret_pkcs1_der()),
    )
    .unwrap();

    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("hookguard.toml");
    std::fs::write(
        &config,
        "[server]\nlisten = \"127.0.0.1:0\"\n[upstream]\nurl = \"http://127.0.0.1:9\"\n\
         [[route]]\npath = \"/kinde\"\nprovider = \"kinde\"\n[route.keys]\n\
         url = \"https://acme.kinde.com/.well-known/jwks.json\"\n",
    )
    .unwrap();
    let key_file = dir.path().join("jwks.json");
    std::fs::write(&key_file, jwks.to_string()).unwrap();
    let args = [
        "verify",
        "-c",
        config.to_str().unwrap(),
        "--route",
        "/kinde",
        "--key-file",
        key_file.to_str().unwrap(),
    ];
    let out = hookguard(&args, token.as_bytes());
    assert!(
        out.status.success(),
        "{}{}",
        text(&out.stdout),
        text(&out.stderr)
    );
    assert!(
        text(&out.stdout).starts_with(
            "valid: provider kinde (route /kinde), a key of the fetched JWKS, event id event_42"
        ),
        "{}",
        text(&out.stdout)
    );
    let mut forged = token.clone();
    forged.replace_range(forged.len() - 4.., "AAAA");
    let out = hookguard(&args, forged.as_bytes());
    assert!(!out.status.success());
    let report = format!("{}{}", text(&out.stdout), text(&out.stderr));
    assert!(report.contains("invalid_signature"), "{report}");
}

/// A `plaid` route checks a webhook with the key endpoint's answer
/// (`{"key": <JWK>}`) given as `--key-file`.
#[test]
fn verify_checks_a_plaid_webhook_with_a_key_file() {
    use jsonwebtoken::{encode, Algorithm, EncodingKey, Header};
    use ring::signature::{EcdsaKeyPair, KeyPair, ECDSA_P256_SHA256_FIXED_SIGNING};
    let rng = ring::rand::SystemRandom::new();
    let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng).unwrap();
    let pair =
        EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8.as_ref(), &rng).unwrap();
    let point = pair.public_key().as_ref();
    let b64url = |b: &[u8]| {
        use base64::Engine as _;
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b)
    };
    let answer = serde_json::json!({"key": {"kty": "EC", "crv": "P-256", "kid": "k1",
        "x": b64url(&point[1..33]), "y": b64url(&point[33..])}, "request_id": "r"});
    let body = "{\n  \"webhook_type\": \"ITEM\"\n}";
    let mut header = Header::new(Algorithm::ES256);
    header.kid = Some("k1".into());
    let sha = hex::encode(ring::digest::digest(&ring::digest::SHA256, body.as_bytes()));
    let claims = serde_json::json!({"iat": common::now_secs(), "request_body_sha256": sha});
    let token = encode(&header, &claims, &EncodingKey::from_ec_der(pkcs8.as_ref())).unwrap();

    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("hookguard.toml");
    std::fs::write(
        &config,
        "[server]\nlisten = \"127.0.0.1:0\"\n[upstream]\nurl = \"http://127.0.0.1:9\"\n\
         [[route]]\npath = \"/plaid\"\nprovider = \"plaid\"\n[route.keys]\n\
         client_id = \"client-1\"\nclient_secret = \"s3cret\"\n",
    )
    .unwrap();
    let key_file = dir.path().join("key.json");
    std::fs::write(&key_file, answer.to_string()).unwrap();
    let header_line = format!("Plaid-Verification: {token}");
    let args = [
        "verify",
        "-c",
        config.to_str().unwrap(),
        "--route",
        "/plaid",
        "--key-file",
        key_file.to_str().unwrap(),
        "-H",
        &header_line,
    ];
    let out = hookguard(&args, body.as_bytes());
    let report = format!("{}{}", text(&out.stdout), text(&out.stderr));
    assert!(out.status.success(), "{report}");
    assert!(
        text(&out.stdout).starts_with("valid: provider plaid (route /plaid)"),
        "{report}"
    );
    assert!(!report.contains("s3cret"), "{report}");
    let out = hookguard(&args, body.replace("ITEM", "AUTH").as_bytes());
    assert!(!out.status.success());
    let report = format!("{}{}", text(&out.stdout), text(&out.stderr));
    assert!(report.contains("invalid_signature"), "{report}");
}
