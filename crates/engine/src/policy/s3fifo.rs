//! S3-FIFO: "FIFO queues are all you need for cache eviction" (Yang et al., SOSP 2023).
//!
//! Three queues: a small FIFO (10 % of the capacity) that new keys enter, a main FIFO (90 %) run
//! as a 2-bit CLOCK, and a ghost FIFO of recently evicted keys' fingerprints. A key found in the
//! ghost when it is admitted goes straight to main (as does every key admitted before the first
//! eviction once small is full). A hit only bumps the entry's own 2-bit access counter (0–3, kept
//! by the shard), so reads need no exclusive lock and touch no policy memory. Eviction:
//!
//! * from main when main holds more than its share or small is empty: a tail with a non-zero
//!   counter is decremented and reinserted at the head (lazy promotion), a tail at zero is evicted;
//! * otherwise from small: the tail moves to main if it was read at least
//!   [`MOVE_TO_MAIN`] times while in small, otherwise it is evicted and its fingerprint enters the
//!   ghost (quick demotion of one-hit wonders, which is what makes S3-FIFO scan-resistant).
//!
//! Queue shares are in weight units, so the policy works for entry counts and byte budgets alike.

use super::ghost::Ghost;
use super::list::{Links, List};
use super::{Policy, Residents, Slot};

const IN_SMALL: u8 = 1;
const IN_MAIN: u8 = 2;
/// Hits in small that earn a key its place in main.
pub const MOVE_TO_MAIN: u8 = 2;
/// Share of the capacity given to the small queue, in percent.
const SMALL_PERCENT: u64 = 10;
/// Ghost size relative to the number of resident entries, in percent.
const GHOST_PERCENT: usize = 90;

/// S3-FIFO over slots.
#[derive(Debug)]
pub struct S3Fifo {
    links: Links,
    small: List,
    main: List,
    /// Which queue each slot is on.
    queue: Vec<u8>,
    small_weight: u64,
    main_weight: u64,
    small_target: u64,
    main_target: u64,
    ghost: Ghost,
    /// Whether anything was evicted yet (before that, a full small queue spills into main).
    has_evicted: bool,
    /// The key being admitted was found in the ghost: it enters main.
    admit_to_main: bool,
}

impl S3Fifo {
    /// An S3-FIFO policy for a shard of `capacity` weight units.
    pub fn new(capacity: u64) -> Self {
        let mut policy = Self {
            links: Links::default(),
            small: List::default(),
            main: List::default(),
            queue: Vec::new(),
            small_weight: 0,
            main_weight: 0,
            small_target: 1,
            main_target: 1,
            ghost: Ghost::default(),
            has_evicted: false,
            admit_to_main: false,
        };
        policy.set_capacity(capacity);
        policy
    }

    fn ghost_capacity(&self) -> usize {
        ((self.small.len() + self.main.len()) * GHOST_PERCENT / 100).max(1)
    }
}

impl Policy for S3Fifo {
    fn name(&self) -> &'static str {
        "s3fifo"
    }

    fn set_capacity(&mut self, capacity: u64) {
        self.small_target = (capacity * SMALL_PERCENT / 100).max(1);
        self.main_target = capacity.saturating_sub(self.small_target).max(1);
    }

    fn on_admit(&mut self, hash: u64, weight: u32) {
        self.admit_to_main = self.ghost.take(hash)
            || u64::from(weight) >= self.small_target
            || (!self.has_evicted && self.small_weight >= self.small_target);
    }

    fn on_insert(&mut self, slot: Slot, _hash: u64, weight: u32) {
        let s = slot as usize;
        if self.queue.len() <= s {
            self.queue.resize(s + 1, 0);
        }
        if std::mem::take(&mut self.admit_to_main) {
            self.queue[s] = IN_MAIN;
            self.main.push_head(&mut self.links, slot);
            self.main_weight += u64::from(weight);
        } else {
            self.queue[s] = IN_SMALL;
            self.small.push_head(&mut self.links, slot);
            self.small_weight += u64::from(weight);
        }
    }

    fn on_access(&mut self, _slot: Slot, _hash: u64) {}

    fn exclusive_hits(&self) -> bool {
        false
    }

    fn on_reweigh(&mut self, slot: Slot, old: u32, new: u32) {
        let total = if self.queue[slot as usize] == IN_MAIN {
            &mut self.main_weight
        } else {
            &mut self.small_weight
        };
        *total = *total - u64::from(old) + u64::from(new);
    }

    fn on_remove(&mut self, slot: Slot, weight: u32) {
        if self.queue[slot as usize] == IN_MAIN {
            self.main.unlink(&mut self.links, slot);
            self.main_weight -= u64::from(weight);
        } else {
            self.small.unlink(&mut self.links, slot);
            self.small_weight -= u64::from(weight);
        }
    }

    fn victim<R: Residents + ?Sized>(&mut self, residents: &R) -> Option<Slot> {
        self.has_evicted = true;
        loop {
            if self.main_weight > self.main_target || self.small.is_empty() {
                let slot = self.main.pop_tail(&mut self.links)?;
                let access = residents.access(slot);
                if access > 0 {
                    residents.set_access(slot, access - 1);
                    self.main.push_head(&mut self.links, slot);
                } else {
                    self.main_weight -= u64::from(residents.weight(slot));
                    return Some(slot);
                }
            } else {
                let slot = self.small.pop_tail(&mut self.links)?;
                let weight = u64::from(residents.weight(slot));
                self.small_weight -= weight;
                if residents.access(slot) >= MOVE_TO_MAIN {
                    residents.set_access(slot, 0);
                    self.queue[slot as usize] = IN_MAIN;
                    self.main.push_head(&mut self.links, slot);
                    self.main_weight += weight;
                } else {
                    let capacity = self.ghost_capacity();
                    self.ghost.insert(residents.hash(slot), capacity);
                    return Some(slot);
                }
            }
        }
    }

    fn clear(&mut self) {
        self.links.clear();
        self.small = List::default();
        self.main = List::default();
        self.queue.clear();
        self.small_weight = 0;
        self.main_weight = 0;
        self.ghost.clear();
        self.has_evicted = false;
        self.admit_to_main = false;
    }

    fn reserve(&mut self, slots: usize) {
        self.links.reserve(slots);
        self.queue.reserve(slots);
    }

    fn heap_bytes(&self) -> usize {
        self.links.heap_bytes() + self.queue.capacity() + self.ghost.heap_bytes()
    }
}
