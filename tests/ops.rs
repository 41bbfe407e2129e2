//! Operating hookguard (docs/operations.md), end to end on loopback: admin endpoint
//! contents after a known sequence of requests, token enforcement,
//! readiness while draining, auto-block and its expiry, 429 with
//! Retry-After, reload (secret, invalid config, certificate), SIGHUP on the
//! real binary with a request in flight, slow clients and the connection cap.

mod common;

use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::{mpsc, Arc};
use std::time::Duration;

use bytes::Bytes;
use common::*;
use hookguard::runtime;
use http_body_util::Full;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const GH_SECRET: &str = "It's a Secret to Everybody";
const OTHER_SECRET: &str = "another-secret-5b1c";
const TOKEN: &str = "admin-token-3f9a";

fn gh_sig(secret: &str, body: &[u8]) -> String {
    format!("sha256={}", hmac256_hex(secret, &[body]))
}

/// GET on the admin listener; (status, body).
async fn admin_get(addr: SocketAddr, path: &str, token: Option<&str>) -> (u16, String) {
    admin_request(addr, "GET", path, token).await
}

async fn admin_json(addr: SocketAddr, path: &str) -> serde_json::Value {
    let (status, body) = admin_get(addr, path, Some(TOKEN)).await;
    assert_eq!(status, 200, "{path}: {body}");
    serde_json::from_str(&body).unwrap()
}

async fn gh(proxy: &runtime::Running, path: &str, secret: &str, body: &[u8]) -> Answer {
    let sig = gh_sig(secret, body);
    post(proxy, path, &[("x-hub-signature-256", &sig)], body).await
}

#[tokio::test]
async fn admin_endpoints_after_a_known_sequence() {
    let up = Upstream::start().await;
    let env = HashMap::from([("ADMIN_TOKEN".to_owned(), TOKEN.to_owned())]);
    let cfg = TomlConfig::new()
        .server(r#"shutdown_grace = "5s""#)
        .admin(r#"token = "env:ADMIN_TOKEN""#)
        .route(&format!(
            r#"
path = "/gh"
provider = "github"
secrets = [
  {{ value = "{OTHER_SECRET}", expires = "2099-01-01T00:00:00Z" }},
  "{GH_SECRET}",
]"#
        ));
    let p = proxy_with_env(&cfg.build(), &up, &env).await;
    let admin = p.admin_addr.expect("admin listener bound");

    // Token enforcement on every path, health included.
    assert_eq!(admin_get(admin, "/healthz", None).await.0, 401);
    assert_eq!(admin_get(admin, "/metrics", Some("wrong")).await.0, 401);
    assert_eq!(admin_get(admin, "/secrets", Some(&TOKEN[1..])).await.0, 401);
    assert_eq!(admin_get(admin, "/healthz", Some(TOKEN)).await.0, 200);
    assert_eq!(admin_get(admin, "/readyz", Some(TOKEN)).await.0, 200);
    assert_eq!(admin_get(admin, "/nope", Some(TOKEN)).await.0, 404);

    // 3 forwarded, 2 invalid, 1 missing signature, 1 unmatched route.
    for body in [&b"one"[..], b"two", b"three"] {
        assert_eq!(gh(&p, "/gh", GH_SECRET, body).await.status, 200);
    }
    for body in [&b"four"[..], b"five"] {
        assert_eq!(gh(&p, "/gh", "not-the-secret", body).await.status, 401);
    }
    assert_eq!(post(&p, "/gh", &[], b"six").await.status, 401);
    assert_eq!(gh(&p, "/elsewhere", GH_SECRET, b"seven").await.status, 404);

    let report = admin_json(admin, "/audit/report").await;
    assert_eq!(report["totals"]["total"], 7, "{report}");
    assert_eq!(report["totals"]["forwarded"], 3);
    assert_eq!(report["totals"]["rejected"], 4);
    assert_eq!(report["failures_by_code"]["invalid_signature"], 2);
    assert_eq!(report["failures_by_code"]["missing_signature"], 1);
    assert_eq!(report["failures_by_code"]["no_route"], 1);
    assert_eq!(report["failures_by_code"].as_object().unwrap().len(), 3);
    assert_eq!(report["routes"]["/gh"]["counts"]["total"], 6);
    assert_eq!(report["routes"]["/gh"]["counts"]["forwarded"], 3);
    assert_eq!(report["success_rate"].as_f64().unwrap(), 3.0 / 7.0);
    let hourly = report["hourly"].as_array().unwrap();
    assert_eq!(hourly.len(), 24);
    assert_eq!(hourly[23]["counts"]["total"], 7);
    assert_eq!(report["suspicious_ips"], serde_json::json!([]));

    let secrets = admin_json(admin, "/secrets").await;
    let rows = secrets["secrets"].as_array().unwrap();
    assert_eq!(rows.len(), 2, "{secrets}");
    assert_eq!(rows[0]["index"], 0);
    assert_eq!(rows[0]["matched"], 0);
    assert_eq!(rows[0]["last_matched"], serde_json::Value::Null);
    assert_eq!(rows[0]["expires"], "2099-01-01T00:00:00Z");
    assert_eq!(rows[0]["expired"], false);
    assert_eq!(rows[1]["matched"], 3);
    assert!(rows[1]["last_matched"].as_str().unwrap().ends_with('Z'));
    assert!(!secrets.to_string().contains(GH_SECRET));
    assert!(!secrets.to_string().contains(OTHER_SECRET));

    // The last decisions, newest first, with the live explanations.
    let recent = admin_json(admin, "/audit/recent?outcome=rejected").await;
    assert_eq!(recent["capacity"], 1000, "{recent}");
    let rows = recent["decisions"].as_array().unwrap();
    let codes: Vec<_> = rows.iter().map(|r| r["error"].as_str().unwrap()).collect();
    assert_eq!(
        codes,
        [
            "no_route",
            "missing_signature",
            "invalid_signature",
            "invalid_signature"
        ],
        "{recent}"
    );
    assert_eq!(
        rows[2]["reason"],
        "invalid_signature: signature does not match: 1 signature tried against \
         2 unexpired secrets (#0, #1); body 4 bytes, sha256 222b0bd51fce"
    );
    assert_eq!(rows[2]["route"], "/gh");
    assert_eq!(rows[2]["status"], 401);
    let routed = admin_json(admin, "/audit/recent?route=%2Fgh&limit=2").await;
    let rows = routed["decisions"].as_array().unwrap();
    assert_eq!(rows.len(), 2, "{routed}");
    assert_eq!(rows[0]["error"], "missing_signature");
    assert_eq!(rows[1]["reason"].as_str().unwrap(), "invalid_signature: signature does not match: 1 signature tried against 2 unexpired secrets (#0, #1); body 4 bytes, sha256 222b0bd51fce");
    assert_eq!(
        admin_get(admin, "/audit/recent?outcome=lost", Some(TOKEN)).await,
        (
            400,
            "outcome must be one of forwarded, queued, duplicate, handshake, rejected\n".into()
        )
    );

    let (status, metrics) = admin_get(admin, "/metrics", Some(TOKEN)).await;
    assert_eq!(status, 200);
    for line in [
        r#"hookguard_requests_total{route="/gh",outcome="forwarded",code="none"} 3"#,
        r#"hookguard_requests_total{route="/gh",outcome="rejected",code="invalid_signature"} 2"#,
        r#"hookguard_requests_total{route="/gh",outcome="rejected",code="missing_signature"} 1"#,
        r#"hookguard_requests_total{route="unmatched",outcome="rejected",code="no_route"} 1"#,
        r#"hookguard_upstream_responses_total{route="/gh",class="2xx"} 3"#,
        r#"hookguard_request_duration_seconds_count{route="/gh"} 6"#,
        r#"hookguard_upstream_duration_seconds_count{route="/gh"} 3"#,
        "hookguard_in_flight_requests 0",
        "hookguard_replay_store_entries 3",
    ] {
        assert!(
            metrics.lines().any(|l| l == line),
            "missing {line}\n{metrics}"
        );
    }

    // Readiness goes 503 while a request drains, health stays 200.
    up.set(Behavior {
        delay: Duration::from_millis(1500),
        ..Behavior::default()
    });
    let addr = p.addr;
    let slow = tokio::spawn(async move {
        let sig = gh_sig(GH_SECRET, b"slow");
        let req = http::Request::post(format!("http://{addr}/gh"))
            .header("x-hub-signature-256", sig)
            .body(Full::new(Bytes::from_static(b"slow")))
            .unwrap();
        client().request(req).await.unwrap().status().as_u16()
    });
    up.wait_for_requests(4).await;
    let draining = tokio::spawn(p.shutdown());
    eventually("/readyz to answer 503", PATIENCE, || async {
        let (status, body) = admin_get(admin, "/readyz", Some(TOKEN)).await;
        (status == 503)
            .then_some(())
            .ok_or(format!("{status} {body}"))
    })
    .await;
    assert_eq!(admin_get(admin, "/healthz", Some(TOKEN)).await.0, 200);
    assert_eq!(slow.await.unwrap(), 200);
    assert!(draining.await.unwrap(), "drained");
}

#[tokio::test]
async fn auto_block_after_threshold_then_expiry() {
    let up = Upstream::start().await;
    let cfg = TomlConfig::new()
        .server(r#"request_timeout = "30s""#)
        .admin("")
        .table(
            r#"
[security]
failure_threshold = 3
window = "1m"
auto_block = "1s"
"#,
        )
        .github("/gh", GH_SECRET, &[]);
    let p = proxy(&cfg.build(), &up).await;
    let admin = p.admin_addr.unwrap();
    for body in [&b"a"[..], b"b", b"c"] {
        assert_rejected(
            &gh(&p, "/gh", "wrong", body).await,
            401,
            "invalid_signature",
        );
    }
    // Blocked: even a valid request is refused before its body is read.
    assert_rejected(&gh(&p, "/gh", GH_SECRET, b"d").await, 403, "ip_not_allowed");
    assert_eq!(up.count(), 0);
    // ... before its body is read: a head announcing a body that never comes
    // is answered at once (reading it would end in 408 after request_timeout).
    let mut raw = TcpStream::connect(p.addr).await.unwrap();
    raw.write_all(b"POST /gh HTTP/1.1\r\nhost: x\r\ncontent-length: 1000\r\n\r\n")
        .await
        .unwrap();
    let mut head = [0u8; 12];
    tokio::time::timeout(Duration::from_secs(10), raw.read_exact(&mut head))
        .await
        .expect("answered without the body")
        .unwrap();
    assert_eq!(&head, b"HTTP/1.1 403");
    let (_, report) = admin_get(admin, "/audit/report", None).await;
    let report: serde_json::Value = serde_json::from_str(&report).unwrap();
    let suspicious = report["suspicious_ips"].as_array().unwrap();
    assert_eq!(suspicious.len(), 1, "{report}");
    assert_eq!(suspicious[0]["ip"], "127.0.0.1");
    assert_eq!(suspicious[0]["failures"], 3);
    assert!(suspicious[0]["blocked_until"].is_string());
    let (_, metrics) = admin_get(admin, "/metrics", None).await;
    assert!(
        metrics.contains("hookguard_suspicious_sources_total 1"),
        "{metrics}"
    );

    // The block expires.
    let mut n = 0u32;
    eventually("the block to expire", PATIENCE, || {
        n += 1;
        let (p, body) = (&p, format!("e{n}"));
        async move {
            let answer = gh(p, "/gh", GH_SECRET, body.as_bytes()).await;
            (answer.status == 200).then_some(()).ok_or(answer.text())
        }
    })
    .await;
    assert_eq!(up.count(), 1);
}

#[tokio::test]
async fn rate_limit_answers_429_with_retry_after() {
    let up = Upstream::start().await;
    let cfg = TomlConfig::new()
        .github(
            "/gh",
            GH_SECRET,
            &["rate_limit = { per_second = 1, burst = 3 }"],
        )
        .github("/free", GH_SECRET, &[]);
    let p = proxy(&cfg.build(), &up).await;
    for body in [&b"1"[..], b"2", b"3"] {
        assert_eq!(gh(&p, "/gh", GH_SECRET, body).await.status, 200);
    }
    let limited = gh(&p, "/gh", GH_SECRET, b"4").await;
    assert_rejected(&limited, 429, "rate_limited");
    let retry: u64 = limited.headers["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(retry >= 1, "{retry}");
    assert_eq!(up.count(), 3, "the limited request was not forwarded");
    // Another route has its own bucket.
    assert_eq!(gh(&p, "/free", GH_SECRET, b"5").await.status, 200);
}

fn write(path: &Path, text: &str) {
    // Write-then-rename so a reader never sees a half-written file.
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, text).unwrap();
    std::fs::rename(tmp, path).unwrap();
}

#[tokio::test]
async fn reload_swaps_certificate_and_counts_attempts() {
    let tmp = common::temp_dir("ops-certs");
    let dir = tmp.path();
    let first = rcgen::generate_simple_self_signed(vec!["localhost".into()]).unwrap();
    write(&dir.join("tls.crt"), &first.cert.pem());
    write(&dir.join("tls.key"), &first.key_pair.serialize_pem());
    let up = Upstream::start().await;
    let cfg = TomlConfig::new()
        .server(r#"tls = { cert = "tls.crt", key = "tls.key" }"#)
        .admin("")
        .upstream_url(&up.url())
        .github("/gh", GH_SECRET, &[]);
    write(&dir.join("hookguard.toml"), &cfg.build());
    let config = hookguard::config::load(&dir.join("hookguard.toml")).unwrap();
    let p = runtime::start(config).await.unwrap();
    let first_der = first.cert.der().to_vec();
    assert!(
        handshake(p.addr, &first_der).await,
        "first certificate served"
    );

    let second = rcgen::generate_simple_self_signed(vec!["localhost".into()]).unwrap();
    write(&dir.join("tls.crt"), &second.cert.pem());
    write(&dir.join("tls.key"), &second.key_pair.serialize_pem());
    p.reload().expect("reload succeeds");
    let second_der = second.cert.der().to_vec();
    assert!(
        handshake(p.addr, &second_der).await,
        "new certificate served"
    );
    assert!(!handshake(p.addr, &first_der).await, "old certificate gone");

    // A broken key is refused as a whole: the second certificate stays.
    write(&dir.join("tls.key"), "not a key");
    assert!(p.reload().is_err());
    assert!(handshake(p.addr, &second_der).await);

    let (_, metrics) = admin_get(p.admin_addr.unwrap(), "/metrics", None).await;
    assert!(metrics.contains(r#"hookguard_config_reloads_total{result="success"} 1"#));
    assert!(metrics.contains(r#"hookguard_config_reloads_total{result="failure"} 1"#));
    p.shutdown().await;
}

/// True when a TLS handshake with `addr` succeeds trusting only `ca_der`.
async fn handshake(addr: SocketAddr, ca_der: &[u8]) -> bool {
    let config = client_tls_config(ca_der);
    let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
    let tcp = TcpStream::connect(addr).await.unwrap();
    let name = rustls_pki_types::ServerName::try_from("localhost").unwrap();
    connector.connect(name, tcp).await.is_ok()
}

#[tokio::test]
async fn sighup_reloads_secret_with_a_request_in_flight() {
    const OLD: &str = "old-rotating-secret-11aa";
    const NEW: &str = "new-rotating-secret-22bb";
    let up = Upstream::start().await;
    let tmp = common::temp_dir("ops-sighup");
    let dir = tmp.path();
    write(&dir.join("gh.secret"), &format!("{OLD}\n"));
    let cfg = TomlConfig::new()
        .server(r#"shutdown_grace = "5s""#)
        .upstream_url(&up.url())
        .upstream(r#"timeout = "10s""#)
        .github("/gh", "file:gh.secret", &[]);
    let path = dir.join("hookguard.toml");
    write(&path, &cfg.build());
    let mut child = Command::new(env!("CARGO_BIN_EXE_hookguard"))
        .args(["serve", "-c"])
        .arg(&path)
        .env("HOOKGUARD_LOG", "info")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = mpsc::channel::<serde_json::Value>();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if let Ok(v) = serde_json::from_str(&line) {
                let _ = tx.send(v);
            }
        }
    });
    let wait_for = |message: &str| loop {
        let v = rx
            .recv_timeout(Duration::from_secs(10))
            .unwrap_or_else(|_| panic!("no {message:?} log line"));
        if v["message"] == message {
            return v;
        }
    };
    let addr: SocketAddr = wait_for("listening")["addr"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    let send = move |secret: &'static str, body: &'static [u8]| async move {
        let req = http::Request::post(format!("http://{addr}/gh"))
            .header("x-hub-signature-256", gh_sig(secret, body))
            .body(Full::new(Bytes::from_static(body)))
            .unwrap();
        client().request(req).await.unwrap().status().as_u16()
    };
    let hup = |child: &std::process::Child| {
        let ok = Command::new("kill")
            .args(["-HUP", &child.id().to_string()])
            .status()
            .unwrap()
            .success();
        assert!(ok);
    };

    // In flight under the old secret while the secret changes.
    up.set(Behavior {
        delay: Duration::from_millis(1500),
        ..Behavior::default()
    });
    let in_flight = tokio::spawn(send(OLD, b"in-flight"));
    up.wait_for_requests(1).await;
    write(&dir.join("gh.secret"), &format!("{NEW}\n"));
    hup(&child);
    wait_for("configuration reloaded");
    up.set(Behavior::default());
    assert_eq!(send(NEW, b"after").await, 200, "new secret verifies");
    assert_eq!(send(OLD, b"after-old").await, 401, "old secret no longer");
    assert_eq!(in_flight.await.unwrap(), 200, "in-flight request finished");

    // An invalid configuration leaves the previous one serving.
    write(&path, "[[route]]\npath = 3\n");
    hup(&child);
    wait_for("configuration reload failed; the previous configuration keeps serving");
    assert_eq!(send(NEW, b"still").await, 200);

    Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert_eq!(child.wait().unwrap().code(), Some(0));
}

#[tokio::test]
async fn slow_client_is_cut_off() {
    let up = Upstream::start().await;
    let cfg = TomlConfig::new()
        .server(r#"request_timeout = "1s""#)
        .github("/gh", GH_SECRET, &[]);
    let p = proxy(&cfg.build(), &up).await;
    let stream = TcpStream::connect(p.addr).await.unwrap();
    let (mut read, mut write) = stream.into_split();
    write
        .write_all(b"POST /gh HTTP/1.1\r\nhost: x\r\n")
        .await
        .unwrap();
    // Slowloris: one header byte every 200 ms, never finishing the head
    // (the pause is the scenario: a client that trickles).
    let trickle = tokio::spawn(async move {
        for _ in 0..300 {
            if write.write_all(b"x").await.is_err() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    });
    let mut sink = Vec::new();
    let closed = tokio::time::timeout(Duration::from_secs(20), read.read_to_end(&mut sink)).await;
    assert!(closed.is_ok(), "slow client still connected after 20 s");
    trickle.abort();
    assert_eq!(up.count(), 0);
}

#[tokio::test]
async fn connection_cap_holds_new_connections_until_one_closes() {
    let up = Upstream::start().await;
    let cfg = TomlConfig::new()
        .server("max_connections = 1")
        .github("/gh", GH_SECRET, &[]);
    let p = proxy(&cfg.build(), &up).await;
    // One connection takes the only slot: connected first, it is accepted
    // first (the listen queue is first in, first out).
    let holding = TcpStream::connect(p.addr).await.unwrap();
    let (mut holder, connection) =
        hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(holding))
            .await
            .unwrap();
    let connection = tokio::spawn(connection);
    let addr = p.addr;
    let (sent, request_sent) = tokio::sync::oneshot::channel();
    let waiting = tokio::spawn(async move {
        let mut s = TcpStream::connect(addr).await.unwrap();
        s.write_all(b"GET /healthz HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n")
            .await
            .unwrap();
        let _ = sent.send(());
        let mut out = Vec::new();
        s.read_to_end(&mut out).await.unwrap();
        String::from_utf8_lossy(&out).into_owned()
    });
    request_sent.await.unwrap();
    // Observed, not slept on: the proxy goes on serving the connection in
    // the slot after the second one's request is sent, which meanwhile
    // stays unanswered.
    for _ in 0..3 {
        holder.ready().await.unwrap();
        let req = http::Request::get("/nothing")
            .header("host", "x")
            .body(Full::new(Bytes::new()))
            .unwrap();
        let answer = holder.send_request(req).await.unwrap();
        assert_eq!(answer.status(), 404);
        #[allow(
            clippy::disallowed_methods,
            reason = "reads the answer of the proxy under test"
        )]
        http_body_util::BodyExt::collect(answer.into_body())
            .await
            .unwrap();
    }
    assert!(
        !waiting.is_finished(),
        "second connection served over the cap"
    );
    // Closes the connection in the slot.
    drop(holder);
    connection.await.unwrap().unwrap();
    let answer = tokio::time::timeout(Duration::from_secs(10), waiting)
        .await
        .expect("served once the slot frees")
        .unwrap();
    assert!(answer.starts_with("HTTP/1.1 404"), "{answer}");
}

/// Without a token, the admin listener answers only requests that name it
/// by something DNS rebinding cannot produce (an IP address, `localhost`)
/// or by a name listed in `admin.hosts`: a web page whose own name is
/// rebound to 127.0.0.1 must not read the audit trail through a browser.
#[tokio::test]
async fn admin_without_token_refuses_names_it_was_not_given() {
    let up = Upstream::start().await;
    let cfg = TomlConfig::new()
        .admin(r#"hosts = ["Hookguard.Monitoring.svc"]"#)
        .github("/gh", GH_SECRET, &[]);
    let p = proxy(&cfg.build(), &up).await;
    let admin = p.admin_addr.unwrap();
    let port = admin.port();
    let get_as = |host: String| async move {
        admin_request_with(admin, "GET", "/audit/recent", None, &[("host", &host)]).await
    };

    for host in [
        format!("127.0.0.1:{port}"),
        format!("localhost:{port}"),
        "LOCALHOST".to_owned(),
        format!("[::1]:{port}"),
        "10.1.2.3".to_owned(),
        format!("hookguard.monitoring.svc:{port}"),
    ] {
        let (status, body) = get_as(host.clone()).await;
        assert_eq!(status, 200, "Host: {host}: {body}");
    }
    for host in [
        format!("attacker.example:{port}"),
        "127.0.0.1.nip.io".to_owned(),
        "localhost.attacker.example".to_owned(),
        "monitoring.svc".to_owned(),
        "not a host".to_owned(),
    ] {
        let answer = get_as(host.clone()).await;
        assert_eq!(
            answer,
            (403, r#"{"error":"admin_host_not_allowed"}"#.to_owned()),
            "Host: {host}"
        );
    }
    // The page's files hold no data: served whatever the Host.
    let (status, _) =
        admin_request_with(admin, "GET", "/", None, &[("host", "attacker.example")]).await;
    assert_eq!(status, 200);
}

/// With a token the token decides, whatever the `Host`; `admin.hosts`
/// beside a token is refused rather than ignored.
#[tokio::test]
async fn admin_with_token_answers_any_host_and_refuses_hosts() {
    let up = Upstream::start().await;
    let env = HashMap::from([("ADMIN_TOKEN".to_owned(), TOKEN.to_owned())]);
    let token = r#"token = "env:ADMIN_TOKEN""#;
    let cfg = TomlConfig::new().admin(token).github("/gh", GH_SECRET, &[]);
    let p = proxy_with_env(&cfg.build(), &up, &env).await;
    let admin = p.admin_addr.unwrap();
    let named = [("host", "hookguard.example")];
    let answer = admin_request_with(admin, "GET", "/healthz", Some(TOKEN), &named).await;
    assert_eq!(answer.0, 200);
    let answer = admin_request_with(admin, "GET", "/healthz", None, &named).await;
    assert_eq!(answer.0, 401);

    let both = TomlConfig::new()
        .admin(&format!("{token}\nhosts = [\"hookguard.example\"]"))
        .github("/gh", GH_SECRET, &[])
        .build()
        .replace("{upstream}", &up.url());
    let lookup = |k: &str| env.get(k).cloned();
    let Err(err) = hookguard::config::from_str(&both, Path::new("both.toml"), &lookup) else {
        panic!("admin.hosts beside admin.token must be refused");
    };
    let err = err.to_string();
    assert!(
        err.contains("admin.hosts[0]") && err.contains("only without admin.token"),
        "{err}"
    );
}
