//! Test helpers shared by the family test modules: building verifiers from
//! literal secrets and running `precheck` + `verify` on literal headers.
//! Test-only; owns no behaviour.

use std::time::Duration;

use bytes::Bytes;
use http::{HeaderMap, HeaderName, HeaderValue, Method, Uri};

use super::{
    build, GenericHmac, Inbound, ProviderParams, Rejection, SecretEntry, SharedVerifier, Verified,
};
use crate::body::Payload;
use crate::secret::Secret;

/// Secrets that never expire.
pub(crate) fn secrets(values: &[&str]) -> Vec<SecretEntry> {
    values
        .iter()
        .map(|v| SecretEntry {
            value: Secret::new(v.as_bytes()),
            expires: None,
            origin: "literal".into(),
        })
        .collect()
}

/// Builds `name` with these secrets and no other options.
pub(crate) fn verifier(name: &str, secrets: &[SecretEntry]) -> SharedVerifier {
    build_with(name, secrets, None, None).expect("builds")
}

/// Builds `name` with every option spelled out.
pub(crate) fn build_with(
    name: &str,
    secrets: &[SecretEntry],
    tolerance: Option<Duration>,
    hmac: Option<&GenericHmac>,
) -> Result<SharedVerifier, super::BuildError> {
    build(
        name,
        ProviderParams {
            secrets,
            tolerance,
            hmac,
            ..ProviderParams::default()
        },
    )
}

/// Header map from literal pairs (values may be arbitrary bytes).
pub(crate) fn headers(pairs: &[(&str, &[u8])]) -> HeaderMap {
    let mut map = HeaderMap::new();
    for (k, v) in pairs {
        map.append(
            HeaderName::from_bytes(k.as_bytes()).expect("test header name"),
            HeaderValue::from_bytes(v).expect("test header value"),
        );
    }
    map
}

/// The head of a request with no public URL, clock or fetched key; tests
/// that need one of those set it with struct update syntax.
pub(crate) fn inbound<'a>(method: &'a Method, uri: &'a Uri, headers: &'a HeaderMap) -> Inbound<'a> {
    Inbound {
        method,
        uri,
        headers,
        public_url: "",
        now_ms: 0,
        key: None,
    }
}

/// Runs `precheck`, then `verify`, the way the pipeline does; the precheck
/// must never reject a request that `verify` accepts.
pub(crate) fn run(
    v: &SharedVerifier,
    map: &HeaderMap,
    body: &[u8],
    now_secs: i64,
) -> Result<Verified, Rejection> {
    run_at(v, map, body, "/hook", now_secs * 1000)
}

/// [`run`] for a POST to `path` (schemes that sign the path) at `now_ms`.
pub(crate) fn run_at(
    v: &SharedVerifier,
    map: &HeaderMap,
    body: &[u8],
    path: &str,
    now_ms: i64,
) -> Result<Verified, Rejection> {
    let method = Method::POST;
    let uri: Uri = path.parse().expect("test path");
    let req = Inbound {
        method: &method,
        uri: &uri,
        headers: map,
        public_url: "https://example.com/hook",
        now_ms,
        key: None,
    };
    precheck_and_verify(v, &req, body)
}

/// The head-only `precheck` of a POST to `/hook` with `map` at `now_secs`:
/// what the pipeline asks before it reads any body.
pub(crate) fn precheck_at(
    v: &SharedVerifier,
    map: &HeaderMap,
    now_secs: i64,
) -> Result<(), Rejection> {
    let uri = Uri::from_static("/hook");
    v.precheck(&Inbound {
        method: &Method::POST,
        uri: &uri,
        headers: map,
        public_url: "https://example.com/hook",
        now_ms: now_secs * 1000,
        key: None,
    })
}

/// `precheck`, then `verify` of `body` in every framing, the way the pipeline
/// runs them; the precheck must never reject a request that `verify`
/// accepts, nor `verify` accept what the precheck refused.
pub(crate) fn precheck_and_verify(
    v: &SharedVerifier,
    req: &Inbound<'_>,
    body: &[u8],
) -> Result<Verified, Rejection> {
    let pre = v.precheck(req);
    let full = verify_in_every_framing(v, req, body);
    if full.is_ok() {
        assert_eq!(pre, Ok(()), "precheck refused a valid request");
    }
    if let Err(e) = &pre {
        assert!(
            full.is_err(),
            "verify accepted what precheck refused: {e:?}"
        );
    }
    full
}

/// `body` as hyper may deliver it: whole, cut in two, and one byte per frame
/// (gathered into one tail after the first).
fn framings(body: &[u8]) -> [Payload; 3] {
    let (head, tail) = body.split_at(body.len() / 2);
    let mut halves = Payload::from(head);
    halves.push(Bytes::copy_from_slice(tail));
    let mut bytes = Payload::new();
    for byte in body.chunks(1) {
        bytes.push(Bytes::copy_from_slice(byte));
    }
    [Payload::from(body), halves, bytes]
}

/// `verify` of `body` in every framing: the verdict, and what it proves, must
/// not depend on how the body arrived.
fn verify_in_every_framing(
    v: &SharedVerifier,
    req: &Inbound<'_>,
    body: &[u8],
) -> Result<Verified, Rejection> {
    let [whole, others @ ..] = framings(body).map(|payload| v.verify(req, &payload));
    for other in others {
        assert_eq!(other, whole, "the body's framing changed the verdict");
    }
    whole
}

/// The variant name of a result, for compact assertions.
pub(crate) fn kind(r: &Result<Verified, Rejection>) -> &'static str {
    match r {
        Ok(_) => "ok",
        Err(Rejection::MissingSignature { .. }) => "missing",
        Err(Rejection::InvalidSignature { .. }) => "invalid",
        Err(Rejection::TimestampOutOfTolerance { .. }) => "timestamp",
    }
}

/// Deterministic garbage for the fuzz-ish loops (xorshift64*).
pub(crate) struct Garbage(u64);

impl Garbage {
    pub(crate) fn new(seed: u64) -> Self {
        Self(seed | 1)
    }

    pub(crate) fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// A header value: random bytes from an alphabet rich in separators,
    /// sometimes a mutation of `seed`, sometimes long.
    pub(crate) fn value(&mut self, seed: &[u8]) -> Vec<u8> {
        const ALPHABET: &[u8] = b"tv1v0=,;. _-+/0123456789abcdefABCDEFwhsec\t\x80\xff:sha256";
        let mode = self.next() % 4;
        let len = match self.next() % 8 {
            0 => 5000,
            1 => 0,
            n => (n as usize) * 13,
        };
        let mut out: Vec<u8> = if mode == 0 { seed.to_vec() } else { Vec::new() };
        if mode == 0 && !out.is_empty() {
            for _ in 0..(1 + self.next() % 3) {
                let i = (self.next() as usize) % out.len();
                out[i] = ALPHABET[(self.next() as usize) % ALPHABET.len()];
            }
        } else {
            out.extend((0..len).map(|_| ALPHABET[(self.next() as usize) % ALPHABET.len()]));
        }
        out
    }
}
