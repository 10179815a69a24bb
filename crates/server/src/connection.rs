//! One client connection: read, parse every complete request in the buffer, execute, write
//! the replies in one batch (pipelining), and wait for more input, a pushed message, a kill or
//! the idle timeout.

use crate::client::ClientHandle;
use crate::cmd::{self, Session};
use crate::shared::{ServerStats, Shared};
use larder_protocol::{Limits, ProtocolError, Reply, Version, parse_command};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Read buffer growth step.
const READ_CHUNK: usize = 16 * 1024;

/// Serves one connection until it quits, errs, is killed, idles out or the server stops.
pub async fn serve(stream: TcpStream, shared: Arc<Shared>, handle: Arc<ClientHandle>) {
    let _ = stream.set_nodelay(true);
    let authenticated = shared.config.read().requirepass.is_empty();
    let mut session = Session::new(Arc::clone(&handle), authenticated);
    let (mut reader, mut writer) = stream.into_split();
    let mut input: Vec<u8> = Vec::with_capacity(READ_CHUNK);
    let mut out: Vec<u8> = Vec::with_capacity(READ_CHUNK);
    let mut shutdown = shared.shutdown_signal();
    loop {
        let protocol_error = process(&shared, &mut session, &mut input, &mut out);
        handle.drain_into(&mut out);
        if !out.is_empty() {
            ServerStats::add(&shared.stats.net_output_bytes, out.len() as u64);
            let write = writer.write_all(&out);
            tokio::pin!(write);
            // A subscriber that stops reading blocks here; a kill (its outbox overflowing, CLIENT
            // KILL, shutdown) must still end it.
            let written = loop {
                tokio::select! {
                    r = &mut write => break r.is_ok(),
                    () = handle.woken() => if handle.is_killed() { break false },
                }
            };
            out.clear();
            if out.capacity() > 1 << 20 {
                out.shrink_to(READ_CHUNK);
            }
            if !written {
                break;
            }
        }
        if protocol_error || session.close || handle.is_killed() || *shutdown.borrow() {
            break;
        }
        let (query_limit, idle) = {
            let config = shared.config.read();
            (config.client_query_buffer_limit, config.timeout)
        };
        if input.len() as u64 > query_limit {
            break;
        }
        if handle.outbox_size().1 > 0 {
            continue;
        }
        input.reserve(READ_CHUNK);
        let idle_limit =
            (idle > 0 && session.subscriptions() == 0).then(|| Duration::from_secs(idle));
        tokio::select! {
            read = reader.read_buf(&mut input) => match read {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    ServerStats::add(&shared.stats.net_input_bytes, n as u64);
                    handle
                        .last_active_ms
                        .store(handle.created.elapsed().as_millis() as u64, Ordering::Relaxed);
                }
            },
            () = handle.woken() => {}
            _ = shutdown.changed() => {}
            () = idle_sleep(idle_limit) => break,
        }
    }
    shared.clients.unregister(handle.id);
    for channel in &session.channels {
        shared.pubsub.unsubscribe(channel, handle.id);
    }
    for pattern in &session.patterns {
        shared.pubsub.punsubscribe(pattern, handle.id);
    }
    let _ = writer.shutdown().await;
}

async fn idle_sleep(limit: Option<Duration>) {
    match limit {
        Some(d) => tokio::time::sleep(d).await,
        None => std::future::pending().await,
    }
}

/// Executes every complete request in `input`, removing them; returns `true` on a protocol
/// error (its reply is in `out` and the connection must close).
fn process(shared: &Shared, session: &mut Session, input: &mut Vec<u8>, out: &mut Vec<u8>) -> bool {
    let limits = Limits {
        max_bulk_len: shared.config.read().proto_max_bulk_len,
        unauthenticated: !session.authenticated,
        ..Limits::default()
    };
    let mut consumed = 0;
    let mut failed = false;
    while consumed < input.len() && !session.close {
        match parse_command(&mut input[consumed..], &limits) {
            Ok(Some((command, n))) => {
                consumed += n;
                if !command.is_empty() {
                    cmd::execute(shared, session, out, command.args());
                }
            }
            Ok(None) => break,
            Err(error) => {
                protocol_error(session.version, out, &error);
                failed = true;
                break;
            }
        }
    }
    input.drain(..consumed);
    failed
}

fn protocol_error(version: Version, out: &mut Vec<u8>, error: &ProtocolError) {
    Reply { out, version }.error(&format!("ERR {}", error.message()));
}
