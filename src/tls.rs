//! Inbound TLS: PEM certificate and key → a rustls `ServerConfig` with ALPN
//! (`h2`, `http/1.1`), TLS 1.2 and 1.3 only, on the `ring` provider.
//!
//! The certificate is served through a [`CertStore`] resolver so a reload
//! (SIGHUP) can swap it: new handshakes get the new certificate, established
//! connections keep theirs.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use arc_swap::ArcSwap;
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::{CertifiedKey, SigningKey};
use rustls::{RootCertStore, ServerConfig};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use x509_cert::der::Decode as _;

/// PEM files for the inbound TLS listener (`[server] tls`, which `config`
/// parses into this type).
#[derive(Debug, Clone)]
pub struct TlsFiles {
    /// Certificate chain, leaf first.
    pub cert: PathBuf,
    /// Private key (PKCS#8, PKCS#1 or SEC1).
    pub key: PathBuf,
}

/// Why the TLS configuration could not be built.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// A PEM file could not be read or parsed.
    #[error("{path}: {message}")]
    Pem {
        /// The file.
        path: String,
        /// What went wrong.
        message: String,
    },
    /// rustls rejected the certificate/key pair.
    #[error("tls: {0}")]
    Rustls(#[from] rustls::Error),
}

/// The certificate currently served; swapped on reload.
#[derive(Debug)]
pub(crate) struct CertStore {
    current: ArcSwap<CertifiedKey>,
}

impl ResolvesServerCert for CertStore {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(self.current.load_full())
    }
}

impl CertStore {
    /// Loads and checks `files` without serving them yet: a reload prepares
    /// every part that can fail before it changes anything.
    pub(crate) fn prepare(files: &TlsFiles) -> Result<CertifiedKey, TlsError> {
        certified_key(files)
    }

    /// Serves `key` to new handshakes from now on.
    pub(crate) fn install(&self, key: CertifiedKey) {
        self.current.store(Arc::new(key));
    }

    /// When the certificate served now expires (its leaf's `notAfter`, Unix
    /// seconds), for the status page; `None` if the leaf cannot be parsed.
    pub fn not_after(&self) -> Option<i64> {
        let current = self.current.load();
        let leaf = current.cert.first()?;
        let cert = x509_cert::Certificate::from_der(leaf.as_ref()).ok()?;
        let not_after = cert.tbs_certificate.validity.not_after.to_unix_duration();
        i64::try_from(not_after.as_secs()).ok()
    }
}

/// Loads certificate chain and key and builds the server configuration.
pub fn server_config(files: &TlsFiles) -> Result<Arc<ServerConfig>, TlsError> {
    reloadable_server_config(files).map(|(config, _)| config)
}

/// [`server_config`], plus the handle that swaps its certificate.
pub(crate) fn reloadable_server_config(
    files: &TlsFiles,
) -> Result<(Arc<ServerConfig>, Arc<CertStore>), TlsError> {
    let store = Arc::new(CertStore {
        current: ArcSwap::from_pointee(certified_key(files)?),
    });
    let mut config =
        ServerConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
            .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])?
            .with_no_client_auth()
            .with_cert_resolver(Arc::clone(&store) as Arc<dyn ResolvesServerCert>);
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok((Arc::new(config), store))
}

/// Reads and checks a certificate chain and its private key. `check` runs
/// the same three steps (see `config::validate`), so a file it accepts is
/// one `serve` accepts.
fn certified_key(files: &TlsFiles) -> Result<CertifiedKey, TlsError> {
    let certs = load_certs(&files.cert)?;
    let key = load_key(&files.key)?;
    pair(certs, key)
}

/// Reads a PEM private key (PKCS#8, PKCS#1 or SEC1) that `ring` can sign with.
pub(crate) fn load_key(path: &Path) -> Result<Arc<dyn SigningKey>, TlsError> {
    let pem_err = |message: String| TlsError::Pem {
        path: path.display().to_string(),
        message,
    };
    let key = PrivateKeyDer::from_pem_file(path)
        .map_err(|e| pem_err(format!("no usable private key: {e}")))?;
    rustls::crypto::ring::default_provider()
        .key_provider
        .load_private_key(key)
        .map_err(|e| pem_err(format!("unsupported private key: {e}")))
}

/// The chain and key as one, refused unless the key is the leaf's.
pub(crate) fn pair(
    certs: Vec<CertificateDer<'static>>,
    key: Arc<dyn SigningKey>,
) -> Result<CertifiedKey, TlsError> {
    let certified = CertifiedKey::new(certs, key);
    certified.keys_match()?;
    Ok(certified)
}

/// Reads every certificate of a PEM file; an empty file is an error.
pub(crate) fn load_certs(path: &Path) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let pem_err = |message: String| TlsError::Pem {
        path: path.display().to_string(),
        message,
    };
    let certs = CertificateDer::pem_file_iter(path)
        .map_err(|e| pem_err(e.to_string()))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| pem_err(e.to_string()))?;
    if certs.is_empty() {
        return Err(pem_err("no PEM certificate found".into()));
    }
    Ok(certs)
}

/// The trust anchors of `https://` upstreams: the web PKI roots plus every
/// certificate of `extra_ca` (`[upstream] ca`). `check` and `serve` both
/// build them here, so `check` refuses a file that `serve` would.
pub(crate) fn upstream_roots(extra_ca: Option<&Path>) -> Result<RootCertStore, TlsError> {
    let mut roots = RootCertStore::empty();
    roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    if let Some(path) = extra_ca {
        for cert in load_certs(path)? {
            roots.add(cert).map_err(|e| TlsError::Pem {
                path: path.display().to_string(),
                message: format!("not a usable CA certificate: {e}"),
            })?;
        }
    }
    Ok(roots)
}
