//! Client-side sharding: which of several cache servers owns a key.
//!
//! Three placements behind one trait, [`Sharder`]:
//!
//! * [`ModuloSharder`] — node `hash(key) mod N`. Even, but growing from N to N+1 nodes moves
//!   about N/(N+1) of the keys (91 % for 10 → 11).
//! * [`RangeSharder`] — each node owns ranges of the key order (the first 8 bytes of the key,
//!   big-endian), so neighbouring keys share a node and a range scan touches few nodes. Adding
//!   a node splits one range ([`RangeSharder::split_at`] at a chosen key, or
//!   [`Sharder::add_node`] halves the widest range); removing a node hands its ranges to their
//!   predecessors. Balance depends on where the split points are.
//! * [`HashRing`] — consistent hashing, ketama style: each node owns `vnodes` points (160 by
//!   default) on a circle; a key belongs to the first point at or after its hash, wrapping
//!   around. Adding a node moves keys only to it (about 1/(N+1) of them); removing one moves
//!   only its keys. Two point schemes ([`RingScheme`]):
//!   - [`RingScheme::Stable`] (the default): points at `stable_hash("name#i")` on a 64-bit
//!     circle, keys at `stable_hash(key)`, looked up with [`DEFAULT_PROBES`] probes
//!     (multi-probe consistent hashing, below);
//!   - [`RingScheme::Ketama`] ([`HashRing::ketama`]): the libketama continuum, as libmemcached
//!     (`KETAMA_WEIGHTED` with equal weights), twemproxy (`distribution: ketama` with
//!     `hash: md5`; its default key hash, fnv1a_64, places keys elsewhere on the same circle),
//!     python-memcached/uhashring and PHP's memcached extension build it, so Larder shares a
//!     pool with them: for `i` in `0..40`, the MD5 of `"name-i"` gives 4 points (bytes
//!     `4j..4j+4` of the digest read little-endian, `j` in `0..4`) on a 32-bit circle, 160 per
//!     node; a key sits at the first 4 bytes of its MD5, little-endian. Name nodes as the
//!     other clients do (`"10.0.0.1:11211"`; libmemcached leaves out the port when it is the
//!     default 11211).
//!
//! **Multi-probe lookup** (Appleton & O'Reilly, "Multi-probe consistent hashing", 2015). With
//! one probe, a node's share of the circle is the sum of the arcs before its `vnodes` random
//! points, which varies by about 1/√vnodes from node to node: at 160 points the busiest of 10
//! nodes carries ≈ 1.13 × the mean, and whether a given set of node names lands under 1.1 is
//! a coin flip (6 sets of 20 in `examples/sharding.rs`). With `p` probes a key is hashed to
//! `p` positions and belongs to the point that follows any of them most closely; a node's
//! share then depends on `p` times as many arcs and evens out (3 probes: max/mean 1.03–1.08
//! at 160 points, 20 sets of 20 under 1.1). Consistency is kept: a key's closest point among
//! the old nodes does not change when a node joins, so a key moves only to the new node
//! (about 1/(N+1) of them); one leaving moves only its own keys. A lookup costs `p` binary
//! searches. [`HashRing::with_probes`] sets `p`; the ketama scheme always uses one probe, as
//! every other ketama client does.
//!
//! Every client must place keys the same way, so the hashes are fixed: [`stable_hash`] is
//! seedless and specified here (64-bit FNV-1a, then MurmurHash3's 64-bit finaliser to spread
//! the bits), not a hasher whose output may change between Rust or crate versions; ketama's is
//! MD5 by definition.
//!
//! [`movement`] and [`balance`] measure a placement over a set of keys (the fraction moved by a
//! change, the max/mean load); `cargo run -p larder --release --example sharding` prints both
//! for modulo and the ring.
//!
//! ## Bounds
//!
//! A ring holds `vnodes` points per node (24 bytes each: the point and a shared name); a lookup
//! is one binary search over them per probe; modulo and range placements hold one entry per
//! node or range.

use md5::{Digest, Md5};
use std::fmt;
use std::sync::Arc;

/// Virtual nodes per node on a [`HashRing`] by default, as in ketama.
pub const DEFAULT_VNODES: usize = 160;

/// Probes per key on a [`RingScheme::Stable`] ring by default (see the module docs).
pub const DEFAULT_PROBES: usize = 3;

/// Probes per key at most.
pub const MAX_PROBES: usize = 16;

/// Points per node on a [`RingScheme::Ketama`] ring (40 MD5 digests, 4 points each).
pub const KETAMA_POINTS: usize = 160;

/// Why a node could not be added or removed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ShardError {
    /// A node of that name is already placed.
    #[error("node {0:?} is already present")]
    DuplicateNode(String),
    /// No node of that name is placed.
    #[error("no node named {0:?}")]
    UnknownNode(String),
    /// A range split at a point that already starts a range owned by another node.
    #[error("a range already starts at that key")]
    SplitTaken,
}

/// A placement of keys on named nodes (servers).
///
/// Node names identify servers (`"10.0.0.7:6379"`); every client that uses the same names, in
/// the same order for [`ModuloSharder`], places every key on the same node.
pub trait Sharder: fmt::Debug + Send + Sync {
    /// The node that owns `key`, or `None` when no node is placed.
    fn node_for(&self, key: &[u8]) -> Option<&str>;

    /// The index of the node that owns `key` in [`nodes`](Sharder::nodes), or `None` when no
    /// node is placed. Indices change when a node is removed; names do not.
    fn index_for(&self, key: &[u8]) -> Option<usize> {
        let name = self.node_for(key)?;
        self.nodes().iter().position(|n| n == name)
    }

    /// The nodes, in the order they were added.
    fn nodes(&self) -> &[String];

    /// Adds a node named `name`.
    fn add_node(&mut self, name: &str) -> Result<(), ShardError>;

    /// Removes the node named `name`.
    fn remove_node(&mut self, name: &str) -> Result<(), ShardError>;
}

/// The 64-bit hash every placement here uses: FNV-1a over the bytes, then MurmurHash3's
/// `fmix64` finaliser. Fixed forever, so that clients built at different times agree.
pub fn stable_hash(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in bytes {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    fmix64(h)
}

/// MurmurHash3's 64-bit finaliser: every input bit affects every output bit.
fn fmix64(mut h: u64) -> u64 {
    h ^= h >> 33;
    h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
    h ^= h >> 33;
    h = h.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
    h ^ (h >> 33)
}

fn check_new(nodes: &[String], name: &str) -> Result<(), ShardError> {
    if nodes.iter().any(|n| n == name) {
        return Err(ShardError::DuplicateNode(name.to_owned()));
    }
    Ok(())
}

fn position_of(nodes: &[String], name: &str) -> Result<usize, ShardError> {
    nodes
        .iter()
        .position(|n| n == name)
        .ok_or_else(|| ShardError::UnknownNode(name.to_owned()))
}

/// `hash(key) mod N`.
#[derive(Debug, Clone, Default)]
pub struct ModuloSharder {
    nodes: Vec<String>,
}

impl ModuloSharder {
    /// A placement over `nodes`, in that order (duplicates are dropped).
    pub fn new<S: AsRef<str>>(nodes: impl IntoIterator<Item = S>) -> Self {
        let mut s = Self::default();
        for n in nodes {
            let _ = s.add_node(n.as_ref());
        }
        s
    }
}

impl Sharder for ModuloSharder {
    fn node_for(&self, key: &[u8]) -> Option<&str> {
        self.index_for(key).map(|i| self.nodes[i].as_str())
    }

    fn index_for(&self, key: &[u8]) -> Option<usize> {
        if self.nodes.is_empty() {
            return None;
        }
        let n = self.nodes.len() as u64;
        usize::try_from(stable_hash(key) % n).ok()
    }

    fn nodes(&self) -> &[String] {
        &self.nodes
    }

    fn add_node(&mut self, name: &str) -> Result<(), ShardError> {
        check_new(&self.nodes, name)?;
        self.nodes.push(name.to_owned());
        Ok(())
    }

    fn remove_node(&mut self, name: &str) -> Result<(), ShardError> {
        let i = position_of(&self.nodes, name)?;
        self.nodes.remove(i);
        Ok(())
    }
}

/// Ranges of the key order, each owned by a node.
///
/// A key's position is its first 8 bytes read big-endian (shorter keys padded with zeros), so
/// the order of positions is the byte order of the keys; keys sharing their first 8 bytes share
/// a node.
#[derive(Debug, Clone, Default)]
pub struct RangeSharder {
    nodes: Vec<String>,
    /// `(start, node index)`, sorted by start; the first starts at 0 when any node is placed.
    /// A range ends where the next one starts (the last at the end of the key order).
    ranges: Vec<(u64, usize)>,
}

/// The position of `key` in a [`RangeSharder`]'s order: its first 8 bytes, big-endian.
pub fn range_position(key: &[u8]) -> u64 {
    let mut b = [0u8; 8];
    let n = key.len().min(8);
    b[..n].copy_from_slice(&key[..n]);
    u64::from_be_bytes(b)
}

impl RangeSharder {
    /// An empty placement; the first node added owns the whole key order.
    pub fn new() -> Self {
        Self::default()
    }

    /// Gives the keys from `at` up to the next range start to the node `name` (added if new).
    /// Only keys of the split range move, and only to `name`.
    pub fn split_at(&mut self, at: &[u8], name: &str) -> Result<(), ShardError> {
        let pos = range_position(at);
        let existing = self.nodes.iter().position(|n| n == name);
        match self.ranges.binary_search_by_key(&pos, |r| r.0) {
            Ok(i) if Some(self.ranges[i].1) == existing => Ok(()),
            Ok(_) => Err(ShardError::SplitTaken),
            Err(i) => {
                let node = existing.unwrap_or_else(|| {
                    self.nodes.push(name.to_owned());
                    self.nodes.len() - 1
                });
                // Below the first range nothing owned the keys: the new range starts at 0.
                let start = if self.ranges.is_empty() { 0 } else { pos };
                self.ranges.insert(i, (start, node));
                self.ranges.dedup_by(|later, earlier| later.1 == earlier.1);
                Ok(())
            }
        }
    }

    /// The ranges as `(first position, node name)`, in key order.
    pub fn ranges(&self) -> impl Iterator<Item = (u64, &str)> {
        self.ranges
            .iter()
            .map(|&(start, n)| (start, self.nodes[n].as_str()))
    }

    fn width(&self, i: usize) -> u128 {
        let end = self
            .ranges
            .get(i + 1)
            .map_or(1u128 << 64, |r| u128::from(r.0));
        end - u128::from(self.ranges[i].0)
    }
}

impl Sharder for RangeSharder {
    fn node_for(&self, key: &[u8]) -> Option<&str> {
        self.index_for(key).map(|i| self.nodes[i].as_str())
    }

    fn index_for(&self, key: &[u8]) -> Option<usize> {
        let pos = range_position(key);
        let i = self.ranges.partition_point(|r| r.0 <= pos);
        i.checked_sub(1).map(|i| self.ranges[i].1)
    }

    fn nodes(&self) -> &[String] {
        &self.nodes
    }

    /// Halves the widest range; the new node owns its upper half.
    fn add_node(&mut self, name: &str) -> Result<(), ShardError> {
        check_new(&self.nodes, name)?;
        if self.ranges.is_empty() {
            self.nodes.push(name.to_owned());
            self.ranges.push((0, self.nodes.len() - 1));
            return Ok(());
        }
        let widest = (0..self.ranges.len())
            .max_by_key(|&i| (self.width(i), std::cmp::Reverse(i)))
            .unwrap_or(0);
        let half = self.width(widest) / 2;
        if half == 0 {
            return Err(ShardError::SplitTaken);
        }
        let mid = u64::try_from(u128::from(self.ranges[widest].0) + half).unwrap_or(u64::MAX);
        self.nodes.push(name.to_owned());
        self.ranges.insert(widest + 1, (mid, self.nodes.len() - 1));
        Ok(())
    }

    /// Each of the node's ranges joins the range before it (the first range joins the next).
    fn remove_node(&mut self, name: &str) -> Result<(), ShardError> {
        let gone = position_of(&self.nodes, name)?;
        self.ranges.retain(|r| r.1 != gone);
        if let Some(first) = self.ranges.first_mut() {
            first.0 = 0;
        }
        self.nodes.remove(gone);
        for r in &mut self.ranges {
            if r.1 > gone {
                r.1 -= 1;
            }
        }
        // Neighbouring ranges of one node are one range.
        self.ranges.dedup_by(|later, earlier| later.1 == earlier.1);
        Ok(())
    }
}

/// Where a [`HashRing`] puts nodes' points and keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum RingScheme {
    /// `vnodes` points at `stable_hash("name#i")`, keys at `stable_hash(key)` (64-bit circle).
    #[default]
    Stable,
    /// The libketama continuum (32-bit circle, MD5): compatible with libmemcached, twemproxy,
    /// uhashring. Points are `vnodes` rounded up to a multiple of 4 (160 with
    /// [`HashRing::ketama`], the value every ketama client uses).
    Ketama,
}

impl RingScheme {
    /// The position of `key` on the circle.
    pub fn key_hash(self, key: &[u8]) -> u64 {
        match self {
            RingScheme::Stable => stable_hash(key),
            RingScheme::Ketama => u64::from(ketama_points(key)[0]),
        }
    }

    /// The `vnodes` points of node `name`.
    fn points(self, name: &str, vnodes: usize) -> Vec<u64> {
        match self {
            RingScheme::Stable => (0..vnodes)
                .map(|i| stable_hash(format!("{name}#{i}").as_bytes()))
                .collect(),
            RingScheme::Ketama => (0..vnodes.div_ceil(4))
                .flat_map(|i| ketama_points(format!("{name}-{i}").as_bytes()))
                .map(u64::from)
                .collect(),
        }
    }
}

/// The 4 ketama points of `bytes`: its MD5 digest read as 4 little-endian 32-bit words.
fn ketama_points(bytes: &[u8]) -> [u32; 4] {
    let d = Md5::digest(bytes);
    std::array::from_fn(|j| {
        u32::from_le_bytes([d[4 * j], d[4 * j + 1], d[4 * j + 2], d[4 * j + 3]])
    })
}

/// A consistent-hash ring with virtual nodes (ketama style).
///
/// Points that collide (two nodes at one position, about one chance in 10^4 per pair of
/// 160-point nodes on ketama's 32-bit circle) are ordered by node name; other ketama clients
/// break such ties their own way, so a key hashing exactly there may be placed differently.
#[derive(Debug, Clone)]
pub struct HashRing {
    scheme: RingScheme,
    vnodes: usize,
    probes: usize,
    nodes: Vec<String>,
    /// `(point, owner)`, sorted by point then owner name.
    points: Vec<(u64, Arc<str>)>,
}

impl Default for HashRing {
    fn default() -> Self {
        Self::new(DEFAULT_VNODES)
    }
}

impl HashRing {
    /// An empty ring whose nodes each own `vnodes` points (at least 1), [`RingScheme::Stable`].
    pub fn new(vnodes: usize) -> Self {
        Self::with_scheme(RingScheme::Stable, vnodes)
    }

    /// An empty libketama-compatible ring, 160 points per node.
    pub fn ketama() -> Self {
        Self::with_scheme(RingScheme::Ketama, KETAMA_POINTS)
    }

    /// An empty ring of `scheme` with `vnodes` points per node (at least 1; a multiple of 4
    /// for [`RingScheme::Ketama`], rounded up), and [`DEFAULT_PROBES`] probes per key for
    /// [`RingScheme::Stable`] (one for ketama).
    pub fn with_scheme(scheme: RingScheme, vnodes: usize) -> Self {
        let (vnodes, probes) = match scheme {
            RingScheme::Stable => (vnodes.max(1), DEFAULT_PROBES),
            RingScheme::Ketama => (vnodes.max(1).div_ceil(4) * 4, 1),
        };
        Self {
            scheme,
            vnodes,
            probes,
            nodes: Vec::new(),
            points: Vec::new(),
        }
    }

    /// This ring looking keys up with `probes` probes (1 to [`MAX_PROBES`]; a
    /// [`RingScheme::Ketama`] ring keeps one, to stay compatible). One probe is the classic
    /// ring. Every client sharing a pool must use the same count.
    pub fn with_probes(mut self, probes: usize) -> Self {
        if self.scheme == RingScheme::Stable {
            self.probes = probes.clamp(1, MAX_PROBES);
        }
        self
    }

    /// Probes per key.
    pub fn probes(&self) -> usize {
        self.probes
    }

    /// A ring over `nodes` with `vnodes` points each (duplicates are dropped).
    pub fn with_nodes<S: AsRef<str>>(nodes: impl IntoIterator<Item = S>, vnodes: usize) -> Self {
        Self::new(vnodes).adding(nodes)
    }

    /// This ring with `nodes` added (duplicates are dropped).
    pub fn adding<S: AsRef<str>>(mut self, nodes: impl IntoIterator<Item = S>) -> Self {
        for n in nodes {
            let _ = self.add_node(n.as_ref());
        }
        self
    }

    /// Points per node.
    pub fn vnodes(&self) -> usize {
        self.vnodes
    }

    /// The point scheme.
    pub fn scheme(&self) -> RingScheme {
        self.scheme
    }

    /// The node owning the key at position `hash` on the circle (see
    /// [`RingScheme::key_hash`]): the owner of the point that most closely follows one of the
    /// key's probes (the first probe is `hash` itself; the others are derived from it).
    pub fn node_for_hash(&self, hash: u64) -> Option<&str> {
        if self.points.is_empty() {
            return None;
        }
        let mut best: Option<(u64, usize)> = None;
        for probe in 0..self.probes {
            let position = probe_position(hash, probe);
            let i = self.points.partition_point(|p| p.0 < position);
            let i = if i == self.points.len() { 0 } else { i };
            let distance = self.points[i].0.wrapping_sub(position);
            if best.is_none_or(|(d, _)| distance < d) {
                best = Some((distance, i));
            }
        }
        best.map(|(_, i)| &*self.points[i].1)
    }
}

/// Where probe `probe` of the key at `hash` lands: `hash` itself for the first, then
/// MurmurHash3's `fmix64` of `hash` plus a multiple of the golden ratio (independent positions
/// on the 64-bit circle).
fn probe_position(hash: u64, probe: usize) -> u64 {
    if probe == 0 {
        return hash;
    }
    fmix64(hash.wrapping_add((probe as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15)))
}

impl Sharder for HashRing {
    fn node_for(&self, key: &[u8]) -> Option<&str> {
        self.node_for_hash(self.scheme.key_hash(key))
    }

    fn nodes(&self) -> &[String] {
        &self.nodes
    }

    fn add_node(&mut self, name: &str) -> Result<(), ShardError> {
        check_new(&self.nodes, name)?;
        self.nodes.push(name.to_owned());
        let owner: Arc<str> = Arc::from(name);
        self.points.extend(
            self.scheme
                .points(name, self.vnodes)
                .into_iter()
                .map(|p| (p, Arc::clone(&owner))),
        );
        self.points.sort_unstable();
        Ok(())
    }

    fn remove_node(&mut self, name: &str) -> Result<(), ShardError> {
        let i = position_of(&self.nodes, name)?;
        self.nodes.remove(i);
        self.points.retain(|p| &*p.1 != name);
        Ok(())
    }
}

/// How a change of placement moved a set of keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Movement {
    /// Keys compared.
    pub keys: u64,
    /// Keys whose node changed.
    pub moved: u64,
}

impl Movement {
    /// The fraction of the keys that moved (0 for no keys).
    pub fn fraction(&self) -> f64 {
        if self.keys == 0 {
            0.0
        } else {
            self.moved as f64 / self.keys as f64
        }
    }
}

/// Counts the keys whose node differs between `before` and `after`.
pub fn movement<K: AsRef<[u8]>>(
    before: &dyn Sharder,
    after: &dyn Sharder,
    keys: impl IntoIterator<Item = K>,
) -> Movement {
    let mut m = Movement::default();
    for k in keys {
        let k = k.as_ref();
        m.keys += 1;
        if before.node_for(k) != after.node_for(k) {
            m.moved += 1;
        }
    }
    m
}

/// How evenly a placement spreads a set of keys.
#[derive(Debug, Clone, PartialEq)]
pub struct Balance {
    /// Keys per node, in [`Sharder::nodes`] order.
    pub per_node: Vec<u64>,
}

impl Balance {
    /// The most loaded node's keys over the mean (1.0 is perfect; 0 for no keys or nodes).
    pub fn max_over_mean(&self) -> f64 {
        let total: u64 = self.per_node.iter().sum();
        if total == 0 {
            return 0.0;
        }
        let mean = total as f64 / self.per_node.len() as f64;
        self.per_node.iter().copied().max().unwrap_or(0) as f64 / mean
    }
}

/// Counts the keys each node owns.
pub fn balance<K: AsRef<[u8]>>(
    sharder: &dyn Sharder,
    keys: impl IntoIterator<Item = K>,
) -> Balance {
    let mut per_node = vec![0u64; sharder.nodes().len()];
    for k in keys {
        if let Some(i) = sharder.index_for(k.as_ref()) {
            per_node[i] += 1;
        }
    }
    Balance { per_node }
}
