//! The set value: distinct members, in Redis 7.0's two encodings.
//!
//! - `intset`: a sorted vector of `i64` while every member is the canonical decimal form of a
//!   64-bit integer and there are at most `set-max-intset-entries` of them;
//! - `hashtable`: a [`Table`] otherwise (Redis 7.0 has no listpack sets; a set never converts
//!   back).
//!
//! The heap byte count is O(1): the intset's is its capacity, the table keeps its own.

use super::table::{Table, random_below};
use super::{IntBuf, format_i64, parse_i64};
use larder_engine::prefetch::prefetch;
use std::mem::size_of;

type Bytes = Box<[u8]>;

#[derive(Clone, Debug)]
enum Repr {
    Intset(Vec<i64>),
    Table(Table<Bytes, ()>),
}

/// A set: distinct members.
#[derive(Clone, Debug)]
pub struct Set {
    repr: Repr,
}

impl Default for Set {
    fn default() -> Self {
        Set::new()
    }
}

/// A member as stored: an `intset` keeps integers, formatted on the way out.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Member<'a> {
    /// An integer of an `intset`.
    Int(i64),
    /// A member of a `hashtable` set.
    Bytes(&'a [u8]),
}

impl<'a> Member<'a> {
    /// The member's bytes (an integer is formatted into `buf`).
    pub fn bytes<'b>(&self, buf: &'b mut IntBuf) -> &'b [u8]
    where
        'a: 'b,
    {
        match *self {
            Member::Int(n) => format_i64(n, buf),
            Member::Bytes(b) => b,
        }
    }

    /// The member's bytes, owned.
    pub fn to_vec(&self) -> Vec<u8> {
        self.bytes(&mut IntBuf::default()).to_vec()
    }
}

impl Set {
    /// An empty set (`intset`).
    pub fn new() -> Set {
        Set {
            repr: Repr::Intset(Vec::new()),
        }
    }

    /// Number of members.
    pub fn len(&self) -> usize {
        match &self.repr {
            Repr::Intset(ints) => ints.len(),
            Repr::Table(table) => table.len(),
        }
    }

    /// Whether it has no members (an empty collection is never stored: the key is removed).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Heap bytes owned, kept up to date by every change (O(1)).
    pub fn heap_bytes(&self) -> usize {
        size_of::<Set>()
            + match &self.repr {
                Repr::Intset(ints) => ints.capacity() * size_of::<i64>(),
                Repr::Table(table) => table.heap_bytes(),
            }
    }

    /// `OBJECT ENCODING`'s answer.
    pub fn encoding(&self) -> &'static str {
        match &self.repr {
            Repr::Intset(_) => "intset",
            Repr::Table(_) => "hashtable",
        }
    }

    /// Prefetches the entries of `members` of a `hashtable` set (a hint: see
    /// [`Table::prefetch`]); an `intset` is one small allocation, and nothing is asked for.
    pub fn prefetch_members(&self, members: &[&[u8]]) {
        if let Repr::Table(table) = &self.repr {
            table.prefetch(members, |member, ()| prefetch(&**member));
        }
    }

    /// Whether `member` is in the set.
    pub fn contains(&self, member: &[u8]) -> bool {
        match &self.repr {
            Repr::Intset(ints) => parse_i64(member).is_some_and(|n| ints.binary_search(&n).is_ok()),
            Repr::Table(table) => table.contains(member),
        }
    }

    /// [`Set::contains`] for a member of another set (no formatting between two intsets).
    pub fn contains_member(&self, member: Member<'_>) -> bool {
        match (&self.repr, member) {
            (Repr::Intset(ints), Member::Int(n)) => ints.binary_search(&n).is_ok(),
            _ => self.contains(member.bytes(&mut IntBuf::default())),
        }
    }

    /// Adds `member`; `true` when it is new. Stays an `intset` while every member is an
    /// integer and there are at most `max_intset` of them.
    pub fn add(&mut self, member: &[u8], max_intset: usize) -> bool {
        if let Repr::Intset(ints) = &mut self.repr
            && let Some(n) = parse_i64(member)
        {
            let Err(at) = ints.binary_search(&n) else {
                return false;
            };
            if ints.len() < max_intset {
                ints.insert(at, n);
                return true;
            }
        }
        self.convert();
        match &mut self.repr {
            Repr::Table(table) => {
                if table.contains(member) {
                    return false;
                }
                table.insert(member.into(), ());
                true
            }
            Repr::Intset(_) => false,
        }
    }

    /// Removes `member`; `true` when it was present.
    pub fn remove(&mut self, member: &[u8]) -> bool {
        match &mut self.repr {
            Repr::Intset(ints) => {
                let Some(at) = parse_i64(member).and_then(|n| ints.binary_search(&n).ok()) else {
                    return false;
                };
                ints.remove(at);
                if ints.capacity() > 8 && ints.len() * 4 < ints.capacity() {
                    ints.shrink_to(ints.len() * 2);
                }
                true
            }
            Repr::Table(table) => table.remove(member).is_some(),
        }
    }

    fn convert(&mut self) {
        if let Repr::Intset(ints) = &self.repr {
            let mut table = Table::with_capacity(ints.len() + 1);
            let mut buf = IntBuf::default();
            for &n in ints {
                table.insert(format_i64(n, &mut buf).into(), ());
            }
            self.repr = Repr::Table(table);
        }
    }

    /// Every member (ascending for an `intset`, slot order for a `hashtable`).
    pub fn iter(&self) -> impl Iterator<Item = Member<'_>> {
        let (small, large) = match &self.repr {
            Repr::Intset(ints) => (Some(ints.iter()), None),
            Repr::Table(table) => (None, Some(table.keys())),
        };
        small
            .into_iter()
            .flatten()
            .map(|&n| Member::Int(n))
            .chain(large.into_iter().flatten().map(|m| Member::Bytes(m)))
    }

    /// A random member.
    pub fn random(&self) -> Option<Member<'_>> {
        match &self.repr {
            Repr::Intset(ints) if ints.is_empty() => None,
            Repr::Intset(ints) => Some(Member::Int(ints[random_below(ints.len())])),
            Repr::Table(table) => table.random().map(|(m, _)| Member::Bytes(m)),
        }
    }

    /// Removes and returns a random member.
    pub fn pop_random(&mut self) -> Option<Vec<u8>> {
        match &mut self.repr {
            Repr::Intset(ints) if ints.is_empty() => None,
            Repr::Intset(ints) => {
                let n = ints.remove(random_below(ints.len()));
                Some(format_i64(n, &mut IntBuf::default()).to_vec())
            }
            Repr::Table(table) => table.pop_random().map(|(m, ())| m.into_vec()),
        }
    }

    /// `SSCAN`'s step: visits about `count` members from `cursor` and returns the next cursor
    /// (0 when done). An `intset` is visited whole in one call, as in Redis.
    pub fn scan(&self, cursor: u64, count: usize, mut visit: impl FnMut(Member<'_>)) -> u64 {
        match &self.repr {
            Repr::Intset(ints) => {
                for &n in ints {
                    visit(Member::Int(n));
                }
                0
            }
            Repr::Table(table) => table.scan(cursor, count, |m, _| visit(Member::Bytes(m))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn intset_until_a_string_or_too_many() {
        let mut s = Set::new();
        assert!(s.add(b"3", 3));
        assert!(s.add(b"-1", 3));
        assert!(!s.add(b"3", 3));
        assert!(s.add(b"2", 3));
        assert_eq!(s.encoding(), "intset");
        let members: Vec<Vec<u8>> = s.iter().map(|m| m.to_vec()).collect();
        assert_eq!(members, vec![b"-1".to_vec(), b"2".to_vec(), b"3".to_vec()]);
        assert!(s.contains(b"2") && !s.contains(b"02"));
        assert!(s.add(b"4", 3));
        assert_eq!(s.encoding(), "hashtable");
        assert!(s.contains(b"2") && s.contains(b"4") && s.len() == 4);
        let mut s = Set::new();
        s.add(b"1", 512);
        s.add(b"01", 512);
        assert_eq!(s.encoding(), "hashtable");
        assert!(s.contains(b"1") && s.contains(b"01"));
        assert!(s.remove(b"1") && s.remove(b"01") && s.is_empty());
    }
}
