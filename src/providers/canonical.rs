//! Family: HMAC over a canonical request — method, normalised path, a
//! sender-chosen list of headers and the body — as Contentful's request
//! verification does (`@contentful/node-apps-toolkit` `verifyRequest`).
//!
//! Owns building that canonical string from the received request (the
//! path escaping rules, the signed-headers list) and `hookguard sign` for
//! it. Does not own key handling (`keys.rs`).

use std::time::Duration;

use http::{HeaderMap, HeaderName};
use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};

use super::common::{
    decode_signature, header_bytes, Signed, SignedBody, TimestampFormat, Tolerance, ToleranceSpec,
};
use super::hmac::BODY;
use super::keys::{match_one, KeyRing};
use super::{
    BuildError, Dedup, HmacAlgorithm, Inbound, ProviderInfo, ProviderParams, Rejection,
    SignRequest, SignatureEncoding, Verified, Verifier,
};
use crate::body::Payload;

const SIGNATURE: HeaderName = HeaderName::from_static("x-contentful-signature");
const TIMESTAMP: HeaderName = HeaderName::from_static("x-contentful-timestamp");
const SIGNED_HEADERS: HeaderName = HeaderName::from_static("x-contentful-signed-headers");

/// `verifyRequest`'s default TTL: 30 s (the SDK checks only the past; the
/// window here is two-sided, as everywhere).
const TTL: ToleranceSpec = ToleranceSpec { default_secs: 30 };

/// Most headers one request may ask us to include.
const MAX_SIGNED_HEADERS: usize = 32;

/// JavaScript `encodeURIComponent`: all but `A-Z a-z 0-9 - _ . ! ~ * ' ( )`.
const URI_COMPONENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'!')
    .remove(b'~')
    .remove(b'*')
    .remove(b'\'')
    .remove(b'(')
    .remove(b')');

/// JavaScript `encodeURI`: `encodeURIComponent` minus the URI delimiters.
const URI: &AsciiSet = &URI_COMPONENT
    .remove(b';')
    .remove(b',')
    .remove(b'/')
    .remove(b'?')
    .remove(b':')
    .remove(b'@')
    .remove(b'&')
    .remove(b'=')
    .remove(b'+')
    .remove(b'$')
    .remove(b'#');

/// The row of `hookguard providers` for Contentful.
pub(crate) fn info(name: &'static str) -> ProviderInfo {
    ProviderInfo {
        name,
        algorithm: "HMAC-SHA256",
        headers: "x-contentful-signature: <hex>, x-contentful-timestamp: <unix ms>, x-contentful-signed-headers: <names,...>".into(),
        signed: "{method}\\n{path}\\n{name:value;... of signed headers, sorted}\\n{body}".into(),
        tolerance: super::common::tolerance_text(Some(TTL)),
        ..ProviderInfo::default()
    }
}

/// The path as the SDK signs it: the query escaped as one component, then
/// the whole passed through `encodeURI` (so `?x=1` becomes `?x%253D1`).
fn canonical_path(path_and_query: &str) -> String {
    let joined = match path_and_query.split_once('?') {
        Some((path, query)) if !query.is_empty() => {
            format!("{path}?{}", utf8_percent_encode(query, URI_COMPONENT))
        }
        Some((path, _)) => path.to_owned(),
        None => path_and_query.to_owned(),
    };
    utf8_percent_encode(&joined, URI).to_string()
}

/// `method\npath\nheaders\nbody`, headers as sorted `name:value` joined by `;`.
fn canonical(
    method: &str,
    path_and_query: &str,
    headers: &[(String, String)],
    body: &[u8],
) -> Vec<u8> {
    let mut sorted: Vec<&(String, String)> = headers.iter().collect();
    sorted.sort();
    let list: Vec<String> = sorted.iter().map(|(k, v)| format!("{k}:{v}")).collect();
    let head = format!(
        "{method}\n{}\n{}\n",
        canonical_path(path_and_query),
        list.join(";")
    );
    [head.as_bytes(), body].concat()
}

/// The signed headers named by `x-contentful-signed-headers`, with values.
fn signed_headers(headers: &HeaderMap) -> Result<Vec<(String, String)>, Rejection> {
    let list = header_bytes(headers, &SIGNED_HEADERS)?;
    let invalid = |detail: String| Rejection::InvalidSignature { detail };
    let list = std::str::from_utf8(list)
        .map_err(|_| invalid("signed-headers list is not UTF-8".into()))?;
    let names: Vec<String> = list
        .split(',')
        .map(|n| n.trim().to_ascii_lowercase())
        .filter(|n| !n.is_empty())
        .collect();
    if names.len() > MAX_SIGNED_HEADERS {
        return Err(invalid(format!(
            "more than {MAX_SIGNED_HEADERS} signed headers"
        )));
    }
    for required in [&SIGNED_HEADERS, &TIMESTAMP] {
        if !names.iter().any(|n| n == required.as_str()) {
            return Err(invalid(format!("signed-headers list lacks {required:?}")));
        }
    }
    names
        .into_iter()
        .map(|n| {
            let name = HeaderName::from_bytes(n.as_bytes())
                .map_err(|_| invalid("signed-headers list names an invalid header".into()))?;
            let value = header_bytes(headers, &name)?;
            let value = std::str::from_utf8(value)
                .map_err(|_| invalid(format!("signed header {name:?} is not UTF-8")))?;
            Ok((n, value.to_owned()))
        })
        .collect()
}

/// A built Contentful verifier.
pub(crate) struct CanonicalVerifier {
    provider: &'static str,
    keys: KeyRing,
    tolerance: Tolerance,
}

impl CanonicalVerifier {
    /// Builds from the route's secrets; the SDK requires 64-character secrets.
    pub(crate) fn build(
        provider: &'static str,
        params: ProviderParams<'_>,
    ) -> Result<Self, BuildError> {
        if let Some(i) = params
            .secrets
            .iter()
            .position(|s| s.value.expose().len() != 64)
        {
            return Err(BuildError {
                field: format!("secrets[{i}]"),
                message: "Contentful signing secrets are exactly 64 characters".into(),
            });
        }
        Ok(Self {
            provider,
            keys: KeyRing::utf8(params.secrets, HmacAlgorithm::Sha256)?,
            tolerance: Tolerance::new(TTL, params.tolerance),
        })
    }

    fn check_time(&self, headers: &HeaderMap, now_ms: i64) -> Result<(), Rejection> {
        let ts = header_bytes(headers, &TIMESTAMP)?;
        self.tolerance
            .check(&TIMESTAMP, ts, TimestampFormat::UnixMillis, now_ms)
    }
}

impl Verifier for CanonicalVerifier {
    fn provider(&self) -> &str {
        self.provider
    }

    fn tolerance(&self) -> Option<Duration> {
        Some(self.tolerance.window())
    }

    fn precheck(&self, req: &Inbound<'_>) -> Result<(), Rejection> {
        header_bytes(req.headers, &SIGNATURE)?;
        signed_headers(req.headers)?;
        self.check_time(req.headers, req.now_ms)
    }

    fn verify(&self, req: &Inbound<'_>, body: &Payload) -> Result<Verified, Rejection> {
        let raw = header_bytes(req.headers, &SIGNATURE)?;
        let sig =
            decode_signature(raw, SignatureEncoding::Hex, self.keys.tag_len()).map_err(|why| {
                Rejection::InvalidSignature {
                    detail: format!("header {SIGNATURE:?}: {why}"),
                }
            })?;
        let headers = signed_headers(req.headers)?;
        let path = req.uri.path_and_query().map_or("/", |pq| pq.as_str());
        let msg = canonical(req.method.as_str(), path, &headers, &body.contiguous());
        let secret_index = match_one(
            &self.keys,
            req.now_ms,
            &Signed::new(BODY, SignedBody::Slice(&msg), &[], &[]),
            &sig,
        )?;
        self.check_time(req.headers, req.now_ms)?;
        Ok(Verified {
            secret_index,
            event_id: None,
            dedup: Dedup::Signature(sig.bytes().to_vec()),
        })
    }
}

/// `hookguard sign` for Contentful: signs method, the path of `req.url`,
/// the timestamp and signed-headers headers, and the body.
pub(crate) fn sign(
    secret: &[u8],
    req: &SignRequest<'_>,
) -> Result<Vec<(String, String)>, BuildError> {
    let url = req.url.ok_or_else(|| BuildError {
        field: "url".into(),
        message: "Contentful signs the request path: give the full public URL".into(),
    })?;
    let uri: http::Uri = url.parse().map_err(|_| BuildError {
        field: "url".into(),
        message: "not a valid URL".into(),
    })?;
    let path = uri.path_and_query().map_or("/", |pq| pq.as_str());
    let ts = req.timestamp.saturating_mul(1000).to_string();
    let list = format!("{},{}", SIGNED_HEADERS.as_str(), TIMESTAMP.as_str());
    let headers = vec![
        (SIGNED_HEADERS.as_str().to_owned(), list.clone()),
        (TIMESTAMP.as_str().to_owned(), ts.clone()),
    ];
    let msg = canonical(req.method, path, &headers, req.body);
    let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, secret);
    Ok(vec![
        (
            SIGNATURE.as_str().to_owned(),
            hex::encode(ring::hmac::sign(&key, &msg).as_ref()),
        ),
        (TIMESTAMP.as_str().to_owned(), ts),
        (SIGNED_HEADERS.as_str().to_owned(), list),
    ])
}

#[cfg(test)]
mod tests {
    use super::super::testutil::{headers, kind, precheck_at, run_at, secrets, verifier, Garbage};
    use super::*;

    // Contentful: computed with the SDK's `signRequest`
    // (@contentful/node-apps-toolkit 3.16.1) and reproduced in Python.
    const PATH: &str = "/webhooks/contentful?x=1";
    const BODY_: &[u8] = br#"{"sys":{"id":"abc"}}"#;

    fn sdk_headers(ts: &[u8]) -> HeaderMap {
        headers(&[
            ("Content-Type", b"application/vnd.contentful.management.v1+json"),
            ("X-Contentful-Topic", b"ContentManagement.Entry.publish"),
            ("x-contentful-timestamp", ts),
            (
                "x-contentful-signed-headers",
                b"content-type,x-contentful-signed-headers,x-contentful-timestamp,x-contentful-topic",
            ),
            ("x-contentful-signature", b"57d4e1bbc7e2e31280f25002902eaa307f10e628e8929f699ce6ea4ac9982370"),
        ])
    }

    #[test]
    fn contentful_sdk_vector_and_ttl() {
        assert_eq!(canonical_path(PATH), "/webhooks/contentful?x%253D1");
        let v = verifier("contentful", &secrets(&[&"a".repeat(64)]));
        let h = sdk_headers(b"1700000000000");
        let t = 1_700_000_000_000;
        assert!(run_at(&v, &h, BODY_, PATH, t).is_ok());
        assert!(run_at(&v, &h, BODY_, PATH, t + 30_000).is_ok());
        assert_eq!(kind(&run_at(&v, &h, BODY_, PATH, t + 30_001)), "timestamp");
        assert_eq!(kind(&run_at(&v, &h, b"{}", PATH, t)), "invalid");
        assert_eq!(
            kind(&run_at(&v, &h, BODY_, "/webhooks/contentful?x=2", t)),
            "invalid"
        );
        let mut changed = h.clone();
        changed.insert(
            "x-contentful-topic",
            "ContentManagement.Entry.delete".parse().unwrap(),
        );
        assert_eq!(kind(&run_at(&v, &changed, BODY_, PATH, t)), "invalid");
        let mut gone = h.clone();
        gone.remove("x-contentful-topic");
        assert_eq!(kind(&run_at(&v, &gone, BODY_, PATH, t)), "missing");
        let mut short = h.clone();
        short.insert(
            "x-contentful-signed-headers",
            "content-type".parse().unwrap(),
        );
        assert_eq!(kind(&run_at(&v, &short, BODY_, PATH, t)), "invalid");
        assert!(
            super::super::testutil::build_with("contentful", &secrets(&["short"]), None, None)
                .is_err()
        );
    }

    #[test]
    fn path_with_an_empty_query_is_signed_without_its_question_mark() {
        // The SDK escapes the query only when there is one: `/a?` is `/a`.
        assert_eq!(canonical_path("/hooks/cf?"), "/hooks/cf");
        assert_eq!(canonical_path("/hooks/cf"), "/hooks/cf");
    }

    /// A map of the named headers, each with a value.
    fn listing(names: &[String]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for name in names {
            map.insert(
                HeaderName::from_bytes(name.as_bytes()).unwrap(),
                "v".parse().unwrap(),
            );
        }
        map.insert(SIGNED_HEADERS, names.join(",").parse().unwrap());
        map
    }

    #[test]
    fn signed_headers_list_is_bounded_and_names_both_required_headers() {
        let required = [SIGNED_HEADERS.as_str(), TIMESTAMP.as_str()].map(String::from);
        let with_extra = |n: usize| {
            let extra = (0..n).map(|i| format!("x-extra-{i}"));
            required.iter().cloned().chain(extra).collect::<Vec<_>>()
        };
        let most = with_extra(MAX_SIGNED_HEADERS - 2);
        assert_eq!(signed_headers(&listing(&most)).unwrap().len(), 32);
        let too_many = with_extra(MAX_SIGNED_HEADERS - 1);
        assert!(matches!(
            signed_headers(&listing(&too_many)),
            Err(Rejection::InvalidSignature { .. })
        ));
        // Each required name must be in the list, whatever else is there.
        for lacking in &required {
            let names: Vec<String> = with_extra(1).into_iter().filter(|n| n != lacking).collect();
            assert!(matches!(
                signed_headers(&listing(&names)),
                Err(Rejection::InvalidSignature { .. })
            ));
        }
    }

    #[test]
    fn window_is_the_sdk_ttl_or_the_route_tolerance() {
        let secret = secrets(&[&"a".repeat(64)]);
        let v = verifier("contentful", &secret);
        assert_eq!(v.tolerance(), Some(Duration::from_secs(30)));
        let wide = super::super::testutil::build_with(
            "contentful",
            &secret,
            Some(Duration::from_secs(90)),
            None,
        )
        .unwrap();
        assert_eq!(wide.tolerance(), Some(Duration::from_secs(90)));
    }

    #[test]
    fn precheck_refuses_what_the_head_alone_disproves() {
        let v = verifier("contentful", &secrets(&[&"a".repeat(64)]));
        let good = sdk_headers(b"1700000000000");
        assert_eq!(precheck_at(&v, &good, 1_700_000_000), Ok(()));
        assert!(matches!(
            precheck_at(&v, &good, 1_700_000_031),
            Err(Rejection::TimestampOutOfTolerance { .. })
        ));
        for name in ["x-contentful-signature", "x-contentful-signed-headers"] {
            let mut gone = good.clone();
            gone.remove(name);
            assert!(matches!(
                precheck_at(&v, &gone, 1_700_000_000),
                Err(Rejection::MissingSignature { .. })
            ));
        }
    }

    #[test]
    fn sign_round_trips() {
        let secret = "b".repeat(64);
        let req = SignRequest {
            body: b"{}",
            timestamp: 1_700_000_000,
            id: None,
            url: Some("https://example.com/hooks/cf?a=b"),
            method: "POST",
        };
        let pairs = sign(secret.as_bytes(), &req).unwrap();
        let mut map = HeaderMap::new();
        for (k, val) in &pairs {
            map.insert(
                HeaderName::from_bytes(k.as_bytes()).unwrap(),
                val.parse().unwrap(),
            );
        }
        let v = verifier("contentful", &secrets(&[&secret]));
        assert!(run_at(&v, &map, b"{}", "/hooks/cf?a=b", 1_700_000_000_000).is_ok());
        assert_eq!(
            kind(&run_at(&v, &map, b"{}", "/hooks/cf", 1_700_000_000_000)),
            "invalid"
        );
    }

    #[test]
    fn garbage_never_panics() {
        let v = verifier("contentful", &secrets(&[&"a".repeat(64)]));
        let mut g = Garbage::new(21);
        for _ in 0..2000 {
            let mut h = sdk_headers(b"1700000000000");
            for name in [
                "x-contentful-signed-headers",
                "x-contentful-timestamp",
                "x-contentful-signature",
            ] {
                if g.next() % 2 == 0 {
                    if let Ok(hv) = http::HeaderValue::from_bytes(
                        &g.value(b"content-type,x-contentful-timestamp"),
                    ) {
                        h.insert(name, hv);
                    }
                }
            }
            let _ = run_at(&v, &h, BODY_, PATH, 1_700_000_000_000);
        }
    }
}
