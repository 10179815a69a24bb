//! Fixed, documented functions that turn non-integer trace keys into `u64`.
//!
//! They are part of the trace format contract: a key computed here must stay
//! the same across releases, so that results over a trace are comparable.

use std::hash::{BuildHasher, Hasher};

/// FNV-1a offset basis (64-bit).
const FNV_OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
/// FNV-1a prime (64-bit).
const FNV_PRIME: u64 = 0x0000_0100_0000_01b3;

/// FNV-1a 64-bit hash of `bytes`: the key of a CSV row whose key is not a
/// decimal `u64`.
///
/// Offset basis `0xcbf29ce484222325`, prime `0x100000001b3`, one byte at a
/// time: `h = (h ^ byte) * prime`.
///
/// ```
/// assert_eq!(larder_sim::trace::fnv1a64(b""), 0xcbf2_9ce4_8422_2325);
/// assert_eq!(larder_sim::trace::fnv1a64(b"a"), 0xaf63_dc4c_8601_ec8c);
/// ```
pub fn fnv1a64(bytes: &[u8]) -> u64 {
    let mut hash = Fnv1a::new();
    hash.extend(bytes);
    hash.finish()
}

/// Incremental FNV-1a 64, so that quoted CSV keys can be hashed while they
/// are unescaped, without a buffer.
#[derive(Clone, Copy)]
pub(crate) struct Fnv1a(u64);

impl Fnv1a {
    /// The hash of the empty string.
    pub(crate) const fn new() -> Self {
        Self(FNV_OFFSET)
    }

    /// Feeds one byte.
    pub(crate) fn push(&mut self, byte: u8) {
        self.0 = (self.0 ^ u64::from(byte)).wrapping_mul(FNV_PRIME);
    }

    /// Feeds several bytes.
    pub(crate) fn extend(&mut self, bytes: &[u8]) {
        for &byte in bytes {
            self.push(byte);
        }
    }

    /// The hash of everything fed so far.
    pub(crate) const fn finish(self) -> u64 {
        self.0
    }
}

/// The 64-bit finalizer of SplitMix64 (Stafford's variant 13): a bijection on
/// `u64` with full avalanche.
const fn mix64(mut x: u64) -> u64 {
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

/// The key of an AdaptSize request: its `(id, size)` pair folded into a `u64`.
///
/// AdaptSize traces reuse an id with different sizes, and the trace's own
/// tooling (and Caffeine) treat each `(id, size)` pair as a distinct object.
/// The key is `mix64(id ^ mix64(size + 0x9e3779b97f4a7c15))`, where `mix64` is
/// the SplitMix64 finalizer. For one size, distinct ids never collide (the
/// function is a bijection of `id`); across sizes a collision needs a 64-bit
/// coincidence.
///
/// ```
/// use larder_sim::trace::id_size_key;
/// assert_ne!(id_size_key(7, 100), id_size_key(7, 200));
/// assert_eq!(id_size_key(7, 100), id_size_key(7, 100));
/// ```
pub const fn id_size_key(id: u64, size: u32) -> u64 {
    mix64(id ^ mix64((size as u64).wrapping_add(0x9e37_79b9_7f4a_7c15)))
}

/// A fast hasher for sets of `u64` keys (used by
/// [`Trace::unique_keys`](super::Trace::unique_keys)); not for untrusted
/// strings.
#[derive(Clone, Copy, Default)]
pub(crate) struct KeyHasher(u64);

impl Hasher for KeyHasher {
    fn finish(&self) -> u64 {
        mix64(self.0)
    }

    fn write(&mut self, bytes: &[u8]) {
        for &byte in bytes {
            self.0 = (self.0.rotate_left(8) ^ u64::from(byte)).wrapping_mul(FNV_PRIME);
        }
    }

    fn write_u64(&mut self, value: u64) {
        self.0 ^= value;
    }
}

/// Builds [`KeyHasher`]s.
#[derive(Clone, Copy, Default)]
pub(crate) struct BuildKeyHasher;

impl BuildHasher for BuildKeyHasher {
    type Hasher = KeyHasher;

    fn build_hasher(&self) -> KeyHasher {
        KeyHasher(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fnv1a64_reference_values() {
        // Published FNV-1a 64 test vectors.
        assert_eq!(fnv1a64(b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv1a64(b"a"), 0xaf63_dc4c_8601_ec8c);
        assert_eq!(fnv1a64(b"foobar"), 0x8594_4171_f739_67e8);
    }

    #[test]
    fn incremental_matches_one_shot() {
        let mut h = Fnv1a::new();
        for &b in b"foobar" {
            h.push(b);
        }
        assert_eq!(h.finish(), fnv1a64(b"foobar"));
    }

    #[test]
    fn id_size_key_separates_sizes_and_ids() {
        let mut keys = std::collections::HashSet::new();
        for id in 0..200u64 {
            for size in [0u32, 1, 512, 4096, u32::MAX] {
                assert!(
                    keys.insert(id_size_key(id, size)),
                    "collision at {id},{size}"
                );
            }
        }
        // Fixed values: the function is part of the format contract.
        assert_eq!(id_size_key(0, 0), mix64(mix64(0x9e37_79b9_7f4a_7c15)));
    }

    #[test]
    fn key_hasher_spreads_small_keys() {
        let h = |k: u64| {
            let mut hasher = BuildKeyHasher.build_hasher();
            hasher.write_u64(k);
            hasher.finish()
        };
        // Sequential keys reach most of the top-7-bit tags hashbrown uses.
        let tags: std::collections::HashSet<u64> = (0..1024).map(|k| h(k) >> 57).collect();
        assert!(tags.len() > 120, "{}", tags.len());
        assert_ne!(h(0), h(1));
    }
}
