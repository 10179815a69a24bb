//! `WATCH`: which clients watch which keys, and the "dirty" flag a change of one sets.
//!
//! The registry maps (logical database, key) to the flags of the clients watching it. A write
//! reports its key through [`Watches::touch`] (from [`Ctx::modified`](crate::cmd::Ctx::modified)),
//! which costs one atomic load while nobody watches anything. A client's own list of watched
//! keys lives in its session ([`Watching`]); dropping it (the connection ends) unregisters them.
//!
//! Keys the engine drops by itself (expiry, eviction) are caught at `EXEC` time instead: a key
//! that was live when watched and is not live any more makes the transaction fail, as in
//! Redis, while a key that was already stale when watched does not.

use crate::keyspace::DATABASES;
use parking_lot::Mutex;
use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

/// One client's "a watched key changed" flag, shared with the registry.
#[derive(Debug, Default)]
pub struct DirtyFlag(AtomicBool);

impl DirtyFlag {
    /// Whether a watched key changed.
    pub fn is_set(&self) -> bool {
        self.0.load(Ordering::Acquire)
    }

    fn set(&self) {
        self.0.store(true, Ordering::Release);
    }

    fn clear(&self) {
        self.0.store(false, Ordering::Release);
    }
}

type Watchers = Vec<Arc<DirtyFlag>>;

/// The server-wide registry of watched keys.
#[derive(Debug)]
pub struct Watches {
    /// Watched (database, key) pairs, read without the lock by every write.
    keys: AtomicUsize,
    dbs: Mutex<Vec<HashMap<Box<[u8]>, Watchers>>>,
}

impl Default for Watches {
    fn default() -> Self {
        Watches {
            keys: AtomicUsize::new(0),
            dbs: Mutex::new((0..DATABASES).map(|_| HashMap::new()).collect()),
        }
    }
}

impl Watches {
    /// Whether any key is watched (one atomic load).
    pub fn any(&self) -> bool {
        self.keys.load(Ordering::SeqCst) > 0
    }

    /// `key` of database `db` changed: every client watching it is now dirty.
    pub fn touch(&self, db: usize, key: &[u8]) {
        if !self.any() {
            return;
        }
        let dbs = self.dbs.lock();
        if let Some(watchers) = dbs.get(db).and_then(|m| m.get(key)) {
            for flag in watchers {
                flag.set();
            }
        }
    }

    /// Database `db` is emptied or replaced (`FLUSHDB`, `FLUSHALL`, `SWAPDB`): every client
    /// watching a key for which `touched` is true (the key exists in the database emptied or in
    /// the one replacing it) is now dirty.
    pub fn touch_db(&self, db: usize, mut touched: impl FnMut(&[u8]) -> bool) {
        if !self.any() {
            return;
        }
        let dbs = self.dbs.lock();
        let Some(keys) = dbs.get(db) else { return };
        for (key, watchers) in keys {
            if touched(key) {
                for flag in watchers {
                    flag.set();
                }
            }
        }
    }

    fn add(&self, db: usize, key: &[u8], flag: &Arc<DirtyFlag>) {
        let mut dbs = self.dbs.lock();
        let Some(keys) = dbs.get_mut(db) else { return };
        match keys.get_mut(key) {
            Some(watchers) => watchers.push(Arc::clone(flag)),
            None => {
                keys.insert(key.into(), vec![Arc::clone(flag)]);
                self.keys.fetch_add(1, Ordering::SeqCst);
            }
        }
    }

    fn remove(&self, db: usize, key: &[u8], flag: &Arc<DirtyFlag>) {
        let mut dbs = self.dbs.lock();
        let Some(keys) = dbs.get_mut(db) else { return };
        let Some(watchers) = keys.get_mut(key) else {
            return;
        };
        watchers.retain(|f| !Arc::ptr_eq(f, flag));
        if watchers.is_empty() {
            keys.remove(key);
            self.keys.fetch_sub(1, Ordering::SeqCst);
        }
    }
}

/// One key a client watches.
#[derive(Debug)]
struct Watched {
    db: usize,
    key: Vec<u8>,
    /// Live when watched: if it is not live at `EXEC` (expired, evicted), the transaction
    /// fails. A key already stale when watched never fails it by expiring.
    live: bool,
}

/// A client's watched keys (in its session).
#[derive(Debug)]
pub struct Watching {
    registry: Arc<Watches>,
    flag: Arc<DirtyFlag>,
    keys: Vec<Watched>,
}

impl Watching {
    /// No key watched yet, over `registry`.
    pub fn new(registry: Arc<Watches>) -> Watching {
        Watching {
            registry,
            flag: Arc::new(DirtyFlag::default()),
            keys: Vec::new(),
        }
    }

    /// Watches `key` of `db` (once). `live` says whether it exists now; it is asked after the
    /// key is registered, so that a write racing with the WATCH is either seen by `live` or
    /// makes the client dirty.
    pub fn watch(&mut self, db: usize, key: &[u8], live: impl FnOnce() -> bool) {
        if self.keys.iter().any(|w| w.db == db && w.key == key) {
            return;
        }
        self.registry.add(db, key, &self.flag);
        self.keys.push(Watched {
            db,
            key: key.to_vec(),
            live: live(),
        });
    }

    /// Whether a watched key changed, or, per `live_now`, one that was live when watched is
    /// not any more (expired or evicted since).
    pub fn is_dirty(&self, mut live_now: impl FnMut(usize, &[u8]) -> bool) -> bool {
        self.flag.is_set() || self.keys.iter().any(|w| w.live && !live_now(w.db, &w.key))
    }

    /// Whether a watched key changed (without checking expiry).
    pub fn flagged(&self) -> bool {
        self.flag.is_set()
    }

    /// Forgets every watched key and clears the dirty flag (`UNWATCH`, `EXEC`, `DISCARD`).
    pub fn unwatch_all(&mut self) {
        for w in self.keys.drain(..) {
            self.registry.remove(w.db, &w.key, &self.flag);
        }
        self.flag.clear();
    }
}

impl Drop for Watching {
    fn drop(&mut self) {
        self.unwatch_all();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn touching_a_watched_key_dirties_its_watchers_only() {
        let registry = Arc::new(Watches::default());
        assert!(!registry.any());
        let mut a = Watching::new(Arc::clone(&registry));
        let mut b = Watching::new(Arc::clone(&registry));
        a.watch(0, b"x", || true);
        a.watch(0, b"x", || true);
        b.watch(1, b"x", || false);
        registry.touch(0, b"y");
        registry.touch(2, b"x");
        assert!(!a.flagged() && !b.flagged());
        registry.touch(0, b"x");
        assert!(a.flagged() && !b.flagged());
        registry.touch_db(1, |k| k == b"x");
        assert!(b.flagged());
        a.unwatch_all();
        assert!(!a.flagged());
        drop(b);
        assert!(!registry.any(), "every registration is gone");
        // A key live when watched and gone since makes it dirty; one stale already does not.
        a.watch(0, b"k", || true);
        a.watch(0, b"s", || false);
        assert!(a.is_dirty(|_, k| k != b"k"));
        assert!(!a.is_dirty(|_, k| k == b"k"));
    }
}
