//! The key phase, between reading the body and verifying it: the key a
//! request needs (SNS and PayPal certificates, key sets) got from the key
//! store, and the GET that confirms an SNS subscription with
//! `sns_confirm = "auto"`.
//!
//! The verifier names the key only after the URL passed the route's rule
//! (a forged URL is `invalid_signature` here, with nothing fetched). A key
//! that cannot be had refuses the request with 503 `key_unavailable` and
//! `Retry-After`: the provider retries, and nothing unverified is forwarded.
//! Routes whose keys are configured pay one call returning `Ok(None)`.

use super::refusal::Refusal;
use super::App;
use crate::body::Payload;
use crate::config::Route;
use crate::providers::{FetchedKey, Inbound};

/// The key `req` needs, when its verifier names one.
pub(super) async fn key_for(
    app: &App,
    route: &Route,
    req: &Inbound<'_>,
    body: &Payload,
) -> Result<Option<FetchedKey>, Refusal> {
    let Some(wanted) = route
        .verifier
        .key_needed(req, body)
        .map_err(Refusal::Verify)?
    else {
        return Ok(None);
    };
    let trust = route
        .key_trust
        .as_ref()
        .ok_or_else(|| Refusal::Internal("the route has no key trust".into()))?;
    // Boxed: its state would otherwise enlarge every request's future.
    Box::pin(app.keys.get(&wanted, trust))
        .await
        .map(Some)
        .map_err(|e| Refusal::KeyUnavailable(e.to_string()))
}

/// Confirms a subscription at `url` (already checked against the route's
/// rule by the verifier): one GET under the key fetcher's limits.
pub(super) async fn confirm(app: &App, route: &Route, url: &str) -> Result<(), Refusal> {
    let trust = route
        .key_trust
        .as_ref()
        .ok_or_else(|| Refusal::Internal("the route has no key trust".into()))?;
    Box::pin(app.keys.confirm(url, trust))
        .await
        .map_err(|e| Refusal::ConfirmFailed(e.to_string()))
}
