//! SIEVE (Zhang et al., NSDI 2024): one FIFO queue, a visited bit per entry and a moving hand.
//!
//! New entries enter at the head. A hit only sets the visited bit (an atomic store, so reads need
//! no exclusive lock). To evict, the hand walks from where it last stopped toward the head,
//! clearing visited bits, and evicts the first unvisited entry; it wraps from the head back to the
//! tail. Unlike CLOCK, survivors stay where they are, so new entries are examined first
//! (quick demotion) while re-used ones are kept without being moved (lazy promotion).

use super::list::{Links, List};
use super::{Policy, Residents, Slot};
use std::sync::atomic::{AtomicBool, Ordering};

/// SIEVE over slots.
#[derive(Debug, Default)]
pub struct Sieve {
    links: Links,
    queue: List,
    visited: Vec<AtomicBool>,
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
        let s = slot as usize;
        if self.visited.len() <= s {
            self.visited.resize_with(s + 1, AtomicBool::default);
        }
        *self.visited[s].get_mut() = false;
        self.queue.push_head(&mut self.links, slot);
    }
    fn on_access(&mut self, slot: Slot, _hash: u64) {
        self.on_access_shared(slot);
    }
    #[inline]
    fn on_access_shared(&self, slot: Slot) -> bool {
        let bit = &self.visited[slot as usize];
        if !bit.load(Ordering::Relaxed) {
            bit.store(true, Ordering::Relaxed);
        }
        true
    }
    fn on_reweigh(&mut self, _slot: Slot, _old: u32, _new: u32) {}
    fn on_remove(&mut self, slot: Slot, _weight: u32) {
        if self.hand == Some(slot) {
            self.hand = self.queue.prev_of(&self.links, slot);
        }
        self.queue.unlink(&mut self.links, slot);
    }
    fn victim<R: Residents + ?Sized>(&mut self, _residents: &R) -> Option<Slot> {
        let mut at = self.hand.or(self.queue.tail())?;
        // Each pass clears bits, so within two laps an unvisited entry is found.
        loop {
            let bit = self.visited[at as usize].get_mut();
            if !*bit {
                break;
            }
            *bit = false;
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
        self.visited.reserve(slots);
    }
    fn heap_bytes(&self) -> usize {
        self.links.heap_bytes() + self.visited.capacity()
    }
}
