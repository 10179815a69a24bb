//! Leases: who may fill a missing key, and fills that arrive too late are refused.
//!
//! As in "Scaling Memcache at Facebook" (Nishtala et al., NSDI 2013, §3.2.1): a read that misses
//! gets a **lease token** bound to the key. The reader loads the value from the database and
//! fills the cache *with the token*. If the key was invalidated (or written) after the token was
//! handed out, the token is stale and the fill is **rejected** — so a slow reader can no longer
//! put back a value that an invalidation has already replaced (the race between a read-through
//! fill and a concurrent write-invalidate). Only one lease per key is outstanding at a time, which
//! also stops a stampede: the other readers that miss while the lease is out either
//!
//! * **wait** for the fill ([`Leases::get_or_wait`]): they are woken by a notification when the
//!   holder fills or releases the lease or the key is invalidated — never by polling — and wait at
//!   most the configured bound, with at most `max_waiters` waiters per key; or
//! * **take the stale value** (when [`LeasesBuilder::serve_stale`] is set): the value the last
//!   invalidation removed, kept for a bounded time, as memcache's "stale gets" do.
//!
//! A lease expires after `lease_ttl` (its holder may have died); the next miss after that gets a
//! new token and the expired one can no longer fill.
//!
//! The seed's other sense of "lease" — a time-limited promise that cached data stays valid — is
//! the entry TTL of the cache itself plus this token check: the token is the promise that the fill
//! corresponds to the latest state the cache has seen.
//!
//! Bounds and concurrency: one mutex guards the lease table, which holds at most `max_keys` keys
//! (keys with an outstanding lease, a stale value or waiters); a miss that needs a new slot in a
//! full table gets [`LeaseError::TableFull`]. Fills and invalidations change the cache while
//! holding the table lock, so a fill and an invalidation of one key are totally ordered. The lock
//! is never held across an `.await`. Time comes from the injected [`Clock`].

use crate::Cache;
use larder_engine::{Clock, SystemClock, Timestamp};
use parking_lot::Mutex;
use std::collections::HashMap;
use std::hash::Hash;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};
use tokio::sync::Notify;

/// A lease on one key: the right to fill it. Opaque; compare with `==`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct LeaseToken(u64);

impl LeaseToken {
    /// The token as a number (to send over the wire).
    pub fn get(self) -> u64 {
        self.0
    }

    /// A token received over the wire.
    pub fn from_u64(token: u64) -> Self {
        Self(token)
    }
}

/// What a lease read answers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LeaseGet<V> {
    /// The key is cached.
    Hit(V),
    /// A miss, and this caller holds the lease: load the value and [`Leases::fill`] it (or
    /// [`Leases::release`] the lease if the load fails).
    Granted(LeaseToken),
    /// A miss while another caller holds the lease; this is the value the last invalidation
    /// removed (only with [`LeasesBuilder::serve_stale`]).
    Stale(V),
    /// A miss while another caller holds the lease and no stale value may be served: wait
    /// ([`Leases::get_or_wait`]) or retry.
    Wait,
}

/// Why a lease operation failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum LeaseError {
    /// The fill carried a token that is no longer the key's lease: the key was invalidated or
    /// written after the token was granted, or the lease expired and was granted again.
    #[error("stale lease token: the key changed after the lease was granted")]
    StaleToken,
    /// The lease table holds its maximum number of keys.
    #[error("lease table full")]
    TableFull,
    /// The key already has the maximum number of waiters.
    #[error("too many readers waiting for this key's lease")]
    TooManyWaiters,
    /// The wait for the lease holder's fill exceeded its bound.
    #[error("timed out waiting for the lease holder's fill")]
    TimedOut,
    /// The value could not be stored in the cache (too heavy).
    #[error("the cache refused the filled value")]
    Rejected,
}

/// Why [`Leases::get_or_load`] returned no value.
#[derive(Debug, thiserror::Error)]
pub enum LeaseLoadError<E> {
    /// The lease protocol gave up (too many waiters, a timed-out wait, a full table).
    #[error(transparent)]
    Lease(LeaseError),
    /// This caller held the lease and its load failed (the lease was released).
    #[error("load failed")]
    Load(E),
}

/// Counters since the table was built.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct LeaseStats {
    /// Leases granted (misses that were told to load).
    pub granted: u64,
    /// Fills accepted.
    pub fills: u64,
    /// Fills rejected for a stale token.
    pub rejected_fills: u64,
    /// Misses answered with a stale value.
    pub stale_served: u64,
    /// Waits started (a reader found the lease out and waited).
    pub waits: u64,
    /// Waits that timed out.
    pub wait_timeouts: u64,
}

struct Slot<V> {
    /// The outstanding lease: its token and expiry.
    lease: Option<(u64, Timestamp)>,
    /// The value the last invalidation removed, and until when it may be served.
    stale: Option<(V, Timestamp)>,
    notify: Arc<Notify>,
    waiters: usize,
}

impl<V> Slot<V> {
    fn idle(&self, now: Timestamp) -> bool {
        self.waiters == 0
            && self.lease.is_none_or(|(_, until)| until <= now)
            && self.stale.as_ref().is_none_or(|(_, until)| *until <= now)
    }
}

struct Table<K, V> {
    slots: HashMap<K, Slot<V>>,
    stats: LeaseStats,
}

/// Builds [`Leases`].
pub struct LeasesBuilder<K, V> {
    cache: Cache<K, V>,
    lease_ttl: Duration,
    stale_for: Option<Duration>,
    wait: Duration,
    max_waiters: usize,
    max_keys: usize,
    clock: Arc<dyn Clock>,
}

impl<K, V> LeasesBuilder<K, V>
where
    K: Hash + Eq + Clone + Send + Sync + 'static,
    V: Clone + Send + Sync + 'static,
{
    /// How long a lease holder has to fill before the lease can be granted again (default 10 s).
    pub fn lease_ttl(mut self, ttl: Duration) -> Self {
        self.lease_ttl = ttl;
        self
    }

    /// Keep the value an invalidation removes for `window`, and answer misses during another
    /// caller's lease with it ([`LeaseGet::Stale`]) instead of making them wait.
    pub fn serve_stale(mut self, window: Duration) -> Self {
        self.stale_for = Some(window);
        self
    }

    /// Longest a reader waits for the holder's fill in [`Leases::get_or_wait`] (default 1 s).
    pub fn wait(mut self, bound: Duration) -> Self {
        self.wait = bound;
        self
    }

    /// Most readers waiting on one key (default 1,024).
    pub fn max_waiters(mut self, n: usize) -> Self {
        self.max_waiters = n;
        self
    }

    /// Most keys in the lease table (default 65,536).
    pub fn max_keys(mut self, n: usize) -> Self {
        self.max_keys = n.max(1);
        self
    }

    /// The clock lease expiry and stale windows are measured on (default: the system clock).
    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// The lease table.
    pub fn build(self) -> Leases<K, V> {
        Leases {
            cache: self.cache,
            table: Mutex::new(Table {
                slots: HashMap::new(),
                stats: LeaseStats::default(),
            }),
            next_token: AtomicU64::new(1),
            lease_ttl_ms: u64::try_from(self.lease_ttl.as_millis()).unwrap_or(u64::MAX),
            stale_for_ms: self
                .stale_for
                .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX)),
            wait: self.wait,
            max_waiters: self.max_waiters,
            max_keys: self.max_keys,
            clock: self.clock,
        }
    }
}

/// A cache whose misses are filled under leases. See the [module docs](self).
pub struct Leases<K, V> {
    cache: Cache<K, V>,
    table: Mutex<Table<K, V>>,
    next_token: AtomicU64,
    lease_ttl_ms: u64,
    stale_for_ms: Option<u64>,
    wait: Duration,
    max_waiters: usize,
    max_keys: usize,
    clock: Arc<dyn Clock>,
}

/// Leaves the waiter count of a key when a waiting reader stops waiting (or is cancelled).
struct Waiting<'a, K: Hash + Eq + Clone + Send + Sync + 'static, V> {
    leases: &'a Leases<K, V>,
    key: &'a K,
}

impl<K: Hash + Eq + Clone + Send + Sync + 'static, V> Drop for Waiting<'_, K, V> {
    fn drop(&mut self) {
        let now = self.leases.clock.now();
        let mut table = self.leases.table.lock();
        if let Some(slot) = table.slots.get_mut(self.key) {
            slot.waiters = slot.waiters.saturating_sub(1);
            if slot.idle(now) {
                table.slots.remove(self.key);
            }
        }
    }
}

impl<K, V> Leases<K, V>
where
    K: Hash + Eq + Clone + Send + Sync + 'static,
    V: Clone + Send + Sync + 'static,
{
    /// A builder over `cache`.
    pub fn builder(cache: Cache<K, V>) -> LeasesBuilder<K, V> {
        LeasesBuilder {
            cache,
            lease_ttl: Duration::from_secs(10),
            stale_for: None,
            wait: Duration::from_secs(1),
            max_waiters: 1024,
            max_keys: 65_536,
            clock: Arc::new(SystemClock),
        }
    }

    /// Looks `key` up without waiting: a hit, a granted lease, a stale value, or [`LeaseGet::Wait`].
    pub fn get(&self, key: &K) -> Result<LeaseGet<V>, LeaseError> {
        if let Some(v) = self.cache.get(key) {
            return Ok(LeaseGet::Hit(v));
        }
        let mut table = self.table.lock();
        self.miss(&mut table, key)
    }

    /// Decides a miss under the table lock.
    fn miss(&self, table: &mut Table<K, V>, key: &K) -> Result<LeaseGet<V>, LeaseError> {
        // A fill may have landed between the cache lookup and taking the lock (checked without
        // counting a second miss).
        if self.cache.contains_key(key)
            && let Some(v) = self.cache.get(key)
        {
            return Ok(LeaseGet::Hit(v));
        }
        let now = self.clock.now();
        if !table.slots.contains_key(key) && table.slots.len() >= self.max_keys {
            table.slots.retain(|_, slot| !slot.idle(now));
            if table.slots.len() >= self.max_keys {
                return Err(LeaseError::TableFull);
            }
        }
        let token = self.next_token.fetch_add(1, Ordering::Relaxed);
        let slot = table.slots.entry(key.clone()).or_insert_with(|| Slot {
            lease: None,
            stale: None,
            notify: Arc::new(Notify::new()),
            waiters: 0,
        });
        if slot.stale.as_ref().is_some_and(|(_, until)| *until <= now) {
            slot.stale = None;
        }
        match slot.lease {
            Some((_, until)) if until > now => match &slot.stale {
                Some((v, _)) => {
                    let v = v.clone();
                    table.stats.stale_served += 1;
                    Ok(LeaseGet::Stale(v))
                }
                None => Ok(LeaseGet::Wait),
            },
            _ => {
                slot.lease = Some((token, now.saturating_add(self.lease_ttl_ms)));
                table.stats.granted += 1;
                Ok(LeaseGet::Granted(LeaseToken(token)))
            }
        }
    }

    /// Like [`Leases::get`], but when another caller holds the lease and no stale value may be
    /// served, waits (bounded) to be notified of its fill, release or an invalidation, then
    /// looks again. Never answers [`LeaseGet::Wait`].
    pub async fn get_or_wait(&self, key: &K) -> Result<LeaseGet<V>, LeaseError> {
        let deadline = Instant::now() + self.wait;
        loop {
            if let Some(v) = self.cache.get(key) {
                return Ok(LeaseGet::Hit(v));
            }
            let notify;
            let notified;
            let waiting;
            let lease_left;
            {
                let mut table = self.table.lock();
                let answer = self.miss(&mut table, key)?;
                if !matches!(answer, LeaseGet::Wait) {
                    return Ok(answer);
                }
                let now = self.clock.now();
                let Some(slot) = table.slots.get_mut(key) else {
                    continue;
                };
                if slot.waiters >= self.max_waiters {
                    return Err(LeaseError::TooManyWaiters);
                }
                slot.waiters += 1;
                lease_left = slot.lease.map_or(0, |(_, until)| until.saturating_sub(now));
                notify = Arc::clone(&slot.notify);
                table.stats.waits += 1;
                waiting = Waiting { leases: self, key };
                // Created under the lock: a notification sent after it is released is not missed.
                notified = notify.notified();
            }
            // Wake at the lease's expiry at the latest (its holder may have died), and give up at
            // the wait's bound.
            let now = Instant::now();
            if now >= deadline {
                self.table.lock().stats.wait_timeouts += 1;
                return Err(LeaseError::TimedOut);
            }
            let wait = (deadline - now).min(Duration::from_millis(lease_left.max(1)));
            let _ = tokio::time::timeout(wait, notified).await;
            drop(waiting);
        }
    }

    /// The whole lease protocol for one read: a hit; or, holding the lease, `load` from the
    /// database and fill (a rejected fill — the key changed meanwhile — still answers the loaded
    /// value, which is not cached; a failed load releases the lease and answers its error); or,
    /// during another caller's lease, its fill (waited for) or the stale value.
    pub async fn get_or_load<E, F, Fut>(&self, key: &K, load: F) -> Result<V, LeaseLoadError<E>>
    where
        F: FnOnce() -> Fut,
        Fut: std::future::Future<Output = Result<V, E>>,
    {
        match self.get_or_wait(key).await.map_err(LeaseLoadError::Lease)? {
            LeaseGet::Hit(v) | LeaseGet::Stale(v) => Ok(v),
            LeaseGet::Granted(token) => match load().await {
                Ok(v) => {
                    let _ = self.fill(key.clone(), token, v.clone());
                    Ok(v)
                }
                Err(e) => {
                    self.release(key, token);
                    Err(LeaseLoadError::Load(e))
                }
            },
            LeaseGet::Wait => Err(LeaseLoadError::Lease(LeaseError::TimedOut)),
        }
    }

    /// Fills `key` with `value` if `token` is still its lease; otherwise the fill is rejected
    /// with [`LeaseError::StaleToken`] and the cache is untouched. Wakes the waiting readers.
    pub fn fill(&self, key: K, token: LeaseToken, value: V) -> Result<(), LeaseError> {
        let mut table = self.table.lock();
        let current = table.slots.get(&key).and_then(|s| s.lease).map(|(t, _)| t);
        if current != Some(token.0) {
            table.stats.rejected_fills += 1;
            return Err(LeaseError::StaleToken);
        }
        self.cache.insert(key.clone(), value);
        // A value heavier than the cache's budget is not stored.
        let stored = self.cache.contains_key(&key);
        if let Some(slot) = table.slots.get_mut(&key) {
            slot.lease = None;
            slot.stale = None;
            slot.notify.notify_waiters();
            if slot.waiters == 0 {
                table.slots.remove(&key);
            }
        }
        if stored {
            table.stats.fills += 1;
            Ok(())
        } else {
            Err(LeaseError::Rejected)
        }
    }

    /// Gives a lease back without filling (the load failed): the next miss gets a new lease.
    /// Returns whether `token` was still the lease.
    pub fn release(&self, key: &K, token: LeaseToken) -> bool {
        let mut table = self.table.lock();
        let Some(slot) = table.slots.get_mut(key) else {
            return false;
        };
        if slot.lease.map(|(t, _)| t) != Some(token.0) {
            return false;
        }
        slot.lease = None;
        slot.notify.notify_waiters();
        true
    }

    /// Removes `key` from the cache (after a database write) and makes its outstanding lease
    /// stale, so that a fill with it is rejected. With [`LeasesBuilder::serve_stale`], the
    /// removed value is kept to answer misses during the next lease. Wakes the waiting readers.
    pub fn invalidate(&self, key: &K) {
        let now = self.clock.now();
        let mut table = self.table.lock();
        let old = self.cache.invalidate(key);
        let keep = match (old, self.stale_for_ms) {
            (Some(v), Some(ms)) => Some((v, now.saturating_add(ms))),
            _ => None,
        };
        let room = table.slots.len() < self.max_keys;
        match table.slots.get_mut(key) {
            Some(slot) => {
                slot.lease = None;
                if keep.is_some() {
                    slot.stale = keep;
                }
                slot.notify.notify_waiters();
            }
            None if keep.is_some() && room => {
                table.slots.insert(
                    key.clone(),
                    Slot {
                        lease: None,
                        stale: keep,
                        notify: Arc::new(Notify::new()),
                        waiters: 0,
                    },
                );
            }
            None => {}
        }
    }

    /// Readers waiting on `key` now.
    pub fn waiters(&self, key: &K) -> usize {
        self.table.lock().slots.get(key).map_or(0, |s| s.waiters)
    }

    /// Counters so far.
    pub fn stats(&self) -> LeaseStats {
        self.table.lock().stats
    }

    /// The cache filled.
    pub fn cache(&self) -> &Cache<K, V> {
        &self.cache
    }
}
