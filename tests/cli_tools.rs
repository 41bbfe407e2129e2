//! The real binary's offline tools: `sign` output that `verify` accepts,
//! precise redacted reasons with a body fingerprint on failure, and the
//! `providers` table.

use std::io::Write;
use std::process::{Command, Output, Stdio};

fn hookguard(args: &[&str], stdin: &[u8]) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_hookguard"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("binary runs");
    child.stdin.take().unwrap().write_all(stdin).unwrap();
    child.wait_with_output().unwrap()
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

#[test]
fn sign_reproduces_the_github_docs_vector_from_stdin() {
    let out = hookguard(
        &[
            "sign",
            "--provider",
            "github",
            "--secret",
            "It's a Secret to Everybody",
        ],
        b"Hello, World!",
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(
        text(&out.stdout),
        "x-hub-signature-256: sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17\n"
    );
}

#[test]
fn sign_with_fixed_timestamp_matches_the_stripe_vector_from_a_file() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("event.json");
    std::fs::write(&file, br#"{"id":"evt_test_webhook","object":"event"}"#).unwrap();
    let out = hookguard(
        &[
            "sign",
            "--provider",
            "stripe",
            "--secret",
            "whsec_test_secret",
            "--timestamp",
            "1700000000",
            file.to_str().unwrap(),
        ],
        b"",
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    // providers.md §7 Stripe (stripe-node generateTestHeaderString).
    assert_eq!(
        text(&out.stdout),
        "stripe-signature: t=1700000000,v1=d95c6b7477fbd7e9f90b1b0ef5f9c7ac25abca5382460e0d988c2b2a5b71b990\n"
    );
}

#[test]
fn verify_accepts_what_sign_printed_and_names_the_secret() {
    let body = br#"{"type":"url_verification"}"#;
    let signed = hookguard(&["sign", "--provider", "slack", "--secret", "s2"], body);
    assert!(signed.status.success());
    let mut args = vec![
        "verify",
        "--provider",
        "slack",
        "--secret",
        "s1",
        "--secret",
        "s2",
    ];
    let lines = text(&signed.stdout);
    for line in lines.lines() {
        args.push("-H");
        args.push(line);
    }
    let out = hookguard(&args, body);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert!(
        stdout.starts_with("valid: provider slack, secret #1"),
        "{stdout}"
    );
    assert!(
        stdout.contains(&format!("body: {} bytes, sha256 ", body.len())),
        "{stdout}"
    );

    // The same headers with a re-serialised body: exit 1, reason, fingerprint.
    let out = hookguard(&args, br#"{"type": "url_verification"}"#);
    assert_eq!(out.status.code(), Some(1));
    let err = text(&out.stderr);
    assert!(
        err.contains("invalid_signature: signature does not match"),
        "{err}"
    );
    assert!(err.contains("body: 28 bytes, sha256 "), "{err}");
}

#[test]
fn verify_explains_missing_wrong_encoding_skew_and_short_keys() {
    let cases: &[(&[&str], &str)] = &[
        (
            &["verify", "--provider", "github", "--secret", "s"],
            "missing_signature: header \"x-hub-signature-256\"",
        ),
        (
            &[
                "verify", "--provider", "shopify", "--secret", "s", "-H",
                "X-Shopify-Hmac-Sha256: 757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17",
            ],
            "looks like hex",
        ),
        (
            &["verify", "--provider", "github", "--secret", "s", "-H", "X-Hub-Signature-256: sha1=abcd"],
            "unexpected prefix",
        ),
        (
            &["verify", "--provider", "svix", "--secret", "whsec_c2hvcnQ="],
            "decodes to 5 bytes; at least 16",
        ),
        (
            &[
                "verify", "--provider", "stripe", "--secret", "whsec_x", "--tolerance", "1m", "-H",
                "Stripe-Signature: t=1000,v1=d95c6b7477fbd7e9f90b1b0ef5f9c7ac25abca5382460e0d988c2b2a5b71b990",
            ],
            "invalid_signature",
        ),
    ];
    for (args, needle) in cases {
        let out = hookguard(args, b"{}");
        assert_eq!(out.status.code(), Some(1), "{args:?}");
        let err = text(&out.stderr);
        assert!(err.contains(needle), "{args:?}: {err}");
        assert!(err.contains("body: 2 bytes, sha256 44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a"), "{err}");
        assert!(!err.contains("757107ea"), "echoes a signature: {err}");
    }
    // A correctly signed but old request: skew against the tolerance.
    let signed = hookguard(
        &[
            "sign",
            "--provider",
            "stripe",
            "--secret",
            "whsec_x",
            "--timestamp",
            "1000",
        ],
        b"{}",
    );
    let line = text(&signed.stdout);
    let out = hookguard(
        &[
            "verify",
            "--provider",
            "stripe",
            "--secret",
            "whsec_x",
            "-H",
            line.trim(),
        ],
        b"{}",
    );
    let err = text(&out.stderr);
    assert!(err.contains("timestamp_out_of_tolerance"), "{err}");
    assert!(err.contains("(tolerance 300 s)"), "{err}");
}

#[test]
fn providers_lists_every_name_with_family_and_handshake() {
    let out = hookguard(&["providers"], b"");
    assert!(out.status.success());
    let stdout = text(&out.stdout);
    for name in hookguard::providers::names() {
        assert!(
            stdout
                .lines()
                .any(|l| l.split_whitespace().next() == Some(name)),
            "{name} missing"
        );
    }
    let zoom = stdout.lines().find(|l| l.starts_with("zoom ")).unwrap();
    assert!(
        zoom.contains("hmac") && zoom.contains("endpoint.url_validation"),
        "{zoom}"
    );
    let unknown = hookguard(&["sign", "--provider", "githb", "--secret", "s"], b"");
    assert_eq!(unknown.status.code(), Some(1));
    assert!(text(&unknown.stderr).contains("unknown provider \"githb\""));
}

// Discord: an Ed25519 request signed with PyNaCl 1.6.2 (seed 00..1f) and
// checked with discord-interactions `verifyKey` (the same vector as the
// provider's unit tests).
const DISCORD_SEED: &str = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";
const DISCORD_PK: &str = "03a107bff3ce10be1d70dd18e74bc09967e4d6309ba50d5f1ddc8664125531b8";
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
