//! The edges of the JWT verifier that the scheme tests pass over: the
//! exact bounds (body token length, `iat` skew), which claim check runs
//! for which scheme, the accessors other families build on (`kid`, the
//! token header, the signing input's hash) and the detail an operator
//! reads when no key verifies.

use http::{HeaderMap, Method, Uri};
use jsonwebtoken::{encode, Algorithm, EncodingKey, Header};
use ring::digest;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::PrivatePkcs1KeyDer;
use serde_json::{json, Value};

use super::super::catalog::{self, Family};
use super::super::jwks::KeySet;
use super::super::testutil::{headers, inbound, kind, run, secrets};
use super::super::{build, Dedup, Inbound, ProviderParams, Rejection, SharedVerifier, UrlTarget};
use super::{JwtSpec, JwtVerifier, MAX_BODY_TOKEN};
use crate::body::Payload;

const RSA_PRIVATE: &str = include_str!("testdata/rsa_test_private.pem");
const RSA_PUBLIC: &str = include_str!("testdata/rsa_test_public.pem");
const NOW: i64 = 1_700_000_000;

fn rsa_key() -> EncodingKey {
    let der = PrivatePkcs1KeyDer::from_pem_slice(RSA_PRIVATE.as_bytes()).unwrap();
    EncodingKey::from_rsa_der(der.secret_pkcs1_der())
}

fn hs256(claims: &Value, secret: &[u8]) -> String {
    encode(
        &Header::new(Algorithm::HS256),
        claims,
        &EncodingKey::from_secret(secret),
    )
    .unwrap()
}

fn bearer(token: &str) -> HeaderMap {
    headers(&[("authorization", format!("Bearer {token}").as_bytes())])
}

fn built(name: &str, secret_values: &[&str], public_keys: &[&str]) -> SharedVerifier {
    build(
        name,
        ProviderParams {
            secrets: &secrets(secret_values),
            public_keys: &secrets(public_keys),
            ..ProviderParams::default()
        },
    )
    .unwrap()
}

fn spec(name: &str) -> JwtSpec {
    match catalog::lookup(name).map(|p| &p.family) {
        Some(Family::Jwt(spec)) => *spec,
        _ => panic!("{name} is a JWT scheme"),
    }
}

/// A POST to `/hook` with `map`, at `NOW`.
fn with_request<T>(map: &HeaderMap, f: impl FnOnce(&Inbound<'_>) -> T) -> T {
    let uri = Uri::from_static("/hook");
    f(&Inbound {
        now_ms: NOW * 1000,
        ..inbound(&Method::POST, &uri, map)
    })
}

/// An RS256 Wix body token exactly `len` bytes long: the padding claim and
/// the `kid` grow it one base64 character at a time where one alone cannot.
fn wix_token_of_len(len: usize) -> String {
    for kid in 0..4 {
        let mut header = Header::new(Algorithm::RS256);
        header.kid = Some("k".repeat(kid + 1));
        let claims = |pad: usize| json!({"exp": NOW + 60, "pad": "p".repeat(pad)});
        let probe = encode(&header, &claims(0), &rsa_key()).unwrap().len();
        let pad = (len.saturating_sub(probe) * 3) / 4;
        for pad in pad.saturating_sub(4)..pad + 4 {
            let token = encode(&header, &claims(pad), &rsa_key()).unwrap();
            if token.len() == len {
                return token;
            }
        }
    }
    panic!("no token of {len} bytes");
}

#[test]
fn a_body_token_may_be_exactly_the_longest_and_no_longer() {
    let v = built("wix", &[], &[RSA_PUBLIC]);
    let none = HeaderMap::new();
    // The bound spelled out (256 KiB), so that a change to it shows here.
    assert_eq!(MAX_BODY_TOKEN, 256 * 1024);
    let longest = wix_token_of_len(256 * 1024);
    assert_eq!(kind(&run(&v, &none, longest.as_bytes(), NOW)), "ok");
    let over = wix_token_of_len(256 * 1024 + 1);
    let got = run(&v, &none, over.as_bytes(), NOW).unwrap_err();
    assert!(got.detail().contains("too long"), "{got:?}");
    // A body token binds the request: a replay of it is keyed on what was
    // signed.
    let ok = run(&v, &none, longest.as_bytes(), NOW).unwrap();
    assert!(matches!(ok.dedup, Dedup::Signature(_)), "{:?}", ok.dedup);
}

#[test]
fn iat_may_lead_by_the_skew_and_is_required_where_windowed() {
    let v = built("jwt", &[], &[RSA_PUBLIC]);
    let token = |c: Value| encode(&Header::new(Algorithm::RS256), &c, &rsa_key()).unwrap();
    let at = |c: Value| kind(&run(&v, &bearer(&token(c)), b"", NOW));
    assert_eq!(at(json!({"exp": NOW + 600, "iat": NOW + 60})), "ok");
    // Vonage signs iat: without it the window cannot be checked.
    let secret = "vonage_signature_secret_32_chars_ok";
    let vonage = built("vonage", &[secret], &[]);
    let body = br#"{"a":1}"#;
    let sum = hex::encode(digest::digest(&digest::SHA256, body));
    let no_iat = hs256(
        &json!({"jti": "j1", "payload_hash": sum}),
        secret.as_bytes(),
    );
    let got = run(&vonage, &bearer(&no_iat), body, NOW);
    assert_eq!(kind(&got), "missing", "{got:?}");
}

#[test]
fn a_fetched_verifier_requires_its_audience() {
    let spec = JwtSpec {
        algorithms: &[Algorithm::HS256],
        ..JwtSpec::BASE
    };
    let v = JwtVerifier::fetched("jwt", &spec, None, "api://app".into()).unwrap();
    let keys = KeySet::from_secrets(&secrets(&["s"])).unwrap();
    let check = |aud: Value| {
        let token = hs256(&json!({ "aud": aud }), b"s");
        v.check_token(&keys, &token, NOW * 1000)
            .map(|_| ())
            .map_err(|e| e.code())
    };
    assert_eq!(check(json!("api://app")), Ok(()));
    assert_eq!(check(json!(["other", "api://app"])), Ok(()));
    assert_eq!(check(json!("api://other")), Err("invalid_signature"));
    assert_eq!(check(json!(["other"])), Err("invalid_signature"));
}

#[test]
fn the_accessors_other_families_build_on() {
    let hs = JwtSpec {
        algorithms: &[Algorithm::HS256],
        ..JwtSpec::BASE
    };
    let v = JwtVerifier::fetched_without_audience("jwt", &hs, None).unwrap();
    assert_eq!(
        v.token_header_name().map(|h| h.as_str()),
        Some("authorization")
    );
    let mut header = Header::new(Algorithm::HS256);
    header.kid = Some("key-7".into());
    let token = encode(&header, &json!({}), &EncodingKey::from_secret(b"s")).unwrap();
    let kid = with_request(&bearer(&token), |req| v.token_kid(req));
    assert_eq!(kid, Ok(Some("key-7".into())));
    let keys = KeySet::from_secrets(&secrets(&["s"])).unwrap();
    let checked = v.check_token(&keys, &token, NOW * 1000).ok().unwrap();
    let input = token.rsplit_once('.').unwrap().0;
    let want = digest::digest(&digest::SHA256, input.as_bytes());
    assert_eq!(checked.signing_input_sha256(), want.as_ref());

    // A body token's kid (Kinde's shape).
    let wix = JwtVerifier::fetched_without_audience("wix", &spec("wix"), None).unwrap();
    let mut header = Header::new(Algorithm::RS256);
    header.kid = Some("key-8".into());
    let body_token = encode(&header, &json!({}), &rsa_key()).unwrap();
    let body = Payload::from(body_token.as_bytes());
    let kid = with_request(&HeaderMap::new(), |req| wix.token_kid_in(req, &body));
    assert_eq!(kid, Ok(Some("key-8".into())));
}

#[test]
fn what_a_scheme_signs_and_its_window_are_listed() {
    let info = spec("wix").info("wix");
    assert_eq!(info.tolerance, "60 s, both ways");
    assert!(built("messagebird", &["s"], &[]).signs_url());
    let netlify = built("netlify", &["s"], &[]);
    assert!(!netlify.signs_url());
    assert!(!netlify.uses_public_url());
}

#[test]
fn the_url_a_token_binds() {
    let uri = Uri::from_static("/hook?x=1");
    let target = |configured| UrlTarget {
        configured,
        scheme: "https",
        host: Some("example.com"),
        uri: &uri,
    };
    let url = |name: &str, configured| {
        built(name, &["s"], &[])
            .signed_url(&target(configured))
            .unwrap()
    };
    // MessageBird hashes the URL called, rebuilt where not configured.
    assert_eq!(url("messagebird", None), "https://example.com/hook?x=1");
    // monday.com's aud is the configured endpoint only, never rebuilt.
    let configured = Some("https://hooks.example/monday");
    assert_eq!(url("monday", configured), "https://hooks.example/monday");
    assert_eq!(url("monday", None), "");
    // Netlify binds no URL.
    assert_eq!(url("netlify", configured), "");
}

#[test]
fn a_scheme_without_its_keys_is_refused() {
    let refused = |name: &str| {
        build(name, ProviderParams::default())
            .err()
            .map(|e| (e.field, e.message))
    };
    let (field, message) = refused("netlify").unwrap();
    assert_eq!(field, "secrets");
    assert!(message.contains("no secret configured"), "{message}");
    let (field, message) = refused("wix").unwrap();
    assert_eq!(field, "public_keys");
    assert!(message.contains("no public key configured"), "{message}");
}

#[test]
fn monday_answers_its_challenge() {
    let v = built("monday", &["monday_signing_secret"], &[]);
    let map = headers(&[("content-length", b"20")]);
    assert!(with_request(&map, |req| v.awaits_body_challenge(req)));
    // A request carrying its token is an event, verified as one.
    let signed = headers(&[("content-length", b"20"), ("authorization", b"t")]);
    assert!(!with_request(&signed, |req| v.awaits_body_challenge(req)));
    // The same challenge, signed, is answered after verify too.
    let body = Payload::from(&br#"{"challenge":"c-1"}"#[..]);
    let reply = with_request(&HeaderMap::new(), |req| v.handshake(req, &body));
    assert_eq!(
        reply.map(|r| r.body),
        Some(br#"{"challenge":"c-1"}"#.to_vec())
    );
}

#[test]
fn only_a_printable_id_of_at_most_256_bytes_names_the_event() {
    let secret = "vonage_signature_secret_32_chars_ok";
    let vonage = built("vonage", &[secret], &[]);
    let body = br#"{"a":1}"#;
    let sum = hex::encode(digest::digest(&digest::SHA256, body));
    let event_id = |jti: &str| {
        let claims = json!({"iat": NOW, "jti": jti, "payload_hash": sum});
        let token = hs256(&claims, secret.as_bytes());
        run(&vonage, &bearer(&token), body, NOW).unwrap().event_id
    };
    let longest = "j".repeat(256);
    assert_eq!(event_id(&longest), Some(longest.clone()));
    assert_eq!(event_id(&"j".repeat(257)), None);
    assert_eq!(event_id("j 1"), None);
    assert_eq!(event_id(""), None);
}

#[test]
fn the_detail_of_a_failed_token_names_what_was_tried() {
    let v = built("jwt", &["right"], &[]);
    let wrong = hs256(&json!({"exp": NOW + 60}), b"wrong");
    let detail = |r: Result<_, Rejection>| r.unwrap_err().detail().to_owned();
    let got = detail(run(&v, &bearer(&wrong), b"", NOW));
    assert!(got.contains("token signature does not verify"), "{got}");
    assert!(got.contains("secret"), "{got}");
    assert!(!got.contains("public key"), "{got}");
    // Signed, but its claims are no JSON object: malformed, whatever the key.
    let array = hs256(&json!([1]), b"right");
    let got = detail(run(&v, &bearer(&array), b"", NOW));
    assert!(got.contains("malformed token"), "{got}");
}
