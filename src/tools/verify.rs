//! `hookguard verify`: checks a captured request the way the proxy would and,
//! when it fails, explains why in one redacted line plus the body's
//! fingerprint.

use std::fmt::Write as _;
use std::time::Duration;

use http::{HeaderMap, HeaderName, HeaderValue, Method, Uri};
use ring::digest;

use crate::body::Payload;
use crate::config::SecretEntry;
use crate::providers::{self, Inbound, ProviderParams, Rejection};
use crate::secret::Secret;

use super::build_message;

/// A captured request to check offline.
#[derive(Debug, Clone)]
pub struct VerifyInput<'a> {
    /// Provider name.
    pub provider: &'a str,
    /// Secrets in rotation order (index is reported on success).
    pub secrets: Vec<Secret>,
    /// `Name: value` header lines as received.
    pub headers: &'a [String],
    /// Public URL the provider called, for schemes that sign it.
    pub url: Option<&'a str>,
    /// Override of the provider's default tolerance.
    pub tolerance: Option<Duration>,
    /// Exact body bytes.
    pub body: &'a [u8],
    /// "Now", Unix milliseconds.
    pub now_ms: i64,
}

/// Checks `input` the way the proxy would. `Ok` is the success report
/// ("valid ..."), `Err` the precise reason; both end with the body's length
/// and SHA-256 so a re-serialised body is easy to spot.
pub fn verify_report(input: &VerifyInput<'_>) -> Result<String, String> {
    let fingerprint = body_fingerprint(input.body);
    let fail = |why: String| Err(format!("invalid: {why}\n{fingerprint}"));
    let headers = match parse_headers(input.headers) {
        Ok(h) => h,
        Err(why) => return fail(why),
    };
    let entries: Vec<SecretEntry> = input
        .secrets
        .iter()
        .enumerate()
        .map(|(i, value)| SecretEntry {
            value: value.clone(),
            expires: None,
            origin: format!("--secret #{i}"),
        })
        .collect();
    let params = ProviderParams {
        secrets: &entries,
        public_keys: &[],
        tolerance: input.tolerance,
        hmac: None,
        verify_token: None,
    };
    let verifier = match providers::build(input.provider, params) {
        Ok(v) => v,
        Err(e) => return fail(build_message(&e)),
    };
    let url = input.url.unwrap_or("");
    let uri = url
        .parse::<Uri>()
        .ok()
        .and_then(|u| u.path_and_query().map(|p| p.as_str().to_owned()))
        .and_then(|p| p.parse::<Uri>().ok())
        .unwrap_or_else(|| Uri::from_static("/"));
    let method = Method::POST;
    let req = Inbound {
        method: &method,
        uri: &uri,
        headers: &headers,
        public_url: url,
        now_ms: input.now_ms,
    };
    let body = Payload::from(input.body);
    match verifier.verify(&req, &body) {
        Ok(v) => {
            let mut out = format!(
                "valid: provider {}, secret #{}",
                input.provider, v.secret_index
            );
            if let Some(id) = v.event_id {
                let _ = write!(out, ", event id {id}");
            }
            if verifier.handshake(&req, &body).is_some() {
                out.push_str(" (a handshake: the proxy answers it itself)");
            }
            Ok(format!("{out}\n{fingerprint}\n"))
        }
        Err(r) => fail(explain(&r)),
    }
}

/// One line per rejection, naming the JSON error code the proxy would use.
fn explain(r: &Rejection) -> String {
    match r {
        Rejection::MissingSignature { detail } => format!("missing_signature: {detail}"),
        Rejection::InvalidSignature { detail } => format!("invalid_signature: {detail}"),
        Rejection::TimestampOutOfTolerance { detail } => {
            format!("timestamp_out_of_tolerance: {detail}")
        }
    }
}

fn body_fingerprint(body: &[u8]) -> String {
    let hash = digest::digest(&digest::SHA256, body);
    format!(
        "body: {} bytes, sha256 {}",
        body.len(),
        hex::encode(hash.as_ref())
    )
}

/// `Name: value` lines → a header map; a malformed line is an error naming it.
fn parse_headers(lines: &[String]) -> Result<HeaderMap, String> {
    let mut map = HeaderMap::new();
    for line in lines {
        let Some((name, value)) = line.split_once(':') else {
            return Err(format!("-H {line:?} is not \"Name: value\""));
        };
        let name = HeaderName::from_bytes(name.trim().as_bytes())
            .map_err(|_| format!("-H: {:?} is not a header name", name.trim()))?;
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
        let input = VerifyInput {
            provider: "github",
            secrets: vec![Secret::new(b"It's a Secret to Everybody".to_vec())],
            headers: &lines,
            url: None,
            tolerance: None,
            body: b"Hello, World!",
            now_ms: 0,
        };
        let err = verify_report(&input).unwrap_err();
        assert!(err.contains("invalid_signature"), "{err}");
        assert!(err.contains("looks like base64"), "{err}");
        assert!(err.contains("body: 13 bytes, sha256 dffd6021bb2bd5b0af676290809ec3a53191dd81c7f70a4b28688a362182986f"), "{err}");
        assert!(!err.contains("dXY3MTA3"), "echoes the signature: {err}");
        let bad = vec!["no colon".to_owned()];
        let err = verify_report(&VerifyInput {
            headers: &bad,
            ..input.clone()
        })
        .unwrap_err();
        assert!(err.contains("not \"Name: value\""), "{err}");
    }
}
