//! Belady's optimal policy (OPT, MIN): on a miss that does not fit, evict the resident object
//! whose next request is furthest in the future.
//!
//! OPT needs the future, so it cannot run inside the engine: it is replayed here, over the whole
//! trace, in two steps.
//!
//! 1. [`NextUse::new`] walks the trace once backwards with a hash map and records, for every
//!    request, the position of the next request for the same key (or "never").
//! 2. [`belady`] replays the trace with a max-heap of resident objects keyed by that position.
//!    The heap is lazy: a hit pushes the object's new next use and leaves the old entry behind,
//!    to be skipped when it surfaces, so every step is one `O(log n)` push or pop.
//!
//! # The rule, exactly
//!
//! The rule is the one of libCacheSim's `Belady` (the reference the project's figures come from),
//! which is Belady's MIN for *demand fill*, the model every other simulated policy follows:
//!
//! * A hit changes nothing but the object's next use (its resident size stays the one it was
//!   admitted with).
//! * On a miss the object is **always admitted** when it fits in an empty cache, even if it will
//!   never be requested again and even if its next use is further than every resident's: the
//!   residents with the furthest next uses are evicted until it fits, then it is inserted, so the
//!   newcomer is never its own victim. (libCacheSim keeps an "evict at once if never requested
//!   again" switch, `EVICT_IMMEDIATELY_IF_NO_FUTURE_ACCESS`, compiled out; this module matches the
//!   build without it.)
//! * Objects never requested again are evicted first. Which of them goes first does not change a
//!   single hit: they are never hit, and a live object is evicted only once all of them are gone.
//! * An object larger than the whole budget is not admitted; that request is a miss and nothing
//!   else happens.
//! * With `sized`, an object weighs its request's size (at least 1, as in
//!   [`replay`](crate::replay::replay)); otherwise every object weighs 1.
//!
//! The admission rule is what the reference figures pin down. Bypassing a newcomer whose next
//! use is further than that of every resident it would displace (the other reading of "OPT")
//! gives 490,155 hits on OLTP at 1000 entries (53.62 %) and 79,218 misses on cloudPhysicsIO at
//! 128 MiB; always admitting gives libCacheSim's 490,093 (53.61 %) and 79,256.
//!
//! For unit sizes this is the optimum of every demand-fill policy, so it is the ceiling printed
//! beside the engine's policies. With byte sizes, evicting by furthest next use is Belady's
//! heuristic, not a bound (the byte-sized optimum is NP-hard); it is still the usual reference.
//!
//! # Bounds
//!
//! A trace of at most `u32::MAX` requests; memory is 12 bytes per request for [`NextUse`] plus,
//! during a replay, at most one heap entry (8 bytes) per request and 16 bytes per distinct key.

use crate::replay::{PROGRESS_CHUNK, ReplayResult, SimPolicy};
use crate::trace::Request;
use foldhash::fast::FixedState;
use std::collections::{BinaryHeap, HashMap};

/// The future of a trace: for every request, where its key is requested next.
#[derive(Debug, Clone)]
pub struct NextUse {
    /// Dense object number (0-based, in order of last appearance) of each request's key.
    ids: Vec<u32>,
    /// Position of the next request for the same key, or `NEVER`.
    next: Vec<u32>,
    /// Number of distinct keys.
    objects: u32,
}

/// Marks "never requested again" in [`NextUse::next`].
const NEVER: u32 = u32::MAX;

impl NextUse {
    /// Computes the next use of every request with one backward pass over `requests`.
    ///
    /// # Panics
    ///
    /// If the trace has `u32::MAX` requests or more.
    pub fn new(requests: &[Request]) -> Self {
        assert!(
            requests.len() < NEVER as usize,
            "OPT handles at most {} requests",
            NEVER - 1
        );
        let mut ids = vec![0u32; requests.len()];
        let mut next = vec![NEVER; requests.len()];
        // key -> (object number, position of its latest request seen so far, walking backwards)
        let mut seen: HashMap<u64, (u32, u32), FixedState> =
            HashMap::with_hasher(FixedState::with_seed(0x0b7_1d3a));
        for (i, request) in requests.iter().enumerate().rev() {
            // `i < u32::MAX` by the assertion above.
            let i = i as u32;
            let fresh = seen.len() as u32;
            let entry = seen.entry(request.key).or_insert((fresh, NEVER));
            ids[i as usize] = entry.0;
            next[i as usize] = entry.1;
            entry.1 = i;
        }
        Self {
            ids,
            next,
            objects: seen.len() as u32,
        }
    }

    /// Number of requests covered.
    pub fn len(&self) -> usize {
        self.ids.len()
    }

    /// Whether the trace was empty.
    pub fn is_empty(&self) -> bool {
        self.ids.is_empty()
    }

    /// Number of distinct keys.
    pub fn objects(&self) -> usize {
        self.objects as usize
    }

    /// Position of the next request for the key of request `i`, `None` if it is never requested
    /// again.
    ///
    /// # Panics
    ///
    /// If `i` is out of range.
    pub fn next(&self, i: usize) -> Option<usize> {
        let next = self.next[i];
        (next != NEVER).then_some(next as usize)
    }
}

/// Replays `requests` with Belady's rule (see the [module documentation](self)) in a cache of
/// `capacity` entries, or bytes when `sized`.
pub fn belady(requests: &[Request], capacity: u64, sized: bool) -> ReplayResult {
    let future = NextUse::new(requests);
    belady_observed(requests, &future, capacity, sized, &mut |_| {})
}

/// [`belady`] with the future computed beforehand (compute it once per trace with
/// [`NextUse::new`] and share it between capacities), calling `progress` with the number of
/// requests replayed since the previous call, every [`PROGRESS_CHUNK`] requests and at the end.
///
/// [`PROGRESS_CHUNK`]: crate::replay::PROGRESS_CHUNK
///
/// # Panics
///
/// If `future` was not computed from `requests` (their lengths differ).
pub fn belady_observed(
    requests: &[Request],
    future: &NextUse,
    capacity: u64,
    sized: bool,
    progress: &mut dyn FnMut(u64),
) -> ReplayResult {
    assert_eq!(
        requests.len(),
        future.len(),
        "the future was computed for another trace"
    );
    let mut result = ReplayResult::empty(SimPolicy::Opt, capacity, sized);
    let n = requests.len() as u64;
    // Heap keys: a next-use position `p < n` stands for the object of request `p`; a key `n + id`
    // stands for object `id`, never requested again. Every key names one object, and the keys of
    // live objects order them by next use, dead ones above all of them. An object's current key
    // is in `current`; a popped key that is not its object's current key is stale and skipped.
    const ABSENT: u64 = u64::MAX;
    let objects = future.objects();
    let mut current = vec![ABSENT; objects];
    let mut weight = vec![0u32; if sized { objects } else { 0 }];
    let mut heap: BinaryHeap<u64> = BinaryHeap::new();
    let mut used: u64 = 0;
    let mut resident: usize = 0;
    let object_of = |key: u64| -> usize {
        if key < n {
            future.ids[key as usize] as usize
        } else {
            (key - n) as usize
        }
    };
    for (chunk_index, chunk) in requests.chunks(PROGRESS_CHUNK).enumerate() {
        let base = chunk_index * PROGRESS_CHUNK;
        for (offset, request) in chunk.iter().enumerate() {
            let i = base + offset;
            let id = future.ids[i] as usize;
            let next = future.next[i];
            let key = if next == NEVER {
                n + id as u64
            } else {
                u64::from(next)
            };
            result.requests += 1;
            result.bytes += u64::from(request.size);
            if current[id] != ABSENT {
                result.hits += 1;
                result.byte_hits += u64::from(request.size);
                current[id] = key;
                heap.push(key);
                continue;
            }
            let size = if sized { request.size.max(1) } else { 1 };
            if u64::from(size) > capacity {
                continue;
            }
            while used + u64::from(size) > capacity {
                // `used > 0`, so some object is resident and has its current key in the heap.
                let Some(top) = heap.pop() else { break };
                let victim = object_of(top);
                if current[victim] != top {
                    continue;
                }
                current[victim] = ABSENT;
                resident -= 1;
                used -= if sized { u64::from(weight[victim]) } else { 1 };
            }
            current[id] = key;
            if sized {
                weight[id] = size;
            }
            used += u64::from(size);
            resident += 1;
            heap.push(key);
        }
        // Drop stale entries when they dominate, so the heap stays near the resident count
        // (amortised: the next compaction is at least `resident + 4 * PROGRESS_CHUNK` pushes away).
        if heap.len() > 2 * resident + 4 * PROGRESS_CHUNK {
            heap.retain(|&key| current[object_of(key)] == key);
        }
        progress(chunk.len() as u64);
    }
    result
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn trace(keys: &[u64]) -> Vec<Request> {
        keys.iter().map(|&key| Request { key, size: 1 }).collect()
    }

    fn sized(pairs: &[(u64, u32)]) -> Vec<Request> {
        pairs
            .iter()
            .map(|&(key, size)| Request { key, size })
            .collect()
    }

    /// Belady by brute force: scan the residents for the furthest next use.
    fn brute(requests: &[Request], capacity: u64, sized: bool) -> u64 {
        let next_of = |i: usize| {
            requests[i + 1..]
                .iter()
                .position(|r| r.key == requests[i].key)
                .map_or(usize::MAX, |p| i + 1 + p)
        };
        // (key, next use, weight); dead objects tie at usize::MAX (which of them goes first does
        // not change the hits).
        let mut resident: Vec<(u64, usize, u64)> = Vec::new();
        let mut hits = 0;
        for (i, r) in requests.iter().enumerate() {
            let next = next_of(i);
            if let Some(e) = resident.iter_mut().find(|e| e.0 == r.key) {
                hits += 1;
                e.1 = next;
                continue;
            }
            let w = if sized { u64::from(r.size.max(1)) } else { 1 };
            if w > capacity {
                continue;
            }
            while resident.iter().map(|e| e.2).sum::<u64>() + w > capacity {
                let far = (0..resident.len()).max_by_key(|&j| resident[j].1).unwrap();
                resident.swap_remove(far);
            }
            resident.push((r.key, next, w));
        }
        hits
    }

    #[test]
    fn next_use_points_forward() {
        let requests = trace(&[1, 2, 1, 3, 2, 1]);
        let future = NextUse::new(&requests);
        let nexts: Vec<_> = (0..requests.len()).map(|i| future.next(i)).collect();
        assert_eq!(nexts, [Some(2), Some(4), Some(5), None, None, None]);
        assert_eq!(future.objects(), 3);
        assert_eq!(future.len(), 6);
        assert!(!future.is_empty());
        assert!(NextUse::new(&[]).is_empty());
    }

    #[test]
    fn textbook_example() {
        // The classic reference string with 3 frames: OPT takes 9 faults out of 20.
        let requests = trace(&[7, 0, 1, 2, 0, 3, 0, 4, 2, 3, 0, 3, 2, 1, 2, 0, 1, 7, 0, 1]);
        let result = belady(&requests, 3, false);
        assert_eq!(result.misses(), 9);
        assert_eq!(result.policy, SimPolicy::Opt);
        assert_eq!(result.requests, 20);
    }

    #[test]
    fn a_newcomer_is_admitted_even_when_it_is_never_reused() {
        // Capacity 1: `2` is never requested again, yet it is admitted and evicts `1`, so the
        // last request for `1` misses (demand fill, as libCacheSim's Belady).
        let requests = trace(&[1, 2, 1]);
        assert_eq!(belady(&requests, 1, false).hits, 0);
        // Capacity 2: both fit.
        assert_eq!(belady(&requests, 2, false).hits, 1);
    }

    #[test]
    fn oversized_objects_are_not_admitted() {
        let requests = sized(&[(1, 5), (2, 20), (1, 5), (2, 20)]);
        let result = belady(&requests, 10, true);
        assert_eq!(result.hits, 1);
        assert_eq!(result.byte_hits, 5);
        assert_eq!(result.bytes, 50);
        // Unit sizes ignore the byte sizes.
        assert_eq!(belady(&requests, 2, false).hits, 2);
    }

    #[test]
    fn matches_brute_force_on_pseudo_random_traces() {
        let mut state = 0x1234_5678_u64;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        for round in 0..60 {
            let keys = 2 + round % 23;
            let requests: Vec<Request> = (0..400)
                .map(|_| {
                    let r = next();
                    Request {
                        key: r % keys,
                        size: 1 + (r >> 32) as u32 % 9,
                    }
                })
                .collect();
            for capacity in [1, 2, 3, 5, 8, 13] {
                let unit = belady(&requests, capacity, false).hits;
                assert_eq!(unit, brute(&requests, capacity, false), "unit {capacity}");
            }
            for capacity in [4, 9, 17, 30, 60] {
                let bytes = belady(&requests, capacity, true).hits;
                assert_eq!(bytes, brute(&requests, capacity, true), "sized {capacity}");
            }
        }
    }

    #[test]
    fn progress_adds_up_to_the_trace() {
        let requests = trace(&(0..200_000u64).map(|i| i % 1000).collect::<Vec<_>>());
        let future = NextUse::new(&requests);
        let mut seen = 0;
        let mut calls = 0;
        let result = belady_observed(&requests, &future, 100, false, &mut |n| {
            seen += n;
            calls += 1;
        });
        assert_eq!(seen, 200_000);
        assert_eq!(calls, 200_000usize.div_ceil(PROGRESS_CHUNK));
        // A loop of 1000 keys in 100 slots: OPT keeps 99 of them between two passes.
        assert!(result.hits > 0);
    }
}
