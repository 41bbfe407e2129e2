//! RS256 tokens for the fetched-JWKS tests (`gcp_pubsub.rs`, `entra.rs`),
//! made with the `jsonwebtoken` library from the repository's RSA test key,
//! the JWKS a provider would serve for it, and the hostile tokens every such
//! scheme must refuse (tampered claims, `alg: none`, HS256 keyed with the
//! public key).

#![allow(dead_code, unreachable_pub)]

use base64::Engine as _;
use jsonwebtoken::{encode, Algorithm, EncodingKey, Header};
use ring::signature::RsaKeyPair;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::PrivatePkcs1KeyDer;
use serde_json::{json, Value};

pub const RSA_PRIVATE: &str = include_str!("../../src/providers/testdata/rsa_test_private.pem");
pub const RSA_PUBLIC: &str = include_str!("../../src/providers/testdata/rsa_test_public.pem");

fn pkcs1() -> Vec<u8> {
    PrivatePkcs1KeyDer::from_pem_slice(RSA_PRIVATE.as_bytes())
        .unwrap()
        .secret_pkcs1_der()
        .to_vec()
}

fn b64url(bytes: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// The JWKS a provider would serve for the test key, under `kid`.
pub fn jwks(kid: &str) -> String {
    let pair = RsaKeyPair::from_der(&pkcs1()).unwrap();
    let public = ring::rsa::PublicKeyComponents::<Vec<u8>>::from(pair.public());
    json!({"keys": [{
        "kty": "RSA", "alg": "RS256", "use": "sig", "kid": kid,
        "n": b64url(&public.n),
        "e": b64url(&public.e),
    }]})
    .to_string()
}

/// `claims` signed RS256 with the test key, naming `kid`.
pub fn rs256(kid: &str, claims: &Value) -> String {
    let mut header = Header::new(Algorithm::RS256);
    header.kid = Some(kid.to_owned());
    encode(&header, claims, &EncodingKey::from_rsa_der(&pkcs1())).unwrap()
}

/// Tokens no key may verify, each named: a valid token's signature on
/// `forged` claims, `forged` unsigned (`alg: none`), and `good` signed
/// HS256 with the PEM public key as the secret (the algorithm confusion).
pub fn hostile(kid: &str, good: &Value, forged: &Value) -> Vec<(&'static str, String)> {
    let valid = rs256(kid, good);
    let (head, rest) = valid.split_once('.').unwrap();
    let (_, sig) = rest.split_once('.').unwrap();
    let forged_payload = b64url(forged.to_string().as_bytes());
    let none_header = b64url(format!(r#"{{"alg":"none","typ":"JWT","kid":"{kid}"}}"#).as_bytes());
    let mut hs = Header::new(Algorithm::HS256);
    hs.kid = Some(kid.into());
    let confused = encode(&hs, good, &EncodingKey::from_secret(RSA_PUBLIC.as_bytes())).unwrap();
    vec![
        ("tampered claims", format!("{head}.{forged_payload}.{sig}")),
        ("alg none", format!("{none_header}.{forged_payload}.")),
        ("HS256 keyed with the public key", confused),
    ]
}
