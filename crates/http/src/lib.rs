//! # larder-http
//!
//! The HTTP caching reverse proxy behind `larder edge`: a shared cache with RFC 9111 semantics
//! (freshness, validation, `Vary`, invalidation, stale serving), RFC 9211 `Cache-Status`,
//! RFC 9213 targeted fields (`CDN-Cache-Control`, `Larder-Cache-Control`), request coalescing,
//! configurable cache keys, and tiering (an edge's upstream may be another edge, the shield).
//! Responses are stored in larder-engine's `Store`, weighed in bytes.
//!
//! ## Parts
//!
//! | module | idea |
//! |---|---|
//! | [`cache_control`] | directive parsing (request and response) |
//! | [`freshness`] | freshness lifetime, heuristics, age |
//! | [`storable`] | whether a response may be stored, and its reuse policy |
//! | [`vary`] | secondary keys |
//! | [`key`] | primary keys per path prefix; unkeyed inputs removed upstream |
//! | [`stored`] | stored responses and the [`ResponseCache`] (remove, mark stale, visit) |
//! | [`coalesce`] | one upstream request per key in flight |
//! | [`headers`] | hop-by-hop fields, `Cache-Status`, 304 merging |
//! | [`range`] | single byte ranges served from stored responses |
//! | [`upstream`] | the pooled upstream client with timeouts |
//! | [`proxy`] | the request path: lookup → serve / forward → store |
//! | [`server`] | the client-facing listener |
//! | [`smuggling`] | requests with both Content-Length and Transfer-Encoding refused |
//! | [`config`] | `edge.toml` |
//! | [`purge`] | purge selectors (URL, prefix, glob, tag, all), hard/soft, the tag index |
//! | [`admin`] | the admin listener (bearer token): purge, metrics, fan-out to peer edges |
//! | [`metrics`] | counters on the request path, Prometheus text exposition |
//! | [`esi`] | ESI 1.0 subset: parser, assembler fetching fragments through the cache |
//!
//! ## Concurrency model
//!
//! One tokio task per client connection. The cache is the engine's sharded store: a hit clones
//! an `Arc` under a shard read lock and nothing is held across `.await`. Misses on one key are
//! coalesced on a `watch` channel ([`coalesce`]); a stale-while-revalidate refresh is one
//! spawned task per key, started only when no fetch for that key is in flight. Metrics are
//! relaxed atomic counters. The tag index is one mutex taken when a response is stored or
//! purged, never on a hit. The admin listener runs on the same runtime, one task per
//! connection; a purge's fan-out is one task per peer. An ESI document's includes are fetched
//! by one task each (aborted if the client goes away).
//!
//! ## Bounds
//!
//! Stored bytes (`capacity_bytes`), object size (`max_object_bytes`; larger bodies stream
//! through unstored), variants per key (`max_variants`), waiters per key
//! (`coalesce_max_waiters`) and their wait (`coalesce_timeout_ms`), request header size
//! (`max_request_header_bytes`), and time: connect, response header and client header timeouts.
//! Uncacheable bodies are streamed, never buffered whole. The tag index (2^20 pairs; a purge by
//! tag scans when it overflowed), admin bodies and selectors per purge, metrics prefixes (64),
//! and ESI (depth, includes per document, time per fragment, assembled size) are bounded too.

pub mod admin;
pub mod body;
pub mod cache_control;
pub mod coalesce;
pub mod config;
pub mod error;
pub mod esi;
pub mod freshness;
pub mod headers;
pub mod key;
pub mod metrics;
pub mod proxy;
pub mod purge;
pub mod range;
pub mod server;
pub mod smuggling;
pub mod storable;
pub mod stored;
pub mod upstream;
pub mod vary;

pub use config::{EdgeConfig, KeyRule, Segment};
pub use error::{EdgeError, UpstreamError};
pub use proxy::Edge;
pub use server::serve;
pub use stored::{ResponseCache, StoredResponse};
