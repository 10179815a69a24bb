//! [`Slab`], a vector that grows one fixed page at a time.
//!
//! A shard's entries live in a slab indexed by slot number. As one `Vec` it doubles: at a
//! doubling the allocator holds the old and the new buffer at once, and afterwards up to half of
//! the new one is spare. In a server whose shards fill evenly, all of them double within moments
//! of each other, so the process's memory jumps by the size of every slab together — 24 MB at
//! 600,000 entries of 48 bytes in 32 shards — which a `maxmemory` limit has to absorb, and
//! then keeps as slack. Here the first [`FIRST_MAX`] elements grow by an eighth at a time (a
//! small shard stays small, with at most an eighth of its slots spare; a growth copies at most
//! 96 KB of 48-byte slots) and every later page is allocated at its full size once: growth
//! costs one page, the spare room is less than a page, and no element past the first part is
//! ever copied. A server of 32 shards under a small `maxmemory` holds a few hundred entries per
//! shard: doubling would leave up to half of those slots spare in every shard (260 KB of 4.5 MB
//! at 340 entries of 48 bytes per shard), and a first part of one page followed by pages up to
//! a page (158 KB at 409 entries per shard, 12 bytes per entry).
//!
//! Reading an element costs one more load than a `Vec` (the page's address, from a directory of
//! one pointer per page, which stays in cache), unless it lies in the first part, which is one
//! allocation: the first [`FIRST_MAX`] elements, or as many as were reserved before any page.

use std::ops::{Index, IndexMut};

/// Elements per page (a power of two): 12 KB of 48-byte slots, so that a shard's spare room
/// stays small beside the memory of a small server.
pub const PAGE: usize = 256;
const SHIFT: u32 = PAGE.trailing_zeros();
/// Elements the first part grows to, an eighth at a time, before pages follow.
pub const FIRST_MAX: usize = 8 * PAGE;

/// A paged vector (see the [module docs](self)).
///
/// The first elements live in one `Vec`, `first`, which grows by an eighth up to [`FIRST_MAX`], or
/// to whatever [`Slab::reserve`] asks for while no page exists (a cache that reserves its
/// capacity up front keeps every slot there, and reads it without the page directory's load).
/// Once `first` is full at that size it never changes again; the elements after it live in
/// pages of exactly [`PAGE`].
#[derive(Debug)]
pub struct Slab<T> {
    first: Vec<T>,
    /// The size `first` grows to: [`FIRST_MAX`], or the size a reservation gave it.
    first_max: usize,
    pages: Vec<Vec<T>>,
    len: usize,
}

impl<T> Default for Slab<T> {
    fn default() -> Self {
        Slab {
            first: Vec::new(),
            first_max: FIRST_MAX,
            pages: Vec::new(),
            len: 0,
        }
    }
}

impl<T> Slab<T> {
    /// An empty slab with room for `capacity` elements, all in one allocation.
    pub fn with_capacity(capacity: usize) -> Self {
        let mut slab = Slab::default();
        slab.reserve(capacity);
        slab
    }

    /// Makes room for `additional` more elements: while no page exists, by growing `first` to
    /// the exact size; after that, by adding pages.
    pub fn reserve(&mut self, additional: usize) {
        let target = self.len.saturating_add(additional);
        if self.pages.is_empty() {
            if target > self.first.capacity() {
                self.first.reserve_exact(target - self.first.len());
                self.first_max = self.first.capacity();
            }
            return;
        }
        let mut room = self.capacity() - self.len;
        while room < additional {
            self.pages.push(Vec::with_capacity(PAGE));
            room += PAGE;
        }
    }

    /// Elements held.
    #[inline]
    pub fn len(&self) -> usize {
        self.len
    }

    /// Elements it can hold without allocating.
    pub fn capacity(&self) -> usize {
        self.first.capacity() + self.pages.iter().map(Vec::capacity).sum::<usize>()
    }

    /// Appends `value` at index [`Slab::len`].
    pub fn push(&mut self, value: T) {
        if self.pages.is_empty() {
            let first = &mut self.first;
            if first.len() < first.capacity() {
                first.push(value);
                self.len += 1;
                return;
            }
            if first.capacity() < self.first_max {
                let grown = (first.len() + (first.len() / 8).max(4)).min(self.first_max);
                first.reserve_exact(grown - first.len());
                first.push(value);
                self.len += 1;
                return;
            }
        }
        let page = (self.len - self.first.len()) >> SHIFT;
        if page == self.pages.len() {
            self.pages.push(Vec::with_capacity(PAGE));
        }
        self.pages[page].push(value);
        self.len += 1;
    }

    /// Where `index` lies: in `first` (`None`), or in a page at an offset.
    #[inline]
    fn page_of(&self, index: usize) -> Option<(usize, usize)> {
        let rest = index.checked_sub(self.first.len())?;
        Some((rest >> SHIFT, rest & (PAGE - 1)))
    }

    /// The element at `index`, if there is one.
    #[inline]
    pub fn get(&self, index: usize) -> Option<&T> {
        match self.page_of(index) {
            None => self.first.get(index),
            Some((page, at)) => self.pages.get(page)?.get(at),
        }
    }

    /// The elements in index order.
    pub fn iter(&self) -> impl Iterator<Item = &T> {
        self.first.iter().chain(self.pages.iter().flatten())
    }

    /// Removes every element and frees every page.
    pub fn clear(&mut self) {
        *self = Slab::default();
    }

    /// Heap bytes held (the capacity of `first` and of every page, and the directory).
    pub fn heap_bytes(&self) -> usize {
        self.capacity() * size_of::<T>() + self.pages.capacity() * size_of::<Vec<T>>()
    }
}

impl<T> Index<usize> for Slab<T> {
    type Output = T;
    #[inline]
    fn index(&self, index: usize) -> &T {
        match self.page_of(index) {
            None => &self.first[index],
            Some((page, at)) => &self.pages[page][at],
        }
    }
}

impl<T> IndexMut<usize> for Slab<T> {
    #[inline]
    fn index_mut(&mut self, index: usize) -> &mut T {
        match self.page_of(index) {
            None => &mut self.first[index],
            Some((page, at)) => &mut self.pages[page][at],
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn indexes_like_a_vec_and_grows_one_page_at_a_time() {
        let mut slab = Slab::default();
        let mut model = Vec::new();
        for i in 0..FIRST_MAX + 5 * PAGE + 17 {
            slab.push(i * 3);
            model.push(i * 3);
            assert!(
                slab.capacity() - slab.len() < PAGE,
                "spare room under a page"
            );
        }
        assert_eq!(slab.len(), model.len());
        for (i, v) in model.iter().enumerate() {
            assert_eq!(slab[i], *v);
            assert_eq!(slab.get(i), Some(v));
        }
        assert_eq!(slab.get(model.len()), None);
        assert!(slab.iter().eq(model.iter()));
        slab[PAGE + 1] = 7;
        assert_eq!(slab[PAGE + 1], 7);
        slab.clear();
        assert_eq!((slab.len(), slab.heap_bytes()), (0, 0));
    }

    #[test]
    fn a_small_slab_stays_small_and_a_reserved_one_does_not_reallocate() {
        let mut small: Slab<u64> = Slab::default();
        for i in 0..10 {
            small.push(i);
        }
        assert!(small.capacity() < 32, "{}", small.capacity());
        // Up to FIRST_MAX, the spare room is at most an eighth of the elements (or 4).
        for i in 10..FIRST_MAX {
            small.push(i as u64);
            let spare = small.capacity() - small.len();
            assert!(
                spare <= (small.len() / 8).max(4),
                "{spare} spare at {}",
                small.len()
            );
        }
        let mut reserved: Slab<u64> = Slab::with_capacity(3 * PAGE + 5);
        let capacity = reserved.capacity();
        assert!(capacity >= 3 * PAGE + 5 && capacity - (3 * PAGE + 5) < PAGE);
        for i in 0..3 * PAGE + 5 {
            reserved.push(i as u64);
        }
        assert_eq!(reserved.capacity(), capacity);
        // Reserving on top of a partly filled first page tops it up before adding pages.
        let mut topped: Slab<u64> = Slab::default();
        topped.push(1);
        topped.reserve(PAGE + 3);
        assert!(topped.capacity() >= PAGE + 4);
        for i in 0..PAGE + 3 {
            topped.push(i as u64);
        }
        assert_eq!(topped.len(), PAGE + 4);
        assert_eq!(topped[PAGE + 3], PAGE as u64 + 2);
    }

    #[test]
    fn pages_follow_a_reserved_first_part() {
        let first = 3 * PAGE / 2 + 7;
        let mut slab: Slab<usize> = Slab::with_capacity(first);
        for i in 0..first + 2 * PAGE + 3 {
            slab.push(i);
        }
        assert_eq!(
            slab.first.len(),
            first,
            "the reserved part is never reallocated"
        );
        assert_eq!(slab.pages.len(), 3);
        assert!((0..slab.len()).all(|i| slab[i] == i && slab.get(i) == Some(&i)));
        assert!(slab.iter().copied().eq(0..slab.len()));
        slab[first + PAGE] = 0;
        assert_eq!(slab[first + PAGE], 0);
    }
}
