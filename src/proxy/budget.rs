//! Byte budgets for request bodies held in memory before they are verified
//! and sent on: one for the whole process (`[server] max_buffered`) and one
//! per connection (`max_buffered_per_connection`).
//!
//! A request's body is held against both from the moment its bytes are
//! known (its declared length up front, else frame by frame as they are
//! read) until the request is finished (forwarded or queued, or refused).
//! Without them, a sender with nothing but a fake signature could make the
//! proxy hold `max_body` for every stream of every connection until
//! `request_timeout`. Over either budget a new body gets 503 `overloaded`
//! instead of memory.
//!
//! Cost: two compare-and-swaps to take bytes, two subtractions to give them
//! back; a body with a declared length takes its bytes once.

use std::sync::atomic::{AtomicU64, Ordering};

/// A byte budget: a limit, and how much of it is held.
#[derive(Debug)]
pub struct Budget {
    limit: AtomicU64,
    held: AtomicU64,
}

impl Budget {
    /// An empty budget of `limit` bytes.
    pub fn new(limit: u64) -> Self {
        Self {
            limit: AtomicU64::new(limit),
            held: AtomicU64::new(0),
        }
    }

    /// Applies a new limit (on reload); bytes already held stay held.
    pub fn set_limit(&self, limit: u64) {
        self.limit.store(limit, Ordering::Relaxed);
    }

    /// Bytes held right now.
    pub fn held(&self) -> u64 {
        self.held.load(Ordering::Relaxed)
    }

    /// Takes `bytes` if they fit under the limit.
    fn take(&self, bytes: u64) -> bool {
        let limit = self.limit.load(Ordering::Relaxed);
        self.held
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |held| {
                held.checked_add(bytes).filter(|&total| total <= limit)
            })
            .is_ok()
    }

    fn give_back(&self, bytes: u64) {
        self.held.fetch_sub(bytes, Ordering::AcqRel);
    }
}

/// Which budget had no room.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exhausted {
    /// `[server] max_buffered`.
    Process,
    /// `[server] max_buffered_per_connection`.
    Connection,
}

/// The bytes one request's body holds against both budgets, given back when
/// it is dropped.
#[derive(Debug)]
pub struct Held<'a> {
    process: &'a Budget,
    connection: &'a Budget,
    bytes: u64,
}

impl<'a> Held<'a> {
    /// Nothing held yet.
    pub fn new(process: &'a Budget, connection: &'a Budget) -> Self {
        Self {
            process,
            connection,
            bytes: 0,
        }
    }

    /// Makes sure `total` bytes are held, taking what is missing from both
    /// budgets (nothing when they are held already).
    pub fn cover(&mut self, total: u64) -> Result<(), Exhausted> {
        let Some(more) = total.checked_sub(self.bytes).filter(|&more| more > 0) else {
            return Ok(());
        };
        if !self.connection.take(more) {
            return Err(Exhausted::Connection);
        }
        if !self.process.take(more) {
            self.connection.give_back(more);
            return Err(Exhausted::Process);
        }
        self.bytes = total;
        Ok(())
    }
}

impl Drop for Held<'_> {
    fn drop(&mut self) {
        // `>=` would do as well (a surviving mutant, equivalent): giving
        // back 0 bytes changes nothing.
        if self.bytes > 0 {
            self.connection.give_back(self.bytes);
            self.process.give_back(self.bytes);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bodies_are_held_against_both_budgets_until_dropped() {
        let process = Budget::new(100);
        let (first, second) = (Budget::new(60), Budget::new(60));
        let mut a = Held::new(&process, &first);
        a.cover(50).unwrap();
        a.cover(40).unwrap(); // already held
        a.cover(60).unwrap();
        assert_eq!(a.cover(61), Err(Exhausted::Connection));
        let mut b = Held::new(&process, &second);
        assert_eq!(b.cover(41), Err(Exhausted::Process));
        assert_eq!(second.held(), 0, "nothing kept from a refused take");
        b.cover(40).unwrap();
        assert_eq!((process.held(), first.held(), second.held()), (100, 60, 40));
        drop(a);
        assert_eq!((process.held(), first.held()), (40, 0));
        drop(b);
        assert_eq!((process.held(), second.held()), (0, 0));
    }

    #[test]
    fn a_lowered_limit_refuses_new_bytes_and_keeps_held_ones() {
        let (process, connection) = (Budget::new(100), Budget::new(100));
        let mut held = Held::new(&process, &connection);
        held.cover(80).unwrap();
        process.set_limit(50);
        held.cover(80)
            .expect("bytes held already are not taken again");
        assert_eq!(held.cover(81), Err(Exhausted::Process));
        drop(held);
        let mut again = Held::new(&process, &connection);
        again.cover(50).unwrap();
        assert_eq!(again.cover(51), Err(Exhausted::Process));
    }
}
