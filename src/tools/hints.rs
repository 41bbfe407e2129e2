//! Hints for a key that a scheme could not use: recognises the usual
//! mix-ups (a private key where the public one belongs, PEM armour, hex for
//! base64, the key of a sibling scheme) from the key's shape.
//!
//! Every hint is a fixed sentence: nothing of the key is ever repeated.

use base64::Engine as _;
use ring::rand::SystemRandom;
use ring::signature::{EcdsaKeyPair, Ed25519KeyPair, ECDSA_P256_SHA256_ASN1_SIGNING};

/// What the key was given for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum KeyUse {
    /// A shared secret of an HMAC or token scheme.
    Secret,
    /// The public key an asymmetric scheme verifies with.
    PublicKey,
    /// The private key `sign` signs with for an asymmetric scheme.
    PrivateKey,
}

/// A hint for `key`, refused with `message`, when its shape explains why.
pub(crate) fn key_hint(key: &[u8], key_use: KeyUse, message: &str) -> Option<&'static str> {
    let key = key.trim_ascii();
    match key_use {
        KeyUse::Secret => key.starts_with(b"whpk_").then_some(
            "a whpk_ key is a Standard Webhooks Ed25519 public key: \
             its provider is \"standard-webhooks-ed25519\"",
        ),
        KeyUse::PublicKey => public_key_hint(key, message),
        KeyUse::PrivateKey => Some(private_key_hint(key)),
    }
}

fn public_key_hint(key: &[u8], message: &str) -> Option<&'static str> {
    if contains(key, b"PRIVATE KEY") || key.starts_with(b"whsk_") || is_pkcs8_private_key(key) {
        return Some(
            "this is a private key; verify takes the public key \
             (sign is the command that takes the private key)",
        );
    }
    if key.starts_with(b"-----BEGIN") {
        return Some(
            "remove the PEM armour: give only the base64 between the -----BEGIN and \
             -----END lines, as one line",
        );
    }
    if key.starts_with(b"whsec_") {
        return Some(
            "a whsec_ value is a Standard Webhooks HMAC secret: \
             its provider is \"standard-webhooks\"",
        );
    }
    let is_hex = !key.is_empty() && key.iter().all(u8::is_ascii_hexdigit);
    if message.contains("hex") && !is_hex && base64_decode(key).is_some() {
        return Some("this looks like base64, and the key is expected as hex");
    }
    if message.contains("base64") && is_hex {
        return Some("this looks like hex, and the key is expected as base64");
    }
    None
}

fn private_key_hint(key: &[u8]) -> &'static str {
    if key.starts_with(b"whpk_") || contains(key, b"PUBLIC KEY") {
        return "this is a public key; sign takes the matching private key";
    }
    "sign takes the private key (the public key the provider shows only verifies): \
     an Ed25519 seed as 64 hex characters or base64 (optionally whsk_), \
     or for SendGrid a P-256 key as base64 PKCS#8 DER"
}

/// Whether `key` is a base64 PKCS#8 private key of a scheme we know.
fn is_pkcs8_private_key(key: &[u8]) -> bool {
    let Some(der) = base64_decode(key) else {
        return false;
    };
    Ed25519KeyPair::from_pkcs8_maybe_unchecked(&der).is_ok()
        || EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, &der, &SystemRandom::new())
            .is_ok()
}

fn base64_decode(text: &[u8]) -> Option<Vec<u8>> {
    base64::engine::general_purpose::STANDARD.decode(text).ok()
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn public_key_mix_ups_are_named() {
        let hint = |key: &str, message: &str| key_hint(key.as_bytes(), KeyUse::PublicKey, message);
        let pem = "-----BEGIN PUBLIC KEY-----\nMFkw\n-----END PUBLIC KEY-----";
        assert!(hint(pem, "").unwrap().contains("PEM armour"));
        assert!(hint("-----BEGIN PRIVATE KEY-----", "")
            .unwrap()
            .contains("private key"));
        assert!(hint("whsk_AAAA", "").unwrap().contains("private key"));
        assert!(hint("whsec_AAAA", "")
            .unwrap()
            .contains("\"standard-webhooks\""));
        assert!(hint(
            "A6EHv/POEL4dcN0Y50vAmWfk1jCbpQ1fHdyGZBJVMbg=",
            "expected hex"
        )
        .unwrap()
        .contains("looks like base64"));
        assert!(hint("03a107bf", "expected base64 DER")
            .unwrap()
            .contains("looks like hex"));
        assert_eq!(hint("03a107bf", "expected hex"), None);
        // A real PKCS#8 P-256 private key, made here.
        let rng = SystemRandom::new();
        let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, &rng).unwrap();
        let b64 = base64::engine::general_purpose::STANDARD.encode(pkcs8.as_ref());
        assert!(hint(&b64, "not a P-256 SubjectPublicKeyInfo")
            .unwrap()
            .contains("private key"));
    }

    #[test]
    fn other_uses() {
        assert!(key_hint(b"whpk_AAAA", KeyUse::Secret, "")
            .unwrap()
            .contains("standard-webhooks-ed25519"));
        assert_eq!(key_hint(b"s3cret", KeyUse::Secret, ""), None);
        assert!(key_hint(b"whpk_AAAA", KeyUse::PrivateKey, "")
            .unwrap()
            .starts_with("this is a public key"));
        assert!(key_hint(b"nope", KeyUse::PrivateKey, "")
            .unwrap()
            .contains("sign takes the private key"));
    }
}
