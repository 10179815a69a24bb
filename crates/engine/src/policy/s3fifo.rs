//! S3-FIFO: "FIFO queues are all you need for cache eviction" (Yang et al., SOSP 2023).
//!
//! Three queues: a small FIFO (10 % of the capacity) that new keys enter, a main FIFO (90 %) run
//! as a 2-bit CLOCK, and a ghost FIFO of recently evicted keys' fingerprints. A key found in the
//! ghost when it is admitted goes straight to main (as does every key admitted before the first
//! eviction once small is full). A hit only bumps a 2-bit counter (0–3) with an atomic store, so
//! reads need no exclusive lock. Eviction:
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
use std::sync::atomic::{AtomicU8, Ordering};

const FREQ_MASK: u8 = 0b011;
const IN_MAIN: u8 = 0b100;
const MAX_FREQ: u8 = 3;
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
    state: Vec<AtomicU8>,
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
            state: Vec::new(),
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

    #[inline]
    fn state(&self, slot: Slot) -> u8 {
        self.state[slot as usize].load(Ordering::Relaxed)
    }

    #[inline]
    fn set_state(&mut self, slot: Slot, value: u8) {
        *self.state[slot as usize].get_mut() = value;
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
        if self.state.len() <= s {
            self.state.resize_with(s + 1, AtomicU8::default);
        }
        if std::mem::take(&mut self.admit_to_main) {
            self.set_state(slot, IN_MAIN);
            self.main.push_head(&mut self.links, slot);
            self.main_weight += u64::from(weight);
        } else {
            self.set_state(slot, 0);
            self.small.push_head(&mut self.links, slot);
            self.small_weight += u64::from(weight);
        }
    }

    #[inline]
    fn on_access(&mut self, slot: Slot, _hash: u64) {
        self.on_access_shared(slot);
    }

    #[inline]
    fn on_access_shared(&self, slot: Slot) -> bool {
        let cell = &self.state[slot as usize];
        let state = cell.load(Ordering::Relaxed);
        if state & FREQ_MASK < MAX_FREQ {
            // A lost increment under a race is harmless: the counter is a hint.
            cell.store(state + 1, Ordering::Relaxed);
        }
        true
    }

    fn on_reweigh(&mut self, slot: Slot, old: u32, new: u32) {
        let total = if self.state(slot) & IN_MAIN != 0 {
            &mut self.main_weight
        } else {
            &mut self.small_weight
        };
        *total = *total - u64::from(old) + u64::from(new);
    }

    fn on_remove(&mut self, slot: Slot, weight: u32) {
        if self.state(slot) & IN_MAIN != 0 {
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
                let state = self.state(slot);
                if state & FREQ_MASK > 0 {
                    self.set_state(slot, state - 1);
                    self.main.push_head(&mut self.links, slot);
                } else {
                    self.main_weight -= u64::from(residents.weight(slot));
                    return Some(slot);
                }
            } else {
                let slot = self.small.pop_tail(&mut self.links)?;
                let weight = u64::from(residents.weight(slot));
                self.small_weight -= weight;
                if self.state(slot) & FREQ_MASK >= MOVE_TO_MAIN {
                    self.set_state(slot, IN_MAIN);
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
        self.state.clear();
        self.small_weight = 0;
        self.main_weight = 0;
        self.ghost.clear();
        self.has_evicted = false;
        self.admit_to_main = false;
    }

    fn reserve(&mut self, slots: usize) {
        self.links.reserve(slots);
        self.state.reserve(slots);
    }

    fn heap_bytes(&self) -> usize {
        self.links.heap_bytes() + self.state.capacity() + self.ghost.heap_bytes()
    }
}
