//! First in, first out: insertion order only; hits change nothing.

use super::list::{Links, List};
use super::{Policy, Residents, Slot};

/// FIFO. A hit records nothing, so reads never need exclusive access.
#[derive(Debug, Default)]
pub struct Fifo {
    links: Links,
    list: List,
}

impl Policy for Fifo {
    fn name(&self) -> &'static str {
        "fifo"
    }
    fn set_capacity(&mut self, _capacity: u64) {}
    #[inline]
    fn on_insert(&mut self, slot: Slot, _hash: u64, _weight: u32) {
        self.list.push_head(&mut self.links, slot);
    }
    #[inline]
    fn on_access(&mut self, _slot: Slot) {}
    #[inline]
    fn on_access_shared(&self, _slot: Slot) -> bool {
        true
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
