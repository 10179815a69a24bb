//! A ghost queue: the fingerprints of recently evicted keys, without their values.
//!
//! Policies that adapt to what they evicted too early (S3-FIFO, the ghost-driven W-TinyLFU) ask
//! "was this key evicted recently?". The ghost keeps the 32-bit fingerprints of the last
//! `capacity` evicted keys in exact first-in-first-out order (a ring), and a membership set of the
//! same fingerprints: an open-addressing array with linear probing at about 70 % load and
//! backward-shift deletion, so deletions leave no tombstones and the array never grows with churn
//! (a general-purpose hash table doubles under this pattern). Memory: about 10 bytes per
//! remembered key, fixed. A fingerprint collision only makes a key look recently evicted when it
//! was not: a slightly different placement, never a wrong value.
//!
//! A *stamped* ghost ([`Ghost::stamped`]) gives the low 8 bits of each word to a caller's stamp
//! (the adaptive S3-FIFO stores a coarse eviction time there, to tell how long ago a returning key
//! left) and keeps 24 fingerprint bits, at no extra memory.

use std::collections::VecDeque;

const EMPTY: u32 = 0;
/// The bits of a stamped word that carry the stamp.
const STAMP_BITS: u32 = 0xFF;

#[inline]
fn fingerprint(hash: u64) -> u32 {
    // Never zero, which marks an empty slot.
    (hash as u32) | 1
}

/// A bounded FIFO of evicted-key fingerprints with O(1) expected membership.
#[derive(Debug, Default)]
pub(crate) struct Ghost {
    order: VecDeque<u32>,
    slots: Box<[u32]>,
    members: usize,
    /// Words carry an 8-bit stamp below 24 fingerprint bits.
    stamped: bool,
}

impl Ghost {
    /// A ghost whose entries carry an 8-bit stamp (see the [module documentation](self)).
    pub(crate) fn stamped() -> Self {
        Self {
            stamped: true,
            ..Self::default()
        }
    }

    /// The bits of a word that identify the key.
    #[inline]
    fn key_bits(&self) -> u32 {
        if self.stamped { !STAMP_BITS } else { !0 }
    }

    /// The word stored for `hash` with `stamp` (ignored unless stamped); never [`EMPTY`].
    #[inline]
    fn word(&self, hash: u64, stamp: u8) -> u32 {
        if self.stamped {
            (((hash as u32) | (STAMP_BITS + 1)) & !STAMP_BITS) | u32::from(stamp)
        } else {
            fingerprint(hash)
        }
    }

    #[inline]
    fn home(&self, word: u32) -> usize {
        // Multiply-shift over the fingerprint's mixed bits: any table length works.
        let mixed = u64::from(word & self.key_bits()).wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 32;
        ((mixed * self.slots.len() as u64) >> 32) as usize
    }

    #[inline]
    fn next(&self, at: usize) -> usize {
        if at + 1 == self.slots.len() {
            0
        } else {
            at + 1
        }
    }

    /// Sizes the set for `capacity` keys at about 70 % load, keeping what it remembers.
    ///
    /// The policies ask for a capacity that follows the shard's resident entries, which move
    /// with every change of a byte budget. A resize therefore keeps the remembered fingerprints
    /// (dropping the oldest beyond a smaller capacity) and leaves room for a sixteenth more keys,
    /// so that a capacity creeping up one key at a time does not reallocate every time.
    fn fit(&mut self, capacity: usize) {
        let wanted = Self::slots_for(capacity);
        if wanted <= self.slots.len() && wanted * 2 >= self.slots.len() {
            return;
        }
        self.forget_beyond(capacity);
        let kept: Vec<u32> = self.slots.iter().copied().filter(|&w| w != EMPTY).collect();
        let grown = Self::slots_for(capacity + capacity / 16);
        self.slots = vec![EMPTY; grown].into_boxed_slice();
        self.members = 0;
        for word in kept {
            self.add(word);
        }
        let records = Self::records_for(capacity + capacity / 16);
        if self.order.capacity() < records {
            self.order.reserve_exact(records - self.order.len());
        } else if self.order.capacity() > 2 * records {
            self.order.shrink_to(records);
        }
    }

    /// Slots of the membership set for `capacity` keys: about 70 % load.
    fn slots_for(capacity: usize) -> usize {
        capacity + capacity * 3 / 7 + 8
    }

    /// Records the order ring keeps for `capacity` keys: records of keys taken since they were
    /// remembered are skipped as they come up, bounded to a sixteenth more.
    fn records_for(capacity: usize) -> usize {
        capacity + capacity / 16 + 16
    }

    /// Forgets the oldest fingerprints until fewer than `capacity` keys are remembered and the
    /// ring has room for one more record.
    fn forget_beyond(&mut self, capacity: usize) {
        let records = Self::records_for(capacity);
        while self.members >= capacity || self.order.len() >= records {
            match self.order.pop_front() {
                Some(old) => {
                    self.delete(old);
                }
                None => break,
            }
        }
    }

    fn add(&mut self, word: u32) {
        let mut at = self.home(word);
        while self.slots[at] != EMPTY {
            at = self.next(at);
        }
        self.slots[at] = word;
        self.members += 1;
    }

    /// Removes one word with the key bits of `word`, and returns it.
    fn delete(&mut self, word: u32) -> Option<u32> {
        let key_bits = self.key_bits();
        let mut at = self.home(word);
        loop {
            match self.slots[at] {
                EMPTY => return None,
                w if w & key_bits == word & key_bits => break,
                _ => at = self.next(at),
            }
        }
        let found = self.slots[at];
        // Backward shift: pull later entries of the probe run into the hole when their home
        // position allows it, so lookups never need tombstones.
        let mut hole = at;
        let mut scan = self.next(hole);
        while self.slots[scan] != EMPTY {
            let home = self.home(self.slots[scan]);
            let movable = if hole <= scan {
                home <= hole || home > scan
            } else {
                home <= hole && home > scan
            };
            if movable {
                self.slots[hole] = self.slots[scan];
                hole = scan;
            }
            scan = self.next(scan);
        }
        self.slots[hole] = EMPTY;
        self.members -= 1;
        Some(found)
    }

    /// Remembers `hash`, forgetting the oldest fingerprints beyond `capacity`.
    pub(crate) fn insert(&mut self, hash: u64, capacity: usize) {
        self.insert_stamped(hash, 0, capacity);
    }

    /// Remembers `hash` with `stamp` (kept only by a stamped ghost), forgetting the oldest
    /// fingerprints beyond `capacity`.
    pub(crate) fn insert_stamped(&mut self, hash: u64, stamp: u8, capacity: usize) {
        if capacity == 0 {
            return;
        }
        self.fit(capacity);
        self.forget_beyond(capacity);
        let word = self.word(hash, stamp);
        self.order.push_back(word);
        self.add(word);
    }

    /// If `hash` is remembered, forgets it and returns `true`.
    pub(crate) fn take(&mut self, hash: u64) -> bool {
        self.take_stamped(hash).is_some()
    }

    /// If `hash` is remembered, forgets it and returns its stamp (0 in an unstamped ghost).
    pub(crate) fn take_stamped(&mut self, hash: u64) -> Option<u8> {
        if self.slots.is_empty() {
            return None;
        }
        let found = self.delete(self.word(hash, 0))?;
        Some(if self.stamped {
            (found & STAMP_BITS) as u8
        } else {
            0
        })
    }

    pub(crate) fn clear(&mut self) {
        self.order.clear();
        self.slots.fill(EMPTY);
        self.members = 0;
    }

    pub(crate) fn heap_bytes(&self) -> usize {
        self.order.capacity() * 4 + self.slots.len() * 4
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remembers_recent_and_forgets_oldest() {
        let mut ghost = Ghost::default();
        let h = |i: u64| i.wrapping_mul(0x9E37_79B9_7F4A_7C15);
        for i in 1..=4u64 {
            ghost.insert(h(i), 3);
        }
        assert!(!ghost.take(h(1)), "the oldest was forgotten at capacity 3");
        assert!(ghost.take(h(3)));
        assert!(!ghost.take(h(3)), "taking forgets");
        assert!(ghost.take(h(4)));
    }

    #[test]
    fn stamped_entries_return_their_stamp() {
        let mut ghost = Ghost::stamped();
        let h = |i: u64| i.wrapping_mul(0x9E37_79B9_7F4A_7C15);
        for i in 1..=300u64 {
            ghost.insert_stamped(h(i), i as u8, 200);
        }
        assert_eq!(ghost.take_stamped(h(50)), None, "forgotten at capacity 200");
        assert_eq!(ghost.take_stamped(h(101)), Some(101));
        assert_eq!(ghost.take_stamped(h(300)), Some(300u64 as u8));
        assert_eq!(ghost.take_stamped(h(300)), None, "taking forgets");
        assert!(ghost.take(h(299)));
        // A stamp of 0 with fingerprint bits of 0 is still a member, not an empty slot.
        ghost.insert_stamped(0, 0, 200);
        assert_eq!(ghost.take_stamped(0), Some(0));
        let mut plain = Ghost::default();
        plain.insert_stamped(h(7), 9, 10);
        assert_eq!(
            plain.take_stamped(h(7)),
            Some(0),
            "an unstamped ghost keeps no stamp"
        );
    }

    #[test]
    fn a_resize_keeps_what_is_remembered() {
        let mut ghost = Ghost::stamped();
        let h = |i: u64| i.wrapping_mul(0x9E37_79B9_7F4A_7C15);
        // The capacity creeps up one key at a time, as a shard's resident entries do under a
        // growing byte budget: nothing is forgotten on the way.
        for i in 1..=400u64 {
            ghost.insert_stamped(h(i), i as u8, 100 + i as usize);
        }
        assert!((1..=400u64).all(|i| ghost.take_stamped(h(i)) == Some(i as u8)));
        // A capacity cut to a tenth keeps the newest keys.
        let mut ghost = Ghost::default();
        for i in 1..=400u64 {
            ghost.insert(h(i), 400);
        }
        ghost.insert(h(401), 40);
        assert!(ghost.heap_bytes() < 400 * 4, "the set shrank");
        assert!(
            (362..=401u64).all(|i| ghost.take(h(i))),
            "the newest are kept"
        );
        assert!(
            (1..362u64).all(|i| !ghost.take(h(i))),
            "the oldest are forgotten"
        );
    }

    #[test]
    fn membership_survives_heavy_churn_exactly() {
        let mut ghost = Ghost::default();
        let capacity = 1000;
        let hash = |i: u64| i.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 7;
        for i in 0..50_000u64 {
            ghost.insert(hash(i), capacity);
            if i % 3 == 0 {
                ghost.take(hash(i.saturating_sub(500)));
            }
        }
        let allocated = ghost.heap_bytes();
        // Key j was taken iff j = i - 500 for some i < 50,000 with i % 3 == 0.
        let taken = |j: u64| j + 500 < 50_000 && (j + 500) % 3 == 0;
        for j in 49_000..50_000u64 {
            assert_eq!(ghost.take(hash(j)), !taken(j), "recent key {j}");
        }
        assert!(
            (0..48_000u64).all(|i| !ghost.take(hash(i))),
            "old keys are forgotten"
        );
        assert_eq!(ghost.heap_bytes(), allocated, "no growth under churn");
    }
}
