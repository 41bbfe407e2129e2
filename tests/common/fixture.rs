//! The configuration most tests start from, built rather than repeated:
//! `[server]` on an ephemeral loopback port, one `[upstream]`, and routes.
//! A test adds only the lines it is about, so what it tests stands out;
//! where the configuration itself is the point, the test writes it whole.

use std::fmt::Write;

/// A hookguard configuration in TOML, built up line by line. The upstream
/// URL defaults to `{upstream}`, which [`crate::common::proxy`] fills in.
#[derive(Debug, Clone)]
pub struct TomlConfig {
    server: Vec<String>,
    upstream_url: String,
    upstream: Vec<String>,
    tables: Vec<String>,
    routes: Vec<String>,
}

impl Default for TomlConfig {
    fn default() -> Self {
        Self {
            server: vec![r#"listen = "127.0.0.1:0""#.into()],
            upstream_url: "{upstream}".into(),
            upstream: Vec::new(),
            tables: Vec::new(),
            routes: Vec::new(),
        }
    }
}

impl TomlConfig {
    pub fn new() -> Self {
        Self::default()
    }

    /// One `key = value` line under `[server]`.
    pub fn server(mut self, line: &str) -> Self {
        self.server.push(line.into());
        self
    }

    /// The `[upstream]` URL, spelled out (for a config written to a file).
    pub fn upstream_url(mut self, url: &str) -> Self {
        self.upstream_url = url.into();
        self
    }

    /// One `key = value` line under `[upstream]`.
    pub fn upstream(mut self, line: &str) -> Self {
        self.upstream.push(line.into());
        self
    }

    /// An `[admin]` listener on an ephemeral loopback port, with `lines`.
    pub fn admin(self, lines: &str) -> Self {
        self.table(&format!("[admin]\nlisten = \"127.0.0.1:0\"\n{lines}"))
    }

    /// A whole table (`[security]`, `[replay]`, ...) as written.
    pub fn table(mut self, toml: &str) -> Self {
        self.tables.push(toml.trim().into());
        self
    }

    /// A `[[route]]` with the lines given (written after the header).
    pub fn route(mut self, lines: &str) -> Self {
        self.routes.push(lines.trim().into());
        self
    }

    /// A GitHub route at `path` with one secret (a value, or a `file:` or
    /// `env:` reference), and `extra` lines.
    pub fn github(self, path: &str, secret: &str, extra: &[&str]) -> Self {
        let mut lines = format!(
            "path = {}\nprovider = \"github\"\nsecrets = [{}]\n",
            quoted(path),
            quoted(secret)
        );
        for line in extra {
            lines.push_str(line);
            lines.push('\n');
        }
        self.route(&lines)
    }

    /// The configuration as TOML.
    pub fn build(&self) -> String {
        let mut out = String::from("[server]\n");
        for line in &self.server {
            writeln!(out, "{line}").unwrap();
        }
        writeln!(out, "\n[upstream]\nurl = {}", quoted(&self.upstream_url)).unwrap();
        for line in &self.upstream {
            writeln!(out, "{line}").unwrap();
        }
        for table in &self.tables {
            writeln!(out, "\n{table}").unwrap();
        }
        for route in &self.routes {
            writeln!(out, "\n[[route]]\n{route}").unwrap();
        }
        out
    }
}

/// `text` as a TOML basic string (the test values hold no control
/// characters; backslash and quote are escaped).
pub fn quoted(text: &str) -> String {
    format!("\"{}\"", text.replace('\\', "\\\\").replace('"', "\\\""))
}
