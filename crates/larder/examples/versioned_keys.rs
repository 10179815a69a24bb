//! Versioned keys over SQLite (or PostgreSQL) rows: each row version is its own cache entry; the
//! current pointer switches atomically; the previous version expires by itself after a grace
//! period.
//!
//! `cargo run -p larder --example versioned_keys`

mod pattern_db;

use larder::versioned::Versioned;
use larder::write_through::Writer;
use larder_engine::ManualClock;
use pattern_db::Db;
use std::sync::Arc;
use std::time::Duration;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let db = Db::memory()?;
    let clock = Arc::new(ManualClock::new(0));
    let values = pattern_db::cache(10_000, clock.clone());
    let pages: Versioned<String, String> =
        Versioned::with_clock(values, 1_000, Duration::from_secs(60), clock.clone());

    for html in ["<h1>Spring sale</h1>", "<h1>Summer sale</h1>"] {
        db.write(&"page:/home".to_string(), &html.to_string())?;
        let (body, rev) = db.row("page:/home")?.unwrap_or_default();
        // The database's row version is the cache version: a late writer cannot go backwards.
        pages.publish_version("page:/home".into(), rev as u64, body)?;
        println!("current: {:?}", pages.get(&"page:/home".into()));
    }
    println!(
        "version 1 during the grace period: {:?}",
        pages.get_version(&"page:/home".into(), 1)
    );
    println!(
        "a late publish of version 1: {:?}",
        pages.publish_version("page:/home".into(), 1, "<h1>Spring sale</h1>".into())
    );
    clock.advance(Duration::from_secs(60));
    println!(
        "version 1 after the grace period: {:?}; current {:?}",
        pages.get_version(&"page:/home".into(), 1),
        pages.get(&"page:/home".into())
    );
    Ok(())
}
