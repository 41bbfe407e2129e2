//! `verify` for public-key schemes (Discord, SendGrid) from published
//! vectors, with the key as `--public-key` and as `--secret`, and the
//! explainer's wording for keys in the wrong form.

use super::{hookguard, text};

// Discord: an Ed25519 request signed with PyNaCl 1.6.2 (seed 00..1f) and
// checked with discord-interactions `verifyKey` (the same vector as the
// provider's unit tests).
pub(super) const DISCORD_SEED: &str =
    "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";
pub(super) const DISCORD_PK: &str =
    "03a107bff3ce10be1d70dd18e74bc09967e4d6309ba50d5f1ddc8664125531b8";
const DISCORD_SIG: &str = "c1098e97d711377f30225d53d94b89d43537f92e5b3afaddc590781b1f9f9d4b2eeab335d370be3b9a090bc61a85b86448bc140dcd195f1569c2bff181257607";
const DISCORD_BODY: &[u8] = br#"{"type":1}"#;

// SendGrid: the `@sendgrid/eventwebhook` test fixture (src/eventwebhook.spec.js):
// ECDSA P-256, base64 DER public key; the body ends with CR LF.
const SG_KEY: &str = "MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE83T4O/n84iotIvIW4mdBgQ/7dAfSmpqIM8kF9mN1flpVKS3GRqe62gw+2fNNRaINXvVpiglSI8eNEc6wEA3F+g==";
const SG_SIG: &str = "MEUCIGHQVtGj+Y3LkG9fLcxf3qfI10QysgDWmMOVmxG0u6ZUAiEAyBiXDWzM+uOe5W0JuG+luQAbPIqHh89M15TluLtEZtM=";
const SG_BODY: &[u8] = b"[{\"email\":\"hello@world.com\",\"event\":\"dropped\",\"reason\":\"Bounced Address\",\"sg_event_id\":\"ZHJvcC0xMDk5NDkxOS1MUnpYbF9OSFN0T0doUTRrb2ZTbV9BLTA\",\"sg_message_id\":\"LRzXl_NHStOGhQ4kofSm_A.filterdrecv-p3mdw1-756b745b58-kmzbl-18-5F5FC76C-9.0\",\"smtp-id\":\"<LRzXl_NHStOGhQ4kofSm_A@ismtpd0039p1iad1.sendgrid.net>\",\"timestamp\":1600112492}]\r\n";

/// Another P-256 key pair, made with `openssl genpkey -algorithm EC -pkeyopt
/// ec_paramgen_curve:P-256 | openssl pkcs8 -topk8 -nocrypt -outform DER |
/// base64`, and `openssl pkey -pubout -outform DER | base64` for its public key.
const OTHER_P256_PKCS8: &str = "MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgQ8V9ybnFtDXVTl8kp5Eb1g0UQdt5hFMq3qOcZSPcpsShRANCAAQYEeZVB5pIs3V3+8s99uNEXNXXtJlf+j7uAxpuT8A1o1bR1T+o0IDQ1ZE++8+Ej79yywmaoOJmyPrMTpikCkz2";
const OTHER_P256_PK: &str = "MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEGBHmVQeaSLN1d/vLPfbjRFzV17SZX/o+7gMabk/ANaNW0dU/qNCA0NWRPvvPhI+/cssJmqDiZsj6zE6YpApM9g==";

/// The vectors were signed years ago: a window that still covers them.
const CENTURY: &str = "36500d";

fn discord_args<'a>(key_flag: &'a str, key: &'a str) -> Vec<&'a str> {
    vec![
        "verify",
        "--provider",
        "discord",
        key_flag,
        key,
        "-H",
        "X-Signature-Timestamp: 1700000000",
    ]
}

fn with_extra<'a>(mut args: Vec<&'a str>, extra: &[&'a str]) -> Vec<&'a str> {
    args.extend_from_slice(extra);
    args
}

#[test]
fn verify_discord_vector_with_the_public_key_as_public_key_or_secret() {
    let sig = format!("X-Signature-Ed25519: {DISCORD_SIG}");
    for flag in ["--public-key", "--secret"] {
        let args = with_extra(
            discord_args(flag, DISCORD_PK),
            &["-H", &sig, "--tolerance", CENTURY],
        );
        let out = hookguard(&args, DISCORD_BODY);
        assert!(out.status.success(), "{flag}: {}", text(&out.stderr));
        let stdout = text(&out.stdout);
        assert!(
            stdout.starts_with("valid: provider discord, public key #0"),
            "{stdout}"
        );
        assert!(stdout.contains("a handshake"), "{stdout}");

        // Tampered body: the reason, a hint about the key, never the signature.
        let out = hookguard(&args, br#"{"type":2}"#);
        assert_eq!(out.status.code(), Some(1), "{flag}");
        let err = text(&out.stderr);
        assert!(
            err.contains("invalid_signature: signature does not verify"),
            "{err}"
        );
        assert!(err.contains("hint: either the public key"), "{err}");
        assert!(
            !err.contains(&DISCORD_SIG[..16]),
            "echoes the signature: {err}"
        );

        // The default window: refused as stale, and said to be valid otherwise.
        let args = with_extra(discord_args(flag, DISCORD_PK), &["-H", &sig]);
        let out = hookguard(&args, DISCORD_BODY);
        assert_eq!(out.status.code(), Some(1));
        let err = text(&out.stderr);
        assert!(err.contains("timestamp_out_of_tolerance"), "{err}");
        assert!(err.contains(" s old (tolerance 300 s)"), "{err}");
        assert!(
            err.contains("the signature itself is valid (public key #0"),
            "{err}"
        );
    }
}

#[test]
fn verify_sendgrid_fixture_with_the_public_key_as_public_key_or_secret() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("events.json");
    std::fs::write(&file, SG_BODY).unwrap();
    let sig = format!("X-Twilio-Email-Event-Webhook-Signature: {SG_SIG}");
    for flag in ["--public-key", "--secret"] {
        let args = [
            "verify",
            "--provider",
            "sendgrid",
            flag,
            SG_KEY,
            "-H",
            &sig,
            "-H",
            "X-Twilio-Email-Event-Webhook-Timestamp: 1600112502",
            "--tolerance",
            CENTURY,
            file.to_str().unwrap(),
        ];
        let out = hookguard(&args, b"");
        assert!(out.status.success(), "{flag}: {}", text(&out.stderr));
        assert!(text(&out.stdout).starts_with("valid: provider sendgrid, public key #0"));
        // Without the final CR LF the signature does not verify.
        std::fs::write(&file, &SG_BODY[..SG_BODY.len() - 2]).unwrap();
        let out = hookguard(&args, b"");
        assert_eq!(out.status.code(), Some(1));
        assert!(text(&out.stderr).contains("invalid_signature"));
        std::fs::write(&file, SG_BODY).unwrap();
    }
    // Several keys (rotation): the second one verifies.
    let out = hookguard(
        &[
            "verify",
            "--provider",
            "sendgrid",
            "--public-key",
            OTHER_P256_PK,
            "--public-key",
            SG_KEY,
            "-H",
            &sig,
            "-H",
            "X-Twilio-Email-Event-Webhook-Timestamp: 1600112502",
            "--tolerance",
            CENTURY,
        ],
        SG_BODY,
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("public key #1"));
}

#[test]
fn verify_names_a_public_key_in_the_wrong_form() {
    // The private key where SendGrid wants the public key.
    let pkcs8 = OTHER_P256_PKCS8;
    let pem = format!("-----BEGIN PUBLIC KEY-----\n{SG_KEY}\n-----END PUBLIC KEY-----");
    // Discord's key as base64 instead of hex.
    let discord_b64 = "A6EHv/POEL4dcN0Y50vAmWfk1jCbpQ1fHdyGZBJVMbg=";
    let cases: [(&str, &str, &str, &str); 4] = [
        ("sendgrid", "--public-key", pkcs8, "this is a private key"),
        ("sendgrid", "--secret", &pem, "remove the PEM armour"),
        ("discord", "--public-key", discord_b64, "looks like base64"),
        (
            "discord",
            "--secret",
            &DISCORD_PK[..62],
            "Ed25519 public key is 31 bytes",
        ),
    ];
    for (provider, flag, key, needle) in cases {
        let out = hookguard(
            &["verify", "--provider", provider, flag, key, "-H", "X-A: b"],
            b"{}",
        );
        assert_eq!(out.status.code(), Some(1), "{provider} {needle}");
        let err = text(&out.stderr);
        assert!(err.contains(&format!("{flag} #0: ")), "{err}");
        assert!(err.contains(needle), "{err}");
        assert!(
            !err.contains(&key[key.len() - 20..]),
            "echoes the key: {err}"
        );
    }
    // An HMAC scheme refuses a public key instead of ignoring it.
    let out = hookguard(
        &["verify", "--provider", "github", "--public-key", DISCORD_PK],
        b"{}",
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("verifies with a shared secret"));
}

#[test]
fn verify_lists_expected_and_received_headers_when_one_is_missing() {
    let out = hookguard(
        &[
            "verify",
            "--provider",
            "discord",
            "--public-key",
            DISCORD_PK,
            "-H",
            &format!("X-Signature: {DISCORD_SIG}"),
        ],
        DISCORD_BODY,
    );
    assert_eq!(out.status.code(), Some(1));
    let err = text(&out.stderr);
    assert!(
        err.contains("missing_signature: header \"x-signature-ed25519\" is absent"),
        "{err}"
    );
    assert!(
        err.contains(
            "expected headers: x-signature-ed25519: <hex>, x-signature-timestamp: <unix s>"
        ),
        "{err}"
    );
    assert!(err.contains("received headers: x-signature\n"), "{err}");
    assert!(!err.contains(&DISCORD_SIG[..16]), "{err}");
}

#[test]
fn sign_with_the_private_key_verifies_with_the_public_key() {
    let signed = hookguard(
        &["sign", "--provider", "discord", "--secret", DISCORD_SEED],
        br#"{"type":2}"#,
    );
    assert!(signed.status.success(), "{}", text(&signed.stderr));
    let mut args = vec![
        "verify",
        "--provider",
        "discord",
        "--public-key",
        DISCORD_PK,
    ];
    let lines = text(&signed.stdout);
    for line in lines.lines() {
        args.extend(["-H", line]);
    }
    let out = hookguard(&args, br#"{"type":2}"#);
    assert!(out.status.success(), "{}", text(&out.stderr));
    // A public key where sign wants the private one.
    let out = hookguard(
        &["sign", "--provider", "sendgrid", "--secret", SG_KEY],
        b"{}",
    );
    assert_eq!(out.status.code(), Some(1));
    let err = text(&out.stderr);
    assert!(err.contains("sign takes the private key"), "{err}");
}

// Standard Webhooks `v1a`: Ed25519 (seed 00..1f, the Discord key above) over
// the reference libraries' published message, signed with OpenSSL 3.0.19
// (`openssl pkeyutl -sign -rawin`), as in the provider's unit tests.
const SW_PK: &str = "whpk_A6EHv/POEL4dcN0Y50vAmWfk1jCbpQ1fHdyGZBJVMbg=";
const SW_SIG: &str =
    "v1a,yoUrgEkc12aGqm0n4Sydmdz55xJfTz4AsAgieHFjmkR7LJtqVCZOQYzvvHjI5kAey+r4iaBGxTFRrl2iBQxtDQ==";

#[test]
fn verify_standard_webhooks_ed25519_vector_either_way() {
    for flag in ["--public-key", "--secret"] {
        let out = hookguard(
            &[
                "verify",
                "--provider",
                "standard-webhooks-ed25519",
                flag,
                SW_PK,
                "-H",
                "webhook-id: msg_p5jXN8AQM9LWM0D4loKWxJek",
                "-H",
                "webhook-timestamp: 1614265330",
                "-H",
                &format!("webhook-signature: {SW_SIG}"),
                "--tolerance",
                CENTURY,
            ],
            br#"{"test": 2432232314}"#,
        );
        assert!(out.status.success(), "{flag}: {}", text(&out.stderr));
        assert!(text(&out.stdout).contains("event id msg_p5jXN8AQM9LWM0D4loKWxJek"));
    }
}

/// Telnyx's public key for the seed 00..1f, base64 as Mission Control shows it.
const TELNYX_PK: &str = "A6EHv/POEL4dcN0Y50vAmWfk1jCbpQ1fHdyGZBJVMbg=";

#[test]
fn every_public_key_preset_verifies_with_the_key_given_either_way() {
    // (provider, private key for sign, public key for verify)
    let keys: &[(&str, &str, &str)] = &[
        ("discord", DISCORD_SEED, DISCORD_PK),
        ("telnyx", DISCORD_SEED, TELNYX_PK),
        ("sendgrid", OTHER_P256_PKCS8, OTHER_P256_PK),
        ("standard-webhooks-ed25519", DISCORD_SEED, SW_PK),
    ];
    let presets: Vec<_> = hookguard::providers::describe_all()
        .into_iter()
        .filter(|p| p.family == "asymmetric")
        .map(|p| p.name)
        .collect();
    let covered: Vec<_> = keys.iter().map(|k| k.0).collect();
    assert_eq!(presets, covered, "a public-key preset without a case here");
    let body = br#"{"event":"ping"}"#;
    for (provider, private, public) in keys {
        let signed = hookguard(
            &[
                "sign",
                "--provider",
                provider,
                "--secret",
                private,
                "--id",
                "msg_1",
            ],
            body,
        );
        assert!(
            signed.status.success(),
            "{provider}: {}",
            text(&signed.stderr)
        );
        let lines = text(&signed.stdout);
        for flag in ["--public-key", "--secret"] {
            let mut args = vec!["verify", "--provider", provider, flag, public];
            for line in lines.lines() {
                args.extend(["-H", line]);
            }
            let out = hookguard(&args, body);
            assert!(
                out.status.success(),
                "{provider} {flag}: {}",
                text(&out.stderr)
            );
            let out = hookguard(&args, b"{}");
            assert_eq!(out.status.code(), Some(1), "{provider} {flag}");
            assert!(text(&out.stderr).contains("invalid_signature"));
        }
    }
}
