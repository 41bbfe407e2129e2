//! The spool's writer thread: every write to the database goes through it,
//! batched into one transaction per turn (group commit), and the in-memory
//! index is updated only after that commit succeeds.
//!
//! Owns the write operations ([`Op`]), how soon each must be durable
//! ([`Sync`]) and the transaction code. Does not own the public API, the
//! index or the schedule (`store.rs`, `sched.rs`).

use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use redb::{Database, Durability, ReadableTable};
use tokio::sync::oneshot;

use super::store::{Index, Meta, NewRecord, SpoolError, BODY, META, NEXT_ID, SEQ};

/// Most operations committed in one transaction.
const MAX_BATCH: usize = 512;
/// Longest a lazily synced commit (`Sync::Lazy`) waits for a durable one.
pub(crate) const LAZY_SYNC: Duration = Duration::from_secs(1);

/// How soon a write must be on disk when its caller hears back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Sync {
    /// Committed with an fsync before the caller hears back: appends (the
    /// provider is told "queued") and operator actions (retry, purge).
    Now,
    /// Delivery outcomes. Committed with `Durability::None` unless the
    /// batch holds a `Now` write or the last durable commit is older than
    /// [`LAZY_SYNC`]; the next durable commit persists them, and the writer
    /// makes one at most [`LAZY_SYNC`] after the first such commit.
    ///
    /// Why that is safe: redb keeps a non-durable commit out of the on-disk
    /// header and reuses no page the last durable commit needs, so a crash
    /// (even `kill -9` mid-write) reopens exactly at the last durable
    /// commit, with every acknowledged append in it. What a crash can undo
    /// is at most [`LAZY_SYNC`] of delivery outcomes: a delivered record
    /// comes back pending and is delivered again, and a failed attempt is
    /// made again — both allowed by at-least-once delivery, the promise
    /// queue mode makes. Appends never take this path.
    Lazy,
}

pub(super) enum Op {
    Append(Box<NewRecord>, oneshot::Sender<Result<u64, SpoolError>>),
    Put(
        u64,
        Box<Meta>,
        Sync,
        oneshot::Sender<Result<(), SpoolError>>,
    ),
    Delete(u64, Sync, oneshot::Sender<Result<(), SpoolError>>),
    /// Nothing to write: make everything committed so far durable.
    Flush(oneshot::Sender<Result<(), SpoolError>>),
}

impl Op {
    fn sync(&self) -> Sync {
        match self {
            Op::Append(..) | Op::Flush(_) => Sync::Now,
            Op::Put(_, _, sync, _) | Op::Delete(_, sync, _) => *sync,
        }
    }
}

/// The writer thread: batches queued operations into one commit (fsynced
/// unless every operation in it is [`Sync::Lazy`]), then updates the index
/// and answers every caller with the outcome. Makes a durable commit at
/// most [`LAZY_SYNC`] after a non-durable one, and one before it exits.
pub(super) fn writer_loop(db: &Database, index: &Mutex<Index>, rx: &mpsc::Receiver<Op>) {
    // When the first commit not yet made durable was made.
    let mut unsynced_since: Option<Instant> = None;
    loop {
        let received = match unsynced_since {
            None => rx.recv().map_err(|_| RecvTimeoutError::Disconnected),
            Some(since) => rx.recv_timeout(LAZY_SYNC.saturating_sub(since.elapsed())),
        };
        let first = match received {
            Ok(op) => op,
            Err(RecvTimeoutError::Timeout) => Op::Flush(oneshot::channel().0),
            Err(RecvTimeoutError::Disconnected) => {
                if unsynced_since.is_some() {
                    let _ = commit(db, &mut [], true);
                }
                return;
            }
        };
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(op) => batch.push(op),
                Err(_) => break,
            }
        }
        let durable = batch.iter().any(|op| op.sync() == Sync::Now)
            || unsynced_since.is_some_and(|since| since.elapsed() >= LAZY_SYNC);
        match commit(db, &mut batch, durable) {
            Ok(ids) => {
                if durable {
                    unsynced_since = None;
                } else {
                    unsynced_since.get_or_insert_with(Instant::now);
                }
                let mut index = index.lock().unwrap_or_else(|e| e.into_inner());
                for (op, id) in batch.into_iter().zip(ids) {
                    apply(&mut index, op, id);
                }
            }
            Err(e) => {
                for op in batch {
                    let err = || SpoolError::Storage(e.clone());
                    match op {
                        Op::Append(_, tx) => drop(tx.send(Err(err()))),
                        Op::Put(.., tx) | Op::Delete(.., tx) | Op::Flush(tx) => {
                            drop(tx.send(Err(err())));
                        }
                    }
                }
            }
        }
    }
}

/// Writes a batch in one transaction, fsynced if `durable`; returns the id
/// of each operation.
fn commit(db: &Database, batch: &mut [Op], durable: bool) -> Result<Vec<u64>, String> {
    let s = |e: &dyn std::fmt::Display| e.to_string();
    let mut txn = db.begin_write().map_err(|e| s(&e))?;
    txn.set_durability(if durable {
        Durability::Immediate
    } else {
        Durability::None
    });
    let mut ids = Vec::with_capacity(batch.len());
    {
        let mut meta_t = txn.open_table(META).map_err(|e| s(&e))?;
        let mut body_t = txn.open_table(BODY).map_err(|e| s(&e))?;
        let mut next: Option<u64> = None;
        for op in batch.iter_mut() {
            let id = match op {
                Op::Append(rec, _) => {
                    let id = match next {
                        Some(id) => id,
                        None => {
                            let seq_t = txn.open_table(SEQ).map_err(|e| s(&e))?;
                            let stored = seq_t.get(NEXT_ID).map_err(|e| s(&e))?;
                            stored.map_or(1, |v| v.value())
                        }
                    };
                    next = Some(id + 1);
                    if rec.meta.event_id.is_empty() {
                        rec.meta.event_id = format!("hg_{id}");
                    }
                    let json = serde_json::to_vec(&rec.meta).map_err(|e| s(&e))?;
                    meta_t.insert(id, json.as_slice()).map_err(|e| s(&e))?;
                    body_t.insert(id, &rec.body[..]).map_err(|e| s(&e))?;
                    id
                }
                Op::Put(id, meta, ..) => {
                    // Only update what still exists (it may have been purged).
                    if meta_t.get(*id).map_err(|e| s(&e))?.is_some() {
                        let json = serde_json::to_vec(meta).map_err(|e| s(&e))?;
                        meta_t.insert(*id, json.as_slice()).map_err(|e| s(&e))?;
                    }
                    *id
                }
                Op::Delete(id, ..) => {
                    meta_t.remove(*id).map_err(|e| s(&e))?;
                    body_t.remove(*id).map_err(|e| s(&e))?;
                    *id
                }
                Op::Flush(_) => 0,
            };
            ids.push(id);
        }
        if let Some(next) = next {
            let mut seq_t = txn.open_table(SEQ).map_err(|e| s(&e))?;
            seq_t.insert(NEXT_ID, next).map_err(|e| s(&e))?;
        }
    }
    txn.commit().map_err(|e| s(&e))?;
    Ok(ids)
}

fn apply(index: &mut Index, op: Op, id: u64) {
    match op {
        Op::Append(rec, tx) => {
            let NewRecord { meta, body } = *rec;
            index.put(id, meta, Some(body));
            let _ = tx.send(Ok(id));
        }
        Op::Put(_, meta, _, tx) => {
            // Only what still exists (it may have been purged meanwhile).
            if index.records.contains_key(&id) {
                index.put(id, *meta, None);
            }
            let _ = tx.send(Ok(()));
        }
        Op::Delete(_, _, tx) => {
            index.delete(id);
            let _ = tx.send(Ok(()));
        }
        Op::Flush(tx) => {
            let _ = tx.send(Ok(()));
        }
    }
}
