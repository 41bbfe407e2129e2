//! The queue-mode end of the pipeline (`delivery = "queue"`): after
//! de-duplication, the request goes to the durable spool instead of the
//! upstream, and the provider gets `202 {"status":"queued"}` only once it is
//! on disk. Delivery is the spool worker's job from then on.

use http::request::Parts;
use http::HeaderMap;

use super::deliver::Claimed;
use super::{App, Outcome, Refusal};
use crate::body::Payload;
use crate::config::Route;
use crate::providers::Verified;
use crate::spool::{Meta, NewRecord, State};

/// Spools the request and settles the replay claim: delivered once it is on
/// disk (the spool now owns delivery, so a provider retry is a duplicate),
/// released when the spool refuses it (the provider's retry is then welcome).
pub(super) async fn accept(
    app: &App,
    route: &Route,
    parts: &Parts,
    headers: &HeaderMap,
    body: Payload,
    verified: &Verified,
    claim: Option<Claimed>,
) -> Result<Outcome, Refusal> {
    let Some(spool) = app.spool.as_ref() else {
        return Err(Refusal::SpoolUnavailable("no spool opened".into()));
    };
    let now = crate::clock::unix_millis();
    let meta = Meta {
        route: route.path.clone(),
        method: parts.method.as_str().to_owned(),
        path_and_query: parts
            .uri
            .path_and_query()
            .map_or_else(|| "/".to_owned(), |pq| pq.as_str().to_owned()),
        headers: headers
            .iter()
            .map(|(n, v)| (n.as_str().to_owned(), v.as_bytes().to_vec()))
            .collect(),
        provider: route.verifier.provider().to_owned(),
        event_id: verified.event_id.clone().unwrap_or_default(),
        secret_index: verified.secret_index,
        replay_key: claim.as_ref().map(|(key, _)| key.to_hex()),
        received_at_ms: now,
        attempts: 0,
        next_attempt_ms: now,
        last_status: None,
        last_error: None,
        state: State::Pending,
        body_len: body.len(),
    };
    // The spool stores the body whole (one record value).
    let body = body.into_bytes();
    let result = spool.append(NewRecord { meta, body }).await;
    if let Some((key, token)) = claim {
        app.replay.settle(key, token, result.is_ok()).await;
    }
    match result {
        Ok(_) => Ok(Outcome::Queued(route.verifier.acknowledgement())),
        Err(e) => Err(Refusal::SpoolUnavailable(e.to_string())),
    }
}
