//! The hold-and-read phase: the body is held against the memory budgets
//! (see `budget`) and read whole, under the route's limit and the request
//! deadline, before anything verifies it.

use std::fmt::Display;
use std::time::Instant;

use bytes::Bytes;
use http_body_util::BodyExt;
use hyper::body::Body;

use super::budget::Held;
use super::refusal::Refusal;
use crate::body::Payload;

/// Holds the body's declared length at once (else its bytes as they
/// arrive) in `held`, which keeps them until the request is finished, and
/// reads it under `limit` and `deadline`.
pub(super) async fn hold_and_read<B>(
    body: B,
    limit: u64,
    declared: Option<u64>,
    deadline: Instant,
    held: &mut Held<'_>,
) -> Result<Payload, Refusal>
where
    B: Body<Data = Bytes> + Unpin,
    B::Error: Display,
{
    if let Some(len) = declared {
        held.cover(len).map_err(Refusal::Overloaded)?;
    }
    let read = read_body(body, limit, declared, held);
    match tokio::time::timeout_at(deadline.into(), read).await {
        Ok(result) => result,
        Err(_) => Err(Refusal::RequestTimeout),
    }
}

/// Reads the whole body, refusing it as soon as it exceeds `limit` (also for
/// chunked bodies with no declared length) or its bytes do not fit in the
/// memory budgets `held` takes them from. The frames are kept as they came
/// (see [`Payload`]): never copied into one buffer.
async fn read_body<B>(
    mut body: B,
    limit: u64,
    declared: Option<u64>,
    held: &mut Held<'_>,
) -> Result<Payload, Refusal>
where
    B: Body<Data = Bytes> + Unpin,
    B::Error: Display,
{
    let mut payload = Payload::new();
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|e| Refusal::BadBody(e.to_string()))?;
        let Ok(data) = frame.into_data() else {
            continue; // trailers carry nothing we sign
        };
        let total = payload.len().saturating_add(data.len() as u64);
        if total > limit {
            return Err(Refusal::BodyTooLarge);
        }
        held.cover(total).map_err(Refusal::Overloaded)?;
        payload.push(data);
    }
    let total = payload.len();
    if let Some(declared) = declared.filter(|&len| len != total) {
        // Never forward part of a body. hyper reports an early close as
        // an error while it drives the connection, but its body simply
        // ends if the connection is dropped first (this request then
        // finishes on its own, see `handle`), as it does for an HTTP/2
        // stream reset with NO_ERROR.
        return Err(Refusal::BadBody(format!(
            "body ended after {total} of {declared} declared bytes"
        )));
    }
    Ok(payload)
}
