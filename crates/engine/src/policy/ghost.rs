//! A ghost queue: the fingerprints of recently evicted keys, without their values.
//!
//! Policies that adapt to what they evicted too early (S3-FIFO now, ARC next) ask "was this key
//! evicted recently?". The ghost keeps a 32-bit fingerprint per remembered key in FIFO order and a
//! multiset of the same fingerprints for O(1) membership: about 10 bytes per remembered key, and
//! never more keys than its capacity. A fingerprint collision (two keys sharing 32 hash bits)
//! only makes a key look recently evicted when it was not: a slightly different placement, never
//! a wrong value.

use hashbrown::HashTable;
use std::collections::VecDeque;

#[inline]
fn fingerprint(hash: u64) -> u32 {
    hash as u32
}

#[inline]
fn table_hash(fp: u32) -> u64 {
    u64::from(fp).wrapping_mul(0x9E37_79B9_7F4A_7C15)
}

/// A bounded FIFO of evicted-key fingerprints with O(1) membership.
#[derive(Debug, Default)]
pub(crate) struct Ghost {
    order: VecDeque<u32>,
    members: HashTable<u32>,
}

impl Ghost {
    /// Remembers `hash`, forgetting the oldest fingerprints beyond `capacity`.
    pub(crate) fn insert(&mut self, hash: u64, capacity: usize) {
        if capacity == 0 {
            return;
        }
        // Capacity counts remembered keys; records of keys taken since are skipped as they come
        // up, and bounded to as many again.
        while self.members.len() >= capacity || self.order.len() >= 2 * capacity {
            self.forget_oldest();
        }
        let fp = fingerprint(hash);
        self.order.push_back(fp);
        self.members
            .insert_unique(table_hash(fp), fp, |&f| table_hash(f));
    }

    /// If `hash` is remembered, forgets it and returns `true`.
    pub(crate) fn take(&mut self, hash: u64) -> bool {
        let fp = fingerprint(hash);
        match self.members.find_entry(table_hash(fp), |&f| f == fp) {
            Ok(entry) => {
                entry.remove();
                true
            }
            Err(_) => false,
        }
    }

    fn forget_oldest(&mut self) {
        if let Some(fp) = self.order.pop_front()
            && let Ok(entry) = self.members.find_entry(table_hash(fp), |&f| f == fp)
        {
            entry.remove();
        }
    }

    pub(crate) fn clear(&mut self) {
        self.order.clear();
        self.members.clear();
    }

    pub(crate) fn heap_bytes(&self) -> usize {
        self.order.capacity() * 4 + self.members.capacity() * 5
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remembers_recent_and_forgets_oldest() {
        let mut ghost = Ghost::default();
        for h in 1..=4u64 {
            ghost.insert(h, 3);
        }
        assert!(!ghost.take(1), "the oldest was forgotten at capacity 3");
        assert!(ghost.take(3));
        assert!(!ghost.take(3), "taking forgets");
        assert!(ghost.take(4));
    }
}
