//! Provider IP presets: `allow_ips = ["preset:github"]` admits GitHub's
//! published ranges and nothing else (behind a balancer, the address its
//! PROXY header carries); `[server] ip_presets` replaces the built-in set
//! and a reload re-reads it; `hookguard presets update` fetches every feed
//! (served here from the stored samples) and keeps the previous list of a
//! feed it cannot fetch.

mod common;

use std::collections::HashMap;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::path::Path;
use std::process::Command;
use std::sync::atomic::{AtomicU64, Ordering};

use bytes::Bytes;
use common::*;
use http::{Request, Response};
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// A signed GitHub delivery written on `stream` (after whatever was
/// written before), with a body of its own: the status line's code.
async fn deliver_raw(mut stream: TcpStream) -> String {
    static DELIVERIES: AtomicU64 = AtomicU64::new(0);
    let body = format!(
        "{{\"delivery\":{}}}",
        DELIVERIES.fetch_add(1, Ordering::Relaxed)
    );
    let signature = hmac256_hex(GH_SECRET, &[body.as_bytes()]);
    let head = format!(
        "POST /gh HTTP/1.1\r\nHost: x\r\nConnection: close\r\nX-GitHub-Event: push\r\n\
         X-Hub-Signature-256: sha256={signature}\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    stream.write_all(body.as_bytes()).await.unwrap();
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer).await.unwrap();
    let text = String::from_utf8_lossy(&answer);
    text.split(' ').nth(1).unwrap_or("closed").to_owned()
}

/// A PROXY protocol v2 header carrying `source` (TCP over IPv4).
fn v2_header(source: [u8; 4]) -> Vec<u8> {
    let mut h = b"\r\n\r\n\0\r\nQUIT\n".to_vec();
    h.extend_from_slice(&[0x21, 0x11, 0, 12]);
    h.extend_from_slice(&source);
    h.extend_from_slice(&[127, 0, 0, 1, 0x9c, 0x40, 1, 187]);
    h
}

fn github_only() -> TomlConfig {
    TomlConfig::new()
        .server(r#"proxy_protocol = "any""#)
        .server(r#"trusted_proxies = ["127.0.0.1"]"#)
        .github("/gh", GH_SECRET, &[r#"allow_ips = ["preset:github"]"#])
}

#[tokio::test]
async fn the_github_preset_admits_github_hooks_addresses_only() {
    let upstream = Upstream::start().await;
    let plain = TomlConfig::new().github("/gh", GH_SECRET, &[r#"allow_ips = ["preset:github"]"#]);
    let p = proxy(&plain.build(), &upstream).await;
    let answer = post(&p, "/gh", &[("x-hub-signature-256", GH_SIG)], GH_BODY).await;
    // (GitHub's documented example: a valid signature, refused for its source.)
    assert_rejected(&answer, 403, "ip_not_allowed");

    // Behind a balancer: a GitHub hooks address (140.82.112.0/20) passes,
    // an address outside every GitHub range does not.
    let p = proxy(&github_only().build(), &upstream).await;
    let mut github = TcpStream::connect(p.addr).await.unwrap();
    github
        .write_all(&v2_header([140, 82, 115, 9]))
        .await
        .unwrap();
    assert_eq!(deliver_raw(github).await, "200");
    let mut other = TcpStream::connect(p.addr).await.unwrap();
    other.write_all(&v2_header([203, 0, 113, 7])).await.unwrap();
    assert_eq!(deliver_raw(other).await, "403");
    assert_eq!(upstream.count(), 1);
}

#[tokio::test]
async fn a_presets_file_replaces_the_built_in_set_and_a_reload_rereads_it() {
    let dir = temp_dir("ip-presets-file");
    let presets = dir.path().join("presets.toml");
    let write_presets = |range: &str| {
        let text = format!(
            "[github]\nsource = \"test\"\nsnapshot = \"2026-12-01\"\nranges = [\"{range}\"]\n"
        );
        std::fs::write(dir.path().join("presets.tmp"), text).unwrap();
        std::fs::rename(dir.path().join("presets.tmp"), &presets).unwrap();
    };
    write_presets("203.0.113.0/24");
    let upstream = Upstream::start().await;
    let toml = github_only()
        .server(r#"ip_presets = "file:presets.toml""#)
        .build()
        .replace("{upstream}", &upstream.url());
    let config = dir.path().join("hookguard.toml");
    std::fs::write(&config, toml).unwrap();
    let p = hookguard::runtime::start(hookguard::config::load(&config).unwrap())
        .await
        .unwrap();

    let addr = p.addr;
    let send = |source: [u8; 4]| async move {
        let mut s = TcpStream::connect(addr).await.unwrap();
        s.write_all(&v2_header(source)).await.unwrap();
        deliver_raw(s).await
    };
    assert_eq!(send([203, 0, 113, 7]).await, "200", "the file's range");
    assert_eq!(send([140, 82, 115, 9]).await, "403", "not the built-in one");

    write_presets("140.82.112.0/20");
    p.reload().expect("reload");
    assert_eq!(send([140, 82, 115, 9]).await, "200", "re-read on reload");
    assert_eq!(send([203, 0, 113, 7]).await, "403");

    // A file that no longer parses: the reload is refused, the last good
    // set keeps serving.
    std::fs::write(&presets, "[github]\nranges = 1\n").unwrap();
    assert!(p.reload().is_err());
    assert_eq!(send([140, 82, 115, 9]).await, "200");
}

// --- `hookguard presets update` against the stored feed samples ---

/// Serves the samples under `tests/data/presets/` at the paths
/// `--feed-base` makes of each feed's URL; any other path gets 404.
async fn feed_server(missing: &'static [&'static str]) -> SocketAddr {
    let samples: HashMap<&str, &str> = [
        ("/github/meta", "github-meta.json"),
        (
            "/stripe/files/ips/ips_webhooks.json",
            "stripe-ips_webhooks.json",
        ),
        ("/atlassian/", "atlassian-ip-ranges.json"),
        (
            "/pagerduty/ip-safelists/webhooks-us-service-region",
            "pagerduty-webhooks-us.txt",
        ),
        (
            "/pagerduty/ip-safelists/webhooks-eu-service-region",
            "pagerduty-webhooks-eu.txt",
        ),
        ("/buildkite/v2/meta", "buildkite-meta.json"),
        ("/paddle/ips", "paddle-ips.json"),
        (
            "/checkout-com/docs/public/files/ip-lists/webhooks-live.txt",
            "checkout-webhooks-live.txt",
        ),
    ]
    .into_iter()
    .filter(|(path, _)| !missing.iter().any(|m| path.starts_with(m)))
    .collect();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                return;
            };
            let samples = samples.clone();
            let service = service_fn(move |req: Request<Incoming>| {
                let file = samples.get(req.uri().path()).copied();
                async move {
                    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/presets");
                    let response = match file {
                        Some(file) => Response::new(Full::new(Bytes::from(
                            std::fs::read(dir.join(file)).unwrap(),
                        ))),
                        None => Response::builder()
                            .status(404)
                            .body(Full::new(Bytes::new()))
                            .unwrap(),
                    };
                    Ok::<_, Infallible>(response)
                }
            });
            tokio::spawn(async move {
                let http1 = hyper::server::conn::http1::Builder::new();
                let _ = http1.serve_connection(TokioIo::new(stream), service).await;
            });
        }
    });
    addr
}

/// Runs `hookguard presets update --out out --feed-base http://addr`:
/// (exit code, stderr).
fn presets_update(out: &Path, feeds: SocketAddr) -> (i32, String) {
    let output = Command::new(env!("CARGO_BIN_EXE_hookguard"))
        .args(["presets", "update", "--out"])
        .arg(out)
        .arg("--feed-base")
        .arg(format!("http://{feeds}"))
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    (output.status.code().unwrap(), stderr)
}

fn preset_ranges(file: &Path, name: &str) -> Vec<String> {
    let doc: toml::Table = std::fs::read_to_string(file).unwrap().parse().unwrap();
    doc[name]["ranges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn presets_update_writes_every_feed_and_keeps_a_failed_one() {
    let dir = temp_dir("presets-update");
    let out = dir.path().join("presets.toml");

    let all = feed_server(&[]).await;
    let (code, stderr) = tokio::task::spawn_blocking({
        let out = out.clone();
        move || presets_update(&out, all)
    })
    .await
    .unwrap();
    assert_eq!(code, 0, "{stderr}");
    assert!(stderr.contains("stripe: 4 ranges"), "{stderr}");
    assert!(stderr.contains("pagerduty: 25 ranges"), "{stderr}");
    assert_eq!(
        preset_ranges(&out, "atlassian"),
        ["192.0.2.0/25", "2001:db8:100::/48"]
    );
    assert_eq!(preset_ranges(&out, "stripe")[0], "192.0.2.63");
    // Providers without a feed keep the built-in list.
    assert_eq!(
        preset_ranges(&out, "gitlab"),
        ["34.74.90.64/28", "34.74.226.0/24"]
    );
    // The file is what `ip_presets` loads.
    let config = format!(
        "[server]\nip_presets = \"file:{}\"\n[upstream]\nurl = \"http://127.0.0.1:1\"\n\
         [[route]]\npath = \"/s\"\nprovider = \"stripe\"\nsecrets = [\"whsec_x\"]\n\
         allow_ips = [\"preset:stripe\", \"preset:atlassian\"]\n",
        out.display()
    );
    let cfg = hookguard::config::from_str(&config, Path::new("t.toml"), &|_| None).unwrap();
    assert_eq!(cfg.routes[0].allow_ips.len(), 6);

    // Stripe's feed is gone: its previous list stays, and the run says so.
    let some = feed_server(&["/stripe"]).await;
    let (code, stderr) = tokio::task::spawn_blocking({
        let out = out.clone();
        move || presets_update(&out, some)
    })
    .await
    .unwrap();
    assert_eq!(code, 1, "{stderr}");
    assert!(
        stderr.contains("stripe: NOT UPDATED (") && stderr.contains("HTTP 404"),
        "{stderr}"
    );
    assert!(
        stderr.contains("kept the previous list (snapshot "),
        "{stderr}"
    );
    assert_eq!(preset_ranges(&out, "stripe").len(), 4);
}
