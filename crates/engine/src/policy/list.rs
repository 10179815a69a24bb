//! Intrusive doubly linked lists over slot indices, without pointers or `unsafe`.
//!
//! One [`Links`] arena holds a `prev`/`next` pair per slot (8 bytes); any number of [`List`]s
//! thread through it, and a slot is on at most one list at a time. LRU and FIFO use one list,
//! S3-FIFO uses two (small and main); later policies (ARC, SLRU) use more, all over the same arena.

use super::Slot;

const NIL: u32 = u32::MAX;

/// `prev`/`next` links for every slot.
#[derive(Debug, Default, Clone)]
pub struct Links {
    links: Vec<[u32; 2]>,
}

impl Links {
    /// Makes room for slots `0..=slot`.
    #[inline]
    pub fn ensure(&mut self, slot: Slot) {
        let need = slot as usize + 1;
        if self.links.len() < need {
            self.links.resize(need, [NIL, NIL]);
        }
    }

    /// Reserves room for `additional` more slots.
    pub fn reserve(&mut self, additional: usize) {
        self.links.reserve(additional);
    }

    /// Forgets every slot.
    pub fn clear(&mut self) {
        self.links.clear();
    }

    /// Bytes of heap this arena holds.
    pub fn heap_bytes(&self) -> usize {
        self.links.capacity() * std::mem::size_of::<[u32; 2]>()
    }
}

/// One list threaded through a [`Links`] arena: head is the most recently pushed end.
#[derive(Debug, Clone, Copy)]
pub struct List {
    head: u32,
    tail: u32,
    len: usize,
}

impl Default for List {
    fn default() -> Self {
        Self {
            head: NIL,
            tail: NIL,
            len: 0,
        }
    }
}

impl List {
    /// Number of slots on the list.
    #[inline]
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether the list is empty.
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The slot at the tail (the oldest push), if any.
    #[inline]
    pub fn tail(&self) -> Option<Slot> {
        (self.tail != NIL).then_some(self.tail)
    }

    /// The slot at the head (the newest push), if any.
    #[inline]
    pub fn head(&self) -> Option<Slot> {
        (self.head != NIL).then_some(self.head)
    }

    /// The neighbour of `slot` (on this list) toward the head, if any.
    #[inline]
    pub fn prev_of(&self, links: &Links, slot: Slot) -> Option<Slot> {
        let prev = links.links[slot as usize][0];
        (prev != NIL).then_some(prev)
    }

    /// Pushes `slot` (not on any list) at the head.
    #[inline]
    pub fn push_head(&mut self, links: &mut Links, slot: Slot) {
        links.ensure(slot);
        links.links[slot as usize] = [NIL, self.head];
        if self.head != NIL {
            links.links[self.head as usize][0] = slot;
        } else {
            self.tail = slot;
        }
        self.head = slot;
        self.len += 1;
    }

    /// Unlinks `slot`, which must be on this list.
    #[inline]
    pub fn unlink(&mut self, links: &mut Links, slot: Slot) {
        let [prev, next] = links.links[slot as usize];
        if prev != NIL {
            links.links[prev as usize][1] = next;
        } else {
            self.head = next;
        }
        if next != NIL {
            links.links[next as usize][0] = prev;
        } else {
            self.tail = prev;
        }
        links.links[slot as usize] = [NIL, NIL];
        self.len -= 1;
    }

    /// Moves `slot`, which must be on this list, to the head.
    #[inline]
    pub fn move_to_head(&mut self, links: &mut Links, slot: Slot) {
        if self.head != slot {
            self.unlink(links, slot);
            self.push_head(links, slot);
        }
    }

    /// Removes and returns the tail.
    #[inline]
    pub fn pop_tail(&mut self, links: &mut Links) -> Option<Slot> {
        let tail = self.tail()?;
        self.unlink(links, tail);
        Some(tail)
    }

    /// Iterates from head to tail.
    pub fn iter<'a>(&self, links: &'a Links) -> impl Iterator<Item = Slot> + 'a {
        let mut at = self.head;
        std::iter::from_fn(move || {
            if at == NIL {
                return None;
            }
            let slot = at;
            at = links.links[slot as usize][1];
            Some(slot)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn push_unlink_and_pop_keep_order() {
        let mut links = Links::default();
        let mut list = List::default();
        for s in 0..5 {
            list.push_head(&mut links, s);
        }
        assert_eq!(list.iter(&links).collect::<Vec<_>>(), vec![4, 3, 2, 1, 0]);
        list.unlink(&mut links, 2);
        list.move_to_head(&mut links, 0);
        assert_eq!(list.iter(&links).collect::<Vec<_>>(), vec![0, 4, 3, 1]);
        assert_eq!(list.pop_tail(&mut links), Some(1));
        assert_eq!(list.pop_tail(&mut links), Some(3));
        assert_eq!(list.pop_tail(&mut links), Some(4));
        assert_eq!(list.pop_tail(&mut links), Some(0));
        assert_eq!(list.pop_tail(&mut links), None);
        assert!(list.is_empty());
    }

    #[test]
    fn two_lists_share_one_arena() {
        let mut links = Links::default();
        let (mut a, mut b) = (List::default(), List::default());
        a.push_head(&mut links, 0);
        b.push_head(&mut links, 1);
        a.push_head(&mut links, 2);
        a.unlink(&mut links, 0);
        b.push_head(&mut links, 0);
        assert_eq!(a.iter(&links).collect::<Vec<_>>(), vec![2]);
        assert_eq!(b.iter(&links).collect::<Vec<_>>(), vec![0, 1]);
    }
}
