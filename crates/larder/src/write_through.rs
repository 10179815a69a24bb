//! Write-through: the database first, then the cache — never the other way round.
//!
//! A [`WriteThrough`] sends every write to a [`Writer`] (the database) and changes the cache only
//! after the database answered success. When the write fails the cache is untouched and the error
//! comes back to the caller, so the cache never holds a value the database does not.
//!
//! Two modes decide what the cache does after a successful write ([`WriteMode`]):
//!
//! * **write-invalidate** drops the cached entry; the next read misses and loads the new value
//!   (cheap writes, one slow read after each write);
//! * **write-update** stores the new value; the next read hits (every read fast, every write pays
//!   for the cache update).
//!
//! Writes of the same key are serialised by a fixed array of 64 striped locks (by key hash), held
//! from the database write until the cache change, so that two concurrent writers of one key
//! leave the cache in the same order as the database. No lock is held across an `.await` (the
//! API is synchronous; call it from `spawn_blocking` in async code when the database blocks).
//!
//! The [`Writer`] trait is shared with [`write_behind`](crate::write_behind), which calls
//! [`Writer::write_batch`] with coalesced batches.

use crate::Cache;
use parking_lot::Mutex;
use std::hash::{BuildHasher, BuildHasherDefault, DefaultHasher, Hash};

/// One change to the database: a new value for a key, or its deletion.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change<K, V> {
    /// Store `value` under `key`.
    Put(K, V),
    /// Delete `key`.
    Delete(K),
}

impl<K, V> Change<K, V> {
    /// The key this change is about.
    pub fn key(&self) -> &K {
        match self {
            Change::Put(k, _) | Change::Delete(k) => k,
        }
    }
}

/// The system of record the cache writes to (a database table, a service).
///
/// Implementations must be safe to call from any thread; a SQLite connection, for example, sits
/// behind a mutex. `write_batch` should apply the whole batch atomically (one transaction) when
/// the database can; its default applies the changes one by one, in order.
pub trait Writer<K, V>: Send + Sync + 'static {
    /// The database's error.
    type Error: std::error::Error + Send + Sync + 'static;

    /// Stores `value` under `key`.
    fn write(&self, key: &K, value: &V) -> Result<(), Self::Error>;

    /// Deletes `key` (deleting an absent key is not an error).
    fn delete(&self, key: &K) -> Result<(), Self::Error>;

    /// Applies `changes` in order; a key appears at most once per batch from write-behind.
    fn write_batch(&self, changes: &[Change<K, V>]) -> Result<(), Self::Error> {
        for change in changes {
            match change {
                Change::Put(k, v) => self.write(k, v)?,
                Change::Delete(k) => self.delete(k)?,
            }
        }
        Ok(())
    }
}

impl<K, V, W: Writer<K, V>> Writer<K, V> for std::sync::Arc<W> {
    type Error = W::Error;

    fn write(&self, key: &K, value: &V) -> Result<(), Self::Error> {
        (**self).write(key, value)
    }

    fn delete(&self, key: &K) -> Result<(), Self::Error> {
        (**self).delete(key)
    }

    fn write_batch(&self, changes: &[Change<K, V>]) -> Result<(), Self::Error> {
        (**self).write_batch(changes)
    }
}

/// What the cache does after a successful database write.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum WriteMode {
    /// Drop the cached entry; the next read loads the new value.
    #[default]
    Invalidate,
    /// Store the new value in the cache.
    Update,
}

/// Why a write-through write failed: the database refused it, and the cache was left untouched.
#[derive(Debug, thiserror::Error)]
#[error("database write failed (cache untouched): {0}")]
pub struct WriteError<E: std::error::Error + 'static>(#[source] pub E);

const STRIPES: usize = 64;

/// A cache whose writes go through the database first. See the [module docs](self).
pub struct WriteThrough<K, V, W> {
    cache: Cache<K, V>,
    writer: W,
    mode: WriteMode,
    stripes: Box<[Mutex<()>]>,
    hasher: BuildHasherDefault<DefaultHasher>,
}

impl<K, V, W> WriteThrough<K, V, W>
where
    K: Hash + Eq + Clone + Send + Sync + 'static,
    V: Clone + Send + Sync + 'static,
    W: Writer<K, V>,
{
    /// Writes through `writer` into `cache` in `mode`.
    pub fn new(cache: Cache<K, V>, writer: W, mode: WriteMode) -> Self {
        Self {
            cache,
            writer,
            mode,
            stripes: (0..STRIPES).map(|_| Mutex::new(())).collect(),
            hasher: BuildHasherDefault::default(),
        }
    }

    fn stripe(&self, key: &K) -> &Mutex<()> {
        &self.stripes[(self.hasher.hash_one(key) as usize) % STRIPES]
    }

    /// Writes `value` to the database; on success invalidates or updates the cache (by mode).
    /// On failure the cache is untouched and the database's error is returned.
    pub fn put(&self, key: K, value: V) -> Result<(), WriteError<W::Error>> {
        let _serial = self.stripe(&key).lock();
        self.writer.write(&key, &value).map_err(WriteError)?;
        match self.mode {
            WriteMode::Invalidate => {
                self.cache.invalidate(&key);
            }
            WriteMode::Update => {
                // Dropping the old value first means a value the cache refuses (too heavy; the
                // refused insert would keep the old one) is simply not cached: the database has
                // it. A read in between misses and loads the new value from the database.
                self.cache.invalidate(&key);
                self.cache.insert(key, value);
            }
        }
        Ok(())
    }

    /// Deletes `key` in the database; on success drops it from the cache.
    pub fn delete(&self, key: &K) -> Result<(), WriteError<W::Error>> {
        let _serial = self.stripe(key).lock();
        self.writer.delete(key).map_err(WriteError)?;
        self.cache.invalidate(key);
        Ok(())
    }

    /// The cached value of `key`, if any (a read-through loader is the cache's business).
    pub fn get(&self, key: &K) -> Option<V> {
        self.cache.get(key)
    }

    /// The cache written to.
    pub fn cache(&self) -> &Cache<K, V> {
        &self.cache
    }

    /// The database writer.
    pub fn writer(&self) -> &W {
        &self.writer
    }

    /// The mode chosen at construction.
    pub fn mode(&self) -> WriteMode {
        self.mode
    }
}
