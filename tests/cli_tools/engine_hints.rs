//! `verify` on a configured generic route that does not verify, where the
//! same request would under another reading of the configuration: the
//! explainer names the option (wrong key encoding, wrong timestamp unit,
//! wrong digest, the secret hashed rather than keying an HMAC, a signature
//! header not listed) or,
//! for a `k=v` header without the configured key, the keys it holds. Each
//! case uses a vector from outside this code.

use super::{hookguard, text};

const CENTURY: &str = "36500d";

const CONFIG: &str = r#"
[server]
listen = "127.0.0.1:0"

[upstream]
url = "http://127.0.0.1:9"

[[route]]
path = "/sw"
provider = "hmac"
secrets = ["whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"]
[route.hmac]
header = "webhook-signature"
prefix = "v1,"
encoding = "base64"
timestamp_header = "webhook-timestamp"
id_header = "webhook-id"
signed = "{id}.{timestamp}.{body}"

[[route]]
path = "/webflow"
provider = "hmac"
secrets = ["wf_client_secret"]
[route.hmac]
header = "x-webflow-signature"
timestamp_header = "x-webflow-timestamp"
signed = "{timestamp}:{body}"

[[route]]
path = "/patreon"
provider = "hmac"
secrets = ["patreon_secret"]
[route.hmac]
header = "x-patreon-signature"

[[route]]
path = "/elevenlabs"
provider = "hmac"
secrets = ["wsec_elevenlabs"]
[route.hmac]
header = "elevenlabs-signature"
signature_keys = ["v1"]
timestamp_key = "t"
signed = "{timestamp}.{body}"

[[route]]
path = "/cloudinary"
provider = "hmac"
secrets = ["X7qLTrsES31MzxxkxPPA-pAGGfU"]
[route.hmac]
algorithm = "sha1"
header = "x-cld-signature"
timestamp_header = "x-cld-timestamp"
timestamp_format = "unix"
signed = "{body}{timestamp}"

[[route]]
path = "/gitea"
provider = "hmac"
secrets = ["gitea_secret"]
[route.hmac]
header = "x-gitea-signature"
"#;

/// `verify -c CONFIG --route ROUTE -H ... --tolerance CENTURY`: its stdout
/// and stderr, which must report a failure.
fn refused(route: &str, headers: &[&str], body: &[u8]) -> String {
    refused_with(route, headers, body, &["--tolerance", CENTURY])
}

/// `verify -c CONFIG --route ROUTE -H ... EXTRA...`, which must fail.
fn refused_with(route: &str, headers: &[&str], body: &[u8], extra: &[&str]) -> String {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("hookguard.toml");
    std::fs::write(&config, CONFIG).unwrap();
    let mut args = vec!["verify", "-c", config.to_str().unwrap(), "--route", route];
    for h in headers {
        args.extend(["-H", h]);
    }
    args.extend(extra);
    let out = hookguard(&args, body);
    assert!(!out.status.success(), "{route} verified");
    format!("{}{}", text(&out.stdout), text(&out.stderr))
}

// The Standard Webhooks spec's published vector, on a route that reads the
// whsec_ secret as text.
#[test]
fn a_wrong_key_encoding_is_named() {
    let out = refused(
        "/sw",
        &[
            "webhook-id: msg_p5jXN8AQM9LWM0D4loKWxJek",
            "webhook-timestamp: 1614265330",
            "webhook-signature: v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=",
        ],
        br#"{"test": 2432232314}"#,
    );
    assert!(
        out.contains("key_encoding = \"base64\" and key_prefix = \"whsec_\""),
        "{out}"
    );
    assert!(!out.contains("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"), "{out}");
}

// Webflow's vector (accepted by webflow-api 3.3.4), its milliseconds read
// as seconds.
#[test]
fn a_wrong_timestamp_unit_is_named() {
    let out = refused(
        "/webflow",
        &[
            "x-webflow-timestamp: 1700000000000",
            "x-webflow-signature: a8ea28646afffd379da3f5a20f8d1e2c916831416b2706af1dad7e4e49675fa6",
        ],
        br#"{"triggerType":"form_submission","payload":{}}"#,
    );
    assert!(out.contains("timestamp_format = \"unix_ms\""), "{out}");
}

// ElevenLabs' vector (accepted by elevenlabs 2.78.0) signs under `v0`; the
// route names `v1`.
#[test]
fn a_k_v_header_without_the_key_is_described() {
    let out = refused(
        "/elevenlabs",
        &["elevenlabs-signature: t=1700000000,v0=770e9c48dbec2eacd51d65b8c2f2609da969836e3be4cc32d30d5a2537a03d4d"],
        br#"{"type":"post_call_transcription","data":{}}"#,
    );
    assert!(
        out.contains("holds the keys t, v0 (values not shown)"),
        "{out}"
    );
    assert!(out.contains("signature_keys names v1"), "{out}");
    assert!(!out.contains("770e9c48"), "{out}");
}

// Patreon's HMAC-MD5 of the body (computed with Python's hmac and
// hashlib.md5 from Patreon's documented recipe), on a route left at the
// default sha256: 32 hex characters where 64 are expected.
#[test]
fn a_wrong_digest_is_named() {
    let out = refused_with(
        "/patreon",
        &["x-patreon-signature: 3b4cd4135e88c51de78b23e35229958e"],
        br#"{"data":{"type":"member"}}"#,
        &[],
    );
    assert!(
        out.contains("algorithm = \"md5\": the wrong digest is configured"),
        "{out}"
    );
}

// pycloudinary's published notification vector (test_utils.py
// test_verify_notification_signature): SHA-1 of body, timestamp and the
// API secret, on a route that keys an HMAC with the secret instead.
#[test]
fn a_hashed_secret_is_named() {
    let body = r#"{"notification_type":"eager","eager":[{"transformation":"sp_full_hd/mp4","bytes":1055,"url":"http://res.cloudinary.com/demo/video/upload/sp_full_hd/v1533125278/dog.mp4","secure_url":"https://res.cloudinary.com/demo/video/upload/sp_full_hd/v1533125278/dog.mp4"}],"public_id":"dog","batch_id":"9b11fa058c61fa577f4ec516bf6ee756ac2aefef095af99aef1302142cc1694a"}"#;
    let out = refused(
        "/cloudinary",
        &[
            "x-cld-signature: dfe82de1d9083fe0b7ea68070649f9a15b8874da",
            "x-cld-timestamp: 1549533514",
        ],
        body.as_bytes(),
    );
    assert!(
        out.contains(r#"mode = "hash" and signed = "{body}{timestamp}{secret}""#),
        "{out}"
    );
    assert!(!out.contains("X7qLTrsES31MzxxkxPPA"), "{out}");
}

// Gogs signs as Gitea does (computed with Python's hmac from Gitea's
// documented recipe) under its own header, which the route does not list.
#[test]
fn an_unlisted_signature_header_is_named() {
    let sig = "d843a05f58b935be5e6c796adccf9bb5071951f049aea8f3d86ac97d4820001c";
    let body = br#"{"ref":"refs/heads/main"}"#;
    let out = refused_with("/gitea", &[&format!("x-gogs-signature: {sig}")], body, &[]);
    assert!(
        out.contains(r#"verifies from header "x-gogs-signature": add it to headers"#),
        "{out}"
    );
    let other = format!("x-other-signature: {}", &sig[1..]);
    let out = refused_with("/gitea", &[&other], body, &[]);
    assert!(
        out.contains("carries x-other-signature (values not shown), none of them configured"),
        "{out}"
    );
    assert!(!out.contains(&sig[1..]), "{out}");
}
