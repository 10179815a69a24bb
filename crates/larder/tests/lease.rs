//! Leases against SQLite (or PostgreSQL): a token on a miss, stale fills rejected, other readers
//! wait or take the stale value.

#[path = "../examples/pattern_db/mod.rs"]
mod pattern_db;

use larder::lease::{LeaseError, LeaseGet, LeaseLoadError, Leases};
use larder_engine::ManualClock;
use pattern_db::Db;
use std::sync::Arc;
use std::time::Duration;

fn leases(clock: &Arc<ManualClock>) -> Leases<String, String> {
    Leases::builder(pattern_db::cache(100, clock.clone()))
        .lease_ttl(Duration::from_secs(10))
        .clock(clock.clone())
        .build()
}

fn token(answer: LeaseGet<String>) -> larder::lease::LeaseToken {
    match answer {
        LeaseGet::Granted(t) => t,
        other => panic!("expected a lease, got {other:?}"),
    }
}

#[test]
fn a_miss_grants_one_lease_and_its_fill_is_accepted() {
    let db = Db::memory().unwrap();
    db.seed(&[("k", "v1", 0)]).unwrap();
    let clock = Arc::new(ManualClock::new(0));
    let l = leases(&clock);
    let t = token(l.get(&"k".into()).unwrap());
    // A second reader during the lease is told to wait: one load per key.
    assert_eq!(l.get(&"k".into()).unwrap(), LeaseGet::Wait);
    l.fill("k".into(), t, db.get("k").unwrap().unwrap())
        .unwrap();
    assert_eq!(l.get(&"k".into()).unwrap(), LeaseGet::Hit("v1".into()));
    let stats = l.stats();
    assert_eq!(
        (stats.granted, stats.fills, stats.rejected_fills),
        (1, 1, 0)
    );
}

#[test]
fn a_fill_with_a_token_granted_before_an_invalidation_is_rejected() {
    let db = Db::memory().unwrap();
    db.seed(&[("k", "old", 0)]).unwrap();
    let clock = Arc::new(ManualClock::new(0));
    let l = leases(&clock);
    // A slow reader misses and reads the old row...
    let slow = token(l.get(&"k".into()).unwrap());
    let read = db.get("k").unwrap().unwrap();
    // ...meanwhile a writer updates the row and invalidates the key.
    db.seed(&[("k", "new", 0)]).unwrap();
    l.invalidate(&"k".into());
    // The slow reader's fill would put the old value back: rejected, cache untouched.
    assert_eq!(l.fill("k".into(), slow, read), Err(LeaseError::StaleToken));
    assert_eq!(l.cache().get("k"), None);
    // The next miss gets a fresh lease and fills the new value.
    let fresh = token(l.get(&"k".into()).unwrap());
    assert_ne!(fresh, slow);
    l.fill("k".into(), fresh, db.get("k").unwrap().unwrap())
        .unwrap();
    assert_eq!(l.get(&"k".into()).unwrap(), LeaseGet::Hit("new".into()));
    assert_eq!(l.stats().rejected_fills, 1);
}

#[test]
fn an_expired_lease_is_granted_again_and_the_old_token_cannot_fill() {
    let clock = Arc::new(ManualClock::new(0));
    let l = leases(&clock);
    let dead = token(l.get(&"k".into()).unwrap());
    clock.advance(Duration::from_secs(10));
    let next = token(l.get(&"k".into()).unwrap());
    assert_eq!(
        l.fill("k".into(), dead, "x".into()),
        Err(LeaseError::StaleToken)
    );
    l.fill("k".into(), next, "y".into()).unwrap();
}

#[test]
fn a_released_lease_goes_to_the_next_reader() {
    let clock = Arc::new(ManualClock::new(0));
    let l = leases(&clock);
    let t = token(l.get(&"k".into()).unwrap());
    assert!(l.release(&"k".into(), t));
    token(l.get(&"k".into()).unwrap());
}

#[test]
fn readers_in_the_lease_window_take_the_stale_value_when_allowed() {
    let clock = Arc::new(ManualClock::new(0));
    let l = Leases::builder(pattern_db::cache(100, clock.clone()))
        .serve_stale(Duration::from_secs(5))
        .clock(clock.clone())
        .build();
    l.cache().insert("k".to_string(), "v1".to_string());
    l.invalidate(&"k".into());
    let t = token(l.get(&"k".into()).unwrap());
    assert_eq!(l.get(&"k".into()).unwrap(), LeaseGet::Stale("v1".into()));
    // The stale value is served for its window only.
    clock.advance(Duration::from_secs(5));
    assert_eq!(l.get(&"k".into()).unwrap(), LeaseGet::Wait);
    l.fill("k".into(), t, "v2".into()).unwrap();
    assert_eq!(l.get(&"k".into()).unwrap(), LeaseGet::Hit("v2".into()));
    assert_eq!(l.stats().stale_served, 1);
}

#[tokio::test]
async fn waiting_readers_are_woken_by_the_fill() {
    let clock = Arc::new(ManualClock::new(0));
    let l = Arc::new(
        Leases::builder(pattern_db::cache(100, clock.clone()))
            .wait(Duration::from_secs(60))
            .clock(clock.clone())
            .build(),
    );
    let t = token(l.get(&"k".into()).unwrap());
    let waiters: Vec<_> = (0..3)
        .map(|_| {
            let l = l.clone();
            tokio::spawn(async move { l.get_or_wait(&"k".to_string()).await })
        })
        .collect();
    // Yield (not sleep) until all three wait on the notification.
    while l.waiters(&"k".into()) < 3 {
        tokio::task::yield_now().await;
    }
    l.fill("k".into(), t, "v".into()).unwrap();
    for w in waiters {
        assert_eq!(w.await.unwrap().unwrap(), LeaseGet::Hit("v".into()));
    }
    assert_eq!(l.waiters(&"k".into()), 0);
    assert_eq!(l.stats().granted, 1);
}

#[tokio::test]
async fn waiters_are_bounded() {
    let clock = Arc::new(ManualClock::new(0));
    let l = Arc::new(
        Leases::builder(pattern_db::cache(100, clock.clone()))
            .max_waiters(1)
            .wait(Duration::from_secs(60))
            .clock(clock.clone())
            .build(),
    );
    let t = token(l.get(&"k".into()).unwrap());
    let first = {
        let l = l.clone();
        tokio::spawn(async move { l.get_or_wait(&"k".to_string()).await })
    };
    while l.waiters(&"k".into()) < 1 {
        tokio::task::yield_now().await;
    }
    assert_eq!(
        l.get_or_wait(&"k".into()).await,
        Err(LeaseError::TooManyWaiters)
    );
    // An invalidation wakes the waiter, which then gets the new lease.
    l.invalidate(&"k".into());
    assert!(matches!(first.await.unwrap(), Ok(LeaseGet::Granted(n)) if n != t));
}

#[test]
fn the_lease_table_is_bounded() {
    let clock = Arc::new(ManualClock::new(0));
    let l: Leases<String, String> = Leases::builder(pattern_db::cache(100, clock.clone()))
        .max_keys(2)
        .clock(clock.clone())
        .build();
    token(l.get(&"a".into()).unwrap());
    token(l.get(&"b".into()).unwrap());
    assert_eq!(l.get(&"c".into()), Err(LeaseError::TableFull));
    // Expired leases make room.
    clock.advance(Duration::from_secs(10));
    token(l.get(&"c".into()).unwrap());
}

#[tokio::test]
async fn get_or_load_runs_one_load_for_concurrent_readers_and_releases_on_failure() {
    let db = Arc::new(Db::memory().unwrap());
    db.seed(&[("k", "from-db", 0)]).unwrap();
    let clock = Arc::new(ManualClock::new(0));
    let l = Arc::new(
        Leases::builder(pattern_db::cache(100, clock.clone()))
            .wait(Duration::from_secs(60))
            .clock(clock.clone())
            .build(),
    );
    let failed: Result<String, _> = l
        .get_or_load(&"k".to_string(), || async {
            Err::<String, _>("database down")
        })
        .await;
    assert!(matches!(failed, Err(LeaseLoadError::Load("database down"))));
    let loads = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let readers: Vec<_> = (0..10)
        .map(|_| {
            let (l, db, loads) = (l.clone(), db.clone(), loads.clone());
            tokio::spawn(async move {
                l.get_or_load(&"k".to_string(), || async move {
                    loads.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    tokio::task::yield_now().await;
                    db.get("k").map(Option::unwrap_or_default)
                })
                .await
            })
        })
        .collect();
    for r in readers {
        assert_eq!(r.await.unwrap().unwrap(), "from-db");
    }
    assert_eq!(loads.load(std::sync::atomic::Ordering::Relaxed), 1);
}
