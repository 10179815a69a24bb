//! Blocking commands (`BLPOP`, `BLMOVE`, `BZPOPMIN`, ...): what a handler asks for when there
//! is nothing to serve yet.
//!
//! A blocking handler first tries to serve like its non-blocking form. When every key is empty
//! it calls [`Ctx::block_on`](crate::cmd::Ctx::block_on): outside a transaction the client then
//! waits for one of the keys to become ready, the timeout, `CLIENT UNBLOCK` or its end; inside
//! `MULTI` it answers at once as if the timeout had passed.

use std::time::Duration;

/// What a blocking command asks for when it cannot be served yet.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BlockRequest {
    /// The keys whose readiness may serve it (client keys, in the client's database).
    pub keys: Vec<Vec<u8>>,
    /// How long to wait; `None` waits forever.
    pub timeout: Option<Duration>,
    /// The reply when the timeout passes (or `CLIENT UNBLOCK ... TIMEOUT`).
    pub on_timeout: TimeoutReply,
}

/// The reply a blocking command gives when nothing came in time.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TimeoutReply {
    /// A null array (`*-1` in RESP2): `BLPOP`, `BLMPOP`, `BZPOPMIN`, `BZMPOP`, ...
    NullArray,
    /// A null bulk string (`$-1` in RESP2): `BLMOVE`, `BRPOPLPUSH`.
    NullBulk,
}

/// Parses a blocking timeout in seconds (a float, as Redis 7.0 accepts), with Redis's errors.
pub fn parse_timeout(arg: &[u8]) -> Result<Option<Duration>, &'static str> {
    let text = std::str::from_utf8(arg).map_err(|_| NOT_A_FLOAT)?;
    let seconds: f64 = text.trim().parse().map_err(|_| NOT_A_FLOAT)?;
    if text.trim() != text || !seconds.is_finite() {
        return Err(NOT_A_FLOAT);
    }
    if seconds < 0.0 {
        return Err("ERR timeout is negative");
    }
    // Redis keeps the deadline in milliseconds since the epoch as a long long.
    let millis = seconds * 1000.0;
    if millis >= (i64::MAX / 2) as f64 {
        return Err("ERR timeout is out of range");
    }
    Ok((millis > 0.0).then(|| Duration::from_micros((seconds * 1e6) as u64)))
}

const NOT_A_FLOAT: &str = "ERR timeout is not a float or out of range";
