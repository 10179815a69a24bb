//! Key events: what a command tells the rest of the server when it changes a key.
//!
//! Every handler that changes a key calls [`Ctx::modified`](crate::cmd::Ctx::modified) with the
//! event's class and Redis's event name (`"lpush"`, `"hset"`, `"del"`, `"expire"`, ...) after
//! the change is made. One call feeds everything that depends on writes:
//! - `WATCH`: marks the transactions watching the key dirty;
//! - client-side caching: invalidates the key for the clients tracking it;
//! - keyspace notifications: publishes `__keyspace@<db>__:<key>` and `__keyevent@<db>__:<event>`
//!   when `notify-keyspace-events` selects the class;
//! - blocking commands: marks the key ready, so that clients blocked on it are served once the
//!   command completes.
//!
//! Each consumer checks an atomic counter first, so a write that nobody watches, tracks,
//! subscribes to or blocks on pays a few relaxed loads.

/// Event classes: the `notify-keyspace-events` flag letters.
pub mod class {
    /// `g`: generic commands (`DEL`, `EXPIRE`, `RENAME`, ...).
    pub const GENERIC: u16 = 1;
    /// `$`: string commands.
    pub const STRING: u16 = 1 << 1;
    /// `l`: list commands.
    pub const LIST: u16 = 1 << 2;
    /// `s`: set commands.
    pub const SET: u16 = 1 << 3;
    /// `h`: hash commands.
    pub const HASH: u16 = 1 << 4;
    /// `z`: sorted set commands.
    pub const ZSET: u16 = 1 << 5;
    /// `x`: a key expired.
    pub const EXPIRED: u16 = 1 << 6;
    /// `e`: a key was evicted for `maxmemory`.
    pub const EVICTED: u16 = 1 << 7;
    /// `t`: stream commands (no stream type yet; accepted in the flags).
    pub const STREAM: u16 = 1 << 8;
    /// `m`: a key was read and missed.
    pub const KEY_MISS: u16 = 1 << 9;
    /// `n`: a key was created.
    pub const NEW: u16 = 1 << 10;
    /// `K`: publish on `__keyspace@<db>__:<key>`.
    pub const KEYSPACE: u16 = 1 << 11;
    /// `E`: publish on `__keyevent@<db>__:<event>`.
    pub const KEYEVENT: u16 = 1 << 12;
}

use crate::shared::Shared;
use larder_engine::Departure;

/// Delivers one key event to everything that depends on writes (the body behind
/// [`Ctx::modified`](crate::cmd::Ctx::modified), also fed the keys the engine expires and
/// evicts by itself): `WATCH` and keyspace notifications. `db` is the logical database.
/// Each consumer that nobody uses costs one atomic load.
pub fn key_event(shared: &Shared, db: usize, class: u16, event: &'static str, key: &[u8]) {
    // Keys that expired or were evicted before this change are reported first.
    flush_departures(shared);
    shared.watches.touch(db, key);
    shared.notify.publish(shared, db, class, event, key);
}

/// Turns the keys the engine expired or evicted since the last call into `expired` and
/// `evicted` events (called after every command and by the cron). Nothing pending costs one
/// atomic load.
pub fn flush_departures(shared: &Shared) {
    if !shared.keyspace.departures_pending() {
        return;
    }
    let tracking = shared.tracking.active();
    if !tracking && !shared.notify.wants(class::EXPIRED | class::EVICTED) {
        // Nobody listens: empty the record without copying the keys out.
        shared.keyspace.discard_departures();
        return;
    }
    let mut departed = Vec::new();
    // WATCH needs none of these (EXEC checks liveness) and a notification is fire-and-forget,
    // but a near cache must never keep a key the server dropped: when the full record lost
    // keys, every tracking client is told to flush everything (Redis's null invalidation).
    let lost = shared.keyspace.drain_departures(&mut departed);
    if lost > 0 && tracking {
        shared.tracking.flush(shared);
    }
    for (db, key, cause) in departed {
        let (class, event) = match cause {
            Departure::Expired => (class::EXPIRED, "expired"),
            Departure::Evicted => (class::EVICTED, "evicted"),
            Departure::Removed => continue,
        };
        // WATCH needs no touch here: EXEC finds a watched key that was live and is not any
        // more (and a key already stale when watched must not fail EXEC when reclaimed).
        shared.notify.publish(shared, db, class, event, &key);
        if tracking {
            shared.tracking.invalidate(shared, None, None, &key);
        }
    }
}
