//! Hostile clients, each against the real proxy on loopback: oversized and
//! ambiguous request heads over raw HTTP/1.1 sockets and HTTP/2.

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
