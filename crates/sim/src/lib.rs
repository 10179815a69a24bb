//! Larder's trace simulator.
//!
//! `larder-sim` is the offline-analysis part of Larder: it replays real and
//! synthetic cache traces against the engine's eviction policies, so that a
//! hit ratio can be measured, compared with published numbers and with
//! Belady's optimum, before a policy or a capacity is chosen for `larder
//! serve`.
//!
//! # Parts
//!
//! * [`trace`] — read a trace file into [`Request`]s (`key: u64`, `size: u32`):
//!   [`open`] (format guessed from the file name), [`open_as`] (explicit
//!   format), [`read`] (an already-decompressed stream), [`traces_dir`] (where
//!   the real traces of the project live). zstd, gzip and xz are decompressed
//!   transparently, chosen by magic bytes.
//! * [`generate`] — seeded, deterministic synthetic workloads: Zipf(α), the
//!   seed's 80/20 workload, a hot set polluted by scans, loops.
//! * [`replay`] — a trace through the engine's own single-threaded `Shard`
//!   and policy code (fixed-seed hasher, demand fill), or through Belady's
//!   optimum ([`opt`]), counting entries or bytes.
//! * [`run`] — the grid runner behind `larder sim`: (policy, size) pairs in
//!   parallel on scoped threads, sizes absolute, relative to the unique keys
//!   or in bytes, miss-ratio curves, text/CSV/JSON reports and SVG plots.
//! * [`claims`] — the specification's claims reproduced as simulations:
//!   the 80/20 policy table, key remapping on a hash ring, multi-layer
//!   aggregate hit ratio, and stampede protection.
//!
//! # Concurrency
//!
//! Every replay is single-threaded and deterministic; the runner parallelises
//! across (policy, size) pairs only, so results do not depend on the thread
//! count.
//!
//! # Formats
//!
//! | [`TraceFormat`] | layout | key | size |
//! |---|---|---|---|
//! | [`ArcLis`](TraceFormat::ArcLis) | text `start n ignore reqno` | `start..start+n`, one request each | 1 |
//! | [`Lirs`](TraceFormat::Lirs) | text, one integer per line, `*` lines skipped | the integer | 1 |
//! | [`CaffeineI64`](TraceFormat::CaffeineI64) | big-endian `i64` stream | the `i64` bits | 1 |
//! | [`Cache2kI32`](TraceFormat::Cache2kI32) | big-endian `i32` stream | sign-extended | 1 |
//! | [`OracleGeneral`](TraceFormat::OracleGeneral) | 24-byte LE records `{u32 ts; u64 id; u32 size; i64 next}` | `id` | `size` |
//! | [`AdaptSize`](TraceFormat::AdaptSize) | text `time id size` | [`id_size_key`]`(id, size)` | `size` |
//! | [`Csv`](TraceFormat::Csv) | text `key[,size]`, optional header | the `u64`, else [`fnv1a64`] of the text | `size` or 1 |
//!
//! # Bounds
//!
//! * A trace is read whole into memory: 16 bytes per request (the ARC `P6`
//!   trace, 12.7 million requests, takes about 200 MB); Belady's optimum adds
//!   8 bytes per request for the next-use table.
//! * A text line is at most [`MAX_LINE_LEN`] bytes and an ARC line expands to
//!   at most [`MAX_ARC_RUN`] requests; beyond, reading fails with an error.
//! * No input makes a reader panic: malformed text is a [`TraceError`] with
//!   the file and line number, a binary trace that ends inside a record is
//!   [`TraceError::Truncated`] with the record index and byte offset.
//! * The decompressed size is not bounded other than by the requests it
//!   yields; read only traces you mean to simulate.
//!
//! ```
//! use larder_sim::{TraceFormat, read};
//!
//! let requests = read(&b"3\n*\n4\n3\n"[..], TraceFormat::Lirs)?;
//! assert_eq!(requests.len(), 3);
//! # Ok::<(), larder_sim::TraceError>(())
//! ```

pub mod claims;
pub mod generate;
pub mod opt;
pub mod replay;
pub mod run;
pub mod trace;

pub use trace::{
    MAX_ARC_RUN, MAX_LINE_LEN, Request, Trace, TraceError, TraceFormat, decompress, fnv1a64,
    guess_format, id_size_key, open, open_as, read, shared_trace, traces_dir,
};
