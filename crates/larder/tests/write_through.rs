//! Write-through against SQLite (or PostgreSQL): the cache changes only after the database write
//! succeeded.

#[path = "../examples/pattern_db/mod.rs"]
mod pattern_db;

use larder::write_through::{WriteMode, WriteThrough};
use larder_engine::ManualClock;
use pattern_db::Db;
use std::sync::Arc;

fn setup(mode: WriteMode) -> (Arc<Db>, WriteThrough<String, String, Arc<Db>>) {
    let db = Arc::new(Db::memory().expect("open the database"));
    let cache = pattern_db::cache(100, Arc::new(ManualClock::new(0)));
    cache.insert("k".into(), "cached".into());
    (db.clone(), WriteThrough::new(cache, db, mode))
}

#[test]
fn write_invalidate_writes_the_database_then_drops_the_cached_entry() {
    let (db, wt) = setup(WriteMode::Invalidate);
    wt.put("k".into(), "v1".into()).unwrap();
    assert_eq!(db.get("k").unwrap(), Some("v1".into()));
    assert_eq!(wt.get(&"k".into()), None);
}

#[test]
fn write_update_writes_the_database_then_stores_the_new_value() {
    let (db, wt) = setup(WriteMode::Update);
    wt.put("k".into(), "v1".into()).unwrap();
    assert_eq!(db.get("k").unwrap(), Some("v1".into()));
    assert_eq!(wt.get(&"k".into()), Some("v1".into()));
    wt.delete(&"k".into()).unwrap();
    assert_eq!(db.get("k").unwrap(), None);
    assert_eq!(wt.get(&"k".into()), None);
}

#[test]
fn a_failed_database_write_leaves_the_cache_untouched_and_returns_the_error() {
    for mode in [WriteMode::Invalidate, WriteMode::Update] {
        let (db, wt) = setup(mode);
        db.fail_next(2);
        let err = wt.put("k".into(), "v1".into()).unwrap_err();
        assert!(
            err.to_string().contains("injected transient failure"),
            "{err}"
        );
        assert_eq!(wt.get(&"k".into()), Some("cached".into()));
        assert!(wt.delete(&"k".into()).is_err());
        assert_eq!(wt.get(&"k".into()), Some("cached".into()));
        assert_eq!(db.get("k").unwrap(), None);
    }
}

#[test]
fn concurrent_writers_of_a_key_leave_cache_and_database_agreeing() {
    let (db, wt) = setup(WriteMode::Update);
    std::thread::scope(|s| {
        for t in 0..2 {
            let wt = &wt;
            s.spawn(move || {
                for i in 0..200 {
                    wt.put("k".into(), format!("{t}:{i}")).unwrap();
                }
            });
        }
    });
    assert_eq!(wt.get(&"k".into()), db.get("k").unwrap());
}

#[test]
fn the_database_is_the_backend_the_build_chose() {
    let db = Db::memory().expect("open the database");
    let expected = if cfg!(feature = "postgres") {
        "postgres"
    } else {
        "sqlite"
    };
    assert_eq!(db.backend(), expected);
}
