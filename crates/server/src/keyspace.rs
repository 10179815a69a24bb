//! The keyspace: Redis's numbered databases over one engine [`Store`].
//!
//! Every key is stored once, prefixed by one byte naming its *physical* database. A client's
//! `SELECT`ed number is mapped to a physical one through a table, so `SWAPDB` swaps two entries
//! of the table in O(1). The engine counts live keys per physical database exactly (its key
//! classes), which gives `DBSIZE` and `INFO keyspace` in O(shards).
//!
//! Memory: each entry weighs the heap bytes of its key (none for a key stored inline, see
//! [`Key`]) and of its value plus [`ENTRY_OVERHEAD`], the engine's per-entry cost for this
//! layout; `maxmemory` becomes the engine's byte budget, so
//! the engine's eviction policy is the server's eviction policy. That budget is then
//! reconciled with the allocator ([`Keyspace::reconcile`]) so that the whole process, not just
//! the weighed data, stays within `maxmemory`. The `volatile-*` policies evict only keys with
//! a TTL: the engine then has no limit of its own, and a write first makes room with
//! [`Keyspace::make_room`], sampling keys with a TTL; `noeviction` refuses writes instead.
//!
//! Reads also feed the operator's views: hit ratio per namespace (the key prefix before `:`),
//! the hot keys (sampled one read in [`HOT_KEY_SAMPLE_EVERY`], top-k over a sliding minute, on
//! the client's key without its database byte) and the engine's miss-ratio curve.

use crate::value::Value;
use larder_engine::hotkeys::{HotKey, HotKeys};
use larder_engine::namespace::Namespaces;
use larder_engine::{
    Clock, Compute, Departure, EntryMut, InsertError, PolicyKind, Store, SystemClock, Timestamp,
    VolatileRank,
};
use parking_lot::Mutex;
use smallvec::SmallVec;
use std::cell::Cell;
use std::ops::Range;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU8, AtomicU32, AtomicU64, Ordering};

/// Databases, as Redis's default `databases 16`.
pub const DATABASES: usize = 16;

/// Bytes charged per entry beyond its key's and value's heap bytes: the engine slot (48 bytes
/// with a [`Key`] of 24 and a [`Value`] of 16), index and policy metadata, as a round figure
/// (see `docs/benchmarks.md`, "Memory per key").
pub const ENTRY_OVERHEAD: usize = 64;

/// The budget used when `maxmemory` is 0 (no limit).
pub const UNLIMITED: u64 = 1 << 48;

/// Keys sampled by the engine's online miss-ratio curve (about 50 bytes each) without a
/// `maxmemory`, or with one of at least 28 MB: enough for a curve within a few points of exact
/// LRU (see `docs/mrc.md`).
pub const MRC_SAMPLES: usize = 8192;

/// The fewest keys the miss-ratio curve samples, whatever the `maxmemory`.
pub const MRC_SAMPLES_MIN: usize = 1024;

/// The share of `maxmemory` the miss-ratio curve's sample may take (1/64).
const MRC_SHARE: u64 = 64;

/// Heap bytes per sampled key of the miss-ratio curve, table, heap and tree together
/// (`docs/mrc.md`: 53 bytes at 8,192 samples).
const MRC_BYTES_PER_SAMPLE: u64 = 53;

/// Keys the miss-ratio curve samples under `maxmemory` (0: none): [`MRC_SAMPLES`], or as many
/// as 1/64 of `maxmemory` pays for at about 53 bytes a key, but at least [`MRC_SAMPLES_MIN`].
/// A cache of a few megabytes would otherwise spend a tenth of them on the estimate (0.43 MB
/// for 8,192 keys); with fewer keys the curve's spread is wider (`docs/mrc.md`).
pub fn mrc_samples(maxmemory: u64) -> usize {
    if maxmemory == 0 {
        return MRC_SAMPLES;
    }
    let affordable =
        usize::try_from(maxmemory / MRC_SHARE / MRC_BYTES_PER_SAMPLE).unwrap_or(usize::MAX);
    affordable.clamp(MRC_SAMPLES_MIN, MRC_SAMPLES)
}

/// Most keys the engine records as expired or evicted between two drains
/// ([`Keyspace::drain_departures`]); beyond that they are counted as lost.
pub const DEPARTURE_RECORD: usize = 1 << 16;

/// One read in this many is recorded by the hot-key tracker (with this weight).
pub const HOT_KEY_SAMPLE_EVERY: u32 = 8;

/// The hot-key tracker's sliding window.
pub const HOT_KEY_WINDOW_MS: u64 = 60_000;

/// Most requests of a pipelined batch that [`Keyspace::prefetch`] is given at once.
pub const PREFETCH_BATCH: usize = 32;

/// Runs `each` on every item, in order, having `prefetch` first ask for the entries of each
/// chunk of [`PREFETCH_BATCH`] items: a command that names many fields or members of one
/// collection (`HMGET`, `SMISMEMBER`, `ZMSCORE`) then overlaps their cache misses as a pipelined
/// batch does.
pub fn in_prefetched_chunks<'a>(
    items: &[&'a [u8]],
    prefetch: impl Fn(&[&'a [u8]]),
    mut each: impl FnMut(&'a [u8]),
) {
    for chunk in items.chunks(PREFETCH_BATCH) {
        prefetch(chunk);
        for &item in chunk {
            each(item);
        }
    }
}

/// The longest key or member [`Keyspace::prefetch`] prefetches.
pub const PREFETCH_KEY_MAX: usize = 256;

/// `reconcile` aims at `maxmemory` less this fraction (1/64) of it.
const RECONCILE_MARGIN: u64 = 64;

/// What [`Keyspace::reconcile`] aims the process's memory at: `maxmemory` less
/// [`RECONCILE_MARGIN`].
fn reconcile_aim(maxmemory: u64) -> u64 {
    maxmemory - maxmemory / RECONCILE_MARGIN
}

/// Most keys evicted by one write under a `volatile-*` policy before it proceeds anyway (Redis
/// bounds its eviction loop by time the same way).
const MAX_EVICTIONS_PER_WRITE: usize = 4096;

thread_local! {
    static HOT_TICK: Cell<u32> = const { Cell::new(0) };
}

pub use crate::key::Key;

/// A key being looked up: built on the stack for keys up to 63 bytes.
pub type LookupKey = SmallVec<[u8; 64]>;

/// How the server makes room when `maxmemory` is reached.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MaxmemoryPolicy {
    /// Refuse writes with `-OOM` once over the limit; reads and deletes keep working.
    NoEviction,
    /// Evict any key, chosen by this engine policy.
    AllKeys(PolicyKind),
    /// Evict only keys with a TTL, chosen by this rule.
    Volatile(VolatileRule),
}

/// The rule that picks a victim among keys with a TTL.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum VolatileRule {
    /// Least recently used (approximated by sampling).
    Lru,
    /// Least frequently used (approximated by sampling).
    Lfu,
    /// Any.
    Random,
    /// Nearest deadline.
    Ttl,
}

impl MaxmemoryPolicy {
    /// Every policy name `maxmemory-policy` accepts.
    pub const NAMES: &'static [&'static str] = &[
        "noeviction",
        "allkeys-lru",
        "allkeys-lfu",
        "allkeys-random",
        "allkeys-arc",
        "allkeys-wtinylfu",
        "allkeys-s3fifo",
        "allkeys-s3fifo-adaptive",
        "allkeys-sieve",
        "allkeys-fifo",
        "allkeys-larder",
        "volatile-lru",
        "volatile-lfu",
        "volatile-random",
        "volatile-ttl",
    ];

    /// Parses a `maxmemory-policy` name (case-insensitive). `allkeys-larder` is the engine's
    /// default policy.
    pub fn parse(name: &str) -> Option<MaxmemoryPolicy> {
        use MaxmemoryPolicy::*;
        Some(match name.to_ascii_lowercase().as_str() {
            "noeviction" => NoEviction,
            "allkeys-lru" => AllKeys(PolicyKind::Lru),
            "allkeys-lfu" => AllKeys(PolicyKind::Lfu),
            "allkeys-random" => AllKeys(PolicyKind::Random),
            "allkeys-arc" => AllKeys(PolicyKind::Arc),
            "allkeys-wtinylfu" => AllKeys(PolicyKind::WTinyLfu),
            "allkeys-s3fifo" => AllKeys(PolicyKind::S3Fifo),
            "allkeys-s3fifo-adaptive" => AllKeys(PolicyKind::S3FifoAdaptive),
            "allkeys-sieve" => AllKeys(PolicyKind::Sieve),
            "allkeys-fifo" => AllKeys(PolicyKind::Fifo),
            "allkeys-larder" => AllKeys(PolicyKind::default()),
            "volatile-lru" => Volatile(VolatileRule::Lru),
            "volatile-lfu" => Volatile(VolatileRule::Lfu),
            "volatile-random" => Volatile(VolatileRule::Random),
            "volatile-ttl" => Volatile(VolatileRule::Ttl),
            _ => return None,
        })
    }

    /// The engine policy that orders evictions (a volatile rule or no eviction still needs one
    /// for the store; it then never evicts, because the budget is unlimited).
    pub fn engine_policy(self) -> PolicyKind {
        match self {
            MaxmemoryPolicy::AllKeys(kind) => kind,
            MaxmemoryPolicy::NoEviction | MaxmemoryPolicy::Volatile(_) => PolicyKind::Fifo,
        }
    }
}

/// What [`Keyspace::relocate`] did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Relocated {
    /// The source key is absent.
    NoSource,
    /// The target key exists and replacing it was not asked for; nothing changed.
    TargetExists,
    /// The value (and its deadline) is now under the target key.
    Done,
}

/// The databases over one store.
pub struct Keyspace {
    store: Store<Key, Value>,
    /// Logical database → physical database (the key prefix byte).
    map: [AtomicU8; DATABASES],
    /// Serialises `SWAPDB` and whole-database operations against each other.
    remap: Mutex<()>,
    namespaces: Namespaces,
    clock: Arc<dyn Clock>,
    /// The hottest user keys (without the database byte), sampled from reads.
    hot: Mutex<HotKeys<Box<[u8]>>>,
    /// `maxmemory` and the policy in force.
    limit: Mutex<(u64, MaxmemoryPolicy)>,
    /// `maxmemory` is set and the policy is not an `allkeys-*` one: writes must check the
    /// limit themselves (read without a lock on every write).
    writes_check: AtomicBool,
    /// The data budget: the engine weight (key and value heap bytes + [`ENTRY_OVERHEAD`] per entry) the data
    /// may reach so that the process stays within `maxmemory` (see [`Keyspace::reconcile`]).
    data_budget: AtomicU64,
    /// How entries are weighed against the engine's per-shard budgets (see
    /// [`Keyspace::set_engine_capacity`]).
    weight_cap: Arc<WeightCap>,
}

impl std::fmt::Debug for Keyspace {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Keyspace")
            .field("store", &self.store)
            .finish_non_exhaustive()
    }
}

fn weigh(key: &Key, value: &Value) -> u32 {
    (key.heap_bytes() + value.heap_bytes() + ENTRY_OVERHEAD).min(u32::MAX as usize) as u32
}

/// The weigher's view of the engine budget: an entry that fits the whole budget is weighed at
/// most one shard's share of it (see [`Keyspace::set_engine_capacity`]).
#[derive(Debug)]
struct WeightCap {
    /// One shard's share of the budget.
    share: AtomicU32,
    /// The whole budget.
    total: AtomicU64,
}

impl WeightCap {
    fn weigh(&self, key: &Key, value: &Value) -> u32 {
        let weight = weigh(key, value);
        if u64::from(weight) > self.total.load(Ordering::Relaxed) {
            weight
        } else {
            weight.min(self.share.load(Ordering::Relaxed))
        }
    }
}

fn physical_db(key: &Key) -> usize {
    usize::from(key[0])
}

impl Keyspace {
    /// A keyspace with a byte budget (`0` for none) and an eviction policy.
    pub fn new(maxmemory: u64, policy: MaxmemoryPolicy) -> Keyspace {
        Self::with_clock(maxmemory, policy, Arc::new(SystemClock))
    }

    /// [`Keyspace::new`] with an injected clock (tests).
    pub fn with_clock(maxmemory: u64, policy: MaxmemoryPolicy, clock: Arc<dyn Clock>) -> Keyspace {
        let weight_cap = Arc::new(WeightCap {
            share: AtomicU32::new(u32::MAX),
            total: AtomicU64::new(u64::MAX),
        });
        let cap = Arc::clone(&weight_cap);
        let store = Store::builder(Self::budget(maxmemory, policy))
            .policy(policy.engine_policy())
            .weigher(move |key: &Key, value: &Value| cap.weigh(key, value))
            .classify(physical_db)
            .clock(Arc::clone(&clock))
            .miss_ratio_curve(mrc_samples(maxmemory))
            .record_departures(DEPARTURE_RECORD)
            .build();
        let keyspace = Keyspace {
            store,
            map: std::array::from_fn(|i| AtomicU8::new(i as u8)),
            remap: Mutex::new(()),
            namespaces: Namespaces::new(b':', 64),
            clock,
            hot: Mutex::new(HotKeys::new(16, HOT_KEY_WINDOW_MS)),
            limit: Mutex::new((maxmemory, policy)),
            writes_check: AtomicBool::new(Self::writes_check(maxmemory, policy)),
            data_budget: AtomicU64::new(maxmemory),
            weight_cap,
        };
        keyspace.set_engine_capacity(Self::budget(maxmemory, policy));
        keyspace.reconcile(crate::memory::limited_bytes());
        keyspace
    }

    /// The engine budget for a `maxmemory` and policy: only `allkeys-*` policies let the
    /// engine evict.
    fn budget(maxmemory: u64, policy: MaxmemoryPolicy) -> u64 {
        match policy {
            MaxmemoryPolicy::AllKeys(_) if maxmemory > 0 => maxmemory,
            _ => UNLIMITED,
        }
    }

    /// Applies a new `maxmemory` and policy at run time: an `allkeys-*` policy evicts down to
    /// the new budget at once, a `volatile-*` one or `noeviction` on the next write.
    pub fn configure(&self, maxmemory: u64, policy: MaxmemoryPolicy) {
        if self.store.policy() != policy.engine_policy() {
            self.store.set_policy(policy.engine_policy());
        }
        let previous = std::mem::replace(&mut *self.limit.lock(), (maxmemory, policy)).0;
        if mrc_samples(previous) != mrc_samples(maxmemory) {
            self.store.set_miss_ratio_samples(mrc_samples(maxmemory));
        }
        self.data_budget.store(maxmemory, Ordering::Relaxed);
        self.writes_check
            .store(Self::writes_check(maxmemory, policy), Ordering::Relaxed);
        self.set_engine_capacity(Self::budget(maxmemory, policy));
        self.reconcile(crate::memory::limited_bytes());
    }

    /// `maxmemory` (0: none) and the policy in force.
    pub fn limit(&self) -> (u64, MaxmemoryPolicy) {
        *self.limit.lock()
    }

    /// The data budget in engine weight (see [`Keyspace::reconcile`]); `maxmemory` when the
    /// allocator's figures are not available, [`UNLIMITED`] without a `maxmemory`.
    pub fn data_budget(&self) -> u64 {
        match self.limit().0 {
            0 => UNLIMITED,
            _ => self.data_budget.load(Ordering::Relaxed),
        }
    }

    /// Reconciles `maxmemory` with what the allocator reports: sets the budget of the data
    /// (engine weight: key and value heap bytes + [`ENTRY_OVERHEAD`] per entry) so that `used`,
    /// the allocator's figure for the whole process
    /// ([`AllocatorStats::limited_bytes`](crate::memory::AllocatorStats::limited_bytes): the
    /// bytes it holds and the freed pages it keeps resident), stays within `maxmemory`. Called
    /// at start, on `CONFIG SET`, and `hz` times a second by the server.
    ///
    /// The aim is `target` = `maxmemory` less a margin of 1/64 (1.6 %), which absorbs what moves
    /// between two calls (buffers of clients, tables growing). With `D` the data's weight now
    /// and `A` the allocator's bytes:
    /// * over the aim (`A > target`), the budget becomes `D × target / A`: the data is scaled
    ///   down by the factor the process is over, which brings `A` to the aim or a little above
    ///   it (the part of `A` that is not data does not shrink), corrected again next time;
    /// * under it, the budget becomes `D + (target − A) / 2`: filling the budget adds at most
    ///   half the room left, in weight; as long as an entry really costs less than twice its
    ///   weight, `A` approaches the aim from below without crossing it.
    ///
    /// The budget stays between an eighth of `maxmemory` (below that the rest of the process,
    /// not the data, is what is over the limit) and `maxmemory`. Without allocator figures
    /// (`used` is `None`: jemalloc is not the global allocator) the budget is `maxmemory`
    /// itself and the engine's weight is the memory figure.
    pub fn reconcile(&self, used: Option<u64>) {
        let (maxmemory, policy) = self.limit();
        if maxmemory == 0 {
            return;
        }
        let budget = match used {
            None => maxmemory,
            Some(used) => {
                let aim = reconcile_aim(maxmemory);
                let data = self.store.weighted_size();
                let target = if used > aim {
                    (u128::from(data) * u128::from(aim) / u128::from(used)) as u64
                } else {
                    data.saturating_add((aim - used) / 2)
                };
                target.clamp((maxmemory / 8).max(1), maxmemory)
            }
        };
        self.data_budget.store(budget, Ordering::Relaxed);
        if matches!(policy, MaxmemoryPolicy::AllKeys(_)) {
            let capacity = self.store.capacity();
            // Lower at once; raise once the step is worth taking every shard's lock (a few
            // keys' worth), so that the data comes within a few keys of the aim.
            if budget < capacity || budget - capacity > maxmemory / 4096 {
                self.set_engine_capacity(budget);
            }
        }
    }

    /// Whether the freed pages the allocator keeps resident, not the data, hold the data back:
    /// `held` (the bytes the program holds) is within the aim of [`Keyspace::reconcile`],
    /// `limited` (those plus the freed pages) is within 1/64 of `maxmemory` of the aim or over
    /// it, and the freed pages are worth a purge (over 1/256 of `maxmemory`). The server then
    /// has the allocator return those pages ([`crate::memory::purge`]): evicting data for them
    /// would free more pages, which stay resident until the allocator's decay returns them, so
    /// the budget would be cut again before it recovered; and left alone near the aim they take
    /// the room of the data they displace (under a steady rate of writes, a few percent of a
    /// small `maxmemory`).
    pub fn freed_pages_in_the_way(&self, held: u64, limited: u64) -> bool {
        let (maxmemory, _) = self.limit();
        let aim = reconcile_aim(maxmemory);
        maxmemory > 0
            && held <= aim
            && limited.saturating_sub(held) > maxmemory / 256
            && limited > aim - maxmemory / RECONCILE_MARGIN
    }

    /// Sets the engine's budget, and the most one entry is weighed: one shard's share of it.
    ///
    /// The engine refuses an entry heavier than its shard's budget, and removes a value changed
    /// in place that outgrows it. A big collection (a hash of millions of fields) under a
    /// `maxmemory` that is large for the whole keyspace but small for one shard would then be
    /// lost on its next write. Weighed at most one shard's budget instead, it stays, its shard
    /// evicts everything else, and the allocator reconciliation ([`Keyspace::reconcile`]), which
    /// sees the real bytes, lowers the budget of all shards for what the cap leaves unweighed.
    /// When a budget is lowered the capped value is evicted like any other if its shard must
    /// shrink: under memory pressure it is an eviction, never a write that loses it.
    /// An entry heavier than the whole budget is still weighed in full, and refused.
    fn set_engine_capacity(&self, capacity: u64) {
        self.store.set_capacity(capacity);
        let share = capacity / self.store.shard_count().max(1) as u64;
        self.weight_cap.share.store(
            share.clamp(1, u64::from(u32::MAX)) as u32,
            Ordering::Relaxed,
        );
        self.weight_cap.total.store(capacity, Ordering::Relaxed);
    }

    /// Whether the data is over its budget while the policy lets the engine evict nothing (a
    /// `volatile-*` policy or `noeviction`): the state in which a write must first make room.
    pub fn over_limit(&self) -> bool {
        self.writes_check.load(Ordering::Relaxed)
            && self.store.weighted_size() > self.data_budget.load(Ordering::Relaxed)
    }

    fn writes_check(maxmemory: u64, policy: MaxmemoryPolicy) -> bool {
        maxmemory > 0 && !matches!(policy, MaxmemoryPolicy::AllKeys(_))
    }

    /// Makes room for a write: under a `volatile-*` policy evicts keys with a TTL (the best of
    /// `samples` sampled per shard each time) until the data fits its budget, and returns how
    /// many it evicted. `None` when the data is over the budget and nothing more can be evicted
    /// (`noeviction`, or no key left has a TTL): the write must be refused with `-OOM`.
    pub fn make_room(&self, samples: usize) -> Option<u64> {
        let (maxmemory, policy) = self.limit();
        if maxmemory == 0 {
            return Some(0);
        }
        let rank = match policy {
            MaxmemoryPolicy::AllKeys(_) => return Some(0),
            MaxmemoryPolicy::NoEviction => return (!self.over_limit()).then_some(0),
            MaxmemoryPolicy::Volatile(VolatileRule::Ttl) => VolatileRank::NearestDeadline,
            MaxmemoryPolicy::Volatile(VolatileRule::Random) => VolatileRank::Random,
            MaxmemoryPolicy::Volatile(VolatileRule::Lru | VolatileRule::Lfu) => {
                VolatileRank::LeastAccessed
            }
        };
        let budget = self.data_budget.load(Ordering::Relaxed);
        let mut size = self.store.weighted_size();
        let mut evicted = 0;
        while size > budget && evicted < MAX_EVICTIONS_PER_WRITE as u64 {
            let weight = self.store.evict_volatile(rank, samples)?;
            size = size.saturating_sub(u64::from(weight));
            evicted += 1;
        }
        Some(evicted)
    }

    /// The `n` hottest keys read recently (sampled, over a one-minute sliding window), hottest
    /// first, without their database.
    pub fn hot_keys(&self, n: usize) -> Vec<HotKey<Box<[u8]>>> {
        self.hot.lock().top(n, self.clock.now())
    }

    /// Tracks `top` hot keys from now on (the figures gathered so far are dropped when it
    /// changes).
    pub fn set_hot_keys_top(&self, top: usize) {
        let mut hot = self.hot.lock();
        if hot.capacity() != top.max(1) {
            *hot = HotKeys::new(top, HOT_KEY_WINDOW_MS);
        }
    }

    /// Zeroes the engine's counters, the namespace figures and the hot keys (`CONFIG
    /// RESETSTAT`).
    pub fn reset_stats(&self) {
        self.store.reset_stats();
        self.namespaces.reset();
        self.hot.lock().clear();
    }

    fn record_hot(&self, key: &[u8]) {
        let due = HOT_TICK.with(|tick| {
            let t = tick.get().wrapping_add(1);
            tick.set(t);
            t % HOT_KEY_SAMPLE_EVERY == 0
        });
        if due && let Some(mut hot) = self.hot.try_lock() {
            hot.record(
                &Box::<[u8]>::from(key),
                u64::from(HOT_KEY_SAMPLE_EVERY),
                self.clock.now(),
            );
        }
    }

    /// The engine store (statistics, hot keys, miss-ratio curve).
    pub fn store(&self) -> &Store<Key, Value> {
        &self.store
    }

    /// Per-namespace hit ratios (key prefix before `:`).
    pub fn namespaces(&self) -> &Namespaces {
        &self.namespaces
    }

    /// Now, on the keyspace's clock (milliseconds since the Unix epoch).
    pub fn now(&self) -> Timestamp {
        self.clock.now()
    }

    fn physical(&self, db: usize) -> u8 {
        self.map[db % DATABASES].load(Ordering::Acquire)
    }

    /// The stored form of `key` in database `db`.
    pub fn key(&self, db: usize, key: &[u8]) -> LookupKey {
        let mut k = LookupKey::with_capacity(key.len() + 1);
        k.push(self.physical(db));
        k.extend_from_slice(key);
        k
    }

    /// Prefetches what the requests of a pipelined batch (before it runs; `batch` gives each
    /// one's key and member) will read in `db`: the index groups of their keys, then the keys'
    /// slots, then their values' memory and, in a large hash, set or sorted set, the entries of
    /// the members the requests name (their third argument: [`Value::prefetch_members`]). The
    /// cache misses of the batch then overlap (see [`Store::prefetch_index`]). Changes and
    /// counts nothing.
    ///
    /// A key repeating the one before it is looked up once, with the members of both requests
    /// (a pipeline of `SADD myset ...`). Keys and members over [`PREFETCH_KEY_MAX`] bytes are
    /// left out: hashing them twice would cost more than the misses saved. Nothing is done
    /// unless there are two keys or two members: one of each is no batch.
    pub fn prefetch<'a>(
        &self,
        db: usize,
        batch: impl IntoIterator<Item = (&'a [u8], Option<&'a [u8]>)>,
    ) {
        let short = |bytes: &&[u8]| bytes.len() <= PREFETCH_KEY_MAX;
        let batch = batch.into_iter().take(PREFETCH_BATCH);
        // Each distinct key's hash and the range of its members in `members`.
        let mut keys: SmallVec<[(u64, Range<usize>); PREFETCH_BATCH]> = SmallVec::new();
        let mut members: SmallVec<[&[u8]; PREFETCH_BATCH]> = SmallVec::new();
        let mut last: Option<&[u8]> = None;
        for (key, member) in batch.filter(|(key, _)| short(key)) {
            if last != Some(key) {
                let hash = self.store.hash(&self.key(db, key)[..]);
                keys.push((hash, members.len()..members.len()));
                last = Some(key);
            }
            if let (Some(member), Some((_, range))) = (member.filter(short), keys.last_mut()) {
                members.push(member);
                range.end = members.len();
            }
        }
        if keys.len() < 2 && members.len() < 2 {
            return;
        }
        for (hash, _) in &keys {
            self.store.prefetch_index(*hash);
        }
        for (hash, _) in &keys {
            self.store.prefetch_slot(*hash);
        }
        for (hash, range) in &keys {
            self.store.prefetch_value(*hash, |value| {
                value.prefetch();
                value.prefetch_members(&members[range.clone()]);
            });
        }
    }

    /// Reads a live value through `read`, counting a keyspace hit or miss.
    pub fn get_with<R>(&self, db: usize, key: &[u8], read: impl FnOnce(&Value) -> R) -> Option<R> {
        let k = self.key(db, key);
        let hash = self.store.hash(&k[..]);
        let result = self.store.get_with(hash, &k[..], read);
        self.namespaces.record(key, result.is_some());
        if result.is_some() {
            self.record_hot(key);
        }
        result
    }

    /// Reads a live value and its deadline ([`NEVER`](larder_engine::NEVER) for none) without counting a lookup.
    pub fn peek_with<R>(
        &self,
        db: usize,
        key: &[u8],
        read: impl FnOnce(&Value, Timestamp) -> R,
    ) -> Option<R> {
        let k = self.key(db, key);
        let hash = self.store.hash(&k[..]);
        self.store.peek_with(hash, &k[..], read)
    }

    /// Whether `key` is live in `db` (counts no lookup).
    pub fn exists(&self, db: usize, key: &[u8]) -> bool {
        self.store.contains(&self.key(db, key)[..])
    }

    /// The read-modify-write primitive (see [`Store::compute`]).
    pub fn compute<R>(
        &self,
        db: usize,
        key: &[u8],
        update: impl FnOnce(Option<EntryMut<'_, Value>>) -> (Compute<Value>, R),
    ) -> Result<R, InsertError> {
        let k = self.key(db, key);
        let hash = self.store.hash(&k[..]);
        self.store
            .compute(hash, &k[..], |k: &[u8]| Key::from(k), update)
    }

    /// Stores `value` under `key` with a deadline ([`NEVER`](larder_engine::NEVER) for none).
    pub fn set(
        &self,
        db: usize,
        key: &[u8],
        value: Value,
        deadline: Timestamp,
    ) -> Result<(), InsertError> {
        let k = self.key(db, key);
        self.store
            .insert_with_deadline(Key::from(&k[..]), value, deadline)
            .map(|_| ())
    }

    /// [`Keyspace::set`] that says whether it created the key (no live value was replaced).
    pub fn put(
        &self,
        db: usize,
        key: &[u8],
        value: Value,
        deadline: Timestamp,
    ) -> Result<bool, InsertError> {
        let k = self.key(db, key);
        self.store
            .insert_with_deadline(Key::from(&k[..]), value, deadline)
            .map(|replaced| replaced.is_none())
    }

    /// Removes `key`, returning its live value.
    pub fn remove(&self, db: usize, key: &[u8]) -> Option<Value> {
        self.store.remove(&self.key(db, key)[..])
    }

    /// The deadline of a live key ([`NEVER`](larder_engine::NEVER) for none), or `None` when absent.
    pub fn deadline(&self, db: usize, key: &[u8]) -> Option<Timestamp> {
        self.peek_with(db, key, |_, deadline| deadline)
    }

    /// Sets a live key's deadline ([`NEVER`](larder_engine::NEVER) clears it); `false` when absent.
    pub fn set_deadline(&self, db: usize, key: &[u8], deadline: Timestamp) -> bool {
        self.compute(db, key, |entry| match entry {
            Some(entry) => {
                *entry.expires_at = deadline;
                (Compute::Updated, true)
            }
            None => (Compute::Keep, false),
        })
        .unwrap_or(false)
    }

    /// The engine's access counter of a live key (0 to 3: hits since it was stored or since
    /// the eviction policy last aged it), without counting a lookup.
    pub fn access_count(&self, db: usize, key: &[u8]) -> Option<u8> {
        let k = self.key(db, key);
        self.store.access_count(self.store.hash(&k[..]), &k[..])
    }

    /// Moves the live key `from` of `from_db` to `to` in `to_db`, deadline included (`RENAME`,
    /// `MOVE`). An existing target is replaced only when `replace` is set, and then loses its
    /// own deadline. A key relocated onto itself stays as it is.
    ///
    /// The target is stored before the source is removed, so a refused insert changes nothing;
    /// the value is copied once for that (O(its length), where Redis moves a pointer). Two keys
    /// are involved, so this is atomic only for a caller that holds the server's exclusive lock
    /// (commands flagged `EXCLUSIVE`).
    pub fn relocate(
        &self,
        from_db: usize,
        from: &[u8],
        to_db: usize,
        to: &[u8],
        replace: bool,
    ) -> Result<Relocated, InsertError> {
        if from_db % DATABASES == to_db % DATABASES && from == to {
            return Ok(match (self.exists(from_db, from), replace) {
                (false, _) => Relocated::NoSource,
                (true, true) => Relocated::Done,
                (true, false) => Relocated::TargetExists,
            });
        }
        let outcome = self.copy(from_db, from, to_db, to, replace)?;
        if outcome == Relocated::Done {
            self.remove(from_db, from);
        }
        Ok(outcome)
    }

    /// Copies the live key `from` of `from_db` to `to` in `to_db`, deadline included (`COPY`).
    /// An existing target is replaced only when `replace` is set. Atomic only under the
    /// server's exclusive lock, as [`Keyspace::relocate`].
    pub fn copy(
        &self,
        from_db: usize,
        from: &[u8],
        to_db: usize,
        to: &[u8],
        replace: bool,
    ) -> Result<Relocated, InsertError> {
        let Some((value, deadline)) = self.peek_with(from_db, from, |v, d| (v.clone(), d)) else {
            return Ok(Relocated::NoSource);
        };
        if !replace && self.exists(to_db, to) {
            return Ok(Relocated::TargetExists);
        }
        self.set(to_db, to, value, deadline)
            .map(|()| Relocated::Done)
    }

    /// The logical database whose keys carry the physical prefix `physical`.
    fn logical(&self, physical: u8) -> usize {
        self.map
            .iter()
            .position(|p| p.load(Ordering::Acquire) == physical)
            .unwrap_or(usize::from(physical))
    }

    /// Whether keys the engine expired or evicted wait to be drained (one atomic load).
    pub fn departures_pending(&self) -> bool {
        self.store.departures_pending()
    }

    /// Moves the keys the engine expired or evicted since the last call into `out` as
    /// (logical database, client key, cause); returns how many were lost because the record
    /// was full (see [`DEPARTURE_RECORD`]).
    pub fn drain_departures(&self, out: &mut Vec<(usize, Vec<u8>, Departure)>) -> u64 {
        let mut raw = Vec::new();
        let lost = self.store.drain_departures(&mut raw);
        out.extend(
            raw.into_iter()
                .filter(|(k, _)| !k.is_empty())
                .map(|(k, cause)| (self.logical(k[0]), k[1..].to_vec(), cause)),
        );
        lost
    }

    /// Empties the record of expired and evicted keys without looking at them; returns how
    /// many were lost (as [`Keyspace::drain_departures`]).
    pub fn discard_departures(&self) -> u64 {
        let mut raw = Vec::new();
        self.store.drain_departures(&mut raw)
    }

    /// Live keys in `db`.
    pub fn dbsize(&self, db: usize) -> usize {
        self.store.class_len(usize::from(self.physical(db)))
    }

    /// Removes every key of `db`; returns how many.
    pub fn flushdb(&self, db: usize) -> usize {
        let _remap = self.remap.lock();
        let physical = self.physical(db);
        self.store.retain(|k, _| k[0] != physical)
    }

    /// Removes every key.
    pub fn flushall(&self) {
        let _remap = self.remap.lock();
        self.store.clear();
    }

    /// Swaps two databases (O(1)): clients of either now see the other's keys.
    pub fn swapdb(&self, a: usize, b: usize) {
        let _remap = self.remap.lock();
        let pa = self.map[a].load(Ordering::Acquire);
        let pb = self.map[b].load(Ordering::Acquire);
        self.map[a].store(pb, Ordering::Release);
        self.map[b].store(pa, Ordering::Release);
    }

    /// Visits about `count` slots of the store from `cursor`, handing each live key of `db`
    /// (without its prefix), its value and its deadline to `visit`; returns the next cursor
    /// (`0` when done). A key present for the whole iteration is visited exactly once.
    pub fn scan(
        &self,
        db: usize,
        cursor: u64,
        count: usize,
        mut visit: impl FnMut(&[u8], &Value, Timestamp),
    ) -> u64 {
        let physical = self.physical(db);
        self.store.scan_with(cursor, count, |k, v, deadline| {
            if k[0] == physical {
                visit(&k[1..], v, deadline);
            }
        })
    }

    /// A random live key of `db`.
    pub fn random_key(&self, db: usize) -> Option<Vec<u8>> {
        let physical = self.physical(db);
        self.store
            .random_key(|k| k[0] == physical)
            .map(|k| k[1..].to_vec())
    }

    /// One active-expiry cycle (see [`Store::expire_cycle`]).
    pub fn expire_cycle(&self) -> usize {
        self.store.expire_cycle(200)
    }

    /// Keys with a TTL in `db` (for `INFO keyspace`'s `expires=`): the engine's exact count
    /// per database, in O(shards); like Redis's, it includes keys expired but not reclaimed yet.
    pub fn volatile_count(&self, db: usize) -> usize {
        self.store.class_ttl_len(usize::from(self.physical(db)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use larder_engine::NEVER;

    #[test]
    fn reconcile_scales_the_data_budget_to_what_the_allocator_reports() {
        let ks = Keyspace::new(1_000_000, MaxmemoryPolicy::AllKeys(PolicyKind::Lru));
        // No allocator figures (this test binary keeps the system allocator): the weight is the
        // figure, the budget is maxmemory.
        assert_eq!(ks.data_budget(), 1_000_000);
        let aim = 1_000_000 - 1_000_000 / RECONCILE_MARGIN;
        // Under the aim with no data: half the room.
        ks.reconcile(Some(500_000));
        assert_eq!(ks.data_budget(), (aim - 500_000) / 2);
        assert_eq!(ks.store().capacity(), ks.data_budget());
        // Data, then the process over the aim: the data is scaled down by that factor, and the
        // engine evicts at once.
        ks.reconcile(Some(0));
        for i in 0..1000u32 {
            ks.set(0, &i.to_be_bytes(), Value::string(&[0; 300]), NEVER)
                .unwrap();
        }
        let data = ks.store().weighted_size();
        ks.reconcile(Some(2 * aim));
        assert_eq!(ks.data_budget(), data / 2);
        assert!(ks.store().weighted_size() <= data / 2);
        // Far over: never below an eighth of maxmemory.
        ks.reconcile(Some(100_000_000));
        assert_eq!(ks.data_budget(), 1_000_000 / 8);
    }

    #[test]
    fn freed_pages_near_the_aim_call_for_a_purge() {
        let ks = Keyspace::new(1_000_000, MaxmemoryPolicy::AllKeys(PolicyKind::Lru));
        let aim = 1_000_000 - 1_000_000 / RECONCILE_MARGIN;
        let worth = 1_000_000 / 256 + 1;
        // The data within the aim, the freed pages taking the process over it: purge.
        assert!(ks.freed_pages_in_the_way(aim - worth, aim + 1));
        assert!(ks.freed_pages_in_the_way(500_000, 2_000_000));
        // Within the aim, but near it, where the freed pages take the data's room: purge.
        assert!(ks.freed_pages_in_the_way(aim - 2 * worth, aim - worth));
        // Far below the aim: the data has room, nothing to do.
        assert!(!ks.freed_pages_in_the_way(500_000, 600_000));
        // Too few freed pages to be worth a purge.
        assert!(!ks.freed_pages_in_the_way(aim, aim + 1));
        // The data itself over: that is for eviction, not a purge.
        assert!(!ks.freed_pages_in_the_way(aim + 1, aim + 100_000));
        // No maxmemory: no aim.
        let unlimited = Keyspace::new(0, MaxmemoryPolicy::AllKeys(PolicyKind::Lru));
        assert!(!unlimited.freed_pages_in_the_way(500_000, u64::MAX));
    }

    #[test]
    fn the_miss_ratio_sample_takes_a_small_share_of_a_small_maxmemory() {
        assert_eq!(mrc_samples(0), MRC_SAMPLES);
        assert_eq!(mrc_samples(1 << 30), MRC_SAMPLES);
        assert_eq!(mrc_samples(1_000_000), MRC_SAMPLES_MIN);
        let policy = MaxmemoryPolicy::AllKeys(PolicyKind::default());
        let small = 4_767_502;
        let ks = Keyspace::new(small, policy);
        let bytes = ks.store().miss_ratio_curve_bytes() as u64;
        assert!(bytes <= small / 32, "{bytes} bytes under maxmemory {small}");
        // CONFIG SET maxmemory 0 gives it the full sample, and back again its share.
        ks.configure(0, policy);
        let unlimited = ks.store().miss_ratio_curve_bytes() as u64;
        assert!(unlimited > 4 * bytes, "{unlimited} without maxmemory");
        ks.configure(small, policy);
        assert_eq!(ks.store().miss_ratio_curve_bytes() as u64, bytes);
    }

    #[test]
    fn a_value_larger_than_one_shard_stays_and_grows_in_place() {
        let ks = Keyspace::new(1 << 20, MaxmemoryPolicy::AllKeys(PolicyKind::Lru));
        let share = ks.store().capacity() / ks.store().shard_count() as u64;
        assert!(
            share < 200_000,
            "the test needs shards smaller than the value"
        );
        for i in 0..100u32 {
            ks.set(0, &i.to_be_bytes(), Value::string(&[1; 100]), NEVER)
                .unwrap();
        }
        ks.set(0, b"big", Value::string(&[7; 200_000]), NEVER)
            .expect("a value over one shard's budget is stored");
        // Grown in place (as a collection is on every write): it stays.
        ks.compute(0, b"big", |entry| {
            let entry = entry.expect("still there");
            let Value::Str(bytes) = entry.value else {
                unreachable!()
            };
            let mut grown = bytes.to_vec();
            grown.extend_from_slice(&[8; 100_000]);
            *bytes = grown.into();
            (Compute::Updated, ())
        })
        .expect("a value grown in place over one shard's budget is kept");
        assert_eq!(
            ks.get_with(0, b"big", |v| v.string_len()),
            Some(Some(300_000))
        );
        // A lower budget is kept by evicting, the capped value included if its shard needs it.
        ks.configure(1 << 19, MaxmemoryPolicy::AllKeys(PolicyKind::Lru));
        assert!(ks.store().weighted_size() <= ks.store().capacity());
        ks.set(0, b"big", Value::string(&[7; 200_000]), NEVER)
            .expect("stored again under the lower budget");
        // Heavier than the whole budget: refused, whatever the cap.
        assert!(matches!(
            ks.set(0, b"huge", Value::string(&[7; 600_000]), NEVER),
            Err(InsertError::TooLarge { .. })
        ));
    }

    #[test]
    fn volatile_policies_make_room_from_keys_with_a_ttl_only() {
        let ks = Keyspace::new(10_000, MaxmemoryPolicy::Volatile(VolatileRule::Ttl));
        let now = ks.now();
        for i in 0..30u64 {
            let deadline = if i % 2 == 0 { NEVER } else { now + 100_000 + i };
            ks.set(0, &i.to_be_bytes(), Value::string(&[0; 400]), deadline)
                .unwrap();
        }
        assert!(ks.over_limit());
        let evicted = ks.make_room(5).expect("room");
        assert!(evicted > 0 && !ks.over_limit());
        assert_eq!(ks.volatile_count(0), 15 - evicted as usize);
        // Keys with a TTL are evicted nearest deadline first.
        assert!(!ks.exists(0, &1u64.to_be_bytes()));
        // Without keys with a TTL, no room can be made.
        let ks = Keyspace::new(1_000, MaxmemoryPolicy::Volatile(VolatileRule::Lru));
        for i in 0..10u64 {
            ks.set(0, &i.to_be_bytes(), Value::string(&[0; 200]), NEVER)
                .unwrap();
        }
        assert_eq!(ks.make_room(5), None);
        let ks = Keyspace::new(1_000, MaxmemoryPolicy::NoEviction);
        for i in 0..10u64 {
            ks.set(0, &i.to_be_bytes(), Value::string(&[0; 200]), NEVER)
                .unwrap();
        }
        assert_eq!(ks.make_room(5), None);
    }
}
