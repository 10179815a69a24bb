//! S3-FIFO: "FIFO queues are all you need for cache eviction" (Yang et al., SOSP 2023), and
//! Larder's adaptive variant, the default policy.
//!
//! Three queues: a small FIFO (10 % of the capacity) that new keys enter, a main FIFO (90 %) run
//! as a 2-bit CLOCK, and a ghost FIFO of recently evicted keys' fingerprints. A key found in the
//! ghost when it is admitted goes straight to main (as do every key admitted before the first
//! eviction once small is full, and an entry heavier than the whole small queue). A hit only
//! bumps the entry's own 2-bit access counter (0–3, kept by the shard), so reads need no exclusive
//! lock and touch no policy memory. Eviction:
//!
//! * from main when main holds more than its share or small is empty: a tail with a non-zero
//!   counter is decremented and reinserted at the head (lazy promotion), a tail at zero is evicted;
//! * otherwise from small: the tail moves to main if it was read at least
//!   [`MOVE_TO_MAIN`] times while in small, otherwise it is evicted and its fingerprint enters the
//!   ghost (quick demotion of one-hit wonders, which is what makes S3-FIFO scan-resistant).
//!
//! Queue shares are in weight units, so the policy works for entry counts and byte budgets alike.
//!
//! # The adaptive variant (`s3fifo-adaptive`)
//!
//! The small queue's share decides what S3-FIFO is good at. A small queue of 1 % (LIRS keeps 1 %
//! of its cache for such keys) protects main from loops and scans longer than the cache; a share of
//! 10–20 % serves recency-heavy traces whose keys are reused soon after their first access (on the
//! ARC OLTP trace at 1,000 entries, 1 % gives 35.7 % hits and 10 % gives 40.9 %; on the LIRS glimpse
//! trace it is the other way round, 50.8 % and 44.3 %). The adaptive variant starts at 1 % and
//! moves the share, ARC-style, towards whichever queue would have caught more of the recent misses
//! had it been a little larger:
//!
//! * the small queue's ghost entries are stamped with a coarse eviction time (the weight evicted
//!   from small so far, in steps of 2.5 % of the capacity); a key that comes back to the ghost
//!   within [`WINDOW_PERCENT`] % of the capacity's worth of small evictions would have been a
//!   hit in a slightly larger small queue: the share grows by the key's weight;
//! * a second, unstamped ghost remembers main's last evictions ([`WINDOW_PERCENT`] % of the
//!   resident entries); a key found there would have been a hit in a slightly larger main queue:
//!   the share shrinks by the key's weight. The key itself enters small, as any new key.
//!
//! Only *recent* returns count. A key that comes back to the small queue's ghost after a long loop
//! would need a small queue as large as the loop to hit, so it enters main as in S3-FIFO but does
//! not grow the share; that is what keeps the share small on loops, where the counting ARC rule
//! would grow it. The share stays between 0.5 % and 50 % of the capacity. Hits still touch only
//! the entry's counter. Memory: the main ghost adds about 1 byte per entry (10 bytes per
//! remembered key, for 10 % of the entries); the stamps live in the small ghost's fingerprints
//! (24 bits of fingerprint instead of 32).

use super::ghost::Ghost;
use super::rings::Rings;
use super::{Policy, Residents, Slot};

/// The small queue's ring.
const SMALL: usize = 0;
/// The main queue's ring.
const MAIN: usize = 1;
/// Hits in small that earn a key its place in main.
pub const MOVE_TO_MAIN: u8 = 2;
/// Share of the capacity given to the small queue, in percent.
const SMALL_PERCENT: u64 = 10;
/// Ghost size relative to the number of resident entries, in percent.
const GHOST_PERCENT: usize = 90;
/// Adaptive variant: the small queue's initial share of the capacity, in per mille.
const ADAPTIVE_INITIAL_PER_MILLE: u64 = 10;
/// Adaptive variant: the smallest share of the capacity the small queue keeps, in per mille.
const ADAPTIVE_MIN_PER_MILLE: u64 = 5;
/// Adaptive variant: the largest share of the capacity the small queue takes, in per mille.
const ADAPTIVE_MAX_PER_MILLE: u64 = 500;
/// Adaptive variant: how recent a ghost hit must be to move the small queue's share, in percent of
/// the capacity (evicted from small) or of the resident entries (the main ghost's size).
const WINDOW_PERCENT: u64 = 10;
/// Adaptive variant: eviction-time stamps per window.
const EPOCHS_PER_WINDOW: u64 = 4;

/// S3-FIFO over slots, with a fixed or an adaptive small queue.
#[derive(Debug)]
pub struct S3Fifo {
    /// The small and main queues (FIFO rings of slots; a slot's byte says which it is on).
    queues: Rings,
    small_weight: u64,
    main_weight: u64,
    small_target: u64,
    main_target: u64,
    ghost: Ghost,
    /// Whether anything was evicted yet (before that, a full small queue spills into main).
    has_evicted: bool,
    /// The key being admitted was found in the ghost: it enters main.
    admit_to_main: bool,
    /// The capacity in weight units.
    capacity: u64,
    /// The adaptive variant's state, if this is it.
    adaptive: Option<Adaptive>,
}

/// What the adaptive variant adds: the main queue's ghost and the clock of small's evictions.
#[derive(Debug)]
struct Adaptive {
    /// Keys recently evicted from main.
    main_ghost: Ghost,
    /// Weight evicted from small so far: the small ghost's clock.
    small_evicted: u64,
    /// Weight evicted from small per stamp step.
    epoch_weight: u64,
}

impl S3Fifo {
    /// An S3-FIFO policy for a shard of `capacity` weight units.
    pub fn new(capacity: u64) -> Self {
        Self::build(capacity, None)
    }

    /// The adaptive variant for `capacity` weight units. The small queue starts at 1 % of the
    /// capacity, and its share moves by the weight of each returning key: up when the key comes
    /// back to the small queue's ghost within 10 % of the capacity's worth of small-queue
    /// evictions (a slightly larger small queue would have hit it), down when it comes back to a
    /// ghost of main's last evictions (10 % of the entries). The share stays within 0.5–50 % of
    /// the capacity; hits still only bump the entry's access counter. The figures and the
    /// argument for it as the default are in `docs/hit-ratio.md`.
    pub fn adaptive(capacity: u64) -> Self {
        let adaptive = Adaptive {
            main_ghost: Ghost::default(),
            small_evicted: 0,
            epoch_weight: 1,
        };
        Self::build(capacity, Some(adaptive))
    }

    fn build(capacity: u64, adaptive: Option<Adaptive>) -> Self {
        let ghost = if adaptive.is_some() {
            Ghost::stamped()
        } else {
            Ghost::default()
        };
        let mut policy = Self {
            queues: Rings::default(),
            small_weight: 0,
            main_weight: 0,
            small_target: 1,
            main_target: 1,
            ghost,
            has_evicted: false,
            admit_to_main: false,
            capacity: 0,
            adaptive,
        };
        policy.set_capacity(capacity);
        policy
    }

    /// Whether this is the adaptive variant.
    pub fn is_adaptive(&self) -> bool {
        self.adaptive.is_some()
    }

    /// The small queue's current target in weight units (fixed at 10 % of the capacity unless
    /// adaptive).
    pub fn small_target(&self) -> u64 {
        self.small_target
    }

    fn ghost_capacity(&self, percent: usize) -> usize {
        ((self.queues.len(SMALL) + self.queues.len(MAIN)) * percent / 100).max(1)
    }

    /// Moves the adaptive small queue's target by `delta` weight units, within its bounds.
    fn shift_small(&mut self, delta: i64) {
        let low = (self.capacity * ADAPTIVE_MIN_PER_MILLE / 1000).max(1);
        let high = (self.capacity * ADAPTIVE_MAX_PER_MILLE / 1000).max(1);
        self.small_target = self
            .small_target
            .saturating_add_signed(delta)
            .clamp(low, high);
        self.main_target = self.capacity.saturating_sub(self.small_target).max(1);
    }
}

impl Adaptive {
    /// The small ghost's clock in stamp steps (wrapping: a window spans a few steps).
    fn epoch(&self) -> u8 {
        (self.small_evicted / self.epoch_weight) as u8
    }
}

impl Policy for S3Fifo {
    fn name(&self) -> &'static str {
        if self.is_adaptive() {
            "s3fifo-adaptive"
        } else {
            "s3fifo"
        }
    }

    fn set_capacity(&mut self, capacity: u64) {
        let previous = self.capacity;
        self.capacity = capacity;
        let Some(adaptive) = &mut self.adaptive else {
            self.small_target = (capacity * SMALL_PERCENT / 100).max(1);
            self.main_target = capacity.saturating_sub(self.small_target).max(1);
            return;
        };
        adaptive.epoch_weight = (capacity * WINDOW_PERCENT / 100 / EPOCHS_PER_WINDOW).max(1);
        // A resize keeps the learned share of the capacity.
        self.small_target = if previous == 0 {
            capacity * ADAPTIVE_INITIAL_PER_MILLE / 1000
        } else {
            (u128::from(self.small_target) * u128::from(capacity) / u128::from(previous)) as u64
        };
        self.shift_small(0);
    }

    fn on_admit(&mut self, hash: u64, weight: u32) {
        let from_ghost = match &mut self.adaptive {
            None => self.ghost.take(hash),
            Some(adaptive) => {
                let (found, delta) = match self.ghost.take_stamped(hash) {
                    // Evicted from small within the window: a larger small would have hit.
                    Some(stamp) => {
                        let age = u64::from(adaptive.epoch().wrapping_sub(stamp));
                        (true, i64::from(age <= EPOCHS_PER_WINDOW))
                    }
                    // Evicted from main recently: a larger main would have hit.
                    None => (false, -i64::from(adaptive.main_ghost.take(hash))),
                };
                if delta != 0 {
                    self.shift_small(delta * i64::from(weight));
                }
                found
            }
        };
        self.admit_to_main = from_ghost
            || u64::from(weight) > self.small_target
            || (!self.has_evicted && self.small_weight >= self.small_target);
    }

    fn on_insert(&mut self, slot: Slot, _hash: u64, weight: u32) {
        if std::mem::take(&mut self.admit_to_main) {
            self.queues.push(MAIN, slot);
            self.main_weight += u64::from(weight);
        } else {
            self.queues.push(SMALL, slot);
            self.small_weight += u64::from(weight);
        }
    }

    fn on_access(&mut self, _slot: Slot, _hash: u64) {}

    fn exclusive_hits(&self) -> bool {
        false
    }

    fn on_reweigh(&mut self, slot: Slot, old: u32, new: u32) {
        let total = match self.queues.ring_of(slot) {
            Some(MAIN) => &mut self.main_weight,
            Some(_) => &mut self.small_weight,
            None => return,
        };
        *total = *total - u64::from(old) + u64::from(new);
    }

    fn on_remove(&mut self, slot: Slot, weight: u32) {
        match self.queues.remove(slot) {
            Some(MAIN) => self.main_weight -= u64::from(weight),
            Some(_) => self.small_weight -= u64::from(weight),
            None => {}
        }
    }

    fn victim<R: Residents + ?Sized>(&mut self, residents: &R) -> Option<Slot> {
        self.has_evicted = true;
        loop {
            if self.main_weight > self.main_target || self.queues.len(SMALL) == 0 {
                let slot = self.queues.pop(MAIN)?;
                let access = residents.access(slot);
                if access > 0 {
                    residents.set_access(slot, access - 1);
                    self.queues.push(MAIN, slot);
                } else {
                    self.main_weight -= u64::from(residents.weight(slot));
                    let capacity = self.ghost_capacity(WINDOW_PERCENT as usize);
                    if let Some(adaptive) = &mut self.adaptive {
                        adaptive.main_ghost.insert(residents.hash(slot), capacity);
                    }
                    return Some(slot);
                }
            } else {
                let slot = self.queues.pop(SMALL)?;
                let weight = u64::from(residents.weight(slot));
                self.small_weight -= weight;
                if residents.access(slot) >= MOVE_TO_MAIN {
                    residents.set_access(slot, 0);
                    self.queues.push(MAIN, slot);
                    self.main_weight += weight;
                } else {
                    let capacity = self.ghost_capacity(GHOST_PERCENT);
                    let stamp = match &mut self.adaptive {
                        Some(adaptive) => {
                            let stamp = adaptive.epoch();
                            adaptive.small_evicted += weight;
                            stamp
                        }
                        None => 0,
                    };
                    self.ghost
                        .insert_stamped(residents.hash(slot), stamp, capacity);
                    return Some(slot);
                }
            }
        }
    }

    fn clear(&mut self) {
        self.queues.clear();
        self.small_weight = 0;
        self.main_weight = 0;
        self.ghost.clear();
        self.has_evicted = false;
        self.admit_to_main = false;
        if let Some(adaptive) = &mut self.adaptive {
            adaptive.main_ghost.clear();
            adaptive.small_evicted = 0;
            // Back to the initial share.
            let capacity = std::mem::take(&mut self.capacity);
            self.set_capacity(capacity);
        }
    }

    fn reserve(&mut self, slots: usize) {
        // Nearly every entry ends up in main; small grows to its share as it fills.
        self.queues.reserve(MAIN, slots);
    }

    fn heap_bytes(&self) -> usize {
        self.queues.heap_bytes()
            + self.ghost.heap_bytes()
            + self
                .adaptive
                .as_ref()
                .map_or(0, |adaptive| adaptive.main_ghost.heap_bytes())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::shard::{Shard, ShardConfig};
    use foldhash::fast::FixedState;

    /// Replays `keys` through a shard of `capacity` entries driven by `policy` (a miss inserts);
    /// returns the shard and the hits.
    fn replay(
        policy: S3Fifo,
        capacity: u64,
        keys: impl Iterator<Item = u64>,
    ) -> (Shard<u64, u64, FixedState, S3Fifo>, u64) {
        let config = ShardConfig::entries(capacity);
        let mut shard = Shard::with_policy(config, FixedState::with_seed(7), policy);
        let mut hits = 0;
        for key in keys {
            if shard.get(&key).is_some() {
                hits += 1;
            } else {
                shard.insert(key, key).expect("fits");
            }
        }
        (shard, hits)
    }

    #[test]
    fn the_small_queue_stays_small_on_a_loop_longer_than_the_cache() {
        // A loop over 1,500 keys, 20 times, through 1,000 entries: returns to the small queue's
        // ghost are a whole loop old, so they never grow the small queue, and main keeps a fixed
        // subset of the loop.
        let keys = (0..20 * 1500u64).map(|i| i % 1500);
        let (shard, hits) = replay(S3Fifo::adaptive(1000), 1000, keys);
        let small = shard.policy().small_target();
        assert!(small <= 10, "small queue grew to {small} entries on a loop");
        let (_, fixed) = replay(S3Fifo::new(1000), 1000, (0..20 * 1500u64).map(|i| i % 1500));
        assert!(
            hits > 20 * 500 && hits > fixed,
            "{hits} hits (static S3-FIFO {fixed})"
        );
    }

    #[test]
    fn the_small_queue_grows_when_keys_return_soon_after_leaving_it() {
        // Every key is read twice, 50 new keys apart, and never again (a recency-only pattern,
        // like the Corda trace): a 1 % small queue evicts each key before its second read, and
        // the returns to its ghost are recent (within 10 % of the capacity's evictions), so the
        // small queue grows until it holds the reuse, where static S3-FIFO hits from the start.
        let pattern = || {
            (0..100_000u64).map(|i| {
                if i % 2 == 0 {
                    i / 2
                } else {
                    (i / 2).saturating_sub(50)
                }
            })
        };
        let (shard, hits) = replay(S3Fifo::adaptive(1000), 1000, pattern());
        let small = shard.policy().small_target();
        assert!(small >= 50, "small queue at {small} entries");
        let (_, fixed) = replay(S3Fifo::new(1000), 1000, pattern());
        assert!(
            hits > 49_000 && fixed > 49_000,
            "{hits} and {fixed} hits of 50,000 possible"
        );
        assert_eq!(shard.policy().name(), "s3fifo-adaptive");
    }

    #[test]
    fn clear_and_resize_keep_the_bounds() {
        let mut policy = S3Fifo::adaptive(1000);
        assert_eq!(policy.small_target(), 10, "starts at 1 %");
        policy.shift_small(10_000);
        assert_eq!(policy.small_target(), 500, "at most half the capacity");
        policy.set_capacity(2000);
        assert_eq!(policy.small_target(), 1000, "a resize keeps the share");
        policy.shift_small(-10_000);
        assert_eq!(policy.small_target(), 10, "at least 0.5 %");
        policy.clear();
        assert_eq!(policy.small_target(), 20, "clear starts over at 1 %");
        let fixed = S3Fifo::new(1000);
        assert_eq!((fixed.small_target(), fixed.name()), (100, "s3fifo"));
    }
}
