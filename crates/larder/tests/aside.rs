//! Cache-aside against SQLite (or PostgreSQL): fill on miss, delete on write, and no stale fill
//! survives a write that raced with it.

mod common;

use common::Db;
use larder::{Cache, CacheAside};

fn aside() -> (CacheAside<u64, String>, std::sync::Arc<Db>) {
    (CacheAside::new(Cache::new(100)), Db::new(10))
}

#[test]
fn reads_fill_and_writes_delete() {
    let (aside, db) = aside();
    let read = |id| aside.read(&id, || db.name(id));
    assert_eq!(read(1).unwrap().as_deref(), Some("user-1"));
    assert_eq!(read(1).unwrap().as_deref(), Some("user-1"));
    assert_eq!(db.queries(), 1);
    aside
        .write(&1, || {
            db.set_name(1, "ada");
            Ok::<_, String>(())
        })
        .unwrap();
    assert_eq!(aside.cache().get(&1), None, "the write deleted the key");
    assert_eq!(read(1).unwrap().as_deref(), Some("ada"));
    assert_eq!(db.queries(), 2);
}

#[test]
fn absent_rows_and_errors_are_not_cached() {
    let (aside, db) = aside();
    assert_eq!(aside.read(&99, || db.name(99)).unwrap(), None);
    assert_eq!(aside.read(&99, || db.name(99)).unwrap(), None);
    assert_eq!(db.queries(), 2);
    db.down.store(true, std::sync::atomic::Ordering::SeqCst);
    assert!(aside.read(&1, || db.name(1)).is_err());
    db.down.store(false, std::sync::atomic::Ordering::SeqCst);
    assert_eq!(
        aside.read(&1, || db.name(1)).unwrap().as_deref(),
        Some("user-1")
    );
    let failed = aside.write(&1, || Err::<(), _>("constraint"));
    assert!(failed.is_err());
    assert!(
        aside.cache().contains_key(&1),
        "a failed write leaves the cache alone"
    );
}

#[test]
fn a_fill_racing_with_a_write_does_not_survive() {
    let (aside, db) = aside();
    // The reader queries the old row; before it fills, a writer commits and deletes.
    let got = aside
        .read(&2, || {
            let old = db.name(2);
            aside
                .write(&2, || {
                    db.set_name(2, "grace");
                    Ok::<_, String>(())
                })
                .unwrap();
            old
        })
        .unwrap();
    assert_eq!(
        got.as_deref(),
        Some("user-2"),
        "the reader still gets what it read"
    );
    assert_eq!(
        aside.cache().get(&2),
        None,
        "but the stale row is not left cached"
    );
    assert_eq!(aside.refused_fills(), 1);
    assert_eq!(
        aside.read(&2, || db.name(2)).unwrap().as_deref(),
        Some("grace")
    );
}

#[tokio::test]
async fn async_reads_and_writes() {
    let (aside, db) = aside();
    let v = aside.read_async(&3, || async { db.name(3) }).await.unwrap();
    assert_eq!(v.as_deref(), Some("user-3"));
    aside
        .write_async(&3, || async {
            db.set_name(3, "hopper");
            Ok::<_, String>(())
        })
        .await
        .unwrap();
    let v = aside.read_async(&3, || async { db.name(3) }).await.unwrap();
    assert_eq!(v.as_deref(), Some("hopper"));
    assert_eq!(aside.cache().stats().loads, 2);
}
