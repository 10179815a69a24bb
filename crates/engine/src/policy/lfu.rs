//! Least-frequently-used with aging.
//!
//! Each resident slot has an access counter and the tick of its last access; an indexed binary
//! min-heap ordered by `(count, tick)` yields the victim: the least used entry, and among equally
//! used ones the least recently used. Aging: after every `10 × resident` recorded accesses (the
//! sample period TinyLFU uses) all counters are halved and the heap is rebuilt in O(n), amortised
//! to O(1) per access. So an entry that was hot yesterday but is no longer requested loses half
//! its advantage each period and eventually leaves. Insert, hit and removal are O(log n).

use super::{Policy, Residents, Slot};

const ABSENT: u32 = u32::MAX;
const MIN_AGING_PERIOD: u64 = 64;

#[derive(Debug, Clone, Copy, Default)]
struct Rank {
    count: u32,
    tick: u64,
}

impl Rank {
    #[inline]
    fn key(self) -> (u32, u64) {
        (self.count, self.tick)
    }
}

/// LFU with periodic halving of counters.
#[derive(Debug, Default)]
pub struct Lfu {
    heap: Vec<Slot>,
    position: Vec<u32>,
    rank: Vec<Rank>,
    tick: u64,
    since_aging: u64,
}

impl Lfu {
    /// The access count currently credited to a resident slot (for tests and introspection).
    pub fn count(&self, slot: Slot) -> Option<u32> {
        let at = *self.position.get(slot as usize)?;
        (at != ABSENT).then(|| self.rank[slot as usize].count)
    }

    #[inline]
    fn less(&self, a: Slot, b: Slot) -> bool {
        self.rank[a as usize].key() < self.rank[b as usize].key()
    }

    #[inline]
    fn place(&mut self, at: usize, slot: Slot) {
        self.heap[at] = slot;
        self.position[slot as usize] = at as u32;
    }

    fn sift_up(&mut self, mut at: usize) {
        let slot = self.heap[at];
        while at > 0 {
            let parent = (at - 1) / 2;
            if !self.less(slot, self.heap[parent]) {
                break;
            }
            let p = self.heap[parent];
            self.place(at, p);
            at = parent;
        }
        self.place(at, slot);
    }

    fn sift_down(&mut self, mut at: usize) {
        let slot = self.heap[at];
        let len = self.heap.len();
        loop {
            let left = 2 * at + 1;
            if left >= len {
                break;
            }
            let right = left + 1;
            let child = if right < len && self.less(self.heap[right], self.heap[left]) {
                right
            } else {
                left
            };
            if !self.less(self.heap[child], slot) {
                break;
            }
            let c = self.heap[child];
            self.place(at, c);
            at = child;
        }
        self.place(at, slot);
    }

    fn remove_at(&mut self, at: usize) -> Slot {
        let slot = self.heap[at];
        let last = self.heap.pop().unwrap_or(slot);
        self.position[slot as usize] = ABSENT;
        if at < self.heap.len() {
            self.place(at, last);
            self.sift_down(at);
            self.sift_up(self.position[last as usize] as usize);
        }
        slot
    }

    fn next_tick(&mut self) -> u64 {
        self.tick += 1;
        self.tick
    }

    fn age_if_due(&mut self) {
        self.since_aging += 1;
        let period = (self.heap.len() as u64 * 10).max(MIN_AGING_PERIOD);
        if self.since_aging < period {
            return;
        }
        self.since_aging = 0;
        for &slot in &self.heap {
            let rank = &mut self.rank[slot as usize];
            rank.count = (rank.count / 2).max(1);
        }
        for at in (0..self.heap.len() / 2).rev() {
            self.sift_down(at);
        }
    }
}

impl Policy for Lfu {
    fn name(&self) -> &'static str {
        "lfu"
    }
    fn set_capacity(&mut self, _capacity: u64) {}
    fn on_insert(&mut self, slot: Slot, _hash: u64, _weight: u32) {
        let s = slot as usize;
        if self.position.len() <= s {
            self.position.resize(s + 1, ABSENT);
            self.rank.resize(s + 1, Rank::default());
        }
        let tick = self.next_tick();
        self.rank[s] = Rank { count: 1, tick };
        self.heap.push(slot);
        self.sift_up(self.heap.len() - 1);
        self.age_if_due();
    }
    fn on_access(&mut self, slot: Slot, _hash: u64) {
        let tick = self.next_tick();
        let rank = &mut self.rank[slot as usize];
        rank.count = rank.count.saturating_add(1);
        rank.tick = tick;
        self.sift_down(self.position[slot as usize] as usize);
        self.age_if_due();
    }
    fn exclusive_hits(&self) -> bool {
        true
    }
    fn on_reweigh(&mut self, _slot: Slot, _old: u32, _new: u32) {}
    fn on_remove(&mut self, slot: Slot, _weight: u32) {
        let at = self.position[slot as usize];
        debug_assert_ne!(at, ABSENT, "slot {slot} is not resident");
        self.remove_at(at as usize);
    }
    fn victim<R: Residents + ?Sized>(&mut self, _residents: &R) -> Option<Slot> {
        (!self.heap.is_empty()).then(|| self.remove_at(0))
    }
    fn clear(&mut self) {
        self.heap.clear();
        self.position.clear();
        self.rank.clear();
        self.since_aging = 0;
    }
    fn reserve(&mut self, slots: usize) {
        self.heap.reserve(slots);
        self.position.reserve(slots);
        self.rank.reserve(slots);
    }
    fn heap_bytes(&self) -> usize {
        (self.heap.capacity() + self.position.capacity()) * 4
            + self.rank.capacity() * std::mem::size_of::<Rank>()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct NoResidents;
    impl Residents for NoResidents {
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
    fn evicts_least_used_then_least_recent() {
        let mut lfu = Lfu::default();
        for s in 0..4 {
            lfu.on_insert(s, 0, 1);
        }
        lfu.on_access(0, 0);
        lfu.on_access(0, 0);
        lfu.on_access(2, 0);
        // counts: 0→3, 1→1, 2→2, 3→1; among 1 and 3, 1 is older.
        assert_eq!(lfu.victim(&NoResidents), Some(1));
        assert_eq!(lfu.victim(&NoResidents), Some(3));
        assert_eq!(lfu.victim(&NoResidents), Some(2));
        assert_eq!(lfu.victim(&NoResidents), Some(0));
        assert_eq!(lfu.victim(&NoResidents), None);
    }

    #[test]
    fn aging_lets_yesterdays_hot_key_leave() {
        let mut lfu = Lfu::default();
        lfu.on_insert(0, 0, 1);
        for _ in 0..1000 {
            lfu.on_access(0, 0); // yesterday's hot key
        }
        lfu.on_insert(1, 0, 1);
        // Today only slot 1 is requested; halving keeps eroding slot 0's lead.
        for _ in 0..2000 {
            lfu.on_access(1, 0);
        }
        let (old, new) = (lfu.count(0).unwrap(), lfu.count(1).unwrap());
        assert!(
            old < new,
            "aged count {old} should fall below today's {new}"
        );
        assert_eq!(lfu.victim(&NoResidents), Some(0));
    }

    #[test]
    fn removal_from_the_middle_keeps_the_heap_valid() {
        let mut lfu = Lfu::default();
        for s in 0..50 {
            lfu.on_insert(s, 0, 1);
            for _ in 0..(s * 7 % 11) {
                lfu.on_access(s, 0);
            }
        }
        for s in (0..50).step_by(3) {
            lfu.on_remove(s, 1);
        }
        let mut last = (0, 0);
        while let Some(slot) = lfu.victim(&NoResidents) {
            assert!(slot % 3 != 0);
            let key = lfu.rank[slot as usize].key();
            assert!(key >= last, "victims must come out in (count, tick) order");
            last = key;
        }
    }
}
