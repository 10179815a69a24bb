//! In-process read throughput: `larder::Cache` against moka (sync) and quick_cache, same run.
//!
//! Workload: 2 threads, each reading its own pre-generated stream of Zipf keys (α = 1.0 over
//! 1,000,000 `u64` keys); every cache is warmed with the most popular keys that together draw 90 %
//! of the lookups (about 240,000 keys) and sized so that nothing is evicted, so each cache serves
//! the same 90 % hits. Reads only; a miss does nothing.
//!
//! The machine is shared, so the caches are measured in *paired rounds*: each round runs every
//! cache once, in rotating order, for the same number of operations; the report gives each cache's
//! median throughput and the median over rounds of the within-round ratios, which cancel load
//! that shifts between rounds. The engine's bare `Store<u64, u64>` runs too, as the floor of
//! what the wrapper costs.
//!
//! Where an instance's memory lands matters as much as its code on this memory-bound workload:
//! two instances of the *same* cache built in one process differ by up to 25 % (the hot entries'
//! cache-line and page neighbours differ). So every cache is built several times (`SETS`
//! independent sets, each cache filled on its own, in an order that rotates between sets), and the
//! rounds cycle over the sets; a ratio is always taken between caches of the same set and round.
//!
//! `cargo bench -p larder --bench read_throughput [-- ROUNDS [OPS_PER_THREAD [KEYS [SETS]]]]`
//! (defaults: 21 rounds of 1,000,000 reads per thread per cache, 1,000,000 keys, 3 sets; with
//! 100,000 keys the warm set is about 30,000 keys, small enough to stay in the CPU caches).
//! `bench/library.sh` runs it.

use larder::Cache;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use rand_distr::Zipf;
use std::hint::black_box;
use std::sync::Barrier;
use std::time::Instant;

/// Distinct keys by default (the third argument overrides it).
const KEYS: u64 = 1_000_000;
const ALPHA: f64 = 1.0;
const THREADS: usize = 2;
const STREAM: usize = 1 << 21;

trait Reader: Sync {
    fn name(&self) -> &'static str;
    fn read(&self, key: u64) -> Option<u64>;
}

impl Reader for Cache<u64, u64> {
    fn name(&self) -> &'static str {
        "larder"
    }
    #[inline]
    fn read(&self, key: u64) -> Option<u64> {
        self.get(&key)
    }
}

impl Reader for larder_engine::Store<u64, u64> {
    fn name(&self) -> &'static str {
        "engine"
    }
    #[inline]
    fn read(&self, key: u64) -> Option<u64> {
        self.get(&key)
    }
}

impl Reader for moka::sync::Cache<u64, u64> {
    fn name(&self) -> &'static str {
        "moka"
    }
    #[inline]
    fn read(&self, key: u64) -> Option<u64> {
        self.get(&key)
    }
}

impl Reader for quick_cache::sync::Cache<u64, u64> {
    fn name(&self) -> &'static str {
        "quick_cache"
    }
    #[inline]
    fn read(&self, key: u64) -> Option<u64> {
        self.get(&key)
    }
}

/// The number of most popular keys drawing `share` of Zipf(α) lookups over `KEYS`.
fn hot_set(keys: u64, share: f64) -> u64 {
    let weights = (1..=keys).map(|i| (i as f64).powf(-ALPHA));
    let total: f64 = weights.clone().sum();
    let mut acc = 0.0;
    for (i, w) in weights.enumerate() {
        acc += w;
        if acc / total >= share {
            return i as u64 + 1;
        }
    }
    keys
}

fn stream(keys: u64, thread: usize) -> Vec<u64> {
    let zipf = Zipf::new(keys as f64, ALPHA).expect("valid Zipf parameters");
    let mut rng = StdRng::seed_from_u64(0x11b_0000 + thread as u64);
    (0..STREAM).map(|_| rng.sample(zipf) as u64).collect()
}

/// Wall-clock operations per second of `THREADS` threads each doing `ops` reads; and hits.
fn run(cache: &dyn Reader, streams: &[Vec<u64>], start: usize, ops: usize) -> (f64, u64) {
    let barrier = Barrier::new(THREADS + 1);
    let (begin, hits) = std::thread::scope(|scope| {
        let workers: Vec<_> = streams
            .iter()
            .map(|stream| {
                let barrier = &barrier;
                scope.spawn(move || {
                    barrier.wait();
                    let mut hits = 0u64;
                    for i in 0..ops {
                        let key = stream[(start + i) & (STREAM - 1)];
                        hits += u64::from(black_box(cache.read(key)).is_some());
                    }
                    hits
                })
            })
            .collect();
        barrier.wait();
        let begin = Instant::now();
        let hits = workers.into_iter().map(|w| w.join().expect("worker")).sum();
        (begin, hits)
    });
    let secs = begin.elapsed().as_secs_f64();
    ((THREADS * ops) as f64 / secs, hits)
}

/// Builds one cache of `capacity` entries warmed with keys `1..=hot`.
type Build = fn(u64, u64) -> Box<dyn Reader>;

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn main() {
    let args: Vec<usize> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    let rounds = args.first().copied().unwrap_or(21);
    let ops = args.get(1).copied().unwrap_or(1_000_000);
    let keys = args.get(2).map_or(KEYS, |&k| k as u64);

    let sets = args.get(3).copied().unwrap_or(3).max(1);

    let hot = hot_set(keys, 0.9);
    let capacity = hot + hot / 4;
    let streams: Vec<Vec<u64>> = (0..THREADS).map(|t| stream(keys, t)).collect();

    // Each set holds one instance of every cache, in the report's order; each instance is
    // filled on its own, and the build order rotates from set to set.
    let builders: [Build; 4] = [
        |capacity, hot| {
            let cache: Cache<u64, u64> = Cache::new(capacity);
            (1..=hot).for_each(|key| cache.insert(key, key));
            Box::new(cache)
        },
        |capacity, hot| {
            let cache = moka::sync::Cache::new(capacity);
            (1..=hot).for_each(|key| cache.insert(key, key));
            cache.run_pending_tasks();
            Box::new(cache)
        },
        |capacity, hot| {
            let cache = quick_cache::sync::Cache::new(capacity as usize);
            (1..=hot).for_each(|key| cache.insert(key, key));
            Box::new(cache)
        },
        |capacity, hot| {
            let store = larder_engine::Store::<u64, u64>::new(capacity);
            (1..=hot).for_each(|key| {
                let _ = store.insert(key, key);
            });
            Box::new(store)
        },
    ];
    let kinds = builders.len();
    let instances: Vec<Vec<Box<dyn Reader>>> = (0..sets)
        .map(|set| {
            let mut built: Vec<(usize, Box<dyn Reader>)> = (0..kinds)
                .map(|i| (i + set) % kinds)
                .map(|kind| (kind, builders[kind](capacity, hot)))
                .collect();
            built.sort_by_key(|&(kind, _)| kind);
            built.into_iter().map(|(_, cache)| cache).collect()
        })
        .collect();
    for set in &instances {
        for c in set {
            let resident = (1..=hot).filter(|&k| c.read(k).is_some()).count();
            assert_eq!(resident as u64, hot, "{} lost warm keys", c.name());
        }
    }

    let mut rates: Vec<Vec<f64>> = vec![Vec::new(); kinds];
    let mut hit_ratio = vec![0.0; kinds];
    for round in 0..rounds {
        let set = &instances[round % sets];
        let start = round.wrapping_mul(0x9E37_79B9) & (STREAM - 1);
        for i in 0..kinds {
            let at = (i + round) % kinds;
            let (rate, hits) = run(&*set[at], &streams, start, ops);
            rates[at].push(rate);
            hit_ratio[at] = hits as f64 / (THREADS * ops) as f64;
        }
    }
    let caches = &instances[0];

    println!(
        "read throughput, {THREADS} threads, Zipf α={ALPHA} over {keys} keys, {hot} warm keys \
         (capacity {capacity}), {rounds} paired rounds of {ops} reads per thread over {sets} \
         sets of instances"
    );
    println!();
    println!("| cache | hit ratio | median Mops/s | larder ÷ this (median of per-round ratios) |");
    println!("|---|---|---|---|");
    for (i, c) in caches.iter().enumerate() {
        let ratio = median(rates[0].iter().zip(&rates[i]).map(|(l, o)| l / o).collect());
        println!(
            "| {} | {:.3} | {:.2} | {:.2} |",
            c.name(),
            hit_ratio[i],
            median(rates[i].clone()) / 1e6,
            ratio
        );
    }
}
