//! The durable spool: queue-mode requests on disk, in a `redb` database.
//!
//! Layout: table `meta` (id → JSON [`Meta`], small, rewritten per attempt),
//! table `body` (id → exact body bytes, written once) and table `seq` (the
//! next id, so ids and printable event ids never repeat across restarts).
//!
//! Every write goes through one writer thread that batches whatever is
//! queued into a single write transaction committed with
//! `Durability::Immediate` (fsync) — group commit. [`Spool::append`] returns
//! only after that commit, so a request is acknowledged only once it is on
//! disk. redb's pages are checksummed and its commit is atomic, so a crash
//! mid-commit leaves the previous commit intact: a torn append is dropped,
//! and it was never acknowledged.
//!
//! Delivery outcomes (a delivered record's delete, a failed attempt's new
//! retry time or dead-letter state) are the exception: a batch made only of
//! those is committed without an fsync, and reaches the disk with the next
//! durable commit, at most [`LAZY_SYNC`](super::writer::LAZY_SYNC) later (see `writer.rs`).
//!
//! An in-memory index of every record's [`Meta`], with the delivery
//! `Schedule` over it, is the scheduler's view; it is loaded at open,
//! which is crash recovery. Bodies stay on disk, except that the bodies of
//! pending records appended by this process are also kept in memory up to
//! [`BODY_CACHE`] bytes, so a delivery seldom reads the disk.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex, MutexGuard};

use bytes::Bytes;
use redb::{Database, ReadableTable, TableDefinition};
use serde::{Deserialize, Serialize};
use tokio::sync::{oneshot, Notify};

use super::sched::{Policy, RouteStats, Schedule};
use super::writer::{writer_loop, Op, Sync};
use crate::clock::unix_millis;

pub(super) const META: TableDefinition<u64, &[u8]> = TableDefinition::new("meta");
pub(super) const BODY: TableDefinition<u64, &[u8]> = TableDefinition::new("body");
pub(super) const SEQ: TableDefinition<&str, u64> = TableDefinition::new("seq");
pub(super) const NEXT_ID: &str = "next_id";
/// Bytes of pending records' bodies kept in memory (beyond it: read from disk).
pub(crate) const BODY_CACHE: u64 = 8 << 20;
/// redb's page cache. Its default (1 GiB) keeps every page written in
/// memory up to that size, so RSS grew with the webhooks spooled; records
/// are written once, read once (bodies mostly from [`BODY_CACHE`]) and
/// deleted, so a small cache holding the B-trees' inner pages is enough.
const REDB_CACHE: usize = 16 << 20;

/// Why the spool refused or failed an operation.
#[derive(Debug, thiserror::Error)]
pub enum SpoolError {
    /// Accepting the request would exceed `[spool] max_size`.
    #[error("spool full ({used} of {max} bytes used)")]
    Full {
        /// Bytes in use.
        used: u64,
        /// The cap.
        max: u64,
    },
    /// The database could not be opened, read or written.
    #[error("spool storage: {0}")]
    Storage(String),
    /// No record with this id.
    #[error("no spooled record {0}")]
    NotFound(u64),
}

fn storage(e: impl std::fmt::Display) -> SpoolError {
    SpoolError::Storage(e.to_string())
}

/// Whether a record still waits for delivery or has been given up on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum State {
    /// Waiting for (another) delivery attempt.
    Pending,
    /// Dead letter: permanent failure or retries exhausted.
    Dead,
}

/// Everything about a spooled request except its body.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Meta {
    /// The route (its exact path) that accepted the request.
    pub route: String,
    /// Request method.
    pub method: String,
    /// Request path and query as received (the upstream URI is built from
    /// it at delivery time, like forward mode does).
    pub path_and_query: String,
    /// Headers exactly as forward mode would send them upstream (already
    /// prepared: hop-by-hop removed, `X-Forwarded-*`, `X-Hookguard-*` set).
    pub headers: Vec<(String, Vec<u8>)>,
    /// Provider that verified the request.
    pub provider: String,
    /// The event id sent as `X-Hookguard-Event-Id` (the scheme's, else ours).
    pub event_id: String,
    /// Index of the secret that verified the signature.
    pub secret_index: usize,
    /// De-duplication key (hex), if the scheme gave one.
    pub replay_key: Option<String>,
    /// When the proxy accepted it, Unix milliseconds.
    pub received_at_ms: i64,
    /// Delivery attempts made so far.
    pub attempts: u32,
    /// Earliest time of the next attempt, Unix milliseconds.
    pub next_attempt_ms: i64,
    /// Status of the last attempt, if the upstream answered.
    pub last_status: Option<u16>,
    /// Error of the last attempt, if any.
    pub last_error: Option<String>,
    /// Pending or dead.
    pub state: State,
    /// Body length in bytes (the body itself stays on disk); set by append.
    pub body_len: u64,
}

impl Meta {
    /// Bytes this record counts against `[spool] max_size`.
    fn footprint(&self) -> u64 {
        let headers: usize = self
            .headers
            .iter()
            .map(|(n, v)| n.len() + v.len() + 4)
            .sum();
        self.body_len + (headers + self.path_and_query.len() + 256) as u64
    }
}

/// A request to append: its metadata (the id is assigned by the spool).
#[derive(Debug)]
pub(crate) struct NewRecord {
    /// Metadata; `event_id` may be empty (then `hg_<id>` is assigned).
    pub meta: Meta,
    /// Exact body bytes.
    pub body: bytes::Bytes,
}

/// One record in memory.
pub(super) struct Entry {
    /// Its metadata, shared with a delivery in flight (no copy per attempt).
    meta: Arc<Meta>,
    /// Its body, while pending and within [`BODY_CACHE`]; else on disk only.
    body: Option<Bytes>,
}

/// Every record's metadata in memory, with the schedule over it.
#[derive(Default)]
pub(super) struct Index {
    pub(super) records: BTreeMap<u64, Entry>,
    /// Pending records by route and due time, claims, dead letters.
    sched: Schedule,
    /// Bytes of the records on disk.
    used: u64,
    /// Bytes of appends in flight (admitted, not yet committed).
    reserved: u64,
    /// Bytes of bodies held in [`Entry::body`].
    cached: u64,
}

// === impl Index ===

impl Index {
    /// Adds record `id`, or replaces its metadata (a replaced record keeps
    /// its cached body while pending); keeps schedule and sizes in step.
    pub(super) fn put(&mut self, id: u64, meta: Meta, body: Option<Bytes>) {
        let kept = self.delete(id);
        let body = if meta.state == State::Pending {
            body.or(kept)
                .filter(|b| self.cached + b.len() as u64 <= BODY_CACHE)
        } else {
            None // dead letters wait for an operator: no memory for them
        };
        self.cached += body.as_ref().map_or(0, |b| b.len() as u64);
        self.used += meta.footprint();
        self.sched.insert(id, &meta);
        let meta = Arc::new(meta);
        self.records.insert(id, Entry { meta, body });
    }

    /// Removes record `id`, if present; returns its cached body, if any.
    pub(super) fn delete(&mut self, id: u64) -> Option<Bytes> {
        let old = self.records.remove(&id)?;
        self.sched.remove(id, &old.meta);
        self.used = self.used.saturating_sub(old.meta.footprint());
        let body = old.body?;
        self.cached = self.cached.saturating_sub(body.len() as u64);
        Some(body)
    }
}

/// A record handed out for delivery by [`Spool::claim_due`].
#[derive(Debug)]
pub(crate) struct Claimed {
    /// Position of its route in the list given to `claim_due`.
    pub(crate) route: usize,
    /// Its id.
    pub(crate) id: u64,
    /// Its metadata (shared with the index: not copied).
    pub(crate) meta: Arc<Meta>,
}

/// A point-in-time view of the spool for metrics (`/metrics`, admin API).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SpoolStats {
    /// Records waiting for delivery (queue depth).
    pub pending: u64,
    /// Dead letters held.
    pub dead: u64,
    /// Age of the oldest pending record, milliseconds.
    pub oldest_pending_age_ms: Option<u64>,
    /// Bytes counted against `[spool] max_size`.
    pub used_bytes: u64,
    /// Delivery attempts made since start (counter).
    pub attempts_total: u64,
    /// Records delivered (2xx) since start (counter).
    pub delivered_total: u64,
    /// Records dead-lettered since start (counter).
    pub dead_lettered_total: u64,
    /// Sum over delivered records of accept → 2xx time, ms (counter; divide
    /// by `delivered_total` for the mean delivery latency).
    pub delivery_latency_ms_sum: u64,
}

/// Counters the worker bumps; read through [`Spool::stats`].
#[derive(Debug, Default)]
pub(crate) struct Counters {
    pub(crate) attempts: AtomicU64,
    pub(crate) delivered: AtomicU64,
    pub(crate) dead_lettered: AtomicU64,
    pub(crate) latency_ms_sum: AtomicU64,
}

/// The spool: a durable queue of verified requests awaiting delivery.
pub struct Spool {
    dir: PathBuf,
    max_size: u64,
    db: Arc<Database>,
    index: Arc<Mutex<Index>>,
    writer: mpsc::Sender<Op>,
    /// Signalled after every append and every retry request.
    pub(crate) wake: Notify,
    pub(crate) counters: Counters,
}

impl std::fmt::Debug for Spool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Spool").field("dir", &self.dir).finish()
    }
}

// === impl Spool ===

impl Spool {
    /// Opens (creating if needed) the spool in `dir`, loading every record
    /// left by a previous run. Must be called inside a Tokio runtime.
    pub(crate) fn open(dir: &Path, max_size: u64) -> Result<Arc<Self>, SpoolError> {
        std::fs::create_dir_all(dir).map_err(storage)?;
        let db = redb::Builder::new()
            .set_cache_size(REDB_CACHE)
            .create(dir.join("spool.redb"))
            .map_err(storage)?;
        let mut index = Index::default();
        let txn = db.begin_write().map_err(storage)?;
        {
            // Creating the tables here lets readers assume they exist.
            txn.open_table(BODY).map_err(storage)?;
            txn.open_table(SEQ).map_err(storage)?;
            let meta = txn.open_table(META).map_err(storage)?;
            for row in meta.iter().map_err(storage)? {
                let (id, bytes) = row.map_err(storage)?;
                let meta: Meta = serde_json::from_slice(bytes.value()).map_err(storage)?;
                index.put(id.value(), meta, None);
            }
        }
        txn.commit().map_err(storage)?;
        let db = Arc::new(db);
        let index = Arc::new(Mutex::new(index));
        let (writer, rx) = mpsc::channel();
        {
            let db = Arc::clone(&db);
            let index = Arc::clone(&index);
            std::thread::Builder::new()
                .name("hookguard-spool".into())
                .spawn(move || writer_loop(&db, &index, &rx))
                .map_err(storage)?;
        }
        Ok(Arc::new(Self {
            dir: dir.to_path_buf(),
            max_size,
            db,
            index,
            writer,
            wake: Notify::new(),
            counters: Counters::default(),
        }))
    }

    /// The directory it was opened in (`[spool] dir`).
    pub(crate) fn dir(&self) -> &Path {
        &self.dir
    }

    /// The bound it was opened with (`[spool] max_size`), bytes.
    pub(crate) fn max_size(&self) -> u64 {
        self.max_size
    }

    /// Stores `record` durably (fsynced) and returns its id. Refuses when
    /// the spool is full or the write fails: then nothing was stored.
    pub(crate) async fn append(&self, mut record: NewRecord) -> Result<u64, SpoolError> {
        record.meta.body_len = record.body.len() as u64;
        // Reserve the room first, so concurrent appends cannot overshoot.
        let need = record.meta.footprint();
        {
            let mut index = self.lock();
            let used = index.used.saturating_add(index.reserved);
            if used.saturating_add(need) > self.max_size {
                return Err(SpoolError::Full {
                    used,
                    max: self.max_size,
                });
            }
            index.reserved += need;
        }
        let (tx, rx) = oneshot::channel();
        let result = match self.send(Op::Append(Box::new(record), tx)) {
            Ok(()) => rx.await.map_err(storage).and_then(|r| r),
            Err(e) => Err(e),
        };
        {
            let mut index = self.lock();
            index.reserved = index.reserved.saturating_sub(need);
        }
        let id = result?;
        self.wake.notify_one();
        Ok(id)
    }

    /// Replaces a record's metadata (state changes), durably.
    pub(crate) async fn update(&self, id: u64, meta: Meta) -> Result<(), SpoolError> {
        self.put(id, meta, Sync::Now).await
    }

    /// Records a delivery attempt's outcome (new retry time, or dead
    /// letter); on disk within [`LAZY_SYNC`] (see [`Sync::Lazy`]).
    pub(crate) async fn record_attempt(&self, id: u64, meta: Meta) -> Result<(), SpoolError> {
        self.put(id, meta, Sync::Lazy).await
    }

    /// Removes a record (purged), durably.
    pub(crate) async fn remove(&self, id: u64) -> Result<(), SpoolError> {
        self.delete(id, Sync::Now).await
    }

    /// Makes every write committed so far durable (at shutdown).
    pub(crate) async fn flush(&self) -> Result<(), SpoolError> {
        let (tx, rx) = oneshot::channel();
        self.send(Op::Flush(tx))?;
        rx.await.map_err(storage)?
    }

    async fn put(&self, id: u64, meta: Meta, sync: Sync) -> Result<(), SpoolError> {
        let (tx, rx) = oneshot::channel();
        self.send(Op::Put(id, Box::new(meta), sync, tx))?;
        rx.await.map_err(storage)?
    }

    async fn delete(&self, id: u64, sync: Sync) -> Result<(), SpoolError> {
        let (tx, rx) = oneshot::channel();
        self.send(Op::Delete(id, sync, tx))?;
        rx.await.map_err(storage)?
    }

    /// Removes a record the upstream has accepted. It leaves the schedule,
    /// and frees its route's delivery slot, at once: a delivery does not wait
    /// for the disk. The delete is then committed lazily ([`Sync::Lazy`]);
    /// if that fails the record is still on disk, so after `pause` it is
    /// scheduled again (delivered at least once) and the error returned.
    pub(crate) async fn delivered(
        &self,
        id: u64,
        route: &str,
        pause: std::time::Duration,
    ) -> Result<(), SpoolError> {
        {
            let mut index = self.lock();
            let Index { records, sched, .. } = &mut *index;
            if let Some(entry) = records.get(&id) {
                sched.remove(id, &entry.meta);
            }
            sched.release(id, route);
        }
        self.wake.notify_one();
        let result = self.delete(id, Sync::Lazy).await;
        if result.is_err() {
            tokio::time::sleep(pause).await;
            let mut index = self.lock();
            let Index { records, sched, .. } = &mut *index;
            if let Some(entry) = records.get(&id) {
                sched.remove(id, &entry.meta);
                sched.insert(id, &entry.meta);
            }
            drop(index);
            self.wake.notify_one();
        }
        result
    }

    /// The body of a record: from memory if cached, else read from disk.
    pub(crate) fn body(&self, id: u64) -> Result<Bytes, SpoolError> {
        let cached = self.lock().records.get(&id).and_then(|e| e.body.clone());
        if let Some(body) = cached {
            return Ok(body);
        }
        let txn = self.db.begin_read().map_err(storage)?;
        let table = txn.open_table(BODY).map_err(storage)?;
        let body = table.get(id).map_err(storage)?;
        body.map(|b| Bytes::copy_from_slice(b.value()))
            .ok_or(SpoolError::NotFound(id))
    }

    /// A snapshot of every record's id and metadata, in arrival order.
    pub fn snapshot(&self) -> Vec<(u64, Meta)> {
        let index = self.lock();
        index
            .records
            .iter()
            .map(|(id, e)| (*id, Meta::clone(&e.meta)))
            .collect()
    }

    /// Claims every record that is due at `now` on the given routes (path
    /// and policy), for delivery: each comes back with the position of its
    /// route in `routes`. A claimed record is not handed out again until
    /// [`Spool::release`]. Also returns the earliest future attempt time
    /// among the records left waiting. Records of routes not listed are
    /// left alone. O(routes + claimed · log n).
    pub(crate) fn claim_due(
        &self,
        routes: &[(&str, Policy)],
        now: i64,
    ) -> (Vec<Claimed>, Option<i64>) {
        let mut index = self.lock();
        let index = &mut *index;
        let mut next: Option<i64> = None;
        let mut due = Vec::new();
        let mut ids = Vec::new();
        for (pos, &(route, policy)) in routes.iter().enumerate() {
            ids.clear();
            if let Some(at) = index.sched.claim_due(route, policy, now, &mut ids) {
                next = Some(next.map_or(at, |n| n.min(at)));
            }
            for &id in &ids {
                match index.records.get(&id) {
                    Some(entry) => due.push(Claimed {
                        route: pos,
                        id,
                        meta: Arc::clone(&entry.meta),
                    }),
                    None => index.sched.release(id, route),
                }
            }
        }
        (due, next)
    }

    /// Ends the claim on record `id` of `route` once its attempt is over
    /// (outcome recorded or not): if still pending it can be claimed again.
    pub(crate) fn release(&self, id: u64, route: &str) {
        self.lock().sched.release(id, route);
    }

    /// Dead letters (metadata only), in arrival order.
    pub fn list_dead(&self) -> Vec<(u64, Meta)> {
        let index = self.lock();
        index
            .sched
            .dead_ids()
            .filter_map(|id| index.records.get(&id).map(|e| (id, Meta::clone(&e.meta))))
            .collect()
    }

    /// Puts dead letters back in the queue with a fresh attempt budget:
    /// one (`Some(id)`) or all (`None`). Returns how many were revived.
    pub(crate) async fn retry(&self, which: Option<u64>) -> Result<usize, SpoolError> {
        let dead: Vec<(u64, Meta)> = match which {
            Some(id) => {
                let index = self.lock();
                let entry = index.records.get(&id).ok_or(SpoolError::NotFound(id))?;
                if entry.meta.state == State::Dead {
                    vec![(id, Meta::clone(&entry.meta))]
                } else {
                    Vec::new()
                }
            }
            None => self.list_dead(),
        };
        let now = unix_millis();
        for (id, mut meta) in dead.iter().cloned() {
            meta.state = State::Pending;
            meta.attempts = 0;
            // The age budget restarts too, or an old letter dies at once.
            meta.received_at_ms = now;
            meta.next_attempt_ms = now;
            self.update(id, meta).await?;
        }
        self.wake.notify_one();
        Ok(dead.len())
    }

    /// Deletes every dead letter. Returns how many were deleted.
    pub(crate) async fn purge(&self) -> Result<usize, SpoolError> {
        let dead = self.list_dead();
        for (id, _) in &dead {
            self.remove(*id).await?;
        }
        Ok(dead.len())
    }

    /// Records waiting for delivery, in flight included (see [`Spool::stats`]).
    pub fn pending_count(&self) -> usize {
        usize::try_from(self.stats().pending).unwrap_or(usize::MAX)
    }

    /// Dead letters held (see [`Spool::stats`]).
    pub fn dead_count(&self) -> usize {
        usize::try_from(self.stats().dead).unwrap_or(usize::MAX)
    }

    /// Pending, dead and oldest pending record of every route that has (or
    /// had) records, in route order (metrics). O(routes).
    pub(crate) fn route_stats(&self) -> Vec<(String, RouteStats)> {
        let index = self.lock();
        let mut rows: Vec<(String, RouteStats)> = index
            .sched
            .route_stats()
            .map(|(route, s)| (route.to_owned(), s))
            .collect();
        rows.sort_by(|a, b| a.0.cmp(&b.0));
        rows
    }

    /// Depth, age, size and delivery counters in one snapshot (metrics).
    /// O(routes), not O(records).
    pub fn stats(&self) -> SpoolStats {
        let now = unix_millis();
        let mut stats = SpoolStats::default();
        {
            let index = self.lock();
            stats.used_bytes = index.used;
            let mut oldest: Option<i64> = None;
            for (_, route) in index.sched.route_stats() {
                stats.pending += route.pending;
                stats.dead += route.dead;
                if let Some(at) = route.oldest_received_ms {
                    oldest = Some(oldest.map_or(at, |o| o.min(at)));
                }
            }
            stats.oldest_pending_age_ms = oldest.map(|at| u64::try_from(now - at).unwrap_or(0));
        }
        let c = &self.counters;
        stats.attempts_total = c.attempts.load(Ordering::Relaxed);
        stats.delivered_total = c.delivered.load(Ordering::Relaxed);
        stats.dead_lettered_total = c.dead_lettered.load(Ordering::Relaxed);
        stats.delivery_latency_ms_sum = c.latency_ms_sum.load(Ordering::Relaxed);
        stats
    }

    /// Bytes counted against `[spool] max_size` (metrics).
    pub fn used_bytes(&self) -> u64 {
        self.lock().used
    }

    fn send(&self, op: Op) -> Result<(), SpoolError> {
        self.writer
            .send(op)
            .map_err(|_| SpoolError::Storage("spool writer stopped".into()))
    }

    fn lock(&self) -> MutexGuard<'_, Index> {
        // A poisoned lock means a panic mid-update of plain data: keep going.
        self.index.lock().unwrap_or_else(|e| e.into_inner())
    }
}

#[cfg(test)]
#[path = "store_tests.rs"]
mod tests;
