//! `provider = "aws-sns"` end to end: the proxy fetches signing certificates
//! from a real HTTPS key server on loopback (trusted through `[route.keys]
//! allow` and `ca`), verifies SNS messages signed here (RSA-SHA256,
//! SignatureVersion 2) and the synthetic vector (v1 and v2), and forwards
//! them to a recording upstream.
//!
//! The signing here is written from the AWS docs ("Verifying the signatures
//! of Amazon SNS messages") with `ring` directly, independent of
//! `src/providers/sns.rs`.

mod common;

use std::time::Duration;

use common::*;
use ring::signature::{RsaKeyPair, RSA_PKCS1_SHA256};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::PrivatePkcs8KeyDer;
use serde_json::{json, Value};

const TOPIC: &str = "arn:aws:sns:us-east-1:123456789012:orders";
const VECTOR_TOPIC: &str = "arn:aws:sns:us-west-2:123456789012:MyTopic";
/// A 2048-bit RSA key made for these tests (`openssl genpkey`); its
/// certificate is made at run time.
const SIGNING_KEY: &str = include_str!("data/sns_test_signing_key.pem");
const VECTOR: &str = include_str!("data/sns_synthetic_vector.json");

/// A self-signed certificate for the test signing key, as SNS serves one.
fn signing_cert_pem() -> String {
    let key = rcgen::KeyPair::from_pem(SIGNING_KEY).unwrap();
    rcgen::CertificateParams::new(vec!["sns.test".into()])
        .unwrap()
        .self_signed(&key)
        .unwrap()
        .pem()
}

/// The string to sign: `Key\nValue\n` per signed field, in the docs' order.
fn string_to_sign(m: &Value) -> String {
    let fields: &[&str] = if m["Type"] == "Notification" {
        &[
            "Message",
            "MessageId",
            "Subject",
            "Timestamp",
            "TopicArn",
            "Type",
        ]
    } else {
        &[
            "Message",
            "MessageId",
            "SubscribeURL",
            "Timestamp",
            "Token",
            "TopicArn",
            "Type",
        ]
    };
    let mut out = String::new();
    for f in fields {
        if let Some(v) = m[f].as_str() {
            out.push_str(&format!("{f}\n{v}\n"));
        }
    }
    out
}

/// Signs `m` (SignatureVersion 2) with the test key.
fn sign(mut m: Value, cert_url: &str) -> Value {
    let der = PrivatePkcs8KeyDer::from_pem_slice(SIGNING_KEY.as_bytes()).unwrap();
    let key = RsaKeyPair::from_pkcs8(der.secret_pkcs8_der()).unwrap();
    let mut sig = vec![0; key.public().modulus_len()];
    let rng = ring::rand::SystemRandom::new();
    key.sign(
        &RSA_PKCS1_SHA256,
        &rng,
        string_to_sign(&m).as_bytes(),
        &mut sig,
    )
    .unwrap();
    m["SignatureVersion"] = "2".into();
    m["Signature"] = b64(&sig).into();
    m["SigningCertURL"] = cert_url.into();
    m
}

fn now_rfc3339() -> String {
    hookguard_time(now_secs())
}

fn hookguard_time(secs: i64) -> String {
    let t = time::OffsetDateTime::from_unix_timestamp(secs).unwrap();
    t.format(&time::format_description::well_known::Rfc3339)
        .unwrap()
}

fn notification(id: &str, topic: &str) -> Value {
    json!({
        "Type": "Notification",
        "MessageId": id,
        "TopicArn": topic,
        "Subject": "order",
        "Message": "{\"order\":42}",
        "Timestamp": now_rfc3339(),
        "UnsubscribeURL": "https://sns.us-east-1.amazonaws.com/?Action=Unsubscribe",
    })
}

fn confirmation(kind: &str, id: &str, subscribe_url: &str) -> Value {
    json!({
        "Type": kind,
        "MessageId": id,
        "Token": "2336412f37fb687f5d51e6e2425",
        "TopicArn": TOPIC,
        "Message": "You have chosen to subscribe to the topic.",
        "SubscribeURL": subscribe_url,
        "Timestamp": now_rfc3339(),
    })
}

/// An SNS route at `path` fetching from `keys` only, with `extra` lines.
fn sns_route(path: &str, topics: &[&str], keys: &KeyServer, extra: &str) -> String {
    let topics: Vec<String> = topics.iter().map(|t| quoted(t)).collect();
    format!(
        "path = \"{path}\"\nprovider = \"aws-sns\"\ntopics = [{}]\n{extra}\n{}",
        topics.join(", "),
        keys.keys_table()
    )
}

const SNS_HEADERS: &[(&str, &str)] = &[("content-type", "text/plain; charset=UTF-8")];

async fn deliver(proxy: &hookguard::runtime::Running, path: &str, m: &Value) -> Answer {
    post(proxy, path, SNS_HEADERS, m.to_string().as_bytes()).await
}

struct Setup {
    keys: KeyServer,
    upstream: Upstream,
    proxy: hookguard::runtime::Running,
}

/// A key server serving the test certificate at `/cert.pem` and the
/// vector's at `/vector.pem`, an upstream, and the proxy with `routes`.
async fn setup(routes: impl Fn(&KeyServer) -> Vec<String>) -> Setup {
    let keys = KeyServer::start().await;
    keys.serve("/cert.pem", signing_cert_pem());
    let vector: Value = serde_json::from_str(VECTOR).unwrap();
    keys.serve("/vector.pem", vector["cert_pem"].as_str().unwrap());
    let upstream = Upstream::start().await;
    let mut config = TomlConfig::new().admin("");
    for route in routes(&keys) {
        config = config.route(&route);
    }
    let proxy = proxy(&config.build(), &upstream).await;
    Setup {
        keys,
        upstream,
        proxy,
    }
}

#[tokio::test]
async fn signed_notifications_are_forwarded_and_replays_are_duplicates() {
    let s = setup(|k| vec![sns_route("/sns", &[TOPIC], k, "")]).await;
    let m = sign(notification("m-1", TOPIC), &s.keys.url("/cert.pem"));
    let first = deliver(&s.proxy, "/sns", &m).await;
    assert_eq!(first.status, 200, "{}", first.text());
    let got = s.upstream.received();
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].body, m.to_string().as_bytes());
    assert_eq!(got[0].headers["x-hookguard-event-id"], "m-1");
    let again = deliver(&s.proxy, "/sns", &m).await;
    assert_eq!(again.text(), r#"{"status":"duplicate"}"#);
    let second = sign(notification("m-2", TOPIC), &s.keys.url("/cert.pem"));
    assert_eq!(deliver(&s.proxy, "/sns", &second).await.status, 200);
    assert_eq!(s.upstream.count(), 2);
    assert_eq!(s.keys.fetches("/cert.pem"), 1, "the certificate is cached");
}

#[tokio::test]
async fn the_synthetic_vector_verifies_in_both_versions() {
    // The vector is dated 2012: these routes' window reaches back to it.
    let s = setup(|k| {
        ["/v1", "/v2"]
            .iter()
            .map(|p| sns_route(p, &[VECTOR_TOPIC], k, "tolerance = \"6000d\""))
            .collect()
    })
    .await;
    let vector: Value = serde_json::from_str(VECTOR).unwrap();
    for version in ["v1", "v2"] {
        let mut m = vector[version].clone();
        // SigningCertURL is not signed: point it at the test key server.
        m["SigningCertURL"] = s.keys.url("/vector.pem").into();
        let path = format!("/{version}");
        let answer = deliver(&s.proxy, &path, &m).await;
        assert_eq!(answer.status, 200, "{version}: {}", answer.text());
        let mut tampered = m.clone();
        tampered["Message"] = "Hello world?".into();
        assert_rejected(
            &deliver(&s.proxy, &path, &tampered).await,
            401,
            "invalid_signature",
        );
    }
    assert_eq!(s.upstream.count(), 2);
}

#[tokio::test]
async fn tampered_and_foreign_messages_are_refused() {
    let s = setup(|k| vec![sns_route("/sns", &[TOPIC], k, "")]).await;
    let cert = s.keys.url("/cert.pem");
    let mut tampered = sign(notification("t-1", TOPIC), &cert);
    tampered["Message"] = "{\"order\":43}".into();
    assert_rejected(
        &deliver(&s.proxy, "/sns", &tampered).await,
        401,
        "invalid_signature",
    );
    let fetched = s.keys.fetches("/cert.pem");

    // Correctly signed, from a topic the route does not list: refused
    // before any fetch.
    let foreign = sign(
        notification("f-1", "arn:aws:sns:us-east-1:999999999999:other"),
        &cert,
    );
    assert_rejected(
        &deliver(&s.proxy, "/sns", &foreign).await,
        401,
        "invalid_signature",
    );
    let mut stale = notification("s-1", TOPIC);
    stale["Timestamp"] = hookguard_time(now_secs() - 7200).into();
    let stale = sign(stale, &cert);
    assert_rejected(
        &deliver(&s.proxy, "/sns", &stale).await,
        401,
        "timestamp_out_of_tolerance",
    );
    assert_eq!(s.keys.fetches("/cert.pem"), fetched);
    assert_eq!(s.upstream.count(), 0);
}

#[tokio::test]
async fn forged_certificate_urls_are_refused_without_a_fetch() {
    // "/pinned" keeps AWS's rule; "/allowed" allows only the key server.
    let s = setup(|k| {
        vec![
            format!("path = \"/pinned\"\nprovider = \"aws-sns\"\ntopics = [\"{TOPIC}\"]"),
            sns_route("/allowed", &[TOPIC], k, ""),
        ]
    })
    .await;
    let port = s.keys.port;
    let forged = [
        "https://sns.us-east-1.amazonaws.com.evil.example/SimpleNotificationService-0123456789abcdef0123456789abcdef.pem".to_owned(),
        "http://sns.us-east-1.amazonaws.com/SimpleNotificationService-0123456789abcdef0123456789abcdef.pem".to_owned(),
        format!("https://127.0.0.1:{port}/cert.pem"),
        format!("http://127.0.0.1:{port}/cert.pem"),
        format!("https://localhost:{}/cert.pem", port.wrapping_add(1)),
        format!("https://evil@127.0.0.1:{port}/cert.pem"),
        format!("https://127.0.0.1:{port}/a/../cert.pem"),
    ];
    for (i, url) in forged.iter().enumerate() {
        let m = sign(notification(&format!("x-{i}"), TOPIC), url);
        assert_rejected(
            &deliver(&s.proxy, "/pinned", &m).await,
            401,
            "invalid_signature",
        );
        if !url.starts_with(&format!("https://127.0.0.1:{port}/cert")) {
            assert_rejected(
                &deliver(&s.proxy, "/allowed", &m).await,
                401,
                "invalid_signature",
            );
        }
    }
    assert_eq!(
        s.keys.requests(),
        Vec::<http::Uri>::new(),
        "nothing fetched"
    );
    // The real certificate URL under the allowed prefix is fetched.
    let m = sign(notification("ok-1", TOPIC), &s.keys.url("/cert.pem"));
    assert_eq!(deliver(&s.proxy, "/allowed", &m).await.status, 200);
}

#[tokio::test]
async fn localhost_allow_entries_work_too() {
    let s = setup(|k| {
        vec![format!(
            "path = \"/sns\"\nprovider = \"aws-sns\"\ntopics = [\"{TOPIC}\"]\n\
             [route.keys]\nallow = [\"https://localhost:{}/\"]\nca = \"file:{}\"\n",
            k.port,
            k.ca_path.display()
        )]
    })
    .await;
    let url = format!("https://localhost:{}/cert.pem", s.keys.port);
    let m = sign(notification("l-1", TOPIC), &url);
    let answer = deliver(&s.proxy, "/sns", &m).await;
    assert_eq!(answer.status, 200, "{}", answer.text());
}

#[tokio::test]
async fn confirmations_are_forwarded_by_default() {
    let s = setup(|k| vec![sns_route("/sns", &[TOPIC], k, "")]).await;
    let cert = s.keys.url("/cert.pem");
    let subscribe = s.keys.url("/confirm?Token=abc");
    for (i, kind) in ["SubscriptionConfirmation", "UnsubscribeConfirmation"]
        .iter()
        .enumerate()
    {
        let m = sign(confirmation(kind, &format!("c-{i}"), &subscribe), &cert);
        let answer = deliver(&s.proxy, "/sns", &m).await;
        assert_eq!(answer.status, 200, "{kind}: {}", answer.text());
    }
    assert_eq!(s.upstream.count(), 2);
    assert_eq!(
        s.keys.fetches("/confirm"),
        0,
        "the app confirms, not hookguard"
    );
}

#[tokio::test]
async fn auto_confirms_a_subscription_itself() {
    let s = setup(|k| vec![sns_route("/sns", &[TOPIC], k, "sns_confirm = \"auto\"")]).await;
    s.keys.serve("/confirm", "<ConfirmSubscriptionResponse/>");
    let cert = s.keys.url("/cert.pem");
    let m = sign(
        confirmation(
            "SubscriptionConfirmation",
            "c-1",
            &s.keys.url("/confirm?Token=abc"),
        ),
        &cert,
    );
    let answer = deliver(&s.proxy, "/sns", &m).await;
    assert_eq!(answer.status, 200, "{}", answer.text());
    assert_eq!(
        s.upstream.count(),
        0,
        "answered by hookguard, not forwarded"
    );
    let confirms: Vec<_> = s
        .keys
        .requests()
        .into_iter()
        .filter(|u| u.path() == "/confirm")
        .collect();
    assert_eq!(confirms.len(), 1);
    assert_eq!(confirms[0].query(), Some("Token=abc"));

    // A SubscribeURL outside the rule is refused, with no GET.
    let outside = sign(
        confirmation(
            "SubscriptionConfirmation",
            "c-2",
            "https://evil.example/confirm?Token=abc",
        ),
        &cert,
    );
    assert_rejected(
        &deliver(&s.proxy, "/sns", &outside).await,
        401,
        "invalid_signature",
    );
    // Notifications still go to the app.
    let n = sign(notification("n-1", TOPIC), &cert);
    assert_eq!(deliver(&s.proxy, "/sns", &n).await.status, 200);
    assert_eq!(s.upstream.count(), 1);
    assert_eq!(s.keys.fetches("/confirm"), 1);
}

#[tokio::test]
async fn an_unreachable_key_server_is_503_until_it_recovers() {
    let s = setup(|k| vec![sns_route("/sns", &[TOPIC], k, "")]).await;
    s.keys.set_down(true);
    let m = sign(notification("d-1", TOPIC), &s.keys.url("/cert.pem"));
    let answer = deliver(&s.proxy, "/sns", &m).await;
    assert_rejected(&answer, 503, "key_unavailable");
    assert!(answer.headers.contains_key("retry-after"));
    assert_eq!(s.upstream.count(), 0);
    let admin = s.proxy.admin_addr.unwrap();
    let (status, ready) = admin_request(admin, "GET", "/readyz", None).await;
    assert_eq!(status, 200);
    assert!(
        ready.contains("key fetch failing") && ready.contains("/cert.pem"),
        "{ready}"
    );
    let (_, metrics) = admin_request(admin, "GET", "/metrics", None).await;
    assert!(
        metrics.contains("hookguard_key_fetch_total{result=\"failure\"} 1"),
        "{metrics}"
    );

    // The provider retries; once the server is back, the same message goes
    // through, without a restart.
    s.keys.set_down(false);
    eventually(
        "the retried message to be forwarded",
        Duration::from_secs(20),
        || async { deliver(&s.proxy, "/sns", &m).await.status == 200 },
    )
    .await;
    assert_eq!(s.upstream.count(), 1);
    let (_, ready) = admin_request(admin, "GET", "/readyz", None).await;
    assert_eq!(ready, "ready\n");
}

#[tokio::test]
async fn the_certificate_cache_survives_a_reload() {
    let keys = KeyServer::start().await;
    keys.serve("/cert.pem", signing_cert_pem());
    let upstream = Upstream::start().await;
    let dir = temp_dir("sns-reload");
    let path = dir.path().join("hookguard.toml");
    let write = |extra: &str| {
        let route = sns_route("/sns", &[TOPIC], &keys, extra);
        let toml = TomlConfig::new()
            .upstream_url(&upstream.url())
            .route(&route)
            .build();
        std::fs::write(&path, toml).unwrap();
    };
    write("");
    let proxy = hookguard::runtime::start(hookguard::config::load(&path).unwrap())
        .await
        .unwrap();
    let cert = keys.url("/cert.pem");
    let m = sign(notification("r-1", TOPIC), &cert);
    assert_eq!(deliver(&proxy, "/sns", &m).await.status, 200);
    write("max_body = \"2MiB\"");
    proxy.reload().unwrap();
    let m = sign(notification("r-2", TOPIC), &cert);
    assert_eq!(deliver(&proxy, "/sns", &m).await.status, 200);
    assert_eq!(upstream.count(), 2);
    assert_eq!(
        keys.fetches("/cert.pem"),
        1,
        "fetched once, across the reload"
    );
}
