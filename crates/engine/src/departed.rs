//! An opt-in, bounded record of the keys the store removed by itself: expired (lazily on a
//! read or write, by the active expiry cycle, by an insert's sampling) or evicted to make room.
//!
//! A server that publishes key events (Redis's `expired` and `evicted` keyspace notifications,
//! client-side caching invalidations) needs to know those keys, which no caller removed. Turn
//! the record on with [`StoreBuilder::record_departures`](crate::StoreBuilder::record_departures)
//! and drain it with [`Store::drain_departures`](crate::Store::drain_departures).
//!
//! Cost: when off, nothing (the shard checks an `Option`). When on, a departing key is moved
//! (never cloned) into one store-wide list under a short lock, and a drain with nothing to take
//! is one atomic load. The list holds at most `max` keys: past that, departures are counted,
//! not kept, and the next drain reports how many were lost, so that a consumer that must not
//! miss any (an invalidation feed) can fall back to invalidating everything.

use crate::stats::Departure;
use parking_lot::Mutex;
use std::fmt;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

/// The shared record every shard of a store appends to.
pub struct DepartureLog<K> {
    /// Keys recorded and not drained yet (read without the lock).
    pending: AtomicUsize,
    /// Departures not recorded because the list was full, since the last drain.
    dropped: AtomicU64,
    entries: Mutex<Vec<(K, Departure)>>,
    max: usize,
}

impl<K> fmt::Debug for DepartureLog<K> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DepartureLog")
            .field("pending", &self.pending.load(Ordering::Relaxed))
            .field("dropped", &self.dropped.load(Ordering::Relaxed))
            .field("max", &self.max)
            .finish()
    }
}

impl<K> DepartureLog<K> {
    /// A record of at most `max` keys between two drains.
    pub fn new(max: usize) -> Self {
        Self {
            pending: AtomicUsize::new(0),
            dropped: AtomicU64::new(0),
            entries: Mutex::new(Vec::new()),
            max,
        }
    }

    /// Records that `key` left for `cause` (only [`Departure::Expired`] and
    /// [`Departure::Evicted`] are kept: a caller knows what it removed itself).
    pub fn record(&self, key: K, cause: Departure) {
        if cause == Departure::Removed {
            return;
        }
        let mut entries = self.entries.lock();
        if entries.len() >= self.max {
            self.dropped.fetch_add(1, Ordering::Relaxed);
            return;
        }
        entries.push((key, cause));
        self.pending.store(entries.len(), Ordering::Release);
    }

    /// Whether anything waits to be drained (recorded or dropped).
    pub fn is_pending(&self) -> bool {
        self.pending.load(Ordering::Acquire) > 0 || self.dropped.load(Ordering::Relaxed) > 0
    }

    /// Moves every recorded departure into `out`, oldest first, and returns how many were
    /// dropped since the last drain because the record was full (0 when none was lost).
    pub fn drain(&self, out: &mut Vec<(K, Departure)>) -> u64 {
        if !self.is_pending() {
            return 0;
        }
        let mut entries = self.entries.lock();
        out.append(&mut entries);
        self.pending.store(0, Ordering::Release);
        // Keep the list's buffer small after a burst.
        if entries.capacity() > 1024 {
            entries.shrink_to(64);
        }
        self.dropped.swap(0, Ordering::Relaxed)
    }
}
