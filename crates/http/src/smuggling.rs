//! Request-smuggling guard: finds requests that carry both `Content-Length` and
//! `Transfer-Encoding`.
//!
//! RFC 9112 §6.3: "If a message is received with both a Transfer-Encoding and a Content-Length
//! header field, the Transfer-Encoding overrides the Content-Length. Such a message might
//! indicate an attempt to perform request smuggling (Section 11.2) or response splitting
//! (Section 11.1) and ought to be handled as an error." hyper lets Transfer-Encoding win and
//! drops Content-Length before the service sees the request, so the conflict is detected here,
//! on the raw bytes: [`Scanned`] wraps a client connection and feeds what is read to a
//! [`Scanner`] that follows message framing (heads, Content-Length bodies, chunked bodies) and
//! records the index of the first conflicting request. The proxy answers that request 400 and
//! closes the connection. The scanner's memory is bounded by the header limit.

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{Context, Poll};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// No conflict seen (yet).
const NONE: usize = usize::MAX;

/// Where in the byte stream the scanner is.
#[derive(Debug)]
enum State {
    /// Reading a request head.
    Head(Vec<u8>),
    /// Skipping this many body bytes.
    Body(u64),
    /// Reading a chunk-size line.
    ChunkSize(Vec<u8>),
    /// Skipping chunk data plus its CRLF.
    ChunkData(u64),
    /// Reading trailer lines; the flag says whether the current line has content.
    Trailers(Vec<u8>),
    /// Stopped: a conflict was found, or the stream is malformed (hyper rejects it).
    Done,
}

/// Follows request framing over a connection's bytes.
#[derive(Debug)]
pub struct Scanner {
    state: State,
    index: usize,
    max_head: usize,
    conflict: Arc<AtomicUsize>,
}

impl Scanner {
    /// A scanner for heads of at most `max_head` bytes, reporting into `conflict`.
    pub fn new(max_head: usize, conflict: Arc<AtomicUsize>) -> Self {
        Self {
            state: State::Head(Vec::new()),
            index: 0,
            max_head,
            conflict,
        }
    }

    /// Feeds bytes read from the client.
    pub fn feed(&mut self, mut bytes: &[u8]) {
        while !bytes.is_empty() {
            match &mut self.state {
                State::Done => return,
                State::Head(buf) => {
                    let (line_done, used) = take_until_blank_line(buf, bytes);
                    bytes = &bytes[used..];
                    if buf.len() > self.max_head {
                        self.state = State::Done;
                    } else if line_done {
                        let head = std::mem::take(buf);
                        self.end_of_head(&head);
                    }
                }
                State::Body(n) => {
                    let skip = (*n).min(bytes.len() as u64);
                    *n -= skip;
                    bytes = &bytes[skip as usize..];
                    if *n == 0 {
                        self.next_request();
                    }
                }
                State::ChunkSize(line) => {
                    let Some(end) = bytes.iter().position(|&b| b == b'\n') else {
                        line.extend_from_slice(bytes);
                        if line.len() > 1024 {
                            self.state = State::Done;
                        }
                        return;
                    };
                    line.extend_from_slice(&bytes[..end]);
                    bytes = &bytes[end + 1..];
                    let text = String::from_utf8_lossy(line);
                    let size = text.split(';').next().unwrap_or("").trim();
                    self.state = match u64::from_str_radix(size, 16) {
                        Ok(0) => State::Trailers(Vec::new()),
                        Ok(n) => State::ChunkData(n.saturating_add(2)),
                        Err(_) => State::Done,
                    };
                }
                State::ChunkData(n) => {
                    let skip = (*n).min(bytes.len() as u64);
                    *n -= skip;
                    bytes = &bytes[skip as usize..];
                    if *n == 0 {
                        self.state = State::ChunkSize(Vec::new());
                    }
                }
                State::Trailers(line) => {
                    let Some(end) = bytes.iter().position(|&b| b == b'\n') else {
                        line.extend_from_slice(bytes);
                        if line.len() > self.max_head {
                            self.state = State::Done;
                        }
                        return;
                    };
                    line.extend_from_slice(&bytes[..end]);
                    bytes = &bytes[end + 1..];
                    if line.iter().all(|&b| b == b'\r') {
                        self.next_request();
                    } else {
                        line.clear();
                    }
                }
            }
        }
    }

    fn next_request(&mut self) {
        self.index += 1;
        self.state = State::Head(Vec::new());
    }

    /// Decides the framing of the body that follows a complete head.
    fn end_of_head(&mut self, head: &[u8]) {
        // An HTTP/2 connection preface: binary frames follow, framed by HTTP/2 itself.
        if head.starts_with(b"PRI * HTTP/2.0") {
            self.state = State::Done;
            return;
        }
        let text = String::from_utf8_lossy(head);
        let (mut length, mut chunked, mut te) = (None, false, false);
        for line in text.split('\n').skip(1) {
            let Some((name, value)) = line.split_once(':') else {
                continue;
            };
            let name = name.trim().to_ascii_lowercase();
            if name == "content-length" {
                length = value.trim().parse::<u64>().ok().or(Some(0));
            } else if name == "transfer-encoding" {
                te = true;
                chunked = value.trim().to_ascii_lowercase().ends_with("chunked");
            }
        }
        if te && length.is_some() {
            let _ = self.conflict.compare_exchange(
                NONE,
                self.index,
                Ordering::AcqRel,
                Ordering::Acquire,
            );
            self.state = State::Done;
        } else if te && chunked {
            self.state = State::ChunkSize(Vec::new());
        } else if te {
            self.state = State::Done;
        } else {
            match length {
                Some(n) if n > 0 => self.state = State::Body(n),
                _ => self.next_request(),
            }
        }
    }
}

/// Appends from `bytes` to `buf` up to and including the blank line that ends a head (leading
/// empty lines before a request are skipped). Returns whether the head is complete and how many
/// bytes were used.
fn take_until_blank_line(buf: &mut Vec<u8>, bytes: &[u8]) -> (bool, usize) {
    for (i, &b) in bytes.iter().enumerate() {
        if buf.is_empty() && (b == b'\r' || b == b'\n') {
            continue;
        }
        buf.push(b);
        if buf.ends_with(b"\r\n\r\n") || buf.ends_with(b"\n\n") {
            return (true, i + 1);
        }
    }
    (false, bytes.len())
}

/// The per-connection verdict shared between the stream wrapper and the service.
#[derive(Debug, Clone)]
pub struct Verdict {
    conflict: Arc<AtomicUsize>,
    served: Arc<AtomicUsize>,
}

impl Default for Verdict {
    fn default() -> Self {
        Self {
            conflict: Arc::new(AtomicUsize::new(NONE)),
            served: Arc::new(AtomicUsize::new(0)),
        }
    }
}

impl Verdict {
    /// Called once per request, in order: whether this request had both framings.
    pub fn next_is_conflicting(&self) -> bool {
        let index = self.served.fetch_add(1, Ordering::AcqRel);
        self.conflict.load(Ordering::Acquire) == index
    }
}

/// A client stream whose reads go through a [`Scanner`].
#[derive(Debug)]
pub struct Scanned<S> {
    inner: S,
    scanner: Scanner,
}

impl<S> Scanned<S> {
    /// Wraps `inner`; the verdict is read by the service.
    pub fn new(inner: S, max_head: usize) -> (Self, Verdict) {
        let verdict = Verdict::default();
        let scanner = Scanner::new(max_head, verdict.conflict.clone());
        (Self { inner, scanner }, verdict)
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for Scanned<S> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        let polled = Pin::new(&mut this.inner).poll_read(cx, buf);
        if let Poll::Ready(Ok(())) = &polled {
            this.scanner.feed(&buf.filled()[before..]);
        }
        polled
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Scanned<S> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write(cx, data)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scan(chunks: &[&[u8]]) -> usize {
        let conflict = Arc::new(AtomicUsize::new(NONE));
        let mut s = Scanner::new(8192, conflict.clone());
        for c in chunks {
            s.feed(c);
        }
        conflict.load(Ordering::Acquire)
    }

    #[test]
    fn finds_the_conflicting_request_after_framed_bodies() {
        let stream = b"POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello\
GET /b HTTP/1.1\r\nHost: x\r\n\r\n\
POST /c HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n\
POST /d HTTP/1.1\r\nTransfer-Encoding: chunked\r\nContent-Length: 4\r\n\r\n";
        assert_eq!(scan(&[stream]), 3);
        // Byte by byte, the same answer.
        let bytes: Vec<&[u8]> = stream.chunks(1).collect();
        assert_eq!(scan(&bytes), 3);
    }

    #[test]
    fn arbitrary_bytes_never_panic() {
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        let alphabet = b"0123456789abcdefABCDEF\r\n:; -chunkedContent-LengthTransfer-Encoding";
        for _ in 0..2_000 {
            let conflict = Arc::new(AtomicUsize::new(NONE));
            let mut s = Scanner::new(256, conflict);
            let mut bytes = Vec::new();
            for _ in 0..256 {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                bytes.push(alphabet[(x % alphabet.len() as u64) as usize]);
            }
            for chunk in bytes.chunks((x % 17 + 1) as usize) {
                s.feed(chunk);
            }
        }
    }

    #[test]
    fn bodies_that_look_like_heads_are_skipped() {
        let body = b"Transfer-Encoding: chunked\r\nContent-Length: 1\r\n\r\n";
        let mut stream =
            format!("POST / HTTP/1.1\r\nContent-Length: {}\r\n\r\n", body.len()).into_bytes();
        stream.extend_from_slice(body);
        assert_eq!(scan(&[&stream]), NONE);
    }
}
