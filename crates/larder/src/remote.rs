//! An async RESP client (RESP3 or RESP2) over tokio TCP, for the L1/L2 tier ([`crate::tier`]):
//! works with `larder serve` and with redis-server.
//!
//! ## Parts
//!
//! * [`RemoteClient::connect`] opens the connection. With [`Protocol::Resp3`] (the default) it
//!   sends `HELLO 3`; a server that does not speak RESP3 is refused
//!   ([`RemoteError::Resp3Unsupported`]). With [`Protocol::Resp2`] it sends `CLIENT ID` to learn
//!   its connection id (for `CLIENT TRACKING ... REDIRECT id`).
//! * [`RemoteClient::call`] sends any command and waits for its reply; [`get`](RemoteClient::get),
//!   [`set`](RemoteClient::set), [`del`](RemoteClient::del), [`publish`](RemoteClient::publish)
//!   are typed shortcuts. [`RemoteClient::pipeline`] sends several commands back to back with
//!   no other caller's command between them (`CLIENT CACHING yes` + `GET`).
//! * [`RemoteClient::subscribe`] subscribes to one channel and waits for the confirmation.
//!   Messages then reach the [`PushHandler`] as `Frame::Push(["message", channel, payload])`
//!   on both protocols (RESP2 sends them as arrays; they are recognised once the connection
//!   has subscribed). `call` refuses the (un)subscribe commands, whose confirmations are not
//!   one reply per command.
//! * RESP3 push frames (`>`, such as `CLIENT TRACKING`'s `invalidate`) never answer a request:
//!   they are handed to the [`PushHandler`] given at connect time, on the reader task, in the
//!   order they arrive relative to replies.
//! * When the connection ends (EOF, error, a reply too large, a reply that does not come within
//!   [`RemoteConfig::timeout`], or [`RemoteClient::close`]), every waiting request fails with
//!   [`RemoteError::Disconnected`], the [`DisconnectHandler`] runs once, and
//!   [`RemoteClient::closed`] resolves. A late reply would be handed to the wrong request (RESP
//!   answers in order), and a server that stopped answering (or a half-open TCP connection) is
//!   only noticed this way, so a timed-out reply ends the connection. The client does not
//!   reconnect; the tier does.
//!
//! ## Concurrency model
//!
//! Two tasks per connection. The writer task takes encoded requests from a bounded channel,
//! appends the request's reply slot to the pending queue and writes the bytes; the reader task
//! parses frames and hands each reply to the oldest pending slot (RESP answers in order). The
//! pending queue is a `parking_lot` mutex never held across an `.await`. Callers may share one
//! client (`&self` everywhere) and pipeline: many requests can be in flight.
//!
//! ## Bounds
//!
//! * At most [`RemoteConfig::max_in_flight`] requests are queued or waiting for a reply (a
//!   semaphore; a request's permit is held by its reply slot until the reply arrives or the
//!   connection ends, even when its caller has stopped waiting); further callers wait for a
//!   permit.
//! * The read buffer holds at most [`RemoteConfig::max_reply_bytes`] of one unfinished frame;
//!   a longer reply closes the connection ([`RemoteError::ReplyTooLarge`]). A reply that arrives
//!   in many reads is scanned once, resuming where the last read stopped, then built once
//!   ([`larder_protocol::FrameScanner`]): linear in its size.
//! * Connecting and every request are bounded by [`RemoteConfig::timeout`].

use larder_protocol::{Frame, FrameError, FrameScanner, encode_command};
use parking_lot::Mutex;
use std::collections::VecDeque;
use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, mpsc, oneshot, watch};
use tokio::task::JoinHandle;

/// Called on the reader task with each RESP3 push frame; must be quick (it delays replies).
pub type PushHandler = Arc<dyn Fn(&Frame) + Send + Sync>;

/// Called once on the reader task when the connection ends, before waiting requests fail.
pub type DisconnectHandler = Arc<dyn Fn() + Send + Sync>;

/// Why a remote operation failed.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum RemoteError {
    /// Connecting or writing failed.
    #[error("i/o: {0}")]
    Io(String),
    /// The connection is closed (or closed while the request waited).
    #[error("disconnected")]
    Disconnected,
    /// No connection or reply within the timeout.
    #[error("timed out")]
    Timeout,
    /// The server answered with an error.
    #[error("server error: {0}")]
    Server(String),
    /// The server's bytes are not RESP.
    #[error("protocol: {0}")]
    Protocol(#[from] FrameError),
    /// A reply was longer than [`RemoteConfig::max_reply_bytes`].
    #[error("reply longer than {0} bytes")]
    ReplyTooLarge(usize),
    /// `HELLO 3` was refused: the server does not speak RESP3.
    #[error("the server does not speak RESP3: {0}")]
    Resp3Unsupported(String),
    /// A reply of a type the command does not return.
    #[error("unexpected reply {0}")]
    Unexpected(String),
    /// A command this client does not send through [`RemoteClient::call`].
    #[error("unsupported: {0}")]
    Unsupported(&'static str),
}

/// The protocol a [`RemoteClient`] speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Protocol {
    /// RESP3 (`HELLO 3`): pushes (invalidations, pub/sub messages) arrive on any connection.
    #[default]
    Resp3,
    /// RESP2: no pushes; invalidations need a second, subscribed connection.
    Resp2,
}

/// Where and how to connect.
#[derive(Debug, Clone)]
pub struct RemoteConfig {
    /// `host:port`.
    pub addr: String,
    /// RESP3 (default) or RESP2.
    pub protocol: Protocol,
    /// Requests queued or waiting for a reply at most (default 1,024).
    pub max_in_flight: usize,
    /// Bytes of one unfinished reply buffered at most (default 64 MiB).
    pub max_reply_bytes: usize,
    /// Bound on connecting and on each request (default 5 s).
    pub timeout: Duration,
}

impl RemoteConfig {
    /// Defaults for `addr`.
    pub fn new(addr: impl Into<String>) -> Self {
        Self {
            addr: addr.into(),
            protocol: Protocol::Resp3,
            max_in_flight: 1024,
            max_reply_bytes: 64 << 20,
            timeout: Duration::from_secs(5),
        }
    }
}

/// Where one command's reply goes, and (on a request's last command) the request's in-flight
/// permits, released when the slot is answered or dropped.
struct Slot {
    reply: oneshot::Sender<Result<Frame, RemoteError>>,
    _permit: Option<OwnedSemaphorePermit>,
}

impl Slot {
    fn send(self, result: Result<Frame, RemoteError>) {
        let _ = self.reply.send(result);
    }
}

struct Outgoing {
    bytes: Vec<u8>,
    /// One slot per command in `bytes`, in order.
    replies: Vec<Slot>,
}

/// One RESP connection. Dropping it closes the connection.
pub struct RemoteClient {
    requests: mpsc::Sender<Outgoing>,
    permits: Arc<Semaphore>,
    closed: watch::Receiver<bool>,
    timeout: Duration,
    hello: Frame,
    id: Option<i64>,
    protocol: Protocol,
    shared: Arc<Shared>,
    tasks: [JoinHandle<()>; 2],
}

impl fmt::Debug for RemoteClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RemoteClient")
            .field("closed", &self.is_closed())
            .finish_non_exhaustive()
    }
}

impl Drop for RemoteClient {
    fn drop(&mut self) {
        for t in &self.tasks {
            t.abort();
        }
    }
}

/// State shared by the reader and writer tasks.
struct Shared {
    pending: Mutex<VecDeque<Slot>>,
    closed: watch::Sender<bool>,
    on_disconnect: Option<DisconnectHandler>,
    /// Set by the reader when a RESP2 connection's first `SUBSCRIBE` is confirmed: from then on
    /// `message` arrays are pushes (such a connection answers nothing else with an array).
    /// Never set on RESP3, where messages are pushes and an array is a reply.
    subscriber: AtomicBool,
    /// Set when a RESP2 `SUBSCRIBE` is sent: the next subscribe confirmation makes the
    /// connection a subscriber.
    subscribing: AtomicBool,
}

impl Shared {
    /// Marks the connection closed (once) and fails every waiting request with `why`.
    fn close(&self, why: RemoteError) {
        let first = self
            .closed
            .send_if_modified(|c| !std::mem::replace(c, true));
        if first && let Some(h) = &self.on_disconnect {
            h();
        }
        let waiting: Vec<Slot> = self.pending.lock().drain(..).collect();
        for slot in waiting {
            slot.send(Err(why.clone()));
        }
    }
}

impl RemoteClient {
    /// Connects to `config.addr`, starts the reader and writer tasks, and sends `HELLO 3`
    /// (RESP3) or `CLIENT ID` (RESP2). `on_push` receives every push frame (and, once
    /// subscribed, every pub/sub message); `on_disconnect` runs once when the connection ends.
    pub async fn connect(
        config: &RemoteConfig,
        on_push: Option<PushHandler>,
        on_disconnect: Option<DisconnectHandler>,
    ) -> Result<Self, RemoteError> {
        let stream = tokio::time::timeout(config.timeout, TcpStream::connect(&config.addr))
            .await
            .map_err(|_| RemoteError::Timeout)?
            .map_err(|e| RemoteError::Io(e.to_string()))?;
        let _ = stream.set_nodelay(true);
        let (read, write) = stream.into_split();
        let max_in_flight = config.max_in_flight.max(1);
        let (requests, outgoing) = mpsc::channel(max_in_flight);
        let (closed_tx, closed) = watch::channel(false);
        let shared = Arc::new(Shared {
            pending: Mutex::new(VecDeque::new()),
            closed: closed_tx,
            on_disconnect,
            subscriber: AtomicBool::new(false),
            subscribing: AtomicBool::new(false),
        });
        let reader = tokio::spawn(read_loop(
            read,
            Arc::clone(&shared),
            on_push,
            config.max_reply_bytes,
        ));
        let writer = tokio::spawn(write_loop(write, outgoing, Arc::clone(&shared)));
        let mut client = Self {
            requests,
            permits: Arc::new(Semaphore::new(max_in_flight)),
            closed,
            timeout: config.timeout,
            hello: Frame::Null,
            id: None,
            protocol: config.protocol,
            shared,
            tasks: [reader, writer],
        };
        match config.protocol {
            Protocol::Resp3 => {
                client.hello = match client.call(&[b"HELLO", b"3"]).await {
                    Ok(hello @ Frame::Map(_)) => hello,
                    Ok(other) => return Err(RemoteError::Unexpected(format!("{other:?}"))),
                    Err(RemoteError::Server(e)) => return Err(RemoteError::Resp3Unsupported(e)),
                    Err(e) => return Err(e),
                };
                client.id = match &client.hello {
                    Frame::Map(pairs) => pairs.iter().find_map(|(k, v)| match (k, v) {
                        (Frame::Bulk(k) | Frame::Simple(k), Frame::Integer(id)) if k == b"id" => {
                            Some(*id)
                        }
                        _ => None,
                    }),
                    _ => None,
                };
            }
            Protocol::Resp2 => {
                client.id = match client.call(&[b"CLIENT", b"ID"]).await {
                    Ok(Frame::Integer(id)) => Some(id),
                    // A server without `CLIENT ID` still serves requests.
                    Ok(_) | Err(RemoteError::Server(_)) => None,
                    Err(e) => return Err(e),
                };
            }
        }
        Ok(client)
    }

    /// The server's answer to `HELLO 3` (a map: server, version, proto, id, ...);
    /// `Frame::Null` on a RESP2 connection.
    pub fn hello(&self) -> &Frame {
        &self.hello
    }

    /// The connection id the server gave (`id` in the `HELLO` reply, or `CLIENT ID` on RESP2),
    /// if any.
    pub fn id(&self) -> Option<i64> {
        self.id
    }

    /// Sends one command and waits for its reply. An error reply is [`RemoteError::Server`].
    /// Commands that do not answer exactly once are refused ([`RemoteError::Unsupported`]): an
    /// empty one, (un)subscribe (use [`subscribe`](RemoteClient::subscribe)), `MONITOR` and
    /// `CLIENT REPLY`.
    pub async fn call(&self, args: &[&[u8]]) -> Result<Frame, RemoteError> {
        let mut replies = self.pipeline(&[args]).await?;
        replies.pop().ok_or(RemoteError::Disconnected)
    }

    /// Sends `commands` back to back (no other caller's command between them) and waits for
    /// every reply, in order. The first error reply fails the whole call
    /// ([`RemoteError::Server`]); the commands after it were still executed. A pipeline takes
    /// one in-flight permit per command: one longer than [`RemoteConfig::max_in_flight`]
    /// times out.
    pub async fn pipeline(&self, commands: &[&[&[u8]]]) -> Result<Vec<Frame>, RemoteError> {
        for command in commands {
            if let Some(why) = not_answered_once(command) {
                return Err(RemoteError::Unsupported(why));
            }
        }
        self.send(commands).await
    }

    async fn send(&self, commands: &[&[&[u8]]]) -> Result<Vec<Frame>, RemoteError> {
        let n = u32::try_from(commands.len()).map_err(|_| RemoteError::Unsupported("pipeline"))?;
        let permit = tokio::time::timeout(
            self.timeout,
            Arc::clone(&self.permits).acquire_many_owned(n),
        )
        .await
        .map_err(|_| RemoteError::Timeout)?
        .map_err(|_| RemoteError::Disconnected)?;
        if self.is_closed() {
            return Err(RemoteError::Disconnected);
        }
        let mut bytes = Vec::new();
        let (mut replies, mut answers) = (Vec::new(), Vec::new());
        for args in commands {
            encode_command(&mut bytes, args);
            let (reply, answer) = oneshot::channel();
            replies.push(Slot {
                reply,
                _permit: None,
            });
            answers.push(answer);
        }
        // The request's permits go with its last reply: released when that one is answered.
        if let Some(last) = replies.last_mut() {
            last._permit = Some(permit);
        }
        let send = self.requests.send(Outgoing { bytes, replies });
        let wait = async {
            send.await.map_err(|_| RemoteError::Disconnected)?;
            let mut frames = Vec::with_capacity(answers.len());
            for answer in answers {
                frames.push(answer.await.map_err(|_| RemoteError::Disconnected)??);
            }
            Ok::<_, RemoteError>(frames)
        };
        let Ok(frames) = tokio::time::timeout(self.timeout, wait).await else {
            // No reply in time: the server stopped answering or the connection is half-open,
            // and a late reply would reach the wrong request. End the connection.
            self.shared.close(RemoteError::Timeout);
            return Err(RemoteError::Timeout);
        };
        let frames = frames?;
        for f in &frames {
            if let Frame::Error(e) | Frame::BulkError(e) = f {
                return Err(RemoteError::Server(String::from_utf8_lossy(e).into_owned()));
            }
        }
        Ok(frames)
    }

    /// `SUBSCRIBE channel`, waiting for the server's confirmation. Messages on `channel` then
    /// reach the push handler as `Push(["message", channel, payload])`. On RESP2 the connection
    /// accepts only pub/sub commands from then on (the server's rule).
    pub async fn subscribe(&self, channel: &[u8]) -> Result<(), RemoteError> {
        if self.protocol == Protocol::Resp2 {
            // The reader turns the connection into a subscriber when the confirmation arrives
            // (no message can come before it), not now: replies to requests already in flight
            // are still replies.
            self.shared.subscribing.store(true, Ordering::SeqCst);
        }
        let mut replies = self.send(&[&[b"SUBSCRIBE", channel]]).await?;
        match replies.pop() {
            Some(Frame::Array(parts) | Frame::Push(parts)) if kind_is(&parts, b"subscribe") => {
                Ok(())
            }
            other => Err(RemoteError::Unexpected(format!("{other:?}"))),
        }
    }

    /// `PUBLISH channel message`: how many subscribers received it.
    pub async fn publish(&self, channel: &[u8], message: &[u8]) -> Result<i64, RemoteError> {
        match self.call(&[b"PUBLISH", channel, message]).await? {
            Frame::Integer(n) => Ok(n),
            other => Err(RemoteError::Unexpected(format!("{other:?}"))),
        }
    }

    /// `GET key`.
    pub async fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, RemoteError> {
        match self.call(&[b"GET", key]).await? {
            Frame::Bulk(v) => Ok(Some(v)),
            Frame::Null => Ok(None),
            other => Err(RemoteError::Unexpected(format!("{other:?}"))),
        }
    }

    /// `SET key value`.
    pub async fn set(&self, key: &[u8], value: &[u8]) -> Result<(), RemoteError> {
        match self.call(&[b"SET", key, value]).await? {
            Frame::Simple(_) => Ok(()),
            other => Err(RemoteError::Unexpected(format!("{other:?}"))),
        }
    }

    /// `DEL key`: whether the key existed.
    pub async fn del(&self, key: &[u8]) -> Result<bool, RemoteError> {
        match self.call(&[b"DEL", key]).await? {
            Frame::Integer(n) => Ok(n > 0),
            other => Err(RemoteError::Unexpected(format!("{other:?}"))),
        }
    }

    /// Whether the connection has ended.
    pub fn is_closed(&self) -> bool {
        *self.closed.borrow()
    }

    /// Resolves when the connection has ended.
    pub async fn closed(&self) {
        let mut rx = self.closed.clone();
        let _ = rx.wait_for(|c| *c).await;
    }

    /// Closes the connection: waiting requests fail, the disconnect handler runs.
    pub fn close(&self) {
        for t in &self.tasks {
            t.abort();
        }
    }
}

async fn write_loop(
    mut write: OwnedWriteHalf,
    mut outgoing: mpsc::Receiver<Outgoing>,
    shared: Arc<Shared>,
) {
    let _guard = CloseOnDrop(Arc::clone(&shared));
    while let Some(Outgoing { bytes, replies }) = outgoing.recv().await {
        if *shared.closed.borrow() {
            for reply in replies {
                reply.send(Err(RemoteError::Disconnected));
            }
            continue;
        }
        shared.pending.lock().extend(replies);
        if *shared.closed.borrow() {
            // The reader closed after the check above: fail the slot just queued too.
            shared.close(RemoteError::Disconnected);
            continue;
        }
        if write.write_all(&bytes).await.is_err() {
            break;
        }
    }
}

/// Closes the connection's shared state when a task ends in any way (return, abort, panic).
struct CloseOnDrop(Arc<Shared>);

impl Drop for CloseOnDrop {
    fn drop(&mut self) {
        self.0.close(RemoteError::Disconnected);
    }
}

async fn read_loop(
    mut read: OwnedReadHalf,
    shared: Arc<Shared>,
    on_push: Option<PushHandler>,
    max_reply_bytes: usize,
) {
    let _guard = CloseOnDrop(Arc::clone(&shared));
    let mut buf: Vec<u8> = Vec::with_capacity(16 * 1024);
    let mut chunk = vec![0u8; 16 * 1024];
    // Where the frame at the start of `buf` ends, found read by read: a large reply is walked
    // once, not once per read.
    let mut scanner = FrameScanner::new();
    loop {
        // Hand out every complete frame in the buffer.
        let mut start = 0;
        loop {
            match scanner.next_frame(&buf[start..]) {
                Ok(Some((frame, used))) => {
                    start += used;
                    deliver(frame, &shared, on_push.as_ref());
                }
                Ok(None) => break,
                Err(e) => return shared.close(RemoteError::Protocol(e)),
            }
        }
        buf.drain(..start);
        if buf.len() > max_reply_bytes {
            return shared.close(RemoteError::ReplyTooLarge(max_reply_bytes));
        }
        match read.read(&mut chunk).await {
            Ok(0) | Err(_) => return,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    }
}

/// Whether `parts` (a push or an array) starts with the bulk or simple string `kind`,
/// compared ignoring ASCII case.
pub fn kind_is(parts: &[Frame], kind: &[u8]) -> bool {
    matches!(parts.first(), Some(Frame::Bulk(k) | Frame::Simple(k)) if k.eq_ignore_ascii_case(kind))
}

/// The confirmations of these commands are pushes (RESP3), one per channel: they answer the
/// command rather than going to the push handler.
const SUBSCRIPTION: [&[u8]; 6] = [
    b"subscribe",
    b"psubscribe",
    b"ssubscribe",
    b"unsubscribe",
    b"punsubscribe",
    b"sunsubscribe",
];

/// The kinds of pub/sub messages.
const MESSAGES: [&[u8]; 3] = [b"message", b"pmessage", b"smessage"];

/// Why `args` would not get exactly one reply, if so: a pipelined client could then hand every
/// later reply to the request before it.
fn not_answered_once(args: &[&[u8]]) -> Option<&'static str> {
    let Some(name) = args.first() else {
        return Some("an empty command (the server does not answer it)");
    };
    let is = |n: &[u8]| name.eq_ignore_ascii_case(n);
    if SUBSCRIPTION.iter().any(|s| is(s)) {
        Some("(un)subscribe through call; use RemoteClient::subscribe")
    } else if is(b"MONITOR") {
        Some("MONITOR (answers every command of the server)")
    } else if is(b"CLIENT")
        && args
            .get(1)
            .is_some_and(|a| a.eq_ignore_ascii_case(b"REPLY"))
    {
        Some("CLIENT REPLY (turns replies off)")
    } else {
        None
    }
}

fn deliver(frame: Frame, shared: &Shared, on_push: Option<&PushHandler>) {
    let is_push = match &frame {
        Frame::Push(parts) => !SUBSCRIPTION.iter().any(|k| kind_is(parts, k)),
        Frame::Array(parts) => {
            if shared.subscribing.load(Ordering::Relaxed) && kind_is(parts, b"subscribe") {
                shared.subscriber.store(true, Ordering::Relaxed);
            }
            shared.subscriber.load(Ordering::Relaxed) && MESSAGES.iter().any(|k| kind_is(parts, k))
        }
        _ => false,
    };
    if is_push {
        if let Some(h) = on_push {
            // A subscribed RESP2 connection's messages are arrays: hand them over as pushes.
            let push = match frame {
                Frame::Array(parts) => Frame::Push(parts),
                other => other,
            };
            h(&push);
        }
        return;
    }
    let slot = shared.pending.lock().pop_front();
    if let Some(slot) = slot {
        slot.send(Ok(frame));
    }
}
