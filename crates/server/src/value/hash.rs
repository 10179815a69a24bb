//! The hash value: fields to values.
//!
//! Placeholder layout until the hash commands land; replaced by its compact and large encodings.

/// A hash: fields to values.
#[derive(Clone, Debug, Default)]
pub struct Hash {
    items: Vec<Box<[u8]>>,
    heap: usize,
}

impl Hash {
    /// Number of elements.
    pub fn len(&self) -> usize {
        self.items.len()
    }

    /// Whether it has no elements (an empty collection is never stored: the key is removed).
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// Heap bytes owned, kept up to date by every change (O(1)).
    pub fn heap_bytes(&self) -> usize {
        self.heap
    }

    /// `OBJECT ENCODING`'s answer.
    pub fn encoding(&self) -> &'static str {
        "listpack"
    }
}
