//! [`Key`], the stored form of a key: one byte of physical database, then the client's key.
//!
//! A key of up to [`INLINE`] bytes (the database byte included) is kept inline in the 24 bytes
//! of the `Key` itself, with no allocation; a longer one lives in a `Box<[u8]>`. Most keys are
//! short (a 16-byte key such as `key:000000000042` is 17 bytes stored), so most entries save a
//! heap allocation: 32 bytes in jemalloc's size classes against 8 more bytes in the engine
//! slot (see `docs/benchmarks.md`, "Memory per key").
//!
//! A `Key` behaves as the byte string it holds: it dereferences to `[u8]`, borrows as `[u8]`,
//! and hashes, compares and orders exactly as that slice does, which lets the engine look a
//! `Key` up by `&[u8]`.

use std::borrow::Borrow;
use std::cmp::Ordering;
use std::fmt;
use std::hash::{Hash, Hasher};
use std::ops::Deref;

/// The longest key, database byte included, stored without a heap allocation.
pub const INLINE: usize = 22;

/// A stored key (see the [module docs](self)).
#[derive(Clone)]
pub struct Key(Repr);

#[derive(Clone)]
enum Repr {
    /// `bytes[..len]` is the key; the rest is zero.
    Inline { len: u8, bytes: [u8; INLINE] },
    /// A key longer than [`INLINE`] bytes.
    Heap(Box<[u8]>),
}

impl Key {
    /// The key's bytes.
    pub fn as_bytes(&self) -> &[u8] {
        match &self.0 {
            Repr::Inline { len, bytes } => &bytes[..usize::from(*len)],
            Repr::Heap(bytes) => bytes,
        }
    }

    /// Whether the key is stored inline (without a heap allocation).
    pub fn is_inline(&self) -> bool {
        matches!(self.0, Repr::Inline { .. })
    }

    /// The heap bytes this key owns: 0 when inline, its length otherwise.
    pub fn heap_bytes(&self) -> usize {
        Self::heap_bytes_for(self.len())
    }

    /// The heap bytes a stored key of `len` bytes owns (see [`Key::heap_bytes`]).
    pub fn heap_bytes_for(len: usize) -> usize {
        if len <= INLINE { 0 } else { len }
    }
}

impl From<&[u8]> for Key {
    fn from(key: &[u8]) -> Key {
        if key.len() <= INLINE {
            let mut bytes = [0; INLINE];
            bytes[..key.len()].copy_from_slice(key);
            Key(Repr::Inline {
                len: key.len() as u8,
                bytes,
            })
        } else {
            Key(Repr::Heap(Box::from(key)))
        }
    }
}

impl Deref for Key {
    type Target = [u8];

    fn deref(&self) -> &[u8] {
        self.as_bytes()
    }
}

impl AsRef<[u8]> for Key {
    fn as_ref(&self) -> &[u8] {
        self.as_bytes()
    }
}

impl Borrow<[u8]> for Key {
    fn borrow(&self) -> &[u8] {
        self.as_bytes()
    }
}

impl Hash for Key {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.as_bytes().hash(state);
    }
}

impl PartialEq for Key {
    fn eq(&self, other: &Key) -> bool {
        self.as_bytes() == other.as_bytes()
    }
}

impl Eq for Key {}

impl PartialOrd for Key {
    fn partial_cmp(&self, other: &Key) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Key {
    fn cmp(&self, other: &Key) -> Ordering {
        self.as_bytes().cmp(other.as_bytes())
    }
}

impl fmt::Debug for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Key(\"{}\")", self.as_bytes().escape_ascii())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;
    use std::hash::BuildHasher;

    fn keys() -> Vec<Vec<u8>> {
        (0..=40usize)
            .map(|n| (0..n).map(|i| (i * 7 + n) as u8).collect())
            .collect()
    }

    #[test]
    fn is_24_bytes() {
        assert_eq!(size_of::<Key>(), 24);
        assert_eq!(size_of::<Option<Key>>(), 24);
    }

    #[test]
    fn short_keys_are_inline_and_own_no_heap_bytes() {
        for k in keys() {
            let key = Key::from(&k[..]);
            assert_eq!(key.as_bytes(), &k[..]);
            assert_eq!(&*key, &k[..]);
            assert_eq!(key.len(), k.len());
            assert_eq!(key.is_inline(), k.len() <= INLINE);
            let heap = if k.len() <= INLINE { 0 } else { k.len() };
            assert_eq!(key.heap_bytes(), heap);
            assert_eq!(Key::heap_bytes_for(k.len()), heap);
        }
    }

    #[test]
    fn hashes_equals_and_orders_as_its_bytes() {
        let state = std::collections::hash_map::RandomState::new();
        let all = keys();
        for a in &all {
            let ka = Key::from(&a[..]);
            assert_eq!(state.hash_one(&ka), state.hash_one(&a[..]));
            assert_eq!(ka.clone(), ka);
            for b in &all {
                let kb = Key::from(&b[..]);
                assert_eq!(ka == kb, a == b);
                assert_eq!(ka.cmp(&kb), a.cmp(b));
            }
        }
    }

    #[test]
    fn found_by_slice_in_a_map() {
        let mut map = HashMap::new();
        for (i, k) in keys().iter().enumerate() {
            map.insert(Key::from(&k[..]), i);
        }
        for (i, k) in keys().iter().enumerate() {
            assert_eq!(map.get(&k[..]), Some(&i));
        }
    }

    #[test]
    fn debug_shows_the_bytes() {
        assert_eq!(
            format!("{:?}", Key::from(&b"\x01ab"[..])),
            "Key(\"\\x01ab\")"
        );
    }
}
