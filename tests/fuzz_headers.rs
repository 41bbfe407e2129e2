//! Property tests of every provider's signature-header parsing: for any
//! header values and any body, `precheck` and `verify` return — never panic — and random input never
//! verifies. Header names come from each provider's own description, so every
//! parser in the catalog (prefixes, `k=v` lists, space lists, timestamps,
//! body fields) is fed garbage in the places it reads.

use bytes::Bytes;
use http::{HeaderMap, HeaderName, HeaderValue, Method, Uri};
use proptest::prelude::*;

use hookguard::body::Payload;
use hookguard::providers::SecretEntry;
use hookguard::providers::{self, FetchParams, Inbound, ProviderParams, SharedVerifier, UrlPrefix};
use hookguard::secret::Secret;

fn entry(value: &str) -> SecretEntry {
    SecretEntry {
        value: Secret::new(value),
        expires: None,
        origin: "literal".into(),
    }
}

/// A verifier for `name` with a plausible key of the right shape.
fn verifier(name: &str) -> Option<SharedVerifier> {
    // Public keys: Discord's vector key (PyNaCl), SendGrid's SDK fixture
    // key, and the Discord key as a Standard Webhooks `whpk_` key and as
    // Telnyx's base64 key.
    let public: &[SecretEntry] = &match name {
        "discord" => vec![entry("03a107bff3ce10be1d70dd18e74bc09967e4d6309ba50d5f1ddc8664125531b8")],
        "sendgrid" => vec![entry("MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE83T4O/n84iotIvIW4mdBgQ/7dAfSmpqIM8kF9mN1flpVKS3GRqe62gw+2fNNRaINXvVpiglSI8eNEc6wEA3F+g==")],
        "standard-webhooks-ed25519" => vec![entry("whpk_A6EHv/POEL4dcN0Y50vAmWfk1jCbpQ1fHdyGZBJVMbg=")],
        "telnyx" => vec![entry("A6EHv/POEL4dcN0Y50vAmWfk1jCbpQ1fHdyGZBJVMbg=")],
        // Wix verifies with an RSA public key only.
        "wix" => vec![entry(include_str!("../src/providers/testdata/rsa_test_public.pem"))],
        _ => vec![],
    };
    let secret = if name == "contentful" {
        "a".repeat(64)
    } else if matches!(
        name,
        "microsoft-teams" | "onfleet" | "adyen" | "adyen-banking"
    ) {
        // Keys decoded from base64 / hex text.
        "c0ffee00c0ffee00c0ffee00c0ffee00".to_owned()
    } else if name == "braintree" {
        "public_key:private_key".to_owned()
    } else if name == "strava" {
        "120475".to_owned() // a subscription id
    } else if providers::takes_user_password(name) {
        "fuzz-user:whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw".to_owned()
    } else {
        "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw".to_owned()
    };
    // Fetched-key providers take no secret, and their required settings.
    let fetch = match name {
        "aws-sns" => Some(FetchParams {
            topics: Some(vec!["arn:aws:sns:us-east-1:123456789012:fuzz".into()]),
            ..FetchParams::default()
        }),
        "paypal" => Some(FetchParams {
            webhook_id: Some("FUZZWEBHOOK".into()),
            allow: Some(vec![UrlPrefix::parse("https://127.0.0.1:1/").unwrap()]),
            ..FetchParams::default()
        }),
        "gcp-pubsub" => Some(FetchParams {
            service_account: Some("fuzz@p.iam.gserviceaccount.com".into()),
            audience: Some("https://hooks.example.com/fuzz".into()),
            url: Some("https://127.0.0.1:1/certs".into()),
            ..FetchParams::default()
        }),
        "kinde" => Some(FetchParams {
            url: Some("https://acme.kinde.com/.well-known/jwks.json".into()),
            ..FetchParams::default()
        }),
        "plaid" => Some(FetchParams {
            url: Some("https://127.0.0.1:1/webhook_verification_key/get".into()),
            client_id: Some(hookguard::secret::Secret::new("fuzz-client")),
            client_secret: Some(hookguard::secret::Secret::new("fuzz-secret")),
            ..FetchParams::default()
        }),
        "fal" => Some(FetchParams {
            url: Some("https://127.0.0.1:1/jwks.json".into()),
            ..FetchParams::default()
        }),
        _ => None,
    };
    let secrets = if public.is_empty() && fetch.is_none() {
        vec![entry(&secret)]
    } else {
        vec![]
    };
    providers::build(
        name,
        ProviderParams {
            secrets: &secrets,
            public_keys: public,
            // The provider defaults: a `tolerance` on an untimed scheme is refused.
            tolerance: None,
            hmac: None,
            verify_token: None,
            // `azure-eventgrid` reads its key from a configured header too.
            token_header: matches!(name, "token" | "azure-eventgrid").then_some(FUZZ_TOKEN_HEADER),
            token_query: None,
            fetch: fetch.as_ref(),
        },
    )
    .ok()
}

/// The header the generic `token` provider reads here (its description
/// names no fixed header).
const FUZZ_TOKEN_HEADER: &str = "x-fuzz-token";

/// Every header name a provider's description mentions.
fn header_names(headers: &str) -> Vec<HeaderName> {
    headers
        .split(", ")
        .filter_map(|part| part.split(':').next())
        .filter_map(|name| HeaderName::from_bytes(name.trim().as_bytes()).ok())
        .collect()
}

fn targets() -> Vec<(&'static str, SharedVerifier, Vec<HeaderName>)> {
    providers::describe_all()
        .into_iter()
        .filter(|info| info.name != "hmac")
        .filter_map(|info| {
            let v = verifier(info.name)?;
            let mut names = header_names(&info.headers);
            if info.name == "token" {
                names.push(HeaderName::from_static(FUZZ_TOKEN_HEADER));
            }
            Some((info.name, v, names))
        })
        .collect()
}

/// Header values: arbitrary visible bytes and obs-text, plus shapes that
/// reach deeper into the parsers (`k=v` lists, prefixes, long runs).
fn value() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        proptest::collection::vec(prop_oneof![0x20u8..0x7f, 0x80u8..=0xff], 0..600),
        "(t|ts|v1|v0|h1|sha256|sha1|v1a)[=,]([0-9a-fA-F+/=_,; -]{0,200})"
            .prop_map(String::into_bytes),
        "v1,[A-Za-z0-9+/=]{0,100}( v1,[A-Za-z0-9+/=]{0,100}){0,20}".prop_map(String::into_bytes),
        "-?[0-9]{0,30}".prop_map(String::into_bytes),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn garbage_never_panics_and_never_verifies(
        values in proptest::collection::vec(value(), 8),
        body in proptest::collection::vec(any::<u8>(), 0..2048),
        pick in any::<u64>(),
        cut in any::<usize>(),
    ) {
        // The body arrives as two frames, cut anywhere, as hyper may deliver it.
        let cut = cut % (body.len() + 1);
        let mut payload = Payload::from(Bytes::copy_from_slice(&body[..cut]));
        payload.push(Bytes::copy_from_slice(&body[cut..]));
        let uri: Uri = "/hook?x=1".parse().unwrap();
        for (name, verifier, names) in targets() {
            let mut headers = HeaderMap::new();
            for (i, header) in names.iter().enumerate() {
                // Each header: absent, or one of the generated values.
                if (pick >> (i % 64)) & 1 == 1 {
                    continue;
                }
                let raw = &values[i % values.len()];
                if let Ok(v) = HeaderValue::from_bytes(raw) {
                    headers.append(header.clone(), v);
                }
            }
            let req = Inbound {
                method: &Method::POST,
                uri: &uri,
                headers: &headers,
                public_url: "https://example.com/hook?x=1",
                now_ms: 1_700_000_000_000,
                key: None,
            };
            let _ = verifier.precheck(&req);
            let result = verifier.verify(&req, &payload);
            prop_assert!(result.is_err(), "{name}: random input verified: {result:?}");
        }
    }
}

/// Providers whose signature (or, for Strava, subscription id) is in the
/// body: no header names to fuzz.
const BODY_SIGNED: &[&str] = &["mailgun", "adyen", "braintree", "dropbox-sign", "strava"];

#[test]
fn every_provider_is_fuzzed() {
    let covered: Vec<&str> = targets()
        .iter()
        .map(|(name, _, names)| {
            assert!(
                !names.is_empty() || BODY_SIGNED.contains(name),
                "{name}: no header names"
            );
            *name
        })
        .collect();
    let all: Vec<&str> = providers::names()
        .into_iter()
        .filter(|n| *n != "hmac")
        .collect();
    assert_eq!(covered, all, "a provider failed to build for fuzzing");
}

/// Names hookguard strips or sets on the way to the upstream, the seeds of
/// the spellings below.
const PROTECTED: [&str; 9] = [
    "x-hookguard-verified",
    "x-hookguard-event-id",
    "x-forwarded-for",
    "x-forwarded-host",
    "forwarded",
    "x-real-ip",
    "x-original-url",
    "x-http-method-override",
    "webhook-id",
];

/// A protected name respelled: each `-` kept or replaced by another token
/// character, letters in any case, sometimes a suffix.
fn respelled() -> impl Strategy<Value = String> {
    (
        0..PROTECTED.len(),
        proptest::collection::vec(prop_oneof![Just('-'), Just('_'), Just('.'), Just('~')], 4),
        any::<u32>(),
        prop_oneof![Just(""), Just("-x"), Just("_"), Just("2")],
    )
        .prop_map(|(i, seps, case, suffix)| {
            let mut n = 0;
            let name: String = PROTECTED[i]
                .chars()
                .enumerate()
                .map(|(j, c)| match c {
                    '-' => {
                        n += 1;
                        seps[(n - 1) % seps.len()]
                    }
                    c if (case >> (j % 32)) & 1 == 1 => c.to_ascii_uppercase(),
                    c => c,
                })
                .collect();
            name + suffix
        })
}

/// A CGI/WSGI/Rack/PHP variable name: upper case, every other byte `_`.
fn cgi_key(name: &str) -> String {
    name.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() {
                char::from(b.to_ascii_uppercase())
            } else {
                '_'
            }
        })
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    /// Whatever names arrive, the upstream gets names that map to distinct
    /// CGI variables, no `X-Hookguard-*`, and from an untrusted peer none of
    /// the original request's description but the `X-Forwarded-*` hookguard
    /// wrote itself.
    #[test]
    fn forwarded_names_cannot_be_folded_onto_protected_ones(
        names in proptest::collection::vec(respelled(), 1..12),
        peer_trusted in any::<bool>(),
    ) {
        use hookguard::proxy::headers::prepare_upstream;
        let mut headers = HeaderMap::new();
        for name in &names {
            let name = HeaderName::from_bytes(name.as_bytes()).unwrap();
            headers.append(name, HeaderValue::from_static("spoofed"));
        }
        prepare_upstream(
            &mut headers,
            HeaderValue::from_str("203.0.113.9").ok(),
            "https",
            None,
            peer_trusted,
        );
        let mut seen = std::collections::HashSet::new();
        for name in headers.keys() {
            let name = name.as_str();
            prop_assert!(seen.insert(cgi_key(name)), "{name}: two names, one variable");
            prop_assert!(!name.starts_with("x-hookguard-"), "{name} forwarded");
            if !peer_trusted {
                let own = ["x-forwarded-for", "x-forwarded-proto"].contains(&name);
                prop_assert!(
                    own || !(name.starts_with("x-forwarded-")
                        || ["forwarded", "x-real-ip", "x-original-url", "x-http-method-override"]
                            .contains(&name)),
                    "{name} forwarded from an untrusted peer"
                );
            }
        }
        prop_assert_eq!(&headers["x-forwarded-for"], "203.0.113.9");
    }
}
