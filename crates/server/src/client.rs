//! Connected clients: the shared handle other connections can see (`CLIENT LIST`, `CLIENT
//! KILL`, pub/sub delivery) and the registry of all of them.
//!
//! A client's outbox carries messages pushed to it by other connections (pub/sub). It is
//! bounded by the pub/sub output-buffer limit: a subscriber whose outbox passes the hard
//! limit, or stays over the soft limit for the configured seconds, is disconnected; the
//! publisher never waits for it.

use parking_lot::Mutex;
use std::collections::{BTreeMap, VecDeque};
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU8, AtomicU64, AtomicUsize, Ordering};
use std::time::Instant;
use tokio::sync::Notify;

/// Messages waiting to be written to one client, with their total size.
#[derive(Debug, Default)]
pub struct Outbox {
    queue: VecDeque<Vec<u8>>,
    bytes: usize,
    over_soft_since: Option<Instant>,
}

/// Output-buffer limits for pushed messages: (hard bytes, soft bytes, soft seconds); 0 is none.
#[derive(Clone, Copy, Debug)]
pub struct OutputLimit {
    /// Disconnect at once above this.
    pub hard: u64,
    /// Disconnect when above this for `soft_seconds`.
    pub soft: u64,
    /// See `soft`.
    pub soft_seconds: u64,
}

/// What other connections can see of, and do to, a client.
#[derive(Debug)]
pub struct ClientHandle {
    /// `CLIENT ID`.
    pub id: u64,
    /// Peer address.
    pub addr: SocketAddr,
    /// Local address.
    pub laddr: SocketAddr,
    /// When it connected.
    pub created: Instant,
    /// `CLIENT SETNAME`.
    pub name: Mutex<Option<Vec<u8>>>,
    /// Selected database.
    pub db: AtomicUsize,
    /// Protocol version (2 or 3).
    pub resp: AtomicU8,
    /// Milliseconds since `created` at the last command.
    pub last_active_ms: AtomicU64,
    /// Name of the last command (for `CLIENT LIST`'s `cmd=`).
    pub last_command: Mutex<&'static str>,
    /// Channel and pattern subscriptions.
    pub subscriptions: AtomicUsize,
    /// Pattern subscriptions.
    pub patterns: AtomicUsize,
    /// `CLIENT NO-EVICT` (recorded; Larder never evicts clients).
    pub no_evict: AtomicBool,
    killed: AtomicBool,
    outbox: Mutex<Outbox>,
    wake: Notify,
}

impl ClientHandle {
    /// A handle for a new connection.
    pub fn new(id: u64, addr: SocketAddr, laddr: SocketAddr) -> ClientHandle {
        ClientHandle {
            id,
            addr,
            laddr,
            created: Instant::now(),
            name: Mutex::new(None),
            db: AtomicUsize::new(0),
            resp: AtomicU8::new(2),
            last_active_ms: AtomicU64::new(0),
            last_command: Mutex::new("NULL"),
            subscriptions: AtomicUsize::new(0),
            patterns: AtomicUsize::new(0),
            no_evict: AtomicBool::new(false),
            killed: AtomicBool::new(false),
            outbox: Mutex::new(Outbox::default()),
            wake: Notify::new(),
        }
    }

    /// Asks the connection to close as soon as it wakes.
    pub fn kill(&self) {
        self.killed.store(true, Ordering::Release);
        self.wake.notify_one();
    }

    /// Whether [`ClientHandle::kill`] was called.
    pub fn is_killed(&self) -> bool {
        self.killed.load(Ordering::Acquire)
    }

    /// Resolves when a message arrives or the client is killed.
    pub async fn woken(&self) {
        self.wake.notified().await;
    }

    /// Queues a pushed message; kills the client instead if that breaks its output limit.
    pub fn deliver(&self, message: Vec<u8>, limit: OutputLimit) {
        let mut outbox = self.outbox.lock();
        outbox.bytes += message.len();
        outbox.queue.push_back(message);
        let bytes = outbox.bytes as u64;
        let over_hard = limit.hard > 0 && bytes > limit.hard;
        let over_soft = limit.soft > 0 && bytes > limit.soft;
        let soft_expired = match (over_soft, outbox.over_soft_since) {
            (true, None) => {
                outbox.over_soft_since = Some(Instant::now());
                limit.soft_seconds == 0
            }
            (true, Some(since)) => since.elapsed().as_secs() >= limit.soft_seconds,
            (false, _) => {
                outbox.over_soft_since = None;
                false
            }
        };
        if over_hard || soft_expired {
            outbox.queue.clear();
            outbox.bytes = 0;
            drop(outbox);
            self.kill();
        } else {
            drop(outbox);
            self.wake.notify_one();
        }
    }

    /// Moves queued messages into `out`.
    pub fn drain_into(&self, out: &mut Vec<u8>) {
        let mut outbox = self.outbox.lock();
        for message in outbox.queue.drain(..) {
            out.extend_from_slice(&message);
        }
        outbox.bytes = 0;
        outbox.over_soft_since = None;
    }

    /// Bytes queued and messages queued (`omem`, `oll`).
    pub fn outbox_size(&self) -> (usize, usize) {
        let outbox = self.outbox.lock();
        (outbox.bytes, outbox.queue.len())
    }
}

/// Every connected client, by id.
#[derive(Debug, Default)]
pub struct Clients {
    by_id: Mutex<BTreeMap<u64, Arc<ClientHandle>>>,
    next_id: AtomicU64,
}

impl Clients {
    /// Registers a new connection; `None` when `maxclients` are already connected.
    pub fn register(
        &self,
        addr: SocketAddr,
        laddr: SocketAddr,
        maxclients: usize,
    ) -> Option<Arc<ClientHandle>> {
        let mut by_id = self.by_id.lock();
        if by_id.len() >= maxclients {
            return None;
        }
        let id = self.next_id.fetch_add(1, Ordering::Relaxed) + 1;
        let handle = Arc::new(ClientHandle::new(id, addr, laddr));
        by_id.insert(id, Arc::clone(&handle));
        Some(handle)
    }

    /// Forgets a closed connection.
    pub fn unregister(&self, id: u64) {
        self.by_id.lock().remove(&id);
    }

    /// Connected clients.
    pub fn len(&self) -> usize {
        self.by_id.lock().len()
    }

    /// Whether none is connected.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// A snapshot of the handles, by id.
    pub fn all(&self) -> Vec<Arc<ClientHandle>> {
        self.by_id.lock().values().cloned().collect()
    }

    /// One client by id.
    pub fn get(&self, id: u64) -> Option<Arc<ClientHandle>> {
        self.by_id.lock().get(&id).cloned()
    }

    /// Kills every client (shutdown).
    pub fn kill_all(&self) {
        for client in self.by_id.lock().values() {
            client.kill();
        }
    }
}
