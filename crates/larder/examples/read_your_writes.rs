//! Read-your-writes over SQLite (or PostgreSQL): a session bypass window, and `X-Min-Version`
//! reads.
//!
//! `cargo run -p larder --example read_your_writes`

mod pattern_db;

use larder::consistency::{HasVersion, MinVersion, MinVersionReads, SessionBypass};
use larder::write_through::Writer;
use larder_engine::ManualClock;
use pattern_db::Db;
use std::sync::Arc;
use std::time::Duration;

#[derive(Clone)]
struct Profile {
    email: String,
    version: u64,
}

impl HasVersion for Profile {
    fn version(&self) -> u64 {
        self.version
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let db = Db::memory()?;
    let key = "profile:alice".to_string();
    db.write(&key, &"alice@old.example".into())?;

    // Session bypass: the cache still holds the old email (its invalidation is "in flight").
    let clock = Arc::new(ManualClock::new(0));
    let sessions = SessionBypass::new(
        pattern_db::cache::<String, String>(1_000, clock.clone()),
        Duration::from_secs(5),
        100_000,
        clock.clone(),
    );
    sessions.get(&"alice-session", &key, |k| db.get(k))?;
    db.write(&key, &"alice@new.example".into())?;
    sessions.note_write("alice-session", key.clone());
    println!(
        "alice reads {:?}",
        sessions.get(&"alice-session", &key, |k| db.get(k))?
    );
    println!(
        "bob reads   {:?}",
        sessions.get(&"bob-session", &key, |k| db.get(k))?
    );

    // Min-version: the write answered version 3; the client sends it back as X-Min-Version.
    let load = |k: &String| -> Result<Option<Profile>, pattern_db::DbError> {
        Ok(db.row(k)?.map(|(email, v)| Profile {
            email,
            version: v as u64,
        }))
    };
    let reads = MinVersionReads::new(larder::Cache::new(1_000));
    reads.get(&key, None, load)?;
    db.write(&key, &"alice@newest.example".into())?;
    let header_value = db
        .row(&key)?
        .map(|(_, v)| v.to_string())
        .unwrap_or_default();
    let min: MinVersion = header_value.parse()?;
    println!("{}: {min}", MinVersion::HEADER);
    let show = |p: Option<Profile>| p.map(|p| format!("{} (version {})", p.email, p.version));
    println!("without it: {:?}", show(reads.get(&key, None, load)?));
    println!("with it:    {:?}", show(reads.get(&key, Some(min), load)?));
    Ok(())
}
