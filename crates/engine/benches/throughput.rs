//! Throughput of `Store<u64, u64>` against moka and quick_cache.
//!
//! Workloads (all on Zipf-distributed `u64` keys, α = 1.0 over 1,000,000 keys, capacity 100,000
//! entries, keys pre-generated so that generation is not measured):
//!
//! * `read_{1,2}t`: 100 % `get` on a cache warmed with the 90,000 most popular keys (about 83 %
//!   of lookups hit, the same resident set for every cache);
//! * `mixed_{1,2}t`: 90 % `get`, 10 % `insert` of the drawn key, starting from the same warm state.
//!
//! With two threads, each thread runs `iters` operations on its own key stream after a barrier and
//! the wall time of the whole batch is reported, so criterion's throughput (elements = threads per
//! iteration) is the aggregate operations per second.
//!
//! Run with `cargo bench -p larder-engine --bench throughput` (filter with `-- read_2t` etc.);
//! `bench/engine.sh` runs it pinned and turns the medians into a table.

// `criterion_group!` generates an undocumented `pub fn`.
#![allow(missing_docs)]

mod workload;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use larder_engine::PolicyKind;
use std::sync::{Barrier, LazyLock};
use std::time::{Duration, Instant};
use workload::{Cache, INSERT, STREAM, larder, moka, quick, run};

/// Threads used by the multi-thread variants.
const MAX_THREADS: usize = 2;

/// One key stream per thread for each workload.
struct Streams {
    read: Vec<Vec<u64>>,
    mixed: Vec<Vec<u64>>,
}

static STREAMS: LazyLock<Streams> = LazyLock::new(|| Streams {
    read: (0..MAX_THREADS)
        .map(|t| workload::stream(false, t))
        .collect(),
    mixed: (0..MAX_THREADS)
        .map(|t| workload::stream(true, t))
        .collect(),
});

/// Wall time of `threads` threads each running `iters` operations of their own stream.
fn timed<C: Cache>(cache: &C, streams: &[Vec<u64>], threads: usize, iters: u64) -> Duration {
    // Start each batch somewhere else in the stream so that batches are not all alike.
    let start = (iters as usize).wrapping_mul(0x9E37_79B9) & (STREAM - 1);
    if threads == 1 {
        let begin = Instant::now();
        run(cache, &streams[0], start, iters);
        return begin.elapsed();
    }
    let barrier = Barrier::new(threads + 1);
    let begin = std::thread::scope(|scope| {
        for stream in &streams[..threads] {
            let barrier = &barrier;
            scope.spawn(move || {
                barrier.wait();
                run(cache, stream, start, iters);
            });
        }
        barrier.wait();
        Instant::now()
    });
    // Leaving the scope joined the workers: the time covers the slowest one.
    begin.elapsed()
}

/// Benchmarks a cache made by `make`; the cache is built only if the filter selects the benchmark.
fn bench_one<C: Cache>(
    group: &mut criterion::BenchmarkGroup<'_, criterion::measurement::WallTime>,
    name: &str,
    make: impl Fn() -> C,
    streams: &[Vec<u64>],
    threads: usize,
) {
    // Criterion calls the closure several times (warm-up, samples): build the cache once, on the
    // first call, so it is only built if the filter selects this benchmark.
    let mut built: Option<C> = None;
    group.bench_function(BenchmarkId::from_parameter(name), |b| {
        let cache = built.get_or_insert_with(|| {
            // A fresh, identically warmed cache per benchmark; the mixed workload then evolves it.
            let cache = make();
            let probe = &streams[0][..1 << 16];
            let hits = probe
                .iter()
                .filter(|&&w| w & INSERT == 0 && cache.get(w).is_some())
                .count();
            eprintln!(
                "{name}: hit ratio after warming {:.3}",
                hits as f64 / probe.len() as f64
            );
            cache
        });
        b.iter_custom(|iters| timed(&*cache, streams, threads, iters));
    });
}

fn workloads(c: &mut Criterion) {
    let streams = &*STREAMS;
    for (workload, keys) in [("read", &streams.read), ("mixed", &streams.mixed)] {
        for threads in [1, MAX_THREADS] {
            let mut group = c.benchmark_group(format!("{workload}_{threads}t"));
            group.throughput(Throughput::Elements(threads as u64));
            let s3fifo = || larder(PolicyKind::S3Fifo);
            bench_one(&mut group, "larder-s3fifo", s3fifo, keys, threads);
            let lru = || larder(PolicyKind::Lru);
            bench_one(&mut group, "larder-lru", lru, keys, threads);
            bench_one(&mut group, "moka", moka, keys, threads);
            bench_one(&mut group, "quick_cache", quick, keys, threads);
            group.finish();
        }
    }
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(2));
    targets = workloads
}
criterion_main!(benches);
