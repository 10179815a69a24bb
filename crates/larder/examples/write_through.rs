//! Write-through over SQLite (or PostgreSQL), in both modes: the database is written first, the
//! cache changes only after it succeeded, and a failed write leaves the cache as it was.
//!
//! `cargo run -p larder --example write_through`

mod pattern_db;

use larder::write_through::{WriteMode, WriteThrough};
use larder_engine::SystemClock;
use pattern_db::Db;
use std::sync::Arc;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    for mode in [WriteMode::Invalidate, WriteMode::Update] {
        let db = Arc::new(Db::memory()?);
        let cache = pattern_db::cache::<String, String>(1_000, Arc::new(SystemClock));
        cache.insert("user:1".into(), "alice@old.example".into());
        let users = WriteThrough::new(cache, db.clone(), mode);

        users.put("user:1".into(), "alice@new.example".into())?;
        println!(
            "{mode:?}: database has {:?}, cache has {:?}",
            db.get("user:1")?,
            users.get(&"user:1".into())
        );

        db.fail_next(1);
        let refused = users.put("user:1".into(), "alice@broken.example".into());
        println!(
            "{mode:?}: a failing database write returns {:?}; cache still has {:?}, database {:?}",
            refused.map_err(|e| e.to_string()),
            users.get(&"user:1".into()),
            db.get("user:1")?
        );
    }
    Ok(())
}
