//! Cache-aside over SQLite (or PostgreSQL): read the cache, query on a miss and fill; write the
//! database, then delete the key. Shows the fill that raced with a write being undone.
//!
//! `cargo run -p larder --example cache_aside`

#[path = "../tests/common/mod.rs"]
mod common;

use larder::{Cache, CacheAside};
use std::time::Duration;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let db = common::Db::new(1_000);
    let cache = Cache::builder()
        .max_capacity(10_000)
        .time_to_live(Duration::from_secs(300))
        .build();
    let users = CacheAside::new(cache);

    // Reads: 10,000 lookups over 100 users; only the first read of each user queries.
    for i in 0..10_000u64 {
        let id = i % 100 + 1;
        users.read(&id, || db.name(id))?;
    }
    println!(
        "10,000 reads of 100 users: {} queries, hit ratio {:.3}",
        db.queries(),
        users.cache().stats().hit_ratio()
    );

    // A write goes to the database, then deletes the cached copy.
    users.write(&42, || {
        db.set_name(42, "Ada Lovelace");
        Ok::<_, String>(())
    })?;
    let name = users.read(&42, || db.name(42))?;
    println!("after the write, user 42 reads {name:?}");

    // The race: a reader fetched the old row, a writer committed and deleted, then the reader
    // fills. The fill is undone, so the next read sees the committed row.
    let raced = users.read(&500, || {
        let old = db.name(500);
        users.write(&500, || {
            db.set_name(500, "Grace Hopper");
            Ok::<_, String>(())
        })?;
        old
    })?;
    println!(
        "racing reader got {raced:?}; cached afterwards: {:?}; fills undone: {}; next read: {:?}",
        users.cache().get(&500),
        users.refused_fills(),
        users.read(&500, || db.name(500))?
    );
    Ok(())
}
