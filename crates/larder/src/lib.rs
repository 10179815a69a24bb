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
//! ## Patterns
//!
//! Each pattern is a module with its own documentation, a runnable example under `examples/`
//! (a real database: bundled SQLite through rusqlite by default, PostgreSQL with the `postgres`
//! feature and `LARDER_PG_URL`; `.ci/postgres.sh` starts a throwaway server) and tests under
//! `tests/`:
//!
//! * **Cache-aside** ([`aside`], [`CacheAside`]): the application reads the cache, queries the
//!   database on a miss and fills; it writes the database, then deletes the key. A fill that
//!   raced with a write is undone (per-stripe generations), so the stale row never survives.
//!   `cargo run -p larder --example cache_aside`.
//! * **Read-through** ([`read_through`], [`ReadThrough`], [`Loader`]): the cache loads misses
//!   through an async `Loader` (`load`, batched `load_all`); one load per key in flight, shared by
//!   blocking and async readers; errors are shared with the waiters and not cached unless
//!   negative caching is on (its own TTL). `cargo run -p larder --example read_through`.
//! * **Refresh-ahead** ([`refresh`], [`RefreshAhead`]): a value older than `refresh_after` is
//!   served and reloaded once in the background; a failed reload keeps the old value; optionally
//!   only hot keys (read rate above a threshold over a sliding window) are refreshed ahead.
//!   `cargo run -p larder --example refresh_ahead`.
//! * **Probabilistic early expiration** ([`xfetch`], [`XFetch`]): a reader recomputes when
//!   `now − δ·β·ln(rand()) ≥ expiry`, δ the key's last recompute time, β configurable (default
//!   1): no stampede at expiry, no miss under steady traffic. `cargo run -p larder --example
//!   xfetch` measures it on a real clock; `cargo run -p larder --example stampede` shows single
//!   flight against 1,000 concurrent readers.
//! * **Write-through** ([`write_through`]): a `Writer` writes the database first; the cache
//!   changes only after it succeeded (write-invalidate or write-update mode).
//!   `cargo run -p larder --example write_through`.
//! * **Write-behind** ([`write_behind`]): writes are acknowledged once queued (bounded queue),
//!   coalesced per key, written in batches by size and time with retries and backoff, order kept
//!   per key, flushed on `flush()` and shutdown; the loss window (count and age of acknowledged,
//!   unwritten changes) is exposed and a crash names exactly the writes it lost.
//!   `cargo run -p larder --example write_behind`.
//! * **Leases** ([`lease`]): a miss hands out a token; a fill with a token older than the last
//!   invalidation is rejected; other readers wait (bounded) or take the stale value.
//!   `cargo run -p larder --example leases`.
//! * **Versioned keys** ([`versioned`]): a current version per entity, switched atomically; old
//!   versions expire on their own. `cargo run -p larder --example versioned_keys`.
//! * **Read-your-writes** ([`consistency`]): a per-session bypass window after a write, and
//!   minimum-version reads (`X-Min-Version` style). `cargo run -p larder --example read_your_writes`.
//! * **Client-side sharding** ([`shard`], [`Sharder`]): which server owns a key — modulo, key
//!   ranges, or a consistent-hash ring with virtual nodes ([`HashRing`], ketama style, 160
//!   points per node, 3 probes per key for an even load; [`HashRing::ketama`] builds libketama's continuum, so the placement
//!   matches libmemcached/twemproxy/uhashring clients of the same pool); adding a node moves
//!   keys only to it, removing one only from it. `cargo run -p larder --release --example
//!   sharding` prints the moved fraction and balance, over many sets of node names.
//! * **L1/L2 tiering** ([`tier`], [`Tier`], over [`remote`]'s RESP3/RESP2 client
//!   [`RemoteClient`]): an in-process L1 in front of a remote L2 (`larder serve` or
//!   redis-server); the L1 is invalidated by the server's `CLIENT TRACKING` (default, `BCAST`
//!   with prefixes, or `OPTIN`; on RESP2 through a second connection subscribed to
//!   `__redis__:invalidate`) or by an application pub/sub channel ([`Invalidation`]); the L1
//!   TTL bounds staleness, a dropped connection flushes the L1 and the tier reconnects with
//!   its invalidation re-enabled.
//!   `cargo run -p larder --release --example l1l2_latency` measures invalidation latency.
//! * **Hot keys** ([`hotkeys`]): detection over a sliding window (the engine's top-k), an L1
//!   that admits only hot keys ([`hotkeys::HotTier`], promotion), and key splitting into N
//!   replicas `key#r` ([`hotkeys::SplitKeys`]: writes update all, reads pick one at random).
//!   `cargo run -p larder --example hot_keys`.
//! * **Warming** ([`warm`]): preload from a key list or the database's top-N query, rate-limited,
//!   with a progress bar; background refresh of popular keys. `cargo run -p larder --example warming`.
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

pub mod aside;
mod block;
pub mod cache;
pub mod consistency;
mod flight;
pub mod hotkeys;
pub mod lease;
pub mod read_through;
pub mod refresh;
pub mod remote;
pub mod shard;
pub mod tier;
pub mod versioned;
pub mod warm;
pub mod write_behind;
pub mod write_through;
pub mod xfetch;

pub use aside::CacheAside;
pub use cache::{
    Cache, CacheBuilder, CacheKey, CacheStats, CacheValue, CachedEntry, EvictionListener, Expiry,
    LoadError, RemovalCause,
};
pub use larder_engine::{Clock, ManualClock, PolicyKind, SystemClock, Timestamp};
pub use read_through::{Loader, ReadThrough};
pub use refresh::{RefreshAhead, RefreshAheadBuilder};
pub use remote::{Protocol, RemoteClient, RemoteConfig, RemoteError};
pub use shard::{HashRing, ModuloSharder, RangeSharder, RingScheme, ShardError, Sharder};
pub use tier::{Invalidation, Tier, TierConfig, TierStats};
pub use xfetch::XFetch;
