//! The hash table behind large hashes and sets, and the member → score table of large sorted
//! sets (whose order-statistics tree refers to its slots: see [`Table::slot_of`]).
//!
//! Entries live in a slab: a `Vec` of slots with a free list. An entry keeps its slot for its
//! whole life, however the table grows or other entries come and go; the engine's
//! [`SlotTable`] of slot numbers, hashed with foldhash, finds an entry by key (a lookup reads
//! one 64-byte group of the index, then the slot). That layout gives `SCAN` Redis's guarantee
//! simply: the cursor is a slot number, slots are visited in increasing order, so an entry
//! present for the whole scan is returned exactly once (an entry deleted and inserted again
//! during the scan may be returned twice, as in Redis). New entries fill
//! free slots first and are appended otherwise, so a scan finishes as long as it visits slots
//! faster than inserts append them.
//!
//! A slot holds the key and value themselves (for byte strings, two `Box<[u8]>`: 32 bytes and
//! one allocation each); the index costs 6.1 to 9.1 bytes per entry (64-byte groups of 12
//! places, at most 7/8 full). The table keeps a running count of the heap bytes it owns, so
//! [`Table::heap_bytes`] is O(1).
//!
//! The slab never moves an entry, so it shrinks only from its end: trailing free slots are
//! dropped when the table is mostly empty.

use crate::keyspace::PREFETCH_BATCH;
use foldhash::fast::RandomState;
use larder_engine::table::SlotTable;
use smallvec::SmallVec;
use std::borrow::Borrow;
use std::cell::Cell;
use std::hash::{BuildHasher, Hash};
use std::mem::size_of;

/// Heap bytes a key or value owns beyond its own size (what the memory weigher charges).
pub trait HeapSize {
    /// Bytes allocated on the heap for this value (0 for plain data).
    fn heap_size(&self) -> usize;
}

/// What an allocation of `len` bytes costs: the allocator's size class (jemalloc's: 8, then
/// multiples of 16 up to 128, then four classes per doubling), none for an empty one (which
/// does not allocate).
pub fn alloc_size(len: usize) -> usize {
    match len {
        0 => 0,
        1..=8 => 8,
        9..=128 => len.div_ceil(16) * 16,
        _ => {
            let step = 1usize << ((usize::BITS - (len - 1).leading_zeros()) - 3);
            len.div_ceil(step) * step
        }
    }
}

impl HeapSize for Box<[u8]> {
    fn heap_size(&self) -> usize {
        alloc_size(self.len())
    }
}

impl HeapSize for () {
    fn heap_size(&self) -> usize {
        0
    }
}

impl HeapSize for f64 {
    fn heap_size(&self) -> usize {
        0
    }
}

impl HeapSize for i64 {
    fn heap_size(&self) -> usize {
        0
    }
}

/// One slab slot: an entry, or a link in the free list.
#[derive(Clone, Debug)]
enum Slot<K, V> {
    Full(K, V),
    /// Free; the next free slot (`NONE` ends the list).
    Free(u32),
}

const NONE: u32 = u32::MAX;

/// Tries of a random slot before [`Table::random`] falls back to a walk.
const RANDOM_TRIES: usize = 32;

/// A hash table whose entries keep their position (see the module documentation).
#[derive(Clone)]
pub struct Table<K, V> {
    slots: Vec<Slot<K, V>>,
    index: SlotTable,
    /// Head of the free list.
    free: u32,
    len: usize,
    /// Heap bytes of the keys and values (their [`HeapSize`]).
    data_bytes: usize,
    /// Shrinking is tried once the length falls to this (then to half of it, ...), so that
    /// its O(slots) work is amortised over the removals.
    shrink_below: usize,
    hasher: RandomState,
}

impl<K, V> std::fmt::Debug for Table<K, V> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Table")
            .field("len", &self.len)
            .field("slots", &self.slots.len())
            .finish_non_exhaustive()
    }
}

impl<K: Hash + Eq + HeapSize, V: HeapSize> Default for Table<K, V> {
    fn default() -> Self {
        Table::new()
    }
}

impl<K: Hash + Eq + HeapSize, V: HeapSize> Table<K, V> {
    /// An empty table (allocates nothing).
    pub fn new() -> Table<K, V> {
        Table {
            slots: Vec::new(),
            index: SlotTable::new(),
            free: NONE,
            len: 0,
            data_bytes: 0,
            shrink_below: 0,
            hasher: RandomState::default(),
        }
    }

    /// An empty table with room for `capacity` entries.
    pub fn with_capacity(capacity: usize) -> Table<K, V> {
        let mut table = Table::new();
        table.slots.reserve_exact(capacity);
        table.index = SlotTable::with_capacity(capacity);
        table
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether there is no entry.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Heap bytes owned: the slab's and the index's capacity and the keys' and values' own
    /// allocations (O(1)).
    pub fn heap_bytes(&self) -> usize {
        self.slots.capacity() * size_of::<Slot<K, V>>() + self.index.heap_bytes() + self.data_bytes
    }

    /// The number of slots: cursors of [`Table::scan`] are below it.
    pub fn slots(&self) -> usize {
        self.slots.len()
    }

    /// Prefetches the entries of `keys` (a hint: see `larder_engine::prefetch`): the index
    /// groups of all, then the slot each group likely names (the first tag match), then what
    /// `show` asks for in each such entry, so that the lookups of a pipelined batch overlap
    /// their cache misses. Changes nothing; a likely slot holding another key only wastes the
    /// hint. Meant for a batch of at most [`PREFETCH_BATCH`] keys (more are left out); one key
    /// alone has no miss to overlap with, and nothing is done.
    ///
    /// [`PREFETCH_BATCH`]: crate::keyspace::PREFETCH_BATCH
    pub fn prefetch<Q>(&self, keys: &[&Q], show: impl Fn(&K, &V))
    where
        K: Borrow<Q>,
        Q: Hash + ?Sized,
    {
        if keys.len() < 2 {
            return;
        }
        let hashes: SmallVec<[u64; PREFETCH_BATCH]> = keys
            .iter()
            .take(PREFETCH_BATCH)
            .map(|key| self.hash_of(key))
            .collect();
        for &hash in &hashes {
            self.index.prefetch(hash);
        }
        let likely = || {
            hashes
                .iter()
                .filter_map(|&hash| self.slots.get(self.index.likely_slot(hash)? as usize))
        };
        for slot in likely() {
            larder_engine::prefetch::prefetch(slot);
        }
        for slot in likely() {
            if let Slot::Full(key, value) = slot {
                show(key, value);
            }
        }
    }

    fn hash_of<Q: Hash + ?Sized>(&self, key: &Q) -> u64 {
        self.hasher.hash_one(key)
    }

    fn key_at(slots: &[Slot<K, V>], i: u32) -> &K {
        match &slots[i as usize] {
            Slot::Full(k, _) => k,
            // The index only names full slots.
            Slot::Free(_) => unreachable!("the index names a free slot"),
        }
    }

    /// The slot of `key`: it stays the same for as long as the entry is in the table.
    pub fn slot_of<Q>(&self, key: &Q) -> Option<u32>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        let hash = self.hash_of(key);
        let slots = &self.slots;
        self.index
            .find(hash, |i| Self::key_at(slots, i).borrow() == key)
    }

    /// Whether `key` is present.
    pub fn contains<Q>(&self, key: &Q) -> bool
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        self.slot_of(key).is_some()
    }

    /// The value of `key`.
    pub fn get<Q>(&self, key: &Q) -> Option<&V>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        self.get_slot(self.slot_of(key)?).map(|(_, v)| v)
    }

    /// The key and value of `key` as stored.
    pub fn get_key_value<Q>(&self, key: &Q) -> Option<(&K, &V)>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        self.get_slot(self.slot_of(key)?)
    }

    /// Changes the value of `key` in place through `change`, keeping the heap count right;
    /// `None` when absent.
    pub fn update<Q, R>(&mut self, key: &Q, change: impl FnOnce(&mut V) -> R) -> Option<R>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        let i = self.slot_of(key)?;
        self.update_slot(i, change)
    }

    /// Changes the value of the entry in `slot` in place through `change`, keeping the heap
    /// count right; `None` when the slot is free.
    pub fn update_slot<R>(&mut self, slot: u32, change: impl FnOnce(&mut V) -> R) -> Option<R> {
        match self.slots.get_mut(slot as usize)? {
            Slot::Full(_, v) => {
                let before = v.heap_size();
                let result = change(v);
                self.data_bytes = self.data_bytes - before + v.heap_size();
                Some(result)
            }
            Slot::Free(_) => None,
        }
    }

    /// Mutable access to the value of `key`. The caller must not change the value's heap size
    /// (use [`Table::update`] for that): it is for plain values such as scores.
    pub fn get_mut<Q>(&mut self, key: &Q) -> Option<&mut V>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        let i = self.slot_of(key)?;
        match &mut self.slots[i as usize] {
            Slot::Full(_, v) => Some(v),
            Slot::Free(_) => None,
        }
    }

    /// Inserts or replaces; returns the previous value.
    pub fn insert(&mut self, key: K, value: V) -> Option<V> {
        self.insert_slot(key, value).1
    }

    /// Inserts or replaces; returns the entry's slot and the previous value.
    pub fn insert_slot(&mut self, key: K, value: V) -> (u32, Option<V>) {
        let hash = self.hash_of(&key);
        let slots = &self.slots;
        if let Some(i) = self.index.find(hash, |i| *Self::key_at(slots, i) == key) {
            if let Slot::Full(_, v) = &mut self.slots[i as usize] {
                self.data_bytes = self.data_bytes - v.heap_size() + value.heap_size();
                return (i, Some(std::mem::replace(v, value)));
            }
        }
        self.data_bytes += key.heap_size() + value.heap_size();
        let slot = if self.free != NONE {
            let i = self.free;
            if let Slot::Free(next) = self.slots[i as usize] {
                self.free = next;
            }
            self.slots[i as usize] = Slot::Full(key, value);
            i
        } else {
            self.slots.push(Slot::Full(key, value));
            (self.slots.len() - 1) as u32
        };
        let (slots, hasher) = (&self.slots, &self.hasher);
        self.index
            .insert(hash, slot, |i| hasher.hash_one(Self::key_at(slots, i)));
        self.len += 1;
        self.shrink_below = self.shrink_below.max(self.len / 4);
        (slot, None)
    }

    /// Removes `key`, returning its key and value as stored.
    pub fn remove_entry<Q>(&mut self, key: &Q) -> Option<(K, V)>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        let hash = self.hash_of(key);
        let slots = &self.slots;
        let i = self
            .index
            .find(hash, |i| Self::key_at(slots, i).borrow() == key)?;
        self.index.remove(hash, i);
        Some(self.vacate(i))
    }

    /// Removes `key`, returning its value.
    pub fn remove<Q>(&mut self, key: &Q) -> Option<V>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        self.remove_entry(key).map(|(_, v)| v)
    }

    /// Empties slot `i` (already out of the index).
    fn vacate(&mut self, i: u32) -> (K, V) {
        let old = std::mem::replace(&mut self.slots[i as usize], Slot::Free(self.free));
        self.free = i;
        self.len -= 1;
        let Slot::Full(k, v) = old else {
            unreachable!("vacated a free slot")
        };
        self.data_bytes -= k.heap_size() + v.heap_size();
        self.maybe_shrink();
        (k, v)
    }

    /// When the table is mostly empty, drops the free slots at the slab's end and shrinks the
    /// index (entries keep their slots).
    fn maybe_shrink(&mut self) {
        if self.len == 0 {
            self.slots = Vec::new();
            self.index = SlotTable::new();
            self.free = NONE;
            self.shrink_below = 0;
            return;
        }
        if self.slots.capacity() < 64
            || self.len * 4 > self.slots.capacity()
            || self.len > self.shrink_below
        {
            return;
        }
        self.shrink_below = self.len / 2;
        while matches!(self.slots.last(), Some(Slot::Free(_))) {
            self.slots.pop();
        }
        // Rebuild the free list over what remains.
        self.free = NONE;
        for i in (0..self.slots.len()).rev() {
            if let Slot::Free(next) = &mut self.slots[i] {
                *next = self.free;
                self.free = i as u32;
            }
        }
        if self.slots.len() * 2 < self.slots.capacity() {
            self.slots.shrink_to(self.slots.len() * 5 / 4);
        }
        let (slots, hasher) = (&self.slots, &self.hasher);
        self.index
            .shrink_to_fit(|i| hasher.hash_one(Self::key_at(slots, i)));
    }

    /// Every entry, in slot order.
    pub fn iter(&self) -> impl Iterator<Item = (&K, &V)> {
        self.slots.iter().filter_map(|slot| match slot {
            Slot::Full(k, v) => Some((k, v)),
            Slot::Free(_) => None,
        })
    }

    /// Every key, in slot order.
    pub fn keys(&self) -> impl Iterator<Item = &K> {
        self.iter().map(|(k, _)| k)
    }

    /// Takes every entry out, leaving the table empty.
    pub fn drain(&mut self) -> impl Iterator<Item = (K, V)> + use<K, V> {
        let slots = std::mem::take(&mut self.slots);
        self.index = SlotTable::new();
        self.free = NONE;
        self.len = 0;
        self.data_bytes = 0;
        self.shrink_below = 0;
        slots.into_iter().filter_map(|slot| match slot {
            Slot::Full(k, v) => Some((k, v)),
            Slot::Free(_) => None,
        })
    }

    /// The entry in `slot`, if full.
    pub fn get_slot(&self, slot: u32) -> Option<(&K, &V)> {
        match self.slots.get(slot as usize)? {
            Slot::Full(k, v) => Some((k, v)),
            Slot::Free(_) => None,
        }
    }

    /// A random entry's slot: random slots are tried; after a few misses (a sparse slab) the
    /// first full slot from a random start is taken.
    fn random_slot(&self) -> Option<u32> {
        if self.len == 0 {
            return None;
        }
        let n = self.slots.len();
        for _ in 0..RANDOM_TRIES {
            let i = random_below(n);
            if matches!(self.slots[i], Slot::Full(..)) {
                return Some(i as u32);
            }
        }
        let start = random_below(n);
        (start..n)
            .chain(0..start)
            .find(|&i| matches!(self.slots[i], Slot::Full(..)))
            .map(|i| i as u32)
    }

    /// A random entry (roughly uniform).
    pub fn random(&self) -> Option<(&K, &V)> {
        self.get_slot(self.random_slot()?)
    }

    /// Removes and returns a random entry.
    pub fn pop_random(&mut self) -> Option<(K, V)> {
        self.remove_slot(self.random_slot()?)
    }

    /// Removes the entry in `slot`, returning its key and value; `None` when the slot is free.
    pub fn remove_slot(&mut self, slot: u32) -> Option<(K, V)> {
        let hash = match self.slots.get(slot as usize)? {
            Slot::Full(k, _) => self.hash_of(k),
            Slot::Free(_) => return None,
        };
        if !self.index.remove(hash, slot) {
            return None;
        }
        Some(self.vacate(slot))
    }

    /// Visits the entries of the slots from `cursor` on, until `count` entries have been
    /// visited (or ten times as many empty slots skipped); returns the cursor to continue from,
    /// 0 when the whole table has been visited. Every entry present for a whole scan (from
    /// cursor 0 until 0 is returned) is visited exactly once, whatever was inserted or removed
    /// meanwhile.
    pub fn scan(&self, cursor: u64, count: usize, mut visit: impl FnMut(&K, &V)) -> u64 {
        let n = self.slots.len();
        let mut i = usize::try_from(cursor).unwrap_or(usize::MAX);
        let mut visited = 0;
        let mut budget = count.max(1).saturating_mul(10);
        while i < n && visited < count.max(1) && budget > 0 {
            if let Slot::Full(k, v) = &self.slots[i] {
                visit(k, v);
                visited += 1;
            }
            budget -= 1;
            i += 1;
        }
        if i >= n { 0 } else { i as u64 }
    }
}

thread_local! {
    static RNG: Cell<u64> = Cell::new(RandomState::default().hash_one(0u64) | 1);
}

/// A pseudo-random number (wyrand, seeded per thread from foldhash's random seed): for picking
/// random members, not for anything secret.
pub fn random_u64() -> u64 {
    RNG.with(|state| {
        let s = state.get().wrapping_add(0xa076_1d64_78bd_642f);
        state.set(s);
        let t = u128::from(s) * u128::from(s ^ 0xe703_7ed1_a0b4_28db);
        (t >> 64) as u64 ^ t as u64
    })
}

/// A pseudo-random number in `0..n` (`n > 0`).
pub fn random_below(n: usize) -> usize {
    ((u128::from(random_u64()) * n as u128) >> 64) as usize
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::{HashMap, HashSet};

    fn b(s: &str) -> Box<[u8]> {
        s.as_bytes().into()
    }

    #[test]
    fn allocations_cost_their_size_class() {
        let classes: Vec<usize> = [0, 1, 8, 9, 18, 128, 129, 160, 161, 256, 257, 1000, 4097]
            .iter()
            .map(|&n| alloc_size(n))
            .collect();
        assert_eq!(
            classes,
            [0, 8, 8, 16, 32, 128, 160, 160, 192, 256, 320, 1024, 5120]
        );
    }

    #[test]
    fn slots_stay_small() {
        assert_eq!(size_of::<Slot<Box<[u8]>, Box<[u8]>>>(), 32);
        assert_eq!(size_of::<Slot<Box<[u8]>, ()>>(), 16);
        assert_eq!(size_of::<Slot<Box<[u8]>, f64>>(), 24);
    }

    #[test]
    fn slots_are_stable_handles() {
        let mut t: Table<Box<[u8]>, f64> = Table::new();
        let (a, _) = t.insert_slot(b("a"), 1.0);
        let (c, _) = t.insert_slot(b("c"), 2.0);
        assert_ne!(a, c);
        assert_eq!(t.insert_slot(b("a"), 3.0), (a, Some(1.0)));
        assert_eq!(t.slot_of(&b"c"[..]), Some(c));
        assert_eq!(t.slot_of(&b"x"[..]), None);
        assert_eq!(
            t.get_slot(a).map(|(k, v)| (&k[..], *v)),
            Some((&b"a"[..], 3.0))
        );
        assert_eq!(
            t.update_slot(c, |v| {
                *v += 1.0;
                *v
            }),
            Some(3.0)
        );
        assert_eq!(t.get(&b"c"[..]), Some(&3.0));
        assert_eq!(t.remove_slot(a), Some((b("a"), 3.0)));
        assert!(t.get_slot(a).is_none());
        assert!(t.remove_slot(a).is_none());
        assert!(t.update_slot(a, |_| ()).is_none());
        assert!(t.get_slot(1000).is_none());
        assert!(t.remove_slot(1000).is_none());
        // A freed slot is filled first; the other entry kept its slot.
        assert_eq!(t.insert_slot(b("d"), 0.0).0, a);
        assert_eq!(t.slot_of(&b"c"[..]), Some(c));
        assert_eq!(t.len(), 2);
    }

    #[test]
    fn inserts_gets_and_removes() {
        let mut t: Table<Box<[u8]>, Box<[u8]>> = Table::new();
        assert_eq!(t.heap_bytes(), 0);
        assert!(t.insert(b("a"), b("1")).is_none());
        assert_eq!(t.insert(b("a"), b("2")).as_deref(), Some(&b"1"[..]));
        t.insert(b("b"), b("3"));
        assert_eq!(t.len(), 2);
        assert_eq!(t.get(&b"a"[..]).map(|v| &v[..]), Some(&b"2"[..]));
        assert!(t.contains(&b"b"[..]));
        assert_eq!(t.remove(&b"a"[..]).as_deref(), Some(&b"2"[..]));
        assert!(t.get(&b"a"[..]).is_none());
        assert_eq!(t.len(), 1);
        t.update(&b"b"[..], |v| *v = b("a longer value than before"));
        assert_eq!(
            t.heap_bytes(),
            t.slots.capacity() * 32 + t.index.heap_bytes() + 8 + 32
        );
        assert!(t.pop_random().is_some());
        assert!(t.is_empty());
        assert_eq!(t.heap_bytes(), 0);
    }

    #[test]
    fn mostly_empty_tables_shrink_in_amortised_time() {
        let mut t: Table<Box<[u8]>, ()> = Table::new();
        for i in 0..100_000 {
            t.insert(b(&i.to_string()), ());
        }
        let full = t.heap_bytes();
        // The last slot stays live, so the slab cannot shrink: removals must stay cheap.
        for i in 0..99_999 {
            assert!(t.remove(&b(&i.to_string())[..]).is_some());
        }
        assert_eq!(t.len(), 1);
        assert!(t.contains(&b"99999"[..]));
        let mut t: Table<Box<[u8]>, ()> = Table::new();
        for i in 0..100_000 {
            t.insert(b(&i.to_string()), ());
        }
        // Removed from the end, the slab gives its free tail back.
        for i in (10..100_000).rev() {
            t.remove(&b(&i.to_string())[..]);
        }
        assert!(t.heap_bytes() < full / 100, "{} of {full}", t.heap_bytes());
        assert!((0..10).all(|i| t.contains(&b(&i.to_string())[..])));
        t.insert(b("again"), ());
        assert_eq!(t.len(), 11);
    }

    #[test]
    fn random_reaches_every_entry() {
        let mut t: Table<Box<[u8]>, ()> = Table::new();
        for i in 0..1000 {
            t.insert(b(&i.to_string()), ());
        }
        for i in 0..990 {
            t.remove(&b(&i.to_string())[..]);
        }
        let mut seen = HashSet::new();
        for _ in 0..2000 {
            seen.insert(t.random().map(|(k, _)| k.clone()));
        }
        assert_eq!(seen.len(), 10);
    }

    #[derive(Debug, Clone)]
    enum Op {
        Insert(u16),
        Remove(u16),
        Step(u8),
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            3 => any::<u16>().prop_map(|k| Op::Insert(k % 2000)),
            2 => any::<u16>().prop_map(|k| Op::Remove(k % 2000)),
            2 => (1u8..20).prop_map(Op::Step),
        ]
    }

    proptest! {
        /// Redis's SCAN guarantee: whatever happens during a scan, an entry present from its
        /// start to its end is visited; and the table agrees with a model, prefetches included.
        #[test]
        fn scan_returns_every_entry_present_throughout(
            initial in proptest::collection::vec(0u16..2000, 0..600),
            ops in proptest::collection::vec(op(), 0..400),
        ) {
            let mut t: Table<Box<[u8]>, Box<[u8]>> = Table::new();
            let mut model: HashMap<u16, u16> = HashMap::new();
            for &k in &initial {
                t.insert(b(&k.to_string()), b(&format!("v{k}")));
                model.insert(k, k);
            }
            let at_start: HashSet<u16> = model.keys().copied().collect();
            let mut removed: HashSet<u16> = HashSet::new();
            let mut seen: HashSet<u16> = HashSet::new();
            let mut cursor = 0u64;
            let mut started = false;
            for op in ops.iter().chain(std::iter::repeat(&Op::Step(50))) {
                match *op {
                    Op::Insert(k) => {
                        t.insert(b(&k.to_string()), b(&format!("v{k}")));
                        model.insert(k, k);
                    }
                    Op::Remove(k) => {
                        let had = t.remove(&b(&k.to_string())[..]).is_some();
                        prop_assert_eq!(had, model.remove(&k).is_some());
                        removed.insert(k);
                    }
                    Op::Step(n) => {
                        if started && cursor == 0 {
                            break;
                        }
                        started = true;
                        cursor = t.scan(cursor, usize::from(n), |k, _| {
                            seen.insert(std::str::from_utf8(k).unwrap().parse().unwrap());
                        });
                        if cursor == 0 {
                            break;
                        }
                    }
                }
                prop_assert_eq!(t.len(), model.len());
                // Prefetching, whatever it is asked for, shows only entries of the table.
                let asked: Vec<String> =
                    (0..40).map(|i| (i * 50 + t.len() % 50).to_string()).collect();
                let asked: Vec<&[u8]> = asked.iter().map(|k| k.as_bytes()).collect();
                let shown = std::cell::RefCell::new(Vec::new());
                t.prefetch(&asked, |k, v| shown.borrow_mut().push((k.clone(), v.clone())));
                for (k, v) in shown.into_inner() {
                    let k: u16 = std::str::from_utf8(&k).unwrap().parse().unwrap();
                    prop_assert_eq!(model.get(&k).map(|v| b(&format!("v{v}"))), Some(v));
                }
            }
            for k in at_start.difference(&removed) {
                prop_assert!(seen.contains(k), "missed {}", k);
            }
            for (k, v) in &model {
                let stored = t.get(&b(&k.to_string())[..]).cloned();
                prop_assert_eq!(stored, Some(b(&format!("v{v}"))));
            }
            let expected: usize = model
                .keys()
                .map(|k| alloc_size(k.to_string().len()) + alloc_size(format!("v{k}").len()))
                .sum();
            prop_assert_eq!(t.data_bytes, expected);
        }
    }
}
