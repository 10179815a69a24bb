//! List commands, including the blocking `BLPOP` family, with Redis 7.0's semantics and
//! error texts.
//!
//! Every single-key change runs inside one [`Keyspace::compute`](crate::keyspace::Keyspace::compute)
//! call, so it is atomic under the key's shard lock; `LMOVE` and its forms touch two keys and
//! run alone (`flag::EXCLUSIVE`). A list that loses its last element is removed. Blocking
//! forms try to serve like their plain forms first, then block with
//! [`Ctx::block_on`](super::Ctx::block_on) (see [`crate::blocking`]).

use super::{Ctx, Spec, err, flag, int_arg};
use crate::blocking::{TimeoutReply, parse_timeout};
use crate::events::class;
use crate::value::list::End;
use crate::value::{List, Value};
use larder_engine::{Compute, InsertError, NEVER};
use larder_protocol::Reply;

family!("list");

const ONE: (i32, i32, i32) = (1, 1, 1);
const TWO: (i32, i32, i32) = (1, 2, 1);
const W: u32 = flag::WRITE;
const R: u32 = flag::READONLY;

/// The commands of this module.
pub static SPECS: &[Spec] = &[
    spec(
        "lpush",
        -3,
        W | flag::DENYOOM | flag::FAST,
        ONE,
        "Prepend one or multiple elements to a list",
        "1.0.0",
        lpush,
    ),
    spec(
        "rpush",
        -3,
        W | flag::DENYOOM | flag::FAST,
        ONE,
        "Append one or multiple elements to a list",
        "1.0.0",
        rpush,
    ),
    spec(
        "lpushx",
        -3,
        W | flag::DENYOOM | flag::FAST,
        ONE,
        "Prepend an element to a list, only if the list exists",
        "2.2.0",
        lpushx,
    ),
    spec(
        "rpushx",
        -3,
        W | flag::DENYOOM | flag::FAST,
        ONE,
        "Append an element to a list, only if the list exists",
        "2.2.0",
        rpushx,
    ),
    spec(
        "lpop",
        -2,
        W | flag::FAST,
        ONE,
        "Remove and get the first elements in a list",
        "1.0.0",
        lpop,
    ),
    spec(
        "rpop",
        -2,
        W | flag::FAST,
        ONE,
        "Remove and get the last elements in a list",
        "1.0.0",
        rpop,
    ),
    spec(
        "llen",
        2,
        R | flag::FAST,
        ONE,
        "Get the length of a list",
        "1.0.0",
        llen,
    ),
    spec(
        "lrange",
        4,
        R,
        ONE,
        "Get a range of elements from a list",
        "1.0.0",
        lrange,
    ),
    spec(
        "lindex",
        3,
        R,
        ONE,
        "Get an element from a list by its index",
        "1.0.0",
        lindex,
    ),
    spec(
        "lset",
        4,
        W | flag::DENYOOM,
        ONE,
        "Set the value of an element in a list by its index",
        "1.0.0",
        lset,
    ),
    spec(
        "linsert",
        5,
        W | flag::DENYOOM,
        ONE,
        "Insert an element before or after another element in a list",
        "2.2.0",
        linsert,
    ),
    spec(
        "lrem",
        4,
        W,
        ONE,
        "Remove elements from a list",
        "1.0.0",
        lrem,
    ),
    spec(
        "ltrim",
        4,
        W,
        ONE,
        "Trim a list to the specified range",
        "1.0.0",
        ltrim,
    ),
    spec(
        "lpos",
        -3,
        R,
        ONE,
        "Return the index of matching elements on a list",
        "6.0.6",
        lpos,
    ),
    spec(
        "lmove",
        5,
        W | flag::DENYOOM | flag::EXCLUSIVE,
        TWO,
        "Pop an element from a list, push it to another list and return it",
        "6.2.0",
        lmove,
    ),
    spec(
        "rpoplpush",
        3,
        W | flag::DENYOOM | flag::EXCLUSIVE,
        TWO,
        "Remove the last element in a list, prepend it to another list and return it",
        "1.2.0",
        rpoplpush,
    ),
    spec(
        "lmpop",
        -4,
        W,
        (0, 0, 0),
        "Pop elements from a list",
        "7.0.0",
        lmpop,
    ),
    spec(
        "blpop",
        -3,
        W | flag::NOSCRIPT,
        (1, -2, 1),
        "Remove and get the first element in a list, or block until one is available",
        "2.0.0",
        blpop,
    ),
    spec(
        "brpop",
        -3,
        W | flag::NOSCRIPT,
        (1, -2, 1),
        "Remove and get the last element in a list, or block until one is available",
        "2.0.0",
        brpop,
    ),
    spec(
        "blmove",
        6,
        W | flag::DENYOOM | flag::NOSCRIPT | flag::EXCLUSIVE,
        TWO,
        "Pop an element from a list, push it to another list and return it; or block until one is available",
        "6.2.0",
        blmove,
    ),
    spec(
        "brpoplpush",
        4,
        W | flag::DENYOOM | flag::NOSCRIPT | flag::EXCLUSIVE,
        TWO,
        "Pop an element from a list, push it to another list and return it; or block until one is available",
        "2.2.0",
        brpoplpush,
    ),
    spec(
        "blmpop",
        -5,
        W | flag::NOSCRIPT,
        (0, 0, 0),
        "Pop elements from a list, or block until one is available",
        "7.0.0",
        blmpop,
    ),
];

/// `ERR value is out of range, must be positive`.
const MUST_BE_POSITIVE: &str = "ERR value is out of range, must be positive";

/// The event of a pop or push at `end`.
fn event(end: End, push: bool) -> &'static str {
    match (end, push) {
        (End::Left, true) => "lpush",
        (End::Right, true) => "rpush",
        (End::Left, false) => "lpop",
        (End::Right, false) => "rpop",
    }
}

/// `LEFT` or `RIGHT` (Redis's `getListPositionFromObjectOrReply`).
fn parse_end(arg: &[u8]) -> Option<End> {
    if arg.eq_ignore_ascii_case(b"left") {
        Some(End::Left)
    } else if arg.eq_ignore_ascii_case(b"right") {
        Some(End::Right)
    } else {
        None
    }
}

/// A non-negative integer argument, or the error `msg` (Redis's
/// `getPositiveLongFromObjectOrReply`).
fn positive(arg: &[u8], msg: &'static str) -> Result<usize, &'static str> {
    match int_arg(arg) {
        Some(n) if n >= 0 => Ok(n as usize),
        _ => Err(msg),
    }
}

/// What a change found at the key.
enum Found<T> {
    /// No such key.
    Missing,
    /// The key holds another type.
    WrongType,
    /// The list, and what the change returned; `true` when the list was emptied (removed).
    List(T, bool),
}

/// Applies `change` to the list at `key` in one atomic step; the list is removed when the
/// change empties it. `change` returns its result and whether it changed the list.
fn change_list<T>(
    ctx: &Ctx<'_>,
    key: &[u8],
    change: impl FnOnce(&mut List) -> (T, bool),
) -> Found<T> {
    change_list_with(ctx.shared, ctx.db(), key, change)
}

/// Reads the list at `key` (counting a keyspace hit or miss).
fn read_list<T>(ctx: &Ctx<'_>, key: &[u8], read: impl FnOnce(&List) -> T) -> Found<T> {
    match ctx.keyspace().get_with(ctx.db(), key, |value| match value {
        Value::List(list) => Some(read(list)),
        _ => None,
    }) {
        None => Found::Missing,
        Some(None) => Found::WrongType,
        Some(Some(result)) => Found::List(result, false),
    }
}

/// Reads the list at `key` (counting a keyspace hit or miss), replying from it in place:
/// `None` when absent, `Some(false)` for another type (nothing replied).
fn reply_from_list(
    ctx: &mut Ctx<'_>,
    key: &[u8],
    read: impl FnOnce(&List, &mut Reply<'_>),
) -> Option<bool> {
    let shared = ctx.shared;
    let reply = &mut ctx.reply;
    shared
        .keyspace
        .get_with(ctx.session.db, key, |value| match value {
            Value::List(list) => {
                read(list, reply);
                true
            }
            _ => false,
        })
}

/// The type of `key` without counting a lookup: `None` when absent, `Some(true)` for a list.
fn peek_is_list(ctx: &Ctx<'_>, key: &[u8]) -> Option<bool> {
    ctx.keyspace()
        .peek_with(ctx.db(), key, |value, _| matches!(value, Value::List(_)))
}

/// Reports a removal at `end` of `key` (and its deletion when emptied).
fn removed(ctx: &mut Ctx<'_>, key: &[u8], event: &'static str, emptied: bool) {
    ctx.modified(class::LIST, event, key);
    if emptied {
        ctx.modified(class::GENERIC, "del", key);
    }
}

// ---------------------------------------------------------------------------------------------
// Pushes

fn lpush(ctx: &mut Ctx<'_>, args: &[&[u8]]) {
    push(ctx, args, End::Left, false);
}

fn rpush(ctx: &mut Ctx<'_>, args: &[&[u8]]) {
    push(ctx, args, End::Right, false);
}

fn lpushx(ctx: &mut Ctx<'_>, args: &[&[u8]]) {
    push(ctx, args, End::Left, true);
}

fn rpushx(ctx: &mut Ctx<'_>, args: &[&[u8]]) {
    push(ctx, args, End::Right, true);
}

/// `LPUSH`, `RPUSH`, and with `only_existing` `LPUSHX`, `RPUSHX`.
fn push(ctx: &mut Ctx<'_>, args: &[&[u8]], end: End, only_existing: bool) {
    let key = args[1];
    let elements = &args[2..];
    let db = ctx.db();
    let result = ctx.keyspace().compute(db, key, |entry| match entry {
        None if only_existing => (Compute::Keep, Found::Missing),
        None => {
            let mut list = List::new();
            for element in elements {
                list.push(end, element);
            }
            let len = list.len();
            (
                Compute::Put(Value::List(Box::new(list)), NEVER),
                Found::List(len, false),
            )
        }
        Some(entry) => match entry.value {
            Value::List(list) => {
                for element in elements {
                    list.push(end, element);
                }
                (Compute::Updated, Found::List(list.len(), false))
            }
            _ => (Compute::Keep, Found::WrongType),
        },
    });
    match result {
        Err(error) => ctx.insert_error(error),
        Ok(Found::Missing) => ctx.reply.integer(0),
        Ok(Found::WrongType) => ctx.error(err::WRONGTYPE),
        Ok(Found::List(len, _)) => {
            ctx.reply.integer(len as i64);
            ctx.modified(class::LIST, event(end, true), key);
        }
    }
}

/// `LINSERT key BEFORE|AFTER pivot element`.
fn linsert(ctx: &mut Ctx<'_>, args: &[&[u8]]) {
    let after = if args[2].eq_ignore_ascii_case(b"after") {
        true
    } else if args[2].eq_ignore_ascii_case(b"before") {
        false
    } else {
        return ctx.error(err::SYNTAX);
    };
    let (pivot, element) = (args[3], args[4]);
    match change_list(ctx, args[1], |list| match list.position(pivot) {
        Some(at) => {
            list.insert(at + usize::from(after), element);
            (Some(list.len()), true)
        }
        None => (None, false),
    }) {
        Found::Missing => ctx.reply.integer(0),
        Found::WrongType => ctx.error(err::WRONGTYPE),
        Found::List(None, _) => ctx.reply.integer(-1),
        Found::List(Some(len), _) => {
            ctx.reply.integer(len as i64);
            ctx.modified(class::LIST, "linsert", args[1]);
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Reads

fn llen(ctx: &mut Ctx<'_>, args: &[&[u8]]) {
    match read_list(ctx, args[1], List::len) {
        Found::Missing => ctx.reply.integer(0),
        Found::WrongType => ctx.error(err::WRONGTYPE),
        Found::List(len, _) => ctx.reply.integer(len as i64),
    }
}

/// A Redis index (negative from the tail) into a list of `len`, if in range.
fn index_of(index: i64, len: usize) -> Option<usize> {
    let len = len as i64;
    let at = if index < 0 { index + len } else { index };
    (0..len).contains(&at).then_some(at as usize)
}

fn lindex(ctx: &mut Ctx<'_>, args: &[&[u8]]) {
    let index = int_arg(args[2]);
    let found = reply_from_list(ctx, args[1], |list, reply| {
        if let Some(index) = index {
            match index_of(index, list.len()).and_then(|at| list.get(at)) {
                Some(element) => reply.bulk(element),
                None => reply.null(),
            }
        }
    });
    match found {
        None => ctx.reply.null(),
        Some(false) => ctx.error(err::WRONGTYPE),
        Some(true) if index.is_none() => ctx.error(err::NOT_INTEGER),
        Some(true) => {}
    }
}

/// The inclusive index range `start..=end` selects in a list of `len` (Redis's rules for
/// negative and out-of-range indexes), or `None` when empty.
fn clamp(start: i64, end: i64, len: usize) -> Option<(usize, usize)> {
    let len = len as i64;
    let start = if start < 0 { start + len } else { start }.max(0);
    let end = if end < 0 { end + len } else { end };
    if start > end || start >= len {
        return None;
    }
    Some((start as usize, end.min(len - 1) as usize))
}

fn lrange(ctx: &mut Ctx<'_>, args: &[&[u8]]) {
    let (Some(start), Some(end)) = (int_arg(args[2]), int_arg(args[3])) else {
        return ctx.error(err::NOT_INTEGER);
    };
    let found = reply_from_list(ctx, args[1], |list, reply| {
        match clamp(start, end, list.len()) {
            None => reply.array(0),
            Some((from, to)) => {
                reply.array(to - from + 1);
                for element in list.range(from, to) {
                    reply.bulk(element);
                }
            }
        }
    });
    match found {
        None => ctx.reply.array(0),
        Some(false) => ctx.error(err::WRONGTYPE),
        Some(true) => {}
    }
}

/// `LPOS key element [RANK rank] [COUNT num-matches] [MAXLEN len]`.
fn lpos(ctx: &mut Ctx<'_>, args: &[&[u8]]) {
    let element = args[2];
    let mut rank: i64 = 1;
    let mut count: Option<usize> = None;
    let mut maxlen = 0usize;
    let mut at = 3;
    while at < args.len() {
        let more = at + 1 < args.len();
        let opt = args[at];
        if opt.eq_ignore_ascii_case(b"rank") && more {
            at += 1;
            let Some(r) = int_arg(args[at]) else {
                return ctx.error(err::NOT_INTEGER);
            };
            if r == 0 {
                return ctx.error(
                    "ERR RANK can't be zero: use 1 to start from the first match, 2 from the second ... or use negative to start from the end of the list",
                );
            }
            if r == i64::MIN {
                return ctx.error("ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807");
            }
            rank = r;
        } else if opt.eq_ignore_ascii_case(b"count") && more {
            at += 1;
            match positive(args[at], "ERR COUNT can't be negative") {
                Ok(n) => count = Some(n),
                Err(e) => return ctx.error(e),
            }
        } else if opt.eq_ignore_ascii_case(b"maxlen") && more {
            at += 1;
            match positive(args[at], "ERR MAXLEN can't be negative") {
                Ok(n) => maxlen = n,
                Err(e) => return ctx.error(e),
            }
        } else {
            return ctx.error(err::SYNTAX);
        }
        at += 1;
    }
    let from_tail = rank < 0;
    let rank = rank.unsigned_abs() as usize;
    let found = read_list(ctx, args[1], |list| {
        let len = list.len();
        let scan = if maxlen == 0 { len } else { maxlen.min(len) };
        let mut matches = 0usize;
        let mut hits: Vec<usize> = Vec::new();
        let mut visit = |index: usize, e: &[u8]| -> bool {
            if e == element {
                matches += 1;
                if matches >= rank {
                    hits.push(index);
                    return match count {
                        None => true,
                        Some(0) => false,
                        Some(n) => hits.len() >= n,
                    };
                }
            }
            false
        };
        if from_tail {
            for (i, e) in list.iter().rev().take(scan).enumerate() {
                if visit(len - 1 - i, e) {
                    break;
                }
            }
        } else {
            for (i, e) in list.iter().take(scan).enumerate() {
                if visit(i, e) {
                    break;
                }
            }
        }
        hits
    });
    match found {
        Found::WrongType => ctx.error(err::WRONGTYPE),
        Found::Missing => match count {
            Some(_) => ctx.reply.array(0),
            None => ctx.reply.null(),
        },
        Found::List(hits, _) => match count {
            Some(_) => {
                ctx.reply.array(hits.len());
                for hit in hits {
                    ctx.reply.integer(hit as i64);
                }
            }
            None => match hits.first() {
                Some(&hit) => ctx.reply.integer(hit as i64),
                None => ctx.reply.null(),
            },
        },
    }
}

// ---------------------------------------------------------------------------------------------
// In-place changes

fn lset(ctx: &mut Ctx<'_>, args: &[&[u8]]) {
    let index = int_arg(args[2]);
    let element = args[3];
    match change_list(ctx, args[1], |list| match index {
        None => (Err(err::NOT_INTEGER), false),
        Some(index) => match index_of(index, list.len()) {
            Some(at) => {
                list.set(at, element);
                (Ok(()), true)
            }
            None => (Err("ERR index out of range"), false),
        },
    }) {
        Found::Missing => ctx.error(err::NO_SUCH_KEY),
        Found::WrongType => ctx.error(err::WRONGTYPE),
        Found::List(Err(e), _) => ctx.error(e),
        Found::List(Ok(()), _) => {
            ctx.reply.ok();
            ctx.modified(class::LIST, "lset", args[1]);
        }
    }
}

fn lrem(ctx: &mut Ctx<'_>, args: &[&[u8]]) {
    let Some(count) = int_arg(args[2]) else {
        return ctx.error(err::NOT_INTEGER);
    };
    let element = args[3];
    let limit = count.unsigned_abs().min(usize::MAX as u64) as usize;
    match change_list(ctx, args[1], |list| {
        let n = list.remove_matching(element, limit, count < 0);
        (n, n > 0)
    }) {
        Found::Missing => ctx.reply.integer(0),
        Found::WrongType => ctx.error(err::WRONGTYPE),
        Found::List(n, emptied) => {
            ctx.reply.integer(n as i64);
            if n > 0 {
                removed(ctx, args[1], "lrem", emptied);
            }
        }
    }
}

fn ltrim(ctx: &mut Ctx<'_>, args: &[&[u8]]) {
    let (Some(start), Some(end)) = (int_arg(args[2]), int_arg(args[3])) else {
        return ctx.error(err::NOT_INTEGER);
    };
    match change_list(ctx, args[1], |list| {
        let keep = clamp(start, end, list.len());
        let changed = keep != Some((0, list.len().saturating_sub(1)));
        list.trim(keep);
        ((), changed)
    }) {
        Found::Missing => ctx.reply.ok(),
        Found::WrongType => ctx.error(err::WRONGTYPE),
        Found::List((), emptied) => {
            ctx.reply.ok();
            removed(ctx, args[1], "ltrim", emptied);
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Pops

/// How a pop replies.
#[derive(Clone, Copy)]
enum Shape {
    /// One element, a bulk string (`LPOP key`).
    Single,
    /// Up to n elements, an array (`LPOP key count`).
    Count(usize),
    /// `[key, element]` (`BLPOP`).
    Keyed,
    /// `[key, [elements]]` (`LMPOP`, `BLMPOP`).
    KeyedCount(usize),
}

/// Pops from `key` at `end`, writing the reply in `shape`; the events follow.
fn pop_into(ctx: &mut Ctx<'_>, key: &[u8], end: End, shape: Shape) -> Found<()> {
    let reply = &mut ctx.reply;
    let found = change_list_with(ctx.shared, ctx.session.db, key, |list| {
        write_pop(reply, list, key, end, shape);
        ((), true)
    });
    if let Found::List((), emptied) = found {
        removed(ctx, key, event(end, false), emptied);
    }
    found
}

/// [`change_list`] for callers that hold parts of the context apart.
fn change_list_with<T>(
    shared: &crate::shared::Shared,
    db: usize,
    key: &[u8],
    change: impl FnOnce(&mut List) -> (T, bool),
) -> Found<T> {
    let result = shared.keyspace.compute(db, key, |entry| {
        let Some(entry) = entry else {
            return (Compute::Keep, Found::Missing);
        };
        let Value::List(list) = entry.value else {
            return (Compute::Keep, Found::WrongType);
        };
        let (result, changed) = change(list);
        if list.is_empty() {
            (Compute::Remove, Found::List(result, true))
        } else if changed {
            (Compute::Updated, Found::List(result, false))
        } else {
            (Compute::Keep, Found::List(result, false))
        }
    });
    result.unwrap_or(Found::Missing)
}

fn write_pop(reply: &mut Reply<'_>, list: &mut List, key: &[u8], end: End, shape: Shape) {
    let mut pop_n = |reply: &mut Reply<'_>, n: usize| {
        let n = n.min(list.len());
        reply.array(n);
        for _ in 0..n {
            if let Some(element) = list.pop(end) {
                reply.bulk(&element);
            }
        }
    };
    match shape {
        Shape::Single => match list.pop(end) {
            Some(element) => reply.bulk(&element),
            None => reply.null(),
        },
        Shape::Count(n) => pop_n(reply, n),
        Shape::Keyed => {
            reply.array(2);
            reply.bulk(key);
            match list.pop(end) {
                Some(element) => reply.bulk(&element),
                None => reply.null(),
            }
        }
        Shape::KeyedCount(n) => {
            reply.array(2);
            reply.bulk(key);
            pop_n(reply, n);
        }
    }
}

fn lpop(ctx: &mut Ctx<'_>, args: &[&[u8]]) {
    pop(ctx, args, End::Left);
}

fn rpop(ctx: &mut Ctx<'_>, args: &[&[u8]]) {
    pop(ctx, args, End::Right);
}

/// `LPOP key [count]`, `RPOP key [count]`.
fn pop(ctx: &mut Ctx<'_>, args: &[&[u8]], end: End) {
    if args.len() > 3 {
        let name = if end == End::Left { "lpop" } else { "rpop" };
        return ctx.arity_error(name);
    }
    let count = match args.get(2) {
        None => None,
        Some(arg) => match positive(arg, MUST_BE_POSITIVE) {
            Ok(n) => Some(n),
            Err(e) => return ctx.error(e),
        },
    };
    if count == Some(0) {
        // Looked up for the type, then an empty array.
        return match peek_is_list(ctx, args[1]) {
            None => ctx.reply.null_array(),
            Some(false) => ctx.error(err::WRONGTYPE),
            Some(true) => ctx.reply.array(0),
        };
    }
    let shape = count.map_or(Shape::Single, Shape::Count);
    match pop_into(ctx, args[1], end, shape) {
        Found::Missing if count.is_some() => ctx.reply.null_array(),
        Found::Missing => ctx.reply.null(),
        Found::WrongType => ctx.error(err::WRONGTYPE),
        Found::List((), _) => {}
    }
}

/// Pops from the first non-empty list of `keys` in `shape`; `Ok(true)` when one was found,
/// `Err` after replying a type error.
fn pop_first(ctx: &mut Ctx<'_>, keys: &[&[u8]], end: End, shape: Shape) -> Result<bool, ()> {
    for key in keys {
        match pop_into(ctx, key, end, shape) {
            Found::Missing => {}
            // Serving a blocked client: a key that now holds another type is not ready (as
            // Redis checks the type before serving); the client stays blocked.
            Found::WrongType if ctx.session.serving_blocked => {}
            Found::WrongType => {
                ctx.error(err::WRONGTYPE);
                return Err(());
            }
            Found::List((), _) => return Ok(true),
        }
    }
    Ok(false)
}

fn blpop(ctx: &mut Ctx<'_>, args: &[&[u8]]) {
    blocking_pop(ctx, args, End::Left);
}

fn brpop(ctx: &mut Ctx<'_>, args: &[&[u8]]) {
    blocking_pop(ctx, args, End::Right);
}

/// `BLPOP key [key ...] timeout`, `BRPOP ...`.
fn blocking_pop(ctx: &mut Ctx<'_>, args: &[&[u8]], end: End) {
    let timeout = match parse_timeout(args[args.len() - 1]) {
        Ok(t) => t,
        Err(e) => return ctx.error(e),
    };
    let keys = &args[1..args.len() - 1];
    if let Ok(false) = pop_first(ctx, keys, end, Shape::Keyed) {
        ctx.block_on(keys, timeout, TimeoutReply::NullArray);
    }
}

/// The parsed `numkeys key ... LEFT|RIGHT [COUNT count]` of `LMPOP`/`BLMPOP`.
fn parse_mpop<'a>(
    args: &'a [&'a [u8]],
    numkeys_at: usize,
) -> Result<(&'a [&'a [u8]], End, usize), &'static str> {
    const NUMKEYS: &str = "ERR numkeys should be greater than 0";
    let numkeys = match int_arg(args[numkeys_at]) {
        Some(n) if n >= 1 => n as u64,
        _ => return Err(NUMKEYS),
    };
    let where_at = (numkeys_at as u64)
        .saturating_add(numkeys)
        .saturating_add(1);
    if where_at >= args.len() as u64 {
        return Err(err::SYNTAX);
    }
    let where_at = where_at as usize;
    let end = parse_end(args[where_at]).ok_or(err::SYNTAX)?;
    let mut count = None;
    let mut at = where_at + 1;
    while at < args.len() {
        if count.is_none() && args[at].eq_ignore_ascii_case(b"count") && at + 1 < args.len() {
            match int_arg(args[at + 1]) {
                Some(n) if n >= 1 => count = Some(n as usize),
                _ => return Err("ERR count should be greater than 0"),
            }
            at += 2;
        } else {
            return Err(err::SYNTAX);
        }
    }
    Ok((&args[numkeys_at + 1..where_at], end, count.unwrap_or(1)))
}

/// `LMPOP numkeys key [key ...] LEFT|RIGHT [COUNT count]`.
fn lmpop(ctx: &mut Ctx<'_>, args: &[&[u8]]) {
    let (keys, end, count) = match parse_mpop(args, 1) {
        Ok(parsed) => parsed,
        Err(e) => return ctx.error(e),
    };
    if let Ok(false) = pop_first(ctx, keys, end, Shape::KeyedCount(count)) {
        ctx.reply.null_array();
    }
}

/// `BLMPOP timeout numkeys key [key ...] LEFT|RIGHT [COUNT count]`.
fn blmpop(ctx: &mut Ctx<'_>, args: &[&[u8]]) {
    let (keys, end, count) = match parse_mpop(args, 2) {
        Ok(parsed) => parsed,
        Err(e) => return ctx.error(e),
    };
    let timeout = match parse_timeout(args[1]) {
        Ok(t) => t,
        Err(e) => return ctx.error(e),
    };
    if let Ok(false) = pop_first(ctx, keys, end, Shape::KeyedCount(count)) {
        ctx.block_on(keys, timeout, TimeoutReply::NullArray);
    }
}

// ---------------------------------------------------------------------------------------------
// Moves

/// `LMOVE source destination LEFT|RIGHT LEFT|RIGHT`.
fn lmove(ctx: &mut Ctx<'_>, args: &[&[u8]]) {
    let (Some(from), Some(to)) = (parse_end(args[3]), parse_end(args[4])) else {
        return ctx.error(err::SYNTAX);
    };
    if !move_element(ctx, args[1], args[2], from, to) {
        ctx.reply.null();
    }
}

/// `RPOPLPUSH source destination`.
fn rpoplpush(ctx: &mut Ctx<'_>, args: &[&[u8]]) {
    if !move_element(ctx, args[1], args[2], End::Right, End::Left) {
        ctx.reply.null();
    }
}

/// `BLMOVE source destination LEFT|RIGHT LEFT|RIGHT timeout`.
fn blmove(ctx: &mut Ctx<'_>, args: &[&[u8]]) {
    let (Some(from), Some(to)) = (parse_end(args[3]), parse_end(args[4])) else {
        return ctx.error(err::SYNTAX);
    };
    blocking_move(ctx, args[1], args[2], from, to, args[5]);
}

/// `BRPOPLPUSH source destination timeout`.
fn brpoplpush(ctx: &mut Ctx<'_>, args: &[&[u8]]) {
    blocking_move(ctx, args[1], args[2], End::Right, End::Left, args[3]);
}

fn blocking_move(
    ctx: &mut Ctx<'_>,
    source: &[u8],
    dest: &[u8],
    from: End,
    to: End,
    timeout: &[u8],
) {
    let timeout = match parse_timeout(timeout) {
        Ok(t) => t,
        Err(e) => return ctx.error(e),
    };
    if !move_element(ctx, source, dest, from, to) {
        ctx.block_on(&[source], timeout, TimeoutReply::NullBulk);
    }
}

/// Moves one element from `source`'s `from` end to `dest`'s `to` end, replying it (or an
/// error); `false`, with nothing replied, when `source` is empty. Runs alone
/// (`flag::EXCLUSIVE`), so the two keys change together.
fn move_element(ctx: &mut Ctx<'_>, source: &[u8], dest: &[u8], from: End, to: End) -> bool {
    match peek_is_list(ctx, source) {
        None => return false,
        // Serving a blocked client: a source of another type is not ready (the destination's
        // type, though, is answered as an error).
        Some(false) if ctx.session.serving_blocked => return false,
        Some(false) => {
            ctx.error(err::WRONGTYPE);
            return true;
        }
        Some(true) => {}
    }
    if source == dest {
        // One list: rotate it in place (it never empties, and keeps its TTL).
        let found = change_list(ctx, source, |list| {
            let element = list.pop(from);
            if let Some(element) = &element {
                list.push(to, element);
            }
            (element, true)
        });
        return match found {
            Found::List(Some(element), _) => {
                ctx.reply.bulk(&element);
                ctx.modified(class::LIST, event(to, true), dest);
                ctx.modified(class::LIST, event(from, false), source);
                true
            }
            _ => false,
        };
    }
    if peek_is_list(ctx, dest) == Some(false) {
        ctx.error(err::WRONGTYPE);
        return true;
    }
    let Found::List(Some(element), emptied) =
        change_list(ctx, source, |list| (list.pop(from), true))
    else {
        return false;
    };
    if let Err(error) = push_owned(ctx, dest, to, &element) {
        // Put it back where it was: nothing moved.
        let db = ctx.db();
        let _ = ctx.keyspace().compute(db, source, |entry| match entry {
            Some(entry) => match entry.value {
                Value::List(list) => {
                    list.push(from, &element);
                    (Compute::Updated, ())
                }
                _ => (Compute::Keep, ()),
            },
            None => {
                let mut list = List::new();
                list.push(from, &element);
                (Compute::Put(Value::List(Box::new(list)), NEVER), ())
            }
        });
        ctx.insert_error(error);
        return true;
    }
    ctx.reply.bulk(&element);
    ctx.modified(class::LIST, event(to, true), dest);
    removed(ctx, source, event(from, false), emptied);
    true
}

/// Pushes one element onto `key` (a list or nothing: the caller checked the type).
fn push_owned(ctx: &Ctx<'_>, key: &[u8], end: End, element: &[u8]) -> Result<(), InsertError> {
    let db = ctx.db();
    ctx.keyspace().compute(db, key, |entry| match entry {
        Some(entry) => match entry.value {
            Value::List(list) => {
                list.push(end, element);
                (Compute::Updated, ())
            }
            _ => (Compute::Keep, ()),
        },
        None => {
            let mut list = List::new();
            list.push(end, element);
            (Compute::Put(Value::List(Box::new(list)), NEVER), ())
        }
    })
}
