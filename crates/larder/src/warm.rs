//! Warming: fill the cache before the traffic arrives, without knocking the database over, and
//! keep the popular keys fresh afterwards.
//!
//! * [`Warmer::warm_keys`] preloads a list of keys; [`Warmer::warm_top`] first asks the database
//!   for its top N keys (`SELECT id FROM products ORDER BY views DESC LIMIT ?`) and preloads those.
//!   Every load is paced by a [`TokenBucket`] (`rate` loads per second, bursts of `burst`), so a
//!   warm-up of a cold cache costs the database a known, bounded rate. A progress bar (indicatif,
//!   on stderr) shows how far it got when [`Warmer::progress`] is on; it is hidden otherwise (and
//!   in tests). The [`WarmReport`] counts loaded, absent and failed keys and the time spent
//!   waiting for tokens.
//! * [`HotRefresher`] refreshes the most read keys every period on a background thread, through
//!   the same warmer, so that they never expire into a miss. Popularity comes from the engine's
//!   sliding-window top-k detector ([`Popularity`], fed by reads through [`Popularity::get`] or
//!   [`Popularity::record`]). [`refresh_hot`] is one round of it, to call directly (tests, a
//!   scheduler of your own).
//!
//! Time: the bucket reads the injected [`Clock`] and waits through an injectable sleep function,
//! so a test can pace a warm-up on a `ManualClock` by advancing it instead of sleeping.

use crate::Cache;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use larder_engine::hotkeys::{HotKey, HotKeys};
use larder_engine::{Clock, Timestamp};
use parking_lot::{Condvar, Mutex};
use std::fmt::Display;
use std::hash::Hash;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

/// A token bucket: `rate` tokens per second, at most `burst` saved up; starts full.
pub struct TokenBucket {
    rate_per_ms: f64,
    burst: f64,
    state: Mutex<(f64, Timestamp)>,
    clock: Arc<dyn Clock>,
}

impl TokenBucket {
    /// A bucket refilled at `rate_per_sec` (at least 0.001) holding at most `burst` (at least 1).
    pub fn new(rate_per_sec: f64, burst: u32, clock: Arc<dyn Clock>) -> Self {
        let burst = f64::from(burst.max(1));
        let now = clock.now();
        Self {
            rate_per_ms: rate_per_sec.max(0.001) / 1000.0,
            burst,
            state: Mutex::new((burst, now)),
            clock,
        }
    }

    /// Takes one token, or tells how long until one is available.
    pub fn try_take(&self) -> Result<(), Duration> {
        let now = self.clock.now();
        let mut state = self.state.lock();
        let (tokens, last) = &mut *state;
        let elapsed = now.saturating_sub(*last) as f64;
        *tokens = (*tokens + elapsed * self.rate_per_ms).min(self.burst);
        *last = now.max(*last);
        if *tokens >= 1.0 {
            *tokens -= 1.0;
            Ok(())
        } else {
            let ms = ((1.0 - *tokens) / self.rate_per_ms).ceil().max(1.0);
            Err(Duration::from_millis(ms as u64))
        }
    }
}

/// What a warm-up or a refresh round did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WarmReport {
    /// Keys asked for.
    pub requested: u64,
    /// Keys loaded and cached.
    pub loaded: u64,
    /// Keys the database does not have.
    pub absent: u64,
    /// Keys whose load failed (or whose value the cache refused).
    pub failed: u64,
    /// The first failure, for the log.
    pub first_error: Option<String>,
    /// Time spent waiting for the rate limit (on the bucket's clock's terms).
    pub throttled: Duration,
}

type Sleep = Arc<dyn Fn(Duration) + Send + Sync>;

/// Preloads keys into a cache at a bounded rate. See the [module docs](self).
pub struct Warmer<K, V> {
    cache: Cache<K, V>,
    bucket: Option<TokenBucket>,
    sleep: Sleep,
    progress: bool,
    ttl: Option<Duration>,
}

impl<K, V> Warmer<K, V>
where
    K: Hash + Eq + Clone + Send + Sync + 'static,
    V: Clone + Send + Sync + 'static,
{
    /// A warmer for `cache`: no rate limit, no progress bar, entries without a TTL.
    pub fn new(cache: Cache<K, V>) -> Self {
        Self {
            cache,
            bucket: None,
            sleep: Arc::new(std::thread::sleep),
            progress: false,
            ttl: None,
        }
    }

    /// Paces loads with `bucket`.
    pub fn rate_limit(mut self, bucket: TokenBucket) -> Self {
        self.bucket = Some(bucket);
        self
    }

    /// How the warmer waits for a token (default `std::thread::sleep`); a test passes a function
    /// that advances its `ManualClock`.
    pub fn sleep_with(mut self, sleep: impl Fn(Duration) + Send + Sync + 'static) -> Self {
        self.sleep = Arc::new(sleep);
        self
    }

    /// Shows a progress bar on stderr while warming (default off).
    pub fn progress(mut self, show: bool) -> Self {
        self.progress = show;
        self
    }

    /// Caches warmed entries with this TTL (default none).
    pub fn ttl(mut self, ttl: Option<Duration>) -> Self {
        self.ttl = ttl;
        self
    }

    fn bar(&self, len: u64) -> ProgressBar {
        if !self.progress {
            return ProgressBar::hidden();
        }
        let bar = ProgressBar::with_draw_target(Some(len), ProgressDrawTarget::stderr());
        if let Ok(style) =
            ProgressStyle::with_template("warming {bar:40} {pos}/{len} keys ({per_sec}, eta {eta})")
        {
            bar.set_style(style);
        }
        bar
    }

    fn throttle(&self, report: &mut WarmReport) {
        let Some(bucket) = &self.bucket else {
            return;
        };
        while let Err(wait) = bucket.try_take() {
            report.throttled += wait;
            (self.sleep)(wait);
        }
    }

    /// Loads every key of `keys` with `load` (one database read each, rate-limited) and caches
    /// the values found.
    pub fn warm_keys<E: Display>(
        &self,
        keys: impl IntoIterator<Item = K>,
        mut load: impl FnMut(&K) -> Result<Option<V>, E>,
    ) -> WarmReport {
        let keys = keys.into_iter();
        let bar = self.bar(keys.size_hint().0 as u64);
        let mut report = WarmReport::default();
        for key in keys {
            report.requested += 1;
            self.throttle(&mut report);
            match load(&key) {
                Ok(Some(value)) => {
                    match self.ttl {
                        Some(ttl) => self.cache.insert_with_ttl(key.clone(), value, ttl),
                        None => self.cache.insert(key.clone(), value),
                    }
                    // A value heavier than the cache's budget is not stored.
                    if self.cache.contains_key(&key) {
                        report.loaded += 1;
                    } else {
                        fail(&mut report, "the cache refused the value (too heavy)");
                    }
                }
                Ok(None) => report.absent += 1,
                Err(e) => fail(&mut report, e),
            }
            bar.inc(1);
        }
        bar.finish_and_clear();
        report
    }

    /// Asks the database for its `n` most popular keys (`top(n)`), then warms them.
    pub fn warm_top<E: Display>(
        &self,
        n: usize,
        top: impl FnOnce(usize) -> Result<Vec<K>, E>,
        load: impl FnMut(&K) -> Result<Option<V>, E>,
    ) -> Result<WarmReport, E> {
        let keys = top(n)?;
        Ok(self.warm_keys(keys.into_iter().take(n), load))
    }

    /// The cache warmed.
    pub fn cache(&self) -> &Cache<K, V> {
        &self.cache
    }
}

fn fail(report: &mut WarmReport, error: impl Display) {
    report.failed += 1;
    if report.first_error.is_none() {
        report.first_error = Some(error.to_string());
    }
}

/// Which keys are read most: the engine's sliding-window top-k detector
/// ([`HotKeys`], Space-Saving over two windows), fed by the application's reads.
///
/// Record reads with [`Popularity::record`] or read through [`Popularity::get`]. Recording is
/// sampled (one read in `sample_every` is recorded with weight `sample_every`) and skipped rather
/// than waited for when another thread holds the detector, so it costs a read almost nothing.
/// Memory: at most `2 × top` tracked keys.
pub struct Popularity<K> {
    hot: Mutex<HotKeys<K>>,
    clock: Arc<dyn Clock>,
    sample_every: u32,
    tick: AtomicU32,
}

impl<K: Hash + Eq + Clone> Popularity<K> {
    /// Tracks the `top` most read keys over a sliding `window`, recording one read in
    /// `sample_every`.
    pub fn new(top: usize, window: Duration, sample_every: u32, clock: Arc<dyn Clock>) -> Self {
        let window_ms = u64::try_from(window.as_millis()).unwrap_or(u64::MAX);
        Self {
            hot: Mutex::new(HotKeys::new(top, window_ms)),
            clock,
            sample_every: sample_every.max(1),
            tick: AtomicU32::new(0),
        }
    }

    /// Counts a read of `key`.
    pub fn record(&self, key: &K) {
        let tick = self.tick.fetch_add(1, Ordering::Relaxed);
        if tick % self.sample_every != 0 {
            return;
        }
        if let Some(mut hot) = self.hot.try_lock() {
            hot.record(key, u64::from(self.sample_every), self.clock.now());
        }
    }

    /// Reads `key` from `cache`, counting the read.
    pub fn get<V>(&self, cache: &Cache<K, V>, key: &K) -> Option<V>
    where
        K: Send + Sync + 'static,
        V: Clone + Send + Sync + 'static,
    {
        self.record(key);
        cache.get(key)
    }

    /// The `n` most read keys now, hottest first.
    pub fn top(&self, n: usize) -> Vec<HotKey<K>> {
        self.hot.lock().top(n, self.clock.now())
    }
}

/// One refresh round: reloads the `top` most read keys (by `popularity`) from the database
/// through `warmer`, so that they never expire into a miss.
pub fn refresh_hot<K, V, E: Display>(
    warmer: &Warmer<K, V>,
    popularity: &Popularity<K>,
    top: usize,
    load: impl FnMut(&K) -> Result<Option<V>, E>,
) -> WarmReport
where
    K: Hash + Eq + Clone + Send + Sync + 'static,
    V: Clone + Send + Sync + 'static,
{
    let keys: Vec<K> = popularity.top(top).into_iter().map(|hot| hot.key).collect();
    warmer.warm_keys(keys, load)
}

/// Refreshes the hottest keys on a background thread every period, until dropped.
pub struct HotRefresher {
    stop: Arc<(Mutex<bool>, Condvar)>,
    rounds: Arc<Mutex<(u64, WarmReport)>>,
    thread: Option<JoinHandle<()>>,
}

impl HotRefresher {
    /// Starts refreshing the `top` most read keys (by `popularity`) every `every` through
    /// `warmer` (the first round runs after one period); fails only if the thread cannot be
    /// spawned.
    pub fn start<K, V, E: Display>(
        warmer: Warmer<K, V>,
        popularity: Arc<Popularity<K>>,
        every: Duration,
        top: usize,
        mut load: impl FnMut(&K) -> Result<Option<V>, E> + Send + 'static,
    ) -> std::io::Result<Self>
    where
        K: Hash + Eq + Clone + Send + Sync + 'static,
        V: Clone + Send + Sync + 'static,
    {
        let stop = Arc::new((Mutex::new(false), Condvar::new()));
        let rounds = Arc::new(Mutex::new((0, WarmReport::default())));
        let (stop2, rounds2) = (Arc::clone(&stop), Arc::clone(&rounds));
        let thread = std::thread::Builder::new()
            .name("larder-hot-refresh".into())
            .spawn(move || {
                loop {
                    {
                        let (flag, cv) = &*stop2;
                        let mut stopped = flag.lock();
                        if !*stopped {
                            cv.wait_for(&mut stopped, every);
                        }
                        if *stopped {
                            return;
                        }
                    }
                    let report = refresh_hot(&warmer, &popularity, top, &mut load);
                    let mut r = rounds2.lock();
                    r.0 += 1;
                    r.1 = report;
                }
            })?;
        Ok(Self {
            stop,
            rounds,
            thread: Some(thread),
        })
    }

    /// Rounds completed and the last round's report.
    pub fn last_round(&self) -> (u64, WarmReport) {
        self.rounds.lock().clone()
    }
}

impl Drop for HotRefresher {
    /// Stops the thread (after its current round) and waits for it.
    fn drop(&mut self) {
        *self.stop.0.lock() = true;
        self.stop.1.notify_all();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}
