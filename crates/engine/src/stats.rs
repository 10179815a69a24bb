//! Statistics: hits, misses by reason, insertions, evictions, expirations and weights.
//!
//! Counters live per shard in their own cache lines and are bumped with relaxed atomics, so a hit
//! under a shared lock can count itself. A [`Snapshot`] sums them: a handful of loads per shard,
//! cheap enough to poll every second. The sum is not atomic across shards, but each counter only
//! grows, and `hits + misses` equals the number of lookups once writers are quiet.
//!
//! Why a key missed is answered by a small memory of departures: when an entry leaves (expired,
//! evicted or removed) a 14-bit fingerprint of its key and the cause are written into a table of
//! `u16`s in buckets of four, the newest first. A later miss on that key finds its fingerprint
//! and is counted under that cause; a key never seen, or whose record was pushed out of its
//! bucket by four later departures mapping there, counts as "never cached". The table grows with
//! its shard, doubling while it has fewer than two cells per slot, up to a fixed bound (2 bytes a
//! cell): the attribution is exact for the recent departures, about as many as the shard's
//! entries, degrades gracefully beyond, and a small shard spends little on it. A key never
//! stored matches one of the four fingerprints of its bucket once in 4,096 misses, and is then
//! counted under that record's cause: the price of 2-byte cells, which matters in a statistic
//! and nowhere else. Doubling loses
//! nothing: a key's bucket in the doubled table is one of the two its old bucket becomes, and
//! both keep the old records.

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
    fn code(self) -> u16 {
        match self {
            Departure::Expired => 1,
            Departure::Evicted => 2,
            Departure::Removed => 3,
        }
    }
}

/// A bounded memory of recent departures, for miss attribution (see the module docs).
#[derive(Debug)]
pub(crate) struct Departures {
    /// Buckets of [`WAYS`] records, the newest first; 0 is an empty cell (a record's cause code
    /// is never 0).
    cells: Box<[u16]>,
    /// The most cells it grows to.
    max: usize,
}

/// Records per bucket.
const WAYS: usize = 4;
/// The cells a departure memory starts with (or its bound, if smaller).
const DEPARTURES_INITIAL: usize = 1024;

impl Departures {
    /// A memory that starts small and grows ([`Departures::fit`]) to at most `max` cells
    /// (rounded down to whole buckets, at least one).
    pub(crate) fn new(max: usize) -> Self {
        let max = (max / WAYS).max(1) * WAYS;
        Self {
            cells: vec![0; DEPARTURES_INITIAL.min(max)].into_boxed_slice(),
            max,
        }
    }

    /// Grows the memory, by doubling, until it has at least `cells` cells or would pass its
    /// bound. Every record is kept: with the bucket taken as `⌊x · n / 2⁶⁴⌋` for a mixed hash
    /// `x`, a key's bucket among `2n` is `2b` or `2b + 1` where `b` was its bucket among `n`,
    /// and both get a copy of the old bucket (a fingerprint matches only its own key).
    pub(crate) fn fit(&mut self, cells: usize) {
        while self.cells.len() < cells.min(self.max) {
            let doubled = self.cells.len() * 2;
            if doubled > self.max {
                return;
            }
            let mut grown = vec![0; doubled].into_boxed_slice();
            for (b, bucket) in self.cells.chunks_exact(WAYS).enumerate() {
                grown[2 * b * WAYS..][..WAYS].copy_from_slice(bucket);
                grown[(2 * b + 1) * WAYS..][..WAYS].copy_from_slice(bucket);
            }
            self.cells = grown;
        }
    }

    /// Cells now.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.cells.len()
    }

    /// The hash's bucket, from all its bits mixed by a Fibonacci multiply: the store picks a
    /// shard from the top bits of the hash times another constant, and a bucket taken from the
    /// hash's own top bits once left most of a shard's memory unused (those bits were nearly
    /// the same for every key of one shard).
    #[inline]
    fn bucket(&self, hash: u64) -> usize {
        let buckets = (self.cells.len() / WAYS) as u128;
        ((u128::from(hash.wrapping_mul(0x9E37_79B9_7F4A_7C15)) * buckets) >> 64) as usize * WAYS
    }

    /// 14 bits of the key, above the cause's two: the top bits of another odd multiple of the
    /// hash, so that they depend on every bit of it (see [`Departures::bucket`]) and not on the
    /// bucket's.
    #[inline]
    fn fingerprint(hash: u64) -> u16 {
        ((hash.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 50) as u16) << 2
    }

    /// Records that the key with this hash left, and why: replaces the key's own record if its
    /// bucket has one, or else the bucket's oldest.
    #[inline]
    pub(crate) fn record(&mut self, hash: u64, cause: Departure) {
        let at = self.bucket(hash);
        let fingerprint = Self::fingerprint(hash);
        let bucket = &mut self.cells[at..at + WAYS];
        let end = bucket
            .iter()
            .position(|&cell| cell != 0 && cell & !3 == fingerprint)
            .unwrap_or(WAYS - 1);
        bucket[..=end].rotate_right(1);
        bucket[0] = fingerprint | cause.code();
    }

    #[inline]
    pub(crate) fn reason(&self, hash: u64) -> MissReason {
        let at = self.bucket(hash);
        let fingerprint = Self::fingerprint(hash);
        let found = self.cells[at..at + WAYS]
            .iter()
            .find(|&&cell| cell != 0 && cell & !3 == fingerprint);
        match found.map(|cell| cell & 3) {
            Some(1) => MissReason::Expired,
            Some(2) => MissReason::Evicted,
            Some(3) => MissReason::Removed,
            _ => MissReason::NeverCached,
        }
    }

    pub(crate) fn clear(&mut self) {
        self.cells.fill(0);
    }

    pub(crate) fn heap_bytes(&self) -> usize {
        self.cells.len() * size_of::<u16>()
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
        // A second departure of a key replaces its record.
        d.record(a, Departure::Removed);
        assert_eq!(d.reason(a), MissReason::Removed);
        assert_eq!(d.reason(b), MissReason::Evicted);
        d.clear();
        assert_eq!(d.reason(a), MissReason::NeverCached);
    }

    #[test]
    fn departures_grow_with_their_shard_and_keep_every_record() {
        let mut d = Departures::new(16_384);
        assert_eq!(d.len(), DEPARTURES_INITIAL);
        // More departures than cells: some records are pushed out before the growth.
        let hashes: Vec<u64> = (1..=2400u64)
            .map(|i| i.wrapping_mul(0xd6e8_feb8_6659_fd93) ^ (i << 40))
            .collect();
        let causes = [Departure::Expired, Departure::Evicted, Departure::Removed];
        for (i, &h) in hashes.iter().enumerate() {
            d.record(h, causes[i % 3]);
        }
        let before: Vec<MissReason> = hashes.iter().map(|&h| d.reason(h)).collect();
        assert!(before.iter().any(|r| *r != MissReason::NeverCached));
        assert!(before.contains(&MissReason::NeverCached));
        // The newest departures are all remembered, with their causes.
        for (i, &h) in hashes.iter().enumerate().skip(2390) {
            let expected = [
                MissReason::Expired,
                MissReason::Evicted,
                MissReason::Removed,
            ];
            assert_eq!(d.reason(h), expected[i % 3]);
        }
        d.fit(3000);
        assert_eq!(
            d.len(),
            4096,
            "the first power of two at or above the entries"
        );
        let after: Vec<MissReason> = hashes.iter().map(|&h| d.reason(h)).collect();
        assert_eq!(before, after, "growing forgets nothing and invents nothing");
        d.fit(1 << 20);
        assert_eq!(d.len(), 16_384, "never past its bound");
        let mut small = Departures::new(100);
        small.fit(1 << 20);
        assert_eq!(
            small.len(),
            100,
            "a bound below the initial size is the size"
        );
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
