//! [`Cache`]: the in-process cache every pattern of this crate builds on.
//!
//! A `Cache<K, V>` is a cheap handle (`Clone`, an `Arc` inside) on a
//! [`larder_engine::Store`] whose values are wrapped in a small record (16 bytes beyond the value):
//! when it was written, how long it took to load (the δ of [XFetch](crate::xfetch)) and, for
//! [`CacheBuilder::time_to_idle`], when it was last read; the deadline is the engine's own. A hit
//! is one shard read lock in the engine and one clone of the value; a miss, a load and a write
//! take the shard's write lock.
//!
//! Expiry, strongest first: the TTL given to [`Cache::insert_with_ttl`], then the cache's
//! [`Expiry`] policy, then [`CacheBuilder::time_to_live`]. Time comes from the injected
//! [`Clock`] (milliseconds), so tests drive it with a [`ManualClock`](larder_engine::ManualClock).

use crate::flight::{FlightGroup, Outcome, Role};
use larder_engine::stats::Misses;
use larder_engine::{
    Clock, Departure, InsertError, NEVER, PolicyKind, Store, SystemClock, Timestamp, Weigher,
};
use std::borrow::Borrow;
use std::fmt;
use std::future::Future;
use std::hash::Hash;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering::Relaxed};
use std::time::{Duration, Instant};

/// Departures kept between two deliveries to the eviction listener; more are counted as dropped.
const LISTENER_BACKLOG: usize = 4096;

/// What a key of a [`Cache`] needs: hashable, comparable, cloneable, shareable across threads.
/// Implemented for every such type.
pub trait CacheKey: Hash + Eq + Clone + Send + Sync + 'static {}
impl<T: Hash + Eq + Clone + Send + Sync + 'static> CacheKey for T {}

/// What a value of a [`Cache`] needs: cloneable (a hit returns a clone; wrap large values in an
/// `Arc`) and shareable across threads. Implemented for every such type.
pub trait CacheValue: Clone + Send + Sync + 'static {}
impl<T: Clone + Send + Sync + 'static> CacheValue for T {}

/// Decides an entry's time to live when it is written (per-entry expiry).
///
/// Consulted on every write that does not carry its own TTL; the answer replaces the cache's
/// [`CacheBuilder::time_to_live`]. `None` means the entry does not expire. Any
/// `Fn(&K, &V) -> Option<Duration>` is an `Expiry`.
pub trait Expiry<K, V>: Send + Sync {
    /// The time to live of `key → value`, written now; `None` for no expiry.
    fn expire_after_write(&self, key: &K, value: &V) -> Option<Duration>;
}

impl<K, V, F> Expiry<K, V> for F
where
    F: Fn(&K, &V) -> Option<Duration> + Send + Sync,
{
    fn expire_after_write(&self, key: &K, value: &V) -> Option<Duration> {
        self(key, value)
    }
}

/// Why an entry left the cache, as told to the eviction listener.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RemovalCause {
    /// Its time to live ran out.
    Expired,
    /// The eviction policy chose it to make room.
    Evicted,
    /// [`Cache::invalidate`] or [`Cache::invalidate_all`] removed it.
    Explicit,
}

/// The eviction listener: called with each departed key and why, outside every lock.
pub type EvictionListener<K> = Arc<dyn Fn(&K, RemovalCause) + Send + Sync>;

/// Why a load through the cache produced no value.
#[derive(Debug, thiserror::Error)]
pub enum LoadError<E> {
    /// The loader failed (this caller's load, or the load it waited for, with the same error).
    #[error("load failed: {0}")]
    Failed(E),
    /// The load this caller waited for failed with an error of another type.
    #[error("the concurrent load of this key failed")]
    FailedElsewhere,
    /// The loading caller went away (panicked or was cancelled) without a result, twice.
    #[error("the concurrent load of this key was abandoned")]
    Abandoned,
    /// Waiting for another caller's load exceeded [`CacheBuilder::load_timeout`].
    #[error("timed out waiting for the concurrent load of this key")]
    TimedOut,
}

/// A cached value with its bookkeeping, as returned by [`Cache::get_entry`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CachedEntry<V> {
    /// The value.
    pub value: V,
    /// When it was written, on the cache's clock (ms).
    pub written_at: Timestamp,
    /// When it expires on the cache's clock (ms), if it does.
    pub expires_at: Option<Timestamp>,
    /// How long the load that produced it took (zero for plain inserts).
    pub load_time: Duration,
}

/// Cache statistics: lookups, misses by reason, loads and departures.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct CacheStats {
    /// Lookups that returned a value.
    pub hits: u64,
    /// Lookups that returned none, by reason (idle entries count as expired).
    pub misses: Misses,
    /// Loads that succeeded.
    pub loads: u64,
    /// Loads that failed.
    pub load_failures: u64,
    /// Total time spent in loads (successful or not).
    pub load_time: Duration,
    /// Entries evicted for room.
    pub evictions: u64,
    /// Entries that expired.
    pub expirations: u64,
    /// Entries resident now.
    pub entries: u64,
    /// Weight resident now (entries, or the weigher's units).
    pub weighted_size: u64,
    /// Departures not told to the eviction listener because its backlog was full.
    pub listener_dropped: u64,
}

impl CacheStats {
    /// `hits + misses`.
    pub fn lookups(&self) -> u64 {
        self.hits + self.misses.total()
    }

    /// Hits over lookups, `0.0..=1.0` (0 without lookups).
    pub fn hit_ratio(&self) -> f64 {
        self.hits as f64 / self.lookups().max(1) as f64
    }

    /// Mean time of a load (zero without loads).
    pub fn average_load_time(&self) -> Duration {
        match self.loads + self.load_failures {
            0 => Duration::ZERO,
            n => self.load_time / u32::try_from(n).unwrap_or(u32::MAX),
        }
    }
}

/// The record the store keeps per key: kept small (24 bytes beyond the value), since every
/// byte of it is a byte of every resident entry. The deadline lives in the engine's slot.
pub(crate) struct Slot<V> {
    pub(crate) value: V,
    pub(crate) written_at: Timestamp,
    /// Load time in microseconds (saturating).
    pub(crate) load_us: u32,
    /// Milliseconds after `written_at` of the last read, for time-to-idle (saturating).
    read_after: AtomicU32,
}

impl<V: Clone> Clone for Slot<V> {
    fn clone(&self) -> Self {
        Self {
            value: self.value.clone(),
            written_at: self.written_at,
            load_us: self.load_us,
            read_after: AtomicU32::new(self.read_after.load(Relaxed)),
        }
    }
}

impl<V: Clone> Slot<V> {
    fn entry(&self, deadline: Timestamp) -> CachedEntry<V> {
        CachedEntry {
            value: self.value.clone(),
            written_at: self.written_at,
            expires_at: (deadline != NEVER).then_some(deadline),
            load_time: Duration::from_micros(u64::from(self.load_us)),
        }
    }

    /// When it was last read (or written).
    fn last_read(&self) -> Timestamp {
        self.written_at + u64::from(self.read_after.load(Relaxed))
    }

    /// Records a read at `now`; a store only when the millisecond changed.
    fn touch(&self, now: Timestamp) {
        let after = u32::try_from(now.saturating_sub(self.written_at)).unwrap_or(u32::MAX);
        if self.read_after.load(Relaxed) != after {
            self.read_after.store(after, Relaxed);
        }
    }
}

struct SlotWeigher<K, V>(Arc<dyn Weigher<K, V>>);

impl<K, V> Weigher<K, Slot<V>> for SlotWeigher<K, V> {
    fn weigh(&self, key: &K, slot: &Slot<V>) -> u32 {
        self.0.weigh(key, &slot.value)
    }
}

pub(crate) struct Inner<K, V> {
    pub(crate) store: Store<K, Slot<V>>,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) flights: FlightGroup<K, V>,
    ttl: Option<Duration>,
    tti_ms: Option<u64>,
    expiry: Option<Arc<dyn Expiry<K, V>>>,
    listener: Option<EvictionListener<K>>,
    load_timeout: Duration,
    loads: AtomicU64,
    load_failures: AtomicU64,
    load_nanos: AtomicU64,
    idle_misses: AtomicU64,
    listener_dropped: AtomicU64,
}

/// A concurrent in-process cache over larder-engine; see the [module docs](self).
///
/// `Clone` shares the same cache. `Send + Sync` when `K` and `V` are.
///
/// ```
/// use larder::{Cache, ManualClock, RemovalCause};
/// use std::sync::{Arc, Mutex};
/// use std::time::Duration;
///
/// let clock = Arc::new(ManualClock::new(0));
/// let gone = Arc::new(Mutex::new(Vec::new()));
/// let heard = gone.clone();
/// let cache: Cache<String, u64> = Cache::builder()
///     .max_capacity(1_000)
///     .time_to_live(Duration::from_secs(60))
///     .expiry(|k: &String, _: &u64| k.starts_with("tmp:").then_some(Duration::from_secs(1)))
///     .clock(clock.clone())
///     .eviction_listener(move |k: &String, cause| heard.lock().unwrap().push((k.clone(), cause)))
///     .build();
///
/// assert_eq!(cache.get_or_insert_with("answer".into(), || 42), 42);
/// assert_eq!(cache.get_or_insert_with("answer".into(), || unreachable!()), 42);
/// cache.insert("tmp:x".into(), 1);
/// clock.advance(Duration::from_secs(2));
/// assert_eq!(cache.get("tmp:x"), None);
/// assert_eq!(cache.get("answer"), Some(42));
/// assert_eq!(gone.lock().unwrap()[0], ("tmp:x".to_string(), RemovalCause::Expired));
/// let stats = cache.stats();
/// assert_eq!((stats.hits, stats.misses.total(), stats.loads), (2, 2, 1));
/// ```
pub struct Cache<K, V> {
    pub(crate) inner: Arc<Inner<K, V>>,
}

impl<K, V> Clone for Cache<K, V> {
    fn clone(&self) -> Self {
        Self {
            inner: Arc::clone(&self.inner),
        }
    }
}

impl<K, V> fmt::Debug for Cache<K, V> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Cache")
            .field("ttl", &self.inner.ttl)
            .field("tti_ms", &self.inner.tti_ms)
            .finish_non_exhaustive()
    }
}

/// Builds a [`Cache`]; start with [`Cache::builder`].
pub struct CacheBuilder<K, V> {
    capacity: u64,
    weigher: Option<Arc<dyn Weigher<K, V>>>,
    policy: PolicyKind,
    shards: Option<usize>,
    ttl: Option<Duration>,
    tti: Option<Duration>,
    expiry: Option<Arc<dyn Expiry<K, V>>>,
    clock: Arc<dyn Clock>,
    listener: Option<EvictionListener<K>>,
    load_timeout: Duration,
}

impl<K, V> fmt::Debug for CacheBuilder<K, V> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CacheBuilder")
            .field("capacity", &self.capacity)
            .field("policy", &self.policy)
            .field("ttl", &self.ttl)
            .field("tti", &self.tti)
            .finish_non_exhaustive()
    }
}

impl<K, V> CacheBuilder<K, V>
where
    K: Hash + Eq + Clone + Send + Sync + 'static,
    V: Clone + Send + Sync + 'static,
{
    /// Hold at most `entries` entries (the default is 10,000). Replaces a weigher.
    pub fn max_capacity(mut self, entries: u64) -> Self {
        self.capacity = entries;
        self.weigher = None;
        self
    }

    /// Weigh entries with `weigher` (e.g. bytes) and hold at most `max_weight` of them.
    pub fn weigher(
        mut self,
        max_weight: u64,
        weigher: impl Fn(&K, &V) -> u32 + Send + Sync + 'static,
    ) -> Self {
        self.capacity = max_weight;
        self.weigher = Some(Arc::new(weigher));
        self
    }

    /// The eviction policy (default: the engine's, adaptive S3-FIFO).
    pub fn eviction_policy(mut self, policy: PolicyKind) -> Self {
        self.policy = policy;
        self
    }

    /// Shards of the engine (default: the engine's choice, 16 per core).
    pub fn shards(mut self, shards: usize) -> Self {
        self.shards = Some(shards);
        self
    }

    /// Every entry expires `ttl` after it was written, unless an [`Expiry`] or an explicit TTL
    /// says otherwise.
    pub fn time_to_live(mut self, ttl: Duration) -> Self {
        self.ttl = Some(ttl);
        self
    }

    /// An entry not read for `tti` counts as absent. Costs a clock read per hit and a relaxed
    /// store when the millisecond changed. Idle entries are not removed at once: they are
    /// reclaimed by eviction, by their TTL, or replaced by the next write.
    pub fn time_to_idle(mut self, tti: Duration) -> Self {
        self.tti = Some(tti);
        self
    }

    /// Per-entry time to live, decided at each write (see [`Expiry`]).
    pub fn expiry(mut self, expiry: impl Expiry<K, V> + 'static) -> Self {
        self.expiry = Some(Arc::new(expiry));
        self
    }

    /// The clock (default: [`SystemClock`]); tests pass a [`ManualClock`](larder_engine::ManualClock).
    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// Called with every key that expires, is evicted or is invalidated. Evictions and
    /// expirations are delivered by the next write or miss on the cache (or
    /// [`Cache::run_pending_tasks`]), at most 4,096 between two deliveries.
    pub fn eviction_listener(
        mut self,
        listener: impl Fn(&K, RemovalCause) + Send + Sync + 'static,
    ) -> Self {
        self.listener = Some(Arc::new(listener));
        self
    }

    /// How long a caller waits for another caller's load of the same key (default 30 s).
    pub fn load_timeout(mut self, timeout: Duration) -> Self {
        self.load_timeout = timeout;
        self
    }

    /// Builds the cache.
    pub fn build(self) -> Cache<K, V> {
        let mut store = Store::builder(self.capacity.max(1))
            .policy(self.policy)
            .clock(Arc::clone(&self.clock));
        if let Some(shards) = self.shards {
            store = store.shards(shards);
        }
        if let Some(weigher) = self.weigher {
            store = store.weigher(SlotWeigher(weigher));
        }
        if self.listener.is_some() {
            store = store.record_departures(LISTENER_BACKLOG);
        }
        Cache {
            inner: Arc::new(Inner {
                store: store.build(),
                clock: self.clock,
                flights: FlightGroup::default(),
                ttl: self.ttl,
                tti_ms: self
                    .tti
                    .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX).max(1)),
                expiry: self.expiry,
                listener: self.listener,
                load_timeout: self.load_timeout,
                loads: AtomicU64::new(0),
                load_failures: AtomicU64::new(0),
                load_nanos: AtomicU64::new(0),
                idle_misses: AtomicU64::new(0),
                listener_dropped: AtomicU64::new(0),
            }),
        }
    }
}

impl<K, V> Cache<K, V>
where
    K: Hash + Eq + Clone + Send + Sync + 'static,
    V: Clone + Send + Sync + 'static,
{
    /// A builder: 10,000 entries, the engine's default policy, no expiry, the system clock.
    pub fn builder() -> CacheBuilder<K, V> {
        CacheBuilder {
            capacity: 10_000,
            weigher: None,
            policy: PolicyKind::default(),
            shards: None,
            ttl: None,
            tti: None,
            expiry: None,
            clock: Arc::new(SystemClock),
            listener: None,
            load_timeout: Duration::from_secs(30),
        }
    }

    /// A cache of at most `max_capacity` entries with the defaults.
    pub fn new(max_capacity: u64) -> Self {
        Self::builder().max_capacity(max_capacity).build()
    }

    /// The value of `key`, if cached and live; counts a hit or a miss.
    #[inline]
    pub fn get<Q>(&self, key: &Q) -> Option<V>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        self.read(key, |slot| slot.value.clone())
    }

    /// The value of `key` with its bookkeeping (write time, deadline, load time); counts a hit
    /// or a miss like [`Cache::get`]. Two lookups: the deadline is read just after the value, so
    /// a write in between may pair the value with its successor's (later) deadline.
    pub fn get_entry<Q>(&self, key: &Q) -> Option<CachedEntry<V>>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        let written_at = self.read(key, |slot| slot.written_at)?;
        self.peek_slot(key, |slot, deadline| {
            (slot.written_at >= written_at).then(|| slot.entry(deadline))
        })
        .flatten()
    }

    /// Reads a live, non-idle slot through `f`, counting the lookup.
    #[inline]
    pub(crate) fn read<Q, R>(&self, key: &Q, f: impl FnOnce(&Slot<V>) -> R) -> Option<R>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        let inner = &*self.inner;
        let hash = inner.store.hash(key);
        // One call site of the engine's read, so that it inlines here.
        let idle_check = inner.tti_ms.map(|tti| (tti, inner.clock.now()));
        let read = inner.store.get_with(hash, key, |slot| {
            if let Some((tti, now)) = idle_check {
                if now.saturating_sub(slot.last_read()) >= tti {
                    return None;
                }
                slot.touch(now);
            }
            Some(f(slot))
        });
        match read {
            Some(Some(found)) => return Some(found),
            Some(None) => {
                inner.idle_misses.fetch_add(1, Relaxed);
            }
            None => {}
        }
        self.deliver_departures();
        None
    }

    /// Whether `key` is cached and live; counts no lookup.
    pub fn contains_key<Q>(&self, key: &Q) -> bool
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        self.peek_slot(key, |slot, _| self.is_idle(slot))
            .is_some_and(|idle| !idle)
    }

    /// Reads a live slot and its deadline ([`NEVER`] for none) through `f`, without counting a
    /// lookup or an access.
    pub(crate) fn peek_slot<Q, R>(
        &self,
        key: &Q,
        f: impl FnOnce(&Slot<V>, Timestamp) -> R,
    ) -> Option<R>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        let hash = self.inner.store.hash(key);
        self.inner.store.peek_with(hash, key, f)
    }

    fn is_idle(&self, slot: &Slot<V>) -> bool {
        self.inner
            .tti_ms
            .is_some_and(|tti| self.inner.clock.now().saturating_sub(slot.last_read()) >= tti)
    }

    /// Stores `key → value` with the cache's expiry; evicts as needed. A value heavier than a
    /// shard's budget is not stored (and any older value of the key stays).
    pub fn insert(&self, key: K, value: V) {
        let _ = self.try_insert(key, value, None, Duration::ZERO);
    }

    /// Stores `key → value` expiring `ttl` from now, whatever the cache's expiry says.
    pub fn insert_with_ttl(&self, key: K, value: V, ttl: Duration) {
        let _ = self.try_insert(key, value, Some(Some(ttl)), Duration::ZERO);
    }

    /// Stores a value that took `load_time` to compute (for refresh-ahead and XFetch's δ), with
    /// the cache's expiry.
    pub fn insert_loaded(&self, key: K, value: V, load_time: Duration) {
        let _ = self.try_insert(key, value, None, load_time);
    }

    /// The write path: `ttl` is `None` for the cache's expiry, `Some(None)` for no expiry.
    pub(crate) fn try_insert(
        &self,
        key: K,
        value: V,
        ttl: Option<Option<Duration>>,
        load_time: Duration,
    ) -> Result<(), InsertError> {
        let inner = &*self.inner;
        let now = inner.clock.now();
        let ttl = match ttl {
            Some(explicit) => explicit,
            None => match &inner.expiry {
                Some(expiry) => expiry.expire_after_write(&key, &value),
                None => inner.ttl,
            },
        };
        let expires_at = ttl.map_or(NEVER, |ttl| {
            let ms = u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX);
            now.saturating_add(ms.max(1))
        });
        let slot = Slot {
            value,
            written_at: now,
            load_us: u32::try_from(load_time.as_micros()).unwrap_or(u32::MAX),
            read_after: AtomicU32::new(0),
        };
        let result = inner.store.insert_with_deadline(key, slot, expires_at);
        self.deliver_departures();
        result.map(|_| ())
    }

    /// Removes `key`, returning its live value; tells the listener.
    pub fn invalidate<Q>(&self, key: &Q) -> Option<V>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ToOwned<Owned = K> + ?Sized,
    {
        let inner = &*self.inner;
        let removed = inner.store.remove(key).map(|slot| slot.value);
        if removed.is_some()
            && let Some(listener) = &inner.listener
        {
            listener(&key.to_owned(), RemovalCause::Explicit);
        }
        self.deliver_departures();
        removed
    }

    /// Removes every entry; tells the listener about each.
    pub fn invalidate_all(&self) {
        let inner = &*self.inner;
        match &inner.listener {
            None => inner.store.clear(),
            Some(listener) => {
                let mut keys = Vec::new();
                inner.store.retain(|k, _| {
                    keys.push(k.clone());
                    false
                });
                for k in &keys {
                    listener(k, RemovalCause::Explicit);
                }
            }
        }
        self.deliver_departures();
    }

    /// The cached value of `key`, or `init()`'s, cached — one `init` per key at a time across
    /// threads (single flight): concurrent callers wait for it and share its value. If the
    /// loading caller panicked or the wait timed out, this caller runs its own `init`.
    pub fn get_or_insert_with(&self, key: K, init: impl FnOnce() -> V) -> V {
        if let Some(value) = self.get(&key) {
            return value;
        }
        match self.inner.flights.join(&key) {
            Role::Leader(leader) => {
                match self.lead(key, leader, || Ok::<V, std::convert::Infallible>(init())) {
                    Ok(value) => value,
                    Err(LoadError::Failed(never)) => match never {},
                    // `lead` fails only with the loader's error.
                    Err(_) => unreachable_lead(),
                }
            }
            Role::Follower(flight) => match flight.wait(self.inner.load_timeout) {
                Outcome::Value(value) => value,
                _ => {
                    let timer = self.start_load();
                    let value = init();
                    let took = self.record_load(&timer, true);
                    let _ = self.try_insert(key, value.clone(), None, took);
                    value
                }
            },
        }
    }

    /// [`Cache::get_or_insert_with`] with a fallible `load`: its error is returned to this caller
    /// and to every caller waiting on the same load, and nothing is cached.
    pub fn try_get_or_insert_with<E>(
        &self,
        key: K,
        load: impl FnOnce() -> Result<V, E>,
    ) -> Result<V, LoadError<E>>
    where
        E: Clone + Send + Sync + 'static,
    {
        if let Some(value) = self.get(&key) {
            return Ok(value);
        }
        self.load_blocking(key, load)
    }

    /// The miss path of the blocking loads: join the flight, lead or follow.
    pub(crate) fn load_blocking<E>(
        &self,
        key: K,
        load: impl FnOnce() -> Result<V, E>,
    ) -> Result<V, LoadError<E>>
    where
        E: Clone + Send + Sync + 'static,
    {
        let mut load = Some(load);
        // One retry if the leader we followed went away.
        for _ in 0..2 {
            match self.inner.flights.join(&key) {
                Role::Leader(leader) => {
                    if let Some(load) = load.take() {
                        return self.lead(key, leader, load);
                    }
                    break;
                }
                Role::Follower(flight) => match flight.wait(self.inner.load_timeout) {
                    Outcome::Value(value) => return Ok(value),
                    Outcome::Failed(e) => return Err(shared_error(e)),
                    Outcome::TimedOut => return Err(LoadError::TimedOut),
                    Outcome::Abandoned => continue,
                },
            }
        }
        Err(LoadError::Abandoned)
    }

    /// Runs `load` as the flight's leader (unless a value arrived meanwhile), caches and
    /// publishes the outcome.
    pub(crate) fn lead<E>(
        &self,
        key: K,
        leader: crate::flight::Leader<'_, K, V>,
        load: impl FnOnce() -> Result<V, E>,
    ) -> Result<V, LoadError<E>>
    where
        E: Clone + Send + Sync + 'static,
    {
        // A load that finished between our miss and joining has stored its value.
        if let Some(value) = self.peek_live(&key) {
            leader.complete(Outcome::Value(value.clone()));
            return Ok(value);
        }
        let timer = self.start_load();
        let result = load();
        self.finish_load(key, result, timer, leader)
    }

    /// The async form of [`Cache::try_get_or_insert_with`]: the load is a future; waiting callers
    /// await (no thread is blocked, no lock is held across `.await`). If the loading future is
    /// dropped, the waiters take over.
    pub async fn try_get_or_insert_with_async<E, F, Fut>(
        &self,
        key: K,
        load: F,
    ) -> Result<V, LoadError<E>>
    where
        E: Clone + Send + Sync + 'static,
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<V, E>>,
    {
        if let Some(value) = self.get(&key) {
            return Ok(value);
        }
        self.load_future(key, load, Wait::Async).await
    }

    /// The miss path as a future whose followers wait as `wait` says: [`Wait::Blocking`] lets
    /// a blocking caller drive it with [`crate::block::block_on`] (no runtime needed).
    pub(crate) async fn load_future<E, F, Fut>(
        &self,
        key: K,
        load: F,
        wait: Wait,
    ) -> Result<V, LoadError<E>>
    where
        E: Clone + Send + Sync + 'static,
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<V, E>>,
    {
        let mut load = Some(load);
        for _ in 0..2 {
            let follower = match self.inner.flights.join(&key) {
                Role::Leader(leader) => {
                    if let Some(value) = self.peek_live(&key) {
                        leader.complete(Outcome::Value(value.clone()));
                        return Ok(value);
                    }
                    let Some(load) = load.take() else {
                        break;
                    };
                    let timer = self.start_load();
                    let result = load().await;
                    return self.finish_load(key, result, timer, leader);
                }
                Role::Follower(flight) => flight,
            };
            match wait.wait(&follower, self.inner.load_timeout).await {
                Outcome::Value(value) => return Ok(value),
                Outcome::Failed(e) => return Err(shared_error(e)),
                Outcome::TimedOut => return Err(LoadError::TimedOut),
                Outcome::Abandoned => continue,
            }
        }
        Err(LoadError::Abandoned)
    }

    /// The load timeout.
    pub(crate) fn load_timeout(&self) -> Duration {
        self.inner.load_timeout
    }

    /// A live, non-idle value without counting a lookup.
    pub(crate) fn peek_live<Q>(&self, key: &Q) -> Option<V>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        self.peek_slot(key, |slot, _| {
            (!self.is_idle(slot)).then(|| slot.value.clone())
        })
        .flatten()
    }

    pub(crate) fn start_load(&self) -> LoadTimer {
        LoadTimer {
            started: Instant::now(),
            clock_start: self.inner.clock.now(),
        }
    }

    /// Records a finished load, caches its value and completes the flight.
    pub(crate) fn finish_load<E>(
        &self,
        key: K,
        result: Result<V, E>,
        timer: LoadTimer,
        leader: crate::flight::Leader<'_, K, V>,
    ) -> Result<V, LoadError<E>>
    where
        E: Clone + Send + Sync + 'static,
    {
        let took = self.record_load(&timer, result.is_ok());
        match result {
            Ok(value) => {
                // A value too heavy to cache is still returned, just not kept.
                let _ = self.try_insert(key, value.clone(), None, took);
                leader.complete(Outcome::Value(value.clone()));
                Ok(value)
            }
            Err(error) => {
                leader.complete(Outcome::Failed(Arc::new(error.clone())));
                Err(LoadError::Failed(error))
            }
        }
    }

    /// Counts a load; returns its duration (the larger of real time and the cache clock's,
    /// so that tests on a manual clock control δ).
    pub(crate) fn record_load(&self, timer: &LoadTimer, ok: bool) -> Duration {
        let real = timer.started.elapsed();
        let on_clock =
            Duration::from_millis(self.inner.clock.now().saturating_sub(timer.clock_start));
        let inner = &*self.inner;
        if ok {
            inner.loads.fetch_add(1, Relaxed);
        } else {
            inner.load_failures.fetch_add(1, Relaxed);
        }
        inner
            .load_nanos
            .fetch_add(u64::try_from(real.as_nanos()).unwrap_or(u64::MAX), Relaxed);
        real.max(on_clock)
    }

    /// Statistics now.
    pub fn stats(&self) -> CacheStats {
        let inner = &*self.inner;
        let s = inner.store.stats();
        let idle = inner.idle_misses.load(Relaxed);
        let mut misses = s.misses;
        misses.expired += idle;
        CacheStats {
            hits: s.hits.saturating_sub(idle),
            misses,
            loads: inner.loads.load(Relaxed),
            load_failures: inner.load_failures.load(Relaxed),
            load_time: Duration::from_nanos(inner.load_nanos.load(Relaxed)),
            evictions: s.evictions,
            expirations: s.expirations,
            entries: s.entries,
            weighted_size: s.weighted_size,
            listener_dropped: inner.listener_dropped.load(Relaxed),
        }
    }

    /// Resident entries (may include expired or idle ones not reclaimed yet).
    pub fn entry_count(&self) -> u64 {
        self.inner.store.len() as u64
    }

    /// Resident weight (entries, or the weigher's units).
    pub fn weighted_size(&self) -> u64 {
        self.inner.store.weighted_size()
    }

    /// The cache's clock.
    pub fn clock(&self) -> &Arc<dyn Clock> {
        &self.inner.clock
    }

    /// The cache-wide time to live, if any.
    pub fn time_to_live(&self) -> Option<Duration> {
        self.inner.ttl
    }

    /// Reclaims expired entries (one active-expiry cycle) and delivers pending departures to the
    /// eviction listener. Optional: reads and writes do both lazily.
    pub fn run_pending_tasks(&self) {
        self.inner.store.expire_cycle(1_000);
        self.deliver_departures();
    }

    /// Whether a load of `key` is in flight now.
    pub fn is_loading(&self, key: &K) -> bool {
        self.inner.flights.is_loading(key)
    }

    /// Callers waiting on the load of `key` now (not counting the one loading).
    pub fn waiters(&self, key: &K) -> usize {
        self.inner.flights.waiters(key)
    }

    /// Loads in flight now.
    pub fn loads_in_flight(&self) -> usize {
        self.inner.flights.in_flight()
    }

    fn deliver_departures(&self) {
        let inner = &*self.inner;
        let Some(listener) = &inner.listener else {
            return;
        };
        if !inner.store.departures_pending() {
            return;
        }
        let mut departed = Vec::new();
        let lost = inner.store.drain_departures(&mut departed);
        inner.listener_dropped.fetch_add(lost, Relaxed);
        for (key, cause) in &departed {
            let cause = match cause {
                Departure::Expired => RemovalCause::Expired,
                Departure::Evicted => RemovalCause::Evicted,
                Departure::Removed => RemovalCause::Explicit,
            };
            listener(key, cause);
        }
    }
}

/// How a follower waits for a flight inside a load future.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Wait {
    /// On the condition variable (the future is driven by a blocking caller).
    Blocking,
    /// On the async notification (the future runs on a runtime with a timer).
    Async,
}

impl Wait {
    pub(crate) async fn wait<V: Clone>(
        self,
        follower: &crate::flight::Follower<V>,
        timeout: Duration,
    ) -> Outcome<V> {
        match self {
            Wait::Blocking => follower.wait(timeout),
            Wait::Async => follower.wait_async(timeout).await,
        }
    }
}

/// Wall and clock time at the start of a load.
pub(crate) struct LoadTimer {
    started: Instant,
    clock_start: Timestamp,
}

#[cold]
fn unreachable_lead() -> ! {
    unreachable!("an infallible leader cannot fail")
}

pub(crate) fn shared_error<E: Clone + 'static>(e: crate::flight::Shared) -> LoadError<E> {
    match e.downcast_ref::<E>() {
        Some(e) => LoadError::Failed(e.clone()),
        None => LoadError::FailedElsewhere,
    }
}
