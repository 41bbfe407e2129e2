//! Every key `docs/configuration.md` documents has a case here, and every
//! case a documented key: setting it changes what can be observed (a request
//! answered differently, what the upstream receives, what the process
//! writes), or setting it wrongly is a configuration error. A key added to
//! the reference without a case, or a case for a key the reference lacks,
//! fails `every_documented_key_has_a_case`.
//!
//! Each case compares two configurations that differ only in the key: the
//! same probe runs against both, through the real proxy (in process, or the
//! binary for the log keys), and must observe what the case expects for
//! each. A configuration that does not validate is observed as `error at
//! <field>`. The cases run concurrently, each with its own upstream.
//!
//! - `docs`: the keys the reference documents.
//! - `cases`: the table, one case per key.
//! - `probes`: what each case sends and observes; `limits`, the same for
//!   the limits on connections and on bodies held in memory.

#[path = "../common/mod.rs"]
mod common;

mod cases;
mod docs;
mod limits;
mod probes;

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::sync::OnceLock;

use futures_like::BoxFuture;

use common::{temp_dir, Upstream, GH_SECRET};
use hookguard::runtime::{self, Running};

/// A probe against the proxy running in process.
pub type Live = fn(Ctx) -> BoxFuture<String>;
/// A probe that runs `hookguard serve` on the configuration file itself.
pub type Binary = fn(BinaryCtx) -> BoxFuture<String>;

/// How a case observes the proxy.
pub enum Probe {
    Live(Live),
    Binary(Binary),
}

/// One line of a table of the configuration: `(table, "key = value")`.
/// The line replaces the table's line with the same key, or is added;
/// `"-key"` removes that key. Tables: `server`, `admin`, `upstream`,
/// `replay`, `log`, `security`, `spool`, `route` (the GitHub route at
/// `/hook`), `generic` (the `hmac` route at `/generic`), `hmac` (its
/// `[route.hmac]`) and `receipt`.
pub type Edit = (&'static str, &'static str);

/// One documented key and how setting it shows.
pub struct Case {
    /// `section.key`, as `docs::documented_keys` names it.
    pub key: &'static str,
    /// The configuration with the key set...
    pub set: &'static [Edit],
    /// ...and the one it is compared with: the key unset, or set otherwise.
    pub other: &'static [Edit],
    pub probe: Probe,
    /// What the probe observes with `set`, then with `other`.
    pub expect: [&'static str; 2],
}

/// What a live probe gets: the running proxy, its upstream, and a
/// directory of its own (with `cert.pem`/`key.pem` for `localhost`).
pub struct Ctx {
    pub proxy: Running,
    pub up: Upstream,
    pub dir: PathBuf,
}

/// What a binary probe gets: the configuration file, and the upstream it
/// names (alive while the probe runs).
pub struct BinaryCtx {
    pub config: PathBuf,
    pub up: Upstream,
}

/// The configuration every case edits: a GitHub route and a generic HMAC
/// route, on loopback. `{...}` are filled in per run.
const TABLES: &[(&str, &str, &[&str])] = &[
    ("server", "[server]", &["listen = \"127.0.0.1:0\""]),
    ("admin", "[admin]", &[]),
    ("upstream", "[upstream]", &["url = \"{upstream}\""]),
    ("replay", "[replay]", &[]),
    ("log", "[log]", &[]),
    ("security", "[security]", &[]),
    ("spool", "[spool]", &[]),
    (
        "route",
        "[[route]]",
        &[
            "path = \"/hook\"",
            "provider = \"github\"",
            "secrets = [\"{gh}\"]",
        ],
    ),
    (
        "generic",
        "[[route]]",
        &[
            "path = \"/generic\"",
            "provider = \"hmac\"",
            "secrets = [\"generic-secret\"]",
        ],
    ),
    ("hmac", "[route.hmac]", &["header = \"X-Sig\""]),
    // Written only when a case sets its lines: an SNS route (route[2]).
    ("sns", "[[route]]", &[]),
    ("keys", "[route.keys]", &[]),
    ("receipt", "[receipt]", &[]),
];

/// Tables written even when empty (the others only when a case sets a key).
const ALWAYS: &[&str] = &["server", "upstream", "route", "generic", "hmac"];

/// The configuration with `edits` applied, placeholders not yet filled.
fn render(edits: &[Edit]) -> String {
    let mut out = String::new();
    for (name, header, lines) in TABLES {
        let mut lines: Vec<String> = lines.iter().map(|l| (*l).to_owned()).collect();
        for (table, edit) in edits.iter().filter(|(t, _)| t == name) {
            let _ = table;
            let key_of = |l: &str| l.split(" =").next().unwrap_or_default().to_owned();
            match edit.strip_prefix('-') {
                Some(key) => lines.retain(|l| key_of(l) != key),
                None => match lines.iter_mut().find(|l| key_of(l) == key_of(edit)) {
                    Some(line) => *line = (*edit).to_owned(),
                    None => lines.push((*edit).to_owned()),
                },
            }
        }
        if lines.is_empty() && !ALWAYS.contains(name) {
            continue;
        }
        out.push_str(header);
        out.push('\n');
        for line in lines {
            out.push_str(&line);
            out.push('\n');
        }
        out.push('\n');
    }
    out
}

/// A port nothing listens on, and nothing else can take while the socket
/// lives: bound without `listen`, so a connection to it is refused. (A
/// listener bound and closed again freed its port for the concurrent cases,
/// and one of them once took it: a case expecting "unreachable" got 200.)
fn closed_port() -> (tokio::net::TcpSocket, u16) {
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.bind("127.0.0.1:0".parse().unwrap()).unwrap();
    let port = socket.local_addr().unwrap().port();
    (socket, port)
}

/// Runs `probe` on the configuration `edits` describe; the observation.
async fn observe(key: &str, edits: &[Edit], probe: &Probe) -> String {
    let tmp = temp_dir(&format!("key-{}", key.replace(['.', '[', ']'], "-")));
    let dir = tmp.path().to_path_buf();
    probes::write_tls_files(&dir);
    let up = Upstream::start().await;
    let (_closed, closed) = closed_port();
    let mut toml = render(edits)
        .replace("{upstream}", &up.url())
        .replace("{dir}", dir.to_str().unwrap())
        .replace("{gh}", GH_SECRET)
        .replace("{closed}", &closed.to_string());
    if toml.contains("{tls}") {
        toml = toml.replace("{tls}", &probes::tls_upstream().await.to_string());
    }
    toml = probes::fill_keys(&toml);
    let path = dir.join("hookguard.toml");
    std::fs::write(&path, &toml).unwrap();
    let config = match hookguard::config::load(&path) {
        Ok(config) => config,
        Err(errors) => {
            let first = &errors.errors[0];
            assert!(
                first.line > 0,
                "{key}: an error without a position: {first}"
            );
            return format!("error at {}", first.field);
        }
    };
    let observed = match probe {
        Probe::Live(probe) => {
            let proxy = runtime::start(config).await.expect("proxy starts");
            probe(Ctx { proxy, up, dir }).await
        }
        Probe::Binary(probe) => probe(BinaryCtx { config: path, up }).await,
    };
    drop(tmp);
    observed
}

/// The case's two observations, or why they are not the expected ones.
async fn run(case: &'static Case) -> Result<(), String> {
    let set = observe(case.key, case.set, &case.probe);
    let other = observe(case.key, case.other, &case.probe);
    let (set, other) = tokio::join!(set, other);
    if [set.as_str(), other.as_str()] == case.expect {
        return Ok(());
    }
    Err(format!(
        "{}: expected {:?} (set) and {:?} (other), observed {set:?} and {other:?}",
        case.key, case.expect[0], case.expect[1]
    ))
}

#[test]
fn every_documented_key_has_a_case() {
    let documented = docs::documented_keys();
    let cased: BTreeSet<String> = cases::CASES.iter().map(|c| c.key.to_owned()).collect();
    let untested: Vec<&String> = documented.difference(&cased).collect();
    let undocumented: Vec<&String> = cased.difference(&documented).collect();
    assert!(
        untested.is_empty() && undocumented.is_empty(),
        "documented keys without a case: {untested:?}; cases for keys docs/configuration.md \
         does not document: {undocumented:?}"
    );
    assert_eq!(cased.len(), cases::CASES.len(), "a key has two cases");
    for case in cases::CASES {
        assert_ne!(
            case.expect[0], case.expect[1],
            "{}: nothing to tell apart",
            case.key
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_documented_key_changes_behaviour_or_is_refused() {
    // `CONFIG_KEY=server.listen` runs the cases of keys containing that text.
    let only = std::env::var("CONFIG_KEY").unwrap_or_default();
    let runs: Vec<_> = cases::CASES
        .iter()
        .filter(|case| case.key.contains(&only))
        .map(|case| tokio::spawn(run(case)))
        .collect();
    let mut failures = Vec::new();
    for run in runs {
        if let Err(failure) = run.await.unwrap() {
            failures.push(failure);
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// The test's certificate for `localhost`, made once.
pub fn certificate() -> &'static rcgen::CertifiedKey {
    static CERT: OnceLock<rcgen::CertifiedKey> = OnceLock::new();
    CERT.get_or_init(|| rcgen::generate_simple_self_signed(vec!["localhost".into()]).unwrap())
}

/// Boxed futures without a dependency on the `futures` crate.
mod futures_like {
    pub type BoxFuture<T> = std::pin::Pin<Box<dyn std::future::Future<Output = T> + Send>>;
}
