//! Requests: the multibulk and inline forms a client sends, parsed as Redis 7.0 parses them
//! (`processMultibulkBuffer` and `processInlineBuffer` in networking.c).

use smallvec::SmallVec;
use std::ops::Range;

use crate::int::parse_i64;

/// Request-side limits, Redis's defaults.
#[derive(Clone, Debug)]
pub struct Limits {
    /// `proto-max-bulk-len`: the largest bulk argument accepted (default 512 MiB).
    pub max_bulk_len: u64,
    /// `PROTO_INLINE_MAX_SIZE` (64 KiB): how much unterminated input an inline request, a
    /// multibulk count line or a bulk length line may span before it is refused.
    pub max_inline_len: usize,
    /// The largest multibulk count accepted: `INT_MAX` in Redis.
    pub max_multibulk_len: i64,
    /// A client that has not authenticated yet: Redis then refuses more than 10 arguments
    /// and bulk arguments over 16 384 bytes.
    pub unauthenticated: bool,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_bulk_len: 512 * 1024 * 1024,
            max_inline_len: 64 * 1024,
            max_multibulk_len: i64::from(i32::MAX),
            unauthenticated: false,
        }
    }
}

/// The most arguments an unauthenticated multibulk request may have.
const UNAUTHENTICATED_MAX_MULTIBULK: i64 = 10;
/// The longest bulk argument an unauthenticated client may send.
const UNAUTHENTICATED_MAX_BULK: i64 = 16384;

/// A protocol error; [`message`](ProtocolError::message) is Redis's exact text where Redis has
/// one. The server replies `-ERR <message>` and closes the connection.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProtocolError {
    /// An inline request with more than [`Limits::max_inline_len`] bytes and no newline.
    #[error("Protocol error: too big inline request")]
    TooBigInline,
    /// An inline request whose quotes do not close, or whose closing quote is followed by
    /// something other than a space.
    #[error("Protocol error: unbalanced quotes in request")]
    UnbalancedQuotes,
    /// A multibulk count line with more than [`Limits::max_inline_len`] bytes and no `\r`.
    #[error("Protocol error: too big mbulk count string")]
    TooBigMultibulkCount,
    /// A multibulk count that is not an integer or exceeds [`Limits::max_multibulk_len`].
    #[error("Protocol error: invalid multibulk length")]
    InvalidMultibulkLength,
    /// More than 10 arguments from an unauthenticated client.
    #[error("Protocol error: unauthenticated multibulk length")]
    UnauthenticatedMultibulkLength,
    /// A bulk length line with more than [`Limits::max_inline_len`] bytes and no `\r`.
    #[error("Protocol error: too big bulk count string")]
    TooBigBulkCount,
    /// A multibulk element that does not start with `$`; carries the byte found.
    #[error("Protocol error: expected '$', got '{}'", shown(*.0))]
    ExpectedDollar(u8),
    /// A bulk length that is not an integer, is negative, or exceeds [`Limits::max_bulk_len`].
    #[error("Protocol error: invalid bulk length")]
    InvalidBulkLength,
    /// A bulk argument over 16 384 bytes from an unauthenticated client.
    #[error("Protocol error: unauthenticated bulk length")]
    UnauthenticatedBulkLength,
    /// A count or length line whose `\r` is not followed by `\n`. (Redis skips the byte after
    /// the `\r` unread; Larder refuses it. Not a Redis text.)
    #[error("Protocol error: line not terminated by CRLF")]
    LineNotTerminated,
    /// Bulk data not followed by `\r\n`. (Redis skips the two bytes unread; Larder refuses
    /// them. Not a Redis text.)
    #[error("Protocol error: bulk data not terminated by CRLF")]
    BulkNotTerminated,
}

impl ProtocolError {
    /// The error text, without the `-ERR ` a reply puts before it.
    pub fn message(&self) -> String {
        self.to_string()
    }
}

/// How [`ProtocolError::ExpectedDollar`] shows the byte: as Redis's `%c` does for printable
/// ASCII, CR and LF as spaces (Redis maps them so the reply stays one line), other bytes above
/// ASCII as `\xHH` (a `String` cannot carry them raw).
fn shown(byte: u8) -> String {
    match byte {
        b'\r' | b'\n' => " ".to_owned(),
        0..=0x7f => char::from(byte).to_string(),
        _ => format!("\\x{byte:02x}"),
    }
}

/// A parsed request: its arguments borrow the read buffer.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Command<'a> {
    args: SmallVec<[&'a [u8]; 8]>,
}

impl<'a> Command<'a> {
    /// The arguments, the command name first.
    pub fn args(&self) -> &[&'a [u8]] {
        &self.args
    }

    /// How many arguments.
    pub fn len(&self) -> usize {
        self.args.len()
    }

    /// Whether there are no arguments (an empty inline line, `*0`, `*-1`): the caller skips it.
    pub fn is_empty(&self) -> bool {
        self.args.is_empty()
    }
}

/// Parses one request at the start of `buf`: a multibulk request (`*N\r\n$len\r\n...`) when
/// `buf` starts with `*`, an inline command line otherwise.
///
/// * `Ok(None)`: incomplete, read more and call again with the longer buffer.
/// * `Ok(Some((cmd, consumed)))`: a request of `consumed` bytes; `cmd` may be empty (an empty
///   inline line, `*0`, `*-1`): the caller skips it.
/// * `Err(_)`: a protocol error; reply `-ERR <message>` and close the connection.
///
/// Two phases: a check pass validates and finds the length without collecting anything, so
/// incomplete input costs no allocation; then the arguments are collected.
///
/// The buffer is mutable for one reason: an inline argument in quotes is unescaped in place
/// (`"\x41"` becomes `A`), so that every argument borrows `buf`. Multibulk requests are never
/// written to, and an inline line is rewritten only once it is complete and valid. The first
/// `consumed` bytes are therefore not the request as sent any more: drop them.
pub fn parse_command<'a>(
    buf: &'a mut [u8],
    limits: &Limits,
) -> Result<Option<(Command<'a>, usize)>, ProtocolError> {
    if buf.first() == Some(&b'*') {
        let Some(shape) = walk_multibulk(buf, limits, |_| {})? else {
            return Ok(None);
        };
        let buf: &'a [u8] = buf;
        let mut args = SmallVec::with_capacity(shape.args);
        walk_multibulk(buf, limits, |arg| args.push(&buf[arg]))?;
        Ok(Some((Command { args }, shape.consumed)))
    } else {
        let Some(line) = find_inline_line(buf, limits)? else {
            return Ok(None);
        };
        let mut count = Counter {
            line: &buf[..line.len],
            args: 0,
        };
        split(&mut count)?;
        let found = count.args;
        let mut unescape = InPlace {
            buf: &mut buf[..line.len],
            written: 0,
            ends: SmallVec::with_capacity(found),
        };
        split(&mut unescape)?;
        let ends = unescape.ends;
        let buf: &'a [u8] = buf;
        let mut start = 0;
        let args = ends
            .iter()
            .map(|&end| {
                let arg = &buf[start..end];
                start = end;
                arg
            })
            .collect();
        Ok(Some((Command { args }, line.consumed)))
    }
}

/// What the check pass learned about a complete request.
#[derive(Clone, Copy, Debug)]
struct Shape {
    /// How many bytes the request spans.
    consumed: usize,
    /// How many arguments it has.
    args: usize,
}

/// Finds the `\r` that ends the line starting at `start`, as Redis does with
/// `strchr(..., '\r')`: the search stops at a NUL byte too, which counts as not found.
///
/// `Ok(None)` when the line is not complete yet (no `\r`, or the `\r` is the last byte);
/// `too_big` when no `\r` is found and more than [`Limits::max_inline_len`] bytes are waiting.
/// Returns the index of the `\r`.
fn find_cr(
    buf: &[u8],
    start: usize,
    limits: &Limits,
    too_big: ProtocolError,
) -> Result<Option<usize>, ProtocolError> {
    let rest = &buf[start..];
    match rest.iter().position(|&b| b == b'\r' || b == 0) {
        Some(i) if rest[i] == b'\r' => {
            let cr = start + i;
            // Redis waits until the byte after the `\r` has arrived too.
            Ok((cr + 1 < buf.len()).then_some(cr))
        }
        _ if rest.len() > limits.max_inline_len => Err(too_big),
        _ => Ok(None),
    }
}

/// Most arguments a [`Batch`] holds, over all its requests: a request that would take it past
/// this ends the batch (one with more on its own is left to [`parse_command`]).
pub const BATCH_ARGS_MAX: usize = 256;

/// The complete multibulk requests at the start of a buffer, walked once: where each one's
/// arguments lie, so that a server can look at a whole pipelined batch (its keys, to prefetch
/// them) before running the first request, without parsing anything twice.
///
/// Holds byte ranges of the buffer given to [`Batch::parse`], not the bytes: the caller slices
/// them out of that buffer ([`Batch::args`]). No heap for up to 64 arguments; never more than
/// [`BATCH_ARGS_MAX`].
#[derive(Clone, Debug, Default)]
pub struct Batch {
    /// Every argument of every request, in order.
    args: SmallVec<[Range<usize>; 64]>,
    /// Each request: the end of its arguments in `args`, and of its bytes in the buffer.
    requests: SmallVec<[(usize, usize); 32]>,
}

impl Batch {
    /// An empty batch.
    pub fn new() -> Batch {
        Batch::default()
    }

    /// Replaces the batch with the complete multibulk requests at the start of `buf`, at most
    /// `max` of them, and returns how many there are. It stops before an inline request, an
    /// incomplete one, an invalid one and one that would take it past [`BATCH_ARGS_MAX`]
    /// arguments: [`parse_command`] takes that one (and reports its error) at its turn. An
    /// empty request (`*0`, `*-1`) is in the batch with no arguments; the caller skips it.
    pub fn parse(&mut self, buf: &[u8], limits: &Limits, max: usize) -> usize {
        self.args.clear();
        self.requests.clear();
        let mut at = 0;
        while self.requests.len() < max && buf.get(at) == Some(&b'*') {
            let before = self.args.len();
            let mut too_many = false;
            let walked = walk_multibulk(&buf[at..], limits, |arg| {
                if self.args.len() < BATCH_ARGS_MAX {
                    self.args.push(at + arg.start..at + arg.end);
                } else {
                    too_many = true;
                }
            });
            match walked {
                Ok(Some(shape)) if !too_many => {
                    at += shape.consumed;
                    self.requests.push((self.args.len(), at));
                }
                _ => {
                    self.args.truncate(before);
                    break;
                }
            }
        }
        self.requests.len()
    }

    /// How many requests it holds.
    pub fn len(&self) -> usize {
        self.requests.len()
    }

    /// Whether it holds no request.
    pub fn is_empty(&self) -> bool {
        self.requests.is_empty()
    }

    /// The arguments of request `i` (the command name first) as ranges of the parsed buffer.
    pub fn args(&self, i: usize) -> &[Range<usize>] {
        let start = if i == 0 { 0 } else { self.requests[i - 1].0 };
        &self.args[start..self.requests[i].0]
    }

    /// Where request `i` ends in the parsed buffer: the bytes it and those before it take.
    pub fn end(&self, i: usize) -> usize {
        self.requests[i].1
    }
}

/// Walks a multibulk request (`buf` starts with `*`), validating in Redis's order, and calls
/// `arg` with the range of each argument. `Ok(None)` when incomplete.
fn walk_multibulk(
    buf: &[u8],
    limits: &Limits,
    mut arg: impl FnMut(Range<usize>),
) -> Result<Option<Shape>, ProtocolError> {
    let Some(cr) = find_cr(buf, 0, limits, ProtocolError::TooBigMultibulkCount)? else {
        return Ok(None);
    };
    let count = parse_i64(&buf[1..cr])
        .filter(|&n| n <= limits.max_multibulk_len)
        .ok_or(ProtocolError::InvalidMultibulkLength)?;
    if count > UNAUTHENTICATED_MAX_MULTIBULK && limits.unauthenticated {
        return Err(ProtocolError::UnauthenticatedMultibulkLength);
    }
    let mut pos = end_of_line(buf, cr)?;
    let mut args = 0;
    // A negative count is an empty request, as in Redis. Each round consumes at least four
    // bytes or returns, so a huge declared count costs no more than the bytes present.
    for _ in 0..count.max(0) {
        let Some(cr) = find_cr(buf, pos, limits, ProtocolError::TooBigBulkCount)? else {
            return Ok(None);
        };
        if buf[pos] != b'$' {
            return Err(ProtocolError::ExpectedDollar(buf[pos]));
        }
        let len = parse_i64(&buf[pos + 1..cr])
            .filter(|&n| n >= 0 && n.unsigned_abs() <= limits.max_bulk_len)
            .ok_or(ProtocolError::InvalidBulkLength)?;
        if len > UNAUTHENTICATED_MAX_BULK && limits.unauthenticated {
            return Err(ProtocolError::UnauthenticatedBulkLength);
        }
        let data = end_of_line(buf, cr)?;
        // `len` is below 2^63, so on a 64-bit target neither conversion nor sum can fail; on a
        // narrower one, a length that does not fit is one whose data cannot be buffered yet.
        let Some(end) = usize::try_from(len).ok().and_then(|n| data.checked_add(n)) else {
            return Ok(None);
        };
        match buf.get(end..end.saturating_add(2)) {
            None => return Ok(None),
            Some(b"\r\n") => {}
            Some(_) => return Err(ProtocolError::BulkNotTerminated),
        }
        arg(data..end);
        args += 1;
        pos = end + 2;
    }
    Ok(Some(Shape {
        consumed: pos,
        args,
    }))
}

/// The position after the line ending at `cr`, which must be `\r\n`. [`find_cr`] guarantees
/// the byte after `cr` exists.
fn end_of_line(buf: &[u8], cr: usize) -> Result<usize, ProtocolError> {
    match buf.get(cr + 1) {
        Some(b'\n') => Ok(cr + 2),
        _ => Err(ProtocolError::LineNotTerminated),
    }
}

/// Where an inline request's line ends.
#[derive(Clone, Copy, Debug)]
struct InlineLine {
    /// The length of the line without its `\n` or `\r\n`.
    len: usize,
    /// The length with it.
    consumed: usize,
}

/// Finds the end of an inline line as Redis does with `strchr(..., '\n')` (which stops at a NUL
/// byte too, counted as not found): `\n` ends the line, and a `\r` just before it is dropped.
fn find_inline_line(buf: &[u8], limits: &Limits) -> Result<Option<InlineLine>, ProtocolError> {
    match buf.iter().position(|&b| b == b'\n' || b == 0) {
        Some(nl) if buf[nl] == b'\n' => {
            let len = if nl > 0 && buf[nl - 1] == b'\r' {
                nl - 1
            } else {
                nl
            };
            Ok(Some(InlineLine {
                len,
                consumed: nl + 1,
            }))
        }
        _ if buf.len() > limits.max_inline_len => Err(ProtocolError::TooBigInline),
        _ => Ok(None),
    }
}

/// Receives the arguments that [`split`] finds in an inline line.
trait Args {
    /// The byte at `i`, or 0 past the end of the line (the line is a C string to `sdssplitargs`;
    /// it holds no NUL byte, since [`find_inline_line`] stops at one).
    fn at(&self, i: usize) -> u8;
    /// One more byte of the current argument.
    fn push(&mut self, byte: u8);
    /// The current argument is complete.
    fn end(&mut self);
}

/// Counts the arguments, writes nothing: the check pass.
struct Counter<'l> {
    line: &'l [u8],
    args: usize,
}

impl Args for Counter<'_> {
    fn at(&self, i: usize) -> u8 {
        self.line.get(i).copied().unwrap_or(0)
    }
    fn push(&mut self, _: u8) {}
    fn end(&mut self) {
        self.args += 1;
    }
}

/// Writes the unescaped arguments back to back from the start of the line itself. Every
/// argument byte comes from at least one line byte read at or after the position it is written
/// to, so no byte is overwritten before it is read.
struct InPlace<'l> {
    buf: &'l mut [u8],
    written: usize,
    /// Where each argument ends in `buf`; each starts where the previous one ends.
    ends: SmallVec<[usize; 8]>,
}

impl Args for InPlace<'_> {
    fn at(&self, i: usize) -> u8 {
        self.buf.get(i).copied().unwrap_or(0)
    }
    fn push(&mut self, byte: u8) {
        self.buf[self.written] = byte;
        self.written += 1;
    }
    fn end(&mut self) {
        self.ends.push(self.written);
    }
}

/// `isspace` in the C locale.
fn is_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | b'\x0b' | b'\x0c' | b'\r')
}

/// The value of a hexadecimal digit, if `b` is one.
fn hex_value(b: u8) -> Option<u8> {
    char::from(b)
        .to_digit(16)
        .and_then(|d| u8::try_from(d).ok())
}

/// Splits an inline line into arguments exactly as Redis's `sdssplitargs` (sds.c) does:
/// blanks separate arguments; `"..."` takes the escapes `\xHH`, `\n`, `\r`, `\t`, `\b`, `\a`
/// and `\<any>` for that byte; `'...'` takes only `\'`; a closing quote must be followed by a
/// blank or the end of the line; an unterminated quote is an error.
fn split(args: &mut impl Args) -> Result<(), ProtocolError> {
    let mut p = 0;
    loop {
        while args.at(p) != 0 && is_space(args.at(p)) {
            p += 1;
        }
        if args.at(p) == 0 {
            return Ok(());
        }
        let mut in_double = false;
        let mut in_single = false;
        loop {
            let c = args.at(p);
            let mut done = false;
            if in_double {
                let hex = (c == b'\\' && args.at(p + 1) == b'x')
                    .then(|| hex_value(args.at(p + 2)).zip(hex_value(args.at(p + 3))))
                    .flatten();
                if let Some((high, low)) = hex {
                    args.push(high * 16 + low);
                    p += 3;
                } else if c == b'\\' && args.at(p + 1) != 0 {
                    p += 1;
                    args.push(match args.at(p) {
                        b'n' => b'\n',
                        b'r' => b'\r',
                        b't' => b'\t',
                        b'b' => 0x08,
                        b'a' => 0x07,
                        other => other,
                    });
                } else if c == b'"' {
                    done = closing_quote(args, p)?;
                } else if c == 0 {
                    return Err(ProtocolError::UnbalancedQuotes);
                } else {
                    args.push(c);
                }
            } else if in_single {
                if c == b'\\' && args.at(p + 1) == b'\'' {
                    p += 1;
                    args.push(b'\'');
                } else if c == b'\'' {
                    done = closing_quote(args, p)?;
                } else if c == 0 {
                    return Err(ProtocolError::UnbalancedQuotes);
                } else {
                    args.push(c);
                }
            } else {
                match c {
                    b' ' | b'\n' | b'\r' | b'\t' | 0 => done = true,
                    b'"' => in_double = true,
                    b'\'' => in_single = true,
                    _ => args.push(c),
                }
            }
            if args.at(p) != 0 {
                p += 1;
            }
            if done {
                break;
            }
        }
        args.end();
    }
}

/// A closing quote at `p` ends the argument if a blank or the end of the line follows it.
fn closing_quote(args: &impl Args, p: usize) -> Result<bool, ProtocolError> {
    let next = args.at(p + 1);
    if next != 0 && !is_space(next) {
        return Err(ProtocolError::UnbalancedQuotes);
    }
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    type Parsed = Result<Option<(Vec<Vec<u8>>, usize)>, ProtocolError>;

    /// The arguments of request `i` of `batch`, parsed from `buf`.
    fn held<'a>(batch: &Batch, buf: &'a [u8], i: usize) -> Vec<&'a [u8]> {
        batch.args(i).iter().map(|r| &buf[r.clone()]).collect()
    }

    #[test]
    fn a_batch_walks_the_multibulk_requests_ahead_within_its_bounds() {
        let mut buf = Vec::new();
        crate::encode_command(&mut buf, &[b"SET", b"k", b"v"]);
        buf.extend_from_slice(b"*0\r\n");
        crate::encode_command(&mut buf, &[b"GET", b"k"]);
        let three = buf.len();
        buf.extend_from_slice(b"PING\r\n");
        crate::encode_command(&mut buf, &[b"GET", b"after-inline"]);
        let mut batch = Batch::new();
        // Up to the inline request; the empty one is held with no arguments.
        assert_eq!(batch.parse(&buf, &Limits::default(), 32), 3);
        assert_eq!(held(&batch, &buf, 0), [&b"SET"[..], b"k", b"v"]);
        assert!(held(&batch, &buf, 1).is_empty());
        assert_eq!(held(&batch, &buf, 2), [&b"GET"[..], b"k"]);
        assert_eq!(batch.end(2), three);
        // At most `max`; parsing again replaces what it held.
        assert_eq!(batch.parse(&buf, &Limits::default(), 2), 2);
        assert_eq!(batch.parse(&buf[three..], &Limits::default(), 32), 0);
        assert!(batch.is_empty());
        // An invalid request ends it (parse_command reports the error at its turn).
        let mut bad = Vec::new();
        crate::encode_command(&mut bad, &[b"GET", b"k"]);
        bad.extend_from_slice(b"*1\r\n$x\r\n");
        assert_eq!(batch.parse(&bad, &Limits::default(), 32), 1);
    }

    #[test]
    fn a_batch_holds_at_most_its_argument_bound() {
        let small: Vec<&[u8]> = vec![b"x"; 100];
        let big: Vec<&[u8]> = vec![b"x"; BATCH_ARGS_MAX + 1];
        let mut buf = Vec::new();
        crate::encode_command(&mut buf, &small);
        crate::encode_command(&mut buf, &small);
        let two = buf.len();
        crate::encode_command(&mut buf, &small);
        let mut batch = Batch::new();
        // The third request would take it past the bound: it waits for the next batch.
        assert_eq!(batch.parse(&buf, &Limits::default(), 32), 2);
        assert_eq!(batch.end(1), two);
        assert_eq!(batch.parse(&buf[two..], &Limits::default(), 32), 1);
        // A request over the bound on its own is never held; parse_command takes it.
        let mut huge = Vec::new();
        crate::encode_command(&mut huge, &big);
        assert_eq!(batch.parse(&huge, &Limits::default(), 32), 0);
        assert_eq!(
            parse_with(&huge, &Limits::default())
                .unwrap()
                .unwrap()
                .0
                .len(),
            BATCH_ARGS_MAX + 1
        );
    }

    /// Parses a copy of `input` (parsing may rewrite it) into owned arguments.
    fn parse_with(input: &[u8], limits: &Limits) -> Parsed {
        let mut buf = input.to_vec();
        parse_command(&mut buf, limits).map(|parsed| {
            parsed.map(|(cmd, consumed)| {
                let args = cmd.args().iter().map(|arg| arg.to_vec()).collect();
                (args, consumed)
            })
        })
    }

    fn parse(input: &[u8]) -> Parsed {
        parse_with(input, &Limits::default())
    }

    fn args(list: &[&str]) -> Vec<Vec<u8>> {
        list.iter().map(|s| s.as_bytes().to_vec()).collect()
    }

    fn ok(input: &[u8], expected: &[&str]) {
        assert_eq!(
            parse(input),
            Ok(Some((args(expected), input.len()))),
            "{}",
            input.escape_ascii()
        );
    }

    fn fails(input: &[u8], error: ProtocolError, message: &str) {
        fails_with(input, &Limits::default(), error, message);
    }

    fn fails_with(input: &[u8], limits: &Limits, error: ProtocolError, message: &str) {
        let got = parse_with(input, limits);
        assert_eq!(got, Err(error), "{}", input.escape_ascii());
        if let Err(error) = got {
            assert_eq!(error.message(), message);
        }
    }

    #[test]
    fn multibulk_requests() {
        ok(b"*1\r\n$4\r\nPING\r\n", &["PING"]);
        ok(
            b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$0\r\n\r\n",
            &["SET", "k", ""],
        );
        // Bulk data is binary: CR, LF, NUL and `$` are data.
        assert_eq!(
            parse(b"*1\r\n$5\r\na\r\n\0$\r\n"),
            Ok(Some((vec![b"a\r\n\0$".to_vec()], 15)))
        );
        // Counts of zero or below are empty requests, which the caller skips.
        ok(b"*0\r\n", &[]);
        ok(b"*-1\r\n", &[]);
        ok(b"*-5\r\n", &[]);
    }

    #[test]
    fn invalid_multibulk_length() {
        let message = "Protocol error: invalid multibulk length";
        for input in [
            &b"*3000000000\r\n"[..],
            b"*2147483648\r\n",
            b"*abc\r\n",
            b"*\r\n",
            b"*+1\r\n",
            b"*01\r\n",
            b"*-0\r\n",
            b"* 1\r\n",
            b"*1 \r\n",
            b"*99999999999999999999\r\n",
        ] {
            fails(input, ProtocolError::InvalidMultibulkLength, message);
        }
        // INT_MAX itself is accepted, and waits for its arguments without reserving room.
        assert_eq!(parse(b"*2147483647\r\n"), Ok(None));
        assert_eq!(parse(b"*2147483647\r\n$1\r\na\r\n"), Ok(None));
        let limits = Limits {
            max_multibulk_len: 2,
            ..Limits::default()
        };
        fails_with(
            b"*3\r\n",
            &limits,
            ProtocolError::InvalidMultibulkLength,
            message,
        );
        assert_eq!(parse_with(b"*2\r\n", &limits), Ok(None));
    }

    #[test]
    fn invalid_bulk_length() {
        let message = "Protocol error: invalid bulk length";
        for input in [
            &b"*1\r\n$-10\r\n"[..],
            b"*1\r\n$-1\r\n",
            b"*1\r\n$abc\r\n",
            b"*1\r\n$\r\n",
            b"*1\r\n$+3\r\n",
            b"*1\r\n$03\r\n",
            b"*1\r\n$536870913\r\n",
            b"*2\r\n$1\r\na\r\n$9223372036854775808\r\n",
        ] {
            fails(input, ProtocolError::InvalidBulkLength, message);
        }
        // proto-max-bulk-len itself is accepted.
        assert_eq!(parse(b"*1\r\n$536870912\r\n"), Ok(None));
        let limits = Limits {
            max_bulk_len: 3,
            ..Limits::default()
        };
        fails_with(
            b"*1\r\n$4\r\nabcd\r\n",
            &limits,
            ProtocolError::InvalidBulkLength,
            message,
        );
        assert_eq!(
            parse_with(b"*1\r\n$3\r\nabc\r\n", &limits),
            Ok(Some((args(&["abc"]), 13)))
        );
    }

    #[test]
    fn expected_dollar() {
        fails(
            b"*1\r\n+foo\r\n",
            ProtocolError::ExpectedDollar(b'+'),
            "Protocol error: expected '$', got '+'",
        );
        fails(
            b"*2\r\n$1\r\na\r\nfoo\r\n",
            ProtocolError::ExpectedDollar(b'f'),
            "Protocol error: expected '$', got 'f'",
        );
        // An empty line: Redis prints the `\r`, then maps it to a space.
        fails(
            b"*1\r\n\r\n",
            ProtocolError::ExpectedDollar(b'\r'),
            "Protocol error: expected '$', got ' '",
        );
        fails(
            b"*1\r\n\xff\r\n",
            ProtocolError::ExpectedDollar(0xff),
            "Protocol error: expected '$', got '\\xff'",
        );
    }

    #[test]
    fn missing_crlf() {
        fails(
            b"*1\r\n$3\rX",
            ProtocolError::LineNotTerminated,
            "Protocol error: line not terminated by CRLF",
        );
        // A lone `\n` ends no line: the count line of `*1\n$3\r\n` is `1\n$3`.
        assert_eq!(
            parse(b"*1\n$3\r\nfoo\r\n"),
            Err(ProtocolError::InvalidMultibulkLength)
        );
        fails(
            b"*1\rX",
            ProtocolError::LineNotTerminated,
            "Protocol error: line not terminated by CRLF",
        );
        fails(
            b"*1\r\n$3\r\nfooXY",
            ProtocolError::BulkNotTerminated,
            "Protocol error: bulk data not terminated by CRLF",
        );
        fails(
            b"*1\r\n$3\r\nfoo\rX",
            ProtocolError::BulkNotTerminated,
            "Protocol error: bulk data not terminated by CRLF",
        );
        fails(
            b"*1\r\n$3\r\nfoo\n\r",
            ProtocolError::BulkNotTerminated,
            "Protocol error: bulk data not terminated by CRLF",
        );
        // Until both bytes after the data are there, the request is only incomplete.
        assert_eq!(parse(b"*1\r\n$3\r\nfooX"), Ok(None));
        assert_eq!(parse(b"*1\r\n$3\r\nfoo\r"), Ok(None));
    }

    #[test]
    fn too_big_count_strings() {
        let limit = Limits::default().max_inline_len;
        let mut count = b"*".to_vec();
        count.resize(limit, b'1');
        assert_eq!(parse(&count), Ok(None));
        count.push(b'1');
        fails(
            &count,
            ProtocolError::TooBigMultibulkCount,
            "Protocol error: too big mbulk count string",
        );

        let mut bulk = b"*1\r\n$".to_vec();
        bulk.resize(4 + limit, b'1');
        assert_eq!(parse(&bulk), Ok(None));
        bulk.push(b'1');
        fails(
            &bulk,
            ProtocolError::TooBigBulkCount,
            "Protocol error: too big bulk count string",
        );

        // A NUL ends Redis's search for the `\r`, so the `\r` after it is not seen.
        let mut with_nul = b"*1\0\r\n".to_vec();
        assert_eq!(parse(&with_nul), Ok(None));
        with_nul.resize(limit + 1, b'x');
        assert_eq!(parse(&with_nul), Err(ProtocolError::TooBigMultibulkCount));
    }

    #[test]
    fn unauthenticated_limits() {
        let limits = Limits {
            unauthenticated: true,
            ..Limits::default()
        };
        fails_with(
            b"*11\r\n",
            &limits,
            ProtocolError::UnauthenticatedMultibulkLength,
            "Protocol error: unauthenticated multibulk length",
        );
        assert_eq!(parse_with(b"*10\r\n", &limits), Ok(None));
        fails_with(
            b"*1\r\n$16385\r\n",
            &limits,
            ProtocolError::UnauthenticatedBulkLength,
            "Protocol error: unauthenticated bulk length",
        );
        assert_eq!(parse_with(b"*1\r\n$16384\r\n", &limits), Ok(None));
        // The invalid-length checks come first, as in Redis.
        fails_with(
            b"*3000000000\r\n",
            &limits,
            ProtocolError::InvalidMultibulkLength,
            "Protocol error: invalid multibulk length",
        );
        // Authenticated, the same requests are fine.
        assert_eq!(parse(b"*11\r\n"), Ok(None));
        assert_eq!(parse(b"*1\r\n$16385\r\n"), Ok(None));
    }

    #[test]
    fn inline_requests() {
        ok(b"PING\r\n", &["PING"]);
        ok(b"PING\n", &["PING"]);
        ok(b"SET  k\tv \r\n", &["SET", "k", "v"]);
        // Empty lines are empty requests.
        ok(b"\r\n", &[]);
        ok(b"\n", &[]);
        ok(b" \t \r\n", &[]);
        // A lone `\r` inside the line separates arguments.
        ok(b"a\rb\n", &["a", "b"]);
        // Vertical tab and form feed are skipped before an argument but belong to one.
        ok(b"\x0bfoo\x0cbar\n", &["foo\x0cbar"]);
        assert_eq!(parse(b"PING"), Ok(None));
        assert_eq!(parse(b"PING\r"), Ok(None));
        assert_eq!(parse(b""), Ok(None));
    }

    #[test]
    fn inline_quotes_and_escapes() {
        ok(b"SET \"a b\" 'c d'\r\n", &["SET", "a b", "c d"]);
        ok(
            b"\"\\x41\\x4a\\n\\r\\t\\b\\a\\\\\\\"\\q\"\n",
            &["AJ\n\r\t\x08\x07\\\"q"],
        );
        ok(b"\"\\xZZ\\x4\"\n", &["xZZx4"]);
        ok(b"'it\\'s' '\\n'\n", &["it's", "\\n"]);
        ok(b"\"\" ''\n", &["", ""]);
        ok(b"a\"b c\"\n", &["ab c"]);
        ok(b"\"a\"\t'b'\x0b\"c\"\n", &["a", "b", "c"]);
        // `\x00` decodes to a NUL inside the argument.
        ok(b"\"a\\x00b\"\n", &["a\0b"]);
    }

    #[test]
    fn unbalanced_quotes() {
        for input in [
            &b"SET \"foo\r\n"[..],
            b"'foo\n",
            b"\"foo\"bar\n",
            b"'foo'bar\n",
            b"\"foo\\\"\n",
            b"\"\\\n",
        ] {
            fails(
                input,
                ProtocolError::UnbalancedQuotes,
                "Protocol error: unbalanced quotes in request",
            );
        }
    }

    #[test]
    fn too_big_inline() {
        let limit = Limits::default().max_inline_len;
        let mut line = vec![b'a'; limit];
        assert_eq!(parse(&line), Ok(None));
        line.push(b'a');
        fails(
            &line,
            ProtocolError::TooBigInline,
            "Protocol error: too big inline request",
        );
        // As in Redis, the bound is on what waits without a newline: a longer line that is
        // already complete is parsed.
        line.push(b'\n');
        assert_eq!(
            parse(&line).map(|p| p.map(|(a, n)| (a.len(), n))),
            Ok(Some((1, limit + 2)))
        );
        // A NUL ends Redis's search for the newline: the line waits, then is refused.
        let mut with_nul = b"PI\0NG\r\n".to_vec();
        assert_eq!(parse(&with_nul), Ok(None));
        with_nul.resize(limit + 1, b' ');
        assert_eq!(parse(&with_nul), Err(ProtocolError::TooBigInline));
    }

    /// Requests of every kind, back to back.
    const PIPELINE: &[u8] = b"*2\r\n$3\r\nGET\r\n$1\r\nk\r\nPING\r\n*0\r\n\
        SET \"a\\x41\" 'b c'\n*3\r\n$3\r\nSET\r\n$2\r\n\r\n\r\n$0\r\n\r\n\r\n*-1\r\nECHO x\n";

    fn pipeline_commands() -> Vec<(Vec<Vec<u8>>, usize)> {
        vec![
            (args(&["GET", "k"]), 20),
            (args(&["PING"]), 26),
            (args(&[]), 30),
            (args(&["SET", "aA", "b c"]), 48),
            (args(&["SET", "\r\n", ""]), 75),
            (args(&[]), 77),
            (args(&[]), 82),
            (args(&["ECHO", "x"]), 89),
        ]
    }

    /// Parses every complete request in `buf`, one after the other; returns them with the
    /// position each ends at.
    fn parse_all(buf: &[u8]) -> Vec<(Vec<Vec<u8>>, usize)> {
        let mut pos = 0;
        let mut parsed = Vec::new();
        while let Some((args, consumed)) = parse(&buf[pos..]).unwrap() {
            assert!(consumed > 0 && pos + consumed <= buf.len());
            pos += consumed;
            parsed.push((args, pos));
        }
        parsed
    }

    #[test]
    fn pipelined_requests() {
        assert_eq!(parse_all(PIPELINE), pipeline_commands());
        assert_eq!(PIPELINE.len(), 89);
    }

    #[test]
    fn pipeline_split_at_every_point() {
        let all = pipeline_commands();
        for split in 0..=PIPELINE.len() {
            let complete: Vec<_> = all
                .iter()
                .filter(|(_, end)| *end <= split)
                .cloned()
                .collect();
            assert_eq!(parse_all(&PIPELINE[..split]), complete, "split at {split}");
        }
    }
}
