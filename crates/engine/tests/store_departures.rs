//! The opt-in record of keys the store removes by itself (expired, evicted): what the server
//! turns into `expired`/`evicted` key events and tracking invalidations.

use larder_engine::{Compute, Departure, ManualClock, NEVER, Store};
use std::sync::Arc;

type Bytes = Box<[u8]>;

fn key(name: &str) -> Bytes {
    name.as_bytes().into()
}

fn store(capacity: u64, record: Option<usize>, clock: &Arc<ManualClock>) -> Store<Bytes, u64> {
    let builder = Store::builder(capacity).shards(4).clock(clock.clone());
    match record {
        Some(max) => builder.record_departures(max).build(),
        None => builder.build(),
    }
}

fn drained(s: &Store<Bytes, u64>) -> (Vec<(String, Departure)>, u64) {
    let mut out = Vec::new();
    let dropped = s.drain_departures(&mut out);
    let mut named: Vec<(String, Departure)> = out
        .into_iter()
        .map(|(k, d)| (String::from_utf8_lossy(&k).into_owned(), d))
        .collect();
    named.sort_by(|a, b| a.0.cmp(&b.0));
    (named, dropped)
}

#[test]
fn off_by_default_and_draining_nothing_is_harmless() {
    let clock = Arc::new(ManualClock::new(1_000));
    let s = store(2, None, &clock);
    for i in 0..10 {
        s.insert(key(&format!("k{i}")), i).unwrap();
    }
    assert!(!s.departures_pending());
    assert_eq!(drained(&s), (vec![], 0));
}

#[test]
fn lazy_and_active_expiry_are_recorded_as_expired_and_removals_are_not() {
    let clock = Arc::new(ManualClock::new(1_000));
    let s = store(1000, Some(100), &clock);
    s.insert_with_deadline(key("lazy"), 1, 2_000).unwrap();
    s.insert_with_deadline(key("active"), 2, 2_000).unwrap();
    s.insert_with_deadline(key("compute"), 3, 2_000).unwrap();
    s.insert(key("removed"), 4).unwrap();
    s.insert(key("kept"), 5).unwrap();
    assert!(s.remove(&key("removed")[..]).is_some());
    assert!(
        !s.departures_pending(),
        "a caller's removal is not recorded"
    );
    clock.set(3_000);
    // A read finds "lazy" expired and reclaims it.
    assert_eq!(s.get(&key("lazy")[..]), None);
    // A read-modify-write finds "compute" expired.
    let h = s.hash(&key("compute")[..]);
    let seen = s
        .compute(
            h,
            &key("compute")[..],
            |k: &[u8]| k.into(),
            |e| (Compute::<u64>::Keep, e.is_some()),
        )
        .unwrap();
    assert!(!seen);
    // The active cycle reclaims the last one.
    s.expire_cycle(1000);
    assert!(s.departures_pending());
    let (events, dropped) = drained(&s);
    assert_eq!(dropped, 0);
    assert_eq!(
        events,
        vec![
            ("active".to_owned(), Departure::Expired),
            ("compute".to_owned(), Departure::Expired),
            ("lazy".to_owned(), Departure::Expired),
        ]
    );
    assert!(!s.departures_pending());
    assert_eq!(drained(&s), (vec![], 0));
    assert_eq!(s.get(&key("kept")[..]), Some(5));
}

#[test]
fn evictions_are_recorded_as_evicted() {
    let clock = Arc::new(ManualClock::new(1_000));
    // One shard of 4 entries: the fifth insert evicts one.
    let s: Store<Bytes, u64> = Store::builder(4)
        .shards(1)
        .clock(clock.clone())
        .record_departures(100)
        .build();
    for i in 0..10 {
        s.insert_with_deadline(key(&format!("k{i}")), i, NEVER)
            .unwrap();
    }
    let (events, dropped) = drained(&s);
    assert_eq!(dropped, 0);
    assert_eq!(events.len(), 6);
    assert!(events.iter().all(|(_, d)| *d == Departure::Evicted));
    // Every recorded key is really gone, every other one still there.
    for i in 0..10 {
        let name = format!("k{i}");
        let gone = events.iter().any(|(k, _)| *k == name);
        assert_eq!(s.contains(&key(&name)[..]), !gone, "{name}");
    }
    // Lowering the budget evicts at once, and records it.
    s.set_capacity(1);
    let (events, _) = drained(&s);
    assert_eq!(events.len(), 3);
}

#[test]
fn the_record_is_bounded_and_says_how_many_it_dropped() {
    let clock = Arc::new(ManualClock::new(1_000));
    let s = store(10_000, Some(5), &clock);
    for i in 0..20 {
        s.insert_with_deadline(key(&format!("k{i}")), i, 2_000)
            .unwrap();
    }
    clock.set(3_000);
    for i in 0..20 {
        assert_eq!(s.get(&key(&format!("k{i}"))[..]), None);
    }
    let (events, dropped) = drained(&s);
    assert_eq!(events.len(), 5);
    assert_eq!(dropped, 15);
    // The count is reset by the drain that reported it.
    assert_eq!(drained(&s), (vec![], 0));
}
