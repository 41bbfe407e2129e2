//! Queue mode end to end: the real proxy (in-process, and the real binary for
//! the crash test), a real scripted upstream, real HTTP. Acknowledged means
//! on disk means delivered at least once — even across `kill -9`.

mod common;

use std::collections::{HashMap, HashSet, VecDeque};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use common::*;
use http::{Request, Response};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;

/// Standard Webhooks secret from the reference libraries' tests.
const SW_SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
/// Webhooks sent during the outage (about 10 s in a debug
/// build on a 2-core machine).
const OUTAGE_N: usize = 1_000;
/// Webhooks sent around the `kill -9`.
const CRASH_N: usize = 500;
/// Upper bound for anything we wait on (avoids hangs; never asserted).
const PATIENCE: Duration = Duration::from_secs(90);

/// One request as the upstream received it.
#[derive(Debug, Clone)]
struct Hit {
    event_id: String,
    attempt: String,
    body: Bytes,
    at: Instant,
}

/// A scripted answer: status and optional `Retry-After`.
type ScriptedAnswer = (u16, Option<&'static str>);

/// A real HTTP/1.1 upstream answering from a script (then 200), recording
/// every request.
#[derive(Clone, Default)]
struct Scripted {
    hits: Arc<Mutex<Vec<Hit>>>,
    script: Arc<Mutex<VecDeque<ScriptedAnswer>>>,
}

impl Scripted {
    async fn start_on(addr: SocketAddr) -> (Self, SocketAddr) {
        let listener = TcpListener::bind(addr).await.expect("upstream binds");
        let addr = listener.local_addr().unwrap();
        let up = Self::default();
        let state = up.clone();
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let state = state.clone();
                tokio::spawn(async move {
                    let svc = service_fn(move |req: Request<Incoming>| {
                        let state = state.clone();
                        async move {
                            let header = |n: &str| {
                                req.headers()
                                    .get(n)
                                    .map(|v| v.to_str().unwrap().to_owned())
                                    .unwrap_or_default()
                            };
                            let (event_id, attempt) = (
                                header("x-hookguard-event-id"),
                                header("x-hookguard-attempt"),
                            );
                            #[allow(
                                clippy::disallowed_methods,
                                reason = "a test upstream reads what the proxy forwarded, under the route's limit"
                            )]
                            let body = req.into_body().collect().await.unwrap().to_bytes();
                            state.hits.lock().unwrap().push(Hit {
                                event_id,
                                attempt,
                                body,
                                at: Instant::now(),
                            });
                            let (status, retry_after) = state
                                .script
                                .lock()
                                .unwrap()
                                .pop_front()
                                .unwrap_or((200, None));
                            let mut resp = Response::builder().status(status);
                            if let Some(ra) = retry_after {
                                resp = resp.header("retry-after", ra);
                            }
                            Ok::<_, std::convert::Infallible>(
                                resp.body(Full::new(Bytes::from_static(b"ok"))).unwrap(),
                            )
                        }
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), svc)
                        .await;
                });
            }
        });
        (up, addr)
    }

    async fn start() -> (Self, SocketAddr) {
        Self::start_on("127.0.0.1:0".parse().unwrap()).await
    }

    fn script(&self, answers: &[ScriptedAnswer]) {
        self.script.lock().unwrap().extend(answers.iter().copied());
    }

    fn hits(&self) -> Vec<Hit> {
        self.hits.lock().unwrap().clone()
    }
}

/// A fresh spool directory, removed when the guard drops. The spool creates
/// it on start, so the guard hands out a path under its own fresh directory.
fn spool_dir(name: &str) -> (tempfile::TempDir, PathBuf) {
    let guard = common::temp_dir(&format!("spool-{name}"));
    let dir = guard.path().join("spool");
    (guard, dir)
}

fn config(upstream: SocketAddr, dir: &Path, extra_spool: &str, retry: &str) -> String {
    format!(
        r#"
[server]
listen = "127.0.0.1:0"
shutdown_grace = "2s"

[upstream]
url = "http://{upstream}"
timeout = "5s"

[spool]
dir = "{dir}"
{extra_spool}

[[route]]
path = "/sw"
provider = "standard-webhooks"
secrets = ["{SW_SECRET}"]
delivery = "queue"
retry = {retry}
"#,
        dir = dir.display()
    )
}

const FAST_RETRY: &str = r#"{ base = "50ms", cap = "300ms", max_attempts = 1000, max_age = "1h" }"#;

fn sw_headers(id: &str, body: &[u8]) -> Vec<(String, String)> {
    standard_webhooks_headers(SW_SECRET, id, now_secs(), body)
}

fn body_of(id: &str) -> Vec<u8> {
    format!("{{\"id\":\"{id}\",\"bytes\":\"\u{e9}\\u0000 \"}}").into_bytes()
}

/// POSTs a signed webhook; `None` when the proxy could not be reached.
async fn send_signed(addr: SocketAddr, id: &str) -> Option<(u16, String)> {
    let body = body_of(id);
    let mut req = Request::builder()
        .method("POST")
        .uri(format!("http://{addr}/sw"));
    for (k, v) in sw_headers(id, &body) {
        req = req.header(k, v);
    }
    let req = req.body(Full::new(Bytes::from(body))).unwrap();
    let resp = client().request(req).await.ok()?;
    let status = resp.status().as_u16();
    #[allow(
        clippy::disallowed_methods,
        reason = "reads the answer of the proxy under test"
    )]
    let text = resp.into_body().collect().await.ok()?.to_bytes();
    Some((status, String::from_utf8_lossy(&text).into_owned()))
}

#[tokio::test]
async fn outage_every_webhook_acknowledged_then_delivered_exactly_once() {
    // Reserve a port for an upstream that is down (connection refused).
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let upstream_addr = port.local_addr().unwrap();
    drop(port);
    let (_tmp, dir) = spool_dir("outage");
    let proxy = start(&config(upstream_addr, &dir, "", FAST_RETRY)).await;

    let ids: Vec<String> = (0..OUTAGE_N).map(|i| format!("msg_outage_{i}")).collect();
    let acking = Instant::now();
    let mut tasks = Vec::new();
    for chunk in ids.chunks(OUTAGE_N / 8) {
        let (chunk, addr) = (chunk.to_vec(), proxy.addr);
        tasks.push(tokio::spawn(async move {
            let mut answers = Vec::new();
            for id in chunk {
                answers.push(send_signed(addr, &id).await);
            }
            answers
        }));
    }
    for task in tasks {
        for answer in task.await.unwrap() {
            assert_eq!(
                answer,
                Some((202, r#"{"status":"queued"}"#.to_owned())),
                "every webhook is acknowledged while the upstream is down"
            );
        }
    }
    let took = acking.elapsed();
    eprintln!(
        "outage: {OUTAGE_N} acknowledged (fsynced) in {took:?} by 8 sequential clients: {:.0}/s",
        OUTAGE_N as f64 / took.as_secs_f64()
    );
    let spool = Arc::clone(proxy.app().spool().expect("queue mode has a spool"));
    assert_eq!(spool.pending_count(), OUTAGE_N);

    // The upstream comes back on the same address.
    let (up, _) = Scripted::start_on(upstream_addr).await;
    eventually("the spool to drain", PATIENCE, || async {
        spool.pending_count() == 0
    })
    .await;
    let hits = up.hits();
    let mut seen: HashMap<String, usize> = HashMap::new();
    for hit in &hits {
        *seen.entry(hit.event_id.clone()).or_default() += 1;
        assert_eq!(hit.body, body_of(&hit.event_id), "body byte-identical");
        assert!(hit.attempt.parse::<u32>().unwrap() >= 1);
    }
    for id in &ids {
        assert_eq!(seen.get(id), Some(&1), "{id} delivered exactly once");
    }
    assert_eq!(hits.len(), OUTAGE_N);
    let stats = spool.stats();
    assert_eq!((stats.pending, stats.dead), (0, 0));
    assert_eq!(stats.delivered_total, OUTAGE_N as u64);
    assert!(
        stats.attempts_total > OUTAGE_N as u64,
        "failed attempts counted"
    );
    proxy.shutdown().await;
}

#[tokio::test]
async fn upstream_400_is_a_dead_letter_after_one_attempt_and_retry_redelivers() {
    let (up, addr) = Scripted::start().await;
    up.script(&[(400, None)]);
    let (_tmp, dir) = spool_dir("dead");
    let toml = format!(
        "{}\n[admin]\nlisten = \"127.0.0.1:0\"\n",
        config(addr, &dir, "", FAST_RETRY)
    );
    let proxy = start(&toml).await;
    let spool = Arc::clone(proxy.app().spool().unwrap());
    let admin = proxy.admin_addr.expect("admin listener");

    let answer = send_signed(proxy.addr, "msg_dead").await.unwrap();
    assert_eq!(answer.0, 202);
    eventually("a dead letter", PATIENCE, || async {
        spool.dead_count() == 1
    })
    .await;
    let dead = spool.list_dead();
    assert_eq!(dead.len(), 1);
    let (id, meta) = &dead[0];
    assert_eq!(meta.event_id, "msg_dead");
    assert_eq!(meta.attempts, 1);
    assert_eq!(meta.last_status, Some(400));
    assert_eq!(spool.stats().dead_lettered_total, 1);
    assert_eq!(up.hits().len(), 1, "a 400 is not retried");
    assert_eq!(up.hits()[0].attempt, "1");

    // The admin API lists it: metadata only, never the body or header values
    // (the stored headers include the provider's signature).
    let (status, listed) = admin_request(admin, "GET", "/spool/dead", None).await;
    assert_eq!(status, 200);
    let doc: serde_json::Value = serde_json::from_str(&listed).unwrap();
    let row = &doc["dead_letters"][0];
    assert_eq!(row["id"], *id);
    assert_eq!(row["event_id"], "msg_dead");
    assert_eq!(row["last_status"], 400);
    assert_eq!(row["attempts"], 1);
    assert!(
        !listed.contains("v1,"),
        "no signature in the listing: {listed}"
    );
    assert!(!listed.contains("msg_dead\\\""), "no body in the listing");
    let (_, stats) = admin_request(admin, "GET", "/spool", None).await;
    assert!(stats.contains("\"dead\":1"), "{stats}");

    // A cross-site form post (no token is set) changes nothing: a browser
    // cannot add the admin header or a JSON type without a preflight.
    let retry = format!("/spool/retry?id={id}");
    for form in [
        &[][..],
        &[("content-type", "application/x-www-form-urlencoded")][..],
        &[("content-type", "text/plain;charset=UTF-8")][..],
    ] {
        let answer = admin_request_with(admin, "POST", &retry, None, form).await;
        assert_eq!(answer, (403, r#"{"error":"admin_header_required"}"#.into()));
        let answer = admin_request_with(admin, "POST", "/spool/purge", None, form).await;
        assert_eq!(answer.0, 403);
    }
    assert_eq!(spool.dead_count(), 1);

    // An operator retries it through the admin API; the upstream now accepts.
    let admin_header = [("x-hookguard-admin", "1")];
    let (status, retried) = admin_request_with(admin, "POST", &retry, None, &admin_header).await;
    assert_eq!((status, retried.as_str()), (200, r#"{"retried":1}"#));
    eventually("redelivery", PATIENCE, || async {
        spool.pending_count() == 0 && spool.dead_count() == 0
    })
    .await;
    let hits = up.hits();
    assert_eq!(hits.len(), 2);
    assert_eq!(hits[1].event_id, "msg_dead");
    assert_eq!(hits[1].body, body_of("msg_dead"));
    let json = [("content-type", "application/json; charset=utf-8")];
    let (status, purged) = admin_request_with(admin, "POST", "/spool/purge", None, &json).await;
    assert_eq!((status, purged.as_str()), (200, r#"{"purged":0}"#));
    proxy.shutdown().await;
}

#[tokio::test]
async fn retry_after_from_503_is_honoured() {
    let (up, addr) = Scripted::start().await;
    up.script(&[(503, Some("2"))]);
    let (_tmp, dir) = spool_dir("retry-after");
    let proxy = start(&config(addr, &dir, "", FAST_RETRY)).await;
    let spool = Arc::clone(proxy.app().spool().unwrap());

    assert_eq!(send_signed(proxy.addr, "msg_ra").await.unwrap().0, 202);
    eventually("the second attempt", PATIENCE, || async {
        up.hits().len() == 2
    })
    .await;
    let hits = up.hits();
    assert_eq!(
        (hits[0].attempt.as_str(), hits[1].attempt.as_str()),
        ("1", "2")
    );
    let waited = hits[1].at - hits[0].at;
    // The retry policy alone would retry within 300 ms.
    assert!(
        waited >= Duration::from_millis(1900),
        "retried after {waited:?}, before Retry-After: 2"
    );
    eventually("delivery", PATIENCE, || async {
        spool.pending_count() == 0
    })
    .await;
    proxy.shutdown().await;
}

#[tokio::test]
async fn full_spool_answers_503_spool_unavailable() {
    let (up, addr) = Scripted::start().await;
    let (_tmp, dir) = spool_dir("full");
    let proxy = start(&config(addr, &dir, r#"max_size = "64B""#, FAST_RETRY)).await;
    let spool = Arc::clone(proxy.app().spool().unwrap());

    let body = body_of("msg_full");
    let headers = sw_headers("msg_full", &body);
    let headers: Vec<(&str, &str)> = headers
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let answer = post(&proxy, "/sw", &headers, &body).await;
    assert_rejected(&answer, 503, "spool_unavailable");
    assert!(answer.headers.contains_key("retry-after"));
    // Refused means not claimed: the provider's retry is not a "duplicate".
    let again = post(&proxy, "/sw", &headers, &body).await;
    assert_rejected(&again, 503, "spool_unavailable");
    // Observed, not slept on: nothing refused was stored, so the worker
    // has nothing it could ever deliver.
    assert_eq!(spool.pending_count(), 0, "nothing refused is stored");
    assert!(up.hits().is_empty(), "nothing refused is ever delivered");
    proxy.shutdown().await;
}

#[tokio::test]
async fn ordered_route_delivers_one_at_a_time_in_arrival_order() {
    let (up, addr) = Scripted::start().await;
    up.script(&[(503, None)]); // the head fails once: the others must wait
    let (_tmp, dir) = spool_dir("ordered");
    let toml = config(addr, &dir, "", FAST_RETRY) + "ordered = true\n";
    let proxy = start(&toml).await;
    let spool = Arc::clone(proxy.app().spool().unwrap());
    let ids: Vec<String> = (0..6).map(|i| format!("msg_ordered_{i}")).collect();
    for id in &ids {
        assert_eq!(send_signed(proxy.addr, id).await.unwrap().0, 202);
    }
    eventually("delivery", PATIENCE, || async {
        spool.pending_count() == 0
    })
    .await;
    let seen: Vec<String> = up.hits().into_iter().map(|h| h.event_id).collect();
    let mut expected = vec![ids[0].clone()];
    expected.extend(ids.iter().cloned());
    assert_eq!(seen, expected, "head retried before anything behind it");
    proxy.shutdown().await;
}

/// The real binary, serving `config`; returns the child and its address.
fn spawn_binary(config: &Path) -> (Child, SocketAddr) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_hookguard"))
        .args(["serve", "-c"])
        .arg(config)
        .env("HOOKGUARD_LOG", "info")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel::<String>();
    std::thread::spawn(move || {
        use std::io::BufRead;
        let mut sent = false;
        // Keep draining stdout so the child never blocks on a full pipe.
        for line in std::io::BufReader::new(stdout)
            .lines()
            .map_while(Result::ok)
        {
            if !sent {
                let v: serde_json::Value = serde_json::from_str(&line).unwrap_or_default();
                if v["message"] == "listening" {
                    let _ = tx.send(v["addr"].as_str().unwrap_or_default().to_owned());
                    sent = true;
                }
            }
        }
    });
    let addr = rx.recv_timeout(Duration::from_secs(20)).expect("listening");
    (child, addr.parse().unwrap())
}

#[tokio::test]
async fn kill_9_loses_no_acknowledged_webhook() {
    let (up, upstream_addr) = Scripted::start().await;
    let (_tmp, dir) = spool_dir("crash");
    std::fs::create_dir_all(&dir).unwrap();
    let cfg_path = dir.join("hookguard.toml");
    std::fs::write(
        &cfg_path,
        config(upstream_addr, &dir.join("spool"), "", FAST_RETRY),
    )
    .unwrap();

    let (mut child, addr) = spawn_binary(&cfg_path);
    let acked: Arc<Mutex<HashSet<String>>> = Arc::default();
    let mut senders = Vec::new();
    for lane in 0..16 {
        let acked = Arc::clone(&acked);
        senders.push(tokio::spawn(async move {
            for i in (lane..CRASH_N).step_by(16) {
                let id = format!("msg_crash_{i}");
                if let Some((202, _)) = send_signed(addr, &id).await {
                    acked.lock().unwrap().insert(id);
                }
            }
        }));
    }
    // Kill -9 mid-stream: some accepted, some delivered, some in flight.
    eventually("some acknowledgements", PATIENCE, || async {
        acked.lock().unwrap().len() >= CRASH_N / 4
    })
    .await;
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    for sender in senders {
        sender.await.unwrap();
    }
    let acked = acked.lock().unwrap().clone();
    assert!(!acked.is_empty());

    // Restart on the same spool: everything acknowledged arrives.
    let (mut child, _) = spawn_binary(&cfg_path);
    let delivered = || {
        up.hits()
            .into_iter()
            .map(|h| h.event_id)
            .collect::<HashSet<_>>()
    };
    eventually("every acknowledged webhook upstream", PATIENCE, || async {
        acked.is_subset(&delivered())
    })
    .await;
    for hit in up.hits() {
        assert_eq!(hit.body, body_of(&hit.event_id), "no corrupted delivery");
    }
    child.kill().unwrap();
    child.wait().unwrap();
    eprintln!(
        "crash test: {} of {CRASH_N} acknowledged before kill -9, {} requests upstream",
        acked.len(),
        up.hits().len()
    );
}

/// Runs `hookguard spool <args> --dir <dir>`, retrying while the database is
/// still locked by the proxy that was just stopped in this process (its
/// tasks release it once this runtime polls them again).
async fn spool_cli(dir: &Path, args: &[&str]) -> String {
    let what = format!("spool {args:?} to find the database unlocked");
    eventually(&what, PATIENCE, || async {
        let out = Command::new(env!("CARGO_BIN_EXE_hookguard"))
            .arg("spool")
            .args(args)
            .arg("--dir")
            .arg(dir)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        if out.status.success() {
            return Ok(String::from_utf8(out.stdout).unwrap());
        }
        assert!(
            stderr.contains("still running"),
            "spool {args:?} failed: {stderr}"
        );
        Err(stderr)
    })
    .await
}

#[tokio::test]
async fn spool_cli_lists_retries_and_purges_dead_letters() {
    let (up, addr) = Scripted::start().await;
    up.script(&[(410, None), (422, None)]);
    let (_tmp, dir) = spool_dir("cli");
    let proxy = start(&config(addr, &dir, "", FAST_RETRY)).await;
    let spool = Arc::clone(proxy.app().spool().unwrap());
    for id in ["msg_cli_a", "msg_cli_b"] {
        assert_eq!(send_signed(proxy.addr, id).await.unwrap().0, 202);
    }
    eventually("two dead letters", PATIENCE, || async {
        spool.dead_count() == 2
    })
    .await;
    drop(spool);
    proxy.shutdown().await;

    let ls = spool_cli(&dir, &["ls"]).await;
    assert_eq!(ls.lines().count(), 3, "header and two records:\n{ls}");
    for id in ["msg_cli_a", "msg_cli_b"] {
        assert!(ls.contains(id), "{ls}");
    }
    assert!(ls.contains("\tdead\t1\t410\t/sw\t") || ls.contains("\tdead\t1\t422\t/sw\t"));
    assert!(!ls.contains("bytes"), "ls never prints bodies:\n{ls}");
    assert!(!ls.contains("v1,"), "ls never prints signatures:\n{ls}");

    let first_id = ls
        .lines()
        .nth(1)
        .unwrap()
        .split('\t')
        .next()
        .unwrap()
        .to_owned();
    assert!(spool_cli(&dir, &["retry", &first_id])
        .await
        .starts_with("1 "));
    let dead = spool_cli(&dir, &["ls", "--dead"]).await;
    assert_eq!(dead.lines().count(), 2, "one dead letter left:\n{dead}");
    assert!(spool_cli(&dir, &["purge"]).await.starts_with("1 "));
    let ls = spool_cli(&dir, &["ls"]).await;
    assert_eq!(ls.lines().count(), 2, "the retried one is pending:\n{ls}");
    assert!(ls.contains("\tpending\t0\t"), "{ls}");

    // A restarted proxy delivers the retried letter.
    let proxy = start(&config(addr, &dir, "", FAST_RETRY)).await;
    let spool = Arc::clone(proxy.app().spool().unwrap());
    eventually("redelivery", PATIENCE, || async {
        spool.pending_count() == 0
    })
    .await;
    assert_eq!(up.hits().len(), 3);
    proxy.shutdown().await;
}

#[tokio::test]
async fn reload_sends_later_deliveries_to_the_new_upstream() {
    let (old, old_addr) = Scripted::start().await;
    let (new, new_addr) = Scripted::start().await;
    let (_tmp, dir) = spool_dir("reload");
    std::fs::create_dir_all(&dir).unwrap();
    let cfg_path = dir.join("hookguard.toml");
    let spool_path = dir.join("spool");
    std::fs::write(&cfg_path, config(old_addr, &spool_path, "", FAST_RETRY)).unwrap();
    let cfg = hookguard::config::load(&cfg_path).unwrap();
    let proxy = hookguard::runtime::start(cfg).await.expect("proxy starts");
    let spool = Arc::clone(proxy.app().spool().unwrap());

    assert_eq!(send_signed(proxy.addr, "msg_before").await.unwrap().0, 202);
    eventually("delivery to the old upstream", PATIENCE, || async {
        spool.pending_count() == 0
    })
    .await;
    // The old upstream now fails: the next webhook stays pending, retried.
    old.script(&[(503, None); 10_000]);
    assert_eq!(send_signed(proxy.addr, "msg_during").await.unwrap().0, 202);
    eventually("a failed attempt at the old upstream", PATIENCE, || async {
        old.hits().iter().any(|h| h.event_id == "msg_during")
    })
    .await;

    // Reload with the route's upstream changed (the spool stays the same).
    std::fs::write(&cfg_path, config(new_addr, &spool_path, "", FAST_RETRY)).unwrap();
    proxy.reload().expect("reload succeeds");
    assert_eq!(send_signed(proxy.addr, "msg_after").await.unwrap().0, 202);
    eventually("both delivered to the new upstream", PATIENCE, || async {
        spool.pending_count() == 0
    })
    .await;
    let delivered: Vec<String> = new.hits().into_iter().map(|h| h.event_id).collect();
    assert!(
        delivered.contains(&"msg_during".to_owned()),
        "{delivered:?}"
    );
    assert!(delivered.contains(&"msg_after".to_owned()), "{delivered:?}");
    for hit in new.hits() {
        assert_eq!(hit.body, body_of(&hit.event_id));
    }
    assert!(
        old.hits().iter().all(|h| h.event_id != "msg_after"),
        "nothing accepted after the reload goes to the old upstream"
    );
    assert_eq!(spool.stats().dead, 0);
    proxy.shutdown().await;
}

/// The value of the sample `series` (name and labels, exactly as printed)
/// in a Prometheus text exposition.
fn sample(metrics: &str, series: &str) -> f64 {
    metrics
        .lines()
        .find_map(|line| line.strip_prefix(series)?.strip_prefix(' '))
        .unwrap_or_else(|| panic!("no {series} in:\n{metrics}"))
        .parse()
        .unwrap()
}

#[tokio::test]
async fn metrics_show_depth_age_dead_letters_size_and_delivery_counts() {
    let (up, addr) = Scripted::start().await;
    let (_tmp, dir) = spool_dir("metrics");
    let toml = format!(
        "{}\n[admin]\nlisten = \"127.0.0.1:0\"\n",
        config(addr, &dir, "", FAST_RETRY)
    );
    let proxy = start(&toml).await;
    let spool = Arc::clone(proxy.app().spool().unwrap());
    let admin = proxy.admin_addr.unwrap();

    // One dead letter (400), one delivered on its second attempt (503,
    // then 200), one delivered at once: 4 attempts, 2 delivered.
    up.script(&[(400, None)]);
    assert_eq!(send_signed(proxy.addr, "msg_m_dead").await.unwrap().0, 202);
    eventually("a dead letter", PATIENCE, || async {
        spool.dead_count() == 1
    })
    .await;
    up.script(&[(503, None)]);
    assert_eq!(
        send_signed(proxy.addr, "msg_m_retried").await.unwrap().0,
        202
    );
    assert_eq!(send_signed(proxy.addr, "msg_m_ok").await.unwrap().0, 202);
    eventually("two deliveries", PATIENCE, || async {
        spool.pending_count() == 0 && spool.stats().delivered_total == 2
    })
    .await;

    let (status, metrics) = admin_request(admin, "GET", "/metrics", None).await;
    assert_eq!(status, 200);
    let route = r#"{route="/sw"}"#;
    let value = |name: &str| sample(&metrics, &format!("hookguard_spool_{name}{route}"));
    assert_eq!(value("pending"), 0.0);
    assert_eq!(value("oldest_pending_age_seconds"), 0.0);
    assert_eq!(value("dead_letters"), 1.0);
    assert_eq!(value("attempts_total"), 4.0);
    assert_eq!(value("delivered_total"), 2.0);
    assert_eq!(value("dead_lettered_total"), 1.0);
    assert_eq!(value("delivery_duration_seconds_count"), 2.0);
    let used = sample(&metrics, "hookguard_spool_used_bytes");
    assert_eq!(used, spool.used_bytes() as f64);
    assert!(used > 0.0, "the dead letter takes room");

    // A record the upstream keeps refusing: pending, and aging.
    up.script(&[(503, None); 10_000]);
    let sent = Instant::now();
    assert_eq!(send_signed(proxy.addr, "msg_m_stuck").await.unwrap().0, 202);
    eventually("a failed attempt", PATIENCE, || async {
        up.hits().iter().any(|h| h.event_id == "msg_m_stuck")
    })
    .await;
    let (_, metrics) = admin_request(admin, "GET", "/metrics", None).await;
    let since_sent = sent.elapsed().as_secs_f64();
    let value = |name: &str| sample(&metrics, &format!("hookguard_spool_{name}{route}"));
    assert_eq!(value("pending"), 1.0);
    let age = value("oldest_pending_age_seconds");
    assert!(
        (0.0..=since_sent + 0.002).contains(&age),
        "age {age} s, sent {since_sent} s ago"
    );
    assert!(value("attempts_total") >= 5.0);
    assert_eq!(value("delivered_total"), 2.0);
    proxy.shutdown().await;
}
