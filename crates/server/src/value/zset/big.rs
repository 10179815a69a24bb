//! The large sorted-set encoding (`OBJECT ENCODING` says `skiplist`, as Redis's does).
//!
//! Each member lives once, with its score, in a [`Table`] (member → score): O(1) `ZSCORE` and
//! membership, and a slot that stays the member's for as long as it is in the set. An
//! order-statistics B+tree orders the slot numbers by (score, member): leaves hold slot
//! numbers, inner nodes hold for each child its element count and its smallest element, so
//! insert, remove, rank, select-by-rank and the bound of a score or lex range are O(log n).
//!
//! Each tree element carries its score beside its slot number, so a descent compares scores
//! inside the node it is reading and touches a member's slot only to break a tie between equal
//! scores (or for a lexicographic bound): a descent through a million members reads about one
//! cache line per level instead of one per comparison.
//!
//! `ZSCAN` is the table's scan: its cursor is a slot number, so a member present for the whole
//! scan is returned exactly once whatever else is added or removed.

use crate::value::table::Table;
use std::cmp::Ordering;

/// Elements per leaf at most (a leaf's buffer is 64 [`Item`]s: one 1 KiB allocation).
#[cfg(not(test))]
const LEAF_CAP: usize = 63;
/// Children per inner node at most.
#[cfg(not(test))]
const INNER_CAP: usize = 63;
/// A node with fewer entries than this is merged with a neighbour when both fit in one.
#[cfg(not(test))]
const MERGE_BELOW: usize = 16;
// Tiny nodes in unit tests, so that a few hundred members make a tree several levels deep.
#[cfg(test)]
const LEAF_CAP: usize = 4;
#[cfg(test)]
const INNER_CAP: usize = 3;
#[cfg(test)]
const MERGE_BELOW: usize = 2;

/// The members and their scores; the tree refers to their slots.
type Members = Table<Box<[u8]>, f64>;

/// The score and member in slot `id` (one the tree refers to, so a full one).
fn entry(members: &Members, id: u32) -> (f64, &[u8]) {
    match members.get_slot(id) {
        Some((member, &score)) => (score, member),
        None => unreachable!("the tree names a free slot"),
    }
}

/// Orders two (score, member) pairs as Redis does: by score, then member bytes.
pub fn cmp_entries(a_score: f64, a: &[u8], b_score: f64, b: &[u8]) -> Ordering {
    a_score
        .partial_cmp(&b_score)
        .unwrap_or(Ordering::Equal)
        .then_with(|| a.cmp(b))
}

/// A tree element: a member's slot and its score (a copy of the table's, kept equal to it).
#[derive(Clone, Copy)]
struct Item {
    score: f64,
    id: u32,
}

/// Whether `a` orders before `b`; reads the members only when the scores are equal.
fn less(members: &Members, a: Item, b: Item) -> bool {
    match a.score.partial_cmp(&b.score) {
        Some(Ordering::Less) => true,
        Some(Ordering::Greater) => false,
        _ => a.id != b.id && entry(members, a.id).1 < entry(members, b.id).1,
    }
}

/// An inner node's child: the node, its element count and its smallest element.
#[derive(Clone, Copy)]
struct Kid {
    node: u32,
    count: u32,
    min: Item,
}

/// The order-statistics B+tree over slot numbers. Level 0 nodes are leaves (in `leaves`),
/// higher levels inner nodes (in `inners`); `height` is the root's level.
#[derive(Clone)]
struct Tree {
    leaves: Vec<Vec<Item>>,
    inners: Vec<Vec<Kid>>,
    free_leaves: Vec<u32>,
    free_inners: Vec<u32>,
    root: u32,
    height: u32,
    live_leaves: usize,
    live_inners: usize,
}

impl Tree {
    fn new() -> Tree {
        Tree {
            leaves: vec![Vec::with_capacity(LEAF_CAP + 1)],
            inners: Vec::new(),
            free_leaves: Vec::new(),
            free_inners: Vec::new(),
            root: 0,
            height: 0,
            live_leaves: 1,
            live_inners: 0,
        }
    }

    fn heap_bytes(&self) -> usize {
        self.leaves.capacity() * size_of::<Vec<u32>>()
            + self.inners.capacity() * size_of::<Vec<Kid>>()
            + (self.free_leaves.capacity() + self.free_inners.capacity()) * 4
            + self.live_leaves * (LEAF_CAP + 1) * size_of::<Item>()
            + self.live_inners * (INNER_CAP + 1) * size_of::<Kid>()
    }

    fn new_leaf(&mut self, items: Vec<Item>) -> u32 {
        self.live_leaves += 1;
        match self.free_leaves.pop() {
            Some(n) => {
                self.leaves[n as usize] = items;
                n
            }
            None => {
                self.leaves.push(items);
                (self.leaves.len() - 1) as u32
            }
        }
    }

    fn new_inner(&mut self, kids: Vec<Kid>) -> u32 {
        self.live_inners += 1;
        match self.free_inners.pop() {
            Some(n) => {
                self.inners[n as usize] = kids;
                n
            }
            None => {
                self.inners.push(kids);
                (self.inners.len() - 1) as u32
            }
        }
    }

    fn free_node(&mut self, node: u32, level: u32) {
        if level == 0 {
            self.leaves[node as usize] = Vec::new();
            self.free_leaves.push(node);
            self.live_leaves -= 1;
        } else {
            self.inners[node as usize] = Vec::new();
            self.free_inners.push(node);
            self.live_inners -= 1;
        }
    }

    fn node_len(&self, node: u32, level: u32) -> usize {
        if level == 0 {
            self.leaves[node as usize].len()
        } else {
            self.inners[node as usize].len()
        }
    }

    fn first(&self, node: u32, level: u32) -> Item {
        if level == 0 {
            self.leaves[node as usize][0]
        } else {
            self.inners[node as usize][0].min
        }
    }

    fn count(&self, node: u32, level: u32) -> u32 {
        if level == 0 {
            self.leaves[node as usize].len() as u32
        } else {
            self.inners[node as usize].iter().map(|k| k.count).sum()
        }
    }

    /// The child of an inner node whose range holds `item`.
    fn route(members: &Members, kids: &[Kid], item: Item) -> usize {
        kids[1..].partition_point(|k| !less(members, item, k.min))
    }

    fn insert(&mut self, members: &Members, id: Item) {
        let (root, height) = (self.root, self.height);
        if let Some(right) = self.insert_at(members, root, height, id) {
            let left = Kid {
                node: root,
                count: self.count(root, height),
                min: self.first(root, height),
            };
            let mut kids = Vec::with_capacity(INNER_CAP + 1);
            kids.push(left);
            kids.push(right);
            self.root = self.new_inner(kids);
            self.height += 1;
        }
    }

    /// Inserts into the subtree at `node`; returns the new right sibling when it split.
    fn insert_at(&mut self, members: &Members, node: u32, level: u32, id: Item) -> Option<Kid> {
        if level == 0 {
            let leaf = &mut self.leaves[node as usize];
            let pos = leaf.partition_point(|&e| less(members, e, id));
            leaf.insert(pos, id);
            if leaf.len() <= LEAF_CAP {
                return None;
            }
            let mid = leaf.len() / 2;
            let mut right = Vec::with_capacity(LEAF_CAP + 1);
            right.extend(leaf.drain(mid..));
            let (count, min) = (right.len() as u32, right[0]);
            let node = self.new_leaf(right);
            return Some(Kid { node, count, min });
        }
        let kids = &mut self.inners[node as usize];
        let i = Self::route(members, kids, id);
        kids[i].count += 1;
        let child = kids[i].node;
        let split = self.insert_at(members, child, level - 1, id);
        let first = self.first(child, level - 1);
        let kids = &mut self.inners[node as usize];
        kids[i].min = first;
        let right = split?;
        kids[i].count -= right.count;
        kids.insert(i + 1, right);
        if kids.len() <= INNER_CAP {
            return None;
        }
        let mid = kids.len() / 2;
        let mut moved = Vec::with_capacity(INNER_CAP + 1);
        moved.extend(kids.drain(mid..));
        let (count, min) = (moved.iter().map(|k| k.count).sum(), moved[0].min);
        let node = self.new_inner(moved);
        Some(Kid { node, count, min })
    }

    /// Removes `id` (whose slot still holds its member); `false` when it is not in the tree.
    fn remove(&mut self, members: &Members, id: Item) -> bool {
        let (root, height) = (self.root, self.height);
        if !self.remove_at(members, root, height, id) {
            return false;
        }
        while self.height > 0 && self.inners[self.root as usize].len() == 1 {
            let old = self.root;
            self.root = self.inners[old as usize][0].node;
            self.free_node(old, self.height);
            self.height -= 1;
        }
        true
    }

    fn remove_at(&mut self, members: &Members, node: u32, level: u32, id: Item) -> bool {
        if level == 0 {
            let leaf = &mut self.leaves[node as usize];
            let pos = leaf.partition_point(|&e| less(members, e, id));
            if leaf.get(pos).map(|e| e.id) != Some(id.id) {
                return false;
            }
            leaf.remove(pos);
            return true;
        }
        let kids = &self.inners[node as usize];
        let i = Self::route(members, kids, id);
        let child = kids[i].node;
        if !self.remove_at(members, child, level - 1, id) {
            return false;
        }
        let child_len = self.node_len(child, level - 1);
        if child_len == 0 {
            self.inners[node as usize].remove(i);
            self.free_node(child, level - 1);
            return true;
        }
        let first = self.first(child, level - 1);
        let kids = &mut self.inners[node as usize];
        kids[i].count -= 1;
        kids[i].min = first;
        if child_len < MERGE_BELOW && kids.len() > 1 {
            let a = if i + 1 < kids.len() { i } else { i - 1 };
            self.merge(node, level, a);
        }
        true
    }

    /// Moves child `a + 1` of inner node `node` into child `a` when both fit in one node.
    fn merge(&mut self, node: u32, level: u32, a: usize) {
        let kids = &self.inners[node as usize];
        let (ka, kb) = (kids[a], kids[a + 1]);
        let child_level = level - 1;
        let cap = if child_level == 0 {
            LEAF_CAP
        } else {
            INNER_CAP
        };
        if self.node_len(ka.node, child_level) + self.node_len(kb.node, child_level) > cap {
            return;
        }
        if child_level == 0 {
            let moved = std::mem::take(&mut self.leaves[kb.node as usize]);
            self.leaves[ka.node as usize].extend(moved);
        } else {
            let moved = std::mem::take(&mut self.inners[kb.node as usize]);
            self.inners[ka.node as usize].extend(moved);
        }
        self.free_node(kb.node, child_level);
        let kids = &mut self.inners[node as usize];
        kids[a].count += kb.count;
        kids.remove(a + 1);
    }

    /// The element at `rank` (0-based, ascending); the caller checks `rank < len`.
    fn select(&self, mut rank: usize) -> Item {
        let (mut node, mut level) = (self.root, self.height);
        while level > 0 {
            let kids = &self.inners[node as usize];
            let mut next = kids[kids.len() - 1].node;
            for k in kids {
                if rank < k.count as usize {
                    next = k.node;
                    break;
                }
                rank -= k.count as usize;
            }
            node = next;
            level -= 1;
        }
        self.leaves[node as usize][rank]
    }

    /// How many elements satisfy `test`, which holds for a prefix of the order.
    fn partition_point(&self, mut test: impl FnMut(Item) -> bool) -> usize {
        let (mut node, mut level, mut before) = (self.root, self.height, 0usize);
        while level > 0 {
            let kids = &self.inners[node as usize];
            let j = kids[1..].partition_point(|k| test(k.min));
            before += kids[..j].iter().map(|k| k.count as usize).sum::<usize>();
            node = kids[j].node;
            level -= 1;
        }
        before
            + self.leaves[node as usize]
                .iter()
                .position(|&item| !test(item))
                .unwrap_or(self.leaves[node as usize].len())
    }

    /// Calls `f` for the elements at ranks `lo..hi` of the subtree, descending when `rev`.
    fn visit(
        &self,
        node: u32,
        level: u32,
        lo: usize,
        hi: usize,
        rev: bool,
        f: &mut impl FnMut(Item),
    ) {
        if level == 0 {
            let items = &self.leaves[node as usize][lo..hi];
            if rev {
                items.iter().rev().for_each(|&id| f(id));
            } else {
                items.iter().for_each(|&id| f(id));
            }
            return;
        }
        let kids = &self.inners[node as usize];
        let mut spans = Vec::with_capacity(kids.len());
        let mut at = 0usize;
        for k in kids {
            let end = at + k.count as usize;
            if end > lo && at < hi {
                spans.push((k.node, lo.saturating_sub(at), hi.min(end) - at));
            }
            at = end;
            if at >= hi {
                break;
            }
        }
        if rev {
            spans.reverse();
        }
        for (child, a, b) in spans {
            self.visit(child, level - 1, a, b, rev, f);
        }
    }
}

/// The large encoding: a table of members, a B+tree of their slots by (score, member).
#[derive(Clone)]
pub struct Big {
    members: Members,
    tree: Tree,
}

impl Default for Big {
    fn default() -> Big {
        Big::new()
    }
}

impl Big {
    /// An empty set.
    pub fn new() -> Big {
        Big {
            members: Table::new(),
            tree: Tree::new(),
        }
    }

    /// Prefetches the table entries of `members` (a hint: see [`Table::prefetch`]).
    pub fn prefetch_members(&self, members: &[&[u8]]) {
        self.members.prefetch(members, |member, _| {
            larder_engine::prefetch::prefetch(&**member)
        });
    }

    /// Number of members.
    pub fn len(&self) -> usize {
        self.members.len()
    }

    /// Whether it has no members.
    pub fn is_empty(&self) -> bool {
        self.members.is_empty()
    }

    /// Heap bytes owned (O(1)).
    pub fn heap_bytes(&self) -> usize {
        self.members.heap_bytes() + self.tree.heap_bytes() + size_of::<Big>()
    }

    /// The score of `member`.
    pub fn score(&self, member: &[u8]) -> Option<f64> {
        self.members.get(member).copied()
    }

    /// Sets `member`'s score, adding it if absent; returns the previous score.
    pub fn insert(&mut self, member: &[u8], score: f64) -> Option<f64> {
        let Some(id) = self.members.slot_of(member) else {
            self.insert_new(member.into(), score);
            return None;
        };
        let (old, _) = entry(&self.members, id);
        if old != score {
            self.tree.remove(&self.members, Item { score: old, id });
            self.members.update_slot(id, |s| *s = score);
            self.tree.insert(&self.members, Item { score, id });
        }
        Some(old)
    }

    /// Adds a member known to be absent.
    pub fn insert_new(&mut self, member: Box<[u8]>, score: f64) {
        let (id, _) = self.members.insert_slot(member, score);
        self.tree.insert(&self.members, Item { score, id });
    }

    /// Removes `member`; returns its score.
    pub fn remove(&mut self, member: &[u8]) -> Option<f64> {
        let id = self.members.slot_of(member)?;
        Some(self.release(id))
    }

    /// Takes slot `id` out of the tree, then out of the table; returns its score.
    fn release(&mut self, id: u32) -> f64 {
        let (score, _) = entry(&self.members, id);
        self.tree.remove(&self.members, Item { score, id });
        match self.members.remove_slot(id) {
            Some((_, score)) => score,
            None => unreachable!("the tree names a free slot"),
        }
    }

    /// The 0-based ascending rank of `member`.
    pub fn rank(&self, member: &[u8]) -> Option<usize> {
        let id = self.members.slot_of(member)?;
        let (score, _) = entry(&self.members, id);
        let target = Item { score, id };
        Some(
            self.tree
                .partition_point(|e| less(&self.members, e, target)),
        )
    }

    /// The member and score at `rank`.
    pub fn get(&self, rank: usize) -> Option<(&[u8], f64)> {
        if rank >= self.len() {
            return None;
        }
        let item = self.tree.select(rank);
        Some((entry(&self.members, item.id).1, item.score))
    }

    /// How many members satisfy `pred` (true for a prefix of the order).
    pub fn partition_point(&self, mut pred: impl FnMut(f64, &[u8]) -> bool) -> usize {
        if self.is_empty() {
            return 0;
        }
        let members = &self.members;
        self.tree
            .partition_point(|e| pred(e.score, entry(members, e.id).1))
    }

    /// How many members satisfy `pred` on their score (true for a prefix of the order); reads
    /// no member.
    pub fn partition_point_by_score(&self, mut pred: impl FnMut(f64) -> bool) -> usize {
        if self.is_empty() {
            return 0;
        }
        self.tree.partition_point(|e| pred(e.score))
    }

    /// Calls `f` with the members at ranks `start..end`, from `end - 1` down when `rev`.
    pub fn for_range(&self, start: usize, end: usize, rev: bool, mut f: impl FnMut(&[u8], f64)) {
        let end = end.min(self.len());
        if start >= end {
            return;
        }
        let members = &self.members;
        self.tree.visit(
            self.tree.root,
            self.tree.height,
            start,
            end,
            rev,
            &mut |item| f(entry(members, item.id).1, item.score),
        );
    }

    /// Removes the members at ranks `start..end`; returns how many.
    pub fn remove_range(&mut self, start: usize, end: usize) -> usize {
        let end = end.min(self.len());
        if start >= end {
            return 0;
        }
        let mut ids = Vec::with_capacity(end - start);
        self.tree.visit(
            self.tree.root,
            self.tree.height,
            start,
            end,
            false,
            &mut |item| ids.push(item.id),
        );
        for &id in &ids {
            self.release(id);
        }
        ids.len()
    }

    /// Visits about `count` members from `cursor` (a slot number); returns the next cursor
    /// (0 at the end).
    pub fn scan(&self, cursor: u64, count: usize, mut f: impl FnMut(&[u8], f64)) -> u64 {
        self.members
            .scan(cursor, count, |member, &score| f(member, score))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::{BTreeMap, HashMap};

    /// The model: member -> score, and the ordered (score bits made orderable, member) set.
    fn ordered(model: &HashMap<Vec<u8>, f64>) -> Vec<(f64, Vec<u8>)> {
        let mut v: Vec<(f64, Vec<u8>)> = model.iter().map(|(m, &s)| (s, m.clone())).collect();
        v.sort_by(|a, b| cmp_entries(a.0, &a.1, b.0, &b.1));
        v
    }

    fn contents(big: &Big) -> Vec<(f64, Vec<u8>)> {
        let mut out = Vec::new();
        big.for_range(0, big.len(), false, |m, s| out.push((s, m.to_vec())));
        out
    }

    #[derive(Debug, Clone)]
    enum Op {
        Insert(u16, i8),
        Remove(u16),
        RemoveRange(u16, u16),
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            6 => (0u16..400, any::<i8>()).prop_map(|(m, s)| Op::Insert(m, s)),
            3 => (0u16..400).prop_map(Op::Remove),
            1 => (0u16..50, 0u16..20).prop_map(|(a, n)| Op::RemoveRange(a, a + n)),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]
        #[test]
        fn tree_matches_a_model(ops in proptest::collection::vec(op(), 1..1500)) {
            let mut big = Big::new();
            let mut model: HashMap<Vec<u8>, f64> = HashMap::new();
            for op in ops {
                match op {
                    Op::Insert(m, s) => {
                        let member = format!("m{m}").into_bytes();
                        let old = big.insert(&member, f64::from(s));
                        prop_assert_eq!(old, model.insert(member, f64::from(s)));
                    }
                    Op::Remove(m) => {
                        let member = format!("m{m}").into_bytes();
                        prop_assert_eq!(big.remove(&member), model.remove(&member));
                    }
                    Op::RemoveRange(a, b) => {
                        let order = ordered(&model);
                        let (a, b) = (a as usize, (b as usize).min(order.len()));
                        let removed = big.remove_range(a, b);
                        prop_assert_eq!(removed, b.saturating_sub(a));
                        for (_, m) in order.iter().take(b).skip(a) {
                            model.remove(m);
                        }
                    }
                }
                prop_assert_eq!(big.len(), model.len());
            }
            let order = ordered(&model);
            prop_assert_eq!(contents(&big), order.clone());
            for (rank, (score, member)) in order.iter().enumerate() {
                prop_assert_eq!(big.rank(member), Some(rank));
                prop_assert_eq!(big.get(rank), Some((&member[..], *score)));
                prop_assert_eq!(big.score(member), Some(*score));
            }
            // Score-bound partition points agree with the model.
            let scores: BTreeMap<i64, usize> = (-130..130)
                .map(|t| (t, order.iter().filter(|(s, _)| *s < t as f64).count()))
                .collect();
            for (t, n) in scores {
                prop_assert_eq!(big.partition_point(|s, _| s < t as f64), n);
                prop_assert_eq!(big.partition_point_by_score(|s| s < t as f64), n);
            }
            // Reverse visits of arbitrary windows.
            if !order.is_empty() {
                let lo = order.len() / 3;
                let hi = order.len();
                let mut got = Vec::new();
                big.for_range(lo, hi, true, |m, s| got.push((s, m.to_vec())));
                let want: Vec<_> = order[lo..hi].iter().rev().cloned().collect();
                prop_assert_eq!(got, want);
            }
            // A full scan returns every member once.
            let mut seen = Vec::new();
            let mut cursor = 0;
            loop {
                cursor = big.scan(cursor, 7, |m, _| seen.push(m.to_vec()));
                if cursor == 0 { break; }
            }
            seen.sort();
            let mut want: Vec<_> = model.keys().cloned().collect();
            want.sort();
            prop_assert_eq!(seen, want);
        }
    }
}
