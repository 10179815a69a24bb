//! Connected clients: the shared handle other connections can see (`CLIENT LIST`, `CLIENT
//! KILL`, pub/sub delivery) and the registry of all of them.
//!
//! A client's outbox carries messages pushed to it by other connections (pub/sub). It is
//! bounded by the pub/sub output-buffer limit, counted as Redis counts a client's output
//! buffer: what is queued plus what its connection is still trying to write. A subscriber
//! over the hard limit, or over the soft limit for longer than the configured seconds, is
//! disconnected; the publisher never waits for it.

use parking_lot::Mutex;
use std::collections::{BTreeMap, VecDeque};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU8, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock, Weak};
use std::time::Instant;
use tokio::io::Interest;
use tokio::net::TcpStream;
use tokio::sync::Notify;

/// Messages waiting to be written to one client, with their total size.
#[derive(Debug, Default)]
pub struct Outbox {
    /// Encoded messages; one encoding is shared by every receiver with the same protocol.
    queue: VecDeque<Arc<[u8]>>,
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
    /// Messages in `outbox` (a hint read without the lock).
    queued: AtomicUsize,
    /// Bytes the connection has taken out of the outbox (or produced as replies) and cannot
    /// write yet because the peer is not reading: they count towards the output limit too.
    writing: AtomicUsize,
    wake: Notify,
    /// The connection's socket, to see whether input is waiting for it (the connection task
    /// owns the socket; this does not keep it open).
    socket: OnceLock<Weak<TcpStream>>,
    /// Between a read and the end of executing what it brought.
    busy: AtomicBool,
    /// Reads processed (see [`ClientHandle::settled`]).
    rounds: AtomicU64,
    /// Waiting in [`ClientHandle::settled`] for other clients (who then do not wait for it).
    fencing: AtomicBool,
    /// Signalled at the end of each round while someone waits for it (`watchers`).
    progress: Notify,
    /// Clients in [`ClientHandle::settled`] waiting for this one.
    watchers: AtomicUsize,
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
            queued: AtomicUsize::new(0),
            writing: AtomicUsize::new(0),
            wake: Notify::new(),
            socket: OnceLock::new(),
            busy: AtomicBool::new(false),
            rounds: AtomicU64::new(0),
            fencing: AtomicBool::new(false),
            progress: Notify::new(),
            watchers: AtomicUsize::new(0),
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

    /// Wakes the connection (a blocked client's wait ended).
    pub fn wake(&self) {
        self.wake.notify_one();
    }

    /// Resolves when a message arrives, the client is killed or woken.
    pub async fn woken(&self) {
        self.wake.notified().await;
    }

    /// Queues a pushed message; kills the client instead if that breaks its output limit.
    /// Returns `false` if the client was already killed (the message is dropped).
    ///
    /// The limit is Redis's `client-output-buffer-limit pubsub` check: the hard limit closes
    /// the client at once, the soft one once the client has stayed over it for more than
    /// `soft_seconds` (measured from the first message that found it over).
    pub fn deliver(&self, message: &Arc<[u8]>, limit: OutputLimit) -> bool {
        if self.is_killed() {
            return false;
        }
        let mut outbox = self.outbox.lock();
        outbox.bytes += message.len();
        outbox.queue.push_back(Arc::clone(message));
        self.queued.store(outbox.queue.len(), Ordering::Relaxed);
        let bytes = (outbox.bytes + self.writing.load(Ordering::Relaxed)) as u64;
        let over_hard = limit.hard > 0 && bytes > limit.hard;
        let over_soft = limit.soft > 0 && bytes > limit.soft;
        let soft_expired = match (over_soft, outbox.over_soft_since) {
            (true, None) => {
                outbox.over_soft_since = Some(Instant::now());
                false
            }
            (true, Some(since)) => since.elapsed().as_secs() > limit.soft_seconds,
            (false, _) => {
                outbox.over_soft_since = None;
                false
            }
        };
        if over_hard || soft_expired {
            outbox.queue.clear();
            outbox.bytes = 0;
            self.queued.store(0, Ordering::Relaxed);
            drop(outbox);
            self.kill();
        } else {
            drop(outbox);
            self.wake.notify_one();
        }
        true
    }

    /// Whether pushed messages are waiting (a hint: a message may arrive just after).
    pub fn has_pushes(&self) -> bool {
        self.queued.load(Ordering::Relaxed) > 0
    }

    /// Moves queued messages into `out`.
    pub fn drain_into(&self, out: &mut Vec<u8>) {
        let mut outbox = self.outbox.lock();
        out.reserve(outbox.bytes);
        for message in outbox.queue.drain(..) {
            out.extend_from_slice(&message);
        }
        outbox.bytes = 0;
        self.queued.store(0, Ordering::Relaxed);
    }

    /// Records how many bytes the connection is stuck writing (0 once written, or when the
    /// write went straight out), so that the output limit sees them.
    pub fn set_writing(&self, bytes: usize) {
        self.writing.store(bytes, Ordering::Relaxed);
    }

    /// Lets [`ClientHandle::input_pending`] look at the connection's socket.
    pub fn attach(&self, socket: Weak<TcpStream>) {
        let _ = self.socket.set(socket);
    }

    /// The connection got input and is executing it.
    pub fn begin_round(&self) {
        self.busy.store(true, Ordering::SeqCst);
    }

    /// The connection executed everything it had read (a no-op when it had read nothing).
    pub fn end_round(&self) {
        if !self.busy.swap(false, Ordering::SeqCst) {
            return;
        }
        self.rounds.fetch_add(1, Ordering::SeqCst);
        // Sequentially consistent with `settled`: either it sees this round's end, or this
        // sees it watching.
        if self.watchers.load(Ordering::SeqCst) > 0 {
            self.progress.notify_waiters();
        }
    }

    /// Whether input has reached this client's connection that it has not executed yet:
    /// the socket is readable (the runtime saw input or the peer closing) or a read is being
    /// executed. `false` for a connection stuck writing (it reads nothing until the write
    /// ends) and for one waiting in [`ClientHandle::settled`] itself.
    pub fn input_pending(&self) -> bool {
        if self.fencing.load(Ordering::SeqCst) || self.writing.load(Ordering::Relaxed) > 0 {
            return false;
        }
        if self.busy.load(Ordering::SeqCst) {
            return true;
        }
        self.socket
            .get()
            .and_then(Weak::upgrade)
            .is_some_and(|socket| socket.try_io(Interest::READABLE, || Ok(())).is_ok())
    }

    /// Waits, until `deadline` at the latest, for `other` to execute the input waiting for it
    /// (see [`crate::pubsub`]'s arrival-order fence): until it has nothing pending or has
    /// finished two more rounds, so that a client that never stops sending cannot hold the
    /// waiter for long.
    pub async fn settled(&self, other: &ClientHandle, deadline: tokio::time::Instant) {
        self.fencing.store(true, Ordering::SeqCst);
        other.watchers.fetch_add(1, Ordering::SeqCst);
        let start = other.rounds.load(Ordering::SeqCst);
        loop {
            let progressed = other.progress.notified();
            tokio::pin!(progressed);
            progressed.as_mut().enable();
            if !other.input_pending()
                || other.rounds.load(Ordering::SeqCst) >= start + 2
                || other.is_killed()
            {
                break;
            }
            if tokio::time::timeout_at(deadline, progressed).await.is_err() {
                break;
            }
        }
        other.watchers.fetch_sub(1, Ordering::SeqCst);
        self.fencing.store(false, Ordering::SeqCst);
    }

    /// Output bytes pending (queued plus being written) and messages queued (`omem`, `oll`).
    pub fn outbox_size(&self) -> (usize, usize) {
        let outbox = self.outbox.lock();
        (
            outbox.bytes + self.writing.load(Ordering::Relaxed),
            outbox.queue.len(),
        )
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
