//! The real `hookguard` binary: start-up on port 0, one audit event per
//! request, no secret or signature ever in the logs, and SIGTERM draining a
//! request in flight before exiting 0.

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use common::*;

const OLD_SECRET: &str = "old-secret-value-9f8e7d";
const NEW_SECRET: &str = "new-secret-value-1a2b3c";

/// One worker thread: the binary runs a current-thread runtime.
#[tokio::test]
async fn binary_on_one_worker_logs_decisions_without_secrets_and_drains_on_sigterm() {
    logs_decisions_and_drains("1", "info").await;
}

/// Several worker threads: the multi-thread runtime. `HOOKGUARD_LOG` set but
/// empty counts as unset: the default level, audit events included.
#[tokio::test]
async fn binary_on_two_workers_logs_decisions_without_secrets_and_drains_on_sigterm() {
    logs_decisions_and_drains("2", "").await;
}

async fn logs_decisions_and_drains(workers: &str, log_level: &str) {
    let up = Upstream::start().await;
    let tmp = common::temp_dir(&format!("bin-{workers}"));
    let dir = tmp.path();
    std::fs::write(dir.join("new.secret"), format!("{NEW_SECRET}\n")).unwrap();
    let cfg = TomlConfig::new()
        .server(r#"shutdown_grace = "5s""#)
        .upstream_url(&up.url())
        .upstream(r#"timeout = "5s""#)
        .github("/gh", "env:HG_TEST_GH_SECRET", &[])
        .route(&format!(
            r#"
path = "/rotating"
provider = "github"
secrets = [
  {{ value = "{OLD_SECRET}", expires = "2001-01-01T00:00:00Z" }},
  "file:new.secret",
]"#
        ))
        .build();
    let path = dir.join("hookguard.toml");
    std::fs::write(&path, cfg).unwrap();

    let mut child = Command::new(env!("CARGO_BIN_EXE_hookguard"))
        .args(["serve", "-c"])
        .arg(&path)
        .env("HG_TEST_GH_SECRET", GH_SECRET)
        .env("HOOKGUARD_LOG", log_level)
        .env_remove("RUST_LOG")
        .env("TOKIO_WORKER_THREADS", workers)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = mpsc::channel::<String>();
    let reader = std::thread::spawn(move || {
        let mut all = Vec::new();
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = tx.send(line.clone());
            all.push(line);
        }
        all
    });
    let addr = loop {
        let line = rx
            .recv_timeout(Duration::from_secs(10))
            .expect("listening line");
        let v: serde_json::Value = serde_json::from_str(&line).expect("JSON log line");
        if v["message"] == "listening" {
            break v["addr"].as_str().unwrap().to_owned();
        }
    };
    let p = Target(addr.parse().unwrap());

    // Valid, tampered, missing, and rotation: old (expired) vs new secret.
    let body = b"{\"action\":\"opened\"}";
    let old_sig = format!("sha256={}", hmac256_hex(OLD_SECRET, &[body]));
    let new_sig = format!("sha256={}", hmac256_hex(NEW_SECRET, &[body]));
    assert_eq!(p.post("/gh", GH_SIG, GH_BODY).await, 200);
    assert_eq!(p.post("/gh", GH_SIG, b"Hello, World?").await, 401);
    assert_eq!(p.post("/gh", "", GH_BODY).await, 401);
    assert_eq!(
        p.post("/rotating", &old_sig, body).await,
        401,
        "expired secret never verifies"
    );
    assert_eq!(p.post("/rotating", &new_sig, body).await, 200);

    // A slow request in flight when SIGTERM arrives still completes.
    up.set(Behavior {
        delay: Duration::from_millis(700),
        ..Behavior::default()
    });
    let slow_body = b"{\"slow\":true}";
    let slow_sig = format!("sha256={}", hmac256_hex(GH_SECRET, &[slow_body]));
    let in_flight = tokio::spawn(async move { p.post("/gh", &slow_sig, slow_body).await });
    // Two requests were forwarded before it: the third is the slow one.
    up.wait_for_requests(3).await;
    let pid = child.id().to_string();
    assert!(Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap()
        .success());
    assert_eq!(in_flight.await.unwrap(), 200, "in-flight request drained");
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(0), "exit 0 after draining");

    let lines = reader.join().unwrap();
    let all = lines.join("\n");
    for secret in [
        GH_SECRET, OLD_SECRET, NEW_SECRET, GH_SIG, &old_sig, &new_sig,
    ] {
        assert!(!all.contains(secret), "log leaked {secret:?}:\n{all}");
    }
    let hex_of_new = new_sig.trim_start_matches("sha256=");
    assert!(!all.contains(hex_of_new));

    let audit: Vec<serde_json::Value> = lines
        .iter()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|v| v["target"] == "audit")
        .collect();
    assert_eq!(audit.len(), 6, "one event per request:\n{all}");
    let codes: Vec<&str> = audit
        .iter()
        .map(|v| v["error"].as_str().unwrap_or("-"))
        .collect();
    assert_eq!(
        codes,
        [
            "-",
            "invalid_signature",
            "missing_signature",
            "invalid_signature",
            "-",
            "-"
        ]
    );
    let rotated = &audit[4];
    assert_eq!(
        rotated["secret_index"], 1,
        "index of the matching secret, never its value"
    );
    assert_eq!(rotated["outcome"], "forwarded");
    assert_eq!(rotated["route"], "/rotating");
    assert_eq!(rotated["provider"], "github");
    assert_eq!(rotated["status"], 200);
    assert_eq!(rotated["upstream_status"], 200);
    assert_eq!(rotated["client_ip"], "127.0.0.1");
    assert!(rotated["latency_ms"].as_f64().is_some());
}

#[derive(Clone, Copy)]
struct Target(std::net::SocketAddr);

impl Target {
    async fn post(self, path: &str, sig: &str, body: &'static [u8]) -> u16 {
        let mut req = http::Request::post(format!("http://{}{path}", self.0));
        if !sig.is_empty() {
            req = req.header("x-hub-signature-256", sig);
        }
        let req = req
            .body(http_body_util::Full::new(bytes::Bytes::from_static(body)))
            .unwrap();
        client().request(req).await.unwrap().status().as_u16()
    }
}

#[test]
fn check_rejects_a_bad_config_with_exit_2_and_a_located_error() {
    let tmp = common::temp_dir("check");
    let dir = tmp.path();
    let path = dir.join("bad.toml");
    std::fs::write(
        &path,
        "[upstream]\nurl = \"http://127.0.0.1:3000\"\n\n[[route]]\npath = \"/x\"\nprovider = \"githb\"\nsecrets = [\"s\"]\n",
    )
    .unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_hookguard"))
        .args(["check", "-c"])
        .arg(&path)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("bad.toml:6:"), "{err}");
    assert!(
        err.contains(r#"unknown provider "githb" (did you mean "github"?)"#),
        "{err}"
    );
}

#[test]
fn check_refuses_what_serve_would_and_never_prints_upstream_credentials() {
    let tmp = common::temp_dir("check-tls");
    let dir = tmp.path();
    let cert = rcgen::generate_simple_self_signed(vec!["localhost".into()]).unwrap();
    std::fs::write(dir.join("tls.crt"), cert.cert.pem()).unwrap();
    std::fs::write(dir.join("empty.key"), "").unwrap();
    let path = dir.join("hookguard.toml");
    std::fs::write(
        &path,
        "[server]\ntls = { cert = \"tls.crt\", key = \"empty.key\" }\n\n\
         [upstream]\nurl = \"http://hg:s3cret-pw@127.0.0.1:3000/\"\n\n\
         [[route]]\npath = \"/x\"\nprovider = \"github\"\nsecrets = [\"s\"]\n",
    )
    .unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_hookguard"))
        .args(["check", "-c"])
        .arg(&path)
        .output()
        .unwrap();
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    assert_eq!(out.status.code(), Some(2), "{stdout}{stderr}");
    assert!(
        stderr.contains("hookguard.toml:2:33: server.tls.key: ")
            && stderr.contains("empty.key: no usable private key"),
        "{stderr}"
    );
    assert!(
        stderr.contains("hookguard.toml:5:7: upstream.url: a user name or password"),
        "{stderr}"
    );
    assert!(
        !format!("{stdout}{stderr}").contains("s3cret"),
        "{stdout}{stderr}"
    );
}
