//! One client connection: read, parse every complete request in the buffer, execute, write
//! the replies in one batch (pipelining), and wait for more input, a pushed message, a kill or
//! the idle timeout.
//!
//! The socket is shared (not split) so that publishers can see whether input is waiting for
//! this client ([`ClientHandle::input_pending`], the pub/sub arrival-order fence); reads and
//! writes go through the socket's readiness (`readable`/`try_read_buf`, `writable`/`try_write`).

use crate::blocking::{BlockRequest, Waiter};
use crate::client::ClientHandle;
use crate::cmd::{self, Session};
use crate::keyspace::PREFETCH_BATCH;
use crate::shared::{ServerStats, Shared};
use larder_protocol::{Batch, Limits, ProtocolError, Reply, Version, parse_command};
use smallvec::SmallVec;
use std::io;
use std::ops::Range;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;
use tokio::io::Interest;
use tokio::net::TcpStream;

/// Read buffer growth step.
const READ_CHUNK: usize = 16 * 1024;

/// The longest a `PUBLISH` waits for receivers to execute input that reached them first.
const FENCE_LIMIT: Duration = Duration::from_millis(5);

/// What [`process`] stopped at.
#[derive(Debug)]
enum Stop {
    /// Everything complete was executed.
    Done,
    /// A protocol error: its reply is in `out`; close the connection.
    ProtocolError,
    /// A `PUBLISH` (its arguments) whose receivers have input waiting: wait for them, run
    /// it, then call again for the rest.
    Fence(Vec<Arc<ClientHandle>>, Vec<Vec<u8>>),
    /// A blocking command (its arguments) found nothing to serve: `session.block` is set;
    /// nothing more is executed until its wait ends.
    Block(Vec<Vec<u8>>),
}

/// Serves one connection until it quits, errs, is killed, idles out or the server stops.
pub async fn serve(stream: TcpStream, shared: Arc<Shared>, handle: Arc<ClientHandle>) {
    let _ = stream.set_nodelay(true);
    let stream = Arc::new(stream);
    handle.attach(Arc::downgrade(&stream));
    let authenticated = shared.config.read().requirepass.is_empty();
    let mut session = Session::new(Arc::clone(&handle), authenticated);
    let mut input: Vec<u8> = Vec::with_capacity(READ_CHUNK);
    let mut out: Vec<u8> = Vec::with_capacity(READ_CHUNK);
    let mut shutdown = shared.shutdown_signal();
    loop {
        if handle.is_killed() {
            // CLIENT KILL, the output limit or shutdown: pending requests are not run.
            break;
        }
        let stop = process(&shared, &mut session, &mut input, &mut out);
        if let Stop::Fence(receivers, publish) = stop {
            let deadline = tokio::time::Instant::now() + FENCE_LIMIT;
            for receiver in &receivers {
                handle.settled(receiver, deadline).await;
            }
            let args: Vec<&[u8]> = publish.iter().map(Vec::as_slice).collect();
            run(&shared, &mut session, &mut out, &args);
            continue;
        }
        if let Stop::Block(args) = stop {
            let Some(request) = session.block.take() else {
                continue;
            };
            if !block(
                &shared,
                &mut session,
                &stream,
                &mut input,
                &mut out,
                args,
                request,
            )
            .await
            {
                break;
            }
            continue;
        }
        handle.end_round();
        handle.drain_into(&mut out);
        if !out.is_empty() {
            ServerStats::add(&shared.stats.net_output_bytes, out.len() as u64);
            let written = write_all(&stream, &out, &handle).await;
            out.clear();
            if out.capacity() > 1 << 20 {
                out.shrink_to(READ_CHUNK);
            }
            if !written {
                break;
            }
        }
        if matches!(stop, Stop::ProtocolError)
            || session.close
            || handle.is_killed()
            || *shutdown.borrow()
        {
            break;
        }
        let (query_limit, idle) = {
            let config = shared.config.read();
            (config.client_query_buffer_limit, config.timeout)
        };
        if input.len() as u64 > query_limit {
            break;
        }
        // Messages queued meanwhile (their wake-up may have been spent during the write) make
        // the `select!` below ready at once; input and messages take turns there, so a flood
        // of messages cannot keep a subscriber from reading its UNSUBSCRIBE.
        let pushes = handle.has_pushes();
        input.reserve(READ_CHUNK);
        let idle_limit =
            (idle > 0 && session.subscriptions() == 0).then(|| Duration::from_secs(idle));
        tokio::select! {
            ready = stream.readable() => {
                if ready.is_err() {
                    break;
                }
                // From here until the end of the round, publishers see this client as having
                // input to execute.
                handle.begin_round();
                match read(&stream, &mut input) {
                    Some(Ok(0)) => break,
                    Some(Ok(n)) => {
                        shared.busy_poll.input_arrived();
                        ServerStats::add(&shared.stats.net_input_bytes, n as u64);
                        handle
                            .last_active_ms
                            .store(handle.created.elapsed().as_millis() as u64, Ordering::Relaxed);
                    }
                    None => {}
                    Some(Err(e)) if is_blocked(&e) => {}
                    Some(Err(_)) => break,
                }
            },
            () = handle.woken() => {}
            () = std::future::ready(()), if pushes => {}
            _ = shutdown.changed() => {}
            () = idle_sleep(idle_limit) => break,
        }
    }
    handle.end_round();
    shared.clients.unregister(handle.id);
    shared.tracking.disable(handle.id);
    shared.monitors.remove(handle.id);
    for channel in &session.channels {
        shared.pubsub.unsubscribe(channel, handle.id);
    }
    for pattern in &session.patterns {
        shared.pubsub.punsubscribe(pattern, handle.id);
    }
    // Dropping the last reference to the socket closes it.
}

/// Blocks the client on the command `args` that asked for `request`: writes the replies
/// before it, registers the waiter and waits for it to be served, to time out, to be
/// unblocked, or for the connection to end (the waiter is then removed). Input arriving
/// meanwhile stays buffered. The command's reply ends up in `out`; `false` when the
/// connection must close.
async fn block(
    shared: &Shared,
    session: &mut Session,
    stream: &TcpStream,
    input: &mut Vec<u8>,
    out: &mut Vec<u8>,
    args: Vec<Vec<u8>>,
    request: BlockRequest,
) -> bool {
    let handle = Arc::clone(&session.handle);
    handle.drain_into(out);
    if !out.is_empty() {
        ServerStats::add(&shared.stats.net_output_bytes, out.len() as u64);
        let written = write_all(stream, out, &handle).await;
        out.clear();
        if !written {
            return false;
        }
    }
    let waiter = Arc::new(Waiter::new(
        Arc::clone(&handle),
        session.db,
        session.version,
        args,
        request,
    ));
    if let Some(reply) = shared.blocking.register(shared, &waiter) {
        out.extend_from_slice(&reply);
        return true;
    }
    // This client executes nothing until the wait ends: it is not "busy" for publishers.
    handle.end_round();
    let mut shutdown = shared.shutdown_signal();
    let query_limit = shared.config.read().client_query_buffer_limit;
    let deadline = waiter.deadline.map(tokio::time::Instant::from_std);
    let outcome = loop {
        if let Some(outcome) = waiter.take_outcome() {
            break outcome;
        }
        if handle.is_killed() || *shutdown.borrow() {
            shared.blocking.cancel(&waiter);
            return false;
        }
        if handle.has_pushes() {
            let mut pushed = Vec::new();
            handle.drain_into(&mut pushed);
            ServerStats::add(&shared.stats.net_output_bytes, pushed.len() as u64);
            if !write_all(stream, &pushed, &handle).await {
                shared.blocking.cancel(&waiter);
                return false;
            }
            continue;
        }
        input.reserve(READ_CHUNK);
        tokio::select! {
            () = handle.woken() => {}
            () = sleep_until(deadline) => break shared.blocking.cancel(&waiter),
            _ = shutdown.changed() => {}
            ready = stream.readable() => {
                let closed = match ready {
                    Err(_) => true,
                    Ok(()) => match read(stream, input) {
                        Some(Ok(0)) => true,
                        Some(Ok(n)) => {
                            shared.busy_poll.input_arrived();
                            ServerStats::add(&shared.stats.net_input_bytes, n as u64);
                            input.len() as u64 > query_limit
                        }
                        Some(Err(e)) => !is_blocked(&e),
                        None => false,
                    },
                };
                if closed {
                    shared.blocking.cancel(&waiter);
                    return false;
                }
            }
        }
    };
    out.extend_from_slice(&waiter.reply(outcome, shared));
    true
}

async fn sleep_until(deadline: Option<tokio::time::Instant>) {
    match deadline {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

/// Reads what the socket has into `input`'s spare room (`None` if the socket turned out not
/// to be readable after all).
///
/// A read that does not fill the room drained the socket: its readiness is then forgotten
/// without a second read that would only say so (as tokio's own `AsyncRead` does). The
/// readiness forgotten is the one seen before the read, so input arriving during the read is
/// not missed.
fn read(stream: &TcpStream, input: &mut Vec<u8>) -> Option<io::Result<usize>> {
    let spare = input.capacity() - input.len();
    let mut result = None;
    let _ = stream.try_io(Interest::READABLE, || {
        let read = stream.try_read_buf(input);
        let drained = matches!(read, Ok(n) if n > 0 && n < spare);
        result = Some(read);
        if drained {
            Err(io::ErrorKind::WouldBlock.into())
        } else {
            Ok(())
        }
    });
    result
}

/// Writes all of `buf`; `false` if the socket failed or the client was killed meanwhile (a
/// subscriber that stops reading blocks here, and a kill — its outbox overflowing, CLIENT
/// KILL, shutdown — must still end it). Messages arriving meanwhile wake this loop and stay
/// queued until the write completes.
async fn write_all(stream: &TcpStream, buf: &[u8], handle: &ClientHandle) -> bool {
    let written = write_blocking_aware(stream, buf, handle).await;
    handle.set_writing(0);
    written
}

fn is_blocked(e: &io::Error) -> bool {
    e.kind() == io::ErrorKind::WouldBlock
}

async fn write_blocking_aware(stream: &TcpStream, mut buf: &[u8], handle: &ClientHandle) -> bool {
    while !buf.is_empty() {
        if handle.is_killed() {
            return false;
        }
        match stream.try_write(buf) {
            Ok(n) => buf = &buf[n..],
            Err(e) if is_blocked(&e) => {
                // The peer is not reading: what is left counts towards the output limit, and
                // publishers stop waiting for this client's input (it reads none meanwhile).
                handle.set_writing(buf.len());
                tokio::select! {
                    ready = stream.writable() => if ready.is_err() { return false },
                    () = handle.woken() => {}
                }
            }
            Err(_) => return false,
        }
    }
    true
}

async fn idle_sleep(limit: Option<Duration>) {
    match limit {
        Some(d) => tokio::time::sleep(d).await,
        None => std::future::pending().await,
    }
}

/// Whether `args` is a `PUBLISH` request the fence applies to.
fn is_publish(args: &[&[u8]]) -> bool {
    args.len() == 3 && args[0].eq_ignore_ascii_case(b"publish")
}

/// Executes one request, after the messages that reached this client before it (so that they
/// go out before its reply).
fn run(shared: &Shared, session: &mut Session, out: &mut Vec<u8>, args: &[&[u8]]) {
    if session.handle.has_pushes() {
        session.handle.drain_into(out);
    }
    cmd::execute(shared, session, out, args);
}

/// Executes every complete request in `input`, removing them, until a protocol error (its
/// reply is in `out` and the connection must close) or a `PUBLISH` that must wait at the
/// arrival-order fence first (removed from `input` and returned).
///
/// Multibulk requests are walked once, up to [`PREFETCH_BATCH`] at a time ([`Batch`]); when a
/// batch holds two or more, what they will read is prefetched before the first runs
/// ([`prefetch`]). An inline request, an incomplete one and an invalid one go through
/// [`parse_command`], one at a time.
fn process(shared: &Shared, session: &mut Session, input: &mut Vec<u8>, out: &mut Vec<u8>) -> Stop {
    let mut limits = Limits {
        max_bulk_len: shared.config.read().proto_max_bulk_len,
        unauthenticated: !session.authenticated,
        ..Limits::default()
    };
    // Within the batch each command's end is the next one's start (`Session::clock`).
    session.clock = None;
    let mut consumed = 0;
    let mut batch = Batch::new();
    // Where the batch starts in `input`, and its next request to run.
    let (mut base, mut next) = (0, 0);
    let mut stop = None;
    while consumed < input.len() && !session.close && stop.is_none() {
        if next == batch.len() {
            base = consumed;
            next = 0;
            if batch.parse(&input[base..], &limits, PREFETCH_BATCH) >= 2 {
                prefetch(shared, session, &input[base..], &batch);
            }
        }
        if next < batch.len() {
            let args: SmallVec<[&[u8]; 8]> = batch
                .args(next)
                .iter()
                .map(|range| &input[base + range.start..base + range.end])
                .collect();
            consumed = base + batch.end(next);
            next += 1;
            stop = execute(shared, session, out, &args);
        } else {
            match parse_command(&mut input[consumed..], &limits) {
                Ok(Some((command, n))) => {
                    consumed += n;
                    stop = execute(shared, session, out, command.args());
                }
                Ok(None) => break,
                Err(error) => {
                    protocol_error(session.version, out, &error);
                    stop = Some(Stop::ProtocolError);
                }
            }
        }
        // After an `AUTH` (or `HELLO ... AUTH`, or a `RESET` that logs out), the rest of the
        // input is read under the limits of the client's new state, as Redis parses each
        // request after the one before it ran: the batch is walked again from here.
        if limits.unauthenticated == session.authenticated {
            limits.unauthenticated = !session.authenticated;
            next = batch.len();
        }
    }
    input.drain(..consumed);
    session.clock = None;
    stop.unwrap_or(Stop::Done)
}

/// Executes one request of [`process`] (nothing for an empty one); `Some` when processing must
/// stop after it: the client is blocked, or a `PUBLISH` waits at the fence (not run yet).
fn execute(
    shared: &Shared,
    session: &mut Session,
    out: &mut Vec<u8>,
    args: &[&[u8]],
) -> Option<Stop> {
    if args.is_empty() {
        return None;
    }
    if is_publish(args) {
        let pending = shared.pubsub.pending_receivers(args[1], session.handle.id);
        if !pending.is_empty() {
            return Some(Stop::Fence(pending, owned(args)));
        }
    }
    run(shared, session, out, args);
    session.block.is_some().then(|| Stop::Block(owned(args)))
}

fn owned(args: &[&[u8]]) -> Vec<Vec<u8>> {
    args.iter().map(|a| a.to_vec()).collect()
}

/// Prefetches what the requests of `batch` (parsed from `input`) will read (see
/// [`Keyspace::prefetch`](crate::keyspace::Keyspace::prefetch)): the entry of each one's second
/// argument, the key of most commands, and in a large collection the entry of its third, the
/// member or field of most collection commands. For the other commands the prefetch is wasted
/// work, never a change.
fn prefetch(shared: &Shared, session: &Session, input: &[u8], batch: &Batch) {
    let arg = |args: &[Range<usize>], i: usize| args.get(i).map(|r| &input[r.clone()]);
    let requests = (0..batch.len()).filter_map(|i| {
        let args = batch.args(i);
        Some((arg(args, 1)?, arg(args, 2)))
    });
    shared.keyspace.prefetch(session.db, requests);
}

fn protocol_error(version: Version, out: &mut Vec<u8>, error: &ProtocolError) {
    Reply { out, version }.error(&format!("ERR {}", error.message()));
}
