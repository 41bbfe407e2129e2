//! Why the upstream gave no usable answer: one typed error for both
//! transports, classified where the failure happened, and a short detail
//! for the audit log and the spool's `last_error`.
//!
//! The detail is built from the error's source chain only: messages of the
//! socket, DNS, TLS and HTTP libraries. It never holds the URI (the
//! configured upstream URL may carry credentials), a header or a byte of
//! either body, and it is cut at [`MAX_DETAIL`] bytes.

use std::error::Error as StdError;
use std::fmt;
use std::time::Duration;

/// Longest detail kept, in bytes: a source chain is a handful of short
/// messages, but a certificate error can name many DNS names.
pub(crate) const MAX_DETAIL: usize = 256;

/// Why the upstream gave no usable answer.
#[derive(Debug)]
pub(crate) enum UpstreamError {
    /// The request cannot be sent as built (no host in its URI, a host that
    /// is no valid `Host` value).
    InvalidUri(Detail),
    /// No connection: refused, unreachable, DNS lookup failed, or the
    /// connect timeout passed.
    Connect(Detail),
    /// The TLS handshake failed: the upstream's certificate was refused, or
    /// the upstream refused the handshake.
    Tls(Detail),
    /// The connection closed before a response head arrived.
    Closed,
    /// The connection failed during the exchange (reset, broken pipe): the
    /// request may have reached the upstream.
    Io(Detail),
    /// The upstream's answer is not valid HTTP (or broke HTTP/2's rules).
    Protocol(Detail),
    /// No response head within the route's upstream timeout.
    Timeout(Duration),
}

// === impl UpstreamError ===

impl UpstreamError {
    /// True when the upstream was too slow: a gateway answers 504 (RFC 9110
    /// §15.6.5); for every other failure it answers 502 (§15.6.3).
    pub(crate) fn is_timeout(&self) -> bool {
        matches!(self, Self::Timeout(_))
    }

    /// A failure of the exchange on an open connection, from hyper's error.
    pub(crate) fn exchange(err: &hyper::Error) -> Self {
        if err.is_canceled() || err.is_incomplete_message() {
            // Canceled: the connection closed before the request was sent
            // (and it could not be sent again); incomplete: before the
            // response head was complete.
            Self::Closed
        } else if err.is_parse() {
            Self::Protocol(Detail::of(err))
        } else if chain(err).any(|e| e.is::<std::io::Error>()) {
            Self::Io(Detail::of(err))
        } else {
            // HTTP/2 stream or connection errors (RST_STREAM, GOAWAY).
            Self::Protocol(Detail::of(err))
        }
    }
}

impl fmt::Display for UpstreamError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::InvalidUri(d) => write!(f, "invalid upstream request: {d}"),
            Self::Connect(d) => write!(f, "cannot connect to the upstream: {d}"),
            Self::Tls(d) => write!(f, "TLS handshake with the upstream failed: {d}"),
            Self::Closed => f.write_str("the upstream closed the connection without answering"),
            Self::Io(d) => write!(f, "connection to the upstream failed: {d}"),
            Self::Protocol(d) => write!(f, "invalid answer from the upstream: {d}"),
            Self::Timeout(t) => write!(f, "no response head within {t:?}"),
        }
    }
}

impl StdError for UpstreamError {}

/// An error's source chain in one line, at most [`MAX_DETAIL`] bytes.
#[derive(Clone, PartialEq, Eq)]
pub(crate) struct Detail(Box<str>);

// === impl Detail ===

impl Detail {
    /// The messages of `err` and its sources, joined with `": "`.
    pub(crate) fn of(err: &(dyn StdError + 'static)) -> Self {
        let mut out = String::new();
        for e in chain(err) {
            let message = e.to_string();
            // io::Error shows its inner error's message as its own.
            if message.is_empty() || out.ends_with(&message) {
                continue;
            }
            if !out.is_empty() {
                out.push_str(": ");
            }
            out.push_str(&message);
            if out.len() > MAX_DETAIL {
                break;
            }
        }
        Self::bounded(out)
    }

    /// A fixed message (an error of our own).
    pub(crate) fn text(message: impl Into<String>) -> Self {
        Self::bounded(message.into())
    }

    fn bounded(mut text: String) -> Self {
        if text.len() > MAX_DETAIL {
            let mut end = MAX_DETAIL - '…'.len_utf8();
            while !text.is_char_boundary(end) {
                end -= 1;
            }
            text.truncate(end);
            text.push('…');
        }
        Self(text.into_boxed_str())
    }

    /// The text.
    #[cfg(test)]
    pub(crate) fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Detail {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for Detail {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.0, f)
    }
}

/// `err` and its sources, looking inside `io::Error`s too: an `io::Error`
/// wrapping another error (rustls wraps its errors so) reports that error's
/// source as its own, skipping the wrapped error itself.
fn chain<'a>(
    err: &'a (dyn StdError + 'static),
) -> impl Iterator<Item = &'a (dyn StdError + 'static)> {
    let mut next = Some(err);
    std::iter::from_fn(move || {
        let current = next?;
        next = match current
            .downcast_ref::<std::io::Error>()
            .and_then(std::io::Error::get_ref)
        {
            Some(inner) => Some(inner as &(dyn StdError + 'static)),
            None => current.source(),
        };
        Some(current)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_wrapped_error_is_named_once() {
        // rustls hands its errors to tokio-rustls inside an io::Error, which
        // shows the wrapped error's message as its own.
        let io = std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            rustls::Error::InvalidCertificate(rustls::CertificateError::UnknownIssuer),
        );
        assert_eq!(
            Detail::of(&io).as_str(),
            "invalid peer certificate: UnknownIssuer"
        );
        assert!(chain(&io).any(|e| e.is::<rustls::Error>()));
    }

    #[test]
    fn detail_is_bounded_on_a_char_boundary() {
        let long = "é".repeat(MAX_DETAIL);
        let detail = Detail::text(long);
        assert!(detail.as_str().len() <= MAX_DETAIL);
        assert!(detail.as_str().ends_with('…'));
        assert_eq!(Detail::text("short").as_str(), "short");
    }

    #[test]
    fn only_a_timeout_is_a_gateway_timeout() {
        assert!(UpstreamError::Timeout(Duration::from_secs(1)).is_timeout());
        for other in [
            UpstreamError::Closed,
            UpstreamError::Connect(Detail::text("refused")),
            UpstreamError::Tls(Detail::text("bad certificate")),
            UpstreamError::Io(Detail::text("reset")),
            UpstreamError::Protocol(Detail::text("parse")),
            UpstreamError::InvalidUri(Detail::text("no host")),
        ] {
            assert!(!other.is_timeout(), "{other}");
        }
    }
}
