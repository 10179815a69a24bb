//! Replies: every form a server sends, in RESP2 or RESP3 as the connection chose (`HELLO`), as
//! Redis 7.0's `addReply*` functions (networking.c) write them.

use crate::double::format_g17;
use crate::int::{Digits, i64_len, write_i64};

/// The protocol version of a connection: RESP2 until `HELLO 3`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Version {
    /// RESP2: no nulls, maps, sets, doubles or booleans of its own; they take RESP2 forms.
    #[default]
    Resp2,
    /// RESP3.
    Resp3,
}

/// Appends replies to a `Vec<u8>`, choosing RESP2 or RESP3 forms.
///
/// Aggregates are written as a header ([`array`](Reply::array), [`map`](Reply::map), ...)
/// followed by their elements, each written by further calls.
#[derive(Debug)]
pub struct Reply<'o> {
    /// Where the replies go.
    pub out: &'o mut Vec<u8>,
    /// Which forms to write.
    pub version: Version,
}

impl Reply<'_> {
    /// `+OK`.
    pub fn ok(&mut self) {
        self.out.extend_from_slice(b"+OK\r\n");
    }

    /// A simple string, `+s`. CR and LF in `s` become spaces, so the reply stays one line.
    pub fn simple(&mut self, s: &[u8]) {
        self.line(b'+', s);
    }

    /// An error, `-s`, where `s` starts with its code: `"ERR syntax error"`,
    /// `"WRONGTYPE Operation against a key holding the wrong kind of value"`. CR and LF become
    /// spaces, as Redis's `addReplyErrorFormat` does.
    pub fn error(&mut self, s: &str) {
        self.line(b'-', s.as_bytes());
    }

    /// An integer, `:n`.
    pub fn integer(&mut self, n: i64) {
        self.out.push(b':');
        write_i64(self.out, n);
        self.crlf();
    }

    /// A bulk string, `$len\r\n` then the bytes.
    pub fn bulk(&mut self, b: &[u8]) {
        self.header(b'$', b.len());
        self.out.extend_from_slice(b);
        self.crlf();
    }

    /// A bulk string holding `n` in decimal (Redis's `addReplyBulkLongLong`).
    pub fn bulk_int(&mut self, n: i64) {
        self.header(b'$', i64_len(n));
        write_i64(self.out, n);
        self.crlf();
    }

    /// The null reply: `$-1` in RESP2, `_` in RESP3.
    pub fn null(&mut self) {
        self.out.extend_from_slice(match self.version {
            Version::Resp2 => b"$-1\r\n",
            Version::Resp3 => b"_\r\n",
        });
    }

    /// The null array: `*-1` in RESP2, `_` in RESP3.
    pub fn null_array(&mut self) {
        self.out.extend_from_slice(match self.version {
            Version::Resp2 => b"*-1\r\n",
            Version::Resp3 => b"_\r\n",
        });
    }

    /// An array header, `*len`; `len` elements follow.
    pub fn array(&mut self, len: usize) {
        self.header(b'*', len);
    }

    /// A map header: `%pairs` in RESP3, `*(2 × pairs)` in RESP2; key, value, key, value follow.
    pub fn map(&mut self, pairs: usize) {
        match self.version {
            Version::Resp2 => self.header(b'*', pairs.saturating_mul(2)),
            Version::Resp3 => self.header(b'%', pairs),
        }
    }

    /// A set header: `~len` in RESP3, `*len` in RESP2.
    pub fn set(&mut self, len: usize) {
        self.header(self.pick(b'~'), len);
    }

    /// A push header (pub/sub messages, invalidations): `>len` in RESP3, `*len` in RESP2.
    pub fn push(&mut self, len: usize) {
        self.header(self.pick(b'>'), len);
    }

    /// A double, exactly as Redis 7.0's `addReplyDouble`: the text of `printf("%.17g")`
    /// (`1.5`, `3`, `0.10000000000000001`, `1e+100`), `inf` and `-inf` for the infinities; as
    /// `,text` in RESP3 and as a bulk string of the same text in RESP2.
    pub fn double(&mut self, d: f64) {
        let text = format_g17(d);
        match self.version {
            Version::Resp2 => self.bulk(text.as_bytes()),
            Version::Resp3 => self.line(b',', text.as_bytes()),
        }
    }

    /// A boolean: `#t`/`#f` in RESP3, `:1`/`:0` in RESP2.
    pub fn boolean(&mut self, b: bool) {
        self.out.extend_from_slice(match (self.version, b) {
            (Version::Resp2, true) => b":1\r\n",
            (Version::Resp2, false) => b":0\r\n",
            (Version::Resp3, true) => b"#t\r\n",
            (Version::Resp3, false) => b"#f\r\n",
        });
    }

    /// A verbatim string: `=len\r\nfmt:text` in RESP3, where `fmt` is the first three bytes of
    /// `format` padded with spaces (`"txt"`, `"mkd"`), as `addReplyVerbatim` does; a bulk string
    /// of `text` in RESP2.
    pub fn verbatim(&mut self, format: &str, text: &[u8]) {
        let mut fmt = [b' '; 3];
        for (slot, &b) in fmt.iter_mut().zip(format.as_bytes()) {
            *slot = b;
        }
        self.verbatim_raw(fmt, text);
    }

    /// A big number, `(digits` in RESP3, a bulk string of the digits in RESP2.
    pub fn big_number(&mut self, digits: &str) {
        self.big_number_raw(digits.as_bytes());
    }

    pub(crate) fn verbatim_raw(&mut self, format: [u8; 3], text: &[u8]) {
        match self.version {
            Version::Resp2 => self.bulk(text),
            Version::Resp3 => {
                self.header(b'=', text.len().saturating_add(4));
                self.out.extend_from_slice(&format);
                self.out.push(b':');
                self.out.extend_from_slice(text);
                self.crlf();
            }
        }
    }

    pub(crate) fn big_number_raw(&mut self, digits: &[u8]) {
        match self.version {
            Version::Resp2 => self.bulk(digits),
            Version::Resp3 => self.line(b'(', digits),
        }
    }

    pub(crate) fn error_raw(&mut self, s: &[u8]) {
        self.line(b'-', s);
    }

    /// A length-prefixed header such as `*3` or `$5`.
    pub(crate) fn header(&mut self, prefix: u8, len: usize) {
        self.out.push(prefix);
        // A `usize` always fits in a `u64` on the targets Rust supports.
        self.out
            .extend_from_slice(Digits::new(len as u64).as_bytes());
        self.crlf();
    }

    /// `prefix` in RESP3, `*` in RESP2.
    fn pick(&self, prefix: u8) -> u8 {
        match self.version {
            Version::Resp2 => b'*',
            Version::Resp3 => prefix,
        }
    }

    /// `prefix`, `s` with CR and LF turned into spaces, CRLF.
    fn line(&mut self, prefix: u8, s: &[u8]) {
        self.out.push(prefix);
        self.out.extend(s.iter().map(|&b| match b {
            b'\r' | b'\n' => b' ',
            _ => b,
        }));
        self.crlf();
    }

    fn crlf(&mut self) {
        self.out.extend_from_slice(b"\r\n");
    }
}

/// Writes a request as a RESP array of bulk strings, as clients send commands.
pub fn encode_command(out: &mut Vec<u8>, args: &[&[u8]]) {
    let mut reply = Reply {
        out,
        version: Version::Resp2,
    };
    reply.array(args.len());
    for arg in args {
        reply.bulk(arg);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn both(write: impl Fn(&mut Reply<'_>)) -> (String, String) {
        let text = |version| {
            let mut out = Vec::new();
            write(&mut Reply {
                out: &mut out,
                version,
            });
            String::from_utf8(out).unwrap()
        };
        (text(Version::Resp2), text(Version::Resp3))
    }

    fn same(write: impl Fn(&mut Reply<'_>), expected: &str) {
        assert_eq!(both(write), (expected.to_owned(), expected.to_owned()));
    }

    fn differ(write: impl Fn(&mut Reply<'_>), resp2: &str, resp3: &str) {
        assert_eq!(both(write), (resp2.to_owned(), resp3.to_owned()));
    }

    #[test]
    fn forms_shared_by_both_versions() {
        same(|r| r.ok(), "+OK\r\n");
        same(|r| r.simple(b"PONG"), "+PONG\r\n");
        same(|r| r.simple(b"a\r\nb"), "+a  b\r\n");
        same(|r| r.error("ERR syntax error"), "-ERR syntax error\r\n");
        same(|r| r.error("ERR bad\nthing\r"), "-ERR bad thing \r\n");
        same(|r| r.integer(0), ":0\r\n");
        same(|r| r.integer(-42), ":-42\r\n");
        same(|r| r.integer(i64::MIN), ":-9223372036854775808\r\n");
        same(|r| r.bulk(b""), "$0\r\n\r\n");
        same(|r| r.bulk(b"a\r\nb"), "$4\r\na\r\nb\r\n");
        same(|r| r.bulk_int(-1234), "$5\r\n-1234\r\n");
        same(|r| r.bulk_int(0), "$1\r\n0\r\n");
        same(|r| r.array(3), "*3\r\n");
        same(|r| r.array(0), "*0\r\n");
    }

    #[test]
    fn forms_that_differ_between_versions() {
        differ(|r| r.null(), "$-1\r\n", "_\r\n");
        differ(|r| r.null_array(), "*-1\r\n", "_\r\n");
        differ(|r| r.map(2), "*4\r\n", "%2\r\n");
        differ(|r| r.set(3), "*3\r\n", "~3\r\n");
        differ(|r| r.push(3), "*3\r\n", ">3\r\n");
        differ(|r| r.boolean(true), ":1\r\n", "#t\r\n");
        differ(|r| r.boolean(false), ":0\r\n", "#f\r\n");
        differ(
            |r| r.verbatim("txt", b"hello"),
            "$5\r\nhello\r\n",
            "=9\r\ntxt:hello\r\n",
        );
        differ(
            |r| r.verbatim("md", b"# x"),
            "$3\r\n# x\r\n",
            "=7\r\nmd :# x\r\n",
        );
        differ(
            |r| r.big_number("-12345678901234567890"),
            "$21\r\n-12345678901234567890\r\n",
            "(-12345678901234567890\r\n",
        );
    }

    #[test]
    fn doubles_as_add_reply_double() {
        differ(|r| r.double(1.5), "$3\r\n1.5\r\n", ",1.5\r\n");
        differ(|r| r.double(3.0), "$1\r\n3\r\n", ",3\r\n");
        differ(
            |r| r.double(0.1),
            "$19\r\n0.10000000000000001\r\n",
            ",0.10000000000000001\r\n",
        );
        differ(|r| r.double(f64::INFINITY), "$3\r\ninf\r\n", ",inf\r\n");
        differ(
            |r| r.double(f64::NEG_INFINITY),
            "$4\r\n-inf\r\n",
            ",-inf\r\n",
        );
        differ(|r| r.double(1e100), "$6\r\n1e+100\r\n", ",1e+100\r\n");
    }

    #[test]
    fn encode_command_writes_an_array_of_bulks() {
        let mut out = Vec::new();
        encode_command(&mut out, &[b"SET", b"k", b""]);
        assert_eq!(out, b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$0\r\n\r\n");
        out.clear();
        encode_command(&mut out, &[]);
        assert_eq!(out, b"*0\r\n");
    }
}
