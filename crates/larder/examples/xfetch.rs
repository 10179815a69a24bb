//! XFetch on the real clock: one hot key read at a steady 1,000 reads/s for ten TTL periods, its
//! value a real SQLite (or PostgreSQL) scan (`sum(amount)` over an unindexed table, tens of ms: δ).
//! Runs XFetch with β = 1, then β = 0 (a plain TTL with single flight) for comparison, and reports
//! the reads, the misses after warm-up, the database queries and the most queries in any one TTL
//! period.
//!
//! `cargo run --release -p larder --example xfetch [-- TTL_MS [PERIODS [ROWS]]]`
//! (defaults: 1,000 ms, 10 periods, 1,000,000 order rows).

#[path = "../tests/common/mod.rs"]
mod common;

use common::{Db, OrderTotals};
use larder::{Cache, Loader, XFetch};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const RATE: u64 = 1_000;
const THREADS: u64 = 4;

/// Records when each query started.
struct Logged {
    inner: OrderTotals,
    starts: Arc<Mutex<Vec<Instant>>>,
}

impl Loader<u64, i64> for Logged {
    type Error = String;
    async fn load(&self, user: &u64) -> Result<i64, String> {
        if let Ok(mut starts) = self.starts.lock() {
            starts.push(Instant::now());
        }
        self.inner.load(user).await
    }
}

struct Outcome {
    reads: u64,
    misses: u64,
    queries: usize,
    worst_period: usize,
    early: u64,
    delta: Duration,
}

fn run(db: &Arc<Db>, beta: f64, ttl: Duration, periods: u32) -> Outcome {
    let starts = Arc::new(Mutex::new(Vec::new()));
    let cache = Cache::builder().time_to_live(ttl).build();
    let loader = Logged {
        inner: OrderTotals(db.clone()),
        starts: starts.clone(),
    };
    let x = XFetch::new(cache, loader).beta(beta);
    // Warm-up: the first load is the only miss we expect.
    let _ = x.get(&7);
    let warm_misses = x.cache().stats().misses.total();
    let delta = x
        .cache()
        .get_entry(&7)
        .map_or(Duration::ZERO, |e| e.load_time);

    let begin = Instant::now();
    let end = begin + ttl * periods;
    let interval = Duration::from_nanos(1_000_000_000 * THREADS / RATE);
    let reads: u64 = std::thread::scope(|s| {
        let workers: Vec<_> = (0..THREADS)
            .map(|t| {
                let x = &x;
                s.spawn(move || {
                    // Each thread reads on its own schedule, offset so that the four interleave.
                    let mut next = begin + interval * t as u32 / THREADS as u32;
                    let mut reads = 0;
                    while next < end {
                        if let Some(wait) = next.checked_duration_since(Instant::now()) {
                            std::thread::sleep(wait);
                        }
                        let _ = x.get(&7);
                        reads += 1;
                        next += interval;
                    }
                    reads
                })
            })
            .collect();
        workers.into_iter().map(|w| w.join().unwrap_or(0)).sum()
    });

    let starts = starts.lock().map(|s| s.clone()).unwrap_or_default();
    let mut per_period = vec![0usize; periods as usize];
    for at in starts.iter().filter(|&&at| at >= begin) {
        let i = ((*at - begin).as_nanos() / ttl.as_nanos()) as usize;
        if let Some(n) = per_period.get_mut(i) {
            *n += 1;
        }
    }
    Outcome {
        reads,
        misses: x.cache().stats().misses.total() - warm_misses,
        queries: per_period.iter().sum(),
        worst_period: per_period.iter().copied().max().unwrap_or(0),
        early: x.early_recomputes(),
        delta,
    }
}

fn main() {
    let args: Vec<u64> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    let ttl = Duration::from_millis(args.first().copied().unwrap_or(1_000));
    let periods = args.get(1).copied().unwrap_or(10) as u32;
    let rows = args.get(2).copied().unwrap_or(1_000_000);

    let db = Db::new(100).with_orders(rows);
    println!(
        "one hot key, {RATE} reads/s on {THREADS} threads, TTL {ttl:?}, {periods} periods, \
         value = sum over {rows} {} rows",
        db.backend()
    );
    println!();
    println!(
        "| mode | δ (load time) | reads | misses after warm-up | DB queries | most in one TTL period | early recomputes |"
    );
    println!("|---|---|---|---|---|---|---|");
    for (name, beta) in [("XFetch β=1", 1.0), ("plain TTL (β=0)", 0.0)] {
        let o = run(&db, beta, ttl, periods);
        println!(
            "| {name} | {:.1} ms | {} | {} | {} | {} | {} |",
            o.delta.as_secs_f64() * 1e3,
            o.reads,
            o.misses,
            o.queries,
            o.worst_period,
            o.early
        );
    }
}
