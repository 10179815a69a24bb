//! The engine's online miss-ratio-curve estimate (SHARDS with a fixed-size sample of
//! `DEFAULT_MAX_SAMPLES` = 98,304 keys, `larder_engine::mrc`) against exact LRU replays
//! (`larder_sim::replay`), on the ARC OLTP trace (skipped, with a note on stderr, when the traces
//! are absent) and on a seeded Zipf(0.9) trace of 1,000,000 requests over 200,000 keys generated
//! here.
//!
//! The estimate depends on which keys the hash samples. The two checks below require the issue's
//! bound, one percentage point, at every size from 1,000 to 20,000 entries, for each of the first
//! [`CHECKED_SEEDS`] hasher seeds of the sweep (not chosen ones). `seed_sweep` measures the spread
//! over [`SWEEP`] seeds and several sample sizes, for `docs/mrc.md`, with
//! `cargo test --release -p larder-sim --test mrc -- --ignored --nocapture`.

use std::hash::BuildHasher;
use std::time::Instant;

use larder_engine::mrc::{DEFAULT_MAX_SAMPLES, MissRatioCurve};
use larder_engine::{FixedState, PolicyKind};
use larder_sim::replay::replay;
use larder_sim::trace::{self, Request};

/// Cache sizes checked, in entries.
const SIZES: [u64; 5] = [1000, 2000, 5000, 10_000, 20_000];
/// Sampled keys: the engine's default fixed-size sample.
const SAMPLES: usize = DEFAULT_MAX_SAMPLES;
/// Largest accepted error, in percentage points of hit ratio.
const TOLERANCE: f64 = 1.0;
/// Seeds of the hasher that feeds the estimator: the `i`-th is `Rng(i).next_u64()`.
const SWEEP: u64 = 40;
/// Hasher seeds the checks use: the first of the sweep.
const CHECKED_SEEDS: u64 = 4;
/// The Zipf trace: requests, keys, exponent, generator seed.
const ZIPF: (usize, usize, f64, u64) = (1_000_000, 200_000, 0.9, 0x2f1a);

/// SplitMix64, for reproducible traces and seeds.
struct Rng(u64);

impl Rng {
    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `[0, 1)`.
    fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// The hasher seed number `i` of the sweep (the checks use seeds `0..CHECKED_SEEDS`).
fn hasher_seed(i: u64) -> u64 {
    Rng(i).next_u64()
}

/// `n` requests drawn independently from a Zipf(`alpha`) law over `keys` keys (rank `r` has
/// probability proportional to `1 / r^alpha`), by inverting the cumulative distribution.
fn zipf(n: usize, keys: usize, alpha: f64, seed: u64) -> Vec<Request> {
    let mut cdf = Vec::with_capacity(keys);
    let mut total = 0.0;
    for rank in 1..=keys {
        total += (rank as f64).powf(-alpha);
        cdf.push(total);
    }
    let mut rng = Rng(seed);
    (0..n)
        .map(|_| {
            let u = rng.unit() * total;
            let rank = cdf.partition_point(|&c| c <= u).min(keys - 1) as u64;
            Request {
                // Scatter the ranks over the key space, as real keys are.
                key: rank.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ seed,
                size: 1,
            }
        })
        .collect()
}

/// The ARC OLTP trace, or `None` (said on stderr) when it is absent.
fn oltp() -> Option<Vec<Request>> {
    let path = trace::shared_trace("arc/OLTP.lis.zst")?;
    Some(trace::open(&path).expect("trace parses").requests)
}

/// Exact LRU hit percentages at [`SIZES`], from every request's stack distance (one pass with a
/// Fenwick tree over request times, independent of the engine), cross-checked against
/// `larder_sim::replay` with the engine's exact LRU policy: at every size in a release build, at
/// one in a debug build (a debug replay takes seconds per size).
fn exact(requests: &[Request]) -> Vec<f64> {
    let n = requests.len();
    let mut tree = vec![0u32; n + 1];
    let mut last = std::collections::HashMap::with_capacity(n / 4);
    let mut live = 0u32;
    let mut hits = [0u64; SIZES.len()];
    for (t, request) in requests.iter().enumerate() {
        if let Some(previous) = last.insert(request.key, t) {
            // Keys referenced since `previous`: live marks after it.
            let mut before = 0;
            let mut i = previous + 1;
            while i > 0 {
                before += tree[i];
                i &= i - 1;
            }
            let distance = u64::from(live - before);
            for (h, &c) in hits.iter_mut().zip(&SIZES) {
                *h += u64::from(distance < c);
            }
            let mut i = previous + 1;
            while i <= n {
                tree[i] -= 1;
                i += i & i.wrapping_neg();
            }
        } else {
            live += 1;
        }
        let mut i = t + 1;
        while i <= n {
            tree[i] += 1;
            i += i & i.wrapping_neg();
        }
    }
    let exact: Vec<f64> = hits.iter().map(|&h| 100.0 * h as f64 / n as f64).collect();
    let checked = if cfg!(debug_assertions) {
        2..3
    } else {
        0..SIZES.len()
    };
    for k in checked {
        let replayed = replay(requests, PolicyKind::Lru, SIZES[k], false).hit_percent();
        assert!(
            (replayed - exact[k]).abs() < 1e-9,
            "LRU at {}: replay {replayed} % vs stack distances {} %",
            SIZES[k],
            exact[k]
        );
    }
    exact
}

/// The estimator after every request's key hash (hasher seeded with `seed`, as a store's is
/// randomly) has been recorded.
fn estimator(requests: &[Request], samples: usize, seed: u64) -> MissRatioCurve {
    let hasher = FixedState::with_seed(seed);
    let mut mrc = MissRatioCurve::new(samples);
    for request in requests {
        mrc.record(hasher.hash_one(request.key));
    }
    assert_eq!(mrc.references(), requests.len() as u64);
    assert!(mrc.sampled_keys() <= samples);
    mrc
}

/// Estimated LRU hit percentages at [`SIZES`].
fn estimate(mrc: &MissRatioCurve) -> Vec<f64> {
    SIZES.iter().map(|&c| 100.0 * mrc.hit_ratio_at(c)).collect()
}

/// Checks the estimate with each of the first [`CHECKED_SEEDS`] hasher seeds against exact LRU at
/// every size.
fn check(name: &str, requests: &[Request]) {
    let start = Instant::now();
    let exact = exact(requests);
    let exact_time = start.elapsed();
    let mut failures = Vec::new();
    for i in 0..CHECKED_SEEDS {
        let recording = Instant::now();
        let mrc = estimator(requests, SAMPLES, hasher_seed(i));
        let recorded = recording.elapsed();
        let estimated = estimate(&mrc);
        eprintln!(
            "{name} seed {i}: {} requests recorded in {:.1} ms, sampling rate {:.4}, {} of \
             {SAMPLES} keys, {} KiB",
            requests.len(),
            recorded.as_secs_f64() * 1e3,
            mrc.sampling_rate(),
            mrc.sampled_keys(),
            mrc.heap_bytes() / 1024
        );
        for ((&c, &e), &x) in SIZES.iter().zip(&exact).zip(&estimated) {
            eprintln!(
                "{name} seed {i} {c:>6} entries: exact LRU {e:6.2} %  estimated {x:6.2} %  \
                 error {:+.2}",
                x - e
            );
            if (x - e).abs() > TOLERANCE {
                failures.push(format!("seed {i}, {c}: {x:.2} % vs exact {e:.2} %"));
            }
        }
    }
    eprintln!(
        "{name}: exact LRU {:.2} s, total {:.2} s",
        exact_time.as_secs_f64(),
        start.elapsed().as_secs_f64()
    );
    assert!(
        failures.is_empty(),
        "{name}: error beyond {TOLERANCE} point: {failures:?}"
    );
}

fn zipf_trace() -> Vec<Request> {
    let (n, keys, alpha, seed) = ZIPF;
    zipf(n, keys, alpha, seed)
}

#[test]
fn zipf_estimate_is_within_one_point_of_exact_lru() {
    check("zipf", &zipf_trace());
}

#[test]
fn oltp_estimate_is_within_one_point_of_exact_lru() {
    let Some(requests) = oltp() else {
        return;
    };
    check("oltp", &requests);
}

/// The spread of the estimate over [`SWEEP`] hasher seeds, for several sample sizes (the table
/// in `docs/mrc.md`; `SWEEP_SAMPLES=8192,65536` in the environment picks others). Slow in a debug
/// build: run it with `--release`.
#[test]
#[ignore]
fn seed_sweep() {
    let mut traces = vec![("zipf", zipf_trace())];
    if let Some(requests) = oltp() {
        traces.push(("oltp", requests));
    }
    for (name, requests) in &traces {
        let exact = exact(requests);
        eprintln!("{name}: exact LRU {exact:.2?}");
        let samples = std::env::var("SWEEP_SAMPLES").map_or_else(
            |_| vec![8192, 16_384, 65_536, DEFAULT_MAX_SAMPLES],
            |list| {
                list.split(',')
                    .map(|n| {
                        n.trim()
                            .parse()
                            .expect("SWEEP_SAMPLES: comma-separated counts")
                    })
                    .collect()
            },
        );
        for samples in samples {
            let mut errors = vec![Vec::new(); SIZES.len()];
            let mut rate = 0.0;
            for i in 0..SWEEP {
                let mrc = estimator(requests, samples, hasher_seed(i));
                rate += mrc.sampling_rate() / SWEEP as f64;
                let estimated = estimate(&mrc);
                for (k, (&x, &e)) in estimated.iter().zip(&exact).enumerate() {
                    errors[k].push(x - e);
                }
            }
            eprintln!("{name} samples {samples:>6}: mean sampling rate {rate:.3}");
            for (&c, errors) in SIZES.iter().zip(&errors) {
                let n = errors.len() as f64;
                let mean = errors.iter().sum::<f64>() / n;
                let sd = (errors.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / n).sqrt();
                let worst = errors.iter().fold(0f64, |a, x| a.max(x.abs()));
                let within = errors.iter().filter(|x| x.abs() <= TOLERANCE).count();
                eprintln!(
                    "{name} samples {samples:>6} size {c:>6}: mean error {mean:+.2}  sd {sd:.2}  \
                     worst {worst:.2}  within 1 point {within}/{SWEEP}"
                );
            }
        }
    }
}
