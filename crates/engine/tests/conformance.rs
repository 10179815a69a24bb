//! Conformance: one harness, run for every policy in `PolicyKind::ALL`, through a single-threaded
//! `Shard` and through a `Store` (one shard and four shards), with capacity counted in entries and
//! in bytes. Then per-policy behaviour: which entry each policy evicts.

use larder_engine::{InsertError, ManualClock, PolicyKind, Shard, ShardConfig, Snapshot, Store};
use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::Arc;
use std::time::Duration;

mod common;
use common::Rng;

type Val = Vec<u8>;

/// The byte weigher: an 8-byte key plus the value's bytes.
fn weigh_bytes(_key: &u64, value: &Val) -> u32 {
    8 + value.len() as u32
}

/// A value of `len` bytes (at least 12) that names its key and a version.
fn val(key: u64, version: u32, len: usize) -> Val {
    let mut v = Vec::with_capacity(len.max(12));
    v.extend_from_slice(&key.to_le_bytes());
    v.extend_from_slice(&version.to_le_bytes());
    v.resize(len.max(12), 0xab);
    v
}

fn key_of(value: &Val) -> u64 {
    u64::from_le_bytes(value[..8].try_into().expect("a value starts with its key"))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Backend {
    Shard,
    Store { shards: usize },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Weight {
    Entries,
    Bytes,
}

#[derive(Debug, Clone, Copy)]
struct Setup {
    backend: Backend,
    policy: PolicyKind,
    weight: Weight,
}

/// What the harness needs from a cache; implemented by `Shard` and `Store`.
trait Cache {
    fn get(&mut self, key: u64) -> Option<Val>;
    fn peek(&self, key: u64) -> Option<Val>;
    fn contains(&self, key: u64) -> bool;
    fn insert(&mut self, key: u64, value: Val) -> Result<Option<Val>, InsertError>;
    fn insert_with_ttl(
        &mut self,
        key: u64,
        value: Val,
        ttl: Duration,
    ) -> Result<Option<Val>, InsertError>;
    fn remove(&mut self, key: u64) -> Option<Val>;
    fn len(&self) -> usize;
    fn weighted_size(&self) -> u64;
    fn capacity(&self) -> u64;
    fn stats(&self) -> Snapshot;
    fn clear(&mut self);
    /// Every live entry, through the paged scan with pages of `page`.
    fn scan_all(&self, page: usize) -> Vec<(u64, Val)>;
    /// Active expiry (`expire_sample` / `expire_cycle`); returns the entries reclaimed.
    fn expire_active(&mut self) -> usize;
}

impl Cache for Shard<u64, Val> {
    fn get(&mut self, key: u64) -> Option<Val> {
        Shard::get(self, &key).cloned()
    }
    fn peek(&self, key: u64) -> Option<Val> {
        Shard::peek(self, self.hash(&key), &key).cloned()
    }
    fn contains(&self, key: u64) -> bool {
        Shard::contains(self, self.hash(&key), &key)
    }
    fn insert(&mut self, key: u64, value: Val) -> Result<Option<Val>, InsertError> {
        Shard::insert(self, key, value)
    }
    fn insert_with_ttl(
        &mut self,
        key: u64,
        value: Val,
        ttl: Duration,
    ) -> Result<Option<Val>, InsertError> {
        Shard::insert_with_ttl(self, key, value, ttl)
    }
    fn remove(&mut self, key: u64) -> Option<Val> {
        Shard::remove(self, &key)
    }
    fn len(&self) -> usize {
        Shard::len(self)
    }
    fn weighted_size(&self) -> u64 {
        Shard::weighted_size(self)
    }
    fn capacity(&self) -> u64 {
        Shard::capacity(self)
    }
    fn stats(&self) -> Snapshot {
        Shard::stats(self)
    }
    fn clear(&mut self) {
        Shard::clear(self);
    }
    fn scan_all(&self, page: usize) -> Vec<(u64, Val)> {
        let mut out = Vec::new();
        let mut cursor = 0;
        while let Some(next) = self.scan(cursor, page, &mut out) {
            assert!(next > cursor, "the scan cursor must advance");
            cursor = next;
        }
        out
    }
    fn expire_active(&mut self) -> usize {
        self.expire_sample(10_000)
    }
}

impl Cache for Store<u64, Val> {
    fn get(&mut self, key: u64) -> Option<Val> {
        Store::get(self, &key)
    }
    fn peek(&self, key: u64) -> Option<Val> {
        Store::peek(self, &key)
    }
    fn contains(&self, key: u64) -> bool {
        Store::contains(self, &key)
    }
    fn insert(&mut self, key: u64, value: Val) -> Result<Option<Val>, InsertError> {
        Store::insert(self, key, value)
    }
    fn insert_with_ttl(
        &mut self,
        key: u64,
        value: Val,
        ttl: Duration,
    ) -> Result<Option<Val>, InsertError> {
        Store::insert_with_ttl(self, key, value, ttl)
    }
    fn remove(&mut self, key: u64) -> Option<Val> {
        Store::remove(self, &key)
    }
    fn len(&self) -> usize {
        Store::len(self)
    }
    fn weighted_size(&self) -> u64 {
        Store::weighted_size(self)
    }
    fn capacity(&self) -> u64 {
        Store::capacity(self)
    }
    fn stats(&self) -> Snapshot {
        Store::stats(self)
    }
    fn clear(&mut self) {
        Store::clear(self);
    }
    fn scan_all(&self, page: usize) -> Vec<(u64, Val)> {
        let mut out = Vec::new();
        let mut cursor = 0;
        loop {
            let (entries, next) = self.scan(cursor, page);
            out.extend(entries);
            if next == 0 {
                return out;
            }
            cursor = next;
        }
    }
    fn expire_active(&mut self) -> usize {
        // Each cycle samples at least one batch of 20 per shard holding TTL entries; a hundred
        // cycles find every expired entry among the few dozen these tests create.
        (0..100).map(|_| self.expire_cycle(10_000)).sum()
    }
}

/// Cells of departure memory per shard: enough that the few dozen departures a check attributes
/// almost never share a cell (a shared cell turns the older one's miss into "never cached").
const DEPARTURE_CELLS: usize = 1 << 16;

/// A cache under test, with the lookups the test made and the clock it drives.
struct Harness {
    setup: Setup,
    clock: Arc<ManualClock>,
    cache: Box<dyn Cache>,
    gets: u64,
    hits: u64,
}

impl Harness {
    fn new(setup: Setup, capacity: u64) -> Self {
        let clock = Arc::new(ManualClock::new(1_000_000));
        let cache: Box<dyn Cache> = match setup.backend {
            Backend::Shard => {
                let mut config = ShardConfig::entries(capacity)
                    .with_policy(setup.policy)
                    .with_clock(clock.clone());
                config.departure_cells = DEPARTURE_CELLS;
                if setup.weight == Weight::Bytes {
                    config = config.with_weigher(Arc::new(weigh_bytes));
                }
                Box::new(Shard::new(config))
            }
            Backend::Store { shards } => {
                let mut builder = Store::builder(capacity)
                    .shards(shards)
                    .departure_memory(DEPARTURE_CELLS * shards)
                    .policy(setup.policy)
                    .clock(clock.clone());
                if setup.weight == Weight::Bytes {
                    builder = builder.weigher(weigh_bytes);
                }
                let store = builder.build();
                assert_eq!(store.shard_count(), shards, "{setup:?}");
                Box::new(store)
            }
        };
        Self {
            setup,
            clock,
            cache,
            gets: 0,
            hits: 0,
        }
    }

    /// The capacity these tests use: 64 entries, or 4096 bytes.
    fn standard(setup: Setup) -> Self {
        Self::new(setup, Self::standard_capacity(setup.weight))
    }

    fn standard_capacity(weight: Weight) -> u64 {
        match weight {
            Weight::Entries => 64,
            Weight::Bytes => 4096,
        }
    }

    /// A capacity that nothing in these tests fills.
    fn roomy(setup: Setup) -> Self {
        Self::new(
            setup,
            match setup.weight {
                Weight::Entries => 10_000,
                Weight::Bytes => 10_000_000,
            },
        )
    }

    fn weigh(&self, value: &Val) -> u64 {
        match self.setup.weight {
            Weight::Entries => 1,
            Weight::Bytes => u64::from(weigh_bytes(&0, value)),
        }
    }

    /// A counted lookup; a value returned always belongs to the key looked up.
    fn get(&mut self, key: u64) -> Option<Val> {
        self.gets += 1;
        let value = self.cache.get(key);
        if let Some(v) = &value {
            self.hits += 1;
            assert_eq!(key_of(v), key, "{:?}: value of another key", self.setup);
        }
        value
    }

    fn advance(&self, ms: u64) {
        self.clock.advance(Duration::from_millis(ms));
    }

    /// Weight and entry count within the budget.
    fn check_bounds(&self) {
        let (weighted, capacity) = (self.cache.weighted_size(), self.cache.capacity());
        assert!(
            weighted <= capacity,
            "{:?}: weighted size {weighted} exceeds capacity {capacity}",
            self.setup
        );
        if self.setup.weight == Weight::Entries {
            assert!(self.cache.len() as u64 <= capacity, "{:?}", self.setup);
            assert_eq!(weighted, self.cache.len() as u64, "{:?}", self.setup);
        }
    }

    /// With no TTL in play: the resident weight is exactly the weight of what a scan returns.
    fn check_accounting(&self) {
        let entries = self.cache.scan_all(16);
        assert_eq!(entries.len(), self.cache.len(), "{:?}", self.setup);
        let sum: u64 = entries.iter().map(|(_, v)| self.weigh(v)).sum();
        assert_eq!(sum, self.cache.weighted_size(), "{:?}", self.setup);
    }

    /// `hits + misses` equals the lookups made, and the hits are the lookups that found a value.
    fn check_stats(&self) {
        let s = self.cache.stats();
        assert_eq!(s.lookups(), self.gets, "{:?}: {s:?}", self.setup);
        assert_eq!(s.hits, self.hits, "{:?}: {s:?}", self.setup);
    }
}

fn setups(policy: PolicyKind) -> Vec<Setup> {
    let mut out = Vec::new();
    for backend in [
        Backend::Shard,
        Backend::Store { shards: 1 },
        Backend::Store { shards: 4 },
    ] {
        for weight in [Weight::Entries, Weight::Bytes] {
            out.push(Setup {
                backend,
                policy,
                weight,
            });
        }
    }
    out
}

/// The harness: every conformance check for one policy, through every backend and weigher.
fn conformance(policy: PolicyKind) {
    for setup in setups(policy) {
        capacity_is_never_exceeded(setup);
        expired_entries_are_never_returned_and_reclaimed_unread(setup);
        removal_is_visible_at_once(setup);
        miss_reasons_are_attributed(setup);
        too_large_is_refused_and_old_value_kept(setup);
        replacing_updates_weight(setup);
        clear_empties(setup);
        scan_returns_every_live_entry_once(setup);
    }
}

#[test]
fn every_policy_conforms() {
    for policy in PolicyKind::ALL {
        conformance(policy);
    }
}

/// A random mix of writes and reads over more keys than fit; bounds after every operation.
fn capacity_is_never_exceeded(setup: Setup) {
    let mut h = Harness::standard(setup);
    let mut rng = Rng(0xc0ffee ^ setup.policy as u64);
    // The latest value written per key: whatever the cache returns must be that value.
    let mut latest: HashMap<u64, Val> = HashMap::new();
    let mut version = 0;
    for _ in 0..1500 {
        let key = rng.below(200);
        match rng.below(20) {
            0..=10 => {
                version += 1;
                // Entries of varying weight: 20 to 608 bytes with the byte weigher.
                let len = 12 + rng.below(589) as usize;
                let value = val(key, version, len);
                let replaced = h.cache.insert(key, value.clone()).expect("fits the budget");
                if let Some(old) = replaced {
                    assert_eq!(Some(&old), latest.get(&key), "{setup:?}: replaced value");
                }
                latest.insert(key, value);
            }
            11..=16 => {
                if let Some(v) = h.get(key) {
                    assert_eq!(Some(&v), latest.get(&key), "{setup:?}: stale value");
                }
            }
            17..=18 => {
                if let Some(v) = h.cache.remove(key) {
                    assert_eq!(Some(&v), latest.get(&key), "{setup:?}: removed value");
                }
                latest.remove(&key);
                assert!(!h.cache.contains(key), "{setup:?}");
            }
            _ => {
                if let Some(v) = h.cache.peek(key) {
                    assert_eq!(Some(&v), latest.get(&key), "{setup:?}: peeked value");
                }
            }
        }
        h.check_bounds();
        h.check_accounting();
    }
    let s = h.cache.stats();
    assert!(
        s.evictions > 0,
        "{setup:?}: the mix must overflow the cache"
    );
    assert_eq!(s.entries, h.cache.len() as u64, "{setup:?}");
    assert_eq!(s.weighted_size, h.cache.weighted_size(), "{setup:?}");
    h.check_stats();
}

fn expired_entries_are_never_returned_and_reclaimed_unread(setup: Setup) {
    let mut h = Harness::roomy(setup);
    // 40 keys expire after 100 ms, 10 after 10 s, 10 never.
    for k in 0..40 {
        h.cache
            .insert_with_ttl(k, val(k, 1, 20), Duration::from_millis(100))
            .expect("fits the budget");
    }
    for k in 40..50 {
        h.cache
            .insert_with_ttl(k, val(k, 1, 20), Duration::from_secs(10))
            .expect("fits the budget");
    }
    for k in 50..60 {
        h.cache.insert(k, val(k, 1, 20)).expect("fits the budget");
    }
    h.advance(99);
    for k in 0..60 {
        assert!(h.cache.contains(k), "{setup:?}: {k} is live for 1 ms more");
    }
    h.advance(1);
    for k in 0..40 {
        assert!(!h.cache.contains(k), "{setup:?}: {k} expired");
        assert_eq!(h.cache.peek(k), None, "{setup:?}: {k} expired");
    }
    let live: HashSet<u64> = h.cache.scan_all(7).into_iter().map(|(k, _)| k).collect();
    assert_eq!(
        live,
        (40..60).collect(),
        "{setup:?}: scan skips expired entries"
    );
    // Not read, still resident: active expiry reclaims them, and only them.
    assert_eq!(h.cache.len(), 60, "{setup:?}");
    let reclaimed = h.cache.expire_active();
    assert_eq!(reclaimed, 40, "{setup:?}");
    assert_eq!(h.cache.len(), 20, "{setup:?}");
    let s = h.cache.stats();
    assert_eq!(s.expirations, 40, "{setup:?}");
    assert_eq!(s.lookups(), 0, "{setup:?}: reclaimed without a read");
    for k in 40..60 {
        assert!(h.cache.contains(k), "{setup:?}: live {k} kept");
    }
    // Reads of reclaimed keys miss as expired (in the rare case that two of these keys share a
    // cell of the departure memory, the older one counts as never cached).
    for k in 0..40 {
        assert_eq!(h.get(k), None, "{setup:?}");
    }
    let m = h.cache.stats().misses;
    assert_eq!(m.expired + m.never_cached, 40, "{setup:?}");
    assert!(m.expired >= 38, "{setup:?}: {m:?}");
    let forgotten = m.never_cached;
    // A read of an expired but resident entry misses too, and reclaims it.
    h.advance(10_000);
    for k in 40..50 {
        assert_eq!(h.get(k), None, "{setup:?}: {k} expired");
    }
    assert_eq!(h.cache.len(), 10, "{setup:?}: lazily reclaimed on read");
    for k in 50..60 {
        assert_eq!(h.get(k), Some(val(k, 1, 20)), "{setup:?}");
    }
    let s = h.cache.stats();
    assert_eq!(
        (s.expirations, s.misses.expired),
        (50, 50 - forgotten),
        "{setup:?}"
    );
    h.check_stats();
    h.check_bounds();
}

fn removal_is_visible_at_once(setup: Setup) {
    let mut h = Harness::standard(setup);
    for k in 0..10 {
        h.cache.insert(k, val(k, 1, 30)).expect("fits the budget");
    }
    let (len, weighted) = (h.cache.len(), h.cache.weighted_size());
    assert_eq!(h.cache.remove(3), Some(val(3, 1, 30)), "{setup:?}");
    assert_eq!(h.get(3), None, "{setup:?}");
    assert!(!h.cache.contains(3), "{setup:?}");
    assert_eq!(h.cache.peek(3), None, "{setup:?}");
    assert_eq!(h.cache.len(), len - 1, "{setup:?}");
    assert_eq!(
        h.cache.weighted_size(),
        weighted - h.weigh(&val(3, 1, 30)),
        "{setup:?}"
    );
    assert!(
        h.cache.scan_all(3).iter().all(|(k, _)| *k != 3),
        "{setup:?}"
    );
    assert_eq!(h.cache.remove(3), None, "{setup:?}: removed twice");
    // Removing an expired entry returns nothing: it was not live.
    h.cache
        .insert_with_ttl(4, val(4, 2, 30), Duration::from_millis(5))
        .expect("fits the budget");
    h.advance(5);
    assert_eq!(h.cache.remove(4), None, "{setup:?}");
    assert!(!h.cache.contains(4), "{setup:?}");
    // Re-inserting a removed key works.
    assert_eq!(h.cache.insert(3, val(3, 3, 30)), Ok(None), "{setup:?}");
    assert_eq!(h.get(3), Some(val(3, 3, 30)), "{setup:?}");
    let s = h.cache.stats();
    assert_eq!((s.removals, s.expirations), (1, 1), "{setup:?}");
    h.check_stats();
}

fn miss_reasons_are_attributed(setup: Setup) {
    let mut h = Harness::roomy(setup);
    let misses = |h: &Harness| h.cache.stats().misses;
    // Each reason is checked with a single departure in memory (`clear` forgets departures), so
    // the attribution is exact.

    assert_eq!(h.get(1_000_000), None, "{setup:?}");
    assert_eq!(misses(&h).never_cached, 1, "{setup:?}");

    h.cache.insert(1, val(1, 1, 20)).expect("fits the budget");
    h.cache.remove(1);
    assert_eq!(h.get(1), None, "{setup:?}");
    assert_eq!(misses(&h).removed, 1, "{setup:?}");
    h.cache.clear();
    assert_eq!(h.get(1), None, "{setup:?}");
    assert_eq!(
        misses(&h).never_cached,
        2,
        "{setup:?}: clear forgets departures"
    );

    // Expired and still resident, then after the read reclaimed it.
    h.cache
        .insert_with_ttl(2, val(2, 1, 20), Duration::from_millis(50))
        .expect("fits the budget");
    h.advance(50);
    assert_eq!(h.get(2), None, "{setup:?}");
    assert_eq!(h.get(2), None, "{setup:?}");
    assert_eq!(misses(&h).expired, 2, "{setup:?}");
    h.cache.clear();

    // Reclaimed by active expiry, never read.
    h.cache
        .insert_with_ttl(3, val(3, 1, 20), Duration::from_millis(50))
        .expect("fits the budget");
    h.advance(50);
    assert_eq!(h.cache.expire_active(), 1, "{setup:?}");
    assert_eq!(h.get(3), None, "{setup:?}");
    assert_eq!(misses(&h).expired, 3, "{setup:?}");

    let m = misses(&h);
    assert_eq!(
        (m.never_cached, m.removed, m.evicted),
        (2, 1, 0),
        "{setup:?}"
    );
    h.check_stats();

    // Evictions: fill with entries of equal weight until the first eviction, which removes
    // exactly one entry (with several shards, whichever shard fills first).
    let mut h = Harness::new(setup, 16 * h.weigh(&val(0, 0, 20)));
    let mut inserted = Vec::new();
    for k in 0.. {
        h.cache.insert(k, val(k, 1, 20)).expect("fits the budget");
        inserted.push(k);
        if h.cache.stats().evictions > 0 {
            break;
        }
    }
    if setup.backend != (Backend::Store { shards: 4 }) {
        assert_eq!(inserted.len(), 17, "{setup:?}: 16 entries fill it exactly");
    }
    let gone: Vec<u64> =
        resident(&h, inserted.clone())
            .into_iter()
            .fold(inserted.clone(), |mut all, k| {
                all.retain(|&x| x != k);
                all
            });
    assert_eq!(gone.len(), 1, "{setup:?}: exactly one evicted");
    let first = gone[0];
    assert_eq!(h.get(first), None, "{setup:?}");
    assert_eq!(misses(&h).evicted, 1, "{setup:?}");
    assert_eq!(h.cache.stats().evictions, 1, "{setup:?}");

    // Many recent evictions: each miss is attributed to eviction (but for the rare pair of keys
    // sharing a cell of the departure memory).
    for k in 100..160 {
        h.cache.insert(k, val(k, 1, 20)).expect("fits the budget");
        inserted.push(k);
    }
    let gone: Vec<u64> = inserted
        .iter()
        .copied()
        .filter(|&k| k != first && !h.cache.contains(k))
        .collect();
    assert_eq!(
        gone.len() as u64,
        h.cache.stats().evictions - 1,
        "{setup:?}"
    );
    assert!(gone.len() >= 40, "{setup:?}");
    let before = misses(&h);
    for &k in &gone {
        assert_eq!(h.get(k), None, "{setup:?}");
    }
    let after = misses(&h);
    let evicted = after.evicted - before.evicted;
    let forgotten = after.never_cached - before.never_cached;
    assert_eq!(
        evicted + forgotten,
        gone.len() as u64,
        "{setup:?}: {after:?}"
    );
    assert!(
        evicted + 2 >= gone.len() as u64,
        "{setup:?}: only {evicted} of {} attributed to eviction",
        gone.len()
    );
    assert_eq!(
        (after.expired, after.removed),
        (before.expired, before.removed),
        "{setup:?}"
    );
    h.check_stats();
}

fn too_large_is_refused_and_old_value_kept(setup: Setup) {
    if setup.weight == Weight::Entries {
        // Every entry weighs 1: only a zero budget could refuse one.
        return;
    }
    let mut h = Harness::standard(setup);
    let capacity = h.cache.capacity();
    let shards = match setup.backend {
        Backend::Shard => 1,
        Backend::Store { shards } => shards as u64,
    };
    let budget = capacity / shards;
    h.cache.insert(1, val(1, 1, 100)).expect("fits the budget");
    h.cache.insert(2, val(2, 1, 100)).expect("fits the budget");
    let (len, weighted, before) = (h.cache.len(), h.cache.weighted_size(), h.cache.stats());
    let heavy = val(1, 2, capacity as usize); // weighs capacity + 8
    match h.cache.insert(1, heavy.clone()) {
        Err(InsertError::TooLarge {
            weight,
            capacity: limit,
        }) => {
            assert_eq!(u64::from(weight), capacity + 8, "{setup:?}");
            assert_eq!(limit, budget, "{setup:?}: the shard's budget");
        }
        other => panic!("{setup:?}: expected TooLarge, got {other:?}"),
    }
    assert!(matches!(
        h.cache
            .insert_with_ttl(1, heavy.clone(), Duration::from_secs(1)),
        Err(InsertError::TooLarge { .. })
    ));
    assert!(matches!(
        h.cache.insert(3, heavy),
        Err(InsertError::TooLarge { .. })
    ));
    assert_eq!(h.get(1), Some(val(1, 1, 100)), "{setup:?}: old value kept");
    assert_eq!(h.get(2), Some(val(2, 1, 100)), "{setup:?}");
    assert!(!h.cache.contains(3), "{setup:?}");
    assert_eq!(
        (h.cache.len(), h.cache.weighted_size()),
        (len, weighted),
        "{setup:?}"
    );
    let after = h.cache.stats();
    assert_eq!(
        (after.insertions, after.updates, after.evictions),
        (before.insertions, before.updates, before.evictions),
        "{setup:?}: a refused insert changes nothing"
    );
    // Exactly the budget is not too large (`val` pads to at least 12 bytes, plus the 8-byte key).
    let exact = val(4, 1, budget as usize - 8);
    assert_eq!(h.weigh(&exact), budget);
    h.cache.insert(4, exact.clone()).expect("fits the budget");
    assert_eq!(h.get(4), Some(exact), "{setup:?}");
    h.check_bounds();
    h.check_stats();
}

fn replacing_updates_weight(setup: Setup) {
    let mut h = Harness::standard(setup);
    h.cache.insert(9, val(9, 0, 50)).expect("fits the budget");
    let base = h.cache.weighted_size() - h.weigh(&val(9, 0, 50));
    h.cache.insert(1, val(1, 1, 100)).expect("fits the budget");
    assert_eq!(
        h.cache.weighted_size(),
        base + h.weigh(&val(9, 0, 50)) + h.weigh(&val(1, 1, 100)),
        "{setup:?}"
    );
    for (version, len) in [(2, 20), (3, 500), (4, 12)] {
        let old = h
            .cache
            .insert(1, val(1, version, len))
            .expect("fits the budget");
        assert!(old.is_some(), "{setup:?}: the live value was replaced");
        assert_eq!(h.cache.len(), 2, "{setup:?}: replacing adds no entry");
        assert_eq!(
            h.cache.weighted_size(),
            base + h.weigh(&val(9, 0, 50)) + h.weigh(&val(1, version, len)),
            "{setup:?}"
        );
        assert_eq!(h.get(1), Some(val(1, version, len)), "{setup:?}");
    }
    // Replacing with a TTL, then without one.
    h.cache
        .insert_with_ttl(1, val(1, 5, 40), Duration::from_millis(10))
        .expect("fits the budget");
    h.cache.insert(1, val(1, 6, 60)).expect("fits the budget");
    h.advance(20);
    assert_eq!(
        h.get(1),
        Some(val(1, 6, 60)),
        "{setup:?}: a plain insert clears the TTL"
    );
    let s = h.cache.stats();
    assert_eq!((s.insertions, s.updates), (2, 5), "{setup:?}");
    h.check_accounting();
    h.check_stats();
}

fn clear_empties(setup: Setup) {
    let mut h = Harness::standard(setup);
    for k in 0..40 {
        if k % 2 == 0 {
            h.cache
                .insert_with_ttl(k, val(k, 1, 40), Duration::from_secs(5))
                .expect("fits the budget");
        } else {
            h.cache.insert(k, val(k, 1, 40)).expect("fits the budget");
        }
    }
    let insertions = h.cache.stats().insertions;
    h.cache.clear();
    assert_eq!(
        (h.cache.len(), h.cache.weighted_size()),
        (0, 0),
        "{setup:?}"
    );
    assert!(h.cache.scan_all(5).is_empty(), "{setup:?}");
    for k in 0..40 {
        assert!(!h.cache.contains(k), "{setup:?}");
        assert_eq!(h.get(k), None, "{setup:?}");
    }
    assert_eq!(h.cache.expire_active(), 0, "{setup:?}");
    assert_eq!(
        h.cache.stats().insertions,
        insertions,
        "{setup:?}: stats kept"
    );
    // Still a working, bounded cache afterwards.
    for k in 0..300 {
        h.cache.insert(k, val(k, 2, 40)).expect("fits the budget");
        h.check_bounds();
        if k % 3 == 0 {
            h.get(k / 2);
        }
    }
    h.check_accounting();
    assert!(h.cache.stats().evictions > 0, "{setup:?}");
    h.check_stats();
}

fn scan_returns_every_live_entry_once(setup: Setup) {
    let mut h = Harness::roomy(setup);
    let mut live: HashMap<u64, Val> = HashMap::new();
    for k in 0..300 {
        let value = val(k, 1, 12 + (k as usize % 50));
        if k % 5 == 0 {
            h.cache
                .insert_with_ttl(k, value, Duration::from_millis(10))
                .expect("fits the budget");
        } else {
            h.cache.insert(k, value.clone()).expect("fits the budget");
            live.insert(k, value);
        }
    }
    for k in (0..300).step_by(7) {
        h.cache.remove(k);
        live.remove(&k);
    }
    for k in (0..300).step_by(3) {
        if let Some(live_value) = live.get_mut(&k) {
            let value = val(k, 2, 30);
            h.cache.insert(k, value.clone()).expect("fits the budget");
            *live_value = value;
        }
    }
    h.advance(10);
    for page in [1, 7, 64, 10_000] {
        let entries = h.cache.scan_all(page);
        let mut seen = HashMap::new();
        for (k, v) in entries {
            assert!(
                seen.insert(k, v).is_none(),
                "{setup:?}: key {k} twice with page {page}"
            );
        }
        assert_eq!(seen, live, "{setup:?}: page {page}");
    }
}

// ---------------------------------------------------------------------------------------------
// Per-policy behaviour, through a `Shard` and a one-shard `Store`.

fn exact_setups(policy: PolicyKind) -> [Setup; 2] {
    [Backend::Shard, Backend::Store { shards: 1 }].map(|backend| Setup {
        backend,
        policy,
        weight: Weight::Entries,
    })
}

fn resident(h: &Harness, keys: impl IntoIterator<Item = u64>) -> Vec<u64> {
    keys.into_iter().filter(|&k| h.cache.contains(k)).collect()
}

/// A reference model of an entry-counted cache driven by "read, and insert on a miss", checked
/// after every operation against the real residents.
fn follows_reference(policy: PolicyKind, hits_reorder: bool, updates_reorder: bool) {
    for setup in exact_setups(policy) {
        let mut h = Harness::new(setup, 8);
        // Front: the next victim.
        let mut order: VecDeque<u64> = VecDeque::new();
        let mut rng = Rng(7);
        for step in 0..3000 {
            let key = rng.below(20);
            if rng.below(4) == 0 {
                // An update of the value in place (or an insert of a new key).
                h.cache
                    .insert(key, val(key, step, 12))
                    .expect("fits the budget");
                if let Some(at) = order.iter().position(|&k| k == key) {
                    if updates_reorder {
                        order.remove(at);
                        order.push_back(key);
                    }
                } else {
                    order.push_back(key);
                }
            } else if h.get(key).is_some() {
                let at = order.iter().position(|&k| k == key);
                let at = at.unwrap_or_else(|| panic!("{setup:?}: {key} should be gone"));
                if hits_reorder {
                    order.remove(at);
                    order.push_back(key);
                }
            } else {
                assert!(!order.contains(&key), "{setup:?}: {key} should be resident");
                h.cache
                    .insert(key, val(key, step, 12))
                    .expect("fits the budget");
                order.push_back(key);
            }
            if order.len() > 8 {
                order.pop_front();
            }
            let mut expected: Vec<u64> = order.iter().copied().collect();
            expected.sort_unstable();
            assert_eq!(resident(&h, 0..20), expected, "{setup:?} at step {step}");
        }
        h.check_stats();
    }
}

#[test]
fn lru_evicts_the_least_recently_used() {
    for setup in exact_setups(PolicyKind::Lru) {
        let mut h = Harness::new(setup, 4);
        for k in 1..=4 {
            h.cache.insert(k, val(k, 1, 12)).expect("fits the budget");
        }
        h.get(1);
        h.get(3);
        h.cache.insert(5, val(5, 1, 12)).expect("fits the budget");
        assert_eq!(resident(&h, 1..=5), [1, 3, 4, 5], "{setup:?}");
        h.cache.insert(6, val(6, 1, 12)).expect("fits the budget");
        assert_eq!(resident(&h, 1..=6), [1, 3, 5, 6], "{setup:?}");
        // An update counts as a use.
        h.cache.insert(1, val(1, 2, 12)).expect("fits the budget");
        h.cache.insert(7, val(7, 1, 12)).expect("fits the budget");
        assert_eq!(resident(&h, 1..=7), [1, 5, 6, 7], "{setup:?}");
    }
    follows_reference(PolicyKind::Lru, true, true);
}

#[test]
fn fifo_evicts_the_oldest_insertion_regardless_of_hits() {
    for setup in exact_setups(PolicyKind::Fifo) {
        let mut h = Harness::new(setup, 4);
        for k in 1..=4 {
            h.cache.insert(k, val(k, 1, 12)).expect("fits the budget");
        }
        for _ in 0..10 {
            h.get(1);
        }
        h.cache.insert(5, val(5, 1, 12)).expect("fits the budget");
        assert_eq!(resident(&h, 1..=5), [2, 3, 4, 5], "{setup:?}");
        h.get(2);
        h.cache.insert(6, val(6, 1, 12)).expect("fits the budget");
        assert_eq!(resident(&h, 1..=6), [3, 4, 5, 6], "{setup:?}");
    }
    follows_reference(PolicyKind::Fifo, false, false);
}

/// Hot keys read often, then a scan of keys each read once: how many hot keys survive.
fn hot_keys_surviving_a_scan(setup: Setup) -> usize {
    let mut h = Harness::new(setup, 10);
    let hot = [1_000, 1_001, 1_002];
    for &k in &hot {
        h.cache.insert(k, val(k, 1, 12)).expect("fits the budget");
        for _ in 0..20 {
            assert!(h.get(k).is_some());
        }
    }
    for k in 0..100 {
        h.cache.insert(k, val(k, 1, 12)).expect("fits the budget");
        h.get(k);
    }
    h.check_stats();
    resident(&h, hot).len()
}

#[test]
fn lfu_keeps_a_frequently_used_key_through_a_scan_of_one_hit_keys() {
    for setup in exact_setups(PolicyKind::Lfu) {
        assert_eq!(hot_keys_surviving_a_scan(setup), 3, "{setup:?}");
        let lru = Setup {
            policy: PolicyKind::Lru,
            ..setup
        };
        assert_eq!(hot_keys_surviving_a_scan(lru), 0, "{lru:?}: contrast");
    }
}

/// A hot set read a few times, then rounds of a one-time scan twice the cache's size, each
/// followed by a read of the hot set (inserted again on a miss). Returns the hot set's hit ratio
/// over the rounds.
fn hot_set_hit_ratio_through_scans(setup: Setup) -> f64 {
    let mut h = Harness::new(setup, 100);
    let hot: Vec<u64> = (1_000_000..1_000_020).collect();
    for &k in &hot {
        h.cache.insert(k, val(k, 1, 12)).expect("fits the budget");
        h.get(k);
        h.get(k);
    }
    let (mut hits, mut reads) = (0, 0);
    let mut next = 0;
    for _round in 0..6 {
        for _ in 0..200 {
            assert_eq!(h.get(next), None, "{setup:?}: scan keys are new");
            h.cache
                .insert(next, val(next, 1, 12))
                .expect("fits the budget");
            next += 1;
        }
        for &k in &hot {
            reads += 1;
            if h.get(k).is_some() {
                hits += 1;
            } else {
                h.cache.insert(k, val(k, 2, 12)).expect("fits the budget");
            }
        }
        h.check_bounds();
    }
    h.check_stats();
    f64::from(hits) / f64::from(reads)
}

#[test]
fn s3fifo_keeps_a_hot_set_through_a_scan_larger_than_the_cache() {
    let setups = [PolicyKind::S3Fifo, PolicyKind::S3FifoAdaptive].map(exact_setups);
    for setup in setups.into_iter().flatten() {
        let s3 = hot_set_hit_ratio_through_scans(setup);
        assert!(s3 >= 0.95, "{setup:?}: hot-set hit ratio {s3}");
        let lru = Setup {
            policy: PolicyKind::Lru,
            ..setup
        };
        let lru_ratio = hot_set_hit_ratio_through_scans(lru);
        assert!(lru_ratio <= 0.05, "{lru:?}: hot-set hit ratio {lru_ratio}");
    }
}

#[test]
fn random_evicts_roughly_uniformly() {
    for setup in exact_setups(PolicyKind::Random) {
        const CAP: usize = 10;
        let mut h = Harness::new(setup, CAP as u64);
        // Residents in insertion order: a victim's rank is its age (0 = oldest, CAP = newcomer).
        let mut order: Vec<u64> = (0..CAP as u64).collect();
        for &k in &order {
            h.cache.insert(k, val(k, 1, 12)).expect("fits the budget");
        }
        let mut by_rank = [0u32; CAP + 1];
        let rounds = 1000 * CAP;
        for k in CAP as u64..(CAP + rounds) as u64 {
            h.cache.insert(k, val(k, 1, 12)).expect("fits the budget");
            order.push(k);
            let gone: Vec<usize> = (0..order.len())
                .filter(|&i| !h.cache.contains(order[i]))
                .collect();
            assert_eq!(gone.len(), 1, "{setup:?}: one victim per insert");
            by_rank[gone[0]] += 1;
            order.remove(gone[0]);
        }
        // The contract: room is made before the newcomer arrives, so it is never its own victim.
        assert_eq!(by_rank[CAP], 0, "{setup:?}");
        // 1000 expected for each older resident; the standard deviation is about 30.
        for (rank, &n) in by_rank[..CAP].iter().enumerate() {
            assert!(
                (850..=1150).contains(&n),
                "{setup:?}: rank {rank} evicted {n} times: {by_rank:?}"
            );
        }
    }
}

/// When every TTL entry has expired, one active-expiry pass reclaims them all.
#[test]
fn one_expiry_pass_reclaims_everything_expired() {
    let clock = Arc::new(ManualClock::new(0));
    let mut shard: Shard<u64, Val> =
        Shard::new(ShardConfig::entries(1000).with_clock(clock.clone()));
    let store: Store<u64, Val> = Store::builder(1000).shards(4).clock(clock.clone()).build();
    for k in 0..200 {
        let ttl = Duration::from_millis(10 + k % 30);
        shard
            .insert_with_ttl(k, val(k, 1, 12), ttl)
            .expect("fits the budget");
        store
            .insert_with_ttl(k, val(k, 1, 12), ttl)
            .expect("fits the budget");
    }
    for k in 200..250 {
        shard.insert(k, val(k, 1, 12)).expect("fits the budget");
        store.insert(k, val(k, 1, 12)).expect("fits the budget");
    }
    clock.advance(Duration::from_millis(40));
    assert_eq!(shard.expire_sample(200), 200);
    assert_eq!((shard.len(), shard.ttl_entries()), (50, 0));
    assert_eq!(store.expire_cycle(usize::MAX), 200);
    assert_eq!(store.len(), 50);
    assert_eq!(store.stats().expirations, 200);
}
