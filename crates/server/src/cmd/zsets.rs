//! Sorted set commands, including the blocking `BZPOPMIN` family, with Redis 7.0's options,
//! replies and error texts (`t_zset.c`).
//!
//! Single-key writes run inside one [`Keyspace::compute`](crate::keyspace::Keyspace::compute)
//! call. Commands over several keys (`ZUNIONSTORE`, `ZRANGESTORE`, `ZMPOP`, `BZPOPMIN`, ...)
//! run alone (`flag::EXCLUSIVE`).

use super::{Ctx, Spec, err, flag, int_arg};
use crate::blocking::{self, TimeoutReply};
use crate::events::class;
use crate::keyspace::in_prefetched_chunks;
use crate::value::table::random_below;
use crate::value::zset::{Limits, ZSet};
use crate::value::{Set, Value};
use larder_engine::{Compute, NEVER};
use larder_protocol::{Reply, Version};
use std::collections::{HashMap, HashSet};

const NAN_ERR: &str = "ERR resulting score is not a number (NaN)";
const MINMAX_FLOAT: &str = "ERR min or max is not a float";
const MINMAX_LEX: &str = "ERR min or max not valid string range item";
const MUST_BE_POSITIVE: &str = "ERR value is out of range, must be positive";
const OUT_OF_RANGE: &str = "ERR value is out of range";

family!("sorted-set");

const ONE: (i32, i32, i32) = (1, 1, 1);
const NONE: (i32, i32, i32) = (0, 0, 0);
const R: u32 = flag::READONLY;
const RF: u32 = flag::READONLY | flag::FAST;
const W: u32 = flag::WRITE;
const WD: u32 = flag::WRITE | flag::DENYOOM;
const X: u32 = flag::EXCLUSIVE;

/// The commands of this module.
pub static SPECS: &[Spec] = &[
    spec(
        "zadd",
        -4,
        WD | flag::FAST,
        ONE,
        "Add one or more members to a sorted set, or update its score if it already exists",
        "1.2.0",
        zadd,
    ),
    spec(
        "zincrby",
        4,
        WD | flag::FAST,
        ONE,
        "Increment the score of a member in a sorted set",
        "1.2.0",
        zincrby,
    ),
    spec(
        "zrem",
        -3,
        W | flag::FAST,
        ONE,
        "Remove one or more members from a sorted set",
        "1.2.0",
        zrem,
    ),
    spec(
        "zcard",
        2,
        RF,
        ONE,
        "Get the number of members in a sorted set",
        "1.2.0",
        zcard,
    ),
    spec(
        "zscore",
        3,
        RF,
        ONE,
        "Get the score associated with the given member in a sorted set",
        "1.2.0",
        zscore,
    ),
    spec(
        "zmscore",
        -3,
        RF,
        ONE,
        "Get the score associated with the given members in a sorted set",
        "6.2.0",
        zmscore,
    ),
    spec(
        "zrank",
        3,
        RF,
        ONE,
        "Determine the index of a member in a sorted set",
        "2.0.0",
        zrank,
    ),
    spec(
        "zrevrank",
        3,
        RF,
        ONE,
        "Determine the index of a member in a sorted set, with scores ordered from high to low",
        "2.0.0",
        zrevrank,
    ),
    spec(
        "zcount",
        4,
        RF,
        ONE,
        "Count the members in a sorted set with scores within the given values",
        "2.0.0",
        zcount,
    ),
    spec(
        "zlexcount",
        4,
        RF,
        ONE,
        "Count the number of members in a sorted set between a given lexicographical range",
        "2.8.9",
        zlexcount,
    ),
    spec(
        "zrange",
        -4,
        R,
        ONE,
        "Return a range of members in a sorted set",
        "1.2.0",
        zrange,
    ),
    spec(
        "zrangestore",
        -5,
        WD | X,
        (1, 2, 1),
        "Store a range of members from sorted set into another key",
        "6.2.0",
        zrangestore,
    ),
    spec(
        "zrevrange",
        -4,
        R,
        ONE,
        "Return a range of members in a sorted set, by index, with scores ordered from high to low",
        "1.2.0",
        zrevrange,
    ),
    spec(
        "zrangebyscore",
        -4,
        R,
        ONE,
        "Return a range of members in a sorted set, by score",
        "1.0.5",
        zrangebyscore,
    ),
    spec(
        "zrevrangebyscore",
        -4,
        R,
        ONE,
        "Return a range of members in a sorted set, by score, with scores ordered from high to low",
        "2.2.0",
        zrevrangebyscore,
    ),
    spec(
        "zrangebylex",
        -4,
        R,
        ONE,
        "Return a range of members in a sorted set, by lexicographical range",
        "2.8.9",
        zrangebylex,
    ),
    spec(
        "zrevrangebylex",
        -4,
        R,
        ONE,
        "Return a range of members in a sorted set, by lexicographical range, ordered from higher to lower strings",
        "2.8.9",
        zrevrangebylex,
    ),
    spec(
        "zremrangebyrank",
        4,
        W,
        ONE,
        "Remove all members in a sorted set within the given indexes",
        "2.0.0",
        zremrangebyrank,
    ),
    spec(
        "zremrangebyscore",
        4,
        W,
        ONE,
        "Remove all members in a sorted set within the given scores",
        "1.2.0",
        zremrangebyscore,
    ),
    spec(
        "zremrangebylex",
        4,
        W,
        ONE,
        "Remove all members in a sorted set between the given lexicographical range",
        "2.8.9",
        zremrangebylex,
    ),
    spec(
        "zpopmin",
        -2,
        W | flag::FAST,
        ONE,
        "Remove and return members with the lowest scores in a sorted set",
        "5.0.0",
        zpopmin,
    ),
    spec(
        "zpopmax",
        -2,
        W | flag::FAST,
        ONE,
        "Remove and return members with the highest scores in a sorted set",
        "5.0.0",
        zpopmax,
    ),
    spec(
        "bzpopmin",
        -3,
        W | flag::NOSCRIPT | flag::FAST | X,
        (1, -2, 1),
        "Remove and return the member with the lowest score from one or more sorted sets, or block until one is available",
        "5.0.0",
        bzpopmin,
    ),
    spec(
        "bzpopmax",
        -3,
        W | flag::NOSCRIPT | flag::FAST | X,
        (1, -2, 1),
        "Remove and return the member with the highest score from one or more sorted sets, or block until one is available",
        "5.0.0",
        bzpopmax,
    ),
    spec(
        "zmpop",
        -4,
        W | X,
        NONE,
        "Remove and return members with scores in a sorted set",
        "7.0.0",
        zmpop,
    ),
    spec(
        "bzmpop",
        -5,
        W | flag::NOSCRIPT | X,
        NONE,
        "Remove and return members with scores in a sorted set or block until one is available",
        "7.0.0",
        bzmpop,
    ),
    spec(
        "zrandmember",
        -2,
        R,
        ONE,
        "Get one or multiple random elements from a sorted set",
        "6.2.0",
        zrandmember,
    ),
    spec(
        "zunion",
        -3,
        R | X,
        NONE,
        "Add multiple sorted sets",
        "6.2.0",
        zunion,
    ),
    spec(
        "zinter",
        -3,
        R | X,
        NONE,
        "Intersect multiple sorted sets",
        "6.2.0",
        zinter,
    ),
    spec(
        "zdiff",
        -3,
        R | X,
        NONE,
        "Subtract multiple sorted sets",
        "6.2.0",
        zdiff,
    ),
    spec(
        "zunionstore",
        -4,
        WD | X,
        ONE,
        "Add multiple sorted sets and store the resulting sorted set in a new key",
        "2.0.0",
        zunionstore,
    ),
    spec(
        "zinterstore",
        -4,
        WD | X,
        ONE,
        "Intersect multiple sorted sets and store the resulting sorted set in a new key",
        "2.0.0",
        zinterstore,
    ),
    spec(
        "zdiffstore",
        -4,
        WD | X,
        ONE,
        "Subtract multiple sorted sets and store the resulting sorted set in a new key",
        "6.2.0",
        zdiffstore,
    ),
    spec(
        "zintercard",
        -3,
        R | X,
        NONE,
        "Intersect multiple sorted sets and return the cardinality of the result",
        "7.0.0",
        zintercard,
    ),
    spec(
        "zscan",
        -3,
        R,
        ONE,
        "Incrementally iterate sorted sets elements and associated scores",
        "2.8.0",
        zscan,
    ),
];

// ---------------------------------------------------------------------------------------------
// Parsing

fn limits(ctx: &Ctx<'_>) -> Limits {
    let config = ctx.shared.config.read();
    Limits {
        entries: config.zset_max_listpack_entries,
        value: config.zset_max_listpack_value,
    }
}

/// C's `strtod` over the whole text: leading whitespace allowed, `""` is 0, `inf`/`infinity`
/// and `nan` in any case with an optional sign.
fn strtod(text: &[u8]) -> Option<f64> {
    let s = std::str::from_utf8(text).ok()?;
    let t = s.trim_start_matches(|c: char| c.is_ascii_whitespace());
    if t.is_empty() {
        return s.is_empty().then_some(0.0);
    }
    t.parse().ok()
}

fn is_inf_literal(text: &[u8]) -> bool {
    let t = match text.first() {
        Some(b'+' | b'-') => &text[1..],
        _ => text,
    };
    t.eq_ignore_ascii_case(b"inf") || t.eq_ignore_ascii_case(b"infinity")
}

/// A score as Redis's `getDoubleFromObject` reads it: no leading space, no NaN, no overflow.
fn parse_score(arg: &[u8]) -> Option<f64> {
    if arg.is_empty() || arg[0].is_ascii_whitespace() {
        return None;
    }
    let v = strtod(arg)?;
    if v.is_nan() || (v.is_infinite() && !is_inf_literal(arg)) {
        return None;
    }
    Some(v)
}

/// Whether `arg` is `word`, ignoring ASCII case.
fn is(arg: &[u8], word: &str) -> bool {
    arg.eq_ignore_ascii_case(word.as_bytes())
}

/// A score interval (`ZRANGEBYSCORE`'s min and max, `(` for exclusive).
#[derive(Clone, Copy, Debug)]
struct ScoreRange {
    min: f64,
    minex: bool,
    max: f64,
    maxex: bool,
}

fn parse_score_item(arg: &[u8]) -> Option<(f64, bool)> {
    let (ex, text) = match arg.first() {
        Some(b'(') => (true, &arg[1..]),
        _ => (false, arg),
    };
    let v = strtod(text)?;
    (!v.is_nan()).then_some((v, ex))
}

fn parse_score_range(min: &[u8], max: &[u8]) -> Option<ScoreRange> {
    let (min, minex) = parse_score_item(min)?;
    let (max, maxex) = parse_score_item(max)?;
    Some(ScoreRange {
        min,
        minex,
        max,
        maxex,
    })
}

/// A lex bound: `-`, `+`, `[member` or `(member`.
#[derive(Clone, Copy, Debug)]
enum Lex<'a> {
    Min,
    Max,
    Incl(&'a [u8]),
    Excl(&'a [u8]),
}

fn parse_lex_item(arg: &[u8]) -> Option<Lex<'_>> {
    match arg {
        [b'+'] => Some(Lex::Max),
        [b'-'] => Some(Lex::Min),
        [b'(', rest @ ..] => Some(Lex::Excl(rest)),
        [b'[', rest @ ..] => Some(Lex::Incl(rest)),
        _ => None,
    }
}

#[derive(Clone, Copy, Debug)]
struct LexRange<'a> {
    min: Lex<'a>,
    max: Lex<'a>,
}

fn parse_lex_range<'a>(min: &'a [u8], max: &'a [u8]) -> Option<LexRange<'a>> {
    Some(LexRange {
        min: parse_lex_item(min)?,
        max: parse_lex_item(max)?,
    })
}

/// The ascending ranks `lo..hi` whose scores are in `r`.
fn score_bounds(z: &ZSet, r: &ScoreRange) -> (usize, usize) {
    let lo = z.partition_point_by_score(|s| if r.minex { s <= r.min } else { s < r.min });
    let hi = z.partition_point_by_score(|s| if r.maxex { s < r.max } else { s <= r.max });
    (lo, hi.max(lo))
}

/// The ascending ranks `lo..hi` whose members are in `r`.
fn lex_bounds(z: &ZSet, r: &LexRange<'_>) -> (usize, usize) {
    let lo = z.partition_point(|_, m| match r.min {
        Lex::Min => false,
        Lex::Max => true,
        Lex::Incl(x) => m < x,
        Lex::Excl(x) => m <= x,
    });
    let hi = z.partition_point(|_, m| match r.max {
        Lex::Min => false,
        Lex::Max => true,
        Lex::Incl(x) => m <= x,
        Lex::Excl(x) => m < x,
    });
    (lo, hi.max(lo))
}

/// Redis's rank sanitising: `start..=end` with negative indexes from the end; `None` if empty.
fn rank_bounds(start: i64, end: i64, len: usize) -> Option<(usize, usize)> {
    let len = len as i64;
    let mut start = if start < 0 { start + len } else { start };
    let mut end = if end < 0 { end + len } else { end };
    if start < 0 {
        start = 0;
    }
    if start > end || start >= len {
        return None;
    }
    if end >= len {
        end = len - 1;
    }
    Some((start as usize, end as usize + 1))
}

// ---------------------------------------------------------------------------------------------
// Reading and replying

/// Runs `read` on the zset at `key`: `Ok(None)` when missing; replies `WRONGTYPE` and returns
/// `Err` for another type.
fn with_zset<R>(
    ctx: &mut Ctx<'_>,
    key: &[u8],
    read: impl FnOnce(&ZSet, &mut Reply<'_>) -> R,
) -> Result<Option<R>, ()> {
    let shared = ctx.shared;
    let db = ctx.db();
    let reply = &mut ctx.reply;
    match shared.keyspace.get_with(db, key, |value| match value {
        Value::ZSet(z) => Some(read(z, reply)),
        _ => None,
    }) {
        None => Ok(None),
        Some(Some(r)) => Ok(Some(r)),
        Some(None) => {
            ctx.error(err::WRONGTYPE);
            Err(())
        }
    }
}

fn resp3(reply: &Reply<'_>) -> bool {
    reply.version == Version::Resp3
}

/// The array header for `n` members, with or without scores.
fn pairs_header(reply: &mut Reply<'_>, n: usize, withscores: bool) {
    if withscores && !resp3(reply) {
        reply.array(n * 2);
    } else {
        reply.array(n);
    }
}

/// One member (and score): `[member, score]` in RESP3 with scores.
fn pair(reply: &mut Reply<'_>, member: &[u8], score: f64, withscores: bool) {
    if withscores && resp3(reply) {
        reply.array(2);
    }
    reply.bulk(member);
    if withscores {
        reply.double(score);
    }
}

fn reply_entries(reply: &mut Reply<'_>, entries: &[(f64, Box<[u8]>)], withscores: bool) {
    pairs_header(reply, entries.len(), withscores);
    for (score, member) in entries {
        pair(reply, member, *score, withscores);
    }
}

/// Stores `entries` (distinct members) at `dst` as a new zset, or deletes `dst` when there are
/// none; replies the count.
fn store_result(
    ctx: &mut Ctx<'_>,
    dst: &[u8],
    entries: Vec<(f64, Box<[u8]>)>,
    event: &'static str,
) {
    let db = ctx.db();
    if entries.is_empty() {
        let removed = ctx.keyspace().remove(db, dst).is_some();
        ctx.reply.integer(0);
        if removed {
            ctx.modified(class::GENERIC, "del", dst);
        }
        return;
    }
    let n = entries.len();
    let zset = ZSet::from_entries(entries, limits(ctx));
    match ctx
        .keyspace()
        .set(db, dst, Value::ZSet(Box::new(zset)), NEVER)
    {
        Ok(()) => {
            ctx.reply.integer(n as i64);
            ctx.modified(class::ZSET, event, dst);
        }
        Err(e) => ctx.insert_error(e),
    }
}

// ---------------------------------------------------------------------------------------------
// ZADD, ZINCRBY, ZREM

#[derive(Default)]
struct AddCounts {
    added: usize,
    updated: usize,
    processed: usize,
    last: f64,
}

enum Failure {
    WrongType,
    Nan,
}

#[derive(Clone, Copy, Default)]
struct AddFlags {
    nx: bool,
    xx: bool,
    gt: bool,
    lt: bool,
    incr: bool,
}

fn add_all(
    z: &mut ZSet,
    pairs: &[(f64, &[u8])],
    f: AddFlags,
    limits: Limits,
) -> Result<AddCounts, Failure> {
    let mut counts = AddCounts::default();
    for &(score, member) in pairs {
        match z.score(member) {
            Some(cur) => {
                if f.nx {
                    continue;
                }
                let new = if f.incr { cur + score } else { score };
                if new.is_nan() {
                    return Err(Failure::Nan);
                }
                if (f.gt && new <= cur) || (f.lt && new >= cur) {
                    continue;
                }
                if new != cur {
                    z.insert(member, new, limits);
                    counts.updated += 1;
                }
                counts.processed += 1;
                counts.last = new;
            }
            None => {
                if f.xx {
                    continue;
                }
                z.insert(member, score, limits);
                counts.added += 1;
                counts.processed += 1;
                counts.last = score;
            }
        }
    }
    Ok(counts)
}

fn zadd_generic(ctx: &mut Ctx<'_>, args: &[&[u8]], incr_command: bool) {
    let key = args[1];
    let mut f = AddFlags {
        incr: incr_command,
        ..AddFlags::default()
    };
    let mut ch = false;
    let mut i = 2;
    while i < args.len() {
        let a = args[i];
        if is(a, "nx") {
            f.nx = true;
        } else if is(a, "xx") {
            f.xx = true;
        } else if is(a, "ch") {
            ch = true;
        } else if is(a, "incr") {
            f.incr = true;
        } else if is(a, "gt") {
            f.gt = true;
        } else if is(a, "lt") {
            f.lt = true;
        } else {
            break;
        }
        i += 1;
    }
    let rest = &args[i..];
    if rest.is_empty() || rest.len() % 2 != 0 {
        return ctx.error(err::SYNTAX);
    }
    if f.nx && f.xx {
        return ctx.error("ERR XX and NX options at the same time are not compatible");
    }
    if (f.nx && (f.gt || f.lt)) || (f.gt && f.lt) {
        return ctx.error("ERR GT, LT, and/or NX options at the same time are not compatible");
    }
    if f.incr && rest.len() > 2 {
        return ctx.error("ERR INCR option supports a single increment-element pair");
    }
    let mut pairs = Vec::with_capacity(rest.len() / 2);
    for p in rest.chunks(2) {
        let Some(score) = parse_score(p[0]) else {
            return ctx.error(err::NOT_FLOAT);
        };
        pairs.push((score, p[1]));
    }
    let limits = limits(ctx);
    let db = ctx.db();
    let outcome = ctx.keyspace().compute(db, key, |entry| match entry {
        None => {
            if f.xx {
                return (Compute::Keep, Ok(AddCounts::default()));
            }
            let mut z = ZSet::for_first(limits, pairs[0].1.len());
            match add_all(&mut z, &pairs, f, limits) {
                Ok(c) if !z.is_empty() => (Compute::Put(Value::ZSet(Box::new(z)), NEVER), Ok(c)),
                other => (Compute::Keep, other),
            }
        }
        Some(entry) => match entry.value {
            Value::ZSet(z) => match add_all(z, &pairs, f, limits) {
                Ok(c) if c.added + c.updated > 0 => (Compute::Updated, Ok(c)),
                other => (Compute::Keep, other),
            },
            _ => (Compute::Keep, Err(Failure::WrongType)),
        },
    });
    match outcome {
        Err(e) => ctx.insert_error(e),
        Ok(Err(Failure::WrongType)) => ctx.error(err::WRONGTYPE),
        Ok(Err(Failure::Nan)) => ctx.error(NAN_ERR),
        Ok(Ok(c)) => {
            if f.incr {
                if c.processed > 0 {
                    ctx.reply.double(c.last);
                } else {
                    ctx.reply.null();
                }
            } else {
                ctx.reply
                    .integer((if ch { c.added + c.updated } else { c.added }) as i64);
            }
            if c.added + c.updated > 0 {
                ctx.modified(class::ZSET, if f.incr { "zincr" } else { "zadd" }, key);
            }
        }
    }
}

fn zadd(ctx: &mut Ctx<'_>, args: &[&[u8]]) {
    zadd_generic(ctx, args, false);
}

fn zincrby(ctx: &mut Ctx<'_>, args: &[&[u8]]) {
    zadd_generic(ctx, args, true);
}

/// Applies `change` to the zset at `key` in one atomic step, removing the key when it empties.
/// `change` returns how many elements it changed (0: nothing). Replies `WRONGTYPE` itself.
/// Returns `Some((changed, key_removed, result))` or `None` after an error reply; a missing
/// key gives `Some((0, false, missing))`.
fn update_zset<R>(
    ctx: &mut Ctx<'_>,
    key: &[u8],
    missing: R,
    change: impl FnOnce(&mut ZSet) -> (usize, R),
) -> Option<(usize, bool, R)> {
    let db = ctx.db();
    let outcome = ctx.keyspace().compute(db, key, |entry| match entry {
        None => (Compute::Keep, Some((0, false, missing))),
        Some(entry) => match entry.value {
            Value::ZSet(z) => {
                let (n, r) = change(z);
                if z.is_empty() {
                    (Compute::Remove, Some((n, true, r)))
                } else if n > 0 {
                    (Compute::Updated, Some((n, false, r)))
                } else {
                    (Compute::Keep, Some((n, false, r)))
                }
            }
            _ => (Compute::Keep, None),
        },
    });
    match outcome {
        Err(e) => {
            ctx.insert_error(e);
            None
        }
        Ok(None) => {
            ctx.error(err::WRONGTYPE);
            None
        }
        Ok(Some(r)) => Some(r),
    }
}

fn zrem(ctx: &mut Ctx<'_>, args: &[&[u8]]) {
    let key = args[1];
    let Some((deleted, removed, ())) = update_zset(ctx, key, (), |z| {
        let mut n = 0;
        for m in &args[2..] {
            if z.remove(m).is_some() {
                n += 1;
            }
            if z.is_empty() {
                break;
            }
        }
        (n, ())
    }) else {
        return;
    };
    ctx.reply.integer(deleted as i64);
    if deleted > 0 {
        ctx.modified(class::ZSET, "zrem", key);
        if removed {
            ctx.modified(class::GENERIC, "del", key);
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Single-key reads

fn zcard(ctx: &mut Ctx<'_>, args: &[&[u8]]) {
    if let Ok(n) = with_zset(ctx, args[1], |z, _| z.len()) {
        ctx.reply.integer(n.unwrap_or(0) as i64);
    }
}

fn zscore(ctx: &mut Ctx<'_>, args: &[&[u8]]) {
    if let Ok(found) = with_zset(ctx, args[1], |z, _| z.score(args[2])) {
        match found.flatten() {
            Some(s) => ctx.reply.double(s),
            None => ctx.reply.null(),
        }
    }
}

fn zmscore(ctx: &mut Ctx<'_>, args: &[&[u8]]) {
    let members = &args[2..];
    let Ok(found) = with_zset(ctx, args[1], |z, reply| {
        reply.array(members.len());
        in_prefetched_chunks(
            members,
            |chunk| z.prefetch_members(chunk),
            |m| match z.score(m) {
                Some(s) => reply.double(s),
                None => reply.null(),
            },
        );
    }) else {
        return;
    };
    if found.is_none() {
        ctx.reply.array(members.len());
        for _ in members {
            ctx.reply.null();
        }
    }
}

fn rank_generic(ctx: &mut Ctx<'_>, args: &[&[u8]], rev: bool) {
    let Ok(found) = with_zset(ctx, args[1], |z, _| {
        z.rank(args[2])
            .map(|r| if rev { z.len() - 1 - r } else { r })
    }) else {
        return;
    };
    match found.flatten() {
        Some(r) => ctx.reply.integer(r as i64),
        None => ctx.reply.null(),
    }
}

fn zrank(ctx: &mut Ctx<'_>, args: &[&[u8]]) {
    rank_generic(ctx, args, false);
}

fn zrevrank(ctx: &mut Ctx<'_>, args: &[&[u8]]) {
    rank_generic(ctx, args, true);
}

fn zcount(ctx: &mut Ctx<'_>, args: &[&[u8]]) {
    let Some(range) = parse_score_range(args[2], args[3]) else {
        return ctx.error(MINMAX_FLOAT);
    };
    if let Ok(n) = with_zset(ctx, args[1], |z, _| {
        let (lo, hi) = score_bounds(z, &range);
        hi - lo
    }) {
        ctx.reply.integer(n.unwrap_or(0) as i64);
    }
}

fn zlexcount(ctx: &mut Ctx<'_>, args: &[&[u8]]) {
    let Some(range) = parse_lex_range(args[2], args[3]) else {
        return ctx.error(MINMAX_LEX);
    };
    if let Ok(n) = with_zset(ctx, args[1], |z, _| {
        let (lo, hi) = lex_bounds(z, &range);
        hi - lo
    }) {
        ctx.reply.integer(n.unwrap_or(0) as i64);
    }
}

// ---------------------------------------------------------------------------------------------
// ZRANGE and its forms

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum By {
    Auto,
    Rank,
    Score,
    Lex,
}

enum Bounds<'a> {
    Rank(i64, i64),
    Score(ScoreRange),
    Lex(LexRange<'a>),
}

struct RangeQuery<'a> {
    bounds: Bounds<'a>,
    rev: bool,
    withscores: bool,
    offset: i64,
    limit: i64,
}

impl RangeQuery<'_> {
    /// The ascending ranks `start..end` selected, emitted from the top when `rev`.
    fn ranks(&self, z: &ZSet) -> (usize, usize) {
        let len = z.len();
        let (lo, hi) = match &self.bounds {
            Bounds::Rank(start, end) => {
                return match rank_bounds(*start, *end, len) {
                    None => (0, 0),
                    Some((a, b)) if self.rev => (len - b, len - a),
                    Some(r) => r,
                };
            }
            Bounds::Score(r) => score_bounds(z, r),
            Bounds::Lex(r) => lex_bounds(z, r),
        };
        let count = hi - lo;
        if self.offset < 0 || self.offset as u64 >= count as u64 {
            return (0, 0);
        }
        let offset = self.offset as usize;
        let take = if self.limit < 0 {
            count - offset
        } else {
            (self.limit as u64).min((count - offset) as u64) as usize
        };
        if self.rev {
            (hi - offset - take, hi - offset)
        } else {
            (lo + offset, lo + offset + take)
        }
    }
}

/// Parses `<src> <min> <max> [BYSCORE|BYLEX] [REV] [WITHSCORES] [LIMIT offset count]` from
/// `args[src]` (Redis's `zrangeGenericCommand`); replies the error and returns `None` when bad.
fn parse_range_query<'a>(
    ctx: &mut Ctx<'_>,
    args: &[&'a [u8]],
    src: usize,
    store: bool,
    mut by: By,
    rev: Option<bool>,
) -> Option<RangeQuery<'a>> {
    let mut rev_opt = rev;
    let (mut withscores, mut offset, mut limit) = (false, 0i64, -1i64);
    let mut j = src + 3;
    while j < args.len() {
        let left = args.len() - j - 1;
        let a = args[j];
        if !store && is(a, "withscores") {
            withscores = true;
        } else if is(a, "limit") && left >= 2 {
            match (int_arg(args[j + 1]), int_arg(args[j + 2])) {
                (Some(o), Some(l)) => {
                    offset = o;
                    limit = l;
                }
                _ => {
                    ctx.error(err::NOT_INTEGER);
                    return None;
                }
            }
            j += 2;
        } else if rev.is_none() && is(a, "rev") {
            rev_opt = Some(true);
        } else if by == By::Auto && is(a, "bylex") {
            by = By::Lex;
        } else if by == By::Auto && is(a, "byscore") {
            by = By::Score;
        } else {
            ctx.error(err::SYNTAX);
            return None;
        }
        j += 1;
    }
    let rev = rev_opt.unwrap_or(false);
    if by == By::Auto {
        by = By::Rank;
    }
    if limit != -1 && by == By::Rank {
        ctx.error(
            "ERR syntax error, LIMIT is only supported in combination with either BYSCORE or BYLEX",
        );
        return None;
    }
    if withscores && by == By::Lex {
        ctx.error("ERR syntax error, WITHSCORES not supported in combination with BYLEX");
        return None;
    }
    let (mut min, mut max) = (args[src + 1], args[src + 2]);
    if rev && by != By::Rank {
        std::mem::swap(&mut min, &mut max);
    }
    let bounds = match by {
        By::Score => match parse_score_range(min, max) {
            Some(r) => Bounds::Score(r),
            None => {
                ctx.error(MINMAX_FLOAT);
                return None;
            }
        },
        By::Lex => match parse_lex_range(min, max) {
            Some(r) => Bounds::Lex(r),
            None => {
                ctx.error(MINMAX_LEX);
                return None;
            }
        },
        _ => match (int_arg(min), int_arg(max)) {
            (Some(a), Some(b)) => Bounds::Rank(a, b),
            _ => {
                ctx.error(err::NOT_INTEGER);
                return None;
            }
        },
    };
    Some(RangeQuery {
        bounds,
        rev,
        withscores,
        offset,
        limit,
    })
}

fn range_command(ctx: &mut Ctx<'_>, args: &[&[u8]], by: By, rev: Option<bool>) {
    let Some(q) = parse_range_query(ctx, args, 1, false, by, rev) else {
        return;
    };
    let Ok(found) = with_zset(ctx, args[1], |z, reply| {
        let (start, end) = q.ranks(z);
        pairs_header(reply, end - start, q.withscores);
        z.for_range(start, end, q.rev, |m, s| pair(reply, m, s, q.withscores));
    }) else {
        return;
    };
    if found.is_none() {
        ctx.reply.array(0);
    }
}

fn zrange(ctx: &mut Ctx<'_>, args: &[&[u8]]) {
    range_command(ctx, args, By::Auto, None);
}

fn zrevrange(ctx: &mut Ctx<'_>, args: &[&[u8]]) {
    range_command(ctx, args, By::Rank, Some(true));
}

fn zrangebyscore(ctx: &mut Ctx<'_>, args: &[&[u8]]) {
    range_command(ctx, args, By::Score, Some(false));
}

fn zrevrangebyscore(ctx: &mut Ctx<'_>, args: &[&[u8]]) {
    range_command(ctx, args, By::Score, Some(true));
}

fn zrangebylex(ctx: &mut Ctx<'_>, args: &[&[u8]]) {
    range_command(ctx, args, By::Lex, Some(false));
}

fn zrevrangebylex(ctx: &mut Ctx<'_>, args: &[&[u8]]) {
    range_command(ctx, args, By::Lex, Some(true));
}

fn zrangestore(ctx: &mut Ctx<'_>, args: &[&[u8]]) {
    let Some(q) = parse_range_query(ctx, args, 2, true, By::Auto, None) else {
        return;
    };
    let Ok(found) = with_zset(ctx, args[2], |z, _| {
        let (start, end) = q.ranks(z);
        let mut entries = Vec::with_capacity(end - start);
        z.for_range(start, end, q.rev, |m, s| {
            entries.push((s, Box::<[u8]>::from(m)))
        });
        entries
    }) else {
        return;
    };
    store_result(ctx, args[1], found.unwrap_or_default(), "zrangestore");
}

// ---------------------------------------------------------------------------------------------
// ZREMRANGEBY*

fn zremrange(ctx: &mut Ctx<'_>, args: &[&[u8]], by: By) {
    let key = args[1];
    let bounds = match by {
        By::Score => match parse_score_range(args[2], args[3]) {
            Some(r) => Bounds::Score(r),
            None => return ctx.error(MINMAX_FLOAT),
        },
        By::Lex => match parse_lex_range(args[2], args[3]) {
            Some(r) => Bounds::Lex(r),
            None => return ctx.error(MINMAX_LEX),
        },
        _ => match (int_arg(args[2]), int_arg(args[3])) {
            (Some(a), Some(b)) => Bounds::Rank(a, b),
            _ => return ctx.error(err::NOT_INTEGER),
        },
    };
    let Some((deleted, removed, ())) = update_zset(ctx, key, (), |z| {
        let (start, end) = match &bounds {
            Bounds::Rank(a, b) => rank_bounds(*a, *b, z.len()).unwrap_or((0, 0)),
            Bounds::Score(r) => score_bounds(z, r),
            Bounds::Lex(r) => lex_bounds(z, r),
        };
        (z.remove_range(start, end), ())
    }) else {
        return;
    };
    ctx.reply.integer(deleted as i64);
    if deleted > 0 {
        let event = match by {
            By::Score => "zremrangebyscore",
            By::Lex => "zremrangebylex",
            _ => "zremrangebyrank",
        };
        ctx.modified(class::ZSET, event, key);
        if removed {
            ctx.modified(class::GENERIC, "del", key);
        }
    }
}

fn zremrangebyrank(ctx: &mut Ctx<'_>, args: &[&[u8]]) {
    zremrange(ctx, args, By::Rank);
}

fn zremrangebyscore(ctx: &mut Ctx<'_>, args: &[&[u8]]) {
    zremrange(ctx, args, By::Score);
}

fn zremrangebylex(ctx: &mut Ctx<'_>, args: &[&[u8]]) {
    zremrange(ctx, args, By::Lex);
}

// ---------------------------------------------------------------------------------------------
// Pops

/// How a pop replies (Redis's `genericZpopCommand` arguments).
#[derive(Clone, Copy)]
struct PopShape {
    max: bool,
    emit_key: bool,
    /// -1: a plain single pop.
    count: i64,
    nested: bool,
}

enum Popped {
    /// Served (the reply is written).
    Done,
    /// Every key was missing: nothing written.
    Nothing,
    /// An error was replied.
    Failed,
}

/// Pops from the first existing key of `keys`. Serving a blocked client, a key that now holds
/// another type is passed over (the client stays blocked on it, as in Redis).
fn pop_first(ctx: &mut Ctx<'_>, keys: &[&[u8]], shape: PopShape) -> Popped {
    for &key in keys {
        if ctx.session.serving_blocked
            && ctx
                .keyspace()
                .peek_with(ctx.db(), key, |value, _| !matches!(value, Value::ZSet(_)))
                == Some(true)
        {
            continue;
        }
        let exists = match with_zset(ctx, key, |_, _| ()) {
            Err(()) => return Popped::Failed,
            Ok(found) => found.is_some(),
        };
        if !exists {
            continue;
        }
        if shape.count == 0 {
            ctx.reply.array(0);
            return Popped::Done;
        }
        let want = if shape.count < 0 {
            1
        } else {
            shape.count as u64
        };
        let Some((_, removed, popped)) = update_zset(ctx, key, Vec::new(), |z| {
            let n = want.min(z.len() as u64) as usize;
            let (start, end) = if shape.max {
                (z.len() - n, z.len())
            } else {
                (0, n)
            };
            let mut out = Vec::with_capacity(n);
            z.for_range(start, end, shape.max, |m, s| {
                out.push((s, Box::<[u8]>::from(m)))
            });
            z.remove_range(start, end);
            (n, out)
        }) else {
            return Popped::Failed;
        };
        if popped.is_empty() {
            continue;
        }
        let r = &mut ctx.reply;
        let n = popped.len();
        match (shape.nested, shape.emit_key) {
            (false, false) => r.array(n * 2),
            (true, false) => r.array(n),
            (false, true) => {
                r.array(n * 2 + 1);
                r.bulk(key);
            }
            (true, true) => {
                r.array(2);
                r.bulk(key);
                r.array(n);
            }
        }
        for (score, member) in &popped {
            if shape.nested {
                r.array(2);
            }
            r.bulk(member);
            r.double(*score);
        }
        ctx.modified(
            class::ZSET,
            if shape.max { "zpopmax" } else { "zpopmin" },
            key,
        );
        if removed {
            ctx.modified(class::GENERIC, "del", key);
        }
        return Popped::Done;
    }
    Popped::Nothing
}

fn zpop(ctx: &mut Ctx<'_>, args: &[&[u8]], max: bool) {
    if args.len() > 3 {
        return ctx.error(err::SYNTAX);
    }
    let mut count = -1;
    if args.len() == 3 {
        match int_arg(args[2]) {
            None => return ctx.error(err::NOT_INTEGER),
            Some(n) if n < 0 => return ctx.error(MUST_BE_POSITIVE),
            Some(n) => count = n,
        }
    }
    let nested = resp3(&ctx.reply) && count != -1;
    let shape = PopShape {
        max,
        emit_key: false,
        count,
        nested,
    };
    if let Popped::Nothing = pop_first(ctx, &args[1..2], shape) {
        ctx.reply.array(0);
    }
}

fn zpopmin(ctx: &mut Ctx<'_>, args: &[&[u8]]) {
    zpop(ctx, args, false);
}

fn zpopmax(ctx: &mut Ctx<'_>, args: &[&[u8]]) {
    zpop(ctx, args, true);
}

fn bzpop(ctx: &mut Ctx<'_>, args: &[&[u8]], max: bool) {
    let timeout = match blocking::parse_timeout(args[args.len() - 1]) {
        Ok(t) => t,
        Err(e) => return ctx.error(e),
    };
    let keys = &args[1..args.len() - 1];
    let shape = PopShape {
        max,
        emit_key: true,
        count: -1,
        nested: false,
    };
    if let Popped::Nothing = pop_first(ctx, keys, shape) {
        ctx.block_on(keys, timeout, TimeoutReply::NullArray);
    }
}

fn bzpopmin(ctx: &mut Ctx<'_>, args: &[&[u8]]) {
    bzpop(ctx, args, false);
}

fn bzpopmax(ctx: &mut Ctx<'_>, args: &[&[u8]]) {
    bzpop(ctx, args, true);
}

/// `[B]ZMPOP`: `numkeys key... MIN|MAX [COUNT n]` from `args[numkeys_at]`.
fn mpop(ctx: &mut Ctx<'_>, args: &[&[u8]], numkeys_at: usize, block: bool) {
    let numkeys = match int_arg(args[numkeys_at]) {
        Some(n) if n >= 1 => n as u64,
        _ => return ctx.error("ERR numkeys should be greater than 0"),
    };
    let where_at = (numkeys_at as u64)
        .saturating_add(numkeys)
        .saturating_add(1);
    if where_at >= args.len() as u64 {
        return ctx.error(err::SYNTAX);
    }
    let where_at = where_at as usize;
    let max = if is(args[where_at], "min") {
        false
    } else if is(args[where_at], "max") {
        true
    } else {
        return ctx.error(err::SYNTAX);
    };
    let mut count = -1i64;
    let mut j = where_at + 1;
    while j < args.len() {
        if count == -1 && is(args[j], "count") && j + 1 < args.len() {
            match int_arg(args[j + 1]) {
                Some(n) if n >= 1 => count = n,
                _ => return ctx.error("ERR count should be greater than 0"),
            }
            j += 2;
        } else {
            return ctx.error(err::SYNTAX);
        }
    }
    if count == -1 {
        count = 1;
    }
    let keys = &args[numkeys_at + 1..where_at];
    let shape = PopShape {
        max,
        emit_key: true,
        count,
        nested: true,
    };
    if block {
        let timeout = match blocking::parse_timeout(args[1]) {
            Ok(t) => t,
            Err(e) => return ctx.error(e),
        };
        if let Popped::Nothing = pop_first(ctx, keys, shape) {
            ctx.block_on(keys, timeout, TimeoutReply::NullArray);
        }
    } else if let Popped::Nothing = pop_first(ctx, keys, shape) {
        ctx.reply.null_array();
    }
}

fn zmpop(ctx: &mut Ctx<'_>, args: &[&[u8]]) {
    mpop(ctx, args, 1, false);
}

fn bzmpop(ctx: &mut Ctx<'_>, args: &[&[u8]]) {
    mpop(ctx, args, 2, true);
}

// ---------------------------------------------------------------------------------------------
// ZRANDMEMBER

/// The most elements `ZRANDMEMBER` returns in one reply (a bound on the reply's size).
const RANDMEMBER_MAX: u64 = 1 << 27;

fn zrandmember(ctx: &mut Ctx<'_>, args: &[&[u8]]) {
    if args.len() == 2 {
        let Ok(found) = with_zset(ctx, args[1], |z, reply| {
            if let Some((m, _)) = z.get(random_below(z.len())) {
                reply.bulk(m);
            }
        }) else {
            return;
        };
        if found.is_none() {
            ctx.reply.null();
        }
        return;
    }
    let l = match int_arg(args[2]) {
        None => return ctx.error(err::NOT_INTEGER),
        Some(i64::MIN) => {
            return ctx.error(
                "ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807",
            );
        }
        Some(l) => l,
    };
    let withscores = match args.len() {
        3 => false,
        4 if is(args[3], "withscores") => {
            if !(-(i64::MAX / 2)..=i64::MAX / 2).contains(&l) {
                return ctx.error(OUT_OF_RANGE);
            }
            true
        }
        _ => return ctx.error(err::SYNTAX),
    };
    let (count, unique) = (l.unsigned_abs(), l >= 0);
    if !unique && count > RANDMEMBER_MAX {
        return ctx.error(OUT_OF_RANGE);
    }
    let Ok(found) = with_zset(ctx, args[1], |z, reply| {
        let size = z.len();
        if count == 0 {
            reply.array(0);
            return;
        }
        if !unique || count == 1 {
            let count = count as usize;
            pairs_header(reply, count, withscores);
            for _ in 0..count {
                if let Some((m, s)) = z.get(random_below(size)) {
                    pair(reply, m, s, withscores);
                }
            }
            return;
        }
        if count >= size as u64 {
            pairs_header(reply, size, withscores);
            z.for_each(|m, s| pair(reply, m, s, withscores));
            return;
        }
        let count = count as usize;
        let ranks: Vec<usize> = if count * 3 > size {
            // Shuffle the first `count` of all ranks.
            let mut all: Vec<usize> = (0..size).collect();
            for i in 0..count {
                let j = i + random_below(size - i);
                all.swap(i, j);
            }
            all.truncate(count);
            all
        } else {
            let mut seen = HashSet::with_capacity(count);
            let mut picked = Vec::with_capacity(count);
            while picked.len() < count {
                let r = random_below(size);
                if seen.insert(r) {
                    picked.push(r);
                }
            }
            picked
        };
        pairs_header(reply, count, withscores);
        for r in ranks {
            if let Some((m, s)) = z.get(r) {
                pair(reply, m, s, withscores);
            }
        }
    }) else {
        return;
    };
    if found.is_none() {
        ctx.reply.array(0);
    }
}

// ---------------------------------------------------------------------------------------------
// ZUNION, ZINTER, ZDIFF, their STORE forms, ZINTERCARD

#[derive(Clone, Copy, PartialEq, Eq)]
enum SetOp {
    Union,
    Inter,
    Diff,
}

#[derive(Clone, Copy)]
enum Aggregate {
    Sum,
    Min,
    Max,
}

fn aggregate(acc: &mut f64, value: f64, how: Aggregate) {
    match how {
        Aggregate::Sum => {
            *acc += value;
            if acc.is_nan() {
                *acc = 0.0;
            }
        }
        Aggregate::Min => *acc = acc.min(value),
        Aggregate::Max => *acc = acc.max(value),
    }
}

/// The members of a plain set used as a sorted-set source (each scores 1).
fn set_members(set: &Set) -> Vec<Box<[u8]>> {
    set.iter().map(|m| m.to_vec().into_boxed_slice()).collect()
}

/// One input: its members with scores (empty when the key is missing) and its weight.
struct Source {
    entries: Vec<(f64, Box<[u8]>)>,
    weight: f64,
}

fn load_sources(ctx: &mut Ctx<'_>, keys: &[&[u8]]) -> Option<Vec<Source>> {
    let shared = ctx.shared;
    let db = ctx.db();
    let mut sources = Vec::with_capacity(keys.len());
    for key in keys {
        let loaded = shared.keyspace.get_with(db, key, |value| match value {
            Value::ZSet(z) => {
                let mut entries = Vec::with_capacity(z.len());
                z.for_each(|m, s| entries.push((s, Box::<[u8]>::from(m))));
                Some(entries)
            }
            Value::Set(s) => Some(set_members(s).into_iter().map(|m| (1.0, m)).collect()),
            _ => None,
        });
        match loaded {
            Some(None) => {
                ctx.error(err::WRONGTYPE);
                return None;
            }
            found => sources.push(Source {
                entries: found.flatten().unwrap_or_default(),
                weight: 1.0,
            }),
        }
    }
    Some(sources)
}

/// Redis's `zunionInterDiffGenericCommand`: `dst` is the destination of a STORE form;
/// `cardinality` is `ZINTERCARD`.
fn set_operation(
    ctx: &mut Ctx<'_>,
    args: &[&[u8]],
    numkeys_at: usize,
    dst: Option<&[u8]>,
    op: SetOp,
    cardinality: bool,
) {
    let Some(setnum) = int_arg(args[numkeys_at]) else {
        return ctx.error(err::NOT_INTEGER);
    };
    if setnum < 1 {
        let name = String::from_utf8_lossy(args[0]).to_ascii_lowercase();
        return ctx.error(&format!(
            "ERR at least 1 input key is needed for '{name}' command"
        ));
    }
    if setnum as u64 > (args.len() - numkeys_at - 1) as u64 {
        return ctx.error(err::SYNTAX);
    }
    let setnum = setnum as usize;
    let keys = &args[numkeys_at + 1..numkeys_at + 1 + setnum];
    let Some(mut sources) = load_sources(ctx, keys) else {
        return;
    };
    let mut how = Aggregate::Sum;
    let mut withscores = false;
    let mut limit = 0u64;
    let mut j = numkeys_at + 1 + setnum;
    while j < args.len() {
        let remaining = args.len() - j;
        let a = args[j];
        if op != SetOp::Diff && !cardinality && remaining > setnum && is(a, "weights") {
            j += 1;
            for source in sources.iter_mut() {
                match parse_score(args[j]) {
                    Some(w) => source.weight = w,
                    None => return ctx.error("ERR weight value is not a float"),
                }
                j += 1;
            }
        } else if op != SetOp::Diff && !cardinality && remaining >= 2 && is(a, "aggregate") {
            let how_arg = args[j + 1];
            how = if is(how_arg, "sum") {
                Aggregate::Sum
            } else if is(how_arg, "min") {
                Aggregate::Min
            } else if is(how_arg, "max") {
                Aggregate::Max
            } else {
                return ctx.error(err::SYNTAX);
            };
            j += 2;
        } else if dst.is_none() && !cardinality && is(a, "withscores") {
            withscores = true;
            j += 1;
        } else if cardinality && remaining >= 2 && is(a, "limit") {
            match int_arg(args[j + 1]) {
                Some(n) if n >= 0 => limit = n as u64,
                _ => return ctx.error("ERR LIMIT can't be negative"),
            }
            j += 2;
        } else {
            return ctx.error(err::SYNTAX);
        }
    }
    let weighted = |score: f64, weight: f64| {
        let v = score * weight;
        if v.is_nan() { 0.0 } else { v }
    };
    let mut result: Vec<(f64, Box<[u8]>)> = Vec::new();
    let mut count = 0u64;
    match op {
        SetOp::Inter => {
            sources.sort_by_key(|s| s.entries.len());
            let (first, rest) = sources.split_at(1);
            let first = &first[0];
            let maps: Vec<(HashMap<&[u8], f64>, f64)> = rest
                .iter()
                .map(|s| {
                    (
                        s.entries.iter().map(|(sc, m)| (&m[..], *sc)).collect(),
                        s.weight,
                    )
                })
                .collect();
            'each: for (score, member) in &first.entries {
                let mut acc = weighted(*score, first.weight);
                for (map, weight) in &maps {
                    match map.get(&member[..]) {
                        Some(&s) => aggregate(&mut acc, weighted(s, *weight), how),
                        None => continue 'each,
                    }
                }
                if cardinality {
                    count += 1;
                    if limit > 0 && count >= limit {
                        break;
                    }
                } else {
                    result.push((acc, member.clone()));
                }
            }
        }
        SetOp::Union => {
            sources.sort_by_key(|s| s.entries.len());
            let mut acc: HashMap<Box<[u8]>, f64> = HashMap::new();
            for source in sources {
                let weight = source.weight;
                for (score, member) in source.entries {
                    let v = weighted(score, weight);
                    match acc.get_mut(&member) {
                        Some(a) => aggregate(a, v, how),
                        None => {
                            acc.insert(member, v);
                        }
                    }
                }
            }
            result = acc.into_iter().map(|(m, s)| (s, m)).collect();
        }
        SetOp::Diff => {
            let mut iter = sources.into_iter();
            if let Some(first) = iter.next() {
                let others: Vec<HashSet<Box<[u8]>>> = iter
                    .map(|s| s.entries.into_iter().map(|(_, m)| m).collect())
                    .collect();
                result = first
                    .entries
                    .into_iter()
                    .filter(|(_, m)| !others.iter().any(|o| o.contains(m)))
                    .collect();
            }
        }
    }
    if cardinality {
        return ctx.reply.integer(count as i64);
    }
    if let Some(dst) = dst {
        let event = match op {
            SetOp::Union => "zunionstore",
            SetOp::Inter => "zinterstore",
            SetOp::Diff => "zdiffstore",
        };
        return store_result(ctx, dst, result, event);
    }
    result.sort_by(|a, b| crate::value::zset::cmp_entries(a.0, &a.1, b.0, &b.1));
    reply_entries(&mut ctx.reply, &result, withscores);
}

fn zunion(ctx: &mut Ctx<'_>, args: &[&[u8]]) {
    set_operation(ctx, args, 1, None, SetOp::Union, false);
}

fn zinter(ctx: &mut Ctx<'_>, args: &[&[u8]]) {
    set_operation(ctx, args, 1, None, SetOp::Inter, false);
}

fn zdiff(ctx: &mut Ctx<'_>, args: &[&[u8]]) {
    set_operation(ctx, args, 1, None, SetOp::Diff, false);
}

fn zunionstore(ctx: &mut Ctx<'_>, args: &[&[u8]]) {
    set_operation(ctx, args, 2, Some(args[1]), SetOp::Union, false);
}

fn zinterstore(ctx: &mut Ctx<'_>, args: &[&[u8]]) {
    set_operation(ctx, args, 2, Some(args[1]), SetOp::Inter, false);
}

fn zdiffstore(ctx: &mut Ctx<'_>, args: &[&[u8]]) {
    set_operation(ctx, args, 2, Some(args[1]), SetOp::Diff, false);
}

fn zintercard(ctx: &mut Ctx<'_>, args: &[&[u8]]) {
    set_operation(ctx, args, 1, None, SetOp::Inter, true);
}

// ---------------------------------------------------------------------------------------------
// ZSCAN

/// A cursor as `strtoul` reads it (digits only; `""` is 0).
fn parse_cursor(arg: &[u8]) -> Option<u64> {
    if arg.is_empty() {
        return Some(0);
    }
    let mut value: u64 = 0;
    for &d in arg {
        if !d.is_ascii_digit() {
            return None;
        }
        value = value.checked_mul(10)?.checked_add(u64::from(d - b'0'))?;
    }
    Some(value)
}

fn zscan(ctx: &mut Ctx<'_>, args: &[&[u8]]) {
    let Some(cursor) = parse_cursor(args[2]) else {
        return ctx.error("ERR invalid cursor");
    };
    let mut count = 10usize;
    let mut pattern: Option<&[u8]> = None;
    let mut j = 3;
    while j < args.len() {
        let more = j + 1 < args.len();
        if is(args[j], "count") && more {
            match int_arg(args[j + 1]) {
                None => return ctx.error(err::NOT_INTEGER),
                Some(n) if n < 1 => return ctx.error(err::SYNTAX),
                Some(n) => count = usize::try_from(n).unwrap_or(usize::MAX),
            }
            j += 2;
        } else if is(args[j], "match") && more {
            pattern = Some(args[j + 1]).filter(|p| *p != b"*");
            j += 2;
        } else {
            return ctx.error(err::SYNTAX);
        }
    }
    let Ok(found) = with_zset(ctx, args[1], |z, _| {
        let mut items = Vec::new();
        let next = z.scan(cursor, count, |m, s| {
            if pattern.is_none_or(|p| crate::glob::matches(p, m, false)) {
                items.push((s, Box::<[u8]>::from(m)));
            }
        });
        (next, items)
    }) else {
        return;
    };
    let (next, items) = found.unwrap_or_default();
    let r = &mut ctx.reply;
    r.array(2);
    r.bulk(next.to_string().as_bytes());
    r.array(items.len() * 2);
    for (score, member) in &items {
        r.bulk(member);
        // Scores are bulk strings in every protocol version, as Redis formats them.
        Reply {
            out: &mut *r.out,
            version: Version::Resp2,
        }
        .double(*score);
    }
}
