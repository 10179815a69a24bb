//! Set commands: `SADD`, `SREM`, `SMEMBERS`, ..., the algebra (`SINTER`, `SUNION`, `SDIFF`,
//! their `*STORE` forms, `SINTERCARD`) and `SSCAN`, with Redis 7.0's semantics and error texts.
//!
//! Single-key writes are one [`Keyspace::compute`](crate::keyspace::Keyspace::compute) call.
//! Commands over several keys (`SMOVE`, the algebra) run alone (`flag::EXCLUSIVE`): they read
//! one key at a time (never holding two shard locks), so what they compute is a consistent
//! snapshot and what they store appears at once.

use super::hashes::{
    MAX_RANDOM_REPLY, Write, distinct_picks, random_count, read_collection, remove_elements,
    scan_collection, scan_match, write_collection,
};
use super::{Ctx, Spec, err, flag, int_arg};
use crate::events::class;
use crate::keyspace::in_prefetched_chunks;
use crate::value::set::{Member, Set};
use crate::value::{IntBuf, Value};
use larder_engine::{InsertError, NEVER};
use larder_protocol::Reply;

family!("set");

use flag::{DENYOOM, EXCLUSIVE, FAST, READONLY, WRITE};

const ONE: (i32, i32, i32) = (1, 1, 1);
const ALL: (i32, i32, i32) = (1, -1, 1);
const STORE: (i32, i32, i32) = (1, -1, 1);

/// The commands of this module.
pub static SPECS: &[Spec] = &[
    spec(
        "sadd",
        -3,
        WRITE | DENYOOM | FAST,
        ONE,
        "Add one or more members to a set",
        "1.0.0",
        sadd,
    ),
    spec(
        "srem",
        -3,
        WRITE | FAST,
        ONE,
        "Remove one or more members from a set",
        "1.0.0",
        srem,
    ),
    spec(
        "smembers",
        2,
        READONLY,
        ONE,
        "Get all the members in a set",
        "1.0.0",
        smembers,
    ),
    spec(
        "sismember",
        3,
        READONLY | FAST,
        ONE,
        "Determine if a given value is a member of a set",
        "1.0.0",
        sismember,
    ),
    spec(
        "smismember",
        -3,
        READONLY | FAST,
        ONE,
        "Returns the membership associated with the given elements for a set",
        "6.2.0",
        smismember,
    ),
    spec(
        "scard",
        2,
        READONLY | FAST,
        ONE,
        "Get the number of members in a set",
        "1.0.0",
        scard,
    ),
    spec(
        "spop",
        -2,
        WRITE | FAST,
        ONE,
        "Remove and return one or multiple random members from a set",
        "1.0.0",
        spop,
    ),
    spec(
        "srandmember",
        -2,
        READONLY,
        ONE,
        "Get one or multiple random members from a set",
        "1.0.0",
        srandmember,
    ),
    spec(
        "smove",
        4,
        WRITE | FAST | EXCLUSIVE,
        (1, 2, 1),
        "Move a member from one set to another",
        "1.0.0",
        smove,
    ),
    spec(
        "sinter",
        -2,
        READONLY | EXCLUSIVE,
        ALL,
        "Intersect multiple sets",
        "1.0.0",
        sinter,
    ),
    spec(
        "sintercard",
        -3,
        READONLY | EXCLUSIVE,
        (0, 0, 0),
        "Intersect multiple sets and return the cardinality of the result",
        "7.0.0",
        sintercard,
    ),
    spec(
        "sinterstore",
        -3,
        WRITE | DENYOOM | EXCLUSIVE,
        STORE,
        "Intersect multiple sets and store the resulting set in a key",
        "1.0.0",
        sinterstore,
    ),
    spec(
        "sunion",
        -2,
        READONLY | EXCLUSIVE,
        ALL,
        "Add multiple sets",
        "1.0.0",
        sunion,
    ),
    spec(
        "sunionstore",
        -3,
        WRITE | DENYOOM | EXCLUSIVE,
        STORE,
        "Add multiple sets and store the resulting set in a key",
        "1.0.0",
        sunionstore,
    ),
    spec(
        "sdiff",
        -2,
        READONLY | EXCLUSIVE,
        ALL,
        "Subtract multiple sets",
        "1.0.0",
        sdiff,
    ),
    spec(
        "sdiffstore",
        -3,
        WRITE | DENYOOM | EXCLUSIVE,
        STORE,
        "Subtract multiple sets and store the resulting set in a key",
        "1.0.0",
        sdiffstore,
    ),
    spec(
        "sscan",
        -3,
        READONLY,
        ONE,
        "Incrementally iterate Set elements",
        "2.8.0",
        sscan,
    ),
];

fn max_intset(ctx: &Ctx<'_>) -> usize {
    ctx.shared.config.read().set_max_intset_entries
}

fn write_set<R>(
    ctx: &Ctx<'_>,
    key: &[u8],
    create: bool,
    change: impl FnOnce(&mut Set) -> (R, bool),
) -> Result<Write<R>, InsertError> {
    write_collection(ctx, key, create, change)
}

fn read_or(
    ctx: &mut Ctx<'_>,
    key: &[u8],
    missing: impl FnOnce(&mut Reply<'_>),
    read: impl FnOnce(&Set, &mut Reply<'_>),
) {
    read_collection(ctx, key, missing, read);
}

fn bulk_member(reply: &mut Reply<'_>, member: Member<'_>) {
    match member {
        Member::Int(n) => reply.bulk_int(n),
        Member::Bytes(bytes) => reply.bulk(bytes),
    }
}

fn sadd(ctx: &mut Ctx<'_>, args: &[&[u8]]) {
    let max = max_intset(ctx);
    let outcome = write_set(ctx, args[1], true, |set| {
        let added = args[2..].iter().filter(|m| set.add(m, max)).count();
        (added, added > 0)
    });
    match outcome {
        Err(error) => ctx.insert_error(error),
        Ok(Write::WrongType) => ctx.error(err::WRONGTYPE),
        Ok(Write::Missing) => {}
        Ok(Write::Done { result, .. }) => {
            if result > 0 {
                ctx.modified(class::SET, "sadd", args[1]);
            }
            ctx.reply.integer(result as i64);
        }
    }
}

fn srem(ctx: &mut Ctx<'_>, args: &[&[u8]]) {
    remove_elements(ctx, args, class::SET, "srem", Set::remove);
}

fn smembers(ctx: &mut Ctx<'_>, args: &[&[u8]]) {
    read_or(
        ctx,
        args[1],
        |r| r.set(0),
        |set, r| {
            r.set(set.len());
            for member in set.iter() {
                bulk_member(r, member);
            }
        },
    );
}

fn sismember(ctx: &mut Ctx<'_>, args: &[&[u8]]) {
    read_or(
        ctx,
        args[1],
        |r| r.integer(0),
        |set, r| r.integer(i64::from(set.contains(args[2]))),
    );
}

fn smismember(ctx: &mut Ctx<'_>, args: &[&[u8]]) {
    let members = &args[2..];
    read_or(
        ctx,
        args[1],
        |r| {
            r.array(members.len());
            for _ in members {
                r.integer(0);
            }
        },
        |set, r| {
            r.array(members.len());
            in_prefetched_chunks(
                members,
                |chunk| set.prefetch_members(chunk),
                |member| r.integer(i64::from(set.contains(member))),
            );
        },
    );
}

fn scard(ctx: &mut Ctx<'_>, args: &[&[u8]]) {
    read_or(
        ctx,
        args[1],
        |r| r.integer(0),
        |set, r| r.integer(set.len() as i64),
    );
}

fn spop(ctx: &mut Ctx<'_>, args: &[&[u8]]) {
    let count = match args.len() {
        2 => None,
        3 => match int_arg(args[2]) {
            Some(n) if n >= 0 => Some(n as u64),
            _ => return ctx.error("ERR value is out of range, must be positive"),
        },
        _ => return ctx.error(err::SYNTAX),
    };
    let outcome = write_set(ctx, args[1], false, |set| {
        let popped: Vec<Vec<u8>> = match count {
            None => set.pop_random().into_iter().collect(),
            Some(n) if n as usize >= set.len() => {
                let all = set.iter().map(|m| m.to_vec()).collect();
                *set = Set::new();
                all
            }
            Some(n) => (0..n).filter_map(|_| set.pop_random()).collect(),
        };
        let changed = !popped.is_empty();
        (popped, changed)
    });
    match outcome {
        Err(error) => ctx.insert_error(error),
        Ok(Write::WrongType) => ctx.error(err::WRONGTYPE),
        Ok(Write::Missing) => match count {
            None => ctx.reply.null(),
            Some(_) => ctx.reply.set(0),
        },
        Ok(Write::Done { result, removed }) => {
            if !result.is_empty() {
                ctx.modified(class::SET, "spop", args[1]);
                if removed {
                    ctx.modified(class::GENERIC, "del", args[1]);
                }
            }
            match count {
                None => match result.first() {
                    Some(member) => ctx.reply.bulk(member),
                    None => ctx.reply.null(),
                },
                Some(_) => {
                    ctx.reply.set(result.len());
                    for member in &result {
                        ctx.reply.bulk(member);
                    }
                }
            }
        }
    }
}

fn srandmember(ctx: &mut Ctx<'_>, args: &[&[u8]]) {
    match args.len() {
        2 => {
            return read_or(
                ctx,
                args[1],
                |r| r.null(),
                |set, r| match set.random() {
                    Some(member) => bulk_member(r, member),
                    None => r.null(),
                },
            );
        }
        3 => {}
        _ => return ctx.error(err::SYNTAX),
    }
    let Some(count) = random_count(ctx, args[2]) else {
        return;
    };
    if count < 0 && count.unsigned_abs() > MAX_RANDOM_REPLY {
        return ctx.error("ERR count is too large for one reply");
    }
    read_or(
        ctx,
        args[1],
        |r| r.array(0),
        |set, r| {
            let size = set.len();
            if count == 0 {
                return r.array(0);
            }
            if count < 0 || count == 1 {
                let n = count.unsigned_abs() as usize;
                r.array(n);
                for _ in 0..n {
                    if let Some(member) = set.random() {
                        bulk_member(r, member);
                    }
                }
                return;
            }
            let count = count as usize;
            if count >= size {
                r.array(size);
                for member in set.iter() {
                    bulk_member(r, member);
                }
                return;
            }
            let picks = distinct_picks(
                size,
                count,
                || set.iter().collect(),
                || set.random().unwrap_or(Member::Int(0)),
            );
            r.array(picks.len());
            for member in picks {
                bulk_member(r, member);
            }
        },
    );
}

/// The type of `key` for a multi-key command, without counting a lookup: `Ok(None)` when
/// absent, `Ok(Some(len))` for a set, `Err` for another type.
fn peek_set_len(ctx: &Ctx<'_>, key: &[u8]) -> Result<Option<usize>, ()> {
    match ctx
        .shared
        .keyspace
        .peek_with(ctx.db(), key, |value, _| match value {
            Value::Set(set) => Ok(set.len()),
            _ => Err(()),
        }) {
        None => Ok(None),
        Some(found) => found.map(Some),
    }
}

fn smove(ctx: &mut Ctx<'_>, args: &[&[u8]]) {
    let (source, destination, member) = (args[1], args[2], args[3]);
    let db = ctx.db();
    let in_source = ctx
        .shared
        .keyspace
        .peek_with(db, source, |value, _| match value {
            Value::Set(set) => Ok(set.contains(member)),
            _ => Err(()),
        });
    let in_source = match in_source {
        None => return ctx.reply.integer(0),
        Some(Err(())) => return ctx.error(err::WRONGTYPE),
        Some(Ok(found)) => found,
    };
    if peek_set_len(ctx, destination).is_err() {
        return ctx.error(err::WRONGTYPE);
    }
    if source == destination {
        return ctx.reply.integer(i64::from(in_source));
    }
    if !in_source {
        return ctx.reply.integer(0);
    }
    // Add first: a refused insert (memory) then changes nothing.
    let max = max_intset(ctx);
    let added = match write_set(ctx, destination, true, |set| {
        let added = set.add(member, max);
        (added, added)
    }) {
        Err(error) => return ctx.insert_error(error),
        Ok(Write::Done { result, .. }) => result,
        Ok(_) => return ctx.error(err::WRONGTYPE),
    };
    let removed = match write_set(ctx, source, false, |set| (set.remove(member), true)) {
        Ok(Write::Done { removed, .. }) => removed,
        _ => false,
    };
    ctx.modified(class::SET, "srem", source);
    if removed {
        ctx.modified(class::GENERIC, "del", source);
    }
    if added {
        ctx.modified(class::SET, "sadd", destination);
    }
    ctx.reply.integer(1);
}

/// The sets named by `keys`, checked: their lengths (`None` for an absent key), or `Err` after
/// replying the type error. Each key is looked up once, counting a hit or miss.
fn lookup_sets(ctx: &mut Ctx<'_>, keys: &[&[u8]]) -> Option<Vec<Option<usize>>> {
    let db = ctx.db();
    let mut lens = Vec::with_capacity(keys.len());
    for key in keys {
        let found = ctx.shared.keyspace.get_with(db, key, |value| match value {
            Value::Set(set) => Some(set.len()),
            _ => None,
        });
        match found {
            Some(Some(len)) => lens.push(Some(len)),
            Some(None) => {
                ctx.error(err::WRONGTYPE);
                return None;
            }
            None => lens.push(None),
        }
    }
    Some(lens)
}

/// Reads the set at `key` (known to be one) through `read`, counting no lookup.
fn with_set<R>(ctx: &Ctx<'_>, key: &[u8], read: impl FnOnce(&Set) -> R) -> Option<R> {
    ctx.shared
        .keyspace
        .peek_with(ctx.db(), key, |value, _| match value {
            Value::Set(set) => Some(read(set)),
            _ => None,
        })
        .flatten()
}

/// The intersection of the sets at `keys` (all present), in the smallest set's order; stops
/// once `limit` members are found (0: no limit).
fn intersect(ctx: &Ctx<'_>, keys: &[&[u8]], lens: &[Option<usize>], limit: usize) -> Vec<Vec<u8>> {
    let mut order: Vec<usize> = (0..keys.len()).collect();
    order.sort_by_key(|&i| lens[i].unwrap_or(0));
    let smallest = keys[order[0]];
    let others: Vec<&[u8]> = order[1..]
        .iter()
        .map(|&i| keys[i])
        .filter(|k| *k != smallest)
        .collect();
    let mut candidates: Vec<Vec<u8>> = with_set(ctx, smallest, |set| {
        set.iter().map(|m| m.to_vec()).collect()
    })
    .unwrap_or_default();
    for key in others {
        with_set(ctx, key, |set| candidates.retain(|m| set.contains(m)));
        if candidates.is_empty() {
            break;
        }
    }
    if limit > 0 {
        candidates.truncate(limit);
    }
    candidates
}

/// The union or difference of the sets at `keys`, as a set.
fn union_or_diff(ctx: &Ctx<'_>, keys: &[&[u8]], lens: &[Option<usize>], union: bool) -> Set {
    let max = max_intset(ctx);
    let mut result = Set::new();
    if union {
        for (key, len) in keys.iter().zip(lens) {
            if len.is_some() {
                with_set(ctx, key, |set| {
                    let mut buf = IntBuf::default();
                    for member in set.iter() {
                        result.add(member.bytes(&mut buf), max);
                    }
                });
            }
        }
        return result;
    }
    if lens[0].is_none() || keys[1..].contains(&keys[0]) {
        return result;
    }
    let mut candidates: Vec<Vec<u8>> =
        with_set(ctx, keys[0], |set| set.iter().map(|m| m.to_vec()).collect()).unwrap_or_default();
    for (key, len) in keys[1..].iter().zip(&lens[1..]) {
        if candidates.is_empty() {
            break;
        }
        if len.is_some() {
            with_set(ctx, key, |set| candidates.retain(|m| !set.contains(m)));
        }
    }
    for member in &candidates {
        result.add(member, max);
    }
    result
}

fn build_set(ctx: &Ctx<'_>, members: &[Vec<u8>]) -> Set {
    let max = max_intset(ctx);
    let mut set = Set::new();
    for member in members {
        set.add(member, max);
    }
    set
}

fn reply_set(reply: &mut Reply<'_>, set: &Set) {
    reply.set(set.len());
    for member in set.iter() {
        bulk_member(reply, member);
    }
}

/// Stores `set` at `destination` (replacing any value and its TTL), or deletes it when empty;
/// replies the size and reports `event`.
fn store(ctx: &mut Ctx<'_>, destination: &[u8], set: Set, event: &'static str) {
    let len = set.len();
    if len == 0 {
        let db = ctx.db();
        if ctx.shared.keyspace.remove(db, destination).is_some() {
            ctx.modified(class::GENERIC, "del", destination);
        }
        return ctx.reply.integer(0);
    }
    let db = ctx.db();
    match ctx
        .shared
        .keyspace
        .set(db, destination, Value::Set(Box::new(set)), NEVER)
    {
        Err(error) => ctx.insert_error(error),
        Ok(()) => {
            ctx.modified(class::SET, event, destination);
            ctx.reply.integer(len as i64);
        }
    }
}

fn sinter(ctx: &mut Ctx<'_>, args: &[&[u8]]) {
    let keys = &args[1..];
    let Some(lens) = lookup_sets(ctx, keys) else {
        return;
    };
    if lens.iter().any(Option::is_none) {
        return ctx.reply.set(0);
    }
    let members = intersect(ctx, keys, &lens, 0);
    ctx.reply.set(members.len());
    for member in &members {
        ctx.reply.bulk(member);
    }
}

fn sinterstore(ctx: &mut Ctx<'_>, args: &[&[u8]]) {
    let keys = &args[2..];
    let Some(lens) = lookup_sets(ctx, keys) else {
        return;
    };
    let set = if lens.iter().any(Option::is_none) {
        Set::new()
    } else {
        let members = intersect(ctx, keys, &lens, 0);
        build_set(ctx, &members)
    };
    store(ctx, args[1], set, "sinterstore");
}

fn sintercard(ctx: &mut Ctx<'_>, args: &[&[u8]]) {
    let numkeys = match int_arg(args[1]) {
        Some(n) if n >= 1 => n as u64,
        _ => return ctx.error("ERR numkeys should be greater than 0"),
    };
    if numkeys > (args.len() - 2) as u64 {
        return ctx.error("ERR Number of keys can't be greater than number of args");
    }
    let numkeys = numkeys as usize;
    let mut limit = 0usize;
    let mut i = 2 + numkeys;
    while i < args.len() {
        if args[i].eq_ignore_ascii_case(b"limit") && i + 1 < args.len() {
            match int_arg(args[i + 1]) {
                Some(n) if n >= 0 => limit = usize::try_from(n).unwrap_or(usize::MAX),
                _ => return ctx.error("ERR LIMIT can't be negative"),
            }
            i += 2;
        } else {
            return ctx.error(err::SYNTAX);
        }
    }
    let keys = &args[2..2 + numkeys];
    let Some(lens) = lookup_sets(ctx, keys) else {
        return;
    };
    if lens.iter().any(Option::is_none) {
        return ctx.reply.integer(0);
    }
    let members = intersect(ctx, keys, &lens, limit);
    ctx.reply.integer(members.len() as i64);
}

fn sunion_or_diff(ctx: &mut Ctx<'_>, args: &[&[u8]], union: bool) {
    let keys = &args[1..];
    let Some(lens) = lookup_sets(ctx, keys) else {
        return;
    };
    let set = union_or_diff(ctx, keys, &lens, union);
    reply_set(&mut ctx.reply, &set);
}

fn sunion_or_diff_store(ctx: &mut Ctx<'_>, args: &[&[u8]], union: bool) {
    let keys = &args[2..];
    let Some(lens) = lookup_sets(ctx, keys) else {
        return;
    };
    let set = union_or_diff(ctx, keys, &lens, union);
    let event = if union { "sunionstore" } else { "sdiffstore" };
    store(ctx, args[1], set, event);
}

fn sunion(ctx: &mut Ctx<'_>, args: &[&[u8]]) {
    sunion_or_diff(ctx, args, true);
}

fn sdiff(ctx: &mut Ctx<'_>, args: &[&[u8]]) {
    sunion_or_diff(ctx, args, false);
}

fn sunionstore(ctx: &mut Ctx<'_>, args: &[&[u8]]) {
    sunion_or_diff_store(ctx, args, true);
}

fn sdiffstore(ctx: &mut Ctx<'_>, args: &[&[u8]]) {
    sunion_or_diff_store(ctx, args, false);
}

fn sscan(ctx: &mut Ctx<'_>, args: &[&[u8]]) {
    scan_collection(ctx, args, |set: &Set, cursor, count, pattern, items| {
        set.scan(cursor, count, |member| {
            let mut buf = IntBuf::default();
            let bytes = member.bytes(&mut buf);
            if scan_match(pattern, bytes) {
                items.push(bytes.to_vec());
            }
        })
    });
}
