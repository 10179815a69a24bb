//! Hash commands: `HSET`, `HGET`, ... with Redis 7.0's semantics and error texts.
//!
//! Every write is one [`Keyspace::compute`](crate::keyspace::Keyspace::compute) call on the key:
//! the hash is changed in place under the shard lock (and re-weighed by the engine), created
//! when a write finds no key, and the key removed when its last field goes. Reads run inside
//! [`Keyspace::get_with`](crate::keyspace::Keyspace::get_with) and write their reply there.
//!
//! Also here, shared with the other collection scans (`SSCAN`, `ZSCAN`): [`scan_options`].

use super::{Ctx, Spec, err, flag, int_arg};
use crate::events::class;
use crate::keyspace::in_prefetched_chunks;
use crate::value::collection::Collection;
use crate::value::hash::{Hash, Limits};
use crate::value::long_double::LongDouble;
use crate::value::parse_i64;
use crate::value::table::random_below;
use larder_engine::{Compute, InsertError, NEVER};
use larder_protocol::{Reply, Version};
use std::collections::HashSet;

family!("hash");

const KEY: (i32, i32, i32) = (1, 1, 1);

use flag::{DENYOOM, FAST, READONLY, WRITE};

/// The commands of this module.
pub static SPECS: &[Spec] = &[
    spec(
        "hset",
        -4,
        WRITE | DENYOOM | FAST,
        KEY,
        "Set the string value of a hash field",
        "2.0.0",
        hset,
    ),
    spec(
        "hmset",
        -4,
        WRITE | DENYOOM | FAST,
        KEY,
        "Set multiple hash fields to multiple values",
        "2.0.0",
        hset,
    ),
    spec(
        "hsetnx",
        4,
        WRITE | DENYOOM | FAST,
        KEY,
        "Set the value of a hash field, only if the field does not exist",
        "2.0.0",
        hsetnx,
    ),
    spec(
        "hget",
        3,
        READONLY | FAST,
        KEY,
        "Get the value of a hash field",
        "2.0.0",
        hget,
    ),
    spec(
        "hmget",
        -3,
        READONLY | FAST,
        KEY,
        "Get the values of all the given hash fields",
        "2.0.0",
        hmget,
    ),
    spec(
        "hdel",
        -3,
        WRITE | FAST,
        KEY,
        "Delete one or more hash fields",
        "2.0.0",
        hdel,
    ),
    spec(
        "hlen",
        2,
        READONLY | FAST,
        KEY,
        "Get the number of fields in a hash",
        "2.0.0",
        hlen,
    ),
    spec(
        "hstrlen",
        3,
        READONLY | FAST,
        KEY,
        "Get the length of the value of a hash field",
        "3.2.0",
        hstrlen,
    ),
    spec(
        "hexists",
        3,
        READONLY | FAST,
        KEY,
        "Determine if a hash field exists",
        "2.0.0",
        hexists,
    ),
    spec(
        "hgetall",
        2,
        READONLY,
        KEY,
        "Get all the fields and values in a hash",
        "2.0.0",
        hgetall,
    ),
    spec(
        "hkeys",
        2,
        READONLY,
        KEY,
        "Get all the fields in a hash",
        "2.0.0",
        hkeys,
    ),
    spec(
        "hvals",
        2,
        READONLY,
        KEY,
        "Get all the values in a hash",
        "2.0.0",
        hvals,
    ),
    spec(
        "hincrby",
        4,
        WRITE | DENYOOM | FAST,
        KEY,
        "Increment the integer value of a hash field by the given number",
        "2.0.0",
        hincrby,
    ),
    spec(
        "hincrbyfloat",
        4,
        WRITE | DENYOOM | FAST,
        KEY,
        "Increment the float value of a hash field by the given amount",
        "2.6.0",
        hincrbyfloat,
    ),
    spec(
        "hrandfield",
        -2,
        READONLY,
        KEY,
        "Get one or multiple random fields from a hash",
        "6.2.0",
        hrandfield,
    ),
    spec(
        "hscan",
        -3,
        READONLY,
        KEY,
        "Incrementally iterate hash fields and associated values",
        "2.8.0",
        hscan,
    ),
];

/// Most elements a negative-count `HRANDFIELD`/`SRANDMEMBER` may reply (Redis would build any
/// size until the client's output limit closes it; this server refuses past this bound).
pub const MAX_RANDOM_REPLY: u64 = 1 << 27;

/// What a write to a collection key found.
pub enum Write<R> {
    /// The key holds another type.
    WrongType,
    /// No key, and the command does not create one.
    Missing,
    /// The change ran and answered `R`; `removed` when the collection became empty and the key
    /// was removed.
    Done {
        /// The command's answer.
        result: R,
        /// The key was removed (its last element went).
        removed: bool,
    },
}

fn limits(ctx: &Ctx<'_>) -> Limits {
    let config = ctx.shared.config.read();
    Limits {
        max_entries: config.hash_max_listpack_entries,
        max_value: config.hash_max_listpack_value,
    }
}

/// Changes the collection at `key` in one atomic step: `change` returns its answer and
/// whether it changed the collection. A missing key is created when `create` is set (and
/// stored only if the change left something in it); an emptied collection removes the key.
pub fn write_collection<C: Collection, R>(
    ctx: &Ctx<'_>,
    key: &[u8],
    create: bool,
    change: impl FnOnce(&mut C) -> (R, bool),
) -> Result<Write<R>, InsertError> {
    ctx.keyspace().compute(ctx.db(), key, |entry| match entry {
        None if !create => (Compute::Keep, Write::Missing),
        None => {
            let mut collection = C::empty();
            let (result, _) = change(&mut collection);
            let action = if collection.is_empty() {
                Compute::Keep
            } else {
                Compute::Put(collection.into_value(), NEVER)
            };
            let done = Write::Done {
                result,
                removed: false,
            };
            (action, done)
        }
        Some(entry) => match C::of_mut(entry.value) {
            Some(collection) => {
                let (result, changed) = change(collection);
                let removed = collection.is_empty();
                let action = match (removed, changed) {
                    (true, _) => Compute::Remove,
                    (false, true) => Compute::Updated,
                    (false, false) => Compute::Keep,
                };
                (action, Write::Done { result, removed })
            }
            None => (Compute::Keep, Write::WrongType),
        },
    })
}

fn write_hash<R>(
    ctx: &Ctx<'_>,
    key: &[u8],
    create: bool,
    change: impl FnOnce(&mut Hash) -> (R, bool),
) -> Result<Write<R>, InsertError> {
    write_collection(ctx, key, create, change)
}

/// Reads the collection at `key` (counting a keyspace hit or miss), handing it and the reply
/// to `read`; replies `missing` for no key and the type error for another type.
pub fn read_collection<C: Collection>(
    ctx: &mut Ctx<'_>,
    key: &[u8],
    missing: impl FnOnce(&mut Reply<'_>),
    read: impl FnOnce(&C, &mut Reply<'_>),
) {
    let db = ctx.db();
    let reply = &mut ctx.reply;
    let found = ctx
        .shared
        .keyspace
        .get_with(db, key, |value| match C::of(value) {
            Some(collection) => {
                read(collection, reply);
                true
            }
            None => false,
        });
    match found {
        Some(true) => {}
        Some(false) => ctx.error(err::WRONGTYPE),
        None => missing(&mut ctx.reply),
    }
}

fn read_or(
    ctx: &mut Ctx<'_>,
    key: &[u8],
    missing: impl FnOnce(&mut Reply<'_>),
    read: impl FnOnce(&Hash, &mut Reply<'_>),
) {
    read_collection(ctx, key, missing, read);
}

/// `HSET key field value [field value ...]` (answers the fields added) and `HMSET` (`OK`).
fn hset(ctx: &mut Ctx<'_>, args: &[&[u8]]) {
    if args.len() % 2 == 1 {
        let name = if args[0][1].eq_ignore_ascii_case(&b's') {
            "hset"
        } else {
            "hmset"
        };
        return ctx.arity_error(name);
    }
    let limits = limits(ctx);
    let outcome = write_hash(ctx, args[1], true, |hash| {
        let added = args[2..]
            .chunks_exact(2)
            .filter(|pair| hash.set(pair[0], pair[1], limits))
            .count();
        (added, true)
    });
    match outcome {
        Err(error) => ctx.insert_error(error),
        Ok(Write::WrongType) => ctx.error(err::WRONGTYPE),
        Ok(Write::Missing) => {}
        Ok(Write::Done { result, .. }) => {
            ctx.modified(class::HASH, "hset", args[1]);
            if args[0][1].eq_ignore_ascii_case(&b's') {
                ctx.reply.integer(result as i64);
            } else {
                ctx.reply.ok();
            }
        }
    }
}

fn hsetnx(ctx: &mut Ctx<'_>, args: &[&[u8]]) {
    let limits = limits(ctx);
    let outcome = write_hash(ctx, args[1], true, |hash| {
        if hash.contains(args[2]) {
            (false, false)
        } else {
            hash.set(args[2], args[3], limits);
            (true, true)
        }
    });
    match outcome {
        Err(error) => ctx.insert_error(error),
        Ok(Write::WrongType) => ctx.error(err::WRONGTYPE),
        Ok(Write::Missing) => {}
        Ok(Write::Done { result, .. }) => {
            if result {
                ctx.modified(class::HASH, "hset", args[1]);
            }
            ctx.reply.integer(i64::from(result));
        }
    }
}

fn hget(ctx: &mut Ctx<'_>, args: &[&[u8]]) {
    read_or(
        ctx,
        args[1],
        |r| r.null(),
        |hash, r| match hash.get(args[2]) {
            Some(value) => r.bulk(value),
            None => r.null(),
        },
    );
}

fn hmget(ctx: &mut Ctx<'_>, args: &[&[u8]]) {
    let fields = &args[2..];
    read_or(
        ctx,
        args[1],
        |r| {
            r.array(fields.len());
            for _ in fields {
                r.null();
            }
        },
        |hash, r| {
            r.array(fields.len());
            in_prefetched_chunks(
                fields,
                |chunk| hash.prefetch_fields(chunk),
                |field| match hash.get(field) {
                    Some(value) => r.bulk(value),
                    None => r.null(),
                },
            );
        },
    );
}

/// `HDEL`, `SREM`, `ZREM`: removes the elements `args[2..]` from the collection at `args[1]`
/// with `remove`, answers how many were there, reports `event` (and `del` when the key goes).
pub fn remove_elements<C: Collection>(
    ctx: &mut Ctx<'_>,
    args: &[&[u8]],
    event_class: u16,
    event: &'static str,
    remove: fn(&mut C, &[u8]) -> bool,
) {
    let outcome = write_collection(ctx, args[1], false, |collection: &mut C| {
        let mut deleted = 0;
        for element in &args[2..] {
            if remove(collection, element) {
                deleted += 1;
                if collection.is_empty() {
                    break;
                }
            }
        }
        (deleted, deleted > 0)
    });
    match outcome {
        Err(error) => ctx.insert_error(error),
        Ok(Write::WrongType) => ctx.error(err::WRONGTYPE),
        Ok(Write::Missing) => ctx.reply.integer(0),
        Ok(Write::Done { result, removed }) => {
            if result > 0 {
                ctx.modified(event_class, event, args[1]);
                if removed {
                    ctx.modified(class::GENERIC, "del", args[1]);
                }
            }
            ctx.reply.integer(result);
        }
    }
}

fn hdel(ctx: &mut Ctx<'_>, args: &[&[u8]]) {
    remove_elements(ctx, args, class::HASH, "hdel", Hash::remove);
}

fn hlen(ctx: &mut Ctx<'_>, args: &[&[u8]]) {
    read_or(
        ctx,
        args[1],
        |r| r.integer(0),
        |hash, r| r.integer(hash.len() as i64),
    );
}

fn hstrlen(ctx: &mut Ctx<'_>, args: &[&[u8]]) {
    read_or(
        ctx,
        args[1],
        |r| r.integer(0),
        |hash, r| r.integer(hash.get(args[2]).map_or(0, <[u8]>::len) as i64),
    );
}

fn hexists(ctx: &mut Ctx<'_>, args: &[&[u8]]) {
    read_or(
        ctx,
        args[1],
        |r| r.integer(0),
        |hash, r| r.integer(i64::from(hash.contains(args[2]))),
    );
}

fn hgetall(ctx: &mut Ctx<'_>, args: &[&[u8]]) {
    read_or(
        ctx,
        args[1],
        |r| r.map(0),
        |hash, r| {
            r.map(hash.len());
            for (field, value) in hash.iter() {
                r.bulk(field);
                r.bulk(value);
            }
        },
    );
}

fn hkeys(ctx: &mut Ctx<'_>, args: &[&[u8]]) {
    read_or(
        ctx,
        args[1],
        |r| r.array(0),
        |hash, r| {
            r.array(hash.len());
            for (field, _) in hash.iter() {
                r.bulk(field);
            }
        },
    );
}

fn hvals(ctx: &mut Ctx<'_>, args: &[&[u8]]) {
    read_or(
        ctx,
        args[1],
        |r| r.array(0),
        |hash, r| {
            r.array(hash.len());
            for (_, value) in hash.iter() {
                r.bulk(value);
            }
        },
    );
}

/// `HINCRBY` and `HINCRBYFLOAT`: `step` turns the field's value (`None` when absent) into the
/// new one, or the error to reply; `reply` answers the new value.
fn increment(
    ctx: &mut Ctx<'_>,
    args: &[&[u8]],
    event: &'static str,
    step: impl FnOnce(Option<&[u8]>) -> Result<String, &'static str>,
    reply: fn(&mut Reply<'_>, &str),
) {
    let limits = limits(ctx);
    let outcome = write_hash(ctx, args[1], true, |hash| match step(hash.get(args[2])) {
        Ok(text) => {
            hash.set(args[2], text.as_bytes(), limits);
            (Ok(text), true)
        }
        Err(error) => (Err(error), false),
    });
    match outcome {
        Err(error) => ctx.insert_error(error),
        Ok(Write::WrongType) => ctx.error(err::WRONGTYPE),
        Ok(Write::Missing) => {}
        Ok(Write::Done {
            result: Err(error), ..
        }) => ctx.error(error),
        Ok(Write::Done {
            result: Ok(text), ..
        }) => {
            ctx.modified(class::HASH, event, args[1]);
            reply(&mut ctx.reply, &text);
        }
    }
}

fn hincrby(ctx: &mut Ctx<'_>, args: &[&[u8]]) {
    let Some(by) = int_arg(args[3]) else {
        return ctx.error(err::NOT_INTEGER);
    };
    let step = |current: Option<&[u8]>| {
        let current = match current {
            None => 0,
            Some(bytes) => parse_i64(bytes).ok_or("ERR hash value is not an integer")?,
        };
        let sum = current.checked_add(by).ok_or(err::OVERFLOW)?;
        Ok(sum.to_string())
    };
    increment(ctx, args, "hincrby", step, |r, text| {
        r.integer(parse_i64(text.as_bytes()).unwrap_or(0));
    });
}

fn hincrbyfloat(ctx: &mut Ctx<'_>, args: &[&[u8]]) {
    let Some(by) = LongDouble::parse(args[3]) else {
        return ctx.error(err::NOT_FLOAT);
    };
    if !by.is_finite() {
        return ctx.error("ERR value is NaN or Infinity");
    }
    let step = |current: Option<&[u8]>| {
        let current = match current {
            None => LongDouble::ZERO,
            Some(bytes) => LongDouble::parse(bytes).ok_or("ERR hash value is not a float")?,
        };
        let sum = current + by;
        if !sum.is_finite() {
            return Err("ERR increment would produce NaN or Infinity");
        }
        Ok(sum.to_human_string())
    };
    increment(ctx, args, "hincrbyfloat", step, |r, text| {
        r.bulk(text.as_bytes());
    });
}

/// Parses a random-count argument (`HRANDFIELD`, `SRANDMEMBER`) within `-LONG_MAX..=LONG_MAX`.
pub fn random_count(ctx: &mut Ctx<'_>, arg: &[u8]) -> Option<i64> {
    match int_arg(arg) {
        None => {
            ctx.error(err::NOT_INTEGER);
            None
        }
        Some(i64::MIN) => {
            ctx.error(
                "ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807",
            );
            None
        }
        Some(n) => Some(n),
    }
}

/// `count` distinct picks among `size` elements (`count < size`), as indices or by random
/// sampling: Redis's cases 3 and 4.
pub fn distinct_picks<T: Copy + Eq + std::hash::Hash>(
    size: usize,
    count: usize,
    all: impl FnOnce() -> Vec<T>,
    mut random: impl FnMut() -> T,
) -> Vec<T> {
    if count * 3 > size {
        let mut all = all();
        while all.len() > count {
            let i = random_below(all.len());
            all.swap_remove(i);
        }
        all
    } else {
        let mut seen = HashSet::with_capacity(count);
        let mut picked = Vec::with_capacity(count);
        while picked.len() < count {
            let pick = random();
            if seen.insert(pick) {
                picked.push(pick);
            }
        }
        picked
    }
}

fn hrandfield(ctx: &mut Ctx<'_>, args: &[&[u8]]) {
    if args.len() == 2 {
        return read_or(
            ctx,
            args[1],
            |r| r.null(),
            |hash, r| match hash.random() {
                Some((field, _)) => r.bulk(field),
                None => r.null(),
            },
        );
    }
    let Some(count) = random_count(ctx, args[2]) else {
        return;
    };
    let with_values = match args.len() {
        3 => false,
        4 if args[3].eq_ignore_ascii_case(b"withvalues") => {
            if count.unsigned_abs() > (i64::MAX / 2) as u64 {
                return ctx.error("ERR value is out of range");
            }
            true
        }
        _ => return ctx.error(err::SYNTAX),
    };
    if count < 0 && count.unsigned_abs() > MAX_RANDOM_REPLY {
        return ctx.error("ERR count is too large for one reply");
    }
    read_or(
        ctx,
        args[1],
        |r| r.array(0),
        |hash, r| {
            let resp3 = r.version == Version::Resp3;
            let pair = |r: &mut Reply<'_>, (field, value): (&[u8], &[u8])| {
                if with_values && resp3 {
                    r.array(2);
                }
                r.bulk(field);
                if with_values {
                    r.bulk(value);
                }
            };
            let header = |r: &mut Reply<'_>, n: usize| {
                r.array(if with_values && !resp3 { n * 2 } else { n });
            };
            let size = hash.len();
            if count == 0 {
                return r.array(0);
            }
            if count < 0 || count == 1 {
                let n = count.unsigned_abs() as usize;
                header(r, n);
                for _ in 0..n {
                    if let Some(p) = hash.random() {
                        pair(r, p);
                    }
                }
                return;
            }
            let count = count as usize;
            if count >= size {
                header(r, size);
                for p in hash.iter() {
                    pair(r, p);
                }
                return;
            }
            let picks = distinct_picks(
                size,
                count,
                || hash.iter().collect(),
                || hash.random().unwrap_or((&[], &[])),
            );
            header(r, picks.len());
            for p in picks {
                pair(r, p);
            }
        },
    );
}

/// Parses `SCAN`-family options after the cursor (`MATCH pattern`, `COUNT n`): the count
/// (default 10) and the pattern (`None` for all), or the error to reply.
pub fn scan_options<'a>(options: &[&'a [u8]]) -> Result<(usize, Option<&'a [u8]>), &'static str> {
    let mut count = 10usize;
    let mut pattern = None;
    let mut i = 0;
    while i < options.len() {
        let has_value = i + 1 < options.len();
        if options[i].eq_ignore_ascii_case(b"count") && has_value {
            match int_arg(options[i + 1]) {
                None => return Err(err::NOT_INTEGER),
                Some(n) if n < 1 => return Err(err::SYNTAX),
                Some(n) => count = usize::try_from(n).unwrap_or(usize::MAX),
            }
        } else if options[i].eq_ignore_ascii_case(b"match") && has_value {
            pattern = (options[i + 1] != b"*").then_some(options[i + 1]);
        } else {
            return Err(err::SYNTAX);
        }
        i += 2;
    }
    Ok((count, pattern))
}

/// Parses a scan cursor, replying `ERR invalid cursor` when it is not one.
pub fn scan_cursor(ctx: &mut Ctx<'_>, arg: &[u8]) -> Option<u64> {
    let cursor = super::keys::parse_cursor(arg);
    if cursor.is_none() {
        ctx.error("ERR invalid cursor");
    }
    cursor
}

/// Replies a scan step: the next cursor and the elements found.
pub fn scan_reply(reply: &mut Reply<'_>, cursor: u64, found: &[Vec<u8>]) {
    reply.array(2);
    reply.bulk(cursor.to_string().as_bytes());
    reply.array(found.len());
    for item in found {
        reply.bulk(item);
    }
}

/// `HSCAN`, `SSCAN`, `ZSCAN key cursor [MATCH pattern] [COUNT count]`: `step` runs one scan
/// step over the collection from the cursor for about `count` elements, pushing what the
/// pattern (`None`: all) keeps onto the items, and returns the next cursor.
pub fn scan_collection<C: Collection>(
    ctx: &mut Ctx<'_>,
    args: &[&[u8]],
    step: impl FnOnce(&C, u64, usize, Option<&[u8]>, &mut Vec<Vec<u8>>) -> u64,
) {
    let Some(cursor) = scan_cursor(ctx, args[2]) else {
        return;
    };
    let options = scan_options(&args[3..]);
    let db = ctx.db();
    let mut items = Vec::new();
    // Options are checked only once the key is found to be of the type, as in Redis.
    let found = ctx
        .shared
        .keyspace
        .get_with(db, args[1], |value| match (C::of(value), options) {
            (Some(collection), Ok((count, pattern))) => {
                Ok(step(collection, cursor, count, pattern, &mut items))
            }
            (Some(_), Err(error)) => Err(error),
            (None, _) => Err(err::WRONGTYPE),
        });
    match found {
        None => scan_reply(&mut ctx.reply, 0, &[]),
        Some(Err(error)) => ctx.error(error),
        Some(Ok(next)) => scan_reply(&mut ctx.reply, next, &items),
    }
}

/// Whether a scanned element passes `MATCH`.
pub fn scan_match(pattern: Option<&[u8]>, element: &[u8]) -> bool {
    pattern.is_none_or(|p| crate::glob::matches(p, element, false))
}

fn hscan(ctx: &mut Ctx<'_>, args: &[&[u8]]) {
    scan_collection(ctx, args, |hash: &Hash, cursor, count, pattern, items| {
        hash.scan(cursor, count, |field, value| {
            if scan_match(pattern, field) {
                items.push(field.to_vec());
                items.push(value.to_vec());
            }
        })
    });
}
