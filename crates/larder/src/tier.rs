//! L1/L2 tiering: an in-process L1 ([`Cache`]) in front of a remote L2 (a RESP3 server:
//! `larder serve` or redis-server), the L1 kept coherent by the server's `CLIENT TRACKING`.
//!
//! ## How it stays coherent
//!
//! * The connection ([`RemoteClient`]) says `HELLO 3` and `CLIENT TRACKING on` (default mode):
//!   the server remembers the keys this connection read and pushes `>invalidate [keys]` on the
//!   same connection when any client changes one. The push handler drops those keys from the
//!   L1; a null payload (the server flushed its data) drops the whole L1.
//! * A fill cannot resurrect a stale value: before `GET`, the reader notes the key's stripe
//!   counter (256 stripes, bumped by every invalidation of a key in the stripe) and the flush
//!   epoch; after inserting the reply into the L1 it checks them again and drops the entry if
//!   either moved. The invalidation either bumped before that check (the reader drops its
//!   fill) or removes the entry after it.
//! * The L1 TTL ([`TierConfig::l1_ttl`]) bounds staleness when an invalidation is lost.
//! * When the connection drops the L1 is flushed at once (on the reader task, before waiting
//!   requests fail): without the connection no invalidation can arrive. A supervisor task
//!   reconnects with exponential backoff (10 ms doubling to 1 s) and re-enables tracking; until
//!   then [`Tier::get`] answers [`RemoteError::Disconnected`] and no fill happens.
//! * Writes ([`Tier::set`], [`Tier::del`]) go to the server, then drop the key from the L1; the
//!   next read fetches the new value (and tracks it again).
//!
//! Misses on the server (`GET` → nil) are not cached in the L1.
//!
//! ## Bounds
//!
//! The L1 holds at most [`TierConfig::l1_capacity`] entries; the connection's bounds are
//! [`RemoteConfig`]'s. The stripe counters are a fixed 256 atomics.

use crate::cache::Cache;
use crate::remote::{DisconnectHandler, PushHandler, RemoteClient, RemoteConfig, RemoteError};
use larder_engine::Clock;
use larder_protocol::Frame;
use parking_lot::RwLock;
use std::fmt;
use std::hash::{BuildHasher, BuildHasherDefault, DefaultHasher};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Weak};
use std::time::Duration;
use tokio::task::JoinHandle;

const STRIPES: usize = 256;

/// Observes invalidations after they reached the L1: `Some(key)` for one key, `None` for a
/// flush (a null push or a dropped connection). Runs on the connection's reader task.
pub type InvalidationObserver = Arc<dyn Fn(Option<&[u8]>) + Send + Sync>;

/// How to build a [`Tier`].
#[derive(Clone)]
pub struct TierConfig {
    /// The L2 server.
    pub remote: RemoteConfig,
    /// L1 entries at most (default 10,000).
    pub l1_capacity: u64,
    /// How long an L1 entry lives at most (default 60 s): the staleness bound if an
    /// invalidation is lost.
    pub l1_ttl: Duration,
    /// The L1's clock (default: the system clock).
    pub clock: Option<Arc<dyn Clock>>,
    /// Called after each invalidation reached the L1 (for measurements).
    pub on_invalidate: Option<InvalidationObserver>,
}

impl fmt::Debug for TierConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TierConfig")
            .field("remote", &self.remote)
            .field("l1_capacity", &self.l1_capacity)
            .field("l1_ttl", &self.l1_ttl)
            .finish_non_exhaustive()
    }
}

impl TierConfig {
    /// Defaults for the server at `addr`.
    pub fn new(addr: impl Into<String>) -> Self {
        Self {
            remote: RemoteConfig::new(addr),
            l1_capacity: 10_000,
            l1_ttl: Duration::from_secs(60),
            clock: None,
            on_invalidate: None,
        }
    }
}

/// Counters of a [`Tier`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct TierStats {
    /// Keys invalidated by server pushes.
    pub invalidated_keys: u64,
    /// Whole-L1 flushes (null pushes and dropped connections).
    pub flushes: u64,
    /// Connections lost.
    pub disconnects: u64,
    /// Connections re-established.
    pub reconnects: u64,
}

struct Shared {
    l1: Cache<Vec<u8>, Vec<u8>>,
    stripes: Box<[AtomicU64]>,
    epoch: AtomicU64,
    current: RwLock<Option<Arc<RemoteClient>>>,
    config: TierConfig,
    invalidated_keys: AtomicU64,
    flushes: AtomicU64,
    disconnects: AtomicU64,
    reconnects: AtomicU64,
}

impl Shared {
    fn stripe(&self, key: &[u8]) -> &AtomicU64 {
        let h = BuildHasherDefault::<DefaultHasher>::default().hash_one(key);
        &self.stripes[(h as usize) % STRIPES]
    }

    fn invalidate(&self, key: &[u8]) {
        self.stripe(key).fetch_add(1, Ordering::SeqCst);
        self.l1.invalidate(key);
    }

    fn flush(&self) {
        self.epoch.fetch_add(1, Ordering::SeqCst);
        self.l1.invalidate_all();
        self.flushes.fetch_add(1, Ordering::Relaxed);
        if let Some(o) = &self.config.on_invalidate {
            o(None);
        }
    }

    fn on_push(&self, frame: &Frame) {
        let Frame::Push(parts) = frame else { return };
        let is_invalidate =
            matches!(parts.first(), Some(Frame::Bulk(k) | Frame::Simple(k)) if k == b"invalidate");
        if !is_invalidate {
            return;
        }
        match parts.get(1) {
            Some(Frame::Array(keys) | Frame::Set(keys)) => {
                for k in keys {
                    if let Frame::Bulk(k) | Frame::Simple(k) = k {
                        self.invalidate(k);
                        self.invalidated_keys.fetch_add(1, Ordering::Relaxed);
                        if let Some(o) = &self.config.on_invalidate {
                            o(Some(k));
                        }
                    }
                }
            }
            _ => self.flush(),
        }
    }
}

/// An L1 cache in front of a remote L2, invalidated by the server's tracking pushes.
pub struct Tier {
    shared: Arc<Shared>,
    supervisor: JoinHandle<()>,
}

impl fmt::Debug for Tier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Tier")
            .field("connected", &self.is_connected())
            .field("stats", &self.stats())
            .finish_non_exhaustive()
    }
}

impl Drop for Tier {
    fn drop(&mut self) {
        self.supervisor.abort();
        self.shared.current.write().take();
    }
}

/// Opens a connection with tracking on, its pushes and its end wired to `shared`.
async fn open(shared: &Arc<Shared>) -> Result<Arc<RemoteClient>, RemoteError> {
    let weak: Weak<Shared> = Arc::downgrade(shared);
    let on_push: PushHandler = Arc::new(move |f: &Frame| {
        if let Some(s) = weak.upgrade() {
            s.on_push(f);
        }
    });
    let weak: Weak<Shared> = Arc::downgrade(shared);
    let on_disconnect: DisconnectHandler = Arc::new(move || {
        if let Some(s) = weak.upgrade() {
            s.disconnects.fetch_add(1, Ordering::Relaxed);
            s.flush();
        }
    });
    let client =
        RemoteClient::connect(&shared.config.remote, Some(on_push), Some(on_disconnect)).await?;
    client.call(&[b"CLIENT", b"TRACKING", b"on"]).await?;
    Ok(Arc::new(client))
}

async fn supervise(shared: Weak<Shared>, mut client: Arc<RemoteClient>) {
    loop {
        client.closed().await;
        drop(client);
        let mut backoff = Duration::from_millis(10);
        client = loop {
            let Some(s) = shared.upgrade() else { return };
            *s.current.write() = None;
            match open(&s).await {
                Ok(c) => {
                    *s.current.write() = Some(Arc::clone(&c));
                    s.reconnects.fetch_add(1, Ordering::Relaxed);
                    break c;
                }
                Err(_) => {
                    drop(s);
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(Duration::from_secs(1));
                }
            }
        };
    }
}

impl Tier {
    /// Connects to the L2 (`HELLO 3`, `CLIENT TRACKING on`) and starts the reconnecting
    /// supervisor. Fails if the first connection fails.
    pub async fn connect(config: TierConfig) -> Result<Tier, RemoteError> {
        let mut l1 = Cache::builder()
            .max_capacity(config.l1_capacity)
            .time_to_live(config.l1_ttl);
        if let Some(clock) = &config.clock {
            l1 = l1.clock(Arc::clone(clock));
        }
        let shared = Arc::new(Shared {
            l1: l1.build(),
            stripes: (0..STRIPES).map(|_| AtomicU64::new(0)).collect(),
            epoch: AtomicU64::new(0),
            current: RwLock::new(None),
            config,
            invalidated_keys: AtomicU64::new(0),
            flushes: AtomicU64::new(0),
            disconnects: AtomicU64::new(0),
            reconnects: AtomicU64::new(0),
        });
        let client = open(&shared).await?;
        *shared.current.write() = Some(Arc::clone(&client));
        let supervisor = tokio::spawn(supervise(Arc::downgrade(&shared), client));
        Ok(Tier { shared, supervisor })
    }

    fn client(&self) -> Result<Arc<RemoteClient>, RemoteError> {
        self.shared
            .current
            .read()
            .as_ref()
            .filter(|c| !c.is_closed())
            .cloned()
            .ok_or(RemoteError::Disconnected)
    }

    /// The value of `key`: from the L1, else from the L2 (then kept in the L1).
    pub async fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, RemoteError> {
        self.get_with(key, true).await
    }

    /// The value of `key`: from the L1, else from the L2, kept in the L1 only if `fill` (an L1
    /// that admits only some keys, such as hot ones: [`crate::hotkeys`]).
    pub async fn get_with(&self, key: &[u8], fill: bool) -> Result<Option<Vec<u8>>, RemoteError> {
        let s = &self.shared;
        if let Some(v) = s.l1.get(key) {
            return Ok(Some(v));
        }
        let client = self.client()?;
        let stripe = s.stripe(key);
        let (before, epoch) = (
            stripe.load(Ordering::SeqCst),
            s.epoch.load(Ordering::SeqCst),
        );
        let value = client.get(key).await?;
        if let Some(v) = value.as_ref().filter(|_| fill) {
            s.l1.insert(key.to_vec(), v.clone());
            if stripe.load(Ordering::SeqCst) != before || s.epoch.load(Ordering::SeqCst) != epoch {
                s.l1.invalidate(key);
            }
        }
        Ok(value)
    }

    /// Writes `key` on the L2, then drops it from the L1.
    pub async fn set(&self, key: &[u8], value: &[u8]) -> Result<(), RemoteError> {
        let result = self.client()?.set(key, value).await;
        self.shared.invalidate(key);
        result
    }

    /// Deletes `key` on the L2, then drops it from the L1; whether it existed on the L2.
    pub async fn del(&self, key: &[u8]) -> Result<bool, RemoteError> {
        let result = self.client()?.del(key).await;
        self.shared.invalidate(key);
        result
    }

    /// The L1 (to inspect it, or to promote values into it: see [`crate::hotkeys`]).
    pub fn l1(&self) -> &Cache<Vec<u8>, Vec<u8>> {
        &self.shared.l1
    }

    /// The current connection, if connected.
    pub fn remote(&self) -> Option<Arc<RemoteClient>> {
        self.client().ok()
    }

    /// Whether a connection with tracking on is up.
    pub fn is_connected(&self) -> bool {
        self.client().is_ok()
    }

    /// The tier's counters.
    pub fn stats(&self) -> TierStats {
        let s = &self.shared;
        TierStats {
            invalidated_keys: s.invalidated_keys.load(Ordering::Relaxed),
            flushes: s.flushes.load(Ordering::Relaxed),
            disconnects: s.disconnects.load(Ordering::Relaxed),
            reconnects: s.reconnects.load(Ordering::Relaxed),
        }
    }
}
