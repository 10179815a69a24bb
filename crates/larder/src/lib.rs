//! # larder
//!
//! Application caching patterns, in-process and over the network, on larder-engine.
//!
//! ## Parts
//!
//! * [`Cache`] ([`cache`]) — the in-process cache: capacity in entries or weight, eviction
//!   policy, time to live, time to idle, per-entry [`Expiry`], eviction listener, statistics,
//!   and single-flight loads (`get_or_insert_with`, sync and async).
//!
//! ## Concurrency model
//!
//! A `Cache` is an `Arc` around an engine [`Store`](larder_engine::Store): a hit takes one shard
//! read lock and clones the value; writes take the shard's write lock. Loads run with no lock
//! held; one load per key is in flight at a time (blocking callers wait on a condition variable,
//! async callers on a `tokio::sync::Notify`), and every wait is bounded by the load timeout.
//!
//! ## Bounds
//!
//! The engine bounds the entries by the capacity; loads in flight are bounded by the distinct keys
//! being loaded; the eviction listener's backlog is 4,096 departures between deliveries.

mod block;
pub mod cache;
mod flight;
pub mod read_through;

pub use cache::{
    Cache, CacheBuilder, CacheStats, CachedEntry, EvictionListener, Expiry, LoadError, RemovalCause,
};
pub use larder_engine::{Clock, ManualClock, PolicyKind, SystemClock, Timestamp};
pub use read_through::{Loader, ReadThrough};
