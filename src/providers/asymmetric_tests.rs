//! Tests of the public-key family: external vectors, windows, key decoding,
//! the Discord PING handshake and `sign` round trips.

use http::Method;
use ring::signature::KeyPair;

use super::super::testutil::{headers, inbound, kind, precheck_at, run, secrets, Garbage};
use super::super::{build, SharedVerifier};
use super::*;

fn with_keys(name: &str, keys: &[&str]) -> Result<SharedVerifier, BuildError> {
    build(
        name,
        ProviderParams {
            public_keys: &secrets(keys),
            ..ProviderParams::default()
        },
    )
}

fn handshake(v: &SharedVerifier, body: &[u8]) -> Option<HandshakeReply> {
    let method = Method::POST;
    let uri = http::Uri::from_static("/hook");
    let map = HeaderMap::new();
    let req = inbound(&method, &uri, &map);
    v.handshake(&req, &crate::body::Payload::from(body))
}

// Discord: signed with PyNaCl 1.6.2, verified with
// discord-interactions `verifyKey`; reproduced here with `openssl pkeyutl`.
const DISCORD_SEED: &str = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";
const DISCORD_PK: &str = "03a107bff3ce10be1d70dd18e74bc09967e4d6309ba50d5f1ddc8664125531b8";
const DISCORD_SIG: &[u8] = b"c1098e97d711377f30225d53d94b89d43537f92e5b3afaddc590781b1f9f9d4b2eeab335d370be3b9a090bc61a85b86448bc140dcd195f1569c2bff181257607";

#[test]
fn discord_pynacl_vector_window_and_ping() {
    let v = with_keys("discord", &[DISCORD_PK]).unwrap();
    let h = headers(&[
        ("X-Signature-Ed25519", DISCORD_SIG),
        ("X-Signature-Timestamp", b"1700000000"),
    ]);
    let ok = run(&v, &h, br#"{"type":1}"#, 1_700_000_000).unwrap();
    assert_eq!(ok.secret_index, 0);
    assert!(matches!(ok.dedup, Dedup::Signature(ref d) if d.len() == 32));
    assert_eq!(
        kind(&run(&v, &h, br#"{"type":2}"#, 1_700_000_000)),
        "invalid"
    );
    assert_eq!(
        kind(&run(&v, &h, br#"{"type":1}"#, 1_700_000_301)),
        "timestamp"
    );
    assert_eq!(
        kind(&run(&v, &h, br#"{"type":1}"#, 1_699_999_699)),
        "timestamp"
    );
    let no_ts = headers(&[("X-Signature-Ed25519", DISCORD_SIG)]);
    assert_eq!(
        kind(&run(&v, &no_ts, br#"{"type":1}"#, 1_700_000_000)),
        "missing"
    );
    let short = headers(&[
        ("X-Signature-Ed25519", &DISCORD_SIG[..126]),
        ("X-Signature-Timestamp", b"1700000000"),
    ]);
    assert_eq!(
        kind(&run(&v, &short, br#"{"type":1}"#, 1_700_000_000)),
        "invalid"
    );
    // PING is answered; anything else is an event.
    let reply = handshake(&v, br#"{"type":1}"#).unwrap();
    assert_eq!(
        (reply.status, reply.content_type),
        (200, "application/json")
    );
    assert_eq!(reply.body, br#"{"type":1}"#);
    assert!(handshake(&v, br#"{"type":2,"data":{}}"#).is_none());
    assert!(handshake(&v, b"not json").is_none());
    // A second (rotated) key: the first one expired.
    let mut keys = secrets(&[DISCORD_PK, &"ab".repeat(32)]);
    keys[0].expires = Some(1);
    let rotated = build(
        "discord",
        ProviderParams {
            public_keys: &keys,
            ..ProviderParams::default()
        },
    );
    let r = run(&rotated.unwrap(), &h, br#"{"type":1}"#, 1_700_000_000);
    assert!(
        format!("{r:?}")
            .contains("1 signature tried against 1 unexpired public key (#1), 1 expired"),
        "{r:?}"
    );
}

// SendGrid: SDK test fixture `@sendgrid/eventwebhook` `src/eventwebhook.spec.js`
// (the body ends with CR LF).
const SG_KEY: &str = "MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE83T4O/n84iotIvIW4mdBgQ/7dAfSmpqIM8kF9mN1flpVKS3GRqe62gw+2fNNRaINXvVpiglSI8eNEc6wEA3F+g==";
const SG_SIG: &[u8] = b"MEUCIGHQVtGj+Y3LkG9fLcxf3qfI10QysgDWmMOVmxG0u6ZUAiEAyBiXDWzM+uOe5W0JuG+luQAbPIqHh89M15TluLtEZtM=";
const SG_BODY: &[u8] = b"[{\"email\":\"hello@world.com\",\"event\":\"dropped\",\"reason\":\"Bounced Address\",\"sg_event_id\":\"ZHJvcC0xMDk5NDkxOS1MUnpYbF9OSFN0T0doUTRrb2ZTbV9BLTA\",\"sg_message_id\":\"LRzXl_NHStOGhQ4kofSm_A.filterdrecv-p3mdw1-756b745b58-kmzbl-18-5F5FC76C-9.0\",\"smtp-id\":\"<LRzXl_NHStOGhQ4kofSm_A@ismtpd0039p1iad1.sendgrid.net>\",\"timestamp\":1600112492}]\r\n";

#[test]
fn sendgrid_sdk_fixture() {
    let v = with_keys("sendgrid", &[SG_KEY]).unwrap();
    let h = headers(&[
        ("X-Twilio-Email-Event-Webhook-Signature", SG_SIG),
        ("X-Twilio-Email-Event-Webhook-Timestamp", b"1600112502"),
    ]);
    // SendGrid documents no window: 5 minutes each way by default, and a
    // route's `tolerance` applies.
    assert!(run(&v, &h, SG_BODY, 1_600_112_502 + 300).is_ok());
    assert!(run(&v, &h, SG_BODY, 1_600_112_502 - 300).is_ok());
    assert_eq!(
        kind(&run(&v, &h, SG_BODY, 1_600_112_502 + 301)),
        "timestamp"
    );
    assert_eq!(
        kind(&run(&v, &h, SG_BODY, 1_600_112_502 - 301)),
        "timestamp"
    );
    assert_eq!(v.tolerance(), Some(std::time::Duration::from_secs(300)));
    let wide = build(
        "sendgrid",
        ProviderParams {
            public_keys: &secrets(&[SG_KEY]),
            tolerance: Some(std::time::Duration::from_secs(3600)),
            ..ProviderParams::default()
        },
    )
    .unwrap();
    assert!(run(&wide, &h, SG_BODY, 1_600_112_502 + 3600).is_ok());
    assert_eq!(
        kind(&run(&wide, &h, SG_BODY, 1_600_112_502 + 3601)),
        "timestamp"
    );
    assert_eq!(
        kind(&run(&v, &h, &SG_BODY[..SG_BODY.len() - 2], 0)),
        "invalid"
    );
    let other_ts = headers(&[
        ("X-Twilio-Email-Event-Webhook-Signature", SG_SIG),
        ("X-Twilio-Email-Event-Webhook-Timestamp", b"1600112503"),
    ]);
    assert_eq!(kind(&run(&v, &other_ts, SG_BODY, 0)), "invalid");
    // Bad keys are build errors on the right field.
    let e = with_keys("sendgrid", &["MFkw"]).err().unwrap();
    assert_eq!(e.field, "public_keys[0]");
    let e = with_keys("sendgrid", &[]).err().unwrap();
    assert_eq!(e.field, "public_keys");
}

// Standard Webhooks v1a: signature made with OpenSSL 3.0.19
// (`openssl pkeyutl -sign -rawin`, Ed25519 key from seed 00..1f) over the
// reference libraries' published message (id, timestamp, body).
const SW_PK: &str = "whpk_A6EHv/POEL4dcN0Y50vAmWfk1jCbpQ1fHdyGZBJVMbg=";
const SW_SIG: &[u8] =
    b"v1a,yoUrgEkc12aGqm0n4Sydmdz55xJfTz4AsAgieHFjmkR7LJtqVCZOQYzvvHjI5kAey+r4iaBGxTFRrl2iBQxtDQ==";

#[test]
fn standard_webhooks_v1a_openssl_vector() {
    let v = with_keys("standard-webhooks-ed25519", &[SW_PK]).unwrap();
    let sig = [&b"v1,AAAA "[..], SW_SIG].concat();
    let h = headers(&[
        ("webhook-id", b"msg_p5jXN8AQM9LWM0D4loKWxJek"),
        ("webhook-timestamp", b"1614265330"),
        ("webhook-signature", &sig),
    ]);
    let body = br#"{"test": 2432232314}"#;
    let ok = run(&v, &h, body, 1_614_265_330).unwrap();
    assert_eq!(ok.event_id.as_deref(), Some("msg_p5jXN8AQM9LWM0D4loKWxJek"));
    assert_eq!(
        ok.dedup,
        Dedup::SignedId("msg_p5jXN8AQM9LWM0D4loKWxJek".into())
    );
    assert_eq!(
        kind(&run(&v, &h, br#"{"test": 2432232315}"#, 1_614_265_330)),
        "invalid"
    );
    assert_eq!(kind(&run(&v, &h, body, 1_614_265_631)), "timestamp");
    let only_v1 = headers(&[
        ("webhook-id", b"msg_p5jXN8AQM9LWM0D4loKWxJek"),
        ("webhook-timestamp", b"1614265330"),
        (
            "webhook-signature",
            b"v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=",
        ),
    ]);
    assert_eq!(kind(&run(&v, &only_v1, body, 1_614_265_330)), "invalid");
    // Secrets instead of a public key: refused at build.
    let e = build(
        "standard-webhooks-ed25519",
        ProviderParams {
            secrets: &secrets(&["whsec_x"]),
            ..ProviderParams::default()
        },
    )
    .err()
    .unwrap();
    assert_eq!(e.field, "secrets");
}

// Telnyx: signed under the seed 00..1f and accepted by telnyx npm 7.24.0's
// verifier with its clock frozen (C✓); the public key is that seed's.
const TELNYX_PK: &str = "A6EHv/POEL4dcN0Y50vAmWfk1jCbpQ1fHdyGZBJVMbg=";
const TELNYX_BODY: &[u8] = br#"{"data":{"event_type":"call.initiated","id":"0ccc7b54"}}"#;
const TELNYX_SIG: &[u8] =
    b"cIj+OhiR/zq/feoQGrsGUhKej+yeDDyvdaEs0U2FFDAMo7xscVvmsM5KAK7JZpEjWIV0Y+HRLqkbbA/E7o28DA==";

#[test]
fn telnyx_sdk_vector_separator_and_window() {
    let v = with_keys("telnyx", &[TELNYX_PK]).unwrap();
    let h = headers(&[
        ("telnyx-signature-ed25519", TELNYX_SIG),
        ("telnyx-timestamp", b"1700000000"),
    ]);
    let ok = run(&v, &h, TELNYX_BODY, 1_700_000_000).unwrap();
    assert_eq!(ok.secret_index, 0);
    assert_eq!(kind(&run(&v, &h, b"{}", 1_700_000_000)), "invalid");
    // The `|` is signed: the same signature over `{ts}{body}` (Discord's
    // layout) does not verify, nor does one with the timestamp moved.
    let pair = ed25519_private(DISCORD_SEED.as_bytes()).unwrap();
    let no_bar = [&b"1700000000"[..], TELNYX_BODY].concat();
    let b64 = |b: &[u8]| base64::engine::general_purpose::STANDARD.encode(b);
    let wrong = b64(pair.sign(&no_bar).as_ref());
    let h2 = headers(&[
        ("telnyx-signature-ed25519", wrong.as_bytes()),
        ("telnyx-timestamp", b"1700000000"),
    ]);
    assert_eq!(kind(&run(&v, &h2, TELNYX_BODY, 1_700_000_000)), "invalid");
    // 300 s both ways.
    assert!(run(&v, &h, TELNYX_BODY, 1_700_000_300).is_ok());
    assert_eq!(kind(&run(&v, &h, TELNYX_BODY, 1_700_000_301)), "timestamp");
    assert_eq!(kind(&run(&v, &h, TELNYX_BODY, 1_699_999_699)), "timestamp");
    let hex_sig = headers(&[
        ("telnyx-signature-ed25519", &b"ab"[..]),
        ("telnyx-timestamp", b"1700000000"),
    ]);
    assert_eq!(
        kind(&run(&v, &hex_sig, TELNYX_BODY, 1_700_000_000)),
        "invalid"
    );
    assert!(
        with_keys("telnyx", &[DISCORD_PK]).is_err(),
        "hex key refused"
    );
}

#[test]
fn sign_round_trips() {
    let req = SignRequest {
        body: b"{\"type\":2}",
        timestamp: 1_700_000_000,
        id: Some("msg_1"),
        url: None,
        method: "POST",
    };
    let rng = SystemRandom::new();
    let pkcs8 =
        EcdsaKeyPair::generate_pkcs8(&signature::ECDSA_P256_SHA256_ASN1_SIGNING, &rng).unwrap();
    let pair = EcdsaKeyPair::from_pkcs8(
        &signature::ECDSA_P256_SHA256_ASN1_SIGNING,
        pkcs8.as_ref(),
        &rng,
    )
    .unwrap();
    let b64 = |b: &[u8]| base64::engine::general_purpose::STANDARD.encode(b);
    let spki = b64(&[&P256_SPKI_PREFIX[..], pair.public_key().as_ref()].concat());
    let sg_secret = b64(pkcs8.as_ref());
    let seed_b64 = b64(&hex::decode(DISCORD_SEED).unwrap());
    let cases: [(&str, &str, &str); 4] = [
        ("discord", DISCORD_SEED, DISCORD_PK),
        ("telnyx", DISCORD_SEED, TELNYX_PK),
        ("standard-webhooks-ed25519", &seed_b64, SW_PK),
        ("sendgrid", &sg_secret, &spki),
    ];
    for (name, secret, public) in cases {
        let scheme = match name {
            "discord" => AsymScheme::Discord,
            "sendgrid" => AsymScheme::SendGrid,
            "telnyx" => AsymScheme::Telnyx,
            _ => AsymScheme::StandardWebhooksEd25519,
        };
        let pairs = sign(scheme, secret.as_bytes(), &req).unwrap();
        let mut map = HeaderMap::new();
        for (k, val) in &pairs {
            map.insert(
                HeaderName::from_bytes(k.as_bytes()).unwrap(),
                val.parse().unwrap(),
            );
        }
        let v = with_keys(name, &[public]).unwrap();
        assert!(run(&v, &map, req.body, 1_700_000_000).is_ok(), "{name}");
        assert_eq!(
            kind(&run(&v, &map, b"{}", 1_700_000_000)),
            "invalid",
            "{name}"
        );
        assert!(sign(scheme, b"nope", &req).is_err(), "{name}");
    }
}

#[test]
fn garbage_never_panics() {
    let d = with_keys("discord", &[DISCORD_PK]).unwrap();
    let s = with_keys("sendgrid", &[SG_KEY]).unwrap();
    let w = with_keys("standard-webhooks-ed25519", &[SW_PK]).unwrap();
    let t = with_keys("telnyx", &[TELNYX_PK]).unwrap();
    let mut g = Garbage::new(11);
    for _ in 0..1500 {
        let sig = g.value(SW_SIG);
        let ts = g.value(b"1700000000");
        let (Ok(sig), Ok(ts)) = (
            http::HeaderValue::from_bytes(&sig),
            http::HeaderValue::from_bytes(&ts),
        ) else {
            continue;
        };
        for (v, names) in [
            (&d, ["x-signature-ed25519", "x-signature-timestamp"]),
            (
                &s,
                [
                    "x-twilio-email-event-webhook-signature",
                    "x-twilio-email-event-webhook-timestamp",
                ],
            ),
            (&w, ["webhook-signature", "webhook-timestamp"]),
            (&t, ["telnyx-signature-ed25519", "telnyx-timestamp"]),
        ] {
            let mut h = HeaderMap::new();
            h.insert(names[0], sig.clone());
            h.insert(names[1], ts.clone());
            h.insert("webhook-id", ts.clone());
            let _ = run(v, &h, b"{}", 1_700_000_000);
        }
    }
}

/// A SendGrid key must be a P-256 SubjectPublicKeyInfo holding one
/// uncompressed point (65 bytes, 0x04 first): anything else is a build
/// error on the key, not a route whose every request fails.
#[test]
fn sendgrid_key_must_hold_one_uncompressed_point() {
    let der = BASE64_LENIENT.decode(SG_KEY).unwrap();
    let b64 = |bytes: &[u8]| base64::engine::general_purpose::STANDARD.encode(bytes);
    assert!(with_keys("sendgrid", &[&b64(&der)]).is_ok());
    let mut compressed = der.clone();
    compressed[P256_SPKI_PREFIX.len()] = 0x02;
    let short = &der[..der.len() - 1];
    let long = [&der[..], &[0]].concat();
    for bad in [&compressed[..], short, &long[..]] {
        let e = with_keys("sendgrid", &[&b64(bad)]).err().unwrap();
        assert_eq!(e.field, "public_keys[0]");
        assert!(e.message.contains("uncompressed point"), "{}", e.message);
    }
}

/// A signature of the wrong size is refused from the headers, with a
/// reason, before the body is read: 64 bytes for Ed25519, at most 256
/// characters of base64 for a DER ECDSA signature (72 bytes at most).
#[test]
fn signature_size_is_checked_from_the_headers() {
    let refusal = |name: &str, key: &str, pairs: &[(&str, &[u8])]| {
        let v = with_keys(name, &[key]).unwrap();
        format!("{:?}", run(&v, &headers(pairs), b"{}", 1_700_000_000))
    };
    let ts = ("x-signature-timestamp", &b"1700000000"[..]);
    let short = refusal(
        "discord",
        DISCORD_PK,
        &[("x-signature-ed25519", &DISCORD_SIG[..126]), ts],
    );
    assert!(short.contains("expected 128 hex characters"), "{short}");
    let b64 = |b: &[u8]| base64::engine::general_purpose::STANDARD.encode(b);
    let ts = ("telnyx-timestamp", &b"1700000000"[..]);
    let sig = b64(&[7; 63]);
    let short = refusal(
        "telnyx",
        TELNYX_PK,
        &[("telnyx-signature-ed25519", sig.as_bytes()), ts],
    );
    assert!(short.contains("(64 bytes)"), "{short}");
    let v1a = format!("v1a,{sig}");
    let short = refusal(
        "standard-webhooks-ed25519",
        SW_PK,
        &[
            ("webhook-signature", v1a.as_bytes()),
            ("webhook-timestamp", b"1700000000"),
            ("webhook-id", b"msg_1"),
        ],
    );
    assert!(short.contains("no usable v1a signature"), "{short}");
    let ts = ("x-twilio-email-event-webhook-timestamp", &b"1700000000"[..]);
    let sendgrid = |sig: &[u8]| {
        refusal(
            "sendgrid",
            SG_KEY,
            &[("x-twilio-email-event-webhook-signature", sig), ts],
        )
    };
    let at_limit = sendgrid(&[b'A'; MAX_SIG_TEXT]);
    assert!(at_limit.contains("does not verify"), "{at_limit}");
    let over = sendgrid(&[b'A'; MAX_SIG_TEXT + 1]);
    assert!(over.contains("too long for a P-256 signature"), "{over}");
}

/// Each scheme names its provider (audit lines and metrics carry it), and
/// its precheck refuses a stale request from the headers alone.
#[test]
fn provider_names_and_precheck() {
    let v = with_keys("discord", &[DISCORD_PK]).unwrap();
    assert_eq!(v.provider(), "discord");
    let h = headers(&[
        ("X-Signature-Ed25519", DISCORD_SIG),
        ("X-Signature-Timestamp", b"1700000000"),
    ]);
    let at = |now_secs: i64| precheck_at(&v, &h, now_secs);
    assert_eq!(at(1_700_000_000), Ok(()));
    let stale = at(1_700_000_301).unwrap_err();
    assert_eq!(stale.code(), "timestamp_out_of_tolerance");
}

/// `hookguard sign` reads a hex private key only as the 32-byte seed the
/// CLI documents; other hex lengths are refused.
#[test]
fn hex_private_keys_are_32_byte_seeds() {
    assert!(ed25519_private(DISCORD_SEED.as_bytes()).is_ok());
    let doubled = DISCORD_SEED.repeat(2);
    let e = ed25519_private(doubled.as_bytes()).err().unwrap();
    assert_eq!(e.field, "secret");
}

/// Only `v1a` signs a message id: `hookguard sign` asks for one there and
/// needs none for the other schemes.
#[test]
fn only_v1a_signing_needs_an_id() {
    let req = SignRequest {
        body: b"{}",
        timestamp: 1_700_000_000,
        id: None,
        url: None,
        method: "POST",
    };
    let seed = DISCORD_SEED.as_bytes();
    assert!(sign(AsymScheme::Discord, seed, &req).is_ok());
    assert!(sign(AsymScheme::Telnyx, seed, &req).is_ok());
    let e = sign(AsymScheme::StandardWebhooksEd25519, seed, &req)
        .err()
        .unwrap();
    assert_eq!(e.field, "id");
}
