//! Refresh-ahead over SQLite (or PostgreSQL) on the real clock: a reader at 200 reads/s of one key,
//! TTL 2 s, refresh after 1 s. The value is reloaded in the background about once a second and the
//! reader never misses after the first load; a second, cold key is left to expire.
//!
//! `cargo run -p larder --example refresh_ahead`

#[path = "../tests/common/mod.rs"]
mod common;

use common::{Db, Users};
use larder::{Cache, RefreshAhead};
use std::time::{Duration, Instant};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let db = Db::new(100);
    let cache = Cache::builder()
        .time_to_live(Duration::from_secs(2))
        .build();
    let users = RefreshAhead::builder(cache, Users(db.clone()))
        .refresh_after(Duration::from_secs(1))
        .hot_only(16, Duration::from_secs(1), 50.0)
        .build();

    let start = Instant::now();
    let mut reads = 0u64;
    let mut last_cold = Instant::now() - Duration::from_secs(10);
    while start.elapsed() < Duration::from_secs(6) {
        users.get(&1)?;
        reads += 1;
        if last_cold.elapsed() >= Duration::from_millis(1_500) {
            users.get(&2)?;
            last_cold = Instant::now();
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    let s = users.cache().stats();
    println!(
        "{reads} reads of the hot key in 6 s: {} background refreshes ({} failed), {} queries",
        users.refreshes(),
        users.refresh_failures(),
        db.queries()
    );
    println!(
        "misses: {} never cached, {} expired (the cold key, read every 1.5 s, is not refreshed)",
        s.misses.never_cached, s.misses.expired
    );
    Ok(())
}
