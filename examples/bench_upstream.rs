//! The benchmark's upstream (`bench/run.sh`): a minimal HTTP/1.1 keep-alive
//! responder on one thread that reads each request body to the end, answers
//! 200 "ok" and counts the POSTs it received, so the bench can check that
//! every request sent to nginx or hookguard really reached the upstream.
//!
//! `GET /count` answers the number of complete POSTs so far; the bench reads
//! it before and after each run.
//!
//! ```text
//! cargo run --release --example bench_upstream -- 127.0.0.1:0
//! ```
//! Prints `listening <addr>` once bound.

#![forbid(unsafe_code)]

use std::cell::Cell;
use std::convert::Infallible;
use std::io::Write;
use std::rc::Rc;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper::{Method, Request, Response};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;

fn main() -> std::io::Result<()> {
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:0".into());
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let local = tokio::task::LocalSet::new();
    local.block_on(&rt, serve(addr))
}

async fn serve(addr: String) -> std::io::Result<()> {
    let listener = TcpListener::bind(&addr).await?;
    println!("listening {}", listener.local_addr()?);
    std::io::stdout().flush()?;
    let posts = Rc::new(Cell::new(0u64));
    loop {
        let (stream, _) = listener.accept().await?;
        let _ = stream.set_nodelay(true);
        let posts = Rc::clone(&posts);
        tokio::task::spawn_local(async move {
            let svc = service_fn(move |req: Request<Incoming>| {
                let posts = Rc::clone(&posts);
                async move {
                    let is_count = req.method() == Method::GET && req.uri().path() == "/count";
                    let is_post = req.method() == Method::POST;
                    // Read the whole body: a fair upstream receives every byte.
                    #[allow(
                        clippy::disallowed_methods,
                        reason = "the bench upstream must read every byte of what the bench sends"
                    )]
                    let complete = req.into_body().collect().await.is_ok();
                    let body = if is_count {
                        Bytes::from(posts.get().to_string())
                    } else {
                        if is_post && complete {
                            posts.set(posts.get() + 1);
                        }
                        Bytes::from_static(b"ok")
                    };
                    Ok::<_, Infallible>(Response::new(Full::new(body)))
                }
            });
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), svc)
                .await;
        });
    }
}
