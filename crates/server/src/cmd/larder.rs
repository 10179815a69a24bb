//! `LARDER`: what the cache is doing, beyond what Redis's INFO can say.
//!
//! * `LARDER STATS` — hits, misses by reason (never cached, expired, evicted, removed),
//!   evictions, expirations, the hit ratio overall and per namespace (the key prefix before the
//!   first `:`), the policy and the data's weight against its budget. A map (RESP3) or a flat
//!   list of name/value pairs (RESP2).
//! * `LARDER HOTKEYS [n]` — the `n` (default 10) most read keys over the last minute, hottest
//!   first: `[key, estimated reads, error bound, reads per second]` each. Reads are sampled one
//!   in eight, so a key needs a few reads to show up; at most `hotkeys-top` keys are tracked.
//! * `LARDER MRC [points]` — the estimated miss-ratio curve of LRU over the reads since start
//!   (or `CONFIG RESETSTAT`): `points` (default 10) pairs `[cache size in keys, hit ratio]`.
//! * `LARDER PREDICT [multiplier]` — the hit ratio LRU would reach with `multiplier` (default
//!   2) times the memory; needs `maxmemory` with an `allkeys-*` policy.
//! * `LARDER HELP`.

use super::info::predicted_hit_ratio;
use super::server::{help, subcommand_syntax_error};
use super::{Ctx, Spec, err, flag, int_arg};
use crate::keyspace::{ENTRY_OVERHEAD, MaxmemoryPolicy};
use larder_engine::namespace::NamespaceStats;
use std::sync::atomic::Ordering;

/// The commands of this module.
pub static SPECS: &[Spec] = &[Spec {
    name: "larder",
    arity: -2,
    flags: flag::LOADING | flag::STALE,
    keys: (0, 0, 0),
    group: "server",
    summary: "Larder's cache statistics: misses by reason, namespaces, hot keys, miss-ratio curve",
    since: "7.0.0",
    handler: larder,
}];

/// Hot keys `LARDER HOTKEYS` lists by default.
const DEFAULT_HOT_KEYS: usize = 10;
/// Points `LARDER MRC` gives by default, and at most.
const DEFAULT_MRC_POINTS: usize = 10;
const MAX_MRC_POINTS: usize = 1000;

fn larder(ctx: &mut Ctx<'_>, args: &[&[u8]]) {
    let sub = String::from_utf8_lossy(args[1]).to_ascii_lowercase();
    match (sub.as_str(), args.len()) {
        ("stats", 2) => stats(ctx),
        ("hotkeys", 2 | 3) => hotkeys(ctx, args.get(2).copied()),
        ("mrc", 2 | 3) => mrc(ctx, args.get(2).copied()),
        ("predict", 2 | 3) => predict(ctx, args.get(2).copied()),
        ("help", 2) => help(
            ctx,
            "larder",
            &[
                "STATS",
                "    Hits, misses by reason, evictions, expirations, hit ratio overall and per namespace.",
                "HOTKEYS [<count>]",
                "    The most read keys over the last minute: key, reads, error bound, reads per second.",
                "MRC [<points>]",
                "    Estimated LRU miss-ratio curve: [cache size in keys, hit ratio] pairs.",
                "PREDICT [<multiplier>]",
                "    The hit ratio LRU would reach with <multiplier> (default 2) times the memory.",
            ],
        ),
        _ => subcommand_syntax_error(ctx, args),
    }
}

/// A positive count argument, or the default; `None` after replying the error.
fn count_arg(ctx: &mut Ctx<'_>, arg: Option<&[u8]>, default: usize, max: usize) -> Option<usize> {
    let Some(arg) = arg else {
        return Some(default);
    };
    match int_arg(arg) {
        Some(n) if n > 0 => Some((n as usize).min(max)),
        Some(_) => {
            ctx.error("ERR value is out of range, must be positive");
            None
        }
        None => {
            ctx.error(err::NOT_INTEGER);
            None
        }
    }
}

/// What `LARDER STATS` and `INFO larder` report.
pub struct Figures {
    /// `maxmemory-policy`.
    pub maxmemory_policy: String,
    /// The engine policy that evicts (`none` for `noeviction`, `volatile-sampling` for the
    /// `volatile-*` policies, which sample keys with a TTL instead).
    pub engine_policy: String,
    /// Hits over lookups.
    pub hit_ratio: f64,
    /// The counters, in report order.
    pub counters: Vec<(&'static str, u64)>,
    /// Hit ratio per namespace, busiest first.
    pub namespaces: Vec<NamespaceStats>,
}

/// Gathers the figures once.
pub fn figures(ctx: &Ctx<'_>) -> Figures {
    let keyspace = &ctx.shared.keyspace;
    let s = keyspace.store().stats();
    let (maxmemory, policy) = keyspace.limit();
    let maxmemory_policy = ctx
        .shared
        .config
        .read()
        .maxmemory_policy
        .to_ascii_lowercase();
    let engine_policy = match policy {
        MaxmemoryPolicy::AllKeys(kind) => kind.to_string(),
        MaxmemoryPolicy::Volatile(_) => "volatile-sampling".to_owned(),
        MaxmemoryPolicy::NoEviction => "none".to_owned(),
    };
    let arena = crate::value::arena::ARENA.stats();
    let alloc = crate::memory::allocator_stats();
    let budget = if maxmemory == 0 {
        0
    } else {
        keyspace.data_budget()
    };
    Figures {
        maxmemory_policy,
        engine_policy,
        hit_ratio: s.hit_ratio(),
        counters: vec![
            ("keys", s.entries),
            ("data_bytes", s.weighted_size),
            ("data_budget", budget),
            ("entry_overhead", ENTRY_OVERHEAD as u64),
            ("engine_bytes", keyspace.store().heap_bytes() as u64),
            ("string_arena_bytes", arena.bytes() as u64),
            ("string_arena_blocks", arena.blocks as u64),
            ("freed_pages_counted", alloc.map_or(0, |a| a.freed_pages)),
            ("hits", s.hits),
            ("misses", s.misses.total()),
            ("misses_never_cached", s.misses.never_cached),
            ("misses_expired", s.misses.expired),
            ("misses_evicted", s.misses.evicted),
            ("misses_removed", s.misses.removed),
            ("insertions", s.insertions),
            ("updates", s.updates),
            ("removals", s.removals),
            ("evictions", s.evictions),
            (
                "volatile_evictions",
                ctx.shared.stats.volatile_evictions.load(Ordering::Relaxed),
            ),
            ("expirations", s.expirations),
        ],
        namespaces: keyspace.namespaces().snapshot(),
    }
}

fn stats(ctx: &mut Ctx<'_>) {
    let f = figures(ctx);
    let r = &mut ctx.reply;
    r.map(f.counters.len() + 4);
    r.bulk(b"maxmemory_policy");
    r.bulk(f.maxmemory_policy.as_bytes());
    r.bulk(b"engine_policy");
    r.bulk(f.engine_policy.as_bytes());
    for (name, value) in &f.counters {
        r.bulk(name.as_bytes());
        r.integer(*value as i64);
    }
    r.bulk(b"hit_ratio");
    r.double(f.hit_ratio);
    r.bulk(b"namespaces");
    r.array(f.namespaces.len());
    for ns in &f.namespaces {
        r.map(4);
        r.bulk(b"namespace");
        r.bulk(ns.namespace.as_bytes());
        r.bulk(b"hits");
        r.integer(ns.hits as i64);
        r.bulk(b"misses");
        r.integer(ns.misses as i64);
        r.bulk(b"hit_ratio");
        r.double(ns.hit_ratio());
    }
}

fn hotkeys(ctx: &mut Ctx<'_>, arg: Option<&[u8]>) {
    let Some(n) = count_arg(ctx, arg, DEFAULT_HOT_KEYS, 4096) else {
        return;
    };
    let hot = ctx.shared.keyspace.hot_keys(n);
    ctx.reply.array(hot.len());
    for key in hot {
        ctx.reply.array(4);
        ctx.reply.bulk(&key.key);
        ctx.reply.integer(key.count as i64);
        ctx.reply.integer(key.error as i64);
        ctx.reply.double(key.rate_per_sec);
    }
}

fn mrc(ctx: &mut Ctx<'_>, arg: Option<&[u8]>) {
    let Some(points) = count_arg(ctx, arg, DEFAULT_MRC_POINTS, MAX_MRC_POINTS) else {
        return;
    };
    let curve = ctx.shared.keyspace.store().miss_ratio_curve(points);
    ctx.reply.array(curve.len());
    for (size, hit_ratio) in curve {
        ctx.reply.array(2);
        ctx.reply.integer(size as i64);
        ctx.reply.double(hit_ratio);
    }
}

fn predict(ctx: &mut Ctx<'_>, arg: Option<&[u8]>) {
    let multiplier = match arg {
        None => 2.0,
        Some(a) => match std::str::from_utf8(a)
            .ok()
            .and_then(|s| s.parse::<f64>().ok())
        {
            Some(m) if m.is_finite() && m > 0.0 => m,
            _ => return ctx.error(err::NOT_FLOAT),
        },
    };
    let (maxmemory, policy) = ctx.shared.keyspace.limit();
    if maxmemory == 0 || !matches!(policy, MaxmemoryPolicy::AllKeys(_)) {
        return ctx.error(
            "ERR LARDER PREDICT needs a maxmemory and an allkeys-* policy: without them the cache has no size to scale",
        );
    }
    match predicted_hit_ratio(ctx, multiplier) {
        Some(p) => ctx.reply.double(p),
        None => ctx.reply.null(),
    }
}
