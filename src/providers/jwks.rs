//! The keys a JWT route verifies with, as one [`KeySet`] whatever their
//! source: the route's `secrets` (HMAC), its `public_keys` (a PEM
//! `PUBLIC KEY`, one JWK, or a JWKS document), or a JWKS fetched from the
//! provider later on (built with [`KeySet::from_jwks`], looked up by `kid`).
//!
//! Owns key decoding and the rule that stops algorithm confusion: every key
//! records its family (HMAC, RSA, EC P-256/P-384, Ed25519), and a key is a
//! candidate for a token only when the token's `alg` belongs to that family
//! *and* to the scheme's allowlist. HMAC keys come only from `secrets`, and
//! a symmetric JWK (`kty: "oct"`) in `public_keys` is refused, so a public
//! key can never be used as an HMAC secret. Parsing is the libraries':
//! PEM by `rustls-pki-types`, SubjectPublicKeyInfo by `spki`, JWK by
//! `jsonwebtoken`.
//!
//! Does not own fetching (the key-fetch subsystem), nor token checks (`jwt.rs`).

use jsonwebtoken::jwk::{AlgorithmParameters, EllipticCurve, Jwk, JwkSet};
use jsonwebtoken::{Algorithm, DecodingKey};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::SubjectPublicKeyInfoDer;
use x509_cert::der::asn1::ObjectIdentifier;
use x509_cert::der::Decode;
use x509_cert::spki::SubjectPublicKeyInfoRef;

use super::fetched::{FetchedKey, KeyMaterial};
use super::keys::is_active;
use super::{BuildError, Inbound, Rejection, SecretEntry};

/// Most keys one set holds; a JWKS with more is refused (real ones hold a
/// handful), which bounds the work an unknown `kid` can cause.
pub(crate) const MAX_KEYS: usize = 32;

const RSA_ENCRYPTION: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.1");
const EC_PUBLIC_KEY: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.2.1");
const PRIME256V1: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.3.1.7");
const SECP384R1: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.132.0.34");
const ED25519: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.101.112");

/// What a key can verify: its family decides the algorithms, never the token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum KeyFamily {
    /// A shared secret: HS256/384/512.
    Hmac,
    /// An RSA public key: RS256/384/512 and PS256/384/512.
    Rsa,
    /// An EC public key on P-256: ES256.
    EcP256,
    /// An EC public key on P-384: ES384.
    EcP384,
    /// An Ed25519 public key: EdDSA.
    Ed25519,
}

impl KeyFamily {
    /// Whether a key of this family may verify a token signed with `alg`.
    pub(crate) fn allows(self, alg: Algorithm) -> bool {
        use Algorithm::*;
        match self {
            Self::Hmac => matches!(alg, HS256 | HS384 | HS512),
            Self::Rsa => matches!(alg, RS256 | RS384 | RS512 | PS256 | PS384 | PS512),
            Self::EcP256 => alg == ES256,
            Self::EcP384 => alg == ES384,
            Self::Ed25519 => alg == EdDSA,
        }
    }

    /// Name for messages and `check`.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Self::Hmac => "HMAC secret",
            Self::Rsa => "RSA key",
            Self::EcP256 => "EC P-256 key",
            Self::EcP384 => "EC P-384 key",
            Self::Ed25519 => "Ed25519 key",
        }
    }
}

/// One key: its family, optional `kid`, expiry and the decoded key.
pub(crate) struct JwtKey {
    pub(crate) family: KeyFamily,
    pub(crate) kid: Option<String>,
    pub(crate) expires: Option<i64>,
    pub(crate) key: DecodingKey,
    /// Position in the route's `secrets`/`public_keys` (`Verified.secret_index`).
    pub(crate) index: usize,
}

/// The keys of one route or one JWKS document, in order.
pub(crate) struct KeySet {
    keys: Vec<JwtKey>,
}

impl KeySet {
    /// HMAC keys: each secret's own bytes.
    pub(crate) fn from_secrets(secrets: &[SecretEntry]) -> Result<Self, BuildError> {
        let keys = secrets
            .iter()
            .enumerate()
            .map(|(index, entry)| JwtKey {
                family: KeyFamily::Hmac,
                kid: None,
                expires: entry.expires,
                key: DecodingKey::from_secret(entry.value.expose()),
                index,
            })
            .collect();
        Ok(Self { keys })
    }

    /// Public keys as configured: each a PEM `PUBLIC KEY`, a JWK, or a JWKS
    /// (every key of it, sharing the entry's index and expiry).
    pub(crate) fn from_public_keys(entries: &[SecretEntry]) -> Result<Self, BuildError> {
        let mut keys = Vec::new();
        for (index, entry) in entries.iter().enumerate() {
            let field = || format!("public_keys[{index}]");
            let parsed =
                parse_public(entry.value.expose().trim_ascii()).map_err(|message| BuildError {
                    field: field(),
                    message,
                })?;
            for (family, kid, key) in parsed {
                keys.push(JwtKey {
                    family,
                    kid,
                    expires: entry.expires,
                    key,
                    index,
                });
            }
        }
        if keys.len() > MAX_KEYS {
            return Err(BuildError {
                field: "public_keys".into(),
                message: format!("{} keys, at most {MAX_KEYS}", keys.len()),
            });
        }
        Ok(Self { keys })
    }

    /// No keys: the set of a verifier whose keys are fetched per request.
    pub(crate) fn empty() -> Self {
        Self { keys: Vec::new() }
    }

    /// Whether a key has id `kid` (the key store refreshes a set that lacks
    /// the id a token names).
    pub(crate) fn has_kid(&self, kid: &str) -> bool {
        self.keys.iter().any(|k| k.kid.as_deref() == Some(kid))
    }

    /// A JWKS document (as fetched from a provider's `jwks_uri`); keys
    /// without a usable family are skipped.
    pub(crate) fn from_jwks(bytes: &[u8]) -> Result<Self, String> {
        let set: JwkSet =
            serde_json::from_slice(bytes).map_err(|_| "not a JWKS document".to_owned())?;
        if set.keys.len() > MAX_KEYS {
            return Err(format!("{} keys, at most {MAX_KEYS}", set.keys.len()));
        }
        let keys = set
            .keys
            .iter()
            .enumerate()
            .filter_map(|(index, jwk)| {
                // A fetched set may hold keys for other uses (encryption,
                // curves we do not verify): skip them rather than refuse all.
                let (family, key) = from_jwk(jwk).ok()?;
                Some(JwtKey {
                    family,
                    kid: jwk.common.key_id.clone(),
                    expires: None,
                    key,
                    index,
                })
            })
            .collect();
        Ok(Self { keys })
    }

    /// The families present, for `check` and messages.
    pub(crate) fn families(&self) -> Vec<KeyFamily> {
        let mut out: Vec<KeyFamily> = Vec::new();
        for k in &self.keys {
            if !out.contains(&k.family) {
                out.push(k.family);
            }
        }
        out
    }

    /// The unexpired keys that may verify a token with `alg` and `kid`: the
    /// family must allow `alg`; a token naming a `kid` matches keys with that
    /// id or with none (a key configured bare is tried for every token).
    pub(crate) fn candidates<'s>(
        &'s self,
        alg: Algorithm,
        kid: Option<&'s str>,
        now_ms: i64,
    ) -> impl Iterator<Item = &'s JwtKey> + 's {
        self.keys.iter().filter(move |k| {
            k.family.allows(alg)
                && is_active(k.expires, now_ms)
                && match (kid, &k.kid) {
                    (Some(want), Some(have)) => want == have,
                    _ => true,
                }
        })
    }

    /// Expiries of the keys, for the audit detail when none matched.
    pub(crate) fn expiries(&self) -> impl Iterator<Item = Option<i64>> + '_ {
        self.keys.iter().map(|k| k.expires)
    }
}

/// A fetched JWKS, as the key store caches it (Google's, Microsoft's).
struct FetchedJwks(KeySet);

impl KeyMaterial for FetchedJwks {
    fn has_key_id(&self, id: &str) -> bool {
        self.0.has_kid(id)
    }

    fn as_any(&self) -> &dyn std::any::Any {
        self
    }
}

/// [`ParseKey`](super::ParseKey) for a JWKS document.
pub(crate) fn parse_jwks(bytes: &[u8]) -> Result<FetchedKey, String> {
    KeySet::from_jwks(bytes).map(|keys| std::sync::Arc::new(FetchedJwks(keys)) as FetchedKey)
}

/// The JWKS the key store fetched for `req` (named by `key_needed` with
/// [`parse_jwks`]).
pub(crate) fn fetched_set<'r>(req: &Inbound<'r>) -> Result<&'r KeySet, Rejection> {
    req.key
        .and_then(|k| k.as_any().downcast_ref::<FetchedJwks>())
        .map(|jwks| &jwks.0)
        .ok_or_else(|| Rejection::InvalidSignature {
            detail: "no JWKS was fetched for this request".into(),
        })
}

/// One `public_keys` entry → its keys.
fn parse_public(text: &[u8]) -> Result<Vec<(KeyFamily, Option<String>, DecodingKey)>, String> {
    if text.starts_with(b"-----BEGIN") {
        let der = SubjectPublicKeyInfoDer::from_pem_slice(text).map_err(|_| {
            "expected a PEM \"PUBLIC KEY\" (SubjectPublicKeyInfo); convert a PKCS#1 \
             \"RSA PUBLIC KEY\" with `openssl rsa -RSAPublicKey_in -pubout`"
                .to_owned()
        })?;
        let (family, key) = from_spki(der.as_ref())?;
        return Ok(vec![(family, None, key)]);
    }
    let value: serde_json::Value = serde_json::from_slice(text)
        .map_err(|_| "expected a PEM \"PUBLIC KEY\", a JWK or a JWKS (JSON)".to_owned())?;
    let jwks: Vec<Jwk> = if value.get("keys").is_some() {
        serde_json::from_value::<JwkSet>(value)
            .map_err(|e| format!("not a usable JWKS: {e}"))?
            .keys
    } else {
        vec![serde_json::from_value(value).map_err(|e| format!("not a usable JWK: {e}"))?]
    };
    jwks.iter()
        .map(|jwk| {
            let (family, key) = from_jwk(jwk)?;
            Ok((family, jwk.common.key_id.clone(), key))
        })
        .collect()
}

/// A JWK → family and key; symmetric keys are refused (they belong in
/// `secrets`, where no public key can be mistaken for one).
fn from_jwk(jwk: &Jwk) -> Result<(KeyFamily, DecodingKey), String> {
    let family = match &jwk.algorithm {
        AlgorithmParameters::RSA(_) => KeyFamily::Rsa,
        AlgorithmParameters::EllipticCurve(ec) => match ec.curve {
            EllipticCurve::P256 => KeyFamily::EcP256,
            EllipticCurve::P384 => KeyFamily::EcP384,
            _ => return Err("unsupported EC curve (P-256 and P-384 only)".into()),
        },
        AlgorithmParameters::OctetKeyPair(okp) => match okp.curve {
            EllipticCurve::Ed25519 => KeyFamily::Ed25519,
            _ => return Err("unsupported OKP curve (Ed25519 only)".into()),
        },
        AlgorithmParameters::OctetKey(_) => {
            return Err("a symmetric JWK (kty \"oct\") is a secret: put it in `secrets`".into())
        }
    };
    let key = DecodingKey::from_jwk(jwk).map_err(|e| format!("not a usable JWK: {e}"))?;
    Ok((family, key))
}

/// A DER SubjectPublicKeyInfo → family and key, in the raw form `ring`
/// verifies with (PKCS#1 for RSA, the point for EC, 32 bytes for Ed25519).
fn from_spki(der: &[u8]) -> Result<(KeyFamily, DecodingKey), String> {
    let spki = SubjectPublicKeyInfoRef::from_der(der)
        .map_err(|_| "not a DER SubjectPublicKeyInfo".to_owned())?;
    let raw = spki
        .subject_public_key
        .as_bytes()
        .ok_or_else(|| "malformed public key bit string".to_owned())?;
    let oid = spki.algorithm.oid;
    if oid == RSA_ENCRYPTION {
        return Ok((KeyFamily::Rsa, DecodingKey::from_rsa_der(raw)));
    }
    if oid == ED25519 {
        if raw.len() != 32 {
            return Err("Ed25519 public key is not 32 bytes".into());
        }
        return Ok((KeyFamily::Ed25519, DecodingKey::from_ed_der(raw)));
    }
    if oid == EC_PUBLIC_KEY {
        let curve = spki
            .algorithm
            .parameters
            .and_then(|p| p.decode_as::<ObjectIdentifier>().ok());
        let family = match curve {
            Some(c) if c == PRIME256V1 => KeyFamily::EcP256,
            Some(c) if c == SECP384R1 => KeyFamily::EcP384,
            _ => return Err("unsupported EC curve (P-256 and P-384 only)".into()),
        };
        return Ok((family, DecodingKey::from_ec_der(raw)));
    }
    Err(format!("unsupported public key algorithm {oid}"))
}
