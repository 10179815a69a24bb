//! Generic key commands: DEL, UNLINK, EXISTS, TYPE, TOUCH, KEYS, SCAN, RANDOMKEY, DBSIZE,
//! RENAME, RENAMENX, COPY, MOVE, SWAPDB, FLUSHDB, FLUSHALL and OBJECT.
//!
//! Semantics and error texts are Redis 7.0's. Where Larder differs, it is on purpose:
//!
//! * **Atomicity.** RENAME, RENAMENX, COPY, MOVE, SWAPDB, FLUSHDB and FLUSHALL involve more
//!   than one key or a whole database; they are flagged `EXCLUSIVE` and so run alone. RENAME,
//!   MOVE and COPY carry the source's deadline over to the target (and a replaced target loses
//!   its own). They store the target before removing the source, which copies the value once
//!   (Redis moves a pointer); a refused store leaves both keys as they were.
//! * **UNLINK, FLUSHDB ASYNC, FLUSHALL ASYNC** free synchronously: the engine drops a value in
//!   the shard that held it, and the reply comes once the keys are gone. The options are
//!   accepted, so clients that send them work unchanged.
//! * **Keyspace hits and misses.** Only TOUCH among these commands counts a lookup (it exists
//!   to record an access). EXISTS, TYPE, COPY, SCAN, KEYS and OBJECT read without counting a
//!   hit or miss and without counting as an access to the key, so monitoring with them neither
//!   skews the hit ratio nor keeps keys from being evicted. (Redis counts EXISTS, TYPE and COPY
//!   in `keyspace_hits`/`keyspace_misses`.)
//! * **OBJECT FREQ** answers the key's engine *access counter* under every eviction policy:
//!   the hits since the key was stored or since the policy last aged it, saturating at 3 (it
//!   is two bits kept in the entry). Redis answers only under an LFU policy, with a
//!   logarithmic 0–255 counter, and errors otherwise; the two scales are not comparable.
//! * **OBJECT IDLETIME** is an error naming why: the engine keeps no last-access time per key,
//!   so there is no idle time to report, and answering a made-up number would mislead.
//! * **OBJECT REFCOUNT** is 1: Larder never shares a value between keys (Redis shares the
//!   integers 0–9999 and reports `INT_MAX` for them).
//! * **SCAN** walks the engine's slots, shared by the 16 databases: one call visits about
//!   COUNT slots at a time, up to ten times COUNT in all, and stops early once it has COUNT
//!   keys of the selected database (before MATCH and TYPE filter them, as in Redis). What it
//!   guarantees across calls is what [`Keyspace::scan`](crate::keyspace::Keyspace::scan) does.

use super::{Ctx, Spec, err, flag, int_arg};
use crate::events::class;
use crate::glob;
use crate::keyspace::{DATABASES, Relocated};
use larder_engine::InsertError;

/// `ERR source and destination objects are the same`.
const SAME_OBJECT: &str = "ERR source and destination objects are the same";
/// `OBJECT IDLETIME`'s answer (see the module docs).
const IDLETIME_NOT_TRACKED: &str = "ERR idle time is not tracked: Larder keeps no last-access time per key (OBJECT FREQ reports its access counter)";

const W: u32 = flag::WRITE;
const R: u32 = flag::READONLY;
const F: u32 = flag::FAST;
const X: u32 = flag::EXCLUSIVE;

/// The commands of this module.
pub static SPECS: &[Spec] = &[
    Spec {
        name: "del",
        arity: -2,
        flags: W,
        keys: (1, -1, 1),
        group: "generic",
        summary: "Delete a key",
        since: "1.0.0",
        handler: del,
    },
    Spec {
        name: "unlink",
        arity: -2,
        flags: W | F,
        keys: (1, -1, 1),
        group: "generic",
        summary: "Delete a key asynchronously in another thread. Otherwise it is just as DEL, but non blocking.",
        since: "4.0.0",
        handler: del,
    },
    Spec {
        name: "exists",
        arity: -2,
        flags: R | F,
        keys: (1, -1, 1),
        group: "generic",
        summary: "Determine if a key exists",
        since: "1.0.0",
        handler: exists,
    },
    Spec {
        name: "type",
        arity: 2,
        flags: R | F,
        keys: (1, 1, 1),
        group: "generic",
        summary: "Determine the type stored at key",
        since: "1.0.0",
        handler: type_,
    },
    Spec {
        name: "touch",
        arity: -2,
        flags: R | F,
        keys: (1, -1, 1),
        group: "generic",
        summary: "Alters the last access time of a key(s). Returns the number of existing keys specified.",
        since: "3.2.1",
        handler: touch,
    },
    Spec {
        name: "keys",
        arity: 2,
        flags: R,
        keys: (0, 0, 0),
        group: "generic",
        summary: "Find all keys matching the given pattern",
        since: "1.0.0",
        handler: keys,
    },
    Spec {
        name: "scan",
        arity: -2,
        flags: R,
        keys: (0, 0, 0),
        group: "generic",
        summary: "Incrementally iterate the keys space",
        since: "2.8.0",
        handler: scan,
    },
    Spec {
        name: "randomkey",
        arity: 1,
        flags: R,
        keys: (0, 0, 0),
        group: "generic",
        summary: "Return a random key from the keyspace",
        since: "1.0.0",
        handler: randomkey,
    },
    Spec {
        name: "dbsize",
        arity: 1,
        flags: R | F,
        keys: (0, 0, 0),
        group: "server",
        summary: "Return the number of keys in the selected database",
        since: "1.0.0",
        handler: dbsize,
    },
    Spec {
        name: "rename",
        arity: 3,
        flags: W | X,
        keys: (1, 2, 1),
        group: "generic",
        summary: "Rename a key",
        since: "1.0.0",
        handler: rename,
    },
    Spec {
        name: "renamenx",
        arity: 3,
        flags: W | F | X,
        keys: (1, 2, 1),
        group: "generic",
        summary: "Rename a key, only if the new key does not exist",
        since: "1.0.0",
        handler: rename,
    },
    Spec {
        name: "copy",
        arity: -3,
        flags: W | flag::DENYOOM | X,
        keys: (1, 2, 1),
        group: "generic",
        summary: "Copy a key",
        since: "6.2.0",
        handler: copy,
    },
    Spec {
        name: "move",
        arity: 3,
        flags: W | F | X,
        keys: (1, 1, 1),
        group: "generic",
        summary: "Move a key to another database",
        since: "1.0.0",
        handler: move_,
    },
    Spec {
        name: "swapdb",
        arity: 3,
        flags: W | F | X,
        keys: (0, 0, 0),
        group: "server",
        summary: "Swaps two Redis databases",
        since: "4.0.0",
        handler: swapdb,
    },
    Spec {
        name: "flushdb",
        arity: -1,
        flags: W | X,
        keys: (0, 0, 0),
        group: "server",
        summary: "Remove all keys from the current database",
        since: "1.0.0",
        handler: flushdb,
    },
    Spec {
        name: "flushall",
        arity: -1,
        flags: W | X,
        keys: (0, 0, 0),
        group: "server",
        summary: "Remove all keys from all databases",
        since: "1.0.0",
        handler: flushall,
    },
    Spec {
        name: "object",
        arity: -2,
        flags: R,
        keys: (2, 2, 1),
        group: "generic",
        summary: "A container for object introspection commands",
        since: "2.2.3",
        handler: object,
    },
];

fn del(ctx: &mut Ctx<'_>, args: &[&[u8]]) {
    let db = ctx.db();
    let mut removed = 0;
    for key in &args[1..] {
        if ctx.keyspace().remove(db, key).is_some() {
            removed += 1;
            ctx.modified(class::GENERIC, "del", key);
        }
    }
    ctx.reply.integer(removed);
}

fn exists(ctx: &mut Ctx<'_>, args: &[&[u8]]) {
    let db = ctx.db();
    let mut found = 0;
    for key in &args[1..] {
        if ctx.keyspace().exists(db, key) {
            found += 1;
        } else {
            ctx.notify(class::KEY_MISS, "keymiss", key);
        }
    }
    ctx.reply.integer(found);
}

fn type_(ctx: &mut Ctx<'_>, args: &[&[u8]]) {
    let db = ctx.db();
    let name = ctx
        .keyspace()
        .peek_with(db, args[1], |value, _| value.kind().name());
    let name = name.unwrap_or_else(|| {
        ctx.notify(class::KEY_MISS, "keymiss", args[1]);
        "none"
    });
    ctx.reply.simple(name.as_bytes());
}

fn touch(ctx: &mut Ctx<'_>, args: &[&[u8]]) {
    let db = ctx.db();
    let touched = args[1..]
        .iter()
        .filter(|key| ctx.keyspace().get_with(db, key, |_| ()).is_some())
        .count();
    ctx.reply.integer(touched as i64);
}

fn keys(ctx: &mut Ctx<'_>, args: &[&[u8]]) {
    let db = ctx.db();
    let pattern = args[1];
    let all = pattern == b"*";
    let mut found: Vec<Vec<u8>> = Vec::new();
    let mut cursor = 0;
    loop {
        cursor = ctx.keyspace().scan(db, cursor, 4096, |key, _, _| {
            if all || glob::matches(pattern, key, false) {
                found.push(key.to_vec());
            }
        });
        if cursor == 0 {
            break;
        }
    }
    ctx.reply.array(found.len());
    for key in &found {
        ctx.reply.bulk(key);
    }
}

/// Parses a SCAN cursor as Redis does (`strtoul`, base 10): an optional sign, digits, nothing
/// else; a negative cursor wraps around; the empty string is 0.
pub(crate) fn parse_cursor(arg: &[u8]) -> Option<u64> {
    let (negative, digits) = match arg {
        [b'-', rest @ ..] => (true, rest),
        [b'+', rest @ ..] => (false, rest),
        _ => (false, arg),
    };
    if digits.is_empty() {
        // strtoul reads nothing and stops at the start: "" is 0, a lone sign is garbage.
        return (arg.is_empty()).then_some(0);
    }
    let mut value: u64 = 0;
    for &d in digits {
        if !d.is_ascii_digit() {
            return None;
        }
        value = value.checked_mul(10)?.checked_add(u64::from(d - b'0'))?;
    }
    Some(if negative {
        value.wrapping_neg()
    } else {
        value
    })
}

fn scan(ctx: &mut Ctx<'_>, args: &[&[u8]]) {
    let Some(start) = parse_cursor(args[1]) else {
        return ctx.error("ERR invalid cursor");
    };
    let mut count: usize = 10;
    let mut pattern: Option<&[u8]> = None;
    let mut kind: Option<&[u8]> = None;
    let mut i = 2;
    while i < args.len() {
        let has_value = i + 1 < args.len();
        let opt = args[i];
        if opt.eq_ignore_ascii_case(b"count") && has_value {
            match int_arg(args[i + 1]) {
                None => return ctx.error(err::NOT_INTEGER),
                Some(n) if n < 1 => return ctx.error(err::SYNTAX),
                Some(n) => count = usize::try_from(n).unwrap_or(usize::MAX),
            }
        } else if opt.eq_ignore_ascii_case(b"match") && has_value {
            pattern = (args[i + 1] != b"*").then_some(args[i + 1]);
        } else if opt.eq_ignore_ascii_case(b"type") && has_value {
            kind = Some(args[i + 1]);
        } else {
            return ctx.error(err::SYNTAX);
        }
        i += 2;
    }
    let db = ctx.db();
    let mut found: Vec<Vec<u8>> = Vec::new();
    let mut seen = 0usize;
    let mut cursor = start;
    for _ in 0..10 {
        cursor = ctx.keyspace().scan(db, cursor, count, |key, value, _| {
            seen += 1;
            if pattern.is_some_and(|p| !glob::matches(p, key, false)) {
                return;
            }
            if kind.is_some_and(|k| !k.eq_ignore_ascii_case(value.kind().name().as_bytes())) {
                return;
            }
            found.push(key.to_vec());
        });
        if cursor == 0 || seen >= count {
            break;
        }
    }
    ctx.reply.array(2);
    ctx.reply.bulk(cursor.to_string().as_bytes());
    ctx.reply.array(found.len());
    for key in &found {
        ctx.reply.bulk(key);
    }
}

fn randomkey(ctx: &mut Ctx<'_>, _args: &[&[u8]]) {
    let db = ctx.db();
    match ctx.keyspace().random_key(db) {
        Some(key) => ctx.reply.bulk(&key),
        None => ctx.reply.null(),
    }
}

fn dbsize(ctx: &mut Ctx<'_>, _args: &[&[u8]]) {
    let db = ctx.db();
    let n = ctx.keyspace().dbsize(db);
    ctx.reply.integer(n as i64);
}

fn rename(ctx: &mut Ctx<'_>, args: &[&[u8]]) {
    let nx = args[0].eq_ignore_ascii_case(b"renamenx");
    let db = ctx.db();
    let (from, to) = (args[1], args[2]);
    if !ctx.keyspace().exists(db, from) {
        return ctx.error(err::NO_SUCH_KEY);
    }
    if from == to {
        return if nx {
            ctx.reply.integer(0)
        } else {
            ctx.reply.ok()
        };
    }
    let outcome = ctx.keyspace().relocate(db, from, db, to, !nx);
    if let Ok(Relocated::Done) = outcome {
        ctx.notify(class::NEW, "new", to);
        ctx.modified(class::GENERIC, "rename_from", from);
        ctx.modified(class::GENERIC, "rename_to", to);
    }
    match outcome {
        Ok(Relocated::Done) if nx => ctx.reply.integer(1),
        Ok(Relocated::Done) => ctx.reply.ok(),
        Ok(Relocated::TargetExists) => ctx.reply.integer(0),
        Ok(Relocated::NoSource) => ctx.error(err::NO_SUCH_KEY),
        Err(e) => ctx.insert_error(e),
    }
}

/// Parses a database index like Redis's `getIntFromObjectOrReply` (an `int`) and checks its
/// range, answering the error itself; `None` after an error.
fn db_index(ctx: &mut Ctx<'_>, arg: &[u8]) -> Option<usize> {
    match int_arg(arg) {
        None => {
            ctx.error(err::NOT_INTEGER);
            None
        }
        Some(n) if i32::try_from(n).is_err() => {
            ctx.error("ERR value is out of range, value must between -2147483648 and 2147483647");
            None
        }
        Some(n) if n < 0 || n >= DATABASES as i64 => {
            ctx.error(err::DB_INDEX);
            None
        }
        Some(n) => Some(n as usize),
    }
}

fn relocated(ctx: &mut Ctx<'_>, outcome: Result<Relocated, InsertError>) {
    match outcome {
        Ok(Relocated::Done) => ctx.reply.integer(1),
        Ok(Relocated::NoSource | Relocated::TargetExists) => ctx.reply.integer(0),
        Err(e) => ctx.insert_error(e),
    }
}

fn move_(ctx: &mut Ctx<'_>, args: &[&[u8]]) {
    let Some(target) = db_index(ctx, args[2]) else {
        return;
    };
    let db = ctx.db();
    if target == db {
        return ctx.error(SAME_OBJECT);
    }
    let outcome = ctx.keyspace().relocate(db, args[1], target, args[1], false);
    if let Ok(Relocated::Done) = outcome {
        ctx.shared
            .notify
            .publish(ctx.shared, target, class::NEW, "new", args[1]);
        ctx.modified_in(db, class::GENERIC, "move_from", args[1]);
        ctx.modified_in(target, class::GENERIC, "move_to", args[1]);
    }
    relocated(ctx, outcome);
}

fn copy(ctx: &mut Ctx<'_>, args: &[&[u8]]) {
    let db = ctx.db();
    let mut target = db;
    let mut replace = false;
    let mut i = 3;
    while i < args.len() {
        if args[i].eq_ignore_ascii_case(b"replace") {
            replace = true;
        } else if args[i].eq_ignore_ascii_case(b"db") && i + 1 < args.len() {
            let Some(index) = db_index(ctx, args[i + 1]) else {
                return;
            };
            target = index;
            i += 1;
        } else {
            return ctx.error(err::SYNTAX);
        }
        i += 1;
    }
    if target == db && args[1] == args[2] {
        return ctx.error(SAME_OBJECT);
    }
    let outcome = ctx.keyspace().copy(db, args[1], target, args[2], replace);
    if let Ok(Relocated::Done) = outcome {
        ctx.shared
            .notify
            .publish(ctx.shared, target, class::NEW, "new", args[2]);
        ctx.modified_in(target, class::GENERIC, "copy_to", args[2]);
    }
    relocated(ctx, outcome);
}

fn swapdb(ctx: &mut Ctx<'_>, args: &[&[u8]]) {
    let index = |arg: &[u8]| int_arg(arg).filter(|n| i32::try_from(*n).is_ok());
    let Some(a) = index(args[1]) else {
        return ctx.error("ERR invalid first DB index");
    };
    let Some(b) = index(args[2]) else {
        return ctx.error("ERR invalid second DB index");
    };
    let range = 0..DATABASES as i64;
    if !range.contains(&a) || !range.contains(&b) {
        return ctx.error(err::DB_INDEX);
    }
    let (a, b) = (a as usize, b as usize);
    // Clients watching a key that exists in either database see it changed.
    let keyspace = &ctx.shared.keyspace;
    for db in [a, b] {
        ctx.shared
            .watches
            .touch_db(db, |key| keyspace.exists(a, key) || keyspace.exists(b, key));
    }
    ctx.keyspace().swapdb(a, b);
    ctx.reply.ok();
}

/// Parses FLUSHDB's and FLUSHALL's optional `ASYNC`/`SYNC`, answering a syntax error itself.
fn flush_mode_ok(ctx: &mut Ctx<'_>, args: &[&[u8]]) -> bool {
    let ok = match args {
        [_] => true,
        [_, mode] => mode.eq_ignore_ascii_case(b"sync") || mode.eq_ignore_ascii_case(b"async"),
        _ => false,
    };
    if !ok {
        ctx.error(err::SYNTAX);
    }
    ok
}

fn flushdb(ctx: &mut Ctx<'_>, args: &[&[u8]]) {
    if flush_mode_ok(ctx, args) {
        let db = ctx.db();
        let keyspace = &ctx.shared.keyspace;
        ctx.shared
            .watches
            .touch_db(db, |key| keyspace.exists(db, key));
        ctx.keyspace().flushdb(db);
        ctx.shared.tracking.flush(ctx.shared);
        ctx.reply.ok();
    }
}

fn flushall(ctx: &mut Ctx<'_>, args: &[&[u8]]) {
    if flush_mode_ok(ctx, args) {
        let keyspace = &ctx.shared.keyspace;
        for db in 0..DATABASES {
            ctx.shared
                .watches
                .touch_db(db, |key| keyspace.exists(db, key));
        }
        ctx.keyspace().flushall();
        ctx.shared.tracking.flush(ctx.shared);
        ctx.reply.ok();
    }
}

const OBJECT_HELP: &[&[u8]] = &[
    b"OBJECT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    b"ENCODING <key>",
    b"    Return the kind of internal representation used in order to store the value",
    b"    associated with a <key>.",
    b"FREQ <key>",
    b"    Return the access counter of the <key>: its hits since it was stored or since the",
    b"    eviction policy last aged it, from 0 to 3 (any policy).",
    b"IDLETIME <key>",
    b"    Not tracked: Larder keeps no last-access time per key (answers an error).",
    b"REFCOUNT <key>",
    b"    Return the number of references of the value associated with the specified",
    b"    <key> (always 1: values are never shared).",
    b"HELP",
    b"    Prints this help.",
];

fn object(ctx: &mut Ctx<'_>, args: &[&[u8]]) {
    let sub = args[1].to_ascii_lowercase();
    let (name, arity) = match &sub[..] {
        b"help" => ("object|help", 2),
        b"encoding" => ("object|encoding", 3),
        b"freq" => ("object|freq", 3),
        b"idletime" => ("object|idletime", 3),
        b"refcount" => ("object|refcount", 3),
        _ => {
            let shown: String = String::from_utf8_lossy(&args[1][..args[1].len().min(128)])
                .chars()
                .map(|c| if c == '\r' || c == '\n' { ' ' } else { c })
                .collect();
            return ctx.error(&format!(
                "ERR unknown subcommand '{shown}'. Try OBJECT HELP."
            ));
        }
    };
    if args.len() != arity {
        return ctx.arity_error(name);
    }
    if arity == 2 {
        ctx.reply.array(OBJECT_HELP.len());
        for line in OBJECT_HELP {
            ctx.reply.simple(line);
        }
        return;
    }
    let db = ctx.db();
    let key = args[2];
    let Some(encoding) = ctx
        .keyspace()
        .peek_with(db, key, |value, _| value.encoding())
    else {
        return ctx.reply.null();
    };
    match &sub[..] {
        b"encoding" => ctx.reply.bulk(encoding.as_bytes()),
        b"refcount" => ctx.reply.integer(1),
        b"idletime" => ctx.error(IDLETIME_NOT_TRACKED),
        _ => match ctx.keyspace().access_count(db, key) {
            Some(n) => ctx.reply.integer(i64::from(n)),
            None => ctx.reply.null(),
        },
    }
}
