//! Two FIFO queues of slots as rings of slot numbers, with removal from the middle by lazy
//! deletion: what S3-FIFO needs (its small and main queues only ever push at one end and pop at
//! the other, or remove an entry that was deleted), in 4 bytes per queued slot and 1 byte per
//! slot, where a doubly linked list needs 8 bytes of links per slot.
//!
//! Removing a slot leaves its number in the ring as a *stale copy*, skipped when it reaches the
//! front. The slot may be pushed again before that (the shard reuses freed slots), so a ring can
//! hold several copies of one slot; each slot's byte counts its stale copies per ring, and that
//! is exact because of an ordering fact: every stale copy of a slot in a ring was pushed before
//! the slot's live copy there (a copy turns stale when the slot is removed, and the live copy
//! is the one pushed after the last removal). So when a copy reaches the front, it is stale if
//! and only if the slot still has stale copies in that ring. No generation numbers are needed.
//!
//! Bounds: a slot's stale copies per ring are counted in 3 bits; when a count would pass 7, or a
//! ring holds more than twice its live slots plus 64, the ring is compacted (its stale copies
//! dropped, in order, O(ring)), so a ring holds at most about twice its live slots and removals
//! cost O(1) amortised.

use super::Slot;
use std::collections::VecDeque;

/// Stale copies of one slot in one ring at most (3 bits).
const STALE_MAX: u8 = 7;
/// Slack beyond twice the live slots a ring may hold before it is compacted.
const SLACK: usize = 64;

/// Two FIFO rings of slots (see the [module docs](self)).
#[derive(Debug, Default)]
pub struct Rings {
    rings: [VecDeque<Slot>; 2],
    live: [usize; 2],
    /// Per slot: bits 0–1 the ring the slot is live on (0 none, 1 ring 0, 2 ring 1), bits 2–4
    /// and 5–7 its stale copies in ring 0 and ring 1.
    tags: Vec<u8>,
}

#[inline]
fn stale_shift(ring: usize) -> u32 {
    2 + 3 * ring as u32
}

#[inline]
fn stale(tag: u8, ring: usize) -> u8 {
    (tag >> stale_shift(ring)) & STALE_MAX
}

impl Rings {
    /// The ring `slot` is live on, if any.
    #[inline]
    pub fn ring_of(&self, slot: Slot) -> Option<usize> {
        match self.tags.get(slot as usize).map(|t| t & 3) {
            Some(1) => Some(0),
            Some(2) => Some(1),
            _ => None,
        }
    }

    /// Live slots on `ring`.
    #[inline]
    pub fn len(&self, ring: usize) -> usize {
        self.live[ring]
    }

    /// Appends `slot`, which must not be live on either ring, to the back of `ring`.
    #[inline]
    pub fn push(&mut self, ring: usize, slot: Slot) {
        let s = slot as usize;
        if self.tags.len() <= s {
            self.tags.resize(s + 1, 0);
        }
        debug_assert_eq!(self.tags[s] & 3, 0, "slot {slot} is already queued");
        self.tags[s] = (self.tags[s] & !3) | (ring as u8 + 1);
        let queue = &mut self.rings[ring];
        if queue.len() == queue.capacity() {
            // Grow by an eighth, not by doubling: shards that fill evenly grow together, and a
            // small step keeps the process's memory from jumping (see `slab.rs`).
            queue.reserve_exact((queue.len() / 8).max(16));
        }
        queue.push_back(slot);
        self.live[ring] += 1;
    }

    /// Takes `slot` off the ring it is live on (its copy there turns stale); returns that ring.
    pub fn remove(&mut self, slot: Slot) -> Option<usize> {
        let ring = self.ring_of(slot)?;
        if stale(self.tags[slot as usize], ring) == STALE_MAX {
            self.compact(ring);
        }
        let tag = &mut self.tags[slot as usize];
        *tag = (*tag & !3) + (1 << stale_shift(ring));
        self.live[ring] -= 1;
        if self.rings[ring].len() > 2 * self.live[ring] + SLACK {
            self.compact(ring);
        }
        Some(ring)
    }

    /// Takes the oldest live slot off `ring`, or `None` if it has none.
    pub fn pop(&mut self, ring: usize) -> Option<Slot> {
        while let Some(slot) = self.rings[ring].pop_front() {
            let tag = &mut self.tags[slot as usize];
            if stale(*tag, ring) > 0 {
                *tag -= 1 << stale_shift(ring);
                continue;
            }
            debug_assert_eq!(usize::from(*tag & 3), ring + 1, "a live copy of {slot}");
            *tag &= !3;
            self.live[ring] -= 1;
            return Some(slot);
        }
        None
    }

    /// Drops every stale copy from `ring`, keeping the order of the live ones.
    fn compact(&mut self, ring: usize) {
        let tags = &mut self.tags;
        self.rings[ring].retain(|&slot| {
            let tag = &mut tags[slot as usize];
            if stale(*tag, ring) > 0 {
                *tag -= 1 << stale_shift(ring);
                false
            } else {
                true
            }
        });
        let queue = &mut self.rings[ring];
        if queue.capacity() > 4 * queue.len().max(SLACK) {
            queue.shrink_to(2 * queue.len());
        }
    }

    /// Forgets every slot.
    pub fn clear(&mut self) {
        *self = Rings::default();
    }

    /// Makes room for `slots` slots on `ring` (and their tags).
    pub fn reserve(&mut self, ring: usize, slots: usize) {
        self.rings[ring].reserve(slots);
        self.tags.reserve(slots);
    }

    /// Heap bytes held.
    pub fn heap_bytes(&self) -> usize {
        self.rings
            .iter()
            .map(|r| r.capacity() * size_of::<Slot>())
            .sum::<usize>()
            + self.tags.capacity()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[derive(Debug, Clone)]
    enum Op {
        Push(usize, Slot),
        Remove(Slot),
        Pop(usize),
    }

    fn op() -> impl Strategy<Value = Op> {
        // Few slots, so that slots are removed and pushed again while stale copies remain.
        prop_oneof![
            3 => (0..2usize, 0..12u32).prop_map(|(r, s)| Op::Push(r, s)),
            2 => (0..12u32).prop_map(Op::Remove),
            1 => (0..2usize).prop_map(Op::Pop),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]
        #[test]
        fn behaves_as_two_fifo_queues_with_removal(ops in prop::collection::vec(op(), 0..600)) {
            let mut rings = Rings::default();
            let mut model: [VecDeque<Slot>; 2] = Default::default();
            for op in ops {
                match op {
                    Op::Push(ring, slot) => {
                        if model.iter().all(|q| !q.contains(&slot)) {
                            rings.push(ring, slot);
                            model[ring].push_back(slot);
                        }
                    }
                    Op::Remove(slot) => {
                        let expected = (0..2).find(|&r| model[r].contains(&slot));
                        if let Some(r) = expected {
                            model[r].retain(|&s| s != slot);
                        }
                        prop_assert_eq!(rings.remove(slot), expected);
                    }
                    Op::Pop(ring) => prop_assert_eq!(rings.pop(ring), model[ring].pop_front()),
                }
                for (r, queue) in model.iter().enumerate() {
                    prop_assert_eq!(rings.len(r), queue.len());
                    prop_assert!(rings.rings[r].len() <= 2 * queue.len() + SLACK);
                }
                for slot in 0..12 {
                    let expected = (0..2).find(|&r| model[r].contains(&slot));
                    prop_assert_eq!(rings.ring_of(slot), expected);
                }
            }
            for (r, queue) in model.iter_mut().enumerate() {
                while let Some(slot) = queue.pop_front() {
                    prop_assert_eq!(rings.pop(r), Some(slot));
                }
                prop_assert_eq!(rings.pop(r), None);
            }
        }
    }

    #[test]
    fn removals_without_pops_stay_bounded() {
        // A cache that never evicts still deletes: the rings must not grow with the churn.
        let mut rings = Rings::default();
        for round in 0..10_000u32 {
            let slot = round % 100;
            rings.push((round % 2) as usize, slot);
            rings.remove(slot);
        }
        assert_eq!(rings.len(0) + rings.len(1), 0);
        assert!(rings.rings.iter().all(|r| r.len() <= SLACK + 1));
    }
}
