//! Queue mode (`delivery = "queue"`): verified requests are stored durably,
//! acknowledged with 202, and delivered in the background with retries.
//!
//! - [`store`]: the on-disk spool (redb), group commit, dead letters.
//! - [`ops`]: `hookguard spool ls|retry|purge` on a stopped proxy's spool.
//! - [`worker`]: the scheduler and delivery attempts, backoff, dead-lettering.

pub mod ops;
pub mod store;
pub mod worker;

pub use store::{Meta, NewRecord, Spool, SpoolError, SpoolStats, State};
