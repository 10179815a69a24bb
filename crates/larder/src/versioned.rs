//! Versioned keys: a new version is a new key; the current-version pointer switches atomically
//! and old versions expire on their own.
//!
//! Instead of overwriting `product:123`, a [`Versioned`] cache stores `(product:123, v7)`,
//! `(product:123, v8)`, ... as separate entries ([`VersionKey`]) and keeps, per entity, a pointer
//! to the current version. [`Versioned::publish`] stores the new version's value first and then
//! switches the pointer in one atomic step (a read-modify-write under the pointer's shard lock),
//! so a reader sees the whole old value or the whole new one, never a mix, and never a pointer to
//! a version that was not stored. The version that was current gets a TTL (`grace`): readers that
//! resolved it just before the switch can still read it, and it leaves the cache by itself — no
//! invalidation message is needed. [`Versioned::switch_to`] points back at an older version still
//! cached (a rollback).
//!
//! Versions are either drawn from the table's own counter ([`Versioned::publish`]: unique for the
//! table's lifetime, so an evicted pointer never makes a version number come back) or supplied
//! by the database ([`Versioned::publish_version`], e.g. a row's `rev` column), in which case a
//! version not newer than the current one is refused — a late writer cannot move the pointer
//! backwards.
//!
//! Bounds: values live in the caller's [`Cache`]; pointers live in an engine store of at most
//! `max_entities` entries (an entity whose pointer was evicted simply misses).

use crate::Cache;
use larder_engine::{Clock, Compute, NEVER, Store, SystemClock};
use std::hash::Hash;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// The cache key of one version of one entity.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct VersionKey<E> {
    /// The entity (`product:123`).
    pub entity: E,
    /// The version.
    pub version: u64,
}

/// Why a version could not be published or switched to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum VersionError {
    /// The version is not newer than the current one.
    #[error("version {version} is not newer than the current version {current}")]
    NotNewer {
        /// The version offered.
        version: u64,
        /// The current version.
        current: u64,
    },
    /// The version is no longer (or was never) cached.
    #[error("version {0} is not cached")]
    Gone(u64),
    /// The cache or the pointer table refused the entry (too heavy or full).
    #[error("the cache refused the entry")]
    Rejected,
}

/// A cache of versioned entities. See the [module docs](self).
pub struct Versioned<E, V> {
    values: Cache<VersionKey<E>, V>,
    current: Store<E, u64>,
    next: AtomicU64,
    grace: Duration,
}

impl<E, V> Versioned<E, V>
where
    E: Hash + Eq + Clone + Send + Sync + 'static,
    V: Clone + Send + Sync + 'static,
{
    /// Versions kept in `values`; the pointers of at most `max_entities` entities; old versions
    /// expire `grace` after they stop being current.
    pub fn new(values: Cache<VersionKey<E>, V>, max_entities: u64, grace: Duration) -> Self {
        Self::with_clock(values, max_entities, grace, Arc::new(SystemClock))
    }

    /// [`Versioned::new`] with the pointers' clock injected (use the cache's clock).
    pub fn with_clock(
        values: Cache<VersionKey<E>, V>,
        max_entities: u64,
        grace: Duration,
        clock: Arc<dyn Clock>,
    ) -> Self {
        Self {
            values,
            current: Store::builder(max_entities.max(1)).clock(clock).build(),
            next: AtomicU64::new(1),
            grace,
        }
    }

    /// The current version of `entity`.
    pub fn current_version(&self, entity: &E) -> Option<u64> {
        self.current.peek(entity)
    }

    /// The current version of `entity` and its value.
    pub fn get(&self, entity: &E) -> Option<(u64, V)> {
        let version = self.current.peek(entity)?;
        let value = self.values.get(&VersionKey {
            entity: entity.clone(),
            version,
        })?;
        Some((version, value))
    }

    /// A given version of `entity`, current or not, while it is cached.
    pub fn get_version(&self, entity: &E, version: u64) -> Option<V> {
        self.values.get(&VersionKey {
            entity: entity.clone(),
            version,
        })
    }

    /// Stores `value` as a new version of `entity` (numbered by this table) and makes it current.
    pub fn publish(&self, entity: E, value: V) -> Result<u64, VersionError> {
        let version = self.next.fetch_add(1, Ordering::Relaxed);
        self.publish_version(entity, version, value)
    }

    /// Stores `value` as `version` of `entity` (a database version) and makes it current, if it
    /// is newer than the current version.
    pub fn publish_version(&self, entity: E, version: u64, value: V) -> Result<u64, VersionError> {
        if let Some(current) = self.current.peek(&entity)
            && current >= version
        {
            return Err(VersionError::NotNewer { version, current });
        }
        let key = VersionKey {
            entity: entity.clone(),
            version,
        };
        self.values.insert(key.clone(), value);
        if !self.values.contains_key(&key) {
            return Err(VersionError::Rejected);
        }
        // Keep the table's own counter ahead of database versions, so the two never collide.
        self.next.fetch_max(version + 1, Ordering::Relaxed);
        match self.swap(entity, version, |current| current < version) {
            Ok(_) => Ok(version),
            Err(e) => {
                self.values.invalidate(&key);
                Err(e)
            }
        }
    }

    /// Makes an older (or newer) version that is still cached current again.
    pub fn switch_to(&self, entity: E, version: u64) -> Result<(), VersionError> {
        let key = VersionKey {
            entity: entity.clone(),
            version,
        };
        let Some(value) = self.values.get(&key) else {
            return Err(VersionError::Gone(version));
        };
        // The target version becomes current: it must not expire with its old grace TTL (it
        // gets the cache's own expiry again).
        self.values.insert(key, value);
        self.swap(entity, version, |_| true).map(|_| ())
    }

    /// Points `entity` at `version` if `accept(current)` (current is 0 when there is none), then
    /// gives the previously current version its grace TTL. Returns the previous version.
    fn swap(
        &self,
        entity: E,
        version: u64,
        accept: impl FnOnce(u64) -> bool,
    ) -> Result<Option<u64>, VersionError> {
        let hash = self.current.hash(&entity);
        let swapped = self
            .current
            .compute(
                hash,
                &entity,
                |e| e.clone(),
                |entry| {
                    let current = entry.as_ref().map_or(0, |e| *e.value);
                    if !accept(current) {
                        return (
                            Compute::Keep,
                            Err(VersionError::NotNewer { version, current }),
                        );
                    }
                    match entry {
                        Some(e) => {
                            *e.value = version;
                            (Compute::Updated, Ok(Some(current)))
                        }
                        None => (Compute::Put(version, NEVER), Ok(None)),
                    }
                },
            )
            .map_err(|_| VersionError::Rejected)??;
        if let Some(previous) = swapped
            && previous != version
        {
            let key = VersionKey {
                entity,
                version: previous,
            };
            // Versions are immutable, so storing the same value again with the grace TTL is
            // the TTL change.
            if let Some(value) = self.values.get(&key)
                && self.current.peek(&key.entity) != Some(previous)
            {
                self.values.insert_with_ttl(key, value, self.grace);
            }
        }
        Ok(swapped)
    }

    /// Forgets `entity`'s pointer; its versions expire or are evicted by themselves.
    pub fn forget(&self, entity: &E) -> Option<u64> {
        self.current.remove(entity)
    }

    /// The cache holding the versions.
    pub fn values(&self) -> &Cache<VersionKey<E>, V> {
        &self.values
    }
}
