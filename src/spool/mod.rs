//! Queue mode (`delivery = "queue"`): verified requests are stored durably,
//! acknowledged with 202, and delivered in the background with retries.
//!
//! - [`store`]: the on-disk spool (redb), its API and in-memory index.
//! - `writer`: the writer thread: group commit, durability per operation.
//! - [`ops`]: `hookguard spool ls|retry|purge` on a stopped proxy's spool.
//! - [`sched`]: which pending records are due, per route, in O(log n).
//! - [`worker`]: the scheduler and delivery attempts, backoff, dead-lettering.

pub mod ops;
pub(crate) mod sched;
pub(crate) mod store;
pub(crate) mod worker;
mod writer;

pub(crate) use store::{Meta, NewRecord, Spool, SpoolError, State};

/// The spool's gauges for `hookguard_spool_*` (read at scrape time).
impl crate::metrics::SpoolGauges for Spool {
    fn route_gauges(&self) -> Vec<crate::metrics::RouteGauges> {
        self.route_stats()
            .into_iter()
            .map(|(route, stats)| crate::metrics::RouteGauges {
                route,
                pending: stats.pending,
                dead: stats.dead,
                oldest_received_ms: stats.oldest_received_ms,
            })
            .collect()
    }

    fn used_bytes(&self) -> u64 {
        Spool::used_bytes(self)
    }
}
