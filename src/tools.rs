//! The offline tools behind `hookguard sign`, `verify` and `providers`:
//! produce the headers a provider would send, check a captured request
//! against a secret and explain exactly why it fails, and list the catalog.
//!
//! Owns the wording of those reports. Does not own any scheme logic: signing
//! and verifying go through `providers::sign` / `providers::build`, so the
//! tools check exactly what the proxy checks. Never prints a secret or a
//! received signature.

use std::fmt::Write as _;
use std::time::Duration;

use http::{HeaderMap, HeaderName, HeaderValue, Method, Uri};
use ring::digest;

use crate::body::Payload;
use crate::config::SecretEntry;
use crate::providers::{self, BuildError, Inbound, ProviderParams, Rejection, SignRequest};
use crate::secret::Secret;

/// The headers `provider` would send for `body`, as `Name: value` lines.
pub fn sign_lines(provider: &str, secret: &[u8], req: &SignRequest<'_>) -> Result<String, String> {
    let headers = providers::sign(provider, secret, req).map_err(|e| build_message(&e))?;
    let mut out = String::new();
    for (name, value) in headers {
        let _ = writeln!(out, "{name}: {value}");
    }
    Ok(out)
}

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

fn build_message(e: &BuildError) -> String {
    format!("cannot build the verifier: {e}")
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

/// `hookguard providers` as an aligned text table.
pub fn providers_table() -> String {
    let rows = providers::describe_all();
    let cols = |r: &providers::ProviderInfo| {
        [
            r.name.to_owned(),
            r.family.to_owned(),
            r.algorithm.to_owned(),
            r.tolerance.clone(),
            r.handshake.to_owned(),
        ]
    };
    let head = ["NAME", "FAMILY", "ALGORITHM", "TOLERANCE", "HANDSHAKE"];
    let mut width = head.map(str::len);
    for r in &rows {
        for (w, c) in width.iter_mut().zip(cols(r)) {
            *w = (*w).max(c.len());
        }
    }
    let mut out = String::new();
    let line = |out: &mut String, cells: [String; 5]| {
        for (i, c) in cells.iter().enumerate() {
            let _ = write!(out, "{c:w$}  ", w = width[i]);
        }
        out.truncate(out.trim_end().len());
        out.push('\n');
    };
    line(&mut out, head.map(str::to_owned));
    for r in &rows {
        line(&mut out, cols(r));
        let _ = writeln!(out, "    headers: {}", r.headers);
        let _ = writeln!(out, "    signed:  {}", r.signed);
    }
    out
}

/// The README's provider table (Markdown), generated from the catalog; a
/// test keeps README.md identical to it.
pub fn providers_markdown() -> String {
    let mut out = String::from(
        "| provider | algorithm | headers | signed | default tolerance | handshake | source |\n\
         | --- | --- | --- | --- | --- | --- | --- |\n",
    );
    for r in providers::describe_all() {
        let cell = |s: &str| s.replace('|', "\\|");
        let _ = writeln!(
            out,
            "| `{}` | {} | `{}` | `{}` | {} | {} | {} |",
            r.name,
            cell(r.algorithm),
            cell(&r.headers),
            cell(&r.signed),
            r.tolerance,
            r.handshake,
            cell(r.source)
        );
    }
    out
}

/// Reads a `--secret` value: `env:NAME`, `file:PATH` (trailing newline
/// trimmed) or the literal text, so secrets can stay out of shell history.
pub fn read_secret(arg: &str) -> Result<Secret, String> {
    if let Some(name) = arg.strip_prefix("env:") {
        return std::env::var(name)
            .map(Secret::new)
            .map_err(|_| format!("environment variable {name} is not set"));
    }
    if let Some(path) = arg.strip_prefix("file:") {
        let mut bytes =
            std::fs::read(path).map_err(|e| format!("cannot read secret file {path}: {e}"))?;
        while bytes.last().is_some_and(|b| *b == b'\n' || *b == b'\r') {
            bytes.pop();
        }
        return Ok(Secret::new(bytes));
    }
    Ok(Secret::new(arg.as_bytes().to_vec()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn readme_provider_table_is_generated_from_the_catalog() {
        let readme = include_str!("../README.md");
        let start = "<!-- providers:start -->\n";
        let from = readme.find(start).expect("README has the start marker") + start.len();
        let to = readme.find("<!-- providers:end -->").expect("end marker");
        let table = providers_markdown();
        if std::env::var_os("HOOKGUARD_BLESS").is_some() && readme[from..to] != table {
            // `HOOKGUARD_BLESS=1 cargo test --lib readme` regenerates the table.
            let path = concat!(env!("CARGO_MANIFEST_DIR"), "/README.md");
            let fresh = format!("{}{table}{}", &readme[..from], &readme[to..]);
            std::fs::write(path, fresh).expect("rewrite README.md");
            return;
        }
        assert_eq!(
            &readme[from..to],
            table,
            "README provider table is stale: regenerate it from tools::providers_markdown()"
        );
        assert_eq!(table.lines().count(), providers::names().len() + 2);
    }

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
