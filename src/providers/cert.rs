//! A fetched signing certificate (SNS, PayPal) read into the RSA public key
//! `ring` verifies with: PEM decoded by `rustls-pki-types`, X.509 parsed by
//! `x509-cert`, the key taken from the SubjectPublicKeyInfo.
//!
//! The certificate's trust comes from where it was fetched (HTTPS to a
//! pinned or allowed URL, verified against the web PKI roots or the route's
//! `ca`), not from its own chain, which is not checked; its validity dates
//! are not checked either (the SDKs of both providers check neither).

use std::any::Any;
use std::sync::Arc;

use ring::signature::{RsaParameters, UnparsedPublicKey};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::CertificateDer;
use x509_cert::der::Decode;
use x509_cert::Certificate;

use super::{FetchedKey, KeyMaterial, Rejection};

/// rsaEncryption (RFC 8017 appendix C).
const RSA_ENCRYPTION: &str = "1.2.840.113549.1.1.1";

/// The RSA public key of a signing certificate (DER `RSAPublicKey`).
#[derive(Debug)]
pub(crate) struct RsaCert {
    public_key: Vec<u8>,
}

impl KeyMaterial for RsaCert {
    fn as_any(&self) -> &dyn Any {
        self
    }
}

impl RsaCert {
    /// Whether `signature` is `message` signed with this key under `alg`.
    pub(crate) fn verifies(
        &self,
        alg: &'static RsaParameters,
        message: &[u8],
        signature: &[u8],
    ) -> bool {
        UnparsedPublicKey::new(alg, &self.public_key)
            .verify(message, signature)
            .is_ok()
    }

    /// The fetched key as an [`RsaCert`], or `invalid_signature` when the
    /// store handed over something else (never, for a well-built route).
    pub(crate) fn of(key: Option<&FetchedKey>) -> Result<&Self, Rejection> {
        key.and_then(|k| k.as_any().downcast_ref::<Self>())
            .ok_or_else(|| Rejection::InvalidSignature {
                detail: "no signing certificate was fetched for this request".into(),
            })
    }
}

/// [`ParseKey`](super::ParseKey) for a PEM document whose first certificate
/// signs: its RSA key, or why there is none.
pub(crate) fn parse_pem(bytes: &[u8]) -> Result<FetchedKey, String> {
    let der = CertificateDer::pem_slice_iter(bytes)
        .next()
        .ok_or("no PEM certificate in the document")?
        .map_err(|e| format!("PEM: {e}"))?;
    let cert = Certificate::from_der(der.as_ref()).map_err(|e| format!("X.509: {e}"))?;
    let spki = &cert.tbs_certificate.subject_public_key_info;
    if spki.algorithm.oid.to_string() != RSA_ENCRYPTION {
        return Err(format!(
            "the certificate's key is {}, not RSA",
            spki.algorithm.oid
        ));
    }
    let public_key = spki
        .subject_public_key
        .as_bytes()
        .ok_or("the certificate's key has unused bits")?
        .to_vec();
    Ok(Arc::new(RsaCert { public_key }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_rsa_key_of_a_pem_certificate() {
        let vector: serde_json::Value =
            serde_json::from_str(include_str!("../../tests/data/sns_synthetic_vector.json"))
                .unwrap();
        let pem = vector["cert_pem"].as_str().unwrap();
        let key = parse_pem(pem.as_bytes()).expect("parses");
        assert!(key.as_any().downcast_ref::<RsaCert>().is_some());
        assert!(parse_pem(b"not pem").is_err());
        let truncated = &pem[..pem.len() / 2];
        assert!(parse_pem(truncated.as_bytes()).is_err());
    }
}
