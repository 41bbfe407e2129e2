//! The JWT family against outside vectors (MessageBird's 44 published
//! cases; Netlify and Vonage are in `vectors.rs`) and against tokens made
//! with a JWT library for the attacks: `alg: none`, an HS256 token keyed
//! with the RSA public key's PEM, expired and future tokens, wrong issuer,
//! tampered body, unknown `kid`.

use http::{HeaderMap, Method, Uri};
use jsonwebtoken::{encode, Algorithm, EncodingKey, Header};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::PrivatePkcs1KeyDer;
use serde_json::{json, Value};

use super::super::jwks::KeySet;
use super::super::testutil::{headers, kind, precheck_and_verify, run, secrets};
use super::super::{
    build, Inbound, ProviderParams, Rejection, SecretEntry, SharedVerifier, Verified,
};

/// MessageBird's published cases: messagebird/python-rest-api @2371520,
/// `tests/test_request_validator/webhook_signature_test_data.json`.
const MESSAGEBIRD_CASES: &str =
    include_str!("testdata/messagebird_webhook_signature_test_data.json");
/// A 2048-bit RSA key made for these tests with `openssl genrsa`.
const RSA_PRIVATE: &str = include_str!("testdata/rsa_test_private.pem");
const RSA_PUBLIC: &str = include_str!("testdata/rsa_test_public.pem");

const NOW: i64 = 1_700_000_000;

fn keys(values: &[&str]) -> Vec<SecretEntry> {
    secrets(values)
}

fn build_keys(
    name: &str,
    secrets: &[SecretEntry],
    public_keys: &[SecretEntry],
) -> Result<SharedVerifier, super::super::BuildError> {
    build(
        name,
        ProviderParams {
            secrets,
            public_keys,
            ..ProviderParams::default()
        },
    )
}

/// `method url` with `headers` and `body` at `now` (Unix seconds).
fn at_url(
    v: &SharedVerifier,
    method: &str,
    url: &str,
    map: &HeaderMap,
    body: &[u8],
    now: i64,
) -> Result<Verified, Rejection> {
    let method: Method = method.parse().unwrap();
    let uri: Uri = url.parse().unwrap();
    let path: Uri = uri.path_and_query().unwrap().as_str().parse().unwrap();
    let req = Inbound {
        method: &method,
        uri: &path,
        headers: map,
        public_url: url,
        now_ms: now * 1000,
        key: None,
    };
    precheck_and_verify(v, &req, body)
}

fn rsa_encoding_key() -> EncodingKey {
    let der = PrivatePkcs1KeyDer::from_pem_slice(RSA_PRIVATE.as_bytes()).unwrap();
    EncodingKey::from_rsa_der(der.secret_pkcs1_der())
}

fn bearer(token: &str) -> HeaderMap {
    headers(&[("authorization", format!("Bearer {token}").as_bytes())])
}

fn claims(exp: i64) -> Value {
    json!({"sub": "sender", "iat": NOW, "exp": exp, "jti": "evt_1"})
}

#[test]
fn messagebird_published_cases_all_44() {
    let cases: Vec<Value> = serde_json::from_str(MESSAGEBIRD_CASES).unwrap();
    assert_eq!(cases.len(), 44);
    let default_secret = cases[0]["secret"].as_str().unwrap().to_owned();
    for case in &cases {
        let name = case["name"].as_str().unwrap();
        let secret = case["secret"].as_str().unwrap_or(&default_secret);
        let v = build_keys("messagebird", &keys(&[secret]), &[]).unwrap();
        let now = time::OffsetDateTime::parse(
            case["timestamp"].as_str().unwrap(),
            &time::format_description::well_known::Rfc3339,
        )
        .unwrap()
        .unix_timestamp();
        let map = headers(&[(
            "messagebird-signature-jwt",
            case["token"].as_str().unwrap().as_bytes(),
        )]);
        let body = case["payload"].as_str().unwrap_or("").as_bytes();
        let got = at_url(
            &v,
            case["method"].as_str().unwrap(),
            case["url"].as_str().unwrap(),
            &map,
            body,
            now,
        );
        let want = match (case["valid"].as_bool().unwrap(), case["reason"].as_str()) {
            (true, _) => "ok",
            (false, Some(r)) if r.contains("nbf") || r.contains("exp") => "timestamp",
            (false, _) => "invalid",
        };
        assert_eq!(kind(&got), want, "{name}: {got:?}");
        if let Ok(verified) = got {
            assert!(verified.event_id.is_some(), "{name}: jti is the event id");
        }
    }
}

#[test]
fn rs256_verifies_with_a_pem_public_key_and_refuses_the_attacks() {
    let v = build_keys("jwt", &[], &keys(&[RSA_PUBLIC])).unwrap();
    let good = encode(
        &Header::new(Algorithm::RS256),
        &claims(NOW + 60),
        &rsa_encoding_key(),
    )
    .unwrap();
    assert_eq!(kind(&run(&v, &bearer(&good), b"{}", NOW)), "ok");
    // Without the Bearer prefix too.
    let plain = headers(&[("authorization", good.as_bytes())]);
    assert_eq!(kind(&run(&v, &plain, b"{}", NOW)), "ok");

    // alg none, unsigned: never parsed as an algorithm at all.
    let none = format!(
        "{}.{}.",
        b64(br#"{"alg":"none","typ":"JWT"}"#),
        b64(claims(NOW + 60).to_string().as_bytes())
    );
    assert_eq!(kind(&run(&v, &bearer(&none), b"{}", NOW)), "invalid");

    // HS256 keyed with the public key's PEM text: the RSA key's family
    // allows no HMAC algorithm, so no key is even tried.
    let confused = encode(
        &Header::new(Algorithm::HS256),
        &claims(NOW + 60),
        &EncodingKey::from_secret(RSA_PUBLIC.as_bytes()),
    )
    .unwrap();
    let got = run(&v, &bearer(&confused), b"{}", NOW);
    assert_eq!(kind(&got), "invalid");
    assert!(got
        .unwrap_err()
        .detail()
        .contains("no key for algorithm HS256"));
    // The same with the PEM trimmed, as a configuration would hold it.
    let confused = encode(
        &Header::new(Algorithm::HS256),
        &claims(NOW + 60),
        &EncodingKey::from_secret(RSA_PUBLIC.trim().as_bytes()),
    )
    .unwrap();
    assert_eq!(kind(&run(&v, &bearer(&confused), b"{}", NOW)), "invalid");

    // A tampered claim breaks the signature.
    let (head, rest) = good.split_once('.').unwrap();
    let (_, sig) = rest.split_once('.').unwrap();
    let forged = format!(
        "{head}.{}.{sig}",
        b64(claims(NOW + 9999).to_string().as_bytes())
    );
    assert_eq!(kind(&run(&v, &bearer(&forged), b"{}", NOW)), "invalid");
}

#[test]
fn time_claims_use_the_tolerance_as_skew() {
    let v = build_keys("jwt", &[], &keys(&[RSA_PUBLIC])).unwrap();
    let key = rsa_encoding_key();
    let token = |c: Value| encode(&Header::new(Algorithm::RS256), &c, &key).unwrap();
    let at = |c: Value, now: i64| kind(&run(&v, &bearer(&token(c)), b"", now));
    // The generic scheme allows 60 s of skew.
    assert_eq!(at(claims(NOW), NOW + 60), "ok");
    assert_eq!(at(claims(NOW), NOW + 61), "timestamp", "expired");
    assert_eq!(
        at(json!({"exp": NOW + 600, "nbf": NOW + 61}), NOW),
        "timestamp",
        "not yet valid"
    );
    assert_eq!(at(json!({"exp": NOW + 600, "nbf": NOW + 60}), NOW), "ok");
    assert_eq!(
        at(json!({"exp": NOW + 600, "iat": NOW + 61}), NOW),
        "timestamp",
        "issued in the future"
    );
    assert_eq!(at(json!({"iat": NOW}), NOW), "missing", "exp is required");
    assert_eq!(at(json!({"exp": "soon"}), NOW), "timestamp");
}

#[test]
fn es256_and_eddsa_keys_from_pem_and_jwks_pick_by_kid() {
    let ec = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
    let ed = rcgen::KeyPair::generate_for(&rcgen::PKCS_ED25519).unwrap();
    for (pair, alg) in [(&ec, Algorithm::ES256), (&ed, Algorithm::EdDSA)] {
        let v = build_keys("jwt", &[], &keys(&[&pair.public_key_pem()])).unwrap();
        let enc = match alg {
            Algorithm::ES256 => EncodingKey::from_ec_der(&pair.serialize_der()),
            _ => EncodingKey::from_ed_der(&pair.serialize_der()),
        };
        let token = encode(&Header::new(alg), &claims(NOW + 60), &enc).unwrap();
        assert_eq!(kind(&run(&v, &bearer(&token), b"", NOW)), "ok", "{alg:?}");
    }
    // A JWKS of two keys: the token's kid selects one; an unknown kid none.
    let jwks = json!({"keys": [jwk_of(&ed, "ed-1"), jwk_of_rsa("rsa-1")]}).to_string();
    let v = build_keys("jwt", &[], &keys(&[&jwks])).unwrap();
    let mut header = Header::new(Algorithm::RS256);
    header.kid = Some("rsa-1".into());
    let token = encode(&header, &claims(NOW + 60), &rsa_encoding_key()).unwrap();
    assert_eq!(kind(&run(&v, &bearer(&token), b"", NOW)), "ok");
    header.kid = Some("rsa-2".into());
    let token = encode(&header, &claims(NOW + 60), &rsa_encoding_key()).unwrap();
    assert_eq!(kind(&run(&v, &bearer(&token), b"", NOW)), "invalid");
}

#[test]
fn a_fetched_jwks_becomes_a_key_set_by_kid() {
    let ed = rcgen::KeyPair::generate_for(&rcgen::PKCS_ED25519).unwrap();
    let doc = json!({"keys": [
        jwk_of(&ed, "a"),
        {"kty": "oct", "k": "c2VjcmV0", "kid": "hmac"},
        {"kty": "EC", "crv": "P-521", "x": "AA", "y": "AA", "kid": "odd"},
    ]})
    .to_string();
    let set = KeySet::from_jwks(doc.as_bytes()).unwrap();
    // Only the Ed25519 key is usable; a symmetric key never enters a set
    // of public keys.
    assert_eq!(set.candidates(Algorithm::EdDSA, Some("a"), 0).count(), 1);
    assert_eq!(set.candidates(Algorithm::EdDSA, Some("b"), 0).count(), 0);
    assert_eq!(set.candidates(Algorithm::HS256, Some("hmac"), 0).count(), 0);
    assert!(KeySet::from_jwks(b"not json").is_err());
}

#[test]
fn keys_of_the_wrong_kind_are_configuration_errors() {
    let err = |name: &str, s: &[&str], p: &[&str]| {
        build_keys(name, &keys(s), &keys(p)).err().map(|e| e.field)
    };
    assert_eq!(
        err("jwt", &["s"], &[RSA_PUBLIC]).as_deref(),
        Some("public_keys")
    );
    assert_eq!(err("jwt", &[], &[]).as_deref(), Some("secrets"));
    assert_eq!(
        err("messagebird", &[], &[RSA_PUBLIC]).as_deref(),
        Some("public_keys")
    );
    assert_eq!(
        err("jwt", &[], &[r#"{"kty":"oct","k":"c2VjcmV0"}"#]).as_deref(),
        Some("public_keys[0]")
    );
    assert_eq!(
        err("jwt", &[], &["not a key"]).as_deref(),
        Some("public_keys[0]")
    );
    assert_eq!(err("netlify", &["s"], &[]), None);
}

#[test]
fn hmac_tokens_keyed_with_secrets_and_rotation() {
    let v = build_keys("jwt", &keys(&["old", "new"]), &[]).unwrap();
    let token = encode(
        &Header::new(Algorithm::HS384),
        &claims(NOW + 60),
        &EncodingKey::from_secret(b"new"),
    )
    .unwrap();
    let ok = run(&v, &bearer(&token), b"", NOW).unwrap();
    assert_eq!(ok.secret_index, 1);
    // The bearer token binds no body: it is a credential, not forwarded,
    // and keys no replay (a sender may reuse it until it expires).
    assert_eq!(ok.dedup, super::super::Dedup::None);
    assert_eq!(
        v.credential_header().map(|h| h.as_str()),
        Some("authorization")
    );
}

#[test]
fn netlify_checks_issuer_and_body_hash() {
    let v = build_keys("netlify", &keys(&["netlify_jws_secret"]), &[]).unwrap();
    let body = br#"{"id":"deploy_1","state":"ready"}"#;
    let sign = |c: Value| {
        let t = encode(
            &Header::new(Algorithm::HS256),
            &c,
            &EncodingKey::from_secret(b"netlify_jws_secret"),
        )
        .unwrap();
        headers(&[("x-webhook-signature", t.as_bytes())])
    };
    let sum = hex::encode(ring::digest::digest(&ring::digest::SHA256, body));
    assert_eq!(
        kind(&run(
            &v,
            &sign(json!({"iss": "netlify", "sha256": sum})),
            body,
            NOW
        )),
        "ok"
    );
    assert_eq!(
        kind(&run(
            &v,
            &sign(json!({"iss": "netlify", "sha256": sum.to_uppercase()})),
            body,
            NOW
        )),
        "ok"
    );
    assert_eq!(
        kind(&run(
            &v,
            &sign(json!({"iss": "other", "sha256": sum})),
            body,
            NOW
        )),
        "invalid"
    );
    assert_eq!(
        kind(&run(&v, &sign(json!({"sha256": sum})), body, NOW)),
        "invalid"
    );
    assert_eq!(
        kind(&run(&v, &sign(json!({"iss": "netlify"})), body, NOW)),
        "invalid"
    );
    assert_eq!(
        kind(&run(
            &v,
            &sign(json!({"iss": "netlify", "sha256": 7})),
            body,
            NOW
        )),
        "invalid"
    );
    let mut tampered = body.to_vec();
    tampered[8] = b'2';
    assert_eq!(
        kind(&run(
            &v,
            &sign(json!({"iss": "netlify", "sha256": sum})),
            &tampered,
            NOW
        )),
        "invalid"
    );
    // HS512 is not Netlify's algorithm.
    let t = encode(
        &Header::new(Algorithm::HS512),
        &json!({"iss": "netlify", "sha256": sum}),
        &EncodingKey::from_secret(b"netlify_jws_secret"),
    )
    .unwrap();
    assert_eq!(
        kind(&run(
            &v,
            &headers(&[("x-webhook-signature", t.as_bytes())]),
            body,
            NOW
        )),
        "invalid"
    );
}

/// A Wix webhook body: comp (PyJWT 2.15.1, RS256 with
/// `testdata/rsa_test_private.pem`, kid `wix-app-key`), shaped as Wix's
/// "Webhooks" docs describe: `data` a JSON string, `iat`, `exp`.
const WIX_BODY: &str = "eyJhbGciOiJSUzI1NiIsImtpZCI6IndpeC1hcHAta2V5IiwidHlwIjoiSldUIn0.eyJkYXRhIjoie1wiZXZlbnRUeXBlXCI6XCJPcmRlckNyZWF0ZWRcIixcImluc3RhbmNlSWRcIjpcIjZhYjdhMWU2LTRkOGUtNGMxZi05YTZmLTJmOGUxYzNiNWE3ZFwiLFwiZGF0YVwiOlwie1xcXCJvcmRlcklkXFxcIjpcXFwiMTAwMDFcXFwifVwifSIsImlhdCI6MTcwMDAwMDAwMCwiZXhwIjoxNzAwMzAwMDAwfQ.wlTJfmRA4qC5TG0kxrJI2aEDJRs6GgkoPX5IVd4sVqHqrUuBO5r3L_tjsS73REiaN4GVycvFBJewq6ga9S3bfICq2GywWGCqrpRz1ZnfUA8U99NzTvZVcp1WnUnl-6DlcWby-JClNIbrBlt94bOtOtK4ZKxxVeG9oqldVH1t9IV33-nQ3wp9dzkMPRLRSPgvyuRNtw6pi5fOOxf-FLPsmbqufD5K3el94snFZb-UQjYe0KoC-wLpiZfjJXmH-4TJhMrUKOMpPHZ_bMdQ6Rn3C3VweSVCGI39ywQBBVr59M2gTLSYza9lq4xK_o1ZnxcgWHplmFsYuAtlyiSmtgoBaQ";

#[test]
fn wix_body_token_verifies_with_the_apps_public_key() {
    let v = build_keys("wix", &[], &keys(&[RSA_PUBLIC])).unwrap();
    let none = HeaderMap::new();
    let body = WIX_BODY.as_bytes();
    assert_eq!(kind(&run(&v, &none, body, 1_700_000_100)), "ok");
    // After exp (plus the 60 s skew): refused.
    assert_ne!(kind(&run(&v, &none, body, 1_700_300_061)), "ok");
    // One byte of the signature changed.
    let mut tampered = body.to_vec();
    let last = tampered.len() - 2;
    tampered[last] = if tampered[last] == b'A' { b'B' } else { b'A' };
    assert_eq!(kind(&run(&v, &none, &tampered, 1_700_000_100)), "invalid");
    // Wix signs with RSA only: no secrets, and HS256 is never accepted.
    assert!(build_keys("wix", &keys(&["s"]), &[]).is_err());
}

/// FusionAuth writes `request_body_sha256` in base64 (its "Sign Webhooks"
/// docs show `KeV+/HGo...=`): hex is refused, and the key decides HS or RS.
#[test]
fn fusionauth_body_hash_is_base64_under_either_key() {
    let body = br#"{"event":{"type":"user.create"}}"#;
    let sum = ring::digest::digest(&ring::digest::SHA256, body);
    let b64_sum = {
        use base64::Engine as _;
        base64::engine::general_purpose::STANDARD.encode(sum)
    };
    let hmac = build_keys("fusionauth", &keys(&["fusionauth_hmac_key"]), &[]).unwrap();
    let rsa = build_keys("fusionauth", &[], &keys(&[RSA_PUBLIC])).unwrap();
    let token = |alg: Algorithm, key: &EncodingKey, claim: &str| {
        let t = encode(
            &Header::new(alg),
            &json!({ "request_body_sha256": claim }),
            key,
        )
        .unwrap();
        headers(&[("x-fusionauth-signature-jwt", t.as_bytes())])
    };
    let secret = EncodingKey::from_secret(b"fusionauth_hmac_key");
    let hs = token(Algorithm::HS256, &secret, &b64_sum);
    assert_eq!(kind(&run(&hmac, &hs, body, NOW)), "ok");
    let rs = token(Algorithm::RS256, &rsa_encoding_key(), &b64_sum);
    assert_eq!(kind(&run(&rsa, &rs, body, NOW)), "ok");
    // The same digest in hex is not FusionAuth's claim.
    let hex_claim = token(Algorithm::HS256, &secret, &hex::encode(sum));
    assert_eq!(kind(&run(&hmac, &hex_claim, body, NOW)), "invalid");
    // Another body, or an RS token against the HMAC route: refused.
    assert_eq!(kind(&run(&hmac, &hs, b"{}", NOW)), "invalid");
    assert_eq!(kind(&run(&hmac, &rs, body, NOW)), "invalid");
}

#[test]
fn vonage_iat_window_is_two_sided() {
    let v = build_keys(
        "vonage",
        &keys(&["vonage_signature_secret_32_chars_ok"]),
        &[],
    )
    .unwrap();
    let body = br#"{"a":1}"#;
    let sum = hex::encode(ring::digest::digest(&ring::digest::SHA256, body));
    let token = encode(
        &Header::new(Algorithm::HS256),
        &json!({"iat": NOW, "jti": "j1", "payload_hash": sum}),
        &EncodingKey::from_secret(b"vonage_signature_secret_32_chars_ok"),
    )
    .unwrap();
    let at = |now| kind(&run(&v, &bearer(&token), body, now));
    assert_eq!(at(NOW + 300), "ok");
    assert_eq!(at(NOW - 300), "ok");
    assert_eq!(at(NOW + 301), "timestamp");
    assert_eq!(at(NOW - 301), "timestamp");
    let ok = run(&v, &bearer(&token), body, NOW).unwrap();
    assert_eq!(ok.dedup, super::super::Dedup::SignedId("j1".into()));
    // Body-bound: forwarded as sent.
    assert!(v.credential_header().is_none());
}

/// monday.com's docs' example claims (aud: this harness's URL), signed as
/// `vectors.rs` does (PyJWT).
const MONDAY_TOKEN: &str = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJhY2NvdW50SWQiOjE4MjU1MjgsInVzZXJJZCI6NDAxMjY4OSwiYXVkIjoiaHR0cHM6Ly9leGFtcGxlLmNvbS9ob29rIiwiZXhwIjoxNjA2ODA4NzU4LCJzaG9ydExpdmVkVG9rZW4iOiJTSE9SVF9MSVZFRF9UT0tFTl9IRVJFIiwiaWF0IjoxNjA2ODA4NDU4fQ.CUlDxpgTJ6XlRved1O8H_7sMjwoQkkvfQO3GyiByfT0";

#[test]
fn monday_checks_aud_against_the_public_url_and_exp() {
    let v = build_keys("monday", &keys(&["monday_signing_secret"]), &[]).unwrap();
    let h = headers(&[("authorization", MONDAY_TOKEN.as_bytes())]);
    let body = br#"{"event":{}}"#;
    let now = 1_606_808_500;
    let at = |url: &str, now| {
        let r = at_url(&v, "POST", url, &h, body, now);
        kind(&r)
    };
    assert_eq!(at("https://example.com/hook", now), "ok");
    assert_eq!(at("https://example.com/other", now), "invalid");
    // exp 1606808758, 60 s of skew; a token never outlives it.
    assert_eq!(at("https://example.com/hook", 1_606_808_818), "ok");
    assert_eq!(at("https://example.com/hook", 1_606_808_819), "timestamp");
    // A bearer credential binding no body: removed before forwarding, and
    // no replay key (a retry may carry the same token).
    assert!(v.credential_header().is_some());
    let ok = at_url(&v, "POST", "https://example.com/hook", &h, body, now).unwrap();
    assert_eq!(ok.dedup, super::super::Dedup::None);
    // The route's public_url is what aud is checked against: asked for.
    assert!(v.uses_public_url());
    assert!(v.public_url_warning(None).is_some());
    assert!(v.public_url_warning(Some("https://x/")).is_none());
    // A token without exp is refused.
    let no_exp = encode(
        &Header::new(Algorithm::HS256),
        &json!({"aud": "https://example.com/hook", "iat": now}),
        &EncodingKey::from_secret(b"monday_signing_secret"),
    )
    .unwrap();
    let h = headers(&[("authorization", no_exp.as_bytes())]);
    let r = at_url(&v, "POST", "https://example.com/hook", &h, body, now);
    assert_eq!(kind(&r), "missing");
}

#[test]
fn garbage_tokens_never_panic() {
    let v = build_keys("jwt", &[], &keys(&[RSA_PUBLIC])).unwrap();
    let mut g = super::super::testutil::Garbage::new(24);
    let seed = encode(
        &Header::new(Algorithm::RS256),
        &claims(NOW + 60),
        &rsa_encoding_key(),
    )
    .unwrap();
    for _ in 0..500 {
        let value = g.value(seed.as_bytes());
        if let Ok(val) = http::HeaderValue::from_bytes(&value) {
            let mut map = HeaderMap::new();
            map.insert("authorization", val);
            let _ = run(&v, &map, b"", NOW);
        }
    }
}

fn b64(bytes: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

fn jwk_of(pair: &rcgen::KeyPair, kid: &str) -> Value {
    // An Ed25519 SPKI ends with the 32-byte key.
    let spki = pair.public_key_der();
    json!({"kty": "OKP", "crv": "Ed25519", "x": b64(&spki[spki.len() - 32..]), "kid": kid})
}

fn jwk_of_rsa(kid: &str) -> Value {
    let der = PrivatePkcs1KeyDer::from_pem_slice(RSA_PRIVATE.as_bytes()).unwrap();
    let pair = ring::rsa::KeyPair::from_der(der.secret_pkcs1_der()).unwrap();
    let components: ring::rsa::PublicKeyComponents<Vec<u8>> = pair.public().into();
    json!({"kty": "RSA", "n": b64(&components.n), "e": b64(&components.e), "kid": kid})
}

/// A fresh EC public key as SPKI PEM, and as a JWK with its curve's `x`
/// and `y` (the coordinates of the SPKI's uncompressed point).
fn ec_keys(alg: &'static rcgen::SignatureAlgorithm, crv: &str, len: usize) -> (String, Value) {
    let pair = rcgen::KeyPair::generate_for(alg).unwrap();
    let spki = pair.public_key_der();
    let point = &spki[spki.len() - (2 * len + 1)..]; // 0x04 || x || y
    let jwk =
        json!({"kty": "EC", "crv": crv, "x": b64(&point[1..=len]), "y": b64(&point[1 + len..])});
    (spki_pem(&spki), jwk)
}

/// DER SubjectPublicKeyInfo as PEM.
fn spki_pem(spki: &[u8]) -> String {
    use base64::Engine as _;
    let text = base64::engine::general_purpose::STANDARD.encode(spki);
    let lines: Vec<&str> = text
        .as_bytes()
        .chunks(64)
        .map(|c| std::str::from_utf8(c).unwrap())
        .collect();
    format!(
        "-----BEGIN PUBLIC KEY-----\n{}\n-----END PUBLIC KEY-----\n",
        lines.join("\n")
    )
}

#[test]
fn key_families_pin_their_curve_and_sets_their_bounds() {
    use super::super::jwks::{KeyFamily, MAX_KEYS};
    use jsonwebtoken::Algorithm::{EdDSA, ES256, ES384};
    let families = |text: &str| KeySet::from_public_keys(&keys(&[text])).unwrap().families();
    let (p256_pem, p256_jwk) = ec_keys(&rcgen::PKCS_ECDSA_P256_SHA256, "P-256", 32);
    let (p384_pem, p384_jwk) = ec_keys(&rcgen::PKCS_ECDSA_P384_SHA384, "P-384", 48);
    assert_eq!(families(&p256_pem), vec![KeyFamily::EcP256]);
    assert_eq!(families(&p384_pem), vec![KeyFamily::EcP384]);
    assert_eq!(families(&p256_jwk.to_string()), vec![KeyFamily::EcP256]);
    assert_eq!(families(&p384_jwk.to_string()), vec![KeyFamily::EcP384]);
    // Another curve (prime192v1: P-256's OID with its last arc 7 -> 1) is
    // refused, never taken for P-384.
    let pair = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
    let mut spki = pair.public_key_der();
    let p256_oid = [0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07];
    let at = spki.windows(10).position(|w| w == p256_oid).unwrap();
    spki[at + 9] = 0x01;
    let other = KeySet::from_public_keys(&keys(&[&spki_pem(&spki)]))
        .err()
        .unwrap();
    assert!(
        other.message.contains("unsupported EC curve"),
        "{}",
        other.message
    );
    // Each curve verifies its own algorithm only.
    assert!(KeyFamily::EcP256.allows(ES256) && !KeyFamily::EcP256.allows(ES384));
    assert!(KeyFamily::EcP384.allows(ES384) && !KeyFamily::EcP384.allows(ES256));
    assert!(KeyFamily::Ed25519.allows(EdDSA) && !KeyFamily::Ed25519.allows(ES256));
    assert_eq!(KeyFamily::EcP384.name(), "EC P-384 key");
    // At most MAX_KEYS keys, configured or fetched.
    let jwks = |n: usize| json!({ "keys": vec![p256_jwk.clone(); n] }).to_string();
    assert!(KeySet::from_jwks(jwks(MAX_KEYS).as_bytes()).is_ok());
    assert!(KeySet::from_jwks(jwks(MAX_KEYS + 1).as_bytes()).is_err());
    assert!(KeySet::from_public_keys(&keys(&[&jwks(MAX_KEYS)])).is_ok());
    assert!(KeySet::from_public_keys(&keys(&[&jwks(MAX_KEYS + 1)])).is_err());
    // Expiries in key order, for the detail when no key matched.
    let mut entries = keys(&[&p256_pem, &p384_pem]);
    entries[0].expires = Some(1_700_000_000);
    let set = KeySet::from_public_keys(&entries).unwrap();
    assert_eq!(
        set.expiries().collect::<Vec<_>>(),
        vec![Some(1_700_000_000), None]
    );
}
