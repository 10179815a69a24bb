//! The list value: elements in order, in a ring buffer of owned byte strings.
//!
//! Pushing and popping at either end is O(1) amortized, indexing is O(1), and a range is
//! read by walking the buffer. `OBJECT ENCODING` answers `quicklist`, as Redis 7.0 does for
//! every list.
//!
//! Memory: the count of heap bytes is kept up to date by every change, so
//! [`List::heap_bytes`] is O(1): each element costs its slot in the ring buffer plus its
//! allocation (its length rounded up to the allocator's 8-byte granule).

use std::collections::VecDeque;

/// Bytes of one slot of the ring buffer (a boxed slice: pointer and length).
const SLOT: usize = std::mem::size_of::<Box<[u8]>>();

/// What one element's own allocation costs.
fn alloc_bytes(len: usize) -> usize {
    if len == 0 { 0 } else { (len + 7) & !7 }
}

/// Which end of a list.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum End {
    /// The head (`LEFT`, index 0).
    Left,
    /// The tail (`RIGHT`, index -1).
    Right,
}

/// A list: elements in order.
#[derive(Clone, Debug, Default)]
pub struct List {
    items: VecDeque<Box<[u8]>>,
    /// Bytes of the elements' own allocations.
    bytes: usize,
}

impl List {
    /// An empty list.
    pub fn new() -> List {
        List::default()
    }

    /// Number of elements.
    pub fn len(&self) -> usize {
        self.items.len()
    }

    /// Whether it has no elements (an empty collection is never stored: the key is removed).
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// Heap bytes owned, kept up to date by every change (O(1)).
    pub fn heap_bytes(&self) -> usize {
        self.items.capacity() * SLOT + self.bytes
    }

    /// `OBJECT ENCODING`'s answer.
    pub fn encoding(&self) -> &'static str {
        "quicklist"
    }

    /// Adds `element` at `end`.
    pub fn push(&mut self, end: End, element: &[u8]) {
        self.bytes += alloc_bytes(element.len());
        match end {
            End::Left => self.items.push_front(element.into()),
            End::Right => self.items.push_back(element.into()),
        }
    }

    /// Adds an owned element at `end`.
    pub fn push_owned(&mut self, end: End, element: Box<[u8]>) {
        self.bytes += alloc_bytes(element.len());
        match end {
            End::Left => self.items.push_front(element),
            End::Right => self.items.push_back(element),
        }
    }

    /// Removes the element at `end`.
    pub fn pop(&mut self, end: End) -> Option<Box<[u8]>> {
        let element = match end {
            End::Left => self.items.pop_front(),
            End::Right => self.items.pop_back(),
        }?;
        self.bytes -= alloc_bytes(element.len());
        self.shrink();
        Some(element)
    }

    /// The element at `index` (0 is the head).
    pub fn get(&self, index: usize) -> Option<&[u8]> {
        self.items.get(index).map(|e| &e[..])
    }

    /// Replaces the element at `index`; `false` when out of range.
    pub fn set(&mut self, index: usize, element: &[u8]) -> bool {
        let Some(slot) = self.items.get_mut(index) else {
            return false;
        };
        self.bytes = self.bytes - alloc_bytes(slot.len()) + alloc_bytes(element.len());
        *slot = element.into();
        true
    }

    /// Inserts `element` so that it ends up at `index` (0..=len).
    pub fn insert(&mut self, index: usize, element: &[u8]) {
        self.bytes += alloc_bytes(element.len());
        self.items.insert(index, element.into());
    }

    /// The index of the first element equal to `element`.
    pub fn position(&self, element: &[u8]) -> Option<usize> {
        self.items.iter().position(|e| &e[..] == element)
    }

    /// The elements from `start` to `end` inclusive (valid indexes), head to tail.
    pub fn range(&self, start: usize, end: usize) -> impl DoubleEndedIterator<Item = &[u8]> {
        self.items.range(start..=end).map(|e| &e[..])
    }

    /// Every element, head to tail.
    pub fn iter(&self) -> impl DoubleEndedIterator<Item = &[u8]> + ExactSizeIterator {
        self.items.iter().map(|e| &e[..])
    }

    /// Removes up to `count` elements equal to `element` (0: all), from the head, or from the
    /// tail when `from_tail`; returns how many.
    pub fn remove_matching(&mut self, element: &[u8], count: usize, from_tail: bool) -> usize {
        let mut removed = 0;
        let mut freed = 0;
        let mut keep = |e: &[u8]| {
            if (count == 0 || removed < count) && e == element {
                removed += 1;
                freed += alloc_bytes(e.len());
                false
            } else {
                true
            }
        };
        if from_tail {
            let mut items: Vec<Box<[u8]>> = Vec::with_capacity(self.items.len());
            while let Some(e) = self.items.pop_back() {
                if keep(&e) {
                    items.push(e);
                }
            }
            self.items.extend(items.into_iter().rev());
        } else {
            self.items.retain(|e| keep(e));
        }
        self.bytes -= freed;
        self.shrink();
        removed
    }

    /// Keeps only the elements from `start` to `end` inclusive (valid indexes, `start <= end`);
    /// `None` empties the list.
    pub fn trim(&mut self, keep: Option<(usize, usize)>) {
        let (start, end) = match keep {
            Some(range) => range,
            None => {
                self.items.clear();
                self.bytes = 0;
                self.shrink();
                return;
            }
        };
        for e in self.items.drain(end + 1..) {
            self.bytes -= alloc_bytes(e.len());
        }
        for e in self.items.drain(..start) {
            self.bytes -= alloc_bytes(e.len());
        }
        self.shrink();
    }

    /// Gives back the buffer's room when it is mostly empty.
    fn shrink(&mut self) {
        let cap = self.items.capacity();
        if cap > 64 && self.items.len() < cap / 4 {
            self.items.shrink_to(cap / 2);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn list(items: &[&str]) -> List {
        let mut l = List::new();
        for i in items {
            l.push(End::Right, i.as_bytes());
        }
        l
    }

    fn items(l: &List) -> Vec<String> {
        l.iter()
            .map(|e| String::from_utf8_lossy(e).into_owned())
            .collect()
    }

    #[test]
    fn heap_bytes_follow_changes() {
        let mut l = List::new();
        l.push(End::Left, b"abc");
        l.push(End::Right, b"0123456789");
        assert_eq!(l.heap_bytes(), l.items.capacity() * SLOT + 8 + 16);
        l.set(0, b"");
        assert_eq!(l.heap_bytes(), l.items.capacity() * SLOT + 16);
        l.pop(End::Right);
        l.pop(End::Right);
        assert_eq!(l.heap_bytes(), l.items.capacity() * SLOT);
    }

    #[test]
    fn remove_matching_from_either_end() {
        let mut l = list(&["a", "b", "a", "c", "a"]);
        assert_eq!(l.remove_matching(b"a", 2, true), 2);
        assert_eq!(items(&l), ["a", "b", "c"]);
        let mut l = list(&["a", "b", "a", "c", "a"]);
        assert_eq!(l.remove_matching(b"a", 0, false), 3);
        assert_eq!(items(&l), ["b", "c"]);
        assert_eq!(l.bytes, 16);
    }

    #[test]
    fn trim_keeps_the_range() {
        let mut l = list(&["a", "b", "c", "d"]);
        l.trim(Some((1, 2)));
        assert_eq!(items(&l), ["b", "c"]);
        l.trim(None);
        assert!(l.is_empty());
        assert_eq!(l.bytes, 0);
    }
}
