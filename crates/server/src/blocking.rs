//! Blocking commands (`BLPOP`, `BLMOVE`, `BZPOPMIN`, ...): what a handler asks for when there
//! is nothing to serve yet.
//!
//! A blocking handler first tries to serve like its non-blocking form. When every key is empty
//! it calls [`Ctx::block_on`](crate::cmd::Ctx::block_on): outside a transaction the client then
//! waits for one of the keys to become ready, the timeout, `CLIENT UNBLOCK` or its end; inside
//! `MULTI` it answers at once as if the timeout had passed.
//!
//! The machinery ([`Blocking`], on [`Shared`]):
//! - the connection of a client that blocks stops executing its input and registers a
//!   [`Waiter`] (its command, keys, database and protocol) in a FIFO per (database, key).
//!   Registration re-runs the command once under the registry lock after announcing the
//!   interest, so a push racing with the block is never missed;
//! - every write to a list or sorted set (and a key created by `RENAME`, `MOVE`, `COPY`,
//!   `RESTORE`) records its key as ready in the writer's session while anyone is blocked;
//! - after the writer's command (before its reply goes out), [`Blocking::serve`] runs the
//!   command of each client blocked on a ready key again, in arrival order, through the
//!   normal handler path; the first reply it writes serves the client, whose connection is
//!   woken to send it. Keys made ready by served commands (`BLMOVE`'s destination) are
//!   served in turn;
//! - the blocked connection ends the wait itself on timeout, kill, shutdown or the peer
//!   closing, and `CLIENT UNBLOCK` (applied by the same step) ends it with the null reply or
//!   an `UNBLOCKED` error.

use crate::client::ClientHandle;
use crate::cmd::{self, Session};
use crate::shared::{ServerStats, Shared};
use larder_protocol::{Reply, Version};
use parking_lot::Mutex;
use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// What a blocking command asks for when it cannot be served yet.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BlockRequest {
    /// The keys whose readiness may serve it (client keys, in the client's database).
    pub keys: Vec<Vec<u8>>,
    /// How long to wait; `None` waits forever.
    pub timeout: Option<Duration>,
    /// The reply when the timeout passes (or `CLIENT UNBLOCK ... TIMEOUT`).
    pub on_timeout: TimeoutReply,
}

/// The reply a blocking command gives when nothing came in time.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TimeoutReply {
    /// A null array (`*-1` in RESP2): `BLPOP`, `BLMPOP`, `BZPOPMIN`, `BZMPOP`, ...
    NullArray,
    /// A null bulk string (`$-1` in RESP2): `BLMOVE`, `BRPOPLPUSH`.
    NullBulk,
}

/// Parses a blocking timeout in seconds (a float, as Redis 7.0 accepts), with Redis's errors.
pub fn parse_timeout(arg: &[u8]) -> Result<Option<Duration>, &'static str> {
    let text = std::str::from_utf8(arg).map_err(|_| NOT_A_FLOAT)?;
    let seconds: f64 = text.trim().parse().map_err(|_| NOT_A_FLOAT)?;
    if text.trim() != text || !seconds.is_finite() {
        return Err(NOT_A_FLOAT);
    }
    if seconds < 0.0 {
        return Err("ERR timeout is negative");
    }
    // Redis keeps the deadline in milliseconds since the epoch as a long long.
    let millis = seconds * 1000.0;
    if millis >= (i64::MAX / 2) as f64 {
        return Err("ERR timeout is out of range");
    }
    Ok((millis > 0.0).then(|| Duration::from_micros((seconds * 1e6) as u64)))
}

const NOT_A_FLOAT: &str = "ERR timeout is not a float or out of range";

/// How a blocked client's wait ended.
#[derive(Debug)]
pub enum Outcome {
    /// A writer made a key ready and the command was served: its reply.
    Served(Vec<u8>),
    /// The timeout passed, or `CLIENT UNBLOCK ... TIMEOUT`: the command's null reply.
    TimedOut,
    /// `CLIENT UNBLOCK ... ERROR`.
    Unblocked,
}

/// The error a client unblocked by `CLIENT UNBLOCK ... ERROR` gets.
pub const UNBLOCKED: &str = "UNBLOCKED client unblocked via CLIENT UNBLOCK";

/// A blocked client: what it runs again when one of its keys becomes ready.
#[derive(Debug)]
pub struct Waiter {
    /// The blocked connection (woken when the wait ends).
    pub handle: Arc<ClientHandle>,
    /// Its selected database.
    pub db: usize,
    /// Its protocol.
    pub version: Version,
    /// The blocking command, as sent.
    pub args: Vec<Vec<u8>>,
    /// The keys it waits on (distinct).
    pub keys: Vec<Vec<u8>>,
    /// When it times out.
    pub deadline: Option<Instant>,
    /// Its reply on timeout.
    pub on_timeout: TimeoutReply,
    outcome: Mutex<Option<Outcome>>,
}

impl Waiter {
    /// A waiter for the command `args` that asked for `request`.
    pub fn new(
        handle: Arc<ClientHandle>,
        db: usize,
        version: Version,
        args: Vec<Vec<u8>>,
        request: BlockRequest,
    ) -> Waiter {
        let mut keys: Vec<Vec<u8>> = Vec::with_capacity(request.keys.len());
        for key in request.keys {
            if !keys.contains(&key) {
                keys.push(key);
            }
        }
        Waiter {
            handle,
            db,
            version,
            args,
            keys,
            deadline: request.timeout.map(|t| Instant::now() + t),
            on_timeout: request.on_timeout,
            outcome: Mutex::new(None),
        }
    }

    /// How the wait ended, if it has (taken once).
    pub fn take_outcome(&self) -> Option<Outcome> {
        self.outcome.lock().take()
    }

    /// The reply for `outcome`, in this waiter's protocol.
    pub fn reply(&self, outcome: Outcome, shared: &Shared) -> Vec<u8> {
        match outcome {
            Outcome::Served(reply) => reply,
            Outcome::TimedOut => {
                let mut out = Vec::new();
                let mut reply = Reply {
                    out: &mut out,
                    version: self.version,
                };
                match self.on_timeout {
                    TimeoutReply::NullArray => reply.null_array(),
                    TimeoutReply::NullBulk => reply.null(),
                }
                out
            }
            Outcome::Unblocked => {
                ServerStats::add(&shared.stats.error_replies, 1);
                shared.count_error(UNBLOCKED);
                let mut out = Vec::new();
                Reply {
                    out: &mut out,
                    version: self.version,
                }
                .error(UNBLOCKED);
                out
            }
        }
    }
}

/// Waiters by (database, key), each queue in arrival order.
#[derive(Debug, Default)]
struct Registry {
    by_key: HashMap<(usize, Vec<u8>), VecDeque<Arc<Waiter>>>,
    by_client: HashMap<u64, Arc<Waiter>>,
}

/// The blocked clients (see the module documentation): who waits on which key, and the
/// serving of those whose keys a command made ready.
///
/// Lock order: the registry, then the server's `exclusive` lock; nothing takes the registry
/// while holding `exclusive` (handlers only read the atomic counters and the leaf set of
/// blocked ids).
#[derive(Debug, Default)]
pub struct Blocking {
    /// Waiters registered or registering: while 0, writes record no ready keys.
    interest: AtomicUsize,
    /// Registered waiters (`blocked_clients`).
    blocked: AtomicUsize,
    /// Ids of the registered waiters (a leaf lock: handlers may take it).
    ids: Mutex<HashSet<u64>>,
    registry: Mutex<Registry>,
}

impl Blocking {
    /// Whether any client is blocked or blocking (one atomic load: the writers' hot path).
    pub fn armed(&self) -> bool {
        self.interest.load(Ordering::SeqCst) > 0
    }

    /// Clients blocked now (`INFO`'s `blocked_clients`).
    pub fn blocked_clients(&self) -> usize {
        self.blocked.load(Ordering::SeqCst)
    }

    /// Whether client `id` is blocked.
    pub fn is_blocked(&self, id: u64) -> bool {
        self.ids.lock().contains(&id)
    }

    /// Registers `waiter`, unless running its command once more (atomically with the
    /// registration, after announcing the interest) serves it: then its reply, and nothing is
    /// registered.
    pub fn register(&self, shared: &Shared, waiter: &Arc<Waiter>) -> Option<Vec<u8>> {
        let mut registry = self.registry.lock();
        // Announced before the re-check: a write the re-check misses sees the interest and
        // makes its key ready, and its serving waits for this lock.
        self.interest.fetch_add(1, Ordering::SeqCst);
        let (reply, ready) = rerun(shared, waiter);
        if !reply.is_empty() {
            self.interest.fetch_sub(1, Ordering::SeqCst);
            self.serve_locked(&mut registry, shared, ready.into());
            return Some(reply);
        }
        for key in &waiter.keys {
            registry
                .by_key
                .entry((waiter.db, key.clone()))
                .or_default()
                .push_back(Arc::clone(waiter));
        }
        registry
            .by_client
            .insert(waiter.handle.id, Arc::clone(waiter));
        self.ids.lock().insert(waiter.handle.id);
        self.blocked.fetch_add(1, Ordering::SeqCst);
        None
    }

    /// Ends `waiter`'s wait from its own connection (timeout, disconnect, kill): how it
    /// ended, [`Outcome::TimedOut`] unless a writer served it (or `CLIENT UNBLOCK` ended it)
    /// first.
    pub fn cancel(&self, waiter: &Arc<Waiter>) -> Outcome {
        let mut registry = self.registry.lock();
        if let Some(outcome) = waiter.take_outcome() {
            return outcome;
        }
        self.remove(&mut registry, waiter);
        Outcome::TimedOut
    }

    /// The step after a top-level command: applies its `CLIENT UNBLOCK`s, then serves the
    /// clients blocked on the keys it made ready, in arrival order per key, with the keys
    /// their commands make ready in turn.
    pub fn serve(&self, shared: &Shared, ready: Vec<(usize, Vec<u8>)>, unblock: Vec<(u64, bool)>) {
        let mut registry = self.registry.lock();
        for (id, error) in unblock {
            if let Some(waiter) = registry.by_client.get(&id).cloned() {
                self.remove(&mut registry, &waiter);
                let outcome = if error {
                    Outcome::Unblocked
                } else {
                    Outcome::TimedOut
                };
                complete(&waiter, outcome);
            }
        }
        self.serve_locked(&mut registry, shared, ready.into());
    }

    fn serve_locked(
        &self,
        registry: &mut Registry,
        shared: &Shared,
        mut queue: VecDeque<(usize, Vec<u8>)>,
    ) {
        while let Some(ready) = queue.pop_front() {
            let Some(waiters) = registry.by_key.get(&ready) else {
                continue;
            };
            let waiters: Vec<Arc<Waiter>> = waiters.iter().cloned().collect();
            for waiter in waiters {
                if !registry.by_client.contains_key(&waiter.handle.id) {
                    continue;
                }
                let (reply, more) = rerun(shared, &waiter);
                queue.extend(more);
                if !reply.is_empty() {
                    self.remove(registry, &waiter);
                    complete(&waiter, Outcome::Served(reply));
                } else if !shared.keyspace.exists(ready.0, &ready.1) {
                    break;
                }
            }
        }
    }

    fn remove(&self, registry: &mut Registry, waiter: &Arc<Waiter>) {
        if registry.by_client.remove(&waiter.handle.id).is_none() {
            return;
        }
        for key in &waiter.keys {
            let slot = (waiter.db, key.clone());
            if let Some(queue) = registry.by_key.get_mut(&slot) {
                queue.retain(|w| !Arc::ptr_eq(w, waiter));
                if queue.is_empty() {
                    registry.by_key.remove(&slot);
                }
            }
        }
        self.ids.lock().remove(&waiter.handle.id);
        self.blocked.fetch_sub(1, Ordering::SeqCst);
        self.interest.fetch_sub(1, Ordering::SeqCst);
    }
}

fn complete(waiter: &Waiter, outcome: Outcome) {
    *waiter.outcome.lock() = Some(outcome);
    waiter.handle.wake();
}

/// Runs a waiter's command again on its behalf: its reply (empty: still nothing to serve)
/// and the keys it made ready.
fn rerun(shared: &Shared, waiter: &Waiter) -> (Vec<u8>, Vec<(usize, Vec<u8>)>) {
    let mut session = Session::new(Arc::clone(&waiter.handle), true);
    session.db = waiter.db;
    session.version = waiter.version;
    session.serving_blocked = true;
    let mut out = Vec::new();
    let args: Vec<&[u8]> = waiter.args.iter().map(Vec::as_slice).collect();
    cmd::rerun(shared, &mut session, &mut out, &args);
    (out, std::mem::take(&mut session.ready_keys))
}
