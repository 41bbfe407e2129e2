//! `verify()` of a 1 KiB body for every built-in provider, and of a 64 KiB
//! body for GitHub and Stripe (one HMAC pass, or more): the per-request
//! hot path (header parsing, signature decoding, HMAC, constant-time compare,
//! dedup key). Building verifiers and signing requests happen outside the
//! measured loop. Run with `cargo bench --bench verify`.
//!
//! Measured 2026 on the 2-core dev VM (AMD EPYC, SHA-NI; release profile,
//! fat LTO; criterion 1 s warm-up, 3 s measurement; other builds idle), median:
//! github 1.0 µs, shopify 0.93 µs, slack 1.04 µs, stripe 1.2 µs, stripe with
//! three `v1` 2.3 µs, standard-webhooks 1.3 µs, svix 1.4 µs, generic hmac
//! `{timestamp}.{body}` 1.3 µs, gitlab 0.26 µs; slack precheck 0.17 µs.
//! Run-to-run noise on this shared machine is about ±15 %.

#![forbid(unsafe_code)]

use std::hint::black_box;

use base64::Engine as _;
use criterion::{criterion_group, criterion_main, Criterion};
use http::{HeaderMap, HeaderName, HeaderValue, Method, Uri};
use ring::hmac;

use hookguard::body::Payload;
use hookguard::providers::{
    build, GenericHmac, HmacAlgorithm, Inbound, ProviderParams, SecretEntry, SharedVerifier,
    SignatureEncoding,
};
use hookguard::secret::Secret;

const NOW: i64 = 1_700_000_000;
const SECRET: &str = "bench_secret_0123456789";
const WHSEC: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

/// A JSON body of exactly `len` bytes.
fn json_body(len: usize) -> Vec<u8> {
    let mut b = br#"{"id":"evt_bench","data":""#.to_vec();
    b.resize(len - 2, b'x');
    b.extend_from_slice(b"\"}");
    b
}

fn sign(key: &[u8], parts: &[&[u8]]) -> Vec<u8> {
    hmac::sign(&hmac::Key::new(hmac::HMAC_SHA256, key), &parts.concat())
        .as_ref()
        .to_vec()
}

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

fn headers(pairs: &[(&str, String)]) -> HeaderMap {
    pairs
        .iter()
        .map(|(k, v)| {
            (
                HeaderName::from_bytes(k.as_bytes()).unwrap(),
                HeaderValue::from_str(v).unwrap(),
            )
        })
        .collect()
}

fn verifier(name: &str, secret: &str, hmac: Option<&GenericHmac>) -> SharedVerifier {
    let secrets = [SecretEntry {
        value: Secret::new(secret),
        expires: None,
        origin: "literal".into(),
    }];
    build(
        name,
        ProviderParams {
            secrets: &secrets,
            public_keys: &[],
            tolerance: None,
            hmac,
            verify_token: None,
            token_header: None,
            fetch: None,
            token_query: None,
        },
    )
    .unwrap()
}

/// (bench name, verifier, headers) for every provider, each with a valid request.
fn cases(body: &[u8]) -> Vec<(&'static str, SharedVerifier, HeaderMap)> {
    let key = SECRET.as_bytes();
    let ts = NOW.to_string();
    let sw_key = base64::engine::general_purpose::STANDARD
        .decode(WHSEC.trim_start_matches("whsec_"))
        .unwrap();
    let sw_sig = b64(&sign(&sw_key, &[b"msg_1", b".", ts.as_bytes(), b".", body]));
    let generic = GenericHmac {
        algorithm: HmacAlgorithm::Sha256,
        header: "x-signature".into(),
        fallback_headers: Vec::new(),
        prefix: None,
        encoding: SignatureEncoding::Hex,
        timestamp_header: Some("x-timestamp".into()),
        timestamp_format: None,
        id_header: None,
        signed: "{timestamp}.{body}".into(),
        key_encoding: hookguard::providers::HmacKeyEncoding::Utf8,
        key_prefix: None,
        signature_keys: Vec::new(),
        timestamp_key: None,
        pair_separator: None,
        mode: hookguard::providers::HmacMode::Hmac,
    };
    let stripe_sig = hex::encode(sign(key, &[ts.as_bytes(), b".", body]));
    vec![
        (
            "github",
            verifier("github", SECRET, None),
            headers(&[(
                "x-hub-signature-256",
                format!("sha256={}", hex::encode(sign(key, &[body]))),
            )]),
        ),
        (
            "gitlab",
            verifier("gitlab", SECRET, None),
            headers(&[
                ("x-gitlab-token", SECRET.into()),
                ("x-gitlab-event-uuid", "0b4ad9a1-0c4d-4e9c-8b7a".into()),
            ]),
        ),
        (
            "stripe",
            verifier("stripe", SECRET, None),
            headers(&[("stripe-signature", format!("t={ts},v1={stripe_sig}"))]),
        ),
        (
            "stripe-3xv1",
            verifier("stripe", SECRET, None),
            headers(&[(
                "stripe-signature",
                format!("t={ts},v1={z},v1={z},v1={stripe_sig}", z = "0".repeat(64)),
            )]),
        ),
        (
            "slack",
            verifier("slack", SECRET, None),
            headers(&[
                (
                    "x-slack-signature",
                    format!(
                        "v0={}",
                        hex::encode(sign(key, &[b"v0:", ts.as_bytes(), b":", body]))
                    ),
                ),
                ("x-slack-request-timestamp", ts.clone()),
            ]),
        ),
        (
            "shopify",
            verifier("shopify", SECRET, None),
            headers(&[("x-shopify-hmac-sha256", b64(&sign(key, &[body])))]),
        ),
        (
            "standard-webhooks",
            verifier("standard-webhooks", WHSEC, None),
            headers(&[
                ("webhook-id", "msg_1".into()),
                ("webhook-timestamp", ts.clone()),
                ("webhook-signature", format!("v1,{sw_sig}")),
            ]),
        ),
        (
            "svix",
            verifier("svix", WHSEC, None),
            headers(&[
                ("svix-id", "msg_1".into()),
                ("svix-timestamp", ts.clone()),
                ("svix-signature", format!("v1,{sw_sig}")),
            ]),
        ),
        (
            "hmac-timestamped",
            verifier("hmac", SECRET, Some(&generic)),
            headers(&[
                (
                    "x-signature",
                    hex::encode(sign(key, &[ts.as_bytes(), b".", body])),
                ),
                ("x-timestamp", ts.clone()),
            ]),
        ),
    ]
}

fn bench_verify(c: &mut Criterion) {
    let body = json_body(1024);
    let method = Method::POST;
    let uri = Uri::from_static("/webhooks");
    bench_group(c, "verify_1KiB", &body, |_| true);
    // A large body: the per-byte cost (HMAC passes, any extra hash) dominates.
    bench_group(c, "verify_64KiB", &json_body(64 * 1024), |name| {
        matches!(name, "github" | "stripe" | "stripe-3xv1")
    });

    // The head-only check that runs before the body is read.
    let (_, v, map) = cases(&body).into_iter().find(|c| c.0 == "slack").unwrap();
    let req = Inbound {
        method: &method,
        uri: &uri,
        headers: &map,
        public_url: "",
        now_ms: NOW * 1000,
        key: None,
    };
    c.bench_function("precheck/slack", |b| {
        b.iter(|| v.precheck(black_box(&req)).unwrap())
    });
}

/// Benches `verify()` of `body` for every case that `pick` selects.
fn bench_group(c: &mut Criterion, group: &str, body: &[u8], pick: impl Fn(&str) -> bool) {
    let method = Method::POST;
    let uri = Uri::from_static("/webhooks");
    let mut group = c.benchmark_group(group);
    let payload = Payload::from(body);
    for (name, v, map) in cases(body).into_iter().filter(|c| pick(c.0)) {
        let req = Inbound {
            method: &method,
            uri: &uri,
            headers: &map,
            public_url: "https://example.com/webhooks",
            now_ms: NOW * 1000,
            key: None,
        };
        v.verify(&req, &payload).expect(name);
        group.bench_function(name, |b| {
            b.iter(|| v.verify(black_box(&req), black_box(&payload)).unwrap())
        });
    }
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(std::time::Duration::from_secs(1))
        .measurement_time(std::time::Duration::from_secs(3));
    targets = bench_verify
}
criterion_main!(benches);
