//! Write-behind against SQLite (or PostgreSQL): coalescing, batching by size and time, order per
//! key, the bounded queue, retries, flush and shutdown, the loss window, and exactly which
//! acknowledged writes a dead writer lost.

#[path = "../examples/pattern_db/mod.rs"]
mod pattern_db;

use larder::write_behind::{
    Backoff, LossWindow, Read, Seq, WhenFull, WriteBehind, WriteBehindError,
};
use larder::write_through::Change;
use larder_engine::ManualClock;
use pattern_db::Db;
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Duration;

const HOUR: Duration = Duration::from_secs(3600);

fn clock() -> Arc<ManualClock> {
    Arc::new(ManualClock::new(1_000))
}

fn no_wait() -> Backoff {
    Backoff {
        initial: Duration::ZERO,
        max: Duration::ZERO,
        attempts: 3,
    }
}

/// A write-behind cache that only writes on flush (batches far larger than the tests' key sets,
/// a delay of an hour on a manual clock).
fn on_flush_only(db: Arc<Db>, clock: Arc<ManualClock>) -> WriteBehind<String, String, Arc<Db>> {
    WriteBehind::builder(pattern_db::cache(1_000, clock.clone()), db)
        .batch_size(1_000)
        .max_delay(HOUR)
        .backoff(no_wait())
        .clock(clock)
        .build()
}

#[test]
fn updates_of_a_key_coalesce_into_one_database_write() {
    let db = Arc::new(Db::memory().unwrap());
    let wb = on_flush_only(db.clone(), clock());
    for i in 0..100 {
        wb.put("a".into(), format!("a{i}")).unwrap();
    }
    for i in 0..50 {
        wb.put("b".into(), format!("b{i}")).unwrap();
    }
    wb.put("c".into(), "c".into()).unwrap();
    wb.delete("c".into()).unwrap();
    // Acknowledged at once: the cache has the values, the database nothing yet.
    assert_eq!(wb.cache().get(&"a".to_string()), Some("a99".into()));
    assert_eq!(db.count().unwrap(), 0);
    assert_eq!(wb.loss_window().changes, 3);
    assert_eq!(wb.loss_window().writes, 152);

    wb.flush().unwrap();
    assert_eq!(db.get("a").unwrap(), Some("a99".into()));
    assert_eq!(db.get("b").unwrap(), Some("b49".into()));
    assert_eq!(db.get("c").unwrap(), None);
    let stats = wb.stats();
    assert_eq!(stats.acknowledged, 152);
    assert_eq!(stats.coalesced, 149);
    assert_eq!(stats.batches, 1);
    assert_eq!(stats.written, 3);
    assert_eq!(db.commits.load(std::sync::atomic::Ordering::Relaxed), 1);
    assert_eq!(wb.loss_window(), LossWindow::default());
}

#[test]
fn a_batch_is_written_when_the_oldest_change_reaches_max_delay() {
    let db = Arc::new(Db::memory().unwrap());
    let clock = clock();
    let wb = WriteBehind::builder(pattern_db::cache(100, clock.clone()), db.clone())
        .batch_size(100)
        .max_delay(Duration::from_millis(100))
        .clock(clock.clone())
        .build();
    let first = wb.put("x".into(), "1".into()).unwrap();
    clock.advance(Duration::from_millis(60));
    let last = wb.put("y".into(), "2".into()).unwrap();
    let window = wb.loss_window();
    assert_eq!(window.changes, 2);
    assert_eq!(window.oldest_seq, Some(first));
    assert_eq!(window.oldest_age, Some(Duration::from_millis(60)));

    clock.advance(Duration::from_millis(40));
    wb.wake();
    assert!(wb.wait_written(last, Duration::from_secs(30)));
    assert_eq!(db.get("x").unwrap(), Some("1".into()));
    assert_eq!(db.get("y").unwrap(), Some("2".into()));
    assert_eq!(wb.stats().batches, 1);
}

#[test]
fn a_batch_is_written_when_batch_size_keys_are_queued() {
    let db = Arc::new(Db::memory().unwrap());
    let clock = clock();
    let wb = WriteBehind::builder(pattern_db::cache(100, clock.clone()), db.clone())
        .batch_size(4)
        .max_delay(HOUR)
        .clock(clock)
        .build();
    let mut last = 0;
    for k in 0..4 {
        last = wb.put(format!("k{k}"), "v".into()).unwrap();
    }
    // No flush, no time passing: the fourth key made the batch due.
    assert!(wb.wait_written(last, Duration::from_secs(30)));
    assert_eq!(db.count().unwrap(), 4);
    assert_eq!(wb.stats().batches, 1);
}

#[test]
fn each_keys_changes_reach_the_database_in_acknowledgement_order() {
    let db = Arc::new(Db::memory().unwrap());
    let clock = clock();
    let wb = Arc::new(
        WriteBehind::builder(pattern_db::cache(1_000, clock.clone()), db.clone())
            .batch_size(7)
            .max_delay(HOUR)
            .clock(clock)
            .build(),
    );
    // Two writers over the same 20 keys; each value names its writer and position, and the
    // sequence number each write was acknowledged with is recorded.
    let acked: Vec<Vec<(String, Seq)>> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..2)
            .map(|t| {
                let wb = &wb;
                s.spawn(move || {
                    let mut mine = Vec::new();
                    for i in 0..3_000u64 {
                        let key = format!("k{}", (i * 7 + t) % 20);
                        let seq = wb.put(key.clone(), format!("{t}:{i}")).unwrap();
                        mine.push((key, seq));
                    }
                    mine
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    wb.flush().unwrap();
    // Acknowledgement order of each key's values.
    let mut by_seq: Vec<(Seq, String, String)> = Vec::new();
    for (t, writes) in acked.iter().enumerate() {
        for (i, (key, seq)) in writes.iter().enumerate() {
            by_seq.push((*seq, key.clone(), format!("{t}:{i}")));
        }
    }
    by_seq.sort();
    let mut rank: HashMap<(String, String), usize> = HashMap::new();
    let mut last_value: BTreeMap<String, String> = BTreeMap::new();
    for (n, (_, key, value)) in by_seq.iter().enumerate() {
        rank.insert((key.clone(), value.clone()), n);
        last_value.insert(key.clone(), value.clone());
    }
    // The database saw each key's values in increasing acknowledgement order, ending with the
    // last acknowledged one.
    let mut seen: HashMap<String, usize> = HashMap::new();
    for (key, value) in db.log() {
        let r = rank[&(key.clone(), value.unwrap())];
        if let Some(prev) = seen.insert(key.clone(), r) {
            assert!(prev < r, "{key}: written out of order");
        }
    }
    for (key, value) in &last_value {
        assert_eq!(db.get(key).unwrap().as_ref(), Some(value));
    }
}

/// A queue of capacity 2 (batches of 2) whose flusher is held at the database's gate with the
/// batch [a, b], while [c, d] fill the queue.
fn full_queue(
    when_full: WhenFull,
) -> (
    Arc<Db>,
    pattern_db::GateControl,
    WriteBehind<String, String, Arc<Db>>,
) {
    let db = Arc::new(Db::memory().expect("open the database"));
    let gate = db.gate();
    let clock = clock();
    let wb = WriteBehind::builder(pattern_db::cache(100, clock.clone()), db.clone())
        .batch_size(2)
        .capacity(2)
        .max_delay(HOUR)
        .when_full(when_full)
        .clock(clock)
        .build();
    for k in ["a", "b"] {
        wb.put(k.into(), "1".into()).expect("room");
    }
    // The flusher took [a, b] and is held inside the database write.
    gate.entered.recv().expect("the flusher reaches the gate");
    for k in ["c", "d"] {
        wb.put(k.into(), "1".into()).expect("room");
    }
    (db, gate, wb)
}

#[test]
fn a_full_queue_refuses_new_keys_but_accepts_coalescing_writes() {
    let (db, gate, wb) = full_queue(WhenFull::Fail);
    assert_eq!(
        wb.put("e".into(), "1".into()),
        Err(WriteBehindError::QueueFull { capacity: 2 })
    );
    // A key already queued still coalesces.
    wb.put("c".into(), "2".into()).unwrap();
    assert_eq!(wb.stats().full_rejections, 1);
    assert_eq!(wb.loss_window().changes, 4);
    db.open_gate();
    gate.go.send(()).unwrap();
    wb.flush().unwrap();
    assert_eq!(db.get("c").unwrap(), Some("2".into()));
    assert_eq!(db.get("e").unwrap(), None);
}

#[test]
fn a_full_queue_applies_back_pressure_until_the_flusher_makes_room() {
    let (db, gate, wb) = full_queue(WhenFull::Wait(Duration::from_secs(60)));
    std::thread::scope(|s| {
        let blocked = s.spawn(|| wb.put("e".into(), "1".into()));
        // Wait (yielding, not sleeping) until the writer of "e" is blocked on the full queue.
        while wb.stats().full_waits == 0 {
            std::thread::yield_now();
        }
        // Let the held batch through; the flusher then takes [c, d] and "e" finds room.
        gate.go.send(()).unwrap();
        gate.entered.recv().unwrap();
        gate.go.send(()).unwrap();
        db.open_gate();
        assert!(blocked.join().unwrap().is_ok());
    });
    wb.flush().unwrap();
    assert_eq!(db.count().unwrap(), 5);
    assert_eq!(wb.stats().full_waits, 1);
}

#[test]
fn failed_batches_are_retried_with_backoff() {
    let db = Arc::new(Db::memory().unwrap());
    let wb = on_flush_only(db.clone(), clock());
    db.fail_next(2);
    wb.put("a".into(), "1".into()).unwrap();
    wb.flush().unwrap();
    assert_eq!(db.get("a").unwrap(), Some("1".into()));
    let stats = wb.stats();
    assert_eq!(stats.retries, 2);
    assert_eq!(stats.batches, 1);
    assert_eq!(stats.lost_changes, 0);
    assert_eq!(Backoff::default().delay(1), Duration::from_millis(10));
    assert_eq!(Backoff::default().delay(3), Duration::from_millis(40));
    assert_eq!(Backoff::default().delay(30), Duration::from_secs(1));
}

#[test]
fn reads_see_queued_values_even_when_the_cache_evicted_them() {
    let db = Arc::new(Db::memory().unwrap());
    db.seed(&[("d", "from-db", 0)]).unwrap();
    let clock = clock();
    // A one-entry cache: the second put evicts the first.
    let wb = WriteBehind::builder(pattern_db::cache(1, clock.clone()), db.clone())
        .batch_size(100)
        .max_delay(HOUR)
        .clock(clock)
        .build();
    wb.put("a".into(), "1".into()).unwrap();
    wb.put("b".into(), "2".into()).unwrap();
    wb.delete("d".into()).unwrap();
    assert_eq!(wb.get(&"a".to_string()), Read::Value("1".into()));
    assert_eq!(wb.get(&"b".to_string()), Read::Value("2".into()));
    assert_eq!(wb.get(&"d".to_string()), Read::Deleted);
    assert_eq!(wb.get(&"zz".to_string()), Read::Unknown);
    // A queued delete is not undone by a read of the (stale) database row.
    assert_eq!(
        wb.get_or_load(&"d".to_string(), |k| db.get(k)).unwrap(),
        None
    );
    wb.flush().unwrap();
    db.seed(&[("e", "from-db", 0)]).unwrap();
    assert_eq!(
        wb.get_or_load(&"e".to_string(), |k| db.get(k)).unwrap(),
        Some("from-db".into())
    );
}

#[test]
fn a_fill_loaded_while_the_key_was_written_is_not_cached() {
    let db = Arc::new(Db::memory().unwrap());
    db.seed(&[("k", "old", 0)]).unwrap();
    let wb = on_flush_only(db.clone(), clock());
    let loaded = wb
        .get_or_load(&"k".to_string(), |k| {
            let old = db.get(k);
            // A write lands while this reader is loading.
            wb.put("k".into(), "new".into()).unwrap();
            old
        })
        .unwrap();
    assert_eq!(loaded, Some("new".into()));
    assert_eq!(wb.cache().get(&"k".to_string()), Some("new".into()));
    assert_eq!(wb.stats().stale_fills_dropped, 1);
}

#[test]
fn drop_flushes_everything() {
    let db = Arc::new(Db::memory().unwrap());
    let wb = on_flush_only(db.clone(), clock());
    for i in 0..10 {
        wb.put(format!("k{i}"), "v".into()).unwrap();
    }
    drop(wb);
    assert_eq!(db.count().unwrap(), 10);
}

#[tokio::test]
async fn shutdown_flushes_everything_and_reports_no_loss() {
    let db = Arc::new(Db::memory().unwrap());
    let wb = on_flush_only(db.clone(), clock());
    for i in 0..10 {
        wb.put(format!("k{i}"), "v".into()).unwrap();
    }
    let report = wb.shutdown().await;
    assert!(report.is_empty());
    assert_eq!(db.count().unwrap(), 10);
}

/// Every acknowledged write, by key: (seq, value).
type Acked = BTreeMap<String, Vec<(Seq, String)>>;

/// Checks that `report` names exactly the acknowledged writes the database does not reflect:
/// for each key, the writes acknowledged after the one whose value the database holds.
fn assert_report_names_exactly_the_lost_writes(
    db: &Db,
    acked: &Acked,
    report: &larder::write_behind::LossReport<String, String>,
) -> u64 {
    let mut expected_lost = 0;
    for (key, writes) in acked {
        // Values are unique per key, so the database's value says which write it holds.
        let in_db = db.get(key).expect("read the database");
        let durable: Seq = writes
            .iter()
            .find(|(_, v)| Some(v) == in_db.as_ref())
            .map_or(0, |(s, _)| *s);
        let lost: Vec<Seq> = writes
            .iter()
            .map(|(s, _)| *s)
            .filter(|s| *s > durable)
            .collect();
        expected_lost += lost.len() as u64;
        let records: Vec<_> = report
            .lost
            .iter()
            .filter(|l| l.change.key() == key)
            .collect();
        let named: Vec<Seq> = writes
            .iter()
            .map(|(s, _)| *s)
            .filter(|s| {
                records
                    .iter()
                    .any(|r| r.first_seq <= *s && *s <= r.last_seq)
            })
            .collect();
        assert_eq!(
            named, lost,
            "{key}: the report must name exactly its lost writes"
        );
        for r in &records {
            let inside = writes
                .iter()
                .filter(|(s, _)| r.first_seq <= *s && *s <= r.last_seq)
                .count();
            assert_eq!(r.writes, inside as u64, "{key}: coalesced count");
            let last = writes.iter().find(|(s, _)| *s == r.last_seq);
            let last = last
                .map(|(_, v)| v.clone())
                .expect("the last write is acknowledged");
            assert_eq!(r.change, Change::Put(key.clone(), last));
        }
    }
    assert_eq!(report.lost_writes, expected_lost);
    expected_lost
}

#[test]
fn a_writer_that_dies_mid_stream_loses_exactly_the_writes_the_report_names() {
    let db = Arc::new(Db::memory().unwrap());
    // The database accepts three batches, then is gone for good.
    db.fail_after(3);
    let clock = clock();
    let wb = WriteBehind::builder(pattern_db::cache(1_000, clock.clone()), db.clone())
        .batch_size(8)
        .max_delay(HOUR)
        .backoff(no_wait())
        .clock(clock)
        .build();
    let mut acked = Acked::new();
    for i in 0..300u64 {
        let key = format!("k{}", (i * 13) % 31);
        // Each value is the sequence number the write is acknowledged with.
        let seq = i + 1;
        assert_eq!(wb.put(key.clone(), seq.to_string()).unwrap(), seq);
        acked.entry(key).or_default().push((seq, seq.to_string()));
    }
    let flushed = wb.flush();
    assert!(matches!(flushed, Err(WriteBehindError::Lost { .. })));
    let stats = wb.stats();
    assert_eq!(stats.batches, 3);
    assert!(stats.failed_batches >= 1);
    // Keys whose latest write was lost are no longer served from the cache.
    for key in acked.keys() {
        if let Some(v) = wb.cache().get(key) {
            assert_eq!(db.get(key).unwrap(), Some(v));
        }
    }
    let report = wb.close();
    let lost = assert_report_names_exactly_the_lost_writes(&db, &acked, &report);
    assert!(lost > 0);
    assert_eq!(lost, stats.lost_writes);
    assert_eq!(
        db.rows.load(std::sync::atomic::Ordering::Relaxed),
        stats.written
    );
}

#[test]
fn abort_reports_every_acknowledged_write_still_queued() {
    let db = Arc::new(Db::memory().unwrap());
    let wb = on_flush_only(db.clone(), clock());
    let mut acked = Acked::new();
    let mut put = |wb: &WriteBehind<String, String, Arc<Db>>, key: &str, seq: Seq| {
        assert_eq!(wb.put(key.into(), seq.to_string()).unwrap(), seq);
        acked
            .entry(key.into())
            .or_default()
            .push((seq, seq.to_string()));
    };
    put(&wb, "a", 1);
    put(&wb, "b", 2);
    wb.flush().unwrap();
    put(&wb, "a", 3);
    put(&wb, "a", 4);
    put(&wb, "c", 5);
    assert_eq!(wb.loss_window().writes, 3);
    // The process "crashes": nothing queued is written.
    let report = wb.abort();
    assert_eq!(report.lost_changes, 2);
    assert_eq!(
        assert_report_names_exactly_the_lost_writes(&db, &acked, &report),
        3
    );
    assert_eq!(db.get("a").unwrap(), Some("1".into()));
    assert_eq!(db.get("c").unwrap(), None);
}

#[test]
fn concurrent_writers_and_a_dying_database_lose_exactly_the_reported_writes() {
    let db = Arc::new(Db::memory().unwrap());
    db.fail_after(5);
    let clock = clock();
    let wb = WriteBehind::builder(pattern_db::cache(1_000, clock.clone()), db.clone())
        .batch_size(16)
        .max_delay(HOUR)
        .backoff(no_wait())
        .clock(clock)
        .build();
    // Two threads over the same 200 keys; values are unique ("thread:i"). The five batches the
    // database accepts hold at most 80 of the 200 keys, so some writes are lost whatever the
    // relative speed of the writers and the flusher (a slower database coalesces more).
    let per_thread: Vec<Vec<(String, Seq, String)>> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..2u64)
            .map(|t| {
                let wb = &wb;
                s.spawn(move || {
                    (0..2_000u64)
                        .map(|i| {
                            let key = format!("k{}", (i * 17 + t * 5) % 200);
                            let value = format!("{t}:{i}");
                            let seq = wb.put(key.clone(), value.clone()).unwrap();
                            (key, seq, value)
                        })
                        .collect()
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let mut acked = Acked::new();
    for (key, seq, value) in per_thread.into_iter().flatten() {
        acked.entry(key).or_default().push((seq, value));
    }
    for writes in acked.values_mut() {
        writes.sort();
    }
    let report = wb.close();
    assert!(assert_report_names_exactly_the_lost_writes(&db, &acked, &report) > 0);
    assert_eq!(db.commits.load(std::sync::atomic::Ordering::Relaxed), 5);
}
