//! Write-behind vs write-through on a file-backed SQLite database (or, built with
//! `--features postgres`, on the PostgreSQL server named by `LARDER_PG_URL`, each mode in a schema
//! of its own: `.ci/postgres.sh -- cargo bench -p larder --features postgres --bench write_behind`).
//!
//! 100,000 updates over 1,000 keys (key `i mod 1000`, value `i`), in five rounds alternating
//! write-through (update mode: one committed UPSERT per update) and write-behind (batches of at
//! most 1,024 coalesced changes, one transaction each, due every `INTERVAL`). Each mode writes
//! to its own fresh database file in a temporary directory (WAL journal, `synchronous=NORMAL`,
//! the setting most favourable to write-through's per-update commits). Write-behind's time runs
//! until the final flush has committed, so both throughputs count updates that are in the
//! database. Write-through runs at most `WT_BUDGET` per round; its throughput is the updates it
//! completed divided by its time. Prints each round, then the medians, the database writes
//! against the coalescing bound `1,000 × ⌈run time ÷ interval⌉`, and the ratio.
//!
//! Run: `bench/library-write.sh` (or `cargo bench -p larder --bench write_behind`).

#[path = "../examples/pattern_db/mod.rs"]
mod pattern_db;

use larder::write_behind::WriteBehind;
use larder::write_through::{WriteMode, WriteThrough};
use larder_engine::SystemClock;
use pattern_db::Db;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

const UPDATES: u64 = 100_000;
const KEYS: u64 = 1_000;
const INTERVAL: Duration = Duration::from_millis(10);
const WT_BUDGET: Duration = Duration::from_secs(10);
const ROUNDS: usize = 5;

struct Dir(PathBuf);

impl Drop for Dir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn fresh_db(dir: &Dir, name: &str) -> Arc<Db> {
    Arc::new(Db::file(&dir.0.join(name)).expect("open the benchmark database"))
}

/// (updates done, seconds, database rows written, commits).
fn write_through(db: Arc<Db>) -> (u64, f64, u64, u64) {
    let cache = pattern_db::cache::<String, String>(2 * KEYS, Arc::new(SystemClock));
    let wt = WriteThrough::new(cache, db.clone(), WriteMode::Update);
    let start = Instant::now();
    let mut done = 0;
    while done < UPDATES && start.elapsed() < WT_BUDGET {
        wt.put(format!("k{}", done % KEYS), done.to_string())
            .expect("write-through update");
        done += 1;
    }
    let secs = start.elapsed().as_secs_f64();
    (
        done,
        secs,
        db.rows.load(Ordering::Relaxed),
        db.commits.load(Ordering::Relaxed),
    )
}

/// (updates, seconds until flushed, seconds to acknowledge, rows written, commits).
fn write_behind(db: Arc<Db>) -> (u64, f64, f64, u64, u64) {
    let cache = pattern_db::cache::<String, String>(2 * KEYS, Arc::new(SystemClock));
    let wb = WriteBehind::builder(cache, db.clone())
        .batch_size(1_024)
        .capacity(10_000)
        .max_delay(INTERVAL)
        .build();
    let start = Instant::now();
    for i in 0..UPDATES {
        wb.put(format!("k{}", i % KEYS), i.to_string())
            .expect("write-behind update");
    }
    let acked = start.elapsed().as_secs_f64();
    wb.flush().expect("flush");
    let secs = start.elapsed().as_secs_f64();
    let report = wb.close();
    assert!(report.is_empty(), "nothing may be lost in the benchmark");
    for k in [0, KEYS - 1] {
        let last = (UPDATES - KEYS + k).to_string();
        assert_eq!(db.get(&format!("k{k}")).ok().flatten(), Some(last));
    }
    (
        UPDATES,
        secs,
        acked,
        db.rows.load(Ordering::Relaxed),
        db.commits.load(Ordering::Relaxed),
    )
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn main() {
    let dir = Dir(std::env::temp_dir().join(format!("larder-write-bench-{}", std::process::id())));
    std::fs::create_dir_all(&dir.0).expect("create the temporary directory");
    let database = if cfg!(feature = "postgres") {
        "PostgreSQL (LARDER_PG_URL; the server's own durability settings)"
    } else {
        "SQLite file (WAL, synchronous=NORMAL)"
    };
    println!(
        "write-behind vs write-through: {UPDATES} updates over {KEYS} keys, {database}, batch interval {} ms",
        INTERVAL.as_millis()
    );
    let (mut wt_rates, mut wb_rates, mut ratios, mut bound_ok) = (vec![], vec![], vec![], true);
    let mut wb_writes = vec![];
    for round in 1..=ROUNDS {
        let (n, secs, rows, commits) = write_through(fresh_db(&dir, &format!("wt{round}.db")));
        let wt_rate = n as f64 / secs;
        println!(
            "round {round} write-through: {n} updates in {secs:.3} s = {wt_rate:.0} updates/s; database writes {rows} in {commits} commits"
        );
        let (n, secs, acked, rows, commits) =
            write_behind(fresh_db(&dir, &format!("wb{round}.db")));
        let wb_rate = n as f64 / secs;
        let intervals = (secs / INTERVAL.as_secs_f64()).ceil() as u64;
        let bound = KEYS * intervals;
        bound_ok &= rows <= bound;
        println!(
            "round {round} write-behind:  {n} updates in {secs:.3} s flushed ({acked:.3} s acknowledged) = {wb_rate:.0} updates/s; database writes {rows} in {commits} commits (bound 1000 x {intervals} intervals = {bound}; coalescing {:.1}x)",
            n as f64 / rows as f64
        );
        println!(
            "round {round} ratio write-behind / write-through: {:.1}x",
            wb_rate / wt_rate
        );
        wt_rates.push(wt_rate);
        wb_rates.push(wb_rate);
        ratios.push(wb_rate / wt_rate);
        wb_writes.push(rows as f64);
    }
    println!(
        "median: write-through {:.0} updates/s, write-behind {:.0} updates/s, ratio {:.1}x; write-behind database writes {:.0} for {UPDATES} updates; within the coalescing bound in every round: {bound_ok}",
        median(wt_rates),
        median(wb_rates),
        median(ratios),
        median(wb_writes)
    );
}
