//! A tiny upstream for trying hookguard out: listens on 127.0.0.1:3000 (or the
//! address given as the first argument), prints every request it receives
//! with its `X-Hookguard-*` headers and body, and answers 200.
//!
//! ```text
//! cargo run --example upstream
//! ```

#![forbid(unsafe_code)]

use std::convert::Infallible;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;

#[tokio::main(flavor = "current_thread")]
async fn main() -> std::io::Result<()> {
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:3000".into());
    let listener = TcpListener::bind(&addr).await?;
    println!("upstream listening on http://{addr}");
    loop {
        let (stream, _) = listener.accept().await?;
        tokio::spawn(async move {
            let svc = service_fn(|req: Request<Incoming>| async move {
                let (parts, body) = req.into_parts();
                #[allow(
                    clippy::disallowed_methods,
                    reason = "a demo upstream behind hookguard, which limits the body"
                )]
                let body = body
                    .collect()
                    .await
                    .map(|c| c.to_bytes())
                    .unwrap_or_default();
                println!("{} {}", parts.method, parts.uri);
                for (name, value) in &parts.headers {
                    if name.as_str().starts_with("x-hookguard-") {
                        println!("  {name}: {}", value.to_str().unwrap_or("?"));
                    }
                }
                println!(
                    "  body ({} bytes): {}",
                    body.len(),
                    String::from_utf8_lossy(&body)
                );
                Ok::<_, Infallible>(Response::new(Full::new(Bytes::from_static(b"received\n"))))
            });
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), svc)
                .await;
        });
    }
}
