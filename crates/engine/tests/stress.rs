//! Multi-threaded stress of `Store`: mixed operations on every policy, then invariants checked
//! once the threads are done; and single flight in `get_or_insert_with` under contention.

use larder_engine::{KeyBytes, LoadError, ManualClock, PolicyKind, Store};
use std::collections::{HashMap, HashSet};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Barrier, mpsc};
use std::thread;
use std::time::{Duration, Instant};

mod common;
use common::Rng;

const THREADS: usize = 4;
const OPS_PER_THREAD: u32 = 12_000;
const KEYS: u64 = 1_024;
const HOT_KEYS: u64 = 32;

/// A value names its key, the thread that wrote it and that thread's operation number, so a value
/// that was never written for its key cannot go unnoticed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
struct Val {
    key: u64,
    thread: u32,
    seq: u32,
}

fn weigh(_key: &u64, value: &Val) -> u32 {
    1 + value.seq % 4
}

/// What one thread did.
#[derive(Default)]
struct Report {
    gets: u64,
    written: Vec<Val>,
    seen: Vec<(u64, Val)>,
}

fn worker(store: &Store<u64, Val>, clock: &ManualClock, thread: u32) -> Report {
    let mut rng = Rng(0x5eed + u64::from(thread));
    let mut report = Report::default();
    let mut cursor = 0;
    for seq in 0..OPS_PER_THREAD {
        // Half the operations go to a small hot set, so hits are frequent (LRU, LFU and ARC then
        // go through the read buffer) and threads collide on the same keys.
        let key = if rng.below(2) == 0 {
            rng.below(HOT_KEYS)
        } else {
            rng.below(KEYS)
        };
        let value = Val { key, thread, seq };
        match rng.below(100) {
            0..=49 => {
                report.gets += 1;
                if let Some(v) = store.get(&key) {
                    report.seen.push((key, v));
                }
            }
            50..=71 => {
                store.insert(key, value).expect("every entry fits");
                report.written.push(value);
            }
            72..=83 => {
                let ttl = Duration::from_millis(1 + rng.below(40));
                store
                    .insert_with_ttl(key, value, ttl)
                    .expect("every entry fits");
                report.written.push(value);
            }
            84..=92 => {
                if let Some(v) = store.remove(&key) {
                    report.seen.push((key, v));
                }
            }
            93..=95 => clock.advance(Duration::from_millis(1)),
            96..=97 => {
                store.expire_cycle(40);
            }
            _ => {
                let (page, next) = store.scan(cursor, 16);
                report.seen.extend(page);
                cursor = next;
                let (weighted, capacity) = (store.weighted_size(), store.capacity());
                assert!(weighted <= capacity, "{weighted} over {capacity}");
            }
        }
    }
    report
}

fn mixed_stress(policy: PolicyKind) {
    let clock = Arc::new(ManualClock::new(0));
    let store: Arc<Store<u64, Val>> = Arc::new(
        Store::builder(400)
            .shards(4)
            .policy(policy)
            .clock(clock.clone())
            .weigher(weigh)
            .build(),
    );
    let start = Arc::new(Barrier::new(THREADS));
    let handles: Vec<_> = (0..THREADS as u32)
        .map(|t| {
            let (store, clock, start) = (store.clone(), clock.clone(), start.clone());
            thread::spawn(move || {
                start.wait();
                worker(&store, &clock, t)
            })
        })
        .collect();
    let reports: Vec<Report> = handles
        .into_iter()
        .map(|h| h.join().expect("worker panicked"))
        .collect();

    let written: HashSet<Val> = reports.iter().flat_map(|r| r.written.clone()).collect();
    let mut gets: u64 = reports.iter().map(|r| r.gets).sum();
    for (key, v) in reports.iter().flat_map(|r| r.seen.iter()) {
        assert_eq!(
            *key, v.key,
            "{policy}: a value of key {} under key {key}",
            v.key
        );
        assert!(written.contains(v), "{policy}: {v:?} was never written");
    }

    // Quiescent.
    assert!(store.weighted_size() <= store.capacity(), "{policy}");
    let s = store.stats();
    assert_eq!(s.lookups(), gets, "{policy}: hits + misses = gets: {s:?}");
    assert!(s.evictions > 0 && s.expirations > 0, "{policy}: {s:?}");
    // Reading every key reclaims the expired entries still resident, so that the resident
    // entries are exactly the live ones.
    for key in 0..KEYS {
        gets += 1;
        if let Some(v) = store.get(&key) {
            assert_eq!(v.key, key, "{policy}");
            assert!(written.contains(&v), "{policy}: {v:?} was never written");
        }
    }
    let mut all = Vec::new();
    let mut cursor = 0;
    loop {
        let (page, next) = store.scan(cursor, 10);
        all.extend(page);
        if next == 0 {
            break;
        }
        cursor = next;
    }
    let keys: HashSet<u64> = all.iter().map(|(k, _)| *k).collect();
    assert_eq!(keys.len(), all.len(), "{policy}: a key scanned twice");
    assert_eq!(store.len(), all.len(), "{policy}: len matches the scan");
    let weight: u64 = all.iter().map(|(k, v)| u64::from(weigh(k, v))).sum();
    assert_eq!(store.weighted_size(), weight, "{policy}: weight accounting");
    for (k, v) in &all {
        assert_eq!(*k, v.key, "{policy}");
        assert!(written.contains(v), "{policy}: {v:?} was never written");
    }
    let s = store.stats();
    assert_eq!(s.lookups(), gets, "{policy}: {s:?}");
    assert_eq!(
        (s.entries, s.weighted_size),
        (all.len() as u64, weight),
        "{policy}"
    );
}

#[test]
fn mixed_operations_keep_the_invariants_for_every_policy() {
    let handles: Vec<_> = PolicyKind::ALL
        .into_iter()
        .map(|policy| thread::spawn(move || mixed_stress(policy)))
        .collect();
    for h in handles {
        h.join().unwrap();
    }
}

// ---------------------------------------------------------------------------------------------
// Single flight.

/// Waits (yielding) until `done` holds: the barrier-ish handoff between a loader and the callers
/// it must overlap with. Panics rather than hanging if they never arrive.
fn wait_until(what: &str, mut done: impl FnMut() -> bool) {
    let give_up = Instant::now() + Duration::from_secs(20);
    while !done() {
        assert!(Instant::now() < give_up, "gave up waiting: {what}");
        thread::yield_now();
    }
}

/// After every caller's lookup has missed, each is at most a hash and a lock away from joining
/// the flight; this handoff lets them get there before the loader returns. It is a margin, not a
/// measurement: generous, so that a caller descheduled on a loaded machine still joins in time.
/// (A late joiner on the success path finds the stored value and loads nothing; on the failure
/// paths it would start a second load, which these tests count.)
const JOIN_HANDOFF: Duration = Duration::from_millis(500);

#[test]
fn overlapping_callers_share_one_load_per_key() {
    const CALLERS: usize = 8;
    const ROUNDS: u64 = 2;
    let store: Arc<Store<u64, u64>> = Arc::new(Store::builder(1_000).shards(4).build());
    let loads: Arc<Vec<AtomicUsize>> = Arc::new((0..ROUNDS).map(|_| AtomicUsize::new(0)).collect());
    let round_start = Arc::new(Barrier::new(CALLERS));
    let handles: Vec<_> = (0..CALLERS)
        .map(|_| {
            let (store, loads, round_start) = (store.clone(), loads.clone(), round_start.clone());
            thread::spawn(move || {
                let mut got = Vec::new();
                for key in 0..ROUNDS {
                    round_start.wait();
                    let result = store.get_or_insert_with(key, || -> Result<u64, String> {
                        loads[key as usize].fetch_add(1, Ordering::SeqCst);
                        // Nothing is stored until this returns, so every caller's lookup misses.
                        let all_missed = (key + 1) * CALLERS as u64;
                        wait_until("every caller missed", || {
                            store.stats().misses.total() >= all_missed
                        });
                        thread::sleep(JOIN_HANDOFF);
                        Ok(key * 100)
                    });
                    got.push(result.unwrap());
                }
                got
            })
        })
        .collect();
    for h in handles {
        assert_eq!(h.join().unwrap(), [0, 100]);
    }
    for (key, n) in loads.iter().enumerate() {
        assert_eq!(
            n.load(Ordering::SeqCst),
            1,
            "key {key} loaded more than once"
        );
    }
    assert_eq!(store.get(&1), Some(100), "the loaded value is cached");
}

#[test]
fn contended_callers_load_each_key_once() {
    const CALLERS: usize = 8;
    const KEYS: u64 = 16;
    let store: Arc<Store<u64, u64>> = Arc::new(Store::builder(1_000).shards(4).build());
    let loads: Arc<Vec<AtomicUsize>> = Arc::new((0..KEYS).map(|_| AtomicUsize::new(0)).collect());
    let start = Arc::new(Barrier::new(CALLERS));
    let handles: Vec<_> = (0..CALLERS as u64)
        .map(|t| {
            let (store, loads, start) = (store.clone(), loads.clone(), start.clone());
            thread::spawn(move || {
                let mut rng = Rng(t);
                start.wait();
                for _ in 0..2_000 {
                    let key = rng.below(KEYS);
                    let value = store
                        .get_or_insert_with(key, || -> Result<u64, String> {
                            loads[key as usize].fetch_add(1, Ordering::SeqCst);
                            for _ in 0..10 {
                                thread::yield_now();
                            }
                            Ok(key * 7)
                        })
                        .unwrap();
                    assert_eq!(value, key * 7);
                }
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
    // Nothing is evicted or removed, so a key once loaded is never loaded again.
    for (key, n) in loads.iter().enumerate() {
        assert_eq!(n.load(Ordering::SeqCst), 1, "key {key}");
    }
}

/// Runs `CALLERS` overlapping `get_or_insert_with` calls for one key whose loader (run once)
/// ends with `finish`; returns the outcomes and how many times the loader ran.
fn overlapping_failed_load(
    store: &Arc<Store<u64, u64>>,
    key: u64,
    finish: fn() -> Result<u64, String>,
) -> (Vec<Result<u64, LoadError<String>>>, usize) {
    const CALLERS: usize = 6;
    let loads = Arc::new(AtomicUsize::new(0));
    let misses_before = store.stats().misses.total();
    let start = Arc::new(Barrier::new(CALLERS));
    let handles: Vec<_> = (0..CALLERS)
        .map(|_| {
            let (store, loads, start) = (store.clone(), loads.clone(), start.clone());
            thread::spawn(move || {
                start.wait();
                catch_unwind(AssertUnwindSafe(|| {
                    store.get_or_insert_with(key, || {
                        loads.fetch_add(1, Ordering::SeqCst);
                        let all_missed = misses_before + CALLERS as u64;
                        wait_until("every caller missed", || {
                            store.stats().misses.total() >= all_missed
                        });
                        thread::sleep(JOIN_HANDOFF);
                        finish()
                    })
                }))
            })
        })
        .collect();
    let outcomes = handles
        .into_iter()
        .map(|h| match h.join().expect("caught inside") {
            Ok(outcome) => outcome,
            // The loader panicked in this caller: it was the leader.
            Err(_) => Err(LoadError::Failed("panicked".to_owned())),
        })
        .collect();
    (outcomes, loads.load(Ordering::SeqCst))
}

#[test]
fn a_failed_load_reaches_every_waiter_and_is_not_cached() {
    let store: Arc<Store<u64, u64>> = Arc::new(Store::builder(1_000).build());
    let (outcomes, loads) = overlapping_failed_load(&store, 5, || Err("db down".to_owned()));
    assert_eq!(loads, 1);
    let mut by_kind: HashMap<&str, usize> = HashMap::new();
    for outcome in &outcomes {
        let kind = match outcome {
            Err(LoadError::Failed(e)) => {
                assert_eq!(e, "db down");
                "failed"
            }
            Err(LoadError::FailedElsewhere(e)) => {
                assert_eq!(
                    e.downcast_ref::<String>().map(String::as_str),
                    Some("db down")
                );
                "failed elsewhere"
            }
            other => panic!("unexpected {other:?}"),
        };
        *by_kind.entry(kind).or_default() += 1;
    }
    assert_eq!(by_kind["failed"], 1, "{outcomes:?}");
    assert_eq!(by_kind["failed elsewhere"], 5, "{outcomes:?}");
    // Not cached: the next call loads again.
    assert_eq!(store.get(&5), None);
    let mut loaded = 0;
    let value = store.get_or_insert_with(5, || -> Result<u64, String> {
        loaded += 1;
        Ok(55)
    });
    assert_eq!((value.unwrap(), loaded), (55, 1));
    let cached = store.get_or_insert_with(5, || -> Result<u64, String> { panic!("cached") });
    assert_eq!(cached.unwrap(), 55);
}

#[test]
fn a_panicking_loader_abandons_its_waiters() {
    let store: Arc<Store<u64, u64>> = Arc::new(Store::builder(1_000).build());
    let (outcomes, loads) = overlapping_failed_load(&store, 6, || panic!("loader panicked"));
    assert_eq!(loads, 1);
    let abandoned = outcomes
        .iter()
        .filter(|o| matches!(o, Err(LoadError::Abandoned)))
        .count();
    let leader = outcomes
        .iter()
        .filter(|o| matches!(o, Err(LoadError::Failed(e)) if e == "panicked"))
        .count();
    assert_eq!((leader, abandoned), (1, 5), "{outcomes:?}");
    // The store is usable and the key loads afresh.
    let value = store.get_or_insert_with(6, || -> Result<u64, String> { Ok(66) });
    assert_eq!(value.unwrap(), 66);
}

#[test]
fn a_waiter_gives_up_after_the_load_timeout() {
    let store: Arc<Store<u64, u64>> = Arc::new(
        Store::builder(1_000)
            .load_timeout(Duration::from_millis(20))
            .build(),
    );
    let (loading_tx, loading_rx) = mpsc::channel();
    let (release_tx, release_rx) = mpsc::channel::<()>();
    let leader = {
        let store = store.clone();
        thread::spawn(move || {
            store.get_or_insert_with(9, || -> Result<u64, String> {
                loading_tx.send(()).unwrap();
                // Held until the waiter has given up: the wait cannot outlast the load.
                release_rx.recv().unwrap();
                Ok(99)
            })
        })
    };
    loading_rx.recv().unwrap();
    // The flight is open and nothing is stored until it is released: this caller must wait,
    // and gives up after the timeout.
    let waited = store.get_or_insert_with(9, || -> Result<u64, String> { panic!("a second load") });
    assert!(matches!(waited, Err(LoadError::TimedOut)), "{waited:?}");
    release_tx.send(()).unwrap();
    assert_eq!(leader.join().unwrap().unwrap(), 99);
    assert_eq!(store.get(&9), Some(99));
}

/// A key whose byte form is asked for right after a lookup (for namespace tracking), which lets
/// a test pause a caller between its miss and its joining the flight.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct PausingKey(u64);

thread_local! {
    /// On the paused caller's thread: announce the miss, then wait for the release.
    static PAUSE: std::cell::RefCell<Option<(mpsc::Sender<()>, mpsc::Receiver<()>)>> =
        const { std::cell::RefCell::new(None) };
}

impl KeyBytes for PausingKey {
    fn key_bytes(&self) -> Option<&[u8]> {
        PAUSE.with(|pause| {
            if let Some((missed, release)) = pause.borrow_mut().take() {
                missed.send(()).expect("the test is listening");
                release.recv().expect("the test releases");
            }
        });
        None
    }
}

#[test]
fn a_caller_that_missed_while_a_load_finished_does_not_load_again() {
    let store: Arc<Store<PausingKey, u64>> =
        Arc::new(Store::builder(100).namespaces(b':', 4).build());
    let (loading_tx, loading_rx) = mpsc::channel();
    let (release_a_tx, release_a_rx) = mpsc::channel::<()>();
    let a = {
        let store = store.clone();
        thread::spawn(move || {
            store.get_or_insert_with(PausingKey(1), || -> Result<u64, String> {
                loading_tx.send(()).unwrap();
                release_a_rx.recv().unwrap();
                Ok(10)
            })
        })
    };
    loading_rx.recv().unwrap();
    // B misses while A is loading, and is held before it joins the flight.
    let (missed_tx, missed_rx) = mpsc::channel();
    let (release_b_tx, release_b_rx) = mpsc::channel();
    let b_loads = Arc::new(AtomicUsize::new(0));
    let b = {
        let (store, b_loads) = (store.clone(), b_loads.clone());
        thread::spawn(move || {
            PAUSE.with(|pause| *pause.borrow_mut() = Some((missed_tx, release_b_rx)));
            store.get_or_insert_with(PausingKey(1), || -> Result<u64, String> {
                b_loads.fetch_add(1, Ordering::SeqCst);
                Ok(20)
            })
        })
    };
    missed_rx.recv().unwrap();
    // A finishes: its value is stored and its flight closed before B joins.
    release_a_tx.send(()).unwrap();
    assert_eq!(a.join().unwrap().unwrap(), 10);
    release_b_tx.send(()).unwrap();
    // B now leads a new flight, but finds A's value instead of loading a second time.
    assert_eq!(b.join().unwrap().unwrap(), 10);
    assert_eq!(b_loads.load(Ordering::SeqCst), 0);
}
