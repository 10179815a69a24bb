//! `MONITOR`: clients that receive every command the server executes, in Redis's format
//! (`+<unix seconds>.<micros> [<db> <ip:port>] "arg" "arg" ...`).
//!
//! A command is fed after it ran (so `SELECT` shows the database it selected, and `EXEC`
//! follows the commands it executed), unless it is administrative (`flag::ADMIN`), as in
//! Redis. Rejected commands (unknown, wrong arity, ...) are not fed. When nobody monitors, a
//! command pays one atomic load ([`Monitors::active`]).

use crate::client::{ClientHandle, OutputLimit};
use parking_lot::Mutex;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

/// The monitoring clients.
#[derive(Debug, Default)]
pub struct Monitors {
    count: AtomicUsize,
    clients: Mutex<Vec<Arc<ClientHandle>>>,
}

const NO_LIMIT: OutputLimit = OutputLimit {
    hard: 0,
    soft: 0,
    soft_seconds: 0,
};

impl Monitors {
    /// Whether any client monitors.
    pub fn active(&self) -> bool {
        self.count.load(Ordering::Relaxed) > 0
    }

    /// Adds a monitor; `false` if it already was one.
    pub fn add(&self, client: &Arc<ClientHandle>) -> bool {
        let mut clients = self.clients.lock();
        if clients.iter().any(|c| c.id == client.id) {
            return false;
        }
        clients.push(Arc::clone(client));
        self.count.store(clients.len(), Ordering::Relaxed);
        true
    }

    /// Whether client `id` monitors.
    pub fn contains(&self, id: u64) -> bool {
        self.active() && self.clients.lock().iter().any(|c| c.id == id)
    }

    /// Forgets client `id` (its connection closed).
    pub fn remove(&self, id: u64) {
        if !self.active() {
            return;
        }
        let mut clients = self.clients.lock();
        clients.retain(|c| c.id != id);
        self.count.store(clients.len(), Ordering::Relaxed);
    }

    /// Sends command `args`, run by the client at `addr` in database `db`, to every monitor.
    pub fn feed(&self, db: usize, addr: &SocketAddr, args: &[&[u8]]) {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default();
        let mut line = format!(
            "+{}.{:06} [{} {}] ",
            now.as_secs(),
            now.subsec_micros(),
            db,
            addr
        )
        .into_bytes();
        for (i, arg) in args.iter().enumerate() {
            if i > 0 {
                line.push(b' ');
            }
            repr(&mut line, arg);
        }
        line.extend_from_slice(b"\r\n");
        let line: Arc<[u8]> = Arc::from(line);
        for client in self.clients.lock().iter() {
            client.deliver(&line, NO_LIMIT);
        }
    }
}

/// Appends `bytes` quoted and escaped as Redis's `sdscatrepr` does.
pub fn repr(out: &mut Vec<u8>, bytes: &[u8]) {
    out.push(b'"');
    for &b in bytes {
        match b {
            b'\\' | b'"' => out.extend_from_slice(&[b'\\', b]),
            b'\n' => out.extend_from_slice(b"\\n"),
            b'\r' => out.extend_from_slice(b"\\r"),
            b'\t' => out.extend_from_slice(b"\\t"),
            7 => out.extend_from_slice(b"\\a"),
            8 => out.extend_from_slice(b"\\b"),
            b' '..=b'~' => out.push(b),
            _ => out.extend_from_slice(format!("\\x{b:02x}").as_bytes()),
        }
    }
    out.push(b'"');
}

#[cfg(test)]
mod tests {
    use super::repr;

    #[test]
    fn arguments_are_quoted_like_sdscatrepr() {
        let mut out = Vec::new();
        repr(&mut out, b"a \"b\"\\\n\x01");
        assert_eq!(out, b"\"a \\\"b\\\"\\\\\\n\\x01\"");
    }
}
