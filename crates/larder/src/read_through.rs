//! Read-through: the cache loads missing keys itself, through a [`Loader`].
//!
//! [`ReadThrough`] puts a [`Loader`] behind a [`Cache`]: a hit is served from the cache; a miss
//! runs the loader — **one load per key in flight**, every concurrent reader of the key waiting for
//! that load and sharing its value or its error. A failed load is not cached unless negative
//! caching is configured ([`ReadThrough::negative_ttl`]): then the error is remembered for its own,
//! usually short, TTL in a separate small cache, and readers get it back without reaching the
//! database until it expires. To cache "not found", make the value an `Option`.
//!
//! Batches: [`ReadThrough::get_all_async`] serves what it can from the cache and asks
//! [`Loader::load_all`] once for every missing key that no other caller is already loading; it
//! waits for the keys others are loading.
//!
//! Blocking and async: [`ReadThrough::get`] and [`ReadThrough::get_all`] drive the loader's
//! future on the calling thread (so the loader must not need a runtime's reactor or timer: rusqlite, or any synchronous client wrapped in `async`, qualifies);
//! [`ReadThrough::get_async`] and [`ReadThrough::get_all_async`] await it. Both kinds share the
//! same flights. No lock is held across an `.await`.

use crate::block::block_on;
use crate::cache::{Cache, CacheKey, CacheValue, LoadError, Wait, shared_error};
use crate::flight::{Outcome, Role};
use std::collections::HashMap;
use std::future::Future;
use std::hash::Hash;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::Duration;

/// Loads values from the system of record (a database, a service).
pub trait Loader<K, V>: Send + Sync + 'static {
    /// The loader's error; shared with every caller waiting on the same load.
    type Error: Clone + Send + Sync + 'static;

    /// Loads one key.
    fn load(&self, key: &K) -> impl Future<Output = Result<V, Self::Error>> + Send;

    /// Loads several keys at once; keys absent from the answer do not exist. The default calls
    /// [`Loader::load`] for each key in turn; override it with one query (`WHERE id IN (…)`).
    fn load_all(
        &self,
        keys: &[K],
    ) -> impl Future<Output = Result<HashMap<K, V>, Self::Error>> + Send
    where
        K: Hash + Eq + Clone + Send + Sync,
        V: Send,
    {
        async move {
            let mut found = HashMap::with_capacity(keys.len());
            for key in keys {
                found.insert(key.clone(), self.load(key).await?);
            }
            Ok(found)
        }
    }
}

/// A cache that loads its misses through a [`Loader`]; see the [module docs](self).
pub struct ReadThrough<K, V, L: Loader<K, V>> {
    cache: Cache<K, V>,
    loader: Arc<L>,
    negative: Option<Cache<K, L::Error>>,
    negative_hits: AtomicU64,
}

impl<K, V, L: Loader<K, V>> std::fmt::Debug for ReadThrough<K, V, L> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReadThrough")
            .field("negative_caching", &self.negative.is_some())
            .finish_non_exhaustive()
    }
}

impl<K, V, L> ReadThrough<K, V, L>
where
    K: CacheKey,
    V: CacheValue,
    L: Loader<K, V>,
{
    /// Read-through over `cache`, loading with `loader`; errors are not cached.
    pub fn new(cache: Cache<K, V>, loader: L) -> Self {
        Self {
            cache,
            loader: Arc::new(loader),
            negative: None,
            negative_hits: AtomicU64::new(0),
        }
    }

    /// Negative caching: remember a failed load's error for `ttl` (in a cache of at most
    /// `max_entries` errors on the same clock), so that readers get it back without loading.
    pub fn negative_ttl(mut self, ttl: Duration, max_entries: u64) -> Self {
        self.negative = Some(
            Cache::builder()
                .max_capacity(max_entries)
                .time_to_live(ttl)
                .clock(Arc::clone(self.cache.clock()))
                .build(),
        );
        self
    }

    /// The cache.
    pub fn cache(&self) -> &Cache<K, V> {
        &self.cache
    }

    /// The loader.
    pub fn loader(&self) -> &L {
        &self.loader
    }

    /// Reads served a remembered error (negative caching).
    pub fn negative_hits(&self) -> u64 {
        self.negative_hits.load(Relaxed)
    }

    /// Drops `key` from the cache and forgets a remembered error for it.
    pub fn invalidate(&self, key: &K) {
        self.cache.invalidate(key);
        if let Some(negative) = &self.negative {
            negative.invalidate(key);
        }
    }

    /// The value of `key`, loading it on a miss; blocks the calling thread for the load.
    pub fn get(&self, key: &K) -> Result<V, LoadError<L::Error>> {
        block_on(self.get_inner(key, Wait::Blocking))
    }

    /// The value of `key`, loading it on a miss.
    pub async fn get_async(&self, key: &K) -> Result<V, LoadError<L::Error>> {
        self.get_inner(key, Wait::Async).await
    }

    async fn get_inner(&self, key: &K, wait: Wait) -> Result<V, LoadError<L::Error>> {
        if let Some(value) = self.cache.get(key) {
            return Ok(value);
        }
        if let Some(error) = self.remembered_error(key) {
            return Err(LoadError::Failed(error));
        }
        let loader = &self.loader;
        let result = self
            .cache
            .load_future(key.clone(), || loader.load(key), wait)
            .await;
        if let Err(LoadError::Failed(error)) = &result {
            self.remember_error(key, error);
        }
        result
    }

    fn remembered_error(&self, key: &K) -> Option<L::Error> {
        let error = self.negative.as_ref()?.get(key)?;
        self.negative_hits.fetch_add(1, Relaxed);
        Some(error)
    }

    fn remember_error(&self, key: &K, error: &L::Error) {
        if let Some(negative) = &self.negative {
            negative.insert(key.clone(), error.clone());
        }
    }

    /// The values of `keys` that exist, loading the missing ones with one
    /// [`Loader::load_all`]; blocks the calling thread for the load.
    pub fn get_all(&self, keys: &[K]) -> Result<HashMap<K, V>, LoadError<L::Error>> {
        block_on(self.get_all_inner(keys, Wait::Blocking))
    }

    /// The values of `keys` that exist, loading the missing ones with one
    /// [`Loader::load_all`]. Keys with a remembered error are left out; an error of the batch
    /// load (or of a load of another caller this one waited for) is returned.
    pub async fn get_all_async(&self, keys: &[K]) -> Result<HashMap<K, V>, LoadError<L::Error>> {
        self.get_all_inner(keys, Wait::Async).await
    }

    async fn get_all_inner(
        &self,
        keys: &[K],
        wait: Wait,
    ) -> Result<HashMap<K, V>, LoadError<L::Error>> {
        let mut found = HashMap::with_capacity(keys.len());
        let mut missing = Vec::new();
        for key in keys {
            if found.contains_key(key) || missing.contains(key) {
                continue;
            }
            match self.cache.get(key) {
                Some(value) => {
                    found.insert(key.clone(), value);
                }
                None if self.remembered_error(key).is_some() => {}
                None => missing.push(key.clone()),
            }
        }
        if missing.is_empty() {
            return Ok(found);
        }
        let flights = &self.cache.inner.flights;
        let (mut leaders, mut followers) = (Vec::new(), Vec::new());
        for key in missing {
            match flights.join(&key) {
                Role::Leader(leader) => match self.cache.peek_live(&key) {
                    Some(value) => {
                        leader.complete(Outcome::Value(value.clone()));
                        found.insert(key, value);
                    }
                    None => leaders.push((key, leader)),
                },
                Role::Follower(flight) => followers.push((key, flight)),
            }
        }
        if !leaders.is_empty() {
            let batch: Vec<K> = leaders.iter().map(|(k, _)| k.clone()).collect();
            let timer = self.cache.start_load();
            let result = self.loader.load_all(&batch).await;
            let took = self.cache.record_load(&timer, result.is_ok());
            match result {
                Ok(mut loaded) => {
                    for (key, leader) in leaders {
                        // A key the loader did not return does not exist: its flight is
                        // abandoned, and a caller waiting on it loads it alone.
                        if let Some(value) = loaded.remove(&key) {
                            self.cache.insert_loaded(key.clone(), value.clone(), took);
                            leader.complete(Outcome::Value(value.clone()));
                            found.insert(key, value);
                        }
                    }
                }
                Err(error) => {
                    let shared: crate::flight::Shared = Arc::new(error.clone());
                    for (key, leader) in leaders {
                        self.remember_error(&key, &error);
                        leader.complete(Outcome::Failed(Arc::clone(&shared)));
                    }
                    return Err(LoadError::Failed(error));
                }
            }
        }
        for (key, flight) in followers {
            match wait.wait(&flight, self.cache.load_timeout()).await {
                Outcome::Value(value) => {
                    found.insert(key, value);
                }
                Outcome::Failed(e) => return Err(shared_error(e)),
                Outcome::TimedOut => return Err(LoadError::TimedOut),
                Outcome::Abandoned => {
                    if let Ok(value) = self.get_inner(&key, wait).await {
                        found.insert(key, value);
                    }
                }
            }
        }
        Ok(found)
    }
}
