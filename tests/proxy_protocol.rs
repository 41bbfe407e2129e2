//! `[server] proxy_protocol`: the PROXY header a TCP load balancer sends
//! first, believed only from `trusted_proxies`. A real HAProxy in front
//! (`send-proxy-v2` and `send-proxy`), and hand-written headers for what a
//! balancer never sends: garbage, cut-off headers, a missing header, a
//! header from an untrusted peer. The address a header carries must be what
//! `allow_ips` and `X-Forwarded-For` see.

mod common;

use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use bytes::Bytes;
use common::*;
use http_body_util::{BodyExt, Full};
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};

/// The client address the hand-written headers carry (TEST-NET-3).
const CARRIED: &str = "203.0.113.7";

/// A proxy taking PROXY headers `version` from loopback, with `/gh` open
/// to [`CARRIED`] only and `/loopback` to 127.0.0.1 only.
fn config(version: &str, trusted: &str) -> TomlConfig {
    TomlConfig::new()
        .server(&format!("proxy_protocol = {}", quoted(version)))
        .server(&format!("trusted_proxies = [{}]", quoted(trusted)))
        .server(r#"request_timeout = "2s""#)
        .github(
            "/gh",
            GH_SECRET,
            &[&format!("allow_ips = [\"{CARRIED}/32\"]")],
        )
        .github("/loopback", GH_SECRET, &[r#"allow_ips = ["127.0.0.1"]"#])
        .admin("")
}

fn v1_header(source: &str) -> Vec<u8> {
    format!("PROXY TCP4 {source} 127.0.0.1 40000 443\r\n").into_bytes()
}

/// A version 2 header: `command` 1 is PROXY, 0 is LOCAL.
fn v2_header(command: u8, source: [u8; 4]) -> Vec<u8> {
    let mut h = b"\r\n\r\n\0\r\nQUIT\n".to_vec();
    h.extend_from_slice(&[0x20 | command, 0x11, 0, 12]);
    h.extend_from_slice(&source);
    h.extend_from_slice(&[127, 0, 0, 1, 0x9c, 0x40, 1, 187]);
    h
}

const CARRIED_OCTETS: [u8; 4] = [203, 0, 113, 7];

/// A signed GitHub delivery to `path` on `io`, over HTTP/1.1 or HTTP/2:
/// the status. Each has a body of its own, so none is a duplicate.
async fn deliver<S>(io: S, path: &str, http2: bool) -> u16
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    static DELIVERIES: AtomicU64 = AtomicU64::new(0);
    let body = format!(
        "{{\"delivery\":{}}}",
        DELIVERIES.fetch_add(1, Ordering::Relaxed)
    );
    let signature = format!("sha256={}", hmac256_hex(GH_SECRET, &[body.as_bytes()]));
    let request = http::Request::post(format!("http://localhost{path}"))
        .header("host", "localhost")
        .header("x-hub-signature-256", signature)
        .header("x-github-event", "push")
        .body(Full::new(Bytes::from(body)))
        .unwrap();
    let io = TokioIo::new(io);
    let response = if http2 {
        let (mut sender, conn) = hyper::client::conn::http2::handshake(TokioExecutor::new(), io)
            .await
            .expect("h2 handshake");
        tokio::spawn(conn);
        sender.send_request(request).await.expect("h2 answer")
    } else {
        let (mut sender, conn) = hyper::client::conn::http1::handshake(io)
            .await
            .expect("h1 handshake");
        tokio::spawn(conn);
        sender.send_request(request).await.expect("h1 answer")
    };
    let status = response.status().as_u16();
    #[allow(clippy::disallowed_methods, reason = "reads the proxy's answer")]
    let _ = response.into_body().collect().await;
    status
}

/// Connects to `addr` and writes `first`.
async fn connect_with(addr: SocketAddr, first: &[u8]) -> TcpStream {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    stream.write_all(first).await.unwrap();
    stream
}

/// Whether the proxy closes `stream` without answering a byte.
async fn closed_unanswered(mut stream: TcpStream) -> bool {
    let mut seen = Vec::new();
    match tokio::time::timeout(PATIENCE, stream.read_to_end(&mut seen)).await {
        Ok(Ok(_)) => seen.is_empty(),
        Ok(Err(_)) => true, // reset
        Err(_) => false,
    }
}

/// The `X-Forwarded-For` of the request the upstream received last.
fn forwarded_for(upstream: &Upstream) -> String {
    let last = upstream.received().pop().expect("a forwarded request");
    last.headers["x-forwarded-for"].to_str().unwrap().to_owned()
}

async fn refused_count(p: &hookguard::runtime::Running, reason: &str) -> u64 {
    let (_, metrics) = admin_request(p.admin_addr.unwrap(), "GET", "/metrics", None).await;
    let series = format!("hookguard_proxy_protocol_refused_total{{reason=\"{reason}\"}} ");
    metrics
        .lines()
        .find_map(|l| l.strip_prefix(&series))
        .map_or(0, |n| n.parse().unwrap())
}

#[tokio::test]
async fn the_address_a_trusted_header_carries_is_the_client_ip() {
    let upstream = Upstream::start().await;
    let p = proxy(&config("any", "127.0.0.1").build(), &upstream).await;

    let v1 = connect_with(p.addr, &v1_header(CARRIED)).await;
    assert_eq!(deliver(v1, "/gh", false).await, 200);
    assert_eq!(forwarded_for(&upstream), CARRIED);

    let v2 = connect_with(p.addr, &v2_header(1, CARRIED_OCTETS)).await;
    assert_eq!(deliver(v2, "/gh", true).await, 200, "v2, then HTTP/2");
    assert_eq!(forwarded_for(&upstream), CARRIED);

    // The balancer's own address no longer counts.
    let v2 = connect_with(p.addr, &v2_header(1, CARRIED_OCTETS)).await;
    assert_eq!(deliver(v2, "/loopback", false).await, 403);

    // LOCAL (the balancer's health check): the peer's address stands.
    let local = connect_with(p.addr, &v2_header(0, CARRIED_OCTETS)).await;
    assert_eq!(deliver(local, "/loopback", false).await, 200);
}

#[tokio::test]
async fn a_header_from_an_untrusted_peer_is_never_believed() {
    let upstream = Upstream::start().await;
    let p = proxy(&config("any", "10.9.9.9").build(), &upstream).await;
    for header in [v1_header(CARRIED), v2_header(1, CARRIED_OCTETS)] {
        let mut stream = connect_with(p.addr, &header).await;
        let _ = stream
            .write_all(b"POST /gh HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n")
            .await;
        assert!(closed_unanswered(stream).await);
    }
    assert_eq!(upstream.count(), 0);
    assert_eq!(refused_count(&p, "untrusted_peer").await, 2);
}

#[tokio::test]
async fn missing_malformed_or_cut_off_headers_close_the_connection() {
    let upstream = Upstream::start().await;
    let p = proxy(&config("any", "127.0.0.1").build(), &upstream).await;
    let request = b"POST /gh HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n";
    let mut v2_too_long = v2_header(1, CARRIED_OCTETS);
    v2_too_long[14..16].copy_from_slice(&5000u16.to_be_bytes());
    let cases: [(&str, Vec<u8>); 5] = [
        ("no header", request.to_vec()),
        ("garbage", b"PROXY TCP4 nonsense here\r\n".to_vec()),
        ("bad address", v1_header("300.1.2.3")),
        (
            "v1 without its line end",
            [b"PROXY TCP4 ".as_slice(); 12].concat(),
        ),
        ("v2 longer than the cap", v2_too_long),
    ];
    for (what, first) in cases {
        let stream = connect_with(p.addr, &first).await;
        assert!(closed_unanswered(stream).await, "{what}");
    }
    // Cut off: the peer stops sending mid-header.
    let mut cut = connect_with(p.addr, &v2_header(1, CARRIED_OCTETS)[..20]).await;
    cut.shutdown().await.unwrap();
    assert!(closed_unanswered(cut).await, "cut off");
    // Stalled mid-header: closed at request_timeout.
    let stalled = connect_with(p.addr, &v1_header(CARRIED)[..20]).await;
    assert!(closed_unanswered(stalled).await, "stalled");
    assert_eq!(upstream.count(), 0);
    assert_eq!(refused_count(&p, "malformed").await, 5);
    assert_eq!(refused_count(&p, "timeout").await, 1);
}

#[tokio::test]
async fn a_version_other_than_the_configured_one_is_refused() {
    let upstream = Upstream::start().await;
    let p = proxy(&config("v1", "127.0.0.1").build(), &upstream).await;
    let v2 = connect_with(p.addr, &v2_header(1, CARRIED_OCTETS)).await;
    assert!(closed_unanswered(v2).await);
    let v1 = connect_with(p.addr, &v1_header(CARRIED)).await;
    assert_eq!(deliver(v1, "/gh", false).await, 200);

    let p = proxy(&config("v2", "127.0.0.1").build(), &upstream).await;
    let v1 = connect_with(p.addr, &v1_header(CARRIED)).await;
    assert!(closed_unanswered(v1).await);
}

#[tokio::test]
async fn tls_follows_the_header() {
    let tmp = temp_dir("proxy-protocol-tls");
    let certified = rcgen::generate_simple_self_signed(vec!["localhost".into()]).unwrap();
    std::fs::write(tmp.path().join("tls.crt"), certified.cert.pem()).unwrap();
    let key = certified.key_pair.serialize_pem();
    std::fs::write(tmp.path().join("tls.key"), key).unwrap();
    let tls = format!(
        "tls = {{ cert = \"{dir}/tls.crt\", key = \"{dir}/tls.key\" }}",
        dir = tmp.path().display()
    );
    let upstream = Upstream::start().await;
    let p = proxy(&config("v2", "127.0.0.1").server(&tls).build(), &upstream).await;

    for (alpn, http2) in [(&b"http/1.1"[..], false), (b"h2", true)] {
        let mut client = client_tls_config(certified.cert.der());
        client.alpn_protocols = vec![alpn.to_vec()];
        let connector = tokio_rustls::TlsConnector::from(Arc::new(client));
        let tcp = connect_with(p.addr, &v2_header(1, CARRIED_OCTETS)).await;
        let name = rustls_pki_types::ServerName::try_from("localhost").unwrap();
        let tls = connector.connect(name, tcp).await.expect("handshake");
        assert_eq!(deliver(tls, "/gh", http2).await, 200);
        assert_eq!(forwarded_for(&upstream), CARRIED);
    }
    // A ClientHello where the header should be.
    let mut client = client_tls_config(certified.cert.der());
    client.alpn_protocols = vec![b"http/1.1".to_vec()];
    let connector = tokio_rustls::TlsConnector::from(Arc::new(client));
    let tcp = TcpStream::connect(p.addr).await.unwrap();
    let name = rustls_pki_types::ServerName::try_from("localhost").unwrap();
    assert!(connector.connect(name, tcp).await.is_err());
}

// --- a real HAProxy in front ---

/// HAProxy (the Debian package installs it in /usr/sbin), killed on drop.
struct Haproxy {
    child: Child,
    /// Frontends sending `send-proxy-v2`, then `send-proxy`.
    v2: SocketAddr,
    v1: SocketAddr,
}

impl Drop for Haproxy {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A free loopback port: bound, read, released for HAProxy to bind.
fn free_port() -> SocketAddr {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap()
}

fn haproxy_binary() -> &'static str {
    ["/usr/sbin/haproxy", "/usr/local/sbin/haproxy"]
        .into_iter()
        .find(|p| Path::new(p).exists())
        .expect("haproxy is installed (scripts/test.sh installs the Debian package)")
}

/// Starts HAProxy in TCP mode in front of `backend` and waits until both
/// frontends accept connections.
async fn haproxy(dir: &Path, backend: SocketAddr) -> Haproxy {
    let (v2, v1) = (free_port(), free_port());
    let config = format!(
        "global\n  maxconn 100\n\
         defaults\n  mode tcp\n  timeout connect 5s\n  timeout client 30s\n  timeout server 30s\n\
         frontend fe_v2\n  bind {v2}\n  default_backend be_v2\n\
         backend be_v2\n  server hookguard {backend} send-proxy-v2\n\
         frontend fe_v1\n  bind {v1}\n  default_backend be_v1\n\
         backend be_v1\n  server hookguard {backend} send-proxy\n"
    );
    let path = dir.join("haproxy.cfg");
    std::fs::write(&path, config).unwrap();
    let child = Command::new(haproxy_binary())
        .arg("-db")
        .arg("-f")
        .arg(&path)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("haproxy starts");
    let haproxy = Haproxy { child, v2, v1 };
    for frontend in [v2, v1] {
        eventually("haproxy listening", PATIENCE, || async move {
            TcpStream::connect(frontend).await.is_ok()
        })
        .await;
    }
    haproxy
}

/// A connection to `addr` from the loopback address `source`, so that the
/// client address HAProxy passes on differs from HAProxy's own.
async fn connect_from(source: &str, addr: SocketAddr) -> TcpStream {
    let socket = TcpSocket::new_v4().unwrap();
    socket.bind(format!("{source}:0").parse().unwrap()).unwrap();
    socket.connect(addr).await.unwrap()
}

#[tokio::test]
async fn behind_haproxy_allow_ips_sees_the_client_not_the_balancer() {
    let tmp = temp_dir("haproxy");
    let upstream = Upstream::start().await;
    let toml = TomlConfig::new()
        .server(r#"proxy_protocol = "any""#)
        .server(r#"trusted_proxies = ["127.0.0.1"]"#)
        .github("/client", GH_SECRET, &[r#"allow_ips = ["127.0.0.2"]"#])
        .github("/balancer", GH_SECRET, &[r#"allow_ips = ["127.0.0.1"]"#])
        .build();
    let p = proxy(&toml, &upstream).await;
    let balancer = haproxy(tmp.path(), p.addr).await;

    for frontend in [balancer.v2, balancer.v1] {
        let stream = connect_from("127.0.0.2", frontend).await;
        assert_eq!(deliver(stream, "/client", false).await, 200, "{frontend}");
        assert_eq!(forwarded_for(&upstream), "127.0.0.2");
        let stream = connect_from("127.0.0.2", frontend).await;
        assert_eq!(deliver(stream, "/balancer", true).await, 403, "{frontend}");
    }
    // Straight to hookguard, around the balancer, with no header: closed.
    let direct = connect_with(p.addr, b"POST /client HTTP/1.1\r\nHost: x\r\n\r\n").await;
    assert!(closed_unanswered(direct).await);
}

#[tokio::test]
async fn a_reload_turns_it_on_for_connections_accepted_after_it() {
    let dir = temp_dir("proxy-protocol-reload");
    let upstream = Upstream::start().await;
    let off = TomlConfig::new()
        .server(r#"trusted_proxies = ["127.0.0.1"]"#)
        .github("/gh", GH_SECRET, &[]);
    let on = off.clone().server(r#"proxy_protocol = "v2""#);
    let config = dir.path().join("hookguard.toml");
    let write = |toml: &TomlConfig| {
        let text = toml.build().replace("{upstream}", &upstream.url());
        std::fs::write(dir.path().join("next.toml"), text).unwrap();
        std::fs::rename(dir.path().join("next.toml"), &config).unwrap();
    };
    write(&off);
    let p = hookguard::runtime::start(hookguard::config::load(&config).unwrap())
        .await
        .unwrap();
    let plain = TcpStream::connect(p.addr).await.unwrap();
    assert_eq!(deliver(plain, "/gh", false).await, 200);

    write(&on);
    p.reload().expect("reload");
    let plain = connect_with(p.addr, b"POST /gh HTTP/1.1\r\nHost: x\r\n\r\n").await;
    assert!(closed_unanswered(plain).await);
    let proxied = connect_with(p.addr, &v2_header(1, CARRIED_OCTETS)).await;
    assert_eq!(deliver(proxied, "/gh", false).await, 200);
    assert_eq!(forwarded_for(&upstream), CARRIED);
}
