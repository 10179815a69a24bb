//! Model-based tests: random operation sequences on a `Shard`, for every policy, against a
//! reference model (a map from key to value and deadline).
//!
//! * With room for everything, the model is exact: every read, write, removal, TTL change and
//!   scan agrees with it.
//! * With a small budget, entries may be evicted at any time, so the model is a bound: whatever the
//!   shard returns is the latest value written for that key and not expired, and the budget holds.

use larder_engine::{
    Clock, InsertError, ManualClock, NEVER, PolicyKind, Shard, ShardConfig, Snapshot, Timestamp,
};
use proptest::prelude::*;
use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

type Val = Vec<u8>;

fn weigh(_key: &u64, value: &Val) -> u32 {
    8 + value.len() as u32
}

#[derive(Debug, Clone)]
enum Op {
    Get(u64),
    Insert(u64, usize),
    InsertWithTtl(u64, usize, u64),
    Remove(u64),
    Advance(u64),
    SetTtl(u64, Option<u64>),
    Contains(u64),
    ExpireSample(usize),
}

fn ops(max_len: usize) -> impl Strategy<Value = Vec<Op>> {
    let key = 0u64..24;
    let op = prop_oneof![
        4 => key.clone().prop_map(Op::Get),
        3 => (key.clone(), 0..max_len).prop_map(|(k, len)| Op::Insert(k, len)),
        3 => (key.clone(), 0..max_len, 0u64..200).prop_map(|(k, len, ttl)| Op::InsertWithTtl(k, len, ttl)),
        1 => key.clone().prop_map(Op::Remove),
        2 => (0u64..120).prop_map(Op::Advance),
        2 => (key.clone(), proptest::option::of(0u64..200)).prop_map(|(k, ttl)| Op::SetTtl(k, ttl)),
        2 => key.prop_map(Op::Contains),
        1 => (0usize..8).prop_map(Op::ExpireSample),
    ];
    proptest::collection::vec(op, 1..250)
}

/// The reference: the latest value and deadline written per key, as the shard should see them.
struct Model {
    entries: HashMap<u64, (Val, Timestamp)>,
    now: Timestamp,
    version: u32,
    /// Keys whose last departure the model knows, with its cause (for miss attribution).
    departed: HashMap<u64, Departed>,
    gets: u64,
    hits: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Departed {
    Expired,
    Removed,
    Evicted,
}

impl Model {
    fn new(now: Timestamp) -> Self {
        Self {
            entries: HashMap::new(),
            now,
            version: 0,
            departed: HashMap::new(),
            gets: 0,
            hits: 0,
        }
    }

    fn is_live(&self, deadline: Timestamp) -> bool {
        deadline == NEVER || deadline > self.now
    }

    fn live(&self, key: u64) -> Option<&Val> {
        self.entries
            .get(&key)
            .filter(|(_, d)| self.is_live(*d))
            .map(|(v, _)| v)
    }

    fn live_deadline(&self, key: u64) -> Option<Timestamp> {
        self.entries
            .get(&key)
            .filter(|(_, d)| self.is_live(*d))
            .map(|(_, d)| *d)
    }

    /// A new value naming its key and a fresh version, `len` bytes after the 12-byte header.
    fn value(&mut self, key: u64, len: usize) -> Val {
        self.version += 1;
        let mut v = Vec::with_capacity(12 + len);
        v.extend_from_slice(&key.to_le_bytes());
        v.extend_from_slice(&self.version.to_le_bytes());
        v.resize(12 + len, 0x5a);
        v
    }

    /// The deadline `ttl_ms` from now (a TTL that rounds to 0 still expires after now).
    fn deadline(&self, ttl_ms: u64) -> Timestamp {
        self.now + ttl_ms.max(1)
    }

    /// The model forgets an entry that expired (the shard reclaimed it, or will).
    fn forget_expired(&mut self, key: u64) {
        if let Some((_, d)) = self.entries.get(&key)
            && !self.is_live(*d)
        {
            self.entries.remove(&key);
            self.departed.insert(key, Departed::Expired);
        }
    }

    fn live_count_and_weight(&self) -> (usize, u64) {
        self.entries
            .iter()
            .filter(|(_, (_, d))| self.is_live(*d))
            .fold((0, 0), |(n, w), (k, (v, _))| {
                (n + 1, w + u64::from(weigh(k, v)))
            })
    }

    fn total_weight(&self) -> u64 {
        self.entries
            .iter()
            .map(|(k, (v, _))| u64::from(weigh(k, v)))
            .sum()
    }
}

fn shard(policy: PolicyKind, capacity: u64, clock: &Arc<ManualClock>) -> Shard<u64, Val> {
    let mut config = ShardConfig::entries(capacity)
        .with_policy(policy)
        .with_clock(clock.clone())
        .with_weigher(Arc::new(weigh));
    config.departure_cells = 1 << 16;
    Shard::new(config)
}

fn scan_all(shard: &Shard<u64, Val>) -> Vec<(u64, Val)> {
    let mut out = Vec::new();
    let mut cursor = 0;
    while let Some(next) = shard.scan(cursor, 5, &mut out) {
        cursor = next;
    }
    out
}

/// Which miss counter a lookup bumped.
fn miss_delta(before: &Snapshot, after: &Snapshot) -> Option<Departed> {
    let (b, a) = (before.misses, after.misses);
    match (
        a.never_cached - b.never_cached,
        a.expired - b.expired,
        a.removed - b.removed,
        a.evicted - b.evicted,
    ) {
        (1, 0, 0, 0) => None,
        (0, 1, 0, 0) => Some(Departed::Expired),
        (0, 0, 1, 0) => Some(Departed::Removed),
        (0, 0, 0, 1) => Some(Departed::Evicted),
        other => panic!("a miss must bump exactly one reason: {other:?}"),
    }
}

/// With room for every entry the shard agrees with the model on every operation.
fn run_exact(policy: PolicyKind, ops: &[Op]) {
    let clock = Arc::new(ManualClock::new(1_000));
    let mut s = shard(policy, 1 << 30, &clock);
    let mut m = Model::new(clock.now());
    for (step, op) in ops.iter().enumerate() {
        let ctx = format!("{policy}: step {step} {op:?}");
        match *op {
            Op::Get(k) => {
                let before = s.stats();
                let got = s.get(&k).cloned();
                m.gets += 1;
                assert_eq!(got.as_ref(), m.live(k), "{ctx}");
                if got.is_some() {
                    m.hits += 1;
                } else {
                    let reason = miss_delta(&before, &s.stats());
                    // The resident entry may be expired; its reason then is `Expired`.
                    m.forget_expired(k);
                    let expected = m.departed.get(&k).copied();
                    // A departure memory cell shared with another key's departure can only turn a
                    // reason into "never cached", never into another reason.
                    assert!(
                        reason == expected || reason.is_none(),
                        "{ctx}: miss counted as {reason:?}, expected {expected:?}"
                    );
                }
            }
            Op::Insert(k, len) => {
                let value = m.value(k, len);
                let old = s.insert(k, value.clone());
                assert_eq!(old, Ok(m.live(k).cloned()), "{ctx}");
                m.entries.insert(k, (value, NEVER));
            }
            Op::InsertWithTtl(k, len, ttl) => {
                let value = m.value(k, len);
                let old = s.insert_with_ttl(k, value.clone(), Duration::from_millis(ttl));
                assert_eq!(old, Ok(m.live(k).cloned()), "{ctx}");
                m.entries.insert(k, (value, m.deadline(ttl)));
            }
            Op::Remove(k) => {
                assert_eq!(s.remove(&k), m.live(k).cloned(), "{ctx}");
                m.forget_expired(k);
                if m.entries.remove(&k).is_some() {
                    m.departed.insert(k, Departed::Removed);
                }
            }
            Op::Advance(ms) => {
                clock.advance(Duration::from_millis(ms));
                m.now += ms;
            }
            Op::SetTtl(k, ttl) => {
                let deadline = ttl.map_or(NEVER, |t| m.deadline(t));
                let hash = s.hash(&k);
                assert_eq!(
                    s.set_deadline(hash, &k, deadline),
                    m.live(k).is_some(),
                    "{ctx}"
                );
                m.forget_expired(k);
                if let Some((_, d)) = m.entries.get_mut(&k) {
                    *d = deadline;
                }
            }
            Op::Contains(k) => {
                let hash = s.hash(&k);
                assert_eq!(s.contains(hash, &k), m.live(k).is_some(), "{ctx}");
                assert_eq!(s.peek(hash, &k), m.live(k), "{ctx}");
                assert_eq!(s.deadline(hash, &k), m.live_deadline(k), "{ctx}");
            }
            Op::ExpireSample(n) => {
                let expired_resident = m.entries.values().filter(|(_, d)| !m.is_live(*d)).count();
                let reclaimed = s.expire_sample(n);
                assert!(reclaimed <= n.min(expired_resident), "{ctx}: {reclaimed}");
            }
        }
        // Expired entries may or may not have been reclaimed yet (sampling); live ones are all
        // there, and nothing else is.
        let (live, live_weight) = m.live_count_and_weight();
        assert!(
            (live..=m.entries.len()).contains(&s.len()),
            "{ctx}: len {} with {live} live of {}",
            s.len(),
            m.entries.len()
        );
        assert!(
            (live_weight..=m.total_weight()).contains(&s.weighted_size()),
            "{ctx}: weighted size {}",
            s.weighted_size()
        );
        let scanned = scan_all(&s);
        assert_eq!(
            scanned.len(),
            live,
            "{ctx}: scan returns the live entries once"
        );
        for (k, v) in &scanned {
            assert_eq!(Some(v), m.live(*k), "{ctx}: scanned {k}");
        }
    }
    let st = s.stats();
    assert_eq!(st.evictions, 0, "{policy}: the budget was never reached");
    assert_eq!((st.hits, st.lookups()), (m.hits, m.gets), "{policy}");
}

/// With a small budget: only latest, unexpired values come back, and the budget always holds.
fn run_bounded(policy: PolicyKind, capacity: u64, ops: &[Op]) {
    let clock = Arc::new(ManualClock::new(1_000));
    let mut s = shard(policy, capacity, &clock);
    let mut m = Model::new(clock.now());
    // When the shard reports a key absent while the model has it live, it was evicted; the model
    // forgets it, so the shard may never return it again (until it is written anew).
    let evicted = |m: &mut Model, k: u64| {
        if m.live(k).is_some() {
            m.entries.remove(&k);
            m.departed.insert(k, Departed::Evicted);
        }
    };
    for (step, op) in ops.iter().enumerate() {
        let ctx = format!("{policy}: step {step} {op:?}");
        match *op {
            Op::Get(k) => {
                m.gets += 1;
                match s.get(&k).cloned() {
                    Some(v) => {
                        m.hits += 1;
                        assert_eq!(Some(&v), m.live(k), "{ctx}: not the latest live value");
                    }
                    None => {
                        m.forget_expired(k);
                        evicted(&mut m, k);
                    }
                }
            }
            Op::Insert(k, len) | Op::InsertWithTtl(k, len, _) => {
                let value = m.value(k, len);
                let deadline = match *op {
                    Op::InsertWithTtl(_, _, ttl) => m.deadline(ttl),
                    _ => NEVER,
                };
                let before = s.peek(s.hash(&k), &k).cloned();
                let result = if deadline == NEVER {
                    s.insert(k, value.clone())
                } else {
                    s.insert_with_ttl(k, value.clone(), Duration::from_millis(deadline - m.now))
                };
                let weight = weigh(&k, &value);
                let hash = s.hash(&k);
                match result {
                    Ok(old) => {
                        assert!(u64::from(weight) <= capacity, "{ctx}");
                        if let Some(old) = old {
                            assert_eq!(Some(&old), m.live(k), "{ctx}: replaced value");
                        }
                        m.entries.insert(k, (value, deadline));
                    }
                    Err(InsertError::TooLarge { weight: w, .. }) => {
                        assert_eq!(w, weight, "{ctx}");
                        assert!(u64::from(weight) > capacity, "{ctx}");
                        // The previous value stays.
                        assert_eq!(s.peek(hash, &k), before.as_ref(), "{ctx}: old value kept");
                    }
                    Err(e) => panic!("{ctx}: {e}"),
                }
            }
            Op::Remove(k) => {
                if let Some(v) = s.remove(&k) {
                    assert_eq!(Some(&v), m.live(k), "{ctx}: removed value");
                }
                m.entries.remove(&k);
                let hash = s.hash(&k);
                assert!(!s.contains(hash, &k), "{ctx}: removal is visible at once");
            }
            Op::Advance(ms) => {
                clock.advance(Duration::from_millis(ms));
                m.now += ms;
            }
            Op::SetTtl(k, ttl) => {
                let deadline = ttl.map_or(NEVER, |t| m.deadline(t));
                let hash = s.hash(&k);
                if s.set_deadline(hash, &k, deadline) {
                    assert!(m.live(k).is_some(), "{ctx}: set the TTL of a dead entry");
                    if let Some((_, d)) = m.entries.get_mut(&k) {
                        *d = deadline;
                    }
                } else {
                    m.forget_expired(k);
                    evicted(&mut m, k);
                }
            }
            Op::Contains(k) => {
                let hash = s.hash(&k);
                match s.peek(hash, &k) {
                    Some(v) => {
                        assert_eq!(Some(v), m.live(k), "{ctx}: peeked value");
                        assert_eq!(s.deadline(hash, &k), m.live_deadline(k), "{ctx}");
                        assert!(s.contains(hash, &k), "{ctx}");
                    }
                    None => {
                        assert!(!s.contains(hash, &k), "{ctx}");
                        evicted(&mut m, k);
                    }
                }
            }
            Op::ExpireSample(n) => {
                s.expire_sample(n);
            }
        }
        assert!(
            s.weighted_size() <= capacity,
            "{ctx}: weighted size {} over {capacity}",
            s.weighted_size()
        );
        assert!(
            s.len() as u64 <= s.weighted_size(),
            "{ctx}: every entry weighs at least 1"
        );
        let mut seen = HashSet::new();
        for (k, v) in scan_all(&s) {
            assert!(seen.insert(k), "{ctx}: {k} scanned twice");
            assert_eq!(Some(&v), m.live(k), "{ctx}: scanned {k}");
        }
    }
    let st = s.stats();
    assert_eq!((st.hits, st.lookups()), (m.hits, m.gets), "{policy}");
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(96))]

    #[test]
    fn shard_with_room_matches_the_model_exactly(ops in ops(64)) {
        for policy in PolicyKind::ALL {
            run_exact(policy, &ops);
        }
    }

    #[test]
    fn small_shard_returns_only_latest_live_values_within_budget(
        ops in ops(300),
        capacity in 200u64..400,
    ) {
        for policy in PolicyKind::ALL {
            run_bounded(policy, capacity, &ops);
        }
    }
}
