//! Exact least-recently-used: one list, a hit moves the slot to the head, the tail leaves.

use super::list::{Links, List};
use super::{Policy, Residents, Slot};

/// Exact LRU. A hit needs exclusive access (it relinks), so the concurrent store buffers hits.
#[derive(Debug, Default)]
pub struct Lru {
    links: Links,
    list: List,
}

impl Policy for Lru {
    fn name(&self) -> &'static str {
        "lru"
    }
    fn set_capacity(&mut self, _capacity: u64) {}
    #[inline]
    fn on_insert(&mut self, slot: Slot, _hash: u64, _weight: u32) {
        self.list.push_head(&mut self.links, slot);
    }
    #[inline]
    fn on_access(&mut self, slot: Slot) {
        self.list.move_to_head(&mut self.links, slot);
    }
    #[inline]
    fn on_access_shared(&self, _slot: Slot) -> bool {
        false
    }
    fn on_reweigh(&mut self, _slot: Slot, _old: u32, _new: u32) {}
    #[inline]
    fn on_remove(&mut self, slot: Slot, _weight: u32) {
        self.list.unlink(&mut self.links, slot);
    }
    #[inline]
    fn victim<R: Residents + ?Sized>(&mut self, _residents: &R) -> Option<Slot> {
        self.list.pop_tail(&mut self.links)
    }
    fn clear(&mut self) {
        self.links.clear();
        self.list = List::default();
    }
    fn reserve(&mut self, slots: usize) {
        self.links.reserve(slots);
    }
    fn heap_bytes(&self) -> usize {
        self.links.heap_bytes()
    }
}
