//! The one workload behind `benches/throughput.rs` (criterion) and `examples/paired.rs` (paired
//! rounds): Zipf-distributed `u64` keys (α = 1.0 over 1,000,000 keys), caches of 100,000 entries
//! warmed with the 90,000 most popular keys, and the adapters that put larder, moka and
//! quick_cache behind one interface. Both measurements include this file, so their figures in
//! `docs/benchmarks.md` describe the same work.

use larder_engine::{PolicyKind, Store};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use rand_distr::Zipf;
use std::hint::black_box;

/// Distinct keys the Zipf distribution draws from.
pub const KEY_SPACE: u64 = 1_000_000;
/// Cache capacity in entries.
pub const CAPACITY: u64 = 100_000;
/// Keys inserted before measuring: the most popular 90 % of the capacity.
pub const WARM: u64 = CAPACITY / 10 * 9;
/// Zipf exponent.
pub const ALPHA: f64 = 1.0;
/// Pre-generated operations per thread (a power of two; streams are replayed cyclically).
pub const STREAM: usize = 1 << 20;
/// The top bit of a stream word marks an insert; the rest is the key.
pub const INSERT: u64 = 1 << 63;

/// The operations a benchmarked cache must offer.
pub trait Cache: Sync {
    /// Looks a key up.
    fn get(&self, key: u64) -> Option<u64>;
    /// Stores a key.
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

/// One thread's key stream: `read` streams only look up, `mixed` ones insert the drawn key on
/// about 10 % of words. Thread `t` of a workload always gets the same stream.
pub fn stream(mixed: bool, thread: usize) -> Vec<u64> {
    let zipf = Zipf::new(KEY_SPACE as f64, ALPHA).expect("valid Zipf parameters");
    let (seed, insert_share) = if mixed { (0xcafe, 0.1) } else { (0x5eed, 0.0) };
    let mut rng = StdRng::seed_from_u64(seed + thread as u64);
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
}

/// Runs `ops` operations of `stream`, from `start` and wrapping around, against `cache`.
#[inline]
pub fn run<C: Cache + ?Sized>(cache: &C, stream: &[u64], start: usize, ops: u64) {
    let mask = stream.len() - 1;
    let mut at = start;
    for _ in 0..ops {
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

/// Inserts the `WARM` most popular keys (1..=WARM under Zipf), least popular first, so that
/// every cache starts from the same resident set: 90 % of the capacity leaves every shard of the
/// sharded caches room for its share, so nothing is evicted (or refused) while warming.
pub fn warm<C: Cache>(cache: C) -> C {
    for key in (1..=WARM).rev() {
        cache.insert(key, key);
    }
    cache.settle();
    cache
}

/// A warmed larder store with `policy`.
pub fn larder(policy: PolicyKind) -> Store<u64, u64> {
    warm(Store::builder(CAPACITY).policy(policy).build())
}

/// A warmed moka cache.
pub fn moka() -> moka::sync::Cache<u64, u64> {
    warm(moka::sync::Cache::new(CAPACITY))
}

/// A warmed quick_cache cache.
pub fn quick() -> quick_cache::sync::Cache<u64, u64> {
    warm(quick_cache::sync::Cache::new(CAPACITY as usize))
}
