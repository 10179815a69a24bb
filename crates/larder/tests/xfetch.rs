//! XFetch against SQLite (or PostgreSQL) on a manual clock: under steady reads the key is
//! recomputed before it expires (never a miss after the first load), at most twice per TTL period;
//! with β = 0 it expires like a plain TTL.

mod common;

use common::{Costly, Db};
use larder::{Cache, ManualClock, XFetch};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

const TTL: Duration = Duration::from_secs(60);

fn xfetch(beta: f64, seed: u64) -> (XFetch<u64, String, Costly>, Arc<Db>, Arc<ManualClock>) {
    let db = Db::new(10);
    let clock = Arc::new(ManualClock::new(0));
    let cache = Cache::builder()
        .time_to_live(TTL)
        .clock(clock.clone())
        .build();
    let loader = Costly {
        db: db.clone(),
        clock: clock.clone(),
        cost: Duration::from_secs(2),
    };
    (XFetch::new(cache, loader).beta(beta).seed(seed), db, clock)
}

/// Reads key 1 every 100 ms for `periods` TTLs; returns the clock times of the loads.
fn steady_reads(x: &XFetch<u64, String, Costly>, db: &Db, clock: &ManualClock, periods: u64) {
    let end = periods * TTL.as_millis() as u64;
    while larder::Clock::now(clock) < end {
        x.get(&1).expect("a value");
        clock.advance(Duration::from_millis(100));
    }
    let _ = db;
}

#[test]
fn steady_reads_never_miss_and_recompute_at_most_twice_per_period() {
    for seed in 1..=20 {
        let (x, db, clock) = xfetch(1.0, seed);
        steady_reads(&x, &db, &clock, 10);
        let s = x.cache().stats();
        assert_eq!(
            s.misses.total(),
            1,
            "seed {seed}: only the first read missed"
        );
        assert_eq!(s.misses.expired, 0, "seed {seed}");
        let queries = db.queries() as u64;
        assert!(
            queries <= 2 * 10,
            "seed {seed}: {queries} queries in 10 periods"
        );
        assert!(
            x.early_recomputes() >= 9,
            "seed {seed}: recomputed early each period"
        );
    }
}

#[test]
fn beta_zero_is_a_plain_ttl() {
    let (x, db, clock) = xfetch(0.0, 1);
    steady_reads(&x, &db, &clock, 5);
    assert_eq!(x.early_recomputes(), 0);
    assert!(
        x.cache().stats().misses.expired >= 4,
        "expired every period"
    );
}

#[test]
fn no_early_recompute_far_from_expiry() {
    let (x, db, clock) = xfetch(1.0, 7);
    x.get(&1).unwrap();
    // δ = 2 s; 40 s before expiry the chance per read is e^-20.
    for _ in 0..1_000 {
        x.get(&1).unwrap();
        clock.advance(Duration::from_millis(10));
    }
    assert_eq!(db.queries(), 1);
    assert_eq!(x.early_recomputes(), 0);
}

#[test]
fn a_failed_early_recompute_serves_the_valid_value() {
    let (x, db, clock) = xfetch(1.0, 3);
    x.get(&1).unwrap();
    db.down.store(true, Ordering::SeqCst);
    // Within δ of expiry nearly every read recomputes early.
    clock.advance(TTL - Duration::from_millis(100));
    assert_eq!(x.get(&1).unwrap(), "user-1");
    assert_eq!(x.early_recomputes(), 1);
    assert_eq!(x.cache().stats().load_failures, 1);
}
