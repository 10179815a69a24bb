//! String commands: `GET`, `SET` and its variants, `GETEX`/`GETDEL`/`GETSET`, `MGET`/`MSET`/
//! `MSETNX`, `APPEND`, `STRLEN`, `GETRANGE`/`SUBSTR`, `SETRANGE`, the `INCR` family,
//! `INCRBYFLOAT`, `SETBIT`/`GETBIT` and `LCS`, with Redis 7.0's semantics and error texts.
//!
//! Every single-key read-modify-write runs inside one [`Keyspace::compute`] call, so it is
//! atomic under the key's shard lock. `MSET` and `MSETNX` run alone (`flag::EXCLUSIVE`), so no
//! client sees some of their keys set and others not.
//!
//! A string changed in place (`APPEND`, `SETRANGE`, `SETBIT`) is stored as bytes even when it
//! reads as an integer, as Redis keeps it `raw`; `SET` and the counters store integers as
//! [`Value::Int`].
//!
//! [`Keyspace::compute`]: crate::keyspace::Keyspace::compute

use super::{Ctx, Spec, err, flag, int_arg};
use crate::events::class;
use crate::keyspace::PREFETCH_BATCH;
use crate::value::long_double::LongDouble;
use crate::value::{IntBuf, Value};
use larder_engine::{Compute, InsertError, NEVER, Timestamp};

/// `ERR string exceeds maximum allowed size (proto-max-bulk-len)`.
const TOO_LONG: &str = "ERR string exceeds maximum allowed size (proto-max-bulk-len)";

family!("string");

const ONE: (i32, i32, i32) = (1, 1, 1);

/// The commands of this module.
pub static SPECS: &[Spec] = &[
    spec(
        "get",
        2,
        flag::READONLY | flag::FAST,
        ONE,
        "Get the value of a key",
        "1.0.0",
        get,
    ),
    spec(
        "set",
        -3,
        flag::WRITE | flag::DENYOOM,
        ONE,
        "Set the string value of a key",
        "1.0.0",
        set,
    ),
    spec(
        "setnx",
        3,
        flag::WRITE | flag::DENYOOM | flag::FAST,
        ONE,
        "Set the value of a key, only if the key does not exist",
        "1.0.0",
        setnx,
    ),
    spec(
        "setex",
        4,
        flag::WRITE | flag::DENYOOM,
        ONE,
        "Set the value and expiration of a key",
        "2.0.0",
        setex,
    ),
    spec(
        "psetex",
        4,
        flag::WRITE | flag::DENYOOM,
        ONE,
        "Set the value and expiration in milliseconds of a key",
        "2.6.0",
        psetex,
    ),
    spec(
        "getset",
        3,
        flag::WRITE | flag::DENYOOM | flag::FAST,
        ONE,
        "Set the string value of a key and return its old value",
        "1.0.0",
        getset,
    ),
    spec(
        "getdel",
        2,
        flag::WRITE | flag::FAST,
        ONE,
        "Get the value of a key and delete the key",
        "6.2.0",
        getdel,
    ),
    spec(
        "getex",
        -2,
        flag::WRITE | flag::FAST,
        ONE,
        "Get the value of a key and optionally set its expiration",
        "6.2.0",
        getex,
    ),
    spec(
        "mget",
        -2,
        flag::READONLY | flag::FAST,
        (1, -1, 1),
        "Get the values of all the given keys",
        "1.0.0",
        mget,
    ),
    spec(
        "mset",
        -3,
        flag::WRITE | flag::DENYOOM | flag::EXCLUSIVE,
        (1, -1, 2),
        "Set multiple keys to multiple values",
        "1.0.1",
        mset,
    ),
    spec(
        "msetnx",
        -3,
        flag::WRITE | flag::DENYOOM | flag::EXCLUSIVE,
        (1, -1, 2),
        "Set multiple keys to multiple values, only if none of the keys exist",
        "1.0.1",
        msetnx,
    ),
    spec(
        "append",
        3,
        flag::WRITE | flag::DENYOOM | flag::FAST,
        ONE,
        "Append a value to a key",
        "2.0.0",
        append,
    ),
    spec(
        "strlen",
        2,
        flag::READONLY | flag::FAST,
        ONE,
        "Get the length of the value stored in a key",
        "2.2.0",
        strlen,
    ),
    spec(
        "getrange",
        4,
        flag::READONLY,
        ONE,
        "Get a substring of the string stored at a key",
        "2.4.0",
        getrange,
    ),
    spec(
        "substr",
        4,
        flag::READONLY,
        ONE,
        "Get a substring of the string stored at a key",
        "1.0.0",
        getrange,
    ),
    spec(
        "setrange",
        4,
        flag::WRITE | flag::DENYOOM,
        ONE,
        "Overwrite part of a string at key starting at the specified offset",
        "2.2.0",
        setrange,
    ),
    spec(
        "incr",
        2,
        flag::WRITE | flag::DENYOOM | flag::FAST,
        ONE,
        "Increment the integer value of a key by one",
        "1.0.0",
        incr,
    ),
    spec(
        "decr",
        2,
        flag::WRITE | flag::DENYOOM | flag::FAST,
        ONE,
        "Decrement the integer value of a key by one",
        "1.0.0",
        decr,
    ),
    spec(
        "incrby",
        3,
        flag::WRITE | flag::DENYOOM | flag::FAST,
        ONE,
        "Increment the integer value of a key by the given amount",
        "1.0.0",
        incrby,
    ),
    spec(
        "decrby",
        3,
        flag::WRITE | flag::DENYOOM | flag::FAST,
        ONE,
        "Decrement the integer value of a key by the given number",
        "1.0.0",
        decrby,
    ),
    spec(
        "incrbyfloat",
        3,
        flag::WRITE | flag::DENYOOM | flag::FAST,
        ONE,
        "Increment the float value of a key by the given amount",
        "2.6.0",
        incrbyfloat,
    ),
    spec(
        "setbit",
        4,
        flag::WRITE | flag::DENYOOM,
        ONE,
        "Sets or clears the bit at offset in the string value stored at key",
        "2.2.0",
        setbit,
    ),
    spec(
        "getbit",
        3,
        flag::READONLY | flag::FAST,
        ONE,
        "Returns the bit value at offset in the string value stored at key",
        "2.2.0",
        getbit,
    ),
    spec(
        "lcs",
        -3,
        flag::READONLY,
        (1, 2, 1),
        "Find longest common substring",
        "7.0.0",
        lcs,
    ),
];

/// A copy of a string value's bytes; `None` for other types.
fn string_bytes(value: &Value) -> Option<Vec<u8>> {
    value.as_bytes(&mut IntBuf::default()).map(<[u8]>::to_vec)
}

/// Replies a string value read through [`crate::keyspace::Keyspace::get_with`]-style lookups:
/// `Some(Some(bytes))` a bulk, `Some(None)` the wrong type, `None` a null.
fn reply_string(ctx: &mut Ctx<'_>, found: Option<Option<Vec<u8>>>) {
    match found {
        Some(Some(bytes)) => ctx.reply.bulk(&bytes),
        Some(None) => ctx.error(err::WRONGTYPE),
        None => ctx.reply.null(),
    }
}

/// Redis's `checkStringLength`: whether a string of `size + append` bytes is allowed.
fn check_length(ctx: &mut Ctx<'_>, size: u64, append: u64) -> bool {
    let max = ctx.shared.config.read().proto_max_bulk_len;
    match size.checked_add(append) {
        Some(total) if total <= max => true,
        _ => {
            ctx.error(TOO_LONG);
            false
        }
    }
}

/// Refuses, before allocating it, a string that could never fit the memory budget (an entry
/// must fit one shard's share of it).
fn fits_budget(ctx: &mut Ctx<'_>, len: u64) -> bool {
    let store = ctx.keyspace().store();
    let capacity = store.capacity() / store.shard_count().max(1) as u64;
    if len >= capacity {
        ctx.insert_error(InsertError::TooLarge {
            weight: len.min(u64::from(u32::MAX)) as u32,
            capacity,
        });
        return false;
    }
    true
}

fn get(ctx: &mut Ctx<'_>, args: &[&[u8]]) {
    let db = ctx.db();
    let reply = &mut ctx.reply;
    let found = ctx.shared.keyspace.get_with(db, args[1], |value| {
        let mut buf = IntBuf::default();
        match value.as_bytes(&mut buf) {
            Some(bytes) => {
                reply.bulk(bytes);
                true
            }
            None => false,
        }
    });
    match found {
        Some(true) => {}
        Some(false) => ctx.error(err::WRONGTYPE),
        None => {
            ctx.notify(class::KEY_MISS, "keymiss", args[1]);
            ctx.reply.null()
        }
    }
}

/// Reports a string write to `key`: `new` first when it created the key, then `event`.
fn written(ctx: &mut Ctx<'_>, key: &[u8], created: bool, event: &'static str) {
    if created {
        ctx.notify(class::NEW, "new", key);
    }
    ctx.modified(class::STRING, event, key);
}

/// How an expiration argument is read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum ExpireUnit {
    /// `EX`: seconds from now.
    Ex,
    /// `PX`: milliseconds from now.
    Px,
    /// `EXAT`: a Unix time in seconds.
    ExAt,
    /// `PXAT`: a Unix time in milliseconds.
    PxAt,
}

impl ExpireUnit {
    fn is_absolute(self) -> bool {
        matches!(self, ExpireUnit::ExAt | ExpireUnit::PxAt)
    }
}

/// The options of `SET` and `GETEX`, as Redis's `parseExtendedStringArgumentsOrReply` reads
/// them.
#[derive(Clone, Copy, Debug, Default)]
struct StringOptions<'a> {
    nx: bool,
    xx: bool,
    get: bool,
    keepttl: bool,
    persist: bool,
    expire: Option<(ExpireUnit, &'a [u8])>,
}

/// Parses the options from `args[start..]`; `for_set` selects `SET`'s (NX, XX, GET, KEEPTTL)
/// or `GETEX`'s (PERSIST). `None` is a syntax error: an unknown option, one not allowed for
/// the command, a conflicting one, or a missing argument.
fn parse_options<'a>(args: &[&'a [u8]], start: usize, for_set: bool) -> Option<StringOptions<'a>> {
    let mut o = StringOptions::default();
    let mut j = start;
    while j < args.len() {
        let opt = args[j];
        let next = args.get(j + 1).copied();
        let unit = o.expire.map(|(unit, _)| unit);
        // A unit may be repeated (the last wins) but not mixed with another.
        let can_expire = |u: ExpireUnit| !o.keepttl && !o.persist && unit.is_none_or(|x| x == u);
        let is = |name: &str| opt.eq_ignore_ascii_case(name.as_bytes());
        if is("nx") && !o.xx && for_set {
            o.nx = true;
        } else if is("xx") && !o.nx && for_set {
            o.xx = true;
        } else if is("get") && for_set {
            o.get = true;
        } else if is("keepttl") && !o.persist && unit.is_none() && for_set {
            o.keepttl = true;
        } else if is("persist") && !for_set && unit.is_none() && !o.keepttl {
            o.persist = true;
        } else if let Some((u, arg)) = [
            ("ex", ExpireUnit::Ex),
            ("px", ExpireUnit::Px),
            ("exat", ExpireUnit::ExAt),
            ("pxat", ExpireUnit::PxAt),
        ]
        .into_iter()
        .find(|(name, _)| is(name))
        .and_then(|(_, u)| Some((u, next?)))
            && can_expire(u)
        {
            o.expire = Some((u, arg));
            j += 1;
        } else {
            return None;
        }
        j += 1;
    }
    Some(o)
}

/// Redis's `getExpireMillisecondsOrReply`: the absolute deadline (ms since the epoch) an
/// expiration argument names, or the error to reply.
fn deadline_of(unit: ExpireUnit, arg: &[u8], now: Timestamp, command: &str) -> Result<i64, String> {
    let n = int_arg(arg).ok_or_else(|| err::NOT_INTEGER.to_owned())?;
    let invalid = || format!("ERR invalid expire time in '{command}' command");
    let seconds = matches!(unit, ExpireUnit::Ex | ExpireUnit::ExAt);
    if n <= 0 || (seconds && n > i64::MAX / 1000) {
        return Err(invalid());
    }
    let mut ms = if seconds { n * 1000 } else { n };
    if !unit.is_absolute() {
        ms = ms
            .checked_add(i64::try_from(now).unwrap_or(i64::MAX))
            .ok_or_else(invalid)?;
    }
    Ok(ms)
}

/// What `SET` answers when it set the key and when NX/XX stopped it.
#[derive(Clone, Copy)]
enum SetReply {
    /// `+OK` / null (`SET`, `SETEX`, `PSETEX`).
    OkNull,
    /// `1` / `0` (`SETNX`).
    OneZero,
}

enum SetOutcome {
    WrongType,
    Skipped(Option<Vec<u8>>),
    /// Written: the old value (for `GET`) and whether the key was created.
    Done(Option<Vec<u8>>, bool),
}

/// Redis's `setGenericCommand`.
fn set_generic(
    ctx: &mut Ctx<'_>,
    key: &[u8],
    value: &[u8],
    options: StringOptions<'_>,
    command: &str,
    style: SetReply,
) {
    // Only a deadline needs the time (then compared with it).
    let now = match options.expire {
        Some(_) => ctx.keyspace().now(),
        None => 0,
    };
    let deadline = match options.expire {
        Some((unit, arg)) => match deadline_of(unit, arg, now, command) {
            Ok(ms) => Some(ms),
            Err(text) => return ctx.error(&text),
        },
        None => None,
    };
    let value = Value::string(value);
    let db = ctx.db();
    if !(options.nx || options.xx || options.get || options.keepttl) {
        // A plain write reads nothing: the engine's insert, the fast path of `SET`.
        let result = match deadline {
            Some(ms) if ms <= now as i64 => Ok(ctx.keyspace().remove(db, key).is_none()),
            deadline => ctx
                .keyspace()
                .put(db, key, value, deadline.map_or(NEVER, |ms| ms as u64)),
        };
        return match result {
            Ok(created) => {
                written(ctx, key, created, "set");
                if deadline.is_some() {
                    ctx.modified(class::GENERIC, "expire", key);
                }
                ctx.reply.ok()
            }
            Err(error) => ctx.insert_error(error),
        };
    }
    let result = ctx.keyspace().compute(db, key, |entry| {
        let (old, expires_at) = match &entry {
            Some(entry) => {
                let old = if options.get {
                    match string_bytes(entry.value) {
                        Some(bytes) => Some(bytes),
                        None => return (Compute::Keep, SetOutcome::WrongType),
                    }
                } else {
                    None
                };
                (old, Some(*entry.expires_at))
            }
            None => (None, None),
        };
        let found = entry.is_some();
        if (options.nx && found) || (options.xx && !found) {
            return (Compute::Keep, SetOutcome::Skipped(old));
        }
        let deadline = match deadline {
            // Already in the past (EXAT/PXAT): the key is gone at once.
            Some(ms) if ms <= now as i64 => {
                let action = if found {
                    Compute::Remove
                } else {
                    Compute::Keep
                };
                return (action, SetOutcome::Done(old, !found));
            }
            Some(ms) => ms as u64,
            None if options.keepttl => expires_at.unwrap_or(NEVER),
            None => NEVER,
        };
        (Compute::Put(value, deadline), SetOutcome::Done(old, !found))
    });
    if let Ok(SetOutcome::Done(_, created)) = &result {
        written(ctx, key, *created, "set");
        if deadline.is_some() {
            ctx.modified(class::GENERIC, "expire", key);
        }
    }
    match result {
        Err(error) => ctx.insert_error(error),
        Ok(SetOutcome::WrongType) => ctx.error(err::WRONGTYPE),
        Ok(SetOutcome::Skipped(old) | SetOutcome::Done(old, _)) if options.get => match old {
            Some(bytes) => ctx.reply.bulk(&bytes),
            None => ctx.reply.null(),
        },
        Ok(SetOutcome::Skipped(_)) => match style {
            SetReply::OkNull => ctx.reply.null(),
            SetReply::OneZero => ctx.reply.integer(0),
        },
        Ok(SetOutcome::Done(..)) => match style {
            SetReply::OkNull => ctx.reply.ok(),
            SetReply::OneZero => ctx.reply.integer(1),
        },
    }
}

/// `SET key value [NX | XX] [GET] [EX s | PX ms | EXAT t | PXAT t | KEEPTTL]`
fn set(ctx: &mut Ctx<'_>, args: &[&[u8]]) {
    match parse_options(args, 3, true) {
        Some(options) => set_generic(ctx, args[1], args[2], options, "set", SetReply::OkNull),
        None => ctx.error(err::SYNTAX),
    }
}

fn setnx(ctx: &mut Ctx<'_>, args: &[&[u8]]) {
    let options = StringOptions {
        nx: true,
        ..StringOptions::default()
    };
    set_generic(ctx, args[1], args[2], options, "setnx", SetReply::OneZero);
}

fn setex(ctx: &mut Ctx<'_>, args: &[&[u8]]) {
    let options = StringOptions {
        expire: Some((ExpireUnit::Ex, args[2])),
        ..StringOptions::default()
    };
    set_generic(ctx, args[1], args[3], options, "setex", SetReply::OkNull);
}

fn psetex(ctx: &mut Ctx<'_>, args: &[&[u8]]) {
    let options = StringOptions {
        expire: Some((ExpireUnit::Px, args[2])),
        ..StringOptions::default()
    };
    set_generic(ctx, args[1], args[3], options, "psetex", SetReply::OkNull);
}

/// `GETSET key value`: `SET key value GET`.
fn getset(ctx: &mut Ctx<'_>, args: &[&[u8]]) {
    let options = StringOptions {
        get: true,
        ..StringOptions::default()
    };
    set_generic(ctx, args[1], args[2], options, "getset", SetReply::OkNull);
}

fn getdel(ctx: &mut Ctx<'_>, args: &[&[u8]]) {
    let db = ctx.db();
    let found = ctx.keyspace().compute(db, args[1], |entry| match entry {
        None => (Compute::Keep, None),
        Some(entry) => match string_bytes(entry.value) {
            Some(bytes) => (Compute::Remove, Some(Some(bytes))),
            None => (Compute::Keep, Some(None)),
        },
    });
    match found {
        Ok(found) => {
            if let Some(Some(_)) = found {
                ctx.modified(class::GENERIC, "del", args[1]);
            }
            reply_string(ctx, found)
        }
        Err(error) => ctx.insert_error(error),
    }
}

enum GetexOutcome {
    Missing,
    WrongType,
    BadExpire(String),
    /// The value, and the event the command caused (`del`, `expire`, `persist`), if any.
    Value(Vec<u8>, Option<&'static str>),
}

/// `GETEX key [EX s | PX ms | EXAT t | PXAT t | PERSIST]`
fn getex(ctx: &mut Ctx<'_>, args: &[&[u8]]) {
    let Some(options) = parse_options(args, 2, false) else {
        return ctx.error(err::SYNTAX);
    };
    let now = ctx.keyspace().now();
    // Redis checks the expiration only once it has found a string under the key.
    let deadline = options
        .expire
        .map(|(unit, arg)| (unit, deadline_of(unit, arg, now, "getex")));
    let db = ctx.db();
    let outcome = ctx.keyspace().compute(db, args[1], |entry| {
        let Some(entry) = entry else {
            return (Compute::Keep, GetexOutcome::Missing);
        };
        let Some(bytes) = string_bytes(entry.value) else {
            return (Compute::Keep, GetexOutcome::WrongType);
        };
        match deadline {
            Some((_, Err(text))) => (Compute::Keep, GetexOutcome::BadExpire(text)),
            Some((unit, Ok(ms))) if unit.is_absolute() && ms <= now as i64 => {
                (Compute::Remove, GetexOutcome::Value(bytes, Some("del")))
            }
            Some((_, Ok(ms))) => {
                *entry.expires_at = ms as u64;
                (Compute::Updated, GetexOutcome::Value(bytes, Some("expire")))
            }
            None if options.persist && *entry.expires_at != NEVER => {
                *entry.expires_at = NEVER;
                (
                    Compute::Updated,
                    GetexOutcome::Value(bytes, Some("persist")),
                )
            }
            None => (Compute::Keep, GetexOutcome::Value(bytes, None)),
        }
    });
    match outcome {
        Err(error) => ctx.insert_error(error),
        Ok(GetexOutcome::Missing) => ctx.reply.null(),
        Ok(GetexOutcome::WrongType) => ctx.error(err::WRONGTYPE),
        Ok(GetexOutcome::BadExpire(text)) => ctx.error(&text),
        Ok(GetexOutcome::Value(bytes, event)) => {
            if let Some(event) = event {
                ctx.modified(class::GENERIC, event, args[1]);
            }
            ctx.reply.bulk(&bytes)
        }
    }
}

/// `MGET key...`: a null for a missing key or one of another type.
fn mget(ctx: &mut Ctx<'_>, args: &[&[u8]]) {
    let db = ctx.db();
    ctx.reply.array(args.len() - 1);
    // The keys are known up front: prefetch each chunk's entries before reading them, so that
    // their cache misses overlap (as for a pipelined batch).
    for chunk in args[1..].chunks(PREFETCH_BATCH) {
        ctx.shared
            .keyspace
            .prefetch(db, chunk.iter().map(|&key| (key, None)));
        mget_chunk(ctx, db, chunk);
    }
}

fn mget_chunk(ctx: &mut Ctx<'_>, db: usize, keys: &[&[u8]]) {
    for key in keys {
        let reply = &mut ctx.reply;
        let found = ctx.shared.keyspace.get_with(db, key, |value| {
            let mut buf = IntBuf::default();
            match value.as_bytes(&mut buf) {
                Some(bytes) => {
                    reply.bulk(bytes);
                    true
                }
                None => false,
            }
        });
        if found.is_none() {
            ctx.notify(class::KEY_MISS, "keymiss", key);
        }
        if found != Some(true) {
            ctx.reply.null();
        }
    }
}

/// Sets every key/value pair of `args[1..]` (runs alone: `flag::EXCLUSIVE`).
fn set_pairs(ctx: &mut Ctx<'_>, args: &[&[u8]]) -> bool {
    let db = ctx.db();
    for pair in args[1..].chunks_exact(2) {
        match ctx
            .keyspace()
            .put(db, pair[0], Value::string(pair[1]), NEVER)
        {
            Ok(created) => written(ctx, pair[0], created, "set"),
            Err(error) => {
                ctx.insert_error(error);
                return false;
            }
        }
    }
    true
}

fn mset(ctx: &mut Ctx<'_>, args: &[&[u8]]) {
    if args.len() % 2 == 0 {
        return ctx.arity_error("mset");
    }
    if set_pairs(ctx, args) {
        ctx.reply.ok();
    }
}

/// `MSETNX key value...`: sets them all only if none exists.
fn msetnx(ctx: &mut Ctx<'_>, args: &[&[u8]]) {
    if args.len() % 2 == 0 {
        return ctx.arity_error("msetnx");
    }
    let db = ctx.db();
    let any = args[1..]
        .chunks_exact(2)
        .any(|pair| ctx.keyspace().exists(db, pair[0]));
    if any {
        return ctx.reply.integer(0);
    }
    if set_pairs(ctx, args) {
        ctx.reply.integer(1);
    }
}

enum LengthOutcome {
    WrongType,
    TooLong,
    Len(usize),
}

fn append(ctx: &mut Ctx<'_>, args: &[&[u8]]) {
    let max = ctx.shared.config.read().proto_max_bulk_len;
    let tail = args[2];
    let db = ctx.db();
    let mut created = false;
    let outcome = ctx.keyspace().compute(db, args[1], |entry| {
        let Some(entry) = entry else {
            created = true;
            return (
                Compute::Put(Value::string(tail), NEVER),
                LengthOutcome::Len(tail.len()),
            );
        };
        let mut buf = IntBuf::default();
        let Some(old) = entry.value.as_bytes(&mut buf) else {
            return (Compute::Keep, LengthOutcome::WrongType);
        };
        let total = old.len() as u64 + tail.len() as u64;
        if total > max {
            return (Compute::Keep, LengthOutcome::TooLong);
        }
        let mut joined = Vec::with_capacity(total as usize);
        joined.extend_from_slice(old);
        joined.extend_from_slice(tail);
        let len = joined.len();
        (
            Compute::Put(Value::Str(joined.into()), *entry.expires_at),
            LengthOutcome::Len(len),
        )
    });
    match outcome {
        Err(error) => ctx.insert_error(error),
        Ok(LengthOutcome::WrongType) => ctx.error(err::WRONGTYPE),
        Ok(LengthOutcome::TooLong) => ctx.error(TOO_LONG),
        Ok(LengthOutcome::Len(len)) => {
            written(ctx, args[1], created, "append");
            ctx.reply.integer(len as i64)
        }
    }
}

fn strlen(ctx: &mut Ctx<'_>, args: &[&[u8]]) {
    let db = ctx.db();
    match ctx.keyspace().get_with(db, args[1], Value::string_len) {
        None => {
            ctx.notify(class::KEY_MISS, "keymiss", args[1]);
            ctx.reply.integer(0)
        }
        Some(Some(len)) => ctx.reply.integer(len as i64),
        Some(None) => ctx.error(err::WRONGTYPE),
    }
}

/// The byte range `GETRANGE` answers for `start..=end` over `len` bytes (Redis's rules for
/// negative and out-of-range indexes); `None` for an empty answer.
fn clamp_range(start: i64, end: i64, len: usize) -> Option<(usize, usize)> {
    let len = len as i64;
    if start < 0 && end < 0 && start > end {
        return None;
    }
    let start = if start < 0 { start + len } else { start }.max(0);
    let end = if end < 0 { end + len } else { end }.max(0).min(len - 1);
    if start > end || len == 0 {
        return None;
    }
    Some((start as usize, end as usize))
}

/// `GETRANGE key start end` (and `SUBSTR`).
fn getrange(ctx: &mut Ctx<'_>, args: &[&[u8]]) {
    let (Some(start), Some(end)) = (int_arg(args[2]), int_arg(args[3])) else {
        return ctx.error(err::NOT_INTEGER);
    };
    let db = ctx.db();
    let reply = &mut ctx.reply;
    let found = ctx.shared.keyspace.get_with(db, args[1], |value| {
        let mut buf = IntBuf::default();
        let bytes = value.as_bytes(&mut buf)?;
        match clamp_range(start, end, bytes.len()) {
            Some((from, to)) => reply.bulk(&bytes[from..=to]),
            None => reply.bulk(b""),
        }
        Some(())
    });
    match found {
        None => {
            ctx.notify(class::KEY_MISS, "keymiss", args[1]);
            ctx.reply.bulk(b"")
        }
        Some(None) => ctx.error(err::WRONGTYPE),
        Some(Some(())) => {}
    }
}

/// `SETRANGE key offset value`.
fn setrange(ctx: &mut Ctx<'_>, args: &[&[u8]]) {
    let Some(offset) = int_arg(args[2]) else {
        return ctx.error(err::NOT_INTEGER);
    };
    if offset < 0 {
        return ctx.error("ERR offset is out of range");
    }
    let offset = offset as u64;
    let patch = args[3];
    let db = ctx.db();
    let exists = ctx
        .keyspace()
        .peek_with(db, args[1], |value, _| value.string_len());
    match exists {
        // Nothing to write: answer the current length without creating or checking anything.
        None if patch.is_empty() => return ctx.reply.integer(0),
        Some(None) => return ctx.error(err::WRONGTYPE),
        Some(Some(len)) if patch.is_empty() => return ctx.reply.integer(len as i64),
        _ => {}
    }
    // Checked before anything is allocated: a huge offset is refused, not attempted.
    if !check_length(ctx, offset, patch.len() as u64) {
        return;
    }
    let end = offset as usize + patch.len();
    if !fits_budget(ctx, end as u64) {
        return;
    }
    let offset = offset as usize;
    let mut created = false;
    let outcome = ctx.keyspace().compute(db, args[1], |entry| {
        let Some(entry) = entry else {
            created = true;
            let mut bytes = vec![0; end];
            bytes[offset..].copy_from_slice(patch);
            return (
                Compute::Put(Value::Str(bytes.into()), NEVER),
                LengthOutcome::Len(end),
            );
        };
        if let Value::Str(bytes) = entry.value
            && end <= bytes.len()
        {
            bytes[offset..end].copy_from_slice(patch);
            let len = bytes.len();
            return (Compute::Updated, LengthOutcome::Len(len));
        }
        let mut buf = IntBuf::default();
        let Some(old) = entry.value.as_bytes(&mut buf) else {
            return (Compute::Keep, LengthOutcome::WrongType);
        };
        let mut bytes = old.to_vec();
        if bytes.len() < end {
            bytes.resize(end, 0);
        }
        bytes[offset..end].copy_from_slice(patch);
        let len = bytes.len();
        (
            Compute::Put(Value::Str(bytes.into()), *entry.expires_at),
            LengthOutcome::Len(len),
        )
    });
    match outcome {
        Err(error) => ctx.insert_error(error),
        Ok(LengthOutcome::WrongType) => ctx.error(err::WRONGTYPE),
        Ok(LengthOutcome::TooLong) => ctx.error(TOO_LONG),
        Ok(LengthOutcome::Len(len)) => {
            written(ctx, args[1], created, "setrange");
            ctx.reply.integer(len as i64)
        }
    }
}

enum CounterOutcome<T> {
    WrongType,
    NotNumber,
    Overflow,
    Value(T),
}

/// Redis's `incrDecrCommand`: adds `by` to the integer under `args[1]` (0 when absent),
/// keeping its TTL.
fn incr_by(ctx: &mut Ctx<'_>, key: &[u8], by: i64) {
    let db = ctx.db();
    let mut created = false;
    let outcome = ctx.keyspace().compute(db, key, |entry| {
        let Some(entry) = entry else {
            created = true;
            return (
                Compute::Put(Value::Int(by), NEVER),
                CounterOutcome::Value(by),
            );
        };
        let current = match &*entry.value {
            Value::Int(n) => *n,
            other => {
                let mut buf = IntBuf::default();
                let Some(bytes) = other.as_bytes(&mut buf) else {
                    return (Compute::Keep, CounterOutcome::WrongType);
                };
                match crate::value::parse_i64(bytes) {
                    Some(n) => n,
                    None => return (Compute::Keep, CounterOutcome::NotNumber),
                }
            }
        };
        match current.checked_add(by) {
            Some(next) => {
                *entry.value = Value::Int(next);
                (Compute::Updated, CounterOutcome::Value(next))
            }
            None => (Compute::Keep, CounterOutcome::Overflow),
        }
    });
    match outcome {
        Err(error) => ctx.insert_error(error),
        Ok(CounterOutcome::WrongType) => ctx.error(err::WRONGTYPE),
        Ok(CounterOutcome::NotNumber) => ctx.error(err::NOT_INTEGER),
        Ok(CounterOutcome::Overflow) => ctx.error(err::OVERFLOW),
        Ok(CounterOutcome::Value(n)) => {
            written(ctx, key, created, "incrby");
            ctx.reply.integer(n)
        }
    }
}

fn incr(ctx: &mut Ctx<'_>, args: &[&[u8]]) {
    incr_by(ctx, args[1], 1);
}

fn decr(ctx: &mut Ctx<'_>, args: &[&[u8]]) {
    incr_by(ctx, args[1], -1);
}

fn incrby(ctx: &mut Ctx<'_>, args: &[&[u8]]) {
    match int_arg(args[2]) {
        Some(by) => incr_by(ctx, args[1], by),
        None => ctx.error(err::NOT_INTEGER),
    }
}

fn decrby(ctx: &mut Ctx<'_>, args: &[&[u8]]) {
    match int_arg(args[2]) {
        Some(i64::MIN) => ctx.error("ERR decrement would overflow"),
        Some(by) => incr_by(ctx, args[1], -by),
        None => ctx.error(err::NOT_INTEGER),
    }
}

/// `INCRBYFLOAT key increment`: in long double, stored and answered as Redis formats it
/// (`%.17Lf` without trailing zeros).
fn incrbyfloat(ctx: &mut Ctx<'_>, args: &[&[u8]]) {
    let by = LongDouble::parse(args[2]);
    let db = ctx.db();
    let mut created = false;
    let outcome = ctx.keyspace().compute(db, args[1], |entry| {
        created = entry.is_none();
        let (current, expires_at) = match &entry {
            None => (LongDouble::ZERO, NEVER),
            Some(entry) => {
                let current = match &*entry.value {
                    Value::Int(n) => LongDouble::from_i64(*n),
                    other => {
                        let mut buf = IntBuf::default();
                        let Some(bytes) = other.as_bytes(&mut buf) else {
                            return (Compute::Keep, CounterOutcome::WrongType);
                        };
                        match LongDouble::parse(bytes) {
                            Some(value) => value,
                            None => return (Compute::Keep, CounterOutcome::NotNumber),
                        }
                    }
                };
                (current, *entry.expires_at)
            }
        };
        let Some(by) = by else {
            return (Compute::Keep, CounterOutcome::NotNumber);
        };
        let sum = current + by;
        if !sum.is_finite() {
            return (Compute::Keep, CounterOutcome::Overflow);
        }
        let text = sum.to_human_string();
        (
            Compute::Put(Value::string(text.as_bytes()), expires_at),
            CounterOutcome::Value(text),
        )
    });
    match outcome {
        Err(error) => ctx.insert_error(error),
        Ok(CounterOutcome::WrongType) => ctx.error(err::WRONGTYPE),
        Ok(CounterOutcome::NotNumber) => ctx.error(err::NOT_FLOAT),
        Ok(CounterOutcome::Overflow) => ctx.error("ERR increment would produce NaN or Infinity"),
        Ok(CounterOutcome::Value(text)) => {
            written(ctx, args[1], created, "incrbyfloat");
            ctx.reply.bulk(text.as_bytes())
        }
    }
}

/// Redis's `getBitOffsetFromArgument` (plain form): a bit offset within `proto-max-bulk-len`
/// bytes.
fn bit_offset(ctx: &mut Ctx<'_>, arg: &[u8]) -> Option<u64> {
    let max = ctx.shared.config.read().proto_max_bulk_len;
    match int_arg(arg) {
        Some(n) if n >= 0 && ((n as u64) >> 3) < max => Some(n as u64),
        _ => {
            ctx.error("ERR bit offset is not an integer or out of range");
            None
        }
    }
}

/// `SETBIT key offset 0|1`: answers the bit's previous value.
fn setbit(ctx: &mut Ctx<'_>, args: &[&[u8]]) {
    let Some(offset) = bit_offset(ctx, args[2]) else {
        return;
    };
    let on = match int_arg(args[3]) {
        Some(bit @ (0 | 1)) => bit == 1,
        _ => return ctx.error("ERR bit is not an integer or out of range"),
    };
    let byte = (offset >> 3) as usize;
    let mask = 1u8 << (7 - (offset & 7));
    if !fits_budget(ctx, byte as u64 + 1) {
        return;
    }
    let db = ctx.db();
    let mut created = false;
    let outcome = ctx.keyspace().compute(db, args[1], |entry| {
        let Some(entry) = entry else {
            created = true;
            let mut bytes = vec![0; byte + 1];
            if on {
                bytes[byte] |= mask;
            }
            return (Compute::Put(Value::Str(bytes.into()), NEVER), Some(false));
        };
        if let Value::Str(bytes) = entry.value
            && byte < bytes.len()
        {
            let was = bytes[byte] & mask != 0;
            if was == on {
                return (Compute::Keep, Some(was));
            }
            bytes[byte] ^= mask;
            return (Compute::Updated, Some(was));
        }
        let mut buf = IntBuf::default();
        let Some(old) = entry.value.as_bytes(&mut buf) else {
            return (Compute::Keep, None);
        };
        let mut bytes = old.to_vec();
        if bytes.len() <= byte {
            bytes.resize(byte + 1, 0);
        }
        let was = bytes[byte] & mask != 0;
        if on {
            bytes[byte] |= mask;
        } else {
            bytes[byte] &= !mask;
        }
        (
            Compute::Put(Value::Str(bytes.into()), *entry.expires_at),
            Some(was),
        )
    });
    match outcome {
        Err(error) => ctx.insert_error(error),
        Ok(None) => ctx.error(err::WRONGTYPE),
        Ok(Some(was)) => {
            written(ctx, args[1], created, "setbit");
            ctx.reply.integer(i64::from(was))
        }
    }
}

/// `GETBIT key offset`: 0 past the end of the string or for a missing key.
fn getbit(ctx: &mut Ctx<'_>, args: &[&[u8]]) {
    let Some(offset) = bit_offset(ctx, args[2]) else {
        return;
    };
    let byte = (offset >> 3) as usize;
    let mask = 1u8 << (7 - (offset & 7));
    let db = ctx.db();
    let found = ctx.keyspace().get_with(db, args[1], |value| {
        let mut buf = IntBuf::default();
        let bytes = value.as_bytes(&mut buf)?;
        Some(bytes.get(byte).is_some_and(|b| b & mask != 0))
    });
    match found {
        None => {
            ctx.notify(class::KEY_MISS, "keymiss", args[1]);
            ctx.reply.integer(0)
        }
        Some(None) => ctx.error(err::WRONGTYPE),
        Some(Some(bit)) => ctx.reply.integer(i64::from(bit)),
    }
}

/// One matching range of `LCS ... IDX`: inclusive byte ranges in each string and its length.
struct LcsMatch {
    a: (usize, usize),
    b: (usize, usize),
    len: usize,
}

/// `LCS key1 key2 [LEN] [IDX] [MINMATCHLEN len] [WITHMATCHLEN]`: the longest common
/// subsequence, by Redis's dynamic programme (and with its limits).
fn lcs(ctx: &mut Ctx<'_>, args: &[&[u8]]) {
    let db = ctx.db();
    let mut strings = Vec::with_capacity(2);
    for key in &args[1..3] {
        match ctx.keyspace().get_with(db, key, string_bytes) {
            Some(None) => return ctx.error("ERR The specified keys must contain string values"),
            Some(Some(bytes)) => strings.push(bytes),
            None => strings.push(Vec::new()),
        }
    }
    let (mut get_len, mut get_idx, mut with_match_len, mut min_match_len) =
        (false, false, false, 0);
    let mut j = 3;
    while j < args.len() {
        let opt = args[j];
        let more = j + 1 < args.len();
        if opt.eq_ignore_ascii_case(b"idx") {
            get_idx = true;
        } else if opt.eq_ignore_ascii_case(b"len") {
            get_len = true;
        } else if opt.eq_ignore_ascii_case(b"withmatchlen") {
            with_match_len = true;
        } else if opt.eq_ignore_ascii_case(b"minmatchlen") && more {
            let Some(n) = int_arg(args[j + 1]) else {
                return ctx.error(err::NOT_INTEGER);
            };
            min_match_len = n.max(0) as u64;
            j += 1;
        } else {
            return ctx.error(err::SYNTAX);
        }
        j += 1;
    }
    if get_len && get_idx {
        return ctx.error("ERR If you want both the length and indexes, please just use IDX.");
    }
    let (a, b) = (&strings[0], &strings[1]);
    if a.len() >= u32::MAX as usize - 1 || b.len() >= u32::MAX as usize - 1 {
        return ctx.error("ERR String too long for LCS");
    }
    let width = b.len() + 1;
    let cells = (a.len() as u64 + 1) * width as u64;
    if cells * 4 > ctx.shared.config.read().proto_max_bulk_len {
        return ctx
            .error("ERR Insufficient memory, transient memory for LCS exceeds proto-max-bulk-len");
    }
    let mut table: Vec<u32> = Vec::new();
    if table.try_reserve_exact(cells as usize).is_err() {
        return ctx.error("ERR Insufficient memory, failed allocating transient memory for LCS");
    }
    table.resize(cells as usize, 0);
    let at = |i: usize, j: usize| i * width + j;
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            table[at(i, j)] = if a[i - 1] == b[j - 1] {
                table[at(i - 1, j - 1)] + 1
            } else {
                table[at(i - 1, j)].max(table[at(i, j - 1)])
            };
        }
    }
    let total = table[at(a.len(), b.len())];
    if get_len {
        return ctx.reply.integer(i64::from(total));
    }
    // Walk back from the end, collecting the subsequence and the matching ranges.
    let mut result = vec![0u8; total as usize];
    let mut idx = total as usize;
    let mut ranges: Vec<LcsMatch> = Vec::new();
    let (mut i, mut j) = (a.len(), b.len());
    // (a_start, a_end, b_start, b_end) of the range being extended, if any.
    let mut range: Option<(usize, usize, usize, usize)> = None;
    while i > 0 && j > 0 {
        let mut emit = false;
        if a[i - 1] == b[j - 1] {
            result[idx - 1] = a[i - 1];
            match &mut range {
                None => range = Some((i - 1, i - 1, j - 1, j - 1)),
                Some((a_start, _, b_start, _)) if *a_start == i && *b_start == j => {
                    *a_start -= 1;
                    *b_start -= 1;
                }
                Some(_) => emit = true,
            }
            if let Some((a_start, _, b_start, _)) = range
                && (a_start == 0 || b_start == 0)
            {
                emit = true;
            }
            idx -= 1;
            i -= 1;
            j -= 1;
        } else {
            if table[at(i - 1, j)] > table[at(i, j - 1)] {
                i -= 1;
            } else {
                j -= 1;
            }
            if range.is_some() {
                emit = true;
            }
        }
        if emit && let Some((a_start, a_end, b_start, b_end)) = range.take() {
            let len = a_end - a_start + 1;
            if min_match_len == 0 || len as u64 >= min_match_len {
                ranges.push(LcsMatch {
                    a: (a_start, a_end),
                    b: (b_start, b_end),
                    len,
                });
            }
        }
    }
    if !get_idx {
        return ctx.reply.bulk(&result);
    }
    ctx.reply.map(2);
    ctx.reply.bulk(b"matches");
    ctx.reply.array(ranges.len());
    for LcsMatch {
        a: (a_start, a_end),
        b: (b_start, b_end),
        len,
    } in ranges
    {
        ctx.reply.array(2 + usize::from(with_match_len));
        ctx.reply.array(2);
        ctx.reply.integer(a_start as i64);
        ctx.reply.integer(a_end as i64);
        ctx.reply.array(2);
        ctx.reply.integer(b_start as i64);
        ctx.reply.integer(b_end as i64);
        if with_match_len {
            ctx.reply.integer(len as i64);
        }
    }
    ctx.reply.bulk(b"len");
    ctx.reply.integer(i64::from(total));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_follow_redis() {
        assert_eq!(clamp_range(0, 3, 11), Some((0, 3)));
        assert_eq!(clamp_range(0, -1, 11), Some((0, 10)));
        assert_eq!(clamp_range(-4, -1, 11), Some((7, 10)));
        assert_eq!(clamp_range(5, 3, 11), None);
        assert_eq!(clamp_range(-1, -5, 11), None);
        assert_eq!(clamp_range(5, 5000, 11), Some((5, 10)));
        assert_eq!(clamp_range(-5000, 10000, 11), Some((0, 10)));
        assert_eq!(clamp_range(0, -1, 0), None);
        assert_eq!(clamp_range(0, i64::MAX, 3), Some((0, 2)));
        assert_eq!(clamp_range(i64::MIN, i64::MIN, 3), Some((0, 0)));
    }

    #[test]
    fn options_conflict_like_redis() {
        let parse = |text: &str, for_set| {
            let args: Vec<&[u8]> = text.split(' ').map(str::as_bytes).collect();
            parse_options(&args, 0, for_set).is_some()
        };
        assert!(parse("NX GET EX 10", true));
        assert!(parse("ex 10 ex 20", true));
        assert!(parse("KEEPTTL XX", true));
        assert!(!parse("NX XX", true));
        assert!(!parse("EX 10 PX 10", true));
        assert!(!parse("KEEPTTL EX 10", true));
        assert!(!parse("EX", true));
        assert!(!parse("PERSIST", true));
        assert!(parse("PERSIST", false));
        assert!(!parse("PERSIST EX 1", false));
        assert!(!parse("NX", false));
        assert!(!parse("KEEPTTL", false));
    }
}
