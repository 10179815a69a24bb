//! Refresh-ahead against SQLite (or PostgreSQL) on a manual clock: stale-but-valid values are
//! served while one background reload runs; a failed reload keeps the old value; hot-only refreshes
//! only hot keys.

mod common;

use common::{Db, Users, until};
use larder::{Cache, ManualClock, RefreshAhead};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

type Setup = (RefreshAhead<u64, String, Users>, Arc<Db>, Arc<ManualClock>);

/// TTL 60 s, refresh after 30 s; with `hot`, only keys read 5 times a second or more.
fn setup_with(hot: bool) -> Setup {
    let db = Db::new(10);
    let clock = Arc::new(ManualClock::new(0));
    let cache = Cache::builder()
        .time_to_live(Duration::from_secs(60))
        .clock(clock.clone())
        .build();
    let mut ra =
        RefreshAhead::builder(cache, Users(db.clone())).refresh_after(Duration::from_secs(30));
    if hot {
        ra = ra.hot_only(16, Duration::from_secs(10), 5.0);
    }
    (ra.build(), db, clock)
}

fn setup() -> Setup {
    setup_with(false)
}

#[test]
fn serves_the_current_value_and_reloads_once_in_the_background() {
    let (ra, db, clock) = setup();
    assert_eq!(ra.get(&1).unwrap(), "user-1");
    clock.advance(Duration::from_secs(10));
    assert_eq!(ra.get(&1).unwrap(), "user-1");
    assert_eq!(ra.refreshes(), 0, "not due yet");

    clock.advance(Duration::from_secs(25));
    db.set_name(1, "ada");
    db.hold();
    for _ in 0..100 {
        assert_eq!(
            ra.get(&1).unwrap(),
            "user-1",
            "the old value is served meanwhile"
        );
    }
    assert_eq!(ra.refreshes(), 1, "one reload for a hundred due reads");
    db.release();
    until(|| ra.pending_refreshes() == 0);
    assert_eq!(ra.get(&1).unwrap(), "ada");
    assert_eq!(db.queries(), 2);
    let s = ra.cache().stats();
    assert_eq!(s.misses.total(), 1, "only the very first read missed");
}

#[test]
fn a_failed_reload_keeps_the_old_value() {
    let (ra, db, clock) = setup();
    ra.get(&2).unwrap();
    clock.advance(Duration::from_secs(31));
    db.down.store(true, Ordering::SeqCst);
    assert_eq!(ra.get(&2).unwrap(), "user-2");
    until(|| ra.pending_refreshes() == 0);
    assert_eq!(ra.refresh_failures(), 1);
    assert_eq!(
        ra.get(&2).unwrap(),
        "user-2",
        "still served after the failure"
    );
    until(|| ra.pending_refreshes() == 0);
    assert_eq!(ra.refreshes(), 2, "the next due read tried again");
    db.down.store(false, Ordering::SeqCst);
    db.set_name(2, "grace");
    ra.get(&2).unwrap();
    until(|| ra.pending_refreshes() == 0);
    assert_eq!(ra.get(&2).unwrap(), "grace");
}

#[test]
fn hot_only_refreshes_keys_read_above_the_rate() {
    let (ra, db, clock) = setup_with(true);
    ra.get(&1).unwrap();
    ra.get(&2).unwrap();
    // Key 1: 20 reads a second; key 2: one read every 5 s.
    for step in 0..(40 * 20) {
        clock.advance(Duration::from_millis(50));
        ra.get(&1).unwrap();
        if step % 100 == 0 {
            ra.get(&2).unwrap();
        }
        until(|| ra.pending_refreshes() == 0);
    }
    assert!(ra.refreshes() >= 1, "the hot key was refreshed ahead");
    assert_eq!(ra.cache().stats().misses.expired, 0, "and never expired");
    let before = db.queries();
    clock.advance(Duration::from_secs(25));
    // 65 s after its load, the cold key was never refreshed ahead: it expired.
    ra.get(&2).unwrap();
    assert_eq!(ra.cache().stats().misses.expired, 1);
    assert_eq!(db.queries(), before + 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn async_reads_refresh_on_the_runtime() {
    let (ra, db, clock) = setup();
    ra.get_async(&3).await.unwrap();
    clock.advance(Duration::from_secs(31));
    db.set_name(3, "hopper");
    assert_eq!(ra.get_async(&3).await.unwrap(), "user-3");
    while ra.pending_refreshes() > 0 {
        tokio::task::yield_now().await;
    }
    assert_eq!(ra.get_async(&3).await.unwrap(), "hopper");
}
