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

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use larder_engine::{PolicyKind, Store};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use rand_distr::Zipf;
use std::hint::black_box;
use std::sync::{Barrier, LazyLock};
use std::time::{Duration, Instant};

/// Distinct keys the Zipf distribution draws from.
const KEY_SPACE: u64 = 1_000_000;
/// Cache capacity in entries.
const CAPACITY: u64 = 100_000;
/// Keys inserted before measuring: the most popular 90 % of the capacity.
const WARM: u64 = CAPACITY / 10 * 9;
/// Zipf exponent.
const ALPHA: f64 = 1.0;
/// Pre-generated operations per thread (a power of two; streams are replayed cyclically).
const STREAM: usize = 1 << 20;
/// The top bit of a stream word marks an insert; the rest is the key.
const INSERT: u64 = 1 << 63;
/// Threads used by the multi-thread variants.
const MAX_THREADS: usize = 2;

/// The operations a benchmarked cache must offer.
trait Cache: Sync {
    fn get(&self, key: u64) -> Option<u64>;
    fn insert(&self, key: u64, value: u64);
    /// Lets asynchronous bookkeeping (moka) catch up after warming.
    fn settle(&self) {}
}

impl Cache for Store<u64, u64> {
    #[inline]
    fn get(&self, key: u64) -> Option<u64> {
        Store::get(self, &key)
    }
    #[inline]
    fn insert(&self, key: u64, value: u64) {
        let _ = Store::insert(self, key, value);
    }
}

impl Cache for moka::sync::Cache<u64, u64> {
    #[inline]
    fn get(&self, key: u64) -> Option<u64> {
        moka::sync::Cache::get(self, &key)
    }
    #[inline]
    fn insert(&self, key: u64, value: u64) {
        moka::sync::Cache::insert(self, key, value);
    }
    fn settle(&self) {
        self.run_pending_tasks();
    }
}

impl Cache for quick_cache::sync::Cache<u64, u64> {
    #[inline]
    fn get(&self, key: u64) -> Option<u64> {
        quick_cache::sync::Cache::get(self, &key)
    }
    #[inline]
    fn insert(&self, key: u64, value: u64) {
        quick_cache::sync::Cache::insert(self, key, value);
    }
}

/// One key stream per thread; `mixed` streams carry the insert bit on about 10 % of words.
struct Streams {
    read: Vec<Vec<u64>>,
    mixed: Vec<Vec<u64>>,
}

static STREAMS: LazyLock<Streams> = LazyLock::new(|| {
    let zipf = Zipf::new(KEY_SPACE as f64, ALPHA).expect("valid Zipf parameters");
    let stream = |seed: u64, insert_share: f64| -> Vec<u64> {
        let mut rng = StdRng::seed_from_u64(seed);
        (0..STREAM)
            .map(|_| {
                let key = rng.sample(zipf) as u64;
                if rng.random_bool(insert_share) {
                    key | INSERT
                } else {
                    key
                }
            })
            .collect()
    };
    Streams {
        read: (0..MAX_THREADS)
            .map(|t| stream(0x5eed + t as u64, 0.0))
            .collect(),
        mixed: (0..MAX_THREADS)
            .map(|t| stream(0xcafe + t as u64, 0.1))
            .collect(),
    }
});

/// Runs `iters` operations of `stream` (from `start`) against `cache`.
#[inline]
fn run<C: Cache>(cache: &C, stream: &[u64], start: usize, iters: u64) {
    let mask = stream.len() - 1;
    let mut at = start;
    for _ in 0..iters {
        let word = stream[at & mask];
        at = at.wrapping_add(1);
        if word & INSERT != 0 {
            let key = word & !INSERT;
            cache.insert(key, key);
        } else {
            black_box(cache.get(word));
        }
    }
}

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

/// Inserts the `WARM` most popular keys (1..=WARM under Zipf), least popular first, so that
/// every cache starts from the same resident set: 90 % of the capacity leaves every shard of the
/// sharded caches room for its share, so nothing is evicted (or refused) while warming.
fn warm<C: Cache>(cache: C) -> C {
    for key in (1..=WARM).rev() {
        cache.insert(key, key);
    }
    cache.settle();
    cache
}

fn larder(policy: PolicyKind) -> Store<u64, u64> {
    warm(Store::builder(CAPACITY).policy(policy).build())
}

fn moka() -> moka::sync::Cache<u64, u64> {
    warm(moka::sync::Cache::new(CAPACITY))
}

fn quick() -> quick_cache::sync::Cache<u64, u64> {
    warm(quick_cache::sync::Cache::new(CAPACITY as usize))
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
