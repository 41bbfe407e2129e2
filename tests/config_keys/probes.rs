//! What the cases send and observe. Each probe returns a short text that
//! tells the two configurations of a case apart: `200`, `413
//! body_too_large`, `bound to 127.0.0.2`, `dead`, ... Requests are signed
//! here, from the providers' documentation, not by hookguard's code.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use ring::signature::{Ed25519KeyPair, KeyPair};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::common::*;
use crate::{certificate, BinaryCtx, Ctx};

/// Longest a probe waits for something to happen, or to see that it does
/// not (never a timing assertion: what should happen happens well before).
const SHORT: Duration = Duration::from_millis(1500);
/// Longest a probe waits for something that must happen.
const PATIENCE: Duration = Duration::from_secs(20);

// === Observations ===

/// `200`, `202`, `413 body_too_large`, `200 duplicate`: the status, and
/// hookguard's error code or duplicate marker when the body is one.
pub fn summary(answer: &Answer) -> String {
    let text = answer.text();
    let json: Option<serde_json::Value> = serde_json::from_str(&text).ok();
    let code = json
        .as_ref()
        .and_then(|v| v["error"].as_str().map(str::to_owned));
    let duplicate = json.as_ref().is_some_and(|v| v["status"] == "duplicate");
    match (code, duplicate) {
        (Some(code), _) => format!("{} {code}", answer.status.as_u16()),
        (None, true) => format!("{} duplicate", answer.status.as_u16()),
        (None, false) => answer.status.as_u16().to_string(),
    }
}

fn gh_sig(body: &[u8]) -> String {
    format!("sha256={}", hmac256_hex(GH_SECRET, &[body]))
}

/// A GitHub delivery of `body` to `/hook`, with extra headers.
async fn gh_with(c: &Ctx, body: &[u8], extra: &[(&str, &str)]) -> Answer {
    let sig = gh_sig(body);
    let mut headers = vec![("x-hub-signature-256", sig.as_str())];
    headers.extend_from_slice(extra);
    post(&c.proxy, "/hook", &headers, body).await
}

async fn gh(c: &Ctx, body: &[u8]) -> Answer {
    gh_with(c, body, &[]).await
}

/// The same, with a wrong signature: a failed verification.
async fn gh_forged(c: &Ctx, extra: &[(&str, &str)]) -> Answer {
    let mut headers = vec![("x-hub-signature-256", "sha256=00")];
    headers.extend_from_slice(extra);
    post(&c.proxy, "/hook", &headers, b"forged").await
}

// === [server] ===

pub async fn bound_ip(c: Ctx) -> String {
    format!("bound to {}", c.proxy.addr.ip())
}

pub async fn tls_handshake(c: Ctx) -> String {
    if handshake(c.proxy.addr).await {
        "serves TLS".into()
    } else {
        "no TLS".into()
    }
}

async fn handshake(addr: SocketAddr) -> bool {
    let config = client_tls_config(certificate().cert.der());
    let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
    let tcp = TcpStream::connect(addr).await.unwrap();
    let name = rustls_pki_types::ServerName::try_from("localhost").unwrap();
    matches!(
        tokio::time::timeout(SHORT, connector.connect(name, tcp)).await,
        Ok(Ok(_))
    )
}

/// A GitHub delivery (to `/hook`).
pub async fn deliver(c: Ctx) -> String {
    summary(&gh(&c, b"{\"event\":1}").await)
}

/// A 20-byte delivery.
pub async fn deliver_20_bytes(c: Ctx) -> String {
    summary(&gh(&c, b"01234567890123456789").await)
}

/// The `X-Forwarded-For` the upstream receives for a request that claims
/// to come from 203.0.113.9.
pub async fn forwarded_for(c: Ctx) -> String {
    gh_with(&c, b"{}", &[("x-forwarded-for", "203.0.113.9")]).await;
    let got = c.up.received();
    let xff = got[0].headers["x-forwarded-for"].to_str().unwrap();
    format!("X-Forwarded-For: {xff}")
}

/// A request head announcing 10 body bytes, then only 2: cut off (408,
/// or closed when even the head came too late under load) or not yet.
pub async fn slow_body(c: Ctx) -> String {
    let mut tcp = TcpStream::connect(c.proxy.addr).await.unwrap();
    let sig = gh_sig(b"0123456789");
    let head = format!(
        "POST /hook HTTP/1.1\r\nhost: x\r\ncontent-length: 10\r\nx-hub-signature-256: {sig}\r\n\r\n01"
    );
    tcp.write_all(head.as_bytes()).await.unwrap();
    let mut answer = vec![0; 256];
    match tokio::time::timeout(SHORT, tcp.read(&mut answer)).await {
        Ok(Ok(n)) if n > 0 && !answer.starts_with(b"HTTP/1.1 408 ") => {
            String::from_utf8_lossy(&answer[..n]).into_owned()
        }
        Ok(_) => "cut off".into(),
        Err(_) => "still waiting".into(),
    }
}

/// SIGTERM's drain with a request in flight that the upstream answers
/// after a second.
pub async fn shutdown_with_a_request_in_flight(c: Ctx) -> String {
    c.up.set(Behavior {
        delay: Duration::from_secs(1),
        ..Behavior::default()
    });
    let addr = c.proxy.addr;
    let sig = gh_sig(b"slow");
    let in_flight = tokio::spawn(async move {
        let req = http::Request::post(format!("http://{addr}/hook"))
            .header("x-hub-signature-256", sig)
            .body(Full::new(Bytes::from_static(b"slow")))
            .unwrap();
        client().request(req).await.map(|r| r.status())
    });
    c.up.wait_for_requests(1).await;
    let drained = c.proxy.shutdown().await;
    in_flight.abort();
    if drained { "drained" } else { "cut off" }.into()
}

/// A second connection while a first one holds its slot.
pub async fn second_connection(c: Ctx) -> String {
    let _idle = TcpStream::connect(c.proxy.addr).await.unwrap();
    let addr = c.proxy.addr;
    let second = async move {
        let mut s = TcpStream::connect(addr).await.unwrap();
        s.write_all(b"GET /nothing HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n")
            .await
            .unwrap();
        let mut out = Vec::new();
        s.read_to_end(&mut out).await.unwrap();
        String::from_utf8_lossy(&out)
            .lines()
            .next()
            .unwrap_or_default()
            .to_owned()
    };
    match tokio::time::timeout(SHORT, second).await {
        Ok(status_line) => status_line,
        Err(_) => "not served yet".into(),
    }
}

// === [admin] ===

pub async fn admin_ip(c: Ctx) -> String {
    match c.proxy.admin_addr {
        Some(addr) => format!("admin on {}", addr.ip()),
        None => "no admin listener".into(),
    }
}

pub async fn admin_health(c: Ctx) -> String {
    let addr = c.proxy.admin_addr.expect("an admin listener");
    let (status, _) = admin_request(addr, "GET", "/healthz", None).await;
    format!("healthz {status}")
}

/// `GET /healthz` naming the listener `admin.example` in `Host`.
pub async fn admin_health_by_name(c: Ctx) -> String {
    let addr = c.proxy.admin_addr.expect("an admin listener");
    let named = [("host", "admin.example")];
    let (status, _) = admin_request_with(addr, "GET", "/healthz", None, &named).await;
    format!("healthz {status}")
}

/// How many of three deliveries `GET /audit/recent` still shows.
pub async fn recent_after_three(c: Ctx) -> String {
    for n in 0..3 {
        let answer = gh(&c, format!("{{\"event\":{n}}}").as_bytes()).await;
        assert_eq!(summary(&answer), "200", "delivery {n}");
    }
    let addr = c.proxy.admin_addr.expect("an admin listener");
    let (status, body) = admin_request(addr, "GET", "/audit/recent", None).await;
    assert_eq!(status, 200, "{body}");
    let doc: serde_json::Value = serde_json::from_str(&body).unwrap();
    let kept = doc["decisions"].as_array().map_or(0, Vec::len);
    format!("{kept} of 3 kept")
}

// === [upstream] ===

pub async fn deliver_to_a_slow_upstream(c: Ctx) -> String {
    c.up.set(Behavior {
        delay: Duration::from_millis(500),
        ..Behavior::default()
    });
    deliver(c).await
}

/// A TLS upstream for `localhost` with the test certificate; its port.
pub async fn tls_upstream() -> u16 {
    let cert = certificate();
    let key = rustls_pki_types::PrivateKeyDer::try_from(cert.key_pair.serialize_der()).unwrap();
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_no_client_auth()
    .with_single_cert(vec![cert.cert.der().clone()], key)
    .unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                let Ok(tls) = acceptor.accept(tcp).await else {
                    return;
                };
                let svc = hyper::service::service_fn(|_: http::Request<hyper::body::Incoming>| {
                    std::future::ready(Ok::<_, std::convert::Infallible>(http::Response::new(
                        Full::new(Bytes::from_static(b"ok from tls upstream")),
                    )))
                });
                let io = hyper_util::rt::TokioIo::new(tls);
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(io, svc)
                    .await;
            });
        }
    });
    port
}

/// `cert.pem`, `key.pem` (for `localhost`) and `ca.pem` in `dir`.
pub fn write_tls_files(dir: &Path) {
    let cert = certificate();
    std::fs::write(dir.join("cert.pem"), cert.cert.pem()).unwrap();
    std::fs::write(dir.join("ca.pem"), cert.cert.pem()).unwrap();
    std::fs::write(dir.join("key.pem"), cert.key_pair.serialize_pem()).unwrap();
}

/// The path the upstream receives.
pub async fn upstream_path(c: Ctx) -> String {
    gh(&c, b"{}").await;
    format!("upstream got {}", c.up.received()[0].uri.path())
}

// === [replay] ===

/// Copies of one delivery, until one is forwarded again.
pub async fn copies_after_a_while(c: Ctx) -> String {
    assert_eq!(summary(&gh(&c, b"{\"once\":1}").await), "200");
    // Forgotten at most 2 s after the delivery (see `MemoryStore::new`);
    // the other configuration keeps it far longer than this window.
    let forwarded_again = poll_within(Duration::from_secs(3), || async {
        summary(&gh(&c, b"{\"once\":1}").await) == "200"
    });
    match forwarded_again.await {
        Ok(()) => "a copy is forwarded again".into(),
        Err(_) => "every copy is a duplicate".into(),
    }
}

/// Delivery A, then 300 others, then A again. (The memory store's bound
/// holds per shard, of 16: with a bound of 1, another key lands in A's
/// shard, evicting it, all but certainly.)
pub async fn first_delivery_again_after_others(c: Ctx) -> String {
    gh(&c, b"{\"a\":1}").await;
    let c = Arc::new(c);
    let others: Vec<_> = (0..10)
        .map(|batch| {
            let c = Arc::clone(&c);
            tokio::spawn(async move {
                for n in 0..30 {
                    gh(&c, format!("{{\"n\":\"{batch}-{n}\"}}").as_bytes()).await;
                }
            })
        })
        .collect();
    for other in others {
        other.await.unwrap();
    }
    format!("A again: {}", summary(&gh(&c, b"{\"a\":1}").await))
}

// === [log]: the real binary ===

/// Starts `hookguard serve`, sends one delivery, stops it; its stdout lines.
async fn binary_lines(c: &BinaryCtx) -> Vec<String> {
    let (mut child, rx) = spawn_serve(&c.config, &[("HOOKGUARD_LOG", "info")]);
    let mut lines = Vec::new();
    let addr = loop {
        let line = rx.recv_timeout(PATIENCE).expect("a listening line");
        let at = line.find("addr").map(|i| &line[i..]);
        let listening = line.contains("listening") && !line.contains("admin");
        lines.push(line.clone());
        if let (true, Some(at)) = (listening, at) {
            let digits: String = at
                .chars()
                .skip_while(|c| !c.is_ascii_digit())
                .take_while(|c| c.is_ascii_digit() || *c == '.' || *c == ':')
                .collect();
            break digits.parse::<SocketAddr>().unwrap();
        }
    };
    let req = http::Request::post(format!("http://{addr}/hook"))
        .header("x-hub-signature-256", gh_sig(b"{}"))
        .body(Full::new(Bytes::from_static(b"{}")))
        .unwrap();
    let answer = client().request(req).await.unwrap();
    assert_eq!(answer.status(), 200);
    #[allow(
        clippy::disallowed_methods,
        reason = "a test reads a response of its own proxy, whose size it knows"
    )]
    let _ = answer.into_body().collect().await;
    let pid = child.id().to_string();
    std::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap();
    lines.extend(rx.iter());
    let _ = child.wait();
    lines
}

/// Whether the process's lines are JSON objects.
pub async fn log_lines(c: BinaryCtx) -> String {
    let lines = binary_lines(&c).await;
    if lines
        .iter()
        .all(|l| serde_json::from_str::<serde_json::Value>(l).is_ok())
    {
        "JSON lines".into()
    } else {
        "text lines".into()
    }
}

/// How many audit events one delivery wrote.
pub async fn audit_lines(c: BinaryCtx) -> String {
    let lines = binary_lines(&c).await;
    let audit = lines
        .iter()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|v| v["target"] == "audit")
        .count();
    format!("{audit} audit event(s)")
}

// === [security] ===

/// A forged request, then a genuine one.
pub async fn genuine_after_one_failure(c: Ctx) -> String {
    gh_forged(&c, &[]).await;
    summary(&gh(&c, b"{}").await)
}

/// Two forged requests 100 ms apart, then a genuine one.
pub async fn genuine_after_two_spaced_failures(c: Ctx) -> String {
    gh_forged(&c, &[]).await;
    // The pause is the scenario: longer than the 50 ms window one of the
    // two configurations counts failures in.
    tokio::time::sleep(Duration::from_millis(100)).await;
    gh_forged(&c, &[]).await;
    summary(&gh(&c, b"{}").await)
}

/// A forged request from client A, one from B, then a genuine one from A
/// (the clients named by `X-Forwarded-For` from a trusted loopback peer).
pub async fn genuine_from_a_after_failures_from_a_and_b(c: Ctx) -> String {
    gh_forged(&c, &[("x-forwarded-for", "203.0.113.1")]).await;
    gh_forged(&c, &[("x-forwarded-for", "203.0.113.2")]).await;
    summary(&gh_with(&c, b"{}", &[("x-forwarded-for", "203.0.113.1")]).await)
}

// === [spool] and queue mode ===

/// Which of `{dir}/a` and `{dir}/b` holds the spool after a queued request.
pub async fn spool_location(c: Ctx) -> String {
    assert_eq!(summary(&gh(&c, b"{}").await), "202");
    let held = ["a", "b"]
        .into_iter()
        .filter(|d| c.dir.join(d).join("spool.redb").exists())
        .collect::<Vec<_>>();
    format!("spool in {}", held.join(","))
}

/// A queued request the upstream fails (500): its state once the first
/// attempt is recorded.
pub async fn state_after_a_failed_attempt(c: Ctx) -> String {
    c.up.set(Behavior {
        status: 500,
        delay: Duration::from_millis(20),
        ..Behavior::default()
    });
    assert_eq!(summary(&gh(&c, b"{}").await), "202");
    let spool = Arc::clone(c.proxy.app().spool().expect("a spool"));
    eventually("a first attempt", PATIENCE, || async {
        spool.snapshot().iter().any(|(_, m)| m.attempts >= 1)
    })
    .await;
    let (_, meta) = spool.snapshot().remove(0);
    format!("{:?}", meta.state).to_lowercase()
}

/// Two queued requests while the upstream holds the first for 3 s: how
/// many it sees at once.
pub async fn deliveries_at_once(c: Ctx) -> String {
    c.up.set(Behavior {
        delay: Duration::from_secs(3),
        ..Behavior::default()
    });
    assert_eq!(summary(&gh(&c, b"{\"n\":1}").await), "202");
    assert_eq!(summary(&gh(&c, b"{\"n\":2}").await), "202");
    // Whether the second arrives while the upstream holds the first (3 s).
    if poll_within(SHORT, || async { c.up.count() == 2 })
        .await
        .is_ok()
    {
        "2 at once".into()
    } else {
        format!("{} at once", c.up.count())
    }
}

// === [[route]] ===

/// Two different deliveries in a row.
/// Four deliveries sent one after the other: "all 200", or which answers
/// were 429. Rate-limit cases compare a limit four quick requests must hit
/// (one per second, burst one: at least two of them fall within a second
/// however loaded the machine) with one they cannot (a burst of four or
/// more), so no outcome depends on how fast the requests go.
pub async fn four_deliveries(c: Ctx) -> String {
    let mut answers = Vec::new();
    for n in 0..4 {
        answers.push(summary(&gh(&c, format!("{{\"n\":{n}}}").as_bytes()).await));
    }
    if answers.iter().all(|a| a == "200") {
        return "all 200".to_owned();
    }
    if answers
        .iter()
        .all(|a| a == "200" || a == "429 rate_limited")
    {
        return "some 429 rate_limited".to_owned();
    }
    answers.join(", ")
}

/// Discord's signing key (Ed25519, a fixed test seed) and another one.
fn discord_key(seed: u8) -> Ed25519KeyPair {
    Ed25519KeyPair::from_seed_unchecked(&[seed; 32]).unwrap()
}

/// Fills `{discord_pk}` and `{other_pk}` with the public keys, as hex.
pub fn fill_keys(toml: &str) -> String {
    toml.replace(
        "{discord_pk}",
        &hex::encode(discord_key(7).public_key().as_ref()),
    )
    .replace(
        "{other_pk}",
        &hex::encode(discord_key(9).public_key().as_ref()),
    )
}

/// A Discord interaction (not a PING) signed with the seed-7 key:
/// Ed25519 over `{timestamp}{body}` (Discord docs "Interactions").
pub async fn discord_interaction(c: Ctx) -> String {
    let body = br#"{"type":2}"#;
    let ts = now_secs().to_string();
    let sig = discord_key(7).sign(&[ts.as_bytes(), body].concat());
    let sig = hex::encode(sig.as_ref());
    let headers = [
        ("x-signature-ed25519", sig.as_str()),
        ("x-signature-timestamp", ts.as_str()),
    ];
    summary(&post(&c.proxy, "/hook", &headers, body).await)
}

/// A Twilio form post signed for `https://hooks.example.com/hook`:
/// base64(HMAC-SHA1(auth token, URL + each param name and value, sorted)),
/// per twilio-python's request_validator.py.
pub async fn twilio_for_the_public_url(c: Ctx) -> String {
    let body = b"Body=hi&From=%2B15550001111";
    let signed = "https://hooks.example.com/hookBodyhiFrom+15550001111";
    let sig = b64(&hmac(
        ring::hmac::HMAC_SHA1_FOR_LEGACY_USE_ONLY,
        b"twilio-token",
        &[signed.as_bytes()],
    ));
    let headers = [
        ("x-twilio-signature", sig.as_str()),
        ("content-type", "application/x-www-form-urlencoded"),
    ];
    summary(&post(&c.proxy, "/hook", &headers, body).await)
}

/// A shared token in `X-Hook-Token` to `/hook`: the status, and whether the
/// token reached the app.
pub async fn token_delivery(c: Ctx) -> String {
    let a = post(&c.proxy, "/hook", &[("x-hook-token", "tok")], b"{}").await;
    let status = summary(&a);
    match c.up.received().pop() {
        Some(got) if got.headers.contains_key("x-hook-token") => {
            format!("{status} token forwarded")
        }
        Some(_) => format!("{status} token dropped"),
        None => status,
    }
}

/// RFC 7617's example credentials (Aladdin / open sesame) to `/hook`.
pub async fn basic_delivery(c: Ctx) -> String {
    let basic = [("authorization", "Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ==")];
    summary(&post(&c.proxy, "/hook", &basic, b"{}").await)
}

/// Meta's subscription check: a GET with `hub.verify_token=tok`.
pub async fn meta_subscription(c: Ctx) -> String {
    let path = "/hook?hub.mode=subscribe&hub.verify_token=tok&hub.challenge=42";
    let answer = send(&c.proxy, "GET", path, &[], b"").await;
    match summary(&answer).as_str() {
        "200" => format!("200 {}", answer.text()),
        other => other.to_owned(),
    }
}

// === [route.hmac]: the generic route at /generic ===

/// A request to `/generic` with `headers`.
async fn generic(c: &Ctx, headers: &[(&str, &str)], body: &[u8]) -> String {
    summary(&post(&c.proxy, "/generic", headers, body).await)
}

const GENERIC_SECRET: &str = "generic-secret";

fn generic_hex(parts: &[&[u8]]) -> String {
    hmac256_hex(GENERIC_SECRET, parts)
}

/// The key `whsec_c0ffee00` stands for once `whsec_` is removed and the
/// rest hex-decoded.
const DECODED_KEY: [u8; 4] = [0xc0, 0xff, 0xee, 0x00];

/// HMAC-SHA256 of the body under [`DECODED_KEY`], hex, in `X-Sig`.
pub async fn generic_decoded_key_sig(c: Ctx) -> String {
    let sig = hex::encode(hmac(ring::hmac::HMAC_SHA256, &DECODED_KEY, &[b"{}"]));
    generic(&c, &[("x-sig", &sig)], b"{}").await
}

/// HMAC-SHA256 of the body, hex, in `X-Sig`.
pub async fn generic_hex_sig(c: Ctx) -> String {
    let sig = generic_hex(&[b"{}"]);
    generic(&c, &[("x-sig", &sig)], b"{}").await
}

/// HMAC-MD5 of the body, hex, in `X-Sig`: computed with
/// `printf '{}' | openssl dgst -md5 -hmac generic-secret`.
pub async fn generic_md5_sig(c: Ctx) -> String {
    let sig = "b497ae668e3a3944e601c2fcdaa2f340";
    generic(&c, &[("x-sig", sig)], b"{}").await
}

/// SHA-256 of the secret then the body, no HMAC: computed with
/// `python3 -c "print(hashlib.sha256(b'generic-secret{}').hexdigest())"`.
pub async fn generic_hash_sig(c: Ctx) -> String {
    let sig = "8c43bd9078e8a5168ef6480d03f8bc2d13debf366988243bd8420408a7ee94cf";
    generic(&c, &[("x-sig", sig)], b"{}").await
}

/// HMAC-SHA256 of the body, hex, in `X-Sig2` only.
pub async fn generic_hex_sig_in_x_sig2(c: Ctx) -> String {
    let sig = generic_hex(&[b"{}"]);
    generic(&c, &[("x-sig2", &sig)], b"{}").await
}

/// The same with `sha256=` in front.
pub async fn generic_prefixed_sig(c: Ctx) -> String {
    let sig = format!("sha256={}", generic_hex(&[b"{}"]));
    generic(&c, &[("x-sig", &sig)], b"{}").await
}

/// HMAC-SHA256 of the body, base64.
pub async fn generic_base64_sig(c: Ctx) -> String {
    let sig = b64(&hmac(
        ring::hmac::HMAC_SHA256,
        GENERIC_SECRET.as_bytes(),
        &[b"{}"],
    ));
    generic(&c, &[("x-sig", &sig)], b"{}").await
}

/// Signed `{timestamp}.{body}` with the timestamp `age` seconds ago.
async fn generic_timestamped(c: &Ctx, age: i64) -> String {
    let ts = (now_secs() - age).to_string();
    let sig = generic_hex(&[ts.as_bytes(), b".", b"{}"]);
    generic(c, &[("x-sig", &sig), ("x-ts", &ts)], b"{}").await
}

pub async fn generic_timestamped_now(c: Ctx) -> String {
    generic_timestamped(&c, 0).await
}

/// Signed `{timestamp}.{body}` with the timestamp now, in Unix milliseconds.
pub async fn generic_timestamped_ms_now(c: Ctx) -> String {
    let ts = (now_secs() * 1000).to_string();
    let sig = generic_hex(&[ts.as_bytes(), b".", b"{}"]);
    generic(&c, &[("x-sig", &sig), ("x-ts", &ts)], b"{}").await
}

pub async fn generic_timestamped_10_minutes_ago(c: Ctx) -> String {
    generic_timestamped(&c, 600).await
}

/// A `k=v` header: `v0=<junk>,v1=<hex HMAC of the body>`.
pub async fn generic_pairs_sig(c: Ctx) -> String {
    let sig = format!("v0=zz,v1={}", generic_hex(&[b"{}"]));
    generic(&c, &[("x-sig", &sig)], b"{}").await
}

/// A `k=v` header with the timestamp: `t=<now>,v1=<hex of "{t}.{body}">`.
pub async fn generic_pairs_timestamped(c: Ctx) -> String {
    let ts = now_secs().to_string();
    let sig = format!("t={ts},v1={}", generic_hex(&[ts.as_bytes(), b".", b"{}"]));
    generic(&c, &[("x-sig", &sig)], b"{}").await
}

/// The same pairs joined by `;`.
pub async fn generic_pairs_semicolon(c: Ctx) -> String {
    let ts = now_secs().to_string();
    let sig = format!("t={ts};v1={}", generic_hex(&[ts.as_bytes(), b".", b"{}"]));
    generic(&c, &[("x-sig", &sig)], b"{}").await
}

/// Signed `{id}.{body}`, id `evt-1`: the event id the upstream receives.
pub async fn generic_with_an_id(c: Ctx) -> String {
    let sig = generic_hex(&[b"evt-1.", b"{}"]);
    let answer = generic(&c, &[("x-sig", &sig), ("x-id", "evt-1")], b"{}").await;
    let got = c.up.received();
    let id = got
        .first()
        .and_then(|r| r.headers.get("x-hookguard-event-id"))
        .map_or("none", |v| v.to_str().unwrap());
    format!("{answer}, event id {id}")
}

/// Signed `v0:{body}`.
pub async fn generic_v0_sig(c: Ctx) -> String {
    let sig = generic_hex(&[b"v0:", b"{}"]);
    generic(&c, &[("x-sig", &sig)], b"{}").await
}

// === [server] proxy_protocol ===

/// A plain request with no PROXY header in front: answered, or closed
/// without a byte.
pub async fn request_without_proxy_header(c: Ctx) -> String {
    let mut stream = TcpStream::connect(c.proxy.addr).await.unwrap();
    let request = b"GET /hook HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
    stream.write_all(request).await.unwrap();
    let mut seen = Vec::new();
    let read = tokio::time::timeout(PATIENCE, stream.read_to_end(&mut seen)).await;
    match read {
        Err(_) => "still open".into(),
        Ok(_) if seen.is_empty() => "closed unanswered".into(),
        Ok(_) => "answered".into(),
    }
}

// === [receipt] ===

/// The receipt secret of the cases (the Standard Webhooks libraries' test
/// secret) and an Ed25519 seed of sevens as `whsk_`.
pub const RECEIPT_SECRET: &str = "whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD";

/// What signed the GitHub delivery the upstream got: `receipt v1` when the
/// `standardwebhooks` crate verifies it with [`RECEIPT_SECRET`], `receipt
/// v1a` for an Ed25519 entry alone, else `no receipt`.
pub async fn receipt_kind(c: Ctx) -> String {
    let status = summary(&gh(&c, b"{\"receipt\":1}").await);
    let got = c.up.received().pop().expect("delivered");
    let v1 = standardwebhooks::Webhook::new(RECEIPT_SECRET)
        .unwrap()
        .verify(&got.body, &got.headers)
        .is_ok();
    let signature = got
        .headers
        .get("webhook-signature")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    let kind = match (v1, signature.starts_with("v1a,")) {
        (true, _) => "receipt v1",
        (false, true) => "receipt v1a",
        (false, false) => "no receipt",
    };
    format!("{status}, {kind}")
}

/// An Event Grid delivery with its key in the query: what the upstream sees.
pub async fn eventgrid_query_key(c: Ctx) -> String {
    let a = post(&c.proxy, "/hook?code=k3y&a=1", &[], b"[]").await;
    match c.up.received().pop() {
        Some(got) => format!("{} forwarded {}", summary(&a), got.uri),
        None => summary(&a),
    }
}

/// The CloudEvents abuse-protection `OPTIONS` to `/hook`.
pub async fn cloudevents_options(c: Ctx) -> String {
    let origin = [("webhook-request-origin", "eventgrid.azure.net")];
    let a = send(&c.proxy, "OPTIONS", "/hook", &origin, b"").await;
    match a.headers.get("webhook-allowed-origin") {
        Some(v) => format!("{} {}", summary(&a), v.to_str().unwrap_or("?")),
        None => summary(&a),
    }
}
