//! Paired throughput comparison for a noisy machine: the caches take turns in short rounds, and
//! each round's ratios are computed from runs a fraction of a second apart, so background load
//! shifts all caches of a round alike. Reports per-cache median throughput and the median of the
//! per-round ratios to larder S3-FIFO.
//!
//! Same workload as `benches/throughput.rs` (Zipf α = 1.0 over 1,000,000 keys, capacity 100,000,
//! warmed with the 90,000 most popular keys):
//!
//! `cargo run --release -p larder-engine --example paired -- [read|mixed] [threads] [rounds]`
//! (defaults: read 2 15). Pin it: `taskset -c 0,1 target/release/examples/paired read 2`.
//! A fourth argument (`larder-s3fifo`, `larder-lru`, `quick_cache`, `moka`) runs that cache alone,
//! e.g. under `valgrind --tool=cachegrind` to count instructions and simulated cache misses.

#[path = "../benches/workload/mod.rs"]
mod workload;

use larder_engine::PolicyKind;
use std::sync::Barrier;
use std::time::Instant;
use workload::{Cache, larder, moka, quick, run};

/// Operations per thread per turn.
const OPS: usize = 1 << 20;

/// Million operations per second of `threads` threads, each running its whole stream once.
fn turn(cache: &dyn Cache, streams: &[Vec<u64>]) -> f64 {
    let barrier = Barrier::new(streams.len() + 1);
    let begin = std::thread::scope(|scope| {
        for stream in streams {
            let barrier = &barrier;
            scope.spawn(move || {
                barrier.wait();
                run(cache, stream, 0, OPS as u64);
            });
        }
        barrier.wait();
        Instant::now()
    });
    (streams.len() * OPS) as f64 / begin.elapsed().as_secs_f64() / 1e6
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let workload = args.first().map_or("read", String::as_str);
    let threads: usize = args.get(1).and_then(|a| a.parse().ok()).unwrap_or(2);
    let rounds: usize = args.get(2).and_then(|a| a.parse().ok()).unwrap_or(15);
    let streams: Vec<Vec<u64>> = (0..threads)
        .map(|t| workload::stream(workload == "mixed", t))
        .collect();

    let only = args.get(3).map(String::as_str);
    type Make = fn() -> Box<dyn Cache>;
    let makers: [(&str, Make); 4] = [
        ("larder-s3fifo", || Box::new(larder(PolicyKind::S3Fifo))),
        ("larder-lru", || Box::new(larder(PolicyKind::Lru))),
        ("quick_cache", || Box::new(quick())),
        ("moka", || Box::new(moka())),
    ];
    // An optional fourth argument runs one cache alone (for profilers such as cachegrind).
    let caches: Vec<(&str, Box<dyn Cache>)> = makers
        .into_iter()
        .filter(|(name, _)| only.is_none_or(|o| o == *name))
        .map(|(name, make)| (name, make()))
        .collect();

    // One untimed turn each, then rounds in rotating order.
    for (_, cache) in &caches {
        turn(cache.as_ref(), &streams);
    }
    let mut mops = vec![Vec::new(); caches.len()];
    for round in 0..rounds {
        for i in 0..caches.len() {
            let at = (i + round) % caches.len();
            mops[at].push(turn(caches[at].1.as_ref(), &streams));
        }
    }

    println!("{workload}, {threads} thread(s), {rounds} rounds of {OPS} ops per thread");
    println!("| cache | median Mops/s | first ÷ this (median of per-round ratios) |");
    println!("|---|---:|---:|");
    for (i, (name, _)) in caches.iter().enumerate() {
        let ratios = mops[0].iter().zip(&mops[i]).map(|(a, b)| a / b).collect();
        println!(
            "| {name} | {:.2} | {:.2} |",
            median(mops[i].clone()),
            median(ratios)
        );
    }
}
