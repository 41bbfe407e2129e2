//! Fixtures of the Redis tests (`redis.rs`, `redis_recovery.rs`): a private
//! `redis-server` per test, two replicas sharing it, signed Standard
//! Webhooks events, and what their answers mean.

#![allow(dead_code, unreachable_pub)]

use std::net::TcpListener as StdListener;
use std::process::{Child, Command, Stdio};

use hookguard::providers::Dedup;
use hookguard::replay::ReplayKey;
use hookguard::runtime::Running;

use crate::common::*;

pub const SW_SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

/// A private `redis-server` child, killed on drop.
pub struct Redis {
    pub port: u16,
    child: Option<Child>,
    /// Extra server arguments (TLS).
    args: Vec<String>,
}

impl Redis {
    pub fn start() -> Self {
        Self::start_with(Vec::new())
    }

    pub fn start_with(args: Vec<String>) -> Self {
        let mut redis = Self {
            port: 0,
            child: None,
            args,
        };
        // A free port can be taken by another test between the probe and
        // redis-server's bind; the server then exits, and another port is tried.
        for _ in 0..5 {
            redis.port = free_port();
            if redis.launch() {
                return redis;
            }
        }
        panic!("redis-server exited at start on five free ports in a row");
    }

    /// (Re)starts the server on the same port and waits until it answers.
    pub fn restart(&mut self) {
        assert!(
            self.launch(),
            "redis-server exited: port {} taken",
            self.port
        );
    }

    /// Starts the server on `self.port`: true once it answers `PING`, false
    /// if it exits first (its port was taken). A connect alone could reach
    /// whatever else holds the port.
    fn launch(&mut self) -> bool {
        let mut child = Command::new("redis-server")
            .args(["--port", &self.port.to_string()])
            .args(["--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
            .args(&self.args)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("redis-server on PATH (scripts/test.sh installs it)");
        let port = self.port;
        let serving = eventually_blocking("redis-server to answer PING", PATIENCE, || match child
            .try_wait()
        {
            Ok(Some(_exited)) => Ok(false),
            _ => ping(port).map(|()| true),
        });
        if serving {
            self.child = Some(child);
        }
        serving
    }

    /// Sends `signal` (STOP/CONT) to the server: a hung, not a dead, Redis.
    pub fn signal(&self, signal: &str) {
        let pid = self.child.as_ref().expect("running").id().to_string();
        let status = Command::new("kill").args([signal, &pid]).status().unwrap();
        assert!(status.success());
    }

    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = Command::new("kill")
                .args(["-CONT", &child.id().to_string()])
                .status();
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/0", self.port)
    }

    pub fn client(&self) -> redis::Client {
        redis::Client::open(self.url()).unwrap()
    }
}

/// One `PING` on the plain port (a TLS test's server has one too).
fn ping(port: u16) -> Result<(), String> {
    use std::io::{Read, Write};
    let mut stream =
        std::net::TcpStream::connect(("127.0.0.1", port)).map_err(|e| e.to_string())?;
    stream
        .set_read_timeout(Some(std::time::Duration::from_secs(1)))
        .map_err(|e| e.to_string())?;
    stream.write_all(b"PING\r\n").map_err(|e| e.to_string())?;
    let mut reply = [0u8; 7];
    stream.read_exact(&mut reply).map_err(|e| e.to_string())?;
    match &reply {
        b"+PONG\r\n" => Ok(()),
        other => Err(format!("not redis: {:?}", String::from_utf8_lossy(other))),
    }
}

pub fn free_port() -> u16 {
    StdListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

impl Drop for Redis {
    fn drop(&mut self) {
        self.stop();
    }
}

pub fn config(redis: &Redis, on_store_error: &str) -> String {
    config_for(&redis.url(), on_store_error)
}

pub fn config_for(url: &str, on_store_error: &str) -> String {
    format!(
        r#"
[server]
listen = "127.0.0.1:0"
request_timeout = "5s"
shutdown_grace = "1s"

[upstream]
url = "{{upstream}}"
timeout = "3s"

[replay]
store = "{url}"
on_store_error = "{on_store_error}"

[[route]]
path = "/sw"
provider = "standard-webhooks"
secrets = ["{SW_SECRET}"]
"#
    )
}

/// Two replicas sharing `redis`, both forwarding to `up`.
pub async fn replicas(redis: &Redis, up: &Upstream, on_store_error: &str) -> (Running, Running) {
    let toml = config(redis, on_store_error);
    (proxy(&toml, up).await, proxy(&toml, up).await)
}

/// A signed Standard Webhooks delivery of event `id`.
pub struct Event {
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Event {
    pub fn new(id: &str) -> Self {
        let body = format!(r#"{{"type":"test","id":"{id}"}}"#).into_bytes();
        let headers = standard_webhooks_headers(SW_SECRET, id, now_secs(), &body);
        Self { headers, body }
    }

    pub async fn send(&self, to: &Running) -> Answer {
        let h: Vec<(&str, &str)> = self
            .headers
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        post(to, "/sw", &h, &self.body).await
    }
}

pub fn forwarded(a: &Answer) -> bool {
    a.status == 200 && a.text() == "ok from upstream"
}

pub fn duplicate_delivered(a: &Answer) -> bool {
    a.status == 200 && a.text() == r#"{"status":"duplicate"}"#
}

/// How many times event `id` reached the upstream.
pub fn deliveries_of(up: &Upstream, id: &str) -> usize {
    up.received()
        .iter()
        .filter(|r| r.headers["webhook-id"] == id)
        .count()
}

/// The replay key the proxy derives for event `id` on `/sw`.
pub fn key_of(id: &str) -> ReplayKey {
    ReplayKey::derive("/sw", &Dedup::SignedId(id.into())).unwrap()
}

/// Sends fresh probe events to `replica` until one is forwarded (Redis back
/// and reconnected), within [`PATIENCE`].
pub async fn wait_until_recovered(replica: &Running, tag: &str) {
    let mut n = 0;
    eventually("the replica to recover", PATIENCE, || {
        n += 1;
        let event = Event::new(&format!("probe_{tag}_{n}"));
        async move {
            let a = event.send(replica).await;
            if forwarded(&a) {
                return Ok(());
            }
            assert_rejected(&a, 503, "replay_store_unavailable");
            Err(format!("{} {}", a.status, a.text()))
        }
    })
    .await;
}

/// GET `/readyz` on the admin listener: status and body.
pub async fn readyz(p: &Running) -> (u16, String) {
    let addr = p.admin_addr.expect("admin listener configured");
    admin_request(addr, "GET", "/readyz", None).await
}

/// Polls `/readyz` until it answers `want`, within [`PATIENCE`].
pub async fn wait_for_readyz(p: &Running, want: (u16, &str)) {
    eventually(&format!("/readyz to answer {want:?}"), PATIENCE, || async {
        let last = readyz(p).await;
        if (last.0, last.1.as_str()) == want {
            Ok(())
        } else {
            Err(format!("{last:?}"))
        }
    })
    .await;
}
