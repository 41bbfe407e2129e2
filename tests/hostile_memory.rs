//! Memory before verification: request bodies held in memory are bounded
//! process-wide (`max_buffered`) and per connection
//! (`max_buffered_per_connection`); over either, a new body gets 503
//! `overloaded` with `Retry-After`. In-process with small budgets, and the
//! real binary under a flood of HTTP/2 streams carrying large bodies with a
//! fake signature, its resident memory read from `/proc`.

mod common;

use std::net::SocketAddr;
use std::time::Duration;

use bytes::Bytes;
use common::*;
use hyper::client::conn::http2::SendRequest;
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// An HTTP/2 (prior knowledge) connection to `addr`, driven in the background.
async fn h2_connection(addr: SocketAddr) -> SendRequest<Stalled> {
    let tcp = TcpStream::connect(addr).await.unwrap();
    let (sender, conn) =
        hyper::client::conn::http2::handshake(TokioExecutor::new(), TokioIo::new(tcp))
            .await
            .unwrap();
    tokio::spawn(conn);
    sender
}

/// A POST to `/gh` with a made-up signature (64 hex digits, the shape of a
/// real one) and `body`.
fn unsigned_post(body: Stalled) -> http::Request<Stalled> {
    http::Request::post("http://x/gh")
        .header("x-hub-signature-256", format!("sha256={}", "ab".repeat(32)))
        .body(body)
        .unwrap()
}

/// Starts an HTTP/1.1 POST to `/gh` that declares `declared` bytes and
/// asks to send them (`Expect: 100-continue`), then sends none; returns
/// once the proxy answered `100 Continue`, which it does when it starts
/// reading the body: its bytes are held then.
async fn held_http1(addr: SocketAddr, declared: usize) -> TcpStream {
    let mut s = TcpStream::connect(addr).await.unwrap();
    let head = format!(
        "POST /gh HTTP/1.1\r\nHost: x\r\nx-hub-signature-256: {GH_SIG}\r\n\
         Content-Length: {declared}\r\nExpect: 100-continue\r\n\r\n"
    );
    s.write_all(head.as_bytes()).await.unwrap();
    let mut continued = vec![0; 64];
    let n = tokio::time::timeout(Duration::from_secs(5), s.read(&mut continued))
        .await
        .expect("asked for the body")
        .unwrap();
    assert!(continued[..n].starts_with(b"HTTP/1.1 100"), "{n} bytes");
    s
}

/// The proxy's answer on `s` (which it may close after answering).
async fn answer(s: &mut TcpStream) -> String {
    let mut out = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(5), s.read_to_end(&mut out)).await;
    String::from_utf8_lossy(&out).into_owned()
}

fn assert_overloaded(answer: &str) {
    assert!(answer.starts_with("HTTP/1.1 503"), "{answer}");
    assert!(answer.contains("\r\nretry-after: 5\r\n"), "{answer}");
    assert!(answer.ends_with(r#"{"error":"overloaded"}"#), "{answer}");
}

const SMALL_BUDGETS: &str = r#"
[server]
listen = "127.0.0.1:0"
request_timeout = "20s"
max_body = "1KiB"
max_buffered = "2KiB"
max_buffered_per_connection = "1KiB"

[upstream]
url = "{upstream}"

[[route]]
path = "/gh"
provider = "github"
secrets = ["It's a Secret to Everybody"]
"#;

#[tokio::test]
async fn bodies_over_the_process_budget_get_503_overloaded_until_held_ones_finish() {
    let up = Upstream::start().await;
    let p = proxy(SMALL_BUDGETS, &up).await;
    // Two connections each hold 1 KiB, declared: the process budget is full.
    let held = [
        held_http1(p.addr, 1024).await,
        held_http1(p.addr, 1024).await,
    ];
    let signed = |framing: &str, body: &str| {
        format!(
            "POST /gh HTTP/1.1\r\nHost: x\r\nx-hub-signature-256: {GH_SIG}\r\n{framing}\r\nConnection: close\r\n\r\n{body}"
        )
    };
    let declared = signed("Content-Length: 13", "Hello, World!");
    let chunked = signed(
        "Transfer-Encoding: chunked",
        "d\r\nHello, World!\r\n0\r\n\r\n",
    );
    let mut s = TcpStream::connect(p.addr).await.unwrap();
    s.write_all(declared.as_bytes()).await.unwrap();
    assert_overloaded(&answer(&mut s).await);
    // No declared length: refused as its first bytes arrive.
    let mut s = TcpStream::connect(p.addr).await.unwrap();
    s.write_all(chunked.as_bytes()).await.unwrap();
    assert_overloaded(&answer(&mut s).await);

    // Their senders give up: what they held is given back.
    drop(held);
    eventually("the budget given back", PATIENCE, || async {
        let mut s = TcpStream::connect(p.addr).await.unwrap();
        s.write_all(chunked.as_bytes()).await.unwrap();
        let text = answer(&mut s).await;
        if text.starts_with("HTTP/1.1 200") {
            return Ok(());
        }
        assert_overloaded(&text);
        Err(text)
    })
    .await;
}

#[tokio::test]
async fn streams_over_the_connection_budget_get_503_overloaded() {
    let up = Upstream::start().await;
    let p = proxy(SMALL_BUDGETS, &up).await;
    let mut attacker = h2_connection(p.addr).await;
    let part = Bytes::from_static(&[b'x'; 100]);
    // The first stream holds the connection's whole budget (1 KiB declared).
    // Streams run at once: should the second take the budget first, the
    // first is refused, and is sent again.
    let hold = |attacker: &mut SendRequest<Stalled>| {
        tokio::spawn(attacker.send_request(unsigned_post(Stalled::new(part.clone(), Some(1024)))))
    };
    let holding = hold(&mut attacker);
    // One probe at a time owns the connection and the held stream.
    let state = tokio::sync::Mutex::new((attacker, holding));
    let refused = eventually("a stream not read (not 401)", PATIENCE, || async {
        let (attacker, holding) = &mut *state.lock().await;
        attacker.ready().await.unwrap();
        if holding.is_finished() {
            *holding = hold(attacker);
            attacker.ready().await.unwrap();
        }
        let second = attacker.send_request(unsigned_post(Stalled::whole(part.clone())));
        let resp = tokio::time::timeout(Duration::from_secs(5), second)
            .await
            .expect("answered at once")
            .unwrap();
        // Else 401: it was read and verified (the budget was free).
        (resp.status() != 401).then_some(resp).ok_or("401")
    })
    .await;
    let (_attacker, holding) = state.into_inner();
    assert_eq!(refused.status(), 503);
    assert_eq!(refused.headers()["retry-after"], "5");
    #[allow(
        clippy::disallowed_methods,
        reason = "a test reads a response of its own proxy, whose size it knows"
    )]
    let body = http_body_util::BodyExt::collect(refused.into_body())
        .await
        .unwrap();
    assert_eq!(&body.to_bytes()[..], br#"{"error":"overloaded"}"#);
    // Another connection, within the process budget, is served.
    let signed = post(&p, "/gh", &[("x-hub-signature-256", GH_SIG)], GH_BODY).await;
    assert_eq!(signed.status, 200);
    assert!(!holding.is_finished(), "the first stream is still held");
}

#[tokio::test]
async fn a_reload_applies_a_new_process_budget_at_once() {
    let up = Upstream::start().await;
    let tmp = temp_dir("budget-reload");
    let path = tmp.path().join("hookguard.toml");
    let config = SMALL_BUDGETS.replace("{upstream}", &up.url());
    std::fs::write(&path, &config).unwrap();
    let p = hookguard::runtime::start(hookguard::config::load(&path).unwrap())
        .await
        .unwrap();
    let _held = [
        held_http1(p.addr, 1024).await,
        held_http1(p.addr, 1024).await,
    ];
    let request = format!(
        "POST /gh HTTP/1.1\r\nHost: x\r\nx-hub-signature-256: {GH_SIG}\r\n\
         Content-Length: 13\r\nConnection: close\r\n\r\nHello, World!"
    );
    let send = || async {
        let mut s = TcpStream::connect(p.addr).await.unwrap();
        s.write_all(request.as_bytes()).await.unwrap();
        answer(&mut s).await
    };
    assert_overloaded(&send().await);
    std::fs::write(
        &path,
        config.replace("max_buffered = \"2KiB\"", "max_buffered = \"3KiB\""),
    )
    .unwrap();
    p.reload().expect("reload succeeds");
    let text = send().await;
    assert!(text.starts_with("HTTP/1.1 200"), "{text}");
}

// --- the real binary under a flood of streams ---

/// The running binary: its pid and address; killed when dropped.
struct Binary {
    child: std::process::Child,
    addr: SocketAddr,
}

impl Drop for Binary {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Binary {
    /// Starts `hookguard serve` on `config` and waits for its "listening" line.
    fn start(config: &std::path::Path) -> Self {
        let (child, rx) = spawn_serve(config, &[]);
        let addr = loop {
            let line = rx
                .recv_timeout(Duration::from_secs(10))
                .expect("listening line");
            let v: serde_json::Value = serde_json::from_str(&line).unwrap();
            if v["message"] == "listening" {
                break v["addr"].as_str().unwrap().parse().unwrap();
            }
        };
        Binary { child, addr }
    }

    /// A `/proc/<pid>/status` field in KiB (`VmRSS`, `VmHWM`: the peak).
    fn memory_kib(&self, field: &str) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).unwrap();
        let line = status
            .lines()
            .find(|l| l.starts_with(&format!("{field}:")))
            .unwrap();
        line.split_whitespace().nth(1).unwrap().parse().unwrap()
    }
}

const SW_SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

/// A validly signed Standard Webhooks delivery with a fresh id; its status.
async fn legitimate(addr: SocketAddr, n: usize) -> u16 {
    let id = format!("msg_flood_{n}");
    let body = br#"{"type":"ping"}"#;
    let headers = standard_webhooks_headers(SW_SECRET, &id, now_secs(), body);
    let mut req = http::Request::post(format!("http://{addr}/sw"));
    for (name, value) in &headers {
        req = req.header(name, value);
    }
    let req = req
        .body(http_body_util::Full::new(Bytes::from_static(body)))
        .unwrap();
    let sent = client().request(req);
    let resp = tokio::time::timeout(Duration::from_secs(5), sent)
        .await
        .expect("answered promptly during the flood")
        .unwrap();
    resp.status().as_u16()
}

/// `connections` HTTP/2 connections each opening `streams` streams of an
/// unsigned body just under 1 MiB, half of them declaring its length, that
/// never end; resolves when the proxy has answered every stream.
async fn flood(addr: SocketAddr, connections: usize, streams: usize) {
    let body = Bytes::from(vec![b'x'; (1 << 20) - 1]);
    let mut answers = Vec::new();
    for _ in 0..connections {
        let mut sender = h2_connection(addr).await;
        for i in 0..streams {
            let declared = (i % 2 == 0).then_some(1 << 20);
            sender.ready().await.unwrap();
            let stream = sender.send_request(unsigned_post(Stalled::new(body.clone(), declared)));
            answers.push(tokio::spawn(stream));
        }
    }
    for answer in answers {
        // 503 at once, 408 after request_timeout, or an error if reset.
        let _ = answer.await;
    }
}

#[tokio::test]
async fn a_flood_of_unsigned_bodies_stays_within_the_memory_budget() {
    let up = Upstream::start().await;
    let tmp = temp_dir("flood");
    let config = tmp.path().join("hookguard.toml");
    std::fs::write(
        &config,
        format!(
            r#"
[server]
listen = "127.0.0.1:0"
request_timeout = "5s"
max_body = "1MiB"
max_buffered = "8MiB"
max_buffered_per_connection = "2MiB"

[upstream]
url = "{up}"

[[route]]
path = "/gh"
provider = "github"
secrets = ["It's a Secret to Everybody"]

[[route]]
path = "/sw"
provider = "standard-webhooks"
secrets = ["{SW_SECRET}"]
"#,
            up = up.url()
        ),
    )
    .unwrap();
    let hookguard = Binary::start(&config);
    let addr = hookguard.addr;
    assert_eq!(legitimate(addr, 0).await, 200);
    let before = hookguard.memory_kib("VmRSS");

    // A few connections: their budgets together stay under the process
    // one, so every legitimate delivery meanwhile is forwarded.
    let attack = tokio::spawn(flood(addr, 3, 32));
    let mut sent = 1;
    while !attack.is_finished() {
        assert_eq!(
            legitimate(addr, sent).await,
            200,
            "forwarded during the flood"
        );
        sent += 1;
        // The pause is the scenario: deliveries paced through the flood.
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    tokio::time::timeout(Duration::from_secs(30), attack)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(up.count(), sent);

    // Many connections: the process budget is what holds. A legitimate
    // delivery is answered at once, forwarded or refused for now (503).
    let attack = tokio::spawn(flood(addr, 10, 32));
    while !attack.is_finished() {
        let status = legitimate(addr, sent).await;
        assert!(matches!(status, 200 | 503), "{status}");
        sent += 1;
        // The pause is the scenario: deliveries paced through the flood.
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    tokio::time::timeout(Duration::from_secs(30), attack)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        legitimate(addr, sent).await,
        200,
        "forwarded after the flood"
    );

    let peak = hookguard.memory_kib("VmHWM");
    let grew_mib = peak.saturating_sub(before) / 1024;
    eprintln!("flood: RSS {before} KiB before, peak {peak} KiB (+{grew_mib} MiB)");
    // The 8 MiB budget, plus room for what is not a held body: hyper's and
    // h2's buffers for 13 connections, and the allocator's slack.
    assert!(grew_mib <= 8 + 24, "peak RSS grew by {grew_mib} MiB");
}
