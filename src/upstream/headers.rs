//! Names of the headers hookguard adds to every request it sends upstream,
//! in forward and queue mode alike. (Which inbound headers cross, and the
//! `X-Forwarded-*` set, are the proxy's rules: `proxy::headers`.)

use http::header::HeaderName;

/// `X-Hookguard-Event-Id: <id>`, set when the scheme signs an event id.
pub(crate) const X_HOOKGUARD_EVENT_ID: HeaderName = HeaderName::from_static("x-hookguard-event-id");
/// `X-Hookguard-Attempt: N`, 1 for the first delivery attempt (queue mode).
pub(crate) const X_HOOKGUARD_ATTEMPT: HeaderName = HeaderName::from_static("x-hookguard-attempt");
