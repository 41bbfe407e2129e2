//! The benchmark's floor (`bench/run.sh`, row "hyper floor"): the smallest
//! HTTP/1.1 proxy on hookguard's own stack — tokio's current-thread runtime,
//! hyper's server and client connections, keep-alive to the upstream — that
//! does none of hookguard's work: no route table, no verification, no replay
//! store, no log line, no header rewriting. It reads each request body whole
//! (as hookguard must before it can verify), keeping the frames as hookguard
//! does ([`Payload`]), and forwards it.
//!
//! Why it exists: to separate what the HTTP stack costs per request from what
//! verifying costs. hookguard's CPU per request minus this one's is the price
//! of verification, de-duplication, the audit line and the policy checks.
//!
//! ```text
//! cargo run --release --example bench_bare_proxy -- 127.0.0.1:0 127.0.0.1:3000
//! ```
//! Prints `listening <addr>` once bound. Not a proxy to deploy: it trusts
//! every request and forwards any path.

#![forbid(unsafe_code)]

use std::cell::RefCell;
use std::convert::Infallible;
use std::io::Write;
use std::rc::Rc;

use bytes::Bytes;
use http_body_util::{BodyExt, Either, Full};
use hyper::body::{Frame, Incoming};
use hyper::client::conn::http1::SendRequest;
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode, Uri};
use hyper_util::rt::TokioIo;
use tokio::net::{TcpListener, TcpStream};

use hookguard::body::Payload;

type Sender = SendRequest<Payload>;
type Body = Either<Full<Bytes>, Incoming>;

fn main() -> std::io::Result<()> {
    let mut args = std::env::args().skip(1);
    let listen = args.next().unwrap_or_else(|| "127.0.0.1:0".into());
    let upstream = args.next().unwrap_or_else(|| "127.0.0.1:3000".into());
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    tokio::task::LocalSet::new().block_on(&rt, serve(listen, upstream))
}

async fn serve(listen: String, upstream: String) -> std::io::Result<()> {
    let listener = TcpListener::bind(&listen).await?;
    println!("listening {}", listener.local_addr()?);
    std::io::stdout().flush()?;
    let idle: Rc<RefCell<Vec<Sender>>> = Rc::default();
    let upstream: Rc<str> = upstream.into();
    loop {
        let (stream, _) = listener.accept().await?;
        let _ = stream.set_nodelay(true);
        let (idle, upstream) = (Rc::clone(&idle), Rc::clone(&upstream));
        tokio::task::spawn_local(async move {
            let svc = service_fn(move |req| forward(req, Rc::clone(&idle), Rc::clone(&upstream)));
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), svc)
                .await;
        });
    }
}

async fn forward(
    req: Request<Incoming>,
    idle: Rc<RefCell<Vec<Sender>>>,
    upstream: Rc<str>,
) -> Result<Response<Body>, Infallible> {
    let (parts, body) = req.into_parts();
    let mut payload = Payload::new();
    let mut body = body;
    while let Some(frame) = body.frame().await {
        match frame.map(Frame::into_data) {
            Ok(Ok(data)) => payload.push(data),
            Ok(Err(_)) => {} // trailers
            Err(_) => return Ok(status(StatusCode::BAD_REQUEST)),
        }
    }
    // Newest ready connection; closed ones are dropped, busy ones kept.
    let pooled = {
        let mut list = idle.borrow_mut();
        list.retain(|s| !s.is_closed());
        list.iter()
            .rposition(Sender::is_ready)
            .map(|i| list.swap_remove(i))
    };
    let mut sender = match pooled {
        Some(sender) => sender,
        None => match connect(&upstream).await {
            Some(sender) => sender,
            None => return Ok(status(StatusCode::BAD_GATEWAY)),
        },
    };
    let mut out = Request::from_parts(parts, payload);
    // Origin form, sharing the request's bytes (no parse).
    *out.uri_mut() = out
        .uri()
        .path_and_query()
        .map_or_else(|| Uri::from_static("/"), |pq| Uri::from(pq.clone()));
    match sender.send_request(out).await {
        Ok(resp) => {
            idle.borrow_mut().push(sender);
            Ok(resp.map(Either::Right))
        }
        Err(_) => Ok(status(StatusCode::BAD_GATEWAY)),
    }
}

async fn connect(upstream: &str) -> Option<Sender> {
    let stream = TcpStream::connect(upstream).await.ok()?;
    let _ = stream.set_nodelay(true);
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .ok()?;
    tokio::task::spawn_local(async move {
        let _ = conn.await;
    });
    sender.ready().await.ok()?;
    Some(sender)
}

fn status(code: StatusCode) -> Response<Body> {
    let mut resp = Response::new(Either::Left(Full::new(Bytes::new())));
    *resp.status_mut() = code;
    resp
}
