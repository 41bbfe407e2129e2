//! Hostile clients, each against the real proxy on loopback: oversized and
//! ambiguous request heads over raw HTTP/1.1 sockets and HTTP/2; and
//! connections that hold their slot without a request in progress (HTTP/2
//! with no stream, idle keep-alive, a silent TLS handshake, a dead peer),
//! written frame by frame where no client library would behave so.

mod common;

use std::net::SocketAddr;
use std::time::Duration;

use bytes::Bytes;
use common::*;
use http_body_util::Full;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const CONFIG: &str = r#"
[server]
listen = "127.0.0.1:0"
request_timeout = "5s"

[upstream]
url = "{upstream}"

[[route]]
path = "/gh"
provider = "github"
secrets = ["It's a Secret to Everybody"]
"#;

/// The largest header block the documentation promises, bytes.
const HEADER_LIMIT: usize = 64 * 1024;

/// Sends `request` on a fresh connection and returns everything answered
/// until the proxy closes (at most 5 s), as text.
async fn exchange(addr: SocketAddr, request: &[u8]) -> String {
    let mut s = TcpStream::connect(addr).await.unwrap();
    // The proxy may answer and close before reading it all (431).
    let _ = s.write_all(request).await;
    let mut out = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(5), s.read_to_end(&mut out)).await;
    String::from_utf8_lossy(&out).into_owned()
}

/// GitHub's signed example as an HTTP/1.1 request whose head (request line,
/// headers and the blank line) is exactly `size` bytes, padded by one header.
fn signed_request_with_head_of(size: usize) -> Vec<u8> {
    let start = format!(
        "POST /gh HTTP/1.1\r\nHost: x\r\nx-hub-signature-256: {GH_SIG}\r\n\
         Content-Length: 13\r\nConnection: close\r\nx-pad: "
    );
    let pad = size - start.len() - "\r\n\r\n".len();
    let mut request = start.into_bytes();
    request.resize(request.len() + pad, b'a');
    request.extend_from_slice(b"\r\n\r\n");
    assert_eq!(request.len(), size);
    request.extend_from_slice(GH_BODY);
    request
}

#[tokio::test]
async fn http1_head_of_64_kib_passes_and_one_byte_more_gets_431() {
    let up = Upstream::start().await;
    let p = proxy(CONFIG, &up).await;
    let at_limit = exchange(p.addr, &signed_request_with_head_of(HEADER_LIMIT)).await;
    assert!(at_limit.starts_with("HTTP/1.1 200"), "{at_limit:.80}");
    // Sizes past the limit, up to what once slipped through (about 112 KiB).
    for size in [HEADER_LIMIT + 1, HEADER_LIMIT + 4096, 112 * 1024] {
        let over = exchange(p.addr, &signed_request_with_head_of(size)).await;
        assert!(over.starts_with("HTTP/1.1 431"), "{size}: {over:.80}");
    }
    assert_eq!(up.count(), 1, "only the request within the limit");
}

/// GitHub's signed example over HTTP/2 (prior knowledge) with one extra
/// header of `pad` bytes; the status, or the client's error.
async fn h2_signed_with_padding(addr: SocketAddr, pad: usize) -> Result<u16, String> {
    let h2c: hyper_util::client::legacy::Client<_, Full<Bytes>> =
        hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
            .http2_only(true)
            .build_http();
    let req = http::Request::post(format!("http://{addr}/gh"))
        .header("x-hub-signature-256", GH_SIG)
        .header("x-pad", "a".repeat(pad))
        .body(Full::new(Bytes::from_static(GH_BODY)))
        .unwrap();
    match h2c.request(req).await {
        Ok(resp) => Ok(resp.status().as_u16()),
        Err(e) => Err(format!("{e:?}")),
    }
}

#[tokio::test]
async fn http2_header_list_under_64_kib_passes_and_over_gets_431() {
    let up = Upstream::start().await;
    let p = proxy(CONFIG, &up).await;
    // The other fields (pseudo-headers, signature, length) and RFC 9113's
    // 32 bytes per field come to well under 1 KiB.
    assert_eq!(
        h2_signed_with_padding(p.addr, HEADER_LIMIT - 1024).await,
        Ok(200)
    );
    assert_eq!(h2_signed_with_padding(p.addr, HEADER_LIMIT).await, Ok(431));
    assert_eq!(up.count(), 1, "only the request within the limit");
}

/// GitHub's signed example over HTTP/1.1 with `target` and `hosts` as the
/// request line's target and the Host header lines.
fn signed_request_to(target: &str, hosts: &[&str]) -> Vec<u8> {
    let mut head = format!("POST {target} HTTP/1.1\r\n");
    for host in hosts {
        head.push_str(&format!("Host: {host}\r\n"));
    }
    head.push_str(&format!(
        "x-hub-signature-256: {GH_SIG}\r\nContent-Length: 13\r\nConnection: close\r\n\r\n"
    ));
    let mut request = head.into_bytes();
    request.extend_from_slice(GH_BODY);
    request
}

#[tokio::test]
async fn http1_host_must_be_present_once_and_agree_with_an_absolute_target() {
    let up = Upstream::start().await;
    let p = proxy(CONFIG, &up).await;
    let refused = [
        ("http://x/gh", &[][..]),
        ("/gh", &["x", "x"][..]),
        ("/gh", &["x", "y"][..]),
        ("http://x/gh", &["y"][..]),
    ];
    for (target, hosts) in refused {
        let answer = exchange(p.addr, &signed_request_to(target, hosts)).await;
        assert!(
            answer.starts_with("HTTP/1.1 400") && answer.ends_with(r#"{"error":"bad_request"}"#),
            "{target} {hosts:?}: {answer}"
        );
    }
    assert_eq!(up.count(), 0);
    let agreeing = exchange(p.addr, &signed_request_to("http://X/gh", &["x"])).await;
    assert!(agreeing.starts_with("HTTP/1.1 200"), "{agreeing}");
    assert_eq!(up.received()[0].headers["x-forwarded-host"], "x");
}

/// GitHub's signed example over HTTP/2 with a `Host` header besides the
/// :authority the client derives from the URL; the answer's status.
async fn h2_signed_with_host(addr: SocketAddr, host: &str) -> u16 {
    let h2c: hyper_util::client::legacy::Client<_, Full<Bytes>> =
        hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
            .http2_only(true)
            .build_http();
    let req = http::Request::post(format!("http://{addr}/gh"))
        .header("host", host)
        .header("x-hub-signature-256", GH_SIG)
        .body(Full::new(Bytes::from_static(GH_BODY)))
        .unwrap();
    h2c.request(req).await.expect("answered").status().as_u16()
}

#[tokio::test]
async fn http2_host_differing_from_authority_is_400() {
    let up = Upstream::start().await;
    let p = proxy(CONFIG, &up).await;
    assert_eq!(h2_signed_with_host(p.addr, "evil.example").await, 400);
    assert_eq!(up.count(), 0);
    assert_eq!(h2_signed_with_host(p.addr, &p.addr.to_string()).await, 200);
    assert_eq!(up.count(), 1);
}

// --- connections that hold a slot without a request in progress ---

/// HTTP/2 frames written and read by hand (RFC 9113 §4, HPACK literals of
/// RFC 7541 §6.2.2 with no Huffman coding and no indexing).
mod h2 {
    use tokio::io::{AsyncRead, AsyncReadExt};

    pub const PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
    pub const DATA: u8 = 0;
    pub const HEADERS: u8 = 1;
    pub const SETTINGS: u8 = 4;
    pub const PING: u8 = 6;
    pub const GOAWAY: u8 = 7;
    pub const END_STREAM: u8 = 0x1;
    pub const ACK: u8 = 0x1;
    pub const END_HEADERS: u8 = 0x4;

    pub fn frame(kind: u8, flags: u8, stream: u32, payload: &[u8]) -> Vec<u8> {
        let len = u32::try_from(payload.len()).unwrap().to_be_bytes();
        let mut out = vec![len[1], len[2], len[3], kind, flags];
        out.extend_from_slice(&stream.to_be_bytes());
        out.extend_from_slice(payload);
        out
    }

    pub fn settings() -> Vec<u8> {
        frame(SETTINGS, 0, 0, &[])
    }

    pub fn ping() -> Vec<u8> {
        frame(PING, 0, 0, b"hostile!")
    }

    /// A request's HEADERS on stream 1, every field a literal.
    pub fn request(method: &str, path: &str, fields: &[(&str, &str)], end_stream: bool) -> Vec<u8> {
        let pseudo = [(":method", method), (":scheme", "http"), (":path", path)];
        let mut block = Vec::new();
        for (name, value) in pseudo.iter().chain(fields) {
            block.push(0); // literal without indexing, new name
            string(&mut block, name);
            string(&mut block, value);
        }
        let flags = END_HEADERS | if end_stream { END_STREAM } else { 0 };
        frame(HEADERS, flags, 1, &block)
    }

    fn string(out: &mut Vec<u8>, text: &str) {
        // A 7-bit prefixed length (RFC 7541 §5.1), Huffman bit clear.
        let mut len = text.len();
        if len < 127 {
            out.push(len as u8);
        } else {
            out.push(127);
            len -= 127;
            while len >= 128 {
                out.push((len % 128) as u8 | 0x80);
                len /= 128;
            }
            out.push(len as u8);
        }
        out.extend_from_slice(text.as_bytes());
    }

    /// One frame: (type, flags, stream, payload); `None` once the peer has
    /// closed (or reset) the connection.
    pub async fn read(s: &mut (impl AsyncRead + Unpin)) -> Option<(u8, u8, u32, Vec<u8>)> {
        let mut head = [0u8; 9];
        s.read_exact(&mut head).await.ok()?;
        let len = u32::from_be_bytes([0, head[0], head[1], head[2]]) as usize;
        let stream = u32::from_be_bytes([head[5], head[6], head[7], head[8]]) & 0x7fff_ffff;
        let mut payload = vec![0; len];
        s.read_exact(&mut payload).await.ok()?;
        Some((head[3], head[4], stream, payload))
    }
}

/// A proxy for the connection tests: `request_timeout` and `extra` set in
/// `[server]` (the upstream answers after `delay`).
async fn proxy_with(
    request_timeout: &str,
    extra: &str,
    delay: Duration,
) -> (hookguard::runtime::Running, Upstream) {
    let up = Upstream::start().await;
    up.set(Behavior {
        delay,
        ..Behavior::default()
    });
    let config = CONFIG
        .replace(
            "request_timeout = \"5s\"",
            &format!("request_timeout = \"{request_timeout}\"\n{extra}"),
        )
        .replace("[upstream]\n", "[upstream]\ntimeout = \"60s\"\n");
    (proxy(&config, &up).await, up)
}

/// Reads and discards what the proxy sends (answering PINGs when `pong`)
/// until it closes the connection; the frames seen, or `None` if it was
/// still open after `within`.
async fn h2_frames_until_closed(
    s: &mut TcpStream,
    pong: bool,
    within: Duration,
) -> Option<Vec<(u8, u8, u32)>> {
    let reading = async {
        let mut seen = Vec::new();
        while let Some((kind, flags, stream, payload)) = h2::read(s).await {
            seen.push((kind, flags, stream));
            if pong && kind == h2::PING && flags & h2::ACK == 0 {
                let _ = s
                    .write_all(&h2::frame(h2::PING, h2::ACK, 0, &payload))
                    .await;
            }
        }
        seen
    };
    tokio::time::timeout(within, reading).await.ok()
}

#[tokio::test]
async fn idle_http2_connections_no_longer_hold_every_connection_slot() {
    let (p, up) = proxy_with("1s", "max_connections = 4", Duration::ZERO).await;
    // Every slot taken by an h2c connection that opens no stream: two send
    // only the preface, two the preface and SETTINGS.
    let mut idle = Vec::new();
    for i in 0..4 {
        let mut s = TcpStream::connect(p.addr).await.unwrap();
        s.write_all(h2::PREFACE).await.unwrap();
        if i % 2 == 1 {
            s.write_all(&h2::settings()).await.unwrap();
        }
        idle.push(s);
    }
    let signed = post(&p, "/gh", &[("x-hub-signature-256", GH_SIG)], GH_BODY);
    let answer = tokio::time::timeout(Duration::from_secs(20), signed)
        .await
        .expect("answered once the idle connections are closed");
    assert_eq!(answer.status, 200);
    assert_eq!(up.count(), 1);
}

#[tokio::test]
async fn http2_connection_sending_only_settings_and_pings_is_closed() {
    let (p, _up) = proxy_with("1s", "", Duration::ZERO).await;
    let mut s = TcpStream::connect(p.addr).await.unwrap();
    s.write_all(h2::PREFACE).await.unwrap();
    s.write_all(&h2::settings()).await.unwrap();
    let pinging = async {
        // PINGs every 200 ms until a write fails: the proxy closed. (The
        // pause is the scenario: a peer that keeps the connection busy.)
        while s.write_all(&h2::ping()).await.is_ok() {
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    };
    tokio::time::timeout(Duration::from_secs(15), pinging)
        .await
        .expect("closed although it kept pinging");
}

#[tokio::test]
async fn idle_http2_connection_is_sent_goaway_after_idle_timeout() {
    let (p, _up) = proxy_with("10s", "idle_timeout = \"1s\"", Duration::ZERO).await;
    for pong in [true, false] {
        let mut s = TcpStream::connect(p.addr).await.unwrap();
        s.write_all(h2::PREFACE).await.unwrap();
        s.write_all(&h2::settings()).await.unwrap();
        s.write_all(&h2::request("GET", "/none", &[(":authority", "x")], true))
            .await
            .unwrap();
        let seen = h2_frames_until_closed(&mut s, pong, Duration::from_secs(20))
            .await
            .unwrap_or_else(|| panic!("idle connection still open (answering PINGs: {pong})"));
        let response = seen
            .iter()
            .position(|&(kind, _, stream)| kind == h2::HEADERS && stream == 1);
        let goaway = seen.iter().position(|&(kind, ..)| kind == h2::GOAWAY);
        assert!(
            matches!((response, goaway), (Some(r), Some(g)) if r < g),
            "the response, then GOAWAY: {seen:?}"
        );
    }
}

#[tokio::test]
async fn dead_http2_peer_is_found_by_pings_while_its_request_is_upstream() {
    let (p, up) = proxy_with("1s", "", Duration::from_secs(30)).await;
    let mut s = TcpStream::connect(p.addr).await.unwrap();
    s.write_all(h2::PREFACE).await.unwrap();
    s.write_all(&h2::settings()).await.unwrap();
    let fields = [
        (":authority", "x"),
        ("x-hub-signature-256", GH_SIG),
        ("content-length", "13"),
    ];
    s.write_all(&h2::request("POST", "/gh", &fields, false))
        .await
        .unwrap();
    s.write_all(&h2::frame(h2::DATA, h2::END_STREAM, 1, GH_BODY))
        .await
        .unwrap();
    // Never answers a PING; the upstream holds the answer for 30 s.
    let seen = h2_frames_until_closed(&mut s, false, Duration::from_secs(15))
        .await
        .expect("closed as dead while its request waited upstream");
    assert!(seen.iter().any(|&(kind, ..)| kind == h2::PING), "{seen:?}");
    assert!(
        !seen
            .iter()
            .any(|&(kind, _, stream)| kind == h2::HEADERS && stream == 1),
        "closed before the upstream answered: {seen:?}"
    );
    assert_eq!(up.count(), 1, "the request itself went upstream");
}

/// Whether the proxy closes `s` within `within` (reading what it sends).
async fn closed_within(s: &mut TcpStream, within: Duration) -> bool {
    let mut sink = Vec::new();
    tokio::time::timeout(within, s.read_to_end(&mut sink))
        .await
        .is_ok()
}

#[tokio::test]
async fn idle_http1_keep_alive_connections_are_closed() {
    // hyper's header read timer runs from the end of each response, so
    // request_timeout bounds an idle keep-alive connection; idle_timeout
    // does too, when it is the shorter.
    for (request_timeout, extra) in [("1s", ""), ("60s", "idle_timeout = \"1s\"")] {
        let (p, _up) = proxy_with(request_timeout, extra, Duration::ZERO).await;
        let mut s = TcpStream::connect(p.addr).await.unwrap();
        let request = format!(
            "POST /gh HTTP/1.1\r\nHost: x\r\nx-hub-signature-256: {GH_SIG}\r\nContent-Length: 13\r\n\r\n"
        );
        s.write_all(request.as_bytes()).await.unwrap();
        s.write_all(GH_BODY).await.unwrap();
        let mut head = [0u8; 12];
        s.read_exact(&mut head).await.unwrap();
        assert_eq!(&head, b"HTTP/1.1 200");
        assert!(
            closed_within(&mut s, Duration::from_secs(15)).await,
            "request_timeout {request_timeout}, {extra:?}: still open"
        );
    }
}

#[tokio::test]
async fn silent_tls_handshakes_and_silent_http2_over_tls_are_closed() {
    let tmp = temp_dir("hostile-tls");
    let certified = rcgen::generate_simple_self_signed(vec!["localhost".into()]).unwrap();
    std::fs::write(tmp.path().join("tls.crt"), certified.cert.pem()).unwrap();
    std::fs::write(
        tmp.path().join("tls.key"),
        certified.key_pair.serialize_pem(),
    )
    .unwrap();
    let tls = format!(
        "tls = {{ cert = \"{dir}/tls.crt\", key = \"{dir}/tls.key\" }}",
        dir = tmp.path().display()
    );
    let (p, _up) = proxy_with("1s", &tls, Duration::ZERO).await;

    // The handshake deadline is request_timeout here (10 s at most).
    let mut silent = TcpStream::connect(p.addr).await.unwrap();
    assert!(
        closed_within(&mut silent, Duration::from_secs(8)).await,
        "a client that never starts its TLS handshake is closed"
    );

    let mut config = client_tls_config(certified.cert.der());
    config.alpn_protocols = vec![b"h2".to_vec()];
    let connector = tokio_rustls::TlsConnector::from(std::sync::Arc::new(config));
    let tcp = TcpStream::connect(p.addr).await.unwrap();
    let name = rustls_pki_types::ServerName::try_from("localhost").unwrap();
    let mut s = connector.connect(name, tcp).await.expect("handshake");
    assert_eq!(s.get_ref().1.alpn_protocol(), Some(&b"h2"[..]));
    s.write_all(h2::PREFACE).await.unwrap();
    s.write_all(&h2::settings()).await.unwrap();
    let drained = async { while h2::read(&mut s).await.is_some() {} };
    tokio::time::timeout(Duration::from_secs(10), drained)
        .await
        .expect("an HTTP/2 connection over TLS that opens no stream is closed");
}

#[tokio::test]
async fn shutdown_closes_idle_keep_alive_connections_at_once() {
    let (p, _up) = proxy_with("30s", "shutdown_grace = \"30s\"", Duration::ZERO).await;
    let mut http1 = TcpStream::connect(p.addr).await.unwrap();
    http1
        .write_all(b"GET /none HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let mut head = [0u8; 12];
    http1.read_exact(&mut head).await.unwrap();
    assert_eq!(&head, b"HTTP/1.1 404");
    let mut http2 = TcpStream::connect(p.addr).await.unwrap();
    http2.write_all(h2::PREFACE).await.unwrap();
    http2.write_all(&h2::settings()).await.unwrap();
    http2
        .write_all(&h2::request("GET", "/none", &[(":authority", "x")], true))
        .await
        .unwrap();
    loop {
        let (kind, _, stream, _) = h2::read(&mut http2).await.expect("answered");
        if (kind, stream) == (h2::HEADERS, 1) {
            break;
        }
    }
    // A well-behaved HTTP/2 client: it answers the PING that follows GOAWAY.
    let http2 = tokio::spawn(async move {
        h2_frames_until_closed(&mut http2, true, Duration::from_secs(20)).await
    });
    let drained = tokio::time::timeout(Duration::from_secs(10), p.shutdown())
        .await
        .expect("both idle connections closed long before shutdown_grace");
    assert!(drained);
    let seen = http2.await.unwrap().expect("closed");
    assert!(
        seen.iter().any(|&(kind, ..)| kind == h2::GOAWAY),
        "{seen:?}"
    );
    assert!(closed_within(&mut http1, Duration::from_secs(1)).await);
}
