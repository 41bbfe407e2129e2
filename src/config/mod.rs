//! Configuration: TOML text → raw serde structs (with spans) → validated [`Config`].
//!
//! Runtime modules only ever see [`Config`]; they never touch TOML. Every
//! error found is collected (not just the first) and carries
//! `file:line:col: field.path: message`, where route indices are 0-based in
//! file order (`route[0]` is the first `[[route]]`). Validation is pure except
//! for resolving secret references (`env:`, `file:`), which it must do to
//! prove a route can verify anything at all.
//!
//! Relative paths in the file — `file:` secrets, `[server] tls` cert and key,
//! `[upstream] ca` — resolve against the directory holding the configuration
//! file, so a config and its secrets can move together. (`[spool] dir` is the
//! exception: like its default `./hookguard-spool`, it is relative to the
//! working directory.)
//!
//! Layout: `raw` (serde shape) → `tree` (spans, unknown keys) → `validate`
//! (sections, shared checks) + `route` + `budgets` (memory budgets against
//! the routes) → this module's types; `units` (durations, sizes), `secrets`
//! (references), `suggest` (did you mean), `error` (messages), `render`
//! (`check` output).

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use http::{Method, Uri};
use ipnet::IpNet;

use crate::ip_presets::IpPresets;
use crate::providers::{
    self, BuildError, GenericHmac, ProviderParams, SecretEntry, SharedVerifier,
};
use crate::receipt::Receipt;
use crate::secret::Secret;
use crate::tls::TlsFiles;

mod budgets;
mod error;
mod keys;
mod presets;
mod raw;
mod receipt;
mod render;
mod route;
mod route_hmac;
mod secrets;
mod spanned;
mod suggest;
mod tree;
mod units;
mod unused;
mod validate;

#[cfg(test)]
mod settings_tests;
#[cfg(test)]
mod tests;

pub(crate) use error::ConfigErrors;
pub use render::render_check;
pub(crate) use secrets::Env;
pub(crate) use units::parse_duration;

/// Builds a route's verifier; [`providers::build`] in production, a fake in
/// tests that must not depend on real provider implementations.
pub(crate) type BuildFn<'a> =
    dyn Fn(&str, ProviderParams<'_>) -> Result<SharedVerifier, BuildError> + 'a;

/// Reads, parses and validates the configuration file at `path`, resolving
/// `env:` references from the process environment.
pub fn load(path: &Path) -> Result<Config, ConfigErrors> {
    let src = std::fs::read_to_string(path).map_err(|e| {
        ConfigErrors::whole_file(path, format!("cannot read: {}", secrets::io_reason(&e)))
    })?;
    from_str_with(
        &src,
        path,
        &|name| std::env::var(name).ok(),
        &providers::build,
    )
}

/// Parses and validates `src` as if read from `path` (used in messages and to
/// resolve relative paths), with `env` standing in for the environment.
pub fn from_str(src: &str, path: &Path, env: &Env<'_>) -> Result<Config, ConfigErrors> {
    from_str_with(src, path, env, &providers::build)
}

/// [`from_str`] with the verifier builder passed in: the seam that lets tests
/// validate configurations without real provider implementations.
pub fn from_str_with(
    src: &str,
    path: &Path,
    env: &Env<'_>,
    build: &BuildFn<'_>,
) -> Result<Config, ConfigErrors> {
    validate::validate(src, path, env, build)
}

/// A fully validated configuration, ready to serve.
#[derive(Clone)]
pub struct Config {
    /// The file it was loaded from (for reload and messages).
    pub source: PathBuf,
    /// `[server]`.
    pub server: ServerConfig,
    /// `[admin]`, when an admin listener is wanted.
    pub admin: Option<AdminConfig>,
    /// `[upstream]`, the default target of every route.
    pub upstream: UpstreamConfig,
    /// `[replay]`.
    pub replay: ReplayConfig,
    /// `[log]`.
    pub log: LogConfig,
    /// `[spool]`, storage for queue delivery.
    pub spool: SpoolConfig,
    /// `[security]`, suspicious-source detection and auto-block.
    pub security: SecurityConfig,
    /// `[[route]]`, in file order; paths are unique.
    pub routes: Vec<Route>,
    /// `[receipt]`: how forwarded requests are signed, when they are.
    pub receipt: Option<Arc<Receipt>>,
    /// Non-fatal findings (`check` prints them), e.g. literal secrets.
    pub warnings: Vec<String>,
}

/// `[server]`: the inbound listener and its limits.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// Where to accept connections.
    pub listen: SocketAddr,
    /// Certificate and key for TLS; `None` serves plain HTTP.
    pub tls: Option<TlsFiles>,
    /// Default body limit for every route, bytes.
    pub max_body: u64,
    /// Peers whose `X-Forwarded-For` is believed.
    pub trusted_proxies: Vec<IpNet>,
    /// Deadline for receiving a whole inbound request (headers and body).
    pub request_timeout: Duration,
    /// How long in-flight requests may take to finish after SIGTERM.
    pub shutdown_grace: Duration,
    /// Cap on concurrently open inbound connections; beyond it the accept
    /// loop waits instead of accepting.
    pub max_connections: usize,
    /// How long a connection with no request in progress stays open.
    pub idle_timeout: Duration,
    /// Bytes of request bodies held in memory at once, process-wide, before
    /// they are verified and sent on; over it, new bodies get 503.
    pub max_buffered: u64,
    /// The same budget for the requests of one connection.
    pub max_buffered_per_connection: u64,
    /// HTTP/2 streams one connection may have open at once.
    pub max_concurrent_streams: u32,
    /// Which PROXY protocol header every connection must start with, when
    /// set (behind a TCP load balancer).
    pub proxy_protocol: Option<ProxyProtocol>,
    /// The provider IP presets `allow_ips` may name: built in, or read from
    /// `ip_presets`.
    pub ip_presets: Arc<IpPresets>,
}

/// `[server] proxy_protocol`: the PROXY protocol versions accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProxyProtocol {
    /// The text header (`send-proxy`).
    V1,
    /// The binary header (`send-proxy-v2`).
    V2,
    /// Either.
    Any,
}

/// `[security]`: when failed verifications from one IP become suspicious.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SecurityConfig {
    /// Failed verifications (401s) from one IP within `window` that make it suspicious.
    pub failure_threshold: u32,
    /// Length of the counting window.
    pub window: Duration,
    /// When set, a suspicious IP gets 403 `ip_not_allowed` for this long.
    pub auto_block: Option<Duration>,
    /// Cap on IPs tracked at once (memory bound); the stalest is evicted.
    pub max_tracked_ips: usize,
}

impl Default for SecurityConfig {
    fn default() -> Self {
        Self {
            failure_threshold: 20,
            window: Duration::from_secs(60),
            auto_block: None,
            max_tracked_ips: 10_000,
        }
    }
}

/// `[admin]`: the separate operations listener.
#[derive(Debug, Clone)]
pub struct AdminConfig {
    /// Where to listen (loopback by default).
    pub listen: SocketAddr,
    /// Bearer token required on every admin endpoint, when set.
    pub token: Option<Secret>,
    /// Decisions kept in memory for `GET /audit/recent` (0: none).
    pub recent: usize,
    /// Host names, besides IP literals and `localhost`, that a request to
    /// the listener may name when no token is set (lowercase, no port).
    pub hosts: Vec<String>,
}

/// An upstream target: where verified requests go.
#[derive(Debug, Clone)]
pub struct UpstreamConfig {
    /// `http://` or `https://` URL; a non-empty path replaces the request path.
    pub url: Uri,
    /// Deadline for the upstream's response head.
    pub timeout: Duration,
    /// Extra trust anchor (PEM) for an `https://` upstream.
    pub ca: Option<PathBuf>,
    /// SHA-256 of `ca`'s contents when validated: a reload compares it to
    /// tell that the file changed (the client keeps what it started with).
    pub ca_digest: Option<[u8; 32]>,
}

/// `[replay]`: de-duplication store settings.
#[derive(Debug, Clone)]
pub struct ReplayConfig {
    /// Which store backs de-duplication.
    pub store: ReplayStoreKind,
    /// How long a delivered event's key is remembered.
    pub ttl: Duration,
    /// Cap on remembered keys (memory store); the oldest is evicted first.
    pub max_entries: usize,
    /// What to do when the store cannot be reached.
    pub on_store_error: OnStoreError,
}

/// Backing store for replay keys.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReplayStoreKind {
    /// In-process, bounded (default; one replica).
    Memory,
    /// Shared Redis at this URL (several replicas); a secret, since the URL
    /// may carry a password.
    Redis(crate::secret::Secret),
}

/// Policy when the replay store is unreachable.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OnStoreError {
    /// 503 `replay_store_unavailable`: the provider retries, nothing is lost.
    Reject,
    /// Forward without de-duplication, with a warning.
    Allow,
}

/// `[spool]`: where queue-mode deliveries are stored durably.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpoolConfig {
    /// Directory of the spool (relative to the working directory).
    pub dir: PathBuf,
    /// Bytes the spool may hold; when full, new requests get 503.
    pub max_size: u64,
}

/// `[log]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LogConfig {
    /// Output format of events.
    pub format: LogFormat,
    /// Whether the audit trail (one event per request) is written; the
    /// diagnostic level never decides that.
    pub audit: bool,
}

/// Event output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    /// One JSON object per line (default; for log pipelines).
    Json,
    /// Human-readable lines.
    Pretty,
}

/// Per-route token-bucket parameters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimit {
    /// Sustained requests per second.
    pub per_second: u32,
    /// Bucket size.
    pub burst: u32,
}

/// What happens to a verified request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Delivery {
    /// Forward synchronously and relay the upstream's answer.
    Forward,
    /// Store durably, answer 202, deliver in the background.
    Queue,
}

/// Queue-mode retry policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// First backoff.
    pub base: Duration,
    /// Largest backoff.
    pub cap: Duration,
    /// Attempts before dead-lettering.
    pub max_attempts: u32,
    /// Age before dead-lettering.
    pub max_age: Duration,
}

/// One `[[route]]`, validated, with its verifier built.
#[derive(Clone)]
pub struct Route {
    /// Exact request path that selects this route.
    pub path: String,
    /// Built-in provider name (`hookguard providers`).
    pub provider: String,
    /// Resolved secrets in configuration order.
    pub secrets: Vec<SecretEntry>,
    /// Resolved public keys in configuration order (asymmetric schemes).
    pub public_keys: Vec<SecretEntry>,
    /// The verifier built from provider, secrets and options.
    pub verifier: SharedVerifier,
    /// Where verified requests go (route `upstream`, else `[upstream]`).
    pub upstream: UpstreamConfig,
    /// Whether `upstream` came from the route (its path replaces the request path).
    pub upstream_path_override: bool,
    /// Route tolerance override, if set (the verifier already applies it).
    pub tolerance: Option<Duration>,
    /// Body limit for this route, bytes.
    pub max_body: u64,
    /// Source networks allowed; empty allows every address.
    pub allow_ips: Vec<IpNet>,
    /// The presets `allow_ips` named (their ranges are in `allow_ips`).
    pub ip_presets: Vec<String>,
    /// Token bucket per route and client IP, if set.
    pub rate_limit: Option<RateLimit>,
    /// Methods accepted (default POST, plus what the provider's handshake needs).
    pub methods: Vec<Method>,
    /// Forward or queue.
    pub delivery: Delivery,
    /// Queue-mode retry policy.
    pub retry: RetryPolicy,
    /// Queue mode: deliver one at a time in arrival order.
    pub ordered: bool,
    /// Public URL override for schemes that sign the URL.
    pub public_url: Option<String>,
    /// `[route.hmac]` of a generic `hmac` route (`hookguard sign` signs
    /// from it).
    pub hmac: Option<GenericHmac>,
    /// `token_header` of a generic `token` route (lower-case).
    pub token_header: Option<String>,
    /// The inbound header with the route's shared credential, removed before
    /// forwarding; `None` when the scheme sends none or `forward_token` is set.
    pub credential_header: Option<http::HeaderName>,
    /// The TLS trust this route's keys are fetched under (the web PKI
    /// roots plus `[route.keys] ca`); `None` when its provider fetches none.
    pub(crate) key_trust: Option<crate::keystore::Trust>,
    /// `[route.keys]`, `topics`, `sns_confirm` and `webhook_id` as the
    /// verifier was built from them (`hookguard verify` rebuilds it).
    pub fetch: Option<crate::providers::FetchParams>,
    /// Whether `[receipt]` signs this route's requests (`receipt = false`
    /// turns it off; true when there is no `[receipt]`, which signs nothing).
    pub receipt: bool,
    /// `token_query` of an `azure-eventgrid` route.
    pub token_query: Option<String>,
    /// The query parameter with the route's shared credential, removed from
    /// the forwarded query; `None` when the scheme reads none or
    /// `forward_token` is set.
    pub credential_query: Option<String>,
    /// `cloudevents_handshake`: answer the CloudEvents `OPTIONS` request.
    pub cloudevents_handshake: bool,
}

impl Config {
    /// The receipt `route`'s requests get: `[receipt]`, unless the route
    /// turned it off.
    pub(crate) fn receipt_for(&self, route: &Route) -> Option<&Receipt> {
        self.receipt.as_deref().filter(|_| route.receipt)
    }
}

impl Route {
    /// The timestamp window that runs on this route, each way (the
    /// provider's default or `tolerance`), as the verifier itself reports
    /// it, so that `check` prints what is applied; `None`: nothing is timed.
    pub fn timestamp_window(&self) -> Option<Duration> {
        self.verifier.tolerance()
    }
}

impl std::fmt::Debug for Route {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Route")
            .field("path", &self.path)
            .field("provider", &self.provider)
            .field("secrets", &self.secrets.len())
            .field("upstream", &self.upstream.url)
            .finish_non_exhaustive()
    }
}
