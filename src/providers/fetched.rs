//! Keys a verifier needs from the network, described without any I/O: what
//! a request asks to be fetched ([`KeyRef`]), what comes back
//! ([`FetchedKey`]), and the rules a URL taken from a request must pass
//! before anything is fetched ([`UrlRule`]).
//!
//! The proxy's key store (`crate::keystore`) does the fetching and caching;
//! this layer stays free of network I/O. A verifier whose keys are fetched
//! answers [`Verifier::key_needed`](super::Verifier::key_needed) with a
//! `KeyRef` only after the URL passed its rule, so a forged URL is refused
//! as `invalid_signature` with nothing fetched, and then reads the fetched
//! key from [`Inbound::key`](super::Inbound::key) in `verify`.

use std::any::Any;
use std::fmt;
use std::sync::Arc;

use http::Uri;

use super::Rejection;
use crate::secret::Secret;

/// Parses a fetched document (a PEM certificate, a JWKS) into the verifier's
/// own key form, once per fetch; the store caches the result.
pub type ParseKey = fn(&[u8]) -> Result<FetchedKey, String>;

/// A parsed key document, shared by every request that uses it.
pub type FetchedKey = Arc<dyn KeyMaterial>;

/// A fetched, parsed key document. Verifiers downcast it (`as_any`) to the
/// type their `ParseKey` made.
pub trait KeyMaterial: Any + Send + Sync {
    /// Whether the document holds key id `id` (key sets); a document without
    /// ids holds every id. An unknown id makes the store refresh the set,
    /// at most once a minute per set.
    fn has_key_id(&self, id: &str) -> bool {
        let _ = id;
        // A mutant replacing this body with `true` is the same body
        // (equivalent).
        true
    }

    /// `self`, for the verifier's downcast.
    fn as_any(&self) -> &dyn Any;
}

impl fmt::Debug for dyn KeyMaterial {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("KeyMaterial")
    }
}

/// The key a request needs: where it lives and how to read it.
#[derive(Clone)]
pub struct KeyRef {
    /// An `https://` URL that passed the route's [`UrlRule`].
    pub url: String,
    /// The key id the request names, for key sets (JWKS `kid`).
    pub key_id: Option<String>,
    /// How the fetched bytes become a [`FetchedKey`].
    pub parse: ParseKey,
    /// How the document is asked for.
    pub request: KeyRequest,
}

/// How a key document is asked for.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum KeyRequest {
    /// `GET` the URL: one document for every key id (a JWKS, a certificate).
    #[default]
    Get,
    /// `POST` this JSON body to the URL; the answer is the one key that
    /// [`KeyRef::key_id`] names (Plaid), so it is cached per key id. The
    /// body holds API credentials: it is a secret, never logged.
    PostJson(Secret),
}

impl KeyRequest {
    /// Whether each key id is a document of its own.
    pub fn per_key_id(&self) -> bool {
        matches!(self, Self::PostJson(_))
    }
}

impl fmt::Debug for KeyRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeyRef")
            .field("url", &self.url)
            .field("key_id", &self.key_id)
            .finish_non_exhaustive()
    }
}

/// One `[route.keys] allow` entry: `https://host[:port]/path-prefix`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UrlPrefix {
    host: String,
    port: u16,
    path: String,
}

impl UrlPrefix {
    /// Parses an allow entry, or says why it is not one.
    pub fn parse(text: &str) -> Result<Self, String> {
        let url = HttpsUrl::parse(text)?;
        if url.query {
            return Err(format!(
                "{text:?} has a query; an allow entry is a URL prefix"
            ));
        }
        Ok(Self {
            host: url.host,
            port: url.port,
            path: url.path,
        })
    }

    /// Whether `url` is under this prefix: same host and port, its path
    /// starting with the prefix's path.
    fn admits(&self, url: &HttpsUrl) -> bool {
        url.host == self.host && url.port == self.port && url.path.starts_with(&self.path)
    }
}

impl fmt::Display for UrlPrefix {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "https://{}:{}{}", self.host, self.port, self.path)
    }
}

/// Which URLs a route may fetch keys from (or confirm a subscription at):
/// the provider's pinned rule, or the route's `[route.keys] allow` list,
/// which replaces it.
#[derive(Debug, Clone)]
pub(crate) enum UrlRule {
    /// The provider's own rule, a pure function of the parsed URL, with a
    /// description for `check`.
    Pinned(fn(&HttpsUrl) -> bool, &'static str),
    /// `[route.keys] allow`.
    Allow(Vec<UrlPrefix>),
}

impl UrlRule {
    /// `url` if it passes the rule, else `invalid_signature` naming `what`
    /// (never fetched).
    pub(crate) fn check(&self, what: &str, url: &str) -> Result<(), Rejection> {
        let refuse = |why: String| Rejection::InvalidSignature {
            detail: format!("{what} refused before any fetch: {why}"),
        };
        let parsed = HttpsUrl::parse(url).map_err(refuse)?;
        let admitted = match self {
            Self::Pinned(rule, _) => rule(&parsed),
            Self::Allow(prefixes) => prefixes.iter().any(|p| p.admits(&parsed)),
        };
        if admitted {
            Ok(())
        } else {
            Err(refuse(format!("not under {}", self.describe())))
        }
    }

    /// The rule as `check` prints it.
    pub(crate) fn describe(&self) -> String {
        match self {
            Self::Pinned(_, text) => (*text).to_owned(),
            Self::Allow(prefixes) => {
                let list: Vec<String> = prefixes.iter().map(ToString::to_string).collect();
                format!("[route.keys] allow = {}", list.join(", "))
            }
        }
    }
}

/// An `https://` URL taken apart by `http::Uri`, with everything a key URL
/// must not have refused: another scheme, userinfo, a fragment, dot
/// segments or encoded dots and slashes in the path (which a server might
/// resolve to a path outside the allowed prefix), and non-ASCII text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct HttpsUrl {
    /// Lower-case host, without brackets for IPv6.
    pub(crate) host: String,
    /// The port, 443 when absent.
    pub(crate) port: u16,
    /// Whether the URL named a port explicitly.
    pub(crate) explicit_port: bool,
    /// The path, `/` at least.
    pub(crate) path: String,
    /// Whether the URL has a query.
    pub(crate) query: bool,
}

impl HttpsUrl {
    /// Parses `text`, or says why it is not a URL keys may come from.
    pub(crate) fn parse(text: &str) -> Result<Self, String> {
        if text.len() > 2048 || !text.is_ascii() || text.contains('#') {
            return Err("not a plain ASCII URL without a fragment".into());
        }
        let uri: Uri = text.parse().map_err(|_| "not a URL".to_owned())?;
        if uri.scheme_str() != Some("https") {
            return Err("not https".into());
        }
        let authority = uri.authority().ok_or("no host")?;
        if authority.as_str().contains('@') {
            return Err("has userinfo".into());
        }
        let host = authority
            .host()
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_ascii_lowercase();
        if host.is_empty() {
            return Err("no host".into());
        }
        let path = match uri.path() {
            "" => "/",
            p => p,
        };
        let lower = path.to_ascii_lowercase();
        let dot_segment = path
            .split('/')
            .any(|segment| segment == "." || segment == "..");
        if dot_segment || lower.contains("%2e") || lower.contains("%2f") || path.contains('\\') {
            return Err("has dot segments or encoded dots or slashes in its path".into());
        }
        Ok(Self {
            host,
            port: authority.port_u16().unwrap_or(443),
            explicit_port: authority.port().is_some(),
            path: path.to_owned(),
            query: uri.query().is_some(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn https_urls_only_plain_ones() {
        let ok = HttpsUrl::parse("https://Keys.Example:8443/a/b.pem").unwrap();
        assert_eq!(
            (ok.host.as_str(), ok.port, ok.path.as_str()),
            ("keys.example", 8443, "/a/b.pem")
        );
        for bad in [
            "http://keys.example/a",
            "https://user@keys.example/a",
            "https://keys.example/a/../b",
            "https://keys.example/a/%2e%2e/b",
            "https://keys.example/a%2fb",
            "https://keys.example/a#frag",
            "ftp://keys.example/a",
            "keys.example/a",
            "https:///a",
        ] {
            assert!(HttpsUrl::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn allow_prefixes_match_host_port_and_path() {
        let rule = UrlRule::Allow(vec![
            UrlPrefix::parse("https://127.0.0.1:8443/keys/").unwrap(),
            UrlPrefix::parse("https://localhost:9000/").unwrap(),
        ]);
        for ok in [
            "https://127.0.0.1:8443/keys/a.pem",
            "https://LOCALHOST:9000/anything?x=1",
        ] {
            assert_eq!(rule.check("url", ok), Ok(()), "{ok}");
        }
        for bad in [
            "https://127.0.0.1:8444/keys/a.pem",
            "https://127.0.0.1:8443/other/a.pem",
            "http://127.0.0.1:8443/keys/a.pem",
            "https://127.0.0.1.evil.example:8443/keys/a.pem",
            "https://localhost/anything",
        ] {
            assert!(
                matches!(
                    rule.check("url", bad),
                    Err(Rejection::InvalidSignature { .. })
                ),
                "{bad}"
            );
        }
        assert!(UrlPrefix::parse("https://h/p?q=1").is_err());
        assert_eq!(
            UrlPrefix::parse("https://h/p").unwrap().to_string(),
            "https://h:443/p"
        );
    }

    /// A key document without key ids, as a certificate is.
    struct Whole;

    impl KeyMaterial for Whole {
        fn as_any(&self) -> &dyn Any {
            self
        }
    }

    #[test]
    fn a_document_without_ids_holds_every_id_and_prints_no_key() {
        let key: FetchedKey = Arc::new(Whole);
        assert!(key.has_key_id("any"));
        assert_eq!(format!("{key:?}"), "KeyMaterial");
        let get = KeyRef {
            url: "https://keys.example/certs".into(),
            key_id: Some("k1".into()),
            parse: |_| Ok(Arc::new(Whole)),
            request: KeyRequest::PostJson(Secret::new("{\"secret\":\"s3cret\"}")),
        };
        // The POST body holds API credentials: never in a debug line.
        assert_eq!(
            format!("{get:?}"),
            r#"KeyRef { url: "https://keys.example/certs", key_id: Some("k1"), .. }"#
        );
        assert!(get.request.per_key_id());
        assert!(!KeyRequest::Get.per_key_id());
    }

    #[test]
    fn a_url_is_at_most_2048_characters() {
        let at = |len: usize| {
            let head = "https://keys.example/";
            format!("{head}{}", "a".repeat(len - head.len()))
        };
        assert!(HttpsUrl::parse(&at(2048)).is_ok());
        assert!(HttpsUrl::parse(&at(2049)).is_err());
    }
}
