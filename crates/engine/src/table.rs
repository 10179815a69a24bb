//! The index of a slab whose entries keep their slot: key hash → slot number, in cache-line
//! groups. The engine's shards and the server's large collections use it.
//!
//! A lookup on a large cache is bound by dependent memory loads. A SwissTable of slot numbers
//! (what the shards used before) costs three: the control bytes, then the slot number, which lives
//! in a separate array, then the slab entry. Here each 64-byte `Group` holds the tags *and* the
//! slot numbers of up to [`WIDTH`] entries, so a lookup costs two: the group, then the entry.
//!
//! Open addressing over groups with linear probing: a hash picks its home group from its low 56
//! bits (scaled to the number of groups, which need not be a power of two, so a table reserved
//! for a capacity is sized to it) and a one-byte tag from its top 8 (0 marks an empty place). An
//! entry goes to the first group from its home with a free place; every full group it passes
//! counts it in `overflow`, so a lookup stops at the first group whose tag bytes miss and whose
//! `overflow` is zero (or after one lap: under churn, every group of a small table can have been
//! passed), and a removal decrements the counts it incremented. There are no tombstones: a
//! removed place is free at once, and the table never needs rehashing to recover from churn.
//!
//! Bounds: the table grows by half when it would pass 7/8 of its places and is rebuilt smaller
//! on request ([`SlotTable::shrink_if_sparse`]) when under about a quarter full; 64 bytes per 12
//! places, so 6.1 bytes per entry when full and 9.1 just after growing. A probe visits at most
//! every group once. Hashes are not stored: growth asks the caller for them.

use std::fmt;

/// Places per group.
pub const WIDTH: usize = 12;

/// One cache line: 12 tags, the count of entries that probed past it, 12 slot numbers.
#[derive(Clone, Copy)]
#[repr(C, align(64))]
struct Group {
    tags: [u8; WIDTH],
    overflow: u32,
    slots: [u32; WIDTH],
}

const EMPTY_GROUP: Group = Group {
    tags: [0; WIDTH],
    overflow: 0,
    slots: [0; WIDTH],
};

/// The hash bits that pick the home group.
const HOME_BITS: u64 = (1 << 56) - 1;

const LOW_BITS: u128 = 0x0101_0101_0101_0101_0101_0101_0101_0101;
const HIGH_BITS: u128 = 0x8080_8080_8080_8080_8080_8080_8080_8080;
/// The high bit of each of the 12 tag bytes.
const TAG_FLAGS: u128 = 0x8080_8080_8080_8080_8080_8080;

impl Group {
    /// The places whose tag is `tag`, in order.
    #[inline]
    fn matching(&self, tag: u8) -> Matches {
        let t = &self.tags;
        let tags = u128::from_le_bytes([
            t[0], t[1], t[2], t[3], t[4], t[5], t[6], t[7], t[8], t[9], t[10], t[11], 0, 0, 0, 0,
        ]);
        // Bytes equal to `tag` become 0; then the high bit is set exactly in the zero bytes
        // (the additions cannot carry from one byte into the next).
        let x = tags ^ (LOW_BITS * u128::from(tag));
        let zero = !(((x & !HIGH_BITS) + !HIGH_BITS) | x | !HIGH_BITS);
        Matches(zero & TAG_FLAGS)
    }
}

/// Places of a group, as the high bit of byte `place` of a 128-bit word.
#[derive(Clone, Copy, Debug)]
struct Matches(u128);

impl Iterator for Matches {
    type Item = usize;

    #[inline]
    fn next(&mut self) -> Option<usize> {
        if self.0 == 0 {
            return None;
        }
        let place = (self.0.trailing_zeros() / 8) as usize;
        self.0 &= self.0 - 1;
        Some(place)
    }
}

/// The tag of a hash: its top byte, never 0 (which marks an empty place).
#[inline]
fn tag_of(hash: u64) -> u8 {
    let top = (hash >> 56) as u8;
    top | u8::from(top == 0)
}

/// Key hash → slot number, for a slab whose entries keep their slot (see the module docs).
#[derive(Clone)]
pub struct SlotTable {
    groups: Vec<Group>,
    len: usize,
    /// The groups reserved at construction, which shrinking keeps.
    reserved: usize,
}

impl Default for SlotTable {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Debug for SlotTable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SlotTable")
            .field("len", &self.len)
            .field("groups", &self.groups.len())
            .finish()
    }
}

impl SlotTable {
    /// An empty table; allocates nothing until the first insert.
    pub fn new() -> Self {
        Self {
            groups: Vec::new(),
            len: 0,
            reserved: 0,
        }
    }

    /// A table with room for `entries` before it grows; shrinking keeps that room.
    pub fn with_capacity(entries: usize) -> Self {
        let reserved = groups_for(entries);
        Self {
            groups: vec![EMPTY_GROUP; reserved],
            len: 0,
            reserved,
        }
    }

    /// Entries in the table.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether the table has no entry.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Entries it holds before it grows.
    pub fn capacity(&self) -> usize {
        max_len(self.groups.len())
    }

    /// Heap bytes of the table.
    pub fn heap_bytes(&self) -> usize {
        self.groups.capacity() * std::mem::size_of::<Group>()
    }

    /// The group a hash starts probing from: its low 56 bits scaled to the number of groups
    /// (the tag takes the top 8), so the table needs no power-of-two size.
    #[inline]
    fn home(&self, hash: u64) -> usize {
        (((hash & HOME_BITS) as u128 * self.groups.len() as u128) >> 56) as usize
    }

    /// The group after `at`, wrapping around.
    #[inline]
    fn next(&self, at: usize) -> usize {
        if at + 1 == self.groups.len() {
            0
        } else {
            at + 1
        }
    }

    /// The slot under `hash` that `is_it` accepts, asked only of slots whose tag matches.
    #[inline]
    pub fn find(&self, hash: u64, mut is_it: impl FnMut(u32) -> bool) -> Option<u32> {
        if self.groups.is_empty() {
            return None;
        }
        let tag = tag_of(hash);
        let mut at = self.home(hash);
        for _ in 0..self.groups.len() {
            let group = &self.groups[at];
            for place in group.matching(tag) {
                if is_it(group.slots[place]) {
                    return Some(group.slots[place]);
                }
            }
            if group.overflow == 0 {
                return None;
            }
            at = self.next(at);
        }
        None
    }

    /// Asks for the home group of `hash` to be loaded (a hint: see [`crate::prefetch`]).
    #[inline]
    pub fn prefetch(&self, hash: u64) {
        if !self.groups.is_empty() {
            crate::prefetch::prefetch(&self.groups[self.home(hash)]);
        }
    }

    /// The first slot in the home group of `hash` whose tag matches, without asking which key
    /// it holds: the likely slot of `hash`, for a prefetch.
    #[inline]
    pub fn likely_slot(&self, hash: u64) -> Option<u32> {
        let group = self.groups.get(self.home(hash))?;
        let place = group.matching(tag_of(hash)).next()?;
        Some(group.slots[place])
    }

    /// Adds `slot` under `hash` (the caller knows it is not there yet); grows first if full,
    /// asking `rehash` for the hash of every slot already in.
    pub fn insert(&mut self, hash: u64, slot: u32, rehash: impl Fn(u32) -> u64) {
        if self.len >= self.capacity() {
            // ×1.5, not ×2: in a server whose shards fill evenly they all grow at once, and the
            // smaller step halves that jump in the process's memory (groups need not be a power
            // of two).
            let grown = self.groups.len() + self.groups.len() / 2;
            self.rebuild(groups_for(self.len + 1).max(grown), rehash);
        }
        self.place(hash, slot);
        self.len += 1;
    }

    fn place(&mut self, hash: u64, slot: u32) {
        let tag = tag_of(hash);
        let mut at = self.home(hash);
        loop {
            let group = &mut self.groups[at];
            if let Some(free) = group.matching(0).next() {
                group.tags[free] = tag;
                group.slots[free] = slot;
                return;
            }
            // Below 7/8 load there is always a free place, so this ends within the table.
            group.overflow += 1;
            at = self.next(at);
        }
    }

    /// Removes `slot`, which was inserted under `hash`; false if it is not there.
    pub fn remove(&mut self, hash: u64, slot: u32) -> bool {
        if self.groups.is_empty() {
            return false;
        }
        let tag = tag_of(hash);
        let home = self.home(hash);
        let mut at = home;
        for _ in 0..self.groups.len() {
            let group = &mut self.groups[at];
            for place in group.matching(tag) {
                if group.slots[place] == slot {
                    group.tags[place] = 0;
                    // Undo the counts its insertion made in the full groups it passed.
                    let mut passed = home;
                    while passed != at {
                        self.groups[passed].overflow -= 1;
                        passed = self.next(passed);
                    }
                    self.len -= 1;
                    return true;
                }
            }
            if group.overflow == 0 {
                return false;
            }
            at = self.next(at);
        }
        false
    }

    /// Empties the table, keeping its room.
    pub fn clear(&mut self) {
        self.groups.fill(EMPTY_GROUP);
        self.len = 0;
    }

    /// Rebuilds the table at the size its entries need, but no smaller than it was reserved,
    /// when that is at most a quarter of its size (after mass removals); `rehash` gives each
    /// slot's hash.
    pub fn shrink_if_sparse(&mut self, rehash: impl Fn(u32) -> u64) {
        if self.fitting_groups() * 4 <= self.groups.len() {
            self.shrink_to_fit(rehash);
        }
    }

    /// Rebuilds the table at the size its entries need (no smaller than reserved) if that is
    /// smaller than it is; `rehash` gives each slot's hash.
    pub fn shrink_to_fit(&mut self, rehash: impl Fn(u32) -> u64) {
        let needed = self.fitting_groups();
        if needed < self.groups.len() {
            self.rebuild(needed, rehash);
        }
    }

    /// The groups the entries need, no fewer than were reserved.
    fn fitting_groups(&self) -> usize {
        groups_for(self.len).max(self.reserved)
    }

    fn rebuild(&mut self, groups: usize, rehash: impl Fn(u32) -> u64) {
        let old = std::mem::replace(&mut self.groups, vec![EMPTY_GROUP; groups]);
        for group in &old {
            for (place, &tag) in group.tags.iter().enumerate() {
                if tag != 0 {
                    let slot = group.slots[place];
                    self.place(rehash(slot), slot);
                }
            }
        }
    }
}

/// Entries `groups` groups hold before growing: 7/8 of their places.
fn max_len(groups: usize) -> usize {
    groups * WIDTH * 7 / 8
}

/// The number of groups that holds `entries` (at least one).
fn groups_for(entries: usize) -> usize {
    (entries * 8).div_ceil(7 * WIDTH).max(1)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::HashMap;

    #[test]
    fn a_group_is_one_cache_line() {
        assert_eq!(std::mem::size_of::<Group>(), 64);
        assert_eq!(std::mem::align_of::<Group>(), 64);
    }

    fn places(group: &Group, tag: u8) -> u32 {
        group.matching(tag).map(|place| 1 << place).sum()
    }

    #[test]
    fn matching_finds_exactly_the_places_with_the_tag() {
        let mut group = EMPTY_GROUP;
        group.tags = [7, 0, 7, 255, 1, 7, 0x87, 7, 9, 7, 0, 7];
        assert_eq!(places(&group, 7), 0b1010_1010_0101);
        assert_eq!(places(&group, 0), 0b0100_0000_0010);
        assert_eq!(places(&group, 255), 0b1000);
        assert_eq!(places(&group, 0x87), 0b100_0000);
        assert_eq!(places(&group, 9), 0b1_0000_0000);
        assert_eq!(places(&group, 2), 0);
    }

    /// Hashes chosen to collide: few home groups, few tags, so that probing, overflow counts
    /// and tag clashes are exercised on every run.
    fn crowded_hash(slot: u32) -> u64 {
        let home = u64::from(slot % 3) << 54;
        let tag = u64::from(slot % 5) << 56;
        tag | home
    }

    #[derive(Debug, Clone)]
    enum Op {
        Insert(u32),
        Remove(u32),
        Shrink,
        Clear,
    }

    fn ops() -> impl Strategy<Value = Vec<Op>> {
        prop::collection::vec(
            prop_oneof![
                6 => (0u32..300).prop_map(Op::Insert),
                4 => (0u32..300).prop_map(Op::Remove),
                1 => Just(Op::Shrink),
                1 => Just(Op::Clear),
            ],
            0..600,
        )
    }

    /// Bytes that exercise the borrow and high-bit cases of the byte comparison.
    const BYTES: &[u8] = &[0, 1, 2, 0x7f, 0x80, 0x81, 0xfe, 0xff];

    proptest! {
        #[test]
        fn matching_agrees_with_a_byte_by_byte_scan(
            tags in prop::array::uniform12(prop::sample::select(BYTES)),
            tag in prop::sample::select(BYTES),
        ) {
            let group = Group { tags, ..EMPTY_GROUP };
            let expected = (0..WIDTH).filter(|&i| tags[i] == tag).map(|i| 1u32 << i).sum::<u32>();
            prop_assert_eq!(places(&group, tag), expected);
        }

        /// The table answers like a set of slots, through growth, removal, shrinking and clearing,
        /// with crowded hashes or spread ones.
        #[test]
        fn the_table_agrees_with_a_model(ops in ops(), spread in any::<bool>()) {
            let hash = |slot: u32| {
                if spread {
                    u64::from(slot).wrapping_mul(0x9E37_79B9_7F4A_7C15)
                } else {
                    crowded_hash(slot)
                }
            };
            let mut table = SlotTable::with_capacity(0);
            let mut model: HashMap<u32, ()> = HashMap::new();
            for op in ops {
                match op {
                    Op::Insert(slot) => {
                        if model.insert(slot, ()).is_none() {
                            table.insert(hash(slot), slot, hash);
                        }
                    }
                    Op::Remove(slot) => {
                        prop_assert_eq!(table.remove(hash(slot), slot), model.remove(&slot).is_some());
                    }
                    Op::Shrink => table.shrink_if_sparse(hash),
                    Op::Clear => {
                        table.clear();
                        model.clear();
                    }
                }
                prop_assert_eq!(table.len(), model.len());
                prop_assert!(table.len() <= table.capacity());
            }
            for slot in 0..300 {
                let found = table.find(hash(slot), |s| s == slot);
                prop_assert_eq!(found.is_some(), model.contains_key(&slot), "slot {}", slot);
                // The likely slot, for a prefetch, is one in the table with the same tag (its
                // home may be an earlier group it probed past).
                if let Some(likely) = table.likely_slot(hash(slot)) {
                    prop_assert!(model.contains_key(&likely));
                    prop_assert_eq!(tag_of(hash(likely)), tag_of(hash(slot)));
                }
            }
            // Every overflow count is exactly the entries that probed past its group.
            let mut expected = vec![0u32; table.groups.len()];
            for (at, group) in table.groups.iter().enumerate() {
                for (place, &tag) in group.tags.iter().enumerate() {
                    if tag != 0 {
                        let mut passed = table.home(hash(group.slots[place]));
                        while passed != at {
                            expected[passed] += 1;
                            passed = table.next(passed);
                        }
                    }
                }
            }
            let counted: Vec<u32> = table.groups.iter().map(|g| g.overflow).collect();
            prop_assert_eq!(counted, expected);
        }
    }

    #[test]
    fn a_miss_ends_when_every_group_has_been_probed_past() {
        // Two groups, each passed by an entry homed at the other: a miss must stop after a lap.
        let mut table = SlotTable::with_capacity(21);
        assert_eq!(table.groups.len(), 2);
        let hash = |slot: u32| (u64::from(slot) << 56) | (u64::from(slot >= 100) << 55);
        let slots_homed_at_1 = 100..113;
        for slot in slots_homed_at_1.clone() {
            table.insert(hash(slot), slot, hash);
        }
        for slot in 100..106 {
            assert!(table.remove(hash(slot), slot));
        }
        for slot in 1..14 {
            table.insert(hash(slot), slot, hash);
        }
        assert!(table.groups.iter().all(|g| g.overflow > 0));
        assert_eq!(table.find(hash(50), |_| false), None);
        assert!(!table.remove(hash(50), 50));
        for slot in (1..14).chain(106..113) {
            assert_eq!(table.find(hash(slot), |s| s == slot), Some(slot));
        }
    }

    #[test]
    fn a_miss_stops_at_the_first_group_nothing_probed_past() {
        let mut table = SlotTable::with_capacity(1000);
        let spread = |slot: u32| u64::from(slot).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        for slot in 0..1000 {
            table.insert(spread(slot), slot, spread);
        }
        let mut asked = 0;
        for slot in 1000..2000 {
            assert_eq!(
                table.find(spread(slot), |_| {
                    asked += 1;
                    false
                }),
                None
            );
        }
        // One tag in 255 clashes per occupied place: about 12 × 1,000 / 255 ≈ 47 questions,
        // never one per resident entry.
        assert!(asked < 200, "{asked} key comparisons for 1,000 misses");
    }

    #[test]
    fn growth_keeps_every_entry_and_sparse_tables_shrink() {
        let hash = |slot: u32| u64::from(slot).wrapping_mul(0xD6E8_FEB8_6659_FD93);
        let mut table = SlotTable::with_capacity(0);
        for slot in 0..10_000 {
            table.insert(hash(slot), slot, hash);
        }
        let grown = table.heap_bytes();
        for slot in 0..10_000 {
            assert_eq!(table.find(hash(slot), |s| s == slot), Some(slot));
        }
        for slot in 100..10_000 {
            assert!(table.remove(hash(slot), slot));
        }
        table.shrink_if_sparse(hash);
        assert!(
            table.heap_bytes() * 16 <= grown,
            "{} of {grown}",
            table.heap_bytes()
        );
        for slot in 0..100 {
            assert_eq!(table.find(hash(slot), |s| s == slot), Some(slot));
        }
        table.shrink_if_sparse(hash);
        assert_eq!(table.len(), 100);
    }

    #[test]
    fn a_new_table_allocates_nothing_and_works() {
        let hash = |slot: u32| u64::from(slot).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        let mut table = SlotTable::new();
        assert_eq!(table.heap_bytes(), 0);
        assert_eq!(table.find(hash(1), |_| true), None);
        assert_eq!(table.likely_slot(hash(1)), None);
        table.prefetch(hash(1));
        assert!(!table.remove(hash(1), 1));
        table.shrink_to_fit(hash);
        table.insert(hash(1), 1, hash);
        assert_eq!(table.find(hash(1), |s| s == 1), Some(1));
        assert_eq!(table.likely_slot(hash(1)), Some(1));
        assert!(table.remove(hash(1), 1));
        assert!(table.is_empty());
    }

    #[test]
    fn shrinking_keeps_the_reserved_room() {
        let hash = |slot: u32| u64::from(slot).wrapping_mul(0xD6E8_FEB8_6659_FD93);
        let mut table = SlotTable::with_capacity(6_250);
        let reserved = table.heap_bytes();
        assert!(table.capacity() >= 6_250);
        // Sized to the reservation, not to the next power of two: 6.1 bytes per entry.
        assert!(reserved <= 6_250 * 62 / 10, "{reserved} bytes");
        for slot in 0..6_250 {
            table.insert(hash(slot), slot, hash);
            table.shrink_if_sparse(hash);
        }
        assert_eq!(table.heap_bytes(), reserved);
    }
}
