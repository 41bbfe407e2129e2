//! What `hookguard check` prints for a valid configuration: a short summary,
//! the route table, then the warnings.
//!
//! Secrets appear only as counts and origins (`env:NAME`, `file:PATH`,
//! `literal`), never as values.

use std::collections::BTreeSet;
use std::fmt::Write as _;

use super::units::{format_duration, format_size};
use super::{Config, LogConfig, LogFormat, ProxyProtocol, Route};
use crate::ip_presets::date_text;
use crate::providers::SecretEntry;

/// Renders the listener summary, one row per route, and the warnings.
pub fn render_check(cfg: &Config) -> String {
    let mut out = String::new();
    let scheme = if cfg.server.tls.is_some() {
        "https"
    } else {
        "http"
    };
    let proxy_header = match cfg.server.proxy_protocol {
        None => "",
        Some(ProxyProtocol::V1) => ", PROXY protocol v1 from trusted_proxies",
        Some(ProxyProtocol::V2) => ", PROXY protocol v2 from trusted_proxies",
        Some(ProxyProtocol::Any) => ", PROXY protocol v1 or v2 from trusted_proxies",
    };
    let listen = cfg.server.listen;
    let _ = writeln!(out, "listen    {listen} ({scheme}{proxy_header})");
    match &cfg.admin {
        Some(admin) => {
            let token = if admin.token.is_some() {
                "token required"
            } else {
                "no token"
            };
            let _ = writeln!(out, "admin     {} ({token})", admin.listen);
        }
        None => out.push_str("admin     off\n"),
    }
    let _ = writeln!(
        out,
        "upstream  {} (timeout {})",
        cfg.upstream.url,
        format_duration(cfg.upstream.timeout)
    );
    let _ = writeln!(out, "log       {}", log(&cfg.log));
    if let Some(line) = receipt(cfg) {
        let _ = writeln!(out, "receipt   {line}");
    }
    out.push('\n');

    let header = [
        "PATH",
        "PROVIDER",
        "SECRETS",
        "UPSTREAM",
        "METHODS",
        "MAX_BODY",
        "TOLERANCE",
    ];
    let rows: Vec<[String; 7]> = cfg.routes.iter().map(row).collect();
    let mut widths = header.map(str::len);
    for row in &rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let mut line = |cells: &[&str]| {
        let mut text = String::new();
        for (cell, w) in cells.iter().zip(widths) {
            let _ = write!(text, "{cell:<w$}  ");
        }
        out.push_str(text.trim_end());
        out.push('\n');
    };
    line(&header);
    for row in &rows {
        let cells: Vec<&str> = row.iter().map(String::as_str).collect();
        line(&cells);
    }

    presets(cfg, &mut out);
    let fetched: Vec<String> = cfg
        .routes
        .iter()
        .filter_map(|r| {
            let rule = r.verifier.key_rule()?;
            let ca = r.key_trust.as_ref().and_then(|t| t.ca_digest);
            let ca = if ca.is_some() {
                "; plus [route.keys] ca"
            } else {
                ""
            };
            Some(format!("  {}  {rule}{ca}", r.path))
        })
        .collect();
    if !fetched.is_empty() {
        out.push_str("\nfetched keys:\n");
        for line in fetched {
            out.push_str(&line);
            out.push('\n');
        }
    }

    if !cfg.warnings.is_empty() {
        out.push_str("\nwarnings:\n");
        for w in &cfg.warnings {
            let _ = writeln!(out, "  {w}");
        }
    }
    out
}

fn row(route: &Route) -> [String; 7] {
    let keys = if route.key_trust.is_some() && route.secrets.is_empty() {
        "fetched (see below)".to_owned()
    } else if route.secrets.is_empty() {
        format!(
            "{} public key(s): {}",
            route.public_keys.len(),
            origins(&route.public_keys)
        )
    } else {
        format!("{}: {}", route.secrets.len(), origins(&route.secrets))
    };
    let keys = match &route.token_query {
        Some(q) => format!("{keys}; key in query {q:?}"),
        None => keys,
    };
    let methods: Vec<&str> = route.methods.iter().map(http::Method::as_str).collect();
    [
        route.path.clone(),
        route.provider.clone(),
        keys,
        route.upstream.url.to_string(),
        methods.join(","),
        format_size(route.max_body),
        route
            .timestamp_window()
            .map_or_else(|| "none".to_owned(), format_duration),
    ]
}

/// `json, audit on`: the event format and whether the audit trail is
/// written (`[log] audit = false` turns it off whatever the level).
/// Each provider IP preset a route's `allow_ips` names: its size, source
/// and age (`check` also warns when one is older than 30 days).
fn presets(cfg: &Config, out: &mut String) {
    let used: BTreeSet<&str> = cfg
        .routes
        .iter()
        .flat_map(|r| r.ip_presets.iter().map(String::as_str))
        .collect();
    if used.is_empty() {
        return;
    }
    let set = &cfg.server.ip_presets;
    let today = time::OffsetDateTime::now_utc().date();
    let _ = writeln!(out, "\nip presets ({}):", set.origin());
    for name in used {
        if let Ok(p) = set.lookup(name) {
            let _ = writeln!(
                out,
                "  preset:{name}  {} ranges, snapshot {} ({} days old), from {}",
                p.ranges.len(),
                date_text(p.snapshot),
                p.age_days(today),
                p.source
            );
        }
    }
}

fn log(log: &LogConfig) -> String {
    let format = match log.format {
        LogFormat::Json => "json",
        LogFormat::Pretty => "pretty",
    };
    let audit = if log.audit { "on" } else { "off" };
    format!("{format}, audit {audit}")
}

/// `v1: 2 secret(s): env:A, env:B; v1a: whpk_... (file:key); off on /x`:
/// what signs the receipt, the public key to give the app, and the routes
/// that turned it off.
fn receipt(cfg: &Config) -> Option<String> {
    let receipt = cfg.receipt.as_deref()?;
    let mut parts = Vec::new();
    let secrets = receipt.secrets();
    if !secrets.is_empty() {
        let list: Vec<String> = secrets
            .iter()
            .map(|s| with_expiry(&s.origin, s.expires))
            .collect();
        parts.push(format!(
            "v1: {} secret(s): {}",
            secrets.len(),
            list.join(", ")
        ));
    }
    if let Some(key) = receipt.ed25519() {
        let public = crate::receipt::public_key_text(&key.pair);
        parts.push(format!("v1a: public key {public} ({})", key.origin));
    }
    let off: Vec<&str> = cfg
        .routes
        .iter()
        .filter(|r| !r.receipt)
        .map(|r| r.path.as_str())
        .collect();
    if !off.is_empty() {
        parts.push(format!("off on {}", off.join(", ")));
    }
    Some(parts.join("; "))
}

fn with_expiry(origin: &str, expires: Option<i64>) -> String {
    match expires {
        Some(t) => format!("{origin} (expires {})", rfc3339(t)),
        None => origin.to_owned(),
    }
}

fn origins(entries: &[SecretEntry]) -> String {
    let list: Vec<String> = entries
        .iter()
        .map(|e| with_expiry(&e.origin, e.expires))
        .collect();
    list.join(", ")
}

fn rfc3339(unix: i64) -> String {
    crate::clock::rfc3339(unix).unwrap_or_else(|| unix.to_string())
}
