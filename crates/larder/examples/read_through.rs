//! Read-through over SQLite (or PostgreSQL): the cache loads misses through a `Loader`, one query
//! per key in flight, batches with one `IN (…)` query, and (optionally) remembers errors for a
//! short TTL.
//!
//! `cargo run -p larder --example read_through`

#[path = "../tests/common/mod.rs"]
mod common;

use common::{Db, Users};
use larder::{Cache, ReadThrough};
use std::sync::Arc;
use std::time::Duration;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let db = Db::new(1_000);
    let cache = Cache::builder()
        .max_capacity(10_000)
        .time_to_live(Duration::from_secs(300))
        .build();
    let users = Arc::new(
        ReadThrough::new(cache, Users(db.clone())).negative_ttl(Duration::from_secs(10), 1_000),
    );

    println!("user 1: {}", users.get(&1)?);
    let batch = users.get_all(&(1..=50).collect::<Vec<u64>>())?;
    println!(
        "get_all of 50 users (1 cached): {} found, {} queries so far",
        batch.len(),
        db.queries()
    );

    // Eight threads read the same 100 users at once: each user is queried once.
    let threads: Vec<_> = (0..8)
        .map(|_| {
            let users = users.clone();
            std::thread::spawn(move || {
                for id in 101..=200 {
                    let _ = users.get(&id);
                }
            })
        })
        .collect();
    for t in threads {
        let _ = t.join();
    }
    println!("8 threads x 100 new users: {} queries so far", db.queries());

    // A missing user is an error; with negative caching it is remembered for 10 s.
    for _ in 0..5 {
        let missing = users.get(&5_000);
        assert!(missing.is_err());
    }
    println!(
        "5 reads of a missing user: {} queries so far, {} served the remembered error",
        db.queries(),
        users.negative_hits()
    );

    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let name = rt.block_on(users.get_async(&300))?;
    println!("async read of user 300: {name}");
    let s = users.cache().stats();
    println!(
        "stats: hit ratio {:.3}, loads {}, mean load {:?}",
        s.hit_ratio(),
        s.loads,
        s.average_load_time()
    );
    Ok(())
}
