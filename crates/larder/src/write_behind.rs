//! Write-behind (write-back): the cache answers at once, the database is written later, in
//! coalesced batches — and the changes that could be lost are always known.
//!
//! [`WriteBehind::put`] and [`WriteBehind::delete`] change the cache, queue the change and return
//! its sequence number (the *acknowledgement*) without touching the database. One background
//! thread, the flusher, writes the queue to a [`Writer`] in batches:
//!
//! * **Coalescing per key.** The queue holds at most one change per key: a second write of a key
//!   whose change is still queued replaces it (the latest value wins; a delete replaces a put and
//!   the other way round). 100 updates of one key between two flushes cost one database write.
//! * **Batches by size and by time.** A batch is written when `batch_size` keys have unwritten
//!   changes, or when the oldest queued change has waited `max_delay`, or on [`WriteBehind::flush`]
//!   and shutdown. A batch holds at most `batch_size` changes, oldest first, and goes to
//!   [`Writer::write_batch`] (one transaction in the SQLite writer of the examples).
//! * **Order per key.** One flusher writes one batch at a time and a key is in at most one
//!   batch, so the database sees each key's changes in acknowledgement order. (Different keys'
//!   changes may reach it in any order.)
//! * **Retries with backoff.** A failed batch is retried after `initial`, `2 × initial`, ... up to
//!   `max` between attempts, `attempts` times in all ([`Backoff`]). A batch that still fails is
//!   *given up*: its changes are recorded as lost ([`LossReport`]) and, unless a newer change of
//!   the key is queued, the key is dropped from the cache so that readers see the database again.
//! * **Bounded queue.** At most `capacity` keys have queued changes. A write of a new key to a
//!   full queue waits for room up to a bound and then fails with
//!   [`WriteBehindError::QueueFull`] ([`WhenFull`]); a write of an already queued key always fits
//!   (it coalesces). The batch in flight adds at most `batch_size` more; the lost-change records
//!   kept for the report are bounded by `max_lost_records` (the totals count them all).
//! * **Flush and shutdown.** [`WriteBehind::flush`] blocks until every change acknowledged
//!   before the call is written (or given up). [`WriteBehind::close`] and dropping the handle
//!   flush everything and stop the flusher; [`WriteBehind::shutdown`] does it from async code.
//!   [`WriteBehind::abort`] stops without writing and reports what was never written — a crash,
//!   on purpose.
//!   Closing over a dead database still tries every queued batch with the full retry schedule;
//!   `abort` is the way to stop at once.
//! * **The loss window.** [`WriteBehind::loss_window`] tells, at any moment, how many
//!   acknowledged changes (and writes, counting the coalesced ones) are not in the database yet
//!   and how old the oldest of them is: what a crash at that moment would lose.
//!
//! Reads: a value is in the cache, or, if the cache evicted it, still in the queue;
//! [`WriteBehind::get`] looks in both, so a read never goes to the database for a key whose newer
//! value is queued. [`WriteBehind::get_or_load`] loads a key nobody has queued from the database
//! and caches it unless the key was written meanwhile (a stale fill is dropped, not cached).
//!
//! The API is synchronous (the flusher is a thread, the writer a blocking database call). From
//! async code, use [`WhenFull::Fail`] (a write then never blocks for long: it takes the queue
//! mutex for O(1) work) or call `put` from `spawn_blocking`, and end with
//! [`WriteBehind::shutdown`], which does the blocking flush on tokio's blocking pool.
//!
//! Concurrency: one mutex guards the queue; a write holds it for the cache update and an O(1)
//! queue change, so the cache and the queue change in the same order. (The cache's eviction
//! listener runs under that mutex when a write evicts: it must not call back into the same
//! `WriteBehind`.) The flusher never holds it
//! while calling the writer. Time (a change's age, `max_delay`) is read from the injected
//! [`Clock`]; with a `ManualClock`, call [`WriteBehind::wake`] after advancing it.

use crate::Cache;
use crate::write_through::{Change, Writer};
use larder_engine::{Clock, SystemClock, Timestamp};
use parking_lot::{Condvar, Mutex, MutexGuard};
use std::collections::hash_map::Entry;
use std::collections::{HashMap, VecDeque};
use std::hash::{BuildHasher, BuildHasherDefault, DefaultHasher, Hash};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// The sequence number of an acknowledged write: 1, 2, 3, ... in acknowledgement order.
pub type Seq = u64;

/// Retry schedule of a failed batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    /// Wait before the second attempt.
    pub initial: Duration,
    /// Longest wait between two attempts (the wait doubles up to it).
    pub max: Duration,
    /// Attempts in all (at least 1); after the last failure the batch is given up.
    pub attempts: u32,
}

impl Default for Backoff {
    fn default() -> Self {
        Self {
            initial: Duration::from_millis(10),
            max: Duration::from_secs(1),
            attempts: 5,
        }
    }
}

impl Backoff {
    /// The wait after failed attempt number `attempt` (1-based).
    pub fn delay(&self, attempt: u32) -> Duration {
        let factor = 1u32 << attempt.saturating_sub(1).min(20);
        self.initial.saturating_mul(factor).min(self.max)
    }
}

/// What a write of a new key does when the queue is full.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WhenFull {
    /// Wait (back-pressure) up to this long for the flusher to make room, then fail.
    Wait(Duration),
    /// Fail at once with [`WriteBehindError::QueueFull`].
    Fail,
}

/// Why a write-behind call failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WriteBehindError {
    /// The queue holds `capacity` keys with unwritten changes and none left in time.
    #[error("write-behind queue full: {capacity} keys have unwritten changes")]
    QueueFull {
        /// The queue's capacity in keys.
        capacity: usize,
    },
    /// The flusher has stopped (shut down, aborted, or its writer panicked).
    #[error("write-behind flusher has stopped")]
    Closed,
    /// The flush completed, but this many changes were given up during it (see
    /// [`WriteBehind::take_lost`]).
    #[error("{count} changes were given up by the writer during the flush")]
    Lost {
        /// Changes given up while the flush ran.
        count: u64,
    },
}

/// A change acknowledged to a caller that never reached the database.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LostChange<K, V> {
    /// The last acknowledged change of the key (the coalesced value that was not written).
    pub change: Change<K, V>,
    /// The first acknowledged write coalesced into this change.
    pub first_seq: Seq,
    /// The last acknowledged write coalesced into this change (the one `change` carries).
    pub last_seq: Seq,
    /// How many acknowledged writes of this key were coalesced into it (all lost).
    pub writes: u64,
    /// Clock time of the first of those writes.
    pub since: Timestamp,
    /// Why: the writer's last error, or that the flusher was aborted.
    pub reason: String,
}

/// Acknowledged changes that were lost: given up by the writer, or still queued at an abort.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LossReport<K, V> {
    /// The lost changes, in the order they were lost (at most `max_lost_records` are kept).
    pub lost: Vec<LostChange<K, V>>,
    /// Lost changes in all, including any not kept in `lost`.
    pub lost_changes: u64,
    /// Lost acknowledged writes in all (a change counts every write coalesced into it).
    pub lost_writes: u64,
}

impl<K, V> Default for LossReport<K, V> {
    fn default() -> Self {
        Self {
            lost: Vec::new(),
            lost_changes: 0,
            lost_writes: 0,
        }
    }
}

impl<K, V> LossReport<K, V> {
    /// Whether nothing was lost.
    pub fn is_empty(&self) -> bool {
        self.lost_changes == 0
    }
}

/// What a crash right now would lose: the acknowledged changes not in the database yet.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct LossWindow {
    /// Unwritten changes (one per key), queued or in the batch being written.
    pub changes: usize,
    /// Acknowledged writes they carry (coalesced writes counted).
    pub writes: u64,
    /// Sequence number of the oldest unwritten acknowledged write.
    pub oldest_seq: Option<Seq>,
    /// Age of the oldest unwritten acknowledged write on the clock.
    pub oldest_age: Option<Duration>,
}

/// Counters since the handle was built.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct WriteBehindStats {
    /// Writes and deletes acknowledged.
    pub acknowledged: u64,
    /// Acknowledged writes absorbed by a queued change of the same key.
    pub coalesced: u64,
    /// Batches written successfully.
    pub batches: u64,
    /// Changes written to the database (the database's write count).
    pub written: u64,
    /// Failed attempts that were retried.
    pub retries: u64,
    /// Batches given up after the last attempt.
    pub failed_batches: u64,
    /// Changes lost (given up or aborted).
    pub lost_changes: u64,
    /// Acknowledged writes lost (coalesced writes counted).
    pub lost_writes: u64,
    /// Writes that had to wait for room in a full queue.
    pub full_waits: u64,
    /// Writes refused because the queue stayed full.
    pub full_rejections: u64,
    /// Read-through fills dropped because the key was written while loading.
    pub stale_fills_dropped: u64,
}

/// What [`WriteBehind::get`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Read<V> {
    /// The current value (from the cache or the queue).
    Value(V),
    /// The key's latest acknowledged change is a delete not yet written.
    Deleted,
    /// Neither the cache nor the queue knows the key: read the database.
    Unknown,
}

/// Builds a [`WriteBehind`].
pub struct WriteBehindBuilder<K, V, W> {
    cache: Cache<K, V>,
    writer: W,
    capacity: usize,
    batch_size: usize,
    max_delay: Duration,
    backoff: Backoff,
    when_full: WhenFull,
    max_lost_records: usize,
    clock: Arc<dyn Clock>,
}

impl<K, V, W> WriteBehindBuilder<K, V, W>
where
    K: Hash + Eq + Clone + Send + Sync + 'static,
    V: Clone + Send + Sync + 'static,
    W: Writer<K, V>,
{
    /// Most keys with queued changes (default 10,000; at least `batch_size`).
    pub fn capacity(mut self, keys: usize) -> Self {
        self.capacity = keys.max(1);
        self
    }

    /// Most changes per batch, and the queue length that triggers a batch (default 500).
    pub fn batch_size(mut self, changes: usize) -> Self {
        self.batch_size = changes.max(1);
        self
    }

    /// Longest a change waits in the queue before its batch is written (default 100 ms).
    pub fn max_delay(mut self, delay: Duration) -> Self {
        self.max_delay = delay;
        self
    }

    /// The retry schedule of failed batches.
    pub fn backoff(mut self, backoff: Backoff) -> Self {
        self.backoff = backoff;
        self
    }

    /// What a write of a new key does when the queue is full (default: wait up to 1 s).
    pub fn when_full(mut self, when_full: WhenFull) -> Self {
        self.when_full = when_full;
        self
    }

    /// Lost-change records kept for the report (default 10,000; totals count all).
    pub fn max_lost_records(mut self, records: usize) -> Self {
        self.max_lost_records = records;
        self
    }

    /// The clock ages are measured on (default: the system clock).
    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// Starts the flusher thread.
    pub fn build(self) -> WriteBehind<K, V, W> {
        let shared = Arc::new(Shared {
            queue: Mutex::new(Queue {
                pending: HashMap::new(),
                order: VecDeque::new(),
                in_flight: Vec::new(),
                next_seq: 1,
                flush_upto: 0,
                closing: false,
                aborted: false,
                stopped: false,
                stripes: [0; STRIPES],
                lost: LossReport::default(),
                stats: WriteBehindStats::default(),
            }),
            work: Condvar::new(),
            progress: Condvar::new(),
            cache: self.cache,
            writer: self.writer,
            clock: self.clock,
            capacity: self.capacity.max(self.batch_size),
            batch_size: self.batch_size,
            max_delay_ms: u64::try_from(self.max_delay.as_millis()).unwrap_or(u64::MAX),
            backoff: Backoff {
                attempts: self.backoff.attempts.max(1),
                ..self.backoff
            },
            when_full: self.when_full,
            max_lost_records: self.max_lost_records,
            hasher: BuildHasherDefault::default(),
        });
        let flusher = Arc::clone(&shared);
        let thread = std::thread::Builder::new()
            .name("larder-write-behind".into())
            .spawn(move || flusher.run())
            .ok();
        if thread.is_none() {
            shared.queue.lock().stopped = true;
        }
        WriteBehind { shared, thread }
    }
}

const STRIPES: usize = 64;

struct Pending<V> {
    /// `Some(value)` for a put, `None` for a delete.
    op: Option<V>,
    first_seq: Seq,
    last_seq: Seq,
    writes: u64,
    since: Timestamp,
}

struct Queue<K, V> {
    pending: HashMap<K, Pending<V>>,
    /// Keys of `pending`, oldest first (sorted by `first_seq`).
    order: VecDeque<K>,
    /// The batch being written.
    in_flight: Vec<(K, Pending<V>)>,
    next_seq: Seq,
    /// Every change acknowledged up to this sequence number is due now (flush requests).
    flush_upto: Seq,
    closing: bool,
    aborted: bool,
    /// The flusher thread has exited.
    stopped: bool,
    /// Last acknowledged sequence number per key stripe (for dropping stale read-through fills).
    stripes: [Seq; STRIPES],
    lost: LossReport<K, V>,
    stats: WriteBehindStats,
}

impl<K: Hash + Eq, V> Queue<K, V> {
    fn oldest_unwritten(&self) -> Option<&Pending<V>> {
        let queued = self.order.front().and_then(|k| self.pending.get(k));
        let flying = self
            .in_flight
            .iter()
            .map(|(_, p)| p)
            .min_by_key(|p| p.first_seq);
        match (queued, flying) {
            (Some(a), Some(b)) => Some(if a.first_seq <= b.first_seq { a } else { b }),
            (a, b) => a.or(b),
        }
    }

    fn record_lost(&mut self, key: K, pending: Pending<V>, reason: &str, max_records: usize) {
        self.stats.lost_changes += 1;
        self.stats.lost_writes += pending.writes;
        self.lost.lost_changes += 1;
        self.lost.lost_writes += pending.writes;
        if self.lost.lost.len() < max_records {
            self.lost.lost.push(LostChange {
                change: match pending.op {
                    Some(v) => Change::Put(key, v),
                    None => Change::Delete(key),
                },
                first_seq: pending.first_seq,
                last_seq: pending.last_seq,
                writes: pending.writes,
                since: pending.since,
                reason: reason.to_owned(),
            });
        }
    }
}

struct Shared<K, V, W> {
    queue: Mutex<Queue<K, V>>,
    /// Wakes the flusher.
    work: Condvar,
    /// Wakes writers waiting for room and callers of `flush`.
    progress: Condvar,
    cache: Cache<K, V>,
    writer: W,
    clock: Arc<dyn Clock>,
    capacity: usize,
    batch_size: usize,
    max_delay_ms: u64,
    backoff: Backoff,
    when_full: WhenFull,
    max_lost_records: usize,
    hasher: BuildHasherDefault<DefaultHasher>,
}

/// How a batch ended.
enum Outcome {
    Written,
    GaveUp(String),
    Aborted,
}

/// Marks the flusher stopped however it exits (a writer that panics included).
struct StopGuard<'a, K, V, W>(&'a Shared<K, V, W>);

impl<K, V, W> Drop for StopGuard<'_, K, V, W> {
    fn drop(&mut self) {
        self.0.queue.lock().stopped = true;
        self.0.progress.notify_all();
    }
}

impl<K, V, W> Shared<K, V, W>
where
    K: Hash + Eq + Clone + Send + Sync + 'static,
    V: Clone + Send + Sync + 'static,
    W: Writer<K, V>,
{
    fn stripe(&self, key: &K) -> usize {
        (self.hasher.hash_one(key) as usize) % STRIPES
    }

    /// Whether the oldest queued change must be written now.
    fn due(&self, q: &Queue<K, V>) -> bool {
        let Some(oldest) = q.order.front().and_then(|k| q.pending.get(k)) else {
            return false;
        };
        q.closing
            || q.pending.len() >= self.batch_size
            || oldest.first_seq <= q.flush_upto
            || self.clock.now().saturating_sub(oldest.since) >= self.max_delay_ms
    }

    fn run(&self) {
        let _stopped = StopGuard(self);
        let mut q = self.queue.lock();
        loop {
            if q.aborted {
                return;
            }
            if !self.due(&q) {
                self.progress.notify_all();
                if q.order.is_empty() && q.closing {
                    return;
                }
                let wait = q.order.front().and_then(|k| q.pending.get(k)).map(|p| {
                    let age = self.clock.now().saturating_sub(p.since);
                    Duration::from_millis(self.max_delay_ms.saturating_sub(age).max(1))
                });
                match wait {
                    Some(wait) => {
                        self.work.wait_for(&mut q, wait);
                    }
                    None => self.work.wait(&mut q),
                }
                continue;
            }
            let n = self.batch_size.min(q.order.len());
            let mut changes = Vec::with_capacity(n);
            for _ in 0..n {
                let Some(key) = q.order.pop_front() else {
                    break;
                };
                let Some(p) = q.pending.remove(&key) else {
                    continue;
                };
                changes.push(match &p.op {
                    Some(v) => Change::Put(key.clone(), v.clone()),
                    None => Change::Delete(key.clone()),
                });
                q.in_flight.push((key, p));
            }
            self.progress.notify_all();
            let outcome = self.write_with_retries(&mut q, &changes);
            match outcome {
                Outcome::Written => {
                    q.stats.batches += 1;
                    q.stats.written += changes.len() as u64;
                    q.in_flight.clear();
                }
                Outcome::GaveUp(reason) => {
                    q.stats.failed_batches += 1;
                    let batch = std::mem::take(&mut q.in_flight);
                    for (key, p) in batch {
                        if !q.pending.contains_key(&key) {
                            self.cache.invalidate(&key);
                        }
                        q.record_lost(key, p, &reason, self.max_lost_records);
                    }
                }
                // The batch stays in flight for the abort's report.
                Outcome::Aborted => return,
            }
            self.progress.notify_all();
        }
    }

    /// Writes `changes` (the queue lock is released while the writer runs), retrying with
    /// backoff; the abort flag is checked between attempts.
    fn write_with_retries(
        &self,
        q: &mut MutexGuard<'_, Queue<K, V>>,
        changes: &[Change<K, V>],
    ) -> Outcome {
        let mut attempt = 1;
        loop {
            let result = MutexGuard::unlocked(q, || self.writer.write_batch(changes));
            let error = match result {
                Ok(()) => return Outcome::Written,
                Err(e) => e.to_string(),
            };
            if q.aborted {
                return Outcome::Aborted;
            }
            if attempt >= self.backoff.attempts {
                return Outcome::GaveUp(error);
            }
            q.stats.retries += 1;
            let until = Instant::now() + self.backoff.delay(attempt);
            while !q.aborted && !self.work.wait_until(q, until).timed_out() {}
            if q.aborted {
                return Outcome::Aborted;
            }
            attempt += 1;
        }
    }

    fn enqueue(&self, key: K, op: Option<V>) -> Result<Seq, WriteBehindError> {
        let mut q = self.queue.lock();
        if q.closing || q.aborted || q.stopped {
            return Err(WriteBehindError::Closed);
        }
        if !q.pending.contains_key(&key) && q.pending.len() >= self.capacity {
            self.wait_for_room(&mut q, &key)?;
        }
        let seq = q.next_seq;
        q.next_seq += 1;
        q.stats.acknowledged += 1;
        let stripe = self.stripe(&key);
        q.stripes[stripe] = seq;
        match &op {
            Some(v) => {
                // Dropping the old value first means a value too heavy for the cache (which
                // `insert` refuses, keeping the old one) cannot leave a stale value cached: it
                // lives in the queue until written. Readers meanwhile find it in the queue.
                self.cache.invalidate(&key);
                self.cache.insert(key.clone(), v.clone());
            }
            None => {
                self.cache.invalidate(&key);
            }
        }
        let now = self.clock.now();
        match q.pending.entry(key) {
            Entry::Occupied(mut e) => {
                let p = e.get_mut();
                p.op = op;
                p.last_seq = seq;
                p.writes += 1;
                q.stats.coalesced += 1;
            }
            Entry::Vacant(e) => {
                let key = e.key().clone();
                e.insert(Pending {
                    op,
                    first_seq: seq,
                    last_seq: seq,
                    writes: 1,
                    since: now,
                });
                q.order.push_back(key);
                // The first queued change starts the flusher's timer; a full batch is due now.
                if q.order.len() == 1 || q.order.len() >= self.batch_size {
                    self.work.notify_one();
                }
            }
        }
        Ok(seq)
    }

    fn wait_for_room(
        &self,
        q: &mut MutexGuard<'_, Queue<K, V>>,
        key: &K,
    ) -> Result<(), WriteBehindError> {
        let full = WriteBehindError::QueueFull {
            capacity: self.capacity,
        };
        let WhenFull::Wait(bound) = self.when_full else {
            q.stats.full_rejections += 1;
            return Err(full);
        };
        q.stats.full_waits += 1;
        self.work.notify_one();
        let until = Instant::now() + bound;
        while q.pending.len() >= self.capacity && !q.pending.contains_key(key) {
            if q.closing || q.aborted || q.stopped {
                return Err(WriteBehindError::Closed);
            }
            if self.progress.wait_until(q, until).timed_out()
                && q.pending.len() >= self.capacity
                && !q.pending.contains_key(key)
            {
                q.stats.full_rejections += 1;
                return Err(full);
            }
        }
        Ok(())
    }
}

/// A write-behind cache. See the [module docs](self).
pub struct WriteBehind<K, V, W>
where
    K: Hash + Eq + Clone + Send + Sync + 'static,
    V: Clone + Send + Sync + 'static,
    W: Writer<K, V>,
{
    shared: Arc<Shared<K, V, W>>,
    thread: Option<JoinHandle<()>>,
}

impl<K, V, W> WriteBehind<K, V, W>
where
    K: Hash + Eq + Clone + Send + Sync + 'static,
    V: Clone + Send + Sync + 'static,
    W: Writer<K, V>,
{
    /// A builder writing `cache`'s changes behind to `writer`.
    pub fn builder(cache: Cache<K, V>, writer: W) -> WriteBehindBuilder<K, V, W> {
        WriteBehindBuilder {
            cache,
            writer,
            capacity: 10_000,
            batch_size: 500,
            max_delay: Duration::from_millis(100),
            backoff: Backoff::default(),
            when_full: WhenFull::Wait(Duration::from_secs(1)),
            max_lost_records: 10_000,
            clock: Arc::new(SystemClock),
        }
    }

    /// Stores `value` in the cache and queues it for the database; returns its sequence number.
    pub fn put(&self, key: K, value: V) -> Result<Seq, WriteBehindError> {
        self.shared.enqueue(key, Some(value))
    }

    /// Drops `key` from the cache and queues its deletion; returns its sequence number.
    pub fn delete(&self, key: K) -> Result<Seq, WriteBehindError> {
        self.shared.enqueue(key, None)
    }

    /// The current value of `key` as far as the cache and the queue know.
    pub fn get(&self, key: &K) -> Read<V> {
        if let Some(v) = self.shared.cache.get(key) {
            return Read::Value(v);
        }
        let q = self.shared.queue.lock();
        let queued = q
            .pending
            .get(key)
            .or_else(|| q.in_flight.iter().find(|(k, _)| k == key).map(|(_, p)| p));
        match queued {
            Some(Pending { op: Some(v), .. }) => Read::Value(v.clone()),
            Some(Pending { op: None, .. }) => Read::Deleted,
            None => Read::Unknown,
        }
    }

    /// The current value of `key`, loading it with `load` from the database when neither the
    /// cache nor the queue knows it. The loaded value is cached unless the key was written
    /// while it loaded (then the fill would be stale and is dropped).
    pub fn get_or_load<E>(
        &self,
        key: &K,
        load: impl FnOnce(&K) -> Result<Option<V>, E>,
    ) -> Result<Option<V>, E> {
        match self.get(key) {
            Read::Value(v) => return Ok(Some(v)),
            Read::Deleted => return Ok(None),
            Read::Unknown => {}
        }
        let stripe = self.shared.stripe(key);
        let before = self.shared.queue.lock().stripes[stripe];
        let loaded = load(key)?;
        let mut q = self.shared.queue.lock();
        if q.stripes[stripe] != before {
            q.stats.stale_fills_dropped += 1;
            drop(q);
            // The key (or one sharing its stripe) changed meanwhile: answer what is current.
            return Ok(match self.get(key) {
                Read::Value(v) => Some(v),
                Read::Deleted => None,
                Read::Unknown => loaded,
            });
        }
        if let Some(v) = &loaded {
            self.shared.cache.insert(key.clone(), v.clone());
        }
        Ok(loaded)
    }

    /// Blocks until every change acknowledged before this call is written to the database or
    /// given up; `Err(Lost)` says how many were given up meanwhile.
    pub fn flush(&self) -> Result<(), WriteBehindError> {
        let mut q = self.shared.queue.lock();
        let target = q.next_seq - 1;
        let lost_before = q.stats.lost_changes;
        q.flush_upto = q.flush_upto.max(target);
        self.shared.work.notify_one();
        while q.oldest_unwritten().is_some_and(|p| p.first_seq <= target) {
            if q.stopped {
                return Err(WriteBehindError::Closed);
            }
            self.shared.progress.wait(&mut q);
        }
        match q.stats.lost_changes - lost_before {
            0 => Ok(()),
            count => Err(WriteBehindError::Lost { count }),
        }
    }

    /// Makes the flusher re-read the clock (after advancing a `ManualClock`).
    pub fn wake(&self) {
        self.shared.work.notify_one();
    }

    /// Blocks until the batch containing `seq` is written or given up; `true` if it is no longer
    /// queued. Does not make anything due sooner (see [`WriteBehind::flush`]).
    pub fn wait_written(&self, seq: Seq, timeout: Duration) -> bool {
        let until = Instant::now() + timeout;
        let mut q = self.shared.queue.lock();
        while q.oldest_unwritten().is_some_and(|p| p.first_seq <= seq) {
            if q.stopped || self.shared.progress.wait_until(&mut q, until).timed_out() {
                return q.oldest_unwritten().is_none_or(|p| p.first_seq > seq);
            }
        }
        true
    }

    /// What a crash now would lose.
    pub fn loss_window(&self) -> LossWindow {
        let q = self.shared.queue.lock();
        let all = q.pending.values().chain(q.in_flight.iter().map(|(_, p)| p));
        let (changes, writes) = all.fold((0, 0), |(c, w), p| (c + 1, w + p.writes));
        let oldest = q.oldest_unwritten();
        LossWindow {
            changes,
            writes,
            oldest_seq: oldest.map(|p| p.first_seq),
            oldest_age: oldest
                .map(|p| Duration::from_millis(self.shared.clock.now().saturating_sub(p.since))),
        }
    }

    /// Counters so far.
    pub fn stats(&self) -> WriteBehindStats {
        self.shared.queue.lock().stats
    }

    /// Takes the changes given up so far (the report starts empty again; stats keep totals).
    pub fn take_lost(&self) -> LossReport<K, V> {
        std::mem::take(&mut self.shared.queue.lock().lost)
    }

    /// The cache written to.
    pub fn cache(&self) -> &Cache<K, V> {
        &self.shared.cache
    }

    /// The database writer.
    pub fn writer(&self) -> &W {
        &self.shared.writer
    }

    /// Flushes everything, stops the flusher and returns the changes given up since the last
    /// [`WriteBehind::take_lost`] (empty when everything reached the database). Blocks.
    pub fn close(mut self) -> LossReport<K, V> {
        self.stop(false)
    }

    /// [`WriteBehind::close`] from async code (the blocking part runs on tokio's blocking pool).
    pub async fn shutdown(self) -> LossReport<K, V> {
        match tokio::task::spawn_blocking(move || self.close()).await {
            Ok(report) => report,
            Err(e) => std::panic::resume_unwind(e.into_panic()),
        }
    }

    /// Stops the flusher **without** writing what is queued — what a crash does — and reports
    /// every acknowledged change that never reached the database: those given up before, the
    /// batch in flight if its write did not complete, and everything queued.
    pub fn abort(mut self) -> LossReport<K, V> {
        self.stop(true)
    }

    fn stop(&mut self, abort: bool) -> LossReport<K, V> {
        {
            let mut q = self.shared.queue.lock();
            q.closing = true;
            q.aborted |= abort;
        }
        self.shared.work.notify_all();
        self.shared.progress.notify_all();
        if let Some(thread) = self.thread.take()
            && let Err(panic) = thread.join()
        {
            std::panic::resume_unwind(panic);
        }
        let mut q = self.shared.queue.lock();
        let q = &mut *q;
        let max = self.shared.max_lost_records;
        for (key, p) in std::mem::take(&mut q.in_flight) {
            q.record_lost(key, p, "aborted while being written", max);
        }
        while let Some(key) = q.order.pop_front() {
            if let Some(p) = q.pending.remove(&key) {
                q.record_lost(key, p, "aborted before being written", max);
            }
        }
        std::mem::take(&mut q.lost)
    }
}

impl<K, V, W> Drop for WriteBehind<K, V, W>
where
    K: Hash + Eq + Clone + Send + Sync + 'static,
    V: Clone + Send + Sync + 'static,
    W: Writer<K, V>,
{
    /// Flushes everything queued and stops the flusher (blocking; prefer
    /// [`WriteBehind::shutdown`] in async code).
    fn drop(&mut self) {
        if self.thread.is_some() {
            let _ = self.stop(false);
        }
    }
}
