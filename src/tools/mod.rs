//! The offline tools behind `hookguard sign`, `verify` and `providers`:
//! produce the headers a provider would send, check a captured request
//! against a secret and explain exactly why it fails, and list the catalog.
//!
//! Owns the wording of those reports. Does not own any scheme logic: signing
//! and verifying go through `providers::sign` / `providers::build`, so the
//! tools check exactly what the proxy checks. Never prints a secret or a
//! received signature.
//!
//! Layout: this module (the commands' entry points, signing, secrets,
//! bodies), `target` (the scheme and keys, from flags or a route), `route`
//! (`-c CONFIG --route PATH`), `verify` (checking and explaining), `hints`
//! (keys in the wrong form), `listing` (the provider tables).

use std::fmt::Write as _;
use std::path::Path;

use crate::cli::{SignArgs, VerifyArgs};
use crate::config;
use crate::providers::{self, BuildError, SignRequest};
use crate::secret::Secret;

use hints::KeyUse;

mod engine_hints;
mod hints;
mod listing;
mod route;
mod target;
mod verify;

pub use listing::{providers_markdown, providers_table};
pub(crate) use target::{uses_public_keys, Target};
pub(crate) use verify::{verify_report, VerifyInput};

/// Why an offline tool failed; decides the exit status.
#[derive(Debug)]
pub enum Failure {
    /// The request does not verify, or an input is unusable: exit 1.
    Tool(String),
    /// The configuration given with `-c` is invalid: printed as `check`
    /// prints it, exit 2 (as `check`).
    Config(config::ConfigErrors),
}

impl Failure {
    /// The process exit status for this failure.
    pub fn exit_code(&self) -> u8 {
        match self {
            Self::Tool(_) => 1,
            Self::Config(_) => 2,
        }
    }
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Tool(text) => f.write_str(text.trim_end()),
            Self::Config(errors) => write!(f, "{errors}"),
        }
    }
}

impl From<String> for Failure {
    fn from(text: String) -> Self {
        Self::Tool(text)
    }
}

/// `hookguard sign`: the header lines for the body in FILE (or stdin).
pub fn sign(args: &SignArgs) -> Result<String, Failure> {
    let now_s = crate::clock::unix_millis().div_euclid(1000);
    let route = route::target(&args.route)?;
    let provider = match (&route, &args.provider) {
        (Some(t), _) => t.provider.clone(),
        (None, Some(p)) => p.clone(),
        (None, None) => return Err(Failure::Tool("give --provider or --route".into())),
    };
    let secret = match (&args.secret, &route) {
        (Some(s), _) => read_secret(s)?,
        (None, Some(t)) => t.signing_secret(now_s)?,
        (None, None) => return Err(Failure::Tool("give the secret with --secret".into())),
    };
    let body = read_body(args.file.as_deref())?;
    let route_url = route
        .as_ref()
        .and_then(|t| t.route.as_ref()?.public_url.as_deref());
    let req = SignRequest {
        body: &body,
        timestamp: args.timestamp.unwrap_or(now_s),
        id: args.id.as_deref(),
        url: args.url.as_deref().or(route_url),
        method: "POST",
    };
    let (hmac, token_header) = match &route {
        Some(t) => (t.hmac.as_ref(), t.token_header.as_deref()),
        None => (None, None),
    };
    let headers = match (hmac, token_header) {
        (Some(hmac), _) => providers::sign_generic(hmac, secret.expose(), &req),
        (None, Some(h)) => providers::sign_token_route(&provider, h, secret.expose(), &req),
        (None, None) => providers::sign(&provider, secret.expose(), &req),
    }
    .map_err(|e| sign_error(&provider, &e, &secret))?;
    let mut out = String::new();
    for (name, value) in headers {
        let _ = writeln!(out, "{name}: {value}");
    }
    Ok(out)
}

/// Why `sign` could not sign, with a hint when the key has the wrong shape.
fn sign_error(provider: &str, e: &BuildError, secret: &Secret) -> String {
    if e.field == "url" {
        return format!("cannot sign: --url: {}", e.message);
    }
    if e.field != "secret" {
        return format!("cannot sign: {e}");
    }
    let mut text = format!("cannot sign: --secret: {}", e.message);
    if uses_public_keys(provider) {
        if let Some(hint) = hints::key_hint(secret.expose(), KeyUse::PrivateKey, &e.message) {
            text.push_str("\nhint: ");
            text.push_str(hint);
        }
    }
    text
}

/// `hookguard verify`: the success report, or the reason it fails.
pub fn verify(args: &VerifyArgs) -> Result<String, Failure> {
    let tolerance = match &args.tolerance {
        Some(t) => Some(config::parse_duration(t).map_err(|e| format!("--tolerance: {e}"))?),
        None => None,
    };
    let target = match (route::target(&args.route)?, &args.provider) {
        (Some(mut target), _) => {
            target.override_keys(&args.secret, &args.public_key)?;
            target.tolerance = tolerance.or(target.tolerance);
            target
        }
        (None, Some(p)) => Target::from_flags(p, &args.secret, &args.public_key, tolerance)?,
        (None, None) => return Err(Failure::Tool("give --provider or --route".into())),
    };
    let body = read_body(args.file.as_deref())?;
    let key_file = match &args.key_file {
        Some(p) => Some(
            std::fs::read(p)
                .map_err(|e| format!("--key-file: cannot read {}: {e}", p.display()))?,
        ),
        None => None,
    };
    Ok(verify_report(&VerifyInput {
        target: &target,
        headers: &args.headers,
        url: args.url.as_deref(),
        body: &body,
        now_ms: crate::clock::unix_millis(),
        key_file: key_file.as_deref(),
    })?)
}

/// The body from `file`, or stdin when it is `-` or absent.
fn read_body(file: Option<&Path>) -> Result<Vec<u8>, String> {
    use std::io::Read as _;
    match file {
        Some(p) if p.as_os_str() != "-" => {
            std::fs::read(p).map_err(|e| format!("cannot read {}: {e}", p.display()))
        }
        _ => {
            let mut body = Vec::new();
            std::io::stdin()
                .read_to_end(&mut body)
                .map_err(|e| format!("cannot read stdin: {e}"))?;
            Ok(body)
        }
    }
}

/// Reads a `--secret` value: `env:NAME`, `file:PATH` (trailing newline
/// trimmed) or the literal text, so secrets can stay out of shell history.
pub(crate) fn read_secret(arg: &str) -> Result<Secret, String> {
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
