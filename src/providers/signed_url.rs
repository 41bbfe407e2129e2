//! Which URL a URL-signing scheme verifies, and the rule that the query the
//! proxy forwards is the query that was signed.
//!
//! The URL is the route's `public_url` (what the provider called, when a
//! load balancer changes scheme, host or path on the way), else rebuilt from
//! the scheme the proxy was reached on, `Host` and the received path and
//! query. The path is always the route's own (routes match it exactly), so
//! only the query can differ between what was signed and what is forwarded:
//!
//! - `public_url` with a query pins it: a request with any other query is
//!   refused, since that query would be forwarded unsigned.
//! - `public_url` without a query, or none: the request's own query is part
//!   of the signed URL, so it is signed as it is forwarded.
//! - Schemes that sign the body right after the URL with nothing between
//!   them (Square: `{url}{body}`; HubSpot v3: `{method}{url}{body}{ts}`)
//!   cannot tell where a query ends and the body starts: `?src=sq` with the
//!   body `{"a":1}` signs the same bytes as `?src=sq{` with `"a":1}`. For
//!   them a query is accepted only when `public_url` pins it.
//!
//! A rebuilt URL needs `Host` to be a valid `host[:port]`: a `Host` holding a
//! `/` could otherwise absorb part of the path and body into the signed URL.
//!
//! Does not own the message each scheme signs (`url.rs`).

use http::uri::{Authority, Uri};

use super::common::invalid;
use super::Rejection;

/// Where a request arrived, for the URL its provider signed.
#[derive(Debug, Clone, Copy)]
pub struct UrlTarget<'a> {
    /// The route's `public_url`, if configured.
    pub configured: Option<&'a str>,
    /// `http` or `https`: how the proxy was reached.
    pub scheme: &'a str,
    /// `Host`, or HTTP/2's `:authority`.
    pub host: Option<&'a str>,
    /// Path and query as received (and forwarded).
    pub uri: &'a Uri,
}

/// The URL to verify for `target`. `body_follows` names the provider when
/// its scheme signs the body right after the URL; a query `public_url` does
/// not pin is then refused.
pub(crate) fn resolve(
    target: &UrlTarget<'_>,
    body_follows: Option<&str>,
) -> Result<String, Rejection> {
    let query = target.uri.query();
    match target.configured {
        Some(url) => match url.split_once('?') {
            Some((_, pinned)) if query == Some(pinned) => Ok(url.to_owned()),
            Some(_) => Err(invalid(
                "the request's query differs from the query in public_url: \
                 the URL forwarded would not be the URL signed",
            )),
            None => match (query, body_follows) {
                (None, _) => Ok(url.to_owned()),
                (Some(_), Some(provider)) => Err(ambiguous(
                    provider,
                    "public_url has no query; put the request's query in public_url to accept it",
                )),
                (Some(query), None) => Ok([url, "?", query].concat()),
            },
        },
        None => {
            if let (Some(_), Some(provider)) = (query, body_follows) {
                return Err(ambiguous(
                    provider,
                    "no public_url pins it; set public_url to the exact URL the provider \
                     calls, query included, to accept it",
                ));
            }
            let host = target
                .host
                .filter(|host| host.parse::<Authority>().is_ok())
                .ok_or_else(|| {
                    invalid(
                        "no valid Host (host[:port]) to rebuild the signed URL from; \
                         set public_url",
                    )
                })?;
            let path = target.uri.path_and_query().map_or("/", |pq| pq.as_str());
            Ok([target.scheme, "://", host, path].concat())
        }
    }
}

fn ambiguous(provider: &str, remedy: &str) -> Rejection {
    Rejection::InvalidSignature {
        detail: format!(
            "provider {provider:?} signs the URL and the body with nothing between them, so \
             a query makes them ambiguous (body bytes could be moved into it) and {remedy}"
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn resolve_at(
        configured: Option<&str>,
        host: Option<&str>,
        path: &str,
        body_follows: Option<&str>,
    ) -> Result<String, Rejection> {
        let uri: Uri = path.parse().unwrap();
        let target = UrlTarget {
            configured,
            scheme: "https",
            host,
            uri: &uri,
        };
        resolve(&target, body_follows)
    }

    fn detail(r: Result<String, Rejection>) -> String {
        match r {
            Err(Rejection::InvalidSignature { detail }) => detail,
            other => panic!("expected invalid_signature, got {other:?}"),
        }
    }

    #[test]
    fn rebuilt_from_the_request_signs_its_query() {
        let host = Some("hooks.example.com");
        assert_eq!(
            resolve_at(None, host, "/in?a=1", None).unwrap(),
            "https://hooks.example.com/in?a=1"
        );
        assert_eq!(
            resolve_at(None, Some("h:8443"), "/in", Some("square")).unwrap(),
            "https://h:8443/in"
        );
        // A Host that is no host[:port] cannot be part of a signed URL.
        for bad in [
            None,
            Some(""),
            Some("h/in{\"a\":\""),
            Some("h?x"),
            Some("h#f"),
        ] {
            let why = detail(resolve_at(None, bad, "/in", None));
            assert!(why.contains("no valid Host"), "{bad:?}: {why}");
        }
    }

    #[test]
    fn a_public_url_with_a_query_pins_it() {
        let url = Some("https://example.com/webhook?src=sq");
        for body_follows in [None, Some("square")] {
            assert_eq!(
                resolve_at(url, None, "/sq?src=sq", body_follows).unwrap(),
                "https://example.com/webhook?src=sq"
            );
            for other in [
                "/sq?src=sq{",
                "/sq?src=evil",
                "/sq",
                "/sq?",
                "/sq?src=sq&x=1",
            ] {
                let why = detail(resolve_at(url, None, other, body_follows));
                assert!(
                    why.contains("differs from the query in public_url"),
                    "{why}"
                );
            }
        }
        // An empty query is pinned as such.
        let empty = Some("https://example.com/webhook?");
        assert!(resolve_at(empty, None, "/sq?", None).is_ok());
        assert!(resolve_at(empty, None, "/sq", None).is_err());
    }

    #[test]
    fn a_public_url_without_a_query_signs_the_requests_own() {
        let url = Some("https://example.com/webhook");
        assert_eq!(
            resolve_at(url, None, "/tw?bodySHA256=ab", None).unwrap(),
            "https://example.com/webhook?bodySHA256=ab"
        );
        assert_eq!(
            resolve_at(url, None, "/tw", Some("square")).unwrap(),
            "https://example.com/webhook"
        );
    }

    #[test]
    fn a_free_query_is_refused_where_the_body_follows_the_url() {
        let why = detail(resolve_at(None, Some("h"), "/sq?src=sq", Some("square")));
        assert!(
            why.starts_with("provider \"square\" signs the URL and the body"),
            "{why}"
        );
        assert!(why.contains("set public_url"), "{why}");
        let url = Some("https://example.com/webhook");
        let why = detail(resolve_at(url, None, "/sq?src=sq", Some("hubspot")));
        assert!(
            why.contains("put the request's query in public_url"),
            "{why}"
        );
    }

    /// Which URL schemes need the query pinned, and what `check` says.
    #[test]
    fn each_url_scheme_applies_its_query_rule() {
        use super::super::testutil::{secrets, verifier};
        let uri: Uri = "/in?a=1".parse().unwrap();
        let target = UrlTarget {
            configured: None,
            scheme: "https",
            host: Some("h"),
            uri: &uri,
        };
        for (name, pinned) in [
            ("square", true),
            ("hubspot", true),
            ("twilio", false),
            ("trello", false),
        ] {
            let v = verifier(name, &secrets(&["k"]));
            let url = v.signed_url(&target);
            assert_eq!(url.is_err(), pinned, "{name}: {url:?}");
            let warning = v.public_url_warning(None);
            assert_eq!(warning.is_some(), pinned, "{name}: {warning:?}");
            assert_eq!(v.public_url_warning(Some("https://h/in")), None, "{name}");
        }
        // A scheme that signs no URL builds none (configuration refuses a
        // public_url there).
        let github = verifier("github", &secrets(&["k"]));
        assert_eq!(github.signed_url(&target), Ok(String::new()));
        assert!(!github.signs_url());
    }

    /// The replay key covers the forwarded query (not the host: Twilio's
    /// port variants of one URL are one delivery).
    #[test]
    fn the_replay_key_covers_the_query() {
        use super::super::testutil::{headers, precheck_and_verify, secrets, verifier};
        use super::super::{Dedup, Inbound};
        let v = verifier("twilio", &secrets(&["12345"]));
        // twilio-python test_request_validator.py: URL with and without :443.
        let h = headers(&[("x-twilio-signature", b"RSOYDt4T1cUTdK1PDd93/VVr8B8=")]);
        let form = b"CallSid=CA1234567890ABCDE&Caller=%2B14158675309&Digits=1234&From=%2B14158675309&To=%2B18005551212";
        let dedup = |url: &str, path: &str| -> Dedup {
            let uri: Uri = path.parse().unwrap();
            let req = Inbound {
                method: &http::Method::POST,
                uri: &uri,
                headers: &h,
                public_url: url,
                now_ms: 0,
                key: None,
            };
            precheck_and_verify(&v, &req, form).unwrap().dedup
        };
        let url = "https://mycompany.com/myapp.php?foo=1&bar=2";
        let with_port = "https://mycompany.com:443/myapp.php?foo=1&bar=2";
        let key = dedup(url, "/t?foo=1&bar=2");
        assert_eq!(key, dedup(with_port, "/t?foo=1&bar=2"));
        assert_ne!(key, dedup(url, "/t?foo=1&bar=2&x"));
        assert_ne!(dedup(url, "/t"), dedup(url, "/t?"));
    }
}
