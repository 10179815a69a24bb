//! # larder-protocol
//!
//! The RESP2/RESP3 codec that Larder's Redis-compatible server (`larder-server`) and the
//! `larder` library's remote tier share: the server parses requests and writes replies with it,
//! the remote tier writes requests and reads replies. It does no I/O; it reads from and appends
//! to byte buffers the caller owns.
//!
//! ## Parts
//!
//! * Requests — [`parse_command`] parses one request, multibulk (`*N\r\n$len\r\n...`) or
//!   inline (`GET key\r\n`), exactly as Redis 7.0.15's `processMultibulkBuffer` and
//!   `processInlineBuffer` do, with Redis's error texts ([`ProtocolError::message`]) under
//!   Redis's [`Limits`]. Arguments borrow the read buffer ([`Command`]). [`Batch`] walks the
//!   complete multibulk requests at the start of a buffer once (a pipelined batch, up to a
//!   given count and [`BATCH_ARGS_MAX`] arguments) and says where each one's arguments lie, so
//!   that a server can look at a whole batch before running it; it stops where
//!   [`parse_command`] must take over (an inline, incomplete or invalid request).
//! * Replies — [`Reply`] appends any reply in RESP2 or RESP3 form ([`Version`]) the way Redis's
//!   `addReply*` functions write it, doubles included (`%.17g`, as in Redis 7.0).
//!   [`encode_command`] writes a request.
//! * Frames — [`parse_frame`] reads any RESP2/RESP3 value into an owned [`Frame`] (the client
//!   side); [`encode_frame`] writes one back. [`FrameScanner`] finds where a frame ends in a
//!   buffer that grows read by read, resuming where it stopped, so a reader that waits for a
//!   large reply walks it once rather than once per read.
//!
//! ## Guarantees
//!
//! * **No panic on any input.** Every parser returns `Ok(None)` for incomplete input and an
//!   error for invalid input; property tests and two cargo-fuzz targets (`fuzz/`) feed them
//!   arbitrary bytes.
//! * **No allocation per byte.** Parsing is in two phases: a check pass validates the whole
//!   request or frame and finds its length without building anything, so incomplete input
//!   allocates nothing whatever it declares (`*2147483647\r\n` allocates nothing); only then are
//!   the parts collected — a request's argument slices into a [`smallvec::SmallVec`] (no heap
//!   for up to 8 arguments), a frame's values into vectors sized by what is present. Replies are
//!   formatted on the stack (integers and doubles included) and appended to the caller's vector.
//! * Both parsers are stateless: on `Ok(None)` the caller reads more and calls again with the
//!   longer buffer, and the check pass starts over. A request that arrives in many pieces is
//!   therefore walked once per piece; its header lines, not its data, are what is re-read.
//!
//! ## Bounds
//!
//! Requests, under [`Limits`] (Redis's defaults):
//!
//! * a bulk argument is at most `proto-max-bulk-len`, 512 MiB ([`Limits::max_bulk_len`]);
//! * a request has at most `INT_MAX` arguments ([`Limits::max_multibulk_len`]);
//! * an inline line, a multibulk count line and a bulk length line may leave at most 64 KiB
//!   unterminated ([`Limits::max_inline_len`]); as in Redis, the bound is on the bytes waiting
//!   without a line end, so the server must call [`parse_command`] after every read;
//! * before authentication, at most 10 arguments and bulk arguments of at most 16 384 bytes
//!   ([`Limits::unauthenticated`]).
//!
//! Frames: aggregates nest at most [`MAX_DEPTH`] (128) deep, and no aggregate reserves room for
//! more than 1024 elements before they are present. Lengths are not bounded (a reply may be as
//! large as the server makes it): a client bounds how much it is willing to buffer.
//!
//! ## Where Larder differs from Redis
//!
//! * A count or length line whose `\r` is not followed by `\n`, and bulk data not followed by
//!   `\r\n`, are errors ([`ProtocolError::LineNotTerminated`],
//!   [`ProtocolError::BulkNotTerminated`]). Redis skips those two bytes unread, which lets a
//!   client whose declared length is wrong go on out of step; Larder closes the connection. As
//!   a result every non-empty multibulk request Larder accepts is exactly what
//!   [`encode_command`] writes for its arguments.
//! * [`parse_command`] takes the buffer mutably, so that an inline argument in quotes can be
//!   unescaped in place and still borrow the buffer.
//!
//! Everything else follows Redis, including its quirks: `\n` alone ends an inline line; a NUL
//! byte ends the search for a line end (Redis searches with `strchr`), so a line holding one
//! waits for more input until the 64 KiB bound refuses it; a negative multibulk count is an
//! empty request; inline lines are split like `sdssplitargs` (quotes, `\xHH` and other
//! escapes, `unbalanced quotes`).

mod double;
mod frame;
mod int;
mod reply;
mod request;

pub use frame::{Frame, FrameError, FrameScanner, MAX_DEPTH, encode_frame, parse_frame};
pub use reply::{Reply, Version, encode_command};
pub use request::{BATCH_ARGS_MAX, Batch, Command, Limits, ProtocolError, parse_command};
