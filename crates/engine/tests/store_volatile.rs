//! Eviction among entries with a TTL only (the server's `volatile-*` policies) and the exact
//! per-class count of entries with a TTL.

use larder_engine::{Compute, ManualClock, NEVER, Store, VolatileRank};
use std::sync::Arc;

type Bytes = Box<[u8]>;

fn store(shards: usize, clock: &Arc<ManualClock>) -> Store<Bytes, Vec<u8>> {
    Store::builder(1 << 40)
        .shards(shards)
        .weigher(|k: &Bytes, v: &Vec<u8>| (k.len() + v.len()) as u32)
        .classify(|k: &Bytes| usize::from(k[0]))
        .clock(clock.clone())
        .build()
}

fn key(class: u8, name: &str) -> Bytes {
    let mut k = vec![class];
    k.extend_from_slice(name.as_bytes());
    k.into_boxed_slice()
}

#[test]
fn nearest_deadline_goes_first_and_keys_without_ttl_never() {
    let clock = Arc::new(ManualClock::new(1_000));
    let s = store(8, &clock);
    for i in 0..20u64 {
        s.insert(key(0, &format!("p{i}")), vec![0; 10]).unwrap();
        // Deadlines in a shuffled order: t7 is the nearest.
        let deadline = 10_000 + ((i * 7) % 20) * 1000;
        s.insert_with_deadline(key(0, &format!("t{i}")), vec![0; 10], deadline)
            .unwrap();
    }
    let mut order = Vec::new();
    while let Some(weight) = s.evict_volatile(VolatileRank::NearestDeadline, 5) {
        let gone: Vec<u64> = (0..20u64)
            .filter(|i| !order.contains(i) && !s.contains(&key(0, &format!("t{i}"))[..]))
            .collect();
        assert_eq!(gone.len(), 1, "one key per eviction");
        assert_eq!(weight as usize, key(0, &format!("t{}", gone[0])).len() + 10);
        order.push(gone[0]);
    }
    // Every TTL key left, nearest deadline first; no key without a TTL did.
    let deadlines: Vec<u64> = order.iter().map(|i| (i * 7) % 20).collect();
    assert_eq!(deadlines, (0..20).collect::<Vec<_>>());
    assert_eq!(s.len(), 20);
    assert_eq!(s.stats().evictions, 20);
}

#[test]
fn least_accessed_and_random_pick_only_ttl_keys() {
    let clock = Arc::new(ManualClock::new(0));
    let s = store(1, &clock);
    s.insert(key(0, "plain"), vec![1]).unwrap();
    s.insert_with_deadline(key(0, "read"), vec![1], 5_000)
        .unwrap();
    s.insert_with_deadline(key(0, "cold"), vec![1], 9_000)
        .unwrap();
    let read = key(0, "read");
    for _ in 0..3 {
        let hash = s.hash(&read[..]);
        assert!(s.get_with(hash, &read[..], |_| ()).is_some());
    }
    // "cold" was never read: it goes before "read" despite its later deadline.
    s.evict_volatile(VolatileRank::LeastAccessed, 5).unwrap();
    assert!(!s.contains(&key(0, "cold")[..]));
    assert!(s.contains(&read[..]));
    s.evict_volatile(VolatileRank::Random, 5).unwrap();
    assert!(!s.contains(&read[..]));
    assert_eq!(s.evict_volatile(VolatileRank::Random, 5), None);
    assert!(s.contains(&key(0, "plain")[..]));
}

#[test]
fn an_expired_entry_is_reclaimed_first_as_expired() {
    let clock = Arc::new(ManualClock::new(0));
    let s = store(2, &clock);
    s.insert_with_deadline(key(0, "soon"), vec![1], 100)
        .unwrap();
    s.insert_with_deadline(key(0, "later"), vec![1], 50_000)
        .unwrap();
    clock.advance(std::time::Duration::from_millis(200));
    s.evict_volatile(VolatileRank::LeastAccessed, 5).unwrap();
    let stats = s.stats();
    assert_eq!((stats.expirations, stats.evictions), (1, 0));
    assert!(s.contains(&key(0, "later")[..]));
}

#[test]
fn ttl_counts_per_class_follow_every_change() {
    let clock = Arc::new(ManualClock::new(0));
    let s = store(4, &clock);
    for i in 0..10 {
        s.insert_with_deadline(key(1, &format!("v{i}")), vec![1], 10_000)
            .unwrap();
        s.insert(key(2, &format!("p{i}")), vec![1]).unwrap();
    }
    assert_eq!((s.class_ttl_len(1), s.class_ttl_len(2)), (10, 0));
    // Clearing a TTL, setting one, replacing a value without one, removing.
    let k = key(1, "v0");
    let hash = s.hash(&k[..]);
    s.compute(
        hash,
        &k[..],
        |k: &[u8]| Bytes::from(k),
        |e| {
            if let Some(e) = e {
                *e.expires_at = NEVER;
            }
            (Compute::Updated, ())
        },
    )
    .unwrap();
    s.set_ttl(&key(2, "p0")[..], Some(std::time::Duration::from_secs(5)));
    s.insert(key(1, "v1"), vec![2]).unwrap();
    s.remove(&key(1, "v2")[..]);
    assert_eq!((s.class_ttl_len(1), s.class_ttl_len(2)), (7, 1));
    // Expiry reclaims them; clear forgets the rest.
    clock.advance(std::time::Duration::from_secs(20));
    while s.expire_cycle(1000) > 0 {}
    assert_eq!((s.class_ttl_len(1), s.class_ttl_len(2)), (0, 0));
    s.insert_with_deadline(key(3, "x"), vec![1], 1_000_000)
        .unwrap();
    s.clear();
    assert_eq!(s.class_ttl_len(3), 0);
}
