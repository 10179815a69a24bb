//! Statistics: hits, misses by reason, insertions, evictions, expirations and weights.
//!
//! Counters live per shard in their own cache lines and are bumped with relaxed atomics, so a hit
//! under a shared lock can count itself. A [`Snapshot`] sums them: a handful of loads per shard,
//! cheap enough to poll every second. The sum is not atomic across shards, but each counter only
//! grows, and `hits + misses` equals the number of lookups once writers are quiet.
//!
//! Why a key missed is answered by a small memory of departures: when an entry leaves (expired,
//! evicted or removed) a 30-bit fingerprint of its key and the cause are written into a
//! direct-mapped table of `u32`s. A later miss on that key finds its fingerprint and is counted
//! under that cause; a key never seen, or whose record was overwritten by a later departure
//! mapping to the same cell, counts as "never cached". The table has a fixed size (4 bytes a
//! cell), so the attribution is exact for recent departures and degrades gracefully, never
//! growing.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

/// Why a lookup missed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MissReason {
    /// The key was never stored (or left long enough ago to be forgotten).
    NeverCached,
    /// The key's TTL ran out.
    Expired,
    /// The key was evicted to make room.
    Evicted,
    /// The key was removed on purpose (delete, flush of that key, replacement by a remove).
    Removed,
}

/// Why an entry left the store.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Departure {
    /// Its TTL ran out.
    Expired,
    /// The policy chose it to make room.
    Evicted,
    /// It was removed by a caller.
    Removed,
}

impl Departure {
    fn code(self) -> u32 {
        match self {
            Departure::Expired => 1,
            Departure::Evicted => 2,
            Departure::Removed => 3,
        }
    }
}

/// A fixed-size memory of recent departures, for miss attribution (see the module docs).
#[derive(Debug)]
pub(crate) struct Departures {
    cells: Box<[u32]>,
}

impl Departures {
    pub(crate) fn new(cells: usize) -> Self {
        Self {
            cells: vec![0; cells.max(1)].into_boxed_slice(),
        }
    }

    /// The cell from all the hash's bits, mixed by a Fibonacci multiply: the store picks a shard
    /// by bits 40.., which are therefore the same for every key of one shard, so taking the cell
    /// from the top bits alone left most cells of a shard's memory unused.
    #[inline]
    fn cell(&self, hash: u64) -> usize {
        ((u128::from(hash.wrapping_mul(0x9E37_79B9_7F4A_7C15)) * self.cells.len() as u128) >> 64)
            as usize
    }

    #[inline]
    fn fingerprint(hash: u64) -> u32 {
        ((hash >> 32) as u32) << 2
    }

    #[inline]
    pub(crate) fn record(&mut self, hash: u64, cause: Departure) {
        let cell = self.cell(hash);
        self.cells[cell] = Self::fingerprint(hash) | cause.code();
    }

    #[inline]
    pub(crate) fn reason(&self, hash: u64) -> MissReason {
        let value = self.cells[self.cell(hash)];
        if value & !3 != Self::fingerprint(hash) {
            return MissReason::NeverCached;
        }
        match value & 3 {
            1 => MissReason::Expired,
            2 => MissReason::Evicted,
            3 => MissReason::Removed,
            _ => MissReason::NeverCached,
        }
    }

    pub(crate) fn clear(&mut self) {
        self.cells.fill(0);
    }

    pub(crate) fn heap_bytes(&self) -> usize {
        self.cells.len() * 4
    }
}

/// One shard's counters, padded to their own cache lines.
#[derive(Debug, Default)]
#[repr(align(128))]
pub(crate) struct Counters {
    pub(crate) hits: AtomicU64,
    pub(crate) miss_never: AtomicU64,
    pub(crate) miss_expired: AtomicU64,
    pub(crate) miss_evicted: AtomicU64,
    pub(crate) miss_removed: AtomicU64,
    pub(crate) insertions: AtomicU64,
    pub(crate) updates: AtomicU64,
    pub(crate) evictions: AtomicU64,
    pub(crate) expirations: AtomicU64,
    pub(crate) removals: AtomicU64,
    pub(crate) inserted_weight: AtomicU64,
    pub(crate) evicted_weight: AtomicU64,
}

impl Counters {
    #[inline]
    pub(crate) fn bump(counter: &AtomicU64) {
        counter.fetch_add(1, Relaxed);
    }

    #[inline]
    pub(crate) fn miss(&self, reason: MissReason) {
        Self::bump(match reason {
            MissReason::NeverCached => &self.miss_never,
            MissReason::Expired => &self.miss_expired,
            MissReason::Evicted => &self.miss_evicted,
            MissReason::Removed => &self.miss_removed,
        });
    }

    #[inline]
    pub(crate) fn departed(&self, cause: Departure, weight: u32) {
        match cause {
            Departure::Expired => Self::bump(&self.expirations),
            Departure::Evicted => {
                Self::bump(&self.evictions);
                self.evicted_weight.fetch_add(u64::from(weight), Relaxed);
            }
            Departure::Removed => Self::bump(&self.removals),
        }
    }

    pub(crate) fn reset(&self) {
        for c in [
            &self.hits,
            &self.miss_never,
            &self.miss_expired,
            &self.miss_evicted,
            &self.miss_removed,
            &self.insertions,
            &self.updates,
            &self.evictions,
            &self.expirations,
            &self.removals,
            &self.inserted_weight,
            &self.evicted_weight,
        ] {
            c.store(0, Relaxed);
        }
    }

    pub(crate) fn add_to(&self, s: &mut Snapshot) {
        s.hits += self.hits.load(Relaxed);
        s.misses.never_cached += self.miss_never.load(Relaxed);
        s.misses.expired += self.miss_expired.load(Relaxed);
        s.misses.evicted += self.miss_evicted.load(Relaxed);
        s.misses.removed += self.miss_removed.load(Relaxed);
        s.insertions += self.insertions.load(Relaxed);
        s.updates += self.updates.load(Relaxed);
        s.evictions += self.evictions.load(Relaxed);
        s.expirations += self.expirations.load(Relaxed);
        s.removals += self.removals.load(Relaxed);
        s.inserted_weight += self.inserted_weight.load(Relaxed);
        s.evicted_weight += self.evicted_weight.load(Relaxed);
    }
}

/// Misses split by reason.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Misses {
    /// Keys never stored, or forgotten by the departure memory.
    pub never_cached: u64,
    /// Keys whose TTL had run out.
    pub expired: u64,
    /// Keys evicted for room.
    pub evicted: u64,
    /// Keys removed by a caller.
    pub removed: u64,
}

impl Misses {
    /// All misses.
    pub fn total(&self) -> u64 {
        self.never_cached + self.expired + self.evicted + self.removed
    }
}

/// A point-in-time summary of a store's or shard's statistics.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Snapshot {
    /// Lookups that found a live entry.
    pub hits: u64,
    /// Lookups that found none, by reason.
    pub misses: Misses,
    /// New entries stored.
    pub insertions: u64,
    /// Existing entries whose value was replaced.
    pub updates: u64,
    /// Entries evicted for room.
    pub evictions: u64,
    /// Entries reclaimed because their TTL ran out (lazily or actively).
    pub expirations: u64,
    /// Entries removed by callers.
    pub removals: u64,
    /// Total weight of inserted entries.
    pub inserted_weight: u64,
    /// Total weight of evicted entries.
    pub evicted_weight: u64,
    /// Entries resident now.
    pub entries: u64,
    /// Weight resident now.
    pub weighted_size: u64,
    /// The budget in weight units.
    pub capacity: u64,
}

impl Snapshot {
    /// `hits + misses`.
    pub fn lookups(&self) -> u64 {
        self.hits + self.misses.total()
    }

    /// Hits over lookups, in `0.0..=1.0` (0 when there were no lookups).
    pub fn hit_ratio(&self) -> f64 {
        match self.lookups() {
            0 => 0.0,
            n => self.hits as f64 / n as f64,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn departures_attribute_recent_misses() {
        let mut d = Departures::new(1024);
        let (a, b, c) = (
            0x1234_5678_9abc_def0_u64,
            0x0fed_cba9_8765_4321,
            0x5555_aaaa_5555_aaaa,
        );
        d.record(a, Departure::Expired);
        d.record(b, Departure::Evicted);
        d.record(c, Departure::Removed);
        assert_eq!(d.reason(a), MissReason::Expired);
        assert_eq!(d.reason(b), MissReason::Evicted);
        assert_eq!(d.reason(c), MissReason::Removed);
        assert_eq!(d.reason(42), MissReason::NeverCached);
        d.clear();
        assert_eq!(d.reason(a), MissReason::NeverCached);
    }

    #[test]
    fn snapshot_ratio() {
        let s = Snapshot {
            hits: 3,
            misses: Misses {
                never_cached: 1,
                ..Misses::default()
            },
            ..Snapshot::default()
        };
        assert_eq!(s.lookups(), 4);
        assert!((s.hit_ratio() - 0.75).abs() < 1e-12);
        assert_eq!(Snapshot::default().hit_ratio(), 0.0);
    }
}
