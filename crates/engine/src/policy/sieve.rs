//! SIEVE (Zhang et al., NSDI 2024): one FIFO queue, a visited bit per entry and a moving hand.
//!
//! New entries enter at the head. A hit only bumps the entry's access counter (kept by the shard
//! in the entry; "visited" is a non-zero counter), so reads need no exclusive lock. To evict, the hand walks from where it last stopped toward the head,
//! clearing visited bits, and evicts the first unvisited entry; it wraps from the head back to the
//! tail. Unlike CLOCK, survivors stay where they are, so new entries are examined first
//! (quick demotion) while re-used ones are kept without being moved (lazy promotion).

use super::list::{Links, List};
use super::{Policy, Residents, Slot};

/// SIEVE over slots.
#[derive(Debug, Default)]
pub struct Sieve {
    links: Links,
    queue: List,
    /// The next slot the hand examines; `None` means start at the tail.
    hand: Option<Slot>,
}

impl Sieve {
    /// The neighbour toward the head, wrapping to the tail.
    fn toward_head(&self, slot: Slot) -> Option<Slot> {
        self.queue.prev_of(&self.links, slot).or(self.queue.tail())
    }
}

impl Policy for Sieve {
    fn name(&self) -> &'static str {
        "sieve"
    }
    fn set_capacity(&mut self, _capacity: u64) {}
    fn on_insert(&mut self, slot: Slot, _hash: u64, _weight: u32) {
        self.queue.push_head(&mut self.links, slot);
    }
    fn on_access(&mut self, _slot: Slot, _hash: u64) {}
    fn exclusive_hits(&self) -> bool {
        false
    }
    fn on_reweigh(&mut self, _slot: Slot, _old: u32, _new: u32) {}
    fn on_remove(&mut self, slot: Slot, _weight: u32) {
        if self.hand == Some(slot) {
            self.hand = self.queue.prev_of(&self.links, slot);
        }
        self.queue.unlink(&mut self.links, slot);
    }
    fn victim<R: Residents + ?Sized>(&mut self, residents: &R) -> Option<Slot> {
        let mut at = self.hand.or(self.queue.tail())?;
        // Each pass clears counters, so within two laps an unvisited entry is found.
        while residents.access(at) > 0 {
            residents.set_access(at, 0);
            at = self.toward_head(at)?;
        }
        self.hand = self.queue.prev_of(&self.links, at);
        self.queue.unlink(&mut self.links, at);
        Some(at)
    }
    fn clear(&mut self) {
        *self = Self::default();
    }
    fn reserve(&mut self, slots: usize) {
        self.links.reserve(slots);
    }
    fn heap_bytes(&self) -> usize {
        self.links.heap_bytes()
    }
}
