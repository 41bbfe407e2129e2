//! What `sign` and `verify` work against: a provider and every parameter its
//! verifier takes, from the command-line flags or from a configured route.
//!
//! Owns the mapping from flags to keys (an asymmetric scheme's `--secret` is
//! its public key when verifying), which secret signs for a route, the URL
//! and path a route's requests are checked with, and the wording of key
//! errors, which name the flag or entry at fault and never its value.

use std::time::Duration;

use http::{HeaderMap, Uri};

use crate::config::Route;
use crate::keystore::Trust;
use crate::providers::{
    self, BuildError, FetchParams, GenericHmac, ProviderParams, SecretEntry, SharedVerifier,
};
use crate::secret::Secret;

use super::hints::{self, KeyUse};
use super::read_secret;

/// A provider with its keys and options, ready to build a verifier.
#[derive(Debug, Clone)]
pub(crate) struct Target {
    /// Provider name (`hookguard providers`).
    pub provider: String,
    /// `[route.hmac]`, for the generic `hmac` provider.
    pub hmac: Option<GenericHmac>,
    /// `token_header`, for the generic `token` provider.
    pub token_header: Option<String>,
    /// `token_query`, for `azure-eventgrid`.
    pub token_query: Option<String>,
    /// Shared secrets, in order (the index is reported on success).
    pub secrets: Vec<SecretEntry>,
    /// Public keys of an asymmetric scheme, in order.
    pub public_keys: Vec<SecretEntry>,
    /// Override of the scheme's default tolerance.
    pub tolerance: Option<Duration>,
    /// The configured route these came from, if any.
    pub route: Option<RouteContext>,
    /// A route's fetched-key settings (`[route.keys]`, `topics`, ...).
    pub fetch: Option<FetchParams>,
    /// Where a route's keys are fetched from (web PKI plus its `ca`).
    pub key_trust: Option<Trust>,
}

/// What a configured route adds to a request beyond its verifier's
/// parameters.
#[derive(Debug, Clone)]
pub(crate) struct RouteContext {
    /// The route's exact path: the path the proxy saw.
    pub path: String,
    /// `public_url`, for schemes that sign the URL.
    pub public_url: Option<String>,
    /// `https` when the proxy terminates TLS, else `http` (rebuilds the
    /// public URL from Host as the proxy does).
    pub scheme: &'static str,
}

impl Target {
    /// A provider named on the command line, verified with the keys given as
    /// `--secret` and `--public-key`. A public-key scheme takes both as
    /// public keys (`--secret` for compatibility, `--public-key` first); an
    /// HMAC scheme refuses `--public-key` rather than ignore it.
    pub(crate) fn from_flags(
        provider: &str,
        secrets: &[String],
        public_keys: &[String],
        tolerance: Option<Duration>,
    ) -> Result<Self, String> {
        let mut target = Self {
            provider: provider.to_owned(),
            hmac: None,
            token_header: None,
            token_query: None,
            secrets: Vec::new(),
            public_keys: Vec::new(),
            tolerance,
            route: None,
            fetch: None,
            key_trust: None,
        };
        target.set_keys(secrets, public_keys)?;
        Ok(target)
    }

    /// A configured route: its provider, `[route.hmac]`, secrets or public
    /// keys (with their expiry), tolerance and `public_url`.
    pub(crate) fn from_route(route: &Route, tls: bool) -> Self {
        Self {
            provider: route.provider.clone(),
            hmac: route.hmac.clone(),
            token_header: route.token_header.clone(),
            token_query: route.token_query.clone(),
            secrets: route.secrets.clone(),
            public_keys: route.public_keys.clone(),
            tolerance: route.tolerance,
            route: Some(RouteContext {
                path: route.path.clone(),
                public_url: route.public_url.clone(),
                scheme: if tls { "https" } else { "http" },
            }),
            fetch: route.fetch.clone(),
            key_trust: route.key_trust.clone(),
        }
    }

    /// Replaces the keys with those given on the command line (a route's
    /// keys stay when none are given).
    pub(crate) fn override_keys(
        &mut self,
        secrets: &[String],
        public_keys: &[String],
    ) -> Result<(), String> {
        if secrets.is_empty() && public_keys.is_empty() {
            return Ok(());
        }
        self.set_keys(secrets, public_keys)
    }

    /// The secret `sign` uses for a route: the first one not yet expired,
    /// as a sender in the middle of a rotation would. Public keys cannot
    /// sign: the private key must be given.
    pub(crate) fn signing_secret(&self, now_s: i64) -> Result<Secret, String> {
        if self.uses_public_keys() {
            return Err(format!(
                "{} holds public keys, which only verify: \
                 give the private key to sign with as --secret",
                self.describe()
            ));
        }
        self.secrets
            .iter()
            .find(|e| e.expires.is_none_or(|at| now_s < at))
            .map(|e| e.value.clone())
            .ok_or_else(|| format!("every secret of {} has expired", self.describe()))
    }

    /// The public URL a URL-signing scheme is checked against: `given`,
    /// else the route's `public_url`, else (for a route) rebuilt from the
    /// Host header the way the proxy does.
    pub(crate) fn public_url(&self, given: Option<&str>, headers: &HeaderMap) -> Option<String> {
        if let Some(url) = given {
            return Some(url.to_owned());
        }
        let route = self.route.as_ref()?;
        if let Some(url) = &route.public_url {
            return Some(url.clone());
        }
        let host = headers.get(http::header::HOST)?.to_str().ok()?;
        Some(format!("{}://{host}{}", route.scheme, route.path))
    }

    /// The path and query the proxy saw: a route's own path (with the
    /// URL's query), else the path of `url`, else `/`.
    pub(crate) fn request_uri(&self, url: Option<&str>) -> Uri {
        let parsed = url.and_then(|u| u.parse::<Uri>().ok());
        let text = match (&self.route, &parsed) {
            (Some(route), Some(u)) => match u.query() {
                Some(q) => format!("{}?{q}", route.path),
                None => route.path.clone(),
            },
            (Some(route), None) => route.path.clone(),
            (None, Some(u)) => u.path_and_query().map_or("/", |p| p.as_str()).to_owned(),
            (None, None) => "/".to_owned(),
        };
        text.parse().unwrap_or_else(|_| Uri::from_static("/"))
    }

    /// `provider hmac (route /webhooks/payments)`, for reports.
    pub(crate) fn describe(&self) -> String {
        match &self.route {
            Some(r) => format!("provider {} (route {})", self.provider, r.path),
            None => format!("provider {}", self.provider),
        }
    }

    /// Replaces the keys with those given on the command line.
    fn set_keys(&mut self, secrets: &[String], public_keys: &[String]) -> Result<(), String> {
        let secrets = entries("--secret", secrets)?;
        let public_keys = entries("--public-key", public_keys)?;
        if providers::takes_either_key(&self.provider) {
            // The keys given decide the family; both at once is refused by `build`.
            self.secrets = secrets;
            self.public_keys = public_keys;
        } else if self.uses_public_keys() {
            self.secrets = Vec::new();
            self.public_keys = public_keys.into_iter().chain(secrets).collect();
        } else if public_keys.is_empty() || !providers::names().contains(&&*self.provider) {
            // An unknown provider is reported by `build`, with suggestions.
            self.secrets = secrets;
            self.public_keys = Vec::new();
        } else {
            return Err(format!(
                "--public-key: provider {:?} verifies with a shared secret, not a public key; \
                 give it as --secret",
                self.provider
            ));
        }
        Ok(())
    }

    /// Whether the scheme is verified with public keys (Ed25519, ECDSA).
    pub(crate) fn uses_public_keys(&self) -> bool {
        uses_public_keys(&self.provider)
            || (providers::takes_either_key(&self.provider) && self.secrets.is_empty())
    }

    /// Builds the verifier exactly as the proxy would, with the tolerance
    /// replaced when `tolerance` is `Some`.
    pub(crate) fn build(&self, tolerance: Option<Duration>) -> Result<SharedVerifier, String> {
        let params = ProviderParams {
            secrets: &self.secrets,
            public_keys: &self.public_keys,
            tolerance: tolerance.or(self.tolerance),
            hmac: self.hmac.as_ref(),
            verify_token: None,
            token_header: self.token_header.as_deref(),
            fetch: self.fetch.as_ref(),
            token_query: self.token_query.as_deref(),
        };
        providers::build(&self.provider, params).map_err(|e| self.build_error(&e))
    }

    /// A build error, with the field turned into the flag (or configured
    /// entry) it came from, and a hint about the key's shape where one helps.
    fn build_error(&self, e: &BuildError) -> String {
        let (entry, key_use) = match indexed(&e.field, "secrets") {
            Some(i) => (self.secrets.get(i), KeyUse::Secret),
            None => match indexed(&e.field, "public_keys") {
                Some(i) => (self.public_keys.get(i), KeyUse::PublicKey),
                None => (None, KeyUse::Secret),
            },
        };
        let Some(entry) = entry else {
            return format!("{}: {}", e.field, e.message);
        };
        let mut out = format!("{}: {}", entry.origin, e.message);
        if let Some(hint) = hints::key_hint(entry.value.expose(), key_use, &e.message) {
            out.push_str("\nhint: ");
            out.push_str(hint);
        }
        out
    }

    /// How to name key number `index` in a report: `secret #0`, `public key
    /// #1 from --secret #0`: where it came from, unless that says the same.
    pub(crate) fn key_name(&self, index: usize) -> String {
        let keys_fetched = providers::fetches_keys(&self.provider)
            || (self.secrets.is_empty() && self.public_keys.is_empty() && self.fetch.is_some());
        if keys_fetched {
            return match family(&self.provider) {
                Some("fetched-cert") => "the signing certificate",
                Some("fetched-key") => "the fetched key",
                // A JWKS: `fetched-jwks`, and Event Grid's Entra tokens.
                _ => "a key of the fetched JWKS",
            }
            .to_owned();
        }
        let (kind, flag, list) = if self.uses_public_keys() {
            ("public key", "--public-key", &self.public_keys)
        } else {
            ("secret", "--secret", &self.secrets)
        };
        let name = format!("{kind} #{index}");
        match list.get(index) {
            Some(e) if e.origin != format!("{flag} #{index}") => {
                format!("{name} from {}", e.origin)
            }
            _ => name,
        }
    }
}

/// Whether provider `name` verifies with public keys rather than secrets.
pub(crate) fn uses_public_keys(name: &str) -> bool {
    family(name) == Some("asymmetric")
}

/// The family of provider `name`, as `hookguard providers` names it.
fn family(name: &str) -> Option<&'static str> {
    providers::describe_all()
        .into_iter()
        .find(|p| p.name == name)
        .map(|p| p.family)
}

/// `field` is `prefix[i]`: the index.
fn indexed(field: &str, prefix: &str) -> Option<usize> {
    field
        .strip_prefix(prefix)?
        .strip_prefix('[')?
        .strip_suffix(']')?
        .parse()
        .ok()
}

/// Reads each flag value (`env:`, `file:` or literal) into an entry that
/// names its flag and position, never its value.
fn entries(flag: &str, values: &[String]) -> Result<Vec<SecretEntry>, String> {
    values
        .iter()
        .enumerate()
        .map(|(i, v)| {
            Ok(SecretEntry {
                value: read_secret(v).map_err(|e| format!("{flag}: {e}"))?,
                expires: None,
                origin: format!("{flag} #{i}"),
            })
        })
        .collect()
}
