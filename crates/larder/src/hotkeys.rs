//! Hot keys: detection over a sliding window, promotion into the L1, and key splitting.
//!
//! ## Parts
//!
//! * [`HotKeyDetector`] — records reads into the engine's bounded top-k
//!   ([`larder_engine::hotkeys::HotKeys`], Space-Saving over a sliding window) and calls a key
//!   hot when its guaranteed count in the window (estimate minus error bound) reaches
//!   [`HotKeyConfig::min_count`]. The set
//!   of hot keys is recomputed every [`HotKeyConfig::refresh_every`] records (and on
//!   [`HotKeyDetector::refresh`]), so a read checks a small set, not the whole top-k.
//! * [`HotTier`] — a [`Tier`] whose L1 admits only hot keys: a read of a cold key goes to the
//!   L2 without filling the L1; once the key is hot, its next read fills the L1 (promotion), and
//!   [`HotTier::promote`] fills every hot key not yet in the L1. Promoted entries are
//!   invalidated by the server's tracking pushes like any other L1 entry.
//! * [`SplitKeys`] — splitting one hot key into N replicas `key#0 .. key#N-1`: a write updates
//!   every replica ([`SplitKeys::set`]), a read picks one at random ([`SplitKeys::get`]), so
//!   the load of one key is spread over N keys, and over several servers when the replica keys
//!   are placed by a [`Sharder`] ([`SplitKeys::placement`]).
//!
//! ## Concurrency model and bounds
//!
//! The detector is a `parking_lot` mutex around the top-k, taken once per recorded read (never
//! across an `.await`); the hot set is an `RwLock`ed hash set of at most `capacity` keys. The
//! top-k holds at most `2 × capacity` keys.

use crate::remote::RemoteError;
use crate::shard::Sharder;
use crate::tier::Tier;
use larder_engine::Clock;
use larder_engine::hotkeys::{HotKey, HotKeys};
use parking_lot::{Mutex, RwLock};
use rand::Rng;
use std::collections::HashSet;
use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// How hot keys are detected.
#[derive(Debug, Clone)]
pub struct HotKeyConfig {
    /// Keys the top-k tracks (default 64).
    pub capacity: usize,
    /// The sliding window (default 10 s).
    pub window: Duration,
    /// Reads in the window (guaranteed, not merely estimated) that make a key hot (default
    /// 100).
    pub min_count: u64,
    /// Records between recomputations of the hot set (default 256).
    pub refresh_every: u64,
}

impl Default for HotKeyConfig {
    fn default() -> Self {
        Self {
            capacity: 64,
            window: Duration::from_secs(10),
            min_count: 100,
            refresh_every: 256,
        }
    }
}

/// Detects hot keys over a sliding window.
pub struct HotKeyDetector {
    config: HotKeyConfig,
    clock: Arc<dyn Clock>,
    top: Mutex<HotKeys<Vec<u8>>>,
    hot: RwLock<HashSet<Vec<u8>>>,
    records: AtomicU64,
}

impl fmt::Debug for HotKeyDetector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HotKeyDetector")
            .field("config", &self.config)
            .field("hot", &self.hot.read().len())
            .finish_non_exhaustive()
    }
}

impl HotKeyDetector {
    /// A detector on `clock`.
    pub fn new(config: HotKeyConfig, clock: Arc<dyn Clock>) -> Self {
        let window_ms = u64::try_from(config.window.as_millis()).unwrap_or(u64::MAX);
        Self {
            top: Mutex::new(HotKeys::new(config.capacity, window_ms)),
            config,
            clock,
            hot: RwLock::new(HashSet::new()),
            records: AtomicU64::new(0),
        }
    }

    /// Records one read of `key`.
    pub fn record(&self, key: &[u8]) {
        self.top.lock().record(&key.to_vec(), 1, self.clock.now());
        let n = self.records.fetch_add(1, Ordering::Relaxed) + 1;
        if n % self.config.refresh_every.max(1) == 0 {
            self.refresh();
        }
    }

    /// The hot keys now, hottest first: those whose guaranteed count in the window (the
    /// Space-Saving estimate minus its error bound) is at least `min_count`, so a cold key
    /// that inherited an evicted counter is not called hot.
    pub fn hot_keys(&self) -> Vec<HotKey<Vec<u8>>> {
        let mut top = self.top.lock().top(self.config.capacity, self.clock.now());
        top.retain(|k| k.count.saturating_sub(k.error) >= self.config.min_count);
        top
    }

    /// Recomputes the hot set from the top-k.
    pub fn refresh(&self) {
        let hot: HashSet<Vec<u8>> = self.hot_keys().into_iter().map(|k| k.key).collect();
        *self.hot.write() = hot;
    }

    /// Whether `key` was hot at the last recomputation.
    pub fn is_hot(&self, key: &[u8]) -> bool {
        self.hot.read().contains(key)
    }
}

/// A [`Tier`] whose L1 admits only hot keys.
#[derive(Debug)]
pub struct HotTier {
    tier: Tier,
    detector: HotKeyDetector,
}

impl HotTier {
    /// Hot-key admission in front of `tier`'s L1.
    pub fn new(tier: Tier, detector: HotKeyDetector) -> Self {
        Self { tier, detector }
    }

    /// Records the read, then reads through the tier, filling the L1 only for a hot key.
    pub async fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, RemoteError> {
        self.detector.record(key);
        self.tier.get_with(key, self.detector.is_hot(key)).await
    }

    /// Recomputes the hot set and fills the L1 with every hot key it lacks; how many it filled.
    pub async fn promote(&self) -> Result<usize, RemoteError> {
        self.detector.refresh();
        let mut filled = 0;
        for k in self.detector.hot_keys() {
            if !self.tier.l1().contains_key(k.key.as_slice())
                && self.tier.get_with(&k.key, true).await?.is_some()
            {
                filled += 1;
            }
        }
        Ok(filled)
    }

    /// The tier.
    pub fn tier(&self) -> &Tier {
        &self.tier
    }

    /// The detector.
    pub fn detector(&self) -> &HotKeyDetector {
        &self.detector
    }
}

/// Splits a key into `replicas` copies `key#0 .. key#(replicas-1)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SplitKeys {
    replicas: usize,
}

impl SplitKeys {
    /// `replicas` copies per key (at least 1).
    pub fn new(replicas: usize) -> Self {
        Self {
            replicas: replicas.max(1),
        }
    }

    /// Copies per key.
    pub fn replicas(&self) -> usize {
        self.replicas
    }

    /// The replica key `key#r`.
    pub fn replica(&self, key: &[u8], r: usize) -> Vec<u8> {
        let mut k = Vec::with_capacity(key.len() + 4);
        k.extend_from_slice(key);
        k.push(b'#');
        k.extend_from_slice(r.to_string().as_bytes());
        k
    }

    /// Every replica key of `key`.
    pub fn replica_keys(&self, key: &[u8]) -> Vec<Vec<u8>> {
        (0..self.replicas).map(|r| self.replica(key, r)).collect()
    }

    /// One replica key of `key`, chosen at random (for a read).
    pub fn pick(&self, key: &[u8]) -> Vec<u8> {
        self.replica(key, rand::rng().random_range(0..self.replicas))
    }

    /// Where each replica of `key` lives under `sharder`: `(replica key, node)`.
    pub fn placement<'s>(&self, key: &[u8], sharder: &'s dyn Sharder) -> Vec<(Vec<u8>, &'s str)> {
        self.replica_keys(key)
            .into_iter()
            .filter_map(|k| sharder.node_for(&k).map(|n| (k.clone(), n)))
            .collect()
    }

    /// Writes `value` to every replica of `key` through `tier`.
    pub async fn set(&self, tier: &Tier, key: &[u8], value: &[u8]) -> Result<(), RemoteError> {
        for k in self.replica_keys(key) {
            tier.set(&k, value).await?;
        }
        Ok(())
    }

    /// Reads one replica of `key`, chosen at random, through `tier`.
    pub async fn get(&self, tier: &Tier, key: &[u8]) -> Result<Option<Vec<u8>>, RemoteError> {
        tier.get(&self.pick(key)).await
    }
}
