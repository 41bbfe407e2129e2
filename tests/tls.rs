//! TLS termination with a certificate generated in the test: a real
//! handshake, HTTP/1.1 and HTTP/2 negotiated by ALPN.

mod common;

use std::sync::Arc;

use bytes::Bytes;
use common::*;
use http::Version;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;

async fn tls_request(
    addr: std::net::SocketAddr,
    ca_der: &[u8],
    http2: bool,
) -> (http::StatusCode, Version, String) {
    let tls = client_tls_config(ca_der);
    let builder = hyper_rustls::HttpsConnectorBuilder::new()
        .with_tls_config(tls)
        .https_only();
    let connector = if http2 {
        builder.enable_http2().build()
    } else {
        builder.enable_http1().build()
    };
    let client: Client<_, Full<Bytes>> = Client::builder(TokioExecutor::new())
        .http2_only(http2)
        .build(connector);
    let req = http::Request::post(format!("https://localhost:{}/gh", addr.port()))
        .header("x-hub-signature-256", GH_SIG)
        .body(Full::new(Bytes::from_static(GH_BODY)))
        .unwrap();
    let resp = client.request(req).await.expect("tls request");
    let status = resp.status();
    let version = resp.version();
    #[allow(
        clippy::disallowed_methods,
        reason = "reads the answer of the proxy under test"
    )]
    let body = resp.into_body().collect().await.unwrap().to_bytes();
    (status, version, String::from_utf8_lossy(&body).into_owned())
}

#[tokio::test]
async fn tls_with_alpn_serves_http1_and_http2() {
    let tmp = common::temp_dir("tls");
    let dir = tmp.path();
    let certified = rcgen::generate_simple_self_signed(vec!["localhost".into()]).unwrap();
    std::fs::write(dir.join("tls.crt"), certified.cert.pem()).unwrap();
    std::fs::write(dir.join("tls.key"), certified.key_pair.serialize_pem()).unwrap();
    let up = Upstream::start().await;
    let cfg = format!(
        r#"
[server]
listen = "127.0.0.1:0"
tls = {{ cert = "{dir}/tls.crt", key = "{dir}/tls.key" }}

[upstream]
url = "{{upstream}}"

[[route]]
path = "/gh"
provider = "github"
secrets = ["It's a Secret to Everybody"]
"#,
        dir = dir.display()
    );
    let p = proxy(&cfg, &up).await;

    let (status, version, body) = tls_request(p.addr, certified.cert.der(), true).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(version, Version::HTTP_2, "ALPN must negotiate h2");
    assert_eq!(body, "ok from upstream");

    // The same delivery again over HTTP/1.1: GitHub signs no id, so the
    // replay key is the signature, and this is answered as a duplicate.
    let (status, version, body) = tls_request(p.addr, certified.cert.der(), false).await;
    assert_eq!(status, 200);
    assert_eq!(version, Version::HTTP_11);
    assert_eq!(body, r#"{"status":"duplicate"}"#);

    let got = up.received();
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].headers["x-forwarded-proto"], "https");
    // HTTP/2 has no Host header: X-Forwarded-Host comes from :authority.
    assert_eq!(
        got[0].headers["x-forwarded-host"],
        format!("localhost:{}", p.addr.port()).as_str()
    );
    assert_eq!(&got[0].body[..], GH_BODY);
}

/// What a TLS upstream saw of one request.
#[derive(Debug, Clone)]
struct Seen {
    version: Version,
    headers: http::HeaderMap,
    body: Bytes,
}

/// A real TLS upstream on an ephemeral loopback port, certificate for
/// `localhost`, offering `alpn` (HTTP/2 when "h2" is negotiated).
async fn tls_upstream(
    cert: &rcgen::CertifiedKey,
    alpn: &[&[u8]],
) -> (u16, Arc<std::sync::Mutex<Vec<Seen>>>) {
    let key = rustls_pki_types::PrivateKeyDer::try_from(cert.key_pair.serialize_der()).unwrap();
    let mut config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_no_client_auth()
    .with_single_cert(vec![cert.cert.der().clone()], key)
    .unwrap();
    config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let seen: Arc<std::sync::Mutex<Vec<Seen>>> = Arc::default();
    let record = seen.clone();
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let (acceptor, record) = (acceptor.clone(), record.clone());
            tokio::spawn(async move {
                let Ok(tls) = acceptor.accept(tcp).await else {
                    return; // a client that refused our certificate
                };
                let h2 = tls.get_ref().1.alpn_protocol() == Some(b"h2");
                let svc = hyper::service::service_fn(
                    move |req: http::Request<hyper::body::Incoming>| {
                        let record = record.clone();
                        async move {
                            let (parts, body) = req.into_parts();
                            #[allow(
                                clippy::disallowed_methods,
                                reason = "a test upstream reads what the proxy forwarded, under the route's limit"
                            )]
                            let body = body.collect().await.unwrap().to_bytes();
                            record.lock().unwrap().push(Seen {
                                version: parts.version,
                                headers: parts.headers,
                                body,
                            });
                            Ok::<_, std::convert::Infallible>(http::Response::new(Full::new(
                                Bytes::from_static(b"ok from tls upstream"),
                            )))
                        }
                    },
                );
                let io = hyper_util::rt::TokioIo::new(tls);
                let _ = if h2 {
                    hyper::server::conn::http2::Builder::new(TokioExecutor::new())
                        .serve_connection(io, svc)
                        .await
                } else {
                    hyper::server::conn::http1::Builder::new()
                        .serve_connection(io, svc)
                        .await
                };
            });
        }
    });
    (port, seen)
}

/// The proxy in front of `https://localhost:{port}`, trusting `ca` if given.
async fn proxy_to_https(port: u16, ca: Option<&std::path::Path>) -> hookguard::runtime::Running {
    let ca = ca.map_or(String::new(), |p| format!("ca = \"{}\"", p.display()));
    let toml = format!(
        r#"
[server]
listen = "127.0.0.1:0"

[upstream]
url = "https://localhost:{port}"
timeout = "10s"
{ca}

[[route]]
path = "/gh"
provider = "github"
secrets = ["{GH_SECRET}"]
"#
    );
    start(&toml).await
}

#[tokio::test]
async fn https_upstream_is_verified_against_the_configured_ca() {
    let tmp = common::temp_dir("https-upstream");
    let dir = tmp.path();
    let cert = rcgen::generate_simple_self_signed(vec!["localhost".into()]).unwrap();
    let ca = dir.join("upstream-ca.pem");
    std::fs::write(&ca, cert.cert.pem()).unwrap();
    let headers = [("x-hub-signature-256", GH_SIG)];

    // Offering h2 and HTTP/1.1: hookguard's client negotiates HTTP/2.
    let (port, seen) = tls_upstream(&cert, &[b"h2", b"http/1.1"]).await;
    let p = proxy_to_https(port, Some(&ca)).await;
    let answer = post(&p, "/gh", &headers, GH_BODY).await;
    assert_eq!(answer.status, 200, "{}", answer.text());
    assert_eq!(answer.text(), "ok from tls upstream");
    let got = seen.lock().unwrap().clone();
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].version, Version::HTTP_2);
    assert_eq!(&got[0].body[..], GH_BODY);
    assert_eq!(got[0].headers["x-hookguard-verified"], "github");
    p.shutdown().await;

    // Offering HTTP/1.1 only.
    let (port, seen) = tls_upstream(&cert, &[b"http/1.1"]).await;
    let p = proxy_to_https(port, Some(&ca)).await;
    let answer = post(&p, "/gh", &headers, GH_BODY).await;
    assert_eq!(answer.status, 200, "{}", answer.text());
    let got = seen.lock().unwrap().clone();
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].version, Version::HTTP_11);
    assert_eq!(got[0].headers["host"], format!("localhost:{port}").as_str());
    assert_eq!(&got[0].body[..], GH_BODY);
    p.shutdown().await;
}

#[tokio::test]
async fn https_upstream_with_an_untrusted_certificate_is_never_sent_the_webhook() {
    let cert = rcgen::generate_simple_self_signed(vec!["localhost".into()]).unwrap();
    let (port, seen) = tls_upstream(&cert, &[b"h2", b"http/1.1"]).await;
    // No `ca`: the self-signed certificate is in no trusted root store.
    let p = proxy_to_https(port, None).await;
    let answer = post(&p, "/gh", &[("x-hub-signature-256", GH_SIG)], GH_BODY).await;
    assert_rejected(&answer, 502, "upstream_unreachable");
    assert!(
        seen.lock().unwrap().is_empty(),
        "nothing may reach an unverified upstream"
    );
    p.shutdown().await;
}
