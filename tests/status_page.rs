//! The admin listener's status page, in a real browser: hookguard runs
//! in-process, gets valid, tampered, stale, duplicate and unroutable
//! webhooks, then headless Chromium opens `/#token=...` and the test reads
//! the DOM it rendered. Chromium reaches the admin listener through a relay
//! that records every byte both ways, so the page's own requests are checked
//! too. Also: no admin response, page or data, ever holds a configured
//! secret.
//!
//! Needs Debian's `chromium` (scripts/test.sh installs it).

mod common;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

const TOKEN: &str = "admin-token-7c1e55";
const OLD_SECRET: &str = "old-secret-4b2a91";
const SLACK_SECRET: &str = "slack-secret-9d2e0f";

/// Longest the browser may run before it is killed (never a timing assertion).
const BROWSER_DEADLINE: Duration = Duration::from_secs(90);

/// Virtual time the page gets to run: past one 5 s refresh.
const SETTLE: &str = "--virtual-time-budget=8000";

fn config(upstream: &Upstream, dead_upstream: &Upstream, spool: &Path) -> String {
    format!(
        r#"
[server]
listen = "127.0.0.1:0"
shutdown_grace = "5s"

[admin]
listen = "127.0.0.1:0"
token = "{TOKEN}"

[upstream]
url = "{up}"

[spool]
dir = "{spool}"

[[route]]
path = "/webhooks/github"
provider = "github"
secrets = [{{ value = "{OLD_SECRET}", expires = "2099-01-01T00:00:00Z" }}, "{GH_SECRET}"]

[[route]]
path = "/webhooks/slack"
provider = "slack"
secrets = ["{SLACK_SECRET}"]

[[route]]
path = "/webhooks/queued"
provider = "github"
secrets = ["{GH_SECRET}"]
delivery = "queue"
upstream = "{dead}/refuses"
retry = {{ base = "50ms", cap = "100ms", max_attempts = 1, max_age = "1h" }}
"#,
        up = upstream.url(),
        dead = dead_upstream.url(),
        spool = spool.display(),
    )
}

fn slack_headers(ts: i64, body: &[u8]) -> (String, String) {
    let ts = ts.to_string();
    let sig = format!(
        "v0={}",
        hmac256_hex(SLACK_SECRET, &[b"v0:", ts.as_bytes(), b":", body])
    );
    (ts, sig)
}

/// Everything sent through a [`Relay`], each direction on its own.
#[derive(Default)]
struct Traffic {
    requests: Vec<u8>,
    responses: Vec<u8>,
}

/// A TCP relay in front of the admin listener that records both directions.
struct Relay {
    addr: SocketAddr,
    traffic: Arc<Mutex<Traffic>>,
}

impl Relay {
    async fn start(target: SocketAddr) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let traffic = Arc::new(Mutex::new(Traffic::default()));
        let recorded = Arc::clone(&traffic);
        tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let Ok(server) = TcpStream::connect(target).await else {
                    continue;
                };
                let (client_read, client_write) = client.into_split();
                let (server_read, server_write) = server.into_split();
                tokio::spawn(pipe(client_read, server_write, Arc::clone(&recorded), true));
                tokio::spawn(pipe(
                    server_read,
                    client_write,
                    Arc::clone(&recorded),
                    false,
                ));
            }
        });
        Self { addr, traffic }
    }

    fn requests(&self) -> String {
        String::from_utf8_lossy(&self.traffic.lock().unwrap().requests).into_owned()
    }

    fn responses(&self) -> String {
        String::from_utf8_lossy(&self.traffic.lock().unwrap().responses).into_owned()
    }
}

async fn pipe(
    mut from: tokio::net::tcp::OwnedReadHalf,
    mut to: tokio::net::tcp::OwnedWriteHalf,
    traffic: Arc<Mutex<Traffic>>,
    request: bool,
) {
    let mut buf = vec![0; 16 * 1024];
    while let Ok(n) = from.read(&mut buf).await {
        if n == 0 {
            break;
        }
        {
            let mut t = traffic.lock().unwrap();
            let log = if request {
                &mut t.requests
            } else {
                &mut t.responses
            };
            log.extend_from_slice(&buf[..n]);
        }
        if to.write_all(&buf[..n]).await.is_err() {
            break;
        }
    }
    let _ = to.shutdown().await;
}

/// Runs headless Chromium on `url` with `args`, killed at the deadline:
/// its stdout. [`SETTLE`] in `args` lets the page's timers and requests run
/// (in virtual time) before the DOM is read.
async fn chromium(url: &str, args: &[&str]) -> String {
    let profile = temp_dir("chromium-profile");
    let mut child = Command::new("chromium")
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--disable-extensions",
            "--hide-scrollbars",
        ])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .args(args)
        .arg(url)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("chromium on PATH (Debian package chromium; scripts/test.sh installs it)");
    let mut stdout = child.stdout.take().unwrap();
    let reader = std::thread::spawn(move || {
        let mut out = String::new();
        std::io::Read::read_to_string(&mut stdout, &mut out).map(|_| out)
    });
    let exited = poll_within(BROWSER_DEADLINE, || {
        std::future::ready(child.try_wait().unwrap())
    })
    .await;
    let Ok(status) = exited else {
        let _ = child.kill();
        let _ = child.wait();
        panic!("chromium did not finish within {BROWSER_DEADLINE:?}");
    };
    assert!(status.success(), "chromium exited with {status}");
    reader.join().unwrap().unwrap()
}

/// The text of the element with `id` in `dom` (tags dropped, entities of
/// the serializer decoded), for assertions on what a person sees.
fn section_text(dom: &str, id: &str) -> String {
    let start = dom
        .find(&format!("id=\"{id}\""))
        .unwrap_or_else(|| panic!("no #{id} in\n{dom}"));
    let end = dom[start..]
        .find("</section>")
        .map_or(dom.len(), |i| start + i);
    let mut text = String::new();
    let mut in_tag = false;
    for c in dom[start..end].chars() {
        match c {
            '<' => in_tag = true,
            '>' => {
                in_tag = false;
                text.push(' ');
            }
            _ if !in_tag => text.push(c),
            _ => {}
        }
    }
    let text = text
        .replace("&quot;", "\"")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&");
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Sends the mix of requests the page must show; `dedup`: whether the
/// replay store works (the repeat is a duplicate). The Slack signatures.
async fn send_traffic(p: &hookguard::runtime::Running, dedup: bool) -> String {
    let gh = [("x-hub-signature-256", GH_SIG)];
    // Valid (secret #1), then the same delivery again: a duplicate.
    assert_eq!(post(p, "/webhooks/github", &gh, GH_BODY).await.status, 200);
    let again = post(p, "/webhooks/github", &gh, GH_BODY).await;
    assert_eq!(again.text() == r#"{"status":"duplicate"}"#, dedup);
    // Tampered: the documented signature over another body.
    assert_rejected(
        &post(p, "/webhooks/github", &gh, b"Hello, World?").await,
        401,
        "invalid_signature",
    );
    // Stale: signed right, 1,000 s ago (Slack allows 300 s).
    let (ts, sig) = slack_headers(now_secs() - 1000, b"{}");
    let stale = [
        ("x-slack-request-timestamp", ts.as_str()),
        ("x-slack-signature", sig.as_str()),
    ];
    assert_rejected(
        &post(p, "/webhooks/slack", &stale, b"{}").await,
        401,
        "timestamp_out_of_tolerance",
    );
    // Fresh and valid on Slack too.
    let (ts, fresh_sig) = slack_headers(now_secs(), b"{\"ok\":1}");
    let fresh = [
        ("x-slack-request-timestamp", ts.as_str()),
        ("x-slack-signature", fresh_sig.as_str()),
    ];
    assert_eq!(
        post(p, "/webhooks/slack", &fresh, b"{\"ok\":1}")
            .await
            .status,
        200
    );
    // Unsigned, and unroutable.
    assert_rejected(
        &post(p, "/webhooks/github", &[], b"{}").await,
        401,
        "missing_signature",
    );
    assert_rejected(&post(p, "/nowhere", &gh, GH_BODY).await, 404, "no_route");
    // Queued, then refused by its upstream for good: a dead letter.
    let queued = post(p, "/webhooks/queued", &gh, GH_BODY).await;
    assert_eq!(queued.status, 202, "{}", queued.text());
    [sig, fresh_sig].join(" ")
}

/// Waits until the spool holds `n` dead letters.
async fn wait_dead_letters(admin: SocketAddr, n: u64) {
    eventually(&format!("{n} dead letters"), PATIENCE, || async move {
        let (status, body) = admin_request(admin, "GET", "/spool", Some(TOKEN)).await;
        assert_eq!(status, 200, "{body}");
        let doc: serde_json::Value = serde_json::from_str(&body).unwrap();
        if doc["dead"] == n {
            Ok(())
        } else {
            Err(doc.to_string())
        }
    })
    .await;
}

fn screenshot_path() -> PathBuf {
    Path::new(env!("CARGO_TARGET_TMPDIR")).join("status-page.png")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_status_page_shows_what_hookguard_decided() {
    let up = Upstream::start().await;
    let refusing = Upstream::start().await;
    refusing.set(Behavior {
        status: 400,
        ..Behavior::default()
    });
    let spool = temp_dir("status-page-spool");
    let p = start(&config(&up, &refusing, spool.path())).await;
    let admin = p.admin_addr.unwrap();
    let slack_sigs = send_traffic(&p, true).await;
    wait_dead_letters(admin, 1).await;
    let relay = Relay::start(admin).await;
    let url = format!("http://{}/#token={TOKEN}", relay.addr);

    let dom = chromium(&url, &["--dump-dom", SETTLE]).await;

    // The rejections, with their codes and explanations.
    let rejections = section_text(&dom, "rejections");
    for expected in [
        "/webhooks/github invalid_signature 401 127.0.0.1 invalid_signature: signature does not \
         match: 1 signature tried against 2 unexpired secrets (#0, #1); body 13 bytes, sha256 \
         f16c3bb05325",
        "/webhooks/slack timestamp_out_of_tolerance 401",
        "s old (tolerance 300 s); body not read",
        "missing_signature: header \"x-hub-signature-256\" is absent; body not read",
        "(no route) no_route 404 127.0.0.1 no_route: no route has this path",
    ] {
        assert!(
            rejections.contains(expected),
            "{expected}\nnot in: {rejections}"
        );
    }
    assert!(
        rejections.contains(
            "timestamp_out_of_tolerance: header \"x-slack-request-timestamp\": timestamp is 10"
        ),
        "{rejections}"
    );
    // The chart has data: bars for forwarded and rejected minutes.
    for outcome in ["forwarded", "duplicate", "rejected", "queued"] {
        assert!(
            dom.contains(&format!("class=\"bar {outcome}\"")),
            "no {outcome} bar in the chart:\n{}",
            section_text(&dom, "traffic")
        );
    }
    assert!(
        dom.contains("data-total=\"8\""),
        "{}",
        section_text(&dom, "traffic")
    );
    // Per route: forwarded, duplicates, rejected by code.
    let routes = section_text(&dom, "routes");
    assert!(
        routes.contains("/webhooks/github github 1 0 1 invalid_signature 1 missing_signature 1 0"),
        "{routes}"
    );
    assert!(
        routes.contains("/webhooks/queued queue github 0 1 0 0 0"),
        "{routes}"
    );
    // Secrets: the matched index stands out, values never shown.
    assert!(
        dom.contains("<tr class=\"matched\"><td class=\"path\">/webhooks/github</td><td class=\"index\">#1</td><td class=\"origin\">literal</td><td class=\"num\">2</td>"),
        "{}",
        section_text(&dom, "secrets")
    );
    // Health: the store, the spool and its dead letter.
    let health = section_text(&dom, "health");
    for expected in [
        "replay store in memory",
        "spool nothing pending; 1 dead letter",
        "certificate plain HTTP listener",
        "configuration reloads 0 applied, 0 refused",
    ] {
        assert!(health.contains(expected), "{expected}\nnot in: {health}");
    }
    let dead = section_text(&dom, "dead");
    assert!(
        dead.contains("1 /webhooks/queued hg_1 1 400 upstream answered 400 Bad Request"),
        "{dead}"
    );
    assert!(dead.contains("Retry") && !dom.contains("id=\"dead\" class=\"card wide\" hidden"));
    assert!(section_text(&dom, "login").contains("Admin token"));
    assert!(
        dom.contains("id=\"login\" class=\"card\" hidden"),
        "login shown"
    );

    // Nothing on the page or in its traffic holds a secret or a signature;
    // the token went out only as a bearer header.
    let requests = relay.requests();
    let responses = relay.responses();
    for (what, text) in [
        ("page", &dom),
        ("requests", &requests),
        ("responses", &responses),
    ] {
        for secret in [GH_SECRET, OLD_SECRET, SLACK_SECRET, &GH_SIG[7..]] {
            assert!(!text.contains(secret), "{what} holds {secret}");
        }
        for sig in slack_sigs.split(' ') {
            assert!(!text.contains(&sig[3..]), "{what} holds a signature");
        }
    }
    assert!(!dom.contains(TOKEN), "the page shows the token");
    assert!(!responses.contains(TOKEN), "a response holds the token");
    assert_eq!(
        requests.matches(TOKEN).count(),
        requests
            .matches(&format!("authorization: Bearer {TOKEN}\r\n"))
            .count()
            + requests
                .matches(&format!("Authorization: Bearer {TOKEN}\r\n"))
                .count(),
        "the token went out other than as a bearer header"
    );
    assert!(
        requests.contains(&format!("Bearer {TOKEN}\r\n")),
        "the token never went out"
    );
    assert!(
        requests.contains("GET /audit/recent?outcome=rejected"),
        "{requests}"
    );
    // The first load and at least one refresh: what was checked above is
    // what the refresh loop drew, not only the first view.
    assert!(
        requests.matches("GET /status ").count() >= 2,
        "the page never refreshed:\n{requests}"
    );

    // The first view has the data by the time the page has loaded, for
    // whatever reads it then (no virtual time to wait in).
    let at_load = chromium(&url, &["--dump-dom"]).await;
    assert!(
        section_text(&at_load, "rejections").contains("signature does not match"),
        "{at_load}"
    );

    // A screenshot for a person to look at (kept out of git).
    let shot = screenshot_path();
    let _ = std::fs::remove_file(&shot);
    let arg = format!("--screenshot={}", shot.display());
    chromium(&url, &[&arg, "--window-size=1200,1210", SETTLE]).await;
    assert!(std::fs::metadata(&shot).is_ok_and(|m| m.len() > 10_000));
    println!("status page screenshot: {}", shot.display());
    p.shutdown().await;
}

/// Without the token the page still loads (it holds no data) and asks for
/// it; the data does not load.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_the_token_the_page_asks_for_it() {
    let up = Upstream::start().await;
    let spool = temp_dir("status-page-login");
    let p = start(&config(&up, &up, spool.path())).await;
    let relay = Relay::start(p.admin_addr.unwrap()).await;
    let dom = chromium(&format!("http://{}/", relay.addr), &["--dump-dom", SETTLE]).await;
    assert!(
        dom.contains("id=\"main\" hidden"),
        "data shown without a token"
    );
    assert!(
        !dom.contains("id=\"login\" class=\"card\" hidden"),
        "no login"
    );
    assert!(section_text(&dom, "login").contains("Admin token"));
    let responses = relay.responses();
    assert!(responses.contains("HTTP/1.1 401"), "{responses}");
    assert!(!responses.contains("/webhooks/github"), "data leaked");
    p.shutdown().await;
}

/// Every admin endpoint, the page's files included, answered with literal
/// secrets, a verify token, a Redis URL with a password and an admin token
/// configured: none of them appears in any answer.
#[tokio::test]
async fn no_admin_response_holds_a_configured_secret() {
    let up = Upstream::start().await;
    let spool = temp_dir("status-page-secrets");
    let redis_password = "redis-pass-31f0c2";
    let verify_token = "meta-verify-token-58ae";
    let closed_port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let toml = format!(
        "{}\n[replay]\nstore = \"redis://:{redis_password}@127.0.0.1:{closed_port}/0\"\n\
         on_store_error = \"allow\"\n\n[[route]]\npath = \"/meta\"\nprovider = \"meta\"\n\
         secrets = [\"meta-app-secret-77d1\"]\nverify_token = \"{verify_token}\"\n",
        config(&up, &up, spool.path())
    );
    let p = start(&toml).await;
    let admin = p.admin_addr.unwrap();
    send_traffic(&p, false).await;
    let secrets = [
        TOKEN,
        GH_SECRET,
        OLD_SECRET,
        SLACK_SECRET,
        redis_password,
        verify_token,
        "meta-app-secret-77d1",
    ];
    let gets = [
        "/",
        "/assets/status.js",
        "/assets/status.css",
        "/healthz",
        "/readyz",
        "/metrics",
        "/status",
        "/audit/report",
        "/audit/recent",
        "/audit/recent?outcome=rejected&limit=1000",
        "/secrets",
        "/spool",
        "/spool/dead",
        "/nope",
    ];
    let admin_header = [("x-hookguard-admin", "1")];
    for (method, path) in gets
        .iter()
        .map(|path| ("GET", *path))
        .chain([("POST", "/spool/retry"), ("POST", "/spool/purge")])
    {
        for token in [Some(TOKEN), None] {
            let (status, body) =
                admin_request_with(admin, method, path, token, &admin_header).await;
            for secret in secrets {
                assert!(
                    !body.contains(secret),
                    "{method} {path} ({status}) holds {secret}:\n{body}"
                );
            }
        }
    }
    // The page's files need no token; the data does.
    for path in ["/", "/assets/status.js", "/assets/status.css"] {
        assert_eq!(
            admin_request(admin, "GET", path, None).await.0,
            200,
            "{path}"
        );
    }
    for path in ["/status", "/audit/recent", "/secrets", "/audit/report"] {
        assert_eq!(
            admin_request(admin, "GET", path, None).await.0,
            401,
            "{path}"
        );
    }
    // The status says what the store is, never where.
    let (_, status) = admin_request(admin, "GET", "/status", Some(TOKEN)).await;
    let status: serde_json::Value = serde_json::from_str(&status).unwrap();
    assert_eq!(status["replay"]["store"], "redis");
    assert!(!status.to_string().contains(&closed_port.to_string()));
    p.shutdown().await;
}

/// A self-signed certificate for localhost that expires at the start of
/// `year`-01-02.
fn certificate_until(year: i32) -> rcgen::CertifiedKey {
    let mut params = rcgen::CertificateParams::new(vec!["localhost".to_owned()]).unwrap();
    params.not_after = rcgen::date_time_ymd(year, 1, 2);
    let key_pair = rcgen::KeyPair::generate().unwrap();
    let cert = params.self_signed(&key_pair).unwrap();
    rcgen::CertifiedKey { cert, key_pair }
}

/// `/status` reads the served certificate's expiry and follows reloads:
/// their count, and the last one's result.
#[tokio::test]
async fn the_status_follows_the_certificate_and_reloads() {
    let up = Upstream::start().await;
    let tmp = temp_dir("status-tls");
    let dir = tmp.path();
    let write_cert = |cert: &rcgen::CertifiedKey| {
        std::fs::write(dir.join("tls.crt"), cert.cert.pem()).unwrap();
        std::fs::write(dir.join("tls.key"), cert.key_pair.serialize_pem()).unwrap();
    };
    write_cert(&certificate_until(2031));
    let toml = format!(
        "[server]\nlisten = \"127.0.0.1:0\"\ntls = {{ cert = \"tls.crt\", key = \"tls.key\" }}\n\
         [admin]\nlisten = \"127.0.0.1:0\"\n[upstream]\nurl = \"{}\"\n\
         [[route]]\npath = \"/gh\"\nprovider = \"github\"\nsecrets = [\"{GH_SECRET}\"]\n",
        up.url()
    );
    let path = dir.join("hookguard.toml");
    std::fs::write(&path, &toml).unwrap();
    let p = hookguard::runtime::start(hookguard::config::load(&path).unwrap())
        .await
        .unwrap();
    let admin = p.admin_addr.unwrap();
    let status = || async move {
        let (code, body) = admin_request(admin, "GET", "/status", None).await;
        assert_eq!(code, 200, "{body}");
        serde_json::from_str::<serde_json::Value>(&body).unwrap()
    };

    let before = status().await;
    assert_eq!(
        before["tls"]["not_after"], "2031-01-02T00:00:00Z",
        "{before}"
    );
    assert!(before["tls"]["expires_in_s"].as_i64().unwrap() > 0);
    assert_eq!(before["reloads"]["success"], 0);
    assert_eq!(before["reloads"]["last"], serde_json::Value::Null);

    write_cert(&certificate_until(2032));
    p.reload().expect("the new certificate is valid");
    let after = status().await;
    assert_eq!(after["tls"]["not_after"], "2032-01-02T00:00:00Z", "{after}");
    assert_eq!(after["reloads"]["success"], 1);
    assert_eq!(after["reloads"]["last"]["result"], "success");

    std::fs::write(&path, "[server\n").unwrap();
    assert!(p.reload().is_err());
    let refused = status().await;
    assert_eq!(refused["reloads"]["failure"], 1, "{refused}");
    assert_eq!(refused["reloads"]["last"]["result"], "failure");
    // The refused configuration changed nothing.
    assert_eq!(refused["tls"]["not_after"], "2032-01-02T00:00:00Z");
    p.shutdown().await;
}
