//! The concurrent store: shards behind reader-writer locks.
//!
//! A key's hash (computed once per call) picks its shard by bits the shard's own table does not
//! use. A hit takes only the shard's *shared* lock: the policy records it with an atomic store
//! when it can (S3-FIFO, FIFO, Random), and otherwise (exact LRU, LFU) the hit's slot is pushed
//! into a small lossy per-shard buffer that is replayed under the exclusive lock, by the next
//! writer or by the reader that fills it (with `try_write`, never blocking). Writes take the
//! shard's exclusive lock. No lock is ever held while calling user code other than the weigher,
//! and no lock is held across a load in [`Store::get_or_insert_with`].

use crate::clock::{Clock, SystemClock, Timestamp, deadline_after};
use crate::departed::DepartureLog;
use crate::flight::{FlightError, FlightGroup, Role, SharedError};
use crate::hotkeys::{HotKey, HotKeys};
use crate::mrc::SharedMissRatioCurve;
use crate::namespace::{NamespaceStats, Namespaces};
use crate::policy::{PolicyKind, Slot};
use crate::shard::{
    Compute, EntryMut, InsertError, NEVER, Shard, ShardConfig, SharedLookup, VolatileCandidate,
    VolatileRank,
};
use crate::stats::{Departure, Snapshot};
use crate::weigher::{Unit, Weigher};
use parking_lot::{Mutex, RwLock, RwLockWriteGuard};
use std::borrow::Borrow;
use std::cell::Cell;
use std::fmt;
use std::hash::{BuildHasher, Hash};
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

type Hasher = foldhash::fast::RandomState;

const READ_BUFFER: usize = 64;

/// Keys whose bytes can be shown: the namespace and hot-key trackers need them.
///
/// Implemented for strings and byte strings; other key types return `None` and are simply not
/// tracked by namespace or hot-key statistics (implement it for your own key type if you want
/// them).
pub trait KeyBytes {
    /// The key as bytes, if it has a byte form.
    fn key_bytes(&self) -> Option<&[u8]> {
        None
    }
}

impl KeyBytes for str {
    fn key_bytes(&self) -> Option<&[u8]> {
        Some(self.as_bytes())
    }
}
impl KeyBytes for String {
    fn key_bytes(&self) -> Option<&[u8]> {
        Some(self.as_bytes())
    }
}
impl KeyBytes for [u8] {
    fn key_bytes(&self) -> Option<&[u8]> {
        Some(self)
    }
}
impl KeyBytes for Vec<u8> {
    fn key_bytes(&self) -> Option<&[u8]> {
        Some(self)
    }
}
impl KeyBytes for Box<[u8]> {
    fn key_bytes(&self) -> Option<&[u8]> {
        Some(self)
    }
}
impl KeyBytes for Box<str> {
    fn key_bytes(&self) -> Option<&[u8]> {
        Some(self.as_bytes())
    }
}
macro_rules! opaque_keys {
    ($($t:ty),*) => { $(impl KeyBytes for $t {})* };
}
opaque_keys!(
    u8, u16, u32, u64, u128, usize, i8, i16, i32, i64, i128, isize, char, bool
);

/// A lossy buffer of hits waiting to be replayed under the exclusive lock.
struct ReadBuffer {
    slots: [AtomicU32; READ_BUFFER],
    next: AtomicUsize,
}

impl Default for ReadBuffer {
    fn default() -> Self {
        Self {
            slots: std::array::from_fn(|_| AtomicU32::new(0)),
            next: AtomicUsize::new(0),
        }
    }
}

impl ReadBuffer {
    /// Records a hit (called under the shared lock). `true` when the buffer is full and should be
    /// drained; hits beyond the buffer are dropped.
    #[inline]
    fn push(&self, slot: Slot) -> bool {
        let at = self.next.fetch_add(1, Ordering::Relaxed);
        if at < READ_BUFFER {
            self.slots[at].store(slot.wrapping_add(1), Ordering::Relaxed);
        }
        at + 1 >= READ_BUFFER
    }

    /// Replays buffered hits (called under the exclusive lock, so no push runs concurrently).
    fn drain<K: Hash + Eq, V>(&self, shard: &mut Shard<K, V, Hasher>) {
        let n = self.next.load(Ordering::Relaxed).min(READ_BUFFER);
        if n == 0 {
            return;
        }
        for cell in &self.slots[..n] {
            let v = cell.swap(0, Ordering::Relaxed);
            if v != 0 {
                shard.replay_hit(v - 1);
            }
        }
        self.next.store(0, Ordering::Relaxed);
    }
}

struct ShardCell<K, V> {
    shard: RwLock<Shard<K, V, Hasher>>,
    buffer: ReadBuffer,
    flights: FlightGroup<K, V>,
}

/// Hot-key tracking: sampled, bounded, and skipped rather than waited for when contended.
struct HotKeyTracker {
    keys: Mutex<HotKeys<Box<[u8]>>>,
    sample_every: u32,
}

thread_local! {
    static SAMPLE_TICK: Cell<u32> = const { Cell::new(0) };
}

/// Why [`Store::get_or_insert_with`] returned no value.
#[derive(Debug)]
pub enum LoadError<E> {
    /// This caller's loader failed.
    Failed(E),
    /// Another caller's load, which this one waited for, failed with this error.
    FailedElsewhere(SharedError),
    /// The loading caller went away (panicked) without a result.
    Abandoned,
    /// Waiting for another caller's load exceeded the bound.
    TimedOut,
    /// The loaded value could not be stored (it weighs more than the budget); it is not cached.
    Rejected(InsertError),
}

impl<E: fmt::Display> fmt::Display for LoadError<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LoadError::Failed(e) => write!(f, "load failed: {e}"),
            LoadError::FailedElsewhere(_) => f.write_str("the concurrent load of this key failed"),
            LoadError::Abandoned => f.write_str("the concurrent load of this key was abandoned"),
            LoadError::TimedOut => f.write_str("timed out waiting for the concurrent load"),
            LoadError::Rejected(e) => write!(f, "loaded value not cached: {e}"),
        }
    }
}

impl<E: fmt::Debug + fmt::Display> std::error::Error for LoadError<E> {}

/// Builds a [`Store`].
pub struct StoreBuilder<K, V> {
    capacity: u64,
    shards: usize,
    policy: PolicyKind,
    weigher: Arc<dyn Weigher<K, V>>,
    clock: Arc<dyn Clock>,
    namespaces: Option<(u8, usize)>,
    hot_keys: Option<(usize, u64, u32)>,
    miss_ratio_curve: Option<usize>,
    load_timeout: Duration,
    departure_cells: usize,
    seed: u64,
    unit: bool,
    classify: Option<fn(&K) -> usize>,
    record_departures: Option<usize>,
}

impl<K, V> fmt::Debug for StoreBuilder<K, V> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StoreBuilder")
            .field("capacity", &self.capacity)
            .field("shards", &self.shards)
            .field("policy", &self.policy)
            .finish_non_exhaustive()
    }
}

impl<K, V> StoreBuilder<K, V>
where
    K: Hash + Eq + Clone + Send + Sync + 'static,
    V: Clone + Send + Sync + 'static,
{
    /// Shards (rounded up to a power of two, at most 4096). Default: 16 × available cores.
    pub fn shards(mut self, shards: usize) -> Self {
        self.shards = shards;
        self
    }

    /// The eviction policy (default [`PolicyKind::S3FifoAdaptive`]).
    pub fn policy(mut self, policy: PolicyKind) -> Self {
        self.policy = policy;
        self
    }

    /// Count capacity in the weigher's units (e.g. bytes) instead of entries.
    pub fn weigher(mut self, weigher: impl Weigher<K, V> + 'static) -> Self {
        self.weigher = Arc::new(weigher);
        self.unit = false;
        self
    }

    /// The clock (default [`SystemClock`]).
    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// Track hit ratio per namespace: the key prefix before `delimiter`, at most `max` of them.
    pub fn namespaces(mut self, delimiter: u8, max: usize) -> Self {
        self.namespaces = Some((delimiter, max));
        self
    }

    /// Track the `top` hottest keys over a sliding `window`, sampling one lookup in
    /// `sample_every` per thread.
    pub fn hot_keys(mut self, top: usize, window: Duration, sample_every: u32) -> Self {
        let window_ms = u64::try_from(window.as_millis()).unwrap_or(u64::MAX);
        self.hot_keys = Some((top, window_ms, sample_every.max(1)));
        self
    }

    /// Estimate LRU's miss ratio curve online (SHARDS over a fixed-size sample of at most
    /// `max_samples` keys, about 50 bytes each; 8,192 or more recommended — see
    /// [`mrc`](crate::mrc)). Read it with [`Store::miss_ratio_curve`] and
    /// [`Store::predicted_hit_ratio`]. Every lookup remixes its hash and compares it with the
    /// sampling threshold; only sampled lookups do more (see
    /// [`SharedMissRatioCurve`](crate::mrc::SharedMissRatioCurve)).
    pub fn miss_ratio_curve(mut self, max_samples: usize) -> Self {
        self.miss_ratio_curve = Some(max_samples);
        self
    }

    /// How long [`Store::get_or_insert_with`] waits for another caller's load (default 30 s).
    pub fn load_timeout(mut self, timeout: Duration) -> Self {
        self.load_timeout = timeout;
        self
    }

    /// Most cells of the departure memory that attributes misses, over all shards (default
    /// 64 Ki; each shard starts at 1,024 cells and grows with its entries).
    pub fn departure_memory(mut self, cells: usize) -> Self {
        self.departure_cells = cells;
        self
    }

    /// Seed for randomised choices (random eviction, expiry sampling).
    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }

    /// Count live entries per key class (up to [`CLASSES`](crate::shard::CLASSES)), exactly
    /// and cheaply: read with [`Store::class_len`]. The server counts keys per database so.
    pub fn classify(mut self, classify: fn(&K) -> usize) -> Self {
        self.classify = Some(classify);
        self
    }

    /// Record the keys the store removes by itself (expired or evicted), at most `max` between
    /// two [`Store::drain_departures`] (see [`departed`](crate::departed)). Off by default.
    pub fn record_departures(mut self, max: usize) -> Self {
        self.record_departures = Some(max);
        self
    }

    /// Builds the store.
    pub fn build(self) -> Store<K, V> {
        let departure_log = self
            .record_departures
            .map(|max| Arc::new(DepartureLog::new(max)));
        let mut shards = self.shards.clamp(1, 4096).next_power_of_two();
        // Every shard gets a budget of at least 1, so more shards than units of capacity would
        // let the shards together hold more than the capacity.
        while shards > 1 && shards as u64 > self.capacity {
            shards /= 2;
        }
        let hasher = Hasher::default();
        let unit_weights = self.capacity <= u64::from(u32::MAX);
        // Split the budget exactly: the shards' budgets add up to the store's.
        let (base, extra) = (self.capacity / shards as u64, self.capacity % shards as u64);
        let cells = (0..shards)
            .map(|i| {
                let per_shard = (base + u64::from((i as u64) < extra)).max(1);
                let mut config = ShardConfig::entries(per_shard);
                config.policy = self.policy;
                config.weigher = Arc::clone(&self.weigher);
                config.clock = Arc::clone(&self.clock);
                config.departure_cells = (self.departure_cells / shards).max(64);
                config.seed = self.seed.wrapping_add(i as u64);
                config.classify = self.classify;
                config.departure_log = departure_log.clone();
                config.reserve = if unit_weights && self.unit {
                    usize::try_from(per_shard).unwrap_or(0).min(1 << 20)
                } else {
                    0
                };
                ShardCell {
                    shard: RwLock::new(Shard::with_hasher(config, hasher.clone())),
                    buffer: ReadBuffer::default(),
                    flights: FlightGroup::default(),
                }
            })
            .collect();
        Store {
            cells,
            shard_mask: shards as u64 - 1,
            hasher,
            clock: self.clock,
            capacity: AtomicU64::new(self.capacity),
            policy: Mutex::new(self.policy),
            namespaces: self.namespaces.map(|(d, max)| Namespaces::new(d, max)),
            hot_keys: self
                .hot_keys
                .map(|(top, window_ms, sample_every)| HotKeyTracker {
                    keys: Mutex::new(HotKeys::new(top, window_ms)),
                    sample_every,
                }),
            miss_ratio_curve: self.miss_ratio_curve.map(SharedMissRatioCurve::new),
            load_timeout: self.load_timeout,
            departure_log,
        }
    }
}

/// A concurrent, sharded, bounded cache: see the [crate documentation](crate) for its concurrency model and bounds.
pub struct Store<K, V> {
    cells: Box<[ShardCell<K, V>]>,
    shard_mask: u64,
    hasher: Hasher,
    clock: Arc<dyn Clock>,
    capacity: AtomicU64,
    policy: Mutex<PolicyKind>,
    namespaces: Option<Namespaces>,
    hot_keys: Option<HotKeyTracker>,
    miss_ratio_curve: Option<SharedMissRatioCurve>,
    load_timeout: Duration,
    departure_log: Option<Arc<DepartureLog<K>>>,
}

impl<K, V> fmt::Debug for Store<K, V> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Store")
            .field("shards", &self.cells.len())
            .field("capacity", &self.capacity.load(Ordering::Relaxed))
            .field("policy", &*self.policy.lock())
            .finish_non_exhaustive()
    }
}

impl<K, V> Store<K, V>
where
    K: Hash + Eq + Clone + Send + Sync + 'static,
    V: Clone + Send + Sync + 'static,
{
    /// A builder for a store holding at most `capacity` weight units (entries by default).
    pub fn builder(capacity: u64) -> StoreBuilder<K, V> {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        StoreBuilder {
            capacity,
            shards: (cores * 16).min(capacity.div_ceil(32).max(1) as usize),
            policy: PolicyKind::default(),
            weigher: Arc::new(Unit),
            clock: Arc::new(SystemClock),
            namespaces: None,
            hot_keys: None,
            miss_ratio_curve: None,
            load_timeout: Duration::from_secs(30),
            departure_cells: 1 << 16,
            seed: 0x5eed,
            unit: true,
            classify: None,
            record_departures: None,
        }
    }

    /// A store of `capacity` entries with the default policy.
    pub fn new(capacity: u64) -> Self {
        Self::builder(capacity).build()
    }

    /// The key's hash under this store's hasher: the one hash a request computes.
    #[inline]
    pub fn hash<Q: Hash + ?Sized>(&self, key: &Q) -> u64 {
        self.hasher.hash_one(key)
    }

    #[inline]
    fn cell(&self, hash: u64) -> &ShardCell<K, V> {
        // The shard comes from the top bits of the hash times an odd constant, which depend on
        // every bit of the hash: foldhash's fast hash can leave individual middle bits nearly
        // constant over small integer keys under some seeds, which once put a whole keyspace in
        // one shard. (The constant differs from the departure memory's, so that the two stay
        // independent.)
        let mixed = hash.wrapping_mul(0xD6E8_FEB8_6659_FD93);
        &self.cells[((mixed >> 52) & self.shard_mask) as usize]
    }

    /// The exclusive lock of a shard, with buffered hits replayed first.
    #[inline]
    fn write<'c>(&self, cell: &'c ShardCell<K, V>) -> RwLockWriteGuard<'c, Shard<K, V, Hasher>> {
        let mut shard = cell.shard.write();
        cell.buffer.drain(&mut shard);
        shard
    }

    /// Looks `key` up, counting a hit or a miss; a hit takes no exclusive lock.
    pub fn get<Q>(&self, key: &Q) -> Option<V>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + KeyBytes + ?Sized,
    {
        let hash = self.hash(key);
        let value = self.get_hashed(hash, key);
        self.track(key, value.is_some());
        value
    }

    /// [`Store::get`] with the hash from [`Store::hash`], without namespace or hot-key tracking.
    #[inline]
    pub fn get_hashed<Q>(&self, hash: u64, key: &Q) -> Option<V>
    where
        K: Borrow<Q>,
        Q: Eq + ?Sized,
    {
        self.get_with(hash, key, V::clone)
    }

    fn track<Q: KeyBytes + ?Sized>(&self, key: &Q, hit: bool) {
        if self.namespaces.is_none() && self.hot_keys.is_none() {
            return;
        }
        let Some(bytes) = key.key_bytes() else {
            return;
        };
        if let Some(ns) = &self.namespaces {
            ns.record(bytes, hit);
        }
        if let Some(hot) = &self.hot_keys {
            let due = SAMPLE_TICK.with(|tick| {
                let t = tick.get().wrapping_add(1);
                tick.set(t);
                t % hot.sample_every == 0
            });
            if due && let Some(mut keys) = hot.keys.try_lock() {
                keys.record(
                    &Box::<[u8]>::from(bytes),
                    u64::from(hot.sample_every),
                    self.clock.now(),
                );
            }
        }
    }

    /// Whether `key` is resident and live; counts no lookup and records no access.
    pub fn contains<Q>(&self, key: &Q) -> bool
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        let hash = self.hash(key);
        self.cell(hash).shard.read().contains(hash, key)
    }

    /// Reads a live entry without counting a lookup or recording an access.
    pub fn peek<Q>(&self, key: &Q) -> Option<V>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        let hash = self.hash(key);
        self.cell(hash).shard.read().peek(hash, key).cloned()
    }

    /// Stores `key → value` without a TTL, evicting as needed; returns the live value it replaced.
    pub fn insert(&self, key: K, value: V) -> Result<Option<V>, InsertError> {
        self.insert_with_deadline(key, value, NEVER)
    }

    /// Stores `key → value`, expiring `ttl` from now.
    pub fn insert_with_ttl(
        &self,
        key: K,
        value: V,
        ttl: Duration,
    ) -> Result<Option<V>, InsertError> {
        let deadline = deadline_after(self.clock.now(), ttl);
        self.insert_with_deadline(key, value, deadline)
    }

    /// Stores `key → value` expiring at `deadline` on the store's clock ([`NEVER`] for no TTL).
    pub fn insert_with_deadline(
        &self,
        key: K,
        value: V,
        deadline: Timestamp,
    ) -> Result<Option<V>, InsertError> {
        let hash = self.hash(&key);
        let cell = self.cell(hash);
        self.write(cell).insert_hashed(hash, key, value, deadline)
    }

    /// Removes `key`, returning its live value.
    pub fn remove<Q>(&self, key: &Q) -> Option<V>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        let hash = self.hash(key);
        let cell = self.cell(hash);
        self.write(cell).remove_hashed(hash, key)
    }

    /// The remaining time to live of a live entry: `Some(None)` when it has no TTL, `None` when
    /// the key is absent.
    pub fn ttl<Q>(&self, key: &Q) -> Option<Option<Duration>>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        let hash = self.hash(key);
        let deadline = self.cell(hash).shard.read().deadline(hash, key)?;
        Some(
            (deadline != NEVER)
                .then(|| Duration::from_millis(deadline.saturating_sub(self.clock.now()))),
        )
    }

    /// Sets (`Some`) or clears (`None`) the TTL of a live entry; `false` if the key is absent.
    pub fn set_ttl<Q>(&self, key: &Q, ttl: Option<Duration>) -> bool
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        let hash = self.hash(key);
        let deadline = ttl.map_or(NEVER, |t| deadline_after(self.clock.now(), t));
        let cell = self.cell(hash);
        self.write(cell).set_deadline(hash, key, deadline)
    }

    /// Returns the cached value for `key`, or runs `load` to produce it — at most one load per
    /// key at a time across all threads. Callers that find a load in flight wait (up to the
    /// builder's `load_timeout`) and share its outcome; a failed load is not cached and wakes
    /// them with the error.
    pub fn get_or_insert_with<E, F>(&self, key: K, load: F) -> Result<V, LoadError<E>>
    where
        K: KeyBytes,
        E: Send + Sync + Clone + 'static,
        F: FnOnce() -> Result<V, E>,
    {
        if let Some(value) = self.get(&key) {
            return Ok(value);
        }
        let hash = self.hash(&key);
        let cell = self.cell(hash);
        match cell.flights.join(&key) {
            Role::Leader(leader) => {
                // A load that finished between our miss and joining has stored its value.
                if let Some(value) = cell.shard.read().peek(hash, &key).cloned() {
                    leader.complete(Ok(value.clone()));
                    return Ok(value);
                }
                match load() {
                    Ok(value) => {
                        let stored =
                            self.write(cell)
                                .insert_hashed(hash, key, value.clone(), NEVER);
                        leader.complete(Ok(value.clone()));
                        stored.map(|_| value).map_err(LoadError::Rejected)
                    }
                    Err(error) => {
                        leader.complete(Err(Arc::new(error.clone())));
                        Err(LoadError::Failed(error))
                    }
                }
            }
            Role::Follower(flight) => match flight.wait(Some(self.load_timeout)) {
                Ok(value) => Ok(value),
                Err(FlightError::Failed(e)) => Err(LoadError::FailedElsewhere(e)),
                Err(FlightError::Abandoned) => Err(LoadError::Abandoned),
                Err(FlightError::TimedOut) => Err(LoadError::TimedOut),
            },
        }
    }

    /// Resident entries (may include expired entries not reclaimed yet).
    pub fn len(&self) -> usize {
        self.cells.iter().map(|c| c.shard.read().len()).sum()
    }

    /// Whether no entry is resident.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Resident weight.
    pub fn weighted_size(&self) -> u64 {
        self.cells
            .iter()
            .map(|c| c.shard.read().weighted_size())
            .sum()
    }

    /// The budget.
    pub fn capacity(&self) -> u64 {
        self.capacity.load(Ordering::Relaxed)
    }

    /// The eviction policy.
    pub fn policy(&self) -> PolicyKind {
        *self.policy.lock()
    }

    /// Changes the budget at run time, split exactly over the shards as at build time (each
    /// shard keeps at least 1); shards over their new budget evict at once.
    pub fn set_capacity(&self, capacity: u64) {
        self.capacity.store(capacity, Ordering::Relaxed);
        let shards = self.cells.len() as u64;
        let (base, extra) = (capacity / shards, capacity % shards);
        for (i, cell) in self.cells.iter().enumerate() {
            let per_shard = (base + u64::from((i as u64) < extra)).max(1);
            self.write(cell).set_capacity(per_shard);
        }
    }

    /// Switches every shard to another eviction policy, keeping the entries (see
    /// [`Shard::set_policy`]). O(entries), one shard locked at a time.
    pub fn set_policy(&self, policy: PolicyKind) {
        let mut current = self.policy.lock();
        for cell in self.cells.iter() {
            self.write(cell).set_policy(policy);
        }
        *current = policy;
    }

    /// Prefetch for a batch of lookups, first step: asks the processor for the index group of
    /// `hash`, and returns at once. A caller holding several keys (a pipelined batch of
    /// requests) calls this for each of them, then [`Store::prefetch_slot`] for each, then
    /// [`Store::prefetch_value`], then runs the lookups: the cache misses of the batch overlap
    /// instead of following one another. Every step is a hint: it changes nothing, counts
    /// nothing, and is skipped when the shard's lock is taken.
    #[inline]
    pub fn prefetch_index(&self, hash: u64) {
        self.with_free_shard(hash, |shard| shard.prefetch_index(hash));
    }

    /// Prefetch, second step: asks for the likely slot of `hash` (see [`Store::prefetch_index`]).
    #[inline]
    pub fn prefetch_slot(&self, hash: u64) {
        self.with_free_shard(hash, |shard| shard.prefetch_slot(hash));
    }

    /// Prefetch, third step: shows `prefetch` the value in the likely slot of `hash`, for it to
    /// ask for the memory the value points to (see [`Store::prefetch_index`]).
    #[inline]
    pub fn prefetch_value(&self, hash: u64, prefetch: impl FnOnce(&V)) {
        self.with_free_shard(hash, |shard| shard.prefetch_value(hash, prefetch));
    }

    /// Runs `f` on the shard of `hash` under its shared lock, unless the lock is taken (a hint
    /// is not worth waiting for).
    #[inline]
    fn with_free_shard(&self, hash: u64, f: impl FnOnce(&Shard<K, V>)) {
        if let Some(shard) = self.cell(hash).shard.try_read() {
            f(&shard);
        }
    }

    /// Reads a live entry through `read` under the shard's shared lock, counting a hit or a miss
    /// and recording the access like [`Store::get_hashed`], without cloning the value.
    #[inline]
    pub fn get_with<Q, R>(&self, hash: u64, key: &Q, read: impl FnOnce(&V) -> R) -> Option<R>
    where
        K: Borrow<Q>,
        Q: Eq + ?Sized,
    {
        if let Some(mrc) = &self.miss_ratio_curve {
            mrc.record(hash);
        }
        let cell = self.cell(hash);
        let (result, drain, expired) = {
            let shard = cell.shard.read();
            match shard.get_shared(hash, key) {
                SharedLookup::Hit { value, buffer } => {
                    let drain = buffer.is_some_and(|slot| cell.buffer.push(slot));
                    (Some(read(value)), drain, false)
                }
                SharedLookup::Miss(_) => (None, false, false),
                SharedLookup::Expired => (None, false, true),
            }
        };
        if expired {
            self.write(cell).reap_expired(hash, key);
        } else if drain && let Some(mut shard) = cell.shard.try_write() {
            cell.buffer.drain(&mut shard);
        }
        result
    }

    /// Reads a live entry and its deadline ([`NEVER`] for none) through `read`, counting no
    /// lookup and recording no access.
    pub fn peek_with<Q, R>(
        &self,
        hash: u64,
        key: &Q,
        read: impl FnOnce(&V, Timestamp) -> R,
    ) -> Option<R>
    where
        K: Borrow<Q>,
        Q: Eq + ?Sized,
    {
        let shard = self.cell(hash).shard.read();
        let (value, deadline) = shard.peek_entry(hash, key)?;
        Some(read(value, deadline))
    }

    /// The read-modify-write primitive: runs `update` on the live entry of `key` (or on `None`)
    /// under the shard's exclusive lock and applies the [`Compute`] it answers. See
    /// [`Shard::compute`].
    pub fn compute<Q, R>(
        &self,
        hash: u64,
        key: &Q,
        make_key: impl FnOnce(&Q) -> K,
        update: impl FnOnce(Option<EntryMut<'_, V>>) -> (Compute<V>, R),
    ) -> Result<R, InsertError>
    where
        K: Borrow<Q>,
        Q: Eq + ?Sized,
    {
        let cell = self.cell(hash);
        self.write(cell).compute(hash, key, make_key, update)
    }

    /// Resident entries of key class `class` over all shards (see
    /// [`StoreBuilder::classify`]); O(shards).
    pub fn class_len(&self, class: usize) -> usize {
        self.cells
            .iter()
            .map(|c| c.shard.read().class_len(class))
            .sum()
    }

    /// Resident entries of key class `class` that carry a TTL, over all shards; O(shards).
    pub fn class_ttl_len(&self, class: usize) -> usize {
        self.cells
            .iter()
            .map(|c| c.shard.read().class_ttl_len(class))
            .sum()
    }

    /// Evicts one entry **carrying a TTL**, the best by `rank` among about `samples` sampled
    /// per shard (see [`Shard::volatile_candidate`]), and returns its weight; `None` when no
    /// entry has a TTL. Each shard is sampled under its shared lock, then the winner's shard is
    /// locked exclusively to evict it (retried if a writer took it meanwhile). This is how the
    /// server's `volatile-*` policies make room: the store's own policy evicts any entry, so
    /// those run with an unlimited budget and call this instead.
    pub fn evict_volatile(&self, rank: VolatileRank, samples: usize) -> Option<u32> {
        static DRAWS: AtomicU64 = AtomicU64::new(0);
        for _ in 0..4 {
            let draw = self.hash(&(DRAWS.fetch_add(1, Ordering::Relaxed), self.clock.now()));
            let mut best: Option<(usize, VolatileCandidate)> = None;
            for (i, cell) in self.cells.iter().enumerate() {
                let candidate = cell.shard.read().volatile_candidate(
                    samples,
                    rank,
                    draw.wrapping_add(i as u64),
                );
                if let Some(c) = candidate
                    && best.is_none_or(|(_, b)| c.score < b.score)
                {
                    best = Some((i, c));
                }
            }
            let (i, candidate) = best?;
            if let Some(weight) = self.write(&self.cells[i]).evict_candidate(candidate) {
                return Some(weight);
            }
        }
        None
    }

    /// A live key chosen at random among those `accept` takes, or `None`: a random shard
    /// first, then the others in turn.
    pub fn random_key(&self, mut accept: impl FnMut(&K) -> bool) -> Option<K> {
        let n = self.cells.len();
        static DRAWS: AtomicU64 = AtomicU64::new(0);
        let draw = DRAWS.fetch_add(1, Ordering::Relaxed);
        let start = (self.hash(&(draw, self.clock.now())) as usize) % n;
        (0..n).find_map(|i| {
            let cell = &self.cells[(start + i) % n];
            let mut shard = cell.shard.write();
            shard.random_entry(&mut accept).map(|(k, _)| k.clone())
        })
    }

    /// [`Store::scan`] that hands each live entry and its deadline to `visit`: visits about
    /// `count` slots from `cursor` on and returns the cursor to continue from (`0` when done).
    pub fn scan_with(
        &self,
        cursor: u64,
        count: usize,
        mut visit: impl FnMut(&K, &V, Timestamp),
    ) -> u64 {
        let (mut shard, mut slot) = ((cursor >> 32) as usize, cursor as u32);
        let mut budget = count.max(1);
        while shard < self.cells.len() && budget > 0 {
            let before = slot;
            match self.cells[shard]
                .shard
                .read()
                .scan_with(slot, budget, &mut visit)
            {
                Some(next) => {
                    budget = budget.saturating_sub((next - before) as usize);
                    slot = next;
                }
                None => {
                    budget = budget.saturating_sub(1);
                    shard += 1;
                    slot = 0;
                }
            }
        }
        if shard >= self.cells.len() {
            0
        } else {
            ((shard as u64) << 32) | u64::from(slot)
        }
    }

    /// Removes every entry for which `keep` is false, one shard at a time; returns how many
    /// live entries it removed.
    pub fn retain(&self, mut keep: impl FnMut(&K, &V) -> bool) -> usize {
        self.cells
            .iter()
            .map(|cell| self.write(cell).retain(&mut keep))
            .sum()
    }

    /// The access counter of a live entry (see [`Shard::access_count`]).
    pub fn access_count<Q>(&self, hash: u64, key: &Q) -> Option<u8>
    where
        K: Borrow<Q>,
        Q: Eq + ?Sized,
    {
        self.cell(hash).shard.read().access_count(hash, key)
    }

    /// Number of shards.
    pub fn shard_count(&self) -> usize {
        self.cells.len()
    }

    /// Moves the keys recorded since the last call (expired or evicted, oldest first; see
    /// [`StoreBuilder::record_departures`]) into `out`, and returns how many departures were
    /// not recorded because the record was full (0 when none was lost; a consumer that must
    /// see every key should then treat every key as gone). Without a record, does nothing.
    /// Nothing to drain costs one atomic load.
    pub fn drain_departures(&self, out: &mut Vec<(K, Departure)>) -> u64 {
        self.departure_log.as_ref().map_or(0, |log| log.drain(out))
    }

    /// Whether departures wait to be drained (one atomic load).
    pub fn departures_pending(&self) -> bool {
        self.departure_log
            .as_ref()
            .is_some_and(|log| log.is_pending())
    }

    /// Removes every entry.
    pub fn clear(&self) {
        for cell in self.cells.iter() {
            self.write(cell).clear();
        }
    }

    /// One active-expiry cycle, Redis-style: in each shard, sample 20 entries with a TTL and
    /// reclaim the expired ones, repeating while more than a quarter of a sample had expired, up
    /// to `max_samples` samples per shard. Returns the entries reclaimed. Call it periodically
    /// (the server does, every 100 ms); inserts also reclaim a little as they go.
    pub fn expire_cycle(&self, max_samples: usize) -> usize {
        const BATCH: usize = 20;
        let mut reclaimed = 0;
        for cell in self.cells.iter() {
            if cell.shard.read().ttl_entries() == 0 {
                continue;
            }
            let mut shard = self.write(cell);
            let mut sampled = 0;
            while sampled < max_samples {
                let n = shard.expire_sample(BATCH);
                reclaimed += n;
                sampled += BATCH;
                if n * 4 <= BATCH || shard.ttl_entries() == 0 {
                    break;
                }
            }
        }
        reclaimed
    }

    /// Iterates in pages: returns up to roughly `count` live entries from `cursor` on and the
    /// cursor to continue from (`0` when done; start with `0`). Tolerates concurrent writes:
    /// an entry resident for the whole iteration is returned exactly once.
    pub fn scan(&self, cursor: u64, count: usize) -> (Vec<(K, V)>, u64) {
        let mut out = Vec::new();
        let (mut shard, mut slot) = ((cursor >> 32) as usize, cursor as u32);
        while shard < self.cells.len() && out.len() < count.max(1) {
            let budget = count.max(1) - out.len();
            match self.cells[shard].shard.read().scan(slot, budget, &mut out) {
                Some(next) => slot = next,
                None => {
                    shard += 1;
                    slot = 0;
                }
            }
        }
        let next = if shard >= self.cells.len() {
            0
        } else {
            ((shard as u64) << 32) | u64::from(slot)
        };
        (out, next)
    }

    /// Statistics summed over all shards.
    pub fn stats(&self) -> Snapshot {
        let mut s = Snapshot::default();
        for cell in self.cells.iter() {
            cell.shard.read().add_stats(&mut s);
        }
        s.capacity = self.capacity();
        s
    }

    /// Zeroes the counters (and namespace and hot-key figures).
    pub fn reset_stats(&self) {
        for cell in self.cells.iter() {
            cell.shard.read().reset_stats();
        }
        if let Some(ns) = &self.namespaces {
            ns.reset();
        }
        if let Some(hot) = &self.hot_keys {
            hot.keys.lock().clear();
        }
        // The curve is normalised by the lookup count: both restart together.
        if let Some(mrc) = &self.miss_ratio_curve {
            mrc.reset();
        }
    }

    /// Hit ratio per namespace (empty unless enabled in the builder).
    pub fn namespace_stats(&self) -> Vec<NamespaceStats> {
        self.namespaces
            .as_ref()
            .map_or_else(Vec::new, Namespaces::snapshot)
    }

    /// The `n` hottest keys over the sliding window (empty unless enabled in the builder).
    pub fn hot_keys(&self, n: usize) -> Vec<HotKey<Box<[u8]>>> {
        self.hot_keys
            .as_ref()
            .map_or_else(Vec::new, |hot| hot.keys.lock().top(n, self.clock.now()))
    }

    /// The estimated LRU miss ratio curve (empty unless enabled with
    /// [`StoreBuilder::miss_ratio_curve`], or before any lookup): `points` pairs of a cache size
    /// **in entries** and the hit ratio (0 to 1) an LRU cache of that size, filled on every miss,
    /// would have had over the lookups since the store was built or [`Store::reset_stats`], at
    /// sizes evenly spaced up to the estimated number of distinct keys looked up. It is LRU's
    /// curve whatever this store's policy (see [`mrc`](crate::mrc)).
    pub fn miss_ratio_curve(&self, points: usize) -> Vec<(u64, f64)> {
        self.miss_ratio_curve
            .as_ref()
            .map_or_else(Vec::new, |mrc| mrc.curve(self.stats().lookups(), points))
    }

    /// Changes the most keys the miss-ratio-curve sample tracks (nothing unless enabled with
    /// [`StoreBuilder::miss_ratio_curve`]); see
    /// [`MissRatioCurve::set_max_samples`](crate::mrc::MissRatioCurve::set_max_samples).
    pub fn set_miss_ratio_samples(&self, max_samples: usize) {
        if let Some(mrc) = &self.miss_ratio_curve {
            mrc.set_max_samples(max_samples);
        }
    }

    /// Heap bytes held by the miss-ratio-curve sample (0 unless enabled).
    pub fn miss_ratio_curve_bytes(&self) -> usize {
        self.miss_ratio_curve
            .as_ref()
            .map_or(0, SharedMissRatioCurve::heap_bytes)
    }

    /// "With `capacity_multiplier` × the memory, the hit ratio would be X": the estimated LRU
    /// hit ratio (0 to 1) of a cache `capacity_multiplier` times this store's capacity, over the
    /// lookups since the store was built or [`Store::reset_stats`]. `None` unless enabled with
    /// [`StoreBuilder::miss_ratio_curve`], or before any lookup.
    ///
    /// The curve counts entries, so the capacity is converted to entries: divided by the average
    /// weight of the resident entries (`weighted_size / len`; exactly the capacity with the
    /// default unit weigher; for a byte-weighted store it assumes future entries weigh what the
    /// resident ones do, and an empty store counts 1 per entry).
    pub fn predicted_hit_ratio(&self, capacity_multiplier: f64) -> Option<f64> {
        let mrc = self.miss_ratio_curve.as_ref()?;
        let stats = self.stats();
        let lookups = stats.lookups();
        if lookups == 0 {
            return None;
        }
        let average_weight = if stats.entries == 0 || stats.weighted_size == 0 {
            1.0
        } else {
            stats.weighted_size as f64 / stats.entries as f64
        };
        let entries = self.capacity() as f64 / average_weight * capacity_multiplier.max(0.0);
        Some(mrc.hit_ratio_at(lookups, entries.round() as u64))
    }

    /// Heap bytes held by the engine's own structures (not what keys and values own).
    pub fn heap_bytes(&self) -> usize {
        self.cells
            .iter()
            .map(|c| c.shard.read().heap_bytes())
            .sum::<usize>()
            + self.cells.len() * std::mem::size_of::<ShardCell<K, V>>()
    }
}
