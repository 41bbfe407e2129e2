//! `hookguard verify`: checks a captured request the way the proxy would and,
//! when it fails, explains why in one redacted line (the proxy's live
//! `reason`, from `explain`) plus what helps to fix it and the body's full
//! fingerprint.

use std::fmt::Write as _;
use std::time::Duration;

use http::{HeaderMap, HeaderName, HeaderValue, Method};
use ring::digest;

use crate::body::Payload;
use crate::explain::{self, BodyPrint};
use crate::keystore::KeyStore;
use crate::providers::{self, FetchedKey, Inbound, Rejection, Verified, Verifier};

use super::engine_hints::engine_hint;
use super::target::Target;

/// A captured request to check offline.
#[derive(Debug, Clone)]
pub(crate) struct VerifyInput<'a> {
    /// The scheme, keys and options to check against.
    pub target: &'a Target,
    /// `Name: value` header lines as received.
    pub headers: &'a [String],
    /// Public URL the provider called, for schemes that sign it (a route
    /// has defaults, see [`Target::public_url`]).
    pub url: Option<&'a str>,
    /// Exact body bytes.
    pub body: &'a [u8],
    /// "Now", Unix milliseconds.
    pub now_ms: i64,
    /// `--key-file`: the document a fetched-key scheme verifies with,
    /// instead of fetching the one the request names.
    pub key_file: Option<&'a [u8]>,
}

/// The widest window: to tell whether a signature is valid apart from its
/// timestamp.
const ANY_TIME: Duration = Duration::from_secs(100 * 365 * 86_400);

/// Checks `input` the way the proxy would, in the proxy's order (header
/// checks first, then the body). `Ok` is the success report ("valid ..."),
/// `Err` the reason and what else is known about it; both end with the
/// body's length and SHA-256 so a re-serialised body is easy to spot.
pub(crate) fn verify_report(input: &VerifyInput<'_>) -> Result<String, String> {
    let fingerprint = body_fingerprint(input.body);
    let fail = |lines: Vec<String>| Err(format!("invalid: {}\n{fingerprint}", lines.join("\n")));
    let headers = match parse_headers(input.headers) {
        Ok(h) => h,
        Err(why) => return fail(vec![why]),
    };
    let verifier = match input.target.build(None) {
        Ok(v) => v,
        Err(why) => return fail(vec![why]),
    };
    let url = input.target.public_url(input.url, &headers);
    if verifier.signs_url() && url.is_none() {
        return fail(vec![format!(
            "{} signs the URL it calls: give the full public URL with --url{}",
            input.target.describe(),
            if input.target.route.is_some() {
                " (or set public_url on the route, or give its Host header with -H)"
            } else {
                ""
            }
        )]);
    }
    let uri = input.target.request_uri(url.as_deref());
    let method = Method::POST;
    let req = Inbound {
        method: &method,
        uri: &uri,
        headers: &headers,
        public_url: url.as_deref().unwrap_or(""),
        now_ms: input.now_ms,
        key: None,
    };
    let body = Payload::from(input.body);
    let key = match fetched_key(input, &req, &body) {
        Ok(key) => key,
        Err(why) => return fail(vec![why]),
    };
    let req = Inbound {
        key: key.as_ref(),
        ..req
    };
    match check(&*verifier, &req, &body) {
        Ok(v) => {
            let mut out = format!(
                "valid: {}, {}",
                input.target.describe(),
                input.target.key_name(v.secret_index)
            );
            if let Some(id) = v.event_id {
                let _ = write!(out, ", event id {id}");
            }
            if verifier.handshake(&req, &body).is_some() {
                out.push_str(" (a handshake: the proxy answers it itself)");
            }
            Ok(format!("{out}\n{fingerprint}\n"))
        }
        Err(r) => fail(explain(input.target, &r, &req, &body)),
    }
}

/// The key the request needs, for schemes whose keys are fetched: read from
/// `--key-file`, or fetched as the proxy would (same URL rule, same limits).
/// Found with an unlimited window, so that a stale capture is still checked
/// apart from its time; a request refused before any fetch (a forged URL)
/// gets no key, and `verify` then gives the proxy's reason.
fn fetched_key(
    input: &VerifyInput<'_>,
    req: &Inbound<'_>,
    body: &Payload,
) -> Result<Option<FetchedKey>, String> {
    let Ok(wide) = input.target.build(Some(ANY_TIME)) else {
        return Ok(None);
    };
    let Ok(Some(wanted)) = wide.key_needed(req, body) else {
        return Ok(None);
    };
    if let Some(bytes) = input.key_file {
        return (wanted.parse)(bytes)
            .map(Some)
            .map_err(|why| format!("--key-file: {why}"));
    }
    let trust = input.target.key_trust.clone().ok_or_else(|| {
        "this provider's keys are fetched: give --route (with -c) or --key-file".to_owned()
    })?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the fetch: {e}"))?;
    let store = KeyStore::new(std::sync::Arc::new(crate::metrics::Metrics::new()));
    runtime
        .block_on(store.get(&wanted, &trust))
        .map(Some)
        .map_err(|e| format!("key_unavailable: {e} (or give --key-file)"))
}

/// What the proxy runs: the header-only checks, then the full verification.
fn check(
    verifier: &dyn Verifier,
    req: &Inbound<'_>,
    body: &Payload,
) -> Result<Verified, Rejection> {
    verifier.precheck(req)?;
    verifier.verify(req, body)
}

/// The rejection in the proxy's words (its audit `reason`), then what helps
/// to fix it: the headers the scheme reads (when one is missing), the usual
/// causes of a mismatch, or whether the signature is valid apart from its
/// time.
fn explain(target: &Target, r: &Rejection, req: &Inbound<'_>, body: &Payload) -> Vec<String> {
    let mut lines = vec![explain::rejection(r, Some(&BodyPrint::of(body)))];
    match r {
        Rejection::MissingSignature { .. } => {
            lines.push(format!("expected headers: {}", expected_headers(target)));
            lines.push(received_names(req.headers));
        }
        Rejection::InvalidSignature { detail } if is_mismatch(detail) => {
            lines.push(format!("hint: {}", mismatch_hint(target)));
        }
        Rejection::InvalidSignature { .. } => {}
        Rejection::TimestampOutOfTolerance { .. } => {
            lines.extend(signature_apart_from_time(target, req, body));
        }
    }
    lines.extend(engine_hint(target, r, req, body));
    lines
}

/// A rejection's code and detail, for a second opinion on the same body.
fn headline(r: &Rejection) -> String {
    format!("{}: {}", r.code(), r.detail())
}

/// A well-formed signature that no key verifies (rather than a malformed one).
fn is_mismatch(detail: &str) -> bool {
    detail.contains("does not match") || detail.contains("does not verify")
}

fn mismatch_hint(target: &Target) -> &'static str {
    if target.uses_public_keys() {
        "either the public key is not the one whose private key signed this, or the body or \
         timestamp differ from what was signed (compare the body's fingerprint below with \
         the sender's)"
    } else {
        "either the secret is not the one that signed this, or the body, timestamp or URL \
         differ from what was signed (compare the body's fingerprint below with the sender's)"
    }
}

/// Checks the request again with an unlimited window: says whether only the
/// time is wrong, or the signature too.
fn signature_apart_from_time(target: &Target, req: &Inbound<'_>, body: &Payload) -> Option<String> {
    let verifier = target.build(Some(ANY_TIME)).ok()?;
    match check(&*verifier, req, body) {
        Ok(v) => Some(format!(
            "the signature itself is valid ({}): only its time is outside the window; \
             to check an older capture, widen it with --tolerance",
            target.key_name(v.secret_index)
        )),
        Err(Rejection::TimestampOutOfTolerance { .. }) => None,
        Err(other) => Some(format!(
            "the signature does not verify either: {}",
            headline(&other)
        )),
    }
}

/// The headers the scheme reads, with the shape of their values.
fn expected_headers(target: &Target) -> String {
    providers::describe_all()
        .into_iter()
        .find(|p| p.name == target.provider)
        .map(|p| p.headers)
        .unwrap_or_default()
}

/// The names (never the values) of the headers given with `-H`.
fn received_names(headers: &HeaderMap) -> String {
    if headers.is_empty() {
        return "received headers: none (give each with -H \"Name: value\")".into();
    }
    let names: Vec<&str> = headers.keys().map(HeaderName::as_str).collect();
    format!("received headers: {}", names.join(", "))
}

fn body_fingerprint(body: &[u8]) -> String {
    let hash = digest::digest(&digest::SHA256, body);
    format!(
        "body: {} bytes, sha256 {}",
        body.len(),
        hex::encode(hash.as_ref())
    )
}

/// `Name: value` lines → a header map; a malformed line is an error naming
/// its position.
fn parse_headers(lines: &[String]) -> Result<HeaderMap, String> {
    let mut map = HeaderMap::new();
    for (i, line) in lines.iter().enumerate() {
        // Only positions and names are echoed: a line may hold a signature.
        let n = i + 1;
        let Some((name, value)) = line.split_once(':') else {
            return Err(format!("-H #{n} is not \"Name: value\" (no ':')"));
        };
        let name = HeaderName::from_bytes(name.trim().as_bytes())
            .map_err(|_| format!("-H #{n}: the text before ':' is not a header name"))?;
        let value = HeaderValue::from_str(value.trim())
            .map_err(|_| format!("-H {name}: the value is not a valid header value"))?;
        map.append(name, value);
    }
    Ok(map)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verify_report_explains_and_fingerprints() {
        let lines = vec!["X-Hub-Signature-256: sha256=dXY3MTA3ZWEwZWIy".to_owned()];
        let target =
            Target::from_flags("github", &["It's a Secret to Everybody".into()], &[], None)
                .unwrap();
        let input = VerifyInput {
            target: &target,
            headers: &lines,
            url: None,
            body: b"Hello, World!",
            now_ms: 0,
            key_file: None,
        };
        let err = verify_report(&input).unwrap_err();
        assert!(err.starts_with("invalid: invalid_signature: "), "{err}");
        // The first line is the proxy's live reason, word for word.
        let live = explain::rejection(
            &Rejection::InvalidSignature {
                detail: "header \"x-hub-signature-256\": expected hex, got something that \
                         looks like base64"
                    .into(),
            },
            Some(&BodyPrint::of(&Payload::from(&b"Hello, World!"[..]))),
        );
        assert_eq!(
            err.lines().next(),
            Some(&*format!("invalid: {live}")),
            "{err}"
        );
        assert!(err.contains("looks like base64"), "{err}");
        assert!(err.contains("body: 13 bytes, sha256 dffd6021bb2bd5b0af676290809ec3a53191dd81c7f70a4b28688a362182986f"), "{err}");
        assert!(!err.contains("dXY3MTA3"), "echoes the signature: {err}");
        // A malformed -H line is named by position: it may hold a signature.
        let bad = vec!["X-Hub-Signature-256 sha256=dXY3MTA3".to_owned()];
        let err = verify_report(&VerifyInput {
            headers: &bad,
            ..input.clone()
        })
        .unwrap_err();
        assert!(err.contains("-H #1 is not \"Name: value\""), "{err}");
        assert!(!err.contains("dXY3MTA3"), "echoes the signature: {err}");
    }
}
