//! Frames: any RESP2 or RESP3 value, owned, as a client reads replies (tests, the library's
//! remote tier).

use crate::int::parse_i64;
use crate::reply::{Reply, Version};

/// How deeply aggregates may nest in a frame [`parse_frame`] accepts; an attribute's value
/// counts as one level below the attribute.
pub const MAX_DEPTH: usize = 128;

/// The most elements [`parse_frame`] reserves room for before it has seen them; a longer
/// aggregate grows as it is filled.
const PREALLOCATE_MAX: usize = 1024;

/// The bytes that start a frame.
const TYPE_BYTES: &[u8] = b"+-:$_,#(!=*~>%|";

/// An owned RESP2/RESP3 value.
#[derive(Clone, Debug, PartialEq)]
pub enum Frame {
    /// `+text`.
    Simple(Vec<u8>),
    /// `-CODE message`.
    Error(Vec<u8>),
    /// `:n`.
    Integer(i64),
    /// `$len` and the bytes.
    Bulk(Vec<u8>),
    /// RESP3 `_`, or RESP2's null bulk string `$-1`.
    Null,
    /// `*len` and the elements.
    Array(Vec<Frame>),
    /// RESP2's null array `*-1`.
    NullArray,
    /// RESP3 `%pairs`, keys and values alternating.
    Map(Vec<(Frame, Frame)>),
    /// RESP3 `~len`.
    Set(Vec<Frame>),
    /// RESP3 `>len`: out-of-band data (pub/sub messages, invalidations).
    Push(Vec<Frame>),
    /// RESP3 `,text`.
    Double(f64),
    /// RESP3 `#t` or `#f`.
    Boolean(bool),
    /// RESP3 `=len` then `fmt:text`.
    Verbatim {
        /// The three-byte format, such as `txt` or `mkd`.
        format: [u8; 3],
        /// The text after the colon.
        text: Vec<u8>,
    },
    /// RESP3 `(digits`.
    BigNumber(Vec<u8>),
    /// RESP3 `!len` and the bytes: an error that may hold any byte.
    BulkError(Vec<u8>),
    /// RESP3 `|pairs`: attributes, then the value they describe.
    Attribute {
        /// The attributes, keys and values alternating.
        attributes: Vec<(Frame, Frame)>,
        /// The value that follows them.
        value: Box<Frame>,
    },
}

/// Why [`parse_frame`] refused its input.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FrameError {
    /// The first byte names no RESP type (RESP3's streamed strings and aggregates, `$?` and
    /// `*?`, are not supported either; they fail as [`FrameError::InvalidLength`]).
    #[error("unknown RESP type byte 0x{0:02x}")]
    UnknownType(u8),
    /// A `\r` not followed by `\n`, or bulk data not followed by `\r\n`.
    #[error("line not terminated by CRLF")]
    MissingCrlf,
    /// A length or count that is not an integer, is below -1, or is -1 where no null is allowed.
    #[error("invalid length")]
    InvalidLength,
    /// An integer frame whose text is not an `i64` in Redis's form.
    #[error("invalid integer")]
    InvalidInteger,
    /// A double frame whose text is not a number.
    #[error("invalid double")]
    InvalidDouble,
    /// A boolean frame other than `#t` or `#f`.
    #[error("invalid boolean")]
    InvalidBoolean,
    /// A big number that is not an optional sign and digits.
    #[error("invalid big number")]
    InvalidBigNumber,
    /// A verbatim string shorter than 4 bytes or without `:` after its format.
    #[error("invalid verbatim string")]
    InvalidVerbatim,
    /// Aggregates nested deeper than [`MAX_DEPTH`].
    #[error("aggregates nested deeper than {MAX_DEPTH}")]
    TooDeep,
}

/// Parses one frame at the start of `buf`.
///
/// `Ok(None)`: incomplete, read more. `Ok(Some((frame, consumed)))`: a frame of `consumed`
/// bytes. Two phases: a check pass walks the whole frame without building anything, so
/// incomplete input allocates nothing whatever lengths it declares; then the frame is built.
pub fn parse_frame(buf: &[u8]) -> Result<Option<(Frame, usize)>, FrameError> {
    if walk(buf, 0, 0, &mut Check)?.is_none() {
        return Ok(None);
    }
    walk(buf, 0, 0, &mut Build)
}

/// Finds where one frame ends in a buffer that grows between calls, resuming where the last call
/// stopped, so that a large reply arriving in many reads is walked once instead of once per read
/// (which [`parse_frame`] on the whole buffer after every read would do: quadratic time).
///
/// It applies exactly [`parse_frame`]'s checks in the same order, so on any input it answers as
/// `parse_frame` would (incomplete, the frame's length, or the same error);
/// [`FrameScanner::next_frame`] then builds the frame from those bytes. Its memory is one counter
/// per open aggregate (at most [`MAX_DEPTH`]). An incomplete line is re-read on the next call, so
/// a single huge simple string or error line is still scanned once per call.
#[derive(Debug, Default, Clone)]
pub struct FrameScanner {
    /// Where the next element starts, from the frame's first byte.
    pos: usize,
    /// Elements still due in each open aggregate, outermost first.
    open: Vec<usize>,
}

impl FrameScanner {
    /// A scanner at the start of a frame.
    pub fn new() -> Self {
        Self::default()
    }

    /// Scans `buf`, which starts at the frame's first byte and holds at least what it held at the
    /// previous call. `Ok(None)`: incomplete, call again with more. `Ok(Some(len))`: the frame is
    /// the first `len` bytes, and the scanner is ready for the next frame (at `buf[len..]`).
    pub fn scan(&mut self, buf: &[u8]) -> Result<Option<usize>, FrameError> {
        loop {
            let Some(after) = self.element(buf)? else {
                return Ok(None);
            };
            self.pos = after;
            // The element ended: count it in its aggregate, closing those it completes.
            loop {
                match self.open.last_mut() {
                    None => {
                        *self = Self::default();
                        return Ok(Some(after));
                    }
                    Some(due) if *due > 1 => {
                        *due -= 1;
                        break;
                    }
                    Some(_) => {
                        self.open.pop();
                    }
                }
            }
        }
    }

    /// The next frame of `buf` (same contract as [`FrameScanner::scan`]), built once its end has
    /// been found: the frame and its length, `Ok(None)` while incomplete. The bytes are scanned
    /// once and built once, whatever the number of calls it took them to arrive.
    pub fn next_frame(&mut self, buf: &[u8]) -> Result<Option<(Frame, usize)>, FrameError> {
        let Some(len) = self.scan(buf)? else {
            return Ok(None);
        };
        // The scan applied every check the build does, so the build finds the same whole frame.
        walk(&buf[..len], 0, 0, &mut Build)
    }

    /// Reads the element at `self.pos`: the position after it when it is a complete leaf or an
    /// empty aggregate; otherwise an aggregate with elements is opened (and its first element is
    /// scanned next) or `Ok(None)` says the element is incomplete.
    fn element(&mut self, buf: &[u8]) -> Result<Option<usize>, FrameError> {
        loop {
            match open(buf, self.pos, self.open.len(), &mut Check)? {
                None => return Ok(None),
                Some(Opened::Whole((), after)) => return Ok(Some(after)),
                Some(Opened::Aggregate { count: 0, next, .. }) => return Ok(Some(next)),
                Some(Opened::Aggregate { count, next, .. }) => {
                    self.open.push(count);
                    self.pos = next;
                }
            }
        }
    }
}

/// Writes `frame` in `version`'s forms, as the server's [`Reply`] would: RESP3-only types take
/// their RESP2 forms under [`Version::Resp2`] (a map becomes a flat array, a double a bulk
/// string, a bulk error a simple error, attributes are dropped), and [`Frame::NullArray`]
/// becomes `_` under RESP3.
pub fn encode_frame(out: &mut Vec<u8>, frame: &Frame, version: Version) {
    let mut reply = Reply { out, version };
    encode(&mut reply, frame);
}

fn encode(reply: &mut Reply<'_>, frame: &Frame) {
    match frame {
        Frame::Simple(s) => reply.simple(s),
        Frame::Error(s) => reply.error_raw(s),
        Frame::Integer(n) => reply.integer(*n),
        Frame::Bulk(b) => reply.bulk(b),
        Frame::Null => reply.null(),
        Frame::NullArray => reply.null_array(),
        Frame::Array(items) => {
            reply.array(items.len());
            items.iter().for_each(|item| encode(reply, item));
        }
        Frame::Set(items) => {
            reply.set(items.len());
            items.iter().for_each(|item| encode(reply, item));
        }
        Frame::Push(items) => {
            reply.push(items.len());
            items.iter().for_each(|item| encode(reply, item));
        }
        Frame::Map(pairs) => {
            reply.map(pairs.len());
            encode_pairs(reply, pairs);
        }
        Frame::Double(d) => reply.double(*d),
        Frame::Boolean(b) => reply.boolean(*b),
        Frame::Verbatim { format, text } => reply.verbatim_raw(*format, text),
        Frame::BigNumber(digits) => reply.big_number_raw(digits),
        Frame::BulkError(s) => match reply.version {
            Version::Resp2 => reply.error_raw(s),
            Version::Resp3 => {
                reply.header(b'!', s.len());
                reply.out.extend_from_slice(s);
                reply.out.extend_from_slice(b"\r\n");
            }
        },
        Frame::Attribute { attributes, value } => {
            if reply.version == Version::Resp3 {
                reply.header(b'|', attributes.len());
                encode_pairs(reply, attributes);
            }
            encode(reply, value);
        }
    }
}

fn encode_pairs(reply: &mut Reply<'_>, pairs: &[(Frame, Frame)]) {
    for (key, value) in pairs {
        encode(reply, key);
        encode(reply, value);
    }
}

/// A frame that holds no other frame, borrowing the input.
enum Leaf<'b> {
    Simple(&'b [u8]),
    Error(&'b [u8]),
    Integer(i64),
    Bulk(&'b [u8]),
    Null,
    NullArray,
    Double(f64),
    Boolean(bool),
    Verbatim([u8; 3], &'b [u8]),
    BigNumber(&'b [u8]),
    BulkError(&'b [u8]),
}

/// The aggregate types.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Array,
    Set,
    Push,
    Map,
    Attribute,
}

/// What a walk does with what it finds: [`Check`] nothing, [`Build`] frames.
trait Visit {
    /// What a walked frame becomes.
    type Out;
    fn leaf(&mut self, leaf: Leaf<'_>) -> Self::Out;
    /// `items` holds the elements, or for maps and attributes keys and values alternating, and
    /// for an attribute its value last.
    fn aggregate(&mut self, kind: Kind, items: Vec<Self::Out>) -> Self::Out;
}

/// The check pass. Its items are `()`, and a `Vec<()>` never allocates.
struct Check;

impl Visit for Check {
    type Out = ();
    fn leaf(&mut self, _: Leaf<'_>) {}
    fn aggregate(&mut self, _: Kind, _: Vec<()>) {}
}

/// The building pass.
struct Build;

impl Visit for Build {
    type Out = Frame;

    fn leaf(&mut self, leaf: Leaf<'_>) -> Frame {
        match leaf {
            Leaf::Simple(s) => Frame::Simple(s.to_vec()),
            Leaf::Error(s) => Frame::Error(s.to_vec()),
            Leaf::Integer(n) => Frame::Integer(n),
            Leaf::Bulk(b) => Frame::Bulk(b.to_vec()),
            Leaf::Null => Frame::Null,
            Leaf::NullArray => Frame::NullArray,
            Leaf::Double(d) => Frame::Double(d),
            Leaf::Boolean(b) => Frame::Boolean(b),
            Leaf::Verbatim(format, text) => Frame::Verbatim {
                format,
                text: text.to_vec(),
            },
            Leaf::BigNumber(digits) => Frame::BigNumber(digits.to_vec()),
            Leaf::BulkError(s) => Frame::BulkError(s.to_vec()),
        }
    }

    fn aggregate(&mut self, kind: Kind, mut items: Vec<Frame>) -> Frame {
        match kind {
            Kind::Array => Frame::Array(items),
            Kind::Set => Frame::Set(items),
            Kind::Push => Frame::Push(items),
            Kind::Map => Frame::Map(pairs(items)),
            Kind::Attribute => {
                // The walk always puts the value last; `Null` only keeps this total.
                let value = Box::new(items.pop().unwrap_or(Frame::Null));
                Frame::Attribute {
                    attributes: pairs(items),
                    value,
                }
            }
        }
    }
}

/// Pairs up alternating keys and values.
fn pairs(items: Vec<Frame>) -> Vec<(Frame, Frame)> {
    let mut pairs = Vec::with_capacity(items.len() / 2);
    let mut items = items.into_iter();
    while let (Some(key), Some(value)) = (items.next(), items.next()) {
        pairs.push((key, value));
    }
    pairs
}

/// Walks the frame at `pos`, `depth` aggregates deep. `Ok(None)` when incomplete; otherwise
/// what `visit` made of it and the position after it.
fn walk<V: Visit>(
    buf: &[u8],
    pos: usize,
    depth: usize,
    visit: &mut V,
) -> Result<Option<(V::Out, usize)>, FrameError> {
    let (kind, count, next) = match open(buf, pos, depth, visit)? {
        None => return Ok(None),
        Some(Opened::Whole(out, after)) => return Ok(Some((out, after))),
        Some(Opened::Aggregate { kind, count, next }) => (kind, count, next),
    };
    let mut items = Vec::with_capacity(count.min(PREALLOCATE_MAX));
    let mut pos = next;
    // Each element spans at least three bytes, so a count beyond the input ends in `Ok(None)`
    // after as many rounds as the input allows.
    for _ in 0..count {
        let Some((item, after)) = walk(buf, pos, depth + 1, visit)? else {
            return Ok(None);
        };
        items.push(item);
        pos = after;
    }
    Ok(Some((visit.aggregate(kind, items), pos)))
}

/// What the line at `pos` starts.
enum Opened<O> {
    /// A whole frame (a leaf or a null array) and the position after it.
    Whole(O, usize),
    /// An aggregate of `count` elements (keys and values counted apart; an attribute's value
    /// last), the first at `next`.
    Aggregate {
        kind: Kind,
        count: usize,
        next: usize,
    },
}

/// Reads the line at `pos`, `depth` aggregates deep: the leaf it holds (through `visit`) or the
/// aggregate it opens. `Ok(None)` when incomplete.
fn open<V: Visit>(
    buf: &[u8],
    pos: usize,
    depth: usize,
    visit: &mut V,
) -> Result<Option<Opened<V::Out>>, FrameError> {
    let Some(&kind) = buf.get(pos) else {
        return Ok(None);
    };
    if !TYPE_BYTES.contains(&kind) {
        return Err(FrameError::UnknownType(kind));
    }
    let Some(cr) = find_cr(buf, pos)? else {
        return Ok(None);
    };
    let text = &buf[pos + 1..cr];
    let next = cr + 2;
    let kind = match kind {
        b'*' => Kind::Array,
        b'~' => Kind::Set,
        b'>' => Kind::Push,
        b'%' => Kind::Map,
        b'|' => Kind::Attribute,
        _ => {
            let whole = leaf(buf, kind, text, next, visit)?;
            return Ok(whole.map(|(out, after)| Opened::Whole(out, after)));
        }
    };
    let len = match (kind, parse_i64(text)) {
        (Kind::Array, Some(-1)) => {
            return Ok(Some(Opened::Whole(visit.leaf(Leaf::NullArray), next)));
        }
        (_, Some(len)) => usize::try_from(len).map_err(|_| FrameError::InvalidLength)?,
        (_, None) => return Err(FrameError::InvalidLength),
    };
    if depth >= MAX_DEPTH {
        return Err(FrameError::TooDeep);
    }
    let count = match kind {
        Kind::Map => len.saturating_mul(2),
        Kind::Attribute => len.saturating_mul(2).saturating_add(1),
        _ => len,
    };
    Ok(Some(Opened::Aggregate { kind, count, next }))
}

/// A frame that holds no other: `kind` is its type byte, `text` its first line after that
/// byte, `next` the position after that line.
fn leaf<V: Visit>(
    buf: &[u8],
    kind: u8,
    text: &[u8],
    next: usize,
    visit: &mut V,
) -> Result<Option<(V::Out, usize)>, FrameError> {
    let leaf = match kind {
        b'+' => Leaf::Simple(text),
        b'-' => Leaf::Error(text),
        b':' => Leaf::Integer(parse_i64(text).ok_or(FrameError::InvalidInteger)?),
        b'_' if text.is_empty() => Leaf::Null,
        b'_' => return Err(FrameError::InvalidLength),
        b',' => Leaf::Double(parse_double(text)?),
        b'#' => Leaf::Boolean(match text {
            b"t" => true,
            b"f" => false,
            _ => return Err(FrameError::InvalidBoolean),
        }),
        b'(' => Leaf::BigNumber(check_big_number(text)?),
        b'$' | b'!' | b'=' => {
            let len = parse_i64(text).ok_or(FrameError::InvalidLength)?;
            if kind == b'$' && len == -1 {
                return Ok(Some((visit.leaf(Leaf::Null), next)));
            }
            let len = usize::try_from(len).map_err(|_| FrameError::InvalidLength)?;
            let Some(end) = next.checked_add(len) else {
                return Err(FrameError::InvalidLength);
            };
            let data = match buf.get(end..end.saturating_add(2)) {
                None => return Ok(None),
                Some(b"\r\n") => &buf[next..end],
                Some(_) => return Err(FrameError::MissingCrlf),
            };
            let leaf = match (kind, data) {
                (b'$', _) => Leaf::Bulk(data),
                (b'!', _) => Leaf::BulkError(data),
                (_, [a, b, c, b':', text @ ..]) => Leaf::Verbatim([*a, *b, *c], text),
                _ => return Err(FrameError::InvalidVerbatim),
            };
            return Ok(Some((visit.leaf(leaf), end + 2)));
        }
        _ => return Err(FrameError::UnknownType(kind)),
    };
    Ok(Some((visit.leaf(leaf), next)))
}

/// The `\r` ending the line that starts at `pos`; `Ok(None)` until the `\n` after it arrived.
fn find_cr(buf: &[u8], pos: usize) -> Result<Option<usize>, FrameError> {
    let Some(cr) = buf[pos..].iter().position(|&b| b == b'\r') else {
        return Ok(None);
    };
    match buf.get(pos + cr + 1) {
        None => Ok(None),
        Some(b'\n') => Ok(Some(pos + cr)),
        Some(_) => Err(FrameError::MissingCrlf),
    }
}

/// A double's text: anything Rust's `f64` parser takes (`1.5`, `-3`, `1e+100`, `inf`, `-inf`,
/// `nan`, `-nan`).
fn parse_double(text: &[u8]) -> Result<f64, FrameError> {
    std::str::from_utf8(text)
        .ok()
        .and_then(|s| s.parse().ok())
        .ok_or(FrameError::InvalidDouble)
}

/// A big number's text: an optional sign and at least one digit.
fn check_big_number(text: &[u8]) -> Result<&[u8], FrameError> {
    let digits = match text.split_first() {
        Some((b'-' | b'+', rest)) => rest,
        _ => text,
    };
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        return Err(FrameError::InvalidBigNumber);
    }
    Ok(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(input: &[u8]) -> Result<Option<(Frame, usize)>, FrameError> {
        parse_frame(input)
    }

    fn complete(input: &[u8]) -> Frame {
        let (frame, consumed) = parse(input).unwrap().unwrap();
        assert_eq!(consumed, input.len());
        frame
    }

    fn bytes(s: &str) -> Vec<u8> {
        s.as_bytes().to_vec()
    }

    #[test]
    fn every_type() {
        assert_eq!(complete(b"+OK\r\n"), Frame::Simple(bytes("OK")));
        assert_eq!(complete(b"-ERR x\r\n"), Frame::Error(bytes("ERR x")));
        assert_eq!(complete(b":-7\r\n"), Frame::Integer(-7));
        assert_eq!(complete(b"$3\r\na\r\n\r\n"), Frame::Bulk(bytes("a\r\n")));
        assert_eq!(complete(b"$-1\r\n"), Frame::Null);
        assert_eq!(complete(b"_\r\n"), Frame::Null);
        assert_eq!(complete(b"*-1\r\n"), Frame::NullArray);
        assert_eq!(
            complete(b"*2\r\n:1\r\n$-1\r\n"),
            Frame::Array(vec![Frame::Integer(1), Frame::Null])
        );
        assert_eq!(
            complete(b"%1\r\n+k\r\n#t\r\n"),
            Frame::Map(vec![(Frame::Simple(bytes("k")), Frame::Boolean(true))])
        );
        assert_eq!(
            complete(b"~1\r\n#f\r\n"),
            Frame::Set(vec![Frame::Boolean(false)])
        );
        assert_eq!(
            complete(b">1\r\n:1\r\n"),
            Frame::Push(vec![Frame::Integer(1)])
        );
        assert_eq!(complete(b",1.5\r\n"), Frame::Double(1.5));
        assert_eq!(complete(b",-inf\r\n"), Frame::Double(f64::NEG_INFINITY));
        assert!(matches!(complete(b",nan\r\n"), Frame::Double(d) if d.is_nan()));
        assert_eq!(
            complete(b"=9\r\ntxt:hello\r\n"),
            Frame::Verbatim {
                format: *b"txt",
                text: bytes("hello")
            }
        );
        assert_eq!(complete(b"(-123\r\n"), Frame::BigNumber(bytes("-123")));
        assert_eq!(complete(b"!3\r\nE\rx\r\n"), Frame::BulkError(bytes("E\rx")));
        assert_eq!(
            complete(b"|1\r\n+ttl\r\n:3\r\n$1\r\nv\r\n"),
            Frame::Attribute {
                attributes: vec![(Frame::Simple(bytes("ttl")), Frame::Integer(3))],
                value: Box::new(Frame::Bulk(bytes("v"))),
            }
        );
    }

    #[test]
    fn incomplete_at_every_split_point() {
        let input =
            b"*3\r\n$3\r\nfoo\r\n%1\r\n+a\r\n,2.5\r\n|1\r\n+x\r\n+y\r\n=6\r\ntxt:ab\r\n+next";
        let end = input.len() - b"+next".len();
        let expected = complete(&input[..end]);
        for split in 0..end {
            assert_eq!(parse(&input[..split]), Ok(None), "split at {split}");
        }
        assert_eq!(parse(input), Ok(Some((expected, end))));
    }

    #[test]
    fn errors() {
        for (input, error) in [
            (&b"?\r\n"[..], FrameError::UnknownType(b'?')),
            (b"+a\rb\r\n", FrameError::MissingCrlf),
            (b"$1\r\nab\r\n", FrameError::MissingCrlf),
            (b"$-2\r\n", FrameError::InvalidLength),
            (b"$x\r\n", FrameError::InvalidLength),
            (b"$?\r\n", FrameError::InvalidLength),
            (b"%-1\r\n", FrameError::InvalidLength),
            (b"!-1\r\n", FrameError::InvalidLength),
            (b"_x\r\n", FrameError::InvalidLength),
            (b":+1\r\n", FrameError::InvalidInteger),
            (b",one\r\n", FrameError::InvalidDouble),
            (b"#x\r\n", FrameError::InvalidBoolean),
            (b"(12a\r\n", FrameError::InvalidBigNumber),
            (b"(\r\n", FrameError::InvalidBigNumber),
            (b"=3\r\ntxt\r\n", FrameError::InvalidVerbatim),
            (b"=4\r\ntxtx\r\n", FrameError::InvalidVerbatim),
        ] {
            assert_eq!(parse(input), Err(error), "{}", input.escape_ascii());
        }
    }

    #[test]
    fn nesting_is_bounded() {
        let nested = |depth: usize| {
            let mut input = b"*1\r\n".repeat(depth);
            input.extend_from_slice(b":1\r\n");
            input
        };
        assert!(matches!(parse(&nested(MAX_DEPTH)), Ok(Some(_))));
        assert_eq!(parse(&nested(MAX_DEPTH + 1)), Err(FrameError::TooDeep));
        // Attributes nest through their values too.
        let mut chain = b"|0\r\n".repeat(MAX_DEPTH + 1);
        chain.extend_from_slice(b":1\r\n");
        assert_eq!(parse(&chain), Err(FrameError::TooDeep));
        // The bound holds before the input is complete.
        assert_eq!(
            parse(&b"*1\r\n".repeat(MAX_DEPTH + 1)),
            Err(FrameError::TooDeep)
        );
    }

    #[test]
    fn huge_declared_lengths_wait_without_allocating() {
        assert_eq!(parse(b"*2147483647\r\n:1\r\n"), Ok(None));
        assert_eq!(parse(b"%9223372036854775807\r\n"), Ok(None));
        assert_eq!(parse(b"$9223372036854775807\r\nabc"), Ok(None));
    }

    #[test]
    fn encodes_resp2_forms() {
        let frame = Frame::Array(vec![
            Frame::Map(vec![(Frame::Simple(bytes("k")), Frame::Double(0.1))]),
            Frame::Boolean(true),
            Frame::BulkError(bytes("ERR x")),
            Frame::Attribute {
                attributes: vec![(Frame::Null, Frame::Null)],
                value: Box::new(Frame::Null),
            },
            Frame::NullArray,
        ]);
        let mut out = Vec::new();
        encode_frame(&mut out, &frame, Version::Resp2);
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "*5\r\n*2\r\n+k\r\n$19\r\n0.10000000000000001\r\n:1\r\n-ERR x\r\n$-1\r\n*-1\r\n"
        );
    }
}
