//! Bounded hot-key detection: the most requested keys over a sliding time
//! window, with estimated request rates.
//!
//! # Algorithm
//!
//! Each window is summarised with **Space-Saving** (Metwally, Agrawal and El
//! Abbadi, *Efficient Computation of Frequent and Top-k Elements in Data
//! Streams*, ICDT 2005), generalised to weighted records. A summary holds at
//! most `k` counters, each a `(key, count, error)` triple:
//!
//! * a key that is already monitored has `weight` added to its count;
//! * a new key takes a free counter, with `count = weight` and `error = 0`;
//! * when all `k` counters are in use, the counter with the **minimum** count
//!   `min` is handed over to the new key, which inherits `count = min + weight`
//!   and `error = min` (the old key is forgotten).
//!
//! Counters are kept in an indexed binary min-heap (so the minimum is found in
//! O(1) and re-positioned in O(log k)), and a [`hashbrown::HashTable`] maps a
//! key to its counter, so [`HotKeys::record`] costs one hash, one probe and
//! O(log k) heap work. [`HotKeys::top`] costs O(k log k).
//!
//! # Error bound
//!
//! Let `N` be the total weight recorded in one window. Counts always sum to
//! `N`, so the minimum count is at most `N / k`, and for every monitored key
//! `true ≤ count ≤ true + error` with `error ≤ N / k`. Consequently **any key
//! whose true frequency in the window exceeds `N / k` is guaranteed to be
//! monitored**; its count over-estimates by at most its `error`.
//!
//! # Sliding window
//!
//! Time is cut into consecutive windows of `window_ms` milliseconds, aligned
//! to multiples of `window_ms`. Two summaries are kept: the *current* window
//! and the *previous* one. When the clock passes the end of the current
//! window, the current summary becomes the previous one and a fresh current
//! summary starts; if more than one whole window was skipped, both are
//! cleared. A key's estimate for the sliding window `(now - window, now]` is
//!
//! ```text
//! estimate = count_current + count_previous × (fraction of the previous window
//!                                              still inside the sliding window)
//! ```
//!
//! rounded to the nearest integer (the `error` is scaled the same way), and its
//! rate is `estimate / window length in seconds`. The interpolation assumes
//! requests were spread evenly over the previous window, as in common
//! sliding-window rate limiters. Every key whose combined frequency over the
//! two windows exceeds `(N_current + N_previous) / k` is monitored in at least
//! one of the two summaries, so it is among the candidates that
//! [`HotKeys::top`] ranks.
//!
//! Times are caller-supplied milliseconds; no clock is read here. A time
//! earlier than the current window (a clock going backwards) is treated as
//! belonging to the current window.
//!
//! # Memory bound
//!
//! Each of the two summaries holds at most `capacity` counters (key, hash,
//! count, error), a heap of `capacity` indices and a hash table of at most
//! `capacity` indices, so memory is O(`capacity`) keys regardless of how many
//! distinct keys are seen — at most `2 × capacity` keys are stored. Storage
//! grows on demand up to that bound. A key is cloned only when it enters a
//! summary.

use std::hash::{BuildHasher, Hash, RandomState};

use hashbrown::HashTable;

/// One hot key, as reported by [`HotKeys::top`].
#[derive(Debug, Clone, PartialEq)]
pub struct HotKey<K> {
    /// The key.
    pub key: K,
    /// Estimated requests in the sliding window.
    pub count: u64,
    /// Upper bound of the over-estimate in `count` (the Space-Saving error).
    pub error: u64,
    /// Estimated requests per second.
    pub rate_per_sec: f64,
}

/// Bounded detector of the most requested keys over a sliding window.
///
/// See the [module documentation](self) for the algorithm and its bounds.
#[derive(Debug, Clone)]
pub struct HotKeys<K> {
    /// Maximum number of counters per summary (k).
    capacity: usize,
    /// Window length in milliseconds, at least 1.
    window_ms: u64,
    /// Index of the current window: it covers
    /// `[epoch * window_ms, (epoch + 1) * window_ms)`.
    epoch: u64,
    /// Summary of the current window.
    current: Summary<K>,
    /// Summary of the window before the current one.
    previous: Summary<K>,
    /// Hasher shared by both summaries, so a stored hash is valid in either.
    hasher: RandomState,
}

impl<K: Hash + Eq + Clone> HotKeys<K> {
    /// Creates a detector tracking `capacity` keys (k) over a sliding window
    /// of `window_ms` milliseconds.
    ///
    /// A `capacity` of 0 is raised to 1 and a `window_ms` of 0 is raised to 1.
    /// No memory is allocated until keys are recorded.
    pub fn new(capacity: usize, window_ms: u64) -> Self {
        let capacity = capacity.max(1);
        Self {
            capacity,
            window_ms: window_ms.max(1),
            epoch: 0,
            current: Summary::new(capacity),
            previous: Summary::new(capacity),
            hasher: RandomState::new(),
        }
    }

    /// Records `weight` requests for `key` at time `now_ms` (weight lets a
    /// sampled caller record 1-in-N as N).
    ///
    /// A weight of 0 is ignored entirely. A time earlier than the current
    /// window counts towards the current window. Counts saturate at
    /// `u64::MAX`. Never panics.
    pub fn record(&mut self, key: &K, weight: u64, now_ms: u64) {
        if weight == 0 {
            return;
        }
        self.advance(now_ms);
        let hash = self.hasher.hash_one(key);
        self.current.record(key, hash, weight);
    }

    /// The up-to-`n` hottest keys at `now_ms`, hottest first.
    ///
    /// Keys are ranked by estimated count (ties: smaller error first). Keys
    /// whose estimate rounds to zero are omitted. Does not modify the
    /// detector: a `now_ms` past the current window is evaluated as if the
    /// window had rotated.
    pub fn top(&self, n: usize, now_ms: u64) -> Vec<HotKey<K>> {
        if n == 0 {
            return Vec::new();
        }
        let epoch = now_ms / self.window_ms;
        // (summary of the window containing `now_ms`, summary of the window
        // before it, epoch of the former).
        let (current, previous, view_epoch) = match epoch.checked_sub(self.epoch) {
            // Same window, or the clock went backwards: same window.
            None | Some(0) => (Some(&self.current), Some(&self.previous), self.epoch),
            Some(1) => (None, Some(&self.current), epoch),
            Some(_) => return Vec::new(),
        };
        let window = self.window_ms;
        // `view_epoch * window ≤ now_ms` unless the clock went backwards, in
        // which case nothing of the current window has elapsed yet.
        let elapsed = now_ms
            .saturating_sub(view_epoch.saturating_mul(window))
            .min(window);
        let remaining = window - elapsed;
        let scale = |x: u64| -> u64 {
            let scaled = (u128::from(x) * u128::from(remaining) + u128::from(window / 2))
                / u128::from(window);
            // `remaining ≤ window`, so the result fits in a u64.
            u64::try_from(scaled).unwrap_or(u64::MAX)
        };

        let cap = current.map_or(0, Summary::len) + previous.map_or(0, Summary::len);
        let mut candidates: Vec<(u64, u64, &K)> = Vec::with_capacity(cap);
        if let Some(cur) = current {
            for slot in &cur.slots {
                let (mut count, mut error) = (slot.count, slot.error);
                if let Some(prev_slot) = previous.and_then(|p| p.get(&slot.key, slot.hash)) {
                    count = count.saturating_add(scale(prev_slot.count));
                    error = error.saturating_add(scale(prev_slot.error));
                }
                candidates.push((count, error, &slot.key));
            }
        }
        if let Some(prev) = previous {
            for slot in &prev.slots {
                let in_current = current.is_some_and(|c| c.get(&slot.key, slot.hash).is_some());
                if !in_current {
                    candidates.push((scale(slot.count), scale(slot.error), &slot.key));
                }
            }
        }
        candidates.retain(|&(count, _, _)| count > 0);

        // Hottest first; smaller error first among equal counts. A stable
        // sort keeps the remaining order deterministic.
        let by_heat = |a: &(u64, u64, &K), b: &(u64, u64, &K)| b.0.cmp(&a.0).then(a.1.cmp(&b.1));
        if n < candidates.len() {
            candidates.select_nth_unstable_by(n, by_heat);
            candidates.truncate(n);
        }
        candidates.sort_by(by_heat);

        let seconds = window as f64 / 1000.0;
        candidates
            .into_iter()
            .map(|(count, error, key)| HotKey {
                key: key.clone(),
                count,
                error,
                rate_per_sec: count as f64 / seconds,
            })
            .collect()
    }

    /// Forgets everything: both windows are emptied (allocated storage is
    /// kept for reuse).
    pub fn clear(&mut self) {
        self.current.clear();
        self.previous.clear();
        self.epoch = 0;
    }

    /// The number of keys tracked per window (k).
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// The window length in milliseconds.
    pub fn window_ms(&self) -> u64 {
        self.window_ms
    }

    /// Moves the window forward so that it contains `now_ms`; a time before
    /// the current window leaves it unchanged.
    fn advance(&mut self, now_ms: u64) {
        let epoch = now_ms / self.window_ms;
        match epoch.checked_sub(self.epoch) {
            None | Some(0) => {}
            Some(1) => {
                std::mem::swap(&mut self.current, &mut self.previous);
                self.current.clear();
                self.epoch = epoch;
            }
            Some(_) => {
                self.current.clear();
                self.previous.clear();
                self.epoch = epoch;
            }
        }
    }
}

/// One Space-Saving counter.
#[derive(Debug, Clone)]
struct Slot<K> {
    /// The monitored key.
    key: K,
    /// `HotKeys::hasher` hash of `key`.
    hash: u64,
    /// Estimated weight (over-estimates by at most `error`).
    count: u64,
    /// Count inherited from the evicted key when this key took over the slot.
    error: u64,
}

/// A Space-Saving summary of one window: at most `capacity` counters in an
/// indexed min-heap, plus a hash table from key to counter.
#[derive(Debug, Clone)]
struct Summary<K> {
    /// Maximum number of counters, at least 1.
    capacity: usize,
    /// Counters; a slot index is stable while the key stays monitored.
    slots: Vec<Slot<K>>,
    /// Min-heap (by count) of slot indices.
    heap: Vec<usize>,
    /// `pos[slot]` is the position of `slot` in `heap`.
    pos: Vec<usize>,
    /// Slot indices, hashed by their key's hash.
    table: HashTable<usize>,
}

impl<K: Hash + Eq + Clone> Summary<K> {
    fn new(capacity: usize) -> Self {
        Self {
            capacity,
            slots: Vec::new(),
            heap: Vec::new(),
            pos: Vec::new(),
            table: HashTable::new(),
        }
    }

    fn len(&self) -> usize {
        self.slots.len()
    }

    fn clear(&mut self) {
        self.slots.clear();
        self.heap.clear();
        self.pos.clear();
        self.table.clear();
    }

    fn find(&self, key: &K, hash: u64) -> Option<usize> {
        let slots = &self.slots;
        self.table
            .find(hash, |&i| slots.get(i).is_some_and(|s| s.key == *key))
            .copied()
    }

    fn get(&self, key: &K, hash: u64) -> Option<&Slot<K>> {
        self.find(key, hash).and_then(|i| self.slots.get(i))
    }

    /// Adds `weight` (≥ 1) to `key`, whose hash is `hash`.
    fn record(&mut self, key: &K, hash: u64, weight: u64) {
        if let Some(i) = self.find(key, hash) {
            let slot = &mut self.slots[i];
            slot.count = slot.count.saturating_add(weight);
            self.sift_down(self.pos[i]);
        } else if self.slots.len() < self.capacity {
            let i = self.slots.len();
            self.slots.push(Slot {
                key: key.clone(),
                hash,
                count: weight,
                error: 0,
            });
            self.pos.push(self.heap.len());
            self.heap.push(i);
            self.sift_up(self.heap.len() - 1);
            let slots = &self.slots;
            self.table.insert_unique(hash, i, |&j| slots[j].hash);
        } else {
            // Full (capacity ≥ 1, so the heap is not empty): the minimum
            // counter goes to the new key.
            let Some(&i) = self.heap.first() else {
                return;
            };
            let old_hash = self.slots[i].hash;
            if let Ok(entry) = self.table.find_entry(old_hash, |&j| j == i) {
                entry.remove();
            }
            let slot = &mut self.slots[i];
            slot.key.clone_from(key);
            slot.hash = hash;
            slot.error = slot.count;
            slot.count = slot.count.saturating_add(weight);
            self.sift_down(0);
            let slots = &self.slots;
            self.table.insert_unique(hash, i, |&j| slots[j].hash);
        }
    }

    fn count_at(&self, heap_pos: usize) -> u64 {
        self.slots[self.heap[heap_pos]].count
    }

    fn swap(&mut self, a: usize, b: usize) {
        self.heap.swap(a, b);
        self.pos[self.heap[a]] = a;
        self.pos[self.heap[b]] = b;
    }

    fn sift_up(&mut self, mut i: usize) {
        while i > 0 {
            let parent = (i - 1) / 2;
            if self.count_at(i) >= self.count_at(parent) {
                break;
            }
            self.swap(i, parent);
            i = parent;
        }
    }

    fn sift_down(&mut self, mut i: usize) {
        let len = self.heap.len();
        loop {
            let left = 2 * i + 1;
            if left >= len {
                break;
            }
            let right = left + 1;
            let child = if right < len && self.count_at(right) < self.count_at(left) {
                right
            } else {
                left
            };
            if self.count_at(child) >= self.count_at(i) {
                break;
            }
            self.swap(i, child);
            i = child;
        }
    }

    /// Checks every structural invariant; for tests.
    #[cfg(test)]
    fn assert_invariants(&self) {
        assert!(self.slots.len() <= self.capacity);
        assert_eq!(self.heap.len(), self.slots.len());
        assert_eq!(self.pos.len(), self.slots.len());
        assert_eq!(self.table.len(), self.slots.len());
        for (p, &s) in self.heap.iter().enumerate() {
            assert_eq!(self.pos[s], p, "pos/heap mismatch");
            if p > 0 {
                assert!(self.count_at((p - 1) / 2) <= self.count_at(p), "heap order");
            }
        }
        for (i, slot) in self.slots.iter().enumerate() {
            assert_eq!(self.find(&slot.key, slot.hash), Some(i), "table lookup");
            assert!(slot.error < slot.count || slot.count == u64::MAX);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    /// SplitMix64: a tiny deterministic generator.
    struct Rng(u64);

    impl Rng {
        fn next_u64(&mut self) -> u64 {
            self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let mut z = self.0;
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            z ^ (z >> 31)
        }

        /// Uniform in `[0, 1)`.
        fn next_f64(&mut self) -> f64 {
            (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
        }

        /// Uniform in `[0, n)`.
        fn below(&mut self, n: u64) -> u64 {
            self.next_u64() % n
        }
    }

    /// Zipf(s) over `0..items` by inverse CDF.
    struct Zipf {
        cdf: Vec<f64>,
    }

    impl Zipf {
        fn new(items: usize, s: f64) -> Self {
            let mut acc = 0.0;
            let mut cdf: Vec<f64> = (1..=items)
                .map(|i| {
                    acc += 1.0 / (i as f64).powf(s);
                    acc
                })
                .collect();
            for c in &mut cdf {
                *c /= acc;
            }
            Self { cdf }
        }

        fn sample(&self, rng: &mut Rng) -> u64 {
            let u = rng.next_f64();
            let i = self.cdf.partition_point(|&c| c <= u);
            i.min(self.cdf.len() - 1) as u64
        }
    }

    fn counts_of(top: &[HotKey<u64>]) -> Vec<(u64, u64)> {
        top.iter().map(|h| (h.key, h.count)).collect()
    }

    fn check<K: Hash + Eq + Clone>(h: &HotKeys<K>) {
        h.current.assert_invariants();
        h.previous.assert_invariants();
    }

    #[test]
    fn exact_when_fewer_distinct_keys_than_capacity() {
        let mut h = HotKeys::new(8, 1000);
        let want = [(1u64, 50u64), (2, 30), (3, 20), (4, 10), (5, 1)];
        let mut t = 0;
        // Interleave so the heap gets reshuffled.
        for round in 0..50 {
            for &(k, c) in &want {
                if round < c {
                    h.record(&k, 1, t);
                    t = (t + 7) % 1000;
                }
            }
        }
        check(&h);
        let top = h.top(10, 999);
        assert_eq!(counts_of(&top), want.to_vec());
        assert!(top.iter().all(|k| k.error == 0));
        // One-second window: rate equals count.
        assert!(top.iter().all(|k| k.rate_per_sec == k.count as f64));
        assert_eq!(counts_of(&h.top(2, 999)), vec![(1, 50), (2, 30)]);
        assert!(h.top(0, 999).is_empty());

        // Weighted records are exact too, and the rate scales with the window.
        let mut h = HotKeys::new(4, 500);
        h.record(&"a", 10, 0);
        h.record(&"b", 3, 1);
        h.record(&"a", 5, 2);
        let top = h.top(5, 3);
        assert_eq!(top.len(), 2);
        assert_eq!((top[0].key, top[0].count, top[0].error), ("a", 15, 0));
        assert_eq!((top[1].key, top[1].count, top[1].error), ("b", 3, 0));
        assert_eq!(top[0].rate_per_sec, 30.0);
    }

    #[test]
    fn zipf_true_top5_within_reported_top10() {
        for seed in 0..5 {
            let mut rng = Rng(seed);
            let zipf = Zipf::new(10_000, 1.1);
            let mut h = HotKeys::new(64, 60_000);
            let mut truth: HashMap<u64, u64> = HashMap::new();
            for i in 0..200_000u64 {
                // Permute ids so hot keys are not simply the small numbers.
                let key = zipf.sample(&mut rng).wrapping_mul(0x9E37_79B9_7F4A_7C15);
                h.record(&key, 1, i / 10);
                *truth.entry(key).or_default() += 1;
            }
            check(&h);
            let mut by_freq: Vec<(u64, u64)> = truth.iter().map(|(&k, &c)| (k, c)).collect();
            by_freq.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
            let top10 = h.top(10, 20_000);
            assert_eq!(top10.len(), 10);
            for &(key, true_count) in &by_freq[..5] {
                let found = top10.iter().find(|h| h.key == key);
                let found = found.unwrap_or_else(|| panic!("seed {seed}: key {key} missing"));
                assert!(found.count >= true_count);
                assert!(found.count - found.error <= true_count);
            }
            for w in top10.windows(2) {
                assert!(w[0].count >= w[1].count, "hottest first");
            }
        }
    }

    /// Builds a stream of (key, weight) with a few heavy keys hidden among
    /// many light ones, in one of several orders.
    fn stream(rng: &mut Rng, order: u64) -> Vec<(u64, u64)> {
        let heavy = 1 + rng.below(6);
        let mut out = Vec::new();
        for h in 0..heavy {
            for _ in 0..(20 + rng.below(300)) {
                out.push((h, 1 + rng.below(4)));
            }
        }
        let noise_keys = 50 + rng.below(2000);
        for _ in 0..(500 + rng.below(3000)) {
            out.push((1000 + rng.below(noise_keys), 1 + rng.below(3)));
        }
        match order {
            // Heavy keys first, then noise.
            0 => {}
            // Noise first, heavy keys last (hardest for Space-Saving).
            1 => out.reverse(),
            // Shuffled.
            _ => {
                for i in (1..out.len()).rev() {
                    let j = rng.below(i as u64 + 1) as usize;
                    out.swap(i, j);
                }
            }
        }
        out
    }

    #[test]
    fn frequent_keys_guaranteed_present_single_window() {
        let mut rng = Rng(42);
        for case in 0..60u64 {
            for k in [1usize, 2, 3, 5, 8, 16, 32] {
                let items = stream(&mut rng, case % 3);
                let mut h = HotKeys::new(k, 1_000);
                let mut truth: HashMap<u64, u64> = HashMap::new();
                let mut total = 0u64;
                for (i, &(key, w)) in items.iter().enumerate() {
                    h.record(&key, w, (i % 1000) as u64);
                    *truth.entry(key).or_default() += w;
                    total += w;
                }
                check(&h);
                assert_eq!(h.current.slots.iter().map(|s| s.count).sum::<u64>(), total);
                let top = h.top(usize::MAX, 999);
                assert!(top.len() <= k);
                for hk in &top {
                    let t = truth[&hk.key];
                    assert!(hk.count >= t, "under-estimate");
                    assert!(hk.count - hk.error <= t, "error bound too small");
                    assert!(hk.error * k as u64 <= total, "error > N/k");
                }
                for (&key, &t) in &truth {
                    if t * k as u64 > total {
                        assert!(
                            top.iter().any(|hk| hk.key == key),
                            "case {case} k {k}: key {key} with {t} of {total} missing"
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn frequent_keys_guaranteed_present_across_two_windows() {
        let mut rng = Rng(7);
        for case in 0..40u64 {
            let k = [2usize, 4, 8, 16][(case % 4) as usize];
            let first = stream(&mut rng, case % 3);
            let second = stream(&mut rng, (case + 1) % 3);
            let mut h = HotKeys::new(k, 1_000);
            let mut truth: HashMap<u64, u64> = HashMap::new();
            let mut total = 0u64;
            for (i, &(key, w)) in first.iter().enumerate() {
                h.record(&key, w, (i % 1000) as u64);
                *truth.entry(key).or_default() += w;
                total += w;
            }
            // The whole second batch at the very start of the next window:
            // the previous window then still fully overlaps the sliding one.
            for &(key, w) in &second {
                h.record(&key, w, 1000);
                *truth.entry(key).or_default() += w;
                total += w;
            }
            check(&h);
            let top = h.top(usize::MAX, 1000);
            assert!(top.len() <= 2 * k);
            for hk in &top {
                // A key missing from one summary may be under-counted there,
                // but `count - error` is always a lower bound.
                assert!(hk.count - hk.error <= truth[&hk.key]);
            }
            for (&key, &t) in &truth {
                if t * k as u64 > total {
                    assert!(top.iter().any(|hk| hk.key == key), "case {case}: {key}");
                }
            }
        }
    }

    #[test]
    fn window_rotation() {
        let mut h = HotKeys::new(4, 1000);
        for t in 0..100 {
            h.record(&"old", 1, t * 10);
        }
        let at = |h: &HotKeys<&'static str>, now| -> Vec<(&'static str, u64)> {
            h.top(10, now).iter().map(|k| (k.key, k.count)).collect()
        };
        assert_eq!(at(&h, 999), vec![("old", 100)]);
        // Halfway through the next window: half the previous window counts.
        let mid = h.top(10, 1500);
        assert_eq!(mid[0].count, 50);
        assert_eq!(mid[0].rate_per_sec, 50.0);
        assert_eq!(at(&h, 1000), vec![("old", 100)]);
        assert_eq!(at(&h, 1900), vec![("old", 10)]);
        // Two windows later (queried without recording): gone.
        assert!(h.top(10, 2000).is_empty());

        // Rotation through `record`.
        h.record(&"new", 20, 1200);
        check(&h);
        let top = h.top(10, 1500);
        assert_eq!(counts(&top), vec![("old", 50), ("new", 20)]);
        assert!(top[0].rate_per_sec < 100.0, "rate dropped");
        h.record(&"new", 20, 1700);
        assert_eq!(at(&h, 1700), vec![("new", 40), ("old", 30)]);
        // Next window: "old" (two windows ago) is gone, "new" decays.
        h.record(&"newer", 5, 2250);
        check(&h);
        assert_eq!(at(&h, 2250), vec![("new", 30), ("newer", 5)]);
        assert_eq!(at(&h, 2999), vec![("newer", 5)]);
        // More than two windows pass: everything is cleared.
        h.record(&"latest", 1, 10_000);
        check(&h);
        assert_eq!(at(&h, 10_000), vec![("latest", 1)]);
        assert!(h.previous.slots.is_empty());

        fn counts<'a>(top: &[HotKey<&'a str>]) -> Vec<(&'a str, u64)> {
            top.iter().map(|k| (k.key, k.count)).collect()
        }
    }

    #[test]
    fn time_going_backwards_stays_in_current_window() {
        let mut h = HotKeys::new(4, 1000);
        h.record(&1u64, 3, 5_500);
        h.record(&2u64, 2, 100); // backwards across windows
        h.record(&1u64, 1, 5_000);
        h.record(&3u64, 1, 0);
        check(&h);
        assert_eq!(h.epoch, 5);
        assert_eq!(counts_of(&h.top(10, 5_999)), vec![(1, 4), (2, 2), (3, 1)]);
        // Querying at an earlier time sees the current window, fully weighted.
        assert_eq!(counts_of(&h.top(10, 50)), vec![(1, 4), (2, 2), (3, 1)]);
        // After a rotation, going back still lands in the (new) current window.
        h.record(&4u64, 10, 6_100);
        h.record(&4u64, 10, 5_100);
        assert_eq!(h.epoch, 6);
        assert_eq!(
            h.top(1, 6_100)[0],
            HotKey {
                key: 4,
                count: 20,
                error: 0,
                rate_per_sec: 20.0
            }
        );
        check(&h);
    }

    #[test]
    fn zero_weight_is_ignored() {
        let mut h = HotKeys::new(2, 1000);
        h.record(&1u64, 0, 0);
        assert!(h.top(10, 0).is_empty());
        h.record(&1u64, 5, 10);
        h.record(&2u64, 3, 10);
        // A zero-weight new key must not evict anything from a full summary.
        h.record(&3u64, 0, 20);
        h.record(&1u64, 0, 20);
        // Nor advance the window.
        h.record(&3u64, 0, 50_000);
        check(&h);
        assert_eq!(counts_of(&h.top(10, 30)), vec![(1, 5), (2, 3)]);
    }

    #[test]
    fn extreme_inputs_do_not_panic() {
        let mut h = HotKeys::new(0, 0);
        assert_eq!((h.capacity(), h.window_ms()), (1, 1));
        h.record(&1u64, u64::MAX, u64::MAX);
        h.record(&1u64, u64::MAX, u64::MAX);
        h.record(&2u64, u64::MAX, u64::MAX);
        h.record(&3u64, 1, 0);
        check(&h);
        let top = h.top(usize::MAX, u64::MAX);
        assert_eq!(top.len(), 1);
        assert_eq!(top[0].count, u64::MAX);

        let mut h = HotKeys::new(3, u64::MAX);
        for t in [u64::MAX, 0, u64::MAX - 1, 1] {
            h.record(&t, u64::MAX / 2, t);
        }
        check(&h);
        assert_eq!(h.top(10, u64::MAX).len(), 3);
        assert_eq!(h.top(10, 0).len(), 3);

        let mut h = HotKeys::new(usize::MAX, 1);
        for t in 0..100u64 {
            h.record(&(t % 7), t, t / 3);
        }
        check(&h);
    }

    #[test]
    fn eviction_inherits_min_count_as_error() {
        let mut h = HotKeys::new(2, 1000);
        h.record(&1u64, 5, 0);
        h.record(&2u64, 3, 0);
        h.record(&3u64, 1, 0); // evicts key 2 (min = 3)
        check(&h);
        let top = h.top(10, 0);
        assert_eq!(
            top.iter()
                .map(|k| (k.key, k.count, k.error))
                .collect::<Vec<_>>(),
            vec![(1, 5, 0), (3, 4, 3)]
        );
        h.record(&2u64, 1, 0); // evicts key 3 (min = 4)
        let top = h.top(10, 0);
        assert_eq!(
            top.iter()
                .map(|k| (k.key, k.count, k.error))
                .collect::<Vec<_>>(),
            vec![(1, 5, 0), (2, 5, 4)]
        );
    }

    #[test]
    fn random_operations_keep_invariants() {
        let mut rng = Rng(99);
        let mut h: HotKeys<String> = HotKeys::new(16, 250);
        let mut now = 0u64;
        for step in 0..20_000 {
            match rng.below(100) {
                0 => now = now.saturating_sub(rng.below(500)),
                1..=10 => now += rng.below(200),
                _ => {}
            }
            let key = format!("k{}", rng.below(64));
            h.record(&key, rng.below(4), now);
            if step % 997 == 0 {
                check(&h);
                let top = h.top(8, now);
                assert!(top.len() <= 8);
                assert!(top.windows(2).all(|w| w[0].count >= w[1].count));
            }
            if step == 15_000 {
                h.clear();
                assert!(h.top(100, now).is_empty());
            }
        }
        check(&h);
    }
}
