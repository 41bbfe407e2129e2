//! Unit tests of the spool store: persistence across reopen, ids, the size cap.

use super::*;

fn meta(route: &str) -> Meta {
    Meta {
        route: route.into(),
        method: "POST".into(),
        path_and_query: "/q?a=1".into(),
        headers: vec![("content-type".into(), b"application/json".to_vec())],
        provider: "github".into(),
        event_id: String::new(),
        secret_index: 0,
        replay_key: None,
        received_at_ms: unix_millis(),
        attempts: 0,
        next_attempt_ms: 0,
        last_status: None,
        last_error: None,
        state: State::Pending,
        body_len: 3,
    }
}

#[tokio::test]
async fn records_survive_reopen_and_ids_never_repeat() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("spool");
    let first = {
        let spool = Spool::open(&dir, 1 << 20).unwrap();
        let body = bytes::Bytes::from_static(b"\x00\xffz");
        let a = spool
            .append(NewRecord {
                meta: meta("/q"),
                body: body.clone(),
            })
            .await
            .unwrap();
        let b = spool
            .append(NewRecord {
                meta: meta("/q"),
                body,
            })
            .await
            .unwrap();
        spool.remove(b).await.unwrap();
        assert_eq!(spool.body(a).unwrap(), &b"\x00\xffz"[..]);
        a
    };
    // The writer thread exits once the spool is dropped; wait for the lock.
    let spool = reopen(&dir);
    let all = spool.snapshot();
    assert_eq!(all.len(), 1);
    assert_eq!(all[0].0, first);
    assert_eq!(all[0].1.event_id, format!("hg_{first}"));
    assert_eq!(spool.body(first).unwrap(), &b"\x00\xffz"[..]);
    let c = spool
        .append(NewRecord {
            meta: meta("/q"),
            body: bytes::Bytes::new(),
        })
        .await
        .unwrap();
    assert!(c > first + 1, "ids are never reused");
}

#[tokio::test]
async fn full_spool_refuses() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("spool");
    let spool = Spool::open(&dir, 300).unwrap();
    let err = spool
        .append(NewRecord {
            meta: meta("/q"),
            body: bytes::Bytes::from(vec![0u8; 100]),
        })
        .await
        .unwrap_err();
    assert!(matches!(err, SpoolError::Full { .. }), "{err}");
    assert_eq!(spool.pending_count(), 0);
}

#[tokio::test]
async fn schedule_follows_appends_updates_and_removes() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("spool");
    let spool = Spool::open(&dir, 1 << 20).unwrap();
    let mut ids = Vec::new();
    for _ in 0..3 {
        let record = NewRecord {
            meta: meta("/q"),
            body: bytes::Bytes::from_static(b"abc"),
        };
        ids.push(spool.append(record).await.unwrap());
    }
    let routes = [("/q", Policy::Concurrent(2)), ("/gone", Policy::Ordered)];
    let (due, next) = spool.claim_due(&routes, unix_millis());
    let claimed: Vec<u64> = due.iter().map(|c| c.id).collect();
    assert_eq!(claimed, ids[..2], "two at most, oldest first");
    assert!(due.iter().all(|c| c.route == 0 && c.meta.route == "/q"));
    assert_eq!(next, None, "at the limit: nothing to wait for");

    // First delivered, second failed for good, third retried later.
    spool
        .delivered(ids[0], "/q", std::time::Duration::ZERO)
        .await
        .unwrap();
    spool.release(ids[0], "/q"); // the worker's release after it: no effect
    assert_eq!(spool.pending_count(), 2);
    assert_eq!(
        spool.lock().cached,
        2 * 3,
        "pending records' bodies in memory"
    );
    let mut dead = Meta::clone(&due[1].meta);
    dead.state = State::Dead;
    spool.update(ids[1], dead).await.unwrap();
    spool.release(ids[1], "/q");
    assert_eq!(
        spool.lock().cached,
        3,
        "no body in memory for a dead letter"
    );
    assert_eq!(spool.body(ids[1]).unwrap(), &b"abc"[..], "read from disk");
    let (due, _) = spool.claim_due(&routes, unix_millis());
    assert_eq!(due.len(), 1);
    let mut later = Meta::clone(&due[0].meta);
    later.next_attempt_ms = unix_millis() + 60_000;
    spool.update(ids[2], later.clone()).await.unwrap();
    spool.release(ids[2], "/q");
    let (due, next) = spool.claim_due(&routes, unix_millis());
    assert!(due.is_empty());
    assert_eq!(next, Some(later.next_attempt_ms));

    let stats = spool.stats();
    assert_eq!((stats.pending, stats.dead), (1, 1));
    assert_eq!(spool.list_dead()[0].0, ids[1]);
    assert_eq!(
        spool.route_stats(),
        vec![(
            "/q".to_owned(),
            RouteStats {
                pending: 1,
                dead: 1,
                oldest_received_ms: Some(later.received_at_ms),
            }
        )]
    );
    assert_eq!(spool.purge().await.unwrap(), 1);
    assert_eq!(spool.dead_count(), 0);
}

/// Opens the spool in `dir`, waiting for a dropped one's writer to let go.
fn reopen(dir: &std::path::Path) -> Arc<Spool> {
    let mut tries = 0;
    loop {
        match Spool::open(dir, 1 << 20) {
            Ok(s) => return s,
            Err(e) if tries > 250 => panic!("reopen: {e}"),
            #[allow(
                clippy::disallowed_methods,
                reason = "waits for the dropped spool's writer thread, not for a task"
            )]
            Err(_) => std::thread::sleep(std::time::Duration::from_millis(20)),
        }
        tries += 1;
    }
}

#[tokio::test]
async fn lazy_delivery_outcomes_reach_the_disk() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("spool");
    let (delivered, failed) = {
        let spool = Spool::open(&dir, 1 << 20).unwrap();
        let mut ids = Vec::new();
        for _ in 0..2 {
            let record = NewRecord {
                meta: meta("/q"),
                body: bytes::Bytes::from_static(b"abc"),
            };
            ids.push(spool.append(record).await.unwrap());
        }
        let (due, _) = spool.claim_due(&[("/q", Policy::Concurrent(8))], unix_millis());
        assert_eq!(due.len(), 2);
        spool
            .delivered(ids[0], "/q", std::time::Duration::ZERO)
            .await
            .unwrap();
        let mut failed = Meta::clone(&due[1].meta);
        failed.attempts = 1;
        failed.last_status = Some(503);
        spool.record_attempt(ids[1], failed.clone()).await.unwrap();
        // Committed without an fsync so far; made durable within LAZY_SYNC
        // (here: when the spool is dropped and its writer stops).
        (ids[0], (ids[1], failed))
    };
    let spool = reopen(&dir);
    let all = spool.snapshot();
    assert!(
        all.iter().all(|(id, _)| *id != delivered),
        "delete persisted"
    );
    assert_eq!(all, vec![failed], "attempt persisted");
}
