//! The keyspace: Redis's numbered databases over one engine [`Store`].
//!
//! Every key is stored once, prefixed by one byte naming its *physical* database. A client's
//! `SELECT`ed number is mapped to a physical one through a table, so `SWAPDB` swaps two entries
//! of the table in O(1). The engine counts live keys per physical database exactly (its key
//! classes), which gives `DBSIZE` and `INFO keyspace` in O(shards).
//!
//! Memory: each entry weighs its key and value bytes plus [`ENTRY_OVERHEAD`], the engine's
//! per-entry cost measured for this layout; `maxmemory` becomes the engine's byte budget, so
//! the engine's eviction policy is the server's eviction policy.

use crate::value::Value;
use larder_engine::namespace::Namespaces;
use larder_engine::{
    Clock, Compute, EntryMut, InsertError, NEVER, PolicyKind, Store, SystemClock, Timestamp,
};
use parking_lot::Mutex;
use smallvec::SmallVec;
use std::sync::Arc;
use std::sync::atomic::{AtomicU8, Ordering};

/// Databases, as Redis's default `databases 16`.
pub const DATABASES: usize = 16;

/// Bytes charged per entry beyond its key and value bytes: the engine slot, index and policy
/// metadata and allocator rounding for this layout (see `docs/benchmarks.md`).
pub const ENTRY_OVERHEAD: usize = 64;

/// The budget used when `maxmemory` is 0 (no limit).
pub const UNLIMITED: u64 = 1 << 48;

/// A stored key: one byte of physical database, then the client's key.
pub type Key = Box<[u8]>;

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
}

impl std::fmt::Debug for Keyspace {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Keyspace")
            .field("store", &self.store)
            .finish_non_exhaustive()
    }
}

fn weigh(key: &Key, value: &Value) -> u32 {
    (key.len() + value.heap_bytes() + ENTRY_OVERHEAD).min(u32::MAX as usize) as u32
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
        let store = Store::builder(Self::budget(maxmemory, policy))
            .policy(policy.engine_policy())
            .weigher(weigh)
            .classify(physical_db)
            .clock(Arc::clone(&clock))
            .build();
        Keyspace {
            store,
            map: std::array::from_fn(|i| AtomicU8::new(i as u8)),
            remap: Mutex::new(()),
            namespaces: Namespaces::new(b':', 64),
            clock,
        }
    }

    /// The engine budget for a `maxmemory` and policy: only `allkeys-*` policies let the
    /// engine evict.
    fn budget(maxmemory: u64, policy: MaxmemoryPolicy) -> u64 {
        match policy {
            MaxmemoryPolicy::AllKeys(_) if maxmemory > 0 => maxmemory,
            _ => UNLIMITED,
        }
    }

    /// Applies a new `maxmemory` and policy at run time.
    pub fn configure(&self, maxmemory: u64, policy: MaxmemoryPolicy) {
        if self.store.policy() != policy.engine_policy() {
            self.store.set_policy(policy.engine_policy());
        }
        self.store.set_capacity(Self::budget(maxmemory, policy));
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

    /// Reads a live value through `read`, counting a keyspace hit or miss.
    pub fn get_with<R>(&self, db: usize, key: &[u8], read: impl FnOnce(&Value) -> R) -> Option<R> {
        let k = self.key(db, key);
        let hash = self.store.hash(&k[..]);
        let result = self.store.get_with(hash, &k[..], read);
        self.namespaces.record(key, result.is_some());
        result
    }

    /// Reads a live value and its deadline ([`NEVER`] for none) without counting a lookup.
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

    /// Stores `value` under `key` with a deadline ([`NEVER`] for none).
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

    /// Removes `key`, returning its live value.
    pub fn remove(&self, db: usize, key: &[u8]) -> Option<Value> {
        self.store.remove(&self.key(db, key)[..])
    }

    /// The deadline of a live key ([`NEVER`] for none), or `None` when absent.
    pub fn deadline(&self, db: usize, key: &[u8]) -> Option<Timestamp> {
        self.peek_with(db, key, |_, deadline| deadline)
    }

    /// Sets a live key's deadline ([`NEVER`] clears it); `false` when absent.
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

    /// Live keys with a TTL in `db` (for `INFO keyspace`'s `expires=`): counted by a scan.
    pub fn volatile_count(&self, db: usize) -> usize {
        let mut n = 0;
        let mut cursor = 0;
        loop {
            cursor = self.scan(db, cursor, 4096, |_, _, deadline| {
                n += usize::from(deadline != NEVER);
            });
            if cursor == 0 {
                break n;
            }
        }
    }
}
