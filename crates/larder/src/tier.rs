//! L1/L2 tiering: an in-process L1 ([`Cache`]) in front of a remote L2 (`larder serve` or
//! redis-server, over RESP3 or RESP2), the L1 kept coherent by the server.
//!
//! ## Invalidation modes ([`Invalidation`])
//!
//! * [`Invalidation::Tracking`] — `CLIENT TRACKING on` (default mode): the server remembers the
//!   keys this client read and tells it when any client changes one.
//! * [`Invalidation::Broadcast`] — `CLIENT TRACKING on BCAST PREFIX p ...`: the server tells
//!   about every change of a key under the prefixes, read or not, and remembers nothing per
//!   key. Only keys under the prefixes enter the L1 (others would never be invalidated).
//! * [`Invalidation::OptIn`] — `CLIENT TRACKING on OPTIN`: the server remembers only reads
//!   preceded by `CLIENT CACHING yes`, sent in the same pipeline as the `GET` of a read that
//!   fills the L1; reads that do not fill ([`Tier::get_with`] with `fill = false`, the cold
//!   keys of [`crate::hotkeys::HotTier`]) cost the server no tracking memory.
//! * [`Invalidation::Channel`] — an application pub/sub channel, for any server (no tracking
//!   needed): [`Tier::set`] and [`Tier::del`] publish the key on the channel after the write,
//!   and every tier subscribed to it drops the key. Whatever is not published leaves other
//!   L1s stale until the L1 TTL: writers that do not publish, and the server's own changes
//!   (expiry, eviction, `FLUSHALL`/`FLUSHDB`), which no channel announces.
//!
//! ## Connections ([`Protocol`])
//!
//! * RESP3 (default): one connection. Tracking invalidations arrive as `>invalidate [keys]`
//!   pushes, channel messages as `>message` pushes (the connection subscribes and still serves
//!   requests).
//! * RESP2: two connections. The second one subscribes (to `__redis__:invalidate` for the
//!   tracking modes, to the channel for [`Invalidation::Channel`]); the data connection turns
//!   tracking on with `REDIRECT <id of the second>`, so the server sends the invalidations
//!   to it as `message __redis__:invalidate [keys]`.
//!
//! In the tracking modes a null key list (the server flushed its data) drops the whole L1.
//!
//! ## How it stays coherent
//!
//! * A fill cannot resurrect a stale value, whichever connection the invalidation comes on:
//!   before `GET`, the reader notes the key's stripe counter (256 stripes, bumped by every
//!   invalidation of a key in the stripe) and the flush epoch, then checks that the session's
//!   connections are up; after inserting the reply into the L1 it checks the counter and epoch
//!   again and drops the entry if either moved. An invalidation caused by a write after the
//!   `GET` was served arrives after the first look, so it either bumped before the second (the
//!   reader drops its fill) or removes the entry after it.
//! * The L1 TTL ([`TierConfig::l1_ttl`]) bounds staleness when an invalidation is lost.
//! * When either connection drops, the L1 is flushed at once (on that connection's reader task,
//!   before its waiting requests fail): without it invalidations may be lost. A supervisor
//!   closes the other connection and reconnects both with exponential backoff (10 ms doubling
//!   to 1 s), subscribing and re-enabling tracking before the session is used; until then
//!   [`Tier::get`] answers [`RemoteError::Disconnected`] and no fill happens.
//! * Writes ([`Tier::set`], [`Tier::del`]) go to the server, then drop the key from the L1
//!   (and publish it, in channel mode); the next read fetches the new value.
//!
//! Misses on the server (`GET` → nil) are not cached in the L1.
//!
//! ## Bounds
//!
//! The L1 holds at most [`TierConfig::l1_capacity`] entries; each connection's bounds are
//! [`RemoteConfig`]'s. The stripe counters are a fixed 256 atomics.

use crate::cache::Cache;
use crate::remote::{
    DisconnectHandler, Protocol, PushHandler, RemoteClient, RemoteConfig, RemoteError, kind_is,
};
use larder_engine::Clock;
use larder_protocol::Frame;
use parking_lot::RwLock;
use std::fmt;
use std::hash::{BuildHasher, BuildHasherDefault, DefaultHasher};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Weak};
use std::time::Duration;
use tokio::task::JoinHandle;

const STRIPES: usize = 256;

/// The channel on which a RESP2 server sends the invalidations of a `REDIRECT`ed tracking
/// client.
pub const TRACKING_CHANNEL: &[u8] = b"__redis__:invalidate";

/// Observes invalidations after they reached the L1: `Some(key)` for one key, `None` for a
/// flush (a null key list or a dropped connection). Runs on a connection's reader task.
pub type InvalidationObserver = Arc<dyn Fn(Option<&[u8]>) + Send + Sync>;

/// How the L1 learns that another client changed a key.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Invalidation {
    /// `CLIENT TRACKING on`: the server remembers the keys this client read.
    #[default]
    Tracking,
    /// `CLIENT TRACKING on BCAST PREFIX p ...`: every change of a key under the prefixes (an
    /// empty list: every key). Only keys under the prefixes are cached.
    Broadcast(Vec<Vec<u8>>),
    /// `CLIENT TRACKING on OPTIN`: only the reads that fill the L1 are remembered.
    OptIn,
    /// Keys published on this pub/sub channel; [`Tier::set`] and [`Tier::del`] publish.
    Channel(Vec<u8>),
}

impl Invalidation {
    /// The `CLIENT TRACKING` command of a tracking mode (`redirect`: the RESP2 subscriber's id).
    fn tracking_command(&self, redirect: Option<i64>) -> Option<Vec<Vec<u8>>> {
        let mut c: Vec<Vec<u8>> = vec![b"CLIENT".into(), b"TRACKING".into(), b"on".into()];
        if let Some(id) = redirect {
            c.push(b"REDIRECT".into());
            c.push(id.to_string().into_bytes());
        }
        match self {
            Invalidation::Tracking => {}
            Invalidation::Broadcast(prefixes) => {
                c.push(b"BCAST".into());
                for p in prefixes {
                    c.push(b"PREFIX".into());
                    c.push(p.clone());
                }
            }
            Invalidation::OptIn => c.push(b"OPTIN".into()),
            Invalidation::Channel(_) => return None,
        }
        Some(c)
    }

    /// The channel a subscriber connection listens to.
    fn channel(&self) -> &[u8] {
        match self {
            Invalidation::Channel(c) => c,
            _ => TRACKING_CHANNEL,
        }
    }

    /// Whether a value of `key` may enter the L1 (some invalidation would reach it).
    fn covers(&self, key: &[u8]) -> bool {
        match self {
            Invalidation::Broadcast(prefixes) => {
                prefixes.is_empty() || prefixes.iter().any(|p| key.starts_with(p))
            }
            _ => true,
        }
    }
}

/// How to build a [`Tier`].
#[derive(Clone)]
pub struct TierConfig {
    /// The L2 server (and the protocol: RESP3 by default, RESP2 uses a second connection).
    pub remote: RemoteConfig,
    /// How the L1 is invalidated (default: tracking).
    pub invalidation: Invalidation,
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
            .field("invalidation", &self.invalidation)
            .field("l1_capacity", &self.l1_capacity)
            .field("l1_ttl", &self.l1_ttl)
            .finish_non_exhaustive()
    }
}

impl TierConfig {
    /// Defaults for the server at `addr`: RESP3, tracking.
    pub fn new(addr: impl Into<String>) -> Self {
        Self {
            remote: RemoteConfig::new(addr),
            invalidation: Invalidation::Tracking,
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
    /// Keys invalidated by the server's tracking or by channel messages.
    pub invalidated_keys: u64,
    /// Whole-L1 flushes (null key lists and dropped connections).
    pub flushes: u64,
    /// Sessions lost (a connection of the session dropped).
    pub disconnects: u64,
    /// Sessions re-established.
    pub reconnects: u64,
    /// Fills dropped because an invalidation or a flush overtook the `GET`.
    pub fills_dropped: u64,
}

/// The connections of one session: the data connection and, on RESP2, the subscriber.
struct Session {
    data: Arc<RemoteClient>,
    events: Option<Arc<RemoteClient>>,
    /// Set once the session is installed, cleared by the first drop of either connection (which
    /// flushes the L1): drops before it is installed need no flush, nothing was filled.
    live: Arc<AtomicBool>,
}

impl Session {
    fn is_up(&self) -> bool {
        !self.data.is_closed() && self.events.as_ref().is_none_or(|e| !e.is_closed())
    }

    async fn closed(&self) {
        match &self.events {
            Some(e) => tokio::select! {
                () = self.data.closed() => {}
                () = e.closed() => {}
            },
            None => self.data.closed().await,
        }
    }

    fn close(&self) {
        self.data.close();
        if let Some(e) = &self.events {
            e.close();
        }
    }
}

struct Shared {
    l1: Cache<Vec<u8>, Vec<u8>>,
    stripes: Box<[AtomicU64]>,
    epoch: AtomicU64,
    current: RwLock<Option<Arc<Session>>>,
    config: TierConfig,
    invalidated_keys: AtomicU64,
    flushes: AtomicU64,
    disconnects: AtomicU64,
    reconnects: AtomicU64,
    fills_dropped: AtomicU64,
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

    /// Tracking pushes (RESP3), redirected tracking messages (RESP2) and channel messages.
    fn on_push(&self, frame: &Frame) {
        let Frame::Push(parts) = frame else { return };
        if kind_is(parts, b"invalidate") {
            return self.on_keys(parts.get(1));
        }
        if !kind_is(parts, b"message") {
            return;
        }
        let Some(Frame::Bulk(channel)) = parts.get(1) else {
            return;
        };
        match &self.config.invalidation {
            Invalidation::Channel(ours) if channel == ours => {
                if let Some(Frame::Bulk(key)) = parts.get(2) {
                    self.on_key(key);
                }
            }
            Invalidation::Channel(_) => {}
            _ if channel.as_slice() == TRACKING_CHANNEL => self.on_keys(parts.get(2)),
            _ => {}
        }
    }

    /// A tracking key list: each key, or a flush for a null list.
    fn on_keys(&self, keys: Option<&Frame>) {
        match keys {
            Some(Frame::Array(keys) | Frame::Set(keys)) => {
                for k in keys {
                    if let Frame::Bulk(k) | Frame::Simple(k) = k {
                        self.on_key(k);
                    }
                }
            }
            _ => self.flush(),
        }
    }

    fn on_key(&self, key: &[u8]) {
        self.invalidate(key);
        self.invalidated_keys.fetch_add(1, Ordering::Relaxed);
        if let Some(o) = &self.config.on_invalidate {
            o(Some(key));
        }
    }
}

/// An L1 cache in front of a remote L2, invalidated by the server's tracking or by a channel.
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
        if let Some(s) = self.shared.current.write().take() {
            s.close();
        }
    }
}

/// Opens one connection whose pushes and end are wired to `shared`; its drop ends the session
/// `live`.
async fn connect_one(
    shared: &Arc<Shared>,
    live: &Arc<AtomicBool>,
) -> Result<Arc<RemoteClient>, RemoteError> {
    let weak: Weak<Shared> = Arc::downgrade(shared);
    let on_push: PushHandler = Arc::new(move |f: &Frame| {
        if let Some(s) = weak.upgrade() {
            s.on_push(f);
        }
    });
    let weak: Weak<Shared> = Arc::downgrade(shared);
    let live = Arc::clone(live);
    let on_disconnect: DisconnectHandler = Arc::new(move || {
        if let Some(s) = weak.upgrade()
            && live.swap(false, Ordering::SeqCst)
        {
            s.disconnects.fetch_add(1, Ordering::Relaxed);
            s.flush();
        }
    });
    let client =
        RemoteClient::connect(&shared.config.remote, Some(on_push), Some(on_disconnect)).await?;
    Ok(Arc::new(client))
}

/// Opens a session (subscribing and turning tracking on as the mode asks) and installs it.
async fn open(shared: &Arc<Shared>) -> Result<Arc<Session>, RemoteError> {
    let live = Arc::new(AtomicBool::new(false));
    let mode = &shared.config.invalidation;
    let events = match shared.config.remote.protocol {
        Protocol::Resp3 => None,
        Protocol::Resp2 => {
            let e = connect_one(shared, &live).await?;
            e.subscribe(mode.channel()).await?;
            Some(e)
        }
    };
    let data = connect_one(shared, &live).await?;
    // Tracking over RESP2 redirects the data connection's invalidations to the subscriber,
    // which needs its id; an application channel needs no tracking and no id.
    let redirect = match &events {
        Some(e) if !matches!(mode, Invalidation::Channel(_)) => Some(e.id().ok_or(
            RemoteError::Unsupported("REDIRECT needs the subscriber's CLIENT ID"),
        )?),
        _ => None,
    };
    match mode.tracking_command(redirect) {
        Some(command) => {
            let args: Vec<&[u8]> = command.iter().map(Vec::as_slice).collect();
            data.call(&args).await?;
        }
        None if events.is_none() => data.subscribe(mode.channel()).await?,
        None => {}
    }
    let session = Arc::new(Session { data, events, live });
    // Installed only after `live` is set: a drop from now on flushes the L1.
    session.live.store(true, Ordering::SeqCst);
    *shared.current.write() = Some(Arc::clone(&session));
    Ok(session)
}

async fn supervise(shared: Weak<Shared>, mut session: Arc<Session>) {
    loop {
        session.closed().await;
        session.close();
        drop(session);
        let mut backoff = Duration::from_millis(10);
        session = loop {
            let Some(s) = shared.upgrade() else { return };
            *s.current.write() = None;
            match open(&s).await {
                Ok(c) => {
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
    /// Connects to the L2 (subscribing and turning tracking on as
    /// [`TierConfig::invalidation`] asks) and starts the reconnecting supervisor. Fails if the
    /// first session fails.
    pub async fn connect(mut config: TierConfig) -> Result<Tier, RemoteError> {
        if config.invalidation == Invalidation::OptIn {
            // An opted-in read pipelines `CLIENT CACHING yes` and `GET`: two permits at once.
            config.remote.max_in_flight = config.remote.max_in_flight.max(2);
        }
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
            fills_dropped: AtomicU64::new(0),
        });
        let session = open(&shared).await?;
        let supervisor = tokio::spawn(supervise(Arc::downgrade(&shared), session));
        Ok(Tier { shared, supervisor })
    }

    fn session(&self) -> Result<Arc<Session>, RemoteError> {
        self.shared
            .current
            .read()
            .as_ref()
            .filter(|s| s.is_up())
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
        let mode = &s.config.invalidation;
        let fill = fill && mode.covers(key);
        let stripe = s.stripe(key);
        let (before, epoch) = (
            stripe.load(Ordering::SeqCst),
            s.epoch.load(Ordering::SeqCst),
        );
        // Checked after the first look: a drop after this check moves the epoch.
        let session = self.session()?;
        let reply = if fill && *mode == Invalidation::OptIn {
            let mut r = session
                .data
                .pipeline(&[&[b"CLIENT", b"CACHING", b"yes"], &[b"GET", key]])
                .await?;
            r.pop().unwrap_or(Frame::Null)
        } else {
            session.data.call(&[b"GET", key]).await?
        };
        let value = match reply {
            Frame::Bulk(v) => Some(v),
            Frame::Null => None,
            other => return Err(RemoteError::Unexpected(format!("{other:?}"))),
        };
        if let Some(v) = value.as_ref().filter(|_| fill) {
            s.l1.insert(key.to_vec(), v.clone());
            if stripe.load(Ordering::SeqCst) != before || s.epoch.load(Ordering::SeqCst) != epoch {
                s.l1.invalidate(key);
                s.fills_dropped.fetch_add(1, Ordering::Relaxed);
            }
        }
        Ok(value)
    }

    /// Writes `key` on the L2, then drops it from the L1 (and publishes it, in channel mode).
    /// The write's error comes first; a failed publish after a successful write is returned
    /// too: the write happened, but other tiers keep the old value until their L1 TTL.
    pub async fn set(&self, key: &[u8], value: &[u8]) -> Result<(), RemoteError> {
        let session = self.session()?;
        let result = session.data.set(key, value).await;
        let published = self.after_write(&session, key).await;
        result.and(published)
    }

    /// Deletes `key` on the L2, then drops it from the L1 (and publishes it, in channel mode);
    /// whether it existed on the L2.
    pub async fn del(&self, key: &[u8]) -> Result<bool, RemoteError> {
        let session = self.session()?;
        let result = session.data.del(key).await;
        let published = self.after_write(&session, key).await;
        result.and_then(|existed| published.map(|()| existed))
    }

    async fn after_write(&self, session: &Session, key: &[u8]) -> Result<(), RemoteError> {
        self.shared.invalidate(key);
        if let Invalidation::Channel(channel) = &self.shared.config.invalidation {
            session.data.publish(channel, key).await?;
        }
        Ok(())
    }

    /// The L1, to inspect it. Values put into it directly bypass the fill guard and, under
    /// [`Invalidation::OptIn`] or outside the [`Invalidation::Broadcast`] prefixes, are never
    /// invalidated: promote through [`Tier::get_with`] with `fill = true`, as
    /// [`crate::hotkeys`] does.
    pub fn l1(&self) -> &Cache<Vec<u8>, Vec<u8>> {
        &self.shared.l1
    }

    /// The current data connection, if connected.
    pub fn remote(&self) -> Option<Arc<RemoteClient>> {
        self.session().ok().map(|s| Arc::clone(&s.data))
    }

    /// The current subscriber connection (RESP2 sessions only), if connected.
    pub fn subscriber(&self) -> Option<Arc<RemoteClient>> {
        self.session().ok().and_then(|s| s.events.clone())
    }

    /// Whether a session (with its subscription and tracking) is up.
    pub fn is_connected(&self) -> bool {
        self.session().is_ok()
    }

    /// The tier's counters.
    pub fn stats(&self) -> TierStats {
        let s = &self.shared;
        TierStats {
            invalidated_keys: s.invalidated_keys.load(Ordering::Relaxed),
            flushes: s.flushes.load(Ordering::Relaxed),
            disconnects: s.disconnects.load(Ordering::Relaxed),
            reconnects: s.reconnects.load(Ordering::Relaxed),
            fills_dropped: s.fills_dropped.load(Ordering::Relaxed),
        }
    }
}
