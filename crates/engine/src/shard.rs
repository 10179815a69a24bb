//! The single-threaded store: one hash table, one slab of entries, one policy, one budget.
//!
//! A [`Shard`] is a complete cache on its own, usable without any locking (the simulator replays
//! traces through it), and the unit that the concurrent [`Store`](crate::Store) puts behind a lock.
//!
//! Layout: entries live in a slab (pages of slots, `slab.rs`) and never move while resident, so
//! a slot index is a stable handle for the policy's metadata and for scan cursors. The index is
//! a table of slot numbers in 64-byte groups that keep tags and slot numbers together
//! (`table.rs`), so that a hit costs two dependent memory loads, the group and the entry (and a
//! load from the slab's page directory, which stays in cache). The key hash is not stored: the
//! table and the policy recompute it from the key on the rare paths that need it (table
//! growth, eviction). Nor is the deadline: the slot holds a flag, and the deadlines of the
//! entries that have one live in pages beside the slab (`deadlines.rs`). That keeps the
//! per-entry overhead for a `u64 → u64` entry at 8 bytes in the slab plus 6.1 to 9.1 bytes of
//! index.

use crate::clock::{Clock, Timestamp, deadline_after};
use crate::deadlines::Deadlines;
use crate::departed::DepartureLog;
use crate::policy::{ACCESS_MAX, AnyPolicy, Policy, PolicyKind, Residents, Slot};
use crate::rng::SplitMix64;
use crate::slab::Slab;
use crate::stats::{Counters, Departure, Departures, MissReason, Snapshot};
use crate::table::SlotTable;
use crate::weigher::Weigher;
use std::borrow::Borrow;
use std::fmt;
use std::hash::{BuildHasher, Hash};
use std::sync::Arc;
use std::sync::atomic::AtomicU8;
use std::sync::atomic::Ordering::Relaxed;
use std::time::Duration;

/// The deadline of an entry that never expires.
pub const NEVER: Timestamp = Timestamp::MAX;

const NO_SLOT: u32 = u32::MAX;
/// Samples taken from the TTL index by an insert, to reclaim expired entries as writes go by.
const SAMPLES_PER_WRITE: usize = 2;

enum SlotState<K, V> {
    Vacant {
        next_free: u32,
    },
    Occupied {
        key: K,
        value: V,
        weight: u32,
        /// Hits since insertion or since the policy last set it, saturating at `ACCESS_MAX`;
        /// it sits in the entry's padding, so it costs no memory and no extra cache miss.
        access: AtomicU8,
        /// The entry has a deadline, kept in the shard's [`Deadlines`] (so an entry without one
        /// never reads them).
        has_deadline: bool,
    },
}

/// Counts a hit in an entry's access counter (relaxed load and store: a lost bump under a race
/// is harmless, the counter is a hint).
#[inline]
fn bump_access(access: &AtomicU8) {
    let n = access.load(Relaxed);
    if n < ACCESS_MAX {
        access.store(n + 1, Relaxed);
    }
}

/// Why an insert was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InsertError {
    /// The entry alone weighs more than the shard's whole budget.
    TooLarge {
        /// The entry's weight.
        weight: u32,
        /// The shard's budget.
        capacity: u64,
    },
    /// The shard already holds `u32::MAX - 1` entries.
    Full,
}

impl fmt::Display for InsertError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            InsertError::TooLarge { weight, capacity } => write!(
                f,
                "entry of weight {weight} exceeds the cache budget of {capacity}"
            ),
            InsertError::Full => f.write_str("shard holds the maximum number of entries"),
        }
    }
}

impl std::error::Error for InsertError {}

/// A live entry, open for change inside [`Shard::compute`].
#[derive(Debug)]
pub struct EntryMut<'a, V> {
    /// The value; change it in place and answer [`Compute::Updated`].
    pub value: &'a mut V,
    /// The deadline ([`NEVER`] for none); change it in place and answer [`Compute::Updated`].
    /// A change is kept with [`Compute::Keep`] too, and dropped by [`Compute::Remove`] and
    /// [`Compute::Put`] (which brings its own deadline).
    pub expires_at: &'a mut Timestamp,
}

/// What [`Shard::compute`] does once its closure has run.
#[derive(Debug)]
pub enum Compute<V> {
    /// Nothing changed.
    Keep,
    /// The entry's value or deadline was changed in place: weigh it again and re-index its
    /// deadline.
    Updated,
    /// Store this value with this deadline, creating or replacing the entry.
    Put(V, Timestamp),
    /// Remove the entry (if there is one).
    Remove,
}

/// How [`Shard::volatile_candidate`] ranks entries carrying a TTL: the lowest score is evicted
/// first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VolatileRank {
    /// The nearest deadline first (Redis's `volatile-ttl`).
    NearestDeadline,
    /// The fewest hits recorded in the entry's access counter (0 to
    /// [`ACCESS_MAX`]) first, ties to the nearest deadline: the
    /// approximation behind `volatile-lru` and `volatile-lfu`.
    LeastAccessed,
    /// Any of the sampled entries (`volatile-random`).
    Random,
}

/// A victim chosen by [`Shard::volatile_candidate`], to be evicted with
/// [`Shard::evict_candidate`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VolatileCandidate {
    /// Its rank: lower is a better victim (0: already expired).
    pub score: u64,
    slot: Slot,
    hash: u64,
}

/// How to build a shard (the [`Store`](crate::Store) builder fills this in for each of its shards).
#[derive(Clone)]
pub struct ShardConfig<K, V> {
    /// Budget in weight units (entries with [`Unit`](crate::Unit), bytes with a byte weigher).
    pub capacity: u64,
    /// The eviction policy.
    pub policy: PolicyKind,
    /// How much of the budget an entry takes.
    pub weigher: Arc<dyn Weigher<K, V>>,
    /// Where time comes from.
    pub clock: Arc<dyn Clock>,
    /// Most cells of the departure memory used to attribute misses (4 bytes each); it starts
    /// at 1,024 (or this bound) and doubles while it has fewer than two cells per slot.
    pub departure_cells: usize,
    /// Seed for the randomised decisions (random eviction, expiry sampling).
    pub seed: u64,
    /// Entries to pre-allocate room for (the capacity, when it counts entries).
    pub reserve: usize,
    /// Sorts keys into up to [`CLASSES`] classes whose live counts the shard keeps exactly (the
    /// server counts keys per database this way); `None` counts everything as class 0.
    pub classify: Option<fn(&K) -> usize>,
    /// Where keys that expire or are evicted are recorded (see [`crate::departed`]); `None`
    /// records nothing.
    pub departure_log: Option<Arc<DepartureLog<K>>>,
}

/// How many key classes a shard counts (see [`ShardConfig::classify`]).
pub const CLASSES: usize = 16;

impl<K, V> fmt::Debug for ShardConfig<K, V> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ShardConfig")
            .field("capacity", &self.capacity)
            .field("policy", &self.policy)
            .field("departure_cells", &self.departure_cells)
            .field("seed", &self.seed)
            .finish_non_exhaustive()
    }
}

impl<K, V> ShardConfig<K, V> {
    /// A shard of `capacity` entries with the default policy, unit weights and the system clock.
    pub fn entries(capacity: u64) -> Self {
        Self {
            capacity,
            policy: PolicyKind::default(),
            weigher: Arc::new(crate::weigher::Unit),
            clock: Arc::new(crate::clock::SystemClock),
            departure_cells: (capacity as usize).clamp(1024, 1 << 16),
            seed: 0x5eed,
            reserve: usize::try_from(capacity).unwrap_or(0).min(1 << 20),
            classify: None,
            departure_log: None,
        }
    }

    /// Sets the policy.
    pub fn with_policy(mut self, policy: PolicyKind) -> Self {
        self.policy = policy;
        self
    }

    /// Sets the clock.
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// Sets the weigher (and stops pre-allocating by entry count).
    pub fn with_weigher(mut self, weigher: Arc<dyn Weigher<K, V>>) -> Self {
        self.weigher = weigher;
        self.reserve = 0;
        self
    }
}

/// What a lookup under a shared lock found.
#[derive(Debug)]
pub enum SharedLookup<'a, V> {
    /// A live entry. `buffer` is `Some(slot)` when the policy needs the hit replayed under an
    /// exclusive lock (see [`Shard::replay_hit`]).
    Hit {
        /// The value.
        value: &'a V,
        /// The slot to buffer, for policies that record hits exclusively.
        buffer: Option<Slot>,
    },
    /// No entry; the miss has been counted under this reason.
    Miss(MissReason),
    /// An entry whose deadline has passed; counted as an expired miss. The caller should take the
    /// exclusive lock and call [`Shard::reap_expired`].
    Expired,
}

/// A single-threaded cache: see the [module documentation](self).
pub struct Shard<K, V, S = foldhash::fast::RandomState, P = AnyPolicy> {
    table: SlotTable,
    slots: Slab<SlotState<K, V>>,
    free_head: u32,
    len: usize,
    weighted: u64,
    capacity: u64,
    policy: P,
    weigher: Arc<dyn Weigher<K, V>>,
    hasher: S,
    clock: Arc<dyn Clock>,
    /// The deadlines of the entries that have one, by slot.
    deadlines: Deadlines,
    /// Slots that had a deadline when pushed; may hold stale or duplicate slots (checked on use).
    expiring: Vec<Slot>,
    ttl_entries: usize,
    departures: Departures,
    counters: Counters,
    rng: SplitMix64,
    /// The policy wants every hit in order (cached from [`Policy::exclusive_hits`]).
    exclusive_hits: bool,
    classify: Option<fn(&K) -> usize>,
    /// Resident entries per key class.
    class_len: [usize; CLASSES],
    /// Resident entries carrying a TTL, per key class.
    class_ttl_len: [usize; CLASSES],
    departure_log: Option<Arc<DepartureLog<K>>>,
}

impl<K, V, S, P> fmt::Debug for Shard<K, V, S, P> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Shard")
            .field("len", &self.len)
            .field("weighted", &self.weighted)
            .field("capacity", &self.capacity)
            .finish_non_exhaustive()
    }
}

/// The view of resident slots a policy gets when choosing a victim.
struct View<'a, K, V, S> {
    slots: &'a Slab<SlotState<K, V>>,
    hasher: &'a S,
}

impl<K: Hash, V, S: BuildHasher> Residents for View<'_, K, V, S> {
    #[inline]
    fn hash(&self, slot: Slot) -> u64 {
        match &self.slots[slot as usize] {
            SlotState::Occupied { key, .. } => self.hasher.hash_one(key),
            SlotState::Vacant { .. } => 0,
        }
    }
    #[inline]
    fn weight(&self, slot: Slot) -> u32 {
        match &self.slots[slot as usize] {
            SlotState::Occupied { weight, .. } => *weight,
            SlotState::Vacant { .. } => 0,
        }
    }
    #[inline]
    fn access(&self, slot: Slot) -> u8 {
        match &self.slots[slot as usize] {
            SlotState::Occupied { access, .. } => access.load(Relaxed),
            SlotState::Vacant { .. } => 0,
        }
    }
    #[inline]
    fn set_access(&self, slot: Slot, value: u8) {
        if let SlotState::Occupied { access, .. } = &self.slots[slot as usize] {
            access.store(value.min(ACCESS_MAX), Relaxed);
        }
    }
}

impl<K, V> Shard<K, V, foldhash::fast::RandomState, AnyPolicy>
where
    K: Hash + Eq,
{
    /// A shard with a randomly seeded hasher and the configured policy.
    pub fn new(config: ShardConfig<K, V>) -> Self {
        Self::with_hasher(config, foldhash::fast::RandomState::default())
    }
}

impl<K, V, S> Shard<K, V, S, AnyPolicy>
where
    K: Hash + Eq,
    S: BuildHasher,
{
    /// A shard with the given hasher (the simulator uses a fixed seed for reproducible runs).
    pub fn with_hasher(config: ShardConfig<K, V>, hasher: S) -> Self {
        let policy = config.policy.build(config.capacity, config.seed);
        Self::with_policy(config, hasher, policy)
    }

    /// Switches to another eviction policy, keeping every entry: the new policy learns the
    /// residents in slot order (their recency and frequency history is not carried over), then
    /// evicts if it needs room. O(entries).
    pub fn set_policy(&mut self, kind: PolicyKind) {
        let seed = self.rng.below(usize::MAX) as u64;
        let mut policy = kind.build(self.capacity, seed);
        policy.reserve(self.len);
        for (slot, state) in self.slots.iter().enumerate() {
            if let SlotState::Occupied { key, weight, .. } = state {
                let hash = self.hasher.hash_one(key);
                policy.on_admit(hash, *weight);
                policy.on_insert(slot as Slot, hash, *weight);
            }
        }
        self.exclusive_hits = policy.exclusive_hits();
        self.policy = policy;
        self.evict_while(0);
    }
}

impl<K, V, S, P> Shard<K, V, S, P>
where
    K: Hash + Eq,
    S: BuildHasher,
    P: Policy,
{
    /// A shard driven by a policy object of the caller's (for policies outside [`PolicyKind`]).
    pub fn with_policy(config: ShardConfig<K, V>, hasher: S, mut policy: P) -> Self {
        policy.set_capacity(config.capacity);
        policy.reserve(config.reserve);
        let exclusive_hits = policy.exclusive_hits();
        Self {
            table: SlotTable::with_capacity(config.reserve),
            slots: Slab::with_capacity(config.reserve),
            free_head: NO_SLOT,
            len: 0,
            weighted: 0,
            capacity: config.capacity,
            policy,
            weigher: config.weigher,
            hasher,
            clock: config.clock,
            deadlines: Deadlines::default(),
            expiring: Vec::new(),
            ttl_entries: 0,
            departures: Departures::new(config.departure_cells),
            counters: Counters::default(),
            rng: SplitMix64::new(config.seed ^ 0xa076_1d64_78bd_642f),
            exclusive_hits,
            classify: config.classify,
            class_len: [0; CLASSES],
            class_ttl_len: [0; CLASSES],
            departure_log: config.departure_log,
        }
    }

    /// The hash this shard uses for `key`.
    #[inline]
    pub fn hash<Q: Hash + ?Sized>(&self, key: &Q) -> u64 {
        self.hasher.hash_one(key)
    }

    /// Resident entries (including expired ones not reclaimed yet).
    #[inline]
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether no entry is resident.
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Resident weight.
    #[inline]
    pub fn weighted_size(&self) -> u64 {
        self.weighted
    }

    /// The budget in weight units.
    #[inline]
    pub fn capacity(&self) -> u64 {
        self.capacity
    }

    /// The policy (for introspection).
    pub fn policy(&self) -> &P {
        &self.policy
    }

    /// The clock this shard reads.
    pub fn clock(&self) -> &Arc<dyn Clock> {
        &self.clock
    }

    #[inline]
    fn find<Q>(&self, hash: u64, key: &Q) -> Option<Slot>
    where
        K: Borrow<Q>,
        Q: Eq + ?Sized,
    {
        let slots = &self.slots;
        self.table.find(hash, |s| match &slots[s as usize] {
            SlotState::Occupied { key: k, .. } => k.borrow() == key,
            SlotState::Vacant { .. } => false,
        })
    }

    /// Prefetch, first step: asks for the index group of `hash` (see [`crate::prefetch`]).
    #[inline]
    pub fn prefetch_index(&self, hash: u64) {
        self.table.prefetch(hash);
    }

    /// Prefetch, second step (once the group has arrived): asks for the slot whose tag matches
    /// `hash` in its home group.
    #[inline]
    pub fn prefetch_slot(&self, hash: u64) {
        if let Some(slot) = self.likely_entry(hash) {
            crate::prefetch::prefetch(slot);
        }
    }

    /// Prefetch, third step (once the slot has arrived): shows `prefetch` the value of the slot
    /// whose tag matches `hash`, for it to ask for what the value points to.
    #[inline]
    pub fn prefetch_value(&self, hash: u64, prefetch: impl FnOnce(&V)) {
        if let Some(SlotState::Occupied { value, .. }) = self.likely_entry(hash) {
            prefetch(value);
        }
    }

    /// The slot [`SlotTable::likely_slot`] names for `hash` (its key unchecked).
    #[inline]
    fn likely_entry(&self, hash: u64) -> Option<&SlotState<K, V>> {
        self.slots.get(self.table.likely_slot(hash)? as usize)
    }

    #[inline]
    fn is_expired(&self, expires_at: Timestamp) -> bool {
        expires_at != NEVER && expires_at <= self.clock.now()
    }

    /// The deadline of `slot` given its `has_deadline` flag ([`NEVER`] without a page lookup).
    #[inline]
    fn deadline_of(&self, slot: Slot, has_deadline: bool) -> Timestamp {
        if has_deadline {
            self.deadlines.get(slot)
        } else {
            NEVER
        }
    }

    /// The deadline of a resident slot ([`NEVER`] for a vacant one).
    fn slot_deadline(&self, slot: Slot) -> Timestamp {
        match &self.slots[slot as usize] {
            SlotState::Occupied { has_deadline, .. } => self.deadline_of(slot, *has_deadline),
            SlotState::Vacant { .. } => NEVER,
        }
    }

    /// Looks `key` up and records the access: the single-threaded read path.
    pub fn get<Q>(&mut self, key: &Q) -> Option<&V>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        let hash = self.hash(key);
        self.get_hashed(hash, key)
    }

    /// [`Shard::get`] with the key's hash already computed by [`Shard::hash`].
    pub fn get_hashed<Q>(&mut self, hash: u64, key: &Q) -> Option<&V>
    where
        K: Borrow<Q>,
        Q: Eq + ?Sized,
    {
        let Some(slot) = self.find(hash, key) else {
            let reason = self.departures.reason(hash);
            self.counters.miss(reason);
            self.policy.on_miss(hash);
            return None;
        };
        if self.is_expired_slot(slot) {
            self.counters.miss(MissReason::Expired);
            self.detach(slot, hash, Departure::Expired);
            self.policy.on_miss(hash);
            return None;
        }
        if self.exclusive_hits {
            self.policy.on_access(slot, hash);
        }
        Counters::bump(&self.counters.hits);
        match &self.slots[slot as usize] {
            SlotState::Occupied { value, access, .. } => {
                bump_access(access);
                Some(value)
            }
            SlotState::Vacant { .. } => None,
        }
    }

    /// Looks `key` up with shared access only: counts the hit or miss and records the access with
    /// atomics where the policy can; see [`SharedLookup`].
    #[inline]
    pub fn get_shared<Q>(&self, hash: u64, key: &Q) -> SharedLookup<'_, V>
    where
        K: Borrow<Q>,
        Q: Eq + ?Sized,
    {
        let Some(slot) = self.find(hash, key) else {
            let reason = self.departures.reason(hash);
            self.counters.miss(reason);
            return SharedLookup::Miss(reason);
        };
        match &self.slots[slot as usize] {
            SlotState::Occupied {
                value,
                has_deadline,
                access,
                ..
            } => {
                if *has_deadline && self.is_expired(self.deadlines.get(slot)) {
                    self.counters.miss(MissReason::Expired);
                    return SharedLookup::Expired;
                }
                Counters::bump(&self.counters.hits);
                bump_access(access);
                SharedLookup::Hit {
                    value,
                    buffer: self.exclusive_hits.then_some(slot),
                }
            }
            SlotState::Vacant { .. } => SharedLookup::Miss(MissReason::NeverCached),
        }
    }

    /// Replays a hit that was buffered under a shared lock. Stale slots (vacated since) are
    /// ignored; a slot reused by another key credits that key, a harmless inaccuracy.
    #[inline]
    pub fn replay_hit(&mut self, slot: Slot) {
        if self.exclusive_hits
            && let Some(SlotState::Occupied { key, .. }) = self.slots.get(slot as usize)
        {
            let hash = self.hasher.hash_one(key);
            self.policy.on_access(slot, hash);
        }
    }

    /// Removes `key` if it is resident and expired (after [`SharedLookup::Expired`]).
    pub fn reap_expired<Q>(&mut self, hash: u64, key: &Q)
    where
        K: Borrow<Q>,
        Q: Eq + ?Sized,
    {
        if let Some(slot) = self.find(hash, key)
            && self.is_expired_slot(slot)
        {
            self.detach(slot, hash, Departure::Expired);
        }
    }

    /// The slot, value and deadline of a live entry, without side effects.
    #[inline]
    fn live<Q>(&self, hash: u64, key: &Q) -> Option<(Slot, &V, Timestamp)>
    where
        K: Borrow<Q>,
        Q: Eq + ?Sized,
    {
        let slot = self.find(hash, key)?;
        match &self.slots[slot as usize] {
            SlotState::Occupied {
                value,
                has_deadline,
                ..
            } => {
                let expires_at = self.deadline_of(slot, *has_deadline);
                (!self.is_expired(expires_at)).then_some((slot, value, expires_at))
            }
            SlotState::Vacant { .. } => None,
        }
    }

    /// Whether `key` is resident and live. Records no access and counts no lookup.
    pub fn contains<Q>(&self, hash: u64, key: &Q) -> bool
    where
        K: Borrow<Q>,
        Q: Eq + ?Sized,
    {
        self.live(hash, key).is_some()
    }

    /// A live entry's value and deadline ([`NEVER`] for none), in one probe, without recording an
    /// access or counting a lookup.
    pub fn peek_entry<Q>(&self, hash: u64, key: &Q) -> Option<(&V, Timestamp)>
    where
        K: Borrow<Q>,
        Q: Eq + ?Sized,
    {
        self.live(hash, key)
            .map(|(_, value, deadline)| (value, deadline))
    }

    /// Reads a live entry without recording an access or counting a lookup.
    pub fn peek<Q>(&self, hash: u64, key: &Q) -> Option<&V>
    where
        K: Borrow<Q>,
        Q: Eq + ?Sized,
    {
        self.live(hash, key).map(|(_, value, _)| value)
    }

    /// The deadline of a live entry: `Some(NEVER)` when it has no TTL, `None` when absent.
    pub fn deadline<Q>(&self, hash: u64, key: &Q) -> Option<Timestamp>
    where
        K: Borrow<Q>,
        Q: Eq + ?Sized,
    {
        self.live(hash, key).map(|(_, _, deadline)| deadline)
    }

    /// Stores `key → value` without a TTL. See [`Shard::insert_hashed`].
    pub fn insert(&mut self, key: K, value: V) -> Result<Option<V>, InsertError> {
        let hash = self.hash(&key);
        self.insert_hashed(hash, key, value, NEVER)
    }

    /// Stores `key → value`, expiring `ttl` from now.
    pub fn insert_with_ttl(
        &mut self,
        key: K,
        value: V,
        ttl: Duration,
    ) -> Result<Option<V>, InsertError> {
        let hash = self.hash(&key);
        let deadline = deadline_after(self.clock.now(), ttl);
        self.insert_hashed(hash, key, value, deadline)
    }

    /// Stores `key → value` with an absolute deadline ([`NEVER`] for none), then evicts until the
    /// shard fits its budget. Returns the value it replaced, if a live one was resident.
    ///
    /// An entry heavier than the whole budget is refused and any previous value stays.
    pub fn insert_hashed(
        &mut self,
        hash: u64,
        key: K,
        value: V,
        expires_at: Timestamp,
    ) -> Result<Option<V>, InsertError> {
        let weight = self.weigh(&key, &value)?;
        if self.ttl_entries > 0 {
            self.expire_sample(SAMPLES_PER_WRITE);
        }
        if let Some(slot) = self.find(hash, &key) {
            let replaced = self.replace(slot, hash, value, expires_at, weight);
            self.evict_while(0);
            return Ok(replaced);
        }
        self.insert_new(hash, key, value, expires_at, weight)?;
        Ok(None)
    }

    /// Admits a key known to be absent, evicting first to make room.
    fn insert_new(
        &mut self,
        hash: u64,
        key: K,
        value: V,
        expires_at: Timestamp,
        weight: u32,
    ) -> Result<(), InsertError> {
        if self.slots.len() >= (NO_SLOT - 1) as usize && self.free_head == NO_SLOT {
            return Err(InsertError::Full);
        }
        self.policy.on_admit(hash, weight);
        self.evict_while(weight);
        self.add(hash, key, value, expires_at, weight);
        Ok(())
    }

    /// The weight `value` would have under `key`, or the error if it exceeds the whole budget.
    fn weigh(&self, key: &K, value: &V) -> Result<u32, InsertError> {
        let weight = self.weigher.weigh(key, value).max(1);
        if u64::from(weight) > self.capacity {
            return Err(InsertError::TooLarge {
                weight,
                capacity: self.capacity,
            });
        }
        Ok(weight)
    }

    /// Reads, changes, creates or removes the entry of `key` in one step under this shard's
    /// exclusive access: the read-modify-write primitive behind commands such as `INCR`,
    /// `APPEND` or `SET ... NX GET`.
    ///
    /// `update` gets the live entry (an expired one is reclaimed first and counts as absent), may
    /// change its value and deadline in place, and says what happened with a [`Compute`]. A new
    /// key is built with `make_key` only when [`Compute::Put`] creates an entry. Changing an
    /// entry counts as an update (not a lookup) and as an access for the policy.
    ///
    /// If the entry, as changed or put, weighs more than the whole budget, it is refused with
    /// [`InsertError::TooLarge`]: a value changed in place is then removed (it cannot stay over
    /// budget), while a refused put leaves any previous value as it was.
    pub fn compute<Q, R>(
        &mut self,
        hash: u64,
        key: &Q,
        make_key: impl FnOnce(&Q) -> K,
        update: impl FnOnce(Option<EntryMut<'_, V>>) -> (Compute<V>, R),
    ) -> Result<R, InsertError>
    where
        K: Borrow<Q>,
        Q: Eq + ?Sized,
    {
        if self.ttl_entries > 0 {
            self.expire_sample(SAMPLES_PER_WRITE);
        }
        let mut slot = self.find(hash, key);
        if let Some(s) = slot
            && self.is_expired_slot(s)
        {
            self.detach(s, hash, Departure::Expired);
            slot = None;
        }
        let Some(slot) = slot else {
            let (action, result) = update(None);
            if let Compute::Put(value, expires_at) = action {
                let key = make_key(key);
                let weight = self.weigh(&key, &value)?;
                self.insert_new(hash, key, value, expires_at, weight)?;
            }
            return Ok(result);
        };
        let previous = self.slot_deadline(slot);
        let mut deadline = previous;
        let (action, result) = match &mut self.slots[slot as usize] {
            SlotState::Occupied { value, .. } => update(Some(EntryMut {
                value,
                expires_at: &mut deadline,
            })),
            SlotState::Vacant { .. } => return Ok(update(None).1),
        };
        match action {
            Compute::Keep => {
                if deadline != previous {
                    self.store_deadline(slot, previous, deadline);
                }
            }
            Compute::Remove => {
                self.detach(slot, hash, Departure::Removed);
            }
            Compute::Put(value, expires_at) => {
                let weight = match &self.slots[slot as usize] {
                    SlotState::Occupied { key, .. } => self.weigh(key, &value)?,
                    SlotState::Vacant { .. } => return Ok(result),
                };
                self.replace(slot, hash, value, expires_at, weight);
                self.evict_while(0);
            }
            Compute::Updated => {
                let (weight, old_weight) = match &self.slots[slot as usize] {
                    SlotState::Occupied {
                        key,
                        value,
                        weight,
                        access,
                        ..
                    } => {
                        bump_access(access);
                        (self.weigh(key, value), *weight)
                    }
                    SlotState::Vacant { .. } => return Ok(result),
                };
                let weight = match weight {
                    Ok(weight) => weight,
                    Err(error) => {
                        self.detach(slot, hash, Departure::Evicted);
                        return Err(error);
                    }
                };
                if let SlotState::Occupied { weight: w, .. } = &mut self.slots[slot as usize] {
                    *w = weight;
                }
                self.weighted = self.weighted - u64::from(old_weight) + u64::from(weight);
                self.store_deadline(slot, previous, deadline);
                if old_weight != weight {
                    self.policy.on_reweigh(slot, old_weight, weight);
                }
                if self.exclusive_hits {
                    self.policy.on_access(slot, hash);
                }
                Counters::bump(&self.counters.updates);
                self.evict_while(0);
            }
        }
        Ok(result)
    }

    fn replace(
        &mut self,
        slot: Slot,
        hash: u64,
        new: V,
        expires_at: Timestamp,
        weight: u32,
    ) -> Option<V> {
        let previous = self.slot_deadline(slot);
        let now_expired = self.is_expired(previous);
        let SlotState::Occupied {
            value,
            weight: old_weight,
            access,
            ..
        } = &mut self.slots[slot as usize]
        else {
            return None;
        };
        bump_access(access);
        let old = std::mem::replace(value, new);
        let old_weight = std::mem::replace(old_weight, weight);
        self.weighted = self.weighted - u64::from(old_weight) + u64::from(weight);
        self.store_deadline(slot, previous, expires_at);
        if old_weight != weight {
            self.policy.on_reweigh(slot, old_weight, weight);
        }
        if self.exclusive_hits {
            self.policy.on_access(slot, hash);
        }
        Counters::bump(&self.counters.updates);
        self.counters
            .inserted_weight
            .fetch_add(u64::from(weight), Relaxed);
        // An expired value being overwritten was not live: it is not "replaced".
        (!now_expired).then_some(old)
    }

    fn is_expired_slot(&self, slot: Slot) -> bool {
        self.is_expired(self.slot_deadline(slot))
    }

    #[inline]
    fn class_of(&self, key: &K) -> usize {
        self.classify.map_or(0, |classify| classify(key) % CLASSES)
    }

    fn add(&mut self, hash: u64, key: K, value: V, expires_at: Timestamp, weight: u32) {
        let class = self.class_of(&key);
        self.class_len[class] += 1;
        let occupied = SlotState::Occupied {
            key,
            value,
            weight,
            access: AtomicU8::new(0),
            has_deadline: expires_at != NEVER,
        };
        let slot = if self.free_head != NO_SLOT {
            let slot = self.free_head;
            if let SlotState::Vacant { next_free } = self.slots[slot as usize] {
                self.free_head = next_free;
            }
            self.slots[slot as usize] = occupied;
            slot
        } else {
            self.slots.push(occupied);
            self.departures.fit(2 * self.slots.len());
            (self.slots.len() - 1) as Slot
        };
        let (slots, hasher) = (&self.slots, &self.hasher);
        let rehash = |s: Slot| match &slots[s as usize] {
            SlotState::Occupied { key, .. } => hasher.hash_one(key),
            SlotState::Vacant { .. } => 0,
        };
        self.table.insert(hash, slot, rehash);
        // After mass removals, give the index's room back (O(len), once per many removals).
        self.table.shrink_if_sparse(rehash);
        self.len += 1;
        self.weighted += u64::from(weight);
        if expires_at != NEVER {
            self.deadlines.set(slot, expires_at);
            self.ttl_entries += 1;
            self.class_ttl_len[class] += 1;
            self.expiring.push(slot);
        }
        self.policy.on_insert(slot, hash, weight);
        Counters::bump(&self.counters.insertions);
        self.counters
            .inserted_weight
            .fetch_add(u64::from(weight), Relaxed);
    }

    /// Evicts until `incoming` more weight fits in the budget.
    fn evict_while(&mut self, incoming: u32) {
        while self.weighted + u64::from(incoming) > self.capacity {
            let view = View {
                slots: &self.slots,
                hasher: &self.hasher,
            };
            let Some(victim) = self.policy.victim(&view) else {
                break;
            };
            let hash = view.hash(victim);
            self.release(victim, hash, Departure::Evicted);
        }
    }

    /// Removes a resident slot for `cause`, telling the policy (unless it chose the slot itself).
    fn detach(&mut self, slot: Slot, hash: u64, cause: Departure) -> Option<V> {
        let weight = match &self.slots[slot as usize] {
            SlotState::Occupied { weight, .. } => *weight,
            SlotState::Vacant { .. } => return None,
        };
        self.policy.on_remove(slot, weight);
        self.release(slot, hash, cause)
    }

    /// Frees a slot the policy no longer tracks.
    fn release(&mut self, slot: Slot, hash: u64, cause: Departure) -> Option<V> {
        let state = std::mem::replace(
            &mut self.slots[slot as usize],
            SlotState::Vacant {
                next_free: self.free_head,
            },
        );
        let SlotState::Occupied {
            key,
            value,
            weight,
            has_deadline,
            ..
        } = state
        else {
            self.slots[slot as usize] = state;
            return None;
        };
        let class = self.class_of(&key);
        self.class_len[class] -= 1;
        self.free_head = slot;
        self.table.remove(hash, slot);
        self.len -= 1;
        self.weighted -= u64::from(weight);
        if has_deadline {
            self.deadlines.set(slot, NEVER);
            self.ttl_entries -= 1;
            self.class_ttl_len[class] -= 1;
        }
        self.departures.record(hash, cause);
        self.counters.departed(cause, weight);
        if let Some(log) = &self.departure_log {
            log.record(key, cause);
        }
        Some(value)
    }

    /// Removes `key`, returning its value if a live entry was resident.
    pub fn remove<Q>(&mut self, key: &Q) -> Option<V>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        let hash = self.hash(key);
        self.remove_hashed(hash, key)
    }

    /// [`Shard::remove`] with the hash already computed.
    pub fn remove_hashed<Q>(&mut self, hash: u64, key: &Q) -> Option<V>
    where
        K: Borrow<Q>,
        Q: Eq + ?Sized,
    {
        let slot = self.find(hash, key)?;
        if self.is_expired_slot(slot) {
            self.detach(slot, hash, Departure::Expired);
            return None;
        }
        self.detach(slot, hash, Departure::Removed)
    }

    /// Sets or clears (`NEVER`) the deadline of a live entry; `false` if there is none.
    pub fn set_deadline<Q>(&mut self, hash: u64, key: &Q, expires_at: Timestamp) -> bool
    where
        K: Borrow<Q>,
        Q: Eq + ?Sized,
    {
        let Some(slot) = self.find(hash, key) else {
            return false;
        };
        if self.is_expired_slot(slot) {
            self.detach(slot, hash, Departure::Expired);
            return false;
        }
        let previous = self.slot_deadline(slot);
        self.store_deadline(slot, previous, expires_at);
        true
    }

    /// Changes a resident slot's deadline from `previous` (what it was) to `now`: its flag, its
    /// place in [`Deadlines`], the TTL counts and the TTL index.
    fn store_deadline(&mut self, slot: Slot, previous: Timestamp, now: Timestamp) {
        let class = match &self.slots[slot as usize] {
            SlotState::Occupied { key, .. } => self.class_of(key),
            SlotState::Vacant { .. } => return,
        };
        if let SlotState::Occupied { has_deadline, .. } = &mut self.slots[slot as usize] {
            *has_deadline = now != NEVER;
        }
        if now != previous {
            self.deadlines.set(slot, now);
        }
        match (previous != NEVER, now != NEVER) {
            (false, true) => {
                self.ttl_entries += 1;
                self.class_ttl_len[class] += 1;
                self.expiring.push(slot);
            }
            (true, false) => {
                self.ttl_entries -= 1;
                self.class_ttl_len[class] -= 1;
            }
            // Still indexed: the index holds slots and sampling reads the current deadline.
            (true, true) | (false, false) => {}
        }
    }

    /// Removes every entry. Statistics are kept; the departure memory is forgotten.
    pub fn clear(&mut self) {
        self.table.clear();
        self.slots.clear();
        self.free_head = NO_SLOT;
        self.len = 0;
        self.weighted = 0;
        self.deadlines.clear();
        self.expiring.clear();
        self.ttl_entries = 0;
        self.departures.clear();
        self.policy.clear();
        self.class_len = [0; CLASSES];
        self.class_ttl_len = [0; CLASSES];
    }

    /// Resident entries of key class `class` (see [`ShardConfig::classify`]).
    pub fn class_len(&self, class: usize) -> usize {
        self.class_len.get(class).copied().unwrap_or(0)
    }

    /// Resident entries of key class `class` that carry a TTL (expired ones not reclaimed yet
    /// included).
    pub fn class_ttl_len(&self, class: usize) -> usize {
        self.class_ttl_len.get(class).copied().unwrap_or(0)
    }

    /// Changes the budget, evicting at once if the shard no longer fits.
    pub fn set_capacity(&mut self, capacity: u64) {
        self.capacity = capacity;
        self.policy.set_capacity(capacity);
        self.evict_while(0);
    }

    /// Samples up to `samples` entries from the TTL index and reclaims the expired ones: the
    /// active-expiry step (see the crate docs for why sampling). Returns how many it reclaimed.
    pub fn expire_sample(&mut self, samples: usize) -> usize {
        if self.expiring.is_empty() {
            return 0;
        }
        // The index holds stale and duplicate slots; rebuild it when they dominate.
        if self.expiring.len() > 2 * self.ttl_entries + 64 {
            self.expiring = self
                .slots
                .iter()
                .enumerate()
                .filter_map(|(slot, state)| match state {
                    SlotState::Occupied {
                        has_deadline: true, ..
                    } => Some(slot as Slot),
                    _ => None,
                })
                .collect();
        }
        let now = self.clock.now();
        let mut reclaimed = 0;
        for _ in 0..samples {
            if self.expiring.is_empty() {
                break;
            }
            let at = self.rng.below(self.expiring.len());
            let slot = self.expiring[at];
            let (expired, hash) = match &self.slots[slot as usize] {
                SlotState::Occupied {
                    has_deadline: true,
                    key,
                    ..
                } => (self.deadlines.get(slot) <= now, self.hasher.hash_one(key)),
                _ => {
                    self.expiring.swap_remove(at);
                    continue;
                }
            };
            if expired {
                self.expiring.swap_remove(at);
                self.detach(slot, hash, Departure::Expired);
                reclaimed += 1;
            }
        }
        reclaimed
    }

    /// Entries carrying a TTL.
    pub fn ttl_entries(&self) -> usize {
        self.ttl_entries
    }

    /// The best victim among about `samples` entries carrying a TTL, ranked by `rank`, or `None`
    /// when the shard has none: the sampling step of the server's `volatile-*` policies, which
    /// evict only keys with a TTL. Reads only (the caller holds the shard's shared lock); `draw`
    /// seeds the sample. A shard whose TTL index is small is examined whole, so the choice is
    /// exact there; otherwise `samples` random index positions are read (Redis samples 5), and
    /// if all of them were stale the index is walked until a live one is found. An expired entry
    /// is always the best candidate.
    pub fn volatile_candidate(
        &self,
        samples: usize,
        rank: VolatileRank,
        draw: u64,
    ) -> Option<VolatileCandidate> {
        if self.ttl_entries == 0 || self.expiring.is_empty() {
            return None;
        }
        let now = self.clock.now();
        let mut rng = SplitMix64::new(draw);
        let score_of = |slot: Slot, rng: &mut SplitMix64| -> Option<VolatileCandidate> {
            let SlotState::Occupied {
                key,
                has_deadline: true,
                access,
                ..
            } = &self.slots[slot as usize]
            else {
                return None;
            };
            let expires_at = self.deadlines.get(slot);
            let score = if expires_at <= now {
                0
            } else {
                match rank {
                    VolatileRank::NearestDeadline => expires_at,
                    VolatileRank::LeastAccessed => {
                        (u64::from(access.load(Relaxed)) << 56) | expires_at.min((1 << 56) - 1)
                    }
                    VolatileRank::Random => 1 + (rng.next_u64() >> 1),
                }
            };
            Some(VolatileCandidate {
                score,
                slot,
                hash: self.hasher.hash_one(key),
            })
        };
        let mut best: Option<VolatileCandidate> = None;
        let mut consider = |candidate: Option<VolatileCandidate>| {
            if let Some(c) = candidate
                && best.is_none_or(|b| c.score < b.score)
            {
                best = Some(c);
            }
        };
        let n = self.expiring.len();
        if n <= samples.max(1) * 2 {
            for &slot in &self.expiring {
                consider(score_of(slot, &mut rng));
            }
        } else {
            let mut found = false;
            for _ in 0..samples.max(1) {
                let slot = self.expiring[rng.below(n)];
                let c = score_of(slot, &mut rng);
                found |= c.is_some();
                consider(c);
            }
            if !found {
                for &slot in &self.expiring {
                    let c = score_of(slot, &mut rng);
                    if c.is_some() {
                        consider(c);
                        break;
                    }
                }
            }
        }
        best
    }

    /// Evicts the entry `candidate` names (from [`Shard::volatile_candidate`]) if it is still
    /// resident with a TTL; returns its weight. An entry found expired counts as expired, not
    /// evicted.
    pub fn evict_candidate(&mut self, candidate: VolatileCandidate) -> Option<u32> {
        let (weight, expired) = match self.slots.get(candidate.slot as usize)? {
            SlotState::Occupied {
                key,
                weight,
                has_deadline: true,
                ..
            } if self.hasher.hash_one(key) == candidate.hash => {
                (*weight, self.is_expired(self.deadlines.get(candidate.slot)))
            }
            _ => return None,
        };
        let cause = if expired {
            Departure::Expired
        } else {
            Departure::Evicted
        };
        self.detach(candidate.slot, candidate.hash, cause)?;
        Some(weight)
    }

    /// Collects live entries from slot `cursor` on, stopping after `count` slots have been
    /// visited; returns the next cursor, or `None` when the end was reached. An entry resident for
    /// the whole of a scan is returned exactly once: entries never move between slots.
    pub fn scan(&self, cursor: u32, count: usize, out: &mut Vec<(K, V)>) -> Option<u32>
    where
        K: Clone,
        V: Clone,
    {
        self.scan_with(cursor, count, |key, value, _| {
            out.push((key.clone(), value.clone()));
        })
    }

    /// [`Shard::scan`] that hands each live entry and its deadline to `visit` instead of
    /// cloning it.
    pub fn scan_with(
        &self,
        cursor: u32,
        count: usize,
        mut visit: impl FnMut(&K, &V, Timestamp),
    ) -> Option<u32> {
        let start = cursor as usize;
        let end = start.saturating_add(count.max(1)).min(self.slots.len());
        for slot in start..end {
            if let SlotState::Occupied {
                key,
                value,
                has_deadline,
                ..
            } = &self.slots[slot]
            {
                let expires_at = self.deadline_of(slot as Slot, *has_deadline);
                if !self.is_expired(expires_at) {
                    visit(key, value, expires_at);
                }
            }
        }
        (end < self.slots.len()).then_some(end as u32)
    }

    /// Removes every entry for which `keep` is false; returns how many it removed.
    pub fn retain(&mut self, mut keep: impl FnMut(&K, &V) -> bool) -> usize {
        let mut removed = 0;
        for slot in 0..self.slots.len() {
            let hash = match &self.slots[slot] {
                SlotState::Occupied { key, value, .. } if !keep(key, value) => {
                    self.hasher.hash_one(key)
                }
                _ => continue,
            };
            let cause = if self.is_expired_slot(slot as Slot) {
                Departure::Expired
            } else {
                removed += 1;
                Departure::Removed
            };
            self.detach(slot as Slot, hash, cause);
        }
        removed
    }

    /// A live entry chosen at random among those `accept` takes (uniform over slots, probing
    /// forward from a random one), or `None` if there is none.
    pub fn random_entry(&mut self, mut accept: impl FnMut(&K) -> bool) -> Option<(&K, &V)> {
        let n = self.slots.len();
        if self.len == 0 || n == 0 {
            return None;
        }
        let start = self.rng.below(n);
        let now = self.clock.now();
        let found = (0..n)
            .map(|i| (start + i) % n)
            .find(|&i| match &self.slots[i] {
                SlotState::Occupied {
                    key, has_deadline, ..
                } => (!*has_deadline || self.deadlines.get(i as Slot) > now) && accept(key),
                SlotState::Vacant { .. } => false,
            })?;
        match &self.slots[found] {
            SlotState::Occupied { key, value, .. } => Some((key, value)),
            SlotState::Vacant { .. } => None,
        }
    }

    /// The access counter of a live entry (0 to [`ACCESS_MAX`]):
    /// hits since insertion or since the policy last reset it. Records nothing.
    pub fn access_count<Q>(&self, hash: u64, key: &Q) -> Option<u8>
    where
        K: Borrow<Q>,
        Q: Eq + ?Sized,
    {
        let (slot, _, _) = self.live(hash, key)?;
        match &self.slots[slot as usize] {
            SlotState::Occupied { access, .. } => Some(access.load(Relaxed)),
            SlotState::Vacant { .. } => None,
        }
    }

    /// The statistics of this shard.
    pub fn stats(&self) -> Snapshot {
        let mut s = Snapshot::default();
        self.add_stats(&mut s);
        s
    }

    pub(crate) fn add_stats(&self, s: &mut Snapshot) {
        self.counters.add_to(s);
        s.entries += self.len as u64;
        s.weighted_size += self.weighted;
        s.capacity += self.capacity;
    }

    /// Zeroes the counters.
    pub fn reset_stats(&self) {
        self.counters.reset();
    }

    /// Heap bytes held by the shard's structures, excluding what keys and values own on the heap.
    pub fn heap_bytes(&self) -> usize {
        self.slots.heap_bytes()
            + self.table.heap_bytes()
            + self.deadlines.heap_bytes()
            + self.expiring.capacity() * 4
            + self.departures.heap_bytes()
            + self.policy.heap_bytes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_u64_entry_costs_8_bytes_beyond_key_and_value() {
        // key 8 + value 8 + weight 4 + access counter 1 + deadline flag 1, tag in the padding;
        // a deadline, when there is one, lives in the shard's `Deadlines` pages.
        assert_eq!(std::mem::size_of::<SlotState<u64, u64>>(), 24);
    }

    /// A 16-entry shard whose clock stands at 1,000 ms until advanced.
    fn shard_on_manual_clock() -> (Arc<crate::clock::ManualClock>, Shard<u64, u64>) {
        let clock = Arc::new(crate::clock::ManualClock::new(1_000));
        let mut config = ShardConfig::entries(16);
        config.clock = clock.clone();
        (clock, Shard::new(config))
    }

    #[test]
    fn a_reused_slot_does_not_inherit_the_deadline_of_its_last_entry() {
        let (clock, mut shard) = shard_on_manual_clock();
        shard.insert_hashed(shard.hash(&1), 1, 10, 2_000).unwrap();
        assert_eq!(shard.remove(&1), Some(10));
        shard.insert_hashed(shard.hash(&2), 2, 20, NEVER).unwrap();
        clock.advance(Duration::from_secs(10));
        assert_eq!(
            shard.get(&2),
            Some(&20),
            "key 2 took key 1's slot and has no deadline"
        );
        assert_eq!(shard.ttl_entries(), 0);
        let page = crate::deadlines::PAGE * size_of::<Timestamp>();
        assert!(
            shard.deadlines.heap_bytes() < page,
            "the emptied page was freed"
        );
    }

    #[test]
    fn a_deadline_set_and_cleared_in_place_is_kept_exactly() {
        let (clock, mut shard) = shard_on_manual_clock();
        let hash = shard.hash(&1);
        shard.insert_hashed(hash, 1, 10, NEVER).unwrap();
        // Redis accepts deadlines up to the i64 range; they are stored as given.
        assert!(shard.set_deadline(hash, &1, u64::MAX - 1));
        assert_eq!(
            shard.live(hash, &1).map(|(_, _, at)| at),
            Some(u64::MAX - 1)
        );
        shard
            .compute(
                hash,
                &1,
                |k| *k,
                |entry| {
                    *entry.unwrap().expires_at = 1_500;
                    (Compute::Updated, ())
                },
            )
            .unwrap();
        assert_eq!(shard.ttl_entries(), 1);
        clock.advance(Duration::from_secs(1));
        assert_eq!(shard.get(&1), None, "expired at 1,500");
        assert_eq!(shard.ttl_entries(), 0);
    }
}
