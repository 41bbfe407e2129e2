//! Claim + settle latency of the replay stores, memory and Redis, in the same
//! run: p50/p99 of sequential round trips, then throughput with
//! concurrent callers, as the proxy would drive them.
//!
//! ```sh
//! cargo run --release --example replay_latency            # starts its own redis-server
//! REDIS_URL=redis://127.0.0.1:6379/0 cargo run --release --example replay_latency
//! ```

#![forbid(unsafe_code)]

use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use hookguard::providers::Dedup;
use hookguard::replay::{Claim, MemoryStore, RedisStore, ReplayKey, ReplayStore};

const SEQUENTIAL: usize = 20_000;
const CONCURRENT_TASKS: usize = 64;
const PER_TASK: usize = 1_000;

#[tokio::main]
async fn main() {
    let (url, _server) = match std::env::var("REDIS_URL") {
        Ok(url) => (url, None),
        Err(_) => {
            let (url, child) = start_redis();
            (url, Some(KillOnDrop(child)))
        }
    };
    let ttl = Duration::from_secs(3600);
    let stores = [
        (
            "memory",
            ReplayStore::Memory(MemoryStore::new(ttl, 1_000_000)),
        ),
        (
            "redis",
            ReplayStore::Redis(RedisStore::new(&url, ttl, Duration::from_secs(35)).expect("url")),
        ),
    ];
    let run = std::process::id();
    println!(
        "store    p50        p99        seq ops/s   concurrent ops/s ({CONCURRENT_TASKS} tasks)"
    );
    for (name, store) in stores {
        let store = Arc::new(store);
        assert!(store.check().await, "{name} store unreachable");
        let mut samples = Vec::with_capacity(SEQUENTIAL);
        let started = Instant::now();
        for n in 0..SEQUENTIAL {
            let t = Instant::now();
            cycle(&store, &format!("{run}-seq-{n}")).await;
            samples.push(t.elapsed());
        }
        let seq_rate = SEQUENTIAL as f64 / started.elapsed().as_secs_f64();
        samples.sort_unstable();
        let p = |q: f64| samples[((samples.len() as f64 * q) as usize).min(samples.len() - 1)];

        let started = Instant::now();
        let tasks: Vec<_> = (0..CONCURRENT_TASKS)
            .map(|t| {
                let store = Arc::clone(&store);
                tokio::spawn(async move {
                    for n in 0..PER_TASK {
                        cycle(&store, &format!("{run}-con-{t}-{n}")).await;
                    }
                })
            })
            .collect();
        for t in tasks {
            t.await.expect("task");
        }
        let con_rate = (CONCURRENT_TASKS * PER_TASK) as f64 / started.elapsed().as_secs_f64();
        println!(
            "{name:<8} {:<10} {:<10} {seq_rate:<11.0} {con_rate:.0}",
            format!("{:.1?}", p(0.50)),
            format!("{:.1?}", p(0.99)),
        );
    }
}

/// One delivery as the proxy does it: claim a fresh key, then mark it delivered.
async fn cycle(store: &ReplayStore, id: &str) {
    let key = ReplayKey::derive("/bench", &Dedup::SignedId(id.to_owned())).expect("key");
    match store.claim(key).await.expect("claim") {
        Claim::Acquired(token) => store.settle(key, token, true).await,
        other => panic!("fresh key answered {other:?}"),
    }
}

struct KillOnDrop(Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A throwaway `redis-server` on a free loopback port.
fn start_redis() -> (String, Child) {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port")
        .port();
    let child = Command::new("redis-server")
        .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
        .args(["--save", "", "--appendonly", "no"])
        .stdout(Stdio::null())
        .spawn()
        .expect("redis-server on PATH, or set REDIS_URL");
    let deadline = Instant::now() + Duration::from_secs(10);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "redis-server did not start");
        #[allow(
            clippy::disallowed_methods,
            reason = "waits for redis-server to listen before anything is measured"
        )]
        std::thread::sleep(Duration::from_millis(20));
    }
    (format!("redis://127.0.0.1:{port}/0"), child)
}
