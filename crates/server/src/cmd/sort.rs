//! `SORT` and `SORT_RO`: the elements of a list, set or sorted set, ordered numerically (the
//! default) or as byte strings (`ALPHA`), by themselves or by weights found through a `BY`
//! pattern, cut by `LIMIT`, mapped through `GET` patterns and returned or `STORE`d as a list.
//! Semantics and error texts are Redis 7.0's.
//!
//! * **Patterns.** `BY` and `GET` take a pattern whose first `*` is replaced by the element to
//!   name another key: a string key (`weight_*`), or a hash field (`obj_*->field`). `GET #` is
//!   the element itself. A `BY` pattern without `*` (`BY nosort`) skips sorting: lists and
//!   sorted sets keep their order (reversed by `DESC`); a set is then sorted `ALPHA` when the
//!   result is `STORE`d, so that what is stored does not depend on the set's layout.
//! * **Order.** Numeric sorting reads every weight as a double (C's `strtod`: the whole text,
//!   no overflow, no NaN) and answers `ERR One or more scores can't be converted into double`
//!   otherwise; a missing weight is 0; equal weights are ordered by the elements' bytes.
//!   `ALPHA` compares bytes (Redis uses `strcoll`, which is the same in the C locale); with
//!   `BY`, a missing weight sorts first.
//! * **Atomicity.** The patterns can read any key, so both commands run alone
//!   (`flag::EXCLUSIVE`): the result is one consistent snapshot and a `STORE` appears at once.
//! * **STORE** replaces the destination (any type, and its TTL) with a list, reporting
//!   `sortstore` (which wakes clients blocked on it); an empty result deletes the destination
//!   (`del`). `SORT_RO` refuses `STORE` (`ERR syntax error`).

use super::{Ctx, Spec, err, flag, int_arg};
use crate::events::class;
use crate::value::list::{End, List};
use crate::value::{IntBuf, Value};
use larder_engine::NEVER;
use std::cmp::Ordering;

/// `SORT`'s answer when a weight is not a number.
const NOT_DOUBLE: &str = "ERR One or more scores can't be converted into double";

/// The commands of this module.
pub static SPECS: &[Spec] = &[
    Spec {
        name: "sort",
        arity: -2,
        flags: flag::WRITE | flag::DENYOOM | flag::EXCLUSIVE,
        keys: (1, 1, 1),
        group: "generic",
        summary: "Sort the elements in a list, set or sorted set",
        since: "1.0.0",
        handler: sort,
    },
    Spec {
        name: "sort_ro",
        arity: -2,
        flags: flag::READONLY | flag::EXCLUSIVE,
        keys: (1, 1, 1),
        group: "generic",
        summary: "Sort the elements in a list, set or sorted set. Read-only variant of SORT.",
        since: "7.0.0",
        handler: sort_ro,
    },
];

/// The key arguments of a `SORT` call for `COMMAND GETKEYS`: the sorted key, and the
/// destination of the last `STORE` (as Redis's `sortGetKeys` finds it: `LIMIT` skips two
/// arguments, `GET` and `BY` one, anything else none).
pub fn getkeys<'a>(command: &[&'a [u8]]) -> Vec<&'a [u8]> {
    let mut keys = vec![command[1]];
    let mut store = None;
    let mut i = 2;
    while i < command.len() {
        let arg = command[i];
        if arg.eq_ignore_ascii_case(b"limit") {
            i += 2;
        } else if arg.eq_ignore_ascii_case(b"get") || arg.eq_ignore_ascii_case(b"by") {
            i += 1;
        } else if arg.eq_ignore_ascii_case(b"store") && i + 1 < command.len() {
            store = Some(command[i + 1]);
        }
        i += 1;
    }
    keys.extend(store);
    keys
}

/// What a `SORT` call asks for.
struct Options<'a> {
    desc: bool,
    alpha: bool,
    limit: (i64, i64),
    /// The `BY` pattern (`None` with `dontsort`: a pattern without `*` means no sorting).
    by: Option<&'a [u8]>,
    dontsort: bool,
    gets: Vec<&'a [u8]>,
    store: Option<&'a [u8]>,
}

fn sort(ctx: &mut Ctx<'_>, args: &[&[u8]]) {
    sort_generic(ctx, args, false);
}

fn sort_ro(ctx: &mut Ctx<'_>, args: &[&[u8]]) {
    sort_generic(ctx, args, true);
}

/// Parses the options after the key; `None` once an error has been replied.
fn parse<'a>(ctx: &mut Ctx<'_>, args: &[&'a [u8]], readonly: bool) -> Option<Options<'a>> {
    let mut o = Options {
        desc: false,
        alpha: false,
        limit: (0, -1),
        by: None,
        dontsort: false,
        gets: Vec::new(),
        store: None,
    };
    let mut j = 2;
    while j < args.len() {
        let left = args.len() - j - 1;
        let arg = args[j];
        let is = |word: &str| arg.eq_ignore_ascii_case(word.as_bytes());
        if is("asc") {
            o.desc = false;
        } else if is("desc") {
            o.desc = true;
        } else if is("alpha") {
            o.alpha = true;
        } else if is("limit") && left >= 2 {
            let (Some(start), Some(count)) = (int_arg(args[j + 1]), int_arg(args[j + 2])) else {
                ctx.error(err::NOT_INTEGER);
                return None;
            };
            o.limit = (start, count);
            j += 2;
        } else if !readonly && is("store") && left >= 1 {
            o.store = Some(args[j + 1]);
            j += 1;
        } else if is("by") && left >= 1 {
            let pattern = args[j + 1];
            // As in Redis, one constant pattern turns sorting off for good.
            o.dontsort |= !pattern.contains(&b'*');
            o.by = Some(pattern);
            j += 1;
        } else if is("get") && left >= 1 {
            o.gets.push(args[j + 1]);
            j += 1;
        } else {
            ctx.error(err::SYNTAX);
            return None;
        }
        j += 1;
    }
    if o.dontsort {
        o.by = None;
    }
    Some(o)
}

/// The elements to sort, loaded from the key.
enum Loaded {
    /// The key holds another type.
    WrongType,
    /// The elements, and whether the key was a set.
    Elements(Vec<Box<[u8]>>, bool),
}

/// The `LIMIT` window over `len` elements, as Redis clamps it: the first index and how many.
fn window(limit: (i64, i64), len: usize) -> (usize, usize) {
    let len = len as i64;
    let start = limit.0.clamp(0, len);
    let count = limit.1.clamp(-1, len);
    let mut end = if count < 0 {
        len - 1
    } else {
        start + count - 1
    };
    let mut start = start;
    if start >= len {
        start = len - 1;
        end = len - 2;
    }
    end = end.min(len - 1);
    if end < start {
        (0, 0)
    } else {
        (start as usize, (end - start + 1) as usize)
    }
}

/// Reads the elements of `key`. With `ranged` (no sorting of a list or sorted set) only the
/// `LIMIT` window is read, in native order or reversed with `desc`.
fn load(ctx: &mut Ctx<'_>, key: &[u8], o: &Options<'_>, ranged: bool) -> Option<Loaded> {
    let db = ctx.db();
    let found = ctx.shared.keyspace.get_with(db, key, |value| {
        let mut out: Vec<Box<[u8]>> = Vec::new();
        match value {
            Value::List(list) => {
                if ranged {
                    let (start, n) = window(o.limit, list.len());
                    if o.desc {
                        out.extend(list.iter().rev().skip(start).take(n).map(Box::from));
                    } else {
                        out.extend(list.iter().skip(start).take(n).map(Box::from));
                    }
                } else {
                    out.extend(list.iter().map(Box::from));
                }
                Loaded::Elements(out, false)
            }
            Value::Set(set) => {
                let mut buf = IntBuf::default();
                out.extend(set.iter().map(|m| Box::from(m.bytes(&mut buf))));
                Loaded::Elements(out, true)
            }
            Value::ZSet(zset) => {
                let len = zset.len();
                if ranged {
                    let (start, n) = window(o.limit, len);
                    if o.desc {
                        zset.for_range(len - start - n, len - start, true, |m, _| {
                            out.push(m.into())
                        });
                    } else {
                        zset.for_range(start, start + n, false, |m, _| out.push(m.into()));
                    }
                } else {
                    zset.for_each(|m, _| out.push(m.into()));
                }
                Loaded::Elements(out, false)
            }
            _ => Loaded::WrongType,
        }
    });
    if found.is_none() {
        ctx.notify(class::KEY_MISS, "keymiss", key);
    }
    found
}

/// The key (and hash field) a pattern names for `element`; `None` for a pattern without `*`.
fn pattern_key<'p>(pattern: &'p [u8], element: &[u8]) -> Option<(Vec<u8>, Option<&'p [u8]>)> {
    let star = pattern.iter().position(|&b| b == b'*')?;
    let rest = &pattern[star + 1..];
    let (postfix, field) = match rest.windows(2).position(|w| w == b"->") {
        Some(at) if at + 2 < rest.len() => (&rest[..at], Some(&rest[at + 2..])),
        _ => (rest, None),
    };
    let mut key = Vec::with_capacity(star + element.len() + postfix.len());
    key.extend_from_slice(&pattern[..star]);
    key.extend_from_slice(element);
    key.extend_from_slice(postfix);
    Some((key, field))
}

/// What `pattern` finds for `element`: `#` is the element itself; otherwise a string key or
/// a hash field (`None` when missing, of another type, or when the pattern has no `*`).
fn lookup(ctx: &mut Ctx<'_>, pattern: &[u8], element: &[u8]) -> Option<Vec<u8>> {
    if pattern == b"#" {
        return Some(element.to_vec());
    }
    let (key, field) = pattern_key(pattern, element)?;
    let db = ctx.db();
    let found = ctx
        .shared
        .keyspace
        .get_with(db, &key, |value| match (value, field) {
            (Value::Hash(hash), Some(field)) => hash.get(field).map(<[u8]>::to_vec),
            (_, Some(_)) => None,
            (value, None) => value.as_bytes(&mut IntBuf::default()).map(<[u8]>::to_vec),
        });
    match found {
        Some(value) => value,
        None => {
            ctx.notify(class::KEY_MISS, "keymiss", &key);
            None
        }
    }
}

/// A weight as Redis reads it with `strtod`: the whole text must be a number (leading spaces
/// allowed, the empty text is 0), and neither out of range nor NaN.
fn weight(text: &[u8]) -> Option<f64> {
    let s = std::str::from_utf8(text).ok()?;
    let t = s.trim_start_matches(|c: char| c.is_ascii_whitespace());
    if t.is_empty() {
        // strtod reads nothing and stops at the start: an empty text is 0, spaces alone are not.
        return s.is_empty().then_some(0.0);
    }
    let negative = t.starts_with('-');
    let unsigned = t.strip_prefix(['+', '-']).unwrap_or(t);
    if unsigned.starts_with(['+', '-']) {
        return None;
    }
    let literal = unsigned.eq_ignore_ascii_case("inf") || unsigned.eq_ignore_ascii_case("infinity");
    let v: f64 = if let Some(hex) = unsigned
        .strip_prefix("0x")
        .or_else(|| unsigned.strip_prefix("0X"))
    {
        let n = hex_float(hex)?;
        if negative { -n } else { n }
    } else {
        t.parse().ok()?
    };
    if v.is_nan() || (v.is_infinite() && !literal) {
        return None;
    }
    // Underflow: strtod reports ERANGE when digits that are not all zero give 0 or a
    // subnormal.
    let mantissa = unsigned.split(['e', 'E']).next().unwrap_or("");
    if (v == 0.0 || v.is_subnormal()) && mantissa.bytes().any(|b| (b'1'..=b'9').contains(&b)) {
        return None;
    }
    Some(v)
}

/// A C99 hexadecimal float after its `0x`: hex digits with an optional fraction, then an
/// optional binary exponent (`p-2`).
fn hex_float(text: &str) -> Option<f64> {
    let (digits, exponent) = match text.find(['p', 'P']) {
        Some(at) => (&text[..at], Some(&text[at + 1..])),
        None => (text, None),
    };
    let (whole, fraction) = digits.split_once('.').unwrap_or((digits, ""));
    if whole.is_empty() && fraction.is_empty() {
        return None;
    }
    let mut value = 0.0f64;
    for c in whole.chars().chain(fraction.chars()) {
        value = value * 16.0 + f64::from(c.to_digit(16)?);
    }
    let mut shift = i32::try_from(fraction.len()).ok()?.saturating_mul(-4);
    if let Some(exponent) = exponent {
        let e = exponent.parse::<i64>().ok()?.clamp(-100_000, 100_000) as i32;
        shift = shift.saturating_add(e);
    }
    Some(value * 2f64.powi(shift))
}

/// One element with what it is sorted by.
struct Item {
    element: Box<[u8]>,
    score: f64,
    /// `ALPHA BY`: the weight's bytes (`None`: missing, sorts first).
    by: Option<Vec<u8>>,
}

fn sort_generic(ctx: &mut Ctx<'_>, args: &[&[u8]], readonly: bool) {
    let Some(mut o) = parse(ctx, args, readonly) else {
        return;
    };
    // Unsorted, a list or sorted set is read as the LIMIT window only (a missing key is an
    // empty list).
    let (mut elements, is_set) = match load(ctx, args[1], &o, o.dontsort) {
        None => (Vec::new(), false),
        Some(Loaded::WrongType) => return ctx.error(err::WRONGTYPE),
        Some(Loaded::Elements(elements, is_set)) => (elements, is_set),
    };
    // A set in no order: what is stored must not depend on its layout, so sort it ALPHA.
    if o.dontsort && is_set && o.store.is_some() {
        o.dontsort = false;
        o.alpha = true;
        o.by = None;
    }
    let (start, count) = if o.dontsort && !is_set {
        // Already the window, in order.
        (0, elements.len())
    } else {
        window(o.limit, elements.len())
    };

    if !o.dontsort {
        let mut bad = false;
        let mut items: Vec<Item> = Vec::with_capacity(elements.len());
        for element in elements.drain(..) {
            let mut item = Item {
                element,
                score: 0.0,
                by: None,
            };
            let by = match o.by {
                Some(pattern) => lookup(ctx, pattern, &item.element),
                None => None,
            };
            if o.alpha {
                item.by = by;
            } else {
                let text = match (&by, o.by) {
                    (Some(value), _) => Some(&value[..]),
                    (None, None) => Some(&item.element[..]),
                    (None, Some(_)) => None,
                };
                if let Some(text) = text {
                    match weight(text) {
                        Some(score) => item.score = score,
                        None => bad = true,
                    }
                }
            }
            items.push(item);
        }
        if bad {
            return ctx.error(NOT_DOUBLE);
        }
        let (alpha, by_pattern, desc) = (o.alpha, o.by.is_some(), o.desc);
        items.sort_by(|a, b| {
            let cmp = if !alpha {
                if a.score > b.score {
                    Ordering::Greater
                } else if a.score < b.score {
                    Ordering::Less
                } else {
                    a.element.cmp(&b.element)
                }
            } else if by_pattern {
                a.by.cmp(&b.by)
            } else {
                a.element.cmp(&b.element)
            };
            if desc { cmp.reverse() } else { cmp }
        });
        elements = items.into_iter().map(|item| item.element).collect();
    }

    let chosen = elements.iter().skip(start).take(count);
    let outputlen = if o.gets.is_empty() {
        count
    } else {
        o.gets.len() * count
    };
    let Some(dest) = o.store else {
        ctx.reply.array(outputlen);
        for element in chosen {
            if o.gets.is_empty() {
                ctx.reply.bulk(element);
            }
            for &pattern in &o.gets {
                match lookup(ctx, pattern, element) {
                    Some(value) => ctx.reply.bulk(&value),
                    None => ctx.reply.null(),
                }
            }
        }
        return;
    };

    let mut list = List::new();
    for element in chosen {
        if o.gets.is_empty() {
            list.push(End::Right, element);
        }
        for &pattern in &o.gets {
            let value = lookup(ctx, pattern, element).unwrap_or_default();
            list.push_owned(End::Right, value.into());
        }
    }
    let db = ctx.db();
    if outputlen == 0 {
        if ctx.shared.keyspace.remove(db, dest).is_some() {
            ctx.modified(class::GENERIC, "del", dest);
        }
        return ctx.reply.integer(0);
    }
    match ctx
        .shared
        .keyspace
        .put(db, dest, Value::List(Box::new(list)), NEVER)
    {
        Err(error) => ctx.insert_error(error),
        Ok(created) => {
            if created {
                ctx.notify(class::NEW, "new", dest);
            }
            ctx.modified(class::LIST, "sortstore", dest);
            ctx.reply.integer(outputlen as i64);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn window_clamps_like_redis() {
        assert_eq!(window((0, -1), 5), (0, 5));
        assert_eq!(window((5, 10), 5), (0, 0));
        assert_eq!(window((-10, 100), 5), (0, 5));
        assert_eq!(window((1, 2), 5), (1, 2));
        assert_eq!(window((2, 0), 5), (0, 0));
        assert_eq!(window((0, 3), 0), (0, 0));
        assert_eq!(window((i64::MAX, i64::MAX), 3), (0, 0));
        assert_eq!(window((2, i64::MAX), 3), (2, 1));
    }

    #[test]
    fn weights_parse_like_strtod() {
        assert_eq!(weight(b""), Some(0.0));
        assert_eq!(weight(b" 1.5"), Some(1.5));
        assert_eq!(weight(b"-inf"), Some(f64::NEG_INFINITY));
        assert_eq!(weight(b"0x10"), Some(16.0));
        assert_eq!(weight(b"0x1p3"), Some(8.0));
        assert_eq!(weight(b"-0x1.8P-1"), Some(-0.75));
        assert_eq!(weight(b"0.0"), Some(0.0));
        for bad in [
            &b"1 "[..],
            b" ",
            b"nan",
            b"1e400",
            b"1e-400",
            b"abc",
            b"--1",
            b"0x",
            b"0xg",
            b"0x1p",
        ] {
            assert_eq!(weight(bad), None, "{:?}", String::from_utf8_lossy(bad));
        }
    }

    #[test]
    fn patterns_name_keys_and_fields() {
        assert_eq!(pattern_key(b"w_*", b"a"), Some((b"w_a".to_vec(), None)));
        assert_eq!(
            pattern_key(b"o_*_x->f", b"a"),
            Some((b"o_a_x".to_vec(), Some(&b"f"[..])))
        );
        assert_eq!(pattern_key(b"x:*->", b"a"), Some((b"x:a->".to_vec(), None)));
        assert_eq!(pattern_key(b"nosort", b"a"), None);
    }

    #[test]
    fn getkeys_finds_the_last_store() {
        let cmd: Vec<&[u8]> = vec![
            b"sort",
            b"abc",
            b"store",
            b"invalid",
            b"store",
            b"stillbad",
            b"store",
            b"def",
        ];
        assert_eq!(getkeys(&cmd), vec![&b"abc"[..], b"def"]);
        let cmd: Vec<&[u8]> = vec![b"sort", b"abc", b"by", b"store", b"limit", b"0", b"1"];
        assert_eq!(getkeys(&cmd), vec![&b"abc"[..]]);
    }
}
