//! The route settings of schemes whose keys are fetched: `[route.keys]`
//! (`allow`, `url`, `ca`, and the key endpoint's `client_id` and
//! `client_secret`, secret references), `topics`, `sns_confirm`, `webhook_id`, `audience`,
//! `service_account`, `app_id` and `tenant`, read
//! into the providers' [`FetchParams`] and the TLS trust the key store
//! fetches under.
//!
//! Whether a provider reads each setting is the builder's decision (it
//! refuses the ones it does not); this file checks their form, and loads
//! `ca` exactly as the key store will use it.

use std::sync::Arc;

use super::raw::{RawKeys, Str};
use super::spanned::Spanned;
use super::validate::Ctx;
use crate::keystore::Trust;
use crate::providers::{FetchParams, SnsConfirm, UrlPrefix};

/// What a route wrote of the fetched-key settings, as written.
pub(crate) struct RawFetch {
    pub keys: Option<Spanned<RawKeys>>,
    pub topics: Option<Spanned<Vec<Spanned<String>>>>,
    pub sns_confirm: Str,
    pub webhook_id: Str,
    pub audience: Str,
    pub service_account: Str,
    pub app_id: Str,
    pub tenant: Str,
}

impl Ctx<'_> {
    /// The route's [`FetchParams`] (`None` when it wrote none of them) and
    /// the trust its keys are fetched under (the web PKI roots plus `ca`).
    pub(crate) fn fetch_params(
        &mut self,
        raw: RawFetch,
        at: &dyn Fn(&str) -> String,
    ) -> (Option<FetchParams>, Option<Trust>) {
        let written = raw.keys.is_some()
            || raw.topics.is_some()
            || raw.sns_confirm.is_some()
            || raw.webhook_id.is_some()
            || raw.audience.is_some()
            || raw.service_account.is_some()
            || raw.app_id.is_some()
            || raw.tenant.is_some();
        let mut params = FetchParams {
            keys: raw.keys.is_some(),
            ..FetchParams::default()
        };
        let mut ca = None;
        if let Some(keys) = raw.keys {
            let keys = keys.into_inner();
            params.allow = keys
                .allow
                .and_then(|a| self.allow_list(a, &at("keys.allow")));
            params.url = keys.url.and_then(|u| self.key_url(u, &at("keys.url")));
            ca = keys.ca.and_then(|c| self.key_ca(c, &at("keys.ca")));
            params.client_id = keys
                .client_id
                .and_then(|c| self.secret_ref(c, &at("keys.client_id"), true));
            params.client_secret = keys
                .client_secret
                .and_then(|c| self.secret_ref(c, &at("keys.client_secret"), true));
        }
        params.topics = raw.topics.map(|t| self.topics(t, &at("topics")));
        params.sns_confirm = raw.sns_confirm.map(|c| {
            self.choice(
                Some(c),
                &at("sns_confirm"),
                &[("forward", SnsConfirm::Forward), ("auto", SnsConfirm::Auto)],
                SnsConfirm::Forward,
            )
        });
        params.webhook_id = raw
            .webhook_id
            .and_then(|w| self.webhook_id(w, &at("webhook_id")));
        params.audience = raw
            .audience
            .and_then(|a| self.printable(a, &at("audience"), "the audience tokens are issued for"));
        params.service_account = raw
            .service_account
            .and_then(|a| self.printable(a, &at("service_account"), "the service account's email"));
        params.app_id = raw
            .app_id
            .and_then(|a| self.printable(a, &at("app_id"), "the application (client) id"));
        params.tenant = raw
            .tenant
            .and_then(|t| self.printable(t, &at("tenant"), "the Microsoft Entra tenant ID"));
        let trust = self.key_trust(ca);
        (written.then_some(params), trust)
    }

    fn allow_list(
        &mut self,
        raw: Spanned<Vec<Spanned<String>>>,
        field: &str,
    ) -> Option<Vec<UrlPrefix>> {
        let span = raw.span();
        let list = raw.into_inner();
        if list.is_empty() {
            self.diag.error(
                span,
                field,
                "empty: list the URL prefixes keys may be fetched from, e.g. \
                 [\"https://keys.example.com/\"], or remove allow to use the provider's rule",
            );
            return None;
        }
        let mut prefixes = Vec::new();
        for (j, entry) in list.into_iter().enumerate() {
            match UrlPrefix::parse(entry.get_ref()) {
                Ok(p) => prefixes.push(p),
                Err(why) => self.diag.error(
                    entry.span(),
                    format!("{field}[{j}]"),
                    format!(
                        "{:?} is not an https://host[:port]/path-prefix: {why}",
                        entry.get_ref()
                    ),
                ),
            }
        }
        Some(prefixes)
    }

    fn key_url(&mut self, raw: Spanned<String>, field: &str) -> Option<String> {
        match UrlPrefix::parse(raw.get_ref()) {
            Ok(_) => Some(raw.into_inner()),
            Err(why) => {
                self.diag.error(
                    raw.span(),
                    field,
                    format!("{:?} is not a usable https:// URL: {why}", raw.get_ref()),
                );
                None
            }
        }
    }

    /// `ca`: its digest and the roots it adds, loaded as `serve` loads them.
    fn key_ca(
        &mut self,
        raw: Spanned<String>,
        field: &str,
    ) -> Option<(rustls::RootCertStore, [u8; 32])> {
        let text = raw.get_ref();
        let path = self.path(text.strip_prefix("file:").unwrap_or(text));
        let loaded = crate::tls::upstream_roots(Some(&path))
            .map_err(|e| e.to_string())
            .and_then(|roots| {
                std::fs::read(&path)
                    .map(|bytes| (roots, bytes))
                    .map_err(|e| e.to_string())
            });
        match loaded {
            Ok((roots, bytes)) => {
                let digest = ring::digest::digest(&ring::digest::SHA256, &bytes);
                let mut out = [0; 32];
                out.copy_from_slice(digest.as_ref());
                Some((roots, out))
            }
            Err(message) => {
                self.diag.error(raw.span(), field, message);
                None
            }
        }
    }

    /// The trust keys are fetched under: the web PKI roots, plus `ca`.
    fn key_trust(&mut self, ca: Option<(rustls::RootCertStore, [u8; 32])>) -> Option<Trust> {
        let (roots, ca_digest) = match ca {
            Some((roots, digest)) => (roots, Some(digest)),
            None => (crate::tls::upstream_roots(None).ok()?, None),
        };
        let tls = rustls::ClientConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .ok()?
        .with_root_certificates(roots)
        .with_no_client_auth();
        Some(Trust {
            tls: Arc::new(tls),
            ca_digest,
        })
    }

    fn topics(&mut self, raw: Spanned<Vec<Spanned<String>>>, field: &str) -> Vec<String> {
        let list = raw.into_inner();
        let mut topics = Vec::new();
        for (j, t) in list.into_iter().enumerate() {
            if t.get_ref().trim().is_empty() {
                self.diag
                    .error(t.span(), format!("{field}[{j}]"), "empty topic ARN");
            } else {
                topics.push(t.into_inner());
            }
        }
        topics
    }

    fn printable(&mut self, raw: Spanned<String>, field: &str, what: &str) -> Option<String> {
        let text = raw.get_ref();
        if text.is_empty() || !text.bytes().all(|b| b.is_ascii_graphic()) {
            self.diag.error(
                raw.span(),
                field,
                format!("must be {what} (printable ASCII)"),
            );
            return None;
        }
        Some(raw.into_inner())
    }

    fn webhook_id(&mut self, raw: Spanned<String>, field: &str) -> Option<String> {
        let id = raw.get_ref();
        if id.is_empty() || !id.bytes().all(|b| b.is_ascii_graphic()) {
            self.diag.error(
                raw.span(),
                field,
                "must be the webhook's id as PayPal shows it (printable ASCII)",
            );
            return None;
        }
        Some(raw.into_inner())
    }
}
