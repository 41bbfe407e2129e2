//! Several replicas sharing one Redis replay store: two real
//! hookguard instances, a real recording upstream and a real `redis-server`
//! that each test starts on its own ephemeral loopback port (no 6379, no state
//! shared between tests). Requests are signed test-side (Standard Webhooks).
//!
//! `scripts/test.sh` (the test command) installs `redis-server`; `cargo test`
//! on a machine without it fails these tests loudly rather than skipping them.

mod common;
#[path = "support/redis.rs"]
mod support;

use std::time::Duration;

use common::*;
use hookguard::replay::{Claim, RedisStore};
use support::*;

#[tokio::test]
async fn same_event_on_both_replicas_reaches_upstream_once() {
    let redis = Redis::start();
    let up = Upstream::start().await;
    let (a, b) = replicas(&redis, &up, "reject").await;

    let event = Event::new("msg_both_1");
    assert!(forwarded(&event.send(&a).await));
    assert!(duplicate_delivered(&event.send(&b).await));
    assert!(duplicate_delivered(&event.send(&a).await));
    assert_eq!(up.count(), 1);

    // The key is namespaced, fixed-size and carries no event material.
    let mut conn = redis.client().get_connection().unwrap();
    let keys: Vec<String> = redis::cmd("KEYS").arg("*").query(&mut conn).unwrap();
    assert_eq!(
        keys,
        vec![format!("hookguard:{}", key_of("msg_both_1").to_hex())]
    );
    let value: String = redis::cmd("GET").arg(&keys[0]).query(&mut conn).unwrap();
    assert_eq!(value, "d");
    assert!(a.app().replay().healthy() && b.app().replay().healthy());
}

#[tokio::test]
async fn twenty_concurrent_copies_over_both_replicas_reach_upstream_once() {
    let redis = Redis::start();
    let up = Upstream::start().await;
    // Slow upstream: the copies overlap the first one's forwarding.
    up.set(Behavior {
        delay: Duration::from_millis(300),
        ..Behavior::default()
    });
    let (a, b) = replicas(&redis, &up, "reject").await;
    let replicas = std::sync::Arc::new([a, b]);
    let event = std::sync::Arc::new(Event::new("msg_concurrent_1"));

    let tasks: Vec<_> = (0..20)
        .map(|i| {
            let replicas = replicas.clone();
            let event = event.clone();
            tokio::spawn(async move { event.send(&replicas[i % 2]).await })
        })
        .collect();
    let mut answers = Vec::new();
    for t in tasks {
        answers.push(t.await.unwrap());
    }
    let delivered = answers.iter().filter(|a| forwarded(a)).count();
    assert_eq!(delivered, 1, "{answers:?}");
    for a in answers.iter().filter(|a| !forwarded(a)) {
        // Either still in flight (409) or already delivered (200 duplicate).
        assert!(
            duplicate_delivered(a) || (a.status == 409 && a.text() == r#"{"error":"duplicate"}"#),
            "{a:?}"
        );
    }
    assert_eq!(up.count(), 1);
}

#[tokio::test]
async fn upstream_failure_on_one_replica_lets_the_retry_through_on_the_other() {
    let redis = Redis::start();
    let up = Upstream::start().await;
    let (a, b) = replicas(&redis, &up, "reject").await;
    let event = Event::new("msg_retry_1");

    up.set(Behavior {
        status: 500,
        ..Behavior::default()
    });
    assert_eq!(event.send(&a).await.status, 500);
    up.set(Behavior::default());
    assert!(forwarded(&event.send(&b).await));
    assert!(duplicate_delivered(&event.send(&a).await));
    assert_eq!(up.count(), 2);
}

#[tokio::test]
async fn redis_down_rejects_with_503_and_dedup_recovers_after_restart() {
    let mut redis = Redis::start();
    let up = Upstream::start().await;
    let (a, b) = replicas(&redis, &up, "reject").await;
    assert!(forwarded(&Event::new("msg_before").send(&a).await));

    redis.stop();
    let answer = Event::new("msg_during").send(&a).await;
    assert_rejected(&answer, 503, "replay_store_unavailable");
    assert_eq!(answer.headers["retry-after"], "5");
    assert_rejected(
        &Event::new("msg_during").send(&b).await,
        503,
        "replay_store_unavailable",
    );
    assert!(!a.app().replay().check().await);
    let before = up.count();
    assert_eq!(before, 1, "nothing is forwarded while the store is down");

    // Same port, empty Redis (no persistence): hookguard reconnects by itself.
    redis.restart();
    wait_until_recovered(&a, "a").await;
    wait_until_recovered(&b, "b").await;
    assert!(a.app().replay().check().await);

    let event = Event::new("msg_after");
    assert!(forwarded(&event.send(&b).await));
    assert!(duplicate_delivered(&event.send(&a).await));
    assert!(duplicate_delivered(&event.send(&b).await));
    // The 503'd event goes through on the provider's retry, exactly once.
    let during = Event::new("msg_during");
    assert!(forwarded(&during.send(&a).await));
    assert!(duplicate_delivered(&during.send(&b).await));
}

#[tokio::test]
async fn redis_down_under_allow_forwards_without_dedup_and_counts() {
    let mut redis = Redis::start();
    let up = Upstream::start().await;
    let (a, b) = replicas(&redis, &up, "allow").await;
    redis.stop();

    let event = Event::new("msg_allow_1");
    assert!(forwarded(&event.send(&a).await));
    assert!(forwarded(&event.send(&b).await));
    assert!(forwarded(&event.send(&a).await));
    assert_eq!(up.count(), 3, "no de-duplication without the store");
    assert_eq!(a.app().replay().store_errors_allowed(), 2);
    assert_eq!(b.app().replay().store_errors_allowed(), 1);

    redis.restart();
    eventually("replica a to reconnect", PATIENCE, || async {
        a.app().replay().check().await
    })
    .await;
    let event = Event::new("msg_allow_2");
    assert!(forwarded(&event.send(&a).await));
    let again = event.send(&b).await;
    // b may still be reconnecting (then it forwards and counts); once both
    // are back, de-duplication holds again.
    if !duplicate_delivered(&again) {
        assert!(forwarded(&again));
        assert_eq!(b.app().replay().store_errors_allowed(), 2);
    }
    assert!(duplicate_delivered(&event.send(&a).await));
}

#[tokio::test]
async fn a_dead_replicas_claim_expires_after_its_lease() {
    let redis = Redis::start();
    let up = Upstream::start().await;
    let (a, b) = replicas(&redis, &up, "reject").await;

    // A "replica" that claims the event and dies before settling it.
    let lease = Duration::from_millis(300);
    let dead = RedisStore::new(&redis.url(), Duration::from_secs(60), lease).unwrap();
    let Claim::Acquired(stale) = dead.claim(key_of("msg_dead_1")).await.unwrap() else {
        panic!("fresh key must be acquired");
    };

    let event = Event::new("msg_dead_1");
    assert_rejected(&event.send(&a).await, 409, "duplicate");
    eventually("the dead replica's claim to expire", PATIENCE, || async {
        let answer = event.send(&b).await;
        if forwarded(&answer) {
            return Ok(());
        }
        assert_rejected(&answer, 409, "duplicate");
        Err(answer.text())
    })
    .await;
    assert_eq!(up.count(), 1);

    // The slow owner comes back: its token no longer owns the key, so it
    // can neither release nor overwrite the live replica's delivered state.
    assert!(!dead
        .settle(key_of("msg_dead_1"), stale, false)
        .await
        .unwrap());
    assert!(duplicate_delivered(&event.send(&a).await));
}

#[tokio::test]
async fn in_flight_claims_carry_a_lease_just_over_the_upstream_timeout() {
    let redis = Redis::start();
    let up = Upstream::start().await;
    up.set(Behavior {
        delay: Duration::from_millis(1500),
        ..Behavior::default()
    });
    let (a, _b) = replicas(&redis, &up, "reject").await;
    let event = std::sync::Arc::new(Event::new("msg_lease_1"));
    let in_flight = {
        let event = event.clone();
        tokio::spawn(async move { event.send(&a).await })
    };

    let key = format!("hookguard:{}", key_of("msg_lease_1").to_hex());
    let mut conn = redis.client().get_connection().unwrap();
    let pttl: i64 = eventually("the claim in Redis", PATIENCE, || {
        let pttl: i64 = redis::cmd("PTTL").arg(&key).query(&mut conn).unwrap();
        std::future::ready((pttl > 0).then_some(pttl).ok_or(format!("PTTL {pttl}")))
    })
    .await;
    let value: String = redis::cmd("GET").arg(&key).query(&mut conn).unwrap();
    assert_eq!(value.len(), 32, "an owner token, not the delivered marker");
    // Upstream timeout 3 s + 5 s margin: longer than any live request.
    assert!(pttl > 3_000 && pttl <= 8_000, "pttl {pttl}");
    assert!(forwarded(&in_flight.await.unwrap()));
}

#[tokio::test]
async fn a_hung_redis_costs_a_bounded_wait_then_503() {
    let redis = Redis::start();
    let up = Upstream::start().await;
    let (a, _b) = replicas(&redis, &up, "reject").await;
    assert!(forwarded(&Event::new("msg_hang_0").send(&a).await));

    // SIGSTOP: the socket stays open but nothing answers.
    redis.signal("-STOP");
    let answer = tokio::time::timeout(PATIENCE, Event::new("msg_hang_1").send(&a))
        .await
        .expect("a hung Redis must not hang the request");
    assert_rejected(&answer, 503, "replay_store_unavailable");
    assert_eq!(up.count(), 1);

    redis.signal("-CONT");
    wait_until_recovered(&a, "hang").await;
    // The claim sent while Redis hung landed late; the replica undoes it, so
    // the provider's retry gets through well before the 8 s lease would end.
    let event = Event::new("msg_hang_1");
    let well_before_the_lease = Duration::from_secs(4);
    eventually(
        "the late claim's release",
        well_before_the_lease,
        || async {
            let answer = event.send(&a).await;
            if forwarded(&answer) {
                return Ok(());
            }
            assert_rejected(&answer, 409, "duplicate");
            Err(answer.text())
        },
    )
    .await;
    assert!(duplicate_delivered(&event.send(&a).await));
    assert_eq!(deliveries_of(&up, "msg_hang_1"), 1);
}

#[tokio::test]
async fn rediss_uses_tls_with_rustls() {
    // A private CA-less certificate for 127.0.0.1, trusted through
    // SSL_CERT_FILE (read by rustls-native-certs). Only this test in this
    // binary connects over TLS, so the variable affects nothing else.
    let tmp = common::temp_dir("rediss");
    let dir = tmp.path();
    let certified = rcgen::generate_simple_self_signed(vec!["127.0.0.1".into()]).unwrap();
    let (cert, key) = (dir.join("redis.crt"), dir.join("redis.key"));
    std::fs::write(&cert, certified.cert.pem()).unwrap();
    std::fs::write(&key, certified.key_pair.serialize_pem()).unwrap();
    #[allow(
        clippy::disallowed_methods,
        reason = "the redis client trusts a CA only through SSL_CERT_FILE; see above"
    )]
    std::env::set_var("SSL_CERT_FILE", &cert);

    let tls_port = free_port();
    let path = |p: &std::path::Path| p.to_str().unwrap().to_owned();
    let redis = Redis::start_with(vec![
        "--tls-port".into(),
        tls_port.to_string(),
        "--tls-cert-file".into(),
        path(&cert),
        "--tls-key-file".into(),
        path(&key),
        "--tls-ca-cert-file".into(),
        path(&cert),
        "--tls-auth-clients".into(),
        "no".into(),
    ]);
    eventually_blocking("the redis TLS port to accept connections", PATIENCE, || {
        std::net::TcpStream::connect(("127.0.0.1", tls_port))
    });

    let up = Upstream::start().await;
    let toml = config_for(&format!("rediss://127.0.0.1:{tls_port}/0"), "reject");
    let (a, b) = (proxy(&toml, &up).await, proxy(&toml, &up).await);
    let event = Event::new("msg_tls_1");
    let first = event.send(&a).await;
    assert!(forwarded(&first), "{first:?}");
    assert!(duplicate_delivered(&event.send(&b).await));
    assert_eq!(up.count(), 1);
    // The key landed in the plain-port view of the same server.
    let mut conn = redis.client().get_connection().unwrap();
    let value: String = redis::cmd("GET")
        .arg(format!("hookguard:{}", key_of("msg_tls_1").to_hex()))
        .query(&mut conn)
        .unwrap();
    assert_eq!(value, "d");
    drop(redis);
}

#[tokio::test]
async fn the_url_can_come_from_the_environment() {
    // Kubernetes: the URL (with its password) comes from a Secret, not the file.
    let redis = Redis::start();
    let up = Upstream::start().await;
    let toml = config_for("env:HOOKGUARD_REDIS_URL", "reject");
    let env = std::collections::HashMap::from([("HOOKGUARD_REDIS_URL".to_owned(), redis.url())]);
    let (a, b) = (
        proxy_with_env(&toml, &up, &env).await,
        proxy_with_env(&toml, &up, &env).await,
    );
    let event = Event::new("msg_env_1");
    assert!(forwarded(&event.send(&a).await));
    assert!(duplicate_delivered(&event.send(&b).await));
    assert_eq!(up.count(), 1);
    // The URL is held as a secret: Debug never shows it.
    assert!(!format!("{:?}", a.app().config().replay).contains("redis://"));
}

#[tokio::test]
async fn readiness_follows_the_store_under_reject() {
    let mut redis = Redis::start();
    let up = Upstream::start().await;
    let toml = format!(
        "{}\n[admin]\nlisten = \"127.0.0.1:0\"\n",
        config(&redis, "reject")
    );
    let p = proxy(&toml, &up).await;
    assert_eq!(readyz(&p).await, (200, "ready\n".into()));

    // Readiness follows the background PING (every second): wait for it.
    redis.stop();
    wait_for_readyz(&p, (503, "replay store unavailable\n")).await;
    redis.restart();
    wait_for_readyz(&p, (200, "ready\n")).await;
}
