//! `[receipt]` validation: the secrets and key hookguard signs what it
//! forwards with, in the forms the Standard Webhooks specification gives
//! (`whsec_` + base64 for HMAC-SHA256, `whsk_` + base64 for Ed25519), so
//! that the same text configures hookguard and the app's library.
//!
//! Errors name the entry (`receipt.secret[1]`) and the form expected, never
//! the value.

use std::ops::Range;
use std::sync::Arc;

use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig, STANDARD};
use base64::engine::DecodePaddingMode;
use base64::Engine as _;
use ring::hmac;
use ring::signature::Ed25519KeyPair;

use super::raw::{RawReceipt, SecretList, SecretText};
use super::secrets::{resolve, LITERAL_WARNING};
use super::spanned::Spanned;
use super::validate::Ctx;
use crate::providers::SecretEntry;
use crate::receipt::{Receipt, ReceiptKeyPair, ReceiptSecret};

/// Standard base64 with or without its padding.
const BASE64_LENIENT: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);
/// The least key length accepted, as for the `standard-webhooks` provider.
const MIN_SECRET_BYTES: usize = 16;
/// The least key length the specification asks for.
const RECOMMENDED_SECRET_BYTES: usize = 24;

impl Ctx<'_> {
    /// `[receipt]`; `None` when absent or invalid (then with an error).
    pub(crate) fn receipt(&mut self, raw: Option<Spanned<RawReceipt>>) -> Option<Arc<Receipt>> {
        let raw = raw?;
        let span = raw.span();
        let raw = raw.into_inner();
        let errors_before = self.diag.error_count();
        let secrets = raw.secret.map(|list| self.receipt_secrets(list));
        let ed25519 = raw.ed25519_key.and_then(|key| self.ed25519_key(key));
        if self.diag.error_count() > errors_before {
            return None;
        }
        let secrets = secrets.unwrap_or_default();
        if secrets.is_empty() && ed25519.is_none() {
            self.diag.error(
                span,
                "receipt",
                "set secret (a whsec_ secret, for v1 signatures) or ed25519_key (a whsk_ key, \
                 for v1a signatures): a receipt needs something to sign with",
            );
            return None;
        }
        if ed25519.is_none()
            && secrets
                .iter()
                .all(|s| s.expires.is_some_and(|t| t <= self.now))
        {
            self.diag.error(
                span,
                "receipt.secret",
                "every secret has expired: receipts would carry no signature",
            );
            return None;
        }
        Some(Arc::new(Receipt::new(secrets, ed25519)))
    }

    /// `receipt.secret`: one entry or a list, each `whsec_` + base64.
    fn receipt_secrets(&mut self, raw: Spanned<SecretList>) -> Vec<ReceiptSecret> {
        let span = raw.span();
        let (entries, written) = self.secret_entries(raw, "receipt.secret", true, false);
        if written == 0 {
            self.diag.error(
                span.clone(),
                "receipt.secret",
                "empty: list at least one secret",
            );
        }
        let mut secrets = Vec::new();
        for (i, entry) in entries.into_iter().enumerate() {
            let field = format!("receipt.secret[{i}]");
            let at = self.tree.span_of(&field).unwrap_or(span.clone());
            if let Some(secret) = self.receipt_secret(entry, &field, at) {
                secrets.push(secret);
            }
        }
        secrets
    }

    /// One `whsec_` secret as its HMAC key. The libraries take any
    /// length; the specification asks for 24 to 64 random bytes, so fewer
    /// than 16 (the least the `standard-webhooks` provider accepts) are
    /// refused and fewer than 24 warned about. Go's, Node's and Rust's
    /// libraries decode padded base64 only (Python's adds the padding):
    /// an unpadded secret works here and is warned about.
    fn receipt_secret(
        &mut self,
        entry: SecretEntry,
        field: &str,
        span: Range<usize>,
    ) -> Option<ReceiptSecret> {
        let b64 = entry.value.expose().strip_prefix(b"whsec_");
        let Some(key) = b64.and_then(|b64| BASE64_LENIENT.decode(b64).ok()) else {
            self.diag.error(
                span,
                field,
                "expected whsec_ and the key in standard base64, as the Standard Webhooks \
                 libraries read it, e.g. generated with echo \"whsec_$(openssl rand -base64 32)\"",
            );
            return None;
        };
        if key.len() < MIN_SECRET_BYTES {
            self.diag.error(
                span,
                field,
                format!(
                    "the key is {} bytes; at least {MIN_SECRET_BYTES} are needed (the Standard \
                     Webhooks specification asks for 24 to 64 random bytes)",
                    key.len()
                ),
            );
            return None;
        }
        if key.len() < RECOMMENDED_SECRET_BYTES {
            self.diag.warn(
                field,
                format!(
                    "the key is {} bytes; the Standard Webhooks specification asks for 24 to 64 \
                     random bytes",
                    key.len()
                ),
            );
        }
        if b64.is_some_and(|b64| STANDARD.decode(b64).is_err()) {
            self.diag.warn(
                field,
                "base64 without its = padding: the Go, Node and Rust Standard Webhooks libraries \
                 refuse this secret (Python's accepts it)",
            );
        }
        Some(ReceiptSecret {
            key: hmac::Key::new(hmac::HMAC_SHA256, &key),
            expires: entry.expires,
            origin: entry.origin,
        })
    }

    /// `receipt.ed25519_key`: `whsk_` and the base64 of the 32-byte seed,
    /// or of the seed and public key (64 bytes, as libsodium and Svix
    /// store a secret key; the public half must match the seed).
    fn ed25519_key(&mut self, raw: Spanned<SecretText>) -> Option<ReceiptKeyPair> {
        const FIELD: &str = "receipt.ed25519_key";
        let span = raw.span();
        let resolved = match resolve(&raw.get_ref().0, &self.base_dir, self.env) {
            Ok(resolved) => resolved,
            Err(message) => {
                self.diag.error(span, FIELD, message);
                return None;
            }
        };
        if resolved.literal {
            self.diag.warn(FIELD, LITERAL_WARNING);
        }
        let decoded = resolved
            .value
            .expose()
            .strip_prefix(b"whsk_")
            .and_then(|b64| STANDARD.decode(b64).ok());
        let pair = match decoded.as_deref() {
            Some(seed) if seed.len() == 32 => Ed25519KeyPair::from_seed_unchecked(seed).ok(),
            Some(both) if both.len() == 64 => {
                Ed25519KeyPair::from_seed_and_public_key(&both[..32], &both[32..]).ok()
            }
            _ => None,
        };
        let Some(pair) = pair else {
            self.diag.error(
                span,
                FIELD,
                "expected whsk_ and, in standard base64, the 32-byte Ed25519 seed (or the seed \
                 followed by its 32-byte public key)",
            );
            return None;
        };
        Some(ReceiptKeyPair {
            pair,
            origin: resolved.origin,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::{errors, parse, MINIMAL};
    use super::super::{render_check, Config};

    const SECRET: &str = "whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD";
    /// `whsk_` and the base64 of a 32-byte seed of sevens.
    const SEED: &str = "whsk_BwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwc=";

    fn with(receipt: &str, route: &str) -> String {
        format!("{MINIMAL}{route}\n[receipt]\n{receipt}\n")
    }

    fn config(receipt: &str, route: &str) -> Config {
        parse(&with(receipt, route)).unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn secrets_and_key_in_the_specification_forms() {
        let cfg = config(&format!("secret = \"{SECRET}\""), "");
        let receipt = cfg.receipt.as_deref().unwrap();
        assert_eq!(receipt.secrets().len(), 1);
        assert!(receipt.ed25519().is_none());
        assert!(cfg.routes[0].receipt);
        assert!(cfg.receipt_for(&cfg.routes[0]).is_some());
        let both = config(
            &format!(
                "secret = [\"{SECRET}\", {{ value = \"{SECRET}\" }}]\ned25519_key = \"{SEED}\""
            ),
            "receipt = false",
        );
        assert_eq!(both.receipt.as_deref().unwrap().secrets().len(), 2);
        assert!(both.receipt_for(&both.routes[0]).is_none());
        let check = render_check(&both);
        assert!(
            check.contains("receipt   v1: 2 secret(s): literal, literal; v1a: public key whpk_"),
            "{check}"
        );
        assert!(check.contains("(literal); off on /hook"), "{check}");
        assert!(
            !check.contains(SECRET.trim_start_matches("whsec_")),
            "{check}"
        );
    }

    #[test]
    fn malformed_secrets_and_keys_are_refused_by_entry_without_echo() {
        let cases = [
            (
                "secret = \"C2FVsBQIhrscChlQIMV+b5sSYspob7oD\"",
                "receipt.secret[0]: expected whsec_",
            ),
            (
                "secret = [\"whsec_not base64!\"]",
                "receipt.secret[0]: expected whsec_",
            ),
            (
                "secret = [\"whsec_c2hvcnQ=\"]",
                "receipt.secret[0]: the key is 5 bytes",
            ),
            (
                "ed25519_key = \"whsk_c2hvcnQ=\"",
                "receipt.ed25519_key: expected whsk_",
            ),
            (
                "ed25519_key = \"env:NOPE\"",
                "receipt.ed25519_key: environment variable NOPE",
            ),
            ("", "receipt: set secret"),
            ("secret = []", "receipt.secret: empty"),
            (
                "secret = [{ value = \"SECRET\", expires = \"2020-01-01T00:00:00Z\" }]",
                "receipt.secret: every secret has expired",
            ),
        ];
        for (receipt, expected) in cases {
            let receipt = receipt.replace("SECRET", SECRET);
            let text = errors(&with(&receipt, ""));
            assert!(text.contains(expected), "{receipt}: {text}");
            assert!(text.contains("t.toml:"), "{text}");
            assert!(
                !text.contains("c2hvcnQ") && !text.contains("rscChlQIMV"),
                "{text}"
            );
        }
    }

    #[test]
    fn short_or_unpadded_secrets_work_with_a_warning() {
        // 16 bytes, unpadded (22 characters).
        let cfg = config("secret = \"whsec_AAECAwQFBgcICQoLDA0ODw\"", "");
        let warnings = cfg.warnings.join("\n");
        assert!(
            warnings.contains("receipt.secret[0]: the key is 16 bytes"),
            "{warnings}"
        );
        assert!(warnings.contains("without its = padding"), "{warnings}");
        let cfg = config(&format!("secret = \"{SECRET}\""), "");
        assert!(
            !cfg.warnings.join("\n").contains("bytes"),
            "{:?}",
            cfg.warnings
        );
    }

    #[test]
    fn a_route_key_without_a_receipt_table_is_refused() {
        for value in ["true", "false"] {
            let text = errors(&format!("{MINIMAL}receipt = {value}\n"));
            assert!(
                text.contains("route[0].receipt: there is no [receipt] table"),
                "{text}"
            );
        }
        let text = errors(&with(&format!("secret = \"{SECRET}\"\nsecrets = 1"), ""));
        assert!(text.contains("receipt.secrets"), "unknown key: {text}");
    }
}
