//! The store against a real HTTPS key server on a loopback port (a
//! certificate made here, trusted as the route's extra CA), with a clock the
//! tests move: freshness clamping, single flight, the key-id refresh limit,
//! refused redirects and oversized documents, and recovery after failure.

use std::any::Any;
use std::convert::Infallible;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex as StdMutex;

use bytes::Bytes;
use http::{Request, Response};
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;

use super::*;
use crate::providers::KeyMaterial;

/// What the key server answers: status, `Cache-Control`, body.
#[derive(Clone)]
struct Answer {
    status: u16,
    cache_control: Option<&'static str>,
    body: Vec<u8>,
}

/// A key server counting the requests it answers.
struct KeyServer {
    url: String,
    fetches: Arc<AtomicUsize>,
    answer: Arc<StdMutex<Answer>>,
    trust: Trust,
}

impl KeyServer {
    async fn start(answer: Answer) -> Self {
        let cert = rcgen::generate_simple_self_signed(vec!["127.0.0.1".into()]).unwrap();
        let key = rustls_pki_types::PrivateKeyDer::try_from(cert.key_pair.serialize_der()).unwrap();
        let config = rustls::ServerConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(vec![cert.cert.der().clone()], key)
        .unwrap();
        let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let (fetches, answer) = (
            Arc::new(AtomicUsize::new(0)),
            Arc::new(StdMutex::new(answer)),
        );
        let (count, current) = (Arc::clone(&fetches), Arc::clone(&answer));
        tokio::spawn(async move {
            while let Ok((tcp, _)) = listener.accept().await {
                let (acceptor, count, current) =
                    (acceptor.clone(), Arc::clone(&count), Arc::clone(&current));
                tokio::spawn(async move {
                    let Ok(tls) = acceptor.accept(tcp).await else {
                        return;
                    };
                    let svc = service_fn(move |_req: Request<Incoming>| {
                        count.fetch_add(1, Ordering::SeqCst);
                        let a = current.lock().unwrap().clone();
                        let mut resp = Response::builder().status(a.status);
                        if let Some(cc) = a.cache_control {
                            resp = resp.header("cache-control", cc);
                        }
                        if a.status == 302 {
                            resp = resp.header("location", "https://127.0.0.1:1/elsewhere");
                        }
                        let resp = resp.body(Full::new(Bytes::from(a.body))).unwrap();
                        async move { Ok::<_, Infallible>(resp) }
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(tls), svc)
                        .await;
                });
            }
        });
        let mut roots = rustls::RootCertStore::empty();
        roots.add(cert.cert.der().clone()).unwrap();
        let tls = rustls::ClientConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
        Self {
            url: format!("https://127.0.0.1:{port}/keys.json"),
            fetches,
            answer,
            trust: Trust {
                tls: Arc::new(tls),
                ca_digest: Some([7; 32]),
            },
        }
    }

    fn fetches(&self) -> usize {
        self.fetches.load(Ordering::SeqCst)
    }

    fn answer(&self, answer: Answer) {
        *self.answer.lock().unwrap() = answer;
    }
}

fn ok(cache_control: Option<&'static str>) -> Answer {
    Answer {
        status: 200,
        cache_control,
        body: b"kid-a".to_vec(),
    }
}

/// A key set whose ids are the document's text, split on commas.
struct Ids(Vec<String>);

impl KeyMaterial for Ids {
    fn has_key_id(&self, id: &str) -> bool {
        self.0.iter().any(|k| k == id)
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}

fn parse_ids(bytes: &[u8]) -> Result<FetchedKey, String> {
    let text = std::str::from_utf8(bytes).map_err(|_| "not text".to_owned())?;
    Ok(Arc::new(Ids(text.split(',').map(str::to_owned).collect())))
}

fn wanted(server: &KeyServer, kid: Option<&str>) -> KeyRef {
    KeyRef {
        url: server.url.clone(),
        key_id: kid.map(str::to_owned),
        parse: parse_ids,
        request: crate::providers::KeyRequest::Get,
    }
}

/// A store on a clock the test moves.
fn store() -> (Arc<KeyStore>, Arc<StdMutex<Instant>>) {
    let now = Arc::new(StdMutex::new(Instant::now()));
    let clock = Arc::clone(&now);
    let store = KeyStore::with_clock(
        Arc::new(Metrics::new()),
        Arc::new(move || *clock.lock().unwrap()),
    );
    (Arc::new(store), now)
}

fn advance(now: &StdMutex<Instant>, by: Duration) {
    *now.lock().unwrap() += by;
}

#[test]
fn freshness_is_clamped_to_five_minutes_and_a_day() {
    assert_eq!(freshness(Some(Duration::ZERO)), MIN_FRESH);
    assert_eq!(freshness(Some(Duration::from_secs(60))), MIN_FRESH);
    assert_eq!(
        freshness(Some(Duration::from_secs(7200))),
        Duration::from_secs(7200)
    );
    assert_eq!(freshness(Some(Duration::from_secs(7 * 86_400))), MAX_FRESH);
    assert_eq!(freshness(None), Duration::from_secs(3600));
}

#[tokio::test]
async fn a_short_max_age_is_kept_five_minutes() {
    let server = KeyServer::start(ok(Some("max-age=10"))).await;
    let (store, now) = store();
    let key = wanted(&server, None);
    store.get(&key, &server.trust).await.unwrap();
    advance(&now, Duration::from_secs(299));
    store.get(&key, &server.trust).await.unwrap();
    assert_eq!(server.fetches(), 1, "max-age=10 is kept at least 5 min");
    advance(&now, Duration::from_secs(2));
    store.get(&key, &server.trust).await.unwrap();
    assert_eq!(server.fetches(), 2);
}

#[tokio::test]
async fn a_long_max_age_is_kept_one_day() {
    let server = KeyServer::start(ok(Some("public, max-age=604800"))).await;
    let (store, now) = store();
    let key = wanted(&server, None);
    store.get(&key, &server.trust).await.unwrap();
    advance(&now, MAX_FRESH - Duration::from_secs(1));
    store.get(&key, &server.trust).await.unwrap();
    assert_eq!(server.fetches(), 1);
    advance(&now, Duration::from_secs(2));
    store.get(&key, &server.trust).await.unwrap();
    assert_eq!(server.fetches(), 2, "max-age of a week is cut to a day");
}

#[tokio::test]
async fn concurrent_requests_share_one_fetch() {
    let server = KeyServer::start(ok(None)).await;
    let (store, _now) = store();
    let key = wanted(&server, None);
    let tasks: Vec<_> = (0..16)
        .map(|_| {
            let (store, key, trust) = (Arc::clone(&store), key.clone(), server.trust.clone());
            tokio::spawn(async move { store.get(&key, &trust).await.map(|_| ()) })
        })
        .collect();
    for t in tasks {
        t.await.unwrap().unwrap();
    }
    assert_eq!(server.fetches(), 1);
}

#[tokio::test]
async fn unknown_key_ids_refresh_at_most_once_a_minute() {
    let server = KeyServer::start(ok(Some("max-age=86400"))).await;
    let (store, now) = store();
    store
        .get(&wanted(&server, Some("kid-a")), &server.trust)
        .await
        .unwrap();
    for i in 0..20 {
        let random = wanted(&server, Some(&format!("random-{i}")));
        // Served (the verifier then refuses the unknown id), not refetched.
        store.get(&random, &server.trust).await.unwrap();
    }
    assert_eq!(server.fetches(), 1);
    advance(&now, KID_REFRESH + Duration::from_secs(1));
    for i in 0..20 {
        let random = wanted(&server, Some(&format!("again-{i}")));
        store.get(&random, &server.trust).await.unwrap();
    }
    assert_eq!(server.fetches(), 2, "one refresh after the minute");
    // A rotated-in id is found by that refresh.
    server.answer(Answer {
        body: b"kid-a,kid-b".to_vec(),
        ..ok(Some("max-age=86400"))
    });
    advance(&now, KID_REFRESH + Duration::from_secs(1));
    let got = store
        .get(&wanted(&server, Some("kid-b")), &server.trust)
        .await
        .unwrap();
    assert!(got.has_key_id("kid-b"));
}

/// A key asked for with a POST naming one id (Plaid).
fn posted(server: &KeyServer, kid: &str) -> KeyRef {
    KeyRef {
        request: crate::providers::KeyRequest::PostJson(crate::secret::Secret::new(format!(
            r#"{{"key_id":"{kid}"}}"#
        ))),
        ..wanted(server, Some(kid))
    }
}

#[tokio::test]
async fn posted_key_ids_are_cached_apart_and_new_ones_fetched_once_a_minute() {
    let server = KeyServer::start(ok(Some("max-age=86400"))).await;
    let (store, now) = store();
    store
        .get(&posted(&server, "kid-a"), &server.trust)
        .await
        .unwrap();
    store
        .get(&posted(&server, "kid-a"), &server.trust)
        .await
        .unwrap();
    assert_eq!(server.fetches(), 1, "a known id is cached");
    // A flood of new ids costs no fetch within the minute: each waits.
    for i in 0..20 {
        let random = posted(&server, &format!("random-{i}"));
        let err = store.get(&random, &server.trust).await.unwrap_err();
        assert!(err.why.contains("new key id"), "{err}");
    }
    assert_eq!(server.fetches(), 1);
    advance(&now, KID_REFRESH + Duration::from_secs(1));
    store
        .get(&posted(&server, "kid-b"), &server.trust)
        .await
        .unwrap();
    assert_eq!(server.fetches(), 2, "one new id after the minute");
    // Each id is its own document: kid-a is still served from the cache.
    store
        .get(&posted(&server, "kid-a"), &server.trust)
        .await
        .unwrap();
    store
        .get(&posted(&server, "kid-b"), &server.trust)
        .await
        .unwrap();
    assert_eq!(server.fetches(), 2);
}

#[tokio::test]
async fn failures_are_reported_and_recovered_from() {
    let server = KeyServer::start(Answer {
        status: 503,
        cache_control: None,
        body: Vec::new(),
    })
    .await;
    let (store, now) = store();
    let key = wanted(&server, None);
    let err = store.get(&key, &server.trust).await.unwrap_err();
    assert!(err.why.contains("503"), "{err}");
    assert_eq!(store.last_failure().map(|f| f.error), Some(err.clone()));
    // Within a second: the same failure, no new fetch.
    assert_eq!(store.get(&key, &server.trust).await.unwrap_err(), err);
    assert_eq!(server.fetches(), 1);
    server.answer(ok(None));
    advance(&now, Duration::from_secs(2));
    store.get(&key, &server.trust).await.unwrap();
    assert_eq!(store.last_failure(), None);
    assert_eq!(store.metrics.key_fetches("failure"), 1);
    assert_eq!(store.metrics.key_fetches("success"), 1);
}

#[tokio::test]
async fn redirects_and_oversized_documents_are_refused() {
    let server = KeyServer::start(Answer {
        status: 302,
        cache_control: None,
        body: Vec::new(),
    })
    .await;
    let (store, now) = store();
    let key = wanted(&server, None);
    let err = store.get(&key, &server.trust).await.unwrap_err();
    assert!(err.why.contains("redirects are not followed"), "{err}");
    server.answer(Answer {
        body: vec![b'a'; MAX_DOCUMENT + 1],
        ..ok(None)
    });
    advance(&now, Duration::from_secs(2));
    let err = store.get(&key, &server.trust).await.unwrap_err();
    assert!(err.why.contains("limit"), "{err}");
}

#[tokio::test]
async fn the_server_must_be_trusted() {
    let server = KeyServer::start(ok(None)).await;
    let (store, _now) = store();
    let webpki_only = Trust {
        tls: Arc::new(
            rustls::ClientConfig::builder_with_provider(Arc::new(
                rustls::crypto::ring::default_provider(),
            ))
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_root_certificates(rustls::RootCertStore {
                roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
            })
            .with_no_client_auth(),
        ),
        ca_digest: None,
    };
    let err = store
        .get(&wanted(&server, None), &webpki_only)
        .await
        .unwrap_err();
    assert!(err.why.starts_with("TLS"), "{err}");
    assert_eq!(server.fetches(), 0);
}
