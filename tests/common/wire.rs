//! Pieces for talking to the proxy below the convenience client: a request
//! body that stalls on purpose, and a TLS client configuration that trusts
//! one test certificate.

use std::convert::Infallible;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};

/// A request body that sends `first`, then never ends (nor wakes anyone),
/// unless it is `whole`: a sender that holds the proxy's body budget.
pub struct Stalled {
    first: Option<Bytes>,
    declared: Option<u64>,
    whole: bool,
}

impl Stalled {
    /// `first`, then nothing, with `declared` as its exact length if given.
    pub fn new(first: Bytes, declared: Option<u64>) -> Self {
        Self {
            first: Some(first),
            declared,
            whole: false,
        }
    }

    /// All of `body`, then the end.
    pub fn whole(body: Bytes) -> Self {
        let declared = Some(body.len() as u64);
        Self {
            whole: true,
            ..Self::new(body, declared)
        }
    }
}

impl Body for Stalled {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        _: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        match self.first.take() {
            Some(first) => Poll::Ready(Some(Ok(Frame::data(first)))),
            None if self.whole => Poll::Ready(None),
            None => Poll::Pending,
        }
    }

    fn size_hint(&self) -> SizeHint {
        self.declared
            .map_or_else(SizeHint::new, SizeHint::with_exact)
    }
}

/// A rustls client configuration (ring, safe defaults) trusting only the
/// certificate `root` (DER), as the test certificates are self-issued.
pub fn client_tls_config(root: &[u8]) -> rustls::ClientConfig {
    let mut roots = rustls::RootCertStore::empty();
    roots
        .add(rustls_pki_types::CertificateDer::from(root.to_vec()))
        .unwrap();
    rustls::ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth()
}

/// Starts the release-under-test binary as `hookguard serve -c config`
/// (`RUST_LOG` removed, `envs` set, stderr discarded) and relays its stdout
/// lines through a channel, read by a thread of its own so the pipe never
/// fills.
pub fn spawn_serve(
    config: &std::path::Path,
    envs: &[(&str, &str)],
) -> (std::process::Child, std::sync::mpsc::Receiver<String>) {
    use std::io::{BufRead, BufReader};
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_hookguard"))
        .args(["serve", "-c"])
        .arg(config)
        .env_remove("RUST_LOG")
        .envs(envs.iter().copied())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    (child, rx)
}
