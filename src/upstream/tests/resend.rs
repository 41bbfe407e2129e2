//! The resend rule on every transport: a request a pooled connection gave
//! back unsent goes again, once, on a fresh connection; a request that may
//! have reached the upstream is never sent twice.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use bytes::Bytes;
use http::uri::Authority;
use http::{Response, Uri};
use http_body_util::Full;
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::sync::mpsc;

use super::*;
use crate::upstream::connect::Sender;

/// What a test upstream saw.
#[derive(Default)]
struct Seen {
    connections: AtomicUsize,
    requests: AtomicUsize,
    closed: AtomicUsize,
}

impl Seen {
    fn connections(&self) -> usize {
        self.connections.load(Ordering::SeqCst)
    }
    fn requests(&self) -> usize {
        self.requests.load(Ordering::SeqCst)
    }
    fn closed(&self) -> usize {
        self.closed.load(Ordering::SeqCst)
    }
}

/// Waits until `condition` holds, failing the test after [`GENEROUS`].
async fn eventually(what: &str, mut condition: impl FnMut() -> bool) {
    let deadline = Instant::now() + GENEROUS;
    while !condition() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// Answers requests on `conn` with 204 while `answer(n)` (n counts every
/// request the upstream received, from 0) says so; the first request it
/// refuses ends the connection without an answer (HTTP/1.1: closed after
/// reading it; HTTP/2: its stream reset).
async fn serve(conn: BoxConn, transport: Transport, seen: Arc<Seen>, answer: fn(usize) -> bool) {
    if transport == Transport::H2 {
        let service = hyper::service::service_fn(move |_req| {
            let n = seen.requests.fetch_add(1, Ordering::SeqCst);
            async move {
                if !answer(n) {
                    return Err("refused by the test");
                }
                let mut resp = Response::new(Full::new(Bytes::new()));
                *resp.status_mut() = http::StatusCode::NO_CONTENT;
                Ok(resp)
            }
        });
        let _ = hyper::server::conn::http2::Builder::new(TokioExecutor::new())
            .serve_connection(TokioIo::new(conn), service)
            .await;
        return;
    }
    let mut conn = conn;
    while read_head(&mut conn).await {
        let n = seen.requests.fetch_add(1, Ordering::SeqCst);
        if !answer(n) {
            break;
        }
        let answered = conn.write_all(b"HTTP/1.1 204 No Content\r\n\r\n").await;
        if answered.is_err() {
            return;
        }
    }
    let _ = conn.shutdown().await;
}

fn always(_: usize) -> bool {
    true
}

/// The pool's key for `url`.
fn key(url: &str) -> (bool, Authority) {
    let uri: Uri = url.parse().unwrap();
    let tls = uri.scheme_str() == Some("https");
    (tls, uri.authority().unwrap().clone())
}

fn is_closed(sender: &Sender) -> bool {
    match sender {
        Sender::Http1(s) => s.is_closed(),
        Sender::Http2(s) => s.is_closed(),
    }
}

#[tokio::test]
async fn a_pooled_connection_that_closed_before_sending_is_replaced_once() {
    let pki = Pki::new();
    for transport in ALL {
        let seen = Arc::new(Seen::default());
        // The first connection is handed to the test, which closes it;
        // every later one is answered.
        let (first_tx, mut first_rx) = mpsc::unbounded_channel::<BoxConn>();
        let up = Arc::clone(&seen);
        let url = upstream(transport, &pki, move |conn| {
            let (seen, first) = (Arc::clone(&up), first_tx.clone());
            async move {
                if seen.connections.fetch_add(1, Ordering::SeqCst) == 0 {
                    let _ = first.send(conn);
                } else {
                    serve(conn, transport, seen, always).await;
                }
            }
        })
        .await;
        let pool = &pki.client.pool;
        let (tls, authority) = key(&url);
        // A connection the pool had kept, which the upstream then closed
        // (the race the rule exists for, made certain).
        let (stale, first) = tokio::join!(pool.connector.connect(tls, &authority), first_rx.recv());
        let (stale, mut first) = (stale.unwrap(), first.unwrap());
        let _ = first.shutdown().await;
        drop(first);
        eventually("the client to see the close", || is_closed(&stale)).await;

        let mut req = Request::post(format!("{url}/hook"))
            .body(Payload::new())
            .unwrap();
        let checked_out = pool.checkout_on(&mut req, stale);
        let resp = pool
            .exchange(Ok(checked_out), req)
            .await
            .unwrap_or_else(|e| panic!("{transport:?}: {e}"));
        assert_eq!(resp.status(), 204, "{transport:?}");
        assert_eq!(seen.requests(), 1, "{transport:?}: sent once");
        assert_eq!(
            seen.connections(),
            2,
            "{transport:?}: on a fresh connection"
        );
    }
}

#[tokio::test]
async fn an_upstream_closing_idle_connections_gets_every_webhook_once() {
    let pki = Pki::new();
    for transport in BOTH {
        let seen = Arc::new(Seen::default());
        // Answers one request per connection and then closes it, without
        // saying so (no `Connection: close`): as an upstream whose idle
        // keep-alive timeout is shorter than the proxy's.
        let up = Arc::clone(&seen);
        let url = upstream(transport, &pki, move |mut conn| {
            let seen = Arc::clone(&up);
            async move {
                seen.connections.fetch_add(1, Ordering::SeqCst);
                if read_head(&mut conn).await {
                    seen.requests.fetch_add(1, Ordering::SeqCst);
                    let _ = conn.write_all(b"HTTP/1.1 204 No Content\r\n\r\n").await;
                }
                let _ = conn.shutdown().await;
                seen.closed.fetch_add(1, Ordering::SeqCst);
            }
        })
        .await;
        for sent in 1..=3 {
            let status = post(&pki.client, &format!("{url}/hook"), GENEROUS).await;
            assert_eq!(status.unwrap(), 204, "{transport:?}, webhook {sent}");
            eventually("the upstream to close", || seen.closed() == sent).await;
        }
        assert_eq!(seen.requests(), 3, "{transport:?}: each webhook once");
        assert_eq!(seen.connections(), 3, "{transport:?}");
    }
}

#[tokio::test]
async fn a_request_that_may_have_reached_the_upstream_is_never_resent() {
    let pki = Pki::new();
    for transport in ALL {
        let seen = Arc::new(Seen::default());
        let up = Arc::clone(&seen);
        // Answers the first request; the second is read, then dropped.
        let url = upstream(transport, &pki, move |conn| {
            let seen = Arc::clone(&up);
            async move {
                seen.connections.fetch_add(1, Ordering::SeqCst);
                serve(conn, transport, seen, |n| n == 0).await;
            }
        })
        .await;
        let status = post(&pki.client, &format!("{url}/hook"), GENEROUS).await;
        assert_eq!(status.unwrap(), 204, "{transport:?}");
        let (tls, authority) = key(&url);
        eventually("the connection back in the pool", || {
            pki.client.pool.ready_connections(tls, &authority) == 1
        })
        .await;
        // On that pooled connection: it reaches the upstream, which drops it.
        let err = post(&pki.client, &format!("{url}/hook"), GENEROUS)
            .await
            .unwrap_err();
        match transport {
            Transport::H2 => assert!(matches!(err, UpstreamError::Protocol(_)), "{err:?}"),
            _ => assert!(
                matches!(err, UpstreamError::Closed),
                "{transport:?}: {err:?}"
            ),
        }
        assert_eq!(seen.requests(), 2, "{transport:?}: never sent twice");
        assert_eq!(seen.connections(), 1, "{transport:?}");
    }
}
