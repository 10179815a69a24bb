//! The zset value: members ordered by score, then by member bytes.
//!
//! Two encodings, as Redis 7.0 has:
//! - `listpack`: a sorted `Vec` of (score, member) for small sets (at most
//!   `zset-max-listpack-entries` members, each at most `zset-max-listpack-value` bytes);
//!   lookups scan it, which is fast at that size;
//! - `skiplist`: [`big::Big`], the members and scores in a slab hash table (the one hashes and
//!   sets use) and an order-statistics B+tree of their slots (rank, range by score or lex in
//!   O(log n)). A set converts to it when it outgrows the limits and never converts back (as
//!   Redis).
//!
//! Positions are 0-based ascending ranks everywhere in this API.

pub mod big;

use big::Big;
pub use big::cmp_entries;
use std::cmp::Ordering;
use std::fmt;

/// The compact-encoding limits (`zset-max-listpack-entries`, `zset-max-listpack-value`).
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    /// Most members a `listpack` set holds.
    pub entries: usize,
    /// Longest member a `listpack` set holds.
    pub value: usize,
}

/// A zset: members ordered by score.
#[derive(Clone)]
pub struct ZSet {
    repr: Repr,
}

#[derive(Clone)]
enum Repr {
    Small(Small),
    Big(Box<Big>),
}

#[derive(Clone, Default)]
struct Small {
    items: Vec<(f64, Box<[u8]>)>,
    member_bytes: usize,
}

impl fmt::Debug for ZSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ZSet({}, len {})", self.encoding(), self.len())
    }
}

impl Default for ZSet {
    fn default() -> ZSet {
        ZSet {
            repr: Repr::Small(Small::default()),
        }
    }
}

impl Small {
    fn position(&self, member: &[u8]) -> Option<usize> {
        self.items.iter().position(|(_, m)| **m == *member)
    }

    fn insert_sorted(&mut self, score: f64, member: Box<[u8]>) {
        let pos = self
            .items
            .partition_point(|(s, m)| cmp_entries(*s, m, score, &member) == Ordering::Less);
        self.member_bytes += member.len();
        self.items.insert(pos, (score, member));
    }
}

impl ZSet {
    /// An empty set for a first member of `first_len` bytes, in the encoding Redis picks for it.
    pub fn for_first(limits: Limits, first_len: usize) -> ZSet {
        if limits.entries == 0 || first_len > limits.value {
            ZSet {
                repr: Repr::Big(Box::default()),
            }
        } else {
            ZSet::default()
        }
    }

    /// A set of `entries` (distinct members), `listpack` when it fits the limits.
    pub fn from_entries(mut entries: Vec<(f64, Box<[u8]>)>, limits: Limits) -> ZSet {
        let longest = entries.iter().map(|(_, m)| m.len()).max().unwrap_or(0);
        if entries.len() <= limits.entries && longest <= limits.value {
            entries.sort_by(|a, b| cmp_entries(a.0, &a.1, b.0, &b.1));
            let member_bytes = entries.iter().map(|(_, m)| m.len()).sum();
            return ZSet {
                repr: Repr::Small(Small {
                    items: entries,
                    member_bytes,
                }),
            };
        }
        let mut big = Big::new();
        for (score, member) in entries {
            big.insert_new(member, score);
        }
        ZSet {
            repr: Repr::Big(Box::new(big)),
        }
    }

    /// Prefetches the entries of `members` of a `skiplist` set (a hint: see
    /// [`big::Big::prefetch_members`]); a `listpack` set asks for nothing.
    pub fn prefetch_members(&self, members: &[&[u8]]) {
        if let Repr::Big(big) = &self.repr {
            big.prefetch_members(members);
        }
    }

    /// Number of elements.
    pub fn len(&self) -> usize {
        match &self.repr {
            Repr::Small(s) => s.items.len(),
            Repr::Big(b) => b.len(),
        }
    }

    /// Whether it has no elements (an empty collection is never stored: the key is removed).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Heap bytes owned, kept up to date by every change (O(1)).
    pub fn heap_bytes(&self) -> usize {
        match &self.repr {
            Repr::Small(s) => s.items.capacity() * size_of::<(f64, Box<[u8]>)>() + s.member_bytes,
            Repr::Big(b) => b.heap_bytes(),
        }
    }

    /// `OBJECT ENCODING`'s answer.
    pub fn encoding(&self) -> &'static str {
        match &self.repr {
            Repr::Small(_) => "listpack",
            Repr::Big(_) => "skiplist",
        }
    }

    /// The score of `member`.
    pub fn score(&self, member: &[u8]) -> Option<f64> {
        match &self.repr {
            Repr::Small(s) => s.position(member).map(|i| s.items[i].0),
            Repr::Big(b) => b.score(member),
        }
    }

    /// Sets `member`'s score (never NaN), adding it when absent (converting to `skiplist` when
    /// the set outgrows `limits`); returns the previous score.
    pub fn insert(&mut self, member: &[u8], score: f64, limits: Limits) -> Option<f64> {
        let small = match &mut self.repr {
            Repr::Big(b) => return b.insert(member, score),
            Repr::Small(s) => s,
        };
        if let Some(i) = small.position(member) {
            let old = small.items[i].0;
            if old != score {
                let (_, m) = small.items.remove(i);
                small.member_bytes -= m.len();
                small.insert_sorted(score, m);
            }
            return Some(old);
        }
        if small.items.len() < limits.entries && member.len() <= limits.value {
            small.insert_sorted(score, member.into());
            return None;
        }
        let mut big = Big::new();
        for (s, m) in std::mem::take(&mut small.items) {
            big.insert_new(m, s);
        }
        big.insert_new(member.into(), score);
        self.repr = Repr::Big(Box::new(big));
        None
    }

    /// Removes `member`; returns its score.
    pub fn remove(&mut self, member: &[u8]) -> Option<f64> {
        match &mut self.repr {
            Repr::Small(s) => {
                let i = s.position(member)?;
                let (score, m) = s.items.remove(i);
                s.member_bytes -= m.len();
                Some(score)
            }
            Repr::Big(b) => b.remove(member),
        }
    }

    /// The 0-based ascending rank of `member`.
    pub fn rank(&self, member: &[u8]) -> Option<usize> {
        match &self.repr {
            Repr::Small(s) => s.position(member),
            Repr::Big(b) => b.rank(member),
        }
    }

    /// The member and score at ascending `rank`.
    pub fn get(&self, rank: usize) -> Option<(&[u8], f64)> {
        match &self.repr {
            Repr::Small(s) => s.items.get(rank).map(|(sc, m)| (&m[..], *sc)),
            Repr::Big(b) => b.get(rank),
        }
    }

    /// How many members satisfy `pred`, which holds for a prefix of the order.
    pub fn partition_point(&self, mut pred: impl FnMut(f64, &[u8]) -> bool) -> usize {
        match &self.repr {
            Repr::Small(s) => s
                .items
                .iter()
                .position(|(sc, m)| !pred(*sc, m))
                .unwrap_or(s.items.len()),
            Repr::Big(b) => b.partition_point(pred),
        }
    }

    /// How many members satisfy `pred` on their score alone (true for a prefix of the order);
    /// the large encoding answers it without reading members.
    pub fn partition_point_by_score(&self, mut pred: impl FnMut(f64) -> bool) -> usize {
        match &self.repr {
            Repr::Small(_) => self.partition_point(|score, _| pred(score)),
            Repr::Big(b) => b.partition_point_by_score(pred),
        }
    }

    /// Calls `f` with the members at ranks `start..end`, from `end - 1` down when `rev`.
    pub fn for_range(&self, start: usize, end: usize, rev: bool, mut f: impl FnMut(&[u8], f64)) {
        match &self.repr {
            Repr::Small(s) => {
                let end = end.min(s.items.len());
                if start >= end {
                    return;
                }
                let items = &s.items[start..end];
                if rev {
                    items.iter().rev().for_each(|(sc, m)| f(m, *sc));
                } else {
                    items.iter().for_each(|(sc, m)| f(m, *sc));
                }
            }
            Repr::Big(b) => b.for_range(start, end, rev, f),
        }
    }

    /// Calls `f` with every member in ascending order.
    pub fn for_each(&self, f: impl FnMut(&[u8], f64)) {
        self.for_range(0, self.len(), false, f);
    }

    /// Removes the members at ranks `start..end`; returns how many.
    pub fn remove_range(&mut self, start: usize, end: usize) -> usize {
        match &mut self.repr {
            Repr::Small(s) => {
                let end = end.min(s.items.len());
                if start >= end {
                    return 0;
                }
                let removed: usize = s.items.drain(start..end).map(|(_, m)| m.len()).sum();
                s.member_bytes -= removed;
                end - start
            }
            Repr::Big(b) => b.remove_range(start, end),
        }
    }

    /// `ZSCAN`: visits about `count` members from `cursor`, returning the next cursor (0 when
    /// done). A `listpack` set is returned whole in one call, as Redis does.
    pub fn scan(&self, cursor: u64, count: usize, mut f: impl FnMut(&[u8], f64)) -> u64 {
        match &self.repr {
            Repr::Small(s) => {
                s.items.iter().for_each(|(sc, m)| f(m, *sc));
                0
            }
            Repr::Big(b) => b.scan(cursor, count, f),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIMITS: Limits = Limits {
        entries: 4,
        value: 8,
    };

    #[test]
    fn converts_when_outgrowing_the_limits_and_never_back() {
        let mut z = ZSet::for_first(LIMITS, 1);
        for (i, m) in [b"d", b"c", b"b", b"a"].iter().enumerate() {
            assert_eq!(z.insert(&m[..], i as f64, LIMITS), None);
        }
        assert_eq!(z.encoding(), "listpack");
        assert_eq!(z.get(0), Some((&b"d"[..], 0.0)));
        z.insert(b"e", -1.0, LIMITS);
        assert_eq!(z.encoding(), "skiplist");
        assert_eq!(z.get(0), Some((&b"e"[..], -1.0)));
        assert_eq!(z.rank(b"a"), Some(4));
        z.remove_range(0, 4);
        assert_eq!(z.len(), 1);
        assert_eq!(z.encoding(), "skiplist");
        let mut long = ZSet::for_first(LIMITS, 1);
        long.insert(b"x", 1.0, LIMITS);
        long.insert(b"123456789", 1.0, LIMITS);
        assert_eq!(long.encoding(), "skiplist");
        assert_eq!(ZSet::for_first(LIMITS, 9).encoding(), "skiplist");
    }

    #[test]
    fn equal_scores_order_by_member_bytes() {
        let mut z = ZSet::default();
        for m in [&b"b"[..], b"a", b"c"] {
            z.insert(m, 1.0, LIMITS);
        }
        let mut seen = Vec::new();
        z.for_each(|m, _| seen.push(m.to_vec()));
        assert_eq!(seen, vec![b"a".to_vec(), b"b".to_vec(), b"c".to_vec()]);
        assert_eq!(z.insert(b"a", 5.0, LIMITS), Some(1.0));
        assert_eq!(z.rank(b"a"), Some(2));
    }
}
