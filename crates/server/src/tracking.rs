//! Server-assisted client-side caching: `CLIENT TRACKING` and its invalidation messages.
//!
//! Two tables, as in Redis's tracking.c:
//! - default mode: key → ids of the clients that read it while tracking. A read-only command
//!   of a tracking client remembers its key arguments ([`Tracking::remember`]); when a key is
//!   modified, every client remembered for it receives one invalidation and the key is
//!   forgotten ([`Tracking::invalidate`]).
//! - broadcasting (`BCAST`): prefix → ids of the clients subscribed to it. The keys a command
//!   modified are collected in the writer's session and sent, after the command (a whole
//!   `EXEC` counts as one), as one message per prefix listing the matching keys
//!   ([`Tracking::broadcast`]).
//!
//! Keys are global, as in Redis: a key of any database invalidates the name.
//!
//! Delivery goes through the receiver's outbox ([`ClientHandle::deliver`]): a RESP3 client
//! receives `>2 invalidate [keys]` pushes; a client redirecting (`REDIRECT id`) has them sent to
//! that client instead, as a push when it speaks RESP3 and as a pub/sub message on
//! `__redis__:invalidate` when it is a RESP2 subscriber; when the redirect client is gone the
//! tracking client receives `tracking-redir-broken` (RESP3). A connection's own outbox is
//! written after the reply of the command it is executing, so the invalidations a command
//! causes for its own client follow its reply, as Redis postpones them
//! (`tracking_pending_keys`).
//!
//! ## No invalidation lost
//!
//! Connections run in parallel here, so a read remembers its keys *before* the command reads
//! them, and a write invalidates *after* it changed the key: a reader that saw the old value
//! was remembered before the write finished, and the writer's invalidation finds it. (A read
//! that already saw the new value may get a harmless extra invalidation.)
//!
//! When nobody tracks, a write pays one atomic load ([`Tracking::active`]).

use crate::client::{ClientHandle, OutputLimit};
use crate::cmd::{Spec, flag};
use crate::shared::Shared;
use larder_protocol::{Reply, Version};
use parking_lot::Mutex;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

/// The pub/sub channel of invalidations for RESP2 redirect clients.
pub const CHANNEL: &[u8] = b"__redis__:invalidate";

/// Keys evicted from the tracking table in one pass over `tracking-table-max-keys` (the cron
/// continues with the rest).
const EVICTIONS_PER_PASS: usize = 10_000;

/// A client's tracking options (`CLIENT TRACKING ON ...`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Mode {
    /// Tracking is on.
    pub on: bool,
    /// `BCAST`: prefixes instead of the keys read.
    pub bcast: bool,
    /// `OPTIN`: only reads after `CLIENT CACHING YES` are remembered.
    pub optin: bool,
    /// `OPTOUT`: reads after `CLIENT CACHING NO` are not remembered.
    pub optout: bool,
    /// `NOLOOP`: no invalidation for the keys the client changed itself.
    pub noloop: bool,
}

/// A connection's own view of its tracking state (kept in its session).
#[derive(Debug, Default)]
pub struct SessionTracking {
    /// The options in force.
    pub mode: Mode,
    /// `CLIENT CACHING YES|NO` given for the next command.
    pub caching: bool,
    /// Keys this connection's current command modified, for the `BCAST` clients (sent when
    /// the command completes).
    pending: Vec<Box<[u8]>>,
}

impl SessionTracking {
    /// Whether this connection's read-only commands remember their keys now.
    pub fn remembers(&self) -> bool {
        let m = self.mode;
        // OPTIN remembers only after CACHING YES; OPTOUT all but after CACHING NO.
        let opted_out = if m.optin {
            !self.caching
        } else {
            m.optout && self.caching
        };
        m.on && !m.bcast && !opted_out
    }

    /// Whether keys are waiting for [`Tracking::broadcast`].
    pub fn has_pending(&self) -> bool {
        !self.pending.is_empty()
    }
}

/// A tracking client as other connections see it.
#[derive(Debug)]
struct Tracker {
    handle: Arc<ClientHandle>,
    mode: Mode,
    redirect: u64,
    prefixes: BTreeSet<Box<[u8]>>,
    broken: bool,
}

#[derive(Debug, Default)]
struct Table {
    /// Default mode: key → ids of the clients that may cache it.
    keys: HashMap<Box<[u8]>, Vec<u64>, foldhash::fast::RandomState>,
    /// Client ids across `keys`.
    items: usize,
    /// Clients with tracking on.
    clients: HashMap<u64, Tracker>,
    /// `BCAST`: prefix → subscribed client ids.
    prefixes: BTreeMap<Box<[u8]>, BTreeSet<u64>>,
}

/// What an invalidation names.
#[derive(Clone, Copy)]
enum Keys<'a> {
    One(&'a [u8]),
    Many(&'a [&'a [u8]]),
    /// Every key (a flush): a null.
    All,
}

/// One invalidation, encoded lazily per form and shared by its receivers.
struct Message<'a> {
    keys: Keys<'a>,
    /// `>2 invalidate ...` and `*3 message __redis__:invalidate ...`.
    forms: [Option<Arc<[u8]>>; 2],
}

impl<'a> Message<'a> {
    fn new(keys: Keys<'a>) -> Message<'a> {
        Message {
            keys,
            forms: [None, None],
        }
    }

    fn form(&mut self, pubsub: bool) -> Arc<[u8]> {
        let keys = self.keys;
        let form = &mut self.forms[usize::from(pubsub)];
        Arc::clone(form.get_or_insert_with(|| {
            let mut out = Vec::new();
            let mut reply = Reply {
                out: &mut out,
                version: if pubsub {
                    Version::Resp2
                } else {
                    Version::Resp3
                },
            };
            if pubsub {
                reply.array(3);
                reply.bulk(b"message");
                reply.bulk(CHANNEL);
            } else {
                reply.push(2);
                reply.bulk(b"invalidate");
            }
            match keys {
                Keys::One(key) => {
                    reply.array(1);
                    reply.bulk(key);
                }
                Keys::Many(keys) => {
                    reply.array(keys.len());
                    for key in keys {
                        reply.bulk(key);
                    }
                }
                Keys::All => reply.null(),
            }
            Arc::from(out)
        }))
    }
}

/// The tracking tables.
#[derive(Debug, Default)]
pub struct Tracking {
    /// Clients with tracking on.
    clients: AtomicUsize,
    /// Prefixes in the `BCAST` table.
    prefixes: AtomicUsize,
    table: Mutex<Table>,
}

/// The `INFO` figures.
#[derive(Clone, Copy, Debug, Default)]
pub struct TrackingStats {
    /// `tracking_clients`.
    pub clients: usize,
    /// `tracking_total_keys`: keys in the default-mode table.
    pub keys: usize,
    /// `tracking_total_items`: client ids across those keys.
    pub items: usize,
    /// `tracking_total_prefixes`.
    pub prefixes: usize,
}

fn limit_for(shared: &Shared, handle: &ClientHandle) -> OutputLimit {
    if handle.subscriptions.load(Ordering::Relaxed) > 0 {
        shared.pubsub_limit()
    } else {
        OutputLimit {
            hard: 0,
            soft: 0,
            soft_seconds: 0,
        }
    }
}

/// Redis's prefix collision: one is a prefix of the other.
fn overlaps(a: &[u8], b: &[u8]) -> bool {
    let n = a.len().min(b.len());
    a[..n] == b[..n]
}

impl Table {
    /// Sends `message` for the tracking client `id` (to it or to its redirect client).
    fn send(&mut self, shared: &Shared, id: u64, message: &mut Message<'_>) {
        let Some(tracker) = self.clients.get_mut(&id) else {
            return;
        };
        if tracker.redirect != 0 {
            let Some(target) = shared.clients.get(tracker.redirect) else {
                tracker.broken = true;
                if tracker.handle.resp.load(Ordering::Relaxed) >= 3 {
                    let mut out = Vec::new();
                    let mut reply = Reply {
                        out: &mut out,
                        version: Version::Resp3,
                    };
                    reply.push(2);
                    reply.bulk(b"tracking-redir-broken");
                    reply.integer(tracker.redirect as i64);
                    let limit = limit_for(shared, &tracker.handle);
                    tracker.handle.deliver(&Arc::from(out), limit);
                }
                return;
            };
            if target.resp.load(Ordering::Relaxed) >= 3 {
                target.deliver(&message.form(false), limit_for(shared, &target));
            } else if target.subscriptions.load(Ordering::Relaxed) > 0 {
                target.deliver(&message.form(true), shared.pubsub_limit());
            }
        } else if tracker.handle.resp.load(Ordering::Relaxed) >= 3 {
            let limit = limit_for(shared, &tracker.handle);
            tracker.handle.deliver(&message.form(false), limit);
        }
        // A RESP2 client without redirection cannot receive pushes: nothing is sent.
    }

    /// Forgets `key` and invalidates it for the default-mode clients that read it, except
    /// `noloop_origin` when it tracks with `NOLOOP`.
    fn invalidate_key(&mut self, shared: &Shared, origin: Option<u64>, key: &[u8]) {
        let Some(ids) = self.keys.remove(key) else {
            return;
        };
        self.items -= ids.len();
        let mut message = Message::new(Keys::One(key));
        for id in ids {
            let Some(tracker) = self.clients.get(&id) else {
                continue;
            };
            if tracker.mode.bcast || (tracker.mode.noloop && origin == Some(id)) {
                continue;
            }
            self.send(shared, id, &mut message);
        }
    }

    /// Evicts keys until at most `max` are tracked (at most [`EVICTIONS_PER_PASS`]).
    fn limit(&mut self, shared: &Shared, max: usize) {
        if max == 0 || self.keys.len() <= max {
            return;
        }
        let excess = (self.keys.len() - max).min(EVICTIONS_PER_PASS);
        let victims: Vec<Box<[u8]>> = self.keys.keys().take(excess).cloned().collect();
        for key in victims {
            self.invalidate_key(shared, None, &key);
        }
    }
}

impl Tracking {
    /// Whether any client tracks (one relaxed load: the cost of a write nobody tracks).
    pub fn active(&self) -> bool {
        self.clients.load(Ordering::Relaxed) > 0
    }

    /// The `INFO` figures.
    pub fn stats(&self) -> TrackingStats {
        let table = self.table.lock();
        TrackingStats {
            clients: table.clients.len(),
            keys: table.keys.len(),
            items: table.items,
            prefixes: table.prefixes.len(),
        }
    }

    /// Whether the redirect of tracking client `id` was found gone.
    pub fn redirect_broken(&self, id: u64) -> bool {
        self.table.lock().clients.get(&id).is_some_and(|t| t.broken)
    }

    /// The `BCAST` prefixes of client `id`, in order.
    pub fn prefixes_of(&self, id: u64) -> Vec<Vec<u8>> {
        self.table
            .lock()
            .clients
            .get(&id)
            .map(|t| t.prefixes.iter().map(|p| p.to_vec()).collect())
            .unwrap_or_default()
    }

    /// The redirect of tracking client `id` (0: none; -1: tracking off).
    pub fn redirect_of(&self, id: u64) -> i64 {
        self.table
            .lock()
            .clients
            .get(&id)
            .map_or(-1, |t| t.redirect as i64)
    }

    /// `CLIENT TRACKING ON`: turns tracking on for `handle` (or changes its options), adding
    /// `prefixes` in `BCAST` mode (the empty prefix when none is given). The options were
    /// checked against each other and the current mode; this checks the prefixes for overlaps
    /// and returns Redis's error text when two overlap.
    pub fn enable(
        &self,
        handle: &Arc<ClientHandle>,
        redirect: u64,
        mode: Mode,
        prefixes: &[&[u8]],
    ) -> Result<(), String> {
        let mut table = self.table.lock();
        let table = &mut *table;
        if mode.bcast {
            let existing = table.clients.get(&handle.id).map(|t| &t.prefixes);
            for (i, prefix) in prefixes.iter().enumerate() {
                if let Some(old) = existing
                    .into_iter()
                    .flatten()
                    .find(|old| overlaps(old, prefix))
                {
                    return Err(format!(
                        "ERR Prefix '{}' overlaps with an existing prefix '{}'. Prefixes for a single client must not overlap.",
                        String::from_utf8_lossy(prefix),
                        String::from_utf8_lossy(old)
                    ));
                }
                if let Some(other) = prefixes[i + 1..].iter().find(|p| overlaps(prefix, p)) {
                    return Err(format!(
                        "ERR Prefix '{}' overlaps with another provided prefix '{}'. Prefixes for a single client must not overlap.",
                        String::from_utf8_lossy(prefix),
                        String::from_utf8_lossy(other)
                    ));
                }
            }
        }
        let tracker = table.clients.entry(handle.id).or_insert_with(|| {
            self.clients.fetch_add(1, Ordering::Relaxed);
            Tracker {
                handle: Arc::clone(handle),
                mode: Mode::default(),
                redirect: 0,
                prefixes: BTreeSet::new(),
                broken: false,
            }
        });
        tracker.mode = Mode { on: true, ..mode };
        tracker.redirect = redirect;
        tracker.broken = false;
        if mode.bcast {
            let empty: &[&[u8]] = &[b""];
            let added = if prefixes.is_empty() { empty } else { prefixes };
            for prefix in added {
                tracker.prefixes.insert((*prefix).into());
                table
                    .prefixes
                    .entry((*prefix).into())
                    .or_default()
                    .insert(handle.id);
            }
        }
        self.prefixes.store(table.prefixes.len(), Ordering::Relaxed);
        Ok(())
    }

    /// `CLIENT TRACKING OFF` (and a closed connection, `RESET`): forgets client `id`'s
    /// options and prefixes. Its ids stay in the key table and are dropped lazily, as in
    /// Redis.
    pub fn disable(&self, id: u64) {
        if !self.active() {
            return;
        }
        let mut table = self.table.lock();
        let Some(tracker) = table.clients.remove(&id) else {
            return;
        };
        self.clients.fetch_sub(1, Ordering::Relaxed);
        for prefix in &tracker.prefixes {
            if let Some(ids) = table.prefixes.get_mut(prefix) {
                ids.remove(&id);
                if ids.is_empty() {
                    table.prefixes.remove(prefix);
                }
            }
        }
        self.prefixes.store(table.prefixes.len(), Ordering::Relaxed);
    }

    /// Remembers that client `id` may cache `keys` (called before the read-only command
    /// reads them; see the module docs), then keeps the table within `max` keys (0: no limit).
    pub fn remember<'k>(
        &self,
        shared: &Shared,
        id: u64,
        keys: impl Iterator<Item = &'k [u8]>,
        max: usize,
    ) {
        let mut table = self.table.lock();
        for key in keys {
            let ids = match table.keys.get_mut(key) {
                Some(ids) => ids,
                None => table.keys.entry(key.into()).or_default(),
            };
            if !ids.contains(&id) {
                ids.push(id);
                table.items += 1;
            }
        }
        table.limit(shared, max);
    }

    /// Key `key` was modified by client `origin` (`None`: by the server, an expiry or an
    /// eviction): invalidates it for the default-mode clients now, and for the `BCAST` ones
    /// when `pending` (the writer's session) is sent with [`Tracking::broadcast`], or at once
    /// without a session.
    pub fn invalidate(
        &self,
        shared: &Shared,
        origin: Option<u64>,
        pending: Option<&mut SessionTracking>,
        key: &[u8],
    ) {
        if self.prefixes.load(Ordering::Relaxed) > 0 {
            match pending {
                Some(session) => session.pending.push(key.into()),
                None => self.broadcast_keys(shared, origin, &[key]),
            }
        }
        self.table.lock().invalidate_key(shared, origin, key);
    }

    /// Sends the `BCAST` invalidations for the keys client `origin`'s command modified.
    pub fn broadcast(&self, shared: &Shared, origin: u64, session: &mut SessionTracking) {
        if session.pending.is_empty() {
            return;
        }
        let mut pending = std::mem::take(&mut session.pending);
        pending.sort_unstable();
        pending.dedup();
        let keys: Vec<&[u8]> = pending.iter().map(|k| &k[..]).collect();
        self.broadcast_keys(shared, Some(origin), &keys);
        pending.clear();
        session.pending = pending;
    }

    fn broadcast_keys(&self, shared: &Shared, origin: Option<u64>, keys: &[&[u8]]) {
        let mut table = self.table.lock();
        let table = &mut *table;
        let prefixes: Vec<(Box<[u8]>, Vec<u64>)> = table
            .prefixes
            .iter()
            .map(|(p, ids)| (p.clone(), ids.iter().copied().collect()))
            .collect();
        for (prefix, ids) in prefixes {
            let matching: Vec<&[u8]> = keys
                .iter()
                .copied()
                .filter(|k| k.starts_with(&prefix))
                .collect();
            if matching.is_empty() {
                continue;
            }
            let mut message = Message::new(Keys::Many(&matching));
            for id in ids {
                let noloop = table.clients.get(&id).is_some_and(|t| t.mode.noloop);
                if noloop && origin == Some(id) {
                    continue;
                }
                table.send(shared, id, &mut message);
            }
        }
    }

    /// A flush (`FLUSHALL`, `FLUSHDB`): every tracking client receives an invalidation of
    /// all keys (a null), and the key table is emptied.
    pub fn flush(&self, shared: &Shared) {
        let mut table = self.table.lock();
        let ids: Vec<u64> = table.clients.keys().copied().collect();
        let mut message = Message::new(Keys::All);
        for id in ids {
            table.send(shared, id, &mut message);
        }
        table.keys = HashMap::default();
        table.items = 0;
    }

    /// Keeps the key table within `max` keys (the cron's pass; 0: no limit).
    pub fn limit(&self, shared: &Shared, max: usize) {
        if max == 0 || !self.active() {
            return;
        }
        self.table.lock().limit(shared, max);
    }
}

/// Remembers the key arguments of a read-only command `spec` of client `id` (by the command's
/// key positions), before it runs.
pub fn remember_keys(shared: &Shared, id: u64, spec: &Spec, args: &[&[u8]]) {
    let (first, last, step) = spec.keys;
    if first <= 0 || spec.flags & flag::PUBSUB != 0 {
        return;
    }
    let n = args.len() as i32;
    let last = if last < 0 { n + last } else { last.min(n - 1) };
    if last < first {
        return;
    }
    let keys = (first..=last)
        .step_by(step.max(1) as usize)
        .filter_map(|i| args.get(i as usize).copied());
    let max = shared.config.read().tracking_table_max_keys;
    shared.tracking.remember(shared, id, keys, max);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefixes_overlap_when_one_starts_the_other() {
        assert!(overlaps(b"FOO", b"FOOBAR"));
        assert!(overlaps(b"FOOBAR", b"FO"));
        assert!(overlaps(b"", b"x"));
        assert!(!overlaps(b"FOO", b"BAR"));
    }

    #[test]
    fn messages_take_redis_forms() {
        let mut m = Message::new(Keys::One(b"k"));
        assert_eq!(
            &*m.form(false),
            b">2\r\n$10\r\ninvalidate\r\n*1\r\n$1\r\nk\r\n"
        );
        assert_eq!(
            &*m.form(true),
            b"*3\r\n$7\r\nmessage\r\n$20\r\n__redis__:invalidate\r\n*1\r\n$1\r\nk\r\n"
        );
        let mut all = Message::new(Keys::All);
        assert_eq!(&*all.form(false), b">2\r\n$10\r\ninvalidate\r\n_\r\n");
        assert!(all.form(true).ends_with(b"$-1\r\n"));
    }
}
