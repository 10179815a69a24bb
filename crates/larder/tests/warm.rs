//! Warming against SQLite (or PostgreSQL): preload from a key list and from the database's top-N
//! query, paced by a token bucket; background refresh of the hottest keys.

#[path = "../examples/pattern_db/mod.rs"]
mod pattern_db;

use larder::warm::{HotRefresher, Popularity, TokenBucket, Warmer, refresh_hot};
use larder_engine::{Clock, ManualClock};
use pattern_db::Db;
use std::sync::Arc;
use std::time::Duration;

fn db_with(n: usize) -> Db {
    let db = Db::memory().expect("open the database");
    let rows: Vec<(String, String, i64)> = (0..n)
        .map(|i| (format!("p{i}"), format!("product {i}"), i as i64))
        .collect();
    let rows: Vec<(&str, &str, i64)> = rows
        .iter()
        .map(|(a, b, c)| (a.as_str(), b.as_str(), *c))
        .collect();
    db.seed(&rows).expect("seed the items");
    db
}

#[test]
fn the_token_bucket_allows_a_burst_then_the_rate() {
    let clock = Arc::new(ManualClock::new(0));
    let bucket = TokenBucket::new(10.0, 3, clock.clone());
    for _ in 0..3 {
        bucket.try_take().unwrap();
    }
    assert_eq!(bucket.try_take(), Err(Duration::from_millis(100)));
    clock.advance(Duration::from_millis(100));
    bucket.try_take().unwrap();
    assert!(bucket.try_take().is_err());
}

#[test]
fn warming_from_the_top_n_query_is_paced_by_the_bucket() {
    let db = db_with(50);
    let clock = Arc::new(ManualClock::new(0));
    let cache = pattern_db::cache::<String, String>(100, clock.clone());
    let sleeper = clock.clone();
    let warmer = Warmer::new(cache.clone())
        .rate_limit(TokenBucket::new(100.0, 5, clock.clone()))
        .sleep_with(move |d| sleeper.advance(d))
        .progress(false);
    let report = warmer.warm_top(20, |n| db.top(n), |k| db.get(k)).unwrap();
    assert_eq!(
        (report.requested, report.loaded, report.failed),
        (20, 20, 0)
    );
    // The 20 most viewed products (p49 .. p30) are cached, the others are not.
    assert_eq!(cache.get(&"p49".to_string()), Some("product 49".into()));
    assert_eq!(cache.get(&"p30".to_string()), Some("product 30".into()));
    assert_eq!(cache.get(&"p29".to_string()), None);
    // 5 loads from the burst, 15 at 100/s: 150 ms on the (manual) clock.
    assert_eq!(clock.now(), 150);
    assert_eq!(report.throttled, Duration::from_millis(150));
}

#[test]
fn warming_a_key_list_counts_absent_keys() {
    let db = db_with(3);
    let cache = pattern_db::cache::<String, String>(100, Arc::new(ManualClock::new(0)));
    let report = Warmer::new(cache.clone())
        .ttl(Some(Duration::from_secs(60)))
        .warm_keys(["p0", "p1", "nope"].map(String::from), |k| db.get(k));
    assert_eq!((report.loaded, report.absent), (2, 1));
    let entry = cache.get_entry(&"p0".to_string()).expect("p0 is cached");
    assert_eq!(entry.expires_at, Some(60_000));
}

#[test]
fn the_hottest_keys_are_refreshed_from_the_database() {
    let db = db_with(10);
    let clock = Arc::new(ManualClock::new(0));
    let cache = pattern_db::cache::<String, String>(100, clock.clone());
    let popularity = Popularity::new(4, Duration::from_secs(10), 1, clock.clone());
    Warmer::new(cache.clone()).warm_keys((0..10).map(|i| format!("p{i}")), |k| db.get(k));
    for _ in 0..50 {
        popularity.get(&cache, &"p7".to_string());
    }
    for _ in 0..20 {
        popularity.get(&cache, &"p3".to_string());
    }
    popularity.get(&cache, &"p1".to_string());
    db.seed(&[
        ("p7", "product 7, new price", 0),
        ("p3", "product 3, new price", 0),
    ])
    .unwrap();
    let top: Vec<String> = popularity.top(2).into_iter().map(|h| h.key).collect();
    assert_eq!(top, ["p7", "p3"]);
    let report = refresh_hot(&Warmer::new(cache.clone()), &popularity, 2, |k| db.get(k));
    assert_eq!(report.loaded, 2);
    assert_eq!(
        cache.get(&"p7".to_string()),
        Some("product 7, new price".into())
    );
    assert_eq!(
        cache.get(&"p3".to_string()),
        Some("product 3, new price".into())
    );
}

#[test]
fn the_background_refresher_runs_rounds_until_dropped() {
    let db = Arc::new(db_with(4));
    let clock = Arc::new(ManualClock::new(0));
    let cache = pattern_db::cache::<String, String>(100, clock.clone());
    cache.insert("p1".into(), "stale".into());
    let popularity = Arc::new(Popularity::new(
        4,
        Duration::from_secs(10),
        1,
        clock.clone(),
    ));
    for _ in 0..10 {
        popularity.get(&cache, &"p1".to_string());
    }
    let source = db.clone();
    let refresher = HotRefresher::start(
        Warmer::new(cache.clone()),
        popularity,
        Duration::from_millis(1),
        1,
        move |k: &String| source.get(k),
    )
    .unwrap();
    // Wait (yielding) for the first round: the period is real time, the assertion is not.
    while refresher.last_round().0 == 0 {
        std::thread::yield_now();
    }
    drop(refresher);
    assert_eq!(cache.get(&"p1".to_string()), Some("product 1".into()));
}
