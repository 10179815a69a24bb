//! Write-behind over a SQLite file (or PostgreSQL): writes are acknowledged from the cache,
//! coalesced per key and written in batches; the loss window shows what a crash would lose; closing
//! flushes; a dead database's losses are reported by name.
//!
//! `cargo run -p larder --example write_behind`

mod pattern_db;

use larder::write_behind::{Backoff, WriteBehind};
use larder_engine::SystemClock;
use pattern_db::Db;
use std::sync::Arc;
use std::time::Duration;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = std::env::temp_dir().join(format!("larder-write-behind-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let path = dir.join("counters.db");
    let db = Arc::new(Db::file(&path)?);
    let cache = pattern_db::cache::<String, String>(10_000, Arc::new(SystemClock));
    let counters = WriteBehind::builder(cache, db.clone())
        .batch_size(500)
        .max_delay(Duration::from_millis(50))
        .build();

    // 10,000 page views over 100 pages, acknowledged without waiting for the database.
    for i in 0..10_000u64 {
        counters.put(format!("page:{}", i % 100), (i / 100 + 1).to_string())?;
    }
    let window = counters.loss_window();
    println!(
        "acknowledged 10000 writes; not yet in the database: {} changes carrying {} writes, oldest {:?} old",
        window.changes, window.writes, window.oldest_age
    );
    counters.flush()?;
    let stats = counters.stats();
    println!(
        "after flush: {} database writes in {} batches ({} writes coalesced); page:7 = {:?}",
        stats.written,
        stats.batches,
        stats.coalesced,
        db.get("page:7")?
    );

    // The database dies after one more batch: the next writes are retried, then given up, and
    // the report names each acknowledged write that never reached the database.
    db.fail_after(1);
    let cache = pattern_db::cache::<String, String>(10_000, Arc::new(SystemClock));
    let doomed = WriteBehind::builder(cache, db.clone())
        .batch_size(2)
        .max_delay(Duration::from_millis(50))
        .backoff(Backoff {
            initial: Duration::from_millis(1),
            max: Duration::from_millis(4),
            attempts: 3,
        })
        .build();
    for (page, views) in [
        ("page:1", "1000"),
        ("page:2", "2000"),
        ("page:3", "3000"),
        ("page:4", "4000"),
    ] {
        doomed.put(page.into(), views.into())?;
    }
    let report = doomed.close();
    for lost in &report.lost {
        println!(
            "lost: {:?} (acknowledged writes #{}..#{}, {} of them): {}",
            lost.change, lost.first_seq, lost.last_seq, lost.writes, lost.reason
        );
    }
    println!(
        "database now: page:1 = {:?}, page:3 = {:?}",
        db.get("page:1")?,
        db.get("page:3")?
    );
    drop(db);
    std::fs::remove_dir_all(&dir)?;
    Ok(())
}
