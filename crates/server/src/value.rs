//! What a key holds: a string, a hash, a list, a set or a sorted set.
//!
//! A string that is the canonical decimal form of a 64-bit integer is kept as that integer
//! (Redis's `int` encoding): 8 bytes instead of a heap buffer, and `INCR` works on it directly.

pub mod arena;
pub mod collection;
pub mod hash;
pub mod list;
pub mod long_double;
pub mod set;
pub mod str_bytes;
pub mod table;
pub mod zset;

pub use hash::Hash;
pub use list::List;
pub use set::Set;
pub use str_bytes::StrBytes;
pub use zset::ZSet;

use std::fmt;

/// Strings up to this length report the `embstr` encoding, as Redis does.
const EMBSTR_MAX: usize = 44;

/// A value in the keyspace, in 16 bytes: collections are boxed and a string keeps its length
/// beside a thin pointer ([`StrBytes`]), so the tag fits in the spare bytes.
///
/// Every collection keeps a running count of the heap bytes it owns, so that
/// [`Value::heap_bytes`] is O(1): the engine weighs an entry again after each in-place change.
#[derive(Clone)]
pub enum Value {
    /// A string that is the canonical decimal form of this integer.
    Int(i64),
    /// Any other string (binary-safe), in 16 bytes (see [`StrBytes`]).
    Str(StrBytes),
    /// A hash: fields to values.
    Hash(Box<Hash>),
    /// A list of elements.
    List(Box<List>),
    /// A set of members.
    Set(Box<Set>),
    /// A sorted set: members with scores.
    ZSet(Box<ZSet>),
}

impl fmt::Debug for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Int(n) => write!(f, "Int({n})"),
            Value::Str(s) => write!(f, "Str({:?})", String::from_utf8_lossy(s)),
            Value::Hash(h) => write!(f, "Hash(len {})", h.len()),
            Value::List(l) => write!(f, "List(len {})", l.len()),
            Value::Set(s) => write!(f, "Set(len {})", s.len()),
            Value::ZSet(z) => write!(f, "ZSet(len {})", z.len()),
        }
    }
}

/// The Redis type of a value, as `TYPE` names it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// `string`
    String,
    /// `hash`
    Hash,
    /// `list`
    List,
    /// `set`
    Set,
    /// `zset`
    ZSet,
}

impl Kind {
    /// The name `TYPE` answers.
    pub fn name(self) -> &'static str {
        match self {
            Kind::String => "string",
            Kind::Hash => "hash",
            Kind::List => "list",
            Kind::Set => "set",
            Kind::ZSet => "zset",
        }
    }
}

/// Room to format an integer string value without allocating.
pub type IntBuf = [u8; 20];

impl Value {
    /// A string value, kept as an integer when `bytes` is an integer's canonical form.
    pub fn string(bytes: &[u8]) -> Value {
        match parse_canonical_i64(bytes) {
            Some(n) => Value::Int(n),
            None => Value::Str(bytes.into()),
        }
    }

    /// Asks the processor for the memory the value points to (a hint, see
    /// `larder_engine::prefetch`): a string's buffer, a collection's header.
    #[inline]
    pub fn prefetch(&self) {
        use larder_engine::prefetch::prefetch;
        match self {
            Value::Int(_) => {}
            Value::Str(s) => s.prefetch(),
            Value::Hash(h) => prefetch(&**h),
            Value::List(l) => prefetch(&**l),
            Value::Set(s) => prefetch(&**s),
            Value::ZSet(z) => prefetch(&**z),
        }
    }

    /// Asks the processor for the entries of `members` in a large hash, set or sorted set (the
    /// fields or members a pipelined batch names; a hint, see [`Table::prefetch`]). Nothing for
    /// a string, a list or a compact encoding.
    ///
    /// [`Table::prefetch`]: crate::value::table::Table::prefetch
    #[inline]
    pub fn prefetch_members(&self, members: &[&[u8]]) {
        match self {
            Value::Hash(h) => h.prefetch_fields(members),
            Value::Set(s) => s.prefetch_members(members),
            Value::ZSet(z) => z.prefetch_members(members),
            Value::Int(_) | Value::Str(_) | Value::List(_) => {}
        }
    }

    /// The value's Redis type.
    pub fn kind(&self) -> Kind {
        match self {
            Value::Int(_) | Value::Str(_) => Kind::String,
            Value::Hash(_) => Kind::Hash,
            Value::List(_) => Kind::List,
            Value::Set(_) => Kind::Set,
            Value::ZSet(_) => Kind::ZSet,
        }
    }

    /// `OBJECT ENCODING`'s answer.
    pub fn encoding(&self) -> &'static str {
        match self {
            Value::Int(_) => "int",
            // `SET` keeps an integer's canonical form as `Int`, so bytes that read as one come
            // from an in-place edit (`APPEND`, `SETRANGE`, `SETBIT`), which Redis stores raw.
            Value::Str(s) if parse_canonical_i64(s).is_some() => "raw",
            Value::Str(s) if s.len() <= EMBSTR_MAX => "embstr",
            Value::Str(_) => "raw",
            Value::Hash(h) => h.encoding(),
            Value::List(l) => l.encoding(),
            Value::Set(s) => s.encoding(),
            Value::ZSet(z) => z.encoding(),
        }
    }

    /// The bytes of a string value (an integer is formatted into `buf`); `None` for other types.
    pub fn as_bytes<'a>(&'a self, buf: &'a mut IntBuf) -> Option<&'a [u8]> {
        match self {
            Value::Int(n) => Some(format_i64(*n, buf)),
            Value::Str(s) => Some(s),
            _ => None,
        }
    }

    /// The length of a string value's bytes; `None` for other types.
    pub fn string_len(&self) -> Option<usize> {
        match self {
            Value::Int(n) => Some(format_i64(*n, &mut [0; 20]).len()),
            Value::Str(s) => Some(s.len()),
            _ => None,
        }
    }

    /// The heap bytes this value owns (what the memory weigher charges beyond fixed overhead).
    pub fn heap_bytes(&self) -> usize {
        match self {
            Value::Int(_) => 0,
            Value::Str(s) => s.heap_bytes(),
            Value::Hash(h) => h.heap_bytes(),
            Value::List(l) => l.heap_bytes(),
            Value::Set(s) => s.heap_bytes(),
            Value::ZSet(z) => z.heap_bytes(),
        }
    }
}

/// Formats `n` in decimal into `buf`, returning the digits.
pub fn format_i64(n: i64, buf: &mut IntBuf) -> &[u8] {
    let mut at = buf.len();
    let negative = n < 0;
    let mut rest = n.unsigned_abs();
    loop {
        at -= 1;
        buf[at] = b'0' + (rest % 10) as u8;
        rest /= 10;
        if rest == 0 {
            break;
        }
    }
    if negative {
        at -= 1;
        buf[at] = b'-';
    }
    &buf[at..]
}

/// Parses `bytes` as an integer the way Redis's `string2ll` does: optional `-`, digits, no
/// leading zeros (except "0"), no spaces, no `+`, within `i64`.
pub fn parse_i64(bytes: &[u8]) -> Option<i64> {
    let (negative, digits) = match bytes {
        [] => return None,
        [b'-', rest @ ..] => (true, rest),
        _ => (false, bytes),
    };
    match digits {
        [] => return None,
        [b'0'] if !negative => return Some(0),
        [b'0', ..] => return None,
        _ => {}
    }
    if digits.len() > 19 {
        return None;
    }
    let mut value: u64 = 0;
    for &d in digits {
        if !d.is_ascii_digit() {
            return None;
        }
        value = value.checked_mul(10)?.checked_add(u64::from(d - b'0'))?;
    }
    if negative {
        if value > i64::MAX as u64 + 1 {
            None
        } else {
            Some((value as i64).wrapping_neg())
        }
    } else {
        i64::try_from(value).ok()
    }
}

/// [`parse_i64`] restricted to forms that format back identically (so storing the integer
/// loses nothing).
fn parse_canonical_i64(bytes: &[u8]) -> Option<i64> {
    if bytes.len() > 20 {
        return None;
    }
    let n = parse_i64(bytes)?;
    (format_i64(n, &mut [0; 20]) == bytes).then_some(n)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integers_parse_like_redis() {
        assert_eq!(parse_i64(b"0"), Some(0));
        assert_eq!(parse_i64(b"-9223372036854775808"), Some(i64::MIN));
        assert_eq!(parse_i64(b"9223372036854775807"), Some(i64::MAX));
        for bad in [
            &b""[..],
            b"-",
            b"+1",
            b" 1",
            b"1 ",
            b"01",
            b"-0",
            b"9223372036854775808",
            b"1e3",
        ] {
            assert_eq!(parse_i64(bad), None, "{:?}", String::from_utf8_lossy(bad));
        }
    }

    #[test]
    fn only_canonical_integers_become_int_values() {
        assert!(matches!(Value::string(b"123"), Value::Int(123)));
        assert_eq!(Value::string(b"0123").encoding(), "embstr");
        assert_eq!(Value::string(&[b'x'; 45]).encoding(), "raw");
        let mut buf = [0; 20];
        assert_eq!(Value::Int(-42).as_bytes(&mut buf), Some(&b"-42"[..]));
    }
}
