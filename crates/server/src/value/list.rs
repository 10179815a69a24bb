//! The list value: elements in order, in chunks of at most [`CHUNK`] owned byte strings.
//!
//! The chunks sit in a ring buffer of chunks, and each chunk is a ring buffer of elements.
//! Pushing and popping at either end is O(1) amortized and touches one chunk. Finding an index
//! walks the chunks from the nearer end, O(n / [`CHUNK`]), as Redis's quicklist walks its
//! nodes; a range is then read chunk by chunk. Inserting in the middle splits a full chunk in
//! two. One ring buffer of all the elements would double by copying every slot at once: at 4
//! million elements a 64 MB copy, which stalled every client of the thread for 30–40 ms. Here a
//! push copies at most one chunk (2 KB) or, once per doubling of the list, the ring of chunk
//! headers (32 bytes a chunk). `OBJECT ENCODING` answers `quicklist`, as Redis 7.0 does for
//! every list.
//!
//! Memory: an element is a [`StrBytes`], 16 bytes in its chunk's slot, holding up to 14 bytes
//! inline and longer elements in a buffer of the allocator's size class (the chunks after the
//! first are allocated whole), and each chunk costs a 32-byte header in the ring of chunks. The
//! count of heap bytes is kept up to date by every change, so [`List::heap_bytes`] is O(1).

use super::str_bytes::StrBytes;
use std::collections::VecDeque;

/// Most elements in one chunk (a power of two, so a chunk that grows by doubling fills its
/// allocation exactly).
pub const CHUNK: usize = 128;

/// Bytes of one slot of a chunk.
const SLOT: usize = size_of::<StrBytes>();

/// A run of consecutive elements, never empty while in a list.
type Chunk = VecDeque<StrBytes>;

/// Which end of a list.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum End {
    /// The head (`LEFT`, index 0).
    Left,
    /// The tail (`RIGHT`, index -1).
    Right,
}

/// A list: elements in order.
#[derive(Debug, Default)]
pub struct List {
    /// The elements, in chunks of 1 to [`CHUNK`].
    chunks: VecDeque<Chunk>,
    /// Elements over all chunks.
    len: usize,
    /// Slots allocated over all chunks.
    slots: usize,
    /// Heap bytes of the elements' own buffers.
    bytes: usize,
}

impl Clone for List {
    fn clone(&self) -> List {
        let chunks: VecDeque<Chunk> = self.chunks.clone();
        let slots = chunks.iter().map(VecDeque::capacity).sum();
        List {
            chunks,
            len: self.len,
            slots,
            bytes: self.bytes,
        }
    }
}

impl List {
    /// An empty list.
    pub fn new() -> List {
        List::default()
    }

    /// Number of elements.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether it has no elements (an empty collection is never stored: the key is removed).
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Heap bytes owned, kept up to date by every change (O(1)).
    pub fn heap_bytes(&self) -> usize {
        self.chunks.capacity() * size_of::<Chunk>() + self.slots * SLOT + self.bytes
    }

    /// `OBJECT ENCODING`'s answer.
    pub fn encoding(&self) -> &'static str {
        "quicklist"
    }

    /// Adds `element` at `end`.
    pub fn push(&mut self, end: End, element: &[u8]) {
        self.push_owned(end, StrBytes::from_slice(element));
    }

    /// Adds an owned element at `end`.
    pub fn push_owned(&mut self, end: End, element: StrBytes) {
        self.len += 1;
        self.bytes += element.heap_bytes();
        let full = |chunk: Option<&Chunk>| chunk.is_none_or(|c| c.len() >= CHUNK);
        match end {
            End::Left => {
                if full(self.chunks.front()) {
                    let chunk = self.new_chunk();
                    self.chunks.push_front(chunk);
                }
                self.change_chunk(0, |chunk| chunk.push_front(element));
            }
            End::Right => {
                if full(self.chunks.back()) {
                    let chunk = self.new_chunk();
                    self.chunks.push_back(chunk);
                }
                self.change_chunk(self.chunks.len() - 1, |chunk| chunk.push_back(element));
            }
        }
    }

    /// An empty chunk: the first grows as it fills (a short list stays short), the others are
    /// allocated whole.
    fn new_chunk(&mut self) -> Chunk {
        if self.chunks.is_empty() {
            return Chunk::new();
        }
        let chunk = Chunk::with_capacity(CHUNK);
        self.slots += chunk.capacity();
        chunk
    }

    /// Runs `change` on chunk `at`, keeping the count of slots.
    fn change_chunk<R>(&mut self, at: usize, change: impl FnOnce(&mut Chunk) -> R) -> R {
        let chunk = &mut self.chunks[at];
        let before = chunk.capacity();
        let result = change(chunk);
        self.slots = self.slots - before + chunk.capacity();
        result
    }

    /// Removes the element at `end`.
    pub fn pop(&mut self, end: End) -> Option<StrBytes> {
        let chunk = match end {
            End::Left => self.chunks.front_mut(),
            End::Right => self.chunks.back_mut(),
        }?;
        let element = match end {
            End::Left => chunk.pop_front(),
            End::Right => chunk.pop_back(),
        }?;
        if chunk.is_empty() {
            self.slots -= chunk.capacity();
            match end {
                End::Left => self.chunks.pop_front(),
                End::Right => self.chunks.pop_back(),
            };
            self.shrink();
        }
        self.len -= 1;
        self.bytes -= element.heap_bytes();
        Some(element)
    }

    /// The chunk and the place in it of the element at `index`, found from the nearer end.
    fn locate(&self, index: usize) -> Option<(usize, usize)> {
        if index >= self.len {
            return None;
        }
        if index < self.len / 2 {
            let mut rest = index;
            for (at, chunk) in self.chunks.iter().enumerate() {
                if rest < chunk.len() {
                    return Some((at, rest));
                }
                rest -= chunk.len();
            }
        } else {
            // Counted from the tail: 0 is the last element.
            let mut rest = self.len - 1 - index;
            for (at, chunk) in self.chunks.iter().enumerate().rev() {
                if rest < chunk.len() {
                    return Some((at, chunk.len() - 1 - rest));
                }
                rest -= chunk.len();
            }
        }
        None
    }

    /// The element at `index` (0 is the head).
    pub fn get(&self, index: usize) -> Option<&[u8]> {
        let (at, place) = self.locate(index)?;
        Some(self.chunks[at][place].as_slice())
    }

    /// Replaces the element at `index`; `false` when out of range.
    pub fn set(&mut self, index: usize, element: &[u8]) -> bool {
        let Some((at, place)) = self.locate(index) else {
            return false;
        };
        let element = StrBytes::from_slice(element);
        let slot = &mut self.chunks[at][place];
        self.bytes = self.bytes - slot.heap_bytes() + element.heap_bytes();
        *slot = element;
        true
    }

    /// Inserts `element` so that it ends up at `index` (0..=len).
    pub fn insert(&mut self, index: usize, element: &[u8]) {
        if index == 0 || index >= self.len {
            let end = if index == 0 { End::Left } else { End::Right };
            self.push(end, element);
            return;
        }
        let Some((mut at, mut place)) = self.locate(index) else {
            return;
        };
        if self.chunks[at].len() >= CHUNK {
            // Split the full chunk: its upper half becomes the next chunk.
            let upper = self.change_chunk(at, |chunk| chunk.split_off(CHUNK / 2));
            self.slots += upper.capacity();
            self.chunks.insert(at + 1, upper);
            if place >= CHUNK / 2 {
                at += 1;
                place -= CHUNK / 2;
            }
        }
        let element = StrBytes::from_slice(element);
        self.len += 1;
        self.bytes += element.heap_bytes();
        self.change_chunk(at, |chunk| chunk.insert(place, element));
    }

    /// The index of the first element equal to `element`.
    pub fn position(&self, element: &[u8]) -> Option<usize> {
        self.iter().position(|e| e == element)
    }

    /// The elements from `start` to `end` inclusive (valid indexes), head to tail.
    pub fn range(&self, start: usize, end: usize) -> Iter<'_> {
        Iter::new(self, start, end + 1)
    }

    /// Every element, head to tail.
    pub fn iter(&self) -> Iter<'_> {
        Iter::new(self, 0, self.len)
    }

    /// Removes up to `count` elements equal to `element` (0: all), from the head, or from the
    /// tail when `from_tail`; returns how many.
    pub fn remove_matching(&mut self, element: &[u8], count: usize, from_tail: bool) -> usize {
        if !self.iter().any(|e| e == element) {
            return 0;
        }
        // Rebuild from the kept elements, in full chunks.
        let old = std::mem::take(self);
        let mut removed = 0;
        let mut take = |e: &StrBytes| {
            let hit = (count == 0 || removed < count) && e.as_slice() == element;
            removed += usize::from(hit);
            hit
        };
        if from_tail {
            for e in old
                .chunks
                .into_iter()
                .rev()
                .flat_map(|c| c.into_iter().rev())
            {
                if !take(&e) {
                    self.push_owned(End::Left, e);
                }
            }
        } else {
            for e in old.chunks.into_iter().flatten() {
                if !take(&e) {
                    self.push_owned(End::Right, e);
                }
            }
        }
        removed
    }

    /// Keeps only the elements from `start` to `end` inclusive (valid indexes, `start <= end`);
    /// `None` empties the list.
    pub fn trim(&mut self, keep: Option<(usize, usize)>) {
        let Some((start, end)) = keep else {
            *self = List::default();
            return;
        };
        for _ in end + 1..self.len {
            self.pop(End::Right);
        }
        for _ in 0..start {
            self.pop(End::Left);
        }
    }

    /// Gives back the ring of chunks' room when it is mostly empty.
    fn shrink(&mut self) {
        let cap = self.chunks.capacity();
        if cap > 64 && self.chunks.len() < cap / 4 {
            self.chunks.shrink_to(cap / 2);
        }
    }
}

/// The elements of a list or of a range of it, in order from either end.
#[derive(Clone, Debug)]
pub struct Iter<'a> {
    chunks: &'a VecDeque<Chunk>,
    /// The chunk and place of the next element from the front.
    front: (usize, usize),
    /// The chunk and place just after the next element from the back.
    back: (usize, usize),
    /// Elements not yet returned.
    left: usize,
}

impl<'a> Iter<'a> {
    /// The elements at indexes `start..end` of `list` (`start <= end <= len`).
    fn new(list: &'a List, start: usize, end: usize) -> Iter<'a> {
        let at = |index: usize| list.locate(index).unwrap_or((list.chunks.len(), 0));
        Iter {
            chunks: &list.chunks,
            front: at(start),
            back: at(end),
            left: end.saturating_sub(start),
        }
    }
}

impl<'a> Iterator for Iter<'a> {
    type Item = &'a [u8];

    fn next(&mut self) -> Option<&'a [u8]> {
        self.nth(0)
    }

    fn nth(&mut self, n: usize) -> Option<&'a [u8]> {
        if n >= self.left {
            self.left = 0;
            return None;
        }
        self.left -= n + 1;
        let (mut at, mut place) = self.front;
        place += n;
        while place >= self.chunks[at].len() {
            place -= self.chunks[at].len();
            at += 1;
        }
        let element = self.chunks[at][place].as_slice();
        self.front = if place + 1 == self.chunks[at].len() {
            (at + 1, 0)
        } else {
            (at, place + 1)
        };
        Some(element)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.left, Some(self.left))
    }
}

impl DoubleEndedIterator for Iter<'_> {
    fn next_back(&mut self) -> Option<Self::Item> {
        if self.left == 0 {
            return None;
        }
        self.left -= 1;
        let (mut at, mut place) = self.back;
        if place == 0 {
            at -= 1;
            place = self.chunks[at].len();
        }
        place -= 1;
        self.back = (at, place);
        Some(self.chunks[at][place].as_slice())
    }
}

impl ExactSizeIterator for Iter<'_> {}

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

    /// The heap bytes recomputed from the structure, for comparison with the kept count.
    fn recount(l: &List) -> usize {
        let slots: usize = l.chunks.iter().map(VecDeque::capacity).sum();
        let bytes: usize = l.chunks.iter().flatten().map(StrBytes::heap_bytes).sum();
        l.chunks.capacity() * size_of::<Chunk>() + slots * SLOT + bytes
    }

    #[test]
    fn heap_bytes_follow_changes() {
        let mut l = List::new();
        // Up to 14 bytes inline; 15 and 16 in a 16-byte buffer, 17 to 32 in a 32-byte one.
        l.push(End::Left, b"abc");
        l.push(End::Right, b"0123456789abcdefghij");
        assert_eq!(l.heap_bytes(), recount(&l));
        assert_eq!(l.bytes, 32);
        l.set(0, b"0123456789abcdef");
        assert_eq!(l.bytes, 32 + 16);
        l.set(0, b"");
        assert_eq!(l.bytes, 32);
        l.pop(End::Right);
        l.pop(End::Right);
        assert_eq!(l.heap_bytes(), recount(&l));
        assert_eq!((l.len(), l.bytes, l.slots), (0, 0, 0));
    }

    #[test]
    fn remove_matching_from_either_end() {
        let mut l = list(&["a", "b", "a", "c", "a"]);
        assert_eq!(l.remove_matching(b"a", 2, true), 2);
        assert_eq!(items(&l), ["a", "b", "c"]);
        let mut l = list(&["a", "b", "a", "c", "a"]);
        assert_eq!(l.remove_matching(b"a", 0, false), 3);
        assert_eq!(items(&l), ["b", "c"]);
        assert_eq!(l.bytes, 0, "short elements are inline");
        assert_eq!(l.remove_matching(b"z", 0, false), 0);
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

    #[test]
    fn a_long_list_grows_one_chunk_at_a_time() {
        let mut l = List::new();
        for i in 0..10 * CHUNK + 3 {
            l.push(End::Right, &i.to_le_bytes());
        }
        // The first chunk grew as it filled; every later one was allocated whole.
        assert_eq!(l.chunks.len(), 11);
        assert!(l.chunks.iter().all(|c| c.capacity() == CHUNK));
        assert_eq!(l.heap_bytes(), recount(&l));
        // An index is found from either end.
        for i in [0, 1, CHUNK - 1, CHUNK, 5 * CHUNK + 7, 10 * CHUNK + 2] {
            assert_eq!(l.get(i), Some(&i.to_le_bytes()[..]));
        }
        assert_eq!(l.get(10 * CHUNK + 3), None);
    }

    /// Every operation against a `VecDeque` model, on lists long enough to span many chunks:
    /// the same elements in the same order, from either end and by range, and a heap count that
    /// matches the structure after every step.
    #[test]
    fn behaves_like_a_ring_buffer_of_elements() {
        let mut state = 17u64;
        let mut below = move |n: usize| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state % n as u64) as usize
        };
        let mut l = List::new();
        let mut model: VecDeque<Box<[u8]>> = VecDeque::new();
        let mut longest = 0;
        for step in 0..20_000u32 {
            // 50 distinct values, some inline (up to 14 bytes) and some in buffers.
            let v = (step % 50) as usize;
            let element: Box<[u8]> = format!("{v}:{}", "x".repeat(v)).into_bytes().into();
            let index = if model.is_empty() {
                0
            } else {
                below(model.len() + 1)
            };
            match below(100) {
                0..=29 => {
                    l.push(End::Right, &element);
                    model.push_back(element);
                }
                30..=49 => {
                    l.push(End::Left, &element);
                    model.push_front(element);
                }
                50..=59 => assert_eq!(l.pop(End::Left).as_deref(), model.pop_front().as_deref()),
                60..=69 => assert_eq!(l.pop(End::Right).as_deref(), model.pop_back().as_deref()),
                70..=84 => {
                    l.insert(index, &element);
                    model.insert(index, element);
                }
                85..=92 => {
                    let ok = l.set(index, &element);
                    assert_eq!(ok, index < model.len());
                    if ok {
                        model[index] = element;
                    }
                }
                93..=95 if !model.is_empty() => {
                    // Elements repeat (50 distinct values): remove up to n copies of one, from
                    // either end.
                    let target = model[below(model.len())].clone();
                    let n = below(3);
                    let from_tail = step % 2 == 0;
                    let mut hits: Vec<usize> =
                        (0..model.len()).filter(|&i| model[i] == target).collect();
                    if from_tail {
                        hits.reverse();
                    }
                    if n > 0 {
                        hits.truncate(n);
                    }
                    hits.sort_unstable();
                    for &i in hits.iter().rev() {
                        model.remove(i);
                    }
                    assert_eq!(l.remove_matching(&target, n, from_tail), hits.len());
                }
                _ => {
                    // Rarely, so that the list spans many chunks between two trims.
                    if model.len() > 2 && below(200) == 0 {
                        let start = below(model.len() / 2);
                        let end = start + below(model.len() - start);
                        l.trim(Some((start, end)));
                        model.truncate(end + 1);
                        model.drain(..start);
                    }
                }
            }
            longest = longest.max(model.len());
            assert_eq!(l.len(), model.len(), "step {step}");
            if step % 97 == 0 || model.len() < 8 {
                assert_eq!(l.heap_bytes(), recount(&l), "step {step}");
                assert!(l.chunks.iter().all(|c| !c.is_empty() && c.len() <= CHUNK));
                assert!(l.iter().eq(model.iter().map(|e| &e[..])), "step {step}");
                assert!(l.iter().rev().eq(model.iter().rev().map(|e| &e[..])));
                if !model.is_empty() {
                    let a = below(model.len());
                    let b = a + below(model.len() - a);
                    let expected = model.range(a..=b).map(|e| &e[..]);
                    assert!(l.range(a, b).eq(expected.clone()));
                    assert!(l.range(a, b).rev().eq(expected.rev()));
                    assert_eq!(l.range(a, b).len(), b - a + 1);
                    let skip = below(b - a + 2);
                    assert_eq!(
                        l.range(a, b).nth(skip),
                        model.range(a..=b).nth(skip).map(|e| &e[..])
                    );
                    assert_eq!(l.get(a), Some(&model[a][..]));
                    let found = model.iter().position(|e| *e == model[b]);
                    assert_eq!(l.position(&model[b]), found);
                }
            }
        }
        assert!(longest > 10 * CHUNK, "the list reached {longest} elements");
        let copy = l.clone();
        assert!(copy.iter().eq(l.iter()));
        assert_eq!(copy.heap_bytes(), recount(&copy));
    }
}
