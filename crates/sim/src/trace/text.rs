//! Readers of the line-oriented formats: ARC `.lis`, LIRS, AdaptSize, CSV.
//!
//! Lines are read in place from the reader's buffer (no allocation or copy
//! per line), fields are split and numbers parsed on bytes. A trailing `\r` is ignored, so CRLF files
//! read like LF files.

use std::io::{BufRead, ErrorKind};

use super::keys::{Fnv1a, id_size_key};
use super::{MAX_ARC_RUN, MAX_LINE_LEN, Request, TraceError};

/// Reads lines and counts them.
///
/// A line that lies whole in the reader's buffer is returned in place; only
/// a line that straddles two buffer fills is copied, into one reused buffer.
pub(crate) struct Lines<R> {
    /// The buffered input.
    reader: R,
    /// Bytes of the line returned last that are still in `reader`'s buffer
    /// (its terminator included), consumed on the next call.
    pending: usize,
    /// The current line when it straddles buffer fills.
    spill: Vec<u8>,
    /// 1-based number of the current line.
    line: u64,
}

impl<R: BufRead> Lines<R> {
    /// Starts reading lines from `reader`.
    pub(crate) fn new(reader: R) -> Self {
        Self {
            reader,
            pending: 0,
            spill: Vec::new(),
            line: 0,
        }
    }

    /// Fills the reader's buffer if it is empty, retrying interrupted reads;
    /// returns how many bytes it holds (0 at the end of the input).
    fn fill(&mut self) -> Result<usize, TraceError> {
        loop {
            match self.reader.fill_buf() {
                Ok(buf) => return Ok(buf.len()),
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) => return Err(TraceError::io(e)),
            }
        }
    }

    /// The error for the current line being longer than [`MAX_LINE_LEN`].
    fn too_long(&self) -> TraceError {
        TraceError::LineTooLong {
            path: None,
            line: self.line,
            limit: MAX_LINE_LEN,
        }
    }

    /// The next line without its `\n` or `\r\n`, with its 1-based number, or
    /// `None` at the end of the input.
    pub(crate) fn next_line(&mut self) -> Result<Option<(u64, &[u8])>, TraceError> {
        self.reader.consume(std::mem::take(&mut self.pending));
        if self.fill()? == 0 {
            return Ok(None);
        }
        self.line += 1;
        // Fast path: the whole line is in the buffer. (`fill_buf` on a
        // non-empty buffer returns it again without reading.)
        let buf = self.reader.fill_buf().map_err(TraceError::io)?;
        if let Some(end) = buf.iter().position(|&b| b == b'\n') {
            if strip_cr(&buf[..end]).len() > MAX_LINE_LEN {
                return Err(self.too_long());
            }
            self.pending = end + 1;
            let buf = self.reader.fill_buf().map_err(TraceError::io)?;
            return Ok(Some((self.line, strip_cr(&buf[..end]))));
        }
        // Slow path: gather the line across buffer fills.
        self.spill.clear();
        while self.fill()? > 0 {
            let buf = self.reader.fill_buf().map_err(TraceError::io)?;
            let (take, used) = match buf.iter().position(|&b| b == b'\n') {
                Some(end) => (end, end + 1),
                None => (buf.len(), buf.len()),
            };
            // One byte of slack for a `\r` before the `\n`.
            if self.spill.len() + take > MAX_LINE_LEN + 1 {
                return Err(self.too_long());
            }
            self.spill.extend_from_slice(&buf[..take]);
            self.reader.consume(used);
            if take < used {
                break;
            }
        }
        let line = strip_cr(&self.spill);
        if line.len() > MAX_LINE_LEN {
            return Err(self.too_long());
        }
        Ok(Some((self.line, line)))
    }
}

/// `line` without a trailing `\r`.
fn strip_cr(line: &[u8]) -> &[u8] {
    match line {
        [rest @ .., b'\r'] => rest,
        _ => line,
    }
}

/// Space- or tab-separated fields of a line, empty fields skipped.
fn fields(line: &[u8]) -> impl Iterator<Item = &[u8]> {
    line.split(|b| *b == b' ' || *b == b'\t')
        .filter(|field| !field.is_empty())
}

/// `bytes` without leading and trailing ASCII whitespace.
fn trim(bytes: &[u8]) -> &[u8] {
    bytes.trim_ascii()
}

/// Parses a non-empty run of ASCII digits as a `u64`; `None` on any other
/// byte or on overflow.
pub(crate) fn parse_u64(digits: &[u8]) -> Option<u64> {
    if digits.is_empty() {
        return None;
    }
    let mut value: u64 = 0;
    for &b in digits {
        let digit = b.wrapping_sub(b'0');
        if digit > 9 {
            return None;
        }
        value = value.checked_mul(10)?.checked_add(u64::from(digit))?;
    }
    Some(value)
}

/// Parses a decimal `u32`.
fn parse_u32(digits: &[u8]) -> Option<u32> {
    parse_u64(digits).and_then(|v| u32::try_from(v).ok())
}

/// Parses a decimal `i64` (optional `-` or `+`) and returns its two's
/// complement bits as a `u64`.
fn parse_i64_bits(text: &[u8]) -> Option<u64> {
    match text {
        [b'-', digits @ ..] => {
            let magnitude = parse_u64(digits)?;
            if magnitude > 1 << 63 {
                return None;
            }
            Some(magnitude.wrapping_neg())
        }
        [b'+', digits @ ..] => parse_u64(digits).filter(|&v| v < 1 << 63),
        digits => parse_u64(digits).filter(|&v| v < 1 << 63),
    }
}

/// ARC `.lis`: `start count [ignored [ignored]]` expands to `count` requests
/// for keys `start..start + count`.
pub(crate) fn read_arc<R: BufRead>(
    mut lines: Lines<R>,
    out: &mut Vec<Request>,
) -> Result<(), TraceError> {
    const SHAPE: &str = "expected `start_block block_count ignore request_no`";
    while let Some((no, line)) = lines.next_line()? {
        let mut parts = fields(line);
        let Some(start) = parts.next() else {
            continue; // blank line
        };
        let (Some(count), None) = (parts.next(), parts.nth(2)) else {
            return Err(TraceError::malformed(no, SHAPE, line));
        };
        let start = parse_u64(start)
            .ok_or_else(|| TraceError::malformed(no, "start block is not a u64", line))?;
        let count = parse_u64(count)
            .ok_or_else(|| TraceError::malformed(no, "block count is not a u64", line))?;
        if count > MAX_ARC_RUN {
            return Err(TraceError::malformed(
                no,
                "block count above MAX_ARC_RUN",
                line,
            ));
        }
        if count > 0 && start.checked_add(count - 1).is_none() {
            return Err(TraceError::malformed(no, "block range overflows u64", line));
        }
        out.extend((0..count).map(|i| Request {
            key: start + i,
            size: 1,
        }));
    }
    Ok(())
}

/// LIRS: one decimal key per line; `*` marker lines and blank lines skipped.
pub(crate) fn read_lirs<R: BufRead>(
    mut lines: Lines<R>,
    out: &mut Vec<Request>,
) -> Result<(), TraceError> {
    while let Some((no, line)) = lines.next_line()? {
        let text = trim(line);
        if text.is_empty() || text == b"*" {
            continue;
        }
        let key = parse_i64_bits(text)
            .ok_or_else(|| TraceError::malformed(no, "key is not a decimal integer", line))?;
        out.push(Request { key, size: 1 });
    }
    Ok(())
}

/// AdaptSize: `time id size`; the key is [`id_size_key`]`(id, size)`.
pub(crate) fn read_adaptsize<R: BufRead>(
    mut lines: Lines<R>,
    out: &mut Vec<Request>,
) -> Result<(), TraceError> {
    while let Some((no, line)) = lines.next_line()? {
        let mut parts = fields(line);
        let Some(_time) = parts.next() else {
            continue; // blank line
        };
        let (Some(id), Some(size), None) = (parts.next(), parts.next(), parts.next()) else {
            return Err(TraceError::malformed(no, "expected `time id size`", line));
        };
        let id = parse_u64(id).ok_or_else(|| TraceError::malformed(no, "id is not a u64", line))?;
        let size =
            parse_u32(size).ok_or_else(|| TraceError::malformed(no, "size is not a u32", line))?;
        out.push(Request {
            key: id_size_key(id, size),
            size,
        });
    }
    Ok(())
}

/// A CSV key being read byte by byte: its FNV-1a hash, and its value if it
/// is all digits.
struct KeyText {
    /// FNV-1a 64 of the bytes so far.
    hash: Fnv1a,
    /// Decimal value of the bytes so far, `None` once a non-digit or an
    /// overflow was seen.
    number: Option<u64>,
    /// Whether any byte was seen.
    empty: bool,
}

impl KeyText {
    /// An empty key.
    fn new() -> Self {
        Self {
            hash: Fnv1a::new(),
            number: Some(0),
            empty: true,
        }
    }

    /// Appends one byte of the key.
    fn push(&mut self, byte: u8) {
        self.empty = false;
        self.hash.push(byte);
        let digit = byte.wrapping_sub(b'0');
        self.number = self
            .number
            .filter(|_| digit <= 9)
            .and_then(|n| n.checked_mul(10)?.checked_add(u64::from(digit)));
    }

    /// The key: the number if all digits, else the hash; `None` if empty.
    fn key(&self) -> Option<CsvKey> {
        match (self.empty, self.number) {
            (true, _) => None,
            (false, Some(n)) => Some(CsvKey::Number(n)),
            (false, None) => Some(CsvKey::Hashed(self.hash.finish())),
        }
    }
}

/// The key field of a CSV row.
#[derive(Clone, Copy)]
enum CsvKey {
    /// The field is a decimal `u64`, used as is.
    Number(u64),
    /// Any other text, hashed with FNV-1a 64.
    Hashed(u64),
}

impl CsvKey {
    /// The `u64` key.
    fn value(self) -> u64 {
        match self {
            Self::Number(n) | Self::Hashed(n) => n,
        }
    }
}

/// One CSV row split into its key and its optional (trimmed, unquoted) size
/// field.
struct CsvRow<'a> {
    /// The key.
    key: CsvKey,
    /// The size field, if the row has one.
    size: Option<&'a [u8]>,
}

/// Splits a CSV row `key[,size]`. The key may be double-quoted (`""` is a
/// literal quote inside); fields are trimmed of surrounding whitespace.
fn split_csv(line: &[u8]) -> Result<CsvRow<'_>, &'static str> {
    let line = line.trim_ascii_start();
    let mut key = KeyText::new();
    let rest = if let [b'"', quoted @ ..] = line {
        let mut i = 0;
        loop {
            match (quoted.get(i), quoted.get(i + 1)) {
                (Some(b'"'), Some(b'"')) => {
                    key.push(b'"');
                    i += 2;
                }
                (Some(b'"'), _) => break,
                (Some(&b), _) => {
                    key.push(b);
                    i += 1;
                }
                (None, _) => return Err("unterminated quoted key"),
            }
        }
        let after = quoted[i + 1..].trim_ascii_start();
        match after {
            [] => None,
            [b',', rest @ ..] => Some(rest),
            _ => return Err("text after the closing quote of the key"),
        }
    } else {
        let (field, rest) = match line.iter().position(|&b| b == b',') {
            Some(comma) => (&line[..comma], Some(&line[comma + 1..])),
            None => (line, None),
        };
        trim(field).iter().for_each(|&b| key.push(b));
        rest
    };
    let key = key.key().ok_or("empty key")?;
    let size = match rest {
        None => None,
        Some(rest) if rest.contains(&b',') => {
            return Err("expected `key` or `key,size`, found more fields");
        }
        Some(rest) => {
            let field = trim(rest);
            Some(match field {
                [b'"', inner @ .., b'"'] => trim(inner),
                _ => field,
            })
        }
    };
    Ok(CsvRow { key, size })
}

/// CSV: `key[,size]` per line, see [`TraceFormat::Csv`](super::TraceFormat::Csv).
pub(crate) fn read_csv<R: BufRead>(
    mut lines: Lines<R>,
    out: &mut Vec<Request>,
) -> Result<(), TraceError> {
    // The first row, held back until the second row tells whether it was a
    // header (a text key above numeric keys).
    let mut maybe_header: Option<Request> = None;
    let mut first = true;
    while let Some((no, line)) = lines.next_line()? {
        if trim(line).is_empty() {
            continue;
        }
        let row = split_csv(line).map_err(|reason| TraceError::malformed(no, reason, line))?;
        let size = match row.size {
            None => 1,
            Some(field) => match parse_u32(field) {
                Some(size) => size,
                None if first && !field.iter().all(u8::is_ascii_digit) => {
                    // A size column that is text: a header line.
                    first = false;
                    continue;
                }
                None => return Err(TraceError::malformed(no, "size is not a u32", line)),
            },
        };
        let request = Request {
            key: row.key.value(),
            size,
        };
        if first {
            first = false;
            if let CsvKey::Hashed(_) = row.key {
                maybe_header = Some(request);
                continue;
            }
        } else if let Some(held) = maybe_header.take() {
            // The first row had a text key: a header if this one is numeric.
            if let CsvKey::Hashed(_) = row.key {
                out.push(held);
            }
        }
        out.push(request);
    }
    // A single row with a text key is a one-request trace, not a header.
    out.extend(maybe_header);
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::super::keys::fnv1a64;
    use super::super::{TraceFormat, read};
    use super::*;

    fn lines(text: &[u8]) -> Lines<&[u8]> {
        Lines::new(text)
    }

    const ARC: TraceFormat = TraceFormat::ArcLis;
    const LIRS: TraceFormat = TraceFormat::Lirs;
    const ADAPTSIZE: TraceFormat = TraceFormat::AdaptSize;
    const CSV: TraceFormat = TraceFormat::Csv;

    fn run(format: TraceFormat, text: &str) -> Result<Vec<Request>, TraceError> {
        read(text.as_bytes(), format)
    }

    fn keys(reader: TraceFormat, text: &str) -> Vec<u64> {
        run(reader, text).unwrap().iter().map(|r| r.key).collect()
    }

    fn err_line(reader: TraceFormat, text: &str) -> u64 {
        let e = run(reader, text).expect_err("input should be rejected");
        e.line().unwrap_or_else(|| panic!("no line in {e}"))
    }

    #[test]
    fn lines_handle_crlf_missing_final_newline_and_count() {
        let mut l = lines(b"a\r\nb\n\nc");
        assert_eq!(l.next_line().unwrap(), Some((1, &b"a"[..])));
        assert_eq!(l.next_line().unwrap(), Some((2, &b"b"[..])));
        assert_eq!(l.next_line().unwrap(), Some((3, &b""[..])));
        assert_eq!(l.next_line().unwrap(), Some((4, &b"c"[..])));
        assert_eq!(l.next_line().unwrap(), None);
    }

    #[test]
    fn lines_straddling_buffer_fills() {
        let text = b"12 3 0 0\r\n\n7 1 0 0\r\nabc\r\n99 2 0 0";
        let expected: Vec<&[u8]> = vec![b"12 3 0 0", b"", b"7 1 0 0", b"abc", b"99 2 0 0"];
        for capacity in 1..=12 {
            let mut l = Lines::new(std::io::BufReader::with_capacity(capacity, &text[..]));
            let mut got = Vec::new();
            while let Some((no, line)) = l.next_line().unwrap() {
                assert_eq!(no as usize, got.len() + 1);
                got.push(line.to_vec());
            }
            assert_eq!(got, expected, "capacity {capacity}");
        }
    }

    #[test]
    fn overlong_line_is_an_error_in_either_path() {
        let long = format!("1\n{}\n", "7".repeat(MAX_LINE_LEN + 1));
        for capacity in [16, MAX_LINE_LEN * 4] {
            let mut l = Lines::new(std::io::BufReader::with_capacity(capacity, long.as_bytes()));
            assert!(l.next_line().is_ok());
            let e = l.next_line().unwrap_err();
            assert!(matches!(e, TraceError::LineTooLong { line: 2, .. }), "{e}");
        }
        let exact = format!("{}\r\n", "7".repeat(MAX_LINE_LEN));
        for capacity in [16, MAX_LINE_LEN * 4] {
            let mut l = Lines::new(std::io::BufReader::with_capacity(
                capacity,
                exact.as_bytes(),
            ));
            assert_eq!(
                l.next_line().unwrap().map(|(_, s)| s.len()),
                Some(MAX_LINE_LEN)
            );
            assert_eq!(l.next_line().unwrap(), None);
        }
    }

    #[test]
    fn overlong_line_is_an_error() {
        let ok = "7".repeat(MAX_LINE_LEN);
        let mut l = lines(ok.as_bytes());
        assert_eq!(
            l.next_line().unwrap().map(|(_, s)| s.len()),
            Some(MAX_LINE_LEN)
        );

        let long = format!("1\n{}\n", "7".repeat(MAX_LINE_LEN + 1));
        let e = run(LIRS, &long).unwrap_err();
        assert!(matches!(e, TraceError::LineTooLong { line: 2, .. }), "{e}");
    }

    #[test]
    fn numbers() {
        assert_eq!(parse_u64(b"0"), Some(0));
        assert_eq!(parse_u64(b"18446744073709551615"), Some(u64::MAX));
        assert_eq!(parse_u64(b"18446744073709551616"), None);
        assert_eq!(parse_u64(b""), None);
        assert_eq!(parse_u64(b"1a"), None);
        assert_eq!(parse_u64(b"-1"), None);
        assert_eq!(parse_u32(b"4294967296"), None);
        assert_eq!(parse_i64_bits(b"-1"), Some(u64::MAX));
        assert_eq!(parse_i64_bits(b"-9223372036854775808"), Some(1 << 63));
        assert_eq!(parse_i64_bits(b"9223372036854775808"), None);
        assert_eq!(parse_i64_bits(b"+5"), Some(5));
        assert_eq!(parse_i64_bits(b"-"), None);
    }

    #[test]
    fn arc_expands_runs() {
        let out = run(ARC, "10 3 0 0\n\n5 1 0 1\r\n7 0 0 2\n20 2").unwrap();
        let keys: Vec<u64> = out.iter().map(|r| r.key).collect();
        assert_eq!(keys, [10, 11, 12, 5, 20, 21]);
        assert!(out.iter().all(|r| r.size == 1));
        // Tabs and repeated spaces separate fields too.
        assert_eq!(keys_of_arc("1\t2  0 0"), [1, 2]);
        // The last representable block is fine.
        assert_eq!(keys_of_arc(&format!("{} 1 0 0", u64::MAX)), [u64::MAX]);
    }

    fn keys_of_arc(text: &str) -> Vec<u64> {
        keys(ARC, text)
    }

    #[test]
    fn arc_rejects_malformed_lines() {
        assert_eq!(err_line(ARC, "1 1 0 0\n7\n"), 2);
        assert_eq!(err_line(ARC, "x 1 0 0"), 1);
        assert_eq!(err_line(ARC, "1 -1 0 0"), 1);
        assert_eq!(err_line(ARC, "1 2 0 0 9"), 1);
        assert_eq!(err_line(ARC, &format!("{} 2 0 0", u64::MAX)), 1);
        assert_eq!(err_line(ARC, &format!("0 {} 0 0", MAX_ARC_RUN + 1)), 1);
        assert_eq!(err_line(ARC, "\u{fffd} 1 0 0"), 1);
    }

    #[test]
    fn lirs_skips_markers_and_blanks() {
        assert_eq!(
            keys(LIRS, "0\r\n1\n*\n\n  \n 2 \n-1\n*"),
            [0, 1, 2, u64::MAX]
        );
        assert!(run(LIRS, "").unwrap().is_empty());
    }

    #[test]
    fn lirs_rejects_malformed_lines() {
        assert_eq!(err_line(LIRS, "1\n2\n3 4\n"), 3);
        assert_eq!(err_line(LIRS, "1\n**\n"), 2);
        assert_eq!(err_line(LIRS, "abc"), 1);
        assert_eq!(err_line(LIRS, "99999999999999999999"), 1);
    }

    #[test]
    fn adaptsize_keys_are_id_size_pairs() {
        let out = run(ADAPTSIZE, "1 0 68\n2 1 7454\n3 0 68\n4 0 99\n").unwrap();
        assert_eq!(out[0].key, id_size_key(0, 68));
        assert_eq!(out[0], out[2]);
        assert_ne!(out[0].key, out[3].key, "same id, other size");
        assert_eq!(
            out.iter().map(|r| r.size).collect::<Vec<_>>(),
            [68, 7454, 68, 99]
        );
    }

    #[test]
    fn adaptsize_rejects_malformed_lines() {
        assert_eq!(err_line(ADAPTSIZE, "1 0 68\n2 1\n"), 2);
        assert_eq!(err_line(ADAPTSIZE, "1 0 68 5"), 1);
        assert_eq!(err_line(ADAPTSIZE, "1 x 68"), 1);
        assert_eq!(err_line(ADAPTSIZE, "1 0 4294967296"), 1);
        assert_eq!(err_line(ADAPTSIZE, "1 0 -3"), 1);
    }

    #[test]
    fn csv_numeric_and_string_keys() {
        let out = run(CSV, "1,100\n2\nfoo,7\n\n 3 , 5 \n").unwrap();
        assert_eq!(
            out,
            [
                Request { key: 1, size: 100 },
                Request { key: 2, size: 1 },
                Request {
                    key: fnv1a64(b"foo"),
                    size: 7
                },
                Request { key: 3, size: 5 },
            ]
        );
    }

    #[test]
    fn csv_quoted_keys() {
        let out = run(CSV, "\"a,b\",3\n\"say \"\"hi\"\"\"\n\"42\", \"8\"\n").unwrap();
        assert_eq!(
            out[0],
            Request {
                key: fnv1a64(b"a,b"),
                size: 3
            }
        );
        assert_eq!(out[1].key, fnv1a64(b"say \"hi\""));
        assert_eq!(out[2], Request { key: 42, size: 8 });
    }

    #[test]
    fn csv_headers() {
        // Text size column: a header, whatever the key column holds.
        assert_eq!(keys(CSV, "key,size\n1,2\n"), [1]);
        assert_eq!(keys(CSV, "key,size\na,2\n"), [fnv1a64(b"a")]);
        // Text key above numeric keys: a header.
        assert_eq!(keys(CSV, "\nobj_id\n5\n6\n"), [5, 6]);
        // Text keys throughout: no header.
        assert_eq!(keys(CSV, "a\nb\n"), [fnv1a64(b"a"), fnv1a64(b"b")]);
        // A lone text row is a request.
        assert_eq!(keys(CSV, "a\n"), [fnv1a64(b"a")]);
        // Only the first line can be a header.
        assert_eq!(err_line(CSV, "1,2\nkey,size\n"), 2);
    }

    #[test]
    fn csv_rejects_malformed_lines() {
        assert_eq!(err_line(CSV, "1,2,3"), 1);
        assert_eq!(err_line(CSV, "1,2\n,5\n"), 2);
        assert_eq!(err_line(CSV, "1,2\n3,\n"), 2);
        assert_eq!(err_line(CSV, "1,99999999999"), 1);
        assert_eq!(err_line(CSV, "\"open,1"), 1);
        assert_eq!(err_line(CSV, "\"a\"b,1"), 1);
        assert_eq!(err_line(CSV, "1,2\n\"a\",\"b\",3"), 2);
    }
}
