//! Queue mode (`delivery = "queue"`): verified requests are stored durably,
//! acknowledged with 202, and delivered in the background with retries.
//!
//! - [`store`]: the on-disk spool (redb), its API and in-memory index.
//! - `writer`: the writer thread: group commit, durability per operation.
//! - [`ops`]: `hookguard spool ls|retry|purge` on a stopped proxy's spool.
//! - [`sched`]: which pending records are due, per route, in O(log n).
//! - [`worker`]: the scheduler and delivery attempts, backoff, dead-lettering.

pub mod ops;
pub mod sched;
pub mod store;
pub mod worker;
mod writer;

pub use sched::RouteStats;
pub use store::{Meta, NewRecord, Spool, SpoolError, SpoolStats, State};
