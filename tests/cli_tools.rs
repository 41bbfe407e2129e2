//! The real binary's offline tools: `sign` output that `verify` accepts,
//! precise redacted reasons with a body fingerprint on failure, and the
//! `providers` table; public-key schemes in `cli_tools/public_keys.rs`,
//! fetched-key schemes in `cli_tools/fetched_keys.rs` (JWKS ones in
//! `cli_tools/jwks_key_file.rs`), JWT schemes in `cli_tools/jwt.rs`,
//! configured routes (`-c CONFIG --route PATH`) in `cli_tools/routes.rs`.

use std::io::Write;
use std::process::{Command, Output, Stdio};

#[path = "cli_tools/body_signed.rs"]
mod body_signed;
mod common;
#[path = "cli_tools/engine_hints.rs"]
mod engine_hints;
#[path = "cli_tools/fetched_keys.rs"]
mod fetched_keys;
#[path = "cli_tools/jwks_key_file.rs"]
mod jwks_key_file;
#[path = "cli_tools/jwt.rs"]
mod jwt;
#[path = "support/jwt.rs"]
mod jwt_tokens;
#[path = "cli_tools/public_keys.rs"]
mod public_keys;
#[path = "cli_tools/routes.rs"]
mod routes;

fn hookguard(args: &[&str], stdin: &[u8]) -> Output {
    hookguard_env(args, stdin, &[])
}

/// Runs the binary with `env` added to its environment.
fn hookguard_env(args: &[&str], stdin: &[u8], env: &[(&str, &str)]) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_hookguard"))
        .args(args)
        .envs(env.iter().copied())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("binary runs");
    // The binary may exit before reading stdin (a bad key is refused
    // first): a broken pipe here is not a failure.
    let _ = child.stdin.take().unwrap().write_all(stdin);
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
    // Stripe: made with stripe-node `generateTestHeaderString`.
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

#[test]
fn help_shows_both_forms_of_sign_and_verify() {
    for (cmd, needles) in [
        (
            "sign",
            &["-c CONFIG --route PATH", "--secret S", "--route <PATH>"][..],
        ),
        (
            "verify",
            &[
                "--public-key K",
                "-c CONFIG --route PATH",
                "--public-key <KEY>",
                "--tolerance DUR",
            ][..],
        ),
    ] {
        let out = hookguard(&[cmd, "--help"], b"");
        assert!(out.status.success());
        let help = text(&out.stdout);
        for needle in needles {
            assert!(
                help.contains(needle),
                "{cmd} --help lacks {needle:?}:\n{help}"
            );
        }
    }
}
