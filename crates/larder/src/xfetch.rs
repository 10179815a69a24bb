//! Probabilistic early expiration (XFetch; Vattani, Chierichetti and Lowenstein, VLDB 2015).
//!
//! A value that expires at `expiry` and took `δ` to compute is recomputed by a reader at time
//! `now` when
//!
//! ```text
//! now − δ · β · ln(rand()) ≥ expiry        (rand() uniform in (0, 1])
//! ```
//!
//! `−ln(rand())` is exponentially distributed, so each read recomputes early with probability
//! `exp(−(expiry − now) / (δβ))`: negligible while expiry is many δ away, near certain in its last
//! δ. Under steady traffic one reader recomputes a little before expiry while everybody else keeps
//! reading the still-valid value — no stampede and no miss, with no coordination at all. δ is
//! measured per key: the duration of its last recompute (recorded with the value; on a
//! [`ManualClock`](larder_engine::ManualClock) the clock's advance during the load counts). β
//! (default 1) trades earlier, more frequent recomputes (β > 1) for fewer (β < 1).
//!
//! Here the reader that draws an early recompute does it in the foreground and gets the new value;
//! a draw that finds a recompute of the key already running returns the current value instead of
//! starting another. A miss (the value expired or was never cached) loads with single flight, as in
//! [`ReadThrough`](crate::ReadThrough). Entries without a TTL are never recomputed early.
//!
//! The random draw is a SplitMix64 stream on one atomic word: no lock, and reproducible with
//! [`XFetch::seed`] in tests.

use crate::block::block_on;
use crate::cache::{Cache, CacheKey, CacheValue, LoadError, Wait};
use crate::flight::Role;
use crate::read_through::Loader;
use std::hash::BuildHasher;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

/// XFetch over a [`Cache`] (which should have a TTL) and a [`Loader`]; see the
/// [module docs](self).
pub struct XFetch<K, V, L> {
    cache: Cache<K, V>,
    loader: L,
    beta: f64,
    state: AtomicU64,
    early: AtomicU64,
}

impl<K, V, L> std::fmt::Debug for XFetch<K, V, L> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("XFetch")
            .field("beta", &self.beta)
            .finish_non_exhaustive()
    }
}

/// What one read decided.
enum Decision<V> {
    Serve(V),
    Recompute(V),
    Miss,
}

impl<K, V, L> XFetch<K, V, L>
where
    K: CacheKey,
    V: CacheValue,
    L: Loader<K, V>,
{
    /// XFetch with β = 1 over `cache`, loading with `loader`.
    pub fn new(cache: Cache<K, V>, loader: L) -> Self {
        Self {
            cache,
            loader,
            beta: 1.0,
            state: AtomicU64::new(std::hash::RandomState::new().hash_one(0x5f)),
            early: AtomicU64::new(0),
        }
    }

    /// β: how eagerly to recompute early (default 1; 0 disables early recomputes). Negative or
    /// non-finite values count as 0.
    pub fn beta(mut self, beta: f64) -> Self {
        self.beta = if beta.is_finite() { beta.max(0.0) } else { 0.0 };
        self
    }

    /// Seeds the random draws (for reproducible tests).
    pub fn seed(self, seed: u64) -> Self {
        self.state.store(seed, Relaxed);
        self
    }

    /// The cache.
    pub fn cache(&self) -> &Cache<K, V> {
        &self.cache
    }

    /// The loader.
    pub fn loader(&self) -> &L {
        &self.loader
    }

    /// Early recomputes run so far.
    pub fn early_recomputes(&self) -> u64 {
        self.early.load(Relaxed)
    }

    /// A uniform draw in (0, 1].
    fn draw(&self) -> f64 {
        let mut z = self
            .state
            .fetch_add(0x9E37_79B9_7F4A_7C15, Relaxed)
            .wrapping_add(0x9E37_79B9_7F4A_7C15);
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^= z >> 31;
        ((z >> 11) + 1) as f64 / (1u64 << 53) as f64
    }

    fn decide(&self, key: &K) -> Decision<V> {
        let Some(entry) = self.cache.get_entry(key) else {
            return Decision::Miss;
        };
        let Some(expiry) = entry.expires_at else {
            return Decision::Serve(entry.value);
        };
        let now = self.cache.clock().now() as f64;
        let delta_ms = entry.load_time.as_secs_f64() * 1_000.0;
        let gap = -delta_ms * self.beta * self.draw().ln();
        if now + gap >= expiry as f64 {
            Decision::Recompute(entry.value)
        } else {
            Decision::Serve(entry.value)
        }
    }

    /// The value of `key`, recomputed early with XFetch's probability, loaded on a miss; blocks
    /// this thread for a load.
    pub fn get(&self, key: &K) -> Result<V, LoadError<L::Error>> {
        block_on(self.get_inner(key, Wait::Blocking))
    }

    /// The value of `key`, recomputed early with XFetch's probability, loaded on a miss.
    pub async fn get_async(&self, key: &K) -> Result<V, LoadError<L::Error>> {
        self.get_inner(key, Wait::Async).await
    }

    async fn get_inner(&self, key: &K, wait: Wait) -> Result<V, LoadError<L::Error>> {
        let loader = &self.loader;
        match self.decide(key) {
            Decision::Serve(value) => Ok(value),
            Decision::Miss => {
                self.cache
                    .load_future(key.clone(), || loader.load(key), wait)
                    .await
            }
            Decision::Recompute(current) => {
                let Role::Leader(leader) = self.cache.inner.flights.join(key) else {
                    // Another reader is recomputing it; ours is still valid.
                    return Ok(current);
                };
                self.early.fetch_add(1, Relaxed);
                let timer = self.cache.start_load();
                let result = loader.load(key).await;
                match self.cache.finish_load(key.clone(), result, timer, leader) {
                    Ok(value) => Ok(value),
                    // The old value is still valid: serve it rather than the error.
                    Err(_) => Ok(current),
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Cache, Loader};

    struct Never;
    impl Loader<u32, u32> for Never {
        type Error = ();
        async fn load(&self, _: &u32) -> Result<u32, ()> {
            Err(())
        }
    }

    #[test]
    fn draws_are_uniform_in_the_unit_interval() {
        let x = XFetch::new(Cache::new(10), Never).seed(1);
        let draws: Vec<f64> = (0..100_000).map(|_| x.draw()).collect();
        assert!(draws.iter().all(|&d| d > 0.0 && d <= 1.0));
        let mean = draws.iter().sum::<f64>() / draws.len() as f64;
        assert!((mean - 0.5).abs() < 0.01, "mean {mean}");
        let below_tenth = draws.iter().filter(|&&d| d < 0.1).count();
        assert!((9_000..11_000).contains(&below_tenth));
    }
}
