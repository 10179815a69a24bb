//! Expiry commands: `EXPIRE`, `PEXPIRE`, `EXPIREAT`, `PEXPIREAT` (with NX/XX/GT/LT), `TTL`,
//! `PTTL`, `EXPIRETIME`, `PEXPIRETIME` and `PERSIST`, with Redis 7.0's semantics and error
//! texts.
//!
//! Deadlines are absolute milliseconds since the Unix epoch on the keyspace's clock, kept by
//! the engine with the entry ([`NEVER`] for none). A deadline set in the past deletes the key
//! at once, as Redis does on a primary. Each command is one [`Keyspace::compute`] call, so
//! reading the current deadline and changing it is atomic.
//!
//! [`Keyspace::compute`]: crate::keyspace::Keyspace::compute

use super::{Ctx, Spec, err, flag, int_arg};
use crate::events::class;
use larder_engine::{Compute, NEVER, Timestamp};

family!("generic");

const KEY: (i32, i32, i32) = (1, 1, 1);

const WRITE: u32 = flag::WRITE | flag::FAST;
const READ: u32 = flag::READONLY | flag::FAST;

/// The commands of this module.
pub static SPECS: &[Spec] = &[
    spec(
        "expire",
        -3,
        WRITE,
        KEY,
        "Set a key's time to live in seconds",
        "1.0.0",
        expire,
    ),
    spec(
        "pexpire",
        -3,
        WRITE,
        KEY,
        "Set a key's time to live in milliseconds",
        "2.6.0",
        pexpire,
    ),
    spec(
        "expireat",
        -3,
        WRITE,
        KEY,
        "Set the expiration for a key as a UNIX timestamp",
        "1.2.0",
        expireat,
    ),
    spec(
        "pexpireat",
        -3,
        WRITE,
        KEY,
        "Set the expiration for a key as a UNIX timestamp specified in milliseconds",
        "2.6.0",
        pexpireat,
    ),
    spec(
        "ttl",
        2,
        READ,
        KEY,
        "Get the time to live for a key in seconds",
        "1.0.0",
        ttl,
    ),
    spec(
        "pttl",
        2,
        READ,
        KEY,
        "Get the time to live for a key in milliseconds",
        "2.6.0",
        pttl,
    ),
    spec(
        "expiretime",
        2,
        READ,
        KEY,
        "Get the expiration Unix timestamp for a key",
        "7.0.0",
        expiretime,
    ),
    spec(
        "pexpiretime",
        2,
        READ,
        KEY,
        "Get the expiration Unix timestamp for a key in milliseconds",
        "7.0.0",
        pexpiretime,
    ),
    spec(
        "persist",
        2,
        WRITE,
        KEY,
        "Remove the expiration from a key",
        "2.2.0",
        persist,
    ),
];

/// The conditions of the `EXPIRE` family.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct Conditions {
    /// Only if the key has no deadline.
    nx: bool,
    /// Only if the key has a deadline.
    xx: bool,
    /// Only if the new deadline is later (no deadline counts as infinitely late).
    gt: bool,
    /// Only if the new deadline is earlier.
    lt: bool,
}

/// Redis's `parseExtendedExpireArgumentsOrReply`.
fn parse_conditions(args: &[&[u8]]) -> Result<Conditions, String> {
    let mut c = Conditions::default();
    for opt in args {
        if opt.eq_ignore_ascii_case(b"nx") {
            c.nx = true;
        } else if opt.eq_ignore_ascii_case(b"xx") {
            c.xx = true;
        } else if opt.eq_ignore_ascii_case(b"gt") {
            c.gt = true;
        } else if opt.eq_ignore_ascii_case(b"lt") {
            c.lt = true;
        } else {
            return Err(format!(
                "ERR Unsupported option {}",
                String::from_utf8_lossy(opt)
            ));
        }
    }
    if c.nx && (c.xx || c.gt || c.lt) {
        return Err("ERR NX and XX, GT or LT options at the same time are not compatible".into());
    }
    if c.gt && c.lt {
        return Err("ERR GT and LT options at the same time are not compatible".into());
    }
    Ok(c)
}

impl Conditions {
    /// Whether a key whose deadline is `current` ([`NEVER`] for none) may get `when`.
    fn allow(self, current: Timestamp, when: i64) -> bool {
        let current = (current != NEVER).then(|| i64::try_from(current).unwrap_or(i64::MAX));
        if self.nx && current.is_some() {
            return false;
        }
        if self.xx && current.is_none() {
            return false;
        }
        if self.gt && current.is_none_or(|current| when <= current) {
            return false;
        }
        if self.lt && current.is_some_and(|current| when >= current) {
            return false;
        }
        true
    }
}

/// Redis's `expireGenericCommand`: `relative` adds the current time, `seconds` scales the
/// argument by 1000.
fn expire_generic(ctx: &mut Ctx<'_>, args: &[&[u8]], relative: bool, seconds: bool) {
    let command = args[0].to_ascii_lowercase();
    let command = String::from_utf8_lossy(&command);
    let conditions = match parse_conditions(&args[3..]) {
        Ok(conditions) => conditions,
        Err(text) => return ctx.error(&text),
    };
    let Some(mut when) = int_arg(args[2]) else {
        return ctx.error(err::NOT_INTEGER);
    };
    let invalid = format!("ERR invalid expire time in '{command}' command");
    if seconds {
        match when.checked_mul(1000) {
            Some(ms) => when = ms,
            None => return ctx.error(&invalid),
        }
    }
    let now = ctx.keyspace().now();
    let now_ms = i64::try_from(now).unwrap_or(i64::MAX);
    if relative {
        match when.checked_add(now_ms) {
            Some(at) => when = at,
            None => return ctx.error(&invalid),
        }
    }
    let db = ctx.db();
    let changed = ctx.keyspace().compute(db, args[1], |entry| {
        let Some(entry) = entry else {
            return (Compute::Keep, None);
        };
        if !conditions.allow(*entry.expires_at, when) {
            return (Compute::Keep, None);
        }
        if when <= now_ms {
            // A deadline in the past deletes the key (Redis then reports a `del`).
            return (Compute::Remove, Some("del"));
        }
        *entry.expires_at = when as Timestamp;
        (Compute::Updated, Some("expire"))
    });
    match changed {
        Ok(event) => {
            if let Some(event) = event {
                ctx.modified(class::GENERIC, event, args[1]);
            }
            ctx.reply.integer(i64::from(event.is_some()))
        }
        Err(error) => ctx.insert_error(error),
    }
}

/// `EXPIRE key seconds [NX | XX | GT | LT]`
fn expire(ctx: &mut Ctx<'_>, args: &[&[u8]]) {
    expire_generic(ctx, args, true, true);
}

/// `PEXPIRE key milliseconds [NX | XX | GT | LT]`
fn pexpire(ctx: &mut Ctx<'_>, args: &[&[u8]]) {
    expire_generic(ctx, args, true, false);
}

/// `EXPIREAT key unix-seconds [NX | XX | GT | LT]`
fn expireat(ctx: &mut Ctx<'_>, args: &[&[u8]]) {
    expire_generic(ctx, args, false, true);
}

/// `PEXPIREAT key unix-milliseconds [NX | XX | GT | LT]`
fn pexpireat(ctx: &mut Ctx<'_>, args: &[&[u8]]) {
    expire_generic(ctx, args, false, false);
}

/// Redis's `ttlGenericCommand`: -2 for a missing key, -1 for one without a deadline, else
/// the time left (or the deadline itself when `absolute`), in milliseconds or rounded
/// seconds.
fn ttl_generic(ctx: &mut Ctx<'_>, key: &[u8], milliseconds: bool, absolute: bool) {
    let db = ctx.db();
    let Some(deadline) = ctx.keyspace().deadline(db, key) else {
        ctx.notify(class::KEY_MISS, "keymiss", key);
        return ctx.reply.integer(-2);
    };
    if deadline == NEVER {
        return ctx.reply.integer(-1);
    }
    let deadline = i64::try_from(deadline).unwrap_or(i64::MAX);
    let now = i64::try_from(ctx.keyspace().now()).unwrap_or(i64::MAX);
    let ms = if absolute {
        deadline
    } else {
        deadline.saturating_sub(now)
    }
    .max(0);
    ctx.reply
        .integer(if milliseconds { ms } else { (ms + 500) / 1000 });
}

fn ttl(ctx: &mut Ctx<'_>, args: &[&[u8]]) {
    ttl_generic(ctx, args[1], false, false);
}

fn pttl(ctx: &mut Ctx<'_>, args: &[&[u8]]) {
    ttl_generic(ctx, args[1], true, false);
}

fn expiretime(ctx: &mut Ctx<'_>, args: &[&[u8]]) {
    ttl_generic(ctx, args[1], false, true);
}

fn pexpiretime(ctx: &mut Ctx<'_>, args: &[&[u8]]) {
    ttl_generic(ctx, args[1], true, true);
}

/// `PERSIST key`: 1 if a deadline was removed.
fn persist(ctx: &mut Ctx<'_>, args: &[&[u8]]) {
    let db = ctx.db();
    let removed = ctx.keyspace().compute(db, args[1], |entry| match entry {
        Some(entry) if *entry.expires_at != NEVER => {
            *entry.expires_at = NEVER;
            (Compute::Updated, true)
        }
        _ => (Compute::Keep, false),
    });
    match removed {
        Ok(removed) => {
            if removed {
                ctx.modified(class::GENERIC, "persist", args[1]);
            }
            ctx.reply.integer(i64::from(removed))
        }
        Err(error) => ctx.insert_error(error),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn conditions(text: &str) -> Result<Conditions, String> {
        let args: Vec<&[u8]> = text.split_whitespace().map(str::as_bytes).collect();
        parse_conditions(&args)
    }

    #[test]
    fn options_and_their_conflicts() {
        assert_eq!(
            conditions("lt XX"),
            Ok(Conditions {
                xx: true,
                lt: true,
                ..Conditions::default()
            })
        );
        assert_eq!(
            conditions("XX AB").unwrap_err(),
            "ERR Unsupported option AB"
        );
        for text in ["NX XX", "NX GT", "NX LT"] {
            assert_eq!(
                conditions(text).unwrap_err(),
                "ERR NX and XX, GT or LT options at the same time are not compatible"
            );
        }
        assert_eq!(
            conditions("GT LT").unwrap_err(),
            "ERR GT and LT options at the same time are not compatible"
        );
    }

    #[test]
    fn conditions_treat_no_deadline_as_infinite() {
        let c = |text| conditions(text).unwrap();
        assert!(c("NX").allow(NEVER, 5));
        assert!(!c("NX").allow(10, 5));
        assert!(!c("XX").allow(NEVER, 5));
        assert!(!c("GT").allow(NEVER, 5));
        assert!(c("GT").allow(4, 5));
        assert!(!c("GT").allow(5, 5));
        assert!(c("LT").allow(NEVER, 5));
        assert!(!c("LT").allow(5, 5));
        assert!(c("LT").allow(6, 5));
    }
}
