//! Raw configuration → validated [`Config`]: the global sections, the shared
//! field checkers, and the list of features this build cannot run yet.
//!
//! The flow is: TOML outline (syntax errors) → unknown keys (all at once) →
//! serde into `raw` (type errors) → these checks (every semantic error,
//! collected). Routes are checked in `route.rs`. Relative paths (`file:`
//! secrets, TLS certificate and key, upstream CA) resolve against the
//! directory that holds the configuration file.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::spanned::Spanned;
use http::Uri;
use ipnet::IpNet;

use super::error::{ConfigErrors, Diagnostics};
use super::raw::{self, DurationText, RawConfig, SizeText, Str};
use super::secrets::{resolve, Env};
use super::tree::Node;
use super::{budgets, suggest, units, BuildFn};
use super::{
    AdminConfig, Config, LogConfig, LogFormat, OnStoreError, ProxyProtocol, ReplayConfig,
    ReplayStoreKind, Route, SecurityConfig, ServerConfig, SpoolConfig, UpstreamConfig,
};
use crate::recent;
use crate::secret::Secret;
use crate::tls::TlsFiles;

/// Parses and validates `src` (read from `file`), collecting every error.
pub(crate) fn validate(
    src: &str,
    file: &Path,
    env: &Env<'_>,
    build: &BuildFn<'_>,
) -> Result<Config, ConfigErrors> {
    let mut diag = Diagnostics::new(file, src);
    let tree = match Node::parse(src) {
        Ok(tree) => tree,
        Err(e) => {
            let span = e.span().unwrap_or(0..0);
            diag.error(span, "", format!("invalid TOML: {}", one_line(e.message())));
            return Err(diag.into_errors());
        }
    };
    tree.check_keys(src, &raw::allowed_keys, &mut diag);
    if diag.has_errors() {
        return Err(diag.into_errors());
    }
    let raw: RawConfig = match toml::from_str(src) {
        Ok(raw) => raw,
        Err(e) => {
            let span = e.span().unwrap_or(0..0);
            let field = tree.path_at(src, span.start);
            diag.error(span, field, one_line(e.message()));
            return Err(diag.into_errors());
        }
    };
    let mut ctx = Ctx {
        diag,
        tree,
        base_dir: file.parent().map(Path::to_path_buf).unwrap_or_default(),
        env,
        build,
        now: time::OffsetDateTime::now_utc().unix_timestamp(),
        receipt_configured: raw.receipt.is_some(),
    };

    let mut server = ctx.server(raw.server);
    let admin = raw.admin.map(|a| ctx.admin(a));
    let upstream = ctx.upstream(raw.upstream);
    let replay = ctx.replay(raw.replay);
    let log = ctx.log(raw.log);
    let spool = ctx.spool(raw.spool);
    let security = ctx.security(raw.security);
    let receipt = ctx.receipt(raw.receipt);
    ctx.warn_auto_block_behind_a_balancer(&server, &security);
    let routes = ctx.routes(raw.route.unwrap_or_default(), &server, upstream.as_ref());
    ctx.warn_stale_presets(&routes, &server.ip_presets);
    ctx.replay_outlived_by_signatures(&replay, &routes);
    if let Some(upstream) = &upstream {
        ctx.refuse_unused(upstream, &replay, &routes);
    }
    ctx.buffer_budgets(&mut server, &routes);

    let warnings = ctx.diag.finish()?;
    match upstream {
        Some(upstream) => Ok(Config {
            source: file.to_path_buf(),
            server,
            admin,
            upstream,
            replay,
            log,
            spool,
            security,
            routes,
            receipt,
            warnings,
        }),
        // `ctx.upstream` reports a missing url, so this is unreachable; an
        // empty error list is still an error rather than a panic.
        None => Err(ConfigErrors { errors: Vec::new() }),
    }
}

fn is_redis_url(s: &str) -> bool {
    s.starts_with("redis://") || s.starts_with("rediss://")
}

/// A Redis URL, or a reference that should hold one.
fn is_redis_ref(s: &str) -> bool {
    is_redis_url(s) || s.starts_with("env:") || s.starts_with("file:")
}

/// Whether a URL, well-formed or not, has `user[:password]@` before its
/// host: an `@` in what comes before the path, query or fragment.
pub(crate) fn has_userinfo(url: &str) -> bool {
    let after_scheme = url.split_once("://").map_or(url, |(_, rest)| rest);
    let authority = after_scheme
        .split(['/', '?', '#'])
        .next()
        .unwrap_or_default();
    authority.contains('@')
}

/// Joins a multi-line parser message into one line.
fn one_line(message: &str) -> String {
    let lines: Vec<&str> = message
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect();
    lines.join("; ")
}

/// Validation state: the error collector plus what every check needs.
pub(crate) struct Ctx<'a> {
    pub(crate) diag: Diagnostics<'a>,
    pub(crate) tree: Node,
    pub(crate) base_dir: PathBuf,
    pub(crate) env: &'a Env<'a>,
    pub(crate) build: &'a BuildFn<'a>,
    /// Unix seconds at validation, for warnings about expired secrets.
    pub(crate) now: i64,
    /// Whether the file has a `[receipt]` table (a route's `receipt` key
    /// means nothing without one).
    pub(crate) receipt_configured: bool,
}

// === impl Ctx: sections ===

impl Ctx<'_> {
    fn server(&mut self, raw: Option<raw::RawServer>) -> ServerConfig {
        let raw = raw.unwrap_or(raw::RawServer {
            listen: None,
            tls: None,
            max_body: None,
            trusted_proxies: None,
            request_timeout: None,
            shutdown_grace: None,
            max_connections: None,
            idle_timeout: None,
            max_buffered: None,
            max_buffered_per_connection: None,
            max_concurrent_streams: None,
            proxy_protocol: None,
            ip_presets: None,
        });
        let default_listen = SocketAddr::new(IpAddr::V4(Ipv4Addr::new(0, 0, 0, 0)), 8080);
        let tls = raw.tls.and_then(|tls| self.tls_files(tls));
        let trusted_proxies = self.networks(raw.trusted_proxies, "server.trusted_proxies");
        let proxy_protocol = self.proxy_protocol(raw.proxy_protocol, &trusted_proxies);
        ServerConfig {
            listen: self.socket_addr(raw.listen, "server.listen", default_listen),
            tls,
            max_body: self.size(raw.max_body, "server.max_body", 1 << 20),
            trusted_proxies,
            request_timeout: self.duration(
                raw.request_timeout,
                "server.request_timeout",
                Duration::from_secs(30),
                false,
            ),
            shutdown_grace: self.duration(
                raw.shutdown_grace,
                "server.shutdown_grace",
                Duration::from_secs(30),
                true,
            ),
            max_connections: raw
                .max_connections
                .and_then(|n| self.count::<usize>(n, "server.max_connections", 1))
                .unwrap_or(10_000),
            // Long enough for a provider's burst of deliveries to reuse one
            // connection, short enough that idle connections do not hold
            // `max_connections` slots for long; nginx's keepalive_timeout is
            // 75 s, Go's and hyper's clients drop idle connections at 90 s.
            idle_timeout: self.duration(
                raw.idle_timeout,
                "server.idle_timeout",
                Duration::from_secs(60),
                false,
            ),
            max_buffered: self.size(raw.max_buffered, "server.max_buffered", 64 << 20),
            // Raised to the largest max_body when that is larger and this is
            // not set (see `buffer_budgets`).
            max_buffered_per_connection: self.size(
                raw.max_buffered_per_connection,
                "server.max_buffered_per_connection",
                budgets::DEFAULT_PER_CONNECTION,
            ),
            // RFC 9113 suggests at least 100 so as not to limit a browser's
            // parallelism (hyper's default is 200); a webhook sender seldom
            // has more than a few deliveries in flight on one connection,
            // and each open stream may hold a 64 KiB header block and wait
            // for a body of up to max_body.
            max_concurrent_streams: raw
                .max_concurrent_streams
                .and_then(|n| self.count::<u32>(n, "server.max_concurrent_streams", 1))
                .unwrap_or(32),
            proxy_protocol,
            ip_presets: self.ip_presets(raw.ip_presets),
        }
    }

    /// `[server] proxy_protocol`. A PROXY header is believed only from
    /// `trusted_proxies`, so with none listed every connection would be
    /// refused: that is an error, not a silent outage.
    fn proxy_protocol(&mut self, raw: Str, trusted: &[IpNet]) -> Option<ProxyProtocol> {
        let span = raw.as_ref().map(Spanned::span);
        let options = [
            ("v1", Some(ProxyProtocol::V1)),
            ("v2", Some(ProxyProtocol::V2)),
            ("any", Some(ProxyProtocol::Any)),
        ];
        let chosen = self.choice(raw, "server.proxy_protocol", &options, None);
        if let (Some(_), Some(span), true) = (chosen, span, trusted.is_empty()) {
            self.diag.error(
                span,
                "server.proxy_protocol",
                "is on, but server.trusted_proxies is empty: a PROXY header is believed only \
                 from a trusted peer, so every connection would be refused; list the load \
                 balancers' addresses in trusted_proxies",
            );
        }
        chosen
    }

    /// `[server] tls`: both paths, and the files loaded exactly as `serve`
    /// loads them, so that `check` refuses what `serve` would.
    fn tls_files(&mut self, raw: Spanned<raw::RawTls>) -> Option<TlsFiles> {
        let span = raw.span();
        let raw = raw.into_inner();
        let cert_span = raw.cert.as_ref().map_or(span.clone(), Spanned::span);
        let key_span = raw.key.as_ref().map_or(span.clone(), Spanned::span);
        let cert = self.required_path(raw.cert, "server.tls.cert", span.clone());
        let key = self.required_path(raw.key, "server.tls.key", span.clone());
        let files = TlsFiles {
            cert: cert?,
            key: key?,
        };
        let certs = crate::tls::load_certs(&files.cert)
            .map_err(|e| self.diag.error(cert_span, "server.tls.cert", e.to_string()));
        let key = crate::tls::load_key(&files.key)
            .map_err(|e| self.diag.error(key_span, "server.tls.key", e.to_string()));
        if let (Ok(certs), Ok(key)) = (certs, key) {
            if let Err(e) = crate::tls::pair(certs, key) {
                self.diag.error(
                    span,
                    "server.tls",
                    format!("the key does not belong to the certificate: {e}"),
                );
            }
        }
        Some(files)
    }

    fn security(&mut self, raw: Option<raw::RawSecurity>) -> SecurityConfig {
        let defaults = SecurityConfig::default();
        let Some(raw) = raw else { return defaults };
        SecurityConfig {
            failure_threshold: raw
                .failure_threshold
                .and_then(|n| self.count::<u32>(n, "security.failure_threshold", 1))
                .unwrap_or(defaults.failure_threshold),
            window: self.duration(raw.window, "security.window", defaults.window, false),
            auto_block: raw
                .auto_block
                .map(|d| self.duration(Some(d), "security.auto_block", Duration::ZERO, false)),
            max_tracked_ips: raw
                .max_tracked_ips
                .and_then(|n| self.count::<usize>(n, "security.max_tracked_ips", 1))
                .unwrap_or(defaults.max_tracked_ips),
        }
    }

    /// Behind a load balancer with no `trusted_proxies`, every request
    /// comes from the balancer's address: `auto_block` would block it, and
    /// with it every provider, after a few forged requests.
    fn warn_auto_block_behind_a_balancer(&mut self, server: &ServerConfig, sec: &SecurityConfig) {
        if sec.auto_block.is_some()
            && server.trusted_proxies.is_empty()
            && !server.listen.ip().is_loopback()
        {
            self.diag.warn(
                "security.auto_block",
                format!(
                    "on, and server.trusted_proxies is empty while listening on {}: behind \
                     a load balancer or reverse proxy, list it in trusted_proxies, or failed \
                     requests from anyone will block the balancer itself",
                    server.listen
                ),
            );
        }
    }

    fn admin(&mut self, raw: Spanned<raw::RawAdmin>) -> AdminConfig {
        let raw = raw.into_inner();
        let default_listen = SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 9090);
        let listen = self.socket_addr(raw.listen, "admin.listen", default_listen);
        let token = raw
            .token
            .and_then(|t| self.secret_ref(t, "admin.token", true));
        if token.is_none() && !listen.ip().is_loopback() {
            self.diag.warn(
                "admin.listen",
                format!("{listen} is not a loopback address and admin.token is not set"),
            );
        }
        let recent = raw
            .recent
            .and_then(|n| self.bounded_count(n, "admin.recent", 0, recent::MAX_CAPACITY))
            .unwrap_or(recent::DEFAULT_CAPACITY);
        let hosts = self.admin_hosts(raw.hosts, token.is_some());
        AdminConfig {
            listen,
            token,
            recent,
            hosts,
        }
    }

    /// `admin.hosts`: plain host names (no port, no IP literal: those are
    /// always allowed), only meaningful without a token.
    fn admin_hosts(&mut self, raw: Option<Vec<Spanned<String>>>, token: bool) -> Vec<String> {
        let mut hosts = Vec::new();
        for (i, name) in raw.into_iter().flatten().enumerate() {
            let field = format!("admin.hosts[{i}]");
            if token {
                self.diag.error(
                    name.span(),
                    field,
                    "admin.hosts applies only without admin.token (with a token, any Host is answered)",
                );
                break;
            }
            let text = name.get_ref();
            let valid = !text.is_empty()
                && text.len() <= 253
                && text
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.')
                && text.parse::<IpAddr>().is_err();
            if valid {
                hosts.push(text.to_ascii_lowercase());
            } else {
                self.diag.error(
                    name.span(),
                    field,
                    format!(
                        "{text:?} is not a host name (letters, digits, '-' and '.'; no port; \
                         IP addresses are always allowed)"
                    ),
                );
            }
        }
        hosts
    }

    /// `[upstream]`; `None` (with an error) when its url is missing or invalid.
    fn upstream(&mut self, raw: Option<Spanned<raw::RawUpstream>>) -> Option<UpstreamConfig> {
        let (span, raw) = match raw {
            Some(raw) => (raw.span(), Some(raw.into_inner())),
            None => (0..0, None),
        };
        let (url, timeout, ca) = match raw {
            Some(r) => (r.url, r.timeout, r.ca),
            None => (None, None, None),
        };
        let timeout = self.duration(timeout, "upstream.timeout", Duration::from_secs(30), false);
        let ca = ca.and_then(|ca| self.upstream_ca(ca));
        let Some(url) = url else {
            self.diag.error(
                span,
                "upstream.url",
                "missing: [upstream] url is the default target of every route \
                 (e.g. url = \"http://127.0.0.1:3000\")",
            );
            return None;
        };
        let url = self.default_upstream_url(url)?;
        let (ca, ca_digest) = ca.unzip();
        Some(UpstreamConfig {
            url,
            timeout,
            ca,
            ca_digest,
        })
    }

    /// `[upstream] ca`: its path, and a digest of what it held when the
    /// certificates were loaded exactly as `serve` loads them.
    fn upstream_ca(&mut self, raw: Spanned<String>) -> Option<(PathBuf, [u8; 32])> {
        let path = self.path(raw.get_ref());
        let loaded = crate::tls::upstream_roots(Some(&path))
            .map_err(|e| e.to_string())
            .and_then(|_| std::fs::read(&path).map_err(|e| e.to_string()));
        match loaded {
            Ok(bytes) => {
                let digest = ring::digest::digest(&ring::digest::SHA256, &bytes);
                let mut out = [0; 32];
                out.copy_from_slice(digest.as_ref());
                Some((path, out))
            }
            Err(message) => {
                self.diag.error(raw.span(), "upstream.ca", message);
                None
            }
        }
    }

    fn replay(&mut self, raw: Option<raw::RawReplay>) -> ReplayConfig {
        let raw = raw.unwrap_or(raw::RawReplay {
            store: None,
            ttl: None,
            max_entries: None,
            on_store_error: None,
        });
        let store = match raw.store {
            None => ReplayStoreKind::Memory,
            Some(s) if s.get_ref() == "memory" => ReplayStoreKind::Memory,
            Some(s) if is_redis_ref(s.get_ref()) => self.redis_store(&s),
            Some(s) => {
                let hint = suggest::did_you_mean(s.get_ref(), &["memory"]);
                self.diag.error(
                    s.span(),
                    "replay.store",
                    format!(
                        "unknown store {:?}{hint}; expected \"memory\", a redis:// URL, \
                         or env:/file: holding one",
                        s.get_ref()
                    ),
                );
                ReplayStoreKind::Memory
            }
        };
        let ttl = self.duration(raw.ttl, "replay.ttl", Duration::from_secs(24 * 3600), false);
        let max_entries = raw
            .max_entries
            .and_then(|n| self.count::<usize>(n, "replay.max_entries", 1))
            .unwrap_or(1_000_000);
        let on_store_error = self.choice(
            raw.on_store_error,
            "replay.on_store_error",
            &[
                ("reject", OnStoreError::Reject),
                ("allow", OnStoreError::Allow),
            ],
            OnStoreError::Reject,
        );
        ReplayConfig {
            store,
            ttl,
            max_entries,
            on_store_error,
        }
    }

    /// `replay.store` naming Redis: a URL, or `env:`/`file:` holding one (the
    /// URL may carry a password, so it is kept as a [`Secret`]). Parsed now
    /// so a typo fails `check`, not the first request; messages never repeat
    /// the URL.
    fn redis_store(&mut self, raw: &Spanned<String>) -> ReplayStoreKind {
        let resolved = match resolve(raw.get_ref(), &self.base_dir, self.env) {
            Ok(r) => r,
            Err(message) => {
                self.diag.error(raw.span(), "replay.store", message);
                return ReplayStoreKind::Memory;
            }
        };
        let url = std::str::from_utf8(resolved.value.expose()).unwrap_or_default();
        let valid = is_redis_url(url)
            && redis::IntoConnectionInfo::into_connection_info(url.trim()).is_ok();
        if !valid {
            self.diag.error(
                raw.span(),
                "replay.store",
                format!(
                    "invalid Redis URL ({}); expected \
                     redis://[:password@]host[:port][/db] (or rediss:// for TLS)",
                    resolved.origin
                ),
            );
        } else if resolved.literal && url.contains('@') {
            self.diag.warn(
                "replay.store",
                "Redis password in the config file; prefer env: or file:",
            );
        }
        ReplayStoreKind::Redis(Secret::new(url.trim()))
    }

    /// Warns for each route whose signatures stay valid longer than the
    /// replay store remembers a delivery. A signed timestamp is accepted
    /// while it is within the window of "now", past or future, so one
    /// signature verifies for up to twice the window; a delivery forgotten
    /// sooner lets a later copy through as new.
    fn replay_outlived_by_signatures(&mut self, replay: &ReplayConfig, routes: &[Route]) {
        let ttl = units::format_duration(replay.ttl);
        for route in routes {
            let Some(window) = route.timestamp_window() else {
                continue;
            };
            let lifetime = window.saturating_mul(2);
            if replay.ttl < lifetime {
                let (window, lifetime) = (
                    units::format_duration(window),
                    units::format_duration(lifetime),
                );
                self.diag.warn(
                    "replay.ttl",
                    format!(
                        "{ttl} is shorter than twice the tolerance of route {:?} ({window}): \
                         its signatures stay valid for {lifetime}, so a copy replayed more than \
                         {ttl} after a delivery would be forwarded again; set ttl to at least \
                         {lifetime}",
                        route.path
                    ),
                );
            }
        }
    }

    fn log(&mut self, raw: Option<raw::RawLog>) -> LogConfig {
        let (format, audit) = raw.map_or((None, None), |r| (r.format, r.audit));
        let format = self.choice(
            format,
            "log.format",
            &[("json", LogFormat::Json), ("pretty", LogFormat::Pretty)],
            LogFormat::Json,
        );
        let audit = audit.is_none_or(|a| *a.get_ref());
        LogConfig { format, audit }
    }

    fn spool(&mut self, raw: Option<raw::RawSpool>) -> SpoolConfig {
        let (dir, max_size) = raw.map_or((None, None), |r| (r.dir, r.max_size));
        let dir = match dir {
            Some(d) if d.get_ref().is_empty() => {
                self.diag.error(d.span(), "spool.dir", "empty path");
                PathBuf::new()
            }
            Some(d) => PathBuf::from(d.into_inner()),
            None => PathBuf::from("./hookguard-spool"),
        };
        let max_size = self.size(max_size, "spool.max_size", 1 << 30);
        SpoolConfig { dir, max_size }
    }
}

// === impl Ctx: field checks shared by sections and routes ===

impl Ctx<'_> {
    /// A duration, `default` when absent; zero only when `zero_ok`.
    pub(crate) fn duration(
        &mut self,
        raw: Option<Spanned<DurationText>>,
        field: &str,
        default: Duration,
        zero_ok: bool,
    ) -> Duration {
        let Some(raw) = raw else { return default };
        match units::parse_duration(&raw.get_ref().0) {
            Ok(d) if d.is_zero() && !zero_ok => {
                self.diag
                    .error(raw.span(), field, "must be greater than zero");
                default
            }
            Ok(d) => d,
            Err(e) => {
                self.diag.error(raw.span(), field, e.to_string());
                default
            }
        }
    }

    /// A size of at least one byte, `default` when absent.
    pub(crate) fn size(
        &mut self,
        raw: Option<Spanned<SizeText>>,
        field: &str,
        default: u64,
    ) -> u64 {
        let Some(raw) = raw else { return default };
        match units::parse_size(&raw.get_ref().0) {
            Ok(0) => {
                self.diag
                    .error(raw.span(), field, "must be greater than zero");
                default
            }
            Ok(n) => n,
            Err(e) => {
                self.diag.error(raw.span(), field, e.to_string());
                default
            }
        }
    }

    /// One of a fixed set of words, with a suggestion for near misses.
    pub(crate) fn choice<T: Copy>(
        &mut self,
        raw: Str,
        field: &str,
        options: &[(&'static str, T)],
        default: T,
    ) -> T {
        let Some(raw) = raw else { return default };
        if let Some((_, value)) = options.iter().find(|(name, _)| name == raw.get_ref()) {
            return *value;
        }
        let names: Vec<&str> = options.iter().map(|(name, _)| *name).collect();
        let hint = suggest::did_you_mean(raw.get_ref(), &names);
        self.diag.error(
            raw.span(),
            field,
            format!(
                "unknown value {:?}{hint}; expected {}",
                raw.get_ref(),
                suggest::one_of(&names)
            ),
        );
        default
    }

    /// An integer of at least `min` that fits `T`.
    pub(crate) fn count<T: TryFrom<i64>>(
        &mut self,
        raw: Spanned<i64>,
        field: &str,
        min: i64,
    ) -> Option<T> {
        let n = *raw.get_ref();
        if n < min {
            self.diag.error(
                raw.span(),
                field,
                format!("must be at least {min}, got {n}"),
            );
            return None;
        }
        match T::try_from(n) {
            Ok(v) => Some(v),
            Err(_) => {
                self.diag
                    .error(raw.span(), field, format!("{n} is too large"));
                None
            }
        }
    }

    /// [`Self::count`], and at most `max`.
    fn bounded_count(
        &mut self,
        raw: Spanned<i64>,
        field: &str,
        min: i64,
        max: usize,
    ) -> Option<usize> {
        let span = raw.span();
        let n = self.count::<usize>(raw, field, min)?;
        if n > max {
            self.diag
                .error(span, field, format!("must be at most {max}, got {n}"));
            return None;
        }
        Some(n)
    }

    fn socket_addr(&mut self, raw: Str, field: &str, default: SocketAddr) -> SocketAddr {
        let Some(raw) = raw else { return default };
        match raw.get_ref().parse() {
            Ok(addr) => addr,
            Err(_) => {
                self.diag.error(
                    raw.span(),
                    field,
                    format!(
                        "invalid address {:?}: expected IP:PORT, e.g. \"0.0.0.0:8443\" or \"[::]:8443\"",
                        raw.get_ref()
                    ),
                );
                default
            }
        }
    }

    /// CIDR networks; a bare address means that one host (/32 or /128).
    pub(crate) fn networks(
        &mut self,
        raw: Option<Vec<Spanned<String>>>,
        field: &str,
    ) -> Vec<IpNet> {
        let mut nets = Vec::new();
        for (i, item) in raw.into_iter().flatten().enumerate() {
            let text = item.get_ref().trim();
            let parsed = text
                .parse::<IpNet>()
                .map(|n| n.trunc())
                .or_else(|_| text.parse::<IpAddr>().map(IpNet::from));
            match parsed {
                Ok(net) => nets.push(net),
                Err(_) => self.diag.error(
                    item.span(),
                    format!("{field}[{i}]"),
                    format!(
                        "invalid network {:?}: expected a CIDR such as \"10.0.0.0/8\" or an IP address",
                        item.get_ref()
                    ),
                ),
            }
        }
        nets
    }

    /// An absolute `http://` or `https://` URL with a host.
    pub(crate) fn url(&mut self, raw: Spanned<String>, field: &str) -> Option<Uri> {
        let text = raw.get_ref();
        let problem = match text.parse::<Uri>() {
            Err(_) if !text.contains("://") => {
                format!("{text:?} is not an absolute URL; expected http://host:port/...")
            }
            Err(e) => format!("invalid URL {text:?}: {e}"),
            Ok(uri) => {
                match (uri.scheme_str(), uri.host()) {
                    (Some("http" | "https"), Some(host)) if !host.is_empty() => return Some(uri),
                    (Some("http" | "https"), _) => format!("invalid URL {text:?}: no host"),
                    (Some(other), _) => {
                        format!("unsupported scheme {other:?} in {text:?}; expected http:// or https://")
                    }
                    (None, _) => {
                        format!("{text:?} is not an absolute URL; expected http://host:port/...")
                    }
                }
            }
        };
        self.diag.error(raw.span(), field, problem);
        None
    }

    /// An upstream URL: [`Self::url`] without a user or password. hookguard
    /// would not send them (the client takes no credentials from the URL)
    /// and `check` would print them, so they are refused, and the message
    /// never repeats the URL.
    pub(crate) fn upstream_url(&mut self, raw: Spanned<String>, field: &str) -> Option<Uri> {
        if has_userinfo(raw.get_ref()) {
            self.diag.error(
                raw.span(),
                field,
                "a user name or password in the URL is not supported: hookguard sends no \
                 credentials upstream; remove them and let the upstream accept hookguard \
                 by its address (e.g. listen on loopback or a private network)",
            );
            return None;
        }
        self.url(raw, field)
    }

    /// A path relative to the configuration file's directory.
    pub(crate) fn path(&self, text: &str) -> PathBuf {
        self.base_dir.join(text)
    }

    /// A required, non-empty path inside a table at `table_span`.
    fn required_path(
        &mut self,
        raw: Str,
        field: &str,
        table_span: Range<usize>,
    ) -> Option<PathBuf> {
        match raw {
            None => {
                self.diag.error(table_span, field, "missing");
                None
            }
            Some(p) if p.get_ref().is_empty() => {
                self.diag.error(p.span(), field, "empty path");
                None
            }
            Some(p) => Some(self.path(p.get_ref())),
        }
    }
}
