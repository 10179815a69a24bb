//! How much of the budget an entry takes.

/// Weighs an entry: the units it takes out of the store's capacity.
///
/// With [`Unit`] the capacity counts entries; with a byte weigher it counts bytes. A weight is at
/// least 1 (a weigher returning 0 is treated as 1), and at most `u32::MAX`.
pub trait Weigher<K, V>: Send + Sync {
    /// The weight of the entry `key` → `value`.
    fn weigh(&self, key: &K, value: &V) -> u32;
}

/// Every entry weighs 1: the capacity is a number of entries.
#[derive(Debug, Default, Clone, Copy)]
pub struct Unit;

impl<K, V> Weigher<K, V> for Unit {
    #[inline]
    fn weigh(&self, _key: &K, _value: &V) -> u32 {
        1
    }
}

impl<K, V, F> Weigher<K, V> for F
where
    F: Fn(&K, &V) -> u32 + Send + Sync,
{
    #[inline]
    fn weigh(&self, key: &K, value: &V) -> u32 {
        self(key, value)
    }
}
