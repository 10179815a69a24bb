//! # larder-engine
//!
//! The one place where Larder's entries live, expire and get evicted. The Redis-compatible
//! server keeps its values here, the HTTP proxy its responses, the `larder` library its
//! application values, and the simulator replays traces through the very same policy code.
//! The engine does no I/O and no logging.
//!
//! ## Parts
//!
//! * [`Store`] — the concurrent cache: a power-of-two number of [`Shard`]s, each behind a
//!   reader-writer lock. Build it with [`Store::builder`].
//! * [`Shard`] — a complete single-threaded cache (table, slab, policy, budget, TTL, statistics).
//! * [`table::SlotTable`] — the index from key hash to slot number in 64-byte groups (a hit costs
//!   two dependent memory loads: the group, then the slot); the server's collections use it too.
//!   The simulator uses it directly, with no locking, so a hit ratio measured offline is the one
//!   the store achieves with one shard.
//! * [`policy`] — eviction policies behind one trait with a written contract: exact LRU, FIFO,
//!   LFU with aging, Random, ARC, SIEVE, W-TinyLFU, and S3-FIFO with a fixed small queue or with
//!   an adaptive one (`s3fifo-adaptive`, the default: its small queue's share follows recent
//!   returns to the small and main queues' ghosts, so that it handles recency-heavy traces and
//!   loops alike; the argument and the figures are in `docs/hit-ratio.md`).
//! * [`Weigher`] — capacity in entries ([`Unit`]) or in bytes (any `Fn(&K, &V) -> u32`).
//! * [`Clock`] — injected time; [`ManualClock`] for tests and replays.
//! * [`stats`] — hits, misses by reason, insertions, evictions, expirations, weights; per
//!   namespace hit ratios ([`namespace`]); hot keys over a sliding window ([`hotkeys`]).
//! * [`mrc`] — an online estimate of LRU's miss-ratio curve (SHARDS over a fixed-size sample,
//!   by default 98,304 keys in 3.9 MiB, within a point of exact LRU from 1,000 entries on the
//!   test traces), behind [`Store::miss_ratio_curve`] and [`Store::predicted_hit_ratio`].
//! * [`flight`] — single flight: one load per key in flight, used by
//!   [`Store::get_or_insert_with`].
//! * [`prefetch`] — a cache-line prefetch hint, behind [`Store::prefetch_index`],
//!   [`Store::prefetch_slot`] and [`Store::prefetch_value`]: a caller with a batch of keys
//!   (the server, for a pipelined batch) asks for the lines of all of them before the first
//!   lookup. The engine's only `unsafe` call (the intrinsic; a hint cannot fault).
//! * [`glob`] — glob patterns over keys and names (Redis's syntax, bounded backtracking), for
//!   the faces that select keys by pattern (the server's `KEYS`/`SCAN`, the proxy's purges).
//!
//! ## Concurrency model
//!
//! A key is hashed once per call (foldhash, randomly seeded per store); the hash picks the shard
//! and probes its table. **A hit takes only the shard's shared lock.** Every hit bumps a 2-bit
//! access counter kept inside the entry with a relaxed atomic store, which is all the default
//! policy, the adaptive S3-FIFO, needs (SIEVE reads it as its visited bit; FIFO and Random ignore
//! it). Exact LRU, LFU, ARC and W-TinyLFU need to see each hit in order, so the store pushes the
//! hit into a 64-slot lossy buffer per shard and replays it under the exclusive lock, taken by the
//! next writer or, with `try_write`, by the reader that fills the buffer — reads never block on it,
//! and when the buffer is full further hits are dropped (the policy becomes approximate under
//! contention, as in Caffeine). Writes (insert, remove, TTL changes, eviction, expiry) take the
//! shard's exclusive lock for O(1) work plus the evictions they cause. Loads in
//! [`Store::get_or_insert_with`] run with no lock held.
//!
//! ## Expiry: why sampling
//!
//! Each entry has an optional deadline, checked lazily on every access (an expired entry is never
//! returned). Active expiry reclaims expired entries that nobody reads without scanning the store:
//! each shard keeps an index of the slots that carry a TTL, and [`Store::expire_cycle`] samples 20
//! of them at random per round, reclaims those expired, and repeats while more than a quarter of a
//! sample had expired — Redis's algorithm, bounding the expired-but-resident fraction near 25 %
//! at a cost proportional to the work found. Inserts sample two entries as they go, so a store
//! without a maintenance task still reclaims. We chose sampling over a timer wheel because it
//! costs no per-entry links (the index is 4 bytes per TTL entry, nothing for entries without a
//! TTL), needs no tick to keep up with, and matches Redis's observable behaviour, which the server
//! must reproduce; a timer wheel would reclaim more promptly at the price of 8–16 bytes per entry
//! and re-linking on every TTL change.
//!
//! ## Bounds
//!
//! * Weight: after every write a shard's resident weight is within its budget, and the shards'
//!   budgets add up exactly to the store's capacity. An entry heavier than a shard's budget is
//!   refused with [`InsertError::TooLarge`].
//! * Memory: per entry, the slab slot (key, value, a 4-byte weight, a 1-byte access counter and
//!   a deadline flag: 8 bytes beyond a `u64` key and value), for an entry with a TTL 8 bytes of
//!   deadline in a page allocated on demand, 6.1 to 9.1 bytes of index ([`table`]: a tag byte
//!   and a 4-byte slot number in 64-byte groups of 12, at most 7/8 full), and the policy's
//!   metadata (S3-FIFO: about 5 bytes, a slot number in a FIFO ring and a byte per slot, plus a
//!   ghost of about 10 bytes per remembered key, 0.9 per entry, and for the adaptive variant a
//!   second ghost, 0.1 per entry; LRU, FIFO and SIEVE: 8 bytes). Measured: 29.4 bytes per entry
//!   for the adaptive S3-FIFO, 28.9 for S3-FIFO, 22.4 for LRU at a million entries; the figures
//!   are in `docs/benchmarks.md`.
//! * The departure memory (miss reasons) has at most the configured number of 2-byte cells (1,024
//!   per shard to start, two per slot as the shard grows); namespace tracking
//!   keeps at most the configured number of namespaces; hot-key tracking keeps at most `2 × top`
//!   keys; the hit buffer is 64 slots per shard; single-flight state exists only while a load
//!   runs, and waiters wait at most the configured timeout.

pub mod clock;
mod deadlines;
pub mod departed;
pub mod flight;
pub mod glob;
pub mod hotkeys;
pub mod mrc;
pub mod namespace;
pub mod policy;
pub mod prefetch;
mod rng;
pub mod shard;
mod slab;
pub mod stats;
mod store;
mod sync;
pub mod table;
pub mod weigher;

pub use clock::{Clock, ManualClock, SystemClock, Timestamp};
pub use departed::DepartureLog;
/// The hasher builders: `RandomState` (random seed, the store's default) and `FixedState` (fixed
/// seed, for reproducible simulations).
pub use foldhash::fast::{FixedState, RandomState};
pub use policy::{AnyPolicy, Policy, PolicyKind};
pub use shard::{
    CLASSES, Compute, EntryMut, InsertError, NEVER, Shard, ShardConfig, VolatileCandidate,
    VolatileRank,
};
pub use stats::{Departure, MissReason, Snapshot};
pub use store::{KeyBytes, LoadError, Store, StoreBuilder};
pub use weigher::{Unit, Weigher};
