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

const GH_SIG: &str = "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17";

fn temp_dir(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("hookguard-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

async fn tls_request(
    addr: std::net::SocketAddr,
    ca_der: &[u8],
    http2: bool,
) -> (http::StatusCode, Version, String) {
    let mut roots = rustls::RootCertStore::empty();
    roots
        .add(rustls_pki_types::CertificateDer::from(ca_der.to_vec()))
        .unwrap();
    let tls = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_root_certificates(roots)
    .with_no_client_auth();
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
        .body(Full::new(Bytes::from_static(b"Hello, World!")))
        .unwrap();
    let resp = client.request(req).await.expect("tls request");
    let status = resp.status();
    let version = resp.version();
    let body = resp.into_body().collect().await.unwrap().to_bytes();
    (status, version, String::from_utf8_lossy(&body).into_owned())
}

#[tokio::test]
async fn tls_with_alpn_serves_http1_and_http2() {
    let dir = temp_dir("tls");
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
    assert_eq!(&got[0].body[..], b"Hello, World!");
    let _ = std::fs::remove_dir_all(dir);
}
