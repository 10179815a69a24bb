//! Leases over SQLite (or PostgreSQL): the stale-fill race that leases close, and a stampede that
//! becomes one database read while the other readers wait for the fill.
//!
//! `cargo run -p larder --example leases`

mod pattern_db;

use larder::lease::{LeaseGet, Leases};
use larder_engine::SystemClock;
use pattern_db::Db;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let db = Arc::new(Db::memory()?);
    db.seed(&[("price:42", "10.00", 0)])?;
    let leases = Arc::new(
        Leases::builder(pattern_db::cache::<String, String>(
            1_000,
            Arc::new(SystemClock),
        ))
        .wait(Duration::from_secs(2))
        .build(),
    );

    // 1. A slow reader misses, takes a lease and reads 10.00; a writer changes the price and
    //    invalidates; the slow reader's fill is rejected instead of caching 10.00 for good.
    let LeaseGet::Granted(token) = leases.get(&"price:42".into())? else {
        unreachable!("the cache starts empty")
    };
    let old = db.get("price:42")?.unwrap_or_default();
    db.seed(&[("price:42", "12.50", 0)])?;
    leases.invalidate(&"price:42".into());
    let late = leases.fill("price:42".into(), token, old.clone());
    println!("late fill with {old}: {late:?}");

    // 2. Fifty concurrent readers of the missing key: one lease, one database read.
    let reads = Arc::new(AtomicU64::new(0));
    let tasks: Vec<_> = (0..50)
        .map(|_| {
            let (leases, db, reads) = (leases.clone(), db.clone(), reads.clone());
            tokio::spawn(async move {
                let load = || async move {
                    reads.fetch_add(1, Ordering::Relaxed);
                    tokio::task::yield_now().await;
                    db.get("price:42").map(Option::unwrap_or_default)
                };
                match leases.get_or_load(&"price:42".to_string(), load).await {
                    Ok(price) => price,
                    Err(e) => format!("error: {e}"),
                }
            })
        })
        .collect();
    let mut answers = Vec::new();
    for t in tasks {
        answers.push(t.await?);
    }
    answers.dedup();
    println!(
        "50 readers saw {answers:?} after {} database read(s); stats {:?}",
        reads.load(Ordering::Relaxed),
        leases.stats()
    );
    Ok(())
}
