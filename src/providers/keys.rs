//! A route's secrets as keys, and the one place where a received signature
//! or token is compared with the expected one.
//!
//! Owns: the key ring (secrets in configuration order, precomputed
//! `ring::hmac::Key`s, or RustCrypto HMAC-MD5 states since ring has no MD5,
//! with their expiry), the blinding key for constant-time comparison
//! of values that are not an HMAC (shared tokens), and the matching loops
//! that produce `Verified.secret_index` and the audit detail naming the
//! unexpired secrets tried. Tags are compared with `subtle`'s constant-time
//! equality, blinded values with `ring::hmac::verify`; nothing here uses `==`
//! on secret-dependent bytes.
//!
//! Does not own: decoding signatures or reading headers (`common.rs`).

use std::borrow::Cow;

use ::hmac::Mac as _;
use md5::Digest as _;
use ring::{digest, hmac};
use subtle::ConstantTimeEq;

use base64::Engine as _;

use super::common::{Part, Sig, Signed, BASE64_LENIENT};
use super::{BuildError, HmacAlgorithm, HmacKeyEncoding, Rejection, SecretEntry};
use crate::secret::Secret;

/// How a scheme turns each secret's text into its HMAC key, applied once at
/// build: an optional prefix removed, then the rest used as is or decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct KeyDecoding {
    pub(crate) encoding: HmacKeyEncoding,
    /// Removed from the start of a secret that has it (`whsec_`).
    pub(crate) prefix: Option<Cow<'static, str>>,
}

impl KeyDecoding {
    /// The secret's own bytes: most providers.
    pub(crate) const UTF8: Self = Self::new(HmacKeyEncoding::Utf8);

    /// `encoding`, with no prefix.
    pub(crate) const fn new(encoding: HmacKeyEncoding) -> Self {
        Self {
            encoding,
            prefix: None,
        }
    }

    /// The key bytes of one secret, or why it has none (never echoing it).
    pub(crate) fn key<'s>(&self, secret: &'s [u8]) -> Result<Cow<'s, [u8]>, String> {
        let text = match &self.prefix {
            Some(p) => secret.strip_prefix(p.as_bytes()).unwrap_or(secret),
            None => secret,
        };
        if text.is_empty() {
            return Err("nothing is left of the secret after key_prefix".into());
        }
        let what = match self.encoding {
            HmacKeyEncoding::Utf8 => return Ok(Cow::Borrowed(text)),
            HmacKeyEncoding::Hex => "hex",
            HmacKeyEncoding::Base64 => "base64",
        };
        let decoded = match self.encoding {
            HmacKeyEncoding::Hex => hex::decode(text).ok(),
            _ => BASE64_LENIENT.decode(text).ok(),
        };
        match decoded {
            Some(key) if !key.is_empty() => Ok(Cow::Owned(key)),
            _ => Err(format!(
                "the key is {what} (key_encoding), but this secret is not {what} text{}",
                if self.prefix.is_some() {
                    " after key_prefix"
                } else {
                    ""
                }
            )),
        }
    }
}

/// HMAC-MD5 from RustCrypto: ring offers no MD5.
type HmacMd5 = ::hmac::Hmac<md5::Md5>;

/// One secret as the key of its scheme's MAC, derived once at build.
pub(crate) enum MacKey {
    /// HMAC-SHA1/256/512 on ring (every provider but one).
    Ring(hmac::Key),
    /// HMAC-MD5 with its padded key states precomputed (Patreon).
    Md5(Box<HmacMd5>),
    /// No MAC: a plain digest of a template that holds the secret itself
    /// (Cloudinary), for providers that sign that way.
    Hash(HmacAlgorithm, Secret),
}

/// A computed MAC, compared with a received signature in constant time.
pub(crate) enum Tag {
    Ring(hmac::Tag),
    Md5([u8; 16]),
    Digest(digest::Digest),
}

impl AsRef<[u8]> for Tag {
    fn as_ref(&self) -> &[u8] {
        match self {
            Self::Ring(tag) => tag.as_ref(),
            Self::Md5(tag) => tag,
            Self::Digest(tag) => tag.as_ref(),
        }
    }
}

impl MacKey {
    /// The key `bytes` for `algorithm`.
    pub(crate) fn new(algorithm: HmacAlgorithm, bytes: &[u8]) -> Self {
        let ring = match algorithm {
            HmacAlgorithm::Md5 => {
                // HMAC accepts keys of any length (RFC 2104), so this never fails.
                return match HmacMd5::new_from_slice(bytes) {
                    Ok(mac) => Self::Md5(Box::new(mac)),
                    Err(_) => unreachable!("HMAC takes keys of any length"),
                };
            }
            HmacAlgorithm::Sha1 => hmac::HMAC_SHA1_FOR_LEGACY_USE_ONLY,
            HmacAlgorithm::Sha256 => hmac::HMAC_SHA256,
            HmacAlgorithm::Sha512 => hmac::HMAC_SHA512,
        };
        Self::Ring(hmac::Key::new(ring, bytes))
    }

    /// The key of a scheme over `template`: a plain digest when the
    /// template names `{secret}`, else an HMAC keyed with `bytes`.
    pub(crate) fn for_template(algorithm: HmacAlgorithm, bytes: &[u8], template: &[Part]) -> Self {
        match template.contains(&Part::Secret) {
            true => Self::Hash(algorithm, Secret::new(bytes)),
            false => Self::new(algorithm, bytes),
        }
    }

    /// The MAC of `signed`, fed piece by piece (no copy of the body).
    pub(crate) fn tag(&self, signed: &Signed<'_>) -> Tag {
        match self {
            Self::Ring(key) => {
                let mut ctx = hmac::Context::with_key(key);
                signed.feed(|piece| ctx.update(piece));
                Tag::Ring(ctx.sign())
            }
            Self::Md5(key) => {
                let mut mac = key.as_ref().clone();
                signed.feed(|piece| mac.update(piece));
                Tag::Md5(mac.finalize().into_bytes().into())
            }
            Self::Hash(algorithm, secret) => plain_hash(*algorithm, secret.expose(), signed),
        }
    }

    /// The ring key, for replies keyed like the signature (Zoom's
    /// `encryptedToken`, X's CRC); no provider with a handshake uses MD5.
    fn ring(&self) -> Option<&hmac::Key> {
        match self {
            Self::Ring(key) => Some(key),
            Self::Md5(_) | Self::Hash(..) => None,
        }
    }
}

/// The digest of `signed` with `secret` in its `{secret}` place.
fn plain_hash(algorithm: HmacAlgorithm, secret: &[u8], signed: &Signed<'_>) -> Tag {
    let ring = match algorithm {
        HmacAlgorithm::Md5 => {
            let mut hash = md5::Md5::new();
            signed.feed_keyed(secret, |piece| hash.update(piece));
            return Tag::Md5(hash.finalize().into());
        }
        HmacAlgorithm::Sha1 => &digest::SHA1_FOR_LEGACY_USE_ONLY,
        HmacAlgorithm::Sha256 => &digest::SHA256,
        HmacAlgorithm::Sha512 => &digest::SHA512,
    };
    let mut ctx = digest::Context::new(ring);
    signed.feed_keyed(secret, |piece| ctx.update(piece));
    Tag::Digest(ctx.finish())
}

/// Length in bytes of the tags `algorithm` produces.
fn tag_len(algorithm: HmacAlgorithm) -> usize {
    match algorithm {
        HmacAlgorithm::Md5 => 16,
        HmacAlgorithm::Sha1 => 20,
        HmacAlgorithm::Sha256 => 32,
        HmacAlgorithm::Sha512 => 64,
    }
}

/// A route's secrets as precomputed MAC keys, in configuration order, so
/// `Verified.secret_index` is the position in `secrets`.
pub(crate) struct KeyRing {
    keys: Vec<(MacKey, Option<i64>)>,
    tag_len: usize,
}

impl KeyRing {
    /// Keys whose bytes are the secret's UTF-8 text (most providers).
    pub(crate) fn utf8(
        secrets: &[SecretEntry],
        algorithm: HmacAlgorithm,
    ) -> Result<Self, BuildError> {
        Self::build(secrets, algorithm, |raw| Ok(Cow::Borrowed(raw)))
    }

    /// Keys decoded from each secret as `decoding` says.
    pub(crate) fn decoded(
        secrets: &[SecretEntry],
        algorithm: HmacAlgorithm,
        decoding: &KeyDecoding,
    ) -> Result<Self, BuildError> {
        Self::build(secrets, algorithm, |raw| decoding.key(raw))
    }

    /// The keys of a scheme over `template`, decoded as `decoding` says:
    /// plain digests when it names `{secret}` (see [`MacKey::for_template`]).
    pub(crate) fn for_template(
        secrets: &[SecretEntry],
        algorithm: HmacAlgorithm,
        decoding: &KeyDecoding,
        template: &[Part],
    ) -> Result<Self, BuildError> {
        let make = |bytes: &[u8]| MacKey::for_template(algorithm, bytes, template);
        Self::build_with(secrets, algorithm, |raw| decoding.key(raw), make)
    }

    /// Keys derived from each secret by `decode` (e.g. `whsec_` base64); a
    /// decode error becomes a `BuildError` on `secrets[i]`.
    pub(crate) fn build(
        secrets: &[SecretEntry],
        algorithm: HmacAlgorithm,
        decode: impl Fn(&[u8]) -> Result<Cow<'_, [u8]>, String>,
    ) -> Result<Self, BuildError> {
        Self::build_with(secrets, algorithm, decode, |bytes| {
            MacKey::new(algorithm, bytes)
        })
    }

    /// Keys made by `make` from each secret as `decode` gives it.
    fn build_with(
        secrets: &[SecretEntry],
        algorithm: HmacAlgorithm,
        decode: impl Fn(&[u8]) -> Result<Cow<'_, [u8]>, String>,
        make: impl Fn(&[u8]) -> MacKey,
    ) -> Result<Self, BuildError> {
        if secrets.is_empty() {
            return Err(BuildError {
                field: "secrets".into(),
                message: "no secret configured: the route would verify nothing".into(),
            });
        }
        let keys = secrets
            .iter()
            .enumerate()
            .map(|(i, entry)| {
                let field = || format!("secrets[{i}]");
                if entry.value.is_empty() {
                    return Err(BuildError {
                        field: field(),
                        message: "secret is empty".into(),
                    });
                }
                let bytes = decode(entry.value.expose()).map_err(|message| BuildError {
                    field: field(),
                    message,
                })?;
                Ok((make(&bytes), entry.expires))
            })
            .collect::<Result<_, _>>()?;
        Ok(Self {
            keys,
            tag_len: tag_len(algorithm),
        })
    }

    /// Length of the tags these keys produce (bytes).
    pub(crate) fn tag_len(&self) -> usize {
        self.tag_len
    }

    /// The key of secret `index` (for replies signed with the secret that
    /// verified, e.g. Zoom's `encryptedToken`).
    pub(crate) fn key(&self, index: usize) -> Option<&hmac::Key> {
        self.keys.get(index).and_then(|(k, _)| k.ring())
    }

    /// The first unexpired key: the one a reply keyed with "the" secret
    /// uses (X's CRC), as the provider holds one secret at a time.
    pub(crate) fn first_active(&self, now_ms: i64) -> Option<&hmac::Key> {
        self.active(now_ms).next().and_then(|(_, key)| key.ring())
    }

    fn active(&self, now_ms: i64) -> impl Iterator<Item = (usize, &MacKey)> {
        self.keys
            .iter()
            .enumerate()
            .filter(move |(_, (_, expires))| is_active(*expires, now_ms))
            .map(|(i, (k, _))| (i, k))
    }
}

/// A secret expiring at `expires` (Unix seconds) verifies strictly before it.
pub(crate) fn is_active(expires: Option<i64>, now_ms: i64) -> bool {
    expires.is_none_or(|e| now_ms.div_euclid(1000) < e)
}

/// Secret per-verifier key used to compare values in constant time via
/// `ring::hmac::verify` when the other side is not an HMAC over one slice
/// (several candidate signatures, shared tokens). Comparing blinded values
/// also means a timing leak, if any, would be about random-looking bytes.
pub(crate) struct Blind(hmac::Key);

impl Blind {
    /// A fresh random key.
    pub(crate) fn new() -> Result<Self, BuildError> {
        hmac::Key::generate(hmac::HMAC_SHA256, &ring::rand::SystemRandom::new())
            .map(Self)
            .map_err(|_| BuildError {
                field: "provider".into(),
                message: "system random number generator failed".into(),
            })
    }

    /// Blinds a value for later [`Blind::matches`] calls.
    pub(crate) fn seal(&self, value: &[u8]) -> hmac::Tag {
        hmac::sign(&self.0, value)
    }

    /// True when `value` equals the value `sealed` was made from (constant time).
    pub(crate) fn matches(&self, value: &[u8], sealed: &hmac::Tag) -> bool {
        hmac::verify(&self.0, value, sealed.as_ref()).is_ok()
    }
}

/// A route's shared values (a Graph `clientState`, an Event Grid key, a
/// Strava subscription id), each kept only as a tag blinded under a key of
/// this process, with its expiry: compared in constant time, never held
/// in clear.
pub(crate) struct SealedSecrets {
    blind: Blind,
    sealed: Vec<(hmac::Tag, Option<i64>)>,
}

impl SealedSecrets {
    /// Seals the route's secrets: refused when there are none, or one is
    /// empty, since the route would then verify nothing.
    pub(crate) fn new(secrets: &[SecretEntry]) -> Result<Self, BuildError> {
        if secrets.is_empty() {
            return Err(BuildError {
                field: "secrets".into(),
                message: "no secret configured: the route would verify nothing".into(),
            });
        }
        let blind = Blind::new()?;
        let sealed = secrets
            .iter()
            .enumerate()
            .map(|(i, s)| match s.value.expose() {
                [] => Err(BuildError {
                    field: format!("secrets[{i}]"),
                    message: "secret is empty".into(),
                }),
                value => Ok((blind.seal(value), s.expires)),
            })
            .collect::<Result<_, _>>()?;
        Ok(Self { blind, sealed })
    }

    /// The index of the first unexpired secret `value` equals. Every one is
    /// compared, whichever matches, so the time taken says nothing.
    pub(crate) fn matching(&self, value: &[u8], now_ms: i64) -> Option<usize> {
        let mut found = None;
        for (i, (tag, expires)) in self.sealed.iter().enumerate() {
            if is_active(*expires, now_ms) && self.blind.matches(value, tag) && found.is_none() {
                found = Some(i);
            }
        }
        found
    }

    /// The rejection's detail when `matching` found none: `mismatch`, or
    /// that every secret has expired.
    pub(crate) fn no_match(&self, mismatch: &str, now_ms: i64) -> String {
        let expiries = self.sealed.iter().map(|(_, e)| *e);
        no_match_detail(mismatch, SECRET, expiries, now_ms, None)
    }
}

/// True when the computed `tag` equals the signature bytes `sig`, compared
/// in constant time (`subtle`, the comparison RustCrypto's `hmac` uses).
/// Only a length mismatch returns early, and lengths are public.
fn tag_matches(tag: &impl AsRef<[u8]>, sig: &[u8]) -> bool {
    bool::from(tag.as_ref().ct_eq(sig))
}

/// Tries every unexpired key against one signature ([`match_any`] with a
/// single candidate). Returns the matching secret's index.
pub(crate) fn match_one(
    keys: &KeyRing,
    now_ms: i64,
    signed: &Signed<'_>,
    sig: &Sig,
) -> Result<usize, Rejection> {
    match_any(keys, now_ms, signed, std::slice::from_ref(sig))
}

/// Tries every unexpired key against every candidate signature (secret
/// rotation on the sender's side): one HMAC per key, fed the signed template
/// piece by piece (a templated message such as `{id}.{timestamp}.{body}` is
/// never joined into a copy), checked against each candidate — a long list
/// costs no extra passes over the body. Returns the matching secret's index;
/// which candidate matched is not reported, as nothing may depend on it (the
/// sender chooses the list).
pub(crate) fn match_any(
    keys: &KeyRing,
    now_ms: i64,
    signed: &Signed<'_>,
    candidates: &[Sig],
) -> Result<usize, Rejection> {
    for (i, key) in keys.active(now_ms) {
        let tag = key.tag(signed);
        // Every candidate is compared, so the time does not depend on which one matched.
        let mut matched = false;
        for candidate in candidates {
            matched |= tag_matches(&tag, candidate.bytes());
        }
        if matched {
            return Ok(i);
        }
    }
    Err(no_match(keys, now_ms, candidates.len()))
}

/// The audit detail for "nothing matched": counts only, never values.
pub(crate) fn no_match(keys: &KeyRing, now_ms: i64, candidates: usize) -> Rejection {
    Rejection::InvalidSignature {
        detail: no_match_detail(
            "signature does not match",
            SECRET,
            keys.keys.iter().map(|(_, expires)| *expires),
            now_ms,
            Some(candidates),
        ),
    }
}

/// What a route's keys are called in a detail: singular and plural.
pub(crate) type KeyNoun = (&'static str, &'static str);

/// Shared secrets (HMAC and token schemes).
pub(crate) const SECRET: KeyNoun = ("secret", "secrets");

/// Public keys (asymmetric schemes).
pub(crate) const PUBLIC_KEY: KeyNoun = ("public key", "public keys");

/// Indices listed in a detail; a longer list ends in `...`.
const LISTED_INDICES: usize = 8;

/// The detail for a request no key verified: `mismatch`, then how many
/// signature candidates (none for a token) were tried against which
/// unexpired keys, by index, and how many had expired. Indices and counts
/// only: an operator watching a rotation sees which entries were live.
pub(crate) fn no_match_detail(
    mismatch: &str,
    noun: KeyNoun,
    expiries: impl Iterator<Item = Option<i64>>,
    now_ms: i64,
    signatures: Option<usize>,
) -> String {
    let mut active = Vec::new();
    let mut total = 0usize;
    for (i, expires) in expiries.enumerate() {
        total += 1;
        if is_active(expires, now_ms) {
            active.push(i);
        }
    }
    if active.is_empty() {
        return format!("no active {}: all {total} have expired", noun.0);
    }
    let mut out = format!("{mismatch}: ");
    match signatures {
        Some(1) => out.push_str("1 signature tried against "),
        Some(n) => out.push_str(&format!("{n} signatures tried against ")),
        None => out.push_str("tried against "),
    }
    let plural = if active.len() == 1 { noun.0 } else { noun.1 };
    out.push_str(&format!("{} unexpired {plural} (", active.len()));
    for (n, i) in active.iter().take(LISTED_INDICES).enumerate() {
        if n > 0 {
            out.push_str(", ");
        }
        out.push_str(&format!("#{i}"));
    }
    if active.len() > LISTED_INDICES {
        out.push_str(", ...");
    }
    out.push(')');
    let expired = total - active.len();
    if expired > 0 {
        out.push_str(&format!(", {expired} expired"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expiry_boundary_is_exclusive() {
        assert!(is_active(None, i64::MIN));
        assert!(is_active(Some(10), 9_999));
        assert!(!is_active(Some(10), 10_000));
        assert!(!is_active(Some(10), i64::MAX));
        assert!(is_active(Some(0), -1));
    }

    #[test]
    fn a_no_match_detail_lists_the_unexpired_indices() {
        let now = 2_000_000; // ms: secrets expiring at 1 s have expired
        let detail = |expiries: &[Option<i64>], sigs| {
            no_match_detail("mismatch", SECRET, expiries.iter().copied(), now, sigs)
        };
        assert_eq!(
            detail(&[None, Some(1), None], Some(3)),
            "mismatch: 3 signatures tried against 2 unexpired secrets (#0, #2), 1 expired"
        );
        assert_eq!(
            detail(&[None], None),
            "mismatch: tried against 1 unexpired secret (#0)"
        );
        assert_eq!(
            detail(&[Some(1), Some(1)], Some(1)),
            "no active secret: all 2 have expired"
        );
        let many = detail(&[None; 12], Some(1));
        assert!(
            many.ends_with("(#0, #1, #2, #3, #4, #5, #6, #7, ...)"),
            "{many}"
        );
    }

    #[test]
    fn blind_matches_only_the_same_bytes() {
        let b = Blind::new().unwrap();
        let sealed = b.seal(b"token");
        assert!(b.matches(b"token", &sealed));
        for other in [&b""[..], b"toke", b"token ", b"Token", b"tokens"] {
            assert!(!b.matches(other, &sealed), "{other:?}");
        }
        let other_key = Blind::new().unwrap();
        assert!(!other_key.matches(b"token", &sealed));
    }

    #[test]
    fn sealed_secrets_match_the_first_unexpired_equal_value() {
        let entry = |v: &str, expires| SecretEntry {
            value: crate::secret::Secret::new(v.as_bytes().to_vec()),
            expires,
            origin: "literal".into(),
        };
        // Expiries in Unix seconds; a secret verifies strictly before its own.
        let (now, now_s) = (1_700_000_000_000, 1_700_000_000);
        let sealed = SealedSecrets::new(&[
            entry("old", Some(now_s)),
            entry("same", None),
            entry("same", None),
            entry("next", Some(now_s + 1)),
        ])
        .unwrap();
        assert_eq!(sealed.matching(b"old", now), None, "expired");
        assert_eq!(sealed.matching(b"same", now), Some(1), "the first of two");
        assert_eq!(sealed.matching(b"next", now), Some(3));
        assert_eq!(sealed.matching(b"nex", now), None);
        assert!(sealed.no_match("mismatch", now).starts_with("mismatch: "));
        let all_old = SealedSecrets::new(&[entry("old", Some(now_s))]).unwrap();
        assert!(all_old.no_match("mismatch", now).starts_with("no active"));
        let refused = |list: &[SecretEntry]| SealedSecrets::new(list).err().unwrap().field;
        assert_eq!(refused(&[]), "secrets");
        assert_eq!(refused(&[entry("a", None), entry("", None)]), "secrets[1]");
    }

    #[test]
    fn tag_matches_only_the_whole_tag() {
        // RFC 4231 test case 2: HMAC-SHA256, key "Jefe".
        let key = hmac::Key::new(hmac::HMAC_SHA256, b"Jefe");
        let tag = hmac::sign(&key, b"what do ya want for nothing?");
        let expected =
            hex::decode("5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843")
                .unwrap();
        assert!(tag_matches(&tag, &expected));
        let mut flipped = expected.clone();
        flipped[31] ^= 1;
        for wrong in [
            &expected[..31],
            &[][..],
            &flipped[..],
            &[expected.clone(), vec![0]].concat()[..],
        ] {
            assert!(!tag_matches(&tag, wrong), "{wrong:?}");
        }
    }
}
