//! ARC: Adaptive Replacement Cache (Megiddo & Modha, FAST 2003).
//!
//! Two resident LRU lists, T1 (seen once recently) and T2 (seen at least twice), and two ghost
//! lists of evicted keys, B1 (evicted from T1) and B2 (evicted from T2). A miss that finds its
//! key in B1 means T1 was too small: the target size `p` of T1 grows; a key found in B2 shrinks
//! it. REPLACE evicts from T1 when T1 exceeds `p` (or equals it and the key came from B2),
//! otherwise from T2, and remembers the victim in the matching ghost list. All sizes are in weight
//! units, so with unit weights this is the paper's algorithm exactly, with `p` kept as an integer
//! and the adaptation steps `max(1, |B2|/|B1|)` and `max(1, |B1|/|B2|)` in integer division.
//!
//! Mapping onto the policy contract: the shard announces a new key with `on_admit` (cases II–IV
//! of the paper's algorithm: ghost lookup, adaptation and directory trimming happen there), asks
//! for victims until it fits (`victim` performs REPLACE), then `on_insert` puts the key on T1 or
//! T2 as decided — the paper's order.

use super::list::{Links, List};
use super::{Policy, Residents, Slot};
use foldhash::fast::FixedState;
use hashbrown::HashMap;
use std::collections::VecDeque;

const NONE: u8 = 0;
const IN_T1: u8 = 1;
const IN_T2: u8 = 2;

/// A ghost list in LRU order with O(1) membership and removal from the middle (lazily: a removed
/// key's queue record is skipped when it reaches the LRU end, and the queue is compacted when
/// such records dominate).
#[derive(Debug, Default)]
struct GhostList {
    order: VecDeque<(u64, u64)>,
    members: HashMap<u64, (u64, u32), FixedState>,
    weight: u64,
    seq: u64,
}

impl GhostList {
    fn push_mru(&mut self, hash: u64, weight: u32) {
        self.take(hash);
        self.seq += 1;
        self.order.push_back((hash, self.seq));
        self.members.insert(hash, (self.seq, weight));
        self.weight += u64::from(weight);
        if self.order.len() > 2 * self.members.len() + 64 {
            let members = &self.members;
            self.order
                .retain(|(h, s)| members.get(h).is_some_and(|(seq, _)| seq == s));
        }
    }

    fn pop_lru(&mut self) {
        while let Some((hash, seq)) = self.order.pop_front() {
            if let Some(&(s, w)) = self.members.get(&hash)
                && s == seq
            {
                self.members.remove(&hash);
                self.weight -= u64::from(w);
                return;
            }
        }
    }

    fn take(&mut self, hash: u64) -> bool {
        match self.members.remove(&hash) {
            Some((_, w)) => {
                self.weight -= u64::from(w);
                true
            }
            None => false,
        }
    }

    fn heap_bytes(&self) -> usize {
        self.order.capacity() * 16 + self.members.capacity() * 21
    }
}

/// What `on_admit` decided for the key being admitted.
#[derive(Debug, Clone, Copy, Default)]
struct Pending {
    /// The list the new key enters: T2 when it was found in a ghost list, else T1.
    list: u8,
    /// The new key was found in B2 (the paper's tie-break toward evicting from T1).
    from_b2: bool,
    /// Case IV(A) with B1 empty: evict T1's LRU page outright, remembering it nowhere.
    drop_t1_lru: bool,
}

/// ARC over slots.
#[derive(Debug)]
pub struct Arc {
    links: Links,
    t1: List,
    t2: List,
    list: Vec<u8>,
    weight: Vec<u32>,
    t1_weight: u64,
    t2_weight: u64,
    b1: GhostList,
    b2: GhostList,
    capacity: u64,
    p: f64,
    pending: Pending,
}

impl Arc {
    /// An ARC policy for a shard of `capacity` weight units.
    pub fn new(capacity: u64) -> Self {
        Self {
            links: Links::default(),
            t1: List::default(),
            t2: List::default(),
            list: Vec::new(),
            weight: Vec::new(),
            t1_weight: 0,
            t2_weight: 0,
            b1: GhostList::default(),
            b2: GhostList::default(),
            capacity,
            p: 0.0,
            pending: Pending::default(),
        }
    }

    /// The adaptive target size of T1, in weight units.
    pub fn target(&self) -> f64 {
        self.p
    }

    fn unlink(&mut self, slot: Slot) {
        let w = u64::from(self.weight[slot as usize]);
        match self.list[slot as usize] {
            IN_T1 => {
                self.t1.unlink(&mut self.links, slot);
                self.t1_weight -= w;
            }
            IN_T2 => {
                self.t2.unlink(&mut self.links, slot);
                self.t2_weight -= w;
            }
            _ => {}
        }
        self.list[slot as usize] = NONE;
    }

    fn push(&mut self, slot: Slot, to: u8) {
        let w = u64::from(self.weight[slot as usize]);
        if to == IN_T1 {
            self.t1.push_head(&mut self.links, slot);
            self.t1_weight += w;
        } else {
            self.t2.push_head(&mut self.links, slot);
            self.t2_weight += w;
        }
        self.list[slot as usize] = to;
    }
}

impl Policy for Arc {
    fn name(&self) -> &'static str {
        "arc"
    }

    fn set_capacity(&mut self, capacity: u64) {
        self.capacity = capacity;
        self.p = self.p.min(capacity as f64);
    }

    fn on_admit(&mut self, hash: u64, _weight: u32) {
        let c = self.capacity;
        let mut pending = Pending {
            list: IN_T2,
            ..Pending::default()
        };
        if self.b1.members.contains_key(&hash) {
            // Case II: T1 was too small.
            let step = if self.b1.weight >= self.b2.weight {
                1.0
            } else {
                self.b2.weight as f64 / self.b1.weight.max(1) as f64
            };
            self.p = (self.p + step).min(c as f64);
            self.b1.take(hash);
        } else if self.b2.members.contains_key(&hash) {
            // Case III: T2 was too small.
            let step = if self.b2.weight >= self.b1.weight {
                1.0
            } else {
                self.b1.weight as f64 / self.b2.weight.max(1) as f64
            };
            self.p = (self.p - step).max(0.0);
            self.b2.take(hash);
            pending.from_b2 = true;
        } else {
            // Case IV: a key in no list.
            pending.list = IN_T1;
            let l1 = self.t1_weight + self.b1.weight;
            let total = l1 + self.t2_weight + self.b2.weight;
            if l1 >= c {
                if self.t1_weight < c {
                    self.b1.pop_lru();
                } else {
                    pending.drop_t1_lru = true;
                }
            } else if total >= 2 * c {
                self.b2.pop_lru();
            }
        }
        self.pending = pending;
    }

    fn on_insert(&mut self, slot: Slot, _hash: u64, weight: u32) {
        let s = slot as usize;
        if self.list.len() <= s {
            self.list.resize(s + 1, NONE);
            self.weight.resize(s + 1, 0);
        }
        self.weight[s] = weight;
        let list = match std::mem::take(&mut self.pending).list {
            NONE => IN_T1,
            list => list,
        };
        self.push(slot, list);
    }

    fn on_access(&mut self, slot: Slot, _hash: u64) {
        self.unlink(slot);
        self.push(slot, IN_T2);
    }

    fn exclusive_hits(&self) -> bool {
        true
    }

    fn on_reweigh(&mut self, slot: Slot, old: u32, new: u32) {
        let delta = |total: &mut u64| *total = *total - u64::from(old) + u64::from(new);
        match self.list[slot as usize] {
            IN_T1 => delta(&mut self.t1_weight),
            IN_T2 => delta(&mut self.t2_weight),
            _ => {}
        }
        self.weight[slot as usize] = new;
    }

    fn on_remove(&mut self, slot: Slot, _weight: u32) {
        self.unlink(slot);
    }

    fn victim<R: Residents + ?Sized>(&mut self, residents: &R) -> Option<Slot> {
        let pending = &mut self.pending;
        let (from_b2, drop_t1_lru) = (pending.from_b2, pending.drop_t1_lru);
        // Only the first victim for an admission follows its case; further ones are plain REPLACE.
        pending.drop_t1_lru = false;
        pending.from_b2 = false;
        if drop_t1_lru && let Some(slot) = self.t1.tail() {
            self.unlink(slot);
            return Some(slot);
        }
        // REPLACE(x, p).
        let t1 = self.t1_weight as f64;
        #[allow(clippy::float_cmp)] // the paper's tie: |T1| = p
        let from_t1 = t1 > 0.0 && (t1 > self.p || (from_b2 && t1 == self.p));
        let order = if from_t1 {
            [IN_T1, IN_T2]
        } else {
            [IN_T2, IN_T1]
        };
        for list in order {
            let tail = if list == IN_T1 {
                self.t1.tail()
            } else {
                self.t2.tail()
            };
            if let Some(slot) = tail {
                let weight = self.weight[slot as usize];
                self.unlink(slot);
                let ghost = if list == IN_T1 {
                    &mut self.b1
                } else {
                    &mut self.b2
                };
                ghost.push_mru(residents.hash(slot), weight);
                return Some(slot);
            }
        }
        None
    }

    fn clear(&mut self) {
        *self = Self::new(self.capacity);
    }

    fn reserve(&mut self, slots: usize) {
        self.links.reserve(slots);
        self.list.reserve(slots);
        self.weight.reserve(slots);
    }

    fn heap_bytes(&self) -> usize {
        self.links.heap_bytes()
            + self.list.capacity()
            + self.weight.capacity() * 4
            + self.b1.heap_bytes()
            + self.b2.heap_bytes()
    }
}
