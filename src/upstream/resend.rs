//! The resend rule, one for every transport (`http://` and `https://`,
//! HTTP/1.1 and HTTP/2), applied in one place: the pool's send loop.
//!
//! Webhooks are POSTs: not idempotent, and an app may act on one it
//! received even if its answer is lost. So nothing that may have reached
//! the upstream is ever sent again; its failure goes to the provider (or to
//! the spool's retry schedule), which owns retries. The one exception is a
//! request that was certainly never written: hyper hands such a request
//! back, untouched, when the connection had closed (or was closing) before
//! it could be sent. That happens to a pooled keep-alive connection the
//! upstream closed while it sat idle (a race no check at checkout can
//! close); such a request is sent again, once, on a fresh connection. A
//! fresh connection that fails the same way means the upstream itself is
//! failing: that is reported, not retried.

use http::Request;
use hyper::client::conn::TrySendError;

use crate::body::Payload;

/// The resend rule for one request: see the module doc.
#[derive(Debug, Default)]
pub(super) struct Resend {
    resent: bool,
}

// === impl Resend ===

impl Resend {
    /// After a failed attempt on a connection that was `reused` from the
    /// pool: the request to send again on a fresh connection, or the error
    /// to report.
    pub(super) fn after(
        &mut self,
        mut failed: TrySendError<Request<Payload>>,
        reused: bool,
    ) -> Result<Request<Payload>, hyper::Error> {
        match failed.take_message() {
            Some(unsent) if self.allows(true, reused) => Ok(unsent),
            _ => Err(failed.into_error()),
        }
    }

    /// The rule itself: never written, on a pooled connection, and not
    /// resent before.
    fn allows(&mut self, unsent: bool, reused: bool) -> bool {
        let allowed = unsent && reused && !self.resent;
        self.resent |= allowed;
        allowed
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_an_unsent_request_on_a_pooled_connection_is_resent() {
        for (unsent, reused, allowed) in [
            (false, false, false),
            (false, true, false),
            (true, false, false),
            (true, true, true),
        ] {
            let mut rule = Resend::default();
            assert_eq!(rule.allows(unsent, reused), allowed, "{unsent} {reused}");
        }
    }

    #[test]
    fn a_request_is_resent_at_most_once() {
        let mut rule = Resend::default();
        assert!(rule.allows(true, true));
        assert!(!rule.allows(true, true));
    }
}
