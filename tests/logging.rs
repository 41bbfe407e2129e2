//! The real `hookguard` binary's two log streams on stdout: the audit trail
//! (one line per request, switched by `[log] audit` alone, whatever
//! `HOOKGUARD_LOG` says) and diagnostics; and a stdout nobody reads, which
//! must cost dropped, counted and reported log lines, never stalled requests.

mod common;

use std::io::{BufRead, BufReader, Read};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdout, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::Full;

use common::*;

/// Upper bound for any wait in these tests (never a timing assertion).
const PATIENCE: Duration = Duration::from_secs(60);

/// A `hookguard serve` child, killed on drop.
struct Hookguard {
    child: Child,
}

impl Hookguard {
    /// Starts `serve -c config` with stdout piped and `HOOKGUARD_LOG` set.
    fn spawn(config: &Path, log_filter: &str, workers: &str) -> (Self, ChildStdout) {
        let mut child = Command::new(env!("CARGO_BIN_EXE_hookguard"))
            .args(["serve", "-c"])
            .arg(config)
            .env("HOOKGUARD_LOG", log_filter)
            .env_remove("RUST_LOG")
            .env("TOKIO_WORKER_THREADS", workers)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        (Self { child }, stdout)
    }

    fn signal(&self, signal: &str) {
        let pid = self.child.id().to_string();
        assert!(Command::new("kill")
            .args([signal, &pid])
            .status()
            .unwrap()
            .success());
    }

    /// SIGTERM, then the exit status (0 once drained).
    fn stop(mut self) -> Option<i32> {
        self.signal("-TERM");
        self.child.wait().unwrap().code()
    }
}

impl Drop for Hookguard {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Every stdout line, as it comes, on a channel (the pipe is always read).
fn lines_of(stdout: impl Read + Send + 'static) -> mpsc::Receiver<String> {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                return;
            }
        }
    });
    rx
}

/// Receives lines until one satisfies `want`, returning it and every line
/// before it; panics after [`PATIENCE`].
fn until(rx: &mpsc::Receiver<String>, seen: &mut Vec<String>, want: impl Fn(&str) -> bool) {
    let deadline = Instant::now() + PATIENCE;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let line = rx
            .recv_timeout(left)
            .unwrap_or_else(|_| panic!("line never came; so far:\n{}", seen.join("\n")));
        let done = want(&line);
        seen.push(line);
        if done {
            return;
        }
    }
}

fn json(line: &str) -> serde_json::Value {
    serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}"))
}

fn is_audit(line: &str) -> bool {
    serde_json::from_str::<serde_json::Value>(line).is_ok_and(|v| v["target"] == "audit")
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Writes a one-route GitHub config into `dir`; `extra` is appended.
fn write_config(dir: &Path, listen: &str, up: &Upstream, route: &str, extra: &str) -> PathBuf {
    let path = dir.join("hookguard.toml");
    let toml = format!(
        r#"
[server]
listen = "{listen}"
shutdown_grace = "5s"

[upstream]
url = "{up}"
timeout = "5s"

[[route]]
path = "{route}"
provider = "github"
secrets = ["{GH_SECRET}"]
{extra}
"#,
        up = up.url()
    );
    std::fs::write(&path, toml).unwrap();
    path
}

/// A signed GitHub delivery of a body unique to `n` (so never a duplicate).
fn github_request(addr: SocketAddr, path: &str, n: usize) -> http::Request<Full<Bytes>> {
    let body = format!("{{\"n\":{n}}}");
    let sig = format!("sha256={}", hmac256_hex(GH_SECRET, &[body.as_bytes()]));
    http::Request::post(format!("http://{addr}{path}"))
        .header("x-hub-signature-256", sig)
        .body(Full::new(Bytes::from(body)))
        .unwrap()
}

async fn deliver(addr: SocketAddr, path: &str, n: usize) -> u16 {
    let answer = client().request(github_request(addr, path, n));
    tokio::time::timeout(PATIENCE, answer)
        .await
        .expect("answered before the deadline")
        .expect("proxy answers")
        .status()
        .as_u16()
}

/// Waits until something accepts on `addr` (the proxy is up).
async fn wait_listening(addr: SocketAddr) {
    let what = format!("the proxy to listen on {addr}");
    eventually(&what, PATIENCE, || tokio::net::TcpStream::connect(addr)).await;
}

/// `HOOKGUARD_LOG=warn` (or stricter) silences diagnostics, never the
/// audit trail: a forwarded request (an INFO event) still has its line, in
/// both formats.
#[tokio::test]
async fn a_strict_log_filter_keeps_the_audit_line_of_a_forwarded_request() {
    for (format, filter) in [("json", "warn"), ("pretty", "error")] {
        let up = Upstream::start().await;
        let tmp = temp_dir(&format!("audit-filter-{format}"));
        // The "listening" line is filtered out: the port is chosen here.
        let addr: SocketAddr = format!("127.0.0.1:{}", free_port()).parse().unwrap();
        let extra = format!("[log]\nformat = \"{format}\"\n");
        let config = write_config(tmp.path(), &addr.to_string(), &up, "/gh", &extra);
        let (hookguard, stdout) = Hookguard::spawn(&config, filter, "1");
        let rx = lines_of(stdout);
        wait_listening(addr).await;

        assert_eq!(deliver(addr, "/gh", 1).await, 200);
        assert_eq!(up.count(), 1);
        assert_eq!(hookguard.stop(), Some(0));
        let lines: Vec<String> = rx.iter().collect();
        let all = lines.join("\n");
        let audit: Vec<&String> = lines
            .iter()
            .filter(|l| match format {
                "json" => is_audit(l),
                _ => l.contains(" audit: "),
            })
            .collect();
        assert_eq!(audit.len(), 1, "{format}, {filter}: one audit line:\n{all}");
        assert!(audit[0].contains("forwarded"), "{}", audit[0]);
        assert!(!all.contains("listening"), "diagnostics filtered:\n{all}");
    }
}

/// `[log] audit = false` writes no audit line while diagnostics go on; a
/// SIGHUP that turns it back on applies at once.
#[tokio::test]
async fn audit_false_silences_only_the_audit_trail_and_sighup_applies_it() {
    let up = Upstream::start().await;
    let tmp = temp_dir("audit-off");
    let off = "[log]\naudit = false\n";
    let config = write_config(tmp.path(), "127.0.0.1:0", &up, "/gh", off);
    let (hookguard, stdout) = Hookguard::spawn(&config, "", "1");
    let rx = lines_of(stdout);
    let mut seen = Vec::new();
    until(&rx, &mut seen, |l| json(l)["message"] == "listening");
    let addr: SocketAddr = json(seen.last().unwrap())["addr"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();

    assert_eq!(deliver(addr, "/gh", 1).await, 200);
    // Reload with the audit trail on: the reload's own line marks the point
    // after which the first request's line would have been written.
    write_config(
        tmp.path(),
        "127.0.0.1:0",
        &up,
        "/gh",
        "[log]\naudit = true\n",
    );
    hookguard.signal("-HUP");
    until(&rx, &mut seen, |l| {
        json(l)["message"] == "configuration reloaded"
    });
    assert_eq!(deliver(addr, "/gh", 2).await, 200);
    assert_eq!(up.count(), 2);
    assert_eq!(hookguard.stop(), Some(0));
    seen.extend(rx.iter());

    let all = seen.join("\n");
    let audit: Vec<serde_json::Value> = seen
        .iter()
        .filter(|l| is_audit(l))
        .map(|l| json(l))
        .collect();
    assert_eq!(audit.len(), 1, "only the request after the reload:\n{all}");
    assert_eq!(audit[0]["outcome"], "forwarded");
    let reloaded = seen
        .iter()
        .position(|l| json(l)["message"] == "configuration reloaded")
        .unwrap();
    let first_audit = seen.iter().position(|l| is_audit(l)).unwrap();
    assert!(first_audit > reloaded, "{all}");
    // Diagnostics were written throughout.
    for message in ["listening", "SIGHUP received: reloading configuration"] {
        assert!(seen.iter().any(|l| json(l)["message"] == message), "{all}");
    }
}

/// A `HOOKGUARD_LOG` that is no valid filter is refused out loud: one
/// warning naming it, then diagnostics at the default level.
#[tokio::test]
async fn an_invalid_log_filter_is_reported_and_the_default_applies() {
    let up = Upstream::start().await;
    let tmp = temp_dir("bad-filter");
    let config = write_config(tmp.path(), "127.0.0.1:0", &up, "/gh", "");
    let (hookguard, stdout) = Hookguard::spawn(&config, "hookguard=loud", "1");
    let rx = lines_of(stdout);
    let mut seen = Vec::new();
    until(&rx, &mut seen, |l| json(l)["message"] == "listening");
    let warning = seen
        .iter()
        .map(|l| json(l))
        .find(|v| v["level"] == "WARN" && v["target"] == "hookguard::telemetry")
        .unwrap_or_else(|| panic!("no warning:\n{}", seen.join("\n")));
    let message = warning["message"].as_str().unwrap();
    assert!(
        message.starts_with("HOOKGUARD_LOG is not a valid filter (")
            && message.ends_with("); logging diagnostics at info"),
        "{message}"
    );
    assert_eq!(hookguard.stop(), Some(0));
}

/// A stdout nobody reads (a stalled log consumer) fills the pipe and then
/// the writer's bounded buffer. Requests must still be answered, on one
/// worker thread too: audit lines beyond the bound are dropped, counted in
/// `hookguard_log_dropped_total`, and reported in one line once the pipe is
/// read again. Every line written is whole.
#[tokio::test]
async fn a_stuck_stdout_drops_counted_log_lines_and_never_stalls_requests() {
    let up = Upstream::start().await;
    let tmp = temp_dir("stuck-stdout");
    // A long route path makes each audit line ~3 KiB: the writer's 4 MiB
    // bound is passed after about 1,300 requests.
    let route = format!("/gh/{}", "x".repeat(3000));
    let admin = "[admin]\nlisten = \"127.0.0.1:0\"\n";
    let config = write_config(tmp.path(), "127.0.0.1:0", &up, &route, admin);
    let (hookguard, stdout) = Hookguard::spawn(&config, "", "1");

    // Read up to the "listening" line, then stop reading.
    let mut stdout = BufReader::new(stdout);
    let (mut addr, mut admin_addr) = (None, None);
    while addr.is_none() {
        let mut line = String::new();
        assert!(stdout.read_line(&mut line).unwrap() > 0, "stdout closed");
        let v = json(&line);
        let at = || v["addr"].as_str().unwrap().parse::<SocketAddr>().unwrap();
        match v["message"].as_str() {
            Some("admin listening") => admin_addr = Some(at()),
            Some("listening") => addr = Some(at()),
            _ => {}
        }
    }
    let (addr, admin_addr) = (addr.unwrap(), admin_addr.expect("admin listening"));

    const REQUESTS: usize = 3_000;
    const CONCURRENCY: usize = 16;
    let route = std::sync::Arc::new(route);
    let senders: Vec<_> = (0..CONCURRENCY)
        .map(|first| {
            let route = route.clone();
            tokio::spawn(async move {
                for n in (first..REQUESTS).step_by(CONCURRENCY) {
                    assert_eq!(deliver(addr, &route, n).await, 200, "request {n}");
                }
            })
        })
        .collect();
    for sender in senders {
        sender.await.unwrap();
    }
    assert_eq!(up.count(), REQUESTS);

    let metrics = admin_request(admin_addr, "GET", "/metrics", None).await.1;
    let dropped: u64 = metrics
        .lines()
        .find_map(|l| l.strip_prefix("hookguard_log_dropped_total "))
        .unwrap_or_else(|| panic!("no hookguard_log_dropped_total in\n{metrics}"))
        .parse()
        .unwrap();
    assert!(dropped > 0, "nothing dropped: the pipe never filled");

    // Read again: the writer resumes and reports what it dropped.
    let rx = lines_of(stdout);
    let mut seen = Vec::new();
    until(&rx, &mut seen, |l| {
        json(l)["message"]
            .as_str()
            .is_some_and(|m| m.contains("dropped"))
    });
    let report = json(seen.last().unwrap());
    assert_eq!(
        report["message"],
        format!("log output fell behind: dropped {dropped} lines")
    );
    assert_eq!(report["dropped"], dropped);
    assert_eq!(report["level"], "WARN");
    assert_eq!(hookguard.stop(), Some(0));
    seen.extend(rx.iter());
    // Lines are dropped or written whole, never cut.
    let audit = seen.iter().filter(|l| json(l)["target"] == "audit").count();
    assert_eq!(
        audit as u64 + dropped,
        REQUESTS as u64,
        "lines lost uncounted"
    );
}

/// SIGTERM while nobody reads stdout: the process still exits. Its last
/// lines get a bounded time to be written, then are counted as dropped and
/// reported on stderr, rather than keeping a stopped proxy alive forever.
#[tokio::test]
async fn sigterm_with_a_stuck_stdout_exits_and_reports_the_unwritten_lines() {
    let up = Upstream::start().await;
    let tmp = temp_dir("stuck-exit");
    // ~3 KiB audit lines: a few hundred requests fill any pipe's buffer.
    let route = format!("/gh/{}", "x".repeat(3000));
    let config = write_config(tmp.path(), "127.0.0.1:0", &up, &route, "");
    let mut guard = Hookguard {
        child: Command::new(env!("CARGO_BIN_EXE_hookguard"))
            .args(["serve", "-c"])
            .arg(&config)
            .env("HOOKGUARD_LOG", "")
            .env_remove("RUST_LOG")
            .env("TOKIO_WORKER_THREADS", "1")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap(),
    };
    // Read up to the "listening" line, then never again (but keep the pipe
    // open: a closed one would fail writes instead of blocking them).
    let mut stdout = BufReader::new(guard.child.stdout.take().unwrap());
    let addr = loop {
        let mut line = String::new();
        assert!(stdout.read_line(&mut line).unwrap() > 0, "stdout closed");
        let v = json(&line);
        if v["message"] == "listening" {
            break v["addr"].as_str().unwrap().parse::<SocketAddr>().unwrap();
        }
    };
    for n in 0..600 {
        assert_eq!(deliver(addr, &route, n).await, 200, "request {n}");
    }
    guard.signal("-TERM");
    let what = "the exit after SIGTERM (not waiting for a stdout nobody reads)";
    let status = eventually(what, PATIENCE, || {
        std::future::ready(guard.child.try_wait().unwrap().ok_or("still running"))
    })
    .await;
    assert_eq!(status.code(), Some(0));
    let mut stderr = String::new();
    guard
        .child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    assert!(
        stderr.contains("hookguard: log output is stuck: ")
            && stderr.contains(" log lines could not be written before exit"),
        "{stderr}"
    );
    drop(stdout);
}

/// The first line `hookguard verify` prints for these headers and body,
/// without its `invalid: `: the explanation it gives offline.
fn verify_offline(config: &Path, route: &str, headers: &[(&str, &str)], body: &[u8]) -> String {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_hookguard"));
    cmd.args(["verify", "-c"])
        .arg(config)
        .args(["--route", route]);
    for (name, value) in headers {
        cmd.args(["-H", &format!("{name}: {value}")]);
    }
    let out = cmd
        .arg("-")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .and_then(|mut child| {
            use std::io::Write as _;
            child.stdin.take().unwrap().write_all(body)?;
            child.wait_with_output()
        })
        .unwrap();
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    let first = text.lines().next().unwrap_or_default();
    first
        .strip_prefix("invalid: ")
        .unwrap_or_else(|| panic!("verify did not refuse:\n{text}"))
        .to_owned()
}

/// Every rejection's audit line carries a `reason` in the words `hookguard
/// verify` uses offline (word for word for the same request), with the
/// body's fingerprint once it was read, and never the signature.
#[tokio::test]
async fn rejections_carry_the_offline_explanation_as_reason() {
    let up = Upstream::start().await;
    let tmp = temp_dir("reasons");
    let slack =
        "[[route]]\npath = \"/slack\"\nprovider = \"slack\"\nsecrets = [\"slack-secret-9d2e\"]\n";
    let config = write_config(tmp.path(), "127.0.0.1:0", &up, "/gh", slack);
    let (hookguard, stdout) = Hookguard::spawn(&config, "", "1");
    let rx = lines_of(stdout);
    let mut seen = Vec::new();
    until(&rx, &mut seen, |l| json(l)["message"] == "listening");
    let addr: SocketAddr = json(seen.last().unwrap())["addr"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    let proxy_at = |path: &str| format!("http://{addr}{path}");
    let send = |path: String, headers: Vec<(String, String)>, body: &'static [u8]| async move {
        let mut req = http::Request::post(path);
        for (name, value) in &headers {
            req = req.header(name.as_str(), value.as_str());
        }
        let answer = client().request(req.body(Full::new(Bytes::from_static(body))).unwrap());
        tokio::time::timeout(PATIENCE, answer)
            .await
            .unwrap()
            .unwrap()
            .status()
            .as_u16()
    };

    // Tampered: GitHub's documented signature over another body.
    let tampered: &[u8] = b"Hello, World?";
    let gh = [("x-hub-signature-256", GH_SIG)];
    let owned = |h: &[(&str, &str)]| {
        h.iter()
            .map(|(n, v)| (n.to_string(), v.to_string()))
            .collect::<Vec<_>>()
    };
    assert_eq!(send(proxy_at("/gh"), owned(&gh), tampered).await, 401);
    // Stale: a Slack signature made 1,000 s ago (tolerance 300 s).
    let ts = (now_secs() - 1000).to_string();
    let sig = format!(
        "v0={}",
        hmac256_hex("slack-secret-9d2e", &[b"v0:", ts.as_bytes(), b":", b"{}"])
    );
    let stale = [
        ("x-slack-request-timestamp", ts.as_str()),
        ("x-slack-signature", sig.as_str()),
    ];
    assert_eq!(send(proxy_at("/slack"), owned(&stale), b"{}").await, 401);
    // No route at all.
    assert_eq!(send(proxy_at("/nowhere"), vec![], b"{}").await, 404);
    assert_eq!(hookguard.stop(), Some(0));
    seen.extend(rx.iter());
    let audit: Vec<serde_json::Value> = seen
        .iter()
        .filter(|l| is_audit(l))
        .map(|l| json(l))
        .collect();
    let all = seen.join("\n");
    assert_eq!(audit.len(), 3, "{all}");
    let reason = |i: usize| {
        audit[i]["reason"]
            .as_str()
            .unwrap_or_else(|| panic!("{all}"))
    };

    let offline = verify_offline(&config, "/gh", &gh, tampered);
    assert_eq!(reason(0), offline, "live and offline words differ");
    assert_eq!(
        reason(0),
        "invalid_signature: signature does not match: 1 signature tried against \
         1 unexpired secret (#0); body 13 bytes, sha256 f16c3bb05325"
    );
    let stale_reason = reason(1);
    assert!(
        stale_reason.starts_with(
            "timestamp_out_of_tolerance: header \"x-slack-request-timestamp\": timestamp is 10"
        ) && stale_reason.ends_with(" s old (tolerance 300 s); body not read"),
        "{stale_reason}"
    );
    assert_eq!(reason(2), "no_route: no route has this path");
    assert!(
        !all.contains(&sig[3..]) && !all.contains(&GH_SIG[7..]),
        "{all}"
    );
}
