//! Read-your-writes against SQLite (or PostgreSQL): the session bypass window and minimum-version
//! reads.

#[path = "../examples/pattern_db/mod.rs"]
mod pattern_db;

use larder::consistency::{
    ConsistencyError, HasVersion, MinVersion, MinVersionReads, SessionBypass,
};
use larder_engine::ManualClock;
use pattern_db::Db;
use std::sync::Arc;
use std::time::Duration;

#[test]
fn a_session_reads_its_own_write_from_the_database_for_the_window() {
    let db = Db::memory().unwrap();
    db.seed(&[("profile", "old@example.com", 0)]).unwrap();
    let clock = Arc::new(ManualClock::new(0));
    let rw = SessionBypass::new(
        pattern_db::cache(100, clock.clone()),
        Duration::from_secs(5),
        1_000,
        clock.clone(),
    );
    let key = "profile".to_string();
    // Everyone has the old value cached.
    assert_eq!(
        rw.get(&"alice", &key, |k| db.get(k)).unwrap(),
        Some("old@example.com".into())
    );
    // Alice writes; the cache's invalidation has not arrived yet (it is still cached).
    db.seed(&[("profile", "new@example.com", 0)]).unwrap();
    rw.note_write("alice", key.clone());
    assert!(rw.bypasses(&"alice", &key));
    assert_eq!(
        rw.get(&"alice", &key, |k| db.get(k)).unwrap(),
        Some("new@example.com".into())
    );
    // Bob did not write: he reads the cache (and may see the old value).
    assert_eq!(
        rw.get(&"bob", &key, |k| db.get(k)).unwrap(),
        Some("old@example.com".into())
    );
    // After the window Alice is back on the cache.
    clock.advance(Duration::from_secs(5));
    assert!(!rw.bypasses(&"alice", &key));
    assert_eq!(
        rw.get(&"alice", &key, |k| db.get(k)).unwrap(),
        Some("old@example.com".into())
    );
    assert_eq!(rw.stats().database_reads, 1);
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Row {
    value: String,
    version: u64,
}

impl HasVersion for Row {
    fn version(&self) -> u64 {
        self.version
    }
}

fn load(db: &Db, key: &str) -> Result<Option<Row>, pattern_db::DbError> {
    Ok(db.row(key)?.map(|(value, version)| Row {
        value,
        version: version as u64,
    }))
}

#[test]
fn a_read_with_a_min_version_refreshes_a_cached_value_older_than_it() {
    use larder::write_through::Writer;
    let db = Db::memory().unwrap();
    let cache = larder::Cache::new(100);
    let reads = MinVersionReads::new(cache);
    let key = "user:1".to_string();
    db.write(&key, &"v1".into()).unwrap();
    assert_eq!(
        reads
            .get(&key, None, |k| load(&db, k))
            .unwrap()
            .unwrap()
            .version,
        1
    );
    // The user writes: the database is at version 2, the cache still at 1.
    db.write(&key, &"v2".into()).unwrap();
    let token: MinVersion = "2".parse().unwrap();
    // Without the token the stale cached value is served; with it, the database is read.
    assert_eq!(
        reads
            .get(&key, None, |k| load(&db, k))
            .unwrap()
            .unwrap()
            .value,
        "v1"
    );
    let fresh = reads
        .get(&key, Some(token), |k| load(&db, k))
        .unwrap()
        .unwrap();
    assert_eq!((fresh.value.as_str(), fresh.version), ("v2", 2));
    // The refreshed value is cached: the next read with the token is a hit.
    let hit = reads
        .get(
            &key,
            Some(token),
            |_| -> Result<Option<Row>, pattern_db::DbError> {
                panic!("must not reach the database")
            },
        )
        .unwrap();
    assert_eq!(hit.unwrap().version, 2);
    assert_eq!(reads.stats().database_reads, 1);
    // A version the database does not have yet (a lagging replica) is an error, not stale data.
    assert!(matches!(
        reads.get(&key, Some(MinVersion(9)), |k| load(&db, k)),
        Err(ConsistencyError::TooOld {
            wanted: 9,
            found: 2
        })
    ));
}

#[test]
fn min_version_tokens_parse_from_header_values() {
    assert_eq!(" 42 ".parse::<MinVersion>(), Ok(MinVersion(42)));
    assert!("-1".parse::<MinVersion>().is_err());
    assert!("".parse::<MinVersion>().is_err());
    assert_eq!(MinVersion(7).to_string(), "7");
    assert_eq!(MinVersion::HEADER, "X-Min-Version");
}
