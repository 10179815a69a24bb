//! The set value: distinct members.
//!
//! Placeholder layout until the set commands land; replaced by its compact and large encodings.

/// A set: distinct members.
#[derive(Clone, Debug, Default)]
pub struct Set {
    items: Vec<Box<[u8]>>,
    heap: usize,
}

impl Set {
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
        "hashtable"
    }
}
