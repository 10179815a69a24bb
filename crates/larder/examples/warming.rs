//! Warming from SQLite (or PostgreSQL): the top-N query, paced by a token bucket, with a progress
//! bar; then the hottest keys refreshed in the background.
//!
//! `cargo run -p larder --example warming`

mod pattern_db;

use larder::warm::{HotRefresher, Popularity, TokenBucket, Warmer};
use larder_engine::SystemClock;
use pattern_db::Db;
use std::sync::Arc;
use std::time::{Duration, Instant};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let db = Arc::new(Db::memory()?);
    let rows: Vec<(String, String, i64)> = (0..5_000)
        .map(|i| {
            (
                format!("product:{i}"),
                format!("product {i}"),
                (i * 7919) % 5_000,
            )
        })
        .collect();
    let rows: Vec<(&str, &str, i64)> = rows
        .iter()
        .map(|(a, b, c)| (a.as_str(), b.as_str(), *c))
        .collect();
    db.seed(&rows)?;

    let clock = Arc::new(SystemClock);
    let cache = pattern_db::cache::<String, String>(10_000, clock.clone());
    // At most 2,000 database reads per second, bursts of 100.
    let warmer = Warmer::new(cache.clone())
        .rate_limit(TokenBucket::new(2_000.0, 100, clock))
        .progress(true);
    let start = Instant::now();
    let report = warmer.warm_top(1_000, |n| db.top(n), |k| db.get(k))?;
    println!(
        "warmed {} of the top 1000 products in {:.2} s ({:?} waiting for the rate limit)",
        report.loaded,
        start.elapsed().as_secs_f64(),
        report.throttled
    );

    // Traffic makes product:42 hot; the refresher keeps the 10 hottest fresh from the database.
    let popularity = Arc::new(Popularity::new(
        64,
        Duration::from_secs(60),
        1,
        Arc::new(SystemClock),
    ));
    for i in 0..1_000 {
        let key = if i % 2 == 0 { 42 } else { i };
        popularity.get(&cache, &format!("product:{key}"));
    }
    db.seed(&[("product:42", "product 42 (new price)", 0)])?;
    let source = db.clone();
    let refresher = HotRefresher::start(
        Warmer::new(cache.clone()),
        popularity,
        Duration::from_millis(100),
        10,
        move |k: &String| source.get(k),
    )?;
    while refresher.last_round().0 == 0 {
        std::thread::sleep(Duration::from_millis(10));
    }
    drop(refresher);
    println!(
        "product:42 after a refresh round: {:?}",
        cache.get(&"product:42".to_string())
    );
    Ok(())
}
