//! Uniformly random eviction, as Redis `allkeys-random`: a dense array of resident slots and the
//! position of each, so insert, remove and victim are all O(1).

use super::{Policy, Residents, Slot};
use crate::rng::SplitMix64;

const ABSENT: u32 = u32::MAX;

/// Random eviction. Hits record nothing.
#[derive(Debug)]
pub struct Random {
    residents: Vec<Slot>,
    position: Vec<u32>,
    rng: SplitMix64,
}

impl Random {
    /// A random policy whose choices follow from `seed`.
    pub fn new(seed: u64) -> Self {
        Self {
            residents: Vec::new(),
            position: Vec::new(),
            rng: SplitMix64::new(seed),
        }
    }

    fn take(&mut self, slot: Slot) {
        let at = self.position[slot as usize];
        debug_assert_ne!(at, ABSENT, "slot {slot} is not resident");
        self.residents.swap_remove(at as usize);
        if let Some(&moved) = self.residents.get(at as usize) {
            self.position[moved as usize] = at;
        }
        self.position[slot as usize] = ABSENT;
    }
}

impl Policy for Random {
    fn name(&self) -> &'static str {
        "random"
    }
    fn set_capacity(&mut self, _capacity: u64) {}
    fn on_insert(&mut self, slot: Slot, _hash: u64, _weight: u32) {
        if self.position.len() <= slot as usize {
            self.position.resize(slot as usize + 1, ABSENT);
        }
        self.position[slot as usize] = self.residents.len() as u32;
        self.residents.push(slot);
    }
    fn on_access(&mut self, _slot: Slot, _hash: u64) {}
    fn exclusive_hits(&self) -> bool {
        false
    }
    fn on_reweigh(&mut self, _slot: Slot, _old: u32, _new: u32) {}
    fn on_remove(&mut self, slot: Slot, _weight: u32) {
        self.take(slot);
    }
    fn victim<R: Residents + ?Sized>(&mut self, _residents: &R) -> Option<Slot> {
        if self.residents.is_empty() {
            return None;
        }
        let slot = self.residents[self.rng.below(self.residents.len())];
        self.take(slot);
        Some(slot)
    }
    fn clear(&mut self) {
        self.residents.clear();
        self.position.clear();
    }
    fn reserve(&mut self, slots: usize) {
        self.residents.reserve(slots);
        self.position.reserve(slots);
    }
    fn heap_bytes(&self) -> usize {
        (self.residents.capacity() + self.position.capacity()) * 4
    }
}
