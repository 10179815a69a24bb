//! Cache-aside: the application reads the cache, queries the database on a miss and fills the
//! cache; it writes the database, then deletes the cached key.
//!
//! [`CacheAside`] packages the two halves with the one race that makes hand-written cache-aside
//! serve stale data forever (until the TTL): a reader misses and queries the old row; a writer
//! commits the new row and deletes the key; the reader then fills the cache with the old row.
//! Here every write bumps a generation counter of the key's stripe (1,024 stripes by hash) before
//! deleting, and a reader fills the cache, then checks that its stripe's generation did not move
//! since it missed — if it did, it deletes what it filled. Either the reader sees the bump, or
//! the writer's delete comes after the fill; so a fill that raced with a write never survives it.
//! A bump on another key of the same stripe only costs that reader its fill.
//!
//! Writes delete rather than update the cache: the next read takes the committed row, so two
//! concurrent writers cannot leave the cache holding the loser's value.
//!
//! Cache-aside does not coalesce misses: N readers of a missing key run N queries. For one query
//! per key in flight, use [`ReadThrough`](crate::ReadThrough) or [`Cache::get_or_insert_with`].

use crate::cache::{Cache, CacheKey, CacheValue};
use std::future::Future;
use std::hash::BuildHasher;
use std::sync::atomic::{AtomicU64, Ordering::SeqCst};

const STRIPES: usize = 1024;

/// Cache-aside helpers over a [`Cache`]; see the [module docs](self).
pub struct CacheAside<K, V> {
    cache: Cache<K, V>,
    generations: Box<[AtomicU64]>,
    hasher: std::hash::RandomState,
    refused: AtomicU64,
}

impl<K, V> std::fmt::Debug for CacheAside<K, V> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CacheAside").finish_non_exhaustive()
    }
}

impl<K, V> CacheAside<K, V>
where
    K: CacheKey,
    V: CacheValue,
{
    /// Cache-aside over `cache`.
    pub fn new(cache: Cache<K, V>) -> Self {
        Self {
            cache,
            generations: (0..STRIPES).map(|_| AtomicU64::new(0)).collect(),
            hasher: std::hash::RandomState::new(),
            refused: AtomicU64::new(0),
        }
    }

    /// The cache.
    pub fn cache(&self) -> &Cache<K, V> {
        &self.cache
    }

    /// Fills undone because a write to the key's stripe raced with them.
    pub fn refused_fills(&self) -> u64 {
        self.refused.load(SeqCst)
    }

    fn stripe(&self, key: &K) -> &AtomicU64 {
        &self.generations[(self.hasher.hash_one(key) as usize) % STRIPES]
    }

    /// The cached value of `key`, or `fetch`'s answer from the database, cached when it is
    /// `Some` (unless a write raced with the fetch). Errors are returned and not cached.
    pub fn read<E>(
        &self,
        key: &K,
        fetch: impl FnOnce() -> Result<Option<V>, E>,
    ) -> Result<Option<V>, E> {
        if let Some(value) = self.cache.get(key) {
            return Ok(Some(value));
        }
        let generation = self.stripe(key).load(SeqCst);
        let fetched = self.timed(fetch)?;
        Ok(self.fill(key, generation, fetched))
    }

    /// [`CacheAside::read`] with an async fetch.
    pub async fn read_async<E, Fut>(
        &self,
        key: &K,
        fetch: impl FnOnce() -> Fut,
    ) -> Result<Option<V>, E>
    where
        Fut: Future<Output = Result<Option<V>, E>>,
    {
        if let Some(value) = self.cache.get(key) {
            return Ok(Some(value));
        }
        let generation = self.stripe(key).load(SeqCst);
        let timer = self.cache.start_load();
        let fetched = fetch().await;
        let took = self.cache.record_load(&timer, fetched.is_ok());
        Ok(self.fill(key, generation, fetched?.map(|v| (v, took))))
    }

    fn timed<E>(
        &self,
        fetch: impl FnOnce() -> Result<Option<V>, E>,
    ) -> Result<Option<(V, std::time::Duration)>, E> {
        let timer = self.cache.start_load();
        let fetched = fetch();
        let took = self.cache.record_load(&timer, fetched.is_ok());
        Ok(fetched?.map(|v| (v, took)))
    }

    fn fill(
        &self,
        key: &K,
        generation: u64,
        fetched: Option<(V, std::time::Duration)>,
    ) -> Option<V> {
        let (value, took) = fetched?;
        self.cache.insert_loaded(key.clone(), value.clone(), took);
        if self.stripe(key).load(SeqCst) != generation {
            // A write committed while we fetched: what we filled may be older than it.
            self.cache.invalidate(key);
            self.refused.fetch_add(1, SeqCst);
        }
        Some(value)
    }

    /// Runs `write` against the database; if it succeeded, deletes the cached key.
    pub fn write<R, E>(&self, key: &K, write: impl FnOnce() -> Result<R, E>) -> Result<R, E> {
        let done = write()?;
        self.invalidate(key);
        Ok(done)
    }

    /// [`CacheAside::write`] with an async write.
    pub async fn write_async<R, E, Fut>(&self, key: &K, write: impl FnOnce() -> Fut) -> Result<R, E>
    where
        Fut: Future<Output = Result<R, E>>,
    {
        let done = write().await?;
        self.invalidate(key);
        Ok(done)
    }

    /// Deletes the cached key and fences off fills that raced with the change (call it after a
    /// database change made elsewhere).
    pub fn invalidate(&self, key: &K) {
        self.stripe(key).fetch_add(1, SeqCst);
        self.cache.invalidate(key);
    }
}
