//! The upstream client against real upstreams on loopback ports, over every
//! transport (`http://`; `https://` with a certificate made here, HTTP/1.1
//! or HTTP/2 by ALPN): how each kind of failure is classified (here), and
//! the resend rule ([`resend`]).

mod resend;

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use http::Request;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpListener;

use super::*;

/// Long enough for any loopback exchange on a loaded machine: tests that
/// expect an answer never wait this long.
const GENEROUS: Duration = Duration::from_secs(30);

/// A connection as the test upstream sees it, TLS or not.
trait Conn: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Conn for T {}
type BoxConn = Box<dyn Conn>;

/// Which transport a test runs over.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Transport {
    /// Plain HTTP/1.1.
    Http,
    /// HTTP/1.1 over TLS (the upstream offers no ALPN protocol).
    Https,
    /// HTTP/2 over TLS (the upstream offers `h2` by ALPN).
    H2,
}

const BOTH: [Transport; 2] = [Transport::Http, Transport::Https];
const ALL: [Transport; 3] = [Transport::Http, Transport::Https, Transport::H2];

/// A certificate for `localhost`, its CA file, and the client that trusts it.
struct Pki {
    cert: rcgen::CertifiedKey,
    _dir: tempfile::TempDir,
    client: UpstreamClient,
}

impl Pki {
    fn new() -> Self {
        let cert = rcgen::generate_simple_self_signed(vec!["localhost".into()]).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let ca = dir.path().join("ca.pem");
        std::fs::write(&ca, cert.cert.pem()).unwrap();
        let client = UpstreamClient::new(Some(&ca)).unwrap();
        Self {
            cert,
            _dir: dir,
            client,
        }
    }

    fn acceptor(&self, alpn: &[&[u8]]) -> tokio_rustls::TlsAcceptor {
        let key =
            rustls_pki_types::PrivateKeyDer::try_from(self.cert.key_pair.serialize_der()).unwrap();
        let mut config = rustls::ServerConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(vec![self.cert.cert.der().clone()], key)
        .unwrap();
        config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
        tokio_rustls::TlsAcceptor::from(Arc::new(config))
    }
}

/// An upstream on a loopback port: each connection (after the TLS handshake
/// but for `Http`) is handed to `serve` in a task of its own. Returns the
/// URL.
async fn upstream<F, Fut>(transport: Transport, pki: &Pki, serve: F) -> String
where
    F: Fn(BoxConn) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let acceptor = match transport {
        Transport::Http => None,
        Transport::Https => Some(pki.acceptor(&[])),
        Transport::H2 => Some(pki.acceptor(&[b"h2"])),
    };
    let serve = Arc::new(serve);
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let (serve, acceptor) = (Arc::clone(&serve), acceptor.clone());
            tokio::spawn(async move {
                let conn: BoxConn = match acceptor {
                    None => Box::new(tcp),
                    Some(acceptor) => match acceptor.accept(tcp).await {
                        Ok(tls) => Box::new(tls),
                        Err(_) => return, // the client refused the certificate
                    },
                };
                serve(conn).await;
            });
        }
    });
    match transport {
        Transport::Http => format!("http://127.0.0.1:{port}"),
        Transport::Https | Transport::H2 => format!("https://localhost:{port}"),
    }
}

/// Reads one bodyless request: up to the blank line after its head.
async fn read_head(conn: &mut (impl AsyncRead + Unpin)) -> bool {
    let mut seen = Vec::new();
    let mut buf = [0u8; 1024];
    while !seen.windows(4).any(|w| w == b"\r\n\r\n") {
        match conn.read(&mut buf).await {
            Ok(0) | Err(_) => return false,
            Ok(n) => seen.extend_from_slice(&buf[..n]),
        }
    }
    true
}

/// POSTs an empty body to `url`.
async fn post(client: &UpstreamClient, url: &str, timeout: Duration) -> Result<u16, UpstreamError> {
    let req = Request::post(url).body(Payload::new()).unwrap();
    client
        .send(req, timeout)
        .await
        .map(|resp| resp.status().as_u16())
}

/// A port nothing listens on (bound, then released).
async fn closed_port() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    listener.local_addr().unwrap()
}

#[tokio::test]
async fn a_refused_connection_is_a_connect_error() {
    let pki = Pki::new();
    let port = closed_port().await.port();
    for url in [
        format!("http://127.0.0.1:{port}/"),
        format!("https://localhost:{port}/"),
    ] {
        let err = post(&pki.client, &url, GENEROUS).await.unwrap_err();
        assert!(matches!(err, UpstreamError::Connect(_)), "{url}: {err:?}");
        assert!(!err.is_timeout());
    }
}

#[tokio::test]
async fn an_untrusted_certificate_is_a_tls_error() {
    let pki = Pki::new();
    let url = upstream(Transport::H2, &pki, |_conn| async {}).await;
    // A client that does not trust the upstream's self-signed certificate.
    let client = UpstreamClient::new(None).unwrap();
    let err = post(&client, &url, GENEROUS).await.unwrap_err();
    assert!(matches!(err, UpstreamError::Tls(_)), "{err:?}");
    assert!(err.to_string().contains("certificate"), "{err}");
}

#[tokio::test]
async fn an_upstream_that_closes_without_answering_is_closed() {
    let pki = Pki::new();
    for transport in BOTH {
        let url = upstream(transport, &pki, |mut conn| async move {
            read_head(&mut conn).await;
            let _ = conn.shutdown().await; // TLS: close_notify, then FIN
        })
        .await;
        let err = post(&pki.client, &url, GENEROUS).await.unwrap_err();
        assert!(
            matches!(err, UpstreamError::Closed),
            "{transport:?}: {err:?}"
        );
    }
}

#[tokio::test]
async fn a_reset_mid_exchange_is_an_io_error() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let (mut tcp, _) = listener.accept().await.unwrap();
        read_head(&mut tcp).await;
        // Closing with SO_LINGER 0 sends RST instead of FIN.
        tcp.set_zero_linger().unwrap();
        drop(tcp);
    });
    let client = UpstreamClient::new(None).unwrap();
    let err = post(&client, &format!("http://{addr}/"), GENEROUS)
        .await
        .unwrap_err();
    assert!(matches!(err, UpstreamError::Io(_)), "{err:?}");
}

#[tokio::test]
async fn an_answer_that_is_not_http_is_a_protocol_error() {
    let pki = Pki::new();
    for transport in BOTH {
        let url = upstream(transport, &pki, |mut conn| async move {
            read_head(&mut conn).await;
            let _ = conn.write_all(b"SSH-2.0-OpenSSH_9.6\r\n\r\n").await;
            let _ = conn.shutdown().await;
        })
        .await;
        let err = post(&pki.client, &url, GENEROUS).await.unwrap_err();
        assert!(
            matches!(err, UpstreamError::Protocol(_)),
            "{transport:?}: {err:?}"
        );
    }
}

#[tokio::test]
async fn an_upstream_that_never_answers_is_a_timeout() {
    let pki = Pki::new();
    for transport in BOTH {
        let (held_tx, held_rx) = tokio::sync::mpsc::unbounded_channel::<BoxConn>();
        let url = upstream(transport, &pki, move |mut conn| {
            let held = held_tx.clone();
            async move {
                read_head(&mut conn).await;
                let _ = held.send(conn); // kept open, never answered
            }
        })
        .await;
        let timeout = Duration::from_millis(200);
        let err = post(&pki.client, &url, timeout).await.unwrap_err();
        assert!(
            matches!(err, UpstreamError::Timeout(t) if t == timeout),
            "{transport:?}: {err:?}"
        );
        assert!(err.is_timeout());
        drop(held_rx);
    }
}

#[tokio::test]
async fn an_answer_is_returned_on_both_transports() {
    let pki = Pki::new();
    for transport in BOTH {
        let url = upstream(transport, &pki, |mut conn| async move {
            while read_head(&mut conn).await {
                let answer = b"HTTP/1.1 204 No Content\r\n\r\n";
                if conn.write_all(answer).await.is_err() {
                    return;
                }
            }
        })
        .await;
        assert_eq!(post(&pki.client, &url, GENEROUS).await.unwrap(), 204);
    }
}
