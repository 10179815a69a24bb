//! Doubles as Redis 7.0's `addReplyDouble` writes them: C's `printf("%.17g")`, formatted on the
//! stack.

use std::fmt::Write as _;

/// A short text on the stack; long enough for any `%.17g` output (at most 24 bytes, as in
/// `-1.2345678901234567e-308`).
pub(crate) struct Text {
    buf: [u8; 32],
    len: usize,
}

impl Text {
    fn new() -> Self {
        Self {
            buf: [0; 32],
            len: 0,
        }
    }

    /// The text.
    pub(crate) fn as_bytes(&self) -> &[u8] {
        &self.buf[..self.len]
    }

    fn push(&mut self, bytes: &[u8]) {
        // Every caller stays within the buffer; past it, the text is cut rather than panicking.
        let end = (self.len + bytes.len()).min(self.buf.len());
        let take = end - self.len;
        self.buf[self.len..end].copy_from_slice(&bytes[..take]);
        self.len = end;
    }
}

impl std::fmt::Write for Text {
    fn write_str(&mut self, s: &str) -> std::fmt::Result {
        if self.len + s.len() > self.buf.len() {
            return Err(std::fmt::Error);
        }
        self.push(s.as_bytes());
        Ok(())
    }
}

/// `%.17g`'s precision: significant digits.
const PRECISION: i32 = 17;

/// Formats `d` as glibc's `printf("%.17g", d)` does: 17 significant digits, correctly rounded
/// (ties to even), trailing zeros and a trailing point removed, fixed notation when the decimal
/// exponent is in -4..17 and `d.ddde±XX` otherwise; `inf`, `-inf`, `nan`, `-nan`.
pub(crate) fn format_g17(d: f64) -> Text {
    let mut out = Text::new();
    if d.is_nan() {
        out.push(if d.is_sign_negative() {
            b"-nan"
        } else {
            b"nan"
        });
        return out;
    }
    if d.is_infinite() {
        out.push(if d > 0.0 { b"inf" } else { b"-inf" });
        return out;
    }
    // Rust's `{:.16e}` rounds exactly as printf does: 17 significant digits of the exact binary
    // value, ties to even. It prints `[-]d.dddddddddddddddde[-]x`.
    let mut sci = Text::new();
    if write!(sci, "{d:.16e}").is_err() {
        // Cannot happen: the text is at most 24 bytes.
        return sci;
    }
    let sci = sci.as_bytes();
    let (negative, sci) = match sci.split_first() {
        Some((b'-', rest)) => (true, rest),
        _ => (false, sci),
    };
    let Some(e) = sci.iter().position(|&b| b == b'e') else {
        return out;
    };
    let mut digits = [b'0'; PRECISION as usize];
    for (slot, &b) in digits
        .iter_mut()
        .zip(sci[..e].iter().filter(|b| b.is_ascii_digit()))
    {
        *slot = b;
    }
    let exponent = exponent_of(&sci[e + 1..]);
    if negative {
        out.push(b"-");
    }
    if !(-4..PRECISION).contains(&exponent) {
        out.push(&digits[..1]);
        push_fraction(&mut out, &digits[1..]);
        out.push(if exponent < 0 { b"e-" } else { b"e+" });
        let magnitude = exponent.unsigned_abs();
        if magnitude < 10 {
            out.push(b"0");
        }
        out.push(crate::int::Digits::new(u64::from(magnitude)).as_bytes());
    } else if exponent >= 0 {
        // `exponent` is in 0..17 here.
        let int_digits = exponent.unsigned_abs() as usize + 1;
        out.push(&digits[..int_digits]);
        push_fraction(&mut out, &digits[int_digits..]);
    } else {
        out.push(b"0.");
        for _ in 1..exponent.unsigned_abs() {
            out.push(b"0");
        }
        out.push(trim_zeros(&digits));
    }
    out
}

/// Reads the exponent Rust printed (`-5`, `12`).
fn exponent_of(text: &[u8]) -> i32 {
    let (sign, digits) = match text.split_first() {
        Some((b'-', rest)) => (-1, rest),
        _ => (1, text),
    };
    sign * digits
        .iter()
        .fold(0i32, |n, &b| n * 10 + i32::from(b - b'0'))
}

/// `.` and the digits without their trailing zeros, or nothing if all are zeros.
fn push_fraction(out: &mut Text, digits: &[u8]) {
    let digits = trim_zeros(digits);
    if !digits.is_empty() {
        out.push(b".");
        out.push(digits);
    }
}

fn trim_zeros(digits: &[u8]) -> &[u8] {
    let len = digits.iter().rposition(|&b| b != b'0').map_or(0, |i| i + 1);
    &digits[..len]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn g17(d: f64) -> String {
        String::from_utf8_lossy(format_g17(d).as_bytes()).into_owned()
    }

    /// Each text is what `printf("%.17g", d)` prints with glibc.
    #[test]
    fn matches_printf() {
        for (d, text) in [
            (0.0, "0"),
            (-0.0, "-0"),
            (1.0, "1"),
            (3.0, "3"),
            (1.5, "1.5"),
            (-2.25, "-2.25"),
            (0.1, "0.10000000000000001"),
            (0.5, "0.5"),
            (100.0, "100"),
            (1e16, "10000000000000000"),
            (1e17, "1e+17"),
            (1.5e17, "1.5e+17"),
            (123456789012345680.0, "1.2345678901234568e+17"),
            (0.0001, "0.0001"),
            (0.00001, "1.0000000000000001e-05"),
            (1e-300, "1e-300"),
            (1e100, "1e+100"),
            (f64::MAX, "1.7976931348623157e+308"),
            (f64::MIN_POSITIVE, "2.2250738585072014e-308"),
            (5e-324, "4.9406564584124654e-324"),
            (0.3, "0.29999999999999999"),
            (2.675, "2.6749999999999998"),
            // A tie at the 17th digit: rounds to the even digit.
            (2_251_799_813_685_247.0 + 0.25, "2251799813685247.2"),
            (2_251_799_813_685_247.0 + 0.75, "2251799813685247.8"),
            (f64::INFINITY, "inf"),
            (f64::NEG_INFINITY, "-inf"),
            (f64::NAN, "nan"),
            (-f64::NAN, "-nan"),
        ] {
            assert_eq!(g17(d), text, "{d:e}");
        }
    }
}
