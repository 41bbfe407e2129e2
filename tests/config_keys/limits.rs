//! Probes for the `[server]` limits on connections and on the request
//! bodies held in memory: an idle connection, a body held while another
//! arrives, HTTP/2 streams on one connection, and the stream limit the
//! proxy advertises.

use std::time::Duration;

use bytes::Bytes;
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::common::*;
use crate::probes::summary;
use crate::Ctx;

/// Longest a probe waits to see that something does not happen.
const SHORT: Duration = Duration::from_millis(1500);
/// The window for a refusal that needs two streams to race into the
/// right order (see `second_stream_while_a_body_is_held`): each try may
/// lose the race, so a loaded machine needs more tries than `SHORT` gives.
const RACING: Duration = Duration::from_secs(6);
/// Longest a probe waits for something that must happen.
const PATIENCE: Duration = Duration::from_secs(20);

fn gh_sig(body: &[u8]) -> String {
    format!("sha256={}", hmac256_hex(GH_SECRET, &[body]))
}

/// Whether an HTTP/1.1 keep-alive connection is closed soon after its one
/// request was answered.
pub async fn idle_keep_alive(c: Ctx) -> String {
    let mut s = TcpStream::connect(c.proxy.addr).await.unwrap();
    s.write_all(b"GET /nothing HTTP/1.1\r\nhost: x\r\n\r\n")
        .await
        .unwrap();
    let mut answer = vec![0; 512];
    let n = tokio::time::timeout(PATIENCE, s.read(&mut answer))
        .await
        .unwrap()
        .unwrap();
    assert!(answer[..n].starts_with(b"HTTP/1.1 404"));
    let mut rest = Vec::new();
    match tokio::time::timeout(SHORT, s.read_to_end(&mut rest)).await {
        Ok(_) => "closed when idle".into(),
        Err(_) => "kept open".into(),
    }
}

/// A delivery sent while another request holds a 1 KiB body in memory (it
/// declared 1 KiB and waits, its `100 Continue` received, without sending
/// it).
pub async fn delivery_while_a_body_is_held(c: Ctx) -> String {
    let mut held = TcpStream::connect(c.proxy.addr).await.unwrap();
    let head = format!(
        "POST /hook HTTP/1.1\r\nhost: x\r\ncontent-length: 1024\r\nexpect: 100-continue\r\n\
         x-hub-signature-256: {}\r\n\r\n",
        gh_sig(b"held")
    );
    held.write_all(head.as_bytes()).await.unwrap();
    let mut continued = vec![0; 64];
    let n = tokio::time::timeout(PATIENCE, held.read(&mut continued))
        .await
        .unwrap()
        .unwrap();
    assert!(
        continued[..n].starts_with(b"HTTP/1.1 100"),
        "asked for the body"
    );
    let body = b"{\"event\":1}";
    let sig = gh_sig(body);
    summary(&post(&c.proxy, "/hook", &[("x-hub-signature-256", &sig)], body).await)
}

/// On one HTTP/2 connection, a stream that declares 1 KiB and sends a
/// part of it, then small deliveries on the same connection until one is
/// refused: `503 overloaded`, or `never refused` within a short while.
pub async fn second_stream_while_a_body_is_held(c: Ctx) -> String {
    let tcp = TcpStream::connect(c.proxy.addr).await.unwrap();
    let (mut sender, conn) =
        hyper::client::conn::http2::handshake(TokioExecutor::new(), TokioIo::new(tcp))
            .await
            .unwrap();
    tokio::spawn(conn);
    let post = |part: &'static [u8], declared: u64, whole: bool| {
        http::Request::post("http://x/hook")
            .header("x-hub-signature-256", gh_sig(part))
            .body(if whole {
                Stalled::whole(Bytes::from_static(part))
            } else {
                Stalled::new(Bytes::from_static(part), Some(declared))
            })
            .unwrap()
    };
    // Streams run at once: the held one may come second and be the one
    // refused, so it is sent again until it holds while another arrives.
    let held = tokio::spawn(sender.send_request(post(b"held", 1024, false)));
    // One probe at a time owns the connection and the held stream.
    let state = tokio::sync::Mutex::new((sender, held));
    let refused = poll_within(RACING, || async {
        let (sender, held) = &mut *state.lock().await;
        sender.ready().await.unwrap();
        if held.is_finished() {
            *held = tokio::spawn(sender.send_request(post(b"held", 1024, false)));
            sender.ready().await.unwrap();
        }
        let answer = sender.send_request(post(b"{}", 2, true)).await.unwrap();
        answer.status() == 503
    });
    match refused.await {
        Ok(()) => "503 overloaded".into(),
        Err(_) => "never refused".into(),
    }
}

/// The `SETTINGS_MAX_CONCURRENT_STREAMS` the proxy sends an HTTP/2 client
/// (RFC 9113 §6.5.2), read from its first SETTINGS frame.
pub async fn advertised_streams(c: Ctx) -> String {
    const PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
    let mut s = TcpStream::connect(c.proxy.addr).await.unwrap();
    s.write_all(PREFACE).await.unwrap();
    s.write_all(&[0, 0, 0, 4, 0, 0, 0, 0, 0]).await.unwrap(); // empty SETTINGS
    let reading = async {
        loop {
            let mut head = [0u8; 9];
            s.read_exact(&mut head).await.unwrap();
            let len = u32::from_be_bytes([0, head[0], head[1], head[2]]) as usize;
            let mut payload = vec![0; len];
            s.read_exact(&mut payload).await.unwrap();
            let (kind, ack) = (head[3], head[4] & 1 == 1);
            if kind != 4 || ack {
                continue;
            }
            let streams = payload.chunks_exact(6).find_map(|entry| {
                (u16::from_be_bytes([entry[0], entry[1]]) == 3)
                    .then(|| u32::from_be_bytes([entry[2], entry[3], entry[4], entry[5]]))
            });
            return match streams {
                Some(n) => format!("{n} streams"),
                None => "no stream limit".into(),
            };
        }
    };
    tokio::time::timeout(PATIENCE, reading).await.unwrap()
}
