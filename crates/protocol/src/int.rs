//! Decimal integers as Redis reads and writes them.

/// Redis's `LONG_STR_SIZE`: a number text this long or longer is refused unread.
const LONG_STR_SIZE: usize = 21;

/// Parses `s` exactly like Redis's `string2ll` (util.c): an optional `-`, then either the single
/// digit `0` or a digit 1–9 followed by digits, nothing else, at most 20 bytes, within `i64`.
///
/// So `+1`, ` 1`, `01`, `-0`, `1.0` and the empty string are all refused.
pub(crate) fn parse_i64(s: &[u8]) -> Option<i64> {
    if s.is_empty() || s.len() >= LONG_STR_SIZE {
        return None;
    }
    if s == b"0" {
        return Some(0);
    }
    let (negative, digits) = match s.split_first() {
        Some((b'-', rest)) => (true, rest),
        _ => (false, s),
    };
    let (&first, rest) = digits.split_first()?;
    if !(b'1'..=b'9').contains(&first) {
        return None;
    }
    let mut magnitude = u64::from(first - b'0');
    for &c in rest {
        if !c.is_ascii_digit() {
            return None;
        }
        magnitude = magnitude
            .checked_mul(10)?
            .checked_add(u64::from(c - b'0'))?;
    }
    if negative {
        0i64.checked_sub_unsigned(magnitude)
    } else {
        i64::try_from(magnitude).ok()
    }
}

/// The decimal digits of a `u64`, formatted on the stack.
pub(crate) struct Digits {
    buf: [u8; 20],
    start: usize,
}

impl Digits {
    /// Formats `n` (no sign, no leading zeros; `0` is `"0"`).
    pub(crate) fn new(mut n: u64) -> Self {
        let mut buf = [0u8; 20];
        let mut start = buf.len();
        loop {
            start -= 1;
            // `n % 10` is below 10, so the narrowing is exact.
            buf[start] = b'0' + (n % 10) as u8;
            n /= 10;
            if n == 0 {
                break;
            }
        }
        Self { buf, start }
    }

    /// The digits.
    pub(crate) fn as_bytes(&self) -> &[u8] {
        &self.buf[self.start..]
    }
}

/// Appends `n` in decimal, with a leading `-` when negative.
pub(crate) fn write_i64(out: &mut Vec<u8>, n: i64) {
    if n < 0 {
        out.push(b'-');
    }
    out.extend_from_slice(Digits::new(n.unsigned_abs()).as_bytes());
}

/// How many bytes `write_i64(n)` appends.
pub(crate) fn i64_len(n: i64) -> usize {
    usize::from(n < 0) + Digits::new(n.unsigned_abs()).as_bytes().len()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_i64_accepts_what_string2ll_accepts() {
        for (text, value) in [
            ("0", 0),
            ("1", 1),
            ("-1", -1),
            ("42", 42),
            ("2147483647", 2_147_483_647),
            ("9223372036854775807", i64::MAX),
            ("-9223372036854775808", i64::MIN),
        ] {
            assert_eq!(parse_i64(text.as_bytes()), Some(value), "{text}");
        }
    }

    #[test]
    fn parse_i64_refuses_what_string2ll_refuses() {
        for text in [
            "",
            "-",
            "+1",
            " 1",
            "1 ",
            "01",
            "00",
            "-0",
            "-01",
            "1.0",
            "1e3",
            "abc",
            "9223372036854775808",
            "-9223372036854775809",
            "18446744073709551616",
            // 21 bytes: refused for its length alone, as LONG_STR_SIZE does.
            "-00000000000000000001",
        ] {
            assert_eq!(parse_i64(text.as_bytes()), None, "{text:?}");
        }
    }

    #[test]
    fn write_i64_matches_display() {
        for n in [0, 1, -1, 9, 10, -10, 12345, i64::MAX, i64::MIN] {
            let mut out = Vec::new();
            write_i64(&mut out, n);
            assert_eq!(out, n.to_string().into_bytes());
            assert_eq!(i64_len(n), out.len());
        }
    }
}
