//! The hash value: fields to values, in Redis 7.0's two encodings.
//!
//! - `listpack`: a small vector of field/value pairs searched linearly, while the hash has at
//!   most `hash-max-listpack-entries` fields and no field or value longer than
//!   `hash-max-listpack-value` bytes;
//! - `hashtable`: a [`Table`] once either limit is crossed (a hash never converts back, as in
//!   Redis).
//!
//! The heap byte count is kept as the hash changes, so [`Hash::heap_bytes`] is O(1).

use super::table::{HeapSize, Table, alloc_size, random_below};
use larder_engine::prefetch::prefetch;
use std::mem::size_of;

/// The limits of the compact encoding (`hash-max-listpack-entries`, `hash-max-listpack-value`).
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    /// Most fields a `listpack` hash holds.
    pub max_entries: usize,
    /// Longest field or value a `listpack` hash holds.
    pub max_value: usize,
}

type Bytes = Box<[u8]>;

#[derive(Clone, Debug)]
enum Repr {
    Listpack(Vec<(Bytes, Bytes)>),
    Table(Table<Bytes, Bytes>),
}

/// A hash: fields to values.
#[derive(Clone, Debug)]
pub struct Hash {
    repr: Repr,
    /// The `listpack` pairs' own allocations (unused for `hashtable`, whose table counts).
    pairs_heap: usize,
}

impl Default for Hash {
    fn default() -> Self {
        Hash::new()
    }
}

const PAIR: usize = size_of::<(Bytes, Bytes)>();

impl Hash {
    /// An empty hash (`listpack`).
    pub fn new() -> Hash {
        Hash {
            repr: Repr::Listpack(Vec::new()),
            pairs_heap: 0,
        }
    }

    /// Number of fields.
    pub fn len(&self) -> usize {
        match &self.repr {
            Repr::Listpack(pairs) => pairs.len(),
            Repr::Table(table) => table.len(),
        }
    }

    /// Whether it has no fields (an empty collection is never stored: the key is removed).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Heap bytes owned, kept up to date by every change (O(1)).
    pub fn heap_bytes(&self) -> usize {
        size_of::<Hash>()
            + match &self.repr {
                Repr::Listpack(pairs) => pairs.capacity() * PAIR + self.pairs_heap,
                Repr::Table(table) => table.heap_bytes(),
            }
    }

    /// `OBJECT ENCODING`'s answer.
    pub fn encoding(&self) -> &'static str {
        match &self.repr {
            Repr::Listpack(_) => "listpack",
            Repr::Table(_) => "hashtable",
        }
    }

    /// Prefetches the entries of `fields` of a `hashtable` hash, their fields' and values' bytes
    /// included (a hint: see [`Table::prefetch`]); a `listpack` hash asks for nothing.
    pub fn prefetch_fields(&self, fields: &[&[u8]]) {
        if let Repr::Table(table) = &self.repr {
            table.prefetch(fields, |field, value| {
                prefetch(&**field);
                prefetch(&**value);
            });
        }
    }

    /// The value of `field`.
    pub fn get(&self, field: &[u8]) -> Option<&[u8]> {
        match &self.repr {
            Repr::Listpack(pairs) => pairs
                .iter()
                .find(|(f, _)| &f[..] == field)
                .map(|(_, v)| &v[..]),
            Repr::Table(table) => table.get(field).map(|v| &v[..]),
        }
    }

    /// Whether `field` is present.
    pub fn contains(&self, field: &[u8]) -> bool {
        self.get(field).is_some()
    }

    /// Sets `field` to `value`; `true` when the field is new. Converts to `hashtable` when a
    /// limit is crossed.
    pub fn set(&mut self, field: &[u8], value: &[u8], limits: Limits) -> bool {
        if let Repr::Listpack(_) = self.repr
            && (field.len() > limits.max_value || value.len() > limits.max_value)
        {
            self.convert();
        }
        match &mut self.repr {
            Repr::Listpack(pairs) => {
                if let Some((_, v)) = pairs.iter_mut().find(|(f, _)| &f[..] == field) {
                    self.pairs_heap = self.pairs_heap - v.heap_size() + alloc_size(value.len());
                    *v = value.into();
                    return false;
                }
                pairs.push((field.into(), value.into()));
                self.pairs_heap += alloc_size(field.len()) + alloc_size(value.len());
                if pairs.len() > limits.max_entries {
                    self.convert();
                }
                true
            }
            Repr::Table(table) => {
                if table.update(field, |v| *v = value.into()).is_some() {
                    return false;
                }
                table.insert(field.into(), value.into());
                true
            }
        }
    }

    /// Removes `field`; `true` when it was present.
    pub fn remove(&mut self, field: &[u8]) -> bool {
        match &mut self.repr {
            Repr::Listpack(pairs) => match pairs.iter().position(|(f, _)| &f[..] == field) {
                Some(i) => {
                    let (f, v) = pairs.remove(i);
                    self.pairs_heap -= f.heap_size() + v.heap_size();
                    if pairs.capacity() > 8 && pairs.len() * 4 < pairs.capacity() {
                        pairs.shrink_to(pairs.len() * 2);
                    }
                    true
                }
                None => false,
            },
            Repr::Table(table) => table.remove(field).is_some(),
        }
    }

    fn convert(&mut self) {
        if let Repr::Listpack(pairs) = &mut self.repr {
            let mut table = Table::with_capacity(pairs.len() + 1);
            for (f, v) in pairs.drain(..) {
                table.insert(f, v);
            }
            self.repr = Repr::Table(table);
            self.pairs_heap = 0;
        }
    }

    /// Every field and value (insertion order for `listpack`, slot order for `hashtable`).
    pub fn iter(&self) -> impl Iterator<Item = (&[u8], &[u8])> {
        let (small, large) = match &self.repr {
            Repr::Listpack(pairs) => (Some(pairs.iter()), None),
            Repr::Table(table) => (None, Some(table.iter())),
        };
        small
            .into_iter()
            .flatten()
            .map(|(f, v)| (&f[..], &v[..]))
            .chain(large.into_iter().flatten().map(|(f, v)| (&f[..], &v[..])))
    }

    /// A random field and its value.
    pub fn random(&self) -> Option<(&[u8], &[u8])> {
        match &self.repr {
            Repr::Listpack(pairs) if pairs.is_empty() => None,
            Repr::Listpack(pairs) => {
                let (f, v) = &pairs[random_below(pairs.len())];
                Some((f, v))
            }
            Repr::Table(table) => table.random().map(|(f, v)| (&f[..], &v[..])),
        }
    }

    /// `HSCAN`'s step: visits about `count` fields from `cursor` and returns the next cursor
    /// (0 when done). A `listpack` hash is visited whole in one call, as in Redis.
    pub fn scan(&self, cursor: u64, count: usize, mut visit: impl FnMut(&[u8], &[u8])) -> u64 {
        match &self.repr {
            Repr::Listpack(pairs) => {
                for (f, v) in pairs {
                    visit(f, v);
                }
                0
            }
            Repr::Table(table) => table.scan(cursor, count, |f, v| visit(f, v)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIMITS: Limits = Limits {
        max_entries: 4,
        max_value: 8,
    };

    #[test]
    fn converts_past_either_limit_and_keeps_its_count() {
        let mut h = Hash::new();
        for i in 0..4 {
            assert!(h.set(format!("f{i}").as_bytes(), b"v", LIMITS));
        }
        assert_eq!(h.encoding(), "listpack");
        assert!(!h.set(b"f0", b"w", LIMITS));
        assert_eq!(h.get(b"f0"), Some(&b"w"[..]));
        assert!(h.set(b"f4", b"v", LIMITS));
        assert_eq!(h.encoding(), "hashtable");
        assert_eq!(h.len(), 5);
        let mut h = Hash::new();
        h.set(b"f", b"a long value", LIMITS);
        assert_eq!(h.encoding(), "hashtable");
        assert!(h.remove(b"f"));
        assert!(h.is_empty());
        let mut h = Hash::new();
        let empty = h.heap_bytes();
        h.set(b"f", b"value", LIMITS);
        assert_eq!(h.heap_bytes(), empty + h_capacity(&h) * PAIR + 16);
        h.remove(b"f");
        assert_eq!(h.heap_bytes(), empty + h_capacity(&h) * PAIR);
    }

    fn h_capacity(h: &Hash) -> usize {
        match &h.repr {
            Repr::Listpack(pairs) => pairs.capacity(),
            Repr::Table(_) => 0,
        }
    }
}
