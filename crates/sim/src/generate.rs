//! Synthetic workloads: seeded, deterministic generators of [`Request`] streams.
//!
//! Every generator returns requests of size 1 and, given the same arguments (and seed), the
//! very same stream on every platform and run: randomness comes only from
//! [`StdRng::seed_from_u64`] and [`rand_distr::Zipf`].
//!
//! | generator | stream | what it exercises |
//! |---|---|---|
//! | [`zipf`] | key `r − 1` with probability ∝ `1 / r^α` | skewed popularity (web, CDN, KV) |
//! | [`eighty_twenty`] | 80 % of requests to a fixed random 20 % of the keys | the seed's "80/20" workload |
//! | [`scan_polluted`] | a Zipf hot set, interrupted by one-time sequential scans | scan resistance |
//! | [`looping`] | `0, 1, …, keys − 1, 0, 1, …` | LRU's worst case when the loop exceeds the cache |
//!
//! Keys are small integers, so that a test can reason about them (in [`zipf`], key 0 is the most
//! popular); the replay hashes them with a fixed-seed hasher, so their numeric order has no
//! effect on any policy.
//!
//! ```
//! use larder_sim::generate;
//!
//! let a = generate::zipf(1_000, 0.99, 10_000, 7);
//! assert_eq!(a, generate::zipf(1_000, 0.99, 10_000, 7));
//! assert!(a.iter().all(|r| r.key < 1_000 && r.size == 1));
//! ```

use crate::trace::Request;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_distr::{Distribution, Zipf};

/// Share of the requests that go to the hot set in [`eighty_twenty`].
pub const HOT_REQUEST_SHARE: f64 = 0.8;

/// Share of the keys that form the hot set in [`eighty_twenty`].
pub const HOT_KEY_SHARE: f64 = 0.2;

/// A request of size 1 for `key`.
fn request(key: u64) -> Request {
    Request { key, size: 1 }
}

/// A Zipf sampler over ranks `1..=keys` with exponent `alpha`.
///
/// # Panics
///
/// If `keys` is 0 or `alpha` is negative or NaN.
fn zipf_sampler(keys: u64, alpha: f64) -> Zipf<f64> {
    assert!(keys > 0, "a Zipf workload needs at least one key");
    match Zipf::new(keys as f64, alpha) {
        Ok(zipf) => zipf,
        Err(e) => panic!("invalid Zipf exponent {alpha}: {e}"),
    }
}

/// Draws one key in `0..keys` from `sampler` (rank 1 is key 0).
fn zipf_key(sampler: &Zipf<f64>, rng: &mut StdRng, keys: u64) -> u64 {
    // The sampler returns an integral float in [1, keys]; the clamp only guards rounding.
    let rank = sampler.sample(rng) as u64;
    rank.clamp(1, keys) - 1
}

/// `requests` requests over keys `0..keys` drawn independently from a Zipf distribution with
/// exponent `alpha`: key `k` has probability proportional to `1 / (k + 1)^alpha`. `alpha = 0` is
/// uniform; web and key-value traces usually measure 0.6–1.2.
///
/// # Panics
///
/// If `requests > 0` and `keys` is 0, or `alpha` is negative or NaN.
pub fn zipf(keys: u64, alpha: f64, requests: usize, seed: u64) -> Vec<Request> {
    if requests == 0 {
        return Vec::new();
    }
    let sampler = zipf_sampler(keys, alpha);
    let mut rng = StdRng::seed_from_u64(seed);
    (0..requests)
        .map(|_| request(zipf_key(&sampler, &mut rng, keys)))
        .collect()
}

/// The keys of the hot set [`eighty_twenty`] uses for `keys` and `seed`: a random but fixed
/// 20 % of `0..keys` (at least one key), sorted.
pub fn eighty_twenty_hot_set(keys: u64, seed: u64) -> Vec<u64> {
    let (mut hot, _) = eighty_twenty_split(keys, &mut StdRng::seed_from_u64(seed));
    hot.sort_unstable();
    hot
}

/// Splits `0..keys` into a random hot 20 % (at least one key) and the rest.
fn eighty_twenty_split(keys: u64, rng: &mut StdRng) -> (Vec<u64>, Vec<u64>) {
    let mut all: Vec<u64> = (0..keys).collect();
    all.shuffle(rng);
    let hot_len = ((keys as f64 * HOT_KEY_SHARE).round() as usize).clamp(1, all.len().max(1));
    let cold = all.split_off(hot_len.min(all.len()));
    (all, cold)
}

/// The seed's "80 % of requests to 20 % of items" workload ("Eviction Policies", policy
/// comparison): a random but fixed 20 % of `0..keys` (see [`eighty_twenty_hot_set`]) receives
/// each request with probability 0.8, uniformly among its keys; otherwise the request goes
/// uniformly to one of the other 80 %. Popularity does not change over time (independent
/// reference model).
///
/// # Panics
///
/// If `requests > 0` and `keys` is 0.
pub fn eighty_twenty(keys: u64, requests: usize, seed: u64) -> Vec<Request> {
    if requests == 0 {
        return Vec::new();
    }
    assert!(keys > 0, "an 80/20 workload needs at least one key");
    let mut rng = StdRng::seed_from_u64(seed);
    let (hot, cold) = eighty_twenty_split(keys, &mut rng);
    (0..requests)
        .map(|_| {
            let set = if cold.is_empty() || rng.random_bool(HOT_REQUEST_SHARE) {
                &hot
            } else {
                &cold
            };
            request(set[rng.random_range(0..set.len())])
        })
        .collect()
}

/// A Zipf(`hot_alpha`) hot set over keys `0..hot_keys`, polluted by scans: after every
/// `scan_every` hot requests comes a scan of `scan_len` sequential keys that were never
/// requested before and never will be again (keys from `hot_keys` upwards). The stream has
/// exactly `requests` requests, the last scan possibly cut short. `scan_every = 0` or
/// `scan_len = 0` means no scans (a plain [`zipf`] stream).
///
/// This is the seed's "LRU cache pollution" scenario (a batch job reads many items once each
/// and flushes the hot items out of an LRU cache).
///
/// # Panics
///
/// If `requests > 0` and `hot_keys` is 0, or `hot_alpha` is negative or NaN.
pub fn scan_polluted(
    hot_keys: u64,
    hot_alpha: f64,
    scan_len: usize,
    scan_every: usize,
    requests: usize,
    seed: u64,
) -> Vec<Request> {
    if requests == 0 {
        return Vec::new();
    }
    let sampler = zipf_sampler(hot_keys, hot_alpha);
    let mut rng = StdRng::seed_from_u64(seed);
    let mut out = Vec::with_capacity(requests);
    let mut next_scan_key = hot_keys;
    let mut since_scan = 0;
    while out.len() < requests {
        if scan_len > 0 && scan_every > 0 && since_scan == scan_every {
            let len = scan_len.min(requests - out.len());
            out.extend((next_scan_key..).take(len).map(request));
            next_scan_key += len as u64;
            since_scan = 0;
        } else {
            out.push(request(zipf_key(&sampler, &mut rng, hot_keys)));
            since_scan += 1;
        }
    }
    out
}

/// A loop over `0..keys`, repeated until `requests` requests: `0, 1, …, keys − 1, 0, 1, …`.
/// An LRU or FIFO cache smaller than `keys` never hits on it; the optimum keeps a fixed
/// `capacity − 1` keys and hits on about `(capacity − 1) / keys` of the requests.
///
/// # Panics
///
/// If `requests > 0` and `keys` is 0.
pub fn looping(keys: u64, requests: usize) -> Vec<Request> {
    if requests == 0 {
        return Vec::new();
    }
    assert!(keys > 0, "a loop needs at least one key");
    (0..keys).cycle().take(requests).map(request).collect()
}

/// The share of a Zipf(`alpha`) workload over `keys` keys that goes to its `top` most popular
/// keys: `Σ_{r ≤ top} r^−α / Σ_{r ≤ keys} r^−α` (0 when `keys` is 0). Under an independent
/// reference model this is also the best hit ratio a cache of `top` entries can reach.
pub fn zipf_top_share(keys: u64, alpha: f64, top: u64) -> f64 {
    let top = top.min(keys);
    let weight = |r: u64| (r as f64).powf(-alpha);
    let head: f64 = (1..=top).map(weight).sum();
    let tail: f64 = (top + 1..=keys).map(weight).sum();
    if head + tail > 0.0 {
        head / (head + tail)
    } else {
        0.0
    }
}

/// The Zipf exponent for which the `key_share` most popular keys (a fraction, e.g. 0.2) of
/// `keys` receive `request_share` of the requests (e.g. 0.8): the "power law" reading of the
/// seed's 80/20 workload. Found by bisection on `[0, 8]` to within 1e-6; saturates at 0 when
/// the head is already that popular under a uniform distribution, and at 8 when no exponent up
/// to 8 reaches it.
pub fn zipf_alpha_for(keys: u64, key_share: f64, request_share: f64) -> f64 {
    let top = ((keys as f64 * key_share).round() as u64).clamp(1, keys.max(1));
    let (mut low, mut high) = (0.0_f64, 8.0_f64);
    if zipf_top_share(keys, low, top) >= request_share {
        return low;
    }
    if zipf_top_share(keys, high, top) <= request_share {
        return high;
    }
    while high - low > 1e-6 {
        let mid = 0.5 * (low + high);
        if zipf_top_share(keys, mid, top) < request_share {
            low = mid;
        } else {
            high = mid;
        }
    }
    0.5 * (low + high)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn counts(requests: &[Request]) -> HashMap<u64, usize> {
        let mut counts = HashMap::new();
        for r in requests {
            *counts.entry(r.key).or_insert(0) += 1;
        }
        counts
    }

    #[test]
    fn every_generator_is_deterministic_per_seed() {
        assert_eq!(zipf(500, 0.9, 5_000, 1), zipf(500, 0.9, 5_000, 1));
        assert_ne!(zipf(500, 0.9, 5_000, 1), zipf(500, 0.9, 5_000, 2));
        assert_eq!(eighty_twenty(500, 5_000, 3), eighty_twenty(500, 5_000, 3));
        assert_ne!(eighty_twenty(500, 5_000, 3), eighty_twenty(500, 5_000, 4));
        assert_eq!(
            scan_polluted(100, 1.0, 50, 200, 5_000, 5),
            scan_polluted(100, 1.0, 50, 200, 5_000, 5)
        );
        assert_ne!(
            scan_polluted(100, 1.0, 50, 200, 5_000, 5),
            scan_polluted(100, 1.0, 50, 200, 5_000, 6)
        );
        assert_eq!(looping(7, 20), looping(7, 20));
    }

    #[test]
    fn the_first_values_are_pinned() {
        // Guards against a silent change of the generators (or of rand's StdRng or rand_distr's
        // Zipf): the numbers in docs/simulations.md depend on these streams.
        let keys = |requests: Vec<Request>| requests.iter().map(|r| r.key).collect::<Vec<_>>();
        assert_eq!(
            keys(zipf(1_000, 1.0, 8, 42)),
            [23, 56, 0, 125, 1, 584, 8, 23]
        );
        assert_eq!(
            keys(eighty_twenty(1_000, 8, 42)),
            [650, 559, 620, 529, 673, 776, 840, 28]
        );
        assert_eq!(
            keys(scan_polluted(100, 1.0, 3, 4, 12, 42)),
            [7, 13, 0, 22, 100, 101, 102, 0, 68, 3, 6, 103]
        );
    }

    #[test]
    fn eighty_twenty_sends_eighty_percent_to_a_fixed_fifth() {
        let keys = 10_000;
        let requests = eighty_twenty(keys, 200_000, 11);
        let hot = eighty_twenty_hot_set(keys, 11);
        assert_eq!(hot.len(), 2_000);
        let hot_hits = requests
            .iter()
            .filter(|r| hot.binary_search(&r.key).is_ok())
            .count();
        let share = 100.0 * hot_hits as f64 / requests.len() as f64;
        assert!((share - 80.0).abs() < 1.0, "hot share {share:.2} %");
        // The hot set is random, not the first 20 % of the key space.
        assert!(hot.iter().any(|&k| k >= 2_000));
        // Each cold key is requested 5 times on average (a few not at all), a hot one 80 times:
        // a hot key is 16 times as popular as a cold one.
        let counts = counts(&requests);
        assert!(counts.len() > 9_900 && counts.len() <= 10_000);
        let hot_mean = hot_hits as f64 / 2_000.0;
        let cold_mean = (requests.len() - hot_hits) as f64 / 8_000.0;
        assert!((hot_mean / cold_mean - 16.0).abs() < 1.0);
    }

    #[test]
    fn zipf_head_frequency_matches_the_distribution() {
        let (keys, alpha, n) = (1_000u64, 1.0, 200_000);
        let requests = zipf(keys, alpha, n, 9);
        let norm: f64 = (1..=keys).map(|r| (r as f64).powf(-alpha)).sum();
        let counts = counts(&requests);
        for key in 0..5u64 {
            let expected = ((key + 1) as f64).powf(-alpha) / norm;
            let got = counts.get(&key).copied().unwrap_or(0) as f64 / n as f64;
            assert!(
                (got - expected).abs() < 0.1 * expected,
                "key {key}: {got:.4} vs {expected:.4}"
            );
        }
        // The head is the most popular key, and popularity falls with rank.
        assert!(counts[&0] > counts[&1] && counts[&1] > counts[&9]);
        assert!(requests.iter().all(|r| r.key < keys));
    }

    #[test]
    fn the_eighty_twenty_exponent_puts_eighty_percent_on_the_top_fifth() {
        let alpha = zipf_alpha_for(5_000, 0.2, 0.8);
        assert!((zipf_top_share(5_000, alpha, 1_000) - 0.8).abs() < 1e-5);
        assert!(alpha > 0.9 && alpha < 1.0, "alpha {alpha}");
        let requests = zipf(5_000, alpha, 200_000, 4);
        let head = requests.iter().filter(|r| r.key < 1_000).count();
        assert!((head as f64 / 200_000.0 - 0.8).abs() < 0.01);
        assert_eq!(zipf_top_share(10, 0.0, 3), 0.3);
        assert_eq!(zipf_top_share(0, 1.0, 3), 0.0);
    }

    #[test]
    fn zipf_alpha_zero_is_uniform() {
        let requests = zipf(10, 0.0, 100_000, 3);
        let counts = counts(&requests);
        assert_eq!(counts.len(), 10);
        assert!(counts.values().all(|&c| (9_000..11_000).contains(&c)));
    }

    #[test]
    fn scans_are_sequential_one_time_keys_at_the_given_period() {
        let requests = scan_polluted(100, 0.8, 30, 70, 1_000, 8);
        assert_eq!(requests.len(), 1_000);
        // Requests 70..100 are the first scan, 170..200 the second.
        let first: Vec<u64> = requests[70..100].iter().map(|r| r.key).collect();
        assert_eq!(first, (100..130).collect::<Vec<_>>());
        let second: Vec<u64> = requests[170..200].iter().map(|r| r.key).collect();
        assert_eq!(second, (130..160).collect::<Vec<_>>());
        assert!(requests[..70].iter().all(|r| r.key < 100));
        let counts = counts(&requests);
        assert!(
            counts
                .iter()
                .filter(|(k, _)| **k >= 100)
                .all(|(_, &c)| c == 1)
        );
        // 10 periods of 100: 300 scan requests.
        assert_eq!(requests.iter().filter(|r| r.key >= 100).count(), 300);
        // No scans: a Zipf stream over the hot set only.
        assert!(
            scan_polluted(100, 0.8, 0, 70, 500, 8)
                .iter()
                .all(|r| r.key < 100)
        );
    }

    #[test]
    fn looping_cycles_through_the_keys() {
        let keys: Vec<u64> = looping(3, 7).iter().map(|r| r.key).collect();
        assert_eq!(keys, [0, 1, 2, 0, 1, 2, 0]);
        assert!(looping(3, 0).is_empty());
        assert!(zipf(0, 1.0, 0, 1).is_empty());
    }
}
