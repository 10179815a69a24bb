//! Refresh-ahead: serve the cached value and reload it in the background before it expires.
//!
//! [`RefreshAhead`] is read-through ([`Loader`]) plus a refresh age: a read that finds a value
//! written more than [`refresh_after`](RefreshAheadBuilder::refresh_after) ago returns it at once
//! and starts **one** background reload of the key (never a second while one runs, and never more
//! than [`max_concurrent`](RefreshAheadBuilder::max_concurrent) at a time). The reload replaces
//! the value when it succeeds; when it fails the old value stays, to be served until its TTL
//! ends, and the next read after the failure tries again. A read that misses loads in the
//! foreground with single flight, like [`ReadThrough`](crate::ReadThrough).
//!
//! With [`hot_only`](RefreshAheadBuilder::hot_only), only keys read faster than a threshold are
//! refreshed ahead: their rate comes from the engine's hot-key detector
//! ([`larder_engine::hotkeys`], Space-Saving over a sliding window, bounded to `2 × top` keys),
//! fed by every read (a read that finds the detector busy is not counted rather than made to
//! wait); the set of hot keys is recomputed at most ten times per window. Cold keys
//! simply expire and are loaded again on their next read, so the database is not kept busy
//! refreshing values nobody reads.
//!
//! Background reloads run on the current tokio runtime when there is one, else on a thread of
//! their own (bounded by `max_concurrent`); the loader's future must suit where it runs (see
//! [`ReadThrough`](crate::ReadThrough) on blocking use).

use crate::block::block_on;
use crate::cache::{Cache, CacheKey, CacheValue, LoadError, Wait};
use crate::flight::{Outcome, Role};
use crate::read_through::Loader;
use larder_engine::Timestamp;
use larder_engine::hotkeys::HotKeys;
use parking_lot::Mutex;
use std::collections::HashSet;
use std::hash::Hash;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::Duration;

/// Which keys count as hot (see [`RefreshAheadBuilder::hot_only`]).
struct HotFilter<K> {
    detector: Mutex<HotKeys<K>>,
    top: usize,
    min_rate: f64,
    window_ms: u64,
    hot: Mutex<(Option<Timestamp>, HashSet<K>)>,
}

impl<K: Hash + Eq + Clone> HotFilter<K> {
    /// Counts a read; skipped (not waited for) when another reader holds the detector, so
    /// under contention rates are underestimated rather than reads slowed.
    fn record(&self, key: &K, now: Timestamp) {
        if let Some(mut detector) = self.detector.try_lock() {
            detector.record(key, 1, now);
        }
    }

    fn is_hot(&self, key: &K, now: Timestamp) -> bool {
        let mut hot = self.hot.lock();
        let stale = hot
            .0
            .is_none_or(|at| now.saturating_sub(at) >= (self.window_ms / 10).max(1));
        if stale {
            let top = self.detector.lock().top(self.top, now);
            hot.1 = top
                .into_iter()
                .filter(|k| k.rate_per_sec >= self.min_rate)
                .map(|k| k.key)
                .collect();
            hot.0 = Some(now);
        }
        hot.1.contains(key)
    }
}

struct Shared<K, V, L> {
    cache: Cache<K, V>,
    loader: Arc<L>,
    refresh_after_ms: u64,
    max_concurrent: usize,
    hot: Option<HotFilter<K>>,
    refreshing: Mutex<HashSet<K>>,
    refreshes: AtomicU64,
    refresh_failures: AtomicU64,
}

/// Refresh-ahead over a [`Cache`] and a [`Loader`]; see the [module docs](self). `Clone` shares it.
pub struct RefreshAhead<K, V, L> {
    shared: Arc<Shared<K, V, L>>,
}

impl<K, V, L> Clone for RefreshAhead<K, V, L> {
    fn clone(&self) -> Self {
        Self {
            shared: Arc::clone(&self.shared),
        }
    }
}

impl<K, V, L> std::fmt::Debug for RefreshAhead<K, V, L> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RefreshAhead")
            .field("refresh_after_ms", &self.shared.refresh_after_ms)
            .finish_non_exhaustive()
    }
}

/// Builds a [`RefreshAhead`].
pub struct RefreshAheadBuilder<K, V, L> {
    cache: Cache<K, V>,
    loader: L,
    refresh_after: Duration,
    max_concurrent: usize,
    hot: Option<(usize, Duration, f64)>,
}

impl<K, V, L> std::fmt::Debug for RefreshAheadBuilder<K, V, L> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RefreshAheadBuilder")
            .field("refresh_after", &self.refresh_after)
            .finish_non_exhaustive()
    }
}

impl<K, V, L> RefreshAheadBuilder<K, V, L>
where
    K: CacheKey,
    V: CacheValue,
    L: Loader<K, V>,
{
    /// Reload a value in the background when a read finds it older than `age` (default: 80 %
    /// of the cache's time to live, or one minute without one).
    pub fn refresh_after(mut self, age: Duration) -> Self {
        self.refresh_after = age;
        self
    }

    /// At most `n` background reloads at a time (default 64); a due key finding them all busy
    /// is served as is and refreshed by a later read.
    pub fn max_concurrent(mut self, n: usize) -> Self {
        self.max_concurrent = n.max(1);
        self
    }

    /// Refresh ahead only keys read at least `min_rate_per_sec` times per second over a sliding
    /// `window`, among the `top` most read keys.
    pub fn hot_only(mut self, top: usize, window: Duration, min_rate_per_sec: f64) -> Self {
        self.hot = Some((top, window, min_rate_per_sec));
        self
    }

    /// Builds it.
    pub fn build(self) -> RefreshAhead<K, V, L> {
        let ms = |d: Duration| u64::try_from(d.as_millis()).unwrap_or(u64::MAX);
        RefreshAhead {
            shared: Arc::new(Shared {
                cache: self.cache,
                loader: Arc::new(self.loader),
                refresh_after_ms: ms(self.refresh_after),
                max_concurrent: self.max_concurrent,
                hot: self.hot.map(|(top, window, min_rate)| HotFilter {
                    detector: Mutex::new(HotKeys::new(top, ms(window))),
                    top,
                    min_rate,
                    window_ms: ms(window).max(1),
                    hot: Mutex::new((None, HashSet::new())),
                }),
                refreshing: Mutex::new(HashSet::new()),
                refreshes: AtomicU64::new(0),
                refresh_failures: AtomicU64::new(0),
            }),
        }
    }
}

impl<K, V, L> RefreshAhead<K, V, L>
where
    K: CacheKey,
    V: CacheValue,
    L: Loader<K, V>,
{
    /// A builder over `cache`, loading with `loader`.
    pub fn builder(cache: Cache<K, V>, loader: L) -> RefreshAheadBuilder<K, V, L> {
        let refresh_after = cache
            .time_to_live()
            .map_or(Duration::from_secs(60), |ttl| ttl.mul_f64(0.8));
        RefreshAheadBuilder {
            cache,
            loader,
            refresh_after,
            max_concurrent: 64,
            hot: None,
        }
    }

    /// The cache.
    pub fn cache(&self) -> &Cache<K, V> {
        &self.shared.cache
    }

    /// Background reloads started so far.
    pub fn refreshes(&self) -> u64 {
        self.shared.refreshes.load(Relaxed)
    }

    /// Background reloads that failed (the old value was kept).
    pub fn refresh_failures(&self) -> u64 {
        self.shared.refresh_failures.load(Relaxed)
    }

    /// Background reloads running now.
    pub fn pending_refreshes(&self) -> usize {
        self.shared.refreshing.lock().len()
    }

    /// The value of `key`: the cached one (refreshed in the background if due), or loaded now
    /// on a miss, blocking this thread.
    pub fn get(&self, key: &K) -> Result<V, LoadError<L::Error>> {
        if let Some(value) = self.serve(key) {
            return Ok(value);
        }
        let loader = &self.shared.loader;
        block_on(
            self.shared
                .cache
                .load_future(key.clone(), || loader.load(key), Wait::Blocking),
        )
    }

    /// The value of `key`: the cached one (refreshed in the background if due), or loaded now
    /// on a miss.
    pub async fn get_async(&self, key: &K) -> Result<V, LoadError<L::Error>> {
        if let Some(value) = self.serve(key) {
            return Ok(value);
        }
        let loader = &self.shared.loader;
        self.shared
            .cache
            .load_future(key.clone(), || loader.load(key), Wait::Async)
            .await
    }

    /// A hit, with a background reload started if it is due.
    fn serve(&self, key: &K) -> Option<V> {
        let shared = &*self.shared;
        let (value, written_at) = shared
            .cache
            .read(key, |slot| (slot.value.clone(), slot.written_at))?;
        let now = shared.cache.clock().now();
        if let Some(hot) = &shared.hot {
            hot.record(key, now);
        }
        let due = now.saturating_sub(written_at) >= shared.refresh_after_ms;
        if due && shared.hot.as_ref().is_none_or(|hot| hot.is_hot(key, now)) {
            self.start_refresh(key);
        }
        Some(value)
    }

    fn start_refresh(&self, key: &K) {
        {
            let mut refreshing = self.shared.refreshing.lock();
            if refreshing.len() >= self.shared.max_concurrent || !refreshing.insert(key.clone()) {
                return;
            }
        }
        self.shared.refreshes.fetch_add(1, Relaxed);
        let this = self.clone();
        let key = key.clone();
        let forget = key.clone();
        let task = async move {
            this.reload(&key).await;
            this.shared.refreshing.lock().remove(&key);
        };
        match tokio::runtime::Handle::try_current() {
            Ok(runtime) => {
                runtime.spawn(task);
            }
            Err(_) => {
                let spawned = std::thread::Builder::new()
                    .name("larder-refresh".into())
                    .spawn(move || block_on(task));
                if spawned.is_err() {
                    // No thread to run it: the value stays and a later read tries again.
                    self.shared.refresh_failures.fetch_add(1, Relaxed);
                    self.shared.refreshing.lock().remove(&forget);
                }
            }
        }
    }

    /// Reloads `key` as the leader of its flight; keeps the old value if the load fails.
    async fn reload(&self, key: &K) {
        let cache = &self.shared.cache;
        let Role::Leader(leader) = cache.inner.flights.join(key) else {
            // Someone is loading it already (a miss that raced with us).
            return;
        };
        let timer = cache.start_load();
        let result = self.shared.loader.load(key).await;
        let took = cache.record_load(&timer, result.is_ok());
        match result {
            Ok(value) => {
                cache.insert_loaded(key.clone(), value.clone(), took);
                leader.complete(Outcome::Value(value));
            }
            Err(error) => {
                self.shared.refresh_failures.fetch_add(1, Relaxed);
                leader.complete(Outcome::Failed(Arc::new(error)));
            }
        }
    }
}
