//! Read-your-writes: a writer always reads its own writes, even through a cache that other
//! readers see late.
//!
//! Two of the seed's solutions, both for a cache that is updated asynchronously (invalidation
//! messages, write-behind, a replica behind the database):
//!
//! * **Session bypass window** ([`SessionBypass`]): after session `s` writes key `k`
//!   ([`SessionBypass::note_write`]), `s`'s reads of `k` skip the cache and go to the database for
//!   `window`; other sessions keep reading the cache. The (session, key) marks live in an engine
//!   store with the window as their TTL, so they expire by themselves and their number is bounded
//!   (`max_marks`; the least useful mark is evicted first, which only shortens that session's
//!   window).
//! * **Minimum-version reads** ([`MinVersionReads`]), the `X-Min-Version` style: a write returns
//!   the version it created ([`MinVersion`], carried by the client, e.g. in an `X-Min-Version`
//!   header); a read that carries it accepts a cached value only if its version is at least that
//!   high, and otherwise loads from the database and refreshes the cache. Values tell their
//!   version through [`HasVersion`]. If even the database answers an older version (a lagging
//!   replica), the read fails with [`ConsistencyError::TooOld`] rather than break the promise.

use crate::Cache;
use larder_engine::{Clock, Store, SystemClock};
use std::fmt;
use std::hash::Hash;
use std::str::FromStr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// A (session, key) pair marked by a recent write.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct Mark<S, K>(S, K);

/// Session bypass: a session's reads of a key it just wrote skip the cache for a window.
pub struct SessionBypass<S, K, V> {
    cache: Cache<K, V>,
    marks: Store<Mark<S, K>, ()>,
    window: Duration,
    bypassed: AtomicU64,
}

/// Counters of a [`SessionBypass`] or [`MinVersionReads`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ConsistencyStats {
    /// Reads that went to the database to keep the promise (bypass or too old a cached value).
    pub database_reads: u64,
}

impl<S, K, V> SessionBypass<S, K, V>
where
    S: Hash + Eq + Clone + Send + Sync + 'static,
    K: Hash + Eq + Clone + Send + Sync + 'static,
    V: Clone + Send + Sync + 'static,
{
    /// Reads through `cache`, bypassing it for `window` after a session's write; at most
    /// `max_marks` (session, key) marks at a time; time from `clock` (use the cache's clock).
    pub fn new(
        cache: Cache<K, V>,
        window: Duration,
        max_marks: u64,
        clock: Arc<dyn Clock>,
    ) -> Self {
        Self {
            cache,
            marks: Store::builder(max_marks.max(1)).clock(clock).build(),
            window,
            bypassed: AtomicU64::new(0),
        }
    }

    /// [`SessionBypass::new`] on the system clock.
    pub fn with_system_clock(cache: Cache<K, V>, window: Duration, max_marks: u64) -> Self {
        Self::new(cache, window, max_marks, Arc::new(SystemClock))
    }

    /// Records that `session` wrote `key` (call it after the database write succeeded).
    pub fn note_write(&self, session: S, key: K) {
        // A mark the store cannot hold only shortens this session's window; nothing else breaks.
        let _ = self
            .marks
            .insert_with_ttl(Mark(session, key), (), self.window);
    }

    /// Whether `session`'s reads of `key` bypass the cache now.
    pub fn bypasses(&self, session: &S, key: &K) -> bool {
        self.marks.contains(&Mark(session.clone(), key.clone()))
    }

    /// `session`'s read of `key`: from the database (`load`) inside its bypass window, otherwise
    /// from the cache, loading and caching on a miss. A bypassing read leaves the cache alone.
    pub fn get<E>(
        &self,
        session: &S,
        key: &K,
        load: impl FnOnce(&K) -> Result<Option<V>, E>,
    ) -> Result<Option<V>, E> {
        if self.bypasses(session, key) {
            self.bypassed.fetch_add(1, Ordering::Relaxed);
            return load(key);
        }
        if let Some(v) = self.cache.get(key) {
            return Ok(Some(v));
        }
        let loaded = load(key)?;
        if let Some(v) = &loaded {
            self.cache.insert(key.clone(), v.clone());
        }
        Ok(loaded)
    }

    /// Counters so far.
    pub fn stats(&self) -> ConsistencyStats {
        ConsistencyStats {
            database_reads: self.bypassed.load(Ordering::Relaxed),
        }
    }

    /// The cache read.
    pub fn cache(&self) -> &Cache<K, V> {
        &self.cache
    }
}

/// A value that knows the version it was written as (a row's `version` column).
pub trait HasVersion {
    /// The version.
    fn version(&self) -> u64;
}

/// The lowest version a read accepts: the version the reader's own last write created.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct MinVersion(pub u64);

impl MinVersion {
    /// The HTTP header clients carry it in.
    pub const HEADER: &'static str = "X-Min-Version";
}

impl fmt::Display for MinVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// A malformed `X-Min-Version` value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid X-Min-Version value {0:?}: expected a decimal version number")]
pub struct BadMinVersion(pub String);

impl FromStr for MinVersion {
    type Err = BadMinVersion;

    /// Parses a header value: a decimal `u64`, surrounding whitespace allowed.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        s.trim()
            .parse::<u64>()
            .map(MinVersion)
            .map_err(|_| BadMinVersion(s.chars().take(64).collect()))
    }
}

/// Why a minimum-version read failed.
#[derive(Debug, thiserror::Error)]
pub enum ConsistencyError<E: std::error::Error + 'static> {
    /// Loading from the database failed.
    #[error("database read failed: {0}")]
    Load(#[source] E),
    /// Even the database answered a version older than the reader's minimum.
    #[error("the database has version {found}, older than the required {wanted}")]
    TooOld {
        /// The reader's minimum.
        wanted: u64,
        /// What the database answered.
        found: u64,
    },
}

/// Minimum-version reads over a cache of versioned values. See the [module docs](self).
pub struct MinVersionReads<K, V> {
    cache: Cache<K, V>,
    refreshed: AtomicU64,
}

impl<K, V> MinVersionReads<K, V>
where
    K: Hash + Eq + Clone + Send + Sync + 'static,
    V: HasVersion + Clone + Send + Sync + 'static,
{
    /// Reads through `cache`.
    pub fn new(cache: Cache<K, V>) -> Self {
        Self {
            cache,
            refreshed: AtomicU64::new(0),
        }
    }

    /// Reads `key`, accepting a cached value only if its version is at least `min` (no minimum:
    /// any cached value). A cached value too old, or a miss, loads from the database; a loaded
    /// value at least as new as the cached one replaces it.
    pub fn get<E: std::error::Error + 'static>(
        &self,
        key: &K,
        min: Option<MinVersion>,
        load: impl FnOnce(&K) -> Result<Option<V>, E>,
    ) -> Result<Option<V>, ConsistencyError<E>> {
        let wanted = min.map_or(0, |m| m.0);
        let cached = self.cache.get(key);
        if let Some(v) = &cached
            && v.version() >= wanted
        {
            return Ok(cached);
        }
        if cached.is_some() {
            self.refreshed.fetch_add(1, Ordering::Relaxed);
        }
        let loaded = load(key).map_err(ConsistencyError::Load)?;
        let Some(v) = loaded else {
            return Ok(None);
        };
        if v.version() < wanted {
            return Err(ConsistencyError::TooOld {
                wanted,
                found: v.version(),
            });
        }
        let newer = self
            .cache
            .get(key)
            .is_none_or(|c| c.version() <= v.version());
        if newer {
            self.cache.insert(key.clone(), v.clone());
        }
        Ok(Some(v))
    }

    /// Counters so far (`database_reads`: reads whose cached value was too old).
    pub fn stats(&self) -> ConsistencyStats {
        ConsistencyStats {
            database_reads: self.refreshed.load(Ordering::Relaxed),
        }
    }

    /// The cache read.
    pub fn cache(&self) -> &Cache<K, V> {
        &self.cache
    }
}
