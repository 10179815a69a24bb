//! Hit ratio per namespace: the key prefix up to a delimiter (`user:42` → `user`).
//!
//! Bounded: at most `max` namespaces are tracked; lookups in further namespaces are counted under
//! [`OTHER`]. Keys without the delimiter count under the empty namespace. Recording takes a
//! shared lock and two relaxed atomic increments; only the first lookup in a new namespace takes
//! the exclusive lock.

use parking_lot::RwLock;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

/// The namespace that collects lookups beyond the tracked maximum.
pub const OTHER: &str = "(other)";

#[derive(Debug, Default)]
struct Tally {
    hits: AtomicU64,
    misses: AtomicU64,
}

/// One namespace's figures.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NamespaceStats {
    /// The prefix (lossy UTF-8), empty for keys without the delimiter.
    pub namespace: String,
    /// Hits.
    pub hits: u64,
    /// Misses.
    pub misses: u64,
}

impl NamespaceStats {
    /// Hits over lookups (0 when none).
    pub fn hit_ratio(&self) -> f64 {
        match self.hits + self.misses {
            0 => 0.0,
            n => self.hits as f64 / n as f64,
        }
    }
}

/// Per-namespace hit and miss counters.
#[derive(Debug)]
pub struct Namespaces {
    delimiter: u8,
    max: usize,
    tallies: RwLock<HashMap<Box<[u8]>, Tally>>,
    other: Tally,
}

impl Namespaces {
    /// Tracks up to `max` namespaces, each the key prefix before the first `delimiter`.
    pub fn new(delimiter: u8, max: usize) -> Self {
        Self {
            delimiter,
            max,
            tallies: RwLock::new(HashMap::new()),
            other: Tally::default(),
        }
    }

    /// The namespace of a key.
    pub fn namespace_of<'k>(&self, key: &'k [u8]) -> &'k [u8] {
        key.iter()
            .position(|&b| b == self.delimiter)
            .map_or(&[][..], |at| &key[..at])
    }

    /// Counts a lookup of `key`.
    pub fn record(&self, key: &[u8], hit: bool) {
        let ns = self.namespace_of(key);
        let bump = |t: &Tally| {
            if hit {
                t.hits.fetch_add(1, Relaxed);
            } else {
                t.misses.fetch_add(1, Relaxed);
            }
        };
        if let Some(t) = self.tallies.read().get(ns) {
            return bump(t);
        }
        let mut tallies = self.tallies.write();
        if let Some(t) = tallies.get(ns) {
            return bump(t);
        }
        if tallies.len() >= self.max {
            return bump(&self.other);
        }
        let t = Tally::default();
        bump(&t);
        tallies.insert(ns.into(), t);
    }

    /// Every namespace's figures, busiest first, with [`OTHER`] last if it saw any lookup.
    pub fn snapshot(&self) -> Vec<NamespaceStats> {
        let read = |name: String, t: &Tally| NamespaceStats {
            namespace: name,
            hits: t.hits.load(Relaxed),
            misses: t.misses.load(Relaxed),
        };
        let mut out: Vec<_> = self
            .tallies
            .read()
            .iter()
            .map(|(ns, t)| read(String::from_utf8_lossy(ns).into_owned(), t))
            .collect();
        out.sort_by(|a, b| {
            (b.hits + b.misses)
                .cmp(&(a.hits + a.misses))
                .then_with(|| a.namespace.cmp(&b.namespace))
        });
        let other = read(OTHER.to_owned(), &self.other);
        if other.hits + other.misses > 0 {
            out.push(other);
        }
        out
    }

    /// Forgets every namespace.
    pub fn reset(&self) {
        self.tallies.write().clear();
        self.other.hits.store(0, Relaxed);
        self.other.misses.store(0, Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ratios_by_prefix_and_bounded() {
        let ns = Namespaces::new(b':', 2);
        ns.record(b"user:1", true);
        ns.record(b"user:2", false);
        ns.record(b"user:3", true);
        ns.record(b"session:9", false);
        ns.record(b"plain", true); // third namespace: over the bound
        let snap = ns.snapshot();
        assert_eq!(snap[0].namespace, "user");
        assert_eq!((snap[0].hits, snap[0].misses), (2, 1));
        assert!((snap[0].hit_ratio() - 2.0 / 3.0).abs() < 1e-12);
        assert_eq!(snap[1].namespace, "session");
        assert_eq!(snap[2].namespace, OTHER);
        assert_eq!((snap[2].hits, snap[2].misses), (1, 0));
    }
}
