//! `sign` and `verify` for the JWT schemes: MessageBird signed and checked
//! with its URL, Netlify's outside vector, and the generic `jwt` verified
//! with a PEM public key given as `--public-key` or with a `--secret`.

use super::{hookguard, text};
use jsonwebtoken::{encode, Algorithm, EncodingKey, Header};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::PrivatePkcs1KeyDer;

const RSA_PRIVATE: &str = include_str!("../../src/providers/testdata/rsa_test_private.pem");
const NETLIFY_JWS: &str = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJpc3MiOiJuZXRsaWZ5Iiwic2hhMjU2IjoiZjk0ZGQ2MTk1NmU0OWVlN2ZlYTk1NWJlZTMxMTYyN2Y3M2U4YzE2ZTgzNDcyYjliZmMxNjA4ZDNlNTIxZDg0ZiJ9.pvk3mslXHLrob_Y3UZH-avZdqRXsEgaPSPGWHMBFuN4";

fn verify(args: &[&str], headers: &[String], body: &[u8]) -> std::process::Output {
    let mut all = vec!["verify"];
    all.extend_from_slice(args);
    for h in headers {
        all.extend(["-H", h.as_str()]);
    }
    hookguard(&all, body)
}

#[test]
fn messagebird_sign_then_verify_binds_the_url() {
    let body = b"Hello, World!";
    let url = "https://example.com/mb?bar=1&foo=2";
    let key = ["--provider", "messagebird", "--secret", "mb-signing-key"];
    let mut args = vec!["sign"];
    args.extend(key);
    args.extend(["--url", url]);
    let signed = hookguard(&args, body);
    assert!(signed.status.success(), "{}", text(&signed.stderr));
    let lines: Vec<String> = text(&signed.stdout).lines().map(str::to_owned).collect();
    assert!(lines[0].starts_with("messagebird-signature-jwt: ey"));
    let mut ok = key.to_vec();
    ok.extend(["--url", url]);
    let out = verify(&ok, &lines, body);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let mut other = key.to_vec();
    other.extend(["--url", "https://example.com/mb?foo=2&bar=1"]);
    let out = verify(&other, &lines, body);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("url_hash"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn netlify_vector_verifies() {
    let header = format!("X-Webhook-Signature: {NETLIFY_JWS}");
    let args = ["--provider", "netlify", "--secret", "netlify_jws_secret"];
    let body = br#"{"id":"deploy_1","state":"ready"}"#;
    let out = verify(&args, std::slice::from_ref(&header), body);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let out = verify(&args, &[header], b"{}");
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("claim sha256 does not match"));
}

#[test]
fn generic_jwt_verifies_with_a_pem_public_key_or_a_secret() {
    let dir = tempfile::tempdir().unwrap();
    let pem = dir.path().join("public.pem");
    std::fs::write(
        &pem,
        include_str!("../../src/providers/testdata/rsa_test_public.pem"),
    )
    .unwrap();
    let key_ref = format!("file:{}", pem.display());
    let claims = serde_json::json!({"sub": "sender", "exp": 4_000_000_000_i64});
    let der = PrivatePkcs1KeyDer::from_pem_slice(RSA_PRIVATE.as_bytes()).unwrap();
    let rs = encode(
        &Header::new(Algorithm::RS256),
        &claims,
        &EncodingKey::from_rsa_der(der.secret_pkcs1_der()),
    )
    .unwrap();
    let header = vec![format!("Authorization: Bearer {rs}")];
    let out = verify(
        &["--provider", "jwt", "--public-key", &key_ref],
        &header,
        b"{}",
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).contains("public key #0"),
        "{}",
        text(&out.stdout)
    );

    let hs = encode(
        &Header::new(Algorithm::HS256),
        &claims,
        &EncodingKey::from_secret(b"shared"),
    )
    .unwrap();
    let header = vec![format!("Authorization: Bearer {hs}")];
    let out = verify(&["--provider", "jwt", "--secret", "shared"], &header, b"{}");
    assert!(out.status.success(), "{}", text(&out.stderr));
    // The HS256 token against the RSA key: no key of that family.
    let out = verify(
        &["--provider", "jwt", "--public-key", &key_ref],
        &header,
        b"{}",
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("no key for algorithm HS256"));
}
