//! Read-through against SQLite (or PostgreSQL): one load per key in flight, errors shared and
//! (unless negative caching is on) not cached, batches in one query.

mod common;

use common::{Db, Users, until};
use larder::{Cache, LoadError, ManualClock, ReadThrough};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

type Setup = (
    Arc<ReadThrough<u64, String, Users>>,
    Arc<Db>,
    Arc<ManualClock>,
);

fn setup(ttl: Duration) -> Setup {
    let db = Db::new(100);
    let clock = Arc::new(ManualClock::new(0));
    let cache = Cache::builder()
        .max_capacity(1_000)
        .time_to_live(ttl)
        .clock(clock.clone())
        .build();
    (
        Arc::new(ReadThrough::new(cache, Users(db.clone()))),
        db,
        clock,
    )
}

#[test]
fn a_miss_loads_once_then_hits() {
    let (rt, db, clock) = setup(Duration::from_secs(60));
    assert_eq!(rt.get(&1).unwrap(), "user-1");
    assert_eq!(rt.get(&1).unwrap(), "user-1");
    assert_eq!(db.queries(), 1);
    db.set_name(1, "renamed");
    clock.advance(Duration::from_secs(61));
    assert_eq!(rt.get(&1).unwrap(), "renamed", "reloaded after the TTL");
    assert_eq!(db.queries(), 2);
    let s = rt.cache().stats();
    assert_eq!(
        (s.hits, s.misses.never_cached, s.misses.expired, s.loads),
        (1, 1, 1, 2)
    );
}

#[test]
fn a_thousand_readers_of_an_expired_key_make_one_query() {
    let (rt, db, clock) = setup(Duration::from_secs(60));
    rt.get(&7).unwrap();
    clock.advance(Duration::from_secs(61));
    db.hold();
    let readers: Vec<_> = (0..1_000)
        .map(|_| {
            let rt = rt.clone();
            std::thread::spawn(move || rt.get(&7).unwrap())
        })
        .collect();
    until(|| rt.cache().waiters(&7) == 999);
    db.release();
    for r in readers {
        assert_eq!(r.join().unwrap(), "user-7");
    }
    assert_eq!(db.queries(), 2, "the first load and exactly one reload");
}

#[test]
fn a_failed_load_reaches_every_waiter_and_is_not_cached() {
    let (rt, db, _) = setup(Duration::from_secs(60));
    db.down.store(true, Ordering::SeqCst);
    db.hold();
    let readers: Vec<_> = (0..20)
        .map(|_| {
            let rt = rt.clone();
            std::thread::spawn(move || rt.get(&3))
        })
        .collect();
    until(|| rt.cache().waiters(&3) == 19);
    db.release();
    for r in readers {
        assert!(matches!(r.join().unwrap(), Err(LoadError::Failed(e)) if e == "db down"));
    }
    assert_eq!(db.queries(), 1);
    db.down.store(false, Ordering::SeqCst);
    assert_eq!(rt.get(&3).unwrap(), "user-3", "the error was not cached");
    assert_eq!(db.queries(), 2);
}

#[test]
fn negative_caching_remembers_errors_for_their_own_ttl() {
    let db = Db::new(10);
    let clock = Arc::new(ManualClock::new(0));
    let cache = Cache::builder()
        .time_to_live(Duration::from_secs(600))
        .clock(clock.clone())
        .build();
    let rt = ReadThrough::new(cache, Users(db.clone())).negative_ttl(Duration::from_secs(5), 100);
    for _ in 0..10 {
        assert!(matches!(rt.get(&404), Err(LoadError::Failed(e)) if e == "not found"));
    }
    assert_eq!(db.queries(), 1);
    assert_eq!(rt.negative_hits(), 9);
    clock.advance(Duration::from_secs(6));
    assert!(rt.get(&404).is_err());
    assert_eq!(db.queries(), 2, "asked again once the negative TTL ran out");
    rt.invalidate(&404);
    assert!(rt.get(&404).is_err());
    assert_eq!(db.queries(), 3, "invalidate forgets the error");
}

#[test]
fn get_all_loads_the_missing_keys_in_one_query() {
    let (rt, db, _) = setup(Duration::from_secs(60));
    rt.get(&1).unwrap();
    rt.get(&2).unwrap();
    let found = rt.get_all(&[1, 2, 3, 4, 5, 999, 3]).unwrap();
    assert_eq!(db.queries(), 3, "two single loads, then one batch");
    assert_eq!(found.len(), 5);
    assert_eq!(found[&4], "user-4");
    assert!(!found.contains_key(&999));
    let again = rt.get_all(&[3, 4, 5]).unwrap();
    assert_eq!(again.len(), 3);
    assert_eq!(db.queries(), 3, "all cached now");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn async_and_blocking_readers_share_one_load() {
    let (rt, db, _) = setup(Duration::from_secs(60));
    db.hold();
    let mut tasks = Vec::new();
    for _ in 0..50 {
        let rt = rt.clone();
        tasks.push(tokio::spawn(async move { rt.get_async(&9).await }));
    }
    let blocking: Vec<_> = (0..10)
        .map(|_| {
            let rt = rt.clone();
            std::thread::spawn(move || rt.get(&9))
        })
        .collect();
    let probe = rt.clone();
    tokio::task::spawn_blocking(move || until(|| probe.cache().waiters(&9) == 59))
        .await
        .unwrap();
    db.release();
    for t in tasks {
        assert_eq!(t.await.unwrap().unwrap(), "user-9");
    }
    for b in blocking {
        assert_eq!(b.join().unwrap().unwrap(), "user-9");
    }
    assert_eq!(db.queries(), 1);
    let batch = rt.get_all_async(&[9, 10, 11]).await.unwrap();
    assert_eq!(batch.len(), 3);
    assert_eq!(db.queries(), 2);
}
