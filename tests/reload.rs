//! A reload (SIGHUP) never ignores a change in silence: what it can apply
//! applies, and every changed setting that only a restart applies is named
//! in one warning. Queue mode can be switched on by a reload (the spool is
//! opened then), `shutdown_grace` is read when shutting down, and a new
//! upstream timeout lengthens the Redis lease of claims made after it.

mod common;
#[path = "support/redis.rs"]
mod support;

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use common::*;
use hookguard::runtime::{self, Running};

/// Upper bound for any wait here (never a timing assertion).
const PATIENCE: Duration = Duration::from_secs(15);

fn gh_headers(body: &[u8]) -> [(&'static str, String); 1] {
    [(
        "x-hub-signature-256",
        format!("sha256={}", hmac256_hex(GH_SECRET, &[body])),
    )]
}

async fn gh(proxy: &Running, path: &str, body: &[u8]) -> Answer {
    let [(name, value)] = gh_headers(body);
    post(proxy, path, &[(name, &value)], body).await
}

/// Writes a file whole (write, then rename), as a deployment would.
fn write(path: &Path, text: &str) {
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, text).unwrap();
    std::fs::rename(tmp, path).unwrap();
}

// === In process: which settings a reload names ===

/// Every setting whose new value waits for a restart, starting from a
/// configuration that uses each of them.
const BASE: &str = r#"
[server]
listen = "127.0.0.1:0"
max_connections = 100
request_timeout = "30s"
shutdown_grace = "5s"

[upstream]
url = "UPSTREAM"
ca = "ca.pem"

[replay]
ttl = "1h"
max_entries = 1000

[log]
format = "json"

[admin]
listen = "127.0.0.1:0"
recent = 100

[spool]
dir = "DIR/spool"
max_size = "10MiB"

[[route]]
path = "/queued"
provider = "github"
secrets = ["SECRET"]
upstream = "https://localhost:9/in"
delivery = "queue"

[[route]]
path = "/gh"
provider = "github"
secrets = ["SECRET"]
"#;

#[tokio::test]
async fn a_reload_names_every_changed_setting_that_needs_a_restart() {
    let up = Upstream::start().await;
    let tmp = temp_dir("reload-restart");
    let dir = tmp.path();
    let cert = rcgen::generate_simple_self_signed(vec!["localhost".into()]).unwrap();
    std::fs::write(dir.join("ca.pem"), cert.cert.pem()).unwrap();
    std::fs::write(dir.join("cert.pem"), cert.cert.pem()).unwrap();
    std::fs::write(dir.join("key.pem"), cert.key_pair.serialize_pem()).unwrap();
    let base = BASE
        .replace("UPSTREAM", &up.url())
        .replace("DIR", dir.to_str().unwrap())
        .replace("SECRET", GH_SECRET);
    let path = dir.join("hookguard.toml");
    write(&path, &base);
    let p = runtime::start(hookguard::config::load(&path).unwrap())
        .await
        .unwrap();

    let edit = |from: &str, to: &str| {
        assert!(base.contains(from), "{from}");
        base.replacen(from, to, 1)
    };
    let cases: Vec<(String, Vec<&str>)> = vec![
        (
            edit("\"127.0.0.1:0\"", "\"127.0.0.2:0\""),
            vec!["server.listen"],
        ),
        (
            edit(
                "[server]\n",
                "[server]\ntls = { cert = \"cert.pem\", key = \"key.pem\" }\n",
            ),
            vec!["server.tls (on/off)"],
        ),
        (
            edit("max_connections = 100", "max_connections = 50"),
            vec!["server.max_connections"],
        ),
        (
            edit("request_timeout = \"30s\"", "request_timeout = \"20s\""),
            vec!["server.request_timeout (for the request head)"],
        ),
        (
            edit(
                "[admin]\nlisten = \"127.0.0.1:0\"",
                "[admin]\nlisten = \"127.0.0.2:0\"",
            ),
            vec!["admin.listen"],
        ),
        (
            // No admin listener at all: its ring is no longer named.
            edit("[admin]\nlisten = \"127.0.0.1:0\"\nrecent = 100\n", ""),
            vec!["admin.listen"],
        ),
        (edit("recent = 100", "recent = 10"), vec!["admin.recent"]),
        (
            // Another file: the path changes.
            edit("ca = \"ca.pem\"", "ca = \"cert.pem\""),
            vec!["upstream.ca"],
        ),
        (
            edit(
                "ttl = \"1h\"\nmax_entries = 1000",
                "ttl = \"1h\"\nstore = \"redis://127.0.0.1:9\"",
            ),
            vec!["replay.store", "replay.max_entries"],
        ),
        (edit("ttl = \"1h\"", "ttl = \"2h\""), vec!["replay.ttl"]),
        (
            edit("max_entries = 1000", "max_entries = 10"),
            vec!["replay.max_entries"],
        ),
        (
            edit("format = \"json\"", "format = \"pretty\""),
            vec!["log.format"],
        ),
        (edit("/spool\"", "/spool2\""), vec!["spool.dir"]),
        (
            edit("max_size = \"10MiB\"", "max_size = \"20MiB\""),
            vec!["spool.max_size"],
        ),
        // Applied at once: nothing to name.
        (
            edit("shutdown_grace = \"5s\"", "shutdown_grace = \"1s\""),
            vec![],
        ),
    ];
    for (text, expected) in cases {
        write(&path, &text);
        let reloaded = p.reload().unwrap_or_else(|e| panic!("{e}\n{text}"));
        assert_eq!(reloaded.needs_restart, expected, "{text}");
        // A second reload still names it: what runs is the start-up value.
        assert_eq!(p.reload().unwrap().needs_restart, expected);
        write(&path, &base);
        assert_eq!(p.reload().unwrap().needs_restart, Vec::<&str>::new());
    }
    // The CA file's contents changing is a change too.
    let other = rcgen::generate_simple_self_signed(vec!["localhost".into()]).unwrap();
    std::fs::write(dir.join("ca.pem"), other.cert.pem()).unwrap();
    assert_eq!(p.reload().unwrap().needs_restart, ["upstream.ca"]);
    p.shutdown().await;
}

#[tokio::test]
async fn a_reload_that_adds_a_queue_route_opens_the_spool_or_is_refused() {
    let up = Upstream::start().await;
    let tmp = temp_dir("reload-queue");
    let dir = tmp.path();
    let forward = format!(
        "[server]\nlisten = \"127.0.0.1:0\"\n[upstream]\nurl = \"{}\"\n[[route]]\n\
         path = \"/gh\"\nprovider = \"github\"\nsecrets = [\"{GH_SECRET}\"]\n",
        up.url()
    );
    let queued =
        |spool: &str| format!("{forward}delivery = \"queue\"\n[spool]\ndir = \"{spool}\"\n");
    let path = dir.join("hookguard.toml");
    write(&path, &forward);
    let p = runtime::start(hookguard::config::load(&path).unwrap())
        .await
        .unwrap();
    assert_eq!(gh(&p, "/gh", b"{\"n\":1}").await.status, 200);

    // A spool that cannot be opened (its directory is a file): the reload
    // is refused and the route keeps forwarding.
    std::fs::write(dir.join("not-a-dir"), "x").unwrap();
    write(
        &path,
        &queued(dir.join("not-a-dir").join("spool").to_str().unwrap()),
    );
    let err = p.reload().expect_err("refused").to_string();
    assert!(err.starts_with("spool "), "{err}");
    assert_eq!(gh(&p, "/gh", b"{\"n\":2}").await.status, 200);

    write(&path, &queued(dir.join("spool").to_str().unwrap()));
    assert_eq!(p.reload().unwrap().needs_restart, Vec::<&str>::new());
    let answer = gh(&p, "/gh", b"{\"n\":3}").await;
    assert_eq!(answer.status, 202, "{}", answer.text());
    // The worker started with it: the record is delivered.
    up.wait_for_requests(3).await;
    assert_eq!(&up.received()[2].body[..], b"{\"n\":3}");
    p.shutdown().await;
}

/// A shared claim lives for the longest upstream timeout plus a margin, so
/// that it never expires under a replica still forwarding: a reload that
/// raises the timeout must lengthen the claims made after it.
#[tokio::test]
async fn a_reload_that_raises_the_upstream_timeout_lengthens_new_claims() {
    let redis = support::Redis::start();
    let up = Upstream::start().await;
    let tmp = temp_dir("reload-lease");
    let path = tmp.path().join("hookguard.toml");
    let config = support::config_for(&redis.url(), "reject").replace("{upstream}", &up.url());
    assert!(config.contains("timeout = \"3s\""));
    write(&path, &config);
    let p = runtime::start(hookguard::config::load(&path).unwrap())
        .await
        .unwrap();
    write(
        &path,
        &config.replace("timeout = \"3s\"", "timeout = \"60s\""),
    );
    assert_eq!(p.reload().unwrap().needs_restart, Vec::<&str>::new());

    // While the upstream holds the request, its claim's time to live.
    up.set(Behavior {
        delay: Duration::from_secs(3),
        ..Behavior::default()
    });
    let proxy = std::sync::Arc::new(p);
    let sender = std::sync::Arc::clone(&proxy);
    let in_flight =
        tokio::spawn(async move { support::Event::new("lease_1").send(&sender).await.status });
    up.wait_for_requests(1).await;
    let mut conn = redis
        .client()
        .get_multiplexed_async_connection()
        .await
        .unwrap();
    let keys: Vec<String> = redis::cmd("KEYS")
        .arg("hookguard:*")
        .query_async(&mut conn)
        .await
        .unwrap();
    assert_eq!(keys.len(), 1, "{keys:?}");
    let ttl_ms: i64 = redis::cmd("PTTL")
        .arg(&keys[0])
        .query_async(&mut conn)
        .await
        .unwrap();
    // 60 s + the margin, less what has passed; the old lease was 3 s + 5 s.
    assert!(ttl_ms > 30_000, "lease {ttl_ms} ms");
    assert_eq!(in_flight.await.unwrap(), 200);
}

// === The real binary, with real signals ===

/// A `hookguard serve` child with its JSON log lines on a channel; killed
/// on drop.
struct Hookguard {
    child: Child,
    lines: mpsc::Receiver<serde_json::Value>,
    addr: SocketAddr,
}

impl Hookguard {
    fn spawn(config: &Path) -> Self {
        let mut child = Command::new(env!("CARGO_BIN_EXE_hookguard"))
            .args(["serve", "-c"])
            .arg(config)
            .env("HOOKGUARD_LOG", "info")
            .env_remove("RUST_LOG")
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if let Ok(v) = serde_json::from_str::<serde_json::Value>(&line) {
                    let _ = tx.send(v);
                }
            }
        });
        let mut started = Self {
            child,
            lines,
            addr: "0.0.0.0:0".parse().unwrap(),
        };
        let listening = started.wait_for("listening");
        started.addr = listening["addr"].as_str().unwrap().parse().unwrap();
        started
    }

    /// The next log line with this message (lines before it are skipped).
    fn wait_for(&self, message: &str) -> serde_json::Value {
        loop {
            let v = self
                .lines
                .recv_timeout(PATIENCE)
                .unwrap_or_else(|_| panic!("no {message:?} log line"));
            if v["message"] == message {
                return v;
            }
        }
    }

    fn signal(&self, signal: &str) {
        let pid = self.child.id().to_string();
        assert!(Command::new("kill")
            .args([signal, &pid])
            .status()
            .unwrap()
            .success());
    }

    async fn post(&self, path: &str, body: &'static [u8]) -> u16 {
        let [(name, value)] = gh_headers(body);
        let req = http::Request::post(format!("http://{}{path}", self.addr))
            .header(name, value)
            .body(http_body_util::Full::new(bytes::Bytes::from_static(body)))
            .unwrap();
        client().request(req).await.unwrap().status().as_u16()
    }
}

impl Drop for Hookguard {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[tokio::test]
async fn sighup_applies_what_it_can_and_names_in_one_warning_what_needs_a_restart() {
    let up = Upstream::start().await;
    let tmp = temp_dir("sighup-restart");
    let dir = tmp.path();
    let config = |extra_server: &str, ttl: &str, route: &str| {
        format!(
            "[server]\nlisten = \"127.0.0.1:0\"\nshutdown_grace = \"5s\"\n{extra_server}\n\
             [upstream]\nurl = \"{}\"\n[replay]\nttl = \"{ttl}\"\n\
             [[route]]\npath = \"/gh\"\nprovider = \"github\"\nsecrets = [\"{GH_SECRET}\"]\n\
             {route}",
            up.url()
        )
    };
    let path = dir.join("hookguard.toml");
    write(&path, &config("", "1h", ""));
    let hookguard = Hookguard::spawn(&path);
    assert_eq!(hookguard.post("/gh", b"0123456789abcdef").await, 200);

    let spool = format!("[spool]\ndir = \"{}\"\n", dir.join("spool").display());
    write(
        &path,
        &config(
            "max_connections = 5",
            "2h",
            &format!(
                "max_body = \"10B\"\n[[route]]\npath = \"/queued\"\nprovider = \"github\"\n\
                      secrets = [\"{GH_SECRET}\"]\ndelivery = \"queue\"\n{spool}"
            ),
        ),
    );
    hookguard.signal("-HUP");
    hookguard.wait_for("configuration reloaded");
    let warning =
        hookguard.wait_for("needs a restart to apply: server.max_connections, replay.ttl");
    assert_eq!(warning["level"], "WARN");
    assert_eq!(warning["settings"], "server.max_connections, replay.ttl");
    // The rest applies: a new body limit, and queue mode on a new route.
    assert_eq!(hookguard.post("/gh", b"0123456789abcdef").await, 413);
    assert_eq!(hookguard.post("/queued", b"{\"q\":1}").await, 202);
    up.wait_for_requests(2).await;
    assert_eq!(&up.received()[1].body[..], b"{\"q\":1}");
}

#[tokio::test]
async fn shutdown_grace_changed_by_sighup_applies_at_the_next_shutdown() {
    let up = Upstream::start().await;
    let tmp = temp_dir("sighup-grace");
    let dir = tmp.path();
    let config = |grace: &str| {
        format!(
            "[server]\nlisten = \"127.0.0.1:0\"\nshutdown_grace = \"{grace}\"\n\
             [upstream]\nurl = \"{}\"\ntimeout = \"60s\"\n\
             [[route]]\npath = \"/gh\"\nprovider = \"github\"\nsecrets = [\"{GH_SECRET}\"]\n",
            up.url()
        )
    };
    let path = dir.join("hookguard.toml");
    write(&path, &config("60s"));
    let mut hookguard = Hookguard::spawn(&path);
    write(&path, &config("0s"));
    hookguard.signal("-HUP");
    hookguard.wait_for("configuration reloaded");

    // A request the upstream holds for longer than this test waits.
    up.set(Behavior {
        delay: Duration::from_secs(60),
        ..Behavior::default()
    });
    let addr = hookguard.addr;
    let in_flight = tokio::spawn(async move {
        let [(name, value)] = gh_headers(b"slow");
        let req = http::Request::post(format!("http://{addr}/gh"))
            .header(name, value)
            .body(http_body_util::Full::new(bytes::Bytes::from_static(
                b"slow",
            )))
            .unwrap();
        client().request(req).await.map(|r| r.status().as_u16())
    });
    up.wait_for_requests(1).await;
    hookguard.signal("-TERM");
    let drain = hookguard.wait_for("draining in-flight requests");
    assert_eq!(drain["grace_ms"], 0);
    hookguard.wait_for("shutdown grace elapsed with requests still in flight");
    let status = hookguard.child.wait().unwrap();
    assert_eq!(status.code(), Some(0));
    in_flight.abort();
}
