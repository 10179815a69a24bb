//! The two single-list policies: exact LRU and FIFO.
//!
//! Both keep resident slots on one list and evict from the tail; they differ only in what a hit
//! does. LRU moves the slot to the head (so a hit needs exclusive access and the concurrent store
//! buffers it); FIFO leaves insertion order alone (so a hit records nothing).

use super::list::{Links, List};
use super::{Policy, Residents, Slot};

/// One list of resident slots; `PROMOTE` says whether a hit moves a slot to the head.
#[derive(Debug, Default)]
pub struct QueuePolicy<const PROMOTE: bool> {
    links: Links,
    list: List,
}

/// Exact least-recently-used: a hit moves the slot to the head, the tail leaves.
pub type Lru = QueuePolicy<true>;

/// First in, first out: insertion order only; hits change nothing.
pub type Fifo = QueuePolicy<false>;

impl<const PROMOTE: bool> Policy for QueuePolicy<PROMOTE> {
    fn name(&self) -> &'static str {
        if PROMOTE { "lru" } else { "fifo" }
    }
    fn set_capacity(&mut self, _capacity: u64) {}
    #[inline]
    fn on_insert(&mut self, slot: Slot, _hash: u64, _weight: u32) {
        self.list.push_head(&mut self.links, slot);
    }
    #[inline]
    fn on_access(&mut self, slot: Slot, _hash: u64) {
        if PROMOTE {
            self.list.move_to_head(&mut self.links, slot);
        }
    }
    fn exclusive_hits(&self) -> bool {
        PROMOTE
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

#[cfg(test)]
mod tests {
    use super::*;

    struct Unweighted;
    impl Residents for Unweighted {
        fn hash(&self, _: Slot) -> u64 {
            0
        }
        fn weight(&self, _: Slot) -> u32 {
            1
        }
        fn access(&self, _: Slot) -> u8 {
            0
        }
        fn set_access(&self, _: Slot, _: u8) {}
    }

    #[test]
    fn lru_promotes_on_hit_and_fifo_does_not() {
        let (mut lru, mut fifo) = (Lru::default(), Fifo::default());
        for s in 0..3 {
            lru.on_insert(s, 0, 1);
            fifo.on_insert(s, 0, 1);
        }
        lru.on_access(0, 0);
        fifo.on_access(0, 0);
        assert_eq!(lru.victim(&Unweighted), Some(1));
        assert_eq!(fifo.victim(&Unweighted), Some(0));
        assert!(lru.exclusive_hits(), "LRU needs every hit, in order");
        assert!(!fifo.exclusive_hits());
    }
}
