//! A provider's key and certificate server, on a loopback port over real
//! TLS: a CA made here with rcgen (written to a file a route names as
//! `[route.keys] ca`) issues its certificate for `127.0.0.1` and
//! `localhost`. It serves documents by path, records every request it
//! answers (so a test can assert that nothing was fetched), and can be
//! taken down (connections closed at once) and brought back.

use std::collections::HashMap;
use std::convert::Infallible;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use http::{Method, Request, Response, Uri};
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, KeyPair};
use tokio::net::TcpListener;

/// A request's method and body, as the server received them.
pub type Sent = (Method, Vec<u8>);

/// Longest request body the server reads (a key request is a few hundred
/// bytes).
const MAX_REQUEST: usize = 64 * 1024;

/// The running server; see the module docs.
pub struct KeyServer {
    /// `https://127.0.0.1:PORT`.
    pub base: String,
    pub port: u16,
    /// The CA file a route trusts (`ca = "file:..."`).
    pub ca_path: PathBuf,
    _dir: tempfile::TempDir,
    documents: Arc<Mutex<HashMap<String, Vec<u8>>>>,
    requests: Arc<Mutex<Vec<Uri>>>,
    /// Method and body of each request, in order.
    bodies: Arc<Mutex<Vec<Sent>>>,
    down: Arc<AtomicBool>,
}

impl KeyServer {
    pub async fn start() -> Self {
        let ca_key = KeyPair::generate().unwrap();
        let mut ca = CertificateParams::new(Vec::<String>::new()).unwrap();
        ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca.distinguished_name
            .push(DnType::CommonName, "hookguard test key CA");
        let ca_cert = ca.self_signed(&ca_key).unwrap();
        let leaf_key = KeyPair::generate().unwrap();
        let leaf = CertificateParams::new(vec!["127.0.0.1".into(), "localhost".into()])
            .unwrap()
            .signed_by(&leaf_key, &ca_cert, &ca_key)
            .unwrap();
        let dir = tempfile::tempdir().unwrap();
        let ca_path = dir.path().join("key-ca.pem");
        std::fs::write(&ca_path, ca_cert.pem()).unwrap();

        let key = rustls_pki_types::PrivateKeyDer::try_from(leaf_key.serialize_der()).unwrap();
        let config = rustls::ServerConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(vec![leaf.der().clone(), ca_cert.der().clone()], key)
        .unwrap();
        let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let server = Self {
            base: format!("https://127.0.0.1:{port}"),
            port,
            ca_path,
            _dir: dir,
            documents: Arc::default(),
            requests: Arc::default(),
            bodies: Arc::default(),
            down: Arc::default(),
        };
        let (documents, requests, bodies, down) = (
            Arc::clone(&server.documents),
            Arc::clone(&server.requests),
            Arc::clone(&server.bodies),
            Arc::clone(&server.down),
        );
        tokio::spawn(async move {
            while let Ok((tcp, _)) = listener.accept().await {
                if down.load(Ordering::SeqCst) {
                    drop(tcp);
                    continue;
                }
                let (acceptor, documents, requests, bodies) = (
                    acceptor.clone(),
                    Arc::clone(&documents),
                    Arc::clone(&requests),
                    Arc::clone(&bodies),
                );
                tokio::spawn(async move {
                    let Ok(tls) = acceptor.accept(tcp).await else {
                        return;
                    };
                    let svc = service_fn(move |req: Request<Incoming>| {
                        requests.lock().unwrap().push(req.uri().clone());
                        let doc = documents.lock().unwrap().get(req.uri().path()).cloned();
                        let bodies = Arc::clone(&bodies);
                        async move {
                            let method = req.method().clone();
                            let limited = Limited::new(req.into_body(), MAX_REQUEST);
                            #[allow(clippy::disallowed_methods, reason = "bounded by Limited")]
                            let body = limited.collect().await.map(|b| b.to_bytes());
                            bodies
                                .lock()
                                .unwrap()
                                .push((method, body.unwrap_or_default().to_vec()));
                            let resp = match doc {
                                Some(body) => Response::builder()
                                    .header("cache-control", "max-age=600")
                                    .body(Full::new(Bytes::from(body))),
                                None => Response::builder()
                                    .status(404)
                                    .body(Full::new(Bytes::new())),
                            };
                            Ok::<_, Infallible>(resp.unwrap())
                        }
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(tls), svc)
                        .await;
                });
            }
        });
        server
    }

    /// Serves `body` at `path` (200, `Cache-Control: max-age=600`).
    pub fn serve(&self, path: &str, body: impl Into<Vec<u8>>) {
        self.documents
            .lock()
            .unwrap()
            .insert(path.to_owned(), body.into());
    }

    /// `base` + `path`.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// Every request answered so far, in order.
    pub fn requests(&self) -> Vec<Uri> {
        self.requests.lock().unwrap().clone()
    }

    /// Method and body of every request answered so far, in order.
    pub fn bodies(&self) -> Vec<Sent> {
        self.bodies.lock().unwrap().clone()
    }

    /// Requests answered for `path`.
    pub fn fetches(&self, path: &str) -> usize {
        self.requests().iter().filter(|u| u.path() == path).count()
    }

    /// Closes every new connection at once (`true`), or serves again.
    pub fn set_down(&self, down: bool) {
        self.down.store(down, Ordering::SeqCst);
    }

    /// The route lines that make a route fetch from this server only.
    pub fn keys_table(&self) -> String {
        format!(
            "[route.keys]\nallow = [\"{}/\"]\nca = \"file:{}\"\n",
            self.base,
            self.ca_path.display()
        )
    }
}

impl KeyServer {
    /// The outage a fetched-key provider must ride out: while this server
    /// is down, `deliver` is answered 503 `key_unavailable` and nothing
    /// reaches `upstream`; once it is back, the provider's retry (the same
    /// request again) is forwarded, without a restart.
    pub async fn outage_then_recovery<F, Fut>(&self, upstream: &super::Upstream, deliver: F)
    where
        F: Fn() -> Fut,
        Fut: std::future::Future<Output = super::Answer>,
    {
        self.set_down(true);
        super::assert_rejected(&deliver().await, 503, "key_unavailable");
        assert_eq!(upstream.count(), 0);
        self.set_down(false);
        super::eventually(
            "the retried request to be forwarded",
            std::time::Duration::from_secs(20),
            || async { deliver().await.status == 200 },
        )
        .await;
        assert_eq!(upstream.count(), 1);
    }
}
