//! # larder-server
//!
//! Larder's cache server: the Redis protocol (RESP2 and RESP3) over
//! [larder-engine](larder_engine), so that Redis clients, `redis-cli` and `redis-benchmark`
//! work unchanged while the data is kept, expired and evicted by the engine.
//!
//! ## Parts
//!
//! * [`server`] — the listener: `maxclients`, protected mode, active expiry, graceful shutdown.
//! * [`connection`] — one client: read, parse every complete request (pipelining), execute,
//!   write the replies in one batch. A pipelined batch is walked once before it runs, and the
//!   entries of its keys (and, in large collections, of its members) are prefetched
//!   ([`keyspace::Keyspace::prefetch`]), so that the batch's cache misses overlap.
//! * [`cmd`] — the command table and one module per command family.
//! * [`keyspace`] — the 16 databases over one engine store, `maxmemory` and its policies.
//!   Keys are stored as [`key::Key`]: up to 22 bytes inline, longer ones on the heap.
//! * [`memory`] — the allocator's figures (jemalloc), RSS and CPU time for INFO and for
//!   reconciling `maxmemory` with the memory the process really holds.
//! * [`value`] — what a key holds: strings, and hashes, lists, sets and sorted sets, each with
//!   a compact encoding for small collections and a large one (the slab table
//!   [`value::table`], whose entries never move, so `SCAN` cursors keep Redis's guarantee).
//!   String bytes are [`value::StrBytes`]: up to 14 inline, up to 128 in jemalloc's size
//!   classes, 129 to 256 in blocks of the [`value::arena`] (8 bytes apart where jemalloc's
//!   classes are 32 apart), longer in a boxed slice. The arena and `StrBytes` are the server's
//!   `unsafe` code besides two jemalloc controls; the arena's pages are bounded by the blocks in
//!   use plus one empty page per block size and the room scattered frees leave.
//! * [`events`] — the one hook every write calls ([`cmd::Ctx::modified`]), which feeds
//!   [`watch`] (`WATCH`), [`tracking`] (client-side caching invalidations), [`notify`]
//!   (keyspace notifications) and [`blocking`] (clients blocked in `BLPOP`, `BZPOPMIN`, ...,
//!   served by the writer before its reply); keys the engine expires or evicts reach the same
//!   consumers through its bounded departure record.
//! * [`pubsub`], [`client`] — channels and patterns; client handles and their bounded outboxes.
//! * [`monitor`] — `MONITOR`'s feed.
//! * [`config`] — the TOML file, flags and `CONFIG GET`/`SET`.
//!
//! ## Concurrency model
//!
//! A multi-threaded tokio runtime (one worker per core by default; with `--threads 1` tokio's
//! single-threaded runtime, which serves input in arrival order as Redis's event loop does, and
//! after a burst of input keeps polling its sockets for up to `busy-poll-us` before it sleeps:
//! [`busy_poll`]) runs one task per connection. Commands execute on the connection's task and go straight to the engine, whose
//! shards have their own reader-writer locks: a `GET` takes one shard's shared lock, a `SET`
//! one shard's exclusive lock. Single-key read-modify-write commands (`INCR`, `APPEND`, `SET
//! NX GET`, ...) are atomic through the engine's `compute`, under one shard lock. Commands
//! that must see several keys at once (`RENAME`, `MSETNX`, `FLUSHALL`, ...) take the server's
//! exclusive lock, which every other command takes shared, so they run alone — the atomicity
//! Redis gets from its single thread; `EXEC` holds it for the whole transaction. A blocked
//! client waits on its task without any lock; the writer that makes its key ready runs the
//! blocked command on its behalf (lock order: the blocking registry, then the server lock).
//! No lock is held across an `.await`.
//!
//! ## Bounds
//!
//! Requests are bounded by `proto-max-bulk-len` (512 MB) and the query-buffer limit (1 GB);
//! an inline request by 64 KB. Clients are bounded by `maxclients`. Messages pushed to a
//! subscriber are bounded by the pub/sub output-buffer limit (32 MB hard, 8 MB for 60 s soft);
//! a subscriber over it is disconnected and the publisher never waits. Data is bounded by
//! `maxmemory` through the engine's byte budget, which the server rescales `hz` times a second
//! so that the bytes the allocator reports for the whole process stay within `maxmemory`
//! ([`Keyspace::reconcile`](keyspace::Keyspace::reconcile)); one entry is weighed at most one
//! shard's share of that budget, so a big collection stays (and is evicted like any other).
//! A `MULTI` queue is bounded by the query-buffer limit; the record of keys the engine expired
//! or evicted by 65,536 keys between drains (over it, tracking clients are told to flush all);
//! the tracking table by `tracking-table-max-keys`; replies of random-count commands
//! (`SRANDMEMBER`, `HRANDFIELD`, `ZRANDMEMBER` with a negative count) by 2^27 elements.

pub mod blocking;
pub mod busy_poll;
pub mod client;
pub mod cmd;
pub mod config;
pub mod connection;
pub mod events;
pub use larder_engine::glob;
pub mod key;
pub mod keyspace;
pub mod memory;
pub mod monitor;
pub mod notify;
pub mod pubsub;
pub mod server;
pub mod shared;
pub mod tracking;
pub mod value;
pub mod watch;

pub use config::Config;
pub use server::{Server, run_blocking};

/// The Redis version Larder reports (`INFO`, `HELLO`): the one whose semantics it implements.
pub const REDIS_VERSION: &str = "7.0.15";
