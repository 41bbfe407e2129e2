//! Which host a request names, checked before anything uses it (the
//! forwarded `X-Forwarded-Host`, the URL that URL-signing schemes sign).

use http::header::{self, HeaderValue};
use http::request::Parts;
use http::Version;

/// The request's `Host` header, value and text, when it has one that can
/// be trusted to name the host: exactly one on HTTP/1.1 (RFC 9112 §3.2, also
/// when the target is in absolute form), at most one otherwise, and equal
/// (ignoring case) to the target's authority when both are present (RFC 9113
/// §8.3.1 for HTTP/2's :authority; an HTTP/1.1 absolute-form target is held
/// to the same rule rather than silently preferred, so that no two parts of
/// one request name different hosts). The error says why, for the audit.
pub(super) fn host_header(parts: &Parts) -> Result<Option<(&HeaderValue, &str)>, &'static str> {
    let mut hosts = parts.headers.get_all(header::HOST).iter();
    let Some(value) = hosts.next() else {
        return match parts.version {
            Version::HTTP_11 => Err("no Host header"),
            _ => Ok(None),
        };
    };
    if hosts.next().is_some() {
        return Err("more than one Host header");
    }
    let text = value.to_str().map_err(|_| "Host is not visible ASCII")?;
    match parts.uri.authority() {
        Some(authority) if !authority.as_str().eq_ignore_ascii_case(text) => {
            Err("Host differs from the request target's authority")
        }
        _ => Ok(Some((value, text))),
    }
}

/// The host a request names: its checked `Host` header, else HTTP/2's
/// :authority (from the request target).
#[derive(Debug, Clone, Copy)]
pub(super) struct RequestHost<'a> {
    header: Option<&'a HeaderValue>,
    text: Option<&'a str>,
}

impl<'a> RequestHost<'a> {
    /// The phase: the request's host, or why it names none that can be trusted.
    pub(super) fn of(parts: &'a Parts) -> Result<Self, &'static str> {
        let header = host_header(parts)?;
        Ok(Self {
            header: header.map(|(value, _)| value),
            text: header
                .map(|(_, text)| text)
                .or_else(|| parts.uri.authority().map(|a| a.as_str())),
        })
    }

    /// The host as text (for the URL that URL-signing schemes sign).
    pub(super) fn text(&self) -> Option<&'a str> {
        self.text
    }

    /// The host as the provider addressed us, for `X-Forwarded-Host`: the
    /// header's own value when it is the source (a clone shares its bytes).
    pub(super) fn forwarded(&self) -> Option<HeaderValue> {
        match self.header {
            Some(value) => Some(value.clone()),
            None => self
                .text
                .and_then(|authority| HeaderValue::from_str(authority).ok()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parts(version: Version, target: &str, hosts: &[&str]) -> Parts {
        let mut request = http::Request::builder().version(version).uri(target);
        for host in hosts {
            request = request.header(header::HOST, *host);
        }
        request.body(()).unwrap().into_parts().0
    }

    fn host(
        version: Version,
        target: &str,
        hosts: &[&str],
    ) -> Result<Option<String>, &'static str> {
        let parts = parts(version, target, hosts);
        host_header(&parts).map(|found| found.map(|(_, text)| text.to_owned()))
    }

    #[test]
    fn one_host_that_agrees_with_any_authority_is_used() {
        assert_eq!(host(Version::HTTP_11, "/gh", &["x"]), Ok(Some("x".into())));
        assert_eq!(
            host(Version::HTTP_11, "http://X:80/gh", &["x:80"]),
            Ok(Some("x:80".into()))
        );
        assert_eq!(host(Version::HTTP_2, "http://x/gh", &[]), Ok(None));
        assert_eq!(host(Version::HTTP_10, "/gh", &[]), Ok(None));
    }

    #[test]
    fn missing_repeated_and_conflicting_hosts_are_refused() {
        assert_eq!(host(Version::HTTP_11, "/gh", &[]), Err("no Host header"));
        assert_eq!(
            host(Version::HTTP_11, "http://x/gh", &[]),
            Err("no Host header")
        );
        for version in [Version::HTTP_11, Version::HTTP_2] {
            assert_eq!(
                host(version, "/gh", &["x", "x"]),
                Err("more than one Host header")
            );
            assert_eq!(
                host(version, "http://x/gh", &["y"]),
                Err("Host differs from the request target's authority")
            );
        }
        assert_eq!(
            host(Version::HTTP_11, "/gh", &["\u{e9}"]),
            Err("Host is not visible ASCII")
        );
    }
}
