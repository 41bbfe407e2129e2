//! Redis going away and coming back under two replicas: the first request
//! after a restart is served (an operation whose connection was lost is
//! retried once, idempotently), and readiness follows a background `PING`.
//! Real `redis-server`s, as in `redis.rs`.

mod common;
#[path = "support/redis.rs"]
mod support;

use std::time::Duration;

use common::*;
use hookguard::replay::{Claim, RedisStore};
use support::*;

/// The connection manager fails the first command after a dropped
/// connection (and only then reconnects). After a Redis restart, the first
/// request each replica gets must still be served, not answered 503: the
/// command is retried once on the fresh connection.
#[tokio::test]
async fn a_redis_restart_costs_neither_replica_a_delivery() {
    let mut redis = Redis::start();
    let up = Upstream::start().await;
    let toml = format!(
        "{}\n[admin]\nlisten = \"127.0.0.1:0\"\n",
        config(&redis, "reject")
    );
    let (a, b) = (proxy(&toml, &up).await, proxy(&toml, &up).await);
    assert!(forwarded(&Event::new("msg_restart_0").send(&a).await));
    assert!(forwarded(&Event::new("msg_restart_1").send(&b).await));

    // Down: both replicas notice through their probes (no request needed).
    redis.stop();
    for replica in [&a, &b] {
        wait_for_readyz(replica, (503, "replay store unavailable\n")).await;
    }
    // Back on the same port (empty: no persistence).
    redis.restart();
    let event = Event::new("msg_restart_2");
    let first_a = event.send(&a).await;
    assert!(
        forwarded(&first_a),
        "first request to a after the restart: {first_a:?}"
    );
    let first_b = event.send(&b).await;
    assert!(
        duplicate_delivered(&first_b),
        "first request to b after the restart: {first_b:?}"
    );
    let first_b = Event::new("msg_restart_3").send(&b).await;
    assert!(forwarded(&first_b), "{first_b:?}");
    assert_eq!(deliveries_of(&up, "msg_restart_2"), 1);
    for replica in [&a, &b] {
        wait_for_readyz(replica, (200, "ready\n")).await;
    }
}

/// Readiness state comes from a background `PING`, not from requests: it
/// follows Redis down and up while the replica receives nothing at all.
#[tokio::test]
async fn the_store_is_probed_in_the_background() {
    let mut redis = Redis::start();
    let up = Upstream::start().await;
    let p = proxy(&config(&redis, "reject"), &up).await;
    let replay = p.app().replay().clone();
    let wait_for = |want: bool| {
        let replay = replay.clone();
        async move {
            let what = format!("healthy() to become {want}");
            eventually(&what, PATIENCE, || async { replay.healthy() == want }).await;
        }
    };
    wait_for(true).await;
    redis.stop();
    wait_for(false).await;
    redis.restart();
    wait_for(true).await;
    assert_eq!(up.count(), 0);
}

/// A TCP relay to Redis that can lose one answer: armed with a pattern, it
/// forwards the next command holding it, lets Redis answer, then closes the
/// connection instead of passing the answer on (a connection dropped after
/// the command ran).
struct LossyRelay {
    addr: std::net::SocketAddr,
    armed: std::sync::Arc<std::sync::Mutex<Option<Vec<u8>>>>,
    cuts: std::sync::Arc<std::sync::atomic::AtomicUsize>,
}

impl LossyRelay {
    async fn start(redis_port: u16) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let relay = Self {
            addr: listener.local_addr().unwrap(),
            armed: Default::default(),
            cuts: Default::default(),
        };
        let (armed, cuts) = (relay.armed.clone(), relay.cuts.clone());
        tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let server = tokio::net::TcpStream::connect(("127.0.0.1", redis_port))
                    .await
                    .unwrap();
                tokio::spawn(Self::relay(client, server, armed.clone(), cuts.clone()));
            }
        });
        relay
    }

    /// Loses the answer to the next command that contains `pattern`.
    fn arm(&self, pattern: &[u8]) {
        *self.armed.lock().unwrap() = Some(pattern.to_vec());
    }

    /// Whether `command` holds the armed pattern (which is then used up).
    fn disarm_on(armed: &std::sync::Mutex<Option<Vec<u8>>>, command: &[u8]) -> bool {
        let mut armed = armed.lock().unwrap();
        let hit = armed
            .as_ref()
            .is_some_and(|p| command.windows(p.len()).any(|w| w == p));
        if hit {
            *armed = None;
        }
        hit
    }

    async fn relay(
        mut client: tokio::net::TcpStream,
        mut server: tokio::net::TcpStream,
        armed: std::sync::Arc<std::sync::Mutex<Option<Vec<u8>>>>,
        cuts: std::sync::Arc<std::sync::atomic::AtomicUsize>,
    ) {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let (mut up, mut down) = ([0u8; 16 * 1024], [0u8; 16 * 1024]);
        let mut cutting = false;
        loop {
            tokio::select! {
                n = client.read(&mut up) => {
                    let Ok(n @ 1..) = n else { return };
                    let command = &up[..n];
                    cutting |= Self::disarm_on(&armed, command);
                    if server.write_all(command).await.is_err() {
                        return;
                    }
                }
                n = server.read(&mut down) => {
                    let Ok(n @ 1..) = n else { return };
                    if cutting {
                        // Redis ran the command: drop its answer and the connection.
                        cuts.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                        return;
                    }
                    if client.write_all(&down[..n]).await.is_err() {
                        return;
                    }
                }
            }
        }
    }
}

/// A claim whose answer is lost with its connection is sent again with the
/// same token; finding that token, it is this request's claim (not "in
/// flight", which would turn the event away with 409 until the lease ends).
#[tokio::test]
async fn a_claim_whose_answer_was_lost_is_retried_and_owned() {
    let redis = Redis::start();
    let relay = LossyRelay::start(redis.port).await;
    let url = format!("redis://{}/0", relay.addr);
    let ttl = Duration::from_secs(60);
    let store = RedisStore::new(&url, ttl, ttl).unwrap();
    // Loads the claim script, so the armed command below is the one that runs it.
    assert!(matches!(
        store.claim(key_of("msg_warm_up")).await.unwrap(),
        Claim::Acquired(_)
    ));

    let key = key_of("msg_lost_answer");
    relay.arm(format!("hookguard:{}", key.to_hex()).as_bytes());
    let claim = store
        .claim(key)
        .await
        .expect("retried on a fresh connection");
    assert_eq!(relay.cuts.load(std::sync::atomic::Ordering::SeqCst), 1);
    let Claim::Acquired(token) = claim else {
        panic!("the retried claim found its own token: {claim:?}");
    };
    // The token in Redis is this claim's: it settles the key.
    assert!(store.settle(key, token, true).await.unwrap());
    let mut conn = redis.client().get_connection().unwrap();
    let value: String = redis::cmd("GET")
        .arg(format!("hookguard:{}", key.to_hex()))
        .query(&mut conn)
        .unwrap();
    assert_eq!(value, "d");
}
