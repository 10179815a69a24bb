//! Online miss-ratio-curve estimation: SHARDS with a fixed-size sample set.
//!
//! A miss ratio curve (MRC) says, for every cache size, which fraction of the requests seen so far
//! would have hit in an **LRU** cache of that many entries filled on demand (every looked-up key is
//! cached after its miss). It answers "with twice the memory, the hit ratio would be X" without
//! running a second cache. The curve is LRU's: for a store running another policy (S3-FIFO, ARC,
//! …) it is an estimate of what LRU would achieve at each size, which is what SHARDS measures, not
//! a prediction for that policy (scan-resistant policies usually do somewhat better than LRU at
//! small sizes).
//!
//! ## Algorithm
//!
//! SHARDS (Waldspurger, Park, Garthwaite, Ahmad: *Efficient MRC Construction with SHARDS*, FAST
//! 2015), fixed-size variant with the SHARDS-adj correction:
//!
//! * **Spatial sampling.** Each key's hash is remixed into a *sampling hash* `s` (a bijective
//!   64-bit finaliser, so weak caller hashes such as raw integer ids still sample uniformly), and
//!   a reference is sampled iff `s ≤ T`. With `P = 2⁶⁴`, the sampling rate is
//!   `R = (T + 1) / P`. A key is either always or never sampled at a given `T`, so the sample is a
//!   set of keys whose every reference is seen. `T` starts at `P − 1`: everything is sampled.
//! * **Fixed-size sample set.** At most `max_samples` distinct keys are tracked. When a new key
//!   would exceed that, the key with the largest sampling hash (the top of a max-heap, possibly the
//!   new key itself) leaves the set and `T` drops just below its hash, so every tracked key still
//!   satisfies `s ≤ T`. `R` therefore only decreases, and settles near
//!   `max_samples / distinct keys`.
//! * **Reuse distances.** Every tracked key remembers the logical time of its last sampled
//!   reference; a Fenwick tree over logical times holds a 1 at each of those times. The LRU stack
//!   distance of a reference among the sampled keys is the number of tracked keys referenced since
//!   this key's last reference: one prefix sum, `O(log n)`. When logical time reaches the end of
//!   the tree (twice `max_samples` slots), live times are renumbered `0..n` in order and the tree
//!   is rebuilt: `O(n log n)` at most every `n` sampled references, so `O(log n)` amortised.
//! * **Scaling.** A sampled distance `d` stands for about `d / R` keys of the full trace, and the
//!   reference itself for `1 / R` references. The histogram adds weight `1 / R` (with `R` at the
//!   time of the reference) at distance `d / R`; a first reference adds `1 / R` to the cold-miss
//!   count. Weighting each reference by `1 / R` is the same as rescaling older counts by
//!   `R_new / R_old` whenever `R` drops, as the paper does.
//! * **SHARDS-adj.** The sampled weight `W` should equal the number of references `N`; it differs
//!   when a few very hot keys happen to fall in (or out of) the sample. The difference `N − W` is
//!   added to the smallest distance, which is where the paper shows the error sits. A size `c` then
//!   hits with ratio `(N − W + Σ weights at distances < c) / N`, clamped to `[0, 1]`.
//! * **Histogram.** Scaled distances go into log-linear buckets: exact below 128, then 64 buckets
//!   per power of two (relative width ≤ 1/64) up to 2⁴⁸ entries; sizes between bucket bounds are
//!   interpolated linearly. There is no configured maximum cache size.
//!
//! ## Cost and memory
//!
//! An unsampled reference costs the remix and one comparison. A sampled one costs a hash-table
//! probe and two Fenwick updates (`O(log max_samples)`), plus a heap operation when the set is
//! full. The cost per reference therefore grows with `R`: measured single-threaded over uniform
//! keys with [`DEFAULT_MAX_SAMPLES`], 84 ns when 4,000 keys are all sampled, 142 ns over 100,000
//! keys (`R` = 98 %), 50 ns over 1,000,000 keys (`R` = 10 %); with 16,384 samples, 18 ns and 7 ns
//! over the last two.
//! Memory is fixed once the set is full: the hash table (17 bytes a bucket, a power of two at
//! most 7/8 full), the heap (8 bytes a sample), the Fenwick tree (4 bytes a slot, the next power
//! of two above twice the samples) and a 22 KiB histogram — 0.4 MiB for 8,192 samples, 0.8 MiB
//! for 16,384, 3.2 MiB for 65,536 and 3.9 MiB for the default 98,304 (42 bytes a sample: 98,304
//! fills the same table and tree as 65,537 would); [`MissRatioCurve::heap_bytes`] reports the
//! exact figure.
//!
//! ## Accuracy
//!
//! The estimate is unbiased, but it depends on which keys the hash happens to sample, and a
//! small cache is represented by few of them: a cache of `c` entries holds about `c × R` sampled
//! keys, and the error's spread falls roughly as `√(1/R − 1)`. Measured against exact LRU over 40
//! hash seeds (`crates/sim/tests/mrc.rs`, `docs/mrc.md`), on the ARC OLTP trace (187,000 keys)
//! and a Zipf(0.9) trace with 149,000 distinct keys, the error's standard deviation at 1,000
//! entries is about 1.8 percentage points with 8,192 samples (`R` ≈ 5 %), 1.5 with 16,384, 0.4–0.5
//! with 65,536 and 0.2–0.25 with the default 98,304 (`R` ≈ 53–66 %), whose worst error over the
//! 40 seeds is 0.55 points at 1,000 entries and 0.41 at 2,000 and above. The one-point bound at
//! 1,000 entries therefore needs a sample of about half the distinct keys: over many more keys
//! than the sample, expect the spread of the smaller settings.

use foldhash::fast::FixedState;
use hashbrown::HashMap;
use parking_lot::Mutex;
use std::collections::BinaryHeap;
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

/// The default number of sampled keys (3.9 MiB): twelve times the paper's fixed-size setting of
/// 8,192, so that the estimate stays within one point of exact LRU from 1,000 entries on the
/// traces it is tested on (see the [module documentation](self) for the accuracy, memory and
/// per-lookup cost of this and smaller settings).
pub const DEFAULT_MAX_SAMPLES: usize = 98_304;

/// Scaled distances below `2^(SUB_BITS + 1)` have a bucket each; above, each power of two is cut
/// into `2^SUB_BITS` buckets.
const SUB_BITS: u32 = 6;
const SUB: usize = 1 << SUB_BITS;
/// Scaled distances at or above `2^MAX_BITS` entries share the last bucket.
const MAX_BITS: u32 = 48;
const BUCKETS: usize = (MAX_BITS - SUB_BITS + 1) as usize * SUB;
/// `2^64` as a float: the sampling modulus `P`.
const P: f64 = 18_446_744_073_709_551_616.0;

/// The sampling hash of a key hash: a bijective remix (the SplitMix64 finaliser) so that the
/// sample is uniform whatever bits the caller's hash favours.
#[inline]
pub fn sampling_hash(hash: u64) -> u64 {
    let mut z = hash ^ 0x6a09_e667_f3bc_c908;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// The histogram bucket of a scaled distance.
#[inline]
fn bucket(distance: u64) -> usize {
    let v = distance.min((1 << MAX_BITS) - 1);
    let shift = (63 - (v | 1).leading_zeros()).saturating_sub(SUB_BITS);
    shift as usize * SUB + (v >> shift) as usize
}

/// The first distance in bucket `index` and the number of distances it covers.
#[inline]
fn bucket_range(index: usize) -> (u64, u64) {
    let octave = index / SUB;
    if octave <= 1 {
        (index as u64, 1)
    } else {
        let shift = octave - 1;
        (((SUB + index % SUB) as u64) << shift, 1 << shift)
    }
}

/// A Fenwick (binary indexed) tree of counts over logical times.
#[derive(Clone)]
struct Fenwick {
    tree: Vec<u32>,
}

impl Fenwick {
    fn new(len: usize) -> Self {
        Self {
            tree: vec![0; len + 1],
        }
    }

    fn len(&self) -> usize {
        self.tree.len() - 1
    }

    fn add(&mut self, at: usize, delta: i32) {
        let mut i = at + 1;
        while i < self.tree.len() {
            self.tree[i] = self.tree[i].wrapping_add_signed(delta);
            i += i & i.wrapping_neg();
        }
    }

    /// The sum over times `0..end`.
    fn prefix(&self, end: usize) -> u32 {
        let mut i = end;
        let mut sum = 0u32;
        while i > 0 {
            sum = sum.wrapping_add(self.tree[i]);
            i &= i - 1;
        }
        sum
    }

    /// Sets times `0..ones` to 1 and the rest to 0, in linear time.
    fn fill_ones(&mut self, ones: usize) {
        for (i, cell) in self.tree.iter_mut().enumerate().skip(1) {
            // Node `i` covers times `i - lowbit(i) .. i`; count those below `ones`.
            let low = i - (i & i.wrapping_neg());
            *cell = ones.clamp(low, i).saturating_sub(low) as u32;
        }
    }
}

/// An online estimate of LRU's miss ratio curve by SHARDS with a fixed-size sample set: see the
/// [module documentation](self).
///
/// Single-threaded: [`record`](Self::record) takes `&mut self`. [`SharedMissRatioCurve`] wraps it
/// for concurrent recording.
///
/// ```
/// use larder_engine::mrc::MissRatioCurve;
///
/// let mut mrc = MissRatioCurve::new(8192);
/// for i in 0..10_000u64 {
///     mrc.record(i % 100); // a loop over 100 keys
/// }
/// assert!(mrc.hit_ratio_at(99) < 0.01); // LRU thrashes on a loop one larger than the cache
/// assert!(mrc.hit_ratio_at(100) > 0.98);
/// ```
#[derive(Clone)]
pub struct MissRatioCurve {
    max_samples: usize,
    /// A reference is sampled iff its sampling hash is at most this (`T − 1` in the paper's terms).
    threshold: u64,
    /// `1 / R`: the references (and keys) one sampled reference (key) stands for.
    scale: f64,
    /// Tracked keys (by sampling hash) and the logical time of their last sampled reference.
    last: HashMap<u64, u32, FixedState>,
    /// The tracked keys' sampling hashes, largest on top: the next to leave the sample.
    by_hash: BinaryHeap<u64>,
    /// A 1 at the last reference time of every tracked key.
    times: Fenwick,
    /// The next logical time.
    clock: u32,
    /// Weight of sampled references by scaled reuse distance bucket.
    hist: Box<[f64]>,
    /// Weight of first references (infinite distance).
    cold: f64,
    /// Total weight of sampled references (histogram plus cold).
    weight: f64,
    /// References recorded, sampled or not.
    references: u64,
}

impl fmt::Debug for MissRatioCurve {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MissRatioCurve")
            .field("max_samples", &self.max_samples)
            .field("sampled_keys", &self.last.len())
            .field("sampling_rate", &self.sampling_rate())
            .field("references", &self.references)
            .finish_non_exhaustive()
    }
}

impl Default for MissRatioCurve {
    fn default() -> Self {
        Self::new(DEFAULT_MAX_SAMPLES)
    }
}

impl MissRatioCurve {
    /// An estimator tracking at most `max_samples` sampled keys (at least 1; the accuracy of
    /// 8,192 and more is documented in the [module documentation](self)). Allocates its fixed
    /// memory up front.
    pub fn new(max_samples: usize) -> Self {
        let max_samples = max_samples.clamp(1, 1 << 30);
        let slots = (2 * max_samples).max(64).next_power_of_two();
        Self {
            max_samples,
            threshold: u64::MAX,
            scale: 1.0,
            last: HashMap::with_capacity_and_hasher(max_samples + 1, FixedState::default()),
            by_hash: BinaryHeap::with_capacity(max_samples + 1),
            times: Fenwick::new(slots),
            clock: 0,
            hist: vec![0.0; BUCKETS].into_boxed_slice(),
            cold: 0.0,
            weight: 0.0,
            references: 0,
        }
    }

    /// Records one reference (a lookup) to the key with hash `hash`.
    ///
    /// The hash must be a function of the key alone (any 64-bit hash; it is remixed before
    /// sampling). Unsampled references cost a remix and one comparison.
    #[inline]
    pub fn record(&mut self, hash: u64) {
        self.references += 1;
        let s = sampling_hash(hash);
        if s <= self.threshold {
            self.record_sampled(s);
        }
    }

    /// Processes a reference whose sampling hash `s` is at most the threshold (rechecked: a
    /// concurrent caller may have read an older, higher threshold). Does not count it in
    /// [`references`](Self::references).
    fn record_sampled(&mut self, s: u64) {
        if s > self.threshold {
            return;
        }
        if self.clock as usize == self.times.len() {
            self.compact();
        }
        let live = self.last.len() as u32;
        if let Some(time) = self.last.get_mut(&s) {
            let old = *time as usize;
            let after = live - self.times.prefix(old + 1);
            *time = self.clock;
            self.times.add(old, -1);
            self.times.add(self.clock as usize, 1);
            self.clock += 1;
            // `as u64` saturates: a distance beyond the histogram lands in its last bucket.
            let scaled = (f64::from(after) * self.scale) as u64;
            self.hist[bucket(scaled)] += self.scale;
            self.weight += self.scale;
            return;
        }
        if self.last.len() >= self.max_samples {
            self.by_hash.push(s);
            let Some(top) = self.by_hash.pop() else {
                return;
            };
            // `top` is the largest sampling hash in the set: every other is below it.
            self.threshold = top.saturating_sub(1);
            self.scale = P / (self.threshold as f64 + 1.0);
            if top == s {
                return;
            }
            if let Some(time) = self.last.remove(&top) {
                self.times.add(time as usize, -1);
            }
        } else {
            self.by_hash.push(s);
        }
        self.last.insert(s, self.clock);
        self.times.add(self.clock as usize, 1);
        self.clock += 1;
        self.cold += self.scale;
        self.weight += self.scale;
    }

    /// Renumbers the tracked keys' last reference times `0..n`, in order, and rebuilds the tree:
    /// a key's new time is the number of live times before its old one. No allocation.
    fn compact(&mut self) {
        for time in self.last.values_mut() {
            *time = self.times.prefix(*time as usize);
        }
        let live = self.last.len();
        self.times.fill_ones(live);
        self.clock = live as u32;
    }

    /// Changes the most keys tracked, reallocating the tables for the new number.
    ///
    /// Fewer: the keys with the largest sampling hashes leave the sample and the threshold drops
    /// below them, as when the set overflows; what was recorded stays (each reference was
    /// weighted by the rate at its time). More: the set fills up with later keys below the
    /// threshold (the rate never rises again). `O(n log n)` in the keys tracked.
    pub fn set_max_samples(&mut self, max_samples: usize) {
        let max_samples = max_samples.clamp(1, 1 << 30);
        while self.last.len() > max_samples {
            let Some(top) = self.by_hash.pop() else {
                break;
            };
            self.threshold = top.saturating_sub(1);
            self.scale = P / (self.threshold as f64 + 1.0);
            if let Some(time) = self.last.remove(&top) {
                self.times.add(time as usize, -1);
            }
        }
        self.max_samples = max_samples;
        // Renumber the live times `0..n` (as `compact` does) into a tree sized for the new bound.
        for time in self.last.values_mut() {
            *time = self.times.prefix(*time as usize);
        }
        let live = self.last.len();
        self.times = Fenwick::new((2 * max_samples).max(64).next_power_of_two());
        self.times.fill_ones(live);
        self.clock = live as u32;
        self.last.shrink_to(max_samples + 1);
        self.last.reserve(max_samples + 1 - live);
        self.by_hash.shrink_to(max_samples + 1);
        self.by_hash.reserve_exact(max_samples + 1 - live);
    }

    /// References recorded since creation or the last [`reset`](Self::reset), sampled or not.
    pub fn references(&self) -> u64 {
        self.references
    }

    /// Forgets everything: the sample, the histogram, the reference count and the sampling rate
    /// (back to sampling every key). Keeps the allocated memory.
    pub fn reset(&mut self) {
        self.threshold = u64::MAX;
        self.scale = 1.0;
        self.last.clear();
        self.by_hash.clear();
        self.times.fill_ones(0);
        self.clock = 0;
        self.hist.fill(0.0);
        self.cold = 0.0;
        self.weight = 0.0;
        self.references = 0;
    }

    /// The estimated LRU hit ratio (0 to 1) of a cache of `size` entries over the references
    /// recorded so far; 0 before any reference.
    pub fn hit_ratio_at(&self, size: u64) -> f64 {
        self.hit_ratio_with(self.references as f64, size)
    }

    /// The estimated curve at `points` sizes evenly spaced up to the estimated number of distinct
    /// keys referenced (beyond which every size has the same hit ratio): pairs of a size in
    /// entries and the estimated LRU hit ratio (0 to 1) there. Empty before any reference.
    pub fn curve(&self, points: usize) -> Vec<(u64, f64)> {
        self.curve_with(self.references as f64, points)
    }

    /// The maximum number of sampled keys.
    pub fn max_samples(&self) -> usize {
        self.max_samples
    }

    /// Distinct keys in the sample now (at most [`max_samples`](Self::max_samples)).
    pub fn sampled_keys(&self) -> usize {
        self.last.len()
    }

    /// The sampling rate `R`: 1 until the sample set fills, then the fraction of keys sampled.
    pub fn sampling_rate(&self) -> f64 {
        1.0 / self.scale
    }

    /// The estimated number of distinct keys referenced so far.
    pub fn distinct_keys(&self) -> u64 {
        self.cold.round() as u64
    }

    /// Whether a reference to a key with hash `hash` would be sampled now.
    pub fn is_sampled(&self, hash: u64) -> bool {
        sampling_hash(hash) <= self.threshold
    }

    /// Heap bytes held: fixed at creation and by [`set_max_samples`](Self::set_max_samples)
    /// (the table and heap are sized for `max_samples`).
    pub fn heap_bytes(&self) -> usize {
        self.last.allocation_size()
            + self.by_hash.capacity() * size_of::<u64>()
            + self.times.tree.capacity() * size_of::<u32>()
            + self.hist.len() * size_of::<f64>()
    }

    /// The hit ratio at `size` when `references` references were made (SHARDS-adj).
    fn hit_ratio_with(&self, references: f64, size: u64) -> f64 {
        if size == 0 || references <= 0.0 {
            return 0.0;
        }
        let last = bucket(size);
        let (low, width) = bucket_range(last);
        let mut hits = references - self.weight;
        hits += self.hist[..last].iter().sum::<f64>();
        // Distances in the bucket are spread evenly: those below `size` hit.
        hits += self.hist[last] * (size.saturating_sub(low)).min(width) as f64 / width as f64;
        (hits / references).clamp(0.0, 1.0)
    }

    fn curve_with(&self, references: f64, points: usize) -> Vec<(u64, f64)> {
        let max = self.distinct_keys();
        if points == 0 || max == 0 || references <= 0.0 {
            return Vec::new();
        }
        let mut out = Vec::with_capacity(points);
        for i in 1..=points as u64 {
            let size = ((u128::from(max) * u128::from(i)).div_ceil(points as u128)) as u64;
            if out.last().is_some_and(|&(s, _)| s == size) {
                continue;
            }
            out.push((size, self.hit_ratio_with(references, size)));
        }
        out
    }
}

/// A [`MissRatioCurve`] that many threads record into, as the [`Store`](crate::Store) uses it.
///
/// The sampling threshold is mirrored in an atomic, so an unsampled reference costs a remix, a
/// relaxed load and one comparison — no lock, no shared write. A sampled reference takes the
/// estimator's `parking_lot` mutex with `try_lock`; when another thread holds it, the reference
/// is **skipped** rather than waited for (reads never block on the estimator). A skipped
/// reference's weight is set aside and taken out of the reference count at query time, so the
/// estimate behaves as if that reference had not been made; under heavy contention on a small
/// key set the sample thins out and distances are slightly overestimated.
///
/// The total number of references is not counted here (that would be a shared write per
/// lookup): queries take it as an argument, e.g. the store's lookup count.
pub struct SharedMissRatioCurve {
    /// The estimator's threshold, read by every lookup: alone in its cache line, so that the
    /// sampled lookups' locking does not disturb the others.
    threshold: Threshold,
    /// Weight of sampled references skipped under contention (`f64` bits).
    skipped: AtomicU64,
    inner: Mutex<MissRatioCurve>,
}

#[repr(align(128))]
struct Threshold(AtomicU64);

impl fmt::Debug for SharedMissRatioCurve {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SharedMissRatioCurve")
            .field("threshold", &self.threshold.0.load(Relaxed))
            .field("skipped", &f64::from_bits(self.skipped.load(Relaxed)))
            .finish_non_exhaustive()
    }
}

impl SharedMissRatioCurve {
    /// A shared estimator tracking at most `max_samples` keys (see [`MissRatioCurve::new`]).
    pub fn new(max_samples: usize) -> Self {
        Self {
            threshold: Threshold(AtomicU64::new(u64::MAX)),
            skipped: AtomicU64::new(0f64.to_bits()),
            inner: Mutex::new(MissRatioCurve::new(max_samples)),
        }
    }

    /// Records one reference to the key with hash `hash` (see the type's documentation for
    /// what it costs and when it is skipped).
    #[inline]
    pub fn record(&self, hash: u64) {
        let s = sampling_hash(hash);
        if s <= self.threshold.0.load(Relaxed) {
            self.record_sampled(s);
        }
    }

    #[cold]
    fn record_sampled(&self, s: u64) {
        if let Some(mut inner) = self.inner.try_lock() {
            inner.record_sampled(s);
            if self.threshold.0.load(Relaxed) != inner.threshold {
                self.threshold.0.store(inner.threshold, Relaxed);
            }
        } else {
            let weight = P / (self.threshold.0.load(Relaxed) as f64 + 1.0);
            let _ = self.skipped.fetch_update(Relaxed, Relaxed, |bits| {
                Some((f64::from_bits(bits) + weight).to_bits())
            });
        }
    }

    /// The references that count: `references` minus the weight of skipped samples.
    fn effective(&self, references: u64) -> f64 {
        (references as f64 - f64::from_bits(self.skipped.load(Relaxed))).max(0.0)
    }

    /// [`MissRatioCurve::hit_ratio_at`], given the number of references recorded since creation
    /// or the last [`reset`](Self::reset).
    pub fn hit_ratio_at(&self, references: u64, size: u64) -> f64 {
        let n = self.effective(references);
        self.inner.lock().hit_ratio_with(n, size)
    }

    /// [`MissRatioCurve::curve`], given the number of references recorded since creation or the
    /// last [`reset`](Self::reset).
    pub fn curve(&self, references: u64, points: usize) -> Vec<(u64, f64)> {
        let n = self.effective(references);
        self.inner.lock().curve_with(n, points)
    }

    /// Forgets everything (see [`MissRatioCurve::reset`]).
    pub fn reset(&self) {
        let mut inner = self.inner.lock();
        inner.reset();
        self.threshold.0.store(inner.threshold, Relaxed);
        self.skipped.store(0f64.to_bits(), Relaxed);
    }

    /// Changes the most keys tracked (see [`MissRatioCurve::set_max_samples`]).
    pub fn set_max_samples(&self, max_samples: usize) {
        let mut inner = self.inner.lock();
        inner.set_max_samples(max_samples);
        self.threshold.0.store(inner.threshold, Relaxed);
    }

    /// A copy of the estimator's current state.
    pub fn snapshot(&self) -> MissRatioCurve {
        self.inner.lock().clone()
    }

    /// Heap bytes held (see [`MissRatioCurve::heap_bytes`]).
    pub fn heap_bytes(&self) -> usize {
        self.inner.lock().heap_bytes()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::rng::SplitMix64;

    /// Exact LRU hits for every size `0..=max` by a naive O(n²) stack-distance computation:
    /// `hits[c]` counts references whose distance is below `c`.
    fn naive_hits(refs: &[u64], max: usize) -> Vec<u64> {
        let mut stack: Vec<u64> = Vec::new(); // most recent last
        let mut at_distance = vec![0u64; max + 1];
        for &k in refs {
            if let Some(pos) = stack.iter().rposition(|&x| x == k) {
                let d = stack.len() - 1 - pos;
                if d <= max {
                    at_distance[d] += 1;
                }
                stack.remove(pos);
            }
            stack.push(k);
        }
        let mut hits = vec![0u64; max + 1];
        for c in 1..=max {
            hits[c] = hits[c - 1] + at_distance[c - 1];
        }
        hits
    }

    #[test]
    fn buckets_cover_every_distance_once() {
        let mut expected_low = 0u64;
        for index in 0..BUCKETS {
            let (low, width) = bucket_range(index);
            assert_eq!(low, expected_low, "bucket {index}");
            assert_eq!(bucket(low), index);
            assert_eq!(bucket(low + width - 1), index);
            expected_low = low + width;
        }
        assert_eq!(expected_low, 1 << MAX_BITS);
        assert_eq!(bucket(u64::MAX), BUCKETS - 1);
    }

    #[test]
    fn fenwick_fill_matches_adds() {
        let mut a = Fenwick::new(64);
        let mut b = Fenwick::new(64);
        for i in 0..37 {
            a.add(i, 1);
        }
        b.fill_ones(37);
        assert_eq!(a.tree, b.tree);
        for end in 0..=64 {
            assert_eq!(b.prefix(end), end.min(37) as u32);
        }
    }

    #[test]
    fn exact_when_everything_is_sampled() {
        let mut rng = SplitMix64::new(7);
        // Skewed choice among 120 keys, so that short and long distances both occur; far more
        // references than Fenwick slots, so that compaction runs many times.
        let refs: Vec<u64> = (0..6000)
            .map(|_| {
                let a = rng.below(120) as u64;
                let b = rng.below(120) as u64;
                a.min(b) * 0x1_0001
            })
            .collect();
        let mut mrc = MissRatioCurve::new(128);
        for &k in &refs {
            mrc.record(k);
        }
        assert_eq!(mrc.sampling_rate(), 1.0);
        assert_eq!(mrc.references(), refs.len() as u64);
        assert_eq!(mrc.distinct_keys(), 120);
        let hits = naive_hits(&refs, 127);
        for (c, &h) in hits.iter().enumerate() {
            let got = mrc.hit_ratio_at(c as u64) * refs.len() as f64;
            assert!(
                (got - h as f64).abs() < 1e-6,
                "size {c}: {got} vs exact {h}"
            );
        }
        // Beyond the working set the hit ratio is flat: every non-first reference hits.
        let all = (refs.len() - 120) as f64 / refs.len() as f64;
        assert!((mrc.hit_ratio_at(1000) - all).abs() < 1e-9);
        let curve = mrc.curve(12);
        assert_eq!(curve.len(), 12);
        assert_eq!(curve[11].0, 120);
        assert_eq!(curve[0].0, 10);
        for &(size, ratio) in &curve {
            assert!((ratio - hits[size as usize] as f64 / refs.len() as f64).abs() < 1e-9);
        }
    }

    #[test]
    fn exact_at_bucket_bounds_for_larger_working_sets() {
        let mut rng = SplitMix64::new(11);
        let refs: Vec<u64> = (0..20_000).map(|_| rng.below(600) as u64).collect();
        let mut mrc = MissRatioCurve::new(1000);
        for &k in &refs {
            mrc.record(k);
        }
        let hits = naive_hits(&refs, 700);
        for (c, &h) in hits.iter().enumerate() {
            let (low, _) = bucket_range(bucket(c as u64));
            if low == c as u64 {
                let got = mrc.hit_ratio_at(c as u64) * refs.len() as f64;
                assert!((got - h as f64).abs() < 1e-6, "size {c}: {got} vs {h}");
            }
        }
    }

    #[test]
    fn threshold_lowering_bounds_the_sample() {
        let mut mrc = MissRatioCurve::new(500);
        let mut rng = SplitMix64::new(3);
        for i in 0..200_000u64 {
            // Half the references go to 50,000 keys uniformly, half to new keys.
            let key = if i % 2 == 0 {
                rng.below(50_000) as u64
            } else {
                1_000_000 + i
            };
            mrc.record(key);
            assert!(mrc.sampled_keys() <= 500);
        }
        assert_eq!(mrc.sampled_keys(), 500);
        assert_eq!(mrc.by_hash.len(), 500);
        assert!(mrc.last.keys().all(|&s| s <= mrc.threshold));
        assert_eq!(mrc.by_hash.peek().copied(), mrc.last.keys().max().copied());
        // About 150,000 distinct keys, of which 500 are kept.
        let rate = mrc.sampling_rate();
        assert!((rate - 500.0 / 150_000.0).abs() < 0.001, "rate {rate}");
        let distinct = mrc.distinct_keys() as f64;
        assert!(
            (distinct / 150_000.0 - 1.0).abs() < 0.15,
            "distinct {distinct}"
        );
        let before = mrc.heap_bytes();
        mrc.reset();
        assert_eq!(mrc.references(), 0);
        assert_eq!(mrc.sampling_rate(), 1.0);
        assert_eq!(mrc.hit_ratio_at(10), 0.0);
        assert!(mrc.curve(10).is_empty());
        assert_eq!(mrc.heap_bytes(), before);
    }

    #[test]
    fn sampled_estimate_follows_the_exact_curve() {
        // Independent uniform references over K keys: the curve is nearly straight. The exact
        // curve is the estimator's own with every key sampled (exact, as tested above, up to
        // interpolation inside 1/64-wide buckets).
        const KEYS: usize = 40_000;
        let mut sampled = MissRatioCurve::new(2048);
        let mut exact = MissRatioCurve::new(KEYS);
        let mut rng = SplitMix64::new(5);
        for _ in 0..400_000 {
            let key = rng.below(KEYS) as u64;
            sampled.record(key);
            exact.record(key);
        }
        assert_eq!(exact.sampling_rate(), 1.0);
        assert!(sampled.sampling_rate() < 0.06);
        for c in [4000u64, 10_000, 20_000, 30_000, 39_000] {
            let expected = exact.hit_ratio_at(c);
            assert!((expected - 0.9 * c as f64 / KEYS as f64).abs() < 0.05);
            let got = sampled.hit_ratio_at(c);
            assert!(
                (got - expected).abs() < 0.02,
                "size {c}: {got} vs {expected}"
            );
        }
    }

    #[test]
    fn resizing_keeps_the_sample_consistent_and_the_estimate() {
        const KEYS: usize = 40_000;
        let consistent = |mrc: &MissRatioCurve| {
            assert!(mrc.sampled_keys() <= mrc.max_samples());
            assert_eq!(mrc.by_hash.len(), mrc.last.len());
            assert!(mrc.last.keys().all(|&s| s <= mrc.threshold));
            assert_eq!(mrc.by_hash.peek().copied(), mrc.last.keys().max().copied());
        };
        let mut exact = MissRatioCurve::new(KEYS);
        let mut resized = MissRatioCurve::new(8192);
        let big = resized.heap_bytes();
        let mut rng = SplitMix64::new(5);
        for i in 0..400_000 {
            if i == 100_000 {
                resized.set_max_samples(2048);
                consistent(&resized);
                assert_eq!(resized.sampled_keys(), 2048);
                assert!(resized.heap_bytes() < big / 2, "{}", resized.heap_bytes());
            }
            if i == 200_000 {
                resized.set_max_samples(4096);
                consistent(&resized);
            }
            let key = rng.below(KEYS) as u64;
            exact.record(key);
            resized.record(key);
        }
        consistent(&resized);
        assert!(resized.sampling_rate() < 0.06);
        for c in [4000u64, 10_000, 20_000, 30_000, 39_000] {
            let (got, expected) = (resized.hit_ratio_at(c), exact.hit_ratio_at(c));
            assert!(
                (got - expected).abs() < 0.02,
                "size {c}: {got} vs {expected}"
            );
        }
        // Shared: the lock-free threshold follows the resize.
        let shared = SharedMissRatioCurve::new(8192);
        for k in 0..10_000u64 {
            shared.record(k);
        }
        shared.set_max_samples(100);
        assert_eq!(shared.snapshot().sampled_keys(), 100);
        assert_eq!(
            shared.threshold.0.load(Relaxed),
            shared.snapshot().threshold
        );
    }

    #[test]
    fn shared_records_like_the_single_threaded_one() {
        let shared = SharedMissRatioCurve::new(300);
        let mut single = MissRatioCurve::new(300);
        let mut rng = SplitMix64::new(9);
        for _ in 0..50_000 {
            let k = rng.below(2000) as u64;
            shared.record(k);
            single.record(k);
        }
        for c in [10, 100, 500, 1500] {
            assert_eq!(shared.hit_ratio_at(50_000, c), single.hit_ratio_at(c));
        }
        assert_eq!(shared.curve(50_000, 5), single.curve(5));
        shared.reset();
        assert_eq!(shared.curve(0, 5), Vec::new());
        assert_eq!(shared.snapshot().sampled_keys(), 0);
    }

    #[test]
    fn shared_is_usable_from_many_threads() {
        let shared = SharedMissRatioCurve::new(256);
        std::thread::scope(|scope| {
            for t in 0..4u64 {
                let shared = &shared;
                scope.spawn(move || {
                    let mut rng = SplitMix64::new(t);
                    for _ in 0..20_000 {
                        shared.record(rng.below(1000) as u64);
                    }
                });
            }
        });
        let snapshot = shared.snapshot();
        assert!(snapshot.sampled_keys() <= 256);
        let ratio = shared.hit_ratio_at(80_000, 1000);
        assert!(ratio > 0.9, "{ratio}");
    }

    #[test]
    fn store_predicts_lru_at_other_capacities() {
        use crate::{PolicyKind, Store};
        // A loop over 200 keys: LRU misses every lookup below 200 entries and hits every
        // lookup but the first of each key from 200 on.
        let run = |store: &Store<u64, u64>| {
            for round in 0..50u64 {
                for key in 0..200u64 {
                    if store.get(&key).is_none() {
                        store.insert(key, round).unwrap();
                    }
                }
            }
        };
        let store = Store::<u64, u64>::builder(100)
            .policy(PolicyKind::Lru)
            .miss_ratio_curve(DEFAULT_MAX_SAMPLES)
            .build();
        assert_eq!(store.predicted_hit_ratio(2.0), None);
        run(&store);
        let all = 1.0 - 200.0 / 10_000.0;
        assert_eq!(store.predicted_hit_ratio(1.0), Some(0.0));
        assert_eq!(store.predicted_hit_ratio(1.5), Some(0.0));
        assert!((store.predicted_hit_ratio(2.0).unwrap() - all).abs() < 1e-9);
        let curve = store.miss_ratio_curve(4);
        assert_eq!(
            curve.iter().map(|p| p.0).collect::<Vec<_>>(),
            [50, 100, 150, 200]
        );
        assert!((curve[3].1 - all).abs() < 1e-9 && curve[2].1 == 0.0);
        store.reset_stats();
        assert_eq!(store.predicted_hit_ratio(2.0), None);
        assert!(store.miss_ratio_curve(4).is_empty());

        // Byte-weighted: 10 units an entry, so 1,000 units hold 100 entries.
        let weighted = Store::<u64, u64>::builder(1000)
            .weigher(|_: &u64, _: &u64| 10)
            .miss_ratio_curve(DEFAULT_MAX_SAMPLES)
            .build();
        run(&weighted);
        assert_eq!(weighted.predicted_hit_ratio(1.0), Some(0.0));
        assert!((weighted.predicted_hit_ratio(2.0).unwrap() - all).abs() < 1e-9);

        let plain = Store::<u64, u64>::new(100);
        run(&plain);
        assert_eq!(plain.predicted_hit_ratio(2.0), None);
        assert!(plain.miss_ratio_curve(4).is_empty());
    }
}
