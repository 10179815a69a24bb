//! W-TinyLFU (Einziger, Friedman & Manes, "TinyLFU: A Highly Efficient Cache Admission Policy",
//! ACM ToS 2017), with the window sized adaptively by hill climbing as Caffeine does.
//!
//! * A **window** LRU takes every new key (initially 1 % of the capacity).
//! * The **main** region is a segmented LRU: *probation* (new to main) and *protected* (80 % of
//!   main). A hit in probation promotes to protected; protected overflow is demoted to probation.
//! * **Admission**: when the window overflows, its LRU entry becomes a *candidate* for main and
//!   competes with main's victim (probation's LRU entry). The candidate enters only if the
//!   [`FrequencySketch`] estimates it more popular than the victim; otherwise the candidate is the
//!   one evicted. One-hit wonders therefore never displace proven entries.
//! * **Window sizing** ([`WindowAdaptation`]):
//!   - *hill climbing*, as Caffeine does: every sample period (10 × capacity recorded requests)
//!     the policy compares the period's hit ratio with the previous one. If it improved, it moves
//!     the window size one more step in the same direction, otherwise it reverses; the step starts
//!     at 6.25 % of the capacity, decays by 2 % per period, and restarts at full size when the hit
//!     ratio jumps by more than 5 points (a workload change);
//!   - *ghosts*, Larder's variant, reacting per request as ARC does: candidates that admission
//!     rejected are remembered in a small ghost (10 % of the capacity) and main's displaced
//!     victims in a larger one (50 %). A miss on a recently rejected candidate means the window
//!     was too small (it grows by 1 % of the capacity); a miss on a recently displaced victim
//!     means main was too small (the window shrinks by 1 %). No sample period to wait for, so a
//!     recency-only workload (Corda) gets its large window within a few hundred requests while
//!     loops and scans keep a small one;
//!   - *static*: the initial 1 % window, as in the TinyLFU paper.
//!
//!   The window never drops below one unit, so every newcomer faces admission.
//!
//! All sizes are in weight units. Every hit must update the sketch and the LRU order, so a hit
//! needs exclusive access and the concurrent store buffers it.

use super::ghost::Ghost;
use super::list::{Links, List};
use super::sketch::FrequencySketch;
use super::{Policy, Residents, Slot};
use std::collections::VecDeque;

const NONE: u8 = 0;
const WINDOW: u8 = 1;
const PROBATION: u8 = 2;
const PROTECTED: u8 = 3;
/// Marks a probation entry that arrived from the window and has not yet faced a victim.
const CANDIDATE: u8 = 0x80;
const REGION: u8 = 0x7F;

const INITIAL_WINDOW_PERCENT: f64 = 1.0;
const PROTECTED_SHARE: f64 = 0.6;
const STEP_PERCENT: f64 = 6.25;
const STEP_DECAY: f64 = 0.98;
const RESTART_THRESHOLD: f64 = 0.05;
/// Ghost adaptation: window growth per returning rejected candidate, share of the capacity.
const GROW_STEP: f64 = 0.01;
/// Ghost adaptation: window shrink per returning displaced victim, share of the capacity.
const SHRINK_STEP: f64 = 0.01;
/// Ghost adaptation: keys remembered among rejected candidates, share of the capacity.
const REJECTED_GHOST: f64 = 0.1;
/// Ghost adaptation: keys remembered among displaced victims, share of the capacity.
const DISPLACED_GHOST: f64 = 0.5;
/// Requests per hill-climbing sample, as a multiple of the capacity in entries.
const CLIMB_PERIOD: f64 = 10.0;

/// How [`WTinyLfu`] sizes its window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WindowAdaptation {
    /// A fixed 1 % window.
    Static,
    /// Caffeine's hill climber over sample periods.
    HillClimbing,
    /// Per-request adaptation from ghosts of rejected candidates and displaced victims.
    Ghosts,
}

/// W-TinyLFU over slots.
#[derive(Debug)]
pub struct WTinyLfu {
    links: Links,
    window: List,
    probation: List,
    protected: List,
    region: Vec<u8>,
    weight: Vec<u32>,
    window_weight: u64,
    protected_weight: u64,
    capacity: u64,
    window_max: f64,
    sketch: FrequencySketch,
    candidates: VecDeque<Slot>,
    incoming: u64,
    adaptation: WindowAdaptation,
    // Hill climbing.
    sample_hits: u64,
    sample_misses: u64,
    previous_hit_rate: f64,
    step: f64,
    // Ghost-driven adaptation.
    rejected: Ghost,
    displaced: Ghost,
}

impl WTinyLfu {
    /// W-TinyLFU for `capacity` weight units, sizing its window by `adaptation`.
    pub fn new(capacity: u64, adaptation: WindowAdaptation) -> Self {
        let capacity = capacity.max(1);
        Self {
            links: Links::default(),
            window: List::default(),
            probation: List::default(),
            protected: List::default(),
            region: Vec::new(),
            weight: Vec::new(),
            window_weight: 0,
            protected_weight: 0,
            capacity,
            window_max: capacity as f64 * INITIAL_WINDOW_PERCENT / 100.0,
            sketch: FrequencySketch::new(capacity),
            candidates: VecDeque::new(),
            incoming: 0,
            adaptation,
            sample_hits: 0,
            sample_misses: 0,
            previous_hit_rate: 0.0,
            step: -(capacity as f64) * STEP_PERCENT / 100.0,
            rejected: Ghost::default(),
            displaced: Ghost::default(),
        }
    }

    /// How the window is sized.
    pub fn adaptation(&self) -> WindowAdaptation {
        self.adaptation
    }

    /// The window's current target size in weight units.
    pub fn window_target(&self) -> f64 {
        self.window_max
    }

    fn protected_max(&self) -> f64 {
        (self.capacity as f64 - self.window_max) * PROTECTED_SHARE
    }

    #[inline]
    fn w(&self, slot: Slot) -> u64 {
        u64::from(self.weight[slot as usize])
    }

    fn detach(&mut self, slot: Slot) {
        let w = self.w(slot);
        match self.region[slot as usize] & REGION {
            WINDOW => {
                self.window.unlink(&mut self.links, slot);
                self.window_weight -= w;
            }
            PROBATION => self.probation.unlink(&mut self.links, slot),
            PROTECTED => {
                self.protected.unlink(&mut self.links, slot);
                self.protected_weight -= w;
            }
            _ => {}
        }
        self.region[slot as usize] = NONE;
    }

    fn attach(&mut self, slot: Slot, region: u8) {
        let w = self.w(slot);
        match region & REGION {
            WINDOW => {
                self.window.push_head(&mut self.links, slot);
                self.window_weight += w;
            }
            PROBATION => self.probation.push_head(&mut self.links, slot),
            _ => {
                self.protected.push_head(&mut self.links, slot);
                self.protected_weight += w;
            }
        }
        self.region[slot as usize] = region;
    }

    fn demote_protected_overflow(&mut self) {
        while self.protected_weight as f64 > self.protected_max() {
            let Some(slot) = self.protected.tail() else {
                break;
            };
            self.detach(slot);
            self.attach(slot, PROBATION);
        }
    }

    /// One hill-climbing step, at the end of each sample period.
    fn climb(&mut self) {
        let requests = self.sample_hits + self.sample_misses;
        if self.adaptation != WindowAdaptation::HillClimbing
            || (requests as f64) < self.capacity as f64 * CLIMB_PERIOD
        {
            return;
        }
        let hit_rate = self.sample_hits as f64 / requests as f64;
        let change = hit_rate - self.previous_hit_rate;
        let amount = if change >= 0.0 { self.step } else { -self.step };
        self.step = if change.abs() >= RESTART_THRESHOLD {
            self.capacity as f64 * STEP_PERCENT / 100.0 * amount.signum()
        } else {
            STEP_DECAY * amount
        };
        self.previous_hit_rate = hit_rate;
        self.sample_hits = 0;
        self.sample_misses = 0;
        // At least one unit stays in the window, so that every newcomer faces admission.
        self.window_max =
            (self.window_max + amount).clamp(1.0, (self.capacity as f64 - 1.0).max(1.0));
        self.demote_protected_overflow();
    }
}

impl Policy for WTinyLfu {
    fn name(&self) -> &'static str {
        match self.adaptation {
            WindowAdaptation::Ghosts => "wtinylfu-ghost",
            _ => "wtinylfu",
        }
    }

    fn set_capacity(&mut self, capacity: u64) {
        let capacity = capacity.max(1);
        let share = self.window_max / self.capacity as f64;
        self.capacity = capacity;
        self.window_max = capacity as f64 * share;
        self.sketch = FrequencySketch::new(capacity);
        self.demote_protected_overflow();
    }

    fn on_admit(&mut self, hash: u64, weight: u32) {
        self.sketch.increment(hash);
        self.sample_misses += 1;
        self.incoming = u64::from(weight);
        if self.adaptation == WindowAdaptation::Ghosts {
            let cap = self.capacity as f64;
            if self.rejected.take(hash) {
                self.window_max = (self.window_max + cap * GROW_STEP).min((cap - 1.0).max(1.0));
            } else if self.displaced.take(hash) {
                self.window_max = (self.window_max - cap * SHRINK_STEP).max(1.0);
                self.demote_protected_overflow();
            }
        } else {
            self.climb();
        }
    }

    fn on_insert(&mut self, slot: Slot, _hash: u64, weight: u32) {
        let s = slot as usize;
        if self.region.len() <= s {
            self.region.resize(s + 1, NONE);
            self.weight.resize(s + 1, 0);
        }
        self.weight[s] = weight;
        self.incoming = 0;
        self.attach(slot, WINDOW);
        // Candidates that survived this admission are ordinary probation entries from now on.
        while let Some(candidate) = self.candidates.pop_front() {
            if self.region[candidate as usize] == PROBATION | CANDIDATE {
                self.region[candidate as usize] = PROBATION;
            }
        }
        // While the cache fills (no eviction yet), the window still keeps to its size.
        while self.window_weight as f64 > self.window_max {
            let Some(tail) = self.window.tail() else {
                break;
            };
            self.detach(tail);
            self.attach(tail, PROBATION);
        }
    }

    fn on_access(&mut self, slot: Slot, hash: u64) {
        self.sketch.increment(hash);
        self.sample_hits += 1;
        match self.region[slot as usize] & REGION {
            WINDOW => self.window.move_to_head(&mut self.links, slot),
            PROBATION => {
                self.detach(slot);
                self.attach(slot, PROTECTED);
                self.demote_protected_overflow();
            }
            PROTECTED => self.protected.move_to_head(&mut self.links, slot),
            _ => {}
        }
        self.climb();
    }

    fn exclusive_hits(&self) -> bool {
        true
    }

    fn on_reweigh(&mut self, slot: Slot, old: u32, new: u32) {
        let delta = |total: &mut u64| *total = *total - u64::from(old) + u64::from(new);
        match self.region[slot as usize] & REGION {
            WINDOW => delta(&mut self.window_weight),
            PROTECTED => delta(&mut self.protected_weight),
            _ => {}
        }
        self.weight[slot as usize] = new;
    }

    fn on_remove(&mut self, slot: Slot, _weight: u32) {
        self.detach(slot);
    }

    fn victim<R: Residents + ?Sized>(&mut self, residents: &R) -> Option<Slot> {
        // The window overflows once the incoming key joins it: its LRU entries become candidates.
        while (self.window_weight + self.incoming) as f64 > self.window_max {
            let Some(slot) = self.window.tail() else {
                break;
            };
            self.detach(slot);
            self.attach(slot, PROBATION | CANDIDATE);
            self.candidates.push_back(slot);
        }
        // The oldest candidate still waiting faces main's victim, the LRU end of probation.
        while let Some(candidate) = self.candidates.pop_front() {
            if self.region[candidate as usize] != PROBATION | CANDIDATE {
                continue; // removed, or reused by another key since
            }
            self.region[candidate as usize] = PROBATION;
            let victim = self.probation.tail().filter(|&v| v != candidate);
            let Some(victim) = victim else {
                // Main holds nothing else: the candidate stays if there is room next time.
                continue;
            };
            let (c, v) = (residents.hash(candidate), residents.hash(victim));
            let ghosts = self.adaptation == WindowAdaptation::Ghosts;
            let loser = if self.sketch.frequency(c) > self.sketch.frequency(v) {
                if ghosts {
                    let cap = (self.capacity as f64 * DISPLACED_GHOST) as usize;
                    self.displaced.insert(v, cap.max(1));
                }
                victim
            } else {
                if ghosts {
                    let cap = (self.capacity as f64 * REJECTED_GHOST) as usize;
                    self.rejected.insert(c, cap.max(1));
                }
                candidate
            };
            self.detach(loser);
            return Some(loser);
        }
        let slot = self
            .probation
            .tail()
            .or(self.protected.tail())
            .or(self.window.tail())?;
        self.detach(slot);
        Some(slot)
    }

    fn clear(&mut self) {
        *self = Self::new(self.capacity, self.adaptation);
    }

    fn reserve(&mut self, slots: usize) {
        self.links.reserve(slots);
        self.region.reserve(slots);
        self.weight.reserve(slots);
    }

    fn heap_bytes(&self) -> usize {
        self.links.heap_bytes()
            + self.region.capacity()
            + self.weight.capacity() * 4
            + self.sketch.heap_bytes()
            + self.candidates.capacity() * 4
            + self.rejected.heap_bytes()
            + self.displaced.heap_bytes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Slot `s` has hash `s`, weight 1.
    struct Identity;
    impl Residents for Identity {
        fn hash(&self, slot: Slot) -> u64 {
            u64::from(slot)
        }
        fn weight(&self, _: Slot) -> u32 {
            1
        }
        fn access(&self, _: Slot) -> u8 {
            0
        }
        fn set_access(&self, _: Slot, _: u8) {}
    }

    /// Admits `key` into a full policy the way the shard does: announce, evict, insert.
    fn admit(policy: &mut WTinyLfu, key: Slot, resident: &mut Vec<Slot>, capacity: usize) {
        policy.on_admit(u64::from(key), 1);
        if resident.len() >= capacity {
            let victim = policy.victim(&Identity).expect("a victim");
            resident.retain(|&s| s != victim);
        }
        policy.on_insert(key, u64::from(key), 1);
        resident.push(key);
    }

    #[test]
    fn frequent_keys_survive_a_stream_of_one_hit_wonders() {
        let capacity = 100;
        let mut policy = WTinyLfu::new(capacity as u64, WindowAdaptation::Static);
        let mut resident = Vec::new();
        // A working set of 50 keys, each read several times.
        for key in 0..50 {
            admit(&mut policy, key, &mut resident, capacity);
        }
        for _ in 0..5 {
            for key in 0..50 {
                policy.on_access(key, u64::from(key));
            }
        }
        // A scan of 1,000 keys seen once each.
        for key in 1000..2000 {
            admit(&mut policy, key, &mut resident, capacity);
        }
        let kept = (0..50).filter(|k| resident.contains(k)).count();
        assert!(
            kept >= 45,
            "only {kept} of 50 frequent keys survived the scan"
        );
    }
}
