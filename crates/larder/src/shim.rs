//! Temporary stand-in for `Cache` (a thin wrapper over the engine Store) until the `lib` branch
//! with the real `Cache` is merged into this branch; removed then.
#![allow(missing_docs)]
use larder_engine::{InsertError, KeyBytes, Store};
use std::hash::Hash;
use std::sync::Arc;
use std::time::Duration;
pub struct Cache<K, V>(pub Arc<Store<K, V>>);
impl<K, V> Clone for Cache<K, V> {
    fn clone(&self) -> Self {
        Self(self.0.clone())
    }
}
impl<K: Hash + Eq + Clone + Send + Sync + KeyBytes + 'static, V: Clone + Send + Sync + 'static>
    Cache<K, V>
{
    pub fn get(&self, k: &K) -> Option<V> {
        self.0.get(k)
    }
    pub fn peek(&self, k: &K) -> Option<V> {
        self.0.peek(k)
    }
    pub fn insert(&self, k: K, v: V) -> Result<Option<V>, InsertError> {
        self.0.insert(k, v)
    }
    pub fn insert_with_ttl(&self, k: K, v: V, t: Duration) -> Result<Option<V>, InsertError> {
        self.0.insert_with_ttl(k, v, t)
    }
    pub fn invalidate(&self, k: &K) -> Option<V> {
        self.0.remove(k)
    }
    pub fn ttl(&self, k: &K) -> Option<Option<Duration>> {
        self.0.ttl(k)
    }
    pub fn set_ttl(&self, k: &K, t: Option<Duration>) -> bool {
        self.0.set_ttl(k, t)
    }
    pub fn hot_keys(&self, n: usize) -> Vec<larder_engine::hotkeys::HotKey<Box<[u8]>>> {
        self.0.hot_keys(n)
    }
}
